//! The command line. Every setting is a flag and a `FRESHTOKEN_*` variable (clap's `env`);
//! flags win over the environment, which wins over the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use freshtoken_core::{AccountKind, Role};

#[derive(Debug, Parser)]
#[command(
    name = "freshtoken",
    version,
    about = "Keeps Instagram access tokens fresh, for many tenants."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// `serve`'s settings, for `freshtoken` alone (each command has its own).
    #[command(flatten, next_help_heading = "Service options")]
    pub settings: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The settings of the command given, or of `serve` when none is.
    pub fn settings(&self) -> &Settings {
        self.command
            .as_ref()
            .and_then(Command::settings)
            .unwrap_or(&self.settings)
    }
}

/// The service's settings, after a command's own options in its help.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(flatten, next_help_heading = "Service options")]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: web and background worker in one process (applies migrations first).
    Serve(ServiceArgs),
    /// Run only the web side (API, dashboard, token URLs); scale it out beside `worker`s.
    Web(ServiceArgs),
    /// Run only the background worker (refreshes, notifications, media sync), with /healthz
    /// and /readyz at `--bind` (and /metrics at `--metrics-bind`). Any number of them may share
    /// one PostgreSQL database.
    Worker(ServiceArgs),
    /// Apply pending database migrations and exit. Running it twice is harmless.
    Migrate(ServiceArgs),
    /// Exit 0 if the process serving at `--bind` is ready (`GET /readyz` answers 200), 1 if
    /// not: a container health check that needs no HTTP client in the image.
    Healthcheck {
        /// The address and port the process serves at.
        #[arg(long, env = "FRESHTOKEN_BIND", default_value = DEFAULT_BIND)]
        bind: String,
    },
    /// Run a fake Instagram, Threads and Facebook (for demos and load tests) at `--bind`,
    /// seeded with demo users; `/__fake/*` controls it (docs/fake-instagram.md).
    FakeInstagram(FakeArgs),
    /// Operator tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
}

impl Command {
    /// The service's settings, for the commands that read them.
    fn settings(&self) -> Option<&Settings> {
        match self {
            Command::Serve(args)
            | Command::Web(args)
            | Command::Worker(args)
            | Command::Migrate(args) => Some(&args.settings),
            Command::Admin(admin) => admin.settings(),
            Command::Healthcheck { .. } | Command::FakeInstagram(_) => None,
        }
    }
}

/// `fake-instagram`'s options.
#[derive(Debug, Args)]
pub struct FakeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "FRESHTOKEN_BIND", default_value = DEFAULT_BIND)]
    pub bind: String,
    /// Added to every answer, to model a distant server.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    #[command(flatten)]
    pub logs: LogArgs,
}

/// How every process logs.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log lines: pretty (coloured on a terminal; `human` is another name for it), plain
    /// (never coloured) or json (one object per line, for log collectors).
    #[arg(
        long,
        env = "FRESHTOKEN_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        hide_possible_values = true
    )]
    pub log_format: LogFormat,
    /// What to log, as tracing filter directives, e.g. `info` or `info,freshtoken_web=debug`.
    #[arg(long, env = "FRESHTOKEN_LOG", default_value = "info")]
    pub log: String,
}

