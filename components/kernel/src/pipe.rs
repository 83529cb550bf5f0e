//! Pipes (pipe(7)): a bounded byte buffer with counted read and write ends.
//!
//! The counts decide end of file (no writers left) and EPIPE (no readers left), so they
//! must follow the open file descriptions exactly: a `PipeEnd` counts itself when created
//! or cloned and uncounts itself when dropped, which happens when the last descriptor for
//! its open file description closes (close, dup2 over it, exec with FD_CLOEXEC, exit).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

/// The default pipe capacity on Linux (16 pages).
pub const PIPE_BUF_SIZE: usize = 65536;
/// Writes of at most this many bytes are atomic (PIPE_BUF).
pub const PIPE_BUF: usize = 4096;

#[derive(Default)]
pub struct Pipe {
    pub buf: VecDeque<u8>,
    pub readers: usize,
    pub writers: usize,
    /// A unique number for fstat's st_ino and /proc/self/fd's `pipe:[N]`.
    pub id: u64,
}

impl Pipe {
    /// Bytes a writer may add now.
    pub fn space(&self) -> usize {
        PIPE_BUF_SIZE.saturating_sub(self.buf.len())
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

/// One end of a pipe, as an open file description holds it.
pub struct PipeEnd {
    pub pipe: Rc<RefCell<Pipe>>,
    pub write: bool,
}

impl PipeEnd {
    pub fn new(pipe: Rc<RefCell<Pipe>>, write: bool) -> PipeEnd {
        {
            let mut p = pipe.borrow_mut();
            if write {
                p.writers += 1;
            } else {
                p.readers += 1;
            }
        }
        PipeEnd { pipe, write }
    }

    /// A new pipe: (read end, write end).
    pub fn pair(id: u64) -> (PipeEnd, PipeEnd) {
        let pipe = Rc::new(RefCell::new(Pipe {
            id,
            ..Pipe::default()
        }));
        (PipeEnd::new(pipe.clone(), false), PipeEnd::new(pipe, true))
    }
}

impl Clone for PipeEnd {
    fn clone(&self) -> PipeEnd {
        PipeEnd::new(self.pipe.clone(), self.write)
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut p = self.pipe.borrow_mut();
        if self.write {
            p.writers -= 1;
        } else {
            p.readers -= 1;
        }
    }
}

impl PartialEq for PipeEnd {
    fn eq(&self, other: &PipeEnd) -> bool {
        Rc::ptr_eq(&self.pipe, &other.pipe) && self.write == other.write
    }
}

impl Eq for PipeEnd {}

impl fmt::Debug for PipeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.write { "write" } else { "read" };
        write!(f, "pipe:[{}] {end}", self.pipe.borrow().id)
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
        drop(w);
        drop(w2);
        assert_eq!(pipe.borrow().writers, 0);
        drop(r);
        assert_eq!(pipe.borrow().readers, 0);
    }
}
