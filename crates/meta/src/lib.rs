//! Typed clients for Meta's platforms, as `docs/instagram.md`, `docs/threads.md` and
//! `docs/facebook-pages.md` describe them: Instagram Login ([`InstagramClient`]), Threads
//! ([`ThreadsClient`]) and Facebook Login with Page tokens ([`FacebookClient`]), and the
//! `signed_request` Meta posts to our deauthorize and data-deletion callbacks.
//!
//! Every failure is a [`MetaError`] that says what to do next. Access tokens travel in query
//! strings, so this crate never formats a URL that carries one, strips URLs from transport
//! errors, and keeps tokens in [`AccessToken`], whose `Debug` is redacted. It holds no state
//! and makes no decisions about when to call: that is the worker's job.

mod error;
mod facebook;
mod instagram;
mod signed_request;
mod threads;
mod token_calls;

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

pub use error::MetaError;
pub use facebook::{FacebookClient, FacebookUser, PAGE_SCOPES, Page, TokenInfo};
pub use freshtoken_core::AccessToken;
pub use instagram::{BASIC_SCOPE, InstagramClient, MediaItem, MediaPage, Profile};
pub use signed_request::{SignedRequest, SignedRequestError, verify_signed_request};
pub use threads::{THREADS_SCOPE, ThreadsClient, ThreadsPage, ThreadsPost, ThreadsProfile};

/// Where one of Meta's platforms is, and who we are to it (one Meta app per platform).
#[derive(Clone)]
pub struct AppConfig {
    /// Where people log in: www.instagram.com, threads.net or www.facebook.com.
    pub oauth_url: Url,
    /// Where codes are exchanged: api.instagram.com; the Graph host for the others.
    pub api_url: Url,
    /// The Graph API: graph.instagram.com, graph.threads.net or graph.facebook.com.
    pub graph_url: Url,
    /// The app id (Instagram and Threads call it the client id).
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// The Graph API version in paths, e.g. `v23.0` (Threads: `v1.0`).
    pub graph_version: String,
    pub connect_timeout: Duration,
    /// For the whole call, answer included.
    pub timeout: Duration,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("graph_url", &self.graph_url.as_str())
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("a constant URL is valid")
}

impl AppConfig {
    fn with_hosts(oauth: &str, api: &str, graph: &str, version: &str) -> AppConfig {
        AppConfig {
            oauth_url: url(oauth),
            api_url: url(api),
            graph_url: url(graph),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_uri: String::new(),
            graph_version: version.to_owned(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
        }
    }

    /// Instagram Login's real hosts.
    pub fn instagram() -> AppConfig {
        AppConfig::with_hosts(
            "https://www.instagram.com",
            "https://api.instagram.com",
            "https://graph.instagram.com",
            "v23.0",
        )
    }

    /// Threads' real hosts.
    pub fn threads() -> AppConfig {
        AppConfig::with_hosts(
            "https://threads.net",
            "https://graph.threads.net",
            "https://graph.threads.net",
            "v1.0",
        )
    }

    /// Facebook Login's real hosts.
    pub fn facebook() -> AppConfig {
        AppConfig::with_hosts(
            "https://www.facebook.com",
            "https://graph.facebook.com",
            "https://graph.facebook.com",
            "v23.0",
        )
    }

    /// The same, with this app's credentials and redirect URI.
    pub fn app(self, client_id: &str, client_secret: &str, redirect_uri: &str) -> AppConfig {
        AppConfig {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            ..self
        }
    }

    /// The same, with every host at one address, as the fake serves them.
    pub fn at(self, base_url: &Url) -> AppConfig {
        AppConfig {
            oauth_url: base_url.clone(),
            api_url: base_url.clone(),
            graph_url: base_url.clone(),
            ..self
        }
    }

    /// Whether people can connect through this app: its id and secret are both set.
    pub fn has_app_credentials(&self) -> bool {
        !self.client_id.trim().is_empty() && self.has_app_secret()
    }

    /// The secret exchanges short-lived tokens and verifies Meta's callbacks.
    pub fn has_app_secret(&self) -> bool {
        !self.client_secret.trim().is_empty()
    }
}

/// The three clients a service needs, one per platform.
#[derive(Debug, Clone)]
pub struct MetaClients {
    pub instagram: InstagramClient,
    pub threads: ThreadsClient,
    pub facebook: FacebookClient,
}

impl MetaClients {
    pub fn new(
        instagram: AppConfig,
        threads: AppConfig,
        facebook: AppConfig,
    ) -> Result<MetaClients, MetaError> {
        Ok(MetaClients {
            instagram: InstagramClient::new(instagram)?,
            threads: ThreadsClient::new(threads)?,
            facebook: FacebookClient::new(facebook)?,
        })
    }

    /// All three platforms at one address with one app, as the fake serves them (tests,
    /// benchmarks).
    pub fn all_at(
        base_url: &Url,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> Result<MetaClients, MetaError> {
        let app = |defaults: AppConfig| {
            defaults
                .app(client_id, client_secret, redirect_uri)
                .at(base_url)
        };
        MetaClients::new(
            app(AppConfig::instagram()),
            app(AppConfig::threads()),
            app(AppConfig::facebook()),
        )
    }

    /// Clients with no app configured: they can still check and refresh pasted tokens where
    /// the platform needs no app secret for that.
    pub fn unconfigured() -> MetaClients {
        MetaClients::new(
            AppConfig::instagram(),
            AppConfig::threads(),
            AppConfig::facebook(),
        )
        .expect("a client with default settings builds")
    }
}

/// From a code exchange: a token valid for an hour.
#[derive(Debug, Clone)]
pub struct ShortLivedToken {
    pub token: AccessToken,
    /// The platform's user id, as a string: it exceeds 2^53.
    pub user_id: String,
    pub permissions: Vec<String>,
}

/// A long-lived token, from an exchange or a refresh (60 days for Instagram and Threads
/// and for Facebook user tokens).
#[derive(Debug, Clone)]
pub struct LongLivedToken {
    pub token: AccessToken,
    pub expires_in: Duration,
}

/// The HTTP side every client shares: timeouts, user agent, and turning answers into JSON
/// or the [`MetaError`] they mean.
#[derive(Debug, Clone)]
struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new(config: &AppConfig) -> Result<Http, MetaError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("freshtoken/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        Ok(Http { client })
    }

    fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    fn post(&self, url: Url) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// Sends the request and returns its JSON, or the error the answer means.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, MetaError> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success()
            && let Ok(body) = serde_json::from_slice::<Value>(&bytes)
            && body.get("error").is_none()
        {
            return Ok(body);
        }
        let error = classify(status.as_u16(), &headers, &bytes);
        tracing::debug!(status = status.as_u16(), error = %error, "a call to Meta failed");
        Err(error)
    }
}

/// Everything we know of a failed transport, minus the URL.
fn transport(err: reqwest::Error) -> MetaError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    MetaError::Transient {
        reason: format!("{kind}: {}", err.without_url()),
    }
}

fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        url.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

/// The code-exchange answer shared by Instagram and Threads: a token, a user id that may
/// come as a number or a string, and perhaps the permissions granted.
fn short_lived(body: Value) -> Result<ShortLivedToken, MetaError> {
    let entry = unwrap_documented(body);
    let token = entry
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| unexpected("no access_token"))?;
    let user_id = match entry.get("user_id") {
        Some(Value::Number(number)) => number.as_u64().map(|id| id.to_string()),
        Some(Value::String(text)) => Some(text.clone()),
        _ => None,
    }
    .ok_or_else(|| unexpected("no user_id"))?;
    let permissions = match entry.get("permissions") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    Ok(ShortLivedToken {
        token: AccessToken::new(token),
        user_id,
        permissions,
    })
}

/// Production answers flat objects; Meta's docs print them wrapped as `{"data": [{...}]}`.
/// Accept both.
fn unwrap_documented(body: Value) -> Value {
    match body
        .get("data")
        .and_then(Value::as_array)
        .and_then(|data| data.first())
    {
        Some(entry) => entry.clone(),
        None => body,
    }
}

fn unexpected(what: &str) -> MetaError {
    MetaError::Transient {
        reason: format!("unexpected answer: {what}"),
    }
}

fn long_lived(body: Value) -> Result<LongLivedToken, MetaError> {
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| unexpected("no access_token"))?;
    let expires_in = body
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| unexpected("no expires_in"))?;
    Ok(LongLivedToken {
        token: AccessToken::new(token),
        expires_in: Duration::from_secs(expires_in),
    })
}

/// Turns a failed answer into what the caller should do next.
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> MetaError {
    if body.iter().all(u8::is_ascii_whitespace) {
        return MetaError::Transient {
            reason: format!("empty answer (HTTP {status})"),
        };
    }
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return MetaError::Transient {
            reason: format!("an answer that is not JSON (HTTP {status}), as during outages"),
        };
    };
    let number = |value: Option<&Value>| {
        value
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    // Graph errors: {"error": {"message", "type", "code", "error_subcode"}}.
    if let Some(error) = json.get("error").filter(|e| e.is_object()) {
        let code = number(error.get("code")).unwrap_or(0);
        let subcode = number(error.get("error_subcode"));
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned();
        return match code {
            190 => MetaError::Revoked { subcode, message },
            4 | 17 | 32 | 613 | 80002 => MetaError::RateLimited {
                code,
                retry_after: retry_after(headers),
            },
            1 | 2 => MetaError::Transient { reason: message },
            _ if status >= 500 => MetaError::Transient { reason: message },
            _ => MetaError::Rejected { code, message },
        };
    }
    // OAuth endpoint errors: {"error_type", "code", "error_message"}.
    if let Some(message) = json.get("error_message").and_then(Value::as_str) {
        let code = number(json.get("code")).unwrap_or(u32::from(status));
        return if status >= 500 {
            MetaError::Transient {
                reason: message.to_owned(),
            }
        } else {
            MetaError::Rejected {
                code,
                message: message.to_owned(),
            }
        };
    }
    if status >= 500 {
        return MetaError::Transient {
            reason: format!("HTTP {status}"),
        };
    }
    MetaError::Rejected {
        code: u32::from(status),
        message: format!("HTTP {status} without an error description"),
    }
}

/// How long to wait after a rate limit, from the usage headers.
///
/// `X-Business-Use-Case-Usage` names minutes until access returns; `X-App-Usage` at 100 %
/// means the rolling hour is used up. Without either, a cautious five minutes.
pub fn retry_after(headers: &HeaderMap) -> Duration {
    let header_json = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
    };
    let regain_minutes = header_json("x-business-use-case-usage")
        .and_then(|usage| {
            usage
                .as_object()?
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|entry| {
                    entry
                        .get("estimated_time_to_regain_access")
                        .and_then(Value::as_u64)
                })
                .max()
        })
        .unwrap_or(0);
    if regain_minutes > 0 {
        return Duration::from_secs(regain_minutes * 60);
    }
    let app_exhausted = header_json("x-app-usage").is_some_and(|usage| {
        ["call_count", "total_time", "total_cputime"]
            .iter()
            .any(|field| {
                usage
                    .get(*field)
                    .and_then(Value::as_u64)
                    .is_some_and(|pct| pct >= 100)
            })
    });
    if app_exhausted {
        Duration::from_secs(3600)
    } else {
        Duration::from_secs(300)
    }
}
