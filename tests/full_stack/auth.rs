//! Sign-up, sign-in, sessions and the protections around them, over HTTP.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Browser, Reply, TestApp};

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
async fn an_active_session_outlives_the_idle_window() {
    let app = TestApp::with_args(&["--session-idle", "2s"]).await;
    let mut browser = app.browser();
    browser.sign_up("ada@example.com").await;
    let started = Instant::now();
    let mut renewed = None;
    while started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reply = browser.get("/api/v1/me").await;
        assert_eq!(
            reply.status,
            200,
            "signed out after {:?} of activity",
            started.elapsed()
        );
        if let Some(cookie) = reply.headers.get("set-cookie") {
            renewed = Some(cookie.to_str().unwrap().to_owned());
        }
    }
    // The cookie is renewed with the row, so a browser keeps sending it.
    let cookie = renewed.expect("activity renews the session cookie");
    assert!(cookie.contains("Max-Age=2"), "{cookie}");
    // Left alone, it ends.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(browser.get("/api/v1/me").await.status, 401);
}

#[tokio::test]
async fn the_sessions_table_holds_no_cookie_value() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.sign_up("ada@example.com").await;
    let cookie = browser.cookie.clone().unwrap();
    let db = Database::connect(&app.database.url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, data FROM sessions",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let id: String = rows[0].try_get_by_index(0).unwrap();
    let data: Vec<u8> = rows[0].try_get_by_index(1).unwrap();
    assert_eq!(
        id,
        freshtoken_web::auth::sha256_hex(&cookie),
        "keyed by a hash"
    );
    assert!(
        !String::from_utf8_lossy(&data).contains(&cookie),
        "the data does not carry the id either"
    );
    db.close().await.unwrap();
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

/// The app behind a reverse proxy on 127.0.0.1 (as behind the shipped nginx): clients are
/// told apart by `X-Forwarded-For`.
async fn behind_a_proxy(extra: &[&str]) -> TestApp {
    let mut args = vec!["--trusted-proxies", "127.0.0.1"];
    args.extend_from_slice(extra);
    TestApp::with_args(&args).await
}

/// Signs in as `email` from the client at `client` (through the proxy).
async fn sign_in_from(browser: &mut Browser, client: &str, email: &str, password: &str) -> Reply {
    browser
        .send_with(
            "POST",
            "/api/v1/auth/signin",
            Some(json!({"email": email, "password": password})),
            &[("x-forwarded-for", client)],
        )
        .await
}

fn retry_after(reply: &Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn repeated_wrong_passwords_from_one_client_are_throttled_and_no_one_else_is() {
    let app = behind_a_proxy(&[]).await;
    app.browser().sign_up("ada@example.com").await;
    let mut guesser = app.browser();
    for _ in 0..5 {
        let reply = sign_in_from(
            &mut guesser,
            "203.0.113.7",
            "ada@example.com",
            "wrong password!",
        )
        .await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.error_code(), "wrong_credentials");
    }
    // Even the right password waits now, from that client: a 429 says nothing about it.
    let reply = sign_in_from(&mut guesser, "203.0.113.7", "ada@example.com", PASSWORD).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.error_code(), "rate_limited");
    assert!(retry_after(&reply) > 0);
    // Ada, elsewhere, is not locked out of her own account.
    let reply = sign_in_from(
        &mut app.browser(),
        "198.51.100.1",
        "ada@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test]
async fn bad_sign_ins_from_one_client_behind_the_proxy_do_not_stop_another_client() {
    let app = behind_a_proxy(&[]).await;
    app.browser().sign_up("ada@example.com").await;
    app.browser().sign_up("bob@example.com").await;
    let mut attacker = app.browser();
    let mut statuses = Vec::new();
    for n in 0..25 {
        let email = if n % 2 == 0 {
            "ada@example.com"
        } else {
            format!("user{n}@example.com").leak()
        };
        statuses.push(
            sign_in_from(&mut attacker, "203.0.113.7", email, "wrong password!")
                .await
                .status,
        );
    }
    assert!(
        statuses.contains(&429),
        "the attacker is throttled: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|status| [400, 429].contains(status)),
        "{statuses:?}"
    );

    let mut other = app.browser();
    for email in ["bob@example.com", "ada@example.com"] {
        let reply = sign_in_from(&mut other, "198.51.100.1", email, PASSWORD).await;
        assert_eq!(reply.status, 200, "{email}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn a_client_cannot_dodge_the_throttle_with_its_own_forwarded_for() {
    // No trusted proxy: X-Forwarded-For from the peer is ignored.
    let app = TestApp::spawn().await;
    app.browser().sign_up("ada@example.com").await;
    let mut guesser = app.browser();
    for n in 0..5 {
        let reply = sign_in_from(
            &mut guesser,
            &format!("192.0.2.{n}"),
            "ada@example.com",
            "wrong password!",
        )
        .await;
        assert_eq!(reply.status, 400);
    }
    let reply = sign_in_from(&mut guesser, "192.0.2.99", "ada@example.com", PASSWORD).await;
    assert_eq!(reply.status, 429);
}

#[tokio::test]
async fn a_user_under_attack_from_many_addresses_is_slowed_but_not_locked_out() {
    let app = behind_a_proxy(&[]).await;
    app.browser().sign_up("ada@example.com").await;
    // Sixteen addresses guess at once, a few times each would be refused per address; once
    // each is answered, more and more slowly.
    let guesses = (0..16).map(|n| {
        let mut browser = app.browser();
        async move {
            sign_in_from(
                &mut browser,
                &format!("203.0.113.{n}"),
                "ada@example.com",
                "wrong password!",
            )
            .await
            .status
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    assert!(statuses.iter().all(|status| *status == 400), "{statuses:?}");

    let started = Instant::now();
    let reply = sign_in_from(
        &mut app.browser(),
        "198.51.100.1",
        "ada@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(reply.status, 200, "slowed, not locked: {:?}", reply.body);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "an e-mail address under attack is answered slowly ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn sign_ups_are_limited_per_client_address() {
    let app = behind_a_proxy(&["--signup-limit-per-address", "3"]).await;
    let sign_up = |client: &'static str, email: String| {
        let mut browser = app.browser();
        async move {
            browser
                .send_with(
                    "POST",
                    "/api/v1/auth/signup",
                    Some(json!({"email": email, "password": PASSWORD})),
                    &[("x-forwarded-for", client)],
                )
                .await
        }
    };
    for n in 0..3 {
        assert_eq!(
            sign_up("203.0.113.7", format!("u{n}@example.com"))
                .await
                .status,
            201
        );
    }
    let refused = sign_up("203.0.113.7", "u3@example.com".into()).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.error_code(), "rate_limited");
    assert!(retry_after(&refused) > 0);
    // IPv6 clients count by /64: another address of the same network is the same client.
    for n in 0..3 {
        let client = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"][n];
        assert_eq!(
            sign_up(client, format!("v{n}@example.com")).await.status,
            201
        );
    }
    assert_eq!(
        sign_up("2001:db8:1:2:ffff::9", "v3@example.com".into())
            .await
            .status,
        429
    );
    assert_eq!(
        sign_up("198.51.100.1", "u3@example.com".into())
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_default_sign_up_limit_lets_ten_people_behind_one_address_join() {
    let app = TestApp::spawn().await;
    for n in 0..10 {
        app.browser().sign_up(&format!("u{n}@example.com")).await;
    }
    let reply = app
        .browser()
        .post(
            "/api/v1/auth/signup",
            json!({"email": "u10@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 429);
}

#[tokio::test]
async fn concurrent_first_sign_ups_make_exactly_one_operator() {
    let app = TestApp::spawn().await;
    let sign_ups = (0..8).map(|n| {
        let mut browser = app.browser();
        async move {
            browser
                .post(
                    "/api/v1/auth/signup",
                    json!({"email": format!("u{n}@example.com"), "password": PASSWORD}),
                )
                .await
        }
    });
    let replies = futures_util::future::join_all(sign_ups).await;
    assert!(
        replies.iter().all(|reply| reply.status == 201),
        "{replies:?}"
    );
    let operators = replies
        .iter()
        .filter(|reply| reply.body["user"]["is_operator"] == true)
        .count();
    assert_eq!(operators, 1);
    assert!(
        replies
            .iter()
            .all(|reply| reply.body["tenants"].as_array().unwrap().len() == 1),
        "everyone got a workspace"
    );
}

#[tokio::test]
async fn a_closed_or_invite_only_instance_admits_one_first_user_however_many_race() {
    for mode in ["closed", "invite"] {
        let app = TestApp::with_args(&["--signup", mode]).await;
        let sign_ups = (0..8).map(|n| {
            let mut browser = app.browser();
            async move {
                browser
                    .post(
                        "/api/v1/auth/signup",
                        json!({"email": format!("u{n}@example.com"), "password": PASSWORD}),
                    )
                    .await
                    .status
            }
        });
        let mut statuses = futures_util::future::join_all(sign_ups).await;
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 403, 403, 403, 403, 403, 403, 403], "{mode}");
    }
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
