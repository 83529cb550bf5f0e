//! `RelayNet`: IP sockets relayed through `friscy-proxy` over one message transport (a
//! WebSocket in browsers and in the native host), speaking the protocol of
//! docs/PROXY-PROTOCOL.md (`frame`).
//!
//! Everything here is non-blocking, as [`Net`] requires: a call sends frames and returns at
//! once; answers (connected, data, credit, errors) are picked up from the transport by
//! whichever call comes next (`pump`). Every change of readiness is caused by an incoming
//! message, so the transport's one pollable serves every socket.
//!
//! Buffering is bounded both ways by per-stream credit: the proxy sends a stream at most the
//! credit this side granted (the receive window, [`RelayNet::with_window`]), and `send`
//! accepts at most the credit the proxy granted; datagrams beyond a per-socket queue limit
//! are dropped, as UDP may.

pub mod frame;

// Both components export `friscy:net/sockets` from the same crate, so only one can be built
// at a time.
#[cfg(all(feature = "relay-component", feature = "component"))]
compile_error!("features `component` and `relay-component` build different components: pick one");

#[cfg(feature = "relay-component")]
#[path = "relay_component.rs"]
mod component;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::{
    Errno, Family, Kind, Net, Readiness, SockAddr, SockOpt, Socket, family_of, unspecified,
};
use frame::{Addr, Frame, PROXY_STREAM_BIT};

/// A message transport to the proxy: binary messages, in order, reliably (a WebSocket).
pub trait Transport {
    /// Queues one message for sending without blocking.
    fn send(&mut self, message: Vec<u8>) -> Result<(), Closed>;
    /// The next received message, or `None` if none has arrived yet.
    fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Closed>;
    /// A `wasi:io/poll` pollable handle (owned by the caller) that is ready when `try_recv`
    /// may have a message, or `None` if the transport has none.
    fn subscribe(&mut self) -> Option<u32>;
}

/// The transport is gone for good (the WebSocket closed); every socket fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

/// The receive window granted per stream unless [`RelayNet::with_window`] says otherwise.
pub const DEFAULT_WINDOW: u32 = 256 * 1024;
/// Bytes of data per `Data` frame: big enough to amortise a message, small enough that one
/// stream does not hold up the others for long.
const MAX_DATA_FRAME: usize = 64 * 1024;
/// Bytes of received datagrams queued per UDP socket before more are dropped.
const MAX_DATAGRAM_QUEUE: usize = 256 * 1024;
/// The largest UDP payload over IPv4 (65535 - 20 - 8).
const MAX_DATAGRAM: usize = 65507;
/// Linux caps listen(2)'s backlog at net.core.somaxconn, 4096 by default.
const SOMAXCONN: u32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Created (maybe bound), nothing sent to the proxy yet.
    Idle,
    Connecting,
    Connected,
    /// A connection that died after being established (reset, proxy gone).
    Reset,
    /// A connect or listen that failed; connect(2) may try again.
    Failed,
    Listening,
    /// A UDP socket the proxy has been asked to open.
    Udp,
}

struct Sock {
    family: Family,
    kind: Kind,
    state: State,
    stream: Option<u32>,
    /// bind(2)'s address, then what the proxy reports.
    local: Option<SockAddr>,
    /// The peer of a connection, or a UDP socket's default destination.
    remote: Option<SockAddr>,
    /// SO_ERROR.
    error: Option<Errno>,
    /// A connect whose outcome the next connect(2) must report (see `connect`).
    connect_unreported: bool,
    options: [u64; 7],
    // TCP.
    rx: VecDeque<u8>,
    rx_eof: bool,
    rd_shut: bool,
    wr_shut: bool,
    /// Bytes the proxy lets us send.
    tx_credit: u32,
    /// Bytes consumed but not yet credited back to the proxy.
    consumed: u32,
    // Listeners: accepted sockets waiting for accept(2), and their limit.
    backlog: VecDeque<(Socket, SockAddr)>,
    backlog_max: u32,
    // UDP.
    datagrams: VecDeque<(SockAddr, Vec<u8>)>,
    datagram_bytes: usize,
}

