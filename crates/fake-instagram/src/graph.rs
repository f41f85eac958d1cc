//! graph.instagram.com and graph.facebook.com: long-lived exchange, refresh, profile, media,
//! and the Facebook Login page-token calls. Paths may carry a version (`/v23.0/me`) or not.

use std::collections::HashMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::Shared;
use crate::state::{
    CODE_LIFETIME_SECS, FaultKind, LONG_LIVED_EXPIRES_IN, MIN_REFRESH_AGE_SECS, Platform,
    SHORT_LIVED_SECS, State as World, Token, TokenKind, random_string,
};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/{*path}", get(graph))
        .layer(axum::middleware::map_response(readable_anywhere))
}

/// Graph answers, errors included, carry `Access-Control-Allow-Origin: *` as Instagram's do,
/// so that a browser client (instafeed.js with a token) works against the fake.
async fn readable_anywhere(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

/// A Graph error: `{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}`.
pub struct GraphError {
    status: StatusCode,
    code: u32,
    subcode: Option<u32>,
    kind: &'static str,
    message: String,
}

pub fn graph_error(
    status: StatusCode,
    code: u32,
    subcode: Option<u32>,
    kind: &'static str,
    message: &str,
) -> GraphError {
    GraphError {
        status,
        code,
        subcode,
        kind,
        message: message.to_owned(),
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": format!("A{}", random_string(22)),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }
}

/// Code 100, Instagram's answer to a parameter it does not accept.
fn invalid_parameter(message: &str) -> GraphError {
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        None,
        "IGApiException",
        message,
    )
}

fn revoked_error(subcode: u32) -> GraphError {
    let message = match subcode {
        463 => "Error validating access token: Session has expired.",
        460 => {
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
        }
        458 => "Error validating access token: The user has not authorized application.",
        _ => "Error validating access token: The session is invalid.",
    };
    graph_error(
        StatusCode::BAD_REQUEST,
        190,
        Some(subcode),
        "OAuthException",
        message,
    )
}

fn usage_headers(
    response: &mut Response,
    app_percent: u32,
    user_percent: u32,
    regain_minutes: u32,
    user_key: Option<&str>,
) {
    let app = json!({"call_count": app_percent, "total_time": app_percent / 2, "total_cputime": app_percent / 2}).to_string();
    if let Ok(value) = HeaderValue::from_str(&app) {
        response.headers_mut().insert("x-app-usage", value);
    }
    if let Some(key) = user_key {
        let buc = json!({ key: [{"type": "instagram", "call_count": user_percent, "total_cputime": user_percent / 2, "total_time": user_percent / 2, "estimated_time_to_regain_access": regain_minutes}] }).to_string();
        if let Ok(value) = HeaderValue::from_str(&buc) {
            response
                .headers_mut()
                .insert("x-business-use-case-usage", value);
        }
    }
}

fn rate_limit_error(code: u32, regain_minutes: u32, user_key: Option<&str>) -> Response {
    let message = match code {
        4 => "Application request limit reached",
        17 => "User request limit reached",
        32 => "Page request limit reached",
        _ => "Calls to this api have exceeded the rate limit.",
    };
    let mut response = graph_error(
        StatusCode::BAD_REQUEST,
        code,
        None,
        "OAuthException",
        message,
    )
    .into_response();
    usage_headers(&mut response, 100, 100, regain_minutes, user_key);
    response
}

/// What a fault answers; `None` for a delay, after which the call proceeds normally.
pub async fn fault_response(fault: FaultKind, user_key: Option<&str>) -> Option<Response> {
    Some(match fault {
        FaultKind::ServerError => graph_error(StatusCode::INTERNAL_SERVER_ERROR, 1, None, "OAuthException", "An unknown error occurred").into_response(),
        FaultKind::Html => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><head><title>Error</title></head><body>Sorry, something went wrong.</body></html>",
        )
            .into_response(),
        FaultKind::Empty => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "").into_response(),
        FaultKind::Delay { ms } => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            return None;
        }
        FaultKind::Reset => {
            // Headers, then a body that fails: the server drops the connection mid-answer.
            let stream = futures_util::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("connection reset by fake-instagram")) });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap_or_default()
        }
        FaultKind::Revoked { subcode } => revoked_error(subcode).into_response(),
        FaultKind::RateLimit { code, regain_minutes } => rate_limit_error(code, regain_minutes, user_key),
        FaultKind::Error { code, message } => graph_error(StatusCode::BAD_REQUEST, code, None, "IGApiException", &message).into_response(),
    })
}

