//! Connecting Instagram accounts: the OAuth round trip against the fake over real HTTP, every
//! way it can fail, pasted tokens, and Meta's deauthorize and data-deletion callbacks.

use std::sync::Arc;

use fake_instagram::{FakeConfig, FakeInstagram, FaultKind, FaultMatch, sign_request};
use reqwest::cookie::Jar;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::support::{Browser, TestApp};

/// The app with its Instagram client pointed at a fake of its own.
pub async fn app_with_fake() -> (TestApp, FakeInstagram) {
    app_with_fake_as(freshtoken::server::Mode::Web, &[]).await
}

/// The app as `mode`, with Instagram, Threads and Facebook at a fake (one address, one app
/// for all three), and extra settings.
pub async fn app_with_fake_as(
    mode: freshtoken::server::Mode,
    extra: &[&str],
) -> (TestApp, FakeInstagram) {
    app_with_fake_for(mode, &["instagram", "threads", "facebook"], extra).await
}

/// The app as `mode` with only these platforms' apps configured (all hosts at the fake).
pub async fn app_with_fake_for(
    mode: freshtoken::server::Mode,
    platforms: &[&str],
    extra: &[&str],
) -> (TestApp, FakeInstagram) {
    let fake = FakeInstagram::start(FakeConfig::default())
        .await
        .expect("the fake starts");
    let url = fake.base_url().to_owned();
    let mut args = vec![
        "--instagram-oauth-url",
        &url,
        "--instagram-api-url",
        &url,
        "--instagram-graph-url",
        &url,
        "--threads-oauth-url",
        &url,
        "--threads-graph-url",
        &url,
        "--facebook-oauth-url",
        &url,
        "--facebook-graph-url",
        &url,
    ];
    for platform in platforms {
        let (id, secret) = match *platform {
            "instagram" => ("--instagram-client-id", "--instagram-client-secret"),
            "threads" => ("--threads-client-id", "--threads-client-secret"),
            "facebook" => ("--facebook-app-id", "--facebook-app-secret"),
            other => panic!("no platform {other}"),
        };
        args.extend([id, fake.app_id(), secret, fake.app_secret()]);
    }
    args.extend_from_slice(extra);
    let app = TestApp::with_mode(&args, mode).await;
    (app, fake)
}

/// A signed-up person in a browser: the JSON side for the API, and a cookie jar holding the
/// same session for navigating, once following redirects and once stopping at each.
pub struct Person {
    pub api: Browser,
    pub tenant_id: i64,
    follow: reqwest::Client,
    step: reqwest::Client,
}

impl Person {
    pub async fn sign_up(app: &TestApp, email: &str) -> Person {
        let mut api = app.browser();
        let me = api.sign_up(email).await;
        Person::from_browser(api, me["tenants"][0]["id"].as_i64().unwrap())
    }

    pub fn from_browser(api: Browser, tenant_id: i64) -> Person {
        let jar = Arc::new(Jar::default());
        let cookie = api.cookie.clone().expect("signed in");
        jar.add_cookie_str(
            &format!("freshtoken_session={cookie}; Path=/"),
            &api.base_url.parse().unwrap(),
        );
        let client = |policy| {
            reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(policy)
                .build()
                .unwrap()
        };
        Person {
            tenant_id,
            follow: client(Policy::limited(10)),
            step: client(Policy::none()),
            api,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base_url)
    }

    /// Presses "Connect Instagram" and follows the redirects as far as they go.
    pub async fn press_connect(&self, query: &str) -> reqwest::Response {
        self.follow
            .get(self.url(&format!("/connect/instagram?{query}")))
            .send()
            .await
            .expect("navigate")
    }

    /// Presses Connect and follows the redirects to Instagram's consent page.
    pub async fn open_consent(&self, query: &str) -> ConsentPage {
        let response = self.press_connect(query).await;
        let url = response.url().clone();
        let html = response.text().await.unwrap();
        ConsentPage { url, html }
    }

