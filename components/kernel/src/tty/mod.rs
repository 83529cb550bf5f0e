//! Terminals: the console (the host's terminal, when it gives the guest one) and
//! pseudo-terminals (/dev/ptmx and /dev/pts/N), each a `Tty` with Linux's termios, the
//! n_tty line discipline, a window size, and the session and foreground process group
//! that job control works with.
//!
//! A tty has two sides. The slave side is what programs open (/dev/pts/N, /dev/tty,
//! /dev/console, the console on fds 0-2). The other side is the terminal itself: for the
//! console, the host, whose raw bytes arrive on wasi stdin and go out on wasi stdout; for
//! a pseudo-terminal, whoever holds the master descriptor (`script`, tmux, sshd). Bytes
//! from that side go through the line discipline into the input queue (echo, line
//! editing, signal characters); bytes programs write go through output processing into
//! `out`, which the host or the master reads.
//!
//! Signals the line discipline raises, host events (resize, forwarded signals) and pty
//! hang-ups are handled by `Kernel::tty_tick`, which the scheduler calls before every
//! time slice, so Ctrl-C reaches a guest that is busy computing. The syscalls are in
//! `syscalls/tty.rs`.

pub mod n_tty;
pub mod termios;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::rc::Rc;

use friscy_abi::Errno;

use crate::host::{ConsoleEvent, ConsoleMode, Stdio};
use crate::process::Pid;
use crate::signal::{self, SigInfo};
use crate::{Kernel, Process};
use n_tty::NTty;
use termios::{Termios, Winsize};

/// A tty, shared by the descriptions open on it and the processes it controls.
pub type TtyRef = Rc<RefCell<Tty>>;

/// What a pty master may have unread before the slave's writers wait.
pub const OUT_MAX: usize = 16384;

pub struct Tty {
    /// N of /dev/pts/N (the console is /dev/pts/0, as `docker run -t` shows it).
    pub index: u32,
    pub console: bool,
    pub termios: Termios,
    /// The master side's own settings (TCGETS on the master).
    pub master_termios: Termios,
    pub winsize: Winsize,
    pub ldisc: NTty,
    /// Output for the terminal: the host writes it out (console), the master reads it.
    pub out: VecDeque<u8>,
    /// The session it is the controlling terminal of, and its foreground process group.
    pub session: Option<Pid>,
    pub pgrp: Option<Pid>,
    /// The console of a host terminal in cooked mode: the host has echoed already.
    pub host_echoes: bool,
    /// Signals the line discipline raised for the foreground group, not yet sent.
    pub signals: Vec<u8>,
    /// Open descriptions of the master and of the slave side; whether a slave was ever
    /// opened (until then a master read waits instead of failing with EIO).
    pub masters: usize,
    pub slaves: usize,
    pub slave_opened: bool,
    /// TIOCSPTLCK: the slave cannot be opened yet (a new pty starts locked).
    pub locked: bool,
    /// The master has closed: slave reads see end of file, writes EIO.
    pub hung_up: bool,
    /// The host's input has ended (console).
    pub input_eof: bool,
    /// Host input the queue had no room for yet.
    backlog: Vec<u8>,
    /// A cooked console's partial escape sequence (see `filter_replies`).
    reply: Vec<u8>,
    /// Where the last master's close reports the pty (`Ttys::closed`).
    closed: Rc<RefCell<Vec<u32>>>,
}

impl Tty {
    fn new(index: u32, console: bool, closed: Rc<RefCell<Vec<u32>>>) -> Tty {
        Tty {
            index,
            console,
            termios: Termios::pts_default(),
            master_termios: Termios::ptm_default(),
            // A new pty has no size (0 0) until its master sets one; the console assumes
            // 24x80 when the host does not know.
            winsize: Winsize::default(),
            ldisc: NTty::default(),
            out: VecDeque::new(),
            session: None,
            pgrp: None,
            host_echoes: false,
            signals: Vec::new(),
            masters: 0,
            slaves: 0,
            slave_opened: false,
            locked: !console,
            hung_up: false,
            input_eof: false,
            backlog: Vec::new(),
            reply: Vec::new(),
            closed,
        }
    }

