//! The public token URLs as websites load them: bodies, headers, origin locks and the status
//! codes a site's developer can act on.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sea_orm::{ConnectionTrait, Database, Statement, Value};
use serde_json::json;

use crate::connect::{Person, app_with_fake_as};
use crate::support::TestApp;

/// The website the pasted account is locked to.
const SITE: &str = "https://bakery.example";
/// What a `fetch()` on a page of [`SITE`] sends.
const FROM_SITE: &[(&str, &str)] = &[("origin", SITE)];

/// A signed-up person with one pasted account, locked to [`SITE`]; its token and public URLs.
struct Site {
    app: TestApp,
    person: Person,
    account: String,
    token: String,
    json_url: String,
    js_url: String,
}

impl Site {
    async fn new() -> Site {
        Site::with_args(&[]).await
    }

    /// A site on an app started with extra settings.
    async fn with_args(extra: &[&str]) -> Site {
        let (app, fake) = app_with_fake_as(freshtoken::server::Mode::Web, extra).await;
        let mut person = Person::sign_up(&app, "owner@bakery.example").await;
        let minted = fake.mint_token("corner_bakery", Duration::from_secs(3600));
        let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
        let pasted = person
            .api
            .post(
                &accounts,
                json!({"token": minted.access_token, "allowed_origins": [SITE]}),
            )
            .await;
        assert_eq!(pasted.status, 201, "{:?}", pasted.body);
        let id = pasted.body["id"].as_i64().unwrap();
        // The fake is not needed past the paste.
        drop(fake);
        Site {
            person,
            account: format!("{accounts}/{id}"),
            token: minted.access_token,
            json_url: pasted.body["token_json_url"].as_str().unwrap().to_owned(),
            js_url: pasted.body["token_js_url"].as_str().unwrap().to_owned(),
            app,
        }
    }

    async fn settings(&mut self, body: serde_json::Value) {
        let reply = self
            .person
            .api
            .send("PATCH", &self.account.clone(), Some(body))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }

    /// Runs SQL on the app's database, with `at` bound as `$1`/`?1` where needed.
    async fn sql(&self, sql_postgres: &str, sql_sqlite: &str, values: Vec<Value>) {
        self.app.sql(sql_postgres, sql_sqlite, values).await;
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    reqwest::Client::new()
        .get(url)
        .headers(map)
        .send()
        .await
        .unwrap()
}

/// Waits until `url` answers `status`: a change made behind the web process's back (here,
/// straight in the database, as another process would) shows within 5 seconds.
async fn eventually(url: &str, status: u16) {
    answer_within_bound(url, |answer| answer.status().as_u16() == status).await;
}

/// The first answer of `url` that `wanted` accepts, which must come within the 5 seconds a
/// change may take to reach a web process's memory.
async fn answer_within_bound(
    url: &str,
    wanted: impl Fn(&reqwest::Response) -> bool,
) -> reqwest::Response {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let answer = get(url, FROM_SITE).await;
        if wanted(&answer) {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} still answers {} {:?} after 5 s",
            answer.status(),
            answer.headers()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn token_json_serves_the_token_with_cache_validators() {
    let mut site = Site::new().await;
    let response = get(&site.json_url, FROM_SITE).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "cache-control"), "private, max-age=300");
    assert_eq!(header(&response, "vary"), "Origin, Referer");

    // Made public on purpose: anyone (header-less requests too) and any cache may have it.
    site.settings(json!({"public": true})).await;
    let response = get(&site.json_url, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "public, max-age=300");
    assert_eq!(header(&response, "vary"), "Origin");
    let etag = header(&response, "etag");
    assert!(etag.starts_with('"'), "{etag}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token"], site.token.as_str());
    assert!(body.as_object().unwrap().contains_key("expires_at"));

    let again = get(
        &site.json_url,
        &[("origin", SITE), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);

    let instatokend = site
        .json_url
        .replace("/t/", "/token/")
        .replace("/token.json", "");
    let response = get(&instatokend, FROM_SITE).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"token": site.token}));
}

