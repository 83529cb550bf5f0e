//! Zicsr: the user-level CSRs (RISC-V unpriv chapter 7 and 20.2). Others are illegal.

use super::Hart;

pub const FFLAGS: u32 = 0x001;
pub const FRM: u32 = 0x002;
pub const FCSR: u32 = 0x003;
pub const CYCLE: u32 = 0xc00;
pub const TIME: u32 = 0xc01;
pub const INSTRET: u32 = 0xc02;

/// How the new value combines with the old.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrOp {
    Write,
    Set,
    Clear,
}

/// Executes one CSR access and returns the old value; `Err` if the CSR does not exist or
/// is read-only and `write` is set. `instret` is the count including instructions retired
/// earlier in the current block.
pub fn access(
    h: &mut Hart,
    csr: u32,
    op: CsrOp,
    src: u64,
    write: bool,
    instret: u64,
) -> Result<u64, ()> {
    let old = match csr {
        FFLAGS => h.fflags as u64,
        FRM => h.frm as u64,
        FCSR => h.fcsr() as u64,
        // One instruction per cycle; time has no host clock here, so it counts instructions
        // too (monotonic, as rdtime users need).
        CYCLE | TIME | INSTRET => instret,
        _ => return Err(()),
    };
    if !write {
        return Ok(old);
    }
    let new = match op {
        CsrOp::Write => src,
        CsrOp::Set => old | src,
        CsrOp::Clear => old & !src,
    };
    match csr {
        FFLAGS => h.fflags = (new & 0x1f) as u8,
        FRM => h.frm = (new & 7) as u8,
        FCSR => h.set_fcsr(new as u32),
        // Read-only counters (address bits 11:10 = 0b11): writing is illegal.
        _ => return Err(()),
    }
    Ok(old)
}
