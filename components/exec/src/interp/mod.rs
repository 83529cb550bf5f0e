//! The interpreter: runs a hart over its address space's decoded blocks.
//!
//! `run` looks up (or decodes) the block at pc and `exec_block` executes it with one big
//! `match` over `Op`, with no wildcard arm, so every instruction in `isa.rs` must be
//! handled here; in two tiers (`run_blocks`): a fast one that calls no function, and the
//! full one for what the fast one leaves to it. The fast tier also runs superinstructions
//! (`Op::pair`: two adjacent instructions in one arm). Simple integer semantics are
//! written inline; the families with rules of their own live in submodules (`muldiv`,
//! `float` over `softfloat`, `csr`, `bitmanip`).
//! No pc is kept while a block runs (see `exec_block`); pc and instret are written back
//! per block, or at a stop.

mod bitmanip;
pub(crate) mod csr;
mod float;
mod muldiv;

use crate::block::{Block, CodeCache};
use crate::isa::{Op, for_each_pair};
use crate::machine::{Space, SpaceId, StopReason, Syscall};
use crate::memory::Memory;
use crate::softfloat::{F32, F64};
use csr::CsrOp;
use muldiv::sext32;

/// A hardware thread: the architectural state plus the LR/SC reservation.
///
/// `repr(C)` with the register files first, because generated code (rv2wasm) addresses
/// them by offset: x at 0, f at 2048, pc at 4096, instret at 4104.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Hart {
    /// x0..x31, then `block::SINK` (x32), where writes to x0 go, and room so that any
    /// `u8` index is in bounds (no mask or check per access). x0 is never written.
    pub x: [u64; 256],
    /// f0..f31, with room for any `u8` index (as `x`).
    pub f: [u64; 256],
    pub pc: u64,
    pub instret: u64,
    pub fflags: u8,
    pub frm: u8,
    /// Address reserved by the last lr, if any.
    pub reservation: Option<u64>,
    pub space: SpaceId,
    /// What translated code and exec share while it runs (`aot::abi`).
    pub aot: crate::aot::HartAot,
}

impl Hart {
    pub fn new(space: SpaceId) -> Hart {
        Hart {
            x: [0; 256],
            f: [0; 256],
            pc: 0,
            instret: 0,
            fflags: 0,
            frm: 0,
            reservation: None,
            space,
            aot: crate::aot::HartAot::default(),
        }
    }

    /// fcsr: fflags in bits 4:0, frm in 7:5.
    pub fn fcsr(&self) -> u32 {
        (self.frm as u32) << 5 | self.fflags as u32
    }

    pub fn set_fcsr(&mut self, v: u32) {
        self.fflags = (v & 0x1f) as u8;
        self.frm = ((v >> 5) & 7) as u8;
    }
}

/// How a block ended.
enum Exit {
    /// Continue at `h.pc`, through the block's fall-through (0) or taken (1) exit.
    Next(usize),
    /// A fence.i retired: flush the decode cache, then continue.
    FenceI,
    Stop(StopReason),
    /// Only from the fast tier: instruction `cur.pos` of block `cur.idx` needs the full
    /// interpreter (see `run_blocks`); `h.pc` is its pc, those before it retired.
    Slow,
}

/// Runs `h` for at most `budget` instructions.
pub fn run(h: &mut Hart, space: &mut Space, budget: u64) -> StopReason {
    // Like Linux on every return to user space, drop any dangling LR reservation: another
    // hart may have run since.
    h.reservation = None;
    match run_blocks(h, space, budget, false) {
        RunEnd::Stop(reason) => reason,
        RunEnd::Translated => unreachable!("no translated code was asked for"),
    }
}

/// How `run_blocks` ended.
pub(crate) enum RunEnd {
    Stop(StopReason),
    /// The block at `h.pc` has translated code (`Block::aot`), which `aot::run` runs.
    Translated,
}

/// Where the interpreter is: instruction `pos` of block `idx`; the slice ends when
/// `h.instret` reaches `limit`.
pub(crate) struct Cursor {
    idx: u32,
    pos: usize,
    limit: u64,
    /// Whether to stop in front of a block with translated code (`RunEnd::Translated`).
    translated: bool,
}

