//! Random instruction sequences for the differential fuzzer, as GNU assembler text.
//!
//! A `Seq` is one self-contained test: the initial register file, fcsr and a 512-byte
//! scratch buffer (all drawn from `Rng`), and a body of `Item`s. An item is the unit the
//! shrinker removes: one instruction, or a few that only make sense together (an address
//! computation and the AMO that uses it, an LR/SC pair). Everything a body does is defined
//! by the spec and the same on every implementation:
//!
//! - control flow goes forward, to an item boundary or the end, or back to an earlier
//!   item through a loop item, which first counts down one of `LOOP_SLOTS` counters
//!   (at `LOOP_COUNT`, each starting at `LOOP_TRIPS`, shared by the loop items that
//!   picked it), so every body ends; separate counters let an inner loop run out while
//!   an outer one still loops;
//! - memory accesses stay inside the sequence's scratch buffer; AMOs and LR/SC are aligned
//!   (a misaligned AMO may trap); plain loads and stores may be misaligned (Linux, and
//!   qemu-user, complete them);
//! - an SC follows its LR at the same address with only register ALU operations between,
//!   or has no reservation at all (RISC-V unpriv 14.2 leaves an SC after an intervening
//!   store of the same hart implementation-defined);
//! - frm only ever holds a valid rounding mode (0..=4), so dynamic rounding never traps;
//! - no counters (cycle, time, instret), no ecall/ebreak.
//!
//! The base register (`Seq::base`) points at the scratch buffer and is never written; the
//! other 30 x registers are all fair game, sp included.

use std::fmt::Write;

use crate::values::Rng;

/// Size of the scratch buffer the base register points at.
/// (512, so that sp-relative compressed loads and stores use their largest offsets.)
pub const SCRATCH: i64 = 512;
/// Layout of a sequence's data region, as offsets from the base register. The whole region
/// is printed at the end, so the scratch buffer and the dumps are compared.
pub const INIT_X: i64 = 512;
pub const INIT_F: i64 = 768;
pub const INIT_FCSR: i64 = 1024;
/// The loop items' trip counters, and their initial value.
pub const LOOP_COUNT: i64 = 1032;
pub const LOOP_SLOTS: i64 = 4;
pub const LOOP_TRIPS: u64 = 3;
pub const DUMP_X: i64 = 1280;
pub const DUMP_F: i64 = 1536;
pub const DUMP_FCSR: i64 = 1792;
pub const REGION: usize = 2048;

