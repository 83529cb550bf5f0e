//! The socket syscalls: socket, socketpair, bind, listen, accept/accept4, connect,
//! getsockname, getpeername, sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg,
//! setsockopt, getsockopt, shutdown. The objects they work on are in socket.rs; IP
//! sockets go to the net backend, AF_UNIX ones stay in the kernel.
//!
//! Blocking: every operation below is non-blocking; EAGAIN parks the thread (retried
//! after any progress, and after the host reports socket readiness when everything is
//! parked) unless the descriptor is O_NONBLOCK or the call has MSG_DONTWAIT.
//! SO_RCVTIMEO/SO_SNDTIMEO become the parked call's deadline.

use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::rc::Rc;

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFMT, S_IFSOCK};
use friscy_net::{Family, Kind, SendMeta, SockOpt};

use super::fs::{AT_FDCWD, O_CLOEXEC, O_NONBLOCK};
use super::ip_cmsg::{self, SendCmsg};
use super::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM};
use super::{Args, SysResult};
use crate::fd::{FdEntry, FileKind, FileRef, OpenFile, Shared, new_file};
use crate::process::Wake;
use crate::socket::{
    AF_INET, AF_INET6, AF_UNIX, Cred, Imp, Inet, Msg, Received, SockRef, SockType, Socket,
    UNIX_RCVBUF, UnixAddr, UnixKey, deliver, new_unix, pair, peer_of, receive,
};
use crate::{Kernel, Process, dns};

const SOCK_TYPE_MASK: u64 = 0xf;
const SOCK_NONBLOCK: u64 = O_NONBLOCK as u64;
const SOCK_CLOEXEC: u64 = O_CLOEXEC as u64;

const MSG_OOB: u32 = 0x1;
pub(crate) const MSG_PEEK: u32 = 0x2;
const MSG_CTRUNC: u32 = 0x8;
const MSG_TRUNC: u32 = 0x20;
/// The largest IP datagram's payload (65535 less the smallest headers, rounded up).
const UDP_MAX: usize = 65536;
const MSG_DONTWAIT: u32 = 0x40;
const MSG_EOR: u32 = 0x80;
const MSG_ERRQUEUE: u32 = 0x2000;
const MSG_WAITALL: u32 = 0x100;
const MSG_NOSIGNAL: u32 = 0x4000;
const MSG_WAITFORONE: u32 = 0x10000;
const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

pub(super) const SOL_SOCKET: i32 = 1;
pub(super) const IPPROTO_IP: i32 = 0;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;
pub(super) const IPPROTO_IPV6: i32 = 41;

const SO_REUSEADDR: i32 = 2;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const SO_KEEPALIVE: i32 = 9;
const SO_LINGER: i32 = 13;
const SO_PASSCRED: i32 = 16;
const SO_PEERCRED: i32 = 17;
const SO_RCVTIMEO: i32 = 20;
const SO_SNDTIMEO: i32 = 21;
const SO_ACCEPTCONN: i32 = 30;
const SO_PROTOCOL: i32 = 38;
const SO_DOMAIN: i32 = 39;
const TCP_NODELAY: i32 = 1;
pub(super) const IP_TTL: i32 = 2;
const IPV6_UNICAST_HOPS: i32 = 16;
const IP_MTU: i32 = 14;
const IPV6_MTU: i32 = 24;
const IPV6_V6ONLY: i32 = 26;

pub(super) const SCM_RIGHTS: i32 = 1;
pub(super) const SCM_CREDENTIALS: i32 = 2;
/// SCM_MAX_FD: descriptors one message may carry.
const SCM_MAX_FD: usize = 253;
/// The most one receive, or one datagram send, moves (bounds the guest memory copied).
const IO_MAX: usize = 1 << 20;
/// The most one stream send moves (Linux's MAX_RW_COUNT).
const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// Bytes a stream send copies from guest memory per step: about what the socket takes at
/// once (a TCP send queue's free space, an AF_UNIX receive buffer).
const STREAM_CHUNK_INET: usize = 64 * 1024;
const STREAM_CHUNK_UNIX: usize = 256 * 1024;

/// A socket address as the guest gave it.
pub(crate) enum Addr {
    Inet(SocketAddr),
    /// AF_UNIX: a path, an abstract name, or nothing (autobind / unnamed).
    Unix(UnixName),
    /// AF_UNSPEC (connect to it dissolves a datagram association).
    Unspec,
    /// AF_NETLINK: a port id (0 is the kernel) and multicast groups.
    Netlink {
        port: u32,
        groups: u32,
    },
}

pub(crate) enum UnixName {
    Path(Vec<u8>),
    Abstract(Vec<u8>),
    Unnamed,
}

/// The descriptor's socket, or ENOTSOCK.
fn socket_of(p: &Process, fd: i32) -> Result<(FileRef, SockRef), Errno> {
    let file = p.fds.file(fd)?;
    let sock = match &file.borrow().kind {
        FileKind::Socket(s) => s.0.clone(),
        _ => return Err(Errno::ENOTSOCK),
    };
    Ok((file, sock))
}

fn nonblocking(file: &FileRef, flags: u32) -> bool {
    file.borrow().flags & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0
}

impl Kernel {
    /// Close the net handles of IP sockets whose last descriptor went away.
    pub(crate) fn reap_sockets(&mut self) {
        let dead: Vec<(u32, bool)> = std::mem::take(&mut *self.net_graveyard.borrow_mut());
        for (h, abort) in dead {
            self.net_interest.remove(&h);
            if abort {
                self.net.abort(h);
            } else {
                self.net.close(h);
            }
        }
    }

    /// Remember that a parked thread waits for `handle` to become readable or writable, so
    /// the idle wait includes its pollables.
    pub(crate) fn want_net(&mut self, handle: u32, read: bool, write: bool) {
        if self.net.local() {
            // Only another guest thread can change a loopback socket: parked calls are
            // retried after its progress, and nothing outside is worth waiting for.
            return;
        }
        let e = self.net_interest.entry(handle).or_default();
        e.0 |= read;
        e.1 |= write;
    }

    /// poll(2)'s view of a socket (poll.rs asks here), registering interest in the poll
    /// events asked for.
    pub(crate) fn socket_events(&mut self, s: &Socket, asked: u16) -> u16 {
        let mut ev = 0;
        match &s.imp {
            Imp::Netlink(n) => {
                if !n.replies.is_empty() {
                    ev |= POLLIN | POLLRDNORM;
                }
                // Requests are answered when sent: there is always room.
                ev |= POLLOUT | POLLWRNORM;
            }
            Imp::Inet(i) => {
                let r = self.net.readiness(i.handle);
                if r.readable || !i.dns_replies.is_empty() {
                    ev |= POLLIN | POLLRDNORM;
                }
                if r.writable {
                    ev |= POLLOUT | POLLWRNORM;
                }
                if r.hangup {
                    ev |= POLLHUP;
                }
                if r.error {
                    ev |= POLLERR;
                }
                // Asked for only: it costs the backend a look (tcp_poll's RCV_SHUTDOWN).
                if asked & POLLRDHUP != 0
                    && s.ty == SockType::Stream
                    && r.readable
                    && self.net.read_shut(i.handle)
                {
                    ev |= POLLRDHUP;
                }
                let want_read = asked & (POLLIN | POLLRDNORM) != 0 && ev & POLLIN == 0;
                let want_write = asked & (POLLOUT | POLLWRNORM) != 0 && ev & POLLOUT == 0;
                if ev & (POLLHUP | POLLERR) == 0 && (want_read || want_write) {
                    self.want_net(i.handle, want_read, want_write);
                }
            }
            Imp::Unix(u) => {
                if let Some(backlog) = &u.backlog {
                    if !backlog.is_empty() {
                        ev |= POLLIN | POLLRDNORM;
                    }
                    return ev;
                }
                let peer = peer_of(s);
                if !u.rx.is_empty() || u.rd_shut {
                    ev |= POLLIN | POLLRDNORM;
                }
                if u.error.is_some() {
                    ev |= POLLERR;
                }
                // RCV_SHUTDOWN: the peer shut its writing side or went, or SHUT_RD here
                // (unix_poll, unix_dgram_poll).
                if u.rd_shut || (s.ty != SockType::Dgram && u.connected && peer.is_none()) {
                    ev |= POLLRDHUP;
                }
                let stream_like = s.ty != SockType::Dgram;
                if stream_like {
                    if u.connected && peer.is_none() {
                        ev |= POLLIN | POLLRDNORM | POLLHUP;
                    } else if !u.connected {
                        ev |= POLLHUP;
                    }
                }
                // unix_writable: the socket's own send allowance, which the peer's queue
                // stands for here; a shut writing side, a gone peer or none yet (POLLHUP
                // above) still say POLLOUT (a write then fails), as Linux does.
                let room = match &peer {
                    Some(p) => p
                        .try_borrow()
                        .map(|p| p.unix().is_some_and(|pu| pu.rx_bytes < UNIX_RCVBUF))
                        .unwrap_or(true),
                    None => true,
                };
                if room {
                    ev |= POLLOUT | POLLWRNORM;
                }
            }
        }
        ev
    }

