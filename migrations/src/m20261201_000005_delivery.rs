//! What the token URLs need to serve from memory:
//! - a change signal for every row that shapes what an account's token URLs answer (its
//!   settings and status, its token, its media, its workspace being disabled, its deletion),
//!   raised by triggers so that no writer can forget it. On PostgreSQL the triggers `NOTIFY`
//!   the channel `freshtoken_delivery` with the account id; every web process listens and
//!   forgets that account. On SQLite (where NOTIFY does not exist) they append the account id
//!   to `delivery_changes`, which web processes poll; SQLite's single writer makes its `seq`
//!   grow in commit order, so a poller never skips a change.
//! - `account_request_counts`: how many requests each account's token URLs served (and
//!   refused) per UTC day, added up in memory and written now and then.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The account columns a token URL's answer depends on. Others (the worker's leases, refresh
/// bookkeeping) change often and must not empty the caches.
const ACCOUNT_COLUMNS: &str =
    "public_id, tenant_id, status, allowed_origins, allow_localhost, allow_no_origin, js_constant";

const POSTGRES_UP: &str = r#"
CREATE OR REPLACE FUNCTION freshtoken_account_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('freshtoken_delivery', OLD.id::text);
    ELSE
        PERFORM pg_notify('freshtoken_delivery', NEW.id::text);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION freshtoken_account_part_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('freshtoken_delivery', OLD.account_id::text);
    ELSE
        PERFORM pg_notify('freshtoken_delivery', NEW.account_id::text);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION freshtoken_tenant_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('freshtoken_delivery', id::text) FROM accounts WHERE tenant_id = NEW.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER freshtoken_delivery_accounts AFTER UPDATE OF {ACCOUNT_COLUMNS} OR DELETE
    ON accounts FOR EACH ROW EXECUTE FUNCTION freshtoken_account_changed();
CREATE TRIGGER freshtoken_delivery_tokens AFTER INSERT OR UPDATE OR DELETE
    ON tokens FOR EACH ROW EXECUTE FUNCTION freshtoken_account_part_changed();
CREATE TRIGGER freshtoken_delivery_media AFTER INSERT OR UPDATE OR DELETE
    ON account_media FOR EACH ROW EXECUTE FUNCTION freshtoken_account_part_changed();
CREATE TRIGGER freshtoken_delivery_tenants AFTER UPDATE OF disabled_at
    ON tenants FOR EACH ROW EXECUTE FUNCTION freshtoken_tenant_changed();
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts ON accounts;
DROP TRIGGER IF EXISTS freshtoken_delivery_tokens ON tokens;
DROP TRIGGER IF EXISTS freshtoken_delivery_media ON account_media;
DROP TRIGGER IF EXISTS freshtoken_delivery_tenants ON tenants;
DROP FUNCTION IF EXISTS freshtoken_account_changed();
DROP FUNCTION IF EXISTS freshtoken_account_part_changed();
DROP FUNCTION IF EXISTS freshtoken_tenant_changed();
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE delivery_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL,
    changed_at BIGINT NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE TRIGGER freshtoken_delivery_accounts_update AFTER UPDATE OF {ACCOUNT_COLUMNS} ON accounts
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.id); END;
CREATE TRIGGER freshtoken_delivery_accounts_delete AFTER DELETE ON accounts
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (OLD.id); END;
CREATE TRIGGER freshtoken_delivery_tokens_insert AFTER INSERT ON tokens
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.account_id); END;
CREATE TRIGGER freshtoken_delivery_tokens_update AFTER UPDATE ON tokens
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.account_id); END;
CREATE TRIGGER freshtoken_delivery_tokens_delete AFTER DELETE ON tokens
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (OLD.account_id); END;
CREATE TRIGGER freshtoken_delivery_media_insert AFTER INSERT ON account_media
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.account_id); END;
CREATE TRIGGER freshtoken_delivery_media_update AFTER UPDATE ON account_media
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (NEW.account_id); END;
CREATE TRIGGER freshtoken_delivery_media_delete AFTER DELETE ON account_media
    BEGIN INSERT INTO delivery_changes (account_id) VALUES (OLD.account_id); END;
CREATE TRIGGER freshtoken_delivery_tenants AFTER UPDATE OF disabled_at ON tenants
    BEGIN INSERT INTO delivery_changes (account_id) SELECT id FROM accounts WHERE tenant_id = NEW.id; END;
"#;

const SQLITE_DOWN: &str = r#"
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts_update;
DROP TRIGGER IF EXISTS freshtoken_delivery_accounts_delete;
DROP TRIGGER IF EXISTS freshtoken_delivery_tokens_insert;
DROP TRIGGER IF EXISTS freshtoken_delivery_tokens_update;
DROP TRIGGER IF EXISTS freshtoken_delivery_tokens_delete;
DROP TRIGGER IF EXISTS freshtoken_delivery_media_insert;
DROP TRIGGER IF EXISTS freshtoken_delivery_media_update;
DROP TRIGGER IF EXISTS freshtoken_delivery_media_delete;
DROP TRIGGER IF EXISTS freshtoken_delivery_tenants;
DROP TABLE IF EXISTS delivery_changes;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let triggers = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        db.execute_unprepared(&triggers.replace("{ACCOUNT_COLUMNS}", ACCOUNT_COLUMNS))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountRequestCounts::Table)
                    .if_not_exists()
                    .col(big_integer(AccountRequestCounts::AccountId))
                    // The UTC day, `YYYY-MM-DD`.
                    .col(string_len(AccountRequestCounts::Day, 10))
                    .col(big_integer(AccountRequestCounts::Served).default(0))
                    .col(big_integer(AccountRequestCounts::Refused).default(0))
                    .primary_key(
                        Index::create()
                            .col(AccountRequestCounts::AccountId)
                            .col(AccountRequestCounts::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AccountRequestCounts::Table, AccountRequestCounts::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AccountRequestCounts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        let triggers = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        manager
            .get_connection()
            .execute_unprepared(triggers)
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AccountRequestCounts {
    Table,
    AccountId,
    Day,
    Served,
    Refused,
}
