//! Page frames: the 4 KiB slots of host memory that back guest pages.
//!
//! A frame belongs to no address space: page tables refer to frames by number, and each
//! frame counts the page-table entries (and shared objects) that refer to it. A private page
//! whose frame is referred to more than once is copy-on-write (fork gives the child the
//! parent's frames); a page of a shared object writes its frame in place. Frame 0 is the
//! zero frame: always zero, never written, mapped read-only for reads of untouched
//! anonymous memory, so reading memory costs no frames.
//!
//! Frames come from the host allocator in chunks and never move (software TLBs hold their
//! addresses); freed frames are kept for reuse, never returned. The allocator can be given
//! a limit; running out (the limit, or the host refusing memory) is an error the kernel
//! turns into ENOMEM or an OOM kill, never an abort.

use std::alloc::{Layout, alloc};
use std::ptr::NonNull;

/// A frame's number.
pub type FrameId = u32;

/// The frame that is always zero.
pub const ZERO_FRAME: FrameId = 0;

/// Frame size: the guest page size.
pub const FRAME_SIZE: usize = 4096;
const FRAME_SHIFT: u32 = 12;
/// Frames per allocation from the host (256 KiB): small programs stay small, big ones
/// do not ask the host allocator too often.
const CHUNK_FRAMES: usize = 64;

/// No frame could be had: the limit is reached, or the host refused memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfFrames;

/// Per-frame flag: a block cache holds code decoded from this frame. Only consulted for
/// frames of shared objects, which other address spaces may write.
pub const FRAME_CODE: u8 = 1;

/// Every frame of one machine (one Wasm instance).
pub struct Frames {
    chunks: Vec<NonNull<u8>>,
    /// References to each frame (0 = free). The zero frame is never freed.
    refs: Vec<u32>,
    flags: Vec<u8>,
    free: Vec<FrameId>,
    /// Frames in use (not free), the zero frame excluded.
    in_use: usize,
    /// At most this many frames in use.
    limit: usize,
    /// Bumped whenever a shared frame becomes code: every address space must then drop its
    /// TLB write entries (another space may hold one for that frame).
    pub(crate) shared_code_epoch: u64,
    /// Bumped when a store hits a shared frame holding code: every space drops its decoded
    /// code.
    pub(crate) code_flush_epoch: u64,
    /// Memory set aside at the start and given back the first time the host refuses a
    /// chunk (a bounded `wasmtime run -W max-memory-size`, the native host's store
    /// limit): what follows (the OOM killer's kill, dropping the victim's page tables,
    /// decoding code) still allocates, and a failed allocation there would abort.
    reserve: Option<Vec<u8>>,
}

/// The reserve's size.
const RESERVE: usize = 4 << 20;

impl Default for Frames {
    fn default() -> Self {
        Frames::new()
    }
}

/// The host allocation of one chunk of frames.
fn chunk_layout() -> Layout {
    Layout::from_size_align(CHUNK_FRAMES * FRAME_SIZE, FRAME_SIZE).expect("chunk layout")
}

impl Drop for Frames {
    fn drop(&mut self) {
        // Every address space holds the `Physical` these frames belong to (an `Rc`), so
        // nothing refers to them any more. A process that makes many machines (a test
        // harness, the fuzzers) would otherwise keep every chunk it ever had.
        for chunk in self.chunks.drain(..) {
            // SAFETY: each chunk came from `alloc` with `chunk_layout()` in `grow`
            // and is freed once, here.
            unsafe { std::alloc::dealloc(chunk.as_ptr(), chunk_layout()) };
        }
    }
}

