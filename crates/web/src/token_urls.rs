//! The public token URLs that websites load: `GET /t/{public_id}/token.json`,
//! `GET /t/{public_id}/token.js` (a `const` for a script tag), `GET /token/{public_id}`
//! (instatokend's shape, also by the alias an instatokend import kept), `GET /t/{public_id}/token`
//! (the bare token as text, as Instagram Token Agent answered) and `GET /t/{public_id}/media.json` (the recent posts, so a site can
//! show a feed without holding the token), each locked to the account's allowed origins.
//!
//! A browser's `fetch` sends `Origin`; a `<script src>` sends only `Referer`, which is cut to
//! its origin before it is matched. A request with neither is refused unless the account is
//! public: any page can make a browser send neither (`referrerpolicy="no-referrer"`), so such
//! a request proves nothing. Servers (a static-site build, a backend) ask with an API key of the
//! workspace (`Authorization: Bearer`, scope `tokens:read`), served whatever the origins.
//! Allowed cross-origin requests get CORS headers naming that origin; refusals are readable
//! too (CORS on the JSON error; a `token.js` refusal is a script that logs why).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use freshtoken_core::ApiKeyScope;
use freshtoken_core::js::check_constant_name;
use serde::Deserialize;

use crate::bearer;
use crate::client_address::ClientAddress;
use crate::delivery::{Ready, Refusal, ready_media};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{public_id}/token.json",
            get(token_json).options(preflight),
        )
        .route("/t/{public_id}/token.js", get(token_js).options(preflight))
        .route("/t/{public_id}/token", get(token_text).options(preflight))
        .route("/token/{public_id}", get(instatokend).options(preflight))
        .route(
            "/t/{public_id}/media.json",
            get(media_json).options(preflight),
        )
}

/// Where a request comes from, as the origin lock sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// `Origin` (from `fetch`) or the origin of `Referer` (from a script tag): the request's
    /// own header value where it can be, echoed in CORS without a copy.
    Browser { origin: HeaderValue, cors: bool },
    /// Neither header: a server, a tool, or a page that hides its referrer. Only a public
    /// account serves it, since anything can send no headers.
    Headerless,
    /// An API key of a workspace with the `tokens:read` scope: a static-site build or a
    /// backend, served whatever the account's origins.
    Key { tenant_id: i64 },
}

/// Who asks: an API key if the request carries one (checked now, so a bad key is a 401), else
/// what its `Origin` or `Referer` say.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if let Some(secret) = bearer::bearer_secret(headers) {
        // Boxed, like every read of the database on these routes: a request answered from
        // memory then carries a small future, not the queries' large ones (a multi-kilobyte
        // allocation and copy per request otherwise).
        let key = Box::pin(bearer::authenticate(state, secret)).await?;
        bearer::require(&key, ApiKeyScope::TokensRead)?;
        return Ok(Caller::Key {
            tenant_id: key.tenant_id,
        });
    }
    Ok(browser_caller(headers))
}

fn browser_caller(headers: &HeaderMap) -> Caller {
    let text = |name| {
        headers.get(name).and_then(|value| {
            let text = value.to_str().ok()?.trim();
            (!text.is_empty()).then_some((value, text))
        })
    };
    if let Some((value, origin)) = text(header::ORIGIN) {
        // HTTP parsers drop the spaces around a value already, so this is the header itself.
        let origin = if origin.len() == value.len() {
            value.clone()
        } else {
            HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("null"))
        };
        return Caller::Browser { origin, cors: true };
    }
    if let Some((_, referer)) = text(header::REFERER) {
        // The page's origin only: its path and query are none of our business.
        let origin = url::Url::parse(referer)
            .ok()
            .and_then(|url| HeaderValue::from_str(&url.origin().ascii_serialization()).ok())
            .unwrap_or(HeaderValue::from_static("null"));
        return Caller::Browser {
            origin,
            cors: false,
        };
    }
    Caller::Headerless
}

/// A browser caller's origin as text (visible ASCII, checked when it was read).
fn origin_text(origin: &HeaderValue) -> &str {
    origin.to_str().unwrap_or("null")
}

