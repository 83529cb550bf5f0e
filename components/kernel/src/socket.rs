//! Socket objects: what a socket descriptor's open file description holds.
//!
//! - IP sockets (AF_INET, AF_INET6) are handles of the `friscy_net::Net` backend
//!   (wasi:sockets, or a WebSocket relay in browsers); the kernel adds blocking, signals,
//!   the embedded DNS responder (dns.rs) and the port map (`friscy run -p`).
//! - AF_UNIX sockets live entirely in the kernel: connected pairs (socketpair, or connect
//!   to a listener bound to a path or an abstract name), stream, datagram and seqpacket,
//!   with SCM_RIGHTS descriptor passing and SO_PEERCRED.
//!
//! Everything is non-blocking at this level: EAGAIN means "would block" and the syscall
//! layer (syscalls/socket.rs) parks the thread unless the descriptor is non-blocking.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use friscy_abi::Errno;
use friscy_vfs::Ino;

use crate::fd::FileRef;
use crate::process::Pid;

pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// Bytes an AF_UNIX socket may hold unread before writers block (about Linux's default
/// net.core.wmem_default, which bounds a unix stream in flight).
pub const UNIX_RCVBUF: usize = 212_992;
/// Datagrams an AF_UNIX datagram socket may queue (net.unix.max_dgram_qlen).
pub const UNIX_MAX_DGRAMS: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    Stream,
    Dgram,
    Seqpacket,
    /// SOCK_RAW: netlink sockets only (IP ones need CAP_NET_RAW).
    Raw,
}

impl SockType {
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW.
    pub fn linux(self) -> u32 {
        match self {
            SockType::Stream => 1,
            SockType::Dgram => 2,
            SockType::Raw => 3,
            SockType::Seqpacket => 5,
        }
    }
    /// Whether messages keep their boundaries.
    pub fn messages(self) -> bool {
        self != SockType::Stream
    }
}

/// An AF_UNIX address: a filesystem path (the node bind made) or an abstract name (a
/// leading NUL byte, Linux's own namespace).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    /// The path as given to bind (getsockname returns it) and the socket node it made.
    Path(Vec<u8>, Ino),
    Abstract(Vec<u8>),
}

/// What names a listener or bound datagram socket in the kernel's registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixKey {
    Ino(Ino),
    Abstract(Vec<u8>),
}

impl UnixAddr {
    pub fn key(&self) -> UnixKey {
        match self {
            UnixAddr::Path(_, ino) => UnixKey::Ino(*ino),
            UnixAddr::Abstract(n) => UnixKey::Abstract(n.clone()),
        }
    }
}

/// SO_PEERCRED / SCM_CREDENTIALS: who sent or connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    pub pid: Pid,
    pub uid: u32,
    pub gid: u32,
}

/// One write or sendmsg: its bytes, the descriptors passed with it (SCM_RIGHTS), who sent
/// it, and (datagrams) from which address.
#[derive(Debug)]
pub struct Msg {
    pub data: Vec<u8>,
    /// Bytes of `data` a stream reader already took.
    pub pos: usize,
    pub fds: Vec<FileRef>,
    pub cred: Cred,
    pub from: Option<UnixAddr>,
}

#[derive(Debug, Default)]
pub struct Unix {
    pub name: Option<UnixAddr>,
    /// The connected peer (stream and seqpacket after connect/accept/socketpair; datagram
    /// after connect). Weak: a peer that is closed is simply gone.
    pub peer: Option<Weak<RefCell<Socket>>>,
    pub peer_name: Option<UnixAddr>,
    pub peer_cred: Option<Cred>,
    /// Stream/seqpacket: it was connected once (so a vanished peer means EOF/EPIPE rather
    /// than ENOTCONN).
    pub connected: bool,
    /// Listening: connections made but not yet accepted.
    pub backlog: Option<VecDeque<Rc<RefCell<Socket>>>>,
    pub max_backlog: usize,
    pub rx: VecDeque<Msg>,
    pub rx_bytes: usize,
    /// Messages queued here so far: each wakes the reader, which an edge-triggered epoll
    /// reports again (epoll.rs).
    pub arrivals: u64,
    /// shutdown(SHUT_RD) here, or SHUT_WR by the peer: reads see end of file.
    pub rd_shut: bool,
    /// shutdown(SHUT_WR) here: writes fail with EPIPE.
    pub wr_shut: bool,
    pub cred: Cred,
    /// The pending error (sk_err, SO_ERROR): ECONNRESET once the peer was closed with
    /// bytes it had not read, or never accepted (its listener closed).
    pub error: Option<Errno>,
    /// The server's end of a connection still in its listener's backlog.
    pub embryo: bool,
}

