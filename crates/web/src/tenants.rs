//! Workspaces (tenants), their members and invitations, and who may do what inside them.
//!
//! Every route under `/tenants/{id}` resolves the caller's role there first: a caller with no
//! role gets 404, exactly as for a tenant that does not exist, so nobody learns what others
//! have.

use axum::Router;
use axum::extract::State;

use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use chrono::Utc;
use freshtoken_core::Role;
use freshtoken_core::api::{
    AcceptInviteRequest, CreateInviteRequest, CreateTenantRequest, CreatedInvite, InvitePreview,
    InviteView, MeResponse, MemberView, TenantView, UpdateMemberRequest,
};
use freshtoken_store::{Duplicate, Invite, NewInvite, StoreError, Tenant};

use crate::caller::{Access, Principal, SignedIn, me_response};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Path;
use crate::json::ApiJson;
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;
use crate::timestamps::rfc3339;
pub use crate::workspaces::check_slug;
use crate::workspaces::{check_invite, check_name, no_free_slug, refused, slug_candidates};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list_tenants).post(create))
        .route("/tenants/{tenant_id}", get(get_tenant))
        .route("/tenants/{tenant_id}/members", get(list_members))
        .route(
            "/tenants/{tenant_id}/members/{user_id}",
            axum::routing::patch(update_member).delete(remove_member),
        )
        .route(
            "/tenants/{tenant_id}/invites",
            get(list_invites).post(create_invite),
        )
        .route(
            "/tenants/{tenant_id}/invites/{invite_id}",
            delete(delete_invite),
        )
        .route("/invites/accept", post(accept))
        .route("/invites/preview", post(preview))
}

/// Creates a tenant; with no slug given, derives one from the name and makes it unique.
pub async fn create_tenant(
    state: &AppState,
    name: &str,
    slug: Option<&str>,
) -> Result<Tenant, ApiError> {
    let name = check_name(name)?;
    if let Some(slug) = slug {
        check_slug(slug)?;
        return state
            .store
            .tenants()
            .create(name, slug)
            .await
            .map_err(|err| match err {
                StoreError::Duplicate(Duplicate::TenantSlug) => {
                    ApiError::Conflict(format!("the slug {slug:?} is taken: choose another"))
                }
                other => other.into(),
            });
    }
    for candidate in slug_candidates(name) {
        match state.store.tenants().create(name, &candidate).await {
            Ok(tenant) => return Ok(tenant),
            Err(StoreError::Duplicate(Duplicate::TenantSlug)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(no_free_slug())
}

pub async fn accept_invite(
    state: &AppState,
    secret_sha256: &str,
    user_id: i64,
) -> Result<Invite, ApiError> {
    match state
        .store
        .invites()
        .accept(secret_sha256, user_id, Utc::now())
        .await
    {
        Ok(Ok(invite)) => Ok(invite),
        Ok(Err(reason)) => Err(refused(reason)),
        Err(StoreError::Duplicate(Duplicate::Membership)) => Err(ApiError::Conflict(
            "you are already a member of this workspace".into(),
        )),
        Err(other) => Err(other.into()),
    }
}

fn tenant_view(tenant: Tenant, role: Role) -> TenantView {
    TenantView {
        id: tenant.id,
        name: tenant.name,
        slug: tenant.slug,
        role,
        disabled: tenant.disabled_at.is_some(),
    }
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "workspaces", responses((status = 200, description = "your workspaces", body = Vec<TenantView>)))]
async fn list_tenants(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
) -> Result<axum::Json<Vec<TenantView>>, ApiError> {
    Ok(axum::Json(me_response(&state, &user).await?.tenants))
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "workspaces", request_body = CreateTenantRequest, responses((status = 201, description = "created; you own it", body = TenantView), (status = 400, description = "invalid input", body = ErrorBody), (status = 401, description = "not signed in", body = ErrorBody), (status = 409, description = "slug taken", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiJson(request): ApiJson<CreateTenantRequest>,
) -> Result<(StatusCode, axum::Json<TenantView>), ApiError> {
    let tenant = create_tenant(&state, &request.name, request.slug.as_deref()).await?;
    state
        .store
        .memberships()
        .add(tenant.id, user.id, Role::Owner)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(tenant_view(tenant, Role::Owner)),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "the workspace and your role", body = TenantView), (status = 404, description = "no such workspace, or not yours", body = ErrorBody)))]
async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<TenantView>, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    Ok(axum::Json(tenant_view(access.tenant, access.role)))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/members", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "members", body = Vec<MemberView>), (status = 404, description = "no such workspace, or not yours", body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<Vec<MemberView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    let members = state.store.memberships().members(tenant_id).await?;
    Ok(axum::Json(
        members
            .into_iter()
            .map(|m| MemberView {
                user_id: m.user_id,
                email: m.email,
                name: m.name,
                role: m.role,
            })
            .collect(),
    ))
}

