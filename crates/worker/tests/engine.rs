//! The refresh engine against the fake Instagram over real HTTP, on a real database (SQLite, or
//! PostgreSQL when `FRESHTOKEN_TEST_POSTGRES_URL` is set), with both clocks moved together.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fake_instagram::{FakeConfig, FakeInstagram, FaultKind, FaultMatch, MintKind};
use freshtoken_accounts::{Connector, Paste, Presets};
use freshtoken_core::{AccessToken, AccountKind, AccountStatus, RefreshOutcome};
use freshtoken_meta::{AppConfig, InstagramClient, MetaClients};
use freshtoken_store::testing::TestStore;
use freshtoken_store::{Account, NewAccount, ScopedAccount, Store, TokenUpdate};
use freshtoken_worker::testing::SmtpSink;
use freshtoken_worker::{Clock, Engine, Mailer, Metrics, WorkerConfig};
use tokio::sync::watch;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A database, the fake, a tenant, and the engine running in the background.
struct World {
    test_store: TestStore,
    fake: FakeInstagram,
    clock: Clock,
    metrics: Metrics,
    tenant_id: i64,
    stop: watch::Sender<bool>,
    engine: Option<tokio::task::JoinHandle<()>>,
}

impl World {
    async fn new() -> World {
        World::with_mailer(None).await
    }

