//! Workspaces, members, invitations and API keys: who may see and change what.

use serde_json::{Value, json};

use crate::support::{Browser, TestApp};

const PASSWORD: &str = "a long enough password";

async fn owner_of_new_tenant(app: &TestApp, email: &str) -> (Browser, i64, i64) {
    let mut browser = app.browser();
    let me = browser.sign_up(email).await;
    let tenant_id = me["tenants"][0]["id"].as_i64().unwrap();
    let user_id = me["user"]["id"].as_i64().unwrap();
    (browser, tenant_id, user_id)
}

/// Invites a new person with `role` and returns their browser and user id.
pub async fn join_as(
    app: &TestApp,
    owner: &mut Browser,
    tenant_id: i64,
    role: &str,
    email: &str,
) -> (Browser, i64) {
    let invite = owner
        .post(
            &format!("/api/v1/tenants/{tenant_id}/invites"),
            json!({"role": role}),
        )
        .await;
    assert_eq!(invite.status, 201, "{:?}", invite.body);
    let mut member = app.browser();
    let me = member
        .post(
            "/api/v1/auth/signup",
            json!({"email": email, "password": PASSWORD, "invite": invite.body["secret"]}),
        )
        .await;
    assert_eq!(me.status, 201, "{:?}", me.body);
    (member, me.body["user"]["id"].as_i64().unwrap())
}

