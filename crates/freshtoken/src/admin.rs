//! `freshtoken migrate` and `freshtoken admin ...`: operator tasks that run beside a live
//! service.

use anyhow::Context;
use base64::Engine;
use std::path::Path;

use std::sync::Arc;

use freshtoken_accounts::{
    ConnectError, Connected, Connector, LinkRequest, Paste, Presets, check_alias, parse_token,
    schedule,
};
use freshtoken_core::origin::{OriginPattern, parse_allowed_origins};
use freshtoken_core::{AccountKind, AccountStatus, RefreshInterval, Role};
use freshtoken_store::{
    Account, Duplicate, Joining, KeyFile, SecretKey, SignUp, Store, StoreError, Tenant,
};
use freshtoken_web::accounts::{instatokend_url_of, public_url_of};
use freshtoken_web::auth::password;
use freshtoken_web::tenants::check_slug;

use crate::cli::AdminCommand;
use crate::config::{Config, KeySource};
use crate::server::{meta_clients, open_store};

/// How many tokens are re-sealed per database round trip.
const REKEY_BATCH: u64 = 500;

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let pending = store.readiness().await?.pending_migrations;
    crate::server::migrate(&store).await?;
    println!("database is up to date ({pending} migration(s) applied)");
    Ok(())
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::GenerateKey => unreachable!("handled before the configuration is read"),
        AdminCommand::RotateKey { retire, .. } => rotate_key(config, retire).await,
        AdminCommand::CreateUser {
            email,
            name,
            operator,
            tenant,
            password_stdin,
            ..
        } => {
            create_user(
                config,
                &email,
                &name,
                operator,
                tenant.as_deref(),
                password_stdin,
            )
            .await
        }
        AdminCommand::ResetPassword {
            email,
            password_stdin,
            ..
        } => reset_password(config, &email, password_stdin).await,
        AdminCommand::ImportToken {
            tenant,
            token,
            kind,
            page,
            label,
            origins,
            owner,
            ..
        } => {
            let token = ImportedToken {
                token,
                kind,
                page,
                label,
                origins,
            };
            // The owner first: a refused address leaves nothing imported.
            make_owner(config, &tenant, owner.as_deref()).await?;
            import_token(config, &tenant, token).await
        }
        AdminCommand::ImportInstatokend {
            config: file,
            tenant,
            origins,
            public,
            owner,
            ..
        } => {
            let allowed_origins = if origins.is_empty() {
                None
            } else {
                Some(parse_allowed_origins(&origins).context("--origin")?)
            };
            make_owner(config, &tenant, owner.as_deref()).await?;
            import_instatokend(config, &file, &tenant, allowed_origins, public).await
        }
        AdminCommand::ConnectLink {
            tenant,
            kind,
            label,
            origins,
            owner_email,
            reusable,
            expires_in,
            ..
        } => {
            let link = NewLink {
                kind: kind.unwrap_or(AccountKind::Instagram),
                label: label.unwrap_or_default(),
                origins,
                owner_email,
                reusable,
                expires_in,
            };
            connect_link(config, &tenant, link).await
        }
        AdminCommand::AddMember {
            tenant,
            email,
            role,
            ..
        } => add_member(config, &tenant, &email, role).await,
        AdminCommand::Refresh { account_id, .. } => refresh(config, account_id).await,
        AdminCommand::Export { output, .. } => export(config, &output).await,
        AdminCommand::Import { file, .. } => import(config, &file).await,
    }
}

