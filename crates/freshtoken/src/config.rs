//! The one typed configuration, built from [`Settings`] and validated before anything listens.
//! Every error names the variable (and flag) at fault and what was expected.

use std::net::SocketAddr;
use std::time::Duration;

use freshtoken_core::{SignupMode, parse_duration};
use freshtoken_egress::AllowedHosts;
use std::path::PathBuf;

use freshtoken_store::{KeyFile, Keyring, SecretKey};
use freshtoken_web::client_address::Network;
use freshtoken_web::delivery::DeliveryLimits;
use freshtoken_web::metrics::MetricsToken;
use url::Url;

use crate::cli::{LogFormat, Settings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} (--{flag}): {problem}")]
    Invalid {
        var: &'static str,
        flag: &'static str,
        problem: String,
    },
}

fn invalid(var: &'static str, flag: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        flag,
        problem: problem.into(),
    }
}

/// Where the keys that seal tokens come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `FRESHTOKEN_SECRET_KEY` (and previous keys): every process shares it.
    Given(Keyring),
    /// A key file in the data directory, generated on first start (SQLite only).
    File(KeyFile),
}

/// Where one of Meta's platforms is and which app we are to it; the redirect URI follows from
/// the public URL. A platform without an app id and secret is not offered for connecting.
#[derive(Clone)]
pub struct AppSettings {
    pub client_id: String,
    pub client_secret: String,
    pub oauth_url: Url,
    pub api_url: Url,
    pub graph_url: Url,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("client_id", &self.client_id)
            .field("graph_url", &self.graph_url.as_str())
            .finish_non_exhaustive()
    }
}

/// The three Meta apps: Instagram Login, Threads, and Facebook Login (Page tokens).
#[derive(Debug, Clone)]
pub struct MetaSettings {
    pub instagram: AppSettings,
    pub threads: AppSettings,
    pub facebook: AppSettings,
}

