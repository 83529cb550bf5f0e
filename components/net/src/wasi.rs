//! [`Net`] over `wasi:sockets`: what the net component exports and the fused kernel links.
//!
//! wasi:sockets splits what socket(2) does in one call (start-/finish- pairs, streams
//! handed out by connect and accept, datagram streams opened per remote), so each socket
//! keeps a small state machine here. Everything stays non-blocking: a finish-* that would
//! block leaves the socket in its "in progress" state and the kernel parks the guest.
//!
//! Bytes a readiness check pulls off a TCP input stream wait in `rx` (wasi streams cannot
//! say "data available" without reading it); recv serves them first, which also gives
//! MSG_PEEK for free.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use friscy_abi::Errno;

use crate::generated::wasi::io::poll::Pollable;
use crate::generated::wasi::io::streams::{InputStream, OutputStream, StreamError};
use crate::generated::wasi::sockets::instance_network::instance_network;
use crate::generated::wasi::sockets::ip_name_lookup::resolve_addresses;
use crate::generated::wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use crate::generated::wasi::sockets::tcp::{ShutdownType, TcpSocket};
use crate::generated::wasi::sockets::tcp_create_socket::create_tcp_socket;
use crate::generated::wasi::sockets::udp::{
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket,
};
use crate::generated::wasi::sockets::udp_create_socket::create_udp_socket;
use crate::{Family, Kind, Net, Readiness, SockAddr, SockOpt, Socket};

/// The most one readiness check or recv pulls from a TCP stream.
const RX_CHUNK: u64 = 64 * 1024;
/// A TCP socket's send queue unless the guest sets SO_SNDBUF: room for several of
/// wasmtime's 64 KiB writes, so the stream always has the next one ready (Linux's
/// autotuned send buffer on loopback is larger still).
const DEFAULT_SNDBUF: usize = 512 * 1024;
/// Linux's bounds for SO_SNDBUF (net.core.wmem_max, SOCK_MIN_SNDBUF): the value set is
/// capped, then doubled.
const WMEM_MAX: u64 = 212_992;
const MIN_SNDBUF: u64 = 4_608;

enum TcpState {
    /// Created, maybe bound.
    Fresh,
    Connecting,
    Connected {
        input: InputStream,
        output: OutputStream,
    },
    Listening {
        /// Connections accepted from wasi while checking readiness.
        ready: VecDeque<(TcpSocket, InputStream, OutputStream)>,
        /// An IPv4 twin of a listener on `[::]`: Linux's IPv6 sockets are dual-stack
        /// (IPV6_V6ONLY is 0), wasi:sockets' are IPv6-only, so IPv4 clients reach the
        /// guest's `[::]:port` listener through this one.
        v4: Option<TcpSocket>,
    },
    /// The connection attempt failed (the error waits in `error`) or both directions are
    /// shut down and the streams dropped.
    Closed,
}

struct Tcp {
    sock: TcpSocket,
    state: TcpState,
    /// What arrived and the guest has not read yet. A deque, so that a guest reading a
    /// 64 KiB chunk in small pieces copies each byte once (draining the front of a `Vec`
    /// moved the rest down on every read).
    rx: VecDeque<u8>,
    /// The input stream reported end of stream.
    eof: bool,
    /// SHUT_WR done: the output stream is gone.
    write_shut: bool,
    /// The last write failed (reset by the peer): further sends fail with EPIPE.
    broken: bool,
    /// The send queue: bytes the guest sent that the output stream has not taken yet.
    /// wasmtime's TCP output stream takes one write at a time (check-write says 0 until
    /// it is done), so a send that had to wait for it would cost the guest a round trip
    /// through the kernel's scheduler and the host's poll per write; instead sends return
    /// at once while the queue has room (as Linux's socket buffer does), and `pump` hands
    /// the bytes on whenever the stream can take more: on every call for this socket, and
    /// from the kernel's scheduler and idle wait through [`Net::pump`].
    tx: VecDeque<u8>,
    /// The queue's capacity (SO_SNDBUF as Linux doubles it; DEFAULT_SNDBUF unless set).
    sndbuf: usize,
    /// shutdown(SHUT_WR) waits for the queue to drain (the FIN goes after the bytes).
    shut_pending: bool,
    /// Options wasi:sockets has no call for, remembered so getsockopt reads them back.
    no_delay: u64,
    reuse_address: u64,
    /// IPV6_V6ONLY: a listener on `[::]` gets no IPv4 twin (its port stays free for an
    /// IPv4 listener, as nginx's default `listen 80; listen [::]:80;` needs).
    v6only: u64,
    /// An AF_INET6 socket the guest connected to an IPv4-mapped address: the host socket
    /// is IPv4 (wasi:sockets refuses mapped addresses), and its addresses are shown to the
    /// guest mapped back.
    mapped: bool,
}

