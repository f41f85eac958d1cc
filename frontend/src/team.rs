//! A workspace's people and machines: members and their roles, invitation links, API keys;
//! and creating a new workspace.

use crate::routing::use_router;
use freshtoken_core::api::{
    ApiKeyView, CreateApiKeyRequest, CreateInviteRequest, CreateTenantRequest, CreatedApiKey,
    CreatedInvite, InviteView, MemberView, TenantView, UpdateMemberRequest,
};
use freshtoken_core::{ApiKeyScope, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::accounts::tenant_param;
use crate::api::{self, ApiError, Remote};
use crate::auth::Field;
use crate::layout::{Area, Layout, role_in, workspace_path};
use crate::use_session;
use crate::widgets::{
    ErrorNote, Snippet, button_html, clicked, esc, loaded, table_html, time_html,
};

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Owner => "Owner",
        Role::Editor => "Editor",
        Role::Viewer => "Viewer",
    }
}

#[component]
pub fn Team() -> impl IntoView {
    let tenant = tenant_param();
    let role = role_in(tenant);
    let is_owner = Signal::derive(move || role.get() == Some(Role::Owner));
    view! {
        <Layout tenant=tenant area=Area::Team>
            <h1>"Team & API keys"</h1>
            {move || tenant.get().map(|tenant| view! {
                <Members tenant=tenant is_owner=is_owner/>
                <Show when=move || is_owner.get()>
                    <Invites tenant=tenant/>
                    <ApiKeys tenant=tenant/>
                </Show>
            })}
            <Show when=move || !is_owner.get()>
                <p class="hint">"Only owners manage members, invitations and API keys."</p>
            </Show>
        </Layout>
    }
}

/// The members, with (for owners) a role to choose and Remove for everyone but themselves.
fn members_html(list: Vec<MemberView>, is_owner: bool, me: Option<i64>) -> String {
    let rows = list
        .into_iter()
        .map(|member| {
            let id = member.user_id;
            let editable = is_owner && me != Some(id);
            let (role, remove) = if editable {
                let options: String = [Role::Owner, Role::Editor, Role::Viewer]
                    .into_iter()
                    .map(|role| {
                        let selected = if role == member.role { " selected" } else { "" };
                        format!("<option value=\"{}\"{selected}>{}</option>", role.as_str(), role_words(role))
                    })
                    .collect();
                (
                    format!(
                        "<label><span class=\"visually-hidden\">Role of {0}</span><select data-user=\"{id}\">{options}</select></label>",
                        esc(&member.email)
                    ),
                    button_html("danger small", &id.to_string(), &format!("Remove {}", member.email), "Remove"),
                )
            } else {
                (role_words(member.role).to_owned(), String::new())
            };
            let name = if member.name.is_empty() { "—".to_owned() } else { esc(&member.name) };
            vec![name, esc(&member.email), role, remove]
        })
        .collect();
    table_html(
        "Members",
        &[
            "Name",
            "E-mail",
            "Role",
            "<span class=\"visually-hidden\">Actions</span>",
        ],
        rows,
    )
}

#[component]
fn Members(tenant: i64, is_owner: Signal<bool>) -> impl IntoView {
    let session = use_session();
    let members =
        Remote::<Vec<MemberView>>::new(move || Some(format!("/tenants/{tenant}/members")));
    let error = RwSignal::new(None::<ApiError>);
    let me = move || session.me.get().map(|me| me.user.id);
    let change = move |user_id: i64, role: Option<Role>| {
        error.set(None);
        spawn_local(async move {
            let path = format!("/tenants/{tenant}/members/{user_id}");
            let result = match role {
                Some(role) => api::patch_empty(&path, &UpdateMemberRequest { role }).await,
                None => api::delete(&path).await,
            };
            match result {
                Ok(()) => members.refetch(),
                Err(err) => error.set(Some(err)),
            }
        });
    };
    view! {
        <section aria-labelledby="members-title">
            <h2 id="members-title">"Members"</h2>
            <ErrorNote error=error.into()/>
            {move || loaded(members.get(), |list| view! {
                <div class="table-wrap" inner_html=members_html(list, is_owner.get(), me())
                    on:click=move |ev| if let Some(id) = clicked(&ev).and_then(|id| id.parse().ok()) { change(id, None) }
                    on:change=move |ev| {
                        let user = ev.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()).and_then(|select| select.get_attribute("data-user"));
                        if let (Some(Ok(id)), Ok(role)) = (user.map(|user| user.parse()), event_target_value(&ev).parse::<Role>()) {
                            change(id, Some(role));
                        }
                    }></div>
            }.into_any())}
        </section>
    }
}

