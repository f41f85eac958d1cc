//! Who may read `/metrics`, as the settings say: the metrics token ([`MetricsToken`], never
//! printed, compared in constant time) and where the metrics are served ([`MetricsAccess`]).
//! The settings hold these before any route exists, so they live apart from the `/metrics`
//! route itself (see [`crate::metrics`]), which checks requests against them.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The secret a scraper sends as `Authorization: Bearer ...`. Never printed.
#[derive(Clone)]
pub struct MetricsToken(String);

impl MetricsToken {
    /// Shortest token accepted: long enough that guessing is hopeless.
    pub const MIN_LENGTH: usize = 32;

    /// A token of at least [`Self::MIN_LENGTH`] visible ASCII characters (it travels in a
    /// header); the error says what is wrong without repeating it.
    pub fn new(secret: &str) -> Result<MetricsToken, String> {
        if secret.len() < Self::MIN_LENGTH {
            return Err(format!(
                "expected at least {} characters (`freshtoken admin generate-key` prints one), got {}",
                Self::MIN_LENGTH,
                secret.len()
            ));
        }
        if !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("expected visible ASCII characters only, without spaces".to_owned());
        }
        Ok(MetricsToken(secret.to_owned()))
    }

    /// Compares digests in constant time, so neither the content nor the length of the token
    /// shows in how long a refusal takes.
    pub(crate) fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let presented = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&presented).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

/// Where `/metrics` is served, and to whom. The default is closed: nowhere on the public
/// listener.
#[derive(Clone, Debug, Default)]
pub struct MetricsAccess {
    /// `/metrics` has a listener of its own: the public one never serves it.
    pub own_listener: bool,
    /// Required wherever `/metrics` answers; with no listener of its own, it opens `/metrics`
    /// on the public listener to requests that bear it.
    pub token: Option<MetricsToken>,
}

impl MetricsAccess {
    /// Whether the public listener serves `/metrics` (to bearers of the token only).
    pub fn on_public_listener(&self) -> bool {
        !self.own_listener && self.token.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_long_visible_ascii_and_never_printed() {
        let secret = "k".repeat(MetricsToken::MIN_LENGTH);
        let token = MetricsToken::new(&secret).unwrap();
        assert!(token.matches(&secret));
        assert!(!token.matches(&secret[1..]));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains(&secret));
        let short = MetricsToken::new("too-short-to-be-safe").unwrap_err();
        assert!(!short.contains("too-short"), "{short}");
        assert!(MetricsToken::new(&format!("{secret} x")).is_err());
    }

    #[test]
    fn closed_by_default_and_on_the_public_listener_only_with_a_token_and_no_listener() {
        let token = MetricsToken::new(&"k".repeat(40)).unwrap();
        assert!(!MetricsAccess::default().on_public_listener());
        let with_token = MetricsAccess {
            own_listener: false,
            token: Some(token.clone()),
        };
        assert!(with_token.on_public_listener());
        let both = MetricsAccess {
            own_listener: true,
            token: Some(token),
        };
        assert!(!both.on_public_listener());
    }
}
