//! A WebSocket client implementing `friscy_net::relay::Transport`, so the native host can
//! run guests whose network goes through `friscy-proxy` exactly as a browser guest's does
//! (`friscy run --proxy ws://HOST:PORT?token=...`).
//!
//! The WebSocket lives on its own thread (a single-threaded tokio runtime); the transport
//! side only touches channels, so `send` and `try_recv` never block, as the `Net` trait's
//! callers require. `wait` and `notifier` let a host sleep until a message arrives.
//!
//! Self-contained on purpose: the proxy's tests compile this very file to drive `RelayNet`
//! end to end.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use friscy_net::relay::{Closed, Transport};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::{self, Message};

enum Incoming {
    Message(Vec<u8>),
    Closed(String),
}

pub struct WsTransport {
    inbox: std_mpsc::Receiver<Incoming>,
    /// A message taken off `inbox` by `wait` and not yet handed out.
    pending: Option<Vec<u8>>,
    outbox: mpsc::UnboundedSender<Vec<u8>>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
    notify: Arc<Notify>,
}

/// Why `connect` failed, in words for the user.
#[derive(Debug)]
pub struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

/// Checks a `--proxy` URL: only `ws://` (the proxy listens on loopback by default; TLS
/// belongs to a reverse proxy in front of it).
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| {
        format!("'{url}': the proxy URL must start with ws:// (wss:// is not supported)")
    })?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("'{url}': no HOST:PORT after ws://"));
    }
    Ok(())
}

impl WsTransport {
    /// Opens the WebSocket, waiting at most `timeout` for the handshake. A refusal by the
    /// proxy (wrong token, too many clients) comes back with the proxy's reason.
    pub fn connect(url: &str, timeout: Duration) -> Result<WsTransport, ConnectError> {
        check_url(url).map_err(ConnectError)?;
        // `ws://host:port?token=x` has an empty path, which would make the request line
        // `GET ?token=x`: give it the root path.
        let rest = &url["ws://".len()..];
        let url = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => format!("ws://{}/{}", &rest[..i], &rest[i..]),
            _ => url.to_string(),
        };
        let url = url.as_str();
        let (in_tx, inbox) = std_mpsc::channel();
        let (outbox, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<(), String>>();
        let notify = Arc::new(Notify::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConnectError(format!("starting the WebSocket thread: {e}")))?;
        let url_owned = url.to_string();
        let n = notify.clone();
        std::thread::Builder::new()
            .name("friscy-relay".into())
            .spawn(move || {
                rt.block_on(async move {
                    // Nagle's algorithm against the peer's delayed ACK would hold each small frame
                    // back ~40 ms; the relay's frames are already as big as they can be.
                    let handshake = tokio_tungstenite::connect_async_with_config(
                        url_owned.as_str(),
                        None,
                        true,
                    );
                    let ws = match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok((ws, _))) => ws,
                        Ok(Err(e)) => return drop(ready_tx.send(Err(describe(e)))),
                        Err(_) => return drop(ready_tx.send(Err("handshake timed out".into()))),
                    };
                    if ready_tx.send(Ok(())).is_err() {
                        return;
                    }
                    let (mut sink, mut source) = ws.split();
                    let deliver = |m: Incoming| {
                        let gone = in_tx.send(m).is_err();
                        n.notify_one();
                        gone
                    };
                    let reader = async {
                        let why = loop {
                            match source.next().await {
                                Some(Ok(Message::Binary(b))) => {
                                    if deliver(Incoming::Message(b.to_vec())) {
                                        return;
                                    }
                                }
                                Some(Ok(Message::Close(f))) => {
                                    break match f {
                                        Some(f) => {
                                            format!("the proxy closed the connection: {}", f.reason)
                                        }
                                        None => "the proxy closed the connection".into(),
                                    };
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => break format!("WebSocket error: {e}"),
                                None => break "the connection to the proxy ended".into(),
                            }
                        };
                        deliver(Incoming::Closed(why));
                    };
                    let writer = async {
                        while let Some(m) = out_rx.recv().await {
                            if sink.send(Message::Binary(m.into())).await.is_err() {
                                break;
                            }
                        }
                        // The transport was dropped: say goodbye properly.
                        let _ = sink.close().await;
                    };
                    tokio::select! {
                        _ = reader => {}
                        _ = writer => {}
                    }
                })
            })
            .map_err(|e| ConnectError(format!("starting the WebSocket thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(WsTransport {
                inbox,
                pending: None,
                outbox,
                closed: None,
                notify,
            }),
            Ok(Err(why)) => Err(ConnectError(format!("connecting to {url}: {why}"))),
            Err(_) => Err(ConnectError(format!(
                "connecting to {url}: the WebSocket thread failed"
            ))),
        }
    }

    /// Waits up to `timeout` until `try_recv` has a message or the close to report;
    /// returns whether it has.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        if self.pending.is_some() || self.closed.is_some() {
            return true;
        }
        match self.inbox.recv_timeout(timeout) {
            Ok(m) => {
                self.take_in(m);
                true
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => false,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                self.closed
                    .get_or_insert_with(|| "the WebSocket thread ended".into());
                true
            }
        }
    }

    /// Notified whenever a message or the close arrives: for an async host (a wasmtime
    /// pollable) that must not block a thread in `wait`.
    pub fn notifier(&self) -> Arc<Notify> {
        self.notify.clone()
    }

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    fn take_in(&mut self, m: Incoming) {
        match m {
            Incoming::Message(b) => self.pending = Some(b),
            Incoming::Closed(why) => self.closed = Some(why),
        }
    }
}

/// A handshake error in words: an HTTP refusal carries the proxy's reason in its body.
fn describe(e: tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!("the proxy refused: HTTP {}: {}", resp.status(), body.trim())
        }
        e => e.to_string(),
    }
}

impl Transport for WsTransport {
    fn send(&mut self, message: Vec<u8>) -> Result<(), Closed> {
        if self.closed.is_some() {
            return Err(Closed);
        }
        self.outbox.send(message).map_err(|_| Closed)
    }

    fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Closed> {
        if let Some(m) = self.pending.take() {
            return Ok(Some(m));
        }
        if self.closed.is_some() {
            return Err(Closed);
        }
        match self.inbox.try_recv() {
            Ok(Incoming::Message(m)) => Ok(Some(m)),
            Ok(Incoming::Closed(why)) => {
                self.closed = Some(why);
                Err(Closed)
            }
            Err(std_mpsc::TryRecvError::Empty) => Ok(None),
            Err(std_mpsc::TryRecvError::Disconnected) => {
                self.closed = Some("the WebSocket thread ended".into());
                Err(Closed)
            }
        }
    }

    fn subscribe(&mut self) -> Option<u32> {
        // No wasi:io pollable natively: the host waits with `wait` or `notifier`.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ws_urls_with_a_host_are_accepted() {
        assert!(check_url("ws://127.0.0.1:8765").is_ok());
        assert!(check_url("ws://localhost:1/relay?token=abc").is_ok());
        assert!(check_url("wss://example.org").unwrap_err().contains("wss"));
        assert!(check_url("http://x").is_err());
        assert!(
            check_url("ws://?token=x")
                .unwrap_err()
                .contains("HOST:PORT")
        );
    }

    #[test]
    fn nothing_listening_is_a_clear_error() {
        // Port 1 on loopback: nothing listens there in a test environment.
        let e = WsTransport::connect("ws://127.0.0.1:1", Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(e.0.contains("connecting to ws://127.0.0.1:1"), "{e}");
    }
}
