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

/// The value register `r` holds at `pc` when the instructions right before it make it a
/// constant: `auipc r, hi`, optionally followed by `addi r, r, lo` (the `la`/`lla`,
/// `call` and `tail` sequences the linker leaves when it does not relax them). A wrong
/// guess (a branch into the middle of the sequence) only adds a block or function start:
/// the code itself still uses whatever the register holds.
fn auipc_value(insts: &BTreeMap<u64, Inst>, pc: u64, r: u8) -> Option<u64> {
    let mut before = insts.range(..pc).rev();
    let (&p1, i1) = before.next()?;
    if p1 + i1.len as u64 != pc || i1.rd != r || r == 0 {
        return None;
    }
    match i1.op {
        Op::Auipc => Some(p1.wrapping_add(i1.imm as i64 as u64)),
        Op::Addi if i1.rs1 == r => {
            let (&p2, i2) = before.next()?;
            (p2 + i2.len as u64 == p1 && i2.op == Op::Auipc && i2.rd == r).then(|| {
                p2.wrapping_add(i2.imm as i64 as u64)
                    .wrapping_add(i1.imm as i64 as u64)
            })
        }
        _ => None,
    }
}

/// The targets of the switch-style jump table the indirect jump at `pc` reads, if its
/// code has the shape compilers give it: `lw rX, 0(rY)` (the entry), optionally
/// `add rX, rX, rB` (entries relative to the table's address), `jr rX`; the table's
/// address is `rB`'s (or for absolute entries, searched no further) from the nearest
/// `auipc rB` + `addi rB, rB` pair before. Entries are read while they name code. A wrong
/// guess only adds block starts: translated blocks are faithful wherever they start.
fn jump_table(img: &Image, insts: &BTreeMap<u64, Inst>, pc: u64) -> Vec<u64> {
    let before: Vec<(u64, Inst)> = insts
        .range(..pc)
        .rev()
        .take(256)
        .map(|(a, i)| (*a, *i))
        .collect();
    let jr = insts[&pc];
    let (Some(&(_, i1)), Some(&(_, i2))) = (before.first(), before.get(1)) else {
        return Vec::new();
    };
    // add rX, rX, rB after lw rX, 0(rY).
    let base_reg = if i1.op == Op::Add
        && i1.rd == jr.rs1
        && (i1.rs1 == jr.rs1 || i1.rs2 == jr.rs1)
        && i2.op == Op::Lw
        && i2.rd == jr.rs1
        && i2.imm == 0
    {
        if i1.rs1 == jr.rs1 { i1.rs2 } else { i1.rs1 }
    } else {
        return Vec::new();
    };
    // The table's address: auipc rB, hi then addi rB, rB, lo (nearest before).
    let mut base = None;
    for w in before.windows(2) {
        let ((_, addi), (apc, auipc)) = (w[0], w[1]);
        if addi.op == Op::Addi
            && addi.rd == base_reg
            && addi.rs1 == base_reg
            && auipc.op == Op::Auipc
            && auipc.rd == base_reg
        {
            base = Some(
                apc.wrapping_add(auipc.imm as i64 as u64)
                    .wrapping_add(addi.imm as i64 as u64),
            );
            break;
        }
    }
    let Some(base) = base else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for k in 0..4096u64 {
        let at = base + 4 * k;
        let (Some(lo), Some(hi)) = (img.parcel(at), img.parcel(at + 2)) else {
            break;
        };
        let w = (lo as u32 | (hi as u32) << 16) as i32 as i64 as u64;
        let t = base.wrapping_add(w);
        if t % 2 != 0 || img.segment_of(t).is_none() || decode_at(img, t).is_none() {
            break;
        }
        out.push(t);
    }
    out
}