#[tokio::test]
async fn token_js_defines_a_constant_named_as_asked_and_refuses_anything_else() {
    let mut site = Site::new().await;
    let response = get(&site.js_url, FROM_SITE).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        response.text().await.unwrap(),
        format!("const InstagramToken = \"{}\";\n", site.token)
    );
    let renamed = get(&format!("{}?const=feedToken", site.js_url), FROM_SITE).await;
    assert_eq!(
        renamed.text().await.unwrap(),
        format!("const feedToken = \"{}\";\n", site.token)
    );
    site.settings(json!({"js_constant": "BakeryToken"})).await;
    let saved = get(&site.js_url, FROM_SITE).await;
    assert!(
        saved
            .text()
            .await
            .unwrap()
            .starts_with("const BakeryToken = ")
    );

    for name in [
        "1abc",
        "class",
        "a-b",
        "x;alert(1)//",
        "x=1;const y",
        "</script>",
        "window",
        "",
    ] {
        let url = reqwest::Url::parse_with_params(&site.js_url, &[("const", name)]).unwrap();
        let response = get(url.as_str(), FROM_SITE).await;
        // A script tag runs nothing from a 400: the refusal is a script that says why.
        assert_eq!(response.status(), 200, "{name:?}");
        assert_eq!(header(&response, "cache-control"), "no-store");
        let script = response.text().await.unwrap();
        assert!(
            script.starts_with("console.error(\"freshtoken: ?const: ")
                && !script.contains(&site.token),
            "{name:?} was accepted: {script}"
        );
    }
}

