//! `friscy-proxy`: the network for friscy guests in browsers. A guest's net component
//! (`friscy_net::relay::RelayNet`) speaks docs/PROXY-PROTOCOL.md over one WebSocket; this
//! program accepts those WebSockets, authenticates them, and relays each guest's TCP
//! connections, TCP listeners, UDP sockets and name lookups within the allow-list
//! (`policy`). Every refusal is logged on stderr and reported to the guest as an errno.

mod config;
mod gate;
mod log;
mod policy;
mod session;
mod tcp;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use config::Config;

fn main() -> ExitCode {
    // clap prints short errors (with "did you mean") and exits 2 by itself; the token may
    // also come from FRISCY_PROXY_TOKEN.
    let cli = config::Cli::parse();
    if let Some(config::Command::Completions { shell }) = cli.command {
        clap_complete::generate(
            shell,
            &mut config::Cli::command(),
            "friscy-proxy",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("friscy-proxy: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(Arc::new(cli.config()))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("friscy-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Arc<Config>) -> Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read the port from this line (with --listen 127.0.0.1:0).
    eprintln!("friscy-proxy: listening on ws://{addr}");
    if config.token.is_none() && !addr.ip().is_loopback() {
        eprintln!(
            "friscy-proxy: warning: listening on a non-loopback address without --token: \
             anyone who can reach {addr} may use the allow-list"
        );
    }
    if config.policy.rules.is_empty() {
        eprintln!("friscy-proxy: warning: no --allow rules: every destination is refused");
    }
    let clients = Arc::new(Semaphore::new(config.max_clients));
    let gate = Arc::new(gate::Gate::new(config.max_per_ip));
    // Suppressed log lines are counted; say how many every few seconds.
    tokio::spawn(async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            log::flush();
        }
    });
    let mut next_id = 0u64;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            // Running out of descriptors is temporary; do not end the proxy over it.
            Err(e) => {
                log::limited!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        // A handshake slot: a new connection pushes out the oldest unfinished handshake
        // from its address (or anywhere, past the global bound), so idle connections can
        // never keep a client that authenticates out.
        let evicted = gate.pending(next_id, peer.ip());
        let (config, clients, gate) = (config.clone(), clients.clone(), gate.clone());
        tokio::spawn(client(tcp, peer, next_id, config, clients, gate, evicted));
    }
}

/// One WebSocket client: authenticate, then take a client slot, then run its session.
async fn client(
    tcp: TcpStream,
    peer: SocketAddr,
    id: u64,
    config: Arc<Config>,
    clients: Arc<Semaphore>,
    gate: Arc<gate::Gate>,
    evicted: tokio::sync::oneshot::Receiver<()>,
) {
    // Frames are written whole; Nagle's algorithm would only delay small ones (~40 ms
    // against a delayed ACK).
    let _ = tcp.set_nodelay(true);
    let who = format!("client {id} ({peer})");
    // Taken only once the client has authenticated: a slot, and its address's share.
    let mut slot: Option<(tokio::sync::OwnedSemaphorePermit, gate::Session)> = None;
    // The callback's signature is tungstenite's; its error is an HTTP response by design.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if let Err(why) = authorize(req, &config) {
            return Err(refuse(&who, StatusCode::UNAUTHORIZED, &why));
        }
        let Some(session) = gate.session(peer.ip()) else {
            return Err(refuse(
                &who,
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "too many clients from {} (--max-per-ip {})",
                    peer.ip(),
                    config.max_per_ip
                ),
            ));
        };
        let Ok(permit) = clients.clone().try_acquire_owned() else {
            return Err(refuse(
                &who,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("too many clients (--max-clients {})", config.max_clients),
            ));
        };
        slot = Some((permit, session));
        Ok(resp)
    };
    // A message carries one frame: at most a 64 KiB data chunk or a 64 KiB datagram plus
    // a header, so anything much larger is an error, not something to buffer.
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(tcp, check, Some(ws_config));
    let outcome = tokio::select! {
        r = tokio::time::timeout(config.handshake_timeout, handshake) => Some(r),
        _ = evicted => None,
    };
    gate.done(id);
    let ws = match outcome {
        Some(Ok(Ok(ws))) => ws,
        Some(Ok(Err(e))) => {
            // Refusals were logged by `check`; this is a broken handshake.
            if !matches!(e, tokio_tungstenite::tungstenite::Error::Http(_)) {
                log::limited!("{who}: WebSocket handshake failed: {e}");
            }
            return;
        }
        Some(Err(_)) => {
            log::limited!(
                "{who}: WebSocket handshake timed out (--handshake-timeout {} s)",
                config.handshake_timeout.as_secs_f64()
            );
            return;
        }
        None => {
            log::limited!(
                "{who}: closed before its handshake finished: a newer connection took its place"
            );
            return;
        }
    };
    let _slot = slot;
    eprintln!("friscy-proxy: {who}: connected");
    let refusals = session::run(ws, config, who.clone()).await;
    match refusals {
        0 => eprintln!("friscy-proxy: {who}: disconnected"),
        n => eprintln!("friscy-proxy: {who}: disconnected ({n} requests refused)"),
    }
}

fn refuse(who: &str, status: StatusCode, why: &str) -> ErrorResponse {
    log::limited!("refused {who}: {why}");
    let mut resp = ErrorResponse::new(Some(format!("friscy-proxy: {why}\n")));
    *resp.status_mut() = status;
    resp
}

/// The token (in `?token=` or `Authorization: Bearer`) and the Origin, if configured.
fn authorize(req: &Request, config: &Config) -> Result<(), String> {
    if !config.origins.is_empty() {
        let origin = req.headers().get("origin").and_then(|o| o.to_str().ok());
        // Non-browser clients send no Origin; the allow-list is about web pages.
        if let Some(o) = origin
            && !config.origins.iter().any(|a| a == o)
        {
            return Err(format!("origin '{o}' is not allowed (--origin)"));
        }
    }
    let Some(token) = &config.token else {
        return Ok(());
    };
    let from_header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(percent_decode)
    });
    match from_header.or(from_query) {
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err("wrong token".into()),
        None => Err("no token (send ?token=... or Authorization: Bearer ...)".into()),
    }
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `%XX` escapes and `+` of a URL query value; a malformed escape stays as it is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn token_comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