    async fn with_mailer(mailer: Option<Mailer>) -> World {
        let test_store = TestStore::new().await;
        let store = test_store.store.clone();
        freshtoken_worker::setup_queues(&store).await.unwrap();
        let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
        let base = url::Url::parse(fake.base_url()).unwrap();
        let client = MetaClients::all_at(
            &base,
            fake.app_id(),
            fake.app_secret(),
            "http://127.0.0.1/connect/instagram/callback",
        )
        .unwrap();
        let clock = Clock::system();
        let config = WorkerConfig {
            scheduler_interval: Duration::from_millis(50),
            poll_interval: Duration::from_millis(20),
            concurrency: 8,
            public_url: "https://tokens.example.com".to_owned(),
            // The webhook receivers below listen on this machine, as an intranet's would.
            webhook_allow_hosts: freshtoken_egress::AllowedHosts::parse(["localhost"]).unwrap(),
            ..WorkerConfig::default()
        };
        let metrics = Metrics::new();
        let engine = Engine::new(
            store.clone(),
            client,
            config,
            mailer,
            clock.clone(),
            metrics.clone(),
        )
        .unwrap();
        let (stop, mut stopped) = watch::channel(false);
        let engine = tokio::spawn(async move {
            let _ = engine
                .run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let tenant_id = store.tenants().create("Bakery", "bakery").await.unwrap().id;
        World {
            test_store,
            fake,
            clock,
            metrics,
            tenant_id,
            stop,
            engine: Some(engine),
        }
    }

    /// Stops the engine and waits until it has: no scheduler pass or job of its own runs after.
    async fn stop_engine(&mut self) {
        let _ = self.stop.send(true);
        if let Some(engine) = self.engine.take() {
            engine.await.unwrap();
        }
    }

    fn store(&self) -> &Store {
        &self.test_store.store
    }

    /// A webhook receiver of the test's own, subscribed to `events` of the tenant.
    async fn subscribe(&self, events: &[&str]) -> WebhookReceiver {
        let hooks = WebhookReceiver::start().await;
        let events: Vec<String> = events.iter().map(|event| (*event).to_owned()).collect();
        self.store()
            .webhooks()
            .create(self.tenant_id, &hooks.url, &events)
            .await
            .unwrap();
        hooks
    }

    /// Moves our clock and Instagram's forward together.
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.fake.advance_clock(by);
    }

    /// Connects `username` with a long-lived token minted `age` ago, scheduled as a connect
    /// would schedule it.
    async fn connect(&self, username: &str, age: Duration) -> ScopedAccount {
        self.connect_in(self.tenant_id, username, age).await
    }

    /// [`World::connect`], in the workspace `tenant_id`.
    async fn connect_in(&self, tenant_id: i64, username: &str, age: Duration) -> ScopedAccount {
        let minted = self.fake.mint_token(username, age);
        let now = self.clock.now();
        let issued_at = now - chrono::Duration::from_std(age).unwrap();
        let expires_at = now + chrono::Duration::seconds(minted.expires_in);
        let next = freshtoken_core::policy::next_refresh_at(
            now.timestamp(),
            issued_at.timestamp(),
            Some(expires_at.timestamp()),
            Default::default(),
        );
        self.store_account(
            tenant_id,
            username,
            minted,
            issued_at,
            Some(expires_at),
            DateTime::from_timestamp(next, 0),
        )
        .await
    }

    /// Connects what a token of this kind, minted `age` ago, belongs to, through the one place
    /// accounts are connected (as a paste would): its profile, or a Facebook user's Page.
    async fn connect_kind(&self, kind: MintKind, username: &str, age: Duration) -> ScopedAccount {
        let minted = self.fake.mint(kind, username, age);
        let base = url::Url::parse(self.fake.base_url()).unwrap();
        let meta =
            MetaClients::all_at(&base, self.fake.app_id(), self.fake.app_secret(), "").unwrap();
        let connector = Connector::new(self.store().clone(), Arc::new(meta));
        let paste = Paste {
            token: AccessToken::new(minted.access_token),
            kind: None,
            page_id: None,
            presets: Presets::default(),
        };
        let mut connected = connector.paste(self.tenant_id, paste).await.unwrap();
        assert_eq!(connected.len(), 1);
        connected.remove(0).account
    }

    /// Pastes a token of `username` minted `age` ago, as the paste and import flows store it:
    /// expiry unknown, "issued" now, due at once.
    async fn paste(&self, username: &str, age: Duration) -> ScopedAccount {
        let minted = self.fake.mint_token(username, age);
        let now = self.clock.now();
        self.store_account(self.tenant_id, username, minted, now, None, Some(now))
            .await
    }

    async fn store_account(
        &self,
        tenant_id: i64,
        username: &str,
        minted: fake_instagram::MintedToken,
        issued_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
        next_refresh_at: Option<DateTime<Utc>>,
    ) -> ScopedAccount {
        let (account, _) = self
            .store()
            .accounts()
            .connect(
                tenant_id,
                NewAccount {
                    kind: AccountKind::Instagram,
                    provider_user_id: minted.user_id.to_string(),
                    username: username.to_owned(),
                    profile_picture_url: None,
                    linked_instagram_id: None,
                },
                &TokenUpdate {
                    token: AccessToken::new(minted.access_token),
                    issued_at,
                    expires_at,
                    scopes: "instagram_business_basic".to_owned(),
                    refreshed_at: None,
                },
                next_refresh_at,
            )
            .await
            .unwrap();
        account
    }

    async fn account(&self, id: i64) -> Account {
        self.store().accounts().by_id(id).await.unwrap()
    }

    async fn events(&self, id: i64) -> Vec<freshtoken_store::RefreshEvent> {
        let tenant_id = self.account(id).await.tenant_id;
        let account = self.store().accounts().get(tenant_id, id).await.unwrap();
        let mut events = self
            .store()
            .refresh_events()
            .recent(account.proof(), 1000)
            .await
            .unwrap();
        events.reverse();
        events
    }

    /// Waits (in real time) until the account has `count` refresh events.
    async fn wait_for_events(&self, id: i64, count: usize) -> Vec<freshtoken_store::RefreshEvent> {
        for _ in 0..400 {
            let events = self.events(id).await;
            if events.len() >= count {
                // Let the job's transaction be the last word before the caller looks.
                return events;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "account {id} never reached {count} refresh events: {:?}",
            self.events(id).await
        );
    }

    /// Moves both clocks to just past the account's next refresh.
    async fn advance_to_next_refresh(&self, id: i64) -> DateTime<Utc> {
        let next = self
            .account(id)
            .await
            .next_refresh_at
            .expect("the account has a next refresh");
        let now = self.clock.now();
        if next > now {
            self.advance((next - now).to_std().unwrap() + Duration::from_secs(1));
        }
        next
    }

    /// Whether Instagram (the fake, at its clock) still accepts the account's stored token.
    async fn token_works(&self, id: i64) -> bool {
        let token = self.store().tokens().read(id).await.unwrap();
        let base = url::Url::parse(self.fake.base_url()).unwrap();
        let client = InstagramClient::new(AppConfig::instagram().at(&base)).unwrap();
        client.me(&token.token).await.is_ok()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lives_through_a_year_refreshed_on_its_weekly_interval() {
    let world = World::new().await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    let start = world.clock.now();
    let mut refreshed_at = vec![start];
    while world.clock.now() - start < chrono::Duration::days(365) {
        world.advance_to_next_refresh(account.id).await;
        let events = world.wait_for_events(account.id, refreshed_at.len()).await;
        let last = events.last().unwrap();
        assert_eq!(last.outcome, RefreshOutcome::Refreshed, "{last:?}");
        refreshed_at.push(last.at);
        assert!(world.token_works(account.id).await, "the token still works");
    }
    // Weekly, brought forward by at most half a day of jitter, never later.
    for pair in refreshed_at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= chrono::Duration::hours(6 * 24 + 12)
                && gap <= chrono::Duration::hours(7 * 24 + 1),
            "refreshes {} apart",
            gap
        );
    }
    assert!(
        (53..=58).contains(&(refreshed_at.len() - 1)),
        "{} refreshes",
        refreshed_at.len() - 1
    );
    let after = world.account(account.id).await;
    assert_eq!(after.status, AccountStatus::Active);
    assert_eq!(after.last_error, None);
    let lifetime = world
        .store()
        .tokens()
        .lifetime(account.proof())
        .await
        .unwrap()
        .unwrap();
    assert!(lifetime.expires_at.unwrap() - world.clock.now() > chrono::Duration::days(52));

    let metrics = world
        .metrics
        .render(world.store(), &world.clock)
        .await
        .unwrap();
    let count = format!(
        "freshtoken_refreshes_total{{outcome=\"refreshed\"}} {}",
        refreshed_at.len() - 1
    );
    assert!(metrics.contains(&count), "{count} in:\n{metrics}");
    let soonest: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("freshtoken_soonest_expiry_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(soonest > 52.0 * 86400.0, "soonest expiry {soonest} s away");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_marks_the_account_at_once_and_is_never_retried() {
    let world = World::new().await;
    let hooks = world
        .subscribe(&["account.needs_reconnect", "token.refreshed"])
        .await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    world.fake.revoke_user("corner_bakery", 460);

    world.advance_to_next_refresh(account.id).await;
    let events = world.wait_for_events(account.id, 1).await;
    assert_eq!(events[0].outcome, RefreshOutcome::Revoked);
    assert_eq!(events[0].error_code.as_deref(), Some("190/460"));
    let after = world.account(account.id).await;
    assert_eq!(after.status, AccountStatus::NeedsReconnect);
    assert!(after.last_error.unwrap().contains("no longer valid"));
    assert_eq!(after.next_refresh_at, None);

    // Weeks later: no further attempt, and exactly one notification.
    world.advance(DAY * 30);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(world.events(account.id).await.len(), 1);
    let received = hooks.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.received().len(), 1, "one notification per incident");
    let hook = &received[0];
    assert_eq!(hook.event, "account.needs_reconnect");
    assert_eq!(hook.body["type"], "account.needs_reconnect");
    assert_eq!(hook.body["data"]["account"]["id"], account.id);
    assert!(
        !hook.raw.contains(
            &world
                .store()
                .tokens()
                .read(account.id)
                .await
                .unwrap()
                .token
                .expose()
                .to_owned()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_back_off_exponentially_then_the_refresh_succeeds() {
    let world = World::new().await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    world.fake.inject_fault(
        FaultMatch {
            path: Some("refresh_access_token".to_owned()),
            ..Default::default()
        },
        3,
        FaultKind::ServerError,
    );
    world.advance_to_next_refresh(account.id).await;
    let mut waits = Vec::new();
    for failures in 1..=3 {
        let events = world.wait_for_events(account.id, failures).await;
        let last = events.last().unwrap();
        assert_eq!(last.outcome, RefreshOutcome::Transient, "{last:?}");
        assert_eq!(last.attempt, failures as i32);
        let account = world.account(account.id).await;
        assert_eq!(account.status, AccountStatus::Active);
        waits.push((account.next_refresh_at.unwrap() - last.at).num_seconds());
        world.advance_to_next_refresh(account.id).await;
    }
    // 1 minute, 2, 4, each less up to half by jitter.
    assert!((30..=60).contains(&waits[0]), "{waits:?}");
    assert!((60..=120).contains(&waits[1]), "{waits:?}");
    assert!((120..=240).contains(&waits[2]), "{waits:?}");
    let events = world.wait_for_events(account.id, 4).await;
    assert_eq!(events[3].outcome, RefreshOutcome::Refreshed);
    assert_eq!(events[3].attempt, 4);
    let account = world.account(account.id).await;
    assert_eq!(account.last_error, None);
    assert!(account.next_refresh_at.unwrap() - world.clock.now() > chrono::Duration::days(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_waits_as_long_as_instagram_says() {
    let world = World::new().await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    world.fake.inject_fault(
        FaultMatch::default(),
        1,
        FaultKind::RateLimit {
            code: 4,
            regain_minutes: 30,
        },
    );
    world.advance_to_next_refresh(account.id).await;
    let events = world.wait_for_events(account.id, 1).await;
    assert_eq!(events[0].outcome, RefreshOutcome::RateLimited);
    let wait = world.account(account.id).await.next_refresh_at.unwrap() - events[0].at;
    assert!(wait >= chrono::Duration::minutes(30), "waits {wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_retrying_will_not_fix_is_tried_again_only_hours_later() {
    let world = World::new().await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    world.fake.inject_fault(
        FaultMatch::default(),
        1,
        FaultKind::Error {
            code: 10,
            message: "Application does not have permission for this action".to_owned(),
        },
    );
    world.advance_to_next_refresh(account.id).await;
    let events = world.wait_for_events(account.id, 1).await;
    assert_eq!(events[0].outcome, RefreshOutcome::Rejected);
    let after = world.account(account.id).await;
    assert_eq!(
        after.status,
        AccountStatus::Active,
        "still served while the tenant looks"
    );
    assert!(after.last_error.unwrap().contains("permission"));
    let wait = after.next_refresh_at.unwrap() - events[0].at;
    assert!(wait >= chrono::Duration::minutes(30), "waits {wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_near_expiry_that_keeps_failing_warns_once_by_webhook_and_email() {
    let smtp = SmtpSink::start().await;
    let mailer = Mailer::new(&smtp.url, "freshtoken <noreply@tokens.example.com>").unwrap();
    let world = World::with_mailer(Some(mailer)).await;
    let owner = world
        .store()
        .users()
        .create(freshtoken_store::NewUser {
            email: "owner@bakery.example".to_owned(),
            password_hash: "x".to_owned(),
            name: "Owner".to_owned(),
            is_operator: false,
        })
        .await
        .unwrap();
    world
        .store()
        .memberships()
        .add(world.tenant_id, owner.id, freshtoken_core::Role::Owner)
        .await
        .unwrap();
    let hooks = WebhookReceiver::start().await;
    let webhook = world
        .store()
        .webhooks()
        .create(world.tenant_id, &hooks.url, &["token.expiring".to_owned()])
        .await
        .unwrap();
    // 55 days old: expires in 5 days, so it is due at once, and failing it is an incident.
    let account = world.connect("corner_bakery", DAY * 55).await;
    world
        .fake
        .inject_fault(FaultMatch::default(), 50, FaultKind::ServerError);
    for failures in 1..=3 {
        world.advance_to_next_refresh(account.id).await;
        world.wait_for_events(account.id, failures).await;
    }
    let received = hooks.wait_for(1).await;
    let mails = smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hooks.received().len(),
        1,
        "one webhook per incident, not per retry"
    );
    assert_eq!(smtp.messages().len(), 1, "one e-mail per incident");
    let hook = &received[0];
    assert_eq!(hook.event, "token.expiring");
    let expected = freshtoken_worker::signature(&webhook.secret, hook.timestamp, &hook.raw);
    assert_eq!(hook.signature, expected, "signed with the webhook's secret");
    assert!(mails[0].contains("owner@bakery.example"));
    assert!(mails[0].contains("expires soon"), "{}", mails[0]);
    assert!(mails[0].contains("https://tokens.example.com/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_accounts_due_together_is_refreshed_once_each_and_spread_out() {
    let world = World::new().await;
    // Far more than the queue holds at once (eight workers, two batches of 32).
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(world.connect(&format!("shop_{n}"), DAY * 2).await.id);
    }
    for id in &ids {
        world
            .store()
            .accounts()
            .schedule_refresh(world.tenant_id, *id, world.clock.now())
            .await
            .unwrap();
    }
    for id in &ids {
        let events = world.wait_for_events(*id, 1).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].outcome, RefreshOutcome::Refreshed);
    }
    // Refreshed together, they come due again over hours, not all in one minute.
    let mut next: Vec<_> = Vec::new();
    for id in &ids {
        next.push(world.account(*id).await.next_refresh_at.unwrap());
    }
    let spread = *next.iter().max().unwrap() - *next.iter().min().unwrap();
    assert!(
        spread > chrono::Duration::hours(6),
        "next refreshes spread over {spread}"
    );
}

/// Refreshes are opened, and their results recorded and announced, a job's batch at once: each
/// account still gets its own outcome, and each workspace hears of its own accounts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_of_two_workspaces_due_together_are_each_recorded_and_announced_to_their_own() {
    let world = World::new().await;
    let events = ["token.refreshed", "account.needs_reconnect"];
    let bakery_hooks = world.subscribe(&events).await;
    let florist = world
        .store()
        .tenants()
        .create("Florist", "florist")
        .await
        .unwrap()
        .id;
    let florist_hooks = WebhookReceiver::start().await;
    world
        .store()
        .webhooks()
        .create(florist, &florist_hooks.url, &events.map(str::to_owned))
        .await
        .unwrap();
    let mut bakery = Vec::new();
    let mut florists = Vec::new();
    for n in 0..3 {
        bakery.push(world.connect(&format!("bakery_{n}"), DAY * 2).await.id);
        florists.push(
            world
                .connect_in(florist, &format!("florist_{n}"), DAY * 2)
                .await
                .id,
        );
    }
    world.fake.revoke_user("bakery_0", 460);
    // Every one of them comes due at the same moment.
    world.advance(DAY * 8);

    for id in bakery.iter().chain(&florists) {
        let events = world.wait_for_events(*id, 1).await;
        assert_eq!(events.len(), 1);
        let expected = if *id == bakery[0] {
            RefreshOutcome::Revoked
        } else {
            RefreshOutcome::Refreshed
        };
        assert_eq!(events[0].outcome, expected, "account {id}");
    }
    assert_eq!(
        world.account(bakery[0]).await.status,
        AccountStatus::NeedsReconnect
    );
    let heard = |hooks: &[ReceivedHook], tenant_id: i64| {
        let mut heard: Vec<(String, i64)> = hooks
            .iter()
            .map(|hook| {
                assert_eq!(hook.body["tenant_id"], tenant_id);
                (
                    hook.event.clone(),
                    hook.body["data"]["account"]["id"].as_i64().unwrap(),
                )
            })
            .collect();
        heard.sort();
        heard
    };
    let bakery_heard = heard(&bakery_hooks.wait_for(3).await, world.tenant_id);
    let florist_heard = heard(&florist_hooks.wait_for(3).await, florist);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bakery_hooks.received().len(), 3);
    assert_eq!(florist_hooks.received().len(), 3);
    let mut expected = vec![
        ("account.needs_reconnect".to_owned(), bakery[0]),
        ("token.refreshed".to_owned(), bakery[1]),
        ("token.refreshed".to_owned(), bakery[2]),
    ];
    expected.sort();
    assert_eq!(bakery_heard, expected);
    let mut expected: Vec<_> = florists
        .iter()
        .map(|id| ("token.refreshed".to_owned(), *id))
        .collect();
    expected.sort();
    assert_eq!(florist_heard, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_of_an_account_someone_reads_are_synced() {
    let world = World::new().await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    let unwanted = world.connect("quiet_shop", Duration::ZERO).await;
    world
        .store()
        .media()
        .mark_requested(account.proof(), world.clock.now())
        .await
        .unwrap();
    let mut synced = None;
    for _ in 0..200 {
        synced = world.store().media().get(account.proof()).await.unwrap();
        if synced.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let synced = synced.expect("the media were synced");
    let items: serde_json::Value = serde_json::from_str(&synced.items).unwrap();
    let items = items.as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        for field in [
            "id",
            "caption",
            "media_type",
            "media_url",
            "permalink",
            "timestamp",
        ] {
            assert!(item.get(field).is_some(), "{field} missing from {item}");
        }
    }
    assert!(
        world
            .store()
            .media()
            .get(unwanted.proof())
            .await
            .unwrap()
            .is_none(),
        "only accounts whose media someone reads"
    );
}

/// The media a sync stored for the account, once someone asked for them.
async fn synced_media(world: &World, account: &ScopedAccount) -> Vec<serde_json::Value> {
    world
        .store()
        .media()
        .mark_requested(account.proof(), world.clock.now())
        .await
        .unwrap();
    for _ in 0..200 {
        if let Some(synced) = world.store().media().get(account.proof()).await.unwrap() {
            return serde_json::from_str(&synced.items).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the media of account {} were never synced", account.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_posts_and_a_pages_linked_instagram_posts_are_its_media() {
    let world = World::new().await;
    let threads = world
        .connect_kind(MintKind::Threads, "corner_bakery", 2 * DAY)
        .await;
    let posts = synced_media(&world, &threads).await;
    assert_eq!(posts.len(), 3);
    assert!(
        posts[0]["text"].as_str().unwrap().contains("corner_bakery"),
        "Threads' own field names: {}",
        posts[0]
    );
    assert_eq!(posts[0]["media_product_type"], "THREADS");
    assert!(posts[0]["permalink"].as_str().unwrap().contains("threads"));

    let page = world
        .connect_kind(MintKind::FacebookUser, "studio_two", Duration::ZERO)
        .await;
    let linked = synced_media(&world, &page).await;
    assert_eq!(linked.len(), 3, "the linked Instagram account's posts");
    assert!(
        linked[0]["caption"]
            .as_str()
            .unwrap()
            .contains("studio_two")
    );
    assert!(
        world
            .fake
            .calls()
            .iter()
            .any(|call| call.path.ends_with(&format!(
                "{}/media",
                world.fake.professional_id("studio_two")
            ))),
        "asked of the Page's linked account with the Page token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_exclusive_until_its_lease_runs_out() {
    let mut world = World::new().await;
    let account = world.connect("corner_bakery", Duration::ZERO).await;
    // Only this test's claims: an engine still winding down must not take part.
    world.stop_engine().await;
    world.advance_to_next_refresh(account.id).await;
    let now = world.clock.now();
    let queue = world.store().refresh_queue();
    let lease_until = now + chrono::Duration::minutes(5);
    let first = queue.claim_due(now, lease_until, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        queue
            .claim_due(now, lease_until, 10)
            .await
            .unwrap()
            .is_empty(),
        "held"
    );
    let later = lease_until + chrono::Duration::seconds(1);
    let second = queue
        .claim_due(later, later + chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "a lapsed lease is claimed again");
    assert!(
        queue
            .open(&first[0].lease_id, &[first[0].account_id], later)
            .await
            .unwrap()
            .is_empty(),
        "the first claimant may no longer record anything"
    );
}

/// A webhook endpoint that records what it is sent.
struct WebhookReceiver {
    url: String,
    calls: Arc<Mutex<Vec<ReceivedHook>>>,
}

#[derive(Debug, Clone)]
struct ReceivedHook {
    event: String,
    signature: String,
    timestamp: i64,
    raw: String,
    body: serde_json::Value,
}

impl WebhookReceiver {
    async fn start() -> WebhookReceiver {
        let calls: Arc<Mutex<Vec<ReceivedHook>>> = Arc::default();
        let recorded = calls.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, raw: String| {
                let recorded = recorded.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let signature = header("x-freshtoken-signature");
                    let timestamp = signature
                        .strip_prefix("t=")
                        .and_then(|rest| rest.split(',').next())
                        .and_then(|t| t.parse().ok())
                        .unwrap_or_default();
                    recorded.lock().unwrap().push(ReceivedHook {
                        event: header("x-freshtoken-event"),
                        signature,
                        timestamp,
                        body: serde_json::from_str(&raw).unwrap_or_default(),
                        raw,
                    });
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://localhost:{}/hook",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        WebhookReceiver { url, calls }
    }

    fn received(&self) -> Vec<ReceivedHook> {
        self.calls.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<ReceivedHook> {
        for _ in 0..400 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {count} webhook calls, got {:?}", self.received());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_token_near_expiry_survives_two_transient_failures_on_its_first_refresh() {
    let world = World::new().await;
    // 59.5 days old: 12 hours left, which nobody here knows yet.
    let account = world
        .paste(
            "corner_bakery",
            Duration::from_secs(59 * 24 * 3600 + 12 * 3600),
        )
        .await;
    let pasted_at = world.clock.now();
    world.fake.inject_fault(
        FaultMatch {
            path: Some("/refresh_access_token".to_owned()),
            ..Default::default()
        },
        2,
        FaultKind::ServerError,
    );
    for failures in 1..=2 {
        let events = world.wait_for_events(account.id, failures).await;
        let last = events.last().unwrap();
        assert_eq!(last.outcome, RefreshOutcome::Transient, "{last:?}");
        let account = world.account(account.id).await;
        let next = account.next_refresh_at.unwrap();
        assert!(
            next - last.at <= chrono::Duration::minutes(2),
            "failure {failures} waits {} s, not the backoff",
            (next - last.at).num_seconds()
        );
        let said = account.last_error.unwrap();
        assert!(
            said.contains(&next.format("%-d %b %Y, %H:%M:%S UTC").to_string()),
            "last_error {said:?} names another time than next_refresh_at {next}"
        );
        world.advance_to_next_refresh(account.id).await;
    }
    let events = world.wait_for_events(account.id, 3).await;
    assert_eq!(events[2].outcome, RefreshOutcome::Refreshed, "{events:?}");
    // The two waits are at most 60 and 120 s (equal jitter takes up to half off each), so the
    // refresh lands within 3 minutes of pasting, plus the second this test moves the clock past
    // each planned time and the scheduler's 50 ms passes: 5 s of slack for those (without it
    // the bound failed whenever jitter took little off).
    assert!(
        events[2].at - pasted_at <= chrono::Duration::minutes(3) + chrono::Duration::seconds(5),
        "refreshed {} s after pasting",
        (events[2].at - pasted_at).num_seconds()
    );
    assert!(world.token_works(account.id).await);
    let token = world.store().tokens().read(account.id).await.unwrap();
    assert!(token.expires_at.unwrap() - world.clock.now() > chrono::Duration::days(59));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_is_planned_after_a_known_expiry_nor_far_ahead_for_an_unknown_one() {
    let world = World::new().await;
    // Rejected (code 100) is retried on the slow backoff: 1 hour, 2, 4, ... 12.
    world.fake.inject_fault(
        FaultMatch {
            path: Some("refresh_access_token".to_owned()),
            ..Default::default()
        },
        20,
        FaultKind::Error {
            code: 100,
            message: "Unsupported request".to_owned(),
        },
    );
    let pasted = world
        .paste("corner_bakery", Duration::from_secs(30 * 24 * 3600))
        .await;
    for failures in 1..=4 {
        let events = world.wait_for_events(pasted.id, failures).await;
        let last = events.last().unwrap();
        assert_eq!(last.outcome, RefreshOutcome::Rejected, "{last:?}");
        let next = world.account(pasted.id).await.next_refresh_at.unwrap();
        assert!(
            next - last.at <= chrono::Duration::hours(1),
            "an unknown expiry may be near: failure {failures} waits {} s",
            (next - last.at).num_seconds()
        );
        world.advance_to_next_refresh(pasted.id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threads_token_is_refreshed_on_its_own_endpoint_and_interval() {
    let world = World::new().await;
    let account = world
        .connect_kind(MintKind::Threads, "corner_bakery", 2 * DAY)
        .await;
    assert_eq!(account.kind, AccountKind::Threads);
    // Pasted: its expiry is unknown, so it is refreshed at once, which makes it known.
    let events = world.wait_for_events(account.id, 1).await;
    assert_eq!(events[0].outcome, RefreshOutcome::Refreshed, "{events:?}");
    world.advance_to_next_refresh(account.id).await;
    let events = world.wait_for_events(account.id, 2).await;
    assert_eq!(events[1].outcome, RefreshOutcome::Refreshed, "{events:?}");
    assert!(events[1].at - events[0].at >= chrono::Duration::hours(6 * 24 + 12));
    let refreshes: Vec<_> = world
        .fake
        .calls()
        .into_iter()
        .filter(|call| call.path.ends_with("refresh_access_token"))
        .collect();
    assert_eq!(refreshes.len(), 2);
    assert!(
        refreshes
            .iter()
            .all(|call| call.params["grant_type"] == "th_refresh_token"),
        "{refreshes:?}"
    );
    let lifetime = world
        .store()
        .tokens()
        .lifetime_unscoped(account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(lifetime.expires_at.unwrap() - world.clock.now() > chrono::Duration::days(59));
    let token = world.store().tokens().read(account.id).await.unwrap();
    assert!(token.token.expose().starts_with("TH"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_token_is_checked_daily_never_refreshed_and_a_revoked_one_needs_reconnect() {
    let world = World::new().await;
    let hooks = world
        .subscribe(&["account.needs_reconnect", "token.refreshed"])
        .await;
    let account = world
        .connect_kind(MintKind::FacebookUser, "corner_bakery", Duration::ZERO)
        .await;
    assert_eq!(account.kind, AccountKind::FacebookPage);
    assert_eq!(account.username, "corner_bakery page");
    assert_eq!(
        account.provider_user_id,
        world.fake.page_id("corner_bakery")
    );
    assert_eq!(
        account.linked_instagram_id,
        Some(world.fake.professional_id("corner_bakery"))
    );
    let token_before = world.store().tokens().read(account.id).await.unwrap();
    assert_eq!(token_before.expires_at, None, "a Page token never expires");

    // Checked at once, then again about a day later; the token itself never changes.
    let events = world.wait_for_events(account.id, 1).await;
    assert_eq!(events[0].outcome, RefreshOutcome::Checked, "{events:?}");
    let next = world.account(account.id).await.next_refresh_at.unwrap();
    let wait = next - world.clock.now();
    assert!(
        wait > chrono::Duration::hours(21) && wait <= chrono::Duration::hours(24),
        "next check in {wait}"
    );
    world.advance_to_next_refresh(account.id).await;
    let events = world.wait_for_events(account.id, 2).await;
    assert_eq!(events[1].outcome, RefreshOutcome::Checked, "{events:?}");
    let token_after = world.store().tokens().read(account.id).await.unwrap();
    assert_eq!(token_after.token.expose(), token_before.token.expose());
    assert!(
        world
            .fake
            .calls()
            .iter()
            .all(|call| !call.path.ends_with("refresh_access_token")),
        "a Page token is never refreshed"
    );

    // The user changes their password: the next check finds out, within one interval.
    world.fake.revoke_user("corner_bakery", 460);
    world.advance_to_next_refresh(account.id).await;
    let events = world.wait_for_events(account.id, 3).await;
    assert_eq!(events[2].outcome, RefreshOutcome::Revoked, "{events:?}");
    let after = world.account(account.id).await;
    assert_eq!(after.status, AccountStatus::NeedsReconnect);
    assert_eq!(after.next_refresh_at, None);
    let received = hooks.wait_for(1).await;
    assert_eq!(received[0].event, "account.needs_reconnect");
    assert_eq!(received[0].body["data"]["account"]["id"], account.id);
    assert!(
        !hooks
            .received()
            .iter()
            .any(|hook| hook.event == "token.refreshed"),
        "a check is not a refresh"
    );
}
