//! Guest memory of one address space: paged, as a kernel's.
//!
//! - `regions` says which pages are mapped and with what protection (a reservation of
//!   gigabytes is one entry);
//! - `page_table` maps the pages touched so far to frames (`frames.rs`), 4 KiB slots of
//!   host memory shared by every address space of the machine, reference counted: a fork
//!   shares all frames copy-on-write, reads of untouched memory map the zero frame, and a
//!   page costs a frame only when first written;
//! - `tlb` is the fast path: a guest load or store that hits costs one compare and one add
//!   (see `load` and `store`); everything else takes `translate`, which walks the page
//!   table, allocates or copies frames, checks permissions and refills the TLB.
//!
//! Faults are reported as before: `Unmapped` where no region is (SEGV_MAPERR),
//! `Protection` where the region forbids the access (SEGV_ACCERR), and a new cause,
//! `OutOfMemory`, where a frame was needed and none could be had (the kernel's OOM path).
//!
//! Pages holding decoded code carry `PTE_CODE` and get no TLB write entry: a store into
//! one takes the slow path, which queues the page in `invalidated` for the block cache to
//! drop before its next lookup.
//!
//! Invariant that makes the raw host addresses in the TLB sound: an entry is only ever
//! filled from a present page-table entry of this space, and every change to such an entry
//! (unmap, protect, copy-on-write, fork, drop) flushes the TLB slots that could hold it
//! before the frame's reference is dropped. Frames themselves never move or go back to the
//! host allocator.

mod frames;
mod objects;
mod page_table;
mod regions;
pub mod tlb;

use std::cell::RefCell;
use std::rc::Rc;

use frames::FRAME_CODE;
pub use frames::{FRAME_SIZE, FrameId, Frames, OutOfFrames, ZERO_FRAME};
pub use objects::{ObjectError, ObjectId, Objects, UNFILLED};
use page_table::{PTE_CODE, PTE_R, PTE_SHARED, PTE_W, PTE_X, PageTable, Pte};
use regions::{Backing, Region, Regions};
use tlb::{PAGE_MASK, Tlb};

use crate::machine::{Access, Fault, FaultCause, MapError, Prot};

/// Guest page size (4 KiB, as RISC-V Linux).
pub const PAGE_SIZE: u64 = 4096;
const PAGE_SHIFT: u32 = 12;
/// The end of the guest's user address range: 2^47, as Linux on RISC-V Sv48 (mmap
/// stays below 2^38 unless asked for more, as Linux does for Sv39 compatibility; that is
/// the kernel's policy, not exec's).
pub const USER_TOP: u64 = 1 << 47;

// Permission bits, equal to `Prot`'s (and mmap's PROT_*).
pub(crate) const R: u8 = 1;
pub(crate) const W: u8 = 2;
pub(crate) const X: u8 = 4;

/// The machine's physical memory: its frames and the memory objects made of them.
#[derive(Default)]
pub struct Physical {
    pub frames: Frames,
    pub objects: Objects,
}

/// The physical memory every address space of one machine shares.
pub type SharedPhys = Rc<RefCell<Physical>>;

/// One address space's memory.
pub struct Memory {
    /// Boxed: 16 KiB, and its address is handed to generated code.
    pub(crate) tlb: Box<Tlb>,
    pt: PageTable,
    regions: Regions,
    phys: SharedPhys,
    /// Pages whose decoded code is stale (a store hit them since they were decoded).
    pub(crate) invalidated: Vec<u64>,
    /// All decoded code is stale (a store hit a shared frame holding code, which any
    /// page of any space may map).
    pub(crate) flush_code: bool,
    /// The machine-wide epochs (`Frames`) this space has caught up with.
    shared_code_epoch: u64,
    code_flush_epoch: u64,
}