/// Whether the account serves this caller; the error says why not, for the site's developer
/// (a refused `token.js` prints it in the browser's console).
fn check_origin(ready: &Ready, caller: &Caller) -> Result<(), ApiError> {
    match caller {
        _ if ready.is_public() => Ok(()),
        Caller::Key { tenant_id } if *tenant_id == ready.tenant_id() => Ok(()),
        Caller::Key { .. } => Err(ApiError::Forbidden(
            "this API key belongs to another workspace than this token".to_owned(),
        )),
        Caller::Browser { origin, .. } if ready.allows(origin_text(origin)) => Ok(()),
        _ if !ready.names_sites() => Err(ApiError::Forbidden(
            "this token is not served to any site yet: add your site to the account's allowed origins in the dashboard".to_owned(),
        )),
        Caller::Browser { origin, .. } => Err(ApiError::Forbidden(format!(
            "{} is not an allowed origin of this token; add it in the dashboard",
            origin_text(origin)
        ))),
        Caller::Headerless => Err(ApiError::Forbidden(
            "the request carries neither Origin nor Referer, so it cannot be matched to an allowed site (a page with referrerpolicy=\"no-referrer\" sends neither); servers fetch the token with an API key of scope tokens:read".to_owned(),
        )),
    }
}

/// The ready answers of a public id: from memory, or read and kept.
async fn ready(state: &AppState, public_id: &str) -> Result<Option<Arc<Ready>>, ApiError> {
    if let Some(cached) = state.delivery.cache.get(public_id) {
        return Ok(cached);
    }
    // Boxed: see `caller`.
    Box::pin(read_ready(state, public_id)).await
}

/// Reads the ready answers of a public id from the database, and keeps them.
async fn read_ready(state: &AppState, public_id: &str) -> Result<Option<Arc<Ready>>, ApiError> {
    let cache = &state.delivery.cache;
    let began = Instant::now();
    let Some(account) = state.store.accounts().by_public_id(public_id).await? else {
        cache.put_unknown(public_id);
        return Ok(None);
    };
    let tenant = state.store.tenants().by_id(account.tenant_id).await?;
    let token = match state.store.tokens().read(account.id).await {
        Ok(token) => Some(token),
        Err(freshtoken_store::StoreError::NotFound) => None,
        Err(err) => return Err(err.into()),
    };
    let token = token
        .as_ref()
        .map(|token| (token.token.expose(), token.expires_at));
    let ready = Arc::new(Ready::build(
        public_id,
        &account,
        tenant.disabled_at.is_some(),
        token,
    )?);
    cache.put(&ready, began);
    Ok(Some(ready))
}

/// Lets a request through to an account's answers, or says why not: the rate limits, then the
/// caller's key (if any), then the account's state, then its origin lock. Refusals of a known
/// account are counted for it, header-less ones apart.
async fn admit(
    state: &AppState,
    public_id: &str,
    client: IpAddr,
    headers: &HeaderMap,
) -> Result<(Arc<Ready>, Caller), ApiError> {
    let delivery = &state.delivery;
    delivery
        .per_address
        .check(client)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    let caller = caller(state, headers).await?;
    let ready = ready(state, public_id).await?.ok_or(ApiError::NotFound)?;
    let admitted = delivery
        .per_account
        .check(ready.account_id())
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })
        .and_then(|()| check_state(&ready))
        .and_then(|()| check_origin(&ready, &caller));
    if admitted.is_err() {
        count_refusal(state, &ready, &caller);
    }
    admitted.map(|()| (ready, caller))
}

fn count_refusal(state: &AppState, ready: &Ready, caller: &Caller) {
    if *caller == Caller::Headerless {
        state.delivery.counts.refused_no_origin(ready.account_id());
    } else {
        state.delivery.counts.refused(ready.account_id());
    }
}

fn check_state(ready: &Ready) -> Result<(), ApiError> {
    match ready.refusal {
        None => Ok(()),
        Some(Refusal::WorkspaceDisabled) => Err(ApiError::Forbidden(
            "this workspace is disabled by the instance's operator".to_owned(),
        )),
        Some(Refusal::Paused) => Err(ApiError::Forbidden(
            "this account is paused by its owner".to_owned(),
        )),
        Some(Refusal::NeedsReconnect) => Err(ApiError::Gone(
            "this account's token is no longer valid: its owner must connect it again".to_owned(),
        )),
    }
}

