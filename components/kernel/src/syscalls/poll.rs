//! Waiting on descriptors and making pipes: pipe2, ppoll, pselect6, and the readiness of
//! each kind of open file that they (and epoll, later) share.

use friscy_abi::Errno;

use super::fs::{O_CLOEXEC, O_NONBLOCK};
use super::signal::read_timespec_ns;
use super::{Args, SysResult};
use crate::fd::{FdEntry, FileKind, OpenFile, new_file};
use crate::host::Stdio;
use crate::pipe::PipeEnd;
use crate::process::Wake;
use crate::{Kernel, Process};

pub const POLLIN: u16 = 0x1;
pub const POLLPRI: u16 = 0x2;
pub const POLLOUT: u16 = 0x4;
pub const POLLERR: u16 = 0x8;
pub const POLLHUP: u16 = 0x10;
pub const POLLNVAL: u16 = 0x20;
pub const POLLRDNORM: u16 = 0x40;
pub const POLLWRNORM: u16 = 0x100;
/// A stream socket's reading side is shut: the peer sent its last byte (shutdown or
/// close) or the socket shut its own (tokio's `is_read_closed`, Go's netpoller, libuv).
pub const POLLRDHUP: u16 = 0x2000;

/// O_DIRECT: a "packet mode" pipe; accepted, and behaves as a byte pipe.
const O_DIRECT: u32 = 0o40000;

impl Kernel {
    /// Read from the host's stdin: what poll looked ahead at first, then the host, without
    /// blocking (EAGAIN when nothing is there yet).
    pub fn stdin_read(&mut self, len: usize) -> Result<Vec<u8>, Errno> {
        if !self.stdin_buf.is_empty() {
            let n = len.min(self.stdin_buf.len());
            return Ok(self.stdin_buf.drain(..n).collect());
        }
        if self.stdin_eof {
            return Ok(Vec::new());
        }
        match self.host.read_stdin(len) {
            Some(data) => {
                self.stdin_eof = data.is_empty();
                Ok(data)
            }
            None => Err(Errno::EAGAIN),
        }
    }

    /// Whether stdin has input (or end of file) ready, reading ahead if need be.
    fn stdin_ready(&mut self) -> bool {
        if self.stdin_buf.is_empty() && !self.stdin_eof {
            match self.host.read_stdin(4096) {
                Some(data) if data.is_empty() => self.stdin_eof = true,
                Some(data) => self.stdin_buf = data,
                None => {}
            }
        }
        !self.stdin_buf.is_empty() || self.stdin_eof
    }

    /// The poll(2) events an open file reports now. `asked` is what the caller waits for
    /// (sockets register interest with the host from it).
    /// `p` is the caller: a signalfd is readable for the thread whose signals are pending.
    pub fn poll_file(&mut self, p: &Process, f: &OpenFile, asked: u16) -> u16 {
        match &f.kind {
            FileKind::SignalFd(s) => super::signalfd::events(p, &s.0.borrow()),
            FileKind::Inotify(i) => match i.0.borrow().readable() {
                true => POLLIN | POLLRDNORM,
                false => 0,
            },
            FileKind::PidFd(pid) => super::pidfd::events(self, p, *pid),
            FileKind::Socket(_) => super::socket::poll_socket(self, f, asked),
            FileKind::Pipe(end) => super::pipe::pipe_events(end),
            FileKind::Stdio(Stdio::In) => {
                if self.stdin_ready() {
                    POLLIN | POLLRDNORM
                } else {
                    0
                }
            }
            FileKind::Stdio(_) => POLLOUT | POLLWRNORM,
            FileKind::Tty(end) => {
                let t = end.tty.borrow();
                let mut ev = 0;
                if end.master {
                    if !t.out.is_empty() {
                        ev |= POLLIN | POLLRDNORM;
                    }
                    if t.slaves == 0 && t.slave_opened {
                        ev |= POLLHUP;
                    }
                    if t.ldisc.len() < crate::tty::n_tty::BUF_SIZE - 1 {
                        ev |= POLLOUT | POLLWRNORM;
                    }
                } else {
                    if t.readable() {
                        ev |= POLLIN | POLLRDNORM;
                    }
                    if t.hung_up {
                        ev |= POLLHUP;
                    } else if t.writable() {
                        ev |= POLLOUT | POLLWRNORM;
                    }
                }
                ev
            }
            FileKind::EventFd(e) => {
                let e = e.0.borrow();
                let mut ev = 0;
                if e.count > 0 {
                    ev |= POLLIN | POLLRDNORM;
                }
                if e.count < u64::MAX - 1 {
                    ev |= POLLOUT | POLLWRNORM;
                }
                ev
            }
            FileKind::TimerFd(t) => t.0.borrow_mut().events(self.host.monotonic_ns()),
            // An epoll set is readable while one of its entries would be reported (its own
            // poll, or nesting in another set: sd-event, embedders of libuv's loop).
            FileKind::Epoll(ep) => {
                if super::epoll::any_ready(self, p, ep) {
                    POLLIN | POLLRDNORM
                } else {
                    0
                }
            }
            // Regular files and the memory devices are always ready (DEFAULT_POLLMASK).
            _ => POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM,
        }
    }

