use sea_orm::entity::prelude::*;

/// A connect link (or, with `account_id`, a reconnect link): its secret only as a SHA-256, and
/// for reconnect links also sealed, bound to the row's hash.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connect_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    #[sea_orm(unique)]
    pub secret_sha256: String,
    pub kind: String,
    pub account_id: Option<i64>,
    pub ciphertext: Option<Vec<u8>>,
    pub nonce: Option<Vec<u8>>,
    pub key_id: Option<String>,
    pub label: String,
    /// JSON: `{"label", "allowed_origins", "js_constant", "refresh_interval"}`, each optional.
    pub presets: String,
    pub reusable: bool,
    pub uses: i32,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectLink")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("kind", &self.kind)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
