//! Meta's `signed_request`, as posted to our deauthorize and data-deletion callbacks:
//! `base64url(signature) "." base64url(payload JSON)`, where the signature is HMAC-SHA256 of
//! the payload part *as sent*, keyed with the app secret.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How old a signed request may be when it reaches us. Meta calls at once; a much older one
/// is a replay of a captured request (which, for data deletion, would delete accounts that
/// were connected again since).
pub const MAX_SIGNED_REQUEST_AGE_SECS: i64 = 24 * 3600;
/// How far ahead of our clock `issued_at` may be, for clocks that differ a little.
const CLOCK_SKEW_SECS: i64 = 300;

/// What a verified request tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The Instagram-scoped id of the user (the `id` of `/me`).
    pub user_id: String,
    pub issued_at: Option<i64>,
}

impl SignedRequest {
    /// Refuses a request issued more than [`MAX_SIGNED_REQUEST_AGE_SECS`] before `now` (unix
    /// seconds) or from the future. One without `issued_at` is accepted: Meta's payloads carry
    /// it, and the signature already vouches for what is there.
    pub fn check_fresh(&self, now: i64) -> Result<(), SignedRequestError> {
        match self.issued_at {
            Some(at)
                if at < now.saturating_sub(MAX_SIGNED_REQUEST_AGE_SECS)
                    || at > now.saturating_add(CLOCK_SKEW_SECS) =>
            {
                Err(SignedRequestError::Stale)
            }
            _ => Ok(()),
        }
    }
}

/// Why a `signed_request` was refused. None of these says anything about the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    #[error("signed_request is malformed: {0}")]
    Malformed(&'static str),
    #[error("signed_request has an invalid signature")]
    BadSignature,
    #[error("signed_request uses the unsupported algorithm {0:?}; expected HMAC-SHA256")]
    UnsupportedAlgorithm(String),
    #[error("signed_request was issued too long ago, or in the future")]
    Stale,
    /// With an empty key anyone could sign: never verify with one.
    #[error("no app secret is configured to verify signed_request with")]
    NoAppSecret,
}

/// Meta's examples strip the padding; tolerate it anyway.
fn decode(part: &str) -> Option<Vec<u8>> {
    if part.ends_with('=') {
        URL_SAFE.decode(part).ok()
    } else {
        URL_SAFE_NO_PAD.decode(part).ok()
    }
}

/// Checks the signature (in constant time) before reading anything of the payload, then
/// requires the HMAC-SHA256 algorithm and a user id.
pub fn verify_signed_request(
    signed_request: &str,
    app_secret: &str,
) -> Result<SignedRequest, SignedRequestError> {
    if app_secret.is_empty() {
        return Err(SignedRequestError::NoAppSecret);
    }
    let (signature_part, payload_part) = signed_request
        .trim()
        .split_once('.')
        .ok_or(SignedRequestError::Malformed("expected signature.payload"))?;
    let signature = decode(signature_part).ok_or(SignedRequestError::Malformed(
        "the signature is not base64url",
    ))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .map_err(|_| SignedRequestError::BadSignature)?;
    mac.update(payload_part.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| SignedRequestError::BadSignature)?;

    let payload = decode(payload_part).ok_or(SignedRequestError::Malformed(
        "the payload is not base64url",
    ))?;
    let payload: Value = serde_json::from_slice(&payload)
        .map_err(|_| SignedRequestError::Malformed("the payload is not JSON"))?;
    let algorithm = payload
        .get("algorithm")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(SignedRequestError::UnsupportedAlgorithm(
            algorithm.to_owned(),
        ));
    }
    let user_id = match payload.get("user_id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err(SignedRequestError::Malformed("no user_id")),
    };
    Ok(SignedRequest {
        user_id,
        issued_at: payload.get("issued_at").and_then(Value::as_i64),
    })
}
