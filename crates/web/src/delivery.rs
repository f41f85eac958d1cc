//! The public token URLs that websites load: `GET /t/{public_id}/token.json`,
//! `GET /t/{public_id}/token.js` (a `const` for a script tag), `GET /token/{public_id}`
//! (instatokend's shape) and `GET /t/{public_id}/media.json` (the recent posts, so a site can
//! show a feed without holding the token), each locked to the account's allowed origins.
//!
//! A browser's `fetch` sends `Origin`; a `<script src>` sends only `Referer`, which is cut to
//! its origin before it is matched. A request with neither (a server-side fetch) is served only
//! if the account allows it. Allowed cross-origin requests get CORS headers naming that origin.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use freshtoken_core::AccountStatus;
use freshtoken_core::js::{DEFAULT_CONSTANT, check_constant_name};
use freshtoken_core::origin::{is_localhost_origin, parse_allowed_origins};
use freshtoken_store::{Account, StoreError};
use serde::Deserialize;

use crate::auth::sha256_hex;
use crate::{ApiError, AppState};

/// How long a web process answers from its memory before reading the database again: the
/// bound on how late a change made through another process (or a refresh by a worker) shows.
/// Changes made through this process's own API show at once.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Entries kept before expired ones are swept out.
const CACHE_SWEEP_AT: usize = 10_000;

/// What serving an account needs, read once and kept for [`CACHE_TTL`]: the account, whether
/// its workspace is disabled, and its token (decrypted; it only ever lives in memory).
#[derive(Debug, Clone)]
struct Snapshot {
    account: Account,
    tenant_disabled: bool,
    token: Option<(String, Option<DateTime<Utc>>)>,
}

/// When a snapshot was read, and the snapshot (`None`: there is no such account).
type Entry = (Instant, Option<Arc<Snapshot>>);

/// The per-process cache of snapshots by public id.
#[derive(Debug, Default)]
pub struct DeliveryCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// When this process last told the worker that an account's media are wanted.
    media_wanted: Mutex<HashMap<i64, Instant>>,
}

/// How often one process records that an account's media are still wanted.
const MEDIA_WANTED_EVERY: Duration = Duration::from_secs(3600);

impl DeliveryCache {
    fn get(&self, public_id: &str) -> Option<Option<Arc<Snapshot>>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(public_id)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, snapshot)| snapshot.clone())
    }

    fn put(&self, public_id: &str, snapshot: Option<Arc<Snapshot>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_SWEEP_AT {
            entries.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        entries.insert(public_id.to_owned(), (Instant::now(), snapshot));
    }

    /// Forgets the account (by id), so that this process reads it afresh: after an edit, a
    /// pause, a rotation, a reconnect or a delete.
    pub fn forget_account(&self, account_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, snapshot)| {
            snapshot.as_ref().is_none_or(|s| s.account.id != account_id)
        });
    }

    /// Whether to record (again) that the account's media are wanted: once an hour at most,
    /// so that serving media.json does not write to the database on every request.
    fn media_wanted_now(&self, account_id: i64) -> bool {
        let mut wanted = self.media_wanted.lock().unwrap_or_else(|e| e.into_inner());
        if wanted
            .get(&account_id)
            .is_some_and(|at| at.elapsed() < MEDIA_WANTED_EVERY)
        {
            return false;
        }
        if wanted.len() >= CACHE_SWEEP_AT {
            wanted.retain(|_, at| at.elapsed() < MEDIA_WANTED_EVERY);
        }
        wanted.insert(account_id, Instant::now());
        true
    }

    /// Forgets everything (after a change that may touch accounts of many workspaces).
    pub fn forget_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

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
        .route(
            "/t/{public_id}/media.json",
            get(media_json).options(preflight),
        )
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

async fn snapshot(state: &AppState, public_id: &str) -> Result<Option<Arc<Snapshot>>, ApiError> {
    if let Some(cached) = state.delivery.get(public_id) {
        return Ok(cached);
    }
    let snapshot = match state.store.accounts().by_public_id(public_id).await? {
        None => None,
        Some(account) => {
            let tenant = state.store.tenants().by_id(account.tenant_id).await?;
            let token = match state.store.tokens().read(account.id).await {
                Ok(token) => Some((token.token.expose().to_owned(), token.expires_at)),
                Err(StoreError::NotFound) => None,
                Err(err) => return Err(err.into()),
            };
            Some(Arc::new(Snapshot {
                account,
                tenant_disabled: tenant.disabled_at.is_some(),
                token,
            }))
        }
    };
    state.delivery.put(public_id, snapshot.clone());
    Ok(snapshot)
}

