//! `Host`: what the kernel needs from whatever runs it (stdio, clocks, randomness, the
//! trace sink, the console facts of `friscy:tty/console`, and a way to sleep until
//! something happens). The component bindings
//! implement it over WASI; native tests implement it over buffers. Keeping it a trait keeps
//! the kernel a plain, natively testable library.

/// One of the three standard streams the host gives the first process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    In,
    Out,
    Err,
}

/// What the guest's stdin and stdout are connected to (`friscy:tty/console`'s `mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConsoleMode {
    /// Pipes or files: the guest sees no terminal.
    #[default]
    None,
    /// A terminal in raw mode: the kernel's line discipline does everything.
    Raw,
    /// A terminal the host keeps cooked (it echoes and edits lines itself).
    Cooked,
}

/// Something the host saw, forwarded to the guest (`friscy:tty/console`'s `event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleEvent {
    /// The terminal's new size: SIGWINCH to its foreground process group.
    Resize { rows: u16, cols: u16 },
    /// A signal the host received (Linux number), for the guest's init.
    Signal(u8),
}

pub trait Host {
    /// Read up to `max` bytes from the host's stdin without blocking: `None` when nothing is
    /// available yet, an empty vector at end of file.
    fn read_stdin(&mut self, max: usize) -> Option<Vec<u8>>;
    /// Write all of `data` to the host's stdout or stderr. The error is what the guest's
    /// write(2) fails with: EPIPE when the reader closed the pipe (the kernel adds SIGPIPE),
    /// the host's own error otherwise (ENOSPC for a full disk or `> /dev/full`, EIO...).
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), friscy_abi::Errno>;
    /// How stdin and stdout are connected; constant for the run.
    fn console_mode(&self) -> ConsoleMode {
        ConsoleMode::None
    }
    /// The terminal's size (rows, columns) when the host knows it.
    fn console_size(&self) -> Option<(u16, u16)> {
        None
    }
    /// Events since the last call, oldest first. Called before every time slice.
    fn console_events(&mut self) -> Vec<ConsoleEvent> {
        Vec::new()
    }
    /// Wall-clock time since the Unix epoch: (seconds, nanoseconds).
    fn wall_clock(&self) -> (i64, u32);
    /// A monotonic clock in nanoseconds from an arbitrary start.
    fn monotonic_ns(&self) -> u64;
    /// Fill `buf` with cryptographically secure random bytes.
    fn random(&mut self, buf: &mut [u8]);
    /// Emit one diagnostic line (the syscall trace, friscy's own error messages).
    fn diagnostic(&mut self, line: &str);
    /// Called when every guest task is parked: block until stdin has data or end of file
    /// (only if `stdin`), until one of `pollables` is ready (wasi:io/poll pollable handles
    /// from the net backend, owned by the host from here on), until a console event
    /// arrives, or until the monotonic clock reaches `deadline_ns` (if given), whichever
    /// comes first. With none of the first and last, return at once (the kernel then
    /// reports a deadlock).
    fn wait(&mut self, stdin: bool, deadline_ns: Option<u64>, pollables: Vec<u32>);
    /// Whether the host keeps the writable layer between runs (persist.rs); if not,
    /// `save_layer` is never called.
    fn keeps_layer(&self) -> bool {
        false
    }
    /// Store the writable layer (an OCI layer tar), replacing the one saved before.
    fn save_layer(&mut self, layer: &[u8]) {
        let _ = layer;
    }
}