    /// What to park on while waiting for these files.
    fn wake_for(files: &[Option<std::rc::Rc<std::cell::RefCell<OpenFile>>>]) -> Wake {
        let stdin = files
            .iter()
            .flatten()
            .any(|f| f.borrow().kind == FileKind::Stdio(Stdio::In));
        if stdin { Wake::Stdin } else { Wake::Event }
    }

    /// Swap in the temporary signal mask of ppoll/pselect6 (the first time the call runs);
    /// the dispatcher or the signal frame puts the old one back.
    pub(crate) fn swap_sigmask(
        &mut self,
        p: &mut Process,
        mask_addr: u64,
        size: u64,
    ) -> Result<(), Errno> {
        if mask_addr == 0 || p.thread().saved_sigmask.is_some() {
            return Ok(());
        }
        if size != 8 {
            return Err(Errno::EINVAL);
        }
        let mask = self.read_u64(p, mask_addr)?;
        let t = p.thread_mut();
        t.saved_sigmask = Some(t.sigmask);
        t.sigmask = mask & !crate::signal::UNBLOCKABLE;
        Ok(())
    }
}

pub fn sys_pipe2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let flags = a[1] as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let id = k.next_pipe_id;
    k.next_pipe_id += 1;
    let (r, w) = PipeEnd::pair(id);
    let name = format!("pipe:[{id}]").into_bytes();
    let status = flags & O_NONBLOCK;
    let cloexec = flags & O_CLOEXEC != 0;
    let rfd = p.fds.insert(FdEntry {
        file: new_file(FileKind::Pipe(r), status, name.clone()),
        cloexec,
    })?;
    let wfd = match p.fds.insert(FdEntry {
        file: new_file(FileKind::Pipe(w), status | 1, name),
        cloexec,
    }) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = p.fds.remove(rfd);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_le_bytes());
    out[4..].copy_from_slice(&wfd.to_le_bytes());
    if let Err(e) = k.write_user(p, a[0], &out) {
        let _ = p.fds.remove(rfd);
        let _ = p.fds.remove(wfd);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_ppoll(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fds_addr, nfds, tmo, sigmask, sigsetsize) = (a[0], a[1], a[2], a[3], a[4]);
    if nfds > crate::fd::NOFILE_MAX as u64 {
        return Err(Errno::EINVAL);
    }
    let raw = k.read_user(p, fds_addr, nfds as usize * 8)?;
    let timeout = if tmo != 0 {
        Some(read_timespec_ns(k, p, tmo)?)
    } else {
        None
    };
    k.swap_sigmask(p, sigmask, sigsetsize)?;
    let mut out = raw.clone();
    let mut ready = 0;
    let mut files = Vec::new();
    for (i, pfd) in raw.chunks_exact(8).enumerate() {
        let fd = i32::from_le_bytes(pfd[0..4].try_into().unwrap());
        let events = u16::from_le_bytes(pfd[4..6].try_into().unwrap());
        let revents = if fd < 0 {
            0
        } else {
            match p.fds.file(fd) {
                Ok(f) => {
                    let ev = k.poll_file(p, &f.borrow(), events);
                    files.push(Some(f));
                    ev & (events | POLLERR | POLLHUP)
                }
                Err(_) => POLLNVAL,
            }
        };
        out[i * 8 + 6..i * 8 + 8].copy_from_slice(&revents.to_le_bytes());
        ready += (revents != 0) as u64;
    }
    if ready > 0 || timeout == Some(0) || k.expired(p) {
        k.write_user(p, fds_addr, &out)?;
        return Ok(ready);
    }
    let deadline = k.deadline_in(p, timeout);
    let wake = Kernel::wake_for(&files);
    let r = k.park(p, wake, deadline, false);
    k.wake_by(p, super::timerfd::first_expiry(files.iter().flatten()));
    r
}

