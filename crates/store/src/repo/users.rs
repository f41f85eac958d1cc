use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use crate::Store;
use crate::entity::user;
use crate::error::{Duplicate, StoreError, duplicate_as};

pub type User = user::Model;

pub struct NewUser {
    pub email: String,
    /// An argon2id PHC string; the store never sees a password.
    pub password_hash: String,
    pub name: String,
    pub is_operator: bool,
}

pub struct Users<'a> {
    store: &'a Store,
}

/// E-mail addresses are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl<'a> Users<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Users { store }
    }

    pub async fn create(&self, new: NewUser) -> Result<User, StoreError> {
        user::ActiveModel {
            email: Set(normalize_email(&new.email)),
            password_hash: Set(new.password_hash),
            name: Set(new.name),
            is_operator: Set(new.is_operator),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await
        .map_err(duplicate_as(Duplicate::Email))
    }

    pub async fn by_id(&self, id: i64) -> Result<User, StoreError> {
        user::Entity::find_by_id(id)
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(normalize_email(email)))
            .one(&self.store.db)
            .await?)
    }

    pub async fn count(&self) -> Result<u64, StoreError> {
        Ok(user::Entity::find().count(&self.store.db).await?)
    }

    pub async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&self.store.db)
            .await?)
    }

    pub async fn record_login(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.update(id, |user| user.last_login_at = Set(Some(at)))
            .await
    }

    pub async fn set_password_hash(
        &self,
        id: i64,
        password_hash: String,
    ) -> Result<(), StoreError> {
        self.update(id, |user| user.password_hash = Set(password_hash))
            .await
    }

    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        let at = disabled.then(Utc::now);
        self.update(id, |user| user.disabled_at = Set(at)).await
    }

    pub async fn set_operator(&self, id: i64, is_operator: bool) -> Result<(), StoreError> {
        self.update(id, |user| user.is_operator = Set(is_operator))
            .await
    }

    async fn update(
        &self,
        id: i64,
        change: impl FnOnce(&mut user::ActiveModel),
    ) -> Result<(), StoreError> {
        let mut active = user::ActiveModel {
            id: Set(id),
            ..Default::default()
        };
        change(&mut active);
        let result = user::Entity::update_many()
            .set(active)
            .filter(user::Column::Id.eq(id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
