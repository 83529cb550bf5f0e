//! End to end on loopback: `RelayNet` (the guest's side) over the native WebSocket
//! transport (host/src/relay_transport.rs, the one `friscy run --proxy` uses) to the real
//! `friscy-proxy` binary, to TCP and UDP echo servers on 127.0.0.1. Every wait is bounded.

#[path = "../../host/src/relay_transport.rs"]
#[allow(dead_code)]
mod relay_transport;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use friscy_net::relay::RelayNet;
use friscy_net::{Errno, Family, Kind, Net, Socket};
use relay_transport::WsTransport;

const DEADLINE: Duration = Duration::from_secs(10);

/// A running `friscy-proxy` on an ephemeral loopback port; killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Proxy {
    fn start(args: &[&str]) -> Proxy {
        Proxy::start_env(args, None)
    }

    fn start_env(args: &[&str], token: Option<&str>) -> Proxy {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_friscy-proxy"));
        cmd.args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stderr(Stdio::piped());
        match token {
            Some(t) => cmd.env("FRISCY_PROXY_TOKEN", t),
            None => cmd.env_remove("FRISCY_PROXY_TOKEN"),
        };
        let mut child = cmd.spawn().expect("starting friscy-proxy");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("friscy-proxy: listening on ws://") {
                    let _ = port_tx.send(addr.parse::<SocketAddr>().unwrap().port());
                }
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let port = port_rx
            .recv_timeout(DEADLINE)
            .expect("friscy-proxy did not start");
        Proxy { child, port, log }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn net(&self) -> RelayNet<WsTransport> {
        RelayNet::new(WsTransport::connect(&self.url(), DEADLINE).expect("connecting to the proxy"))
    }

    /// Waits until the proxy's log has a line containing every one of `parts`.
    fn logged(&self, parts: &[&str]) -> bool {
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            if self
                .log
                .lock()
                .unwrap()
                .lines()
                .any(|l| parts.iter().all(|p| l.contains(p)))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("proxy log:\n{}", self.log.lock().unwrap());
        false
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls `f` until it stops saying EAGAIN/EINPROGRESS, sleeping on the transport between.
fn until<T>(
    net: &mut RelayNet<WsTransport>,
    mut f: impl FnMut(&mut RelayNet<WsTransport>) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let end = Instant::now() + DEADLINE;
    loop {
        match f(net) {
            Err(Errno::EAGAIN | Errno::EINPROGRESS) if Instant::now() < end => {
                net.transport_mut().wait(Duration::from_millis(50));
            }
            r => return r,
        }
    }
}

/// Connects and waits for the outcome: Ok, or the errno SO_ERROR reports.
fn connect(net: &mut RelayNet<WsTransport>, s: Socket, to: SocketAddr) -> Result<(), Errno> {
    assert_eq!(net.connect(s, to), Err(Errno::EINPROGRESS));
    until(net, |n| {
        if n.readiness(s).writable {
            Ok(())
        } else {
            Err(Errno::EAGAIN)
        }
    })
    .unwrap();
    net.take_error(s).map_or(Ok(()), Err)
}

/// A TCP echo server: echoes each connection until EOF, then closes it.
fn tcp_echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                let mut r = c.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut c);
            });
        }
    });
    addr
}

fn udp_echo() -> SocketAddr {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = u.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = u.recv_from(&mut buf) {
            let _ = u.send_to(&buf[..n], from);
        }
    });
    addr
}

