//! friscy's IP sockets. The kernel's socket syscalls (AF_INET, AF_INET6) reach the outside
//! world through the [`Net`] trait, shaped after socket(2) so each syscall maps to one
//! call. AF_UNIX sockets never come here: the kernel implements them itself.
//!
//! Every call is non-blocking: one that would block returns `EAGAIN` (`EINPROGRESS` for
//! connect) and the kernel parks the guest task until [`Net::readiness`] changes, waiting
//! on the pollable [`Net::subscribe`] hands out.
//!
//! Implementations: `wasi` over `wasi:sockets` (the net component and the fused kernel),
//! `relay` over a WebSocket to friscy-proxy (browsers), the kernel's WIT import of
//! `friscy:net/sockets` (composed build), and [`loopback::Loopback`]: no network, only
//! the guest's own `lo` (what the kernel switches to when the others are not allowed).

pub mod loopback;
pub mod relay;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

pub use friscy_abi::Errno;

#[cfg(feature = "component")]
mod bindings;
#[cfg(any(feature = "component", feature = "wasi"))]
mod generated;
#[cfg(any(feature = "component", feature = "wasi"))]
pub mod wasi;

/// A socket handle owned by the kernel.
pub type Socket = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Inet,
    Inet6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Stream,
    Datagram,
}

/// poll(2)'s view of a socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    pub readable: bool,
    pub writable: bool,
    pub hangup: bool,
    pub error: bool,
}

/// Integer-valued options (SOL_SOCKET and IPPROTO_TCP/IPPROTO_IP ones) a backend honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockOpt {
    ReuseAddress,
    KeepAlive,
    NoDelay,
    ReceiveBufferSize,
    SendBufferSize,
    HopLimit,
    /// IPV6_V6ONLY (0 by default: IPv6 sockets are dual-stack).
    V6Only,
}

/// An IP socket address; `std::net::SocketAddr` already is exactly that.
pub type SockAddr = SocketAddr;

/// What sendmsg(2)'s IP control messages choose for one datagram: the source address
/// (IP_PKTINFO's ipi_spec_dst, IPV6_PKTINFO's address), the TTL or hop limit (IP_TTL,
/// IPV6_HOPLIMIT) and the TOS or traffic class (IP_TOS, IPV6_TCLASS, or the socket's
/// IP_TOS/IPV6_TCLASS option, which the kernel keeps). `None`: the socket's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendMeta {
    pub src: Option<IpAddr>,
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
}

/// What a received datagram carried besides its bytes and sender, for recvmsg(2)'s
/// control messages (IP_PKTINFO, IP_TTL, IP_TOS, IP_ORIGDSTADDR and the IPv6 ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DgramMeta {
    /// The address it was sent to; `None` where the backend cannot tell (wasi:sockets
    /// reports only the sender).
    pub dst: Option<SockAddr>,
    pub ttl: u8,
    pub tos: u8,
}

impl Default for DgramMeta {
    /// What an unknown datagram is taken to carry: Linux's default TTL (ip_default_ttl,
    /// and IPv6's hop limit) and TOS 0.
    fn default() -> DgramMeta {
        DgramMeta {
            dst: None,
            ttl: 64,
            tos: 0,
        }
    }
}

/// A datagram that came back undeliverable (an ICMP port unreachable), from a socket's
/// error queue (IP_RECVERR, MSG_ERRQUEUE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounced {
    /// The payload, cut to what was asked for.
    pub data: Vec<u8>,
    pub full_len: usize,
    /// Where it was sent.
    pub dst: SockAddr,
}

