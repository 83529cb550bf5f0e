//! `RelayNet` against a scripted proxy: the test plays the proxy's side frame by frame.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::*;

#[derive(Default)]
struct Wire {
    sent: Vec<Frame>,
    inbox: VecDeque<Vec<u8>>,
    closed: bool,
}

#[derive(Clone, Default)]
struct Fake(Rc<RefCell<Wire>>);

impl Transport for Fake {
    fn send(&mut self, m: Vec<u8>) -> Result<(), Closed> {
        let mut w = self.0.borrow_mut();
        if w.closed {
            return Err(Closed);
        }
        w.sent
            .push(Frame::decode(&m).expect("RelayNet sent a malformed frame"));
        Ok(())
    }
    fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Closed> {
        let mut w = self.0.borrow_mut();
        match w.inbox.pop_front() {
            Some(m) => Ok(Some(m)),
            None if w.closed => Err(Closed),
            None => Ok(None),
        }
    }
    fn subscribe(&mut self) -> Option<u32> {
        None
    }
}

impl Fake {
    fn push(&self, f: Frame) {
        self.0.borrow_mut().inbox.push_back(f.encode());
    }
    fn take_sent(&self) -> Vec<Frame> {
        std::mem::take(&mut self.0.borrow_mut().sent)
    }
}

fn addr(s: &str) -> SockAddr {
    s.parse().unwrap()
}

