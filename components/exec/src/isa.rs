//! The instruction set, defined once.
//!
//! `for_each_inst!` is the single list of every instruction friscy executes: its `Op` name
//! (the spec's mnemonic in CamelCase), mnemonic, operand format, extension and encoding
//! (match and mask, as in riscv-opcodes). The decoder (`decode.rs`) is the only place that
//! turns bits into an `Inst`; the disassembler (`disasm.rs`) and the interpreter
//! (`interp/`) consume the decoded form, and the interpreter's `match` has no wildcard arm,
//! so a new line here does not compile until it is executed. Compressed (RV64C) forms have
//! no entries of their own: the decoder expands them into these base-ISA ops.

/// The operand shape of an instruction: which fields the decoder extracts into an `Inst`,
/// and how the disassembler prints them (`x` = integer register, `f` = float register).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `rd, rs1, rs2` (x, x, x).
    R,
    /// `rd, rs1` (x, x): Zbb unary ops.
    R1,
    /// `rd, rs1, imm` with a 12-bit signed immediate.
    I,
    /// `rd, imm(rs1)`: integer loads.
    Load,
    /// `rd, imm(rs1)`: jalr.
    Jalr,
    /// `rs2, imm(rs1)`: integer stores.
    S,
    /// `rs1, rs2, target`.
    B,
    /// `rd, imm[31:12]`.
    U,
    /// `rd, target`.
    J,
    /// `rd, rs1, shamt` with a 6-bit shift amount.
    Sh6,
    /// `rd, rs1, shamt` with a 5-bit shift amount (the *W forms).
    Sh5,
    /// `pred, succ` (fence; the fm bits are ignored, so fence.tso and pause are fences).
    Fence,
    /// No operands.
    None,
    /// `rd, csr, rs1`.
    Csr,
    /// `rd, csr, uimm5` (the uimm sits in `rs1`).
    CsrI,
    /// `rd, (rs1)`: lr.
    Lr,
    /// `rd, rs2, (rs1)`: sc and the AMOs.
    Amo,
    /// `fd, imm(rs1)`: float loads.
    FLoad,
    /// `fs2, imm(rs1)`: float stores.
    FStore,
    /// `fd, fs1, fs2, fs3, rm`: fused multiply-add.
    R4,
    /// `fd, fs1, fs2, rm`.
    Frm,
    /// `fd, fs1, fs2` (no rounding mode).
    F,
    /// `rd, fs1, fs2`: comparisons.
    Fcmp,
    /// `fd, fs1, rm`: fsqrt and float-float conversions.
    F1rm,
    /// `rd, fs1, rm`: float-to-integer conversions.
    XFrm,
    /// `fd, rs1, rm`: integer-to-float conversions.
    FXrm,
    /// `rd, fs1`: fmv.x.* and fclass.
    XF,
    /// `fd, rs1`: fmv.*.x.
    FX,
}

impl Format {
    /// Whether `rd` names a floating-point register the instruction writes.
    pub const fn writes_f(self) -> bool {
        use Format::*;
        matches!(self, FLoad | R4 | Frm | F | F1rm | FXrm | FX)
    }

    /// Whether `rs1` names a floating-point register the instruction reads.
    pub const fn reads_f_rs1(self) -> bool {
        use Format::*;
        matches!(self, R4 | Frm | F | Fcmp | F1rm | XFrm | XF)
    }

    /// Whether `rs2` names a floating-point register the instruction reads.
    pub const fn reads_f_rs2(self) -> bool {
        use Format::*;
        matches!(self, R4 | Frm | F | Fcmp | FStore)
    }

    /// Whether `rs3` names a floating-point register the instruction reads (fused
    /// multiply-add only).
    pub const fn reads_f_rs3(self) -> bool {
        matches!(self, Format::R4)
    }