    /// Park on a socket call that found nothing to do, or fail with EAGAIN when the caller
    /// must not block. `write` says which way the call waits.
    pub(crate) fn sock_block(
        &mut self,
        p: &mut Process,
        file: &FileRef,
        sock: &SockRef,
        flags: u32,
        write: bool,
    ) -> SysResult {
        if nonblocking(file, flags) {
            return Err(Errno::EAGAIN);
        }
        let (timeo, handle) = {
            let s = sock.borrow();
            let timeo = if write { s.sndtimeo } else { s.rcvtimeo };
            let handle = match &s.imp {
                Imp::Inet(i) => Some(i.handle),
                Imp::Unix(_) | Imp::Netlink(_) => None,
            };
            (timeo, handle)
        };
        let deadline = self.deadline_in(p, (timeo > 0).then_some(timeo));
        if self.expired(p) {
            return Err(Errno::EAGAIN);
        }
        if let Some(h) = handle {
            self.want_net(h, !write, write);
        }
        // A call with a timeout is not restarted after a handler (signal(7)).
        self.park(p, Wake::Event, deadline, timeo == 0)
    }

    /// send(2) of one message on any socket: bytes queued, or EAGAIN to park.
    pub(crate) fn sock_send(
        &mut self,
        sock: &SockRef,
        data: &[u8],
        to: Option<Addr>,
        fds: Vec<FileRef>,
        p: Option<&Process>,
    ) -> Result<usize, Errno> {
        self.sock_send_ip(sock, data, to, fds, p, SendMeta::default())
    }

    /// `sock_send` with what sendmsg's IP control messages chose (`ip`).
    pub(crate) fn sock_send_ip(
        &mut self,
        sock: &SockRef,
        data: &[u8],
        to: Option<Addr>,
        fds: Vec<FileRef>,
        p: Option<&Process>,
        mut ip: SendMeta,
    ) -> Result<usize, Errno> {
        let ty = sock.borrow().ty;
        let mut s = sock.borrow_mut();
        if ty != SockType::Stream && ip.tos.is_none() && matches!(s.imp, Imp::Inet(_)) {
            // The socket's IP_TOS/IPV6_TCLASS, unless the message chose.
            ip.tos = ip_cmsg::default_tos(&s);
        }
        match &mut s.imp {
            Imp::Netlink(n) => {
                match to {
                    None | Some(Addr::Netlink { port: 0, .. }) => {}
                    // No other process listens on netlink here.
                    Some(Addr::Netlink { .. }) => return Err(Errno::ECONNREFUSED),
                    Some(_) => return Err(Errno::EINVAL),
                }
                if n.port == 0 {
                    n.port = p.map_or(1, |p| p.pid as u32);
                }
                n.request(data)?;
                Ok(data.len())
            }
            Imp::Inet(i) => {
                if !fds.is_empty() {
                    return Err(Errno::EINVAL);
                }
                let to = match to {
                    Some(Addr::Inet(a)) => Some(a),
                    Some(_) => return Err(Errno::EAFNOSUPPORT),
                    None => None,
                };
                // The embedded DNS responder answers its own address.
                if ty == SockType::Dgram
                    && (to == Some(dns::NAMESERVER) || (to.is_none() && i.dns_connected))
                {
                    let net = &mut self.net;
                    if let Some(reply) =
                        dns::answer(data, &mut self.dns_cache, |name| net.resolve(name))
                    {
                        i.dns_replies.push_back(reply);
                    }
                    return Ok(data.len());
                }
                if ty == SockType::Stream {
                    let r = self.net.send(i.handle, data, to);
                    self.net_queued |= r.is_ok();
                    return r;
                }
                if ip.src.is_some() && !self.net.local() && self.trace {
                    self.report(
                        "sendmsg(IP_PKTINFO): the host network picks the source address itself",
                    );
                }
                self.net.send_meta(i.handle, data, to, ip)
            }
            Imp::Unix(u) => {
                if u.wr_shut {
                    return Err(Errno::EPIPE);
                }
                let msg = Msg {
                    data: data.to_vec(),
                    pos: 0,
                    fds,
                    cred: p.map_or(u.cred, creds),
                    from: u.name.clone(),
                };
                if ty == SockType::Dgram {
                    let target = match to {
                        Some(Addr::Unix(name)) => {
                            let p = p.ok_or(Errno::EDESTADDRREQ)?;
                            self.unix_lookup(p, &name)?
                        }
                        Some(_) => return Err(Errno::EINVAL),
                        None => {
                            let peer = u.peer.as_ref().ok_or(Errno::ENOTCONN)?;
                            peer.upgrade().ok_or(Errno::ECONNREFUSED)?
                        }
                    };
                    if Rc::ptr_eq(&target, sock) {
                        // A datagram to itself: queue it on our own receive side.
                        let stream = false;
                        drop(s);
                        return deliver(sock, msg, stream);
                    }
                    drop(s);
                    return deliver(&target, msg, false);
                }
                if !u.connected {
                    return Err(if to.is_some() {
                        Errno::EOPNOTSUPP
                    } else {
                        Errno::ENOTCONN
                    });
                }
                let peer = peer_of(&s).ok_or(Errno::EPIPE)?;
                drop(s);
                deliver(&peer, msg, ty == SockType::Stream)
            }
        }
    }

    /// recv(2) on any socket: EAGAIN to park; empty data at end of stream.
    pub(crate) fn sock_recv(
        &mut self,
        sock: &SockRef,
        max: usize,
        flags: u32,
    ) -> Result<Received, Errno> {
        let peek = flags & MSG_PEEK != 0;
        if flags & MSG_OOB != 0 {
            return Err(Errno::EINVAL);
        }
        let mut s = sock.borrow_mut();
        let ty = s.ty;
        let connected_peer = peer_of(&s).is_some();
        match &mut s.imp {
            Imp::Netlink(n) => {
                let Some(front) = n.replies.front() else {
                    return Err(Errno::EAGAIN);
                };
                let full_len = front.len();
                let data = if peek {
                    front[..full_len.min(max)].to_vec()
                } else {
                    // A datagram cut to the buffer loses the rest (MSG_TRUNC tells).
                    let mut d = n.replies.pop_front().expect("front");
                    d.truncate(max);
                    d
                };
                Ok(Received {
                    data,
                    full_len,
                    netlink_from: true,
                    ..Received::default()
                })
            }
            Imp::Inet(i) => {
                if let Some(reply) = i.dns_replies.front() {
                    let mut data = reply.clone();
                    let full_len = data.len();
                    data.truncate(max);
                    if !peek {
                        i.dns_replies.pop_front();
                    }
                    return Ok(Received {
                        data,
                        full_len,
                        inet_from: Some(dns::NAMESERVER),
                        ..Received::default()
                    });
                }
                if flags & MSG_ERRQUEUE != 0 {
                    // ip_recv_error: the error queue, never the data.
                    let b = self.net.recv_error(i.handle, max)?;
                    return Ok(Received {
                        data: b.data,
                        full_len: b.full_len,
                        inet_from: Some(b.dst),
                        bounced: true,
                        ..Received::default()
                    });
                }
                if ty == SockType::Stream {
                    let (data, from) = self.net.recv(i.handle, max, peek)?;
                    return Ok(Received {
                        full_len: data.len(),
                        data,
                        inet_from: from,
                        ..Received::default()
                    });
                }
                // A datagram is asked for whole (backends cut it to what is asked for), so
                // that MSG_TRUNC can tell its real length.
                let (mut data, from, meta) =
                    self.net.recv_meta(i.handle, max.max(UDP_MAX), peek)?;
                let full_len = data.len();
                data.truncate(max);
                Ok(Received {
                    data,
                    full_len,
                    inet_from: from,
                    meta: Some(meta),
                    ..Received::default()
                })
            }
            Imp::Unix(u) => {
                if u.backlog.is_some() {
                    return Err(Errno::EINVAL);
                }
                if u.rx.is_empty() {
                    // A reset is reported once nothing is left to read, then end of file.
                    if let Some(e) = u.error.take() {
                        return Err(e);
                    }
                    if ty == SockType::Dgram {
                        return if u.rd_shut {
                            Ok(Received::default())
                        } else {
                            Err(Errno::EAGAIN)
                        };
                    }
                    if !u.connected {
                        return Err(Errno::EINVAL);
                    }
                    if u.rd_shut || !connected_peer {
                        return Ok(Received::default());
                    }
                    return Err(Errno::EAGAIN);
                }
                Ok(receive(u, max, peek, ty.messages()))
            }
        }
    }

    /// The socket registered under an AF_UNIX name (connect, sendto).
    fn unix_lookup(&mut self, p: &Process, name: &UnixName) -> Result<SockRef, Errno> {
        let key = match name {
            UnixName::Abstract(n) => UnixKey::Abstract(n.clone()),
            UnixName::Path(path) => {
                // Resolved as the caller sees it (cwd-relative paths work too).
                let ino = self.lookup_at(p, AT_FDCWD, path, true)?;
                let st = self.fs.stat(ino)?;
                if st.mode & S_IFMT != S_IFSOCK {
                    return Err(Errno::ECONNREFUSED);
                }
                UnixKey::Ino(ino)
            }
            UnixName::Unnamed => return Err(Errno::EINVAL),
        };
        self.unix_names
            .get(&key)
            .and_then(|w| w.upgrade())
            .ok_or(Errno::ECONNREFUSED)
    }
}