impl Sock {
    fn new(family: Family, kind: Kind, window: u32) -> Sock {
        Sock {
            family,
            kind,
            state: State::Idle,
            stream: None,
            local: None,
            remote: None,
            error: None,
            connect_unreported: false,
            options: [0, 0, 0, window as u64, window as u64, 64, 0],
            rx: VecDeque::new(),
            rx_eof: false,
            rd_shut: false,
            wr_shut: false,
            tx_credit: 0,
            consumed: 0,
            backlog: VecDeque::new(),
            backlog_max: 0,
            datagrams: VecDeque::new(),
            datagram_bytes: 0,
        }
    }
}

fn opt_index(opt: SockOpt) -> usize {
    match opt {
        SockOpt::ReuseAddress => 0,
        SockOpt::KeepAlive => 1,
        SockOpt::NoDelay => 2,
        SockOpt::ReceiveBufferSize => 3,
        SockOpt::SendBufferSize => 4,
        SockOpt::HopLimit => 5,
        SockOpt::V6Only => 6,
    }
}

enum Resolution {
    Pending,
    Done(Result<Vec<IpAddr>, Errno>),
}

pub struct RelayNet<T: Transport> {
    transport: T,
    /// The transport closed or the proxy broke the protocol: nothing works any more.
    down: bool,
    window: u32,
    socks: HashMap<Socket, Sock>,
    /// Stream id to the socket using it.
    streams: HashMap<u32, Socket>,
    next_socket: Socket,
    /// Ids are never reused within a session, so a late frame for a closed stream cannot
    /// reach a new one.
    next_stream: u32,
    resolutions: HashMap<String, Resolution>,
    /// Resolve request id to the name asked for.
    resolve_ids: HashMap<u32, String>,
    /// Messages taken in so far (`Net::activity`).
    taken: u64,
}

impl<T: Transport> RelayNet<T> {
    pub fn new(transport: T) -> Self {
        Self::with_window(transport, DEFAULT_WINDOW)
    }

