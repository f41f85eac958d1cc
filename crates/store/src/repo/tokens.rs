use std::collections::HashMap;

use chrono::{DateTime, Utc};
use freshtoken_core::AccessToken;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::Store;
use crate::TenantAccount;
use crate::crypto::{KeyStore, Sealed};
use crate::entity::token;
use crate::error::StoreError;

/// A new token for an account, from a connect or a refresh.
#[derive(Debug, Clone)]
pub struct TokenUpdate {
    pub token: AccessToken,
    pub issued_at: DateTime<Utc>,
    /// `None` when unknown (a pasted token not yet refreshed).
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: String,
    /// Set when this token came from a refresh.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// An account's token, decrypted.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub account_id: i64,
    pub token: AccessToken,
    pub key_id: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub scopes: String,
}

/// When an account's token was issued and when it expires: what scheduling and the account
/// views need, read without opening the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime {
    pub issued_at: DateTime<Utc>,
    /// `None` when unknown (a pasted token not yet refreshed).
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a re-key pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyReport {
    pub resealed: u64,
    /// Rows changed by someone else (a refresh) while we worked: they are sealed anew anyway.
    pub skipped: u64,
}

pub struct Tokens<'a> {
    store: &'a Store,
}

/// Binds a ciphertext to its row: a token copied into another account's row will not open.
pub(crate) fn associated_data(account_id: i64) -> Vec<u8> {
    format!("freshtoken token of account {account_id}").into_bytes()
}

pub(crate) async fn save_on(
    conn: &impl ConnectionTrait,
    keys: &KeyStore,
    account_id: i64,
    update: &TokenUpdate,
) -> Result<(), StoreError> {
    save_all_on(conn, keys, &[(account_id, update)]).await
}