/// The token a call carries: `access_token` in the query, or `Authorization: Bearer`.
fn token_of(params: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    params.get("access_token").cloned().or_else(|| {
        headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
            .map(str::to_owned)
    })
}

/// Strips an optional version segment: `v23.0/me/media` -> `me/media`.
fn unversioned(path: &str) -> &str {
    let path = path.trim_matches('/');
    match path.split_once('/') {
        Some((first, rest)) if is_version(first) => rest,
        None if is_version(path) => "",
        _ => path,
    }
}

fn is_version(segment: &str) -> bool {
    segment.strip_prefix('v').is_some_and(|rest| {
        rest.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn requested_fields(params: &HashMap<String, String>) -> Vec<String> {
    params
        .get("fields")
        .map(|fields| {
            fields
                .split(',')
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

async fn graph(
    State(shared): State<Shared>,
    Path(path): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let route = unversioned(&path).to_owned();
    if route == "dialog/oauth" {
        // www.facebook.com's login dialog, on the same address as everything else.
        return crate::oauth::login_page(&shared, params, Platform::Facebook, uri.path());
    }
    let token = token_of(&params, &headers);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("graph.instagram.com")
        .to_owned();

    let (fault, username) = {
        let mut world = shared.lock();
        let username = token
            .as_deref()
            .and_then(|t| world.tokens.get(t))
            .map(|t| t.username.clone());
        (
            world.take_fault(&route, token.as_deref(), username.as_deref()),
            username,
        )
    };
    let user_key = username
        .as_deref()
        .map(|u| format!("{}", u.len() * 1_000_003));
    if let Some(fault) = fault
        && let Some(response) = fault_response(fault, user_key.as_deref()).await
    {
        shared.lock().record(
            "GET",
            uri.path(),
            &params,
            username.as_deref(),
            response.status().as_u16(),
        );
        return response;
    }

    let mut world = shared.lock();
    let (broken, app_percent, user_percent) = world.count_call(username.as_deref());
    let mut response = match broken {
        Some(code) => rate_limit_error(code, 60, user_key.as_deref()),
        None => answer(
            &shared,
            &mut world,
            &route,
            token.as_deref(),
            &params,
            &host,
            uri.path(),
        ),
    };
    if broken.is_none() {
        usage_headers(
            &mut response,
            app_percent,
            user_percent,
            0,
            user_key.as_deref(),
        );
    }
    world.record(
        "GET",
        uri.path(),
        &params,
        username.as_deref(),
        response.status().as_u16(),
    );
    response
}

/// Checks the token: known, not revoked, not expired.
fn valid_token(world: &World, token: Option<&str>) -> Result<(String, Token), GraphError> {
    let Some(value) = token else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            2500,
            None,
            "OAuthException",
            "An active access token must be used to query information about the current user.",
        ));
    };
    let Some(found) = world.tokens.get(value) else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        ));
    };
    if let Some(subcode) = found.revoked {
        return Err(revoked_error(subcode));
    }
    if found.expires_at.is_some_and(|at| at <= world.now()) {
        return Err(revoked_error(463));
    }
    Ok((value.to_owned(), found.clone()))
}

fn long_lived_body(token: &str, expires_in: i64) -> Response {
    axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}))
        .into_response()
}

