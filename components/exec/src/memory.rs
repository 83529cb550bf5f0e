//! Guest memory of one address space: a flat arena indexed by guest address plus a
//! per-page permission table.
//!
//! The arena is a `Vec<u8>` covering `[0, len)`; it grows (zero-filled, doubling) to cover
//! the highest mapped page, up to `ARENA_LIMIT`. A guest access costs one table lookup (which
//! doubles as the bounds check, since the table covers exactly the arena) and a permission
//! test; accesses that straddle a page take the out-of-line path. Misaligned accesses work,
//! as Linux emulates them for user space.
//!
//! Pages holding decoded code carry `CODE`: a store into such a page clears the bit and
//! queues the page in `invalidated`, which the block cache drains before its next lookup.
//!
//! This module uses no `unsafe`.

use crate::machine::{Access, Fault, FaultCause, MapError, Prot};

/// Guest page size (4 KiB, as RISC-V Linux).
pub const PAGE_SIZE: u64 = 4096;
const PAGE_SHIFT: u32 = 12;
/// The most guest memory an address space may span: mappings must end below this. 3 GiB,
/// except where a Rust allocation cannot be that large (on wasm32 one object is limited to
/// `isize::MAX` bytes): there 2 GiB less 64 KiB.
pub const ARENA_LIMIT: u64 = if usize::BITS >= 64 {
    3 << 30
} else {
    (1 << 31) - (1 << 16)
};
/// Smallest arena allocation, so small programs do not regrow repeatedly.
const MIN_ARENA: u64 = 1 << 20;

// Permission-table bits. R, W, X equal `Prot`'s.
pub(crate) const R: u8 = 1;
pub(crate) const W: u8 = 2;
pub(crate) const X: u8 = 4;
/// The page is mapped (distinguishes PROT_NONE mappings from holes: SEGV_ACCERR vs MAPERR).
const MAPPED: u8 = 8;
/// Decoded code was built from this page.
pub(crate) const CODE: u8 = 16;

/// One address space's memory.
#[derive(Default)]
pub struct Memory {
    arena: Vec<u8>,
    /// One byte per page of `arena`.
    perms: Vec<u8>,
    /// Pages whose decoded code is stale (a store hit them since they were decoded).
    pub(crate) invalidated: Vec<u64>,
}

/// Checks and splits `[addr, addr+len)` into a page range.
fn page_range(addr: u64, len: u64) -> Result<core::ops::Range<u64>, MapError> {
    if !addr.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
        return Err(MapError::Invalid);
    }
    let end = addr.checked_add(len).ok_or(MapError::Invalid)?;
    Ok(addr >> PAGE_SHIFT..end >> PAGE_SHIFT)
}

impl Memory {
    /// An empty address space.
    pub fn new() -> Memory {
        Memory::default()
    }

    fn perm(&self, page: u64) -> u8 {
        self.perm_ref(page).copied().unwrap_or(0)
    }

    /// The permission byte of `page`, if the arena covers it. The page number is converted
    /// with `try_from`, not `as`: on wasm32 `as usize` would drop the high bits and alias
    /// addresses at 2^44 and above onto low memory instead of faulting.
    #[inline(always)]
    fn perm_ref(&self, page: u64) -> Option<&u8> {
        usize::try_from(page).ok().and_then(|p| self.perms.get(p))
    }

    /// Grows the arena to cover at least `end` bytes.
    fn grow(&mut self, end: u64) {
        let old = self.arena.len() as u64;
        if end <= old {
            return;
        }
        // Geometric growth keeps repeated small extensions cheap, but only by a quarter:
        // every fork copies the arena and every process pays for it in Wasm memory.
        let new = end
            .max(old + old / 4)
            .next_multiple_of(PAGE_SIZE)
            .clamp(MIN_ARENA, ARENA_LIMIT);
        // `vec![0; n]` allocates zeroed memory (calloc / fresh Wasm pages) without touching
        // it, which `resize` would do.
        let mut arena = vec![0u8; new as usize];
        arena[..old as usize].copy_from_slice(&self.arena);
        self.arena = arena;
        self.perms.resize((new >> PAGE_SHIFT) as usize, 0);
    }

