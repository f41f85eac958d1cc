//! Signing up, signing in, and accepting an invitation.

use crate::routing::{Router, use_router};
use freshtoken_core::api::{
    AcceptInviteRequest, InvitePreview, MeResponse, SignInRequest, SignUpRequest,
};
use freshtoken_core::{MIN_PASSWORD_CHARS, Role, SignupMode};
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::layout::{DemoBanner, workspace_path};
use crate::widgets::{ErrorNote, error_view, page_title, when_words};
use crate::{Session, use_session};

/// A client-side check of an e-mail address, as loose as the server's.
fn email_problem(email: &str) -> Option<&'static str> {
    let email = email.trim();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    });
    (!valid).then_some("Enter an e-mail address like name@example.com.")
}

fn password_problem(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD_CHARS)
        .then(|| format!("Use at least {MIN_PASSWORD_CHARS} characters."))
}

/// Where to go after signing in: the `next` of the address when it is a page of ours, else
/// the first workspace.
fn after_sign_in(next: Option<String>, me: &MeResponse) -> String {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") => next,
        _ => match me.tenants.first() {
            Some(tenant) => workspace_path(tenant.id),
            None => "/workspaces/new".to_owned(),
        },
    }
}

/// One labelled input with its own error below it.
#[component]
pub fn Field(
    #[prop(into)] label: String,
    #[prop(into)] id: String,
    value: RwSignal<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional, into)] autocomplete: Option<&'static str>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(into)] problem: Signal<Option<String>>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = {
        let error_id = error_id.clone();
        let hint_id = hint_id.clone();
        let has_hint = hint.is_some();
        move || {
            let mut ids = Vec::new();
            if has_hint {
                ids.push(hint_id.clone());
            }
            if problem.with(Option::is_some) {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                type=kind
                autocomplete=autocomplete
                bind:value=value
                aria-invalid=move || problem.with(Option::is_some).to_string()
                aria-describedby=described
            />
            {hint.map(|hint| view! { <p class="hint" id=hint_id>{hint}</p> })}
            {move || problem.get().map(|problem| view! { <p class="field-error" id=error_id.clone()>{problem}</p> })}
        </div>
    }
}

/// Signs in (or up) with `request` at `path`, then goes where the reader was headed.
fn enter(
    (session, router): (Session, Router),
    path: &'static str,
    request: impl serde::Serialize + 'static,
    pending: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
) {
    pending.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        match api::post::<_, MeResponse>(path, &request).await {
            Ok(me) => {
                let to = after_sign_in(router.query("next"), &me);
                session.me.set(Some(me));
                // The form is gone with its page: nothing of it to update.
                return router.replace(&to);
            }
            Err(err) => error.set(Some(err)),
        }
        pending.set(false);
    });
}

#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let router = use_router();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let email_error = Signal::derive(move || {
        tried
            .get()
            .then(|| email_problem(&email.get()).map(str::to_owned))
            .flatten()
    });
    let password_error = Signal::derive(move || {
        (tried.get() && password.with(String::is_empty)).then(|| "Enter your password.".to_owned())
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        if email_error.get().is_some() || password_error.get().is_some() {
            return;
        }
        let request = SignInRequest {
            email: email.get().trim().to_owned(),
            password: password.get(),
        };
        enter((session, router), "/auth/signin", request, pending, error);
    };
    let signup_link = move || {
        let next = router
            .query("next")
            .map(|next| format!("?next={}", js_sys::encode_uri_component(&next)))
            .unwrap_or_default();
        format!("/signup{next}")
    };
    page_title(Box::new(|| vec!["Sign in".to_owned()]));

    view! {
        <DemoBanner/>
        <main class="narrow">
            <h1>"Sign in to freshtoken"</h1>
            <form on:submit=submit novalidate>
                <Field label="E-mail" id="email" value=email kind="email" autocomplete="email" problem=email_error/>
                <Field label="Password" id="password" value=password kind="password" autocomplete="current-password" problem=password_error/>
                <ErrorNote error=error.into()/>
                <button type="submit" disabled=pending>{move || if pending.get() { "Signing in…" } else { "Sign in" }}</button>
            </form>
            <Show when=move || session.instance.get().is_none_or(|instance| instance.signup != SignupMode::Closed)>
                <p>"New here? " <a href=signup_link>"Create an account"</a></p>
            </Show>
        </main>
    }
}

