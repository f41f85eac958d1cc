//! Connected Instagram accounts of a tenant: list, read, change, delete, rotate the public URL,
//! ask for a refresh, and connect one by pasting a token.
//!
//! Everyone in the tenant may read; owners and editors (and the tenant's API keys) may change.
//! The token itself never appears here: websites fetch it from the account's public URLs.
//!
//! Every handler finds the account through the tenant in its path first
//! (`accounts().get(tenant_id, account_id)`): the store's reads of its token lifetime, media,
//! history and counts take the [`ScopedAccount`]'s proof that only such a read gives.

use axum::Router;
use axum::extract::State;

use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use freshtoken_core::api::{
    AccountView, DailyRequestsView, PasteTokenRequest, RefreshEventView, RequestCountView,
    UpdateAccountRequest,
};
use freshtoken_core::js::{DEFAULT_CONSTANT, check_constant_name};
use freshtoken_core::origin::{OriginPattern, parse_allowed_origins};
use freshtoken_core::{AccessToken, AccountStatus, Provider, RefreshInterval, policy};
use freshtoken_instagram::{InstagramClient, InstagramError, Profile};
use freshtoken_store::{
    Account, AccountSettings, NewAccount, RequestCount, ScopedAccount, Store, StoreError,
    TokenLifetime, TokenUpdate,
};
use serde::Deserialize;
use url::Url;

use crate::auth::Principal;
use crate::extract::{Path, Query};
use crate::json::ApiJson;
use crate::openapi::ErrorBody;
use crate::tenants::{Access, rfc3339};
use crate::{ApiError, AppState};

const MAX_LABEL_CHARS: usize = 100;
/// Instagram tokens are about 200 characters; anything far longer is not one.
const MAX_TOKEN_LEN: usize = 2048;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant_id}/accounts", get(list).post(paste_token))
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}",
            get(get_account).patch(update).delete(delete_account),
        )
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}/rotate-url",
            post(rotate_url),
        )
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}/refresh",
            post(refresh_now),
        )
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}/events",
            get(events),
        )
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}/requests",
            get(requests),
        )
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}/media",
            get(media),
        )
}

/// One of the account's public URLs (`token.json`, `token.js`, `media.json`), under the
/// service's public address.
pub fn public_url_of(public_url: &Url, public_id: &str, file: &str) -> String {
    public_url
        .join(&format!("t/{public_id}/{file}"))
        .map(String::from)
        .unwrap_or_default()
}

fn view(
    public_url: &Url,
    account: &Account,
    token_expires_at: Option<DateTime<Utc>>,
    requests_today: RequestCount,
) -> AccountView {
    let url = |file| public_url_of(public_url, &account.public_id, file);
    AccountView {
        id: account.id,
        provider: account.provider,
        provider_user_id: account.provider_user_id.clone(),
        username: account.username.clone(),
        label: account.label.clone(),
        status: account.status,
        profile_picture_url: account.profile_picture_url.clone(),
        token_expires_at: token_expires_at.map(rfc3339),
        last_refresh_at: account.last_refresh_at.map(rfc3339),
        next_refresh_at: account.next_refresh_at.map(rfc3339),
        last_error: account.last_error.clone(),
        refresh_interval: account.refresh_interval,
        allowed_origins: account.allowed_origins.clone(),
        allow_localhost: account.allow_localhost,
        public: account.public,
        js_constant: account
            .js_constant
            .clone()
            .unwrap_or_else(|| DEFAULT_CONSTANT.to_owned()),
        public_id: account.public_id.clone(),
        token_json_url: url("token.json"),
        token_js_url: url("token.js"),
        media_json_url: url("media.json"),
        requests_today: RequestCountView {
            served: requests_today.served,
            refused: requests_today.refused,
            refused_no_origin: requests_today.refused_no_origin,
        },
        created_at: rfc3339(account.created_at),
    }
}

async fn account_view(state: &AppState, account: &ScopedAccount) -> Result<AccountView, ApiError> {
    let lifetime = state.store.tokens().lifetime(account.proof()).await?;
    let today = Utc::now().date_naive();
    let stored = state
        .store
        .request_counts()
        .on_day(std::slice::from_ref(account.proof()), today)
        .await?;
    Ok(view(
        &state.config.public_url,
        account,
        lifetime.and_then(|lifetime| lifetime.expires_at),
        with_pending(state, account.id, today, stored.get(&account.id)),
    ))
}