/// Every function reachable from the image's seeds.
pub fn discover(img: &Image) -> Vec<Func> {
    let mut claimed: HashSet<u64> = HashSet::new();
    let mut funcs = Vec::new();
    let mut seeds: VecDeque<u64> = img.seeds.iter().copied().collect();
    let mut seen_seeds: HashSet<u64> = img.seeds.iter().copied().collect();
    let mut weak_taken = false;
    // Where each function with a known size ends (symbols, FDEs).
    let ends: BTreeMap<u64, u64> = img.sized.iter().copied().collect();
    // Once the real seeds and all they reach are claimed, the words in data that look
    // like code addresses: a wrong one then only adds a function nobody calls, never
    // takes a real function's instructions under a misaligned decoding.
    while let Some(seed) = seeds.pop_front().or_else(|| {
        if weak_taken {
            return None;
        }
        weak_taken = true;
        seeds.extend(
            img.data_pointers
                .iter()
                .filter(|&&t| !seen_seeds.contains(&t) && decode_at(img, t).is_some()),
        );
        seen_seeds.extend(img.data_pointers.iter().copied());
        seeds.pop_front()
    }) {
        if claimed.contains(&seed) {
            continue;
        }
        // Pass 1: the instructions reachable from the seed, and the leaders.
        let mut insts: BTreeMap<u64, Inst> = BTreeMap::new();
        let mut leaders: BTreeSet<u64> = BTreeSet::new();
        leaders.insert(seed);
        let mut work = vec![seed];
        let mut resolved: HashSet<u64> = HashSet::new();
        let mut computed_goto = false;
        let mut labels_taken = false;
        loop {
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
                    // `auipc rX` + `addi rX, rX` (lla) of a code address: a function whose
                    // address is taken (stored as a callback, say: busybox's hash and
                    // compression routines are reached only so). PIE code needs no
                    // relocation for it, so nothing else would find it.
                    if i.op == Op::Addi
                        && let Some(t) = auipc_value(&insts, pc + i.len as u64, i.rd)
                        && img.may_be_code(t)
                        && decode_at(img, t).is_some()
                        && seen_seeds.insert(t)
                    {
                        seeds.push_back(t);
                    }
                    if !i.ends_block() {
                        pc += i.len as u64;
                        continue;
                    }
                    let (mut succ, mut call) = successors(pc, &i);
                    // A jump or call through a constant register: direct after all.
                    if i.op == Op::Jalr
                        && let Some(v) = auipc_value(&insts, pc, i.rs1)
                    {
                        let t = v.wrapping_add(i.imm as i64 as u64) & !1;
                        if i.rd == 0 {
                            succ.push(t);
                        } else {
                            call = Some(t);
                        }
                    }
                    if let Some(t) = call
                        && t % 2 == 0
                        && img.segment_of(t).is_some()
                        && seen_seeds.insert(t)
                    {
                        seeds.push_back(t);
                    }
                    for s in succ {
                        if s % 2 == 0
                            && img.segment_of(s).is_some()
                            && !claimed.contains(&s)
                            && s.abs_diff(seed) + 4 <= MAX_REACH
                        {
                            leaders.insert(s);
                            work.push(s);
                        }
                    }
                    break;
                }
            }
            // Jump tables: the targets of indirect jumps found so far, then the code they
            // reach, until nothing new turns up.
            let jumps: Vec<u64> = insts
                .iter()
                .filter(|(pc, i)| {
                    i.op == Op::Jalr && i.rd == 0 && i.rs1 != 1 && !resolved.contains(pc)
                })
                .map(|(pc, _)| *pc)
                .collect();
            for &pc in &jumps {
                resolved.insert(pc);
                let targets = jump_table(img, &insts, pc);
                computed_goto |= targets.is_empty();
                for t in targets {
                    if t.abs_diff(seed) + 4 <= MAX_REACH && !claimed.contains(&t) {
                        leaders.insert(t);
                        work.push(t);
                    }
                }
            }
            // A computed goto (`goto *p`, an indirect jump no table explains) goes to
            // labels whose addresses are in data: those inside this function's known
            // extent are its blocks, so the jump stays inside the function's
            // `br_table` instead of leaving through exec on every dispatch (CPython's
            // eval loop). Taken last, once the function's own paths are decoded.
            if jumps.is_empty() && computed_goto && !labels_taken {
                labels_taken = true;
                if let Some(&end) = ends.get(&seed) {
                    for &t in img.data_pointers.range(seed + 1..end) {
                        if t.abs_diff(seed) + 4 <= MAX_REACH
                            && !claimed.contains(&t)
                            && decode_at(img, t).is_some()
                        {
                            leaders.insert(t);
                            work.push(t);
                        }
                    }
                }
                continue;
            }
            if jumps.is_empty() {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal riscv64 ET_EXEC with one R+X PT_LOAD holding `code` at 0x10000 + 0x78
    /// (after the headers), entry at the code's start.
    pub(crate) fn elf_with(code: &[u32]) -> Vec<u8> {
        let mut f = vec![0u8; 0x78];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // little-endian
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&243u16.to_le_bytes()); // EM_RISCV
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&0x10078u64.to_le_bytes()); // e_entry
        f[32..40].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        let total = 0x78 + 4 * code.len() as u64;
        let ph = &mut f[0x40..0x78];
        ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
        ph[16..24].copy_from_slice(&0x10000u64.to_le_bytes()); // p_vaddr
        ph[24..32].copy_from_slice(&0x10000u64.to_le_bytes()); // p_paddr
        ph[32..40].copy_from_slice(&total.to_le_bytes()); // p_filesz
        ph[40..48].copy_from_slice(&total.to_le_bytes()); // p_memsz
        ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
        for w in code {
            f.extend_from_slice(&w.to_le_bytes());
        }
        f
    }

    /// The functions discovered in an ELF file holding `code`.
    pub(crate) fn discover_code(code: &[u32]) -> Vec<Func> {
        let data = elf_with(code);
        discover(&Image::parse(&data).unwrap())
    }

    /// A loop, a call, a one-instruction loop and the callee:
    /// 0x10078: addi a0, x0, 3
    /// 0x1007c: addi a0, a0, -1      <- loop head
    /// 0x10080: bne a0, x0, -4       (to 0x1007c)
    /// 0x10084: jal ra, +8           (call 0x1008c)
    /// 0x10088: jal x0, 0            (spins: nothing falls into the callee)
    /// 0x1008c: jalr x0, 0(ra)       (the callee: ret)
    pub(crate) const LOOP_AND_CALL: [u32; 6] = [
        0x0030_0513,
        0xfff5_0513,
        0xfe05_1ee3,
        0x0080_00ef,
        0x0000_006f,
        0x0000_8067,
    ];

    /// Code addresses in data (`Image::data_pointers`): labels inside a function that
    /// jumps through a register no table explains become its blocks; others become
    /// functions of their own, after everything else.
    /// 0x10078: ld t0, 0(a0); 0x1007c: jalr x0, 0(t0)    (a computed goto)
    /// 0x10080: addi a0, a0, 1; 0x10084: jalr x0, 0(t0)  (label 1)
    /// 0x10088: addi a0, a0, 2; 0x1008c: ret             (label 2)
    /// 0x10090: addi a1, a1, 1; 0x10094: ret             (pointed at, outside the extent)
    #[test]
    fn computed_goto_labels_are_blocks_of_their_function() {
        let code = [
            0x0005_3283,
            0x0002_8067,
            0x0015_0513,
            0x0002_8067,
            0x0025_0513,
            0x0000_8067,
            0x0015_8593,
            0x0000_8067,
        ];
        let data = elf_with(&code);
        let mut img = Image::parse(&data).unwrap();
        img.data_pointers.extend([0x10080, 0x10088, 0x10090]);
        img.sized.push((0x10078, 0x10090));
        let funcs = discover(&img);
        let starts: Vec<Vec<u64>> = funcs
            .iter()
            .map(|f| f.blocks.iter().map(|b| b.start).collect())
            .collect();
        assert_eq!(starts, [vec![0x10078, 0x10080, 0x10088], vec![0x10090]]);
        // Without the computed goto (a `ret` at 0x1007c) the labels are not the
        // function's: each pointer is a function of its own, found last.
        let mut code2 = code;
        code2[1] = 0x0000_8067;
        let data = elf_with(&code2);
        let mut img = Image::parse(&data).unwrap();
        img.data_pointers.extend([0x10080, 0x10088, 0x10090]);
        img.sized.push((0x10078, 0x10090));
        let starts: Vec<u64> = discover(&img).iter().map(|f| f.blocks[0].start).collect();
        assert_eq!(starts, [0x10078, 0x10080, 0x10088, 0x10090]);
    }

    #[test]
    fn blocks_split_at_branch_targets_and_calls_make_functions() {
        let funcs = discover_code(&LOOP_AND_CALL);
        assert_eq!(funcs.len(), 2, "{funcs:#?}");
        let starts: Vec<u64> = funcs[0].blocks.iter().map(|b| b.start).collect();
        // Entry, loop head, the branch's fall-through, the call's return site.
        assert_eq!(starts, [0x10078, 0x1007c, 0x10084, 0x10088]);
        assert_eq!(funcs[0].blocks[1].insts.len(), 2);
        assert_eq!(funcs[1].blocks[0].start, 0x1008c);
    }

    #[test]
    fn auipc_jalr_pairs_are_followed() {
        // 0x10078: auipc t1, 0
        // 0x1007c: addi t1, t1, 20       (t1 = 0x1008c)
        // 0x10080: jalr x0, 0(t1)        (a tail jump: 0x1008c continues this function)
        // 0x10084: jal x0, 0             (never reached)
        // 0x10088: jalr x0, 0(ra)        (a callee: ret)
        // 0x1008c: auipc ra, 0
        // 0x10090: jalr ra, -4(ra)       (a call of 0x10088)
        // 0x10094: jal x0, 0
        let code = [
            0x0000_0317,
            0x0143_0313,
            0x0003_0067,
            0x0000_006f,
            0x0000_8067,
            0x0000_0097,
            0xffc0_80e7,
            0x0000_006f,
        ];
        let funcs = discover_code(&code);
        let starts: Vec<Vec<u64>> = funcs
            .iter()
            .map(|f| f.blocks.iter().map(|b| b.start).collect())
            .collect();
        assert_eq!(
            starts,
            [vec![0x10078, 0x1008c, 0x10094], vec![0x10088]],
            "{funcs:#?}"
        );
    }

    #[test]
    fn functions_whose_address_is_taken_are_found() {
        // 0x10078: auipc a0, 0
        // 0x1007c: addi a0, a0, 12       (a0 = 0x10084: a callback's address)
        // 0x10080: jal x0, 0             (spins; nothing calls 0x10084 directly)
        // 0x10084: addi a0, a0, 1        (the callback)
        // 0x10088: jalr x0, 0(ra)
        let code = [
            0x0000_0517,
            0x00c5_0513,
            0x0000_006f,
            0x0015_0513,
            0x0000_8067,
        ];
        let funcs = discover_code(&code);
        let starts: Vec<u64> = funcs.iter().map(|f| f.blocks[0].start).collect();
        assert_eq!(starts, [0x10078, 0x10084], "{funcs:#?}");
    }
}
