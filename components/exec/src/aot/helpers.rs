//! The functions generated code calls (`abi::IMPORTS`), and the call into it.
//!
//! They are `#[no_mangle] extern "C"`, so the module exports them under their own names and
//! rv2wasm finds them whatever the symbol mangling or stripping. Each takes the hart's
//! address; the space is the one `aot::run` put in `CTX` for the duration of the call.
//!
//! Raw pointers are unavoidable here: generated code holds the hart's address, and helpers
//! run in the middle of `aot::run`'s call into it. Every dereference is of an object that
//! `aot::run` owns for that duration, in a single-threaded instance.

use super::abi::*;
use super::{CTX, Context, NO_AOT};
use crate::block::SINK;
use crate::interp::{self, Hart, OneEnd};
use crate::isa::{Op, TABLE};
use crate::machine::StopReason;
use crate::memory::Memory;

/// The context of the translated call in progress.
fn ctx() -> &'static mut Context {
    let p = CTX.with(|c| c.get());
    assert!(
        !p.is_null(),
        "friscy-exec: an AOT helper called outside aot::run"
    );
    // SAFETY: `aot::run` set it to a `Context` on its stack that outlives the call into
    // translated code, the only place helpers are called from; nothing else refers to it
    // meanwhile.
    unsafe { &mut *p }
}

/// The hart generated code passed (its own first parameter, from `call_translated`).
fn hart(addr: u32) -> &'static mut Hart {
    // SAFETY: generated code only ever passes on the address `call_translated` gave it, of
    // a hart `aot::run` holds exclusively for the duration of the call.
    unsafe { &mut *(addr as usize as *mut Hart) }
}

/// The memory of the space translated code runs in.
fn mem(c: &mut Context) -> &'static mut Memory {
    // SAFETY: `Context::space` is the space `aot::run` holds exclusively while the call
    // lasts.
    unsafe { &mut (*c.space).mem }
}

fn op(n: u32) -> Option<Op> {
    TABLE.get(n as usize).map(|e| e.op)
}

/// Records a helper's stop for `aot::run`.
fn stop(h: &mut Hart, c: &mut Context, reason: StopReason) {
    c.stop = Some(reason);
    h.aot.stop = STOP_HELPER;
}

/// Placeholder for the manifest's length: rv2wasm replaces the body. Reads a volatile
/// static so that no caller can assume its value.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn friscy_aot_manifest_len() -> u32 {
    static NONE: u32 = 0;
    // SAFETY: a read of an initialised static.
    unsafe { core::ptr::read_volatile(&raw const NONE) }
}

/// Placeholder for copying the manifest to `dst`: rv2wasm replaces the body.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn friscy_aot_manifest_copy(dst: *mut u8) {
    static CALLS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    // A body of its own (never merged with another function's), touching nothing at `dst`.
    CALLS.fetch_add(dst as usize | 1, core::sync::atomic::Ordering::Relaxed);
}

/// The manifest linked into this module (empty without translated code).
pub(crate) fn manifest_bytes() -> Vec<u8> {
    // Called through pointers, so the optimizer cannot see through the placeholders.
    let len = core::hint::black_box(friscy_aot_manifest_len as extern "C" fn() -> u32);
    let n = len() as usize;
    if n == 0 {
        return Vec::new();
    }
    let mut v = vec![0u8; n];
    let copy = core::hint::black_box(friscy_aot_manifest_copy as extern "C" fn(*mut u8));
    copy(v.as_mut_ptr());
    v
}

/// Calls translated code: the function in table slot `aot >> 32`, at its entry `aot as
/// u32`, which must be `h.pc`; `base` is where its file's offset 0 is mapped.
pub(crate) fn call_translated(h: &mut Hart, aot: u64, base: u64, budget: i64) -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        type Translated = extern "C" fn(u32, u32, u64, i64, u32) -> i64;
        let slot = (aot >> 32) as usize;
        // SAFETY: `aot` came from the manifest rv2wasm wrote with the functions: `slot` is
        // the table index of one of them, all of type `abi::TRANSLATED_PARAMS ->
        // TRANSLATED_RESULTS`, which is this function pointer type on wasm32 (a function
        // pointer is a table index there).
        let f = unsafe { core::mem::transmute::<usize, Translated>(slot) };
        f(h as *mut Hart as u32, aot as u32, base, budget, 0)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (h, aot, base, budget);
        unreachable!("friscy-exec: translated code exists only in a wasm32 module")
    }
}

