//! Terminal syscalls: read and write on a tty (job control, VMIN/VTIME, flow control)
//! and the terminal ioctls (tty_ioctl(4), ioctl_tty(2)): termios, window size, the
//! controlling terminal and its foreground process group, and the pty master's calls.

use friscy_abi::Errno;

use super::fs::{O_ACCMODE, O_NONBLOCK, O_WRONLY};
use super::{Args, SysResult};
use crate::fd::{FdEntry, FileKind, new_file};
use crate::process::Wake;
use crate::signal::{self, bit};
use crate::tty::termios::{self, TERMIOS_SIZE, TERMIOS2_SIZE, Winsize};
use crate::tty::{TtyEnd, TtyRef};
use crate::{Kernel, Process};

// ioctl numbers (include/uapi/asm-generic/ioctls.h).
const TCGETS: u64 = 0x5401;
const TCSETS: u64 = 0x5402;
const TCSETSW: u64 = 0x5403;
const TCSETSF: u64 = 0x5404;
const TCSBRK: u64 = 0x5409;
const TCXONC: u64 = 0x540a;
const TCFLSH: u64 = 0x540b;
const TIOCEXCL: u64 = 0x540c;
const TIOCNXCL: u64 = 0x540d;
const TIOCSCTTY: u64 = 0x540e;
const TIOCGPGRP: u64 = 0x540f;
const TIOCSPGRP: u64 = 0x5410;
const TIOCOUTQ: u64 = 0x5411;
const TIOCSTI: u64 = 0x5412;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const TIOCNOTTY: u64 = 0x5422;
const TIOCSETD: u64 = 0x5423;
const TIOCGETD: u64 = 0x5424;
const TCSBRKP: u64 = 0x5425;
const TIOCGSID: u64 = 0x5429;
const TCGETS2: u64 = 0x802c_542a;
const TCSETS2: u64 = 0x402c_542b;
const TCSETSW2: u64 = 0x402c_542c;
const TCSETSF2: u64 = 0x402c_542d;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGPTLCK: u64 = 0x8004_5439;
const TIOCGPTPEER: u64 = 0x5441;

/// The tty an open descriptor refers to, if any: (tty, master side).
pub fn tty_of(p: &Process, fd: i32) -> Option<(TtyRef, bool)> {
    let file = p.fds.file(fd).ok()?;
    let f = file.borrow();
    match &f.kind {
        FileKind::Tty(end) => Some((end.tty.clone(), end.master)),
        _ => None,
    }
}

impl Kernel {
    /// tty_check_change: may `p` change or (`sig` = SIGTTIN) read `tty` now? A process in a
    /// background group of the tty's session is stopped with `sig` instead: the call parks
    /// and runs again once it is continued. EIO if it ignores or blocks SIGTTIN, or its
    /// group is orphaned (nobody could continue it).
    fn job_control(&mut self, p: &mut Process, tty: &TtyRef, sig: u8) -> Result<(), Errno> {
        let fg = {
            let t = tty.borrow();
            let mine = p.ctty.as_ref().is_some_and(|c| std::rc::Rc::ptr_eq(c, tty));
            !matches!(t.pgrp, Some(pgrp) if mine && pgrp != p.pgid)
        };
        if fg {
            return Ok(());
        }
        let ignored = p.sigactions[sig as usize - 1].handler == signal::SIG_IGN
            || p.thread().sigmask & bit(sig) != 0;
        if ignored {
            return if sig == signal::SIGTTIN {
                Err(Errno::EIO)
            } else {
                Ok(())
            };
        }
        if self.orphaned_pgrp(p, p.pgid) {
            return Err(Errno::EIO);
        }
        let pgrp = p.pgid;
        self.kill_pgrp(Some(p), pgrp, sig);
        self.park(p, Wake::Event, None, true).map(|_| ())
    }

    /// Park a tty call that would block, or EAGAIN on a non-blocking descriptor.
    fn tty_wait(&mut self, p: &mut Process, fd: i32, deadline: Option<u64>) -> Result<u64, Errno> {
        let nonblock = p.fds.file(fd)?.borrow().flags & O_NONBLOCK != 0;
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        self.park(p, Wake::Event, deadline, true)
    }
}

