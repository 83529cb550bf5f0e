//! The interpreter: runs a hart over its address space's decoded blocks.
//!
//! `run` looks up (or decodes) the block at pc and `exec_block` executes it with one big
//! `match` over `Op`, with no wildcard arm, so every instruction in `isa.rs` must be
//! handled here. Simple integer semantics are written inline; the families with rules of
//! their own live in submodules (`muldiv`, `float` over `softfloat`, `csr`, `bitmanip`).
//! No pc is kept while a block runs (see `exec_block`); pc and instret are written back
//! per block, or at a stop.

mod bitmanip;
pub(crate) mod csr;
mod float;
mod muldiv;

use crate::block::Block;
use crate::isa::Op;
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

/// The interpreter loop: runs blocks for at most `budget` instructions; with
/// `translated`, returns when the next block has translated code.
pub(crate) fn run_blocks(h: &mut Hart, space: &mut Space, budget: u64, translated: bool) -> RunEnd {
    let mem = &mut space.mem;
    let code = &mut space.code;
    mem.catch_up();
    code.sync(mem);
    let mut idx = match code.lookup(mem, h.pc) {
        Ok(i) => i,
        Err(f) => return RunEnd::Stop(StopReason::Fault(f)),
    };
    let mut left = budget;
    loop {
        let block = code.block(idx);
        let count = block.insts.len();
        if count as u64 > left {
            // The last, partial block of this slice.
            // (fence.i ends its block, so a partial block never runs one.)
            return RunEnd::Stop(match exec_block(h, mem, block, left as usize) {
                Exit::Stop(reason) => reason,
                Exit::Next(_) | Exit::FenceI => StopReason::BudgetExhausted,
            });
        }
        let exit = match exec_block(h, mem, block, count) {
            Exit::Next(exit) => exit,
            Exit::FenceI => {
                code.flush();
                2
            }
            Exit::Stop(reason) => return RunEnd::Stop(reason),
        };
        left -= count as u64;
        if left == 0 {
            return RunEnd::Stop(StopReason::BudgetExhausted);
        }
        let next = if exit > 1 || mem.code_dirty() {
            // The block may be gone (a store into its page, fence.i): no links.
            code.sync(mem);
            code.lookup(mem, h.pc)
        } else {
            code.next(mem, idx, exit, h.pc)
        };
        idx = match next {
            Ok(i) => i,
            Err(f) => return RunEnd::Stop(StopReason::Fault(f)),
        };
        if translated && code.block(idx).aot != crate::aot::NO_AOT {
            return RunEnd::Translated;
        }
    }
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
    thread_local! {
        static SCRATCH: core::cell::RefCell<Block> = core::cell::RefCell::new(Block {
            start: 0,
            insts: vec![crate::isa::Inst::illegal(0, 4)],
            offsets: vec![0, 4],
            links: [crate::block::NO_LINK; 2],
            aot: crate::aot::NO_AOT,
            aot_base: 0,
        });
    }
    SCRATCH.with(|b| {
        let mut b = b.borrow_mut();
        b.start = h.pc;
        b.insts[0] = inst;
        b.offsets[1] = inst.len as u16;
        match exec_block(h, mem, &b, 1) {
            Exit::Next(_) => OneEnd::Next,
            Exit::FenceI => OneEnd::FenceI,
            Exit::Stop(reason) => OneEnd::Stop(reason),
        }
    })
}

