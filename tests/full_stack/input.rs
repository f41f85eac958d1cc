//! Input hygiene, identical on both engines: control characters never reach a database (NUL
//! made PostgreSQL answer 500 where SQLite stored it), every refusal is the JSON error shape,
//! and a client's request id is echoed only when it is short and printable.

use serde_json::json;

use crate::support::{Browser, TestApp};

/// A GET without the browser's niceties: the raw status, content type and body.
async fn raw_get(app: &TestApp, path: &str) -> (u16, String, serde_json::Value) {
    let response = reqwest::get(format!("{}{path}", app.base_url))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: not JSON ({status} {kind}): {text}"));
    (status, kind, body)
}

#[tokio::test]
async fn nul_in_a_public_id_is_a_json_404_without_signing_in() {
    let app = TestApp::spawn().await;
    for path in [
        "/t/x%00/token.json",
        "/t/x%00/media.json",
        "/token/x%00",
        "/t/x%01y/token.json",
        "/api/v1/tenants/1%00",
    ] {
        let (status, kind, body) = raw_get(&app, path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(kind.starts_with("application/json"), "{path}: {kind}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // token.js answers its refusals as a script (a browser runs nothing else), with no token.
    let script = reqwest::get(format!("{}/t/x%00/token.js", app.base_url))
        .await
        .unwrap();
    assert!(script.status().as_u16() == 404 || script.status().as_u16() == 200);
}

#[tokio::test]
async fn nul_and_other_control_characters_in_bodies_are_a_400_before_any_database() {
    let app = TestApp::spawn().await;
    let mut visitor = Browser::new(&app.base_url);
    for body in [
        json!({"email": "a\u{0}@example.com", "password": "a long enough password"}),
        json!({"email": "b@example.com", "password": "a long enough password", "name": "B\u{0}"}),
        json!({"email": "c@example.com", "password": "a long enough password", "workspace": "C\u{7}"}),
    ] {
        let reply = visitor.post("/api/v1/auth/signup", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        assert_eq!(reply.error_code(), "invalid_input");
    }
    let reply = visitor
        .post(
            "/api/v1/auth/signin",
            json!({"email": "x\u{0}@example.com", "password": "whatever it is"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);

    let mut owner = Browser::new(&app.base_url);
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    for (path, body) in [
        ("/api/v1/tenants".to_owned(), json!({"name": "New\u{0}"})),
        (
            format!("/api/v1/tenants/{tenant}/api-keys"),
            json!({"name": "deploy\u{0}"}),
        ),
        (
            format!("/api/v1/tenants/{tenant}/accounts"),
            json!({"token": "IGAA\u{0}x"}),
        ),
        (
            format!("/api/v1/tenants/{tenant}/webhooks"),
            json!({"url": "https://hooks.example.com/\u{0}"}),
        ),
    ] {
        let reply = owner.post(&path, body.clone()).await;
        assert_eq!(reply.status, 400, "{path} {body}: {:?}", reply.body);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("control character"),
            "{:?}",
            reply.body
        );
    }
    // Nothing of it was stored.
    let keys = owner
        .get(&format!("/api/v1/tenants/{tenant}/api-keys"))
        .await;
    assert_eq!(keys.body, json!([]));
}

#[tokio::test]
async fn bad_path_and_query_values_answer_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let mut owner = Browser::new(&app.base_url);
    let me = owner.sign_up("owner@example.com").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();

    let reply = owner.get("/api/v1/tenants/abc").await;
    assert_eq!(reply.status, 404, "{:?}", reply.body);
    assert_eq!(reply.error_code(), "not_found");
    let reply = owner
        .get(&format!(
            "/api/v1/tenants/{tenant}/accounts/99999999999999999999"
        ))
        .await;
    assert_eq!(reply.status, 404, "{:?}", reply.body);

    for query in ["limit=abc", "limit=-1", "limit=%00"] {
        let reply = owner
            .get(&format!("/api/v1/tenants/{tenant}/notifications?{query}"))
            .await;
        assert_eq!(reply.status, 400, "{query}: {:?}", reply.body);
        assert_eq!(reply.error_code(), "invalid_input", "{query}");
    }
}

#[tokio::test]
async fn a_request_id_is_echoed_only_when_short_and_printable() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let id_of = |sent: &str| {
        let request = client
            .get(format!("{}/healthz", app.base_url))
            .header("x-request-id", sent);
        async move {
            let response = request.send().await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(id_of("trace-1234").await, "trace-1234");
    let long = "x".repeat(10_000);
    let replaced = id_of(&long).await;
    assert_ne!(replaced, long);
    assert!(replaced.len() <= 64, "{replaced}");
    let spaced = id_of("a b").await;
    assert_ne!(spaced, "a b");
}