    /// A copy for fork(2). Only mapped pages are copied: the arena spans holes (the
    /// unused heap reserve, the stack's untouched part is mapped but the gaps are not), and
    /// copying them would dominate the cost of a fork.
    pub fn fork(&self) -> Memory {
        let mut arena = vec![0u8; self.arena.len()];
        let mut page = 0;
        let pages = self.perms.len();
        while page < pages {
            if self.perms[page] & MAPPED == 0 {
                page += 1;
                continue;
            }
            let start = page;
            while page < pages && self.perms[page] & MAPPED != 0 {
                page += 1;
            }
            let (a, b) = (start << PAGE_SHIFT, page << PAGE_SHIFT);
            arena[a..b].copy_from_slice(&self.arena[a..b]);
        }
        Memory {
            arena,
            perms: self.perms.clone(),
            invalidated: Vec::new(),
        }
    }

    /// Marks code in `pages` stale if any page holds decoded code.
    fn invalidate_code(&mut self, pages: core::ops::Range<u64>) {
        // Pages past the arena hold nothing (and a guest may name an absurd range).
        let end = pages.end.min(self.perms.len() as u64);
        for p in pages.start..end {
            if let Some(perm) = self.perms.get_mut(p as usize)
                && *perm & CODE != 0
            {
                *perm &= !CODE;
                self.invalidated.push(p);
            }
        }
    }

    /// mmap(MAP_FIXED): zero-filled pages with `prot`, replacing what was there.
    pub fn map(&mut self, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        if pages.end << PAGE_SHIFT > ARENA_LIMIT {
            return Err(MapError::OutOfMemory);
        }
        self.grow(pages.end << PAGE_SHIFT);
        self.invalidate_code(pages.clone());
        self.arena[addr as usize..(addr + len) as usize].fill(0);
        self.perms[pages.start as usize..pages.end as usize].fill(MAPPED | (prot.0 & (R | W | X)));
        Ok(())
    }

