//! Pipes (pipe(7)) and FIFOs (fifo(7)): a bounded byte buffer with counted read and write
//! ends.
//!
//! The counts decide end of file (no writers left) and EPIPE (no readers left), so they
//! must follow the open file descriptions exactly: a `PipeEnd` counts itself when created
//! or cloned and uncounts itself when dropped, which happens when the last descriptor for
//! its open file description closes (close, dup2 over it, exec with FD_CLOEXEC, exit).
//!
//! A FIFO is a pipe reached by path: `Fifos` holds one pipe per FIFO inode while any end
//! of it is open (or an opener waits), so every opener shares it, and it goes (with its
//! data) when the last end closes, as Linux frees the inode's pipe_inode_info.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};

use friscy_vfs::Ino;

use crate::process::Pid;

/// The default pipe capacity on Linux (16 pages).
pub const PIPE_BUF_SIZE: usize = 65536;
/// Writes of at most this many bytes are atomic (PIPE_BUF).
pub const PIPE_BUF: usize = 4096;

/// The largest capacity F_SETPIPE_SZ grants without CAP_SYS_RESOURCE
/// (/proc/sys/fs/pipe-max-size).
pub const PIPE_MAX_SIZE: usize = 1 << 20;
/// The largest capacity at all (round_pipe_size refuses more than 2^31 bytes).
const PIPE_SIZE_LIMIT: usize = 1 << 31;

/// A pipe's bytes: a ring of `cap` bytes (PIPE_BUF_SIZE unless F_SETPIPE_SZ changed it),
/// allocated at the first write. Writers copy guest memory straight into its free space
/// and readers copy out of its filled part (`spare`, `as_slices`), so a byte is copied once
/// on its way in and once on its way out.
pub struct Ring {
    data: Vec<u8>,
    head: usize,
    len: usize,
    cap: usize,
    /// How many times bytes were added: each wakes the reader, which an edge-triggered
    /// epoll reports again (epoll.rs; pipe_write wakes epoll readers at every write).
    pub added: u64,
}

impl Default for Ring {
    fn default() -> Ring {
        Ring {
            data: Vec::new(),
            head: 0,
            len: 0,
            cap: PIPE_BUF_SIZE,
            added: 0,
        }
    }
}

impl Ring {
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// F_SETPIPE_SZ's size as the pipe gets it (round_pipe_size): a power of two pages;
    /// EINVAL past 2^31 bytes.
    pub fn round_capacity(size: usize) -> Result<usize, friscy_abi::Errno> {
        if size > PIPE_SIZE_LIMIT {
            return Err(friscy_abi::Errno::EINVAL);
        }
        Ok(size.max(4096).next_power_of_two())
    }

    /// F_SETPIPE_SZ (pipe_set_size): `size` rounded as `round_capacity` does; EBUSY if the
    /// bytes in it would not fit. Returns the new capacity.
    pub fn set_capacity(&mut self, size: usize) -> Result<usize, friscy_abi::Errno> {
        use friscy_abi::Errno;
        let cap = Self::round_capacity(size)?;
        if cap < self.len {
            return Err(Errno::EBUSY);
        }
        if !self.data.is_empty() {
            let bytes = self.peek(self.len);
            self.data = Vec::new();
            self.head = 0;
            self.len = 0;
            self.cap = cap;
            self.extend(&bytes);
        }
        self.cap = cap;
        Ok(cap)
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The bytes in order, as (up to) two slices.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        let cap = self.data.len();
        if self.head + self.len <= cap {
            (&self.data[self.head..self.head + self.len], &[])
        } else {
            let wrap = self.head + self.len - cap;
            (&self.data[self.head..], &self.data[..wrap])
        }
    }
    /// The first `n` bytes, copied out.
    pub fn peek(&self, n: usize) -> Vec<u8> {
        let (a, b) = self.as_slices();
        let n = n.min(self.len);
        let mut out = Vec::with_capacity(n);
        out.extend_from_slice(&a[..n.min(a.len())]);
        out.extend_from_slice(&b[..n - n.min(a.len())]);
        out
    }
    /// Drop the first `n` bytes.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            (self.head + n) % self.data.len()
        };
    }
    /// The free space after the bytes, in order, as (up to) two slices to fill in place;
    /// `commit` then adds what was written.
    pub fn spare(&mut self) -> (&mut [u8], &mut [u8]) {
        if self.data.is_empty() {
            self.data = vec![0; self.cap];
        }
        let cap = self.data.len();
        let tail = (self.head + self.len) % cap;
        let free = cap - self.len;
        if tail + free <= cap {
            (&mut self.data[tail..tail + free], &mut [])
        } else {
            let (front, back) = self.data.split_at_mut(tail);
            (back, &mut front[..free - (cap - tail)])
        }
    }
    pub fn commit(&mut self, n: usize) {
        self.added += (n > 0) as u64;
        self.len = (self.len + n).min(self.cap);
    }
    /// Append `bytes` (at most the free space).
    pub fn extend(&mut self, bytes: &[u8]) {
        let (a, b) = self.spare();
        let first = bytes.len().min(a.len());
        a[..first].copy_from_slice(&bytes[..first]);
        let second = (bytes.len() - first).min(b.len());
        b[..second].copy_from_slice(&bytes[first..first + second]);
        self.commit(first + second);
    }
}

