//! Bits to `Inst`: the only place that knows instruction encodings.
//!
//! 32-bit words are matched against the table in `isa.rs` and their operands extracted by
//! format. 16-bit RV64C words are expanded into the same base-ISA ops (RISC-V unpriv
//! chapter 16), with `len = 2` so the interpreter links and advances by 2.

use crate::isa::{Format, Inst, Op, TABLE};

/// The length in bytes of the instruction whose low 16 bits are `low`: 4 when bits 1:0 are
/// 0b11, else 2. (Longer encodings do not exist in RV64GC; a 48-bit prefix decodes as an
/// illegal 4-byte word.)
pub fn inst_len(low: u16) -> u8 {
    if low & 3 == 3 { 4 } else { 2 }
}

fn rd(w: u32) -> u8 {
    ((w >> 7) & 31) as u8
}
fn rs1(w: u32) -> u8 {
    ((w >> 15) & 31) as u8
}
fn rs2(w: u32) -> u8 {
    ((w >> 20) & 31) as u8
}
fn imm_i(w: u32) -> i32 {
    (w as i32) >> 20
}
fn imm_s(w: u32) -> i32 {
    ((w as i32) >> 25 << 5) | ((w >> 7) & 31) as i32
}
fn imm_b(w: u32) -> i32 {
    ((w as i32) >> 31 << 12)
        | (((w >> 7) & 1) << 11) as i32
        | (((w >> 25) & 0x3f) << 5) as i32
        | (((w >> 8) & 0xf) << 1) as i32
}
fn imm_j(w: u32) -> i32 {
    ((w as i32) >> 31 << 20)
        | (w & 0x000f_f000) as i32
        | (((w >> 20) & 1) << 11) as i32
        | (((w >> 21) & 0x3ff) << 1) as i32
}

/// Decodes a 32-bit instruction word.
pub fn decode32(w: u32) -> Inst {
    let Some(e) = TABLE.iter().find(|e| w & e.mask == e.bits) else {
        return Inst::illegal(w, 4);
    };
    let mut i = Inst {
        op: e.op,
        rd: 0,
        rs1: 0,
        rs2: 0,
        rs3: 0,
        rm: 0,
        len: 4,
        imm: 0,
    };
    match e.format {
        Format::R | Format::Amo | Format::F | Format::Fcmp => {
            (i.rd, i.rs1, i.rs2) = (rd(w), rs1(w), rs2(w));
        }
        Format::R1 | Format::Lr | Format::XF | Format::FX => (i.rd, i.rs1) = (rd(w), rs1(w)),
        Format::I | Format::Load | Format::Jalr | Format::FLoad => {
            (i.rd, i.rs1, i.imm) = (rd(w), rs1(w), imm_i(w));
        }
        Format::S | Format::FStore => (i.rs1, i.rs2, i.imm) = (rs1(w), rs2(w), imm_s(w)),
        Format::B => (i.rs1, i.rs2, i.imm) = (rs1(w), rs2(w), imm_b(w)),
        Format::U => (i.rd, i.imm) = (rd(w), (w & 0xffff_f000) as i32),
        Format::J => (i.rd, i.imm) = (rd(w), imm_j(w)),
        Format::Sh6 => (i.rd, i.rs1, i.imm) = (rd(w), rs1(w), ((w >> 20) & 63) as i32),
        Format::Sh5 => (i.rd, i.rs1, i.imm) = (rd(w), rs1(w), ((w >> 20) & 31) as i32),
        Format::Fence => i.imm = (w >> 20) as i32,
        Format::None => {}
        Format::Csr | Format::CsrI => (i.rd, i.rs1, i.imm) = (rd(w), rs1(w), w as i32),
        Format::R4 => {
            (i.rd, i.rs1, i.rs2, i.rs3) = (rd(w), rs1(w), rs2(w), (w >> 27) as u8);
        }
        Format::Frm => (i.rd, i.rs1, i.rs2) = (rd(w), rs1(w), rs2(w)),
        Format::F1rm | Format::XFrm | Format::FXrm => (i.rd, i.rs1) = (rd(w), rs1(w)),
    }
    if e.format.has_rm() {
        i.rm = ((w >> 12) & 7) as u8;
        i.imm = w as i32;
    }
    i
}

/// Bits `hi..=lo` of a compressed word, placed at bit `to`.
fn cb(h: u16, hi: u32, lo: u32, to: u32) -> u32 {
    ((h as u32 >> lo) & ((1 << (hi - lo + 1)) - 1)) << to
}

