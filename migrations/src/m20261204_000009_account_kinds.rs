//! Accounts have a kind (`instagram`, `facebook_page`, `threads`) where they had a provider
//! that could only be `instagram`: the column is renamed, and every existing value is already a
//! kind. A Facebook Page may have an Instagram professional account linked to it, whose posts
//! its `media.json` serves: `linked_instagram_id` names it.
//!
//! Both engines rename the column in place and carry the unique index on (tenant, kind,
//! provider user id) and the index on (kind, provider user id) along with it.
//!
//! `facebook_logins` holds a Facebook login between its callback and the person's choice of
//! Pages (usable for ten minutes; the worker sweeps abandoned ones): who and which session it belongs to, for which tenant, the
//! Pages offered (ids and names), and the long-lived user token sealed like every token,
//! bound to the row's handle. Only the SHA-256 of the handle in the address is kept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Provider,
    Kind,
    LinkedInstagramId,
}

#[derive(DeriveIden)]
enum FacebookLogins {
    Table,
    HandleSha256,
    UserId,
    SessionSha256,
    TenantId,
    ReturnTo,
    Pages,
    Ciphertext,
    Nonce,
    KeyId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .rename_column(Accounts::Provider, Accounts::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(ColumnDef::new(Accounts::LinkedInstagramId).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FacebookLogins::Table)
                    .if_not_exists()
                    .col(string(FacebookLogins::HandleSha256).primary_key())
                    .col(big_integer(FacebookLogins::UserId))
                    .col(string(FacebookLogins::SessionSha256))
                    .col(big_integer(FacebookLogins::TenantId))
                    .col(string(FacebookLogins::ReturnTo))
                    .col(text(FacebookLogins::Pages))
                    .col(blob(FacebookLogins::Ciphertext))
                    .col(blob(FacebookLogins::Nonce))
                    .col(string(FacebookLogins::KeyId))
                    .col(timestamp_with_time_zone(FacebookLogins::CreatedAt))
                    .col(timestamp_with_time_zone(FacebookLogins::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FacebookLogins::Table, FacebookLogins::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FacebookLogins::Table, FacebookLogins::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FacebookLogins::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::LinkedInstagramId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .rename_column(Accounts::Kind, Accounts::Provider)
                    .to_owned(),
            )
            .await
    }
}
