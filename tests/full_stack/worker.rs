//! `freshtoken worker` as real processes on one database, against the fake Instagram: a worker
//! killed in the middle of a refresh, and two workers sharing a thousand due accounts.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_instagram::{FakeConfig, FakeInstagram, FaultKind, FaultMatch};
use freshtoken_core::{AccessToken, AccountKind, RefreshOutcome};
use freshtoken_store::testing::{TestDatabase, TestStore, postgres_url_or_skip};
use freshtoken_store::{KeyStore, Keyring, NewAccount, SecretKey, TokenUpdate};
use sea_orm::{ConnectionTrait, Statement};

use crate::support::{Process, freshtoken};

/// A database shared by the test and the worker processes, with Instagram at the fake.
struct Setup {
    store: TestStore,
    fake: FakeInstagram,
    key: String,
    data_dir: tempfile::TempDir,
    tenant_id: i64,
}

impl Setup {
    async fn on(database: TestDatabase) -> Setup {
        let key = SecretKey::generate().to_base64().as_str().to_owned();
        let keyring = Keyring::new(SecretKey::from_base64(&key, "test key").unwrap(), []);
        let store = TestStore::on(database, Arc::new(KeyStore::fixed(keyring))).await;
        let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
        let tenant_id = store.tenants().create("Bakery", "bakery").await.unwrap().id;
        Setup {
            store,
            fake,
            key,
            data_dir: tempfile::tempdir().unwrap(),
            tenant_id,
        }
    }

    /// `freshtoken worker` on the shared database, looking for work every 200 ms.
    fn worker(&self, lease: &str) -> Command {
        let mut command = freshtoken(self.data_dir.path());
        for name in [
            "FRESHTOKEN_INSTAGRAM_OAUTH_URL",
            "FRESHTOKEN_INSTAGRAM_API_URL",
            "FRESHTOKEN_INSTAGRAM_GRAPH_URL",
            "FRESHTOKEN_FACEBOOK_GRAPH_URL",
        ] {
            command.env(name, self.fake.base_url());
        }
        command
            .env("FRESHTOKEN_DATABASE_URL", &self.store.database.url)
            .env("FRESHTOKEN_SECRET_KEY", &self.key)
            .env("FRESHTOKEN_SCHEDULER_INTERVAL", "200ms")
            .env("FRESHTOKEN_WORKER_POLL_INTERVAL", "100ms")
            .env("FRESHTOKEN_WORKER_LEASE", lease)
            .env("FRESHTOKEN_WORKER_CONCURRENCY", "32")
            .env("FRESHTOKEN_LOG", "warn");
        command
    }

    /// Connects `username` with a two-day-old token, due for refresh now.
    async fn connect_due(&self, username: &str) -> i64 {
        let minted = self
            .fake
            .mint_token(username, Duration::from_secs(2 * 24 * 3600));
        let now = Utc::now();
        let (account, _) = self
            .store
            .accounts()
            .connect(
                self.tenant_id,
                NewAccount {
                    kind: AccountKind::Instagram,
                    provider_user_id: minted.user_id.to_string(),
                    username: username.to_owned(),
                    profile_picture_url: None,
                    linked_instagram_id: None,
                },
                &TokenUpdate {
                    token: AccessToken::new(minted.access_token),
                    issued_at: now - chrono::Duration::days(2),
                    expires_at: Some(now + chrono::Duration::seconds(minted.expires_in)),
                    scopes: "instagram_business_basic".to_owned(),
                    refreshed_at: None,
                },
                Some(now),
            )
            .await
            .unwrap();
        account.id
    }

