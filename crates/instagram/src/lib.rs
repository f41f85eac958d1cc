//! A typed client for Instagram's platform, as `shared/instagram-api.md` describes it:
//! Instagram Login (authorize URL, code exchange, long-lived exchange, refresh, profile, media)
//! and Facebook Login for Business (page tokens), and the `signed_request` Meta posts to our
//! deauthorize and data-deletion callbacks.
//!
//! Every failure is an [`InstagramError`] that says what to do next. Access tokens travel in
//! query strings, so this crate never formats a URL that carries one, strips URLs from
//! transport errors, and keeps tokens in [`AccessToken`], whose `Debug` is redacted.
//! It holds no state and makes no decisions about when to call: that is the worker's job.

mod error;
mod signed_request;

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, RedirectUrl, Scope};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

pub use error::InstagramError;
pub use freshtoken_core::AccessToken;
pub use signed_request::{SignedRequest, SignedRequestError, verify_signed_request};

/// The scope freshtoken needs: read the profile and media of a professional account.
pub const BASIC_SCOPE: &str = "instagram_business_basic";

/// Where Instagram is, and who we are to it.
#[derive(Clone)]
pub struct ClientConfig {
    /// www.instagram.com (authorize).
    pub oauth_url: Url,
    /// api.instagram.com (code exchange).
    pub api_url: Url,
    /// graph.instagram.com (tokens, profile, media).
    pub graph_url: Url,
    /// graph.facebook.com (Facebook Login page tokens).
    pub facebook_graph_url: Url,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// The Graph API version in paths, e.g. `v23.0`.
    pub graph_version: String,
    pub connect_timeout: Duration,
    /// For the whole call, answer included.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("graph_url", &self.graph_url.as_str())
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn url(text: &str) -> Url {
    Url::parse(text).expect("a constant URL is valid")
}

impl ClientConfig {
    /// The real Instagram and Facebook hosts.
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> ClientConfig {
        ClientConfig {
            oauth_url: url("https://www.instagram.com"),
            api_url: url("https://api.instagram.com"),
            graph_url: url("https://graph.instagram.com"),
            facebook_graph_url: url("https://graph.facebook.com"),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            graph_version: "v23.0".to_owned(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
        }
    }

    /// Whether "Connect Instagram" can work: the app's id and secret are both set.
    pub fn has_app_credentials(&self) -> bool {
        !self.client_id.trim().is_empty() && self.has_app_secret()
    }

    /// The secret exchanges short-lived tokens and verifies Meta's callbacks.
    pub fn has_app_secret(&self) -> bool {
        !self.client_secret.trim().is_empty()
    }

    /// All four hosts at one address, as the fake serves them.
    pub fn all_at(
        base_url: &Url,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
    ) -> ClientConfig {
        ClientConfig {
            oauth_url: base_url.clone(),
            api_url: base_url.clone(),
            graph_url: base_url.clone(),
            facebook_graph_url: base_url.clone(),
            ..ClientConfig::new(client_id, client_secret, redirect_uri)
        }
    }
}

/// From the code exchange: a token valid for an hour.
#[derive(Debug, Clone)]
pub struct ShortLivedToken {
    pub token: AccessToken,
    /// The Instagram-scoped user id (equal to `/me`'s `id`), as a string: it exceeds 2^53.
    pub user_id: String,
    pub permissions: Vec<String>,
}

/// A long-lived token (60 days), from an exchange or a refresh.
#[derive(Debug, Clone)]
pub struct LongLivedToken {
    pub token: AccessToken,
    pub expires_in: Duration,
}

/// The profile of an Instagram professional account (`/me`). Fields not asked for or not
/// answered are `None` (serde's default for `Option`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Profile {
    pub id: String,
    /// The professional-account id (`1784...`).
    pub user_id: Option<String>,
    #[serde(default)]
    pub username: String,
    pub name: Option<String>,
    pub account_type: Option<String>,
    pub profile_picture_url: Option<String>,
    pub followers_count: Option<u64>,
    pub media_count: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaItem {
    pub id: String,
    pub caption: Option<String>,
    pub media_type: Option<String>,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub permalink: Option<String>,
    pub timestamp: Option<String>,
}

/// One page of `/me/media`; `after` is set when there is a next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPage {
    pub items: Vec<MediaItem>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FacebookUser {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A Facebook page the user manages, with its page token (which does not expire).
#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub category: Option<String>,
    pub tasks: Vec<String>,
    pub access_token: AccessToken,
}

/// What `debug_token` says of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub is_valid: bool,
    pub kind: Option<String>,
    pub app_id: Option<String>,
    pub user_id: Option<String>,
    /// Unix seconds; `None` when the token never expires (`expires_at: 0`).
    pub expires_at: Option<i64>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct InstagramClient {
    http: reqwest::Client,
    config: ClientConfig,
}

/// Everything we know of a failed transport, minus the URL.
fn transport(err: reqwest::Error) -> InstagramError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    InstagramError::Transient {
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

impl InstagramClient {
    pub fn new(config: ClientConfig) -> Result<InstagramClient, InstagramError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("freshtoken/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        Ok(InstagramClient { http, config })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Where to send a person to log in with Instagram; `state` comes back with the redirect.
    pub fn authorize_url(&self, state: &str) -> Result<Url, InstagramError> {
        let invalid = |what: &str| InstagramError::Rejected {
            code: 0,
            message: format!("invalid {what} in the client configuration"),
        };
        let client = BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(endpoint(
                &self.config.oauth_url,
                "oauth/authorize",
            )))
            .set_redirect_uri(
                RedirectUrl::new(self.config.redirect_uri.clone())
                    .map_err(|_| invalid("redirect_uri"))?,
            );
        let (url, _) = client
            .authorize_url(|| CsrfToken::new(state.to_owned()))
            // Instagram separates scopes with commas; one scope keeps oauth2 from adding spaces.
            .add_scope(Scope::new(BASIC_SCOPE.to_owned()))
            .add_extra_param("enable_fb_login", "0")
            .url();
        Ok(url)
    }

    /// Exchanges the code from the redirect for a short-lived token.
    pub async fn exchange_code(&self, code: &str) -> Result<ShortLivedToken, InstagramError> {
        // Instagram appends `#_` to the redirect; a pasted URL may carry it into the code.
        let code = code.trim().trim_end_matches("#_");
        let form = [
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code", code),
        ];
        let request = self
            .http
            .post(endpoint(&self.config.api_url, "oauth/access_token"))
            .form(&form);
        let body = self.send(request).await?;
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

    /// Exchanges a short-lived token for a long-lived one (60 days).
    pub async fn exchange_for_long_lived(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, InstagramError> {
        let request = self
            .http
            .get(endpoint(&self.config.graph_url, "access_token"))
            .query(&[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", self.config.client_secret.as_str()),
                ("access_token", short.expose()),
            ]);
        long_lived(self.send(request).await?)
    }

    /// Refreshes a long-lived token: the answer is valid 60 days from now. Store the returned
    /// token; it may differ from the one sent.
    pub async fn refresh(&self, long: &AccessToken) -> Result<LongLivedToken, InstagramError> {
        let request = self
            .http
            .get(endpoint(&self.config.graph_url, "refresh_access_token"))
            .query(&[
                ("grant_type", "ig_refresh_token"),
                ("access_token", long.expose()),
            ]);
        long_lived(self.send(request).await?)
    }

    /// The account's profile.
    pub async fn me(&self, token: &AccessToken) -> Result<Profile, InstagramError> {
        let path = format!("{}/me", self.config.graph_version);
        let request = self.http.get(endpoint(&self.config.graph_url, &path)).query(&[
            ("fields", "user_id,username,name,account_type,profile_picture_url,followers_count,media_count"),
            ("access_token", token.expose()),
        ]);
        let body = self.send(request).await?;
        let entry = unwrap_documented(body);
        serde_json::from_value(entry).map_err(|err| unexpected(&err.to_string()))
    }

    /// One page of the account's recent media; pass the previous page's `after` for the next.
    pub async fn media(
        &self,
        token: &AccessToken,
        after: Option<&str>,
        limit: u32,
    ) -> Result<MediaPage, InstagramError> {
        let path = format!("{}/me/media", self.config.graph_version);
        let limit = limit.clamp(1, 100).to_string();
        let mut query = vec![
            (
                "fields",
                "id,caption,media_type,media_url,permalink,thumbnail_url,timestamp,username",
            ),
            ("limit", limit.as_str()),
            ("access_token", token.expose()),
        ];
        if let Some(after) = after {
            query.push(("after", after));
        }
        let request = self
            .http
            .get(endpoint(&self.config.graph_url, &path))
            .query(&query);
        let body = self.send(request).await?;
        let items =
            serde_json::from_value(body.get("data").cloned().unwrap_or(Value::Array(vec![])))
                .map_err(|err| unexpected(&err.to_string()))?;
        // `next` is present only when there is another page; its cursor is in `cursors.after`.
        let after = body
            .pointer("/paging/next")
            .and_then(|_| body.pointer("/paging/cursors/after"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(MediaPage { items, after })
    }

    /// Facebook Login: a short-lived user token for a long-lived one.
    pub async fn exchange_facebook_token(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, InstagramError> {
        let path = format!("{}/oauth/access_token", self.config.graph_version);
        let request = self
            .http
            .get(endpoint(&self.config.facebook_graph_url, &path))
            .query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", self.config.client_id.as_str()),
                ("client_secret", self.config.client_secret.as_str()),
                ("fb_exchange_token", short.expose()),
            ]);
        long_lived(self.send(request).await?)
    }

    pub async fn facebook_me(&self, token: &AccessToken) -> Result<FacebookUser, InstagramError> {
        let path = format!("{}/me", self.config.graph_version);
        let request = self
            .http
            .get(endpoint(&self.config.facebook_graph_url, &path))
            .query(&[("access_token", token.expose())]);
        serde_json::from_value(self.send(request).await?)
            .map_err(|err| unexpected(&err.to_string()))
    }

    /// The pages the Facebook user manages, each with its page token.
    pub async fn pages(
        &self,
        facebook_user_id: &str,
        user_token: &AccessToken,
    ) -> Result<Vec<Page>, InstagramError> {
        let path = format!(
            "{}/{}/accounts",
            self.config.graph_version, facebook_user_id
        );
        let request = self
            .http
            .get(endpoint(&self.config.facebook_graph_url, &path))
            .query(&[("access_token", user_token.expose())]);
        let body = self.send(request).await?;
        let pages = body
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("no data"))?;
        pages
            .iter()
            .map(|page| {
                let text = |name: &str| page.get(name).and_then(Value::as_str).map(str::to_owned);
                Ok(Page {
                    id: text("id").ok_or_else(|| unexpected("page without id"))?,
                    name: text("name").unwrap_or_default(),
                    category: text("category"),
                    tasks: page
                        .get("tasks")
                        .and_then(Value::as_array)
                        .map(|tasks| {
                            tasks
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    access_token: AccessToken::new(
                        text("access_token").ok_or_else(|| unexpected("page without token"))?,
                    ),
                })
            })
            .collect()
    }

    /// The Instagram professional account linked to a page, if any.
    pub async fn page_instagram_account(
        &self,
        page_id: &str,
        page_token: &AccessToken,
    ) -> Result<Option<String>, InstagramError> {
        let path = format!("{}/{}", self.config.graph_version, page_id);
        let request = self
            .http
            .get(endpoint(&self.config.facebook_graph_url, &path))
            .query(&[
                ("fields", "instagram_business_account"),
                ("access_token", page_token.expose()),
            ]);
        let body = self.send(request).await?;
        Ok(body
            .pointer("/instagram_business_account/id")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// What Facebook knows of a token, asked with the app's own credentials.
    pub async fn debug_token(&self, token: &AccessToken) -> Result<TokenInfo, InstagramError> {
        let app_token = format!("{}|{}", self.config.client_id, self.config.client_secret);
        let request = self
            .http
            .get(endpoint(&self.config.facebook_graph_url, "debug_token"))
            .query(&[
                ("input_token", token.expose()),
                ("access_token", app_token.as_str()),
            ]);
        let body = self.send(request).await?;
        // An invalid input token is answered with HTTP 200 and `is_valid: false`.
        let data = body.get("data").ok_or_else(|| unexpected("no data"))?;
        let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(TokenInfo {
            is_valid: data
                .get("is_valid")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            kind: text("type"),
            app_id: text("app_id"),
            user_id: text("user_id"),
            expires_at: data
                .get("expires_at")
                .and_then(Value::as_i64)
                .filter(|at| *at != 0),
            scopes: data
                .get("scopes")
                .and_then(Value::as_array)
                .map(|s| {
                    s.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Sends the request and returns its JSON, or the error the answer means.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, InstagramError> {
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
        tracing::debug!(status = status.as_u16(), error = %error, "Instagram call failed");
        Err(error)
    }
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

fn unexpected(what: &str) -> InstagramError {
    InstagramError::Transient {
        reason: format!("unexpected answer: {what}"),
    }
}

fn long_lived(body: Value) -> Result<LongLivedToken, InstagramError> {
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
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> InstagramError {
    if body.iter().all(u8::is_ascii_whitespace) {
        return InstagramError::Transient {
            reason: format!("empty answer (HTTP {status})"),
        };
    }
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return InstagramError::Transient {
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
            190 => InstagramError::Revoked { subcode, message },
            4 | 17 | 32 | 613 | 80002 => InstagramError::RateLimited {
                code,
                retry_after: retry_after(headers),
            },
            1 | 2 => InstagramError::Transient { reason: message },
            _ if status >= 500 => InstagramError::Transient { reason: message },
            _ => InstagramError::Rejected { code, message },
        };
    }
    // OAuth endpoint errors: {"error_type", "code", "error_message"}.
    if let Some(message) = json.get("error_message").and_then(Value::as_str) {
        let code = number(json.get("code")).unwrap_or(u32::from(status));
        return if status >= 500 {
            InstagramError::Transient {
                reason: message.to_owned(),
            }
        } else {
            InstagramError::Rejected {
                code,
                message: message.to_owned(),
            }
        };
    }
    if status >= 500 {
        return InstagramError::Transient {
            reason: format!("HTTP {status}"),
        };
    }
    InstagramError::Rejected {
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
