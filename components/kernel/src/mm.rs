//! The kernel's view of a process's address space: the list of mappings (VMAs) with their
//! protections and names, the program break, and the placement policy for mmap.
//!
//! exec holds the pages; this module decides where they go. The layout is compact on
//! purpose, because exec backs each address space with one flat arena that must span the
//! highest mapped address:
//!
//! ```text
//!   0x10000   executable (ET_EXEC at its own address; ET_DYN at PIE_BASE)
//!             brk heap, up to BRK_MAX past the executable
//!             main thread stack (STACK_SIZE)
//!             mmap region, allocated bottom-up (interpreter, libraries, anonymous maps)
//! ```

use std::collections::BTreeMap;

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::{Machine, Prot, SpaceId};

/// Where a position-independent executable is loaded.
pub const PIE_BASE: u64 = 0x10000;
/// How far the heap may grow with brk(2). glibc and musl fall back to mmap beyond it. The
/// reserve is part of every process's arena (exec spans it), so it is kept modest: each
/// fork copies the arena's mapped pages and each process holds its arena in Wasm memory.
pub const BRK_MAX: u64 = 16 << 20;
/// Size of the main thread's stack (RLIMIT_STACK's usual 8 MiB).
pub const STACK_SIZE: u64 = 8 << 20;

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
}

impl MemoryMap {
    /// A layout for an executable whose loaded image ends at `image_end`.
    pub fn new(image_end: u64) -> MemoryMap {
        let brk_start = page_up(image_end).unwrap_or(image_end);
        let stack_top = (brk_start + BRK_MAX + STACK_SIZE).next_multiple_of(1 << 20);
        MemoryMap {
            vmas: BTreeMap::new(),
            brk_start,
            brk: brk_start,
            brk_max: brk_start + BRK_MAX,
            mmap_base: stack_top,
            stack_top,
            sigreturn: 0,
            saved_auxv: Vec::new(),
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
        self.vmas.insert(start, Vma { end, prot, name });
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

    /// The lowest free range of `len` bytes at or above the mmap base.
    pub fn find_free(&self, len: u64) -> Option<u64> {
        let mut candidate = self.mmap_base;
        for (&start, v) in self.vmas.range(self.mmap_base..) {
            if start >= candidate + len {
                break;
            }
            candidate = candidate.max(v.end);
        }
        candidate.checked_add(len).map(|_| candidate)
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
        let base = mm.mmap_base;
        mm.insert(base, base + 0x4000, Prot::READ, VmaName::Anonymous);
        assert_eq!(mm.find_free(0x1000), Some(base + 0x4000));
        mm.remove(base + 0x1000, base + 0x2000);
        assert_eq!(mm.find_free(0x1000), Some(base + 0x1000));
        assert_eq!(mm.find_free(0x2000), Some(base + 0x4000));
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
