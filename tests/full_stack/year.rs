//! Time lived by the real binary, black-box: `freshtoken serve` takes its notion of "now" from
//! the fake's clock (`FRESHTOKEN_CLOCK_URL`), which the tests move: a year a day at a time for
//! Instagram, Threads and Facebook Page accounts while the fake fails in every way it can and
//! the service is killed midway, and the first minutes of a pasted token whose first refreshes
//! fail.

use std::time::{Duration, Instant};

use fake_instagram::{FakeConfig, FakeInstagram, FaultKind, FaultMatch, MintKind};
use serde_json::json;

use crate::support::{Browser, Process, freshtoken_with};

const SITE: &str = "https://bakery.example";
const ACCOUNTS: usize = 100;
const DAYS: u32 = 365;
/// A Threads profile and a Facebook Page whose users change their passwords on day 150.
const REVOKED: [&str; 2] = ["shop_007", "shop_008"];

/// The kind of the `n`th account: Instagram, Threads and Facebook Page in turn.
fn kind_of(n: usize) -> MintKind {
    match n % 3 {
        0 => MintKind::Instagram,
        1 => MintKind::Threads,
        _ => MintKind::FacebookUser,
    }
}

/// The faults of the year, by day: every kind the refresh engine must ride out, on refreshes
/// (Instagram, Threads) and on Page checks (`debug_token`).
fn faults_on(day: u32) -> Option<(&'static str, u32, FaultKind)> {
    const REFRESH: &str = "refresh_access_token";
    const CHECK: &str = "debug_token";
    match day {
        10 => Some((REFRESH, 30, FaultKind::ServerError)),
        40 => Some((REFRESH, 20, FaultKind::Reset)),
        // Longer than the refresh timeout (half the 4 s lease): timeouts.
        70 => Some((REFRESH, 10, FaultKind::Delay { ms: 3_000 })),
        100 => Some((
            REFRESH,
            20,
            FaultKind::RateLimit {
                code: 4,
                regain_minutes: 60,
            },
        )),
        120 => Some((CHECK, 20, FaultKind::ServerError)),
        200 => Some((
            CHECK,
            10,
            FaultKind::RateLimit {
                code: 4,
                regain_minutes: 60,
            },
        )),
        220 => Some((CHECK, 5, FaultKind::Delay { ms: 3_000 })),
        250 => Some((REFRESH, 20, FaultKind::Html)),
        300 => Some((REFRESH, 20, FaultKind::Empty)),
        _ => None,
    }
}

fn serve(
    data_dir: &std::path::Path,
    fake: &FakeInstagram,
    database: &str,
    key: &str,
) -> std::process::Command {
    let mut command = freshtoken_with(data_dir, fake);
    command
        .env("FRESHTOKEN_DATABASE_URL", database)
        .env("FRESHTOKEN_SECRET_KEY", key)
        .env(
            "FRESHTOKEN_CLOCK_URL",
            format!("{}/__fake/clock", fake.base_url()),
        )
        .env("FRESHTOKEN_SCHEDULER_INTERVAL", "100ms")
        .env("FRESHTOKEN_WORKER_POLL_INTERVAL", "50ms")
        .env("FRESHTOKEN_WORKER_LEASE", "4s")
        .env("FRESHTOKEN_WORKER_CONCURRENCY", "16")
        .env("FRESHTOKEN_RATE_LIMIT_PER_ADDRESS", "0")
        .env("FRESHTOKEN_LOG", "warn");
    command
}