fn answer(
    shared: &Shared,
    world: &mut World,
    route: &str,
    token: Option<&str>,
    params: &HashMap<String, String>,
    host: &str,
    path: &str,
) -> Response {
    let result = match route {
        "access_token" => exchange_long_lived(shared, world, token, params),
        "refresh_access_token" => refresh(world, token, params),
        "me" => me(world, token, params, &shared.pictures),
        "me/media" => media(
            world,
            token,
            params,
            (host, path, &shared.pictures),
            MediaOf::Token,
        ),
        "me/threads" => threads(world, token, params, &shared.pictures),
        "oauth/access_token" if params.contains_key("code") => {
            facebook_code_exchange(shared, world, params)
        }
        "oauth/access_token" => facebook_exchange(shared, world, params),
        "debug_token" => debug_token(shared, world, params),
        other => match other.split_once('/') {
            Some((_, "accounts")) => pages(world, token),
            Some((account, "media")) => media(
                world,
                token,
                params,
                (host, path, &shared.pictures),
                MediaOf::LinkedAccount(account),
            ),
            None if !other.is_empty() => page(world, token, other, params),
            _ => Err(unknown_path()),
        },
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn unknown_path() -> GraphError {
    graph_error(
        StatusCode::BAD_REQUEST,
        2500,
        None,
        "OAuthException",
        "Unknown path components",
    )
}

fn exchange_long_lived(
    shared: &Shared,
    world: &mut World,
    token: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<Response, GraphError> {
    let (short, long) = match params.get("grant_type").map(String::as_str) {
        Some("ig_exchange_token") => (TokenKind::ShortLived, TokenKind::LongLived),
        Some("th_exchange_token") => (TokenKind::ThreadsShort, TokenKind::ThreadsLong),
        _ => return Err(invalid_parameter("Unsupported grant_type")),
    };
    if params.get("client_secret") != Some(&shared.config.app_secret) {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "OAuthException",
            "Error validating client secret.",
        ));
    }
    let (_, found) = valid_token(world, token)?;
    if found.kind != short {
        return Err(invalid_parameter(
            "Only short-lived tokens can be exchanged",
        ));
    }
    // Demo mode hands out tokens already old enough to refresh (`issued_token_age`).
    let age = chrono::Duration::from_std(shared.config.issued_token_age)
        .unwrap_or(chrono::Duration::zero())
        .min(chrono::Duration::seconds(LONG_LIVED_EXPIRES_IN - 3600));
    let issued_at = world.now() - age;
    let (long, _) = world.issue_token(&found.username, long, issued_at);
    Ok(long_lived_body(
        &long,
        LONG_LIVED_EXPIRES_IN - age.num_seconds(),
    ))
}

fn refresh(
    world: &mut World,
    token: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<Response, GraphError> {
    let long = match params.get("grant_type").map(String::as_str) {
        Some("ig_refresh_token") => TokenKind::LongLived,
        Some("th_refresh_token") => TokenKind::ThreadsLong,
        _ => return Err(invalid_parameter("Unsupported grant_type")),
    };
    let (value, found) = valid_token(world, token)?;
    if found.kind != long {
        return Err(invalid_parameter("Only long-lived tokens can be refreshed"));
    }
    let now = world.now();
    if (now - found.issued_at).num_seconds() < MIN_REFRESH_AGE_SECS {
        // Real message unknown (see docs/instagram.md); our scheduler never asks this early.
        return Err(invalid_parameter(
            "The access token is not yet eligible for refresh: it must be at least 24 hours old",
        ));
    }
    if world.refresh_rotates_token {
        // The old token stays valid until its own expiry, as Instagram appears to behave.
        let (new, _) = world.issue_token(&found.username, long, now);
        Ok(long_lived_body(&new, LONG_LIVED_EXPIRES_IN))
    } else {
        let (_, fresh) = world.issue_token(&found.username, long, now);
        world.tokens.insert(value.clone(), fresh);
        Ok(long_lived_body(&value, LONG_LIVED_EXPIRES_IN))
    }
}

fn me(
    world: &mut World,
    token: Option<&str>,
    params: &HashMap<String, String>,
    pictures: &str,
) -> Result<Response, GraphError> {
    let (_, found) = valid_token(world, token)?;
    let user = world.user(&found.username).clone();
    match found.kind {
        TokenKind::FacebookShort | TokenKind::FacebookLong => {
            return Ok(
                axum::Json(json!({"name": user.name, "id": user.facebook_user_id})).into_response(),
            );
        }
        // Asked with a Page token, `/me` is the Page.
        TokenKind::Page => {
            let page_id = found.page_id.clone().unwrap_or_default();
            let name = world
                .pages_of(&found.username)
                .into_iter()
                .find(|(id, _, _)| *id == page_id)
                .map(|(_, name, _)| name)
                .unwrap_or_default();
            return Ok(axum::Json(json!({"name": name, "id": page_id})).into_response());
        }
        TokenKind::ThreadsShort | TokenKind::ThreadsLong => {
            return threads_me(&user, params, pictures);
        }
        TokenKind::ShortLived | TokenKind::LongLived => {}
    }
    let mut body = json!({"id": user.id.to_string()});
    for field in requested_fields(params) {
        let value = match field.as_str() {
            "user_id" => json!(user.professional_id),
            "username" => json!(user.username),
            "name" => json!(user.name),
            "account_type" => json!(user.account_type),
            "profile_picture_url" => json!(format!("{pictures}{}", user.picture)),
            "followers_count" => json!(1234),
            "media_count" => json!(user.media.len()),
            "id" => continue,
            _ => {
                return Err(invalid_parameter(&format!(
                    "Tried accessing nonexisting field ({field}) on node type (User)"
                )));
            }
        };
        body[field] = value;
    }
    Ok(axum::Json(body).into_response())
}

/// Whose posts `media` lists: the token's own Instagram account (graph.instagram.com's
/// `me/media`), or the Instagram account linked to a Page, asked with a Facebook token
/// (graph.facebook.com's `{ig-user-id}/media`).
enum MediaOf<'a> {
    Token,
    LinkedAccount(&'a str),
}

fn no_such_object(id: &str) -> GraphError {
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        None,
        "OAuthException",
        &format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
        ),
    )
}