/// Sign-extends the low `bits` bits of `v`.
fn sext(v: u32, bits: u32) -> i32 {
    ((v << (32 - bits)) as i32) >> (32 - bits)
}

/// Decodes a 16-bit RV64C instruction into its base-ISA expansion.
pub fn decode16(h: u16) -> Inst {
    let illegal = Inst::illegal(h as u32, 2);
    let mut i = Inst {
        op: Op::Illegal,
        rd: 0,
        rs1: 0,
        rs2: 0,
        rs3: 0,
        rm: 0,
        len: 2,
        imm: 0,
    };
    // Full register numbers at 11:7 and 6:2, and the popular x8..x15 ones at 9:7 and 4:2.
    let r_hi = ((h >> 7) & 31) as u8;
    let r_lo = ((h >> 2) & 31) as u8;
    let p_hi = 8 + ((h >> 7) & 7) as u8;
    let p_lo = 8 + ((h >> 2) & 7) as u8;
    // CI-format 6-bit immediate: imm[5] = bit 12, imm[4:0] = bits 6:2.
    let ci = sext(cb(h, 12, 12, 5) | cb(h, 6, 2, 0), 6);
    let funct3 = h >> 13;
    let (op, rd, rs1, rs2, imm) = match (h & 3, funct3) {
        (0, 0) => {
            // c.addi4spn: addi rd', x2, nzuimm[9:2].
            let imm = cb(h, 12, 11, 4) | cb(h, 10, 7, 6) | cb(h, 6, 6, 2) | cb(h, 5, 5, 3);
            if imm == 0 {
                return illegal; // Includes the all-zero word, defined illegal.
            }
            (Op::Addi, p_lo, 2, 0, imm as i32)
        }
        (0, 1 | 3 | 5 | 7) => {
            // c.fld / c.ld / c.fsd / c.sd: uimm[5:3] = 12:10, uimm[7:6] = 6:5.
            let imm = (cb(h, 12, 10, 3) | cb(h, 6, 5, 6)) as i32;
            match funct3 {
                1 => (Op::Fld, p_lo, p_hi, 0, imm),
                3 => (Op::Ld, p_lo, p_hi, 0, imm),
                5 => (Op::Fsd, 0, p_hi, p_lo, imm),
                _ => (Op::Sd, 0, p_hi, p_lo, imm),
            }
        }
        (0, 2 | 6) => {
            // c.lw / c.sw: uimm[5:3] = 12:10, uimm[2] = 6, uimm[6] = 5.
            let imm = (cb(h, 12, 10, 3) | cb(h, 6, 6, 2) | cb(h, 5, 5, 6)) as i32;
            if funct3 == 2 {
                (Op::Lw, p_lo, p_hi, 0, imm)
            } else {
                (Op::Sw, 0, p_hi, p_lo, imm)
            }
        }
        (0, _) => return illegal,
        // c.addi (c.nop when rd = 0).
        (1, 0) => (Op::Addi, r_hi, r_hi, 0, ci),
        (1, 1) => {
            if r_hi == 0 {
                return illegal;
            }
            (Op::Addiw, r_hi, r_hi, 0, ci)
        }
        // c.li.
        (1, 2) => (Op::Addi, r_hi, 0, 0, ci),
        (1, 3) if r_hi == 2 => {
            // c.addi16sp: nzimm[9] = 12, [4] = 6, [6] = 5, [8:7] = 4:3, [5] = 2.
            let imm = cb(h, 12, 12, 9) | cb(h, 6, 6, 4) | cb(h, 5, 5, 6) | cb(h, 4, 3, 7);
            let imm = sext(imm | cb(h, 2, 2, 5), 10);
            if imm == 0 {
                return illegal;
            }
            (Op::Addi, 2, 2, 0, imm)
        }
        (1, 3) => {
            // c.lui: nzimm[17] = 12, nzimm[16:12] = 6:2.
            if ci == 0 {
                return illegal;
            }
            (Op::Lui, r_hi, 0, 0, ci << 12)
        }
        (1, 4) => {
            let shamt = (cb(h, 12, 12, 5) | cb(h, 6, 2, 0)) as i32;
            match (h >> 10) & 3 {
                0 => (Op::Srli, p_hi, p_hi, 0, shamt),
                1 => (Op::Srai, p_hi, p_hi, 0, shamt),
                2 => (Op::Andi, p_hi, p_hi, 0, ci),
                _ => {
                    let op = match (h >> 12 & 1, (h >> 5) & 3) {
                        (0, 0) => Op::Sub,
                        (0, 1) => Op::Xor,
                        (0, 2) => Op::Or,
                        (0, _) => Op::And,
                        (_, 0) => Op::Subw,
                        (_, 1) => Op::Addw,
                        _ => return illegal,
                    };
                    (op, p_hi, p_hi, p_lo, 0)
                }
            }
        }
        (1, 5) => {
            // c.j: imm[11|4|9:8|10|6|7|3:1|5] = bits 12..2.
            let imm = cb(h, 12, 12, 11)
                | cb(h, 11, 11, 4)
                | cb(h, 10, 9, 8)
                | cb(h, 8, 8, 10)
                | cb(h, 7, 7, 6)
                | cb(h, 6, 6, 7)
                | cb(h, 5, 3, 1)
                | cb(h, 2, 2, 5);
            (Op::Jal, 0, 0, 0, sext(imm, 12))
        }
        (1, _) => {
            // c.beqz / c.bnez: imm[8|4:3] = 12:10, imm[7:6|2:1|5] = 6:2.
            let imm = cb(h, 12, 12, 8)
                | cb(h, 11, 10, 3)
                | cb(h, 6, 5, 6)
                | cb(h, 4, 3, 1)
                | cb(h, 2, 2, 5);
            let op = if funct3 == 6 { Op::Beq } else { Op::Bne };
            (op, 0, p_hi, 0, sext(imm, 9))
        }
        // c.slli (shamt 6 bits).
        (2, 0) => (
            Op::Slli,
            r_hi,
            r_hi,
            0,
            (cb(h, 12, 12, 5) | cb(h, 6, 2, 0)) as i32,
        ),
        (2, 1 | 3) => {
            // c.fldsp / c.ldsp: uimm[5] = 12, uimm[4:3] = 6:5, uimm[8:6] = 4:2.
            let imm = (cb(h, 12, 12, 5) | cb(h, 6, 5, 3) | cb(h, 4, 2, 6)) as i32;
            if funct3 == 1 {
                (Op::Fld, r_hi, 2, 0, imm)
            } else if r_hi == 0 {
                return illegal;
            } else {
                (Op::Ld, r_hi, 2, 0, imm)
            }
        }
        (2, 2) => {
            // c.lwsp: uimm[5] = 12, uimm[4:2] = 6:4, uimm[7:6] = 3:2.
            if r_hi == 0 {
                return illegal;
            }
            let imm = (cb(h, 12, 12, 5) | cb(h, 6, 4, 2) | cb(h, 3, 2, 6)) as i32;
            (Op::Lw, r_hi, 2, 0, imm)
        }
        (2, 4) => match (h >> 12 & 1, r_hi, r_lo) {
            (0, 0, 0) => return illegal,
            (0, _, 0) => (Op::Jalr, 0, r_hi, 0, 0),   // c.jr
            (0, _, _) => (Op::Add, r_hi, 0, r_lo, 0), // c.mv
            (_, 0, 0) => (Op::Ebreak, 0, 0, 0, 0),    // c.ebreak
            (_, _, 0) => (Op::Jalr, 1, r_hi, 0, 0),   // c.jalr
            _ => (Op::Add, r_hi, r_hi, r_lo, 0),      // c.add
        },
        (2, 5 | 7) => {
            // c.fsdsp / c.sdsp: uimm[5:3] = 12:10, uimm[8:6] = 9:7.
            let imm = (cb(h, 12, 10, 3) | cb(h, 9, 7, 6)) as i32;
            let op = if funct3 == 5 { Op::Fsd } else { Op::Sd };
            (op, 0, 2, r_lo, imm)
        }
        (2, 6) => {
            // c.swsp: uimm[5:2] = 12:9, uimm[7:6] = 8:7.
            let imm = (cb(h, 12, 9, 2) | cb(h, 8, 7, 6)) as i32;
            (Op::Sw, 0, 2, r_lo, imm)
        }
        _ => return illegal,
    };
    (i.op, i.rd, i.rs1, i.rs2, i.imm) = (op, rd, rs1, rs2, imm);
    i
}

/// Decodes the instruction starting with the 16-bit parcel `low`; `high` is the next parcel
/// (only read for 32-bit instructions).
pub fn decode(low: u16, high: impl FnOnce() -> u16) -> Inst {
    if inst_len(low) == 2 {
        decode16(low)
    } else {
        decode32(low as u32 | (high() as u32) << 16)
    }
}
