use crate::support::{freshtoken, run};

#[test]
fn invalid_settings_stop_start_up_with_the_variable_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(freshtoken(dir.path())
        .env("FRESHTOKEN_BIND", "not-an-address")
        .arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FRESHTOKEN_BIND"), "{stderr}");

    let output = run(freshtoken(dir.path())
        .env("DATABASE_URL", "postgres://127.0.0.1:1/none")
        .arg("migrate"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FRESHTOKEN_SECRET_KEY"), "{stderr}");
}

#[test]
fn an_unreachable_database_fails_with_a_message_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(freshtoken(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://ada:hunter2secret@127.0.0.1:1/none",
        )
        .env(
            "FRESHTOKEN_SECRET_KEY",
            freshtoken_store::SecretKey::generate().to_base64().as_str(),
        )
        .arg("migrate"));
    assert_eq!(output.status.code(), Some(1));
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(everything.contains("connect"), "{everything}");
    assert!(!everything.contains("hunter2secret"), "{everything}");
}

#[test]
fn migrate_twice_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = run(freshtoken(dir.path()).arg("migrate"));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("database is up to date"));
    }
}

/// How a command ends when it cannot go on, with the colour `NO_COLOR` would turn off left on,
/// as a log file receives it: `admin refresh` finds no such account, `serve` cannot bind its
/// port.
fn fatal_error(command: &[&str], format: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut freshtoken = freshtoken(dir.path());
    freshtoken
        .env_remove("NO_COLOR")
        .env("FRESHTOKEN_BIND", taken.local_addr().unwrap().to_string());
    freshtoken.args(command);
    if let Some(format) = format {
        freshtoken.args(["--log-format", format]);
    }
    let output = run(&mut freshtoken);
    assert!(!output.status.success());
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn logs_written_to_a_file_have_no_escape_codes_and_a_fatal_error_is_one_line() {
    // `admin` is a command: its end is one plain line for the person who ran it.
    let printed = fatal_error(&["admin", "refresh", "999999"], None);
    assert!(
        !printed.contains('\u{1b}'),
        "no colour outside a terminal: {printed:?}"
    );
    let fatal: Vec<&str> = printed
        .lines()
        .filter(|line| line.contains("no account 999999"))
        .collect();
    assert_eq!(fatal.len(), 1, "one line per fatal error: {printed}");
    assert!(fatal[0].starts_with("freshtoken: "), "{printed}");

    // `serve` is a service: its end is one line of its log, in the log's format.
    for format in ["pretty", "human", "plain"] {
        let printed = fatal_error(&["serve"], Some(format));
        assert!(!printed.contains('\u{1b}'), "{format}: {printed:?}");
        let fatal: Vec<&str> = printed
            .lines()
            .filter(|line| line.contains("stopped with an error"))
            .collect();
        assert_eq!(fatal.len(), 1, "{format}: {printed}");
        assert!(
            !printed.lines().any(|line| line.starts_with("freshtoken: ")),
            "{format}: not twice: {printed}"
        );
    }
    let printed = fatal_error(&["serve"], Some("json"));
    let errors = printed
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["level"] == "ERROR")
        .count();
    assert_eq!(errors, 1, "{printed}");
}

/// The start-up line says where to go: sign-up on a fresh instance, sign-in once someone has.
#[tokio::test]
async fn the_start_line_says_where_to_open_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let start = |dir: &std::path::Path| crate::support::Process::serve(freshtoken(dir));
    let mut server = start(dir.path()).await;
    let signup = format!(
        "open {}/signup to create the first account",
        server.base_url
    );
    let mut browser = crate::support::Browser::new(&server.base_url);
    let instance = browser.get("/api/v1/instance").await.body;
    assert_eq!(instance["first_user"], true);
    browser.sign_up("first@example.com").await;
    assert_eq!(
        browser.get("/api/v1/instance").await.body["first_user"],
        false
    );
    assert!(server.terminate().success());
    let log = server.output_after_exit();
    assert!(log.contains(&signup), "{log}");

    let mut server = start(dir.path()).await;
    assert!(server.terminate().success());
    let log = server.output_after_exit();
    assert!(
        log.contains(&format!("open {}/ to sign in", server.base_url)),
        "{log}"
    );
}
