//! What time the worker thinks it is. The system clock in production; tests move it forward,
//! together with the fake Instagram's, to live through a year of refreshes in seconds, and
//! `FRESHTOKEN_CLOCK_URL` makes the real binary follow the fake's clock over HTTP.
//!
//! It only ever moves forward. Leases are written and compared on this clock too: a jump can
//! end a lease early (the job's compare-and-set then records nothing and the account is
//! claimed again), never make one last longer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Added to the system time; only ever grows.
    offset_ms: Arc<AtomicI64>,
    /// Where to read "now" from, if not from the system alone.
    source: Option<Arc<Source>>,
}

#[derive(Debug)]
struct Source {
    url: Url,
    client: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct ClockAnswer {
    now: DateTime<Utc>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that follows the one at `url` (`GET` answers `{"now": "RFC 3339"}`), as of
    /// each [`Clock::sync`]; the system clock until the first one.
    pub fn following(url: Url) -> Clock {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Clock {
            offset_ms: Arc::default(),
            source: Some(Arc::new(Source { url, client })),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Reads the followed clock again, if this one follows one (the scheduler calls this
    /// before every pass, as the followed clock may jump at any moment). A clock that cannot be
    /// read keeps the last time it gave, and says so.
    pub async fn sync(&self) {
        let Some(source) = &self.source else {
            return;
        };
        let answer = async {
            source
                .client
                .get(source.url.clone())
                .send()
                .await?
                .error_for_status()?
                .json::<ClockAnswer>()
                .await
        };
        match answer.await {
            Ok(ClockAnswer { now }) => {
                let offset = (now - Utc::now()).num_milliseconds();
                self.offset_ms.fetch_max(offset, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(error = %error.without_url(), url = %source.url, "cannot read the clock to follow");
            }
        }
    }
}
