//! API keys presented as `Authorization: Bearer ft_...`: which key it is, and whether it may do
//! what the request asks. Shared by the JSON API (`Principal`) and the token URLs, so both
//! read keys, expiry and scopes the same way.

use axum::http::{HeaderMap, header};
use chrono::Utc;
use freshtoken_core::ApiKeyScope;
use freshtoken_store::ApiKey;

use crate::error::ApiError;
use crate::secrets::sha256_hex;
use crate::state::AppState;

/// The secret of an `Authorization: Bearer` header, if the request carries one.
pub(crate) fn bearer_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The key behind `secret`, if it exists, is not revoked and has not expired; its use is
/// recorded (once a minute at most).
pub(crate) async fn authenticate(state: &AppState, secret: &str) -> Result<ApiKey, ApiError> {
    let now = Utc::now();
    let key = state
        .store
        .api_keys()
        .active_by_hash(&sha256_hex(secret), now)
        .await?
        .ok_or(ApiError::Unauthorized(
            "this API key is invalid, expired or revoked",
        ))?;
    if key
        .last_used_at
        .is_none_or(|at| now - at > chrono::Duration::seconds(60))
    {
        state.store.api_keys().touch(key.id, now).await?;
    }
    Ok(key)
}

/// The key's scopes; an unknown word in the database (a newer version's scope) grants nothing.
pub(crate) fn scopes(key: &ApiKey) -> Vec<ApiKeyScope> {
    key.scopes
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect()
}

/// `Ok` if the key holds `scope`; otherwise a 403 that names what the key may do.
pub(crate) fn require(key: &ApiKey, scope: ApiKeyScope) -> Result<(), ApiError> {
    let held = scopes(key);
    if held.contains(&scope) {
        return Ok(());
    }
    let held = held
        .iter()
        .map(|scope| scope.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Err(ApiError::Forbidden(format!(
        "this API key's scopes ({held}) do not include {scope}"
    )))
}
