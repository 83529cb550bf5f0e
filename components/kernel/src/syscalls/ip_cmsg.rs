//! The ancillary data (control messages) of IP sockets: what sendmsg(2) takes
//! (ip_cmsg_send, ip6_datagram_send_ctl: IP_PKTINFO, IP_TTL, IP_TOS, IPV6_PKTINFO,
//! IPV6_HOPLIMIT, IPV6_TCLASS) and what recvmsg(2) reports for a datagram
//! (sock_recv_cmsgs, ip_cmsg_recv_offset, ip6_datagram_recv_ctl: SO_TIMESTAMP and its
//! variants, IP_PKTINFO, IP_TTL, IP_TOS, IP_ORIGDSTADDR and the IPv6 ones), and the error
//! queue's report (ip_recv_error: IP_RECVERR/IPV6_RECVERR's sock_extended_err).
//! socket.rs calls in here; AF_UNIX's SCM_RIGHTS and SCM_CREDENTIALS stay there.

use std::net::{IpAddr, SocketAddr};

use friscy_abi::Errno;
use friscy_net::{DgramMeta, SendMeta};

use super::socket::{
    IP_TTL, IPPROTO_IP as SOL_IP, IPPROTO_IPV6 as SOL_IPV6, SCM_CREDENTIALS, SCM_RIGHTS, SOL_SOCKET,
};
use crate::socket::{AF_INET6, Socket};

/// The SOL_SOCKET timestamps: the option and the control message share the number.
/// On 64-bit Linux the _OLD ones (29, 35) and the _NEW ones (63, 64) carry the same
/// 16-byte structures.
const SO_TIMESTAMP_OLD: i32 = 29;
const SO_TIMESTAMPNS_OLD: i32 = 35;
const SO_TIMESTAMP_NEW: i32 = 63;
const SO_TIMESTAMPNS_NEW: i32 = 64;

const IP_TOS: i32 = 1;
const IP_PKTINFO: i32 = 8;
pub(super) const IP_RECVERR: i32 = 11;
const IP_RECVTTL: i32 = 12;
const IP_RECVTOS: i32 = 13;
/// IP_RECVORIGDSTADDR as an option, IP_ORIGDSTADDR as a control message.
const IP_ORIGDSTADDR: i32 = 20;

pub(super) const IPV6_RECVERR: i32 = 25;
const IPV6_RECVPKTINFO: i32 = 49;
const IPV6_PKTINFO: i32 = 50;
const IPV6_RECVHOPLIMIT: i32 = 51;
const IPV6_HOPLIMIT: i32 = 52;
const IPV6_RECVTCLASS: i32 = 66;
const IPV6_TCLASS: i32 = 67;
/// IPV6_RECVORIGDSTADDR and IPV6_ORIGDSTADDR.
const IPV6_ORIGDSTADDR: i32 = 74;

/// sock_extended_err's ee_origin for ICMP and ICMPv6 reports.
const SO_EE_ORIGIN_ICMP: u8 = 2;
const SO_EE_ORIGIN_ICMP6: u8 = 3;
/// ICMP destination unreachable / port unreachable, and ICMPv6's.
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_PORT_UNREACH: u8 = 3;
const ICMPV6_DEST_UNREACH: u8 = 1;
const ICMPV6_PORT_UNREACH: u8 = 4;

/// The loopback interface's index (the only interface the guest has: netlink.rs).
const LO_IFINDEX: u32 = 1;

/// An int option's stored value. setsockopt takes a shorter value for some IP options
/// (a byte), read here as the int it stands for.
pub(super) fn stored_int(s: &Socket, level: i32, name: i32) -> Option<i32> {
    let (_, v) = s
        .stored
        .iter()
        .find(|((l, n), _)| *l == level && *n == name)?;
    let mut b = [0u8; 4];
    let n = v.len().min(4);
    b[..n].copy_from_slice(&v[..n]);
    Some(i32::from_le_bytes(b))
}

/// Whether a flag option is on.
fn on(s: &Socket, level: i32, name: i32) -> bool {
    stored_int(s, level, name).is_some_and(|v| v != 0)
}

/// One control message a send carried, checked as Linux checks it.
pub(super) enum SendCmsg {
    /// SCM_RIGHTS' descriptors (AF_UNIX).
    Rights(Vec<i32>),
    /// Nothing to do: SCM_CREDENTIALS (the sender's own), or a level the socket's family
    /// skips.
    Skip,
    /// IP per-datagram choices, merged into the send's [`SendMeta`].
    Ip(SendMeta),
}

