//! Sessions seen from outside the web process: the worker's housekeeping, and the operator's
//! `admin reset-password`, on the database the test targets (SQLite or PostgreSQL).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use freshtoken_store::testing::{TestDatabase, TestStore};
use freshtoken_store::{KeyStore, Keyring, SecretKey, SessionRecord};
use serde_json::json;

use crate::support::{Browser, Process, freshtoken};

/// A database shared by the test and `freshtoken` processes.
struct Shared {
    store: TestStore,
    key: String,
    data_dir: tempfile::TempDir,
}

impl Shared {
    async fn new() -> Shared {
        let key = SecretKey::generate().to_base64().as_str().to_owned();
        let keyring = Keyring::new(SecretKey::from_base64(&key, "test key").unwrap(), []);
        let store = TestStore::on(
            TestDatabase::new().await,
            Arc::new(KeyStore::fixed(keyring)),
        )
        .await;
        Shared {
            store,
            key,
            data_dir: tempfile::tempdir().unwrap(),
        }
    }

    fn freshtoken(&self) -> Command {
        let mut command = freshtoken(self.data_dir.path());
        command
            .env("FRESHTOKEN_DATABASE_URL", &self.store.database.url)
            .env("FRESHTOKEN_SECRET_KEY", &self.key)
            .env("FRESHTOKEN_LOG", "warn");
        command
    }

    async fn session_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for id in ["ended", "live"] {
            if self
                .store
                .sessions()
                .load(id, Utc::now())
                .await
                .unwrap()
                .is_some()
            {
                ids.push(id.to_owned());
            }
        }
        ids
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_housekeeping_deletes_ended_sessions() {
    let shared = Shared::new().await;
    let session = |id: &str, expires_in: chrono::Duration| SessionRecord {
        id: id.to_owned(),
        user_id: None,
        data: b"{}".to_vec(),
        expires_at: Utc::now() + expires_in,
    };
    for record in [
        session("ended", chrono::Duration::seconds(-1)),
        session("live", chrono::Duration::hours(1)),
    ] {
        shared.store.sessions().save(&record).await.unwrap();
    }
    let count = async || {
        use sea_orm::{ConnectionTrait, Statement};
        let connection = shared.store.connection();
        connection
            .query_one_raw(Statement::from_string(
                connection.get_database_backend(),
                "SELECT COUNT(*) FROM sessions",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    };
    assert_eq!(count().await, 2);

    let mut worker = Process::start(shared.freshtoken(), "worker").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while count().await != 1 {
        assert!(
            Instant::now() < deadline,
            "the worker did not delete the ended session"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shared.session_ids().await, ["live"]);
    assert!(worker.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_password_ends_the_users_sessions() {
    let shared = Shared::new().await;
    let mut server = Process::start(shared.freshtoken(), "web").await;
    let mut browser = Browser::new(&server.base_url);
    browser.sign_up("ada@example.com").await;
    assert_eq!(browser.get("/api/v1/me").await.status, 200);

    let mut reset = shared.freshtoken();
    reset.args(["admin", "reset-password", "--email", "ada@example.com"]);
    let output = crate::support::run(&mut reset);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("1 session(s) ended"), "{printed}");
    assert_eq!(browser.get("/api/v1/me").await.status, 401);
    let old = browser
        .post(
            "/api/v1/auth/signin",
            json!({"email": "ada@example.com", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(old.status, 400, "the old password is gone");
    assert!(server.terminate().success());
}
