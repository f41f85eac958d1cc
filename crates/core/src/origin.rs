//! The allowed-origin patterns of an account: which websites may load its token.
//!
//! A pattern is either an exact origin (`https://example.com`) or every subdomain of a site
//! (`https://*.example.com`). Patterns are normalised when parsed, so that two spellings of
//! the same origin compare, hash and store as one, and the browser's `Origin` header is parsed
//! by the same rules before it is compared, so matching is a comparison of parts and never of
//! raw strings (where `https://example.com.evil.test` would pass a naive prefix check).
//!
//! No `url` crate: this crate must stay small for wasm32, and an origin is a small enough
//! grammar that owning it keeps every refusal deliberate and its message readable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest pattern accepted, before normalisation. Real origins are far shorter; the limit
/// bounds what a tenant can make us store and parse.
pub const MAX_ORIGIN_LEN: usize = 300;

/// How many patterns one account may list. Enough for any real set of sites, small enough that
/// checking a request against all of them stays trivial.
pub const MAX_ALLOWED_ORIGINS: usize = 50;

/// What every error message offers as the shape to follow.
const EXPECTED: &str =
    "expected an origin such as https://example.com or https://*.example.com, without a path";

/// Why an origin or a list of them was refused. Messages quote the offending input and say what
/// is expected, since tenants read them next to the field they typed into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrigin {
    #[error("an allowed origin cannot be empty; {EXPECTED}")]
    Empty,
    #[error("{input:?} is too long: an origin has at most {MAX_ORIGIN_LEN} characters")]
    TooLong { input: String },
    #[error("{input:?} contains spaces or control characters; {EXPECTED}")]
    Whitespace { input: String },
    #[error("{input:?} must start with http:// or https://; {EXPECTED}")]
    Scheme { input: String },
    #[error(
        "{input:?} has a path, query or fragment, but an origin ends after the host and port; {EXPECTED}"
    )]
    Path { input: String },
    #[error("{input:?} contains a user name (something@); {EXPECTED}")]
    UserInfo { input: String },
    #[error("{input:?} has an invalid port: a port is a number from 1 to 65535")]
    Port { input: String },
    #[error(
        "{input:?} uses an IPv6 address, which is not supported; use a host name, an IPv4 address or localhost"
    )]
    Ipv6 { input: String },
    #[error(
        "{input:?} has an invalid host: use a domain name of letters, digits, hyphens and dots \
         (internationalised names in their xn-- form), an IPv4 address or localhost"
    )]
    Host { input: String },
    #[error(
        "{input:?} has a misplaced wildcard: * may only stand for the whole first label of a \
         domain with at least two more labels, as in https://*.example.com"
    )]
    Wildcard { input: String },
    #[error(
        "{input:?} would allow every site under {suffix}, which anyone can register; \
         list your own domain instead, as in https://*.yourname.{suffix}"
    )]
    SharedSuffix { input: String, suffix: String },
    #[error("too many allowed origins: an account may list at most {max}")]
    TooMany { max: usize },
}

/// The two schemes a page that loads a token can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An origin split into normalised parts: lower-case host, and the port always explicit, so
/// that `https://example.com` and `https://example.com:443` are the same value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Parts {
    scheme: Scheme,
    host: String,
    port: u16,
}

/// Which websites may load an account's token: an exact origin `scheme://host[:port]` or every
/// subdomain of a site, `scheme://*.host[:port]`.
///
/// Parse it with [`FromStr`]; [`Display`](fmt::Display) and serde give the canonical form
/// (lower case, no default port, no trailing slash), so equal patterns are equal strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OriginPattern {
    /// For a wildcard, the host the subdomains belong to (`example.com` for `*.example.com`).
    parts: Parts,
    wildcard: bool,
}

