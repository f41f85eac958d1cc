//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations and the shared
//! types of `freshtoken_core::api`, served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "freshtoken",
        description = "Keeps Meta access tokens (Instagram, Facebook Page, Threads) fresh, for many tenants. Authenticate with the session cookie (state changes need a same-origin Origin) or `Authorization: Bearer ft_...`."
    ),
    paths(
        crate::auth::sign_up,
        crate::auth::sign_in,
        crate::auth::sign_out,
        crate::auth::me,
        crate::auth::session_probe,
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
        crate::tenants::preview,
        crate::api_keys::create,
        crate::api_keys::list,
        crate::api_keys::revoke,
        crate::webhooks::create,
        crate::webhooks::list,
        crate::webhooks::remove,
        crate::webhooks::send_test,
        crate::webhooks::notifications,
        crate::instance::instance,
        crate::accounts::list,
        crate::accounts::paste_token,
        crate::accounts::get_account,
        crate::accounts::update,
        crate::accounts::delete_account,
        crate::accounts::rotate_url,
        crate::accounts::media,
        crate::accounts::refresh_now,
        crate::accounts::demo_scene,
        crate::accounts::events,
        crate::connect::offered_pages,
        crate::connect::choose_pages,
        crate::connect_links::create,
        crate::connect_links::list,
        crate::connect_links::revoke,
        crate::connect_links::reconnect_link,
        crate::accounts::requests,
        crate::operator::tenants,
        crate::operator::users,
        crate::operator::health,
        crate::operator::disable_tenant,
        crate::operator::enable_tenant,
        crate::operator::disable_user,
        crate::operator::enable_user,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&CommonErrors)
)]
pub struct ApiDoc;

/// Adds to every operation the error answers that come from layers and extractors shared by
/// all routes rather than from the handler, so that the document lists every status a route
/// can answer (a fuzzer holds it to that):
///
/// - 400: a query string or JSON body holding a control character, a query value of the wrong
///   type, malformed JSON;
/// - 401 and 403 on every route behind sign-in: no session or key; a key without the `api`
///   scope, a person-only route called with a key, a disabled workspace, the same-origin rule;
/// - 404 on every route with a path parameter: a value of the wrong type names nothing;
/// - 413, 415 and 422 on every route with a JSON body: too large, not JSON, the wrong shape.
///
/// A handler's own description of a status, where it gives one, is kept.
struct CommonErrors;

/// Operations anyone may call, without a session or a key.
const PUBLIC_OPERATIONS: &[&str] = &[
    "/api/v1/auth/signup",
    "/api/v1/auth/signin",
    "/api/v1/instance",
    "/api/v1/session",
    "/api/v1/invites/preview",
];

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = PUBLIC_OPERATIONS.contains(&path.as_str());
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let has_path_parameter = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|parameter| matches!(parameter.parameter_in, ParameterIn::Path));
                let has_body = operation.request_body.is_some();
                let mut common = vec![(
                    "400",
                    "invalid input: a control character, a value of the wrong type, malformed JSON",
                )];
                if !public {
                    common.push((
                        "401",
                        "not signed in, or an invalid, expired or revoked API key",
                    ));
                    common.push(("403", "not allowed: a role, a key's scopes, a disabled workspace, or a request from another origin"));
                }
                if has_path_parameter {
                    common.push(("404", "not found, or not the caller's to see"));
                }
                if has_body {
                    common.push(("413", "the body is larger than 64 KiB"));
                    common.push(("415", "the body is not application/json"));
                    common.push(("422", "the body has the wrong shape"));
                }
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