    async fn count(&self, sql: &str) -> i64 {
        let connection = self.store.connection();
        let row = connection
            .query_one_raw(Statement::from_string(
                connection.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    async fn wait_until(&self, what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done().await {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_refresh_loses_nothing_and_another_finishes_the_job() {
    let setup = Setup::on(TestDatabase::new().await).await;
    let id = setup.connect_due("corner_bakery").await;
    // Instagram takes its time with the first refresh: the worker is killed while waiting.
    setup.fake.inject_fault(
        FaultMatch {
            path: Some("refresh_access_token".to_owned()),
            ..Default::default()
        },
        1,
        FaultKind::Delay { ms: 5_000 },
    );

    let mut first = Process::start(setup.worker("4s"), "worker").await;
    setup
        .wait_until(
            "the first worker claims the account",
            Duration::from_secs(20),
            async || {
                setup
                    .count("SELECT COUNT(*) FROM accounts WHERE lease_id IS NOT NULL")
                    .await
                    == 1
            },
        )
        .await;
    // Its job is now waiting for Instagram's answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill();
    assert_eq!(
        setup.count("SELECT COUNT(*) FROM refresh_events").await,
        0,
        "nothing was recorded by the dead worker"
    );

    let mut second = Process::start(setup.worker("4s"), "worker").await;
    setup
        .wait_until(
            "the second worker refreshes the account",
            Duration::from_secs(30),
            async || setup.count("SELECT COUNT(*) FROM refresh_events").await >= 1,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let account = setup
        .store
        .accounts()
        .get(setup.tenant_id, id)
        .await
        .unwrap();
    let events = setup
        .store
        .refresh_events()
        .recent(account.proof(), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].outcome, RefreshOutcome::Refreshed);
    assert!(account.next_refresh_at.unwrap() > Utc::now() + chrono::Duration::days(6));
    let lifetime = setup
        .store
        .tokens()
        .lifetime(account.proof())
        .await
        .unwrap()
        .unwrap();
    assert!(lifetime.expires_at.unwrap() > Utc::now() + chrono::Duration::days(59));
    second.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_refresh_has_a_running_worker_refresh_an_account_now() {
    let setup = Setup::on(TestDatabase::new().await).await;
    let id = setup.connect_due("corner_bakery").await;
    let in_a_week = Utc::now() + chrono::Duration::days(7);
    setup
        .store
        .accounts()
        .schedule_refresh(setup.tenant_id, id, in_a_week)
        .await
        .unwrap();
    // A worker that would not look again for an hour on its own.
    let mut command = setup.worker("5m");
    command.env("FRESHTOKEN_SCHEDULER_INTERVAL", "1h");
    let mut worker = Process::start(command, "worker").await;

    let output = setup
        .worker("5m")
        .args(["admin", "refresh", &id.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("queued a refresh"), "{stdout}");
    setup
        .wait_until(
            "the worker refreshes it",
            Duration::from_secs(20),
            async || setup.count("SELECT COUNT(*) FROM refresh_events").await == 1,
        )
        .await;

    let missing = setup
        .worker("5m")
        .args(["admin", "refresh", "999999"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("there is no account 999999"));
    worker.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgresql_refresh_a_thousand_due_accounts_exactly_once() {
    let Some(admin_url) = postgres_url_or_skip("two_workers_on_postgresql") else {
        return;
    };
    let setup = Setup::on(TestDatabase::new_postgres(&admin_url).await).await;
    const ACCOUNTS: i64 = 1_000;
    for n in 0..ACCOUNTS {
        setup.connect_due(&format!("shop_{n}")).await;
    }

    let workers = [
        Process::start(setup.worker("5m"), "worker").await,
        Process::start(setup.worker("5m"), "worker").await,
    ];
    setup
        .wait_until(
            "every account is refreshed",
            Duration::from_secs(120),
            async || setup.count("SELECT COUNT(*) FROM refresh_events").await >= ACCOUNTS,
        )
        .await;
    // Give a duplicate, if there were one, the time to land.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        setup
            .count("SELECT COUNT(*) FROM refresh_events WHERE outcome = 'refreshed'")
            .await,
        ACCOUNTS
    );
    assert_eq!(
        setup
            .count("SELECT COUNT(DISTINCT account_id) FROM refresh_events")
            .await,
        ACCOUNTS,
        "each account exactly once"
    );
    let refresh_calls = setup
        .fake
        .calls()
        .iter()
        .filter(|call| call.path.ends_with("refresh_access_token"))
        .count();
    assert_eq!(
        refresh_calls as i64, ACCOUNTS,
        "Instagram was asked once per account"
    );
    drop(workers);
}