/// Refuses a change that would leave the tenant without an owner.
async fn keep_an_owner(state: &AppState, tenant_id: i64, user_id: i64) -> Result<(), ApiError> {
    let current = state
        .store
        .memberships()
        .role_of(tenant_id, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current == Role::Owner && state.store.memberships().owner_count(tenant_id).await? <= 1 {
        return Err(ApiError::Conflict(
            "a workspace needs at least one owner: make someone else an owner first".into(),
        ));
    }
    Ok(())
}

#[utoipa::path(patch, path = "/api/v1/tenants/{tenant_id}/members/{user_id}", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id"), ("user_id" = i64, Path, description = "member")), request_body = UpdateMemberRequest, responses((status = 204, description = "role changed"), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody), (status = 409, description = "would leave no owner", body = ErrorBody)))]
async fn update_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, user_id)): Path<(i64, i64)>,
    ApiJson(request): ApiJson<UpdateMemberRequest>,
) -> Result<StatusCode, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    access.require_owner()?;
    if request.role != Role::Owner {
        keep_an_owner(&state, tenant_id, user_id).await?;
    }
    state
        .store
        .memberships()
        .set_role(tenant_id, user_id, request.role)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/members/{user_id}", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id"), ("user_id" = i64, Path, description = "member")), responses((status = 204, description = "removed"), (status = 403, description = "owners only (anyone may leave)", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody), (status = 409, description = "would leave no owner", body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    // Anyone may leave; only owners may remove others.
    let leaving = matches!(&access.principal, Principal::User(user) if user.id == user_id);
    if !leaving {
        access.require_owner()?;
    }
    keep_an_owner(&state, tenant_id, user_id).await?;
    state.store.memberships().remove(tenant_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn invite_view(invite: &Invite) -> InviteView {
    InviteView {
        id: invite.id,
        role: invite.role,
        created_at: rfc3339(invite.created_at),
        expires_at: rfc3339(invite.expires_at),
        used: invite.used_at.is_some(),
    }
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/invites", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = CreateInviteRequest, responses((status = 201, description = "the link, shown once", body = CreatedInvite), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn create_invite(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<CreateInviteRequest>,
) -> Result<(StatusCode, axum::Json<CreatedInvite>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    access.require_owner()?;
    let days = request.expires_in_days.unwrap_or(7);
    if !(1..=30).contains(&days) {
        return Err(ApiError::invalid(
            "expires_in_days must be between 1 and 30",
        ));
    }
    let secret = random_secret();
    let invite = state
        .store
        .invites()
        .create(NewInvite {
            tenant_id,
            secret_sha256: sha256_hex(&secret),
            role: request.role,
            created_by: access.principal.user_id(),
            expires_at: Utc::now() + chrono::Duration::days(i64::from(days)),
        })
        .await?;
    let mut url = state.config.public_url.clone();
    url.set_path("/invite");
    url.set_query(Some(&format!("secret={secret}")));
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedInvite {
            invite: invite_view(&invite),
            secret,
            url: url.to_string(),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/invites", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "invitations", body = Vec<InviteView>), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn list_invites(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<Vec<InviteView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    let invites = state.store.invites().list(tenant_id).await?;
    Ok(axum::Json(invites.iter().map(invite_view).collect()))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/invites/{invite_id}", tag = "workspaces", params(("tenant_id" = i64, Path, description = "workspace id"), ("invite_id" = i64, Path, description = "invitation")), responses((status = 204, description = "withdrawn"), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn delete_invite(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, invite_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    state.store.invites().delete(tenant_id, invite_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/invites/accept", tag = "workspaces", request_body = AcceptInviteRequest, responses((status = 200, description = "joined", body = MeResponse), (status = 400, description = "unknown, used or expired invitation", body = ErrorBody), (status = 409, description = "already a member", body = ErrorBody)))]
async fn accept(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
    ApiJson(request): ApiJson<AcceptInviteRequest>,
) -> Result<axum::Json<MeResponse>, ApiError> {
    accept_invite(&state, &sha256_hex(request.secret.trim()), user.id).await?;
    Ok(axum::Json(me_response(&state, &user).await?))
}

/// What an invitation's link offers, for its page before anyone signs in: the workspace, who
/// invited, the role. The secret is the credential, as for accepting; nothing is written.
#[utoipa::path(post, path = "/api/v1/invites/preview", tag = "workspaces", request_body = AcceptInviteRequest, responses((status = 200, description = "what the invitation offers", body = InvitePreview), (status = 400, description = "unknown, used or expired invitation (`invite_refused`)", body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AcceptInviteRequest>,
) -> Result<axum::Json<InvitePreview>, ApiError> {
    let invite = check_invite(&state, &sha256_hex(request.secret.trim())).await?;
    let tenant = state.store.tenants().by_id(invite.tenant_id).await?;
    let invited_by = match invite.created_by {
        Some(user_id) => match state.store.users().by_id(user_id).await {
            Ok(user) => Some(user.email),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    Ok(axum::Json(InvitePreview {
        workspace: tenant.name,
        invited_by,
        role: invite.role,
        expires_at: rfc3339(invite.expires_at),
    }))
}
