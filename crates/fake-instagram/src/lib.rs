//! A faithful fake of Meta's platforms, for tests, benchmarks and demo mode.
//!
//! It serves, from one address, what our clients call on www.instagram.com (authorize and
//! consent), api.instagram.com (code exchange), graph.instagram.com (long-lived exchange,
//! refresh, profile, media), threads.net and graph.threads.net (the same for Threads, with
//! `th_` grant types and `/me/threads`), and www.facebook.com and graph.facebook.com (Facebook
//! Login, long-lived user tokens, Pages and their tokens, the linked Instagram account's media,
//! `debug_token`), with the methods, parameters, content types, JSON shapes and error payloads
//! of `docs/instagram.md`, `docs/threads.md` and `docs/facebook-pages.md`. The paths overlap,
//! so it tells the platforms apart by token prefix, grant type and scope. Token lifetimes run on a clock tests can move; faults, rate limits
//! and a call log are driven through the `/__fake/*` control plane or [`FakeInstagram`].
//!
//! It must not depend on any other crate of ours: it is the independent party our client is
//! held to. It keeps everything in memory and never logs a token.

mod control;
mod graph;
mod oauth;
mod pictures;
mod signed_request;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use control::MintKind;
pub use signed_request::sign_request;
pub use state::{Call, FaultKind, FaultMatch, RateLimits, TokenKind};

/// The app credentials of the fake's one registered app, unless configured otherwise.
pub const DEMO_APP_ID: &str = "990000000000001";
pub const DEMO_APP_SECRET: &str = "fake-instagram-demo-app-secret";
/// Users created at start with `seed_demo_users`; the first one's Facebook user manages a
/// second Page, "Demo Bakery Café".
pub const DEMO_USERS: [&str; 3] = ["demo_bakery", "demo_studio", "demo_travels"];

#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub app_id: String,
    pub app_secret: String,
    /// Added to every request before it is answered, to model a distant server.
    pub latency: Duration,
    pub seed_demo_users: bool,
    /// Where browsers reach the fake's pictures (`/cdn/...`): the base of every
    /// `media_url`, `thumbnail_url` and profile picture it answers. Unset: the address it
    /// is bound to.
    pub pictures_url: Option<String>,
    /// How old a long-lived Instagram or Threads token is when a login hands it out (the
    /// short-lived token's exchange): zero, as on Instagram, unless a demo wants tokens that
    /// can be refreshed at once (a token must be a day old).
    pub issued_token_age: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            app_id: DEMO_APP_ID.to_owned(),
            app_secret: DEMO_APP_SECRET.to_owned(),
            latency: Duration::ZERO,
            seed_demo_users: false,
            pictures_url: None,
            issued_token_age: Duration::ZERO,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Shared {
    pub config: Arc<FakeConfig>,
    pub state: Arc<Mutex<state::State>>,
    /// The base of picture URLs: `config.pictures_url`, or the address bound.
    pub pictures: Arc<str>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, state::State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn new_shared(config: FakeConfig, bound: SocketAddr) -> Shared {
    let mut state = state::State {
        refresh_rotates_token: true,
        ..Default::default()
    };
    if config.seed_demo_users {
        for username in DEMO_USERS {
            state.user(username);
        }
        // So that a demo of "Connect Facebook Page" shows the choice of Pages.
        state.add_page(DEMO_USERS[0], "Demo Bakery Café");
    }
    let pictures = config
        .pictures_url
        .as_deref()
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", reachable(bound)));
    Shared {
        config: Arc::new(config),
        state: Arc::new(Mutex::new(state)),
        pictures: pictures.into(),
    }
}

/// The address a client on this machine uses for `bound`: 127.0.0.1 for every interface.
fn reachable(mut bound: SocketAddr) -> SocketAddr {
    if bound.ip().is_unspecified() {
        bound.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    bound
}

async fn latency(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    if !shared.config.latency.is_zero() && !request.uri().path().starts_with("/__fake/") {
        tokio::time::sleep(shared.config.latency).await;
    }
    next.run(request).await
}

fn router(shared: Shared) -> Router {
    Router::new()
        .merge(oauth::routes())
        .merge(control::routes())
        .merge(pictures::routes())
        .merge(graph::routes())
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            latency,
        ))
        .with_state(shared)
}

/// Serves the fake on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: FakeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(new_shared(config, listener.local_addr()?));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A token minted through the control plane.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MintedToken {
    pub access_token: String,
    /// The Instagram-scoped, Threads or Facebook user id, by the kind minted.
    pub user_id: u64,
    pub expires_in: i64,
    /// A Facebook user token's Pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<Vec<MintedPage>>,
}

/// A Page a minted Facebook user token's user manages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MintedPage {
    pub id: String,
    pub name: String,
}

/// A fake running in this process on a port of its own, with direct control for tests.
pub struct FakeInstagram {
    base_url: String,
    shared: Shared,
    _shutdown: oneshot::Sender<()>,
}

impl FakeInstagram {
    /// Starts the fake on 127.0.0.1 and a free port.
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeInstagram> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts the fake on `address` (port 0 for a free one). Its base URL names the address
    /// bound, or 127.0.0.1 when bound to every interface.
    pub async fn start_on(
        address: SocketAddr,
        config: FakeConfig,
    ) -> std::io::Result<FakeInstagram> {
        Self::start_with(TcpListener::bind(address).await?, config)
    }

