use sea_orm::entity::prelude::*;

/// A Facebook login waiting for the person's choice of Pages; the user token only as
/// ciphertext, bound to the handle.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "facebook_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub handle_sha256: String,
    pub user_id: Option<i64>,
    pub session_sha256: Option<String>,
    pub tenant_id: i64,
    pub return_to: String,
    pub connect_link_id: Option<i64>,
    /// A JSON array of `{"id", "name", "category"}`.
    pub pages: String,
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub key_id: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookLogin")
            .field("tenant_id", &self.tenant_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
