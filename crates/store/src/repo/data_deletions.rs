use chrono::{DateTime, Utc};
use freshtoken_core::AccountKind;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::Store;
use crate::entity::{account, data_deletion_request};
use crate::error::StoreError;

/// A data-deletion request from Meta, as its status page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDeletion {
    pub confirmation_code: String,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub accounts_deleted: u32,
}

impl From<data_deletion_request::Model> for DataDeletion {
    fn from(row: data_deletion_request::Model) -> Self {
        DataDeletion {
            confirmation_code: row.confirmation_code,
            requested_at: row.requested_at,
            completed_at: row.completed_at,
            accounts_deleted: u32::try_from(row.accounts_deleted).unwrap_or(0),
        }
    }
}

pub struct DataDeletions<'a> {
    store: &'a Store,
}

impl<'a> DataDeletions<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        DataDeletions { store }
    }

    /// Deletes every account of this provider user, in every tenant (their tokens and history
    /// go with them), and records the request under `confirmation_code`, in one transaction.
    /// The record keeps only the code, the times and a count: nothing that names the person.
    pub async fn delete_user_data(
        &self,
        kind: AccountKind,
        provider_user_id: &str,
        confirmation_code: &str,
    ) -> Result<DataDeletion, StoreError> {
        let now = Utc::now();
        let txn = self.store.db.begin().await?;
        let deleted = account::Entity::delete_many()
            .filter(account::Column::Kind.eq(kind.as_str()))
            .filter(account::Column::ProviderUserId.eq(provider_user_id))
            .exec(&txn)
            .await?
            .rows_affected;
        data_deletion_request::Entity::insert(data_deletion_request::ActiveModel {
            confirmation_code: Set(confirmation_code.to_owned()),
            requested_at: Set(now),
            completed_at: Set(Some(now)),
            accounts_deleted: Set(i32::try_from(deleted).unwrap_or(i32::MAX)),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(DataDeletion {
            confirmation_code: confirmation_code.to_owned(),
            requested_at: now,
            completed_at: Some(now),
            accounts_deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
        })
    }

    pub async fn by_code(
        &self,
        confirmation_code: &str,
    ) -> Result<Option<DataDeletion>, StoreError> {
        Ok(data_deletion_request::Entity::find()
            .filter(data_deletion_request::Column::ConfirmationCode.eq(confirmation_code))
            .one(&self.store.db)
            .await?
            .map(DataDeletion::from))
    }
}
