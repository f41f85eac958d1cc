//! Plain domain types of freshtoken, shared by the server crates and the dashboard.
//!
//! This crate does no I/O and pulls in nothing async, so that it keeps compiling to
//! `wasm32-unknown-unknown` for the Leptos dashboard. Each enum has one spelling on the wire
//! and in the database (`as_str` / `FromStr`), so the two can never drift apart.

pub mod api;
pub mod js;
pub mod origin;
pub mod policy;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The first path segments of the dashboard's pages (`/`, `/signin`, `/w/3/team`, ...): the
/// server answers these with the dashboard and every other unknown path with a 404, and the
/// dashboard's router knows no others.
pub const DASHBOARD_SECTIONS: &[&str] = &[
    "",
    "signin",
    "signup",
    "invite",
    "workspaces",
    "w",
    "operator",
];

/// Whether `path` is a page of the dashboard (see [`DASHBOARD_SECTIONS`]).
pub fn is_dashboard_page(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    DASHBOARD_SECTIONS.contains(&first)
}

/// Whether `text` (trimmed) reads as an e-mail address, `ada@example.com`: what the server,
/// the CLI and the dashboard accept for people's addresses.
pub fn is_email_address(text: &str) -> bool {
    let email = text.trim();
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
}

/// The shortest password accepted, checked by the server and, before sending, the dashboard.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A value read from storage or a request that is not one of the known spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Declares a string-backed enum with `as_str`, `Display`, `FromStr` and serde in one place.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        // Every spelling is the variant's name in snake_case (a test holds `as_str` to it), so
        // serde and the OpenAPI schema agree with the database.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: value.to_owned() }),
                }
            }
        }
    };
}

string_enum!(
    /// What a member may do inside a tenant.
    Role, "role" {
        /// Everything, including members, API keys and deleting the tenant.
        Owner => "owner",
        /// Connects, edits and refreshes accounts.
        Editor => "editor",
        /// Reads only.
        Viewer => "viewer",
    }
);

impl Role {
    /// Whether this role may change accounts (connect, edit, refresh, delete).
    pub fn can_edit(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }
}

/// What an API key may do. A key holds one or more; a key created without any gets [`Api`],
/// what every key could do before scopes existed.
///
/// [`Api`]: ApiKeyScope::Api
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApiKeyScope {
    /// The JSON API of its workspace, as an editor: accounts, their settings, refreshes.
    #[serde(rename = "api")]
    Api,
    /// The workspace's tokens at the token URLs (`Authorization: Bearer`), whatever the
    /// account's origins, and nothing else: for a static-site build or a backend, so that a
    /// leaked build secret cannot change or delete anything.
    #[serde(rename = "tokens:read")]
    TokensRead,
}

impl ApiKeyScope {
    pub const ALL: &'static [ApiKeyScope] = &[ApiKeyScope::Api, ApiKeyScope::TokensRead];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::Api => "api",
            ApiKeyScope::TokensRead => "tokens:read",
        }
    }
}

impl fmt::Display for ApiKeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiKeyScope {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        ApiKeyScope::ALL
            .iter()
            .copied()
            .find(|scope| scope.as_str() == value)
            .ok_or_else(|| UnknownVariant {
                kind: "API key scope",
                value: value.to_owned(),
            })
    }
}

string_enum!(
    /// Where a connected Instagram account stands.
    AccountStatus, "account status" {
        /// Refreshed on schedule and served.
        Active => "active",
        /// The token is dead (revoked, expired, app removed): only a new login revives it.
        NeedsReconnect => "needs_reconnect",
        /// Kept but neither refreshed nor served, by the tenant's choice.
        Paused => "paused",
    }
);

string_enum!(
    /// How often a healthy token is refreshed; weekly unless the tenant chooses otherwise.
    #[derive(Default)]
    RefreshInterval, "refresh interval" {
        Daily => "daily",
        #[default]
        Weekly => "weekly",
        Monthly => "monthly",
    }
);

