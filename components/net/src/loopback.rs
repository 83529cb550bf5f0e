//! [`Net`] without a network: the guest's own loopback interface, what a container started
//! with `--network none` has. TCP and UDP over 127.0.0.0/8 and ::1 work between guest
//! processes, entirely in memory; every other destination is ENETUNREACH, as on a machine
//! whose only interface is `lo`.
//!
//! Linux's behaviours kept here, because programs test for them:
//! - ports: one namespace per protocol shared by IPv4 and IPv6 (IPv6 sockets are
//!   dual-stack, IPV6_V6ONLY being 0 by default; with it set, `::` takes IPv6 only and
//!   leaves the port to IPv4 sockets, as nginx's and asyncio's `[::]` and `0.0.0.0`
//!   listeners on one port need): EADDRINUSE unless both sockets set
//!   SO_REUSEADDR and (TCP) neither listens; port 0 and an unbound connect, send or
//!   listen take an ephemeral port (32768-60999, ip_local_port_range).
//! - addresses: binding a non-loopback address is EADDRNOTAVAIL; 0.0.0.0 and `::` as
//!   destinations mean this host; an IPv6 socket sees IPv4 peers as `::ffff:a.b.c.d`.
//! - TCP: connect to a port nobody listens on is ECONNREFUSED (a non-blocking connect
//!   says EINPROGRESS and reports it through SO_ERROR, as the loopback's RST arrives
//!   after connect(2) returns); a peer's close(2) is end of file; the first write after it
//!   still succeeds (the peer answers it with a reset) and later ones are EPIPE; closing
//!   with unread bytes resets the connection (ECONNRESET on the other side); closing a
//!   listener resets the connections it had not accepted.
//! - UDP: a datagram to a port nobody has bound is dropped, and a connected socket hears
//!   of it as ECONNREFUSED on its next call (the ICMP port-unreachable); a full receive
//!   buffer drops datagrams; a connected socket only receives from its peer.
//!
//! Everything here changes only through calls on the backend, so there is nothing to
//! wait for outside the guest ([`Net::local`]): the kernel retries parked calls when
//! another guest thread makes progress, as it does for AF_UNIX sockets.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use friscy_abi::Errno;

use crate::{
    Bounced, DgramMeta, Family, Kind, Net, Readiness, SendMeta, SockAddr, SockOpt, Socket,
    family_of,
};

/// A socket's receive buffer unless the guest sets SO_RCVBUF (Linux's tcp_rmem default).
const DEFAULT_RCVBUF: u64 = 131_072;
/// The send buffer SO_SNDBUF reports unless set (tcp_wmem default).
const DEFAULT_SNDBUF: u64 = 16_384;
/// Linux's bounds for SO_RCVBUF/SO_SNDBUF (net.core.rmem_max, wmem_max; SOCK_MIN_RCVBUF,
/// SOCK_MIN_SNDBUF): the value set is capped, then doubled.
const BUF_MAX: u64 = 212_992;
const MIN_RCVBUF: u64 = 2_304;
const MIN_SNDBUF: u64 = 4_608;
/// The largest UDP payload over IPv4 and IPv6 (65535 less the headers).
const UDP_MAX_V4: usize = 65_507;
const UDP_MAX_V6: usize = 65_527;
/// ip_local_port_range.
const EPHEMERAL: std::ops::RangeInclusive<u16> = 32_768..=60_999;
/// SOMAXCONN: the longest accept queue.
const SOMAXCONN: usize = 4_096;

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Created, maybe bound.
    Fresh,
    Listening,
    /// A connect(2) has been answered; its result waits for the second call (a blocking
    /// connect's retry) or SO_ERROR.
    Connecting(Result<(), Errno>),
    Connected,
    /// A connect(2) failed and said so: not connected; another connect may try again.
    Failed,
    /// The connection is over (reset, or the peer went and a write found out).
    Closed,
}

#[derive(Debug)]
struct Lo {
    family: Family,
    kind: Kind,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    state: State,
    /// Stream: the other end's handle while it exists.
    peer: Option<Socket>,
    /// Stream bytes received and not yet read.
    stream_rx: VecDeque<u8>,
    /// Datagrams received and not yet read, with their senders and what they carried.
    dgram_rx: VecDeque<(Vec<u8>, SocketAddr, DgramMeta)>,
    dgram_bytes: usize,
    /// IP_RECVERR: datagrams this socket sent that bounced (no one had the port), with
    /// where they went, waiting for MSG_ERRQUEUE.
    recverr: bool,
    errq: VecDeque<(Vec<u8>, SocketAddr)>,
    errq_bytes: usize,
    /// Listening: connections made and not yet accepted (their server-side handles).
    backlog: VecDeque<Socket>,
    /// The peer shut its writing side or closed: reads end at what is queued.
    eof: bool,
    /// The peer closed and this side has not written since (a write gets the reset).
    peer_closed: bool,
    rd_shut: bool,
    wr_shut: bool,
    /// SO_ERROR.
    error: Option<Errno>,
    reuse: bool,
    /// IPV6_V6ONLY.
    v6only: bool,
    keepalive: bool,
    nodelay: bool,
    hop_limit: u64,
    rcvbuf: u64,
    sndbuf: u64,
}