/// The stored count plus what this process counted and has not written yet.
fn with_pending(
    state: &AppState,
    account_id: i64,
    day: NaiveDate,
    stored: Option<&RequestCount>,
) -> RequestCount {
    let mut count = stored.copied().unwrap_or_default();
    count += state.delivery.counts.pending(account_id, day);
    count
}

fn require_editor(access: &Access) -> Result<(), ApiError> {
    if access.role.can_edit() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "viewers can look but not change: ask an owner for the editor role".into(),
        ))
    }
}

fn unix(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn from_unix(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

/// When a token issued and expiring so should next be refreshed, from now, with jitter so
/// that accounts connected together do not all come due together (see
/// [`policy::next_refresh_at_jittered`]).
fn next_refresh_at(
    issued_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    interval: RefreshInterval,
) -> DateTime<Utc> {
    let mut bytes = [0u8; 8];
    let random = match getrandom::getrandom(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    };
    from_unix(policy::next_refresh_at_jittered(
        unix(Utc::now()),
        unix(issued_at),
        expires_at.map(unix),
        interval,
        random,
    ))
}

/// What Instagram's answer means for a token a person handed us.
fn refused_token(err: InstagramError) -> ApiError {
    match err {
        InstagramError::Revoked { message, .. } | InstagramError::Rejected { message, .. } => {
            ApiError::BadRequest {
                code: "invalid_token",
                message: format!(
                    "Instagram refused this token ({message}): generate a new one, or connect with Instagram instead"
                ),
            }
        }
        other => instagram_unavailable(other),
    }
}

/// Whole minutes to tell a person to wait, at least one.
pub(crate) fn minutes_to_wait(retry_after: std::time::Duration) -> u64 {
    retry_after.as_secs().div_ceil(60).max(1)
}

/// Instagram could not be asked: nothing was saved, try again.
pub(crate) fn instagram_unavailable(err: InstagramError) -> ApiError {
    match err {
        InstagramError::RateLimited { retry_after, .. } => ApiError::Upstream {
            code: "instagram_rate_limited",
            message: format!(
                "Instagram asks us to slow down; nothing was saved, try again in {} minutes",
                minutes_to_wait(retry_after)
            ),
            retry_after: Some(retry_after),
        },
        other => ApiError::Upstream {
            code: "instagram_unavailable",
            message: format!(
                "Instagram did not answer properly ({other}); nothing was saved, try again in a few minutes"
            ),
            retry_after: None,
        },
    }
}

/// A token a person pasted (or an operator imported), with the settings to give its account.
#[derive(Debug, Clone)]
pub struct PastedToken {
    pub token: AccessToken,
    pub label: Option<String>,
    pub allowed_origins: Option<Vec<OriginPattern>>,
    pub refresh_interval: Option<RefreshInterval>,
}

fn check_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "label must be at most {MAX_LABEL_CHARS} characters, without control characters"
        )));
    }
    Ok(label.to_owned())
}

fn check_origins(origins: &[String]) -> Result<Vec<OriginPattern>, ApiError> {
    parse_allowed_origins(origins).map_err(|err| ApiError::invalid(err.to_string()))
}

/// Reads a pasted token: trimmed, one line of printable ASCII, and not a Facebook token.
pub fn parse_pasted_token(text: &str) -> Result<AccessToken, ApiError> {
    let token = text.trim();
    if token.is_empty() {
        return Err(ApiError::invalid("token is empty: paste an access token"));
    }
    if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "this is not an access token: a token is one word of letters, digits and punctuation",
        ));
    }
    if token.starts_with("EAA") {
        return Err(ApiError::BadRequest {
            code: "invalid_token",
            message: "this is a Facebook token (EAA...); freshtoken needs an Instagram token from Instagram Login (IGAA...)".into(),
        });
    }
    Ok(AccessToken::new(token))
}

