use sea_orm::{DbErr, SqlErr};

use crate::crypto::CryptoError;

/// What a uniqueness rule refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Duplicate {
    #[error("a user with this e-mail address already exists")]
    Email,
    #[error("a workspace with this slug already exists")]
    TenantSlug,
    #[error("this user is already a member of the workspace")]
    Membership,
    #[error("this Instagram account is already connected to the workspace")]
    Account,
    #[error("an API key with this prefix already exists")]
    ApiKey,
    #[error("another account already answers at /token/ under this name")]
    Alias,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Nothing matched; also what a tenant gets for another tenant's rows.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Duplicate(Duplicate),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The tenant already has as many accounts as the operator allows.
    #[error("this workspace may connect at most {max} Instagram accounts")]
    AccountLimit { max: u32 },
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] DbErr),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The database did not answer, or answered that it is still starting: worth trying again
    /// in a moment (a container started beside its database), unlike a refused password.
    #[error("cannot reach the database: {0}")]
    Unreachable(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::RecordNotFound(_) => StoreError::NotFound,
            other => StoreError::Database(other),
        }
    }
}

impl From<freshtoken_core::UnknownVariant> for StoreError {
    fn from(err: freshtoken_core::UnknownVariant) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Turns a unique-constraint violation into the typed duplicate the caller expects.
pub(crate) fn duplicate_as(duplicate: Duplicate) -> impl FnOnce(DbErr) -> StoreError {
    move |err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Duplicate(duplicate),
        _ => StoreError::from(err),
    }
}
