//! What the token URLs serve from memory: per account, the ready `token.json` body, its ETag
//! and what the origin lock and the status checks need; per account that has them, the ready
//! `media.json` body.
//!
//! An entry stays until the account changes, or until the cache is full and it is the one
//! least worth keeping ([`quick_cache`]'s CLOCK-PRO: recently and often asked-for accounts
//! stay); an account not in memory is read from the database and kept. Changes made through
//! this process forget it at once ([`DeliveryCache::forget_account`]); changes made anywhere
//! else reach every web process through the store's [`ChangeFeed`] (PostgreSQL's `LISTEN`, or
//! a poll of SQLite's change log every [`SQLITE_POLL`]), which [`follow_changes`] applies.
//! While the feed is down, nothing is cached: every request reads the database, so nothing
//! stale is ever served.
//!
//! Why quick_cache: a bounded concurrent cache is infrastructure, and quick_cache is a
//! well-kept one with a small tree (hashbrown, equivalent, foldhash, parking_lot; moka would
//! bring crossbeam, tagptr and a background scheduler). Its reads take a shard's read lock,
//! and it holds our values as they are (an `Arc` each), so a hit costs what a `HashMap` behind
//! an `RwLock` did.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use freshtoken_core::origin::{OriginPattern, is_localhost_origin, parse_allowed_origins};
use freshtoken_core::{AccountKind, AccountStatus};
use freshtoken_store::{Change, ChangeFeed, ScopedAccount, Store, StoreError, TenantAccount};
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter, Weighter};
use tokio::sync::watch;

use crate::secrets::sha256_hex;
use crate::timestamps::rfc3339;

/// How many accounts' answers a process keeps by default: all of them up to this many, the
/// most asked-for beyond. About 0.9 kB each with what goes with them (the bench's figures, in
/// bench/README.md), so that a process stays under 200 MB however many accounts there are.
pub const DEFAULT_CACHE_ENTRIES: usize = 150_000;
/// How many bytes of `media.json` bodies a process keeps (a body is a few to tens of kB).
const MEDIA_CACHE_BYTES: u64 = 32 << 20;
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

/// Everything serving one account needs, ready. Kept small, as a busy instance holds one per
/// account: the public id, the ETag, the allowed origins, the constant's name and the
/// `token.json` body share one allocation, and origins are kept as text (parsed patterns only
/// for wildcards, which text cannot match).
#[derive(Debug)]
pub struct Ready {
    /// The store's proof that the account (found by its public id) is its tenant's: what
    /// reading its media takes.
    proof: TenantAccount,
    pub expires_at: Option<DateTime<Utc>>,
    /// The public id; `token.json`'s ETag (quoted); each exact allowed origin in canonical form
    /// followed by a newline; the constant's name; then `{"token":"...","expires_at":"...",
    /// "kind":"..."}` (nothing when there is no token).
    text: Bytes,
    /// The allowed origins that are wildcards (`https://*.example.com`); none for most.
    wildcards: Box<[OriginPattern]>,
    public_id_len: u16,
    origins_len: u16,
    constant_len: u16,
    /// The length of the token's JSON string literal, which starts the body's first value.
    literal_len: u16,
    pub refusal: Option<Refusal>,
    pub kind: AccountKind,
    has_constant: bool,
    allow_localhost: bool,
    /// Everyone, header-less requests included: the owner's explicit choice.
    public: bool,
}

/// ETags carry 96 bits of the body's SHA-256: enough to tell every token apart.
const TAG_LEN: usize = 24;
/// The ETag as sent, with its quotes.
const QUOTED_TAG_LEN: usize = TAG_LEN + 2;
const BODY_HEAD: &str = "{\"token\":";

impl Ready {
    pub fn account_id(&self) -> i64 {
        self.proof.account_id()
    }

    pub fn tenant_id(&self) -> i64 {
        self.proof.tenant_id()
    }

