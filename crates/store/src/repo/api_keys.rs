use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::Store;
use crate::entity::api_key;
use crate::error::{Duplicate, StoreError, duplicate_as};

pub type ApiKey = api_key::Model;

/// A key to store. The secret itself never reaches the store: only its SHA-256, hex-encoded.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub tenant_id: i64,
    pub name: String,
    pub prefix: String,
    pub secret_sha256: String,
    pub created_by: Option<i64>,
    /// Space-separated scopes.
    pub scopes: String,
    pub expires_at: Option<DateTime<Utc>>,
}

pub struct ApiKeys<'a> {
    store: &'a Store,
}

impl<'a> ApiKeys<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        ApiKeys { store }
    }

    pub async fn create(&self, new: NewApiKey) -> Result<ApiKey, StoreError> {
        api_key::ActiveModel {
            tenant_id: Set(new.tenant_id),
            name: Set(new.name),
            prefix: Set(new.prefix),
            secret_sha256: Set(new.secret_sha256),
            created_by: Set(new.created_by),
            created_at: Set(Utc::now()),
            scopes: Set(new.scopes),
            expires_at: Set(new.expires_at),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await
        .map_err(duplicate_as(Duplicate::ApiKey))
    }

    /// The key with this hash, if it exists, is not revoked and has not expired at `now`.
    pub async fn active_by_hash(
        &self,
        secret_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKey>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::SecretSha256.eq(secret_sha256))
            .filter(api_key::Column::RevokedAt.is_null())
            .filter(
                Condition::any()
                    .add(api_key::Column::ExpiresAt.is_null())
                    .add(api_key::Column::ExpiresAt.gt(now)),
            )
            .one(&self.store.db)
            .await?)
    }

    /// Records that the key was used at `at`, unless that was already recorded within the
    /// last minute: a key a build server uses in a loop must not write on every request.
    pub async fn touch(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        api_key::Entity::update_many()
            .set(api_key::ActiveModel {
                last_used_at: Set(Some(at)),
                ..Default::default()
            })
            .filter(api_key::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(api_key::Column::LastUsedAt.is_null())
                    .add(api_key::Column::LastUsedAt.lt(at - chrono::Duration::minutes(1))),
            )
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    pub async fn revoke(&self, tenant_id: i64, id: i64) -> Result<(), StoreError> {
        let result = api_key::Entity::update_many()
            .set(api_key::ActiveModel {
                revoked_at: Set(Some(Utc::now())),
                ..Default::default()
            })
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::TenantId.eq(tenant_id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn list(&self, tenant_id: i64) -> Result<Vec<ApiKey>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant_id))
            .order_by_asc(api_key::Column::Id)
            .all(&self.store.db)
            .await?)
    }
}
