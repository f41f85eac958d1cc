//! Small parts every page uses: status badges, copy buttons, error notes, times in words.

use freshtoken_core::AccountStatus;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api::{ApiError, ApiResult};

/// The account's status as a badge's class and words (colour is never the only signal).
fn badge(status: AccountStatus) -> (&'static str, &'static str) {
    match status {
        AccountStatus::Active => ("badge ok", "Active"),
        AccountStatus::Paused => ("badge muted", "Paused"),
        AccountStatus::NeedsReconnect => ("badge bad", "Needs reconnect"),
    }
}

/// A failed action's words, announced to screen readers.
#[component]
pub fn ErrorNote(error: Signal<Option<ApiError>>) -> impl IntoView {
    move || error.get().map(|error| error_view(error.message))
}

/// An error's sentence, with the action it names (sign in, sign up, reconnect) as a link.
pub fn error_view(message: String) -> AnyView {
    let lower = message.to_lowercase();
    let action = if lower.contains("sign in") {
        // Back here after signing in; from the sign-up page, where it was headed (an
        // invitation's page, say).
        let here = window().location();
        let path = here.pathname().unwrap_or_default();
        let search = here.search().unwrap_or_default();
        let href = if path == "/signup" {
            let next = web_sys::UrlSearchParams::new_with_str(&search)
                .ok()
                .and_then(|query| {
                    query.get("next").or_else(|| {
                        let invite = query.get("invite")?;
                        Some(format!(
                            "/invite?secret={}",
                            js_sys::encode_uri_component(&invite)
                        ))
                    })
                });
            match next {
                Some(next) => format!("/signin?next={}", js_sys::encode_uri_component(&next)),
                None => "/signin".to_owned(),
            }
        } else {
            format!(
                "/signin?next={}",
                js_sys::encode_uri_component(&(path + &search))
            )
        };
        Some((href, "Sign in"))
    } else if lower.contains("sign up") || lower.contains("create an account") {
        Some(("/signup".to_owned(), "Create an account"))
    } else if lower.contains("reconnect") {
        // The account page's reconnect panel, which holds the button.
        Some(("#needs-you".to_owned(), "Reconnect"))
    } else {
        None
    };
    view! {
        <p class="error" role="alert">{message} " "
            {action.map(|(href, text)| {
                // A link within the page is the browser's to follow.
                let rel = href.starts_with('#').then_some("external");
                view! { <a href=href rel=rel>{text}</a> }
            })}
        </p>
    }
    .into_any()
}

/// A server's message as a sentence: capital first letter, full stop at the end.
pub fn sentence(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?', ')']) {
        out.push('.');
    }
    out
}

/// Names the tab: `parts` (the page's title, then its workspace), then "freshtoken", as
/// soon as they are known.
pub fn page_title(parts: Box<dyn Fn() -> Vec<String>>) {
    Effect::new(move |_| {
        let mut parts = parts();
        parts.retain(|part| !part.is_empty());
        parts.push("freshtoken".to_owned());
        document().set_title(&parts.join(" · "));
    });
}

/// Calls `tick` every 2 seconds, `times` times (while the page that asked is shown: `tick`
/// answers `false` once its signals are gone).
pub fn every_two_seconds(times: u32, tick: std::rc::Rc<dyn Fn() -> bool>) {
    if times == 0 {
        return;
    }
    set_timeout(
        move || {
            if tick() {
                every_two_seconds(times - 1, tick);
            }
        },
        std::time::Duration::from_secs(2),
    );
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
                <h3>{title.clone()}</h3>
                <CopyButton text=text.clone() label=format!("Copy: {title}")/>
            </div>
            <pre><code>{text}</code></pre>
        </div>
    }
}

/// Milliseconds since 1970 of an RFC 3339 time (NaN when it is not one).
pub fn millis(rfc3339: &str) -> f64 {
    js_sys::Date::parse(rfc3339)
}

fn parsed(rfc3339: &str) -> Option<f64> {
    let value = millis(rfc3339);
    (!value.is_nan()).then_some(value)
}

/// `rfc3339` in the reader's locale, with the `Intl.DateTimeFormat` options `parts`.
fn date_in_words(ms: f64, parts: &[(&str, &str)]) -> String {
    let options = js_sys::Object::new();
    for (key, value) in parts {
        let _ = js_sys::Reflect::set(&options, &(*key).into(), &(*value).into());
    }
    js_sys::Date::new(&ms.into())
        .to_locale_string("default", &options)
        .into()
}