    /// munmap: holes are fine.
    pub fn unmap(&mut self, addr: u64, len: u64) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        self.invalidate_code(pages.clone());
        // Clamped as u64 first: see `perm_ref`.
        let end = pages.end.min(self.perms.len() as u64) as usize;
        if pages.start < end as u64 {
            self.perms[pages.start as usize..end].fill(0);
            // Leave the bytes zero, so a later map of arena pages need not clear them twice.
            self.arena[addr as usize..end << PAGE_SHIFT].fill(0);
        }
        Ok(())
    }

    /// mprotect: every page in the range must be mapped.
    pub fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let pages = page_range(addr, len)?;
        if pages.end > self.perms.len() as u64 || pages.clone().any(|p| self.perm(p) & MAPPED == 0)
        {
            return Err(MapError::Invalid);
        }
        self.invalidate_code(pages.clone());
        self.perms[pages.start as usize..pages.end as usize].fill(MAPPED | (prot.0 & (R | W | X)));
        Ok(())
    }

    /// The fault for an access to `addr` needing `need`, if there is one.
    fn check(&self, addr: u64, need: u8, access: Access) -> Result<(), Fault> {
        let p = self.perm(addr >> PAGE_SHIFT);
        if p & need == need && p & MAPPED != 0 {
            return Ok(());
        }
        let cause = if p & MAPPED == 0 {
            FaultCause::Unmapped
        } else {
            FaultCause::Protection
        };
        Err(Fault {
            addr,
            access,
            cause,
        })
    }

    /// Checks every page of `[addr, addr+len)` for `need`; the fault names the first bad byte.
    fn check_range(&self, addr: u64, len: u64, need: u8, access: Access) -> Result<(), Fault> {
        if len == 0 {
            return Ok(());
        }
        let Some(last) = addr.checked_add(len - 1) else {
            let cause = FaultCause::Unmapped;
            return Err(Fault {
                addr: addr.max(1u64 << 63),
                access,
                cause,
            });
        };
        self.check(addr, need, access)?;
        let mut page = (addr >> PAGE_SHIFT) + 1;
        while page <= last >> PAGE_SHIFT {
            self.check(page << PAGE_SHIFT, need, access)?;
            page += 1;
        }
        Ok(())
    }

    /// Guest load of `N` bytes (little-endian, any alignment).
    #[inline(always)]
    pub fn load<const N: usize>(&self, addr: u64) -> Result<[u8; N], Fault> {
        if let Some(&p) = self.perm_ref(addr >> PAGE_SHIFT)
            && p & R != 0
            && (addr & (PAGE_SIZE - 1)) as usize <= PAGE_SIZE as usize - N
        {
            let a = addr as usize;
            let mut out = [0u8; N];
            out.copy_from_slice(&self.arena[a..a + N]);
            return Ok(out);
        }
        self.load_slow(addr, Access::Load)
    }

    #[inline(never)]
    fn load_slow<const N: usize>(&self, addr: u64, access: Access) -> Result<[u8; N], Fault> {
        self.check_range(addr, N as u64, R, access)?;
        let a = addr as usize;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.arena[a..a + N]);
        Ok(out)
    }

    /// Guest store of `N` bytes (little-endian, any alignment).
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, data: [u8; N]) -> Result<(), Fault> {
        if let Some(&p) = self.perm_ref(addr >> PAGE_SHIFT)
            && p & (W | CODE) == W
            && (addr & (PAGE_SIZE - 1)) as usize <= PAGE_SIZE as usize - N
        {
            let a = addr as usize;
            self.arena[a..a + N].copy_from_slice(&data);
            return Ok(());
        }
        self.write(addr, &data)
    }

    /// Checks that an atomic read-modify-write of `N` bytes at `addr` may proceed (the
    /// RISC-V AMOs fault as stores).
    pub fn check_rmw(&self, addr: u64, len: u64) -> Result<(), Fault> {
        self.check_range(addr, len, R | W, Access::Store)
    }

    /// Fetch of one 16-bit instruction parcel (needs `X`).
    pub fn fetch16(&self, addr: u64) -> Result<u16, Fault> {
        self.check_range(addr, 2, X, Access::Fetch)?;
        let a = addr as usize;
        Ok(u16::from_le_bytes([self.arena[a], self.arena[a + 1]]))
    }

    /// Forgets which pages hold decoded code (for a copy that starts with an empty cache).
    pub(crate) fn clear_code_marks(&mut self) {
        self.perms.iter_mut().for_each(|p| *p &= !CODE);
        self.invalidated.clear();
    }

    /// Marks the page of `addr` as holding decoded code.
    pub(crate) fn mark_code(&mut self, addr: u64) {
        if let Some(p) = self.perms.get_mut((addr >> PAGE_SHIFT) as usize) {
            *p |= CODE;
        }
    }

    /// copy_from_user: every page needs `R`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if buf.is_empty() {
            // Any address (even past the arena) is fine for an empty copy.
            return Ok(());
        }
        self.check_range(addr, buf.len() as u64, R, Access::Load)?;
        let a = addr as usize;
        buf.copy_from_slice(&self.arena[a..a + buf.len()]);
        Ok(())
    }

    /// copy_to_user: every page needs `W`; invalidates decoded code it overwrites.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Fault> {
        let len = data.len() as u64;
        self.check_range(addr, len, W, Access::Store)?;
        if len == 0 {
            return Ok(());
        }
        self.invalidate_code(addr >> PAGE_SHIFT..((addr + len - 1) >> PAGE_SHIFT) + 1);
        let a = addr as usize;
        self.arena[a..a + data.len()].copy_from_slice(data);
        Ok(())
    }

    /// strncpy_from_user: the bytes before the NUL, at most `max` of them.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
        let mut out = Vec::new();
        let mut a = addr;
        while out.len() < max {
            self.check(a, R, Access::Load)?;
            // Scan the rest of this page at once.
            let page_end = (a | (PAGE_SIZE - 1)) + 1;
            let n = ((page_end - a) as usize).min(max - out.len());
            let chunk = &self.arena[a as usize..a as usize + n];
            if let Some(nul) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(chunk);
            a = page_end;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_read_write_protect() {
        let mut m = Memory::new();
        assert_eq!(m.map(0x1001, 4096, Prot::READ), Err(MapError::Invalid));
        assert_eq!(m.map(0x1000, 0, Prot::READ), Err(MapError::Invalid));
        assert_eq!(
            m.map(ARENA_LIMIT, 4096, Prot::READ),
            Err(MapError::OutOfMemory)
        );
        m.map(0x1000, 0x2000, Prot::READ | Prot::WRITE).unwrap();
        m.write(0x1ffe, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.load::<4>(0x1ffe).unwrap(), [1, 2, 3, 4]);
        let f = m.load::<8>(0x2ffc).unwrap_err();
        assert_eq!((f.addr, f.cause), (0x3000, FaultCause::Unmapped));
        m.protect(0x2000, 0x1000, Prot::NONE).unwrap();
        let f = m.load::<1>(0x2000).unwrap_err();
        assert_eq!(f.cause, FaultCause::Protection);
        assert_eq!(
            m.protect(0x2000, 0x2000, Prot::READ),
            Err(MapError::Invalid)
        );
        m.unmap(0x1000, 0x1000).unwrap();
        assert_eq!(m.load::<1>(0x1000).unwrap_err().cause, FaultCause::Unmapped);
        m.map(0x1000, 0x1000, Prot::READ).unwrap();
        assert_eq!(m.load::<4>(0x1ffc).unwrap(), [0; 4]);
    }

    #[test]
    fn addresses_past_the_arena_fault_and_unmap_nothing() {
        // At 2^44 and above a page number no longer fits 32 bits: on wasm32 these must not
        // wrap onto page 1. To run the unit tests on wasm32: `CARGO_TARGET_WASM32_WASIP2_RUNNER=
        // "wasmtime run" cargo test --target wasm32-wasip2 -p friscy-exec --lib`.
        let mut m = Memory::new();
        m.map(0x1000, 0x1000, Prot::READ | Prot::WRITE).unwrap();
        m.write(0x1000, &[7; 8]).unwrap();
        let far = (1u64 << 44) + 0x1000;
        let f = m.load::<8>(far).unwrap_err();
        assert_eq!((f.addr, f.cause), (far, FaultCause::Unmapped));
        assert_eq!(m.store(far, [1u8; 8]).unwrap_err().addr, far);
        assert_eq!(m.read(far, &mut [0; 8]).unwrap_err().addr, far);
        assert_eq!(m.protect(far, 0x1000, Prot::READ), Err(MapError::Invalid));
        m.unmap(far, 0x1000).unwrap();
        assert_eq!(m.load::<8>(0x1000).unwrap(), [7; 8]);
    }

    #[test]
    fn cstr() {
        let mut m = Memory::new();
        m.map(0, 0x2000, Prot::READ | Prot::WRITE).unwrap();
        m.write(0xffe, b"hello\0").unwrap();
        assert_eq!(m.read_cstr(0xffe, 100).unwrap(), b"hello");
        assert_eq!(m.read_cstr(0xffe, 3).unwrap(), b"hel");
        m.write(0x1ff0, &[b'x'; 16]).unwrap();
        assert_eq!(m.read_cstr(0x1ff0, 100).unwrap_err().addr, 0x2000);
    }
}
