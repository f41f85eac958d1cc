//! The token URLs' engine, one per process ([`Delivery`]): the answers ready in memory and
//! kept true by the store's change feed ([`DeliveryCache`], [`follow_changes`]), the rate limits
//! by client and by account ([`DeliveryLimits`]), and the request counts written now and then
//! ([`RequestCounter`], [`flush_counts`]). The routes that serve from it are in the
//! `token_urls` module; the dashboard's preview of an account's media answers the same body as
//! `media.json` (`media_body`).

mod cache;
mod counts;
mod limits;
#[cfg(test)]
pub(crate) use cache::tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;

use crate::client_address::AddressKey;
use crate::rate_limit::Limiter;
use crate::secrets::sha256_hex;
use crate::timestamps::rfc3339;
pub use cache::{DEFAULT_CACHE_ENTRIES, DeliveryCache, follow_changes};
pub(crate) use cache::{Ready, ReadyMedia, Refusal};
pub use counts::{RequestCounter, flush_counts};
pub use limits::{DEFAULT_PER_ACCOUNT, DEFAULT_PER_ADDRESS, DeliveryLimits};

/// The token URLs' state in one process: the ready answers, the rate limits, the counts.
#[derive(Debug)]
pub struct Delivery {
    pub cache: Arc<DeliveryCache>,
    pub counts: Arc<RequestCounter>,
    pub(crate) per_address: Limiter<AddressKey>,
    pub(crate) per_account: Limiter<i64>,
    /// When this process last told the worker that an account's media are wanted.
    media_wanted: Mutex<HashMap<i64, Instant>>,
}

/// How often one process records that an account's media are still wanted.
const MEDIA_WANTED_EVERY: Duration = Duration::from_secs(3600);

impl Delivery {
    pub fn new(limits: &DeliveryLimits) -> Delivery {
        Delivery {
            // Sized when built: quick_cache spreads a small capacity over fewer shards then,
            // where resizing later would round it up to a multiple of many.
            cache: Arc::new(DeliveryCache::with_capacity(limits.cache_entries)),
            counts: Arc::default(),
            per_address: Limiter::per_minute(limits.per_address),
            per_account: Limiter::per_minute(limits.per_account),
            media_wanted: Mutex::default(),
        }
    }

    /// Forgets the account's ready answers, so that this process reads it afresh: after an
    /// edit, a pause, a rotation, a reconnect, a refresh or a delete.
    pub fn forget_account(&self, account_id: i64) {
        self.cache.forget_account(account_id);
    }

    /// Forgets every account's (after a change that may touch many workspaces).
    pub fn forget_all(&self) {
        self.cache.forget_all();
    }

    /// Whether to record (again) that the account's media are wanted: once an hour at most,
    /// so that serving media.json (or the dashboard's preview) does not write to the database on
    /// every request.
    pub(crate) fn media_wanted_now(&self, account_id: i64) -> bool {
        let mut wanted = self.media_wanted.lock().unwrap_or_else(|e| e.into_inner());
        if wanted
            .get(&account_id)
            .is_some_and(|at| at.elapsed() < MEDIA_WANTED_EVERY)
        {
            return false;
        }
        if wanted.len() >= 10_000 {
            wanted.retain(|_, at| at.elapsed() < MEDIA_WANTED_EVERY);
        }
        wanted.insert(account_id, Instant::now());
        true
    }
}

/// Waits until `shutdown` says stop (or its sender is gone).
async fn stop_requested(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// `media.json`'s body: `{"data": [...], "synced_at": ...}`, empty until the first sync. The
/// dashboard's preview (`GET /api/v1/.../media`) answers the same.
pub(crate) fn media_body(snapshot: Option<&freshtoken_store::MediaSnapshot>) -> String {
    match snapshot {
        Some(media) => format!(
            "{{\"data\":{},\"synced_at\":\"{}\"}}",
            media.items,
            rfc3339(media.synced_at)
        ),
        None => r#"{"data":[],"synced_at":null}"#.to_owned(),
    }
}

pub(crate) fn ready_media(snapshot: Option<freshtoken_store::MediaSnapshot>) -> ReadyMedia {
    let body = media_body(snapshot.as_ref());
    let synced = snapshot.is_some();
    let etag = format!("\"{}\"", &sha256_hex(&body)[..24]);
    ReadyMedia {
        etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        body: body.into(),
        synced,
    }
}
