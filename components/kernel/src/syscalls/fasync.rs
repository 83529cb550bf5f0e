//! Signal-driven I/O (fcntl(2) "Managing signals", fs/fcntl.c): O_ASYNC (F_SETFL or the
//! FIOASYNC ioctl) and an owner (F_SETOWN, F_SETOWN_EX) make a file send SIGIO, or the
//! signal F_SETSIG chose, to its owner when it becomes readable or writable. nginx's
//! master and workers set it on their channel socketpairs, and refuse to start workers
//! when FIOASYNC fails.
//!
//! Linux sends the signal at each wake-up of the file. Here the scheduler looks at the
//! files that have an owner each time it runs a process (so after another process's write,
//! and after the idle wait, when data may have come from outside), and signals each whose
//! readiness gained a bit since the last look, or whose reader got more data (the arrivals
//! epoll counts: pipes, unix sockets, eventfds) (`Kernel::fasync_check`): a reader that
//! waits for SIGIO in sigsuspend hears of the data another process wrote, which is what
//! programs rely on. Several arrivals between two looks make one signal (as a standard
//! signal still pending would). Readiness a file already had when it was armed is not
//! signalled, as on Linux.

use std::cell::RefCell;
use std::rc::Weak;

use friscy_abi::Errno;

use super::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI};
use super::{Args, SysResult};
use crate::fd::{FileRef, OpenFile};
use crate::process::Pid;
use crate::signal::{self, SigInfo};
use crate::{Kernel, Process};

/// O_ASYNC (FASYNC) in the open file's status flags.
pub const O_ASYNC: u32 = 0o20000;

pub const F_SETOWN: u64 = 8;
pub const F_GETOWN: u64 = 9;
pub const F_SETSIG: u64 = 10;
pub const F_GETSIG: u64 = 11;
pub const F_SETOWN_EX: u64 = 15;
pub const F_GETOWN_EX: u64 = 16;

/// struct f_owner_ex's types.
const F_OWNER_TID: i32 = 0;
const F_OWNER_PID: i32 = 1;
const F_OWNER_PGRP: i32 = 2;

/// si_code of a signal F_SETSIG chose (POLL_IN...); the default SIGIO is SI_KERNEL.
const POLL_IN: i32 = 1;
const POLL_OUT: i32 = 2;
const POLL_ERR: i32 = 4;
const POLL_HUP: i32 = 6;

/// The readiness a signal is sent for.
const WATCHED: u16 = POLLIN | POLLOUT | POLLPRI | POLLERR | POLLHUP;

/// A file with an owner for its signals.
#[derive(Debug)]
pub struct AsyncFile {
    file: Weak<RefCell<OpenFile>>,
    /// F_SETOWN's argument: a process (> 0) or a process group (< 0); 0 none. With
    /// F_OWNER_TID the thread (signalled as its process here).
    owner: i32,
    owner_tid: bool,
    /// F_SETSIG: 0 for SIGIO.
    sig: u8,
    /// The readiness at the last look.
    ready: u16,
    /// The reader's arrivals at the last look (epoll::wakeups): each new one is a
    /// POLL_IN signal, as Linux's kill_fasync at every write into a pipe or socket.
    arrivals: u64,
}

impl Kernel {
    fn fasync_find(&self, file: &FileRef) -> Option<usize> {
        self.fasync.iter().position(|a| {
            a.file
                .upgrade()
                .is_some_and(|f| std::rc::Rc::ptr_eq(&f, file))
        })
    }

    /// The file's entry, made (with its readiness now) if it has none.
    fn fasync_entry(&mut self, p: &Process, file: &FileRef) -> &mut AsyncFile {
        let at = match self.fasync_find(file) {
            Some(at) => at,
            None => {
                let ready = self.poll_file(p, &file.borrow(), WATCHED) & WATCHED;
                let arrivals = super::epoll::wakeups(&file.borrow()).read;
                self.fasync.push(AsyncFile {
                    file: std::rc::Rc::downgrade(file),
                    owner: 0,
                    owner_tid: false,
                    sig: 0,
                    ready,
                    arrivals,
                });
                self.fasync.len() - 1
            }
        };
        &mut self.fasync[at]
    }