    /// `window`: bytes the proxy may send a stream ahead of the guest reading them.
    pub fn with_window(transport: T, window: u32) -> Self {
        RelayNet {
            transport,
            down: false,
            window: window.max(1),
            socks: HashMap::new(),
            streams: HashMap::new(),
            next_socket: 1,
            next_stream: 1,
            resolutions: HashMap::new(),
            resolve_ids: HashMap::new(),
            taken: 0,
        }
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport's pollable (ready when any socket's readiness or a pending
    /// resolution may have changed).
    pub fn subscribe_transport(&mut self) -> Option<u32> {
        self.transport.subscribe()
    }

    /// Whether the transport is gone.
    pub fn is_down(&self) -> bool {
        self.down
    }

    /// Takes in every message that has arrived. Every call does this first; a host that
    /// waited on the pollable may call it directly.
    pub fn pump(&mut self) {
        while !self.down {
            match self.transport.try_recv() {
                Ok(Some(msg)) => {
                    self.taken += 1;
                    match Frame::decode(&msg) {
                        Ok(f) => self.handle(f),
                        // A proxy that sends garbage cannot be trusted with the rest.
                        Err(_) => self.fail_all(),
                    }
                }
                Ok(None) => break,
                Err(Closed) => self.fail_all(),
            }
        }
    }

    fn send_frame(&mut self, f: Frame) -> Result<(), Errno> {
        if self.down {
            return Err(Errno::ENETDOWN);
        }
        if self.transport.send(f.encode()).is_err() {
            self.fail_all();
            return Err(Errno::ENETDOWN);
        }
        Ok(())
    }

    fn new_stream(&mut self) -> Result<u32, Errno> {
        if self.next_stream >= PROXY_STREAM_BIT {
            return Err(Errno::ENFILE);
        }
        self.next_stream += 1;
        Ok(self.next_stream - 1)
    }

    fn sock(&mut self, s: Socket) -> Result<&mut Sock, Errno> {
        self.socks.get_mut(&s).ok_or(Errno::EBADF)
    }

    /// The transport is gone: every socket fails as a real one does when its network goes.
    fn fail_all(&mut self) {
        self.down = true;
        for sock in self.socks.values_mut() {
            let err = match sock.state {
                State::Connecting | State::Connected => Errno::ECONNRESET,
                State::Listening | State::Udp => Errno::ENETDOWN,
                State::Idle | State::Reset | State::Failed => continue,
            };
            sock.state = if sock.state == State::Connected {
                State::Reset
            } else {
                State::Failed
            };
            if sock.kind == Kind::Datagram {
                sock.state = State::Udp;
            }
            sock.error.get_or_insert(err);
            sock.stream = None;
        }
        self.streams.clear();
        for r in self.resolutions.values_mut() {
            if let Resolution::Pending = r {
                *r = Resolution::Done(Err(Errno::ENETDOWN));
            }
        }
        self.resolve_ids.clear();
    }

    fn handle(&mut self, f: Frame) {
        let id = f.stream();
        if let Frame::Accepted {
            new_stream,
            credit,
            local,
            peer,
            ..
        } = f
        {
            return self.accepted(id, new_stream, credit, local, peer);
        }
        if let Some(name) = self.resolve_ids.remove(&id) {
            let result = match f {
                Frame::Resolved { addrs, .. } => Ok(addrs),
                Frame::Error { errno, .. } => Err(errno_from(errno)),
                _ => return self.fail_all(),
            };
            self.resolutions.insert(name, Resolution::Done(result));
            return;
        }
        // Frames for a stream this side already closed are late, not wrong.
        let Some(&s) = self.streams.get(&id) else {
            return;
        };
        let Some(sock) = self.socks.get_mut(&s) else {
            return;
        };
        match f {
            Frame::Connected {
                credit,
                local,
                remote,
                ..
            } if sock.state == State::Connecting => {
                sock.state = State::Connected;
                sock.tx_credit = credit;
                sock.local = Some(local);
                sock.remote = Some(remote);
            }
            Frame::Listening { local, .. } | Frame::UdpOpened { local, .. } => {
                sock.local = Some(local);
            }
            Frame::Error { errno, .. } => {
                sock.error = Some(errno_from(errno));
                sock.state = match sock.state {
                    State::Connected | State::Reset => State::Reset,
                    State::Udp => State::Udp,
                    _ => State::Failed,
                };
                sock.stream = None;
                self.streams.remove(&id);
            }
            Frame::DatagramError { errno, .. } => sock.error = Some(errno_from(errno)),
            Frame::Data { data, .. } => {
                if sock.rd_shut {
                    // Discarded after SHUT_RD, but credited so the peer is not stalled.
                    let n = data.len() as u32;
                    let _ = self.send_frame(Frame::Credit {
                        stream: id,
                        bytes: n,
                    });
                } else {
                    sock.rx.extend(data);
                }
            }
            Frame::Credit { bytes, .. } => sock.tx_credit = sock.tx_credit.saturating_add(bytes),
            Frame::Shutdown { .. } => sock.rx_eof = true,
            Frame::Datagram { addr, data, .. } => {
                // A connected UDP socket only hears from its peer (udp(7)).
                let from_peer = sock.remote.is_none_or(|r| r == addr);
                if from_peer && sock.datagram_bytes + data.len() <= MAX_DATAGRAM_QUEUE {
                    sock.datagram_bytes += data.len();
                    sock.datagrams.push_back((addr, data));
                }
            }
            Frame::Connected { .. } => {}
            // Requests only the client sends: the proxy is broken.
            _ => self.fail_all(),
        }
    }

    fn accepted(
        &mut self,
        listener: u32,
        stream: u32,
        credit: u32,
        local: SockAddr,
        peer: SockAddr,
    ) {
        let window = self.window;
        let lsock = self.streams.get(&listener).copied();
        let room = lsock
            .and_then(|l| self.socks.get(&l))
            .filter(|l| l.state == State::Listening)
            .map(|l| (l.backlog.len() as u32) < l.backlog_max);
        let fresh = stream & PROXY_STREAM_BIT != 0 && !self.streams.contains_key(&stream);
        let s = self.next_socket;
        let next = s.checked_add(1);
        if room != Some(true) || !fresh || next.is_none() {
            // Backlog full or listener gone (or an id this side cannot take): refuse, as a
            // full SYN queue does.
            let _ = self.send_frame(Frame::Close { stream });
            return;
        }
        self.next_socket = next.unwrap_or(s);
        let mut sock = Sock::new(family_of(&local), Kind::Stream, window);
        sock.state = State::Connected;
        sock.stream = Some(stream);
        sock.tx_credit = credit;
        sock.local = Some(local);
        sock.remote = Some(peer);
        self.socks.insert(s, sock);
        self.streams.insert(stream, s);
        if let Some(l) = lsock.and_then(|l| self.socks.get_mut(&l)) {
            l.backlog.push_back((s, peer));
        }
    }

    /// Opens the proxy side of a UDP socket on first use (bind, connect or send).
    fn ensure_udp(&mut self, s: Socket) -> Result<(), Errno> {
        let sock = self.sock(s)?;
        if sock.state == State::Udp {
            return if sock.stream.is_some() {
                Ok(())
            } else {
                Err(Errno::ENETDOWN)
            };
        }
        let local = sock.local.unwrap_or_else(|| unspecified(sock.family));
        let stream = self.new_stream()?;
        self.send_frame(Frame::UdpOpen { stream, local })?;
        self.streams.insert(stream, s);
        let sock = self.sock(s)?;
        sock.state = State::Udp;
        sock.stream = Some(stream);
        Ok(())
    }

    /// Hands back consumed receive window once a quarter of it is used up. Granting before
    /// the whole window is consumed keeps data flowing; the threshold being below the
    /// window means a sender that used all its credit always gets more.
    fn credit_back(&mut self, s: Socket, n: usize) {
        let quarter = (self.window / 4).max(1);
        let Some(sock) = self.socks.get_mut(&s) else {
            return;
        };
        sock.consumed = sock.consumed.saturating_add(n as u32);
        if sock.consumed >= quarter
            && let Some(stream) = sock.stream
        {
            let bytes = std::mem::take(&mut sock.consumed);
            let _ = self.send_frame(Frame::Credit { stream, bytes });
        }
    }
}

/// A proxy's errno, kept if Linux knows it (an unknown one is reported as EIO).
fn errno_from(n: u16) -> Errno {
    Errno::from_raw(n).unwrap_or(Errno::EIO)
}

fn check_family(sock: &Sock, addr: &SockAddr) -> Result<(), Errno> {
    if family_of(addr) != sock.family {
        return Err(Errno::EAFNOSUPPORT);
    }
    Ok(())
}

impl<T: Transport> Net for RelayNet<T> {
    fn create(&mut self, family: Family, kind: Kind) -> Result<Socket, Errno> {
        self.pump();
        if self.down {
            return Err(Errno::ENETDOWN);
        }
        let s = self.next_socket;
        self.next_socket = s.checked_add(1).ok_or(Errno::ENFILE)?;
        self.socks.insert(s, Sock::new(family, kind, self.window));
        Ok(s)
    }