    /// Whether `rd` names an integer register the instruction writes.
    pub const fn writes_x(self) -> bool {
        matches!(
            self,
            Format::R
                | Format::R1
                | Format::I
                | Format::Load
                | Format::Jalr
                | Format::U
                | Format::J
                | Format::Sh6
                | Format::Sh5
                | Format::Csr
                | Format::CsrI
                | Format::Lr
                | Format::Amo
                | Format::Fcmp
                | Format::XFrm
                | Format::XF
        )
    }

    /// Whether the instruction carries a rounding-mode field (`Inst::rm`). For these the
    /// decoder also keeps the raw bits in `Inst::imm`, to report an invalid dynamic rounding
    /// mode as an illegal instruction.
    pub const fn has_rm(self) -> bool {
        matches!(
            self,
            Format::R4 | Format::Frm | Format::F1rm | Format::XFrm | Format::FXrm
        )
    }
}

/// The extension an instruction belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ext {
    I,
    M,
    A,
    F,
    D,
    Zicsr,
    Zifencei,
    Zba,
    Zbb,
    Zbs,
}

/// One row of the instruction table.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub op: Op,
    pub mnemonic: &'static str,
    pub format: Format,
    pub ext: Ext,
    /// The fixed bits of the encoding ...
    pub bits: u32,
    /// ... and which bits are fixed.
    pub mask: u32,
}