fn invites_html(list: Vec<InviteView>) -> String {
    list.into_iter()
        .map(|invite| {
            let state = if invite.used {
                " · used".to_owned()
            } else {
                format!(
                    " · expires {} {}",
                    time_html(&invite.expires_at),
                    button_html(
                        "secondary small",
                        &invite.id.to_string(),
                        "Revoke the invitation",
                        "Revoke"
                    )
                )
            };
            format!(
                "<li>{} · created {}{state}</li>",
                role_words(invite.role),
                time_html(&invite.created_at)
            )
        })
        .collect()
}

#[component]
fn Invites(tenant: i64) -> impl IntoView {
    let invites =
        Remote::<Vec<InviteView>>::new(move || Some(format!("/tenants/{tenant}/invites")));
    let role = RwSignal::new("editor".to_owned());
    let created = RwSignal::new(None::<CreatedInvite>);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(role) = role.get().parse::<Role>() else {
            return;
        };
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            let request = CreateInviteRequest {
                role,
                expires_in_days: None,
            };
            match api::post::<_, CreatedInvite>(&format!("/tenants/{tenant}/invites"), &request)
                .await
            {
                Ok(invite) => {
                    created.set(Some(invite));
                    invites.refetch();
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    let revoke = move |id: i64| {
        spawn_local(async move {
            match api::delete(&format!("/tenants/{tenant}/invites/{id}")).await {
                Ok(()) => invites.refetch(),
                Err(err) => error.set(Some(err)),
            }
        });
    };
    view! {
        <section aria-labelledby="invites-title">
            <h2 id="invites-title">"Invitations"</h2>
            <form class="inline" on:submit=create>
                <label for="invite-role">"Invite someone as"</label>
                <select id="invite-role" bind:value=role>
                    <option value="owner">"Owner"</option>
                    <option value="editor">"Editor"</option>
                    <option value="viewer">"Viewer"</option>
                </select>
                <button type="submit" disabled=pending>{move || if pending.get() { "Creating…" } else { "Create a link" }}</button>
            </form>
            <ErrorNote error=error.into()/>
            {move || created.get().map(|invite| view! {
                <div class="callout ok">
                    <p>"Send this link to the person you invite. It is shown only now and works once, until " {crate::widgets::local_time(&invite.invite.expires_at)} "."</p>
                    <Snippet title="Invitation link" text=invite.url/>
                </div>
            })}
            {move || match invites.get() {
                Some(Ok(list)) if !list.is_empty() => view! {
                    <ul class="plain" inner_html=invites_html(list)
                        on:click=move |ev| if let Some(id) = clicked(&ev).and_then(|id| id.parse().ok()) { revoke(id) }></ul>
                }.into_any(),
                Some(Err(err)) => crate::widgets::error_view(err.message),
                _ => ().into_any(),
            }}
        </section>
    }
}

#[component]
fn ApiKeys(tenant: i64) -> impl IntoView {
    let keys = Remote::<Vec<ApiKeyView>>::new(move || Some(format!("/tenants/{tenant}/api-keys")));
    let name = RwSignal::new(String::new());
    // Least privilege first: most keys are for a build or a backend that reads tokens.
    let scope = RwSignal::new(ApiKeyScope::TokensRead.as_str().to_owned());
    let expires = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let created = RwSignal::new(None::<CreatedApiKey>);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let name_problem = Signal::derive(move || {
        (tried.get() && name.with(|name| name.trim().is_empty()))
            .then(|| "Name the key, e.g. after what uses it.".to_owned())
    });
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        if name_problem.get().is_some() {
            return;
        }
        pending.set(true);
        error.set(None);
        let expires_on = expires.get();
        let request = CreateApiKeyRequest {
            name: name.get().trim().to_owned(),
            scopes: scope
                .get()
                .parse::<ApiKeyScope>()
                .ok()
                .map(|scope| vec![scope]),
            // The end of the day chosen, in UTC.
            expires_at: (!expires_on.is_empty()).then(|| format!("{expires_on}T23:59:59Z")),
        };
        spawn_local(async move {
            match api::post::<_, CreatedApiKey>(&format!("/tenants/{tenant}/api-keys"), &request)
                .await
            {
                Ok(key) => {
                    created.set(Some(key));
                    name.set(String::new());
                    tried.set(false);
                    keys.refetch();
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    let revoke = move |id: i64| {
        spawn_local(async move {
            match api::delete(&format!("/tenants/{tenant}/api-keys/{id}")).await {
                Ok(()) => keys.refetch(),
                Err(err) => error.set(Some(err)),
            }
        });
    };
    view! {
        <section aria-labelledby="keys-title">
            <h2 id="keys-title">"API keys"</h2>
            <p class="hint">"For servers and scripts: send " <code>"Authorization: Bearer <key>"</code> ". A tokens:read key gets this workspace's tokens at their token URLs, whatever the allowed websites, and can do nothing else; an api key uses the API as an editor."</p>
            <form on:submit=create novalidate>
                <Field label="Key name" id="key-name" value=name problem=name_problem/>
                <div class="field">
                    <label for="key-scope">"What it may do"</label>
                    <select id="key-scope" bind:value=scope>
                        <option value="tokens:read">"Read tokens only (a site build, a backend)"</option>
                        <option value="api">"The API, as an editor (automation)"</option>
                    </select>
                </div>
                <div class="field">
                    <label for="key-expires">"Expires (optional)"</label>
                    <input id="key-expires" type="date" bind:value=expires/>
                </div>
                <button type="submit" disabled=pending>{move || if pending.get() { "Creating…" } else { "Create a key" }}</button>
            </form>
            <ErrorNote error=error.into()/>
            {move || created.get().map(|key| view! {
                <div class="callout ok">
                    <p>"Copy the key now: it is shown only once, and only its hash is kept."</p>
                    <Snippet title=format!("API key \u{201c}{}\u{201d}", key.key.name) text=key.secret/>
                </div>
            })}
            {move || match keys.get() {
                Some(Ok(list)) if !list.is_empty() => view! {
                    <div class="table-wrap" inner_html=keys_html(list)
                        on:click=move |ev| if let Some(id) = clicked(&ev).and_then(|id| id.parse().ok()) { revoke(id) }></div>
                }.into_any(),
                Some(Err(err)) => crate::widgets::error_view(err.message),
                _ => ().into_any(),
            }}
        </section>
    }
}

fn keys_html(list: Vec<ApiKeyView>) -> String {
    let rows = list
        .into_iter()
        .map(|key| {
            let state = if key.revoked {
                "<span class=\"muted\">revoked</span>".to_owned()
            } else if !key.active {
                "<span class=\"muted\">expired</span>".to_owned()
            } else {
                button_html(
                    "danger small",
                    &key.id.to_string(),
                    &format!("Revoke: {}", key.name),
                    "Revoke",
                )
            };
            let when = |at: Option<&str>| {
                at.map_or_else(
                    || "<span class=\"muted\">never</span>".to_owned(),
                    time_html,
                )
            };
            vec![
                esc(&key.name),
                format!("<code>{}</code>", esc(&key.prefix)),
                key.scopes
                    .iter()
                    .map(|scope| scope.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                time_html(&key.created_at),
                when(key.last_used_at.as_deref()),
                when(key.expires_at.as_deref()),
                state,
            ]
        })
        .collect();
    table_html(
        "API keys",
        &[
            "Name",
            "Starts with",
            "May",
            "Created",
            "Last used",
            "Expires",
            "<span class=\"visually-hidden\">Actions</span>",
        ],
        rows,
    )
}

/// `/workspaces/new`.
#[component]
pub fn NewWorkspace() -> impl IntoView {
    let session = use_session();
    let router = use_router();
    let name = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let problem = Signal::derive(move || {
        (tried.get() && name.with(|name| name.trim().is_empty()))
            .then(|| "Name the workspace.".to_owned())
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        if problem.get().is_some() {
            return;
        }
        pending.set(true);
        error.set(None);
        let request = CreateTenantRequest {
            name: name.get().trim().to_owned(),
            slug: None,
        };
        spawn_local(async move {
            match api::post::<_, TenantView>("/tenants", &request).await {
                Ok(tenant) => {
                    session.reload();
                    router.go(&workspace_path(tenant.id));
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <Layout tenant=Signal::derive(|| None) area=Area::None>
            <h1>"New workspace"</h1>
            <p class="hint">"A workspace holds Instagram accounts and the people who manage them."</p>
            <form on:submit=submit novalidate>
                <Field label="Name" id="workspace-name" value=name problem=problem/>
                <ErrorNote error=error.into()/>
                <button type="submit" disabled=pending>{move || if pending.get() { "Creating…" } else { "Create workspace" }}</button>
            </form>
        </Layout>
    }
}
