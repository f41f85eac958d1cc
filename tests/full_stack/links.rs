//! Connect links and reconnect links: the account's owner (a developer's client) connects or
//! reconnects an account through a link, with no account here, over real HTTP against the fake;
//! every way a link can be refused stores nothing; and the links in e-mails and webhooks work.

use std::time::Duration;

use fake_instagram::{FakeConfig, FakeInstagram, FaultKind, FaultMatch, MintKind};
use freshtoken::server::Mode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::connect::{Person, app_with_fake_as, page};
use crate::support::{Browser, Process, freshtoken_with, http_endpoint, run};

const SITE: &str = "https://bakery.example";

/// The account's owner: a browser with no session here (but cookies, as browsers keep them),
/// once following redirects and once stopping at each.
struct Client {
    follow: reqwest::Client,
    step: reqwest::Client,
}

impl Client {
    fn new() -> Client {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = |policy| {
            reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(policy)
                .build()
                .unwrap()
        };
        Client {
            follow: client(Policy::limited(10)),
            step: client(Policy::none()),
        }
    }

    /// Opens `url` (a link, or its Connect button) and follows redirects: the page it ends on.
    async fn open(&self, url: &str) -> (u16, String) {
        page(self.follow.get(url).send().await.unwrap()).await
    }

    /// Logs in on the platform as `username` from the link's Connect button, and ends on the
    /// page the callback answers.
    async fn connect_as(&self, fake: &FakeInstagram, link: &str, username: &str) -> (u16, String) {
        fake.set_auto_approve(Some(username));
        let landed = self.open(&format!("{link}/connect")).await;
        fake.set_auto_approve(None);
        landed
    }