/// An IP socket: a handle of the net backend. Dropping the last reference queues the
/// handle for closing (the kernel closes it after the syscall).
#[derive(Debug)]
pub struct Inet {
    pub handle: u32,
    /// Where the handle goes when the last descriptor does, with `abort`.
    pub graveyard: Rc<RefCell<Vec<(u32, bool)>>>,
    /// SO_LINGER on with a time of 0: the last close resets the connection (an abortive
    /// close, RST instead of FIN) and drops what is unsent.
    pub abort: bool,
    /// A connect(2) is under way (EINPROGRESS was returned or the caller is parked).
    pub connecting: bool,
    /// Datagram sockets: answers of the embedded DNS responder waiting to be read, and
    /// whether the socket is connected to the responder's address.
    pub dns_replies: VecDeque<Vec<u8>>,
    pub dns_connected: bool,
    /// The local port the guest asked for, when the port map bound another on the host
    /// (getsockname reports the guest's).
    pub guest_port: Option<(u16, u16)>,
}

impl Drop for Socket {
    /// unix_release_sock: a stream or seqpacket socket that goes with bytes unread, or
    /// before it was accepted, resets its peer (ECONNRESET, then end of file).
    fn drop(&mut self) {
        let Imp::Unix(u) = &self.imp else {
            return;
        };
        if self.ty == SockType::Dgram || (u.rx.is_empty() && !u.embryo) {
            return;
        }
        if let Some(peer) = u.peer.as_ref().and_then(|p| p.upgrade())
            && let Ok(mut peer) = peer.try_borrow_mut()
            && let Some(pu) = peer.unix_mut()
        {
            pu.error = Some(Errno::ECONNRESET);
        }
    }
}

impl Drop for Inet {
    fn drop(&mut self) {
        self.graveyard.borrow_mut().push((self.handle, self.abort));
    }
}

#[derive(Debug)]
pub enum Imp {
    Inet(Inet),
    Unix(Unix),
    /// AF_NETLINK, NETLINK_ROUTE: answered by the kernel itself (netlink.rs).
    Netlink(crate::netlink::Netlink),
}

#[derive(Debug)]
pub struct Socket {
    pub domain: u16,
    pub ty: SockType,
    /// The protocol socket(2) was given (or the family's default), for SO_PROTOCOL.
    pub protocol: u32,
    pub listening: bool,
    /// SO_RCVTIMEO / SO_SNDTIMEO in nanoseconds (0: wait forever).
    pub rcvtimeo: u64,
    pub sndtimeo: u64,
    /// Options Linux accepts whose effect friscy does not model (SO_BROADCAST, SO_LINGER,
    /// IP_TOS...): stored so getsockopt returns what was set.
    pub stored: Vec<((i32, i32), Vec<u8>)>,
    pub imp: Imp,
}

impl Socket {
    pub fn new(domain: u16, ty: SockType, protocol: u32, imp: Imp) -> Socket {
        Socket {
            domain,
            ty,
            protocol,
            listening: false,
            rcvtimeo: 0,
            sndtimeo: 0,
            stored: Vec::new(),
            imp,
        }
    }

    pub fn unix(&self) -> Option<&Unix> {
        match &self.imp {
            Imp::Unix(u) => Some(u),
            Imp::Inet(_) | Imp::Netlink(_) => None,
        }
    }

    pub fn unix_mut(&mut self) -> Option<&mut Unix> {
        match &mut self.imp {
            Imp::Unix(u) => Some(u),
            Imp::Inet(_) | Imp::Netlink(_) => None,
        }
    }
}

pub type SockRef = Rc<RefCell<Socket>>;

/// The socket's inode number in sockfs (fstat's st_ino, /proc/self/fd's `socket:[N]`):
/// its object's address, which is unique while it lives.
pub fn sockfs_ino(s: &SockRef) -> u64 {
    (Rc::as_ptr(s) as usize as u64 >> 3) & 0xffff_ffff
}

/// A new AF_UNIX socket of the given type.
pub fn new_unix(ty: SockType, cred: Cred) -> SockRef {
    Rc::new(RefCell::new(Socket::new(
        AF_UNIX,
        ty,
        0,
        Imp::Unix(Unix {
            cred,
            ..Unix::default()
        }),
    )))
}

