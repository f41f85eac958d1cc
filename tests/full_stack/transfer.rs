//! Moving an instance from SQLite to another database (PostgreSQL in CI's second run) with
//! `admin export` and `admin import`: the same people sign in, the same token URLs serve the
//! same tokens, and new rows get new ids.

use std::time::Duration;

use fake_instagram::{FakeConfig, FakeInstagram};
use serde_json::json;

use crate::support::{Browser, Process, freshtoken, freshtoken_with, run};

#[tokio::test]
async fn an_sqlite_instance_moves_to_another_database_with_its_people_and_tokens() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();

    // A small instance on SQLite, with a person, a workspace and a connected account.
    let old_dir = tempfile::tempdir().unwrap();
    let mut command = freshtoken_with(old_dir.path(), &fake);
    command.env("FRESHTOKEN_LOG", "warn");
    let mut old = Process::serve(command).await;
    let mut owner = Browser::new(&old.base_url);
    let me = owner.sign_up("owner@bakery.example").await;
    let tenant = me["tenants"][0]["id"].as_i64().unwrap();
    let minted = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let pasted = owner
        .post(
            &format!("/api/v1/tenants/{tenant}/accounts"),
            json!({"token": minted.access_token, "allowed_origins": ["https://bakery.example"]}),
        )
        .await;
    assert_eq!(pasted.status, 201, "{:?}", pasted.body);
    let token_url = url::Url::parse(pasted.body["token_json_url"].as_str().unwrap()).unwrap();
    let token_path = token_url.path().to_owned();
    let hook = owner
        .post(
            &format!("/api/v1/tenants/{tenant}/webhooks"),
            json!({"url": "https://example.com/freshtoken"}),
        )
        .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let hook_secret = hook.body["secret"].as_str().unwrap().to_owned();
    assert!(old.terminate().success());

    let export = old_dir.path().join("export.json");
    let exported = run(freshtoken(old_dir.path())
        .args(["admin", "export", "--output"])
        .arg(&export));
    assert!(exported.status.success(), "{exported:?}");
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(
        !text.contains(&minted.access_token),
        "tokens travel encrypted"
    );
    assert!(
        !text.contains(&hook_secret),
        "webhook secrets travel encrypted"
    );
    // `--output -`: the same export on standard output (for a container's volume), the summary
    // on standard error.
    let streamed = run(freshtoken(old_dir.path()).args(["admin", "export", "--output", "-"]));
    assert!(streamed.status.success(), "{streamed:?}");
    let mut streamed_export: serde_json::Value = serde_json::from_slice(&streamed.stdout).unwrap();
    let mut file_export: serde_json::Value = serde_json::from_str(&text).unwrap();
    for export in [&mut streamed_export, &mut file_export] {
        export["exported_at"].take();
    }
    assert_eq!(streamed_export, file_export);
    assert!(String::from_utf8_lossy(&streamed.stderr).contains("to standard output"));

    // The new instance: another database, the old instance's key (from its key file).
    let database = freshtoken_store::testing::TestDatabase::new().await;
    let key_file = std::fs::read_to_string(old_dir.path().join("secret.key")).unwrap();
    let key = key_file
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap()
        .to_owned();
    let new_dir = tempfile::tempdir().unwrap();
    let target = |key: &str| {
        let mut command = freshtoken_with(new_dir.path(), &fake);
        command
            .env("FRESHTOKEN_LOG", "warn")
            .env("FRESHTOKEN_DATABASE_URL", &database.url)
            .env("FRESHTOKEN_SECRET_KEY", key);
        command
    };

    let wrong_key = freshtoken_store::SecretKey::generate().to_base64();
    let refused = run(target(wrong_key.as_str())
        .args(["admin", "import"])
        .arg(&export));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("FRESHTOKEN_SECRET_KEY"), "{stderr}");

    // `import -` reads standard input (a container then needs no copy of the file).
    let imported = target(&key)
        .args(["admin", "import", "-"])
        .stdin(std::fs::File::open(&export).unwrap())
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(
        stdout.contains("1 users, 1 workspaces, 1 accounts and 1 tokens"),
        "{stdout}"
    );

    let again = run(target(&key).args(["admin", "import"]).arg(&export));
    assert!(
        !again.status.success(),
        "an import never merges into a used database"
    );

    let keys = freshtoken_store::Keyring::new(
        freshtoken_store::SecretKey::from_base64(&key, "key file").unwrap(),
        [],
    );
    let store = freshtoken_store::Store::connect(
        &database.url,
        std::sync::Arc::new(freshtoken_store::KeyStore::fixed(keys)),
        &freshtoken_store::ConnectSettings::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .webhooks()
            .signing_secret(tenant, hook.body["id"].as_i64().unwrap())
            .await
            .unwrap(),
        hook_secret,
        "webhooks keep signing with the same secret"
    );
    store.close().await.unwrap();

    let new = Process::serve(target(&key)).await;
    let served: serde_json::Value = reqwest::Client::new()
        .get(format!("{}{token_path}", new.base_url))
        .header("origin", "https://bakery.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        served["token"],
        minted.access_token.as_str(),
        "the same URL, the same token"
    );

    let mut again_owner = Browser::new(&new.base_url);
    let signed_in = again_owner
        .post(
            "/api/v1/auth/signin",
            json!({"email": "owner@bakery.example", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let created = again_owner
        .post("/api/v1/tenants", json!({"name": "Second shop"}))
        .await;
    assert_eq!(
        created.status, 201,
        "new ids continue after the imported ones: {:?}",
        created.body
    );
    assert_ne!(created.body["id"].as_i64(), Some(tenant));
}