impl OriginPattern {
    /// Whether this pattern stands for the subdomains of a site rather than one origin.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether a browser's `Origin` header value is allowed by this pattern.
    ///
    /// The value is parsed by the same rules as a pattern (without wildcards), so letter case
    /// and default ports cannot make a difference; anything unparsable, including the `null`
    /// origin of sandboxed frames and `file:` pages, matches nothing. A wildcard matches
    /// subdomains at any depth but not the bare domain: `https://*.example.com` allows
    /// `https://a.b.example.com`, not `https://example.com`.
    pub fn matches(&self, origin: &str) -> bool {
        if origin.trim() == "null" {
            return false;
        }
        let Ok((parts, false)) = parse(origin) else {
            return false;
        };
        if parts.scheme != self.parts.scheme || parts.port != self.parts.port {
            return false;
        }
        if !self.wildcard {
            return parts.host == self.parts.host;
        }
        // Both hosts are validated names, so whatever precedes ".example.com" is one or more
        // whole, non-empty labels.
        parts
            .host
            .strip_suffix(self.parts.host.as_str())
            .and_then(|prefix| prefix.strip_suffix('.'))
            .is_some_and(|prefix| !prefix.is_empty())
    }
}

impl FromStr for OriginPattern {
    type Err = InvalidOrigin;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (parts, wildcard) = parse(input)?;
        Ok(OriginPattern { parts, wildcard })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Parts { scheme, host, port } = &self.parts;
        let star = if self.wildcard { "*." } else { "" };
        write!(f, "{}://{star}{host}", scheme.as_str())?;
        if *port != scheme.default_port() {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl Serialize for OriginPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OriginPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether a browser's `Origin` is a page served from the developer's own machine:
/// `localhost` or `127.0.0.1` on any port, over http or https. Backs the "allow
/// http://localhost:* during development" switch of an account. IPv6 `[::1]` is not
/// recognised, as origins with IPv6 literals are refused throughout.
pub fn is_localhost_origin(origin: &str) -> bool {
    matches!(parse(origin), Ok((parts, false)) if parts.host == "localhost" || parts.host == "127.0.0.1")
}

/// Parses every pattern of an account's list, in order, dropping repeats (after
/// normalisation, so `https://Example.com/` repeats `https://example.com`) and keeping the
/// first-seen order the tenant wrote. More than [`MAX_ALLOWED_ORIGINS`] distinct patterns is an
/// error; the first invalid entry is reported.
pub fn parse_allowed_origins(list: &[String]) -> Result<Vec<OriginPattern>, InvalidOrigin> {
    let mut patterns: Vec<OriginPattern> = Vec::new();
    for input in list {
        let pattern: OriginPattern = input.parse()?;
        if patterns.contains(&pattern) {
            continue;
        }
        if patterns.len() == MAX_ALLOWED_ORIGINS {
            return Err(InvalidOrigin::TooMany {
                max: MAX_ALLOWED_ORIGINS,
            });
        }
        patterns.push(pattern);
    }
    Ok(patterns)
}

/// Splits and validates an origin; the flag says whether its host began with `*.`, in which
/// case the returned host is the part after it.
fn parse(raw: &str) -> Result<(Parts, bool), InvalidOrigin> {
    let input = raw.trim();
    let owned = || input.to_owned();
    if input.is_empty() {
        return Err(InvalidOrigin::Empty);
    }
    if input.len() > MAX_ORIGIN_LEN {
        return Err(InvalidOrigin::TooLong { input: owned() });
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidOrigin::Whitespace { input: owned() });
    }

    let (scheme, rest) = input
        .split_once("://")
        .ok_or_else(|| InvalidOrigin::Scheme { input: owned() })?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else {
        return Err(InvalidOrigin::Scheme { input: owned() });
    };

    // One trailing slash is what people copy from the address bar; anything more is a path.
    // Browsers read `\` as `/` in http(s) URLs, so it counts as one too.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '\\', '?', '#']) {
        return Err(InvalidOrigin::Path { input: owned() });
    }
    if authority.contains('@') {
        return Err(InvalidOrigin::UserInfo { input: owned() });
    }
    if authority.starts_with('[') {
        return Err(InvalidOrigin::Ipv6 { input: owned() });
    }

    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => {
            // Digits only: `u16::from_str` would also take a leading `+`.
            let digits = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|&port| digits && port != 0)
                .ok_or_else(|| InvalidOrigin::Port { input: owned() })?;
            (host, port)
        }
        None => (authority, scheme.default_port()),
    };

    let host = host.to_ascii_lowercase();
    let (host, wildcard) = match host.strip_prefix("*.") {
        Some(base) => (base.to_owned(), true),
        None => (host, false),
    };
    if host.contains('*') {
        return Err(InvalidOrigin::Wildcard { input: owned() });
    }
    match classify_host(&host) {
        None => Err(InvalidOrigin::Host { input: owned() }),
        // A wildcard needs a registrable-looking base: `*.com` would allow half the web, and
        // IP addresses have no subdomains.
        Some(kind) if wildcard && (kind != HostKind::Dns || !host.contains('.')) => {
            Err(InvalidOrigin::Wildcard { input: owned() })
        }
        Some(_) if wildcard && SHARED_SUFFIXES.binary_search(&host.as_str()).is_ok() => {
            Err(InvalidOrigin::SharedSuffix {
                input: owned(),
                suffix: host,
            })
        }
        Some(_) => Ok((Parts { scheme, host, port }, wildcard)),
    }
}

