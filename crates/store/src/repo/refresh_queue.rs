//! The refresh engine's side of the accounts table: claiming due accounts under a lease, and
//! recording how each attempt ended, with its event and its notifications, in one transaction.
//!
//! A lease is a random id and an end time written on the account when the scheduler claims it.
//! Only the job carrying that id may record a result, so two jobs never both refresh one
//! account, and a crashed worker's claim simply runs out and the account is claimed again.

use chrono::{DateTime, Utc};
use freshtoken_core::AccountStatus;
use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    Statement, Value,
};

use super::accounts::Account;
use super::connect_links::issue_reconnect_on;
use super::notifications::{AddressedTo, Announcement, enqueue_all_on};
use super::refresh_events::{NewRefreshEvent, insert_all_on};
use super::tokens::{StoredToken, TokenUpdate, save_all_on};
use super::{claim_due_rows, random_id};
use crate::Store;
use crate::entity::{account, token};
use crate::error::StoreError;

/// An account the scheduler claimed: the job refreshing it carries this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshClaim {
    pub account_id: i64,
    pub lease_id: String,
}

/// What a job needs to refresh a claimed account.
#[derive(Debug, Clone)]
pub struct RefreshWork {
    pub account: Account,
    pub failure_count: i32,
    pub expiring_notified: bool,
    /// `None` if the token is gone (deleted by a deauthorize that raced the claim).
    pub token: Option<StoredToken>,
}

/// How an attempt ended, to be recorded on the account.
#[derive(Debug, Clone)]
pub struct RefreshResult {
    pub status: AccountStatus,
    pub last_error: Option<String>,
    pub next_refresh_at: Option<DateTime<Utc>>,
    pub failure_count: i32,
    /// `Some` after a success: the new token, and the account's `last_refresh_at`.
    pub new_token: Option<TokenUpdate>,
    /// `Some(true)`: the "expiring" warning went out now; `Some(false)`: clear it (the
    /// incident is over); `None`: leave as is.
    pub expiring_notified: Option<bool>,
    pub event: NewRefreshEvent,
    pub announcements: Vec<Announcement>,
}

pub struct RefreshQueue<'a> {
    store: &'a Store,
}

impl<'a> RefreshQueue<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        RefreshQueue { store }
    }

    /// Claims up to `limit` active accounts whose refresh is due at `now` and that no live
    /// lease holds, soonest first, with a lease until `lease_until` (see [`claim_due_rows`]).
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<RefreshClaim>, StoreError> {
        let (ids, lease_id) = claim_due_rows(
            self.store,
            "accounts",
            "next_refresh_at",
            AccountStatus::Active.as_str(),
            now,
            lease_until,
            limit,
        )
        .await?;
        Ok(ids
            .into_iter()
            .map(|account_id| RefreshClaim {
                account_id,
                lease_id: lease_id.clone(),
            })
            .collect())
    }

    /// Claims one account, if it is active, due at `now` and not held by a live lease (a
    /// "refresh now" that should not wait for the scheduler's next pass).
    pub async fn claim_one(
        &self,
        account_id: i64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<RefreshClaim>, StoreError> {
        let lease_id = random_id();
        let result = account::Entity::update_many()
            .set(account::ActiveModel {
                lease_id: Set(Some(lease_id.clone())),
                lease_until: Set(Some(lease_until)),
                ..Default::default()
            })
            .filter(account::Column::Id.eq(account_id))
            .filter(account::Column::Status.eq(AccountStatus::Active.as_str()))
            .filter(account::Column::NextRefreshAt.lte(now))
            .filter(
                Condition::any()
                    .add(account::Column::LeaseUntil.is_null())
                    .add(account::Column::LeaseUntil.lt(now)),
            )
            .exec(&self.store.db)
            .await?;
        Ok((result.rows_affected == 1).then_some(RefreshClaim {
            account_id,
            lease_id,
        }))
    }

    /// The accounts (with their tokens) of `account_ids` that the lease `lease_id` still holds
    /// at `now` and that are still active, in one read: a job opens its whole batch at once.
    /// An account missing from the answer has nothing to do (another job holds it, or it was
    /// paused, disconnected or deleted meanwhile).
    pub async fn open(
        &self,
        lease_id: &str,
        account_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<RefreshWork>, StoreError> {
        // Found by id, the rest checked here: a condition on the status could lead a planner
        // without statistics (a table just imported) to walk the status index, every account.
        let rows = account::Entity::find()
            .filter(account::Column::Id.is_in(account_ids.iter().copied()))
            .filter(account::Column::LeaseId.eq(lease_id))
            .find_also_related(token::Entity)
            .all(&self.store.db)
            .await?;
        rows.into_iter()
            .filter(|(row, _)| {
                row.status == AccountStatus::Active.as_str()
                    && row.lease_until.is_some_and(|until| until > now)
            })
            .map(|(row, token)| {
                let failure_count = row.failure_count;
                let expiring_notified = row.expiring_notified_at.is_some();
                let token = token
                    .map(|token| self.store.tokens().open(token))
                    .transpose()?;
                Ok(RefreshWork {
                    account: row.try_into()?,
                    failure_count,
                    expiring_notified,
                    token,
                })
            })
            .collect()
    }

    /// Records the attempts' results and releases the accounts, for those the lease `lease_id`
    /// still holds: each account, its new token, its event and its notifications, all in one
    /// transaction, in a few statements whatever the batch's size (one update of the accounts,
    /// one insert each for the tokens, the events and the notifications). Returns the ids
    /// of the accounts recorded; the others (lease lost, or the account paused, disconnected or
    /// deleted meanwhile) are left untouched.
    pub async fn complete(
        &self,
        lease_id: &str,
        now: DateTime<Utc>,
        results: Vec<RefreshResult>,
    ) -> Result<Vec<i64>, StoreError> {
        let txn = self.store.begin_write().await?;
        let released = release_on(&txn, lease_id, now, &results).await?;
        let mut recorded = Vec::with_capacity(released.len());
        let mut tokens = Vec::new();
        let mut events = Vec::new();
        let mut announcements = Vec::new();
        for result in results {
            let account_id = result.event.account_id;
            let Some((tenant_id, kind)) = released.get(&account_id) else {
                continue;
            };
            if result.status == AccountStatus::NeedsReconnect {
                // The link its notifications carry (written in as they are sent).
                issue_reconnect_on(
                    &txn,
                    &self.store.keys,
                    *tenant_id,
                    account_id,
                    kind.parse()?,
                    now,
                )
                .await?;
            }
            if let Some(token) = result.new_token {
                tokens.push((account_id, token));
            }
            events.push(result.event);
            announcements.push((*tenant_id, account_id, result.announcements));
            recorded.push(account_id);
        }
        let tokens: Vec<(i64, &TokenUpdate)> = tokens.iter().map(|(id, t)| (*id, t)).collect();
        save_all_on(&txn, &self.store.keys, &tokens).await?;
        insert_all_on(&txn, events).await?;
        let addressed: Vec<AddressedTo> = announcements
            .iter()
            .flat_map(|(tenant_id, account_id, announcements)| {
                announcements.iter().map(|announcement| AddressedTo {
                    tenant_id: *tenant_id,
                    account_id: Some(*account_id),
                    announcement,
                })
            })
            .collect();
        enqueue_all_on(&txn, &addressed, now).await?;
        txn.commit().await?;
        Ok(recorded)
    }

    /// How many accounts a live lease holds at `now`: claimed, and waiting in the job queue or
    /// being refreshed. The scheduler keeps this about two batches deep, from our own table
    /// rather than by counting the job queue's (see docs/refresh.md).
    pub async fn held(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(account::Entity::find()
            .filter(account::Column::LeaseUntil.gt(now))
            .count(&self.store.db)
            .await?)
    }

    /// How many active accounts are due at `now`, claimed or not: the backlog.
    pub async fn due_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        Ok(account::Entity::find()
            .filter(account::Column::Status.eq(AccountStatus::Active.as_str()))
            .filter(account::Column::NextRefreshAt.lte(now))
            .count(&self.store.db)
            .await?)
    }

    /// The soonest expiry among active accounts' tokens, if any is known.
    pub async fn soonest_expiry(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let statement = Statement::from_string(
            self.store.db.get_database_backend(),
            "SELECT MIN(tokens.expires_at) AS soonest FROM tokens \
             JOIN accounts ON accounts.id = tokens.account_id WHERE accounts.status = 'active'",
        );
        let row = self.store.db.query_one_raw(statement).await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<DateTime<Utc>>>("", "soonest")?,
            None => None,
        })
    }
}

