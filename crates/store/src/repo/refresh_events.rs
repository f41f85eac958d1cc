use chrono::{DateTime, Utc};
use freshtoken_core::RefreshOutcome;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::entity::refresh_event;
use crate::error::StoreError;
use crate::{Store, TenantAccount};

/// One refresh attempt, as the account's history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshEvent {
    pub id: i64,
    pub account_id: i64,
    pub at: DateTime<Utc>,
    pub outcome: RefreshOutcome,
    pub attempt: i32,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub new_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewRefreshEvent {
    pub account_id: i64,
    pub at: DateTime<Utc>,
    pub outcome: RefreshOutcome,
    pub attempt: i32,
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub new_expires_at: Option<DateTime<Utc>>,
}

pub struct RefreshEvents<'a> {
    store: &'a Store,
}

impl<'a> RefreshEvents<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        RefreshEvents { store }
    }

    pub async fn record(&self, event: NewRefreshEvent) -> Result<RefreshEvent, StoreError> {
        insert_on(&self.store.db, event).await
    }

    /// The account's most recent attempts, newest first.
    pub async fn recent(
        &self,
        account: &TenantAccount,
        limit: u64,
    ) -> Result<Vec<RefreshEvent>, StoreError> {
        refresh_event::Entity::find()
            .filter(refresh_event::Column::AccountId.eq(account.account_id()))
            .order_by_desc(refresh_event::Column::At)
            .order_by_desc(refresh_event::Column::Id)
            .limit(limit)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(into_event)
            .collect()
    }
}

pub(crate) async fn insert_on(
    conn: &impl ConnectionTrait,
    event: NewRefreshEvent,
) -> Result<RefreshEvent, StoreError> {
    into_event(new_row(event).insert(conn).await?)
}

/// Records several events in one statement.
pub(crate) async fn insert_all_on(
    conn: &impl ConnectionTrait,
    events: Vec<NewRefreshEvent>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    refresh_event::Entity::insert_many(events.into_iter().map(new_row))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn new_row(event: NewRefreshEvent) -> refresh_event::ActiveModel {
    refresh_event::ActiveModel {
        account_id: Set(event.account_id),
        at: Set(event.at),
        outcome: Set(event.outcome.as_str().to_owned()),
        attempt: Set(event.attempt),
        error_code: Set(event.error_code),
        message: Set(event.message),
        new_expires_at: Set(event.new_expires_at),
        ..Default::default()
    }
}

fn into_event(row: refresh_event::Model) -> Result<RefreshEvent, StoreError> {
    Ok(RefreshEvent {
        id: row.id,
        account_id: row.account_id,
        at: row.at,
        outcome: row.outcome.parse()?,
        attempt: row.attempt,
        error_code: row.error_code,
        message: row.message,
        new_expires_at: row.new_expires_at,
    })
}
