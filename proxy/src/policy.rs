//! Which destinations a guest may reach: the `--allow HOST:PORT` rules.
//!
//! A rule's host is `*` (any public address), a name (`example.org`), a name glob
//! (`*.example.org`: any name under it, not the bare name), an IP address or a CIDR block
//! (`10.0.0.0/8`); its port is a number, a range `LO-HI`, or `*`.
//!
//! A guest connects to IP addresses, so name rules apply to the addresses the proxy itself
//! resolved for that name on the guest's behalf (the session remembers them). Private,
//! loopback, link-local and other special addresses are refused unless an IP/CIDR rule
//! names them, or an exact (not globbed) name rule resolved to them (`--allow
//! localhost:8080`): otherwise a public name whose DNS answer points inside the network
//! (DNS rebinding) would open the proxy's network to the guest.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    Any,
    Name(String),
    /// `*.example.org`, stored as `.example.org`.
    Suffix(String),
    Net(IpAddr, u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports(pub u16, pub u16);

impl Ports {
    pub const ANY: Ports = Ports(0, u16::MAX);

    pub fn parse(s: &str) -> Result<Ports, String> {
        let port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("bad port '{p}' in '{s}'"))
        };
        Ok(match s {
            "*" => Ports::ANY,
            _ => match s.split_once('-') {
                Some((lo, hi)) if port(lo)? <= port(hi)? => Ports(port(lo)?, port(hi)?),
                Some(_) => return Err(format!("empty port range '{s}'")),
                None => Ports(port(s)?, port(s)?),
            },
        })
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.0..=self.1).contains(&port)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    host: Host,
    ports: Ports,
}

