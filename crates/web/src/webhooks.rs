//! A tenant's webhook endpoints (owners manage them) and the delivery log of its notifications
//! (every member reads it). Deliveries themselves are the worker's.

use std::net::IpAddr;

use axum::Router;
use axum::extract::State;

use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use freshtoken_core::api::{CreateWebhookRequest, NotificationView, WEBHOOK_EVENTS, WebhookView};
use freshtoken_store::{Notification, Webhook};
use serde::Deserialize;
use url::{Host, Url};

use crate::auth::Principal;
use crate::extract::{Path, Query};
use crate::json::ApiJson;
use crate::openapi::ErrorBody;
use crate::tenants::{Access, rfc3339};
use crate::{ApiError, AppState};

/// Endpoints per workspace.
pub const MAX_WEBHOOKS: usize = 10;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{tenant_id}/webhooks", get(list).post(create))
        .route("/tenants/{tenant_id}/webhooks/{webhook_id}", delete(remove))
        .route(
            "/tenants/{tenant_id}/webhooks/{webhook_id}/test",
            post(send_test),
        )
        .route("/tenants/{tenant_id}/notifications", get(notifications))
}

fn view(hook: &Webhook) -> WebhookView {
    WebhookView {
        id: hook.id,
        url: hook.url.clone(),
        events: hook.events.clone(),
        secret: hook.secret.clone(),
        enabled: hook.enabled,
        created_at: rfc3339(hook.created_at),
    }
}

/// Checks a webhook URL. Unless the operator allows it, the worker must not be turned into a
/// way to reach the instance's own network: loopback, private and link-local addresses and
/// `localhost` are refused. (A public name that resolves to a private address is not caught
/// here.)
pub fn check_webhook_url(text: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|_| format!("{text:?} is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("webhook URLs must start with https:// (or http://)".to_owned());
    }
    let private = match url.host() {
        None => return Err("the webhook URL has no host".to_owned()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
    };
    if private && !allow_private {
        return Err("webhook URLs must point to a public address (this instance's operator can allow private ones with FRESHTOKEN_WEBHOOKS_ALLOW_PRIVATE)".to_owned());
    }
    Ok(url)
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                // 100.64.0.0/10, carrier-grade NAT.
                || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = CreateWebhookRequest, responses((status = 201, description = "the endpoint, with its signing secret", body = WebhookView), (status = 400, description = "invalid URL or event", body = ErrorBody), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, axum::Json<WebhookView>), ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    let url = check_webhook_url(&request.url, state.config.webhooks_allow_private)
        .map_err(ApiError::invalid)?;
    let events = match request.events {
        None => WEBHOOK_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
        Some(events) => {
            if events.is_empty() {
                return Err(ApiError::invalid("choose at least one event"));
            }
            if let Some(unknown) = events
                .iter()
                .find(|e| !WEBHOOK_EVENTS.contains(&e.as_str()))
            {
                return Err(ApiError::invalid(format!(
                    "unknown event {unknown:?}; events are {}",
                    WEBHOOK_EVENTS.join(", ")
                )));
            }
            let mut events = events;
            events.sort();
            events.dedup();
            events
        }
    };
    if state.store.webhooks().list(tenant_id).await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::invalid(format!(
            "a workspace may have at most {MAX_WEBHOOKS} webhooks"
        )));
    }
    let hook = state
        .store
        .webhooks()
        .create(tenant_id, url.as_str(), &events)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view(&hook))))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "the workspace's endpoints", body = Vec<WebhookView>), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
) -> Result<axum::Json<Vec<WebhookView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    let hooks = state.store.webhooks().list(tenant_id).await?;
    Ok(axum::Json(hooks.iter().map(view).collect()))
}

#[utoipa::path(delete, path = "/api/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id"), ("webhook_id" = i64, Path, description = "endpoint")), responses((status = 204, description = "deleted, with its pending deliveries"), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, webhook_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    state.store.webhooks().delete(tenant_id, webhook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a `webhook.test` delivery to the endpoint; the delivery log shows how it went.
#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/webhooks/{webhook_id}/test", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id"), ("webhook_id" = i64, Path, description = "endpoint")), responses((status = 202, description = "queued; the worker delivers it within seconds", body = NotificationView), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn send_test(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant_id, webhook_id)): Path<(i64, i64)>,
) -> Result<(StatusCode, axum::Json<NotificationView>), ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    let queued = state
        .store
        .notifications()
        .enqueue_test(tenant_id, webhook_id, chrono::Utc::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::ACCEPTED, axum::Json(notification_view(queued))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LogQuery {
    /// At most this many, newest first (default 50, at most 500).
    limit: Option<u64>,
}

fn notification_view(n: Notification) -> NotificationView {
    NotificationView {
        id: n.id,
        event: n.event,
        channel: n.channel,
        webhook_id: n.webhook_id,
        recipient: n.recipient,
        account_id: n.account_id,
        status: n.status,
        attempts: n.attempts,
        response_status: n.response_status,
        last_error: n.last_error,
        created_at: rfc3339(n.created_at),
        delivered_at: n.delivered_at.map(rfc3339),
    }
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/notifications", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id"), LogQuery), responses((status = 200, description = "the delivery log, newest first", body = Vec<NotificationView>), (status = 404, description = "not found", body = ErrorBody)))]
async fn notifications(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    Query(query): Query<LogQuery>,
) -> Result<axum::Json<Vec<NotificationView>>, ApiError> {
    Access::resolve(&state, principal, tenant_id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let log = state.store.notifications().recent(tenant_id, limit).await?;
    Ok(axum::Json(log.into_iter().map(notification_view).collect()))
}
