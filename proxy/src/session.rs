//! One guest's WebSocket: decodes its frames, applies the policy and the limits, and runs
//! a task per TCP connection, listener and UDP socket (docs/PROXY-PROTOCOL.md).
//!
//! The session loop alone owns the stream table; tasks report back through `Event`s. All
//! frames to the guest go through one bounded queue to the WebSocket writer, so a slow guest
//! slows its streams down rather than making the proxy buffer without end.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use friscy_net::Errno;
use friscy_net::relay::frame::{Addr, Frame, PROXY_STREAM_BIT};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinSet};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::config::Config;
use crate::log::limited;
use crate::tcp::{Cmd, Conn, Credit, listen};

/// Frames queued for the WebSocket writer before senders wait (data) or drop (datagrams).
const OUT_QUEUE: usize = 256;
/// Names remembered per session (which IP a name resolved to, for name rules).
const MAX_NAMES: usize = 4096;
/// Peers a UDP socket has sent to (only they may answer).
const MAX_UDP_PEERS: usize = 1024;
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Name lookups a guest may have in flight at once.
const MAX_LOOKUPS: usize = 8;

pub(crate) type Out = mpsc::Sender<Message>;
type Names = Arc<Mutex<HashMap<IpAddr, Vec<String>>>>;

pub(crate) fn msg(f: Frame) -> Message {
    Message::Binary(f.encode().into())
}

enum Entry {
    Tcp {
        cmds: mpsc::UnboundedSender<Cmd>,
        credit: Arc<Credit>,
        /// Bytes the guest may still send before we credit more; below zero it broke the
        /// protocol.
        allowance: Arc<AtomicI64>,
    },
    Listener {
        task: AbortHandle,
        credit: u32,
    },
    Udp {
        sock: Arc<UdpSocket>,
        peers: Arc<Mutex<HashSet<SocketAddr>>>,
        task: AbortHandle,
    },
}

enum Event {
    /// A stream's task ended and told the guest (Error); forget it.
    Gone(u32),
    Accepted {
        listener: u32,
        tcp: TcpStream,
        peer: SocketAddr,
    },
}

struct Session {
    config: Arc<Config>,
    who: String,
    out: Out,
    events: mpsc::UnboundedSender<Event>,
    streams: HashMap<u32, Entry>,
    names: Names,
    tasks: JoinSet<()>,
    lookups: Arc<Semaphore>,
    next_proxy_stream: u32,
    /// Requests refused (each logged, rate-limited; the total goes in the last line).
    refusals: u64,
}

/// Serve one client until it goes. Returns how many of its requests were refused.
pub async fn run(ws: WebSocketStream<TcpStream>, config: Arc<Config>, who: String) -> u64 {
    let (mut sink, mut source) = ws.split();
    let (out, mut out_rx) = mpsc::channel::<Message>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut s = Session {
        config,
        who,
        out,
        events,
        streams: HashMap::new(),
        names: Names::default(),
        tasks: JoinSet::new(),
        lookups: Arc::new(Semaphore::new(MAX_LOOKUPS)),
        next_proxy_stream: PROXY_STREAM_BIT | 1,
        refusals: 0,
    };
    loop {
        tokio::select! {
            m = source.next() => {
                let f = match m {
                    Some(Ok(Message::Binary(b))) => Frame::decode(&b).map_err(|e| e.to_string()),
                    Some(Ok(Message::Text(_))) => Err("text message (frames are binary)".into()),
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        limited!("{}: WebSocket error: {e}", s.who);
                        break;
                    }
                };
                if let Err(why) = match f {
                    Ok(f) => s.frame(f).await,
                    Err(e) => Err(e),
                } {
                    limited!("{}: protocol error, closing: {why}", s.who);
                    let close = CloseFrame { code: CloseCode::Protocol, reason: why.into() };
                    let _ = s.out.send(Message::Close(Some(close))).await;
                    break;
                }
            }
            Some(e) = event_rx.recv() => s.event(e).await,
        }
    }
    // Dropping the tasks aborts every connection, listener and UDP socket of the guest.
    for (_, e) in s.streams.drain() {
        match e {
            Entry::Listener { task, .. } | Entry::Udp { task, .. } => task.abort(),
            Entry::Tcp { .. } => {}
        }
    }
    s.tasks.abort_all();
    let refusals = s.refusals;
    drop(s);
    let _ = writer.await;
    refusals
}

