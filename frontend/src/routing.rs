//! Client-side routing in a page: the address as signals, links that change it without a
//! reload, and the back button. The browser's own URL parser does the parsing, which keeps a
//! URL library (and its Unicode tables) out of the download.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// The address the app shows, and the way to change it. Copy it into closures freely.
#[derive(Clone, Copy)]
pub struct Router {
    path: RwSignal<String>,
    search: RwSignal<String>,
}

fn address() -> (String, String) {
    let location = window().location();
    (
        location.pathname().unwrap_or_else(|_| "/".to_owned()),
        location.search().unwrap_or_default(),
    )
}

impl Router {
    /// Creates the router for the app: follows the back and forward buttons, and turns clicks
    /// on links to our own pages into in-page navigation.
    pub fn install() -> Router {
        let (path, search) = address();
        let router = Router {
            path: RwSignal::new(path),
            search: RwSignal::new(search),
        };
        provide_context(router);
        let popstate = window_event_listener(leptos::ev::popstate, move |_| router.sync());
        let clicks =
            window_event_listener(leptos::ev::click, move |event| router.follow_link(&event));
        // The app lives as long as the page: the listeners too.
        std::mem::forget((popstate, clicks));
        router
    }

    fn sync(self) {
        let (path, search) = address();
        self.path.set(path);
        self.search.set(search);
    }

    /// The path, e.g. `/w/3/accounts/7`.
    pub fn path(self) -> String {
        self.path.get()
    }

    /// One query parameter of the address, decoded.
    pub fn query(self, name: &str) -> Option<String> {
        web_sys::UrlSearchParams::new_with_str(&self.search.get())
            .ok()?
            .get(name)
    }

    /// Goes to `to` (a path with an optional query), adding to the history.
    pub fn go(self, to: &str) {
        self.change(to, false);
    }

    /// Goes to `to` in place of the current entry of the history (redirects).
    pub fn replace(self, to: &str) {
        self.change(to, true);
    }

    fn change(self, to: &str, replace: bool) {
        let Ok(history) = window().history() else {
            return;
        };
        let result = if replace {
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
        } else {
            history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
        };
        if result.is_ok() {
            self.sync();
            window().scroll_to_with_x_and_y(0.0, 0.0);
            announce_page();
        }
    }

    /// A plain left click on a link to a page of ours, without `rel="external"` (pages the
    /// server answers, such as Connect) or a target, navigates in the page.
    fn follow_link(self, event: &web_sys::MouseEvent) {
        if event.default_prevented()
            || event.button() != 0
            || event.meta_key()
            || event.ctrl_key()
            || event.shift_key()
            || event.alt_key()
        {
            return;
        }
        let Some(anchor) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("a[href]").ok().flatten())
            .and_then(|element| element.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        else {
            return;
        };
        let own_origin = window().location().origin().ok();
        if !anchor.target().is_empty()
            || anchor.has_attribute("download")
            || anchor.rel().split_whitespace().any(|rel| rel == "external")
            || own_origin.as_deref() != Some(anchor.origin().as_str())
        {
            return;
        }
        event.prevent_default();
        self.go(&format!("{}{}", anchor.pathname(), anchor.search()));
    }
}

/// After an in-page navigation, once the new page is drawn: moves the focus to its heading, so
/// keyboard and screen-reader users start on the new page as they would after a load (each
/// page names the tab itself, `widgets::page_title`).
pub fn announce_page() {
    request_animation_frame(|| {
        let Some(heading) = document().query_selector("main h1").ok().flatten() else {
            return;
        };
        let _ = heading.set_attribute("tabindex", "-1");
        if let Ok(heading) = heading.dyn_into::<web_sys::HtmlElement>() {
            let _ = heading.focus();
        }
    });
}

pub fn use_router() -> Router {
    expect_context::<Router>()
}

/// The path's segments: `/w/3/team` is `["w", "3", "team"]`.
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
        .collect()
}