/// Checks and splits `[addr, addr+len)` into a page range.
fn page_range(addr: u64, len: u64) -> Result<core::ops::Range<u64>, MapError> {
    if !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(MapError::Invalid);
    }
    let end = addr.checked_add(len).ok_or(MapError::Invalid)?;
    Ok(addr >> PAGE_SHIFT..end >> PAGE_SHIFT)
}

fn prot_flags(prot: u8) -> u64 {
    ((prot & (R | W | X)) as u64) << 32
}

fn need_bits(access: Access) -> u64 {
    match access {
        Access::Load => PTE_R,
        Access::Store => PTE_W,
        Access::Fetch => PTE_X,
    }
}

impl Memory {
    /// An empty address space drawing frames from `phys`.
    pub fn new(phys: SharedPhys) -> Memory {
        let (e1, e2) = {
            let f = &phys.borrow().frames;
            (f.shared_code_epoch, f.code_flush_epoch)
        };
        Memory {
            tlb: Tlb::new(),
            pt: PageTable::default(),
            regions: Regions::default(),
            phys,
            invalidated: Vec::new(),
            flush_code: false,
            shared_code_epoch: e1,
            code_flush_epoch: e2,
        }
    }

    /// A standalone address space with physical memory of its own (tests, tools).
    pub fn standalone() -> Memory {
        Memory::new(Rc::new(RefCell::new(Physical::default())))
    }

    /// Whether decoded code must be dropped before the next block runs.
    #[inline(always)]
    pub(crate) fn code_dirty(&self) -> bool {
        self.flush_code || !self.invalidated.is_empty()
    }

    /// The physical memory this space draws from.
    pub fn phys(&self) -> &SharedPhys {
        &self.phys
    }

    /// Brings this space up to date with what other spaces did to shared frames while it
    /// was not running; called before it runs.
    pub fn catch_up(&mut self) {
        let f = &self.phys.borrow().frames;
        if f.shared_code_epoch != self.shared_code_epoch {
            self.shared_code_epoch = f.shared_code_epoch;
            self.tlb.flush_writes();
        }
        if f.code_flush_epoch != self.code_flush_epoch {
            self.code_flush_epoch = f.code_flush_epoch;
            self.flush_code = true;
        }
    }

    /// A copy for fork(2): the same regions, and every frame shared, copy-on-write for
    /// private pages. Costs one page-table copy, nothing per page of memory.
    pub fn fork(&mut self) -> Memory {
        let mut child = Memory::new(self.phys.clone());
        child.regions = self.regions.clone();
        child.pt = self.pt.clone();
        {
            let frames = &mut self.phys.borrow_mut().frames;
            child.pt.for_each(|_, pte| {
                // The child starts with no decoded code.
                pte.0 &= !PTE_CODE;
                if pte.frame() != ZERO_FRAME {
                    frames.get(pte.frame());
                }
            });
        }
        // The parent's private pages are now shared: its writes must copy first.
        self.tlb.flush_writes();
        child
    }

    /// Drops the page-table entries of `pages`, releasing their frames, and forgets them in
    /// the TLB. Decoded code from them is queued for invalidation.
    fn clear_pages(&mut self, pages: core::ops::Range<u64>) {
        self.tlb.flush_pages(pages.clone());
        let frames = &mut self.phys.borrow_mut().frames;
        let invalidated = &mut self.invalidated;
        self.pt.for_each_present(pages, |vpn, pte| {
            if pte.has(PTE_CODE) {
                invalidated.push(vpn);
            }
            if pte.frame() != ZERO_FRAME {
                frames.put(pte.frame());
            }
            *pte = Pte::NONE;
        });
    }

    /// mmap(MAP_FIXED): zero-filled pages with `prot`, replacing what was there. Costs no
    /// frames until the pages are written.
    pub fn map(&mut self, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        if pages.end << PAGE_SHIFT > USER_TOP {
            return Err(MapError::OutOfMemory);
        }
        self.clear_pages(pages.clone());
        self.regions.insert(
            pages.start,
            pages.end,
            prot.0 & (R | W | X),
            Backing::Anonymous,
        );
        Ok(())
    }

