//! What the token URLs serve from memory: per account, the ready `token.json` body, its ETag
//! and what the origin lock and the status checks need; per account that has them, the ready
//! `media.json` body.
//!
//! An entry stays until the account changes. Changes made through this process forget it at
//! once ([`DeliveryCache::forget_account`]); changes made anywhere else reach every web process
//! through the store's [`ChangeFeed`] (PostgreSQL's `LISTEN`, or a poll of SQLite's change
//! log every [`SQLITE_POLL`]), which [`follow_changes`] applies. While the feed is down,
//! nothing is cached: every request reads the database, so nothing stale is ever served.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use freshtoken_core::origin::{OriginPattern, is_localhost_origin, parse_allowed_origins};
use freshtoken_core::{AccountKind, AccountStatus};
use freshtoken_store::{Change, ChangeFeed, ScopedAccount, Store, StoreError, TenantAccount};
use tokio::sync::watch;

use crate::secrets::sha256_hex;
use crate::timestamps::rfc3339;

/// How often a web process on SQLite reads the change log.
const SQLITE_POLL: Duration = Duration::from_millis(500);
/// An unknown public id is remembered as unknown this long (ids are random, so one only becomes
/// known by being created, and nobody asks for an id before it exists).
const UNKNOWN_TTL: Duration = Duration::from_secs(5);
/// Unknown ids remembered at most (a scan of random ids must not fill the memory).
const UNKNOWN_MAX: usize = 10_000;
/// How long an account's invalidation is remembered, to refuse caching what a read that began
/// before it found.
const INVALIDATION_MEMORY: Duration = Duration::from_secs(60);

/// Why an account's token URLs refuse to serve, whatever the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    WorkspaceDisabled,
    Paused,
    NeedsReconnect,
}

/// Which browsers may load an account's token (API keys of its workspace always may).
#[derive(Debug, Clone)]
pub struct OriginLock {
    pub patterns: Vec<OriginPattern>,
    pub allow_localhost: bool,
    /// Everyone, header-less requests included: the owner's explicit choice.
    pub public: bool,
}

impl OriginLock {
    /// Whether a page of `origin` may load the token. With no patterns (and not public),
    /// none may: a new account is closed until its owner names a site.
    pub fn allows(&self, origin: &str) -> bool {
        self.public
            || (self.allow_localhost && is_localhost_origin(origin))
            || self.patterns.iter().any(|pattern| pattern.matches(origin))
    }
}

/// Everything serving one account needs, ready. Kept small, as a busy instance holds one per
/// account: the public id, the ETag and the `token.json` body share one allocation.
#[derive(Debug)]
pub struct Ready {
    /// The store's proof that the account (found by its public id) is its tenant's: what
    /// reading its media takes.
    pub proof: TenantAccount,
    pub refusal: Option<Refusal>,
    pub lock: OriginLock,
    pub js_constant: Option<Box<str>>,
    pub kind: AccountKind,
    pub expires_at: Option<DateTime<Utc>>,
    /// The public id, then [`TAG_LEN`] characters of ETag, then `{"token":"...",
    /// "expires_at":"...","kind":"..."}` (nothing when there is no token).
    text: Bytes,
    public_id_len: u16,
    /// The length of the token's JSON string literal, which starts the body's first value.
    literal_len: u16,
}

/// ETags carry 96 bits of the body's SHA-256: enough to tell every token apart.
const TAG_LEN: usize = 24;
const BODY_HEAD: &str = "{\"token\":";

impl Ready {
    pub fn account_id(&self) -> i64 {
        self.proof.account_id()
    }

    pub fn tenant_id(&self) -> i64 {
        self.proof.tenant_id()
    }

