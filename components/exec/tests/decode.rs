//! Decoder and disassembler against GNU binutils: every instruction of `asm/all_insts.S` is
//! decoded from the assembler's bits and printed, and must read as objdump prints it; every
//! RV64C form of `asm/compressed.S` must expand to the expected base instruction; and every
//! instruction of real binaries (Alpine's busybox and musl, Debian's glibc) must decode to
//! the instruction objdump names.

use std::path::Path;
use std::process::Command;

use friscy_exec::decode::{decode16, decode32};
use friscy_exec::disasm::disasm;
use friscy_exec::isa::{Op, TABLE};

/// Assembles `tests/asm/<name>` and returns objdump's (address, bits, text) lines.
fn objdump(name: &str, march: &str) -> Vec<(u64, u32, String)> {
    let src = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/asm")
    .join(name);
    let obj = std::env::temp_dir().join(format!("friscy-decode-{}-{name}.o", std::process::id()));
    let ok = Command::new("riscv64-linux-gnu-as")
        .arg(format!("-march={march}"))
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("riscv64-linux-gnu-as")
        .success();
    assert!(ok);
    objdump_file(&obj)
        .into_iter()
        .map(|(addr, bits, _, text)| (addr, bits, text))
        .collect()
}

/// `objdump -d -M no-aliases` of any file, as (address, bits, length, text) lines.
fn objdump_file(path: &Path) -> Vec<(u64, u32, usize, String)> {
    let out = Command::new("riscv64-linux-gnu-objdump")
        .args(["-d", "-M", "no-aliases"])
        .arg(path)
        .output()
        .expect("riscv64-linux-gnu-objdump");
    assert!(out.status.success(), "objdump {}", path.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        if parts.len() < 3 || !parts[0].trim_end().ends_with(':') {
            continue;
        }
        let addr = u64::from_str_radix(parts[0].trim().trim_end_matches(':'), 16).unwrap();
        let hex = parts[1].trim();
        let bits = u32::from_str_radix(hex, 16).unwrap();
        let mut asm = parts[2].to_string();
        if let Some(ops) = parts.get(3) {
            let ops = ops.split(" <").next().unwrap();
            asm = format!("{asm} {}", ops.split(" #").next().unwrap());
        }
        lines.push((addr, bits, hex.len() / 2, asm));
    }
    lines
}

#[test]
fn every_instruction_disassembles_like_objdump() {
    let lines = objdump("all_insts.S", "rv64gc_zba_zbb_zbs");
    let mut seen = std::collections::HashSet::new();
    for (addr, bits, expected) in lines {
        let inst = decode32(bits);
        assert_ne!(inst.op, Op::Illegal, "{expected} ({bits:#010x})");
        seen.insert(inst.op);
        let mut expected = expected;
        // objdump prints branch targets without 0x.
        if matches!(
            inst.op,
            Op::Jal | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu
        ) {
            let (head, target) = expected.rsplit_once(',').unwrap();
            expected = format!("{head},0x{target}");
        }
        assert_eq!(disasm(&inst, addr), expected, "{bits:#010x}");
    }
    let missing: Vec<_> = TABLE
        .iter()
        .filter(|e| !seen.contains(&e.op))
        .map(|e| e.mnemonic)
        .collect();
    assert!(missing.is_empty(), "not covered: {missing:?}");
}