/// `admin export --output FILE`: the whole instance as one JSON file, created 0600 and never
/// over an existing one; `--output -` writes it to standard output (for a container's volume:
/// the shell on the host then creates the file), and the summary goes to standard error.
async fn export(config: &Config, output: &Path) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    crate::server::migrate(&store).await?;
    let export = store.transfer().export().await?;
    let summary = export.summary();
    let summary = format!(
        "exported {} users, {} workspaces, {} accounts and {} tokens (encrypted)",
        summary.users, summary.tenants, summary.accounts, summary.tokens
    );
    if output == Path::new("-") {
        let mut writer = std::io::BufWriter::new(std::io::stdout().lock());
        serde_json::to_writer(&mut writer, &export)?;
        std::io::Write::flush(&mut writer).context("cannot write to standard output")?;
        eprintln!("{summary} to standard output");
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(output)
        .with_context(|| format!("cannot create {} (it must not exist yet)", output.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, &export)?;
    std::io::Write::flush(&mut writer)?;
    println!("{summary} to {}", output.display());
    Ok(())
}

/// `admin import FILE`, or `-` for standard input (so a container needs no copy of the file).
async fn import(config: &Config, file: &Path) -> anyhow::Result<()> {
    let from_stdin = file == Path::new("-");
    let source = if from_stdin {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    };
    let export: freshtoken_store::Export = if from_stdin {
        serde_json::from_reader(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        serde_json::from_reader(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot read {source}"))?,
        ))
    }
    .with_context(|| format!("{source} is not an `admin export` file"))?;
    let store = open_store(config).await?;
    crate::server::migrate(&store).await?;
    let summary = store.transfer().import(export).await.map_err(|err| match err {
        StoreError::Crypto(_) => anyhow::anyhow!(
            "a token of the export cannot be opened with this instance's keys: set FRESHTOKEN_SECRET_KEY (or FRESHTOKEN_PREVIOUS_SECRET_KEYS) to the key of the instance that exported it"
        ),
        other => other.into(),
    })?;
    println!(
        "imported {} users, {} workspaces, {} accounts and {} tokens",
        summary.users, summary.tenants, summary.accounts, summary.tokens
    );
    Ok(())
}

/// `admin refresh ACCOUNT_ID`: enqueue a refresh now, for a worker to run.
async fn refresh(config: &Config, account_id: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    crate::server::migrate(&store).await?;
    let account = match store.accounts().by_id(account_id).await {
        Ok(account) => account,
        Err(StoreError::NotFound) => anyhow::bail!("there is no account {account_id}"),
        Err(err) => return Err(err.into()),
    };
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Paused => {
            anyhow::bail!("account {account_id} is paused: resume it first")
        }
        AccountStatus::NeedsReconnect => anyhow::bail!(
            "account {account_id} needs to be connected again with {}: its token is no longer valid",
            account.kind.platform()
        ),
    }
    let now = chrono::Utc::now();
    // An operator acts on any tenant's account: no tenant to scope the read to.
    let lifetime = store.tokens().lifetime_unscoped(account_id).await?;
    let at = schedule::earliest_refresh(account.kind, now, lifetime);
    store
        .accounts()
        .schedule_refresh(account.tenant_id, account_id, at)
        .await?;
    if at > now {
        println!(
            "the token of account {account_id} (@{}) is younger than 24 hours: {} refreshes it from {}; scheduled",
            account.username,
            account.kind.platform(),
            at.to_rfc3339()
        );
        return Ok(());
    }
    if freshtoken_worker::enqueue_refresh(&store, account_id, now, config.worker.lease).await? {
        println!(
            "queued a refresh of account {account_id} (@{}): a running worker picks it up now",
            account.username
        );
    } else {
        println!(
            "account {account_id} (@{}) is being refreshed already",
            account.username
        );
    }
    Ok(())
}

/// The workspace with this slug, created (named after the slug) if there is none.
async fn tenant_by_slug(store: &Store, slug: &str) -> anyhow::Result<Tenant> {
    let (tenant, created) = ensure_tenant(store, slug).await?;
    if created {
        println!("created workspace {}", tenant.slug);
    }
    Ok(tenant)
}

/// The workspace with this slug, and whether it was created just now.
async fn ensure_tenant(store: &Store, slug: &str) -> anyhow::Result<(Tenant, bool)> {
    if let Some(tenant) = store.tenants().by_slug(slug).await? {
        return Ok((tenant, false));
    }
    check_slug(slug).map_err(|err| anyhow::anyhow!("--tenant {slug:?}: {err}"))?;
    Ok((store.tenants().create(slug, slug).await?, true))
}

/// The store and the one place accounts are connected, for the import commands, which talk to
/// the real Meta (demo mode's fake lives only inside `serve --demo`).
async fn store_and_connector(config: &Config) -> anyhow::Result<(Store, Connector)> {
    if config.demo {
        anyhow::bail!(
            "imports verify tokens with the real Instagram, Threads or Facebook; demo mode's fake exists only inside `freshtoken serve --demo`"
        );
    }
    let store = open_store(config).await?;
    store.migrate().await?;
    let meta = meta_clients(config, &config.public_url_for(config.bind))?;
    let connector = Connector::new(store.clone(), Arc::new(meta));
    Ok((store, connector))
}

