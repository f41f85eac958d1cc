//! The operator's pages: the instance's health, every tenant and every user, with disable and
//! enable. Only operators see them; the API answers 404 to anyone else.

use freshtoken_core::api::{OperatorHealthView, OperatorTenantView, OperatorUserView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, Remote};
use crate::layout::{Area, Layout};
use crate::widgets::{ErrorNote, button_html, clicked, esc, loaded, table_html, time_html};

/// A tenant's or user's state, with the button that flips it (`{path}/enable` or `/disable`).
fn state_html(disabled: bool, path: String, name: &str) -> String {
    let (state, verb, label) = if disabled {
        ("disabled ", "enable", "Enable")
    } else {
        ("active ", "disable", "Disable")
    };
    state.to_owned()
        + &button_html(
            "secondary small",
            &format!("{path}/{verb}"),
            &format!("{label}: {name}"),
            label,
        )
}

/// Whether a button's path is one of [`state_html`]'s, `/admin/{tenants|users}/{id}/{verb}`:
/// nothing else is posted, whatever a page's HTML might come to hold.
fn is_toggle(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "admin", "tenants" | "users", id, "enable" | "disable"]
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
    )
}

fn tenants_html(list: Vec<OperatorTenantView>) -> String {
    let rows = list
        .into_iter()
        .map(|tenant| {
            vec![
                format!(
                    "{} <span class=\"muted\">{}</span>",
                    esc(&tenant.name),
                    esc(&tenant.slug)
                ),
                tenant.members.to_string(),
                tenant.accounts.to_string(),
                time_html(&tenant.created_at),
                state_html(
                    tenant.disabled,
                    format!("/admin/tenants/{}", tenant.id),
                    &tenant.name,
                ),
            ]
        })
        .collect();
    table_html(
        "Tenants",
        &["Name", "Members", "Accounts", "Created", "State"],
        rows,
    )
}

fn users_html(list: Vec<OperatorUserView>) -> String {
    let rows = list
        .into_iter()
        .map(|user| {
            vec![
                esc(&user.email) + if user.is_operator { " (operator)" } else { "" },
                user.tenants.to_string(),
                user.last_login_at.as_deref().map_or_else(
                    || "<span class=\"muted\">never</span>".to_owned(),
                    time_html,
                ),
                state_html(
                    user.disabled,
                    format!("/admin/users/{}", user.id),
                    &user.email,
                ),
            ]
        })
        .collect();
    table_html(
        "Users",
        &["E-mail", "Workspaces", "Last sign-in", "State"],
        rows,
    )
}

fn health_html(health: &OperatorHealthView) -> String {
    let soonest = health
        .soonest_expiry_at
        .as_deref()
        .map_or_else(|| "none stored".to_owned(), time_html);
    let stats = [
        (
            "Refreshes due now",
            health.refreshes_due.to_string(),
            health.refreshes_due > 0,
        ),
        (
            "Notifications waiting",
            health.notifications_pending.to_string(),
            false,
        ),
        ("Soonest token expiry", soonest, false),
        ("Accounts active", health.accounts_active.to_string(), false),
        ("Accounts paused", health.accounts_paused.to_string(), false),
        (
            "Accounts needing reconnect",
            health.accounts_needing_reconnect.to_string(),
            health.accounts_needing_reconnect > 0,
        ),
    ];
    stats
        .into_iter()
        .map(|(title, value, warn)| {
            let class = if warn { "stat warn" } else { "stat" };
            format!("<div class=\"{class}\"><dt>{title}</dt><dd>{value}</dd></div>")
        })
        .collect()
}

#[component]
pub fn Operator() -> impl IntoView {
    let health = Remote::<OperatorHealthView>::new(|| Some("/admin/health".to_owned()));
    let tenants = Remote::<Vec<OperatorTenantView>>::new(|| Some("/admin/tenants".to_owned()));
    let users = Remote::<Vec<OperatorUserView>>::new(|| Some("/admin/users".to_owned()));
    let error = RwSignal::new(None::<ApiError>);
    let toggle = move |path: String| {
        error.set(None);
        spawn_local(async move {
            match api::post_empty(&path, &()).await {
                Ok(()) => {
                    tenants.refetch();
                    users.refetch();
                }
                Err(err) => error.set(Some(err)),
            }
        });
    };
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(path) = clicked(&ev).filter(|path| is_toggle(path)) {
            toggle(path);
        }
    };
    view! {
        <Layout tenant=Signal::derive(|| None) area=Area::Operator>
            <h1>"Operator"</h1>
            <ErrorNote error=error.into()/>
            <section aria-labelledby="health-title">
                <h2 id="health-title">"Queue and refresh health"</h2>
                <button type="button" class="secondary small" on:click=move |_| health.refetch()>"Reload"</button>
                {move || loaded(health.get(), |health| view! { <dl class="stats" inner_html=health_html(&health)></dl> }.into_any())}
            </section>
            <section aria-labelledby="tenants-title">
                <h2 id="tenants-title">"Tenants"</h2>
                {move || loaded(tenants.get(), |list| view! { <div class="table-wrap" inner_html=tenants_html(list) on:click=on_click></div> }.into_any())}
            </section>
            <section aria-labelledby="users-title">
                <h2 id="users-title">"Users"</h2>
                {move || loaded(users.get(), |list| view! { <div class="table-wrap" inner_html=users_html(list) on:click=on_click></div> }.into_any())}
            </section>
        </Layout>
    }
}
