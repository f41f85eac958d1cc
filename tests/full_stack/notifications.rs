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
            "token.expiring",
            "account.connected"
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
    let listed = owner.get(&hooks).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    for hook in listed.as_array().unwrap() {
        assert!(
            hook.get("secret").is_none(),
            "the secret is shown once, at creation: {hook}"
        );
    }
    assert_eq!(listed[0]["id"], created.body["id"]);
    assert_eq!(listed[0]["url"], created.body["url"]);

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
        "http://0x7f.1/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://100.64.0.1/hook",
        "http://198.18.0.1/hook",
        "http://240.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[fd00::1]/hook",
    ] {
        let reply = owner.post(&hooks, json!({"url": url})).await;
        assert_eq!(reply.status, 400, "{url} was accepted");
        assert_eq!(reply.error_code(), "webhook_not_public", "{url}");
    }
    for url in ["ftp://example.com/hook", "not a url"] {
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
async fn a_webhook_to_a_name_that_resolves_to_loopback_is_refused_unless_the_operator_allows_it() {
    let (_app, mut owner, tenant) = owner_of_a_workspace().await;
    let hooks = format!("/api/v1/tenants/{tenant}/webhooks");
    // `localhost` is a name like any other here: /etc/hosts resolves it to 127.0.0.1.
    let reply = owner
        .post(&hooks, json!({"url": "http://localhost:8080/admin"}))
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.error_code(), "webhook_not_public");
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("localhost resolves to"), "{message}");
    assert!(message.contains("loopback"), "{message}");
    assert!(
        message.contains("FRESHTOKEN_WEBHOOK_ALLOW_HOSTS"),
        "{message}"
    );
    assert_eq!(owner.get(&hooks).await.body, json!([]));

    let intranet = TestApp::with_args(&["--webhook-allow-hosts", "localhost"]).await;
    let mut owner = intranet.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    let hooks = format!("/api/v1/tenants/{tenant}/webhooks");
    let reply = owner
        .post(&hooks, json!({"url": "http://localhost:8080/hook"}))
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let reply = owner
        .post(&hooks, json!({"url": "http://127.0.0.1:8080/hook"}))
        .await;
    assert_eq!(
        reply.error_code(),
        "webhook_not_public",
        "allowing a name allows that name, not its address"
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
    let app = TestApp::with_args(&["--metrics-bind", "127.0.0.1:0"]).await;
    let metrics_url = app.metrics_url.as_deref().expect("a metrics listener");
    let response = reqwest::get(format!("{metrics_url}/metrics"))
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

/// Settings for a process whose worker delivers at once.
const QUICK_WORKER: &[&str] = &[
    "--scheduler-interval",
    "200ms",
    "--worker-poll-interval",
    "50ms",
];

/// Waits until the newest entry of the delivery log is no longer `pending` or has been tried;
/// returns it.
async fn newest_attempt(owner: &mut Browser, tenant: i64) -> serde_json::Value {
    let log = format!("/api/v1/tenants/{tenant}/notifications");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let entries = owner.get(&log).await.body;
        if entries[0]["status"] != "pending" || entries[0]["attempts"].as_i64() > Some(0) {
            return entries[0].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log shows an attempt: {entries}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sends_a_test_delivery_that_arrives_signed_and_shows_in_the_log() {
    let mut args = vec!["--webhook-allow-hosts", "localhost"];
    args.extend_from_slice(QUICK_WORKER);
    let app = TestApp::with_mode(&args, freshtoken::server::Mode::Serve).await;
    let mut owner = app.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    let (port, mut received) = crate::support::http_endpoint("text/plain", String::new()).await;
    // The receiver is on this machine: the operator allowed it by name, as for an intranet.
    let url = format!("http://localhost:{port}/hook");
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
    // Signed with the secret shown at creation, though the database keeps it sealed.
    let secret = hook.body["secret"].as_str().unwrap();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let signature = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-freshtoken-signature")
                .then(|| value.trim().to_owned())
        })
        .unwrap();
    let timestamp: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert_eq!(
        signature,
        freshtoken_worker::signature(secret, timestamp, body)
    );

    let entry = newest_attempt(&mut owner, tenant).await;
    assert_eq!(entry["status"], "delivered", "{entry}");
    assert_eq!(entry["event"], "webhook.test");
    assert_eq!(entry["response_status"], 200);

    // Another workspace cannot reach the endpoint, and an editor may not test it.
    let mut stranger = app.browser();
    stranger.sign_up("stranger@example.com").await;
    assert_eq!(stranger.post(&test, json!({})).await.status, 404);
    let (mut editor, _) = join_as(&app, &mut owner, tenant, "editor", "editor@example.com").await;
    assert_eq!(editor.post(&test, json!({})).await.status, 403);
    let missing = format!("/api/v1/tenants/{tenant}/webhooks/999999/test");
    assert_eq!(owner.post(&missing, json!({})).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_whose_host_now_resolves_to_a_private_address_is_refused_at_delivery_not_sent() {
    // Created while its host was acceptable (here: allowed by the web process)...
    let app = TestApp::with_args(&["--webhook-allow-hosts", "localhost"]).await;
    let mut owner = app.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    let (port, mut received) = crate::support::http_endpoint("text/plain", String::new()).await;
    let hook = owner
        .post(
            &format!("/api/v1/tenants/{tenant}/webhooks"),
            json!({"url": format!("http://localhost:{port}/hook")}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    // ...delivered by a worker for which it resolves to an address webhooks may not reach, as
    // after a DNS change.
    let (worker, _worker_dir) = app
        .another(QUICK_WORKER, freshtoken::server::Mode::Worker)
        .await;
    let test = format!("/api/v1/tenants/{tenant}/webhooks/{}/test", hook.body["id"]);
    assert_eq!(owner.post(&test, json!({})).await.status, 202);

    let entry = newest_attempt(&mut owner, tenant).await;
    assert_eq!(entry["status"], "failed", "never retried: {entry}");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["response_status"], serde_json::Value::Null);
    let error = entry["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("refused, not sent: localhost resolves to"),
        "{error}"
    );
    assert!(error.contains("loopback"), "{error}");
    assert!(
        received.try_recv().is_err(),
        "the endpoint received nothing"
    );
    worker.stop().await.unwrap();
}

/// An endpoint on 127.0.0.1 that answers every request with a redirect to `location`.
async fn redirecting_endpoint(location: String) -> u16 {
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (axum::http::StatusCode::FOUND, [("location", location)]) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_a_webhook_endpoint_is_not_followed() {
    let mut args = vec!["--webhook-allow-hosts", "localhost"];
    args.extend_from_slice(QUICK_WORKER);
    let app = TestApp::with_mode(&args, freshtoken::server::Mode::Serve).await;
    let mut owner = app.browser();
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    let (internal, mut internal_received) =
        crate::support::http_endpoint("text/plain", String::new()).await;
    let port = redirecting_endpoint(format!("http://localhost:{internal}/admin")).await;
    let hook = owner
        .post(
            &format!("/api/v1/tenants/{tenant}/webhooks"),
            json!({"url": format!("http://localhost:{port}/hook")}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let test = format!("/api/v1/tenants/{tenant}/webhooks/{}/test", hook.body["id"]);
    assert_eq!(owner.post(&test, json!({})).await.status, 202);

    let entry = newest_attempt(&mut owner, tenant).await;
    assert_eq!(entry["status"], "pending", "retried later: {entry}");
    assert_eq!(entry["response_status"], 302);
    let error = entry["last_error"].as_str().unwrap();
    assert!(error.contains("redirects are not followed"), "{error}");
    assert!(
        internal_received.try_recv().is_err(),
        "the redirect's target received nothing"
    );
}
