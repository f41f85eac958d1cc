use std::sync::Arc;

use chrono::Utc;
use freshtoken_core::{AccessToken, AccountKind};
use freshtoken_store::{
    ConnectSettings, KeyFile, KeyStore, NewAccount, SecretKey, Store, TokenUpdate,
};

use crate::support::{freshtoken, run};

async fn store_in(dir: &std::path::Path) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.join("freshtoken.db").display());
    let keys = KeyStore::from_file(KeyFile::new(dir.join("secret.key"))).unwrap();
    Store::connect(&url, Arc::new(keys), &ConnectSettings::default())
        .await
        .unwrap()
}

async fn connect_account(store: &Store, tenant_id: i64, n: u32) -> i64 {
    let (account, _) = store
        .accounts()
        .connect(
            tenant_id,
            NewAccount {
                kind: AccountKind::Instagram,
                provider_user_id: n.to_string(),
                username: format!("user{n}"),
                profile_picture_url: None,
                linked_instagram_id: None,
            },
            &TokenUpdate {
                token: AccessToken::new(format!("IGAAtoken{n}")),
                issued_at: Utc::now(),
                expires_at: None,
                scopes: String::new(),
                refreshed_at: None,
            },
            None,
        )
        .await
        .unwrap();
    account.id
}

#[test]
fn generate_key_prints_a_usable_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(freshtoken(dir.path()).args(["admin", "generate-key"]));
    assert!(output.status.success());
    let key = String::from_utf8(output.stdout).unwrap();
    SecretKey::from_base64(key.trim(), "output").unwrap();
}

#[tokio::test]
async fn rotate_key_reencrypts_every_token_under_a_new_key_in_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(freshtoken(dir.path()).arg("migrate")).status.success());
    // A store that stays open across the rotation, as a running server would.
    let live = store_in(dir.path()).await;
    let tenant = live.tenants().create("Shop", "shop").await.unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(connect_account(&live, tenant.id, n).await);
    }
    let hook = live
        .webhooks()
        .create(
            tenant.id,
            "https://example.com/hook",
            &["token.refreshed".to_owned()],
        )
        .await
        .unwrap();
    let old_key = live.keys().current().primary_id().to_owned();

    let output = run(freshtoken(dir.path()).args(["admin", "rotate-key"]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("re-encrypted 5 token(s)"), "{printed}");
    assert!(
        printed.contains("re-encrypted 1 webhook signing secret(s)"),
        "{printed}"
    );

    let by_key = live.tokens().count_by_key().await.unwrap();
    assert_eq!(by_key.len(), 1);
    assert_ne!(by_key[0].0, old_key);
    assert_eq!(
        live.webhooks().count_by_key().await.unwrap(),
        [(by_key[0].0.clone(), 1)],
        "the webhook secret is under the new key too"
    );
    // The live store reads the re-sealed rows and writes new ones under the new key.
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            live.tokens().read(*id).await.unwrap().token.expose(),
            format!("IGAAtoken{n}")
        );
    }
    connect_account(&live, tenant.id, 99).await;
    assert_eq!(
        live.tokens().count_by_key().await.unwrap(),
        [(by_key[0].0.clone(), 6)]
    );

    // Retiring drops the old key from the file; everything still opens.
    let output = run(freshtoken(dir.path()).args(["admin", "rotate-key", "--retire"]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let keyring = KeyFile::new(dir.path().join("secret.key")).load().unwrap();
    assert!(!keyring.knows(&old_key));
    let fresh = store_in(dir.path()).await;
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            fresh.tokens().read(*id).await.unwrap().token.expose(),
            format!("IGAAtoken{n}")
        );
    }
    assert_eq!(
        fresh
            .webhooks()
            .signing_secret(tenant.id, hook.webhook.id)
            .await
            .unwrap(),
        hook.secret,
        "the webhook secret was re-sealed before its old key was retired"
    );
}
