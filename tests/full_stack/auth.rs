//! Sign-up, sign-in, sessions and the protections around them, over HTTP.

use std::time::Duration;

use serde_json::json;

use crate::support::TestApp;

const PASSWORD: &str = "a long enough password";

#[tokio::test]
async fn the_first_user_runs_the_instance_and_everyone_gets_a_workspace() {
    let app = TestApp::spawn().await;
    let first = app.browser().sign_up("ada@example.com").await;
    assert_eq!(first["user"]["is_operator"], true);
    assert_eq!(first["tenants"][0]["role"], "owner");
    let second = app.browser().sign_up("bob@example.com").await;
    assert_eq!(second["user"]["is_operator"], false);
    assert_eq!(second["tenants"].as_array().unwrap().len(), 1);
    assert_ne!(first["tenants"][0]["id"], second["tenants"][0]["id"]);
}

#[tokio::test]
async fn signup_with_a_taken_email_is_rejected_whatever_its_case() {
    let app = TestApp::spawn().await;
    app.browser().sign_up("ada@example.com").await;
    let reply = app
        .browser()
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error_code(), "conflict");
}

#[tokio::test]
async fn weak_passwords_and_bad_addresses_are_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let reply = browser
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ada@example.com", "password": "short"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at least 10")
    );
    let reply = browser
        .post(
            "/api/v1/auth/signup",
            json!({"email": "not an address", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email")
    );
    let too_long = "x".repeat(1025);
    let reply = browser
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ada@example.com", "password": too_long}),
        )
        .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn malformed_mistyped_oversized_and_non_json_bodies_get_json_errors() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/signin", app.base_url);
    let send = |body: String, content_type: &'static str| {
        client
            .post(&url)
            .header("origin", &app.base_url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases = [
        (
            send("{not json".into(), "application/json").await.unwrap(),
            400,
            "malformed_json",
        ),
        (
            send(r#"{"email": 5, "password": []}"#.into(), "application/json")
                .await
                .unwrap(),
            422,
            "invalid_input",
        ),
        (
            send("email=a".into(), "application/x-www-form-urlencoded")
                .await
                .unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            send(
                format!(r#"{{"email": "{}", "password": "x"}}"#, "a".repeat(200_000)),
                "application/json",
            )
            .await
            .unwrap(),
            413,
            "payload_too_large",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status().as_u16(), status);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
}

#[tokio::test]
async fn signing_in_issues_a_new_session_id_and_the_old_one_dies() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.sign_up("ada@example.com").await;
    let before = browser.cookie.clone().expect("a session after sign-up");

    let reply = browser
        .post(
            "/api/v1/auth/signin",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let after = browser.cookie.clone().unwrap();
    assert_ne!(before, after, "the session id must change at sign-in");
    assert_eq!(browser.get("/api/v1/me").await.status, 200);

    let mut attacker = app.browser();
    attacker.cookie = Some(before);
    assert_eq!(attacker.get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn a_planted_session_id_is_not_adopted_at_sign_in() {
    let app = TestApp::spawn().await;
    app.browser().sign_up("ada@example.com").await;
    let mut victim = app.browser();
    victim.cookie = Some("planted-by-an-attacker".into());
    let reply = victim
        .post(
            "/api/v1/auth/signin",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_ne!(victim.cookie.as_deref(), Some("planted-by-an-attacker"));
    let mut attacker = app.browser();
    attacker.cookie = Some("planted-by-an-attacker".into());
    assert_eq!(attacker.get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn session_cookies_are_http_only_and_same_site_lax() {
    let app = TestApp::spawn().await;
    let reply = app
        .browser()
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    let cookie = reply.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not mark cookies Secure: {cookie}"
    );
}

#[tokio::test]
async fn signing_out_deletes_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.sign_up("ada@example.com").await;
    let stolen = browser.cookie.clone().unwrap();
    assert_eq!(
        browser.post("/api/v1/auth/signout", json!({})).await.status,
        204
    );
    let mut replay = app.browser();
    replay.cookie = Some(stolen);
    assert_eq!(replay.get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app = TestApp::with_args(&["--session-idle", "1s"]).await;
    let mut browser = app.browser();
    browser.sign_up("ada@example.com").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(browser.get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_active() {
    let app = TestApp::with_args(&["--session-max-age", "1s"]).await;
    let mut browser = app.browser();
    browser.sign_up("ada@example.com").await;
    assert_eq!(browser.get("/api/v1/me").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(browser.get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_with_retry_after() {
    let app = TestApp::spawn().await;
    app.browser().sign_up("ada@example.com").await;
    let mut browser = app.browser();
    for _ in 0..5 {
        let reply = browser
            .post(
                "/api/v1/auth/signin",
                json!({"email": "ada@example.com", "password": "wrong password!"}),
            )
            .await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.error_code(), "wrong_credentials");
    }
    // Even the right password waits now.
    let reply = browser
        .post(
            "/api/v1/auth/signin",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 429);
    let retry_after: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
}

#[tokio::test]
async fn unknown_emails_and_wrong_passwords_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.browser().sign_up("ada@example.com").await;
    let mut browser = app.browser();
    let unknown = browser
        .post(
            "/api/v1/auth/signin",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    let wrong = browser
        .post(
            "/api/v1/auth/signin",
            json!({"email": "ada@example.com", "password": "wrong password!"}),
        )
        .await;
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body, wrong.body);
}

#[tokio::test]
async fn state_changes_from_another_origin_are_refused() {
    let app = TestApp::spawn().await;
    let mut own = app.browser();
    own.sign_up("ada@example.com").await;

    let mut forged = own.clone();
    forged.origin = Some("https://evil.example".into());
    let reply = forged
        .post("/api/v1/tenants", json!({"name": "Forged"}))
        .await;
    assert_eq!(reply.status, 403);

    let mut no_origin = own.clone();
    no_origin.origin = None;
    assert_eq!(
        no_origin
            .post("/api/v1/tenants", json!({"name": "Forged"}))
            .await
            .status,
        403
    );
    // Same-origin fetches without Origin still work when the browser says so.
    let reply = no_origin
        .send_with(
            "POST",
            "/api/v1/tenants",
            Some(json!({"name": "Mine"})),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(reply.status, 201);
    // Reading is not a state change.
    assert_eq!(forged.get("/api/v1/me").await.status, 200);
    assert_eq!(
        own.post("/api/v1/tenants", json!({"name": "Real"}))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_closed_instance_refuses_sign_ups_after_the_first() {
    let app = TestApp::with_args(&["--signup", "closed"]).await;
    app.browser().sign_up("operator@example.com").await;
    let reply = app
        .browser()
        .post(
            "/api/v1/auth/signup",
            json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("closed")
    );
}

#[tokio::test]
async fn an_invite_only_instance_lets_people_in_with_an_invitation() {
    let app = TestApp::with_args(&["--signup", "invite"]).await;
    let mut owner = app.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant_id = me["tenants"][0]["id"].as_i64().unwrap();

    let refused = app
        .browser()
        .post(
            "/api/v1/auth/signup",
            json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(refused.status, 403);

    let invite = owner
        .post(
            &format!("/api/v1/tenants/{tenant_id}/invites"),
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(invite.status, 201);
    let secret = invite.body["secret"].as_str().unwrap();
    assert!(invite.body["url"].as_str().unwrap().contains(secret));
    let joined = app
        .browser()
        .post(
            "/api/v1/auth/signup",
            json!({"email": "bob@example.com", "password": PASSWORD, "invite": secret}),
        )
        .await;
    assert_eq!(joined.status, 201, "{:?}", joined.body);
    assert_eq!(joined.body["tenants"][0]["id"], tenant_id);
    assert_eq!(joined.body["tenants"][0]["role"], "editor");
    assert_eq!(
        joined.body["tenants"].as_array().unwrap().len(),
        1,
        "joining creates no workspace"
    );
}

#[tokio::test]
async fn behind_https_session_cookies_are_secure_and_the_https_origin_is_ours() {
    let app = TestApp::with_args(&["--public-url", "https://tokens.example.com"]).await;
    let mut browser = app.browser();
    let refused = browser
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        refused.status, 403,
        "the plain-http origin is not ours any more"
    );
    browser.origin = Some("https://tokens.example.com".into());
    let reply = browser
        .post(
            "/api/v1/auth/signup",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}
