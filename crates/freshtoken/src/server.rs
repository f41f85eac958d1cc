//! `freshtoken serve`: open the store, apply migrations, listen, and stop cleanly on SIGTERM or
//! Ctrl-C (in-flight requests finish; new connections are refused).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fake_instagram::{
    DEMO_APP_ID, DEMO_APP_SECRET, FakeConfig, FakeInstagram, FaultKind, FaultMatch,
};
use freshtoken_accounts::demo::DemoPlatform;
use freshtoken_core::AccountKind;
use freshtoken_meta::{AppConfig, MetaClients};
use freshtoken_store::{ConnectSettings, KeyStore, Store, StoreError};
use freshtoken_web::dashboard::Dashboard;
use freshtoken_web::metrics::MetricsAccess;
use freshtoken_web::throttle::ThrottleLimits;
use freshtoken_web::{AppState, WebConfig, delivery, round_trip};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::background;
use crate::config::{AppSettings, Config, KeySource};

/// Opens the store the configuration names, creating the data directory and key file when the
/// default SQLite setup needs them.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.is_sqlite() || matches!(config.keys, KeySource::File(_)) {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {} (FRESHTOKEN_DATA_DIR)",
                config.data_dir.display()
            )
        })?;
    }
    let keys = match &config.keys {
        KeySource::Given(keyring) => KeyStore::fixed(keyring.clone()),
        KeySource::File(file) => KeyStore::from_file(file.clone())?,
    };
    let keys = Arc::new(keys);
    // A process started beside its database (compose, a reboot) waits for it a while rather
    // than exiting and leaning on a restart policy; a refused password fails at once.
    let deadline = std::time::Instant::now() + DATABASE_WAIT;
    loop {
        match Store::connect(
            config.database_url.as_str(),
            keys.clone(),
            &ConnectSettings::default(),
        )
        .await
        {
            Err(StoreError::Unreachable(reason))
                if !config.is_sqlite() && std::time::Instant::now() < deadline =>
            {
                tracing::warn!(%reason, "waiting for the database");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            result => return Ok(result?),
        }
    }
}

/// How long a starting process waits for an unreachable database. Two minutes: under podman
/// (4.3, netavark and aardvark-dns) a stack started right after another was taken down has been
/// seen to reach its new database only after 40 to 55 seconds, every other time.
const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The clients for Meta's platforms the configuration asks for, each with its redirect URI
/// under `public_url`.
pub fn meta_clients(config: &Config, public_url: &Url) -> anyhow::Result<MetaClients> {
    let app = |defaults: AppConfig, settings: &AppSettings, kind: AccountKind| AppConfig {
        oauth_url: settings.oauth_url.clone(),
        api_url: settings.api_url.clone(),
        graph_url: settings.graph_url.clone(),
        ..defaults.app(
            &settings.client_id,
            &settings.client_secret,
            &round_trip::redirect_uri(public_url, kind),
        )
    };
    let meta = &config.meta;
    Ok(MetaClients::new(
        app(
            AppConfig::instagram(),
            &meta.instagram,
            AccountKind::Instagram,
        ),
        app(AppConfig::threads(), &meta.threads, AccountKind::Threads),
        app(
            AppConfig::facebook(),
            &meta.facebook,
            AccountKind::FacebookPage,
        ),
    )?)
}

/// Demo mode: a fake Meta with demo users, on a port of its own beside ours, and clients
/// pointed at it. Browsers reach its consent pages and pictures at our public host and its
/// port. Its logins hand out tokens two days old, so that a visitor can refresh one at once.
async fn demo_meta(
    config: &Config,
    public_url: &Url,
) -> anyhow::Result<(MetaClients, Arc<FakeInstagram>, Url)> {
    // Bound first, configured after: the picture address names the port it got.
    let listener = TcpListener::bind(SocketAddr::new(config.bind.ip(), 0))
        .await
        .context("cannot start the demo's fake Instagram")?;
    let mut browser_base = public_url.clone();
    let _ = browser_base.set_scheme("http");
    let _ = browser_base.set_port(Some(listener.local_addr()?.port()));
    browser_base.set_path("/");
    let fake = FakeInstagram::start_with(
        listener,
        FakeConfig {
            seed_demo_users: true,
            pictures_url: Some(browser_base.as_str().trim_end_matches('/').to_owned()),
            issued_token_age: DEMO_TOKEN_AGE,
            ..FakeConfig::default()
        },
    )
    .context("cannot start the demo's fake Instagram")?;
    let base = Url::parse(fake.base_url())?;
    let app = |defaults: AppConfig, kind: AccountKind| AppConfig {
        oauth_url: browser_base.clone(),
        ..defaults
            .app(
                DEMO_APP_ID,
                DEMO_APP_SECRET,
                &round_trip::redirect_uri(public_url, kind),
            )
            .at(&base)
    };
    let clients = MetaClients::new(
        app(AppConfig::instagram(), AccountKind::Instagram),
        app(AppConfig::threads(), AccountKind::Threads),
        app(AppConfig::facebook(), AccountKind::FacebookPage),
    )?;
    Ok((clients, Arc::new(fake), browser_base))
}

