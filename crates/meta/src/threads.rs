//! Threads (threads.net, graph.threads.net): Instagram's token model on its own hosts and
//! grant types. Authorize, code exchange, `th_exchange_token`, `th_refresh_token`, the profile
//! and the profile's posts.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::instagram::{authorize_url, next_cursor};
use crate::token_calls;
use crate::{
    AccessToken, AppConfig, Http, LongLivedToken, MetaError, ShortLivedToken, endpoint, unexpected,
    unwrap_documented,
};

/// The scope freshtoken needs: read the profile and its posts.
pub const THREADS_SCOPE: &str = "threads_basic";

/// A Threads profile (`/me`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ThreadsProfile {
    pub id: String,
    #[serde(default)]
    pub username: String,
    pub name: Option<String>,
    pub threads_profile_picture_url: Option<String>,
}

/// One post of `/me/threads`, with the fields Threads names them by.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ThreadsPost {
    pub id: String,
    pub media_product_type: Option<String>,
    /// `TEXT_POST`, `IMAGE`, `VIDEO`, `CAROUSEL_ALBUM`, `AUDIO`, `REPOST_FACADE`.
    pub media_type: Option<String>,
    pub media_url: Option<String>,
    pub permalink: Option<String>,
    pub text: Option<String>,
    pub timestamp: Option<String>,
    pub shortcode: Option<String>,
    pub thumbnail_url: Option<String>,
    pub username: Option<String>,
    pub is_quote_post: Option<bool>,
}

/// One page of `/me/threads`; `after` is set when there is a next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadsPage {
    pub items: Vec<ThreadsPost>,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ThreadsClient {
    http: Http,
    config: AppConfig,
}

impl ThreadsClient {
    pub fn new(config: AppConfig) -> Result<ThreadsClient, MetaError> {
        Ok(ThreadsClient {
            http: Http::new(&config)?,
            config,
        })
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// Where to send a person to log in with Threads; `state` comes back with the redirect.
    pub fn authorize_url(&self, state: &str) -> Result<Url, MetaError> {
        authorize_url(&self.config, state, THREADS_SCOPE, &[])
    }

    /// Exchanges the code from the redirect for a short-lived token (one hour).
    pub async fn exchange_code(&self, code: &str) -> Result<ShortLivedToken, MetaError> {
        token_calls::exchange_code(&self.http, &self.config, code).await
    }

    /// Exchanges a short-lived token for a long-lived one (60 days).
    pub async fn exchange_for_long_lived(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, MetaError> {
        token_calls::exchange_for_long_lived(&self.http, &self.config, "th_exchange_token", short)
            .await
    }

    /// Refreshes a long-lived token at least 24 hours old: the answer is valid 60 days from
    /// now. Store the returned token; it may differ from the one sent.
    pub async fn refresh(&self, long: &AccessToken) -> Result<LongLivedToken, MetaError> {
        token_calls::refresh(&self.http, &self.config, "th_refresh_token", long).await
    }

    /// The profile the token belongs to.
    pub async fn me(&self, token: &AccessToken) -> Result<ThreadsProfile, MetaError> {
        let path = format!("{}/me", self.config.graph_version);
        let request = self
            .http
            .get(endpoint(&self.config.graph_url, &path))
            .query(&[
                ("fields", "id,username,name,threads_profile_picture_url"),
                ("access_token", token.expose()),
            ]);
        let body = self.http.send(request).await?;
        serde_json::from_value(unwrap_documented(body)).map_err(|err| unexpected(&err.to_string()))
    }

    /// One page of the profile's posts, newest first.
    pub async fn posts(
        &self,
        token: &AccessToken,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ThreadsPage, MetaError> {
        let path = format!("{}/me/threads", self.config.graph_version);
        let limit = limit.clamp(1, 100).to_string();
        let mut query = vec![
            (
                "fields",
                "id,media_product_type,media_type,media_url,permalink,text,timestamp,shortcode,thumbnail_url,username,is_quote_post",
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
        let body = self.http.send(request).await?;
        let items =
            serde_json::from_value(body.get("data").cloned().unwrap_or(Value::Array(vec![])))
                .map_err(|err| unexpected(&err.to_string()))?;
        Ok(ThreadsPage {
            items,
            after: next_cursor(&body),
        })
    }
}
