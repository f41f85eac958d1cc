//! The accounts of a workspace: the list with Connect and Paste a token, and one account's
//! page with its token URLs, snippets, settings, history, request counts and posts.

use crate::routing::{segments, use_router};
use freshtoken_core::api::{
    AccountView, ChoosePagesRequest, DailyRequestsView, DemoScene, DemoSceneAnswer,
    DemoSceneRequest, FacebookLoginView, PasteTokenRequest, PastedAccounts, ReconnectLinkView,
    RefreshEventView, UpdateAccountRequest,
};
use freshtoken_core::js::check_constant_name;
use freshtoken_core::origin::parse_allowed_origins;
use freshtoken_core::{AccountKind, AccountStatus, RefreshInterval, RefreshOutcome, Role};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, Remote};
use crate::auth::Field;
use crate::layout::{Area, Layout, role_in, workspace_path};
use crate::links::optional_email_problem;
use crate::use_session;
use crate::widgets::{
    ErrorNote, Snippet, badge_html, day_words, days_until, esc, every_two_seconds, focus_later,
    loaded, local_date, millis, relative, sentence, short_date, table_html, time_html, when_words,
};

/// The workspace id of the address (`/w/:tenant/…`).
pub fn tenant_param() -> Signal<Option<i64>> {
    let router = use_router();
    Signal::derive(move || match &segments(&router.path())[..] {
        [w, id, ..] if w == "w" => id.parse().ok(),
        _ => None,
    })
}

fn accounts_path(tenant: i64) -> String {
    format!("/tenants/{tenant}/accounts")
}

fn account_page(tenant: i64, account: i64) -> String {
    format!("{}/accounts/{account}", workspace_path(tenant))
}

/// Where "Connect" starts for a kind: the server's OAuth flow on its platform, coming back to
/// this workspace.
fn connect_url(tenant: i64, kind: AccountKind) -> String {
    let next = js_sys::encode_uri_component(&workspace_path(tenant));
    let platform = match kind {
        AccountKind::Instagram => "instagram",
        AccountKind::Threads => "threads",
        AccountKind::FacebookPage => "facebook",
    };
    format!("/connect/{platform}?tenant={tenant}&next={next}")
}

/// How an account is named: `@user` for a profile, the Page's name for a Page.
fn display_name(account: &AccountView) -> String {
    match account.kind {
        AccountKind::FacebookPage => account.username.clone(),
        AccountKind::Instagram | AccountKind::Threads => format!("@{}", account.username),
    }
}

/// The profile picture, or the first letter when there is none the page may show (the
/// content security policy allows https images only).
#[component]
fn Avatar(account: AccountView) -> impl IntoView {
    let initial = account
        .username
        .chars()
        .next()
        .unwrap_or('?')
        .to_uppercase()
        .to_string();
    // Instagram's picture URLs expire: a picture that does not load falls back to the letter.
    let failed = RwSignal::new(false);
    let picture = account
        .profile_picture_url
        .filter(|url| is_picture_url(url));
    move || {
        match picture.clone().filter(|_| !failed.get()) {
        Some(url) => view! { <img class="avatar" src=url alt="" width="40" height="40" on:error=move |_| failed.set(true)/> }.into_any(),
        None => view! { <span class="avatar" aria-hidden="true">{initial.clone()}</span> }.into_any(),
    }
    }
}

fn expiry_words(account: &AccountView) -> String {
    if account.kind == AccountKind::FacebookPage {
        return "never expires · checked regularly".to_owned();
    }
    match account.token_expires_at.as_deref() {
        None => "expiry not known yet".to_owned(),
        Some(at) if days_until(at).is_some_and(|days| days < 0) => {
            format!("expired {}", when_words(at))
        }
        Some(at) => format!("expires {}", when_words(at)),
    }
}

/// The last and next refresh (check, for a Page) in words; before the first one, when it is
/// planned, which is no cause for alarm.
fn schedule_words(account: &AccountView) -> Vec<String> {
    let what = if account.kind.is_refreshed() {
        "refresh"
    } else {
        "check"
    };
    let needs_reconnect = account.status == AccountStatus::NeedsReconnect;
    let last = match &account.last_refresh_at {
        Some(last) => format!("last {what} {}", when_words(last)),
        // A first one that failed (a Page's token found revoked): say so, not "no check yet".
        None if needs_reconnect || account.last_error.is_some() => format!("last {what} failed"),
        None => {
            return vec![match &account.next_refresh_at {
                Some(next) => format!(
                    "not yet: first {what} planned for {} ({})",
                    short_date(next),
                    relative(next)
                ),
                None => format!("no {what} yet"),
            }];
        }
    };
    let next = match &account.next_refresh_at {
        _ if needs_reconnect => format!("next {what} after reconnecting"),
        Some(next) => format!("next {}", when_words(next)),
        None => "next not scheduled".to_owned(),
    };
    vec![last, next]
}

/// Status, expiry and schedule, in HTML.
fn facts_html(account: &AccountView) -> String {
    let mut html = badge_html(account.status);
    for words in std::iter::once(expiry_words(account)).chain(schedule_words(account)) {
        html += &format!("<span>{}</span>", esc(&words));
    }
    html
}

/// A token that expires within a week while its refreshes fail.
fn expiring_soon(account: &AccountView) -> bool {
    account.last_error.is_some()
        && account.status != AccountStatus::NeedsReconnect
        && account
            .token_expires_at
            .as_deref()
            .and_then(days_until)
            .is_some_and(|days| days < 7)
}

/// The accounts in a line: what needs attention first, else that all is well and the soonest
/// expiry. Answers the line and the class of the attention it asks for.
fn overview(list: &[AccountView]) -> (String, &'static str) {
    let names = |pick: fn(&AccountView) -> bool| {
        let names: Vec<String> = list
            .iter()
            .filter(|a| pick(a))
            .map(|a| format!("{} ({})", display_name(a), a.kind.display_name()))
            .collect();
        (names.len(), names.join(", "))
    };
    let count = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let (n, who) = names(|a| a.status == AccountStatus::NeedsReconnect);
    if n > 0 {
        let what = count(n, "account needs", "accounts need");
        return (format!("{what} reconnecting: {who}."), "callout bad");
    }
    let (n, who) = names(expiring_soon);
    if n > 0 {
        let what = count(n, "token expires", "tokens expire");
        return (
            format!("{what} within a week while refreshes fail: {who}."),
            "callout warn",
        );
    }
    let (failing, who) = names(|a| a.last_error.is_some());
    let (paused, _) = names(|a| a.status == AccountStatus::Paused);
    let mut line = count(list.len(), "account", "accounts");
    if failing > 0 {
        line += &format!(
            ", {} (retried): {who}",
            count(failing, "last refresh failed", "last refreshes failed")
        );
    } else if paused > 0 {
        line += &format!(", {paused} paused, the others healthy");
    } else {
        line += ", all healthy";
    }
    let soonest = list
        .iter()
        .filter(|a| a.status == AccountStatus::Active)
        .filter_map(|a| a.token_expires_at.as_deref())
        .min_by(|a, b| millis(a).total_cmp(&millis(b)));
    if let Some(at) = soonest {
        line += &format!(", soonest expiry {}", when_words(at));
    }
    (line + ".", if failing > 0 { "callout" } else { "" })
}