    /// Starts the fake on a listener already bound (whose port its configuration may name).
    pub fn start_with(listener: TcpListener, config: FakeConfig) -> std::io::Result<FakeInstagram> {
        let address = reachable(listener.local_addr()?);
        let shared = new_shared(config, address);
        let app = router(shared.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeInstagram {
            base_url: format!("http://{address}"),
            shared,
            _shutdown: shutdown,
        })
    }

    /// `http://127.0.0.1:PORT`, for every one of the four Instagram and Facebook hosts.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn app_id(&self) -> &str {
        &self.shared.config.app_id
    }

    pub fn app_secret(&self) -> &str {
        &self.shared.config.app_secret
    }

    /// A long-lived Instagram token for `username` (created if new), issued `age` ago on the
    /// fake clock.
    pub fn mint_token(&self, username: &str, age: Duration) -> MintedToken {
        self.mint(MintKind::Instagram, username, age)
    }

    /// A long-lived token of this kind for `username`, issued `age` ago on the fake clock.
    pub fn mint(&self, kind: MintKind, username: &str, age: Duration) -> MintedToken {
        control::mint(&mut self.shared.lock(), kind, username, age)
    }

    /// The id of the user's Facebook Page (created if new).
    pub fn page_id(&self, username: &str) -> String {
        self.shared.lock().user(username).page_id.clone()
    }

    /// Gives the user's Facebook account one more Page (with no Instagram account linked);
    /// returns its id.
    pub fn add_page(&self, username: &str, name: &str) -> String {
        let mut world = self.shared.lock();
        let user = world.user(username).clone();
        let id = format!(
            "12{:013}",
            user.extra_pages.len() as u64 * 1_000_000 + user.id % 1_000_000
        );
        if let Some(user) = world.users.get_mut(username) {
            user.extra_pages.push((id.clone(), name.to_owned()));
        }
        id
    }

    /// The user's Threads profile id (created if new).
    pub fn threads_id(&self, username: &str) -> u64 {
        self.shared.lock().user(username).threads_id
    }

    /// A short-lived Facebook user token (as Facebook Login hands out) for the user.
    pub fn mint_facebook_token(&self, username: &str) -> String {
        let mut state = self.shared.lock();
        let now = state.now();
        state.issue_token(username, TokenKind::FacebookShort, now).0
    }

    /// The professional-account id (`1784...`) of the user, created if new.
    pub fn professional_id(&self, username: &str) -> String {
        self.shared.lock().user(username).professional_id.clone()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    pub fn advance_clock(&self, by: Duration) {
        let mut state = self.shared.lock();
        state.clock_offset += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }

    /// Drops every fault that matches calls with this exact token.
    pub fn clear_faults_of(&self, access_token: &str) {
        self.shared
            .lock()
            .faults
            .retain(|fault| fault.matching.access_token.as_deref() != Some(access_token));
    }

    /// Makes the next `count` calls that match answer with `kind`.
    pub fn inject_fault(&self, matching: FaultMatch, count: u32, kind: FaultKind) {
        control::add_fault(&mut self.shared.lock(), matching, count, kind);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.shared.lock().rate_limits = limits;
    }

    /// Approves the consent page at once as this user (or shows it again, with `None`).
    pub fn set_auto_approve(&self, username: Option<&str>) {
        self.shared.lock().auto_approve = username.map(str::to_owned);
    }

    /// Invalidates every token of the user with a 190 of this subcode.
    pub fn revoke_user(&self, username: &str, subcode: u32) {
        control::revoke(&mut self.shared.lock(), Some(username), None, subcode);
    }

    /// Invalidates this one token with a 190 of this subcode (460: the password changed);
    /// whether the fake knew it.
    pub fn revoke_token(&self, access_token: &str, subcode: u32) -> bool {
        control::revoke(&mut self.shared.lock(), None, Some(access_token), subcode) > 0
    }

    /// Makes this one token `by` older: issued and expiring that much earlier, as if time had
    /// passed for it alone (the demo's "a week later"); whether the fake knew it.
    pub fn age_token(&self, access_token: &str, by: Duration) -> bool {
        control::age(&mut self.shared.lock(), access_token, by)
    }

    /// Code exchange answers `{"data": [...]}` as Meta's docs print it, instead of flat.
    pub fn set_documented_code_shape(&self, documented: bool) {
        self.shared.lock().documented_code_shape = documented;
    }

    /// Whether refresh returns a new token string (the default) or the same one.
    pub fn set_refresh_rotates_token(&self, rotates: bool) {
        self.shared.lock().refresh_rotates_token = rotates;
    }

    /// The Instagram-scoped id of the user (created if new).
    pub fn user_id(&self, username: &str) -> u64 {
        self.shared.lock().user(username).id
    }

    /// A valid authorization code for the user, as the consent page would hand out.
    pub fn issue_code(&self, username: &str, redirect_uri: &str) -> String {
        oauth::issue_code(
            &mut self.shared.lock(),
            state::Platform::Instagram,
            username,
            redirect_uri,
        )
    }
}
