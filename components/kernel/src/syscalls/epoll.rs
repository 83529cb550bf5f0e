//! epoll(7) and eventfd(2): the readiness interfaces of event loops (libuv, asyncio,
//! tokio). Readiness itself comes from `Kernel::poll_file` (poll.rs), so epoll sees exactly
//! what poll sees.
//!
//! Level-triggered entries are reported whenever they are ready. Edge-triggered ones
//! (EPOLLET: Go's netpoller, mio/tokio, nginx) are reported when something happened since
//! their last report: a readiness bit that was clear at an earlier look is set now, or the
//! file's reader (writer) was sent away to wait since, by EAGAIN or a short transfer
//! (`Edges`): after that, readiness means new data (new room). Linux reports at every
//! wake-up of the file (each arrival); this reports whenever a user that reads or writes
//! until EAGAIN, as edge-triggered users must, could have missed one, and never again for
//! readiness nobody acted on: an idle writable socket is reported once, not at every wait
//! (an event loop that never sleeps). EPOLLONESHOT disarms an entry after it is reported.
//!
//! An epoll descriptor is itself readable while one of its entries is ready (`any_ready`),
//! so sets nest (sd-event, loops embedding libuv's) and poll(2) can wait on one; a cycle
//! or nesting deeper than EPOLL_MAX_NESTS is ELOOP. A timerfd inside a nested set does not
//! bound the outer waiter's sleep (its expiry is not looked for there).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use friscy_abi::Errno;

use super::fs::{O_CLOEXEC, O_NONBLOCK};
use super::poll::{POLLERR, POLLHUP};
use super::{Args, SysResult};
use crate::fd::{FileKind, FileRef, OpenFile, Shared, install_anon};
use crate::process::Wake;
use crate::{Kernel, Process};

const EPOLL_CTL_ADD: u64 = 1;
const EPOLL_CTL_DEL: u64 = 2;
const EPOLL_CTL_MOD: u64 = 3;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLET: u32 = 1 << 31;
/// The readiness bits a reader's edge makes worth reporting again (EPOLLIN, EPOLLPRI,
/// EPOLLRDNORM, EPOLLRDBAND, EPOLLRDHUP), and a writer's (EPOLLOUT, EPOLLWRNORM, EPOLLWRBAND).
const IN_BITS: u32 = 0x1 | 0x2 | 0x40 | 0x80 | 0x2000;
const OUT_BITS: u32 = 0x4 | 0x100 | 0x200;
const EPOLLONESHOT: u32 = 1 << 30;
/// Flags in `events` that are not readiness bits.
const EPOLL_CONTROL: u32 = EPOLLET | EPOLLONESHOT | (1 << 29) | EPOLLEXCLUSIVE;

#[derive(Debug)]
struct Interest {
    /// The open file description registered (entries vanish when it is gone, as in Linux
    /// where closing the last descriptor removes it from every epoll set).
    file: Weak<RefCell<OpenFile>>,
    events: u32,
    data: u64,
    /// EPOLLONESHOT fired: no more reports until EPOLL_CTL_MOD.
    disarmed: bool,
    /// EPOLLET: the readiness seen at the last look, and the file's edges at the last
    /// report (None: not reported since added or modified).
    seen: u32,
    reported: Option<Edges>,
}

impl Interest {
    fn new(file: &FileRef, events: u32, data: u64) -> Interest {
        Interest {
            file: Rc::downgrade(file),
            events,
            data,
            disarmed: false,
            seen: 0,
            reported: None,
        }
    }
}

/// How often a file's reader and writer were sent away to wait (EAGAIN, or fewer bytes
/// than asked: the buffer was emptied, or filled), counted by the dispatcher when a call
/// finishes (`note_edges`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edges {
    pub read: u64,
    pub write: u64,
}