/// Every route under a tenant, with a body where it needs one.
fn tenant_routes(
    tenant_id: i64,
    user_id: i64,
    invite_id: i64,
    key_id: i64,
) -> Vec<(&'static str, String, Option<Value>)> {
    let t = format!("/api/v1/tenants/{tenant_id}");
    vec![
        ("GET", t.clone(), None),
        ("GET", format!("{t}/members"), None),
        (
            "PATCH",
            format!("{t}/members/{user_id}"),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", format!("{t}/members/{user_id}"), None),
        ("GET", format!("{t}/invites"), None),
        (
            "POST",
            format!("{t}/invites"),
            Some(json!({"role": "owner"})),
        ),
        ("DELETE", format!("{t}/invites/{invite_id}"), None),
        ("GET", format!("{t}/api-keys"), None),
        (
            "POST",
            format!("{t}/api-keys"),
            Some(json!({"name": "stolen"})),
        ),
        ("DELETE", format!("{t}/api-keys/{key_id}"), None),
    ]
}

#[tokio::test]
async fn another_tenants_workspace_is_not_found_on_every_route() {
    let app = TestApp::spawn().await;
    let (mut alice, tenant_a, alice_id) = owner_of_new_tenant(&app, "alice@example.com").await;
    let invite = alice
        .post(
            &format!("/api/v1/tenants/{tenant_a}/invites"),
            json!({"role": "viewer"}),
        )
        .await;
    let invite_id = invite.body["invite"]["id"].as_i64().unwrap();
    let key = alice
        .post(
            &format!("/api/v1/tenants/{tenant_a}/api-keys"),
            json!({"name": "ci"}),
        )
        .await;
    let key_id = key.body["key"]["id"].as_i64().unwrap();

    let (mut mallory, tenant_m, _) = owner_of_new_tenant(&app, "mallory@example.com").await;
    for (method, path, body) in tenant_routes(tenant_a, alice_id, invite_id, key_id) {
        let reply = mallory.send(method, &path, body).await;
        assert_eq!(
            reply.status, 404,
            "{method} {path} answered {:?}",
            reply.body
        );
        assert_eq!(reply.error_code(), "not_found");
    }
    // Mallory's own API key cannot reach Alice's workspace either.
    let own_key = mallory
        .post(
            &format!("/api/v1/tenants/{tenant_m}/api-keys"),
            json!({"name": "m"}),
        )
        .await;
    let bearer = format!("Bearer {}", own_key.body["secret"].as_str().unwrap());
    let mut scripted = app.browser();
    scripted.origin = None;
    let reply = scripted
        .send_with(
            "GET",
            &format!("/api/v1/tenants/{tenant_a}"),
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(reply.status, 404);

    // And nothing of Alice's changed.
    let members = alice
        .get(&format!("/api/v1/tenants/{tenant_a}/members"))
        .await;
    assert_eq!(members.body.as_array().unwrap().len(), 1);
    assert_eq!(members.body[0]["role"], "owner");
    let keys = alice
        .get(&format!("/api/v1/tenants/{tenant_a}/api-keys"))
        .await;
    assert_eq!(keys.body[0]["revoked"], false);
    let invites = alice
        .get(&format!("/api/v1/tenants/{tenant_a}/invites"))
        .await;
    assert_eq!(invites.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn viewers_read_but_cannot_change_anything() {
    let app = TestApp::spawn().await;
    let (mut owner, tenant_id, owner_id) = owner_of_new_tenant(&app, "owner@example.com").await;
    let invite = owner
        .post(
            &format!("/api/v1/tenants/{tenant_id}/invites"),
            json!({"role": "editor"}),
        )
        .await;
    let invite_id = invite.body["invite"]["id"].as_i64().unwrap();
    let key = owner
        .post(
            &format!("/api/v1/tenants/{tenant_id}/api-keys"),
            json!({"name": "ci"}),
        )
        .await;
    let key_id = key.body["key"]["id"].as_i64().unwrap();
    let (mut viewer, _) =
        join_as(&app, &mut owner, tenant_id, "viewer", "viewer@example.com").await;

    assert_eq!(
        viewer
            .get(&format!("/api/v1/tenants/{tenant_id}"))
            .await
            .status,
        200
    );
    assert_eq!(
        viewer
            .get(&format!("/api/v1/tenants/{tenant_id}/members"))
            .await
            .status,
        200
    );
    for (method, path, body) in tenant_routes(tenant_id, owner_id, invite_id, key_id) {
        if method == "GET" && !path.ends_with("invites") && !path.ends_with("api-keys") {
            continue;
        }
        let reply = viewer.send(method, &path, body).await;
        assert_eq!(
            reply.status, 403,
            "{method} {path} answered {:?}",
            reply.body
        );
    }
    let members = owner
        .get(&format!("/api/v1/tenants/{tenant_id}/members"))
        .await;
    assert_eq!(
        members.body.as_array().unwrap().len(),
        2,
        "the viewer removed nobody"
    );
}

#[tokio::test]
async fn an_invite_works_once() {
    let app = TestApp::spawn().await;
    let (mut owner, tenant_id, _) = owner_of_new_tenant(&app, "owner@example.com").await;
    let invite = owner
        .post(
            &format!("/api/v1/tenants/{tenant_id}/invites"),
            json!({"role": "editor"}),
        )
        .await;
    let secret = invite.body["secret"].as_str().unwrap().to_owned();

    let (mut bob, _, _) = owner_of_new_tenant(&app, "bob@example.com").await;
    let accepted = bob
        .post("/api/v1/invites/accept", json!({"secret": secret}))
        .await;
    assert_eq!(accepted.status, 200);
    assert_eq!(accepted.body["tenants"].as_array().unwrap().len(), 2);

    let (mut carol, _, _) = owner_of_new_tenant(&app, "carol@example.com").await;
    let reused = carol
        .post("/api/v1/invites/accept", json!({"secret": secret}))
        .await;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.error_code(), "invite_refused");
    assert!(
        reused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already been used")
    );
    let bogus = carol
        .post("/api/v1/invites/accept", json!({"secret": "made-up"}))
        .await;
    assert_eq!(bogus.error_code(), "invite_refused");
}

#[tokio::test]
async fn a_workspace_never_loses_its_last_owner() {
    let app = TestApp::spawn().await;
    let (mut owner, tenant_id, owner_id) = owner_of_new_tenant(&app, "owner@example.com").await;
    let me = format!("/api/v1/tenants/{tenant_id}/members/{owner_id}");
    assert_eq!(owner.send("DELETE", &me, None).await.status, 409);
    assert_eq!(
        owner
            .send("PATCH", &me, Some(json!({"role": "editor"})))
            .await
            .status,
        409
    );

    let (_, editor_id) = join_as(&app, &mut owner, tenant_id, "editor", "ed@example.com").await;
    let editor = format!("/api/v1/tenants/{tenant_id}/members/{editor_id}");
    assert_eq!(
        owner
            .send("PATCH", &editor, Some(json!({"role": "owner"})))
            .await
            .status,
        204
    );
    // Now there are two owners: the first may step down, and leave.
    assert_eq!(
        owner
            .send("PATCH", &me, Some(json!({"role": "viewer"})))
            .await
            .status,
        204
    );
    assert_eq!(owner.send("DELETE", &me, None).await.status, 204);
    assert_eq!(
        owner
            .get(&format!("/api/v1/tenants/{tenant_id}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn api_keys_are_shown_once_work_as_bearer_and_die_when_revoked() {
    let app = TestApp::spawn().await;
    let (mut owner, tenant_id, _) = owner_of_new_tenant(&app, "owner@example.com").await;
    let created = owner
        .post(
            &format!("/api/v1/tenants/{tenant_id}/api-keys"),
            json!({"name": "deploy"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ft_") && secret.len() > 40);
    assert!(secret.starts_with(created.body["key"]["prefix"].as_str().unwrap()));
    let key_id = created.body["key"]["id"].as_i64().unwrap();

    let listed = owner
        .get(&format!("/api/v1/tenants/{tenant_id}/api-keys"))
        .await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is shown only once"
    );

    let mut script = app.browser();
    script.origin = None;
    let bearer = format!("Bearer {secret}");
    let auth = [("authorization", bearer.as_str())];
    let reply = script
        .send_with("GET", &format!("/api/v1/tenants/{tenant_id}"), None, &auth)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["role"], "editor");
    let listed = owner
        .get(&format!("/api/v1/tenants/{tenant_id}/api-keys"))
        .await;
    assert!(listed.body[0]["last_used_at"].is_string());
    // A key is not a person: it cannot mint keys or read /me.
    let reply = script
        .send_with(
            "POST",
            &format!("/api/v1/tenants/{tenant_id}/api-keys"),
            Some(json!({"name": "x"})),
            &auth,
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        script
            .send_with("GET", "/api/v1/me", None, &auth)
            .await
            .status,
        403
    );

    assert_eq!(
        owner
            .send(
                "DELETE",
                &format!("/api/v1/tenants/{tenant_id}/api-keys/{key_id}"),
                None
            )
            .await
            .status,
        204
    );
    let reply = script
        .send_with("GET", &format!("/api/v1/tenants/{tenant_id}"), None, &auth)
        .await;
    assert_eq!(reply.status, 401);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
}

#[tokio::test]
async fn workspaces_get_unique_slugs_and_given_slugs_are_checked() {
    let app = TestApp::spawn().await;
    let (mut owner, _, _) = owner_of_new_tenant(&app, "owner@example.com").await;
    let first = owner
        .post("/api/v1/tenants", json!({"name": "Acme Shop"}))
        .await;
    let second = owner
        .post("/api/v1/tenants", json!({"name": "Acme Shop"}))
        .await;
    assert_eq!(first.body["slug"], "acme-shop");
    assert_ne!(first.body["slug"], second.body["slug"]);
    let taken = owner
        .post("/api/v1/tenants", json!({"name": "X", "slug": "acme-shop"}))
        .await;
    assert_eq!(taken.status, 409);
    let bad = owner
        .post(
            "/api/v1/tenants",
            json!({"name": "X", "slug": "Not A Slug"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let listed = owner.get("/api/v1/tenants").await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_type() {
    let app = TestApp::spawn().await;
    let reply = app.browser().get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200);
    let paths = reply.body["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/signin",
        "/api/v1/auth/signout",
        "/api/v1/me",
        "/api/v1/tenants",
        "/api/v1/tenants/{tenant_id}",
        "/api/v1/tenants/{tenant_id}/members",
        "/api/v1/tenants/{tenant_id}/members/{user_id}",
        "/api/v1/tenants/{tenant_id}/invites",
        "/api/v1/tenants/{tenant_id}/invites/{invite_id}",
        "/api/v1/invites/accept",
        "/api/v1/tenants/{tenant_id}/api-keys",
        "/api/v1/tenants/{tenant_id}/api-keys/{key_id}",
        "/api/v1/tenants/{tenant_id}/webhooks",
        "/api/v1/tenants/{tenant_id}/webhooks/{webhook_id}",
        "/api/v1/tenants/{tenant_id}/notifications",
        "/api/v1/admin/tenants",
        "/api/v1/admin/users",
        "/api/v1/admin/tenants/{id}/disable",
        "/api/v1/admin/users/{id}/enable",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from the OpenAPI document"
        );
    }
    // Every schema a response or request refers to is defined.
    let document = reply.body.to_string();
    let schemas = reply.body["components"]["schemas"].as_object().unwrap();
    for reference in document.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            schemas.contains_key(name),
            "schema {name} is referenced but not defined"
        );
    }
    assert_eq!(
        schemas["Role"]["enum"],
        json!(["owner", "editor", "viewer"])
    );
}
