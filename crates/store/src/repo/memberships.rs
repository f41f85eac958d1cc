use chrono::Utc;
use freshtoken_core::Role;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::entity::{membership, tenant, user};
use crate::error::{Duplicate, StoreError, duplicate_as};
use crate::{Store, Tenant, User};

/// A member of a tenant, as the team page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// A tenant a user belongs to, with the user's role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantMembership {
    pub tenant: Tenant,
    pub role: Role,
}

pub struct Memberships<'a> {
    store: &'a Store,
}

impl<'a> Memberships<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Memberships { store }
    }

    pub async fn add(&self, tenant_id: i64, user_id: i64, role: Role) -> Result<(), StoreError> {
        membership::ActiveModel {
            tenant_id: Set(tenant_id),
            user_id: Set(user_id),
            role: Set(role.as_str().to_owned()),
            created_at: Set(Utc::now()),
        }
        .insert(&self.store.db)
        .await
        .map_err(duplicate_as(Duplicate::Membership))?;
        Ok(())
    }

    /// The user's role in the tenant, or `None` when they are not a member.
    pub async fn role_of(&self, tenant_id: i64, user_id: i64) -> Result<Option<Role>, StoreError> {
        let found = membership::Entity::find_by_id((tenant_id, user_id))
            .one(&self.store.db)
            .await?;
        found
            .map(|row| row.role.parse().map_err(StoreError::from))
            .transpose()
    }

    pub async fn set_role(
        &self,
        tenant_id: i64,
        user_id: i64,
        role: Role,
    ) -> Result<(), StoreError> {
        let result = membership::Entity::update_many()
            .set(membership::ActiveModel {
                role: Set(role.as_str().to_owned()),
                ..Default::default()
            })
            .filter(membership::Column::TenantId.eq(tenant_id))
            .filter(membership::Column::UserId.eq(user_id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn remove(&self, tenant_id: i64, user_id: i64) -> Result<(), StoreError> {
        let result = membership::Entity::delete_by_id((tenant_id, user_id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn owner_count(&self, tenant_id: i64) -> Result<u64, StoreError> {
        Ok(membership::Entity::find()
            .filter(membership::Column::TenantId.eq(tenant_id))
            .filter(membership::Column::Role.eq(Role::Owner.as_str()))
            .count(&self.store.db)
            .await?)
    }

    pub async fn members(&self, tenant_id: i64) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<(membership::Model, Option<User>)> = membership::Entity::find()
            .filter(membership::Column::TenantId.eq(tenant_id))
            .find_also_related(user::Entity)
            .order_by_asc(membership::Column::CreatedAt)
            .all(&self.store.db)
            .await?;
        rows.into_iter()
            .filter_map(|(membership, user)| user.map(|user| (membership, user)))
            .map(|(membership, user)| {
                Ok(Member {
                    user_id: user.id,
                    email: user.email,
                    name: user.name,
                    role: membership.role.parse()?,
                })
            })
            .collect()
    }

    pub async fn tenants_of(&self, user_id: i64) -> Result<Vec<TenantMembership>, StoreError> {
        let rows: Vec<(membership::Model, Option<Tenant>)> = membership::Entity::find()
            .filter(membership::Column::UserId.eq(user_id))
            .find_also_related(tenant::Entity)
            .order_by_asc(membership::Column::TenantId)
            .all(&self.store.db)
            .await?;
        rows.into_iter()
            .filter_map(|(membership, tenant)| tenant.map(|tenant| (membership, tenant)))
            .map(|(membership, tenant)| {
                Ok(TenantMembership {
                    tenant,
                    role: membership.role.parse()?,
                })
            })
            .collect()
    }
}