/// `at`: the host and path asked (for the next page's URL) and the picture address.
fn media(
    world: &mut World,
    token: Option<&str>,
    params: &HashMap<String, String>,
    (host, path, pictures): (&str, &str, &str),
    of: MediaOf<'_>,
) -> Result<Response, GraphError> {
    let (value, found) = valid_token(world, token)?;
    let user = world.user(&found.username).clone();
    match of {
        MediaOf::Token if found.kind.platform() != Platform::Instagram => {
            return Err(invalid_parameter(
                "Tried accessing nonexisting field (media) on node type (User)",
            ));
        }
        MediaOf::LinkedAccount(id)
            if found.kind.platform() != Platform::Facebook || id != user.professional_id =>
        {
            return Err(no_such_object(id));
        }
        _ => {}
    }
    let (start, limit) = page_window(params)?;
    let fields = requested_fields(params);
    let items: Vec<Value> = user
        .media
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| {
            let mut item = json!({"id": m.id});
            for field in &fields {
                let value = match field.as_str() {
                    "caption" => json!(m.caption),
                    "media_type" => json!(m.media_type),
                    "media_url" => json!(format!("{pictures}{}", m.media_url)),
                    "permalink" => json!(m.permalink),
                    "thumbnail_url" => match &m.thumbnail_url {
                        Some(url) => json!(format!("{pictures}{url}")),
                        None => continue,
                    },
                    "timestamp" => json!(m.timestamp),
                    "username" => json!(user.username),
                    _ => continue,
                };
                item[field.as_str()] = value;
            }
            item
        })
        .collect();
    let end = start + items.len();
    let mut paging = json!({"cursors": {"before": encode_cursor(start), "after": encode_cursor(end.saturating_sub(1).max(start))}});
    if end < user.media.len() {
        let mut next =
            url::Url::parse(&format!("http://{host}{path}")).map_err(|_| unknown_path())?;
        {
            let mut query = next.query_pairs_mut();
            for (name, v) in params {
                if name != "after" {
                    query.append_pair(name, v);
                }
            }
            if !params.contains_key("access_token") {
                query.append_pair("access_token", &value);
            }
            query.append_pair("after", &encode_cursor(end));
        }
        paging["cursors"]["after"] = json!(encode_cursor(end));
        paging["next"] = json!(next.to_string());
    }
    Ok(axum::Json(json!({"data": items, "paging": paging})).into_response())
}

/// A Threads profile (`/me` with a Threads token).
fn threads_me(
    user: &crate::state::User,
    params: &HashMap<String, String>,
    pictures: &str,
) -> Result<Response, GraphError> {
    let mut body = json!({"id": user.threads_id.to_string()});
    for field in requested_fields(params) {
        let value = match field.as_str() {
            "username" => json!(user.username),
            "name" => json!(user.name),
            "threads_profile_picture_url" => json!(format!("{pictures}{}", user.picture)),
            "threads_biography" => json!(format!("{} on Threads (fake)", user.username)),
            "is_verified" => json!(false),
            "id" => continue,
            _ => {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "THApiException",
                    &format!("Tried accessing nonexisting field ({field}) on node type (User)"),
                ));
            }
        };
        body[field] = value;
    }
    Ok(axum::Json(body).into_response())
}

