//! The operator's pages: the instance's health, every tenant and every user, with disable and
//! enable. Only operators see them; the API answers 404 to anyone else.

use freshtoken_core::api::{OperatorHealthView, OperatorTenantView, OperatorUserView};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, Remote};
use crate::layout::{Area, Layout};
use crate::widgets::{ErrorNote, When, loaded};

/// A tenant's or user's state, with the button that flips it (`{path}/enable` or `/disable`).
fn state_cell(
    disabled: bool,
    path: String,
    toggle: impl Fn(String) + Copy + 'static,
) -> impl IntoView {
    let (state, verb, label) = if disabled {
        ("disabled ", "enable", "Enable")
    } else {
        ("active ", "disable", "Disable")
    };
    let path = format!("{path}/{verb}");
    view! {
        {state}
        <button type="button" class="secondary small" on:click=move |_| toggle(path.clone())>{label}</button>
    }
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
    view! {
        <Layout tenant=Signal::derive(|| None) area=Area::Operator>
            <h1>"Operator"</h1>
            <ErrorNote error=error.into()/>
            <section aria-labelledby="health-title">
                <h2 id="health-title">"Queue and refresh health"</h2>
                <button type="button" class="secondary small" on:click=move |_| health.refetch()>"Reload"</button>
                {move || loaded(health.get(), |health| view! {
                        <dl class="stats">
                            <div class={if health.refreshes_due > 0 { "stat warn" } else { "stat" }}><dt>"Refreshes due now"</dt><dd>{health.refreshes_due}</dd></div>
                            <div class="stat"><dt>"Notifications waiting"</dt><dd>{health.notifications_pending}</dd></div>
                            <div class="stat"><dt>"Soonest token expiry"</dt><dd><When at=health.soonest_expiry_at.clone() never="none stored"/></dd></div>
                            <div class="stat"><dt>"Accounts active"</dt><dd>{health.accounts_active}</dd></div>
                            <div class="stat"><dt>"Accounts paused"</dt><dd>{health.accounts_paused}</dd></div>
                            <div class={if health.accounts_needing_reconnect > 0 { "stat warn" } else { "stat" }}><dt>"Accounts needing reconnect"</dt><dd>{health.accounts_needing_reconnect}</dd></div>
                        </dl>
                    }.into_any())}
            </section>
            <section aria-labelledby="tenants-title">
                <h2 id="tenants-title">"Tenants"</h2>
                {move || loaded(tenants.get(), |list| view! {
                        <div class="table-wrap"><table>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Members"</th><th scope="col">"Accounts"</th><th scope="col">"Created"</th><th scope="col">"State"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|tenant| {
                                    view! {
                                        <tr>
                                            <td>{tenant.name.clone()} " " <span class="muted">{tenant.slug.clone()}</span></td>
                                            <td>{tenant.members}</td>
                                            <td>{tenant.accounts}</td>
                                            <td><When at=Some(tenant.created_at.clone())/></td>
                                            <td>{state_cell(tenant.disabled, format!("/admin/tenants/{}", tenant.id), toggle)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any())}
            </section>
            <section aria-labelledby="users-title">
                <h2 id="users-title">"Users"</h2>
                {move || loaded(users.get(), |list| view! {
                        <div class="table-wrap"><table>
                            <thead><tr><th scope="col">"E-mail"</th><th scope="col">"Workspaces"</th><th scope="col">"Last sign-in"</th><th scope="col">"State"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|user| {
                                    view! {
                                        <tr>
                                            <td>{user.email.clone()} {user.is_operator.then_some(" (operator)")}</td>
                                            <td>{user.tenants}</td>
                                            <td><When at=user.last_login_at.clone()/></td>
                                            <td>{state_cell(user.disabled, format!("/admin/users/{}", user.id), toggle)}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any())}
            </section>
        </Layout>
    }
}