/// Writes each result on its account and releases it, in one statement, for the accounts the
/// lease `lease_id` still holds and that are still active; answers their tenant and kind by id.
async fn release_on(
    conn: &impl ConnectionTrait,
    lease_id: &str,
    now: DateTime<Utc>,
    results: &[RefreshResult],
) -> Result<HashMap<i64, (i64, String)>, StoreError> {
    if results.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = conn.get_database_backend();
    let mut values: Vec<Value> = vec![lease_id.into(), now.into()];
    let mut rows = Vec::with_capacity(results.len());
    let placeholder = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    for result in results {
        let first = values.len() + 1;
        // `expiring_notified_at`: 1 sets it now, 0 clears it, NULL leaves it.
        let expiring_notified = result.expiring_notified.map(i32::from);
        let last_refresh_at = result
            .new_token
            .as_ref()
            .map(|token| token.refreshed_at.unwrap_or(now));
        values.extend([
            Value::from(result.event.account_id),
            Value::from(result.status.as_str()),
            Value::from(result.last_error.clone()),
            Value::from(result.next_refresh_at),
            Value::from(result.failure_count),
            Value::from(last_refresh_at),
            Value::from(expiring_notified),
        ]);
        let row: Vec<String> = (first..first + 7).map(placeholder).collect();
        rows.push(format!("({})", row.join(", ")));
    }
    let (lease, now) = (placeholder(1), placeholder(2));
    let sql = format!(
        "WITH v (id, status, last_error, next_refresh_at, failure_count, last_refresh_at, \
           expiring_notified) AS (VALUES {rows}) \
         UPDATE accounts SET status = v.status, last_error = v.last_error, \
           next_refresh_at = v.next_refresh_at, failure_count = v.failure_count, \
           last_refresh_at = COALESCE(v.last_refresh_at, accounts.last_refresh_at), \
           expiring_notified_at = CASE v.expiring_notified WHEN 1 THEN {now} WHEN 0 THEN NULL \
             ELSE accounts.expiring_notified_at END, \
           lease_id = NULL, lease_until = NULL, updated_at = {now} \
         FROM v WHERE accounts.id = v.id AND accounts.lease_id = {lease} \
           AND accounts.status = '{active}' \
         RETURNING accounts.id, accounts.tenant_id, accounts.kind",
        rows = rows.join(", "),
        active = AccountStatus::Active.as_str(),
    );
    conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .into_iter()
        .map(|row| {
            Ok((
                row.try_get::<i64>("", "id")?,
                (
                    row.try_get::<i64>("", "tenant_id")?,
                    row.try_get::<String>("", "kind")?,
                ),
            ))
        })
        .collect()
}
