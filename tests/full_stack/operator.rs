//! The operator's endpoints and command-line tools.

use serde_json::json;

use crate::support::{TestApp, freshtoken, run};

#[tokio::test]
async fn only_the_operator_sees_the_instance() {
    let app = TestApp::spawn().await;
    let mut operator = app.browser();
    operator.sign_up("op@example.com").await;
    let mut user = app.browser();
    user.sign_up("user@example.com").await;

    for path in ["/api/v1/admin/tenants", "/api/v1/admin/users"] {
        assert_eq!(user.get(path).await.status, 404, "{path}");
    }
    let tenants = operator.get("/api/v1/admin/tenants").await;
    assert_eq!(tenants.status, 200);
    assert_eq!(tenants.body.as_array().unwrap().len(), 2);
    assert_eq!(tenants.body[0]["members"], 1);
    assert_eq!(tenants.body[0]["accounts"], 0);
    let users = operator.get("/api/v1/admin/users").await;
    assert_eq!(users.body.as_array().unwrap().len(), 2);
    assert_eq!(users.body[1]["email"], "user@example.com");
    assert_eq!(users.body[1]["tenants"], 1);
}

#[tokio::test]
async fn the_operator_sees_whether_the_workers_keep_up() {
    let (app, fake) = crate::connect::app_with_fake_as(freshtoken::server::Mode::Web, &[]).await;
    let mut operator = crate::connect::Person::sign_up(&app, "op@example.com").await;
    let mut user = app.browser();
    user.sign_up("user@example.com").await;
    assert_eq!(user.get("/api/v1/admin/health").await.status, 404);

    let empty = operator.api.get("/api/v1/admin/health").await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.body,
        json!({
            "refreshes_due": 0, "notifications_pending": 0, "soonest_expiry_at": null,
            "accounts_active": 0, "accounts_paused": 0, "accounts_needing_reconnect": 0,
        })
    );

    // Two accounts, one paused; no worker runs in this process.
    let accounts = format!("/api/v1/tenants/{}/accounts", operator.tenant_id);
    for name in ["corner_bakery", "night_market"] {
        let minted = fake.mint_token(name, std::time::Duration::from_secs(3600));
        let pasted = operator
            .api
            .post(&accounts, json!({"token": minted.access_token}))
            .await;
        assert_eq!(pasted.status, 201, "{:?}", pasted.body);
        if name == "night_market" {
            let paused = operator
                .api
                .send(
                    "PATCH",
                    &format!("{accounts}/{}", pasted.body["id"]),
                    Some(json!({"paused": true})),
                )
                .await;
            assert_eq!(paused.status, 200, "{:?}", paused.body);
        }
    }
    let health = operator.api.get("/api/v1/admin/health").await.body;
    assert_eq!(health["accounts_active"], 1);
    assert_eq!(health["accounts_paused"], 1);
    assert_eq!(health["accounts_needing_reconnect"], 0);
    // A pasted token is refreshed as soon as Instagram allows, which makes its expiry known:
    // with no worker in this process, the active one waits, and the operator sees it.
    assert_eq!(health["refreshes_due"], 1, "{health}");
    assert_eq!(health["soonest_expiry_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_disabled_tenant_refuses_its_members_until_enabled() {
    let app = TestApp::spawn().await;
    let mut operator = app.browser();
    operator.sign_up("op@example.com").await;
    let mut user = app.browser();
    let me = user.sign_up("user@example.com").await;
    let tenant_id = me["tenants"][0]["id"].as_i64().unwrap();

    let reply = operator
        .post(
            &format!("/api/v1/admin/tenants/{tenant_id}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 204);
    let refused = user.get(&format!("/api/v1/tenants/{tenant_id}")).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );

    operator
        .post(
            &format!("/api/v1/admin/tenants/{tenant_id}/enable"),
            json!({}),
        )
        .await;
    assert_eq!(
        user.get(&format!("/api/v1/tenants/{tenant_id}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_and_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let mut operator = app.browser();
    let op = operator.sign_up("op@example.com").await;
    let mut user = app.browser();
    let me = user.sign_up("user@example.com").await;
    let user_id = me["user"]["id"].as_i64().unwrap();

    assert_eq!(
        operator
            .post(&format!("/api/v1/admin/users/{user_id}/disable"), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(user.get("/api/v1/me").await.status, 401);
    let again = app
        .browser()
        .post(
            "/api/v1/auth/signin",
            json!({"email": "user@example.com", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(again.status, 403);

    let op_id = op["user"]["id"].as_i64().unwrap();
    let reply = operator
        .post(&format!("/api/v1/admin/users/{op_id}/disable"), json!({}))
        .await;
    assert_eq!(reply.status, 409, "an operator cannot lock themselves out");
}

#[tokio::test]
async fn create_user_and_reset_password_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(freshtoken(dir.path()).args([
        "admin",
        "create-user",
        "--email",
        "Op@Example.com",
        "--tenant",
        "acme",
    ]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        printed.contains("operator"),
        "the first user runs the instance: {printed}"
    );
    assert!(printed.contains("owns workspace acme"), "{printed}");
    let generated = printed
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_owned();

    let mut reset = freshtoken(dir.path());
    reset
        .args([
            "admin",
            "reset-password",
            "--email",
            "op@example.com",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = reset.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Sign in through the served app on the same data directory.
    let mut server = crate::support::Process::serve(freshtoken(dir.path())).await;
    let client = reqwest::Client::new();
    let sign_in = |password: String| {
        client
            .post(format!("{}/api/v1/auth/signin", server.base_url))
            .header("origin", &server.base_url)
            .json(&json!({"email": "op@example.com", "password": password}))
            .send()
    };
    assert_eq!(
        sign_in(generated).await.unwrap().status(),
        400,
        "the old password is gone"
    );
    assert_eq!(
        sign_in("a brand new password".into())
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(server.terminate().success());

    let unknown = run(freshtoken(dir.path()).args([
        "admin",
        "reset-password",
        "--email",
        "nobody@example.com",
    ]));
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user"));
}
