//! A workspace's connect links: a link that lets an account's owner (a client, with no account
//! here) connect it themselves, with the settings chosen in advance; the list, and revoking.

use freshtoken_core::api::{
    ConnectLinkView, CreateConnectLinkRequest, CreatedConnectLink, LinkPresetsView,
};
use freshtoken_core::{AccountKind, Role, is_email_address};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::accounts::{origin_lines, origins_problem, tenant_param};
use crate::api::{self, ApiError, Remote};
use crate::auth::Field;
use crate::layout::{Area, Layout, role_in};
use crate::use_session;
use crate::widgets::{
    ErrorNote, Snippet, button_html, clicked, esc, focus_later, loaded, local_date,
};

/// The problem with an optional e-mail address, in words.
pub fn optional_email_problem(text: &str) -> Option<String> {
    (!text.trim().is_empty() && !is_email_address(text))
        .then(|| "Enter an e-mail address like client@example.com, or leave it empty.".to_owned())
}

#[component]
pub fn Links() -> impl IntoView {
    let tenant = tenant_param();
    let role = role_in(tenant);
    let can_edit = Signal::derive(move || role.get().is_some_and(Role::can_edit));
    view! {
        <Layout tenant=tenant area=Area::Links>
            <h1>"Connect links"</h1>
            <p class="hint">"A link for the owner of an account (your client): they open it, log in on Instagram's, Facebook's or Threads' own page, and the account lands here with the settings you chose. They need no account here."</p>
            {move || tenant.get().map(|tenant| view! { <LinkList tenant=tenant can_edit=can_edit/> })}
        </Layout>
    }
}

fn links_html(list: Vec<ConnectLinkView>, can_edit: bool) -> String {
    list.into_iter()
        .map(|link| {
            let name = if link.label.is_empty() {
                "A link without a label".to_owned()
            } else {
                link.label.clone()
            };
            let (badge, state) = match link.state.as_str() {
                "active" => ("badge ok", "Active"),
                "used" => ("badge muted", "Used"),
                "expired" => ("badge muted", "Expired"),
                _ => ("badge muted", "Revoked"),
            };
            // Several Facebook Pages chosen at once count as one use.
            let uses = match link.uses {
                0 => "not used yet".to_owned(),
                1 => "used once".to_owned(),
                n => format!("used {n} times"),
            };
            let facts = [
                Some(if link.reusable { "reusable" } else { "single use" }.to_owned()),
                Some(uses),
                Some(format!("valid until {}", local_date(&link.expires_at))),
                link.created_by.clone().map(|who| format!("made by {who}")),
                link.presets.allowed_origins.clone().map(|sites| format!("for {}", sites.join(", "))),
                link.presets.owner_email.clone().map(|email| format!("owner {email}")),
            ];
            let revoke = if link.state == "active" && can_edit {
                button_html("danger small", &link.id.to_string(), &format!("Revoke: {name}"), "Revoke")
            } else {
                String::new()
            };
            format!(
                "<li class=\"panel\"><p><strong>{}</strong> <span class=\"kind\">{}</span> <span class=\"{badge}\">{state}</span></p><p class=\"hint\">{}</p>{revoke}</li>",
                esc(&name),
                link.kind.display_name(),
                esc(&facts.into_iter().flatten().collect::<Vec<_>>().join(" · "))
            )
        })
        .collect()
}

#[component]
fn LinkList(tenant: i64, can_edit: Signal<bool>) -> impl IntoView {
    let path = format!("/tenants/{tenant}/connect-links");
    let links = Remote::<Vec<ConnectLinkView>>::new({
        let path = path.clone();
        move || Some(path.clone())
    });
    let error = RwSignal::new(None::<ApiError>);
    let revoke = move |id: i64| {
        let path = format!("{path}/{id}");
        error.set(None);
        spawn_local(async move {
            match api::delete(&path).await {
                Ok(()) => links.refetch(),
                Err(err) => error.set(Some(err)),
            }
        });
    };
    view! {
        <Show when=move || can_edit.get()
            fallback=|| view! { <p class="hint">"Owners and editors make and revoke links."</p> }>
            <NewLink tenant=tenant links=links/>
        </Show>
        <section aria-labelledby="links-title">
            <h2 id="links-title">"Links"</h2>
            <ErrorNote error=error.into()/>
            {move || {
                let revoke = revoke.clone();
                loaded(links.get(), move |list| match list {
                    list if list.is_empty() => view! { <p class="muted">"No connect links yet."</p> }.into_any(),
                    list => view! {
                        <ul class="plain" inner_html=links_html(list, can_edit.get())
                            on:click=move |ev| if let Some(id) = clicked(&ev).and_then(|id| id.parse().ok()) { revoke(id) }></ul>
                    }.into_any(),
                })
            }}
        </section>
    }
}