    fn close(&mut self, s: Socket) {
        self.pump();
        let Some(sock) = self.socks.remove(&s) else {
            return;
        };
        if let Some(stream) = sock.stream {
            self.streams.remove(&stream);
            let _ = self.send_frame(Frame::Close { stream });
        }
        // Connections nobody accepted go with their listener.
        for (a, _) in sock.backlog {
            self.close(a);
        }
    }

    fn bind(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
        self.pump();
        let sock = self.sock(s)?;
        check_family(sock, &addr)?;
        if sock.local.is_some() || sock.state != State::Idle {
            return Err(Errno::EINVAL);
        }
        sock.local = Some(addr);
        if sock.kind == Kind::Datagram {
            // A bound UDP socket must receive at once, so the proxy opens it now.
            self.ensure_udp(s)?;
        }
        Ok(())
    }

    fn connect(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
        self.pump();
        let window = self.window;
        let sock = self.sock(s)?;
        check_family(sock, &addr)?;
        if sock.kind == Kind::Datagram {
            self.ensure_udp(s)?;
            self.sock(s)?.remote = Some(addr);
            return Ok(());
        }
        // connect(2) on a socket whose connect finished meanwhile reports the outcome once,
        // as Linux does: 0, or the error. The kernel's blocking connect is exactly such a
        // second call after waiting for writability, so without this it would see EISCONN
        // for a success and start over after a refusal, forever.
        match sock.state {
            State::Connected | State::Reset if sock.connect_unreported => {
                sock.connect_unreported = false;
                return Ok(());
            }
            State::Failed if sock.connect_unreported => {
                sock.connect_unreported = false;
                // Already read through SO_ERROR: this call starts a new attempt.
                if let Some(e) = sock.error.take() {
                    return Err(e);
                }
            }
            State::Idle | State::Failed => {}
            State::Connecting => return Err(Errno::EALREADY),
            State::Connected | State::Reset | State::Listening | State::Udp => {
                return Err(Errno::EISCONN);
            }
        }
        let stream = self.new_stream()?;
        self.send_frame(Frame::Connect {
            stream,
            credit: window,
            to: Addr::Ip(addr),
        })?;
        self.streams.insert(stream, s);
        let sock = self.sock(s)?;
        sock.state = State::Connecting;
        sock.stream = Some(stream);
        sock.remote = Some(addr);
        sock.error = None;
        sock.connect_unreported = true;
        Err(Errno::EINPROGRESS)
    }

