//! The freshtoken program: command line, configuration, and the wiring of the library crates
//! into processes (`serve`, `migrate`, `admin`).
//!
//! Nothing here holds business logic: it reads the configuration once, builds the store and
//! the router, and runs them until a signal asks it to stop.

mod admin;
mod background;
pub mod cli;
pub mod config;
mod fake;
mod healthcheck;
mod logging;
pub mod server;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AdminCommand, Cli, Command};
use crate::config::Config;

/// The multi-threaded runtime every command runs on.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("freshtoken: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        })
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Needs no configuration: an operator runs it before there is any.
    if let Some(Command::Admin(AdminCommand::GenerateKey)) = cli.command {
        println!(
            "{}",
            freshtoken_store::SecretKey::generate().to_base64().as_str()
        );
        return ExitCode::SUCCESS;
    }
    // These need none of the service's configuration: only an address.
    if let Some(Command::Healthcheck { bind }) = &cli.command {
        return healthcheck::run(bind);
    }
    if let Some(Command::FakeInstagram(args)) = &cli.command {
        return fake::run(args);
    }
    let config = match Config::from_settings(cli.settings()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("freshtoken: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = logging::init(config.log_format, &config.log_filter) {
        eprintln!("freshtoken: {err}");
        return ExitCode::from(2);
    }
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    // A service's end goes to its log (a collector reads JSON); a command's, to the person who
    // ran it, as one plain line. Never both: one line per fatal error.
    let service = matches!(
        cli.command,
        None | Some(Command::Serve(_) | Command::Web(_) | Command::Worker(_))
    );
    let result = runtime.block_on(async {
        match cli.command {
            None | Some(Command::Serve(_)) => server::run(config, server::Mode::Serve).await,
            Some(Command::Web(_)) => server::run(config, server::Mode::Web).await,
            Some(Command::Worker(_)) => server::run(config, server::Mode::Worker).await,
            Some(Command::Migrate(_)) => admin::migrate(&config).await,
            Some(Command::Admin(admin)) => admin::run(&config, admin).await,
            Some(Command::FakeInstagram(_) | Command::Healthcheck { .. }) => {
                unreachable!("handled before the configuration is read")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if service {
                tracing::error!(
                    error = format!("{err:#}"),
                    "freshtoken stopped with an error"
                );
            } else {
                eprintln!("freshtoken: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}
