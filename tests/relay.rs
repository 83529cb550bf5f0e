//! The browser's network path, natively: `friscy run --proxy` runs friscy-relay-open.wasm
//! (net-relay in net's place) and serves its `friscy:net/transport` over a WebSocket to the
//! real `friscy-proxy` (build/friscy-proxy), which reaches servers this test runs on
//! 127.0.0.1. Guest -> kernel -> RelayNet -> transport -> proxy -> server, with no browser.
//! Loopback only; every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use friscy_tests::{Run, alpine_tar, built, echo_server, loud, ok, run_limited};

const LIMIT: Duration = Duration::from_secs(60);

/// A running build/friscy-proxy on an ephemeral loopback port, its stderr collected;
/// killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Proxy {
    fn start(args: &[&str]) -> Proxy {
        let mut child = Command::new(built("friscy-proxy"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("FRISCY_PROXY_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting build/friscy-proxy (run scripts/build.sh)");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("friscy-proxy: listening on ws://")
                    && let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse().ok())
                {
                    let _ = port_tx.send(port);
                }
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let port: u16 = port_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("friscy-proxy did not say where it listens");
        Proxy { child, port, log }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Waits (bounded) until the proxy's log has a line containing every one of `parts`.
    fn logged(&self, parts: &[&str]) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
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

fn friscy_proxy(image: &std::path::Path, url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(built("friscy"));
    c.arg("run")
        .arg("--rootfs")
        .arg(image)
        .args(["--proxy", url, "--"])
        .args(args);
    c
}

/// A port nothing listens on (bound, noted, let go).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn guest_tcp_client_through_the_proxy() {
    let port = echo_server();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{port}")]);
    let r = run_limited(
        &mut friscy_proxy(
            &built("rootfs.tar"),
            &proxy.url(),
            &[
                "/bin/net",
                "echo",
                "127.0.0.1",
                &port.to_string(),
                "hello friscy",
            ],
        ),
        LIMIT,
    );
    // Exactly what tests/net.rs expects with --net: the relay is invisible to the guest.
    assert_eq!(
        ok(&r),
        "connected, SO_ERROR 0\npeer port matches: 1\nreply: echo: hello friscy\n"
    );
    assert!(proxy.logged(&["client 1", "connected"]));
}

#[test]
fn guest_udp_through_the_proxy() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n].to_ascii_uppercase(), from);
        }
    });
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{port}")]);
    let r = run_limited(
        &mut friscy_proxy(
            &built("rootfs.tar"),
            &proxy.url(),
            &["/bin/net", "udp", "127.0.0.1", &port.to_string(), "ping"],
        ),
        LIMIT,
    );
    assert_eq!(ok(&r), "datagram from the server's port: 1: PING\n");
}

#[test]
fn a_destination_off_the_allow_list_is_refused() {
    let allowed = echo_server();
    let other = closed_port();
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{allowed}")]);
    // A blocking connect: the kernel waits, the proxy refuses, connect(2) reports it.
    let r = run_limited(
        &mut friscy_proxy(
            &built("rootfs.tar"),
            &proxy.url(),
            &["/bin/net", "refused", "127.0.0.1", &other.to_string()],
        ),
        LIMIT,
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(1), "connect: Permission denied\n"),
        "stderr: {}",
        r.stderr
    );
    assert!(proxy.logged(&["refused client", &format!("connect to 127.0.0.1:{other}")]));
    // Allowed but closed: refused by the destination, as with --net.
    let proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{other}")]);
    let r = run_limited(
        &mut friscy_proxy(
            &built("rootfs.tar"),
            &proxy.url(),
            &["/bin/net", "refused", "127.0.0.1", &other.to_string()],
        ),
        LIMIT,
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(1), "connect: Connection refused\n"),
        "stderr: {}",
        r.stderr
    );
}