/// The instruction list. `$m` is called once with every row as
/// `Name "mnemonic" Format Ext match mask;`.
macro_rules! for_each_inst {
    ($m:ident) => {
        $m! {
            // RV64I (RISC-V unpriv chapters 2 and 4).
            Lui "lui" U I 0x0000_0037 0x0000_007f;
            Auipc "auipc" U I 0x0000_0017 0x0000_007f;
            Jal "jal" J I 0x0000_006f 0x0000_007f;
            Jalr "jalr" Jalr I 0x0000_0067 0x0000_707f;
            Beq "beq" B I 0x0000_0063 0x0000_707f;
            Bne "bne" B I 0x0000_1063 0x0000_707f;
            Blt "blt" B I 0x0000_4063 0x0000_707f;
            Bge "bge" B I 0x0000_5063 0x0000_707f;
            Bltu "bltu" B I 0x0000_6063 0x0000_707f;
            Bgeu "bgeu" B I 0x0000_7063 0x0000_707f;
            Lb "lb" Load I 0x0000_0003 0x0000_707f;
            Lh "lh" Load I 0x0000_1003 0x0000_707f;
            Lw "lw" Load I 0x0000_2003 0x0000_707f;
            Ld "ld" Load I 0x0000_3003 0x0000_707f;
            Lbu "lbu" Load I 0x0000_4003 0x0000_707f;
            Lhu "lhu" Load I 0x0000_5003 0x0000_707f;
            Lwu "lwu" Load I 0x0000_6003 0x0000_707f;
            Sb "sb" S I 0x0000_0023 0x0000_707f;
            Sh "sh" S I 0x0000_1023 0x0000_707f;
            Sw "sw" S I 0x0000_2023 0x0000_707f;
            Sd "sd" S I 0x0000_3023 0x0000_707f;
            Addi "addi" I I 0x0000_0013 0x0000_707f;
            Slti "slti" I I 0x0000_2013 0x0000_707f;
            Sltiu "sltiu" I I 0x0000_3013 0x0000_707f;
            Xori "xori" I I 0x0000_4013 0x0000_707f;
            Ori "ori" I I 0x0000_6013 0x0000_707f;
            Andi "andi" I I 0x0000_7013 0x0000_707f;
            Slli "slli" Sh6 I 0x0000_1013 0xfc00_707f;
            Srli "srli" Sh6 I 0x0000_5013 0xfc00_707f;
            Srai "srai" Sh6 I 0x4000_5013 0xfc00_707f;
            Add "add" R I 0x0000_0033 0xfe00_707f;
            Sub "sub" R I 0x4000_0033 0xfe00_707f;
            Sll "sll" R I 0x0000_1033 0xfe00_707f;
            Slt "slt" R I 0x0000_2033 0xfe00_707f;
            Sltu "sltu" R I 0x0000_3033 0xfe00_707f;
            Xor "xor" R I 0x0000_4033 0xfe00_707f;
            Srl "srl" R I 0x0000_5033 0xfe00_707f;
            Sra "sra" R I 0x4000_5033 0xfe00_707f;
            Or "or" R I 0x0000_6033 0xfe00_707f;
            And "and" R I 0x0000_7033 0xfe00_707f;
            Addiw "addiw" I I 0x0000_001b 0x0000_707f;
            Slliw "slliw" Sh5 I 0x0000_101b 0xfe00_707f;
            Srliw "srliw" Sh5 I 0x0000_501b 0xfe00_707f;
            Sraiw "sraiw" Sh5 I 0x4000_501b 0xfe00_707f;
            Addw "addw" R I 0x0000_003b 0xfe00_707f;
            Subw "subw" R I 0x4000_003b 0xfe00_707f;
            Sllw "sllw" R I 0x0000_103b 0xfe00_707f;
            Srlw "srlw" R I 0x0000_503b 0xfe00_707f;
            Sraw "sraw" R I 0x4000_503b 0xfe00_707f;
            Fence "fence" Fence I 0x0000_000f 0x0000_707f;
            Ecall "ecall" None I 0x0000_0073 0xffff_ffff;
            Ebreak "ebreak" None I 0x0010_0073 0xffff_ffff;
            // Zifencei.
            FenceI "fence.i" None Zifencei 0x0000_100f 0x0000_707f;
            // Zicsr.
            Csrrw "csrrw" Csr Zicsr 0x0000_1073 0x0000_707f;
            Csrrs "csrrs" Csr Zicsr 0x0000_2073 0x0000_707f;
            Csrrc "csrrc" Csr Zicsr 0x0000_3073 0x0000_707f;
            Csrrwi "csrrwi" CsrI Zicsr 0x0000_5073 0x0000_707f;
            Csrrsi "csrrsi" CsrI Zicsr 0x0000_6073 0x0000_707f;
            Csrrci "csrrci" CsrI Zicsr 0x0000_7073 0x0000_707f;
            // M.
            Mul "mul" R M 0x0200_0033 0xfe00_707f;
            Mulh "mulh" R M 0x0200_1033 0xfe00_707f;
            Mulhsu "mulhsu" R M 0x0200_2033 0xfe00_707f;
            Mulhu "mulhu" R M 0x0200_3033 0xfe00_707f;
            Div "div" R M 0x0200_4033 0xfe00_707f;
            Divu "divu" R M 0x0200_5033 0xfe00_707f;
            Rem "rem" R M 0x0200_6033 0xfe00_707f;
            Remu "remu" R M 0x0200_7033 0xfe00_707f;
            Mulw "mulw" R M 0x0200_003b 0xfe00_707f;
            Divw "divw" R M 0x0200_403b 0xfe00_707f;
            Divuw "divuw" R M 0x0200_503b 0xfe00_707f;
            Remw "remw" R M 0x0200_603b 0xfe00_707f;
            Remuw "remuw" R M 0x0200_703b 0xfe00_707f;
            // A (the aq/rl bits are ignored: one hart runs at a time).
            LrW "lr.w" Lr A 0x1000_202f 0xf9f0_707f;
            ScW "sc.w" Amo A 0x1800_202f 0xf800_707f;
            AmoswapW "amoswap.w" Amo A 0x0800_202f 0xf800_707f;
            AmoaddW "amoadd.w" Amo A 0x0000_202f 0xf800_707f;
            AmoxorW "amoxor.w" Amo A 0x2000_202f 0xf800_707f;
            AmoandW "amoand.w" Amo A 0x6000_202f 0xf800_707f;
            AmoorW "amoor.w" Amo A 0x4000_202f 0xf800_707f;
            AmominW "amomin.w" Amo A 0x8000_202f 0xf800_707f;
            AmomaxW "amomax.w" Amo A 0xa000_202f 0xf800_707f;
            AmominuW "amominu.w" Amo A 0xc000_202f 0xf800_707f;
            AmomaxuW "amomaxu.w" Amo A 0xe000_202f 0xf800_707f;
            LrD "lr.d" Lr A 0x1000_302f 0xf9f0_707f;
            ScD "sc.d" Amo A 0x1800_302f 0xf800_707f;
            AmoswapD "amoswap.d" Amo A 0x0800_302f 0xf800_707f;
            AmoaddD "amoadd.d" Amo A 0x0000_302f 0xf800_707f;
            AmoxorD "amoxor.d" Amo A 0x2000_302f 0xf800_707f;
            AmoandD "amoand.d" Amo A 0x6000_302f 0xf800_707f;
            AmoorD "amoor.d" Amo A 0x4000_302f 0xf800_707f;
            AmominD "amomin.d" Amo A 0x8000_302f 0xf800_707f;
            AmomaxD "amomax.d" Amo A 0xa000_302f 0xf800_707f;
            AmominuD "amominu.d" Amo A 0xc000_302f 0xf800_707f;
            AmomaxuD "amomaxu.d" Amo A 0xe000_302f 0xf800_707f;
            // F.
            Flw "flw" FLoad F 0x0000_2007 0x0000_707f;
            Fsw "fsw" FStore F 0x0000_2027 0x0000_707f;
            FmaddS "fmadd.s" R4 F 0x0000_0043 0x0600_007f;
            FmsubS "fmsub.s" R4 F 0x0000_0047 0x0600_007f;
            FnmsubS "fnmsub.s" R4 F 0x0000_004b 0x0600_007f;
            FnmaddS "fnmadd.s" R4 F 0x0000_004f 0x0600_007f;
            FaddS "fadd.s" Frm F 0x0000_0053 0xfe00_007f;
            FsubS "fsub.s" Frm F 0x0800_0053 0xfe00_007f;
            FmulS "fmul.s" Frm F 0x1000_0053 0xfe00_007f;
            FdivS "fdiv.s" Frm F 0x1800_0053 0xfe00_007f;
            FsqrtS "fsqrt.s" F1rm F 0x5800_0053 0xfff0_007f;
            FsgnjS "fsgnj.s" F F 0x2000_0053 0xfe00_707f;
            FsgnjnS "fsgnjn.s" F F 0x2000_1053 0xfe00_707f;
            FsgnjxS "fsgnjx.s" F F 0x2000_2053 0xfe00_707f;
            FminS "fmin.s" F F 0x2800_0053 0xfe00_707f;
            FmaxS "fmax.s" F F 0x2800_1053 0xfe00_707f;
            FcvtWS "fcvt.w.s" XFrm F 0xc000_0053 0xfff0_007f;
            FcvtWuS "fcvt.wu.s" XFrm F 0xc010_0053 0xfff0_007f;
            FcvtLS "fcvt.l.s" XFrm F 0xc020_0053 0xfff0_007f;
            FcvtLuS "fcvt.lu.s" XFrm F 0xc030_0053 0xfff0_007f;
            FmvXW "fmv.x.w" XF F 0xe000_0053 0xfff0_707f;
            FclassS "fclass.s" XF F 0xe000_1053 0xfff0_707f;
            FeqS "feq.s" Fcmp F 0xa000_2053 0xfe00_707f;
            FltS "flt.s" Fcmp F 0xa000_1053 0xfe00_707f;
            FleS "fle.s" Fcmp F 0xa000_0053 0xfe00_707f;
            FcvtSW "fcvt.s.w" FXrm F 0xd000_0053 0xfff0_007f;
            FcvtSWu "fcvt.s.wu" FXrm F 0xd010_0053 0xfff0_007f;
            FcvtSL "fcvt.s.l" FXrm F 0xd020_0053 0xfff0_007f;
            FcvtSLu "fcvt.s.lu" FXrm F 0xd030_0053 0xfff0_007f;
            FmvWX "fmv.w.x" FX F 0xf000_0053 0xfff0_707f;
            // D.
            Fld "fld" FLoad D 0x0000_3007 0x0000_707f;
            Fsd "fsd" FStore D 0x0000_3027 0x0000_707f;
            FmaddD "fmadd.d" R4 D 0x0200_0043 0x0600_007f;
            FmsubD "fmsub.d" R4 D 0x0200_0047 0x0600_007f;
            FnmsubD "fnmsub.d" R4 D 0x0200_004b 0x0600_007f;
            FnmaddD "fnmadd.d" R4 D 0x0200_004f 0x0600_007f;
            FaddD "fadd.d" Frm D 0x0200_0053 0xfe00_007f;
            FsubD "fsub.d" Frm D 0x0a00_0053 0xfe00_007f;
            FmulD "fmul.d" Frm D 0x1200_0053 0xfe00_007f;
            FdivD "fdiv.d" Frm D 0x1a00_0053 0xfe00_007f;
            FsqrtD "fsqrt.d" F1rm D 0x5a00_0053 0xfff0_007f;
            FsgnjD "fsgnj.d" F D 0x2200_0053 0xfe00_707f;
            FsgnjnD "fsgnjn.d" F D 0x2200_1053 0xfe00_707f;
            FsgnjxD "fsgnjx.d" F D 0x2200_2053 0xfe00_707f;
            FminD "fmin.d" F D 0x2a00_0053 0xfe00_707f;
            FmaxD "fmax.d" F D 0x2a00_1053 0xfe00_707f;
            FcvtSD "fcvt.s.d" F1rm D 0x4010_0053 0xfff0_007f;
            FcvtDS "fcvt.d.s" F1rm D 0x4200_0053 0xfff0_007f;
            FeqD "feq.d" Fcmp D 0xa200_2053 0xfe00_707f;
            FltD "flt.d" Fcmp D 0xa200_1053 0xfe00_707f;
            FleD "fle.d" Fcmp D 0xa200_0053 0xfe00_707f;
            FclassD "fclass.d" XF D 0xe200_1053 0xfff0_707f;
            FcvtWD "fcvt.w.d" XFrm D 0xc200_0053 0xfff0_007f;
            FcvtWuD "fcvt.wu.d" XFrm D 0xc210_0053 0xfff0_007f;
            FcvtLD "fcvt.l.d" XFrm D 0xc220_0053 0xfff0_007f;
            FcvtLuD "fcvt.lu.d" XFrm D 0xc230_0053 0xfff0_007f;
            FcvtDW "fcvt.d.w" FXrm D 0xd200_0053 0xfff0_007f;
            FcvtDWu "fcvt.d.wu" FXrm D 0xd210_0053 0xfff0_007f;
            FcvtDL "fcvt.d.l" FXrm D 0xd220_0053 0xfff0_007f;
            FcvtDLu "fcvt.d.lu" FXrm D 0xd230_0053 0xfff0_007f;
            FmvXD "fmv.x.d" XF D 0xe200_0053 0xfff0_707f;
            FmvDX "fmv.d.x" FX D 0xf200_0053 0xfff0_707f;
            // Zba.
            AddUw "add.uw" R Zba 0x0800_003b 0xfe00_707f;
            Sh1add "sh1add" R Zba 0x2000_2033 0xfe00_707f;
            Sh2add "sh2add" R Zba 0x2000_4033 0xfe00_707f;
            Sh3add "sh3add" R Zba 0x2000_6033 0xfe00_707f;
            Sh1addUw "sh1add.uw" R Zba 0x2000_203b 0xfe00_707f;
            Sh2addUw "sh2add.uw" R Zba 0x2000_403b 0xfe00_707f;
            Sh3addUw "sh3add.uw" R Zba 0x2000_603b 0xfe00_707f;
            SlliUw "slli.uw" Sh6 Zba 0x0800_101b 0xfc00_707f;
            // Zbb.
            Andn "andn" R Zbb 0x4000_7033 0xfe00_707f;
            Orn "orn" R Zbb 0x4000_6033 0xfe00_707f;
            Xnor "xnor" R Zbb 0x4000_4033 0xfe00_707f;
            Clz "clz" R1 Zbb 0x6000_1013 0xfff0_707f;
            Clzw "clzw" R1 Zbb 0x6000_101b 0xfff0_707f;
            Ctz "ctz" R1 Zbb 0x6010_1013 0xfff0_707f;
            Ctzw "ctzw" R1 Zbb 0x6010_101b 0xfff0_707f;
            Cpop "cpop" R1 Zbb 0x6020_1013 0xfff0_707f;
            Cpopw "cpopw" R1 Zbb 0x6020_101b 0xfff0_707f;
            Max "max" R Zbb 0x0a00_6033 0xfe00_707f;
            Maxu "maxu" R Zbb 0x0a00_7033 0xfe00_707f;
            Min "min" R Zbb 0x0a00_4033 0xfe00_707f;
            Minu "minu" R Zbb 0x0a00_5033 0xfe00_707f;
            SextB "sext.b" R1 Zbb 0x6040_1013 0xfff0_707f;
            SextH "sext.h" R1 Zbb 0x6050_1013 0xfff0_707f;
            ZextH "zext.h" R1 Zbb 0x0800_403b 0xfff0_707f;
            Rol "rol" R Zbb 0x6000_1033 0xfe00_707f;
            Rolw "rolw" R Zbb 0x6000_103b 0xfe00_707f;
            Ror "ror" R Zbb 0x6000_5033 0xfe00_707f;
            Rorw "rorw" R Zbb 0x6000_503b 0xfe00_707f;
            Rori "rori" Sh6 Zbb 0x6000_5013 0xfc00_707f;
            Roriw "roriw" Sh5 Zbb 0x6000_501b 0xfe00_707f;
            OrcB "orc.b" R1 Zbb 0x2870_5013 0xfff0_707f;
            Rev8 "rev8" R1 Zbb 0x6b80_5013 0xfff0_707f;
            // Zbs.
            Bclr "bclr" R Zbs 0x4800_1033 0xfe00_707f;
            Bclri "bclri" Sh6 Zbs 0x4800_1013 0xfc00_707f;
            Bext "bext" R Zbs 0x4800_5033 0xfe00_707f;
            Bexti "bexti" Sh6 Zbs 0x4800_5013 0xfc00_707f;
            Binv "binv" R Zbs 0x6800_1033 0xfe00_707f;
            Binvi "binvi" Sh6 Zbs 0x6800_1013 0xfc00_707f;
            Bset "bset" R Zbs 0x2800_1033 0xfe00_707f;
            Bseti "bseti" Sh6 Zbs 0x2800_1013 0xfc00_707f;
        }
    };
}

