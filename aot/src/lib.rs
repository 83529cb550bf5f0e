//! rv2wasm: RISC-V ELF code translated ahead of time into WebAssembly.

pub mod elf;