/// The Linux errno for a host I/O error (the proxy's own errno on Linux).
pub(crate) fn errno_of(e: &io::Error) -> u16 {
    if cfg!(target_os = "linux")
        && let Some(n) = e.raw_os_error()
        && Errno::from_raw(n as u16).is_some()
    {
        return n as u16;
    }
    use io::ErrorKind::*;
    (match e.kind() {
        ConnectionRefused => Errno::ECONNREFUSED,
        ConnectionReset => Errno::ECONNRESET,
        ConnectionAborted => Errno::ECONNABORTED,
        TimedOut => Errno::ETIMEDOUT,
        AddrInUse => Errno::EADDRINUSE,
        AddrNotAvailable => Errno::EADDRNOTAVAIL,
        PermissionDenied => Errno::EACCES,
        HostUnreachable => Errno::EHOSTUNREACH,
        NetworkUnreachable => Errno::ENETUNREACH,
        NetworkDown => Errno::ENETDOWN,
        BrokenPipe => Errno::EPIPE,
        _ => Errno::EIO,
    }) as u16
}

fn error(stream: u32, errno: Errno, message: String) -> Frame {
    Frame::Error {
        stream,
        errno: errno as u16,
        message,
    }
}

impl Session {
    /// A TCP stream's entry in the table and the connection task's end of it, with `credit`
    /// bytes the guest lets us send it to start with.
    fn new_conn(&mut self, stream: u32, credit: u32) -> Conn {
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let c = Arc::new(Credit::default());
        c.add(credit);
        let allowance = Arc::new(AtomicI64::new(self.config.window as i64));
        let entry = Entry::Tcp {
            cmds,
            credit: c.clone(),
            allowance: allowance.clone(),
        };
        self.streams.insert(stream, entry);
        Conn {
            stream,
            out: self.out.clone(),
            credit: c,
            allowance,
            cmds: cmd_rx,
        }
    }

    /// A refusal: logged here, reported to the guest as `errno`.
    async fn refuse(&mut self, stream: u32, what: &str, errno: Errno, why: String) {
        self.refusals += 1;
        limited!("refused {}: {what}: {why} ({})", self.who, errno.name());
        let _ = self.out.send(msg(error(stream, errno, why))).await;
    }

    fn names_of(&self, ip: IpAddr) -> Vec<String> {
        self.names
            .lock()
            .unwrap()
            .get(&ip.to_canonical())
            .cloned()
            .unwrap_or_default()
    }

    /// A new stream id from the guest: in its half of the id space and not in use.
    fn new_id(&self, stream: u32) -> Result<(), String> {
        if stream & PROXY_STREAM_BIT != 0 || self.streams.contains_key(&stream) {
            return Err(format!(
                "stream id {stream:#x} is in use or not the client's"
            ));
        }
        Ok(())
    }

    fn full(&self) -> bool {
        self.streams.len() >= self.config.max_streams
    }

    async fn refuse_full(&mut self, stream: u32, what: &str) {
        let why = format!(
            "too many streams (--max-streams {})",
            self.config.max_streams
        );
        self.refuse(stream, what, Errno::EMFILE, why).await;
    }