// `for_each_pair!`: the superinstructions, generated by build.rs.
include!(concat!(env!("OUT_DIR"), "/pairs.rs"));
pub(crate) use for_each_pair;

/// `Op`: the table's rows, `Illegal`, then the superinstructions.
macro_rules! define_op {
    ([$($name:ident)*] $($pair:ident $first:ident $second:ident;)*) => {
        /// A decoded operation. Every variant before `Illegal` is a row of the table; those
        /// after it are superinstructions (see `Op::pair`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Op {
            $($name,)*
            /// Not a valid (or not an implemented) instruction; `Inst::imm` holds its bits.
            Illegal,
            $($pair,)*
        }

        impl Op {
            /// For a superinstruction, the two ops it stands for.
            ///
            /// A superinstruction is never decoded: `block.rs` writes it over the first of
            /// two adjacent instructions (operands and all stay that instruction's, and
            /// the second stays in the next slot as it was). The interpreter's fast tier
            /// runs both with one dispatch; everything else (the full interpreter, the
            /// disassembler) sees the first alone.
            pub const fn pair(self) -> Option<(Op, Op)> {
                match self {
                    $(Op::$pair => Some((Op::$first, Op::$second)),)*
                    _ => None,
                }
            }

            /// The superinstruction for `first` followed by `second`, if there is one.
            pub const fn fuse(first: Op, second: Op) -> Option<Op> {
                match (first, second) {
                    $((Op::$first, Op::$second) => Some(Op::$pair),)*
                    _ => None,
                }
            }
        }
    };
}