/// The interpreter loop: runs blocks for at most `budget` instructions; with
/// `translated`, returns when the next block has translated code.
///
/// Two tiers. `run_fast` runs blocks along their links with `exec_block::<true>`, which
/// handles the common instructions (integer, branches, loads and stores that hit the TLB,
/// floating point on its native fast path) and calls no function at all; everything else
/// leaves it (`Exit::Slow`), and this loop runs that one instruction with the whole
/// interpreter (`exec_block::<false>`: TLB misses, CSRs, atomics, softfloat, fence.i), or
/// looks up a block the links do not know, then goes back in. The split exists for
/// Cranelift (docs/PERFORMANCE.md, "Two tiers"): compiled from Wasm, one loop whose cold
/// paths make calls kept the interpreter's state (the instruction pointer, the hart, the
/// block) in stack slots and reloaded it at every guest instruction.
pub(crate) fn run_blocks(h: &mut Hart, space: &mut Space, budget: u64, translated: bool) -> RunEnd {
    let mem = &mut space.mem;
    let code = &mut space.code;
    mem.catch_up();
    code.sync(mem);
    let idx = match code.lookup(mem, h.pc) {
        Ok(i) => i,
        Err(f) => return RunEnd::Stop(StopReason::Fault(f)),
    };
    let mut cur = Cursor {
        idx,
        pos: 0,
        limit: h.instret.wrapping_add(budget),
        translated,
    };
    loop {
        let left = cur.limit.wrapping_sub(h.instret);
        if left == 0 {
            return RunEnd::Stop(StopReason::BudgetExhausted);
        }
        let block = code.block(cur.idx);
        let len = block.count();
        // The fast tier runs whole blocks; the last, partial one of a slice, and an
        // instruction it cannot run, are run here one at a time.
        let slow = if (len - cur.pos) as u64 > left {
            true
        } else {
            match run_fast(h, mem, code, block, &mut cur) {
                Exit::Stop(reason) => return RunEnd::Stop(reason),
                Exit::Slow => true,
                Exit::Next(exit) => match follow(h, mem, code, &mut cur, exit) {
                    Ok(Some(())) => false,
                    Ok(None) => return RunEnd::Translated,
                    Err(f) => return RunEnd::Stop(StopReason::Fault(f)),
                },
                Exit::FenceI => unreachable!("fence.i runs in the full interpreter"),
            }
        };
        if !slow {
            continue;
        }
        let block = code.block(cur.idx);
        let last = cur.pos + 1 == block.count();
        let exit = exec_block::<false>(h, mem, code, block, cur.pos, cur.pos + 1, &mut cur);
        let exit = match exit {
            Exit::Next(exit) => exit,
            Exit::FenceI => {
                code.flush();
                2
            }
            Exit::Stop(reason) => return RunEnd::Stop(reason),
            Exit::Slow => unreachable!("the full interpreter runs everything"),
        };
        let exit = if !last && exit <= 1 {
            if !mem.code_dirty() {
                cur.pos += 1;
                continue;
            }
            // A store into code (maybe this block's): go on with the code as it is now,
            // from a block starting at the next instruction.
            exit | 2
        } else {
            exit
        };
        match follow(h, mem, code, &mut cur, exit) {
            Ok(Some(())) => {}
            Ok(None) => return RunEnd::Translated,
            Err(f) => return RunEnd::Stop(StopReason::Fault(f)),
        }
    }
}

/// Moves `cur` to the block at `h.pc`, which block `cur.idx` left through `exit` (0:
/// fall-through, 1: taken; 2 and up: no link, the block may be gone), and says whether
/// to go on: `None` when that block has translated code to stop in front of.
fn follow(
    h: &Hart,
    mem: &mut Memory,
    code: &mut CodeCache,
    cur: &mut Cursor,
    exit: usize,
) -> Result<Option<()>, crate::machine::Fault> {
    let next = if exit > 1 || mem.code_dirty() {
        code.sync(mem);
        code.lookup(mem, h.pc)
    } else {
        code.next(mem, cur.idx, exit, h.pc)
    };
    cur.idx = next?;
    cur.pos = 0;
    Ok((!(cur.translated && code.block(cur.idx).aot != crate::aot::NO_AOT)).then_some(()))
}

/// The fast tier: `exec_block::<true>` from `cur`, which runs blocks along their links
/// until an instruction needs the full interpreter, a link is missing, the next block
/// does not fit in the slice or has translated code, or a stop. A function of its own
/// that calls nothing, so that Cranelift allocates registers for its loop alone.
#[inline(never)]
fn run_fast(
    h: &mut Hart,
    mem: &mut Memory,
    code: &CodeCache,
    block: &Block,
    cur: &mut Cursor,
) -> Exit {
    exec_block::<true>(h, mem, code, block, cur.pos, block.count(), cur)
}

/// How `exec_one` ended.
pub(crate) enum OneEnd {
    /// Retired; `h.pc` is the next instruction's.
    Next,
    /// A fence.i retired.
    FenceI,
    /// Not retired.
    Stop(StopReason),
}

/// Runs the single instruction `inst` at `h.pc` with the interpreter's own code: what
/// translated code calls for the instructions it does not expand inline (`aot` helpers),
/// so both backends share one definition of them.
pub(crate) fn exec_one(h: &mut Hart, mem: &mut Memory, inst: crate::isa::Inst) -> OneEnd {
    /// A block of one instruction, and what `exec_block` wants besides (the slow tier
    /// does not use them).
    struct Scratch {
        block: Block,
        code: CodeCache,
        cur: Cursor,
    }
    thread_local! {
        static SCRATCH: core::cell::RefCell<Scratch> = core::cell::RefCell::new(Scratch {
            block: Block {
                start: 0,
                insts: vec![crate::isa::Inst::illegal(0, 4), crate::block::END],
                offsets: vec![0, 4],
                links: [crate::block::NO_LINK; 2],
                aot: crate::aot::NO_AOT,
                aot_base: 0,
            },
            code: CodeCache::default(),
            cur: Cursor {
                idx: 0,
                pos: 0,
                limit: 0,
                translated: false,
            },
        });
    }
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        let b = &mut s.block;
        b.start = h.pc;
        b.insts[0] = inst;
        b.offsets[1] = inst.len as u16;
        match exec_block::<false>(h, mem, &s.code, b, 0, 1, &mut s.cur) {
            Exit::Next(_) => OneEnd::Next,
            Exit::FenceI => OneEnd::FenceI,
            Exit::Stop(reason) => OneEnd::Stop(reason),
            Exit::Slow => unreachable!("the full interpreter runs everything"),
        }
    })
}

