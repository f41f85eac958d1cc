//! The token calls Instagram Login and Threads share: one shape each, on the platform's own
//! hosts, with its own grant types (`ig_...` or `th_...`).

use crate::{
    AccessToken, AppConfig, Http, LongLivedToken, MetaError, ShortLivedToken, endpoint, long_lived,
    short_lived,
};

/// Exchanges the code from a login's redirect for a short-lived token (`POST
/// oauth/access_token`, a form).
pub(crate) async fn exchange_code(
    http: &Http,
    config: &AppConfig,
    code: &str,
) -> Result<ShortLivedToken, MetaError> {
    // The platform appends `#_` to the redirect; a pasted URL may carry it into the code.
    let code = code.trim().trim_end_matches("#_");
    let form = [
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", config.redirect_uri.as_str()),
        ("code", code),
    ];
    let request = http
        .post(endpoint(&config.api_url, "oauth/access_token"))
        .form(&form);
    short_lived(http.send(request).await?)
}

/// Exchanges a short-lived token for a long-lived one (60 days): `GET access_token`,
/// unversioned, with `grant_type` (`ig_exchange_token` or `th_exchange_token`).
pub(crate) async fn exchange_for_long_lived(
    http: &Http,
    config: &AppConfig,
    grant_type: &str,
    short: &AccessToken,
) -> Result<LongLivedToken, MetaError> {
    let request = http
        .get(endpoint(&config.graph_url, "access_token"))
        .query(&[
            ("grant_type", grant_type),
            ("client_secret", config.client_secret.as_str()),
            ("access_token", short.expose()),
        ]);
    long_lived(http.send(request).await?)
}

/// Refreshes a long-lived token at least 24 hours old (valid 60 days from now):
/// `GET refresh_access_token`, unversioned, with `grant_type` (`ig_refresh_token` or
/// `th_refresh_token`). The answer's token may differ from the one sent.
pub(crate) async fn refresh(
    http: &Http,
    config: &AppConfig,
    grant_type: &str,
    long: &AccessToken,
) -> Result<LongLivedToken, MetaError> {
    let request = http
        .get(endpoint(&config.graph_url, "refresh_access_token"))
        .query(&[("grant_type", grant_type), ("access_token", long.expose())]);
    long_lived(http.send(request).await?)
}