/// Every URL a site can load the account's token from: ours, instatokend's and Token
/// Agent's shapes.
fn print_urls(config: &Config, name: &str, account: &Account, created: bool) {
    let public_url = config.public_url_for(config.bind);
    let url = |file| public_url_of(&public_url, &account.public_id, file);
    let instatokend = instatokend_url_of(
        &public_url,
        account.alias.as_deref().unwrap_or(&account.public_id),
    );
    let who = match account.kind {
        AccountKind::FacebookPage => format!("Facebook Page {:?}", account.username),
        AccountKind::Threads => format!("Threads @{}", account.username),
        AccountKind::Instagram => format!("@{}", account.username),
    };
    println!(
        "{} {name}: {who} (account {})\n  token.json:         {}\n  token.js:           {}\n  instatokend's shape: {instatokend}\n  the token as text:  {}\n  recent posts:       {}",
        if created { "connected" } else { "reconnected" },
        account.id,
        url("token.json"),
        url("token.js"),
        url("token"),
        url("media.json"),
    );
    if account.allowed_origins.is_empty() && !account.public {
        // Closed by default: say so here, where the operator is looking.
        println!(
            "  no allowed origins yet: no website gets this token until one is added (--origin, or the dashboard); servers fetch it with an API key of scope tokens:read"
        );
    }
}

/// `admin import-token`'s arguments.
struct ImportedToken {
    token: String,
    kind: Option<AccountKind>,
    page: Option<String>,
    label: Option<String>,
    origins: Vec<String>,
}

async fn import_token(config: &Config, slug: &str, imported: ImportedToken) -> anyhow::Result<()> {
    let token = if imported.token == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the token from standard input")?;
        line
    } else {
        imported.token
    };
    let paste = Paste {
        token: parse_token(&token)?,
        kind: imported.kind,
        page_id: imported.page,
        presets: Presets {
            label: imported.label,
            allowed_origins: if imported.origins.is_empty() {
                None
            } else {
                Some(parse_allowed_origins(&imported.origins).context("--origin")?)
            },
            ..Presets::default()
        },
    };
    let (store, connector) = store_and_connector(config).await?;
    let tenant = tenant_by_slug(&store, slug).await?;
    let connected = connector
        .paste(tenant.id, paste)
        .await
        .context("the token was not imported")?;
    for Connected { account, created } in &connected {
        print_urls(config, &tenant.slug, account, *created);
    }
    Ok(())
}

/// instatokend's configuration: `port` and `refresh_freq`, and one `{"token": "..."}` object
/// per account, named by its key. Its README writes `//` comments in the file, so those are
/// allowed.
#[derive(Debug)]
struct InstatokendConfig {
    interval: RefreshInterval,
    accounts: Vec<(String, String)>,
}

fn parse_instatokend(text: &str) -> anyhow::Result<InstatokendConfig> {
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&strip_line_comments(text))
            .context("expected a JSON object such as {\"refresh_freq\": \"weekly\", \"my-account\": {\"token\": \"...\"}}")?;
    let interval = match json.get("refresh_freq").and_then(|value| value.as_str()) {
        None | Some("weekly") => RefreshInterval::Weekly,
        // "test" refreshed every 5 minutes; Instagram allows one refresh a day at most.
        Some("daily" | "test") => RefreshInterval::Daily,
        Some("monthly") => RefreshInterval::Monthly,
        Some(other) => {
            anyhow::bail!("refresh_freq {other:?} is not daily, weekly, monthly or test")
        }
    };
    let mut accounts = Vec::new();
    for (name, value) in &json {
        if matches!(name.as_str(), "port" | "refresh_freq") {
            continue;
        }
        let token = value
            .get("token")
            .and_then(|token| token.as_str())
            .with_context(|| format!("{name:?}: expected {{\"token\": \"...\"}}"))?;
        accounts.push((name.clone(), token.to_owned()));
    }
    if accounts.is_empty() {
        anyhow::bail!(
            "the file names no account (an entry such as \"my-account\": {{\"token\": \"...\"}})"
        );
    }
    Ok(InstatokendConfig { interval, accounts })
}