/// How old the demo's logins' tokens are: old enough (a day) to refresh at once.
const DEMO_TOKEN_AGE: Duration = Duration::from_secs(2 * 24 * 3600);

/// The demo's scenes act on the fake inside this process.
struct DemoFake(Arc<FakeInstagram>);

impl std::fmt::Debug for DemoFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DemoFake").field(&self.0.base_url()).finish()
    }
}

impl DemoPlatform for DemoFake {
    fn age_token(&self, token: &str, by: Duration) -> bool {
        self.0.age_token(token, by)
    }

    fn fail_refreshes(&self, token: &str, times: u32) {
        self.0.inject_fault(
            FaultMatch {
                access_token: Some(token.to_owned()),
                path: Some("refresh_access_token".to_owned()),
                ..FaultMatch::default()
            },
            times,
            FaultKind::ServerError,
        );
    }

    fn revoke_token(&self, token: &str) -> bool {
        // 460: the password changed.
        self.0.revoke_token(token, 460)
    }

    fn stop_failing(&self, token: &str) {
        self.0.clear_faults_of(token);
    }
}

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Web and worker together (`serve`, the default).
    Serve,
    /// The web side only (`web`): API, dashboard, token URLs, metrics.
    Web,
    /// The worker only (`worker`), with health checks at the bind address (and metrics, like
    /// every mode, at the metrics address).
    Worker,
}

/// A server running in this process, for `serve` and for tests.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub public_url: url::Url,
    /// Where `/metrics` is served alone, when `FRESHTOKEN_METRICS_BIND` is set.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    metrics_task: Option<JoinHandle<std::io::Result<()>>>,
    worker: Option<JoinHandle<Result<(), freshtoken_worker::WorkerError>>>,
    delivery_tasks: Vec<JoinHandle<()>>,
    /// Demo mode's fake Instagram, which lives as long as the server.
    pub demo_instagram: Option<Arc<FakeInstagram>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests and jobs finish, and waits for the end.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("the server task failed")??;
        if let Some(metrics_task) = self.metrics_task {
            metrics_task
                .await
                .context("the metrics listener's task failed")??;
        }
        if let Some(worker) = self.worker {
            worker.await.context("the worker task failed")??;
        }
        for task in self.delivery_tasks {
            task.await.context("a token URL task failed")?;
        }
        Ok(())
    }
}

/// Migrates the database (ours and the job queues'), then stops.
pub async fn migrate(store: &Store) -> anyhow::Result<()> {
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    freshtoken_worker::setup_queues(store)
        .await
        .context("cannot create the job queues")?;
    Ok(())
}

