//! Who can read `/metrics`: nobody on the public listener by default; Prometheus on the metrics
//! listener (`--metrics-bind`), which serves nothing else; bearers of the metrics token.

use std::time::Duration;

use freshtoken::server::Mode;
use freshtoken_store::SecretKey;
use freshtoken_store::testing::TestDatabase;
use serde_json::{Value, json};

use crate::connect::{Person, app_with_fake_as};
use crate::support::{Process, TestApp, free_port, freshtoken};

/// A token long enough for `--metrics-token`.
const TOKEN: &str = "a-metrics-token-of-at-least-32-characters";

async fn get(url: &str, bearer: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Asserts the JSON 404 that any unknown path gets.
async fn assert_json_404(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 404, "{what}");
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{what}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{what}");
}

/// Asserts a Prometheus answer with the queue depths.
async fn assert_metrics(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 200, "{what}");
    let text = response.text().await.unwrap();
    assert!(
        text.contains("freshtoken_queue_depth{queue=\"refresh\"}"),
        "{what}:\n{text}"
    );
}

#[tokio::test]
async fn the_public_listener_serves_no_metrics_by_default_in_any_mode() {
    for mode in [Mode::Serve, Mode::Web, Mode::Worker] {
        let app = TestApp::with_mode(&[], mode).await;
        assert!(app.metrics_url.is_none());
        let response = get(&format!("{}/metrics", app.base_url), None).await;
        assert_json_404(response, &format!("{mode:?}")).await;
        let health = get(&format!("{}/healthz", app.base_url), None).await;
        assert_eq!(health.status(), 200, "{mode:?}: health checks stay public");
    }
}

#[tokio::test]
async fn the_metrics_listener_serves_metrics_and_nothing_of_the_api_or_token_urls() {
    let (app, fake) = app_with_fake_as(Mode::Serve, &["--metrics-bind", "127.0.0.1:0"]).await;
    let metrics_url = app.metrics_url.clone().expect("a metrics listener");
    assert_ne!(metrics_url, app.base_url);

    // An account locked to a site, whose token URL answers that site on the public listener.
    let site = "https://bakery.example";
    let from_site = |url: &str| {
        reqwest::Client::new()
            .get(url.to_owned())
            .header("origin", site)
            .send()
    };
    let mut person = Person::sign_up(&app, "owner@bakery.example").await;
    let minted = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let pasted = person
        .api
        .post(
            &format!("/api/v1/tenants/{}/accounts", person.tenant_id),
            json!({"token": minted.access_token, "allowed_origins": [site]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let token_url = pasted.body["token_json_url"].as_str().unwrap().to_owned();
    let token_path = token_url.strip_prefix(&app.base_url).unwrap().to_owned();
    let served = from_site(&token_url).await.unwrap();
    assert_eq!(served.status(), 200, "the token URL works where it belongs");
    assert_json_404(
        from_site(&format!("{metrics_url}{token_path}"))
            .await
            .unwrap(),
        "the token URL on the metrics listener",
    )
    .await;

    assert_metrics(
        get(&format!("{metrics_url}/metrics"), None).await,
        "metrics listener",
    )
    .await;
    assert_json_404(
        get(&format!("{}/metrics", app.base_url), None).await,
        "/metrics on the public listener",
    )
    .await;
    for path in ["/api/v1/instance", "/api/v1/auth/me", "/healthz", "/"] {
        assert_json_404(get(&format!("{metrics_url}{path}"), None).await, path).await;
    }
}

#[tokio::test]
async fn a_worker_serves_metrics_on_its_metrics_listener_and_stops_on_sigterm() {
    let database = TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let mut command = freshtoken(dir.path());
    command
        .env("FRESHTOKEN_DATABASE_URL", &database.url)
        .env(
            "FRESHTOKEN_SECRET_KEY",
            SecretKey::generate().to_base64().as_str(),
        )
        .env(
            "FRESHTOKEN_METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        );
    let mut worker = Process::start(command, "worker").await;
    let metrics_url = format!("http://127.0.0.1:{metrics_port}");

    assert_metrics(get(&format!("{metrics_url}/metrics"), None).await, "worker").await;
    assert_json_404(
        get(&format!("{}/metrics", worker.base_url), None).await,
        "/metrics on the worker's public listener",
    )
    .await;
    let ready = get(&format!("{}/readyz", worker.base_url), None).await;
    assert_eq!(
        ready.status(),
        200,
        "the health checks stay where they were"
    );

    let status = worker.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let output = worker.output_after_exit();
    assert!(output.contains("stopped"), "{output}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_err(),
        "the metrics listener closed with the process"
    );
}

#[tokio::test]
async fn a_metrics_token_opens_metrics_to_its_bearers_only() {
    // No metrics listener: the public one serves `/metrics`, to the token's bearers.
    let app = TestApp::with_args(&["--metrics-token", TOKEN]).await;
    let url = format!("{}/metrics", app.base_url);
    for (bearer, what) in [
        (None, "no token"),
        (
            Some("a-metrics-token-of-at-least-32-characterz"),
            "a wrong token",
        ),
        (Some("a-metrics-token"), "a prefix"),
    ] {
        let response = get(&url, bearer).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"metrics\"",
            "{what}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
    }
    assert_metrics(get(&url, Some(TOKEN)).await, "the token").await;

    // With a metrics listener as well, the token is asked for there, and the public listener
    // serves no metrics at all.
    let both =
        TestApp::with_args(&["--metrics-bind", "127.0.0.1:0", "--metrics-token", TOKEN]).await;
    let metrics_url = both.metrics_url.clone().unwrap();
    assert_json_404(
        get(&format!("{}/metrics", both.base_url), Some(TOKEN)).await,
        "the public listener, with the token",
    )
    .await;
    let refused = get(&format!("{metrics_url}/metrics"), None).await;
    assert_eq!(refused.status(), 401);
    assert_metrics(
        get(&format!("{metrics_url}/metrics"), Some(TOKEN)).await,
        "the metrics listener, with the token",
    )
    .await;
}