/// Drops `//` comments that start outside a string.
fn strip_line_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_string = false;
        let mut escaped = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        for (i, &byte) in bytes.iter().enumerate() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else if byte == b'"' {
                in_string = true;
            } else if byte == b'/' && bytes.get(i + 1) == Some(&b'/') {
                cut = i;
                break;
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// Imports every account of instatokend's config, each keeping its config name as its alias
/// (`/token/{name}` answers as instatokend did), locked to `origins`, or open to all with
/// `public` (instatokend's way, on request only).
async fn import_instatokend(
    config: &Config,
    file: &Path,
    slug: &str,
    origins: Option<Vec<OriginPattern>>,
    public: bool,
) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed = parse_instatokend(&text)
        .with_context(|| format!("{} is not an instatokend configuration", file.display()))?;
    let (store, connector) = store_and_connector(config).await?;
    let tenant = tenant_by_slug(&store, slug).await?;
    if public {
        eprintln!(
            "warning: --public: the imported tokens go to every site and tool that asks, as with instatokend; anyone who learns one of these URLs can use the account's token. Lock them to your sites with --origin (or in the dashboard) instead when you can."
        );
    }
    let mut failed = 0;
    for (name, token) in &parsed.accounts {
        let imported = async {
            check_alias(name).map_err(anyhow::Error::msg)?;
            let paste = Paste {
                token: parse_token(token)?,
                kind: Some(AccountKind::Instagram),
                page_id: None,
                presets: Presets {
                    label: Some(name.chars().take(100).collect()),
                    refresh_interval: Some(parsed.interval),
                    allowed_origins: origins.clone(),
                    public: public.then_some(true),
                    alias: Some(name.clone()),
                    ..Presets::default()
                },
            };
            connector.paste(tenant.id, paste).await.map_err(|err| match err {
                ConnectError::Store(StoreError::Duplicate(Duplicate::Alias)) => anyhow::anyhow!(
                    "another account of this instance already answers at /token/{name}: rename this entry in the config (its sites then use the new name)"
                ),
                other => other.into(),
            })
        }
        .await;
        match imported {
            Ok(connected) => {
                for Connected { account, created } in &connected {
                    print_urls(config, name, account, *created);
                }
            }
            Err(err) => {
                failed += 1;
                eprintln!("not imported {name}: {err:#}");
            }
        }
    }
    let total = parsed.accounts.len();
    println!(
        "imported {} of {total} account(s) into workspace {}, refreshed {}",
        total - failed,
        tenant.slug,
        parsed.interval
    );
    if failed > 0 {
        anyhow::bail!("{failed} of {total} account(s) were not imported");
    }
    Ok(())
}

/// `admin connect-link`'s arguments.
struct NewLink {
    kind: AccountKind,
    label: String,
    origins: Vec<String>,
    owner_email: Option<String>,
    reusable: bool,
    expires_in: chrono::Duration,
}

async fn connect_link(config: &Config, slug: &str, new: NewLink) -> anyhow::Result<()> {
    if new.label.chars().count() > 100 || new.label.chars().any(char::is_control) {
        anyhow::bail!("--label must be at most 100 characters, without control characters");
    }
    if let Some(email) = &new.owner_email
        && !freshtoken_core::is_email_address(email)
    {
        anyhow::bail!("--owner-email {email:?} is not an e-mail address");
    }
    let presets = Presets {
        label: (!new.label.is_empty()).then(|| new.label.clone()),
        allowed_origins: if new.origins.is_empty() {
            None
        } else {
            Some(parse_allowed_origins(&new.origins).context("--origin")?)
        },
        owner_email: new.owner_email.map(|email| email.trim().to_owned()),
        ..Presets::default()
    };
    let (store, connector) = links_connector(config).await?;
    // Standard output carries the link alone, for scripts.
    let (tenant, created) = ensure_tenant(&store, slug).await?;
    if created {
        eprintln!("created workspace {}", tenant.slug);
    }
    let (link, secret) = connector
        .create_link(
            tenant.id,
            LinkRequest {
                kind: new.kind,
                label: new.label,
                presets,
                reusable: new.reusable,
                expires_in: Some(new.expires_in),
                created_by: None,
            },
        )
        .await
        .context("the link was not made")?;
    eprintln!(
        "a {} link into workspace {}, {}, until {}: send it to the account's owner",
        new.kind.display_name(),
        tenant.slug,
        if link.reusable {
            "for any number of accounts"
        } else {
            "for one account"
        },
        link.expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    println!(
        "{}",
        freshtoken_web::link_url(&config.public_url_for(config.bind), &secret)
    );
    Ok(())
}

/// The store and a connector for making links: no call to Meta is made, but which kinds the
/// instance offers is read from its apps' settings.
async fn links_connector(config: &Config) -> anyhow::Result<(Store, Connector)> {
    if config.demo {
        anyhow::bail!(
            "demo mode's fake Instagram exists only inside `freshtoken serve --demo`: make links in its dashboard"
        );
    }
    let store = open_store(config).await?;
    store.migrate().await?;
    let meta = meta_clients(config, &config.public_url_for(config.bind))?;
    let connector = Connector::new(store.clone(), Arc::new(meta));
    Ok((store, connector))
}

/// `admin add-member`: the user (made if new) gets `role` in the workspace (made if new).
async fn add_member(config: &Config, slug: &str, email: &str, role: Role) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    store.migrate().await?;
    let tenant = tenant_by_slug(&store, slug).await?;
    let user = user_by_email(&store, email).await?;
    match store.memberships().role_of(tenant.id, user.id).await? {
        Some(current) if current == role => {
            println!(
                "{} is {role} of workspace {} already",
                user.email, tenant.slug
            );
            return Ok(());
        }
        Some(Role::Owner) if store.memberships().owner_count(tenant.id).await? <= 1 => {
            anyhow::bail!(
                "{} is the only owner of workspace {}: make someone else owner first",
                user.email,
                tenant.slug
            );
        }
        Some(_) => {
            store
                .memberships()
                .set_role(tenant.id, user.id, role)
                .await?
        }
        None => store.memberships().add(tenant.id, user.id, role).await?,
    }
    println!("{} is {role} of workspace {}", user.email, tenant.slug);
    Ok(())
}