    pub fn proof(&self) -> &TenantAccount {
        &self.proof
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
        let (wildcards, exact): (Vec<_>, Vec<_>) =
            patterns.into_iter().partition(OriginPattern::is_wildcard);
        let origins: String = exact.iter().map(|pattern| format!("{pattern}\n")).collect();
        let constant = account.js_constant.as_deref().unwrap_or_default();
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
        let length = |text: usize| u16::try_from(text).map_err(|_| too_long());
        let tag = &sha256_hex(&body)[..TAG_LEN];
        Ok(Ready {
            proof: *account.proof(),
            expires_at,
            // Exactly as long as it must be: one of these is held per account.
            text: Bytes::from(
                format!("{public_id}\"{tag}\"{origins}{constant}{body}")
                    .into_boxed_str()
                    .into_boxed_bytes(),
            ),
            wildcards: wildcards.into_boxed_slice(),
            public_id_len: length(public_id.len())?,
            origins_len: length(origins.len())?,
            constant_len: length(constant.len())?,
            literal_len: length(literal_len)?,
            refusal,
            kind: account.kind,
            has_constant: account.js_constant.is_some(),
            allow_localhost: account.allow_localhost,
            public: account.public,
        })
    }

    pub fn public_id(&self) -> &str {
        self.str_at(0..usize::from(self.public_id_len))
    }

    fn quoted_tag_range(&self) -> Range<usize> {
        let start = usize::from(self.public_id_len);
        start..start + QUOTED_TAG_LEN
    }

    /// Differs whenever the token or its expiry does; the token bodies derive their ETags
    /// from it.
    pub fn tag(&self) -> &str {
        let quoted = self.quoted_tag_range();
        self.str_at(quoted.start + 1..quoted.end - 1)
    }

    /// `token.json`'s ETag header, shared with the entry (no copy per request).
    pub fn json_etag(&self) -> HeaderValue {
        HeaderValue::from_maybe_shared(self.text.slice(self.quoted_tag_range()))
            .unwrap_or(HeaderValue::from_static("\"\""))
    }

    fn origins_range(&self) -> Range<usize> {
        let start = usize::from(self.public_id_len) + QUOTED_TAG_LEN;
        start..start + usize::from(self.origins_len)
    }

    fn constant_range(&self) -> Range<usize> {
        let start = self.origins_range().end;
        start..start + usize::from(self.constant_len)
    }

    fn body_start(&self) -> usize {
        self.constant_range().end
    }

    /// The saved name of `token.js`'s constant, if any.
    pub fn js_constant(&self) -> Option<&str> {
        self.has_constant
            .then(|| self.str_at(self.constant_range()))
    }

    /// `{"token": "...", "expires_at": "...", "kind": "..."}`, empty when there is no token.
    pub fn token_json(&self) -> Bytes {
        self.text.slice(self.body_start()..)
    }

    /// The token as a JSON (and JavaScript) string literal.
    pub fn literal(&self) -> &str {
        let start = self.body_start() + BODY_HEAD.len();
        self.str_at(start..start + usize::from(self.literal_len))
    }

    pub fn has_token(&self) -> bool {
        self.literal_len > 0
    }

    fn str_at(&self, range: Range<usize>) -> &str {
        // Built from whole strings at char boundaries, so this never fails.
        std::str::from_utf8(self.text.get(range).unwrap_or_default()).unwrap_or_default()
    }

    /// The exact (not wildcard) allowed origins, in canonical form.
    fn exact_origins(&self) -> impl Iterator<Item = &str> {
        self.str_at(self.origins_range()).lines()
    }

    /// Whether shared caches may keep the answers: only when anyone may load them.
    pub fn is_public(&self) -> bool {
        self.public
    }

    /// Whether the owner named any site (or allowed localhost): a new account is closed until
    /// they do.
    pub fn names_sites(&self) -> bool {
        self.origins_len > 0 || !self.wildcards.is_empty() || self.allow_localhost
    }