/// One app's settings from its flags: credentials that go together, hosts that are URLs.
struct AppFlags<'a> {
    platform: &'static str,
    id: (&'a Option<String>, &'static str, &'static str),
    secret: (&'a Option<String>, &'static str, &'static str),
    oauth: (&'a str, &'static str, &'static str),
    api: (&'a str, &'static str, &'static str),
    graph: (&'a str, &'static str, &'static str),
}

impl AppFlags<'_> {
    fn settings(&self, demo: bool) -> Result<AppSettings, ConfigError> {
        let text = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
        let app = AppSettings {
            client_id: text(self.id.0),
            client_secret: text(self.secret.0),
            oauth_url: host_url(self.oauth.0, self.oauth.1, self.oauth.2)?,
            api_url: host_url(self.api.0, self.api.1, self.api.2)?,
            graph_url: host_url(self.graph.0, self.graph.1, self.graph.2)?,
        };
        if app.client_id.is_empty() != app.client_secret.is_empty() && !demo {
            let (_, var, flag) = if app.client_id.is_empty() {
                self.id
            } else {
                self.secret
            };
            return Err(invalid(
                var,
                flag,
                format!(
                    "the {} app ID and secret go together: set both, or neither",
                    self.platform
                ),
            ));
        }
        Ok(app)
    }
}

/// The database URL, whose password (given in it or by `FRESHTOKEN_DATABASE_PASSWORD`) never
/// shows in `Debug` output.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Url::parse(&self.0) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("redacted"));
                f.write_str(url.as_str())
            }
            Ok(url) => f.write_str(url.as_str()),
            Err(_) => f.write_str("(unparsable URL)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub dashboard_dir: PathBuf,
    pub bind: SocketAddr,
    /// The listener that serves `/metrics` alone (`FRESHTOKEN_METRICS_BIND`).
    pub metrics_bind: Option<SocketAddr>,
    /// Required to read `/metrics` wherever it is served (`FRESHTOKEN_METRICS_TOKEN`).
    pub metrics_token: Option<MetricsToken>,
    /// `None`: derived from the address actually bound (see [`Config::public_url_for`]).
    pub public_url: Option<Url>,
    pub database_url: DatabaseUrl,
    pub keys: KeySource,
    pub signup_mode: SignupMode,
    pub session_idle: Duration,
    pub session_max_age: Duration,
    /// Sign-ups one client address may make in ten minutes (0: no limit).
    pub signup_limit_per_address: u32,
    pub log_format: LogFormat,
    pub log_filter: String,
    /// Instagram is a fake inside the process (`--demo`).
    pub demo: bool,
    /// Meta's platforms and our apps on them.
    pub meta: MetaSettings,
    pub worker: WorkerSettings,
    /// Hosts webhooks may reach at non-public addresses (`FRESHTOKEN_WEBHOOK_ALLOW_HOSTS`).
    pub webhook_allow_hosts: AllowedHosts,
    pub delivery_limits: DeliveryLimits,
    /// Proxies whose `X-Forwarded-For` names the client, for every limit.
    pub trusted_proxies: Vec<Network>,
    pub request_counts_interval: Duration,
}

/// How the background worker runs.
#[derive(Clone)]
pub struct WorkerSettings {
    pub scheduler_interval: Duration,
    /// How often a Facebook Page token is checked with `debug_token`.
    pub page_check_interval: Duration,
    pub concurrency: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    /// Where the engine's "now" comes from, for tests and the demo (`None`: the system clock).
    pub clock_url: Option<Url>,
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field("scheduler_interval", &self.scheduler_interval)
            .field("concurrency", &self.concurrency)
            .field("smtp", &self.smtp_url.is_some())
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_settings(settings: &Settings) -> Result<Config, ConfigError> {
        let bind: SocketAddr = settings.bind.trim().parse().map_err(|_| {
            invalid(
                "FRESHTOKEN_BIND",
                "bind",
                format!(
                    "expected an address and port such as 127.0.0.1:8080, got {:?}",
                    settings.bind
                ),
            )
        })?;

        let metrics_bind = settings
            .metrics_bind
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "FRESHTOKEN_METRICS_BIND",
                        "metrics-bind",
                        format!(
                            "expected an address and port such as 127.0.0.1:9464, got {text:?}"
                        ),
                    )
                })
            })
            .transpose()?;
        if let Some(metrics_bind) = metrics_bind
            && metrics_bind == bind
            && bind.port() != 0
        {
            return Err(invalid(
                "FRESHTOKEN_METRICS_BIND",
                "metrics-bind",
                format!("must differ from FRESHTOKEN_BIND ({bind}): it is a second listener"),
            ));
        }
        let metrics_token = settings
            .metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(MetricsToken::new)
            .transpose()
            .map_err(|problem| invalid("FRESHTOKEN_METRICS_TOKEN", "metrics-token", problem))?;

        let public_url = settings
            .public_url
            .as_deref()
            .map(|text| parse_public_url(text.trim()))
            .transpose()?;

        let database_url = settings
            .database_url
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok())
            .filter(|url| !url.trim().is_empty());
        let database_url = match database_url {
            Some(url) => {
                let url = url.trim().to_owned();
                if !(url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:"))
                {
                    return Err(invalid(
                        "FRESHTOKEN_DATABASE_URL or DATABASE_URL",
                        "database-url",
                        "expected postgres://user:password@host:port/database or sqlite://path?mode=rwc",
                    ));
                }
                url
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                settings.data_dir.join("freshtoken.db").display()
            ),
        };
        let database_url = match settings.database_password.as_deref() {
            Some(password) if !password.is_empty() => with_password(&database_url, password)?,
            _ => database_url,
        };
        let is_sqlite = database_url.starts_with("sqlite:");

        let keys = match settings
            .secret_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
        {
            Some(key) => {
                let primary =
                    SecretKey::from_base64(key, "FRESHTOKEN_SECRET_KEY").map_err(|err| {
                        invalid("FRESHTOKEN_SECRET_KEY", "secret-key", err.to_string())
                    })?;
                let previous = settings
                    .previous_secret_keys
                    .iter()
                    .filter(|key| !key.trim().is_empty())
                    .map(|key| SecretKey::from_base64(key, "FRESHTOKEN_PREVIOUS_SECRET_KEYS"))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|err| {
                        invalid(
                            "FRESHTOKEN_PREVIOUS_SECRET_KEYS",
                            "previous-secret-keys",
                            err.to_string(),
                        )
                    })?;
                KeySource::Given(Keyring::new(primary, previous))
            }
            None if is_sqlite => {
                KeySource::File(KeyFile::new(settings.data_dir.join("secret.key")))
            }
            None => {
                return Err(invalid(
                    "FRESHTOKEN_SECRET_KEY",
                    "secret-key",
                    "required with PostgreSQL, so that every process shares one key; create one with `freshtoken admin generate-key`",
                ));
            }
        };

        let signup_mode: SignupMode = settings.signup.trim().parse().map_err(|_| {
            invalid(
                "FRESHTOKEN_SIGNUP",
                "signup",
                format!("expected open, invite or closed, got {:?}", settings.signup),
            )
        })?;
        let session_idle = parse_duration(&settings.session_idle)
            .map_err(|problem| invalid("FRESHTOKEN_SESSION_IDLE", "session-idle", problem))?;
        let session_max_age = parse_duration(&settings.session_max_age)
            .map_err(|problem| invalid("FRESHTOKEN_SESSION_MAX_AGE", "session-max-age", problem))?;

        let meta = MetaSettings {
            instagram: AppFlags {
                platform: "Instagram",
                id: (
                    &settings.instagram_client_id,
                    "FRESHTOKEN_INSTAGRAM_CLIENT_ID",
                    "instagram-client-id",
                ),
                secret: (
                    &settings.instagram_client_secret,
                    "FRESHTOKEN_INSTAGRAM_CLIENT_SECRET",
                    "instagram-client-secret",
                ),
                oauth: (
                    &settings.instagram_oauth_url,
                    "FRESHTOKEN_INSTAGRAM_OAUTH_URL",
                    "instagram-oauth-url",
                ),
                api: (
                    &settings.instagram_api_url,
                    "FRESHTOKEN_INSTAGRAM_API_URL",
                    "instagram-api-url",
                ),
                graph: (
                    &settings.instagram_graph_url,
                    "FRESHTOKEN_INSTAGRAM_GRAPH_URL",
                    "instagram-graph-url",
                ),
            }
            .settings(settings.demo)?,
            threads: AppFlags {
                platform: "Threads",
                id: (
                    &settings.threads_client_id,
                    "FRESHTOKEN_THREADS_CLIENT_ID",
                    "threads-client-id",
                ),
                secret: (
                    &settings.threads_client_secret,
                    "FRESHTOKEN_THREADS_CLIENT_SECRET",
                    "threads-client-secret",
                ),
                oauth: (
                    &settings.threads_oauth_url,
                    "FRESHTOKEN_THREADS_OAUTH_URL",
                    "threads-oauth-url",
                ),
                // Threads exchanges codes on its Graph host.
                api: (
                    &settings.threads_graph_url,
                    "FRESHTOKEN_THREADS_GRAPH_URL",
                    "threads-graph-url",
                ),
                graph: (
                    &settings.threads_graph_url,
                    "FRESHTOKEN_THREADS_GRAPH_URL",
                    "threads-graph-url",
                ),
            }
            .settings(settings.demo)?,
            facebook: AppFlags {
                platform: "Facebook",
                id: (
                    &settings.facebook_app_id,
                    "FRESHTOKEN_FACEBOOK_APP_ID",
                    "facebook-app-id",
                ),
                secret: (
                    &settings.facebook_app_secret,
                    "FRESHTOKEN_FACEBOOK_APP_SECRET",
                    "facebook-app-secret",
                ),
                oauth: (
                    &settings.facebook_oauth_url,
                    "FRESHTOKEN_FACEBOOK_OAUTH_URL",
                    "facebook-oauth-url",
                ),
                api: (
                    &settings.facebook_graph_url,
                    "FRESHTOKEN_FACEBOOK_GRAPH_URL",
                    "facebook-graph-url",
                ),
                graph: (
                    &settings.facebook_graph_url,
                    "FRESHTOKEN_FACEBOOK_GRAPH_URL",
                    "facebook-graph-url",
                ),
            }
            .settings(settings.demo)?,
        };

        let worker = WorkerSettings {
            scheduler_interval: positive_duration(
                settings
                    .scheduler_interval
                    .as_deref()
                    .unwrap_or(if settings.demo { "5s" } else { "60s" }),
                "FRESHTOKEN_SCHEDULER_INTERVAL",
                "scheduler-interval",
            )?,
            page_check_interval: positive_duration(
                &settings.page_check_interval,
                "FRESHTOKEN_PAGE_CHECK_INTERVAL",
                "page-check-interval",
            )?,
            concurrency: match settings.worker_concurrency {
                1..=10_000 => settings.worker_concurrency,
                other => {
                    return Err(invalid(
                        "FRESHTOKEN_WORKER_CONCURRENCY",
                        "worker-concurrency",
                        format!("expected a number from 1 to 10000, got {other}"),
                    ));
                }
            },
            lease: positive_duration(
                &settings.worker_lease,
                "FRESHTOKEN_WORKER_LEASE",
                "worker-lease",
            )?,
            poll_interval: positive_duration(
                &settings.worker_poll_interval,
                "FRESHTOKEN_WORKER_POLL_INTERVAL",
                "worker-poll-interval",
            )?,
            smtp_url: settings
                .smtp_url
                .as_deref()
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(str::to_owned),
            smtp_from: settings
                .smtp_from
                .as_deref()
                .map(str::trim)
                .filter(|from| !from.is_empty())
                .map(str::to_owned),
            clock_url: settings
                .clock_url
                .as_deref()
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(|text| {
                    Url::parse(text)
                        .ok()
                        .filter(|url| matches!(url.scheme(), "http" | "https"))
                        .ok_or_else(|| {
                            invalid(
                                "FRESHTOKEN_CLOCK_URL",
                                "clock-url",
                                format!("expected an http(s) URL, got {text:?}"),
                            )
                        })
                })
                .transpose()?,
        };

        let trusted_proxies = settings
            .trusted_proxies
            .iter()
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| entry.parse::<Network>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|problem| invalid("FRESHTOKEN_TRUSTED_PROXIES", "trusted-proxies", problem))?;
        if settings.delivery_cache_entries == 0 {
            return Err(invalid(
                "FRESHTOKEN_DELIVERY_CACHE_ENTRIES",
                "delivery-cache-entries",
                "must be at least 1",
            ));
        }
        let delivery_limits = DeliveryLimits {
            per_address: settings.rate_limit_per_address,
            per_account: settings.rate_limit_per_account,
            cache_entries: settings.delivery_cache_entries,
        };
        let webhook_allow_hosts = AllowedHosts::parse(
            settings.webhook_allow_hosts.iter().map(String::as_str),
        )
        .map_err(|err| {
            invalid(
                "FRESHTOKEN_WEBHOOK_ALLOW_HOSTS",
                "webhook-allow-hosts",
                err.to_string(),
            )
        })?;
        let request_counts_interval = positive_duration(
            &settings.request_counts_interval,
            "FRESHTOKEN_REQUEST_COUNTS_INTERVAL",
            "request-counts-interval",
        )?;

        Ok(Config {
            delivery_limits,
            trusted_proxies,
            signup_limit_per_address: settings.signup_limit_per_address,
            request_counts_interval,
            worker,
            webhook_allow_hosts,
            demo: settings.demo,
            meta,
            signup_mode,
            session_idle,
            session_max_age,
            data_dir: settings.data_dir.clone(),
            dashboard_dir: settings.dashboard_dir.clone(),
            bind,
            metrics_bind,
            metrics_token,
            public_url,
            database_url: DatabaseUrl(database_url),
            keys,
            log_format: settings.logs.log_format,
            log_filter: settings.logs.log.clone(),
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.as_str().starts_with("sqlite:")
    }

    /// The public URL: as configured, or http:// and the address actually bound; bound to every
    /// address (0.0.0.0, as in a container), `localhost` and the port, which is where a browser
    /// on the same machine (or a published container port) reaches it.
    pub fn public_url_for(&self, bound: SocketAddr) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            let url = if bound.ip().is_unspecified() {
                format!("http://localhost:{}/", bound.port())
            } else {
                format!("http://{bound}/")
            };
            Url::parse(&url).expect("a socket address makes a valid URL")
        })
    }
}

