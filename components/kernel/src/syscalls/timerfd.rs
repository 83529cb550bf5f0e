//! timerfd_create(2), timerfd_settime, timerfd_gettime: timers read as descriptors, which
//! event loops (libuv, tokio, systemd) wait on with poll and epoll.
//!
//! A timer keeps its next expiry on the host's monotonic clock and counts expirations
//! lazily, when it is looked at. CLOCK_REALTIME times are turned into monotonic ones when
//! the timer is set: friscy's wall clock cannot be set, so the two never drift apart (and
//! TFD_TIMER_CANCEL_ON_SET, accepted, never fires). A thread parked on timers (read, poll,
//! epoll) parks with the first expiry as its wake-up time, which is how the scheduler's
//! idle wait knows when to wake.

use friscy_abi::Errno;

use super::fs::{O_CLOEXEC, O_NONBLOCK, fd_arg};
use super::poll::{POLLIN, POLLRDNORM};
use super::{Args, SysResult};
use crate::fd::{FileKind, OpenFile, Shared, install_anon};
use crate::{Kernel, Process};

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_BOOTTIME: u64 = 7;
const CLOCK_REALTIME_ALARM: u64 = 8;
const CLOCK_BOOTTIME_ALARM: u64 = 9;
const TFD_TIMER_ABSTIME: u64 = 1;
const TFD_TIMER_CANCEL_ON_SET: u64 = 2;
const NS: u64 = 1_000_000_000;

#[derive(Debug, Default)]
pub struct TimerFd {
    /// CLOCK_REALTIME (or its alarm twin): absolute times are wall-clock times.
    realtime: bool,
    /// The next expiry, in host monotonic nanoseconds; `None` when disarmed.
    next: Option<u64>,
    interval: u64,
    /// Expirations not read yet.
    ticks: u64,
}

impl TimerFd {
    /// Count the expirations up to `now`.
    fn update(&mut self, now: u64) {
        let n = expirations(&mut self.next, self.interval, now);
        self.ticks = self.ticks.saturating_add(n);
    }

    /// read(2): the expiration count as 8 bytes; EAGAIN ("would block") when there is none.
    pub fn read(&mut self, now: u64, len: usize) -> Result<Vec<u8>, Errno> {
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        self.update(now);
        if self.ticks == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(std::mem::take(&mut self.ticks).to_le_bytes().to_vec())
    }

    /// The poll(2) events: readable once it has expired.
    pub fn events(&mut self, now: u64) -> u16 {
        self.update(now);
        if self.ticks > 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    /// When a reader waiting on it should look again: its next expiry, if no expiration
    /// is waiting to be read already.
    fn wake_at(&self) -> Option<u64> {
        if self.ticks > 0 { None } else { self.next }
    }

    /// (it_value, it_interval) as timerfd_gettime reports them: time to the next expiry.
    fn get(&mut self, now: u64) -> (u64, u64) {
        self.update(now);
        (self.next.map_or(0, |n| n - now), self.interval)
    }
}

/// How many times a timer due at `*next` (every `interval` ns; 0: once) has expired by
/// `now`, moving `*next` past `now` (or to `None` for a one-shot timer that fired).
/// Shared with POSIX timers (posix_timer.rs).
pub(crate) fn expirations(next: &mut Option<u64>, interval: u64, now: u64) -> u64 {
    let Some(due) = next.filter(|&d| d <= now) else {
        return 0;
    };
    match (now - due).checked_div(interval) {
        None => {
            *next = None;
            1
        }
        Some(more) => {
            *next = Some(due.saturating_add((more + 1).saturating_mul(interval)));
            more + 1
        }
    }
}

/// When a timer set to `value` ns fires, on the host's monotonic clock: `value` from now,
/// or at `value` itself when `absolute` (a wall-clock time for a `realtime` timer, turned
/// into the same instant on the monotonic clock, possibly already past). `None`: disarmed.
/// Shared with POSIX timers.
pub(crate) fn first_expiry_at(
    k: &Kernel,
    value: u64,
    absolute: bool,
    realtime: bool,
    now: u64,
) -> Option<u64> {
    if value == 0 {
        None
    } else if !absolute {
        Some(now.saturating_add(value))
    } else if realtime {
        let (s, n) = k.host.wall_clock();
        let wall = (s.max(0) as u64).saturating_mul(NS) + n as u64;
        Some(if value >= wall {
            now.saturating_add(value - wall)
        } else {
            now.saturating_sub(wall - value)
        })
    } else {
        Some(value)
    }
}

/// The first wake-up time of the timers among `files`.
pub(crate) fn first_expiry<'a>(
    files: impl IntoIterator<Item = &'a std::rc::Rc<std::cell::RefCell<OpenFile>>>,
) -> Option<u64> {
    files.into_iter().filter_map(|f| expiry(&f.borrow())).min()
}