#[tokio::test]
async fn origin_locks_serve_allowed_sites_with_cors_and_refuse_the_rest() {
    let mut site = Site::new().await;
    site.settings(json!({
        "allowed_origins": ["https://bakery.example", "https://*.shop.example"],
    }))
    .await;
    let url = site.json_url.clone();

    let allowed = get(&url, &[("origin", "https://bakery.example")]).await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        "https://bakery.example"
    );
    assert_eq!(header(&allowed, "vary"), "Origin, Referer");
    assert_eq!(header(&allowed, "cache-control"), "private, max-age=300");
    assert_eq!(
        get(&url, &[("origin", "https://a.b.shop.example")])
            .await
            .status(),
        200
    );
    for origin in [
        "https://evil.example",
        "https://bakery.example.evil.test",
        "https://evilbakery.example",
        "http://bakery.example",
        "https://bakery.example:8443",
        "https://shop.example",
        "null",
        "http://localhost:3000",
    ] {
        let refused = get(&url, &[("origin", origin)]).await;
        assert_eq!(refused.status(), 403, "{origin} was served");
        // The page's fetch() can read why: CORS names it, the body holds no token.
        assert_eq!(header(&refused, "access-control-allow-origin"), origin);
        assert_eq!(header(&refused, "cache-control"), "no-store");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not an allowed origin of this token"),
            "{body}"
        );
    }
    // A script tag sends only Referer: its origin is what counts, not its path.
    let script = get(
        &site.js_url,
        &[("referer", "https://bakery.example/menu?page=2")],
    )
    .await;
    assert_eq!(script.status(), 200);
    assert_eq!(header(&script, "access-control-allow-origin"), "");
    assert_eq!(header(&script, "vary"), "Origin, Referer");
    let refused_script = get(
        &site.js_url,
        &[("referer", "https://evil.example/https://bakery.example/")],
    )
    .await;
    assert_eq!(
        refused_script.status(),
        200,
        "browsers run no script from a 403"
    );
    assert_eq!(header(&refused_script, "cache-control"), "no-store");
    assert_eq!(
        refused_script.text().await.unwrap(),
        "console.error(\"freshtoken: https://evil.example is not an allowed origin of this token; add it in the dashboard\");\n"
    );
    assert_eq!(get(&url, &[]).await.status(), 403, "no Origin nor Referer");

    site.settings(json!({"allow_localhost": true})).await;
    assert_eq!(
        get(&url, &[("origin", "http://localhost:3000")])
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&url, &[]).await.status(),
        403,
        "header-less requests are refused whatever the switches"
    );
    // The switch that reopened the lock is gone, and saying so is not silently ignored.
    let removed = site
        .person
        .api
        .send(
            "PATCH",
            &site.account.clone(),
            Some(json!({"allow_no_origin": true})),
        )
        .await;
    assert_eq!(removed.status, 400, "{:?}", removed.body);

    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://bakery.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-requested-with")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin"),
        "https://bakery.example"
    );
    assert_eq!(
        header(&preflight, "access-control-allow-headers"),
        "x-requested-with"
    );
    let refused = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn each_state_an_account_can_be_in_has_its_own_status() {
    let mut site = Site::new().await;
    let unknown = get(
        &format!("{}/t/nosuchaccount000000000/token.json", site.app.base_url),
        &[],
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    site.settings(json!({"paused": true})).await;
    assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 403);
    site.settings(json!({"paused": false})).await;
    assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 200);

    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    site.sql(
        "UPDATE tokens SET expires_at = $1",
        "UPDATE tokens SET expires_at = ?1",
        vec![Value::from(past)],
    )
    .await;
    eventually(&site.json_url, 410).await;
    let expired = get(&site.json_url, FROM_SITE).await;
    let body: serde_json::Value = expired.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    site.sql(
        "UPDATE accounts SET status = 'needs_reconnect'",
        "UPDATE accounts SET status = 'needs_reconnect'",
        vec![],
    )
    .await;
    site.sql(
        "UPDATE tokens SET expires_at = NULL",
        "UPDATE tokens SET expires_at = NULL",
        vec![],
    )
    .await;
    eventually(&site.json_url, 410).await;

    // The first person to sign up runs the instance: disabling the workspace stops serving.
    site.sql(
        "UPDATE accounts SET status = 'active'",
        "UPDATE accounts SET status = 'active'",
        vec![],
    )
    .await;
    eventually(&site.json_url, 200).await;
    let tenant = site.person.tenant_id;
    let disabled = site
        .person
        .api
        .post(
            &format!("/api/v1/admin/tenants/{tenant}/disable"),
            json!({}),
        )
        .await;
    assert!(disabled.status < 300, "{:?}", disabled.body);
    assert_eq!(
        get(&site.json_url, FROM_SITE).await.status(),
        403,
        "at once: the change went through this process"
    );
}

#[tokio::test]
async fn a_rotated_url_stops_serving_at_once() {
    let mut site = Site::new().await;
    let rotated = site
        .person
        .api
        .post(&format!("{}/rotate-url", site.account), json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 404);
    let new_url = rotated.body["token_json_url"].as_str().unwrap();
    assert_eq!(get(new_url, FROM_SITE).await.status(), 200);
}