/// After a finished syscall: count the edges of the files it read and wrote.
pub fn note_edges(p: &Process, nr: u64, a: &Args, result: &SysResult) {
    // (descriptor argument, reads: true / writes: false); the asked length is a[2] for the
    // calls that have one there, other calls count every finish (an extra report at worst).
    let (files, len): (&[(usize, bool)], Option<u64>) = match nr {
        // read, pread64, recvfrom
        63 | 67 | 207 => (&[(0, true)], Some(a[2])),
        // write, pwrite64, sendto
        64 | 68 | 206 => (&[(0, false)], Some(a[2])),
        // readv, preadv, accept, recvmsg, accept4, recvmmsg, preadv2
        65 | 69 | 202 | 212 | 242 | 243 | 286 => (&[(0, true)], None),
        // writev, pwritev, vmsplice, sendmsg, sendmmsg, pwritev2
        66 | 70 | 75 | 211 | 269 | 287 => (&[(0, false)], None),
        // sendfile(out, in), tee(in, out), splice(in, off_in, out)
        71 => (&[(0, false), (1, true)], None),
        77 => (&[(0, true), (1, false)], None),
        76 => (&[(0, true), (2, false)], None),
        _ => return,
    };
    if let (Ok(n), Some(len)) = (result, len)
        && *n >= len
    {
        return;
    }
    for &(i, read) in files {
        if let Ok(f) = p.fds.file(a[i] as i32) {
            let edges = &mut f.borrow_mut().edges;
            if read {
                edges.read += 1;
            } else {
                edges.write += 1;
            }
        }
    }
}

/// A file's edges as epoll compares them: the times its reader and writer were sent
/// away, plus, where the kernel keeps the queue, the times data arrived for the reader
/// (a pipe write, a unix socket message, an eventfd write). Linux wakes an edge-triggered
/// entry at each arrival, so a reader that did not drain is told of new data.
pub(crate) fn wakeups(f: &OpenFile) -> Edges {
    let mut e = f.edges;
    match &f.kind {
        FileKind::Pipe(end) => e.read += end.pipe.borrow().buf.added,
        FileKind::EventFd(ev) => e.read += ev.0.borrow().writes,
        FileKind::Socket(s) => {
            if let crate::socket::Imp::Unix(u) = &s.0.borrow().imp {
                e.read += u.arrivals;
            }
        }
        _ => {}
    }
    e
}

#[derive(Debug, Default)]
pub struct Epoll {
    interest: BTreeMap<i32, Interest>,
}

#[derive(Debug, Default)]
pub struct EventFd {
    pub count: u64,
    pub semaphore: bool,
    /// Writes so far: each wakes readers (an edge-triggered epoll reports again).
    pub writes: u64,
}

pub fn sys_epoll_create1(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let flags = a[0] as u32;
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(install_anon(
        &mut p.fds,
        FileKind::Epoll(Shared::default()),
        "eventpoll",
        0,
        flags & O_CLOEXEC != 0,
    )? as u64)
}