    /// Submits the consent page's form with `decision` (`allow` or `deny`), logged in as
    /// `username` when given, and follows the redirects from there.
    pub async fn answer(
        &self,
        consent: &ConsentPage,
        username: Option<&str>,
        decision: &str,
    ) -> reqwest::Response {
        let mut form = consent.hidden_fields();
        if let Some(username) = username {
            form.push(("username".into(), username.into()));
        }
        form.push(("decision".into(), decision.into()));
        self.follow
            .post(consent.url.join("/oauth/authorize").unwrap())
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Presses Connect for `platform` (`instagram`, `threads`, `facebook`) and stops at its
    /// login URL.
    pub async fn authorize_url_on(&self, platform: &str) -> String {
        let response = self
            .step
            .get(self.url(&format!("/connect/{platform}?tenant={}", self.tenant_id)))
            .send()
            .await
            .expect("navigate");
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        location(&response)
    }

    /// Goes through Instagram's consent page approving as `username`, and stops at the
    /// callback address Instagram sends the browser back to.
    pub async fn callback_url(&self, fake: &FakeInstagram, username: &str) -> String {
        self.callback_url_on(fake, "instagram", username).await
    }

    /// The same on `platform`'s login.
    pub async fn callback_url_on(
        &self,
        fake: &FakeInstagram,
        platform: &str,
        username: &str,
    ) -> String {
        fake.set_auto_approve(Some(username));
        let authorize = self.authorize_url_on(platform).await;
        let response = self.step.get(&authorize).send().await.expect("navigate");
        fake.set_auto_approve(None);
        location(&response)
    }

    /// Visits `url` (a callback address), following redirects.
    pub async fn visit(&self, url: &str) -> reqwest::Response {
        self.follow.get(url).send().await.expect("navigate")
    }

    pub async fn accounts(&mut self) -> Vec<Value> {
        let reply = self
            .api
            .get(&format!("/api/v1/tenants/{}/accounts", self.tenant_id))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body.as_array().unwrap().clone()
    }

    /// Connects `username` the whole way round; returns the new account's id.
    pub async fn connect(&mut self, fake: &FakeInstagram, username: &str) -> i64 {
        let callback = self.callback_url(fake, username).await;
        let landed = self.visit(&callback).await;
        connected_id(&landed)
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `connected` id in the address a successful round trip ended at.
pub fn connected_id(landed: &reqwest::Response) -> i64 {
    landed
        .url()
        .query_pairs()
        .find(|(name, _)| name == "connected")
        .unwrap_or_else(|| panic!("not connected; ended at {}", landed.url()))
        .1
        .parse()
        .unwrap()
}

/// The fake's consent page, where it was served from and what it says.
pub struct ConsentPage {
    pub url: url::Url,
    pub html: String,
}

impl ConsentPage {
    /// The hidden fields of its form.
    fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for part in self.html.split(r#"<input type="hidden" name=""#).skip(1) {
            let (name, rest) = part.split_once('"').unwrap();
            let value = rest
                .split_once(r#"value=""#)
                .unwrap()
                .1
                .split_once('"')
                .unwrap()
                .0;
            let value = value.replace("&quot;", "\"").replace("&amp;", "&");
            fields.push((name.to_owned(), value));
        }
        fields
    }
}

/// A page of ours: the status, and its text.
pub async fn page(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let html = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.to_str().unwrap().starts_with("text/html"));
    let text = response.text().await.unwrap();
    assert!(html, "not a page ({status}): {text}");
    (status, text)
}

#[tokio::test]
async fn connecting_goes_through_the_consent_page_and_lands_on_the_new_account() {
    let (app, fake) = app_with_fake().await;
    let person = Person::sign_up(&app, "owner@example.com").await;

    let next = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
    let consent = person
        .open_consent(&format!("tenant={}&next={next}", person.tenant_id))
        .await;
    assert!(consent.url.as_str().starts_with(fake.base_url()));
    assert!(consent.html.contains("allow access"), "{}", consent.html);
    let fields = consent.hidden_fields();
    let state = fields.iter().find(|(name, _)| name == "state").unwrap();
    assert!(state.1.len() >= 32, "the state is random and long");

    let landed = person
        .answer(&consent, Some("corner_bakery"), "allow")
        .await;
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.url().path(), next, "back where Connect was pressed");
    let account_id = connected_id(&landed);
    let listed: Vec<Value> = landed.json().await.unwrap();
    assert_eq!(listed.len(), 1);
    let account = &listed[0];
    assert_eq!(account["id"], account_id);
    assert_eq!(account["username"], "corner_bakery");
    assert_eq!(account["status"], "active");
    assert_eq!(
        account["provider_user_id"],
        fake.user_id("corner_bakery").to_string()
    );
    // A long-lived token: about 60 days, refreshed before it runs out.
    let expires =
        chrono::DateTime::parse_from_rfc3339(account["token_expires_at"].as_str().unwrap())
            .unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((58..=60).contains(&days), "{days} days");
    assert!(account["next_refresh_at"].is_string());
    assert!(account["last_error"].is_null());
    let public_id = account["public_id"].as_str().unwrap();
    assert_eq!(
        account["token_json_url"],
        format!("{}/t/{public_id}/token.json", app.base_url)
    );
    assert_eq!(
        account["token_js_url"],
        format!("{}/t/{public_id}/token.js", app.base_url)
    );
    // The token itself never shows in the API.
    assert!(!account.to_string().contains("IGAA"));
    // Closed until its owner names a site (or makes it public): no website gets it yet.
    assert_eq!(account["allowed_origins"], json!([]));
    assert_eq!(account["public"], false);
    let token = reqwest::Client::new()
        .get(account["token_json_url"].as_str().unwrap())
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 403);
}

#[tokio::test]
async fn connecting_the_same_instagram_user_again_updates_it_and_never_duplicates() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let first = person.connect(&fake, "corner_bakery").await;
    let label = person
        .api
        .send(
            "PATCH",
            &format!("/api/v1/tenants/{}/accounts/{first}", person.tenant_id),
            Some(json!({"label": "Shop feed", "allowed_origins": ["https://bakery.example"]})),
        )
        .await;
    assert_eq!(label.status, 200, "{:?}", label.body);

    // The person removes the app on Instagram: the account needs a human.
    let deauthorize = signed_callback(
        &app,
        &fake,
        "deauthorize",
        &fake.user_id("corner_bakery").to_string(),
    )
    .await;
    assert_eq!(deauthorize.status(), 200);
    assert_eq!(person.accounts().await[0]["status"], "needs_reconnect");

    let again = person.connect(&fake, "corner_bakery").await;
    assert_eq!(again, first);
    let accounts = person.accounts().await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    assert_eq!(accounts[0]["status"], "active", "revived");
    assert!(accounts[0]["last_error"].is_null());
    assert_eq!(accounts[0]["label"], "Shop feed", "settings survive");
    assert_eq!(
        accounts[0]["allowed_origins"],
        json!(["https://bakery.example"])
    );

    let other = person.connect(&fake, "studio_two").await;
    assert_ne!(other, first);
    assert_eq!(person.accounts().await.len(), 2);
}

