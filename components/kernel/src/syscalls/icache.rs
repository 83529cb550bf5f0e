//! riscv_flush_icache(2) (arch/riscv/kernel/sys_riscv.c): JITs such as V8 call it after
//! writing code, before running it.
//!
//! exec keeps decoded code coherent with stores through the mapping it was fetched from,
//! so most calls find nothing stale; the flush still drops everything the address space
//! decoded, because code written through a second mapping of the same pages (a shared
//! object mapped twice, the double-mapping W^X scheme) is not seen by that tracking.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::{Kernel, Process};

/// SYS_RISCV_FLUSH_ICACHE_LOCAL: only this thread's hart needs the flush. There is one
/// code cache per address space, so it means the same as 0 here.
const FLUSH_ICACHE_LOCAL: u64 = 1;

pub fn sys_riscv_flush_icache(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    // Linux ignores start and end (it flushes everything) and checks only the flags.
    if a[2] & !FLUSH_ICACHE_LOCAL != 0 {
        return Err(Errno::EINVAL);
    }
    k.machine.flush_icache(p.space);
    Ok(0)
}