/// Waits until the service has done what the day asks: no active account is due at the
/// fake's `now` any more (it was refreshed, or its failure planned a retry).
async fn caught_up(
    owner: &mut Browser,
    accounts: &str,
    now: chrono::DateTime<chrono::Utc>,
    day: u32,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = owner.get(accounts).await;
        assert_eq!(list.status, 200, "{:?}", list.body);
        let due: Vec<_> = list
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|account| account["status"] == "active")
            .filter(|account| {
                account["next_refresh_at"]
                    .as_str()
                    .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                    .is_none_or(|at| at <= now)
            })
            .map(|account| account["username"].clone())
            .collect();
        if due.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "day {day}: still due after 60 s: {due:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_year_of_faults_and_a_crash_keeps_every_token_alive_and_reports_the_revoked_one()
 {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let database = freshtoken_store::testing::TestDatabase::new().await;
    let key = freshtoken_store::SecretKey::generate().to_base64();
    let data_dir = tempfile::tempdir().unwrap();
    let start = || serve(data_dir.path(), &fake, &database.url, &key);
    let mut service = Process::serve(start()).await;

    let mut owner = Browser::new(&service.base_url);
    let me = owner.sign_up("owner@bakery.example").await;
    let accounts = format!("/api/v1/tenants/{}/accounts", me["tenants"][0]["id"]);
    for n in 0..ACCOUNTS {
        // Pasted tokens of every age from 1 to 50 days: expiry unknown until refreshed.
        let age = Duration::from_secs((1 + (n as u64 % 50)) * 24 * 3600);
        let minted = fake.mint(kind_of(n), &format!("shop_{n:03}"), age);
        let pasted = owner
            .post(
                &accounts,
                json!({"token": minted.access_token, "allowed_origins": [SITE]}),
            )
            .await;
        assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    }

    let client = reqwest::Client::new();
    let clock = format!("{}/__fake/clock", fake.base_url());
    let mut now = chrono::Utc::now();
    for day in 1..=DAYS {
        if let Some((path, count, kind)) = faults_on(day) {
            let calls = FaultMatch {
                path: Some(path.to_owned()),
                ..Default::default()
            };
            fake.inject_fault(calls, count, kind);
        }
        if day == 150 {
            for username in REVOKED {
                fake.revoke_user(username, 460);
            }
        }
        if day == 180 {
            // A crash: SIGKILL while jobs may be in flight; the next start takes over.
            service.kill();
            service = Process::serve(start()).await;
            let cookie = owner.cookie.clone();
            owner = Browser::new(&service.base_url);
            owner.cookie = cookie;
        }
        let moved: serde_json::Value = client
            .post(&clock)
            .json(&json!({"advance_secs": 86_400}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        now = moved["now"].as_str().unwrap().parse().unwrap();
        caught_up(&mut owner, &accounts, now, day).await;
    }

    // Every failure planned for the year was served to the engine.
    let faults: serde_json::Value = client
        .get(format!("{}/__fake/faults", fake.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults, json!([]), "faults never met");

    let list = owner.get(&accounts).await;
    let list = list.body.as_array().unwrap();
    assert_eq!(list.len(), ACCOUNTS);
    for kind in ["instagram", "threads", "facebook_page"] {
        let of_kind = list
            .iter()
            .filter(|account| account["kind"] == kind)
            .count();
        assert!(of_kind >= ACCOUNTS / 3, "{of_kind} {kind} accounts");
    }
    for account in list {
        let username = account["username"].as_str().unwrap();
        if REVOKED.iter().any(|revoked| username.starts_with(revoked)) {
            assert_eq!(account["status"], "needs_reconnect", "{account}");
            continue;
        }
        assert_eq!(account["status"], "active", "{account}");
        if account["kind"] == "facebook_page" {
            assert!(account["token_expires_at"].is_null(), "{account}");
        } else {
            let expires: chrono::DateTime<chrono::Utc> = account["token_expires_at"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                expires > now,
                "{username}'s token expired at {expires}, now {now}"
            );
        }
        let served: serde_json::Value = client
            .get(account["token_json_url"].as_str().unwrap())
            .header("origin", SITE)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = served["token"].as_str().unwrap();
        let me = client
            .get(format!("{}/me", fake.base_url()))
            .query(&[("fields", "id,username"), ("access_token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            me.status(),
            200,
            "the fake refuses {username}'s token after a year: {}",
            me.text().await.unwrap()
        );
    }
}

/// The defect this engine once had: a pasted token's first refresh that failed transiently
/// waited 24 hours, past the token's death. Now it follows the 1, 2, 4 ... minute backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_token_with_hours_left_survives_two_failed_first_refreshes_within_3_minutes() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let database = freshtoken_store::testing::TestDatabase::new().await;
    let key = freshtoken_store::SecretKey::generate().to_base64();
    let data_dir = tempfile::tempdir().unwrap();
    let service = Process::serve(serve(data_dir.path(), &fake, &database.url, &key)).await;
    let mut owner = Browser::new(&service.base_url);
    let me = owner.sign_up("owner@bakery.example").await;
    let accounts = format!("/api/v1/tenants/{}/accounts", me["tenants"][0]["id"]);

    fake.inject_fault(
        FaultMatch {
            path: Some("/refresh_access_token".to_owned()),
            ..Default::default()
        },
        2,
        FaultKind::ServerError,
    );
    // 12 hours left, which nobody here knows: a pasted token's expiry is unknown.
    let minted = fake.mint_token(
        "corner_bakery",
        Duration::from_secs(59 * 24 * 3600 + 12 * 3600),
    );
    let pasted = owner
        .post(
            &accounts,
            json!({"token": minted.access_token, "allowed_origins": [SITE]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let account = format!("{accounts}/{}", pasted.body["id"]);
    let pasted_at = fake.now();

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let refreshed = loop {
        // The account is read once a round, so its planned retry and whether it has refreshed
        // come from the same moment (reading events first raced with the refresh).
        let view = owner.get(&account).await.body;
        if !view["last_refresh_at"].is_null() {
            let events = owner.get(&format!("{account}/events")).await;
            break events.body.as_array().unwrap().clone();
        }
        if let Some(next) = view["next_refresh_at"].as_str() {
            // Move the fake's clock (and so the service's) to the planned retry.
            let next: chrono::DateTime<chrono::Utc> = next.parse().unwrap();
            let wait = (next - fake.now()).num_seconds();
            if wait > 0 {
                assert!(wait <= 240, "a retry planned {wait} s ahead: {view}");
                client
                    .post(format!("{}/__fake/clock", fake.base_url()))
                    .json(&json!({"advance_secs": wait + 1}))
                    .send()
                    .await
                    .unwrap();
            }
        }
        assert!(Instant::now() < deadline, "never refreshed: {view}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let outcomes: Vec<_> = refreshed
        .iter()
        .map(|event| event["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        vec![json!("refreshed"), json!("transient"), json!("transient")],
        "newest first"
    );
    let at: chrono::DateTime<chrono::Utc> = refreshed[0]["at"].as_str().unwrap().parse().unwrap();
    // At most 60 + 120 s of backoff, plus the second this test moves the clock past each
    // planned retry and the service's scheduler passes (see the engine test of the same name).
    assert!(
        at - pasted_at <= chrono::Duration::minutes(3) + chrono::Duration::seconds(5),
        "refreshed {} s after pasting",
        (at - pasted_at).num_seconds()
    );
    let view = owner.get(&account).await.body;
    assert_eq!(view["status"], "active");
    assert!(view["last_error"].is_null(), "{view}");
    let expires: chrono::DateTime<chrono::Utc> =
        view["token_expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires - fake.now() > chrono::Duration::days(59));
}
