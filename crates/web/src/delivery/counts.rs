//! How many requests each account's token URLs served and refused today, added up in memory
//! and written to the database now and then ([`flush_counts`]): no write per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use freshtoken_store::{RequestCount, Store};
use tokio::sync::watch;

const SHARDS: usize = 8;

type Counts = HashMap<(i64, NaiveDate), RequestCount>;

#[derive(Debug, Default)]
pub struct RequestCounter {
    shards: [Mutex<Counts>; SHARDS],
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

    /// What was counted and not yet written, leaving nothing.
    fn take(&self) -> Counts {
        let mut all = Counts::new();
        for shard in &self.shards {
            let counts = std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
            merge(&mut all, counts);
        }
        all
    }

    /// Puts back counts that could not be written, to try again next time.
    fn put_back(&self, counts: Counts) {
        let mut shard = self.shards[0].lock().unwrap_or_else(|e| e.into_inner());
        merge(&mut shard, counts);
    }

    /// What is counted in memory for the account on `day`, not yet in the database.
    pub fn pending(&self, account_id: i64, day: NaiveDate) -> RequestCount {
        let mut total = RequestCount::default();
        for shard in &self.shards {
            let counts = shard.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = counts.get(&(account_id, day)) {
                total += *count;
            }
        }
        total
    }

    /// Writes what was counted; on failure keeps it for the next try.
    pub async fn flush(&self, store: &Store) {
        let counts = self.take();
        if counts.is_empty() {
            return;
        }
        if let Err(error) = store.request_counts().add(&counts).await {
            tracing::warn!(%error, "cannot write request counts; keeping them for the next try");
            self.put_back(counts);
        }
    }
}

fn merge(into: &mut Counts, counts: Counts) {
    for (key, count) in counts {
        *into.entry(key).or_default() += count;
    }
}

/// Writes the counts every `every` until `shutdown`, and once more then.
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
            _ = ticks.tick() => counter.flush(&store).await,
            () = super::stop_requested(&mut shutdown) => break,
        }
    }
    counter.flush(&store).await;
}