    fn listen(&mut self, s: Socket, backlog: u32) -> Result<(), Errno> {
        self.pump();
        let window = self.window;
        let sock = self.sock(s)?;
        if sock.kind != Kind::Stream {
            return Err(Errno::EOPNOTSUPP);
        }
        let backlog_max = backlog.clamp(1, SOMAXCONN);
        match sock.state {
            State::Listening => {
                sock.backlog_max = backlog_max;
                return Ok(());
            }
            State::Idle => {}
            _ => return Err(Errno::EINVAL),
        }
        let local = sock.local.unwrap_or_else(|| unspecified(sock.family));
        let stream = self.new_stream()?;
        // The proxy's answer comes later: a refusal shows as the error accept(2) returns,
        // and getsockname(2) reports the proxy's port once `Listening` has arrived.
        self.send_frame(Frame::Listen {
            stream,
            credit: window,
            backlog: backlog_max,
            local,
        })?;
        self.streams.insert(stream, s);
        let sock = self.sock(s)?;
        sock.state = State::Listening;
        sock.stream = Some(stream);
        sock.backlog_max = backlog_max;
        Ok(())
    }

    fn accept(&mut self, s: Socket) -> Result<(Socket, SockAddr), Errno> {
        self.pump();
        let sock = self.sock(s)?;
        if let Some(e) = sock.error.take() {
            return Err(e);
        }
        if sock.state != State::Listening {
            return Err(Errno::EINVAL);
        }
        sock.backlog.pop_front().ok_or(Errno::EAGAIN)
    }

