//! Every kind of account (Instagram, Facebook Page, Threads) connected by login and by paste,
//! served at the same token URLs, and a Facebook Page's token checked until it dies, against
//! the fake over real HTTP.

use std::time::{Duration, Instant};

use fake_instagram::{FakeInstagram, FaultKind, FaultMatch, MintKind};
use freshtoken::server::Mode;
use serde_json::{Value, json};

use crate::connect::{Person, app_with_fake, app_with_fake_as, app_with_fake_for, connected_id};
use crate::support::Browser;

const SITE: &str = "https://bakery.example";
const DAY: Duration = Duration::from_secs(24 * 3600);

/// GET with `Origin: SITE`, as a script on the site.
async fn from_site(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .header("origin", SITE)
        .send()
        .await
        .unwrap()
}

/// Lets `SITE` load the account's token.
async fn allow_site(person: &mut Person, account_id: i64) -> Value {
    let updated = person
        .api
        .send(
            "PATCH",
            &format!("/api/v1/tenants/{}/accounts/{account_id}", person.tenant_id),
            Some(json!({"allowed_origins": [SITE]})),
        )
        .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    updated.body
}

/// The token.json answer to the site, and the first line of token.js.
async fn served(account: &Value) -> (Value, String) {
    let json_url = account["token_json_url"].as_str().unwrap();
    let answer = from_site(json_url).await;
    assert_eq!(answer.status(), 200, "{json_url}");
    let body: Value = answer.json().await.unwrap();
    let script = from_site(account["token_js_url"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    (body, script)
}

#[tokio::test]
async fn a_threads_profile_connects_by_login_and_is_served_as_threads_token() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let callback = person
        .callback_url_on(&fake, "threads", "corner_bakery")
        .await;
    assert!(callback.contains("/connect/threads/callback"), "{callback}");
    let landed = person.visit(&callback).await;
    let account_id = connected_id(&landed);
    let account = allow_site(&mut person, account_id).await;
    assert_eq!(account["kind"], "threads");
    assert_eq!(account["username"], "corner_bakery");
    assert_eq!(
        account["provider_user_id"],
        fake.threads_id("corner_bakery").to_string()
    );
    assert!(
        account["token_expires_at"].is_string(),
        "a login's token is long-lived"
    );
    assert_eq!(account["js_constant"], "ThreadsToken");

    let (body, script) = served(&account).await;
    assert_eq!(body["kind"], "threads");
    assert!(body["token"].as_str().unwrap().starts_with("TH"));
    assert!(body["expires_at"].is_string());
    assert!(script.starts_with("const ThreadsToken = \"TH"), "{script}");

    // A state started for Instagram is unknown to Threads' callback.
    let instagram_callback = person.callback_url(&fake, "corner_bakery").await;
    let swapped = instagram_callback.replace("/connect/instagram/", "/connect/threads/");
    let (status, text) = crate::connect::page(person.visit(&swapped).await).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(
        person.accounts().await.len(),
        1,
        "nothing else was connected"
    );
}

#[tokio::test]
async fn a_facebook_login_with_one_page_connects_it_with_a_token_that_never_expires() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let authorize = person.authorize_url_on("facebook").await;
    assert!(authorize.contains("/dialog/oauth"), "{authorize}");
    assert!(authorize.contains("pages_show_list"), "{authorize}");
    let callback = person
        .callback_url_on(&fake, "facebook", "corner_bakery")
        .await;
    let landed = person.visit(&callback).await;
    let account_id = connected_id(&landed);
    let account = allow_site(&mut person, account_id).await;
    assert_eq!(account["kind"], "facebook_page");
    assert_eq!(account["username"], "corner_bakery page");
    assert_eq!(account["provider_user_id"], fake.page_id("corner_bakery"));
    assert!(
        account["token_expires_at"].is_null(),
        "a Page token never expires"
    );
    assert_eq!(account["js_constant"], "FacebookPageToken");

    let (body, script) = served(&account).await;
    assert_eq!(body["kind"], "facebook_page");
    assert!(body["token"].as_str().unwrap().starts_with("EAA"));
    assert!(body["expires_at"].is_null());
    assert!(
        script.starts_with("const FacebookPageToken = \"EAA"),
        "{script}"
    );
}

