//! Connect links: a link an owner or editor sends to the account's owner (their client), who
//! connects the account through it without signing in here; and reconnect links, issued when
//! an account needs reconnecting, that revive that same account.
//!
//! - `connect_links`: only the SHA-256 of a link's secret is kept, with its tenant, kind, the
//!   settings it gives what it connects (`presets`, JSON), single use or reusable, expiry and
//!   revocation. A reconnect link names its account, and also keeps its secret sealed (like a
//!   token, bound to the row): e-mails and webhooks are written when sent, so the worker must
//!   be able to put the link in them, while the outbox holds only a placeholder.
//! - `oauth_states` and `facebook_logins` are made anew: a round trip started from a link has
//!   no user or session, only the link. Both hold nothing but round trips of the last ten
//!   minutes, so one in flight during the upgrade is simply started again.
//! - `accounts.owner_email`: the account owner's address (the client), told when the account
//!   needs them; the random token of the unsubscribe link in those e-mails (it can do nothing
//!   but stop them); when they unsubscribed, if they did.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConnectLinks {
    Table,
    Id,
    TenantId,
    SecretSha256,
    Kind,
    AccountId,
    Ciphertext,
    Nonce,
    KeyId,
    Label,
    Presets,
    Reusable,
    Uses,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateSha256,
    UserId,
    SessionSha256,
    TenantId,
    ReturnTo,
    ConnectLinkId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum FacebookLogins {
    Table,
    HandleSha256,
    UserId,
    SessionSha256,
    TenantId,
    ReturnTo,
    ConnectLinkId,
    Pages,
    Ciphertext,
    Nonce,
    KeyId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    OwnerEmail,
    OwnerUnsubscribeToken,
    OwnerUnsubscribedAt,
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

fn cascade(
    from: (ConnectLinks, ConnectLinks),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConnectLinks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ConnectLinks::Id))
                    .col(big_integer(ConnectLinks::TenantId))
                    .col(string_uniq(ConnectLinks::SecretSha256))
                    .col(string(ConnectLinks::Kind))
                    .col(big_integer_null(ConnectLinks::AccountId))
                    .col(blob_null(ConnectLinks::Ciphertext))
                    .col(blob_null(ConnectLinks::Nonce))
                    .col(string_null(ConnectLinks::KeyId))
                    .col(string(ConnectLinks::Label))
                    .col(text(ConnectLinks::Presets))
                    .col(boolean(ConnectLinks::Reusable))
                    .col(integer(ConnectLinks::Uses).default(0))
                    .col(big_integer_null(ConnectLinks::CreatedBy))
                    .col(timestamp_with_time_zone(ConnectLinks::CreatedAt))
                    .col(timestamp_with_time_zone(ConnectLinks::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ConnectLinks::RevokedAt))
                    .col(timestamp_with_time_zone_null(ConnectLinks::LastUsedAt))
                    .foreign_key(&mut cascade(
                        (ConnectLinks::Table, ConnectLinks::TenantId),
                        (Tenants::Table, Tenants::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (ConnectLinks::Table, ConnectLinks::AccountId),
                        (Accounts::Table, Accounts::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConnectLinks::Table, ConnectLinks::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_connect_links_tenant")
                    .table(ConnectLinks::Table)
                    .col(ConnectLinks::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_connect_links_account")
                    .table(ConnectLinks::Table)
                    .col(ConnectLinks::AccountId)
                    .to_owned(),
            )
            .await?;

        round_trip_tables(manager, true).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(ColumnDef::new(Accounts::OwnerEmail).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(
                        ColumnDef::new(Accounts::OwnerUnsubscribeToken)
                            .string()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Unsubscribe links are public: each is found by an index, not a scan.
        manager
            .create_index(
                Index::create()
                    .name("idx_accounts_owner_unsubscribe_token")
                    .table(Accounts::Table)
                    .col(Accounts::OwnerUnsubscribeToken)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(
                        ColumnDef::new(Accounts::OwnerUnsubscribedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_accounts_owner_unsubscribe_token")
                    .table(Accounts::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Accounts::OwnerUnsubscribedAt,
            Accounts::OwnerUnsubscribeToken,
            Accounts::OwnerEmail,
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
        round_trip_tables(manager, false).await?;
        manager
            .drop_table(Table::drop().table(ConnectLinks::Table).to_owned())
            .await
    }
}

/// Makes `oauth_states` and `facebook_logins` anew: with a link column and no user or session
/// required (`with_links`), or as they were before.
async fn round_trip_tables(manager: &SchemaManager<'_>, with_links: bool) -> Result<(), DbErr> {
    let person = |mut column: ColumnDef| {
        if with_links {
            column.null().to_owned()
        } else {
            column.not_null().to_owned()
        }
    };
    manager
        .drop_table(Table::drop().table(OauthStates::Table).to_owned())
        .await?;
    let mut oauth_states = Table::create()
        .table(OauthStates::Table)
        .col(string(OauthStates::StateSha256).primary_key())
        .col(person(
            ColumnDef::new(OauthStates::UserId).big_integer().to_owned(),
        ))
        .col(person(
            ColumnDef::new(OauthStates::SessionSha256)
                .string()
                .to_owned(),
        ))
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
        .to_owned();
    if with_links {
        oauth_states
            .col(big_integer_null(OauthStates::ConnectLinkId))
            .foreign_key(
                ForeignKey::create()
                    .from(OauthStates::Table, OauthStates::ConnectLinkId)
                    .to(ConnectLinks::Table, ConnectLinks::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
    }
    manager.create_table(oauth_states).await?;

    manager
        .drop_table(Table::drop().table(FacebookLogins::Table).to_owned())
        .await?;
    let mut facebook_logins = Table::create()
        .table(FacebookLogins::Table)
        .col(string(FacebookLogins::HandleSha256).primary_key())
        .col(person(
            ColumnDef::new(FacebookLogins::UserId)
                .big_integer()
                .to_owned(),
        ))
        .col(person(
            ColumnDef::new(FacebookLogins::SessionSha256)
                .string()
                .to_owned(),
        ))
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
        .to_owned();
    if with_links {
        facebook_logins
            .col(big_integer_null(FacebookLogins::ConnectLinkId))
            .foreign_key(
                ForeignKey::create()
                    .from(FacebookLogins::Table, FacebookLogins::ConnectLinkId)
                    .to(ConnectLinks::Table, ConnectLinks::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
    }
    manager.create_table(facebook_logins).await
}