#[derive(Default)]
pub struct Pipe {
    pub buf: Ring,
    pub readers: usize,
    pub writers: usize,
    /// A unique number for fstat's st_ino and /proc/self/fd's `pipe:[N]`.
    pub id: u64,
    /// How many times a reader, a writer, has opened it (Linux's r_counter, w_counter): a
    /// FIFO opener waiting for its partner is done once the count moves, even if the
    /// partner has already closed again by the time the waiter runs.
    pub r_counter: u64,
    pub w_counter: u64,
}

impl Pipe {
    /// Bytes a writer may add now.
    pub fn space(&self) -> usize {
        self.buf.capacity().saturating_sub(self.buf.len())
    }

    /// How many of `len` bytes a write may put in now: EPIPE without readers, EAGAIN
    /// ("would block") when nothing may go in. Writes up to PIPE_BUF are atomic, all or
    /// nothing; larger ones take what fits and return the short count.
    pub fn writable(&self, len: usize) -> Result<usize, friscy_abi::Errno> {
        use friscy_abi::Errno;
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let space = self.space();
        if space == 0 || (len <= PIPE_BUF && space < len) {
            return Err(Errno::EAGAIN);
        }
        Ok(len.min(space))
    }
}

/// One end of a pipe, as an open file description holds it: the read end, the write end,
/// or both (a FIFO opened O_RDWR).
pub struct PipeEnd {
    pub pipe: Rc<RefCell<Pipe>>,
    pub read: bool,
    pub write: bool,
    /// The FIFO inode it was opened by (fstat reports the inode, not the pipe).
    pub fifo: Option<Ino>,
    /// A FIFO reader opened O_NONBLOCK while there was no writer: POLLHUP is held back
    /// until a writer has come (while `w_counter` still equals this), as Linux does.
    pub hup_after: Option<u64>,
}

impl PipeEnd {
    pub fn new(pipe: Rc<RefCell<Pipe>>, read: bool, write: bool) -> PipeEnd {
        {
            let mut p = pipe.borrow_mut();
            p.readers += read as usize;
            p.writers += write as usize;
        }
        PipeEnd {
            pipe,
            read,
            write,
            fifo: None,
            hup_after: None,
        }
    }

    /// A new pipe: (read end, write end).
    pub fn pair(id: u64) -> (PipeEnd, PipeEnd) {
        let pipe = Rc::new(RefCell::new(Pipe {
            id,
            r_counter: 1,
            w_counter: 1,
            ..Pipe::default()
        }));
        (
            PipeEnd::new(pipe.clone(), true, false),
            PipeEnd::new(pipe, false, true),
        )
    }
}

impl Clone for PipeEnd {
    fn clone(&self) -> PipeEnd {
        let mut end = PipeEnd::new(self.pipe.clone(), self.read, self.write);
        end.fifo = self.fifo;
        end.hup_after = self.hup_after;
        end
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut p = self.pipe.borrow_mut();
        p.readers -= self.read as usize;
        p.writers -= self.write as usize;
    }
}

impl PartialEq for PipeEnd {
    fn eq(&self, other: &PipeEnd) -> bool {
        Rc::ptr_eq(&self.pipe, &other.pipe) && (self.read, self.write) == (other.read, other.write)
    }
}

impl Eq for PipeEnd {}