impl Lo {
    fn new(family: Family, kind: Kind) -> Lo {
        Lo {
            family,
            kind,
            local: None,
            remote: None,
            state: State::Fresh,
            peer: None,
            stream_rx: VecDeque::new(),
            dgram_rx: VecDeque::new(),
            dgram_bytes: 0,
            recverr: false,
            errq: VecDeque::new(),
            errq_bytes: 0,
            backlog: VecDeque::new(),
            eof: false,
            peer_closed: false,
            rd_shut: false,
            wr_shut: false,
            error: None,
            reuse: false,
            v6only: false,
            keepalive: false,
            nodelay: false,
            hop_limit: 64,
            rcvbuf: DEFAULT_RCVBUF,
            sndbuf: DEFAULT_SNDBUF,
        }
    }

    fn room(&self) -> usize {
        (self.rcvbuf as usize).saturating_sub(self.stream_rx.len())
    }
}

/// The loopback network: every socket of the guest's IP families.
#[derive(Debug, Default)]
pub struct Loopback {
    socks: BTreeMap<Socket, Lo>,
    next: Socket,
    next_port: u16,
}

/// An IPv4 address as IPv6 sees it (`::ffff:a.b.c.d`), or the address itself.
fn v4_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Whether `ip` is one of this host's addresses (what bind accepts besides the wildcard).
fn is_local(ip: IpAddr) -> bool {
    match v4_of(ip) {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

fn is_wildcard(ip: IpAddr) -> bool {
    v4_of(ip).is_unspecified()
}

/// `addr` as a socket of `family` reports it: IPv4 addresses mapped for IPv6 sockets.
fn in_family(addr: SocketAddr, family: Family) -> SocketAddr {
    match (addr, family) {
        (SocketAddr::V4(a), Family::Inet6) => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        _ => addr,
    }
}

/// The addresses of one family a bound socket takes: none, all (a wildcard) or one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cover<T> {
    Nothing,
    All,
    One(T),
}

impl<T: PartialEq> Cover<T> {
    fn has(&self, a: T) -> bool {
        match self {
            Cover::Nothing => false,
            Cover::All => true,
            Cover::One(x) => *x == a,
        }
    }
    /// Whether two sockets' covers share an address.
    fn meets(&self, other: &Cover<T>) -> bool {
        match (self, other) {
            (Cover::Nothing, _) | (_, Cover::Nothing) => false,
            (Cover::One(a), Cover::One(b)) => a == b,
            _ => true,
        }
    }
}

/// What a socket bound to `ip` takes, of IPv4 and of IPv6: 0.0.0.0 all of IPv4, `::`
/// all of IPv6 and, unless IPV6_V6ONLY, all of IPv4 too.
fn cover(ip: IpAddr, v6only: bool) -> (Cover<Ipv4Addr>, Cover<Ipv6Addr>) {
    match v4_of(ip) {
        IpAddr::V4(a) if a.is_unspecified() => (Cover::All, Cover::Nothing),
        IpAddr::V4(a) => (Cover::One(a), Cover::Nothing),
        IpAddr::V6(a) if a.is_unspecified() => {
            (if v6only { Cover::Nothing } else { Cover::All }, Cover::All)
        }
        IpAddr::V6(a) => (Cover::Nothing, Cover::One(a)),
    }
}

/// Whether a socket bound to `bound` receives what is sent to `dst` (same port assumed).
fn accepts(bound: SocketAddr, v6only: bool, dst: IpAddr) -> bool {
    let (v4, v6) = cover(bound.ip(), v6only);
    match v4_of(dst) {
        IpAddr::V4(d) => v4.has(d),
        IpAddr::V6(d) => v6.has(d),
    }
}

/// The address a connection or datagram to `dst` comes from when the sender is bound to
/// the wildcard: the loopback address of the destination's kind.
fn source_for(dst: IpAddr) -> IpAddr {
    match v4_of(dst) {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// A destination of 0.0.0.0 or `::` means this host (Linux connects to the loopback).
fn destination(dst: SocketAddr) -> SocketAddr {
    let mut d = dst;
    if is_wildcard(d.ip()) {
        d.set_ip(match d.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
                IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())
            }
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    d
}

impl Loopback {
    pub fn new() -> Loopback {
        Loopback::default()
    }

    fn get(&mut self, s: Socket) -> Result<&mut Lo, Errno> {
        self.socks.get_mut(&s).ok_or(Errno::EBADF)
    }

    /// Whether binding `addr` (of `kind`, by socket `s`) clashes with a bound socket.
    fn in_use(&self, s: Socket, kind: Kind, addr: SocketAddr, reuse: bool) -> bool {
        let mine = cover(addr.ip(), self.socks.get(&s).is_some_and(|o| o.v6only));
        self.socks.iter().any(|(&h, o)| {
            let Some(l) = o.local else { return false };
            if h == s || o.kind != kind || l.port() != addr.port() {
                return false;
            }
            let theirs = cover(l.ip(), o.v6only);
            let overlap = mine.0.meets(&theirs.0) || mine.1.meets(&theirs.1);
            let shared =
                reuse && o.reuse && (kind == Kind::Datagram || o.state != State::Listening);
            overlap && !shared
        })
    }

    /// A free ephemeral port for `ip`.
    fn ephemeral(&mut self, s: Socket, kind: Kind, ip: IpAddr) -> Result<u16, Errno> {
        let span = (EPHEMERAL.end() - EPHEMERAL.start()) as u32 + 1;
        for _ in 0..span {
            self.next_port =
                if EPHEMERAL.contains(&self.next_port) && self.next_port < *EPHEMERAL.end() {
                    self.next_port + 1
                } else {
                    *EPHEMERAL.start()
                };
            let port = self.next_port;
            if !self.in_use(s, kind, SocketAddr::new(ip, port), false) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRINUSE)
    }

    /// Bind an unbound socket to an ephemeral port (connect, send, listen without bind).
    fn autobind(&mut self, s: Socket, ip: Option<IpAddr>) -> Result<SocketAddr, Errno> {
        let (family, kind, local) = {
            let o = self.get(s)?;
            (o.family, o.kind, o.local)
        };
        if let Some(l) = local {
            return Ok(l);
        }
        let ip = ip.unwrap_or(match family {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        let port = self.ephemeral(s, kind, ip)?;
        let addr = in_family(SocketAddr::new(ip, port), family);
        self.get(s)?.local = Some(addr);
        Ok(addr)
    }

    /// The socket of `kind` that takes what is sent to `dst`: a listener (stream) or a
    /// bound socket (datagram). A connected datagram socket only takes from its peer.
    fn find(&self, kind: Kind, dst: SocketAddr, from: SocketAddr) -> Option<Socket> {
        let mut best = None;
        for (&h, o) in &self.socks {
            let Some(l) = o.local else { continue };
            if o.kind != kind || l.port() != dst.port() || !accepts(l, o.v6only, dst.ip()) {
                continue;
            }
            if o.family == Family::Inet && !v4_of(dst.ip()).is_ipv4() {
                continue;
            }
            match kind {
                Kind::Stream if o.state != State::Listening => continue,
                Kind::Datagram => {
                    if let Some(r) = o.remote
                        && (v4_of(r.ip()) != v4_of(from.ip()) || r.port() != from.port())
                    {
                        continue;
                    }
                }
                Kind::Stream => {}
            }
            // A socket bound to the exact address wins over a wildcard one.
            if !is_wildcard(l.ip()) {
                return Some(h);
            }
            best.get_or_insert(h);
        }
        best
    }

    /// Check a destination's family and that it is on this host.
    fn check_destination(&self, family: Family, dst: SocketAddr) -> Result<SocketAddr, Errno> {
        if family_of(&dst) != family {
            return Err(Errno::EAFNOSUPPORT);
        }
        if !is_local(dst.ip()) && !is_wildcard(dst.ip()) {
            return Err(Errno::ENETUNREACH);
        }
        Ok(destination(dst))
    }

    /// A connection to `dst` from `s`: the server's end waits in the listener's backlog.
    fn connect_stream(&mut self, s: Socket, dst: SocketAddr) -> Result<(), Errno> {
        let src_ip = source_for(dst.ip());
        let local = self.autobind(s, None)?;
        let mut from = local;
        if is_wildcard(from.ip()) {
            from.set_ip(src_ip);
        }
        let Some(listener) = self.find(Kind::Stream, dst, from) else {
            return Err(Errno::ECONNREFUSED);
        };
        let (lfamily, lrcvbuf) = {
            let l = self.get(listener)?;
            if l.backlog.len() >= SOMAXCONN {
                return Err(Errno::ECONNREFUSED);
            }
            (l.family, l.rcvbuf)
        };
        let server = self.next_handle();
        let mut end = Lo::new(lfamily, Kind::Stream);
        end.local = Some(in_family(dst, lfamily));
        end.remote = Some(in_family(from, lfamily));
        end.state = State::Connected;
        end.peer = Some(s);
        end.rcvbuf = lrcvbuf;
        self.socks.insert(server, end);
        self.get(listener)?.backlog.push_back(server);
        let family = self.get(s)?.family;
        let o = self.get(s)?;
        o.local = Some(in_family(from, family));
        o.remote = Some(in_family(dst, family));
        o.peer = Some(server);
        Ok(())
    }

    fn next_handle(&mut self) -> Socket {
        self.next += 1;
        self.next
    }

    /// close(2) of the last descriptor; `abort`: with SO_LINGER 0 (always a reset).
    fn close_with(&mut self, s: Socket, abort: bool) {
        let Some(o) = self.socks.remove(&s) else {
            return;
        };
        if let Some(peer) = o.peer {
            // Unread bytes make Linux answer with a reset instead of a FIN
            // (tcp_close()), as does SO_LINGER 0.
            let reset = abort || !o.stream_rx.is_empty();
            self.hang_up(peer, reset, false);
        }
        for pending in o.backlog {
            // Connections nobody accepted are reset.
            if let Some(end) = self.socks.remove(&pending)
                && let Some(client) = end.peer
            {
                self.hang_up(client, true, false);
            }
        }
    }

    /// The other end of `s`'s connection learns that `s` is gone (close) or will send no
    /// more (`shut_only`).
    fn hang_up(&mut self, peer: Socket, reset: bool, shut_only: bool) {
        if let Some(p) = self.socks.get_mut(&peer) {
            p.eof = true;
            if shut_only {
                return;
            }
            p.peer = None;
            if reset {
                p.error = Some(Errno::ECONNRESET);
                p.state = State::Closed;
            } else {
                p.peer_closed = true;
            }
        }
    }
}

impl Net for Loopback {
    fn create(&mut self, family: Family, kind: Kind) -> Result<Socket, Errno> {
        let h = self.next_handle();
        self.socks.insert(h, Lo::new(family, kind));
        Ok(h)
    }

    fn close(&mut self, s: Socket) {
        self.close_with(s, false);
    }

    fn abort(&mut self, s: Socket) {
        self.close_with(s, true);
    }

    fn bind(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
        let (family, kind, bound, reuse) = {
            let o = self.get(s)?;
            (o.family, o.kind, o.local.is_some(), o.reuse)
        };
        if family_of(&addr) != family {
            return Err(Errno::EAFNOSUPPORT);
        }
        if bound {
            return Err(Errno::EINVAL);
        }
        if !is_wildcard(addr.ip()) && !is_local(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let mut addr = addr;
        if addr.port() == 0 {
            addr.set_port(self.ephemeral(s, kind, addr.ip())?);
        } else if self.in_use(s, kind, addr, reuse) {
            return Err(Errno::EADDRINUSE);
        }
        if let SocketAddr::V6(a) = &mut addr {
            a.set_flowinfo(0);
        }
        self.get(s)?.local = Some(addr);
        Ok(())
    }

    fn connect(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
        let (family, kind) = {
            let o = self.get(s)?;
            (o.family, o.kind)
        };
        if kind == Kind::Datagram {
            let dst = self.check_destination(family, addr)?;
            let src = source_for(dst.ip());
            let local = self.autobind(s, None)?;
            let o = self.get(s)?;
            if is_wildcard(local.ip()) {
                o.local = Some(in_family(SocketAddr::new(src, local.port()), family));
            }
            o.remote = Some(in_family(dst, family));
            o.error = None;
            return Ok(());
        }
        let o = self.get(s)?;
        match std::mem::replace(&mut o.state, State::Fresh) {
            State::Connecting(r) => {
                // The retry of a blocking connect, or a second call after EINPROGRESS.
                o.state = if r.is_ok() {
                    State::Connected
                } else {
                    State::Failed
                };
                o.error = None;
                return r;
            }
            State::Connected => {
                o.state = State::Connected;
                return Err(Errno::EISCONN);
            }
            State::Listening => {
                o.state = State::Listening;
                return Err(Errno::EISCONN);
            }
            State::Closed => {
                o.state = State::Closed;
                return Err(Errno::EISCONN);
            }
            State::Fresh | State::Failed => {}
        }
        let dst = self.check_destination(family, addr)?;
        let r = self.connect_stream(s, dst);
        let o = self.get(s)?;
        o.error = r.err();
        o.state = State::Connecting(r);
        Err(Errno::EINPROGRESS)
    }

    fn listen(&mut self, s: Socket, _backlog: u32) -> Result<(), Errno> {
        let o = self.get(s)?;
        match o.state {
            State::Fresh | State::Failed | State::Listening => {}
            _ => return Err(Errno::EINVAL),
        }
        if o.local.is_none() {
            self.autobind(s, None)?;
        }
        let (local, reuse, v6only) = {
            let o = self.get(s)?;
            (o.local.expect("bound"), o.reuse, o.v6only)
        };
        // A second socket bound with SO_REUSEADDR may not listen on a port another
        // already listens on.
        let mine = cover(local.ip(), v6only);
        let clash = self.socks.iter().any(|(&h, o)| {
            h != s
                && o.kind == Kind::Stream
                && o.state == State::Listening
                && o.local.is_some_and(|l| {
                    let theirs = cover(l.ip(), o.v6only);
                    l.port() == local.port() && (mine.0.meets(&theirs.0) || mine.1.meets(&theirs.1))
                })
        });
        if clash && reuse {
            return Err(Errno::EADDRINUSE);
        }
        self.get(s)?.state = State::Listening;
        Ok(())
    }

    fn accept(&mut self, s: Socket) -> Result<(Socket, SockAddr), Errno> {
        let o = self.get(s)?;
        if o.state != State::Listening {
            return Err(Errno::EINVAL);
        }
        let Some(h) = o.backlog.pop_front() else {
            return Err(Errno::EAGAIN);
        };
        let peer = self.get(h)?.remote.expect("connected");
        Ok((h, peer))
    }

    fn send(&mut self, s: Socket, data: &[u8], to: Option<SockAddr>) -> Result<usize, Errno> {
        self.send_meta(s, data, to, SendMeta::default())
    }

    fn send_meta(
        &mut self,
        s: Socket,
        data: &[u8],
        to: Option<SockAddr>,
        meta: SendMeta,
    ) -> Result<usize, Errno> {
        let (family, kind) = {
            let o = self.get(s)?;
            (o.family, o.kind)
        };
        if kind == Kind::Datagram {
            let o = self.get(s)?;
            if let Some(e) = o.error.take() {
                return Err(e);
            }
            if o.wr_shut {
                return Err(Errno::EPIPE);
            }
            let dst = match (to, o.remote) {
                (Some(t), _) => self.check_destination(family, t)?,
                (None, Some(r)) => r,
                (None, None) => return Err(Errno::EDESTADDRREQ),
            };
            let max = if v4_of(dst.ip()).is_ipv4() {
                UDP_MAX_V4
            } else {
                UDP_MAX_V6
            };
            if data.len() > max {
                return Err(Errno::EMSGSIZE);
            }
            let local = self.autobind(s, None)?;
            let mut from = local;
            // IP_PKTINFO's source address wins over the bound one (udp_sendmsg).
            if let Some(src) = meta.src.filter(|a| !is_wildcard(*a)) {
                if !is_local(src) {
                    return Err(Errno::EINVAL);
                }
                from.set_ip(src);
            } else if is_wildcard(from.ip()) {
                from.set_ip(source_for(dst.ip()));
            }
            let sent = DgramMeta {
                dst: Some(dst),
                ttl: meta.ttl.unwrap_or(self.get(s)?.hop_limit as u8),
                tos: meta.tos.unwrap_or(0),
            };
            match self.find(Kind::Datagram, dst, from) {
                Some(r) => {
                    let rx = self.get(r)?;
                    // A full receive buffer drops the datagram, as UDP does.
                    if rx.dgram_bytes + data.len() <= rx.rcvbuf as usize || rx.dgram_rx.is_empty() {
                        rx.dgram_bytes += data.len();
                        let f = in_family(from, rx.family);
                        let d = DgramMeta {
                            dst: Some(in_family(dst, rx.family)),
                            ..sent
                        };
                        rx.dgram_rx.push_back((data.to_vec(), f, d));
                    }
                }
                None => {
                    // Port unreachable (the ICMP error comes back at once over lo): a
                    // connected socket hears of it as its pending error; with IP_RECVERR
                    // any socket does, and the datagram waits on its error queue
                    // (__udp4_lib_err, ip_icmp_error), within its receive buffer.
                    let o = self.get(s)?;
                    if o.recverr {
                        if o.errq_bytes + data.len() <= o.rcvbuf as usize {
                            o.errq_bytes += data.len();
                            o.errq.push_back((data.to_vec(), dst));
                        }
                        o.error = Some(Errno::ECONNREFUSED);
                    } else if o.remote.is_some() && to.is_none() {
                        o.error = Some(Errno::ECONNREFUSED);
                    }
                }
            }
            return Ok(data.len());
        }
        let o = self.get(s)?;
        if let Some(e) = o.error.take() {
            return Err(e);
        }
        if o.state == State::Connecting(Ok(())) {
            // Established, not yet reported: Linux sends.
            o.state = State::Connected;
        }
        // Writing on a socket that is not connected is EPIPE on Linux (tcp_sendmsg).
        if o.wr_shut || o.state != State::Connected {
            return Err(Errno::EPIPE);
        }
        let Some(peer) = o.peer else {
            if o.peer_closed {
                // The peer is gone: these bytes draw its reset, the next write EPIPE.
                o.peer_closed = false;
                o.state = State::Closed;
                return Ok(data.len());
            }
            return Err(Errno::EPIPE);
        };
        let p = self.get(peer)?;
        if p.rd_shut {
            // Linux keeps taking bytes a reader shut its side against, and drops them.
            return Ok(data.len());
        }
        let n = p.room().min(data.len());
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        p.stream_rx.extend(&data[..n]);
        Ok(n)
    }

    fn recv(
        &mut self,
        s: Socket,
        max: usize,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<SockAddr>), Errno> {
        self.recv_meta(s, max, peek).map(|(d, from, _)| (d, from))
    }

    fn read_shut(&mut self, s: Socket) -> bool {
        self.socks
            .get(&s)
            .is_some_and(|o| o.kind == Kind::Stream && (o.eof || o.rd_shut))
    }

    fn set_recverr(&mut self, s: Socket, on: bool) {
        if let Ok(o) = self.get(s) {
            o.recverr = on;
            if !on {
                // ip_setsockopt: turning it off purges the queue.
                o.errq.clear();
                o.errq_bytes = 0;
            }
        }
    }

    fn recv_error(&mut self, s: Socket, max: usize) -> Result<Bounced, Errno> {
        let o = self.get(s)?;
        let (mut data, dst) = o.errq.pop_front().ok_or(Errno::EAGAIN)?;
        o.errq_bytes -= data.len();
        // sock_dequeue_err_skb: the pending error becomes the next report's, or none.
        o.error = if o.errq.is_empty() {
            None
        } else {
            Some(Errno::ECONNREFUSED)
        };
        let full_len = data.len();
        data.truncate(max);
        Ok(Bounced {
            data,
            full_len,
            dst: in_family(dst, o.family),
        })
    }

    fn recv_meta(
        &mut self,
        s: Socket,
        max: usize,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<SockAddr>, DgramMeta), Errno> {
        let o = self.get(s)?;
        if o.kind == Kind::Datagram {
            if let Some(e) = o.error.take() {
                return Err(e);
            }
            let Some((d, from, meta)) = (if peek {
                o.dgram_rx.front().cloned()
            } else {
                o.dgram_rx.pop_front()
            }) else {
                return if o.rd_shut {
                    Ok((Vec::new(), None, DgramMeta::default()))
                } else {
                    Err(Errno::EAGAIN)
                };
            };
            if !peek {
                o.dgram_bytes -= d.len();
            }
            let mut d = d;
            d.truncate(max);
            return Ok((d, Some(from), meta));
        }
        if o.state == State::Listening {
            return Err(Errno::ENOTCONN);
        }
        if o.stream_rx.is_empty() {
            if let Some(e) = o.error.take() {
                return Err(e);
            }
            if o.eof || o.rd_shut || o.state == State::Closed {
                return Ok((Vec::new(), None, DgramMeta::default()));
            }
            if matches!(
                o.state,
                State::Fresh | State::Failed | State::Connecting(Err(_))
            ) {
                return Err(Errno::ENOTCONN);
            }
            return Err(Errno::EAGAIN);
        }
        let n = max.min(o.stream_rx.len());
        let out: Vec<u8> = if peek {
            o.stream_rx.range(..n).copied().collect()
        } else {
            let (a, b) = o.stream_rx.as_slices();
            let mut v = Vec::with_capacity(n);
            v.extend_from_slice(&a[..n.min(a.len())]);
            if n > a.len() {
                v.extend_from_slice(&b[..n - a.len()]);
            }
            o.stream_rx.drain(..n);
            v
        };
        Ok((out, None, DgramMeta::default()))
    }

    fn shutdown(&mut self, s: Socket, how: u8) -> Result<(), Errno> {
        let o = self.get(s)?;
        let connected = match o.kind {
            Kind::Stream => matches!(o.state, State::Connected | State::Connecting(Ok(()))),
            Kind::Datagram => o.remote.is_some(),
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        if how != 1 {
            o.rd_shut = true;
        }
        if how != 0 {
            o.wr_shut = true;
            if let Some(peer) = o.peer {
                self.hang_up(peer, false, true);
            }
        }
        Ok(())
    }

    fn local_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
        self.get(s)?.local.ok_or(Errno::EINVAL)
    }

    fn remote_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
        let o = self.get(s)?;
        match (o.kind, &o.state) {
            (Kind::Stream, State::Connected | State::Connecting(Ok(()))) => {}
            (Kind::Stream, _) => return Err(Errno::ENOTCONN),
            (Kind::Datagram, _) => {}
        }
        o.remote.ok_or(Errno::ENOTCONN)
    }

    fn set_option(&mut self, s: Socket, opt: SockOpt, value: u64) -> Result<(), Errno> {
        let o = self.get(s)?;
        match opt {
            SockOpt::ReuseAddress => o.reuse = value != 0,
            SockOpt::V6Only => {
                // Level IPPROTO_IPV6 on an IPv4 socket, and a change once bound (Linux).
                if o.family != Family::Inet6 {
                    return Err(Errno::ENOPROTOOPT);
                }
                if o.local.is_some() {
                    return Err(Errno::EINVAL);
                }
                o.v6only = value != 0;
            }
            SockOpt::KeepAlive => o.keepalive = value != 0,
            SockOpt::NoDelay => o.nodelay = value != 0,
            SockOpt::HopLimit => {
                // -1 restores the default; 0 and above 255 are EINVAL.
                o.hop_limit = match value as i64 {
                    -1 => 64,
                    1..=255 => value,
                    _ => return Err(Errno::EINVAL),
                }
            }
            SockOpt::ReceiveBufferSize => {
                o.rcvbuf = ((value as i32).max(0) as u64).min(BUF_MAX) * 2;
                o.rcvbuf = o.rcvbuf.max(MIN_RCVBUF);
            }
            SockOpt::SendBufferSize => {
                o.sndbuf = ((value as i32).max(0) as u64).min(BUF_MAX) * 2;
                o.sndbuf = o.sndbuf.max(MIN_SNDBUF);
            }
        }
        Ok(())
    }

    fn get_option(&mut self, s: Socket, opt: SockOpt) -> Result<u64, Errno> {
        let o = self.get(s)?;
        Ok(match opt {
            SockOpt::ReuseAddress => o.reuse as u64,
            SockOpt::V6Only if o.family != Family::Inet6 => return Err(Errno::ENOPROTOOPT),
            SockOpt::V6Only => o.v6only as u64,
            SockOpt::KeepAlive => o.keepalive as u64,
            SockOpt::NoDelay => o.nodelay as u64,
            SockOpt::HopLimit => o.hop_limit,
            SockOpt::ReceiveBufferSize => o.rcvbuf,
            SockOpt::SendBufferSize => o.sndbuf,
        })
    }

    fn take_error(&mut self, s: Socket) -> Option<Errno> {
        let o = self.socks.get_mut(&s)?;
        if let State::Connecting(Err(_)) = o.state {
            // SO_ERROR took the failure: a connect(2) after it says ECONNABORTED (and the
            // one after that starts again). A success stays to be confirmed by connect.
            o.state = State::Connecting(Err(Errno::ECONNABORTED));
        }
        o.error.take()
    }

    fn readiness(&mut self, s: Socket) -> Readiness {
        let Some(o) = self.socks.get(&s) else {
            return Readiness::default();
        };
        let mut r = Readiness {
            error: o.error.is_some(),
            ..Readiness::default()
        };
        if o.kind == Kind::Datagram {
            // datagram_poll: an error (pending or queued) is POLLERR alone.
            r.error |= !o.errq.is_empty();
            r.readable = !o.dgram_rx.is_empty() || o.rd_shut;
            r.writable = true;
            return r;
        }
        match &o.state {
            State::Listening => r.readable = !o.backlog.is_empty(),
            // A socket that never connected reports POLLOUT|POLLHUP, as Linux's does.
            State::Fresh | State::Failed => {
                r.writable = true;
                r.hangup = true;
            }
            State::Closed | State::Connecting(Err(_)) => {
                r.readable = true;
                r.writable = true;
                r.hangup = true;
            }
            State::Connected | State::Connecting(Ok(())) => {
                let read_done = o.eof || o.rd_shut;
                r.readable = !o.stream_rx.is_empty() || read_done || r.error;
                let room = match o.peer {
                    Some(p) => self.socks.get(&p).is_none_or(|p| p.room() > 0),
                    None => true,
                };
                r.writable = room || o.wr_shut;
                // Linux says POLLHUP once both directions are shut (a peer's close alone
                // is CLOSE_WAIT: readable, writable, no hang-up).
                r.hangup = read_done && o.wr_shut;
            }
        }
        r
    }

    fn subscribe(&mut self, _: Socket, _: bool, _: bool) -> Vec<u32> {
        Vec::new()
    }

    fn local(&self) -> bool {
        true
    }

    fn local_listeners(&self) -> Vec<SockAddr> {
        self.socks
            .values()
            .filter(|o| o.state == State::Listening)
            .filter_map(|o| o.local)
            .collect()
    }

    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno> {
        if name.eq_ignore_ascii_case("localhost") {
            return Ok(vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]);
        }
        Err(Errno::ENETUNREACH)
    }

    fn enabled(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    }

    fn any4(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
    }

    fn any6(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)
    }

    /// A listener on `addr`, a client connected to it, and the accepted end.
    fn connection(n: &mut Loopback, family: Family, addr: SocketAddr) -> (Socket, Socket, Socket) {
        let l = n.create(family, Kind::Stream).unwrap();
        n.bind(l, addr).unwrap();
        n.listen(l, 5).unwrap();
        let port = n.local_address(l).unwrap().port();
        let c = n.create(Family::Inet, Kind::Stream).unwrap();
        assert_eq!(n.connect(c, v4(port)), Err(Errno::EINPROGRESS));
        assert_eq!(n.connect(c, v4(port)), Ok(()));
        let (a, _) = n.accept(l).unwrap();
        (l, c, a)
    }

    #[test]
    fn stream_bytes_flow_both_ways_and_end_with_eof() {
        let mut n = Loopback::new();
        let (_, c, a) = connection(&mut n, Family::Inet, v4(0));
        assert_eq!(n.send(c, b"hello", None), Ok(5));
        assert_eq!(n.recv(a, 3, true).unwrap().0, b"hel");
        assert_eq!(n.recv(a, 100, false).unwrap().0, b"hello");
        assert_eq!(n.recv(a, 100, false), Err(Errno::EAGAIN));
        assert_eq!(n.send(a, b"back", None), Ok(4));
        assert_eq!(n.recv(c, 100, false).unwrap().0, b"back");
        n.shutdown(c, 1).unwrap();
        assert_eq!(n.recv(a, 100, false).unwrap().0, b"");
        assert_eq!(n.send(c, b"x", None), Err(Errno::EPIPE));
        assert_eq!(n.send(a, b"still", None), Ok(5));
        assert_eq!(n.recv(c, 100, false).unwrap().0, b"still");
    }

    #[test]
    fn addresses_are_reported_as_linux_does() {
        let mut n = Loopback::new();
        let (l, c, a) = connection(&mut n, Family::Inet6, any6(8080));
        assert_eq!(n.local_address(l).unwrap(), any6(8080));
        let cl = n.local_address(c).unwrap();
        assert_eq!(cl.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(EPHEMERAL.contains(&cl.port()));
        assert_eq!(n.remote_address(c).unwrap(), v4(8080));
        // The IPv6 listener sees its IPv4 client mapped.
        let peer = n.remote_address(a).unwrap();
        assert_eq!(peer.ip(), IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()));
        assert_eq!(peer.port(), cl.port());
        assert_eq!(n.local_address(a).unwrap().port(), 8080);
    }

    #[test]
    fn refused_unreachable_and_in_use() {
        let mut n = Loopback::new();
        let c = n.create(Family::Inet, Kind::Stream).unwrap();
        assert_eq!(n.connect(c, v4(9)), Err(Errno::EINPROGRESS));
        assert!(n.readiness(c).error);
        assert_eq!(n.take_error(c), Some(Errno::ECONNREFUSED));
        let d = n.create(Family::Inet, Kind::Stream).unwrap();
        let far = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)), 53);
        assert_eq!(n.connect(d, far), Err(Errno::ENETUNREACH));
        assert_eq!(n.bind(d, far), Err(Errno::EADDRNOTAVAIL));
        n.bind(d, any4(7000)).unwrap();
        let e = n.create(Family::Inet6, Kind::Stream).unwrap();
        assert_eq!(n.bind(e, any6(7000)), Err(Errno::EADDRINUSE));
        // Another protocol has its own ports.
        let u = n.create(Family::Inet, Kind::Datagram).unwrap();
        n.bind(u, v4(7000)).unwrap();
        // SO_REUSEADDR on both lets a second bind in while neither listens.
        let f = n.create(Family::Inet, Kind::Stream).unwrap();
        n.set_option(d, SockOpt::ReuseAddress, 1).unwrap();
        n.set_option(f, SockOpt::ReuseAddress, 1).unwrap();
        n.bind(f, v4(7000)).unwrap();
        n.listen(d, 1).unwrap();
        assert_eq!(n.listen(f, 1), Err(Errno::EADDRINUSE));
        // A closed socket frees its port at once (there is no TIME_WAIT here).
        n.close(d);
        n.close(f);
        let g = n.create(Family::Inet, Kind::Stream).unwrap();
        n.bind(g, v4(7000)).unwrap();
    }

    #[test]
    fn close_gives_eof_then_epipe_and_unread_bytes_reset() {
        let mut n = Loopback::new();
        let (_, c, a) = connection(&mut n, Family::Inet, v4(0));
        n.send(c, b"last words", None).unwrap();
        n.close(c);
        assert_eq!(n.recv(a, 100, false).unwrap().0, b"last words");
        assert_eq!(n.recv(a, 100, false).unwrap().0, b"");
        assert_eq!(n.send(a, b"one", None), Ok(3));
        assert_eq!(n.send(a, b"two", None), Err(Errno::EPIPE));

        let (_, c, a) = connection(&mut n, Family::Inet, v4(0));
        n.send(c, b"unread", None).unwrap();
        n.close(a);
        assert_eq!(n.recv(c, 100, false), Err(Errno::ECONNRESET));
        assert_eq!(n.recv(c, 100, false).unwrap().0, b"");
        assert_eq!(n.send(c, b"x", None), Err(Errno::EPIPE));
    }

    #[test]
    fn an_abortive_close_resets_the_peer() {
        // SO_LINGER 0 (Go's TestNotTemporaryRead): RST instead of FIN; what the peer had
        // already received stays readable, then the reset, then end of file.
        let mut n = Loopback::new();
        let (_, c, a) = connection(&mut n, Family::Inet, v4(0));
        n.send(a, b"delivered", None).unwrap();
        n.abort(a);
        assert!(n.readiness(c).error);
        assert_eq!(n.recv(c, 100, false).unwrap().0, b"delivered");
        assert_eq!(n.recv(c, 100, false), Err(Errno::ECONNRESET));
        assert_eq!(n.recv(c, 100, false).unwrap().0, b"");
        assert_eq!(n.send(c, b"x", None), Err(Errno::EPIPE));
    }

    #[test]
    fn a_full_peer_makes_writers_wait() {
        let mut n = Loopback::new();
        let (_, c, a) = connection(&mut n, Family::Inet, v4(0));
        let big = vec![7u8; 1 << 20];
        let first = n.send(c, &big, None).unwrap();
        assert_eq!(first as u64, DEFAULT_RCVBUF);
        assert_eq!(n.send(c, &big, None), Err(Errno::EAGAIN));
        assert!(!n.readiness(c).writable);
        assert_eq!(n.recv(a, 1000, false).unwrap().0.len(), 1000);
        assert!(n.readiness(c).writable);
        assert_eq!(n.send(c, &big, None), Ok(1000));
    }

    #[test]
    fn closing_a_listener_resets_what_it_did_not_accept() {
        let mut n = Loopback::new();
        let l = n.create(Family::Inet, Kind::Stream).unwrap();
        n.bind(l, v4(0)).unwrap();
        n.listen(l, 1).unwrap();
        let port = n.local_address(l).unwrap().port();
        let c = n.create(Family::Inet, Kind::Stream).unwrap();
        assert_eq!(n.connect(c, v4(port)), Err(Errno::EINPROGRESS));
        assert_eq!(n.take_error(c), None);
        n.close(l);
        assert_eq!(n.recv(c, 10, false), Err(Errno::ECONNRESET));
    }

    #[test]
    fn datagrams_keep_boundaries_and_senders() {
        let mut n = Loopback::new();
        let r = n.create(Family::Inet6, Kind::Datagram).unwrap();
        n.bind(r, any6(5353)).unwrap();
        let s = n.create(Family::Inet, Kind::Datagram).unwrap();
        assert_eq!(n.send(s, b"one", Some(v4(5353))), Ok(3));
        assert_eq!(n.send(s, b"two", Some(v4(5353))), Ok(3));
        let (d, from) = n.recv(r, 2, false).unwrap();
        assert_eq!(d, b"on");
        let from = from.unwrap();
        assert_eq!(from.ip(), IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()));
        assert_eq!(n.recv(r, 100, false).unwrap().0, b"two");
        // Nobody on the port: dropped; a connected sender hears ECONNREFUSED.
        assert_eq!(n.send(s, b"lost", Some(v4(1))), Ok(4));
        n.connect(s, v4(1)).unwrap();
        assert_eq!(n.send(s, b"lost", None), Ok(4));
        assert_eq!(n.send(s, b"again", None), Err(Errno::ECONNREFUSED));
        // A connected receiver takes only from its peer.
        let q = n.create(Family::Inet, Kind::Datagram).unwrap();
        n.bind(q, v4(6000)).unwrap();
        n.connect(q, v4(6001)).unwrap();
        let t = n.create(Family::Inet, Kind::Datagram).unwrap();
        n.send(t, b"stranger", Some(v4(6000))).unwrap();
        assert_eq!(n.recv(q, 100, false), Err(Errno::EAGAIN));
        assert_eq!(
            n.send(t, &vec![0; UDP_MAX_V4 + 1], Some(v4(6000))),
            Err(Errno::EMSGSIZE)
        );
    }
}