    fn send(&mut self, s: Socket, data: &[u8], to: Option<SockAddr>) -> Result<usize, Errno> {
        self.pump();
        let sock = self.sock(s)?;
        if sock.kind == Kind::Datagram {
            if let Some(e) = sock.error.take() {
                return Err(e);
            }
            let addr = to.or(sock.remote).ok_or(Errno::EDESTADDRREQ)?;
            check_family(sock, &addr)?;
            if data.len() > MAX_DATAGRAM {
                return Err(Errno::EMSGSIZE);
            }
            self.ensure_udp(s)?;
            let stream = self.sock(s)?.stream.ok_or(Errno::ENETDOWN)?;
            self.send_frame(Frame::Datagram {
                stream,
                addr,
                data: data.to_vec(),
            })?;
            return Ok(data.len());
        }
        // tcp(7): the address of sendto(2) on a stream socket is ignored.
        match sock.state {
            State::Connecting => return Err(Errno::EAGAIN),
            State::Connected if !sock.wr_shut => {}
            State::Reset if sock.error.is_some() => return Err(sock.error.take().unwrap()),
            _ => return Err(Errno::EPIPE),
        }
        if sock.tx_credit == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = data.len().min(sock.tx_credit as usize);
        sock.tx_credit -= n as u32;
        let stream = sock.stream.ok_or(Errno::EPIPE)?;
        for chunk in data[..n].chunks(MAX_DATA_FRAME) {
            self.send_frame(Frame::Data {
                stream,
                data: chunk.to_vec(),
            })?;
        }
        Ok(n)
    }

    fn recv(
        &mut self,
        s: Socket,
        max: usize,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<SockAddr>), Errno> {
        self.pump();
        let sock = self.sock(s)?;
        if sock.kind == Kind::Datagram {
            if let Some(e) = sock.error.take() {
                return Err(e);
            }
            let (from, data) = match sock.datagrams.front() {
                None => return Err(Errno::EAGAIN),
                Some(_) if peek => {
                    let (from, data) = sock.datagrams.front().unwrap();
                    (*from, data[..data.len().min(max)].to_vec())
                }
                Some(_) => {
                    let (from, mut data) = sock.datagrams.pop_front().unwrap();
                    sock.datagram_bytes -= data.len();
                    data.truncate(max);
                    (from, data)
                }
            };
            return Ok((data, Some(from)));
        }
        match sock.state {
            State::Connected | State::Reset => {}
            State::Connecting => return Err(Errno::EAGAIN),
            State::Failed if sock.error.is_some() => return Err(sock.error.take().unwrap()),
            _ => return Err(Errno::ENOTCONN),
        }
        if sock.rd_shut {
            return Ok((Vec::new(), None));
        }
        if sock.rx.is_empty() {
            if let Some(e) = sock.error.take() {
                return Err(e);
            }
            if sock.rx_eof || sock.state == State::Reset {
                return Ok((Vec::new(), None));
            }
            return Err(Errno::EAGAIN);
        }
        let n = max.min(sock.rx.len());
        let data: Vec<u8> = if peek {
            sock.rx.iter().take(n).copied().collect()
        } else {
            sock.rx.drain(..n).collect()
        };
        if !peek {
            self.credit_back(s, n);
        }
        Ok((data, None))
    }

    fn shutdown(&mut self, s: Socket, how: u8) -> Result<(), Errno> {
        self.pump();
        if how > 2 {
            return Err(Errno::EINVAL);
        }
        let sock = self.sock(s)?;
        let connected = match sock.kind {
            Kind::Stream => matches!(sock.state, State::Connected | State::Reset),
            Kind::Datagram => sock.remote.is_some(),
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        let (rd, wr) = (how != 1, how != 0);
        let mut discarded = 0;
        if rd && !sock.rd_shut {
            sock.rd_shut = true;
            discarded = sock.rx.len();
            sock.rx.clear();
        }
        let fin =
            wr && !sock.wr_shut && sock.kind == Kind::Stream && sock.state == State::Connected;
        sock.wr_shut |= wr;
        let stream = sock.stream;
        self.credit_back(s, discarded);
        if let (true, Some(stream)) = (fin, stream) {
            self.send_frame(Frame::Shutdown { stream })?;
        }
        Ok(())
    }

    fn local_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
        self.pump();
        let sock = self.sock(s)?;
        Ok(sock.local.unwrap_or_else(|| unspecified(sock.family)))
    }