#[test]
fn compressed_forms_expand_to_base_instructions() {
    let expected = [
        "addi a0,sp,1020",
        "fld fa0,248(a1)",
        "lw a2,124(a3)",
        "ld a4,248(a5)",
        "fsd fa1,8(s0)",
        "sw s1,4(a0)",
        "sd a1,16(a2)",
        "addi zero,zero,0",
        "addi a0,a0,-32",
        "addiw a1,a1,31",
        "addi a2,zero,-1",
        "addi sp,sp,-512",
        "lui a3,0xfffe1",
        "lui a4,0x1f",
        "srli a5,a5,0x3f",
        "srai s0,s0,0x1",
        "andi s1,s1,-32",
        "sub a0,a0,a1",
        "xor a0,a0,a1",
        "or a0,a0,a1",
        "and a0,a0,a1",
        "subw a0,a0,a1",
        "addw a0,a0,a1",
        "jal zero,0xfffffffffffff82e",
        "beq a0,zero,0xffffffffffffff30",
        "bne a1,zero,0x130",
        "slli a0,a0,0x3f",
        "fld fa0,504(sp)",
        "lw a1,252(sp)",
        "ld a2,504(sp)",
        "jalr zero,0(a3)",
        "add a4,zero,a5",
        "ebreak",
        "jalr ra,0(a6)",
        "add a7,a7,s2",
        "fsd fa2,504(sp)",
        "sw a3,252(sp)",
        "sd a4,504(sp)",
    ];
    let lines = objdump("compressed.S", "rv64gc");
    assert_eq!(lines.len(), expected.len());
    for ((addr, bits, objdump_text), want) in lines.iter().zip(expected) {
        let inst = decode16(*bits as u16);
        assert_eq!(inst.len, 2);
        assert_eq!(disasm(&inst, *addr), want, "{objdump_text} ({bits:#06x})");
    }
}

#[test]
fn reserved_and_illegal_words() {
    // The all-zero parcel, c.addi4spn with zero immediate, c.lwsp/c.ldsp to x0, c.jr x0,
    // c.addiw to x0, c.addi16sp 0, c.lui 0 and a reserved quadrant-0 slot.
    for h in [
        0x0000u16, 0x0010, 0x4002, 0x6002, 0x8002, 0x2001, 0x6101, 0x6081, 0x8000,
    ] {
        assert_eq!(decode16(h).op, Op::Illegal, "{h:#06x}");
        assert_eq!(decode16(h).imm as u32, h as u32);
    }
    for w in [
        0xffff_ffffu32,
        0x0000_007f,
        0x3000_0073, /* mret */
        0x0400_0053, /* fadd.h */
    ] {
        assert_eq!(decode32(w).op, Op::Illegal, "{w:#010x}");
    }
}

/// The base instruction an RV64C form objdump prints (`-M no-aliases`) expands to, in
/// objdump's text for that base instruction (RISC-V unpriv 16.8: `c.addi rd,imm` is
/// `addi rd,rd,imm`, `c.jr rs` is `jalr zero,0(rs)`, ...); None for a form not listed.
fn compressed_expansion(mn: &str, ops: &str) -> Option<String> {
    let o: Vec<&str> = ops.split(',').collect();
    let arg = |k: usize| o.get(k).copied().unwrap_or("");
    Some(match mn {
        "c.nop" => "addi zero,zero,0".into(),
        "c.ebreak" => "ebreak".into(),
        // Same operands as the base form.
        "c.addi4spn" => format!("addi {ops}"),
        "c.fld" | "c.fldsp" => format!("fld {ops}"),
        "c.lw" | "c.lwsp" => format!("lw {ops}"),
        "c.ld" | "c.ldsp" => format!("ld {ops}"),
        "c.fsd" | "c.fsdsp" => format!("fsd {ops}"),
        "c.sw" | "c.swsp" => format!("sw {ops}"),
        "c.sd" | "c.sdsp" => format!("sd {ops}"),
        "c.lui" => format!("lui {ops}"),
        // rd is also the first source.
        "c.addi" | "c.addiw" | "c.addi16sp" | "c.srli" | "c.srai" | "c.andi" | "c.slli"
        | "c.sub" | "c.xor" | "c.or" | "c.and" | "c.subw" | "c.addw" | "c.add" => {
            format!("{} {},{}", &mn[2..].replace("16sp", ""), arg(0), ops)
        }
        "c.li" => format!("addi {},zero,{}", arg(0), arg(1)),
        "c.mv" => format!("add {},zero,{}", arg(0), arg(1)),
        "c.j" => format!("jal zero,{ops}"),
        "c.beqz" => format!("beq {},zero,{}", arg(0), arg(1)),
        "c.bnez" => format!("bne {},zero,{}", arg(0), arg(1)),
        "c.jr" => format!("jalr zero,0({ops})"),
        "c.jalr" => format!("jalr ra,0({ops})"),
        _ => return None,
    })
}

