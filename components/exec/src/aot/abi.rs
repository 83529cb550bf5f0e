//! The contract between code rv2wasm generates and the exec module it is linked into.
//!
//! rv2wasm (`aot/`) runs natively and links against this crate, so these constants are the
//! single definition both sides use: where generated code finds guest registers and the
//! TLB, which helper functions it may call (found by name in the module's name section),
//! the signature of a translated function, and how a translated function says why it
//! returned. Layouts used here are identical on wasm32 and on 64-bit hosts (every field a
//! fixed-size integer), and the manifest carries the offsets rv2wasm used, which exec
//! compares with its own before trusting any translation (`Manifest::abi_matches`).

use core::mem::offset_of;

use crate::interp::Hart;

/// Bumped whenever anything below changes meaning.
pub const ABI_VERSION: u32 = 4;

/// Offsets into `Hart` (`repr(C)`).
pub const HART_X: u32 = offset_of!(Hart, x) as u32;
pub const HART_F: u32 = offset_of!(Hart, f) as u32;
pub const HART_PC: u32 = offset_of!(Hart, pc) as u32;
pub const HART_FFLAGS: u32 = offset_of!(Hart, fflags) as u32;
pub const HART_FRM: u32 = offset_of!(Hart, frm) as u32;
/// The floating-point CSRs' numbers, which generated code accesses inline.
pub use crate::interp::csr::{FCSR as CSR_FCSR, FFLAGS as CSR_FFLAGS, FRM as CSR_FRM};
pub const HART_AOT_TLB: u32 = (offset_of!(Hart, aot) + offset_of!(HartAot, tlb)) as u32;
pub const HART_AOT_STOP: u32 = (offset_of!(Hart, aot) + offset_of!(HartAot, stop)) as u32;
pub const HART_AOT_ARG: u32 = (offset_of!(Hart, aot) + offset_of!(HartAot, arg)) as u32;
pub const HART_AOT_DIRECT: u32 = (offset_of!(Hart, aot) + offset_of!(HartAot, direct)) as u32;

/// The software TLB as generated code sees it on wasm32 (`memory::tlb`): 512 entries of 16
/// bytes per table (`tag: u64`, then `addend: usize`, 4 bytes on wasm32), the write table
/// after the read table.
pub const TLB_ENTRIES: u32 = crate::memory::tlb::TLB_ENTRIES as u32;
pub const TLB_ENTRY_SIZE: u32 = 16;
pub const TLB_WRITE: u32 = TLB_ENTRIES * TLB_ENTRY_SIZE;
pub const TLB_ADDEND: u32 = 8;

/// The per-hart state generated code and exec share while translated code runs.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct HartAot {
    /// The wasm32 address of the running space's `Tlb` (set by exec before every call).
    pub tlb: u32,
    /// Why translated code stopped (`STOP_*`), when it returns a negative value.
    pub stop: u32,
    /// The stop's payload (an illegal instruction's bits); the base `LOOKUP` found.
    pub arg: u64,
    /// 1 when no registered page of the running space has been written: translated code
    /// may then call other translated functions of the same file directly; else it asks
    /// exec (`LOOKUP`), which checks the callee's pages.
    pub direct: u32,
}

/// How a translated function returns: a value `r >= 0` means "continue at `hart.pc`
/// with `r` instructions of budget left", every register written back; `r < 0` means a
/// stop, with `!r` budget left and the reason in `hart.aot.stop`:
pub const STOP_NONE: u32 = 0;
/// An ecall retired; pc is past it.
pub const STOP_ECALL: u32 = 1;
/// An ebreak; pc at it.
pub const STOP_EBREAK: u32 = 2;
/// An illegal instruction (bits in `arg`); pc at it.
pub const STOP_ILLEGAL: u32 = 3;
/// A helper stopped (fault, illegal rounding mode, ...); exec kept the `StopReason`.
pub const STOP_HELPER: u32 = 4;
/// A fence.i retired; pc past it. Exec drops decoded code and continues.
pub const STOP_FENCE_I: u32 = 5;
/// Not enough budget for the code ahead; pc at a check point. Exec interprets the rest of
/// the slice exactly.
pub const STOP_BUDGET: u32 = 6;
/// A store retired into a page holding decoded or translated code; pc past it.
pub const STOP_CODE_DIRTY: u32 = 7;

/// Status returned by the store and exec1 helpers.
pub const STATUS_OK: u32 = 0;
/// The helper stopped (`hart.aot.stop` is set); the instruction did not retire.
pub const STATUS_STOP: u32 = 1;
/// The instruction retired, and code may have changed (a store into a code page, or a
/// fence.i): leave translated code.
pub const STATUS_LEAVE: u32 = 2;

/// Bytes of native stack that nested translated frames may take, by rv2wasm's estimate
/// (`frame_estimate`), before a translated function entered as a call leaves to the
/// dispatcher instead of running (exec starts it again at 0), so guest recursion cannot
/// overflow the host's stack (wasmtime's default is 512 KiB, which the host, kernel and
/// exec share). A count of calls was not enough: Cranelift's frame grows with the
/// function, and 48 nested frames of busybox ash's 467 KB evaluator (about 50 KiB each)
/// overflowed at the tenth command of a `sh -c` list.
pub const STACK_BUDGET: u32 = 256 * 1024;

