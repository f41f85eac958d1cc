//! What connecting Instagram accounts needs beyond the first schema:
//! - `oauth_states`: pending "Connect Instagram" round trips. Only the SHA-256 of the `state`
//!   is kept, with the user, session and tenant it belongs to; a row is deleted when used, so a
//!   state works once, from the session that started it, for the tenant it named.
//! - `data_deletion_requests`: Meta's data-deletion callbacks, by confirmation code, so the
//!   status page can say what was done. Nothing that identifies the person is kept.
//! - an index on accounts by Instagram user, for deauthorize and data deletion, which name the
//!   user but not the tenant.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .if_not_exists()
                    .col(string(OauthStates::StateSha256).primary_key())
                    .col(big_integer(OauthStates::UserId))
                    .col(string(OauthStates::SessionSha256))
                    .col(big_integer(OauthStates::TenantId))
                    .col(string(OauthStates::ReturnTo))
                    .col(timestamp_with_time_zone(OauthStates::CreatedAt))
                    .col(timestamp_with_time_zone(OauthStates::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthStates::Table, OauthStates::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthStates::Table, OauthStates::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DataDeletionRequests::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DataDeletionRequests::Id))
                    .col(string_uniq(DataDeletionRequests::ConfirmationCode))
                    .col(timestamp_with_time_zone(DataDeletionRequests::RequestedAt))
                    .col(timestamp_with_time_zone_null(
                        DataDeletionRequests::CompletedAt,
                    ))
                    .col(integer(DataDeletionRequests::AccountsDeleted))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_accounts_provider_user")
                    .table(Accounts::Table)
                    .col(Accounts::Provider)
                    .col(Accounts::ProviderUserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_accounts_provider_user")
                    .table(Accounts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(DataDeletionRequests::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(OauthStates::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateSha256,
    UserId,
    SessionSha256,
    TenantId,
    ReturnTo,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum DataDeletionRequests {
    Table,
    Id,
    ConfirmationCode,
    RequestedAt,
    CompletedAt,
    AccountsDeleted,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Provider,
    ProviderUserId,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
