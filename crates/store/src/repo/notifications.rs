//! The outbox of webhook calls and e-mails. A notification is written in the same transaction
//! as the change it announces, so it cannot be lost; the worker then claims due ones under a
//! lease (like refreshes), delivers them and records the outcome, which is also the delivery
//! log a tenant reads.

use chrono::{DateTime, Utc};
use freshtoken_core::Role;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use super::{claim_due_rows, random_id};
use crate::Store;
use crate::entity::{account, membership, notification, user, webhook};
use crate::error::StoreError;

/// Something worth telling a tenant about, before it is addressed to anyone.
#[derive(Debug, Clone)]
pub struct Announcement {
    /// The event name, e.g. `token.refreshed`; webhooks subscribe to these.
    pub event: String,
    /// The webhook body's `data`.
    pub data: serde_json::Value,
    /// Set when the owners should also get an e-mail.
    pub email: Option<EmailMessage>,
    /// Set when the account's owner (its contact address, if any and still subscribed)
    /// should get an e-mail of their own.
    pub owner_email: Option<EmailMessage>,
}

/// Stands for the account's reconnect link in a notification's stored payload: the link is
/// written in when the notification is sent ([`render_reconnect_url`]), so the outbox, which
/// the delivery log reads, never holds a live link.
pub const RECONNECT_URL: &str = "{{reconnect_url}}";

/// Stands for the token of the owner's unsubscribe link in an owner e-mail: filled in as the
/// e-mail is addressed, from the same read as the address, so the two always match.
pub const UNSUBSCRIBE_TOKEN: &str = "{{unsubscribe_token}}";

/// The payload as sent: [`RECONNECT_URL`] replaced by `url`.
pub fn render_reconnect_url(payload: &str, url: &str) -> String {
    payload.replace(RECONNECT_URL, url)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailMessage {
    pub subject: String,
    pub body: String,
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Webhook {
        webhook_id: i64,
        url: String,
        secret: String,
    },
    Email {
        recipient: String,
    },
}

/// A claimed notification, ready to deliver.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    /// The account the notification is about, if any.
    pub account_id: Option<i64>,
    pub lease_id: String,
    pub event: String,
    /// The exact body to send (for a webhook) or an [`EmailMessage`] as JSON.
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i32,
    pub destination: Destination,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone)]
pub enum DeliveryOutcome {
    Delivered {
        response_status: Option<i32>,
    },
    /// Try again at `at`.
    Retry {
        at: DateTime<Utc>,
        response_status: Option<i32>,
        error: String,
    },
    /// No more tries.
    GaveUp {
        response_status: Option<i32>,
        error: String,
    },
}

/// A notification as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub account_id: Option<i64>,
    pub channel: String,
    pub webhook_id: Option<i64>,
    pub recipient: Option<String>,
    pub event: String,
    pub status: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<notification::Model> for Notification {
    fn from(row: notification::Model) -> Notification {
        Notification {
            id: row.id,
            account_id: row.account_id,
            channel: row.channel,
            webhook_id: row.webhook_id,
            recipient: row.recipient,
            event: row.event,
            status: row.status,
            attempts: row.attempts,
            response_status: row.response_status,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        }
    }
}

/// The event of a test delivery an owner asks for.
pub const TEST_EVENT: &str = "webhook.test";

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// The JSON body of a webhook delivery, with a fresh event id.
fn webhook_body(
    tenant_id: i64,
    event: &str,
    data: &serde_json::Value,
    now: DateTime<Utc>,
) -> String {
    json!({
        "id": format!("evt_{}", random_id()),
        "type": event,
        "created_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "tenant_id": tenant_id,
        "data": data,
    })
    .to_string()
}

/// A notification waiting for its first attempt, due at `now`.
fn pending_row(
    tenant_id: i64,
    account_id: Option<i64>,
    channel: &str,
    event: &str,
    payload: String,
    now: DateTime<Utc>,
) -> notification::ActiveModel {
    notification::ActiveModel {
        tenant_id: Set(tenant_id),
        account_id: Set(account_id),
        channel: Set(channel.to_owned()),
        event: Set(event.to_owned()),
        payload: Set(payload),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        created_at: Set(now),
        // Set on every row, so that rows of either channel insert together.
        webhook_id: Set(None),
        recipient: Set(None),
        ..Default::default()
    }
}

