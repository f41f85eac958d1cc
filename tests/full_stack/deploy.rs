//! The Docker setup's files against the program: every `FRESHTOKEN_*` variable that the compose
//! file, the image or `.env.example` sets is one the configuration reads, every one it reads is
//! documented in `.env.example`, and the example, filled in as its comments ask, starts.

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;

use crate::support::{freshtoken, run};

fn workspace_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Every `FRESHTOKEN_*` name in a text.
fn variables_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("FRESHTOKEN_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        // `FRESHTOKEN_*` in prose names the family, not a variable.
        if name.len() > "FRESHTOKEN_".len() {
            found.insert(name);
        }
    }
    found
}

/// The variables the program reads, from its own command-line definition.
fn known_variables() -> BTreeSet<String> {
    freshtoken::cli::Cli::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_docker_files_set_only_variables_the_configuration_reads() {
    let known = known_variables();
    assert!(known.contains("FRESHTOKEN_SECRET_KEY"), "{known:?}");
    for file in ["docker-compose.yml", "Dockerfile", ".env.example"] {
        let unknown: Vec<_> = variables_in(&workspace_file(file))
            .into_iter()
            .filter(|name| !known.contains(name))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} sets unknown variables {unknown:?}"
        );
    }
}

#[test]
fn the_env_example_documents_every_variable() {
    let documented = variables_in(&workspace_file(".env.example"));
    let missing: Vec<_> = known_variables()
        .into_iter()
        .filter(|name| !documented.contains(name))
        .collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[tokio::test]
async fn the_env_example_filled_in_as_it_asks_gives_a_working_configuration() {
    let database = freshtoken_store::testing::TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = freshtoken(dir.path());
    for line in workspace_file(".env.example").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').expect("NAME=value");
        command.env(name, value);
    }
    // What the compose file and the operator add.
    command
        .env("FRESHTOKEN_DATABASE_URL", &database.url)
        .env(
            "FRESHTOKEN_SECRET_KEY",
            freshtoken_store::SecretKey::generate().to_base64().as_str(),
        )
        .env(
            "FRESHTOKEN_TRUSTED_PROXIES",
            "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
        )
        .arg("migrate");
    let output = run(&mut command);
    assert!(output.status.success(), "{output:?}");
}
