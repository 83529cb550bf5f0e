//! Decoded instructions as text, in objdump's `-M no-aliases` syntax with ABI register
//! names (`addi a0,a0,1`, `ld ra,8(sp)`, `fadd.d fa0,fa1,fa2,rtz`). Compressed
//! instructions print as their base-ISA expansion.

use crate::isa::{Format, Inst, Op};

const X: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];
const F: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

fn x(r: u8) -> &'static str {
    X[r as usize & 31]
}
fn f(r: u8) -> &'static str {
    F[r as usize & 31]
}

/// The rounding-mode suffix objdump prints (none for dynamic).
fn rm(rm: u8) -> &'static str {
    match rm {
        0 => ",rne",
        1 => ",rtz",
        2 => ",rdn",
        3 => ",rup",
        4 => ",rmm",
        7 => "",
        _ => ",invalid",
    }
}

fn csr_name(csr: u32) -> String {
    match csr {
        0x001 => "fflags".into(),
        0x002 => "frm".into(),
        0x003 => "fcsr".into(),
        0xc00 => "cycle".into(),
        0xc01 => "time".into(),
        0xc02 => "instret".into(),
        _ => format!("{csr:#x}"),
    }
}

fn fence_set(bits: i32) -> String {
    let s: String = ["i", "o", "r", "w"]
        .iter()
        .enumerate()
        .filter(|(k, _)| bits & (8 >> k) != 0)
        .map(|(_, c)| *c)
        .collect();
    if s.is_empty() { "0".into() } else { s }
}

/// `inst` at address `pc` as text (branch and jump targets are absolute, as objdump prints).
pub fn disasm(inst: &Inst, pc: u64) -> String {
    let mn = inst.op.mnemonic();
    let (rd, rs1, rs2, imm) = (inst.rd, inst.rs1, inst.rs2, inst.imm);
    let target = pc.wrapping_add(imm as i64 as u64);
    match inst.op.format() {
        Format::R => format!("{mn} {},{},{}", x(rd), x(rs1), x(rs2)),
        Format::R1 => format!("{mn} {},{}", x(rd), x(rs1)),
        Format::I => format!("{mn} {},{},{imm}", x(rd), x(rs1)),
        Format::Load | Format::Jalr => format!("{mn} {},{imm}({})", x(rd), x(rs1)),
        Format::S => format!("{mn} {},{imm}({})", x(rs2), x(rs1)),
        Format::B => format!("{mn} {},{},{target:#x}", x(rs1), x(rs2)),
        Format::U => format!("{mn} {},{:#x}", x(rd), (imm as u32) >> 12),
        Format::J => format!("{mn} {},{target:#x}", x(rd)),
        Format::Sh6 | Format::Sh5 => format!("{mn} {},{},{imm:#x}", x(rd), x(rs1)),
        Format::Fence => {
            if imm & 0xfff == 0x833 {
                "fence.tso".into()
            } else {
                format!(
                    "{mn} {},{}",
                    fence_set((imm >> 4) & 15),
                    fence_set(imm & 15)
                )
            }
        }
        Format::None if inst.op == Op::Illegal => format!("{mn} {:#x}", imm as u32),
        Format::None => mn.into(),
        Format::Csr => format!("{mn} {},{},{}", x(rd), csr_name((imm as u32) >> 20), x(rs1)),
        Format::CsrI => format!("{mn} {},{},{rs1}", x(rd), csr_name((imm as u32) >> 20)),
        Format::Lr => format!("{mn} {},({})", x(rd), x(rs1)),
        Format::Amo => format!("{mn} {},{},({})", x(rd), x(rs2), x(rs1)),
        Format::FLoad => format!("{mn} {},{imm}({})", f(rd), x(rs1)),
        Format::FStore => format!("{mn} {},{imm}({})", f(rs2), x(rs1)),
        Format::R4 => {
            let r = rm(inst.rm);
            format!("{mn} {},{},{},{}{r}", f(rd), f(rs1), f(rs2), f(inst.rs3))
        }
        Format::Frm => format!("{mn} {},{},{}{}", f(rd), f(rs1), f(rs2), rm(inst.rm)),
        Format::F => format!("{mn} {},{},{}", f(rd), f(rs1), f(rs2)),
        Format::Fcmp => format!("{mn} {},{},{}", x(rd), f(rs1), f(rs2)),
        // Exact conversions: objdump omits their (meaningless) rounding mode.
        Format::F1rm if inst.op == Op::FcvtDS => format!("{mn} {},{}", f(rd), f(rs1)),
        Format::FXrm if matches!(inst.op, Op::FcvtDW | Op::FcvtDWu) => {
            format!("{mn} {},{}", f(rd), x(rs1))
        }
        Format::F1rm => format!("{mn} {},{}{}", f(rd), f(rs1), rm(inst.rm)),
        Format::XFrm => format!("{mn} {},{}{}", x(rd), f(rs1), rm(inst.rm)),
        Format::FXrm => format!("{mn} {},{}{}", f(rd), x(rs1), rm(inst.rm)),
        Format::XF => format!("{mn} {},{}", x(rd), f(rs1)),
        Format::FX => format!("{mn} {},{}", f(rd), x(rs1)),
    }
}
