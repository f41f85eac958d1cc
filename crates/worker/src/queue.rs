//! The apalis side: three job queues kept in our own database (`Jobs` on SQLite, the `apalis`
//! schema on PostgreSQL), the workers that run them, and the housekeeping apalis leaves to us.
//!
//! A job only names what it is for (an account and the lease the scheduler took on it, a
//! notification and its lease); everything else is read fresh from the store when it runs, so a
//! job that runs late, twice, or after a crash does no harm.

use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{PostgresStorage, Pubsub};
use apalis_sqlite::SqliteStorage;
use freshtoken_store::{RefreshClaim, Store};
use sea_orm::sqlx::{PgPool, SqlitePool};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Engine, WorkerError, media, notify, refresh};

pub const REFRESH_QUEUE: &str = "freshtoken-refresh";
pub const NOTIFY_QUEUE: &str = "freshtoken-notify";
pub const MEDIA_QUEUE: &str = "freshtoken-media";

/// A job that fails on our side (the database is down) is tried this many times; Instagram's
/// and endpoints' failures are not job failures, they are scheduled in the database.
const MAX_JOB_ATTEMPTS: usize = 3;
/// Finished jobs are kept this long, for anyone looking at the queue tables, then deleted.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);

/// A few accounts claimed together (one lease id per claim pass): refreshed side by side in
/// one job, so that the queue's own bookkeeping (fetch, start, acknowledge) is paid once per
/// batch rather than once per account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshJob {
    pub account_ids: Vec<i64>,
    pub lease_id: String,
}

