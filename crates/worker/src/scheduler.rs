//! The scheduler: claims what is due in the database and enqueues a job per claim.
//!
//! It keeps the refresh queue about two batches deep: enough that workers never wait, little
//! enough that claims do not sit in the queue until their lease runs out. With a backlog (a
//! hundred thousand accounts due at once) it goes round again as soon as there is room, and
//! otherwise sleeps for the scheduler interval.

use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;

use crate::queue::{
    MEDIA_QUEUE, MediaJob, NOTIFY_QUEUE, NotifyJob, Queues, REFRESH_QUEUE, RefreshJob,
    refresh_batch,
};
use crate::{Engine, WorkerError};

/// Notifications and media syncs claimed per pass.
const SIDE_BATCH: u64 = 200;
/// How long someone's interest in an account's media keeps it synced.
const MEDIA_WANTED_FOR: ChronoDuration = ChronoDuration::days(7);

/// What one pass enqueued.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    pub refreshes: u64,
    pub notifications: u64,
    pub media_syncs: u64,
    /// The pass stopped because the queue was full, not because nothing was due.
    pub backlog: bool,
}

pub(crate) async fn pass(engine: &Engine, queues: &Queues) -> Result<Pass, WorkerError> {
    let store = engine.store();
    let config = engine.config();
    engine.clock().sync().await;
    let now = engine.clock().now();
    let lease_until =
        now + ChronoDuration::from_std(config.lease).unwrap_or(ChronoDuration::minutes(5));
    let mut pass = Pass::default();

    let batch = (config.concurrency.max(1) * 4) as u64;
    // Accounts claimed and not yet recorded (queued or running), from the leases in our own
    // table: apalis offers no cheap count of its waiting jobs.
    let held = store.refresh_queue().held(now).await?;
    let room = (2 * batch).saturating_sub(held);
    if room > 0 {
        let claims = store
            .refresh_queue()
            .claim_due(now, lease_until, room)
            .await?;
        pass.refreshes = claims.len() as u64;
        pass.backlog = pass.refreshes == room;
        // The claims of one pass share a lease id.
        let jobs = claims
            .chunks(refresh_batch(config.concurrency))
            .map(|batch| RefreshJob {
                account_ids: batch.iter().map(|claim| claim.account_id).collect(),
                lease_id: batch[0].lease_id.clone(),
            })
            .collect();
        queues.push(REFRESH_QUEUE, jobs).await?;
    } else {
        pass.backlog = true;
    }

    let claims = store
        .notifications()
        .claim_due(now, lease_until, SIDE_BATCH)
        .await?;
    pass.notifications = claims.len() as u64;
    let jobs = claims
        .into_iter()
        .map(|(notification_id, lease_id)| NotifyJob {
            notification_id,
            lease_id,
        })
        .collect();
    queues.push(NOTIFY_QUEUE, jobs).await?;

    let stale_before = now
        - ChronoDuration::from_std(config.media_sync_interval).unwrap_or(ChronoDuration::hours(1));
    let ids = store
        .media()
        .claim_due(now, now - MEDIA_WANTED_FOR, stale_before, SIDE_BATCH)
        .await?;
    pass.media_syncs = ids.len() as u64;
    queues
        .push(
            MEDIA_QUEUE,
            ids.into_iter()
                .map(|account_id| MediaJob { account_id })
                .collect(),
        )
        .await?;
    Ok(pass)
}

/// How often the scheduler deletes what nobody needs any more (from its start on).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(300);
/// How often finished jobs are deleted: on SQLite that rewrites the whole file (`VACUUM`),
/// holding writers off for a moment, so daily, the first an hour after start.
const DELETE_FINISHED_JOBS_EVERY: Duration = Duration::from_secs(24 * 3600);
const DELETE_FINISHED_JOBS_FIRST: Duration = Duration::from_secs(3600);

async fn delete_finished_jobs(queues: &Queues) {
    let started = Instant::now();
    match queues.delete_finished().await {
        Ok(true) => tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            "deleted finished jobs and compacted the database"
        ),
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%error, "could not delete finished jobs; trying again tomorrow")
        }
    }
}

/// Deletes sessions that have ended (a session nobody comes back to is never read again, so
/// never deleted on its own), and abandoned logins: OAuth states, and Facebook logins whose
/// sealed user token would otherwise wait for the next Facebook login to be swept; and connect
/// links long expired.
async fn housekeeping(engine: &Engine) {
    // Sessions end on the wall clock the web side reads, not on the engine's.
    match engine
        .store()
        .sessions()
        .delete_expired(chrono::Utc::now())
        .await
    {
        Ok(0) => {}
        Ok(deleted) => tracing::debug!(deleted, "deleted expired sessions"),
        Err(error) => tracing::warn!(%error, "could not delete expired sessions"),
    }
    let now = chrono::Utc::now();
    let store = engine.store();
    let abandoned = [
        (
            "Facebook logins",
            store.facebook_logins().delete_expired(now).await,
        ),
        (
            "OAuth states",
            store.oauth_states().delete_expired(now).await,
        ),
        (
            "connect links",
            store.connect_links().delete_expired(now).await,
        ),
    ];
    for (what, result) in abandoned {
        match result {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, what, "deleted expired logins"),
            Err(error) => tracing::warn!(%error, what, "could not delete expired logins"),
        }
    }
}

/// Runs passes until `stop` says so: again at once while there is a backlog, otherwise after
/// the scheduler interval. A failing pass (the database is away) is logged and retried.
pub(crate) async fn run(
    engine: Engine,
    queues: Queues,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let interval = engine.config().scheduler_interval;
    let mut next_housekeeping = Instant::now();
    let mut next_job_deletion = Instant::now() + DELETE_FINISHED_JOBS_FIRST;
    loop {
        let wait = match pass(&engine, &queues).await {
            Ok(pass) if pass.backlog => engine.config().poll_interval.min(interval),
            Ok(pass) => {
                if pass.refreshes + pass.notifications + pass.media_syncs > 0 {
                    tracing::debug!(?pass, "scheduler pass");
                }
                interval
            }
            Err(error) => {
                tracing::error!(%error, "scheduler pass failed");
                interval.min(Duration::from_secs(10))
            }
        };
        if Instant::now() >= next_housekeeping {
            next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
            housekeeping(&engine).await;
        }
        if Instant::now() >= next_job_deletion {
            next_job_deletion = Instant::now() + DELETE_FINISHED_JOBS_EVERY;
            delete_finished_jobs(&queues).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