macro_rules! define_isa {
    ($($name:ident $mn:literal $fmt:ident $ext:ident $bits:literal $mask:literal;)*) => {
        for_each_pair!(define_op [$($name)*]);

        /// The table, in `Op` order (so `TABLE[op as usize]` is `op`'s row).
        pub static TABLE: &[Entry] = &[
            $(Entry {
                op: Op::$name,
                mnemonic: $mn,
                format: Format::$fmt,
                ext: Ext::$ext,
                bits: $bits,
                mask: $mask,
            },)*
        ];
    };
}

for_each_inst!(define_isa);

impl Op {
    /// This op's table row (`None` for `Illegal`); a superinstruction's is its first op's.
    pub fn entry(self) -> Option<&'static Entry> {
        let op = match self.pair() {
            Some((first, _)) => first,
            None => self,
        };
        TABLE.get(op as usize)
    }

    /// The assembler mnemonic.
    pub fn mnemonic(self) -> &'static str {
        self.entry().map_or("unimp", |e| e.mnemonic)
    }

    /// The operand format (`Illegal` is printed without operands).
    pub fn format(self) -> Format {
        self.entry().map_or(Format::None, |e| e.format)
    }
}

/// A decoded instruction: what the block cache stores and the interpreter executes.
///
/// `imm` is the sign-extended immediate, the shift amount or the fence bits; for CSR
/// accesses, formats with a rounding mode and `Illegal` it is the raw instruction bits
/// (the CSR number is `imm >> 20`), so the interpreter can report them as illegal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inst {
    pub op: Op,
    pub rd: u8,
    pub rs1: u8,
    pub rs2: u8,
    pub rs3: u8,
    /// Rounding mode field (0..=7) for floating-point ops.
    pub rm: u8,
    /// Encoded length in bytes: 2 (compressed) or 4.
    pub len: u8,
    pub imm: i32,
}

