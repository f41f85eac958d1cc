//! `freshtoken migrate` and `freshtoken admin ...`: operator tasks that run beside a live
//! service.

use anyhow::Context;
use freshtoken_store::{KeyFile, SecretKey};

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
