//! Linux ABI facts shared by friscy's components: the errno numbers (asm-generic, which
//! riscv64 uses) and the few constants that cross component boundaries.
//!
//! Everything here is guest-visible Linux behaviour, so names and numbers are Linux's own.

mod errno;
pub mod mode;

pub use errno::Errno;

/// Guest page size. RISC-V Linux uses 4 KiB base pages (AT_PAGESZ).
pub const PAGE_SIZE: u64 = 4096;