/// Verifies a token with Instagram (`/me`), upgrades a short-lived one when the app secret is
/// configured, and connects (or reconnects) its account in the tenant.
///
/// Nothing is written unless Instagram accepted the token. Returns the account and whether
/// it is new.
pub async fn connect_pasted_token(
    store: &Store,
    instagram: &InstagramClient,
    tenant_id: i64,
    pasted: PastedToken,
) -> Result<(ScopedAccount, bool), ApiError> {
    let profile = instagram.me(&pasted.token).await.map_err(refused_token)?;
    let now = Utc::now();
    let mut token = TokenUpdate {
        token: pasted.token.clone(),
        issued_at: now,
        // Unknown until the first refresh, which is scheduled at once for that reason.
        expires_at: None,
        scopes: String::new(),
        refreshed_at: None,
    };
    if instagram.config().has_app_secret() {
        // Only a short-lived token can be exchanged; Instagram refuses a long-lived one with
        // an invalid-parameter error, which tells us that it is one.
        match instagram.exchange_for_long_lived(&pasted.token).await {
            Ok(long) => {
                token.token = long.token;
                token.expires_at = Some(now + long.expires_in);
            }
            Err(InstagramError::Rejected { .. }) => {}
            Err(other) => return Err(refused_token(other)),
        }
    }
    let (account, created) = store_connected(store, tenant_id, &profile, &token).await?;
    let account = apply_initial_settings(store, tenant_id, account, &pasted).await?;
    Ok((account, created))
}

/// Connects (or reconnects) the profile's account in the tenant with a token Instagram just
/// gave or accepted, with its first refresh scheduled. A reconnect keeps the account's
/// settings and revives it.
pub async fn store_connected(
    store: &Store,
    tenant_id: i64,
    profile: &Profile,
    token: &TokenUpdate,
) -> Result<(ScopedAccount, bool), StoreError> {
    let interval = store
        .accounts()
        .find_connected(tenant_id, Provider::Instagram, &profile.id)
        .await?
        .map(|account| account.refresh_interval)
        .unwrap_or_default();
    let new = NewAccount {
        provider: Provider::Instagram,
        provider_user_id: profile.id.clone(),
        username: profile.username.clone(),
        profile_picture_url: profile.profile_picture_url.clone(),
    };
    store
        .accounts()
        .connect(
            tenant_id,
            new,
            token,
            Some(next_refresh_at(token.issued_at, token.expires_at, interval)),
        )
        .await
}

async fn apply_initial_settings(
    store: &Store,
    tenant_id: i64,
    account: ScopedAccount,
    pasted: &PastedToken,
) -> Result<ScopedAccount, ApiError> {
    let mut settings = settings_of(&account);
    if let Some(label) = &pasted.label {
        settings.label = label.clone();
    }
    if let Some(origins) = &pasted.allowed_origins {
        settings.allowed_origins = origins.iter().map(ToString::to_string).collect();
    }
    if let Some(interval) = pasted.refresh_interval {
        settings.refresh_interval = interval;
    }
    if settings == settings_of(&account) {
        return Ok(account);
    }
    Ok(store
        .accounts()
        .update_settings(tenant_id, account.id, &settings)
        .await?)
}