/// 410 unless the account has a token that has not expired.
fn check_token(ready: &Ready) -> Result<(), ApiError> {
    if !ready.has_token() {
        return Err(ApiError::Gone(
            "this account has no token: its owner must connect it again".to_owned(),
        ));
    }
    if ready.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::Gone(
            "this account's token has expired: its owner must connect it again".to_owned(),
        ));
    }
    Ok(())
}

/// Admits a request for the token itself: [`admit`], then [`check_token`].
async fn admit_token(
    state: &AppState,
    public_id: &str,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<(Arc<Ready>, Caller), ApiError> {
    let (ready, caller) = admit(state, public_id, peer, headers).await?;
    if let Err(err) = check_token(&ready) {
        count_refusal(state, &ready, &caller);
        return Err(err);
    }
    Ok((ready, caller))
}

/// A 200 with the delivery headers, or a 304 when the client already holds this body.
fn deliver(
    request_headers: &HeaderMap,
    public: bool,
    caller: &Caller,
    content_type: &'static str,
    etag: HeaderValue,
    body: Bytes,
) -> Response {
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim().as_bytes() == etag.as_bytes() || tag.trim() == "*")
        });
    let mut response = if fresh {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(Body::from(body))
    };
    let headers = response.headers_mut();
    // Room for these and the security headers added on the way out, allocated once.
    headers.reserve(16);
    if !fresh {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::ETAG, etag);
    // A locked token may only be kept by the browser that was allowed it: a shared cache
    // would hand it to pages of other sites (script tags are checked by Referer, which caches
    // do not vary on). An answer to an API key is kept by nobody.
    let (cache, vary) = match caller {
        Caller::Key { .. } => (NO_STORE, LOCKED_VARY),
        _ if public => (PUBLIC_CACHE, PUBLIC_VARY),
        _ => (PRIVATE_CACHE, LOCKED_VARY),
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static(vary));
    if let Caller::Browser { origin, cors: true } = caller {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    response
}

/// Browsers and CDNs may keep an answer five minutes. A refreshed token does not invalidate
/// the previous one (it stays valid until its own expiry), so a copy this old is still good.
const PUBLIC_CACHE: &str = "public, max-age=300";
const PRIVATE_CACHE: &str = "private, max-age=300";
const NO_STORE: &str = "no-store";
/// A public answer is the same for everyone but names the caller's origin in CORS; a locked
/// one is decided by `Origin` or, for script tags, `Referer`.
const PUBLIC_VARY: &str = "Origin";
const LOCKED_VARY: &str = "Origin, Referer";

/// A refused `token.json`, `media.json` or `/token/`: the JSON error, readable by the page's
/// `fetch()` (CORS headers echo its origin, refused or not: the body holds no token), kept by
/// nobody.
fn refused_json(error: ApiError, request_headers: &HeaderMap) -> Response {
    let mut response = error.into_response();
    let headers = response.headers_mut();
    if let Some(origin) = request_headers.get(header::ORIGIN) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    headers.insert(header::VARY, HeaderValue::from_static(LOCKED_VARY));
    response
}