/// Domains under which anyone can get a name: common two-label public suffixes and the
/// hosting services websites with an Instagram feed often live on. A wildcard right under one
/// of them would admit strangers' sites. This is a curated excerpt, not the whole Public
/// Suffix List (which would weigh on the dashboard's download).
///
/// Sorted, for binary search.
const SHARED_SUFFIXES: &[&str] = &[
    "azurewebsites.net",
    "blogspot.com",
    "cloudfront.net",
    "co.in",
    "co.jp",
    "co.kr",
    "co.nz",
    "co.uk",
    "co.za",
    "com.ar",
    "com.au",
    "com.br",
    "com.cn",
    "com.mx",
    "com.tr",
    "firebaseapp.com",
    "github.io",
    "gitlab.io",
    "herokuapp.com",
    "myshopify.com",
    "netlify.app",
    "org.uk",
    "pages.dev",
    "squarespace.com",
    "vercel.app",
    "web.app",
    "wixsite.com",
    "wordpress.com",
    "workers.dev",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HostKind {
    Dns,
    Ipv4,
}

/// Classifies a lower-cased host, or `None` when it is neither a DNS name nor an IPv4 address.
///
/// A name whose last label is all digits is taken for an IPv4 address, as browsers do, and
/// must then be a plain dotted quad (`127.0.0.1`, not `127.1` or `0x7f.0.0.1`, which browsers
/// would rewrite before sending them as an `Origin`). `localhost` is an ordinary one-label name.
fn classify_host(host: &str) -> Option<HostKind> {
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    let last = host.rsplit('.').next().unwrap_or(host);
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return is_dotted_quad(host).then_some(HostKind::Ipv4);
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    host.split('.').all(label_ok).then_some(HostKind::Dns)
}

/// Four decimal octets, 0 to 255, without leading zeros (which some parsers read as octal).
fn is_dotted_quad(host: &str) -> bool {
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|octet| {
            (1..=3).contains(&octet.len())
                && octet.bytes().all(|b| b.is_ascii_digit())
                && !(octet.len() > 1 && octet.starts_with('0'))
                && octet.parse::<u8>().is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> OriginPattern {
        text.parse()
            .unwrap_or_else(|err| panic!("{text:?} should parse: {err}"))
    }

    fn canonical(text: &str) -> String {
        pattern(text).to_string()
    }

    #[test]
    fn case_is_normalised_to_lower() {
        assert_eq!(canonical("HTTPS://Example.COM"), "https://example.com");
        assert_eq!(
            canonical("Http://*.Shop.Example.com"),
            "http://*.shop.example.com"
        );
    }

    #[test]
    fn one_trailing_slash_and_surrounding_spaces_are_dropped() {
        assert_eq!(canonical("https://example.com/"), "https://example.com");
        assert_eq!(
            canonical("  https://example.com/ \n"),
            "https://example.com"
        );
    }

    #[test]
    fn default_ports_are_dropped_and_others_kept() {
        assert_eq!(canonical("https://example.com:443"), "https://example.com");
        assert_eq!(canonical("http://x:80"), "http://x");
        assert_eq!(
            canonical("https://example.com:8443"),
            "https://example.com:8443"
        );
        assert_eq!(
            canonical("http://example.com:443"),
            "http://example.com:443"
        );
        assert_eq!(
            pattern("https://example.com:443"),
            pattern("https://example.com")
        );
    }

    #[test]
    fn localhost_and_ipv4_hosts_are_accepted() {
        assert_eq!(canonical("http://localhost:3000"), "http://localhost:3000");
        assert_eq!(canonical("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(canonical("https://192.168.1.20"), "https://192.168.1.20");
    }

    #[test]
    fn punycode_and_hyphenated_names_are_accepted() {
        assert_eq!(
            canonical("https://xn--bcher-kva.de"),
            "https://xn--bcher-kva.de"
        );
        assert_eq!(
            canonical("https://my-shop.example.com"),
            "https://my-shop.example.com"
        );
    }

    #[test]
    fn paths_queries_and_fragments_are_refused() {
        for text in [
            "https://example.com/shop",
            "https://example.com//",
            "https://example.com?x=1",
            "https://example.com/?x=1",
            "https://example.com#top",
            "https://example.com\\evil.test",
        ] {
            assert!(
                matches!(
                    text.parse::<OriginPattern>(),
                    Err(InvalidOrigin::Path { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn user_info_is_refused() {
        for text in ["https://user@example.com", "https://example.com@evil.test"] {
            assert!(
                matches!(
                    text.parse::<OriginPattern>(),
                    Err(InvalidOrigin::UserInfo { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn only_http_and_https_are_accepted() {
        for text in [
            "ftp://example.com",
            "example.com",
            "//example.com",
            "javascript://x.com",
        ] {
            assert!(
                matches!(
                    text.parse::<OriginPattern>(),
                    Err(InvalidOrigin::Scheme { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn ports_outside_one_to_65535_are_refused() {
        for text in [
            "https://example.com:0",
            "https://example.com:99999",
            "https://example.com:65536",
            "https://example.com:",
            "https://example.com:+80",
            "https://example.com:8o",
            "https://example.com:000443",
        ] {
            assert!(
                matches!(
                    text.parse::<OriginPattern>(),
                    Err(InvalidOrigin::Port { .. })
                ),
                "{text:?}"
            );
        }
        assert_eq!(
            canonical("https://example.com:65535"),
            "https://example.com:65535"
        );
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!("".parse::<OriginPattern>(), Err(InvalidOrigin::Empty));
        assert_eq!("   ".parse::<OriginPattern>(), Err(InvalidOrigin::Empty));
    }

    #[test]
    fn spaces_inside_are_refused() {
        for text in [
            "https://exa mple.com",
            "https:// example.com",
            "https://example.com\t:80",
        ] {
            assert!(
                matches!(
                    text.parse::<OriginPattern>(),
                    Err(InvalidOrigin::Whitespace { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn invalid_hosts_are_refused() {
        for text in [
            "https://",
            "https://:443",
            "https://-example.com",
            "https://example-.com",
            "https://exa_mple.com",
            "https://example..com",
            "https://example.com.",
            "https://.example.com",
            "https://bücher.de",
            "https://example.123",
            "https://256.1.1.1",
            "https://127.1",
            "https://010.0.0.1",
            "https://a:b:80",
        ] {
            let result = text.parse::<OriginPattern>();
            assert!(
                matches!(result, Err(InvalidOrigin::Host { .. })),
                "{text:?}: {result:?}"
            );
        }
        let long_label = format!("https://{}.com", "a".repeat(64));
        assert!(long_label.parse::<OriginPattern>().is_err());
        let long_name = format!("https://{}com", "a.".repeat(130));
        assert!(long_name.parse::<OriginPattern>().is_err());
    }

    #[test]
    fn ipv6_literals_are_refused_with_their_own_message() {
        let err = "http://[::1]:3000".parse::<OriginPattern>().unwrap_err();
        assert!(matches!(err, InvalidOrigin::Ipv6 { .. }));
        assert!(err.to_string().contains("IPv6"), "{err}");
    }

    #[test]
    fn overlong_input_is_refused() {
        let text = format!("https://{}.com", "a.".repeat(150));
        assert!(matches!(
            text.parse::<OriginPattern>(),
            Err(InvalidOrigin::TooLong { .. })
        ));
    }

    #[test]
    fn a_wildcard_must_be_the_whole_first_label_of_a_real_domain() {
        for text in [
            "https://*.com",
            "https://*",
            "https://*.",
            "https://a.*.com",
            "https://*example.com",
            "https://*.*.example.com",
            "https://ex*ample.com",
            "https://*.localhost",
            "https://*.0.0.1",
            "https://*.127.0.0.1",
            "*.example.com",
        ] {
            assert!(text.parse::<OriginPattern>().is_err(), "{text:?}");
        }
        assert!(matches!(
            "https://*.com".parse::<OriginPattern>(),
            Err(InvalidOrigin::Wildcard { .. })
        ));
        assert!(pattern("https://*.example.com").is_wildcard());
        assert!(!pattern("https://example.com").is_wildcard());
    }

    #[test]
    fn a_wildcard_right_under_a_suffix_anyone_can_register_under_is_refused() {
        for text in [
            "https://*.github.io",
            "https://*.co.uk",
            "https://*.vercel.app",
            "https://*.MyShopify.com",
        ] {
            assert!(
                matches!(
                    text.parse::<OriginPattern>(),
                    Err(InvalidOrigin::SharedSuffix { .. })
                ),
                "{text:?}"
            );
        }
        let err = "https://*.github.io".parse::<OriginPattern>().unwrap_err();
        assert!(
            err.to_string().contains("https://*.yourname.github.io"),
            "{err}"
        );
        // One's own name under such a suffix is fine, with or without a wildcard.
        assert!(pattern("https://*.shop.co.uk").is_wildcard());
        assert!(!pattern("https://me.github.io").is_wildcard());
    }

    #[test]
    fn the_shared_suffixes_are_sorted_so_binary_search_finds_every_entry() {
        assert!(SHARED_SUFFIXES.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn messages_quote_the_input_and_say_what_is_expected() {
        let err = "https://example.com/shop"
            .parse::<OriginPattern>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"https://example.com/shop\""), "{err}");
        assert!(
            err.contains(
                "expected an origin such as https://example.com or https://*.example.com, without a path"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_exact_origin_matches_only_itself() {
        let exact = pattern("https://example.com");
        assert!(exact.matches("https://example.com"));
        assert!(exact.matches("https://example.com:443"));
        assert!(!exact.matches("https://www.example.com"));
        assert!(!exact.matches("https://example.org"));
    }

    #[test]
    fn the_port_must_match() {
        let exact = pattern("https://example.com:8443");
        assert!(exact.matches("https://example.com:8443"));
        assert!(!exact.matches("https://example.com"));
        assert!(!pattern("https://example.com").matches("https://example.com:8443"));
        assert!(!pattern("https://*.example.com").matches("https://a.example.com:8443"));
    }

    #[test]
    fn the_scheme_must_match() {
        assert!(!pattern("https://example.com").matches("http://example.com"));
        assert!(!pattern("http://example.com").matches("https://example.com"));
        assert!(!pattern("https://*.example.com").matches("http://shop.example.com"));
    }

    #[test]
    fn a_wildcard_matches_subdomains_at_any_depth() {
        let wildcard = pattern("https://*.example.com");
        assert!(wildcard.matches("https://shop.example.com"));
        assert!(wildcard.matches("https://a.b.example.com"));
    }

    #[test]
    fn wildcard_does_not_match_the_bare_domain() {
        assert!(!pattern("https://*.example.com").matches("https://example.com"));
    }

    #[test]
    fn look_alike_hosts_do_not_match() {
        let exact = pattern("https://example.com");
        let wildcard = pattern("https://*.example.com");
        for origin in [
            "https://example.com.evil.test",
            "https://evilexample.com",
            "https://shop.example.com.evil.test",
            "https://example.com@evil.test",
        ] {
            assert!(!exact.matches(origin), "{origin:?}");
            assert!(!wildcard.matches(origin), "{origin:?}");
        }
    }

    #[test]
    fn the_null_origin_and_garbage_match_nothing() {
        let exact = pattern("https://example.com");
        let wildcard = pattern("https://*.example.com");
        for origin in [
            "null",
            "",
            "https://*.example.com",
            "https://example.com/x",
            "file://",
        ] {
            assert!(!exact.matches(origin), "{origin:?}");
            assert!(!wildcard.matches(origin), "{origin:?}");
        }
    }

    #[test]
    fn origin_headers_match_regardless_of_case() {
        assert!(pattern("https://*.example.com").matches("https://Shop.Example.com"));
        assert!(pattern("https://shop.example.com").matches("HTTPS://Shop.Example.com"));
    }

    #[test]
    fn localhost_origins_are_recognised_on_any_port_and_scheme() {
        for origin in [
            "http://localhost",
            "http://localhost:3000",
            "http://localhost:5173/",
            "https://localhost:8443",
            "http://127.0.0.1",
            "http://127.0.0.1:8080",
            "https://127.0.0.1",
            "HTTP://LOCALHOST:3000",
        ] {
            assert!(is_localhost_origin(origin), "{origin:?}");
        }
        for origin in [
            "null",
            "http://localhost.evil.test",
            "http://localhost@evil.test",
            "http://evil-localhost",
            "http://127.0.0.2",
            "http://[::1]:3000",
            "ftp://localhost",
            "http://localhost/path",
        ] {
            assert!(!is_localhost_origin(origin), "{origin:?}");
        }
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let json = serde_json::to_string(&pattern("HTTPS://*.Example.com:443/")).unwrap();
        assert_eq!(json, "\"https://*.example.com\"");
        let back: OriginPattern = serde_json::from_str(&json).unwrap();
        assert_eq!(back, pattern("https://*.example.com"));
        let err = serde_json::from_str::<OriginPattern>("\"https://example.com/x\"").unwrap_err();
        assert!(err.to_string().contains("path"), "{err}");
    }

    #[test]
    fn display_round_trips_through_parse() {
        for text in [
            "https://example.com",
            "http://localhost:3000",
            "https://*.example.co.uk:8443",
            "http://10.0.0.1",
        ] {
            assert_eq!(canonical(text), text);
            assert_eq!(pattern(&canonical(text)), pattern(text));
        }
    }

    #[test]
    fn allowed_origin_lists_lose_repeats_and_keep_their_order() {
        let list = [
            "https://b.example.com",
            "https://a.example.com",
            "HTTPS://B.example.com/",
            "https://b.example.com:443",
            "https://*.example.com",
        ]
        .map(String::from);
        let parsed = parse_allowed_origins(&list).unwrap();
        let shown: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "https://b.example.com",
                "https://a.example.com",
                "https://*.example.com"
            ]
        );
    }

    #[test]
    fn an_allowed_origin_list_reports_its_first_bad_entry() {
        let list = ["https://example.com", "example.org", "ftp://x.com"].map(String::from);
        let err = parse_allowed_origins(&list).unwrap_err();
        assert!(err.to_string().contains("\"example.org\""), "{err}");
    }

    #[test]
    fn an_allowed_origin_list_is_limited_in_size() {
        let list: Vec<String> = (0..MAX_ALLOWED_ORIGINS)
            .map(|i| format!("https://site{i}.example.com"))
            .collect();
        assert_eq!(
            parse_allowed_origins(&list).unwrap().len(),
            MAX_ALLOWED_ORIGINS
        );

        let mut with_repeats = list.clone();
        with_repeats.push("https://site0.example.com".to_owned());
        assert!(parse_allowed_origins(&with_repeats).is_ok());

        let mut too_many = list;
        too_many.push("https://one-more.example.com".to_owned());
        let err = parse_allowed_origins(&too_many).unwrap_err();
        assert_eq!(
            err,
            InvalidOrigin::TooMany {
                max: MAX_ALLOWED_ORIGINS
            }
        );
        assert!(err.to_string().contains("50"), "{err}");
        assert!(parse_allowed_origins(&[]).unwrap().is_empty());
    }
}