impl fmt::Debug for PipeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = match (self.read, self.write) {
            (true, true) => "read-write",
            (false, true) => "write",
            _ => "read",
        };
        write!(f, "pipe:[{}] {end}", self.pipe.borrow().id)
    }
}

/// An open of a FIFO parked until its partner comes: the end it holds (counted, so the
/// partner sees it) and the partner's open count when it parked.
pub struct FifoWait {
    pub ino: Ino,
    pub end: PipeEnd,
    pub partner_count: u64,
}

/// The pipes of the FIFOs that are open, and the opens waiting for a partner.
#[derive(Default)]
pub struct Fifos {
    pipes: HashMap<Ino, Weak<RefCell<Pipe>>>,
    /// By thread id: a parked open keeps its end here between its retries.
    pub waiting: HashMap<Pid, FifoWait>,
}

impl Fifos {
    /// The pipe of FIFO `ino`: the one its open ends share, or a new, empty one.
    pub fn pipe(&mut self, ino: Ino, next_id: &mut u64) -> Rc<RefCell<Pipe>> {
        if let Some(pipe) = self.pipes.get(&ino).and_then(Weak::upgrade) {
            return pipe;
        }
        self.pipes.retain(|_, w| w.strong_count() > 0);
        let pipe = Rc::new(RefCell::new(Pipe {
            id: *next_id,
            ..Pipe::default()
        }));
        *next_id += 1;
        self.pipes.insert(ino, Rc::downgrade(&pipe));
        pipe
    }

    /// A thread parked in a FIFO open stops waiting (a signal interrupted it, or it is
    /// gone): its end no longer counts.
    pub fn abandon(&mut self, tid: Pid) {
        self.waiting.remove(&tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_are_counted_through_clones_and_drops() {
        let (r, w) = PipeEnd::pair(1);
        let pipe = r.pipe.clone();
        assert_eq!((pipe.borrow().readers, pipe.borrow().writers), (1, 1));
        let w2 = w.clone();
        assert_eq!(pipe.borrow().writers, 2);
        let rw = PipeEnd::new(pipe.clone(), true, true);
        assert_eq!((pipe.borrow().readers, pipe.borrow().writers), (2, 3));
        drop(rw);
        drop(w);
        drop(w2);
        assert_eq!(pipe.borrow().writers, 0);
        drop(r);
        assert_eq!(pipe.borrow().readers, 0);
    }

    #[test]
    fn the_ring_wraps_and_keeps_order() {
        let mut r = Ring::default();
        let all: Vec<u8> = (0..PIPE_BUF_SIZE).map(|i| (i % 251) as u8).collect();
        r.extend(&all[..50_000]);
        assert_eq!(r.peek(3), vec![0, 1, 2]);
        r.consume(40_000);
        r.extend(&all[50_000..]);
        r.extend(&all[..30_000]);
        assert_eq!(r.len(), 10_000 + (PIPE_BUF_SIZE - 50_000) + 30_000);
        let (a, b) = r.as_slices();
        let got = [a, b].concat();
        let want = [&all[40_000..], &all[..30_000]].concat();
        assert_eq!(got, want);
        // Full: no spare room; emptied: starts over at the front.
        assert_eq!(
            r.spare().0.len() + r.spare().1.len(),
            PIPE_BUF_SIZE - r.len()
        );
        r.consume(r.len());
        assert!(r.is_empty());
        assert_eq!(r.spare().0.len(), PIPE_BUF_SIZE);
    }

    #[test]
    fn a_resized_ring_keeps_its_bytes_in_order() {
        let mut r = Ring::default();
        let all: Vec<u8> = (0..60_000).map(|i| (i % 251) as u8).collect();
        r.extend(&all[..50_000]);
        r.consume(40_000);
        r.extend(&all[50_000..]); // wraps
        assert_eq!(r.set_capacity(4096), Err(friscy_abi::Errno::EBUSY));
        assert_eq!(r.set_capacity(100_000), Ok(131_072));
        assert_eq!(r.peek(r.len()), &all[40_000..]);
        assert_eq!(r.spare().0.len() + r.spare().1.len(), 131_072 - 20_000);
        r.consume(r.len());
        assert_eq!(r.set_capacity(1), Ok(4096));
        assert_eq!(r.set_capacity(usize::MAX), Err(friscy_abi::Errno::EINVAL));
    }
}