/// Decode a sockaddr from guest memory.
fn read_addr(k: &mut Kernel, p: &Process, addr: u64, len: u64) -> Result<Addr, Errno> {
    if !(2..=128).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let raw = k.read_user(p, addr, len as usize)?;
    let family = u16::from_le_bytes([raw[0], raw[1]]);
    match family {
        0 => Ok(Addr::Unspec),
        AF_UNIX => {
            let path = &raw[2..];
            if path.is_empty() {
                return Ok(Addr::Unix(UnixName::Unnamed));
            }
            if path[0] == 0 {
                return Ok(Addr::Unix(UnixName::Abstract(path[1..].to_vec())));
            }
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            if end > 107 {
                return Err(Errno::EINVAL);
            }
            Ok(Addr::Unix(UnixName::Path(path[..end].to_vec())))
        }
        AF_INET => {
            if len < 16 {
                return Err(Errno::EINVAL);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            Ok(Addr::Inet(SocketAddr::V4(SocketAddrV4::new(ip, port))))
        }
        AF_INET6 => {
            if len < 24 {
                return Err(Errno::EINVAL);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let flow = u32::from_be_bytes(raw[4..8].try_into().unwrap());
            let ip = Ipv6Addr::from(<[u8; 16]>::try_from(&raw[8..24]).unwrap());
            let scope = if len >= 28 {
                u32::from_le_bytes(raw[24..28].try_into().unwrap())
            } else {
                0
            };
            Ok(Addr::Inet(SocketAddr::V6(SocketAddrV6::new(
                ip, port, flow, scope,
            ))))
        }
        crate::netlink::AF_NETLINK => {
            if len < 12 {
                return Err(Errno::EINVAL);
            }
            let word = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().unwrap());
            Ok(Addr::Netlink {
                port: word(4),
                groups: word(8),
            })
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// An IPv4-mapped loopback address (an IPv6 socket's IPv4 peer).
fn v4_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V6(a) => a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

/// The sockaddr bytes of an IP address.
pub(super) fn inet_bytes(a: SocketAddr) -> Vec<u8> {
    match a {
        SocketAddr::V4(a) => {
            let mut b = Vec::with_capacity(16);
            b.extend_from_slice(&AF_INET.to_le_bytes());
            b.extend_from_slice(&a.port().to_be_bytes());
            b.extend_from_slice(&a.ip().octets());
            b.extend_from_slice(&[0; 8]);
            b
        }
        SocketAddr::V6(a) => {
            let mut b = Vec::with_capacity(28);
            b.extend_from_slice(&AF_INET6.to_le_bytes());
            b.extend_from_slice(&a.port().to_be_bytes());
            b.extend_from_slice(&a.flowinfo().to_be_bytes());
            b.extend_from_slice(&a.ip().octets());
            b.extend_from_slice(&a.scope_id().to_le_bytes());
            b
        }
    }
}

/// The sockaddr bytes of an AF_UNIX address (`None`: unnamed, just the family).
fn unix_bytes(a: Option<&UnixAddr>) -> Vec<u8> {
    let mut b = AF_UNIX.to_le_bytes().to_vec();
    match a {
        None => {}
        Some(UnixAddr::Path(path, _)) => {
            b.extend_from_slice(path);
            b.push(0);
        }
        Some(UnixAddr::Abstract(name)) => {
            b.push(0);
            b.extend_from_slice(name);
        }
    }
    b
}

/// Store a sockaddr for the guest: as much as its buffer holds, and the full length in
/// *lenp (as Linux does, so a caller can tell it was cut).
fn put_addr(k: &mut Kernel, p: &Process, addr: u64, lenp: u64, bytes: &[u8]) -> Result<(), Errno> {
    if addr == 0 || lenp == 0 {
        return Ok(());
    }
    let have = u32::from_le_bytes(k.read_user(p, lenp, 4)?.try_into().unwrap());
    if (have as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let n = (have as usize).min(bytes.len());
    k.write_user(p, addr, &bytes[..n])?;
    k.write_user(p, lenp, &(bytes.len() as u32).to_le_bytes())
}

/// A descriptor for `sock` (O_RDWR, SOCK_NONBLOCK and SOCK_CLOEXEC from `flags`), named
/// `socket:[INODE]` in /proc/self/fd as on Linux.
fn install(p: &mut Process, sock: SockRef, flags: u64) -> SysResult {
    let label = format!("socket:[{}]", crate::socket::sockfs_ino(&sock)).into_bytes();
    let file = new_file(
        FileKind::Socket(Shared(sock)),
        2 | (flags & SOCK_NONBLOCK) as u32,
        label,
    );
    Ok(p.fds.insert(FdEntry {
        file,
        cloexec: flags & SOCK_CLOEXEC != 0,
    })? as u64)
}

fn sock_type(ty: u64) -> Result<SockType, Errno> {
    match ty & SOCK_TYPE_MASK {
        1 => Ok(SockType::Stream),
        2 => Ok(SockType::Dgram),
        5 => Ok(SockType::Seqpacket),
        // SOCK_RAW needs CAP_NET_RAW, which a container does not get by default (nor does
        // wasi:sockets offer raw sockets).
        3 => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

/// SCM_CREDENTIALS and SO_PEERCRED: the pid and the effective ids (unix(7)).
fn creds(p: &Process) -> Cred {
    Cred {
        pid: p.pid,
        uid: p.creds.uid.eff,
        gid: p.creds.gid.eff,
    }
}

pub fn sys_socket(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (domain, ty, protocol) = (a[0] as u16, a[1], a[2] as u32);
    if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if domain == crate::netlink::AF_NETLINK {
        // SOCK_RAW and SOCK_DGRAM are the same for netlink, and need no privilege.
        let st = match ty & SOCK_TYPE_MASK {
            2 => SockType::Dgram,
            3 => SockType::Raw,
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        };
        if protocol != crate::netlink::NETLINK_ROUTE {
            return Err(Errno::EPROTONOSUPPORT);
        }
        let imp = Imp::Netlink(crate::netlink::Netlink::default());
        let sock = Socket::new(domain, st, protocol, imp);
        return install(p, Rc::new(RefCell::new(sock)), ty);
    }
    if !matches!(domain, AF_UNIX | AF_INET | AF_INET6) {
        // AF_PACKET and the rest: not offered; the caller gets what a kernel without
        // that family says, whatever the type (__sock_create looks up the family first).
        return Err(Errno::EAFNOSUPPORT);
    }
    let st = sock_type(ty)?;
    let sock = match domain {
        AF_UNIX => {
            if protocol != 0 && protocol != 1 {
                return Err(Errno::EPROTONOSUPPORT);
            }
            return install(p, new_unix(st, creds(p)), ty);
        }
        AF_INET | AF_INET6 => {
            let (kind, proto) = match (st, protocol as i32) {
                (SockType::Stream, 0 | IPPROTO_TCP) => (Kind::Stream, IPPROTO_TCP),
                (SockType::Dgram, 0 | IPPROTO_UDP) => (Kind::Datagram, IPPROTO_UDP),
                // ICMP datagram sockets (busybox ping) and SCTP are not offered.
                (SockType::Seqpacket, _) | (_, _) => return Err(Errno::EPROTONOSUPPORT),
            };
            let family = if domain == AF_INET {
                Family::Inet
            } else {
                Family::Inet6
            };
            let handle = k.net.create(family, kind).inspect_err(|e| {
                if k.trace {
                    k.report(&format!(
                        "socket: the network refused ({}); run with --net or `wasmtime run -S inherit-network`",
                        e.name()
                    ));
                }
            })?;
            Socket::new(
                domain,
                st,
                proto as u32,
                Imp::Inet(Inet {
                    handle,
                    graveyard: k.net_graveyard.clone(),
                    abort: false,
                    connecting: false,
                    dns_replies: Default::default(),
                    dns_connected: false,
                    guest_port: None,
                }),
            )
        }
        _ => unreachable!("families checked above"),
    };
    install(p, Rc::new(RefCell::new(sock)), ty)
}

pub fn sys_socketpair(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (domain, ty, protocol, sv) = (a[0] as u16, a[1], a[2], a[3]);
    if domain != AF_UNIX {
        return Err(if domain == AF_INET || domain == AF_INET6 {
            Errno::EOPNOTSUPP
        } else {
            Errno::EAFNOSUPPORT
        });
    }
    if protocol != 0 && protocol != 1 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if ty & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = sock_type(ty)?;
    let (x, y) = (new_unix(st, creds(p)), new_unix(st, creds(p)));
    pair(&x, &y);
    let fx = install(p, x, ty)?;
    let fy = match install(p, y, ty) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = p.fds.remove(fx as i32);
            return Err(e);
        }
    };
    let mut b = (fx as i32).to_le_bytes().to_vec();
    b.extend_from_slice(&(fy as i32).to_le_bytes());
    if let Err(e) = k.write_user(p, sv, &b) {
        let _ = p.fds.remove(fx as i32);
        let _ = p.fds.remove(fy as i32);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_bind(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    let addr = read_addr(k, p, a[1], a[2])?;
    let domain = sock.borrow().domain;
    match (domain, addr) {
        (AF_UNIX, Addr::Unix(name)) => {
            if sock.borrow().unix().unwrap().name.is_some() {
                return Err(Errno::EINVAL);
            }
            let bound = match name {
                UnixName::Path(path) => {
                    let (parent, last) = k.parent_at(p, AT_FDCWD, &path)?;
                    let mode = S_IFSOCK | (0o777 & !p.umask);
                    let ino = match k.create_node(&p.creds.clone(), parent, &last, mode, 0) {
                        Err(Errno::EEXIST) => return Err(Errno::EADDRINUSE),
                        r => r?,
                    };
                    UnixAddr::Path(path, ino)
                }
                UnixName::Abstract(n) => UnixAddr::Abstract(n),
                UnixName::Unnamed => {
                    // Autobind: an abstract name of five hex digits, as Linux picks.
                    let mut n = k.unix_autobind;
                    loop {
                        n = (n + 1) & 0xfffff;
                        let name = format!("{n:05x}").into_bytes();
                        if k.unix_names
                            .get(&UnixKey::Abstract(name.clone()))
                            .is_none_or(|w| w.strong_count() == 0)
                        {
                            k.unix_autobind = n;
                            break UnixAddr::Abstract(name);
                        }
                    }
                }
            };
            let key = bound.key();
            if k.unix_names.get(&key).is_some_and(|w| w.strong_count() > 0) {
                return Err(Errno::EADDRINUSE);
            }
            k.unix_names.insert(key, Rc::downgrade(&sock));
            sock.borrow_mut().unix_mut().unwrap().name = Some(bound);
            Ok(0)
        }
        (AF_INET | AF_INET6, Addr::Inet(mut addr)) => {
            if (domain == AF_INET) != addr.is_ipv4() {
                // inet_bind and inet6_bind check the family before anything else.
                return Err(Errno::EAFNOSUPPORT);
            }
            let guest_port = addr.port();
            if let Some(&(_, host)) = k.port_map.iter().find(|(g, _)| *g == guest_port) {
                addr.set_port(host);
            }
            let mut s = sock.borrow_mut();
            let Imp::Inet(i) = &mut s.imp else {
                unreachable!()
            };
            k.net.bind(i.handle, addr)?;
            if addr.port() != guest_port {
                i.guest_port = Some((guest_port, addr.port()));
            }
            Ok(0)
        }
        (crate::netlink::AF_NETLINK, Addr::Netlink { port, groups }) => {
            let mut s = sock.borrow_mut();
            let Imp::Netlink(n) = &mut s.imp else {
                unreachable!()
            };
            if n.port != 0 && port != 0 && port != n.port {
                return Err(Errno::EINVAL);
            }
            // Port 0 asks for one: the process's pid, as Linux gives a process's first
            // netlink socket (the only sender here is the kernel, so it need not differ).
            if n.port == 0 {
                n.port = if port == 0 { p.pid as u32 } else { port };
            }
            n.groups = groups;
            Ok(0)
        }
        (AF_INET, Addr::Unspec) => Err(Errno::EAFNOSUPPORT),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_listen(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    // SOMAXCONN bounds the backlog, and a negative one means the maximum.
    let backlog = (a[1] as i32).clamp(0, 4096) as usize;
    let mut s = sock.borrow_mut();
    if s.ty == SockType::Dgram {
        return Err(Errno::EOPNOTSUPP);
    }
    match &mut s.imp {
        Imp::Netlink(_) => return Err(Errno::EOPNOTSUPP),
        Imp::Inet(i) => k.net.listen(i.handle, backlog as u32)?,
        Imp::Unix(u) => {
            if u.connected {
                return Err(Errno::EINVAL);
            }
            if u.name.is_none() {
                // Linux autobinds here only with SO_PASSCRED; otherwise listen on an
                // unbound socket is EINVAL.
                return Err(Errno::EINVAL);
            }
            u.backlog.get_or_insert_with(Default::default);
            u.max_backlog = backlog + 1;
        }
    }
    s.listening = true;
    Ok(0)
}

pub fn sys_accept(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    accept(k, p, a[0] as i32, a[1], a[2], 0)
}

pub fn sys_accept4(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if a[3] & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    accept(k, p, a[0] as i32, a[1], a[2], a[3])
}

fn accept(k: &mut Kernel, p: &mut Process, fd: i32, addr: u64, lenp: u64, flags: u64) -> SysResult {
    let (file, sock) = socket_of(p, fd)?;
    if !sock.borrow().listening {
        return Err(Errno::EINVAL);
    }
    let taken = {
        let mut s = sock.borrow_mut();
        let (domain, ty, protocol) = (s.domain, s.ty, s.protocol);
        match &mut s.imp {
            Imp::Netlink(_) => Err(Errno::EOPNOTSUPP),
            Imp::Inet(i) => match k.net.accept(i.handle) {
                Ok((handle, peer)) => {
                    let new = Socket::new(
                        domain,
                        ty,
                        protocol,
                        Imp::Inet(Inet {
                            handle,
                            graveyard: k.net_graveyard.clone(),
                            abort: false,
                            connecting: false,
                            dns_replies: Default::default(),
                            dns_connected: false,
                            guest_port: None,
                        }),
                    );
                    Ok((Rc::new(RefCell::new(new)), inet_bytes(peer)))
                }
                Err(e) => Err(e),
            },
            Imp::Unix(u) => match u.backlog.as_mut().and_then(|b| b.pop_front()) {
                Some(new) => {
                    new.borrow_mut().unix_mut().unwrap().embryo = false;
                    let peer = new.borrow().unix().unwrap().peer_name.clone();
                    Ok((new, unix_bytes(peer.as_ref())))
                }
                None => Err(Errno::EAGAIN),
            },
        }
    };
    let (new, peer) = match taken {
        Ok(t) => t,
        Err(Errno::EAGAIN) => return k.sock_block(p, &file, &sock, 0, false),
        Err(e) => return Err(e),
    };
    put_addr(k, p, addr, lenp, &peer)?;
    install(p, new, flags)
}

pub fn sys_connect(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (file, sock) = socket_of(p, a[0] as i32)?;
    let addr = read_addr(k, p, a[1], a[2])?;
    let (domain, ty) = {
        let s = sock.borrow();
        (s.domain, s.ty)
    };
    match (domain, addr) {
        // Only the kernel answers on netlink: connecting to it just sets the default
        // destination, which sendto without an address already is.
        (crate::netlink::AF_NETLINK, Addr::Netlink { port: 0, .. }) => Ok(0),
        (crate::netlink::AF_NETLINK, Addr::Netlink { .. }) => Err(Errno::ECONNREFUSED),
        (AF_UNIX, Addr::Unix(name)) => {
            let target = k.unix_lookup(p, &name)?;
            if target.borrow().ty != ty {
                return Err(Errno::EPROTOTYPE);
            }
            if ty == SockType::Dgram {
                let tname = target.borrow().unix().unwrap().name.clone();
                let mut s = sock.borrow_mut();
                let u = s.unix_mut().unwrap();
                u.peer = Some(Rc::downgrade(&target));
                u.peer_name = tname;
                return Ok(0);
            }
            if sock.borrow().unix().unwrap().connected {
                return Err(Errno::EISCONN);
            }
            if Rc::ptr_eq(&target, &sock) || !target.borrow().listening {
                return Err(Errno::ECONNREFUSED);
            }
            let full = {
                let t = target.borrow();
                let u = t.unix().unwrap();
                u.backlog.as_ref().map_or(0, |b| b.len()) >= u.max_backlog
            };
            if full {
                return k.sock_block(p, &file, &sock, 0, true);
            }
            // The server's end of the new connection waits in the listener's backlog.
            let server_cred = target.borrow().unix().unwrap().cred;
            let server = new_unix(ty, server_cred);
            let lname = target.borrow().unix().unwrap().name.clone();
            server.borrow_mut().unix_mut().unwrap().name = lname;
            server.borrow_mut().unix_mut().unwrap().embryo = true;
            pair(&sock, &server);
            target
                .borrow_mut()
                .unix_mut()
                .unwrap()
                .backlog
                .as_mut()
                .unwrap()
                .push_back(server);
            Ok(0)
        }
        (AF_UNIX, Addr::Unspec) if ty == SockType::Dgram => {
            let mut s = sock.borrow_mut();
            let u = s.unix_mut().unwrap();
            u.peer = None;
            u.peer_name = None;
            Ok(0)
        }
        (AF_INET | AF_INET6, Addr::Inet(addr)) => {
            let mut s = sock.borrow_mut();
            let Imp::Inet(i) = &mut s.imp else {
                unreachable!()
            };
            if ty == SockType::Dgram {
                i.dns_connected = addr == dns::NAMESERVER;
                if i.dns_connected {
                    return Ok(0);
                }
            }
            let mut r = k.net.connect(i.handle, addr);
            if r == Err(Errno::EINPROGRESS) && k.net.local() && !nonblocking(&file, 0) {
                // The loopback answers at once: a blocking connect takes the answer
                // rather than parking for an event that has already happened.
                r = k.net.connect(i.handle, addr);
            }
            if r == Err(Errno::ENETUNREACH) && k.trace && k.net.local() {
                k.report("connect: the guest has only its loopback; run with --net for the host's network");
            }
            match r {
                Ok(()) => {
                    i.connecting = false;
                    Ok(0)
                }
                Err(Errno::EINPROGRESS | Errno::EALREADY) => {
                    let first = !i.connecting;
                    i.connecting = true;
                    drop(s);
                    if nonblocking(&file, 0) {
                        return Err(if first {
                            Errno::EINPROGRESS
                        } else {
                            Errno::EALREADY
                        });
                    }
                    k.sock_block(p, &file, &sock, 0, true)
                }
                Err(e) => {
                    i.connecting = false;
                    Err(e)
                }
            }
        }
        (AF_INET | AF_INET6, Addr::Unspec) => Ok(0),
        (_, Addr::Unix(_)) | (AF_UNIX, _) => Err(Errno::EINVAL),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

fn sock_name(k: &mut Kernel, sock: &SockRef, peer: bool) -> Result<Vec<u8>, Errno> {
    let s = sock.borrow();
    match &s.imp {
        // The peer of a netlink socket is the kernel (connected or not).
        Imp::Netlink(_) if peer => Ok(crate::netlink::kernel_addr()),
        Imp::Netlink(n) => Ok(crate::netlink::addr_bytes(n.port, n.groups)),
        Imp::Unix(u) => {
            if peer {
                if s.ty != SockType::Dgram && !u.connected || u.peer.is_none() {
                    return Err(Errno::ENOTCONN);
                }
                Ok(unix_bytes(u.peer_name.as_ref()))
            } else {
                Ok(unix_bytes(u.name.as_ref()))
            }
        }
        Imp::Inet(i) => {
            if peer {
                if i.dns_connected {
                    return Ok(inet_bytes(dns::NAMESERVER));
                }
                return k.net.remote_address(i.handle).map(inet_bytes);
            }
            let mut a = match k.net.local_address(i.handle) {
                Ok(a) => a,
                // Unbound sockets report the unspecified address of their family.
                Err(_) => friscy_net::unspecified(if s.domain == AF_INET {
                    Family::Inet
                } else {
                    Family::Inet6
                }),
            };
            if let Some((guest, host)) = i.guest_port
                && a.port() == host
            {
                a.set_port(guest);
            }
            Ok(inet_bytes(a))
        }
    }
}

/// The interface ioctls (netlink.rs `ifreq`): on sockets only (ENOTTY otherwise), about
/// the one interface a guest has, `lo`.
pub(crate) fn interface_ioctl(
    k: &mut Kernel,
    p: &Process,
    fd: i32,
    cmd: u64,
    arg: u64,
) -> SysResult {
    use crate::netlink::ifreq;
    let (_, sock) = socket_of(p, fd).map_err(|e| {
        if e == Errno::ENOTSOCK {
            Errno::ENOTTY
        } else {
            e
        }
    })?;
    let inet = sock.borrow().domain == AF_INET;
    if cmd == ifreq::SIOCGIFCONF {
        if !inet {
            return Err(Errno::EINVAL);
        }
        // struct ifconf: ifc_len (int, then padding), ifc_buf. A NULL buffer asks for the
        // length needed.
        let len = i32::from_le_bytes(k.read_user(p, arg, 4)?.try_into().unwrap());
        let buf = k.read_u64(p, arg + 8)?;
        let mut n = 0;
        if buf != 0 && len >= ifreq::SIZE as i32 {
            k.write_user(p, buf, &ifreq::lo_record())?;
            n = ifreq::SIZE;
        } else if buf == 0 {
            n = ifreq::SIZE;
        }
        k.write_user(p, arg, &(n as i32).to_le_bytes())?;
        return Ok(0);
    }
    let mut ifr: [u8; ifreq::SIZE] = k.read_user(p, arg, ifreq::SIZE)?.try_into().unwrap();
    ifreq::answer(cmd, &mut ifr, inet)?;
    k.write_user(p, arg, &ifr)?;
    Ok(0)
}

pub fn sys_getsockname(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    let bytes = sock_name(k, &sock, false)?;
    put_addr(k, p, a[1], a[2], &bytes)?;
    Ok(0)
}

pub fn sys_getpeername(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    let bytes = sock_name(k, &sock, true)?;
    put_addr(k, p, a[1], a[2], &bytes)?;
    Ok(0)
}

/// A send on `fd` with data from guest iovecs: the common body of write, sendto and
/// sendmsg. Raises SIGPIPE on a broken stream unless MSG_NOSIGNAL.
///
/// A datagram or seqpacket message goes whole or not at all. A stream send moves as much
/// as fits, a chunk at a time; a blocking one (tcp_sendmsg, unix_stream_sendmsg) waits
/// until all of it is in, parking with the count so far in `Restart::done` (its retries
/// go on from there; a signal or SO_SNDTIMEO ends it with that count). Only what the
/// socket takes is copied from guest memory, so a parked sender's retries cost little.
fn send_common(
    k: &mut Kernel,
    p: &mut Process,
    fd: i32,
    iov: &[(u64, u64)],
    mut to: Option<Addr>,
    (mut fds, ip): (Vec<FileRef>, SendMeta),
    flags: u32,
) -> SysResult {
    let (file, sock) = socket_of(p, fd)?;
    let total = iov.iter().fold(0u64, |t, &(_, l)| t.saturating_add(l));
    let (stream, chunk) = {
        let s = sock.borrow();
        let chunk = match s.imp {
            Imp::Inet(_) => STREAM_CHUNK_INET,
            Imp::Unix(_) | Imp::Netlink(_) => STREAM_CHUNK_UNIX,
        };
        (s.ty == SockType::Stream, chunk)
    };
    if !stream {
        let data = super::pipe::gather(k, p, iov, 0, total.min(IO_MAX as u64) as usize)?;
        return match k.sock_send_ip(&sock, &data, to, fds, Some(p), ip) {
            Ok(n) => Ok(n as u64),
            Err(Errno::EAGAIN) => k.sock_block(p, &file, &sock, flags, true),
            Err(e) => Err(broken(p, e, flags)),
        };
    }
    let total = total.min(MAX_RW_COUNT);
    let mut done = p.thread().restart.map_or(0, |r| r.done);
    let mut moved = false;
    loop {
        let want = (total - done).min(chunk as u64) as usize;
        let data = match super::pipe::gather(k, p, iov, done, want) {
            Ok(d) => d,
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        };
        // Descriptors (and the address, which a stream checks) go with the first bytes;
        // a retry has sent those already.
        let (passing, dest) = if done == 0 {
            (std::mem::take(&mut fds), to.take())
        } else {
            (Vec::new(), None)
        };
        let n = match k.sock_send(&sock, &data, dest, passing, Some(p)) {
            Ok(n) => n as u64,
            Err(Errno::EAGAIN) => 0,
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(broken(p, e, flags)),
        };
        done += n;
        moved |= n > 0;
        if done == total {
            return Ok(done);
        }
        if n < data.len() as u64 {
            if moved {
                // Readers parked on the other end may go on even though this call parks.
                k.progress += 1;
            }
            return match k.sock_block(p, &file, &sock, flags, true) {
                Err(Errno::ERESTARTSYS) => {
                    p.set_done(done);
                    Err(Errno::ERESTARTSYS)
                }
                Err(Errno::EAGAIN) if done > 0 => Ok(done),
                r => r,
            };
        }
    }
}

/// EPIPE raises SIGPIPE unless MSG_NOSIGNAL (when nothing was sent: a partial send
/// returns its count without the signal, as tcp_sendmsg does).
fn broken(p: &mut Process, e: Errno, flags: u32) -> Errno {
    if e == Errno::EPIPE && flags & MSG_NOSIGNAL == 0 {
        p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
    }
    e
}

/// What a receive gave, written back: the bytes scattered over the iovecs. Returns the
/// count the syscall reports.
///
/// MSG_WAITALL on a blocking stream socket keeps receiving until the buffers are full,
/// the stream ends or a message carries descriptors, parking between the pieces with the
/// count so far in `Restart::done` (the bytes are already in guest memory; a signal or
/// SO_RCVTIMEO ends the call with that count, as tcp_recvmsg returns what it copied).
fn recv_common(
    k: &mut Kernel,
    p: &mut Process,
    fd: i32,
    iov: &[(u64, u64)],
    flags: u32,
) -> Result<(u64, Received), Errno> {
    let (file, sock) = socket_of(p, fd)?;
    let want: u64 = iov.iter().fold(0u64, |t, &(_, l)| t.saturating_add(l));
    let stream = sock.borrow().ty == SockType::Stream;
    // An IP socket's error queue never blocks (unix(7) has none: an ordinary receive).
    let flags = if flags & MSG_ERRQUEUE != 0 && matches!(sock.borrow().imp, Imp::Inet(_)) {
        flags | MSG_DONTWAIT
    } else {
        flags & !MSG_ERRQUEUE
    };
    let wait_all = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0 && stream;
    let mut done = if wait_all {
        p.thread().restart.map_or(0, |r| r.done)
    } else {
        0
    };
    loop {
        let max = ((want - done) as usize).min(IO_MAX);
        let r = match k.sock_recv(&sock, max, flags) {
            Ok(r) => r,
            Err(Errno::EAGAIN) => {
                return match k.sock_block(p, &file, &sock, flags, false) {
                    Err(Errno::ERESTARTSYS) if done > 0 => {
                        p.set_done(done);
                        Err(Errno::ERESTARTSYS)
                    }
                    // Timed out or non-blocking after some bytes: those.
                    Err(Errno::EAGAIN) if done > 0 => Ok((done, Received::default())),
                    // sock_block parks (ERESTARTSYS) or says EAGAIN: never a count.
                    Err(e) => Err(e),
                    Ok(_) => Err(Errno::EAGAIN),
                };
            }
            Err(_) if done > 0 => return Ok((done, Received::default())),
            Err(e) => return Err(e),
        };
        scatter(k, p, iov, done, &r.data)?;
        let count = if flags & MSG_TRUNC != 0 && !stream {
            r.full_len
        } else {
            r.data.len()
        };
        let end = r.data.is_empty() || !r.fds.is_empty();
        done += count as u64;
        if !wait_all || end || done >= want {
            return Ok((done, r));
        }
    }
}

/// Write `data` into the iovecs, starting `skip` bytes in.
fn scatter(
    k: &mut Kernel,
    p: &Process,
    iov: &[(u64, u64)],
    mut skip: u64,
    data: &[u8],
) -> Result<(), Errno> {
    let mut at = 0;
    for &(base, len) in iov {
        if at >= data.len() {
            break;
        }
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(data.len() - at);
        k.write_user(p, base + skip, &data[at..at + n])?;
        at += n;
        skip = 0;
    }
    Ok(())
}

/// read(2), readv(2), write(2), writev(2) on a socket descriptor.
pub(crate) fn socket_rw(
    k: &mut Kernel,
    p: &mut Process,
    fd: i32,
    iov: &[(u64, u64)],
    write: bool,
) -> SysResult {
    if write {
        send_common(k, p, fd, iov, None, Default::default(), 0)
    } else {
        recv_common(k, p, fd, iov, 0).map(|(n, _)| n)
    }
}

pub fn sys_sendto(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, len, flags, addr, alen) = (a[0] as i32, a[1], a[2], a[3] as u32, a[4], a[5]);
    let to = if addr != 0 {
        Some(read_addr(k, p, addr, alen)?)
    } else {
        None
    };
    send_common(k, p, fd, &[(buf, len)], to, Default::default(), flags)
}

pub fn sys_recvfrom(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, len, flags, addr, lenp) = (a[0] as i32, a[1], a[2], a[3] as u32, a[4], a[5]);
    let (n, r) = recv_common(k, p, fd, &[(buf, len)], flags)?;
    if let Some(from) = r.inet_from {
        put_addr(k, p, addr, lenp, &inet_bytes(from))?;
    } else if r.netlink_from {
        put_addr(k, p, addr, lenp, &crate::netlink::kernel_addr())?;
    } else if let Some(from) = &r.unix_from {
        put_addr(k, p, addr, lenp, &unix_bytes(Some(from)))?;
    } else if addr != 0 && lenp != 0 {
        // A connected stream, or an unbound AF_UNIX sender: no address (Linux's
        // unix_copy_addr() copies nothing, so the buffer is left and the length is 0).
        k.write_user(p, lenp, &0u32.to_le_bytes())?;
    }
    Ok(n)
}

/// struct msghdr (riscv64 LP64): name, namelen, iov, iovlen, control, controllen, flags.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

fn read_msghdr(k: &mut Kernel, p: &Process, at: u64) -> Result<MsgHdr, Errno> {
    let b = k.read_user(p, at, 56)?;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    Ok(MsgHdr {
        name: u64_at(0),
        namelen: u32::from_le_bytes(b[8..12].try_into().unwrap()),
        iov: u64_at(16),
        iovlen: u64_at(24),
        control: u64_at(32),
        controllen: u64_at(40),
    })
}

/// What a sendmsg control buffer carries: descriptors to pass (SCM_RIGHTS) and IP
/// per-datagram choices (ip_cmsg.rs), for a socket of `domain`.
fn read_cmsgs(
    k: &mut Kernel,
    p: &Process,
    h: &MsgHdr,
    domain: u16,
) -> Result<(Vec<FileRef>, SendMeta), Errno> {
    let mut fds = Vec::new();
    let mut ip = SendMeta::default();
    if h.control == 0 || h.controllen == 0 {
        return Ok((fds, ip));
    }
    if h.controllen > 64 * 1024 {
        return Err(Errno::ENOBUFS);
    }
    let buf = k.read_user(p, h.control, h.controllen as usize)?;
    let mut at = 0;
    while at + 16 <= buf.len() {
        let len = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap()) as usize;
        let level = i32::from_le_bytes(buf[at + 8..at + 12].try_into().unwrap());
        let ty = i32::from_le_bytes(buf[at + 12..at + 16].try_into().unwrap());
        if len < 16 || at + len > buf.len() {
            return Err(Errno::EINVAL);
        }
        // Credentials are the sender's own: nothing to check (SendCmsg::Skip).
        match ip_cmsg::parse_send(domain, level, ty, &buf[at + 16..at + len])? {
            SendCmsg::Rights(list) => {
                for fd in list {
                    fds.push(p.fds.file(fd)?);
                }
                if fds.len() > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
            }
            SendCmsg::Skip => {}
            SendCmsg::Ip(m) => ip_cmsg::merge(&mut ip, m),
        }
        at += (len + 7) & !7;
    }
    Ok((fds, ip))
}

fn send_msg(k: &mut Kernel, p: &mut Process, fd: i32, at: u64, flags: u32) -> SysResult {
    let h = read_msghdr(k, p, at)?;
    let iov = k.read_iovecs(p, h.iov, h.iovlen)?;
    let to = if h.name != 0 && h.namelen != 0 {
        Some(read_addr(k, p, h.name, h.namelen as u64)?)
    } else {
        None
    };
    let domain = socket_of(p, fd)?.1.borrow().domain;
    let anc = read_cmsgs(k, p, &h, domain)?;
    send_common(k, p, fd, &iov, to, anc, flags & !MSG_EOR)
}

fn recv_msg(k: &mut Kernel, p: &mut Process, fd: i32, at: u64, flags: u32) -> SysResult {
    let h = read_msghdr(k, p, at)?;
    let iov = k.read_iovecs(p, h.iov, h.iovlen)?;
    let (n, r) = recv_common(k, p, fd, &iov, flags)?;
    let sock = socket_of(p, fd)?.1;
    // The sender's address.
    let name = match (&r.inet_from, sock.borrow().domain) {
        (Some(a), _) => Some(inet_bytes(*a)),
        (None, _) if r.netlink_from => Some(crate::netlink::kernel_addr()),
        // An unbound sender has no address: msg_namelen 0, as unix_copy_addr() leaves it.
        (None, AF_UNIX) => r.unix_from.as_ref().map(|a| unix_bytes(Some(a))),
        _ => None,
    };
    let mut namelen = 0u32;
    if let Some(bytes) = name
        && h.name != 0
    {
        let n = (h.namelen as usize).min(bytes.len());
        k.write_user(p, h.name, &bytes[..n])?;
        namelen = bytes.len() as u32;
    }
    k.write_user(p, at + 8, &namelen.to_le_bytes())?;
    // Control messages: the passed descriptors, installed now; credentials if asked.
    let mut control = Vec::new();
    // ____sys_recvmsg(): msg_flags starts as the caller's MSG_CMSG_CLOEXEC (Go's
    // syscall tests check it comes back).
    let mut out_flags = flags & MSG_CMSG_CLOEXEC;
    if r.data.len() < r.full_len {
        out_flags |= MSG_TRUNC;
    }
    // An IP datagram's control messages, or the error queue's report.
    let ip_cmsgs = {
        let s = sock.borrow();
        let handle = match &s.imp {
            Imp::Inet(i) => Some(i.handle),
            Imp::Unix(_) | Imp::Netlink(_) => None,
        };
        match (handle, r.bounced, &r.meta) {
            (Some(_), true, _) => {
                out_flags |= MSG_ERRQUEUE;
                vec![ip_cmsg::bounce_cmsg(
                    &s,
                    r.inet_from.expect("bounced to somewhere"),
                )]
            }
            (Some(h), false, Some(meta)) => ip_cmsg::recv_cmsgs(
                &s,
                meta,
                || k.net.local_address(h).ok(),
                || k.host.wall_clock(),
            ),
            _ => Vec::new(),
        }
    };
    if !r.fds.is_empty() {
        let room = (h.controllen as usize).saturating_sub(16) / 4;
        let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
        let mut installed = Vec::new();
        for (i, file) in r.fds.into_iter().enumerate() {
            if i >= room {
                out_flags |= MSG_CTRUNC;
                break;
            }
            match p.fds.insert(FdEntry { file, cloexec }) {
                Ok(new) => installed.push(new),
                Err(_) => {
                    out_flags |= MSG_CTRUNC;
                    break;
                }
            }
        }
        if !installed.is_empty() {
            let len = 16 + 4 * installed.len();
            control.extend_from_slice(&(len as u64).to_le_bytes());
            control.extend_from_slice(&SOL_SOCKET.to_le_bytes());
            control.extend_from_slice(&SCM_RIGHTS.to_le_bytes());
            for fd in installed {
                control.extend_from_slice(&fd.to_le_bytes());
            }
            control.resize((control.len() + 7) & !7, 0);
        }
    }
    let passcred = sock
        .borrow()
        .stored
        .iter()
        .any(|((l, o), v)| *l == SOL_SOCKET && *o == SO_PASSCRED && v.iter().any(|&b| b != 0));
    if passcred && let Some(c) = r.cred {
        if control.len() + 32 <= h.controllen as usize {
            control.extend_from_slice(&28u64.to_le_bytes());
            control.extend_from_slice(&SOL_SOCKET.to_le_bytes());
            control.extend_from_slice(&SCM_CREDENTIALS.to_le_bytes());
            control.extend_from_slice(&c.pid.to_le_bytes());
            control.extend_from_slice(&c.uid.to_le_bytes());
            control.extend_from_slice(&c.gid.to_le_bytes());
            control.extend_from_slice(&[0; 4]);
        } else {
            out_flags |= MSG_CTRUNC;
        }
    }
    if !ip_cmsgs.is_empty() {
        let room = if h.control == 0 {
            0
        } else {
            (h.controllen as usize).saturating_sub(control.len())
        };
        let (bytes, cut) = ip_cmsg::put_cmsgs(&ip_cmsgs, room);
        control.extend_from_slice(&bytes);
        if cut {
            out_flags |= MSG_CTRUNC;
        }
    }
    if !control.is_empty() && h.control != 0 {
        k.write_user(p, h.control, &control)?;
    }
    k.write_user(p, at + 40, &(control.len() as u64).to_le_bytes())?;
    k.write_user(p, at + 48, &out_flags.to_le_bytes())?;
    Ok(n)
}

pub fn sys_sendmsg(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    send_msg(k, p, a[0] as i32, a[1], a[2] as u32)
}

pub fn sys_recvmsg(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    recv_msg(k, p, a[0] as i32, a[1], a[2] as u32)
}

/// sendmmsg(2): glibc's resolver sends its A and AAAA queries with one call. Each message
/// is a sendmsg; a blocking one that waits parks the call with the messages sent so far
/// in `Restart::msgs`, and its retries go on with the next (a signal returns the count).
pub fn sys_sendmmsg(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, vec, n, flags) = (a[0] as i32, a[1], (a[2] as u32).min(1024), a[3] as u32);
    let mut sent = p.thread().restart.and_then(|r| r.msgs).unwrap_or(0);
    while sent < n as u64 {
        let at = vec + sent * 64;
        match send_msg(k, p, fd, at, flags) {
            Ok(len) => {
                k.write_user(p, at + 56, &(len as u32).to_le_bytes())?;
                sent += 1;
                // The next message starts from its first byte.
                if let Some(r) = p.thread_mut().restart.as_mut() {
                    r.done = 0;
                }
            }
            Err(Errno::ERESTARTSYS) => {
                // A message partly sent counts if a signal ends the call: its msg_len
                // must say how much went.
                let partial = p.thread().restart.map_or(0, |r| r.done);
                if partial > 0 {
                    k.write_user(p, at + 56, &(partial as u32).to_le_bytes())?;
                }
                return park_mmsg(p, sent);
            }
            Err(_) if sent > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// A sendmmsg/recvmmsg parked in its message `done`: keep the count for its retries.
fn park_mmsg(p: &mut Process, done: u64) -> SysResult {
    if let Some(r) = p.thread_mut().restart.as_mut() {
        r.msgs = Some(done);
    }
    Err(Errno::ERESTARTSYS)
}

/// recvmmsg(2): like recvmsg for each message; a blocking call waits for all `vlen`
/// (parking with the count so far, as do_recvmmsg does), MSG_WAITFORONE only for the
/// first. The timeout ends the call after the message during which it expired, as on
/// Linux, and also bounds the waits (Linux looks at it only after each message).
pub fn sys_recvmmsg(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, vec, n, flags, timeout) = (
        a[0] as i32,
        a[1],
        (a[2] as u32).min(1024),
        a[3] as u32,
        a[4],
    );
    let deadline = if timeout != 0 {
        let ns = super::signal::read_timespec_ns(k, p, timeout)?;
        k.deadline_in(p, Some(ns))
    } else {
        None
    };
    let mut got = p.thread().restart.and_then(|r| r.msgs).unwrap_or(0);
    while got < n as u64 {
        let at = vec + got * 64;
        let mut f = flags & !MSG_WAITFORONE;
        if got > 0 && flags & MSG_WAITFORONE != 0 {
            f |= MSG_DONTWAIT;
        }
        match recv_msg(k, p, fd, at, f) {
            Ok(len) => {
                k.write_user(p, at + 56, &(len as u32).to_le_bytes())?;
                got += 1;
                if let Some(r) = p.thread_mut().restart.as_mut() {
                    r.done = 0;
                }
                if deadline.is_some_and(|d| k.host.monotonic_ns() >= d) {
                    break;
                }
            }
            Err(Errno::ERESTARTSYS) => {
                let partial = p.thread().restart.map_or(0, |r| r.done);
                if partial > 0 {
                    k.write_user(p, at + 56, &(partial as u32).to_le_bytes())?;
                }
                return park_mmsg(p, got);
            }
            Err(_) if got > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

pub fn sys_shutdown(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    let how = a[1];
    if how > 2 {
        return Err(Errno::EINVAL);
    }
    let mut s = sock.borrow_mut();
    let ty = s.ty;
    match &mut s.imp {
        // netlink_proto_ops has no shutdown: sock_no_shutdown.
        Imp::Netlink(_) => Err(Errno::EOPNOTSUPP),
        Imp::Inet(i) => k.net.shutdown(i.handle, how as u8).map(|_| 0),
        Imp::Unix(u) => {
            if ty != SockType::Dgram && !u.connected {
                return Err(Errno::ENOTCONN);
            }
            if how != 1 {
                u.rd_shut = true;
            }
            if how != 0 {
                u.wr_shut = true;
            }
            drop(s);
            // The peer sees end of file once it has read what is queued.
            if how != 0
                && let Some(peer) = peer_of(&sock.borrow())
                && let Some(pu) = peer.borrow_mut().unix_mut()
            {
                pu.rd_shut = true;
            }
            Ok(0)
        }
    }
}

fn int_opt(v: &[u8]) -> Result<u64, Errno> {
    if v.len() < 4 {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_le_bytes(v[..4].try_into().unwrap()).max(0) as u64)
}

/// A struct timeval (16 bytes) as nanoseconds.
fn timeval_ns(v: &[u8]) -> Result<u64, Errno> {
    if v.len() < 16 {
        return Err(Errno::EINVAL);
    }
    let sec = i64::from_le_bytes(v[..8].try_into().unwrap());
    let usec = i64::from_le_bytes(v[8..16].try_into().unwrap());
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    Ok(sec as u64 * 1_000_000_000 + usec as u64 * 1000)
}

fn ns_timeval(ns: u64) -> Vec<u8> {
    let mut b = ((ns / 1_000_000_000) as i64).to_le_bytes().to_vec();
    b.extend_from_slice(&(((ns % 1_000_000_000) / 1000) as i64).to_le_bytes());
    b
}

/// An option the net backend honours, for IP sockets.
fn net_opt(level: i32, name: i32) -> Option<SockOpt> {
    match (level, name) {
        (SOL_SOCKET, SO_REUSEADDR) => Some(SockOpt::ReuseAddress),
        (SOL_SOCKET, SO_KEEPALIVE) => Some(SockOpt::KeepAlive),
        (SOL_SOCKET, SO_RCVBUF) => Some(SockOpt::ReceiveBufferSize),
        (SOL_SOCKET, SO_SNDBUF) => Some(SockOpt::SendBufferSize),
        (IPPROTO_TCP, TCP_NODELAY) => Some(SockOpt::NoDelay),
        (IPPROTO_IP, IP_TTL) | (IPPROTO_IPV6, IPV6_UNICAST_HOPS) => Some(SockOpt::HopLimit),
        (IPPROTO_IPV6, IPV6_V6ONLY) => Some(SockOpt::V6Only),
        _ => None,
    }
}

/// Options Linux accepts whose effect does not show in what a program computes (routing
/// hints, timestamps, TCP tuning): stored and read back.
fn storable(level: i32, name: i32) -> bool {
    match level {
        // SO_DEBUG, SO_DONTROUTE, SO_BROADCAST, SO_OOBINLINE, SO_NO_CHECK, SO_PRIORITY,
        // SO_LINGER, SO_REUSEPORT, SO_PASSCRED, SO_RCVLOWAT, SO_SNDLOWAT, SO_BINDTODEVICE,
        // SO_TIMESTAMP, SO_MARK, SO_BUSY_POLL, SO_ZEROCOPY...
        // SO_TIMESTAMP, SO_TIMESTAMPNS and their _NEW forms are honoured by recvmsg on IP
        // datagrams (ip_cmsg.rs).
        SOL_SOCKET => matches!(
            name,
            1 | 5
                | 6
                | 10
                | 11
                | 12
                | 13
                | 15
                | 16
                | 18
                | 19
                | 25
                | 29
                | 35
                | 36
                | 46
                | 60
                | 63
                | 64
        ),
        // TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE/INTVL/CNT, TCP_SYNCNT, TCP_LINGER2,
        // TCP_DEFER_ACCEPT, TCP_WINDOW_CLAMP, TCP_QUICKACK, TCP_USER_TIMEOUT, TCP_FASTOPEN...
        IPPROTO_TCP => matches!(name, 2..=12 | 18 | 23 | 30),
        // IP_TOS, IP_PKTINFO, IP_MTU_DISCOVER, IP_RECVERR, IP_RECVTTL, IP_RECVTOS,
        // IP_FREEBIND, IP_RECVORIGDSTADDR, IP_BIND_ADDRESS_NO_PORT, IP_MULTICAST_TTL/LOOP.
        // The TOS and the IP_RECV* ones show in what recvmsg and sendmsg carry (ip_cmsg.rs),
        // IP_RECVERR in the error queue (the backend's).
        IPPROTO_IP => matches!(name, 1 | 8 | 10 | 11 | 12 | 13 | 15 | 20 | 24 | 33 | 34),
        // IPV6_MULTICAST_IF/HOPS/LOOP, IPV6_MTU_DISCOVER, IPV6_RECVERR, IPV6_RECVPKTINFO,
        // IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, IPV6_TCLASS, IPV6_RECVORIGDSTADDR.
        // IPV6_DONTFRAG (62) too: nothing is fragmented here.
        IPPROTO_IPV6 => matches!(name, 17 | 18 | 19 | 23 | 25 | 49 | 51 | 62 | 66 | 67 | 74),
        _ => false,
    }
}

/// Stored options whose effect friscy carries out (ip_cmsg.rs and the error queue): the
/// trace does not call them ineffective.
fn honoured(level: i32, name: i32) -> bool {
    matches!(
        (level, name),
        (IPPROTO_IP, 1 | 8 | 11 | 12 | 13 | 20) | (IPPROTO_IPV6, 25 | 49 | 51 | 66 | 67 | 74)
    )
}

pub fn sys_setsockopt(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    let (level, name, val, len) = (a[1] as i32, a[2] as i32, a[3], a[4] as usize);
    if len > 4096 {
        return Err(Errno::EINVAL);
    }
    let v = k.read_user(p, val, len)?;
    let mut s = sock.borrow_mut();
    match (level, name) {
        (SOL_SOCKET, SO_RCVTIMEO) => s.rcvtimeo = timeval_ns(&v)?,
        (SOL_SOCKET, SO_SNDTIMEO) => s.sndtimeo = timeval_ns(&v)?,
        (SOL_SOCKET, SO_LINGER) => {
            // struct linger { int l_onoff; int l_linger; }: sock_setsockopt() keeps a flag
            // (getsockopt reads back 1 for any non-zero l_onoff) and the time.
            if v.len() < 8 {
                return Err(Errno::EINVAL);
            }
            let on = i32::from_le_bytes(v[0..4].try_into().expect("4 bytes")) != 0;
            let secs = i32::from_le_bytes(v[4..8].try_into().expect("4 bytes"));
            if let Imp::Inet(i) = &mut s.imp {
                i.abort = on && secs == 0;
                if i.abort && !k.net.local() && k.trace {
                    k.report(
                        "setsockopt(SO_LINGER 0): the host network has no abortive close; the close will end the connection normally",
                    );
                }
            }
            let mut kept = (on as i32).to_le_bytes().to_vec();
            kept.extend_from_slice(&secs.to_le_bytes());
            s.stored.retain(|(key, _)| *key != (level, name));
            s.stored.push(((level, name), kept));
        }
        _ => {
            if let Imp::Inet(i) = &s.imp
                && matches!(
                    (level, name),
                    (IPPROTO_IP, ip_cmsg::IP_RECVERR) | (IPPROTO_IPV6, ip_cmsg::IPV6_RECVERR)
                )
            {
                k.net.set_recverr(i.handle, int_opt(&v)? != 0);
            }
            if let (Imp::Inet(i), Some(opt)) = (&s.imp, net_opt(level, name)) {
                let h = i.handle;
                k.net.set_option(h, opt, int_opt(&v)?)?;
            } else if matches!(
                (level, name),
                (
                    SOL_SOCKET,
                    SO_REUSEADDR | SO_KEEPALIVE | SO_RCVBUF | SO_SNDBUF
                )
            ) || storable(level, name)
            {
                if k.trace && !matches!(level, SOL_SOCKET) && !honoured(level, name) {
                    k.report(&format!(
                        "setsockopt(level {level}, option {name}) accepted without effect"
                    ));
                }
            } else {
                return Err(Errno::ENOPROTOOPT);
            }
            s.stored.retain(|(key, _)| *key != (level, name));
            s.stored.push(((level, name), v));
        }
    }
    Ok(0)
}

pub fn sys_getsockopt(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (_, sock) = socket_of(p, a[0] as i32)?;
    let (level, name, val, lenp) = (a[1] as i32, a[2] as i32, a[3], a[4]);
    let have = u32::from_le_bytes(k.read_user(p, lenp, 4)?.try_into().unwrap());
    if (have as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let int = |v: u64| (v as i32).to_le_bytes().to_vec();
    // SO_ERROR takes an AF_UNIX socket's pending error (sock_error).
    let unix_error = if (level, name) == (SOL_SOCKET, SO_ERROR) {
        sock.borrow_mut().unix_mut().and_then(|u| u.error.take())
    } else {
        None
    };
    let bytes = {
        let s = sock.borrow();
        match (level, name) {
            (SOL_SOCKET, SO_TYPE) => int(s.ty.linux() as u64),
            (SOL_SOCKET, SO_DOMAIN) => int(s.domain as u64),
            (SOL_SOCKET, SO_PROTOCOL) => int(s.protocol as u64),
            (SOL_SOCKET, SO_ACCEPTCONN) => int(s.listening as u64),
            (SOL_SOCKET, SO_RCVTIMEO) => ns_timeval(s.rcvtimeo),
            (SOL_SOCKET, SO_SNDTIMEO) => ns_timeval(s.sndtimeo),
            (SOL_SOCKET, SO_ERROR) => match &s.imp {
                Imp::Inet(i) => int(k.net.take_error(i.handle).map_or(0, |e| e as u64)),
                Imp::Unix(_) => int(unix_error.map_or(0, |e| e as u64)),
                Imp::Netlink(_) => int(0),
            },
            // The path MTU of a connected socket: the loopback's (65536; IP_MTU caps it at
            // an IPv4 packet's 65535, as Linux does), else Ethernet's, which is all a wasi
            // socket can guess.
            (IPPROTO_IP, IP_MTU) | (IPPROTO_IPV6, IPV6_MTU) => match &s.imp {
                Imp::Inet(i) => match k.net.remote_address(i.handle) {
                    Ok(peer) if peer.ip().is_loopback() || v4_loopback(peer.ip()) => {
                        int(if level == IPPROTO_IP { 65535 } else { 65536 })
                    }
                    Ok(_) => int(1500),
                    Err(_) => return Err(Errno::ENOTCONN),
                },
                Imp::Unix(_) | Imp::Netlink(_) => return Err(Errno::EOPNOTSUPP),
            },
            (SOL_SOCKET, SO_PEERCRED) => {
                let c = match &s.imp {
                    Imp::Unix(u) => u.peer_cred.unwrap_or(Cred {
                        pid: 0,
                        uid: u32::MAX,
                        gid: u32::MAX,
                    }),
                    Imp::Inet(_) | Imp::Netlink(_) => Cred {
                        pid: 0,
                        uid: u32::MAX,
                        gid: u32::MAX,
                    },
                };
                let mut b = c.pid.to_le_bytes().to_vec();
                b.extend_from_slice(&c.uid.to_le_bytes());
                b.extend_from_slice(&c.gid.to_le_bytes());
                b
            }
            _ => {
                let stored = s
                    .stored
                    .iter()
                    .find(|(key, _)| *key == (level, name))
                    .map(|(_, v)| v.clone());
                match (&s.imp, net_opt(level, name)) {
                    (Imp::Inet(i), Some(opt)) => {
                        let v = k.net.get_option(i.handle, opt)?;
                        int(v)
                    }
                    (Imp::Unix(_), Some(SockOpt::ReceiveBufferSize | SockOpt::SendBufferSize)) => {
                        int(UNIX_RCVBUF as u64)
                    }
                    _ => match stored {
                        Some(v) => v,
                        None if storable(level, name) || net_opt(level, name).is_some() => {
                            // SO_LINGER is a struct of two ints; the rest are ints, 0 but
                            // for the multicast options Linux starts at 1 (loopback on,
                            // TTL and hops 1).
                            match (level, name) {
                                (SOL_SOCKET, SO_LINGER) => vec![0; 8],
                                (IPPROTO_IP, 33 | 34) | (IPPROTO_IPV6, 18 | 19) => int(1),
                                _ => int(0),
                            }
                        }
                        None => return Err(Errno::ENOPROTOOPT),
                    },
                }
            }
        }
    };
    let n = (have as usize).min(bytes.len());
    k.write_user(p, val, &bytes[..n])?;
    k.write_user(p, lenp, &(n as u32).to_le_bytes())?;
    Ok(0)
}

impl Kernel {
    /// read(2) through `file_read` (sendfile, splice): no flags, no address.
    pub(crate) fn socket_read(&mut self, sock: &SockRef, len: usize) -> Result<Vec<u8>, Errno> {
        self.sock_recv(sock, len, 0).map(|r| r.data)
    }
    /// write(2) through `file_write`.
    pub(crate) fn socket_write(&mut self, sock: &SockRef, data: &[u8]) -> Result<u64, Errno> {
        self.sock_send(sock, data, None, Vec::new(), None)
            .map(|n| n as u64)
    }
}

/// A socket's readiness for poll.rs, which has no socket code of its own.
pub(crate) fn poll_socket(k: &mut Kernel, f: &OpenFile, asked: u16) -> u16 {
    match &f.kind {
        FileKind::Socket(s) => match s.0.try_borrow() {
            Ok(s) => k.socket_events(&s, asked),
            Err(_) => 0,
        },
        _ => 0,
    }
}
