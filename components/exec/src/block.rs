//! The decode cache: basic blocks of pre-decoded instructions, keyed by start pc.
//!
//! A block ends after a control transfer, a trap (ecall, ebreak, illegal), fence.i or a CSR
//! access, after `MAX_BLOCK` instructions, or at the end of its page (an instruction that
//! straddles a page boundary is a block's last). So each block belongs to at most two
//! pages, and invalidating a page drops exactly the blocks that start there or straddle
//! into it. The cache belongs to the address space: harts of one space (threads) share it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::decode::{decode16, decode32, inst_len};
use crate::isa::Inst;
use crate::machine::Fault;
use crate::memory::{Memory, PAGE_SIZE};

/// Longest block, in instructions (bounds the work between budget checks).
pub const MAX_BLOCK: usize = 64;
/// Entries of the direct-mapped front cache (a power of two).
const FRONT: usize = 4096;

/// A decoded basic block.
#[derive(Clone, Debug)]
pub struct Block {
    pub insts: Vec<Inst>,
    /// The byte offset from the block's start of each instruction, then of the block's end
    /// (`insts.len() + 1` entries): the interpreter keeps no pc while it runs a block and
    /// derives one from these when an instruction needs it.
    pub offsets: Vec<u16>,
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
    /// (pc, index) pairs; pc `u64::MAX` marks an empty slot.
    front: Vec<(u64, u32)>,
}

impl Default for CodeCache {
    fn default() -> Self {
        CodeCache {
            blocks: Vec::new(),
            free: Vec::new(),
            by_pc: PcMap::default(),
            by_page: PcMap::default(),
            front: vec![(u64::MAX, 0); FRONT],
        }
    }
}

fn front_slot(pc: u64) -> usize {
    ((pc >> 1) as usize) & (FRONT - 1)
}

impl CodeCache {
    /// Drops every block (fence.i).
    pub fn flush(&mut self) {
        *self = CodeCache::default();
    }

    /// Drops the blocks touching `page`.
    pub fn invalidate_page(&mut self, page: u64) {
        let Some(pcs) = self.by_page.remove(&page) else {
            return;
        };
        for pc in pcs {
            if let Some(idx) = self.by_pc.remove(&pc) {
                self.blocks[idx as usize] = Block {
                    insts: Vec::new(),
                    offsets: Vec::new(),
                };
                self.free.push(idx);
                let slot = front_slot(pc);
                if self.front[slot].0 == pc {
                    self.front[slot] = (u64::MAX, 0);
                }
            }
        }
    }

    /// Applies the invalidations memory has queued since the last lookup.
    #[inline]
    pub fn sync(&mut self, mem: &mut Memory) {
        if !mem.invalidated.is_empty() {
            for page in std::mem::take(&mut mem.invalidated) {
                self.invalidate_page(page);
            }
        }
    }

    /// The block starting at `pc`, decoding it on a miss. Fails only if the first
    /// instruction cannot be fetched.
    #[inline]
    pub fn get(&mut self, mem: &mut Memory, pc: u64) -> Result<&Block, Fault> {
        let slot = front_slot(pc);
        let (fpc, fidx) = self.front[slot];
        let idx = if fpc == pc {
            fidx
        } else {
            let idx = match self.by_pc.get(&pc) {
                Some(&idx) => idx,
                None => self.build(mem, pc)?,
            };
            self.front[slot] = (pc, idx);
            idx
        };
        Ok(&self.blocks[idx as usize])
    }

    #[inline(never)]
    fn build(&mut self, mem: &mut Memory, start: u64) -> Result<u32, Fault> {
        let mut insts = Vec::new();
        let mut offsets = vec![0];
        let mut pc = start;
        let page = start / PAGE_SIZE;
        let mut last_page = page;
        loop {
            let low = match mem.fetch16(pc) {
                Ok(low) => low,
                Err(f) if insts.is_empty() => return Err(f),
                Err(_) => break,
            };
            let inst = if inst_len(low) == 2 {
                decode16(low)
            } else {
                let high = match mem.fetch16(pc.wrapping_add(2)) {
                    Ok(high) => high,
                    Err(f) if insts.is_empty() => return Err(f),
                    Err(_) => break,
                };
                decode32(low as u32 | (high as u32) << 16)
            };
            insts.push(inst);
            let end = pc.wrapping_add(inst.len as u64);
            offsets.push(end.wrapping_sub(start) as u16);
            last_page = (end - 1) / PAGE_SIZE;
            pc = end;
            if inst.ends_block() || insts.len() >= MAX_BLOCK || pc / PAGE_SIZE != page {
                break;
            }
        }
        mem.mark_code(start);
        self.by_page.entry(page).or_default().push(start);
        if last_page != page {
            mem.mark_code(last_page * PAGE_SIZE);
            self.by_page.entry(last_page).or_default().push(start);
        }
        let block = Block { insts, offsets };
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
        Ok(idx)
    }
}
