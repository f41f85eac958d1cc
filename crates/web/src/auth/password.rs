//! Passwords: argon2id with OWASP's current minimum (19 MiB, 2 passes, 1 lane), stored as PHC
//! strings so the parameters can be raised later without invalidating old hashes.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;

pub const MIN_LENGTH: usize = freshtoken_core::MIN_PASSWORD_CHARS;
pub const MAX_LENGTH: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of nothing anyone knows, verified against when the e-mail is unknown, so that an
/// unknown address takes as long as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("freshtoken-timing-equaliser").unwrap_or_default());

/// Checks the length rules and returns what is wrong, in words for the person typing.
pub fn check_rules(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!("password must be at least {MIN_LENGTH} characters"));
    }
    if length > MAX_LENGTH {
        return Err(format!("password must be at most {MAX_LENGTH} characters"));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).expect("the operating system has no randomness");
    let salt = SaltString::encode_b64(&salt)?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches `stored`; `None` for `stored` burns the same time and fails.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let target = stored.unwrap_or(DUMMY_HASH.as_str());
    let Ok(parsed) = PasswordHash::new(target) else {
        return false;
    };
    // Parameters come from the PHC string, so hashes made with older settings still verify.
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && stored.is_some()
}

/// How many hashes run at once: one per core. Each takes tens of milliseconds of CPU and
/// 19 MiB; a flood of sign-ins queues here instead of starving everything else of CPU and
/// memory (the blocking pool alone would run up to 512 at once).
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// Runs `work` on the blocking pool, at most [`HASHING`]'s permits at once.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = HASHING.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

/// Hashing is CPU-bound for tens of milliseconds: keep it off the async workers.
pub async fn hash_blocking(password: String) -> Result<String, ApiError> {
    hashing(move || hash(&password))
        .await?
        .map_err(|err| ApiError::Internal(err.to_string().into()))
}

pub async fn verify_blocking(password: String, stored: Option<String>) -> bool {
    hashing(move || verify(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("wrong horse battery", Some(&stored)));
        assert!(!verify("correct horse battery", None));
    }

    #[test]
    fn length_rules_are_explained() {
        assert!(check_rules("short").unwrap_err().contains("at least 10"));
        assert!(
            check_rules(&"x".repeat(1025))
                .unwrap_err()
                .contains("at most 1024")
        );
        assert!(check_rules("long enough!").is_ok());
    }
}
