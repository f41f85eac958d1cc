//! A workspace's webhooks (add, test, remove) and its delivery log.

use freshtoken_core::Role;
use freshtoken_core::api::{
    CreateWebhookRequest, CreatedWebhook, NotificationView, WEBHOOK_EVENTS, WebhookView,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::accounts::tenant_param;
use crate::api::{self, ApiError, Remote};
use crate::auth::Field;
use crate::layout::{Area, Layout, role_in};
use crate::widgets::{ErrorNote, Snippet, esc, loaded, table_html, time_html};

fn event_words(event: &str) -> &'static str {
    match event {
        "token.refreshed" => "A token was refreshed",
        "account.needs_reconnect" => "An account needs reconnecting",
        "token.expiring" => "A token is about to expire",
        "account.connected" => "An account was connected",
        "webhook.test" => "Test delivery",
        _ => "Other event",
    }
}

#[component]
pub fn Webhooks() -> impl IntoView {
    let tenant = tenant_param();
    let role = role_in(tenant);
    view! {
        <Layout tenant=tenant area=Area::Webhooks>
            <h1>"Webhooks"</h1>
            <p class="hint">"freshtoken POSTs a signed JSON event (header X-Freshtoken-Signature) to each endpoint when something happens to an account; see docs/api.md."</p>
            {move || tenant.get().map(|tenant| {
                let log = Remote::<Vec<NotificationView>>::new(move || Some(format!("/tenants/{tenant}/notifications?limit=50")));
                view! {
                    <Show when=move || role.get() == Some(Role::Owner)
                        fallback=|| view! { <p class="hint">"Only owners manage webhooks."</p> }>
                        <Endpoints tenant=tenant log=log/>
                    </Show>
                    <DeliveryLog log=log/>
                }
            })}
        </Layout>
    }
}

