//! NETLINK_ROUTE sockets, enough for what lists interfaces: glibc's getifaddrs and
//! if_nameindex, Node's os.networkInterfaces(), Go's net.Interfaces, `ip link` / `ip
//! addr`. A guest sees the interfaces a container started with `--network none` has:
//! the loopback device `lo`, 127.0.0.1/8 and ::1/128 (friscy's network, when on, is the
//! host's sockets reached through wasi, not an interface of the guest).
//!
//! Requests are answered at once into the socket's queue of datagrams (rtnetlink(7),
//! netlink(7)): RTM_GETLINK and RTM_GETADDR dumps or single gets; changes (RTM_NEWADDR,
//! RTM_NEWROUTE...) get an error reply with EPERM, as a container without CAP_NET_ADMIN
//! does, and requests of other types EOPNOTSUPP. Multicast groups may be joined and never
//! report anything: nothing here changes.

use std::collections::VecDeque;

use friscy_abi::Errno;

pub const AF_NETLINK: u16 = 16;
pub const NETLINK_ROUTE: u32 = 0;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;

/// NLMSG_MIN_TYPE, which is also RTM_BASE; RTM_MAX (include/uapi/linux/rtnetlink.h).
const NLMSG_MIN_TYPE: u16 = 0x10;
const RTM_MAX: u16 = 0x7f;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const ARPHRD_LOOPBACK: u16 = 772;
/// IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP.
const LO_FLAGS: u32 = 0x1 | 0x8 | 0x40 | 0x1_0000;
const LO_INDEX: u32 = 1;
const LO_MTU: u32 = 65536;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_FLAGS: u16 = 8;
/// IFA_F_PERMANENT, and for ::1 also IFA_F_NOPREFIXROUTE (as Linux 6 shows them; the
/// header has the low 8 bits, IFA_FLAGS all of them).
const IFA_F_PERMANENT: u32 = 0x80;
const IFA_F_NOPREFIXROUTE: u32 = 0x200;
const RT_SCOPE_HOST: u8 = 254;
/// IF_OPER_UNKNOWN: what Linux reports for `lo`.
const IF_OPER_UNKNOWN: u8 = 0;

/// One netlink socket: its port id (0 until bound) and the replies not read yet.
#[derive(Debug, Default)]
pub struct Netlink {
    pub port: u32,
    pub groups: u32,
    pub replies: VecDeque<Vec<u8>>,
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A message under construction: the header, then the body and attributes.
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, port: u32) -> Msg {
        let mut b = Vec::with_capacity(128);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&port.to_le_bytes());
        Msg(b)
    }
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_le_bytes());
        self.0.extend_from_slice(&ty.to_le_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
    }
    fn done(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

/// RTM_NEWLINK for `lo`.
fn link(flags: u16, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWLINK, flags, seq, port);
    // struct ifinfomsg: family, pad, type, index, flags, change.
    m.put(&[0, 0]);
    m.put(&ARPHRD_LOOPBACK.to_le_bytes());
    m.put(&LO_INDEX.to_le_bytes());
    m.put(&LO_FLAGS.to_le_bytes());
    m.put(&0u32.to_le_bytes());
    m.attr(IFLA_IFNAME, b"lo\0");
    m.attr(IFLA_TXQLEN, &1000u32.to_le_bytes());
    m.attr(IFLA_OPERSTATE, &[IF_OPER_UNKNOWN]);
    m.attr(IFLA_MTU, &LO_MTU.to_le_bytes());
    m.attr(IFLA_ADDRESS, &[0; 6]);
    m.attr(IFLA_BROADCAST, &[0; 6]);
    m.done()
}

/// RTM_NEWADDR for 127.0.0.1/8 or ::1/128 on `lo`.
fn addr(family: u8, flags: u16, seq: u32, port: u32) -> Vec<u8> {
    let mut m = Msg::new(RTM_NEWADDR, flags, seq, port);
    let (prefix, ifa_flags, ip): (u8, u32, Vec<u8>) = if family == AF_INET {
        (8, IFA_F_PERMANENT, vec![127, 0, 0, 1])
    } else {
        let mut one = vec![0; 16];
        one[15] = 1;
        (128, IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE, one)
    };
    // struct ifaddrmsg: family, prefixlen, flags (the low 8 bits), scope, index.
    m.put(&[family, prefix, ifa_flags as u8, RT_SCOPE_HOST]);
    m.put(&LO_INDEX.to_le_bytes());
    m.attr(IFA_ADDRESS, &ip);
    if family == AF_INET {
        m.attr(IFA_LOCAL, &ip);
        m.attr(IFA_LABEL, b"lo\0");
    }
    m.attr(IFA_FLAGS, &ifa_flags.to_le_bytes());
    m.done()
}