/// One removable unit of a body. `{T}` in a line stands for the label of item `target`
/// (an index into the body, or the body's length for its end).
#[derive(Clone, Debug)]
pub struct Item {
    pub lines: Vec<String>,
    pub target: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Seq {
    pub base: u8,
    /// Whether the assembler may emit compressed instructions.
    pub rvc: bool,
    pub init_x: [u64; 32],
    pub init_f: [u64; 32],
    pub init_fcsr: u64,
    pub scratch: Vec<u8>,
    pub body: Vec<Item>,
}

// Mnemonics by operand shape.
const INT_R: &[&str] = &[
    "add",
    "sub",
    "sll",
    "slt",
    "sltu",
    "xor",
    "srl",
    "sra",
    "or",
    "and",
    "addw",
    "subw",
    "sllw",
    "srlw",
    "sraw",
    "mul",
    "mulh",
    "mulhsu",
    "mulhu",
    "div",
    "divu",
    "rem",
    "remu",
    "mulw",
    "divw",
    "divuw",
    "remw",
    "remuw",
    "add.uw",
    "sh1add",
    "sh2add",
    "sh3add",
    "sh1add.uw",
    "sh2add.uw",
    "sh3add.uw",
    "andn",
    "orn",
    "xnor",
    "max",
    "maxu",
    "min",
    "minu",
    "rol",
    "rolw",
    "ror",
    "rorw",
    "bclr",
    "bext",
    "binv",
    "bset",
];
const INT_I: &[&str] = &["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"];
const SHIFT64: &[&str] = &[
    "slli", "srli", "srai", "slli.uw", "rori", "bclri", "bexti", "binvi", "bseti",
];
const SHIFT32: &[&str] = &["slliw", "srliw", "sraiw", "roriw"];
const UNARY: &[&str] = &[
    "clz", "clzw", "ctz", "cpop", "cpopw", "sext.b", "sext.h", "zext.h", "orc.b", "rev8",
];
/// (mnemonic, size) of integer loads and stores.
const LOADS: &[(&str, i64)] = &[
    ("lb", 1),
    ("lh", 2),
    ("lw", 4),
    ("ld", 8),
    ("lbu", 1),
    ("lhu", 2),
    ("lwu", 4),
];
const STORES: &[(&str, i64)] = &[("sb", 1), ("sh", 2), ("sw", 4), ("sd", 8)];
const AMOS: &[&str] = &[
    "amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax", "amominu", "amomaxu",
];
const ORDERING: &[&str] = &["", ".aq", ".rl", ".aqrl"];
const BRANCHES: &[&str] = &["beq", "bne", "blt", "bge", "bltu", "bgeu"];
/// Round-to-nearest-even twice as often: it has native fast paths, the others do not.
const RM: &[&str] = &["rne", "rne", "rtz", "rdn", "rup", "rmm", "dyn", "dyn"];
const FP_R4: &[&str] = &["fmadd", "fmsub", "fnmsub", "fnmadd"];
const FP_RRM: &[&str] = &["fadd", "fsub", "fmul", "fdiv"];
const FP_R: &[&str] = &["fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax"];
const FP_CMP: &[&str] = &["feq", "flt", "fle"];
const FP_INT: &[&str] = &["w", "wu", "l", "lu"];

/// Builds one sequence's body.
struct Builder<'a> {
    rng: &'a mut Rng,
    base: u8,
    /// Percent of items that are floating-point operations ...
    fp_pct: u64,
    /// ... and of those, double-precision ones (the sequence's f registers hold mostly
    /// values of the same precision, so operands are rarely the canonical-NaN reading of a
    /// mis-boxed value).
    double_pct: u64,
    lr_sc: bool,
}