fn settings_of(account: &Account) -> AccountSettings {
    AccountSettings {
        label: account.label.clone(),
        allowed_origins: account.allowed_origins.clone(),
        allow_localhost: account.allow_localhost,
        public: account.public,
        js_constant: account.js_constant.clone(),
        refresh_interval: account.refresh_interval,
    }
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/accounts", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "the workspace's accounts", body = Vec<AccountView>), (status = 404, description = "not found", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<Vec<AccountView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    let accounts = state.store.accounts().list(tenant_id).await?;
    let proofs: Vec<_> = accounts.iter().map(|account| *account.proof()).collect();
    let lifetimes = state.store.tokens().lifetimes(&proofs).await?;
    let today = Utc::now().date_naive();
    let counts = state.store.request_counts().on_day(&proofs, today).await?;
    Ok(axum::Json(
        accounts
            .iter()
            .map(|account| {
                let expires_at = lifetimes
                    .get(&account.id)
                    .and_then(|lifetime| lifetime.expires_at);
                let requests = with_pending(&state, account.id, today, counts.get(&account.id));
                view(&state.config.public_url, account, expires_at, requests)
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = PasteTokenRequest, responses((status = 201, description = "connected", body = AccountView), (status = 200, description = "an account already connected, now with this token", body = AccountView), (status = 400, description = "Instagram refused the token (`invalid_token`)", body = ErrorBody), (status = 403, description = "viewers cannot connect, or the workspace is at its account limit", body = ErrorBody), (status = 502, description = "Instagram did not answer; nothing was saved", body = ErrorBody)))]
async fn paste_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<PasteTokenRequest>,
) -> Result<(StatusCode, axum::Json<AccountView>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let pasted = PastedToken {
        token: parse_pasted_token(&request.token)?,
        label: request.label.as_deref().map(check_label).transpose()?,
        allowed_origins: request
            .allowed_origins
            .as_deref()
            .map(check_origins)
            .transpose()?,
        refresh_interval: None,
    };
    let (account, created) =
        connect_pasted_token(&state.store, &state.instagram, tenant_id, pasted).await?;
    state.delivery.forget_account(account.id);
    tracing::info!(
        tenant_id,
        account_id = account.id,
        created,
        "connected an Instagram account with a pasted token"
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(account_view(&state, &account).await?)))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 200, description = "the account", body = AccountView), (status = 404, description = "not found", body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<axum::Json<AccountView>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    Ok(axum::Json(account_view(&state, &account).await?))
}

#[utoipa::path(patch, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), request_body = UpdateAccountRequest, responses((status = 200, description = "the changed account", body = AccountView), (status = 400, description = "an invalid origin, constant name or label", body = ErrorBody), (status = 403, description = "viewers cannot change", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
    ApiJson(request): ApiJson<UpdateAccountRequest>,
) -> Result<axum::Json<AccountView>, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    // Everything is checked before anything is written.
    if request.paused == Some(false) && account.status == AccountStatus::NeedsReconnect {
        return Err(ApiError::Conflict(
            "this account needs reconnecting with Instagram before it can be resumed".into(),
        ));
    }
    let mut settings = settings_of(&account);
    if let Some(label) = &request.label {
        settings.label = check_label(label)?;
    }
    if let Some(origins) = &request.allowed_origins {
        settings.allowed_origins = check_origins(origins)?
            .iter()
            .map(ToString::to_string)
            .collect();
    }
    if let Some(allow) = request.allow_localhost {
        settings.allow_localhost = allow;
    }
    if request.allow_no_origin == Some(true) {
        return Err(ApiError::invalid(
            "allow_no_origin was removed: a request with neither Origin nor Referer proves nothing (any page can send neither), so locked accounts refuse it. Servers fetch the token with an API key of scope tokens:read; to serve everyone, set public: true",
        ));
    }
    if let Some(public) = request.public {
        settings.public = public;
    }
    if let Some(name) = &request.js_constant {
        let name = name.trim();
        settings.js_constant = if name.is_empty() || name == DEFAULT_CONSTANT {
            None
        } else {
            check_constant_name(name).map_err(|err| {
                ApiError::invalid(format!("js_constant {name:?} cannot be used: {err}"))
            })?;
            Some(name.to_owned())
        };
    }
    if let Some(interval) = request.refresh_interval {
        settings.refresh_interval = interval;
    }
    let mut account = if settings == settings_of(&account) {
        account
    } else {
        state
            .store
            .accounts()
            .update_settings(tenant_id, account_id, &settings)
            .await?
    };
    if let Some(paused) = request.paused {
        // Only a resume needs to know when the next refresh falls due.
        let resume_at = if paused {
            None
        } else {
            let lifetime = state.store.tokens().lifetime(account.proof()).await?;
            Some(lifetime.map_or_else(Utc::now, |lifetime| {
                next_refresh_at(
                    lifetime.issued_at,
                    lifetime.expires_at,
                    account.refresh_interval,
                )
            }))
        };
        account = state
            .store
            .accounts()
            .set_paused(tenant_id, account_id, paused, resume_at)
            .await?;
    }
    state.delivery.forget_account(account_id);
    Ok(axum::Json(account_view(&state, &account).await?))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 204, description = "deleted with its token and history"), (status = 403, description = "viewers cannot delete", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn delete_account(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    state.store.accounts().delete(tenant_id, account_id).await?;
    state.delivery.forget_account(account_id);
    tracing::info!(tenant_id, account_id, "deleted an account and its token");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/rotate-url", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 200, description = "the account with its new URLs; the old ones stop working", body = AccountView), (status = 403, description = "viewers cannot change", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn rotate_url(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<axum::Json<AccountView>, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let account = state
        .store
        .accounts()
        .rotate_public_id(tenant_id, account_id)
        .await?;
    state.delivery.forget_account(account_id);
    Ok(axum::Json(account_view(&state, &account).await?))
}

/// When a "refresh now" of a token with this lifetime can run.
pub fn earliest_refresh(now: DateTime<Utc>, lifetime: TokenLifetime) -> DateTime<Utc> {
    let at = policy::earliest_refresh_at(
        now.timestamp(),
        lifetime.issued_at.timestamp(),
        lifetime.expires_at.map(|at| at.timestamp()),
    );
    DateTime::from_timestamp(at, 0).unwrap_or(now).max(now)
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/refresh", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 202, description = "queued: `next_refresh_at` says when (a token under 24 hours old waits until it is old enough)", body = AccountView), (status = 403, description = "viewers cannot refresh", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody), (status = 409, description = "paused, or needs reconnecting", body = ErrorBody)))]
async fn refresh_now(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<(StatusCode, axum::Json<AccountView>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Paused => {
            return Err(ApiError::Conflict(
                "this account is paused: resume it first".into(),
            ));
        }
        AccountStatus::NeedsReconnect => {
            return Err(ApiError::Conflict(
                "this account's token is no longer valid: reconnect it with Instagram".into(),
            ));
        }
    }
    let now = Utc::now();
    let at = match state.store.tokens().lifetime(account.proof()).await? {
        Some(lifetime) => earliest_refresh(now, lifetime),
        None => now,
    };
    let account = state
        .store
        .accounts()
        .schedule_refresh(tenant_id, account_id, at)
        .await?;
    if at <= now
        && let Some(background) = &state.background
    {
        background.refresh_now(account_id).await;
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(account_view(&state, &account).await?),
    ))
}

/// The account's recent posts for its members, in `media.json`'s shape but without its
/// origin lock: the dashboard's preview. With nothing synced yet it asks the worker for a sync
/// (at most once an hour, as media.json does).
#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/media", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 200, description = "`{\"data\": [...], \"synced_at\": ...}` as media.json answers"), (status = 404, description = "not found", body = ErrorBody)))]
async fn media(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    Access::resolve(&state, principal, tenant_id).await?;
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    let snapshot = state.store.media().get(account.proof()).await?;
    if snapshot.is_none() && state.delivery.media_wanted_now(account_id) {
        state
            .store
            .media()
            .mark_requested(account.proof(), Utc::now())
            .await?;
    }
    let body = crate::delivery::media_body(snapshot.as_ref());
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/events", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id"), ("limit" = Option<u64>, Query, description = "at most this many (1 to 200, 50 when absent)")), responses((status = 200, description = "refresh attempts, newest first", body = Vec<RefreshEventView>), (status = 404, description = "not found", body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
    Query(query): Query<EventsQuery>,
) -> Result<axum::Json<Vec<RefreshEventView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    // Through the tenant first, so another tenant's account is a 404.
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("limit must be a whole number from 1 to 200"))?
            .clamp(1, 200),
    };
    let events = state
        .store
        .refresh_events()
        .recent(account.proof(), limit)
        .await?;
    Ok(axum::Json(
        events
            .into_iter()
            .map(|event| RefreshEventView {
                at: rfc3339(event.at),
                outcome: event.outcome,
                attempt: event.attempt,
                error_code: event.error_code,
                message: event.message,
                new_expires_at: event.new_expires_at.map(rfc3339),
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct RequestsQuery {
    days: Option<String>,
}

/// Requests to the account's token URLs per UTC day, the last `days` (1 to 90, default 30)
/// up to today, oldest first, days without requests included as zeros.
#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/requests", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id"), ("days" = Option<u32>, Query, description = "how many days up to today (1 to 90, 30 when absent)")), responses((status = 200, description = "requests per UTC day, oldest first", body = Vec<DailyRequestsView>), (status = 404, description = "not found", body = ErrorBody)))]
async fn requests(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
    Query(query): Query<RequestsQuery>,
) -> Result<axum::Json<Vec<DailyRequestsView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    // Through the tenant first, so another tenant's account is a 404.
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    let days = match query.days.as_deref() {
        None => 30,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|days| (1..=90).contains(days))
            .ok_or_else(|| ApiError::invalid("days must be a whole number from 1 to 90"))?,
    };
    let today = Utc::now().date_naive();
    let first = today - chrono::Days::new(u64::from(days - 1));
    let stored = state
        .store
        .request_counts()
        .since(account.proof(), first)
        .await?;
    let views = first
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|day| {
            let stored = stored
                .iter()
                .find(|daily| daily.day == day)
                .map(|daily| &daily.count);
            let count = with_pending(&state, account_id, day, stored);
            DailyRequestsView {
                day: day.to_string(),
                served: count.served,
                refused: count.refused,
                refused_no_origin: count.refused_no_origin,
            }
        })
        .collect();
    Ok(axum::Json(views))
}
