//! The decode cache: basic blocks of pre-decoded instructions, keyed by start pc, chained
//! to their successors.
//!
//! A block ends after a control transfer, a trap (ecall, ebreak, illegal), fence.i or a CSR
//! access, after `MAX_BLOCK` instructions, or at the end of its page (an instruction that
//! straddles a page boundary is a block's last). So each block belongs to at most two
//! pages, and invalidating a page drops exactly the blocks that start there or straddle
//! into it. The cache belongs to the address space: harts of one space (threads) share it.
//!
//! Chaining: each block remembers the block that followed it last time on each of its two
//! exits (fall-through, and taken / jump target), so the common path from one block to the
//! next is one compare (`start == pc`) instead of a lookup. A link is only a hint: a block
//! dropped by invalidation gets `start = DEAD` and its slot may be reused, and the compare
//! catches both.
//!
//! The instructions are stored as the interpreter wants them: an `Inst` whose integer
//! destination is x0 writes `SINK` instead, a register nobody reads, so the interpreter
//! never has to restore x0 after an instruction; and the list ends in `END`, where the
//! interpreter's fast tier stops.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::aot::{NO_AOT, SpaceAot};
use crate::decode::{decode16, decode32, inst_len};
use crate::isa::{Inst, Op};
use crate::machine::Fault;
use crate::memory::{Memory, PAGE_SIZE};

/// Longest block, in instructions (bounds the work between budget checks).
pub const MAX_BLOCK: usize = 64;
/// Entries of the direct-mapped front cache (a power of two).
const FRONT: usize = 4096;
/// The register index writes to x0 are sent to (the interpreter's register file has room).
pub const SINK: u8 = 32;
/// `Block::start` of a dropped block: odd, so no pc equals it.
const DEAD: u64 = u64::MAX;
/// No link.
pub const NO_LINK: u32 = u32::MAX;
/// The entry after a block's last instruction: an illegal instruction of length 0, which
/// no decoded instruction is (their lengths are 2 and 4).
pub const END: Inst = Inst {
    op: crate::isa::Op::Illegal,
    rd: 0,
    rs1: 0,
    rs2: 0,
    rs3: 0,
    rm: 0,
    len: 0,
    imm: 0,
};

impl Block {
    /// The number of instructions (without `END`); at least one.
    #[inline(always)]
    pub fn count(&self) -> usize {
        self.insts.len() - 1
    }

    /// The byte offset of instruction `n` from the block's start (`n == count()`: its
    /// end). Unchecked: the interpreter's fast tier must call no function, and a bounds
    /// check is a call to the panic handler, which made Cranelift keep the instance
    /// pointer in a register pair across every arm (docs/PERFORMANCE.md, "No calls at
    /// all").
    #[inline(always)]
    pub fn offset(&self, n: usize) -> u64 {
        debug_assert!(n < self.offsets.len());
        // SAFETY: callers pass the index of one of the block's instructions or its count,
        // and `offsets` has `count() + 1` entries (`build`, `dead`).
        (unsafe { *self.offsets.get_unchecked(n) }) as u64
    }

    fn dead() -> Block {
        Block {
            start: DEAD,
            insts: vec![END],
            offsets: vec![0],
            links: [NO_LINK; 2],
            aot: NO_AOT,
            aot_base: 0,
        }
    }
}

/// A decoded basic block.
#[derive(Clone, Debug)]
pub struct Block {
    pub start: u64,
    /// The instructions, then `END`: the interpreter's fast tier runs a block up to this
    /// sentinel instead of counting (one value fewer live in its loop).
    pub insts: Vec<Inst>,
    /// The byte offset from the block's start of each instruction, then of the block's end
    /// (`insts.len() + 1` entries): the interpreter keeps no pc while it runs a block and
    /// derives one from these when an instruction needs it.
    pub offsets: Vec<u16>,
    /// The blocks that followed last time: `[fall-through, taken]`.
    pub links: [u32; 2],
    /// The translated code entered at `start` (`aot::SpaceAot::probe`), or `aot::NO_AOT`.
    pub aot: u64,
    /// Where the translated code's file offset 0 sits in this space (its `base`).
    pub aot_base: u64,
}

/// A multiplicative hasher for the pc-keyed map (SipHash costs more than the lookup).
#[derive(Default)]
pub struct PcHasher(u64);

impl Hasher for PcHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type PcMap<V> = HashMap<u64, V, BuildHasherDefault<PcHasher>>;

