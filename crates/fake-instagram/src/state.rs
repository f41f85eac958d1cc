//! The fake's world: users, tokens, codes, a clock, faults, rate-limit counters and the call
//! log. Plain data behind one mutex; handlers lock, read or change, and unlock before any await.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

pub const SHORT_LIVED_SECS: i64 = 3600;
pub const LONG_LIVED_SECS: i64 = 60 * 24 * 3600;
pub const MIN_REFRESH_AGE_SECS: i64 = 24 * 3600;
pub const CODE_LIFETIME_SECS: i64 = 3600;
/// What Instagram answers in `expires_in` for a fresh long-lived token (a little under 60 days).
pub const LONG_LIVED_EXPIRES_IN: i64 = 5_183_944;

#[derive(Debug, Clone)]
pub struct Media {
    pub id: String,
    pub caption: Option<String>,
    pub media_type: &'static str,
    /// A path on the fake (`/cdn/...`); answers put the picture address before it.
    pub media_url: String,
    pub thumbnail_url: Option<String>,
    pub permalink: String,
    pub timestamp: String,
}

#[derive(Debug, Clone)]
pub struct User {
    /// The Instagram-scoped id: what code exchange calls `user_id` and `/me` calls `id`.
    pub id: u64,
    /// The professional-account id (`/me`'s `user_id`, `1784...`).
    pub professional_id: String,
    pub username: String,
    pub name: String,
    pub account_type: &'static str,
    pub media: Vec<Media>,
    /// The Facebook user and page that manage this account (Facebook Login for Business).
    pub facebook_user_id: String,
    /// The Page linked to this Instagram account (named `"<username> page"`).
    pub page_id: String,
    /// More Pages the Facebook user manages, with no Instagram account linked: `(id, name)`.
    pub extra_pages: Vec<(String, String)>,
    /// The same person's Threads profile id (a number above 2^53, like Instagram's).
    pub threads_id: u64,
    /// The profile picture's path on the fake (`/cdn/...`), for Instagram and Threads alike.
    pub picture: String,
}

/// Which platform a login, a code or a token belongs to. One fake answers all three on one
/// address and tells them apart by token prefix and grant type, as their paths overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Instagram,
    Threads,
    Facebook,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Instagram => "Instagram",
            Platform::Threads => "Threads",
            Platform::Facebook => "Facebook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Instagram Login's hour-long token.
    ShortLived,
    /// Instagram Login's 60-day token.
    LongLived,
    ThreadsShort,
    ThreadsLong,
    FacebookShort,
    FacebookLong,
    /// A Facebook Page token: never expires.
    Page,
}

impl TokenKind {
    pub fn platform(self) -> Platform {
        match self {
            TokenKind::ShortLived | TokenKind::LongLived => Platform::Instagram,
            TokenKind::ThreadsShort | TokenKind::ThreadsLong => Platform::Threads,
            TokenKind::FacebookShort | TokenKind::FacebookLong | TokenKind::Page => {
                Platform::Facebook
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub username: String,
    pub kind: TokenKind,
    pub issued_at: DateTime<Utc>,
    /// `None`: never expires (page tokens).
    pub expires_at: Option<DateTime<Utc>>,
    /// Set when the token was invalidated: the 190 subcode it answers with.
    pub revoked: Option<u32>,
    /// The Page a Page token belongs to.
    pub page_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Code {
    pub platform: Platform,
    pub username: String,
    pub redirect_uri: String,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

/// What a fault makes the next matching calls do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    /// HTTP 500 with a Graph error of code 1 (unknown error).
    ServerError,
    /// HTTP 502 with an HTML page, as a load balancer answers during outages.
    Html,
    /// HTTP 200 with an empty body.
    Empty,
    /// Answers normally after waiting this long.
    Delay { ms: u64 },
    /// Closes the connection without a complete answer.
    Reset,
    /// A 190 OAuthException with this subcode (463 expired, 460 password changed, ...).
    Revoked { subcode: u32 },
    /// A throttling error with this code (4 app, 17 user, 32 page, 613 custom) and usage headers.
    RateLimit { code: u32, regain_minutes: u32 },
    /// A Graph error with any code, e.g. 100 invalid parameter.
    Error { code: u32, message: String },
}

/// Which calls a fault applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct FaultMatch {
    /// Calls made with a token of this user (or, for code exchange, a code of this user).
    #[serde(default)]
    pub username: Option<String>,
    /// Calls made with this exact token.
    #[serde(default)]
    pub access_token: Option<String>,
    /// Calls to paths ending with this (e.g. `refresh_access_token`), with or without a
    /// leading slash.
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(rename = "match")]
    pub matching: FaultMatch,
    pub remaining: u32,
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// One recorded call. Tokens are never recorded, only whose they were.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub method: String,
    pub path: String,
    /// Query and form parameters, with secrets (`access_token`, `client_secret`, `code`,
    /// `fb_exchange_token`, `input_token`) replaced by `<redacted>`.
    pub params: HashMap<String, String>,
    /// The user whose token or code the call carried, if known.
    pub username: Option<String>,
    pub status: u16,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default, serde::Deserialize, Serialize)]
pub struct RateLimits {
    /// Calls per user within a rolling hour; `None` is unlimited.
    pub per_user_per_hour: Option<u32>,
    /// Calls per app within a rolling hour; `None` is unlimited.
    pub per_app_per_hour: Option<u32>,
}

#[derive(Debug, Default)]
pub struct State {
    pub clock_offset: Duration,
    pub users: HashMap<String, User>,
    pub next_user: u64,
    pub tokens: HashMap<String, Token>,
    pub codes: HashMap<String, Code>,
    pub faults: Vec<Fault>,
    pub next_fault: u64,
    pub calls: Vec<Call>,
    pub rate_limits: RateLimits,
    /// Times of recent Graph calls, per user and for the app, for the rolling-hour limits.
    pub user_calls: HashMap<String, VecDeque<DateTime<Utc>>>,
    pub app_calls: VecDeque<DateTime<Utc>>,
    /// Auto-approve the consent page as this user (non-interactive tests).
    pub auto_approve: Option<String>,
    /// Answer code exchange in the documented `{"data": [...]}` shape instead of the flat one.
    pub documented_code_shape: bool,
    /// Whether a refresh returns a new token string (true) or the same one with a new expiry.
    pub refresh_rotates_token: bool,
}

/// Random URL-safe characters (for tokens and codes).
pub fn random_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::getrandom(&mut bytes).expect("the operating system has no randomness");
    bytes
        .iter()
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect()
}