#[test]
fn a_guest_waiting_on_the_proxy_sees_it_go() {
    // A server that accepts and then says nothing: the guest blocks in recv(2).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((c, _)) = l.accept() {
            let _ = accepted_tx.send(());
            std::thread::sleep(LIMIT);
            drop(c);
        }
    });
    let mut proxy = Proxy::start(&["--allow", &format!("127.0.0.1:{port}")]);
    let mut cmd = friscy_proxy(
        &built("rootfs.tar"),
        &proxy.url(),
        &["/bin/net", "echo", "127.0.0.1", &port.to_string(), "hi"],
    );
    let guest = std::thread::spawn(move || run_limited(&mut cmd, LIMIT));
    accepted
        .recv_timeout(LIMIT)
        .expect("the guest's connection did not arrive");
    // The WebSocket goes away while the kernel sleeps on the transport's pollable: the
    // pollable must wake it, and the connection reads as reset.
    std::thread::sleep(Duration::from_millis(200));
    let _ = proxy.child.kill();
    let start = Instant::now();
    let r = guest.join().unwrap();
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (
            Some(1),
            "connected, SO_ERROR 0\npeer port matches: 1\nrecv: Connection reset by peer\n"
        ),
        "stderr: {}",
        r.stderr
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// friscy's own failure: status 125 and one line on stderr naming --proxy.
fn one_line_proxy_error(r: &Run) -> &str {
    assert_eq!(r.status, Some(125), "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "");
    let err = r.stderr.trim_end();
    assert!(
        err.starts_with("friscy: --proxy: ") && !err.contains('\n'),
        "{err}"
    );
    err
}

#[test]
fn a_wrong_token_or_no_proxy_is_a_one_line_error() {
    let proxy = Proxy::start(&["--token", "right-token"]);
    let argv = ["/bin/hello"];
    let url = format!("{}/?token=wrong-token", proxy.url());
    let r = run_limited(&mut friscy_proxy(&built("rootfs.tar"), &url, &argv), LIMIT);
    let err = one_line_proxy_error(&r);
    assert!(err.contains("401"), "{err}");
    assert!(
        !err.contains("wrong-token"),
        "the token is not echoed: {err}"
    );
    // The right token gets in (and a guest that uses no network just runs).
    let url = format!("{}?token=right-token", proxy.url());
    let r = run_limited(&mut friscy_proxy(&built("rootfs.tar"), &url, &argv), LIMIT);
    ok(&r);
    // Nobody listening.
    let url = format!("ws://127.0.0.1:{}", closed_port());
    let r = run_limited(&mut friscy_proxy(&built("rootfs.tar"), &url, &argv), LIMIT);
    assert!(one_line_proxy_error(&r).contains("refused"));
    // --net and --proxy together: a usage error.
    let r = run_limited(
        Command::new(built("friscy"))
            .args(["run", "--rootfs"])
            .arg(built("rootfs.tar"))
            .args(["--net", "--proxy", &proxy.url(), "--", "/bin/hello"]),
        LIMIT,
    );
    assert_eq!(r.status, Some(2));
    assert!(
        r.stderr.contains("--net and --proxy conflict"),
        "{}",
        r.stderr
    );
}

#[test]
fn alpine_busybox_wget_and_dns_through_the_proxy() {
    let Some(image) = alpine_tar() else {
        loud(
            "SKIPPED alpine_busybox_wget_and_dns_through_the_proxy: no Alpine image (set FRISCY_ALPINE_TAR)",
        );
        return;
    };
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut req = [0u8; 1024];
            let _ = c.read(&mut req);
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello wget!\n");
        }
    });
    // An exact name rule lets the guest resolve `localhost` through the proxy (and reach
    // what it resolves to on that port); the address rule lets it fetch by address.
    let proxy = Proxy::start(&[
        "--allow",
        &format!("127.0.0.1:{port}"),
        "--allow",
        &format!("localhost:{port}"),
    ]);
    let script = format!(
        "wget -q -O- http://127.0.0.1:{port}/ \
         ; wget -q -O- http://localhost:{port}/ \
         ; nslookup localhost | grep -c '^Address: 127.0.0.1' \
         ; nslookup not-allowed.example 2>&1 | grep -c SERVFAIL"
    );
    let r = run_limited(
        &mut friscy_proxy(&image, &proxy.url(), &["/bin/sh", "-c", &script]),
        LIMIT,
    );
    // A name no rule allows is refused by the proxy (logged), which the guest's resolver
    // sees as SERVFAIL (asked twice: A and AAAA), not as a name that does not exist.
    assert_eq!(ok(&r), "hello wget!\nhello wget!\n1\n2\n");
    assert!(proxy.logged(&["refused client", "resolve 'not-allowed.example'"]));
}
