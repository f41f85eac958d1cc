//! How many requests each account's token URLs served and refused today, added up in memory
//! and written to the database now and then ([`flush_counts`]): no write per request.
//!
//! Writing never stalls answering. The counts are swapped out of each shard under its lock (no
//! lock is held while writing), then written [`ROWS_PER_CHUNK`] rows at a time with pauses
//! between, spread over a quarter of the interval: at 100,000 accounts a flush is 100,000
//! upserts, about a second of one core on SQLite, which written at once took a core from the
//! requests of a 2-core host for that second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use freshtoken_store::{RequestCount, Store};
use tokio::sync::watch;

const SHARDS: usize = 8;
/// Rows written at a time: a few milliseconds of work between two pauses. One statement of the
/// store's, so a chunk that fails was not written in part, and trying it again counts nothing
/// twice.
const ROWS_PER_CHUNK: usize = freshtoken_store::COUNTS_PER_STATEMENT;
/// The longest pause between two chunks: a flush of few rows is not drawn out for nothing.
const MAX_PAUSE: Duration = Duration::from_secs(1);

type Counts = HashMap<(i64, NaiveDate), RequestCount>;

#[derive(Debug, Default)]
pub struct RequestCounter {
    shards: [Mutex<Counts>; SHARDS],
    /// Counts taken out of the shards and not yet written: still shown by
    /// [`RequestCounter::pending`] while a flush is drawn out, and kept for the next flush
    /// when writing fails. Only the flush changes it.
    flushing: Mutex<Counts>,
}

impl RequestCounter {
    pub fn served(&self, account_id: i64) {
        self.count(account_id, |count| count.served += 1);
    }

    pub fn refused(&self, account_id: i64) {
        self.count(account_id, |count| count.refused += 1);
    }

    /// A refusal of a request that carried neither `Origin` nor `Referer`: counted as refused
    /// and apart, so the account's owner sees which servers (or referrer-hiding pages) asked.
    pub fn refused_no_origin(&self, account_id: i64) {
        self.count(account_id, |count| {
            count.refused += 1;
            count.refused_no_origin += 1;
        });
    }

    fn count(&self, account_id: i64, add: impl FnOnce(&mut RequestCount)) {
        let day = Utc::now().date_naive();
        let shard = &self.shards[account_id.unsigned_abs() as usize % SHARDS];
        let mut counts = shard.lock().unwrap_or_else(|e| e.into_inner());
        add(counts.entry((account_id, day)).or_default());
    }

    /// What is counted in memory for the account on `day`, not yet in the database.
    pub fn pending(&self, account_id: i64, day: NaiveDate) -> RequestCount {
        let mut total = RequestCount::default();
        for shard in self.shards.iter().chain([&self.flushing]) {
            let counts = shard.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = counts.get(&(account_id, day)) {
                total += *count;
            }
        }
        total
    }

    /// Writes what was counted, at once; on failure keeps it for the next try.
    pub async fn flush(&self, store: &Store) {
        self.flush_spread(store, Duration::ZERO, None).await;
    }

    /// Writes what was counted, a chunk at a time with pauses between, so that the whole takes
    /// about `spread` (pauses end early when `shutdown` says stop). On failure, what is not
    /// written stays for the next flush.
    async fn flush_spread(
        &self,
        store: &Store,
        spread: Duration,
        mut shutdown: Option<&mut watch::Receiver<bool>>,
    ) {
        let rows: usize = self.flushing_len()
            + self
                .shards
                .iter()
                .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).len())
                .sum::<usize>();
        let chunks = u32::try_from(rows.div_ceil(ROWS_PER_CHUNK)).unwrap_or(u32::MAX);
        let pause = spread
            .checked_div(chunks.max(1))
            .unwrap_or_default()
            .min(MAX_PAUSE);
        let mut first = true;
        // What a failed flush left comes first, then each shard in turn: one shard's counts
        // at a time are out of the shards.
        for shard in std::iter::once(None).chain(self.shards.iter().map(Some)) {
            if let Some(shard) = shard {
                self.take_shard(shard);
            }
            while let Some(chunk) = self.next_chunk() {
                if !first && !pause.is_zero() {
                    pause_unless_stopping(pause, &mut shutdown).await;
                }
                first = false;
                if let Err(error) = store.request_counts().add(&chunk).await {
                    tracing::warn!(%error, "cannot write request counts; keeping them for the next try");
                    return;
                }
                let mut flushing = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
                for key in chunk.keys() {
                    flushing.remove(key);
                }
            }
        }
    }

    fn flushing_len(&self) -> usize {
        self.flushing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Moves a shard's counts to `flushing`, leaving the shard empty.
    fn take_shard(&self, shard: &Mutex<Counts>) {
        let taken = std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
        let mut flushing = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        if flushing.is_empty() {
            *flushing = taken;
        } else {
            for (key, count) in taken {
                *flushing.entry(key).or_default() += count;
            }
        }
    }

    /// A copy of up to [`ROWS_PER_CHUNK`] of the counts being flushed (they stay there, and so
    /// in [`RequestCounter::pending`], until written).
    fn next_chunk(&self) -> Option<Counts> {
        let flushing = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        let chunk: Counts = flushing
            .iter()
            .take(ROWS_PER_CHUNK)
            .map(|(key, count)| (*key, *count))
            .collect();
        (!chunk.is_empty()).then_some(chunk)
    }
}

/// Sleeps `pause`, or less when a shutdown is asked for (after which no pause is made).
async fn pause_unless_stopping(pause: Duration, shutdown: &mut Option<&mut watch::Receiver<bool>>) {
    let Some(receiver) = shutdown else {
        tokio::time::sleep(pause).await;
        return;
    };
    if *receiver.borrow() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(pause) => {}
        () = super::stop_requested(receiver) => {}
    }
}

/// Writes the counts every `every` (each flush spread over a quarter of it, see the module's
/// doc) until `shutdown`, and once more then, at once.
pub async fn flush_counts(
    store: Store,
    counter: Arc<RequestCounter>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = super::stop_requested(&mut shutdown) => break,
        }
        counter
            .flush_spread(&store, every / 4, Some(&mut shutdown))
            .await;
    }
    counter.flush(&store).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests::store_with_accounts;

    #[tokio::test]
    async fn a_spread_flush_writes_every_count_and_shows_them_pending_until_then() {
        let (store, ids) = store_with_accounts(2_500, &[]).await;
        let mut proofs = Vec::new();
        for id in &ids {
            proofs.push(
                *store
                    .accounts()
                    .by_public_id(id)
                    .await
                    .unwrap()
                    .unwrap()
                    .proof(),
            );
        }
        let counter = RequestCounter::default();
        for proof in &proofs {
            counter.served(proof.account_id());
        }
        counter.refused(proofs[0].account_id());
        let today = Utc::now().date_naive();
        let first = proofs[0].account_id();
        assert_eq!(counter.pending(first, today).served, 1);
        // Three chunks, two pauses of 40 ms.
        counter
            .flush_spread(&store, Duration::from_millis(120), None)
            .await;
        assert_eq!(counter.pending(first, today), RequestCount::default());
        let written = store.request_counts().on_day(&proofs, today).await.unwrap();
        assert_eq!(written.len(), 2_500);
        assert!(written.values().all(|count| count.served == 1));
        assert_eq!(written[&first].refused, 1);
    }
}
