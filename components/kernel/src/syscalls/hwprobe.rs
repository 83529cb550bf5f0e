//! riscv_hwprobe(2): what the hart implements, as Documentation/arch/riscv/hwprobe.rst
//! defines the keys. exec implements RV64IMAFDC with Zba, Zbb and Zbs (isa.rs).

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::{Kernel, Process};

const KEY_MVENDORID: i64 = 0;
const KEY_MARCHID: i64 = 1;
const KEY_MIMPID: i64 = 2;
const KEY_BASE_BEHAVIOR: i64 = 3;
const KEY_IMA_EXT_0: i64 = 4;
const KEY_CPUPERF_0: i64 = 5;
const KEY_ZICBOZ_BLOCK_SIZE: i64 = 6;

const BASE_BEHAVIOR_IMA: u64 = 1 << 0;
const IMA_FD: u64 = 1 << 0;
const IMA_C: u64 = 1 << 1;
const EXT_ZBA: u64 = 1 << 3;
const EXT_ZBB: u64 = 1 << 4;
const EXT_ZBS: u64 = 1 << 5;
/// RISCV_HWPROBE_MISALIGNED_UNKNOWN: nothing is promised about misaligned accesses.
const MISALIGNED_UNKNOWN: u64 = 0;

/// The value of a key, or None for keys this kernel does not know (reported as key -1).
fn probe(key: i64) -> Option<u64> {
    Some(match key {
        KEY_MVENDORID | KEY_MARCHID | KEY_MIMPID => 0,
        KEY_BASE_BEHAVIOR => BASE_BEHAVIOR_IMA,
        KEY_IMA_EXT_0 => IMA_FD | IMA_C | EXT_ZBA | EXT_ZBB | EXT_ZBS,
        KEY_CPUPERF_0 => MISALIGNED_UNKNOWN,
        // No Zicboz, so no block size.
        KEY_ZICBOZ_BLOCK_SIZE => 0,
        _ => return None,
    })
}

pub fn sys_riscv_hwprobe(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pairs, count, cpusetsize, cpus, flags) = (a[0], a[1], a[2], a[3], a[4]);
    // Linux 6.6: no flags are defined.
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    // An empty set (size 0, NULL) means all CPUs; otherwise it must name CPU 0, the one
    // hart there is.
    if cpusetsize != 0 || cpus != 0 {
        let set = k.read_user(p, cpus, cpusetsize.min(128) as usize)?;
        if set.first().is_none_or(|b| b & 1 == 0) {
            return Err(Errno::EINVAL);
        }
    }
    for i in 0..count {
        let at = pairs + i * 16;
        let key = k.read_u64(p, at)? as i64;
        let (key, value) = match probe(key) {
            Some(v) => (key, v),
            None => (-1, 0),
        };
        k.write_u64(p, at, key as u64)?;
        k.write_u64(p, at + 8, value)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ima_ext_matches_the_isa() {
        assert_eq!(probe(KEY_IMA_EXT_0), Some(0b11_1011));
        assert_eq!(probe(99), None);
    }
}