#[tokio::test]
async fn the_same_instagram_user_in_two_workspaces_is_two_separate_accounts() {
    let (app, fake) = app_with_fake().await;
    let mut alice = Person::sign_up(&app, "alice@example.com").await;
    let mut bob = Person::sign_up(&app, "bob@example.com").await;
    let for_alice = alice.connect(&fake, "shared_shop").await;
    let for_bob = bob.connect(&fake, "shared_shop").await;
    assert_ne!(for_alice, for_bob);
    assert_eq!(alice.accounts().await.len(), 1);
    assert_eq!(bob.accounts().await.len(), 1);
}

#[tokio::test]
async fn declining_on_instagram_ends_on_a_page_with_nothing_connected() {
    let (app, _fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let consent = person
        .open_consent(&format!("tenant={}&next=/accounts", person.tenant_id))
        .await;
    let landed = person.answer(&consent, None, "deny").await;
    let (status, html) = page(landed).await;
    assert_eq!(status, 200);
    assert!(html.contains("Nothing was connected"), "{html}");
    assert!(html.contains(r#"href="/accounts""#), "a way back: {html}");
    assert!(person.accounts().await.is_empty());
}

#[tokio::test]
async fn a_state_works_once() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let callback = person.callback_url(&fake, "corner_bakery").await;
    connected_id(&person.visit(&callback).await);

    let (status, html) = page(person.visit(&callback).await).await;
    assert_eq!(status, 400);
    assert!(html.contains("already been used"), "{html}");
    assert_eq!(person.accounts().await.len(), 1);
}

#[tokio::test]
async fn a_missing_or_made_up_state_is_refused() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let code = fake.issue_code(
        "corner_bakery",
        &format!("{}/connect/instagram/callback", app.base_url),
    );
    let missing = person
        .visit(&format!(
            "{}/connect/instagram/callback?code={code}",
            app.base_url
        ))
        .await;
    let (status, html) = page(missing).await;
    assert_eq!(status, 400);
    assert!(html.contains("did not carry the state"), "{html}");

    let made_up = person
        .visit(&format!(
            "{}/connect/instagram/callback?code={code}&state=guessed",
            app.base_url
        ))
        .await;
    assert_eq!(page(made_up).await.0, 400);
    assert!(person.accounts().await.is_empty());
}

#[tokio::test]
async fn a_state_expires_after_ten_minutes() {
    use sea_orm::ConnectionTrait;
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let callback = person.callback_url(&fake, "corner_bakery").await;

    // Ten minutes pass on the consent page.
    let database = sea_orm::Database::connect(&app.database.url).await.unwrap();
    database
        .execute_unprepared("UPDATE oauth_states SET expires_at = created_at")
        .await
        .unwrap();
    database.close().await.unwrap();

    let (status, html) = page(person.visit(&callback).await).await;
    assert_eq!(status, 400);
    assert!(html.contains("expired"), "{html}");
    assert!(person.accounts().await.is_empty());
    assert!(
        !fake
            .calls()
            .iter()
            .any(|call| call.path.ends_with("access_token")),
        "the code was never exchanged"
    );
}

#[tokio::test]
async fn a_state_started_in_another_session_is_refused() {
    let (app, fake) = app_with_fake().await;
    let mut victim = Person::sign_up(&app, "victim@example.com").await;
    let attacker = Person::sign_up(&app, "attacker@example.com").await;
    // The attacker lures the victim to a callback carrying the attacker's own Instagram
    // account, to have it connected into the victim's workspace.
    let lure = attacker.callback_url(&fake, "attackers_account").await;
    let (status, html) = page(victim.visit(&lure).await).await;
    assert_eq!(status, 403);
    assert!(html.contains("started elsewhere"), "{html}");
    assert!(victim.accounts().await.is_empty());

    // The same user signed in in another browser is another session too.
    let callback = victim.callback_url(&fake, "corner_bakery").await;
    let mut elsewhere = app.browser();
    let signed_in = elsewhere
        .post(
            "/api/v1/auth/signin",
            json!({"email": "victim@example.com", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let other_browser = Person::from_browser(elsewhere, victim.tenant_id);
    assert_eq!(page(other_browser.visit(&callback).await).await.0, 403);
    assert!(victim.accounts().await.is_empty());
}

#[tokio::test]
async fn a_bad_code_ends_on_a_page_and_saves_nothing() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let callback = person.callback_url(&fake, "corner_bakery").await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "code" {
                "AQ-not-a-real-code".to_owned()
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);

    let (status, html) = page(person.visit(url.as_str()).await).await;
    assert_eq!(status, 400);
    assert!(html.contains("did not accept"), "{html}");
    assert!(html.contains("href=\"/\""), "a way back: {html}");
    assert!(person.accounts().await.is_empty());
}

#[tokio::test]
async fn an_instagram_outage_midway_saves_nothing() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;

    // The code is exchanged and upgraded, then reading the profile fails.
    let callback = person.callback_url(&fake, "corner_bakery").await;
    fake.inject_fault(
        FaultMatch {
            path: Some("me".into()),
            ..Default::default()
        },
        1,
        FaultKind::ServerError,
    );
    let (status, html) = page(person.visit(&callback).await).await;
    assert_eq!(status, 502);
    assert!(html.contains("Instagram did not answer"), "{html}");
    assert!(person.accounts().await.is_empty());

    // Instagram is unreachable at the first call.
    let callback = person.callback_url(&fake, "corner_bakery").await;
    fake.inject_fault(FaultMatch::default(), 1, FaultKind::Reset);
    let (status, _) = page(person.visit(&callback).await).await;
    assert_eq!(status, 502);
    assert!(person.accounts().await.is_empty());

    // Once Instagram is back, Connect works.
    person.connect(&fake, "corner_bakery").await;
    assert_eq!(person.accounts().await.len(), 1);
}

#[tokio::test]
async fn the_return_path_only_points_into_our_own_site() {
    let (app, _fake) = app_with_fake().await;
    let person = Person::sign_up(&app, "owner@example.com").await;
    for next in [
        "//evil.test/",
        "https://evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
    ] {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("tenant", &person.tenant_id.to_string())
            .append_pair("next", next)
            .finish();
        let response = person
            .step
            .get(person.url(&format!("/connect/instagram?{query}")))
            .send()
            .await
            .unwrap();
        let (status, html) = page(response).await;
        assert_eq!(status, 400, "{next}");
        assert!(html.contains("must be a page of this site"), "{html}");
    }
}

#[tokio::test]
async fn only_signed_in_owners_and_editors_of_an_enabled_workspace_may_connect() {
    let (app, fake) = app_with_fake().await;
    let mut owner = Person::sign_up(&app, "owner@example.com").await;
    let tenant_id = owner.tenant_id;

    let stranger = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let response = stranger
        .get(format!(
            "{}/connect/instagram?tenant={tenant_id}",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    let (status, html) = page(response).await;
    assert_eq!(status, 401);
    assert!(html.contains("sign in"), "{html}");

    let (viewer, _) =
        crate::tenants::join_as(&app, &mut owner.api, tenant_id, "viewer", "v@example.com").await;
    let viewer = Person::from_browser(viewer, tenant_id);
    let (status, html) = page(viewer.press_connect(&format!("tenant={tenant_id}")).await).await;
    assert_eq!(status, 403);
    assert!(html.contains("Viewers cannot connect"), "{html}");

    let (editor, _) =
        crate::tenants::join_as(&app, &mut owner.api, tenant_id, "editor", "e@example.com").await;
    let mut editor = Person::from_browser(editor, tenant_id);
    editor.connect(&fake, "corner_bakery").await;
    assert_eq!(editor.accounts().await.len(), 1);

    // Someone else's workspace is not found, whatever its id.
    let outsider = Person::sign_up(&app, "outsider@example.com").await;
    let (status, _) = page(outsider.press_connect(&format!("tenant={tenant_id}")).await).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn without_an_instagram_app_connect_explains_and_pasting_still_works() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let me = browser.sign_up("owner@example.com").await;
    let instance = browser.get("/api/v1/instance").await;
    assert_eq!(instance.body["instagram_connect"], false);
    assert_eq!(instance.body["demo"], false);
    let person = Person::from_browser(browser, me["tenants"][0]["id"].as_i64().unwrap());
    let (status, html) = page(person.press_connect("").await).await;
    assert_eq!(status, 503);
    assert!(html.contains("FRESHTOKEN_INSTAGRAM_CLIENT_ID"), "{html}");
}

#[tokio::test]
async fn a_pasted_token_is_checked_with_instagram_before_it_is_stored() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let accounts = format!("/api/v1/tenants/{}/accounts", person.tenant_id);
    let long_lived = fake.mint_token("corner_bakery", std::time::Duration::from_secs(3600));

    let pasted = person
        .api
        .post(
            &accounts,
            json!({"token": format!("  {}\n", long_lived.access_token), "label": "Shop",
                   "allowed_origins": ["https://bakery.example", "https://*.bakery.example"]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    assert_eq!(pasted.body["username"], "corner_bakery");
    assert_eq!(pasted.body["label"], "Shop");
    assert_eq!(
        pasted.body["allowed_origins"],
        json!(["https://bakery.example", "https://*.bakery.example"])
    );
    // Its expiry is unknown until the first refresh, which is due at once.
    assert!(pasted.body["token_expires_at"].is_null());
    assert!(pasted.body["next_refresh_at"].is_string());

    // The same account pasted again is the same account.
    let again = person
        .api
        .post(&accounts, json!({"token": long_lived.access_token}))
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["id"], pasted.body["id"]);

    for (token, says) in [
        ("IGAAnot-a-valid-token", "Instagram refused this token"),
        ("EAAB-a-facebook-token", "Facebook refused this token"),
    ] {
        let refused = person.api.post(&accounts, json!({"token": token})).await;
        assert_eq!(refused.status, 400, "{token}");
        assert_eq!(refused.error_code(), "invalid_token");
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{:?}",
            refused.body
        );
    }
    for body in [
        json!({"token": ""}),
        json!({"token": "two words"}),
        json!({"token": "x".repeat(5000)}),
        json!({"token": "IGAAx", "allowed_origins": ["not an origin"]}),
        json!({"token": "IGAAx", "label": "x".repeat(101)}),
    ] {
        let refused = person.api.post(&accounts, body.clone()).await;
        assert_eq!(refused.status, 400, "{body}");
        assert!(refused.body["error"]["message"].is_string());
    }
    let no_token = person.api.post(&accounts, json!({})).await;
    assert_eq!(no_token.status, 422);
    assert_eq!(person.accounts().await.len(), 1);
}

#[tokio::test]
async fn a_pasted_short_lived_token_is_upgraded_to_a_long_lived_one() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let redirect_uri = "https://example.com/callback";
    let code = fake.issue_code("corner_bakery", redirect_uri);
    let short: Value = reqwest::Client::new()
        .post(format!("{}/oauth/access_token", fake.base_url()))
        .form(&[
            ("client_id", fake.app_id()),
            ("client_secret", fake.app_secret()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let pasted = person
        .api
        .post(
            &format!("/api/v1/tenants/{}/accounts", person.tenant_id),
            json!({"token": short["access_token"]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let expires = chrono::DateTime::parse_from_rfc3339(
        pasted.body["token_expires_at"]
            .as_str()
            .expect("a known expiry"),
    )
    .unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((58..=60).contains(&days), "long-lived: {days} days");
    assert!(
        fake.calls()
            .iter()
            .any(|call| call.path.ends_with("/access_token")
                && call.params.get("grant_type").map(String::as_str) == Some("ig_exchange_token")),
        "exchanged with the app secret"
    );
}

#[tokio::test]
async fn an_instagram_outage_while_pasting_is_a_502_and_saves_nothing() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let token = fake.mint_token("corner_bakery", std::time::Duration::from_secs(3600));
    fake.inject_fault(FaultMatch::default(), 1, FaultKind::ServerError);
    let reply = person
        .api
        .post(
            &format!("/api/v1/tenants/{}/accounts", person.tenant_id),
            json!({"token": token.access_token}),
        )
        .await;
    assert_eq!(reply.status, 502, "{:?}", reply.body);
    assert_eq!(reply.error_code(), "instagram_unavailable");
    assert!(person.accounts().await.is_empty());
}

#[tokio::test]
async fn accounts_are_changed_checked_first_and_written_whole() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let id = person.connect(&fake, "corner_bakery").await;
    let path = format!("/api/v1/tenants/{}/accounts/{id}", person.tenant_id);

    let changed = person
        .api
        .send(
            "PATCH",
            &path,
            Some(json!({
                "label": "Bakery",
                "allowed_origins": ["https://bakery.example", "http://localhost:8080"],
                "allow_localhost": true,
                "public": true,
                "js_constant": "BakeryToken",
                "refresh_interval": "monthly",
            })),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(changed.body["label"], "Bakery");
    assert_eq!(changed.body["js_constant"], "BakeryToken");
    assert_eq!(changed.body["refresh_interval"], "monthly");
    assert_eq!(changed.body["allow_localhost"], true);
    assert_eq!(changed.body["public"], true);

    for (body, says) in [
        (json!({"js_constant": "class"}), "js_constant"),
        (json!({"js_constant": "1abc"}), "js_constant"),
        (json!({"js_constant": "a;alert(1)//"}), "js_constant"),
        (
            json!({"allowed_origins": ["ftp://bakery.example"]}),
            "origin",
        ),
        (
            json!({"allowed_origins": ["https://bakery.example/path"]}),
            "origin",
        ),
        (json!({"allowed_origins": ["https://*.com.*"]}), "wildcard"),
        (json!({"label": "a\u{7}b"}), "label"),
        // A valid change beside an invalid one is not applied either.
        (
            json!({"label": "Changed", "js_constant": "var"}),
            "js_constant",
        ),
    ] {
        let refused = person.api.send("PATCH", &path, Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}: {:?}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    // Values of the wrong type or out of their set are refused by the JSON reader.
    for body in [
        json!({"refresh_interval": "hourly"}),
        json!({"paused": "yes"}),
    ] {
        let refused = person.api.send("PATCH", &path, Some(body.clone())).await;
        assert_eq!(refused.status, 422, "{body}: {:?}", refused.body);
        assert_eq!(refused.error_code(), "invalid_input");
    }
    let unchanged = person.api.get(&path).await;
    assert_eq!(unchanged.body["label"], "Bakery");
    assert_eq!(unchanged.body["js_constant"], "BakeryToken");

    // The default name is stored as "use the default".
    let reset = person
        .api
        .send("PATCH", &path, Some(json!({"js_constant": ""})))
        .await;
    assert_eq!(reset.body["js_constant"], "InstagramToken");
}

#[tokio::test]
async fn pause_resume_refresh_now_rotate_and_delete() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let id = person.connect(&fake, "corner_bakery").await;
    let path = format!("/api/v1/tenants/{}/accounts/{id}", person.tenant_id);

    let paused = person
        .api
        .send("PATCH", &path, Some(json!({"paused": true})))
        .await;
    assert_eq!(paused.body["status"], "paused");
    assert!(paused.body["next_refresh_at"].is_null());
    let refused = person.api.post(&format!("{path}/refresh"), json!({})).await;
    assert_eq!(refused.status, 409);
    let resumed = person
        .api
        .send("PATCH", &path, Some(json!({"paused": false})))
        .await;
    assert_eq!(resumed.body["status"], "active");
    assert!(resumed.body["next_refresh_at"].is_string());

    // A fresh token cannot be refreshed before it is a day old: "now" means as soon as allowed.
    let queued = person.api.post(&format!("{path}/refresh"), json!({})).await;
    assert_eq!(queued.status, 202, "{:?}", queued.body);
    let at = chrono::DateTime::parse_from_rfc3339(queued.body["next_refresh_at"].as_str().unwrap())
        .unwrap();
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::hours(23) && wait <= chrono::Duration::hours(24),
        "{wait}"
    );
    // ... and the answer says so, in words with the time, instead of "on its way".
    assert_eq!(queued.body["waits"], true);
    assert_eq!(queued.body["runs_at"], queued.body["next_refresh_at"]);
    let message = queued.body["message"].as_str().unwrap();
    assert!(
        message.contains("a day old") && message.contains(&at.format("%H:%M").to_string()),
        "{message}"
    );

    let before = person.api.get(&path).await.body;
    let rotated = person
        .api
        .post(&format!("{path}/rotate-url"), json!({}))
        .await;
    assert_eq!(rotated.status, 200);
    assert_ne!(rotated.body["public_id"], before["public_id"]);
    assert_ne!(rotated.body["token_json_url"], before["token_json_url"]);

    let events = person.api.get(&format!("{path}/events")).await;
    assert_eq!(events.status, 200);
    assert_eq!(events.body, json!([]));
    assert_eq!(
        person
            .api
            .get(&format!("{path}/events?limit=lots"))
            .await
            .status,
        400
    );

    let deleted = person.api.send("DELETE", &path, None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(person.api.get(&path).await.status, 404);
    assert!(person.accounts().await.is_empty());
    assert_eq!(person.api.send("DELETE", &path, None).await.status, 404);
}

#[tokio::test]
async fn viewers_read_accounts_but_change_nothing() {
    let (app, fake) = app_with_fake().await;
    let mut owner = Person::sign_up(&app, "owner@example.com").await;
    let id = owner.connect(&fake, "corner_bakery").await;
    let tenant_id = owner.tenant_id;
    let (mut viewer, _) =
        crate::tenants::join_as(&app, &mut owner.api, tenant_id, "viewer", "v@example.com").await;
    let path = format!("/api/v1/tenants/{tenant_id}/accounts/{id}");
    assert_eq!(viewer.get(&path).await.status, 200);
    let token = fake.mint_token("another", std::time::Duration::from_secs(3600));
    for (method, route, body) in [
        ("PATCH", path.clone(), Some(json!({"label": "x"}))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/rotate-url"), Some(json!({}))),
        ("POST", format!("{path}/refresh"), Some(json!({}))),
        (
            "POST",
            format!("/api/v1/tenants/{tenant_id}/accounts"),
            Some(json!({"token": token.access_token})),
        ),
    ] {
        let reply = viewer.send(method, &route, body).await;
        assert_eq!(reply.status, 403, "{method} {route}");
    }
    assert_eq!(owner.accounts().await.len(), 1);
}

#[tokio::test]
async fn one_workspace_never_sees_or_touches_anothers_accounts() {
    let (app, fake) = app_with_fake().await;
    let mut alice = Person::sign_up(&app, "alice@example.com").await;
    let mut mallory = Person::sign_up(&app, "mallory@example.com").await;
    let account = alice.connect(&fake, "alices_shop").await;
    let before = alice.accounts().await;

    let theirs = format!("/api/v1/tenants/{}/accounts", alice.tenant_id);
    let mine_with_their_id = format!("/api/v1/tenants/{}/accounts/{account}", mallory.tenant_id);
    for (method, route, body) in [
        ("GET", theirs.clone(), None),
        ("POST", theirs.clone(), Some(json!({"token": "IGAAx"}))),
        ("GET", format!("{theirs}/{account}"), None),
        (
            "PATCH",
            format!("{theirs}/{account}"),
            Some(json!({"label": "pwned"})),
        ),
        ("DELETE", format!("{theirs}/{account}"), None),
        (
            "POST",
            format!("{theirs}/{account}/rotate-url"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("{theirs}/{account}/refresh"),
            Some(json!({})),
        ),
        ("GET", format!("{theirs}/{account}/events"), None),
        ("GET", mine_with_their_id.clone(), None),
        (
            "PATCH",
            mine_with_their_id.clone(),
            Some(json!({"label": "pwned"})),
        ),
        ("DELETE", mine_with_their_id.clone(), None),
        (
            "POST",
            format!("{mine_with_their_id}/rotate-url"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("{mine_with_their_id}/refresh"),
            Some(json!({})),
        ),
        ("GET", format!("{mine_with_their_id}/events"), None),
    ] {
        let reply = mallory.api.send(method, &route, body).await;
        assert_eq!(reply.status, 404, "{method} {route}: {:?}", reply.body);
    }
    assert!(mallory.accounts().await.is_empty());
    assert_eq!(alice.accounts().await, before, "untouched");
}

/// Posts a callback from "Meta", signed with the app secret.
async fn signed_callback(
    app: &TestApp,
    fake: &FakeInstagram,
    which: &str,
    user_id: &str,
) -> reqwest::Response {
    let payload = json!({
        "algorithm": "HMAC-SHA256",
        "issued_at": chrono::Utc::now().timestamp(),
        "user_id": user_id,
    });
    post_signed_request(app, which, &sign_request(&payload, fake.app_secret())).await
}

async fn post_signed_request(app: &TestApp, which: &str, signed: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/connect/instagram/{which}", app.base_url))
        .form(&[("signed_request", signed)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn deauthorize_stops_the_account_at_once_in_every_workspace() {
    let (app, fake) = app_with_fake().await;
    let mut alice = Person::sign_up(&app, "alice@example.com").await;
    let mut bob = Person::sign_up(&app, "bob@example.com").await;
    alice.connect(&fake, "shared_shop").await;
    bob.connect(&fake, "shared_shop").await;
    alice.connect(&fake, "unrelated").await;

    let reply = signed_callback(
        &app,
        &fake,
        "deauthorize",
        &fake.user_id("shared_shop").to_string(),
    )
    .await;
    assert_eq!(reply.status(), 200);

    for person in [&mut alice, &mut bob] {
        let accounts = person.accounts().await;
        let shared = accounts
            .iter()
            .find(|account| account["username"] == "shared_shop")
            .unwrap();
        assert_eq!(shared["status"], "needs_reconnect");
        assert!(shared["last_error"].as_str().unwrap().contains("removed"));
        assert!(shared["token_expires_at"].is_null(), "the token is gone");
        assert!(shared["next_refresh_at"].is_null());
    }
    let unrelated = alice.accounts().await;
    let unrelated = unrelated
        .iter()
        .find(|account| account["username"] == "unrelated")
        .unwrap();
    assert_eq!(unrelated["status"], "active");
}

#[tokio::test]
async fn data_deletion_removes_the_users_accounts_and_answers_with_a_status_page() {
    let (app, fake) = app_with_fake().await;
    let mut alice = Person::sign_up(&app, "alice@example.com").await;
    let mut bob = Person::sign_up(&app, "bob@example.com").await;
    alice.connect(&fake, "leaving_user").await;
    bob.connect(&fake, "leaving_user").await;
    alice.connect(&fake, "staying_user").await;

    let reply = signed_callback(
        &app,
        &fake,
        "data-deletion",
        &fake.user_id("leaving_user").to_string(),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    let code = body["confirmation_code"].as_str().unwrap();
    let url = body["url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("{}/connect/instagram/data-deletion/{code}", app.base_url)
    );

    let remaining = alice.accounts().await;
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0]["username"], "staying_user");
    assert!(bob.accounts().await.is_empty());

    let status = reqwest::get(url).await.unwrap();
    assert_eq!(status.headers()["x-robots-tag"], "noindex");
    let (status, html) = page(status).await;
    assert_eq!(status, 200);
    assert!(html.contains(code), "{html}");
    assert!(html.contains("2 connected account"), "{html}");
    assert!(!html.contains("leaving_user"), "no identifying data kept");

    let unknown = reqwest::get(format!(
        "{}/connect/instagram/data-deletion/not-a-code",
        app.base_url
    ))
    .await
    .unwrap();
    assert_eq!(page(unknown).await.0, 404);
}

#[tokio::test]
async fn forged_callbacks_from_meta_are_refused_and_change_nothing() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    person.connect(&fake, "corner_bakery").await;
    let user_id = fake.user_id("corner_bakery").to_string();
    let now = chrono::Utc::now().timestamp();
    let payload = json!({"algorithm": "HMAC-SHA256", "issued_at": now, "user_id": user_id});

    let wrong_secret = sign_request(&payload, "not-the-app-secret");
    // A genuine signature over someone else's payload, with this user's payload swapped in.
    let genuine = sign_request(
        &json!({"algorithm": "HMAC-SHA256", "issued_at": now, "user_id": "1"}),
        fake.app_secret(),
    );
    let swapped = format!(
        "{}.{}",
        genuine.split_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let unsigned = format!(
        ".{}",
        URL_SAFE_NO_PAD.encode(json!({"algorithm": "none", "user_id": user_id}).to_string())
    );
    // A genuine request, captured and replayed two days later.
    let replayed = sign_request(
        &json!({"algorithm": "HMAC-SHA256",
                "issued_at": chrono::Utc::now().timestamp() - 2 * 24 * 3600,
                "user_id": user_id}),
        fake.app_secret(),
    );
    let other_algorithm = sign_request(
        &json!({"algorithm": "HMAC-SHA1", "issued_at": now, "user_id": user_id}),
        fake.app_secret(),
    );
    for which in ["deauthorize", "data-deletion"] {
        for forged in [
            wrong_secret.as_str(),
            swapped.as_str(),
            unsigned.as_str(),
            other_algorithm.as_str(),
            replayed.as_str(),
            "garbage",
            "",
        ] {
            let reply = post_signed_request(&app, which, forged).await;
            assert_eq!(reply.status(), 400, "{which} {forged}");
            let body: Value = reply.json().await.unwrap();
            assert!(body["error"]["message"].is_string(), "{body}");
        }
        let no_field = reqwest::Client::new()
            .post(format!("{}/connect/instagram/{which}", app.base_url))
            .form(&[("something_else", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(no_field.status(), 400);
    }
    let accounts = person.accounts().await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["status"], "active");
}

#[tokio::test]
async fn demo_mode_lets_a_newcomer_connect_without_a_meta_app() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::support::freshtoken(dir.path());
    // As in a compose file; `freshtoken serve --demo` is the same.
    command.env("FRESHTOKEN_DEMO", "true");
    let server = crate::support::Process::serve(command).await;
    let mut browser = Browser::new(&server.base_url);
    let instance = browser.get("/api/v1/instance").await;
    assert_eq!(instance.body["demo"], true);
    assert_eq!(instance.body["instagram_connect"], true);
    let me = browser.sign_up("newcomer@example.com").await;
    let mut person = Person::from_browser(browser, me["tenants"][0]["id"].as_i64().unwrap());

    let consent = person
        .open_consent(&format!("tenant={}", person.tenant_id))
        .await;
    assert_ne!(
        consent.url.port(),
        url::Url::parse(&server.base_url).unwrap().port()
    );
    assert!(consent.html.contains("Fake Instagram"), "{}", consent.html);
    assert!(
        consent.html.contains("demo_bakery"),
        "demo users to choose from: {}",
        consent.html
    );
    let landed = person.answer(&consent, Some("demo_bakery"), "allow").await;
    connected_id(&landed);
    let accounts = person.accounts().await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["username"], "demo_bakery");
    assert_eq!(accounts[0]["status"], "active");

    // Every page of the flow says that this is the demo.
    let (_, html) = page(
        person
            .visit(&format!("{}/connect/instagram/callback", server.base_url))
            .await,
    )
    .await;
    assert!(html.contains("Demo mode"), "{html}");
}

/// Polls the account (and its history) until `done` says so, for at most 30 seconds.
async fn wait_for(
    person: &mut Person,
    path: &str,
    what: &str,
    done: impl Fn(&Value, &[Value]) -> bool,
) -> (Value, Vec<Value>) {
    for _ in 0..150 {
        let account = person.api.get(path).await.body;
        let events = person.api.get(&format!("{path}/events")).await.body;
        let events = events.as_array().cloned().unwrap_or_default();
        if done(&account, &events) {
            return (account, events);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen within 30 seconds");
}

fn outcomes(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|event| event["outcome"].as_str())
        .collect()
}

/// The demo's story, as a visitor lives it: a connected account refreshes at once, shows
/// pictures served by the fake, and its scenes bring a refresh, a failing refresh near expiry
/// and a revocation within seconds, on the real clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_a_tokens_story_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::support::freshtoken(dir.path());
    command.env("FRESHTOKEN_DEMO", "true");
    let server = crate::support::Process::serve(command).await;
    let mut browser = Browser::new(&server.base_url);
    let me = browser.sign_up("visitor@example.com").await;
    let mut person = Person::from_browser(browser, me["tenants"][0]["id"].as_i64().unwrap());
    let consent = person
        .open_consent(&format!("tenant={}", person.tenant_id))
        .await;
    let fake_origin = consent.url.origin().ascii_serialization();
    let landed = person.answer(&consent, Some("demo_studio"), "allow").await;
    let id = connected_id(&landed);
    let path = format!("/api/v1/tenants/{}/accounts/{id}", person.tenant_id);

    // A demo login's token is two days old: "refresh now" runs at once, and says so.
    let queued = person.api.post(&format!("{path}/refresh"), json!({})).await;
    assert_eq!(queued.status, 202, "{:?}", queued.body);
    assert_eq!(queued.body["waits"], false, "{:?}", queued.body);
    assert!(
        queued.body["message"]
            .as_str()
            .unwrap()
            .contains("running now"),
        "{:?}",
        queued.body
    );
    wait_for(&mut person, &path, "the first refresh", |_, events| {
        outcomes(events).contains(&"refreshed")
    })
    .await;

    // Its posts point at pictures the fake serves, which the dashboard may show.
    let mut posts = Value::Null;
    for _ in 0..100 {
        posts = person.api.get(&format!("{path}/media")).await.body;
        if posts["data"]
            .as_array()
            .is_some_and(|data| !data.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let picture = posts["data"][0]["media_url"].as_str().unwrap_or_default();
    assert!(
        picture.starts_with(&format!("{fake_origin}/cdn/")),
        "{posts}"
    );
    let image = reqwest::get(picture).await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert!(
        image.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert!(
        image.bytes().await.unwrap().starts_with(&[0xff, 0xd8]),
        "a JPEG"
    );
    // (The policy every page of ours carries unless it sets a stricter one.)
    let shell = reqwest::get(format!("{}/api/v1/instance", server.base_url))
        .await
        .unwrap();
    let policy = shell.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains(&format!("img-src 'self' https: data: {fake_origin}")),
        "{policy}"
    );

    let scene = |name: &str| json!({"scene": name});
    // A week later: refreshed again.
    let played = person
        .api
        .post(&format!("{path}/demo-scene"), scene("a_week_later"))
        .await;
    assert_eq!(played.status, 202, "{:?}", played.body);
    assert!(
        played.body["message"]
            .as_str()
            .unwrap()
            .contains("A week has passed")
    );
    wait_for(&mut person, &path, "the weekly refresh", |_, events| {
        outcomes(events)
            .iter()
            .filter(|o| **o == "refreshed")
            .count()
            >= 2
    })
    .await;

    // Three days before expiry, with the platform failing: a failed refresh, a warning.
    let played = person
        .api
        .post(&format!("{path}/demo-scene"), scene("expiring_soon"))
        .await;
    assert_eq!(played.status, 202, "{:?}", played.body);
    let expires = chrono::DateTime::parse_from_rfc3339(
        played.body["account"]["token_expires_at"].as_str().unwrap(),
    )
    .unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        (left - chrono::Duration::days(3)).num_seconds().abs() <= 60,
        "{left}"
    );
    let (account, _) = wait_for(
        &mut person,
        &path,
        "the failed refresh",
        |account, events| {
            events
                .first()
                .is_some_and(|event| event["outcome"] == "transient")
                && account["last_error"].is_string()
        },
    )
    .await;
    assert_eq!(account["status"], "active");

    // The owner changes their password: the account needs reconnecting.
    let played = person
        .api
        .post(
            &format!("{path}/demo-scene"),
            scene("owner_changed_password"),
        )
        .await;
    assert_eq!(played.status, 202, "{:?}", played.body);
    wait_for(&mut person, &path, "the revocation", |account, _| {
        account["status"] == "needs_reconnect"
    })
    .await;
    let again = person
        .api
        .post(&format!("{path}/demo-scene"), scene("a_week_later"))
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);
}

#[tokio::test]
async fn demo_scenes_exist_only_in_demo_mode() {
    let (app, fake) = app_with_fake().await;
    let mut person = Person::sign_up(&app, "owner@example.com").await;
    let id = person.connect(&fake, "corner_bakery").await;
    let path = format!("/api/v1/tenants/{}/accounts/{id}", person.tenant_id);
    let refused = person
        .api
        .post(
            &format!("{path}/demo-scene"),
            json!({"scene": "a_week_later"}),
        )
        .await;
    assert_eq!(refused.status, 404);
}
