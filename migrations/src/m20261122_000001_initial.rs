//! The first cut of the data model (see docs/architecture.md): users, tenants and their
//! members, connected accounts with their encrypted tokens, the refresh log, API keys and
//! server-side sessions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    // Stored case-folded by the store, so a plain unique index is enough.
                    .col(string_uniq(Users::Email))
                    .col(text(Users::PasswordHash))
                    .col(string(Users::Name).default(""))
                    .col(boolean(Users::IsOperator).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(timestamp_with_time_zone_null(Users::DisabledAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tenants::Id))
                    .col(string(Tenants::Name))
                    .col(string_uniq(Tenants::Slug))
                    // NULL: no limit beyond the instance's own.
                    .col(integer_null(Tenants::MaxAccounts))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .col(timestamp_with_time_zone_null(Tenants::DisabledAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .if_not_exists()
                    .col(big_integer(Memberships::TenantId))
                    .col(big_integer(Memberships::UserId))
                    .col(string(Memberships::Role))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Memberships::TenantId)
                            .col(Memberships::UserId),
                    )
                    .foreign_key(&mut cascade(
                        Memberships::Table,
                        Memberships::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .foreign_key(&mut cascade(
                        Memberships::Table,
                        Memberships::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Memberships::Table,
            "idx_memberships_user",
            &[Memberships::UserId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Accounts::Id))
                    .col(big_integer(Accounts::TenantId))
                    .col(string(Accounts::Provider))
                    .col(string(Accounts::ProviderUserId))
                    .col(string(Accounts::Username))
                    .col(string(Accounts::Label).default(""))
                    .col(string_uniq(Accounts::PublicId))
                    // A JSON array of origin patterns; empty means "serve to anyone".
                    .col(text(Accounts::AllowedOrigins).default("[]"))
                    .col(boolean(Accounts::AllowLocalhost).default(false))
                    .col(boolean(Accounts::AllowNoOrigin).default(true))
                    .col(string_null(Accounts::JsConstant))
                    .col(string(Accounts::Status))
                    .col(string(Accounts::RefreshInterval))
                    .col(timestamp_with_time_zone_null(Accounts::NextRefreshAt))
                    .col(timestamp_with_time_zone_null(Accounts::LastRefreshAt))
                    .col(text_null(Accounts::LastError))
                    .col(text_null(Accounts::ProfilePictureUrl))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .col(timestamp_with_time_zone(Accounts::UpdatedAt))
                    .foreign_key(&mut cascade(
                        Accounts::Table,
                        Accounts::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_accounts_tenant_provider_user")
                    .table(Accounts::Table)
                    .col(Accounts::TenantId)
                    .col(Accounts::Provider)
                    .col(Accounts::ProviderUserId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The scheduler's question: which accounts are due?
        index(
            manager,
            Accounts::Table,
            "idx_accounts_status_next_refresh",
            &[Accounts::Status, Accounts::NextRefreshAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .if_not_exists()
                    .col(big_integer(Tokens::AccountId).primary_key())
                    .col(blob(Tokens::Ciphertext))
                    .col(blob(Tokens::Nonce))
                    .col(string(Tokens::KeyId))
                    .col(timestamp_with_time_zone(Tokens::IssuedAt))
                    // NULL: unknown (a pasted or imported token until its first refresh).
                    .col(timestamp_with_time_zone_null(Tokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Tokens::LastRefreshedAt))
                    .col(string(Tokens::Scopes).default(""))
                    .foreign_key(&mut cascade(
                        Tokens::Table,
                        Tokens::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Tokens::Table,
            "idx_tokens_key_id",
            &[Tokens::KeyId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RefreshEvents::Id))
                    .col(big_integer(RefreshEvents::AccountId))
                    .col(timestamp_with_time_zone(RefreshEvents::At))
                    .col(string(RefreshEvents::Outcome))
                    .col(integer(RefreshEvents::Attempt))
                    .col(string_null(RefreshEvents::ErrorCode))
                    .col(text_null(RefreshEvents::Message))
                    .col(timestamp_with_time_zone_null(RefreshEvents::NewExpiresAt))
                    .foreign_key(&mut cascade(
                        RefreshEvents::Table,
                        RefreshEvents::AccountId,
                        Accounts::Table,
                        Accounts::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            RefreshEvents::Table,
            "idx_refresh_events_account_at",
            &[RefreshEvents::AccountId, RefreshEvents::At],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ApiKeys::Id))
                    .col(big_integer(ApiKeys::TenantId))
                    .col(string(ApiKeys::Name))
                    // The visible start of the key, shown in lists so people can tell keys apart.
                    .col(string_uniq(ApiKeys::Prefix))
                    .col(string_uniq(ApiKeys::SecretSha256))
                    .col(big_integer_null(ApiKeys::CreatedBy))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut cascade(
                        ApiKeys::Table,
                        ApiKeys::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            ApiKeys::Table,
            "idx_api_keys_tenant",
            &[ApiKeys::TenantId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(string(Sessions::Id).primary_key())
                    // Whose session it is, so that a password reset can end them all.
                    .col(big_integer_null(Sessions::UserId))
                    .col(blob(Sessions::Data))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            Sessions::Table,
            "idx_sessions_expires_at",
            &[Sessions::ExpiresAt],
        )
        .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            RefreshEvents::Table.into_iden(),
            Tokens::Table.into_iden(),
            Accounts::Table.into_iden(),
            Memberships::Table.into_iden(),
            Tenants::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// A foreign key whose rows go when their parent goes.
fn cascade(
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    name: &str,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for col in cols {
        statement.col(*col);
    }
    manager.create_index(statement.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Name,
    IsOperator,
    CreatedAt,
    LastLoginAt,
    DisabledAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
    Name,
    Slug,
    MaxAccounts,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Memberships {
    Table,
    TenantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    TenantId,
    Provider,
    ProviderUserId,
    Username,
    Label,
    PublicId,
    AllowedOrigins,
    AllowLocalhost,
    AllowNoOrigin,
    JsConstant,
    Status,
    RefreshInterval,
    NextRefreshAt,
    LastRefreshAt,
    LastError,
    ProfilePictureUrl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tokens {
    Table,
    AccountId,
    Ciphertext,
    Nonce,
    KeyId,
    IssuedAt,
    ExpiresAt,
    LastRefreshedAt,
    Scopes,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshEvents {
    Table,
    Id,
    AccountId,
    At,
    Outcome,
    Attempt,
    ErrorCode,
    Message,
    NewExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    SecretSha256,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    UserId,
    Data,
    ExpiresAt,
}
