//! Where freshtoken's webhook calls may go, and the one HTTP client that makes them.
//!
//! A webhook URL is chosen by a tenant and called by the worker, so without a rule any tenant
//! could make the instance call its own network. The rule: webhooks reach public addresses
//! ([`address::check`]) unless the operator allows the host by name ([`AllowedHosts`]). It is
//! applied when a webhook is created ([`check_webhook_url`]) and again on every connection of
//! every delivery ([`WebhookClient`]), since a name may resolve elsewhere by then.
//!
//! This crate knows nothing of tenants, the database or signatures, and makes no other calls.

pub mod address;
mod client;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

pub use address::NotPublic;
pub use client::{Answer, ClientError, SendError, WebhookClient};

/// Hosts the operator lets webhooks reach whatever they resolve to
/// (`FRESHTOKEN_WEBHOOK_ALLOW_HOSTS`): names (or literal addresses) on an intranet. Matched
/// exactly, ignoring case and a trailing dot; no wildcards, so allowing `hooks.internal` does
/// not allow `evil.hooks.internal`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<String>);

/// An entry of the allow-list that is not a bare host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected host names such as hooks.internal (or addresses such as 10.0.0.5), without scheme, port, path or wildcard, got {0:?}"
)]
pub struct InvalidHost(pub String);

impl AllowedHosts {
    /// Nothing allowed: only public addresses are reached. The default.
    pub fn none() -> AllowedHosts {
        AllowedHosts::default()
    }

    /// The entries, each a host name or an IP address; blank ones are skipped.
    pub fn parse<'a>(
        entries: impl IntoIterator<Item = &'a str>,
    ) -> Result<AllowedHosts, InvalidHost> {
        let mut hosts = Vec::new();
        for entry in entries.into_iter().map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let invalid = || InvalidHost(entry.to_owned());
            let host = if let Ok(ip) = entry.parse::<IpAddr>() {
                ip.to_string()
            } else {
                // `Host::parse` takes care of IDNA and odd IPv4 spellings; it lets `*` through.
                match Host::parse(entry).map_err(|_| invalid())? {
                    Host::Domain(name) if !name.contains('*') => normalize_name(&name),
                    Host::Domain(_) => return Err(invalid()),
                    Host::Ipv4(ip) => ip.to_string(),
                    Host::Ipv6(ip) => ip.to_string(),
                }
            };
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        Ok(AllowedHosts(hosts))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether `host` (a name, or an address as text) is on the list.
    pub fn allows(&self, host: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => normalize_name(host),
        };
        self.0.contains(&host)
    }

    fn allows_url_host(&self, host: &Host<&str>) -> bool {
        match host {
            Host::Domain(name) => self.allows(name),
            Host::Ipv4(ip) => self.allows(&ip.to_string()),
            Host::Ipv6(ip) => self.allows(&ip.to_string()),
        }
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Why a webhook may not reach where its URL points.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} is not a public address")]
    Address(NotPublic),
    #[error("{host} resolves to {address}, not a public address")]
    Resolves { host: String, address: NotPublic },
}

/// What is wrong with a webhook URL a tenant asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not a URL")]
    NotUrl(String),
    #[error("webhook URLs must start with https:// (or http://)")]
    Scheme,
    #[error("the webhook URL has no host")]
    NoHost,
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// How long the check at creation waits for a name to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks the URL of a webhook being created: http(s), with a host that is allowed or whose
/// every address is public. A name that does not resolve (yet) is accepted: nothing can be
/// sent to it, and every delivery checks again.
pub async fn check_webhook_url(text: &str, allowed: &AllowedHosts) -> Result<Url, TargetError> {
    let url = Url::parse(text.trim()).map_err(|_| TargetError::NotUrl(text.to_owned()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(TargetError::Scheme);
    }
    let host = url.host().ok_or(TargetError::NoHost)?;
    if allowed.allows_url_host(&host) {
        return Ok(url);
    }
    match host {
        Host::Ipv4(ip) => check_literal(IpAddr::V4(ip))?,
        Host::Ipv6(ip) => check_literal(IpAddr::V6(ip))?,
        Host::Domain(name) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let lookup = tokio::net::lookup_host((name, port));
            if let Ok(Ok(addresses)) = tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
                check_resolved(name, addresses)?;
            }
        }
    }
    Ok(url)
}

fn check_literal(ip: IpAddr) -> Result<(), Refused> {
    address::check(ip).map_err(Refused::Address)
}

/// Every address a name resolves to must be public: one private answer among public ones is
/// how a rebinding name would slip through.
fn check_resolved(
    host: &str,
    addresses: impl IntoIterator<Item = SocketAddr>,
) -> Result<(), Refused> {
    for socket in addresses {
        address::check(socket.ip()).map_err(|address| Refused::Resolves {
            host: host.to_owned(),
            address,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_match_names_exactly_ignoring_case_and_the_final_dot() {
        let allowed =
            AllowedHosts::parse("Hooks.Internal, localhost,,10.0.0.5 ,[::1]".split(',')).unwrap();
        assert!(allowed.allows("hooks.internal"));
        assert!(allowed.allows("HOOKS.internal."));
        assert!(allowed.allows("localhost"));
        assert!(allowed.allows("10.0.0.5"));
        assert!(allowed.allows("::1"));
        assert!(allowed.allows("[::1]"));
        assert!(!allowed.allows("evil.hooks.internal"));
        assert!(!allowed.allows("hooks.internal.evil.example"));
        assert!(!allowed.allows("10.0.0.6"));
        assert!(!AllowedHosts::none().allows("localhost"));
    }

    #[test]
    fn allowed_hosts_are_bare_hosts() {
        for entry in [
            "http://hooks.internal",
            "hooks.internal:8080",
            "hooks.internal/path",
            "*.internal",
            "user@host",
        ] {
            assert_eq!(
                AllowedHosts::parse([entry]),
                Err(InvalidHost(entry.to_owned())),
                "{entry}"
            );
        }
        assert!(AllowedHosts::parse(["", " "]).unwrap().is_empty());
    }

    #[tokio::test]
    async fn webhook_urls_are_http_with_a_public_or_allowed_host() {
        let none = AllowedHosts::none();
        assert_eq!(
            check_webhook_url("ftp://example.com/", &none).await,
            Err(TargetError::Scheme)
        );
        assert!(matches!(
            check_webhook_url("nonsense", &none).await,
            Err(TargetError::NotUrl(_))
        ));
        // Odd spellings of loopback are still loopback.
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
        ] {
            assert!(
                matches!(
                    check_webhook_url(url, &none).await,
                    Err(TargetError::Refused(Refused::Address(_)))
                ),
                "{url}"
            );
        }
        let refused = check_webhook_url("http://localhost:9/hook", &none)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, TargetError::Refused(Refused::Resolves { host, .. }) if host == "localhost"),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("loopback"), "{refused}");
        let allowed = AllowedHosts::parse(["localhost", "127.0.0.1"]).unwrap();
        assert!(
            check_webhook_url("http://localhost:9/hook", &allowed)
                .await
                .is_ok()
        );
        assert!(
            check_webhook_url("http://127.0.0.1:9/hook", &allowed)
                .await
                .is_ok()
        );
        assert!(
            check_webhook_url("http://127.0.0.2:9/hook", &allowed)
                .await
                .is_err(),
            "an allowed address allows that address only"
        );
    }
}