    pub fn build(
        public_id: &str,
        account: &ScopedAccount,
        tenant_disabled: bool,
        token: Option<(&str, Option<DateTime<Utc>>)>,
    ) -> Result<Ready, StoreError> {
        let refusal = if tenant_disabled {
            Some(Refusal::WorkspaceDisabled)
        } else {
            match account.status {
                AccountStatus::Paused => Some(Refusal::Paused),
                AccountStatus::NeedsReconnect => Some(Refusal::NeedsReconnect),
                AccountStatus::Active => None,
            }
        };
        let patterns = parse_allowed_origins(&account.allowed_origins)
            .map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let (body, literal_len, expires_at) = match token {
            Some((token, expires_at)) => {
                let literal = serde_json::Value::from(token).to_string();
                let expiry = serde_json::Value::from(expires_at.map(rfc3339));
                let body = format!(
                    "{BODY_HEAD}{literal},\"expires_at\":{expiry},\"kind\":\"{}\"}}",
                    account.kind.as_str()
                );
                (body, literal.len(), expires_at)
            }
            None => (String::new(), 0, None),
        };
        let too_long =
            || StoreError::Corrupt(format!("account {} is too long to serve", account.id));
        let tag = &sha256_hex(&body)[..TAG_LEN];
        Ok(Ready {
            proof: *account.proof(),
            refusal,
            lock: OriginLock {
                patterns,
                allow_localhost: account.allow_localhost,
                public: account.public,
            },
            js_constant: account.js_constant.as_deref().map(Into::into),
            kind: account.kind,
            expires_at,
            // Exactly as long as it must be: one of these is held per account.
            text: Bytes::from(
                format!("{public_id}{tag}{body}")
                    .into_boxed_str()
                    .into_boxed_bytes(),
            ),
            public_id_len: u16::try_from(public_id.len()).map_err(|_| too_long())?,
            literal_len: u16::try_from(literal_len).map_err(|_| too_long())?,
        })
    }

    pub fn public_id(&self) -> &str {
        self.str_at(0..usize::from(self.public_id_len))
    }

    /// Differs whenever the token or its expiry does; the three token bodies derive their
    /// ETags from it.
    pub fn tag(&self) -> &str {
        let start = usize::from(self.public_id_len);
        self.str_at(start..start + TAG_LEN)
    }

    /// `{"token": "...", "expires_at": "...", "kind": "..."}`, empty when there is no token.
    pub fn token_json(&self) -> Bytes {
        self.text.slice(usize::from(self.public_id_len) + TAG_LEN..)
    }

    /// The token as a JSON (and JavaScript) string literal.
    pub fn literal(&self) -> &str {
        let start = usize::from(self.public_id_len) + TAG_LEN + BODY_HEAD.len();
        self.str_at(start..start + usize::from(self.literal_len))
    }

    pub fn has_token(&self) -> bool {
        self.literal_len > 0
    }

    fn str_at(&self, range: Range<usize>) -> &str {
        // Built from whole strings at char boundaries, so this never fails.
        std::str::from_utf8(self.text.get(range).unwrap_or_default()).unwrap_or_default()
    }

    /// Whether shared caches may keep the answers: only when anyone may load them.
    pub fn is_public(&self) -> bool {
        self.lock.public
    }
}

/// An entry of the set of ready answers, found by its public id.
#[derive(Debug)]
struct ByPublicId(Arc<Ready>);

impl PartialEq for ByPublicId {
    fn eq(&self, other: &Self) -> bool {
        self.0.public_id() == other.0.public_id()
    }
}

impl Eq for ByPublicId {}

impl Hash for ByPublicId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that lookups by `&str` find it (see `Borrow`).
        self.0.public_id().hash(state);
    }
}

impl Borrow<str> for ByPublicId {
    fn borrow(&self) -> &str {
        self.0.public_id()
    }
}

/// An account's ready `media.json`: the body and its ETag, or nothing synced yet.
#[derive(Debug)]
pub struct ReadyMedia {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub synced: bool,
}

#[derive(Debug, Default)]
struct Entries {
    by_public_id: HashSet<ByPublicId>,
    by_account: HashMap<i64, Arc<Ready>>,
    media: HashMap<i64, Arc<ReadyMedia>>,
    /// When each account was last forgotten, and when everything was.
    forgotten: HashMap<i64, Instant>,
    all_forgotten: Option<Instant>,
    /// The size of `forgotten` at which old entries are next swept out.
    sweep_forgotten_at: usize,
}

impl Entries {
    /// Whether what a read begun at `began` found may be kept: nothing about the account was
    /// forgotten since (else the read may predate the change).
    fn may_keep(&self, account_id: i64, began: Instant) -> bool {
        began.elapsed() < INVALIDATION_MEMORY
            && self.all_forgotten.is_none_or(|at| at < began)
            && self.forgotten.get(&account_id).is_none_or(|at| *at < began)
    }
}

/// The per-process cache of ready answers by public id.
#[derive(Debug, Default)]
pub struct DeliveryCache {
    entries: RwLock<Entries>,
    unknown: Mutex<HashMap<Box<str>, Instant>>,
    /// Whether changes made elsewhere reach this process; until they do, nothing is kept.
    following: AtomicBool,
}