    async fn frame(&mut self, f: Frame) -> Result<(), String> {
        match f {
            Frame::Connect { stream, credit, to } => {
                self.new_id(stream)?;
                let what = format!("connect to {to}");
                if self.full() {
                    self.refuse_full(stream, &what).await;
                    return Ok(());
                }
                if let Addr::Ip(a) = &to
                    && let Err(why) =
                        self.config
                            .policy
                            .check(a.ip(), Some(a.port()), &self.names_of(a.ip()))
                {
                    self.refuse(stream, &what, Errno::EACCES, why).await;
                    return Ok(());
                }
                let conn = self.new_conn(stream, credit);
                let (config, names, events) =
                    (self.config.clone(), self.names.clone(), self.events.clone());
                let who = self.who.clone();
                self.tasks.spawn(async move {
                    match connect(&config, &names, &who, &to).await {
                        Ok(tcp) => {
                            let local = tcp.local_addr().unwrap_or(unspecified(&tcp));
                            let remote = tcp.peer_addr().unwrap_or(unspecified(&tcp));
                            let window = config.window;
                            let f = Frame::Connected {
                                stream,
                                credit: window,
                                local,
                                remote,
                            };
                            if conn.out.send(msg(f)).await.is_ok() {
                                conn.relay(tcp).await;
                            }
                        }
                        Err((errno, why)) => {
                            let _ = conn.out.send(msg(error(stream, errno, why))).await;
                        }
                    }
                    let _ = events.send(Event::Gone(stream));
                });
            }
            Frame::Listen {
                stream,
                credit,
                backlog,
                local,
            } => {
                self.new_id(stream)?;
                let what = format!("listen on port {}", local.port());
                if self.full() {
                    self.refuse_full(stream, &what).await;
                    return Ok(());
                }
                if !self.port_allowed(local.port()) {
                    let why = "the port is not allowed (--allow-listen)".to_string();
                    self.refuse(stream, &what, Errno::EACCES, why).await;
                    return Ok(());
                }
                let bind = SocketAddr::new(self.config.listen_host, local.port());
                let listener = match listen(bind, backlog) {
                    Ok(l) => l,
                    Err(e) => {
                        let message = format!("{what}: {e}");
                        let f = Frame::Error {
                            stream,
                            errno: errno_of(&e),
                            message,
                        };
                        let _ = self.out.send(msg(f)).await;
                        return Ok(());
                    }
                };
                let local = listener.local_addr().unwrap_or(bind);
                limited!("{}: listening on {local} for the guest", self.who);
                let _ = self.out.send(msg(Frame::Listening { stream, local })).await;
                let events = self.events.clone();
                let task = self.tasks.spawn(async move {
                    loop {
                        match listener.accept().await {
                            Ok((tcp, peer)) => {
                                let _ = events.send(Event::Accepted {
                                    listener: stream,
                                    tcp,
                                    peer,
                                });
                            }
                            // Out of descriptors, or the peer gave up already: try again.
                            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                });
                self.streams
                    .insert(stream, Entry::Listener { task, credit });
            }
            Frame::UdpOpen { stream, local } => {
                self.new_id(stream)?;
                let what = format!("UDP bind to port {}", local.port());
                if self.full() {
                    self.refuse_full(stream, &what).await;
                    return Ok(());
                }
                if local.port() != 0 && !self.port_allowed(local.port()) {
                    let why = "the port is not allowed (--allow-listen)".to_string();
                    self.refuse(stream, &what, Errno::EACCES, why).await;
                    return Ok(());
                }
                // An ephemeral socket talks to the world; a guest's UDP server is bound where
                // its TCP listeners are.
                let bind = match (local.port(), local) {
                    (0, SocketAddr::V4(_)) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
                    (0, SocketAddr::V6(_)) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
                    (p, _) => SocketAddr::new(self.config.listen_host, p),
                };
                let sock = match UdpSocket::bind(bind).await {
                    Ok(s) => Arc::new(s),
                    Err(e) => {
                        let f = Frame::Error {
                            stream,
                            errno: errno_of(&e),
                            message: e.to_string(),
                        };
                        let _ = self.out.send(msg(f)).await;
                        return Ok(());
                    }
                };
                let local = sock.local_addr().unwrap_or(bind);
                let _ = self.out.send(msg(Frame::UdpOpened { stream, local })).await;
                let peers = Arc::new(Mutex::new(HashSet::new()));
                // A bound server hears from anyone; an ephemeral socket only from the peers
                // it sent to (as a NAT does), so it cannot be used to receive unsolicited
                // traffic.
                let open = bind.port() != 0;
                let (rsock, rpeers, out) = (sock.clone(), peers.clone(), self.out.clone());
                let task = self.tasks.spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let Ok((n, from)) = rsock.recv_from(&mut buf).await else {
                            continue;
                        };
                        if open || rpeers.lock().unwrap().contains(&from) {
                            let f = Frame::Datagram {
                                stream,
                                addr: from,
                                data: buf[..n].to_vec(),
                            };
                            // A full queue drops the datagram, as a full socket buffer does.
                            let _ = out.try_send(msg(f));
                        }
                    }
                });
                self.streams
                    .insert(stream, Entry::Udp { sock, peers, task });
            }
            Frame::Resolve { stream, name } => {
                let what = format!("resolve '{name}'");
                if !self.config.policy.may_resolve(&name) {
                    let why = "no --allow rule names this host".to_string();
                    self.refuse(stream, &what, Errno::EACCES, why).await;
                    return Ok(());
                }
                // Each lookup holds a thread of the runtime's blocking pool (getaddrinfo) for
                // up to RESOLVE_TIMEOUT, which other guests share.
                let Ok(slot) = self.lookups.clone().try_acquire_owned() else {
                    let why = format!("more than {MAX_LOOKUPS} lookups in flight");
                    self.refuse(stream, &what, Errno::EAGAIN, why).await;
                    return Ok(());
                };
                let (config, names, out, who) = (
                    self.config.clone(),
                    self.names.clone(),
                    self.out.clone(),
                    self.who.clone(),
                );
                self.tasks.spawn(async move {
                    let _slot = slot;
                    let f = match resolve(&config, &names, &name).await {
                        Ok(addrs) => Frame::Resolved { stream, addrs },
                        Err((errno, why)) => {
                            if errno == Errno::EACCES {
                                limited!("refused {who}: {what}: {why} (EACCES)");
                            }
                            error(stream, errno, why)
                        }
                    };
                    let _ = out.send(msg(f)).await;
                });
            }
            Frame::Close { stream } => match self.streams.remove(&stream) {
                Some(Entry::Tcp { cmds, .. }) => {
                    let _ = cmds.send(Cmd::Close);
                }
                Some(Entry::Listener { task, .. } | Entry::Udp { task, .. }) => task.abort(),
                None => {}
            },
            Frame::Data { stream, data } => {
                if let Some(Entry::Tcp {
                    cmds, allowance, ..
                }) = self.streams.get(&stream)
                {
                    let left = allowance.fetch_sub(data.len() as i64, Ordering::Relaxed);
                    if left < data.len() as i64 {
                        return Err(format!(
                            "stream {stream:#x}: data beyond the credit granted"
                        ));
                    }
                    let _ = cmds.send(Cmd::Data(data));
                }
            }
            Frame::Credit { stream, bytes } => {
                if let Some(Entry::Tcp { credit, .. }) = self.streams.get(&stream) {
                    credit.add(bytes);
                }
            }
            Frame::Shutdown { stream } => {
                if let Some(Entry::Tcp { cmds, .. }) = self.streams.get(&stream) {
                    let _ = cmds.send(Cmd::Shutdown);
                }
            }
            Frame::Datagram { stream, addr, data } => {
                let Some(Entry::Udp { sock, peers, .. }) = self.streams.get(&stream) else {
                    return Ok(());
                };
                let (sock, peers) = (sock.clone(), peers.clone());
                let what = format!("UDP datagram to {addr}");
                let policy = &self.config.policy;
                if let Err(why) =
                    policy.check(addr.ip(), Some(addr.port()), &self.names_of(addr.ip()))
                {
                    self.refusals += 1;
                    limited!("refused {}: {what}: {why} (EACCES)", self.who);
                    let f = Frame::DatagramError {
                        stream,
                        errno: Errno::EACCES as u16,
                        message: why,
                    };
                    let _ = self.out.send(msg(f)).await;
                    return Ok(());
                }
                {
                    let mut p = peers.lock().unwrap();
                    if p.len() < MAX_UDP_PEERS {
                        p.insert(addr);
                    }
                }
                // tokio's try_send_to reports WouldBlock on a fresh socket until the reactor
                // has seen it writable, which would drop a new socket's first datagrams:
                // wait briefly for writability instead (a full send buffer still drops).
                let sent = match sock.try_send_to(&data, addr) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => tokio::time::timeout(
                        std::time::Duration::from_millis(100),
                        sock.send_to(&data, addr),
                    )
                    .await
                    .unwrap_or(Ok(0)),
                    r => r,
                };
                match sent {
                    Ok(_) => {}
                    Err(e) => {
                        let f = Frame::DatagramError {
                            stream,
                            errno: errno_of(&e),
                            message: e.to_string(),
                        };
                        let _ = self.out.send(msg(f)).await;
                    }
                }
            }
            other => {
                return Err(format!(
                    "a proxy-to-client frame from the client: {other:?}"
                ));
            }
        }
        Ok(())
    }

    fn port_allowed(&self, port: u16) -> bool {
        port == 0 || self.config.listen_ports.iter().any(|p| p.contains(port))
    }

    async fn event(&mut self, e: Event) {
        match e {
            Event::Gone(stream) => {
                self.streams.remove(&stream);
            }
            Event::Accepted {
                listener,
                tcp,
                peer,
            } => {
                let Some(&Entry::Listener { credit, .. }) = self.streams.get(&listener) else {
                    return;
                };
                if self.full() {
                    self.refusals += 1;
                    limited!(
                        "refused {}: connection from {peer} to a guest listener: \
                         too many streams (--max-streams {})",
                        self.who,
                        self.config.max_streams
                    );
                    return;
                }
                let stream = self.next_proxy_stream;
                self.next_proxy_stream = (stream + 1) | PROXY_STREAM_BIT;
                let conn = self.new_conn(stream, credit);
                let window = self.config.window;
                let events = self.events.clone();
                self.tasks.spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let local = tcp.local_addr().unwrap_or(unspecified(&tcp));
                    let f = Frame::Accepted {
                        stream: listener,
                        new_stream: stream,
                        credit: window,
                        local,
                        peer,
                    };
                    if conn.out.send(msg(f)).await.is_ok() {
                        conn.relay(tcp).await;
                    }
                    let _ = events.send(Event::Gone(stream));
                });
            }
        }
    }
}