/// The form that makes a link, and the link made, shown this once.
#[component]
fn NewLink(tenant: i64, links: Remote<Vec<ConnectLinkView>>) -> impl IntoView {
    let session = use_session();
    let offered = move || {
        session
            .instance
            .get()
            .map(|instance| instance.connect_kinds)
            .unwrap_or_default()
    };
    let kind = RwSignal::new(AccountKind::Instagram.as_str().to_owned());
    let label = RwSignal::new(String::new());
    let sites = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let days = RwSignal::new("7".to_owned());
    let reusable = RwSignal::new(false);
    let tried = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let created = RwSignal::new(None::<CreatedConnectLink>);
    let checked = move |problem: fn(&str) -> Option<String>, value: RwSignal<String>| {
        Signal::derive(move || tried.get().then(|| problem(&value.get())).flatten())
    };
    let sites_problem = checked(origins_problem, sites);
    let email_problem = checked(optional_email_problem, email);
    let days_problem = checked(
        |text| {
            (!text
                .trim()
                .parse()
                .is_ok_and(|days: u32| (1..=30).contains(&days)))
            .then(|| "A link lasts 1 to 30 days.".to_owned())
        },
        days,
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        if sites_problem.get().is_some()
            || email_problem.get().is_some()
            || days_problem.get().is_some()
        {
            return;
        }
        let text = |value: RwSignal<String>| {
            Some(value.get().trim().to_owned()).filter(|text| !text.is_empty())
        };
        let offered = offered();
        let origins = origin_lines(&sites.get());
        let request = CreateConnectLinkRequest {
            // The kind chosen, or the first offered when Instagram (the default) is not.
            kind: offered
                .iter()
                .find(|offered| offered.as_str() == kind.get())
                .or(offered.first())
                .copied(),
            label: text(label),
            expires_in_days: days.get().trim().parse().ok(),
            reusable: reusable.get(),
            presets: LinkPresetsView {
                allowed_origins: (!origins.is_empty()).then_some(origins),
                owner_email: text(email),
                ..Default::default()
            },
        };
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<_, CreatedConnectLink>(
                &format!("/tenants/{tenant}/connect-links"),
                &request,
            )
            .await
            {
                Ok(link) => {
                    created.set(Some(link));
                    focus_later("[aria-label='Copy: Connect link']");
                    for field in [label, sites, email] {
                        field.set(String::new());
                    }
                    tried.set(false);
                    links.refetch();
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <Show when=move || !offered().is_empty()
            fallback=|| view! { <p class="hint">"Connect links need a Meta app on this instance (see docs/instagram-app.md)."</p> }>
            <form class="panel" on:submit=submit novalidate>
                <h2>"New link"</h2>
                <div class="field">
                    <label for="link-kind">"Account to connect"</label>
                    <select id="link-kind" bind:value=kind>
                        {move || offered().into_iter().map(|offered| view! {
                            <option value=offered.as_str() selected=offered.as_str() == kind.get_untracked()>{offered.display_name()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <Field label="Who is it for?" id="link-label" value=label
                    hint="Seen by your team in this list; the account gets it as its label." problem=Signal::derive(|| None::<String>)/>
                <div class="field">
                    <label for="link-sites">"Sites that will show the feed (one a line, or separated by commas)"</label>
                    <textarea id="link-sites" rows="2" bind:value=sites placeholder="https://example.com" aria-describedby="link-sites-error"
                        aria-invalid=move || sites_problem.with(Option::is_some).to_string()></textarea>
                    {move || sites_problem.get().map(|problem| view! { <p class="field-error" id="link-sites-error">{problem}</p> })}
                </div>
                <Field label="Owner's e-mail (optional)" id="link-email" value=email kind="email"
                    hint="Told when the account needs them again, with a link that reconnects it." problem=email_problem/>
                <Field label="Expires in days (1 to 30)" id="link-days" value=days kind="number" problem=days_problem/>
                <label class="check"><input type="checkbox" bind:checked=reusable/>" Reusable: connects any number of accounts until it expires (otherwise, one)"</label>
                <ErrorNote error=error.into()/>
                <button type="submit" disabled=pending>{move || if pending.get() { "Creating…" } else { "Create the link" }}</button>
            </form>
        </Show>
        {move || created.get().map(|created| view! {
            <div class="callout ok">
                <p role="status">"Send this to the account's owner: they connect without an account here. "
                    {format!("It works until {}{}, and is shown only now.", local_date(&created.link.expires_at),
                        if created.link.reusable { " for any number of accounts" } else { ", once" })}</p>
                <Snippet title="Connect link" text=created.url/>
            </div>
        })}
    }
}