/// One control message of a sendmsg on a socket of `domain` (unix: __scm_send; IPv4:
/// ip_cmsg_send; IPv6: ip6_datagram_send_ctl). Levels a family does not know are skipped
/// (Linux's `continue`); a known level with an unknown type, or a short or out-of-range
/// value, is EINVAL.
pub(super) fn parse_send(domain: u16, level: i32, ty: i32, data: &[u8]) -> Result<SendCmsg, Errno> {
    let int = || -> Result<i32, Errno> {
        // The ints must be exactly CMSG_LEN(sizeof(int)).
        if data.len() != 4 {
            return Err(Errno::EINVAL);
        }
        Ok(i32::from_le_bytes(data.try_into().expect("4 bytes")))
    };
    let ip = |src, ttl, tos| Ok(SendCmsg::Ip(SendMeta { src, ttl, tos }));
    // IPV6_HOPLIMIT and IPV6_TCLASS: 0-255, or -1 for the socket's own.
    let v6_byte = || match int()? {
        -1 => Ok(None),
        v @ 0..=255 => Ok(Some(v as u8)),
        _ => Err(Errno::EINVAL),
    };
    let inet = domain != crate::socket::AF_UNIX;
    match level {
        SOL_SOCKET => match ty {
            SCM_RIGHTS if !inet => Ok(SendCmsg::Rights(
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect(),
            )),
            // __sock_cmsg_send ignores descriptors and credentials on IP sockets.
            SCM_RIGHTS | SCM_CREDENTIALS => Ok(SendCmsg::Skip),
            _ => Err(Errno::EINVAL),
        },
        _ if !inet => Ok(SendCmsg::Skip),
        SOL_IP if domain != AF_INET6 => match ty {
            IP_PKTINFO => {
                // struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst, ipi_addr; }
                if data.len() != 12 {
                    return Err(Errno::EINVAL);
                }
                check_ifindex(&data[0..4])?;
                let spec: [u8; 4] = data[4..8].try_into().expect("4 bytes");
                ip((spec != [0; 4]).then(|| IpAddr::from(spec)), None, None)
            }
            IP_TTL => match int()? {
                v @ 1..=255 => ip(None, Some(v as u8), None),
                _ => Err(Errno::EINVAL),
            },
            // An int or a single byte (ip_cmsg_send).
            IP_TOS => match if data.len() == 1 {
                data[0] as i32
            } else {
                int()?
            } {
                v @ 0..=255 => ip(None, None, Some(v as u8)),
                _ => Err(Errno::EINVAL),
            },
            _ => Err(Errno::EINVAL),
        },
        SOL_IPV6 if domain == AF_INET6 => match ty {
            IPV6_PKTINFO => {
                // struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
                if data.len() < 20 {
                    return Err(Errno::EINVAL);
                }
                check_ifindex(&data[16..20])?;
                let a: [u8; 16] = data[..16].try_into().expect("16 bytes");
                ip((a != [0; 16]).then(|| IpAddr::from(a)), None, None)
            }
            IPV6_HOPLIMIT => ip(None, v6_byte()?, None),
            IPV6_TCLASS => ip(None, None, v6_byte()?),
            _ => Err(Errno::EINVAL),
        },
        _ => Ok(SendCmsg::Skip),
    }
}

/// An interface index in a pktinfo: 0 (any) or the loopback's; others do not exist.
fn check_ifindex(b: &[u8]) -> Result<(), Errno> {
    match i32::from_le_bytes(b.try_into().expect("4 bytes")) {
        0 => Ok(()),
        i if i as u32 == LO_IFINDEX => Ok(()),
        _ => Err(Errno::ENODEV),
    }
}

/// Merge one message's choices into the send's.
pub(super) fn merge(into: &mut SendMeta, m: SendMeta) {
    into.src = m.src.or(into.src);
    into.ttl = m.ttl.or(into.ttl);
    into.tos = m.tos.or(into.tos);
}

/// The TOS (traffic class) a send carries unless a control message says otherwise: the
/// socket's IP_TOS or IPV6_TCLASS option.
pub(super) fn default_tos(s: &Socket) -> Option<u8> {
    let v = if s.domain == AF_INET6 {
        stored_int(s, SOL_IPV6, IPV6_TCLASS)
    } else {
        stored_int(s, SOL_IP, IP_TOS)
    };
    v.filter(|v| (0..=255).contains(v)).map(|v| v as u8)
}

/// A control message to deliver: level, type, data.
pub(super) type Cmsg = (i32, i32, Vec<u8>);