/// A connected TCP socket, its stream id, and the fake wire.
fn connected(window: u32, credit: u32) -> (RelayNet<Fake>, Fake, Socket, u32) {
    let wire = Fake::default();
    let mut net = RelayNet::with_window(wire.clone(), window);
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(
        net.connect(s, addr("192.0.2.1:80")),
        Err(Errno::EINPROGRESS)
    );
    let sent = wire.take_sent();
    let [
        Frame::Connect {
            stream,
            credit: c,
            to,
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!((*c, to), (window, &Addr::Ip(addr("192.0.2.1:80"))));
    assert_eq!(
        net.readiness(s),
        Readiness::default(),
        "not writable while connecting"
    );
    assert_eq!(net.connect(s, addr("192.0.2.1:80")), Err(Errno::EALREADY));
    wire.push(Frame::Connected {
        stream: *stream,
        credit,
        local: addr("10.1.1.1:5000"),
        remote: addr("192.0.2.1:80"),
    });
    assert!(net.readiness(s).writable);
    assert_eq!(net.take_error(s), None);
    (net, wire, s, *stream)
}

#[test]
fn send_is_limited_by_the_proxys_credit() {
    let (mut net, wire, s, stream) = connected(1024, 100);
    assert_eq!(net.send(s, &[7; 150], None), Ok(100));
    assert_eq!(net.send(s, b"x", None), Err(Errno::EAGAIN));
    assert!(!net.readiness(s).writable);
    wire.push(Frame::Credit { stream, bytes: 10 });
    assert_eq!(net.send(s, &[8; 50], None), Ok(10));
    let sent: usize = wire
        .take_sent()
        .iter()
        .map(|f| match f {
            Frame::Data { data, .. } => data.len(),
            f => panic!("{f:?}"),
        })
        .sum();
    assert_eq!(sent, 110);
    assert_eq!(net.local_address(s), Ok(addr("10.1.1.1:5000")));
    assert_eq!(net.remote_address(s), Ok(addr("192.0.2.1:80")));
}

#[test]
fn reading_grants_credit_back_and_eof_reads_as_empty() {
    let (mut net, wire, s, stream) = connected(8, 1);
    assert_eq!(net.recv(s, 10, false), Err(Errno::EAGAIN));
    wire.push(Frame::Data {
        stream,
        data: b"abcdefgh".to_vec(),
    });
    assert!(net.readiness(s).readable);
    assert_eq!(net.recv(s, 3, true).unwrap().0, b"abc", "peek");
    assert_eq!(net.recv(s, 3, false).unwrap().0, b"abc");
    // A quarter of the 8-byte window consumed (3 >= 2): credit goes back at once.
    assert_eq!(wire.take_sent(), vec![Frame::Credit { stream, bytes: 3 }]);
    wire.push(Frame::Shutdown { stream });
    assert_eq!(net.recv(s, 100, false).unwrap().0, b"defgh");
    assert_eq!(net.recv(s, 100, false).unwrap().0, b"", "end of stream");
    assert!(net.readiness(s).readable);
    assert!(!net.readiness(s).hangup, "we can still write");
    net.shutdown(s, 1).unwrap();
    assert!(net.readiness(s).hangup);
    assert_eq!(net.send(s, b"late", None), Err(Errno::EPIPE));
    net.close(s);
    let sent = wire.take_sent();
    assert!(sent.contains(&Frame::Shutdown { stream }), "{sent:?}");
    assert_eq!(sent.last(), Some(&Frame::Close { stream }));
    // Late frames for the closed stream are ignored.
    wire.push(Frame::Data {
        stream,
        data: b"late".to_vec(),
    });
    assert_eq!(net.readiness(s), Readiness::default());
    assert_eq!(net.recv(s, 1, false), Err(Errno::EBADF));
}

#[test]
fn a_refused_connect_is_reported_through_so_error() {
    let wire = Fake::default();
    let mut net = RelayNet::new(wire.clone());
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(
        net.connect(s, addr("192.0.2.1:25")),
        Err(Errno::EINPROGRESS)
    );
    let stream = wire.take_sent()[0].stream();
    wire.push(Frame::Error {
        stream,
        errno: 13,
        message: "not allowed".into(),
    });
    let r = net.readiness(s);
    assert!(r.writable && r.error, "{r:?}");
    assert_eq!(net.take_error(s), Some(Errno::EACCES));
    assert_eq!(net.take_error(s), None, "reading SO_ERROR clears it");
    // connect(2) may be tried again after a failure.
    assert_eq!(
        net.connect(s, addr("192.0.2.1:25")),
        Err(Errno::EINPROGRESS)
    );
    assert_ne!(
        wire.take_sent()[0].stream(),
        stream,
        "stream ids are never reused"
    );
}

#[test]
fn connect_again_reports_the_outcome_once_as_a_blocking_connect_needs() {
    // Success: the second connect(2) (the kernel's retry after waiting) says 0, then
    // EISCONN as on Linux.
    let (mut net, _wire, s, _) = connected(1024, 100);
    assert_eq!(net.connect(s, addr("192.0.2.1:80")), Ok(()));
    assert_eq!(net.connect(s, addr("192.0.2.1:80")), Err(Errno::EISCONN));
    // Refusal: the retry returns the error instead of starting over (which made a
    // blocking connect to a refused destination loop forever).
    let wire = Fake::default();
    let mut net = RelayNet::new(wire.clone());
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(
        net.connect(s, addr("192.0.2.1:25")),
        Err(Errno::EINPROGRESS)
    );
    let stream = wire.take_sent()[0].stream();
    wire.push(Frame::Error {
        stream,
        errno: 13,
        message: "not allowed".into(),
    });
    assert_eq!(net.connect(s, addr("192.0.2.1:25")), Err(Errno::EACCES));
    assert!(wire.take_sent().is_empty(), "no new attempt");
    assert_eq!(net.take_error(s), None, "reported once");
    // A third call is a new attempt.
    assert_eq!(
        net.connect(s, addr("192.0.2.1:25")),
        Err(Errno::EINPROGRESS)
    );
}

#[test]
fn wrong_family_and_unknown_sockets_are_errors() {
    let mut net = RelayNet::new(Fake::default());
    let s = net.create(Family::Inet6, Kind::Stream).unwrap();
    assert_eq!(
        net.connect(s, addr("192.0.2.1:80")),
        Err(Errno::EAFNOSUPPORT)
    );
    assert_eq!(net.send(s, b"x", None), Err(Errno::EPIPE));
    assert_eq!(net.recv(s, 1, false), Err(Errno::ENOTCONN));
    assert_eq!(net.shutdown(s, 1), Err(Errno::ENOTCONN));
    assert_eq!(net.accept(s), Err(Errno::EINVAL));
    assert_eq!(net.bind(99, addr("[::]:0")), Err(Errno::EBADF));
    let u = net.create(Family::Inet, Kind::Datagram).unwrap();
    assert_eq!(net.listen(u, 1), Err(Errno::EOPNOTSUPP));
    assert_eq!(net.send(u, b"x", None), Err(Errno::EDESTADDRREQ));
}

#[test]
fn accepted_connections_queue_up_to_the_backlog() {
    let wire = Fake::default();
    let mut net = RelayNet::new(wire.clone());
    let l = net.create(Family::Inet, Kind::Stream).unwrap();
    net.bind(l, addr("0.0.0.0:8080")).unwrap();
    net.listen(l, 1).unwrap();
    let [
        Frame::Listen {
            stream,
            backlog: 1,
            local,
            ..
        },
    ] = &wire.take_sent()[..]
    else {
        panic!()
    };
    assert_eq!(*local, addr("0.0.0.0:8080"));
    let stream = *stream;
    assert_eq!(net.accept(l), Err(Errno::EAGAIN));
    wire.push(Frame::Listening {
        stream,
        local: addr("127.0.0.1:8080"),
    });
    let peer = addr("127.0.0.1:40000");
    for n in 1..=2 {
        wire.push(Frame::Accepted {
            stream,
            new_stream: PROXY_STREAM_BIT | n,
            credit: 5,
            local: addr("127.0.0.1:8080"),
            peer,
        });
    }
    assert!(net.readiness(l).readable);
    assert_eq!(net.local_address(l), Ok(addr("127.0.0.1:8080")));
    // The second connection did not fit the backlog of 1: the proxy is told to drop it.
    assert_eq!(
        wire.take_sent(),
        vec![Frame::Close {
            stream: PROXY_STREAM_BIT | 2
        }]
    );
    let (c, from) = net.accept(l).unwrap();
    assert_eq!(from, peer);
    assert_eq!(net.send(c, b"0123456789", None), Ok(5));
    assert_eq!(net.accept(l), Err(Errno::EAGAIN));
}

#[test]
fn udp_datagrams_round_trip_and_errors_arrive_later() {
    let wire = Fake::default();
    let mut net = RelayNet::new(wire.clone());
    let u = net.create(Family::Inet, Kind::Datagram).unwrap();
    let dst = addr("192.0.2.9:53");
    assert_eq!(net.send(u, b"query", Some(dst)), Ok(5));
    let sent = wire.take_sent();
    let [
        Frame::UdpOpen { stream, .. },
        Frame::Datagram { addr: a, data, .. },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!((a, &data[..]), (&dst, &b"query"[..]));
    let stream = *stream;
    assert_eq!(net.recv(u, 100, false), Err(Errno::EAGAIN));
    wire.push(Frame::Datagram {
        stream,
        addr: dst,
        data: b"answer".to_vec(),
    });
    assert_eq!(
        net.recv(u, 3, false),
        Ok((b"ans".to_vec(), Some(dst))),
        "cut to max"
    );
    wire.push(Frame::DatagramError {
        stream,
        errno: 13,
        message: String::new(),
    });
    assert_eq!(net.send(u, b"again", Some(dst)), Err(Errno::EACCES));
    assert_eq!(
        net.send(u, b"again", Some(dst)),
        Ok(5),
        "the socket stays usable"
    );
    // Connected: datagrams from anyone else are dropped (udp(7)).
    net.connect(u, dst).unwrap();
    wire.push(Frame::Datagram {
        stream,
        addr: addr("192.0.2.10:53"),
        data: b"x".to_vec(),
    });
    assert_eq!(net.recv(u, 100, false), Err(Errno::EAGAIN));
}

#[test]
fn resolution_answers_on_a_later_call() {
    let wire = Fake::default();
    let mut net = RelayNet::new(wire.clone());
    assert_eq!(
        net.resolve("192.0.2.1"),
        Ok(vec!["192.0.2.1".parse().unwrap()])
    );
    assert_eq!(net.resolve("example.org"), Err(Errno::EAGAIN));
    assert_eq!(
        net.resolve("example.org"),
        Err(Errno::EAGAIN),
        "still pending"
    );
    let sent = wire.take_sent();
    let [Frame::Resolve { stream, name }] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(name, "example.org");
    wire.push(Frame::Resolved {
        stream: *stream,
        addrs: vec!["192.0.2.7".parse().unwrap()],
    });
    assert_eq!(
        net.resolve("example.org"),
        Ok(vec!["192.0.2.7".parse().unwrap()])
    );
    assert_eq!(net.resolve("nope.example"), Err(Errno::EAGAIN));
    let stream = wire.take_sent()[0].stream();
    wire.push(Frame::Error {
        stream,
        errno: 2,
        message: "no such name".into(),
    });
    assert_eq!(net.resolve("nope.example"), Err(Errno::ENOENT));
}

#[test]
fn a_closed_transport_fails_every_socket() {
    let (mut net, wire, s, _) = connected(64, 64);
    let c = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(
        net.connect(c, addr("192.0.2.1:81")),
        Err(Errno::EINPROGRESS)
    );
    wire.0.borrow_mut().closed = true;
    assert!(net.readiness(s).hangup);
    assert_eq!(net.recv(s, 10, false), Err(Errno::ECONNRESET));
    assert_eq!(net.recv(s, 10, false), Ok((vec![], None)));
    assert_eq!(net.take_error(c), Some(Errno::ECONNRESET));
    assert_eq!(net.create(Family::Inet, Kind::Stream), Err(Errno::ENETDOWN));
    assert!(net.is_down());
}

#[test]
fn a_proxy_speaking_garbage_is_dropped() {
    let (mut net, wire, s, _) = connected(64, 64);
    wire.0.borrow_mut().inbox.push_back(vec![0xee, 1, 2]);
    assert!(net.readiness(s).error);
    assert!(net.is_down());
}

#[test]
fn news_taken_in_for_another_socket_moves_the_activity_count() {
    // The browser stall: a call on one socket (here a throwaway UDP socket, as
    // `Net::enabled` makes) takes in the CONNECTED of another. Its pollable has nothing
    // left to fire for, so the kernel must learn of it from `activity`.
    let wire = Fake::default();
    let mut net = RelayNet::new(wire.clone());
    let tcp = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(
        net.connect(tcp, addr("192.0.2.1:80")),
        Err(Errno::EINPROGRESS)
    );
    let stream = wire.take_sent()[0].stream();
    let before = net.activity();
    wire.push(Frame::Connected {
        stream,
        credit: 100,
        local: addr("10.1.1.1:5000"),
        remote: addr("192.0.2.1:80"),
    });
    let udp = net.create(Family::Inet, Kind::Datagram).unwrap();
    assert_ne!(
        net.activity(),
        before,
        "the CONNECTED was taken in by create"
    );
    assert!(net.readiness(tcp).writable);
    let after = net.activity();
    net.close(udp);
    assert_eq!(net.activity(), after, "no news, no movement");
}
