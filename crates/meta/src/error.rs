use std::time::Duration;

/// What went wrong, classified by what the caller should do next.
///
/// Messages never contain a token: Meta's own messages do not, and transport errors are
/// stripped of the URL (which carries the token in its query) before they get here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// The token is dead (code 190: expired, password changed, app removed, invalid). Never
    /// retry: the account needs its owner to log in again.
    #[error("the token is no longer valid (190{}): {message}", subcode.map(|s| format!("/{s}")).unwrap_or_default())]
    Revoked {
        subcode: Option<u32>,
        message: String,
    },
    /// Meta asked us to slow down (codes 4, 17, 32, 613, 80002): retry after `retry_after`.
    #[error("rate limited by Meta (code {code}); retry in {} s", retry_after.as_secs())]
    RateLimited { code: u32, retry_after: Duration },
    /// A passing failure (5xx, codes 1 and 2, timeouts, resets, HTML or empty answers): retry
    /// with backoff.
    #[error("Meta is not answering properly: {reason}")]
    Transient { reason: String },
    /// Meta refused the call for another reason (a bad code, a missing permission, an
    /// invalid parameter): retrying will not help; show it to a person.
    #[error("Meta refused the request (code {code}): {message}")]
    Rejected { code: u32, message: String },
}

impl MetaError {
    /// The stable short code recorded with refresh events, e.g. `190/463` or `4`.
    pub fn code(&self) -> String {
        match self {
            MetaError::Revoked {
                subcode: Some(s), ..
            } => format!("190/{s}"),
            MetaError::Revoked { subcode: None, .. } => "190".to_owned(),
            MetaError::RateLimited { code, .. } | MetaError::Rejected { code, .. } => {
                code.to_string()
            }
            MetaError::Transient { .. } => "transient".to_owned(),
        }
    }
}