    /// The settings the line discipline works with: a cooked console never echoes, the
    /// host terminal has done that, and leaves output processing (NL to CR NL) to the
    /// host terminal too, which does it anyway.
    fn effective(&self) -> Termios {
        let mut t = self.termios;
        if self.host_echoes {
            t.lflag &= !(termios::ECHO | termios::ECHONL);
            t.oflag &= !termios::OPOST;
        }
        t
    }

    /// Bytes from the terminal side. Returns how many were taken (the rest waits for
    /// room in the input queue).
    pub fn receive(&mut self, input: &[u8]) -> usize {
        let t = self.effective();
        let mut echo = Vec::new();
        let r = self.ldisc.receive(&t, input, &mut echo);
        if r.flush_output {
            self.out.clear();
        }
        self.out.extend(echo);
        self.signals.extend(r.signals);
        r.taken
    }

    /// Bytes a program writes, output-processed into `out`. Returns how many were taken
    /// (a pty's master may be behind: then fewer, or none).
    pub fn write(&mut self, data: &[u8]) -> usize {
        let room = if self.console {
            data.len()
        } else {
            OUT_MAX.saturating_sub(self.out.len()).min(data.len())
        };
        let t = self.effective();
        let mut processed = Vec::with_capacity(room);
        self.ldisc.output(&t, &data[..room], &mut processed);
        self.out.extend(processed);
        room
    }

    /// A read on the slave side: EAGAIN when it would wait, empty at end of file.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>, Errno> {
        let t = self.termios;
        match self.ldisc.read(&t, max) {
            Some(data) => Ok(data),
            None if self.hung_up || self.input_eof => Ok(Vec::new()),
            None => Err(Errno::EAGAIN),
        }
    }

    /// A read on the master side: EIO once every slave has closed and `out` is drained.
    pub fn master_read(&mut self, max: usize) -> Result<Vec<u8>, Errno> {
        if self.out.is_empty() {
            return Err(if self.slaves == 0 && self.slave_opened {
                Errno::EIO
            } else {
                Errno::EAGAIN
            });
        }
        let n = max.min(self.out.len());
        Ok(self.out.drain(..n).collect())
    }

    /// Whether a slave-side read would return now.
    pub fn readable(&self) -> bool {
        self.ldisc.readable(&self.termios) || self.hung_up || self.input_eof
    }

    /// Whether the slave side may write now.
    pub fn writable(&self) -> bool {
        !self.ldisc.stopped && (self.console || self.out.len() < OUT_MAX)
    }

    /// New settings (TCSETS*): the line discipline follows mode changes.
    pub fn set_termios(&mut self, new: Termios) {
        let old = self.termios;
        self.termios = new;
        self.ldisc.set_termios(&old, &new);
    }

    /// A cooked host terminal answers queries a program sends it (busybox asks for the
    /// cursor position with ESC [ 6 n) by typing the reply into the line the user is
    /// editing, and the host's line discipline hands it over with that line. Raw hosts
    /// give the reply to the program that asked, but a cooked one cannot: drop cursor
    /// position reports (ESC [ digits ; digits R) so they do not become command text.
    fn filter_replies(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        for &c in input {
            if self.reply.is_empty() {
                if c == 0x1b {
                    self.reply.push(c);
                } else {
                    out.push(c);
                }
                continue;
            }
            self.reply.push(c);
            let seq = &self.reply[1..];
            let fits = seq[0] == b'['
                && seq[1..]
                    .iter()
                    .all(|&b| b.is_ascii_digit() || b == b';' || b == b'R');
            let last = *seq.last().unwrap();
            if !fits || (last == b'R' && seq.len() < 4) {
                out.append(&mut self.reply);
            } else if last == b'R' {
                self.reply.clear();
            }
        }
        out
    }
}

/// One side of a tty as an open file description holds it. Counting the opens lets the
/// last close of a master hang the pty up, and a master read see that no slave is left.
pub struct TtyEnd {
    pub tty: Rc<RefCell<Tty>>,
    pub master: bool,
}