fn positive_duration(
    text: &str,
    var: &'static str,
    flag: &'static str,
) -> Result<Duration, ConfigError> {
    match parse_duration(text) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err(invalid(var, flag, "must be longer than zero")),
        Err(problem) => Err(invalid(var, flag, problem)),
    }
}

/// The base URL of one of Meta's hosts.
fn host_url(text: &str, var: &'static str, flag: &'static str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim()).map_err(|_| {
        invalid(
            var,
            flag,
            format!("expected an absolute URL such as https://graph.instagram.com, got {text:?}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            var,
            flag,
            format!("expected an http:// or https:// URL with a host, got {text:?}"),
        ));
    }
    Ok(url)
}

/// The PostgreSQL URL with `password` in it, percent-encoded, so that a password of any
/// characters reaches the server as it was written (a compose file can only paste it raw).
fn with_password(url: &str, password: &str) -> Result<String, ConfigError> {
    let problem = |what: &str| {
        invalid(
            "FRESHTOKEN_DATABASE_PASSWORD",
            "database-password",
            what.to_owned(),
        )
    };
    if url.starts_with("sqlite:") {
        return Err(problem(
            "is for PostgreSQL; a SQLite database has no password",
        ));
    }
    let mut parsed = Url::parse(url).map_err(|_| {
        invalid(
            "FRESHTOKEN_DATABASE_URL or DATABASE_URL",
            "database-url",
            "expected postgres://user@host:port/database",
        )
    })?;
    if parsed.username().is_empty() {
        return Err(problem(
            "needs a user name in the database URL (postgres://user@host/db)",
        ));
    }
    // Every character but letters and digits escaped here: `set_password` alone would leave a
    // `%41` in the password as it is, and the driver would decode it to `A`.
    let encoded =
        percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    parsed
        .set_password(Some(&encoded))
        .map_err(|()| problem("cannot be set on this database URL"))?;
    Ok(parsed.into())
}