pub fn sys_epoll_ctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (epfd, op, fd, event) = (a[0] as i32, a[1], a[2] as i32, a[3]);
    let ep_file = p.fds.file(epfd)?;
    let FileKind::Epoll(ep) = &ep_file.borrow().kind else {
        return Err(Errno::EINVAL);
    };
    let target = p.fds.file(fd)?;
    if fd == epfd {
        return Err(Errno::EINVAL);
    }
    if matches!(target.borrow().kind, FileKind::Inode(_) | FileKind::Proc(_)) {
        // Regular files and directories do not support epoll (EPERM, as in Linux).
        return Err(Errno::EPERM);
    }
    if let FileKind::Epoll(inner) = &target.borrow().kind
        && op == EPOLL_CTL_ADD
        && makes_loop(ep, inner, 0)
    {
        return Err(Errno::ELOOP);
    }
    let (events, data) = if op == EPOLL_CTL_DEL {
        (0, 0)
    } else {
        // struct epoll_event on riscv64: u32 events, 4 bytes padding, u64 data.
        let b = k.read_user(p, event, 16)?;
        (
            u32::from_le_bytes(b[0..4].try_into().unwrap()),
            u64::from_le_bytes(b[8..16].try_into().unwrap()),
        )
    };
    let mut set = ep.0.borrow_mut();
    // An entry whose description was closed (and the fd number reused) is stale.
    if let Some(old) = set.interest.get(&fd)
        && !old.file.upgrade().is_some_and(|f| Rc::ptr_eq(&f, &target))
    {
        set.interest.remove(&fd);
    }
    match op {
        EPOLL_CTL_ADD => {
            if set.interest.contains_key(&fd) {
                return Err(Errno::EEXIST);
            }
            set.interest
                .insert(fd, Interest::new(&target, events, data));
        }
        EPOLL_CTL_MOD => {
            let e = set.interest.get_mut(&fd).ok_or(Errno::ENOENT)?;
            if events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            *e = Interest::new(&target, events, data);
        }
        EPOLL_CTL_DEL => {
            set.interest.remove(&fd).ok_or(Errno::ENOENT)?;
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// How deep epoll sets may nest (EPOLL_MAX_NESTS, fs/eventpoll.c).
const MAX_NESTS: usize = 4;

thread_local! {
    /// The depth of nested `any_ready` looks now (a set inside a set...).
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether some entry of the set is ready for what it asks (as a poll of the epoll
/// descriptor sees it: readable). Edge-triggered entries count while ready, so a nesting
/// loop may wake once more than Linux would; it never misses one.
pub fn any_ready(k: &mut Kernel, p: &Process, ep: &Shared<Epoll>) -> bool {
    if DEPTH.get() > MAX_NESTS {
        return false;
    }
    let files: Vec<(FileRef, u32)> = match ep.0.try_borrow() {
        Ok(set) => set
            .interest
            .values()
            .filter(|e| !e.disarmed)
            .filter_map(|e| Some((e.file.upgrade()?, e.events)))
            .collect(),
        // The set is being looked at already (it contains itself through another set).
        Err(_) => return false,
    };
    DEPTH.set(DEPTH.get() + 1);
    let ready = files.iter().any(|(f, events)| match f.try_borrow() {
        Ok(f) => {
            let got = k.poll_file(p, &f, *events as u16) as u32;
            got & ((events & !EPOLL_CONTROL) | POLLERR as u32 | POLLHUP as u32) != 0
        }
        Err(_) => false,
    });
    DEPTH.set(DEPTH.get() - 1);
    ready
}

/// Whether adding the set `inner` to `outer` would close a loop or nest too deep (ELOOP,
/// as ep_loop_check).
fn makes_loop(outer: &Shared<Epoll>, inner: &Shared<Epoll>, depth: usize) -> bool {
    if outer == inner || depth > MAX_NESTS {
        return true;
    }
    let Ok(set) = inner.0.try_borrow() else {
        return true;
    };
    set.interest.values().any(|e| {
        e.file.upgrade().is_some_and(|f| match &f.borrow().kind {
            FileKind::Epoll(next) => makes_loop(outer, next, depth + 1),
            _ => false,
        })
    })
}

/// epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize).
pub fn sys_epoll_pwait(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let timeout_ms = a[3] as i32;
    let timeout = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1_000_000);
    epoll_wait(k, p, a, timeout)
}

/// epoll_pwait2: the timeout is a struct timespec (NULL: forever).
pub fn sys_epoll_pwait2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let timeout = if a[3] == 0 {
        None
    } else {
        Some(super::signal::read_timespec_ns(k, p, a[3])?)
    };
    epoll_wait(k, p, a, timeout)
}

fn epoll_wait(k: &mut Kernel, p: &mut Process, a: Args, timeout: Option<u64>) -> SysResult {
    let (epfd, events_addr, maxevents, sigmask, sigsetsize) =
        (a[0] as i32, a[1], a[2] as i32, a[4], a[5]);
    if maxevents <= 0 || maxevents > (i32::MAX / 16) {
        return Err(Errno::EINVAL);
    }
    let ep_file = p.fds.file(epfd)?;
    let ep = match &ep_file.borrow().kind {
        FileKind::Epoll(ep) => ep.clone(),
        _ => return Err(Errno::EINVAL),
    };
    k.swap_sigmask(p, sigmask, sigsetsize)?;
    let mut out = Vec::new();
    let mut has_stdin = false;
    let mut timer: Option<u64> = None;
    {
        let mut set = ep.0.borrow_mut();
        set.interest.retain(|_, e| e.file.strong_count() > 0);
        for e in set.interest.values_mut() {
            if out.len() >= maxevents as usize * 16 {
                break;
            }
            if e.disarmed {
                continue;
            }
            let Some(f) = e.file.upgrade() else { continue };
            has_stdin |= f.borrow().kind == FileKind::Stdio(crate::host::Stdio::In);
            if let Some(at) = super::timerfd::expiry(&f.borrow()) {
                timer = Some(timer.map_or(at, |t| t.min(at)));
            }
            let ready = k.poll_file(p, &f.borrow(), e.events as u16) as u32
                & ((e.events & !EPOLL_CONTROL) | POLLERR as u32 | POLLHUP as u32);
            let seen = std::mem::replace(&mut e.seen, ready);
            let edges = wakeups(&f.borrow());
            let report = e.events & EPOLLET == 0
                || ready & !seen != 0
                || e.reported.is_none_or(|r| {
                    (ready & IN_BITS != 0 && r.read != edges.read)
                        || (ready & OUT_BITS != 0 && r.write != edges.write)
                });
            if ready != 0 && report {
                e.reported = Some(edges);
                out.extend_from_slice(&ready.to_le_bytes());
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&e.data.to_le_bytes());
                if e.events & EPOLLONESHOT != 0 {
                    e.disarmed = true;
                }
            }
        }
    }
    if !out.is_empty() || timeout == Some(0) || k.expired(p) {
        k.write_user(p, events_addr, &out)?;
        return Ok(out.len() as u64 / 16);
    }
    let deadline = k.deadline_in(p, timeout);
    let wake = if has_stdin { Wake::Stdin } else { Wake::Event };
    let r = k.park(p, wake, deadline, false);
    k.wake_by(p, timer);
    r
}

const EFD_SEMAPHORE: u32 = 1;

pub fn sys_eventfd2(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (initval, flags) = (a[0] as u32, a[1] as u32);
    if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let efd = EventFd {
        count: initval as u64,
        semaphore: flags & EFD_SEMAPHORE != 0,
        writes: 0,
    };
    Ok(install_anon(
        &mut p.fds,
        FileKind::EventFd(Shared(Rc::new(RefCell::new(efd)))),
        "eventfd",
        flags & O_NONBLOCK,
        flags & O_CLOEXEC != 0,
    )? as u64)
}

impl EventFd {
    /// read(2): the counter (or 1 in semaphore mode); EAGAIN means "would block".
    pub fn read(&mut self, len: usize) -> Result<Vec<u8>, Errno> {
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        if self.count == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { self.count };
        self.count -= v;
        Ok(v.to_le_bytes().to_vec())
    }

    /// write(2): add an 8-byte value; EAGAIN if it would overflow (the writer waits).
    pub fn write(&mut self, data: &[u8]) -> Result<u64, Errno> {
        if data.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = u64::from_le_bytes(data[..8].try_into().unwrap());
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        if self.count.checked_add(v).is_none_or(|c| c == u64::MAX) {
            return Err(Errno::EAGAIN);
        }
        self.count += v;
        self.writes += 1;
        Ok(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_counts_and_semaphore_mode() {
        let mut e = EventFd::default();
        assert_eq!(e.read(8), Err(Errno::EAGAIN));
        e.write(&5u64.to_le_bytes()).unwrap();
        e.write(&2u64.to_le_bytes()).unwrap();
        assert_eq!(e.read(8).unwrap(), 7u64.to_le_bytes());
        e.semaphore = true;
        e.write(&2u64.to_le_bytes()).unwrap();
        assert_eq!(e.read(8).unwrap(), 1u64.to_le_bytes());
        assert_eq!(e.read(8).unwrap(), 1u64.to_le_bytes());
        assert_eq!(e.read(8), Err(Errno::EAGAIN));
        assert_eq!(e.read(4), Err(Errno::EINVAL));
        assert_eq!(e.write(&u64::MAX.to_le_bytes()), Err(Errno::EINVAL));
    }
}
