//! The software TLB: the fast path of every guest load and store.
//!
//! Two direct-mapped tables (reads, writes) indexed by the low bits of the page number.
//! An entry's `tag` is the page's address; an access of N bytes at `addr` hits when
//! `addr & (PAGE_MASK | (N - 1)) == tag`, one compare that also sends misaligned accesses
//! (which could straddle two pages) to the slow path; then the host address is
//! `addr + addend`, one add. Invalid entries hold a tag with low bits set, which no masked
//! address equals.
//!
//! The layout is `repr(C)` because generated code (rv2wasm) reads it too.

/// Entries per table (a power of two).
pub const TLB_ENTRIES: usize = 512;
/// Clears the in-page bits of an address.
pub const PAGE_MASK: u64 = !0xfff;
/// A tag no access matches.
const INVALID: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct TlbEntry {
    /// The guest page's address, or `INVALID`.
    pub tag: u64,
    /// Host address of the frame minus the guest page's address (wrapping), so that
    /// `guest address + addend` is the host address of the byte.
    pub addend: usize,
}

const EMPTY: TlbEntry = TlbEntry {
    tag: INVALID,
    addend: 0,
};

#[repr(C)]
pub struct Tlb {
    pub read: [TlbEntry; TLB_ENTRIES],
    pub write: [TlbEntry; TLB_ENTRIES],
}

/// The slot of the page holding `addr`.
#[inline(always)]
pub fn slot(addr: u64) -> usize {
    (addr >> 12) as usize & (TLB_ENTRIES - 1)
}

impl Tlb {
    pub fn new() -> Box<Tlb> {
        Box::new(Tlb {
            read: [EMPTY; TLB_ENTRIES],
            write: [EMPTY; TLB_ENTRIES],
        })
    }

    /// The host address for an access of `N` bytes at `addr` if the read table holds its
    /// page and the access is aligned.
    #[inline(always)]
    pub fn read_hit<const N: usize>(&self, addr: u64) -> Option<usize> {
        let e = &self.read[slot(addr)];
        (addr & (PAGE_MASK | (N as u64 - 1)) == e.tag)
            .then(|| (addr as usize).wrapping_add(e.addend))
    }

    /// As `read_hit`, for writes.
    #[inline(always)]
    pub fn write_hit<const N: usize>(&self, addr: u64) -> Option<usize> {
        let e = &self.write[slot(addr)];
        (addr & (PAGE_MASK | (N as u64 - 1)) == e.tag)
            .then(|| (addr as usize).wrapping_add(e.addend))
    }

    /// The host address of `addr`'s page if the read table holds it (any alignment).
    #[inline]
    pub fn read_page(&self, addr: u64) -> Option<usize> {
        let e = &self.read[slot(addr)];
        (addr & PAGE_MASK == e.tag).then_some(((addr & PAGE_MASK) as usize).wrapping_add(e.addend))
    }

    /// The host address of `addr`'s page if the write table holds it.
    #[inline]
    pub fn write_page(&self, addr: u64) -> Option<usize> {
        let e = &self.write[slot(addr)];
        (addr & PAGE_MASK == e.tag).then_some(((addr & PAGE_MASK) as usize).wrapping_add(e.addend))
    }

    pub fn fill_read(&mut self, page: u64, host: *mut u8) {
        self.read[slot(page)] = TlbEntry {
            tag: page,
            addend: (host as usize).wrapping_sub(page as usize),
        };
    }

    pub fn fill_write(&mut self, page: u64, host: *mut u8) {
        self.write[slot(page)] = TlbEntry {
            tag: page,
            addend: (host as usize).wrapping_sub(page as usize),
        };
    }

    /// Forgets `page` (its address) in both tables.
    pub fn flush_page(&mut self, page: u64) {
        let s = slot(page);
        if self.read[s].tag == page {
            self.read[s] = EMPTY;
        }
        if self.write[s].tag == page {
            self.write[s] = EMPTY;
        }
    }

    /// Forgets the pages `[first, end)` (page numbers): one by one when there are few,
    /// otherwise everything.
    pub fn flush_pages(&mut self, pages: core::ops::Range<u64>) {
        if pages.end.saturating_sub(pages.start) >= TLB_ENTRIES as u64 {
            self.flush_all();
        } else {
            for vpn in pages {
                self.flush_page(vpn << 12);
            }
        }
    }

    pub fn flush_writes(&mut self) {
        self.write = [EMPTY; TLB_ENTRIES];
    }

    pub fn flush_all(&mut self) {
        self.read = [EMPTY; TLB_ENTRIES];
        self.write = [EMPTY; TLB_ENTRIES];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_need_the_page_and_alignment() {
        let mut t = Tlb::new();
        let mut frame = vec![0u8; 8192];
        let host = frame.as_mut_ptr();
        t.fill_read(0x5000, host);
        assert_eq!(t.read_hit::<8>(0x5008), Some(host as usize + 8));
        assert_eq!(t.read_hit::<1>(0x5fff), Some(host as usize + 0xfff));
        assert_eq!(t.read_hit::<8>(0x5004), None, "misaligned");
        assert_eq!(t.read_hit::<8>(0x6000), None, "other page");
        assert_eq!(t.write_hit::<8>(0x5008), None, "read only");
        // Same slot, different page.
        assert_eq!(t.read_hit::<1>(0x5000 + (TLB_ENTRIES as u64) * 4096), None);
        t.flush_page(0x5000);
        assert_eq!(t.read_hit::<1>(0x5000), None);
        // A page above 4 GiB does not alias one below (on wasm32 too).
        t.fill_read(0x1_0000_5000, host);
        assert_eq!(t.read_hit::<1>(0x5000), None);
        assert!(t.read_hit::<1>(0x1_0000_5000).is_some());
    }
}