/// `--owner EMAIL` of the imports: that user owns the workspace.
async fn make_owner(config: &Config, slug: &str, email: Option<&str>) -> anyhow::Result<()> {
    match email {
        Some(email) => add_member(config, slug, email, Role::Owner).await,
        None => Ok(()),
    }
}

/// The user with this address, created with a generated password (printed) if there is none.
async fn user_by_email(store: &Store, email: &str) -> anyhow::Result<freshtoken_store::User> {
    if let Some(user) = store.users().by_email(email).await? {
        return Ok(user);
    }
    if !freshtoken_core::is_email_address(email) {
        anyhow::bail!("--email {email:?} is not an e-mail address");
    }
    let (password, _) = password_to_set(false)?;
    let user = store
        .users()
        .sign_up(SignUp {
            email: email.trim().to_owned(),
            password_hash: password::hash(&password).map_err(|err| anyhow::anyhow!("{err}"))?,
            name: String::new(),
            mode: None,
            operator: false,
            joining: Joining::Nowhere,
        })
        .await
        .with_context(|| format!("cannot create {email}"))?
        .map_err(|refused| anyhow::anyhow!("cannot create {email}: {refused}"))?
        .user;
    println!(
        "created user {} (id {}), password: {password}",
        user.email, user.id
    );
    Ok(user)
}

async fn rotate_key(config: &Config, retire: bool) -> anyhow::Result<()> {
    if let KeySource::File(file) = &config.keys {
        // Write the new key before re-sealing: a running server follows the file, so it
        // writes under the new key from now on and can read what we re-seal.
        let current = file.load_or_create()?;
        let rotated = KeyFile::rotated(&current, SecretKey::generate());
        file.write(&rotated)?;
        println!(
            "new key {} written to {} (previous keys kept to decrypt)",
            rotated.primary_id(),
            file.path().display()
        );
    }
    let store = open_store(config).await?;
    store.migrate().await?;
    let primary = store.keys().current().primary_id().to_owned();
    let report = store.tokens().rekey(REKEY_BATCH).await?;
    println!(
        "re-encrypted {} token(s) under key {primary}; {} changed meanwhile and were already current",
        report.resealed, report.skipped
    );
    let hooks = store.webhooks().rekey(REKEY_BATCH).await?;
    let links = store.connect_links().rekey().await?;
    println!(
        "re-encrypted {} webhook signing secret(s) under key {primary}",
        hooks.resealed
    );
    if links.resealed > 0 {
        println!(
            "re-encrypted {} reconnect link(s) under key {primary}",
            links.resealed
        );
    }
    let tokens_by_key = store.tokens().count_by_key().await?;
    let secrets_by_key = store.webhooks().count_by_key().await?;
    let links_by_key = store.connect_links().count_by_key().await?;
    let mut in_use: Vec<String> = tokens_by_key
        .iter()
        .chain(&secrets_by_key)
        .chain(&links_by_key)
        .map(|(key_id, _)| key_id.clone())
        .collect();
    in_use.sort();
    in_use.dedup();
    let count = |counts: &[(String, i64)], key_id: &str| {
        counts
            .iter()
            .find(|(id, _)| id == key_id)
            .map_or(0, |(_, n)| *n)
    };
    for key_id in &in_use {
        println!(
            "key {key_id}: {} token(s), {} webhook secret(s), {} reconnect link(s)",
            count(&tokens_by_key, key_id),
            count(&secrets_by_key, key_id),
            count(&links_by_key, key_id)
        );
    }
    if retire {
        let KeySource::File(file) = &config.keys else {
            anyhow::bail!(
                "--retire edits the key file; with FRESHTOKEN_SECRET_KEY, remove unused keys from FRESHTOKEN_PREVIOUS_SECRET_KEYS yourself"
            );
        };
        // A key still sealing anything, token, webhook secret or reconnect link, stays.
        let keyring = file.load()?;
        let kept = keyring.retire_unused(&in_use);
        let retired = keyring.previous_ids().len() - kept.previous_ids().len();
        file.write(&kept)?;
        println!("retired {retired} unused previous key(s)");
    }
    Ok(())
}

