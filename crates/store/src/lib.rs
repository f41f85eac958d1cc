//! Persistence of freshtoken: everything it keeps, on SQLite or PostgreSQL through sea-orm.
//!
//! One repository per aggregate (`store.users()`, `store.tenants()`, `store.accounts()`, ...),
//! each returning plain records and typed errors ([`StoreError`]): a unique-rule violation comes
//! back as [`Duplicate`], never as a panic or a raw driver message. Tokens and webhook signing
//! secrets are sealed with AES-256-GCM before they reach the database ([`crypto`]); plaintext
//! exists only in memory.
//!
//! This crate knows nothing of HTTP or Instagram and makes no policy decisions (when to refresh,
//! who may act): callers decide, the store records.

pub mod crypto;
mod entity;
mod error;
mod repo;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub use crypto::{KeyFile, KeyStore, Keyring, SecretKey};
pub use error::{Duplicate, StoreError};
pub use repo::accounts::{
    Account, AccountSettings, Accounts, Connection, NewAccount, Presets, ScopedAccount,
    TenantAccount,
};
pub use repo::api_keys::{ApiKey, ApiKeys, NewApiKey};
pub use repo::connect_links::{
    ConnectLink, ConnectLinks, LinkState, NewConnectLink, RECONNECT_LINK_DAYS,
};
pub use repo::data_deletions::{DataDeletion, DataDeletions};
pub use repo::delivery::{
    COUNTS_PER_STATEMENT, Change, ChangeFeed, DailyCount, RequestCount, RequestCounts,
};
pub use repo::facebook_logins::{FacebookLogin, FacebookLogins, OfferedPage};
pub use repo::invites::{Invite, InviteRefused, Invites, NewInvite};
pub use repo::media::{Media, MediaSnapshot};
pub use repo::memberships::{Member, Memberships, TenantMembership};
pub use repo::notifications::{
    Announcement, Delivery, DeliveryOutcome, Destination, EmailMessage, Notification,
    Notifications, RECONNECT_URL, UNSUBSCRIBE_TOKEN, render_reconnect_url,
};
pub use repo::oauth_states::{OauthState, OauthStates, StartedBy};
pub use repo::refresh_events::{NewRefreshEvent, RefreshEvent, RefreshEvents};
pub use repo::refresh_queue::{RefreshClaim, RefreshQueue, RefreshResult, RefreshWork};
pub use repo::sessions::{SessionRecord, Sessions};
pub use repo::tenants::{Tenant, Tenants};
pub use repo::tokens::{RekeyReport, StoredToken, TokenLifetime, TokenUpdate, Tokens};
pub use repo::transfer::{Export, ExportSummary, Transfer};
pub use repo::users::{
    Joining, NewUser, SignUp, SignUpRefused, SignedUp, User, Users, normalize_email,
};
pub use repo::webhooks::{CreatedWebhook, Webhook, Webhooks};

/// The advisory lock id migrations hold on PostgreSQL ("freshtkn" in ASCII).
const MIGRATION_LOCK: i64 = 0x6672_6573_6874_6b6e;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store's pool, for the job queue library (see [`Store::job_queue_pool`]).
#[derive(Clone)]
pub enum JobQueuePool {
    Sqlite(sea_orm::sqlx::SqlitePool),
    Postgres(sea_orm::sqlx::PgPool),
}

/// Pool and timing settings; the defaults suit one process on SQLite or a small PostgreSQL.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub max_connections: Option<u32>,
    /// How long to wait for a connection, at start-up too: long enough for a database that is
    /// still starting (as under docker compose), short enough to fail visibly.
    pub acquire_timeout: Duration,
    /// How long a SQLite writer waits for the lock before giving up.
    pub sqlite_busy_timeout: Duration,
}

