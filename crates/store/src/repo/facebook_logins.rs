//! Facebook logins waiting for the person's choice of Pages: at most ten minutes between
//! Facebook's callback and the choice. The user token is sealed like every token, bound to the
//! handle; only the handle's SHA-256 is kept; a login is taken (deleted) once.

use chrono::{DateTime, Utc};
use freshtoken_core::AccessToken;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::oauth_states::StartedBy;
use crate::Store;
use crate::crypto::Sealed;
use crate::entity::facebook_login;
use crate::error::StoreError;

/// A Page offered to choose from: what the picker shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedPage {
    pub id: String,
    pub name: String,
    pub category: Option<String>,
}

/// A Facebook login in flight.
#[derive(Debug, Clone)]
pub struct FacebookLogin {
    /// The signed-in person (and session) who logged in, or the connect link they came by.
    pub started_by: StartedBy,
    pub tenant_id: i64,
    /// A path on our own site, to return to after the choice.
    pub return_to: String,
    pub pages: Vec<OfferedPage>,
    /// The long-lived user token that reads the Pages' tokens.
    pub user_token: AccessToken,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn associated_data(handle_sha256: &str) -> Vec<u8> {
    format!("facebook_login:{handle_sha256}").into_bytes()
}

pub struct FacebookLogins<'a> {
    store: &'a Store,
}

impl<'a> FacebookLogins<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        FacebookLogins { store }
    }

    /// Keeps a login under the SHA-256 of its handle (the handle itself is only in the
    /// browser's address). Expired ones are swept on the way.
    pub async fn create(
        &self,
        handle_sha256: &str,
        login: &FacebookLogin,
    ) -> Result<(), StoreError> {
        self.delete_expired(Utc::now()).await?;
        let sealed = self.store.keys.seal(
            login.user_token.expose().as_bytes(),
            &associated_data(handle_sha256),
        );
        let pages = serde_json::to_string(&login.pages)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let (user_id, session_sha256, connect_link_id) = login.started_by.columns();
        facebook_login::Entity::insert(facebook_login::ActiveModel {
            handle_sha256: Set(handle_sha256.to_owned()),
            user_id: Set(user_id),
            session_sha256: Set(session_sha256),
            connect_link_id: Set(connect_link_id),
            tenant_id: Set(login.tenant_id),
            return_to: Set(login.return_to.clone()),
            pages: Set(pages),
            ciphertext: Set(sealed.ciphertext),
            nonce: Set(sealed.nonce),
            key_id: Set(sealed.key_id),
            created_at: Set(login.created_at),
            expires_at: Set(login.expires_at),
        })
        .exec_without_returning(&self.store.db)
        .await?;
        Ok(())
    }

    /// The login, left in place (to show its Pages); `None` if there is none.
    pub async fn get(&self, handle_sha256: &str) -> Result<Option<FacebookLogin>, StoreError> {
        facebook_login::Entity::find_by_id(handle_sha256.to_owned())
            .one(&self.store.db)
            .await?
            .map(|row| self.open(row))
            .transpose()
    }

    /// Removes the login and returns it; `None` if there is none or another request took it
    /// first, so a login connects Pages at most once. Expiry is the caller's to judge.
    pub async fn take(&self, handle_sha256: &str) -> Result<Option<FacebookLogin>, StoreError> {
        let Some(row) = facebook_login::Entity::find_by_id(handle_sha256.to_owned())
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = facebook_login::Entity::delete_by_id(handle_sha256.to_owned())
            .exec(&self.store.db)
            .await?;
        if deleted.rows_affected != 1 {
            return Ok(None);
        }
        self.open(row).map(Some)
    }

    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(facebook_login::Entity::delete_many()
            .filter(facebook_login::Column::ExpiresAt.lt(now))
            .exec(&self.store.db)
            .await?
            .rows_affected)
    }

    fn open(&self, row: facebook_login::Model) -> Result<FacebookLogin, StoreError> {
        let sealed = Sealed {
            ciphertext: row.ciphertext,
            nonce: row.nonce,
            key_id: row.key_id,
        };
        let plaintext = self
            .store
            .keys
            .open(&sealed, &associated_data(&row.handle_sha256))?;
        let user_token = String::from_utf8(plaintext.to_vec())
            .map_err(|_| StoreError::Corrupt("a Facebook login's token is not text".into()))?;
        let pages = serde_json::from_str(&row.pages)
            .map_err(|err| StoreError::Corrupt(format!("a Facebook login's pages: {err}")))?;
        Ok(FacebookLogin {
            started_by: StartedBy::from_columns(
                row.user_id,
                row.session_sha256,
                row.connect_link_id,
            )?,
            tenant_id: row.tenant_id,
            return_to: row.return_to,
            pages,
            user_token: AccessToken::new(user_token),
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}