/// The password to set: the first line of standard input, or a generated one (printed).
fn password_to_set(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        password::check_rules(&password).map_err(|problem| anyhow::anyhow!(problem))?;
        Ok((password, false))
    } else {
        let mut bytes = [0u8; 15];
        getrandom::getrandom(&mut bytes)?;
        Ok((
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            true,
        ))
    }
}

async fn create_user(
    config: &Config,
    email: &str,
    name: &str,
    operator: bool,
    tenant: Option<&str>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (password, generated) = password_to_set(password_stdin)?;
    let store = open_store(config).await?;
    store.migrate().await?;
    let joining = match tenant {
        Some(slug) => Joining::Workspace {
            tenant_id: tenant_by_slug(&store, slug).await?.id,
        },
        None => Joining::Nowhere,
    };
    // The store decides whether this is the instance's first user (then an operator) under
    // the same lock as sign-ups from the web.
    let signed_up = store
        .users()
        .sign_up(SignUp {
            email: email.to_owned(),
            password_hash: password::hash(&password).map_err(|err| anyhow::anyhow!("{err}"))?,
            name: name.to_owned(),
            mode: None,
            operator,
            joining,
        })
        .await
        .with_context(|| format!("cannot create {email}"))?
        .map_err(|refused| anyhow::anyhow!("cannot create {email}: {refused}"))?;
    let user = signed_up.user;
    if let Some(tenant) = signed_up.tenant {
        println!("{} owns workspace {}", user.email, tenant.slug);
    }
    println!(
        "created user {} (id {}){}",
        user.email,
        user.id,
        if user.is_operator { ", operator" } else { "" }
    );
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

async fn reset_password(config: &Config, email: &str, password_stdin: bool) -> anyhow::Result<()> {
    let (password, generated) = password_to_set(password_stdin)?;
    let store = open_store(config).await?;
    let user = store
        .users()
        .by_email(email)
        .await?
        .with_context(|| format!("no user with the e-mail address {email}"))?;
    store
        .users()
        .set_password_hash(
            user.id,
            password::hash(&password).map_err(|err| anyhow::anyhow!("{err}"))?,
        )
        .await?;
    let ended = store.sessions().delete_for_user(user.id).await?;
    println!("password of {} reset; {ended} session(s) ended", user.email);
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instatokend_config_with_comments_is_read() {
        let text = r#"{
  "port": "8080",
  "refresh_freq": "daily", // daily, weekly, monthly, test(every 5 minutes)
  "my-instagram-1": {
    "token": "IGAA//not-a-comment"
  },
  "my-instagram-2": { "token": "IGAAsecond" }
}"#;
        let parsed = parse_instatokend(text).unwrap();
        assert_eq!(parsed.interval, RefreshInterval::Daily);
        assert_eq!(
            parsed.accounts,
            vec![
                (
                    "my-instagram-1".to_owned(),
                    "IGAA//not-a-comment".to_owned()
                ),
                ("my-instagram-2".to_owned(), "IGAAsecond".to_owned()),
            ]
        );
    }

    #[test]
    fn a_config_that_is_not_instatokends_is_refused_with_the_reason() {
        for (text, expected) in [
            ("[]", "expected a JSON object"),
            (
                r#"{"refresh_freq": "hourly", "a": {"token": "x"}}"#,
                "hourly",
            ),
            (r#"{"a": {"tok": "x"}}"#, "\"a\""),
            (r#"{"port": "8080"}"#, "names no account"),
        ] {
            let err = format!("{:#}", parse_instatokend(text).unwrap_err());
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
