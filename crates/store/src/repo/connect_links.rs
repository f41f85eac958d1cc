//! Connect links and reconnect links. A link's secret is made here and handed out once; the
//! database keeps its SHA-256 (to find the link) and, for a reconnect link only, the secret
//! sealed like a token (so the worker can write it into the e-mail or webhook it sends, while
//! the outbox keeps only a placeholder).
//!
//! A connect link is for a kind of account and gives what it connects its presets; a
//! reconnect link names one account and reconnects only that one. Each account has at most one
//! reconnect link: issuing one replaces the last, and reconnecting the account (any way)
//! retires it.

use chrono::{DateTime, Utc};
use freshtoken_core::AccountKind;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use super::accounts::Presets;
use super::tokens::RekeyReport;
use crate::Store;
use crate::crypto::{KeyStore, Sealed};
use crate::entity::connect_link;
use crate::error::StoreError;

/// How long an expired link is kept, to say "expired" rather than "not valid".
pub const KEEP_EXPIRED_DAYS: i64 = 30;

/// How long a reconnect link works.
pub const RECONNECT_LINK_DAYS: i64 = 14;

/// A connect link (or a reconnect link: `account_id` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectLink {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: AccountKind,
    /// The account a reconnect link revives.
    pub account_id: Option<i64>,
    /// The link's own note, for the people of the workspace.
    pub label: String,
    pub presets: Presets,
    pub reusable: bool,
    /// Accounts connected through it.
    pub uses: i32,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Whether a link can still connect an account, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Usable,
    Expired,
    Used,
    Revoked,
}

impl ConnectLink {
    pub fn state(&self, now: DateTime<Utc>) -> LinkState {
        if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if !self.reusable && self.uses > 0 {
            LinkState::Used
        } else if self.expires_at <= now {
            LinkState::Expired
        } else {
            LinkState::Usable
        }
    }
}

impl TryFrom<connect_link::Model> for ConnectLink {
    type Error = StoreError;

    fn try_from(row: connect_link::Model) -> Result<Self, StoreError> {
        let presets = serde_json::from_str(&row.presets).map_err(|err| {
            StoreError::Corrupt(format!("presets of connect link {}: {err}", row.id))
        })?;
        Ok(ConnectLink {
            id: row.id,
            tenant_id: row.tenant_id,
            kind: row.kind.parse()?,
            account_id: row.account_id,
            label: row.label,
            presets,
            reusable: row.reusable,
            uses: row.uses,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        })
    }
}

/// A connect link to make.
#[derive(Debug, Clone)]
pub struct NewConnectLink {
    pub kind: AccountKind,
    pub label: String,
    pub presets: Presets,
    pub reusable: bool,
    pub created_by: Option<i64>,
    pub expires_at: DateTime<Utc>,
}