#[test]
fn tcp_connect_send_recv_and_shutdown_end_to_end() {
    let echo = tcp_echo();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{}", echo.port())]);
    let mut net = proxy.net();
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    connect(&mut net, s, echo).unwrap();
    assert_eq!(net.remote_address(s), Ok(echo));
    // 1 MiB is four times the receive window: it only gets through if credit flows back
    // both ways while the guest keeps reading.
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    let end = Instant::now() + DEADLINE;
    while got.len() < data.len() {
        assert!(
            Instant::now() < end,
            "stuck after {sent} sent, {} received",
            got.len()
        );
        let mut progress = false;
        if sent < data.len() {
            match net.send(s, &data[sent..], None) {
                Ok(n) => (sent, progress) = (sent + n, true),
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("send: {e}"),
            }
        }
        match net.recv(s, 100_000, false) {
            Ok((d, _)) => {
                assert!(!d.is_empty(), "early end of stream");
                got.extend(d);
                progress = true;
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => panic!("recv: {e}"),
        }
        if !progress {
            net.transport_mut().wait(Duration::from_millis(50));
        }
    }
    assert!(got == data, "the echo differs");
    // SHUT_WR: the echo server sees EOF and closes, which reads here as end of stream.
    net.shutdown(s, 1).unwrap();
    assert_eq!(
        until(&mut net, |n| n.recv(s, 10, false)),
        Ok((vec![], None))
    );
    assert!(net.readiness(s).hangup);
    net.close(s);
}

#[test]
fn small_messages_are_not_held_back() {
    // Nagle's algorithm on either WebSocket end held each small frame ~40 ms (delayed
    // ACK): 50 round trips took 2 s. Without it they take a few milliseconds.
    let echo = tcp_echo();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{}", echo.port())]);
    let mut net = proxy.net();
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    connect(&mut net, s, echo).unwrap();
    let start = Instant::now();
    for i in 0..50u8 {
        assert_eq!(net.send(s, &[i], None), Ok(1));
        assert_eq!(until(&mut net, |n| n.recv(s, 10, false)).unwrap().0, [i]);
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "50 round trips took {took:?}"
    );
}

#[test]
fn a_guest_listener_accepts_a_host_client() {
    let proxy = Proxy::start(&[]);
    let mut net = proxy.net();
    let l = net.create(Family::Inet, Kind::Stream).unwrap();
    net.bind(l, "0.0.0.0:0".parse().unwrap()).unwrap();
    net.listen(l, 4).unwrap();
    let port = until(&mut net, |n| match n.local_address(l)?.port() {
        0 => Err(Errno::EAGAIN),
        p => Ok(p),
    })
    .unwrap();
    assert!(proxy.logged(&["listening on 127.0.0.1:", "for the guest"]));
    let mut host = TcpStream::connect(("127.0.0.1", port)).unwrap();
    host.set_read_timeout(Some(DEADLINE)).unwrap();
    host.write_all(b"ping").unwrap();
    let (c, peer) = until(&mut net, |n| n.accept(l)).unwrap();
    assert_eq!(peer, host.local_addr().unwrap());
    assert_eq!(
        until(&mut net, |n| n.recv(c, 100, false)).unwrap().0,
        b"ping"
    );
    assert_eq!(net.send(c, b"pong", None), Ok(4));
    net.close(c);
    let mut answer = Vec::new();
    host.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"pong", "the reply, then end of stream after close");
}

#[test]
fn listening_on_a_port_not_allowed_is_refused() {
    let proxy = Proxy::start(&["--allow-listen", "1-1023"]);
    let mut net = proxy.net();
    let l = net.create(Family::Inet, Kind::Stream).unwrap();
    net.bind(l, "0.0.0.0:40123".parse().unwrap()).unwrap();
    net.listen(l, 1).unwrap();
    assert_eq!(until(&mut net, |n| n.accept(l)), Err(Errno::EACCES));
    assert!(proxy.logged(&["refused client", "listen on port 40123", "--allow-listen"]));
}

#[test]
fn udp_datagrams_echo_through_the_proxy() {
    let echo = udp_echo();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{}", echo.port())]);
    let mut net = proxy.net();
    let u = net.create(Family::Inet, Kind::Datagram).unwrap();
    for msg in [&b"first"[..], &[0xa5; 1400][..]] {
        assert_eq!(net.send(u, msg, Some(echo)), Ok(msg.len()));
        let (d, from) = until(&mut net, |n| n.recv(u, 2048, false)).unwrap();
        assert_eq!((&d[..], from), (msg, Some(echo)));
    }
    // A destination outside the allow-list: the datagram is refused, the socket lives on.
    let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert_eq!(net.send(u, b"x", Some(other)), Ok(1));
    let r = until(&mut net, |n| {
        if n.readiness(u).error {
            Ok(())
        } else {
            Err(Errno::EAGAIN)
        }
    });
    assert_eq!(r, Ok(()));
    assert_eq!(net.recv(u, 10, false), Err(Errno::EACCES));
    assert!(proxy.logged(&["refused client", "UDP datagram to 127.0.0.1:9"]));
    assert_eq!(net.send(u, b"again", Some(echo)), Ok(5));
    assert_eq!(
        until(&mut net, |n| n.recv(u, 10, false)).unwrap().0,
        b"again"
    );
}

