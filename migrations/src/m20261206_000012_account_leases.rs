//! An index on `accounts.lease_until`: the scheduler counts the accounts a live lease holds
//! (claimed, queued or being refreshed) on every pass, to keep the job queue about two batches
//! deep. The lease is cleared when an attempt is recorded, so the index's live part is small
//! however many accounts there are.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    LeaseUntil,
}

const INDEX: &str = "idx_accounts_lease_until";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Accounts::Table)
                    .col(Accounts::LeaseUntil)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Accounts::Table).to_owned())
            .await
    }
}
