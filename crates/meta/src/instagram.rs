//! Instagram API with Instagram Login: authorize URL, code exchange, long-lived exchange,
//! refresh, profile and media (www.instagram.com, api.instagram.com, graph.instagram.com).

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, RedirectUrl, Scope};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::token_calls;
use crate::{
    AccessToken, AppConfig, Http, LongLivedToken, MetaError, ShortLivedToken, endpoint, unexpected,
    unwrap_documented,
};

/// The scope freshtoken needs: read the profile and media of a professional account.
pub const BASIC_SCOPE: &str = "instagram_business_basic";

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

#[derive(Debug, Clone)]
pub struct InstagramClient {
    http: Http,
    config: AppConfig,
}

impl InstagramClient {
    pub fn new(config: AppConfig) -> Result<InstagramClient, MetaError> {
        Ok(InstagramClient {
            http: Http::new(&config)?,
            config,
        })
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// Where to send a person to log in with Instagram; `state` comes back with the redirect.
    pub fn authorize_url(&self, state: &str) -> Result<Url, MetaError> {
        authorize_url(
            &self.config,
            state,
            BASIC_SCOPE,
            &[("enable_fb_login", "0")],
        )
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
        token_calls::exchange_for_long_lived(&self.http, &self.config, "ig_exchange_token", short)
            .await
    }

    /// Refreshes a long-lived token at least 24 hours old: the answer is valid 60 days from
    /// now. Store the returned token; it may differ from the one sent.
    pub async fn refresh(&self, long: &AccessToken) -> Result<LongLivedToken, MetaError> {
        token_calls::refresh(&self.http, &self.config, "ig_refresh_token", long).await
    }

    /// The account's profile.
    pub async fn me(&self, token: &AccessToken) -> Result<Profile, MetaError> {
        let path = format!("{}/me", self.config.graph_version);
        let request = self.http.get(endpoint(&self.config.graph_url, &path)).query(&[
            ("fields", "user_id,username,name,account_type,profile_picture_url,followers_count,media_count"),
            ("access_token", token.expose()),
        ]);
        let body = self.http.send(request).await?;
        serde_json::from_value(unwrap_documented(body)).map_err(|err| unexpected(&err.to_string()))
    }

    /// One page of the account's recent media; pass the previous page's `after` for the next.
    pub async fn media(
        &self,
        token: &AccessToken,
        after: Option<&str>,
        limit: u32,
    ) -> Result<MediaPage, MetaError> {
        let path = format!("{}/me/media", self.config.graph_version);
        media_page(
            &self.http,
            &self.config.graph_url,
            &path,
            token,
            after,
            limit,
        )
        .await
    }
}

/// The authorize URL of an OAuth login (Instagram, Threads, Facebook), built with the `oauth2`
/// crate. Meta separates scopes with commas: one joined scope keeps oauth2 from adding spaces.
pub(crate) fn authorize_url(
    config: &AppConfig,
    state: &str,
    scopes: &str,
    extra: &[(&str, &str)],
) -> Result<Url, MetaError> {
    authorize_url_at(config, "oauth/authorize", state, scopes, extra)
}

pub(crate) fn authorize_url_at(
    config: &AppConfig,
    path: &str,
    state: &str,
    scopes: &str,
    extra: &[(&str, &str)],
) -> Result<Url, MetaError> {
    let invalid = |what: &str| MetaError::Rejected {
        code: 0,
        message: format!("invalid {what} in the client configuration"),
    };
    let client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(endpoint(&config.oauth_url, path)))
        .set_redirect_uri(
            RedirectUrl::new(config.redirect_uri.clone()).map_err(|_| invalid("redirect_uri"))?,
        );
    let mut request = client
        .authorize_url(|| CsrfToken::new(state.to_owned()))
        .add_scope(Scope::new(scopes.to_owned()));
    for (name, value) in extra {
        request = request.add_extra_param(*name, *value);
    }
    Ok(request.url().0)
}

/// One page of an Instagram media edge (`me/media` on graph.instagram.com, or
/// `{ig-user-id}/media` on graph.facebook.com for a Page's linked account).
pub(crate) async fn media_page(
    http: &Http,
    graph_url: &Url,
    path: &str,
    token: &AccessToken,
    after: Option<&str>,
    limit: u32,
) -> Result<MediaPage, MetaError> {
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
    let request = http.get(endpoint(graph_url, path)).query(&query);
    let body = http.send(request).await?;
    let items = serde_json::from_value(body.get("data").cloned().unwrap_or(Value::Array(vec![])))
        .map_err(|err| unexpected(&err.to_string()))?;
    Ok(MediaPage {
        items,
        after: next_cursor(&body),
    })
}

/// `next` is present only when there is another page; its cursor is in `cursors.after`.
pub(crate) fn next_cursor(body: &Value) -> Option<String> {
    body.pointer("/paging/next")
        .and_then(|_| body.pointer("/paging/cursors/after"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}