#[test]
fn localhost_resolves_and_names_outside_the_allow_list_do_not() {
    let proxy = Proxy::start(&["--allow", "localhost:*"]);
    let mut net = proxy.net();
    let addrs = until(&mut net, |n| n.resolve("localhost")).unwrap();
    assert!(addrs.iter().any(|a| a.is_loopback()), "{addrs:?}");
    // Refused before any lookup, so this needs no DNS.
    assert_eq!(
        until(&mut net, |n| n.resolve("example.org")),
        Err(Errno::EACCES)
    );
    assert!(proxy.logged(&["refused client", "resolve 'example.org'"]));
}

#[test]
fn disallowed_destinations_are_refused_with_eacces_and_logged() {
    let echo = tcp_echo();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{}", echo.port())]);
    let mut net = proxy.net();
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(connect(&mut net, s, closed), Err(Errno::EACCES));
    assert!(proxy.logged(&["refused client", &format!("connect to {closed}"), "allow"]));
    // The same socket may try again, somewhere allowed.
    connect(&mut net, s, echo).unwrap();

    // `*` covers the public internet only: loopback needs an explicit rule.
    let open = Proxy::start(&["--allow", "*:*"]);
    let mut net = open.net();
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(connect(&mut net, s, echo), Err(Errno::EACCES));
    assert!(open.logged(&["refused client", "loopback", "allow it explicitly"]));
}

#[test]
fn a_connect_to_a_closed_port_is_econnrefused() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{}", closed.port())]);
    let mut net = proxy.net();
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    assert_eq!(connect(&mut net, s, closed), Err(Errno::ECONNREFUSED));
}

#[test]
fn clients_without_the_token_are_refused() {
    for (args, env) in [
        (&["--token", "s3cret"][..], None),
        (&[][..], Some("s3cret")),
    ] {
        let proxy = Proxy::start_env(args, env);
        let e = WsTransport::connect(&proxy.url(), DEADLINE)
            .err()
            .expect("no token");
        assert!(e.0.contains("401") && e.0.contains("no token"), "{e}");
        let e = WsTransport::connect(&format!("{}?token=guess", proxy.url()), DEADLINE).err();
        let e = e.expect("wrong token");
        assert!(e.0.contains("wrong token"), "{e}");
        assert!(proxy.logged(&["refused client", "wrong token"]));
        WsTransport::connect(&format!("{}/?token=s3cret", proxy.url()), DEADLINE).unwrap();
    }
}