impl DeliveryCache {
    /// What the cache holds for a public id: `Some(None)` when it is known not to exist.
    pub fn get(&self, public_id: &str) -> Option<Option<Arc<Ready>>> {
        if let Some(ByPublicId(ready)) = self.read().by_public_id.get(public_id) {
            return Some(Some(ready.clone()));
        }
        let unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        unknown
            .get(public_id)
            .filter(|at| at.elapsed() < UNKNOWN_TTL)
            .map(|_| None)
    }

    /// Keeps what a read begun at `began` found, unless the account changed meanwhile.
    pub fn put(&self, ready: &Arc<Ready>, began: Instant) {
        if !self.following.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.write();
        if !entries.may_keep(ready.account_id(), began) {
            return;
        }
        // A rotated public id leaves its old entry behind: drop it.
        if let Some(old) = entries.by_account.insert(ready.account_id(), ready.clone()) {
            entries.by_public_id.remove(old.public_id());
        }
        entries.by_public_id.replace(ByPublicId(ready.clone()));
    }

    pub fn put_unknown(&self, public_id: &str) {
        if !self.following.load(Ordering::Acquire) {
            return;
        }
        let mut unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        if unknown.len() >= UNKNOWN_MAX {
            unknown.retain(|_, at| at.elapsed() < UNKNOWN_TTL);
            if unknown.len() >= UNKNOWN_MAX {
                return;
            }
        }
        unknown.insert(public_id.into(), Instant::now());
    }

    pub fn media(&self, account_id: i64) -> Option<Arc<ReadyMedia>> {
        self.read().media.get(&account_id).cloned()
    }

    pub fn put_media(&self, account_id: i64, media: &Arc<ReadyMedia>, began: Instant) {
        if !self.following.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.write();
        if entries.may_keep(account_id, began) {
            entries.media.insert(account_id, media.clone());
        }
    }

    /// Forgets the account (by id), so that this process reads it afresh: after an edit, a
    /// pause, a rotation, a reconnect, a refresh, a media sync or a delete.
    pub fn forget_account(&self, account_id: i64) {
        let mut entries = self.write();
        if entries.forgotten.len() >= entries.sweep_forgotten_at {
            entries
                .forgotten
                .retain(|_, at| at.elapsed() < INVALIDATION_MEMORY);
            // Sweep again when it has doubled, so that sweeping stays cheap per call.
            entries.sweep_forgotten_at = (entries.forgotten.len() * 2).max(10_000);
        }
        entries.forgotten.insert(account_id, Instant::now());
        if let Some(ready) = entries.by_account.remove(&account_id) {
            entries.by_public_id.remove(ready.public_id());
        }
        entries.media.remove(&account_id);
    }

    /// Forgets everything (after a change that may touch accounts of many workspaces, or when
    /// changes may have been missed).
    pub fn forget_all(&self) {
        let mut entries = self.write();
        let forgotten_at = Instant::now();
        *entries = Entries {
            all_forgotten: Some(forgotten_at),
            ..Entries::default()
        };
        self.unknown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }

    fn set_following(&self, following: bool) {
        if following {
            // What was kept before the feed started may predate changes it never reported.
            self.forget_all();
        }
        self.following.store(following, Ordering::Release);
        if !following {
            self.forget_all();
        }
    }
}

/// Applies the store's change feed to `cache` until `shutdown` says stop; reconnects (with
/// the cache off meanwhile) when the feed fails.
pub async fn follow_changes(
    store: Store,
    cache: Arc<DeliveryCache>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut retry_in = Duration::from_millis(500);
    loop {
        let feed = tokio::select! {
            feed = ChangeFeed::start(&store, SQLITE_POLL) => feed,
            () = super::stop_requested(&mut shutdown) => return,
        };
        let mut feed = match feed {
            Ok(feed) => feed,
            Err(error) => {
                tracing::warn!(%error, "cannot follow changes: token URLs read the database on every request until this works");
                tokio::select! {
                    _ = tokio::time::sleep(retry_in) => {}
                    () = super::stop_requested(&mut shutdown) => return,
                }
                retry_in = (retry_in * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        retry_in = Duration::from_millis(500);
        cache.set_following(true);
        loop {
            let change = tokio::select! {
                change = feed.next() => change,
                () = super::stop_requested(&mut shutdown) => return,
            };
            match change {
                Ok(Change::Accounts(ids)) => {
                    ids.into_iter().for_each(|id| cache.forget_account(id))
                }
                Ok(Change::Unknown) => cache.forget_all(),
                Err(error) => {
                    tracing::warn!(%error, "lost the change feed: token URLs read the database until it is back");
                    cache.set_following(false);
                    break;
                }
            }
        }
    }
}
