//! Who the client is: one rule for every limit (sign-in, sign-up, the token URLs).
//!
//! The client is the TCP peer, unless the peer is a proxy listed in
//! `FRESHTOKEN_TRUSTED_PROXIES`: then it is the nearest address in `X-Forwarded-For`, read right
//! to left, that is not itself a trusted proxy. A client talking to us directly cannot pose as
//! another by sending the header itself, and behind the shipped nginx every client is told
//! apart instead of all being the proxy.
//!
//! Limits key clients by [`AddressKey`]: an IPv4 address, or the /64 network of an IPv6 one,
//! since one IPv6 subscriber usually holds a whole /64.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A trusted proxy: an IP network (`10.0.0.0/8`, `fd00::/8`) or one address (`::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(IpNet);

impl Network {
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&canonical(address))
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = canonical(
            address
                .parse::<IpAddr>()
                .map_err(|_| format!("{text:?} is not an IP address or network"))?,
        );
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        let network = match address {
            IpAddr::V4(v4) => Ipv4Net::new(v4, prefix).map(IpNet::V4),
            IpAddr::V6(v6) => Ipv6Net::new(v6, prefix).map(IpNet::V6),
        }
        .map_err(|_| format!("{text:?}: the prefix length must be 0 to {bits}"))?;
        Ok(Network(network.trunc()))
    }
}

/// IPv4 addresses that arrive mapped into IPv6 (`::ffff:10.0.0.1`) count as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
/// address in `X-Forwarded-For` that is not one (so a client cannot pose as another by
/// sending the header itself).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Network]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|network| network.contains(address));
    let peer = canonical(peer);
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = canonical(address);
                if !is_trusted(client) {
                    break;
                }
            }
            // Garbage: trust nothing further left.
            Err(_) => break,
        }
    }
    client
}

/// What limits count a client by: its IPv4 address, or its IPv6 address's /64 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl From<IpAddr> for AddressKey {
    fn from(address: IpAddr) -> Self {
        match canonical(address) {
            IpAddr::V6(v6) => {
                let network =
                    Ipv6Net::new(v6, 64).map_or(Ipv6Addr::UNSPECIFIED, |net| net.network());
                AddressKey(IpAddr::V6(network))
            }
            v4 => AddressKey(v4),
        }
    }
}

/// The client of a request, by the rule above (see [`client_address`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

/// The state that knows which proxies to believe (the application's, from its settings), so
/// that [`ClientAddress`] is extracted without this module knowing that state.
pub(crate) trait TrustedProxies {
    fn trusted_proxies(&self) -> &[Network];
}

impl<S: TrustedProxies + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientAddress(client_address(
            peer,
            &parts.headers,
            state.trusted_proxies(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let spoofed = headers("203.0.113.9");
        assert_eq!(
            client_address(ip("198.51.100.7"), &spoofed, &trusted),
            ip("198.51.100.7"),
            "a direct client cannot name another address"
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), &spoofed, &trusted),
            ip("203.0.113.9")
        );
        // The client wrote a fake first hop; the proxy appended the real one.
        let chain = headers("1.2.3.4, 203.0.113.9, 10.0.0.5");
        assert_eq!(
            client_address(ip("10.1.2.3"), &chain, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("::1"), &headers("garbage"), &trusted),
            ip("::1")
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.9"),
            "IPv4 mapped into IPv6 is IPv4"
        );
        assert_eq!(client_address(ip("10.1.2.3"), &chain, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn networks_parse_and_match_by_prefix() {
        let net: Network = "192.168.0.0/16".parse().unwrap();
        assert!(net.contains(ip("192.168.44.1")));
        assert!(!net.contains(ip("192.169.0.1")));
        assert!(!net.contains(ip("fd00::1")));
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let one: Network = "10.0.0.7".parse().unwrap();
        assert!(one.contains(ip("10.0.0.7")) && !one.contains(ip("10.0.0.8")));
        let host_bits: Network = "10.1.2.3/8".parse().unwrap();
        assert!(
            host_bits.contains(ip("10.200.0.1")),
            "host bits are ignored"
        );
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com".parse::<Network>().is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_ipv4_ones_by_address() {
        assert_eq!(
            AddressKey::from(ip("2001:db8:1:2:aaaa::1")),
            AddressKey::from(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            AddressKey::from(ip("2001:db8:1:2::1")),
            AddressKey::from(ip("2001:db8:1:3::1"))
        );
        assert_ne!(
            AddressKey::from(ip("192.0.2.1")),
            AddressKey::from(ip("192.0.2.2"))
        );
        assert_eq!(
            AddressKey::from(ip("::ffff:192.0.2.1")),
            AddressKey::from(ip("192.0.2.1"))
        );
    }
}