/// Decoded blocks of one address space.
#[derive(Clone)]
pub struct CodeCache {
    blocks: Vec<Block>,
    free: Vec<u32>,
    by_pc: PcMap<u32>,
    /// Start pcs of the blocks touching each page.
    by_page: PcMap<Vec<u64>>,
    /// (pc, index) pairs; pc `DEAD` marks an empty slot.
    front: Vec<(u64, u32)>,
    /// Where translated code may run (kept across flushes: it is about memory, not
    /// decoded blocks).
    pub(crate) aot: SpaceAot,
    /// `build`'s working vectors, kept between blocks.
    scratch_insts: Vec<Inst>,
    scratch_offsets: Vec<u16>,
}

impl Default for CodeCache {
    fn default() -> Self {
        CodeCache {
            blocks: Vec::new(),
            free: Vec::new(),
            by_pc: PcMap::default(),
            by_page: PcMap::default(),
            front: vec![(DEAD, 0); FRONT],
            aot: SpaceAot::default(),
            scratch_insts: Vec::new(),
            scratch_offsets: Vec::new(),
        }
    }
}

fn front_slot(pc: u64) -> usize {
    ((pc >> 1) as usize) & (FRONT - 1)
}

impl CodeCache {
    /// Drops every block (fence.i).
    pub fn flush(&mut self) {
        let aot = std::mem::take(&mut self.aot);
        *self = CodeCache::default();
        self.aot = aot;
    }

    /// Drops the blocks touching `page`.
    pub fn invalidate_page(&mut self, page: u64) {
        let Some(pcs) = self.by_page.remove(&page) else {
            return;
        };
        for pc in pcs {
            if let Some(idx) = self.by_pc.remove(&pc) {
                self.blocks[idx as usize] = Block::dead();
                self.free.push(idx);
                let slot = front_slot(pc);
                if self.front[slot].0 == pc {
                    self.front[slot] = (DEAD, 0);
                }
            }
        }
    }

    /// Applies the invalidations memory has queued since the last lookup: stores into
    /// pages (which also taint translated code there).
    #[inline]
    pub fn sync(&mut self, mem: &mut Memory) {
        if !mem.invalidated.is_empty() && self.aot.taint(&mem.invalidated) {
            // Translated functions span pages: drop every block that may refer to one.
            mem.invalidated.clear();
            self.flush();
        }
        self.sync_untainted(mem);
    }

    /// As `sync`, for invalidations that did not change memory's contents (mprotect,
    /// munmap: the callers deal with translated code themselves).
    #[inline]
    pub(crate) fn sync_untainted(&mut self, mem: &mut Memory) {
        if mem.flush_code {
            mem.flush_code = false;
            mem.invalidated.clear();
            self.flush();
        }
        if !mem.invalidated.is_empty() {
            for page in std::mem::take(&mut mem.invalidated) {
                self.invalidate_page(page);
            }
        }
    }

    /// The block with index `idx`.
    #[inline(always)]
    pub fn block(&self, idx: u32) -> &Block {
        &self.blocks[idx as usize]
    }

    /// The index of `block`, one of this cache's.
    #[inline(always)]
    pub fn index_of(&self, block: &Block) -> u32 {
        // SAFETY: `block` is an element of `self.blocks` (callers got it from `block` or
        // `get`), so both pointers are into the same allocation.
        (unsafe { (block as *const Block).offset_from(self.blocks.as_ptr()) }) as u32
    }

    /// The block the front cache holds for `pc`, if any (it may have been dropped since:
    /// callers compare its `start`).
    #[inline(always)]
    pub fn front_get(&self, pc: u64) -> Option<&Block> {
        debug_assert_eq!(self.front.len(), FRONT);
        // SAFETY: `front` always has `FRONT` entries (`default`, the only constructor) and
        // `front_slot` masks with `FRONT - 1`. Unchecked because the fast tier calls this
        // and must call no function, a bounds check's panic included (`Block::offset`).
        let (fpc, idx) = unsafe { *self.front.get_unchecked(front_slot(pc)) };
        if fpc == pc {
            self.blocks.get(idx as usize)
        } else {
            None
        }
    }

    /// The block with index `idx`, if there is one (`idx` may be `NO_LINK`).
    #[inline(always)]
    pub fn get(&self, idx: u32) -> Option<&Block> {
        self.blocks.get(idx as usize)
    }

    /// The index of the block starting at `pc`, decoding it on a miss. Fails only if the
    /// first instruction cannot be fetched.
    #[inline]
    pub fn lookup(&mut self, mem: &mut Memory, pc: u64) -> Result<u32, Fault> {
        let slot = front_slot(pc);
        let (fpc, fidx) = self.front[slot];
        if fpc == pc {
            return Ok(fidx);
        }
        let idx = match self.by_pc.get(&pc) {
            Some(&idx) => idx,
            None => self.build(mem, pc)?,
        };
        self.front[slot] = (pc, idx);
        Ok(idx)
    }