async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Opens the store, migrates it, binds and serves until [`RunningServer::stop`].
pub async fn start(config: &Config, mode: Mode) -> anyhow::Result<RunningServer> {
    let store = open_store(config).await?;
    migrate(&store).await?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {} (FRESHTOKEN_BIND)", config.bind))?;
    let local_addr = listener.local_addr()?;
    let metrics_listener =
        match config.metrics_bind {
            Some(address) => Some(TcpListener::bind(address).await.with_context(|| {
                format!("cannot listen on {address} (FRESHTOKEN_METRICS_BIND)")
            })?),
            None => None,
        };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let public_url = config.public_url_for(local_addr);
    let mut web_config = WebConfig {
        signup_mode: config.signup_mode,
        session_idle: config.session_idle,
        session_max_age: config.session_max_age,
        demo: config.demo,
        webhook_allow_hosts: config.webhook_allow_hosts.clone(),
        delivery_limits: config.delivery_limits.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        login_throttle: ThrottleLimits {
            signups_per_address: config.signup_limit_per_address,
            ..ThrottleLimits::default()
        },
        metrics: MetricsAccess {
            own_listener: metrics_listener.is_some(),
            token: config.metrics_token.clone(),
        },
        ..WebConfig::new(public_url.clone())
    };
    let (meta, demo_instagram) = if config.demo {
        let (clients, fake, browser_base) = demo_meta(config, &public_url).await?;
        tracing::warn!(
            consent_page = %clients.instagram.config().oauth_url,
            "DEMO MODE: Instagram, Threads and Facebook are a fake inside this process; never use it for real accounts"
        );
        web_config.demo_pictures = Some(browser_base.origin().ascii_serialization());
        (clients, Some(fake))
    } else {
        (meta_clients(config, &public_url)?, None)
    };
    let (engine, handle) = background::build(config, &store, meta.clone(), &public_url)?;
    // A worker serves no pages: it neither reads the dashboard nor warns that it is missing.
    let dashboard = match mode {
        Mode::Worker => Dashboard::missing(&config.dashboard_dir),
        Mode::Serve | Mode::Web => Dashboard::load(&config.dashboard_dir)?,
    };
    if mode != Mode::Worker && !dashboard.is_built() {
        tracing::warn!(
            dir = %config.dashboard_dir.display(),
            "the dashboard is not built (run `cargo dashboard`); the API works without it"
        );
    }
    let mut state = AppState::new(store, web_config)
        .with_meta(meta)
        .with_emails(config.worker.smtp_url.is_some())
        .with_background(handle)
        .with_dashboard(dashboard);
    if let Some(fake) = &demo_instagram {
        state = state.with_demo_platform(Arc::new(DemoFake(fake.clone())));
    }
    // A refresh by this process's worker shows on its token URLs at once.
    let delivery = state.delivery.clone();
    engine.listen(Arc::new(move |account_id| {
        delivery.forget_account(account_id)
    }));
    let (shutdown, receiver) = watch::channel(false);
    let worker = (mode != Mode::Web).then(|| tokio::spawn(engine.run(stopped(receiver.clone()))));
    // Token URLs answer from memory, kept true by the change feed; their counts are written
    // now and then, and once more at shutdown.
    let mut delivery_tasks = Vec::new();
    if mode != Mode::Worker {
        delivery_tasks.push(tokio::spawn(delivery::follow_changes(
            state.store.clone(),
            state.delivery.cache.clone(),
            receiver.clone(),
        )));
        delivery_tasks.push(tokio::spawn(delivery::flush_counts(
            state.store.clone(),
            state.delivery.counts.clone(),
            config.request_counts_interval,
            receiver.clone(),
        )));
    }
    // Every mode's metrics are the same registry and queue depths: one listener for them all.
    let metrics_task = metrics_listener.map(|metrics_listener| {
        let metrics_app = freshtoken_web::metrics_router(state.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = stopped(receiver.clone());
        tokio::spawn(async move {
            axum::serve(metrics_listener, metrics_app)
                .with_graceful_shutdown(stop)
                .await
        })
    });
    let state_store = state.store.clone();
    let app = match mode {
        Mode::Worker => freshtoken_web::ops_router(state),
        Mode::Serve | Mode::Web => freshtoken_web::router(state),
    }
    .into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped(receiver))
            .await
    });
    let metrics = match (metrics_addr, &config.metrics_token) {
        (Some(address), _) => format!("at http://{address}/metrics only"),
        (None, Some(_)) => "on this listener, to bearers of the metrics token".to_owned(),
        (None, None) => "not served (set FRESHTOKEN_METRICS_BIND)".to_owned(),
    };
    let open = match mode {
        Mode::Worker => format!("health checks at http://{local_addr}/readyz"),
        Mode::Serve | Mode::Web if state_store.users().none_yet().await? => format!(
            "open {} to create the first account, which runs this instance",
            public_url.join("signup")?
        ),
        Mode::Serve | Mode::Web => format!("open {public_url} to sign in"),
    };
    tracing::info!(%local_addr, %public_url, ?mode, %metrics, "freshtoken is listening: {open}");
    Ok(RunningServer {
        local_addr,
        public_url,
        metrics_addr,
        shutdown,
        task,
        metrics_task,
        worker,
        delivery_tasks,
        demo_instagram,
    })
}

pub async fn run(config: Config, mode: Mode) -> anyhow::Result<()> {
    // Listen for the signals before anything can answer: a SIGTERM sent as soon as the health
    // check passes must stop the process cleanly, not kill it.
    let stop_requested = shutdown_signal();
    tokio::pin!(stop_requested);
    // Asked to stop while still starting (waiting for the database, say): stop at once, rather
    // than let a container runtime's grace period run out.
    let server = tokio::select! {
        server = start(&config, mode) => server?,
        () = &mut stop_requested => {
            tracing::info!("stopped before it had started");
            return Ok(());
        }
    };
    stop_requested.await;
    tracing::info!("shutting down: finishing requests in flight");
    server.stop().await?;
    tracing::info!("stopped");
    Ok(())
}

/// The next delivery of `signal`; never, when it could not be listened for.
#[cfg(unix)]
async fn received(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so no signal between the two takes the default action.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for {name}");
                None
            }
        };
        let mut interrupt = listen(SignalKind::interrupt(), "Ctrl-C");
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
        async move {
            tokio::select! {
                () = received(&mut interrupt) => {},
                () = received(&mut terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}