impl TtyEnd {
    pub fn new(tty: Rc<RefCell<Tty>>, master: bool) -> TtyEnd {
        {
            let mut t = tty.borrow_mut();
            if master {
                t.masters += 1;
            } else {
                t.slaves += 1;
                t.slave_opened = true;
            }
        }
        TtyEnd { tty, master }
    }
}

impl Clone for TtyEnd {
    fn clone(&self) -> TtyEnd {
        TtyEnd::new(self.tty.clone(), self.master)
    }
}

impl Drop for TtyEnd {
    fn drop(&mut self) {
        let mut t = self.tty.borrow_mut();
        if self.master {
            t.masters -= 1;
            if t.masters == 0 && !t.console {
                t.hung_up = true;
                let index = t.index;
                t.closed.borrow_mut().push(index);
            }
        } else {
            t.slaves -= 1;
        }
    }
}

impl PartialEq for TtyEnd {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.tty, &other.tty) && self.master == other.master
    }
}

impl Eq for TtyEnd {}

impl fmt::Debug for TtyEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = if self.master { "master" } else { "slave" };
        write!(f, "TtyEnd(pts/{} {side})", self.tty.borrow().index)
    }
}

/// The kernel's terminals.
pub struct Ttys {
    pub mode: ConsoleMode,
    pub console: Option<Rc<RefCell<Tty>>>,
    /// Pseudo-terminals by index, until their master closes.
    pub ptys: BTreeMap<u32, Rc<RefCell<Tty>>>,
    /// Indices of ptys whose master closed since the last tick.
    closed: Rc<RefCell<Vec<u32>>>,
}

impl Ttys {
    /// The console the host gives the guest, if any, with the host's window size.
    pub fn new(mode: ConsoleMode, size: Option<(u16, u16)>) -> Ttys {
        let closed = Rc::new(RefCell::new(Vec::new()));
        let console = (mode != ConsoleMode::None).then(|| {
            let mut t = Tty::new(0, true, closed.clone());
            t.winsize = Winsize {
                rows: 24,
                cols: 80,
                ..Winsize::default()
            };
            // The console stands for the user's terminal, whose emulator sets IUTF8 on
            // its own pty (as tmux and xterm do): without it, erasing a non-ASCII
            // character leaves half of it in the line.
            t.termios.iflag |= termios::IUTF8;
            t.host_echoes = mode == ConsoleMode::Cooked;
            if t.host_echoes {
                // Shown as it is: the host terminal echoes and edits lines, the kernel
                // does not echo again.
                t.termios.lflag &= !(termios::ECHO
                    | termios::ECHOE
                    | termios::ECHOK
                    | termios::ECHOCTL
                    | termios::ECHOKE);
            }
            if let Some((rows, cols)) = size.filter(|&(r, c)| r > 0 && c > 0) {
                t.winsize.rows = rows;
                t.winsize.cols = cols;
            }
            Rc::new(RefCell::new(t))
        });
        Ttys {
            mode,
            console,
            ptys: BTreeMap::new(),
            closed,
        }
    }