#[component]
pub fn SignUp() -> impl IntoView {
    let session = use_session();
    let router = use_router();
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let workspace = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let invite = move || router.query("invite");
    let email_error = Signal::derive(move || {
        tried
            .get()
            .then(|| email_problem(&email.get()).map(str::to_owned))
            .flatten()
    });
    let password_error = Signal::derive(move || {
        tried
            .get()
            .then(|| password_problem(&password.get()))
            .flatten()
    });
    let no_error = Signal::derive(|| None::<String>);
    let closed = move || {
        session
            .instance
            .get()
            .is_some_and(|instance| instance.signup == SignupMode::Closed)
            || (invite().is_none()
                && session
                    .instance
                    .get()
                    .is_some_and(|instance| instance.signup == SignupMode::Invite))
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        if email_error.get().is_some() || password_error.get().is_some() {
            return;
        }
        let workspace_name = workspace.get().trim().to_owned();
        let request = SignUpRequest {
            email: email.get().trim().to_owned(),
            password: password.get(),
            name: name.get().trim().to_owned(),
            workspace: (!workspace_name.is_empty()).then_some(workspace_name),
            invite: invite(),
        };
        enter((session, router), "/auth/signup", request, pending, error);
    };
    page_title(Box::new(|| vec!["Create an account".to_owned()]));

    view! {
        <DemoBanner/>
        <main class="narrow">
            <h1>"Create your freshtoken account"</h1>
            {move || closed().then(|| view! {
                <p class="callout">"Sign-up is by invitation on this instance. Ask a workspace owner for an invitation link."</p>
            })}
            <form on:submit=submit novalidate hidden=closed>
                <Field label="Your name" id="name" value=name autocomplete="name" problem=no_error/>
                <Field label="E-mail" id="email" value=email kind="email" autocomplete="email" problem=email_error/>
                <Field label="Password" id="password" value=password kind="password" autocomplete="new-password"
                    hint=format!("At least {MIN_PASSWORD_CHARS} characters.") problem=password_error/>
                <div hidden=move || invite().is_some()>
                    <Field label="Workspace name" id="workspace" value=workspace
                        hint="Your accounts live in a workspace; you can invite others to it. Leave empty for a default." problem=no_error/>
                </div>
                <ErrorNote error=error.into()/>
                <button type="submit" disabled=pending>{move || if pending.get() { "Creating your account…" } else { "Create account" }}</button>
            </form>
            <p>"Already have an account? " <a href="/signin">"Sign in"</a></p>
        </main>
    }
}

/// `/invite?secret=…`: join a workspace, signed in or not.
#[component]
pub fn AcceptInvite() -> impl IntoView {
    let session = use_session();
    let router = use_router();
    let secret = move || router.query("secret").unwrap_or_default();
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let here = move || {
        js_sys::encode_uri_component(&format!("/invite?secret={}", secret()))
            .as_string()
            .unwrap_or_default()
    };

    // What the invitation offers: the workspace, who invites, the role, until when.
    let preview = RwSignal::new(None::<Result<InvitePreview, ApiError>>);
    let request = AcceptInviteRequest { secret: secret() };
    leptos::task::spawn_local(async move {
        let answer = api::post::<_, InvitePreview>("/invites/preview", &request).await;
        preview.try_set(Some(answer));
    });
    // Unknown, expired or used (400, 404 or 410): nothing to join.
    let refused = move || {
        preview.with(
            |preview| matches!(preview, Some(Err(err)) if matches!(err.status, 400 | 404 | 410)),
        )
    };
    page_title(Box::new(move || {
        vec![match preview.get() {
            Some(Ok(preview)) => format!("Join {}", preview.workspace),
            _ => "Invitation".to_owned(),
        }]
    }));

    let accept = move |_| {
        pending.set(true);
        error.set(None);
        let request = AcceptInviteRequest { secret: secret() };
        leptos::task::spawn_local(async move {
            let before: Vec<i64> = session
                .me
                .get_untracked()
                .map(|me| me.tenants.iter().map(|t| t.id).collect())
                .unwrap_or_default();
            match api::post::<_, MeResponse>("/invites/accept", &request).await {
                Ok(me) => {
                    // The workspace just joined is the one that was not there before.
                    let joined = me
                        .tenants
                        .iter()
                        .find(|t| !before.contains(&t.id))
                        .or(me.tenants.first());
                    let to = joined
                        .map(|t| workspace_path(t.id))
                        .unwrap_or_else(|| "/".to_owned());
                    session.me.set(Some(me));
                    router.go(&to);
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };

    view! {
        <DemoBanner/>
        <main class="narrow">
            <h1>"You are invited to a workspace"</h1>
            {move || match preview.get() {
                Some(Ok(preview)) => {
                    let role = match preview.role {
                        Role::Owner => "an owner",
                        Role::Editor => "an editor",
                        Role::Viewer => "a viewer",
                    };
                    let by = preview.invited_by.map(|who| format!("{who} invites you to ")).unwrap_or_else(|| "You are invited to ".to_owned());
                    view! {
                        <p class="invite-offer">{by} "the workspace " <strong>{preview.workspace}</strong> {format!(" as {role}. The invitation expires {}.", when_words(&preview.expires_at))}</p>
                    }.into_any()
                }
                Some(Err(err)) => error_view(err.message),
                None => ().into_any(),
            }}
            {move || match (session.loaded.get(), session.me.get()) {
                _ if refused() => view! { <p>"Ask whoever invited you for a new link."</p> }.into_any(),
                (false, _) => view! { <p role="status">"Loading…"</p> }.into_any(),
                (true, Some(me)) => view! {
                    <p>"Join it as " <strong>{me.user.email}</strong> "?"</p>
                    <button type="button" on:click=accept disabled=pending>
                        {move || if pending.get() { "Joining…" } else { "Join the workspace" }}
                    </button>
                }.into_any(),
                (true, None) => view! {
                    <p>"Create an account to join, or sign in if you have one; the invitation waits for you."</p>
                    <p class="actions">
                        <a class="button" href=move || format!("/signup?invite={}", js_sys::encode_uri_component(&secret()))>"Create an account"</a>
                        <a class="button secondary" href=move || format!("/signin?next={}", here())>"Sign in"</a>
                    </p>
                }.into_any(),
            }}
            <ErrorNote error=error.into()/>
        </main>
    }
}