impl RefreshInterval {
    /// The nominal length of the interval in seconds, before jitter.
    pub fn seconds(self) -> i64 {
        const DAY: i64 = 24 * 60 * 60;
        match self {
            RefreshInterval::Daily => DAY,
            RefreshInterval::Weekly => 7 * DAY,
            RefreshInterval::Monthly => 30 * DAY,
        }
    }
}

string_enum!(
    /// What an account is, and so whose token it keeps and by which rules (see
    /// [`AccountKind::token_rules`]).
    AccountKind, "account kind" {
        /// An Instagram professional account (Instagram API with Instagram Login).
        Instagram => "instagram",
        /// A Facebook Page, with a Page token read through a long-lived user token.
        FacebookPage => "facebook_page",
        /// A Threads profile.
        Threads => "threads",
    }
);

/// How a kind of token lives, and how freshtoken keeps it alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRules {
    /// Expires after [`policy::LONG_LIVED_SECS`] and can be refreshed once it is
    /// [`policy::MIN_REFRESH_AGE_SECS`] old, for as long again (Instagram and Threads).
    Refreshed,
    /// Never expires, cannot be refreshed, and dies when its user changes a password, loses
    /// the Page or removes the app: checked on a schedule instead (Facebook Page tokens).
    Checked,
}

impl AccountKind {
    pub fn token_rules(self) -> TokenRules {
        match self {
            AccountKind::Instagram | AccountKind::Threads => TokenRules::Refreshed,
            AccountKind::FacebookPage => TokenRules::Checked,
        }
    }

    /// Whether the token is kept alive by refreshing it (else by checking it).
    pub fn is_refreshed(self) -> bool {
        self.token_rules() == TokenRules::Refreshed
    }

    /// The name people know it by: "Instagram", "Facebook Page", "Threads".
    pub fn display_name(self) -> &'static str {
        match self {
            AccountKind::Instagram => "Instagram",
            AccountKind::FacebookPage => "Facebook Page",
            AccountKind::Threads => "Threads",
        }
    }

    /// The platform a person logs in to for it.
    pub fn platform(self) -> &'static str {
        match self {
            AccountKind::Instagram => "Instagram",
            AccountKind::FacebookPage => "Facebook",
            AccountKind::Threads => "Threads",
        }
    }

    /// The constant a `token.js` snippet defines unless the tenant picks another.
    pub fn default_constant(self) -> &'static str {
        match self {
            AccountKind::Instagram => js::DEFAULT_CONSTANT,
            AccountKind::FacebookPage => "FacebookPageToken",
            AccountKind::Threads => "ThreadsToken",
        }
    }

    /// The kind a token's text names, where it names one: Instagram Login tokens start with
    /// `IG`, Threads tokens with `TH`, Facebook tokens (user or Page) with `EAA`.
    pub fn from_token_prefix(token: &str) -> Option<AccountKind> {
        if token.starts_with("IG") {
            Some(AccountKind::Instagram)
        } else if token.starts_with("TH") {
            Some(AccountKind::Threads)
        } else if token.starts_with("EAA") {
            Some(AccountKind::FacebookPage)
        } else {
            None
        }
    }

    /// The spelling on the command line: `facebook-page` (the JSON spelling, with an
    /// underscore, is accepted too).
    pub fn from_cli(text: &str) -> Result<AccountKind, UnknownVariant> {
        text.trim().replace('-', "_").parse()
    }
}

string_enum!(
    /// The result of one refresh attempt, as recorded in `refresh_events`.
    RefreshOutcome, "refresh outcome" {
        /// A new token was stored.
        Refreshed => "refreshed",
        /// A Facebook Page token was checked and still lives (it is never refreshed).
        Checked => "checked",
        /// A passing failure (5xx, timeout, malformed answer): retried with backoff.
        Transient => "transient",
        /// The platform asked us to slow down: retried after the time it named.
        RateLimited => "rate_limited",
        /// The token is dead: the account needs a new login.
        Revoked => "revoked",
        /// The platform refused the call for another reason; surfaced to the tenant.
        Rejected => "rejected",
    }
);

