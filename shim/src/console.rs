//! `friscy:tty/console` for the guest of a container: the mode (`raw` with `ctr run -t`,
//! else `none`), the terminal size (the spec's consoleSize, then every ResizePty), and the
//! signals `ctr task kill` sends, which the kernel delivers to the guest's init process as
//! Linux does to a container's pid 1. Events come from the daemon's control pipe
//! (`runner::controls`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::runner::State;

wasmtime::component::bindgen!({
    inline: "
        package friscy:shim-console;
        world shim-console { import friscy:tty/console@0.1.0; }
    ",
    path: "../wit",
    // The pollable is wasmtime-wasi's own, so the kernel polls it with stdin and timers.
    with: { "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll },
    imports: { default: trappable },
    require_store_data_send: true,
});

use friscy::tty::console::{self, Event, TtyMode as Mode, Winsize};

#[derive(Default)]
struct Queue {
    size: Option<Winsize>,
    events: VecDeque<Event>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    notify: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The console's host side: kept in the store, and cloned into the control thread.
#[derive(Clone)]
pub struct Console {
    mode: Mode,
    shared: Arc<Shared>,
}

impl Console {
    pub fn new(terminal: bool, size: Option<(u16, u16)>) -> Console {
        let shared = Arc::new(Shared::default());
        shared.lock().size = size
            .filter(|&(r, c)| r > 0 && c > 0)
            .map(|(rows, cols)| Winsize { rows, cols });
        let mode = if terminal { Mode::Raw } else { Mode::None };
        Console { mode, shared }
    }

    fn push(&self, event: Event) {
        self.shared.lock().events.push_back(event);
        self.shared.notify.notify_waiters();
    }

    /// `ctr task kill -s N`: for the guest's init.
    pub fn signal(&self, n: u8) {
        self.push(Event::Signal(n));
    }

    /// ResizePty (only with a terminal; zero sizes are ignored).
    pub fn resize(&self, rows: u16, cols: u16) {
        if self.mode == Mode::None || rows == 0 || cols == 0 {
            return;
        }
        let ws = Winsize { rows, cols };
        self.shared.lock().size = Some(ws);
        self.push(Event::Resize(ws));
    }
}

pub fn add_to_linker(linker: &mut Linker<State>) -> Result<()> {
    console::add_to_linker::<State, HasSelf<State>>(linker, |s| s)?;
    Ok(())
}

/// Ready while events are queued (level-triggered, as wasi:io pollables are).
struct ConsolePollable(Arc<Shared>);

#[wasmtime_wasi::async_trait]
impl Pollable for ConsolePollable {
    async fn ready(&mut self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            // Register before looking, so an event between the look and the await is
            // not lost.
            notified.as_mut().enable();
            if !self.0.lock().events.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

impl console::Host for State {
    fn mode(&mut self) -> wasmtime::Result<Mode> {
        Ok(self.console.mode)
    }

    fn size(&mut self) -> wasmtime::Result<Option<Winsize>> {
        Ok(self.console.shared.lock().size)
    }

    fn events(&mut self) -> wasmtime::Result<Vec<Event>> {
        Ok(self.console.shared.lock().events.drain(..).collect())
    }

    fn subscribe(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let pollable = self
            .table
            .push(ConsolePollable(self.console.shared.clone()))?;
        subscribe(&mut self.table, pollable)
    }
}
