//! membarrier(2): memory barriers on every thread of the process (or system) at once.
//!
//! friscy runs all guest threads of a container on one host thread, switching between
//! them only inside the kernel, so every other thread is already past a full barrier
//! whenever the caller runs: each command is satisfied by the time it is asked. What is
//! kept is what Linux checks: the commands and flags it knows, and that the private
//! expedited commands are registered first (EPERM otherwise). Restartable sequences are
//! not offered (rseq is ENOSYS), so neither are the RSEQ commands.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::{Kernel, Process};

const QUERY: u64 = 0;
const GLOBAL: u64 = 1;
const GLOBAL_EXPEDITED: u64 = 1 << 1;
const REGISTER_GLOBAL_EXPEDITED: u64 = 1 << 2;
const PRIVATE_EXPEDITED: u64 = 1 << 3;
const REGISTER_PRIVATE_EXPEDITED: u64 = 1 << 4;
const PRIVATE_EXPEDITED_SYNC_CORE: u64 = 1 << 5;
const REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: u64 = 1 << 6;
const GET_REGISTRATIONS: u64 = 1 << 9;

/// What MEMBARRIER_CMD_QUERY reports.
const SUPPORTED: u64 = GLOBAL
    | GLOBAL_EXPEDITED
    | REGISTER_GLOBAL_EXPEDITED
    | PRIVATE_EXPEDITED
    | REGISTER_PRIVATE_EXPEDITED
    | PRIVATE_EXPEDITED_SYNC_CORE
    | REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | GET_REGISTRATIONS;

pub fn sys_membarrier(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (cmd, flags) = (a[0], a[1]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let registered = &mut p.membarrier;
    match cmd {
        QUERY => Ok(SUPPORTED),
        GLOBAL | GLOBAL_EXPEDITED => Ok(0),
        REGISTER_GLOBAL_EXPEDITED
        | REGISTER_PRIVATE_EXPEDITED
        | REGISTER_PRIVATE_EXPEDITED_SYNC_CORE => {
            *registered |= cmd;
            Ok(0)
        }
        // The command's registration is its bit shifted left once.
        PRIVATE_EXPEDITED | PRIVATE_EXPEDITED_SYNC_CORE => match *registered & (cmd << 1) {
            0 => Err(Errno::EPERM),
            _ => Ok(0),
        },
        GET_REGISTRATIONS => Ok(*registered),
        _ => Err(Errno::EINVAL),
    }
}
