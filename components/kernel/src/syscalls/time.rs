//! Time syscalls: clocks and sleeping, from the host's wall and monotonic clocks.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::process::{Pid, instret_ns};
use crate::{Kernel, Process};

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
const CLOCK_MONOTONIC_RAW: u64 = 4;
const CLOCK_REALTIME_COARSE: u64 = 5;
const CLOCK_MONOTONIC_COARSE: u64 = 6;
const CLOCK_BOOTTIME: u64 = 7;
const TIMER_ABSTIME: u64 = 1;

/// A CPU-time clock id as clock_getcpuclockid and pthread_getcpuclockid make them: a
/// negative id, ~pid << 3, 4 for a thread, then the kind (profiling, virtual or scheduler
/// time; 3 is invalid). Returns the pid or tid (0: the caller's own) and whether it names
/// a thread; `None` for any other id.
pub(crate) fn cpu_clock_id(clock: u64) -> Option<(Pid, bool)> {
    let id = clock as i32;
    if id >= 0 || id & 3 == 3 {
        return None;
    }
    Some((!(id >> 3), id & 4 != 0))
}

impl Kernel {
    /// The time on `clock` as (seconds, nanoseconds), as `p` sees it: the CPU-time clocks
    /// are its own (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) or those
    /// clock_getcpuclockid and pthread_getcpuclockid make for a process or a thread of
    /// its own: a negative id, ~pid << 3, 4 for a thread, then the kind (profiling,
    /// virtual or scheduler time: the same here, as nearly all time is user time).
    fn clock_now(&self, p: &Process, clock: u64) -> Result<(i64, u32), Errno> {
        let ns = match clock {
            CLOCK_REALTIME | CLOCK_REALTIME_COARSE => return Ok(self.host.wall_clock()),
            CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
                self.host.monotonic_ns()
            }
            CLOCK_PROCESS_CPUTIME_ID => p.cpu_ns(),
            CLOCK_THREAD_CPUTIME_ID => instret_ns(p.thread().instret),
            _ => {
                let (pid, thread) = cpu_clock_id(clock).ok_or(Errno::EINVAL)?;
                if thread {
                    // A thread of the caller's own process.
                    let t = match pid {
                        0 => p.thread(),
                        _ => p
                            .threads
                            .iter()
                            .find(|t| t.tid == pid)
                            .ok_or(Errno::EINVAL)?,
                    };
                    instret_ns(t.instret)
                } else if pid == 0 || pid == p.pid {
                    p.cpu_ns()
                } else {
                    self.procs.get(&pid).ok_or(Errno::EINVAL)?.cpu_ns()
                }
            }
        };
        Ok(((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32))
    }

    fn read_timespec(&mut self, p: &Process, addr: u64) -> Result<(i64, u64), Errno> {
        let sec = self.read_u64(p, addr)? as i64;
        let nsec = self.read_u64(p, addr + 8)?;
        if sec < 0 || nsec >= 1_000_000_000 {
            return Err(Errno::EINVAL);
        }
        Ok((sec, nsec))
    }

    /// Sleep for `ns` nanoseconds: park until the deadline (computed on the first run of
    /// the call, kept across its retries). A signal handler ends it with EINTR.
    fn sleep_ns(&mut self, p: &mut Process, ns: u64) -> SysResult {
        if ns == 0 {
            return Ok(0);
        }
        let deadline = self.deadline_in(p, Some(ns));
        if self.expired(p) {
            return Ok(0);
        }
        self.park(p, crate::process::Wake::Signal, deadline, false)
    }
}

fn write_timespec(
    k: &mut Kernel,
    p: &Process,
    addr: u64,
    (sec, nsec): (i64, u32),
) -> Result<(), Errno> {
    k.write_u64(p, addr, sec as u64)?;
    k.write_u64(p, addr + 8, nsec as u64)
}

pub fn sys_clock_gettime(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let now = k.clock_now(p, a[0])?;
    write_timespec(k, p, a[1], now)?;
    Ok(0)
}

pub fn sys_clock_getres(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    k.clock_now(p, a[0])?;
    if a[1] != 0 {
        write_timespec(k, p, a[1], (0, 1))?;
    }
    Ok(0)
}

/// clock_settime(2): friscy cannot set the host's clock, and a container has no
/// CAP_SYS_TIME (docker drops it), so setting CLOCK_REALTIME is EPERM once the arguments
/// pass Linux's checks; clocks that cannot be set are EINVAL.
pub fn sys_clock_settime(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if a[0] != CLOCK_REALTIME {
        k.clock_now(p, a[0])?;
        return Err(Errno::EINVAL);
    }
    // A negative or out-of-range time is EINVAL (read_timespec checks both).
    k.read_timespec(p, a[1])?;
    Err(Errno::EPERM)
}

/// settimeofday(2): as clock_settime (a NULL time with a time zone only is accepted and
/// ignored, as Linux does for the obsolete time zone).
pub fn sys_settimeofday(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if a[0] == 0 {
        return Ok(0);
    }
    let sec = k.read_u64(p, a[0])? as i64;
    let usec = k.read_u64(p, a[0] + 8)? as i64;
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Err(Errno::EPERM)
}

pub fn sys_gettimeofday(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if a[0] != 0 {
        let (sec, nsec) = k.host.wall_clock();
        k.write_u64(p, a[0], sec as u64)?;
        k.write_u64(p, a[0] + 8, (nsec / 1000) as u64)?;
    }
    if a[1] != 0 {
        k.write_user(p, a[1], &[0; 8])?; // struct timezone: UTC
    }
    Ok(0)
}

pub fn sys_nanosleep(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (sec, nsec) = k.read_timespec(p, a[0])?;
    k.sleep_ns(
        p,
        (sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(nsec),
    )
}

pub fn sys_clock_nanosleep(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (clock, flags) = (a[0], a[1]);
    // Sleeping on a thread's CPU clock is EINVAL on Linux; a process's CPU clock is slept
    // on as on the monotonic one (it would wait for other threads to compute that long).
    if clock == CLOCK_THREAD_CPUTIME_ID || (clock as i32) < 0 && clock & 4 != 0 {
        return Err(Errno::EINVAL);
    }
    let now = k.clock_now(p, clock)?;
    let (sec, nsec) = k.read_timespec(p, a[2])?;
    let want = (sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec);
    let ns = if flags & TIMER_ABSTIME != 0 {
        want.saturating_sub(now.0 as u64 * 1_000_000_000 + now.1 as u64)
    } else {
        want
    };
    k.sleep_ns(p, ns)
}
