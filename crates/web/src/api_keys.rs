//! API keys for automation: shown once at creation, kept as a SHA-256 hash with a visible
//! prefix, revocable, with the time they were last used.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use freshtoken_core::api::{ApiKeyView, CreateApiKeyRequest, CreatedApiKey};
use freshtoken_store::{ApiKey, NewApiKey};

use crate::auth::{API_KEY_PREFIX, Principal, sha256_hex};
use crate::json::ApiJson;
use crate::openapi::ErrorBody;
use crate::tenants::{Access, rfc3339};
use crate::{ApiError, AppState, random_secret};

/// Characters of the secret shown as its prefix, after `ft_`.
const VISIBLE: usize = 8;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant_id}/api-keys", get(list).post(create))
        .route("/tenants/{tenant_id}/api-keys/{key_id}", delete(revoke))
}

fn view(key: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: key.id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        created_at: rfc3339(key.created_at),
        last_used_at: key.last_used_at.map(rfc3339),
        revoked: key.revoked_at.is_some(),
    }
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/api-keys", tag = "api keys", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = CreateApiKeyRequest, responses((status = 201, description = "the key, shown once", body = CreatedApiKey), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, axum::Json<CreatedApiKey>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    access.require_owner()?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    let secret = format!("{API_KEY_PREFIX}{}{}", random_secret(), random_secret());
    let key = state
        .store
        .api_keys()
        .create(NewApiKey {
            tenant_id,
            name: name.to_owned(),
            prefix: secret[..API_KEY_PREFIX.len() + VISIBLE].to_owned(),
            secret_sha256: sha256_hex(&secret),
            created_by: access.principal.user_id(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedApiKey {
            key: view(&key),
            secret,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/api-keys", tag = "api keys", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "keys, without secrets", body = Vec<ApiKeyView>), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<Vec<ApiKeyView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    let keys = state.store.api_keys().list(tenant_id).await?;
    Ok(axum::Json(keys.iter().map(view).collect()))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/api-keys/{key_id}", tag = "api keys", params(("tenant_id" = i64, Path, description = "workspace id"), ("key_id" = i64, Path, description = "key")), responses((status = 204, description = "revoked"), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, key_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    state.store.api_keys().revoke(tenant_id, key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
