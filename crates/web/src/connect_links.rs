//! Connect links over HTTP: owners and editors make, list and revoke them
//! (`/api/v1/tenants/{id}/connect-links`) and get an account's reconnect link; the account's
//! owner opens one at `/c/{secret}` without signing in (`link_flow` has those pages), and
//! leaves the owner's e-mails at `/unsubscribe/{token}`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use chrono::Utc;
use freshtoken_accounts::{LinkRequest, MAX_LINK_DAYS, Presets};
use freshtoken_core::AccountKind;
use freshtoken_core::api::{
    ConnectLinkView, CreateConnectLinkRequest, CreatedConnectLink, LinkPresetsView,
    ReconnectLinkView,
};
use freshtoken_store::{ConnectLink, LinkState, RECONNECT_LINK_DAYS};
use url::Url;

use crate::caller::{Access, Principal};
use crate::client_address::{AddressKey, ClientAddress};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::json::ApiJson;
use crate::link_flow::{self, PAGES_PATH};
use crate::settings_input::{
    check_js_constant, check_label, check_origins, check_owner_email, require_editor,
};
use crate::state::AppState;
use crate::timestamps::rfc3339;

/// The JSON side, under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant_id}/connect-links", get(list).post(create))
        .route(
            "/tenants/{tenant_id}/connect-links/{link_id}",
            delete(revoke),
        )
        .route(
            "/tenants/{tenant_id}/accounts/{account_id}/reconnect-link",
            post(reconnect_link),
        )
}

/// The pages the account's owner sees.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PAGES_PATH, get(pages).post(choose_pages))
        .route("/c/{secret}", get(landing))
        .route("/c/{secret}/connect", get(start))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

/// A link's address: `{public URL}/c/{secret}`.
pub fn link_url(public_url: &Url, secret: &str) -> String {
    public_url
        .join(&format!("c/{secret}"))
        .map(String::from)
        .unwrap_or_default()
}

fn state_name(state: LinkState) -> &'static str {
    match state {
        LinkState::Usable => "active",
        LinkState::Expired => "expired",
        LinkState::Used => "used",
        LinkState::Revoked => "revoked",
    }
}

async fn view(state: &AppState, link: &ConnectLink) -> Result<ConnectLinkView, ApiError> {
    let created_by = match link.created_by {
        Some(id) => {
            let user = state.store.users().by_id(id).await?;
            Some(if user.name.trim().is_empty() {
                user.email
            } else {
                user.name
            })
        }
        None => None,
    };
    let presets = &link.presets;
    Ok(ConnectLinkView {
        id: link.id,
        kind: link.kind,
        label: link.label.clone(),
        presets: LinkPresetsView {
            label: presets.label.clone(),
            allowed_origins: presets.allowed_origins.clone(),
            js_constant: presets.js_constant.clone(),
            refresh_interval: presets.refresh_interval,
            owner_email: presets.owner_email.clone(),
        },
        reusable: link.reusable,
        uses: link.uses,
        state: state_name(link.state(Utc::now())).to_owned(),
        created_by,
        created_at: rfc3339(link.created_at),
        expires_at: rfc3339(link.expires_at),
        last_used_at: link.last_used_at.map(rfc3339),
    })
}

