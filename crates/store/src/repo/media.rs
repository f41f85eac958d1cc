//! The recent posts of accounts, as the worker's media sync last read them, and which accounts
//! want a sync: those whose media someone asked for lately.

use chrono::{DateTime, Utc};
use freshtoken_core::AccountStatus;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::{account, account_media};
use crate::error::StoreError;
use crate::{Store, TenantAccount};

/// An account's recent posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSnapshot {
    /// A JSON array, ready to serve.
    pub items: String,
    pub synced_at: DateTime<Utc>,
}

pub struct Media<'a> {
    store: &'a Store,
}

impl<'a> Media<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Media { store }
    }

    /// Notes that someone asked for the account's media at `at` (the delivery side calls this,
    /// at most now and then): only such accounts are synced.
    pub async fn mark_requested(
        &self,
        account: &TenantAccount,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        account::Entity::update_many()
            .set(account::ActiveModel {
                media_requested_at: Set(Some(at)),
                ..Default::default()
            })
            .filter(account::Column::Id.eq(account.account_id()))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// Claims up to `limit` active accounts whose media were asked for since `wanted_since` and
    /// last synced before `stale_before` (or never), marking them synced at `now` so that no
    /// other scheduler claims them again before the next interval. A failed sync waits for it.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        wanted_since: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<i64>, StoreError> {
        let txn = self.store.begin_write().await?;
        let ids: Vec<i64> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::Status.eq(AccountStatus::Active.as_str()))
            .filter(account::Column::MediaRequestedAt.gte(wanted_since))
            .filter(stale(stale_before))
            .limit(limit)
            .into_tuple()
            .all(&txn)
            .await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        // Only the rows still stale: a concurrent claimer on PostgreSQL may have taken some.
        let claimed = account::Entity::update_many()
            .set(account::ActiveModel {
                media_synced_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(account::Column::Id.is_in(ids))
            .filter(stale(stale_before))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect();
        txn.commit().await?;
        Ok(claimed)
    }

    pub async fn save(
        &self,
        account_id: i64,
        items: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        account_media::Entity::insert(account_media::ActiveModel {
            account_id: Set(account_id),
            items: Set(items.to_owned()),
            synced_at: Set(at),
        })
        .on_conflict(
            OnConflict::column(account_media::Column::AccountId)
                .update_columns([
                    account_media::Column::Items,
                    account_media::Column::SyncedAt,
                ])
                .to_owned(),
        )
        .exec(&self.store.db)
        .await?;
        Ok(())
    }

    /// The account's posts as last synced, or `None` before the first sync.
    pub async fn get(&self, account: &TenantAccount) -> Result<Option<MediaSnapshot>, StoreError> {
        Ok(account_media::Entity::find_by_id(account.account_id())
            .one(&self.store.db)
            .await?
            .map(|row| MediaSnapshot {
                items: row.items,
                synced_at: row.synced_at,
            }))
    }
}

/// Never synced, or last synced before `before`.
fn stale(before: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(account::Column::MediaSyncedAt.is_null())
        .add(account::Column::MediaSyncedAt.lt(before))
}
