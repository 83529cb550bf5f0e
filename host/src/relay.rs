//! `--proxy`: serves the `friscy:net/transport` import of `friscy-relay-open.wasm` (whose
//! net component, `RelayNet`, relays every socket through `friscy-proxy`) over the
//! WebSocket client in `relay_transport`. This is the browser's network path with the
//! page's JavaScript replaced by native code, so it can be tested without a browser.

use std::time::Duration;

use anyhow::{Result, anyhow};
use friscy_net::relay::Transport;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::State;
use crate::relay_transport::{Waker, WsTransport};

wasmtime::component::bindgen!({
    inline: "
        package friscy:host;
        world relay { import friscy:net/transport@0.1.0; }
    ",
    path: "../wit",
    // The pollable `subscribe` returns is wasmtime-wasi's own, so the guest can poll it
    // with wasi:io/poll together with stdin, timers and clocks.
    with: { "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll },
    imports: { default: trappable },
    // wasmtime-wasi's poll bindings require it; State is Send.
    require_store_data_send: true,
});

use friscy::net::transport::{self, Closed};

/// How long the WebSocket handshake may take before `friscy run` gives up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the WebSocket to the proxy; a refusal or an unreachable proxy becomes one line
/// naming `--proxy` (and never the token).
pub fn connect(url: &str) -> Result<WsTransport> {
    WsTransport::connect(url, HANDSHAKE_TIMEOUT).map_err(|e| anyhow!("--proxy: {e}"))
}

pub fn add_to_linker(linker: &mut Linker<State>) -> Result<()> {
    transport::add_to_linker::<State, HasSelf<State>>(linker, |s| s)?;
    Ok(())
}

/// Ready while a message is queued or the transport has closed: level-triggered, as
/// wasi:io pollables are (the kernel's idle wait re-subscribes each time round).
struct RelayPollable(Waker);

#[wasmtime_wasi::async_trait]
impl Pollable for RelayPollable {
    async fn ready(&mut self) {
        self.0.ready().await
    }
}

impl State {
    fn transport(&mut self) -> wasmtime::Result<&mut WsTransport> {
        // Only linked with --proxy, which always connects first.
        self.relay
            .as_mut()
            .ok_or_else(|| wasmtime::Error::msg("friscy:net/transport used without --proxy"))
    }

    fn closed(&mut self) -> Closed {
        let reason = self
            .relay
            .as_ref()
            .and_then(|t| t.close_reason())
            .unwrap_or_else(|| "the connection to the proxy is closed".into());
        Closed { reason }
    }
}

impl transport::Host for State {
    fn send(&mut self, message: Vec<u8>) -> wasmtime::Result<Result<(), Closed>> {
        Ok(match self.transport()?.send(message) {
            Ok(()) => Ok(()),
            Err(_) => Err(self.closed()),
        })
    }

    fn try_recv(&mut self) -> wasmtime::Result<Result<Option<Vec<u8>>, Closed>> {
        Ok(match self.transport()?.try_recv() {
            Ok(m) => Ok(m),
            Err(_) => Err(self.closed()),
        })
    }

    fn subscribe(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let waker = self.transport()?.waker();
        let pollable = self.table.push(RelayPollable(waker))?;
        subscribe(&mut self.table, pollable)
    }
}