/// The presets as asked, checked as the same settings are when changed on an account; the
/// account's label defaults to the link's.
fn presets_of(
    request: &LinkPresetsView,
    kind: AccountKind,
    link_label: &str,
) -> Result<Presets, ApiError> {
    let label = match &request.label {
        Some(label) => Some(check_label(label)?),
        None if !link_label.is_empty() => Some(link_label.to_owned()),
        None => None,
    };
    Ok(Presets {
        label,
        allowed_origins: request
            .allowed_origins
            .as_deref()
            .map(check_origins)
            .transpose()?,
        js_constant: match &request.js_constant {
            Some(name) => check_js_constant(name, kind)?,
            None => None,
        },
        refresh_interval: request.refresh_interval,
        owner_email: match &request.owner_email {
            Some(email) => check_owner_email(email)?,
            None => None,
        },
        // Neither is a link's to give: an open account and a /token/ name are instatokend's.
        public: None,
        alias: None,
    })
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/connect-links", tag = "connect links", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = CreateConnectLinkRequest, responses((status = 201, description = "the link, with its address: the only answer that carries it", body = CreatedConnectLink), (status = 400, description = "an invalid preset or expiry (`invalid_input`), or a kind this instance does not offer (`kind_not_offered`)", body = ErrorBody), (status = 403, description = "viewers cannot make links", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody), (status = 429, description = "too many links made in the last hour (`Retry-After`)", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<CreateConnectLinkRequest>,
) -> Result<(StatusCode, axum::Json<CreatedConnectLink>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let kind = request.kind.unwrap_or(AccountKind::Instagram);
    let label = check_label(request.label.as_deref().unwrap_or(""))?;
    let presets = presets_of(&request.presets, kind, &label)?;
    let days = request.expires_in_days.unwrap_or(7);
    if days == 0 || i64::from(days) > MAX_LINK_DAYS {
        return Err(ApiError::invalid(format!(
            "expires_in_days must be 1 to {MAX_LINK_DAYS}"
        )));
    }
    state
        .link_limits
        .making
        .check(tenant_id)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    let (link, secret) = state
        .connector
        .create_link(
            tenant_id,
            LinkRequest {
                kind,
                label,
                presets,
                reusable: request.reusable,
                expires_in: Some(chrono::Duration::days(i64::from(days))),
                created_by: access.principal.user_id(),
            },
        )
        .await?;
    tracing::info!(
        tenant_id,
        link_id = link.id,
        kind = kind.as_str(),
        "made a connect link"
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedConnectLink {
            link: view(&state, &link).await?,
            url: link_url(&state.config.public_url, &secret),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/connect-links", tag = "connect links", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "the workspace's connect links, newest first, without their addresses", body = Vec<ConnectLinkView>), (status = 404, description = "not found", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<Vec<ConnectLinkView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    let links = state.store.connect_links().list(tenant_id).await?;
    let mut views = Vec::with_capacity(links.len());
    for link in &links {
        views.push(view(&state, link).await?);
    }
    Ok(axum::Json(views))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/connect-links/{link_id}", tag = "connect links", params(("tenant_id" = i64, Path, description = "workspace id"), ("link_id" = i64, Path, description = "link id")), responses((status = 200, description = "revoked: the link answers \"withdrawn\" from now on", body = ConnectLinkView), (status = 403, description = "viewers cannot revoke", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, link_id)): Path<(i64, i64)>,
) -> Result<axum::Json<ConnectLinkView>, ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let link = state
        .store
        .connect_links()
        .revoke(tenant_id, link_id, Utc::now())
        .await?;
    Ok(axum::Json(view(&state, &link).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/accounts/{account_id}/reconnect-link", tag = "connect links", params(("tenant_id" = i64, Path, description = "workspace id"), ("account_id" = i64, Path, description = "account id")), responses((status = 201, description = "a new reconnect link for the account (the one before stops working): its owner reconnects it without signing in, same token URLs", body = ReconnectLinkView), (status = 403, description = "viewers cannot make links", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody), (status = 429, description = "too many links made in the last hour (`Retry-After`)", body = ErrorBody)))]
async fn reconnect_link(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, account_id)): Path<(i64, i64)>,
) -> Result<(StatusCode, axum::Json<ReconnectLinkView>), ApiError> {
    let access = Access::resolve(&state, principal, tenant_id).await?;
    require_editor(&access)?;
    let account = state.store.accounts().get(tenant_id, account_id).await?;
    state
        .link_limits
        .making
        .check(tenant_id)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    let secret = state
        .connector
        .issue_reconnect_link(account.account())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ReconnectLinkView {
            url: link_url(&state.config.public_url, &secret),
            expires_at: rfc3339(Utc::now() + chrono::Duration::days(RECONNECT_LINK_DAYS)),
        }),
    ))
}

async fn landing(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(secret): Path<String>,
) -> Response {
    link_flow::landing(&state, AddressKey::from(client), &secret).await
}

async fn start(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Path(secret): Path<String>,
) -> Response {
    link_flow::start(&state, AddressKey::from(client), &headers, &secret).await
}

#[derive(Debug, serde::Deserialize)]
struct LoginQuery {
    #[serde(default)]
    login: String,
}

async fn pages(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    link_flow::pages(&state, AddressKey::from(client), &headers, &query.login).await
}

async fn choose_pages(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    link_flow::choose_pages(&state, AddressKey::from(client), &headers, &body).await
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(token): Path<String>,
) -> Response {
    link_flow::unsubscribe_page(&state, AddressKey::from(client), &token).await
}

async fn unsubscribe(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(token): Path<String>,
) -> Response {
    link_flow::unsubscribe(&state, AddressKey::from(client), &token).await
}
