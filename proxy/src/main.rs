//! `friscy-proxy`: the network for friscy guests in browsers. A guest's net component
//! (`friscy_net::relay::RelayNet`) speaks docs/PROXY-PROTOCOL.md over one WebSocket; this
//! program accepts those WebSockets, authenticates them, and relays each guest's TCP
//! connections, TCP listeners, UDP sockets and name lookups within the allow-list
//! (`policy`). Every refusal is logged on stderr and reported to the guest as an errno.

mod config;
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
    let mut next_id = 0u64;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            // Running out of descriptors is temporary; do not end the proxy over it.
            Err(e) => {
                eprintln!("friscy-proxy: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        let (config, clients) = (config.clone(), clients.clone());
        tokio::spawn(client(tcp, peer, next_id, config, clients));
    }
}

/// One WebSocket client: authenticate, then run its session.
async fn client(
    tcp: TcpStream,
    peer: SocketAddr,
    id: u64,
    config: Arc<Config>,
    clients: Arc<Semaphore>,
) {
    let permit = clients.try_acquire_owned().ok();
    // Frames are written whole; Nagle's algorithm would only delay small ones (~40 ms
    // against a delayed ACK).
    let _ = tcp.set_nodelay(true);
    let who = format!("client {id} ({peer})");
    // The callback's signature is tungstenite's; its error is an HTTP response by design.
    #[allow(clippy::result_large_err)]
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if permit.is_none() {
            return Err(refuse(
                &who,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("too many clients (--max-clients {})", config.max_clients),
            ));
        }
        if let Err(why) = authorize(req, &config) {
            return Err(refuse(&who, StatusCode::UNAUTHORIZED, &why));
        }
        Ok(resp)
    };
    // A message carries one frame: at most a 64 KiB data chunk or a 64 KiB datagram plus
    // a header, so anything much larger is an error, not something to buffer.
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(tcp, check, Some(ws_config));
    let ws = match tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            // Refusals were logged by `check`; this is a broken handshake.
            if !matches!(e, tokio_tungstenite::tungstenite::Error::Http(_)) {
                eprintln!("friscy-proxy: {who}: WebSocket handshake failed: {e}");
            }
            return;
        }
        Err(_) => {
            eprintln!("friscy-proxy: {who}: WebSocket handshake timed out");
            return;
        }
    };
    eprintln!("friscy-proxy: {who}: connected");
    session::run(ws, config, who.clone()).await;
    eprintln!("friscy-proxy: {who}: disconnected");
}

fn refuse(who: &str, status: StatusCode, why: &str) -> ErrorResponse {
    eprintln!("friscy-proxy: refused {who}: {why}");
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
