//! The operator's view of the instance: every tenant and user, and the switch to disable one.
//! A disabled user cannot sign in and loses their sessions; a disabled tenant's members are
//! refused inside it (and, once token URLs exist, its URLs stop serving).

use axum::Router;
use axum::extract::{FromRequestParts, State};

use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use freshtoken_core::AccountStatus;
use freshtoken_core::api::{OperatorHealthView, OperatorTenantView, OperatorUserView};
use freshtoken_store::User;

use crate::caller::SignedIn;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;
use crate::timestamps::rfc3339;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tenants", get(tenants))
        .route("/admin/users", get(users))
        .route("/admin/health", get(health))
        .route("/admin/tenants/{id}/disable", post(disable_tenant))
        .route("/admin/tenants/{id}/enable", post(enable_tenant))
        .route("/admin/users/{id}/disable", post(disable_user))
        .route("/admin/users/{id}/enable", post(enable_user))
}

/// A signed-in operator; anyone else gets 404, as if these routes did not exist.
pub struct Operator(pub User);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        if user.is_operator {
            Ok(Operator(user))
        } else {
            Err(ApiError::NotFound)
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/tenants", tag = "operator", responses((status = 200, description = "every tenant", body = Vec<OperatorTenantView>), (status = 404, description = "not an operator", body = ErrorBody)))]
async fn tenants(
    State(state): State<AppState>,
    _: Operator,
) -> Result<axum::Json<Vec<OperatorTenantView>>, ApiError> {
    let mut views = Vec::new();
    // One query per tenant for its counts: fine for an operator page of a self-hosted instance.
    for tenant in state.store.tenants().list().await? {
        views.push(OperatorTenantView {
            id: tenant.id,
            name: tenant.name,
            slug: tenant.slug,
            members: state.store.memberships().members(tenant.id).await?.len() as u64,
            accounts: state.store.accounts().count(tenant.id).await?,
            created_at: rfc3339(tenant.created_at),
            disabled: tenant.disabled_at.is_some(),
        });
    }
    Ok(axum::Json(views))
}

#[utoipa::path(get, path = "/api/v1/admin/health", tag = "operator", responses((status = 200, description = "the refresh and notification backlog, accounts by status", body = OperatorHealthView), (status = 404, description = "not an operator", body = ErrorBody)))]
async fn health(
    State(state): State<AppState>,
    _: Operator,
) -> Result<axum::Json<OperatorHealthView>, ApiError> {
    let now = chrono::Utc::now();
    let by_status = state.store.accounts().count_by_status().await?;
    let count = |status: AccountStatus| {
        by_status
            .iter()
            .find(|(name, _)| name == status.as_str())
            .map_or(0, |(_, count)| u64::try_from(*count).unwrap_or(0))
    };
    Ok(axum::Json(OperatorHealthView {
        refreshes_due: state.store.refresh_queue().due_count(now).await?,
        notifications_pending: state.store.notifications().pending_count().await?,
        soonest_expiry_at: state
            .store
            .refresh_queue()
            .soonest_expiry()
            .await?
            .map(rfc3339),
        accounts_active: count(AccountStatus::Active),
        accounts_paused: count(AccountStatus::Paused),
        accounts_needing_reconnect: count(AccountStatus::NeedsReconnect),
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "operator", responses((status = 200, description = "every user", body = Vec<OperatorUserView>), (status = 404, description = "not an operator", body = ErrorBody)))]
async fn users(
    State(state): State<AppState>,
    _: Operator,
) -> Result<axum::Json<Vec<OperatorUserView>>, ApiError> {
    let mut views = Vec::new();
    for user in state.store.users().list().await? {
        views.push(OperatorUserView {
            id: user.id,
            email: user.email,
            name: user.name,
            is_operator: user.is_operator,
            tenants: state.store.memberships().tenants_of(user.id).await?.len() as u64,
            created_at: rfc3339(user.created_at),
            last_login_at: user.last_login_at.map(rfc3339),
            disabled: user.disabled_at.is_some(),
        });
    }
    Ok(axum::Json(views))
}

#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/disable", tag = "operator", params(("id" = i64, Path, description = "tenant")), responses((status = 204, description = "disabled"), (status = 404, description = "not found", body = ErrorBody)))]
async fn disable_tenant(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.tenants().set_disabled(id, true).await?;
    state.delivery.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/admin/tenants/{id}/enable", tag = "operator", params(("id" = i64, Path, description = "tenant")), responses((status = 204, description = "enabled"), (status = 404, description = "not found", body = ErrorBody)))]
async fn enable_tenant(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.tenants().set_disabled(id, false).await?;
    state.delivery.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/disable", tag = "operator", params(("id" = i64, Path, description = "user")), responses((status = 204, description = "disabled; their sessions end"), (status = 404, description = "not found", body = ErrorBody), (status = 409, description = "cannot disable yourself", body = ErrorBody)))]
async fn disable_user(
    State(state): State<AppState>,
    Operator(operator): Operator,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if id == operator.id {
        return Err(ApiError::Conflict("you cannot disable yourself".into()));
    }
    state.store.users().set_disabled(id, true).await?;
    state.store.sessions().delete_for_user(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/admin/users/{id}/enable", tag = "operator", params(("id" = i64, Path, description = "user")), responses((status = 204, description = "enabled"), (status = 404, description = "not found", body = ErrorBody)))]
async fn enable_user(
    State(state): State<AppState>,
    _: Operator,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.users().set_disabled(id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