/// NLMSG_ERROR carrying `err` (0: an acknowledgement) and the request's header.
fn error(err: i32, request: &[u8], port: u32) -> Vec<u8> {
    let seq = u32::from_le_bytes(request[8..12].try_into().expect("a header"));
    let mut m = Msg::new(NLMSG_ERROR, 0, seq, port);
    m.put(&err.to_le_bytes());
    m.put(&request[..16]);
    m.done()
}

impl Netlink {
    /// Takes one datagram of requests (sendto/sendmsg to the kernel) and queues the
    /// replies. A datagram too short for a header is dropped, as Linux does.
    pub fn request(&mut self, data: &[u8]) -> Result<(), Errno> {
        let mut at = 0;
        // `at` can pass the end: a last message's length is rounded up to 4 bytes.
        while data.len().saturating_sub(at) >= 16 {
            let h = &data[at..];
            let len = u32::from_le_bytes(h[0..4].try_into().expect("16 bytes")) as usize;
            if len < 16 || len > h.len() {
                break;
            }
            let ty = u16::from_le_bytes([h[4], h[5]]);
            let flags = u16::from_le_bytes([h[6], h[7]]);
            let seq = u32::from_le_bytes(h[8..12].try_into().expect("16 bytes"));
            let body = &h[16..len];
            self.answer(&h[..len], ty, flags, seq, body);
            at += align4(len);
        }
        Ok(())
    }

    fn answer(&mut self, req: &[u8], ty: u16, flags: u16, seq: u32, body: &[u8]) {
        let port = self.port;
        // netlink_rcv_skb(): only requests are handled; control types below
        // NLMSG_MIN_TYPE and bodiless requests are acknowledged, not answered.
        if flags & NLM_F_REQUEST == 0 {
            return;
        }
        if ty < NLMSG_MIN_TYPE || body.is_empty() {
            if flags & NLM_F_ACK != 0 {
                self.replies.push_back(error(0, req, port));
            }
            return;
        }
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        // rtnetlink_rcv_msg(): past RTM_MAX nothing is known; every kind but a get
        // (new, del, set: type - RTM_BASE not 2 mod 4) needs CAP_NET_ADMIN, which a
        // container lacks.
        let err = match ty {
            t if t > RTM_MAX => -(Errno::EOPNOTSUPP as i32),
            t if (t - NLMSG_MIN_TYPE) % 4 != 2 => -(Errno::EPERM as i32),
            RTM_GETLINK if dump => {
                self.replies.push_back(link(NLM_F_MULTI, seq, port));
                self.done(seq);
                return;
            }
            RTM_GETLINK => {
                // struct ifinfomsg's ifi_index, or IFLA_IFNAME among the attributes.
                let index = body
                    .get(4..8)
                    .map(|b| i32::from_le_bytes(b.try_into().expect("4")));
                let named_lo = find_attr(body.get(16..).unwrap_or(&[]), IFLA_IFNAME)
                    .map(|n| n.split(|&c| c == 0).next() == Some(b"lo"));
                match (index, named_lo) {
                    (Some(1), _) | (Some(0), Some(true)) => {
                        self.replies.push_back(link(0, seq, port));
                        0
                    }
                    _ => -(Errno::ENODEV as i32),
                }
            }
            RTM_GETADDR if dump => {
                let family = body.first().copied().unwrap_or(0);
                for f in [AF_INET, AF_INET6] {
                    if family == 0 || family == f {
                        self.replies.push_back(addr(f, NLM_F_MULTI, seq, port));
                    }
                }
                self.done(seq);
                return;
            }
            // Routes, neighbours, rules...: not kept here.
            _ => -(Errno::EOPNOTSUPP as i32),
        };
        if err != 0 || flags & NLM_F_ACK != 0 {
            self.replies.push_back(error(err, req, port));
        }
    }

    /// NLMSG_DONE ending a dump (its payload is the dump's status, 0).
    fn done(&mut self, seq: u32) {
        let mut m = Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, self.port);
        m.put(&0i32.to_le_bytes());
        self.replies.push_back(m.done());
    }
}