/// The control messages a datagram received on IP socket `s` carries, in Linux's order:
/// the timestamp first (sock_recv_cmsgs), then the IP ones in the order of their flag
/// bits (ip_cmsg_recv_offset; ip6_datagram_recv_ctl for IPv6). `local` gives the
/// socket's address, for a backend that cannot tell where a datagram was sent; `now` the
/// wall clock (a loopback datagram arrives as it is sent). Both are asked only when a
/// message needs them.
pub(super) fn recv_cmsgs(
    s: &Socket,
    meta: &DgramMeta,
    local: impl FnOnce() -> Option<SocketAddr>,
    now: impl FnOnce() -> (i64, u32),
) -> Vec<Cmsg> {
    let mut out = Vec::new();
    let stamp = |ty: i32, ns: bool| {
        let (sec, nsec) = now();
        let sub = if ns { nsec as i64 } else { nsec as i64 / 1000 };
        let mut b = sec.to_le_bytes().to_vec();
        b.extend_from_slice(&sub.to_le_bytes());
        out.push((SOL_SOCKET, ty, b));
    };
    // sock_recv_timestamp: the nanosecond form wins when both are set.
    if on(s, SOL_SOCKET, SO_TIMESTAMPNS_NEW) {
        stamp(SO_TIMESTAMPNS_NEW, true);
    } else if on(s, SOL_SOCKET, SO_TIMESTAMPNS_OLD) {
        stamp(SO_TIMESTAMPNS_OLD, true);
    } else if on(s, SOL_SOCKET, SO_TIMESTAMP_NEW) {
        stamp(SO_TIMESTAMP_NEW, false);
    } else if on(s, SOL_SOCKET, SO_TIMESTAMP_OLD) {
        stamp(SO_TIMESTAMP_OLD, false);
    }
    const ASKED: [(i32, i32); 8] = [
        (SOL_IP, IP_PKTINFO),
        (SOL_IP, IP_RECVTTL),
        (SOL_IP, IP_RECVTOS),
        (SOL_IP, IP_ORIGDSTADDR),
        (SOL_IPV6, IPV6_RECVPKTINFO),
        (SOL_IPV6, IPV6_RECVHOPLIMIT),
        (SOL_IPV6, IPV6_RECVTCLASS),
        (SOL_IPV6, IPV6_ORIGDSTADDR),
    ];
    if !ASKED.iter().any(|&(l, n)| on(s, l, n)) {
        return out;
    }
    let Some(dst) = meta.dst.or_else(local) else {
        return out;
    };
    let v4 = match dst.ip() {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    if s.domain == AF_INET6 {
        if on(s, SOL_IPV6, IPV6_RECVPKTINFO) {
            let mut b = match dst.ip() {
                IpAddr::V4(a) => a.to_ipv6_mapped().octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            b.extend_from_slice(&LO_IFINDEX.to_le_bytes());
            out.push((SOL_IPV6, IPV6_PKTINFO, b));
        }
        if v4.is_none() {
            // ip6_datagram_recv_specific_ctl: IPv6 packets only.
            if on(s, SOL_IPV6, IPV6_RECVHOPLIMIT) {
                out.push((
                    SOL_IPV6,
                    IPV6_HOPLIMIT,
                    (meta.ttl as i32).to_le_bytes().to_vec(),
                ));
            }
            if on(s, SOL_IPV6, IPV6_RECVTCLASS) {
                out.push((
                    SOL_IPV6,
                    IPV6_TCLASS,
                    (meta.tos as i32).to_le_bytes().to_vec(),
                ));
            }
            if on(s, SOL_IPV6, IPV6_ORIGDSTADDR) {
                out.push((SOL_IPV6, IPV6_ORIGDSTADDR, super::socket::inet_bytes(dst)));
            }
            return out;
        }
    }
    // IPv4 packets (on an IPv6 socket too, when its IPv4 options ask: udpv6_recvmsg).
    let Some(v4) = v4 else {
        return out;
    };
    if on(s, SOL_IP, IP_PKTINFO) {
        let mut b = LO_IFINDEX.to_le_bytes().to_vec();
        // ipi_spec_dst, the local address that took it, and ipi_addr, the header's
        // destination: the same on a host's own interface.
        b.extend_from_slice(&v4.octets());
        b.extend_from_slice(&v4.octets());
        out.push((SOL_IP, IP_PKTINFO, b));
    }
    if on(s, SOL_IP, IP_RECVTTL) {
        out.push((SOL_IP, IP_TTL, (meta.ttl as i32).to_le_bytes().to_vec()));
    }
    if on(s, SOL_IP, IP_RECVTOS) {
        out.push((SOL_IP, IP_TOS, vec![meta.tos]));
    }
    if on(s, SOL_IP, IP_ORIGDSTADDR) {
        let a = SocketAddr::new(IpAddr::V4(v4), dst.port());
        out.push((SOL_IP, IP_ORIGDSTADDR, super::socket::inet_bytes(a)));
    }
    out
}

/// The report of a datagram that bounced (ip_recv_error, ipv6_recv_error): an
/// IP_RECVERR (IPV6_RECVERR) control message holding a sock_extended_err for an ICMP
/// port unreachable, ECONNREFUSED, followed by the offender: the loopback address that
/// answered, port 0.
pub(super) fn bounce_cmsg(s: &Socket, dst: SocketAddr) -> Cmsg {
    let v6 = s.domain == AF_INET6;
    let (origin, ty, code) = if v6 {
        (SO_EE_ORIGIN_ICMP6, ICMPV6_DEST_UNREACH, ICMPV6_PORT_UNREACH)
    } else {
        (SO_EE_ORIGIN_ICMP, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH)
    };
    let mut b = (Errno::ECONNREFUSED as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&[origin, ty, code, 0]);
    // ee_info, ee_data.
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&super::socket::inet_bytes(SocketAddr::new(dst.ip(), 0)));
    if v6 {
        (SOL_IPV6, IPV6_RECVERR, b)
    } else {
        (SOL_IP, IP_RECVERR, b)
    }
}

/// Write control messages into a buffer of `room` bytes as put_cmsg does: each takes
/// CMSG_SPACE of its data; one that does not fit is cut to what is left (its cmsg_len
/// says so) and MSG_CTRUNC is set; with less room than a header nothing more is written.
/// Returns the bytes and whether anything was cut.
pub(super) fn put_cmsgs(cmsgs: &[Cmsg], mut room: usize) -> (Vec<u8>, bool) {
    const HDR: usize = 16;
    let mut out = Vec::new();
    let mut cut = false;
    for (level, ty, data) in cmsgs {
        if room < HDR {
            cut = true;
            continue;
        }
        let mut len = HDR + data.len();
        if room < len {
            cut = true;
            len = room;
        }
        let start = out.len();
        out.extend_from_slice(&(len as u64).to_le_bytes());
        out.extend_from_slice(&level.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&data[..len - HDR]);
        let space = ((HDR + data.len() + 7) & !7).min(room);
        out.resize(start + space, 0);
        room -= space;
    }
    (out, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_cmsgs_cuts_as_put_cmsg_does() {
        let c: Vec<Cmsg> = vec![
            (SOL_SOCKET, SO_TIMESTAMP_OLD, vec![1; 16]),
            (SOL_IP, IP_PKTINFO, vec![2; 12]),
            (SOL_IP, IP_TTL, vec![3; 4]),
        ];
        // Room for all: 32 + 32 + 24.
        let (b, cut) = put_cmsgs(&c, 512);
        assert_eq!((b.len(), cut), (88, false));
        // 56 bytes: the timestamp whole, the pktinfo cut to 24 (8 bytes of its 12), the
        // TTL dropped.
        let (b, cut) = put_cmsgs(&c, 56);
        assert!(cut);
        assert_eq!(b.len(), 56);
        assert_eq!(u64::from_le_bytes(b[32..40].try_into().unwrap()), 24);
        assert_eq!(&b[48..56], &[2; 8]);
        let (b, cut) = put_cmsgs(&c, 0);
        assert_eq!((b.len(), cut), (0, true));
    }

    #[test]
    fn send_cmsgs_are_checked_as_linux_checks_them() {
        use crate::socket::{AF_INET, AF_UNIX};
        let ttl = |v: i32| parse_send(AF_INET, SOL_IP, IP_TTL, &v.to_le_bytes());
        assert!(matches!(
            ttl(64),
            Ok(SendCmsg::Ip(SendMeta { ttl: Some(64), .. }))
        ));
        assert_eq!(ttl(0).err(), Some(Errno::EINVAL));
        assert_eq!(ttl(256).err(), Some(Errno::EINVAL));
        assert_eq!(
            parse_send(AF_INET, SOL_IP, IP_TTL, &[1, 0]).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            parse_send(AF_INET, SOL_IP, 99, &[0; 4]).err(),
            Some(Errno::EINVAL)
        );
        assert!(matches!(
            parse_send(AF_INET, 1234, 1, &[0; 4]),
            Ok(SendCmsg::Skip)
        ));
        assert!(matches!(
            parse_send(AF_UNIX, SOL_IP, IP_PKTINFO, &[0; 12]),
            Ok(SendCmsg::Skip)
        ));
        assert!(matches!(
            parse_send(AF_INET, SOL_SOCKET, SCM_RIGHTS, &[0; 4]),
            Ok(SendCmsg::Skip)
        ));
        let mut pi = vec![0; 4];
        pi.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0]);
        assert!(matches!(
            parse_send(AF_INET, SOL_IP, IP_PKTINFO, &pi),
            Ok(SendCmsg::Ip(SendMeta { src: Some(_), .. }))
        ));
        pi[0] = 7;
        assert_eq!(
            parse_send(AF_INET, SOL_IP, IP_PKTINFO, &pi).err(),
            Some(Errno::ENODEV)
        );
    }
}