#[component]
pub fn AccountList() -> impl IntoView {
    let tenant = tenant_param();
    let session = use_session();
    let router = use_router();
    let role = role_in(tenant);
    let can_edit = move || role.get().is_some_and(Role::can_edit);
    let accounts = Remote::<Vec<AccountView>>::new(move || tenant.get().map(accounts_path));
    // Back from a platform's consent page: straight to the account just connected, which
    // confirms it.
    Effect::new(move |_| {
        if let (Some(id), Some(connected)) = (tenant.get(), router.query("connected"))
            && let Ok(account) = connected.parse::<i64>()
        {
            session.just_connected.set(Some(account));
            router.replace(&account_page(id, account));
        }
    });
    let choosing = Signal::derive(move || router.query("choose_pages"));
    let pasting = RwSignal::new(false);
    let connect_kinds = move || {
        session
            .instance
            .get()
            .map(|instance| instance.connect_kinds)
            .unwrap_or_default()
    };

    view! {
        <Layout tenant=tenant area=Area::Accounts>
            <div class="page-head">
                <h1>"Accounts"</h1>
                <Show when=can_edit>
                    <div class="actions">
                        <Show
                            when=move || !connect_kinds().is_empty()
                            fallback=|| view! { <span class="hint">"Connect needs a Meta app (see docs/instagram-app.md); you can paste a token."</span> }
                        >
                            {move || connect_kinds().into_iter().map(|kind| view! {
                                <a class="button" href=move || tenant.get().map(|id| connect_url(id, kind)).unwrap_or_default() rel="external">
                                    {format!("Connect {}", kind.display_name())}
                                </a>
                            }).collect_view()}
                        </Show>
                        <button type="button" class="secondary" on:click=move |_| pasting.update(|open| *open = !*open)
                            aria-expanded=move || pasting.get().to_string()>
                            "Paste a token"
                        </button>
                    </div>
                </Show>
            </div>
            {move || choosing.get().zip(tenant.get()).map(|(handle, tenant)| view! {
                <PagePicker tenant=tenant handle=handle/>
            })}
            <Show when=move || pasting.get()>
                <PasteToken tenant=tenant open=pasting/>
            </Show>
            {move || loaded(accounts.get(), |ready| match ready {
                list if list.is_empty() => view! {
                    <div class="empty">
                        <p>"No accounts yet. Connect an Instagram account, a Facebook Page or a Threads profile, or paste a token you already have; freshtoken keeps it alive from then on."</p>
                    </div>
                }.into_any(),
                list => {
                    let tenant_id = tenant.get().unwrap_or_default();
                    let (line, attention) = overview(&list);
                    view! {
                        <p class=format!("overview {attention}") role="status">{line}</p>
                        <ul class="accounts" aria-label="Accounts">
                            {list.into_iter().map(|account| view! { <AccountRow tenant=tenant_id account=account/> }).collect_view()}
                        </ul>
                    }.into_any()
                }
            })}
        </Layout>
    }
}

#[component]
fn AccountRow(tenant: i64, account: AccountView) -> impl IntoView {
    let href = account_page(tenant, account.id);
    view! {
        <li class="account-row">
            <Avatar account=account.clone()/>
            <div class="account-main">
                <a href=href class="account-name">{display_name(&account)}</a>
                <span class="kind">{account.kind.display_name()}</span>
                {(!account.label.is_empty()).then(|| view! { <span class="muted">" · " {account.label.clone()}</span> })}
                <div class="account-facts" inner_html=facts_html(&account)></div>
                {account.last_error.as_deref().map(|error| view! { <p class="error small">{sentence(error)}</p> })}
            </div>
        </li>
    }
}

