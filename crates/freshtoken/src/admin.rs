//! `freshtoken migrate` and `freshtoken admin ...`: operator tasks that run beside a live
//! service.

use anyhow::Context;
use base64::Engine;
use freshtoken_core::Role;
use freshtoken_store::{KeyFile, NewUser, SecretKey};
use freshtoken_web::auth::password;

use crate::cli::AdminCommand;
use crate::config::{Config, KeySource};
use crate::server::open_store;

/// How many tokens are re-sealed per database round trip.
const REKEY_BATCH: u64 = 500;

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let pending = store.readiness().await?.pending_migrations;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    println!("database is up to date ({pending} migration(s) applied)");
    Ok(())
}

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::GenerateKey => unreachable!("handled before the configuration is read"),
        AdminCommand::RotateKey { retire } => rotate_key(config, retire).await,
        AdminCommand::CreateUser {
            email,
            name,
            operator,
            tenant,
            password_stdin,
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
        } => reset_password(config, &email, password_stdin).await,
    }
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
    let in_use = store.tokens().count_by_key().await?;
    for (key_id, count) in &in_use {
        println!("key {key_id}: {count} token(s)");
    }
    if retire {
        let KeySource::File(file) = &config.keys else {
            anyhow::bail!(
                "--retire edits the key file; with FRESHTOKEN_SECRET_KEY, remove unused keys from FRESHTOKEN_PREVIOUS_SECRET_KEYS yourself"
            );
        };
        let used: Vec<String> = in_use.into_iter().map(|(key_id, _)| key_id).collect();
        let keyring = file.load()?;
        let kept = keyring.retire_unused(&used);
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
    let first = store.users().count().await? == 0;
    let user = store
        .users()
        .create(NewUser {
            email: email.to_owned(),
            password_hash: password::hash(&password).map_err(|err| anyhow::anyhow!("{err}"))?,
            name: name.to_owned(),
            is_operator: operator || first,
        })
        .await
        .with_context(|| format!("cannot create {email}"))?;
    if let Some(slug) = tenant {
        let tenant = match store.tenants().by_slug(slug).await? {
            Some(tenant) => tenant,
            None => store.tenants().create(slug, slug).await?,
        };
        store
            .memberships()
            .add(tenant.id, user.id, Role::Owner)
            .await?;
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
