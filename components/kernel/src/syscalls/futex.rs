//! futex(2): the wait queues under every mutex, condition variable and pthread_join.
//!
//! A waiter is queued by (address space, address) and parks with `Wake::Futex`; only a
//! FUTEX_WAKE (or requeue-and-wake) that picks it, a signal or its timeout resumes it. Its
//! retry then sees `futex_woken` and returns 0. A shared futex (no FUTEX_PRIVATE_FLAG) in
//! a MAP_SHARED mapping is keyed by its place in the shared object instead, so waiters in
//! different processes meet (shm.rs).

use friscy_abi::Errno;

use super::signal::read_timespec_ns;
use super::{Args, SysResult};
use crate::process::Wake;
use crate::{FutexKey, FutexWaiter, Kernel, Process};

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

pub fn sys_futex(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (uaddr, op, val, timeout, uaddr2, val3) =
        (a[0], a[1], a[2] as u32, a[3], a[4], a[5] as u32);
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let space = p.space;
    let key = move |k: &Kernel, addr: u64| k.futex_key(space, addr, private);
    match cmd {
        FUTEX_WAIT => wait(k, p, uaddr, val, timeout, false, op, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAIT_BITSET => {
            if val3 == 0 {
                return Err(Errno::EINVAL);
            }
            wait(k, p, uaddr, val, timeout, true, op, val3)
        }
        FUTEX_WAKE => {
            let key = key(k, uaddr);
            Ok(k.futex_wake(p, key, val as usize, FUTEX_BITSET_MATCH_ANY) as u64)
        }
        FUTEX_WAKE_BITSET => {
            if val3 == 0 {
                return Err(Errno::EINVAL);
            }
            let key = key(k, uaddr);
            Ok(k.futex_wake(p, key, val as usize, val3) as u64)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            if cmd == FUTEX_CMP_REQUEUE && read_u32(k, p, uaddr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            // The timeout argument carries the number to requeue.
            let (from, to) = (key(k, uaddr), key(k, uaddr2));
            let woken = k.futex_wake(p, from, val as usize, FUTEX_BITSET_MATCH_ANY);
            let moved = requeue(k, from, to, timeout as u32 as usize);
            Ok((woken + moved) as u64)
        }
        FUTEX_WAKE_OP => {
            if uaddr2 % 4 != 0 {
                return Err(Errno::EINVAL);
            }
            let old = read_u32(k, p, uaddr2)?;
            let new = wake_op_apply(val3, old)?;
            k.write_user(p, uaddr2, &new.to_le_bytes())?;
            let (key1, key2) = (key(k, uaddr), key(k, uaddr2));
            let mut woken = k.futex_wake(p, key1, val as usize, FUTEX_BITSET_MATCH_ANY);
            if wake_op_compare(val3, old) {
                woken += k.futex_wake(p, key2, timeout as u32 as usize, FUTEX_BITSET_MATCH_ANY);
            }
            Ok(woken as u64)
        }
        // Priority inheritance and the rest: libcs use them only when asked for.
        _ => Err(Errno::ENOSYS),
    }
}

fn read_u32(k: &mut Kernel, p: &Process, addr: u64) -> Result<u32, Errno> {
    let b = k.read_user(p, addr, 4)?;
    Ok(u32::from_le_bytes(b.try_into().unwrap()))
}

#[allow(clippy::too_many_arguments)]
fn wait(
    k: &mut Kernel,
    p: &mut Process,
    uaddr: u64,
    val: u32,
    timeout: u64,
    absolute: bool,
    op: u64,
    bitset: u32,
) -> SysResult {
    if p.thread().futex_woken {
        p.thread_mut().futex_woken = false;
        return Ok(0);
    }
    if let Some(r) = p.thread().restart
        && r.futex_queued
    {
        // Retried while still queued: the timeout passed (or a spurious look).
        if k.expired(p) {
            k.futex_dequeue(p.pid, p.tid());
            return Err(Errno::ETIMEDOUT);
        }
        let deadline = r.deadline;
        return k.park(p, Wake::Futex, deadline, deadline.is_none());
    }
    if read_u32(k, p, uaddr)? != val {
        return Err(Errno::EAGAIN);
    }
    let timeout_ns = if timeout == 0 {
        None
    } else {
        let ns = read_timespec_ns(k, p, timeout)?;
        Some(if absolute {
            // An absolute time on CLOCK_MONOTONIC, or CLOCK_REALTIME if asked.
            let now = if op & FUTEX_CLOCK_REALTIME != 0 {
                let (s, n) = k.host.wall_clock();
                (s as u64).saturating_mul(1_000_000_000) + n as u64
            } else {
                k.host.monotonic_ns()
            };
            ns.saturating_sub(now)
        } else {
            ns
        })
    };
    if timeout_ns == Some(0) {
        return Err(Errno::ETIMEDOUT);
    }
    let deadline = k.deadline_in(p, timeout_ns);
    let key = k.futex_key(p.space, uaddr, op & FUTEX_PRIVATE_FLAG != 0);
    k.futexes.entry(key).or_default().push_back(FutexWaiter {
        pid: p.pid,
        tid: p.tid(),
        bitset,
    });
    let result = k.park(p, Wake::Futex, deadline, deadline.is_none());
    if let Some(r) = p.thread_mut().restart.as_mut() {
        r.futex_queued = true;
    }
    result
}

/// Move up to `n` waiters from `from` to `to` (FUTEX_REQUEUE).
fn requeue(k: &mut Kernel, from: FutexKey, to: FutexKey, n: usize) -> usize {
    let Some(mut queue) = k.futexes.remove(&from) else {
        return 0;
    };
    let moved: Vec<FutexWaiter> = queue.drain(..n.min(queue.len())).collect();
    if !queue.is_empty() {
        k.futexes.insert(from, queue);
    }
    let count = moved.len();
    k.futexes.entry(to).or_default().extend(moved);
    count
}

impl Kernel {
    /// The key of the futex at `addr` in `space`: shared futexes in MAP_SHARED memory by
    /// their place in the shared object, everything else by address.
    pub fn futex_key(&self, space: friscy_exec::SpaceId, addr: u64, private: bool) -> FutexKey {
        match self.shm.key_of(space, addr) {
            Some((obj, offset)) if !private => FutexKey::Shared(obj, offset),
            _ => FutexKey::Private(space, addr),
        }
    }
}

/// FUTEX_WAKE_OP's operation on the old value: op in bits 28-31, oparg in 12-23.
fn wake_op_apply(encoded: u32, old: u32) -> Result<u32, Errno> {
    let op = (encoded >> 28) & 7;
    let shift_arg = encoded >> 31 != 0; // FUTEX_OP_OPARG_SHIFT (bit 3 of the op field)
    let mut arg = (encoded >> 12) & 0xfff;
    if arg & 0x800 != 0 {
        arg |= 0xffff_f000; // sign-extend the 12-bit argument
    }
    if shift_arg {
        arg = 1u32.checked_shl(arg & 31).unwrap_or(0);
    }
    Ok(match op {
        0 => arg,                   // SET
        1 => old.wrapping_add(arg), // ADD
        2 => old | arg,             // OR
        3 => old & !arg,            // ANDN
        4 => old ^ arg,             // XOR
        _ => return Err(Errno::ENOSYS),
    })
}

/// FUTEX_WAKE_OP's comparison of the old value: cmp in bits 24-27, cmparg in 0-11.
fn wake_op_compare(encoded: u32, old: u32) -> bool {
    let cmp = (encoded >> 24) & 0xf;
    let mut arg = encoded & 0xfff;
    if arg & 0x800 != 0 {
        arg |= 0xffff_f000;
    }
    let (old, arg) = (old as i32, arg as i32);
    match cmp {
        0 => old == arg,
        1 => old != arg,
        2 => old < arg,
        3 => old <= arg,
        4 => old > arg,
        5 => old >= arg,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_op_decodes_like_linux() {
        // FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_GT, 1), as old glibc condvars used it.
        let enc = (4 << 24) | 1; // op SET (0), oparg 0
        assert_eq!(wake_op_apply(enc, 5).unwrap(), 0);
        assert!(wake_op_compare(enc, 5));
        assert!(!wake_op_compare(enc, 1));
        // FUTEX_OP_ADD with a negative argument.
        let add = (1 << 28) | (0xfff << 12);
        assert_eq!(wake_op_apply(add, 5).unwrap(), 4);
    }
}
