//! Memory syscalls beyond mmap: mremap and msync. Pages live in exec; the kernel's memory
//! map (mm.rs) says what is where.

use friscy_abi::{Errno, PAGE_SIZE};

use super::{Args, SysResult};
use crate::mm::{Vma, map_region, page_up};
use crate::{Kernel, Process};

const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const MREMAP_DONTUNMAP: u64 = 4;

const MS_ASYNC: u64 = 1;
const MS_INVALIDATE: u64 = 2;
const MS_SYNC: u64 = 4;

impl Kernel {
    /// Copy [from, from + len) to `to` in the same space, through the kernel (exec has no
    /// page move); both ranges are mapped and readable/writable by the kernel.
    fn copy_pages(&mut self, p: &Process, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        let mut done = 0;
        while done < len {
            let n = (len - done).min(1 << 20) as usize;
            let mut buf = vec![0; n];
            self.guest(p.space, |m| m.read(p.space, from + done, &mut buf))
                .map_err(|_| Errno::EFAULT)?;
            self.guest(p.space, |m| m.write(p.space, to + done, &buf))
                .map_err(|_| Errno::EFAULT)?;
            done += n as u64;
        }
        Ok(())
    }

    /// Unmap [start, end) in exec and the memory map.
    fn unmap_range(&mut self, p: &mut Process, start: u64, end: u64) -> Result<(), Errno> {
        if end > start {
            self.shm_unmap(p.space, start, end);
            self.machine
                .unmap(p.space, start, end - start)
                .map_err(|_| Errno::EINVAL)?;
            p.mm.remove(start, end);
        }
        Ok(())
    }
}

pub fn sys_mremap(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (addr, old_len, new_len, flags, new_addr) = (a[0], a[1], a[2], a[3], a[4]);
    // mremap(2): EINVAL for an unaligned address, unknown flags, FIXED or DONTUNMAP
    // without MAYMOVE, DONTUNMAP with a size change, or a zero new size.
    if addr % PAGE_SIZE != 0
        || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
        || (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 && flags & MREMAP_MAYMOVE == 0)
        || (flags & MREMAP_DONTUNMAP != 0 && old_len != new_len)
    {
        return Err(Errno::EINVAL);
    }
    let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
    let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
    // old_size 0 duplicates a shared mapping; every mapping here is private (EINVAL).
    if new_len == 0 || old_len == 0 {
        return Err(Errno::EINVAL);
    }
    let old_end = addr.checked_add(old_len).ok_or(Errno::EINVAL)?;
    // The old range must lie within one mapping (EFAULT otherwise).
    let vma = one_mapping(p, addr, old_end).ok_or(Errno::EFAULT)?;
    if (new_len > old_len || flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0)
        && k.shm.overlaps(p.space, addr, old_end)
    {
        // Moving or growing a MAP_SHARED mapping would need shm.rs to move its bookkeeping
        // along; not done yet.
        if k.trace {
            k.report("mremap: moving or growing a MAP_SHARED mapping is not supported (ENOMEM)");
        }
        return Err(Errno::ENOMEM);
    }
    // Growing commits the difference, and DONTUNMAP keeps the old range too (limits.rs).
    let kept = if flags & MREMAP_DONTUNMAP != 0 {
        old_len
    } else {
        0
    };
    let growth = new_len.saturating_sub(old_len) + kept;
    if crate::limits::vma_commits(&vma) {
        k.mem_charge(p, growth)?;
    }
    if flags & MREMAP_FIXED != 0 {
        let new_end = new_addr.checked_add(new_len).ok_or(Errno::EINVAL)?;
        if new_addr % PAGE_SIZE != 0 || (new_addr < old_end && addr < new_end) {
            return Err(Errno::EINVAL);
        }
        k.unmap_range(p, new_addr, new_end)?;
        return move_mapping(k, p, addr, old_len, new_addr, new_len, &vma, flags);
    }
    if flags & MREMAP_DONTUNMAP != 0 {
        // Always a move: the old range stays behind, emptied.
        let to = p.mm.find_free(new_len).ok_or(Errno::ENOMEM)?;
        return move_mapping(k, p, addr, old_len, to, new_len, &vma, flags);
    }
    if new_len <= old_len {
        // Shrinking (or the same size) happens in place.
        k.unmap_range(p, addr + new_len, old_end)?;
        return Ok(addr);
    }
    let grow_end = addr.checked_add(new_len).ok_or(Errno::ENOMEM)?;
    if vma.end == old_end && !p.mm.overlaps(old_end, grow_end) && flags & MREMAP_DONTUNMAP == 0 {
        map_region(
            &mut *k.machine,
            p.space,
            &mut p.mm,
            old_end,
            grow_end,
            vma.prot,
            vma.name.clone(),
        )?;
        if vma.noreserve {
            p.mm.set_noreserve(old_end, grow_end);
        }
        return Ok(addr);
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::ENOMEM);
    }
    let to = p.mm.find_free(new_len).ok_or(Errno::ENOMEM)?;
    move_mapping(k, p, addr, old_len, to, new_len, &vma, flags)
}

