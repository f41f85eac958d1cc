//! The apalis side: three job queues kept in our own database (`Jobs` on SQLite, the `apalis`
//! schema on PostgreSQL), the workers that run them, and deleting finished jobs. Only apalis'
//! own API touches its tables; what the engine needs to know about its work in flight it reads
//! from our tables (docs/refresh.md).
//!
//! A job only names what it is for (an account and the lease the scheduler took on it, a
//! notification and its lease); everything else is read fresh from the store when it runs, so a
//! job that runs late, twice, or after a crash does no harm.

use std::time::Duration;

use apalis::prelude::*;
use apalis_core::backend::Vacuum;
use apalis_postgres::{PostgresStorage, Pubsub};
use apalis_sqlite::SqliteStorage;
use freshtoken_store::{JobQueuePool, Store};
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

/// A few accounts claimed together (one lease id per claim pass): refreshed side by side in
/// one job, read in one query and recorded in one transaction, so that those statements and
/// the queue's own bookkeeping (fetch, acknowledge) are paid once per batch rather than once
/// per account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshJob {
    pub account_ids: Vec<i64>,
    pub lease_id: String,
}

/// Accounts per refresh job, at most (and never more than the worker's concurrency). Each job
/// costs about fifteen round trips to the database whatever its size (sqlx's pings on taking
/// and giving back a connection included): sixteen accounts make that about one per refresh.
const REFRESH_BATCH: usize = 16;

/// The accounts per refresh job at this concurrency.
pub(crate) fn refresh_batch(concurrency: usize) -> usize {
    REFRESH_BATCH.min(concurrency.max(1))
}

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
        match store.job_queue_pool() {
            JobQueuePool::Sqlite(pool) => Queues::Sqlite(pool),
            JobQueuePool::Postgres(pool) => Queues::Postgres(pool),
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

    /// Deletes finished jobs (apalis keeps every job otherwise), through apalis' own `Vacuum`,
    /// which then runs SQLite's `VACUUM` on the whole file: hence only daily. Answers whether
    /// it could: on PostgreSQL apalis 1.0 offers no way to delete them (docs/refresh.md says
    /// what that costs and what an operator can do). (The count `Vacuum` answers is not used:
    /// it said 4 for 2 jobs deleted, counting its `DELETE` again after the `VACUUM`.)
    pub(crate) async fn delete_finished(&self) -> Result<bool, QueueError> {
        match self {
            Queues::Sqlite(pool) => SqliteStorage::<()>::new(pool)
                .vacuum()
                .await
                .map(|_| true)
                .map_err(queue_error),
            Queues::Postgres(_) => Ok(false),
        }
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
    concurrency.div_ceil(refresh_batch(concurrency)).max(1)
}

fn job_error(err: WorkerError) -> BoxDynError {
    tracing::error!(error = %err, "job failed");
    Box::new(err)
}

async fn run_refresh(job: RefreshJob, engine: Data<Engine>) -> Result<(), BoxDynError> {
    // A failure here (the database) fails the job, which apalis retries: the accounts not yet
    // recorded still hold this lease, and those recorded no longer do.
    refresh::refresh_batch(&engine, &job.lease_id, &job.account_ids)
        .await
        .map_err(job_error)
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

#[cfg(test)]
mod tests {
    use freshtoken_store::testing::{TestDatabase, TestStore, test_keys};

    use super::*;

    async fn jobs_by_status(pool: &SqlitePool) -> Vec<(String, i64)> {
        // The test looks into apalis' table; the product never does.
        sea_orm::sqlx::query_as("SELECT status, COUNT(*) FROM Jobs GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn finished_jobs_are_deleted_through_apalis_and_waiting_ones_kept() {
        let store = TestStore::on(TestDatabase::new_sqlite(), test_keys()).await;
        let queues = Queues::of(&store);
        queues.setup().await.unwrap();
        let jobs = (1..=3).map(|account_id| MediaJob { account_id }).collect();
        queues.push(MEDIA_QUEUE, jobs).await.unwrap();
        let Queues::Sqlite(pool) = &queues else {
            unreachable!("a SQLite store")
        };
        // Two of them done, as a worker would leave them.
        sea_orm::sqlx::query(
            "UPDATE Jobs SET status = 'Done', done_at = strftime('%s', 'now') \
             WHERE id IN (SELECT id FROM Jobs ORDER BY run_at LIMIT 2)",
        )
        .execute(pool)
        .await
        .unwrap();

        assert!(queues.delete_finished().await.unwrap());
        assert_eq!(jobs_by_status(pool).await, [("Pending".to_owned(), 1)]);
    }
}
