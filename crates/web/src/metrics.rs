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
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{ApiError, AppState};

/// The secret a scraper sends as `Authorization: Bearer ...`. Never printed.
#[derive(Clone)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// Shortest token accepted: long enough that guessing is hopeless.
    pub const MIN_LENGTH: usize = 32;

    /// A token of at least [`Self::MIN_LENGTH`] visible ASCII characters (it travels in a
    /// header); the error says what is wrong without repeating it.
    pub fn new(secret: &str) -> Result<MetricsToken, String> {
        if secret.len() < Self::MIN_LENGTH {
            return Err(format!(
                "expected at least {} characters (`freshtoken admin generate-key` prints one), got {}",
                Self::MIN_LENGTH,
                secret.len()
            ));
        }
        if !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("expected visible ASCII characters only, without spaces".to_owned());
        }
        Ok(MetricsToken(secret.to_owned()))
    }

    /// Compares digests in constant time, so neither the content nor the length of the token
    /// shows in how long a refusal takes.
    fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let presented = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&presented).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

/// Where `/metrics` is served, and to whom. The default is closed: nowhere on the public
/// listener.
#[derive(Clone, Debug, Default)]
pub struct MetricsAccess {
    /// `/metrics` has a listener of its own: the public one never serves it.
    pub own_listener: bool,
    /// Required wherever `/metrics` answers; with no listener of its own, it opens `/metrics`
    /// on the public listener to requests that bear it.
    pub token: Option<MetricsToken>,
}

impl MetricsAccess {
    /// Whether the public listener serves `/metrics` (to bearers of the token only).
    pub fn on_public_listener(&self) -> bool {
        !self.own_listener && self.token.is_some()
    }
}

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
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_long_visible_ascii_and_never_printed() {
        let secret = "k".repeat(MetricsToken::MIN_LENGTH);
        let token = MetricsToken::new(&secret).unwrap();
        assert!(token.matches(&secret));
        assert!(!token.matches(&secret[1..]));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains(&secret));
        let short = MetricsToken::new("too-short-to-be-safe").unwrap_err();
        assert!(!short.contains("too-short"), "{short}");
        assert!(MetricsToken::new(&format!("{secret} x")).is_err());
    }

    #[test]
    fn closed_by_default_and_on_the_public_listener_only_with_a_token_and_no_listener() {
        let token = MetricsToken::new(&"k".repeat(40)).unwrap();
        assert!(!MetricsAccess::default().on_public_listener());
        let with_token = MetricsAccess {
            own_listener: false,
            token: Some(token.clone()),
        };
        assert!(with_token.on_public_listener());
        let both = MetricsAccess {
            own_listener: true,
            token: Some(token),
        };
        assert!(!both.on_public_listener());
    }
}