/// The account behind a public id, if it may serve at all.
async fn servable(state: &AppState, public_id: &str) -> Result<Arc<Snapshot>, ApiError> {
    let snapshot = snapshot(state, public_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if snapshot.tenant_disabled {
        return Err(ApiError::Forbidden(
            "this workspace is disabled by the instance's operator".to_owned(),
        ));
    }
    match snapshot.account.status {
        AccountStatus::Active => Ok(snapshot),
        AccountStatus::Paused => Err(ApiError::Forbidden(
            "this account is paused by its owner".to_owned(),
        )),
        AccountStatus::NeedsReconnect => Err(ApiError::Gone(
            "this account's token is no longer valid: its owner must connect it again".to_owned(),
        )),
    }
}

/// The token and its expiry, or 410 when it has expired or is gone.
fn live_token(snapshot: &Snapshot) -> Result<(&str, Option<String>), ApiError> {
    let Some((token, expires_at)) = &snapshot.token else {
        return Err(ApiError::Gone(
            "this account has no token: its owner must connect it again".to_owned(),
        ));
    };
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::Gone(
            "this account's token has expired: its owner must connect it again".to_owned(),
        ));
    }
    Ok((token, expires_at.map(crate::tenants::rfc3339)))
}

/// A 200 with the delivery headers, or a 304 when the client already holds this body.
fn deliver(
    request_headers: &HeaderMap,
    account: &Account,
    caller: &Caller,
    content_type: &'static str,
    body: String,
) -> Response {
    // 96 bits of the body's SHA-256 tell every answer apart.
    let etag = format!("\"{}\"", &sha256_hex(&body)[..24]);
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
    serve_json_token(&state, &public_id, &headers, true).await
}

/// instatokend's `{"token": "..."}`, for people switching from it.
async fn instatokend(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve_json_token(&state, &public_id, &headers, false).await
}

async fn serve_json_token(
    state: &AppState,
    public_id: &str,
    headers: &HeaderMap,
    with_expiry: bool,
) -> Result<Response, ApiError> {
    let snapshot = servable(state, public_id).await?;
    let caller = caller(headers);
    check_origin(&snapshot.account, &caller)?;
    let (token, expires_at) = live_token(&snapshot)?;
    let body = if with_expiry {
        serde_json::json!({ "token": token, "expires_at": expires_at })
    } else {
        serde_json::json!({ "token": token })
    };
    let kind = "application/json";
    Ok(deliver(
        headers,
        &snapshot.account,
        &caller,
        kind,
        body.to_string(),
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
    let snapshot = servable(&state, &public_id).await?;
    let account = &snapshot.account;
    let name = match &query.constant {
        Some(name) => name.as_str(),
        None => account.js_constant.as_deref().unwrap_or(DEFAULT_CONSTANT),
    };
    check_constant_name(name).map_err(|err| ApiError::invalid(format!("?const: {err}")))?;
    let caller = caller(&headers);
    check_origin(account, &caller)?;
    let (token, _) = live_token(&snapshot)?;
    // A JSON string literal is a JavaScript string literal too, with every quote, backslash and
    // line break escaped; `</` is escaped as well so the text is safe inside an inline script.
    let literal = serde_json::Value::from(token)
        .to_string()
        .replace("</", "<\\/");
    let body = format!("const {name} = {literal};\n");
    let kind = "text/javascript; charset=utf-8";
    Ok(deliver(&headers, account, &caller, kind, body))
}

/// The account's recent posts, as the worker last synced them: `{"data": [...],
/// "synced_at": ...}`. The first request of an account asks the worker for a sync and gets an
/// empty list (not cached), the next ones get the posts.
async fn media_json(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snapshot = servable(&state, &public_id).await?;
    let caller = caller(&headers);
    check_origin(&snapshot.account, &caller)?;
    let account_id = snapshot.account.id;
    if state.delivery.media_wanted_now(account_id) {
        state
            .store
            .media()
            .mark_requested(account_id, Utc::now())
            .await?;
    }
    let kind = "application/json";
    match state.store.media().get(account_id).await? {
        Some(media) => {
            let body = format!(
                "{{\"data\":{},\"synced_at\":\"{}\"}}",
                media.items,
                crate::tenants::rfc3339(media.synced_at)
            );
            Ok(deliver(&headers, &snapshot.account, &caller, kind, body))
        }
        None => {
            let body = r#"{"data":[],"synced_at":null}"#.to_owned();
            let mut response = deliver(&headers, &snapshot.account, &caller, kind, body);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
    }
}

/// Answers a CORS preflight for an allowed origin (a `fetch` with custom headers sends one).
async fn preflight(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snapshot = servable(&state, &public_id).await?;
    let caller = caller(&headers);
    check_origin(&snapshot.account, &caller)?;
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
