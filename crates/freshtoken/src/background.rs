//! The background worker as the binary runs it: built from the configuration, wired into the
//! web side (metrics, "refresh now"), and run inside `serve` or alone as `worker`.

use std::sync::Arc;

use anyhow::Context;
use freshtoken_meta::MetaClients;
use freshtoken_store::Store;
use freshtoken_web::Background;
use freshtoken_worker::{Clock, Engine, Mailer, Metrics, WorkerConfig};
use url::Url;

use crate::config::Config;

/// What the web side sees of the worker; also what a web-only process uses (it enqueues
/// refreshes and reports the backlog, while other processes run the jobs).
pub struct WorkerHandle {
    pub store: Store,
    pub clock: Clock,
    pub metrics: Metrics,
    pub lease: std::time::Duration,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Background for WorkerHandle {
    async fn metrics(&self) -> Result<String, String> {
        self.metrics
            .render(&self.store, &self.clock)
            .await
            .map_err(|err| err.to_string())
    }

    async fn refresh_now(&self, account_id: i64) {
        let now = self.clock.now();
        if let Err(error) =
            freshtoken_worker::enqueue_refresh(&self.store, account_id, now, self.lease).await
        {
            // The scheduler's next pass picks the account up anyway.
            tracing::warn!(account_id, %error, "could not enqueue the refresh at once");
        }
    }
}

pub fn worker_config(config: &Config, public_url: &Url) -> WorkerConfig {
    WorkerConfig {
        scheduler_interval: config.worker.scheduler_interval,
        page_check_interval: config.worker.page_check_interval,
        poll_interval: config.worker.poll_interval,
        concurrency: config.worker.concurrency,
        lease: config.worker.lease,
        public_url: public_url.as_str().trim_end_matches('/').to_owned(),
        webhook_allow_hosts: config.webhook_allow_hosts.clone(),
        ..WorkerConfig::default()
    }
}

pub fn mailer(config: &Config, public_url: &Url) -> anyhow::Result<Option<Mailer>> {
    let Some(url) = &config.worker.smtp_url else {
        return Ok(None);
    };
    let from = config.worker.smtp_from.clone().unwrap_or_else(|| {
        format!(
            "freshtoken <freshtoken@{}>",
            public_url.host_str().unwrap_or("localhost")
        )
    });
    let mailer = Mailer::new(url, &from).context("FRESHTOKEN_SMTP_URL / FRESHTOKEN_SMTP_FROM")?;
    Ok(Some(mailer))
}

/// The engine and the handle the web side gets, sharing one metrics registry.
pub fn build(
    config: &Config,
    store: &Store,
    meta: MetaClients,
    public_url: &Url,
) -> anyhow::Result<(Engine, Arc<WorkerHandle>)> {
    let clock = match &config.worker.clock_url {
        Some(url) => {
            tracing::warn!(
                clock_url = %url,
                "FRESHTOKEN_CLOCK_URL is set: the refresh engine's time comes from {url}, not from this machine's clock; for tests and the demo only, never for real accounts"
            );
            Clock::following(url.clone())
        }
        None => Clock::system(),
    };
    let metrics = Metrics::new();
    let engine = Engine::new(
        store.clone(),
        meta,
        worker_config(config, public_url),
        mailer(config, public_url)?,
        clock.clone(),
        metrics.clone(),
    )?;
    let handle = Arc::new(WorkerHandle {
        store: store.clone(),
        clock,
        metrics,
        lease: config.worker.lease,
    });
    Ok((engine, handle))
}
