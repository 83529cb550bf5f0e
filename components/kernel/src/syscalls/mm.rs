//! Memory syscalls: brk, mmap, munmap, mprotect, madvise. The kernel's `MemoryMap` decides
//! placement and remembers mappings; exec holds the pages; shm.rs keeps MAP_SHARED
//! mappings coherent between processes.

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::Prot;

use super::{Args, SysResult};
use crate::fd::FileKind;
use crate::limits;
use crate::mm::{VmaName, map_region, page_down, page_up};
use crate::syscalls::fs::{O_ACCMODE, O_WRONLY};

const O_RDWR: u32 = 2;
use crate::{Kernel, Process};

/// MAP_SHARED (1) | MAP_PRIVATE (2): one of them (or MAP_SHARED_VALIDATE) is required.
const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_NORESERVE: u64 = 0x4000;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;

fn prot_arg(v: u64) -> Result<Prot, Errno> {
    if v & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Prot(v as u8))
}

pub fn sys_brk(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let want = a[0];
    // Growing the heap commits memory (limits.rs): past the limit, brk fails as below.
    if let (Some(old_end), Some(new_end)) = (page_up(p.mm.brk), page_up(want))
        && want <= p.mm.brk_max
        && new_end > old_end
        && k.mem_charge(p, new_end - old_end).is_err()
    {
        return Ok(p.mm.brk);
    }
    let mm = &mut p.mm;
    // brk(2): on failure the current break is returned unchanged.
    if want < mm.brk_start || want > mm.brk_max {
        return Ok(mm.brk);
    }
    let (old_end, new_end) = (page_up(mm.brk).unwrap(), page_up(want).unwrap());
    if new_end > old_end {
        if mm.overlaps(old_end, new_end) {
            return Ok(mm.brk);
        }
        let prot = Prot::READ | Prot::WRITE;
        if map_region(
            &mut *k.machine,
            p.space,
            mm,
            old_end,
            new_end,
            prot,
            VmaName::Heap,
        )
        .is_err()
        {
            return Ok(mm.brk);
        }
    } else if new_end < old_end {
        k.shm_unmap(p.space, new_end, old_end);
        k.machine
            .unmap(p.space, new_end, old_end - new_end)
            .map_err(|_| Errno::ENOMEM)?;
        mm.remove(new_end, old_end);
    }
    mm.brk = want;
    Ok(want)
}

