//! A tenant's webhook endpoints. The signing secret is sealed like a token (the worker must
//! read it back to sign, so it cannot be hashed as API keys are); its plaintext leaves the
//! store twice: to the creator, once, and to the worker, to sign a delivery.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::random_id;
use super::tokens::RekeyReport;
use crate::Store;
use crate::crypto::{KeyStore, Sealed};
use crate::entity::webhook;
use crate::error::StoreError;

/// An endpoint as its owners see it: without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub tenant_id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

/// A new endpoint and its signing secret, which is shown to its creator this once.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("webhook", &self.webhook)
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
            events,
            enabled: row.enabled,
            created_at: row.created_at,
        })
    }
}

/// Binds a sealed secret to its row: copied into another webhook's row, it does not open.
pub(crate) fn associated_data(webhook_id: i64) -> Vec<u8> {
    format!("freshtoken signing secret of webhook {webhook_id}").into_bytes()
}

fn sealed_of(row: &webhook::Model) -> Result<Sealed, StoreError> {
    match (
        &row.secret_ciphertext,
        &row.secret_nonce,
        &row.secret_key_id,
    ) {
        (Some(ciphertext), Some(nonce), Some(key_id)) => Ok(Sealed {
            ciphertext: ciphertext.clone(),
            nonce: nonce.clone(),
            key_id: key_id.clone(),
        }),
        _ => Err(StoreError::Corrupt(format!(
            "webhook {} has no sealed secret (run `freshtoken migrate`)",
            row.id
        ))),
    }
}

/// The signing secret of a webhook row, opened with the instance keys.
pub(crate) fn open_secret(keys: &KeyStore, row: &webhook::Model) -> Result<String, StoreError> {
    let plaintext = keys.open(&sealed_of(row)?, &associated_data(row.id))?;
    String::from_utf8(plaintext.to_vec())
        .map_err(|_| StoreError::Corrupt(format!("secret of webhook {} is not UTF-8", row.id)))
}

/// Checks that a row's secret opens with these keys, without keeping it.
pub(crate) fn check_secret(keys: &KeyStore, row: &webhook::Model) -> Result<(), StoreError> {
    if row.secret_ciphertext.is_none() && !row.secret.is_empty() {
        return Ok(()); // an export from before sealing: sealed on import
    }
    open_secret(keys, row).map(drop)
}

async fn store_sealed(
    conn: &impl ConnectionTrait,
    keys: &KeyStore,
    id: i64,
    secret: &str,
) -> Result<(), StoreError> {
    let sealed = keys.seal(secret.as_bytes(), &associated_data(id));
    webhook::Entity::update_many()
        .set(webhook::ActiveModel {
            secret: Set(String::new()),
            secret_ciphertext: Set(Some(sealed.ciphertext)),
            secret_nonce: Set(Some(sealed.nonce)),
            secret_key_id: Set(Some(sealed.key_id)),
            ..Default::default()
        })
        .filter(webhook::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Seals every secret still kept in plain (rows from before migration 6, or from an old
/// export) and empties the plain column; returns how many. Runs where the key is at hand:
/// right after the migrations, in their transaction, and on import.
pub(crate) async fn seal_plain_secrets(
    conn: &impl ConnectionTrait,
    keys: &KeyStore,
) -> Result<u64, StoreError> {
    let rows = webhook::Entity::find()
        .filter(webhook::Column::Secret.ne(""))
        .all(conn)
        .await?;
    for row in &rows {
        store_sealed(conn, keys, row.id, &row.secret).await?;
    }
    Ok(rows.len() as u64)
}

pub struct Webhooks<'a> {
    store: &'a Store,
}

impl<'a> Webhooks<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Webhooks { store }
    }

    /// Adds an endpoint with a new random signing secret (`whsec_...`), sealed before it is
    /// stored; the answer is the only time the secret is handed out for people to see.
    pub async fn create(
        &self,
        tenant_id: i64,
        url: &str,
        events: &[String],
    ) -> Result<CreatedWebhook, StoreError> {
        let secret = format!("whsec_{}{}", random_id(), random_id());
        // The seal is bound to the row's id, which the insert gives: both in one transaction,
        // so no row is ever seen without its secret.
        let txn = self.store.db.begin().await?;
        let row = webhook::ActiveModel {
            tenant_id: Set(tenant_id),
            url: Set(url.to_owned()),
            secret: Set(String::new()),
            events: Set(serde_json::Value::from(events.to_vec()).to_string()),
            enabled: Set(true),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        store_sealed(&txn, &self.store.keys, row.id, &secret).await?;
        txn.commit().await?;
        Ok(CreatedWebhook {
            webhook: row.try_into()?,
            secret,
        })
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

    /// The endpoint's signing secret, opened. Deliveries get theirs through the outbox
    /// (`Notifications::open`); this is for checking that a secret still opens (after a key
    /// rotation, an import). No API answer carries it after creation.
    pub async fn signing_secret(&self, tenant_id: i64, id: i64) -> Result<String, StoreError> {
        let row = webhook::Entity::find_by_id(id)
            .filter(webhook::Column::TenantId.eq(tenant_id))
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        open_secret(&self.store.keys, &row)
    }

    /// How many webhook secrets each key seals, for the operator deciding whether an old key
    /// can go.
    pub async fn count_by_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = webhook::Entity::find()
            .select_only()
            .column(webhook::Column::SecretKeyId)
            .column_as(webhook::Column::Id.count(), "count")
            .group_by(webhook::Column::SecretKeyId)
            .order_by_asc(webhook::Column::SecretKeyId)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key_id, count)| Some((key_id?, count)))
            .collect())
    }

    /// Re-seals every secret not under the primary key, in batches, while the service runs
    /// (`admin rotate-key`). A secret never changes after creation, so re-sealing cannot lose
    /// a newer one; a row deleted meanwhile is counted as skipped.
    pub async fn rekey(&self, batch_size: u64) -> Result<RekeyReport, StoreError> {
        let mut report = RekeyReport::default();
        let mut after = i64::MIN;
        loop {
            let primary = self.store.keys.current().primary_id().to_owned();
            let batch = webhook::Entity::find()
                .filter(webhook::Column::SecretKeyId.ne(primary.as_str()))
                .filter(webhook::Column::Id.gt(after))
                .order_by_asc(webhook::Column::Id)
                .limit(batch_size)
                .all(&self.store.db)
                .await?;
            let Some(last) = batch.last() else {
                return Ok(report);
            };
            after = last.id;
            for row in batch {
                let secret = open_secret(&self.store.keys, &row)?;
                let sealed = self
                    .store
                    .keys
                    .seal(secret.as_bytes(), &associated_data(row.id));
                let result = webhook::Entity::update_many()
                    .set(webhook::ActiveModel {
                        secret_ciphertext: Set(Some(sealed.ciphertext)),
                        secret_nonce: Set(Some(sealed.nonce)),
                        secret_key_id: Set(Some(sealed.key_id)),
                        ..Default::default()
                    })
                    .filter(webhook::Column::Id.eq(row.id))
                    .exec(&self.store.db)
                    .await?;
                if result.rows_affected == 1 {
                    report.resealed += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }
    }
}
