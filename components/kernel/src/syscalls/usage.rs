//! Resource usage: getrusage and times. CPU time is estimated from the instructions the
//! process retired, with the same rate wait4's rusage uses (process.rs, `rusage_bytes`);
//! system time is not accounted.

use friscy_abi::Errno;

use super::process::rusage_bytes;
use super::{Args, SysResult};
use crate::{Kernel, Process};

const RUSAGE_SELF: i64 = 0;
const RUSAGE_CHILDREN: i64 = -1;
const RUSAGE_THREAD: i64 = 1;

/// Clock ticks per second for times(2) (USER_HZ, AT_CLKTCK).
const USER_HZ: u64 = 100;

/// Instructions per clock tick at rusage_bytes' rate (100 per microsecond).
const INSTRET_PER_TICK: u64 = 100 * 1_000_000 / USER_HZ;

pub fn sys_getrusage(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let mut b = match a[0] as i64 {
        RUSAGE_SELF => rusage_bytes(p.instret),
        RUSAGE_THREAD => rusage_bytes(p.thread().instret),
        RUSAGE_CHILDREN => rusage_bytes(p.children_instret),
        _ => return Err(Errno::EINVAL),
    };
    if a[0] as i64 != RUSAGE_CHILDREN {
        // ru_maxrss in KiB: the mapped size, the most that can be resident.
        let kb: u64 = p.mm.vmas.iter().map(|(&s, v)| v.end - s).sum::<u64>() / 1024;
        b[32..40].copy_from_slice(&kb.to_le_bytes());
    }
    k.write_user(p, a[1], &b)?;
    Ok(0)
}

pub fn sys_times(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if a[0] != 0 {
        // struct tms: utime, stime, cutime, cstime (clock_t each).
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&(p.instret / INSTRET_PER_TICK).to_le_bytes());
        b[16..24].copy_from_slice(&(p.children_instret / INSTRET_PER_TICK).to_le_bytes());
        k.write_user(p, a[0], &b)?;
    }
    // Elapsed ticks since an arbitrary point (the host's monotonic clock's origin).
    Ok(k.host.monotonic_ns() / (1_000_000_000 / USER_HZ))
}
