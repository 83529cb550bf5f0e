//! The console, host side: `friscy:tty/console` for the guest, and the real terminal.
//!
//! With `-t` the guest gets a terminal (mode `raw`): if friscy's stdin is a terminal it is
//! switched to raw mode, so every key arrives unchanged (Ctrl-C as 0x03, for the kernel's
//! line discipline to turn into SIGINT) and output goes out unchanged; its size is
//! reported at start and on every SIGWINCH. The terminal is restored on every way out:
//! a normal return (the guard's drop), a panic (the hook), and the signals that end
//! friscy (here, before exiting).
//!
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to friscy are forwarded to the guest's init
//! as `signal` events, as `docker run` does (docker's sig-proxy), with or without `-t`.
//! An init without a handler ignores them (see the kernel's `signal_init`), so friscy
//! does not wait forever: a second signal ends it at once, and after SIGTERM or SIGHUP
//! the guest has `STOP_TIMEOUT` (docker stop's default) to exit. friscy then exits with
//! 128 + the signal number.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use crate::State;

wasmtime::component::bindgen!({
    inline: "
        package friscy:host-console;
        world host-console { import friscy:tty/console@0.1.0; }
    ",
    path: "../wit",
    // The pollable is wasmtime-wasi's own, so the kernel polls it with stdin and timers.
    with: { "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll },
    imports: { default: trappable },
    require_store_data_send: true,
});

use friscy::tty::console::{self, Event, TtyMode, Winsize};

/// How long the guest has to exit after a forwarded SIGTERM or SIGHUP.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the host side knows: the mode, the current size, events not yet fetched.
pub struct Console {
    mode: TtyMode,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<Queue>,
    notify: tokio::sync::Notify,
}

#[derive(Default)]
struct Queue {
    size: Option<Winsize>,
    events: VecDeque<Event>,
    /// Signals forwarded so far.
    forwarded: u32,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn push(&self, ev: Event) {
        self.lock().events.push_back(ev);
        self.notify.notify_waiters();
    }
}

/// The terminal's settings before raw mode, to put back: (fd, termios).
static SAVED: Mutex<Option<(i32, libc::termios)>> = Mutex::new(None);

/// Put the terminal back as it was (idempotent; safe from any thread).
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some((fd, t)) = saved {
        // SAFETY: tcsetattr with a termios that tcgetattr filled in for the same fd.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) };
    }
}

/// Restores the terminal when dropped (the normal and error ways out of `run`).
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// The terminal's size, if fd is one.
fn size_of(fd: i32) -> Option<Winsize> {
    // SAFETY: TIOCGWINSZ fills in a struct winsize, which `ws` is.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some(Winsize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// Switch the terminal on `fd` to raw mode (cfmakeraw), remembering how it was.
fn make_raw(fd: i32) -> Result<()> {
    // SAFETY: tcgetattr/cfmakeraw/tcsetattr on a termios we own, for a terminal fd.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            anyhow::bail!("-t: cannot read the terminal's settings");
        }
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some((fd, t));
        let mut raw = t;
        libc::cfmakeraw(&mut raw);
        if libc::tcsetattr(fd, libc::TCSANOW, &raw) != 0 {
            anyhow::bail!("-t: cannot switch the terminal to raw mode");
        }
    }
    Ok(())
}

impl Console {
    /// Set up the console: with `tty`, raw mode on a real terminal (if stdin is one) and
    /// its size; in every case the signal forwarding. The guard restores the terminal.
    pub fn start(tty: bool) -> Result<(Console, Guard)> {
        let shared = Arc::new(Shared::default());
        let stdin = std::io::stdin();
        let terminal = tty && stdin.is_terminal();
        if terminal {
            let fd = stdin.as_raw_fd();
            shared.lock().size = size_of(fd).or_else(|| size_of(std::io::stdout().as_raw_fd()));
            make_raw(fd)?;
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                prev(info);
            }));
        }
        forward_signals(shared.clone(), terminal)?;
        let mode = if tty { TtyMode::Raw } else { TtyMode::None };
        Ok((Console { mode, shared }, Guard))
    }
}

/// A thread that turns the signals friscy receives into console events.
fn forward_signals(shared: Arc<Shared>, terminal: bool) -> Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH])?;
    std::thread::Builder::new()
        .name("friscy-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGWINCH {
                    if terminal && let Some(ws) = size_of(std::io::stdin().as_raw_fd()) {
                        shared.lock().size = Some(ws);
                        shared.push(Event::Resize(ws));
                    }
                    continue;
                }
                let forwarded = {
                    let mut q = shared.lock();
                    q.forwarded += 1;
                    q.forwarded
                };
                if forwarded > 1 {
                    die(sig, "a second signal");
                }
                shared.push(Event::Signal(sig as u8));
                if sig == SIGTERM || sig == SIGHUP {
                    std::thread::spawn(move || {
                        std::thread::sleep(STOP_TIMEOUT);
                        die(sig, "the guest did not exit in time");
                    });
                }
            }
        })?;
    Ok(())
}

/// End friscy after a signal, with the terminal restored and the status a shell would
/// show for dying of it.
fn die(sig: i32, why: &str) -> ! {
    restore();
    eprintln!("friscy: {why} (signal {sig}): stopping");
    std::process::exit(128 + sig);
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
    fn mode(&mut self) -> wasmtime::Result<TtyMode> {
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