/// Saves (inserts or replaces) the tokens of several accounts in one statement, each sealed
/// for its own account.
pub(crate) async fn save_all_on(
    conn: &impl ConnectionTrait,
    keys: &KeyStore,
    updates: &[(i64, &TokenUpdate)],
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    let rows = updates.iter().map(|(account_id, update)| {
        let sealed = keys.seal(
            update.token.expose().as_bytes(),
            &associated_data(*account_id),
        );
        token::ActiveModel {
            account_id: Set(*account_id),
            ciphertext: Set(sealed.ciphertext),
            nonce: Set(sealed.nonce),
            key_id: Set(sealed.key_id),
            issued_at: Set(update.issued_at),
            expires_at: Set(update.expires_at),
            last_refreshed_at: Set(update.refreshed_at),
            scopes: Set(update.scopes.clone()),
        }
    });
    token::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(token::Column::AccountId)
                .update_columns([
                    token::Column::Ciphertext,
                    token::Column::Nonce,
                    token::Column::KeyId,
                    token::Column::IssuedAt,
                    token::Column::ExpiresAt,
                    token::Column::LastRefreshedAt,
                    token::Column::Scopes,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Tokens { store }
    }

    /// Seals and stores the account's token, replacing the previous one.
    pub async fn save(&self, account_id: i64, update: &TokenUpdate) -> Result<(), StoreError> {
        save_on(&self.store.db, &self.store.keys, account_id, update).await
    }

    pub async fn read(&self, account_id: i64) -> Result<StoredToken, StoreError> {
        let row = token::Entity::find_by_id(account_id)
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.open(row)
    }

    /// The lifetime of the account's token, or `None` when it has none (e.g. after a
    /// deauthorize).
    pub async fn lifetime(
        &self,
        account: &TenantAccount,
    ) -> Result<Option<TokenLifetime>, StoreError> {
        self.lifetime_unscoped(account.account_id()).await
    }

    /// [`Tokens::lifetime`] of any tenant's account, by bare id: for operator tools, which act
    /// on every tenant (`admin refresh`). Never for a handler of a tenant, which has the
    /// account's proof from [`Accounts::get`](crate::Accounts::get).
    pub async fn lifetime_unscoped(
        &self,
        account_id: i64,
    ) -> Result<Option<TokenLifetime>, StoreError> {
        Ok(self.lifetimes_of(&[account_id]).await?.remove(&account_id))
    }

    /// The lifetimes of these accounts' tokens, by account id, in one query; accounts without
    /// a token are absent.
    pub async fn lifetimes(
        &self,
        accounts: &[TenantAccount],
    ) -> Result<HashMap<i64, TokenLifetime>, StoreError> {
        let ids: Vec<i64> = accounts.iter().map(TenantAccount::account_id).collect();
        self.lifetimes_of(&ids).await
    }

    async fn lifetimes_of(
        &self,
        account_ids: &[i64],
    ) -> Result<HashMap<i64, TokenLifetime>, StoreError> {
        let rows: Vec<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> = token::Entity::find()
            .select_only()
            .column(token::Column::AccountId)
            .column(token::Column::IssuedAt)
            .column(token::Column::ExpiresAt)
            .filter(token::Column::AccountId.is_in(account_ids.iter().copied()))
            .into_tuple()
            .all(&self.store.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(account_id, issued_at, expires_at)| {
                (
                    account_id,
                    TokenLifetime {
                        issued_at,
                        expires_at,
                    },
                )
            })
            .collect())
    }

    pub(crate) fn open(&self, row: token::Model) -> Result<StoredToken, StoreError> {
        let sealed = Sealed {
            ciphertext: row.ciphertext,
            nonce: row.nonce,
            key_id: row.key_id,
        };
        let plaintext = self
            .store
            .keys
            .open(&sealed, &associated_data(row.account_id))?;
        let token = std::str::from_utf8(&plaintext).map_err(|_| {
            StoreError::Corrupt(format!("token of account {} is not UTF-8", row.account_id))
        })?;
        Ok(StoredToken {
            account_id: row.account_id,
            token: AccessToken::new(token),
            key_id: sealed.key_id,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            last_refreshed_at: row.last_refreshed_at,
            scopes: row.scopes,
        })
    }

    /// How many tokens each key seals, for the operator deciding whether an old key can go.
    pub async fn count_by_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(token::Entity::find()
            .select_only()
            .column(token::Column::KeyId)
            .column_as(token::Column::AccountId.count(), "count")
            .group_by(token::Column::KeyId)
            .order_by_asc(token::Column::KeyId)
            .into_tuple()
            .all(&self.store.db)
            .await?)
    }

    /// Re-seals every token not under the primary key, in batches, while the service runs.
    ///
    /// Each row is replaced only if it still holds the ciphertext we read, so a refresh that
    /// lands meanwhile is never overwritten with the older token.
    pub async fn rekey(&self, batch_size: u64) -> Result<RekeyReport, StoreError> {
        let mut report = RekeyReport::default();
        let mut after_account = i64::MIN;
        loop {
            let primary = self.store.keys.current().primary_id().to_owned();
            let batch = token::Entity::find()
                .filter(token::Column::KeyId.ne(primary.as_str()))
                .filter(token::Column::AccountId.gt(after_account))
                .order_by_asc(token::Column::AccountId)
                .limit(batch_size)
                .all(&self.store.db)
                .await?;
            let Some(last) = batch.last() else {
                return Ok(report);
            };
            after_account = last.account_id;
            for row in batch {
                let old_ciphertext = row.ciphertext.clone();
                let account_id = row.account_id;
                let opened = self.open(row)?;
                let sealed = self.store.keys.seal(
                    opened.token.expose().as_bytes(),
                    &associated_data(account_id),
                );
                let result = token::Entity::update_many()
                    .set(token::ActiveModel {
                        ciphertext: Set(sealed.ciphertext),
                        nonce: Set(sealed.nonce),
                        key_id: Set(sealed.key_id),
                        ..Default::default()
                    })
                    .filter(token::Column::AccountId.eq(account_id))
                    .filter(token::Column::Ciphertext.eq(old_ciphertext))
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