/// How the guest sees an address of a socket that may stand for an IPv6 one.
fn guest_addr(a: SockAddr, mapped: bool) -> SockAddr {
    match a {
        SocketAddr::V4(v4) if mapped => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        a => a,
    }
}

struct Udp {
    sock: UdpSocket,
    family: Family,
    bound: bool,
    /// The connected remote (connect(2) on a datagram socket), if any.
    remote: Option<SockAddr>,
    streams: Option<(IncomingDatagramStream, OutgoingDatagramStream)>,
    /// A datagram a readiness check (or MSG_PEEK) received but recv has not taken.
    held: Option<(Vec<u8>, SockAddr)>,
    reuse_address: u64,
    /// IPV6_V6ONLY (wasi's IPv6 datagram sockets take IPv6 only either way).
    v6only: u64,
}

enum Entry {
    Tcp(Box<Tcp>),
    Udp(Box<Udp>),
}

struct Slot {
    entry: Entry,
    /// SO_ERROR: set when a connection attempt fails.
    error: Option<Errno>,
}

pub struct WasiNet {
    network: Network,
    sockets: HashMap<Socket, Slot>,
    next: Socket,
    /// TCP sockets the guest closed with bytes still queued: Linux sends them after
    /// close(2) too. They go once the queue is empty (or the connection broke).
    closing: Vec<Tcp>,
}

impl Default for WasiNet {
    fn default() -> Self {
        WasiNet::new()
    }
}

/// The Linux errno for a wasi:sockets error code.
pub fn errno(e: ErrorCode) -> Errno {
    use ErrorCode as E;
    match e {
        E::Unknown => Errno::EIO,
        E::AccessDenied => Errno::EACCES,
        E::NotSupported => Errno::EOPNOTSUPP,
        E::InvalidArgument => Errno::EINVAL,
        E::OutOfMemory => Errno::ENOMEM,
        E::Timeout => Errno::ETIMEDOUT,
        E::ConcurrencyConflict => Errno::EALREADY,
        E::NotInProgress => Errno::EINVAL,
        E::WouldBlock => Errno::EAGAIN,
        E::InvalidState => Errno::EINVAL,
        E::NewSocketLimit => Errno::EMFILE,
        E::AddressNotBindable => Errno::EADDRNOTAVAIL,
        E::AddressInUse => Errno::EADDRINUSE,
        E::RemoteUnreachable => Errno::EHOSTUNREACH,
        E::ConnectionRefused => Errno::ECONNREFUSED,
        E::ConnectionReset => Errno::ECONNRESET,
        E::ConnectionAborted => Errno::ECONNABORTED,
        E::DatagramTooLarge => Errno::EMSGSIZE,
        E::NameUnresolvable => Errno::ENOENT,
        E::TemporaryResolverFailure => Errno::EAGAIN,
        E::PermanentResolverFailure => Errno::EIO,
    }
}

fn to_wasi(a: SockAddr) -> IpSocketAddress {
    match a {
        SocketAddr::V4(a) => {
            let [b0, b1, b2, b3] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (b0, b1, b2, b3),
            })
        }
        SocketAddr::V6(a) => {
            let s = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                scope_id: a.scope_id(),
            })
        }
    }
}

fn from_wasi(a: IpSocketAddress) -> SockAddr {
    match a {
        IpSocketAddress::Ipv4(a) => {
            let (b0, b1, b2, b3) = a.address;
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(b0, b1, b2, b3), a.port))
        }
        IpSocketAddress::Ipv6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                a.port,
                a.flow_info,
                a.scope_id,
            ))
        }
    }
}

fn wasi_family(f: Family) -> IpAddressFamily {
    match f {
        Family::Inet => IpAddressFamily::Ipv4,
        Family::Inet6 => IpAddressFamily::Ipv6,
    }
}

/// The IPv4 listener on the same port as a guest's `[::]` one (see `TcpState::Listening`),
/// if the port is free for IPv4 too.
fn dual_stack_twin(network: &Network, port: u16, backlog: u32) -> Option<TcpSocket> {
    let v4 = create_tcp_socket(IpAddressFamily::Ipv4).ok()?;
    let any = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    v4.start_bind(network, to_wasi(any)).ok()?;
    v4.finish_bind().ok()?;
    let _ = v4.set_listen_backlog_size(backlog.max(1) as u64);
    v4.start_listen().ok()?;
    v4.finish_listen().ok()?;
    Some(v4)
}

