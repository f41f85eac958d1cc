//! The schema of freshtoken: one set of sea-orm migrations for SQLite and PostgreSQL alike.
//!
//! Migrations are append-only. Never edit one that has shipped; add a new one and list it last
//! in [`Migrator::migrations`]. Running the migrator twice is harmless: applied migrations are
//! recorded in `seaql_migrations` and skipped.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_invites;
mod m20261122_000003_connect;
mod m20261123_000004_refresh_engine;
mod m20261201_000005_delivery;
mod m20261202_000006_origin_lock;
mod m20261202_000007_webhook_secrets;
mod m20261202_000008_hashed_sessions;
mod m20261204_000009_account_kinds;
mod m20261205_000010_connect_links;
mod m20261206_000011_account_aliases;
mod m20261206_000012_account_leases;
mod m20261206_000013_scheduling_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_invites::Migration),
            Box::new(m20261122_000003_connect::Migration),
            Box::new(m20261123_000004_refresh_engine::Migration),
            Box::new(m20261201_000005_delivery::Migration),
            Box::new(m20261202_000006_origin_lock::Migration),
            Box::new(m20261202_000007_webhook_secrets::Migration),
            Box::new(m20261202_000008_hashed_sessions::Migration),
            Box::new(m20261204_000009_account_kinds::Migration),
            Box::new(m20261205_000010_connect_links::Migration),
            Box::new(m20261206_000011_account_aliases::Migration),
            Box::new(m20261206_000012_account_leases::Migration),
            Box::new(m20261206_000013_scheduling_indexes::Migration),
        ]
    }
}