#[tokio::test]
async fn a_facebook_user_with_several_pages_chooses_which_to_connect() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let second = fake.add_page("corner_bakery", "Corner Bakery East");
    let callback = person
        .callback_url_on(&fake, "facebook", "corner_bakery")
        .await;
    let landed = person.visit(&callback).await;
    let handle = landed
        .url()
        .query_pairs()
        .find(|(name, _)| name == "choose_pages")
        .unwrap_or_else(|| panic!("no picker: {}", landed.url()))
        .1
        .into_owned();
    assert!(
        person.accounts().await.is_empty(),
        "nothing connected before the choice"
    );
    let login = format!("/api/v1/tenants/{}/facebook-login", person.tenant_id);
    let offered = person.api.get(&format!("{login}?login={handle}")).await;
    assert_eq!(offered.status, 200, "{:?}", offered.body);
    let names: Vec<&str> = offered.body["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|page| page["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["corner_bakery page", "Corner Bakery East"]);
    assert!(!offered.body.to_string().contains("EAA"), "never a token");

    // Nobody else can see or spend the login, not even in the same workspace.
    let mut stranger = Person::sign_up(&app, "stranger@example.com").await;
    let theirs = format!(
        "/api/v1/tenants/{}/facebook-login?login={handle}",
        stranger.tenant_id
    );
    assert_eq!(stranger.api.get(&theirs).await.status, 404);
    assert_eq!(
        stranger
            .api
            .get(&format!("{login}?login={handle}"))
            .await
            .status,
        404
    );
    let mut same_user_other_session = app.browser();
    same_user_other_session
        .post(
            "/api/v1/auth/signin",
            json!({"email": "owner@example.com", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(
        same_user_other_session
            .get(&format!("{login}?login={handle}"))
            .await
            .status,
        404
    );

    let choose = |page_ids: Value| json!({"login": handle, "page_ids": page_ids});
    let unknown = person.api.post(&login, choose(json!(["999"]))).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error_code(), "no_such_page");
    let none = person.api.post(&login, choose(json!([]))).await;
    assert_eq!(none.status, 400);

    // Facebook fails on the second Page: nothing is connected, and the login can be used again.
    let first = fake.page_id("corner_bakery");
    fake.inject_fault(
        FaultMatch {
            path: Some(second.clone()),
            ..Default::default()
        },
        1,
        FaultKind::ServerError,
    );
    let failed = person
        .api
        .post(&login, choose(json!([first, second])))
        .await;
    assert_eq!(failed.status, 502, "{:?}", failed.body);
    assert!(person.accounts().await.is_empty(), "nothing half-connected");

    let chosen = person.api.post(&login, choose(json!([second]))).await;
    assert_eq!(chosen.status, 201, "{:?}", chosen.body);
    let accounts = chosen.body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["username"], "Corner Bakery East");
    assert_eq!(accounts[0]["kind"], "facebook_page");
    assert_eq!(person.accounts().await.len(), 1);
    // A login connects once.
    let again = person.api.post(&login, choose(json!([second]))).await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn pasting_connects_each_kind_and_a_token_of_another_kind_is_refused() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);

    let threads = fake.mint(MintKind::Threads, "corner_bakery", DAY);
    let pasted = person
        .api
        .post(&accounts, json!({"token": threads.access_token}))
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    assert_eq!(pasted.body["kind"], "threads");
    assert!(
        pasted.body["token_json_url"].is_string(),
        "one account answers as today"
    );

    let mismatch = person
        .api
        .post(
            &accounts,
            json!({"token": threads.access_token, "kind": "instagram"}),
        )
        .await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.error_code(), "kind_mismatch");

    // A Facebook user token connects every Page it manages, or the one asked for.
    fake.add_page("corner_bakery", "Corner Bakery East");
    let user = fake.mint(MintKind::FacebookUser, "corner_bakery", Duration::ZERO);
    let pages = user.pages.clone().unwrap();
    assert_eq!(pages.len(), 2);
    let one = person
        .api
        .post(
            &accounts,
            json!({"token": user.access_token, "page_id": pages[1].id, "label": "East"}),
        )
        .await;
    assert_eq!(one.status, 201, "{:?}", one.body);
    assert_eq!(one.body["username"], "Corner Bakery East");
    assert_eq!(one.body["label"], "East");
    let both = person
        .api
        .post(&accounts, json!({"token": user.access_token}))
        .await;
    assert_eq!(both.status, 201, "{:?}", both.body);
    let connected = both.body["accounts"].as_array().unwrap();
    assert_eq!(connected.len(), 2);
    assert!(
        connected
            .iter()
            .all(|account| account["kind"] == "facebook_page")
    );
    assert_eq!(
        person.accounts().await.len(),
        3,
        "the East page was reconnected, not doubled"
    );

    let not_managed = person
        .api
        .post(
            &accounts,
            json!({"token": user.access_token, "page_id": "123"}),
        )
        .await;
    assert_eq!(not_managed.status, 400);
    assert_eq!(not_managed.error_code(), "no_such_page");

    // A short-lived user token (from a Facebook login an hour ago) is exchanged first, so that
    // its Pages' tokens never expire; a Page token read with one would die within the hour,
    // and is refused with the way out.
    let short = fake.mint_facebook_token("corner_bakery");
    let exchanged = person
        .api
        .post(&accounts, json!({"token": short, "page_id": pages[0].id}))
        .await;
    assert_eq!(exchanged.status, 200, "{:?}", exchanged.body);
    assert!(exchanged.body["token_expires_at"].is_null());
    let expiring = first_page_token(&fake, &short).await;
    let refused = person.api.post(&accounts, json!({"token": expiring})).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "invalid_token");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("paste the user token instead"),
        "{:?}",
        refused.body
    );

    // A Page token connects its own Page; a dead token nothing.
    let page_token = first_page_token(&fake, &user.access_token).await;
    let page = person
        .api
        .post(&accounts, json!({"token": page_token}))
        .await;
    assert_eq!(page.status, 200, "already connected: {:?}", page.body);
    assert_eq!(page.body["provider_user_id"], pages[0].id);
    fake.revoke_user("corner_bakery", 460);
    let dead = person
        .api
        .post(&accounts, json!({"token": page_token}))
        .await;
    assert_eq!(dead.status, 400);
    assert_eq!(dead.error_code(), "invalid_token");
}