/// Close a TCP socket's host resources: the streams first, as wasi wants children dropped
/// before their parent (dropping the socket first traps: "resource has children").
fn dispose(t: Tcp) {
    let Tcp { sock, state, .. } = t;
    if let TcpState::Listening { ready, v4 } = state {
        // Connections accepted from wasi that the guest never took: theirs too.
        for (conn, input, output) in ready {
            drop((input, output));
            drop(conn);
        }
        drop(v4);
    } else {
        drop(state);
    }
    drop(sock);
}

/// Wait for a pending wasi operation: only name lookup uses it (there is no socket to
/// park on while the host resolves).
fn block_on(p: Pollable) {
    p.block();
}

impl Tcp {
    /// Move a connection attempt along, without blocking.
    fn progress(&mut self, error: &mut Option<Errno>) {
        if let TcpState::Connecting = self.state {
            match self.sock.finish_connect() {
                Ok((input, output)) => self.state = TcpState::Connected { input, output },
                Err(ErrorCode::WouldBlock) => {}
                Err(e) => {
                    *error = Some(errno(e));
                    self.state = TcpState::Closed;
                }
            }
        }
    }

    /// Hand queued bytes to the output stream as far as it takes them now (each write as
    /// large as check-write allows), then a pending SHUT_WR. Returns whether bytes remain.
    fn pump(&mut self) -> bool {
        let TcpState::Connected { output, .. } = &self.state else {
            return false;
        };
        while !self.tx.is_empty() && !self.broken {
            let room = match output.check_write() {
                Ok(0) => break,
                Ok(n) => n as usize,
                Err(_) => {
                    self.broken = true;
                    break;
                }
            };
            let (a, _) = self.tx.as_slices();
            let n = room.min(a.len());
            if output.write(&a[..n]).is_err() {
                self.broken = true;
                break;
            }
            self.tx.drain(..n);
        }
        if self.broken {
            // Nothing more can go; later sends fail with EPIPE.
            self.tx.clear();
        } else if !self.tx.is_empty() {
            // Start sending now: without a flush wasmtime may hold the bytes.
            let _ = output.flush();
        }
        if self.tx.is_empty() && self.shut_pending {
            self.shut_pending = false;
            let _ = self.sock.shutdown(ShutdownType::Send);
        }
        !self.tx.is_empty()
    }

    /// Bytes a send may queue now.
    fn room(&self) -> usize {
        self.sndbuf.saturating_sub(self.tx.len())
    }

    /// Pull what has arrived into `rx` (or notice the end of the stream).
    fn fill(&mut self) -> Result<(), Errno> {
        if self.eof || !self.rx.is_empty() {
            return Ok(());
        }
        let TcpState::Connected { input, .. } = &self.state else {
            return Ok(());
        };
        match input.read(RX_CHUNK) {
            Ok(data) => self.rx = data.into(),
            Err(StreamError::Closed) => self.eof = true,
            Err(StreamError::LastOperationFailed(_)) => {
                self.eof = true;
                return Err(Errno::ECONNRESET);
            }
        }
        Ok(())
    }
}

impl WasiNet {
    pub fn new() -> WasiNet {
        WasiNet {
            network: instance_network(),
            sockets: HashMap::new(),
            next: 1,
            closing: Vec::new(),
        }
    }

    fn slot(&mut self, s: Socket) -> Result<&mut Slot, Errno> {
        self.sockets.get_mut(&s).ok_or(Errno::EBADF)
    }

    fn insert(&mut self, entry: Entry) -> Socket {
        let s = self.next;
        self.next += 1;
        self.sockets.insert(s, Slot { entry, error: None });
        s
    }

    /// Bind a datagram socket to the unspecified address if the guest did not (sendto on a
    /// fresh socket binds an ephemeral port on Linux too).
    fn udp_ready(network: &Network, u: &mut Udp) -> Result<(), Errno> {
        if !u.bound {
            let any = to_wasi(crate::unspecified(u.family));
            u.sock.start_bind(network, any).map_err(errno)?;
            u.sock.finish_bind().map_err(errno)?;
            u.bound = true;
        }
        if u.streams.is_none() {
            u.streams = Some(u.sock.stream(u.remote.map(to_wasi)).map_err(errno)?);
        }
        Ok(())
    }