/// A refused `token.js`: a 200 (browsers run no script from any other status, so the page's
/// developer would see nothing) whose script says why in the console and defines nothing.
fn refused_script(error: &ApiError) -> Response {
    let message = serde_json::Value::from(format!("freshtoken: {error}"))
        .to_string()
        .replace("</", "<\\/");
    let mut response = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        format!("console.error({message});\n"),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    headers.insert(header::VARY, HeaderValue::from_static(LOCKED_VARY));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

// The handlers take the whole request, last, to read its headers in place: the `HeaderMap`
// extractor copies them, on every request of the busiest routes.

async fn token_json(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    ClientAddress(peer): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers();
    serve_token(&state, &public_id, peer, headers, TokenShape::Json)
        .await
        .unwrap_or_else(|error| refused_json(error, headers))
}

/// instatokend's `{"token": "..."}` at `/token/{name}`, for people switching from it: `name`
/// is the account's public id, or the name instatokend's config gave it, which
/// `admin import-instatokend` keeps as its alias so that migrated sites change nothing.
async fn instatokend(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ClientAddress(peer): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers();
    let served = async {
        let public_id = instatokend_public_id(&state, &name, peer).await?;
        serve_token(&state, &public_id, peer, headers, TokenShape::Instatokend).await
    };
    served
        .await
        .unwrap_or_else(|error| refused_json(error, headers))
}

/// The public id `/token/{name}` means: `name` itself when an account has it, else the
/// account whose alias it is. A name that is no public id costs a read of the database, so
/// it is also held to the per-address limit (those requests count twice there).
async fn instatokend_public_id(
    state: &AppState,
    name: &str,
    client: IpAddr,
) -> Result<String, ApiError> {
    if ready(state, name).await?.is_some() {
        return Ok(name.to_owned());
    }
    state
        .delivery
        .per_address
        .check(client)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    Ok(Box::pin(state.store.accounts().public_id_by_alias(name))
        .await?
        .unwrap_or_else(|| name.to_owned()))
}

/// The bare token as `text/plain`, as Instagram Token Agent's `/token` answered it, for
/// people switching from it (same lock, caching and counting as `token.json`).
async fn token_text(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    ClientAddress(peer): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers();
    serve_token(&state, &public_id, peer, headers, TokenShape::Text)
        .await
        .unwrap_or_else(|error| refused_json(error, headers))
}

/// The shapes the token itself is served in (`token.js` apart, which refuses differently).
#[derive(Debug, Clone, Copy)]
enum TokenShape {
    /// `token.json`: `{"token", "expires_at", "kind"}`.
    Json,
    /// instatokend's `{"token": "..."}`.
    Instatokend,
    /// Token Agent's bare token, as text.
    Text,
}

impl TokenShape {
    /// The content type, ETag and body of this shape of the ready answer (`token.json`'s
    /// straight from the entry, nothing copied).
    fn of(self, ready: &Ready) -> (&'static str, HeaderValue, Bytes) {
        match self {
            TokenShape::Json => ("application/json", ready.json_etag(), ready.token_json()),
            TokenShape::Instatokend => (
                "application/json",
                etag(format!("\"{}-i\"", ready.tag())),
                format!("{{\"token\":{}}}", ready.literal()).into(),
            ),
            TokenShape::Text => (
                "text/plain; charset=utf-8",
                etag(format!("\"{}-t\"", ready.tag())),
                // The token as it is: the literal's quotes and escapes undone.
                serde_json::from_str::<String>(ready.literal())
                    .unwrap_or_default()
                    .into(),
            ),
        }
    }
}

async fn serve_token(
    state: &AppState,
    public_id: &str,
    peer: IpAddr,
    headers: &HeaderMap,
    shape: TokenShape,
) -> Result<Response, ApiError> {
    let (ready, caller) = admit_token(state, public_id, peer, headers).await?;
    state.delivery.counts.served(ready.account_id());
    let (kind, etag, body) = shape.of(&ready);
    Ok(deliver(
        headers,
        ready.is_public(),
        &caller,
        kind,
        etag,
        body,
    ))
}

/// An ETag header from its text (hex digits, letters, digits, `_`, `$`, `-` and quotes only).
fn etag(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static("\"\""))
}

#[derive(Deserialize)]
struct ScriptQuery {
    #[serde(rename = "const")]
    constant: Option<String>,
}

async fn token_js(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    RawQuery(query): RawQuery,
    ClientAddress(peer): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers();
    // Parsed here rather than by axum's `Query`, whose refusal is plain text: a bad query is
    // told in the console like every other refusal.
    let constant = serde_urlencoded::from_str::<ScriptQuery>(query.as_deref().unwrap_or(""))
        .map(|query| query.constant)
        .map_err(|err| ApiError::invalid(format!("the query string: {err}")));
    let served = match constant {
        Ok(constant) => {
            serve_token_js(&state, &public_id, constant.as_deref(), peer, headers).await
        }
        Err(err) => Err(err),
    };
    served.unwrap_or_else(|error| refused_script(&error))
}