impl Inst {
    /// An `Illegal` instruction carrying its bits.
    pub fn illegal(bits: u32, len: u8) -> Inst {
        Inst {
            op: Op::Illegal,
            rd: 0,
            rs1: 0,
            rs2: 0,
            rs3: 0,
            rm: 0,
            len,
            imm: bits as i32,
        }
    }

    /// Whether a basic block ends after this instruction: control transfers, traps, and
    /// instructions whose effects the block loop must observe (fence.i, CSR accesses).
    pub fn ends_block(&self) -> bool {
        use Op::*;
        matches!(
            self.op,
            Jal | Jalr
                | Beq
                | Bne
                | Blt
                | Bge
                | Bltu
                | Bgeu
                | Ecall
                | Ebreak
                | FenceI
                | Csrrw
                | Csrrs
                | Csrrc
                | Csrrwi
                | Csrrsi
                | Csrrci
                | Illegal
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_op_order_and_unambiguous() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.op as usize, i);
            assert_eq!(e.bits & !e.mask, 0, "{}", e.mnemonic);
            for other in &TABLE[i + 1..] {
                // Two rows overlap if some word matches both.
                let common = e.mask & other.mask;
                assert!(
                    (e.bits ^ other.bits) & common != 0,
                    "{} overlaps {}",
                    e.mnemonic,
                    other.mnemonic
                );
            }
        }
    }
}