/// rv2wasm's estimate of a translated function's native frame from the size of its Wasm
/// body: 1 KiB plus a quarter of the body's bytes, about twice what Cranelift's spill
/// area was measured to take for the largest functions (ash's evaluator: 467 KB of
/// body, about 50 KiB of frame).
pub const fn frame_estimate(body_bytes: usize) -> u32 {
    let e = 1024 + body_bytes / 4;
    if e > STACK_BUDGET as usize {
        STACK_BUDGET
    } else {
        e as u32
    }
}

/// Wasm value types, for signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    I32,
    I64,
}

/// A function of the exec module that generated code uses.
#[derive(Clone, Copy, Debug)]
pub struct Import {
    /// A substring of its symbol name (the name section holds mangled names, which
    /// contain the Rust identifier).
    pub name: &'static str,
    pub params: &'static [Ty],
    pub results: &'static [Ty],
}

/// Translated functions: `(hart, entry, base, budget, depth) -> r` (see `STOP_*`).
/// `entry` picks the function's entry point; `base` is the guest address of offset 0 of
/// the file the code was translated from (code is translated in file offsets, so one
/// translation serves a PIE or shared library wherever it is loaded); `depth` counts
/// nested translated calls.
pub const TRANSLATED_PARAMS: &[Ty] = &[Ty::I32, Ty::I32, Ty::I64, Ty::I64, Ty::I32];
pub const TRANSLATED_RESULTS: &[Ty] = &[Ty::I64];

/// Loads through the slow path: `(hart, addr, op) -> value`, `op` an `Op` load (integer
/// loads extend as the instruction does; flw NaN-boxes). On a fault `hart.aot.stop` is
/// `STOP_HELPER` and the value is 0.
pub const LOAD: Import = Import {
    name: "friscy_aot_load",
    params: &[Ty::I32, Ty::I64, Ty::I32],
    results: &[Ty::I64],
};
/// Stores through the slow path: `(hart, addr, value, op) -> STATUS_*`.
pub const STORE: Import = Import {
    name: "friscy_aot_store",
    params: &[Ty::I32, Ty::I64, Ty::I64, Ty::I32],
    results: &[Ty::I32],
};
/// One instruction run by the interpreter's own code: `(hart, packed, imm, pc, budget)
/// -> STATUS_*`. The instruction's source registers must be in the hart, its
/// destination is read back from it; `packed` is `pack_inst`'s, `budget` the budget left
/// as if no instruction of the current block after the ones before this had run (for
/// the instret CSR).
pub const EXEC1: Import = Import {
    name: "friscy_aot_exec1",
    params: &[Ty::I32, Ty::I64, Ty::I32, Ty::I64, Ty::I64],
    results: &[Ty::I32],
};
/// The translated code for a guest address: `(hart, pc) -> slot << 32 | entry`, or -1;
/// the `base` to call it with is left in `hart.aot.arg`.
pub const LOOKUP: Import = Import {
    name: "friscy_aot_lookup",
    params: &[Ty::I32, Ty::I64],
    results: &[Ty::I64],
};
/// Placeholders whose bodies rv2wasm replaces: the manifest's length, and a copy of it
/// to a given address.
pub const MANIFEST_LEN: Import = Import {
    name: "friscy_aot_manifest_len",
    params: &[],
    results: &[Ty::I32],
};
pub const MANIFEST_COPY: Import = Import {
    name: "friscy_aot_manifest_copy",
    params: &[Ty::I32],
    results: &[],
};

/// Every function rv2wasm looks up.
pub const IMPORTS: &[Import] = &[LOAD, STORE, EXEC1, LOOKUP, MANIFEST_LEN, MANIFEST_COPY];

/// An `Inst` without its immediate, as the exec1 helper takes it.
pub fn pack_inst(i: &crate::isa::Inst) -> u64 {
    i.op as u64
        | (i.rd as u64) << 8
        | (i.rs1 as u64) << 16
        | (i.rs2 as u64) << 24
        | (i.rs3 as u64) << 32
        | (i.rm as u64) << 40
        | (i.len as u64) << 48
}

/// The inverse of `pack_inst`.
pub fn unpack_inst(p: u64, imm: i32) -> Option<crate::isa::Inst> {
    let op = crate::isa::TABLE.get((p & 0xff) as usize)?.op;
    Some(crate::isa::Inst {
        op,
        rd: (p >> 8) as u8,
        rs1: (p >> 16) as u8,
        rs2: (p >> 24) as u8,
        rs3: (p >> 32) as u8,
        rm: (p >> 40) as u8,
        len: (p >> 48) as u8,
        imm,
    })
}

/// The offsets above, as the manifest records them.
pub fn layout() -> [u32; 13] {
    [
        ABI_VERSION,
        HART_X,
        HART_F,
        HART_PC,
        HART_FFLAGS,
        HART_FRM,
        HART_AOT_TLB,
        HART_AOT_STOP,
        HART_AOT_ARG,
        HART_AOT_DIRECT,
        TLB_ENTRIES,
        STACK_BUDGET,
        crate::isa::TABLE.len() as u32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode32;

    #[test]
    fn packing_round_trips() {
        for w in [0x00b5_0533u32, 0x0205_1513, 0xfe85_3c23, 0x02c5_f543] {
            let i = decode32(w);
            assert_eq!(unpack_inst(pack_inst(&i), i.imm), Some(i));
        }
    }

    #[test]
    fn hart_layout_is_what_generated_code_expects() {
        assert_eq!((HART_X, HART_F, HART_PC), (0, 2048, 4096));
        assert_eq!(HART_AOT_TLB % 8, 0);
    }
}