    /// The block at `pc`, which follows block `from` through its exit `exit` (0:
    /// fall-through, 1: taken): the linked one when it still starts there, otherwise a
    /// lookup, which becomes the new link.
    #[inline(always)]
    pub fn next(
        &mut self,
        mem: &mut Memory,
        from: u32,
        exit: usize,
        pc: u64,
    ) -> Result<u32, Fault> {
        let link = self.blocks[from as usize].links[exit & 1];
        if let Some(b) = self.blocks.get(link as usize)
            && b.start == pc
        {
            return Ok(link);
        }
        let idx = self.lookup(mem, pc)?;
        self.blocks[from as usize].links[exit & 1] = idx;
        Ok(idx)
    }

    #[inline(never)]
    fn build(&mut self, mem: &mut Memory, start: u64) -> Result<u32, Fault> {
        let mut insts = std::mem::take(&mut self.scratch_insts);
        let mut offsets = std::mem::take(&mut self.scratch_offsets);
        insts.clear();
        offsets.clear();
        offsets.push(0);
        let mut pc = start;
        let page = start / PAGE_SIZE;
        let mut last_page = page;
        // A fault before the first instruction (a page not filled yet, often) gives the
        // scratch vectors back.
        macro_rules! fail {
            ($f:expr) => {{
                self.scratch_insts = insts;
                self.scratch_offsets = offsets;
                return Err($f);
            }};
        }
        // Every instruction of a block starts in its first page: that page is translated
        // once and its parcels read directly (a translation per byte was a fifth of the
        // decoding). A parcel past it (the high half of an instruction that crosses into
        // the next page) is fetched on its own.
        let base = match mem.fetch_page(start) {
            Ok(base) => base,
            Err(f) => fail!(f),
        };
        let parcel = |mem: &mut Memory, at: u64| -> Result<u16, Fault> {
            let off = at.wrapping_sub(page * PAGE_SIZE);
            if off <= PAGE_SIZE - 2 {
                // SAFETY: `base` is the host address of the fetchable page `page`, and
                // both bytes lie inside it.
                Ok(u16::from_le_bytes(unsafe {
                    base.add(off as usize).cast::<[u8; 2]>().read()
                }))
            } else {
                mem.fetch16(at)
            }
        };
        loop {
            let low = match parcel(mem, pc) {
                Ok(low) => low,
                Err(f) if insts.is_empty() => fail!(f),
                Err(_) => break,
            };
            let mut inst = if inst_len(low) == 2 {
                decode16(low)
            } else {
                let high = match parcel(mem, pc.wrapping_add(2)) {
                    Ok(high) => high,
                    Err(f) if insts.is_empty() => fail!(f),
                    Err(_) => break,
                };
                decode32(low as u32 | (high as u32) << 16)
            };
            if inst.rd == 0 && inst.op.format().writes_x() {
                inst.rd = SINK;
            }
            insts.push(inst);
            let end = pc.wrapping_add(inst.len as u64);
            offsets.push(end.wrapping_sub(start) as u16);
            last_page = (end - 1) / PAGE_SIZE;
            pc = end;
            if inst.ends_block() || insts.len() >= MAX_BLOCK || pc / PAGE_SIZE != page {
                break;
            }
        }
        // Superinstructions (`Op::pair`): an instruction that makes one with the next
        // becomes it. Overlapping pairs are all marked: the fast tier takes them two by
        // two from wherever it enters the block, and skips the second's own mark.
        for k in 1..insts.len() {
            if let Some(pair) = Op::fuse(insts[k - 1].op, insts[k].op) {
                insts[k - 1].op = pair;
            }
        }
        insts.push(END);
        mem.mark_code(start);
        self.by_page.entry(page).or_default().push(start);
        if last_page != page {
            mem.mark_code(last_page * PAGE_SIZE);
            self.by_page.entry(last_page).or_default().push(start);
        }
        let (aot, aot_base) = self.aot.probe(mem, start);
        // Copied out at their length (one allocation each); the scratch vectors stay for
        // the next block.
        let block = Block {
            start,
            insts: insts.as_slice().into(),
            offsets: offsets.as_slice().into(),
            links: [NO_LINK; 2],
            aot,
            aot_base,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.blocks[idx as usize] = block;
                idx
            }
            None => {
                self.blocks.push(block);
                (self.blocks.len() - 1) as u32
            }
        };
        self.by_pc.insert(start, idx);
        self.scratch_insts = insts;
        self.scratch_offsets = offsets;
        Ok(idx)
    }
}
