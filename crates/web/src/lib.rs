//! The HTTP face of freshtoken: the axum router and its middleware.
//!
//! Handlers stay thin: extract, call the store (or a service), map the result. Every error a
//! client sees goes through [`ApiError`], one JSON shape for all. This crate never calls
//! Instagram's refresh itself; that is the worker's job.

pub mod accounts;
mod api_keys;
pub mod auth;
mod bearer;
pub mod client_address;
pub mod connect;
pub mod dashboard;
pub mod delivery;
mod error;
mod extract;
mod health;
mod input;
mod json;
pub mod metrics;
mod openapi;
mod operator;
mod origin;
mod pages;
mod rate_limit;
mod security_headers;
pub mod tenants;
pub mod throttle;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, header};
use freshtoken_core::SignupMode;
use freshtoken_core::api::InstanceView;
use freshtoken_instagram::{ClientConfig, InstagramClient};
use freshtoken_store::Store;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use url::Url;

use crate::auth::session_store::DbSessionStore;
use crate::throttle::{LoginThrottle, ThrottleLimits};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use error::ApiError;

/// Largest request body accepted anywhere; routes may set a smaller one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The settings the web layer needs, taken from the process configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where people reach the service; its origin is the only one allowed to change state
    /// with a cookie, and an https scheme makes cookies `Secure`.
    pub public_url: Url,
    pub signup_mode: SignupMode,
    /// A session ends after this long without a request...
    pub session_idle: Duration,
    /// ...and this long after sign-in, however active.
    pub session_max_age: Duration,
    /// How many sign-in and sign-up attempts a client and an e-mail address may make.
    pub login_throttle: ThrottleLimits,
    /// Proxies whose `X-Forwarded-For` is believed; the peer address is the client otherwise
    /// (see [`client_address`]).
    pub trusted_proxies: Vec<client_address::Network>,
    /// Demo mode: Instagram is the built-in fake, and pages say so.
    pub demo: bool,
    /// Hosts webhooks may point at even where they resolve to private addresses (an intranet);
    /// everything else must resolve to public addresses.
    pub webhook_allow_hosts: freshtoken_egress::AllowedHosts,
    /// The token URLs' rate limits.
    pub delivery_limits: delivery::DeliveryLimits,
    /// Where `/metrics` is served and to whom; closed on the public listener by default.
    pub metrics: metrics::MetricsAccess,
}

impl WebConfig {
    pub fn new(public_url: Url) -> WebConfig {
        WebConfig {
            public_url,
            signup_mode: SignupMode::Open,
            session_idle: Duration::from_secs(7 * 24 * 3600),
            session_max_age: Duration::from_secs(30 * 24 * 3600),
            login_throttle: ThrottleLimits::default(),
            trusted_proxies: Vec::new(),
            demo: false,
            webhook_allow_hosts: freshtoken_egress::AllowedHosts::none(),
            delivery_limits: delivery::DeliveryLimits {
                per_address: delivery::DEFAULT_PER_ADDRESS,
                per_account: delivery::DEFAULT_PER_ACCOUNT,
            },
            metrics: metrics::MetricsAccess::default(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub throttle: Arc<LoginThrottle>,
    /// Instagram, for connecting accounts (never for refreshing them: that is the worker's).
    pub instagram: Arc<InstagramClient>,
    /// The background worker's side, when the process wires one in.
    pub background: Option<Arc<dyn Background>>,
    /// What the token URLs serve from memory, their rate limits and request counts.
    pub delivery: Arc<delivery::Delivery>,
    /// The dashboard's files, served at `/` and `/assets/`.
    pub dashboard: Arc<dashboard::Dashboard>,
}

/// What the web side asks of the background worker. The binary wires it in, so that this
/// crate does not depend on the worker.
#[async_trait::async_trait]
pub trait Background: Send + Sync + std::fmt::Debug {
    /// The process's metrics in Prometheus' text format.
    async fn metrics(&self) -> Result<String, String>;
    /// Enqueues a refresh of the account at once, if it is due (a "refresh now").
    async fn refresh_now(&self, account_id: i64);
}

impl AppState {
    /// A state whose Instagram client has no app credentials: pasting tokens works,
    /// "Connect Instagram" says it is not set up. See [`AppState::with_instagram`].
    pub fn new(store: Store, config: WebConfig) -> AppState {
        let throttle = Arc::new(LoginThrottle::new(config.login_throttle));
        let delivery = Arc::new(delivery::Delivery::new(&config.delivery_limits));
        let redirect_uri = connect::redirect_uri(&config.public_url);
        let instagram = InstagramClient::new(ClientConfig::new("", "", &redirect_uri))
            .expect("an HTTP client with default settings can be built");
        AppState {
            store,
            config: Arc::new(config),
            throttle,
            instagram: Arc::new(instagram),
            background: None,
            delivery,
            dashboard: Arc::new(dashboard::Dashboard::missing(dashboard::DEFAULT_DIR)),
        }
    }

    pub fn with_dashboard(mut self, dashboard: dashboard::Dashboard) -> AppState {
        self.dashboard = Arc::new(dashboard);
        self
    }

    pub fn with_background(mut self, background: Arc<dyn Background>) -> AppState {
        self.background = Some(background);
        self
    }

    pub fn with_instagram(mut self, instagram: InstagramClient) -> AppState {
        self.instagram = Arc::new(instagram);
        self
    }
}

/// 24 random bytes as URL-safe base64: secrets for invitation links and API keys.
pub(crate) fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

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
        .route("/instance", axum::routing::get(instance))
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

/// What this instance offers, for the dashboard before anyone signs in.
#[utoipa::path(get, path = "/api/v1/instance", tag = "instance", responses((status = 200, description = "what this instance offers", body = InstanceView)))]
async fn instance(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<InstanceView> {
    axum::Json(InstanceView {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo: state.config.demo,
        instagram_connect: state.instagram.config().has_app_credentials(),
        signup: state.config.signup_mode,
    })
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

/// Tracing of requests without secrets: the path only, as query strings may carry OAuth codes
/// or tokens, with the request id; each response logged at `level`.
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
                        path = %request.uri().path(),
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
    let token_urls = delivery::routes().layer(traced(Level::DEBUG));
    let mut everything_else = Router::new().merge(health::routes());
    if state.config.metrics.on_public_listener() {
        everything_else = everything_else.merge(metrics::routes(&state));
    }
    let everything_else = everything_else
        .nest("/api/v1", api(&state))
        .merge(connect::routes().layer(sessions(&state)))
        .route("/assets/{name}", axum::routing::get(dashboard::asset))
        .fallback(dashboard::page)
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
    let https = security_headers::Https(state.config.public_url.scheme() == "https");
    routes
        .with_state(state)
        .layer(middleware)
        .layer(axum::middleware::map_response_with_state(
            https,
            security_headers::add,
        ))
}
