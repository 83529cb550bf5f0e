//! `Host`: what the kernel needs from whatever runs it (stdio, clocks, randomness, the
//! trace sink, and a way to sleep until something happens). The component bindings
//! implement it over WASI; native tests implement it over buffers. Keeping it a trait keeps
//! the kernel a plain, natively testable library.

/// One of the three standard streams the host gives the first process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    In,
    Out,
    Err,
}

pub trait Host {
    /// Read up to `max` bytes from the host's stdin without blocking: `None` when nothing is
    /// available yet, an empty vector at end of file.
    fn read_stdin(&mut self, max: usize) -> Option<Vec<u8>>;
    /// Write all of `data` to the host's stdout or stderr. The error is what the guest's
    /// write(2) fails with: EPIPE when the reader closed the pipe (the kernel adds SIGPIPE),
    /// the host's own error otherwise (ENOSPC for a full disk or `> /dev/full`, EIO...).
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), friscy_abi::Errno>;
    /// Whether a standard stream is a terminal (isatty).
    fn is_terminal(&self, stream: Stdio) -> bool;
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
    /// from the net backend, owned by the host from here on), or until the monotonic clock
    /// reaches `deadline_ns` (if given), whichever comes first. With none of these, return
    /// at once (the kernel then reports a deadlock).
    fn wait(&mut self, stdin: bool, deadline_ns: Option<u64>, pollables: Vec<u32>);
}