#[component]
fn Endpoints(tenant: i64, log: Remote<Vec<NotificationView>>) -> impl IntoView {
    let hooks =
        Remote::<Vec<WebhookView>>::new(move || Some(format!("/tenants/{tenant}/webhooks")));
    let url = RwSignal::new(String::new());
    let chosen = RwSignal::new(
        WEBHOOK_EVENTS
            .iter()
            .map(|event| (*event).to_owned())
            .collect::<Vec<_>>(),
    );
    let tried = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let note = RwSignal::new(None::<String>);
    // The new endpoint's signing secret: the server answers it this once and never again.
    let created = RwSignal::new(None::<CreatedWebhook>);
    let url_problem = Signal::derive(move || {
        let text = url.get();
        let text = text.trim();
        tried
            .get()
            .then(|| {
                if !(text.starts_with("https://") || text.starts_with("http://")) {
                    Some("Enter the endpoint's URL, starting with https://.".to_owned())
                } else {
                    None
                }
            })
            .flatten()
    });
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        if url_problem.get().is_some() {
            return;
        }
        if chosen.with(Vec::is_empty) {
            error.set(Some(ApiError {
                status: 0,
                message: "Choose at least one event.".to_owned(),
            }));
            return;
        }
        pending.set(true);
        error.set(None);
        let request = CreateWebhookRequest {
            url: url.get().trim().to_owned(),
            events: Some(chosen.get()),
        };
        spawn_local(async move {
            match api::post::<_, CreatedWebhook>(&format!("/tenants/{tenant}/webhooks"), &request)
                .await
            {
                Ok(hook) => {
                    created.set(Some(hook));
                    url.set(String::new());
                    tried.set(false);
                    hooks.refetch();
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    let test = move |id: i64| {
        error.set(None);
        note.set(None);
        spawn_local(async move {
            match api::post::<_, NotificationView>(
                &format!("/tenants/{tenant}/webhooks/{id}/test"),
                &(),
            )
            .await
            {
                Ok(_) => {
                    note.set(Some(
                        "Test delivery queued; the log below shows how it went within seconds."
                            .to_owned(),
                    ));
                    log.refetch();
                }
                Err(err) => error.set(Some(err)),
            }
        });
    };
    let remove = move |id: i64| {
        spawn_local(async move {
            match api::delete(&format!("/tenants/{tenant}/webhooks/{id}")).await {
                Ok(()) => hooks.refetch(),
                Err(err) => error.set(Some(err)),
            }
        });
    };
    view! {
        <section aria-labelledby="endpoints-title">
            <h2 id="endpoints-title">"Endpoints"</h2>
            {move || loaded(hooks.get(), |ready| match ready {
                list if list.is_empty() => view! { <p class="muted">"No endpoints yet."</p> }.into_any(),
                list => view! {
                    <ul class="plain">
                        {list.into_iter().map(|hook| {
                            let id = hook.id;
                            view! {
                                <li class="panel">
                                    <p><code>{hook.url.clone()}</code></p>
                                    <p class="hint">{hook.events.iter().map(|event| event_words(event)).collect::<Vec<_>>().join(" · ")}</p>
                                    <div class="actions">
                                        <button type="button" class="secondary small" on:click=move |_| test(id)>"Send a test"</button>
                                        <button type="button" class="danger small" on:click=move |_| remove(id)>"Remove"</button>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
            {move || created.get().map(|hook| view! {
                <div class="callout ok">
                    <p>"Copy the signing secret now: it is shown only once, and kept encrypted. Your endpoint checks X-Freshtoken-Signature with it."</p>
                    <Snippet title=format!("Signing secret for {}", hook.webhook.url) text=hook.secret/>
                </div>
            })}
            {move || note.get().map(|note| view! { <p class="note" role="status">{note}</p> })}
            <form class="panel" on:submit=add novalidate>
                <h3>"Add an endpoint"</h3>
                <Field label="URL" id="webhook-url" value=url kind="url" problem=url_problem/>
                <fieldset>
                    <legend>"Events"</legend>
                    {WEBHOOK_EVENTS.iter().map(|event| {
                        let event = (*event).to_owned();
                        let checked = {
                            let event = event.clone();
                            move || chosen.with(|chosen| chosen.contains(&event))
                        };
                        let toggle = {
                            let event = event.clone();
                            move |_| chosen.update(|chosen| {
                                if let Some(at) = chosen.iter().position(|e| e == &event) {
                                    chosen.remove(at);
                                } else {
                                    chosen.push(event.clone());
                                }
                            })
                        };
                        view! { <label class="check"><input type="checkbox" prop:checked=checked on:change=toggle/>" " {event_words(&event)}</label> }
                    }).collect_view()}
                </fieldset>
                <ErrorNote error=error.into()/>
                <button type="submit" disabled=pending>{move || if pending.get() { "Adding…" } else { "Add endpoint" }}</button>
            </form>
        </section>
    }
}

fn log_html(entries: Vec<NotificationView>) -> String {
    let rows = entries
        .into_iter()
        .map(|entry| {
            let status_class = match entry.status.as_str() {
                "delivered" => "badge ok",
                "failed" => "badge bad",
                _ => "badge muted",
            };
            let details = match (entry.response_status, entry.last_error) {
                (_, Some(error)) => error,
                (Some(code), None) => format!("HTTP {code}"),
                (None, None) => String::new(),
            };
            vec![
                time_html(&entry.created_at),
                event_words(&entry.event).to_owned(),
                esc(&entry.recipient.unwrap_or(entry.channel)),
                format!(
                    "<span class=\"{status_class}\">{}</span> after {} tries",
                    esc(&entry.status),
                    entry.attempts
                ),
                esc(&details),
            ]
        })
        .collect();
    table_html(
        "Deliveries, newest first",
        &["When", "Event", "To", "Status", "Details"],
        rows,
    )
}

#[component]
fn DeliveryLog(log: Remote<Vec<NotificationView>>) -> impl IntoView {
    view! {
        <section aria-labelledby="log-title">
            <h2 id="log-title">"Delivery log"</h2>
            <button type="button" class="secondary small" on:click=move |_| log.refetch()>"Reload"</button>
            {move || loaded(log.get(), |ready| match ready {
                entries if entries.is_empty() => view! { <p class="muted">"Nothing sent yet."</p> }.into_any(),
                entries => view! { <div class="table-wrap" inner_html=log_html(entries)></div> }.into_any(),
            })}
        </section>
    }
}