fn unspecified(_: &TcpStream) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
}

/// Resolves `name`, keeping the addresses the policy lets the guest reach and remembering
/// them for name rules.
async fn resolve(
    config: &Config,
    names: &Names,
    name: &str,
) -> Result<Vec<IpAddr>, (Errno, String)> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let lookup = tokio::net::lookup_host((name.as_str(), 0));
    let addrs: Vec<IpAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(a)) => a.map(|a| a.ip()).collect(),
        Ok(Err(e)) => return Err((Errno::ENOENT, format!("{name}: {e}"))),
        Err(_) => return Err((Errno::ETIMEDOUT, format!("{name}: lookup timed out"))),
    };
    let mut kept = Vec::new();
    let mut refused = None;
    let owned = [name.clone()];
    for ip in addrs {
        match config.policy.check(ip, None, &owned) {
            Ok(()) if !kept.contains(&ip) => kept.push(ip),
            Ok(()) => {}
            Err(why) => refused = Some(why),
        }
    }
    if kept.is_empty() {
        return Err(match refused {
            Some(why) => (Errno::EACCES, format!("{name}: {why}")),
            None => (Errno::ENOENT, format!("{name}: no addresses")),
        });
    }
    let mut map = names.lock().unwrap();
    for ip in &kept {
        if map.len() >= MAX_NAMES && !map.contains_key(ip) {
            break;
        }
        let list = map.entry(*ip).or_default();
        if !list.contains(&name) {
            list.push(name.clone());
        }
    }
    Ok(kept)
}

