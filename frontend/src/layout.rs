//! The frame around every signed-in page: the header with the workspace switcher, the
//! navigation of the workspace, and the demo banner. Also the home page, which only sends the
//! reader where they belong.

use crate::routing::use_router;
use freshtoken_core::api::TenantView;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::widgets::page_title;
use crate::{api, use_session};

/// Where a workspace's pages live.
pub fn workspace_path(tenant: i64) -> String {
    format!("/w/{tenant}")
}

/// Sends a signed-out reader to the sign-in page, with the way back.
fn require_sign_in() {
    let session = use_session();
    let router = use_router();
    Effect::new(move |_| {
        if session.loaded.get() && session.me.with(Option::is_none) {
            let location = window().location();
            let here =
                location.pathname().unwrap_or_default() + &location.search().unwrap_or_default();
            let next = js_sys::encode_uri_component(&here);
            router.replace(&format!("/signin?next={next}"));
        }
    });
}

/// `/`: the first workspace of a signed-in reader, the sign-in page otherwise.
#[component]
pub fn Home() -> impl IntoView {
    let session = use_session();
    let router = use_router();
    Effect::new(move |_| {
        if !session.loaded.get() {
            return;
        }
        let to = match session.me.get() {
            // A fresh instance opens on sign-up: whoever signs up first runs it.
            None => match session.instance.get() {
                None => return,
                Some(instance) if instance.first_user => "/signup".to_owned(),
                Some(_) => "/signin".to_owned(),
            },
            Some(me) => match me.tenants.first() {
                Some(tenant) => workspace_path(tenant.id),
                None => "/workspaces/new".to_owned(),
            },
        };
        router.replace(&to);
    });
    page_title(Box::new(Vec::new));
    view! { <p class="loading" role="status">"Loading…"</p> }
}

#[component]
pub fn NotFound() -> impl IntoView {
    page_title(Box::new(|| vec!["Page not found".to_owned()]));
    view! {
        <DemoBanner/>
        <header class="top"><a class="brand" href="/">"freshtoken"</a></header>
        <main class="narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <a href="/">"Back to the dashboard"</a></p>
        </main>
    }
}

/// The demo banner, on every page of an instance in demo mode.
#[component]
pub fn DemoBanner() -> impl IntoView {
    let session = use_session();
    move || {
        session.instance.get().filter(|instance| instance.demo).map(|_| {
            view! {
                <div class="demo-banner" role="note">
                    <span class="wide-only">"Demo mode: Instagram, Facebook and Threads here are a built-in fake. Nothing reaches the real ones."</span>
                    <span class="narrow-only">"Demo mode: Meta here is a built-in fake."</span>
                </div>
            }
        })
    }
}

/// Which part of a workspace a page shows, to mark it in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Accounts,
    Links,
    Team,
    Webhooks,
    Operator,
    None,
}

impl Area {
    /// The page's name in the tab's title.
    fn title(self) -> &'static str {
        match self {
            Area::Accounts => "Accounts",
            Area::Links => "Connect links",
            Area::Team => "Team & API keys",
            Area::Webhooks => "Webhooks",
            Area::Operator => "Operator",
            Area::None => "New workspace",
        }
    }
}

/// The frame of a signed-in page: header, workspace switcher, navigation, then the page.
/// The tab is named after the area and the workspace, or after `title` when there is one
/// (an account's page).
#[component]
pub fn Layout(
    #[prop(into)] tenant: Signal<Option<i64>>,
    area: Area,
    #[prop(optional, into)] title: Option<Signal<String>>,
    children: Children,
) -> impl IntoView {
    require_sign_in();
    let session = use_session();
    let signing_out = RwSignal::new(false);
    let sign_out = move |_| {
        signing_out.set(true);
        spawn_local(async move {
            let _ = api::post_empty("/auth/signout", &()).await;
            session.me.set(None);
            signing_out.set(false);
        });
    };
    let tenants = move || session.me.get().map(|me| me.tenants).unwrap_or_default();
    // Pages outside a workspace (the operator's) keep the one last visited in the switcher and
    // the navigation; the new-workspace page selects "New workspace".
    Effect::new(move |_| {
        if let Some(id) = tenant.get() {
            session.last_tenant.set(Some(id));
        }
    });
    let shown = Signal::derive(move || match area {
        Area::None => None,
        _ => tenant
            .get()
            .or_else(|| session.last_tenant.get())
            .or_else(|| tenants().first().map(|t| t.id)),
    });
    let current = move || {
        tenant
            .get()
            .and_then(|id| tenants().into_iter().find(|t| t.id == id))
    };

    page_title(Box::new(move || match title {
        Some(title) => vec![title.get()],
        None => vec![
            area.title().to_owned(),
            current().map(|t| t.name).unwrap_or_default(),
        ],
    }));
    let link = move |area_of_link: Area, suffix: &'static str, text: &'static str| {
        move || {
            shown.get().map(|id| {
                let current = (area == area_of_link).then_some("page");
                view! { <a href=format!("{}{suffix}", workspace_path(id)) aria-current=current>{text}</a> }
            })
        }
    };
    let is_operator = move || session.me.get().is_some_and(|me| me.user.is_operator);

    view! {
        <DemoBanner/>
        <header class="top">
            <a class="brand" href="/">"freshtoken"</a>
            // A list of links behind a button: nothing navigates while the keyboard moves
            // through it, and each page draws its own frame, closed.
            <details class="switcher">
                <summary>
                    <span class="visually-hidden">"Workspace: "</span>
                    {move || {
                        let id = shown.get();
                        tenants().into_iter().find(|t| Some(t.id) == id).map_or_else(|| "New workspace".to_owned(), |t| t.name)
                    }}
                </summary>
                <ul aria-label="Workspaces">
                    {move || {
                        let selected = shown.get();
                        tenants()
                            .into_iter()
                            .map(|t: TenantView| {
                                let current = (selected == Some(t.id)).then_some("page");
                                view! { <li><a href=workspace_path(t.id) aria-current=current>{t.name}</a></li> }
                            })
                            .collect_view()
                    }}
                    <li><a href="/workspaces/new">"+ New workspace"</a></li>
                </ul>
            </details>
            <nav aria-label="Workspace">
                {link(Area::Accounts, "", "Accounts")}
                {link(Area::Links, "/links", "Connect links")}
                {link(Area::Team, "/team", "Team & API keys")}
                {link(Area::Webhooks, "/webhooks", "Webhooks")}
                {move || is_operator().then(|| {
                    let current = (area == Area::Operator).then_some("page");
                    view! { <a href="/operator" aria-current=current>"Operator"</a> }
                })}
            </nav>
            <div class="who">
                <span class="muted">{move || session.me.get().map(|me| me.user.email)}</span>
                <button type="button" class="secondary small" on:click=sign_out disabled=signing_out>
                    {move || if signing_out.get() { "Signing out…" } else { "Sign out" }}
                </button>
            </div>
        </header>
        {move || current().filter(|t| t.disabled).map(|_| view! {
            <div class="callout bad" role="alert">"This workspace is disabled by the operator: its token URLs answer nothing and its tokens are not refreshed."</div>
        })}
        <main>{children()}</main>
    }
}

/// The role of the signed-in reader in `tenant`, when they are a member.
pub fn role_in(tenant: Signal<Option<i64>>) -> Signal<Option<freshtoken_core::Role>> {
    let session = use_session();
    Signal::derive(move || {
        let id = tenant.get()?;
        session
            .me
            .get()?
            .tenants
            .into_iter()
            .find(|t| t.id == id)
            .map(|t| t.role)
    })
}
