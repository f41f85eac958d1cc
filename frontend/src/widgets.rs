//! Small parts every page uses: status badges, copy buttons, error notes, times in words.

use freshtoken_core::AccountStatus;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api::{ApiError, ApiResult};

/// The account's status as a coloured badge with words (colour is never the only signal).
#[component]
pub fn StatusBadge(status: AccountStatus) -> impl IntoView {
    let (class, text) = match status {
        AccountStatus::Active => ("badge ok", "Active"),
        AccountStatus::Paused => ("badge muted", "Paused"),
        AccountStatus::NeedsReconnect => ("badge bad", "Needs reconnect"),
    };
    view! { <span class=class>{text}</span> }
}

/// A failed action's words, announced to screen readers.
#[component]
pub fn ErrorNote(error: Signal<Option<ApiError>>) -> impl IntoView {
    move || {
        error.get().map(|error| {
            view! { <p class="error" role="alert">{error.message}</p> }
        })
    }
}

/// "Copy" for a piece of text: the clipboard when the browser allows it, and a note either way.
#[component]
pub fn CopyButton(text: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let text = text.clone();
        leptos::task::spawn_local(async move {
            let clipboard = window().navigator().clipboard();
            let done = JsFuture::from(clipboard.write_text(&text)).await.is_ok();
            copied.set(Some(done));
        });
    };
    view! {
        <button type="button" class="secondary small" on:click=copy aria-label=label.clone()>
            "Copy"
        </button>
        <span class="copy-note" role="status">
            {move || match copied.get() {
                Some(true) => "Copied",
                Some(false) => "Select the text and copy it (the browser refused the clipboard)",
                None => "",
            }}
        </span>
    }
}

/// Moves the focus to the element `selector` names once it is drawn: to a secret's Copy
/// button, say, which also scrolls it into view.
pub fn focus_later(selector: &'static str) {
    request_animation_frame(move || {
        if let Some(element) = document()
            .query_selector(selector)
            .ok()
            .flatten()
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    });
}

/// A block of code with its copy button and an accessible name.
#[component]
pub fn Snippet(#[prop(into)] title: String, text: String) -> impl IntoView {
    view! {
        <div class="snippet">
            <div class="snippet-head">
                <h4>{title.clone()}</h4>
                <CopyButton text=text.clone() label=format!("Copy: {title}")/>
            </div>
            <pre><code>{text}</code></pre>
        </div>
    }
}

/// Milliseconds since 1970 of an RFC 3339 time, or `None` when it is not one.
fn millis(rfc3339: &str) -> Option<f64> {
    let value = js_sys::Date::parse(rfc3339);
    (!value.is_nan()).then_some(value)
}

/// Whole days from now until `rfc3339` (negative when past).
pub fn days_until(rfc3339: &str) -> Option<i64> {
    let ms = millis(rfc3339)? - js_sys::Date::now();
    Some((ms / 86_400_000.0).floor() as i64)
}

/// "in 3 days", "5 hours ago", "just now".
pub fn relative(rfc3339: &str) -> String {
    let Some(at) = millis(rfc3339) else {
        return rfc3339.to_owned();
    };
    let seconds = (at - js_sys::Date::now()) / 1000.0;
    let magnitude = seconds.abs();
    let (amount, unit) = if magnitude < 60.0 {
        return "just now".to_owned();
    } else if magnitude < 3600.0 {
        (magnitude / 60.0, "minute")
    } else if magnitude < 86_400.0 {
        (magnitude / 3600.0, "hour")
    } else {
        (magnitude / 86_400.0, "day")
    };
    let amount = amount.floor() as i64;
    let unit = if amount == 1 {
        unit.to_owned()
    } else {
        format!("{unit}s")
    };
    if seconds > 0.0 {
        format!("in {amount} {unit}")
    } else {
        format!("{amount} {unit} ago")
    }
}

/// The date and time in the reader's own locale, for titles and tables.
pub fn local_time(rfc3339: &str) -> String {
    match millis(rfc3339) {
        Some(ms) => js_sys::Date::new(&ms.into())
            .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
            .into(),
        None => rfc3339.to_owned(),
    }
}

/// The date alone, in the reader's own locale and words ("Dec 12, 2026"), for expiries.
pub fn local_date(rfc3339: &str) -> String {
    match millis(rfc3339) {
        Some(ms) => {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
            js_sys::Date::new(&ms.into())
                .to_locale_date_string("default", &options)
                .into()
        }
        None => rfc3339.to_owned(),
    }
}

/// A `<time>` showing `relative`, with the exact time on hover.
#[component]
pub fn When(at: Option<String>, #[prop(optional, into)] never: Option<String>) -> impl IntoView {
    match at {
        Some(at) => {
            view! { <time datetime=at.clone() title=local_time(&at)>{relative(&at)}</time> }
                .into_any()
        }
        None => view! { <span class="muted">{never.unwrap_or_else(|| "never".to_owned())}</span> }
            .into_any(),
    }
}

/// What a loading resource shows: "Loading…", the error in words, or `ready`'s view.
pub fn loaded<T>(state: Option<ApiResult<T>>, ready: impl FnOnce(T) -> AnyView) -> AnyView {
    match state {
        None => view! { <p role="status">"Loading…"</p> }.into_any(),
        Some(Err(err)) => view! { <p class="error" role="alert">{err.message}</p> }.into_any(),
        Some(Ok(value)) => ready(value),
    }
}
