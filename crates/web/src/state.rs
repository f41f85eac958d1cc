//! What every handler can reach: the process's settings ([`WebConfig`]) and the
//! [`AppState`] built from them (the store, the sign-in throttle, the connector, the token
//! URLs' engine, the dashboard's files), with the worker's side ([`Background`]) when the
//! binary wires one in. It sits below every route and helper that takes the state, and holds
//! only types from modules that do not take it, so the crate's imports form no circle; the
//! extractors that need a piece of it get that piece through [`FromRef`] or a small trait
//! implemented here.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use freshtoken_accounts::Connector;
use freshtoken_accounts::demo::DemoPlatform;
use freshtoken_core::SignupMode;
use freshtoken_meta::MetaClients;
use freshtoken_store::Store;
use url::Url;

use crate::client_address::{AddressKey, Network, TrustedProxies};
use crate::dashboard::{self, Dashboard};
use crate::delivery::{self, Delivery};
use crate::metrics_access::MetricsAccess;
use crate::rate_limit::Limiter;
use crate::throttle::{LoginThrottle, ThrottleLimits};

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
    /// (see [`crate::client_address`]).
    pub trusted_proxies: Vec<Network>,
    /// Demo mode: Instagram is the built-in fake, and pages say so.
    pub demo: bool,
    /// Demo mode: the origin of the fake's pictures, which the dashboard may show (its
    /// content security policy allows pictures from https sites otherwise).
    pub demo_pictures: Option<String>,
    /// Hosts webhooks may point at even where they resolve to private addresses (an intranet);
    /// everything else must resolve to public addresses.
    pub webhook_allow_hosts: freshtoken_egress::AllowedHosts,
    /// The token URLs' rate limits.
    pub delivery_limits: delivery::DeliveryLimits,
    /// Where `/metrics` is served and to whom; closed on the public listener by default.
    pub metrics: MetricsAccess,
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
            demo_pictures: None,
            webhook_allow_hosts: freshtoken_egress::AllowedHosts::none(),
            delivery_limits: delivery::DeliveryLimits {
                per_address: delivery::DEFAULT_PER_ADDRESS,
                per_account: delivery::DEFAULT_PER_ACCOUNT,
                cache_entries: delivery::DEFAULT_CACHE_ENTRIES,
            },
            metrics: MetricsAccess::default(),
        }
    }
}

/// What every handler can reach, behind one `Arc`: axum hands a copy to every handler and
/// middleware that asks, on every request, and a copy of each part was one atomic count per
/// part, contended between cores (5 % of the token URLs' time, bench/README.md).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Parts>);

/// The parts of [`AppState`], reached through it (`state.store`, `state.config`, ...).
#[derive(Clone, Debug)]
pub struct Parts {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub throttle: Arc<LoginThrottle>,
    /// Where accounts are connected, through Meta's platforms (never refreshed: that is the
    /// worker's).
    pub connector: Connector,
    /// The background worker's side, when the process wires one in.
    pub background: Option<Arc<dyn Background>>,
    /// What the token URLs serve from memory, their rate limits and request counts.
    pub delivery: Arc<Delivery>,
    /// The dashboard's files, served at `/` and `/assets/`.
    pub dashboard: Arc<Dashboard>,
    /// How often connect links may be opened and made.
    pub link_limits: Arc<LinkLimits>,
    /// Demo mode's fake platform, where the demo's scenes move time for one account.
    pub demo_platform: Option<Arc<dyn DemoPlatform>>,
}

impl std::ops::Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// Connect links are public and their pages cost database reads: opening them is limited per
/// client address (guessing a secret is hopeless anyway, at 192 bits), making them per
/// workspace.
#[derive(Debug)]
pub struct LinkLimits {
    pub opening: Limiter<AddressKey>,
    pub making: Limiter<i64>,
}

impl Default for LinkLimits {
    fn default() -> Self {
        LinkLimits {
            // A person opens a link, presses Connect, perhaps again: a few a minute.
            opening: Limiter::per_minute(30),
            // An agency sending links to a batch of clients, not a script minting thousands.
            making: Limiter::per(60, Duration::from_secs(3600)),
        }
    }
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
    /// A state whose Meta clients have no app credentials: pasting Instagram tokens works,
    /// "Connect" says it is not set up. See [`AppState::with_meta`].
    pub fn new(store: Store, config: WebConfig) -> AppState {
        let throttle = Arc::new(LoginThrottle::new(config.login_throttle));
        let delivery = Arc::new(Delivery::new(&config.delivery_limits));
        AppState(Arc::new(Parts {
            connector: Connector::new(store.clone(), Arc::new(MetaClients::unconfigured())),
            store,
            config: Arc::new(config),
            throttle,
            background: None,
            delivery,
            dashboard: Arc::new(Dashboard::missing(dashboard::DEFAULT_DIR)),
            link_limits: Arc::new(LinkLimits::default()),
            demo_platform: None,
        }))
    }

    /// The parts, to change while the state is being built (before it is shared).
    fn parts_mut(&mut self) -> &mut Parts {
        Arc::make_mut(&mut self.0)
    }

    pub fn with_dashboard(mut self, dashboard: Dashboard) -> AppState {
        self.parts_mut().dashboard = Arc::new(dashboard);
        self
    }

    pub fn with_background(mut self, background: Arc<dyn Background>) -> AppState {
        self.parts_mut().background = Some(background);
        self
    }

    pub fn with_demo_platform(mut self, platform: Arc<dyn DemoPlatform>) -> AppState {
        self.parts_mut().demo_platform = Some(platform);
        self
    }

    pub fn with_meta(mut self, meta: MetaClients) -> AppState {
        let connector = Connector::new(self.store.clone(), Arc::new(meta));
        self.parts_mut().connector = connector;
        self
    }

    /// Whether the instance sends e-mail, for what connecting and disconnecting announce
    /// (after `with_meta`).
    pub fn with_emails(mut self, emails: bool) -> AppState {
        let connector = self
            .connector
            .clone()
            .with_notices(self.config.public_url.as_str(), emails);
        self.parts_mut().connector = connector;
        self
    }
}

/// The client's address is read behind the proxies the settings trust.
impl TrustedProxies for AppState {
    fn trusted_proxies(&self) -> &[Network] {
        &self.config.trusted_proxies
    }
}

/// The dashboard's handlers take its files only.
impl FromRef<AppState> for Arc<Dashboard> {
    fn from_ref(state: &AppState) -> Arc<Dashboard> {
        state.dashboard.clone()
    }
}
