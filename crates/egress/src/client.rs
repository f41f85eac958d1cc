//! The HTTP client of webhook deliveries.
//!
//! reqwest asks our resolver for the addresses of every connection it opens, so the rule is
//! applied to the address actually connected to, at the moment of connecting: a name that
//! resolved to a public address when the webhook was created and to 127.0.0.1 now is refused.
//! reqwest does not resolve literal addresses, so those are checked before sending.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{StatusCode, redirect};
use url::{Host, Url};

use crate::{AllowedHosts, Refused, check_literal, check_resolved};

/// How long connecting may take, within the whole request's timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an endpoint's answer read, for the delivery log: the rest is never downloaded.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;
/// The most of an answer quoted in the delivery log.
const EXCERPT_CHARS: usize = 200;

/// The client could not be built (no TLS roots, say): the worker must not start without it.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for webhooks")]
pub struct ClientError(#[source] reqwest::Error);

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    /// The start of a non-success answer's body, as one line of text (empty for a success).
    pub excerpt: String,
}

/// Why nothing (or nothing complete) came back.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Never sent: the address is not one webhooks may reach.
    #[error("refused, not sent: {0}")]
    Refused(#[from] Refused),
    #[error("the stored URL is not a URL")]
    Url,
    #[error("request failed: {0}")]
    Failed(String),
}

impl SendError {
    /// Whether trying again later cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Refused(_) | SendError::Url)
    }
}

/// Sends webhook requests to public addresses and allowed hosts only. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allowed: Arc<AllowedHosts>,
}

impl WebhookClient {
    /// A client whose requests end after `timeout` in all (connecting, sending, answering).
    pub fn new(allowed: AllowedHosts, timeout: Duration) -> Result<WebhookClient, ClientError> {
        let allowed = Arc::new(allowed);
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckingResolver {
                allowed: allowed.clone(),
            }))
            // A webhook must answer, not send us elsewhere (possibly to an internal address).
            .redirect(redirect::Policy::none())
            // Through a proxy, the resolver would judge the proxy's address, not the
            // endpoint's: connect directly.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .user_agent(concat!("freshtoken/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError)?;
        Ok(WebhookClient { http, allowed })
    }

    /// POSTs `body` with `headers` to `url`, if the rule lets it go there.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> Result<Answer, SendError> {
        let url = Url::parse(url).map_err(|_| SendError::Url)?;
        match url.host() {
            None => return Err(SendError::Url),
            Some(Host::Domain(_)) => {} // checked by the resolver, on connecting
            Some(Host::Ipv4(ip)) => self.check_literal(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_literal(IpAddr::V6(ip))?,
        }
        let mut request = self.http.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.map_err(failure)?;
        let status = response.status();
        let excerpt = if status.is_success() {
            String::new()
        } else {
            excerpt(response).await
        };
        Ok(Answer { status, excerpt })
    }

    fn check_literal(&self, ip: IpAddr) -> Result<(), Refused> {
        if self.allowed.allows(&ip.to_string()) {
            return Ok(());
        }
        check_literal(ip)
    }
}

/// Finds our refusal inside reqwest's error (it comes back from the resolver wrapped in a
/// connect error), or describes the failure without the URL, which may hold credentials.
fn failure(err: reqwest::Error) -> SendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut causes = Vec::new();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return SendError::Refused(refused.clone());
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    if err.is_timeout() {
        return SendError::Failed("timed out".to_owned());
    }
    let mut message = err.without_url().to_string();
    for cause in causes.iter().skip(1) {
        message.push_str(": ");
        message.push_str(cause);
    }
    SendError::Failed(message)
}

/// The start of the answer's body as one line, reading at most [`MAX_ANSWER_BYTES`].
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut excerpt: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT_CHARS)
        .collect();
    if excerpt.len() < line.len() {
        excerpt.push('…');
    }
    excerpt
}

/// Resolves like the system does, then refuses the connection unless the host is allowed or
/// every address is public.
struct CheckingResolver {
    allowed: Arc<AllowedHosts>,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.allowed.allows(&host);
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allowed {
                check_resolved(&host, addresses.iter().copied())?;
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}
