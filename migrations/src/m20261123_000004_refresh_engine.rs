//! What the refresh engine needs:
//! - on `accounts`, a lease (`lease_id`, `lease_until`) that one job at a time holds while it
//!   refreshes the account, so several schedulers and workers never refresh one account twice
//!   at once, and a crashed worker's claim runs out; the count of consecutive failures (for
//!   backoff); when the "expiring" warning went out (one per incident); when the recent media
//!   were last synced and last asked for.
//! - `webhooks`: a tenant's endpoints and the events each wants.
//! - `notifications`: the outbox of webhook calls and e-mails, written in the same transaction
//!   as the change they announce (so none is lost), with their delivery log.
//! - `account_media`: the recent posts of an account, as the media sync job last read them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            string_null(Accounts::LeaseId),
            timestamp_with_time_zone_null(Accounts::LeaseUntil),
            integer(Accounts::FailureCount).default(0).to_owned(),
            timestamp_with_time_zone_null(Accounts::ExpiringNotifiedAt),
            timestamp_with_time_zone_null(Accounts::MediaSyncedAt),
            timestamp_with_time_zone_null(Accounts::MediaRequestedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Webhooks::Id))
                    .col(big_integer(Webhooks::TenantId))
                    .col(text(Webhooks::Url))
                    .col(string(Webhooks::Secret))
                    // A JSON array of event names.
                    .col(text(Webhooks::Events))
                    .col(boolean(Webhooks::Enabled).default(true))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhooks_tenant")
                    .table(Webhooks::Table)
                    .col(Webhooks::TenantId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Notifications::Id))
                    .col(big_integer(Notifications::TenantId))
                    .col(big_integer_null(Notifications::AccountId))
                    // `webhook` (to `webhook_id`) or `email` (to `recipient`).
                    .col(string(Notifications::Channel))
                    .col(big_integer_null(Notifications::WebhookId))
                    .col(string_null(Notifications::Recipient))
                    .col(string(Notifications::Event))
                    .col(text(Notifications::Payload))
                    // `pending`, `delivered` or `failed` (gave up).
                    .col(string(Notifications::Status))
                    .col(integer(Notifications::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Notifications::NextAttemptAt))
                    .col(string_null(Notifications::LeaseId))
                    .col(timestamp_with_time_zone_null(Notifications::LeaseUntil))
                    .col(integer_null(Notifications::ResponseStatus))
                    .col(text_null(Notifications::LastError))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The scheduler's question for deliveries: which are due?
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_status_next_attempt")
                    .table(Notifications::Table)
                    .col(Notifications::Status)
                    .col(Notifications::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_tenant_created")
                    .table(Notifications::Table)
                    .col(Notifications::TenantId)
                    .col(Notifications::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountMedia::Table)
                    .if_not_exists()
                    .col(big_integer(AccountMedia::AccountId).primary_key())
                    // The posts as a JSON array, ready to serve.
                    .col(text(AccountMedia::Items))
                    .col(timestamp_with_time_zone(AccountMedia::SyncedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccountMedia::Table, AccountMedia::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AccountMedia::Table.into_iden(),
            Notifications::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for column in [
            Accounts::LeaseId,
            Accounts::LeaseUntil,
            Accounts::FailureCount,
            Accounts::ExpiringNotifiedAt,
            Accounts::MediaSyncedAt,
            Accounts::MediaRequestedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Accounts::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    LeaseId,
    LeaseUntil,
    FailureCount,
    ExpiringNotifiedAt,
    MediaSyncedAt,
    MediaRequestedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    TenantId,
    Url,
    Secret,
    Events,
    Enabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    TenantId,
    AccountId,
    Channel,
    WebhookId,
    Recipient,
    Event,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseId,
    LeaseUntil,
    ResponseStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum AccountMedia {
    Table,
    AccountId,
    Items,
    SyncedAt,
}
