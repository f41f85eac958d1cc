//! Connected accounts of a tenant (Instagram, Facebook Page, Threads): list, read, change,
//! delete, rotate the public URL, ask for a refresh, and connect by pasting a token (through
//! `freshtoken_accounts`, where connecting happens).
//!
//! Everyone in the tenant may read; owners and editors (and the tenant's API keys) may change.
//! The token itself never appears here: websites fetch it from the account's public URLs.
//!
//! Every handler finds the account through the tenant in its path first
//! (`accounts().get(tenant_id, account_id)`): the store's reads of its token lifetime, media,
//! history and counts take the [`ScopedAccount`](freshtoken_store::ScopedAccount)'s proof that only such a read gives.

use axum::Router;
use axum::extract::State;

use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use freshtoken_accounts::{Paste, Presets, demo, parse_token, schedule, settings_of};
use freshtoken_core::api::{
    AccountView, DailyRequestsView, DemoSceneAnswer, DemoSceneRequest, PasteTokenRequest,
    PastedAccounts, RefreshEventView, RefreshNowAnswer, UpdateAccountRequest,
};
use freshtoken_core::{AccountKind, AccountStatus};
use serde::Deserialize;

use crate::account_views::{account_view, view, with_pending};
pub use crate::account_views::{instatokend_url_of, public_url_of};
use crate::caller::{Access, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::json::ApiJson;
use crate::settings_input::{
    check_js_constant, check_label, check_origins, check_owner_email, require_editor,
};
use crate::state::AppState;
use crate::timestamps::rfc3339;

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
            "/tenants/{tenant_id}/accounts/{account_id}/demo-scene",
            post(demo_scene),
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

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = PasteTokenRequest, responses((status = 201, description = "connected: the account, or `{\"accounts\": [...]}` when a Facebook user token connected several Pages", body = PastedAccounts), (status = 200, description = "already connected, now with this token", body = PastedAccounts), (status = 400, description = "the platform refused the token (`invalid_token`), the token says another kind (`kind_mismatch`), this kind is not set up here (`kind_not_offered`), or the user manages no such Page (`no_such_page`)", body = ErrorBody), (status = 403, description = "viewers cannot connect, or the workspace is at its account limit", body = ErrorBody), (status = 502, description = "the platform did not answer; nothing was saved", body = ErrorBody), (status = 503, description = "the platform asks us to wait (`Retry-After`); nothing was saved", body = ErrorBody)))]
async fn paste_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<PasteTokenRequest>,
) -> Result<(StatusCode, axum::Json<PastedAccounts>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let paste = Paste {
        token: parse_token(&request.token)?,
        kind: request.kind,
        page_id: request
            .page_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        presets: Presets {
            label: request.label.as_deref().map(check_label).transpose()?,
            allowed_origins: request
                .allowed_origins
                .as_deref()
                .map(check_origins)
                .transpose()?,
            ..Presets::default()
        },
    };
    let connected = state.connector.paste(tenant_id, paste).await?;
    let status = if connected.iter().any(|one| one.created) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut views = Vec::with_capacity(connected.len());
    for one in &connected {
        state.delivery.forget_account(one.account.id);
        views.push(account_view(&state, &one.account).await?);
    }
    let answer = match <[AccountView; 1]>::try_from(views) {
        Ok([one]) => PastedAccounts::One(Box::new(one)),
        Err(several) => PastedAccounts::Several { accounts: several },
    };
    Ok((status, axum::Json(answer)))
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
        return Err(ApiError::Conflict(format!(
            "this account needs reconnecting with {} before it can be resumed",
            account.kind.platform()
        )));
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
        settings.js_constant = check_js_constant(name, account.kind)?;
    }
    let owner_email = request
        .owner_email
        .as_deref()
        .map(check_owner_email)
        .transpose()?;
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
    if let Some(email) = owner_email
        && email != account.owner_email
    {
        account = state
            .store
            .accounts()
            .set_owner_email(tenant_id, account_id, email)
            .await?;
    }
    if let Some(paused) = request.paused {
        // Only a resume needs to know when the next refresh falls due.
        let resume_at = if paused {
            None
        } else {
            let lifetime = state.store.tokens().lifetime(account.proof()).await?;
            Some(schedule::next_refresh_at(
                account.kind,
                Utc::now(),
                lifetime,
                account.refresh_interval,
            ))
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

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/refresh", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 202, description = "queued: `runs_at` says when and `message` why then (a token under 24 hours old waits until it is old enough)", body = RefreshNowAnswer), (status = 403, description = "viewers cannot refresh", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody), (status = 409, description = "paused, or needs reconnecting", body = ErrorBody)))]
async fn refresh_now(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<(StatusCode, axum::Json<RefreshNowAnswer>), ApiError> {
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
            return Err(ApiError::Conflict(format!(
                "this account's token is no longer valid: reconnect it with {}",
                account.kind.platform()
            )));
        }
    }
    let now = Utc::now();
    let lifetime = state.store.tokens().lifetime(account.proof()).await?;
    let at = schedule::earliest_refresh(account.kind, now, lifetime);
    let account = state
        .store
        .accounts()
        .schedule_refresh(tenant_id, account_id, at)
        .await?;
    let waits = at > now;
    if !waits && let Some(background) = &state.background {
        background.refresh_now(account_id).await;
    }
    let message = refresh_now_message(account.kind, now, at, state.background.is_some());
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(RefreshNowAnswer {
            account: account_view(&state, &account).await?,
            runs_at: rfc3339(at),
            waits,
            message,
        }),
    ))
}