impl Rule {
    /// `HOST:PORT`; an IPv6 host is written in brackets (`[2001:db8::/32]:443`).
    pub fn parse(s: &str) -> Result<Rule, String> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}': expected HOST:PORT (PORT may be * or LO-HI)"))?;
        let ports = Ports::parse(port)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = if host == "*" {
            Host::Any
        } else if let Some((ip, bits)) = host.split_once('/') {
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("'{s}': bad network address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            match bits.parse::<u8>() {
                Ok(b) if b <= max => Host::Net(ip.to_canonical(), b),
                _ => return Err(format!("'{s}': bad prefix length (0-{max})")),
            }
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            let ip = ip.to_canonical();
            Host::Net(ip, if ip.is_ipv4() { 32 } else { 128 })
        } else if let Some(suffix) = host.strip_prefix("*.") {
            check_name(suffix).map_err(|e| format!("'{s}': {e}"))?;
            Host::Suffix(format!(".{}", suffix.to_ascii_lowercase()))
        } else {
            check_name(host).map_err(|e| format!("'{s}': {e}"))?;
            Host::Name(host.to_ascii_lowercase())
        };
        Ok(Rule { host, ports })
    }

    fn matches_name(&self, name: &str) -> bool {
        match &self.host {
            Host::Any => true,
            Host::Name(n) => n == name,
            Host::Suffix(s) => name.ends_with(s.as_str()),
            Host::Net(..) => false,
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("'{name}' is not a host name"))
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - bits as u32).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - bits as u32).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Addresses that are not the public internet: every block of the IANA IPv4 and IPv6
/// Special-Purpose Address Registries that is not globally reachable (loopback, private
/// and ULA, link-local, carrier-grade NAT, documentation, benchmarking, reserved,
/// multicast, broadcast, discard), plus the ones that embed or translate an IPv4 address
/// (IPv4-compatible ::/96, NAT64 64:ff9b::/96 and its local-use /48, 6to4 2002::/16, the
/// IETF block with Teredo, the old 6to4 relay 192.88.99.0/24), which could otherwise
/// carry a guest to a private IPv4 address, and deprecated site-local fec0::/10.
pub fn is_special(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let nets: [(Ipv4Addr, u8); 15] = [
                (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
                (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
                (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared (carrier-grade NAT)
                (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
                (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local
                (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
                (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
                (Ipv4Addr::new(192, 0, 2, 0), 24),    // TEST-NET-1
                (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast (deprecated)
                (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
                (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
                (Ipv4Addr::new(198, 51, 100, 0), 24), // TEST-NET-2
                (Ipv4Addr::new(203, 0, 113, 0), 24),  // TEST-NET-3
                (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
                (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and broadcast
            ];
            nets.iter()
                .any(|&(n, b)| in_net(IpAddr::V4(v4), IpAddr::V4(n), b))
        }
        IpAddr::V6(v6) => {
            let nets: [(Ipv6Addr, u8); 15] = [
                (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96), // ::, ::1, IPv4-compatible
                (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96), // NAT64
                (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local NAT64
                (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard-only
                (Ipv6Addr::new(0x100, 0, 0, 1, 0, 0, 0, 0), 64), // dummy prefix
                (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF, Teredo
                (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
                (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4
                (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
                (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16), // SRv6 SIDs
                (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique local
                (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
                (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local
                (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
                (Ipv6Addr::LOCALHOST, 128),
            ];
            nets.iter()
                .any(|&(n, b)| in_net(IpAddr::V6(v6), IpAddr::V6(n), b))
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

impl Policy {
    /// May the guest ask for the addresses of `name`? Only if some rule could let it
    /// connect there (any port).
    pub fn may_resolve(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.rules.iter().any(|r| r.matches_name(&name))
    }

    /// May the guest reach `ip:port` (`port` None: some port)? `names` are the names this
    /// session resolved to `ip`. `Err` holds the reason, for the log.
    pub fn check(&self, ip: IpAddr, port: Option<u16>, names: &[String]) -> Result<(), String> {
        let ip = ip.to_canonical();
        let for_port = || {
            self.rules
                .iter()
                .filter(move |r| port.is_none_or(|p| r.ports.contains(p)))
        };
        if for_port().any(|r| matches!(r.host, Host::Net(n, b) if in_net(ip, n, b))) {
            return Ok(());
        }
        let by_name = |exact_only: bool| {
            for_port().any(|r| {
                names.iter().any(|n| match &r.host {
                    Host::Name(_) => r.matches_name(n),
                    _ => !exact_only && r.matches_name(n),
                })
            })
        };
        if is_special(ip) {
            if by_name(true) {
                return Ok(());
            }
            let host = if ip.is_ipv6() {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            let port = port.map_or("PORT".to_string(), |p| p.to_string());
            return Err(format!(
                "{ip} is a private, loopback or special address; allow it explicitly \
                 (--allow {host}:{port} or a CIDR)"
            ));
        }
        if by_name(false) || for_port().any(|r| r.host == Host::Any) {
            return Ok(());
        }
        match port {
            Some(p) => Err(format!(
                "{} is not in the allow-list",
                std::net::SocketAddr::new(ip, p)
            )),
            None => Err(format!("{ip} is not in the allow-list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> Policy {
        Policy {
            rules: rules.iter().map(|r| Rule::parse(r).unwrap()).collect(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rules_parse_or_explain() {
        assert_eq!(
            Rule::parse("example.org:443").unwrap().ports,
            Ports(443, 443)
        );
        assert_eq!(Rule::parse("*:*").unwrap().host, Host::Any);
        assert_eq!(
            Rule::parse("[::1]:80").unwrap().host,
            Host::Net(ip("::1"), 128)
        );
        assert_eq!(
            Rule::parse("10.0.0.0/8:1000-2000").unwrap().ports,
            Ports(1000, 2000)
        );
        for bad in [
            "example.org",
            "x:99999",
            "x:5-1",
            "10.0.0.0/33:1",
            "bad host:1",
            "*.:1",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_addresses_follow_the_rules() {
        let p = policy(&["*:443", "*.example.org:80", "203.0.113.0/24:22"]);
        assert!(p.check(ip("93.184.216.34"), Some(443), &[]).is_ok());
        assert!(p.check(ip("93.184.216.34"), Some(80), &[]).is_err());
        assert!(
            p.check(ip("93.184.216.34"), Some(80), &["www.example.org".into()])
                .is_ok()
        );
        assert!(
            p.check(ip("93.184.216.34"), Some(80), &["example.org".into()])
                .is_err(),
            "glob"
        );
        assert!(p.check(ip("203.0.113.9"), Some(22), &[]).is_ok());
        assert!(
            p.check(ip("::ffff:203.0.113.9"), Some(22), &[]).is_ok(),
            "v4-mapped"
        );
    }

    #[test]
    fn special_addresses_need_an_explicit_rule() {
        let p = policy(&["*:*", "*.example.org:*"]);
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            // Added with the IANA special-purpose registries: addresses that embed IPv4
            // (and can reach a private one), documentation, site-local.
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "2001:db8::1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(p.check(ip(a), Some(80), &[]).is_err(), "{a}");
        }
        // A globbed name resolving inside the network is DNS rebinding: still refused.
        assert!(
            p.check(ip("10.0.0.1"), Some(80), &["evil.example.org".into()])
                .is_err()
        );
        let p = policy(&["127.0.0.1:7000", "localhost:8000", "10.0.0.0/8:*"]);
        assert!(p.check(ip("127.0.0.1"), Some(7000), &[]).is_ok());
        assert!(p.check(ip("127.0.0.1"), Some(7001), &[]).is_err());
        assert!(
            p.check(ip("127.0.0.1"), Some(8000), &["localhost".into()])
                .is_ok()
        );
        assert!(p.check(ip("10.9.9.9"), Some(1), &[]).is_ok());
        assert!(p.may_resolve("LOCALHOST."));
        assert!(!p.may_resolve("example.org"));
    }
}