impl Builder<'_> {
    /// A destination x register: never the base; x0 sometimes; x8..x15 (the registers
    /// compressed forms can name) often.
    fn wr(&mut self) -> u8 {
        loop {
            let r = match self.rng.below(20) {
                0 => 0,
                1..=7 => 8 + self.rng.below(8) as u8,
                _ => self.rng.below(32) as u8,
            };
            if r != self.base {
                return r;
            }
        }
    }
    /// A destination that is not x0 or any of `avoid`.
    fn wr_not(&mut self, avoid: &[u8]) -> u8 {
        loop {
            let r = self.wr();
            if r != 0 && !avoid.contains(&r) {
                return r;
            }
        }
    }
    /// A source x register (the base included).
    fn rs(&mut self) -> u8 {
        match self.rng.below(10) {
            0..=2 => 8 + self.rng.below(8) as u8,
            _ => self.rng.below(32) as u8,
        }
    }
    fn fr(&mut self) -> u8 {
        self.rng.below(32) as u8
    }
    /// An offset in the scratch buffer for an access of `size` bytes, aligned unless
    /// `misaligned_ok` and the dice say otherwise.
    fn offset(&mut self, size: i64, misaligned_ok: bool) -> i64 {
        let off = self.rng.range(0, SCRATCH - size);
        if misaligned_ok && self.rng.chance(15) {
            off
        } else {
            off & !(size - 1)
        }
    }

    /// `op rd, off(base)` or, through a derived pointer, `addi t, base, o1; op rd, o2(t)`.
    fn mem(&mut self, op: &str, reg: String, size: i64) -> Vec<String> {
        let off = self.offset(size, true);
        let b = self.base;
        if self.rng.chance(50) {
            return vec![format!("{op} {reg}, {off}(x{b})")];
        }
        let t = self.wr_not(&[]);
        let o1 = self.rng.range(0, SCRATCH);
        vec![
            format!("addi x{t}, x{b}, {o1}"),
            format!("{op} {reg}, {}(x{t})", off - o1),
        ]
    }

    fn int_alu(&mut self, avoid: &[u8]) -> String {
        let rd = self.wr_not(avoid);
        let rd = if self.rng.chance(5) { 0 } else { rd };
        let rs1 = if self.rng.chance(25) { rd } else { self.rs() };
        match self.rng.below(10) {
            0..=3 => {
                let rs2 = if self.rng.chance(10) { rs1 } else { self.rs() };
                format!("{} x{rd}, x{rs1}, x{rs2}", self.rng.pick(INT_R))
            }
            4..=5 => format!(
                "{} x{rd}, x{rs1}, {}",
                self.rng.pick(INT_I),
                self.rng.imm12()
            ),
            6 => {
                let sh = self.rng.below(64);
                format!("{} x{rd}, x{rs1}, {sh}", self.rng.pick(SHIFT64))
            }
            7 => {
                let sh = self.rng.below(32);
                format!("{} x{rd}, x{rs1}, {sh}", self.rng.pick(SHIFT32))
            }
            8 => format!("{} x{rd}, x{rs1}", self.rng.pick(UNARY)),
            _ => {
                let op = if self.rng.chance(50) { "lui" } else { "auipc" };
                let imm = match self.rng.below(3) {
                    0 => self
                        .rng
                        .pick(&[0, 1, 0x7ffff, 0x80000, 0xfffff, 31, 0xfffe0]),
                    _ => self.rng.below(1 << 20),
                };
                format!("{op} x{rd}, {imm:#x}")
            }
        }
    }

    /// Patterns the assembler turns into RV64C forms when the sequence allows them.
    fn compressible(&mut self) -> Vec<String> {
        let c = 8 + self.rng.below(8) as u8; // a register compressed forms can name
        let c = if c == self.base { 8 + (c - 7) % 8 } else { c };
        let c2 = 8 + self.rng.below(8) as u8;
        let r = self.wr_not(&[2]);
        let b = self.base;
        match self.rng.below(12) {
            0 if b != 2 => {
                let k = self.rng.pick(&[-32, -31, -16, -2, -1, 1, 2, 15, 31]);
                vec![format!("addi x2, x2, {}", k * 16)] // c.addi16sp
            }
            1 => vec![format!("addi x{c}, x2, {}", self.rng.range(1, 255) * 4)], // c.addi4spn
            2 => vec![format!("addi x{r}, x0, {}", self.rng.range(-32, 31))],    // c.li
            3 => {
                let imm = if self.rng.chance(50) {
                    self.rng.range(1, 31)
                } else {
                    self.rng.range(0xfffe0, 0xfffff)
                };
                vec![format!("lui x{r}, {imm:#x}")] // c.lui
            }
            4 => vec![format!("add x{r}, x0, x{}", self.rs().max(1))], // c.mv
            5 => vec![format!("addiw x{r}, x{r}, {}", self.rng.range(-32, 31))], // c.addiw
            6 => vec![format!("slli x{r}, x{r}, {}", self.rng.range(1, 63))], // c.slli
            7 => {
                let op = self.rng.pick(&["srli", "srai"]);
                vec![format!("{op} x{c}, x{c}, {}", self.rng.range(1, 63))]
            }
            8 => vec![format!("andi x{c}, x{c}, {}", self.rng.range(-32, 31))],
            9 => {
                let op = self.rng.pick(&["sub", "xor", "or", "and", "subw", "addw"]);
                vec![format!("{op} x{c}, x{c}, x{c2}")]
            }
            10 => vec![format!("add x{r}, x{r}, x{}", self.rs().max(1))], // c.add
            _ => vec![format!("addi x{r}, x{r}, {}", self.rng.range(-32, 31))], // c.addi
        }
    }

    /// An RV64C HINT (RISC-V unpriv 16.7): an encoding that must execute as a no-op, which
    /// gas never emits for ordinary source, so it is given as raw bits.
    fn hint(&mut self) -> String {
        let r = 1 + self.rng.below(31) as u16; // any x register but x0
        let c = self.rng.below(8) as u16; // x8..x15
        let imm = 1 + self.rng.below(31) as u16; // a nonzero 5-bit immediate
        let bits = match self.rng.below(8) {
            0 => imm << 2 | 0x0001, // c.addi x0, imm (c.nop with an immediate)
            1 => 0x4001 | imm << 2, // c.li x0, imm
            2 => 0x6001 | imm << 2, // c.lui x0, imm
            3 => 0x8002 | r << 2,   // c.mv x0, r
            4 => 0x9002 | r << 2,   // c.add x0, r
            5 => 0x0002 | imm << 2, // c.slli x0, imm
            6 => 0x0002 | r << 7,   // c.slli64 r (a shift by 0)
            _ => 0x8001 | (self.rng.below(2) as u16 * 0x400) | c << 7, // c.srli64 / c.srai64
        };
        format!(".insn {bits:#06x}")
    }

    fn load(&mut self) -> Vec<String> {
        match self.rng.below(10) {
            0 => {
                let f = self.fr();
                self.mem("flw", format!("f{f}"), 4)
            }
            1 | 2 => {
                let f = self.fr();
                self.mem("fld", format!("f{f}"), 8)
            }
            _ => {
                let (op, size) = self.rng.pick(LOADS);
                let rd = self.wr();
                self.mem(op, format!("x{rd}"), size)
            }
        }
    }

    fn store(&mut self) -> Vec<String> {
        match self.rng.below(10) {
            0 => {
                let f = self.fr();
                self.mem("fsw", format!("f{f}"), 4)
            }
            1 | 2 => {
                let f = self.fr();
                self.mem("fsd", format!("f{f}"), 8)
            }
            _ => {
                let (op, size) = self.rng.pick(STORES);
                let rs = self.rs();
                self.mem(op, format!("x{rs}"), size)
            }
        }
    }

    fn amo(&mut self) -> Vec<String> {
        let (w, size) = if self.rng.chance(50) {
            ("w", 4)
        } else {
            ("d", 8)
        };
        let t = self.wr_not(&[]);
        let off = self.offset(size, false);
        let (rd, rs2) = (self.wr(), self.rs());
        let op = self.rng.pick(AMOS);
        let ord = self.rng.pick(ORDERING);
        vec![
            format!("addi x{t}, x{}, {off}", self.base),
            format!("{op}.{w}{ord} x{rd}, x{rs2}, (x{t})"),
        ]
    }

    fn lr_sc(&mut self) -> Vec<String> {
        let (w, size) = if self.rng.chance(50) {
            ("w", 4)
        } else {
            ("d", 8)
        };
        let t = self.wr_not(&[]);
        let off = self.offset(size, false);
        let mut lines = vec![format!("addi x{t}, x{}, {off}", self.base)];
        if self.rng.chance(85) {
            let ord = self.rng.pick(ORDERING);
            if self.rng.chance(20) {
                // lr into its own address register (the reservation is the address, read
                // before the load overwrites it), then the address again for the sc.
                lines.push(format!("lr.{w}{ord} x{t}, (x{t})"));
                lines.push(format!("addi x{t}, x{}, {off}", self.base));
            } else {
                let rd = self.wr_not(&[t]);
                lines.push(format!("lr.{w}{ord} x{rd}, (x{t})"));
            }
            for _ in 0..self.rng.below(3) {
                lines.push(self.int_alu(&[t]));
            }
            if self.rng.chance(10) {
                // A different address: the SC must fail.
                lines.push(format!("addi x{t}, x{t}, {size}"));
            }
        }
        let (rd, rs2) = (self.wr(), self.rs());
        lines.push(format!(
            "sc.{w}{} x{rd}, x{rs2}, (x{t})",
            self.rng.pick(ORDERING)
        ));
        lines
    }

    fn fp(&mut self) -> String {
        let d = if self.rng.chance(self.double_pct) {
            "d"
        } else {
            "s"
        };
        let rm = self.rng.pick(RM);
        let (fd, f1, f2, f3) = (self.fr(), self.fr(), self.fr(), self.fr());
        let xd = self.wr();
        let xs = self.rs();
        match self.rng.below(20) {
            0..=2 => format!(
                "{}.{d} f{fd}, f{f1}, f{f2}, f{f3}, {rm}",
                self.rng.pick(FP_R4)
            ),
            3..=6 => format!("{}.{d} f{fd}, f{f1}, f{f2}, {rm}", self.rng.pick(FP_RRM)),
            7 => format!("fsqrt.{d} f{fd}, f{f1}, {rm}"),
            8..=9 => format!("{}.{d} f{fd}, f{f1}, f{f2}", self.rng.pick(FP_R)),
            10 => format!("{}.{d} x{xd}, f{f1}, f{f2}", self.rng.pick(FP_CMP)),
            11..=12 => format!("fcvt.{}.{d} x{xd}, f{f1}, {rm}", self.rng.pick(FP_INT)),
            13..=14 => match (d, self.rng.pick(FP_INT)) {
                // Exact: gas takes no rounding mode (the .insn form below covers it).
                ("d", w @ ("w" | "wu")) => format!("fcvt.d.{w} f{fd}, x{xs}"),
                (d, w) => format!("fcvt.{d}.{w} f{fd}, x{xs}, {rm}"),
            },
            15 => format!("fcvt.s.d f{fd}, f{f1}, {rm}"),
            16 => {
                // fcvt.d.s (and fcvt.d.w[u], exact too) with an explicit rounding mode, which
                // gas does not accept in the mnemonic form: funct7 0x21 / 0x69, rs2 0 / 1.
                let rmn = self.rng.below(5);
                match self.rng.below(3) {
                    0 => format!("fcvt.d.s f{fd}, f{f1}"),
                    1 => format!(".insn r 0x53, {rmn}, 0x21, f{fd}, f{f1}, f0"),
                    _ => format!(
                        ".insn r 0x53, {rmn}, 0x69, f{fd}, x{xs}, x{}",
                        self.rng.below(2)
                    ),
                }
            }
            17 => {
                let w = if d == "d" { "d" } else { "w" };
                if self.rng.chance(50) {
                    format!("fmv.x.{w} x{xd}, f{f1}")
                } else {
                    format!("fmv.{w}.x f{fd}, x{xs}")
                }
            }
            18 => format!("fclass.{d} x{xd}, f{f1}"),
            _ => format!("fsgnj.{d} f{fd}, f{f1}, f{f1}"), // fmv.s / fmv.d
        }
    }

    /// Reads and writes of fflags, frm and fcsr that keep frm a valid rounding mode.
    fn fcsr(&mut self) -> Vec<String> {
        let rd = self.wr();
        let rs = self.rs();
        let k = self.rng.below(32);
        let csr = self.rng.pick(&["fflags", "frm", "fcsr"]);
        match self.rng.below(9) {
            0 => vec![format!("csrrwi x{rd}, frm, {}", self.rng.below(5))],
            1 => vec![format!(
                "csrrwi x{rd}, {}, {k}",
                self.rng.pick(&["fflags", "fcsr"])
            )],
            2 => vec![format!(
                "{} x{rd}, fflags, x{rs}",
                self.rng.pick(&["csrrw", "csrrs"])
            )],
            // Clearing bits of a valid frm (0..=4) leaves a valid one.
            3 => vec![format!("csrrc x{rd}, {csr}, x{rs}")],
            4 => vec![format!("csrrci x{rd}, {csr}, {k}")],
            5 => vec![format!(
                "csrrsi x{rd}, {}, {k}",
                self.rng.pick(&["fflags", "fcsr"])
            )],
            6 => vec![format!("csrrs x{rd}, {csr}, x0")],
            _ => {
                let t = self.wr_not(&[]);
                let v = if csr == "frm" {
                    self.rng.below(5)
                } else if csr == "fcsr" {
                    self.rng.below(5) << 5 | self.rng.below(32)
                } else {
                    self.rng.below(1 << 11)
                };
                vec![
                    format!("addi x{t}, x0, {v}"),
                    format!("csrrw x{rd}, {csr}, x{t}"),
                ]
            }
        }
    }

    /// A control transfer from item `idx` of `len`: forward to a later item or the end,
    /// or now and then a loop back to an earlier item (or to itself).
    fn jump(&mut self, idx: usize, len: usize) -> Item {
        if self.rng.chance(20) {
            let t = self.wr_not(&[]);
            let b = self.base;
            let target = idx - self.rng.below(idx.min(8) as u64 + 1) as usize;
            let c = LOOP_COUNT + 8 * self.rng.below(LOOP_SLOTS as u64) as i64;
            return Item {
                lines: vec![
                    format!("ld x{t}, {c}(x{b})"),
                    format!("addi x{t}, x{t}, -1"),
                    format!("sd x{t}, {c}(x{b})"),
                    format!("blt x0, x{t}, {{T}}"),
                ],
                target: Some(target),
            };
        }
        let max = (len - idx).min(8);
        let target = idx + 1 + self.rng.below(max as u64) as usize;
        let lines = match self.rng.below(10) {
            0..=6 => {
                let rs1 = self.rs();
                let rs2 = match self.rng.below(4) {
                    0 => 0,
                    1 => rs1,
                    _ => self.rs(),
                };
                vec![format!("{} x{rs1}, x{rs2}, {{T}}", self.rng.pick(BRANCHES))]
            }
            7..=8 => {
                // gas compresses only the alias spellings (`j`, `jr`, `jalr rs`).
                if self.rng.chance(40) {
                    vec!["j {T}".to_string()]
                } else {
                    vec![format!("jal x{}, {{T}}", self.wr())]
                }
            }
            _ => {
                // jalr through a pointer; an odd offset checks that bit 0 is cleared.
                let t = self.wr_not(&[]);
                let rd = match self.rng.below(4) {
                    0 => 0,
                    1 if self.base != 1 => 1,
                    2 => t,
                    _ => self.wr(),
                };
                let k = self.rng.below(2);
                let jump = match (rd, k) {
                    (0, 0) => format!("jr x{t}"),
                    (1, 0) => format!("jalr x{t}"),
                    _ => format!("jalr x{rd}, {k}(x{t})"),
                };
                vec![format!("lla x{t}, {{T}}"), jump]
            }
        };
        Item {
            lines,
            target: Some(target),
        }
    }

    fn item(&mut self, idx: usize, len: usize) -> Item {
        if self.rng.chance(self.fp_pct) {
            let lines = if self.rng.chance(10) {
                self.fcsr()
            } else {
                // Often read-and-clear fflags right after, so the flags of this very
                // operation land in a register (accumulated flags hide missing ones).
                let mut v = vec![self.fp()];
                if self.rng.chance(40) {
                    v.push(format!("csrrw x{}, fflags, x0", self.wr_not(&[])));
                }
                v
            };
            return Item {
                lines,
                target: None,
            };
        }
        let lines = match self.rng.below(72) {
            0..=23 => vec![self.int_alu(&[])],
            24 => {
                // qemu 7.2 computes ctzw from all 64 bits when the low word is zero
                // (ctzw of 0x8000_0000_0000_0000 gives 63, not 32), so the oracle only sees
                // zero-extended operands; tests/machine.rs `ctzw_of_zero_word_is_32`
                // covers the rest.
                let (t, rd, rs) = (self.wr_not(&[]), self.wr(), self.rs());
                vec![
                    format!("add.uw x{t}, x{rs}, x0"),
                    format!("ctzw x{rd}, x{t}"),
                ]
            }
            25..=31 => self.compressible(),
            32..=40 => self.load(),
            41..=47 => self.store(),
            48..=51 => self.amo(),
            52..=54 if self.lr_sc => self.lr_sc(),
            52..=54 => self.amo(),
            55..=68 => return self.jump(idx, len),
            69 | 70 => vec![self.hint()],
            _ => vec![
                self.rng
                    .pick(&[
                        "fence",
                        "fence rw, rw",
                        "fence r, w",
                        "fence.tso",
                        "fence.i",
                    ])
                    .to_string(),
            ],
        };
        Item {
            lines,
            target: None,
        }
    }
}

