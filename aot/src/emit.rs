//! One discovered function as one Wasm function (exec's `abi::TRANSLATED_PARAMS`).
//!
//! Guest registers, x and f alike, live in Wasm locals within a chain of blocks (a block
//! and those that continue it, `continues`; f registers as their bits, as the hart holds
//! them, so NaN boxing needs no care): each is loaded from the hart where the chain first
//! needs it and, if written, stored back after its last mention or on the way out, so
//! every chain starts with the hart up to date and no guest register is live across the
//! dispatch. A block that loops on itself keeps its registers in locals around its loop.
//! Control flow is a `loop` around a `br_table` over the function's blocks (block i's
//! code sits after the end of the i-th nested Wasm block, so falling off one block's code
//! runs the next one's: the common fall-through costs nothing). The `entry` parameter
//! picks the first block.
//!
//! Each block takes its instruction count from the budget. Only loop heads, the entry,
//! indirect jumps and returns from calls check it, each for the longest way to the next
//! check (`budget_plan`): when the budget does not cover that, the function leaves with
//! `STOP_BUDGET` before running anything more, so instret stays exact, the budget never
//! goes negative, and exec's interpreter finishes the slice. Stops part-way through a
//! block give back the instructions that did not retire.
//!
//! Loads and stores go through exec's software TLB inline (`memory::tlb`: one compare,
//! one add), and through exec's own slow paths otherwise. Instructions that are rare or
//! have state of their own (floating-point arithmetic off its common fast path, with its
//! flags and rounding modes; atomics and LR/SC; CSRs other than fflags, frm and fcsr;
//! fence.i, mulh*) are run by exec's interpreter one at a time (`abi::EXEC1`), with the
//! registers they read written to the hart first and the one they write read back, so
//! both backends share one definition of them.

use friscy_exec::aot::abi::*;
use friscy_exec::isa::{Format, Op};
use wasm_encoder::{BlockType, Function, Instruction as W, MemArg, ValType};

use crate::discover::{At, Func};

/// Function indices of exec's helpers in the module the code is linked into, and the
/// type of translated functions.
#[derive(Clone, Copy, Debug)]
pub struct Helpers {
    pub load: u32,
    pub store: u32,
    pub exec1: u32,
    pub lookup: u32,
    pub translated_type: u32,
}

/// Where a call to a link-time address goes: the Wasm function index of the translated
/// function with an entry there, and the entry.
pub type Callees<'a> = &'a dyn Fn(u64) -> Option<(u32, u32)>;

// Parameters, then locals.
const HART: u32 = 0;
const ENTRY: u32 = 1;
const BASE: u32 = 2;
const BUDGET: u32 = 3;
/// The estimated stack bytes of the translated frames below this one (`abi::STACK_BUDGET`).
const DEPTH: u32 = 4;
/// x1..x31 are locals 5..=35.
const X0: u32 = 4;
const BLK: u32 = 36;
const TLB: u32 = 37;
const E: u32 = 38;
const A: u32 = 39;
const V: u32 = 40;
const NPC: u32 = 41;
const RET: u32 = 42;
const T: u32 = 43;
/// f0..f31 are locals 44..=75 (their bits, as the hart holds them).
const F0: u32 = 44;

/// Registers are numbered 0..64 in this file: x0..x31, then f0..f31 (`FR + n`), so one
/// `u64` mask says which of either may differ from the hart's copy.
const FR: u8 = 32;

/// The register `i` writes, in that numbering (x0 is not a register).
fn dest(i: &friscy_exec::isa::Inst) -> Option<u8> {
    let f = i.op.format();
    if f.writes_x() && i.rd != 0 {
        Some(i.rd & 31)
    } else if f.writes_f() {
        Some(FR + (i.rd & 31))
    } else {
        None
    }
}

/// The registers `i` reads, in that numbering (x0 left out).
fn sources(i: &friscy_exec::isa::Inst) -> impl Iterator<Item = u8> {
    let f = i.op.format();
    [
        (reads_rs1(f), i.rs1 & 31),
        (reads_rs2(f), i.rs2 & 31),
        (f.reads_f_rs1(), FR + (i.rs1 & 31)),
        (f.reads_f_rs2(), FR + (i.rs2 & 31)),
        (f.reads_f_rs3(), FR + (i.rs3 & 31)),
    ]
    .into_iter()
    .filter(|&(reads, r)| reads && r != 0)
    .map(|(_, r)| r)
}

fn mem(offset: u64) -> MemArg {
    MemArg {
        offset,
        align: 0,
        memory_index: 0,
    }
}

fn reads_rs1(f: Format) -> bool {
    use Format::*;
    matches!(
        f,
        R | R1 | I | Load | Jalr | S | B | Sh6 | Sh5 | Csr | Lr | Amo | FLoad | FStore | FXrm | FX
    )
}

fn reads_rs2(f: Format) -> bool {
    matches!(f, Format::R | Format::S | Format::B | Format::Amo)
}

/// Whether `op` is expanded inline (else exec's interpreter runs it).
fn inline(op: Op) -> bool {
    use Op::*;
    !matches!(
        op,
        Mulh | Mulhsu
            | Mulhu
            | OrcB
            | Rev8
            | Csrrw
            | Csrrs
            | Csrrc
            | Csrrwi
            | Csrrsi
            | Csrrci
            | FenceI
            | LrW
            | LrD
            | ScW
            | ScD
            | AmoswapW
            | AmoaddW
            | AmoxorW
            | AmoandW
            | AmoorW
            | AmominW
            | AmomaxW
            | AmominuW
            | AmomaxuW
            | AmoswapD
            | AmoaddD
            | AmoxorD
            | AmoandD
            | AmoorD
            | AmominD
            | AmomaxD
            | AmominuD
            | AmomaxuD
    ) && !is_fp_compute(op)
}

/// Floating-point instructions other than loads, stores and bit moves.
fn is_fp_compute(op: Op) -> bool {
    use Op::*;
    let f = op.format();
    matches!(
        f,
        Format::R4
            | Format::Frm
            | Format::F
            | Format::Fcmp
            | Format::F1rm
            | Format::XFrm
            | Format::FXrm
    ) || matches!(op, FclassS | FclassD)
}

/// The entry number of a block starting at `start` in a function whose first block
/// starts at `lo`: its halfword index.
pub fn entry_of(lo: u64, start: u64) -> u32 {
    ((start - lo) / 2) as u32
}

/// Whether a block starting with `op` can be entered (the interpreter reports these).
pub fn enterable(op: Op) -> bool {
    !matches!(op, Op::Ebreak | Op::Illegal)
}

struct Emitter<'a> {
    f: Function,
    func: &'a Func,
    h: Helpers,
    callees: Callees<'a>,
    /// Link-time address of the first block (halfword indices count from it) and the
    /// span of the function's code in bytes.
    lo: u64,
    span: u64,
    /// Labels between the current code and the `$bad` block around all blocks' code.
    nest: u32,
    /// Index of the block being emitted.
    cur: usize,
    /// Its instruction count.
    n: u64,
    /// Link-time address minus file offset in the function's segment.
    delta: u64,
    /// Whether the current block's code is wrapped in a Wasm `loop` (it branches to its
    /// own start), whose label is the outermost of `nest`.
    self_loop: bool,
    /// Registers whose local may differ from the hart's copy at this point (bit r): what
    /// every way out of the chain stores. A superset is safe (a register's local holds its
    /// value from its first mention in the chain on: loaded there, or written by an
    /// instruction expanded inline, `block_regs`); along the code it only grows, except
    /// after a call and where a register is stored after its last mention.
    dirty: u64,
    /// The budget checks (`budget_plan`).
    plan: BudgetPlan,
    /// Per block, whether it continues the block before it with its registers in locals
    /// (`continues`): no label of its own to branch to.
    cont: Vec<bool>,
    /// Where the function's own frame estimate goes (`weight`), once its size is known.
    weights: Vec<usize>,
}

