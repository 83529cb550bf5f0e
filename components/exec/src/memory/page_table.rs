//! The page table of one address space: guest virtual page number -> page-table entry,
//! a four-level radix tree of 512-entry tables (as RISC-V Sv48: 9 bits of the page number
//! per level, so 2^36 pages). Only populated pages have entries; tables appear as pages in
//! their 2 MiB, 1 GiB and 512 GiB ranges are first touched, so a sparse address space costs
//! in proportion to what it touches, not to what it reserves (reservations are regions,
//! `regions.rs`).

use super::frames::FrameId;

/// A page-table entry: frame number in the low 32 bits, flags above. Zero is "no entry".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pte(pub u64);

/// The page may be read, written, executed: the mapping's protection (mmap's PROT_*).
pub const PTE_R: u64 = 1 << 32;
pub const PTE_W: u64 = 2 << 32;
pub const PTE_X: u64 = 4 << 32;
/// The frame belongs to a shared object: writes go to it in place, never copy-on-write.
pub const PTE_SHARED: u64 = 8 << 32;
/// Code was decoded from this page: stores must go the slow way and invalidate it.
pub const PTE_CODE: u64 = 16 << 32;
/// The entry is in use (a PROT_NONE entry on the zero frame would otherwise be 0).
pub const PTE_PRESENT: u64 = 32 << 32;

impl Pte {
    pub const NONE: Pte = Pte(0);

    pub fn new(frame: FrameId, flags: u64) -> Pte {
        Pte(frame as u64 | flags | PTE_PRESENT)
    }
    pub fn present(self) -> bool {
        self.0 & PTE_PRESENT != 0
    }
    pub fn frame(self) -> FrameId {
        self.0 as u32
    }
    pub fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }
    /// The R/W/X bits as a `Prot` value (mmap's PROT_* bits).
    pub fn prot_bits(self) -> u8 {
        ((self.0 >> 32) & 7) as u8
    }
}

const BITS: u32 = 9;
const FANOUT: usize = 1 << BITS;
const MASK: u64 = FANOUT as u64 - 1;
/// Page numbers the table covers: 2^36 (a 2^48-byte address space).
pub const PAGES: u64 = 1 << (4 * BITS);

/// Child links are indices + 1 (0: no child).
type Dir = Box<[u32; FANOUT]>;
type Leaf = Box<[Pte; FANOUT]>;

#[derive(Clone)]
pub struct PageTable {
    /// Interior tables; `dirs[0]` is the root. Levels 3 and 2 link to `dirs`, level 1 to
    /// `leaves`.
    dirs: Vec<Dir>,
    leaves: Vec<Leaf>,
}

impl Default for PageTable {
    fn default() -> Self {
        PageTable {
            dirs: vec![Box::new([0; FANOUT])],
            leaves: Vec::new(),
        }
    }
}

fn index(vpn: u64, level: u32) -> usize {
    ((vpn >> (BITS * level)) & MASK) as usize
}

impl PageTable {
    /// The leaf table holding `vpn`, if there is one.
    #[inline]
    fn leaf(&self, vpn: u64) -> Option<usize> {
        let l2 = self.dirs[0][index(vpn, 3)];
        if l2 == 0 {
            return None;
        }
        let l1 = self.dirs[l2 as usize - 1][index(vpn, 2)];
        if l1 == 0 {
            return None;
        }
        let leaf = self.dirs[l1 as usize - 1][index(vpn, 1)];
        (leaf != 0).then(|| leaf as usize - 1)
    }

    /// The entry for `vpn` (`Pte::NONE` if absent). `vpn` must be below `PAGES`.
    #[inline]
    pub fn get(&self, vpn: u64) -> Pte {
        debug_assert!(vpn < PAGES);
        match self.leaf(vpn) {
            Some(l) => self.leaves[l][index(vpn, 0)],
            None => Pte::NONE,
        }
    }

    /// The entry for `vpn`, creating the tables on the way.
    pub fn entry(&mut self, vpn: u64) -> &mut Pte {
        debug_assert!(vpn < PAGES);
        let mut dir = 0usize;
        for level in [3, 2] {
            let i = index(vpn, level);
            if self.dirs[dir][i] == 0 {
                self.dirs.push(Box::new([0; FANOUT]));
                self.dirs[dir][i] = self.dirs.len() as u32;
            }
            dir = self.dirs[dir][i] as usize - 1;
        }
        let i = index(vpn, 1);
        if self.dirs[dir][i] == 0 {
            self.leaves.push(Box::new([Pte::NONE; FANOUT]));
            self.dirs[dir][i] = self.leaves.len() as u32;
        }
        let leaf = self.dirs[dir][i] as usize - 1;
        &mut self.leaves[leaf][index(vpn, 0)]
    }

    /// Calls `f` for every present entry with a page number in `range`, skipping absent
    /// tables whole (an unmap of 2^40 bytes visits only what is there).
    pub fn for_each_present(
        &mut self,
        range: core::ops::Range<u64>,
        mut f: impl FnMut(u64, &mut Pte),
    ) {
        let end = range.end.min(PAGES);
        let mut vpn = range.start;
        while vpn < end {
            // Skip to the next populated leaf: climb as far as tables are missing.
            let span_of = |level: u32| 1u64 << (BITS * level);
            let l2 = self.dirs[0][index(vpn, 3)];
            if l2 == 0 {
                vpn = (vpn | (span_of(3) - 1)) + 1;
                continue;
            }
            let l1 = self.dirs[l2 as usize - 1][index(vpn, 2)];
            if l1 == 0 {
                vpn = (vpn | (span_of(2) - 1)) + 1;
                continue;
            }
            let leaf = self.dirs[l1 as usize - 1][index(vpn, 1)];
            let leaf_end = ((vpn | (span_of(1) - 1)) + 1).min(end);
            if leaf != 0 {
                let table = &mut self.leaves[leaf as usize - 1];
                for v in vpn..leaf_end {
                    let pte = &mut table[index(v, 0)];
                    if pte.present() {
                        f(v, pte);
                    }
                }
            }
            vpn = leaf_end;
        }
    }

    /// Calls `f` for every present entry.
    pub fn for_each(&mut self, f: impl FnMut(u64, &mut Pte)) {
        self.for_each_present(0..PAGES, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_entries_and_range_walks() {
        let mut pt = PageTable::default();
        let far = PAGES - 1;
        for vpn in [0, 1, 511, 512, 1 << 20, far] {
            *pt.entry(vpn) = Pte::new((vpn as u32 & 0xffff) + 1, PTE_R);
        }
        assert_eq!(pt.get(511).frame(), 512);
        assert!(!pt.get(2).present());
        assert!(!pt.get(1 << 30).present());
        let mut seen = Vec::new();
        pt.for_each_present(1..PAGES, |v, _| seen.push(v));
        assert_eq!(seen, vec![1, 511, 512, 1 << 20, far]);
        let mut seen = Vec::new();
        pt.for_each_present(600..(1 << 20), |v, p| {
            seen.push(v);
            *p = Pte::NONE;
        });
        assert!(seen.is_empty());
        pt.for_each_present(512..513, |_, p| *p = Pte::NONE);
        assert!(!pt.get(512).present());
        // A PROT_NONE entry on frame 0 is still present.
        *pt.entry(7) = Pte::new(0, 0);
        assert!(pt.get(7).present());
    }
}
