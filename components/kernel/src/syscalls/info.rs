//! System information syscalls: uname, sethostname, setdomainname, sysinfo, getrandom.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::{Kernel, Process};

/// What uname(2) reports. The release is a real Linux version so libcs' version checks
/// pass; "friscy" in the version string lets programs tell where they run.
pub const UTS_SYSNAME: &str = "Linux";
pub const UTS_NODENAME: &str = "friscy";
pub const UTS_RELEASE: &str = "6.6.0-friscy";
pub const UTS_VERSION: &str = "#1 SMP friscy";
pub const UTS_MACHINE: &str = "riscv64";

pub fn sys_uname(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    // struct utsname: six fields of 65 bytes.
    let mut buf = [0u8; 65 * 6];
    // The nodename is the container's hostname (friscy run --hostname), at most 64 bytes.
    let node = &k.hostname[..k.hostname.len().min(64)];
    for (i, s) in [
        UTS_SYSNAME.as_bytes(),
        node,
        UTS_RELEASE.as_bytes(),
        UTS_VERSION.as_bytes(),
        UTS_MACHINE.as_bytes(),
        &k.domainname,
    ]
    .iter()
    .enumerate()
    {
        buf[i * 65..i * 65 + s.len()].copy_from_slice(s);
    }
    k.write_user(p, a[0], &buf)?;
    Ok(0)
}

/// __NEW_UTS_LEN: the longest host or domain name.
const UTS_LEN: u64 = 64;

/// sethostname(2) and setdomainname(2): the container has its own UTS namespace, so root
/// (CAP_SYS_ADMIN in it) may rename it, as in the qemu reference's namespace; anyone else
/// gets EPERM, and a name longer than 64 bytes EINVAL.
fn set_uts_name(k: &mut Kernel, p: &Process, a: Args) -> Result<Vec<u8>, Errno> {
    if !p.creds.capable(crate::creds::cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    if a[1] > UTS_LEN {
        return Err(Errno::EINVAL);
    }
    k.read_user(p, a[0], a[1] as usize)
}

pub fn sys_sethostname(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    k.hostname = set_uts_name(k, p, a)?;
    Ok(0)
}

pub fn sys_setdomainname(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    k.domainname = set_uts_name(k, p, a)?;
    Ok(0)
}

pub fn sys_sysinfo(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    // struct sysinfo on 64-bit: uptime, loads[3], totalram, freeram, sharedram, bufferram,
    // totalswap, freeswap (longs), procs (u16), pad, totalhigh, freehigh, mem_unit (u32).
    let uptime = k.host.monotonic_ns() / 1_000_000_000;
    let mut b = [0u8; 112];
    b[0..8].copy_from_slice(&uptime.to_le_bytes());
    // The container's memory limit and what of it is free, as LXCFS shows a container.
    let (total, free) = k.memory_figures();
    b[32..40].copy_from_slice(&total.to_le_bytes()); // totalram
    b[40..48].copy_from_slice(&free.to_le_bytes()); // freeram
    b[80..82].copy_from_slice(&1u16.to_le_bytes()); // procs
    b[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    k.write_user(p, a[0], &b)?;
    Ok(0)
}

pub fn sys_getrandom(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const GRND_NONBLOCK: u64 = 1;
    const GRND_RANDOM: u64 = 2;
    const GRND_INSECURE: u64 = 4;
    if a[2] & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 {
        return Err(Errno::EINVAL);
    }
    let len = (a[1] as usize).min(1 << 25); // Linux returns at most 32 MiB per call
    let mut buf = vec![0; len];
    k.host.random(&mut buf);
    k.write_user(p, a[0], &buf)?;
    Ok(len as u64)
}

/// syslog(2) (klogctl: dmesg): the kernel's log is not for a container. Linux with
/// dmesg_restrict, as docker hosts run, wants CAP_SYSLOG for everything but opening and
/// closing the log, which docker drops: EPERM (friscy has no kernel log to show anyway).
pub fn sys_syslog(_k: &mut Kernel, _p: &mut Process, a: Args) -> SysResult {
    match a[0] {
        // SYSLOG_ACTION_CLOSE, SYSLOG_ACTION_OPEN.
        0 | 1 => Ok(0),
        2..=10 => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}