impl State {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// The user with this name, created (with a few posts) if new.
    pub fn user(&mut self, username: &str) -> &User {
        if !self.users.contains_key(username) {
            self.next_user += 1;
            let n = self.next_user;
            // Above 2^53 like real ids, so a client parsing them as f64 would lose digits.
            let id = 27_640_875_392_278_800 + n;
            let media = (1..=3u64)
                .map(|m| {
                    let id = format!("{}{m:02}", 18_000_000_000_000_000u64 + n * 100);
                    let video = m == 2;
                    // Paths on the fake (`/cdn/`), answered under its picture address.
                    let photo = ((n - 1) * 3 + m - 1) % crate::pictures::PHOTOS + 1;
                    Media {
                        caption: Some(format!("Post {m} by {username}")),
                        media_type: if video { "VIDEO" } else { "IMAGE" },
                        media_url: if video {
                            format!("/cdn/{id}.mp4")
                        } else {
                            format!("/cdn/post-{photo}.jpg")
                        },
                        thumbnail_url: video.then(|| crate::pictures::VIDEO_THUMBNAIL.to_owned()),
                        permalink: format!("https://www.instagram.com/p/{}/", random_string(11)),
                        timestamp: format!("2026-0{m}-02T03:04:05+0000"),
                        id,
                    }
                })
                .collect();
            self.users.insert(
                username.to_owned(),
                User {
                    id,
                    professional_id: format!("178414{:011}", n),
                    username: username.to_owned(),
                    name: format!("{username} (fake)"),
                    account_type: "BUSINESS",
                    media,
                    facebook_user_id: format!("10{:013}", n),
                    page_id: format!("11{:013}", n),
                    extra_pages: Vec::new(),
                    threads_id: 25_840_000_000_000_000 + n,
                    picture: format!("/cdn/avatar-{}.jpg", (n - 1) % crate::pictures::AVATARS + 1),
                },
            );
        }
        &self.users[username]
    }

    pub fn issue_token(
        &mut self,
        username: &str,
        kind: TokenKind,
        issued_at: DateTime<Utc>,
    ) -> (String, Token) {
        self.user(username);
        let (prefix, lifetime) = match kind {
            TokenKind::ShortLived => ("IGAA", Some(SHORT_LIVED_SECS)),
            TokenKind::LongLived => ("IGAA", Some(LONG_LIVED_SECS)),
            TokenKind::ThreadsShort => ("THAA", Some(SHORT_LIVED_SECS)),
            TokenKind::ThreadsLong => ("THAA", Some(LONG_LIVED_SECS)),
            TokenKind::FacebookShort => ("EAA", Some(SHORT_LIVED_SECS)),
            TokenKind::FacebookLong => ("EAA", Some(LONG_LIVED_SECS)),
            TokenKind::Page => ("EAA", None),
        };
        let value = format!(
            "{prefix}{}",
            random_string(if prefix == "EAA" { 120 } else { 150 })
        );
        let token = Token {
            username: username.to_owned(),
            kind,
            issued_at,
            expires_at: lifetime.map(|secs| issued_at + Duration::seconds(secs)),
            revoked: None,
            page_id: None,
        };
        self.tokens.insert(value.clone(), token.clone());
        (value, token)
    }

