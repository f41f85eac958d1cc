//! API keys for automation: shown once at creation, kept as a SHA-256 hash with a visible
//! prefix, revocable, with the time they were last used, scopes (`api`, `tokens:read`) and an
//! optional expiry.

use axum::Router;
use axum::extract::State;

use axum::http::StatusCode;
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use freshtoken_core::ApiKeyScope;
use freshtoken_core::api::{ApiKeyView, CreateApiKeyRequest, CreatedApiKey};
use freshtoken_store::{ApiKey, NewApiKey};

use crate::bearer::scopes;
use crate::caller::{Access, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::json::ApiJson;
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;
use crate::timestamps::rfc3339;

/// What every API key starts with.
const API_KEY_PREFIX: &str = "ft_";

/// Characters of the secret shown as its prefix, after `ft_`.
const VISIBLE: usize = 8;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant_id}/api-keys", get(list).post(create))
        .route("/tenants/{tenant_id}/api-keys/{key_id}", delete(revoke))
}

fn view(key: &ApiKey) -> ApiKeyView {
    let expired = key.expires_at.is_some_and(|at| at <= Utc::now());
    ApiKeyView {
        id: key.id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        created_at: rfc3339(key.created_at),
        last_used_at: key.last_used_at.map(rfc3339),
        revoked: key.revoked_at.is_some(),
        scopes: scopes(key),
        expires_at: key.expires_at.map(rfc3339),
        active: key.revoked_at.is_none() && !expired,
    }
}

/// The scopes asked for, as stored: at least one, each once, `api` when none was named.
fn requested_scopes(asked: Option<&[ApiKeyScope]>) -> Result<String, ApiError> {
    let asked = asked.unwrap_or(&[ApiKeyScope::Api]);
    if asked.is_empty() {
        return Err(ApiError::invalid(
            "scopes must name at least one of: api, tokens:read (or be left out for api)",
        ));
    }
    let mut words: Vec<&str> = asked.iter().map(|scope| scope.as_str()).collect();
    words.sort_unstable();
    words.dedup();
    Ok(words.join(" "))
}

fn requested_expiry(asked: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = asked else {
        return Ok(None);
    };
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            ApiError::invalid("expires_at must be an RFC 3339 time, e.g. 2027-06-30T00:00:00Z")
        })?
        .with_timezone(&Utc);
    if at <= Utc::now() {
        return Err(ApiError::invalid("expires_at must be in the future"));
    }
    Ok(Some(at))
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
    let scopes = requested_scopes(request.scopes.as_deref())?;
    let expires_at = requested_expiry(request.expires_at.as_deref())?;
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
            scopes,
            expires_at,
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