/// Addresses `announcement` to the tenant's subscribed webhooks (and, if it carries an
/// e-mail, to the tenant's owners) on `conn`, inside the caller's transaction.
pub(crate) async fn enqueue_on(
    conn: &impl ConnectionTrait,
    tenant_id: i64,
    account_id: Option<i64>,
    announcement: &Announcement,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    enqueue_all_on(
        conn,
        &[AddressedTo {
            tenant_id,
            account_id,
            announcement,
        }],
        now,
    )
    .await
}

/// An announcement about a tenant, and maybe one of its accounts.
pub(crate) struct AddressedTo<'a> {
    pub tenant_id: i64,
    pub account_id: Option<i64>,
    pub announcement: &'a Announcement,
}

/// Addresses every announcement as [`enqueue_on`] does, in one read of the tenants' webhooks
/// and one insert, however many there are: a batch of refreshes announces together. (The
/// e-mails' recipients are read per announcement; e-mails are rare.)
pub(crate) async fn enqueue_all_on(
    conn: &impl ConnectionTrait,
    announcements: &[AddressedTo<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if announcements.is_empty() {
        return Ok(());
    }
    let tenants: std::collections::BTreeSet<i64> =
        announcements.iter().map(|to| to.tenant_id).collect();
    let webhooks = webhook::Entity::find()
        .filter(webhook::Column::TenantId.is_in(tenants))
        .filter(webhook::Column::Enabled.eq(true))
        .all(conn)
        .await?;
    let mut rows = Vec::new();
    for to in announcements {
        let announcement = to.announcement;
        let pending = |channel: &str, payload: String| {
            pending_row(
                to.tenant_id,
                to.account_id,
                channel,
                &announcement.event,
                payload,
                now,
            )
        };
        let subscribed = webhooks.iter().filter(|hook| {
            hook.tenant_id == to.tenant_id
                && serde_json::from_str::<Vec<String>>(&hook.events)
                    .unwrap_or_default()
                    .iter()
                    .any(|event| event == &announcement.event)
        });
        // One body (one event id) for every webhook the announcement goes to.
        let mut body = None;
        for hook in subscribed {
            let body = body.get_or_insert_with(|| {
                webhook_body(to.tenant_id, &announcement.event, &announcement.data, now)
            });
            let mut row = pending("webhook", body.clone());
            row.webhook_id = Set(Some(hook.id));
            rows.push(row);
        }
        if let Some(email) = &announcement.email {
            let owners: Vec<String> = membership::Entity::find()
                .filter(membership::Column::TenantId.eq(to.tenant_id))
                .filter(membership::Column::Role.eq(Role::Owner.as_str()))
                .inner_join(user::Entity)
                .filter(user::Column::DisabledAt.is_null())
                .select_only()
                .column(user::Column::Email)
                .into_tuple()
                .all(conn)
                .await?;
            let payload = serde_json::to_string(email).map_err(|err| {
                StoreError::Corrupt(format!("e-mail of {}: {err}", announcement.event))
            })?;
            for recipient in owners {
                let mut row = pending("email", payload.clone());
                row.recipient = Set(Some(recipient));
                rows.push(row);
            }
        }
        if let (Some(email), Some(account_id)) = (&announcement.owner_email, to.account_id) {
            let owner = account::Entity::find_by_id(account_id)
                .one(conn)
                .await?
                .filter(|row| row.owner_unsubscribed_at.is_none())
                .and_then(|row| Some((row.owner_email?, row.owner_unsubscribe_token?)));
            if let Some((recipient, token)) = owner {
                let email = EmailMessage {
                    subject: email.subject.clone(),
                    body: email.body.replace(UNSUBSCRIBE_TOKEN, &token),
                };
                let payload = serde_json::to_string(&email).map_err(|err| {
                    StoreError::Corrupt(format!("e-mail of {}: {err}", announcement.event))
                })?;
                let mut row = pending("email", payload);
                row.recipient = Set(Some(recipient));
                rows.push(row);
            }
        }
    }
    if !rows.is_empty() {
        notification::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

pub struct Notifications<'a> {
    store: &'a Store,
}

impl<'a> Notifications<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Notifications { store }
    }

    /// Claims up to `limit` pending notifications due at `now` that no live lease holds,
    /// oldest first (see [`claim_due_rows`]).
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let (ids, lease_id) = claim_due_rows(
            self.store,
            "notifications",
            "next_attempt_at",
            PENDING,
            now,
            lease_until,
            limit,
        )
        .await?;
        Ok(ids.into_iter().map(|id| (id, lease_id.clone())).collect())
    }

    /// The claimed notification with where it goes, if `lease_id` still holds it at `now`.
    pub async fn open(
        &self,
        id: i64,
        lease_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError> {
        let Some(row) = notification::Entity::find_by_id(id)
            .filter(notification::Column::LeaseId.eq(lease_id))
            .filter(notification::Column::LeaseUntil.gt(now))
            .filter(notification::Column::Status.eq(PENDING))
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let destination = match (row.webhook_id, row.recipient) {
            (Some(webhook_id), _) => {
                // A webhook deleted meanwhile takes its notifications with it (cascade).
                let Some(hook) = webhook::Entity::find_by_id(webhook_id)
                    .one(&self.store.db)
                    .await?
                else {
                    return Ok(None);
                };
                Destination::Webhook {
                    webhook_id,
                    secret: super::webhooks::open_secret(&self.store.keys, &hook)?,
                    url: hook.url,
                }
            }
            (None, Some(recipient)) => Destination::Email { recipient },
            (None, None) => {
                return Err(StoreError::Corrupt(format!(
                    "notification {id} has no destination"
                )));
            }
        };
        Ok(Some(Delivery {
            id,
            account_id: row.account_id,
            lease_id: lease_id.to_owned(),
            event: row.event,
            payload: row.payload,
            attempts: row.attempts,
            destination,
        }))
    }

    /// Records a delivery attempt and releases the lease, if it still holds.
    pub async fn finish(
        &self,
        delivery: &Delivery,
        now: DateTime<Utc>,
        outcome: DeliveryOutcome,
    ) -> Result<bool, StoreError> {
        let mut changes = notification::ActiveModel {
            attempts: Set(delivery.attempts + 1),
            lease_id: Set(None),
            lease_until: Set(None),
            ..Default::default()
        };
        match outcome {
            DeliveryOutcome::Delivered { response_status } => {
                changes.status = Set(DELIVERED.to_owned());
                changes.response_status = Set(response_status);
                changes.last_error = Set(None);
                changes.next_attempt_at = Set(None);
                changes.delivered_at = Set(Some(now));
            }
            DeliveryOutcome::Retry {
                at,
                response_status,
                error,
            } => {
                changes.response_status = Set(response_status);
                changes.last_error = Set(Some(error));
                changes.next_attempt_at = Set(Some(at));
            }
            DeliveryOutcome::GaveUp {
                response_status,
                error,
            } => {
                changes.status = Set(FAILED.to_owned());
                changes.response_status = Set(response_status);
                changes.last_error = Set(Some(error));
                changes.next_attempt_at = Set(None);
            }
        }
        let result = notification::Entity::update_many()
            .set(changes)
            .filter(notification::Column::Id.eq(delivery.id))
            .filter(notification::Column::LeaseId.eq(delivery.lease_id.as_str()))
            .exec(&self.store.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// The tenant's most recent notifications, newest first: the delivery log.
    pub async fn recent(
        &self,
        tenant_id: i64,
        limit: u64,
    ) -> Result<Vec<Notification>, StoreError> {
        Ok(notification::Entity::find()
            .filter(notification::Column::TenantId.eq(tenant_id))
            .order_by_desc(notification::Column::Id)
            .limit(limit)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(Notification::from)
            .collect())
    }

    /// Queues a `webhook.test` delivery to one of the tenant's webhooks, whatever events it
    /// subscribes to, so an owner can check the endpoint and its signature check; `None` when
    /// the tenant has no such webhook. It goes through the worker and the delivery log like
    /// any other notification.
    pub async fn enqueue_test(
        &self,
        tenant_id: i64,
        webhook_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Notification>, StoreError> {
        let Some(hook) = webhook::Entity::find_by_id(webhook_id)
            .filter(webhook::Column::TenantId.eq(tenant_id))
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let data =
            json!({ "message": "A test delivery from freshtoken: this endpoint is reachable." });
        let body = webhook_body(tenant_id, TEST_EVENT, &data, now);
        let mut row = pending_row(tenant_id, None, "webhook", TEST_EVENT, body, now);
        row.webhook_id = Set(Some(hook.id));
        let row = row.insert(&self.store.db).await?;
        Ok(Some(Notification::from(row)))
    }

    /// Pending notifications, for the queue-depth metric.
    pub async fn pending_count(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(notification::Entity::find()
            .filter(notification::Column::Status.eq(PENDING))
            .count(&self.store.db)
            .await?)
    }
}
