//! Facebook Login and Page tokens (www.facebook.com, graph.facebook.com): the login dialog,
//! code exchange, the long-lived user token, the Pages a user manages with their Page tokens,
//! a Page's linked Instagram professional account and its posts, and `debug_token`.

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::instagram::{authorize_url_at, media_page};
use crate::{
    AccessToken, AppConfig, Http, LongLivedToken, MediaPage, MetaError, endpoint, long_lived,
    unexpected,
};

/// What freshtoken asks of a person on Facebook Login: list their Pages, read them, and read
/// the Instagram professional account linked to a Page (for its posts).
pub const PAGE_SCOPES: &str =
    "pages_show_list,pages_read_engagement,instagram_basic,business_management";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FacebookUser {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A Facebook Page the user manages, with its Page token (which does not expire).
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
    /// `USER`, `PAGE`, `APP`, ...
    pub kind: Option<String>,
    pub app_id: Option<String>,
    pub user_id: Option<String>,
    /// The Page a Page token belongs to.
    pub profile_id: Option<String>,
    /// Unix seconds; `None` when the token never expires (`expires_at: 0`).
    pub expires_at: Option<i64>,
    pub scopes: Vec<String>,
    /// Why an invalid token is invalid, as Facebook words it.
    pub error_message: Option<String>,
    /// The 190 subcode of an invalid token (460 password changed, 458 app removed, ...).
    pub error_subcode: Option<u32>,
}

impl TokenInfo {
    pub fn is_page_token(&self) -> bool {
        self.kind.as_deref() == Some("PAGE")
    }

    pub fn is_user_token(&self) -> bool {
        self.kind.as_deref() == Some("USER")
    }
}

#[derive(Debug, Clone)]
pub struct FacebookClient {
    http: Http,
    config: AppConfig,
}

impl FacebookClient {
    pub fn new(config: AppConfig) -> Result<FacebookClient, MetaError> {
        Ok(FacebookClient {
            http: Http::new(&config)?,
            config,
        })
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    fn graph(&self, path: &str) -> Url {
        endpoint(
            &self.config.graph_url,
            &format!("{}/{path}", self.config.graph_version),
        )
    }

    /// Where to send a person to log in with Facebook; `state` comes back with the redirect.
    pub fn authorize_url(&self, state: &str) -> Result<Url, MetaError> {
        let path = format!("{}/dialog/oauth", self.config.graph_version);
        authorize_url_at(&self.config, &path, state, PAGE_SCOPES, &[])
    }

    /// Exchanges the code from the redirect for a short-lived user token (about two hours).
    pub async fn exchange_code(&self, code: &str) -> Result<AccessToken, MetaError> {
        let request = self.http.get(self.graph("oauth/access_token")).query(&[
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code", code.trim()),
        ]);
        let body = self.http.send(request).await?;
        body.get("access_token")
            .and_then(Value::as_str)
            .map(AccessToken::new)
            .ok_or_else(|| unexpected("no access_token"))
    }

    /// A user token for a long-lived one (about 60 days). Page tokens read with a long-lived
    /// user token do not expire.
    pub async fn exchange_for_long_lived(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, MetaError> {
        let request = self.http.get(self.graph("oauth/access_token")).query(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
            ("fb_exchange_token", short.expose()),
        ]);
        long_lived(self.http.send(request).await?)
    }

    /// Whose token this is: a user, or (with a Page token) the Page.
    pub async fn me(&self, token: &AccessToken) -> Result<FacebookUser, MetaError> {
        let request = self
            .http
            .get(self.graph("me"))
            .query(&[("fields", "id,name"), ("access_token", token.expose())]);
        serde_json::from_value(self.http.send(request).await?)
            .map_err(|err| unexpected(&err.to_string()))
    }

    /// The Pages the user manages, each with its Page token (every page of the answer).
    pub async fn pages(&self, user_token: &AccessToken) -> Result<Vec<Page>, MetaError> {
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        // A person manages a handful of Pages; the bound only stops a looping cursor.
        for _ in 0..20 {
            let mut query = vec![
                ("fields", "id,name,category,tasks,access_token"),
                ("limit", "100"),
                ("access_token", user_token.expose()),
            ];
            if let Some(after) = &after {
                query.push(("after", after));
            }
            let request = self.http.get(self.graph("me/accounts")).query(&query);
            let body = self.http.send(request).await?;
            let data = body
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| unexpected("no data"))?;
            for page in data {
                pages.push(page_of(page)?);
            }
            after = crate::instagram::next_cursor(&body);
            if after.is_none() {
                break;
            }
        }
        Ok(pages)
    }

    /// The Instagram professional account linked to a Page, if any.
    pub async fn page_instagram_account(
        &self,
        page_id: &str,
        page_token: &AccessToken,
    ) -> Result<Option<String>, MetaError> {
        let request = self.http.get(self.graph(page_id)).query(&[
            ("fields", "instagram_business_account"),
            ("access_token", page_token.expose()),
        ]);
        let body = self.http.send(request).await?;
        Ok(body
            .pointer("/instagram_business_account/id")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// One page of the posts of a Page's linked Instagram account.
    pub async fn instagram_media(
        &self,
        instagram_account_id: &str,
        page_token: &AccessToken,
        after: Option<&str>,
        limit: u32,
    ) -> Result<MediaPage, MetaError> {
        let path = format!("{}/{instagram_account_id}/media", self.config.graph_version);
        media_page(
            &self.http,
            &self.config.graph_url,
            &path,
            page_token,
            after,
            limit,
        )
        .await
    }

    /// What Facebook knows of a token, asked with the app's own credentials. An invalid token
    /// is an answer (`is_valid: false`), not an error.
    pub async fn debug_token(&self, token: &AccessToken) -> Result<TokenInfo, MetaError> {
        let app_token = format!("{}|{}", self.config.client_id, self.config.client_secret);
        let request = self.http.get(self.graph("debug_token")).query(&[
            ("input_token", token.expose()),
            ("access_token", app_token.as_str()),
        ]);
        let body = self.http.send(request).await?;
        let data = body.get("data").ok_or_else(|| unexpected("no data"))?;
        let text = |name: &str| match data.get(name) {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Number(number)) => Some(number.to_string()),
            _ => None,
        };
        Ok(TokenInfo {
            is_valid: data
                .get("is_valid")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            kind: text("type"),
            app_id: text("app_id"),
            user_id: text("user_id"),
            profile_id: text("profile_id"),
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
            error_message: data
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_owned),
            error_subcode: data
                .pointer("/error/subcode")
                .and_then(Value::as_u64)
                .and_then(|subcode| u32::try_from(subcode).ok()),
        })
    }
}

fn page_of(page: &Value) -> Result<Page, MetaError> {
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
}
