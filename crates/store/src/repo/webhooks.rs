//! A tenant's webhook endpoints. The signing secret is kept readable (not hashed): the worker
//! signs every delivery with it, and the tenant reads it back to verify them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::random_id;
use crate::Store;
use crate::entity::webhook;
use crate::error::StoreError;

#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub tenant_id: i64,
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl TryFrom<webhook::Model> for Webhook {
    type Error = StoreError;

    fn try_from(row: webhook::Model) -> Result<Self, StoreError> {
        let events = serde_json::from_str(&row.events)
            .map_err(|err| StoreError::Corrupt(format!("events of webhook {}: {err}", row.id)))?;
        Ok(Webhook {
            id: row.id,
            tenant_id: row.tenant_id,
            url: row.url,
            secret: row.secret,
            events,
            enabled: row.enabled,
            created_at: row.created_at,
        })
    }
}

pub struct Webhooks<'a> {
    store: &'a Store,
}

impl<'a> Webhooks<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Webhooks { store }
    }

    /// Adds an endpoint with a new random signing secret (`whsec_...`).
    pub async fn create(
        &self,
        tenant_id: i64,
        url: &str,
        events: &[String],
    ) -> Result<Webhook, StoreError> {
        webhook::ActiveModel {
            tenant_id: Set(tenant_id),
            url: Set(url.to_owned()),
            secret: Set(format!("whsec_{}{}", random_id(), random_id())),
            events: Set(serde_json::Value::from(events.to_vec()).to_string()),
            enabled: Set(true),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await?
        .try_into()
    }

    pub async fn list(&self, tenant_id: i64) -> Result<Vec<Webhook>, StoreError> {
        webhook::Entity::find()
            .filter(webhook::Column::TenantId.eq(tenant_id))
            .order_by_asc(webhook::Column::Id)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(Webhook::try_from)
            .collect()
    }

    /// Deletes the endpoint and, through the foreign key, its delivery log.
    pub async fn delete(&self, tenant_id: i64, id: i64) -> Result<(), StoreError> {
        let result = webhook::Entity::delete_many()
            .filter(webhook::Column::Id.eq(id))
            .filter(webhook::Column::TenantId.eq(tenant_id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