/// When a thread waiting for `f` to become readable should look again, if `f` is a timer.
pub(crate) fn expiry(f: &OpenFile) -> Option<u64> {
    match &f.kind {
        FileKind::TimerFd(t) => t.0.borrow().wake_at(),
        _ => None,
    }
}

impl Kernel {
    /// The current thread has just parked waiting on descriptors: also wake it at `at`
    /// (the first expiry of a timer among them). Its timeout is unchanged: `Restart` keeps
    /// that, and the retry decides whether the call is done.
    pub(crate) fn wake_by(&mut self, p: &mut Process, at: Option<u64>) {
        if let (Some(at), Some(b)) = (at, p.thread_mut().block.as_mut()) {
            b.deadline = Some(b.deadline.map_or(at, |d| d.min(at)));
        }
    }
}

/// Read a struct itimerspec: (it_interval, it_value) in nanoseconds (also for
/// timer_settime, posix_timer.rs).
pub(crate) fn read_itimerspec(k: &mut Kernel, p: &Process, addr: u64) -> Result<(u64, u64), Errno> {
    let b = k.read_user(p, addr, 32)?;
    let word = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
    let ns = |sec: u64, nsec: u64| {
        if (sec as i64) < 0 || nsec >= NS {
            return Err(Errno::EINVAL);
        }
        Ok(sec.saturating_mul(NS).saturating_add(nsec))
    };
    Ok((ns(word(0), word(1))?, ns(word(2), word(3))?))
}

/// Write a struct itimerspec from (it_value, it_interval) in nanoseconds.
pub(crate) fn write_itimerspec(
    k: &mut Kernel,
    p: &Process,
    addr: u64,
    (value, interval): (u64, u64),
) -> Result<(), Errno> {
    let mut b = Vec::with_capacity(32);
    for v in [interval / NS, interval % NS, value / NS, value % NS] {
        b.extend(v.to_le_bytes());
    }
    k.write_user(p, addr, &b)
}

fn timer_of(p: &Process, fd: i32) -> Result<Shared<TimerFd>, Errno> {
    match &p.fds.file(fd)?.borrow().kind {
        FileKind::TimerFd(t) => Ok(t.clone()),
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_timerfd_create(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (clock, flags) = (a[0], a[1] as u32);
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let realtime = match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_ALARM => true,
        CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => false,
        _ => return Err(Errno::EINVAL),
    };
    let timer = TimerFd {
        realtime,
        ..TimerFd::default()
    };
    Ok(install_anon(
        &mut p.fds,
        FileKind::TimerFd(Shared(std::rc::Rc::new(std::cell::RefCell::new(timer)))),
        "timerfd",
        flags & O_NONBLOCK,
        flags & O_CLOEXEC != 0,
    )? as u64)
}

pub fn sys_timerfd_settime(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, flags, new, old) = (fd_arg(a[0]), a[1], a[2], a[3]);
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = read_itimerspec(k, p, new)?;
    let timer = timer_of(p, fd)?;
    let now = k.host.monotonic_ns();
    let mut t = timer.0.borrow_mut();
    let previous = t.get(now);
    t.ticks = 0;
    t.interval = interval;
    t.next = first_expiry_at(k, value, flags & TFD_TIMER_ABSTIME != 0, t.realtime, now);
    drop(t);
    if old != 0 {
        write_itimerspec(k, p, old, previous)?;
    }
    Ok(0)
}

pub fn sys_timerfd_gettime(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let timer = timer_of(p, fd_arg(a[0]))?;
    let now = k.host.monotonic_ns();
    let cur = timer.0.borrow_mut().get(now);
    write_itimerspec(k, p, a[1], cur)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_are_counted_lazily() {
        let mut t = TimerFd {
            next: Some(100),
            interval: 10,
            ..TimerFd::default()
        };
        assert_eq!(t.read(99, 8), Err(Errno::EAGAIN));
        assert_eq!(t.wake_at(), Some(100));
        assert_eq!(t.events(125), POLLIN | POLLRDNORM);
        assert_eq!(t.wake_at(), None);
        assert_eq!(t.get(125), (5, 10));
        assert_eq!(t.read(125, 8).unwrap(), 3u64.to_le_bytes());
        assert_eq!(t.read(4, 8), Err(Errno::EAGAIN));
        assert_eq!(t.read(200, 4), Err(Errno::EINVAL));
        let mut once = TimerFd {
            next: Some(5),
            ..TimerFd::default()
        };
        assert_eq!(once.read(50, 8).unwrap(), 1u64.to_le_bytes());
        assert_eq!(once.get(60), (0, 0));
    }
}