impl Frames {
    pub fn new() -> Frames {
        let mut f = Frames {
            chunks: Vec::new(),
            refs: Vec::new(),
            flags: Vec::new(),
            free: Vec::new(),
            in_use: 0,
            limit: usize::MAX,
            shared_code_epoch: 0,
            code_flush_epoch: 0,
            reserve: None,
        };
        // The zero frame: frame 0 of the first chunk, pinned.
        f.grow()
            .expect("friscy-exec: no memory for the first frames");
        f.free.retain(|&id| id != ZERO_FRAME);
        // SAFETY: frame 0 of the live first chunk, which nothing refers to yet.
        unsafe { f.ptr(ZERO_FRAME).write_bytes(0, FRAME_SIZE) };
        f.refs[0] = 1;
        // Capacity, not zeros: the linear memory grows now, but no host page is touched
        // (zeroing 4 MiB cost every start ~1,000 page faults).
        f.reserve = Some(Vec::with_capacity(RESERVE));
        f
    }

    /// Adds a chunk of frames to the free list. They are not zeroed here but when taken
    /// (`alloc_zeroed`), so that a chunk's frames no one takes are never touched: zeroing
    /// the whole chunk made the host fault in all 64 pages of the last one at every start.
    fn grow(&mut self) -> Result<(), OutOfFrames> {
        let layout = chunk_layout();
        // SAFETY: the layout has a non-zero size. A null return (the host refused memory)
        // is an error, not an abort, which is the point of allocating frames by hand.
        let ptr = NonNull::new(unsafe { alloc(layout) }).ok_or(OutOfFrames)?;
        // The bookkeeping grows with it, fallibly too.
        let room = self.chunks.try_reserve(1).is_ok()
            && self.refs.try_reserve(CHUNK_FRAMES).is_ok()
            && self.flags.try_reserve(CHUNK_FRAMES).is_ok()
            && self.free.try_reserve(CHUNK_FRAMES).is_ok();
        if !room {
            // SAFETY: `ptr` was allocated just above with `layout` and is not used.
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
            return Err(OutOfFrames);
        }
        let first = self.refs.len() as FrameId;
        self.chunks.push(ptr);
        self.refs.resize(self.refs.len() + CHUNK_FRAMES, 0);
        self.flags.resize(self.refs.len(), 0);
        // Pushed in reverse so the lowest numbers come out first.
        self.free
            .extend((first..first + CHUNK_FRAMES as FrameId).rev());
        Ok(())
    }

    /// Sets the most frames that may be in use (`usize::MAX`: no limit).
    pub fn set_limit(&mut self, frames: usize) {
        self.limit = frames;
    }

    /// Frames in use, the zero frame excluded.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// A zero-filled frame with one reference.
    pub fn alloc_zeroed(&mut self) -> Result<FrameId, OutOfFrames> {
        let f = self.take()?;
        // SAFETY: `f` is a frame of a live chunk that nothing refers to.
        unsafe { self.ptr(f).write_bytes(0, FRAME_SIZE) };
        Ok(f)
    }

