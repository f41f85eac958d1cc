//! tower-sessions' `SessionStore` on our own store, so sessions live in the same SQLite or
//! PostgreSQL database as everything else (no second sqlx copy, no extra server).
//!
//! A session's row is keyed by the SHA-256 of its id and holds only its data and expiry, never
//! the id itself: the cookie's value is in no row, so a leaked backup or a read of the table
//! gives no one a live session.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use freshtoken_store::{SessionRecord, Store};
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::caller::SESSION_USER_ID;
use crate::secrets::sha256_hex;

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        DbSessionStore { store }
    }
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// What the row of the session with this id is keyed by.
fn row_key(id: &Id) -> String {
    sha256_hex(&id.to_string())
}

fn to_row(record: &Record) -> session_store::Result<SessionRecord> {
    let expiry = record.expiry_date;
    let expires_at = DateTime::<Utc>::from_timestamp(expiry.unix_timestamp(), expiry.nanosecond())
        .ok_or_else(|| session_store::Error::Encode("expiry out of range".into()))?;
    let data = serde_json::to_vec(&record.data)
        .map_err(|err| session_store::Error::Encode(err.to_string()))?;
    let user_id = record
        .data
        .get(SESSION_USER_ID)
        .and_then(serde_json::Value::as_i64);
    Ok(SessionRecord {
        id: row_key(&record.id),
        user_id,
        data,
        expires_at,
    })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; a collision is all but impossible, but cheap to rule out.
        while self
            .store
            .sessions()
            .load(&row_key(&record.id), Utc::now())
            .await
            .map_err(backend)?
            .is_some()
        {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store
            .sessions()
            .save(&to_row(record)?)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(found) = self
            .store
            .sessions()
            .load(&row_key(id), Utc::now())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_slice(&found.data)
            .map_err(|err| session_store::Error::Decode(err.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(found.expires_at.timestamp())
            .map_err(|err| session_store::Error::Decode(err.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store
            .sessions()
            .delete(&row_key(id))
            .await
            .map_err(backend)
    }
}
