//! The relay protocol's frames (docs/PROXY-PROTOCOL.md): one frame per binary WebSocket
//! message, `[type: u8][stream: u32 big-endian][body]`. Both ends (`RelayNet` in the guest
//! and `friscy-proxy`) encode and decode through this one module, so the protocol is
//! written down once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Streams the proxy opens (accepted connections) have this bit set; the client's never do,
/// so the two sides can allocate ids without talking to each other.
pub const PROXY_STREAM_BIT: u32 = 1 << 31;

/// The longest host name a frame may carry (RFC 1035's 253, rounded up to a byte's range).
pub const MAX_NAME: usize = 255;

/// A destination: an IP socket address, or a host name and port (a `connect` by name, for
/// clients that never resolve themselves, such as browser JavaScript).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Ip(SocketAddr),
    Name(String, u16),
}

impl Addr {
    pub fn port(&self) -> u16 {
        match self {
            Addr::Ip(a) => a.port(),
            Addr::Name(_, p) => *p,
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Ip(a) => write!(f, "{a}"),
            Addr::Name(n, p) => write!(f, "{n}:{p}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    // Client to proxy.
    /// Open a TCP connection; `credit` is how many bytes the proxy may send before the
    /// client grants more.
    Connect {
        stream: u32,
        credit: u32,
        to: Addr,
    },
    /// Listen for TCP connections on the proxy's host; every accepted stream starts with
    /// `credit`.
    Listen {
        stream: u32,
        credit: u32,
        backlog: u32,
        local: SocketAddr,
    },
    /// Open a UDP socket bound to `local` (port 0: any).
    UdpOpen {
        stream: u32,
        local: SocketAddr,
    },
    /// Resolve a host name; `stream` is a request id from the client's id space.
    Resolve {
        stream: u32,
        name: String,
    },
    /// The stream's id is released: the proxy drops the connection (after sending what it
    /// already accepted, as close(2) does) and ignores later frames for it.
    Close {
        stream: u32,
    },

    // Proxy to client.
    Connected {
        stream: u32,
        credit: u32,
        local: SocketAddr,
        remote: SocketAddr,
    },
    Listening {
        stream: u32,
        local: SocketAddr,
    },
    Accepted {
        stream: u32,
        new_stream: u32,
        credit: u32,
        local: SocketAddr,
        peer: SocketAddr,
    },
    UdpOpened {
        stream: u32,
        local: SocketAddr,
    },
    Resolved {
        stream: u32,
        addrs: Vec<IpAddr>,
    },
    /// The open/connect/listen/resolve failed, or an established stream died: a Linux
    /// errno and a human-readable reason. The proxy has forgotten the stream.
    Error {
        stream: u32,
        errno: u16,
        message: String,
    },
    /// One datagram of a UDP stream was not sent (refused by policy, unreachable); the
    /// stream stays open, and the guest sees the errno on its next call, as Linux reports
    /// ICMP errors.
    DatagramError {
        stream: u32,
        errno: u16,
        message: String,
    },

    // Either direction.
    Data {
        stream: u32,
        data: Vec<u8>,
    },
    /// The receiver consumed `bytes` more: the sender may send that much more.
    Credit {
        stream: u32,
        bytes: u32,
    },
    /// The sender will send no more data on the stream (TCP FIN; SHUT_WR).
    Shutdown {
        stream: u32,
    },
    /// A UDP datagram: to `addr` from the client, from `addr` from the proxy.
    Datagram {
        stream: u32,
        addr: SocketAddr,
        data: Vec<u8>,
    },
}

mod tag {
    pub const CONNECT: u8 = 0x01;
    pub const LISTEN: u8 = 0x02;
    pub const UDP_OPEN: u8 = 0x03;
    pub const RESOLVE: u8 = 0x04;
    pub const CLOSE: u8 = 0x05;
    pub const CONNECTED: u8 = 0x81;
    pub const LISTENING: u8 = 0x82;
    pub const ACCEPTED: u8 = 0x83;
    pub const UDP_OPENED: u8 = 0x84;
    pub const RESOLVED: u8 = 0x85;
    pub const ERROR: u8 = 0x86;
    pub const DATAGRAM_ERROR: u8 = 0x87;
    pub const DATA: u8 = 0x10;
    pub const CREDIT: u8 = 0x11;
    pub const SHUTDOWN: u8 = 0x12;
    pub const DATAGRAM: u8 = 0x13;
}

const ADDR_NAME: u8 = 0;
const ADDR_V4: u8 = 4;
const ADDR_V6: u8 = 6;

/// Why a message is not a frame. The receiver treats it as a protocol error and closes
/// the connection: a peer that sends garbage cannot be trusted to mean anything later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed relay frame: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

impl Frame {
    /// The stream (or request) id every frame carries.
    pub fn stream(&self) -> u32 {
        use Frame::*;
        match self {
            Connect { stream, .. }
            | Listen { stream, .. }
            | UdpOpen { stream, .. }
            | Resolve { stream, .. }
            | Close { stream }
            | Connected { stream, .. }
            | Listening { stream, .. }
            | Accepted { stream, .. }
            | UdpOpened { stream, .. }
            | Resolved { stream, .. }
            | Error { stream, .. }
            | DatagramError { stream, .. }
            | Data { stream, .. }
            | Credit { stream, .. }
            | Shutdown { stream }
            | Datagram { stream, .. } => *stream,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(16));
        match self {
            Frame::Connect { stream, credit, to } => {
                w.head(tag::CONNECT, *stream);
                w.u32(*credit);
                w.addr(to);
            }
            Frame::Listen {
                stream,
                credit,
                backlog,
                local,
            } => {
                w.head(tag::LISTEN, *stream);
                w.u32(*credit);
                w.u32(*backlog);
                w.sock(local);
            }
            Frame::UdpOpen { stream, local } => {
                w.head(tag::UDP_OPEN, *stream);
                w.sock(local);
            }
            Frame::Resolve { stream, name } => {
                w.head(tag::RESOLVE, *stream);
                w.0.extend_from_slice(name.as_bytes());
            }
            Frame::Close { stream } => w.head(tag::CLOSE, *stream),
            Frame::Connected {
                stream,
                credit,
                local,
                remote,
            } => {
                w.head(tag::CONNECTED, *stream);
                w.u32(*credit);
                w.sock(local);
                w.sock(remote);
            }
            Frame::Listening { stream, local } => {
                w.head(tag::LISTENING, *stream);
                w.sock(local);
            }
            Frame::Accepted {
                stream,
                new_stream,
                credit,
                local,
                peer,
            } => {
                w.head(tag::ACCEPTED, *stream);
                w.u32(*new_stream);
                w.u32(*credit);
                w.sock(local);
                w.sock(peer);
            }
            Frame::UdpOpened { stream, local } => {
                w.head(tag::UDP_OPENED, *stream);
                w.sock(local);
            }
            Frame::Resolved { stream, addrs } => {
                w.head(tag::RESOLVED, *stream);
                // A name with more than 255 addresses is not useful to a guest anyway.
                let addrs = &addrs[..addrs.len().min(255)];
                w.0.push(addrs.len() as u8);
                for ip in addrs {
                    w.sock(&SocketAddr::new(*ip, 0));
                }
            }
            Frame::Error {
                stream,
                errno,
                message,
            } => {
                w.head(tag::ERROR, *stream);
                w.0.extend_from_slice(&errno.to_be_bytes());
                w.0.extend_from_slice(message.as_bytes());
            }
            Frame::DatagramError {
                stream,
                errno,
                message,
            } => {
                w.head(tag::DATAGRAM_ERROR, *stream);
                w.0.extend_from_slice(&errno.to_be_bytes());
                w.0.extend_from_slice(message.as_bytes());
            }
            Frame::Data { stream, data } => {
                w.head(tag::DATA, *stream);
                w.0.extend_from_slice(data);
            }
            Frame::Credit { stream, bytes } => {
                w.head(tag::CREDIT, *stream);
                w.u32(*bytes);
            }
            Frame::Shutdown { stream } => w.head(tag::SHUTDOWN, *stream),
            Frame::Datagram { stream, addr, data } => {
                w.head(tag::DATAGRAM, *stream);
                w.sock(addr);
                w.0.extend_from_slice(data);
            }
        }
        w.0
    }

    pub fn decode(bytes: &[u8]) -> Result<Frame, DecodeError> {
        let mut r = Reader(bytes);
        let t = r.u8()?;
        let stream = r.u32()?;
        let frame = match t {
            tag::CONNECT => Frame::Connect {
                stream,
                credit: r.u32()?,
                to: r.addr()?,
            },
            tag::LISTEN => Frame::Listen {
                stream,
                credit: r.u32()?,
                backlog: r.u32()?,
                local: r.sock()?,
            },
            tag::UDP_OPEN => Frame::UdpOpen {
                stream,
                local: r.sock()?,
            },
            tag::RESOLVE => {
                let name = r.rest_str()?;
                if name.is_empty() || name.len() > MAX_NAME {
                    return Err(DecodeError("host name empty or longer than 255 bytes"));
                }
                Frame::Resolve { stream, name }
            }
            tag::CLOSE => Frame::Close { stream },
            tag::CONNECTED => Frame::Connected {
                stream,
                credit: r.u32()?,
                local: r.sock()?,
                remote: r.sock()?,
            },
            tag::LISTENING => Frame::Listening {
                stream,
                local: r.sock()?,
            },
            tag::ACCEPTED => Frame::Accepted {
                stream,
                new_stream: r.u32()?,
                credit: r.u32()?,
                local: r.sock()?,
                peer: r.sock()?,
            },
            tag::UDP_OPENED => Frame::UdpOpened {
                stream,
                local: r.sock()?,
            },
            tag::RESOLVED => {
                let n = r.u8()?;
                let addrs = (0..n)
                    .map(|_| r.sock().map(|a| a.ip()))
                    .collect::<Result<_, _>>()?;
                Frame::Resolved { stream, addrs }
            }
            tag::ERROR | tag::DATAGRAM_ERROR => {
                let errno = u16::from_be_bytes([r.u8()?, r.u8()?]);
                // The message is for people; a peer's bad UTF-8 should not lose the errno.
                let message = String::from_utf8_lossy(r.rest()).into_owned();
                if t == tag::ERROR {
                    Frame::Error {
                        stream,
                        errno,
                        message,
                    }
                } else {
                    Frame::DatagramError {
                        stream,
                        errno,
                        message,
                    }
                }
            }
            tag::DATA => Frame::Data {
                stream,
                data: r.rest().to_vec(),
            },
            tag::CREDIT => Frame::Credit {
                stream,
                bytes: r.u32()?,
            },
            tag::SHUTDOWN => Frame::Shutdown { stream },
            tag::DATAGRAM => {
                let addr = r.sock()?;
                Frame::Datagram {
                    stream,
                    addr,
                    data: r.rest().to_vec(),
                }
            }
            _ => return Err(DecodeError("unknown frame type")),
        };
        if !r.0.is_empty() {
            return Err(DecodeError("trailing bytes after the frame"));
        }
        Ok(frame)
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn head(&mut self, tag: u8, stream: u32) {
        self.0.push(tag);
        self.u32(stream);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn sock(&mut self, a: &SocketAddr) {
        match a.ip() {
            IpAddr::V4(ip) => {
                self.0.push(ADDR_V4);
                self.0.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.0.push(ADDR_V6);
                self.0.extend_from_slice(&ip.octets());
            }
        }
        self.0.extend_from_slice(&a.port().to_be_bytes());
    }
    fn addr(&mut self, a: &Addr) {
        match a {
            Addr::Ip(a) => self.sock(a),
            Addr::Name(name, port) => {
                // Callers check the length (`MAX_NAME`); cut rather than corrupt the frame.
                let name = &name.as_bytes()[..name.len().min(MAX_NAME)];
                self.0.push(ADDR_NAME);
                self.0.push(name.len() as u8);
                self.0.extend_from_slice(name);
                self.0.extend_from_slice(&port.to_be_bytes());
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("frame too short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
    fn rest_str(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.rest().to_vec()).map_err(|_| DecodeError("host name is not UTF-8"))
    }
    fn sock(&mut self) -> Result<SocketAddr, DecodeError> {
        match self.u8()? {
            ADDR_V4 => {
                let b = self.take(4)?;
                let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
                Ok(SocketAddr::new(IpAddr::V4(ip), self.u16()?))
            }
            ADDR_V6 => {
                let b: [u8; 16] = self.take(16)?.try_into().expect("16 bytes");
                let ip = Ipv6Addr::from(b);
                Ok(SocketAddr::V6(SocketAddrV6::new(ip, self.u16()?, 0, 0)))
            }
            ADDR_NAME => Err(DecodeError("a host name where an IP address is required")),
            _ => Err(DecodeError("unknown address type")),
        }
    }
    fn addr(&mut self) -> Result<Addr, DecodeError> {
        if self.0.first() != Some(&ADDR_NAME) {
            return self.sock().map(Addr::Ip);
        }
        self.u8()?;
        let len = self.u8()? as usize;
        let name = std::str::from_utf8(self.take(len)?)
            .map_err(|_| DecodeError("host name is not UTF-8"))?
            .to_string();
        if name.is_empty() {
            return Err(DecodeError("empty host name"));
        }
        Ok(Addr::Name(name, self.u16()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_frame() -> Vec<Frame> {
        let v4: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:8080".parse().unwrap();
        vec![
            Frame::Connect {
                stream: 1,
                credit: 65536,
                to: Addr::Ip(v4),
            },
            Frame::Connect {
                stream: 2,
                credit: 1,
                to: Addr::Name("example.org".into(), 80),
            },
            Frame::Listen {
                stream: 3,
                credit: 7,
                backlog: 128,
                local: v6,
            },
            Frame::UdpOpen {
                stream: 4,
                local: v4,
            },
            Frame::Resolve {
                stream: 5,
                name: "localhost".into(),
            },
            Frame::Close { stream: 6 },
            Frame::Connected {
                stream: 7,
                credit: 9,
                local: v4,
                remote: v6,
            },
            Frame::Listening {
                stream: 8,
                local: v4,
            },
            Frame::Accepted {
                stream: 9,
                new_stream: PROXY_STREAM_BIT | 1,
                credit: 3,
                local: v4,
                peer: v6,
            },
            Frame::UdpOpened {
                stream: 10,
                local: v6,
            },
            Frame::Resolved {
                stream: 11,
                addrs: vec![v4.ip(), v6.ip()],
            },
            Frame::Resolved {
                stream: 11,
                addrs: vec![],
            },
            Frame::Error {
                stream: 12,
                errno: 111,
                message: "refused".into(),
            },
            Frame::DatagramError {
                stream: 12,
                errno: 13,
                message: String::new(),
            },
            Frame::Data {
                stream: 13,
                data: b"hello".to_vec(),
            },
            Frame::Data {
                stream: 13,
                data: vec![],
            },
            Frame::Credit {
                stream: 14,
                bytes: u32::MAX,
            },
            Frame::Shutdown { stream: 15 },
            Frame::Datagram {
                stream: 16,
                addr: v6,
                data: vec![0; 3],
            },
        ]
    }

    #[test]
    fn every_frame_survives_a_round_trip() {
        for f in every_frame() {
            assert_eq!(Frame::decode(&f.encode()), Ok(f.clone()), "{f:?}");
        }
    }

    #[test]
    fn truncated_frames_are_errors_not_panics() {
        for f in every_frame() {
            let bytes = f.encode();
            for n in 0..bytes.len() {
                // Frames whose last field is "the rest" decode from a prefix into a shorter
                // frame; every other prefix must be an error.
                if let Ok(g) = Frame::decode(&bytes[..n]) {
                    assert!(
                        matches!(
                            g,
                            Frame::Data { .. }
                                | Frame::Datagram { .. }
                                | Frame::Error { .. }
                                | Frame::DatagramError { .. }
                                | Frame::Resolve { .. }
                        ),
                        "{n}-byte prefix of {f:?} decoded as {g:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Frame::decode(&[0x7f, 0, 0, 0, 1]).is_err());
        assert!(
            Frame::decode(&[tag::CLOSE, 0, 0, 0, 1, 9]).is_err(),
            "trailing bytes"
        );
        assert!(Frame::decode(&[tag::UDP_OPEN, 0, 0, 0, 1, 5, 1, 2, 3, 4, 0, 0]).is_err());
        assert!(
            Frame::decode(&[tag::RESOLVE, 0, 0, 0, 1]).is_err(),
            "empty name"
        );
        // A name where only an IP address may stand (UDP bind).
        assert!(Frame::decode(&[tag::UDP_OPEN, 0, 0, 0, 1, 0, 1, b'a', 0, 80]).is_err());
    }
}