#[tokio::test]
async fn media_json_asks_the_worker_for_a_sync_then_serves_the_synced_posts() {
    let site = Site::new().await;
    let url = site.json_url.replace("token.json", "media.json");
    let first = get(&url, FROM_SITE).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "cache-control"), "no-store");
    let body: serde_json::Value = first.json().await.unwrap();
    assert_eq!(body, json!({"data": [], "synced_at": null}));

    let db = Database::connect(site.app.database.url.as_str())
        .await
        .unwrap();
    let wanted = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM accounts WHERE media_requested_at IS NOT NULL",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(wanted, 1, "the worker is asked to sync this account");

    // What the worker's media sync stores.
    let items = json!([{"id": "1801", "caption": "Fresh bread", "media_type": "IMAGE",
        "media_url": "https://cdn.example/1801.jpg", "thumbnail_url": null,
        "permalink": "https://instagram.com/p/1801", "timestamp": "2026-11-20T08:00:00+0000"}]);
    site.sql(
        "INSERT INTO account_media (account_id, items, synced_at) SELECT id, $1, $2 FROM accounts",
        "INSERT INTO account_media (account_id, items, synced_at) SELECT id, ?1, ?2 FROM accounts",
        vec![
            Value::from(items.to_string()),
            Value::from(chrono::Utc::now()),
        ],
    )
    .await;
    let synced =
        answer_within_bound(&url, |answer| header(answer, "cache-control") != "no-store").await;
    assert_eq!(synced.status(), 200);
    assert_eq!(header(&synced, "cache-control"), "private, max-age=300");
    let body: serde_json::Value = synced.json().await.unwrap();
    assert_eq!(body["data"], items);
    assert!(body["synced_at"].is_string());
    assert!(!body.to_string().contains(&site.token), "never the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_by_the_same_process_shows_on_the_token_url_at_once() {
    let (app, fake) = crate::connect::app_with_fake_as(
        freshtoken::server::Mode::Serve,
        &[
            "--scheduler-interval",
            "200ms",
            "--worker-poll-interval",
            "50ms",
        ],
    )
    .await;
    let mut person = Person::sign_up(&app, "owner@bakery.example").await;
    // Two days old, so Instagram refreshes it at once; its expiry is unknown until then.
    let minted = fake.mint_token("corner_bakery", Duration::from_secs(2 * 24 * 3600));
    let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
    let pasted = person
        .api
        .post(
            &accounts,
            json!({"token": minted.access_token, "allowed_origins": [SITE]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let url = pasted.body["token_json_url"].as_str().unwrap().to_owned();
    let events = format!("{accounts}/{}/events", pasted.body["id"]);
    let before: serde_json::Value = get(&url, FROM_SITE).await.json().await.unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while person
        .api
        .get(&events)
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never refreshed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after: serde_json::Value = get(&url, FROM_SITE).await.json().await.unwrap();
    assert!(
        after["expires_at"].is_string(),
        "the refreshed expiry shows at once, not after the cache's 5 s (before: {before})"
    );
}

#[tokio::test]
async fn a_client_address_over_its_limit_gets_429_with_retry_after() {
    let site = Site::with_args(&["--rate-limit-per-address", "3"]).await;
    for _ in 0..3 {
        assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 200);
    }
    let limited = get(&site.json_url, FROM_SITE).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = header(&limited, "retry-after").parse().unwrap();
    assert!((1..=20).contains(&wait), "Retry-After: {wait}");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Unknown ids count against the address too: scanning for ids is no way around it.
    let unknown = format!("{}/t/nosuchaccount000000000/token.json", site.app.base_url);
    assert_eq!(get(&unknown, FROM_SITE).await.status(), 429);
}

#[tokio::test]
async fn an_account_over_its_limit_gets_429_whoever_asks() {
    let site = Site::with_args(&[
        "--rate-limit-per-account",
        "2",
        "--rate-limit-per-address",
        "0",
    ])
    .await;
    assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 200);
    assert_eq!(get(&site.js_url, FROM_SITE).await.status(), 200);
    let limited = get(&site.json_url, FROM_SITE).await;
    assert_eq!(limited.status(), 429);
    assert!(!header(&limited, "retry-after").is_empty());
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let site = Site::with_args(&[
        "--rate-limit-per-address",
        "2",
        "--trusted-proxies",
        "127.0.0.1,::1",
    ])
    .await;
    let from = |client: &'static str| [("origin", SITE), ("x-forwarded-for", client)];
    for _ in 0..2 {
        let answer = get(&site.json_url, &from("203.0.113.1")).await;
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(
        get(&site.json_url, &from("203.0.113.1")).await.status(),
        429
    );
    assert_eq!(
        get(&site.json_url, &from("203.0.113.2")).await.status(),
        200
    );

    // Without the setting, the header is the client's own word and changes nothing.
    let direct = Site::with_args(&["--rate-limit-per-address", "2"]).await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(get(&direct.json_url, &from(client)).await.status(), 200);
    }
    assert_eq!(
        get(&direct.json_url, &from("203.0.113.3")).await.status(),
        429
    );
}

#[tokio::test]
async fn request_counts_show_at_once_and_reach_the_database_in_batches() {
    let mut site = Site::new().await;
    site.settings(json!({"allowed_origins": ["https://bakery.example"]}))
        .await;
    let allowed = [("origin", "https://bakery.example")];
    for _ in 0..3 {
        assert_eq!(get(&site.json_url, &allowed).await.status(), 200);
    }
    let refused = [("origin", "https://evil.example")];
    assert_eq!(get(&site.json_url, &refused).await.status(), 403);
    // Neither Origin nor Referer: refused, and counted apart so the owner sees who asks so.
    assert_eq!(get(&site.json_url, &[]).await.status(), 403);

    let account = site.person.api.get(&site.account.clone()).await;
    assert_eq!(
        account.body["requests_today"],
        json!({"served": 3, "refused": 2, "refused_no_origin": 1})
    );
    let stored = |site: &Site| {
        let url = site.app.database.url.clone();
        async move {
            let db = Database::connect(url.as_str()).await.unwrap();
            db.query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FROM account_request_counts",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
        }
    };
    assert_eq!(stored(&site).await, 0, "no database write per request");

    let history = site
        .person
        .api
        .get(&format!("{}/requests?days=7", site.account))
        .await;
    assert_eq!(history.status, 200, "{:?}", history.body);
    let days = history.body.as_array().unwrap();
    assert_eq!(days.len(), 7, "every day, oldest first, zeros included");
    assert_eq!(days[0]["served"], 0);
    assert_eq!(
        days[6],
        json!({
            "day": chrono::Utc::now().date_naive().to_string(),
            "served": 3,
            "refused": 2,
            "refused_no_origin": 1,
        })
    );
    let bad = site
        .person
        .api
        .get(&format!("{}/requests?days=1000", site.account))
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn request_counts_are_written_every_interval() {
    let mut site = Site::with_args(&["--request-counts-interval", "200ms"]).await;
    assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 200);
    assert_eq!(get(&site.json_url, FROM_SITE).await.status(), 200);
    let db = Database::connect(site.app.database.url.as_str())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let served = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT CAST(COALESCE(SUM(served), 0) AS BIGINT) FROM account_request_counts",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        if served == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "served: {served}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Written once, counted once: the view adds what is pending, not what is stored twice.
    let account = site.person.api.get(&site.account.clone()).await;
    assert_eq!(account.body["requests_today"]["served"], 2);
}

/// Two `freshtoken web` processes on one database (PostgreSQL in CI's second run, SQLite in
/// the first): what one of them changes, the other stops serving within 5 seconds, though it
/// holds the account's answers in memory.
#[tokio::test]
async fn every_web_process_follows_changes_made_through_another_within_5_seconds() {
    use crate::support::{Browser, Process, freshtoken_with};
    use fake_instagram::{FakeConfig, FakeInstagram};

    let database = freshtoken_store::testing::TestDatabase::new().await;
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let key = freshtoken_store::SecretKey::generate().to_base64();
    let data_dir = tempfile::tempdir().unwrap();
    let web = || {
        let mut command = freshtoken_with(data_dir.path(), &fake);
        command
            .env("FRESHTOKEN_DATABASE_URL", &database.url)
            .env("FRESHTOKEN_SECRET_KEY", key.as_str())
            .env("FRESHTOKEN_LOG", "warn");
        command
    };
    let editor = Process::start(web(), "web").await;
    let other = Process::start(web(), "web").await;

    let mut owner = Browser::new(&editor.base_url);
    let me = owner.sign_up("owner@bakery.example").await;
    let accounts = format!("/api/v1/tenants/{}/accounts", me["tenants"][0]["id"]);
    let minted = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let pasted = owner
        .post(
            &accounts,
            json!({"token": minted.access_token, "allowed_origins": [SITE]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let account = format!("{accounts}/{}", pasted.body["id"]);
    let path = |reply: &crate::support::Reply| {
        let url = reply.body["token_json_url"].as_str().unwrap();
        url::Url::parse(url).unwrap().path().to_owned()
    };
    let token_path = path(&pasted);
    let on = |process: &Process, path: &str| format!("{}{path}", process.base_url);

    // Both hold the account's answers in memory now.
    for process in [&editor, &other] {
        for _ in 0..3 {
            assert_eq!(
                get(&on(process, &token_path), FROM_SITE).await.status(),
                200
            );
        }
    }

    let mut change = async |body: serde_json::Value| {
        let reply = owner.send("PATCH", &account, Some(body)).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    };
    change(json!({"paused": true})).await;
    assert_eq!(
        get(&on(&editor, &token_path), FROM_SITE).await.status(),
        403,
        "the process that made the change shows it at once"
    );
    eventually(&on(&other, &token_path), 403).await;
    change(json!({"paused": false})).await;
    eventually(&on(&other, &token_path), 200).await;

    change(json!({"allowed_origins": ["https://bakery.example"]})).await;
    let evil = [("origin", "https://evil.example")];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while get(&on(&other, &token_path), &evil).await.status() != 403 {
        assert!(
            std::time::Instant::now() < deadline,
            "the lock did not reach the other process"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let rotated = owner
        .post(&format!("{account}/rotate-url"), json!({}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    eventually(&on(&other, &token_path), 404).await;
    let token_path = path(&rotated);
    let bakery = [("origin", "https://bakery.example")];
    assert_eq!(get(&on(&other, &token_path), &bakery).await.status(), 200);

    let deleted = owner.send("DELETE", &account, None).await;
    assert!(deleted.status < 300, "{:?}", deleted.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while get(&on(&other, &token_path), &bakery).await.status() != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "a deleted account is still served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn members_preview_the_posts_without_the_origin_lock_and_nobody_else_does() {
    let (app, fake) = app_with_fake_as(freshtoken::server::Mode::Web, &[]).await;
    let mut person = Person::sign_up(&app, "owner@bakery.example").await;
    let minted = fake.mint_token("corner_bakery", Duration::from_secs(2 * 24 * 3600));
    let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
    let pasted = person
        .api
        .post(
            &accounts,
            json!({"token": minted.access_token, "allowed_origins": ["https://bakery.example"]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let media = format!("{accounts}/{}/media", pasted.body["id"]);

    // Nothing synced yet: an empty list, and the worker is asked for a sync.
    let first = person.api.get(&media).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, json!({"data": [], "synced_at": null}));

    let mut stranger = app.browser();
    stranger.sign_up("someone@else.example").await;
    assert_eq!(stranger.get(&media).await.status, 404);
    let signed_out = crate::support::Browser::new(&app.base_url)
        .get(&media)
        .await;
    assert_eq!(signed_out.status, 401);
}

/// The lock is closed by default: an account that names no site serves no browser, and a
/// request with neither Origin nor Referer (what `referrerpolicy="no-referrer"` or `curl`
/// sends) is refused whatever the account's origins. Servers ask with a `tokens:read` key.
#[tokio::test]
async fn a_new_account_serves_nobody_but_its_workspaces_read_keys_until_a_site_is_named() {
    let (app, fake) = app_with_fake_as(freshtoken::server::Mode::Web, &[]).await;
    let mut person = Person::sign_up(&app, "owner@bakery.example").await;
    let minted = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
    let pasted = person
        .api
        .post(&accounts, json!({"token": minted.access_token}))
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    assert_eq!(pasted.body["allowed_origins"], json!([]));
    assert_eq!(pasted.body["public"], false);
    let account = format!("{accounts}/{}", pasted.body["id"]);
    let url = pasted.body["token_json_url"].as_str().unwrap().to_owned();
    let instatokend = url.replace("/t/", "/token/").replace("/token.json", "");

    for headers in [FROM_SITE, &[("referer", "https://bakery.example/")], &[]] {
        let refused = get(&url, headers).await;
        assert_eq!(refused.status(), 403, "{headers:?} was served");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not served to any site yet"),
            "{body}"
        );
    }

    let keys_path = format!("/api/v1/tenants/{}/api-keys", person.tenant_id);
    let keys_api = person.api.clone();
    let key = |scopes: serde_json::Value| {
        let keys = keys_path.clone();
        let mut api = keys_api.clone();
        async move {
            let created = api
                .post(&keys, json!({"name": "site build", "scopes": scopes}))
                .await;
            assert_eq!(created.status, 201, "{:?}", created.body);
            created.body["secret"].as_str().unwrap().to_owned()
        }
    };
    let reader = key(json!(["tokens:read"])).await;
    let bearer = format!("Bearer {reader}");
    for url in [&url, &instatokend] {
        let served = get(url, &[("authorization", &bearer)]).await;
        assert_eq!(served.status(), 200, "{url}");
        assert_eq!(header(&served, "cache-control"), "no-store");
        let body: serde_json::Value = served.json().await.unwrap();
        assert_eq!(body["token"], minted.access_token.as_str());
    }
    // A leaked build secret can read tokens and do nothing else.
    let denied = reqwest::Client::new()
        .delete(format!("{}{account}", app.base_url))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert!(person.api.get(&account).await.status == 200, "still there");
    // An `api` key (the default) is for the API, not the token URLs.
    let automation = key(serde_json::Value::Null).await;
    let refused = get(&url, &[("authorization", &format!("Bearer {automation}"))]).await;
    assert_eq!(refused.status(), 403);
    // Unknown keys are told so.
    assert_eq!(
        get(&url, &[("authorization", "Bearer ft_nosuchkey")])
            .await
            .status(),
        401
    );
    // Another workspace's reader gets nothing here.
    let mut stranger = Person::sign_up(&app, "someone@else.example").await;
    let theirs = stranger
        .api
        .post(
            &format!("/api/v1/tenants/{}/api-keys", stranger.tenant_id),
            json!({"name": "theirs", "scopes": ["tokens:read"]}),
        )
        .await;
    assert_eq!(theirs.status, 201, "{:?}", theirs.body);
    let theirs = format!("Bearer {}", theirs.body["secret"].as_str().unwrap());
    assert_eq!(get(&url, &[("authorization", &theirs)]).await.status(), 403);

    // Public, deliberately: everyone, header-less requests included.
    let made_public = person
        .api
        .send("PATCH", &account, Some(json!({"public": true})))
        .await;
    assert_eq!(made_public.status, 200, "{:?}", made_public.body);
    assert_eq!(get(&url, &[]).await.status(), 200);
    assert_eq!(
        get(&url, &[("origin", "https://anywhere.example")])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn keys_carry_scopes_and_expiry_and_an_expired_key_is_refused() {
    let site = Site::new().await;
    let mut api = site.person.api.clone();
    let keys = format!("/api/v1/tenants/{}/api-keys", site.person.tenant_id);
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let created = api
        .post(
            &keys,
            json!({"name": "ci", "scopes": ["tokens:read"], "expires_at": soon}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["key"]["scopes"], json!(["tokens:read"]));
    assert_eq!(created.body["key"]["expires_at"], soon.as_str());
    assert_eq!(created.body["key"]["active"], true);
    let bearer = format!("Bearer {}", created.body["secret"].as_str().unwrap());
    assert_eq!(
        get(&site.json_url, &[("authorization", &bearer)])
            .await
            .status(),
        200
    );
    let listed = api.get(&keys).await;
    assert!(
        listed.body[0]["last_used_at"].is_string(),
        "{:?}",
        listed.body
    );

    for bad in [
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["tokens:write"]}),
        json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "x", "expires_at": "next week"}),
    ] {
        let refused = api.post(&keys, bad.clone()).await;
        assert!(
            refused.status == 400 || refused.status == 422,
            "{bad} gave {} {:?}",
            refused.status,
            refused.body
        );
    }

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        get(&site.json_url, &[("authorization", &bearer)])
            .await
            .status(),
        401
    );
    assert_eq!(api.get(&keys).await.body[0]["active"], false);
}
