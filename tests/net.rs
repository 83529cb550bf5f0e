//! Guest networking end to end: the sealed component under `wasmtime run -S
//! inherit-network` and the native host with `--net`, against servers and clients this
//! test runs on 127.0.0.1 (loopback only; every wait is bounded).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use friscy_tests::{alpine_tar, built, echo_server, loud, ok, run_limited, tool};

const LIMIT: Duration = Duration::from_secs(60);

fn wasmtime_net(args: &[&str]) -> Command {
    let mut c = Command::new(tool("wasmtime"));
    c.args(["run", "-S", "inherit-network", "-S", "allow-ip-name-lookup"])
        .arg(built("friscy.wasm"))
        .arg("--")
        .args(args);
    c
}

fn friscy_net(image: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(built("friscy"));
    c.arg("run")
        .arg("--rootfs")
        .arg(image)
        .arg("--net")
        .arg("--")
        .args(args);
    c
}

#[test]
fn guest_tcp_client_reaches_a_host_server() {
    let port = echo_server().to_string();
    let want = "connected, SO_ERROR 0\npeer port matches: 1\nreply: echo: hello friscy\n";
    let r = run_limited(
        &mut wasmtime_net(&["/bin/net", "echo", "127.0.0.1", &port, "hello friscy"]),
        LIMIT,
    );
    assert_eq!(ok(&r), want);
    let r = run_limited(
        &mut friscy_net(
            &built("rootfs.tar"),
            &["/bin/net", "echo", "127.0.0.1", &port, "hello friscy"],
        ),
        LIMIT,
    );
    assert_eq!(ok(&r), want);
}

#[test]
fn guest_udp_reaches_a_host_echo() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n].to_ascii_uppercase(), from);
        }
    });
    let r = run_limited(
        &mut wasmtime_net(&["/bin/net", "udp", "127.0.0.1", &port, "ping"]),
        LIMIT,
    );
    assert_eq!(ok(&r), "datagram from the server's port: 1: PING\n");
}

/// `friscy run --net -p HOST:GUEST`: the guest binds GUEST, the host's clients use HOST.
#[test]
fn published_port_maps_a_guest_listener() {
    let host_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(built("friscy"))
        .args(["run", "--rootfs"])
        .arg(built("rootfs.tar"))
        .args([
            "--net",
            "-p",
            &format!("{host_port}:80"),
            "--",
            "/bin/net",
            "serve",
            "80",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "listening\n");
    let mut c = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.write_all(b"mapped").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(got, "MAPPED");
    assert!(child.wait().unwrap().success());
}

#[test]
fn host_client_reaches_a_guest_server() {
    // A free port: bind, note it, let it go.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut child = wasmtime_net(&["/bin/net", "serve", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "listening\n");
    let mut c = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.write_all(b"shout this").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(got, "SHOUT THIS");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "served\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn without_network_permission_the_guest_has_only_its_loopback() {
    let port = echo_server().to_string();
    // wasmtime without -S inherit-network, and friscy run without --net: the guest's own
    // loopback, as `docker run --network none` has. The host's server on 127.0.0.1 is not
    // the guest's (refused), and nothing else is reachable.
    let wasmtime = |args: &[&str]| {
        let mut c = Command::new(tool("wasmtime"));
        c.arg("run").arg(built("friscy.wasm")).arg("--").args(args);
        c
    };
    let friscy = |args: &[&str]| {
        let mut c = Command::new(built("friscy"));
        c.args(["run", "--rootfs"])
            .arg(built("rootfs.tar"))
            .arg("--")
            .args(args);
        c
    };
    for mut c in [
        wasmtime(&["/bin/net", "refused", "127.0.0.1", &port]),
        friscy(&["/bin/net", "refused", "127.0.0.1", &port]),
    ] {
        let r = run_limited(&mut c, LIMIT);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (Some(1), "connect: Connection refused\n")
        );
    }
    for mut c in [
        wasmtime(&["/bin/net", "refused", "192.0.2.1", "80"]),
        friscy(&["/bin/net", "refused", "192.0.2.1", "80"]),
    ] {
        let r = run_limited(&mut c, LIMIT);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (Some(1), "connect: Network is unreachable\n")
        );
    }
    // Guest processes reach each other over it (the loopback's semantics are compared
    // with Linux in tests/reference.rs, net_loopback_no_net and the *_no_net cases).
    let r = run_limited(&mut friscy(&["/bin/net_loopback"]), LIMIT);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("client recv: 4 back\n"), "{}", r.stdout);
    // A server nobody inside connects to: the run ends as a deadlock, and says why.
    let r = run_limited(&mut friscy(&["/bin/net", "serve", "8000"]), LIMIT);
    assert_eq!(r.stdout, "listening\n");
    assert_ne!(r.status, Some(0));
    assert!(
        r.stderr
            .contains("listens on 127.0.0.1:8000 of its own loopback")
            && r.stderr.contains("--net"),
        "{}",
        r.stderr
    );
    // With the network: a closed port is refused as on Linux.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = run_limited(
        &mut wasmtime_net(&["/bin/net", "refused", "127.0.0.1", &closed.to_string()]),
        LIMIT,
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (Some(1), "connect: Connection refused\n")
    );
}

#[test]
fn alpine_busybox_wget_nc_and_dns() {
    let Some(image) = alpine_tar() else {
        loud("SKIPPED alpine_busybox_wget_nc_and_dns: no Alpine image (set FRISCY_ALPINE_TAR)");
        return;
    };
    // A one-shot HTTP server on the host.
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
    let script = format!(
        "wget -q -O- http://127.0.0.1:{port}/ \
         ; nslookup localhost | grep -c '^Address: 127.0.0.1' \
         ; nslookup no-such-name.invalid >/dev/null 2>&1; echo nxdomain $? \
         ; head -n 2 /etc/resolv.conf | tail -n 1"
    );
    let r = run_limited(&mut friscy_net(&image, &["/bin/sh", "-c", &script]), LIMIT);
    assert_eq!(
        ok(&r),
        "hello wget!\n1\nnxdomain 1\nnameserver 127.0.0.11\n"
    );
    // nc as a client of the same server.
    let r = run_limited(
        &mut friscy_net(
            &image,
            &[
                "/bin/sh",
                "-c",
                &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 {port} | tail -n 1"),
            ],
        ),
        LIMIT,
    );
    assert_eq!(ok(&r), "hello wget!\n");
}
