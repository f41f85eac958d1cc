//! The fake's own rules and its control plane, as scripts outside our tests rely on them.

use std::time::Duration;

use fake_instagram::{FakeConfig, FakeInstagram};
use serde_json::{Value, json};

async fn start() -> (FakeInstagram, reqwest::Client) {
    (
        FakeInstagram::start(FakeConfig::default()).await.unwrap(),
        reqwest::Client::new(),
    )
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn minting_answers_a_long_lived_token_aged_as_asked() {
    let (fake, client) = start().await;
    let base = fake.base_url();
    let (status, minted) = post(
        &client,
        format!("{base}/__fake/tokens"),
        json!({"username": "ada", "age_secs": 86_400}),
    )
    .await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = minted
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["access_token", "expires_in", "user_id"]);
    assert!(minted["access_token"].as_str().unwrap().starts_with("IGAA"));
    assert_eq!(minted["expires_in"], 60 * 86_400 - 86_400);
    assert!(minted["user_id"].as_u64().unwrap() > 1 << 53);

    // A day old: refreshable at once.
    let token = minted["access_token"].as_str().unwrap();
    let (status, refreshed) = get(
        &client,
        format!("{base}/refresh_access_token?grant_type=ig_refresh_token&access_token={token}"),
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["token_type"], "bearer");
}

#[tokio::test]
async fn the_clock_moves_and_tokens_expire_on_it() {
    let (fake, client) = start().await;
    let base = fake.base_url();
    let short_code = fake.issue_code("ada", "https://x.test/cb");
    let form = [
        ("client_id", fake.app_id()),
        ("client_secret", fake.app_secret()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", "https://x.test/cb"),
        ("code", short_code.as_str()),
    ];
    let short: Value = client
        .post(format!("{base}/oauth/access_token"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let short_token = short["access_token"].as_str().unwrap().to_owned();

    let (_, before) = get(&client, format!("{base}/__fake/clock")).await;
    let (status, after) = post(
        &client,
        format!("{base}/__fake/clock"),
        json!({"advance_secs": 3601}),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(before["now"], after["now"]);
    // Short-lived tokens last an hour.
    let (status, body) = get(&client, format!("{base}/me?access_token={short_token}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 190);
    assert_eq!(body["error"]["error_subcode"], 463);
}

#[tokio::test]
async fn code_exchange_takes_multipart_and_refuses_json() {
    let (fake, client) = start().await;
    let base = fake.base_url();
    let code = fake.issue_code("ada", "https://x.test/cb");
    let form = reqwest::multipart::Form::new()
        .text("client_id", fake.app_id().to_owned())
        .text("client_secret", fake.app_secret().to_owned())
        .text("grant_type", "authorization_code")
        .text("redirect_uri", "https://x.test/cb")
        .text("code", code);
    let response = client
        .post(format!("{base}/oauth/access_token"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let code = fake.issue_code("ada", "https://x.test/cb");
    let (status, body) = post(
        &client,
        format!("{base}/oauth/access_token"),
        json!({"client_id": fake.app_id(), "client_secret": fake.app_secret(), "grant_type": "authorization_code", "redirect_uri": "https://x.test/cb", "code": code}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_type"], "OAuthException");
    assert_eq!(body["code"], 400);
}

#[tokio::test]
async fn codes_expire_after_an_hour() {
    let (fake, client) = start().await;
    let code = fake.issue_code("ada", "https://x.test/cb");
    fake.advance_clock(Duration::from_secs(3601));
    let form = [
        ("client_id", fake.app_id()),
        ("client_secret", fake.app_secret()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", "https://x.test/cb"),
        ("code", code.as_str()),
    ];
    let response = client
        .post(format!("{}/oauth/access_token", fake.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error_message"],
        "Matching code was not found or was already used"
    );
}

#[tokio::test]
async fn calls_are_recorded_without_secrets_and_faults_are_listed() {
    let (fake, client) = start().await;
    let base = fake.base_url();
    let minted = fake.mint_token("ada", Duration::ZERO);
    let (status, _) = post(
        &client,
        format!("{base}/__fake/faults"),
        json!({"match": {"username": "ada"}, "count": 2, "kind": "server_error"}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, faults) = get(&client, format!("{base}/__fake/faults")).await;
    assert_eq!(faults[0]["remaining"], 2);
    for expected in [500, 500, 200] {
        let response = client
            .get(format!(
                "{base}/v23.0/me?fields=username&access_token={}",
                minted.access_token
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected);
    }
    let (_, calls) = get(&client, format!("{base}/__fake/calls")).await;
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2]["path"], "/v23.0/me");
    assert_eq!(calls[2]["username"], "ada");
    assert_eq!(calls[2]["params"]["access_token"], "<redacted>");
    assert!(
        !Value::Array(calls.clone())
            .to_string()
            .contains(&minted.access_token)
    );
    assert_eq!(
        client
            .delete(format!("{base}/__fake/calls"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn revoking_a_user_kills_every_token_with_the_subcode() {
    let (fake, client) = start().await;
    let base = fake.base_url();
    let one = fake.mint_token("ada", Duration::ZERO);
    let two = fake.mint_token("ada", Duration::ZERO);
    let (_, body) = post(
        &client,
        format!("{base}/__fake/revoke"),
        json!({"username": "ada", "subcode": 458}),
    )
    .await;
    assert_eq!(body["revoked"], 2);
    for token in [one.access_token, two.access_token] {
        let (status, body) = get(&client, format!("{base}/me?access_token={token}")).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["error_subcode"], 458);
    }
}

#[tokio::test]
async fn signed_requests_verify_with_the_app_secret() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let payload = json!({"algorithm": "HMAC-SHA256", "issued_at": 1_700_000_000, "user_id": "123"});
    let signed = fake_instagram::sign_request(&payload, "secret");
    let (signature, body) = signed.split_once('.').unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decoded: Value = serde_json::from_slice(&engine.decode(body).unwrap()).unwrap();
    assert_eq!(decoded, payload);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
    mac.update(body.as_bytes());
    mac.verify_slice(&engine.decode(signature).unwrap())
        .unwrap();
}

#[tokio::test]
async fn a_fault_path_fires_with_or_without_its_leading_slash() {
    let (fake, client) = start().await;
    let base = fake.base_url();
    let minted = fake.mint_token("ada", Duration::from_secs(2 * 24 * 3600));
    for path in ["/refresh_access_token", "refresh_access_token"] {
        let (status, _) = post(
            &client,
            format!("{base}/__fake/faults"),
            json!({"match": {"path": path}, "count": 1, "kind": "server_error"}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = get(
            &client,
            format!(
                "{base}/refresh_access_token?grant_type=ig_refresh_token&access_token={}",
                minted.access_token
            ),
        )
        .await;
        assert_eq!(status, 500, "a fault on {path:?} must fire");
    }
    let (_, faults) = get(&client, format!("{base}/__fake/faults")).await;
    assert_eq!(faults, json!([]));
}
