//! Moving an instance between databases (SQLite to PostgreSQL, or one server to another):
//! [`Transfer::export`] reads everything worth keeping into one document, [`Transfer::import`]
//! writes it into an empty, migrated database with the same ids, so public token URLs keep
//! working and the tokens, sealed to their account ids, stay readable. Tokens and webhook
//! signing secrets travel encrypted: the target needs the same secret key, which the import
//! checks before writing anything.
//!
//! Left behind on purpose: sessions (people sign in again), pending OAuth round trips, the
//! notification outbox and its log, synced media (synced again on demand), and the job queues.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Statement, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::crypto::Sealed;
use crate::entity::{
    account, account_request_count, api_key, data_deletion_request, invite, membership,
    refresh_event, tenant, token, user, webhook,
};
use crate::error::StoreError;
use crate::{Backend, Store};

pub const EXPORT_FORMAT: &str = "freshtoken-export";
/// 2: webhook secrets sealed (version 1 carried them in plain; it is still read, and its
/// secrets are sealed on import).
pub const EXPORT_VERSION: u32 = 2;
const OLDEST_READABLE_VERSION: u32 = 1;

/// Everything an instance keeps that is worth moving, tables in the order they can be written.
#[derive(Debug, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    users: Vec<user::Model>,
    tenants: Vec<tenant::Model>,
    memberships: Vec<membership::Model>,
    accounts: Vec<account::Model>,
    tokens: Vec<token::Model>,
    api_keys: Vec<api_key::Model>,
    webhooks: Vec<webhook::Model>,
    invites: Vec<invite::Model>,
    refresh_events: Vec<refresh_event::Model>,
    data_deletion_requests: Vec<data_deletion_request::Model>,
    account_request_counts: Vec<account_request_count::Model>,
}

/// How much an export holds, for the operator to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    pub users: usize,
    pub tenants: usize,
    pub accounts: usize,
    pub tokens: usize,
}

impl Export {
    pub fn summary(&self) -> ExportSummary {
        ExportSummary {
            users: self.users.len(),
            tenants: self.tenants.len(),
            accounts: self.accounts.len(),
            tokens: self.tokens.len(),
        }
    }
}

/// Tables whose `id` comes from a sequence on PostgreSQL, which must continue after the
/// imported ids.
const SEQUENCED_TABLES: &[&str] = &[
    "users",
    "tenants",
    "accounts",
    "api_keys",
    "webhooks",
    "invites",
    "refresh_events",
    "data_deletion_requests",
];

pub struct Transfer<'a> {
    store: &'a Store,
}

impl<'a> Transfer<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Transfer { store }
    }

    /// Reads everything in one transaction, so the document is consistent.
    pub async fn export(&self) -> Result<Export, StoreError> {
        let txn = self.store.db.begin().await?;
        let export = Export {
            format: EXPORT_FORMAT.to_owned(),
            version: EXPORT_VERSION,
            exported_at: Utc::now(),
            users: user::Entity::find().all(&txn).await?,
            tenants: tenant::Entity::find().all(&txn).await?,
            memberships: membership::Entity::find().all(&txn).await?,
            accounts: account::Entity::find().all(&txn).await?,
            tokens: token::Entity::find().all(&txn).await?,
            api_keys: api_key::Entity::find().all(&txn).await?,
            webhooks: webhook::Entity::find().all(&txn).await?,
            invites: invite::Entity::find().all(&txn).await?,
            refresh_events: refresh_event::Entity::find().all(&txn).await?,
            data_deletion_requests: data_deletion_request::Entity::find().all(&txn).await?,
            account_request_counts: account_request_count::Entity::find().all(&txn).await?,
        };
        txn.commit().await?;
        Ok(export)
    }

    /// Writes an export into this database, which must hold no users yet, in one transaction:
    /// all of it or nothing. Every token and webhook secret is first opened with this store's
    /// keys, so a missing key is an error before anything is written.
    pub async fn import(&self, export: Export) -> Result<ExportSummary, StoreError> {
        if export.format != EXPORT_FORMAT
            || !(OLDEST_READABLE_VERSION..=EXPORT_VERSION).contains(&export.version)
        {
            return Err(StoreError::Corrupt(format!(
                "not a {EXPORT_FORMAT} document of version {OLDEST_READABLE_VERSION} to {EXPORT_VERSION} (found {} version {})",
                export.format, export.version
            )));
        }
        for token in &export.tokens {
            let sealed = Sealed {
                ciphertext: token.ciphertext.clone(),
                nonce: token.nonce.clone(),
                key_id: token.key_id.clone(),
            };
            self.store
                .keys
                .open(&sealed, &super::tokens::associated_data(token.account_id))?;
        }
        for hook in &export.webhooks {
            super::webhooks::check_secret(&self.store.keys, hook)?;
        }
        let summary = export.summary();
        let txn = self.store.begin_write().await?;
        if user::Entity::find().one(&txn).await?.is_some() {
            return Err(StoreError::Corrupt(
                "the target database already has users: import only into a new one".to_owned(),
            ));
        }
        insert_all::<user::Entity, _>(&txn, export.users).await?;
        insert_all::<tenant::Entity, _>(&txn, export.tenants).await?;
        insert_all::<membership::Entity, _>(&txn, export.memberships).await?;
        insert_all::<account::Entity, _>(&txn, export.accounts).await?;
        insert_all::<token::Entity, _>(&txn, export.tokens).await?;
        insert_all::<api_key::Entity, _>(&txn, export.api_keys).await?;
        insert_all::<webhook::Entity, _>(&txn, export.webhooks).await?;
        super::webhooks::seal_plain_secrets(&txn, &self.store.keys).await?;
        insert_all::<invite::Entity, _>(&txn, export.invites).await?;
        insert_all::<refresh_event::Entity, _>(&txn, export.refresh_events).await?;
        insert_all::<data_deletion_request::Entity, _>(&txn, export.data_deletion_requests).await?;
        insert_all::<account_request_count::Entity, _>(&txn, export.account_request_counts).await?;
        if self.store.backend() == Backend::Postgres {
            for table in SEQUENCED_TABLES {
                txn.execute_raw(Statement::from_string(
                    txn.get_database_backend(),
                    format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    ),
                ))
                .await?;
            }
        }
        txn.commit().await?;
        // Planner statistics for what was just written, rather than waiting for autovacuum:
        // without them the scheduler's queries walk whole indexes (bench/README.md).
        if self.store.backend() == Backend::Postgres {
            self.store.db.execute_unprepared("ANALYZE").await?;
        }
        Ok(summary)
    }
}

/// Inserts rows as they are, ids included, a few hundred per statement.
async fn insert_all<E, A>(
    txn: &sea_orm::DatabaseTransaction,
    rows: Vec<E::Model>,
) -> Result<(), StoreError>
where
    E: EntityTrait<ActiveModel = A>,
    A: ActiveModelTrait<Entity = E> + From<E::Model> + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<A> = rows
            .by_ref()
            .take(200)
            // Unchanged values would be left out of the INSERT: mark every one as set.
            .map(|row| A::from(row).reset_all())
            .collect();
        E::insert_many(batch).exec_without_returning(txn).await?;
    }
    Ok(())
}
