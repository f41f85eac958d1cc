//! The refresh engine's side of the accounts table: claiming due accounts under a lease, and
//! recording how each attempt ended, with its event and its notifications, in one transaction.
//!
//! A lease is a random id and an end time written on the account when the scheduler claims it.
//! Only the job carrying that id may record a result, so two jobs never both refresh one
//! account, and a crashed worker's claim simply runs out and the account is claimed again.

use chrono::{DateTime, Utc};
use freshtoken_core::AccountStatus;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Statement,
};

use super::accounts::Account;
use super::connect_links::issue_reconnect_on;
use super::notifications::{Announcement, enqueue_on};
use super::refresh_events::{NewRefreshEvent, insert_on};
use super::tokens::{StoredToken, TokenUpdate, save_on};
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

    /// The account and its token, if `claim` still holds the account's lease at `now` and the
    /// account is still active; `None` means the job has nothing to do (another job holds it,
    /// or it was paused, disconnected or deleted meanwhile).
    pub async fn open(
        &self,
        claim: &RefreshClaim,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshWork>, StoreError> {
        // The account and its token in one query: this runs once per refresh.
        let Some((row, token)) = account::Entity::find_by_id(claim.account_id)
            .filter(account::Column::LeaseId.eq(claim.lease_id.as_str()))
            .filter(account::Column::LeaseUntil.gt(now))
            .filter(account::Column::Status.eq(AccountStatus::Active.as_str()))
            .find_also_related(token::Entity)
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let failure_count = row.failure_count;
        let expiring_notified = row.expiring_notified_at.is_some();
        let token = token
            .map(|token| self.store.tokens().open(token))
            .transpose()?;
        Ok(Some(RefreshWork {
            account: row.try_into()?,
            failure_count,
            expiring_notified,
            token,
        }))
    }

    /// Records the attempt's result and releases the lease, if `claim` still holds it: the
    /// account, the new token, the event and the notifications, all or nothing. Returns
    /// whether it was recorded (`false`: the lease was lost, or the account paused, disconnected
    /// or deleted meanwhile, and nothing was written).
    pub async fn complete(
        &self,
        claim: &RefreshClaim,
        tenant_id: i64,
        now: DateTime<Utc>,
        result: RefreshResult,
    ) -> Result<bool, StoreError> {
        let txn = self.store.begin_write().await?;
        let mut changes = account::ActiveModel {
            status: Set(result.status.as_str().to_owned()),
            last_error: Set(result.last_error),
            next_refresh_at: Set(result.next_refresh_at),
            failure_count: Set(result.failure_count),
            lease_id: Set(None),
            lease_until: Set(None),
            updated_at: Set(now),
            ..Default::default()
        };
        if let Some(token) = &result.new_token {
            changes.last_refresh_at = Set(token.refreshed_at.or(Some(now)));
        }
        match result.expiring_notified {
            Some(true) => changes.expiring_notified_at = Set(Some(now)),
            Some(false) => changes.expiring_notified_at = Set(None),
            None => {}
        }
        let updated = account::Entity::update_many()
            .set(changes)
            .filter(account::Column::Id.eq(claim.account_id))
            .filter(account::Column::TenantId.eq(tenant_id))
            .filter(account::Column::LeaseId.eq(claim.lease_id.as_str()))
            .filter(account::Column::Status.eq(AccountStatus::Active.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(false);
        }
        if let Some(token) = &result.new_token {
            save_on(&txn, &self.store.keys, claim.account_id, token).await?;
        }
        insert_on(&txn, result.event).await?;
        if result.status == AccountStatus::NeedsReconnect {
            // The link its notifications carry (written in as they are sent).
            let kind = account::Entity::find_by_id(claim.account_id)
                .one(&txn)
                .await?
                .ok_or(StoreError::NotFound)?
                .kind
                .parse()?;
            issue_reconnect_on(
                &txn,
                &self.store.keys,
                tenant_id,
                claim.account_id,
                kind,
                now,
            )
            .await?;
        }
        for announcement in &result.announcements {
            enqueue_on(&txn, tenant_id, Some(claim.account_id), announcement, now).await?;
        }
        txn.commit().await?;
        Ok(true)
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
