//! A tenant's webhook endpoints (owners manage them) and the delivery log of its notifications
//! (every member reads it). Deliveries themselves are the worker's.

use axum::Router;
use axum::extract::State;

use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use freshtoken_core::api::{
    CreateWebhookRequest, CreatedWebhook, NotificationView, WEBHOOK_EVENTS, WebhookView,
};
use freshtoken_egress::{TargetError, check_webhook_url};
use freshtoken_store::{Notification, Webhook};
use serde::Deserialize;

use crate::caller::{Access, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::timestamps::rfc3339;

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
        enabled: hook.enabled,
        created_at: rfc3339(hook.created_at),
    }
}

/// The answer to a webhook URL that may not be used: a stable code for each kind of problem.
fn refused_url(err: TargetError) -> ApiError {
    match err {
        TargetError::Refused(refused) => ApiError::BadRequest {
            code: "webhook_not_public",
            message: format!(
                "webhooks reach public addresses only: {refused} (this instance's operator can allow named hosts with FRESHTOKEN_WEBHOOK_ALLOW_HOSTS)"
            ),
        },
        other => ApiError::invalid(other.to_string()),
    }
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = CreateWebhookRequest, responses((status = 201, description = "the endpoint, with its signing secret: the only answer that carries it", body = CreatedWebhook), (status = 400, description = "invalid URL or event (`invalid_input`), or a URL whose host is not a public address (`webhook_not_public`)", body = ErrorBody), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, axum::Json<CreatedWebhook>), ApiError> {
    Access::resolve(&state, principal, tenant_id)
        .await?
        .require_owner()?;
    let url = check_webhook_url(&request.url, &state.config.webhook_allow_hosts)
        .await
        .map_err(refused_url)?;
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
    let created = state
        .store
        .webhooks()
        .create(tenant_id, url.as_str(), &events)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedWebhook {
            webhook: view(&created.webhook),
            secret: created.secret,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", params(("tenant_id" = i64, Path, description = "workspace id")), responses((status = 200, description = "the workspace's endpoints, without their secrets", body = Vec<WebhookView>), (status = 403, description = "owners only", body = ErrorBody), (status = 404, description = "not found", body = ErrorBody)))]
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