    fn remote_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
        self.pump();
        let sock = self.sock(s)?;
        let connected = match sock.kind {
            Kind::Stream => matches!(sock.state, State::Connected | State::Reset),
            Kind::Datagram => true,
        };
        sock.remote.filter(|_| connected).ok_or(Errno::ENOTCONN)
    }

    fn set_option(&mut self, s: Socket, opt: SockOpt, value: u64) -> Result<(), Errno> {
        // Remembered for getsockopt(2); the proxy's sockets use its own settings (it sets
        // TCP_NODELAY on every connection, since the WebSocket already batches).
        self.sock(s)?.options[opt_index(opt)] = value;
        Ok(())
    }

    fn get_option(&mut self, s: Socket, opt: SockOpt) -> Result<u64, Errno> {
        Ok(self.sock(s)?.options[opt_index(opt)])
    }

    fn take_error(&mut self, s: Socket) -> Option<Errno> {
        self.pump();
        self.socks.get_mut(&s)?.error.take()
    }

    fn readiness(&mut self, s: Socket) -> Readiness {
        self.pump();
        let Some(sock) = self.socks.get(&s) else {
            return Readiness::default();
        };
        let error = sock.error.is_some();
        match (sock.kind, sock.state) {
            (Kind::Datagram, _) => Readiness {
                readable: !sock.datagrams.is_empty() || error,
                writable: !self.down,
                hangup: false,
                error,
            },
            (_, State::Idle | State::Connecting) => Readiness::default(),
            (_, State::Connected) => {
                let rd_done = sock.rx_eof || sock.rd_shut;
                Readiness {
                    readable: !sock.rx.is_empty() || rd_done || error,
                    // tcp_poll(): POLLOUT after SHUT_WR too, so the write fails with EPIPE.
                    writable: sock.tx_credit > 0 || sock.wr_shut,
                    hangup: rd_done && sock.wr_shut,
                    error,
                }
            }
            // A dead connection or failed connect: poll(2) reports everything, so the
            // program calls in and learns the error.
            (_, State::Reset | State::Failed) => Readiness {
                readable: true,
                writable: true,
                hangup: true,
                error,
            },
            (_, State::Listening) => Readiness {
                readable: !sock.backlog.is_empty() || error,
                writable: false,
                hangup: false,
                error,
            },
            (_, State::Udp) => Readiness::default(),
        }
    }

    fn subscribe(&mut self, _: Socket, _: bool, _: bool) -> Vec<u32> {
        // Every readiness change arrives as a message: one pollable serves all sockets.
        self.transport.subscribe().into_iter().collect()
    }

    fn activity(&self) -> u64 {
        self.taken
    }

    /// The first call for a name asks the proxy and returns `EAGAIN`; once the answer has
    /// arrived (the transport's pollable fires) the next call returns it. IP literals are
    /// answered at once.
    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        if name.is_empty() || name.len() > frame::MAX_NAME {
            return Err(Errno::EINVAL);
        }
        self.pump();
        match self.resolutions.remove(name) {
            Some(Resolution::Done(result)) => return result,
            Some(Resolution::Pending) => {
                self.resolutions
                    .insert(name.to_string(), Resolution::Pending);
                return Err(Errno::EAGAIN);
            }
            None => {}
        }
        let stream = self.new_stream()?;
        self.send_frame(Frame::Resolve {
            stream,
            name: name.to_string(),
        })?;
        self.resolve_ids.insert(stream, name.to_string());
        self.resolutions
            .insert(name.to_string(), Resolution::Pending);
        Err(Errno::EAGAIN)
    }
}

#[cfg(test)]
mod tests;