/// The interface ioctls on sockets (netdevice(7)), for the same `lo`: the device ones
/// any socket takes (dev_ioctl: SIOCGIFNAME, SIOCGIFINDEX, SIOCGIFFLAGS, SIOCGIFMTU,
/// SIOCGIFHWADDR, SIOCGIFTXQLEN) and, on IPv4 sockets, the address ones (SIOCGIFADDR,
/// SIOCGIFNETMASK, SIOCGIFCONF). `ifr` is a `struct ifreq` (40 bytes), or for SIOCGIFCONF
/// the `struct ifconf`'s length and the buffer's worth of records, which the caller
/// copies. `None`: not an interface ioctl.
pub mod ifreq {
    use super::*;

    pub const SIOCGIFCONF: u64 = 0x8912;
    pub const SIZE: usize = 40;
    const SIOCGIFNAME: u64 = 0x8910;
    const SIOCGIFFLAGS: u64 = 0x8913;
    const SIOCGIFADDR: u64 = 0x8915;
    const SIOCGIFNETMASK: u64 = 0x891b;
    const SIOCGIFMTU: u64 = 0x8921;
    const SIOCGIFHWADDR: u64 = 0x8927;
    const SIOCGIFINDEX: u64 = 0x8933;
    const SIOCGIFTXQLEN: u64 = 0x8942;

    /// Whether `cmd` is one of these (the caller reads the ifreq for it).
    pub fn is_interface_ioctl(cmd: u64) -> bool {
        matches!(
            cmd,
            SIOCGIFNAME
                | SIOCGIFFLAGS
                | SIOCGIFADDR
                | SIOCGIFNETMASK
                | SIOCGIFMTU
                | SIOCGIFHWADDR
                | SIOCGIFINDEX
                | SIOCGIFTXQLEN
        )
    }

    fn sockaddr_in(ip: [u8; 4]) -> [u8; 16] {
        let mut b = [0; 16];
        b[0..2].copy_from_slice(&(AF_INET as u16).to_le_bytes());
        b[4..8].copy_from_slice(&ip);
        b
    }

    /// One ifreq for `lo` with its IPv4 address (what SIOCGIFCONF lists).
    pub fn lo_record() -> [u8; SIZE] {
        let mut r = [0; SIZE];
        r[..2].copy_from_slice(b"lo");
        r[16..32].copy_from_slice(&sockaddr_in([127, 0, 0, 1]));
        r
    }

    /// Answers `cmd` in `ifr`: ENODEV for an interface other than `lo`, EINVAL for an
    /// address ioctl on a socket that is not IPv4 (`inet`), as Linux.
    pub fn answer(cmd: u64, ifr: &mut [u8; SIZE], inet: bool) -> Result<(), Errno> {
        let name_is_lo = {
            let end = ifr[..16].iter().position(|&c| c == 0).unwrap_or(16);
            &ifr[..end] == b"lo"
        };
        let data = &mut ifr[16..];
        match cmd {
            SIOCGIFNAME => {
                if i32::from_le_bytes(data[..4].try_into().expect("4")) != LO_INDEX as i32 {
                    return Err(Errno::ENODEV);
                }
                ifr[..16].fill(0);
                ifr[..2].copy_from_slice(b"lo");
                return Ok(());
            }
            _ if !name_is_lo => return Err(Errno::ENODEV),
            SIOCGIFADDR | SIOCGIFNETMASK if !inet => return Err(Errno::EINVAL),
            SIOCGIFINDEX => data[..4].copy_from_slice(&LO_INDEX.to_le_bytes()),
            SIOCGIFFLAGS => data[..2].copy_from_slice(&(LO_FLAGS as u16).to_le_bytes()),
            SIOCGIFMTU => data[..4].copy_from_slice(&LO_MTU.to_le_bytes()),
            SIOCGIFTXQLEN => data[..4].copy_from_slice(&1000u32.to_le_bytes()),
            SIOCGIFHWADDR => {
                data.fill(0);
                data[..2].copy_from_slice(&ARPHRD_LOOPBACK.to_le_bytes());
            }
            SIOCGIFADDR => data[..16].copy_from_slice(&sockaddr_in([127, 0, 0, 1])),
            SIOCGIFNETMASK => data[..16].copy_from_slice(&sockaddr_in([255, 0, 0, 0])),
            _ => return Err(Errno::ENOTTY),
        }
        Ok(())
    }
}

/// The first attribute of type `ty` in a run of rtattrs.
fn find_attr(mut attrs: &[u8], ty: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = u16::from_le_bytes([attrs[0], attrs[1]]) as usize;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if u16::from_le_bytes([attrs[2], attrs[3]]) == ty {
            return Some(&attrs[4..len]);
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    None
}

/// struct sockaddr_nl of the kernel (port 0), the source of every reply.
pub fn kernel_addr() -> Vec<u8> {
    let mut b = AF_NETLINK.to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 10]);
    b
}