    fn udp_fill(u: &mut Udp) -> Result<(), Errno> {
        if u.held.is_some() {
            return Ok(());
        }
        let Some((incoming, _)) = &u.streams else {
            return Ok(());
        };
        if let Some(d) = incoming.receive(1).map_err(errno)?.into_iter().next() {
            u.held = Some((d.data, from_wasi(d.remote_address)));
        }
        Ok(())
    }
}

impl Net for WasiNet {
    fn create(&mut self, family: Family, kind: Kind) -> Result<Socket, Errno> {
        let f = wasi_family(family);
        let entry = match kind {
            Kind::Stream => Entry::Tcp(Box::new(Tcp {
                sock: create_tcp_socket(f).map_err(errno)?,
                state: TcpState::Fresh,
                rx: VecDeque::new(),
                eof: false,
                write_shut: false,
                broken: false,
                tx: VecDeque::new(),
                sndbuf: DEFAULT_SNDBUF,
                shut_pending: false,
                no_delay: 0,
                reuse_address: 0,
                v6only: 0,
                mapped: false,
            })),
            Kind::Datagram => Entry::Udp(Box::new(Udp {
                sock: create_udp_socket(f).map_err(errno)?,
                family,
                bound: false,
                remote: None,
                streams: None,
                held: None,
                reuse_address: 0,
                v6only: 0,
            })),
        };
        Ok(self.insert(entry))
    }

    fn close(&mut self, s: Socket) {
        // Dropping the resources closes the host socket (streams first, as wasi wants
        // children dropped before their parent).
        if let Some(slot) = self.sockets.remove(&s) {
            match slot.entry {
                Entry::Tcp(mut t) => {
                    if t.pump() {
                        // Queued bytes still go out, then the connection closes.
                        self.closing.push(*t);
                        return;
                    }
                    dispose(*t);
                }
                Entry::Udp(u) => {
                    let Udp { sock, streams, .. } = *u;
                    drop(streams);
                    drop(sock);
                }
            }
        }
    }

    fn bind(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
        let network = &self.network;
        let slot = self.sockets.get_mut(&s).ok_or(Errno::EBADF)?;
        match &mut slot.entry {
            Entry::Tcp(t) => {
                t.sock.start_bind(network, to_wasi(addr)).map_err(errno)?;
                t.sock.finish_bind().map_err(errno)
            }
            Entry::Udp(u) => {
                if u.bound {
                    return Err(Errno::EINVAL);
                }
                u.sock.start_bind(network, to_wasi(addr)).map_err(errno)?;
                u.sock.finish_bind().map_err(errno)?;
                u.bound = true;
                Ok(())
            }
        }
    }

    fn connect(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
        let network = &self.network;
        let slot = self.sockets.get_mut(&s).ok_or(Errno::EBADF)?;
        match &mut slot.entry {
            Entry::Tcp(t) => match t.state {
                TcpState::Fresh => {
                    let mut addr = addr;
                    if let SocketAddr::V6(v6) = addr
                        && let Some(v4) = v6.ip().to_ipv4_mapped()
                    {
                        // An unbound socket can become an IPv4 one unseen.
                        t.sock = create_tcp_socket(IpAddressFamily::Ipv4).map_err(errno)?;
                        t.mapped = true;
                        addr = SocketAddr::V4(SocketAddrV4::new(v4, v6.port()));
                    }
                    t.sock
                        .start_connect(network, to_wasi(addr))
                        .map_err(errno)?;
                    t.state = TcpState::Connecting;
                    t.progress(&mut slot.error);
                    match (&t.state, slot.error.take()) {
                        (TcpState::Connected { .. }, _) => Ok(()),
                        (_, Some(e)) => Err(e),
                        _ => Err(Errno::EINPROGRESS),
                    }
                }
                TcpState::Connecting => {
                    t.progress(&mut slot.error);
                    match (&t.state, slot.error.take()) {
                        (TcpState::Connected { .. }, _) => Ok(()),
                        (_, Some(e)) => Err(e),
                        _ => Err(Errno::EALREADY),
                    }
                }
                TcpState::Connected { .. } => Err(Errno::EISCONN),
                TcpState::Listening { .. } | TcpState::Closed => Err(Errno::EINVAL),
            },
            Entry::Udp(u) => {
                // A new remote: the streams of the old one go first.
                u.streams = None;
                u.held = None;
                u.remote = Some(addr);
                WasiNet::udp_ready(network, u)
            }
        }
    }