/// Connect two fresh AF_UNIX sockets to each other (socketpair, and accept's new end).
pub fn pair(a: &SockRef, b: &SockRef) {
    let (ca, cb) = (
        a.borrow().unix().unwrap().cred,
        b.borrow().unix().unwrap().cred,
    );
    let (na, nb) = (
        a.borrow().unix().unwrap().name.clone(),
        b.borrow().unix().unwrap().name.clone(),
    );
    {
        let mut s = a.borrow_mut();
        let u = s.unix_mut().unwrap();
        u.peer = Some(Rc::downgrade(b));
        u.peer_cred = Some(cb);
        u.peer_name = nb;
        u.connected = true;
    }
    let mut s = b.borrow_mut();
    let u = s.unix_mut().unwrap();
    u.peer = Some(Rc::downgrade(a));
    u.peer_cred = Some(ca);
    u.peer_name = na;
    u.connected = true;
}

/// The peer of a connected AF_UNIX socket, if it still exists.
pub fn peer_of(s: &Socket) -> Option<SockRef> {
    s.unix()?.peer.as_ref()?.upgrade()
}

/// Queue a message on `to`'s receive side. EAGAIN when it is full (a stream takes what
/// fits; a datagram all or nothing); returns the bytes queued.
pub fn deliver(to: &SockRef, mut msg: Msg, stream: bool) -> Result<usize, Errno> {
    let mut s = to.borrow_mut();
    let u = s.unix_mut().ok_or(Errno::ECONNREFUSED)?;
    if u.rd_shut && stream {
        return Err(Errno::EPIPE);
    }
    let room = UNIX_RCVBUF.saturating_sub(u.rx_bytes);
    let len = msg.data.len();
    if stream {
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        msg.data.truncate(room);
    } else {
        if len > UNIX_RCVBUF {
            return Err(Errno::EMSGSIZE);
        }
        // An empty queue takes any datagram that fits the buffer at all.
        if (len > room && !u.rx.is_empty()) || u.rx.len() >= UNIX_MAX_DGRAMS {
            return Err(Errno::EAGAIN);
        }
    }
    let n = msg.data.len();
    u.rx_bytes += n;
    u.arrivals += 1;
    u.rx.push_back(msg);
    Ok(n)
}

/// What a receive took off a socket.
#[derive(Debug, Default)]
pub struct Received {
    pub data: Vec<u8>,
    pub fds: Vec<FileRef>,
    pub cred: Option<Cred>,
    /// The sender's address: AF_UNIX datagrams, and IP datagrams.
    pub unix_from: Option<UnixAddr>,
    pub inet_from: Option<std::net::SocketAddr>,
    /// From the kernel over netlink (sockaddr_nl with port 0).
    pub netlink_from: bool,
    /// The message was longer than the buffer (datagram/seqpacket: the rest is dropped,
    /// MSG_TRUNC).
    pub full_len: usize,
    /// What an IP datagram carried besides its bytes (recvmsg's IP control messages).
    pub meta: Option<friscy_net::DgramMeta>,
    /// From the error queue (MSG_ERRQUEUE): a datagram of ours that bounced, sent to
    /// `inet_from`.
    pub bounced: bool,
}

/// Take up to `max` bytes. Streams read across writes but stop at a write that carries
/// descriptors (as Linux does, so descriptors arrive with the bytes sent with them);
/// datagram and seqpacket sockets return one message, cut to `max`.
pub fn receive(u: &mut Unix, max: usize, peek: bool, messages: bool) -> Received {
    let mut out = Received::default();
    if messages {
        let Some(m) = (if peek { None } else { u.rx.pop_front() }) else {
            if let Some(m) = u.rx.front() {
                out.data = m.data[..max.min(m.data.len())].to_vec();
                out.full_len = m.data.len();
                out.cred = Some(m.cred);
                out.unix_from = m.from.clone();
                out.fds = m.fds.clone();
            }
            return out;
        };
        u.rx_bytes -= m.data.len();
        out.full_len = m.data.len();
        out.data = m.data;
        out.data.truncate(max);
        out.fds = m.fds;
        out.cred = Some(m.cred);
        out.unix_from = m.from;
        return out;
    }
    let mut i = 0;
    while out.data.len() < max && i < u.rx.len() {
        let m = &mut u.rx[i];
        if !m.fds.is_empty() && !out.data.is_empty() {
            break;
        }
        let take = (max - out.data.len()).min(m.data.len() - m.pos);
        out.data.extend_from_slice(&m.data[m.pos..m.pos + take]);
        out.cred.get_or_insert(m.cred);
        let had_fds = !m.fds.is_empty();
        if !peek {
            out.fds.append(&mut m.fds);
            m.pos += take;
            u.rx_bytes -= take;
            if m.pos == m.data.len() {
                u.rx.pop_front();
            } else {
                break;
            }
        } else {
            if had_fds {
                out.fds = m.fds.clone();
            }
            i += 1;
        }
        if had_fds {
            break;
        }
    }
    out.full_len = out.data.len();
    out
}