/// Resolves (for a connect by name), checks and connects, trying each address in turn.
async fn connect(
    config: &Config,
    names: &Names,
    who: &str,
    to: &Addr,
) -> Result<TcpStream, (Errno, String)> {
    let targets: Vec<SocketAddr> = match to {
        Addr::Ip(a) => vec![*a],
        Addr::Name(name, port) => {
            if !config.policy.may_resolve(name) {
                let why = format!("connect to {to}: no --allow rule names this host");
                limited!("refused {who}: {why} (EACCES)");
                return Err((Errno::EACCES, why));
            }
            let ips = resolve(config, names, name).await?;
            let names_for =
                |ip: IpAddr| names.lock().unwrap().get(&ip).cloned().unwrap_or_default();
            let ok: Vec<_> = ips
                .into_iter()
                .filter(|ip| {
                    config
                        .policy
                        .check(*ip, Some(*port), &names_for(*ip))
                        .is_ok()
                })
                .map(|ip| SocketAddr::new(ip, *port))
                .collect();
            if ok.is_empty() {
                let why = format!("connect to {to}: the port is not allowed for this host");
                limited!("refused {who}: {why} (EACCES)");
                return Err((Errno::EACCES, why));
            }
            ok
        }
    };
    let mut last = (Errno::EHOSTUNREACH, format!("connect to {to}: no address"));
    for a in targets {
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(a)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Ok(Err(e)) => {
                let errno = Errno::from_raw(errno_of(&e)).unwrap_or(Errno::EIO);
                last = (errno, format!("connect to {a}: {e}"));
            }
            Err(_) => last = (Errno::ETIMEDOUT, format!("connect to {a}: timed out")),
        }
    }
    Err(last)
}