    /// A Page token for one of the user's Pages: it never expires.
    pub fn issue_page_token(
        &mut self,
        username: &str,
        page_id: &str,
        issued_at: DateTime<Utc>,
    ) -> String {
        let (value, _) = self.issue_token(username, TokenKind::Page, issued_at);
        if let Some(token) = self.tokens.get_mut(&value) {
            token.page_id = Some(page_id.to_owned());
        }
        value
    }

    /// Gives the user's Facebook account one more Page, with no Instagram account linked;
    /// returns its id.
    pub fn add_page(&mut self, username: &str, name: &str) -> String {
        let user = self.user(username).clone();
        let id = format!("12{:06}{:07}", user.extra_pages.len(), user.id % 10_000_000);
        if let Some(user) = self.users.get_mut(username) {
            user.extra_pages.push((id.clone(), name.to_owned()));
        }
        id
    }

    /// Every Page the user manages, `(id, name, linked Instagram account)`, the linked one
    /// first.
    pub fn pages_of(&mut self, username: &str) -> Vec<(String, String, Option<String>)> {
        let user = self.user(username);
        let mut pages = vec![(
            user.page_id.clone(),
            format!("{} page", user.username),
            Some(user.professional_id.clone()),
        )];
        pages.extend(
            user.extra_pages
                .iter()
                .map(|(id, name)| (id.clone(), name.clone(), None)),
        );
        pages
    }

    /// Takes one use of the first fault matching this call, if any.
    pub fn take_fault(
        &mut self,
        path: &str,
        token: Option<&str>,
        username: Option<&str>,
    ) -> Option<FaultKind> {
        let position = self.faults.iter().position(|fault| {
            let m = &fault.matching;
            m.username.as_deref().is_none_or(|u| Some(u) == username)
                && m.access_token.as_deref().is_none_or(|t| Some(t) == token)
                && m.path.as_deref().is_none_or(|p| path_matches(path, p))
        })?;
        let fault = &mut self.faults[position];
        fault.remaining = fault.remaining.saturating_sub(1);
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            self.faults.remove(position);
        }
        Some(kind)
    }

    /// Counts a Graph call against the rolling-hour limits; returns the limit it broke, if any,
    /// with the app's and the user's usage in percent.
    pub fn count_call(&mut self, username: Option<&str>) -> (Option<u32>, u32, u32) {
        let now = self.now();
        let hour_ago = now - Duration::hours(1);
        while self.app_calls.front().is_some_and(|at| *at < hour_ago) {
            self.app_calls.pop_front();
        }
        self.app_calls.push_back(now);
        let app_count = self.app_calls.len() as u32;
        let user_count = match username {
            Some(username) => {
                let calls = self.user_calls.entry(username.to_owned()).or_default();
                while calls.front().is_some_and(|at| *at < hour_ago) {
                    calls.pop_front();
                }
                calls.push_back(now);
                calls.len() as u32
            }
            None => 0,
        };
        let percent = |count: u32, limit: Option<u32>| {
            limit.map_or(0, |limit| (count * 100 / limit.max(1)).min(100))
        };
        let app_percent = percent(app_count, self.rate_limits.per_app_per_hour);
        let user_percent = percent(user_count, self.rate_limits.per_user_per_hour);
        let broken = if self
            .rate_limits
            .per_app_per_hour
            .is_some_and(|limit| app_count > limit)
        {
            Some(4)
        } else if self
            .rate_limits
            .per_user_per_hour
            .is_some_and(|limit| user_count > limit)
        {
            Some(17)
        } else {
            None
        };
        (broken, app_percent, user_percent)
    }
}

/// Parameters that carry secrets and are never kept in the call log.
const SECRET_PARAMS: [&str; 5] = [
    "access_token",
    "client_secret",
    "code",
    "fb_exchange_token",
    "input_token",
];

impl State {
    pub fn record(
        &mut self,
        method: &str,
        path: &str,
        params: &HashMap<String, String>,
        username: Option<&str>,
        status: u16,
    ) {
        let params = params
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_PARAMS.contains(&name.as_str()) {
                    "<redacted>".to_owned()
                } else {
                    value.clone()
                };
                (name.clone(), shown)
            })
            .collect();
        let at = self.now();
        // Bounded, so that a long benchmark cannot grow the fake without limit.
        if self.calls.len() >= 100_000 {
            self.calls.drain(..50_000);
        }
        self.calls.push(Call {
            method: method.to_owned(),
            path: path.to_owned(),
            params,
            username: username.map(str::to_owned),
            status,
            at,
        });
    }
}

/// Whether a call to `path` is one a fault's `match.path` names: the path ends with it, with or
/// without a leading slash on either (Graph routes arrive without one, OAuth's with one, and
/// people write both).
fn path_matches(path: &str, pattern: &str) -> bool {
    path.trim_start_matches('/')
        .ends_with(pattern.trim_start_matches('/'))
}