async fn serve_token_js(
    state: &AppState,
    public_id: &str,
    constant: Option<&str>,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(name) = constant {
        check_constant_name(name).map_err(|err| ApiError::invalid(format!("?const: {err}")))?;
    }
    let (ready, caller) = admit_token(state, public_id, peer, headers).await?;
    let name = match constant {
        Some(name) => name,
        None => ready.js_constant().unwrap_or(ready.kind.default_constant()),
    };
    // A saved name was checked when it was saved; a bad one in the database is our fault.
    check_constant_name(name)
        .map_err(|err| ApiError::invalid(format!("the account's constant name: {err}")))?;
    state.delivery.counts.served(ready.account_id());
    // A JSON string literal is a JavaScript string literal too, with every quote, backslash and
    // line break escaped; `</` is escaped as well so the text is safe inside an inline script.
    let literal = ready.literal().replace("</", "<\\/");
    let body = format!("const {name} = {literal};\n");
    // The name is a valid identifier: letters, digits, `_` and `$` only, all safe in an ETag.
    let etag = etag(format!("\"{}-js-{name}\"", ready.tag()));
    let kind = "text/javascript; charset=utf-8";
    Ok(deliver(
        headers,
        ready.is_public(),
        &caller,
        kind,
        etag,
        body.into(),
    ))
}

/// The account's recent posts, as the worker last synced them: `{"data": [...],
/// "synced_at": ...}`. The first request of an account asks the worker for a sync and gets an
/// empty list (not to be cached), the next ones get the posts.
async fn media_json(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    ClientAddress(peer): ClientAddress,
    request: Request,
) -> Response {
    let headers = request.headers();
    serve_media_json(&state, &public_id, peer, headers)
        .await
        .unwrap_or_else(|error| refused_json(error, headers))
}

async fn serve_media_json(
    state: &AppState,
    public_id: &str,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (ready, caller) = admit(state, public_id, peer, headers).await?;
    let account_id = ready.account_id();
    if state.delivery.media_wanted_now(account_id) {
        state
            .store
            .media()
            .mark_requested(ready.proof(), Utc::now())
            .await?;
    }
    let media = match state.delivery.cache.media(account_id) {
        Some(media) => media,
        None => {
            let began = Instant::now();
            let media = Arc::new(ready_media(state.store.media().get(ready.proof()).await?));
            state.delivery.cache.put_media(account_id, &media, began);
            media
        }
    };
    state.delivery.counts.served(account_id);
    let kind = "application/json";
    let mut response = deliver(
        headers,
        ready.is_public(),
        &caller,
        kind,
        media.etag.clone(),
        media.body.clone(),
    );
    if !media.synced {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
    Ok(response)
}

/// Answers a CORS preflight for an allowed origin (a `fetch` with custom headers sends one).
async fn preflight(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    ClientAddress(peer): ClientAddress,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let (_, caller) = admit(&state, &public_id, peer, headers).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    if let Caller::Browser { origin, .. } = &caller {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
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
    out.insert(header::VARY, HeaderValue::from_static(LOCKED_VARY));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests::store_with_accounts;
    use crate::state::WebConfig;
    use tower::ServiceExt;

    async fn get(app: &Router, public_id: &str, origin: Option<&str>) -> (StatusCode, String) {
        let mut request = axum::http::Request::get(format!("/t/{public_id}/token.json"));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn accounts_beyond_the_cache_limit_are_served_from_the_database() {
        let (store, ids) = store_with_accounts(120, &["https://shop.example"]).await;
        let mut config = WebConfig::new("http://localhost:8080".parse().unwrap());
        config.delivery_limits.per_address = 0;
        config.delivery_limits.cache_entries = 40;
        let state = AppState::new(store.clone(), config);
        state.delivery.cache.set_following(true);
        let app = routes().with_state(state.clone());
        for round in 0..2 {
            for (n, id) in ids.iter().enumerate() {
                let (status, body) = get(&app, id, Some("https://shop.example")).await;
                assert_eq!(status, StatusCode::OK, "round {round}, account {n}: {body}");
                assert!(
                    body.starts_with(&format!("{{\"token\":\"token-{n}\"")),
                    "round {round}, account {n}: {body}"
                );
            }
        }
        let (entries, _) = state.delivery.cache.entries_and_capacity();
        assert!(entries <= 40, "{entries} entries");
        let (hits, misses) = state.delivery.cache.hits_and_misses();
        assert_eq!(hits + misses, 240);
        assert!(misses >= 120 + 80, "{misses} misses");
        // Locked all the same, from memory or not.
        let (status, _) = get(&app, &ids[0], Some("https://elsewhere.example")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = get(&app, &ids[119], None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