    /// Presses the link's Connect button and stops at the platform's login address.
    async fn start(&self, link: &str) -> String {
        let response = self
            .step
            .get(format!("{link}/connect"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Logs in at a platform's login address as `username`, then follows to our callback's page.
    async fn log_in_at(
        &self,
        fake: &FakeInstagram,
        authorize: &str,
        username: &str,
    ) -> (u16, String) {
        fake.set_auto_approve(Some(username));
        let landed = self.open(authorize).await;
        fake.set_auto_approve(None);
        landed
    }
}

/// An agency's owner makes a link into their workspace; returns its address.
async fn make_link(agency: &mut Person, request: Value) -> String {
    let created = agency
        .api
        .post(
            &format!("/api/v1/tenants/{}/connect-links", agency.tenant_id),
            request,
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["url"].as_str().unwrap().to_owned()
}

async fn links_of(agency: &mut Person) -> Vec<Value> {
    let reply = agency
        .api
        .get(&format!(
            "/api/v1/tenants/{}/connect-links",
            agency.tenant_id
        ))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body.as_array().unwrap().clone()
}

async fn from_site(url: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .header("Origin", SITE)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_link_taken_through_the_consent_with_no_session_lands_an_account_with_its_presets()
 {
    let (app, fake) = app_with_fake_as(
        Mode::Serve,
        &[
            "--scheduler-interval",
            "100ms",
            "--worker-poll-interval",
            "50ms",
            "--webhook-allow-hosts",
            "localhost",
        ],
    )
    .await;
    let mut agency = Person::sign_up(&app, "ana@agency.example").await;
    let (port, mut hooks) = http_endpoint("text/plain", String::new()).await;
    let hook = agency
        .api
        .post(
            &format!("/api/v1/tenants/{}/webhooks", agency.tenant_id),
            json!({"url": format!("http://localhost:{port}/hook"), "events": ["account.connected"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let link = make_link(
        &mut agency,
        json!({
            "kind": "instagram",
            "label": "Corner Bakery",
            "presets": {
                "allowed_origins": [SITE],
                "js_constant": "BakeryToken",
                "refresh_interval": "daily",
                "owner_email": "owner@bakery.example",
            },
        }),
    )
    .await;
    assert!(link.starts_with(&format!("{}/c/", app.base_url)), "{link}");

    // The owner's page: light, server-rendered, not indexed, no referrer, names who asks.
    let client = Client::new();
    let response = client.follow.get(&link).send().await.unwrap();
    let headers = response.headers().clone();
    let (status, html) = page(response).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        headers["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(!html.contains("<script"), "no dashboard download: {html}");
    assert!(html.contains("Connect your Instagram account"), "{html}");
    // Who asks: the sender's name and their workspace's (as the sign-up named them).
    assert!(
        html.contains("Test of Test&#39;s workspace asks you"),
        "who sent it: {html}"
    );
    assert!(html.contains("read-only"), "what is granted: {html}");
    assert!(
        html.contains("Apps and websites"),
        "how to revoke it: {html}"
    );
    let connect_button = format!("{}/connect", link.trim_start_matches(&app.base_url));
    assert!(html.contains(&connect_button), "{html}");

    let (status, html) = client.connect_as(&fake, &link, "corner_bakery").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Done, you can close this page"), "{html}");
    assert!(html.contains("@corner_bakery"), "{html}");

    let accounts = agency.accounts().await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let account = &accounts[0];
    assert_eq!(account["username"], "corner_bakery");
    assert_eq!(account["status"], "active");
    assert_eq!(
        account["label"], "Corner Bakery",
        "the link's label by default"
    );
    assert_eq!(account["allowed_origins"], json!([SITE]));
    assert_eq!(account["js_constant"], "BakeryToken");
    assert_eq!(account["refresh_interval"], "daily");
    assert_eq!(account["owner_email"], "owner@bakery.example");
    assert_eq!(
        from_site(account["token_json_url"].as_str().unwrap()).await,
        200
    );

    let request = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
        .await
        .expect("a webhook within 10 s")
        .unwrap();
    assert!(
        request.contains("\"type\":\"account.connected\""),
        "{request}"
    );
    assert!(request.contains("\"via\":\"link\""), "{request}");
    assert!(
        request.contains(&format!("\"id\":{}", account["id"])),
        "{request}"
    );

    let links = links_of(&mut agency).await;
    assert_eq!(links[0]["state"], "used");
    assert_eq!(links[0]["uses"], 1);
    assert_eq!(links[0]["created_by"], "Test", "the sender, by name");
    assert!(
        !links[0].to_string().contains("/c/"),
        "the address is shown once: {links:?}"
    );

    // Single use: it answers a clear page now, and connects nothing more.
    let (status, html) = client.open(&link).await;
    assert_eq!(status, 410);
    assert!(html.contains("used already"), "{html}");
    let (status, _) = client.connect_as(&fake, &link, "other_shop").await;
    assert_eq!(status, 410);
    assert_eq!(agency.accounts().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_used_revoked_and_unknown_links_are_refused_and_store_nothing() {
    let (app, fake) = app_with_fake_as(Mode::Web, &[]).await;
    let mut agency = Person::sign_up(&app, "ana@agency.example").await;
    let client = Client::new();

    let unknown = format!("{}/c/{}", app.base_url, "A".repeat(32));
    let (status, html) = client.open(&unknown).await;
    assert_eq!(status, 404);
    assert!(html.contains("This link does not work"), "{html}");
    assert_eq!(
        client.connect_as(&fake, &unknown, "corner_bakery").await.0,
        404
    );

    let revoked = make_link(&mut agency, json!({"label": "Revoked"})).await;
    let id = links_of(&mut agency).await[0]["id"].as_i64().unwrap();
    let reply = agency
        .api
        .send(
            "DELETE",
            &format!("/api/v1/tenants/{}/connect-links/{id}", agency.tenant_id),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["state"], "revoked");
    let (status, html) = client.open(&revoked).await;
    assert_eq!(status, 410);
    assert!(html.contains("withdrawn"), "{html}");
    assert_eq!(
        client.connect_as(&fake, &revoked, "corner_bakery").await.0,
        410
    );

    let expired = make_link(&mut agency, json!({"label": "Expired"})).await;
    app.sql(
        "UPDATE connect_links SET expires_at = $1 WHERE label = 'Expired'",
        "UPDATE connect_links SET expires_at = ?1 WHERE label = 'Expired'",
        vec![(chrono::Utc::now() - chrono::Duration::hours(1)).into()],
    )
    .await;
    let (status, html) = client.open(&expired).await;
    assert_eq!(status, 410);
    assert!(html.contains("expired"), "{html}");
    assert_eq!(
        client.connect_as(&fake, &expired, "corner_bakery").await.0,
        410
    );

    // Withdrawn while its owner was on the platform's consent page.
    let withdrawn = make_link(&mut agency, json!({"label": "Withdrawn midway"})).await;
    let authorize = client.start(&withdrawn).await;
    let id = links_of(&mut agency).await[0]["id"].as_i64().unwrap();
    agency
        .api
        .send(
            "DELETE",
            &format!("/api/v1/tenants/{}/connect-links/{id}", agency.tenant_id),
            None,
        )
        .await;
    let (status, html) = client.log_in_at(&fake, &authorize, "corner_bakery").await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("withdrawn"), "{html}");
    assert!(agency.accounts().await.is_empty());

    // A round trip handed to someone else: the platform's answer comes back to a browser that
    // did not press the button, and nothing is stored.
    let handed_out = make_link(&mut agency, json!({"label": "Handed out"})).await;
    let authorize = client.start(&handed_out).await;
    let (status, html) = Client::new()
        .log_in_at(&fake, &authorize, "corner_bakery")
        .await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("same browser"), "{html}");
    assert!(agency.accounts().await.is_empty());

    // Two round trips through one single-use link: the first to finish connects, the other
    // is refused and stores nothing.
    let single = make_link(&mut agency, json!({"label": "Once"})).await;
    let first = client.start(&single).await;
    let second = client.start(&single).await;
    let (status, html) = client.log_in_at(&fake, &first, "corner_bakery").await;
    assert_eq!(status, 200, "{html}");
    let (status, html) = client.log_in_at(&fake, &second, "other_shop").await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("used already"), "{html}");
    let accounts = agency.accounts().await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["username"], "corner_bakery");

    // Another workspace neither sees nor revokes these links.
    let mut other = Person::sign_up(&app, "someone@else.example").await;
    assert!(links_of(&mut other).await.is_empty());
    let foreign = other
        .api
        .send(
            "DELETE",
            &format!("/api/v1/tenants/{}/connect-links/{id}", agency.tenant_id),
            None,
        )
        .await;
    assert_eq!(foreign.status, 404);
    let into_own = other
        .api
        .send(
            "DELETE",
            &format!("/api/v1/tenants/{}/connect-links/{id}", other.tenant_id),
            None,
        )
        .await;
    assert_eq!(into_own.status, 404);

    // An unsubscribe address that is not one of ours offers no form to post anywhere.
    for token in ["..%2Fapi%2Fv1%2Fauth%2Fsignout", "nobody"] {
        let (status, html) = client
            .open(&format!("{}/unsubscribe/{token}", app.base_url))
            .await;
        assert_eq!(status, 404, "{token}: {html}");
        assert!(!html.contains("<form"), "{html}");
    }

    for (request, code) in [
        (json!({"expires_in_days": 31}), "invalid_input"),
        (json!({"expires_in_days": 0}), "invalid_input"),
        (
            json!({"presets": {"allowed_origins": ["not a site"]}}),
            "invalid_input",
        ),
        (
            json!({"presets": {"owner_email": "nobody"}}),
            "invalid_input",
        ),
        (json!({"kind": "myspace"}), "invalid_input"),
    ] {
        let refused = agency
            .api
            .post(
                &format!("/api/v1/tenants/{}/connect-links", agency.tenant_id),
                request.clone(),
            )
            .await;
        assert!(
            refused.status == 400 || refused.status == 422,
            "{request}: {:?}",
            refused.body
        );
        if refused.status == 400 {
            assert_eq!(refused.error_code(), code, "{request}");
        }
    }

    // A link speaks for its maker: once the operator disables them, it is withdrawn.
    let theirs = make_link(&mut agency, json!({"label": "Maker leaves"})).await;
    assert_eq!(client.open(&theirs).await.0, 200);
    app.sql(
        "UPDATE users SET disabled_at = $1 WHERE email = 'ana@agency.example'",
        "UPDATE users SET disabled_at = ?1 WHERE email = 'ana@agency.example'",
        vec![chrono::Utc::now().into()],
    )
    .await;
    let (status, html) = client.open(&theirs).await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("withdrawn"), "{html}");
}

/// The first `{base}/c/...` address in `text`.
fn link_in(text: &str, base: &str) -> String {
    let start = text
        .find(&format!("{base}/c/"))
        .unwrap_or_else(|| panic!("no link to {base}/c/ in {text}"));
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/._-".contains(*c))
        .collect()
}

// The real binary, for its log: no link secret may appear in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_link_from_the_emails_revives_the_same_account_at_the_same_token_url_and_refuses_another_user()
 {
    let database = freshtoken_store::testing::TestDatabase::new().await;
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let smtp = freshtoken_worker::testing::SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = freshtoken_store::SecretKey::generate()
        .to_base64()
        .to_string();
    let mut command = freshtoken_with(dir.path(), &fake);
    command
        .env("FRESHTOKEN_DATABASE_URL", &database.url)
        .env("FRESHTOKEN_SECRET_KEY", &key)
        .env("FRESHTOKEN_SMTP_URL", &smtp.url)
        .env(
            "FRESHTOKEN_SMTP_FROM",
            "freshtoken <noreply@tokens.example>",
        )
        .env("FRESHTOKEN_SCHEDULER_INTERVAL", "100ms")
        .env("FRESHTOKEN_WORKER_POLL_INTERVAL", "50ms")
        .env("FRESHTOKEN_WEBHOOK_ALLOW_HOSTS", "localhost");
    let mut server = Process::serve(command).await;
    let base = server.base_url.clone();
    let mut api = Browser::new(&base);
    let me = api.sign_up("ana@agency.example").await;
    let mut agency = Person::from_browser(api, me["tenants"][0]["id"].as_i64().unwrap());
    let (port, mut hooks) = http_endpoint("text/plain", String::new()).await;
    let hook = agency
        .api
        .post(
            &format!("/api/v1/tenants/{}/webhooks", agency.tenant_id),
            json!({"url": format!("http://localhost:{port}/hook"), "events": ["account.needs_reconnect"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);

    // A pasted token is refreshed at once; Instagram answers that refresh with "password
    // changed", as when the owner changes it.
    fake.inject_fault(
        FaultMatch {
            path: Some("refresh_access_token".into()),
            ..FaultMatch::default()
        },
        1,
        FaultKind::Revoked { subcode: 460 },
    );
    let token = fake.mint(
        MintKind::Instagram,
        "corner_bakery",
        Duration::from_secs(2 * 86_400),
    );
    let pasted = agency
        .api
        .post(
            &format!("/api/v1/tenants/{}/accounts", agency.tenant_id),
            json!({"token": token.access_token, "allowed_origins": [SITE]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let account_path = format!(
        "/api/v1/tenants/{}/accounts/{}",
        agency.tenant_id, pasted.body["id"]
    );
    let owner = agency
        .api
        .send(
            "PATCH",
            &account_path,
            Some(json!({"owner_email": "owner@bakery.example"})),
        )
        .await;
    assert_eq!(owner.status, 200, "{:?}", owner.body);
    let public_id = pasted.body["public_id"].as_str().unwrap().to_owned();
    let token_url = pasted.body["token_json_url"].as_str().unwrap().to_owned();

    let webhook = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
        .await
        .expect("a webhook within 10 s")
        .unwrap();
    assert!(webhook.contains("account.needs_reconnect"), "{webhook}");
    let link = link_in(&webhook, &base);
    let mails = smtp.wait_for(2).await;
    let to_agency = mails
        .iter()
        .find(|mail| mail.contains("ana@agency.example"))
        .expect("the workspace's owner is told");
    let to_owner = mails
        .iter()
        .find(|mail| mail.contains("owner@bakery.example"))
        .expect("the account's owner is told");
    assert_eq!(
        link_in(to_agency, &base),
        link,
        "one link, in every message"
    );
    assert_eq!(link_in(to_owner, &base), link);
    assert!(to_owner.contains("log in to Instagram again"), "{to_owner}");
    assert!(
        to_owner.contains(&format!("{base}/unsubscribe/")),
        "{to_owner}"
    );

    let client = Client::new();
    let (status, html) = client.open(&link).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("@corner_bakery"), "{html}");

    // Someone else logging in through it changes nothing, and the link still works.
    let (status, html) = client.connect_as(&fake, &link, "other_shop").await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("This link is for @corner_bakery"), "{html}");
    let accounts = agency.accounts().await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["status"], "needs_reconnect");
    assert_eq!(from_site(&token_url).await, 410);

    let (status, html) = client.connect_as(&fake, &link, "corner_bakery").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Done, you can close this page"), "{html}");
    let account = agency.api.get(&account_path).await.body;
    assert_eq!(account["status"], "active");
    assert_eq!(account["public_id"], public_id.as_str(), "same token URLs");
    assert_eq!(account["allowed_origins"], json!([SITE]), "same settings");
    assert_eq!(
        from_site(&token_url).await,
        200,
        "the website needs no edit"
    );
    assert_eq!(client.open(&link).await.0, 410, "used");

    // The owner leaves the e-mails.
    let unsubscribe = {
        let start = to_owner.find(&format!("{base}/unsubscribe/")).unwrap();
        to_owner[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let (status, html) = client.open(&unsubscribe).await;
    assert_eq!(status, 200, "asks first: {html}");
    let (status, html) = page(client.follow.post(&unsubscribe).send().await.unwrap()).await;
    assert_eq!(status, 200, "{html}");
    let account = agency.api.get(&account_path).await.body;
    assert!(account["owner_unsubscribed_at"].is_string(), "{account}");

    server.terminate();
    let log = server.output_after_exit();
    let secret = link.rsplit('/').next().unwrap();
    assert!(log.contains("/c/"), "the requests are logged: {log}");
    assert!(!log.contains(secret), "the link's secret is not: {log}");
    let unsubscribe_token = unsubscribe.rsplit('/').next().unwrap();
    assert!(!log.contains(unsubscribe_token), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_links_and_members_and_imports_name_an_owner() {
    let database = freshtoken_store::testing::TestDatabase::new().await;
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = freshtoken_store::SecretKey::generate()
        .to_base64()
        .to_string();
    let instance = || {
        let mut command = freshtoken_with(dir.path(), &fake);
        command
            .env("FRESHTOKEN_DATABASE_URL", &database.url)
            .env("FRESHTOKEN_SECRET_KEY", &key);
        command
    };
    let cli = |args: &[&str]| {
        let mut command = instance();
        command.args(args);
        let output = run(&mut command);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };

    let token = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let (ok, stdout, stderr) = cli(&[
        "admin",
        "import-token",
        "--tenant",
        "bakery",
        "--token",
        &token.access_token,
        "--owner",
        "ana@agency.example",
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("created user ana@agency.example"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ana@agency.example is owner of workspace bakery"),
        "{stdout}"
    );
    let password = stdout
        .split("password: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (ok, stdout, stderr) = cli(&[
        "admin",
        "connect-link",
        "--tenant",
        "bakery",
        "--label",
        "Corner Bakery",
        "--origin",
        SITE,
        "--expires-in",
        "3d",
    ]);
    assert!(ok, "{stdout}{stderr}");
    let link = stdout.trim().to_owned();
    assert!(link.contains("/c/"), "{stdout}");
    let (ok, _, stderr) = cli(&[
        "admin",
        "connect-link",
        "--tenant",
        "bakery",
        "--expires-in",
        "31d",
    ]);
    assert!(!ok, "at most 30 days");
    assert!(stderr.contains("30 days"), "{stderr}");

    let (ok, stdout, stderr) = cli(&[
        "admin",
        "add-member",
        "--tenant",
        "bakery",
        "--email",
        "bo@agency.example",
        "--role",
        "viewer",
    ]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("bo@agency.example is viewer of workspace bakery"),
        "{stdout}"
    );
    let (ok, _, stderr) = cli(&[
        "admin",
        "add-member",
        "--tenant",
        "bakery",
        "--email",
        "ana@agency.example",
        "--role",
        "editor",
    ]);
    assert!(!ok, "the only owner stays one");
    assert!(stderr.contains("only owner"), "{stderr}");

    // The owner signs in to the imported workspace and finds the account and the link there.
    let server = Process::serve(instance()).await;
    let mut ana = Browser::new(&server.base_url);
    let signed_in = ana
        .post(
            "/api/v1/auth/signin",
            json!({"email": "ana@agency.example", "password": password}),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let me = ana.get("/api/v1/me").await.body;
    let tenant = &me["tenants"][0];
    assert_eq!(tenant["slug"], "bakery", "{me}");
    assert_eq!(tenant["role"], "owner", "{me}");
    let links = ana
        .get(&format!("/api/v1/tenants/{}/connect-links", tenant["id"]))
        .await
        .body;
    assert_eq!(links[0]["label"], "Corner Bakery", "{links}");
    assert_eq!(links[0]["presets"]["allowed_origins"], json!([SITE]));
    let path = link.split_once("/c/").unwrap().1;
    let (status, html) = Client::new()
        .open(&format!("{}/c/{path}", server.base_url))
        .await;
    assert_eq!(status, 200, "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facebook_link_lets_its_owner_choose_pages_on_the_links_own_page() {
    let (app, fake) = app_with_fake_as(Mode::Web, &[]).await;
    let mut agency = Person::sign_up(&app, "ana@agency.example").await;
    let second = fake.add_page("corner_bakery", "Corner Bakery East");
    let link = make_link(
        &mut agency,
        json!({"kind": "facebook_page", "label": "Bakery East", "presets": {"allowed_origins": [SITE]}}),
    )
    .await;
    let client = Client::new();
    let (status, html) = client.open(&link).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Facebook Page"), "{html}");
    assert!(html.contains("Business integrations"), "{html}");

    let (status, html) = client.connect_as(&fake, &link, "corner_bakery").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Which Pages does the website show?"),
        "{html}"
    );
    assert!(html.contains("Corner Bakery East"), "{html}");
    assert!(!html.contains("EAA"), "never a token: {html}");
    assert!(
        agency.accounts().await.is_empty(),
        "nothing before the choice"
    );
    let handle = html
        .split(r#"name="login" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login's handle in the form")
        .to_owned();
    let choice = [("login", handle.as_str()), ("page_id", second.as_str())];

    // The handle works only in the browser that logged in.
    let elsewhere = Client::new()
        .follow
        .post(format!("{}/c/pages", app.base_url))
        .form(&choice)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);

    let chosen = client
        .follow
        .post(format!("{}/c/pages", app.base_url))
        .form(&choice)
        .send()
        .await
        .unwrap();
    let (status, html) = page(chosen).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Done, you can close this page"), "{html}");
    assert!(html.contains("Corner Bakery East"), "{html}");
    let accounts = agency.accounts().await;
    assert_eq!(accounts.len(), 1, "only the Page chosen: {accounts:?}");
    assert_eq!(accounts[0]["provider_user_id"], second.as_str());
    assert_eq!(accounts[0]["label"], "Bakery East");
    assert_eq!(accounts[0]["allowed_origins"], json!([SITE]));
    assert_eq!(links_of(&mut agency).await[0]["state"], "used");
    assert_eq!(client.open(&link).await.0, 410);
}
