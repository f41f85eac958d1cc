//! Every repository against a real database: SQLite by default, PostgreSQL when
//! `FRESHTOKEN_TEST_POSTGRES_URL` is set (CI runs both).

use chrono::{DateTime, Duration, SubsecRound, Utc};
use freshtoken_core::{
    AccessToken, AccountKind, AccountStatus, RefreshInterval, RefreshOutcome, Role,
};
use freshtoken_store::testing::{TestDatabase, TestStore, test_keys};
use freshtoken_store::{
    AccountSettings, Duplicate, KeyStore, Keyring, NewAccount, NewApiKey, NewRefreshEvent, NewUser,
    SecretKey, SessionRecord, StartedBy, Store, StoreError, TenantAccount, TokenUpdate,
};
use sea_orm::{ConnectionTrait, Statement};
use std::sync::Arc;

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        name: "Ada".to_owned(),
        is_operator: false,
    }
}

fn instagram_user(id: &str, username: &str) -> NewAccount {
    NewAccount {
        kind: AccountKind::Instagram,
        provider_user_id: id.to_owned(),
        username: username.to_owned(),
        profile_picture_url: None,
        linked_instagram_id: None,
    }
}

fn token(value: &str) -> TokenUpdate {
    let now = Utc::now();
    TokenUpdate {
        token: AccessToken::new(value),
        issued_at: now,
        expires_at: Some(now + Duration::days(60)),
        scopes: "instagram_business_basic".to_owned(),
        refreshed_at: None,
    }
}

async fn tenant_with_account(store: &Store, slug: &str, secret: &str) -> (i64, i64) {
    let tenant = store.tenants().create("Shop", slug).await.unwrap();
    let (account, _) = store
        .accounts()
        .connect(
            tenant.id,
            instagram_user("17841400000000001", "shop"),
            &token(secret),
            None,
        )
        .await
        .unwrap();
    (tenant.id, account.id)
}

/// The store's proof that the account is the tenant's, as a handler gets it.
async fn proof(store: &Store, tenant_id: i64, account_id: i64) -> TenantAccount {
    *store
        .accounts()
        .get(tenant_id, account_id)
        .await
        .unwrap()
        .proof()
}

mod migrations {
    use super::*;

    #[tokio::test]
    async fn running_migrations_twice_is_harmless_and_leaves_none_pending() {
        let store = TestStore::new().await;
        store.migrate().await.unwrap();
        assert_eq!(store.readiness().await.unwrap().pending_migrations, 0);
    }

    #[tokio::test]
    async fn a_new_database_reports_pending_migrations_until_migrated() {
        let database = TestDatabase::new().await;
        let store = Store::connect(&database.url, test_keys(), &Default::default())
            .await
            .unwrap();
        assert!(store.readiness().await.unwrap().pending_migrations > 0);
        store.migrate().await.unwrap();
        assert_eq!(store.readiness().await.unwrap().pending_migrations, 0);
    }

    #[tokio::test]
    async fn processes_starting_together_migrate_once_without_errors() {
        let database = TestDatabase::new().await;
        let mut starting = Vec::new();
        for _ in 0..4 {
            let url = database.url.clone();
            starting.push(tokio::spawn(async move {
                let store = Store::connect(&url, test_keys(), &Default::default()).await?;
                store.migrate().await?;
                store.readiness().await
            }));
        }
        for process in starting {
            let readiness = process.await.unwrap().unwrap();
            assert_eq!(readiness.pending_migrations, 0);
        }
    }

    /// A new SQLite file's first connection switches it to WAL mode under a lock that SQLite's
    /// busy timeout does not wait for: the others used to fail with "database is locked" (about
    /// once in a hundred new files here, hence the many rounds).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn processes_opening_a_new_sqlite_file_together_all_connect() {
        for _ in 0..300 {
            let database = TestDatabase::new_sqlite();
            let opening: Vec<_> = (0..16)
                .map(|_| {
                    let url = database.url.clone();
                    tokio::spawn(async move {
                        Store::connect(&url, test_keys(), &Default::default()).await
                    })
                })
                .collect();
            for store in opening {
                store.await.unwrap().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn sqlite_runs_in_wal_mode_with_foreign_keys_on() {
        let store = TestStore::on(TestDatabase::new_sqlite(), test_keys()).await;
        let db = store.connection();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "PRAGMA journal_mode",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "wal");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "PRAGMA foreign_keys",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i32>(0).unwrap(), 1);
    }
}

mod users {
    use super::*;