    fn listen(&mut self, s: Socket, backlog: u32) -> Result<(), Errno> {
        let network = &self.network;
        let slot = self.sockets.get_mut(&s).ok_or(Errno::EBADF)?;
        let Entry::Tcp(t) = &mut slot.entry else {
            return Err(Errno::EOPNOTSUPP);
        };
        match t.state {
            TcpState::Listening { .. } => {
                // listen(2) again only changes the backlog.
                let _ = t.sock.set_listen_backlog_size(backlog.max(1) as u64);
                Ok(())
            }
            TcpState::Fresh => {
                let _ = t.sock.set_listen_backlog_size(backlog.max(1) as u64);
                t.sock.start_listen().map_err(errno)?;
                t.sock.finish_listen().map_err(errno)?;
                let v4 = match t.sock.local_address().map(from_wasi) {
                    Ok(SocketAddr::V6(a)) if a.ip().is_unspecified() && t.v6only == 0 => {
                        dual_stack_twin(network, a.port(), backlog)
                    }
                    _ => None,
                };
                t.state = TcpState::Listening {
                    ready: VecDeque::new(),
                    v4,
                };
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn accept(&mut self, s: Socket) -> Result<(Socket, SockAddr), Errno> {
        let slot = self.slot(s)?;
        let Entry::Tcp(t) = &mut slot.entry else {
            return Err(Errno::EOPNOTSUPP);
        };
        let TcpState::Listening { ready, v4 } = &mut t.state else {
            return Err(Errno::EINVAL);
        };
        let (sock, input, output) = match ready.pop_front() {
            Some(c) => c,
            None => match (t.sock.accept(), v4) {
                (Ok(c), _) => c,
                (Err(ErrorCode::WouldBlock), Some(v4)) => v4.accept().map_err(errno)?,
                (Err(e), _) => return Err(errno(e)),
            },
        };
        let mapped = sock.address_family() == IpAddressFamily::Ipv4
            && t.sock.address_family() == IpAddressFamily::Ipv6;
        let peer = guest_addr(from_wasi(sock.remote_address().map_err(errno)?), mapped);
        let new = self.insert(Entry::Tcp(Box::new(Tcp {
            sock,
            state: TcpState::Connected { input, output },
            rx: VecDeque::new(),
            eof: false,
            write_shut: false,
            broken: false,
            tx: VecDeque::new(),
            sndbuf: DEFAULT_SNDBUF,
            shut_pending: false,
            no_delay: 0,
            reuse_address: 0,
            v6only: 0,
            mapped,
        })));
        Ok((new, peer))
    }

    fn send(&mut self, s: Socket, data: &[u8], to: Option<SockAddr>) -> Result<usize, Errno> {
        let network = &self.network;
        let slot = self.sockets.get_mut(&s).ok_or(Errno::EBADF)?;
        match &mut slot.entry {
            Entry::Tcp(t) => {
                t.progress(&mut slot.error);
                if t.write_shut || t.broken {
                    return Err(Errno::EPIPE);
                }
                if !matches!(t.state, TcpState::Connected { .. }) {
                    return match t.state {
                        TcpState::Connecting => Err(Errno::EAGAIN),
                        _ => Err(slot.error.take().unwrap_or(Errno::ENOTCONN)),
                    };
                }
                t.pump();
                if t.broken {
                    return Err(Errno::EPIPE);
                }
                let n = t.room().min(data.len());
                if n == 0 {
                    return Err(Errno::EAGAIN);
                }
                t.tx.extend(&data[..n]);
                t.pump();
                Ok(n)
            }
            Entry::Udp(u) => {
                if let (Some(remote), Some(to)) = (u.remote, to)
                    && remote != to
                {
                    // sendto on a connected datagram socket goes to the given address on
                    // Linux; wasi fixes the remote per stream, so it must match.
                    return Err(Errno::EISCONN);
                }
                if u.remote.is_none() && to.is_none() {
                    return Err(Errno::EDESTADDRREQ);
                }
                WasiNet::udp_ready(network, u)?;
                let (_, outgoing) = u.streams.as_ref().unwrap();
                if outgoing.check_send().map_err(errno)? == 0 {
                    return Err(Errno::EAGAIN);
                }
                let d = OutgoingDatagram {
                    data: data.to_vec(),
                    remote_address: if u.remote.is_some() {
                        None
                    } else {
                        to.map(to_wasi)
                    },
                };
                match outgoing.send(&[d]).map_err(errno)? {
                    0 => Err(Errno::EAGAIN),
                    _ => Ok(data.len()),
                }
            }
        }
    }

    fn recv(
        &mut self,
        s: Socket,
        max: usize,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<SockAddr>), Errno> {
        let slot = self.slot(s)?;
        match &mut slot.entry {
            Entry::Tcp(t) => {
                t.progress(&mut slot.error);
                match t.state {
                    TcpState::Connected { .. } => {}
                    TcpState::Connecting => return Err(Errno::EAGAIN),
                    TcpState::Closed if t.eof => return Ok((Vec::new(), None)),
                    _ => return Err(slot.error.take().unwrap_or(Errno::ENOTCONN)),
                }
                t.fill()?;
                if t.rx.is_empty() {
                    return if t.eof {
                        Ok((Vec::new(), None))
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
                let n = max.min(t.rx.len());
                if !peek && n == t.rx.len() {
                    // All of it: the buffer itself, without a copy.
                    return Ok((std::mem::take(&mut t.rx).into(), None));
                }
                // Copied slice by slice (memcpy): collecting the deque's iterator goes
                // byte by byte.
                let (a, b) = t.rx.as_slices();
                let mut out = Vec::with_capacity(n);
                out.extend_from_slice(&a[..n.min(a.len())]);
                out.extend_from_slice(&b[..n.saturating_sub(a.len())]);
                if !peek {
                    t.rx.drain(..n);
                }
                Ok((out, None))
            }
            Entry::Udp(u) => {
                if u.streams.is_none() {
                    // Nothing can arrive on a socket that was never bound.
                    if !u.bound {
                        return Err(Errno::EAGAIN);
                    }
                    u.streams = Some(u.sock.stream(u.remote.map(to_wasi)).map_err(errno)?);
                }
                WasiNet::udp_fill(u)?;
                let Some((data, from)) = (if peek { u.held.clone() } else { u.held.take() }) else {
                    return Err(Errno::EAGAIN);
                };
                let mut data = data;
                data.truncate(max);
                Ok((data, Some(from)))
            }
        }
    }

    fn shutdown(&mut self, s: Socket, how: u8) -> Result<(), Errno> {
        let slot = self.slot(s)?;
        let Entry::Tcp(t) = &mut slot.entry else {
            // Datagram sockets accept shutdown on Linux only when connected.
            return Err(Errno::ENOTCONN);
        };
        if !matches!(t.state, TcpState::Connected { .. }) {
            return Err(Errno::ENOTCONN);
        }
        let ty = match how {
            0 => ShutdownType::Receive,
            1 => ShutdownType::Send,
            2 => ShutdownType::Both,
            _ => return Err(Errno::EINVAL),
        };
        if how != 0 && t.pump() {
            // The FIN goes after the queued bytes (`pump` sends it); the read side now.
            t.shut_pending = true;
            if how == 2 {
                t.sock.shutdown(ShutdownType::Receive).map_err(errno)?;
            }
        } else {
            t.sock.shutdown(ty).map_err(errno)?;
        }
        if how != 0 {
            t.write_shut = true;
        }
        if how != 1 {
            t.eof = true;
            t.rx.clear();
        }
        Ok(())
    }

    fn local_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
        let slot = self.slot(s)?;
        let r = match &slot.entry {
            Entry::Tcp(t) => {
                return t
                    .sock
                    .local_address()
                    .map(|a| guest_addr(from_wasi(a), t.mapped))
                    .map_err(errno);
            }
            Entry::Udp(u) if !u.bound => return Ok(crate::unspecified(u.family)),
            Entry::Udp(u) => u.sock.local_address(),
        };
        r.map(from_wasi).map_err(errno)
    }

    fn remote_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
        let slot = self.slot(s)?;
        match &slot.entry {
            Entry::Tcp(t) => match t.state {
                TcpState::Connected { .. } => t
                    .sock
                    .remote_address()
                    .map(|a| guest_addr(from_wasi(a), t.mapped)),
                _ => return Err(Errno::ENOTCONN),
            },
            Entry::Udp(u) => return u.remote.ok_or(Errno::ENOTCONN),
        }
        .map_err(errno)
    }

    fn set_option(&mut self, s: Socket, opt: SockOpt, value: u64) -> Result<(), Errno> {
        let slot = self.slot(s)?;
        let r = match (&mut slot.entry, opt) {
            (Entry::Tcp(t), SockOpt::KeepAlive) => t.sock.set_keep_alive_enabled(value != 0),
            (Entry::Tcp(t), SockOpt::NoDelay) => {
                // wasi:sockets has no TCP_NODELAY: remembered (Nagle's delay is invisible
                // to a program's results).
                t.no_delay = (value != 0) as u64;
                Ok(())
            }
            (Entry::Tcp(t), SockOpt::ReuseAddress) => {
                // wasmtime binds listeners with SO_REUSEADDR already (as most servers ask).
                t.reuse_address = (value != 0) as u64;
                Ok(())
            }
            (Entry::Udp(u), SockOpt::ReuseAddress) => {
                u.reuse_address = (value != 0) as u64;
                Ok(())
            }
            (Entry::Tcp(t), SockOpt::ReceiveBufferSize) => t.sock.set_receive_buffer_size(value),
            (Entry::Tcp(t), SockOpt::SendBufferSize) => {
                // The queue is the socket buffer the guest sees (sock_setsockopt: capped
                // at wmem_max, doubled); the host socket gets the value too.
                t.sndbuf = (value.min(WMEM_MAX) * 2).max(MIN_SNDBUF) as usize;
                t.sock.set_send_buffer_size(value)
            }
            (Entry::Udp(u), SockOpt::ReceiveBufferSize) => u.sock.set_receive_buffer_size(value),
            (Entry::Udp(u), SockOpt::SendBufferSize) => u.sock.set_send_buffer_size(value),
            (Entry::Tcp(t), SockOpt::HopLimit) => t.sock.set_hop_limit(value.clamp(1, 255) as u8),
            (Entry::Udp(u), SockOpt::HopLimit) => {
                u.sock.set_unicast_hop_limit(value.clamp(1, 255) as u8)
            }
            (Entry::Udp(_), SockOpt::KeepAlive | SockOpt::NoDelay) => {
                return Err(Errno::ENOPROTOOPT);
            }
            (Entry::Tcp(t), SockOpt::V6Only) => {
                if t.sock.address_family() != IpAddressFamily::Ipv6 {
                    return Err(Errno::ENOPROTOOPT);
                }
                if !matches!(t.state, TcpState::Fresh) || t.sock.local_address().is_ok() {
                    return Err(Errno::EINVAL);
                }
                t.v6only = (value != 0) as u64;
                Ok(())
            }
            (Entry::Udp(u), SockOpt::V6Only) => {
                if u.family != Family::Inet6 {
                    return Err(Errno::ENOPROTOOPT);
                }
                if u.bound {
                    return Err(Errno::EINVAL);
                }
                u.v6only = (value != 0) as u64;
                Ok(())
            }
        };
        r.map_err(errno)
    }

    fn get_option(&mut self, s: Socket, opt: SockOpt) -> Result<u64, Errno> {
        let slot = self.slot(s)?;
        let r = match (&slot.entry, opt) {
            (Entry::Tcp(t), SockOpt::KeepAlive) => t.sock.keep_alive_enabled().map(u64::from),
            (Entry::Tcp(t), SockOpt::NoDelay) => Ok(t.no_delay),
            (Entry::Tcp(t), SockOpt::ReuseAddress) => Ok(t.reuse_address),
            (Entry::Udp(u), SockOpt::ReuseAddress) => Ok(u.reuse_address),
            (Entry::Tcp(t), SockOpt::ReceiveBufferSize) => t.sock.receive_buffer_size(),
            (Entry::Tcp(t), SockOpt::SendBufferSize) => t.sock.send_buffer_size(),
            (Entry::Udp(u), SockOpt::ReceiveBufferSize) => u.sock.receive_buffer_size(),
            (Entry::Udp(u), SockOpt::SendBufferSize) => u.sock.send_buffer_size(),
            (Entry::Tcp(t), SockOpt::HopLimit) => t.sock.hop_limit().map(u64::from),
            (Entry::Udp(u), SockOpt::HopLimit) => u.sock.unicast_hop_limit().map(u64::from),
            (Entry::Udp(_), SockOpt::KeepAlive | SockOpt::NoDelay) => {
                return Err(Errno::ENOPROTOOPT);
            }
            (Entry::Tcp(t), SockOpt::V6Only) => match t.sock.address_family() {
                IpAddressFamily::Ipv6 => Ok(t.v6only),
                IpAddressFamily::Ipv4 => return Err(Errno::ENOPROTOOPT),
            },
            (Entry::Udp(u), SockOpt::V6Only) => match u.family {
                Family::Inet6 => Ok(u.v6only),
                Family::Inet => return Err(Errno::ENOPROTOOPT),
            },
        };
        r.map_err(errno)
    }

    fn take_error(&mut self, s: Socket) -> Option<Errno> {
        let slot = self.sockets.get_mut(&s)?;
        if let Entry::Tcp(t) = &mut slot.entry {
            t.progress(&mut slot.error);
        }
        slot.error.take()
    }

    fn readiness(&mut self, s: Socket) -> Readiness {
        let Ok(slot) = self.slot(s) else {
            return Readiness::default();
        };
        let mut r = Readiness::default();
        match &mut slot.entry {
            Entry::Tcp(t) => {
                t.progress(&mut slot.error);
                match &mut t.state {
                    TcpState::Fresh => {
                        // poll(2) on an unconnected TCP socket: POLLOUT | POLLHUP.
                        r.writable = true;
                        r.hangup = true;
                    }
                    TcpState::Connecting => {}
                    TcpState::Listening { ready, v4 } => {
                        if ready.is_empty() {
                            if let Ok(c) = t.sock.accept() {
                                ready.push_back(c);
                            } else if let Some(Ok(c)) = v4.as_ref().map(|v4| v4.accept()) {
                                ready.push_back(c);
                            }
                        }
                        r.readable = !ready.is_empty();
                    }
                    TcpState::Connected { .. } => {
                        t.pump();
                        // Writable once a third of the queue is free (sk_stream_is_writeable
                        // wants free space of at least half what is queued).
                        r.writable = !t.write_shut && !t.broken && t.room() >= t.sndbuf / 3;
                        let failed = t.fill().is_err();
                        r.readable = !t.rx.is_empty() || t.eof;
                        r.hangup = (t.eof && t.write_shut) || failed;
                        r.error = failed;
                    }
                    TcpState::Closed => {
                        r.writable = true;
                        r.hangup = true;
                        r.error = slot.error.is_some();
                    }
                }
            }
            Entry::Udp(u) => {
                if u.streams.is_none() && u.bound {
                    u.streams = u.sock.stream(u.remote.map(to_wasi)).ok();
                }
                let _ = WasiNet::udp_fill(u);
                r.readable = u.held.is_some();
                r.writable = match &u.streams {
                    Some((_, out)) => out.check_send().is_ok_and(|n| n > 0),
                    None => true,
                };
            }
        }
        r
    }

    fn subscribe(&mut self, s: Socket, read: bool, write: bool) -> Vec<u32> {
        let Ok(slot) = self.slot(s) else {
            return Vec::new();
        };
        let mut out: Vec<Pollable> = Vec::new();
        match &slot.entry {
            Entry::Tcp(t) => match &t.state {
                TcpState::Connected { input, output } => {
                    if read {
                        out.push(input.subscribe());
                    }
                    if write {
                        out.push(output.subscribe());
                    }
                }
                TcpState::Listening { v4, .. } => {
                    out.push(t.sock.subscribe());
                    out.extend(v4.as_ref().map(|v4| v4.subscribe()));
                }
                // Connecting sockets signal on the socket itself.
                _ => out.push(t.sock.subscribe()),
            },
            Entry::Udp(u) => match &u.streams {
                Some((incoming, outgoing)) => {
                    if read {
                        out.push(incoming.subscribe());
                    }
                    if write {
                        out.push(outgoing.subscribe());
                    }
                }
                None => out.push(u.sock.subscribe()),
            },
        }
        out.into_iter().map(|p| p.take_handle()).collect()
    }

    fn pump(&mut self) -> bool {
        let mut queued = false;
        for slot in self.sockets.values_mut() {
            if let Entry::Tcp(t) = &mut slot.entry
                && !t.tx.is_empty()
            {
                queued |= t.pump();
            }
        }
        // Closed sockets go once their bytes are out.
        for mut t in std::mem::take(&mut self.closing) {
            if t.pump() {
                self.closing.push(t);
            } else {
                dispose(t);
            }
        }
        queued || !self.closing.is_empty()
    }

    fn subscribe_queued(&mut self) -> Vec<u32> {
        let open = self.sockets.values().filter_map(|slot| match &slot.entry {
            Entry::Tcp(t) if !t.tx.is_empty() => Some(&**t),
            _ => None,
        });
        open.chain(self.closing.iter())
            .filter_map(|t| match &t.state {
                TcpState::Connected { output, .. } => Some(output.subscribe().take_handle()),
                _ => None,
            })
            .collect()
    }

    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno> {
        let stream = resolve_addresses(&self.network, name).map_err(errno)?;
        let mut out = Vec::new();
        loop {
            match stream.resolve_next_address() {
                Ok(Some(IpAddress::Ipv4((a, b, c, d)))) => {
                    out.push(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
                }
                Ok(Some(IpAddress::Ipv6((a, b, c, d, e, f, g, h)))) => {
                    out.push(IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)))
                }
                Ok(None) => return Ok(out),
                Err(ErrorCode::WouldBlock) => block_on(stream.subscribe()),
                Err(e) => return Err(errno(e)),
            }
        }
    }
}