    /// Sets or clears O_ASYNC on `file` (F_SETFL, FIOASYNC). When it turns on, what the
    /// file is ready for now is not news.
    pub(crate) fn set_o_async(&mut self, p: &Process, file: &FileRef, on: bool) {
        let was = {
            let mut f = file.borrow_mut();
            let was = f.flags & O_ASYNC != 0;
            f.flags = if on {
                f.flags | O_ASYNC
            } else {
                f.flags & !O_ASYNC
            };
            was
        };
        if on && !was {
            let ready = self.poll_file(p, &file.borrow(), WATCHED) & WATCHED;
            let arrivals = super::epoll::wakeups(&file.borrow()).read;
            let a = self.fasync_entry(p, file);
            a.ready = ready;
            a.arrivals = arrivals;
        }
    }

    /// Signals the owners of files whose readiness gained a bit since the last look, or
    /// whose reader got more data.
    pub(crate) fn fasync_check(&mut self, p: &mut Process) {
        if self.fasync.is_empty() {
            return;
        }
        self.fasync.retain(|a| a.file.strong_count() > 0);
        let mut sends = Vec::new();
        for i in 0..self.fasync.len() {
            let Some(file) = self.fasync[i].file.upgrade() else {
                continue;
            };
            let Ok(f) = file.try_borrow() else { continue };
            let armed = f.flags & O_ASYNC != 0 && self.fasync[i].owner != 0;
            let ready = self.poll_file(p, &f, WATCHED) & WATCHED;
            let arrivals = super::epoll::wakeups(&f).read;
            drop(f);
            let a = &mut self.fasync[i];
            let mut gained = ready & !a.ready;
            if arrivals != a.arrivals && ready & POLLIN != 0 {
                gained |= POLLIN; // more data for a reader that had some already
            }
            a.ready = ready;
            a.arrivals = arrivals;
            if armed && gained != 0 {
                sends.push((a.owner, a.sig, gained));
            }
        }
        for (owner, sig, gained) in sends {
            let (signo, code) = match sig {
                0 => (signal::SIGIO, signal::SI_KERNEL),
                s if gained & (POLLERR) != 0 => (s, POLL_ERR),
                s if gained & POLLHUP != 0 => (s, POLL_HUP),
                s if gained & (POLLIN | POLLPRI) != 0 => (s, POLL_IN),
                s => (s, POLL_OUT),
            };
            let info = SigInfo {
                signo,
                code,
                ..SigInfo::default()
            };
            let targets: Vec<Pid> = if owner > 0 {
                vec![owner]
            } else {
                self.group_members(p, -owner)
            };
            for pid in targets {
                self.signal_process(p, pid, signo, info);
            }
        }
    }
}

/// The fcntl commands of signal-driven I/O.
pub fn fcntl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(super::fs::fd_arg(a[0]))?;
    match a[1] {
        F_SETOWN => {
            let e = k.fasync_entry(p, &file);
            e.owner = a[2] as i32;
            e.owner_tid = false;
            Ok(0)
        }
        F_GETOWN => Ok(k.fasync_find(&file).map_or(0, |i| k.fasync[i].owner) as i64 as u64),
        F_SETSIG => {
            if a[2] > signal::NSIG as u64 {
                return Err(Errno::EINVAL);
            }
            k.fasync_entry(p, &file).sig = a[2] as u8;
            Ok(0)
        }
        F_GETSIG => Ok(k.fasync_find(&file).map_or(0, |i| k.fasync[i].sig) as u64),
        F_SETOWN_EX => {
            let b = k.read_user(p, a[2], 8)?;
            let ty = i32::from_le_bytes(b[0..4].try_into().unwrap());
            let pid = i32::from_le_bytes(b[4..8].try_into().unwrap());
            let owner = match ty {
                F_OWNER_TID | F_OWNER_PID => pid,
                F_OWNER_PGRP => -pid,
                _ => return Err(Errno::EINVAL),
            };
            let e = k.fasync_entry(p, &file);
            e.owner = owner;
            e.owner_tid = ty == F_OWNER_TID;
            Ok(0)
        }
        F_GETOWN_EX => {
            let (owner, tid) = k
                .fasync_find(&file)
                .map_or((0, false), |i| (k.fasync[i].owner, k.fasync[i].owner_tid));
            let (ty, pid) = match (owner, tid) {
                (o, _) if o < 0 => (F_OWNER_PGRP, -o),
                (o, true) => (F_OWNER_TID, o),
                (o, false) => (F_OWNER_PID, o),
            };
            let mut b = ty.to_le_bytes().to_vec();
            b.extend_from_slice(&pid.to_le_bytes());
            k.write_user(p, a[2], &b)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
