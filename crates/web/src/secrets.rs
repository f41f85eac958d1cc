//! Secrets we hand out and the hashes we keep of them. Invitation links, API keys, OAuth
//! states and Facebook-login handles are [`random_secret`]s shown once; the database holds only
//! their [`sha256_hex`], as it does for session ids, so that a read of it gives no one a live
//! secret. The same hash names the token URLs' cached bodies (their ETags).

use sha2::{Digest, Sha256};

/// 24 random bytes as URL-safe base64: secrets for invitation links and API keys.
pub(crate) fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
