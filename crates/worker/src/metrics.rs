//! The worker's Prometheus metrics. Counters and the latency histogram count what this process
//! did; the backlog gauges (queue depth, soonest expiry) are read from the database when
//! scraped, so every process reports the same, true, numbers.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use freshtoken_core::RefreshOutcome;
use freshtoken_store::{Store, StoreError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::Clock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabel {
    channel: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

/// Cheap to clone; every clone counts into the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    refreshes: Family<OutcomeLabel, Counter>,
    refresh_seconds: Histogram,
    deliveries: Family<DeliveryLabel, Counter>,
    media_syncs: Family<OutcomeLabel, Counter>,
    queue_depth: Family<QueueLabel, Gauge>,
    soonest_expiry: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("freshtoken");
        let refreshes = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "refreshes",
            "Token refresh attempts by outcome (refreshed, transient, rate_limited, revoked, rejected)",
            refreshes.clone(),
        );
        // 5 ms to about 20 s: Instagram answers in tens of milliseconds, a timeout takes 30 s.
        let refresh_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 13),
        );
        registry.register(
            "refresh_duration_seconds",
            "Time Instagram took to answer a refresh",
            refresh_seconds.clone(),
        );
        let deliveries = Family::<DeliveryLabel, Counter>::default();
        registry.register(
            "notification_deliveries",
            "Webhook and e-mail delivery attempts by channel and outcome (delivered, retry, failed)",
            deliveries.clone(),
        );
        let media_syncs = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "media_syncs",
            "Recent-media syncs by outcome (synced, failed)",
            media_syncs.clone(),
        );
        let queue_depth = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "queue_depth",
            "Work due now and not yet done: accounts to refresh, notifications to deliver",
            queue_depth.clone(),
        );
        let soonest_expiry = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "soonest_expiry_seconds",
            "Seconds until the soonest token expiry among active accounts (negative: already expired; NaN: none known)",
            soonest_expiry.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                refreshes,
                refresh_seconds,
                deliveries,
                media_syncs,
                queue_depth,
                soonest_expiry,
            }),
        }
    }

    pub(crate) fn refresh_attempt(&self, outcome: RefreshOutcome, seconds: f64) {
        self.inner
            .refreshes
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str().to_owned(),
            })
            .inc();
        self.inner.refresh_seconds.observe(seconds);
    }

    pub(crate) fn delivery(&self, channel: &str, outcome: &str) {
        self.inner
            .deliveries
            .get_or_create(&DeliveryLabel {
                channel: channel.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub(crate) fn media_sync(&self, outcome: &str) {
        self.inner
            .media_syncs
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Reads the backlog gauges from the database, then renders everything in Prometheus'
    /// text format.
    pub async fn render(&self, store: &Store, clock: &Clock) -> Result<String, StoreError> {
        let now = clock.now();
        let due = store.refresh_queue().due_count(now).await?;
        let pending = store.notifications().pending_count().await?;
        let soonest = store.refresh_queue().soonest_expiry().await?;
        let inner = &self.inner;
        let depth = |queue: &str| {
            inner.queue_depth.get_or_create(&QueueLabel {
                queue: queue.to_owned(),
            })
        };
        depth("refresh").set(i64::try_from(due).unwrap_or(i64::MAX));
        depth("notifications").set(i64::try_from(pending).unwrap_or(i64::MAX));
        // NaN when no expiry is known, so that an alert on "below N seconds" stays quiet.
        inner
            .soonest_expiry
            .set(soonest.map_or(f64::NAN, |at| (at - now).num_seconds() as f64));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &inner.registry);
        Ok(text)
    }
}
