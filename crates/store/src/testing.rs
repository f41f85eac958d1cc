//! Test helpers: every test gets a fresh, migrated database of its own.
//!
//! SQLite by default (a file in a temporary directory); PostgreSQL when
//! `FRESHTOKEN_TEST_POSTGRES_URL` is set (a new database created on that server per test and
//! dropped afterwards). With `FRESHTOKEN_TEST_REQUIRE_ALL=1`, a test that would skip for want of
//! PostgreSQL fails instead, so CI can never pass by skipping.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, Database};

use crate::{ConnectSettings, KeyStore, Keyring, SecretKey, Store};

pub const POSTGRES_URL_VAR: &str = "FRESHTOKEN_TEST_POSTGRES_URL";
pub const REQUIRE_ALL_VAR: &str = "FRESHTOKEN_TEST_REQUIRE_ALL";

/// The PostgreSQL server tests may use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// For tests that only make sense on PostgreSQL: its URL, or `None` to skip, unless skipping
/// is forbidden by `FRESHTOKEN_TEST_REQUIRE_ALL`, in which case this panics.
pub fn postgres_url_or_skip(test: &str) -> Option<String> {
    let url = postgres_url();
    if url.is_none() {
        if std::env::var(REQUIRE_ALL_VAR).is_ok_and(|value| value == "1") {
            panic!(
                "{test} needs PostgreSQL: set {POSTGRES_URL_VAR} ({REQUIRE_ALL_VAR}=1 forbids skipping)"
            );
        }
        eprintln!("skipping {test}: set {POSTGRES_URL_VAR} to run it");
    }
    url
}

/// A database that exists for one test. Keep it alive as long as the test uses the URL.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A new empty database on the backend this test run targets.
    pub async fn new() -> TestDatabase {
        match postgres_url() {
            Some(admin_url) => TestDatabase::new_postgres(&admin_url).await,
            None => TestDatabase::new_sqlite(),
        }
    }

    pub fn new_sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        TestDatabase {
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub async fn new_postgres(admin_url: &str) -> TestDatabase {
        let name = format!(
            "ft_test_{}",
            crate::repo::random_id()
                .to_lowercase()
                .replace(['-', '_'], "")
        );
        let admin = Database::connect(admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(admin_url).expect("FRESHTOKEN_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            cleanup: Cleanup::Postgres {
                admin_url: admin_url.to_owned(),
                name,
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.cleanup, Cleanup::Postgres { .. })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime we may block: use a thread with its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
                Ok::<_, std::io::Error>(())
            })
            .join();
        }
    }
}

/// A migrated store on a fresh database, with a fresh key.
pub struct TestStore {
    pub store: Store,
    pub database: TestDatabase,
}

impl std::ops::Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

pub fn test_keys() -> Arc<KeyStore> {
    Arc::new(KeyStore::fixed(Keyring::new(SecretKey::generate(), [])))
}

impl TestStore {
    pub async fn new() -> TestStore {
        TestStore::on(TestDatabase::new().await, test_keys()).await
    }

    pub async fn on(database: TestDatabase, keys: Arc<KeyStore>) -> TestStore {
        let store = Store::connect(&database.url, keys, &ConnectSettings::default())
            .await
            .expect("connect to the test database");
        store.migrate().await.expect("migrate the test database");
        TestStore { store, database }
    }
}

/// An account for [`seed_due_accounts`].
pub struct SeedAccount {
    pub username: String,
    pub provider_user_id: String,
    pub token: freshtoken_core::AccessToken,
}

/// Inserts many accounts with their tokens at once, all due at `due_at`, in batches: what a
/// benchmark needs in seconds where a connect per account would take minutes.
pub async fn seed_due_accounts(
    store: &Store,
    tenant_id: i64,
    accounts: Vec<SeedAccount>,
    issued_at: chrono::DateTime<chrono::Utc>,
    expires_at: chrono::DateTime<chrono::Utc>,
    due_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), crate::StoreError> {
    use crate::entity::{account, token};
    use sea_orm::{
        ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
    };

    let now = chrono::Utc::now();
    for batch in accounts.chunks(500) {
        let txn = store.db.begin().await?;
        account::Entity::insert_many(batch.iter().map(|seed| account::ActiveModel {
            tenant_id: Set(tenant_id),
            kind: Set(freshtoken_core::AccountKind::Instagram.as_str().to_owned()),
            provider_user_id: Set(seed.provider_user_id.clone()),
            username: Set(seed.username.clone()),
            label: Set(String::new()),
            public_id: Set(crate::repo::random_id()),
            allowed_origins: Set("[]".to_owned()),
            allow_localhost: Set(false),
            is_public: Set(false),
            js_constant: Set(None),
            status: Set(freshtoken_core::AccountStatus::Active.as_str().to_owned()),
            refresh_interval: Set(freshtoken_core::RefreshInterval::Weekly.as_str().to_owned()),
            next_refresh_at: Set(Some(due_at)),
            last_refresh_at: Set(None),
            last_error: Set(None),
            profile_picture_url: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }))
        .exec_without_returning(&txn)
        .await?;
        let ids: Vec<(i64, String)> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .column(account::Column::ProviderUserId)
            .filter(account::Column::TenantId.eq(tenant_id))
            .filter(
                account::Column::ProviderUserId
                    .is_in(batch.iter().map(|seed| seed.provider_user_id.clone())),
            )
            .into_tuple()
            .all(&txn)
            .await?;
        let token_of: std::collections::HashMap<&str, &SeedAccount> = batch
            .iter()
            .map(|seed| (seed.provider_user_id.as_str(), seed))
            .collect();
        token::Entity::insert_many(ids.iter().map(|(id, user)| {
            let sealed = store.keys.seal(
                token_of[user.as_str()].token.expose().as_bytes(),
                &crate::repo::tokens::associated_data(*id),
            );
            token::ActiveModel {
                account_id: Set(*id),
                ciphertext: Set(sealed.ciphertext),
                nonce: Set(sealed.nonce),
                key_id: Set(sealed.key_id),
                issued_at: Set(issued_at),
                expires_at: Set(Some(expires_at)),
                last_refreshed_at: Set(None),
                scopes: Set("instagram_business_basic".to_owned()),
            }
        }))
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
    }
    Ok(())
}