/// Where the service listens unless told otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print a new random secret key (base64), for FRESHTOKEN_SECRET_KEY.
    GenerateKey,
    /// Create a user (for instances whose sign-up is closed); prints a generated password.
    CreateUser {
        /// The user's e-mail address, which they sign in with.
        #[arg(long)]
        email: String,
        /// The name shown beside it (optional).
        #[arg(long, default_value = "")]
        name: String,
        /// Make the user an operator of this instance (the first user always is).
        #[arg(long)]
        operator: bool,
        /// Make the user an owner of this workspace (by slug), creating it if needed.
        #[arg(long)]
        tenant: Option<String>,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Set a new password for a user (e.g. an operator locked out), ending their sessions.
    ResetPassword {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Re-encrypt every stored token under the current key, while the service runs.
    ///
    /// With the key file of the default setup, this first writes a new key into the file (the
    /// old ones stay, to decrypt). With FRESHTOKEN_SECRET_KEY, set the new key there and the
    /// old one in FRESHTOKEN_PREVIOUS_SECRET_KEYS first, then run this.
    RotateKey {
        /// Also drop from the key file the previous keys that no token needs any more.
        #[arg(long)]
        retire: bool,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Connect an account from a token you already have (verified with its platform first)
    /// and print its token URLs. Creates the workspace if it does not exist. A Facebook user
    /// token connects each of its Pages and prints one set of URLs per Page.
    ImportToken {
        /// The workspace (by slug).
        #[arg(long)]
        tenant: String,
        /// The access token; `-` reads it from the first line of standard input, which keeps
        /// it out of the process list and shell history.
        #[arg(long)]
        token: String,
        /// What the token is for: instagram, facebook-page (a Facebook user token or a Page
        /// token) or threads. Default: what the token's text says (IG..., TH..., EAA...),
        /// else instagram; a token that says another kind is refused.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<AccountKind>,
        /// With a Facebook user token: connect only this Page (by id).
        #[arg(long)]
        page: Option<String>,
        /// The account's label in the dashboard.
        #[arg(long)]
        label: Option<String>,
        /// An origin allowed to load the token (repeatable), e.g. https://example.com or
        /// https://*.example.com.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Make this user (by e-mail) an owner of the workspace, creating the user if needed
        /// (with a generated password, printed).
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Make a connect link and print its address (it contains /c/): whoever opens it connects
    /// their account into the workspace, without an account here, and the account gets the
    /// settings given here. Creates the workspace if it does not exist.
    ConnectLink {
        /// The workspace (by slug).
        #[arg(long)]
        tenant: String,
        /// What it connects: instagram (default), facebook-page or threads.
        #[arg(long, value_parser = parse_kind)]
        kind: Option<AccountKind>,
        /// Whom the link is for; also the connected account's label.
        #[arg(long)]
        label: Option<String>,
        /// An origin allowed to load the connected account's token (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// The account owner's e-mail: told, with a reconnect link, when the account needs
        /// them again.
        #[arg(long)]
        owner_email: Option<String>,
        /// Let the link connect any number of accounts until it expires (default: one).
        #[arg(long)]
        reusable: bool,
        /// How long the link works: 7d (default) up to 30d, or hours such as 12h.
        #[arg(long, default_value = "7d", value_parser = parse_link_lifetime)]
        expires_in: chrono::Duration,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Add a user to a workspace with a role (or change their role there), creating the user
    /// if needed (with a generated password, printed) and the workspace too.
    AddMember {
        /// The workspace (by slug).
        #[arg(long)]
        tenant: String,
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// owner, editor or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Refresh an account's token now (check it, for a Facebook Page), by account id, on
    /// whichever worker takes the job. A token younger than 24 hours is scheduled for when
    /// its platform allows it.
    Refresh {
        /// The account's id (the number in its dashboard address, and what the imports print).
        account_id: i64,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Import every account of an instatokend config.json (`{"name": {"token": "..."}}`): the
    /// name becomes the label, `refresh_freq` the refresh interval.
    ImportInstatokend {
        /// instatokend's config.json.
        config: PathBuf,
        /// The workspace (by slug), created if it does not exist.
        #[arg(long)]
        tenant: String,
        /// An origin allowed to load the imported tokens (repeatable), e.g.
        /// https://example.com: the sites that use them.
        #[arg(long = "origin", conflicts_with = "public")]
        origins: Vec<String>,
        /// Serve the imported tokens to every site and tool, as instatokend did: anyone who
        /// learns a URL gets the token. Without this or --origin, only API keys get them.
        #[arg(long)]
        public: bool,
        /// Make this user (by e-mail) an owner of the workspace, creating the user if needed
        /// (with a generated password, printed).
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Write every user, workspace, account and token (still encrypted) to a JSON file, to
    /// move the instance to another database with `admin import` (e.g. SQLite to PostgreSQL).
    /// The file holds password hashes: keep it as safe as the database.
    Export {
        /// Where to write (created with permissions 0600, never over an existing file), or `-`
        /// for standard output.
        #[arg(long, short)]
        output: PathBuf,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
    /// Read an `admin export` file into this database, which must have no users yet. Needs the
    /// secret key the tokens were sealed with (FRESHTOKEN_SECRET_KEY, or the previous keys).
    Import {
        /// The file `admin export` wrote, or `-` for standard input.
        file: PathBuf,
        #[command(flatten, next_help_heading = "Service options")]
        settings: Settings,
    },
}

impl AdminCommand {
    /// The service's settings (all but `generate-key` read them).
    fn settings(&self) -> Option<&Settings> {
        match self {
            AdminCommand::GenerateKey => None,
            AdminCommand::CreateUser { settings, .. }
            | AdminCommand::ResetPassword { settings, .. }
            | AdminCommand::RotateKey { settings, .. }
            | AdminCommand::ImportToken { settings, .. }
            | AdminCommand::ConnectLink { settings, .. }
            | AdminCommand::AddMember { settings, .. }
            | AdminCommand::Refresh { settings, .. }
            | AdminCommand::ImportInstatokend { settings, .. }
            | AdminCommand::Export { settings, .. }
            | AdminCommand::Import { settings, .. } => Some(settings),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Readable lines, coloured when written to a terminal (`human` is another name for it).
    #[value(alias = "human")]
    Pretty,
    /// The same lines, never coloured.
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The settings shared by every command.
#[derive(Debug, Args)]
pub struct Settings {
    /// Where the default SQLite database and the generated secret key live.
    #[arg(long, env = "FRESHTOKEN_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// The built dashboard (`cargo dashboard` writes it to frontend/dist); without one, `/`
    /// says how to build it and the API works regardless.
    #[arg(
        long,
        env = "FRESHTOKEN_DASHBOARD_DIR",
        default_value = freshtoken_web::dashboard::DEFAULT_DIR
    )]
    pub dashboard_dir: PathBuf,

    /// Address and port to listen on.
    #[arg(
        long,
        env = "FRESHTOKEN_BIND",
        default_value = DEFAULT_BIND
    )]
    pub bind: String,

    /// A second address and port that serves `/metrics` and nothing else, e.g. 127.0.0.1:9464,
    /// for Prometheus on a private network. Without it (and without a metrics token) no
    /// listener serves `/metrics`.
    #[arg(long, env = "FRESHTOKEN_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// A secret of at least 32 characters that scrapers send as `Authorization: Bearer`; it is
    /// then required for `/metrics`, which the main listener serves when no metrics listener is
    /// set. For hosts that can open one port only. Prefer the variable: flags show in `ps`.
    #[arg(long, env = "FRESHTOKEN_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// The address people reach this service at (scheme, host, port), e.g.
    /// https://tokens.example.com. Defaults to http:// and the bind address.
    #[arg(long, env = "FRESHTOKEN_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// postgres://user:pass@host/db for PostgreSQL, or sqlite://path?mode=rwc. `DATABASE_URL`
    /// is read too. Defaults to a SQLite file in the data directory.
    #[arg(long, env = "FRESHTOKEN_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The PostgreSQL password, kept out of the database URL: it may hold any character
    /// (`/`, `+`, `=`, `@` of a generated secret) and replaces a password the URL has.
    #[arg(long, env = "FRESHTOKEN_DATABASE_PASSWORD", hide_env_values = true)]
    pub database_password: Option<String>,

    /// The key that encrypts tokens at rest: 32 bytes, base64. Required with PostgreSQL;
    /// with SQLite and no key, one is generated into the data directory.
    #[arg(long, env = "FRESHTOKEN_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Earlier keys, comma-separated, still needed to decrypt tokens sealed before a rotation.
    #[arg(
        long,
        env = "FRESHTOKEN_PREVIOUS_SECRET_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub previous_secret_keys: Vec<String>,

    /// Who may sign up: `open` (anyone), `invite` (with an invitation link) or `closed`
    /// (only `freshtoken admin create-user`). The first user of a fresh instance always may.
    #[arg(long, env = "FRESHTOKEN_SIGNUP", default_value = "open")]
    pub signup: String,

    /// A signed-in session ends after this long without a request (e.g. 12h, 7d).
    #[arg(long, env = "FRESHTOKEN_SESSION_IDLE", default_value = "7d")]
    pub session_idle: String,

    /// A session ends this long after sign-in, however active (e.g. 30d).
    #[arg(long, env = "FRESHTOKEN_SESSION_MAX_AGE", default_value = "30d")]
    pub session_max_age: String,

    /// Sign-ups one client address may make in ten minutes (0: no limit). Over it, 429 with
    /// Retry-After.
    #[arg(
        long,
        env = "FRESHTOKEN_SIGNUP_LIMIT_PER_ADDRESS",
        default_value_t = freshtoken_web::throttle::DEFAULT_SIGNUPS_PER_ADDRESS
    )]
    pub signup_limit_per_address: u32,

    /// Demo mode: run a fake Instagram inside the process and connect to it instead of the
    /// real one, so the whole flow can be tried without a Meta app. Never for real accounts.
    #[arg(
        long,
        env = "FRESHTOKEN_DEMO",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub demo: bool,

    /// The Instagram app ID (Meta App Dashboard, Instagram > API setup with Instagram login).
    #[arg(long, env = "FRESHTOKEN_INSTAGRAM_CLIENT_ID")]
    pub instagram_client_id: Option<String>,

    /// The Instagram app secret: exchanges tokens and verifies Meta's callbacks.
    #[arg(
        long,
        env = "FRESHTOKEN_INSTAGRAM_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub instagram_client_secret: Option<String>,

    /// Where Instagram's authorize page is (www.instagram.com); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_INSTAGRAM_OAUTH_URL",
        default_value = "https://www.instagram.com"
    )]
    pub instagram_oauth_url: String,

    /// Where Instagram's code exchange is (api.instagram.com); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_INSTAGRAM_API_URL",
        default_value = "https://api.instagram.com"
    )]
    pub instagram_api_url: String,

    /// Where Instagram's Graph API is (graph.instagram.com); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_INSTAGRAM_GRAPH_URL",
        default_value = "https://graph.instagram.com"
    )]
    pub instagram_graph_url: String,

    /// The Threads app's client ID (Meta App Dashboard, Threads use case); offers "Connect
    /// Threads".
    #[arg(long, env = "FRESHTOKEN_THREADS_CLIENT_ID")]
    pub threads_client_id: Option<String>,

    /// The Threads app's client secret: exchanges and checks Threads tokens.
    #[arg(long, env = "FRESHTOKEN_THREADS_CLIENT_SECRET", hide_env_values = true)]
    pub threads_client_secret: Option<String>,

    /// Where Threads' authorize page is (threads.net); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_THREADS_OAUTH_URL",
        default_value = "https://threads.net"
    )]
    pub threads_oauth_url: String,

    /// Where Threads' Graph API is (graph.threads.net); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_THREADS_GRAPH_URL",
        default_value = "https://graph.threads.net"
    )]
    pub threads_graph_url: String,

    /// The Facebook app's ID (Meta App Dashboard, Facebook Login); offers "Connect Facebook
    /// Page".
    #[arg(long, env = "FRESHTOKEN_FACEBOOK_APP_ID")]
    pub facebook_app_id: Option<String>,

    /// The Facebook app's secret: exchanges user tokens and checks Page tokens (debug_token).
    #[arg(long, env = "FRESHTOKEN_FACEBOOK_APP_SECRET", hide_env_values = true)]
    pub facebook_app_secret: Option<String>,

    /// Where Facebook Login's dialog is (www.facebook.com); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_FACEBOOK_OAUTH_URL",
        default_value = "https://www.facebook.com"
    )]
    pub facebook_oauth_url: String,

    /// Where Facebook's Graph API is (graph.facebook.com); for tests and proxies.
    #[arg(
        long,
        env = "FRESHTOKEN_FACEBOOK_GRAPH_URL",
        default_value = "https://graph.facebook.com"
    )]
    pub facebook_graph_url: String,

    /// How often the worker checks each Facebook Page token with Facebook (Page tokens do not
    /// expire, but die when the user changes a password or loses the Page), e.g. `24h`.
    #[arg(long, env = "FRESHTOKEN_PAGE_CHECK_INTERVAL", default_value = "24h")]
    pub page_check_interval: String,

    /// How often the worker looks for due refreshes, notifications and media syncs, e.g.
    /// `1s`, `5m` [default: 60s; 5s in demo mode, so that its scenes play out quickly]
    #[arg(long, env = "FRESHTOKEN_SCHEDULER_INTERVAL")]
    pub scheduler_interval: Option<String>,

    /// Refresh jobs one worker process runs at once.
    #[arg(long, env = "FRESHTOKEN_WORKER_CONCURRENCY", default_value_t = 64)]
    pub worker_concurrency: usize,

    /// How long a worker holds an account it is refreshing. A crashed worker's accounts are
    /// taken up by another once this runs out.
    #[arg(long, env = "FRESHTOKEN_WORKER_LEASE", default_value = "5m")]
    pub worker_lease: String,

    /// For tests and the demo only: take the refresh engine's "now" from this URL (a fake
    /// Instagram's `GET /__fake/clock`, which answers `{"now": ...}`), re-read on every
    /// scheduler pass, so that the real binary can live through simulated months. Token
    /// policy, the scheduler and retries follow it; sessions, rate limits and HTTP caching stay
    /// on the wall clock.
    #[arg(long, env = "FRESHTOKEN_CLOCK_URL")]
    pub clock_url: Option<String>,

    /// How often idle workers look for jobs (on PostgreSQL they are woken at once anyway).
    #[arg(long, env = "FRESHTOKEN_WORKER_POLL_INTERVAL", default_value = "500ms")]
    pub worker_poll_interval: String,

    /// The SMTP server for e-mail notifications, e.g. smtps://user:pass@smtp.example.com:465
    /// or smtp://localhost:25. Without it, tenants get webhooks only.
    #[arg(long, env = "FRESHTOKEN_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of e-mail notifications. Defaults to freshtoken@ the public URL's host.
    #[arg(long, env = "FRESHTOKEN_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// Hosts webhooks may reach even where they resolve to loopback or private addresses
    /// (comma-separated names, e.g. hooks.intranet,localhost). Otherwise webhooks reach public
    /// addresses only, checked on every connection: a webhook must not be a way into the
    /// instance's own network.
    #[arg(long, env = "FRESHTOKEN_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    pub webhook_allow_hosts: Vec<String>,

    /// Requests a minute one client address may make to the token URLs (0: no limit).
    #[arg(
        long,
        env = "FRESHTOKEN_RATE_LIMIT_PER_ADDRESS",
        default_value_t = freshtoken_web::delivery::DEFAULT_PER_ADDRESS
    )]
    pub rate_limit_per_address: u32,

    /// Requests a minute one account's token URLs answer, per web process (0: no limit).
    #[arg(
        long,
        env = "FRESHTOKEN_RATE_LIMIT_PER_ACCOUNT",
        default_value_t = freshtoken_web::delivery::DEFAULT_PER_ACCOUNT
    )]
    pub rate_limit_per_account: u32,

    /// Reverse proxies (addresses or networks, comma-separated, e.g. 10.0.0.0/8,::1) whose
    /// X-Forwarded-For names the client, for the token URLs' limits and sign-in's and
    /// sign-up's alike. Without it, the peer address is the client.
    #[arg(long, env = "FRESHTOKEN_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,

    /// How often each web process writes the token URLs' request counts to the database.
    #[arg(
        long,
        env = "FRESHTOKEN_REQUEST_COUNTS_INTERVAL",
        default_value = "30s"
    )]
    pub request_counts_interval: String,

    /// How many accounts' token URL answers each web process keeps in memory (about 1 kB
    /// each); others are read from the database when asked for.
    #[arg(
        long,
        env = "FRESHTOKEN_DELIVERY_CACHE_ENTRIES",
        default_value_t = freshtoken_web::delivery::DEFAULT_CACHE_ENTRIES
    )]
    pub delivery_cache_entries: usize,

    #[command(flatten)]
    pub logs: LogArgs,
}