/// Accounts per refresh job.
pub const REFRESH_BATCH: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyJob {
    pub notification_id: i64,
    pub lease_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaJob {
    pub account_id: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("job queue: {0}")]
pub struct QueueError(String);

fn queue_error(err: impl std::fmt::Display) -> QueueError {
    QueueError(err.to_string())
}

/// The database the queues live in: the store's own pool.
#[derive(Clone)]
pub(crate) enum Queues {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Queues {
    pub(crate) fn of(store: &Store) -> Queues {
        match store.backend() {
            freshtoken_store::Backend::Sqlite => {
                Queues::Sqlite(store.connection().get_sqlite_connection_pool().clone())
            }
            freshtoken_store::Backend::Postgres => {
                Queues::Postgres(store.connection().get_postgres_connection_pool().clone())
            }
        }
    }

    /// Creates or updates apalis's tables. On PostgreSQL it holds an advisory lock, so
    /// processes starting together take turns; SQLite runs one process anyway.
    pub(crate) async fn setup(&self) -> Result<(), QueueError> {
        match self {
            // Not `SqliteStorage::setup`: it would also switch our connection's `synchronous`
            // off, trading durability for speed behind the store's back.
            Queues::Sqlite(pool) => SqliteStorage::<()>::migrations()
                .run(pool)
                .await
                .map_err(queue_error),
            Queues::Postgres(pool) => PostgresStorage::<()>::migrations()
                .run(pool)
                .await
                .map_err(queue_error),
        }
    }

    pub(crate) async fn push<T>(&self, queue: &str, jobs: Vec<T>) -> Result<(), QueueError>
    where
        T: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static,
    {
        if jobs.is_empty() {
            return Ok(());
        }
        let tasks = futures_util::stream::iter(
            jobs.into_iter()
                .map(|job| TaskBuilder::new(job).max_attempts(MAX_JOB_ATTEMPTS).build()),
        );
        match self {
            Queues::Sqlite(pool) => SqliteStorage::<T>::new(pool)
                .with_config(apalis_sqlite::Config::default().queue(queue))
                .push_all(tasks)
                .await
                .map_err(queue_error),
            Queues::Postgres(pool) => PostgresStorage::<T>::new(pool)
                .with_config(apalis_postgres::Config::default().queue(queue))
                .push_all(tasks)
                .await
                .map_err(queue_error),
        }
    }

    /// Jobs of `queue` waiting for a worker or running: how far the workers are behind.
    pub(crate) async fn waiting(&self, queue: &str) -> Result<u64, QueueError> {
        let count: i64 = match self {
            Queues::Sqlite(pool) => sea_orm::sqlx::query_scalar(
                "SELECT COUNT(*) FROM Jobs WHERE job_type = ?1 AND status IN ('Pending', 'Queued', 'Running')",
            )
            .bind(queue)
            .fetch_one(pool)
            .await
            .map_err(queue_error)?,
            Queues::Postgres(pool) => sea_orm::sqlx::query_scalar(
                "SELECT COUNT(*) FROM apalis.jobs WHERE job_type = $1 AND status IN ('Pending', 'Queued', 'Running')",
            )
            .bind(queue)
            .fetch_one(pool)
            .await
            .map_err(queue_error)?,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Deletes finished jobs older than an hour: apalis keeps every job forever otherwise.
    pub(crate) async fn purge_finished(&self) -> Result<u64, QueueError> {
        let keep = i64::try_from(KEEP_FINISHED.as_secs()).unwrap_or(3600);
        let result = match self {
            Queues::Sqlite(pool) => sea_orm::sqlx::query(
                "DELETE FROM Jobs WHERE status IN ('Done', 'Killed', 'Failed') \
                 AND done_at IS NOT NULL AND done_at < strftime('%s', 'now') - ?1",
            )
            .bind(keep)
            .execute(pool)
            .await
            .map_err(queue_error)?
            .rows_affected(),
            Queues::Postgres(pool) => sea_orm::sqlx::query(
                "DELETE FROM apalis.jobs WHERE status IN ('Done', 'Killed', 'Failed') \
                 AND done_at IS NOT NULL AND done_at < now() - make_interval(secs => $1)",
            )
            .bind(keep as f64)
            .execute(pool)
            .await
            .map_err(queue_error)?
            .rows_affected(),
        };
        Ok(result)
    }

    /// Runs the three queues' workers until `shutdown` completes, then lets running jobs finish.
    pub(crate) async fn run_workers(
        &self,
        engine: Engine,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), QueueError> {
        let config = engine.config().clone();
        // Unique per process and per restart: apalis tells a dead worker from a live one by
        // name, and re-runs the dead one's jobs.
        let name = |queue: &str, restarts: usize| {
            format!(
                "{queue}-{}-{}-{restarts}",
                std::process::id(),
                crate::random_unit().to_bits() % 1_000_000
            )
        };
        let signal = async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        };
        let monitor = Monitor::new()
            // A worker stops on a queue error (the database went away): start it again, after
            // a pause, so that an outage is not a hot loop of restarts.
            .should_restart(|worker, error| {
                tracing::error!(worker = %worker.name(), %error, "job worker stopped; restarting in 2 s");
                // Blocking the only thread of a single-threaded runtime would stop everything
                // else: there, restart at once.
                let runtime = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
                if let Ok(tokio::runtime::RuntimeFlavor::MultiThread) = runtime {
                    tokio::task::block_in_place(|| std::thread::sleep(Duration::from_secs(2)));
                }
                true
            })
            .shutdown_timeout(Duration::from_secs(30));
        let poll = config.poll_interval;
        let refresh_jobs = refresh_jobs_at_once(config.concurrency);
        // One worker per queue, the same on either database but for its storage: each job on a
        // task of its own, at most `$concurrency` at once, a panic failing the job and not the
        // process. (A macro, as the builder's types differ per storage.)
        macro_rules! worker {
            ($queue:expr, $restarts:expr, $storage:expr, $engine:expr, $concurrency:expr, $handler:expr) => {
                WorkerBuilder::new(name($queue, $restarts))
                    .backend($storage)
                    .data($engine.clone())
                    .catch_panic()
                    .concurrency($concurrency)
                    .parallelize(tokio::spawn)
                    .build($handler)
            };
        }
        let monitor = match self.clone() {
            Queues::Sqlite(pool) => {
                let storage = move |queue: &str| {
                    apalis_sqlite::Config::default()
                        .queue(queue)
                        .batch_size(refresh_jobs)
                        .heartbeat_interval(Duration::from_secs(5))
                        .missed_heartbeats(6)
                };
                let (p1, p2, p3) = (pool.clone(), pool.clone(), pool);
                let (engine1, engine2, engine3) = (engine.clone(), engine.clone(), engine);
                monitor
                    .register(move |restarts| {
                        worker!(
                            REFRESH_QUEUE,
                            restarts,
                            SqliteStorage::<RefreshJob>::new(&p1)
                                .with_config(storage(REFRESH_QUEUE))
                                .poll_with_interval(poll),
                            engine1,
                            refresh_jobs,
                            run_refresh
                        )
                    })
                    .register(move |restarts| {
                        worker!(
                            NOTIFY_QUEUE,
                            restarts,
                            SqliteStorage::<NotifyJob>::new(&p2)
                                .with_config(storage(NOTIFY_QUEUE))
                                .poll_with_interval(poll),
                            engine2,
                            16,
                            run_notify
                        )
                    })
                    .register(move |restarts| {
                        worker!(
                            MEDIA_QUEUE,
                            restarts,
                            SqliteStorage::<MediaJob>::new(&p3)
                                .with_config(storage(MEDIA_QUEUE))
                                .poll_with_interval(poll),
                            engine3,
                            8,
                            run_media
                        )
                    })
            }
            Queues::Postgres(pool) => {
                let storage = move |queue: &str| {
                    apalis_postgres::Config::default()
                        .queue(queue)
                        .batch_size(refresh_jobs)
                        .heartbeat_interval(Duration::from_secs(5))
                        .missed_heartbeats(6)
                };
                // Woken at once by PostgreSQL's NOTIFY when a job is pushed, and polling
                // besides, in case a notification is missed.
                let strategy = move |pool: &PgPool, queue: &str| {
                    Strategy::new()
                        .stream(Pubsub::new(pool.clone(), queue.to_owned()))
                        .interval(poll)
                };
                let (p1, p2, p3) = (pool.clone(), pool.clone(), pool);
                let (engine1, engine2, engine3) = (engine.clone(), engine.clone(), engine);
                monitor
                    .register(move |restarts| {
                        worker!(
                            REFRESH_QUEUE,
                            restarts,
                            PostgresStorage::<RefreshJob>::new(&p1)
                                .with_config(storage(REFRESH_QUEUE))
                                .poll_with_strategy(strategy(&p1, REFRESH_QUEUE)),
                            engine1,
                            refresh_jobs,
                            run_refresh
                        )
                    })
                    .register(move |restarts| {
                        worker!(
                            NOTIFY_QUEUE,
                            restarts,
                            PostgresStorage::<NotifyJob>::new(&p2)
                                .with_config(storage(NOTIFY_QUEUE))
                                .poll_with_strategy(strategy(&p2, NOTIFY_QUEUE)),
                            engine2,
                            16,
                            run_notify
                        )
                    })
                    .register(move |restarts| {
                        worker!(
                            MEDIA_QUEUE,
                            restarts,
                            PostgresStorage::<MediaJob>::new(&p3)
                                .with_config(storage(MEDIA_QUEUE))
                                .poll_with_strategy(strategy(&p3, MEDIA_QUEUE)),
                            engine3,
                            8,
                            run_media
                        )
                    })
            }
        };
        monitor.run_with_signal(signal).await.map_err(queue_error)
    }
}

/// Refresh jobs in flight so that about `concurrency` accounts are refreshed at once.
fn refresh_jobs_at_once(concurrency: usize) -> usize {
    concurrency.div_ceil(REFRESH_BATCH).max(1)
}

fn job_error(err: WorkerError) -> BoxDynError {
    tracing::error!(error = %err, "job failed");
    Box::new(err)
}

async fn run_refresh(job: RefreshJob, engine: Data<Engine>) -> Result<(), BoxDynError> {
    let refreshes = job.account_ids.into_iter().map(|account_id| {
        let claim = RefreshClaim {
            account_id,
            lease_id: job.lease_id.clone(),
        };
        let engine = engine.clone();
        async move { refresh::refresh(&engine, &claim).await }
    });
    // Every account is tried even if one fails; the job fails (and is retried) if any did,
    // which is harmless: the accounts already done no longer hold this lease.
    let results = futures_util::future::join_all(refreshes).await;
    match results.into_iter().find_map(Result::err) {
        Some(err) => Err(job_error(err)),
        None => Ok(()),
    }
}

async fn run_notify(job: NotifyJob, engine: Data<Engine>) -> Result<(), BoxDynError> {
    notify::deliver(&engine, job.notification_id, &job.lease_id)
        .await
        .map_err(job_error)
}

async fn run_media(job: MediaJob, engine: Data<Engine>) -> Result<(), BoxDynError> {
    media::sync(&engine, job.account_id)
        .await
        .map_err(job_error)
}
