//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations and the shared
//! types of `freshtoken_core::api`, served at `/api/v1/openapi.json`.

use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// Every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `not_found`, `invalid_input`, `rate_limited`, ...
    pub code: String,
    /// For people.
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "freshtoken",
        description = "Keeps Instagram access tokens fresh, for many tenants. Authenticate with the session cookie (state changes need a same-origin Origin) or `Authorization: Bearer ft_...`."
    ),
    paths(
        crate::auth::sign_up,
        crate::auth::sign_in,
        crate::auth::sign_out,
        crate::auth::me,
        crate::tenants::list_tenants,
        crate::tenants::create,
        crate::tenants::get_tenant,
        crate::tenants::list_members,
        crate::tenants::update_member,
        crate::tenants::remove_member,
        crate::tenants::create_invite,
        crate::tenants::list_invites,
        crate::tenants::delete_invite,
        crate::tenants::accept,
        crate::api_keys::create,
        crate::api_keys::list,
        crate::api_keys::revoke,
        crate::webhooks::create,
        crate::webhooks::list,
        crate::webhooks::remove,
        crate::webhooks::send_test,
        crate::webhooks::notifications,
        crate::instance,
        crate::accounts::list,
        crate::accounts::paste_token,
        crate::accounts::get_account,
        crate::accounts::update,
        crate::accounts::delete_account,
        crate::accounts::rotate_url,
        crate::accounts::media,
        crate::accounts::refresh_now,
        crate::accounts::events,
        crate::accounts::requests,
        crate::operator::tenants,
        crate::operator::users,
        crate::operator::health,
        crate::operator::disable_tenant,
        crate::operator::enable_tenant,
        crate::operator::disable_user,
        crate::operator::enable_user,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