    /// mmap of a memory object (objects.rs): its pages from `first` on at `[addr,
    /// addr+len)`, replacing what was there. `shared`: stores reach the object (MAP_SHARED);
    /// otherwise they copy the page first (MAP_PRIVATE). Pages past the object's end fault.
    pub fn map_object(
        &mut self,
        addr: u64,
        len: u64,
        prot: Prot,
        obj: ObjectId,
        first: u64,
        shared: bool,
    ) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        if pages.end << PAGE_SHIFT > USER_TOP {
            return Err(MapError::OutOfMemory);
        }
        if !self.phys.borrow().objects.is_live(obj) {
            return Err(MapError::Invalid);
        }
        self.clear_pages(pages.clone());
        self.regions.insert(
            pages.start,
            pages.end,
            prot.0 & (R | W | X),
            Backing::Object { obj, first, shared },
        );
        Ok(())
    }

    /// The memory object mapped at `addr` and the object's page there, if an object
    /// backs that page.
    pub fn object_at(&self, addr: u64) -> Option<(ObjectId, u64)> {
        let vpn = addr >> PAGE_SHIFT;
        match self.regions.find(vpn)? {
            (
                start,
                Region {
                    backing: Backing::Object { obj, first, .. },
                    ..
                },
            ) => Some((obj, first + (vpn - start))),
            _ => None,
        }
    }

    /// Whether a region of this space maps object `obj`.
    pub(crate) fn maps_object(&self, obj: ObjectId) -> bool {
        self.regions.objects().any(|o| o == obj)
    }

    /// munmap: holes are fine.
    pub fn unmap(&mut self, addr: u64, len: u64) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        let end = pages.end.min(USER_TOP >> PAGE_SHIFT);
        if pages.start < end {
            self.clear_pages(pages.start..end);
            self.regions.remove(pages.start, end);
        }
        Ok(())
    }

    /// mprotect: every page in the range must be mapped.
    pub fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        if pages.end << PAGE_SHIFT > USER_TOP || !self.regions.covers(pages.start, pages.end) {
            return Err(MapError::Invalid);
        }
        let prot = prot.0 & (R | W | X);
        self.regions.protect(pages.start, pages.end, prot);
        self.tlb.flush_pages(pages.clone());
        let invalidated = &mut self.invalidated;
        self.pt.for_each_present(pages, |vpn, pte| {
            // Code decoded from the page was checked against the old protection.
            if pte.has(PTE_CODE) {
                invalidated.push(vpn);
            }
            pte.0 = (pte.0 & !(PTE_R | PTE_W | PTE_X | PTE_CODE)) | prot_flags(prot);
        });
        Ok(())
    }

    /// The fault for `addr` needing `access` where the page has protection `prot` (or is
    /// unmapped).
    fn fault(addr: u64, access: Access, prot: Option<u8>) -> Fault {
        let cause = match prot {
            None => FaultCause::Unmapped,
            Some(_) => FaultCause::Protection,
        };
        Fault {
            addr,
            access,
            cause,
        }
    }

    /// The host address of `addr`'s page for `access`, after making the page ready for it:
    /// demand-zero, copy-on-write, code invalidation. Fills the TLB.
    #[inline(never)]
    pub(crate) fn translate(&mut self, addr: u64, access: Access) -> Result<*mut u8, Fault> {
        let vpn = addr >> PAGE_SHIFT;
        if addr >= USER_TOP {
            return Err(Self::fault(addr, access, None));
        }
        let page = addr & PAGE_MASK;
        let need = need_bits(access);
        let mut pte = self.pt.get(vpn);
        let mut phys = self.phys.borrow_mut();
        if !pte.present() {
            let Some((start, region)) = self.regions.find(vpn) else {
                return Err(Self::fault(addr, access, None));
            };
            let prot = region.prot;
            if prot_flags(prot) & need == 0 {
                return Err(Self::fault(addr, access, Some(prot)));
            }
            pte = match region.backing {
                // First touch: reads (and fetches) see the zero frame; writes get a frame
                // below.
                Backing::Anonymous => Pte::new(ZERO_FRAME, prot_flags(prot)),
                Backing::Object { obj, first, shared } => {
                    let Physical { frames, objects } = &mut *phys;
                    let frame = match objects.frame(obj, first + (vpn - start), frames) {
                        Ok(f) => f,
                        Err(ObjectError::OutOfMemory) => {
                            return Err(Fault {
                                addr,
                                access,
                                cause: FaultCause::OutOfMemory,
                            });
                        }
                        // A file page not read yet: the kernel fills it and the access is
                        // retried.
                        Err(ObjectError::NotFilled) => {
                            return Err(Fault {
                                addr,
                                access,
                                cause: FaultCause::NotFilled,
                            });
                        }
                        // Past the end of the object (Linux: SIGBUS past a file's end).
                        Err(_) => return Err(Self::fault(addr, access, None)),
                    };
                    frames.get(frame);
                    let share = if shared { PTE_SHARED } else { 0 };
                    Pte::new(frame, prot_flags(prot) | share)
                }
            };
            *self.pt.entry(vpn) = pte;
        } else if pte.0 & need == 0 {
            return Err(Self::fault(addr, access, Some(pte.prot_bits())));
        }
        let frames = &mut phys.frames;
        if access == Access::Store {
            if pte.has(PTE_CODE) {
                self.invalidated.push(vpn);
                pte.0 &= !PTE_CODE;
            }
            if pte.has(PTE_SHARED) {
                if frames.flags(pte.frame()) & FRAME_CODE != 0 {
                    // Another space (or another page of this one) may run code from it.
                    frames.set_flags(pte.frame(), 0);
                    frames.code_flush_epoch += 1;
                    self.code_flush_epoch = frames.code_flush_epoch;
                    self.flush_code = true;
                }
            } else if pte.frame() == ZERO_FRAME || frames.refs(pte.frame()) > 1 {
                // Demand-zero, or copy-on-write after a fork.
                let old = pte.frame();
                let new = if old == ZERO_FRAME {
                    frames.alloc_zeroed()
                } else {
                    frames.alloc_copy(old)
                }
                .map_err(|OutOfFrames| Fault {
                    addr,
                    access,
                    cause: FaultCause::OutOfMemory,
                })?;
                if old != ZERO_FRAME {
                    frames.put(old);
                }
                pte = Pte::new(new, pte.0 & !0xffff_ffff & !page_table::PTE_PRESENT);
                // The read entry may still name the old frame.
                self.tlb.flush_page(page);
            }
            *self.pt.entry(vpn) = pte;
            let host = frames.ptr(pte.frame());
            self.tlb.fill_write(page, host);
            if pte.has(PTE_R) {
                self.tlb.fill_read(page, host);
            }
            Ok(host)
        } else {
            let host = frames.ptr(pte.frame());
            if access == Access::Load {
                self.tlb.fill_read(page, host);
            }
            Ok(host)
        }
    }

    /// Guest load of `N` bytes (little-endian, any alignment).
    #[inline(always)]
    pub fn load<const N: usize>(&mut self, addr: u64) -> Result<[u8; N], Fault> {
        if let Some(v) = self.load_hit(addr) {
            return Ok(v);
        }
        self.load_slow(addr)
    }

    /// A load of `N` bytes if the TLB has it (aligned, page mapped readable), else `None`
    /// and nothing done: the interpreter's fast tier, which calls nothing.
    #[inline(always)]
    pub fn load_hit<const N: usize>(&self, addr: u64) -> Option<[u8; N]> {
        let host = self.tlb.read_hit::<N>(addr)?;
        // SAFETY: a TLB hit names a live frame mapped readable in this space (module
        // invariant); an aligned N-byte access stays inside it. `[u8; N]` has alignment 1.
        Some(unsafe { (host as *const [u8; N]).read() })
    }

    /// A store of `N` bytes if the TLB allows it in place; `false` and nothing done if not.
    #[inline(always)]
    pub fn store_hit<const N: usize>(&mut self, addr: u64, data: [u8; N]) -> bool {
        let Some(host) = self.tlb.write_hit::<N>(addr) else {
            return false;
        };
        // SAFETY: a write hit names a live frame this space may write in place (one
        // reference, or shared; never one holding decoded code); aligned, in bounds.
        unsafe { (host as *mut [u8; N]).write(data) };
        true
    }

    #[inline(never)]
    fn load_slow<const N: usize>(&mut self, addr: u64) -> Result<[u8; N], Fault> {
        let mut out = [0u8; N];
        self.read(addr, &mut out)?;
        Ok(out)
    }

    /// Guest store of `N` bytes (little-endian, any alignment).
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, data: [u8; N]) -> Result<(), Fault> {
        if self.store_hit(addr, data) {
            return Ok(());
        }
        self.write(addr, &data)
    }

    /// Checks that an atomic read-modify-write of `len` bytes at `addr` may proceed (the
    /// RISC-V AMOs fault as stores, and need read permission too).
    pub fn check_rmw(&mut self, addr: u64, len: u64) -> Result<(), Fault> {
        self.check_range(addr, len, Access::Load)
            .map_err(|f| Fault {
                access: Access::Store,
                ..f
            })?;
        self.check_range(addr, len, Access::Store)
    }

    /// Makes every page of `[addr, addr+len)` ready for `access`; the fault names the
    /// first bad byte.
    fn check_range(&mut self, addr: u64, len: u64, access: Access) -> Result<(), Fault> {
        if len == 0 {
            return Ok(());
        }
        let Some(last) = addr.checked_add(len - 1) else {
            return Err(Self::fault(addr.max(USER_TOP), access, None));
        };
        self.translate(addr, access)?;
        let mut page = (addr >> PAGE_SHIFT) + 1;
        while page <= last >> PAGE_SHIFT {
            self.translate(page << PAGE_SHIFT, access)?;
            page += 1;
        }
        Ok(())
    }

    /// The host address of `addr` for `access`, from the TLB or by translating.
    #[inline]
    fn host(&mut self, addr: u64, access: Access) -> Result<*mut u8, Fault> {
        let page = match access {
            Access::Load => self.tlb.read_page(addr),
            Access::Store => self.tlb.write_page(addr),
            Access::Fetch => None,
        };
        let page = match page {
            Some(p) => p as *mut u8,
            None => self.translate(addr, access)?,
        };
        // SAFETY: within the frame (offset < FRAME_SIZE).
        Ok(unsafe { page.add((addr & !PAGE_MASK) as usize) })
    }

    /// The host address of the start of `addr`'s page, to fetch from (needs `X`; a fault
    /// names `addr`). Valid while the space's mappings and frames stay as they are: the
    /// decoding of one block, which fetches its page's parcels through it instead of
    /// translating every byte.
    pub(crate) fn fetch_page(&mut self, addr: u64) -> Result<*const u8, Fault> {
        self.translate(addr, Access::Fetch).map(|p| p as *const u8)
    }

    /// Fetch of one 16-bit instruction parcel (needs `X`).
    pub fn fetch16(&mut self, addr: u64) -> Result<u16, Fault> {
        let mut b = [0u8; 2];
        for (i, byte) in b.iter_mut().enumerate() {
            let a = addr.wrapping_add(i as u64);
            let p = self.host(a, Access::Fetch)?;
            // SAFETY: `host` returned an address inside a live frame.
            *byte = unsafe { p.read() };
        }
        Ok(u16::from_le_bytes(b))
    }

    /// Marks the page of `addr` (present: it was just fetched from) as holding decoded
    /// code, so stores into it take the slow path. Returns whether the page is marked (a
    /// page not present is not).
    pub(crate) fn mark_code(&mut self, addr: u64) -> bool {
        let vpn = addr >> PAGE_SHIFT;
        if vpn >= page_table::PAGES {
            return false;
        }
        let pte = self.pt.get(vpn);
        if !pte.present() {
            return false;
        }
        if pte.has(PTE_CODE) {
            return true;
        }
        *self.pt.entry(vpn) = Pte(pte.0 | PTE_CODE);
        self.tlb.flush_page(addr & PAGE_MASK);
        if pte.has(PTE_SHARED) {
            let frames = &mut self.phys.borrow_mut().frames;
            let f = pte.frame();
            if frames.flags(f) & FRAME_CODE == 0 {
                let flags = frames.flags(f);
                frames.set_flags(f, flags | FRAME_CODE);
                // Every space (this one too, through another page) must drop its write
                // entries for the frame.
                frames.shared_code_epoch += 1;
                self.shared_code_epoch = frames.shared_code_epoch;
                self.tlb.flush_writes();
            }
        }
        true
    }

    /// copy_from_user: every page needs `R`.
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if buf.is_empty() {
            // Any address (even past the user range) is fine for an empty copy.
            return Ok(());
        }
        self.check_range(addr, buf.len() as u64, Access::Load)?;
        let mut done = 0;
        while done < buf.len() {
            let a = addr + done as u64;
            let n = ((PAGE_SIZE - (a & !PAGE_MASK)) as usize).min(buf.len() - done);
            let p = self.host(a, Access::Load)?;
            // SAFETY: `n` bytes from `p` stay inside its frame; `buf` is ours.
            unsafe { std::ptr::copy_nonoverlapping(p, buf[done..].as_mut_ptr(), n) };
            done += n;
        }
        Ok(())
    }

    /// copy_to_user: every page needs `W`; invalidates decoded code it overwrites. Nothing
    /// is written unless every page may be.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Fault> {
        if data.is_empty() {
            return Ok(());
        }
        self.check_range(addr, data.len() as u64, Access::Store)?;
        let mut done = 0;
        while done < data.len() {
            let a = addr + done as u64;
            let n = ((PAGE_SIZE - (a & !PAGE_MASK)) as usize).min(data.len() - done);
            let p = self.host(a, Access::Store)?;
            // SAFETY: `n` bytes from `p` stay inside a frame this space may write.
            unsafe { std::ptr::copy_nonoverlapping(data[done..].as_ptr(), p, n) };
            done += n;
        }
        Ok(())
    }

    /// strncpy_from_user: the bytes before the NUL, at most `max` of them.
    pub fn read_cstr(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        let mut a = addr;
        while out.len() < max {
            let p = self.host(a, Access::Load)?;
            // Scan the rest of this page at once.
            let n = ((PAGE_SIZE - (a & !PAGE_MASK)) as usize).min(max - out.len());
            // SAFETY: `n` bytes from `p` stay inside its frame.
            let chunk = unsafe { std::slice::from_raw_parts(p, n) };
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(chunk);
            a = match a.checked_add(n as u64) {
                Some(next) => next,
                None => return Err(Self::fault(a, Access::Load, None)),
            };
        }
        Ok(out)
    }

    /// Frames this space refers to (its resident set: shared ones counted fully).
    pub fn resident_pages(&mut self) -> u64 {
        let mut n = 0;
        self.pt.for_each(|_, pte| {
            if pte.frame() != ZERO_FRAME {
                n += 1;
            }
        });
        n
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        self.tlb.flush_all();
        let frames = &mut self.phys.borrow_mut().frames;
        self.pt.for_each(|_, pte| {
            if pte.frame() != ZERO_FRAME {
                frames.put(pte.frame());
            }
        });
    }
}

#[cfg(test)]
mod tests;
