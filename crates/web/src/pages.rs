//! Small server-rendered pages for where a browser lands outside the dashboard: the end of a
//! "Connect" round trip that went wrong, the data-deletion status page, and everything the
//! holder of a connect link sees (who has no account here and downloads no dashboard).
//!
//! They need no script, load nothing from elsewhere, are never cached or indexed, and send no
//! referrer (the address of an OAuth callback carries a code, a connect link's its secret).
//! A form posts only to this site.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// A page with a title, a few sentences, and a way back.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub title: String,
    /// Paragraphs, and notes in smaller print (`true`), in order.
    pub paragraphs: Vec<(String, bool)>,
    /// Where the button leads, and what it says.
    pub back: Option<(String, String)>,
    /// Shows the demo banner: Meta here is the built-in fake.
    pub demo: bool,
    pub form: Option<Box<Form>>,
}

/// A form that posts to this site: hidden fields, checkboxes, one button.
#[derive(Debug, Clone)]
pub struct Form {
    /// A path of ours; `None` posts to the page's own address.
    pub action: Option<&'static str>,
    pub hidden: Vec<(String, String)>,
    /// `(name, value, label, checked)`.
    pub checkboxes: Vec<(String, String, String, bool)>,
    pub submit: String,
}

impl Page {
    pub fn new(status: StatusCode, title: impl Into<String>) -> Page {
        Page {
            status,
            title: title.into(),
            paragraphs: Vec::new(),
            back: None,
            demo: false,
            form: None,
        }
    }

    /// The page's one button: a link to `href`.
    pub fn action(self, href: impl Into<String>, label: impl Into<String>) -> Page {
        self.back(href, label)
    }

    pub fn form(mut self, form: Form) -> Page {
        self.form = Some(Box::new(form));
        self
    }

    /// Smaller print, shown after the form and the button.
    pub fn note(mut self, text: impl Into<String>) -> Page {
        self.paragraphs.push((text.into(), true));
        self
    }

    pub fn paragraph(mut self, text: impl Into<String>) -> Page {
        self.paragraphs.push((text.into(), false));
        self
    }

    pub fn back(mut self, href: impl Into<String>, label: impl Into<String>) -> Page {
        self.back = Some((href.into(), label.into()));
        self
    }

    pub fn demo(mut self, demo: bool) -> Page {
        self.demo = demo;
        self
    }
}

pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn render_form(form: &Form) -> String {
    let hidden: String = form
        .hidden
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(name),
                escape(value)
            )
        })
        .collect();
    let checkboxes: String = form
        .checkboxes
        .iter()
        .map(|(name, value, label, checked)| {
            format!(
                r#"<label class="choice"><input type="checkbox" name="{}" value="{}"{}> {}</label>"#,
                escape(name),
                escape(value),
                if *checked { " checked" } else { "" },
                escape(label)
            )
        })
        .collect();
    let action = form
        .action
        .map(|path| format!(r#" action="{}""#, escape(path)))
        .unwrap_or_default();
    format!(
        r#"<form method="post"{action}>{hidden}{checkboxes}<p><button class="button" type="submit">{}</button></p></form>"#,
        escape(&form.submit)
    )
}

pub const DEMO_BANNER: &str = "Demo mode: Instagram, Facebook and Threads here are freshtoken's built-in fake. Nothing reaches the real ones, and these tokens work nowhere else.";

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let banner = if self.demo {
            format!(
                r#"<p class="demo" role="status">{}</p>"#,
                escape(DEMO_BANNER)
            )
        } else {
            String::new()
        };
        let paragraphs: String = self
            .paragraphs
            .iter()
            .filter(|(_, note)| !note)
            .map(|(text, _)| format!("<p>{}</p>", escape(text)))
            .collect();
        let back = self
            .back
            .as_ref()
            .map(|(href, label)| {
                format!(
                    r#"<p><a class="button" href="{}">{}</a></p>"#,
                    escape(href),
                    escape(label)
                )
            })
            .unwrap_or_default();
        let form = self.form.as_deref().map(render_form).unwrap_or_default();
        let notes: String = self
            .paragraphs
            .iter()
            .filter(|(_, note)| *note)
            .map(|(text, _)| format!(r#"<p class="note">{}</p>"#, escape(text)))
            .collect();
        let html = format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · freshtoken</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.5}}
h1{{font-size:1.4rem}}.demo{{background:#fff3c4;border:1px solid #e0c200;border-radius:6px;padding:.6rem .8rem}}
.button{{display:inline-block;background:#1f4fd6;color:#fff;padding:.55rem 1.1rem;border-radius:6px;text-decoration:none}}
.button:focus{{outline:3px solid #ffb000;outline-offset:2px}}
button.button{{border:0;font:inherit;cursor:pointer;min-height:44px}}a.button{{min-height:44px;box-sizing:border-box;line-height:1.9}}
.choice{{display:flex;gap:.6rem;align-items:center;padding:.5rem 0;min-height:44px}}.choice input{{width:1.4rem;height:1.4rem}}
.note{{font-size:.9rem;color:#555}}</style></head>
<body><main>{banner}<h1>{title}</h1>{paragraphs}{form}{back}{notes}</main></body></html>"#,
            title = escape(&self.title),
        );
        let mut response = (self.status, Html(html)).into_response();
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        headers.insert(
            "x-robots-tag",
            HeaderValue::from_static("noindex, nofollow"),
        );
        response
    }
}
