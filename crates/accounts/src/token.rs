//! A pasted token's text: is it one, and which kind does it say it is.

use freshtoken_core::{AccessToken, AccountKind};

use crate::ConnectError;

/// Meta's tokens are a few hundred characters; anything far longer is not one.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Reads a pasted token: trimmed, one word of printable ASCII.
pub fn parse_token(text: &str) -> Result<AccessToken, ConnectError> {
    let token = text.trim();
    if token.is_empty() {
        return Err(ConnectError::NotAToken(
            "token is empty: paste an access token",
        ));
    }
    if token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectError::NotAToken(
            "this is not an access token: a token is one word of letters, digits and punctuation",
        ));
    }
    Ok(AccessToken::new(token))
}

/// The kind to connect: what the token's text says, else what was asked, else Instagram (what
/// every token was before there were kinds). A token that says one kind while another is asked
/// for is refused rather than guessed at.
pub(crate) fn kind_of(
    token: &AccessToken,
    asked: Option<AccountKind>,
) -> Result<AccountKind, ConnectError> {
    match (AccountKind::from_token_prefix(token.expose()), asked) {
        (Some(found), Some(asked)) if found != asked => {
            Err(ConnectError::KindMismatch { found, asked })
        }
        (Some(kind), _) | (None, Some(kind)) => Ok(kind),
        (None, None) => Ok(AccountKind::Instagram),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_says_its_kind_and_a_contradicting_request_is_refused() {
        let kind = |text: &str, asked| kind_of(&AccessToken::new(text), asked);
        assert_eq!(kind("IGAAabc", None).unwrap(), AccountKind::Instagram);
        assert_eq!(kind("THAAabc", None).unwrap(), AccountKind::Threads);
        assert_eq!(kind("EAAabc", None).unwrap(), AccountKind::FacebookPage);
        assert_eq!(
            kind("opaque", Some(AccountKind::Threads)).unwrap(),
            AccountKind::Threads
        );
        assert_eq!(kind("opaque", None).unwrap(), AccountKind::Instagram);
        let err = kind("THAAabc", Some(AccountKind::Instagram)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this is a Threads token, not an Instagram one"
        );
    }

    #[test]
    fn only_one_word_of_printable_ascii_is_a_token() {
        assert!(parse_token("  IGAAabc \n").is_ok());
        for not_a_token in ["", "   ", "IGAA abc", "IGAA\u{7f}", "jeton-été"] {
            assert!(parse_token(not_a_token).is_err(), "{not_a_token:?}");
        }
        assert!(parse_token(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
