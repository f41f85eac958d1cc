use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::Store;
use crate::entity::tenant;
use crate::error::{Duplicate, StoreError, duplicate_as};

pub type Tenant = tenant::Model;

pub struct Tenants<'a> {
    store: &'a Store,
}

impl<'a> Tenants<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Tenants { store }
    }

    pub async fn create(&self, name: &str, slug: &str) -> Result<Tenant, StoreError> {
        tenant::ActiveModel {
            name: Set(name.to_owned()),
            slug: Set(slug.to_owned()),
            max_accounts: Set(None),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await
        .map_err(duplicate_as(Duplicate::TenantSlug))
    }

    pub async fn by_id(&self, id: i64) -> Result<Tenant, StoreError> {
        tenant::Entity::find_by_id(id)
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&self.store.db)
            .await?)
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(tenant::Entity::find()
            .order_by_asc(tenant::Column::Id)
            .all(&self.store.db)
            .await?)
    }

    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        self.update(
            id,
            tenant::ActiveModel {
                disabled_at: Set(disabled.then(Utc::now)),
                ..Default::default()
            },
        )
        .await
    }

    /// How many Instagram accounts the tenant may connect; `None` for no limit.
    pub async fn set_max_accounts(&self, id: i64, max: Option<u32>) -> Result<(), StoreError> {
        self.update(
            id,
            tenant::ActiveModel {
                max_accounts: Set(max.map(|max| i32::try_from(max).unwrap_or(i32::MAX))),
                ..Default::default()
            },
        )
        .await
    }

    /// Writes the set columns of `changes` to the tenant.
    async fn update(&self, id: i64, changes: tenant::ActiveModel) -> Result<(), StoreError> {
        let result = tenant::Entity::update_many()
            .set(changes)
            .filter(tenant::Column::Id.eq(id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes the tenant with its members, accounts, tokens and keys (foreign keys cascade).
    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        let result = tenant::Entity::delete_by_id(id)
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
