//! `freshtoken serve`: open the store, apply migrations, listen, and stop cleanly on SIGTERM or
//! Ctrl-C (in-flight requests finish; new connections are refused).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use freshtoken_store::{ConnectSettings, KeyStore, Store};
use freshtoken_web::{AppState, WebConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, KeySource};

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
    let store = Store::connect(
        &config.database_url,
        Arc::new(keys),
        &ConnectSettings::default(),
    )
    .await?;
    Ok(store)
}

/// A server running in this process, for `serve` and for tests.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub public_url: url::Url,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.context("the server task failed")??;
        Ok(())
    }
}

/// Opens the store, migrates it, binds and serves until [`RunningServer::stop`].
pub async fn start(config: &Config) -> anyhow::Result<RunningServer> {
    let store = open_store(config).await?;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {} (FRESHTOKEN_BIND)", config.bind))?;
    let local_addr = listener.local_addr()?;
    let public_url = config.public_url_for(local_addr);
    let web_config = WebConfig {
        signup_mode: config.signup_mode,
        session_idle: config.session_idle,
        session_max_age: config.session_max_age,
        ..WebConfig::new(public_url.clone())
    };
    let app = freshtoken_web::router(AppState::new(store, web_config))
        .into_make_service_with_connect_info::<SocketAddr>();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%local_addr, %public_url, "freshtoken is listening");
    Ok(RunningServer {
        local_addr,
        public_url,
        shutdown,
        task,
    })
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let server = start(&config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    server.stop().await?;
    tracing::info!("stopped");
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