string_enum!(
    /// Who may create an account on this instance.
    SignupMode, "sign-up mode" {
        /// Anyone may sign up.
        Open => "open",
        /// Only with an invitation link to a workspace.
        Invite => "invite",
        /// Nobody: the operator creates users with `freshtoken admin create-user`.
        Closed => "closed",
    }
);

/// Parses a duration such as `90s`, `5m`, `12h` or `7d` (a whole number and one unit).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("expected a duration such as 30s, 5m, 12h or 7d, got {text:?}"))?;
    let seconds = match unit {
        "ms" => return Ok(std::time::Duration::from_millis(number)),
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => {
            return Err(format!(
                "expected a duration such as 30s, 5m, 12h or 7d (units ms, s, m, h, d), got {text:?}"
            ));
        }
    };
    Ok(std::time::Duration::from_secs(seconds))
}

/// An access token in memory. It has no `Display`, and its `Debug` is redacted, so that no log
/// line or error message of ours can carry one by accident: reading it takes `expose()`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(token.into())
    }

    /// The token itself, for the one place that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(<redacted, {} chars>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_pages_are_its_sections_and_nothing_else() {
        for page in [
            "/",
            "/signin",
            "/invite",
            "/w/3",
            "/w/3/accounts/7",
            "/operator",
        ] {
            assert!(is_dashboard_page(page), "{page}");
        }
        for other in [
            "/favicon.ico",
            "/api/v1/me",
            "/t/abc/token.js",
            "/wx",
            "/signin.php",
        ] {
            assert!(!is_dashboard_page(other), "{other}");
        }
    }

    #[test]
    fn every_variant_round_trips_through_its_spelling() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        for status in AccountStatus::ALL {
            assert_eq!(status.as_str().parse::<AccountStatus>(), Ok(*status));
        }
        for interval in RefreshInterval::ALL {
            assert_eq!(interval.as_str().parse::<RefreshInterval>(), Ok(*interval));
        }
        for outcome in RefreshOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<RefreshOutcome>(), Ok(*outcome));
        }
    }

    #[test]
    fn serde_spells_every_variant_as_the_database_does() {
        fn check<T: Serialize + Copy + fmt::Display>(all: &[T]) {
            for value in all {
                assert_eq!(
                    serde_json::to_string(value).unwrap(),
                    format!("\"{value}\"")
                );
            }
        }
        check(Role::ALL);
        check(AccountStatus::ALL);
        check(RefreshInterval::ALL);
        check(AccountKind::ALL);
        check(RefreshOutcome::ALL);
        check(SignupMode::ALL);
    }

    #[test]
    fn unknown_spellings_are_errors_that_name_the_kind() {
        let err = "admin".parse::<Role>().unwrap_err();
        assert_eq!(err.to_string(), "unknown role \"admin\"");
    }

    #[test]
    fn serde_uses_the_same_spelling_as_the_database() {
        let json = serde_json::to_string(&AccountStatus::NeedsReconnect).unwrap();
        assert_eq!(json, "\"needs_reconnect\"");
        let back: AccountStatus = serde_json::from_str(&json).unwrap();
        assert_eq!(back, AccountStatus::NeedsReconnect);
    }

    #[test]
    fn access_tokens_never_show_in_debug_output() {
        let token = AccessToken::new("IGAAsecret123");
        let shown = format!("{token:?} {:?}", Some(&token));
        assert!(!shown.contains("IGAAsecret123"), "{shown}");
        assert_eq!(token.expose(), "IGAAsecret123");
    }

    #[test]
    fn durations_read_like_people_write_them() {
        use std::time::Duration;
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration(" 12h "), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn only_owners_and_editors_edit() {
        assert!(Role::Owner.can_edit());
        assert!(Role::Editor.can_edit());
        assert!(!Role::Viewer.can_edit());
    }
}