    /// A frame with one reference holding a copy of `src`.
    pub fn alloc_copy(&mut self, src: FrameId) -> Result<FrameId, OutOfFrames> {
        let f = self.take()?;
        // SAFETY: both are frames of live chunks, and distinct (`f` was free, `src` is not).
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr(src), self.ptr(f), FRAME_SIZE);
        }
        Ok(f)
    }

    /// Takes a frame off the free list (its bytes are whatever they were).
    fn take(&mut self) -> Result<FrameId, OutOfFrames> {
        if self.in_use >= self.limit {
            return Err(OutOfFrames);
        }
        if self.free.is_empty() && self.grow().is_err() {
            // The host has no more memory for us: what we hold is all there is from now on
            // (frames freed later are reused), and the reserve goes back for what must
            // still be allocated.
            self.limit = self.in_use;
            self.reserve = None;
            return Err(OutOfFrames);
        }
        let f = self.free.pop().ok_or(OutOfFrames)?;
        let id = f as usize;
        self.refs[id] = 1;
        self.flags[id] = 0;
        self.in_use += 1;
        Ok(f)
    }

    /// One more reference to `f`.
    pub fn get(&mut self, f: FrameId) {
        self.refs[f as usize] += 1;
    }

    /// Drops one reference to `f`, freeing it with the last.
    pub fn put(&mut self, f: FrameId) {
        let r = &mut self.refs[f as usize];
        debug_assert!(*r > 0, "frame {f} freed twice");
        *r -= 1;
        if *r == 0 {
            debug_assert_ne!(f, ZERO_FRAME);
            self.free.push(f);
            self.in_use -= 1;
        }
    }

    /// How many references `f` has.
    pub fn refs(&self, f: FrameId) -> u32 {
        self.refs[f as usize]
    }

    pub fn flags(&self, f: FrameId) -> u8 {
        self.flags[f as usize]
    }

    pub fn set_flags(&mut self, f: FrameId, flags: u8) {
        self.flags[f as usize] = flags;
    }

    /// The host address of frame `f`.
    #[inline]
    pub fn ptr(&self, f: FrameId) -> *mut u8 {
        let f = f as usize;
        // SAFETY: in bounds of the chunk: `f % CHUNK_FRAMES` frames of FRAME_SIZE.
        unsafe {
            self.chunks[f / CHUNK_FRAMES]
                .as_ptr()
                .add((f % CHUNK_FRAMES) << FRAME_SHIFT)
        }
    }

    /// Frame `f`'s bytes.
    pub fn bytes(&self, f: FrameId) -> &[u8] {
        // SAFETY: a frame is FRAME_SIZE bytes of a live chunk, initialised (a frame is
        // zeroed or copied into when taken, and only frames taken are read). Shared
        // references to frames are only handed out while no `&mut Frames` exists, and
        // guest stores go through `&mut` paths.
        unsafe { std::slice::from_raw_parts(self.ptr(f), FRAME_SIZE) }
    }

    /// Frame `f`'s bytes, to write. The caller must own the frame for writing (one
    /// reference, or a shared object's frame).
    pub fn bytes_mut(&mut self, f: FrameId) -> &mut [u8] {
        debug_assert_ne!(f, ZERO_FRAME, "the zero frame is never written");
        // SAFETY: as in `bytes`, and `&mut self` excludes other references made through
        // this allocator.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(f), FRAME_SIZE) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_copy_free_and_reuse_zeroed() {
        let mut fr = Frames::new();
        assert_eq!(fr.bytes(ZERO_FRAME), &[0u8; FRAME_SIZE][..]);
        let a = fr.alloc_zeroed().unwrap();
        assert_ne!(a, ZERO_FRAME);
        fr.bytes_mut(a)[5] = 7;
        let b = fr.alloc_copy(a).unwrap();
        assert_eq!(fr.bytes(b)[5], 7);
        assert_eq!(fr.in_use(), 2);
        fr.get(a);
        fr.put(a);
        assert_eq!(fr.refs(a), 1);
        fr.put(a);
        assert_eq!(fr.in_use(), 1);
        // A reused frame comes back zeroed.
        let c = fr.alloc_zeroed().unwrap();
        assert_eq!(c, a);
        assert_eq!(fr.bytes(c)[5], 0);
    }

    #[test]
    fn the_limit_is_an_error() {
        let mut fr = Frames::new();
        fr.set_limit(3);
        for _ in 0..3 {
            fr.alloc_zeroed().unwrap();
        }
        assert_eq!(fr.alloc_zeroed(), Err(OutOfFrames));
        let many: Vec<_> = (0..200).map(|_| fr.alloc_zeroed()).collect();
        assert!(many.iter().all(|r| r.is_err()));
    }

    #[test]
    fn frames_never_move() {
        let mut fr = Frames::new();
        let a = fr.alloc_zeroed().unwrap();
        let p = fr.ptr(a);
        let more: Vec<_> = (0..1000).map(|_| fr.alloc_zeroed().unwrap()).collect();
        assert_eq!(fr.ptr(a), p);
        assert_eq!(more.len(), 1000);
    }
}