/// What friscy's decoder makes of every instruction objdump finds in `path`: the
/// mismatches (as text) and the number of instructions checked.
///
/// Every instruction must print exactly as objdump prints it, compressed forms as their
/// base expansion and atomics without the .aq/.rl suffixes (friscy ignores them); words
/// objdump cannot name must be illegal.
fn decode_mismatches(path: &Path) -> (Vec<String>, usize) {
    let lines = objdump_file(path);
    let mut bad = Vec::new();
    for (addr, bits, len, text) in &lines {
        let inst = if *len == 2 {
            decode16(*bits as u16)
        } else {
            decode32(*bits)
        };
        let (mn, ops) = text.split_once(' ').unwrap_or((text, ""));
        let unnamed = mn.starts_with('.') || mn == "c.unimp" || mn == "unimp";
        let want = if unnamed {
            None
        } else if *len == 2 {
            compressed_expansion(mn, ops)
        } else {
            let base = mn
                .trim_end_matches(".aqrl")
                .trim_end_matches(".aq")
                .trim_end_matches(".rl");
            Some(format!("{base} {ops}").trim_end().to_string())
        };
        let have = match inst.op {
            Op::Illegal => None,
            _ => Some(disasm(&inst, *addr)),
        };
        // objdump prints branch and jump targets without 0x.
        let want = want.map(|w| match inst.op {
            Op::Jal | Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                let (head, target) = w.rsplit_once(',').unwrap();
                format!("{head},0x{target}")
            }
            _ => w,
        });
        if have != want {
            bad.push(format!(
                "{addr:#x}: {bits:#x} objdump `{text}`, friscy `{}`",
                have.as_deref().unwrap_or("illegal")
            ));
        }
    }
    (bad, lines.len())
}

/// A file from the Alpine minirootfs ($FRISCY_ALPINE_TAR, a .tar or .tar.gz, or the shared
/// fixture), extracted to a temporary file; None, said loudly, without an image.
fn alpine_file(member: &str) -> Option<std::path::PathBuf> {
    let tar = std::env::var_os("FRISCY_ALPINE_TAR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(
                &std::env::var("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
            )
            .join("../../../shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz")
        });
    if !tar.exists() {
        loud(&format!(
            "SKIPPED decoding Alpine's {member}: no image at {} (set FRISCY_ALPINE_TAR)",
            tar.display()
        ));
        return None;
    }
    let out = std::env::temp_dir().join(format!(
        "friscy-decode-{}-{}",
        std::process::id(),
        member.replace('/', "_")
    ));
    // GNU tar detects the compression itself; members are stored as ./path.
    let ok = Command::new("tar")
        .arg("-xOf")
        .arg(&tar)
        .arg(format!("./{member}"))
        .stdout(std::fs::File::create(&out).unwrap())
        .status()
        .expect("tar")
        .success();
    assert!(ok, "extracting {member} from {}", tar.display());
    Some(out)
}

/// A line on the real stderr, past libtest's capture, so a skip is seen when tests pass.
fn loud(msg: &str) {
    use std::io::Write;
    writeln!(std::io::stderr().lock(), "{msg}").ok();
}

fn assert_decodes_like_objdump(what: &str, path: &Path) {
    let (bad, total) = decode_mismatches(path);
    assert!(total > 10_000, "{what}: only {total} instructions found");
    assert!(
        bad.is_empty(),
        "{what}: {} of {total} instructions decode differently from objdump:\n{}",
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn alpine_busybox_and_musl_decode_like_objdump() {
    for member in ["bin/busybox", "lib/ld-musl-riscv64.so.1"] {
        if let Some(path) = alpine_file(member) {
            assert_decodes_like_objdump(member, &path);
            std::fs::remove_file(path).ok();
        }
    }
}

#[test]
fn debian_glibc_decodes_like_objdump() {
    // From Debian's libc6-riscv64-cross (scripts/setup.sh installs gcc-riscv64-linux-gnu,
    // which depends on it).
    let libc = Path::new("/usr/riscv64-linux-gnu/lib/libc.so.6");
    if !libc.exists() {
        loud(&format!(
            "SKIPPED decoding glibc: no {} (apt-get install libc6-riscv64-cross)",
            libc.display()
        ));
        return;
    }
    assert_decodes_like_objdump("libc.so.6", libc);
}
