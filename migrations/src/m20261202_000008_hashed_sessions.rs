//! Session rows are keyed by the SHA-256 of the session id and hold only the session's data,
//! so that the sessions table names no live cookie.
//!
//! Rows written before kept the id itself (as the key, and again inside the data), and a hash
//! cannot be checked against them without keeping the ids: they are deleted. Everyone signed
//! in signs in again once after the upgrade.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM sessions")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Hashed keys are worthless to the older code: it would find no session by them.
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM sessions")
            .await?;
        Ok(())
    }
}
