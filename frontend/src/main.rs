//! The freshtoken dashboard: a Leptos app in the browser, on the JSON API under `/api/v1`.
//!
//! Pages live in modules by area (`auth`, `accounts`, `links`, `team`, `webhooks`,
//! `operator`); the shared frame (header, workspace switcher, navigation) is `layout`, and
//! small parts used everywhere are in `widgets`. Who is signed in is one [`Session`] in the
//! context; `api` holds the calls and [`api::Remote`], the server data a page shows.

mod accounts;
mod api;
mod auth;
mod layout;
mod links;
mod operator;
mod routing;
mod team;
mod webhooks;
mod widgets;

use freshtoken_core::api::{InstanceView, MeResponse, SessionView};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Who is signed in and what this instance offers, loaded once when the app starts and
/// updated on sign-in and sign-out.
#[derive(Clone, Copy)]
pub struct Session {
    pub me: RwSignal<Option<MeResponse>>,
    pub instance: RwSignal<Option<InstanceView>>,
    /// Whether the first `/session` has answered, so pages can tell "signed out" from "not yet
    /// known".
    pub loaded: RwSignal<bool>,
    /// The workspace of the last page that had one, for pages that have none.
    pub last_tenant: RwSignal<Option<i64>>,
    /// The account a Connect just brought back, for its page to confirm once.
    pub just_connected: RwSignal<Option<i64>>,
}

impl Session {
    /// Reloads who is signed in, e.g. after joining or creating a workspace. `/session`
    /// answers 200 either way, so a signed-out page logs no failed request.
    pub fn reload(self) {
        spawn_local(async move {
            let me = api::get::<SessionView>("/session")
                .await
                .ok()
                .and_then(|session| session.me);
            self.me.set(me);
            self.loaded.set(true);
        });
    }
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

fn main() {
    // The shell shows "Loading…" until the app takes over.
    if let Some(loading) = document().get_element_by_id("loading") {
        loading.remove();
    }
    mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let session = Session {
        me: RwSignal::new(None),
        instance: RwSignal::new(None),
        loaded: RwSignal::new(false),
        last_tenant: RwSignal::new(None),
        just_connected: RwSignal::new(None),
    };
    provide_context(session);
    spawn_local(async move {
        if let Ok(instance) = api::get::<InstanceView>("/instance").await {
            session.instance.set(Some(instance));
        }
    });
    session.reload();

    let router = routing::Router::install();
    move || {
        let path = routing::segments(&router.path());
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        match path[..] {
            [] => view! { <layout::Home/> }.into_any(),
            ["signin"] => view! { <auth::SignIn/> }.into_any(),
            ["signup"] => view! { <auth::SignUp/> }.into_any(),
            ["invite"] => view! { <auth::AcceptInvite/> }.into_any(),
            ["workspaces", "new"] => view! { <team::NewWorkspace/> }.into_any(),
            ["w", _] => view! { <accounts::AccountList/> }.into_any(),
            ["w", _, "accounts", _] => view! { <accounts::AccountDetail/> }.into_any(),
            ["w", _, "links"] => view! { <links::Links/> }.into_any(),
            ["w", _, "team"] => view! { <team::Team/> }.into_any(),
            ["w", _, "webhooks"] => view! { <webhooks::Webhooks/> }.into_any(),
            ["operator"] => view! { <operator::Operator/> }.into_any(),
            _ => view! { <layout::NotFound/> }.into_any(),
        }
    }
}