/// After a Facebook login whose user manages several Pages: which of them to connect.
#[component]
fn PagePicker(tenant: i64, handle: String) -> impl IntoView {
    let router = use_router();
    let session = use_session();
    let path = format!("/tenants/{tenant}/facebook-login");
    let url = format!("{path}?login={}", js_sys::encode_uri_component(&handle));
    let offered = Remote::<FacebookLoginView>::new(move || Some(url.clone()));
    let chosen = RwSignal::new(Vec::<String>::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = ChoosePagesRequest {
            login: handle.clone(),
            page_ids: chosen.get(),
        };
        if request.page_ids.is_empty() {
            error.set(Some(ApiError {
                status: 400,
                message: "Choose at least one Page.".to_owned(),
            }));
            return;
        }
        let path = path.clone();
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<_, PastedAccounts>(&path, &request).await {
                Ok(PastedAccounts::One(account)) => {
                    session.just_connected.set(Some(account.id));
                    router.go(&account_page(tenant, account.id))
                }
                Ok(PastedAccounts::Several { accounts }) => match &accounts[..] {
                    [one] => {
                        session.just_connected.set(Some(one.id));
                        router.go(&account_page(tenant, one.id))
                    }
                    _ => router.go(&workspace_path(tenant)),
                },
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <form class="panel" on:submit=submit novalidate aria-labelledby="pages-title">
            <h2 id="pages-title">"Which Pages should freshtoken keep?"</h2>
            {move || loaded(offered.get(), |login| view! {
                <p class="hint">"You manage several Facebook Pages. Each one you choose gets its own token URLs."</p>
                <fieldset>
                    <legend class="visually-hidden">"Pages"</legend>
                    {login.pages.into_iter().map(|page| {
                        let id = page.id.clone();
                        let checked = {
                            let id = id.clone();
                            move || chosen.with(|chosen| chosen.contains(&id))
                        };
                        let toggle = move |_| {
                            let id = id.clone();
                            chosen.update(|chosen| match chosen.iter().position(|c| *c == id) {
                                Some(at) => { chosen.remove(at); }
                                None => chosen.push(id),
                            })
                        };
                        view! {
                            <label class="check">
                                <input type="checkbox" prop:checked=checked on:change=toggle/>
                                " " {page.name.clone()}
                                {page.category.clone().map(|category| view! { <span class="muted">" · " {category}</span> })}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
            }.into_any())}
            <ErrorNote error=error.into()/>
            <div class="actions">
                <button type="submit" disabled=pending>{move || if pending.get() { "Connecting…" } else { "Connect the chosen Pages" }}</button>
            </div>
        </form>
    }
}

/// Splits the text of an origins field into its origins, one a line or separated by commas
/// (no origin holds a comma), dropping blanks.
pub fn origin_lines(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn origins_problem(text: &str) -> Option<String> {
    parse_allowed_origins(&origin_lines(text))
        .err()
        .map(|err| err.to_string())
}

#[component]
fn PasteToken(tenant: Signal<Option<i64>>, open: RwSignal<bool>) -> impl IntoView {
    let router = use_router();
    let session = use_session();
    let token = RwSignal::new(String::new());
    let label = RwSignal::new(String::new());
    let origins = RwSignal::new(String::new());
    let tried = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let token_error = Signal::derive(move || {
        let text = token.get();
        let text = text.trim();
        tried
            .get()
            .then(|| {
                if text.is_empty() {
                    Some("Paste the access token.".to_owned())
                } else if text.chars().any(char::is_whitespace) {
                    Some("A token has no spaces or line breaks; paste just the token.".to_owned())
                } else {
                    None
                }
            })
            .flatten()
    });
    let origins_error = Signal::derive(move || {
        tried
            .get()
            .then(|| origins_problem(&origins.get()))
            .flatten()
    });
    let no_error = Signal::derive(|| None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tried.set(true);
        let Some(tenant) = tenant.get() else { return };
        if token_error.get().is_some() || origins_error.get().is_some() {
            return;
        }
        let label_text = label.get().trim().to_owned();
        let origin_list = origin_lines(&origins.get());
        let request = PasteTokenRequest {
            token: token.get().trim().to_owned(),
            kind: None,
            page_id: None,
            label: (!label_text.is_empty()).then_some(label_text),
            allowed_origins: (!origin_list.is_empty()).then_some(origin_list),
        };
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<_, PastedAccounts>(&accounts_path(tenant), &request).await {
                Ok(PastedAccounts::One(account)) => {
                    open.set(false);
                    session.just_connected.set(Some(account.id));
                    router.go(&account_page(tenant, account.id));
                }
                Ok(PastedAccounts::Several { .. }) => {
                    open.set(false);
                    router.go(&workspace_path(tenant));
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <form class="panel" on:submit=submit novalidate>
            <h2>"Paste a token"</h2>
            <p class="hint">"An Instagram token (IG…, Instagram API with Instagram Login), a Threads token (TH…), or a Facebook user or Page token (EAA…), short- or long-lived. freshtoken checks it with its platform, then keeps it alive; a Facebook user token connects each of its Pages."</p>
            <Field label="Access token" id="paste-token" value=token kind="password" autocomplete="off" problem=token_error/>
            <Field label="Label (optional)" id="paste-label" value=label problem=no_error/>
            <div class="field">
                <label for="paste-origins">"The website that shows this feed (one a line; until you name one, no website gets the token)"</label>
                <textarea id="paste-origins" rows="3" bind:value=origins placeholder="https://example.com"></textarea>
                {move || origins_error.get().map(|problem| view! { <p class="field-error">{problem}</p> })}
            </div>
            <ErrorNote error=error.into()/>
            <div class="actions">
                <button type="submit" disabled=pending>{move || if pending.get() { "Checking the token…" } else { "Add the account" }}</button>
                <button type="button" class="secondary" on:click=move |_| open.set(false)>"Cancel"</button>
            </div>
        </form>
    }
}

/// The account id of the address (`/w/:tenant/accounts/:account`).
fn account_param() -> Signal<Option<i64>> {
    let router = use_router();
    Signal::derive(move || match &segments(&router.path())[..] {
        [w, _, accounts, id] if w == "w" && accounts == "accounts" => id.parse().ok(),
        _ => None,
    })
}

#[component]
pub fn AccountDetail() -> impl IntoView {
    let tenant = tenant_param();
    let account_id = account_param();
    let path = move || {
        Some(format!(
            "{}/{}",
            accounts_path(tenant.get()?),
            account_id.get()?
        ))
    };
    let account = Remote::<AccountView>::new(path);
    // What the page shows; actions put the server's answer here without reloading.
    let current = RwSignal::new(None::<AccountView>);
    Effect::new(move |_| {
        if let Some(Ok(view)) = account.get() {
            current.set(Some(view));
        }
    });
    let role = role_in(tenant);
    let can_edit = Signal::derive(move || role.get().is_some_and(Role::can_edit));
    let title = Signal::derive(move || {
        current
            .with(|account| account.as_ref().map(display_name))
            .unwrap_or_default()
    });
    // Just connected (back from a platform, a Page chosen, a token pasted): say so, once.
    let session = use_session();
    on_cleanup(move || {
        session.just_connected.try_set(None);
    });
    let connected = move || {
        let id = session.just_connected.get()?;
        let account = current.get().filter(|account| account.id == id)?;
        Some(view! {
            <p class="callout ok" role="status"><strong>{format!("Connected {}.", display_name(&account))}</strong>
                " freshtoken keeps its token fresh from now on."</p>
        })
    };

    view! {
        <Layout tenant=tenant area=Area::Accounts title=title>
            <p><a href=move || tenant.get().map(workspace_path).unwrap_or_default()>"← All accounts"</a></p>
            {connected}
            // Built once per load: saving a section updates `current`, which the parts that
            // show server state read, while the forms keep what was typed.
            {move || match account.get() {
                Some(Err(err)) => crate::widgets::error_view(err.message),
                Some(Ok(view)) => view! { <AccountPage account=view current=current can_edit=can_edit tenant=tenant.get_untracked().unwrap_or_default()/> }.into_any(),
                None => view! { <p role="status">"Loading the account…"</p> }.into_any(),
            }}
        </Layout>
    }
}

#[component]
fn AccountPage(
    account: AccountView,
    current: RwSignal<Option<AccountView>>,
    can_edit: Signal<bool>,
    tenant: i64,
) -> impl IntoView {
    let path = format!("{}/{}", accounts_path(tenant), account.id);
    let events = {
        let path = path.clone();
        Remote::<Vec<RefreshEventView>>::new(move || Some(format!("{path}/events")))
    };
    let demo = use_session()
        .instance
        .get_untracked()
        .is_some_and(|instance| instance.demo)
        && account.kind != AccountKind::FacebookPage;
    // A new account serves no website until it names one: ask for the site first.
    let ask_for_site = serves_no_site(&account);
    let origins = view! { <Origins account=account.clone() path=path.clone() current=current can_edit=can_edit ask=ask_for_site/> };
    let (first, last) = if ask_for_site {
        (Some(origins), None)
    } else {
        (None, Some(origins))
    };
    let needs_you = move || {
        current.with(|account| {
            account
                .as_ref()
                .is_some_and(|account| account.status == AccountStatus::NeedsReconnect)
        })
    };
    let reconnect = {
        let path = path.clone();
        move || {
            current.get_untracked().map(|account| {
                view! { <NeedsYou account=account path=path.clone() tenant=tenant can_edit=can_edit/> }
            })
        }
    };
    view! {
        {move || current.get().map(|account| view! { <AccountHeader account=account/> })}
        <Show when=needs_you>{reconnect.clone()}</Show>
        {first}
        {move || current.get().map(|account| view! { <TokenUrls account=account/> })}
        {last}
        <Settings account=account.clone() path=path.clone() current=current can_edit=can_edit/>
        <Contact account=account.clone() path=path.clone() current=current can_edit=can_edit/>
        <Actions account=account.clone() path=path.clone() current=current events=events can_edit=can_edit tenant=tenant/>
        {demo.then(|| view! { <DemoScenes path=path.clone() current=current events=events platform=account.kind.platform()/> })}
        <RequestCounts account=account.clone() path=path.clone()/>
        <History events=events/>
        <MediaPreview path=path/>
    }
}

/// The account's name, status and schedule, and what needs the reader's attention.
#[component]
fn AccountHeader(account: AccountView) -> impl IntoView {
    view! {
        <div class="page-head">
            <Avatar account=account.clone()/>
            <div>
                <h1>{display_name(&account)}</h1>
                <p class="account-facts" inner_html=facts_html(&account)></p>
            </div>
        </div>
        {(account.kind == AccountKind::FacebookPage).then(|| view! {
            <p class="hint">"A Page token never expires, so there is nothing to refresh: freshtoken asks Facebook regularly (daily, unless the operator set another interval) whether it still works, and tells you at once if it stops (a changed password, a lost Page role, the app removed)."</p>
        })}
        {(account.status != AccountStatus::NeedsReconnect).then(|| account.last_error.as_deref().map(|error| {
            let error = sentence(error);
            match account.token_expires_at.as_deref().filter(|_| expiring_soon(&account)) {
                Some(at) => view! {
                    <div class="callout warn" role="alert"><strong>{format!("Its token expires {}, and the last refresh failed. ", when_words(at))}</strong>
                        {error} " freshtoken keeps trying; if no refresh works by then, sites get no token and it needs reconnecting."</div>
                }.into_any(),
                None => view! {
                    <div class="callout" role="status"><strong>{if account.kind.is_refreshed() { "The last refresh failed: " } else { "The last check failed: " }}</strong>{error}" It will be retried."</div>
                }.into_any(),
            }
        })).flatten()}
    }
}

/// What an account that needs reconnecting asks for: reconnecting here, or a link for whoever
/// can log in to it (the client), who needs no account here.
#[component]
fn NeedsYou(
    account: AccountView,
    path: String,
    tenant: i64,
    can_edit: Signal<bool>,
) -> impl IntoView {
    let link = RwSignal::new(None::<ReconnectLinkView>);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let platform = account.kind.platform();
    let get_link = move |_| {
        let path = format!("{path}/reconnect-link");
        pending.set(true);
        error.set(None);
        spawn_local(async move {
            match api::post::<_, ReconnectLinkView>(&path, &()).await {
                Ok(view) => {
                    link.set(Some(view));
                    focus_later("[aria-label='Copy: Reconnect link']");
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    view! {
        <div class="callout bad" role="alert" id="needs-you">
            <p><strong>"This account needs you."</strong> " " {account.last_error.as_deref().map_or_else(|| format!("{platform} no longer accepts its token."), sentence)}</p>
            <p>"Sites using it get no token until it is connected again; its URLs stay the same."</p>
            <div class="actions">
                <a class="button" href=connect_url(tenant, account.kind) rel="external">{format!("Reconnect {platform}")}</a>
                <Show when=move || can_edit.get()>
                    <button type="button" class="secondary" on:click=get_link.clone() disabled=pending>
                        {move || if pending.get() { "Getting a link…" } else { "Get a reconnect link" }}
                    </button>
                </Show>
            </div>
        </div>
        <ErrorNote error=error.into()/>
        {move || link.get().map(|link| view! {
            <div class="callout ok">
                <p role="status">{format!("Send this to whoever can log in to this account: they reconnect it without an account here, until {}. The website needs no change.", local_date(&link.expires_at))}</p>
                <Snippet title="Reconnect link" text=link.url/>
            </div>
        })}
    }
}

/// The token URLs and the snippets to paste into a website.
#[component]
fn TokenUrls(account: AccountView) -> impl IntoView {
    let constant = account.js_constant.clone();
    let script_tag = format!("<script src=\"{}\"></script>", account.token_js_url);
    let api = match account.kind {
        AccountKind::Instagram => "the Instagram API",
        AccountKind::Threads => "the Threads API",
        AccountKind::FacebookPage => "the Graph API, as the Page",
    };
    let fetch = format!(
        "fetch(\"{}\")\n  .then((response) => response.json())\n  .then(({{ token }}) => {{\n    // use the token, e.g. with {api}\n  }});",
        account.token_json_url
    );
    let instafeed = format!(
        "<div id=\"instafeed\"></div>\n<script src=\"https://cdn.jsdelivr.net/npm/instafeed.js@2/dist/instafeed.min.js\"></script>\n<script src=\"{}\"></script>\n<script>\n  new Instafeed({{ accessToken: {constant} }}).run();\n</script>",
        account.token_js_url
    );
    view! {
        <section aria-labelledby="urls-title">
            <h2 id="urls-title">"Use it on your site"</h2>
            <dl class="urls">
                <dt>"token.js"</dt>
                <dd><code>{account.token_js_url.clone()}</code>" defines " <code>{constant.clone()}</code>
                    " (add " <code>"?const=Name"</code> " for another name)"</dd>
                <dt>"token.json"</dt>
                <dd><code>{account.token_json_url.clone()}</code></dd>
                <dt>"media.json"</dt>
                <dd><code>{account.media_json_url.clone()}</code></dd>
            </dl>
            // instafeed.js, what most want, first; it reads Instagram Login tokens only.
            {(account.kind == AccountKind::Instagram).then(|| view! { <Snippet title="instafeed.js" text=instafeed/> })}
            <Snippet title="Script tag (token.js)" text=script_tag/>
            <Snippet title="fetch (token.json)" text=fetch/>
            <h3>"Other URLs: migrating from another tool"</h3>
            <dl class="urls" inner_html=other_urls_html(&account)></dl>
        </section>
    }
}

/// The URLs other tools' sites already use, in HTML.
fn other_urls_html(account: &AccountView) -> String {
    let mut html = String::new();
    let mut add = |title: &str, url: &str, note: &str| {
        html += &format!(
            "<dt>{title}</dt><dd><code>{}</code> ({note})</dd>",
            esc(url)
        );
    };
    if !account.token_text_url.is_empty() {
        add(
            "The token as plain text",
            &account.token_text_url,
            "as Instagram Token Agent's /token answered; same site rules",
        );
    }
    if let Some(url) = &account.instatokend_url {
        add(
            "instatokend-compatible URL",
            url,
            "for sites migrated from instatokend",
        );
    }
    html
}

/// Sends `changes` and shows the server's answer; used by every editor of the page.
fn save(
    path: String,
    changes: UpdateAccountRequest,
    current: RwSignal<Option<AccountView>>,
    pending: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    saved: RwSignal<bool>,
) {
    pending.set(true);
    error.set(None);
    saved.set(false);
    spawn_local(async move {
        match api::patch::<_, AccountView>(&path, &changes).await {
            Ok(view) => {
                current.set(Some(view));
                saved.set(true);
            }
            Err(err) => error.set(Some(err)),
        }
        pending.set(false);
    });
}

/// Whether the account's token URLs serve no website at all (no origins, not public).
fn serves_no_site(account: &AccountView) -> bool {
    account.allowed_origins.is_empty() && !account.allow_localhost && !account.public
}

/// The allowed origins editor: who may load the token, with what that means in words. `ask`
/// puts it first with the focus, for an account that serves no website yet.
#[component]
fn Origins(
    account: AccountView,
    path: String,
    current: RwSignal<Option<AccountView>>,
    can_edit: Signal<bool>,
    ask: bool,
) -> impl IntoView {
    let origins = RwSignal::new(account.allowed_origins.join("\n"));
    let localhost = RwSignal::new(account.allow_localhost);
    let public = RwSignal::new(account.public);
    let pending = RwSignal::new(false);
    let saved = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let problem = Signal::derive(move || origins_problem(&origins.get()));
    let no_site =
        move || origin_lines(&origins.get()).is_empty() && !localhost.get() && !public.get();
    let headerless = move || {
        current
            .get()
            .map_or(0, |account| account.requests_today.refused_no_origin)
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem.get().is_some() {
            return;
        }
        let changes = UpdateAccountRequest {
            allowed_origins: Some(origin_lines(&origins.get())),
            allow_localhost: Some(localhost.get()),
            public: Some(public.get()),
            ..Default::default()
        };
        save(path.clone(), changes, current, pending, error, saved);
    };
    let textarea = NodeRef::<leptos::html::Textarea>::new();
    if ask {
        Effect::new(move |_| {
            if let Some(textarea) = textarea.get() {
                // On the next frame: after a navigation, `announce_page` moves the focus to
                // the heading on a frame of its own, asked for before this one.
                request_animation_frame(move || {
                    let _ = textarea.focus();
                });
            }
        });
    }
    view! {
        <section aria-labelledby="origins-title">
            <h2 id="origins-title">{if ask { "Which website shows this feed?" } else { "Websites allowed to load the token" }}</h2>
            <form on:submit=submit novalidate>
                <Show when=no_site>
                    <p class="callout warn" role="status">"Not served to any website yet. Add the site that shows this feed (e.g. https://example.com): only its pages will get the token. Servers use an API key with the tokens:read scope."</p>
                </Show>
                <Show when=move || public.get()>
                    <p class="callout warn" role="status">"Public: every website and every program can read this token, with or without an Origin or Referer. Use this only for a token you would publish."</p>
                </Show>
                <Show when=move || { headerless() > 0 }>
                    <p class="callout" role="status">{move || format!("{} requests today came with neither Origin nor Referer and were refused: a server fetching the token needs an API key (tokens:read), and a page may be hiding its referrer (referrerpolicy=\"no-referrer\").", headerless())}</p>
                </Show>
                <div class="field">
                    <label for="origins">"Origins, one a line (https://example.com, https://*.example.com)"</label>
                    <textarea id="origins" rows="4" node_ref=textarea bind:value=origins disabled=move || !can_edit.get()
                        aria-invalid=move || problem.with(Option::is_some).to_string()></textarea>
                    {move || problem.get().map(|problem| view! { <p class="field-error">{problem}</p> })}
                </div>
                <label class="check"><input type="checkbox" bind:checked=localhost disabled=move || !can_edit.get()/>" Also allow localhost and 127.0.0.1 (development)"</label>
                <label class="check"><input id="public" type="checkbox" bind:checked=public disabled=move || !can_edit.get()/>" Public: serve everyone, any site and any program (anyone can read the token)"</label>
                <SaveBar label="Save origins" pending=pending saved=saved error=error can_edit=can_edit/>
            </form>
        </section>
    }
}

/// The end of an account settings form: its error, the save button (for editors) and "Saved".
#[component]
fn SaveBar(
    label: &'static str,
    pending: RwSignal<bool>,
    saved: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    can_edit: Signal<bool>,
) -> impl IntoView {
    view! {
        <ErrorNote error=error.into()/>
        <Show when=move || can_edit.get()>
            <div class="actions">
                <button type="submit" disabled=pending>{move || if pending.get() { "Saving…" } else { label }}</button>
                <span role="status" class="copy-note">{move || if saved.get() { "Saved" } else { "" }}</span>
            </div>
        </Show>
    }
}

/// Label, JS constant name and refresh interval.
#[component]
fn Settings(
    account: AccountView,
    path: String,
    current: RwSignal<Option<AccountView>>,
    can_edit: Signal<bool>,
) -> impl IntoView {
    let label = RwSignal::new(account.label.clone());
    let constant = RwSignal::new(account.js_constant.clone());
    let interval = RwSignal::new(account.refresh_interval.as_str().to_owned());
    let pending = RwSignal::new(false);
    let saved = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let no_error = Signal::derive(|| None::<String>);
    let constant_problem = Signal::derive(move || {
        let name = constant.get();
        let name = name.trim();
        (!name.is_empty())
            .then(|| check_constant_name(name).err().map(|err| err.to_string()))
            .flatten()
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if constant_problem.get().is_some() {
            return;
        }
        let changes = UpdateAccountRequest {
            label: Some(label.get().trim().to_owned()),
            js_constant: Some(constant.get().trim().to_owned()),
            refresh_interval: interval.get().parse::<RefreshInterval>().ok(),
            ..Default::default()
        };
        save(path.clone(), changes, current, pending, error, saved);
    };
    view! {
        <section aria-labelledby="settings-title">
            <h2 id="settings-title">"Settings"</h2>
            <form on:submit=submit novalidate>
                <Field label="Label" id="label" value=label problem=no_error/>
                <Field label="JS constant name (token.js)" id="js-constant" value=constant
                    hint="The global constant token.js defines; empty for InstagramToken." problem=constant_problem/>
                <div class="field">
                    <label for="interval">"Refresh"</label>
                    <select id="interval" bind:value=interval disabled=move || !can_edit.get()>
                        <option value="daily">"Daily"</option>
                        <option value="weekly">"Weekly (recommended)"</option>
                        <option value="monthly">"Monthly"</option>
                    </select>
                    <p class="hint">"A token close to expiry is refreshed at once, whatever this says."</p>
                </div>
                <SaveBar label="Save settings" pending=pending saved=saved error=error can_edit=can_edit/>
            </form>
        </section>
    }
}

/// Who hears of the account's trouble, and the owner's contact address.
#[component]
fn Contact(
    account: AccountView,
    path: String,
    current: RwSignal<Option<AccountView>>,
    can_edit: Signal<bool>,
) -> impl IntoView {
    let email = RwSignal::new(account.owner_email.unwrap_or_default());
    let pending = RwSignal::new(false);
    let saved = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let problem = Signal::derive(move || optional_email_problem(&email.get()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem.get().is_some() {
            return;
        }
        let changes = UpdateAccountRequest {
            owner_email: Some(email.get().trim().to_owned()),
            ..Default::default()
        };
        save(path.clone(), changes, current, pending, error, saved);
    };
    // The owner is told only while subscribed, and only when the account needs reconnecting.
    let told = move || {
        let owner = current.get().and_then(|account| match account.owner_unsubscribed_at {
            Some(at) => Some(format!(" Its owner's contact unsubscribed on {} and is told nothing.", local_date(&at))),
            None => account.owner_email.map(|email| format!(" When it needs reconnecting, its owner's contact too ({email}), with a link that reconnects it.")),
        });
        format!(
            "The workspace's owners, by e-mail (if this instance sends e-mail), and the webhooks subscribed to its events.{}",
            owner.unwrap_or_default()
        )
    };
    view! {
        <section aria-labelledby="contact-title">
            <h2 id="contact-title">"Who is told when it needs attention"</h2>
            <p>{told}</p>
            <form on:submit=submit novalidate>
                <Field label="Owner's contact (e-mail)" id="owner-email" value=email kind="email"
                    hint="The account's owner (your client), told when it needs them again. Empty for nobody." problem=problem/>
                <SaveBar label="Save contact" pending=pending saved=saved error=error can_edit=can_edit/>
            </form>
        </section>
    }
}

/// What the account page's action buttons do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AccountAction {
    Pause,
    Resume,
    RefreshNow,
    RotateUrls,
    Delete,
}

impl AccountAction {
    /// What the button says, idle and at work.
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            AccountAction::Pause => ("Pause", "Pausing…"),
            AccountAction::Resume => ("Resume", "Resuming…"),
            AccountAction::RefreshNow => ("Refresh now", "Asking…"),
            AccountAction::RotateUrls => ("Rotate URLs…", "Rotating…"),
            AccountAction::Delete => ("Delete…", "Deleting…"),
        }
    }

    /// The question an irreversible action asks first, and its confirming button.
    fn confirmation(self, username: &str) -> Option<(String, &'static str)> {
        match self {
            AccountAction::RotateUrls => Some((
                "Give this account new token URLs? The current ones stop working at once, so every site using them must be updated.".to_owned(),
                "Rotate the URLs",
            )),
            AccountAction::Delete => Some((
                format!("Delete @{username}? Its token is deleted and sites using its URLs get no token from now on. This cannot be undone."),
                "Delete for good",
            )),
            _ => None,
        }
    }
}

/// What `RefreshNowAnswer` adds to the account.
#[derive(serde::Deserialize)]
struct RefreshNote {
    waits: bool,
    message: String,
}

/// Pause or resume, refresh now, rotate the URLs, delete.
#[component]
fn Actions(
    account: AccountView,
    path: String,
    current: RwSignal<Option<AccountView>>,
    events: Remote<Vec<RefreshEventView>>,
    can_edit: Signal<bool>,
    tenant: i64,
) -> impl IntoView {
    let router = use_router();
    let pending = RwSignal::new(None::<AccountAction>);
    let error = RwSignal::new(None::<ApiError>);
    let note = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(None::<AccountAction>);
    let username = account.username.clone();

    let run = move |action: AccountAction| {
        let path = path.clone();
        pending.set(Some(action));
        error.set(None);
        note.set(None);
        confirming.set(None);
        spawn_local(async move {
            let outcome = match action {
                AccountAction::Pause | AccountAction::Resume => {
                    let changes = UpdateAccountRequest {
                        paused: Some(action == AccountAction::Pause),
                        ..Default::default()
                    };
                    api::patch::<_, AccountView>(&path, &changes)
                        .await
                        .map(|view| {
                            current.set(Some(view));
                            None
                        })
                }
                // The server says when it runs (a young token waits for its platform); one that
                // runs now shows in the history within seconds.
                // (`RefreshNowAnswer` is the account with `waits` and `message` beside its
                // fields: read as both, which takes less code than its flattened form.)
                AccountAction::RefreshNow => api::post_text(&format!("{path}/refresh"), &())
                    .await
                    .and_then(|text| {
                        Ok((
                            api::parse::<AccountView>(&text)?,
                            api::parse::<RefreshNote>(&text)?,
                        ))
                    })
                    .map(|(account, answer)| {
                        current.set(Some(account));
                        if !answer.waits {
                            watch(path.clone(), current, events, 10);
                        }
                        Some(answer.message)
                    }),
                AccountAction::RotateUrls => {
                    api::post::<_, AccountView>(&format!("{path}/rotate-url"), &())
                        .await
                        .map(|view| {
                            current.set(Some(view));
                            Some(
                        "New URLs are in place; the old ones no longer answer. Update your site."
                            .to_owned(),
                    )
                        })
                }
                AccountAction::Delete => match api::delete(&path).await {
                    // The page goes away with the account: nothing left to update here.
                    Ok(()) => return router.go(&workspace_path(tenant)),
                    Err(err) => Err(err),
                },
            };
            match outcome {
                Ok(message) => note.set(message),
                Err(err) => error.set(Some(err)),
            }
            pending.set(None);
        });
    };
    // Irreversible actions ask first; the others run at once.
    let press = {
        let username = username.clone();
        let run = run.clone();
        move |action: AccountAction| {
            if action.confirmation(&username).is_some() {
                confirming.set(Some(action));
            } else {
                run(action);
            }
        }
    };
    let button = move |action: Signal<AccountAction>, class: &'static str| {
        let press = press.clone();
        view! {
            <button type="button" class=class disabled=move || pending.get().is_some() on:click=move |_| press(action.get())>
                {move || {
                    let (idle, working) = action.get().labels();
                    if pending.get() == Some(action.get()) { working } else { idle }
                }}
            </button>
        }
    };
    let pause_or_resume = Signal::derive(move || {
        let paused = current.with(|account| {
            account
                .as_ref()
                .is_some_and(|account| account.status == AccountStatus::Paused)
        });
        if paused {
            AccountAction::Resume
        } else {
            AccountAction::Pause
        }
    });

    view! {
        <Show when=move || can_edit.get()>
            <section aria-labelledby="actions-title">
                <h2 id="actions-title">"Actions"</h2>
                <div class="actions">
                    {button(pause_or_resume, "secondary")}
                    {button(Signal::stored(AccountAction::RefreshNow), "secondary")}
                    {button(Signal::stored(AccountAction::RotateUrls), "secondary")}
                    {button(Signal::stored(AccountAction::Delete), "danger")}
                </div>
                {
                    let username = username.clone();
                    let run = run.clone();
                    move || confirming.get().and_then(|action| {
                        let (question, confirm) = action.confirmation(&username)?;
                        let run = run.clone();
                        // The question takes the focus, on Cancel (the safe choice); Escape
                        // cancels too.
                        let cancel = NodeRef::<leptos::html::Button>::new();
                        Effect::new(move |_| {
                            if let Some(button) = cancel.get() {
                                let _ = button.focus();
                            }
                        });
                        Some(view! {
                            <div class="callout warn" role="alertdialog" aria-label="Confirm"
                                on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Escape" { confirming.set(None) }>
                                <p>{question}</p>
                                <div class="actions">
                                    <button type="button" class="danger" on:click=move |_| run(action)>{confirm}</button>
                                    <button type="button" class="secondary" node_ref=cancel on:click=move |_| confirming.set(None)>"Cancel"</button>
                                </div>
                            </div>
                        })
                    })
                }
                {move || note.get().map(|note| view! { <p class="note" role="status">{note}</p> })}
                <ErrorNote error=error.into()/>
                // "Paused: resume it first": the action it names, at hand.
                {
                    let run = run.clone();
                    move || error.with(|error| error.as_ref().is_some_and(|error| error.message.contains("resume"))).then(|| {
                        let run = run.clone();
                        view! { <button type="button" on:click=move |_| run(AccountAction::Resume)>"Resume"</button> }
                    })
                }
            </section>
        </Show>
    }
}

/// Fetches the account and its history every 2 seconds, `times` times, so that what the
/// worker does next (a refresh, a warning, a lost token) shows without a reload.
fn watch(
    path: String,
    current: RwSignal<Option<AccountView>>,
    events: Remote<Vec<RefreshEventView>>,
    times: u32,
) {
    every_two_seconds(
        times,
        std::rc::Rc::new(move || {
            if !events.try_refetch() {
                return false;
            }
            let path = path.clone();
            spawn_local(async move {
                if let Ok(view) = api::get::<AccountView>(&path).await
                    && current.get_untracked().as_ref() != Some(&view)
                {
                    current.try_set(Some(view));
                }
            });
            true
        }),
    );
}

/// Demo mode: plays a step of the story on this account (time moves for it and the fake
/// alone), then watches for what the worker does about it.
#[component]
fn DemoScenes(
    path: String,
    current: RwSignal<Option<AccountView>>,
    events: Remote<Vec<RefreshEventView>>,
    platform: &'static str,
) -> impl IntoView {
    let pending = RwSignal::new(false);
    let note = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<ApiError>);
    let play = move |scene: DemoScene| {
        let path = path.clone();
        pending.set(true);
        note.set(None);
        error.set(None);
        spawn_local(async move {
            let request = DemoSceneRequest { scene };
            match api::post::<_, DemoSceneAnswer>(&format!("{path}/demo-scene"), &request).await {
                Ok(answer) => {
                    current.set(Some(answer.account));
                    note.set(Some(answer.message));
                    watch(path, current, events, 30);
                }
                Err(err) => error.set(Some(err)),
            }
            pending.set(false);
        });
    };
    let button = move |scene: DemoScene, label: &'static str| {
        let play = play.clone();
        view! { <button type="button" class="secondary" disabled=pending on:click=move |_| play(scene)>{label}</button> }
    };
    // For an active account only: the scenes start from a working token.
    let active = move || {
        current.with(|account| {
            account
                .as_ref()
                .is_some_and(|account| account.status == AccountStatus::Active)
        })
    };
    view! {
        <Show when=active>
            <section class="panel demo" aria-labelledby="demo-title">
                <h2 id="demo-title">"Demo: move time"</h2>
                <p class="hint">"Demo mode only: time moves for this account and the fake platform, then the page shows what freshtoken does."</p>
                <div class="actions">
                    {button(DemoScene::AWeekLater, "A week later")}
                    {button(DemoScene::ExpiringSoon, if platform == "Threads" { "Three days before expiry, Threads down" } else { "Three days before expiry, Instagram down" })}
                    {button(DemoScene::OwnerChangedPassword, "The owner changes their password")}
                </div>
                <p class="note" role="status">{move || note.get()}</p>
                <ErrorNote error=error.into()/>
            </section>
        </Show>
    }
}

/// Requests to the token URLs: today, and a bar a day for the last two weeks.
#[component]
fn RequestCounts(account: AccountView, path: String) -> impl IntoView {
    let days =
        Remote::<Vec<DailyRequestsView>>::new(move || Some(format!("{path}/requests?days=14")));
    let today = account.requests_today;
    view! {
        <section aria-labelledby="requests-title">
            <h2 id="requests-title">"Requests"</h2>
            <p>"Today: " <strong>{today.served}</strong> " served, " <strong>{today.refused}</strong> " refused, of which " <strong>{today.refused_no_origin}</strong> " without Origin or Referer " <span class="hint">"(counts arrive within a minute)"</span></p>
            {move || loaded(days.get(), |days| view! { <div inner_html=requests_html(days)></div> }.into_any())}
        </section>
    }
}

/// A column a day (its height the day's share of the busiest day, a sliver at least for any
/// request), then the numbers in a table, in HTML.
fn requests_html(days: Vec<DailyRequestsView>) -> String {
    let most = days
        .iter()
        .map(|day| day.served + day.refused)
        .max()
        .unwrap_or(0);
    if most == 0 {
        return "<p class=\"muted\">No requests in the last 14 days.</p>".to_owned();
    }
    let bar = |class: &str, count: u64| match count {
        0 => String::new(),
        _ => format!(
            "<span class=\"{class}\" style=\"height: max(3px, {}%)\"></span>",
            count * 100 / most
        ),
    };
    let mut html = "<div class=\"chart\" aria-hidden=\"true\">".to_owned();
    for day in &days {
        html += &format!(
            "<div class=\"day\"><span class=\"count\">{}</span><span class=\"stack\">{}{}</span><span class=\"date\">{}</span></div>",
            day.served + day.refused,
            bar("refused", day.refused),
            bar("served", day.served),
            esc(&day_words(&day.day))
        );
    }
    html += "</div><p class=\"hint\" aria-hidden=\"true\"><span class=\"key served\"></span> served <span class=\"key refused\"></span> refused</p><details><summary>The numbers</summary><div class=\"table-wrap\">";
    let rows = days
        .iter()
        .map(|day| {
            vec![
                esc(&day_words(&day.day)),
                day.served.to_string(),
                day.refused.to_string(),
            ]
        })
        .collect();
    html += &table_html(
        "Requests a day, last 14 days",
        &["Day", "Served", "Refused"],
        rows,
    );
    html + "</div></details>"
}

fn outcome_words(outcome: RefreshOutcome) -> &'static str {
    match outcome {
        RefreshOutcome::Refreshed => "Refreshed",
        RefreshOutcome::Checked => "Checked: still valid",
        RefreshOutcome::Transient => "Failed, will retry",
        RefreshOutcome::RateLimited => "Rate-limited, will retry",
        RefreshOutcome::Revoked => "Revoked: needs reconnect",
        RefreshOutcome::Rejected => "Rejected by the platform",
    }
}

fn history_html(events: Vec<RefreshEventView>) -> String {
    let rows = events
        .iter()
        .map(|event| {
            let details = event.message.clone().unwrap_or_default()
                + &event
                    .error_code
                    .as_ref()
                    .map(|code| format!(" ({code})"))
                    .unwrap_or_default();
            vec![
                time_html(&event.at),
                outcome_words(event.outcome).to_owned(),
                event.attempt.to_string(),
                esc(&sentence(&details)),
                event
                    .new_expires_at
                    .as_deref()
                    .map(time_html)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table_html(
        "Refresh attempts, newest first",
        &["When", "Outcome", "Try", "Details", "New expiry"],
        rows,
    )
}

/// The refresh attempts, newest first.
#[component]
fn History(events: Remote<Vec<RefreshEventView>>) -> impl IntoView {
    view! {
        <section aria-labelledby="history-title">
            <h2 id="history-title">"Refresh history"</h2>
            <button type="button" class="secondary small" on:click=move |_| events.refetch()>"Reload"</button>
            {move || loaded(events.get(), |ready| match ready {
                events if events.is_empty() => view! { <p class="muted">"No refresh yet: Instagram refreshes a token only once it is a day old."</p> }.into_any(),
                events => view! { <div class="table-wrap" inner_html=history_html(events)></div> }.into_any(),
            })}
        </section>
    }
}

/// One post of `media.json`, as much of it as the preview shows.
#[derive(Clone, serde::Deserialize)]
struct Post {
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    media_url: Option<String>,
    #[serde(default)]
    thumbnail_url: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
}

#[derive(Clone, serde::Deserialize)]
struct Posts {
    data: Vec<Post>,
    synced_at: Option<String>,
}

/// The recent posts as the worker last synced them.
#[component]
fn MediaPreview(path: String) -> impl IntoView {
    let posts = Remote::<Posts>::new(move || Some(format!("{path}/media")));
    view! {
        <section aria-labelledby="media-title">
            <h2 id="media-title">"Recent posts"</h2>
            {move || loaded(posts.get(), |ready| match ready {
                synced if synced.synced_at.is_none() => view! {
                    <p class="muted">"Not synced yet: the worker fetches the posts shortly. "
                        <button type="button" class="secondary small" on:click=move |_| posts.refetch()>"Check again"</button></p>
                }.into_any(),
                synced => view! {
                    <ul class="media">
                        {synced.data.into_iter().take(12).map(|post| {
                            let picture = post.thumbnail_url.clone().or(post.media_url.clone()).filter(|url| is_picture_url(url));
                            let caption = post.caption.clone().unwrap_or_default();
                            view! {
                                <li>
                                    <a href=post.permalink.clone().filter(|url| url.starts_with("https://")) target="_blank" rel="noopener">
                                        {match picture {
                                            Some(url) => view! { <img src=url alt=caption.clone() loading="lazy"/> }.into_any(),
                                            None => view! { <span class="media-text">{if caption.is_empty() { "A post".to_owned() } else { caption.clone() }}</span> }.into_any(),
                                        }}
                                    </a>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
        </section>
    }
}

/// A picture the page may show: a web address (https, or http for the demo's fake, which the
/// content security policy allows alone), never a `javascript:` or `data:` one.
fn is_picture_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}
