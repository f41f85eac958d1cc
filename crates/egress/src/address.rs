//! Which IP addresses are public: the one rule for where webhooks may connect.
//!
//! The ranges are IANA's special-purpose registries (RFC 6890 and successors). An IPv6 address
//! that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) reaches that IPv4
//! host, so the embedded address is decoded and judged by the IPv4 rules: otherwise
//! `[::ffff:127.0.0.1]` or `[64:ff9b::a00:1]` would walk around them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is not one webhooks may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPublic {
    pub address: IpAddr,
    /// What the range is for: `loopback`, `private`, ...
    pub kind: &'static str,
    /// The special-purpose range the address (or its embedded IPv4 address) is in; `None` for
    /// IPv6 outside the global unicast range, which has no narrower name.
    pub range: Option<IpNet>,
    /// Set when the verdict is about an IPv4 address carried inside an IPv6 one.
    pub embedded: Option<Embedded>,
}

/// An IPv4 address inside an IPv6 one, and the form that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    /// `IPv4-mapped`, `IPv4-compatible`, `NAT64` or `6to4`.
    pub form: &'static str,
    pub ipv4: Ipv4Addr,
}

impl fmt::Display for NotPublic {
    /// `127.0.0.1 (loopback, 127.0.0.0/8)`, or
    /// `64:ff9b::7f00:1 (the NAT64 form of 127.0.0.1: loopback, 127.0.0.0/8)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.address)?;
        if let Some(embedded) = self.embedded {
            write!(f, "the {} form of {}: ", embedded.form, embedded.ipv4)?;
        }
        f.write_str(self.kind)?;
        if let Some(range) = self.range {
            write!(f, ", {range}")?;
        }
        f.write_str(")")
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(first: u16, second: u16, third: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(first, second, third, 0, 0, 0, 0, 0), prefix)
}

/// IPv4 ranges that are not globally reachable. The first match names the reason, so the
/// broadcast address comes before the reserved block that holds it.
const IPV4_RANGES: &[(Ipv4Net, &str)] = &[
    (v4(0, 0, 0, 0, 8), "unspecified, \"this network\""),
    (v4(10, 0, 0, 0, 8), "private"),
    (v4(100, 64, 0, 0, 10), "carrier-grade NAT"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(172, 16, 0, 0, 12), "private"),
    (v4(192, 0, 0, 0, 24), "IETF protocol assignments"),
    (v4(192, 0, 2, 0, 24), "documentation"),
    (v4(192, 88, 99, 0, 24), "the retired 6to4 relay anycast"),
    (v4(192, 168, 0, 0, 16), "private"),
    (v4(198, 18, 0, 0, 15), "benchmarking"),
    (v4(198, 51, 100, 0, 24), "documentation"),
    (v4(203, 0, 113, 0, 24), "documentation"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(240, 0, 0, 0, 4), "reserved"),
];

/// IPv6 ranges that are not globally reachable, inside or outside 2000::/3. (`::` and `::1`
/// are exact addresses, listed before the IPv4-compatible block that holds them.)
const IPV6_RANGES: &[(Ipv6Net, &str)] = &[
    (
        Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 128),
        "unspecified",
    ),
    (Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128), "loopback"),
    (v6(0x100, 0, 0, 64), "discard-only"),
    (v6(0x64, 0xff9b, 1, 48), "local-use NAT64"),
    (v6(0x2001, 0, 0, 23), "IETF protocol assignments, Teredo"),
    (v6(0x2001, 0xdb8, 0, 32), "documentation"),
    (v6(0x3fff, 0, 0, 20), "documentation"),
    (v6(0xfc00, 0, 0, 7), "unique local"),
    (v6(0xfe80, 0, 0, 10), "link-local"),
    (v6(0xfec0, 0, 0, 10), "site-local"),
    (v6(0xff00, 0, 0, 8), "multicast"),
];

/// Where unicast addresses of the public IPv6 internet are allocated from.
const GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 3);

/// The IPv6 forms that carry an IPv4 address: the prefix, the form's name, where the IPv4
/// address sits, and whether a public IPv4 address makes the whole address public (the
/// IPv4-compatible form is deprecated: nothing public is reached through it).
type Decode = fn(Ipv6Addr) -> Ipv4Addr;
const EMBEDDING: &[(Ipv6Net, &str, Decode, bool)] = &[
    (
        Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
        "IPv4-mapped",
        last_32_bits,
        true,
    ),
    (v6(0x64, 0xff9b, 0, 96), "NAT64", last_32_bits, true),
    (v6(0x2002, 0, 0, 16), "6to4", bits_16_to_48, true),
    (v6(0, 0, 0, 96), "IPv4-compatible", last_32_bits, false),
];

fn last_32_bits(address: Ipv6Addr) -> Ipv4Addr {
    let octets = address.octets();
    Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
}

fn bits_16_to_48(address: Ipv6Addr) -> Ipv4Addr {
    let octets = address.octets();
    Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])
}

/// `Ok` when webhooks may connect to `address`; otherwise what it is.
pub fn check(address: IpAddr) -> Result<(), NotPublic> {
    match address {
        IpAddr::V4(v4) => check_v4(v4).map_err(|(range, kind)| NotPublic {
            address,
            kind,
            range: Some(IpNet::V4(range)),
            embedded: None,
        }),
        IpAddr::V6(v6) => check_v6(v6),
    }
}

fn check_v4(address: Ipv4Addr) -> Result<(), (Ipv4Net, &'static str)> {
    match IPV4_RANGES
        .iter()
        .find(|(range, _)| range.contains(&address))
    {
        Some(&(range, kind)) => Err((range, kind)),
        None => Ok(()),
    }
}

