//! The kernel's view of a process's address space: the list of mappings (VMAs) with their
//! protections and names, the program break, and the placement policy for mmap.
//!
//! exec holds the pages; this module decides where they go. exec's address space is paged
//! (untouched and reserved memory cost nothing), so the layout is Linux's own on RISC-V
//! (with address-space randomisation off), top-down:
//!
//! ```text
//!   0x10000 ...     ET_EXEC executables at their link address
//!   PIE_BASE        ET_DYN executables (ELF_ET_DYN_BASE: 2/3 of the mmap window)
//!                   brk heap, growing up from the end of the executable
//!   ... mmap_base   mmaps, allocated top-down (dynamic linker, libraries, anonymous maps)
//!   STACK_TOP       the main thread's stack, growing down from 2^38
//! ```
//!
//! mmap hints are honoured anywhere in the user range (2^47) when the range is free, as
//! Linux does; without a hint nothing is placed above 2^38 (Linux keeps Sv39's window for
//! programs that assume 39-bit pointers).

use std::collections::BTreeMap;

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::{Machine, Prot, SpaceId};

/// The top of the default mmap window: 2^38 (DEFAULT_MAP_WINDOW on riscv64).
pub const MMAP_WINDOW: u64 = 1 << 38;
/// The end of the user address range (TASK_SIZE for Sv48): hints may reach up to here.
pub const TASK_SIZE: u64 = 1 << 47;
/// The lowest address mmap hands out or accepts as a hint (vm.mmap_min_addr).
pub const MMAP_MIN_ADDR: u64 = 0x10000;
/// Where the main thread's stack ends (STACK_TOP).
pub const STACK_TOP: u64 = MMAP_WINDOW;
/// Where a position-independent executable is loaded (ELF_ET_DYN_BASE: 2/3 of the window,
/// 0x2aaaaaa000, as riscv64 Linux prints it without randomisation).
pub const PIE_BASE: u64 = (MMAP_WINDOW / 3 * 2) & !(PAGE_SIZE - 1);
/// Size of the main thread's stack (RLIMIT_STACK's usual 8 MiB).
pub const STACK_SIZE: u64 = 8 << 20;
/// The gap between the stack top and the first mmap (mmap_base's minimum gap, 128 MiB).
const STACK_GAP: u64 = 128 << 20;

pub fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}
pub fn page_up(a: u64) -> Option<u64> {
    a.checked_add(PAGE_SIZE - 1).map(page_down)
}

/// What a mapping holds, for /proc/self/maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaName {
    Anonymous,
    File(Vec<u8>),
    Heap,
    Stack,
    /// The signal-return trampoline page (Linux's vDSO holds it).
    Vdso,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub prot: Prot,
    pub name: VmaName,
    /// Made with MAP_NORESERVE: not counted as committed memory (limits.rs), as Linux's
    /// default overcommit mode leaves VM_NORESERVE mappings unaccounted.
    pub noreserve: bool,
}

/// A process's mappings and break.
#[derive(Clone, Debug, Default)]
pub struct MemoryMap {
    /// start -> mapping; mappings never overlap.
    pub vmas: BTreeMap<u64, Vma>,
    pub brk_start: u64,
    pub brk: u64,
    pub brk_max: u64,
    pub mmap_base: u64,
    pub stack_top: u64,
    /// Address of the rt_sigreturn trampoline, where signal handlers return to.
    pub sigreturn: u64,
    /// The auxiliary vector the program started with, AT_NULL included (Linux's
    /// mm->saved_auxv, which /proc/<pid>/auxv shows).
    pub saved_auxv: Vec<(u64, u64)>,
    /// Where execve put the argument and environment strings: [arg_start, arg_end) and
    /// [env_start, env_end) (mm->arg_start...), which /proc/PID/cmdline and environ read
    /// live, so that a program rewriting its argv (setproctitle) shows in ps.
    pub args: (u64, u64),
    pub env: (u64, u64),
}

impl MemoryMap {
    /// A layout for an executable whose loaded image ends at `image_end`.
    pub fn new(image_end: u64) -> MemoryMap {
        let brk_start = page_up(image_end).unwrap_or(image_end);
        let mmap_base = STACK_TOP - STACK_GAP;
        MemoryMap {
            vmas: BTreeMap::new(),
            brk_start,
            brk: brk_start,
            // The heap may grow until it meets a mapping (sys_brk checks).
            brk_max: mmap_base.max(brk_start),
            mmap_base,
            stack_top: STACK_TOP,
            sigreturn: 0,
            saved_auxv: Vec::new(),
            args: (0, 0),
            env: (0, 0),
        }
    }

