//! A WebSocket client implementing `friscy_net::relay::Transport`, so the native host can
//! run guests whose network goes through `friscy-proxy` exactly as a browser guest's does
//! (`friscy run --proxy ws://HOST:PORT?token=...`): `main.rs` serves the `net-relay`
//! component's `friscy:net/transport` import from it.
//!
//! The WebSocket lives on its own thread (a single-threaded tokio runtime); the transport
//! side only touches a shared inbox and a channel, so `send` and `try_recv` never block, as
//! the `Net` trait's callers require. A host sleeps until a message arrives with `wait`
//! (blocking, for tests) or `ready` (async, behind a wasi:io pollable).
//!
//! Self-contained on purpose: the proxy's tests compile this very file to drive `RelayNet`
//! end to end.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use friscy_net::relay::{Closed, Transport};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::{self, Message};

/// What the WebSocket thread has delivered and the transport not yet handed out.
#[derive(Default)]
struct Inbox {
    messages: VecDeque<Vec<u8>>,
    /// Why the connection ended, once it has. Messages that arrived before stay readable.
    closed: Option<String>,
}

impl Inbox {
    fn has_news(&self) -> bool {
        !self.messages.is_empty() || self.closed.is_some()
    }
}

/// The inbox plus the two ways of waiting for it: a condvar for threads (`wait`) and a
/// tokio `Notify` for futures (`ready`, which the host's pollable awaits inside
/// wasmtime-wasi's runtime; `Notify` works across runtimes).
#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    arrived: Condvar,
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panic while holding the lock leaves a plain queue behind: still usable.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, f: impl FnOnce(&mut Inbox)) {
        f(&mut self.lock());
        self.arrived.notify_all();
        // `notify_waiters` wakes every registered `ready` future (there may be several
        // pollables); one registered after this sees the news in the inbox instead.
        self.notify.notify_waiters();
    }
}

pub struct WsTransport {
    shared: Arc<Shared>,
    outbox: mpsc::UnboundedSender<Vec<u8>>,
}

/// Waits for the transport's news without owning it: what the host's pollable holds.
#[derive(Clone)]
pub struct Waker(Arc<Shared>);

impl Waker {
    /// Resolves once a message is queued or the transport has closed.
    pub async fn ready(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            // Register before looking, so a delivery between the look and the await is
            // not lost.
            notified.as_mut().enable();
            if self.0.lock().has_news() {
                return;
            }
            notified.await;
        }
    }
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

/// The URL without its query, so a token never ends up in a message.
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl WsTransport {
    /// Opens the WebSocket, waiting at most `timeout` for the handshake. A refusal by the
    /// proxy (wrong token, too many clients) comes back with the proxy's reason.
    pub fn connect(url: &str, timeout: Duration) -> Result<WsTransport, ConnectError> {
        check_url(url).map_err(ConnectError)?;
        // `ws://host:port?token=x` has an empty path, which would make the request line
        // `GET ?token=x`: give it the root path.
        let rest = &url["ws://".len()..];
        let full = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => format!("ws://{}/{}", &rest[..i], &rest[i..]),
            _ => url.to_string(),
        };
        let shown = redact(url).to_string();
        let shared = Arc::new(Shared::default());
        let (outbox, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConnectError(format!("starting the WebSocket thread: {e}")))?;
        let sh = shared.clone();
        std::thread::Builder::new()
            .name("friscy-relay".into())
            .spawn(move || {
                rt.block_on(async move {
                    // Nagle's algorithm against the peer's delayed ACK would hold each small
                    // frame back ~40 ms; the relay's frames are already as big as they can be.
                    let handshake =
                        tokio_tungstenite::connect_async_with_config(full.as_str(), None, true);
                    let ws = match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok((ws, _))) => ws,
                        Ok(Err(e)) => return drop(ready_tx.send(Err(describe(e)))),
                        Err(_) => return drop(ready_tx.send(Err("handshake timed out".into()))),
                    };
                    if ready_tx.send(Ok(())).is_err() {
                        return;
                    }
                    let (mut sink, mut source) = ws.split();
                    let reader = async {
                        let why = loop {
                            match source.next().await {
                                Some(Ok(Message::Binary(b))) => {
                                    sh.deliver(|i| i.messages.push_back(b.to_vec()));
                                }
                                Some(Ok(Message::Close(f))) => {
                                    break match f {
                                        Some(f) if !f.reason.is_empty() => {
                                            format!("the proxy closed the connection: {}", f.reason)
                                        }
                                        _ => "the proxy closed the connection".into(),
                                    };
                                }
                                Some(Ok(_)) => {}
                                Some(Err(e)) => break format!("WebSocket error: {e}"),
                                None => break "the connection to the proxy ended".into(),
                            }
                        };
                        sh.deliver(|i| {
                            i.closed.get_or_insert(why);
                        });
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
                    // However the thread ends, the transport must see it as closed, or a
                    // guest waiting on it would wait forever.
                    sh.deliver(|i| {
                        i.closed
                            .get_or_insert_with(|| "the WebSocket thread ended".into());
                    });
                })
            })
            .map_err(|e| ConnectError(format!("starting the WebSocket thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(WsTransport { shared, outbox }),
            Ok(Err(why)) => Err(ConnectError(format!("connecting to {shown}: {why}"))),
            Err(_) => Err(ConnectError(format!(
                "connecting to {shown}: the WebSocket thread failed"
            ))),
        }
    }

    /// Waits up to `timeout` until `try_recv` has a message or the close to report;
    /// returns whether it has.
    // The proxy's tests wait this way; the host waits through `waker`.
    #[allow(dead_code)]
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut inbox = self.shared.lock();
        loop {
            if inbox.has_news() {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inbox = match self.shared.arrived.wait_timeout(inbox, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// A handle whose `ready` resolves when a message or the close arrives: for an async
    /// host (a wasmtime pollable) that must not block a thread in `wait`.
    pub fn waker(&self) -> Waker {
        Waker(self.shared.clone())
    }

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.lock().closed.clone()
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
        if self.shared.lock().closed.is_some() {
            return Err(Closed);
        }
        self.outbox.send(message).map_err(|_| Closed)
    }

    fn try_recv(&mut self) -> Result<Option<Vec<u8>>, Closed> {
        let mut inbox = self.shared.lock();
        match inbox.messages.pop_front() {
            Some(m) => Ok(Some(m)),
            None if inbox.closed.is_some() => Err(Closed),
            None => Ok(None),
        }
    }

    fn subscribe(&mut self) -> Option<u32> {
        // No wasi:io pollable handle here: the host makes its own from `waker`.
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
        let e = WsTransport::connect("ws://127.0.0.1:1?token=secret", Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(e.0.contains("connecting to ws://127.0.0.1:1:"), "{e}");
        assert!(!e.0.contains("secret"), "the token leaked: {e}");
    }

    #[test]
    fn the_waker_sees_deliveries_made_before_and_while_waiting() {
        let shared = Arc::new(Shared::default());
        let waker = Waker(shared.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing yet: not ready.
        let pending = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), waker.ready())
                .await
                .is_err()
        });
        assert!(pending);
        // Delivered from another thread while waiting: ready.
        let s = shared.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            s.deliver(|i| i.messages.push_back(vec![1]));
        });
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), waker.ready())
                .await
                .expect("ready after a delivery")
        });
        t.join().unwrap();
        // Still queued: ready at once (the pollable is level-triggered).
        rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), waker.ready())
                .await
                .expect("ready while a message is queued")
        });
    }
}