#[test]
fn streams_and_clients_are_limited() {
    let echo = tcp_echo();
    let proxy = Proxy::start(&[
        "--allow",
        &format!("127.0.0.1:{}", echo.port()),
        "--max-streams",
        "2",
        "--max-clients",
        "1",
    ]);
    let mut net = proxy.net();
    let socks: Vec<_> = (0..3)
        .map(|_| net.create(Family::Inet, Kind::Stream).unwrap())
        .collect();
    connect(&mut net, socks[0], echo).unwrap();
    connect(&mut net, socks[1], echo).unwrap();
    assert_eq!(connect(&mut net, socks[2], echo), Err(Errno::EMFILE));
    assert!(proxy.logged(&["refused client", "too many streams (--max-streams 2)"]));
    // Closing one frees its slot.
    net.close(socks[0]);
    let end = Instant::now() + DEADLINE;
    while connect(&mut net, socks[2], echo) == Err(Errno::EMFILE) {
        assert!(Instant::now() < end, "the slot was never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let e = WsTransport::connect(&proxy.url(), DEADLINE)
        .err()
        .expect("a second client");
    assert!(e.0.contains("503"), "{e}");
    assert!(proxy.logged(&["refused client", "too many clients"]));
}

#[test]
fn idle_connections_do_not_lock_out_an_authenticated_client() {
    // Issue 18's probe: 100 TCP connections that never send a handshake, more than
    // --max-clients, from the client's own address.
    let echo = tcp_echo();
    let proxy = Proxy::start(&[
        "--token",
        "s3cret",
        "--allow",
        &format!("127.0.0.1:{}", echo.port()),
        "--max-clients",
        "4",
    ]);
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(("127.0.0.1", proxy.port)).unwrap())
        .collect();
    let url = format!("{}/?token=s3cret", proxy.url());
    let start = Instant::now();
    let mut net = RelayNet::new(WsTransport::connect(&url, DEADLINE).expect("authenticated"));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    connect(&mut net, s, echo).unwrap();
    // The idle ones were pushed out, not served: at most a handshake slot's worth remain.
    std::thread::sleep(Duration::from_millis(200));
    let open = idle
        .iter()
        .filter(|c| {
            c.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            matches!((&**c).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert!(open <= 8, "{open} idle connections still held");
    drop(idle);
    assert!(proxy.logged(&["a newer connection took its place"]));
}

#[test]
fn handshakes_time_out_and_clients_per_address_are_bounded() {
    let proxy = Proxy::start(&["--handshake-timeout", "0.3", "--max-per-ip", "2"]);
    let mut idle = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    idle.set_read_timeout(Some(DEADLINE)).unwrap();
    let start = Instant::now();
    let mut b = [0u8; 1];
    assert!(matches!(idle.read(&mut b), Ok(0) | Err(_)));
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(proxy.logged(&["handshake timed out"]));
    let _a = WsTransport::connect(&proxy.url(), DEADLINE).unwrap();
    let _b = WsTransport::connect(&proxy.url(), DEADLINE).unwrap();
    let e = WsTransport::connect(&proxy.url(), DEADLINE)
        .err()
        .expect("a third client");
    assert!(e.0.contains("429"), "{e}");
    assert!(proxy.logged(&["too many clients from 127.0.0.1 (--max-per-ip 2)"]));
}

#[test]
fn a_flood_of_refusals_is_logged_in_few_lines_with_a_count() {
    let proxy = Proxy::start(&["--token", "s3cret"]);
    for _ in 0..300 {
        let _ = WsTransport::connect(&proxy.url(), DEADLINE);
    }
    assert!(proxy.logged(&["similar lines suppressed"]));
    let refusals = proxy
        .log
        .lock()
        .unwrap()
        .lines()
        .filter(|l| l.contains("refused"))
        .count();
    assert!(refusals < 100, "{refusals} lines for 300 refusals");
}

/// Throughput and round-trip time through the whole relay path; run by bench/proxy.sh
/// (`--ignored`, release build). Prints one line per figure.
#[test]
#[ignore = "a measurement, run by bench/proxy.sh"]
fn throughput_and_round_trip() {
    let echo = tcp_echo();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{}", echo.port())]);
    let mut net = proxy.net();
    let s = net.create(Family::Inet, Kind::Stream).unwrap();
    connect(&mut net, s, echo).unwrap();

    let rounds = 2000;
    let start = Instant::now();
    for _ in 0..rounds {
        assert_eq!(net.send(s, b"x", None), Ok(1));
        assert_eq!(until(&mut net, |n| n.recv(s, 10, false)).unwrap().0, b"x");
    }
    let rtt = start.elapsed() / rounds;
    println!(
        "relay round trip (1 byte, echo): {:.1} us",
        rtt.as_secs_f64() * 1e6
    );

    let total: usize = 256 << 20;
    let chunk = vec![0x5a; 256 << 10];
    let (mut sent, mut got) = (0, 0);
    let start = Instant::now();
    while got < total {
        let mut progress = false;
        if sent < total {
            let n = chunk.len().min(total - sent);
            if let Ok(k) = net.send(s, &chunk[..n], None) {
                (sent, progress) = (sent + k, true);
            }
        }
        if let Ok((d, _)) = net.recv(s, 1 << 20, false) {
            (got, progress) = (got + d.len(), true);
        }
        if !progress {
            net.transport_mut().wait(Duration::from_millis(5));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "relay echo throughput: {:.0} MB/s each way ({} MiB in {secs:.2} s)",
        total as f64 / secs / 1e6,
        total >> 20
    );
}