fn check_v6(address: Ipv6Addr) -> Result<(), NotPublic> {
    let refuse = |range: Ipv6Net, kind| NotPublic {
        address: IpAddr::V6(address),
        kind,
        range: Some(IpNet::V6(range)),
        embedded: None,
    };
    // `::` and `::1` first: they sit inside the IPv4-compatible block but are not that.
    for &(range, kind) in &IPV6_RANGES[..2] {
        if range.contains(&address) {
            return Err(refuse(range, kind));
        }
    }
    for &(prefix, form, decode, public_if_ipv4_is) in EMBEDDING {
        if !prefix.contains(&address) {
            continue;
        }
        let ipv4 = decode(address);
        if let Err((range, kind)) = check_v4(ipv4) {
            return Err(NotPublic {
                address: IpAddr::V6(address),
                kind,
                range: Some(IpNet::V4(range)),
                embedded: Some(Embedded { form, ipv4 }),
            });
        }
        // The form reaches that IPv4 host (mapped and NAT64 addresses lie outside 2000::/3,
        // so they are decided here), unless it is one nothing public is reached through.
        return if public_if_ipv4_is {
            Ok(())
        } else {
            Err(refuse(prefix, "IPv4-compatible, deprecated"))
        };
    }
    if let Some(&(range, kind)) = IPV6_RANGES
        .iter()
        .find(|(range, _)| range.contains(&address))
    {
        return Err(refuse(range, kind));
    }
    if !GLOBAL_UNICAST.contains(&address) {
        return Err(NotPublic {
            address: IpAddr::V6(address),
            kind: "outside the global unicast range 2000::/3",
            range: None,
            embedded: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> NotPublic {
        let address: IpAddr = text.parse().unwrap();
        check(address).expect_err(text)
    }

    fn kind_of(text: &str) -> &'static str {
        refused(text).kind
    }

    #[test]
    fn public_addresses_of_both_families_pass() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            // The public forms of public IPv4 addresses.
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(check(text.parse().unwrap()), Ok(()), "{text}");
        }
    }

    #[test]
    fn every_special_ipv4_range_is_refused_with_its_name() {
        for (text, kind) in [
            ("0.0.0.0", "unspecified, \"this network\""),
            ("0.1.2.3", "unspecified, \"this network\""),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.0.2.10", "documentation"),
            ("192.88.99.1", "the retired 6to4 relay anycast"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("254.1.2.3", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            assert_eq!(kind_of(text), kind, "{text}");
        }
    }

    #[test]
    fn every_special_ipv6_range_is_refused_with_its_name() {
        for (text, kind) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("100::1", "discard-only"),
            ("64:ff9b:1::808:808", "local-use NAT64"),
            ("2001::1", "IETF protocol assignments, Teredo"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("4000::1", "outside the global unicast range 2000::/3"),
            ("5f00::1", "outside the global unicast range 2000::/3"),
            ("::ffff:0:0:1", "outside the global unicast range 2000::/3"),
        ] {
            assert_eq!(kind_of(text), kind, "{text}");
        }
    }

    #[test]
    fn ipv6_forms_of_special_ipv4_addresses_are_judged_by_the_ipv4_rules() {
        for (text, form, ipv4, kind) in [
            ("::ffff:127.0.0.1", "IPv4-mapped", "127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "IPv4-mapped", "10.1.2.3", "private"),
            (
                "::ffff:169.254.169.254",
                "IPv4-mapped",
                "169.254.169.254",
                "link-local",
            ),
            ("::127.0.0.1", "IPv4-compatible", "127.0.0.1", "loopback"),
            ("::192.168.0.1", "IPv4-compatible", "192.168.0.1", "private"),
            ("64:ff9b::7f00:1", "NAT64", "127.0.0.1", "loopback"),
            (
                "64:ff9b::a9fe:a9fe",
                "NAT64",
                "169.254.169.254",
                "link-local",
            ),
            ("64:ff9b::c612:1", "NAT64", "198.18.0.1", "benchmarking"),
            (
                "64:ff9b::6440:1",
                "NAT64",
                "100.64.0.1",
                "carrier-grade NAT",
            ),
            ("2002:7f00:1::1", "6to4", "127.0.0.1", "loopback"),
            ("2002:c0a8:1::", "6to4", "192.168.0.1", "private"),
            ("2002:f000:1::1", "6to4", "240.0.0.1", "reserved"),
            ("2002:ffff:ffff::", "6to4", "255.255.255.255", "broadcast"),
            ("2002:e000:1::", "6to4", "224.0.0.1", "multicast"),
        ] {
            let refusal = refused(text);
            assert_eq!(refusal.kind, kind, "{text}");
            assert_eq!(
                refusal.embedded,
                Some(Embedded {
                    form,
                    ipv4: ipv4.parse().unwrap()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn ipv4_compatible_addresses_are_refused_even_for_public_hosts() {
        assert_eq!(kind_of("::8.8.8.8"), "IPv4-compatible, deprecated");
    }

    #[test]
    fn refusals_read_as_the_address_and_its_range() {
        assert_eq!(
            refused("127.0.0.1").to_string(),
            "127.0.0.1 (loopback, 127.0.0.0/8)"
        );
        assert_eq!(
            refused("64:ff9b::7f00:1").to_string(),
            "64:ff9b::7f00:1 (the NAT64 form of 127.0.0.1: loopback, 127.0.0.0/8)"
        );
        assert_eq!(
            refused("5f00::1").to_string(),
            "5f00::1 (outside the global unicast range 2000::/3)"
        );
    }
}
