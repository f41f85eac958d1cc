use sea_orm::entity::prelude::*;

#[derive(serde::Serialize, serde::Deserialize, Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub url: String,
    /// Only ever `''`: secrets were kept here in plain before they were sealed into the
    /// columns below (migration 6), and SQLite keeps the column.
    pub secret: String,
    /// The signing secret, sealed under the instance key and bound to this row's id. `None`
    /// only between migrating and sealing, inside one transaction (and in exports made before
    /// secrets were sealed, hence `serde(default)`).
    #[serde(default)]
    pub secret_ciphertext: Option<Vec<u8>>,
    #[serde(default)]
    pub secret_nonce: Option<Vec<u8>>,
    #[serde(default)]
    pub secret_key_id: Option<String>,
    /// A JSON array of event names.
    pub events: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
}

// The signing secret stays out of logs.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("webhook::Model")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