    #[tokio::test]
    async fn users_are_found_by_email_whatever_its_case() {
        let store = TestStore::new().await;
        let user = store
            .users()
            .create(new_user("  Ada@Example.COM "))
            .await
            .unwrap();
        assert_eq!(user.email, "ada@example.com");
        let found = store
            .users()
            .by_email("ADA@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, user.id);
        assert_eq!(store.users().by_id(user.id).await.unwrap(), user);
        assert!(
            store
                .users()
                .by_email("bob@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_taken_email_is_a_typed_duplicate_not_a_panic() {
        let store = TestStore::new().await;
        store
            .users()
            .create(new_user("ada@example.com"))
            .await
            .unwrap();
        let err = store
            .users()
            .create(new_user("ADA@example.com"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate(Duplicate::Email)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn logins_passwords_disabling_and_operator_flags_are_recorded() {
        let store = TestStore::new().await;
        let users = store.users();
        let user = users.create(new_user("ada@example.com")).await.unwrap();
        let at = Utc::now().trunc_subsecs(0);
        users.record_login(user.id, at).await.unwrap();
        users
            .set_password_hash(user.id, "$argon2id$new".to_owned())
            .await
            .unwrap();
        users.set_disabled(user.id, true).await.unwrap();
        users.set_operator(user.id, true).await.unwrap();
        let changed = users.by_id(user.id).await.unwrap();
        assert_eq!(changed.last_login_at, Some(at));
        assert_eq!(changed.password_hash, "$argon2id$new");
        assert!(changed.disabled_at.is_some());
        assert!(changed.is_operator);
        users.set_disabled(user.id, false).await.unwrap();
        assert!(users.by_id(user.id).await.unwrap().disabled_at.is_none());
        assert_eq!(users.count().await.unwrap(), 1);
        assert_eq!(users.list().await.unwrap().len(), 1);
        assert!(matches!(
            users.set_disabled(9999, true).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(users.by_id(9999).await, Err(StoreError::NotFound)));
    }
}

mod tenants {
    use super::*;

    #[tokio::test]
    async fn tenants_are_created_found_disabled_and_deleted() {
        let store = TestStore::new().await;
        let tenants = store.tenants();
        let shop = tenants.create("My Shop", "my-shop").await.unwrap();
        assert_eq!(
            tenants.by_slug("my-shop").await.unwrap().unwrap().id,
            shop.id
        );
        assert_eq!(tenants.by_id(shop.id).await.unwrap().name, "My Shop");
        tenants.set_disabled(shop.id, true).await.unwrap();
        assert!(tenants.by_id(shop.id).await.unwrap().disabled_at.is_some());
        assert_eq!(tenants.list().await.unwrap().len(), 1);
        tenants.delete(shop.id).await.unwrap();
        assert!(matches!(
            tenants.by_id(shop.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            tenants.delete(shop.id).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_taken_slug_is_a_typed_duplicate() {
        let store = TestStore::new().await;
        store.tenants().create("A", "shop").await.unwrap();
        let err = store.tenants().create("B", "shop").await.unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate(Duplicate::TenantSlug)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn deleting_a_tenant_takes_its_accounts_and_tokens_with_it() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "shop", "IGAAgone").await;
        store.tenants().delete(tenant_id).await.unwrap();
        assert!(matches!(
            store.accounts().by_id(account_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.tokens().read(account_id).await,
            Err(StoreError::NotFound)
        ));
    }
}

mod memberships {
    use super::*;

    #[tokio::test]
    async fn members_have_roles_that_can_change_and_end() {
        let store = TestStore::new().await;
        let ada = store
            .users()
            .create(new_user("ada@example.com"))
            .await
            .unwrap();
        let bob = store
            .users()
            .create(new_user("bob@example.com"))
            .await
            .unwrap();
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let memberships = store.memberships();
        memberships.add(shop.id, ada.id, Role::Owner).await.unwrap();
        memberships
            .add(shop.id, bob.id, Role::Viewer)
            .await
            .unwrap();

        assert_eq!(
            memberships.role_of(shop.id, bob.id).await.unwrap(),
            Some(Role::Viewer)
        );
        memberships
            .set_role(shop.id, bob.id, Role::Editor)
            .await
            .unwrap();
        assert_eq!(
            memberships.role_of(shop.id, bob.id).await.unwrap(),
            Some(Role::Editor)
        );
        assert_eq!(memberships.owner_count(shop.id).await.unwrap(), 1);

        let members = memberships.members(shop.id).await.unwrap();
        let emails: Vec<_> = members.iter().map(|m| (m.email.as_str(), m.role)).collect();
        assert_eq!(
            emails,
            [
                ("ada@example.com", Role::Owner),
                ("bob@example.com", Role::Editor)
            ]
        );

        let tenants = memberships.tenants_of(ada.id).await.unwrap();
        assert_eq!(tenants.len(), 1);
        assert_eq!(tenants[0].tenant.slug, "shop");
        assert_eq!(tenants[0].role, Role::Owner);

        memberships.remove(shop.id, bob.id).await.unwrap();
        assert_eq!(memberships.role_of(shop.id, bob.id).await.unwrap(), None);
        assert!(matches!(
            memberships.remove(shop.id, bob.id).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn joining_twice_is_a_typed_duplicate() {
        let store = TestStore::new().await;
        let ada = store
            .users()
            .create(new_user("ada@example.com"))
            .await
            .unwrap();
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        store
            .memberships()
            .add(shop.id, ada.id, Role::Owner)
            .await
            .unwrap();
        let err = store
            .memberships()
            .add(shop.id, ada.id, Role::Viewer)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate(Duplicate::Membership)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_membership_needs_a_real_user_and_tenant() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let err = store
            .memberships()
            .add(shop.id, 4242, Role::Owner)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    }
}

mod accounts {
    use super::*;

    #[tokio::test]
    async fn connecting_creates_an_active_account_with_a_random_public_id() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let (account, created) = store
            .accounts()
            .connect(
                shop.id,
                instagram_user("1", "shop"),
                &token("IGAAone"),
                None,
            )
            .await
            .unwrap();
        assert!(created);
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(account.refresh_interval, RefreshInterval::Weekly);
        assert_eq!(account.public_id.len(), 22);
        assert!(account.allowed_origins.is_empty());
        let by_public = store
            .accounts()
            .by_public_id(&account.public_id)
            .await
            .unwrap();
        assert_eq!(by_public, Some(account.clone()));
        assert_eq!(
            store
                .tokens()
                .read(account.id)
                .await
                .unwrap()
                .token
                .expose(),
            "IGAAone"
        );
    }

    #[tokio::test]
    async fn reconnecting_the_same_instagram_user_updates_instead_of_duplicating() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let accounts = store.accounts();
        let (first, _) = accounts
            .connect(
                shop.id,
                instagram_user("1", "old_name"),
                &token("IGAAold"),
                None,
            )
            .await
            .unwrap();
        accounts
            .set_status(
                first.id,
                AccountStatus::NeedsReconnect,
                Some("revoked".into()),
                None,
            )
            .await
            .unwrap();
        let (second, created) = accounts
            .connect(
                shop.id,
                instagram_user("1", "new_name"),
                &token("IGAAnew"),
                None,
            )
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(second.id, first.id);
        assert_eq!(second.public_id, first.public_id);
        assert_eq!(second.username, "new_name");
        assert_eq!(second.status, AccountStatus::Active);
        assert_eq!(second.last_error, None);
        assert_eq!(accounts.count(shop.id).await.unwrap(), 1);
        assert_eq!(
            store.tokens().read(first.id).await.unwrap().token.expose(),
            "IGAAnew"
        );
    }

    #[tokio::test]
    async fn the_same_instagram_user_may_be_connected_in_two_tenants() {
        let store = TestStore::new().await;
        let a = store.tenants().create("A", "a").await.unwrap();
        let b = store.tenants().create("B", "b").await.unwrap();
        let (in_a, _) = store
            .accounts()
            .connect(a.id, instagram_user("1", "x"), &token("IGAAa"), None)
            .await
            .unwrap();
        let (in_b, created) = store
            .accounts()
            .connect(b.id, instagram_user("1", "x"), &token("IGAAb"), None)
            .await
            .unwrap();
        assert!(created);
        assert_ne!(in_a.id, in_b.id);
    }

    #[tokio::test]
    async fn an_alias_names_one_account_in_the_whole_instance() {
        let store = TestStore::new().await;
        let a = store.tenants().create("A", "a").await.unwrap();
        let b = store.tenants().create("B", "b").await.unwrap();
        let with_alias = |id: &str, alias: &str| freshtoken_store::Connection {
            account: instagram_user(id, "x"),
            token: token("IGAAa"),
            next_refresh_at: None,
            presets: freshtoken_store::Presets {
                alias: Some(alias.to_owned()),
                ..Default::default()
            },
        };
        let connected = store
            .accounts()
            .connect_all(a.id, vec![with_alias("1", "shop")], |_, _| None)
            .await
            .unwrap();
        let account = connected[0].0.account().clone();
        assert_eq!(account.alias.as_deref(), Some("shop"));
        assert_eq!(
            store.accounts().public_id_by_alias("shop").await.unwrap(),
            Some(account.public_id.clone())
        );
        assert_eq!(
            store.accounts().public_id_by_alias("nope").await.unwrap(),
            None
        );
        // The same account again keeps it; another account, in any workspace, is refused.
        store
            .accounts()
            .connect_all(a.id, vec![with_alias("1", "shop")], |_, _| None)
            .await
            .unwrap();
        for (tenant, id) in [(a.id, "2"), (b.id, "1")] {
            let refused = store
                .accounts()
                .connect_all(tenant, vec![with_alias(id, "shop")], |_, _| None)
                .await;
            assert!(
                matches!(refused, Err(StoreError::Duplicate(Duplicate::Alias))),
                "{refused:?}"
            );
        }
        assert_eq!(
            store.accounts().count(b.id).await.unwrap(),
            0,
            "nothing half-written"
        );
    }

    #[tokio::test]
    async fn another_tenants_account_is_not_found_for_reads_or_changes() {
        let store = TestStore::new().await;
        let (_, account_id) = tenant_with_account(&store, "a", "IGAAa").await;
        let other = store.tenants().create("B", "b").await.unwrap();
        let accounts = store.accounts();
        assert!(matches!(
            accounts.get(other.id, account_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(accounts.list(other.id).await.unwrap().is_empty());
        let settings = AccountSettings {
            label: "mine now".into(),
            allowed_origins: vec![],
            allow_localhost: false,
            public: true,
            js_constant: None,
            refresh_interval: RefreshInterval::Daily,
        };
        assert!(matches!(
            accounts
                .update_settings(other.id, account_id, &settings)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            accounts.rotate_public_id(other.id, account_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            accounts.delete(other.id, account_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            accounts.by_id(account_id).await.is_ok(),
            "the owner's account must survive"
        );
    }

    /// The reads of an account's token lifetime, media, history and counts take the proof
    /// that only a tenant's `get` (or `list`, `connect`, ...) gives; tenant A's `get` refuses
    /// B's account, so from A no proof of it exists and none of B's data can be read.
    #[tokio::test]
    async fn a_tenants_proof_reads_its_own_accounts_data_and_no_other_tenants() {
        use chrono::NaiveDate;
        use freshtoken_store::RequestCount;
        use std::collections::HashMap;

        let store = TestStore::new().await;
        let (tenant_a, account_a) = tenant_with_account(&store, "a", "IGAAa").await;
        let (tenant_b, account_b) = tenant_with_account(&store, "b", "IGAAb").await;
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let count = |served| RequestCount {
            served,
            refused: 0,
            refused_no_origin: 0,
        };
        for (account_id, served) in [(account_a, 1), (account_b, 2)] {
            store
                .refresh_events()
                .record(event(account_id, RefreshOutcome::Refreshed, Utc::now()))
                .await
                .unwrap();
            store
                .media()
                .save(account_id, &format!("[{served}]"), Utc::now())
                .await
                .unwrap();
            store
                .request_counts()
                .add(&HashMap::from([((account_id, day), count(served))]))
                .await
                .unwrap();
        }

        // B's account through A: refused before any proof exists.
        assert!(matches!(
            store.accounts().get(tenant_a, account_b).await,
            Err(StoreError::NotFound)
        ));

        let a = proof(&store, tenant_a, account_a).await;
        assert_eq!((a.tenant_id(), a.account_id()), (tenant_a, account_a));
        let events = store.refresh_events().recent(&a, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].account_id, account_a);
        assert_eq!(store.media().get(&a).await.unwrap().unwrap().items, "[1]");
        let days = store.request_counts().since(&a, day).await.unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].count, count(1));
        assert!(store.tokens().lifetime(&a).await.unwrap().is_some());

        // Every proof A's list gives is one of A's accounts.
        let listed: Vec<TenantAccount> = store
            .accounts()
            .list(tenant_a)
            .await
            .unwrap()
            .iter()
            .map(|account| *account.proof())
            .collect();
        assert_eq!(listed, vec![a]);
        let lifetimes = store.tokens().lifetimes(&listed).await.unwrap();
        assert_eq!(lifetimes.keys().copied().collect::<Vec<_>>(), [account_a]);
        let counts = store.request_counts().on_day(&listed, day).await.unwrap();
        assert_eq!(counts, HashMap::from([(account_a, count(1))]));

        // A token URL's account proves the tenant it belongs to, whoever asks.
        let b = store.accounts().get(tenant_b, account_b).await.unwrap();
        let by_url = store
            .accounts()
            .by_public_id(&b.public_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_url.proof(), b.proof());
        assert_eq!(by_url.proof().tenant_id(), tenant_b);
        assert_eq!(
            store.media().get(b.proof()).await.unwrap().unwrap().items,
            "[2]"
        );
    }

    #[tokio::test]
    async fn settings_are_saved_and_read_back() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "a", "IGAAa").await;
        let settings = AccountSettings {
            label: "Main feed".into(),
            allowed_origins: vec!["https://example.com".into(), "https://*.example.com".into()],
            allow_localhost: true,
            public: true,
            js_constant: Some("MyToken".into()),
            refresh_interval: RefreshInterval::Monthly,
        };
        let updated = store
            .accounts()
            .update_settings(tenant_id, account_id, &settings)
            .await
            .unwrap();
        let read = store.accounts().get(tenant_id, account_id).await.unwrap();
        assert_eq!(updated, read);
        assert_eq!(read.label, "Main feed");
        assert_eq!(read.allowed_origins, settings.allowed_origins);
        assert!(read.allow_localhost);
        assert!(read.public);
        assert_eq!(read.js_constant.as_deref(), Some("MyToken"));
        assert_eq!(read.refresh_interval, RefreshInterval::Monthly);
    }

    #[tokio::test]
    async fn rotating_the_public_id_retires_the_old_one() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "a", "IGAAa").await;
        let before = store.accounts().get(tenant_id, account_id).await.unwrap();
        let after = store
            .accounts()
            .rotate_public_id(tenant_id, account_id)
            .await
            .unwrap();
        assert_ne!(before.public_id, after.public_id);
        assert!(
            store
                .accounts()
                .by_public_id(&before.public_id)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn deleting_an_account_deletes_its_token_and_history() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "a", "IGAAa").await;
        store
            .refresh_events()
            .record(event(account_id, RefreshOutcome::Refreshed, Utc::now()))
            .await
            .unwrap();
        // Taken before the deletion: a proof does not keep its account alive.
        let account = proof(&store, tenant_id, account_id).await;
        store
            .accounts()
            .delete(tenant_id, account_id)
            .await
            .unwrap();
        assert!(matches!(
            store.tokens().read(account_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            store
                .refresh_events()
                .recent(&account, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn only_active_accounts_whose_time_has_come_are_due_soonest_first() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let now = Utc::now();
        let mut ids = Vec::new();
        // Sub-second offsets check that ordering holds on SQLite's text timestamps too.
        for (n, offset) in [
            (1, Duration::milliseconds(-1500)),
            (2, Duration::hours(-3)),
            (3, Duration::milliseconds(250)),
            (4, Duration::minutes(-1)),
        ] {
            let (account, _) = store
                .accounts()
                .connect(
                    shop.id,
                    instagram_user(&n.to_string(), "u"),
                    &token("IGAAx"),
                    Some(now + offset),
                )
                .await
                .unwrap();
            ids.push(account.id);
        }
        store
            .accounts()
            .set_status(
                ids[3],
                AccountStatus::Paused,
                None,
                Some(now - Duration::minutes(1)),
            )
            .await
            .unwrap();
        let due: Vec<i64> = store
            .accounts()
            .due(now, 10)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(due, [ids[1], ids[0]]);
        assert_eq!(store.accounts().due(now, 1).await.unwrap().len(), 1);
    }
}

mod tokens {
    use super::*;

    #[tokio::test]
    async fn a_refreshed_token_replaces_the_old_one() {
        let store = TestStore::new().await;
        let (_, account_id) = tenant_with_account(&store, "a", "IGAAfirst").await;
        let refreshed_at = Utc::now().trunc_subsecs(0);
        let update = TokenUpdate {
            refreshed_at: Some(refreshed_at),
            expires_at: Some(refreshed_at + Duration::days(60)),
            ..token("IGAAsecond")
        };
        store.tokens().save(account_id, &update).await.unwrap();
        let stored = store.tokens().read(account_id).await.unwrap();
        assert_eq!(stored.token.expose(), "IGAAsecond");
        assert_eq!(stored.last_refreshed_at, Some(refreshed_at));
        assert_eq!(stored.expires_at, Some(refreshed_at + Duration::days(60)));
        assert_eq!(stored.scopes, "instagram_business_basic");
    }

    #[tokio::test]
    async fn the_raw_database_holds_no_plaintext_token() {
        let store = TestStore::new().await;
        let secret = "IGAAplaintextcanary0123456789";
        tenant_with_account(&store, "a", secret).await;
        let dump = dump_tokens_table(&store).await;
        assert!(!dump.is_empty());
        assert!(
            !dump.contains(secret),
            "plaintext token found in the database"
        );
        if !store.database.is_postgres() {
            // Check the file itself too, WAL included: nothing anywhere on disk.
            let url = store.database.url.clone();
            store.store.clone().close().await.unwrap();
            let path = url
                .trim_start_matches("sqlite://")
                .trim_end_matches("?mode=rwc");
            for file in [path.to_owned(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    assert!(
                        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                        "plaintext in {file}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_token_copied_into_another_row_does_not_decrypt() {
        let store = TestStore::new().await;
        let (tenant_id, first) = tenant_with_account(&store, "a", "IGAAfirst").await;
        let (second, _) = store
            .accounts()
            .connect(
                tenant_id,
                instagram_user("2", "other"),
                &token("IGAAsecond"),
                None,
            )
            .await
            .unwrap();
        let db = store.connection();
        db.execute_unprepared(&format!(
            "UPDATE tokens SET ciphertext = (SELECT ciphertext FROM tokens WHERE account_id = {first}), \
             nonce = (SELECT nonce FROM tokens WHERE account_id = {first}) WHERE account_id = {}",
            second.id
        ))
        .await
        .unwrap();
        let err = store.tokens().read(second.id).await.unwrap_err();
        assert!(matches!(err, StoreError::Crypto(_)), "{err:?}");
    }

    #[tokio::test]
    async fn rekeying_reseals_every_token_under_the_new_key_while_old_ones_still_open() {
        let database = TestDatabase::new().await;
        let old_key = SecretKey::generate();
        let before = TestStore::on(
            database,
            Arc::new(KeyStore::fixed(Keyring::new(old_key.clone(), []))),
        )
        .await;
        let mut account_ids = Vec::new();
        let shop = before.tenants().create("Shop", "shop").await.unwrap();
        for n in 0..7 {
            let (account, _) = before
                .accounts()
                .connect(
                    shop.id,
                    instagram_user(&n.to_string(), "u"),
                    &token(&format!("IGAA{n}")),
                    None,
                )
                .await
                .unwrap();
            account_ids.push(account.id);
        }
        let TestStore {
            store: old_store,
            database,
        } = before;
        old_store.close().await.unwrap();

        let new_key = SecretKey::generate();
        let keys = Arc::new(KeyStore::fixed(Keyring::new(
            new_key.clone(),
            [old_key.clone()],
        )));
        let after = TestStore::on(database, keys).await;
        assert_eq!(
            after.tokens().count_by_key().await.unwrap(),
            [(old_key.id(), 7)]
        );
        // Readable before the re-key, through the previous key.
        assert_eq!(
            after
                .tokens()
                .read(account_ids[0])
                .await
                .unwrap()
                .token
                .expose(),
            "IGAA0"
        );

        let report = after.tokens().rekey(3).await.unwrap();
        assert_eq!(report.resealed, 7);
        assert_eq!(
            after.tokens().count_by_key().await.unwrap(),
            [(new_key.id(), 7)]
        );
        assert_eq!(
            after.tokens().rekey(3).await.unwrap().resealed,
            0,
            "a second pass has nothing to do"
        );

        // The old key can now go: the new one alone opens everything.
        let TestStore {
            store: rekeyed,
            database,
        } = after;
        rekeyed.close().await.unwrap();
        let only_new = TestStore::on(
            database,
            Arc::new(KeyStore::fixed(Keyring::new(new_key, []))),
        )
        .await;
        for (n, id) in account_ids.iter().enumerate() {
            assert_eq!(
                only_new.tokens().read(*id).await.unwrap().token.expose(),
                format!("IGAA{n}")
            );
        }
    }

    async fn dump_tokens_table(store: &Store) -> String {
        let db = store.connection();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT ciphertext, nonce, key_id FROM tokens",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                let ciphertext: Vec<u8> = row.try_get_by_index(0).unwrap();
                let key_id: String = row.try_get_by_index(2).unwrap();
                format!("{} {key_id}", String::from_utf8_lossy(&ciphertext))
            })
            .collect()
    }
}

fn event(account_id: i64, outcome: RefreshOutcome, at: DateTime<Utc>) -> NewRefreshEvent {
    NewRefreshEvent {
        account_id,
        at,
        outcome,
        attempt: 1,
        error_code: None,
        message: None,
        new_expires_at: None,
    }
}

mod refresh_events {
    use super::*;

    #[tokio::test]
    async fn events_are_listed_newest_first_and_limited() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "a", "IGAAa").await;
        let account = proof(&store, tenant_id, account_id).await;
        let start = Utc::now().trunc_subsecs(0);
        store
            .refresh_events()
            .record(event(account_id, RefreshOutcome::Transient, start))
            .await
            .unwrap();
        let failed = NewRefreshEvent {
            attempt: 2,
            error_code: Some("190/463".into()),
            message: Some("token expired".into()),
            ..event(
                account_id,
                RefreshOutcome::Revoked,
                start + Duration::minutes(5),
            )
        };
        store.refresh_events().record(failed).await.unwrap();
        let recent = store.refresh_events().recent(&account, 10).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].outcome, RefreshOutcome::Revoked);
        assert_eq!(recent[0].error_code.as_deref(), Some("190/463"));
        assert_eq!(recent[0].at, start + Duration::minutes(5));
        assert_eq!(recent[1].outcome, RefreshOutcome::Transient);
        assert_eq!(
            store
                .refresh_events()
                .recent(&account, 1)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn an_event_for_a_missing_account_is_refused() {
        let store = TestStore::new().await;
        let err = store
            .refresh_events()
            .record(event(4242, RefreshOutcome::Refreshed, Utc::now()))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    }
}

mod api_keys {
    use super::*;

    fn key(tenant_id: i64, prefix: &str) -> NewApiKey {
        NewApiKey {
            tenant_id,
            name: "deploy".into(),
            prefix: prefix.into(),
            secret_sha256: format!("sha256-of-{prefix}"),
            created_by: None,
            scopes: "api".into(),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn an_expired_key_is_not_found_and_use_is_recorded_once_a_minute() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let now = Utc::now().trunc_subsecs(0);
        let created = store
            .api_keys()
            .create(NewApiKey {
                expires_at: Some(now + chrono::Duration::hours(1)),
                scopes: "tokens:read".into(),
                ..key(shop.id, "ft_exp")
            })
            .await
            .unwrap();
        assert_eq!(created.scopes, "tokens:read");
        let keys = store.api_keys();
        assert!(
            keys.active_by_hash("sha256-of-ft_exp", now)
                .await
                .unwrap()
                .is_some()
        );
        let later = now + chrono::Duration::hours(2);
        assert!(
            keys.active_by_hash("sha256-of-ft_exp", later)
                .await
                .unwrap()
                .is_none()
        );

        keys.touch(created.id, now).await.unwrap();
        keys.touch(created.id, now + chrono::Duration::seconds(30))
            .await
            .unwrap();
        assert_eq!(keys.list(shop.id).await.unwrap()[0].last_used_at, Some(now));
        keys.touch(created.id, now + chrono::Duration::seconds(90))
            .await
            .unwrap();
        assert_eq!(
            keys.list(shop.id).await.unwrap()[0].last_used_at,
            Some(now + chrono::Duration::seconds(90))
        );
    }

    #[tokio::test]
    async fn keys_are_found_by_hash_until_revoked() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let created = store
            .api_keys()
            .create(key(shop.id, "ft_abc"))
            .await
            .unwrap();
        let found = store
            .api_keys()
            .active_by_hash("sha256-of-ft_abc", Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, created.id);

        let at = Utc::now().trunc_subsecs(0);
        store.api_keys().touch(created.id, at).await.unwrap();
        assert_eq!(
            store.api_keys().list(shop.id).await.unwrap()[0].last_used_at,
            Some(at)
        );

        store.api_keys().revoke(shop.id, created.id).await.unwrap();
        assert!(
            store
                .api_keys()
                .active_by_hash("sha256-of-ft_abc", Utc::now())
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            store.api_keys().revoke(shop.id, created.id).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn another_tenant_cannot_revoke_or_list_a_key() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let other = store.tenants().create("Other", "other").await.unwrap();
        let created = store
            .api_keys()
            .create(key(shop.id, "ft_abc"))
            .await
            .unwrap();
        assert!(matches!(
            store.api_keys().revoke(other.id, created.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.api_keys().list(other.id).await.unwrap().is_empty());
        assert!(
            store
                .api_keys()
                .active_by_hash("sha256-of-ft_abc", Utc::now())
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_reused_prefix_is_a_typed_duplicate() {
        let store = TestStore::new().await;
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        store
            .api_keys()
            .create(key(shop.id, "ft_abc"))
            .await
            .unwrap();
        let err = store
            .api_keys()
            .create(key(shop.id, "ft_abc"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate(Duplicate::ApiKey)),
            "{err:?}"
        );
    }
}

mod sessions {
    use super::*;

    #[tokio::test]
    async fn sessions_are_saved_replaced_loaded_and_expire() {
        let store = TestStore::new().await;
        let now = Utc::now().trunc_subsecs(0);
        let record = SessionRecord {
            id: "s1".into(),
            user_id: Some(7),
            data: b"{}".to_vec(),
            expires_at: now + Duration::hours(1),
        };
        store.sessions().save(&record).await.unwrap();
        let replaced = SessionRecord {
            data: b"{\"user\":1}".to_vec(),
            ..record.clone()
        };
        store.sessions().save(&replaced).await.unwrap();
        assert_eq!(
            store.sessions().load("s1", now).await.unwrap(),
            Some(replaced)
        );
        assert_eq!(
            store
                .sessions()
                .load("s1", now + Duration::hours(2))
                .await
                .unwrap(),
            None
        );

        let old = SessionRecord {
            id: "s2".into(),
            user_id: None,
            data: vec![],
            expires_at: now - Duration::minutes(1),
        };
        store.sessions().save(&old).await.unwrap();
        assert_eq!(store.sessions().delete_expired(now).await.unwrap(), 1);
        store.sessions().delete("s1").await.unwrap();
        assert_eq!(store.sessions().load("s1", now).await.unwrap(), None);
    }

    #[tokio::test]
    async fn all_sessions_of_one_user_can_be_ended() {
        let store = TestStore::new().await;
        let expires_at = Utc::now() + Duration::hours(1);
        for (id, user_id) in [("a", Some(1)), ("b", Some(1)), ("c", Some(2)), ("d", None)] {
            let record = SessionRecord {
                id: id.into(),
                user_id,
                data: vec![],
                expires_at,
            };
            store.sessions().save(&record).await.unwrap();
        }
        assert_eq!(store.sessions().delete_for_user(1).await.unwrap(), 2);
        assert!(
            store
                .sessions()
                .load("c", Utc::now())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .sessions()
                .load("d", Utc::now())
                .await
                .unwrap()
                .is_some()
        );
    }
}

mod invites {
    use super::*;
    use freshtoken_store::{InviteRefused, NewInvite};

    async fn setup(store: &Store) -> (i64, i64) {
        let shop = store.tenants().create("Shop", "shop").await.unwrap();
        let bob = store
            .users()
            .create(new_user("bob@example.com"))
            .await
            .unwrap();
        (shop.id, bob.id)
    }

    fn invite(tenant_id: i64, hash: &str, expires_at: DateTime<Utc>) -> NewInvite {
        NewInvite {
            tenant_id,
            secret_sha256: hash.into(),
            role: Role::Editor,
            created_by: None,
            expires_at,
        }
    }

    #[tokio::test]
    async fn an_invite_adds_the_member_once_and_only_once() {
        let store = TestStore::new().await;
        let (tenant_id, bob) = setup(&store).await;
        let now = Utc::now();
        store
            .invites()
            .create(invite(tenant_id, "h1", now + Duration::days(7)))
            .await
            .unwrap();

        let accepted = store
            .invites()
            .accept("h1", bob, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(accepted.used_by, Some(bob));
        assert_eq!(
            store.memberships().role_of(tenant_id, bob).await.unwrap(),
            Some(Role::Editor)
        );

        let carol = store
            .users()
            .create(new_user("carol@example.com"))
            .await
            .unwrap();
        let again = store.invites().accept("h1", carol.id, now).await.unwrap();
        assert_eq!(again, Err(InviteRefused::Used));
        assert_eq!(
            store
                .memberships()
                .role_of(tenant_id, carol.id)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn expired_and_unknown_invites_are_refused_with_the_reason() {
        let store = TestStore::new().await;
        let (tenant_id, bob) = setup(&store).await;
        let now = Utc::now();
        store
            .invites()
            .create(invite(tenant_id, "old", now - Duration::minutes(1)))
            .await
            .unwrap();
        assert_eq!(
            store.invites().accept("old", bob, now).await.unwrap(),
            Err(InviteRefused::Expired)
        );
        assert_eq!(
            store.invites().accept("nope", bob, now).await.unwrap(),
            Err(InviteRefused::Unknown)
        );
        assert_eq!(
            store.memberships().role_of(tenant_id, bob).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn invites_are_listed_and_deleted_per_tenant_only() {
        let store = TestStore::new().await;
        let (tenant_id, _) = setup(&store).await;
        let other = store.tenants().create("Other", "other").await.unwrap();
        let created = store
            .invites()
            .create(invite(tenant_id, "h1", Utc::now() + Duration::days(1)))
            .await
            .unwrap();
        assert!(store.invites().list(other.id).await.unwrap().is_empty());
        assert!(matches!(
            store.invites().delete(other.id, created.id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.invites().list(tenant_id).await.unwrap().len(), 1);
        store.invites().delete(tenant_id, created.id).await.unwrap();
        assert!(store.invites().list(tenant_id).await.unwrap().is_empty());
    }
}

mod connecting {
    use super::*;
    use freshtoken_store::{OauthState, TokenLifetime};

    #[tokio::test]
    async fn pausing_stops_refreshes_and_resuming_schedules_them_again() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "shop", "IGAAa").await;
        let accounts = store.accounts();
        let paused = accounts
            .set_paused(tenant_id, account_id, true, None)
            .await
            .unwrap();
        assert_eq!(paused.status, AccountStatus::Paused);
        assert_eq!(paused.next_refresh_at, None);
        let at = Utc::now().trunc_subsecs(0) + Duration::hours(3);
        let untouched = accounts
            .schedule_refresh(tenant_id, account_id, at)
            .await
            .unwrap();
        assert_eq!(
            untouched.next_refresh_at, None,
            "a paused account is not refreshed"
        );
        let resumed = accounts
            .set_paused(tenant_id, account_id, false, Some(at))
            .await
            .unwrap();
        assert_eq!(resumed.status, AccountStatus::Active);
        assert_eq!(resumed.next_refresh_at, Some(at));
        let sooner = at - Duration::hours(2);
        let scheduled = accounts
            .schedule_refresh(tenant_id, account_id, sooner)
            .await
            .unwrap();
        assert_eq!(scheduled.next_refresh_at, Some(sooner));
    }

    #[tokio::test]
    async fn an_account_that_needs_reconnecting_cannot_be_paused_back_to_life() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "shop", "IGAAa").await;
        store
            .accounts()
            .set_status(account_id, AccountStatus::NeedsReconnect, None, None)
            .await
            .unwrap();
        for paused in [true, false] {
            let account = store
                .accounts()
                .set_paused(tenant_id, account_id, paused, Some(Utc::now()))
                .await
                .unwrap();
            assert_eq!(account.status, AccountStatus::NeedsReconnect);
        }
    }

    #[tokio::test]
    async fn disconnecting_an_instagram_user_drops_its_tokens_in_every_tenant_only() {
        let store = TestStore::new().await;
        let a = store.tenants().create("A", "a").await.unwrap();
        let b = store.tenants().create("B", "b").await.unwrap();
        let connect = |tenant_id, user: &'static str| {
            let store = store.clone();
            async move {
                store
                    .accounts()
                    .connect(tenant_id, instagram_user(user, user), &token("IGAAx"), None)
                    .await
                    .unwrap()
                    .0
            }
        };
        let gone_a = connect(a.id, "1").await;
        let gone_b = connect(b.id, "1").await;
        let other = connect(a.id, "2").await;
        let touched = store
            .accounts()
            .disconnect_provider_user(
                AccountKind::Instagram,
                "1",
                "removed on Instagram",
                needs_reconnect,
            )
            .await
            .unwrap();
        assert_eq!(touched, 2);
        for (id, has_link) in [(gone_a.id, true), (gone_b.id, true), (other.id, false)] {
            let link = store
                .connect_links()
                .reconnect_secret(id, Utc::now())
                .await
                .unwrap();
            assert_eq!(link.is_some(), has_link, "account {id}: a reconnect link");
        }
        for id in [gone_a.id, gone_b.id] {
            let account = store.accounts().by_id(id).await.unwrap();
            assert_eq!(account.status, AccountStatus::NeedsReconnect);
            assert_eq!(account.last_error.as_deref(), Some("removed on Instagram"));
            assert!(matches!(
                store.tokens().read(id).await,
                Err(StoreError::NotFound)
            ));
        }
        assert!(store.tokens().read(other.id).await.is_ok());
        assert_eq!(
            store.accounts().by_id(other.id).await.unwrap().status,
            AccountStatus::Active
        );
    }

    #[tokio::test]
    async fn deleting_an_instagram_users_data_removes_its_accounts_and_records_only_a_count() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "shop", "IGAAa").await;
        let deletion = store
            .data_deletions()
            .delete_user_data(AccountKind::Instagram, "17841400000000001", "del_abc")
            .await
            .unwrap();
        assert_eq!(deletion.accounts_deleted, 1);
        assert!(store.accounts().list(tenant_id).await.unwrap().is_empty());
        assert!(matches!(
            store.tokens().read(account_id).await,
            Err(StoreError::NotFound)
        ));
        let found = store
            .data_deletions()
            .by_code("del_abc")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.accounts_deleted, 1);
        assert!(found.completed_at.is_some());
        assert!(
            store
                .data_deletions()
                .by_code("nope")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_oauth_state_can_be_taken_once_even_by_concurrent_requests() {
        let store = TestStore::new().await;
        let tenant = store.tenants().create("Shop", "shop").await.unwrap();
        let user = store
            .users()
            .create(new_user("a@example.com"))
            .await
            .unwrap();
        let now = Utc::now().trunc_subsecs(0);
        let pending = OauthState {
            started_by: StartedBy::Member {
                user_id: user.id,
                session_sha256: "s".repeat(64),
            },
            tenant_id: tenant.id,
            return_to: "/accounts".into(),
            created_at: now,
            expires_at: now + Duration::minutes(10),
        };
        store.oauth_states().create("h1", &pending).await.unwrap();
        let takes = futures_join((0..4).map(|_| {
            let store = store.clone();
            async move { store.oauth_states().take("h1").await.unwrap() }
        }))
        .await;
        let taken: Vec<_> = takes.into_iter().flatten().collect();
        assert_eq!(taken, vec![pending.clone()]);
        assert!(store.oauth_states().take("h1").await.unwrap().is_none());

        let stale = OauthState {
            expires_at: now - Duration::seconds(1),
            ..pending
        };
        store.oauth_states().create("h2", &stale).await.unwrap();
        assert_eq!(store.oauth_states().delete_expired(now).await.unwrap(), 1);
    }

    async fn futures_join<F: std::future::Future + Send + 'static>(
        futures: impl Iterator<Item = F>,
    ) -> Vec<F::Output>
    where
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut outputs = Vec::new();
        for handle in handles {
            outputs.push(handle.await.unwrap());
        }
        outputs
    }

    #[tokio::test]
    async fn a_tenant_at_its_account_limit_can_reconnect_but_not_add() {
        let store = TestStore::new().await;
        let (tenant_id, _) = tenant_with_account(&store, "shop", "IGAAa").await;
        store
            .tenants()
            .set_max_accounts(tenant_id, Some(1))
            .await
            .unwrap();
        let refused = store
            .accounts()
            .connect(tenant_id, instagram_user("2", "two"), &token("IGAAb"), None)
            .await;
        assert!(matches!(refused, Err(StoreError::AccountLimit { max: 1 })));
        let (_, created) = store
            .accounts()
            .connect(
                tenant_id,
                instagram_user("17841400000000001", "shop"),
                &token("IGAAc"),
                None,
            )
            .await
            .unwrap();
        assert!(!created);
    }

    #[tokio::test]
    async fn token_lifetimes_are_read_for_many_accounts_at_once() {
        let store = TestStore::new().await;
        let tenant = store.tenants().create("Shop", "shop").await.unwrap();
        let issued = Utc::now().trunc_subsecs(0) - Duration::days(3);
        let known = TokenUpdate {
            issued_at: issued,
            expires_at: Some(issued + Duration::days(60)),
            ..token("IGAAa")
        };
        let unknown = TokenUpdate {
            expires_at: None,
            ..known.clone()
        };
        let mut ids = Vec::new();
        let mut proofs = Vec::new();
        for (user, update) in [("1", &known), ("2", &unknown), ("3", &known)] {
            let (account, _) = store
                .accounts()
                .connect(tenant.id, instagram_user(user, user), update, None)
                .await
                .unwrap();
            ids.push(account.id);
            proofs.push(*account.proof());
        }
        store
            .accounts()
            .disconnect_provider_user(AccountKind::Instagram, "3", "removed", needs_reconnect)
            .await
            .unwrap();

        let lifetimes = store.tokens().lifetimes(&proofs).await.unwrap();
        assert_eq!(lifetimes.len(), 2, "the disconnected account has no token");
        assert_eq!(
            lifetimes[&ids[0]],
            TokenLifetime {
                issued_at: issued,
                expires_at: Some(issued + Duration::days(60)),
            }
        );
        assert_eq!(lifetimes[&ids[1]].expires_at, None);
        assert_eq!(
            store.tokens().lifetime(&proofs[1]).await.unwrap(),
            Some(lifetimes[&ids[1]])
        );
        assert_eq!(store.tokens().lifetime(&proofs[2]).await.unwrap(), None);
        assert_eq!(
            store.tokens().lifetime_unscoped(ids[1]).await.unwrap(),
            Some(lifetimes[&ids[1]])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_connects_neither_fail_nor_pass_the_account_limit() {
        let store = TestStore::new().await;
        let tenant = store.tenants().create("Shop", "shop").await.unwrap();
        store
            .tenants()
            .set_max_accounts(tenant.id, Some(3))
            .await
            .unwrap();
        let results = futures_join((0..12).map(|n| {
            let store = store.clone();
            async move {
                let user = format!("178414000000001{n:02}");
                store
                    .accounts()
                    .connect(
                        tenant.id,
                        instagram_user(&user, &user),
                        &token("IGAAx"),
                        None,
                    )
                    .await
            }
        }))
        .await;
        let connected = results.iter().filter(|result| result.is_ok()).count();
        let refused = results
            .iter()
            .filter(|result| matches!(result, Err(StoreError::AccountLimit { max: 3 })))
            .count();
        assert_eq!((connected, refused), (3, 9), "{results:?}");
        assert_eq!(store.accounts().list(tenant.id).await.unwrap().len(), 3);
    }
}

mod delivery {
    use super::*;
    use chrono::NaiveDate;
    use freshtoken_store::{Change, ChangeFeed, RequestCount};
    use std::collections::{HashMap, HashSet};

    /// The accounts the feed reports within a few seconds (SQLite is polled every 20 ms).
    async fn changed(feed: &mut ChangeFeed) -> HashSet<i64> {
        let mut seen = HashSet::new();
        while let Ok(change) =
            tokio::time::timeout(std::time::Duration::from_millis(700), feed.next()).await
        {
            match change.unwrap() {
                Change::Accounts(ids) => seen.extend(ids),
                Change::Unknown => panic!("the feed lost track"),
            }
        }
        seen
    }

    #[tokio::test]
    async fn the_change_feed_reports_what_alters_a_token_urls_answer_and_nothing_else() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "shop", "IGQVJ-first").await;
        let mut feed = ChangeFeed::start(&store, std::time::Duration::from_millis(20))
            .await
            .unwrap();
        assert!(changed(&mut feed).await.is_empty());

        // The worker's bookkeeping does not count.
        store
            .accounts()
            .schedule_refresh(tenant_id, account_id, Utc::now())
            .await
            .unwrap();
        assert!(changed(&mut feed).await.is_empty(), "a rescheduled refresh");

        let settings = AccountSettings {
            label: "Shop".to_owned(),
            allowed_origins: vec!["https://shop.example".to_owned()],
            allow_localhost: false,
            public: false,
            js_constant: None,
            refresh_interval: RefreshInterval::default(),
        };
        store
            .accounts()
            .update_settings(tenant_id, account_id, &settings)
            .await
            .unwrap();
        assert_eq!(
            changed(&mut feed).await,
            HashSet::from([account_id]),
            "settings"
        );

        store
            .tokens()
            .save(account_id, &token("IGQVJ-second"))
            .await
            .unwrap();
        assert_eq!(
            changed(&mut feed).await,
            HashSet::from([account_id]),
            "token"
        );

        store
            .media()
            .save(account_id, "[]", Utc::now())
            .await
            .unwrap();
        assert_eq!(
            changed(&mut feed).await,
            HashSet::from([account_id]),
            "media"
        );

        store.tenants().set_disabled(tenant_id, true).await.unwrap();
        assert_eq!(
            changed(&mut feed).await,
            HashSet::from([account_id]),
            "workspace"
        );

        store
            .accounts()
            .delete(tenant_id, account_id)
            .await
            .unwrap();
        assert_eq!(
            changed(&mut feed).await,
            HashSet::from([account_id]),
            "deletion"
        );
    }

    #[tokio::test]
    async fn request_counts_add_up_per_account_and_day_and_skip_deleted_accounts() {
        let store = TestStore::new().await;
        let (tenant_id, account_id) = tenant_with_account(&store, "shop", "IGQVJ-a").await;
        let account = proof(&store, tenant_id, account_id).await;
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let tuesday = monday.succ_opt().unwrap();
        let count = |served, refused| RequestCount {
            served,
            refused,
            refused_no_origin: refused / 2,
        };
        let batch = HashMap::from([
            ((account_id, monday), count(10, 1)),
            ((account_id, tuesday), count(3, 0)),
            // Deleted between the request and the flush.
            ((account_id + 1000, tuesday), count(5, 5)),
        ]);
        store.request_counts().add(&batch).await.unwrap();
        store
            .request_counts()
            .add(&HashMap::from([((account_id, tuesday), count(4, 2))]))
            .await
            .unwrap();

        let days = store
            .request_counts()
            .since(&account, monday)
            .await
            .unwrap();
        let days: Vec<_> = days.iter().map(|d| (d.day, d.count)).collect();
        assert_eq!(days, vec![(monday, count(10, 1)), (tuesday, count(7, 2))]);
        let today = store
            .request_counts()
            .on_day(&[account], tuesday)
            .await
            .unwrap();
        assert_eq!(today[&account_id], count(7, 2));

        store
            .accounts()
            .delete(tenant_id, account_id)
            .await
            .unwrap();
        assert!(
            store
                .request_counts()
                .since(&account, monday)
                .await
                .unwrap()
                .is_empty(),
            "counts go with their account"
        );
    }

    #[tokio::test]
    async fn a_busy_instances_counts_are_written_in_statements_the_database_accepts() {
        use freshtoken_store::testing::{SeedAccount, seed_due_accounts};
        let store = TestStore::new().await;
        let tenant_id = store.tenants().create("Busy", "busy").await.unwrap().id;
        // More rows than one statement could carry as bound parameters (4 each, SQLite takes
        // 32,766): the flush must split them.
        let accounts = 9_000;
        let seeds = (0..accounts)
            .map(|n| SeedAccount {
                username: format!("shop{n}"),
                provider_user_id: format!("{n}"),
                token: AccessToken::new(format!("IGQVJ-{n}")),
            })
            .collect();
        let now = Utc::now();
        seed_due_accounts(&store, tenant_id, seeds, now, now, now)
            .await
            .unwrap();
        let day = now.date_naive();
        let listed = store.accounts().list(tenant_id).await.unwrap();
        let ids: Vec<i64> = listed.iter().map(|account| account.id).collect();
        let proofs: Vec<TenantAccount> = listed.iter().map(|account| *account.proof()).collect();
        let counts = ids
            .iter()
            .map(|id| {
                (
                    (*id, day),
                    RequestCount {
                        served: 2,
                        refused: 1,
                        refused_no_origin: 1,
                    },
                )
            })
            .collect();
        store.request_counts().add(&counts).await.unwrap();
        let stored = store.request_counts().on_day(&proofs, day).await.unwrap();
        assert_eq!(stored.len(), accounts);
        assert!(stored.values().all(|count| *count
            == RequestCount {
                served: 2,
                refused: 1,
                refused_no_origin: 1,
            }));
    }
}

mod webhooks {
    use super::*;

    async fn raw_webhooks(store: &Store) -> String {
        let db = store.connection();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT secret, secret_ciphertext, secret_key_id FROM webhooks",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                let plain: String = row.try_get_by_index(0).unwrap();
                let sealed: Option<Vec<u8>> = row.try_get_by_index(1).unwrap();
                format!(
                    "{plain:?} {}",
                    String::from_utf8_lossy(&sealed.unwrap_or_default())
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn signing_secrets_are_sealed_at_rest_and_open_for_their_row_only() {
        let store = TestStore::new().await;
        let tenant = store.tenants().create("Shop", "shop").await.unwrap();
        let events = ["token.refreshed".to_owned()];
        let first = store
            .webhooks()
            .create(tenant.id, "https://example.com/a", &events)
            .await
            .unwrap();
        let second = store
            .webhooks()
            .create(tenant.id, "https://example.com/b", &events)
            .await
            .unwrap();
        assert!(first.secret.starts_with("whsec_"));
        assert_ne!(first.secret, second.secret);

        let dump = raw_webhooks(&store).await;
        assert!(!dump.contains(&first.secret), "plaintext secret in {dump}");
        assert!(!dump.contains(&second.secret), "plaintext secret in {dump}");
        assert_eq!(
            store.webhooks().list(tenant.id).await.unwrap(),
            [first.webhook.clone(), second.webhook.clone()],
            "listed without secrets"
        );
        assert_eq!(
            store
                .webhooks()
                .signing_secret(tenant.id, first.webhook.id)
                .await
                .unwrap(),
            first.secret
        );

        let db = store.connection();
        db.execute_unprepared(&format!(
            "UPDATE webhooks SET secret_ciphertext = (SELECT secret_ciphertext FROM webhooks WHERE id = {a}), \
             secret_nonce = (SELECT secret_nonce FROM webhooks WHERE id = {a}) WHERE id = {b}",
            a = first.webhook.id,
            b = second.webhook.id
        ))
        .await
        .unwrap();
        let err = store
            .webhooks()
            .signing_secret(tenant.id, second.webhook.id)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Crypto(_)), "{err:?}");
    }

    #[tokio::test]
    async fn secrets_an_older_version_kept_in_plain_are_sealed_when_it_migrates() {
        let store = TestStore::new().await;
        let tenant = store.tenants().create("Shop", "shop").await.unwrap();
        let hook = store
            .webhooks()
            .create(
                tenant.id,
                "https://example.com/a",
                &["token.refreshed".to_owned()],
            )
            .await
            .unwrap();
        // The row as the version before sealing left it.
        store
            .connection()
            .execute_unprepared(
                "UPDATE webhooks SET secret = 'whsec_keptinplain', secret_ciphertext = NULL, \
                 secret_nonce = NULL, secret_key_id = NULL",
            )
            .await
            .unwrap();

        store.migrate().await.unwrap();

        let dump = raw_webhooks(&store).await;
        assert!(!dump.contains("whsec_keptinplain"), "{dump}");
        assert!(
            dump.starts_with("\"\" "),
            "the plain column is emptied: {dump}"
        );
        assert_eq!(
            store
                .webhooks()
                .signing_secret(tenant.id, hook.webhook.id)
                .await
                .unwrap(),
            "whsec_keptinplain",
            "the same secret, so receivers keep verifying"
        );
        assert_eq!(
            store.webhooks().count_by_key().await.unwrap(),
            [(store.keys().current().primary_id().to_owned(), 1)]
        );
    }
}

/// What a disconnected account announces, for the tests that disconnect one.
fn needs_reconnect(_: &freshtoken_store::Account) -> freshtoken_store::Announcement {
    freshtoken_store::Announcement {
        event: "account.needs_reconnect".to_owned(),
        data: serde_json::json!({}),
        email: None,
        owner_email: None,
    }
}