    /// Whether a page of `origin` may load the token. With no patterns (and not public),
    /// none may. API keys of its workspace always may (decided by the caller).
    pub fn allows(&self, origin: &str) -> bool {
        // What browsers send is the canonical form (lower case, no default port), so an equal
        // string is a match without parsing anything; every other case is decided by the
        // patterns' own rules.
        self.public
            || self
                .exact_origins()
                .any(|pattern| pattern == origin && !pattern.contains('*'))
            || (self.allow_localhost && is_localhost_origin(origin))
            || self.wildcards.iter().any(|pattern| pattern.matches(origin))
            || self.exact_origins().any(|pattern| {
                pattern
                    .parse::<OriginPattern>()
                    .is_ok_and(|pattern| pattern.matches(origin))
            })
    }
}

/// An account's ready `media.json`: the body and its ETag, or nothing synced yet.
#[derive(Debug)]
pub struct ReadyMedia {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub synced: bool,
}

/// Media bodies weigh their bytes (and a little for the entry).
#[derive(Debug, Clone, Copy)]
struct MediaWeight;

impl Weighter<i64, Arc<ReadyMedia>> for MediaWeight {
    fn weight(&self, _: &i64, media: &Arc<ReadyMedia>) -> u64 {
        media.body.len() as u64 + 128
    }
}

/// What was forgotten when (reads begun before are not kept), and where each kept account
/// is.
#[derive(Debug, Default)]
struct Ledger {
    /// When each account was last forgotten, and when everything was.
    forgotten: HashMap<i64, Instant>,
    all: Option<Instant>,
    /// The size of `forgotten` at which old entries are next swept out.
    sweep_at: usize,
    /// The key (its public id's hash) of each account in `DeliveryCache::ready`: what
    /// forgetting an account by id takes.
    keys: HashMap<i64, u64>,
}

impl Ledger {
    /// Whether what a read begun at `began` found may be kept: nothing about the account was
    /// forgotten since (else the read may predate the change).
    fn may_keep(&self, account_id: i64, began: Instant) -> bool {
        began.elapsed() < INVALIDATION_MEMORY
            && self.all.is_none_or(|at| at < began)
            && self.forgotten.get(&account_id).is_none_or(|at| *at < began)
    }

    fn record(&mut self, account_id: i64) {
        if self.forgotten.len() >= self.sweep_at {
            self.forgotten
                .retain(|_, at| at.elapsed() < INVALIDATION_MEMORY);
            // Sweep again when it has doubled, so that sweeping stays cheap per call.
            self.sweep_at = (self.forgotten.len() * 2).max(10_000);
        }
        self.forgotten.insert(account_id, Instant::now());
    }
}

/// Hands the answers the cache evicts to the caller, which takes them out of the ledger.
#[derive(Debug, Clone, Copy, Default)]
struct NoteEvictions;

impl Lifecycle<u64, Arc<Ready>> for NoteEvictions {
    type RequestState = Vec<(u64, Arc<Ready>)>;

    fn on_evict(&self, evicted: &mut Self::RequestState, key: u64, ready: Arc<Ready>) {
        evicted.push((key, ready));
    }
}

type ReadyCache = Cache<u64, Arc<Ready>, UnitWeighter, DefaultHashBuilder, NoteEvictions>;

/// The per-process cache of ready answers by public id, of a bounded number of accounts.
pub struct DeliveryCache {
    /// The ready answers, by a keyed hash of their public id (8 bytes, not the id's text): a
    /// hit is checked against the answer's own public id, so a collision only costs a read.
    ready: ReadyCache,
    id_hasher: RandomState,
    media: Cache<i64, Arc<ReadyMedia>, MediaWeight>,
    /// Taken to record a forget, and to keep a read's result: a read that began before a
    /// forget is never kept, however the two interleave. Every change of `ready` is made
    /// holding it; answering from memory never takes it.
    ledger: Mutex<Ledger>,
    unknown: Mutex<HashMap<Box<str>, Instant>>,
    /// Whether changes made elsewhere reach this process; until they do, nothing is kept.
    following: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for DeliveryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryCache")
            .field("entries", &self.ready.len())
            .field("capacity", &self.ready.capacity())
            .field("following", &self.following)
            .finish_non_exhaustive()
    }
}

