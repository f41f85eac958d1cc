use sea_orm::entity::prelude::*;

/// How many requests an account's token URLs served and refused on one UTC day.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_request_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: i64,
    /// `YYYY-MM-DD`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    pub served: i64,
    pub refused: i64,
    /// Of `refused`, those that carried neither `Origin` nor `Referer`.
    #[serde(default)]
    pub refused_no_origin: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