/// A UTC day (`2026-12-05`) as "Dec 5".
pub fn day_words(day: &str) -> String {
    match parsed(day) {
        Some(ms) => date_in_words(
            ms,
            &[("day", "numeric"), ("month", "short"), ("timeZone", "UTC")],
        ),
        None => day.to_owned(),
    }
}

/// Whole days from now until `rfc3339` (negative when past).
pub fn days_until(rfc3339: &str) -> Option<i64> {
    let ms = parsed(rfc3339)? - js_sys::Date::now();
    Some((ms / 86_400_000.0).floor() as i64)
}

/// "in 3 days", "5 hours ago", "just now".
pub fn relative(rfc3339: &str) -> String {
    let Some(at) = parsed(rfc3339) else {
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
    match parsed(rfc3339) {
        Some(ms) => js_sys::Date::new(&ms.into())
            .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
            .into(),
        None => rfc3339.to_owned(),
    }
}

/// The date in the reader's own locale: with the time within two days ("Dec 5, 2:02 PM"),
/// with the year otherwise ("Jan 14, 2027").
pub fn short_date(rfc3339: &str) -> String {
    let Some(ms) = parsed(rfc3339) else {
        return rfc3339.to_owned();
    };
    let day = [("day", "numeric"), ("month", "short")];
    if (ms - js_sys::Date::now()).abs() < 2.0 * 86_400_000.0 {
        date_in_words(
            ms,
            &[day[0], day[1], ("hour", "2-digit"), ("minute", "2-digit")],
        )
    } else {
        date_in_words(ms, &[day[0], day[1], ("year", "numeric")])
    }
}

/// The date alone, in the reader's own locale and words ("Dec 12, 2026"), for expiries.
pub fn local_date(rfc3339: &str) -> String {
    match parsed(rfc3339) {
        Some(ms) => date_in_words(ms, &[("dateStyle", "medium")]),
        None => rfc3339.to_owned(),
    }
}

/// "in 41 days (Jan 14, 2027)", "3 hours ago (Dec 5, 2:02 PM)": relative, then absolute.
pub fn when_words(rfc3339: &str) -> String {
    format!("{} ({})", relative(rfc3339), short_date(rfc3339))
}

// Parts that only show text are written as HTML: far less code than a view of each shape,
// and the first page's download has a budget. Every text in them goes through `esc`.

/// `text` safe inside HTML, attribute values included.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `<time>` with `when_words`, the exact time on hover.
pub fn time_html(at: &str) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        esc(at),
        esc(&local_time(at)),
        esc(&when_words(at))
    )
}

/// A table: its hidden caption, the column heads, and rows of cells already in HTML.
pub fn table_html(caption: &str, head: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut html =
        format!("<table><caption class=\"visually-hidden\">{caption}</caption><thead><tr>");
    for cell in head {
        html += &format!("<th scope=\"col\">{cell}</th>");
    }
    html += "</tr></thead><tbody>";
    for row in rows {
        html += "<tr>";
        for cell in row {
            html += &format!("<td>{cell}</td>");
        }
        html += "</tr>";
    }
    html + "</tbody></table>"
}

/// A button in HTML, found again by [`clicked`] from a listener on what holds it.
pub fn button_html(class: &str, act: &str, label: &str, text: &str) -> String {
    format!(
        "<button type=\"button\" class=\"{class}\" data-act=\"{}\" aria-label=\"{}\">{text}</button>",
        esc(act),
        esc(label)
    )
}

/// The `data-act` of the button an event inside HTML came from (one listener for a list).
pub fn clicked(ev: &web_sys::Event) -> Option<String> {
    let button = ev
        .target()?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest("[data-act]")
        .ok()??;
    // Only a button inside the list that listens, never an element around it.
    let list = ev.current_target()?.dyn_into::<web_sys::Node>().ok()?;
    list.contains(Some(&button))
        .then(|| button.get_attribute("data-act"))
        .flatten()
}

/// The account's status as a badge, in HTML.
pub fn badge_html(status: AccountStatus) -> String {
    let (class, text) = badge(status);
    format!("<span class=\"{class}\">{text}</span>")
}

/// What a loading resource shows: "Loading…", the error in words, or `ready`'s view.
pub fn loaded<T>(state: Option<ApiResult<T>>, ready: impl FnOnce(T) -> AnyView) -> AnyView {
    match state {
        None => view! { <p role="status">"Loading…"</p> }.into_any(),
        Some(Err(err)) => error_view(err.message),
        Some(Ok(value)) => ready(value),
    }
}
