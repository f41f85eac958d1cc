//! The background worker of freshtoken: keeps every tenant's tokens alive.
//!
//! A scheduler claims what is due in the database (accounts to refresh, notifications to
//! deliver, media to sync), each claim under a lease, and enqueues apalis jobs for the claims
//! in the same database (a refresh job carries up to sixteen accounts); workers run the jobs. The lease, not the queue, is what guarantees that
//! one account is never refreshed twice at once: only the job carrying the account's current
//! lease may record a result, and a crashed worker's lease runs out so the account is claimed
//! again. Retries are scheduled in the database too (the account's next refresh, the
//! notification's next attempt), so they survive restarts and never spin.
//!
//! This crate never serves HTTP to browsers: it talks to Meta (Instagram and Threads refresh,
//! Facebook checks Page tokens), to webhook endpoints and to an SMTP server, and records everything through the store.

mod clock;
mod media;
mod metrics;
mod notify;
mod queue;
mod refresh;
mod scheduler;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use freshtoken_egress::{AllowedHosts, ClientError, WebhookClient};
use freshtoken_meta::MetaClients;
use freshtoken_store::{Store, StoreError};
use queue::{Queues, REFRESH_QUEUE, RefreshJob};

pub use clock::Clock;
pub use metrics::Metrics;
pub use notify::{MAX_DELIVERY_ATTEMPTS, Mailer, MailerError, signature};
pub use queue::QueueError;

/// How the worker runs; the defaults suit one process.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How often the scheduler looks for due work (`FRESHTOKEN_SCHEDULER_INTERVAL`).
    pub scheduler_interval: Duration,
    /// How often idle workers look for jobs (on PostgreSQL they are also woken by NOTIFY),
    /// and how soon the scheduler goes round again while there is a backlog.
    pub poll_interval: Duration,
    /// Refreshes run at once by this process (`FRESHTOKEN_WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// How long a claim holds an account or notification. Longer than any one job can take
    /// (Instagram's and webhooks' timeouts are far shorter), so a live job never loses it.
    pub lease: Duration,
    /// How often an account whose media someone reads is synced.
    pub media_sync_interval: Duration,
    /// How often a Facebook Page token is checked with `debug_token`
    /// (`FRESHTOKEN_PAGE_CHECK_INTERVAL`).
    pub page_check_interval: Duration,
    /// Where people reach the dashboard, for links in e-mails.
    pub public_url: String,
    /// How long a webhook endpoint may take to answer.
    pub webhook_timeout: Duration,
    /// Hosts webhooks may reach even at private addresses (`FRESHTOKEN_WEBHOOK_ALLOW_HOSTS`).
    pub webhook_allow_hosts: AllowedHosts,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            scheduler_interval: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            concurrency: 64,
            lease: Duration::from_secs(300),
            media_sync_interval: Duration::from_secs(3600),
            page_check_interval: Duration::from_secs(24 * 3600),
            public_url: "http://127.0.0.1:8080".to_owned(),
            webhook_timeout: Duration::from_secs(10),
            webhook_allow_hosts: AllowedHosts::none(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    WebhookClient(#[from] ClientError),
}

/// Everything a job needs. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Told the id of every account whose token or status a job just changed.
pub type ChangeListener = Arc<dyn Fn(i64) + Send + Sync>;

struct Inner {
    store: Store,
    /// Set by a process that also serves tokens, so that it forgets what it has in memory.
    listener: std::sync::OnceLock<ChangeListener>,
    meta: MetaClients,
    clock: Clock,
    metrics: Metrics,
    config: WorkerConfig,
    webhooks: WebhookClient,
    mailer: Option<Mailer>,
}

impl Engine {
    /// Fails when the webhook client cannot be built: a worker that could not check where
    /// its webhooks go must not start.
    pub fn new(
        store: Store,
        meta: MetaClients,
        config: WorkerConfig,
        mailer: Option<Mailer>,
        clock: Clock,
        metrics: Metrics,
    ) -> Result<Engine, WorkerError> {
        let webhooks =
            WebhookClient::new(config.webhook_allow_hosts.clone(), config.webhook_timeout)?;
        Ok(Engine {
            inner: Arc::new(Inner {
                store,
                listener: std::sync::OnceLock::new(),
                meta,
                clock,
                metrics,
                config,
                webhooks,
                mailer,
            }),
        })
    }

    /// Calls `listener` with the id of every account a refresh changed (the web side of the
    /// same process forgets its cached answer at once). Only the first listener counts.
    pub fn listen(&self, listener: ChangeListener) {
        let _ = self.inner.listener.set(listener);
    }

    fn account_changed(&self, account_id: i64) {
        if let Some(listener) = self.inner.listener.get() {
            listener(account_id);
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
    pub fn config(&self) -> &WorkerConfig {
        &self.inner.config
    }
    fn meta(&self) -> &MetaClients {
        &self.inner.meta
    }
    fn webhooks(&self) -> &WebhookClient {
        &self.inner.webhooks
    }
    fn mailer(&self) -> Option<&Mailer> {
        self.inner.mailer.as_ref()
    }
    fn emails_enabled(&self) -> bool {
        self.inner.mailer.is_some()
    }
    fn public_url(&self) -> &str {
        self.inner.config.public_url.trim_end_matches('/')
    }
}

/// Creates or updates the job queues' tables (apalis's own migrations), next to ours.
pub async fn setup_queues(store: &Store) -> Result<(), WorkerError> {
    Ok(Queues::of(store).setup().await?)
}

/// Enqueues a refresh of the account at once if it is active, due, and not already being
/// refreshed; returns whether it did. The refresh runs on whichever worker takes the job.
pub async fn enqueue_refresh(
    store: &Store,
    account_id: i64,
    now: chrono::DateTime<chrono::Utc>,
    lease: Duration,
) -> Result<bool, WorkerError> {
    let lease_until =
        now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let Some(claim) = store
        .refresh_queue()
        .claim_one(account_id, now, lease_until)
        .await?
    else {
        return Ok(false);
    };
    let job = RefreshJob {
        account_ids: vec![claim.account_id],
        lease_id: claim.lease_id,
    };
    Queues::of(store).push(REFRESH_QUEUE, vec![job]).await?;
    Ok(true)
}

impl Engine {
    /// Runs the scheduler and the workers until `shutdown` completes; running jobs finish
    /// first (for up to 30 s).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let queues = Queues::of(self.store());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let scheduler = tokio::spawn(scheduler::run(self.clone(), queues.clone(), stopped));
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let result = queues.run_workers(self, signal).await;
        let _ = scheduler.await;
        Ok(result?)
    }
}

/// A random number uniform in `0.0..1.0`, for jitter.
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
