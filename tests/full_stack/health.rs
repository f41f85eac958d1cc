use freshtoken_store::testing::{TestDatabase, test_keys};
use freshtoken_store::{ConnectSettings, SecretKey, Store};
use freshtoken_web::{AppState, WebConfig};
use serde_json::Value;

use crate::support::{Process, free_port, freshtoken, run};

#[tokio::test]
async fn serve_with_nothing_configured_is_ready_on_sqlite_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Process::serve(freshtoken(dir.path())).await;

    let response = reqwest::get(format!("{}/readyz", server.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert!(dir.path().join("freshtoken.db").exists());
    assert!(dir.path().join("secret.key").exists());

    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let output = server.output_after_exit();
    assert!(output.contains("stopped"), "{output}");
}

#[tokio::test]
async fn serve_is_ready_on_the_database_url_given() {
    // PostgreSQL when FRESHTOKEN_TEST_POSTGRES_URL is set (as in CI), SQLite otherwise.
    let database = TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = freshtoken(dir.path());
    command.env("DATABASE_URL", &database.url).env(
        "FRESHTOKEN_SECRET_KEY",
        SecretKey::generate().to_base64().as_str(),
    );
    let mut server = Process::serve(command).await;
    let response = reqwest::get(format!("{}/readyz", server.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        !dir.path().join("secret.key").exists(),
        "a given key must not be written anywhere"
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_second_start_reuses_the_database_and_the_generated_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Process::serve(freshtoken(dir.path())).await;
    assert!(first.terminate().success());
    let key = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    let mut second = Process::serve(freshtoken(dir.path())).await;
    let response = reqwest::get(format!("{}/readyz", second.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(second.terminate().success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secret.key")).unwrap(),
        key
    );
}

/// Serves the router in this process on a store that was never migrated.
async fn serve_unmigrated() -> (String, TestDatabase) {
    let database = TestDatabase::new().await;
    let store = Store::connect(&database.url, test_keys(), &ConnectSettings::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let config = WebConfig::new(format!("http://{address}/").parse().unwrap());
        axum::serve(
            listener,
            freshtoken_web::router(AppState::new(store, config)),
        )
        .await
        .unwrap();
    });
    (format!("http://{address}"), database)
}

#[tokio::test]
async fn readyz_refuses_with_a_json_error_while_migrations_are_pending() {
    let (base_url, _database) = serve_unmigrated().await;
    let response = reqwest::get(format!("{base_url}/readyz")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_ready");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("freshtoken migrate")
    );
    // Alive all the same.
    let response = reqwest::get(format!("{base_url}/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let (base_url, _database) = serve_unmigrated().await;
    let client = reqwest::Client::new();
    let generated = client
        .get(format!("{base_url}/healthz"))
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let given = client
        .get(format!("{base_url}/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let (base_url, _database) = serve_unmigrated().await;
    let response = reqwest::get(format!("{base_url}/no/such/page"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = freshtoken(dir.path());
    command.env("FRESHTOKEN_LOG_FORMAT", "json");
    let mut server = Process::serve(command).await;
    let response = reqwest::Client::new()
        .get(format!("{}/readyz", server.base_url))
        .header("x-request-id", "log-me-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(server.terminate().success());
    let output = server.output_after_exit();
    let lines: Vec<Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines.iter().any(
            |line| line["request_id"] == "log-me-7" || line["span"]["request_id"] == "log-me-7"
        ),
        "{output}"
    );
}

#[tokio::test]
async fn the_healthcheck_command_passes_on_a_ready_process_and_fails_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Process::serve(freshtoken(dir.path())).await;
    let port = server.base_url.rsplit(':').next().unwrap().to_owned();

    // As in the container: the process binds every interface, the check asks loopback.
    let mut check = freshtoken(dir.path());
    check
        .env("FRESHTOKEN_BIND", format!("0.0.0.0:{port}"))
        .arg("healthcheck");
    let ready = run(&mut check);
    assert!(ready.status.success(), "{ready:?}");

    let mut nobody = freshtoken(dir.path());
    nobody
        .env("FRESHTOKEN_BIND", format!("127.0.0.1:{}", free_port()))
        .arg("healthcheck");
    let down = run(&mut nobody);
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot reach"));
    assert!(server.terminate().success());
}

#[tokio::test]
async fn every_answer_carries_security_headers_and_hsts_only_over_https() {
    let app = crate::support::TestApp::spawn().await;
    for path in ["/api/v1/instance", "/healthz", "/no/such/page"] {
        let response = reqwest::get(format!("{}{path}", app.base_url))
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let policy = header("content-security-policy");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(
            policy.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{path}: {policy}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(
            header("strict-transport-security"),
            "",
            "plain http: no HSTS"
        );
    }

    let https =
        crate::support::TestApp::with_args(&["--public-url", "https://tokens.example"]).await;
    let response = reqwest::get(format!("{}/healthz", https.base_url))
        .await
        .unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000"
    );
}

/// A process started before its PostgreSQL answers (compose starts both at once; podman before
/// 4.6 cannot wait for the database's health check) waits for it instead of exiting; a database
/// that does not exist is no reason to wait.
#[tokio::test]
async fn a_process_waits_for_a_postgresql_that_answers_late_but_not_for_a_missing_database() {
    let test = "a_process_waits_for_a_postgresql_that_answers_late";
    if freshtoken_store::testing::postgres_url_or_skip(test).is_none() {
        return;
    }
    let database = TestDatabase::new().await;
    let real = url::Url::parse(&database.url).unwrap();
    let server = format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    );
    let port = free_port();
    let mut late = real.clone();
    late.set_port(Some(port)).unwrap();
    let key = SecretKey::generate().to_base64();
    let dir = tempfile::tempdir().unwrap();
    let migrate = |url: &url::Url| {
        let mut command = freshtoken(dir.path());
        command
            .arg("migrate")
            .env("FRESHTOKEN_DATABASE_URL", url.as_str())
            .env("FRESHTOKEN_SECRET_KEY", key.as_str())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let waiting = migrate(&late).spawn().unwrap();

    // Refused connections for longer than the pool's own patience (its 10-second acquire
    // timeout, which alone once ended a start with "pool timed out"), then the database
    // answers on that port.
    tokio::time::sleep(std::time::Duration::from_secs(13)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let server = server.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(server).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    let output = tokio::task::spawn_blocking(move || waiting.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("waiting for the database"), "{stderr}");
    assert!(!stderr.contains(late.as_str()), "the URL is never logged");

    let mut missing = real.clone();
    missing.set_path("/ft_no_such_database");
    let started = std::time::Instant::now();
    let output = run(&mut migrate(&missing));
    assert!(!output.status.success());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "a missing database failed only after {:?}",
        started.elapsed()
    );
}

/// SIGTERM while a process waits for its database (a `docker stop` of a stack whose database
/// never came) stops it at once and cleanly, instead of running out a container's grace period.
#[tokio::test]
async fn sigterm_ends_the_wait_for_a_database_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = freshtoken(dir.path());
    command
        .arg("web")
        .env("FRESHTOKEN_BIND", format!("127.0.0.1:{}", free_port()))
        .env(
            "FRESHTOKEN_DATABASE_URL",
            format!("postgres://nobody@127.0.0.1:{}/nothing", free_port()),
        )
        .env(
            "FRESHTOKEN_SECRET_KEY",
            SecretKey::generate().to_base64().as_str(),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    // Nothing listens there: the process is waiting (its first try lasts up to 10 s).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(child.try_wait().unwrap().is_none(), "it gave up at once");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let stopped_at = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stopped_at.elapsed() < std::time::Duration::from_secs(3),
        "stopped {:?} after SIGTERM",
        stopped_at.elapsed()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("stopped before it had started"), "{stderr}");
}