/// What "refresh now" did, for people: at once, or when the token is old enough and why.
fn refresh_now_message(
    kind: AccountKind,
    now: DateTime<Utc>,
    at: DateTime<Utc>,
    worker_here: bool,
) -> String {
    let what = if kind.is_refreshed() {
        "refresh"
    } else {
        "check"
    };
    if at > now {
        let hours = ((at - now).num_minutes() + 59).div_euclid(60).max(1);
        return format!(
            "{platform} refreshes a token only once it is a day old, and this one is younger: \
             the refresh will run at {when} UTC, in about {hours} hour{s}. The token keeps \
             working until then.",
            platform = kind.platform(),
            when = at.format("%-d %b %Y, %H:%M"),
            s = if hours == 1 { "" } else { "s" },
        );
    }
    if worker_here {
        format!("The {what} is running now; its result appears in the history within seconds.")
    } else {
        format!(
            "The {what} is due now: a worker runs it at its next pass, and its result appears in the history."
        )
    }
}

/// Demo mode only: plays a step of the demo's story on the account (see
/// [`freshtoken_accounts::demo`]) and asks the worker to run what falls due.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/demo-scene", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), request_body = DemoSceneRequest, responses((status = 202, description = "played: the worker runs the account's refresh now; `message` says what to watch for", body = DemoSceneAnswer), (status = 403, description = "viewers cannot play scenes", body = ErrorBody), (status = 404, description = "not found, or not a demo instance", body = ErrorBody), (status = 409, description = "a Facebook Page, a paused account, or one needing reconnecting", body = ErrorBody)))]
async fn demo_scene(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
    ApiJson(request): ApiJson<DemoSceneRequest>,
) -> Result<(StatusCode, axum::Json<DemoSceneAnswer>), ApiError> {
    let Some(platform) = state.demo_platform.clone() else {
        return Err(ApiError::NotFound);
    };
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    let played = demo::play(&state.store, platform.as_ref(), &account, request.scene).await?;
    if let Some(background) = &state.background {
        background.refresh_now(account_id).await;
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DemoSceneAnswer {
            account: account_view(&state, &played.account).await?,
            message: played.message,
        }),
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
