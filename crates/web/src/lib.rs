//! The HTTP face of freshtoken: the axum router and its middleware.
//!
//! Handlers stay thin: extract, call the store (or a service), map the result. Every error a
//! client sees goes through [`ApiError`], one JSON shape for all. Connecting accounts is
//! `freshtoken_accounts`'; this crate never refreshes a token itself: that is the worker's job.

mod account_views;
pub mod accounts;
mod api_keys;
pub mod auth;
mod bearer;
mod caller;
pub mod client_address;
pub mod connect;
mod connect_links;
pub mod dashboard;
pub mod delivery;
mod error;
mod extract;
mod health;
mod input;
mod instance;
mod json;
mod link_flow;
pub mod metrics;
mod metrics_access;
mod openapi;
mod operator;
mod origin;
mod pages;
mod rate_limit;
pub mod round_trip;
mod secrets;
mod security_headers;
mod settings_input;
mod state;
pub mod tenants;
pub mod throttle;
mod timestamps;
mod token_urls;
pub mod webhooks;
mod workspaces;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, header};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

use auth::session_store::DbSessionStore;
pub use connect_links::link_url;
pub use error::ApiError;
pub use input::MAX_BODY_BYTES;
use input::REQUEST_ID;
pub use state::{AppState, Background, WebConfig};

/// Sessions in our database, behind the `freshtoken_session` cookie.
fn sessions(state: &AppState) -> SessionManagerLayer<DbSessionStore> {
    SessionManagerLayer::new(DbSessionStore::new(state.store.clone()))
        .with_name("freshtoken_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.public_url.scheme() == "https")
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(
                i64::try_from(state.config.session_idle.as_secs()).unwrap_or(i64::MAX),
            ),
        ))
}

/// The JSON API under `/api/v1`: sessions, the same-origin rule, and every area's routes.
fn api(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(auth::routes())
        .merge(accounts::routes())
        .merge(connect::api_routes())
        .merge(connect_links::api_routes())
        .merge(instance::routes())
        .merge(tenants::routes())
        .merge(api_keys::routes())
        .merge(webhooks::routes())
        .merge(operator::routes())
        .route("/openapi.json", axum::routing::get(openapi::document))
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::require_same_origin,
        ))
        .layer(sessions(state))
}

/// What a worker-only process serves on its public listener: health checks (and `/metrics`
/// to bearers of the metrics token, when it has no listener of its own).
pub fn ops_router(state: AppState) -> Router {
    let mut routes = Router::new().merge(health::routes());
    if state.config.metrics.on_public_listener() {
        routes = routes.merge(metrics::routes(&state));
    }
    with_middleware(
        routes
            .fallback(|| async { ApiError::NotFound })
            .layer(traced(Level::INFO)),
        state,
    )
}

/// What the metrics listener (`FRESHTOKEN_METRICS_BIND`) serves: `/metrics` and nothing else,
/// whatever the process's mode. Scrapes are traced at debug level: one every few seconds
/// would drown the log.
pub fn metrics_router(state: AppState) -> Router {
    let routes = metrics::routes(&state)
        .fallback(|| async { ApiError::NotFound })
        .layer(traced(Level::DEBUG));
    with_middleware(routes, state)
}

/// The path as logged: a connect link's secret and an unsubscribe token are left out.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in ["/c/", "/unsubscribe/"] {
        if let Some(rest) = path.strip_prefix(prefix)
            && rest != "pages"
        {
            let tail = rest.split_once('/').map_or("", |(_, tail)| tail);
            let shown = if tail.is_empty() {
                format!("{prefix}…")
            } else {
                format!("{prefix}…/{tail}")
            };
            return std::borrow::Cow::Owned(shown);
        }
    }
    std::borrow::Cow::Borrowed(path)
}

/// Tracing of requests without secrets: the path only (without the secrets of connect links,
/// see [`loggable_path`]), as query strings may carry OAuth codes or tokens, with the request
/// id; each response logged at `level`.
fn traced(
    level: Level,
) -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(move |request: &Request<Body>| {
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-");
            macro_rules! span {
                ($level:expr) => {
                    tracing::span!(
                        $level,
                        "request",
                        method = %request.method(),
                        path = %loggable_path(request.uri().path()),
                        request_id = %request_id,
                    )
                };
            }
            // `span!` needs its level as a constant.
            if level == Level::DEBUG {
                span!(Level::DEBUG)
            } else {
                span!(Level::INFO)
            }
        })
        .on_response(DefaultOnResponse::new().level(level))
}

/// The whole application: routes, then the middleware every request passes through: request
/// ids, tracing without secrets, a body limit, a timeout, panics as JSON 500s, and security
/// headers on every answer.
///
/// The token URLs are traced at debug level: they are hit on every page view of every
/// tenant's site, and a log line each would cost more than answering. `/metrics` is here only
/// for bearers of the metrics token with no metrics listener (see [`metrics`]); otherwise it
/// gets the JSON 404 of any unknown path.
pub fn router(state: AppState) -> Router {
    let token_urls = token_urls::routes().layer(traced(Level::DEBUG));
    let mut everything_else = Router::new().merge(health::routes());
    if state.config.metrics.on_public_listener() {
        everything_else = everything_else.merge(metrics::routes(&state));
    }
    let everything_else = everything_else
        .nest("/api/v1", api(&state))
        .merge(connect::routes().layer(sessions(&state)))
        .merge(connect_links::routes())
        .merge(dashboard::routes())
        .layer(traced(Level::INFO));
    with_middleware(
        Router::new().merge(token_urls).merge(everything_else),
        state,
    )
}

/// The middleware every listener's requests pass through: request ids, a body limit, a
/// timeout, panics as JSON 500s, and security headers on every answer.
fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let middleware = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(axum::middleware::map_request(
            input::keep_request_id_if_sane,
        ))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(input::refuse_control_characters));
    let headers = security_headers::SecurityHeaders::new(
        state.config.public_url.scheme() == "https",
        state.config.demo_pictures.as_deref(),
    );
    routes
        .with_state(state)
        .layer(middleware)
        .layer(axum::middleware::map_response_with_state(
            headers,
            security_headers::add,
        ))
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn link_secrets_stay_out_of_the_request_log() {
        assert_eq!(loggable_path("/c/SECRETSECRET"), "/c/…");
        assert_eq!(loggable_path("/c/SECRETSECRET/connect"), "/c/…/connect");
        assert_eq!(loggable_path("/unsubscribe/TOKEN"), "/unsubscribe/…");
        assert_eq!(loggable_path("/c/pages"), "/c/pages");
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
    }
}