/// read(2)/readv(2) on a tty: one read from the line discipline (or the master's queue),
/// spread over the buffers.
pub fn read(k: &mut Kernel, p: &mut Process, fd: i32, iov: &[(u64, u64)]) -> SysResult {
    let (tty, master) = tty_of(p, fd).ok_or(Errno::EBADF)?;
    let flags = p.fds.file(fd)?.borrow().flags;
    if flags & O_ACCMODE == O_WRONLY {
        return Err(Errno::EBADF);
    }
    let len: u64 = iov.iter().map(|&(_, l)| l).sum();
    if len == 0 {
        return Ok(0);
    }
    let len = len.min(super::fs::IO_CHUNK as u64) as usize;
    let data = if master {
        match tty.borrow_mut().master_read(len) {
            Err(Errno::EAGAIN) => return k.tty_wait(p, fd, None),
            r => r?,
        }
    } else {
        k.job_control(p, &tty, signal::SIGTTIN)?;
        match slave_read(k, p, &tty, len)? {
            Some(data) => data,
            None => {
                let deadline = p.thread().restart.and_then(|r| r.deadline);
                return k.tty_wait(p, fd, deadline);
            }
        }
    };
    let mut done = 0;
    for &(base, l) in iov {
        let n = (l as usize).min(data.len() - done);
        k.write_user(p, base, &data[done..done + n])?;
        done += n;
        if done == data.len() {
            break;
        }
    }
    Ok(data.len() as u64)
}