pub fn sys_mmap(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (addr, len, prot, flags, fd, offset) =
        (a[0], a[1], prot_arg(a[2])?, a[3], a[4] as i32, a[5]);
    let kind = flags & MAP_SHARED_VALIDATE;
    if kind == 0 || len == 0 || offset % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if fixed && addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    // The file (if any) is checked before anything is unmapped.
    let file = if flags & MAP_ANONYMOUS == 0 {
        let file = p.fds.file(fd)?;
        let f = file.borrow();
        let FileKind::Inode(ino) = f.kind else {
            return Err(Errno::ENODEV);
        };
        if f.flags & O_ACCMODE == O_WRONLY {
            return Err(Errno::EACCES);
        }
        // mmap(2): EACCES for a shared writable mapping of a file not open read-write.
        if kind != MAP_PRIVATE && prot.contains(Prot::WRITE) && f.flags & O_ACCMODE != O_RDWR {
            return Err(Errno::EACCES);
        }
        Some((ino, f.path.clone()))
    } else {
        None
    };
    let start = if fixed {
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if flags & MAP_FIXED_NOREPLACE != 0 && p.mm.overlaps(addr, end) {
            return Err(Errno::EEXIST);
        }
        addr
    } else {
        // A hint is honoured when that range is free (anywhere in the user range, as V8's
        // reservations at random high addresses need); otherwise we choose.
        let hint = page_down(addr);
        if hint != 0 && p.mm.hint_fits(hint, len) {
            hint
        } else {
            p.mm.find_free(len).ok_or(Errno::ENOMEM)?
        }
    };
    let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
    // MAP_NORESERVE: no commitment (limits.rs); its pages still need frames when touched.
    let noreserve = flags & MAP_NORESERVE != 0;
    if noreserve && kind & MAP_SHARED != 0 && file.is_none() && len > k.limits.memory {
        // Shared anonymous memory is one object whose page table exists from the start:
        // more than the container may ever hold cannot be reserved.
        return Err(Errno::ENOMEM);
    }
    if !noreserve {
        k.mem_charge(p, limits::map_growth(&p.mm, start, end, prot))?;
    }
    // Shared mappings it replaces (MAP_FIXED) keep what they hold.
    k.shm_unmap(p.space, start, end);
    let shared = kind & MAP_SHARED != 0;
    let name = match &file {
        Some((_, path)) => VmaName::File(path.clone()),
        None => VmaName::Anonymous,
    };
    let made = (|| -> Result<(), Errno> {
        match file {
            None => {
                map_region(&mut *k.machine, p.space, &mut p.mm, start, end, prot, name)?;
                if shared {
                    k.shm_map_anonymous(p.space, start, end, prot)?;
                }
            }
            Some((ino, _)) if shared => {
                map_region(&mut *k.machine, p.space, &mut p.mm, start, end, prot, name)?;
                k.shm_map_file(p.space, start, end, prot, ino, offset)?;
            }
            Some((ino, _)) => {
                // A private file mapping: the file's pages from the page cache, copy-on-write;
                // past EOF, zero pages (Linux would raise SIGBUS on whole pages past EOF).
                map_region(&mut *k.machine, p.space, &mut p.mm, start, end, prot, name)?;
                let first = offset / PAGE_SIZE;
                let want = len / PAGE_SIZE;
                match k.page_cache(ino)? {
                    Some(c) => {
                        let n = c.pages.saturating_sub(first).min(want);
                        if n > 0 {
                            k.page_cache_mapped(ino, c.obj, first, first + n)?;
                            k.machine
                                .map_object(
                                    p.space,
                                    start,
                                    n * PAGE_SIZE,
                                    prot,
                                    c.obj,
                                    first,
                                    false,
                                )
                                .map_err(|_| Errno::ENOMEM)?;
                        }
                    }
                    None => copy_file(k, p, ino, offset, start, len, prot)?,
                }
                if prot.contains(Prot::EXEC) {
                    // Code translated ahead of time for the file may run here (ld.so's and
                    // dlopen's mappings).
                    k.map_file(p.space, start, len, ino, offset, None);
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = made {
        // Nothing of a failed mapping stays (its frames, its range, its commitment).
        k.shm_unmap(p.space, start, end);
        let _ = k.machine.unmap(p.space, start, end - start);
        p.mm.remove(start, end);
        return Err(e);
    }
    if noreserve {
        p.mm.set_noreserve(start, end);
    }
    Ok(start)
}

/// A private mapping of a file with MAP_SHARED mappings (whose pages shm.rs owns): a
/// copy of the file's bytes as they are now.
fn copy_file(
    k: &mut Kernel,
    p: &mut Process,
    ino: friscy_vfs::Ino,
    offset: u64,
    start: u64,
    len: u64,
    prot: Prot,
) -> Result<(), Errno> {
    k.machine
        .protect(p.space, start, len, Prot::READ | Prot::WRITE)
        .map_err(|_| Errno::ENOMEM)?;
    let mut done = 0u64;
    while done < len {
        let chunk =
            k.fs.read(ino, offset + done, (len - done).min(1 << 20) as u32)?;
        if chunk.is_empty() {
            break;
        }
        k.machine
            .write(p.space, start + done, &chunk)
            .map_err(super::fault_errno)?;
        done += chunk.len() as u64;
    }
    k.machine
        .protect(p.space, start, len, prot)
        .map_err(|_| Errno::ENOMEM)?;
    Ok(())
}

/// munmap and mprotect check ranges against the top of the user address space (Sv48,
/// where mmap hints may place mappings), as Linux does with TASK_SIZE.
pub use crate::mm::TASK_SIZE;

pub fn sys_munmap(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (addr, len) = (a[0], a[1]);
    if addr % PAGE_SIZE != 0 || len == 0 || addr > TASK_SIZE || len > TASK_SIZE - addr {
        return Err(Errno::EINVAL);
    }
    let end = page_up(addr.checked_add(len).ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?;
    k.shm_unmap(p.space, addr, end);
    k.machine
        .unmap(p.space, addr, end - addr)
        .map_err(|_| Errno::EINVAL)?;
    p.mm.remove(addr, end);
    Ok(0)
}

pub fn sys_mprotect(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (addr, len, prot) = (a[0], a[1], prot_arg(a[2] & !0x0300_0000)?); // PROT_GROWSDOWN/UP ignored
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    if addr > TASK_SIZE || len > TASK_SIZE - addr {
        return Err(Errno::ENOMEM);
    }
    let end = page_up(addr.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
    // Making a reservation writable commits it (limits.rs): ENOMEM, as with
    // overcommit_memory=2.
    if p.mm.is_mapped(addr, end) {
        k.mem_charge(p, limits::commit_growth(&p.mm, addr, end, prot))?;
    }
    p.mm.protect(addr, end, prot)?;
    k.machine
        .protect(p.space, addr, end - addr, prot)
        .map_err(|_| Errno::ENOMEM)?;
    Ok(0)
}

/// The end of the wholly mapped, page-aligned range madvise and mincore take: EINVAL for
/// an unaligned start, `overflow` for a length past the address space, ENOMEM for a hole.
fn mapped_range(p: &Process, addr: u64, len: u64, overflow: Errno) -> Result<u64, Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let end = page_up(addr.checked_add(len).ok_or(overflow)?).ok_or(overflow)?;
    if !p.mm.is_mapped(addr, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(end)
}

pub fn sys_madvise(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const MADV_DONTNEED: u64 = 4;
    let (addr, len, advice) = (a[0], a[1], a[2]);
    let end = mapped_range(p, addr, len, Errno::EINVAL)?;
    if advice == MADV_DONTNEED {
        // Private anonymous pages read back as zero afterwards: remap them fresh.
        let vmas: Vec<(u64, u64, Prot)> =
            p.mm.vmas
                .range(..end)
                .filter(|(s, v)| v.end > addr && **s < end)
                .map(|(&s, v)| (s.max(addr), v.end.min(end), v.prot))
                .collect();
        for (s, e, prot) in vmas {
            k.machine
                .map(p.space, s, e - s, prot)
                .map_err(|_| Errno::ENOMEM)?;
        }
    }
    Ok(0)
}

/// mlock's range: the page-aligned [start, end) covering `len` bytes from `addr`.
fn lock_range(addr: u64, len: u64) -> Result<(u64, u64), Errno> {
    let start = page_down(addr);
    let end = page_up(addr.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
    Ok((start, end))
}

/// can_do_mlock() and the RLIMIT_MEMLOCK check: CAP_IPC_LOCK may lock anything; others
/// need a non-zero limit (EPERM) that `bytes` stays within (ENOMEM).
fn may_lock(k: &Kernel, p: &Process, bytes: u64) -> Result<(), Errno> {
    if p.creds.capable(crate::creds::cap::IPC_LOCK) {
        return Ok(());
    }
    const RLIMIT_MEMLOCK: u64 = 8;
    let limit = k.limits(p, RLIMIT_MEMLOCK)?.0;
    if limit == 0 {
        return Err(Errno::EPERM);
    }
    if bytes > limit {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// mlock(2) and mlock2(2): friscy never pages guest memory out, so every mapped page is
/// already as locked as Linux would make it; what remains are Linux's checks: the flags
/// (MLOCK_ONFAULT only), the privilege and limit, and a range that is wholly mapped
/// (ENOMEM). The limit is checked per call, not summed over the process's locks.
pub fn sys_mlock(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    mlock(k, p, a[0], a[1], 0)
}

pub fn sys_mlock2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    mlock(k, p, a[0], a[1], a[2])
}

fn mlock(k: &mut Kernel, p: &mut Process, addr: u64, len: u64, flags: u64) -> SysResult {
    const MLOCK_ONFAULT: u64 = 1;
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = lock_range(addr, len)?;
    may_lock(k, p, end - start)?;
    if start != end && !p.mm.is_mapped(start, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

/// munlock(2): ENOMEM for a range that is not wholly mapped.
pub fn sys_munlock(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (start, end) = lock_range(a[0], a[1])?;
    if start != end && !p.mm.is_mapped(start, end) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

/// mlockall(2): the flags as Linux checks them (MCL_ONFAULT only with another), then
/// the privilege, and with MCL_CURRENT the whole address space against the limit.
pub fn sys_mlockall(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const MCL_CURRENT: u64 = 1;
    const MCL_FUTURE: u64 = 2;
    const MCL_ONFAULT: u64 = 4;
    let flags = a[0];
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    let mapped = if flags & MCL_CURRENT != 0 {
        p.mm.vmas.iter().map(|(start, v)| v.end - start).sum()
    } else {
        0
    };
    may_lock(k, p, mapped)?;
    Ok(0)
}

pub fn sys_munlockall(_k: &mut Kernel, _p: &mut Process, _a: Args) -> SysResult {
    Ok(0)
}

/// mincore(2): one byte per page of a wholly mapped range (ENOMEM otherwise; EINVAL
/// for an unaligned start). friscy keeps every page in memory, so each is reported
/// resident, including anonymous pages never touched (Linux: not resident).
pub fn sys_mincore(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (addr, len, vec) = (a[0], a[1], a[2]);
    let end = mapped_range(p, addr, len, Errno::ENOMEM)?;
    let pages = ((end - addr) / PAGE_SIZE) as usize;
    k.write_user(p, vec, &vec![1u8; pages])?;
    Ok(0)
}