/// `--role`: `owner`, `editor` or `viewer`.
fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
        .map_err(|_| format!("expected owner, editor or viewer, got {text:?}"))
}

/// `7d`, `30d`, `12h`: how long a connect link works.
fn parse_link_lifetime(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let wrong = || format!("expected a number of days or hours such as 7d or 12h, got {text:?}");
    let (number, in_days) = match (text.strip_suffix('d'), text.strip_suffix('h')) {
        (Some(days), _) => (days, true),
        (None, Some(hours)) => (hours, false),
        (None, None) => return Err(wrong()),
    };
    let amount: i64 = number.parse().map_err(|_| wrong())?;
    if amount <= 0 {
        return Err(format!("a link must work for some time, got {text:?}"));
    }
    let lifetime = if in_days {
        chrono::Duration::try_days(amount)
    } else {
        chrono::Duration::try_hours(amount)
    };
    lifetime.ok_or_else(wrong)
}

/// `--kind`: `instagram`, `facebook-page` (or `facebook_page`, as JSON spells it), `threads`.
fn parse_kind(text: &str) -> Result<AccountKind, String> {
    AccountKind::from_cli(text)
        .map_err(|_| format!("expected instagram, facebook-page or threads, got {text:?}"))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    /// What `freshtoken ARGS --help` prints.
    fn help(args: &[&str]) -> String {
        let mut argv = vec!["freshtoken"];
        argv.extend_from_slice(args);
        argv.push("--help");
        match Cli::try_parse_from(argv) {
            Err(err) if err.kind() == clap::error::ErrorKind::DisplayHelp => err.to_string(),
            other => panic!("{args:?} --help: {other:?}"),
        }
    }

    #[test]
    fn every_flag_and_argument_of_every_command_says_what_it_is() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no description)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "freshtoken", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }

    #[test]
    fn the_fake_instagrams_help_fits_on_one_screen_without_the_services_options() {
        let text = help(&["fake-instagram"]);
        assert!(text.lines().count() <= 25, "{text}");
        assert!(text.contains("--latency-ms"), "{text}");
        assert!(!text.contains("--database-url"), "{text}");
        let text = help(&["healthcheck"]);
        assert!(text.lines().count() <= 25, "{text}");
    }

    #[test]
    fn a_commands_own_options_come_before_the_services() {
        let text = help(&["admin", "import-token"]);
        let own = text.find("--tenant").unwrap();
        let service = text.find("Service options:").unwrap();
        assert!(own < service, "{text}");
        assert!(
            text.contains("--database-url"),
            "it reads the database: {text}"
        );
        let text = help(&["serve"]);
        assert!(
            text.contains("Service options:") && text.contains("--demo"),
            "{text}"
        );
    }

    #[test]
    fn settings_belong_to_the_command_they_follow() {
        let cli = Cli::try_parse_from(["freshtoken", "serve", "--demo"]).unwrap();
        assert!(cli.settings().demo);
        let cli = Cli::try_parse_from(["freshtoken", "--demo"]).unwrap();
        assert!(cli.settings().demo);
        // Before a command, they would be silently ignored: refused instead.
        assert!(Cli::try_parse_from(["freshtoken", "--demo", "serve"]).is_err());
    }
}
