//! `GET /metrics`: Prometheus metrics (refresh outcomes, queue depth, soonest expiry,
//! deliveries), and who may read them.
//!
//! Closed by default: the public listener does not serve them. They are served on a listener
//! of their own (`FRESHTOKEN_METRICS_BIND`, [`crate::metrics_router`]), or on the public one to
//! requests bearing the metrics token (`FRESHTOKEN_METRICS_TOKEN`), which is then also required
//! on the metrics listener. Each scrape queries the database, so an open `/metrics` would let
//! anyone make the instance work.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};

use crate::delivery::DeliveryCache;
use crate::error::ApiError;
pub use crate::metrics_access::{MetricsAccess, MetricsToken};
use crate::state::AppState;

/// `/metrics`, behind the token when one is configured.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
}

async fn require_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    if let Some(token) = &state.config.metrics.token {
        let presented = crate::bearer::bearer_secret(&headers).unwrap_or_default();
        if !token.matches(presented) {
            let mut refusal =
                ApiError::Unauthorized("send the metrics token as Authorization: Bearer")
                    .into_response();
            refusal.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"metrics\""),
            );
            return refusal;
        }
    }
    next.run(request).await
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(background) = &state.background else {
        return Err(ApiError::NotFound);
    };
    let text = background.metrics().await.map_err(|err| {
        tracing::warn!(error = %err, "metrics unavailable");
        ApiError::NotReady("metrics are unavailable: the database does not answer".to_owned())
    })?;
    let text = with_delivery_metrics(text, &state.delivery.cache);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// The token URLs' cache, this process's own (the worker's metrics are the rest): answers
/// from memory and reads of the database since start (their ratio is the hit ratio), and
/// the accounts held. Written before the worker's text's closing `# EOF`.
fn with_delivery_metrics(worker: String, cache: &DeliveryCache) -> String {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    use prometheus_client::registry::Registry;

    let (hits, misses) = cache.hits_and_misses();
    let (entries, capacity) = cache.entries_and_capacity();
    let mut registry = Registry::with_prefix("freshtoken");
    registry.register(
        "delivery_cache_hits",
        "Token URL requests answered from this process's memory",
        ConstCounter::new(hits),
    );
    registry.register(
        "delivery_cache_misses",
        "Token URL requests that read the account from the database",
        ConstCounter::new(misses),
    );
    registry.register(
        "delivery_cache_entries",
        "Accounts whose answers this process holds in memory",
        ConstGauge::new(i64::try_from(entries).unwrap_or(i64::MAX)),
    );
    registry.register(
        "delivery_cache_capacity",
        "Accounts whose answers this process may hold in memory",
        ConstGauge::new(i64::try_from(capacity).unwrap_or(i64::MAX)),
    );
    let mut ours = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode_registry(&mut ours, &registry);
    let body = worker.strip_suffix("# EOF\n").unwrap_or(&worker);
    format!("{body}{ours}# EOF\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_cache_counters_come_before_the_end_of_the_text() {
        let cache = DeliveryCache::with_capacity(10);
        assert!(cache.get("nobody").is_none());
        let text = with_delivery_metrics("# TYPE freshtoken_x counter\n# EOF\n".to_owned(), &cache);
        assert!(text.starts_with("# TYPE freshtoken_x counter\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(
            text.contains("freshtoken_delivery_cache_hits_total 0\n"),
            "{text}"
        );
        assert!(
            text.contains("freshtoken_delivery_cache_misses_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("freshtoken_delivery_cache_capacity 10\n"),
            "{text}"
        );
    }
}