    /// A new pseudo-terminal at the lowest free index (the console holds 0).
    pub fn new_pty(&mut self) -> Result<Rc<RefCell<Tty>>, Errno> {
        let first = self.console.is_some() as u32;
        let index = (first..4096)
            .find(|i| !self.ptys.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        let tty = Rc::new(RefCell::new(Tty::new(index, false, self.closed.clone())));
        self.ptys.insert(index, tty.clone());
        Ok(tty)
    }

    /// The tty /dev/pts/N opens.
    pub fn pts(&self, index: u32) -> Option<Rc<RefCell<Tty>>> {
        match &self.console {
            Some(c) if index == 0 => Some(c.clone()),
            _ => self.ptys.get(&index).cloned(),
        }
    }

    fn all(&self) -> Vec<Rc<RefCell<Tty>>> {
        self.console
            .iter()
            .chain(self.ptys.values())
            .cloned()
            .collect()
    }
}

/// The path of a pts node.
pub fn pts_path(index: u32) -> Vec<u8> {
    format!("/dev/pts/{index}").into_bytes()
}

impl Kernel {
    /// Between time slices: host events, console input and output, signals the line
    /// disciplines raised, and hang-ups of ptys whose master closed.
    pub fn tty_tick(&mut self) {
        for ev in self.host.console_events() {
            match ev {
                ConsoleEvent::Resize { rows, cols } => {
                    if let Some(c) = self.ttys.console.clone() {
                        let ws = Winsize {
                            rows,
                            cols,
                            ..c.borrow().winsize
                        };
                        self.set_winsize(&c, ws);
                    }
                }
                ConsoleEvent::Signal(sig) => self.signal_init(sig),
            }
        }
        if let Some(c) = self.ttys.console.clone() {
            self.console_input(&c);
            // Echo: if the host's stdout is gone there is no one to show it to.
            let _ = self.flush_console(&c);
        }
        for tty in self.ttys.all() {
            let (signals, pgrp) = {
                let mut t = tty.borrow_mut();
                (std::mem::take(&mut t.signals), t.pgrp)
            };
            for sig in signals {
                if let Some(pgrp) = pgrp {
                    self.kill_pgrp(None, pgrp, sig);
                }
            }
        }
        let closed = std::mem::take(&mut *self.ttys.closed.borrow_mut());
        for index in closed {
            self.pty_gone(index);
        }
    }

    /// Read what the host typed into the console's input queue, as far as it has room.
    fn console_input(&mut self, c: &Rc<RefCell<Tty>>) {
        loop {
            let mut t = c.borrow_mut();
            if !t.backlog.is_empty() {
                let backlog = std::mem::take(&mut t.backlog);
                let n = t.receive(&backlog);
                t.backlog = backlog[n..].to_vec();
                if !t.backlog.is_empty() {
                    return;
                }
                self.progress += 1;
            }
            if t.input_eof {
                return;
            }
            let room = n_tty::BUF_SIZE.saturating_sub(t.ldisc.len()).max(1);
            drop(t);
            let data = match self.host.read_stdin(room) {
                None => return,
                Some(d) if d.is_empty() => {
                    c.borrow_mut().input_eof = true;
                    self.progress += 1;
                    return;
                }
                Some(d) => d,
            };
            let mut t = c.borrow_mut();
            let data = if t.host_echoes {
                t.filter_replies(&data)
            } else {
                data
            };
            let n = t.receive(&data);
            t.backlog = data[n..].to_vec();
            self.progress += 1;
        }
    }

    /// Whether the idle wait should wake for host input (the console has room for it).
    pub fn console_wants_input(&self) -> bool {
        self.ttys.console.as_ref().is_some_and(|c| {
            let t = c.borrow();
            !t.input_eof && t.backlog.is_empty() && t.ldisc.len() < n_tty::BUF_SIZE - 1
        })
    }

    /// Write the console's pending output to the host. Err if the host's stream is gone.
    pub fn flush_console(&mut self, c: &Rc<RefCell<Tty>>) -> Result<(), Errno> {
        let data: Vec<u8> = c.borrow_mut().out.drain(..).collect();
        if data.is_empty() {
            return Ok(());
        }
        self.host.write(Stdio::Out, &data).map_err(|_| Errno::EIO)
    }

    /// TIOCSWINSZ or a host resize: SIGWINCH to the foreground group if it changed.
    pub fn set_winsize(&mut self, tty: &Rc<RefCell<Tty>>, ws: Winsize) {
        let pgrp = {
            let mut t = tty.borrow_mut();
            if t.winsize == ws {
                return;
            }
            t.winsize = ws;
            t.pgrp
        };
        if let Some(pgrp) = pgrp {
            self.kill_pgrp(None, pgrp, signal::SIGWINCH);
        }
    }