fn parse_public_url(text: &str) -> Result<Url, ConfigError> {
    let problem = |what: &str| {
        invalid(
            "FRESHTOKEN_PUBLIC_URL",
            "public-url",
            format!("{what}, got {text:?}"),
        )
    };
    let url = Url::parse(text)
        .map_err(|_| problem("expected an absolute URL such as https://tokens.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(problem("expected an http:// or https:// URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(problem("expected no query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["freshtoken"];
        argv.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(argv).expect("arguments parse");
        Config::from_settings(cli.settings())
    }

    #[test]
    fn nothing_set_means_sqlite_in_the_data_dir_with_a_generated_key_file() {
        let config = config(&["--data-dir", "/tmp/ft"]).unwrap();
        assert_eq!(
            config.database_url.as_str(),
            "sqlite:///tmp/ft/freshtoken.db?mode=rwc"
        );
        assert!(matches!(config.keys, KeySource::File(_)));
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.public_url_for(config.bind).as_str(),
            "http://127.0.0.1:8080/"
        );
    }

    #[test]
    fn bound_to_every_address_the_public_url_defaults_to_localhost() {
        for bind in ["0.0.0.0:8080", "[::]:8080"] {
            let config = config(&["--bind", bind]).unwrap();
            assert_eq!(
                config.public_url_for(config.bind).as_str(),
                "http://localhost:8080/"
            );
        }
    }

    #[test]
    fn a_database_password_of_any_characters_is_encoded_into_the_url() {
        let password = "a/b+c=d@e:f%41%g h";
        let key = SecretKey::generate().to_base64();
        let encoded = config(&[
            "--secret-key",
            &key,
            "--database-url",
            "postgres://freshtoken@postgres:5432/freshtoken",
            "--database-password",
            password,
        ])
        .unwrap();
        let url = Url::parse(encoded.database_url.as_str()).unwrap();
        assert_eq!(url.host_str(), Some("postgres"));
        assert_eq!(url.username(), "freshtoken");
        assert_eq!(url.path(), "/freshtoken");
        let decoded = percent_encoding::percent_decode_str(url.password().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, password);
        // It replaces a password in the URL; SQLite has none to set.
        let replaced = config(&[
            "--secret-key",
            &key,
            "--database-url",
            "postgres://freshtoken:old@postgres/freshtoken",
            "--database-password",
            "new",
        ])
        .unwrap();
        assert_eq!(
            replaced.database_url.as_str(),
            "postgres://freshtoken:new@postgres/freshtoken"
        );
        let shown = format!("{encoded:?}");
        assert!(
            shown.contains("postgres://freshtoken:redacted@postgres:5432/freshtoken"),
            "Debug output never shows the password: {shown}"
        );
        let err = config_err(&["--database-password", "secret"]);
        assert!(err.starts_with("FRESHTOKEN_DATABASE_PASSWORD"), "{err}");
        assert!(
            !err.contains("secret"),
            "a password must never be echoed: {err}"
        );
    }

    #[test]
    fn errors_name_the_variable_and_the_expectation() {
        let err = config(&["--bind", "nonsense"]).unwrap_err().to_string();
        assert!(err.starts_with("FRESHTOKEN_BIND (--bind)"), "{err}");
        let err = config(&["--public-url", "ftp://x"])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("FRESHTOKEN_PUBLIC_URL"), "{err}");
        let err = config(&["--database-url", "mysql://x"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let err = config(&["--secret-key", "dG9vIHNob3J0"])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("FRESHTOKEN_SECRET_KEY"), "{err}");
        assert!(
            !err.contains("dG9vIHNob3J0"),
            "a key must never be echoed: {err}"
        );
        let err = config(&["--delivery-cache-entries", "0"])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("FRESHTOKEN_DELIVERY_CACHE_ENTRIES (--delivery-cache-entries)"),
            "{err}"
        );
    }

    #[test]
    fn instagram_hosts_default_to_the_real_ones_and_credentials_go_together() {
        let defaults = config(&[]).unwrap();
        assert_eq!(
            defaults.meta.instagram.graph_url.as_str(),
            "https://graph.instagram.com/"
        );
        assert_eq!(
            defaults.meta.instagram.oauth_url.as_str(),
            "https://www.instagram.com/"
        );
        assert!(defaults.meta.instagram.client_id.is_empty());
        assert!(!defaults.demo);
        let err = config_err(&["--instagram-client-id", "123"]);
        assert!(
            err.starts_with("FRESHTOKEN_INSTAGRAM_CLIENT_SECRET"),
            "{err}"
        );
        let err = config_err(&["--instagram-graph-url", "graph.instagram.com"]);
        assert!(err.starts_with("FRESHTOKEN_INSTAGRAM_GRAPH_URL"), "{err}");
        let secret = "a-secret-that-must-not-leak";
        let configured = config(&[
            "--instagram-client-id",
            "123",
            "--instagram-client-secret",
            secret,
        ])
        .unwrap();
        assert!(!format!("{configured:?}").contains(secret));
    }

    #[test]
    fn webhooks_reach_public_addresses_only_unless_the_operator_names_hosts() {
        assert!(config(&[]).unwrap().webhook_allow_hosts.is_empty());
        let allowed = config(&["--webhook-allow-hosts", "hooks.intranet, localhost"])
            .unwrap()
            .webhook_allow_hosts;
        assert!(allowed.allows("hooks.intranet") && allowed.allows("localhost"));
        assert!(!allowed.allows("intranet"));
        let err = config_err(&["--webhook-allow-hosts", "*.intranet"]);
        assert!(err.starts_with("FRESHTOKEN_WEBHOOK_ALLOW_HOSTS"), "{err}");
    }

    #[test]
    fn metrics_are_closed_unless_given_a_listener_or_a_token() {
        let defaults = config(&[]).unwrap();
        assert!(defaults.metrics_bind.is_none() && defaults.metrics_token.is_none());
        let bound = config(&["--metrics-bind", "127.0.0.1:9464"]).unwrap();
        assert_eq!(bound.metrics_bind.unwrap().to_string(), "127.0.0.1:9464");
        let err = config_err(&["--metrics-bind", "9464"]);
        assert!(
            err.starts_with("FRESHTOKEN_METRICS_BIND (--metrics-bind)"),
            "{err}"
        );
        let err = config_err(&["--bind", "0.0.0.0:8080", "--metrics-bind", "0.0.0.0:8080"]);
        assert!(err.starts_with("FRESHTOKEN_METRICS_BIND"), "{err}");
        let secret = "short-metrics-secret";
        let err = config_err(&["--metrics-token", secret]);
        assert!(err.starts_with("FRESHTOKEN_METRICS_TOKEN"), "{err}");
        assert!(!err.contains(secret), "a token must never be echoed: {err}");
        let long = "m".repeat(40);
        let tokened = config(&["--metrics-token", &long]).unwrap();
        assert!(tokened.metrics_token.is_some());
        assert!(!format!("{tokened:?}").contains(&long));
    }

    #[test]
    fn demo_mode_is_a_flag_of_the_command_or_of_freshtoken_alone() {
        assert!(config(&["serve", "--demo"]).unwrap().demo);
        assert!(config(&["--demo"]).unwrap().demo);
        assert!(!config(&["serve"]).unwrap().demo);
    }

    fn config_err(args: &[&str]) -> String {
        config(args).unwrap_err().to_string()
    }

    #[test]
    fn postgres_requires_a_shared_secret_key() {
        let err = config(&["--database-url", "postgres://localhost/db"])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("FRESHTOKEN_SECRET_KEY"), "{err}");
        let key = SecretKey::generate();
        let old = SecretKey::generate();
        let config = config(&[
            "--database-url",
            "postgres://localhost/db",
            "--secret-key",
            &key.to_base64(),
            "--previous-secret-keys",
            &old.to_base64(),
        ])
        .unwrap();
        let KeySource::Given(keyring) = config.keys else {
            panic!("expected given keys")
        };
        assert_eq!(keyring.primary_id(), key.id());
        assert_eq!(keyring.previous_ids(), [old.id()]);
    }
}
