//! Webhook signing secrets sealed like tokens: `secret_ciphertext`, `secret_nonce` and
//! `secret_key_id` on `webhooks`, AES-256-GCM under the instance key and bound to the row.
//!
//! A migration cannot seal: the key is not the schema's. So this one only adds the columns, and
//! `Store::migrate` (which runs it, holding the key) seals every secret still in the old
//! `secret` column and empties that column, in the same transaction. `secret` stays because
//! SQLite cannot drop a column of a table others refer to without rebuilding it; it holds
//! nothing but `''` from then on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            blob_null(Webhooks::SecretCiphertext),
            blob_null(Webhooks::SecretNonce),
            string_null(Webhooks::SecretKeyId),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Going back loses the secrets: the old schema kept them in plain.
        for column in [
            Webhooks::SecretKeyId,
            Webhooks::SecretNonce,
            Webhooks::SecretCiphertext,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Webhooks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    SecretCiphertext,
    SecretNonce,
    SecretKeyId,
}