    /// A signal the host forwards goes to the container's init (pid 1). It is in a pid
    /// namespace of its own, so, as Linux does for a namespace's init, a signal it has
    /// left at SIG_DFL is ignored, except SIGKILL and SIGSTOP, which are forced when they
    /// come from outside (kernel/signal.c, sig_task_ignored and SIGNAL_UNKILLABLE). This
    /// is why `docker stop` on a shell without a TERM trap waits for its timeout.
    pub fn signal_init(&mut self, sig: u8) {
        if sig == 0 || sig > signal::NSIG {
            return;
        }
        let trace = self.trace;
        let Some(init) = self.procs.get_mut(&1) else {
            return;
        };
        let forced = sig == signal::SIGKILL || sig == signal::SIGSTOP;
        if !forced && init.sigactions[sig as usize - 1].handler == signal::SIG_DFL {
            if trace {
                self.report(&format!(
                    "signal {sig} from the host ignored: pid 1 has no handler for it"
                ));
            }
            return;
        }
        let info = SigInfo {
            signo: sig,
            code: signal::SI_USER,
            ..SigInfo::default()
        };
        crate::sched::post_signal(init, sig, info);
        self.progress += 1;
    }

    /// Send a signal to every process of a group (kill_pgrp); `cur` is the caller when
    /// a syscall does it (it is not in `procs` meanwhile).
    pub fn kill_pgrp(&mut self, cur: Option<&mut Process>, pgrp: Pid, sig: u8) {
        let info = SigInfo {
            signo: sig,
            code: signal::SI_KERNEL,
            ..SigInfo::default()
        };
        if let Some(p) = cur
            && p.pgid == pgrp
        {
            crate::sched::post_signal(p, sig, info);
        }
        for p in self.procs.values_mut().filter(|p| p.pgid == pgrp) {
            crate::sched::post_signal(p, sig, info);
        }
        self.progress += 1;
    }

    /// A pty's master closed: the slave hangs up (its session leader gets SIGHUP and
    /// SIGCONT, and the session loses its controlling terminal), and /dev/pts/N goes.
    fn pty_gone(&mut self, index: u32) {
        let Some(tty) = self.ttys.ptys.remove(&index) else {
            return;
        };
        self.disassociate(None, &tty, true);
        let root = self.fs.root();
        if let Ok(pts) = self.fs.lookup(root, b"dev/pts", true) {
            let _ = self.fs.remove(pts, index.to_string().as_bytes(), false);
        }
        self.progress += 1;
    }

    /// The tty stops being a controlling terminal: the session leader exited (SIGHUP to
    /// the foreground group) or called TIOCNOTTY (SIGHUP and SIGCONT), or the terminal
    /// hung up (`hangup`: the session leader's group gets them too), as
    /// disassociate_ctty and tty_signal_session_leader do.
    pub fn disassociate(
        &mut self,
        mut cur: Option<&mut Process>,
        tty: &Rc<RefCell<Tty>>,
        hangup: bool,
    ) {
        let (session, pgrp) = {
            let mut t = tty.borrow_mut();
            (t.session.take(), t.pgrp.take())
        };
        let Some(sid) = session else {
            return;
        };
        let mine = |p: &Process| p.ctty.as_ref().is_some_and(|c| Rc::ptr_eq(c, tty));
        let exiting = cur.is_none() && !hangup;
        for sig in [signal::SIGHUP, signal::SIGCONT] {
            if sig == signal::SIGCONT && exiting {
                break;
            }
            if let Some(pgrp) = pgrp {
                self.kill_pgrp(cur.as_deref_mut(), pgrp, sig);
            }
            if hangup && pgrp != Some(sid) {
                self.kill_pgrp(cur.as_deref_mut(), sid, sig);
            }
        }
        if let Some(p) = cur
            && p.sid == sid
            && mine(p)
        {
            p.ctty = None;
        }
        for p in self.procs.values_mut() {
            if p.sid == sid && mine(p) {
                p.ctty = None;
            }
        }
    }

    /// A process ends: a session leader's controlling terminal is released.
    pub fn tty_exit(&mut self, p: &mut Process) {
        if p.pid != p.sid {
            return;
        }
        if let Some(tty) = p.ctty.take() {
            self.disassociate(None, &tty, false);
        }
    }

