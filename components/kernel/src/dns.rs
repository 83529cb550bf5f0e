//! The embedded DNS responder: guests resolve names the way they always do (musl's and
//! glibc's stub resolvers send UDP queries to the nameserver in /etc/resolv.conf), and the
//! kernel answers queries sent to [`NAMESERVER`] itself through the net backend's
//! `resolve` (wasi:sockets/ip-name-lookup), since a wasm guest has no path to a real
//! nameserver of its own. Docker's embedded DNS sits at the same address.
//!
//! Only standard queries for A and AAAA get addresses; other types get an empty answer
//! (NODATA) and other opcodes NOTIMP, so resolvers move on instead of timing out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use friscy_abi::Errno;

/// Where resolv.conf points the guest (127.0.0.11:53, as Docker's embedded DNS).
pub const NAMESERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)), 53);

/// What friscy writes to the guest's /etc/resolv.conf when the network is on.
pub const RESOLV_CONF: &[u8] =
    b"# written by friscy: names are resolved by the host (wasi:sockets/ip-name-lookup)\nnameserver 127.0.0.11\noptions ndots:0\n";

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const RCODE_FORMERR: u16 = 1;
const RCODE_SERVFAIL: u16 = 2;
const RCODE_NXDOMAIN: u16 = 3;
const RCODE_NOTIMP: u16 = 4;
/// Answers beyond this would not fit a 512-byte UDP reply with A records; resolvers use
/// the first few anyway.
const MAX_ANSWERS: usize = 16;

/// Names looked up during this run (A and AAAA queries for one name come in pairs).
#[derive(Default)]
pub struct Cache {
    names: HashMap<String, Result<Vec<IpAddr>, Errno>>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The question's name (dotted, lower-cased) and where the question ends.
fn parse_name(q: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    loop {
        let len = *q.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        // Compression pointers never appear in a question of a query.
        if len > 63 {
            return None;
        }
        let label = q.get(at..at + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    Some((name, at))
}

fn header(id: u16, rd: u16, rcode: u16, qd: u16, an: u16) -> Vec<u8> {
    let flags: u16 = 0x8000 | rd | 0x0080 | rcode; // QR, RD as asked, RA
    let mut r = Vec::with_capacity(512);
    for v in [id, flags, qd, an, 0, 0] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r
}

/// The reply to one query, or `None` for something that is not a query at all (dropped,
/// as a nameserver drops garbage).
pub fn answer(
    query: &[u8],
    cache: &mut Cache,
    resolve: impl FnOnce(&str) -> Result<Vec<IpAddr>, Errno>,
) -> Option<Vec<u8>> {
    let id = be16(query, 0)?;
    let flags = be16(query, 2)?;
    if flags & 0x8000 != 0 {
        return None; // a response, not a query
    }
    let rd = flags & 0x0100;
    let opcode = (flags >> 11) & 0xf;
    let qdcount = be16(query, 4)?;
    if opcode != 0 {
        return Some(header(id, rd, RCODE_NOTIMP, 0, 0));
    }
    if qdcount != 1 {
        return Some(header(id, rd, RCODE_FORMERR, 0, 0));
    }
    let Some((name, end)) = parse_name(query, 12) else {
        return Some(header(id, rd, RCODE_FORMERR, 0, 0));
    };
    let (Some(qtype), Some(_class)) = (be16(query, end), be16(query, end + 2)) else {
        return Some(header(id, rd, RCODE_FORMERR, 0, 0));
    };
    let question = &query[12..end + 4];
    let addrs = match qtype {
        TYPE_A | TYPE_AAAA => cache
            .names
            .entry(name.clone())
            .or_insert_with(|| resolve(&name))
            .clone(),
        _ => Ok(Vec::new()),
    };
    let addrs = match addrs {
        Ok(a) => a,
        Err(Errno::ENOENT) => {
            let mut r = header(id, rd, RCODE_NXDOMAIN, 1, 0);
            r.extend_from_slice(question);
            return Some(r);
        }
        Err(_) => {
            let mut r = header(id, rd, RCODE_SERVFAIL, 1, 0);
            r.extend_from_slice(question);
            return Some(r);
        }
    };
    let records: Vec<Vec<u8>> = addrs
        .iter()
        .filter_map(|ip| match (qtype, ip) {
            (TYPE_A, IpAddr::V4(v4)) => Some(v4.octets().to_vec()),
            (TYPE_AAAA, IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                Some(v6.octets().to_vec())
            }
            _ => None,
        })
        .take(MAX_ANSWERS)
        .collect();
    let mut r = header(id, rd, 0, 1, records.len() as u16);
    r.extend_from_slice(question);
    for data in records {
        r.extend_from_slice(&0xc00cu16.to_be_bytes()); // the name: a pointer to the question
        r.extend_from_slice(&qtype.to_be_bytes());
        r.extend_from_slice(&1u16.to_be_bytes()); // class IN
        r.extend_from_slice(&60u32.to_be_bytes()); // TTL
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(&data);
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut q = header(id, 0x0100, 0, 1, 0);
        q[2] &= 0x7f; // not a response
        q[3] = 0;
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    #[test]
    fn a_and_aaaa_answers_come_from_one_lookup() {
        let mut cache = Cache::default();
        let mut lookups = 0;
        let ips = vec![
            "10.1.2.3".parse().unwrap(),
            "2001:db8::1".parse::<IpAddr>().unwrap(),
        ];
        let r = answer(&query(7, "Example.ORG", TYPE_A), &mut cache, |n| {
            lookups += 1;
            assert_eq!(n, "example.org");
            Ok(ips.clone())
        })
        .unwrap();
        assert_eq!(&r[..2], &7u16.to_be_bytes());
        assert_eq!(be16(&r, 6), Some(1)); // one answer
        assert_eq!(&r[r.len() - 4..], &[10, 1, 2, 3]);
        let r = answer(&query(8, "example.org", TYPE_AAAA), &mut cache, |_| {
            lookups += 1;
            Ok(vec![])
        })
        .unwrap();
        assert_eq!(be16(&r, 6), Some(1));
        assert_eq!(&r[r.len() - 16..r.len() - 14], &[0x20, 0x01]);
        assert_eq!(lookups, 1);
    }

    #[test]
    fn unknown_names_are_nxdomain_and_garbage_is_refused() {
        let mut cache = Cache::default();
        let r = answer(&query(1, "nope.invalid", TYPE_A), &mut cache, |_| {
            Err(Errno::ENOENT)
        })
        .unwrap();
        assert_eq!(be16(&r, 2).unwrap() & 0xf, RCODE_NXDOMAIN);
        assert_eq!(answer(&[1, 2, 3], &mut cache, |_| Ok(vec![])), None);
        let r = answer(&query(2, "x", 16), &mut cache, |_| Ok(vec![])).unwrap();
        assert_eq!((be16(&r, 2).unwrap() & 0xf, be16(&r, 6)), (0, Some(0)));
    }
}