pub trait Net {
    /// socket(2).
    fn create(&mut self, family: Family, kind: Kind) -> Result<Socket, Errno>;
    /// close(2) of the last descriptor.
    fn close(&mut self, s: Socket);
    /// close(2) of the last descriptor with SO_LINGER on and a time of 0: the connection
    /// is reset (RST, unsent bytes dropped), so the peer's next read or write fails with
    /// ECONNRESET. Backends that cannot send a reset (wasi:sockets has no linger option)
    /// close normally.
    fn abort(&mut self, s: Socket) {
        self.close(s);
    }
    fn bind(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno>;
    /// Starts a connection: `EINPROGRESS` until it finishes, then the socket is writable and
    /// [`Net::take_error`] gives its result (as SO_ERROR does). Datagram sockets connect at once.
    fn connect(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno>;
    fn listen(&mut self, s: Socket, backlog: u32) -> Result<(), Errno>;
    /// A connection from the backlog, or `EAGAIN`.
    fn accept(&mut self, s: Socket) -> Result<(Socket, SockAddr), Errno>;
    /// send(2)/sendto(2): bytes accepted (a whole datagram or none; a stream takes what
    /// fits its send queue, `EAGAIN` when it is full).
    fn send(&mut self, s: Socket, data: &[u8], to: Option<SockAddr>) -> Result<usize, Errno>;
    /// recv(2)/recvfrom(2): an empty vector at end of stream; a datagram longer than `max`
    /// is cut to `max` (the rest is lost, as with MSG_TRUNC unset).
    fn recv(
        &mut self,
        s: Socket,
        max: usize,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<SockAddr>), Errno>;
    /// sendmsg(2) of a datagram with IP control messages. Backends that cannot choose
    /// the source, TTL or TOS of what they send (wasi:sockets) keep the default: `send`,
    /// the host's choices (the kernel's trace says so).
    fn send_meta(
        &mut self,
        s: Socket,
        data: &[u8],
        to: Option<SockAddr>,
        meta: SendMeta,
    ) -> Result<usize, Errno> {
        let _ = meta;
        self.send(s, data, to)
    }
    /// recvmsg(2): `recv` and what the datagram carried. The default knows only the
    /// sender (`DgramMeta::default()`).
    fn recv_meta(
        &mut self,
        s: Socket,
        max: usize,
        peek: bool,
    ) -> Result<(Vec<u8>, Option<SockAddr>, DgramMeta), Errno> {
        let (data, from) = self.recv(s, max, peek)?;
        Ok((data, from, DgramMeta::default()))
    }
    /// IP_RECVERR/IPV6_RECVERR: whether datagrams that bounce are queued for
    /// [`Net::recv_error`] (and set the socket's error even when it is not connected).
    /// Backends that never hear of a bounce (wasi:sockets has no ICMP) keep the default.
    fn set_recverr(&mut self, s: Socket, on: bool) {
        let _ = (s, on);
    }
    /// recvmsg(2) with MSG_ERRQUEUE: the oldest bounced datagram, or `EAGAIN` (the error
    /// queue never blocks).
    fn recv_error(&mut self, s: Socket, max: usize) -> Result<Bounced, Errno> {
        let _ = (s, max);
        Err(Errno::EAGAIN)
    }
    /// Whether a stream socket's reading side is shut (the peer's FIN came, or SHUT_RD):
    /// poll's POLLRDHUP. The default peeks a byte: end of stream once what was sent has
    /// been read (Linux says so as soon as the FIN arrives, bytes still queued or not).
    fn read_shut(&mut self, s: Socket) -> bool {
        matches!(self.recv(s, 1, true), Ok((d, _)) if d.is_empty())
    }
    /// shutdown(2): 0 = SHUT_RD, 1 = SHUT_WR, 2 = SHUT_RDWR.
    fn shutdown(&mut self, s: Socket, how: u8) -> Result<(), Errno>;
    fn local_address(&mut self, s: Socket) -> Result<SockAddr, Errno>;
    fn remote_address(&mut self, s: Socket) -> Result<SockAddr, Errno>;
    fn set_option(&mut self, s: Socket, opt: SockOpt, value: u64) -> Result<(), Errno>;
    fn get_option(&mut self, s: Socket, opt: SockOpt) -> Result<u64, Errno>;
    /// The pending error (SO_ERROR), cleared by reading it.
    fn take_error(&mut self, s: Socket) -> Option<Errno>;
    fn readiness(&mut self, s: Socket) -> Readiness;
    /// `wasi:io/poll` pollable handles (owned by the caller) that become ready when the
    /// socket may have become readable (`read`) or writable (`write`). Empty where the
    /// backend has none: the kernel then polls `readiness` on a short timer.
    fn subscribe(&mut self, s: Socket, read: bool, write: bool) -> Vec<u32>;
    /// Hand bytes that `send` queued on toward the network as far as they go now (also
    /// for sockets already closed, whose bytes Linux still sends). Returns whether some
    /// remain queued; the kernel calls it as it schedules, and waits on
    /// [`Net::subscribe_queued`] while they do. Backends that queue nothing return false.
    fn pump(&mut self) -> bool {
        false
    }
    /// Pollable handles (owned by the caller) that become ready when queued bytes can
    /// move on; empty when nothing is queued.
    fn subscribe_queued(&mut self) -> Vec<u32> {
        Vec::new()
    }
    /// A count that moves whenever the backend took in news that may have changed some
    /// socket's readiness outside any wait on its pollables (the relay takes in every
    /// message that has arrived at the start of each call, whichever socket the call is
    /// for). The kernel compares it before sleeping: a change means a waiter may be able
    /// to go on, and its pollable will not fire for news already taken in. Backends whose
    /// pollables stay ready until the news is used keep the default.
    fn activity(&self) -> u64 {
        0
    }
    /// Whether every socket lives inside the backend (the guest's loopback): readiness
    /// then changes only through calls on it, so the kernel need not wait on the host for
    /// it and treats parked socket calls as it treats AF_UNIX ones.
    fn local(&self) -> bool {
        false
    }
    /// The addresses of listening sockets, when the backend is [`Net::local`]: what the
    /// kernel names when a run ends with every process waiting (no one outside can
    /// connect to them).
    fn local_listeners(&self) -> Vec<SockAddr> {
        Vec::new()
    }
    /// Name resolution (what the kernel's DNS responder answers): the addresses of `name`.
    fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno>;
    /// Whether the guest may reach the network at all: under wasmtime without
    /// `-S inherit-network` every bind and connect is refused. The default asks by binding
    /// a throwaway UDP socket.
    fn enabled(&mut self) -> bool {
        let Ok(s) = self.create(Family::Inet, Kind::Datagram) else {
            return false;
        };
        let ok = self.bind(s, unspecified(Family::Inet)).is_ok();
        self.close(s);
        ok
    }
}

/// `addr_in` and `addr_out`: conversions between `SocketAddr` and the `address` variant
/// of `friscy:net/sockets`, for a module `$w` of generated bindings. The net component, the
/// relay component and the composed kernel each generate their own (distinct) Rust types
/// for the one WIT interface; this is their one definition.
#[macro_export]
macro_rules! address_conversions {
    ($w:ident) => {
        fn addr_in(a: $w::Address) -> ::std::net::SocketAddr {
            use ::std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
            match a {
                $w::Address::Ipv4(a) => {
                    let (b0, b1, b2, b3) = a.addr;
                    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(b0, b1, b2, b3), a.port))
                }
                $w::Address::Ipv6(a) => {
                    let (s0, s1, s2, s3, s4, s5, s6, s7) = a.addr;
                    SocketAddr::V6(SocketAddrV6::new(
                        Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                        a.port,
                        a.flow_info,
                        a.scope_id,
                    ))
                }
            }
        }

        fn addr_out(a: ::std::net::SocketAddr) -> $w::Address {
            match a {
                ::std::net::SocketAddr::V4(a) => {
                    let [b0, b1, b2, b3] = a.ip().octets();
                    $w::Address::Ipv4($w::Ipv4Address {
                        addr: (b0, b1, b2, b3),
                        port: a.port(),
                    })
                }
                ::std::net::SocketAddr::V6(a) => {
                    let s = a.ip().segments();
                    $w::Address::Ipv6($w::Ipv6Address {
                        addr: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
                        port: a.port(),
                        flow_info: a.flowinfo(),
                        scope_id: a.scope_id(),
                    })
                }
            }
        }
    };
}

/// The unspecified address of a family (what an unbound socket reports).
pub fn unspecified(family: Family) -> SockAddr {
    match family {
        Family::Inet => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        Family::Inet6 => SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0)),
    }
}

/// The family an address belongs to.
pub fn family_of(addr: &SockAddr) -> Family {
    match addr {
        SocketAddr::V4(_) => Family::Inet,
        SocketAddr::V6(_) => Family::Inet6,
    }
}
