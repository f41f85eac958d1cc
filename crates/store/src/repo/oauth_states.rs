use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::Store;
use crate::entity::oauth_state;
use crate::error::StoreError;

/// Who a round trip is for: a signed-in person, or whoever holds a connect link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartedBy {
    Member {
        user_id: i64,
        /// SHA-256 of the session id that started the round trip.
        session_sha256: String,
    },
    /// The holder of a connect link, in the browser that pressed its button (the SHA-256 of
    /// that browser's link cookie), so that nobody else can finish the round trip.
    Link {
        connect_link_id: i64,
        browser_sha256: String,
    },
}

/// A "Connect" round trip in flight: who started it (and from which session), for which
/// tenant, and where to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthState {
    pub started_by: StartedBy,
    pub tenant_id: i64,
    /// A path on our own site.
    pub return_to: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl StartedBy {
    pub(crate) fn from_columns(
        user_id: Option<i64>,
        session_sha256: Option<String>,
        connect_link_id: Option<i64>,
    ) -> Result<StartedBy, StoreError> {
        match (user_id, session_sha256, connect_link_id) {
            (Some(user_id), Some(session_sha256), None) => Ok(StartedBy::Member {
                user_id,
                session_sha256,
            }),
            (None, Some(browser_sha256), Some(connect_link_id)) => Ok(StartedBy::Link {
                connect_link_id,
                browser_sha256,
            }),
            _ => Err(StoreError::Corrupt(
                "a round trip is neither a member's nor a link's".into(),
            )),
        }
    }

    /// The user, session and link columns.
    pub(crate) fn columns(&self) -> (Option<i64>, Option<String>, Option<i64>) {
        match self {
            StartedBy::Member {
                user_id,
                session_sha256,
            } => (Some(*user_id), Some(session_sha256.clone()), None),
            StartedBy::Link {
                connect_link_id,
                browser_sha256,
            } => (None, Some(browser_sha256.clone()), Some(*connect_link_id)),
        }
    }
}

impl TryFrom<oauth_state::Model> for OauthState {
    type Error = StoreError;

    fn try_from(row: oauth_state::Model) -> Result<Self, StoreError> {
        Ok(OauthState {
            started_by: StartedBy::from_columns(
                row.user_id,
                row.session_sha256,
                row.connect_link_id,
            )?,
            tenant_id: row.tenant_id,
            return_to: row.return_to,
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

pub struct OauthStates<'a> {
    store: &'a Store,
}

impl<'a> OauthStates<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        OauthStates { store }
    }

    /// Records a round trip under the SHA-256 of its `state`; the state itself is only ever in
    /// the redirect. Expired ones are swept on the way, so abandoned attempts do not pile up.
    pub async fn create(&self, state_sha256: &str, pending: &OauthState) -> Result<(), StoreError> {
        self.delete_expired(Utc::now()).await?;
        let (user_id, session_sha256, connect_link_id) = pending.started_by.columns();
        oauth_state::Entity::insert(oauth_state::ActiveModel {
            state_sha256: Set(state_sha256.to_owned()),
            user_id: Set(user_id),
            session_sha256: Set(session_sha256),
            connect_link_id: Set(connect_link_id),
            tenant_id: Set(pending.tenant_id),
            return_to: Set(pending.return_to.clone()),
            created_at: Set(pending.created_at),
            expires_at: Set(pending.expires_at),
        })
        .exec_without_returning(&self.store.db)
        .await?;
        Ok(())
    }

    /// Removes the round trip and returns it; `None` if there is none, or if another request
    /// took it first, so a state is honoured at most once even when replayed concurrently.
    /// Whether it has expired is the caller's to judge.
    pub async fn take(&self, state_sha256: &str) -> Result<Option<OauthState>, StoreError> {
        let Some(row) = oauth_state::Entity::find_by_id(state_sha256.to_owned())
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = oauth_state::Entity::delete_by_id(state_sha256.to_owned())
            .exec(&self.store.db)
            .await?;
        if deleted.rows_affected != 1 {
            return Ok(None);
        }
        OauthState::try_from(row).map(Some)
    }

    pub async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::ExpiresAt.lt(now))
            .exec(&self.store.db)
            .await?
            .rows_affected)
    }
}
