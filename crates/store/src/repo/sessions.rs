use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::Store;
use crate::entity::session;
use crate::error::StoreError;

/// A server-side session: an opaque id, its serialized data, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    /// The signed-in user, if any.
    pub user_id: Option<i64>,
    pub data: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

pub struct Sessions<'a> {
    store: &'a Store,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Sessions { store }
    }

    /// Creates or replaces the session.
    pub async fn save(&self, record: &SessionRecord) -> Result<(), StoreError> {
        session::Entity::insert(session::ActiveModel {
            id: Set(record.id.clone()),
            user_id: Set(record.user_id),
            data: Set(record.data.clone()),
            expires_at: Set(record.expires_at),
        })
        .on_conflict(
            OnConflict::column(session::Column::Id)
                .update_columns([
                    session::Column::UserId,
                    session::Column::Data,
                    session::Column::ExpiresAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.store.db)
        .await?;
        Ok(())
    }

    /// The session, unless it is missing or has expired by `now`.
    pub async fn load(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = session::Entity::find_by_id(id.to_owned())
            .filter(session::Column::ExpiresAt.gt(now))
            .one(&self.store.db)
            .await?;
        Ok(row.map(|row| SessionRecord {
            id: row.id,
            user_id: row.user_id,
            data: row.data,
            expires_at: row.expires_at,
        }))
    }

    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        session::Entity::delete_by_id(id.to_owned())
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// Ends every session of the user (after a password reset); returns how many.
    pub async fn delete_for_user(&self, user_id: i64) -> Result<u64, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::UserId.eq(user_id))
            .exec(&self.store.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Removes sessions that ended before `now`; returns how many.
    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(now))
            .exec(&self.store.db)
            .await?;
        Ok(result.rows_affected)
    }
}
