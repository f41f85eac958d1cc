use freshtoken_core::AccountKind;
use freshtoken_meta::MetaError;
use freshtoken_store::StoreError;

/// Why a connect link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefused {
    NotFound,
    Expired,
    Used,
    Revoked,
}

impl std::fmt::Display for LinkRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkRefused::NotFound => "this link is not valid: it may be mistyped, or was deleted",
            LinkRefused::Expired => "this link has expired",
            LinkRefused::Used => "this link was used already",
            LinkRefused::Revoked => "this link was withdrawn by the workspace",
        })
    }
}

/// Why an account was not connected. Nothing was written in any of these cases: accounts are
/// stored only after Meta has answered every call.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The text is not an access token at all.
    #[error("{0}")]
    NotAToken(&'static str),
    /// The operator has not set up this platform's app, which this needs.
    #[error("{} is not set up on this instance: {}", .0.platform(), needs(*.0))]
    NotOffered(AccountKind),
    /// The token's text names one kind and the request another.
    #[error("this is {} token, not {} one", article(.found), article(.asked))]
    KindMismatch {
        found: AccountKind,
        asked: AccountKind,
    },
    /// Meta refused the token: dead, revoked, or not what it claims.
    #[error("{} refused this token ({message})", .kind.platform())]
    TokenRefused { kind: AccountKind, message: String },
    /// The token is valid but cannot be kept (a Facebook token of another kind, or a Page
    /// token that expires).
    #[error("{0}")]
    Unusable(String),
    /// The login's code was refused: used already, expired, or for another redirect.
    #[error("{} did not accept this sign-in: the code was used already or has expired", .0.platform())]
    CodeRefused(AccountKind),
    /// The person did not grant a permission freshtoken needs.
    #[error("{} did not grant the {permission} permission, which freshtoken needs to read the profile and posts", .kind.platform())]
    MissingPermission {
        kind: AccountKind,
        permission: &'static str,
    },
    /// The user token manages no Page, or not the one asked for.
    #[error("{0}")]
    NoSuchPage(String),
    /// A reconnect link's login was someone else's: it reconnects only its own account.
    #[error("this link reconnects {expected} only, and the {} login was another account's", .kind.platform())]
    WrongAccount { kind: AccountKind, expected: String },
    /// A link that cannot be made as asked.
    #[error("{0}")]
    InvalidLink(String),
    /// The connect link cannot be used: it expired, was used already, was revoked, or never
    /// existed.
    #[error("{0}")]
    LinkRefused(LinkRefused),
    /// The platform refused this instance's own app credentials (a wrong app secret): the
    /// operator's to fix, not the person's.
    #[error("{} refused this instance's app credentials: the operator checks {}", .0.platform(), app_variables(*.0))]
    AppRefused(AccountKind),
    /// Meta could not be asked now (an outage, a rate limit): try again later.
    #[error("{} did not answer properly: {error}", .kind.platform())]
    Unavailable { kind: AccountKind, error: MetaError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn article(kind: &AccountKind) -> String {
    match kind {
        AccountKind::Instagram => "an Instagram".to_owned(),
        AccountKind::FacebookPage => "a Facebook".to_owned(),
        AccountKind::Threads => "a Threads".to_owned(),
    }
}

fn app_variables(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Instagram => {
            "FRESHTOKEN_INSTAGRAM_CLIENT_ID and FRESHTOKEN_INSTAGRAM_CLIENT_SECRET"
        }
        AccountKind::FacebookPage => {
            "FRESHTOKEN_FACEBOOK_APP_ID and FRESHTOKEN_FACEBOOK_APP_SECRET"
        }
        AccountKind::Threads => "FRESHTOKEN_THREADS_CLIENT_ID and FRESHTOKEN_THREADS_CLIENT_SECRET",
    }
}

fn needs(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Instagram => {
            "the operator sets FRESHTOKEN_INSTAGRAM_CLIENT_ID and FRESHTOKEN_INSTAGRAM_CLIENT_SECRET (docs/instagram-app.md)"
        }
        AccountKind::FacebookPage => {
            "the operator sets FRESHTOKEN_FACEBOOK_APP_ID and FRESHTOKEN_FACEBOOK_APP_SECRET (docs/instagram-app.md)"
        }
        AccountKind::Threads => {
            "the operator sets FRESHTOKEN_THREADS_CLIENT_ID and FRESHTOKEN_THREADS_CLIENT_SECRET (docs/instagram-app.md)"
        }
    }
}

impl ConnectError {
    /// What a failed call to Meta means here: a refusal is about the token (or the login);
    /// anything else is Meta's trouble, and worth trying again.
    pub(crate) fn meta(kind: AccountKind, error: MetaError) -> ConnectError {
        match error {
            MetaError::Revoked { message, .. } | MetaError::Rejected { message, .. } => {
                ConnectError::TokenRefused { kind, message }
            }
            other => ConnectError::Unavailable { kind, error: other },
        }
    }
}