    /// Split mappings so that `at` is a boundary.
    fn split_at(&mut self, at: u64) {
        let Some((&start, vma)) = self.vmas.range(..at).next_back() else {
            return;
        };
        if vma.end > at {
            let tail = vma.clone();
            self.vmas.get_mut(&start).unwrap().end = at;
            self.vmas.insert(at, tail);
        }
    }

    /// Remove [start, end) from the map (no exec calls).
    pub fn remove(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        let inside: Vec<u64> = self.vmas.range(start..end).map(|(&s, _)| s).collect();
        for s in inside {
            self.vmas.remove(&s);
        }
    }

    /// Record a mapping of [start, end), replacing what was there.
    pub fn insert(&mut self, start: u64, end: u64, prot: Prot, name: VmaName) {
        self.remove(start, end);
        self.vmas.insert(
            start,
            Vma {
                end,
                prot,
                name,
                noreserve: false,
            },
        );
    }

    /// Mark the mappings of [start, end) as MAP_NORESERVE ones.
    pub fn set_noreserve(&mut self, start: u64, end: u64) {
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.vmas.range_mut(start..end) {
            v.noreserve = true;
        }
    }

    /// Whether every page of [start, end) is mapped.
    pub fn is_mapped(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        while at < end {
            match self.vmas.range(..=at).next_back() {
                Some((_, v)) if v.end > at => at = v.end,
                _ => return false,
            }
        }
        true
    }

    /// Whether any mapping overlaps [start, end).
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Change the protection of [start, end), all of which must be mapped.
    pub fn protect(&mut self, start: u64, end: u64, prot: Prot) -> Result<(), Errno> {
        if !self.is_mapped(start, end) {
            return Err(Errno::ENOMEM);
        }
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.vmas.range_mut(start..end) {
            v.prot = prot;
        }
        Ok(())
    }

    /// The highest free range of `len` bytes below the mmap base (Linux's top-down
    /// unmapped_area_topdown), or the lowest one above it when that fails.
    pub fn find_free(&self, len: u64) -> Option<u64> {
        let mut hi = self.mmap_base;
        for (&start, v) in self.vmas.range(..self.mmap_base).rev() {
            if v.end < hi && hi - v.end >= len {
                return Some(hi - len);
            }
            hi = hi.min(start);
        }
        if hi >= MMAP_MIN_ADDR + len {
            return Some(hi - len);
        }
        // Bottom-up above the base, as Linux falls back to.
        let mut candidate = self.mmap_base;
        for (&start, v) in self.vmas.range(..) {
            if v.end <= candidate {
                continue;
            }
            if start >= candidate.checked_add(len)? {
                break;
            }
            candidate = v.end;
        }
        let end = candidate.checked_add(len)?;
        (end <= TASK_SIZE).then_some(candidate)
    }

    /// Whether `[addr, addr+len)` may be used as given by a hint: inside the user range,
    /// above mmap_min_addr, and free.
    pub fn hint_fits(&self, addr: u64, len: u64) -> bool {
        addr >= MMAP_MIN_ADDR
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= TASK_SIZE && !self.overlaps(addr, end))
    }
}

/// Map [start, end) in exec and record it.
pub fn map_region(
    machine: &mut dyn Machine,
    space: SpaceId,
    mm: &mut MemoryMap,
    start: u64,
    end: u64,
    prot: Prot,
    name: VmaName,
) -> Result<(), Errno> {
    machine
        .map(space, start, end - start, prot)
        .map_err(|_| Errno::ENOMEM)?;
    mm.insert(start, end, prot, name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_split_protect_and_find_free() {
        let mut mm = MemoryMap::new(0x20000);
        let top = mm.mmap_base;
        let base = top - 0x4000;
        mm.insert(base, top, Prot::READ, VmaName::Anonymous);
        assert_eq!(mm.find_free(0x1000), Some(base - 0x1000));
        mm.remove(base + 0x1000, base + 0x2000);
        assert_eq!(mm.find_free(0x1000), Some(base + 0x1000));
        assert_eq!(mm.find_free(0x2000), Some(base - 0x2000));
        assert!(mm.hint_fits(0xadeef40000, 0x1000));
        assert!(!mm.hint_fits(base, 0x1000));
        assert!(!mm.hint_fits(TASK_SIZE - 0x1000, 0x2000));
        assert!(mm.is_mapped(base, base + 0x1000));
        assert!(!mm.is_mapped(base, base + 0x3000));
        assert_eq!(
            mm.protect(base, base + 0x3000, Prot::READ),
            Err(Errno::ENOMEM)
        );
        mm.protect(base + 0x2000, base + 0x3000, Prot::WRITE)
            .unwrap();
        assert_eq!(mm.vmas.len(), 3);
        assert_eq!(mm.vmas[&(base + 0x2000)].prot, Prot::WRITE);
        assert_eq!(mm.vmas[&(base + 0x3000)].prot, Prot::READ);
    }
}