/// The profile's posts (`/me/threads`): the user's posts, in Threads' own field names.
fn threads(
    world: &mut World,
    token: Option<&str>,
    params: &HashMap<String, String>,
    pictures: &str,
) -> Result<Response, GraphError> {
    let (_, found) = valid_token(world, token)?;
    if found.kind.platform() != Platform::Threads {
        return Err(invalid_parameter(
            "Tried accessing nonexisting field (threads) on node type (User)",
        ));
    }
    let user = world.user(&found.username).clone();
    let (start, limit) = page_window(params)?;
    let fields = requested_fields(params);
    let items: Vec<Value> = user
        .media
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| {
            let shortcode = m
                .permalink
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("");
            let mut item = json!({"id": format!("1{}", m.id)});
            for field in &fields {
                let value = match field.as_str() {
                    "media_product_type" => json!("THREADS"),
                    "media_type" => json!(m.media_type),
                    "media_url" => json!(format!("{pictures}{}", m.media_url)),
                    "permalink" => json!(format!(
                        "https://www.threads.net/@{}/post/{shortcode}",
                        user.username
                    )),
                    "text" => json!(m.caption),
                    "timestamp" => json!(m.timestamp),
                    "shortcode" => json!(shortcode),
                    "thumbnail_url" => match &m.thumbnail_url {
                        Some(url) => json!(format!("{pictures}{url}")),
                        None => continue,
                    },
                    "username" => json!(user.username),
                    "is_quote_post" => json!(false),
                    _ => continue,
                };
                item[field.as_str()] = value;
            }
            item
        })
        .collect();
    let end = start + items.len();
    let mut paging =
        json!({"cursors": {"before": encode_cursor(start), "after": encode_cursor(end)}});
    if end < user.media.len() {
        paging["next"] = json!(format!(
            "https://graph.threads.net/v1.0/me/threads?after={}",
            encode_cursor(end)
        ));
    }
    Ok(axum::Json(json!({"data": items, "paging": paging})).into_response())
}

/// Facebook Login's code exchange: a short-lived user token for the code.
fn facebook_code_exchange(
    shared: &Shared,
    world: &mut World,
    params: &HashMap<String, String>,
) -> Result<Response, GraphError> {
    if params.get("client_id") != Some(&shared.config.app_id)
        || params.get("client_secret") != Some(&shared.config.app_secret)
    {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "OAuthException",
            "Error validating application.",
        ));
    }
    let now = world.now();
    let code_value = params.get("code").map(String::as_str).unwrap_or_default();
    let used_code = || {
        graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36009),
            "OAuthException",
            "This authorization code has been used.",
        )
    };
    let Some(code) = world.codes.get_mut(code_value) else {
        return Err(used_code());
    };
    if code.used
        || code.platform != Platform::Facebook
        || (now - code.issued_at).num_seconds() > CODE_LIFETIME_SECS
    {
        return Err(used_code());
    }
    if params.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36008),
            "OAuthException",
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        ));
    }
    code.used = true;
    let username = code.username.clone();
    let (token, _) = world.issue_token(&username, TokenKind::FacebookShort, now);
    Ok(long_lived_body(&token, SHORT_LIVED_SECS))
}

/// Where a page of posts starts (`after`) and how long it is (`limit`: 25 unless asked,
/// 1 to 100), as both media edges read them.
fn page_window(params: &HashMap<String, String>) -> Result<(usize, usize), GraphError> {
    let limit = params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let start = match params.get("after") {
        Some(cursor) => decode_cursor(cursor).ok_or_else(|| invalid_parameter("Invalid cursor"))?,
        None => 0,
    };
    Ok((start, limit))
}

fn encode_cursor(index: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("idx:{index}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("idx:")?
        .parse()
        .ok()
}

fn facebook_exchange(
    shared: &Shared,
    world: &mut World,
    params: &HashMap<String, String>,
) -> Result<Response, GraphError> {
    if params.get("grant_type").map(String::as_str) != Some("fb_exchange_token")
        || params.get("client_id") != Some(&shared.config.app_id)
        || params.get("client_secret") != Some(&shared.config.app_secret)
    {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "OAuthException",
            "Error validating application.",
        ));
    }
    let (_, found) = valid_token(world, params.get("fb_exchange_token").map(String::as_str))?;
    if found.kind != TokenKind::FacebookShort {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "OAuthException",
            "Only short-lived user tokens can be exchanged",
        ));
    }
    let now = world.now();
    let (long, _) = world.issue_token(&found.username, TokenKind::FacebookLong, now);
    Ok(long_lived_body(&long, 5_183_791))
}