pub fn sys_pselect6(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (nfds, rd, wr, ex, tmo, sig) = (a[0] as i32, a[1], a[2], a[3], a[4], a[5]);
    if !(0..=crate::fd::NOFILE_MAX).contains(&nfds) {
        return Err(Errno::EINVAL);
    }
    let words = (nfds as usize).div_ceil(64);
    let mut read_set = |addr: u64| -> Result<Vec<u64>, Errno> {
        if addr == 0 {
            return Ok(vec![0; words]);
        }
        let b = k.read_user(p, addr, words * 8)?;
        Ok(b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect())
    };
    let (rin, win, ein) = (read_set(rd)?, read_set(wr)?, read_set(ex)?);
    let timeout = if tmo != 0 {
        Some(read_timespec_ns(k, p, tmo)?)
    } else {
        None
    };
    if sig != 0 {
        // The sixth argument points at { const sigset_t *ss; size_t ss_len; }.
        let b = k.read_user(p, sig, 16)?;
        let ss = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let len = u64::from_le_bytes(b[8..16].try_into().unwrap());
        k.swap_sigmask(p, ss, len)?;
    }
    let (mut rout, mut wout, mut eout) = (vec![0u64; words], vec![0u64; words], vec![0u64; words]);
    let mut ready = 0;
    let mut files = Vec::new();
    for fd in 0..nfds {
        let (w, bit) = (fd as usize / 64, 1u64 << (fd % 64));
        if (rin[w] | win[w] | ein[w]) & bit == 0 {
            continue;
        }
        let f = p.fds.file(fd)?;
        let asked = if rin[w] & bit != 0 { POLLIN } else { 0 }
            | if win[w] & bit != 0 { POLLOUT } else { 0 };
        let ev = k.poll_file(p, &f.borrow(), asked);
        files.push(Some(f));
        if rin[w] & bit != 0 && ev & (POLLIN | POLLHUP | POLLERR) != 0 {
            rout[w] |= bit;
            ready += 1;
        }
        if win[w] & bit != 0 && ev & (POLLOUT | POLLERR) != 0 {
            wout[w] |= bit;
            ready += 1;
        }
        if ein[w] & bit != 0 && ev & POLLPRI != 0 {
            eout[w] |= bit;
            ready += 1;
        }
    }
    if ready > 0 || timeout == Some(0) || k.expired(p) {
        for (addr, set) in [(rd, &rout), (wr, &wout), (ex, &eout)] {
            if addr != 0 {
                let bytes: Vec<u8> = set.iter().flat_map(|w| w.to_le_bytes()).collect();
                k.write_user(p, addr, &bytes)?;
            }
        }
        return Ok(ready);
    }
    let deadline = k.deadline_in(p, timeout);
    let wake = Kernel::wake_for(&files);
    let r = k.park(p, wake, deadline, false);
    k.wake_by(p, super::timerfd::first_expiry(files.iter().flatten()));
    r
}