/// A slave-side read: Some(data) to return (empty at end of file or a VTIME timeout), or
/// None to wait (with the deadline to wait until set in the thread's restart state).
/// Non-canonical reads follow VMIN and VTIME (termios(3)); the inter-byte timer is
/// started once some bytes are there and not restarted by later ones.
fn slave_read(
    k: &mut Kernel,
    p: &mut Process,
    tty: &TtyRef,
    len: usize,
) -> Result<Option<Vec<u8>>, Errno> {
    let mut t = tty.borrow_mut();
    let term = t.termios;
    if term.l(termios::ICANON) || t.hung_up || t.input_eof {
        return match t.read(len) {
            Ok(d) => Ok(Some(d)),
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let min = term.cc[termios::VMIN] as usize;
    let time = term.cc[termios::VTIME] as u64 * 100_000_000;
    let avail = t.ldisc.len();
    let want = min.min(len).max(1);
    if avail >= want || (min == 0 && avail > 0) {
        return Ok(Some(t.read(len)?));
    }
    drop(t);
    let now = k.host.monotonic_ns();
    let deadline = p.thread().restart.and_then(|r| r.deadline);
    if time == 0 {
        // VMIN 0, VTIME 0: a poll that returns at once.
        return Ok((min == 0).then(Vec::new));
    }
    if min > 0 && avail == 0 {
        // The timer only starts with the first byte.
        set_deadline(p, None);
        return Ok(None);
    }
    match deadline {
        Some(d) if now >= d => {
            let mut t = tty.borrow_mut();
            Ok(Some(t.read(len).unwrap_or_default()))
        }
        Some(_) => Ok(None),
        None => {
            set_deadline(p, Some(now + time));
            Ok(None)
        }
    }
}

fn set_deadline(p: &mut Process, deadline: Option<u64>) {
    p.thread_mut()
        .restart
        .get_or_insert_with(Default::default)
        .deadline = deadline;
}

/// write(2)/writev(2) on a tty. The console's output goes straight to the host; a pty's
/// waits for its master to read when it is full; output stopped with ^S waits.
pub fn write(k: &mut Kernel, p: &mut Process, fd: i32, iov: &[(u64, u64)]) -> SysResult {
    let (tty, master) = tty_of(p, fd).ok_or(Errno::EBADF)?;
    let flags = p.fds.file(fd)?.borrow().flags;
    if flags & O_ACCMODE == 0 {
        return Err(Errno::EBADF);
    }
    let mut data = Vec::new();
    for &(base, len) in iov {
        data.extend(k.read_user(p, base, (len as usize).min(super::fs::IO_CHUNK))?);
    }
    if data.is_empty() {
        return Ok(0);
    }
    if master {
        let n = tty.borrow_mut().receive(&data);
        if n == 0 {
            return k.tty_wait(p, fd, None);
        }
        return Ok(n as u64);
    }
    if tty.borrow().termios.l(termios::TOSTOP) {
        k.job_control(p, &tty, signal::SIGTTOU)?;
    }
    if tty.borrow().hung_up {
        return Err(Errno::EIO);
    }
    if !tty.borrow().writable() {
        return k.tty_wait(p, fd, None);
    }
    let n = tty.borrow_mut().write(&data);
    if tty.borrow().console {
        k.flush_console(&tty)?;
    }
    Ok(n as u64)
}

/// The terminal ioctls; `fd` refers to a tty (the caller checked).
pub fn ioctl(k: &mut Kernel, p: &mut Process, fd: i32, a: Args) -> SysResult {
    let (tty, master) = tty_of(p, fd).ok_or(Errno::ENOTTY)?;
    let (req, arg) = (a[1], a[2]);
    let is_ctty = p
        .ctty
        .as_ref()
        .is_some_and(|c| std::rc::Rc::ptr_eq(c, &tty));
    match req {
        TCGETS | TCGETS2 => {
            let t = tty.borrow();
            let term = if master { t.master_termios } else { t.termios };
            let size = if req == TCGETS {
                TERMIOS_SIZE
            } else {
                TERMIOS2_SIZE
            };
            let bytes = term.encode();
            drop(t);
            k.write_user(p, arg, &bytes[..size])?;
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
            let size = if matches!(req, TCSETS | TCSETSW | TCSETSF) {
                TERMIOS_SIZE
            } else {
                TERMIOS2_SIZE
            };
            let raw = k.read_user(p, arg, size)?;
            if !master {
                k.job_control(p, &tty, signal::SIGTTOU)?;
            }
            let mut t = tty.borrow_mut();
            if master {
                t.master_termios = t.master_termios.decode(&raw);
                return Ok(0);
            }
            let new = t.termios.decode(&raw);
            if matches!(req, TCSETSF | TCSETSF2) {
                t.ldisc.flush_input();
            }
            t.set_termios(new);
            Ok(0)
        }
        // tcdrain and tcsendbreak: output is never held back long enough to wait for.
        TCSBRK | TCSBRKP => Ok(0),
        TCXONC => {
            if !master {
                k.job_control(p, &tty, signal::SIGTTOU)?;
            }
            let mut t = tty.borrow_mut();
            match arg {
                0 => t.ldisc.stopped = true,  // TCOOFF
                1 => t.ldisc.stopped = false, // TCOON
                2 | 3 => {}                   // TCIOFF/TCION: no flow control to send
                _ => return Err(Errno::EINVAL),
            }
            Ok(0)
        }
        TCFLSH => {
            if !master {
                k.job_control(p, &tty, signal::SIGTTOU)?;
            }
            let mut t = tty.borrow_mut();
            // Input is the slave's queue, output what waits for the terminal.
            let (input, output) = match arg {
                0 => (true, false),
                1 => (false, true),
                2 => (true, true),
                _ => return Err(Errno::EINVAL),
            };
            let (input, output) = if master {
                (output, input)
            } else {
                (input, output)
            };
            if input {
                t.ldisc.flush_input();
            }
            if output {
                t.out.clear();
            }
            Ok(0)
        }
        TIOCGWINSZ => {
            let ws = tty.borrow().winsize.encode();
            k.write_user(p, arg, &ws)?;
            Ok(0)
        }
        TIOCSWINSZ => {
            let ws = Winsize::decode(&k.read_user(p, arg, 8)?);
            k.set_winsize(&tty, ws);
            Ok(0)
        }
        TIOCOUTQ => {
            let n = if master { 0 } else { tty.borrow().out.len() };
            k.write_user(p, arg, &(n as i32).to_le_bytes())?;
            Ok(0)
        }
        TIOCSTI => {
            // Faking input needs the terminal to be the caller's (or CAP_SYS_ADMIN, which
            // root has).
            let c = k.read_user(p, arg, 1)?;
            tty.borrow_mut().receive(&c);
            Ok(0)
        }
        TIOCSCTTY => tiocsctty(k, p, &tty, master, arg),
        TIOCNOTTY => {
            if !is_ctty {
                return Err(Errno::ENOTTY);
            }
            if p.pid == p.sid {
                p.ctty = None;
                k.disassociate(Some(p), &tty, false);
            } else {
                p.ctty = None;
            }
            Ok(0)
        }
        TIOCGPGRP | TIOCGSID => {
            // A master answers for its slave; others only for their controlling tty.
            if !master && !is_ctty {
                return Err(Errno::ENOTTY);
            }
            let t = tty.borrow();
            let v = if req == TIOCGPGRP {
                t.pgrp.unwrap_or(0)
            } else {
                t.session.ok_or(Errno::ENOTTY)?
            };
            drop(t);
            k.write_user(p, arg, &v.to_le_bytes())?;
            Ok(0)
        }
        TIOCSPGRP => {
            let session = tty.borrow().session;
            if master || !is_ctty || session != Some(p.sid) {
                return Err(Errno::ENOTTY);
            }
            k.job_control(p, &tty, signal::SIGTTOU)?;
            let b = k.read_user(p, arg, 4)?;
            let pgrp = i32::from_le_bytes(b.try_into().unwrap());
            if pgrp < 0 {
                return Err(Errno::EINVAL);
            }
            let found = if p.pgid == pgrp {
                Some(p.sid)
            } else {
                k.procs
                    .values()
                    .find(|c| c.pgid == pgrp && !c.is_zombie())
                    .map(|c| c.sid)
            };
            match found {
                None => Err(Errno::ESRCH),
                Some(sid) if sid != p.sid => Err(Errno::EPERM),
                Some(_) => {
                    tty.borrow_mut().pgrp = Some(pgrp);
                    Ok(0)
                }
            }
        }
        TIOCGETD => {
            k.write_user(p, arg, &0i32.to_le_bytes())?;
            Ok(0)
        }
        TIOCSETD => {
            // Only n_tty (N_TTY = 0).
            let b = k.read_user(p, arg, 4)?;
            match i32::from_le_bytes(b.try_into().unwrap()) {
                0 => Ok(0),
                _ => Err(Errno::EINVAL),
            }
        }
        TIOCEXCL | TIOCNXCL => Ok(0),
        TIOCGPTN | TIOCSPTLCK | TIOCGPTLCK | TIOCGPTPEER if !master => Err(Errno::ENOTTY),
        TIOCGPTN => {
            let index = tty.borrow().index;
            k.write_user(p, arg, &index.to_le_bytes())?;
            Ok(0)
        }
        TIOCSPTLCK => {
            let b = k.read_user(p, arg, 4)?;
            tty.borrow_mut().locked = i32::from_le_bytes(b.try_into().unwrap()) != 0;
            Ok(0)
        }
        TIOCGPTLCK => {
            let locked = tty.borrow().locked as i32;
            k.write_user(p, arg, &locked.to_le_bytes())?;
            Ok(0)
        }
        TIOCGPTPEER => {
            // Open the slave through the master, whatever the lock (ptmx_open_peer).
            let flags = arg as u32;
            let index = tty.borrow().index;
            let kind = FileKind::Tty(TtyEnd::new(tty.clone(), false));
            let file = new_file(
                kind,
                flags & (O_ACCMODE | O_NONBLOCK),
                crate::tty::pts_path(index),
            );
            if flags & 0o400 == 0 {
                k.maybe_acquire(p, &tty);
            }
            let fd = p.fds.insert(FdEntry {
                file,
                cloexec: flags & super::fs::O_CLOEXEC != 0,
            })?;
            Ok(fd as u64)
        }
        _ => {
            if k.trace {
                k.report(&format!(
                    "ioctl 0x{req:x} on a terminal: not supported (ENOTTY)"
                ));
            }
            Err(Errno::ENOTTY)
        }
    }
}

/// TIOCSCTTY: a session leader without a controlling terminal takes this one; one that
/// belongs to another session can be stolen with `arg` 1 by root (tiocsctty).
fn tiocsctty(k: &mut Kernel, p: &mut Process, tty: &TtyRef, master: bool, arg: u64) -> SysResult {
    if master {
        return Err(Errno::ENOTTY);
    }
    let mine = p.ctty.as_ref().is_some_and(|c| std::rc::Rc::ptr_eq(c, tty));
    if p.pid == p.sid && mine {
        return Ok(0);
    }
    if p.pid != p.sid || p.ctty.is_some() {
        return Err(Errno::EPERM);
    }
    let owner = tty.borrow().session;
    if let Some(sid) = owner {
        if arg != 1 {
            return Err(Errno::EPERM);
        }
        // Stolen: the old session loses it (without signals, as Linux's session_clear_tty).
        for q in k.procs.values_mut().filter(|q| q.sid == sid) {
            if q.ctty.as_ref().is_some_and(|c| std::rc::Rc::ptr_eq(c, tty)) {
                q.ctty = None;
            }
        }
        let mut t = tty.borrow_mut();
        t.session = None;
        t.pgrp = None;
    }
    k.maybe_acquire(p, tty);
    Ok(0)
}

/// Whether `fd` is a tty (for the read and write syscalls' dispatch).
pub fn is_tty(p: &Process, fd: i32) -> bool {
    p.fds
        .file(fd)
        .is_ok_and(|f| matches!(f.borrow().kind, FileKind::Tty(_)))
}