/// A Page token of the user's first Page, read as any client of Facebook would.
async fn first_page_token(fake: &FakeInstagram, user_token: &str) -> String {
    let answer: Value = reqwest::get(format!(
        "{}/v23.0/me/accounts?access_token={user_token}",
        fake.base_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    answer["data"][0]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn kinds_without_an_app_are_not_offered_and_their_tokens_not_taken() {
    let (app, fake) = app_with_fake_for(Mode::Web, &["instagram"], &[]).await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let instance = person.api.get("/api/v1/instance").await;
    assert_eq!(instance.body["connect_kinds"], json!(["instagram"]));
    let (status, html) = crate::connect::page(
        person
            .visit(&format!(
                "{}/connect/facebook?tenant={}",
                app.base_url, person.tenant_id
            ))
            .await,
    )
    .await;
    assert_eq!(status, 503);
    assert!(html.contains("FRESHTOKEN_FACEBOOK_APP_ID"), "{html}");
    let user = fake.mint(MintKind::FacebookUser, "corner_bakery", Duration::ZERO);
    let refused = person
        .api
        .post(
            &format!("/api/v1/tenants/{}/accounts", person.tenant_id),
            json!({"token": user.access_token}),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "kind_not_offered");
    let unknown = person
        .visit(&format!("{}/connect/myspace?tenant=1", app.base_url))
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_page_is_found_within_one_check_with_a_webhook_and_stops_being_served() {
    let (app, fake) = app_with_fake_as(
        Mode::Serve,
        &[
            "--scheduler-interval",
            "100ms",
            "--worker-poll-interval",
            "50ms",
            "--page-check-interval",
            "2s",
            "--webhook-allow-hosts",
            "localhost",
        ],
    )
    .await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let (port, mut hooks) = crate::support::http_endpoint("text/plain", String::new()).await;
    let hook = person
        .api
        .post(
            &format!("/api/v1/tenants/{}/webhooks", person.tenant_id),
            json!({"url": format!("http://localhost:{port}/hook"), "events": ["account.needs_reconnect"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let user = fake.mint(MintKind::FacebookUser, "corner_bakery", Duration::ZERO);
    let pasted = person
        .api
        .post(
            &format!("/api/v1/tenants/{}/accounts", person.tenant_id),
            json!({"token": user.access_token, "allowed_origins": [SITE]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let account_id = pasted.body["id"].as_i64().unwrap();
    let events = format!(
        "/api/v1/tenants/{}/accounts/{account_id}/events",
        person.tenant_id
    );
    let checked = wait_for(&mut person.api, &events, |events| {
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "checked")
    })
    .await;
    assert!(!checked.to_string().contains("refreshed"), "{checked}");
    let token_url = pasted.body["token_json_url"].as_str().unwrap();
    assert_eq!(from_site(token_url).await.status(), 200);

    fake.revoke_user("corner_bakery", 460);
    let revoked_at = Instant::now();
    let account = format!("/api/v1/tenants/{}/accounts/{account_id}", person.tenant_id);
    wait_for(&mut person.api, &account, |account| {
        account["status"] == "needs_reconnect"
    })
    .await;
    assert!(
        revoked_at.elapsed() < Duration::from_secs(2) + Duration::from_secs(3),
        "found within one check interval (2 s) and the scheduler's passes: {:?}",
        revoked_at.elapsed()
    );
    let request = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
        .await
        .expect("a webhook within 10 s")
        .unwrap();
    assert!(
        request.contains("\"type\":\"account.needs_reconnect\""),
        "{request}"
    );
    assert!(
        request.contains(&format!("\"id\":{account_id}")),
        "{request}"
    );
    assert_eq!(from_site(token_url).await.status(), 410, "no longer served");
}

/// Polls `path` until `done` holds of its JSON (10 s at most).
async fn wait_for(api: &mut Browser, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = api.get(path).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        if done(&reply.body) {
            return reply.body;
        }
        assert!(Instant::now() < deadline, "never: {:?}", reply.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn threads_callbacks_reach_threads_accounts_only_and_facebook_has_none() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
    for kind in [MintKind::Threads, MintKind::Instagram] {
        let minted = fake.mint(kind, "corner_bakery", DAY);
        let pasted = person
            .api
            .post(&accounts, json!({"token": minted.access_token}))
            .await;
        assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    }
    let signed = |user_id: String| {
        let payload = json!({
            "algorithm": "HMAC-SHA256",
            "issued_at": chrono::Utc::now().timestamp(),
            "user_id": user_id,
        });
        fake_instagram::sign_request(&payload, fake.app_secret())
    };
    let post = |platform: &str, which: &str, signed: String| {
        reqwest::Client::new()
            .post(format!("{}/connect/{platform}/{which}", app.base_url))
            .form(&[("signed_request", signed)])
            .send()
    };
    let threads_id = fake.threads_id("corner_bakery").to_string();
    let removed = post("threads", "deauthorize", signed(threads_id.clone()))
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let after = person.accounts().await;
    for account in &after {
        let expected = if account["kind"] == "threads" {
            "needs_reconnect"
        } else {
            "active"
        };
        assert_eq!(account["status"], expected, "{account}");
    }
    let facebook = post("facebook", "deauthorize", signed(threads_id.clone()))
        .await
        .unwrap();
    assert_eq!(facebook.status(), 404);

    let deleted = post("threads", "data-deletion", signed(threads_id))
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let body: Value = deleted.json().await.unwrap();
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .contains("/connect/threads/data-deletion/"),
        "{body}"
    );
    let left = person.accounts().await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["kind"], "instagram");
    assert_eq!(
        reqwest::get(body["url"].as_str().unwrap())
            .await
            .unwrap()
            .status(),
        200
    );
}