/// Runs instructions `from..count` of `block` (`h.pc` is not read: pcs come from the
/// block's start and offsets).
///
/// No pc or instruction index is kept per instruction: the few that need their pc (auipc,
/// the stops) derive it from the block's offsets and the instruction pointer, and control
/// transfers, which always end a block (`Inst::ends_block`), are the last instruction, so
/// their pc is the block's end less their length.
///
/// `FAST` is the fast tier (`run_fast`): the same semantics, but whatever would call a
/// function (a TLB miss, a CSR, an atomic, softfloat, fence.i) leaves with `Exit::Slow`
/// before doing anything, for the full interpreter (`FAST = false`) to run; it runs each
/// block up to its `END` (ignoring `count`), and at the block's end goes on into the
/// block it is linked to when that fits in the slice (`cur.limit`) and has no translated
/// code to stop for, else returns `Exit::Next`. Whenever it returns, `cur.idx` is the block
/// it was in. The slow tier (`count` = `from + 1`) leaves `cur` alone.
#[inline(always)]
fn exec_block<const FAST: bool>(
    h: &mut Hart,
    mem: &mut Memory,
    code: &CodeCache,
    block: &Block,
    from: usize,
    count: usize,
    cur: &mut Cursor,
) -> Exit {
    // Few values live across the loop (the instruction pointer, the block, the hart), so
    // that Cranelift can keep them in registers: pcs and indices are derived from the
    // block where an instruction needs one, and a control transfer leaves from its arm.
    let mut block = block;
    debug_assert!(from < count && count <= block.count());
    // The instructions this call runs in the block, counted back from its end: instret
    // is settled per block, so it is lowered by the ones before `from` here and raised by
    // the block's index at a stop or its count at the end.
    h.instret = h.instret.wrapping_sub(from as u64);
    // SAFETY (of the pointer arithmetic and reads): `from < count <= block.count()`, and
    // the fast tier, which does not compare with `count`, stops at `END`, which is last.
    let mut p = unsafe { block.insts.as_ptr().add(from) };
    macro_rules! count {
        () => {
            if FAST { block.count() } else { count }
        };
    }
    // Where the block ends (the fall-through pc).
    macro_rules! end {
        () => {
            block.start.wrapping_add(block.offset(count!()))
        };
    }
    // Leaves the block for `$next`: in the fast tier, into the next block if it can.
    macro_rules! done {
        ($next:expr) => {{
            let next: u64 = $next;
            h.pc = next;
            h.instret = h.instret.wrapping_add(count!() as u64);
            let exit = (next != end!()) as usize;
            if FAST {
                match code.get(block.links[exit]) {
                    Some(b)
                        if b.start == next
                            && cur.limit.wrapping_sub(h.instret) >= b.count() as u64
                            && (b.aot == crate::aot::NO_AOT || !cur.translated) =>
                    {
                        block = b;
                        p = b.insts.as_ptr();
                        continue;
                    }
                    _ => {}
                }
                cur.idx = code.index_of(block);
            }
            return Exit::Next(exit);
        }};
    }
    loop {
        if !FAST && p == unsafe { block.insts.as_ptr().add(count) } {
            break;
        }
        // `i` is `p`, advanced after the `match`: one pointer live in the arms, not two.
        #[allow(unused_assignments)]
        let mut i = unsafe { &*p };
        // This instruction's index in the block, for the cold paths that need it.
        macro_rules! n {
            () => {
                (unsafe { p.offset_from(block.insts.as_ptr()) }) as usize
            };
        }
        // An integer destination (x0 is `SINK`, see block.rs). Register indices are `u8`s
        // into 256-entry files, so indexing needs neither a mask nor a bounds check. (It
        // was a volatile read on wasm32 before superinstructions, against LLVM hoisting it
        // in front of the `match`; with the pairs the plain read gives Cranelift 1-3% fewer
        // instructions: docs/PERFORMANCE.md, "Superinstructions".)
        macro_rules! rd {
            () => {
                i.rd as usize
            };
        }
        macro_rules! pc {
            () => {
                block.start.wrapping_add(block.offset(n!()))
            };
        }
        // The pc of a control transfer, the block's last instruction.
        macro_rules! last_pc {
            () => {{
                debug_assert_eq!(n!() + 1, block.count(), "a control transfer ends its block");
                end!().wrapping_sub(i.len as u64)
            }};
        }
        // Operands are read only by the arms that use them: computing them all up front for
        // every instruction cost more than most instructions themselves.
        macro_rules! a {
            () => {
                h.x[i.rs1 as usize]
            };
        }
        macro_rules! b {
            () => {
                h.x[i.rs2 as usize]
            };
        }
        macro_rules! imm {
            () => {
                i.imm as i64 as u64
            };
        }
        macro_rules! addr {
            () => {
                a!().wrapping_add(imm!())
            };
        }
        macro_rules! shamt {
            () => {
                (i.imm & 63) as u64
            };
        }

        // Leaves with this instruction not executed.
        macro_rules! stop {
            ($reason:expr) => {{
                h.pc = pc!();
                h.instret = h.instret.wrapping_add(n!() as u64);
                if FAST {
                    cur.idx = code.index_of(block);
                }
                return Exit::Stop($reason);
            }};
        }
        // Leaves the fast tier with this instruction not executed (`Exit::Slow`).
        macro_rules! slow {
            () => {{
                h.pc = pc!();
                h.instret = h.instret.wrapping_add(n!() as u64);
                cur.idx = code.index_of(block);
                cur.pos = n!();
                return Exit::Slow;
            }};
        }
        // The full interpreter's `$e`; in the fast tier, `slow!()`.
        macro_rules! full {
            ($e:expr) => {
                if FAST { slow!() } else { $e }
            };
        }
        macro_rules! try_mem {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(f) => stop!(StopReason::Fault(f)),
                }
            };
        }
        macro_rules! load {
            ($t:ty) => {
                <$t>::from_le_bytes(if FAST {
                    match mem.load_hit(addr!()) {
                        Some(v) => v,
                        None => slow!(),
                    }
                } else {
                    try_mem!(mem.load(addr!()))
                })
            };
        }
        macro_rules! store {
            ($v:expr) => {
                if FAST {
                    if !mem.store_hit(addr!(), $v.to_le_bytes()) {
                        slow!()
                    }
                } else {
                    try_mem!(mem.store(addr!(), $v.to_le_bytes()))
                }
            };
        }
        macro_rules! fp {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    // The fast tier leaves an illegal rounding mode to the full one too.
                    Err(_) if FAST => slow!(),
                    Err(bits) => stop!(StopReason::IllegalInstruction(bits)),
                }
            };
        }
        macro_rules! csr {
            ($op:expr, $src:expr, $write:expr) => {{
                let retired = h.instret.wrapping_add(n!() as u64);
                match csr::access(h, (i.imm as u32) >> 20, $op, $src, $write, retired) {
                    Ok(old) => h.x[rd!()] = old,
                    Err(()) => stop!(StopReason::IllegalInstruction(i.imm as u32)),
                }
            }};
        }
        // Atomic read-modify-write of a word or doubleword; rd gets the old value.
        macro_rules! amo_w {
            (|$old:ident| $new:expr) => {{
                try_mem!(mem.check_rmw(a!(), 4));
                let $old = u32::from_le_bytes(try_mem!(mem.load(a!())));
                let new: u32 = $new;
                try_mem!(mem.store(a!(), new.to_le_bytes()));
                h.x[rd!()] = sext32($old);
            }};
        }
        macro_rules! amo_d {
            (|$old:ident| $new:expr) => {{
                try_mem!(mem.check_rmw(a!(), 8));
                let $old = u64::from_le_bytes(try_mem!(mem.load(a!())));
                let new: u64 = $new;
                try_mem!(mem.store(a!(), new.to_le_bytes()));
                h.x[rd!()] = $old;
            }};
        }
        macro_rules! branch {
            ($cond:expr) => {
                done!(if $cond {
                    last_pc!().wrapping_add(imm!())
                } else {
                    end!()
                })
            };
        }
        // The instructions superinstructions are made of (`Op::pair`, build.rs), run as
        // instruction `i`: written once here, for their own arms and for the pairs'.
        macro_rules! run {
            (Lui) => {
                h.x[rd!()] = imm!()
            };
            (Lw) => {
                h.x[rd!()] = load!(i32) as i64 as u64
            };
            (Ld) => {
                h.x[rd!()] = load!(u64)
            };
            (Lbu) => {
                h.x[rd!()] = load!(u8) as u64
            };
            (Sw) => {
                store!(b!() as u32)
            };
            (Sd) => {
                store!(b!())
            };
            (Addi) => {
                h.x[rd!()] = a!().wrapping_add(imm!())
            };
            (Andi) => {
                h.x[rd!()] = a!() & imm!()
            };
            (Slli) => {
                h.x[rd!()] = a!() << shamt!()
            };
            (Srli) => {
                h.x[rd!()] = a!() >> shamt!()
            };
            (Add) => {
                h.x[rd!()] = a!().wrapping_add(b!())
            };
            (Sub) => {
                h.x[rd!()] = a!().wrapping_sub(b!())
            };
            (Xor) => {
                h.x[rd!()] = a!() ^ b!()
            };
            (Or) => {
                h.x[rd!()] = a!() | b!()
            };
            (And) => {
                h.x[rd!()] = a!() & b!()
            };
            (Addiw) => {
                h.x[rd!()] = sext32(a!().wrapping_add(imm!()) as u32)
            };
            (Slliw) => {
                h.x[rd!()] = sext32((a!() as u32) << shamt!())
            };
            (Srliw) => {
                h.x[rd!()] = sext32((a!() as u32) >> shamt!())
            };
            (Addw) => {
                h.x[rd!()] = sext32(a!().wrapping_add(b!()) as u32)
            };
            (Fld) => {
                h.f[i.rd as usize] = load!(u64)
            };
            (Fsd) => {
                store!(h.f[i.rs2 as usize])
            };
            (FaddD) => {
                fp!(float::add::<F64, FAST>(h, i, false))
            };
            (FsubD) => {
                fp!(float::add::<F64, FAST>(h, i, true))
            };
            (FmulD) => {
                fp!(float::mul::<F64, FAST>(h, i))
            };
        }
        // The `match`, written inside a macro because its superinstruction arms come from
        // the generated list (`for_each_pair!`, below).
        macro_rules! dispatch {
            ($($pair:ident $first:ident $second:ident;)*) => {
                match i.op {
                    // Superinstructions: the second of the two is in the next slot (a slow
                    // exit there leaves with the first retired).
                    $(Op::$pair => {
                        run!($first);
                        if FAST {
                            p = unsafe { p.add(1) };
                            i = unsafe { &*p };
                            run!($second);
                        }
                    })*
                    // RV64I.
                    Op::Lui => run!(Lui),
                    Op::Auipc => h.x[rd!()] = pc!().wrapping_add(imm!()),
                    Op::Jal => {
                        let next = last_pc!().wrapping_add(imm!());
                        h.x[rd!()] = end!();
                        done!(next)
                    }
                    Op::Jalr => {
                        // Read rs1 before writing rd: they may be the same register.
                        let next = addr!() & !1;
                        h.x[rd!()] = end!();
                        if FAST {
                            // An indirect jump's link knows its last target only: ask the
                            // front cache for the others before leaving the fast tier.
                            let left = cur.limit.wrapping_sub(h.instret.wrapping_add(block.count() as u64));
                            match code.front_get(next) {
                                Some(b)
                                    if b.start == next
                                        && left >= b.count() as u64
                                        && (b.aot == crate::aot::NO_AOT || !cur.translated) =>
                                {
                                    h.pc = next;
                                    h.instret = h.instret.wrapping_add(block.count() as u64);
                                    block = b;
                                    p = b.insts.as_ptr();
                                    continue;
                                }
                                _ => {}
                            }
                        }
                        done!(next)
                    }
                    Op::Beq => branch!(a!() == b!()),
                    Op::Bne => branch!(a!() != b!()),
                    Op::Blt => branch!((a!() as i64) < (b!() as i64)),
                    Op::Bge => branch!((a!() as i64) >= (b!() as i64)),
                    Op::Bltu => branch!(a!() < b!()),
                    Op::Bgeu => branch!(a!() >= b!()),
                    Op::Lb => h.x[rd!()] = load!(i8) as i64 as u64,
                    Op::Lh => h.x[rd!()] = load!(i16) as i64 as u64,
                    Op::Lw => run!(Lw),
                    Op::Ld => run!(Ld),
                    Op::Lbu => run!(Lbu),
                    Op::Lhu => h.x[rd!()] = load!(u16) as u64,
                    Op::Lwu => h.x[rd!()] = load!(u32) as u64,
                    Op::Sb => store!(b!() as u8),
                    Op::Sh => store!(b!() as u16),
                    Op::Sw => run!(Sw),
                    Op::Sd => run!(Sd),
                    Op::Addi => run!(Addi),
                    Op::Slti => h.x[rd!()] = ((a!() as i64) < (imm!() as i64)) as u64,
                    Op::Sltiu => h.x[rd!()] = (a!() < imm!()) as u64,
                    Op::Xori => h.x[rd!()] = a!() ^ imm!(),
                    Op::Ori => h.x[rd!()] = a!() | imm!(),
                    Op::Andi => run!(Andi),
                    Op::Slli => run!(Slli),
                    Op::Srli => run!(Srli),
                    Op::Srai => h.x[rd!()] = ((a!() as i64) >> shamt!()) as u64,
                    Op::Add => run!(Add),
                    Op::Sub => run!(Sub),
                    Op::Sll => h.x[rd!()] = a!() << (b!() & 63),
                    Op::Slt => h.x[rd!()] = ((a!() as i64) < (b!() as i64)) as u64,
                    Op::Sltu => h.x[rd!()] = (a!() < b!()) as u64,
                    Op::Xor => run!(Xor),
                    Op::Srl => h.x[rd!()] = a!() >> (b!() & 63),
                    Op::Sra => h.x[rd!()] = ((a!() as i64) >> (b!() & 63)) as u64,
                    Op::Or => run!(Or),
                    Op::And => run!(And),
                    Op::Addiw => run!(Addiw),
                    Op::Slliw => run!(Slliw),
                    Op::Srliw => run!(Srliw),
                    Op::Sraiw => h.x[rd!()] = ((a!() as i32) >> shamt!()) as i64 as u64,
                    Op::Addw => run!(Addw),
                    Op::Subw => h.x[rd!()] = sext32(a!().wrapping_sub(b!()) as u32),
                    Op::Sllw => h.x[rd!()] = sext32((a!() as u32) << (b!() & 31)),
                    Op::Srlw => h.x[rd!()] = sext32((a!() as u32) >> (b!() & 31)),
                    Op::Sraw => h.x[rd!()] = ((a!() as i32) >> (b!() & 31)) as i64 as u64,
                    // One hart runs at a time and memory is never reordered: fences are no-ops.
                    Op::Fence => {}
                    Op::Ecall => {
                        h.pc = pc!().wrapping_add(i.len as u64);
                        h.instret = h.instret.wrapping_add(n!() as u64 + 1);
                        if FAST {
                            cur.idx = code.index_of(block);
                        }
                        let x = &h.x;
                        let args = [x[10], x[11], x[12], x[13], x[14], x[15]];
                        return Exit::Stop(StopReason::Ecall(Syscall { nr: x[17], args }));
                    }
                    Op::Ebreak => stop!(StopReason::Breakpoint),
                    Op::FenceI => {
                        if FAST {
                            slow!()
                        }
                        h.pc = pc!().wrapping_add(i.len as u64);
                        h.instret = h.instret.wrapping_add(n!() as u64 + 1);
                        return Exit::FenceI;
                    }
                    // Zicsr: csrrs/csrrc with rs1 = x0 (or a zero uimm) do not write (unpriv 7.1).
                    Op::Csrrw => full!(csr!(CsrOp::Write, a!(), true)),
                    Op::Csrrs => full!(csr!(CsrOp::Set, a!(), i.rs1 != 0)),
                    Op::Csrrc => full!(csr!(CsrOp::Clear, a!(), i.rs1 != 0)),
                    Op::Csrrwi => full!(csr!(CsrOp::Write, i.rs1 as u64, true)),
                    Op::Csrrsi => full!(csr!(CsrOp::Set, i.rs1 as u64, i.rs1 != 0)),
                    Op::Csrrci => full!(csr!(CsrOp::Clear, i.rs1 as u64, i.rs1 != 0)),
                    // M.
                    Op::Mul => h.x[rd!()] = a!().wrapping_mul(b!()),
                    Op::Mulh => h.x[rd!()] = muldiv::mulh(a!(), b!()),
                    Op::Mulhsu => h.x[rd!()] = muldiv::mulhsu(a!(), b!()),
                    Op::Mulhu => h.x[rd!()] = muldiv::mulhu(a!(), b!()),
                    Op::Div => h.x[rd!()] = muldiv::div(a!(), b!()),
                    Op::Divu => h.x[rd!()] = muldiv::divu(a!(), b!()),
                    Op::Rem => h.x[rd!()] = muldiv::rem(a!(), b!()),
                    Op::Remu => h.x[rd!()] = muldiv::remu(a!(), b!()),
                    Op::Mulw => h.x[rd!()] = sext32(a!().wrapping_mul(b!()) as u32),
                    Op::Divw => h.x[rd!()] = muldiv::divw(a!(), b!()),
                    Op::Divuw => h.x[rd!()] = muldiv::divuw(a!(), b!()),
                    Op::Remw => h.x[rd!()] = muldiv::remw(a!(), b!()),
                    Op::Remuw => h.x[rd!()] = muldiv::remuw(a!(), b!()),
                    // A. Misaligned atomics are performed rather than trapped.
                    Op::LrW => {
                        if FAST {
                            slow!()
                        }
                        let a = a!();
                        h.x[rd!()] = u32::from_le_bytes(try_mem!(mem.load(a))) as i32 as i64 as u64;
                        h.reservation = Some(a);
                    }
                    Op::LrD => {
                        if FAST {
                            slow!()
                        }
                        let a = a!();
                        h.x[rd!()] = u64::from_le_bytes(try_mem!(mem.load(a)));
                        h.reservation = Some(a);
                    }
                    Op::ScW => {
                        if FAST {
                            slow!()
                        }
                        if h.reservation == Some(a!()) {
                            try_mem!(mem.store(a!(), (b!() as u32).to_le_bytes()));
                            h.x[rd!()] = 0;
                        } else {
                            h.x[rd!()] = 1;
                        }
                        h.reservation = None;
                    }
                    Op::ScD => {
                        if FAST {
                            slow!()
                        }
                        if h.reservation == Some(a!()) {
                            try_mem!(mem.store(a!(), b!().to_le_bytes()));
                            h.x[rd!()] = 0;
                        } else {
                            h.x[rd!()] = 1;
                        }
                        h.reservation = None;
                    }
                    Op::AmoswapW => full!(amo_w!(|_old| b!() as u32)),
                    Op::AmoaddW => full!(amo_w!(|old| old.wrapping_add(b!() as u32))),
                    Op::AmoxorW => full!(amo_w!(|old| old ^ b!() as u32)),
                    Op::AmoandW => full!(amo_w!(|old| old & b!() as u32)),
                    Op::AmoorW => full!(amo_w!(|old| old | b!() as u32)),
                    Op::AmominW => full!(amo_w!(|old| (old as i32).min(b!() as i32) as u32)),
                    Op::AmomaxW => full!(amo_w!(|old| (old as i32).max(b!() as i32) as u32)),
                    Op::AmominuW => full!(amo_w!(|old| old.min(b!() as u32))),
                    Op::AmomaxuW => full!(amo_w!(|old| old.max(b!() as u32))),
                    Op::AmoswapD => full!(amo_d!(|_old| b!())),
                    Op::AmoaddD => full!(amo_d!(|old| old.wrapping_add(b!()))),
                    Op::AmoxorD => full!(amo_d!(|old| old ^ b!())),
                    Op::AmoandD => full!(amo_d!(|old| old & b!())),
                    Op::AmoorD => full!(amo_d!(|old| old | b!())),
                    Op::AmominD => full!(amo_d!(|old| (old as i64).min(b!() as i64) as u64)),
                    Op::AmomaxD => full!(amo_d!(|old| (old as i64).max(b!() as i64) as u64)),
                    Op::AmominuD => full!(amo_d!(|old| old.min(b!()))),
                    Op::AmomaxuD => full!(amo_d!(|old| old.max(b!()))),
                    // F. Loads NaN-box; stores take the low bits as they are (unpriv 20.5).
                    Op::Flw => h.f[i.rd as usize] = load!(u32) as u64 | 0xffff_ffff_0000_0000,
                    Op::Fsw => store!(h.f[i.rs2 as usize] as u32),
                    Op::FmaddS => fp!(float::fma::<F32, FAST>(h, i, false, false)),
                    Op::FmsubS => fp!(float::fma::<F32, FAST>(h, i, false, true)),
                    Op::FnmsubS => fp!(float::fma::<F32, FAST>(h, i, true, false)),
                    Op::FnmaddS => fp!(float::fma::<F32, FAST>(h, i, true, true)),
                    Op::FaddS => fp!(float::add::<F32, FAST>(h, i, false)),
                    Op::FsubS => fp!(float::add::<F32, FAST>(h, i, true)),
                    Op::FmulS => fp!(float::mul::<F32, FAST>(h, i)),
                    Op::FdivS => fp!(float::div::<F32, FAST>(h, i)),
                    Op::FsqrtS => fp!(float::sqrt::<F32, FAST>(h, i)),
                    Op::FsgnjS => float::sgnj::<F32>(h, i, 0),
                    Op::FsgnjnS => float::sgnj::<F32>(h, i, 1),
                    Op::FsgnjxS => float::sgnj::<F32>(h, i, 2),
                    Op::FminS => full!(float::min_max::<F32>(h, i, false)),
                    Op::FmaxS => full!(float::min_max::<F32>(h, i, true)),
                    Op::FcvtWS => full!(h.x[rd!()] = fp!(float::to_int::<F32>(h, i, true, 32))),
                    Op::FcvtWuS => full!(h.x[rd!()] = fp!(float::to_int::<F32>(h, i, false, 32))),
                    Op::FcvtLS => full!(h.x[rd!()] = fp!(float::to_int::<F32>(h, i, true, 64))),
                    Op::FcvtLuS => full!(h.x[rd!()] = fp!(float::to_int::<F32>(h, i, false, 64))),
                    Op::FmvXW => h.x[rd!()] = sext32(h.f[i.rs1 as usize] as u32),
                    Op::FclassS => full!(h.x[rd!()] = float::class::<F32>(h, i)),
                    Op::FeqS => full!(h.x[rd!()] = float::compare::<F32>(h, i, 0)),
                    Op::FltS => full!(h.x[rd!()] = float::compare::<F32>(h, i, 1)),
                    Op::FleS => full!(h.x[rd!()] = float::compare::<F32>(h, i, 2)),
                    Op::FcvtSW => full!(fp!(float::from_int::<F32>(h, i, a!(), true, 32))),
                    Op::FcvtSWu => full!(fp!(float::from_int::<F32>(h, i, a!(), false, 32))),
                    Op::FcvtSL => full!(fp!(float::from_int::<F32>(h, i, a!(), true, 64))),
                    Op::FcvtSLu => full!(fp!(float::from_int::<F32>(h, i, a!(), false, 64))),
                    Op::FmvWX => h.f[i.rd as usize] = a!() | 0xffff_ffff_0000_0000,
                    // D.
                    Op::Fld => run!(Fld),
                    Op::Fsd => run!(Fsd),
                    Op::FmaddD => fp!(float::fma::<F64, FAST>(h, i, false, false)),
                    Op::FmsubD => fp!(float::fma::<F64, FAST>(h, i, false, true)),
                    Op::FnmsubD => fp!(float::fma::<F64, FAST>(h, i, true, false)),
                    Op::FnmaddD => fp!(float::fma::<F64, FAST>(h, i, true, true)),
                    Op::FaddD => run!(FaddD),
                    Op::FsubD => run!(FsubD),
                    Op::FmulD => run!(FmulD),
                    Op::FdivD => fp!(float::div::<F64, FAST>(h, i)),
                    Op::FsqrtD => fp!(float::sqrt::<F64, FAST>(h, i)),
                    Op::FsgnjD => float::sgnj::<F64>(h, i, 0),
                    Op::FsgnjnD => float::sgnj::<F64>(h, i, 1),
                    Op::FsgnjxD => float::sgnj::<F64>(h, i, 2),
                    Op::FminD => full!(float::min_max::<F64>(h, i, false)),
                    Op::FmaxD => full!(float::min_max::<F64>(h, i, true)),
                    Op::FcvtSD => full!(fp!(float::convert::<F64, F32>(h, i))),
                    Op::FcvtDS => full!(fp!(float::convert::<F32, F64>(h, i))),
                    Op::FeqD => full!(h.x[rd!()] = float::compare::<F64>(h, i, 0)),
                    Op::FltD => full!(h.x[rd!()] = float::compare::<F64>(h, i, 1)),
                    Op::FleD => full!(h.x[rd!()] = float::compare::<F64>(h, i, 2)),
                    Op::FclassD => full!(h.x[rd!()] = float::class::<F64>(h, i)),
                    Op::FcvtWD => full!(h.x[rd!()] = fp!(float::to_int::<F64>(h, i, true, 32))),
                    Op::FcvtWuD => full!(h.x[rd!()] = fp!(float::to_int::<F64>(h, i, false, 32))),
                    Op::FcvtLD => full!(h.x[rd!()] = fp!(float::to_int::<F64>(h, i, true, 64))),
                    Op::FcvtLuD => full!(h.x[rd!()] = fp!(float::to_int::<F64>(h, i, false, 64))),
                    Op::FcvtDW => full!(fp!(float::from_int::<F64>(h, i, a!(), true, 32))),
                    Op::FcvtDWu => full!(fp!(float::from_int::<F64>(h, i, a!(), false, 32))),
                    Op::FcvtDL => full!(fp!(float::from_int::<F64>(h, i, a!(), true, 64))),
                    Op::FcvtDLu => full!(fp!(float::from_int::<F64>(h, i, a!(), false, 64))),
                    Op::FmvXD => h.x[rd!()] = h.f[i.rs1 as usize],
                    Op::FmvDX => h.f[i.rd as usize] = a!(),
                    // Zba.
                    Op::AddUw => h.x[rd!()] = b!().wrapping_add(a!() as u32 as u64),
                    Op::Sh1add => h.x[rd!()] = b!().wrapping_add(a!() << 1),
                    Op::Sh2add => h.x[rd!()] = b!().wrapping_add(a!() << 2),
                    Op::Sh3add => h.x[rd!()] = b!().wrapping_add(a!() << 3),
                    Op::Sh1addUw => h.x[rd!()] = b!().wrapping_add((a!() as u32 as u64) << 1),
                    Op::Sh2addUw => h.x[rd!()] = b!().wrapping_add((a!() as u32 as u64) << 2),
                    Op::Sh3addUw => h.x[rd!()] = b!().wrapping_add((a!() as u32 as u64) << 3),
                    Op::SlliUw => h.x[rd!()] = (a!() as u32 as u64) << shamt!(),
                    // Zbb.
                    Op::Andn => h.x[rd!()] = a!() & !b!(),
                    Op::Orn => h.x[rd!()] = a!() | !b!(),
                    Op::Xnor => h.x[rd!()] = !(a!() ^ b!()),
                    Op::Clz => h.x[rd!()] = a!().leading_zeros() as u64,
                    Op::Clzw => h.x[rd!()] = (a!() as u32).leading_zeros() as u64,
                    Op::Ctz => h.x[rd!()] = a!().trailing_zeros() as u64,
                    Op::Ctzw => h.x[rd!()] = (a!() as u32).trailing_zeros() as u64,
                    Op::Cpop => h.x[rd!()] = a!().count_ones() as u64,
                    Op::Cpopw => h.x[rd!()] = (a!() as u32).count_ones() as u64,
                    Op::Max => h.x[rd!()] = (a!() as i64).max(b!() as i64) as u64,
                    Op::Maxu => h.x[rd!()] = a!().max(b!()),
                    Op::Min => h.x[rd!()] = (a!() as i64).min(b!() as i64) as u64,
                    Op::Minu => h.x[rd!()] = a!().min(b!()),
                    Op::SextB => h.x[rd!()] = a!() as i8 as i64 as u64,
                    Op::SextH => h.x[rd!()] = a!() as i16 as i64 as u64,
                    Op::ZextH => h.x[rd!()] = a!() as u16 as u64,
                    Op::Rol => h.x[rd!()] = a!().rotate_left((b!() & 63) as u32),
                    Op::Rolw => h.x[rd!()] = bitmanip::rolw(a!(), b!()),
                    Op::Ror => h.x[rd!()] = a!().rotate_right((b!() & 63) as u32),
                    Op::Rorw => h.x[rd!()] = bitmanip::rorw(a!(), b!()),
                    Op::Rori => h.x[rd!()] = a!().rotate_right(shamt!() as u32),
                    Op::Roriw => h.x[rd!()] = bitmanip::rorw(a!(), shamt!()),
                    Op::OrcB => h.x[rd!()] = bitmanip::orc_b(a!()),
                    Op::Rev8 => h.x[rd!()] = a!().swap_bytes(),
                    // Zbs.
                    Op::Bclr => h.x[rd!()] = a!() & !(1 << (b!() & 63)),
                    Op::Bclri => h.x[rd!()] = a!() & !(1 << shamt!()),
                    Op::Bext => h.x[rd!()] = (a!() >> (b!() & 63)) & 1,
                    Op::Bexti => h.x[rd!()] = (a!() >> shamt!()) & 1,
                    Op::Binv => h.x[rd!()] = a!() ^ (1 << (b!() & 63)),
                    Op::Binvi => h.x[rd!()] = a!() ^ (1 << shamt!()),
                    Op::Bset => h.x[rd!()] = a!() | (1 << (b!() & 63)),
                    Op::Bseti => h.x[rd!()] = a!() | (1 << shamt!()),
                    // `END`, after the block's last instruction (the fast tier does not count).
                    Op::Illegal if FAST && i.len == 0 => done!(end!()),
                    Op::Illegal => stop!(StopReason::IllegalInstruction(i.imm as u32)),
                }
            };
        }
        for_each_pair!(dispatch);
        p = unsafe { p.add(1) };
    }
    // Only the slow tier gets here (the fast one leaves at `END`).
    h.pc = end!();
    h.instret = h.instret.wrapping_add(count as u64);
    Exit::Next(0)
}