impl Default for DeliveryCache {
    fn default() -> Self {
        DeliveryCache::with_capacity(DEFAULT_CACHE_ENTRIES)
    }
}

impl DeliveryCache {
    /// A cache of at most `entries` accounts' answers (at least one).
    pub fn with_capacity(entries: usize) -> DeliveryCache {
        let entries = entries.max(1);
        DeliveryCache {
            ready: Cache::with(
                entries,
                entries as u64,
                UnitWeighter,
                DefaultHashBuilder::default(),
                NoteEvictions,
            ),
            id_hasher: RandomState::new(),
            media: Cache::with_weighter(entries.min(10_000), MEDIA_CACHE_BYTES, MediaWeight),
            ledger: Mutex::default(),
            unknown: Mutex::default(),
            following: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// What the cache holds for a public id: `Some(None)` when it is known not to exist.
    /// Counted as a hit or a miss (see [`DeliveryCache::hits_and_misses`]).
    pub fn get(&self, public_id: &str) -> Option<Option<Arc<Ready>>> {
        let found = self.lookup(public_id);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, public_id: &str) -> Option<Option<Arc<Ready>>> {
        if let Some(ready) = self.ready.get(&self.id_hasher.hash_one(public_id))
            && ready.public_id() == public_id
        {
            return Some(Some(ready));
        }
        let unknown = self.unknown.lock().unwrap_or_else(|e| e.into_inner());
        unknown
            .get(public_id)
            .filter(|at| at.elapsed() < UNKNOWN_TTL)
            .map(|_| None)
    }

    /// Requests answered from memory, and those that read the database, since start.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// How many accounts' answers are in memory, and how many may be.
    pub fn entries_and_capacity(&self) -> (usize, u64) {
        (self.ready.len(), self.ready.capacity())
    }

    /// Keeps what a read begun at `began` found, unless the account changed meanwhile.
    pub fn put(&self, ready: &Arc<Ready>, began: Instant) {
        if !self.following.load(Ordering::Acquire) {
            return;
        }
        let mut ledger = self.ledger();
        let account_id = ready.account_id();
        if !ledger.may_keep(account_id, began) {
            return;
        }
        let key = self.id_hasher.hash_one(ready.public_id());
        // The account under another public id (before a rotation) goes.
        if let Some(old) = ledger.keys.insert(account_id, key)
            && old != key
        {
            self.ready.remove(&old);
        }
        let mut evicted = Vec::new();
        self.ready
            .insert_with_lifecycle(key, ready.clone(), &mut evicted);
        for (key, gone) in &evicted {
            if ledger.keys.get(&gone.account_id()) == Some(key) {
                ledger.keys.remove(&gone.account_id());
            }
        }
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
        self.media.get(&account_id)
    }

    pub fn put_media(&self, account_id: i64, media: &Arc<ReadyMedia>, began: Instant) {
        if !self.following.load(Ordering::Acquire) {
            return;
        }
        let ledger = self.ledger();
        if ledger.may_keep(account_id, began) {
            self.media.insert(account_id, media.clone());
        }
    }

    /// Forgets the account (by id), so that this process reads it afresh: after an edit, a
    /// pause, a rotation, a reconnect, a refresh, a media sync or a delete.
    pub fn forget_account(&self, account_id: i64) {
        let mut ledger = self.ledger();
        ledger.record(account_id);
        if let Some(key) = ledger.keys.remove(&account_id) {
            self.ready.remove(&key);
        }
        self.media.remove(&account_id);
    }

    /// Forgets everything (after a change that may touch accounts of many workspaces, or when
    /// changes may have been missed).
    pub fn forget_all(&self) {
        let mut ledger = self.ledger();
        *ledger = Ledger {
            all: Some(Instant::now()),
            ..Ledger::default()
        };
        self.ready.clear();
        self.media.clear();
        self.unknown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_following(&self, following: bool) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use freshtoken_core::AccessToken;
    use freshtoken_store::AccountSettings;
    use freshtoken_store::testing::{SeedAccount, TestStore, seed_due_accounts};

    /// A store with `n` accounts (tokens `token-0`, `token-1`, ...), locked to `origins`;
    /// returns their public ids, in order.
    pub(crate) async fn store_with_accounts(
        n: usize,
        origins: &[&str],
    ) -> (TestStore, Vec<String>) {
        let store = TestStore::new().await;
        let tenant = store.tenants().create("Cache", "cache").await.unwrap().id;
        let now = Utc::now();
        let seeds = (0..n)
            .map(|i| SeedAccount {
                username: format!("shop{i}"),
                provider_user_id: format!("{}", 17_841_400_000_000_000u64 + i as u64),
                token: AccessToken::new(format!("token-{i}")),
            })
            .collect();
        let expires = now + chrono::Duration::days(60);
        seed_due_accounts(&store, tenant, seeds, now, expires, expires)
            .await
            .unwrap();
        let accounts = store.accounts().list(tenant).await.unwrap();
        for account in accounts.iter().filter(|_| !origins.is_empty()) {
            let settings = AccountSettings {
                label: String::new(),
                allowed_origins: origins.iter().map(|origin| (*origin).to_owned()).collect(),
                allow_localhost: false,
                public: false,
                js_constant: None,
                refresh_interval: account.refresh_interval,
            };
            store
                .accounts()
                .update_settings(tenant, account.id, &settings)
                .await
                .unwrap();
        }
        let ids = accounts
            .iter()
            .map(|account| account.public_id.clone())
            .collect();
        (store, ids)
    }

    async fn ready_of(store: &Store, public_id: &str) -> Arc<Ready> {
        ready_under(store, public_id, public_id).await
    }

    /// The ready answers of the account known as `public_id`, served under `served_as`.
    async fn ready_under(store: &Store, public_id: &str, served_as: &str) -> Arc<Ready> {
        let account = store
            .accounts()
            .by_public_id(public_id)
            .await
            .unwrap()
            .unwrap();
        Arc::new(Ready::build(served_as, &account, false, Some(("tok\"en", None))).unwrap())
    }

    fn following(entries: usize) -> DeliveryCache {
        let cache = DeliveryCache::with_capacity(entries);
        cache.set_following(true);
        cache
    }

    #[tokio::test]
    async fn a_ready_answer_keeps_what_serving_needs_in_one_text() {
        let (store, ids) =
            store_with_accounts(1, &["https://shop.example", "https://*.shop.example"]).await;
        let ready = ready_of(&store, &ids[0]).await;
        assert_eq!(ready.public_id(), ids[0]);
        assert_eq!(ready.literal(), r#""tok\"en""#);
        assert_eq!(
            ready.token_json(),
            Bytes::from(r#"{"token":"tok\"en","expires_at":null,"kind":"instagram"}"#)
        );
        assert_eq!(ready.json_etag(), format!("\"{}\"", ready.tag()).as_str());
        assert_eq!(ready.js_constant(), None);
        assert!(ready.allows("https://shop.example"));
        // Not canonical, still the same origin: decided by the patterns' rules.
        assert!(ready.allows("https://SHOP.example:443"));
        assert!(ready.allows("https://a.shop.example"));
        assert!(!ready.allows("https://*.shop.example"));
        assert!(!ready.allows("https://elsewhere.example"));
        assert!(!ready.allows("http://shop.example"));
        assert!(!ready.allows("null"));
        assert!(ready.names_sites());
    }

    #[tokio::test]
    async fn hits_and_misses_are_counted() {
        let (store, ids) = store_with_accounts(1, &["https://shop.example"]).await;
        let cache = following(10);
        assert!(cache.get(&ids[0]).is_none());
        cache.put(&ready_of(&store, &ids[0]).await, Instant::now());
        let found = cache.get(&ids[0]).expect("kept").expect("known");
        assert_eq!(found.public_id(), ids[0]);
        assert_eq!(cache.hits_and_misses(), (1, 1));
        cache.put_unknown("nobody");
        assert!(matches!(cache.get("nobody"), Some(None)));
        assert_eq!(cache.hits_and_misses(), (2, 1));
    }

    #[tokio::test]
    async fn a_full_cache_evicts_and_keeps_no_more_than_its_limit() {
        let (store, ids) = store_with_accounts(200, &["https://shop.example"]).await;
        let cache = following(50);
        for id in &ids {
            cache.put(&ready_of(&store, id).await, Instant::now());
        }
        let (entries, capacity) = cache.entries_and_capacity();
        assert_eq!(capacity, 50);
        assert!(entries <= 50, "{entries} entries");
        // What was evicted left the ledger too: it stays as bounded as the cache.
        assert_eq!(cache.ledger().keys.len(), entries);
        let found = ids
            .iter()
            .filter_map(|id| cache.get(id).flatten())
            .inspect(|ready| assert!(ids.contains(&ready.public_id().to_owned())))
            .count();
        assert!(found > 0 && found <= 50, "{found} found");
    }

    #[tokio::test]
    async fn a_read_begun_before_a_forget_is_not_kept() {
        let (store, ids) = store_with_accounts(1, &["https://shop.example"]).await;
        let cache = following(10);
        let ready = ready_of(&store, &ids[0]).await;
        let began = Instant::now();
        cache.forget_account(ready.account_id());
        cache.put(&ready, began);
        assert!(
            cache.get(&ids[0]).is_none(),
            "kept a read older than the forget"
        );
        let began = Instant::now();
        cache.forget_all();
        cache.put(&ready, began);
        assert!(
            cache.get(&ids[0]).is_none(),
            "kept a read older than forget_all"
        );
        // A read begun after the forget is kept, and a later forget drops it.
        cache.put(&ready, Instant::now());
        assert!(cache.get(&ids[0]).is_some());
        cache.forget_account(ready.account_id());
        assert!(cache.get(&ids[0]).is_none());
    }

    #[tokio::test]
    async fn nothing_is_kept_while_the_feed_is_down() {
        let (store, ids) = store_with_accounts(1, &["https://shop.example"]).await;
        let cache = DeliveryCache::with_capacity(10);
        cache.put(&ready_of(&store, &ids[0]).await, Instant::now());
        cache.put_unknown("nobody");
        assert!(cache.get(&ids[0]).is_none());
        assert!(cache.get("nobody").is_none());
    }

    #[tokio::test]
    async fn a_rotated_public_id_is_not_served_from_memory() {
        let (store, ids) = store_with_accounts(2, &["https://shop.example"]).await;
        let cache = following(10);
        let old = ready_of(&store, &ids[0]).await;
        cache.put(&old, Instant::now());
        // The same account under a new public id (as after a rotation, which forgets it).
        let rotated = ready_under(&store, &ids[0], "new-id").await;
        cache.forget_account(rotated.account_id());
        cache.put(&rotated, Instant::now());
        assert!(cache.get(&ids[0]).is_none(), "the old id still answers");
        assert_eq!(cache.get("new-id").flatten().unwrap().public_id(), "new-id");
    }

    /// A put under a new public id replaces the account's entry under the old one by itself,
    /// and forgetting the account then reaches the new one.
    #[tokio::test]
    async fn an_accounts_new_public_id_replaces_its_old_entry() {
        let (store, ids) = store_with_accounts(1, &["https://shop.example"]).await;
        let cache = following(10);
        let old = ready_of(&store, &ids[0]).await;
        cache.put(&old, Instant::now());
        let rotated = ready_under(&store, &ids[0], "new-id").await;
        cache.put(&rotated, Instant::now());
        assert!(cache.get(&ids[0]).is_none(), "the old id still answers");
        assert!(cache.get("new-id").flatten().is_some());
        cache.forget_account(rotated.account_id());
        assert!(
            cache.get("new-id").is_none(),
            "forgetting missed the new id"
        );
    }
}
