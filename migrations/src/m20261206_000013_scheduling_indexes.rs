//! Indexes that keep the scheduler's pass as cheap with a million accounts as with ten:
//!
//! - `idx_accounts_leased` replaces the index on every account's `lease_until` with one on the
//!   leased accounts only (the lease is cleared when an attempt is recorded), so counting the
//!   live leases reads a few hundred entries, and a plan made without statistics (a freshly
//!   imported table, a generic prepared plan) still picks it: the whole index is that small.
//! - `idx_accounts_media_wanted` holds the accounts whose media someone asked for, by status
//!   and time of asking. Without it, looking for media to sync walked every active account on
//!   every pass (13 ms at 100,000 accounts on PostgreSQL, more on SQLite), ten times a second
//!   while refreshes are backlogged. Both engines use a partial index for a query whose
//!   `media_requested_at >= ?` implies the index's `IS NOT NULL`; the status column comes first
//!   so that SQLite, lacking statistics, prefers it to the status-and-due-time index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Status,
    LeaseUntil,
    MediaRequestedAt,
}

const OLD_LEASE_INDEX: &str = "idx_accounts_lease_until";
const LEASE_INDEX: &str = "idx_accounts_leased";
const MEDIA_INDEX: &str = "idx_accounts_media_wanted";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_LEASE_INDEX)
                    .table(Accounts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LEASE_INDEX)
                    .table(Accounts::Table)
                    .col(Accounts::LeaseUntil)
                    .and_where(Expr::col(Accounts::LeaseUntil).is_not_null())
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(MEDIA_INDEX)
                    .table(Accounts::Table)
                    .col(Accounts::Status)
                    .col(Accounts::MediaRequestedAt)
                    .and_where(Expr::col(Accounts::MediaRequestedAt).is_not_null())
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [MEDIA_INDEX, LEASE_INDEX] {
            manager
                .drop_index(Index::drop().name(name).table(Accounts::Table).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(OLD_LEASE_INDEX)
                    .table(Accounts::Table)
                    .col(Accounts::LeaseUntil)
                    .to_owned(),
            )
            .await
    }
}