/// The mapping holding [start, end), as Linux would see it: the memory map does not merge
/// neighbours, so adjacent pieces with the same protection and name count as one (Linux
/// merges such VMAs). Its `end` is where that merged mapping ends.
fn one_mapping(p: &Process, start: u64, end: u64) -> Option<Vma> {
    let (_, first) = p.mm.vmas.range(..=start).next_back()?;
    let mut merged = first.clone();
    if merged.end <= start {
        return None;
    }
    for (&s, v) in p.mm.vmas.range(start + 1..) {
        if s != merged.end
            || v.prot != merged.prot
            || v.name != merged.name
            || v.noreserve != merged.noreserve
        {
            break;
        }
        merged.end = v.end;
    }
    (merged.end >= end).then_some(merged)
}

/// Move [from, from + old_len) to `to` with size `new_len`, keeping protection and name.
#[allow(clippy::too_many_arguments)]
fn move_mapping(
    k: &mut Kernel,
    p: &mut Process,
    from: u64,
    old_len: u64,
    to: u64,
    new_len: u64,
    vma: &Vma,
    flags: u64,
) -> SysResult {
    use friscy_exec::Prot;
    let to_end = to.checked_add(new_len).ok_or(Errno::ENOMEM)?;
    map_region(
        &mut *k.machine,
        p.space,
        &mut p.mm,
        to,
        to_end,
        Prot::READ | Prot::WRITE,
        vma.name.clone(),
    )?;
    // The kernel reads the old pages whatever their protection (exec checks the guest's
    // permissions, so lift them for the copy).
    k.machine
        .protect(p.space, from, old_len, Prot::READ | Prot::WRITE)
        .map_err(|_| Errno::EFAULT)?;
    k.copy_pages(p, from, to, old_len.min(new_len))?;
    k.machine
        .protect(p.space, to, new_len, vma.prot)
        .map_err(|_| Errno::ENOMEM)?;
    p.mm.protect(to, to_end, vma.prot)?;
    if vma.noreserve {
        p.mm.set_noreserve(to, to_end);
    }
    if flags & MREMAP_DONTUNMAP != 0 {
        // The old range stays mapped, reading as zeros (a private anonymous mapping).
        k.machine
            .map(p.space, from, old_len, vma.prot)
            .map_err(|_| Errno::ENOMEM)?;
    } else {
        k.unmap_range(p, from, from + old_len)?;
    }
    Ok(to)
}

pub fn sys_msync(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (addr, len, flags) = (a[0], a[1], a[2]);
    if addr % PAGE_SIZE != 0
        || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
    {
        return Err(Errno::EINVAL);
    }
    let end = page_up(addr.checked_add(len).ok_or(Errno::ENOMEM)?).ok_or(Errno::ENOMEM)?;
    if !p.mm.is_mapped(addr, end) {
        return Err(Errno::ENOMEM);
    }
    // Shared file mappings go back to their files (shm.rs); private ones have nothing to
    // write.
    k.shm_sync(p.space, addr, end)?;
    Ok(0)
}
