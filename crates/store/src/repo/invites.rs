use chrono::{DateTime, Utc};
use freshtoken_core::Role;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::Store;
use crate::entity::{invite, membership};
use crate::error::{Duplicate, StoreError, duplicate_as};

/// An invitation to join a tenant with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub tenant_id: i64,
    pub role: Role,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_by: Option<i64>,
}

impl TryFrom<invite::Model> for Invite {
    type Error = StoreError;
    fn try_from(row: invite::Model) -> Result<Self, StoreError> {
        Ok(Invite {
            id: row.id,
            tenant_id: row.tenant_id,
            role: row.role.parse()?,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            used_by: row.used_by,
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewInvite {
    pub tenant_id: i64,
    /// SHA-256 of the link's secret, hex; the secret itself is only ever in the link.
    pub secret_sha256: String,
    pub role: Role,
    pub created_by: Option<i64>,
    pub expires_at: DateTime<Utc>,
}

/// Why an invite could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteRefused {
    #[error("this invitation link is not valid")]
    Unknown,
    #[error("this invitation has already been used")]
    Used,
    #[error("this invitation has expired")]
    Expired,
}

pub struct Invites<'a> {
    store: &'a Store,
}

impl<'a> Invites<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Invites { store }
    }

    pub async fn create(&self, new: NewInvite) -> Result<Invite, StoreError> {
        invite::ActiveModel {
            tenant_id: Set(new.tenant_id),
            secret_sha256: Set(new.secret_sha256),
            role: Set(new.role.as_str().to_owned()),
            created_by: Set(new.created_by),
            created_at: Set(Utc::now()),
            expires_at: Set(new.expires_at),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await?
        .try_into()
    }

    /// The invite with this secret hash, used or not, so callers can say why it is refused.
    pub async fn by_hash(&self, secret_sha256: &str) -> Result<Option<Invite>, StoreError> {
        invite::Entity::find()
            .filter(invite::Column::SecretSha256.eq(secret_sha256))
            .one(&self.store.db)
            .await?
            .map(Invite::try_from)
            .transpose()
    }

    pub async fn list(&self, tenant_id: i64) -> Result<Vec<Invite>, StoreError> {
        invite::Entity::find()
            .filter(invite::Column::TenantId.eq(tenant_id))
            .order_by_desc(invite::Column::Id)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(Invite::try_from)
            .collect()
    }

    pub async fn delete(&self, tenant_id: i64, id: i64) -> Result<(), StoreError> {
        let result = invite::Entity::delete_many()
            .filter(invite::Column::Id.eq(id))
            .filter(invite::Column::TenantId.eq(tenant_id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Uses the invite for `user_id`: marks it used and adds the membership, atomically.
    ///
    /// The `used_at IS NULL` condition on the update makes it single-use even when two people
    /// race with the same link: only one update matches.
    pub async fn accept(
        &self,
        secret_sha256: &str,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Result<Invite, InviteRefused>, StoreError> {
        let Some(found) = self.by_hash(secret_sha256).await? else {
            return Ok(Err(InviteRefused::Unknown));
        };
        if found.used_at.is_some() {
            return Ok(Err(InviteRefused::Used));
        }
        if found.expires_at <= now {
            return Ok(Err(InviteRefused::Expired));
        }
        let txn = self.store.db.begin().await?;
        let claimed = invite::Entity::update_many()
            .set(invite::ActiveModel {
                used_at: Set(Some(now)),
                used_by: Set(Some(user_id)),
                ..Default::default()
            })
            .filter(invite::Column::Id.eq(found.id))
            .filter(invite::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected == 0 {
            return Ok(Err(InviteRefused::Used));
        }
        membership::ActiveModel {
            tenant_id: Set(found.tenant_id),
            user_id: Set(user_id),
            role: Set(found.role.as_str().to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(duplicate_as(Duplicate::Membership))?;
        txn.commit().await?;
        Ok(Ok(Invite {
            used_at: Some(now),
            used_by: Some(user_id),
            ..found
        }))
    }
}