impl Seq {
    /// A random sequence; with LR/SC pairs only if `lr_sc`.
    pub fn generate(rng: &mut Rng, lr_sc: bool) -> Seq {
        // sp and x8..x15 often, so compressed loads and stores off the base occur.
        let base = match rng.below(10) {
            0 => 2,
            1..=4 => 8 + rng.below(8) as u8,
            _ => 1 + rng.below(31) as u8,
        };
        let rvc = rng.chance(75);
        let mut init_x = [0; 32];
        init_x.iter_mut().skip(1).for_each(|v| *v = rng.x_value());
        let mut init_f = [0; 32];
        let double_pct = rng.pick(&[85, 50, 15]);
        let fp_pct = rng.pick(&[10, 35, 70]);
        init_f.iter_mut().for_each(|v| *v = rng.f_reg(double_pct));
        let flags = if rng.chance(50) { 0 } else { rng.below(32) };
        let frm = if rng.chance(40) { 0 } else { rng.below(5) };
        let init_fcsr = frm << 5 | flags;
        let mut scratch = vec![0u8; SCRATCH as usize];
        for chunk in scratch.chunks_mut(8) {
            let v = match rng.below(3) {
                0 => rng.x_value(),
                _ => rng.f_reg(double_pct),
            };
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        let len = 4 + rng.below(40) as usize;
        let mut b = Builder {
            rng,
            base,
            fp_pct,
            double_pct,
            lr_sc,
        };
        let body = (0..len).map(|i| b.item(i, len)).collect();
        Seq {
            base,
            rvc,
            init_x,
            init_f,
            init_fcsr,
            scratch,
            body,
        }
    }
}

/// The assembler source of a program running `seqs` (each with the items `keep` selects,
/// all when `None`) one after another, then writing all data regions to stdout and exiting.
/// Sequence `k`'s body lies between the global symbols `fz_b{k}` and `fz_e{k}`.
pub fn program(seqs: &[(&Seq, Option<&[bool]>)]) -> String {
    let mut s = String::new();
    s.push_str(".option norelax\n.text\n.globl _start\n_start:\n");
    for (k, (seq, keep)) in seqs.iter().enumerate() {
        let b = seq.base;
        let t = if b == 5 { 6 } else { 5 };
        let rvc = if seq.rvc { "rvc" } else { "norvc" };
        let _ = writeln!(s, ".option {rvc}\nlla x{b}, fz_d{k}");
        let _ = writeln!(s, "ld x{t}, {INIT_FCSR}(x{b})\nfscsr x{t}");
        for f in 0..32 {
            let _ = writeln!(s, "fld f{f}, {}(x{b})", INIT_F + 8 * f);
        }
        for x in 1..32 {
            if x != b as i64 {
                let _ = writeln!(s, "ld x{x}, {}(x{b})", INIT_X + 8 * (x - 1));
            }
        }
        let _ = writeln!(s, "fz_b{k}:");
        for (i, item) in seq.body.iter().enumerate() {
            let _ = writeln!(s, ".Lfz{k}_{i}:");
            if keep.is_some_and(|m| !m[i]) {
                continue;
            }
            let target = item.target.map(|t| format!(".Lfz{k}_{t}"));
            for line in &item.lines {
                let line = match &target {
                    Some(t) => line.replace("{T}", t),
                    None => line.clone(),
                };
                let _ = writeln!(s, "{line}");
            }
        }
        let _ = writeln!(s, ".Lfz{k}_{}:\nfz_e{k}:", seq.body.len());
        for x in 1..32 {
            let _ = writeln!(s, "sd x{x}, {}(x{b})", DUMP_X + 8 * (x - 1));
        }
        for f in 0..32 {
            let _ = writeln!(s, "fsd f{f}, {}(x{b})", DUMP_F + 8 * f);
        }
        let _ = writeln!(s, "frcsr x{t}\nsd x{t}, {DUMP_FCSR}(x{b})");
    }
    let total = REGION * seqs.len();
    let _ = writeln!(
        s,
        "li a7, 64\nli a0, 1\nlla a1, fz_data\nli a2, {total}\necall\nli a7, 93\nli a0, 0\necall"
    );
    // Every other region's scratch buffer straddles a page boundary (at +256), so
    // misaligned accesses cross pages.
    s.push_str(".data\n.balign 4096\n.skip 3840\nfz_data:\n");
    for (k, (seq, _)) in seqs.iter().enumerate() {
        let _ = writeln!(s, "fz_d{k}:");
        let mut region = vec![0u8; REGION];
        region[..SCRATCH as usize].copy_from_slice(&seq.scratch);
        for x in 1..32 {
            let o = INIT_X as usize + 8 * (x - 1);
            region[o..o + 8].copy_from_slice(&seq.init_x[x].to_le_bytes());
        }
        for f in 0..32 {
            let o = INIT_F as usize + 8 * f;
            region[o..o + 8].copy_from_slice(&seq.init_f[f].to_le_bytes());
        }
        let o = INIT_FCSR as usize;
        region[o..o + 8].copy_from_slice(&seq.init_fcsr.to_le_bytes());
        for c in 0..LOOP_SLOTS as usize {
            let o = LOOP_COUNT as usize + 8 * c;
            region[o..o + 8].copy_from_slice(&LOOP_TRIPS.to_le_bytes());
        }
        for chunk in region.chunks(8) {
            let v = u64::from_le_bytes(chunk.try_into().unwrap());
            let _ = writeln!(s, ".dword {v:#x}");
        }
    }
    s
}