impl Default for ConnectSettings {
    fn default() -> Self {
        ConnectSettings {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether the database answers and its schema is current (`GET /readyz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub pending_migrations: usize,
}

/// A handle on the database and the keys that seal tokens. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    keys: Arc<KeyStore>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `database_url` (`sqlite://path?mode=rwc` or `postgres://...`).
    ///
    /// SQLite runs in WAL mode with foreign keys on and a busy timeout, so readers never block
    /// the writer and a second writer waits instead of failing.
    pub async fn connect(
        database_url: &str,
        keys: Arc<KeyStore>,
        settings: &ConnectSettings,
    ) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(database_url.to_owned());
        // Statements are not logged: even though they carry only ciphertext, a log is no place
        // for them, and at debug level they drown everything else.
        options.sqlx_logging(false);
        options.connect_timeout(Duration::from_secs(10));
        options.acquire_timeout(settings.acquire_timeout);
        let is_sqlite = database_url.starts_with("sqlite:");
        if is_sqlite {
            let busy_timeout = settings.sqlite_busy_timeout;
            options.map_sqlx_sqlite_opts(move |sqlite| {
                sqlite
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(busy_timeout)
            });
            options.max_connections(settings.max_connections.unwrap_or(4));
        } else {
            options.max_connections(settings.max_connections.unwrap_or(10));
        }
        let db = connect_waiting_for_wal_switch(options, is_sqlite, settings.sqlite_busy_timeout)
            .await
            .map_err(|err| {
                let message = format!(
                    "{} (is the database running and reachable?)",
                    redact_url_in(&err.to_string(), database_url)
                );
                if is_unreachable(&err) {
                    StoreError::Unreachable(message)
                } else {
                    StoreError::Connect(message)
                }
            })?;
        Ok(Store { db, keys })
    }

    /// Applies pending migrations, then seals any webhook secret still in plain (see
    /// migration 6). Running it again is harmless.
    ///
    /// Several processes may start at once (scaled web and worker processes, or `serve` beside
    /// `migrate`): each runs the migrator inside a transaction that first takes the database's
    /// write lock (a PostgreSQL advisory lock; SQLite's `BEGIN IMMEDIATE`), so they take turns,
    /// each migration runs once, and the others find nothing pending.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let txn = match self.backend() {
            Backend::Postgres => {
                let txn = self.db.begin().await?;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                    .await?;
                txn
            }
            Backend::Sqlite => self.begin_write().await?,
        };
        Migrator::up(&txn, None).await?;
        // What migrations cannot do without the key: seal secrets an older version kept in
        // plain. In the same transaction, so no process ever sees the schema without it.
        let sealed = repo::webhooks::seal_plain_secrets(&txn, &self.keys).await?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "sealed webhook signing secrets kept in plain until now"
            );
        }
        txn.commit().await?;
        Ok(())
    }

    /// A transaction that reads and then writes. On SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`): a deferred transaction that first reads cannot wait for another writer
    /// when it comes to write, and would fail with "database is locked" at once instead.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    /// Checks that the database answers and reports migrations not yet applied.
    pub async fn readiness(&self) -> Result<Readiness, StoreError> {
        self.db.ping().await?;
        let pending = Migrator::get_pending_migrations(&self.db).await?;
        Ok(Readiness {
            pending_migrations: pending.len(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The pool the job queues share with the store: apalis keeps its tables in our database
    /// (`Jobs` on SQLite, the `apalis` schema on PostgreSQL) and is handed this pool. Nothing
    /// but apalis' own API runs on it (see docs/refresh.md).
    pub fn job_queue_pool(&self) -> JobQueuePool {
        match self.backend() {
            Backend::Sqlite => JobQueuePool::Sqlite(self.db.get_sqlite_connection_pool().clone()),
            Backend::Postgres => {
                JobQueuePool::Postgres(self.db.get_postgres_connection_pool().clone())
            }
        }
    }

    /// The raw connection, for tests that must look at what is really stored.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn close(self) -> Result<(), StoreError> {
        self.db.close().await?;
        Ok(())
    }

    pub fn users(&self) -> Users<'_> {
        Users::new(self)
    }
    pub fn tenants(&self) -> Tenants<'_> {
        Tenants::new(self)
    }
    pub fn memberships(&self) -> Memberships<'_> {
        Memberships::new(self)
    }
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(self)
    }
    pub fn connect_links(&self) -> ConnectLinks<'_> {
        ConnectLinks::new(self)
    }
    pub fn oauth_states(&self) -> OauthStates<'_> {
        OauthStates::new(self)
    }
    pub fn facebook_logins(&self) -> FacebookLogins<'_> {
        FacebookLogins::new(self)
    }
    pub fn data_deletions(&self) -> DataDeletions<'_> {
        DataDeletions::new(self)
    }
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::new(self)
    }
    pub fn refresh_events(&self) -> RefreshEvents<'_> {
        RefreshEvents::new(self)
    }
    pub fn refresh_queue(&self) -> RefreshQueue<'_> {
        RefreshQueue::new(self)
    }
    pub fn notifications(&self) -> Notifications<'_> {
        Notifications::new(self)
    }
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks::new(self)
    }
    pub fn transfer(&self) -> Transfer<'_> {
        Transfer::new(self)
    }
    pub fn request_counts(&self) -> RequestCounts<'_> {
        RequestCounts::new(self)
    }
    pub fn media(&self) -> Media<'_> {
        Media::new(self)
    }
    pub fn api_keys(&self) -> ApiKeys<'_> {
        ApiKeys::new(self)
    }
    pub fn invites(&self) -> Invites<'_> {
        Invites::new(self)
    }
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(self)
    }
}

/// Connection errors may quote the URL, which may carry a password: never pass it on.
fn redact_url_in(message: &str, url: &str) -> String {
    if url.is_empty() {
        message.to_owned()
    } else {
        message.replace(url, "<database url>")
    }
}

/// Whether a failed connection may succeed soon: nothing answered in time (sqlx's pool retries
/// refused connections itself until its acquire timeout, then says so), or PostgreSQL said it is
/// starting up or shutting down (as while a new container initialises). Not a wrong password, a
/// missing database or a TLS failure: those stay.
/// Opens the pool. On SQLite, a new database file's first connection switches it to WAL mode,
/// which takes an exclusive lock that the busy timeout does not wait for: processes starting
/// together on a fresh file (`serve` beside `migrate`, or a web and a worker process) would see
/// "database is locked" at once. So a busy connect is tried again until the busy timeout has
/// passed; once the file is in WAL mode, connecting takes no such lock.
async fn connect_waiting_for_wal_switch(
    options: ConnectOptions,
    is_sqlite: bool,
    busy_timeout: Duration,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let started = std::time::Instant::now();
    loop {
        match Database::connect(options.clone()).await {
            Err(err) if is_sqlite && is_sqlite_busy(&err) && started.elapsed() < busy_timeout => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

/// SQLITE_BUSY (5): another connection holds a lock this one may not wait for.
fn is_sqlite_busy(err: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error;
    let sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err)) = err else {
        return false;
    };
    matches!(err.as_ref(), Error::Database(database) if database.code().as_deref() == Some("5"))
}

fn is_unreachable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error;
    let sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(err)) = err else {
        return false;
    };
    match err.as_ref() {
        Error::Io(_) | Error::PoolTimedOut => true,
        // 57P03 cannot_connect_now, 57P01 admin_shutdown.
        Error::Database(database) => matches!(database.code().as_deref(), Some("57P03" | "57P01")),
        _ => false,
    }
}
