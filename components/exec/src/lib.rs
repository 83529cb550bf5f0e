//! friscy's machine: RISC-V RV64GC (+ Zba, Zbb, Zbs) user-mode address spaces and harts.
//!
//! The kernel drives a `Machine` (see `machine.rs` and `wit/deps/friscy-exec/exec.wit`):
//! it maps memory, creates harts and calls `run`, which returns at every `ecall`, fault,
//! breakpoint, illegal instruction or budget end. Inside, the ISA is defined once in
//! `isa.rs`; `decode.rs` turns bits into `Inst`s, `block.rs` caches decoded basic blocks per
//! address space, `interp/` executes them, `disasm.rs` prints them, and `memory.rs` holds
//! guest memory as a flat arena with a page permission table.

pub mod block;
pub mod decode;
pub mod disasm;
pub(crate) mod interp;
pub mod isa;
pub mod machine;
pub mod memory;
pub mod softfloat;

pub use machine::{
    Access, Fault, FaultCause, HartId, Machine, Machines, MapError, ObjId, Prot, Registers,
    SpaceId, StopReason, Syscall,
};

// The WIT layer, compiled only for the component build.
#[cfg(feature = "component")]
mod bindings;