/// Runs the first `count` instructions of `block`, which starts at `h.pc`.
///
/// No pc or instruction index is kept per instruction: the few that need their pc (auipc,
/// the stops) derive it from the block's offsets and the iterator's position, and control
/// transfers, which always end a block (`Inst::ends_block`), are the last instruction, so
/// their pc is the block's end less their length.
#[inline(always)]
fn exec_block(h: &mut Hart, mem: &mut Memory, block: &Block, count: usize) -> Exit {
    let start = h.pc;
    let insts = &block.insts[..count];
    let offsets = &block.offsets;
    // Where execution continues unless a control transfer says otherwise.
    let end = start.wrapping_add(offsets[count] as u64);
    let mut next = end;
    let mut it = insts.iter();
    while let Some(i) = it.next() {
        // An integer destination (x0 is `SINK`, see block.rs). Register indices are `u8`s
        // into 256-entry files, so indexing needs neither a mask nor a bounds check.
        let rd = i.rd as usize;
        // This instruction's index in the block, and its pc.
        macro_rules! n {
            () => {
                insts.len() - it.len() - 1
            };
        }
        macro_rules! pc {
            () => {
                start.wrapping_add(offsets[n!()] as u64)
            };
        }
        // The pc of a control transfer, the block's last instruction.
        macro_rules! last_pc {
            () => {{
                debug_assert_eq!(it.len(), 0, "a control transfer ends its block");
                end.wrapping_sub(i.len as u64)
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
                h.instret += n!() as u64;
                return Exit::Stop($reason);
            }};
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
                <$t>::from_le_bytes(try_mem!(mem.load(addr!())))
            };
        }
        macro_rules! store {
            ($v:expr) => {
                try_mem!(mem.store(addr!(), $v.to_le_bytes()))
            };
        }
        macro_rules! fp {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(bits) => stop!(StopReason::IllegalInstruction(bits)),
                }
            };
        }
        macro_rules! csr {
            ($op:expr, $src:expr, $write:expr) => {{
                let retired = h.instret + n!() as u64;
                match csr::access(h, (i.imm as u32) >> 20, $op, $src, $write, retired) {
                    Ok(old) => h.x[rd] = old,
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
                h.x[rd] = sext32($old);
            }};
        }
        macro_rules! amo_d {
            (|$old:ident| $new:expr) => {{
                try_mem!(mem.check_rmw(a!(), 8));
                let $old = u64::from_le_bytes(try_mem!(mem.load(a!())));
                let new: u64 = $new;
                try_mem!(mem.store(a!(), new.to_le_bytes()));
                h.x[rd] = $old;
            }};
        }
        macro_rules! branch {
            ($cond:expr) => {
                if $cond {
                    next = last_pc!().wrapping_add(imm!());
                }
            };
        }
        match i.op {
            // RV64I.
            Op::Lui => h.x[rd] = imm!(),
            Op::Auipc => h.x[rd] = pc!().wrapping_add(imm!()),
            Op::Jal => {
                next = last_pc!().wrapping_add(imm!());
                h.x[rd] = end;
            }
            Op::Jalr => {
                // Read rs1 before writing rd: they may be the same register.
                next = addr!() & !1;
                h.x[rd] = end;
            }
            Op::Beq => branch!(a!() == b!()),
            Op::Bne => branch!(a!() != b!()),
            Op::Blt => branch!((a!() as i64) < (b!() as i64)),
            Op::Bge => branch!((a!() as i64) >= (b!() as i64)),
            Op::Bltu => branch!(a!() < b!()),
            Op::Bgeu => branch!(a!() >= b!()),
            Op::Lb => h.x[rd] = load!(i8) as i64 as u64,
            Op::Lh => h.x[rd] = load!(i16) as i64 as u64,
            Op::Lw => h.x[rd] = load!(i32) as i64 as u64,
            Op::Ld => h.x[rd] = load!(u64),
            Op::Lbu => h.x[rd] = load!(u8) as u64,
            Op::Lhu => h.x[rd] = load!(u16) as u64,
            Op::Lwu => h.x[rd] = load!(u32) as u64,
            Op::Sb => store!(b!() as u8),
            Op::Sh => store!(b!() as u16),
            Op::Sw => store!(b!() as u32),
            Op::Sd => store!(b!()),
            Op::Addi => h.x[rd] = a!().wrapping_add(imm!()),
            Op::Slti => h.x[rd] = ((a!() as i64) < (imm!() as i64)) as u64,
            Op::Sltiu => h.x[rd] = (a!() < imm!()) as u64,
            Op::Xori => h.x[rd] = a!() ^ imm!(),
            Op::Ori => h.x[rd] = a!() | imm!(),
            Op::Andi => h.x[rd] = a!() & imm!(),
            Op::Slli => h.x[rd] = a!() << shamt!(),
            Op::Srli => h.x[rd] = a!() >> shamt!(),
            Op::Srai => h.x[rd] = ((a!() as i64) >> shamt!()) as u64,
            Op::Add => h.x[rd] = a!().wrapping_add(b!()),
            Op::Sub => h.x[rd] = a!().wrapping_sub(b!()),
            Op::Sll => h.x[rd] = a!() << (b!() & 63),
            Op::Slt => h.x[rd] = ((a!() as i64) < (b!() as i64)) as u64,
            Op::Sltu => h.x[rd] = (a!() < b!()) as u64,
            Op::Xor => h.x[rd] = a!() ^ b!(),
            Op::Srl => h.x[rd] = a!() >> (b!() & 63),
            Op::Sra => h.x[rd] = ((a!() as i64) >> (b!() & 63)) as u64,
            Op::Or => h.x[rd] = a!() | b!(),
            Op::And => h.x[rd] = a!() & b!(),
            Op::Addiw => h.x[rd] = sext32(a!().wrapping_add(imm!()) as u32),
            Op::Slliw => h.x[rd] = sext32((a!() as u32) << shamt!()),
            Op::Srliw => h.x[rd] = sext32((a!() as u32) >> shamt!()),
            Op::Sraiw => h.x[rd] = ((a!() as i32) >> shamt!()) as i64 as u64,
            Op::Addw => h.x[rd] = sext32(a!().wrapping_add(b!()) as u32),
            Op::Subw => h.x[rd] = sext32(a!().wrapping_sub(b!()) as u32),
            Op::Sllw => h.x[rd] = sext32((a!() as u32) << (b!() & 31)),
            Op::Srlw => h.x[rd] = sext32((a!() as u32) >> (b!() & 31)),
            Op::Sraw => h.x[rd] = ((a!() as i32) >> (b!() & 31)) as i64 as u64,
            // One hart runs at a time and memory is never reordered: fences are no-ops.
            Op::Fence => {}
            Op::Ecall => {
                h.pc = pc!().wrapping_add(i.len as u64);
                h.instret += n!() as u64 + 1;
                let x = &h.x;
                let args = [x[10], x[11], x[12], x[13], x[14], x[15]];
                return Exit::Stop(StopReason::Ecall(Syscall { nr: x[17], args }));
            }
            Op::Ebreak => stop!(StopReason::Breakpoint),
            Op::FenceI => {
                h.pc = pc!().wrapping_add(i.len as u64);
                h.instret += n!() as u64 + 1;
                return Exit::FenceI;
            }
            // Zicsr: csrrs/csrrc with rs1 = x0 (or a zero uimm) do not write (unpriv 7.1).
            Op::Csrrw => csr!(CsrOp::Write, a!(), true),
            Op::Csrrs => csr!(CsrOp::Set, a!(), i.rs1 != 0),
            Op::Csrrc => csr!(CsrOp::Clear, a!(), i.rs1 != 0),
            Op::Csrrwi => csr!(CsrOp::Write, i.rs1 as u64, true),
            Op::Csrrsi => csr!(CsrOp::Set, i.rs1 as u64, i.rs1 != 0),
            Op::Csrrci => csr!(CsrOp::Clear, i.rs1 as u64, i.rs1 != 0),
            // M.
            Op::Mul => h.x[rd] = a!().wrapping_mul(b!()),
            Op::Mulh => h.x[rd] = muldiv::mulh(a!(), b!()),
            Op::Mulhsu => h.x[rd] = muldiv::mulhsu(a!(), b!()),
            Op::Mulhu => h.x[rd] = muldiv::mulhu(a!(), b!()),
            Op::Div => h.x[rd] = muldiv::div(a!(), b!()),
            Op::Divu => h.x[rd] = muldiv::divu(a!(), b!()),
            Op::Rem => h.x[rd] = muldiv::rem(a!(), b!()),
            Op::Remu => h.x[rd] = muldiv::remu(a!(), b!()),
            Op::Mulw => h.x[rd] = sext32(a!().wrapping_mul(b!()) as u32),
            Op::Divw => h.x[rd] = muldiv::divw(a!(), b!()),
            Op::Divuw => h.x[rd] = muldiv::divuw(a!(), b!()),
            Op::Remw => h.x[rd] = muldiv::remw(a!(), b!()),
            Op::Remuw => h.x[rd] = muldiv::remuw(a!(), b!()),
            // A. Misaligned atomics are performed rather than trapped.
            Op::LrW => {
                let a = a!();
                h.x[rd] = u32::from_le_bytes(try_mem!(mem.load(a))) as i32 as i64 as u64;
                h.reservation = Some(a);
            }
            Op::LrD => {
                let a = a!();
                h.x[rd] = u64::from_le_bytes(try_mem!(mem.load(a)));
                h.reservation = Some(a);
            }
            Op::ScW => {
                if h.reservation == Some(a!()) {
                    try_mem!(mem.store(a!(), (b!() as u32).to_le_bytes()));
                    h.x[rd] = 0;
                } else {
                    h.x[rd] = 1;
                }
                h.reservation = None;
            }
            Op::ScD => {
                if h.reservation == Some(a!()) {
                    try_mem!(mem.store(a!(), b!().to_le_bytes()));
                    h.x[rd] = 0;
                } else {
                    h.x[rd] = 1;
                }
                h.reservation = None;
            }
            Op::AmoswapW => amo_w!(|_old| b!() as u32),
            Op::AmoaddW => amo_w!(|old| old.wrapping_add(b!() as u32)),
            Op::AmoxorW => amo_w!(|old| old ^ b!() as u32),
            Op::AmoandW => amo_w!(|old| old & b!() as u32),
            Op::AmoorW => amo_w!(|old| old | b!() as u32),
            Op::AmominW => amo_w!(|old| (old as i32).min(b!() as i32) as u32),
            Op::AmomaxW => amo_w!(|old| (old as i32).max(b!() as i32) as u32),
            Op::AmominuW => amo_w!(|old| old.min(b!() as u32)),
            Op::AmomaxuW => amo_w!(|old| old.max(b!() as u32)),
            Op::AmoswapD => amo_d!(|_old| b!()),
            Op::AmoaddD => amo_d!(|old| old.wrapping_add(b!())),
            Op::AmoxorD => amo_d!(|old| old ^ b!()),
            Op::AmoandD => amo_d!(|old| old & b!()),
            Op::AmoorD => amo_d!(|old| old | b!()),
            Op::AmominD => amo_d!(|old| (old as i64).min(b!() as i64) as u64),
            Op::AmomaxD => amo_d!(|old| (old as i64).max(b!() as i64) as u64),
            Op::AmominuD => amo_d!(|old| old.min(b!())),
            Op::AmomaxuD => amo_d!(|old| old.max(b!())),
            // F. Loads NaN-box; stores take the low bits as they are (unpriv 20.5).
            Op::Flw => h.f[i.rd as usize] = load!(u32) as u64 | 0xffff_ffff_0000_0000,
            Op::Fsw => store!(h.f[i.rs2 as usize] as u32),
            Op::FmaddS => fp!(float::fma::<F32>(h, i, false, false)),
            Op::FmsubS => fp!(float::fma::<F32>(h, i, false, true)),
            Op::FnmsubS => fp!(float::fma::<F32>(h, i, true, false)),
            Op::FnmaddS => fp!(float::fma::<F32>(h, i, true, true)),
            Op::FaddS => fp!(float::add::<F32>(h, i, false)),
            Op::FsubS => fp!(float::add::<F32>(h, i, true)),
            Op::FmulS => fp!(float::mul::<F32>(h, i)),
            Op::FdivS => fp!(float::div::<F32>(h, i)),
            Op::FsqrtS => fp!(float::sqrt::<F32>(h, i)),
            Op::FsgnjS => float::sgnj::<F32>(h, i, 0),
            Op::FsgnjnS => float::sgnj::<F32>(h, i, 1),
            Op::FsgnjxS => float::sgnj::<F32>(h, i, 2),
            Op::FminS => float::min_max::<F32>(h, i, false),
            Op::FmaxS => float::min_max::<F32>(h, i, true),
            Op::FcvtWS => h.x[rd] = fp!(float::to_int::<F32>(h, i, true, 32)),
            Op::FcvtWuS => h.x[rd] = fp!(float::to_int::<F32>(h, i, false, 32)),
            Op::FcvtLS => h.x[rd] = fp!(float::to_int::<F32>(h, i, true, 64)),
            Op::FcvtLuS => h.x[rd] = fp!(float::to_int::<F32>(h, i, false, 64)),
            Op::FmvXW => h.x[rd] = sext32(h.f[i.rs1 as usize] as u32),
            Op::FclassS => h.x[rd] = float::class::<F32>(h, i),
            Op::FeqS => h.x[rd] = float::compare::<F32>(h, i, 0),
            Op::FltS => h.x[rd] = float::compare::<F32>(h, i, 1),
            Op::FleS => h.x[rd] = float::compare::<F32>(h, i, 2),
            Op::FcvtSW => fp!(float::from_int::<F32>(h, i, a!(), true, 32)),
            Op::FcvtSWu => fp!(float::from_int::<F32>(h, i, a!(), false, 32)),
            Op::FcvtSL => fp!(float::from_int::<F32>(h, i, a!(), true, 64)),
            Op::FcvtSLu => fp!(float::from_int::<F32>(h, i, a!(), false, 64)),
            Op::FmvWX => h.f[i.rd as usize] = a!() | 0xffff_ffff_0000_0000,
            // D.
            Op::Fld => h.f[i.rd as usize] = load!(u64),
            Op::Fsd => store!(h.f[i.rs2 as usize]),
            Op::FmaddD => fp!(float::fma::<F64>(h, i, false, false)),
            Op::FmsubD => fp!(float::fma::<F64>(h, i, false, true)),
            Op::FnmsubD => fp!(float::fma::<F64>(h, i, true, false)),
            Op::FnmaddD => fp!(float::fma::<F64>(h, i, true, true)),
            Op::FaddD => fp!(float::add::<F64>(h, i, false)),
            Op::FsubD => fp!(float::add::<F64>(h, i, true)),
            Op::FmulD => fp!(float::mul::<F64>(h, i)),
            Op::FdivD => fp!(float::div::<F64>(h, i)),
            Op::FsqrtD => fp!(float::sqrt::<F64>(h, i)),
            Op::FsgnjD => float::sgnj::<F64>(h, i, 0),
            Op::FsgnjnD => float::sgnj::<F64>(h, i, 1),
            Op::FsgnjxD => float::sgnj::<F64>(h, i, 2),
            Op::FminD => float::min_max::<F64>(h, i, false),
            Op::FmaxD => float::min_max::<F64>(h, i, true),
            Op::FcvtSD => fp!(float::convert::<F64, F32>(h, i)),
            Op::FcvtDS => fp!(float::convert::<F32, F64>(h, i)),
            Op::FeqD => h.x[rd] = float::compare::<F64>(h, i, 0),
            Op::FltD => h.x[rd] = float::compare::<F64>(h, i, 1),
            Op::FleD => h.x[rd] = float::compare::<F64>(h, i, 2),
            Op::FclassD => h.x[rd] = float::class::<F64>(h, i),
            Op::FcvtWD => h.x[rd] = fp!(float::to_int::<F64>(h, i, true, 32)),
            Op::FcvtWuD => h.x[rd] = fp!(float::to_int::<F64>(h, i, false, 32)),
            Op::FcvtLD => h.x[rd] = fp!(float::to_int::<F64>(h, i, true, 64)),
            Op::FcvtLuD => h.x[rd] = fp!(float::to_int::<F64>(h, i, false, 64)),
            Op::FcvtDW => fp!(float::from_int::<F64>(h, i, a!(), true, 32)),
            Op::FcvtDWu => fp!(float::from_int::<F64>(h, i, a!(), false, 32)),
            Op::FcvtDL => fp!(float::from_int::<F64>(h, i, a!(), true, 64)),
            Op::FcvtDLu => fp!(float::from_int::<F64>(h, i, a!(), false, 64)),
            Op::FmvXD => h.x[rd] = h.f[i.rs1 as usize],
            Op::FmvDX => h.f[i.rd as usize] = a!(),
            // Zba.
            Op::AddUw => h.x[rd] = b!().wrapping_add(a!() as u32 as u64),
            Op::Sh1add => h.x[rd] = b!().wrapping_add(a!() << 1),
            Op::Sh2add => h.x[rd] = b!().wrapping_add(a!() << 2),
            Op::Sh3add => h.x[rd] = b!().wrapping_add(a!() << 3),
            Op::Sh1addUw => h.x[rd] = b!().wrapping_add((a!() as u32 as u64) << 1),
            Op::Sh2addUw => h.x[rd] = b!().wrapping_add((a!() as u32 as u64) << 2),
            Op::Sh3addUw => h.x[rd] = b!().wrapping_add((a!() as u32 as u64) << 3),
            Op::SlliUw => h.x[rd] = (a!() as u32 as u64) << shamt!(),
            // Zbb.
            Op::Andn => h.x[rd] = a!() & !b!(),
            Op::Orn => h.x[rd] = a!() | !b!(),
            Op::Xnor => h.x[rd] = !(a!() ^ b!()),
            Op::Clz => h.x[rd] = a!().leading_zeros() as u64,
            Op::Clzw => h.x[rd] = (a!() as u32).leading_zeros() as u64,
            Op::Ctz => h.x[rd] = a!().trailing_zeros() as u64,
            Op::Ctzw => h.x[rd] = (a!() as u32).trailing_zeros() as u64,
            Op::Cpop => h.x[rd] = a!().count_ones() as u64,
            Op::Cpopw => h.x[rd] = (a!() as u32).count_ones() as u64,
            Op::Max => h.x[rd] = (a!() as i64).max(b!() as i64) as u64,
            Op::Maxu => h.x[rd] = a!().max(b!()),
            Op::Min => h.x[rd] = (a!() as i64).min(b!() as i64) as u64,
            Op::Minu => h.x[rd] = a!().min(b!()),
            Op::SextB => h.x[rd] = a!() as i8 as i64 as u64,
            Op::SextH => h.x[rd] = a!() as i16 as i64 as u64,
            Op::ZextH => h.x[rd] = a!() as u16 as u64,
            Op::Rol => h.x[rd] = a!().rotate_left((b!() & 63) as u32),
            Op::Rolw => h.x[rd] = bitmanip::rolw(a!(), b!()),
            Op::Ror => h.x[rd] = a!().rotate_right((b!() & 63) as u32),
            Op::Rorw => h.x[rd] = bitmanip::rorw(a!(), b!()),
            Op::Rori => h.x[rd] = a!().rotate_right(shamt!() as u32),
            Op::Roriw => h.x[rd] = bitmanip::rorw(a!(), shamt!()),
            Op::OrcB => h.x[rd] = bitmanip::orc_b(a!()),
            Op::Rev8 => h.x[rd] = a!().swap_bytes(),
            // Zbs.
            Op::Bclr => h.x[rd] = a!() & !(1 << (b!() & 63)),
            Op::Bclri => h.x[rd] = a!() & !(1 << shamt!()),
            Op::Bext => h.x[rd] = (a!() >> (b!() & 63)) & 1,
            Op::Bexti => h.x[rd] = (a!() >> shamt!()) & 1,
            Op::Binv => h.x[rd] = a!() ^ (1 << (b!() & 63)),
            Op::Binvi => h.x[rd] = a!() ^ (1 << shamt!()),
            Op::Bset => h.x[rd] = a!() | (1 << (b!() & 63)),
            Op::Bseti => h.x[rd] = a!() | (1 << shamt!()),
            Op::Illegal => stop!(StopReason::IllegalInstruction(i.imm as u32)),
        }
    }
    h.pc = next;
    h.instret += count as u64;
    Exit::Next((next != end) as usize)
}