/// struct sockaddr_nl for a port and groups (getsockname).
pub fn addr_bytes(port: u32, groups: u32) -> Vec<u8> {
    let mut b = AF_NETLINK.to_le_bytes().to_vec();
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&port.to_le_bytes());
    b.extend_from_slice(&groups.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTM_GETROUTE: u16 = 26;

    fn header(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut b = ((16 + body.len()) as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(body);
        b
    }

    fn types(n: &Netlink) -> Vec<(u16, u32)> {
        n.replies
            .iter()
            .map(|m| {
                (
                    u16::from_le_bytes([m[4], m[5]]),
                    u32::from_le_bytes(m[8..12].try_into().unwrap()),
                )
            })
            .collect()
    }

    #[test]
    fn dumps_list_lo_and_its_addresses_then_done() {
        let mut n = Netlink {
            port: 7,
            ..Netlink::default()
        };
        n.request(&header(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0; 4]))
            .unwrap();
        n.request(&header(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2, &[0; 4]))
            .unwrap();
        assert_eq!(
            types(&n),
            [
                (RTM_NEWLINK, 1),
                (NLMSG_DONE, 1),
                (RTM_NEWADDR, 2),
                (RTM_NEWADDR, 2),
                (NLMSG_DONE, 2)
            ]
        );
        let link = &n.replies[0];
        assert_eq!(
            u32::from_le_bytes(link[0..4].try_into().unwrap()) as usize,
            link.len()
        );
        assert_eq!(
            u32::from_le_bytes(link[12..16].try_into().unwrap()),
            7,
            "the socket's port"
        );
        assert_eq!(find_attr(&link[32..], IFLA_IFNAME), Some(&b"lo\0"[..]));
        let v4 = &n.replies[2];
        assert_eq!(v4[16], AF_INET);
        assert_eq!(find_attr(&v4[24..], IFA_LOCAL), Some(&[127, 0, 0, 1][..]));
    }

    #[test]
    fn a_request_with_an_unaligned_length_is_answered() {
        // Go's syscall.NetlinkRIB: a header and a 1-byte rtgenmsg, 17 bytes in all; the
        // next message would start at 20, past the datagram's end.
        let mut n = Netlink::default();
        n.request(&header(
            RTM_GETADDR,
            NLM_F_REQUEST | NLM_F_DUMP,
            8,
            &[AF_INET],
        ))
        .unwrap();
        assert_eq!(types(&n), [(RTM_NEWADDR, 8), (NLMSG_DONE, 8)]);
    }

    #[test]
    fn an_address_dump_keeps_to_the_family_asked_for() {
        let mut n = Netlink::default();
        n.request(&header(
            RTM_GETADDR,
            NLM_F_REQUEST | NLM_F_DUMP,
            3,
            &[AF_INET6, 0, 0, 0],
        ))
        .unwrap();
        assert_eq!(types(&n), [(RTM_NEWADDR, 3), (NLMSG_DONE, 3)]);
        assert_eq!(n.replies[0][16], AF_INET6);
    }

    #[test]
    fn changes_are_refused_and_unknown_requests_unsupported() {
        let mut n = Netlink::default();
        n.request(&header(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, 4, &[0; 8]))
            .unwrap();
        n.request(&header(99, NLM_F_REQUEST, 5, &[0; 4])).unwrap();
        n.request(&header(
            RTM_GETROUTE,
            NLM_F_REQUEST | NLM_F_DUMP,
            5,
            &[0; 4],
        ))
        .unwrap();
        n.request(&header(200, NLM_F_REQUEST, 5, &[0; 4])).unwrap();
        n.request(&header(
            RTM_GETLINK,
            NLM_F_REQUEST | NLM_F_ACK,
            6,
            &[0, 0, 0, 0, 1, 0, 0, 0],
        ))
        .unwrap();
        let errs: Vec<i32> = n
            .replies
            .iter()
            .filter(|m| u16::from_le_bytes([m[4], m[5]]) == NLMSG_ERROR)
            .map(|m| i32::from_le_bytes(m[16..20].try_into().unwrap()))
            .collect();
        let (eperm, enotsup) = (-(Errno::EPERM as i32), -(Errno::EOPNOTSUPP as i32));
        assert_eq!(errs, [eperm, eperm, enotsup, enotsup, 0]);
        assert_eq!(
            types(&n)[4],
            (RTM_NEWLINK, 6),
            "a get of index 1 answers, then acks"
        );
    }
}