fn pages(world: &mut World, token: Option<&str>) -> Result<Response, GraphError> {
    let (_, found) = valid_token(world, token)?;
    if !matches!(
        found.kind,
        TokenKind::FacebookShort | TokenKind::FacebookLong
    ) {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
        ));
    }
    let now = world.now();
    let pages: Vec<Value> = world
        .pages_of(&found.username)
        .into_iter()
        .map(|(id, name, _)| {
            let token = world.issue_page_token(&found.username, &id, now);
            // Read with a short-lived user token, a Page token dies with it (an hour);
            // with a long-lived one, it never expires.
            if found.kind == TokenKind::FacebookShort
                && let Some(page_token) = world.tokens.get_mut(&token)
            {
                page_token.expires_at = found.expires_at;
            }
            json!({"access_token": token, "category": "Brand", "category_list": [{"id": "1605186416478696", "name": "Brand"}], "name": name, "id": id, "tasks": ["MANAGE", "CREATE_CONTENT", "MODERATE", "ADVERTISE", "ANALYZE"]})
        })
        .collect();
    Ok(axum::Json(json!({
        "data": pages,
        "paging": {"cursors": {"before": encode_cursor(0), "after": encode_cursor(0)}},
    }))
    .into_response())
}

fn page(
    world: &mut World,
    token: Option<&str>,
    page_id: &str,
    params: &HashMap<String, String>,
) -> Result<Response, GraphError> {
    let (_, found) = valid_token(world, token)?;
    if found.kind != TokenKind::Page || found.page_id.as_deref() != Some(page_id) {
        return Err(no_such_object(page_id));
    }
    let linked = world
        .pages_of(&found.username)
        .into_iter()
        .find(|(id, _, _)| id == page_id)
        .and_then(|(_, _, linked)| linked);
    let mut body = json!({"id": page_id});
    if let Some(linked) = linked
        && requested_fields(params)
            .iter()
            .any(|f| f == "instagram_business_account")
    {
        body["instagram_business_account"] = json!({"id": linked});
    }
    Ok(axum::Json(body).into_response())
}

fn debug_token(
    shared: &Shared,
    world: &mut World,
    params: &HashMap<String, String>,
) -> Result<Response, GraphError> {
    let app_token = format!("{}|{}", shared.config.app_id, shared.config.app_secret);
    if params.get("access_token") != Some(&app_token) {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            190,
            None,
            "OAuthException",
            "Invalid OAuth access token signature.",
        ));
    }
    let input = params.get("input_token").map(String::as_str);
    Ok(match valid_token(world, input) {
        Ok((_, found)) => {
            let user = world.user(&found.username).clone();
            let kind = if found.kind == TokenKind::Page {
                "PAGE"
            } else {
                "USER"
            };
            let mut body = json!({"data": {
                "app_id": shared.config.app_id,
                "type": kind,
                "application": "fake-instagram",
                "is_valid": true,
                "expires_at": found.expires_at.map_or(0, |at| at.timestamp()),
                "data_access_expires_at": (found.issued_at + chrono::Duration::days(90)).timestamp(),
                "scopes": ["instagram_basic", "pages_show_list", "pages_read_engagement", "business_management"],
                "user_id": user.facebook_user_id,
            }});
            if let Some(page_id) = &found.page_id {
                body["data"]["profile_id"] = json!(page_id);
            }
            axum::Json(body).into_response()
        }
        // A token Facebook knows still says what it was; an unknown one only that it is not valid.
        Err(_) => match input.and_then(|token| world.tokens.get(token)).cloned() {
            Some(found) => {
                let user = world.user(&found.username).clone();
                let (subcode, message) = match found.revoked {
                    Some(subcode) => (
                        subcode,
                        "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
                    ),
                    None => (463, "Error validating access token: Session has expired."),
                };
                let mut body = json!({"data": {
                    "app_id": shared.config.app_id,
                    "type": if found.kind == TokenKind::Page { "PAGE" } else { "USER" },
                    "application": "fake-instagram",
                    "error": {"code": 190, "message": message, "subcode": subcode},
                    "is_valid": false,
                    "expires_at": found.expires_at.map_or(0, |at| at.timestamp()),
                    "scopes": [],
                    "user_id": user.facebook_user_id,
                }});
                if let Some(page_id) = &found.page_id {
                    body["data"]["profile_id"] = json!(page_id);
                }
                axum::Json(body).into_response()
            }
            None => axum::Json(json!({"data": {
                "error": {"code": 190, "message": "Invalid OAuth access token."},
                "is_valid": false,
                "scopes": [],
            }}))
            .into_response(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_optional_path_prefixes() {
        assert_eq!(unversioned("v23.0/me/media"), "me/media");
        assert_eq!(unversioned("me"), "me");
        assert_eq!(unversioned("/v19.0/123/accounts"), "123/accounts");
        assert_eq!(unversioned("video/x"), "video/x");
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("garbage!"), None);
    }
}
