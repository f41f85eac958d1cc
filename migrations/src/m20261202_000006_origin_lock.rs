//! The origin lock, closed by default.
//!
//! - `accounts.allow_no_origin` is gone: a request with neither `Origin` nor `Referer` is
//!   refused by every locked account (browsers can be told to send neither, so a switch that
//!   serves such requests opened the lock to any page). Servers ask with an API key instead.
//! - `accounts.is_public`: an explicit choice to serve everyone, header-less requests
//!   included. Off for every account, existing ones too: an account with no allowed origins
//!   now serves nobody but API keys until its owner adds a site or makes it public (the
//!   README's upgrade notes say so).
//! - `api_keys.scopes` (space-separated; existing keys keep what they could do, `api`) and
//!   `api_keys.expires_at`.
//! - `account_request_counts.refused_no_origin`: requests refused for carrying neither header,
//!   counted apart so that an owner sees which servers would break.
//!
//! The delivery triggers name the account columns an answer depends on, so they are dropped
//! and made again around the column change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts ON accounts;
ALTER TABLE accounts DROP COLUMN allow_no_origin;
ALTER TABLE accounts ADD COLUMN is_public BOOLEAN NOT NULL DEFAULT false;
CREATE TRIGGER freshtoken_delivery_accounts AFTER UPDATE OF
    public_id, tenant_id, status, allowed_origins, allow_localhost, is_public, js_constant
    OR DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION freshtoken_account_changed();
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts ON accounts;
ALTER TABLE accounts DROP COLUMN is_public;
ALTER TABLE accounts ADD COLUMN allow_no_origin BOOLEAN NOT NULL DEFAULT true;
CREATE TRIGGER freshtoken_delivery_accounts AFTER UPDATE OF
    public_id, tenant_id, status, allowed_origins, allow_localhost, allow_no_origin, js_constant
    OR DELETE ON accounts FOR EACH ROW EXECUTE FUNCTION freshtoken_account_changed();
"#;

const SQLITE_UP: &str = r#"
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts_update;
ALTER TABLE accounts DROP COLUMN allow_no_origin;
ALTER TABLE accounts ADD COLUMN is_public BOOLEAN NOT NULL DEFAULT false;
CREATE TRIGGER freshtoken_delivery_accounts_update AFTER UPDATE OF
    public_id, tenant_id, status, allowed_origins, allow_localhost, is_public, js_constant
    ON accounts BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.id); END;
"#;

const SQLITE_DOWN: &str = r#"
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts_update;
ALTER TABLE accounts DROP COLUMN is_public;
ALTER TABLE accounts ADD COLUMN allow_no_origin BOOLEAN NOT NULL DEFAULT true;
CREATE TRIGGER freshtoken_delivery_accounts_update AFTER UPDATE OF
    public_id, tenant_id, status, allowed_origins, allow_localhost, allow_no_origin, js_constant
    ON accounts BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.id); END;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let accounts = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        manager
            .get_connection()
            .execute_unprepared(accounts)
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(string_len(ApiKeys::Scopes, 200).default("api"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AccountRequestCounts::Table)
                    .add_column(big_integer(AccountRequestCounts::RefusedNoOrigin).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AccountRequestCounts::Table)
                    .drop_column(AccountRequestCounts::RefusedNoOrigin)
                    .to_owned(),
            )
            .await?;
        for column in [ApiKeys::ExpiresAt, ApiKeys::Scopes] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ApiKeys::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let accounts = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        manager
            .get_connection()
            .execute_unprepared(accounts)
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Scopes,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AccountRequestCounts {
    Table,
    RefusedNoOrigin,
}