/// Loads through the slow path (`abi::LOAD`).
#[unsafe(no_mangle)]
pub extern "C" fn friscy_aot_load(hart_addr: u32, addr: u64, op_n: u32) -> u64 {
    let (h, c) = (hart(hart_addr), ctx());
    let m = mem(c);
    let r = match op(op_n) {
        Some(Op::Lb) => m.load::<1>(addr).map(|b| b[0] as i8 as u64),
        Some(Op::Lbu) => m.load::<1>(addr).map(|b| b[0] as u64),
        Some(Op::Lh) => m.load(addr).map(|b| i16::from_le_bytes(b) as u64),
        Some(Op::Lhu) => m.load(addr).map(|b| u16::from_le_bytes(b) as u64),
        Some(Op::Lw) => m.load(addr).map(|b| i32::from_le_bytes(b) as u64),
        Some(Op::Lwu) => m.load(addr).map(|b| u32::from_le_bytes(b) as u64),
        Some(Op::Ld | Op::Fld) => m.load(addr).map(u64::from_le_bytes),
        Some(Op::Flw) => m
            .load(addr)
            .map(|b| u32::from_le_bytes(b) as u64 | 0xffff_ffff_0000_0000),
        other => panic!("friscy-exec: AOT load helper called for {other:?}"),
    };
    match r {
        Ok(v) => v,
        Err(f) => {
            stop(h, c, StopReason::Fault(f));
            0
        }
    }
}

/// Stores through the slow path (`abi::STORE`).
#[unsafe(no_mangle)]
pub extern "C" fn friscy_aot_store(hart_addr: u32, addr: u64, value: u64, op_n: u32) -> u32 {
    let (h, c) = (hart(hart_addr), ctx());
    let m = mem(c);
    let r = match op(op_n) {
        Some(Op::Sb) => m.store(addr, [value as u8]),
        Some(Op::Sh) => m.store(addr, (value as u16).to_le_bytes()),
        Some(Op::Sw | Op::Fsw) => m.store(addr, (value as u32).to_le_bytes()),
        Some(Op::Sd | Op::Fsd) => m.store(addr, value.to_le_bytes()),
        other => panic!("friscy-exec: AOT store helper called for {other:?}"),
    };
    match r {
        Ok(()) if m.code_dirty() => {
            h.aot.stop = STOP_CODE_DIRTY;
            STATUS_LEAVE
        }
        Ok(()) => STATUS_OK,
        Err(f) => {
            stop(h, c, StopReason::Fault(f));
            STATUS_STOP
        }
    }
}

/// One instruction through the interpreter (`abi::EXEC1`).
#[unsafe(no_mangle)]
pub extern "C" fn friscy_aot_exec1(
    hart_addr: u32,
    packed: u64,
    imm: u32,
    pc: u64,
    budget: i64,
) -> u32 {
    let (h, c) = (hart(hart_addr), ctx());
    let Some(mut inst) = unpack_inst(packed, imm as i32) else {
        panic!("friscy-exec: AOT exec1 helper called with {packed:#x}");
    };
    // As the block cache stores them: integer results for x0 go to the sink.
    if inst.rd == 0 && inst.op.format().writes_x() {
        inst.rd = SINK;
    }
    h.pc = pc;
    // The count the instret CSR reads: everything retired before this instruction.
    h.instret = c.instret0 + (c.budget0 - budget) as u64;
    let m = mem(c);
    match interp::exec_one(h, m, inst) {
        OneEnd::Next if m.code_dirty() => {
            h.aot.stop = STOP_CODE_DIRTY;
            STATUS_LEAVE
        }
        OneEnd::Next => STATUS_OK,
        OneEnd::FenceI => {
            h.aot.stop = STOP_FENCE_I;
            STATUS_LEAVE
        }
        OneEnd::Stop(reason) => {
            stop(h, c, reason);
            STATUS_STOP
        }
    }
}

/// The translated code entered at `pc` (`abi::LOOKUP`); its base goes to
/// `hart.aot.arg`.
#[unsafe(no_mangle)]
pub extern "C" fn friscy_aot_lookup(hart_addr: u32, pc: u64) -> i64 {
    let (h, c) = (hart(hart_addr), ctx());
    // SAFETY: as in `mem`.
    let s = unsafe { &mut *c.space };
    if s.mem.code_dirty() {
        // Decoded code is about to be dropped: let the dispatcher sync first.
        return -1;
    }
    match s.code.lookup(&mut s.mem, pc) {
        Ok(idx) => match s.code.block(idx) {
            b if b.aot == NO_AOT => -1,
            b => {
                h.aot.arg = b.aot_base;
                b.aot as i64
            }
        },
        Err(_) => -1,
    }
}