impl Emitter<'_> {
    fn i(&mut self, ins: W) {
        self.f.instruction(&ins);
    }
    /// Pushes this function's frame estimate (`abi::frame_estimate` of its body, which is
    /// not known yet: a fixed-width `i32.const` that `emit` fills in at the end).
    fn weight(&mut self) {
        self.f.raw([0x41]);
        self.weights.push(self.f.byte_len());
        self.f.raw([0x80, 0x80, 0x80, 0x80, 0x00]);
    }
    /// The run-time address of link-time address `link`: `base` plus its file offset
    /// (code is translated in file offsets, so PIE and shared libraries work at any
    /// load address).
    fn rt(&mut self, link: u64) {
        self.i(W::LocalGet(BASE));
        self.i(W::I64Const(link.wrapping_sub(self.delta) as i64));
        self.i(W::I64Add);
    }

    fn depth_loop(&self) -> u32 {
        (self.func.blocks.len() - 1 - self.cur) as u32 + 1 + self.nest
    }
    fn depth_exit(&self) -> u32 {
        self.depth_loop() + 1
    }
    fn get(&mut self, r: u8) {
        if r == 0 {
            self.i(W::I64Const(0));
        } else {
            self.i(W::LocalGet(X0 + r as u32));
        }
    }
    fn set(&mut self, r: u8) {
        if r == 0 {
            self.i(W::Drop);
        } else {
            self.i(W::LocalSet(X0 + r as u32));
            self.dirty |= 1 << r;
        }
    }
    /// Pushes the bits of f register `r`.
    fn fget(&mut self, r: u8) {
        self.i(W::LocalGet(F0 + (r & 31) as u32));
    }
    /// Pops the bits of f register `r`.
    fn fset(&mut self, r: u8) {
        self.i(W::LocalSet(F0 + (r & 31) as u32));
        self.dirty |= 1 << (FR + (r & 31));
    }
    /// Stores register `r` (x or f numbering) into the hart.
    fn store_reg(&mut self, r: u8) {
        self.i(W::LocalGet(HART));
        if r < FR {
            self.get(r);
            self.i(W::I64Store(mem((HART_X + 8 * r as u32) as u64)));
        } else {
            self.fget(r);
            self.i(W::I64Store(mem((HART_F + 8 * (r - FR) as u32) as u64)));
        }
    }
    /// Loads register `r` (x or f numbering, not x0) from the hart (the local then equals
    /// the hart's copy: `dirty` is left as it is).
    fn load_reg(&mut self, r: u8) {
        self.i(W::LocalGet(HART));
        if r < FR {
            self.i(W::I64Load(mem((HART_X + 8 * r as u32) as u64)));
            self.i(W::LocalSet(X0 + r as u32));
        } else {
            self.i(W::I64Load(mem((HART_F + 8 * (r - FR) as u32) as u64)));
            self.i(W::LocalSet(F0 + (r - FR) as u32));
        }
    }
    fn open_if(&mut self, bt: BlockType) {
        self.i(W::If(bt));
        self.nest += 1;
    }
    fn else_(&mut self) {
        self.i(W::Else);
    }
    fn end(&mut self) {
        self.i(W::End);
        self.nest -= 1;
    }

    /// Continues at `target`: the block there, or through exec.
    fn goto(&mut self, target: u64) {
        match self.func.block_at(target) {
            // A later block: its code starts where its Wasm block ends, so a `br` to that
            // block's label gets there directly.
            Some(b) if b > self.cur && !self.cont[b] => {
                self.flush();
                self.i(W::Br((b - self.cur - 1) as u32 + self.nest));
            }
            // A loop of one block: straight back to the top of its `loop`.
            Some(b) if b == self.cur && self.self_loop => {
                self.i(W::Br(self.nest - 1));
            }
            Some(b) if enterable(self.func.blocks[b].insts[0].inst.op) && !self.cont[b] => {
                self.flush();
                self.i(W::I32Const(((target - self.lo) / 2) as i32));
                self.i(W::LocalSet(BLK));
                self.i(W::Br(self.depth_loop()));
            }
            _ => {
                self.rt(target);
                self.i(W::LocalSet(NPC));
                match (self.callees)(target) {
                    // Another function's entry: a tail call (`tail`, or a jump between
                    // functions that share code).
                    Some(direct) => self.tail_call(Some(direct)),
                    None => self.leave(0, false),
                }
            }
        }
    }

    /// Continues at the run-time address on the stack: at a block of this function if
    /// there is one there (the dispatch `br_table` sends other halfwords to `$miss`, which
    /// leaves), else through exec.
    /// `ret` is whether the jump is a return (`jr ra` or `jr t0`, the link registers):
    /// those go back to the Wasm caller, which checks it is the return address it waits
    /// for; other jumps out of the function are tail calls (`jr a5` through a function
    /// pointer, a `switch` of calls).
    fn goto_dynamic(&mut self, ret: bool) {
        self.i(W::LocalSet(NPC));
        // Every way on leaves the block: store once, here.
        self.flush();
        let dirty = std::mem::take(&mut self.dirty);
        self.i(W::LocalGet(NPC));
        self.i(W::LocalGet(BASE));
        self.i(W::I64Sub);
        self.i(W::I64Const(self.lo.wrapping_sub(self.delta) as i64));
        self.i(W::I64Sub);
        self.i(W::LocalTee(A));
        self.i(W::I64Const(self.span as i64));
        self.i(W::I64LtU);
        self.open_if(BlockType::Empty);
        // Any block may be the target: the entry's check.
        self.budget_check(self.plan.any, |_| {});
        self.i(W::LocalGet(A));
        self.i(W::I32WrapI64);
        self.i(W::I32Const(1));
        self.i(W::I32ShrU);
        self.i(W::LocalSet(BLK));
        self.i(W::Br(self.depth_loop()));
        self.end();
        if ret {
            self.leave(0, false);
        } else {
            self.tail_call(None);
        }
        self.dirty = dirty;
    }

    /// A jump (no link register written) to the run-time address in `NPC`, another
    /// function's code (`direct`: its function and entry, if known): the callee replaces
    /// this function's Wasm frame (`return_call`), so it returns straight to this
    /// function's caller, which checks the return address as for any return. Leaving to
    /// exec instead would unwind every translated caller and send each return through
    /// exec's dispatch (13% of CPython's time, whose hot paths end in tail calls).
    fn tail_call(&mut self, direct: Option<(u32, u32)>) {
        self.hand_over();
        self.enter(direct, true);
    }

    /// Stores the registers that may differ from the hart's copy, and `NPC` as the pc.
    fn hand_over(&mut self) {
        self.flush();
        self.i(W::LocalGet(HART));
        self.i(W::LocalGet(NPC));
        self.i(W::I64Store(mem(HART_PC as u64)));
    }

    /// Enters the translation at the hart's pc, `NPC`: straight to `direct` (a function of
    /// this file and its entry) unless a registered page was written (then exec decides
    /// whether its translation still holds), else through exec's lookup; with no
    /// translation there, returns to this function's caller (exec goes on at the pc).
    /// `tail`: `return_call`s at this depth; else calls one level deeper and leaves the
    /// callee's result on the stack.
    fn enter(&mut self, direct: Option<(u32, u32)>, tail: bool) {
        // A callee's frame sits on top of this one; a tail callee's replaces it.
        let depth = |e: &mut Self| {
            e.i(W::LocalGet(DEPTH));
            if !tail {
                e.weight();
                e.i(W::I32Add);
            }
        };
        if let Some((func, entry)) = direct {
            self.i(W::LocalGet(HART));
            self.i(W::I32Load(mem(HART_AOT_DIRECT as u64)));
            self.open_if(if tail {
                BlockType::Empty
            } else {
                BlockType::Result(ValType::I64)
            });
            self.i(W::LocalGet(HART));
            self.i(W::I32Const(entry as i32));
            self.i(W::LocalGet(BASE));
            self.i(W::LocalGet(BUDGET));
            depth(self);
            if tail {
                self.i(W::ReturnCall(func));
                self.end();
            } else {
                self.i(W::Call(func));
                self.else_();
            }
        }
        self.i(W::LocalGet(HART));
        self.i(W::LocalGet(NPC));
        self.i(W::Call(self.h.lookup));
        self.i(W::LocalTee(A));
        self.i(W::I64Const(-1));
        self.i(W::I64Eq);
        self.open_if(BlockType::Empty);
        self.i(W::LocalGet(BUDGET));
        self.i(W::Return);
        self.end();
        self.i(W::LocalGet(HART));
        self.i(W::LocalGet(A));
        self.i(W::I32WrapI64);
        self.i(W::LocalGet(HART));
        self.i(W::I64Load(mem(HART_AOT_ARG as u64)));
        self.i(W::LocalGet(BUDGET));
        depth(self);
        self.i(W::LocalGet(A));
        self.i(W::I64Const(32));
        self.i(W::I64ShrU);
        self.i(W::I32WrapI64);
        let (type_index, table_index) = (self.h.translated_type, 0);
        self.i(if tail {
            W::ReturnCallIndirect {
                type_index,
                table_index,
            }
        } else {
            W::CallIndirect {
                type_index,
                table_index,
            }
        });
        if direct.is_some() && !tail {
            self.end();
        }
    }

    /// Stores the registers that may differ from the hart's copy (`dirty`) into the hart,
    /// as every way out of a block does: blocks begin with the hart up to date.
    fn flush(&mut self) {
        for r in 1..64u8 {
            if self.dirty & 1 << r != 0 {
                self.store_reg(r);
            }
        }
    }

    /// Loads the registers in `mask` from the hart.
    fn load_regs(&mut self, mask: u64) {
        for r in 1..64u8 {
            if mask & 1 << r != 0 {
                self.load_reg(r);
            }
        }
    }

    /// A call (the link register already set) to the run-time address in `NPC`, whose
    /// link-time address is `target` if known, returning to `ret`. The callee runs as a
    /// nested Wasm call with the hart up to date; when it comes back to `ret`, this
    /// function goes on (the next block loads what it needs); anything else (a stop, a longjmp, the
    /// depth limit, code without a translation) returns to the caller with the hart as it
    /// is, so exec (or a translated caller) continues there. A call ends its block, so
    /// nothing is loaded again after it.
    fn call(&mut self, target: Option<u64>, ret: u64) {
        self.hand_over();
        let direct = target.and_then(|t| (self.callees)(t));
        self.enter(direct, false);
        self.i(W::LocalTee(T));
        self.i(W::I64Const(0));
        self.i(W::I64LtS);
        self.open_if(BlockType::Empty);
        self.i(W::LocalGet(T));
        self.i(W::Return);
        self.end();
        self.i(W::LocalGet(T));
        self.i(W::LocalSet(BUDGET));
        self.i(W::LocalGet(HART));
        self.i(W::I64Load(mem(HART_PC as u64)));
        self.rt(ret);
        self.i(W::I64Ne);
        self.open_if(BlockType::Empty);
        self.i(W::LocalGet(T));
        self.i(W::Return);
        self.end();
        self.dirty = 0;
        // The callee used budget: cover the way on from the return address, unless a
        // check is there anyway.
        if let Some(k) = self.func.block_at(ret)
            && !self.plan.check[k]
        {
            self.budget_check(self.plan.need[k], |e| e.rt(ret));
        }
    }

    /// Stops with `STOP_BUDGET` at the pc `pc` pushes (into `NPC`; nothing pushed: `NPC`
    /// already holds it) when the budget is below `need`. Nothing of the current block
    /// has been taken from the budget yet.
    fn budget_check(&mut self, need: u64, pc: impl FnOnce(&mut Self)) {
        self.i(W::LocalGet(BUDGET));
        self.i(W::I64Const(need as i64));
        self.i(W::I64LtS);
        self.open_if(BlockType::Empty);
        self.set_stop(STOP_BUDGET);
        let before = self.f.byte_len();
        pc(self);
        if self.f.byte_len() != before {
            self.i(W::LocalSet(NPC));
        }
        self.leave(0, true);
        self.end();
    }

    /// Returns with `NPC` as the pc, `adj` instructions of this block given back, as a
    /// stop (hart.aot.stop already set) or not.
    fn leave(&mut self, adj: u64, stop: bool) {
        self.flush();
        self.i(W::LocalGet(BUDGET));
        if adj != 0 {
            self.i(W::I64Const(adj as i64));
            self.i(W::I64Add);
        }
        if stop {
            self.i(W::I64Const(-1));
            self.i(W::I64Xor);
        }
        self.i(W::LocalSet(RET));
        self.i(W::Br(self.depth_exit()));
    }

    /// Stops at `pc` (instruction `k` of the block did not retire) or after it.
    fn stop_at(&mut self, pc: u64, k: u64, retired: bool) {
        self.rt(pc);
        self.i(W::LocalSet(NPC));
        let adj = if retired { self.n - k - 1 } else { self.n - k };
        self.leave(adj, true);
    }

    fn set_stop(&mut self, code: u32) {
        self.i(W::LocalGet(HART));
        self.i(W::I32Const(code as i32));
        self.i(W::I32Store(mem(HART_AOT_STOP as u64)));
    }

    /// Leaves the TLB entry's address for `A` in `E` and whether the access of `size`
    /// bytes hits, on the stack.
    fn tlb_check(&mut self, size: u64, table: u32) {
        self.i(W::LocalGet(A));
        self.i(W::I64Const((!0xfffu64 | (size - 1)) as i64));
        self.i(W::I64And);
        // The entry's offset, ((A >> 12) & (N - 1)) * 16, as (A >> 8) & ((N - 1) << 4):
        // one shift fewer on the way from the address to the data (Cranelift does not
        // fold the two shifts itself).
        self.i(W::LocalGet(TLB));
        self.i(W::LocalGet(A));
        self.i(W::I64Const(12 - TLB_ENTRY_SIZE.trailing_zeros() as i64));
        self.i(W::I64ShrU);
        self.i(W::I32WrapI64);
        self.i(W::I32Const(((TLB_ENTRIES - 1) * TLB_ENTRY_SIZE) as i32));
        self.i(W::I32And);
        self.i(W::I32Add);
        self.i(W::LocalTee(E));
        self.i(W::I64Load(mem(table as u64)));
        self.i(W::I64Eq);
    }

    /// The host address of `A` after a hit.
    fn host(&mut self, table: u32) {
        self.i(W::LocalGet(A));
        self.i(W::I32WrapI64);
        self.i(W::LocalGet(E));
        self.i(W::I32Load(mem((table + TLB_ADDEND) as u64)));
        self.i(W::I32Add);
    }

    /// `A` = x[rs1] + imm.
    fn addr(&mut self, at: &At) {
        self.get(at.inst.rs1);
        if at.inst.imm != 0 {
            self.i(W::I64Const(at.inst.imm as i64));
            self.i(W::I64Add);
        }
        self.i(W::LocalSet(A));
    }

    /// A load of instruction `k`; leaves the value on the stack.
    fn load(&mut self, at: &At, k: u64) {
        let (size, ins): (u64, fn(MemArg) -> W<'static>) = match at.inst.op {
            Op::Lb => (1, W::I64Load8S),
            Op::Lbu => (1, W::I64Load8U),
            Op::Lh => (2, W::I64Load16S),
            Op::Lhu => (2, W::I64Load16U),
            Op::Lw => (4, W::I64Load32S),
            Op::Lwu | Op::Flw => (4, W::I64Load32U),
            _ => (8, W::I64Load),
        };
        self.addr(at);
        self.tlb_check(size, 0);
        self.open_if(BlockType::Result(ValType::I64));
        self.host(0);
        self.i(ins(mem(0)));
        if at.inst.op == Op::Flw {
            self.i(W::I64Const(0xffff_ffff_0000_0000u64 as i64));
            self.i(W::I64Or);
        }
        self.else_();
        self.i(W::LocalGet(HART));
        self.i(W::LocalGet(A));
        self.i(W::I32Const(at.inst.op as i32));
        self.i(W::Call(self.h.load));
        self.i(W::LocalGet(HART));
        self.i(W::I32Load(mem(HART_AOT_STOP as u64)));
        self.open_if(BlockType::Empty);
        self.stop_at(at.pc, k, false);
        self.end();
        self.end();
    }

    /// A store of instruction `k` of the value in `V`.
    fn store(&mut self, at: &At, k: u64) {
        let (size, ins): (u64, fn(MemArg) -> W<'static>) = match at.inst.op {
            Op::Sb => (1, W::I64Store8),
            Op::Sh => (2, W::I64Store16),
            Op::Sw | Op::Fsw => (4, W::I64Store32),
            _ => (8, W::I64Store),
        };
        self.addr(at);
        self.tlb_check(size, TLB_WRITE);
        self.open_if(BlockType::Empty);
        self.host(TLB_WRITE);
        self.i(W::LocalGet(V));
        self.i(ins(mem(0)));
        self.else_();
        self.i(W::LocalGet(HART));
        self.i(W::LocalGet(A));
        self.i(W::LocalGet(V));
        self.i(W::I32Const(at.inst.op as i32));
        self.i(W::Call(self.h.store));
        self.i(W::LocalTee(E));
        self.open_if(BlockType::Empty);
        self.i(W::LocalGet(E));
        self.i(W::I32Const(STATUS_STOP as i32));
        self.i(W::I32Eq);
        self.open_if(BlockType::Empty);
        self.stop_at(at.pc, k, false);
        self.else_();
        self.stop_at(at.pc + at.inst.len as u64, k, true);
        self.end();
        self.end();
        self.end();
    }

    /// Instruction `k` run by exec's interpreter.
    fn exec1(&mut self, at: &At, k: u64) {
        let i = at.inst;
        // The hart must hold the sources and the destination (so that reading it back is
        // right whether or not the instruction retired): the dirty ones are stored, the
        // others are there already.
        let regs: Vec<u8> = sources(&i).chain(dest(&i)).collect();
        for r in regs {
            if self.dirty & 1 << r != 0 {
                self.store_reg(r);
            }
        }
        self.i(W::LocalGet(HART));
        self.i(W::I64Const(pack_inst(&i) as i64));
        self.i(W::I32Const(i.imm));
        self.rt(at.pc);
        self.i(W::LocalGet(BUDGET));
        self.i(W::I64Const((self.n - k) as i64));
        self.i(W::I64Add);
        self.i(W::Call(self.h.exec1));
        self.i(W::LocalSet(E));
        if let Some(r) = dest(&i) {
            self.load_reg(r);
        }
        self.i(W::LocalGet(E));
        self.open_if(BlockType::Empty);
        self.i(W::LocalGet(E));
        self.i(W::I32Const(STATUS_STOP as i32));
        self.i(W::I32Eq);
        self.open_if(BlockType::Empty);
        self.stop_at(at.pc, k, false);
        self.else_();
        self.stop_at(at.pc + i.len as u64, k, true);
        self.end();
        self.end();
    }

    /// Pushes whether the rounding mode of `i` is round-to-nearest-even (its rm field, or
    /// frm when that is dynamic).
    fn rne(&mut self, rm: u8) -> bool {
        match rm {
            0 => {
                self.i(W::I32Const(1));
                true
            }
            7 => {
                self.i(W::LocalGet(HART));
                self.i(W::I32Load8U(mem(HART_FRM as u64)));
                self.i(W::I32Eqz);
                true
            }
            _ => false,
        }
    }

    /// Pushes whether the f64 bits in `local` are a normal number well inside the range
    /// (2^-900 <= |x| < 2^901: exponent field 123..=1923), as the interpreter's `safe`.
    fn safe(&mut self, local: u32) {
        self.i(W::LocalGet(local));
        self.i(W::I64Const(52));
        self.i(W::I64ShrU);
        self.i(W::I64Const(0x7ff));
        self.i(W::I64And);
        self.i(W::I64Const(123));
        self.i(W::I64Sub);
        self.i(W::I64Const(1923 - 123));
        self.i(W::I64LeU);
    }

    fn f64_of(&mut self, local: u32) {
        self.i(W::LocalGet(local));
        self.i(W::F64ReinterpretI64);
    }

    /// fadd.d, fsub.d, fmul.d, fdiv.d, fsqrt.d: the interpreter's native fast path inline
    /// (round to nearest even, the result well inside the normal range), exec's
    /// interpreter for the rest. NX is sticky, so once it is set the result is all there
    /// is to do; before that, fadd/fsub/fmul decide inexactness inline (Knuth's TwoSum, the
    /// significands' bit counts) and fdiv/fsqrt leave it to the interpreter.
    fn fp_arith(&mut self, at: &At, k: u64) {
        let i = at.inst;
        if !self.rne(i.rm) {
            self.exec1(at, k);
            return;
        }
        let unary = i.op == Op::FsqrtD;
        self.fget(i.rs1);
        self.i(W::LocalSet(A));
        if !unary {
            self.fget(i.rs2);
            self.i(W::LocalSet(T));
        }
        self.f64_of(A);
        if !unary {
            self.f64_of(T);
        }
        self.i(match i.op {
            Op::FaddD => W::F64Add,
            Op::FsubD => W::F64Sub,
            Op::FmulD => W::F64Mul,
            Op::FdivD => W::F64Div,
            _ => W::F64Sqrt,
        });
        self.i(W::I64ReinterpretF64);
        self.i(W::LocalSet(V));
        // (rm is RNE) && safe(result): a result well inside the normal range has no
        // overflow, underflow, invalid or divide-by-zero to flag (a NaN, infinite or zero
        // operand would not give one), and IEEE arithmetic rounds it exactly as RISC-V
        // does even from a subnormal operand; so with NX already set (it is sticky) the
        // result is all there is to do, and the operands need no look. Before that,
        // fadd/fsub/fmul decide inexactness inline, which needs finite (add) or normal
        // (mul) operands; fdiv's and fsqrt's is the interpreter's.
        self.safe(V);
        self.i(W::I32And);
        self.open_if(BlockType::Empty);
        self.nx_set();
        self.open_if(BlockType::Empty);
        self.i(W::LocalGet(V));
        self.fset(i.rd);
        self.else_();
        if matches!(i.op, Op::FaddD | Op::FsubD | Op::FmulD) {
            if i.op == Op::FmulD {
                self.safe(A);
                self.safe(T);
                self.i(W::I32And);
            } else {
                for (n, l) in [A, T].into_iter().enumerate() {
                    self.i(W::LocalGet(l));
                    self.i(W::I64Const(0x7ff0_0000_0000_0000));
                    self.i(W::I64And);
                    self.i(W::I64Const(0x7ff0_0000_0000_0000));
                    self.i(W::I64Ne);
                    if n == 1 {
                        self.i(W::I32And);
                    }
                }
            }
            self.open_if(BlockType::Empty);
            self.i(W::LocalGet(V));
            self.fset(i.rd);
            // Pushes whether the result is inexact.
            if i.op == Op::FmulD {
                self.product_inexact();
            } else {
                // TwoSum on s = x + y' (y' = -y for fsub): bb = s - x;
                // err = (x - (s - bb)) + (y' - bb).
                let y = |e: &mut Self| {
                    e.f64_of(T);
                    if i.op == Op::FsubD {
                        e.i(W::F64Neg);
                    }
                };
                self.f64_of(A);
                self.f64_of(V);
                self.f64_of(V);
                self.f64_of(A);
                self.i(W::F64Sub); // bb
                self.i(W::F64Sub); // s - bb
                self.i(W::F64Sub); // x - (s - bb)
                y(self);
                self.f64_of(V);
                self.f64_of(A);
                self.i(W::F64Sub); // bb
                self.i(W::F64Sub); // y' - bb
                self.i(W::F64Add);
                self.i(W::F64Const(0.0.into()));
                self.i(W::F64Ne);
            }
            self.open_if(BlockType::Empty);
            self.or_fflags(1);
            self.end();
            self.else_();
            self.exec1(at, k);
            self.end();
        } else {
            self.exec1(at, k);
        }
        self.end();
        self.else_();
        self.exec1(at, k);
        self.end();
    }

    /// Pushes whether fflags already holds NX (inexact, bit 0).
    fn nx_set(&mut self) {
        self.i(W::LocalGet(HART));
        self.i(W::I32Load8U(mem(HART_FFLAGS as u64)));
        self.i(W::I32Const(1));
        self.i(W::I32And);
    }

    /// Pushes whether the product of the f64 bits in `A` and `T` (both normal) is inexact:
    /// the interpreter's `product_exact` (the odd parts of the significands must multiply
    /// into at most 53 bits).
    fn product_inexact(&mut self) {
        // ma = frac | 1 << 52, shifted right by its trailing zeros; same for mb. Their bit
        // counts sa, sb: inexact if sa + sb > 54; if == 54, if the product needs 54 bits.
        for (src, dst) in [(A, A), (T, T)] {
            self.i(W::LocalGet(src));
            self.i(W::I64Const(0x000f_ffff_ffff_ffff));
            self.i(W::I64And);
            self.i(W::I64Const(1 << 52));
            self.i(W::I64Or);
            self.i(W::LocalTee(dst));
            self.i(W::LocalGet(dst));
            self.i(W::I64Ctz);
            self.i(W::I64ShrU);
            self.i(W::LocalSet(dst));
        }
        // bits(m) = 64 - clz(m).
        self.i(W::I64Const(128));
        self.i(W::LocalGet(A));
        self.i(W::I64Clz);
        self.i(W::I64Sub);
        self.i(W::LocalGet(T));
        self.i(W::I64Clz);
        self.i(W::I64Sub);
        self.i(W::LocalTee(NPC));
        self.i(W::I64Const(54));
        self.i(W::I64GtU);
        self.i(W::LocalGet(NPC));
        self.i(W::I64Const(54));
        self.i(W::I64Eq);
        self.i(W::LocalGet(A));
        self.i(W::LocalGet(T));
        self.i(W::I64Mul);
        self.i(W::I64Const(53));
        self.i(W::I64ShrU);
        self.i(W::I64Const(0));
        self.i(W::I64Ne);
        self.i(W::I32And);
        self.i(W::I32Or);
    }

    fn or_fflags(&mut self, bits: u8) {
        self.i(W::LocalGet(HART));
        self.i(W::LocalGet(HART));
        self.i(W::I32Load8U(mem(HART_FFLAGS as u64)));
        self.i(W::I32Const(bits as i32));
        self.i(W::I32Or);
        self.i(W::I32Store8(mem(HART_FFLAGS as u64)));
    }

    /// feq.d, flt.d, fle.d on two non-NaN operands inline (no flags then), exec's
    /// interpreter when either is a NaN.
    fn fp_compare(&mut self, at: &At, k: u64) {
        let i = at.inst;
        for (r, l) in [(i.rs1, A), (i.rs2, T)] {
            self.fget(r);
            self.i(W::LocalSet(l));
        }
        for (n, l) in [(0, A), (1, T)] {
            self.i(W::LocalGet(l));
            self.i(W::I64Const(i64::MAX));
            self.i(W::I64And);
            self.i(W::I64Const(0x7ff0_0000_0000_0000));
            self.i(W::I64LeU);
            if n == 1 {
                self.i(W::I32And);
            }
        }
        self.open_if(BlockType::Empty);
        self.f64_of(A);
        self.f64_of(T);
        self.i(match i.op {
            Op::FeqD => W::F64Eq,
            Op::FltD => W::F64Lt,
            _ => W::F64Le,
        });
        self.i(W::I64ExtendI32U);
        self.set(i.rd);
        self.else_();
        self.exec1(at, k);
        self.end();
    }

    /// A Zicsr access to fflags, frm or fcsr inline (two bytes of the hart, as
    /// interp/csr.rs); false for other CSRs, which exec's interpreter runs. glibc wraps
    /// every quiet comparison (`isless`, `sqrt`'s domain check) in frflags/fsflags, so
    /// these sit in floating-point inner loops.
    fn fp_csr(&mut self, at: &At) -> bool {
        use Op::*;
        let i = at.inst;
        let csr = (i.imm as u32) >> 20;
        if !(CSR_FFLAGS..=CSR_FCSR).contains(&csr) {
            return false;
        }
        let imm = matches!(i.op, Csrrwi | Csrrsi | Csrrci);
        // csrrs/csrrc with rs1 = x0 (or a zero uimm) do not write (unpriv 7.1).
        let write = matches!(i.op, Csrrw | Csrrwi) || i.rs1 != 0;
        // The source first: rd may be rs1.
        if imm {
            self.i(W::I64Const(i.rs1 as i64));
        } else {
            self.get(i.rs1);
        }
        self.i(W::LocalSet(T));
        let byte = |e: &mut Self, off: u32| {
            e.i(W::LocalGet(HART));
            e.i(W::I64Load8U(mem(off as u64)));
        };
        match csr {
            CSR_FFLAGS => byte(self, HART_FFLAGS),
            CSR_FRM => byte(self, HART_FRM),
            _ => {
                byte(self, HART_FRM);
                self.i(W::I64Const(5));
                self.i(W::I64Shl);
                byte(self, HART_FFLAGS);
                self.i(W::I64Or);
            }
        }
        self.i(W::LocalSet(V));
        if write {
            // A = the new value.
            match i.op {
                Csrrw | Csrrwi => self.i(W::LocalGet(T)),
                Csrrs | Csrrsi => {
                    self.i(W::LocalGet(V));
                    self.i(W::LocalGet(T));
                    self.i(W::I64Or);
                }
                _ => {
                    self.i(W::LocalGet(V));
                    self.i(W::LocalGet(T));
                    self.i(W::I64Const(-1));
                    self.i(W::I64Xor);
                    self.i(W::I64And);
                }
            }
            self.i(W::LocalSet(A));
            let store = |e: &mut Self, off: u32, shift: i64, mask: i64| {
                e.i(W::LocalGet(HART));
                e.i(W::LocalGet(A));
                if shift != 0 {
                    e.i(W::I64Const(shift));
                    e.i(W::I64ShrU);
                }
                e.i(W::I64Const(mask));
                e.i(W::I64And);
                e.i(W::I64Store8(mem(off as u64)));
            };
            match csr {
                CSR_FFLAGS => store(self, HART_FFLAGS, 0, 0x1f),
                CSR_FRM => store(self, HART_FRM, 0, 7),
                _ => {
                    store(self, HART_FFLAGS, 0, 0x1f);
                    store(self, HART_FRM, 5, 7);
                }
            }
        }
        self.i(W::LocalGet(V));
        self.set(i.rd);
        true
    }

    /// rd = op(x[rs1], x[rs2]).
    fn bin(&mut self, at: &At, ops: &[W<'static>]) {
        self.get(at.inst.rs1);
        self.get(at.inst.rs2);
        for o in ops {
            self.i(o.clone());
        }
        self.set(at.inst.rd);
    }

    /// rd = op(x[rs1], imm).
    fn bin_imm(&mut self, at: &At, imm: i64, ops: &[W<'static>]) {
        self.get(at.inst.rs1);
        self.i(W::I64Const(imm));
        for o in ops {
            self.i(o.clone());
        }
        self.set(at.inst.rd);
    }

    /// rd = op(x[rs1]).
    fn un(&mut self, at: &At, ops: &[W<'static>]) {
        self.get(at.inst.rs1);
        for o in ops {
            self.i(o.clone());
        }
        self.set(at.inst.rd);
    }

    /// rd = 32-bit op(x[rs1], x[rs2]) sign-extended.
    fn bin_w(&mut self, at: &At, op: W<'static>) {
        self.get(at.inst.rs1);
        self.i(W::I32WrapI64);
        self.get(at.inst.rs2);
        self.i(W::I32WrapI64);
        self.i(op);
        self.i(W::I64ExtendI32S);
        self.set(at.inst.rd);
    }

    fn bin_w_imm(&mut self, at: &At, imm: i32, op: W<'static>) {
        self.get(at.inst.rs1);
        self.i(W::I32WrapI64);
        self.i(W::I32Const(imm));
        self.i(op);
        self.i(W::I64ExtendI32S);
        self.set(at.inst.rd);
    }

    /// Division and remainder with RISC-V's results for x/0 and MIN/-1 (no traps).
    fn divrem(&mut self, at: &At) {
        let i = at.inst;
        use Op::*;
        // A = dividend, T = divisor, both as the operation sees them in 64 bits.
        let (word, signed) = match i.op {
            Div | Rem => (false, true),
            Divu | Remu => (false, false),
            Divw | Remw => (true, true),
            _ => (true, false),
        };
        for (r, l) in [(i.rs1, A), (i.rs2, T)] {
            self.get(r);
            if word {
                if signed {
                    self.i(W::I64Extend32S);
                } else {
                    self.i(W::I64Const(0xffff_ffff));
                    self.i(W::I64And);
                }
            }
            self.i(W::LocalSet(l));
        }
        let is_div = matches!(i.op, Div | Divu | Divw | Divuw);
        self.i(W::LocalGet(T));
        self.i(W::I64Eqz);
        self.open_if(BlockType::Result(ValType::I64));
        if is_div {
            self.i(W::I64Const(-1));
        } else {
            self.i(W::LocalGet(A));
            if word {
                self.i(W::I64Extend32S);
            }
        }
        self.else_();
        if is_div && signed {
            // MIN / -1 overflows: the result is MIN (the dividend).
            let min = if word { i32::MIN as i64 } else { i64::MIN };
            self.i(W::LocalGet(A));
            self.i(W::I64Const(min));
            self.i(W::I64Eq);
            self.i(W::LocalGet(T));
            self.i(W::I64Const(-1));
            self.i(W::I64Eq);
            self.i(W::I32And);
            self.open_if(BlockType::Result(ValType::I64));
            self.i(W::LocalGet(A));
            self.else_();
            self.i(W::LocalGet(A));
            self.i(W::LocalGet(T));
            self.i(W::I64DivS);
            self.end();
        } else {
            self.i(W::LocalGet(A));
            self.i(W::LocalGet(T));
            self.i(match (is_div, signed) {
                (true, true) => W::I64DivS,
                (true, false) => W::I64DivU,
                (false, true) => W::I64RemS,
                (false, false) => W::I64RemU,
            });
            if word && !signed {
                self.i(W::I64Extend32S);
            }
        }
        self.end();
        self.set(i.rd);
    }

    fn branch(&mut self, at: &At, cmp: W<'static>) {
        self.get(at.inst.rs1);
        self.get(at.inst.rs2);
        self.i(cmp);
        let target = at.pc.wrapping_add(at.inst.imm as i64 as u64);
        self.open_if(BlockType::Empty);
        self.goto(target);
        self.end();
    }

    /// Code that continues at `next` right after the current block: nothing if the next
    /// block's code follows (returns true: the block falls through), else a goto.
    fn fall_or_goto(&mut self, next: u64) -> bool {
        let bi = self.cur;
        if bi + 1 < self.func.blocks.len() && self.func.blocks[bi + 1].start == next {
            return true;
        }
        self.goto(next);
        false
    }

    /// Instruction `k` of the current block. Returns false when it ended the block's
    /// straight-line code (control left).
    fn inst(&mut self, at: &At, k: u64) -> bool {
        let i = at.inst;
        let next = at.pc + i.len as u64;
        let shamt = (i.imm & 63) as i64;
        use Op::*;
        if matches!(i.op, FaddD | FsubD | FmulD | FdivD | FsqrtD) {
            self.fp_arith(at, k);
            return true;
        }
        if matches!(i.op, FeqD | FltD | FleD) {
            self.fp_compare(at, k);
            return true;
        }
        if matches!(i.op, FsgnjD | FsgnjnD | FsgnjxD) {
            // Sign injection: bit operations, no flags, no NaN rules (unpriv 20.6).
            self.fget(i.rs1);
            if i.op == FsgnjxD {
                self.fget(i.rs2);
                self.i(W::I64Const(i64::MIN));
                self.i(W::I64And);
                self.i(W::I64Xor);
            } else {
                self.i(W::I64Const(i64::MAX));
                self.i(W::I64And);
                self.fget(i.rs2);
                if i.op == FsgnjnD {
                    self.i(W::I64Const(-1));
                    self.i(W::I64Xor);
                }
                self.i(W::I64Const(i64::MIN));
                self.i(W::I64And);
                self.i(W::I64Or);
            }
            self.fset(i.rd);
            return true;
        }
        if matches!(i.op, Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci) && self.fp_csr(at) {
            return true;
        }
        if !inline(i.op) {
            self.exec1(at, k);
            return true;
        }
        match i.op {
            Lui => {
                self.i(W::I64Const(i.imm as i64));
                self.set(i.rd);
            }
            Auipc => {
                self.rt(at.pc.wrapping_add(i.imm as i64 as u64));
                self.set(i.rd);
            }
            Jal => {
                let target = at.pc.wrapping_add(i.imm as i64 as u64);
                if i.rd == 0 {
                    self.goto(target);
                    return false;
                }
                self.rt(next);
                self.set(i.rd);
                self.rt(target);
                self.i(W::LocalSet(NPC));
                self.call(Some(target), next);
                // Back at the return address: the next block, or exec.
                return self.fall_or_goto(next);
            }
            Jalr => {
                self.get(i.rs1);
                self.i(W::I64Const(i.imm as i64));
                self.i(W::I64Add);
                self.i(W::I64Const(-2));
                self.i(W::I64And);
                self.i(W::LocalSet(T));
                if i.rd != 0 {
                    self.rt(next);
                    self.set(i.rd);
                    self.i(W::LocalGet(T));
                    self.i(W::LocalSet(NPC));
                    self.call(None, next);
                    return self.fall_or_goto(next);
                }
                self.i(W::LocalGet(T));
                self.goto_dynamic(matches!(i.rs1, 1 | 5));
                return false;
            }
            Beq => self.branch(at, W::I64Eq),
            Bne => self.branch(at, W::I64Ne),
            Blt => self.branch(at, W::I64LtS),
            Bge => self.branch(at, W::I64GeS),
            Bltu => self.branch(at, W::I64LtU),
            Bgeu => self.branch(at, W::I64GeU),
            Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu => {
                self.load(at, k);
                self.set(i.rd);
            }
            Flw | Fld => {
                self.load(at, k);
                self.fset(i.rd);
            }
            Sb | Sh | Sw | Sd => {
                self.get(i.rs2);
                self.i(W::LocalSet(V));
                self.store(at, k);
            }
            Fsw | Fsd => {
                self.fget(i.rs2);
                self.i(W::LocalSet(V));
                self.store(at, k);
            }
            Addi => self.bin_imm(at, i.imm as i64, &[W::I64Add]),
            Slti => self.bin_imm(at, i.imm as i64, &[W::I64LtS, W::I64ExtendI32U]),
            Sltiu => self.bin_imm(at, i.imm as i64, &[W::I64LtU, W::I64ExtendI32U]),
            Xori => self.bin_imm(at, i.imm as i64, &[W::I64Xor]),
            Ori => self.bin_imm(at, i.imm as i64, &[W::I64Or]),
            Andi => self.bin_imm(at, i.imm as i64, &[W::I64And]),
            Slli => self.bin_imm(at, shamt, &[W::I64Shl]),
            Srli => self.bin_imm(at, shamt, &[W::I64ShrU]),
            Srai => self.bin_imm(at, shamt, &[W::I64ShrS]),
            Rori => self.bin_imm(at, shamt, &[W::I64Rotr]),
            Add => self.bin(at, &[W::I64Add]),
            Sub => self.bin(at, &[W::I64Sub]),
            Sll => self.bin(at, &[W::I64Shl]),
            Slt => self.bin(at, &[W::I64LtS, W::I64ExtendI32U]),
            Sltu => self.bin(at, &[W::I64LtU, W::I64ExtendI32U]),
            Xor => self.bin(at, &[W::I64Xor]),
            Srl => self.bin(at, &[W::I64ShrU]),
            Sra => self.bin(at, &[W::I64ShrS]),
            Or => self.bin(at, &[W::I64Or]),
            And => self.bin(at, &[W::I64And]),
            Addiw => self.bin_w_imm(at, i.imm, W::I32Add),
            Slliw => self.bin_w_imm(at, shamt as i32, W::I32Shl),
            Srliw => self.bin_w_imm(at, shamt as i32, W::I32ShrU),
            Sraiw => self.bin_w_imm(at, shamt as i32, W::I32ShrS),
            Roriw => self.bin_w_imm(at, shamt as i32, W::I32Rotr),
            Addw => self.bin_w(at, W::I32Add),
            Subw => self.bin_w(at, W::I32Sub),
            Sllw => self.bin_w(at, W::I32Shl),
            Srlw => self.bin_w(at, W::I32ShrU),
            Sraw => self.bin_w(at, W::I32ShrS),
            Rolw => self.bin_w(at, W::I32Rotl),
            Rorw => self.bin_w(at, W::I32Rotr),
            Mulw => self.bin_w(at, W::I32Mul),
            Mul => self.bin(at, &[W::I64Mul]),
            Div | Divu | Rem | Remu | Divw | Divuw | Remw | Remuw => self.divrem(at),
            // One hart runs at a time and memory is never reordered.
            Fence => {}
            Ecall => {
                self.set_stop(STOP_ECALL);
                self.stop_at(next, k, true);
                return false;
            }
            Ebreak | Illegal => {
                // The interpreter reports it, from a block it decodes itself.
                self.rt(at.pc);
                self.i(W::LocalSet(NPC));
                self.leave(self.n - k, false);
                return false;
            }
            FmvXW => {
                self.fget(i.rs1);
                self.i(W::I32WrapI64);
                self.i(W::I64ExtendI32S);
                self.set(i.rd);
            }
            FmvXD => {
                self.fget(i.rs1);
                self.set(i.rd);
            }
            FmvWX | FmvDX => {
                self.get(i.rs1);
                if i.op == FmvWX {
                    // NaN-boxed (unpriv 20.2).
                    self.i(W::I64Const(0xffff_ffff_0000_0000u64 as i64));
                    self.i(W::I64Or);
                }
                self.fset(i.rd);
            }
            // Zba.
            AddUw | Sh1addUw | Sh2addUw | Sh3addUw => {
                self.get(i.rs2);
                self.get(i.rs1);
                self.i(W::I64Const(0xffff_ffff));
                self.i(W::I64And);
                let sh = match i.op {
                    AddUw => 0,
                    Sh1addUw => 1,
                    Sh2addUw => 2,
                    _ => 3,
                };
                if sh != 0 {
                    self.i(W::I64Const(sh));
                    self.i(W::I64Shl);
                }
                self.i(W::I64Add);
                self.set(i.rd);
            }
            Sh1add | Sh2add | Sh3add => {
                self.get(i.rs2);
                self.get(i.rs1);
                self.i(W::I64Const(match i.op {
                    Sh1add => 1,
                    Sh2add => 2,
                    _ => 3,
                }));
                self.i(W::I64Shl);
                self.i(W::I64Add);
                self.set(i.rd);
            }
            SlliUw => {
                self.get(i.rs1);
                self.i(W::I64Const(0xffff_ffff));
                self.i(W::I64And);
                self.i(W::I64Const(shamt));
                self.i(W::I64Shl);
                self.set(i.rd);
            }
            // Zbb.
            Andn | Orn | Xnor => {
                self.get(i.rs1);
                self.get(i.rs2);
                if i.op == Xnor {
                    self.i(W::I64Xor);
                    self.i(W::I64Const(-1));
                    self.i(W::I64Xor);
                } else {
                    self.i(W::I64Const(-1));
                    self.i(W::I64Xor);
                    self.i(if i.op == Andn { W::I64And } else { W::I64Or });
                }
                self.set(i.rd);
            }
            Clz => self.un(at, &[W::I64Clz]),
            Ctz => self.un(at, &[W::I64Ctz]),
            Cpop => self.un(at, &[W::I64Popcnt]),
            Clzw => self.un(at, &[W::I32WrapI64, W::I32Clz, W::I64ExtendI32U]),
            Ctzw => self.un(at, &[W::I32WrapI64, W::I32Ctz, W::I64ExtendI32U]),
            Cpopw => self.un(at, &[W::I32WrapI64, W::I32Popcnt, W::I64ExtendI32U]),
            Max | Maxu | Min | Minu => {
                self.get(i.rs1);
                self.get(i.rs2);
                self.get(i.rs1);
                self.get(i.rs2);
                self.i(match i.op {
                    Max => W::I64GtS,
                    Maxu => W::I64GtU,
                    Min => W::I64LtS,
                    _ => W::I64LtU,
                });
                self.i(W::Select);
                self.set(i.rd);
            }
            SextB => self.un(at, &[W::I64Extend8S]),
            SextH => self.un(at, &[W::I64Extend16S]),
            ZextH => self.bin_imm(at, 0xffff, &[W::I64And]),
            Rol => self.bin(at, &[W::I64Rotl]),
            Ror => self.bin(at, &[W::I64Rotr]),
            // Zbs.
            Bclr | Binv | Bset => {
                self.get(i.rs1);
                self.i(W::I64Const(1));
                self.get(i.rs2);
                self.i(W::I64Shl);
                match i.op {
                    Bclr => {
                        self.i(W::I64Const(-1));
                        self.i(W::I64Xor);
                        self.i(W::I64And);
                    }
                    Binv => self.i(W::I64Xor),
                    _ => self.i(W::I64Or),
                }
                self.set(i.rd);
            }
            Bclri => self.bin_imm(at, !(1i64 << shamt), &[W::I64And]),
            Binvi => self.bin_imm(at, 1i64 << shamt, &[W::I64Xor]),
            Bseti => self.bin_imm(at, 1i64 << shamt, &[W::I64Or]),
            Bext => self.bin(at, &[W::I64ShrU, W::I64Const(1), W::I64And]),
            Bexti => self.bin_imm(at, shamt, &[W::I64ShrU, W::I64Const(1), W::I64And]),
            _ => unreachable!("{:?} is not expanded inline", i.op),
        }
        true
    }
}

/// How a chain of blocks (one block and those that continue it, `continues`) keeps
/// registers in locals (bit r of each mask: x then f numbering).
struct BlockRegs {
    /// Every register it mentions, and those it writes.
    used: u64,
    written: u64,
    /// Per instruction, counting through the chain: the registers to load before it
    /// (first needed there), and those it mentions last (stored after it if written:
    /// their locals die there).
    first: Vec<u64>,
    last: Vec<u64>,
}

fn block_regs(chain: &[crate::discover::Block]) -> BlockRegs {
    let insts: Vec<&At> = chain.iter().flat_map(|b| &b.insts).collect();
    let n = insts.len();
    let (mut used, mut written) = (0u64, 0u64);
    let mut first = vec![0u64; n];
    let mut last = vec![0u64; n];
    let mut last_at = [usize::MAX; 64];
    for (k, at) in insts.iter().enumerate() {
        let mut need = 0u64;
        for r in sources(&at.inst) {
            need |= 1 << r;
            last_at[r as usize] = k;
        }
        if let Some(r) = dest(&at.inst) {
            // An instruction expanded inline writes its destination last, on the one way
            // on: no way out can see the local before that. Others (exec's interpreter,
            // floating-point fast and slow paths, CSRs) may store it on a way out that
            // did not write it, so it must hold the register's value: loaded first.
            if !inline(at.inst.op) {
                need |= 1 << r;
            }
            last_at[r as usize] = k;
            written |= 1 << r;
        }
        first[k] = need & !used;
        used |= need | dest(&at.inst).map_or(0, |r| 1 << r);
    }
    for (r, &k) in last_at.iter().enumerate() {
        if k != usize::MAX {
            last[k] |= 1 << r;
        }
    }
    BlockRegs {
        used,
        written,
        first,
        last,
    }
}

/// Per block, whether it continues the block before it: that block falls into it by a
/// forward branch's not-taken path or a cut at a leader, and no other way leads here (no
/// branch, jump or call targets it, it checks no budget), so the registers it holds in
/// locals stay there, where each block boundary stored and loaded them (qsort's
/// partition loop: a compare and branch falls into the next step). Such a block is not
/// an entry: the dispatch, exec and other functions cannot start there (its registers
/// would not be loaded), so exec's interpreter runs up to the next entry instead, which
/// only happens after a stop inside it (a page fault, a helper's stop).
fn continues(func: &Func, plan: &BudgetPlan) -> Vec<bool> {
    let blocks = &func.blocks;
    let mut targeted = vec![false; blocks.len()];
    for b in blocks {
        for at in &b.insts {
            let i = at.inst;
            let direct = matches!(
                i.op,
                Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu | Op::Jal
            );
            if direct && let Some(t) = func.block_at(at.pc.wrapping_add(i.imm as i64 as u64)) {
                targeted[t] = true;
            }
        }
    }
    let mut cont = vec![false; blocks.len()];
    for k in 1..blocks.len() {
        let (prev, b) = (&blocks[k - 1], &blocks[k]);
        let last = prev.insts.last().unwrap().inst;
        // A forward branch's not-taken path, or a block cut at a leader. Not a loop's
        // exit (a backward branch not taken): registers the code after the loop needs
        // would stay live through the whole loop body (sha256's rounds: 4.6% more host
        // instructions).
        let falls = match last.op {
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => last.imm > 0,
            Op::Jal | Op::Jalr | Op::Ecall | Op::Ebreak | Op::Illegal => false,
            _ => true,
        };
        // (A block that loops on itself ends with a backward branch or a jump: never
        // continued.)
        cont[k] = prev.end == b.start
            && falls
            && !targeted[k]
            && !plan.check[k]
            && enterable(b.insts[0].inst.op);
    }
    cont
}

/// Per block of `func`, whether it is an entry (exec, the dispatch and other functions
/// may start there).
pub fn entries(func: &Func) -> Vec<bool> {
    let cont = continues(func, &budget_plan(func));
    func.blocks
        .iter()
        .zip(cont)
        .map(|(b, c)| enterable(b.insts[0].inst.op) && !c)
        .collect()
}

/// Where translated code checks its budget. Checking in every block cost a compare, a
/// branch and (with most locals spilled) a reload and store of the budget per block;
/// instead only the heads of loops (targets of a branch or jump to the same or an earlier
/// block, so every cycle passes one), the entry, indirect jumps and returns from calls
/// check, each for the longest way (in instructions) to the next check. Every block
/// still takes its count, so instret stays exact and the budget never goes negative; a
/// check that fails leaves the rest of the slice to exec's interpreter.
#[derive(Clone, Debug, Default)]
struct BudgetPlan {
    /// Whether block i checks.
    check: Vec<bool>,
    /// The most instructions from block i's start to the next check or exit.
    need: Vec<u64>,
    /// The largest `need`: what an entry at an unknown block must have.
    any: u64,
}

fn budget_plan(func: &Func) -> BudgetPlan {
    let n = func.blocks.len();
    let mut check = vec![false; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (j, b) in func.blocks.iter().enumerate() {
        let last = b.insts.last().unwrap().inst;
        let target = b
            .insts
            .last()
            .unwrap()
            .pc
            .wrapping_add(last.imm as i64 as u64);
        let mut next = |pc: u64| {
            if let Some(k) = func.block_at(pc) {
                if k <= j {
                    check[k] = true;
                } else {
                    succ[j].push(k);
                }
            }
        };
        match last.op {
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                next(target);
                next(b.end);
            }
            Op::Jal if last.rd == 0 => next(target),
            // Indirect jumps check at their dispatch; calls check on return.
            Op::Jal | Op::Jalr => {}
            _ => next(b.end),
        }
    }
    // Forward edges only point to later blocks, so one pass from the end settles `need`.
    let mut need = vec![0u64; n];
    for j in (0..n).rev() {
        let on = succ[j]
            .iter()
            .filter(|&&k| !check[k])
            .map(|&k| need[k])
            .max()
            .unwrap_or(0);
        need[j] = func.blocks[j].insts.len() as u64 + on;
    }
    let any = need.iter().copied().max().unwrap_or(0);
    BudgetPlan { check, need, any }
}

/// The Wasm function for `func`; `delta` is its segment's link-time address minus file
/// offset.
pub fn emit(func: &Func, h: Helpers, delta: u64, callees: Callees) -> Vec<u8> {
    let f = Function::new([
        (31, ValType::I64),
        (3, ValType::I32),
        (5, ValType::I64),
        (32, ValType::I64),
    ]);
    let lo = func.blocks[0].start;
    let span = func.blocks.last().unwrap().end - lo;
    let mut e = Emitter {
        f,
        func,
        h,
        callees,
        lo,
        span,
        nest: 0,
        cur: 0,
        n: 0,
        delta,
        self_loop: false,
        dirty: 0,
        plan: budget_plan(func),
        cont: Vec::new(),
        weights: Vec::new(),
    };
    e.cont = continues(func, &e.plan);
    // Called (not entered by exec, DEPTH 0) with the frames below taking so much of the
    // stack that this one would pass `STACK_BUDGET`: return at once, before anything
    // ran. The caller stored the registers and the pc (this function's address), sees a
    // return that is not to its return address and leaves too, down to exec, which
    // starts here again at DEPTH 0.
    e.i(W::LocalGet(DEPTH));
    e.weight();
    e.i(W::I32Add);
    e.i(W::I32Const(STACK_BUDGET as i32));
    e.i(W::I32GtU);
    e.i(W::LocalGet(DEPTH));
    e.i(W::I32Const(0));
    e.i(W::I32Ne);
    e.i(W::I32And);
    e.i(W::If(BlockType::Empty));
    e.i(W::LocalGet(BUDGET));
    e.i(W::Return);
    e.i(W::End);
    e.i(W::LocalGet(HART));
    e.i(W::I32Load(mem(HART_AOT_TLB as u64)));
    e.i(W::LocalSet(TLB));
    e.i(W::LocalGet(ENTRY));
    e.i(W::LocalSet(BLK));
    let n = func.blocks.len();
    e.i(W::Block(BlockType::Empty)); // $exit
    // Entered anywhere: the budget must cover the longest way from any block.
    e.i(W::LocalGet(BUDGET));
    e.i(W::I64Const(e.plan.any as i64));
    e.i(W::I64LtS);
    e.i(W::If(BlockType::Empty));
    e.set_stop(STOP_BUDGET);
    e.rt(lo);
    e.i(W::LocalGet(ENTRY));
    e.i(W::I64ExtendI32U);
    e.i(W::I64Const(1));
    e.i(W::I64Shl);
    e.i(W::I64Add);
    e.i(W::LocalSet(NPC));
    e.i(W::LocalGet(BUDGET));
    e.i(W::I64Const(-1));
    e.i(W::I64Xor);
    e.i(W::LocalSet(RET));
    e.i(W::Br(1)); // $exit
    e.i(W::End);
    e.i(W::Loop(BlockType::Empty)); // $L
    e.i(W::Block(BlockType::Empty)); // $miss
    for _ in 0..n {
        e.i(W::Block(BlockType::Empty));
    }
    // Dispatch on the halfword index of the target: block starts go to their block,
    // everything else to $miss (depth n).
    e.i(W::LocalGet(BLK));
    let mut targets = vec![n as u32; (span / 2) as usize];
    for (bi, b) in func.blocks.iter().enumerate() {
        if enterable(b.insts[0].inst.op) && !e.cont[bi] {
            targets[((b.start - lo) / 2) as usize] = bi as u32;
        }
    }
    e.i(W::BrTable(targets.into(), n as u32));
    let mut regs = block_regs(&[]);
    let mut pos = 0;
    for (bi, b) in func.blocks.iter().enumerate() {
        e.i(W::End);
        e.cur = bi;
        e.n = b.insts.len() as u64;
        e.nest = 0;
        // A block that branches to its own start (a tight loop) gets a Wasm `loop` of its
        // own, so its back edge is a direct branch rather than a dispatch.
        e.self_loop = b.insts.iter().any(|at| {
            let i = at.inst;
            let t = at.pc.wrapping_add(i.imm as i64 as u64);
            t == b.start
                && (matches!(
                    i.op,
                    Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu
                ) || i.op == Op::Jal && i.rd == 0)
        });
        // Guest registers live in locals within a chain of blocks (a block and those that
        // continue it) only: each is loaded where the chain first needs it and stored
        // after its last mention if written, or on a way out, so its local lives no
        // longer than it must and none is live across the dispatch. (Kept across the
        // whole function, all of them were, and Cranelift kept most in stack slots,
        // loading and storing them at every use: docs/PERFORMANCE.md, "Registers in
        // locals per block".) A block that loops on itself loads all before its `loop`
        // and keeps them in locals around it (any it writes may then differ from the
        // hart's copy at the top).
        if !e.cont[bi] {
            let end = (bi + 1..n).find(|&k| !e.cont[k]).unwrap_or(n);
            regs = block_regs(&func.blocks[bi..end]);
            pos = 0;
            e.dirty = 0;
        }
        if e.self_loop {
            e.load_regs(regs.used);
            e.i(W::Loop(BlockType::Empty));
            e.nest = 1;
            e.dirty = regs.written;
        }
        // A loop's head checks that the budget covers the longest way to the next check;
        // every block takes its own count.
        if e.plan.check[bi] {
            e.budget_check(e.plan.need[bi], |e| e.rt(b.start));
        }
        e.i(W::LocalGet(BUDGET));
        e.i(W::I64Const(e.n as i64));
        e.i(W::I64Sub);
        e.i(W::LocalSet(BUDGET));
        let mut open = true;
        for (k, at) in b.insts.iter().enumerate() {
            if !e.self_loop {
                e.load_regs(regs.first[pos + k]);
            }
            if !e.inst(at, k as u64) {
                open = false;
                break;
            }
            if !e.self_loop {
                let done = regs.last[pos + k] & e.dirty;
                for r in 1..64u8 {
                    if done & 1 << r != 0 {
                        e.store_reg(r);
                    }
                }
                e.dirty &= !done;
            }
        }
        if open {
            // A conditional branch's not-taken path, or a block cut at a leader: the next
            // block's code follows this one's.
            let falls_into_next = bi + 1 < n && func.blocks[bi + 1].start == b.end;
            if falls_into_next {
                if !e.cont[bi + 1] {
                    e.flush();
                }
            } else {
                e.goto(b.end);
            }
        }
        if e.self_loop {
            e.i(W::End);
            e.nest = 0;
            e.self_loop = false;
        }
        pos += b.insts.len();
    }
    e.i(W::End); // $miss: an indirect jump with no block here; NPC holds the target.
    e.i(W::LocalGet(BUDGET));
    e.i(W::LocalSet(RET));
    e.i(W::Br(1));
    e.i(W::End); // $L
    e.i(W::Unreachable);
    e.i(W::End); // $exit: every way here stored its block's registers.
    e.i(W::LocalGet(HART));
    e.i(W::LocalGet(NPC));
    e.i(W::I64Store(mem(HART_PC as u64)));
    e.i(W::LocalGet(RET));
    e.i(W::End);
    let mut body = e.f.into_raw_body();
    let w = frame_estimate(body.len());
    for at in e.weights {
        // Signed LEB128 in five bytes (w < 2^31, so the last byte's sign bit is clear).
        for (k, b) in body[at..at + 5].iter_mut().enumerate() {
            let bits = (w >> (7 * k)) as u8 & 0x7f;
            *b = if k < 4 { bits | 0x80 } else { bits };
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::tests::{LOOP_AND_CALL, discover_code};

    #[test]
    fn budget_checks_sit_at_loop_heads_and_cover_the_way_to_the_next() {
        // Blocks: 0x10078 (addi), 0x1007c (the loop: addi, bne; checks), 0x10084 (the
        // call; its return checks), 0x10088 (a loop of one jump; checks).
        let funcs = discover_code(&LOOP_AND_CALL);
        let plan = budget_plan(&funcs[0]);
        assert_eq!(plan.check, [false, true, false, true]);
        // The loop head: its 2 instructions, then the call's block (1) before the call.
        assert_eq!(plan.need, [1, 3, 1, 1]);
        assert_eq!(plan.any, 3);
    }

    #[test]
    fn only_a_forward_branchs_fall_through_continues_a_block() {
        // 0x10078: beq a0, x0, +8       (forward, to 0x10080)
        // 0x1007c: addi a0, a0, -1      <- reached only by falling through: continues
        // 0x10080: addi a1, a1, 1       <- the branch's target: an entry
        // 0x10084: jalr x0, 0(ra)
        let funcs = discover_code(&[0x0005_0463, 0xfff5_0513, 0x0015_8593, 0x0000_8067]);
        let starts: Vec<u64> = funcs[0].blocks.iter().map(|b| b.start).collect();
        assert_eq!(starts, [0x10078, 0x1007c, 0x10080]);
        assert_eq!(entries(&funcs[0]), [true, false, true]);
        // A loop's exit (after the backward bne), a call's return site and the loop head
        // all start chains of their own.
        assert_eq!(entries(&discover_code(&LOOP_AND_CALL)[0]), [true; 4]);
    }
}
