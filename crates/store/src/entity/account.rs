use sea_orm::entity::prelude::*;

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// `instagram`, `facebook_page` or `threads` (exports made before kinds call it `provider`).
    #[serde(alias = "provider")]
    pub kind: String,
    pub provider_user_id: String,
    pub username: String,
    pub label: String,
    pub public_id: String,
    /// A JSON array of origin patterns.
    pub allowed_origins: String,
    pub allow_localhost: bool,
    /// Serves every request, header-less ones included: an explicit choice, never a default.
    #[serde(default)]
    pub is_public: bool,
    pub js_constant: Option<String>,
    pub status: String,
    pub refresh_interval: String,
    pub next_refresh_at: Option<DateTimeUtc>,
    pub last_refresh_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub profile_picture_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub lease_id: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub failure_count: i32,
    pub expiring_notified_at: Option<DateTimeUtc>,
    pub media_synced_at: Option<DateTimeUtc>,
    pub media_requested_at: Option<DateTimeUtc>,
    /// A Facebook Page's linked Instagram professional account, whose posts its media.json serves.
    #[serde(default)]
    pub linked_instagram_id: Option<String>,
    /// The account owner's address (the client), told when the account needs them.
    #[serde(default)]
    pub owner_email: Option<String>,
    #[serde(default)]
    pub owner_unsubscribe_token: Option<String>,
    #[serde(default)]
    pub owner_unsubscribed_at: Option<DateTimeUtc>,
    /// The name an instatokend site knows the account by: `/token/{alias}`. Unique.
    #[serde(default)]
    pub alias: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::token::Entity")]
    Token,
}

impl Related<super::token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Token.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
