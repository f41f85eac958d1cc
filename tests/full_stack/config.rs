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
