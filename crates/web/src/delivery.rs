//! The public token URLs that websites load: `GET /t/{public_id}/token.json`,
//! `GET /t/{public_id}/token.js` (a `const` for a script tag) and `GET /token/{public_id}`
//! (instatokend's shape), each locked to the account's allowed origins.
//!
//! A browser's `fetch` sends `Origin`; a `<script src>` sends only `Referer`, which is cut to
//! its origin before it is matched. A request with neither (a server-side fetch) is served only
//! if the account allows it. Allowed cross-origin requests get CORS headers naming that origin.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use freshtoken_core::AccountStatus;
use freshtoken_core::js::{DEFAULT_CONSTANT, check_constant_name};
use freshtoken_core::origin::{is_localhost_origin, parse_allowed_origins};
use freshtoken_store::{Account, StoreError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// Browsers and CDNs may keep an answer this long. A refreshed token does not invalidate the
/// previous one (it stays valid until its own expiry), so a copy this old is still good.
const MAX_AGE_SECS: u32 = 300;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{public_id}/token.json",
            get(token_json).options(preflight),
        )
        .route("/t/{public_id}/token.js", get(token_js).options(preflight))
        .route("/token/{public_id}", get(instatokend).options(preflight))
}

/// Where a request comes from, as the origin lock sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// `Origin` (from `fetch`) or the origin of `Referer` (from a script tag).
    Browser { origin: String, cors: bool },
    /// Neither header: a server fetching the token for itself.
    Server,
}

fn caller(headers: &HeaderMap) -> Caller {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    if let Some(origin) = text(header::ORIGIN) {
        return Caller::Browser {
            origin: origin.to_owned(),
            cors: true,
        };
    }
    if let Some(referer) = text(header::REFERER) {
        // The page's origin only: its path and query are none of our business.
        let origin = url::Url::parse(referer)
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_else(|_| "null".to_owned());
        return Caller::Browser {
            origin,
            cors: false,
        };
    }
    Caller::Server
}

/// Whether the account serves this caller; the error says why not, for the site's developer.
fn check_origin(account: &Account, caller: &Caller) -> Result<(), ApiError> {
    let origin = match caller {
        Caller::Server if account.allow_no_origin => return Ok(()),
        Caller::Server => {
            return Err(ApiError::Forbidden(
                "this token is only served to browsers on the account's allowed origins (the request has neither Origin nor Referer)".to_owned(),
            ));
        }
        Caller::Browser { origin, .. } => origin,
    };
    if account.allowed_origins.is_empty() {
        return Ok(());
    }
    if account.allow_localhost && is_localhost_origin(origin) {
        return Ok(());
    }
    let patterns = parse_allowed_origins(&account.allowed_origins)
        .map_err(|err| ApiError::internal(StoreError::Corrupt(err.to_string())))?;
    if patterns.iter().any(|pattern| pattern.matches(origin)) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "{origin} is not an allowed origin of this token; add it in the account's settings"
    )))
}

/// The account behind a public id, if it may serve at all.
async fn servable(state: &AppState, public_id: &str) -> Result<Account, ApiError> {
    let account = state
        .store
        .accounts()
        .by_public_id(public_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tenant = state.store.tenants().by_id(account.tenant_id).await?;
    if tenant.disabled_at.is_some() {
        return Err(ApiError::Forbidden(
            "this workspace is disabled by the instance's operator".to_owned(),
        ));
    }
    match account.status {
        AccountStatus::Active => Ok(account),
        AccountStatus::Paused => Err(ApiError::Forbidden(
            "this account is paused by its owner".to_owned(),
        )),
        AccountStatus::NeedsReconnect => Err(ApiError::Gone(
            "this account's token is no longer valid: its owner must connect it again".to_owned(),
        )),
    }
}

/// The token and its expiry, or 410 when it has expired or is gone.
async fn live_token(
    state: &AppState,
    account: &Account,
) -> Result<(String, Option<String>), ApiError> {
    let token = match state.store.tokens().read(account.id).await {
        Ok(token) => token,
        Err(StoreError::NotFound) => {
            return Err(ApiError::Gone(
                "this account has no token: its owner must connect it again".to_owned(),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    if token.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::Gone(
            "this account's token has expired: its owner must connect it again".to_owned(),
        ));
    }
    Ok((
        token.token.expose().to_owned(),
        token.expires_at.map(crate::tenants::rfc3339),
    ))
}

/// A 200 with the delivery headers, or a 304 when the client already holds this body.
fn deliver(
    request_headers: &HeaderMap,
    account: &Account,
    caller: &Caller,
    content_type: &'static str,
    body: String,
) -> Response {
    let digest = Sha256::digest(body.as_bytes());
    let etag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{etag}\"");
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    // A locked token may only be kept by the browser that was allowed it: a shared cache
    // would hand it to pages of other sites (script tags are checked by Referer, which caches
    // do not vary on).
    let cache = if account.allowed_origins.is_empty() && account.allow_no_origin {
        format!("public, max-age={MAX_AGE_SECS}")
    } else {
        format!("private, max-age={MAX_AGE_SECS}")
    };
    if let Ok(value) = HeaderValue::from_str(&cache) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Caller::Browser { origin, cors: true } = caller
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    response
}

async fn token_json(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = servable(&state, &public_id).await?;
    let caller = caller(&headers);
    check_origin(&account, &caller)?;
    let (token, expires_at) = live_token(&state, &account).await?;
    let body = serde_json::json!({ "token": token, "expires_at": expires_at }).to_string();
    Ok(deliver(
        &headers,
        &account,
        &caller,
        "application/json",
        body,
    ))
}

async fn instatokend(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = servable(&state, &public_id).await?;
    let caller = caller(&headers);
    check_origin(&account, &caller)?;
    let (token, _) = live_token(&state, &account).await?;
    let body = serde_json::json!({ "token": token }).to_string();
    Ok(deliver(
        &headers,
        &account,
        &caller,
        "application/json",
        body,
    ))
}

#[derive(Deserialize)]
struct ScriptQuery {
    #[serde(rename = "const")]
    constant: Option<String>,
}

async fn token_js(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    Query(query): Query<ScriptQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = servable(&state, &public_id).await?;
    let name = match &query.constant {
        Some(name) => name.as_str(),
        None => account.js_constant.as_deref().unwrap_or(DEFAULT_CONSTANT),
    };
    check_constant_name(name).map_err(|err| ApiError::invalid(format!("?const: {err}")))?;
    let caller = caller(&headers);
    check_origin(&account, &caller)?;
    let (token, _) = live_token(&state, &account).await?;
    // A JSON string literal is a JavaScript string literal too, with every quote, backslash and
    // line break escaped; `</` is escaped as well so the text is safe inside an inline script.
    let literal = serde_json::Value::from(token)
        .to_string()
        .replace("</", "<\\/");
    let body = format!("const {name} = {literal};\n");
    Ok(deliver(
        &headers,
        &account,
        &caller,
        "text/javascript; charset=utf-8",
        body,
    ))
}

/// Answers a CORS preflight for an allowed origin (a `fetch` with custom headers sends one).
async fn preflight(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = servable(&state, &public_id).await?;
    let caller = caller(&headers);
    check_origin(&account, &caller)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    if let Caller::Browser { origin, .. } = &caller
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    Ok(response)
}
