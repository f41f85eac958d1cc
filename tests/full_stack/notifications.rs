//! Webhook endpoints and the delivery log over the API, and the Prometheus metrics.

use serde_json::json;

use crate::support::{Browser, TestApp};
use crate::tenants::join_as;

/// A fresh app and the owner of its one workspace, signed in.
async fn owner_of_a_workspace() -> (TestApp, Browser, i64) {
    let app = TestApp::spawn().await;
    let mut owner = app.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    (app, owner, tenant)
}

#[tokio::test]
async fn an_owner_adds_webhooks_with_signing_secrets_and_removes_them() {
    let (_app, mut owner, tenant) = owner_of_a_workspace().await;
    let hooks = format!("/api/v1/tenants/{tenant}/webhooks");

    let created = owner
        .post(&hooks, json!({"url": "https://example.com/freshtoken"}))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(
        created.body["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(
        created.body["events"],
        json!([
            "token.refreshed",
            "account.needs_reconnect",
            "token.expiring"
        ]),
        "every event when none is named"
    );
    let only = owner
        .post(
            &hooks,
            json!({"url": "https://example.com/alerts", "events": ["token.expiring", "account.needs_reconnect"]}),
        )
        .await;
    assert_eq!(only.status, 201);
    assert_eq!(
        only.body["events"],
        json!(["account.needs_reconnect", "token.expiring"])
    );
    assert_eq!(owner.get(&hooks).await.body.as_array().unwrap().len(), 2);

    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(
        owner
            .send("DELETE", &format!("{hooks}/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .send("DELETE", &format!("{hooks}/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(owner.get(&hooks).await.body.as_array().unwrap().len(), 1);
    let log = owner
        .get(&format!("/api/v1/tenants/{tenant}/notifications"))
        .await;
    assert_eq!(log.status, 200);
    assert_eq!(log.body, json!([]));
}

#[tokio::test]
async fn webhooks_into_the_instances_own_network_or_to_unknown_events_are_refused() {
    let (_app, mut owner, tenant) = owner_of_a_workspace().await;
    let hooks = format!("/api/v1/tenants/{tenant}/webhooks");
    for url in [
        "http://127.0.0.1:8080/admin",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let reply = owner.post(&hooks, json!({"url": url})).await;
        assert_eq!(reply.status, 400, "{url} was accepted");
        assert_eq!(reply.error_code(), "invalid_input");
    }
    let reply = owner
        .post(
            &hooks,
            json!({"url": "https://example.com/h", "events": ["token.stolen"]}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("token.stolen")
    );
}

#[tokio::test]
async fn only_owners_manage_webhooks_and_other_workspaces_see_nothing() {
    let (app, mut owner, tenant) = owner_of_a_workspace().await;
    let hooks = format!("/api/v1/tenants/{tenant}/webhooks");
    let created = owner
        .post(&hooks, json!({"url": "https://example.com/freshtoken"}))
        .await;
    let id = created.body["id"].as_i64().unwrap();

    let (mut editor, _) = join_as(&app, &mut owner, tenant, "editor", "editor@example.com").await;
    assert_eq!(editor.get(&hooks).await.status, 403);
    assert_eq!(
        editor
            .post(&hooks, json!({"url": "https://example.com/x"}))
            .await
            .status,
        403
    );
    assert_eq!(
        editor
            .send("DELETE", &format!("{hooks}/{id}"), None)
            .await
            .status,
        403
    );
    assert_eq!(
        editor
            .get(&format!("/api/v1/tenants/{tenant}/notifications"))
            .await
            .status,
        200,
        "members read the delivery log"
    );

    let mut stranger = app.browser();
    stranger.sign_up("stranger@example.com").await;
    for (method, path) in [
        ("GET", hooks.clone()),
        ("DELETE", format!("{hooks}/{id}")),
        ("GET", format!("/api/v1/tenants/{tenant}/notifications")),
    ] {
        assert_eq!(
            stranger.send(method, &path, None).await.status,
            404,
            "{method} {path}"
        );
    }
    let reply = stranger
        .post(&hooks, json!({"url": "https://evil.example/steal"}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(owner.get(&hooks).await.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn metrics_report_the_backlog_in_prometheus_format() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(format!("{}/metrics", app.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for metric in [
        "freshtoken_queue_depth{queue=\"refresh\"} 0",
        "freshtoken_queue_depth{queue=\"notifications\"} 0",
        "freshtoken_soonest_expiry_seconds",
        "freshtoken_refresh_duration_seconds",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sends_a_test_delivery_that_arrives_signed_and_shows_in_the_log() {
    let app = TestApp::with_mode(
        &[
            "--webhooks-allow-private",
            "--scheduler-interval",
            "200ms",
            "--worker-poll-interval",
            "50ms",
        ],
        freshtoken::server::Mode::Serve,
    )
    .await;
    let mut owner = app.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    let (port, mut received) = crate::support::http_endpoint("text/plain", String::new()).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    // Subscribed to one event only: the test goes out all the same.
    let hook = owner
        .post(
            &format!("/api/v1/tenants/{tenant}/webhooks"),
            json!({"url": url, "events": ["token.expiring"]}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let test = format!("/api/v1/tenants/{tenant}/webhooks/{}/test", hook.body["id"]);

    let queued = owner.post(&test, json!({})).await;
    assert_eq!(queued.status, 202, "{:?}", queued.body);
    assert_eq!(queued.body["event"], "webhook.test");
    assert_eq!(queued.body["status"], "pending");

    let request = tokio::time::timeout(std::time::Duration::from_secs(15), received.recv())
        .await
        .expect("the worker delivers the test within 15 s")
        .unwrap();
    assert!(
        request
            .to_ascii_lowercase()
            .contains("x-freshtoken-signature: t="),
        "{request}"
    );
    assert!(request.contains("\"type\":\"webhook.test\""), "{request}");

    let log = format!("/api/v1/tenants/{tenant}/notifications");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let entries = owner.get(&log).await.body;
        if entries[0]["status"] == "delivered" {
            assert_eq!(entries[0]["event"], "webhook.test");
            assert_eq!(entries[0]["response_status"], 200);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log shows the delivery: {entries}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Another workspace cannot reach the endpoint, and an editor may not test it.
    let mut stranger = app.browser();
    stranger.sign_up("stranger@example.com").await;
    assert_eq!(stranger.post(&test, json!({})).await.status, 404);
    let (mut editor, _) = join_as(&app, &mut owner, tenant, "editor", "editor@example.com").await;
    assert_eq!(editor.post(&test, json!({})).await.status, 403);
    let missing = format!("/api/v1/tenants/{tenant}/webhooks/999999/test");
    assert_eq!(owner.post(&missing, json!({})).await.status, 404);
}