/// 24 random bytes as URL-safe base64 (32 characters).
fn new_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn secret_sha256(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A reconnect link's sealed secret; `None` for a connect link, which keeps only the hash.
fn sealed_secret(row: &connect_link::Model) -> Option<Sealed> {
    Some(Sealed {
        ciphertext: row.ciphertext.clone()?,
        nonce: row.nonce.clone()?,
        key_id: row.key_id.clone()?,
    })
}

fn associated_data(secret_sha256: &str) -> Vec<u8> {
    format!("connect_link:{secret_sha256}").into_bytes()
}

/// Replaces the account's reconnect link with a new one, on `conn` (inside the caller's
/// transaction, e.g. the one that marks the account as needing a reconnect). Returns the
/// secret.
pub(crate) async fn issue_reconnect_on(
    conn: &impl ConnectionTrait,
    keys: &KeyStore,
    tenant_id: i64,
    account_id: i64,
    kind: AccountKind,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    // One reconnect link per account: the new one replaces every earlier one.
    connect_link::Entity::delete_many()
        .filter(connect_link::Column::AccountId.eq(account_id))
        .exec(conn)
        .await?;
    let secret = new_secret();
    let hash = secret_sha256(&secret);
    let sealed = keys.seal(secret.as_bytes(), &associated_data(&hash));
    connect_link::ActiveModel {
        tenant_id: Set(tenant_id),
        secret_sha256: Set(hash),
        kind: Set(kind.as_str().to_owned()),
        account_id: Set(Some(account_id)),
        ciphertext: Set(Some(sealed.ciphertext)),
        nonce: Set(Some(sealed.nonce)),
        key_id: Set(Some(sealed.key_id)),
        label: Set(String::new()),
        presets: Set("{}".to_owned()),
        reusable: Set(false),
        uses: Set(0),
        created_by: Set(None),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::days(RECONNECT_LINK_DAYS)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(secret)
}

/// Deletes the account's unused reconnect links: it was reconnected, so they have nothing left
/// to do. The one it was reconnected through (if any) stays, to answer "used already".
pub(crate) async fn retire_reconnect_on(
    conn: &impl ConnectionTrait,
    account_id: i64,
) -> Result<(), StoreError> {
    connect_link::Entity::delete_many()
        .filter(connect_link::Column::AccountId.eq(account_id))
        .filter(connect_link::Column::Uses.eq(0))
        .exec(conn)
        .await?;
    Ok(())
}

pub struct ConnectLinks<'a> {
    store: &'a Store,
}

impl<'a> ConnectLinks<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        ConnectLinks { store }
    }

    /// Makes a connect link; returns it with its secret, which is not kept.
    pub async fn create(
        &self,
        tenant_id: i64,
        new: NewConnectLink,
        now: DateTime<Utc>,
    ) -> Result<(ConnectLink, String), StoreError> {
        let secret = new_secret();
        let presets = serde_json::to_string(&new.presets)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let row = connect_link::ActiveModel {
            tenant_id: Set(tenant_id),
            secret_sha256: Set(secret_sha256(&secret)),
            kind: Set(new.kind.as_str().to_owned()),
            account_id: Set(None),
            label: Set(new.label),
            presets: Set(presets),
            reusable: Set(new.reusable),
            uses: Set(0),
            created_by: Set(new.created_by),
            created_at: Set(now),
            expires_at: Set(new.expires_at),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await?;
        Ok((row.try_into()?, secret))
    }

    /// Issues the account's reconnect link, replacing any earlier one; returns the secret.
    pub async fn issue_reconnect(
        &self,
        tenant_id: i64,
        account_id: i64,
        kind: AccountKind,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let txn = self.store.begin_write().await?;
        let secret =
            issue_reconnect_on(&txn, &self.store.keys, tenant_id, account_id, kind, now).await?;
        txn.commit().await?;
        Ok(secret)
    }

    /// The link a secret opens, whatever its state; `None` for a secret that opens nothing.
    pub async fn by_secret(&self, secret: &str) -> Result<Option<ConnectLink>, StoreError> {
        connect_link::Entity::find()
            .filter(connect_link::Column::SecretSha256.eq(secret_sha256(secret)))
            .one(&self.store.db)
            .await?
            .map(ConnectLink::try_from)
            .transpose()
    }

    pub async fn by_id(&self, id: i64) -> Result<Option<ConnectLink>, StoreError> {
        connect_link::Entity::find_by_id(id)
            .one(&self.store.db)
            .await?
            .map(ConnectLink::try_from)
            .transpose()
    }

    /// The tenant's connect links (not its reconnect links), newest first.
    pub async fn list(&self, tenant_id: i64) -> Result<Vec<ConnectLink>, StoreError> {
        connect_link::Entity::find()
            .filter(connect_link::Column::TenantId.eq(tenant_id))
            .filter(connect_link::Column::AccountId.is_null())
            .order_by_desc(connect_link::Column::Id)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(ConnectLink::try_from)
            .collect()
    }

    /// Revokes one of the tenant's links; another tenant's is `NotFound`.
    pub async fn revoke(
        &self,
        tenant_id: i64,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<ConnectLink, StoreError> {
        let row = connect_link::Entity::find_by_id(id)
            .filter(connect_link::Column::TenantId.eq(tenant_id))
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.revoked_at.is_some() {
            return row.try_into();
        }
        let mut active: connect_link::ActiveModel = row.into();
        active.revoked_at = Set(Some(now));
        active.update(&self.store.db).await?.try_into()
    }

    /// Counts a use of the link if it is still usable at `now`, in one statement, so that two
    /// people racing through a single-use link cannot both use it. `false`: it was not.
    pub async fn claim(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = connect_link::Entity::update_many()
            .col_expr(
                connect_link::Column::Uses,
                Expr::col(connect_link::Column::Uses).add(1),
            )
            .col_expr(connect_link::Column::LastUsedAt, Expr::value(now))
            .filter(connect_link::Column::Id.eq(id))
            .filter(connect_link::Column::RevokedAt.is_null())
            .filter(connect_link::Column::ExpiresAt.gt(now))
            .filter(
                sea_orm::Condition::any()
                    .add(connect_link::Column::Reusable.eq(true))
                    .add(connect_link::Column::Uses.eq(0)),
            )
            .exec(&self.store.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Gives back a use [`claim`](ConnectLinks::claim) counted, when nothing was connected.
    pub async fn release(&self, id: i64) -> Result<(), StoreError> {
        connect_link::Entity::update_many()
            .col_expr(
                connect_link::Column::Uses,
                Expr::col(connect_link::Column::Uses).sub(1),
            )
            .filter(connect_link::Column::Id.eq(id))
            .filter(connect_link::Column::Uses.gt(0))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// The secret of the account's reconnect link, if it has one that still works: what the
    /// worker writes into a notification as it sends it.
    pub async fn reconnect_secret(
        &self,
        account_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let Some(row) = connect_link::Entity::find()
            .filter(connect_link::Column::AccountId.eq(account_id))
            .filter(connect_link::Column::RevokedAt.is_null())
            .filter(connect_link::Column::Uses.eq(0))
            .filter(connect_link::Column::ExpiresAt.gt(now))
            .order_by_desc(connect_link::Column::Id)
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(sealed) = sealed_secret(&row) else {
            return Ok(None);
        };
        let plaintext = self
            .store
            .keys
            .open(&sealed, &associated_data(&row.secret_sha256))?;
        String::from_utf8(plaintext.to_vec())
            .map(Some)
            .map_err(|_| StoreError::Corrupt("a reconnect link's secret is not text".into()))
    }

    /// How many reconnect-link secrets each key seals, for the operator deciding whether an
    /// old key can go.
    pub async fn count_by_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = connect_link::Entity::find()
            .select_only()
            .column(connect_link::Column::KeyId)
            .column_as(connect_link::Column::Id.count(), "count")
            .filter(connect_link::Column::KeyId.is_not_null())
            .group_by(connect_link::Column::KeyId)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key_id, count)| Some((key_id?, count)))
            .collect())
    }

    /// Re-seals every reconnect-link secret not under the primary key (`admin rotate-key`).
    pub async fn rekey(&self) -> Result<RekeyReport, StoreError> {
        let mut report = RekeyReport::default();
        let primary = self.store.keys.current().primary_id().to_owned();
        let rows = connect_link::Entity::find()
            .filter(connect_link::Column::KeyId.is_not_null())
            .filter(connect_link::Column::KeyId.ne(primary.as_str()))
            .all(&self.store.db)
            .await?;
        for row in rows {
            let Some(sealed) = sealed_secret(&row) else {
                continue;
            };
            let data = associated_data(&row.secret_sha256);
            let secret = self.store.keys.open(&sealed, &data)?;
            let sealed = self.store.keys.seal(&secret, &data);
            let result = connect_link::Entity::update_many()
                .set(connect_link::ActiveModel {
                    ciphertext: Set(Some(sealed.ciphertext)),
                    nonce: Set(Some(sealed.nonce)),
                    key_id: Set(Some(sealed.key_id)),
                    ..Default::default()
                })
                .filter(connect_link::Column::Id.eq(row.id))
                .exec(&self.store.db)
                .await?;
            if result.rows_affected == 1 {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
        }
        Ok(report)
    }

    /// Deletes links that expired more than [`KEEP_EXPIRED_DAYS`] ago (until then an expired
    /// link answers "expired", then "not valid"), for the worker's housekeeping.
    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(connect_link::Entity::delete_many()
            .filter(
                connect_link::Column::ExpiresAt.lt(now - chrono::Duration::days(KEEP_EXPIRED_DAYS)),
            )
            .exec(&self.store.db)
            .await?
            .rows_affected)
    }
}
