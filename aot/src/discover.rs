//! Code discovery: which instructions form which functions and basic blocks.
//!
//! From every seed (`elf::Image::seeds`), recursive descent follows what the code itself
//! says: branch targets and fall-throughs, non-linking jumps, and the return sites after
//! calls (`jal`/`jalr` with a link register) and after `ecall`. A call's target becomes a
//! seed of its own. Every instruction belongs to at most one function (the first to
//! reach it); a path that runs into another function's code leaves through the
//! dispatcher there. Decoding is exec's (`decode.rs`): one ISA definition.
//!
//! Blocks end where exec's do (`Inst::ends_block`) and at every leader (an address
//! something jumps or returns to), so each block start is an entry point the dispatcher
//! can enter the function at.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use friscy_exec::decode::{decode16, decode32, inst_len};
use friscy_exec::isa::{Inst, Op};

use crate::elf::Image;

/// Most instructions in one function: a bigger one is cut (its far targets become exits
/// to the dispatcher), which keeps each Wasm function quick to compile.
const MAX_FUNC_INSTS: usize = 20_000;

/// A function's code lies within this many bytes either side of its seed: its dispatch
/// `br_table` has one target per halfword of its span, and engines cap `br_table`s
/// (wasmtime at 65520 targets).
const MAX_REACH: u64 = 60_000;

/// A decoded instruction and its address.
#[derive(Clone, Copy, Debug)]
pub struct At {
    pub pc: u64,
    pub inst: Inst,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub start: u64,
    /// The address after the last instruction.
    pub end: u64,
    pub insts: Vec<At>,
}

#[derive(Clone, Debug)]
pub struct Func {
    /// Sorted by start; index = entry number.
    pub blocks: Vec<Block>,
}

impl Func {
    pub fn block_at(&self, pc: u64) -> Option<usize> {
        self.blocks.binary_search_by_key(&pc, |b| b.start).ok()
    }
}

/// The instruction at `pc`, if it lies inside code.
pub fn decode_at(img: &Image, pc: u64) -> Option<Inst> {
    let low = img.parcel(pc)?;
    Some(if inst_len(low) == 2 {
        decode16(low)
    } else {
        let high = img.parcel(pc + 2)?;
        if inst_len(low) != 4 {
            return None;
        }
        decode32(low as u32 | (high as u32) << 16)
    })
}

/// Where control goes after `i` at `pc`: (direct successors inside the function, a call
/// target to translate as a function of its own).
fn successors(pc: u64, i: &Inst) -> (Vec<u64>, Option<u64>) {
    let next = pc + i.len as u64;
    let target = pc.wrapping_add(i.imm as i64 as u64);
    match i.op {
        Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => (vec![next, target], None),
        Op::Jal if i.rd == 0 => (vec![target], None),
        // A call: the callee is a function; the return site continues this one.
        Op::Jal => (vec![next], Some(target)),
        Op::Jalr if i.rd == 0 => (vec![], None),
        Op::Jalr => (vec![next], None),
        Op::Ebreak | Op::Illegal => (vec![], None),
        _ => (vec![next], None),
    }
}

/// Every function reachable from the image's seeds.
pub fn discover(img: &Image) -> Vec<Func> {
    let mut claimed: HashSet<u64> = HashSet::new();
    let mut funcs = Vec::new();
    let mut seeds: VecDeque<u64> = img.seeds.iter().copied().collect();
    let mut seen_seeds: HashSet<u64> = img.seeds.iter().copied().collect();
    while let Some(seed) = seeds.pop_front() {
        if claimed.contains(&seed) {
            continue;
        }
        // Pass 1: the instructions reachable from the seed, and the leaders.
        let mut insts: BTreeMap<u64, Inst> = BTreeMap::new();
        let mut leaders: BTreeSet<u64> = BTreeSet::new();
        leaders.insert(seed);
        let mut work = vec![seed];
        while let Some(start) = work.pop() {
            let mut pc = start;
            loop {
                if insts.contains_key(&pc)
                    || claimed.contains(&pc)
                    || insts.len() >= MAX_FUNC_INSTS
                    || pc.abs_diff(seed) + 4 > MAX_REACH
                {
                    break;
                }
                let Some(i) = decode_at(img, pc) else { break };
                insts.insert(pc, i);
                if !i.ends_block() {
                    pc += i.len as u64;
                    continue;
                }
                let (succ, call) = successors(pc, &i);
                if let Some(t) = call
                    && t % 2 == 0
                    && img.segment_of(t).is_some()
                    && seen_seeds.insert(t)
                {
                    seeds.push_back(t);
                }
                for s in succ {
                    if s % 2 == 0 && img.segment_of(s).is_some() && !claimed.contains(&s) {
                        leaders.insert(s);
                        work.push(s);
                    }
                }
                break;
            }
        }
        if insts.is_empty() {
            continue;
        }
        // Pass 2: blocks, split at leaders.
        let mut blocks = Vec::new();
        for &l in &leaders {
            if !insts.contains_key(&l) {
                continue;
            }
            let mut b = Block {
                start: l,
                end: l,
                insts: Vec::new(),
            };
            let mut pc = l;
            while let Some(&i) = insts.get(&pc) {
                if pc != l && leaders.contains(&pc) {
                    break;
                }
                b.insts.push(At { pc, inst: i });
                pc += i.len as u64;
                if i.ends_block() {
                    break;
                }
            }
            b.end = pc;
            blocks.push(b);
        }
        claimed.extend(insts.keys().copied());
        funcs.push(Func { blocks });
    }
    funcs
}
