//! Meta's `signed_request`: `base64url(HMAC-SHA256(app secret, payload part)) + "." +
//! base64url(payload JSON)`, as sent to deauthorize and data-deletion callbacks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs `payload` the way Meta does, for tests of our callbacks.
pub fn sign_request(payload: &serde_json::Value, app_secret: &str) -> String {
    let payload_part = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(payload_part.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signature}.{payload_part}")
}