    /// Opening a tty (not /dev/tty) without O_NOCTTY makes it the controlling terminal of
    /// a session leader that has none, if it belongs to no session yet
    /// (tty_open_proc_set_tty).
    pub fn maybe_acquire(&mut self, p: &mut Process, tty: &Rc<RefCell<Tty>>) {
        let mut t = tty.borrow_mut();
        if p.pid == p.sid && p.ctty.is_none() && t.session.is_none() {
            t.session = Some(p.sid);
            t.pgrp = Some(p.pgid);
            drop(t);
            p.ctty = Some(tty.clone());
        }
    }

    /// Whether process group `pgrp` is orphaned: no member has a parent in another group
    /// of the same session (will_become_orphaned_pgrp), so nobody can continue it.
    pub fn orphaned_pgrp(&self, cur: &Process, pgrp: Pid) -> bool {
        let find = |pid: Pid| -> Option<(Pid, Pid)> {
            if pid == cur.pid {
                Some((cur.pgid, cur.sid))
            } else {
                self.procs
                    .get(&pid)
                    .filter(|p| !p.is_zombie())
                    .map(|p| (p.pgid, p.sid))
            }
        };
        let members = self
            .procs
            .values()
            .filter(|p| !p.is_zombie() && p.pid != cur.pid)
            .chain(std::iter::once(cur))
            .filter(|p| p.pgid == pgrp);
        for m in members {
            if let Some((ppgid, psid)) = find(m.ppid)
                && ppgid != pgrp
                && psid == m.sid
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooked_console_drops_cursor_position_reports_only() {
        let mut t = Tty::new(0, true, Default::default());
        assert_eq!(t.filter_replies(b"\x1b[12;5Rls\n"), b"ls\n");
        // Split across reads.
        assert_eq!(t.filter_replies(b"a\x1b[1;"), b"a");
        assert_eq!(t.filter_replies(b"1Rb"), b"b");
        // Other escape sequences (arrows) pass through.
        assert_eq!(t.filter_replies(b"\x1b[A\x1bOB"), b"\x1b[A\x1bOB");
    }

    #[test]
    fn pty_master_reads_what_the_slave_writes_and_eio_after_the_last_slave() {
        let mut ttys = Ttys::new(ConsoleMode::None, None);
        let tty = ttys.new_pty().unwrap();
        assert_eq!(tty.borrow().index, 0);
        let master = TtyEnd::new(tty.clone(), true);
        assert_eq!(tty.borrow_mut().master_read(10), Err(Errno::EAGAIN));
        let slave = TtyEnd::new(tty.clone(), false);
        assert_eq!(tty.borrow_mut().write(b"hi\n"), 3);
        assert_eq!(tty.borrow_mut().master_read(10).unwrap(), b"hi\r\n");
        // Typed at the master: echoed back, a line for the slave.
        assert_eq!(tty.borrow_mut().receive(b"ls\r"), 3);
        assert_eq!(tty.borrow_mut().master_read(10).unwrap(), b"ls\r\n");
        assert_eq!(tty.borrow_mut().read(10).unwrap(), b"ls\n");
        drop(slave);
        assert_eq!(tty.borrow_mut().master_read(10), Err(Errno::EIO));
        drop(master);
        assert!(tty.borrow().hung_up);
        assert_eq!(*ttys.closed.borrow(), [0]);
        assert_eq!(tty.borrow_mut().read(10).unwrap(), b"");
    }

    #[test]
    fn a_full_master_makes_slave_writers_wait() {
        let mut ttys = Ttys::new(ConsoleMode::Raw, Some((40, 120)));
        assert_eq!(ttys.console.as_ref().unwrap().borrow().winsize.cols, 120);
        let tty = ttys.new_pty().unwrap();
        assert_eq!(tty.borrow().index, 1);
        let big = vec![b'x'; OUT_MAX + 100];
        assert_eq!(tty.borrow_mut().write(&big), OUT_MAX);
        assert!(!tty.borrow().writable());
        assert_eq!(tty.borrow_mut().write(b"y"), 0);
    }
}
