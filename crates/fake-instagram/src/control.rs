//! The control plane, `/__fake/*`: what demos, benchmarks and tests use to set the scene.
//! These paths and shapes are a contract (docs/fake-instagram.md); keep them as they are.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::state::{
    Fault, FaultKind, FaultMatch, LONG_LIVED_SECS, RateLimits, State as World, TokenKind,
};
use crate::{MintedPage, MintedToken, Shared};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/__fake/tokens", post(tokens))
        .route("/__fake/tokens/age", post(age_handler))
        .route("/__fake/clock", get(clock).post(advance))
        .route("/__fake/calls", get(calls).delete(clear_calls))
        .route("/__fake/faults", get(faults).post(add).delete(clear_faults))
        .route("/__fake/rate-limits", post(rate_limits))
        .route("/__fake/consent", post(consent))
        .route("/__fake/revoke", post(revoke_handler))
        .route("/__fake/settings", post(settings))
        .route("/__fake/users", get(users))
}

/// What kind of token `POST /__fake/tokens` mints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MintKind {
    /// A long-lived Instagram Login token.
    #[default]
    Instagram,
    /// A long-lived Threads token.
    Threads,
    /// A long-lived Facebook user token, whose user manages one Page (`"<username> page"`),
    /// linked to the user's Instagram professional account.
    FacebookUser,
}

pub fn mint(world: &mut World, kind: MintKind, username: &str, age: Duration) -> MintedToken {
    let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::zero());
    let issued_at = world.now() - age;
    let token_kind = match kind {
        MintKind::Instagram => TokenKind::LongLived,
        MintKind::Threads => TokenKind::ThreadsLong,
        MintKind::FacebookUser => TokenKind::FacebookLong,
    };
    let (access_token, _) = world.issue_token(username, token_kind, issued_at);
    let pages = world
        .pages_of(username)
        .into_iter()
        .map(|(id, name, _)| MintedPage { id, name })
        .collect();
    let user = world.user(username);
    let (user_id, pages) = match kind {
        MintKind::Instagram => (user.id, None),
        MintKind::Threads => (user.threads_id, None),
        MintKind::FacebookUser => (
            user.facebook_user_id.parse().unwrap_or_default(),
            Some(pages),
        ),
    };
    MintedToken {
        access_token,
        user_id,
        expires_in: LONG_LIVED_SECS - age.num_seconds(),
        pages,
    }
}

pub fn add_fault(world: &mut World, matching: FaultMatch, count: u32, kind: FaultKind) -> u64 {
    world.next_fault += 1;
    let id = world.next_fault;
    world.faults.push(Fault {
        id,
        matching,
        remaining: count.max(1),
        kind,
    });
    id
}

pub fn revoke(
    world: &mut World,
    username: Option<&str>,
    token: Option<&str>,
    subcode: u32,
) -> usize {
    let mut revoked = 0;
    for (value, found) in world.tokens.iter_mut() {
        if username.is_some_and(|u| u == found.username) || token.is_some_and(|t| t == value) {
            found.revoked = Some(subcode);
            revoked += 1;
        }
    }
    revoked
}

pub fn age(world: &mut World, token: &str, by: Duration) -> bool {
    let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
    let Some(found) = world.tokens.get_mut(token) else {
        return false;
    };
    found.issued_at -= by;
    found.expires_at = found.expires_at.map(|at| at - by);
    true
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct MintRequest {
    username: String,
    #[serde(default)]
    age_secs: u64,
    #[serde(default)]
    kind: MintKind,
}

async fn tokens(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<MintRequest>,
) -> Response {
    if request.username.trim().is_empty() {
        return bad_request("username must not be empty");
    }
    let minted = mint(
        &mut shared.lock(),
        request.kind,
        request.username.trim(),
        Duration::from_secs(request.age_secs),
    );
    axum::Json(minted).into_response()
}

#[derive(Deserialize)]
struct AgeRequest {
    access_token: String,
    by_secs: u64,
}

async fn age_handler(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<AgeRequest>,
) -> Response {
    let aged = age(
        &mut shared.lock(),
        &request.access_token,
        Duration::from_secs(request.by_secs),
    );
    axum::Json(json!({"aged": aged})).into_response()
}

async fn clock(State(shared): State<Shared>) -> Response {
    let now = shared.lock().now();
    axum::Json(json!({"now": now.to_rfc3339()})).into_response()
}

#[derive(Deserialize)]
struct AdvanceRequest {
    advance_secs: i64,
}

async fn advance(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<AdvanceRequest>,
) -> Response {
    let mut world = shared.lock();
    world.clock_offset += chrono::Duration::seconds(request.advance_secs);
    axum::Json(json!({"now": world.now().to_rfc3339()})).into_response()
}

async fn calls(State(shared): State<Shared>) -> Response {
    axum::Json(shared.lock().calls.clone()).into_response()
}

async fn clear_calls(State(shared): State<Shared>) -> StatusCode {
    shared.lock().calls.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct FaultRequest {
    #[serde(default, rename = "match")]
    matching: FaultMatch,
    #[serde(default = "one")]
    count: u32,
    #[serde(flatten)]
    kind: FaultKind,
}

fn one() -> u32 {
    1
}

async fn faults(State(shared): State<Shared>) -> Response {
    axum::Json(shared.lock().faults.clone()).into_response()
}

async fn add(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<FaultRequest>,
) -> Response {
    let id = add_fault(
        &mut shared.lock(),
        request.matching,
        request.count,
        request.kind,
    );
    (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
}

async fn clear_faults(State(shared): State<Shared>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn rate_limits(
    State(shared): State<Shared>,
    axum::Json(limits): axum::Json<RateLimits>,
) -> Response {
    shared.lock().rate_limits = limits;
    axum::Json(limits).into_response()
}

#[derive(Deserialize)]
struct ConsentRequest {
    auto_approve: Option<String>,
}

async fn consent(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<ConsentRequest>,
) -> StatusCode {
    shared.lock().auto_approve = request.auto_approve;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct RevokeRequest {
    username: Option<String>,
    access_token: Option<String>,
    #[serde(default = "default_subcode")]
    subcode: u32,
}

fn default_subcode() -> u32 {
    460
}

async fn revoke_handler(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<RevokeRequest>,
) -> Response {
    if request.username.is_none() && request.access_token.is_none() {
        return bad_request("give username or access_token");
    }
    let revoked = revoke(
        &mut shared.lock(),
        request.username.as_deref(),
        request.access_token.as_deref(),
        request.subcode,
    );
    axum::Json(json!({"revoked": revoked})).into_response()
}

#[derive(Deserialize)]
struct SettingsRequest {
    documented_code_shape: Option<bool>,
    refresh_rotates_token: Option<bool>,
}

async fn settings(
    State(shared): State<Shared>,
    axum::Json(request): axum::Json<SettingsRequest>,
) -> StatusCode {
    let mut world = shared.lock();
    if let Some(documented) = request.documented_code_shape {
        world.documented_code_shape = documented;
    }
    if let Some(rotates) = request.refresh_rotates_token {
        world.refresh_rotates_token = rotates;
    }
    StatusCode::NO_CONTENT
}

async fn users(State(shared): State<Shared>) -> Response {
    let world = shared.lock();
    let mut users: Vec<_> = world
        .users
        .values()
        .map(|u| json!({"username": u.username, "user_id": u.id, "professional_id": u.professional_id}))
        .collect();
    users.sort_by(|a, b| a["username"].as_str().cmp(&b["username"].as_str()));
    axum::Json(users).into_response()
}
