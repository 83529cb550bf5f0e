//! Decoder and disassembler against GNU binutils: every instruction of `asm/all_insts.S` is
//! decoded from the assembler's bits and printed, and must read as objdump prints it; every
//! RV64C form of `asm/compressed.S` must expand to the expected base instruction.

use std::path::Path;
use std::process::Command;

use friscy_exec::decode::{decode16, decode32};
use friscy_exec::disasm::disasm;
use friscy_exec::isa::{Op, TABLE};

/// Assembles `tests/asm/<name>` and returns objdump's (address, bits, text) lines.
fn objdump(name: &str, march: &str) -> Vec<(u64, u32, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
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
    let out = Command::new("riscv64-linux-gnu-objdump")
        .args(["-d", "-M", "no-aliases"])
        .arg(&obj)
        .output()
        .expect("riscv64-linux-gnu-objdump");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        if parts.len() < 3 || !parts[0].trim_end().ends_with(':') {
            continue;
        }
        let addr = u64::from_str_radix(parts[0].trim().trim_end_matches(':'), 16).unwrap();
        let bits = u32::from_str_radix(parts[1].trim(), 16).unwrap();
        let mut asm = parts[2].to_string();
        if let Some(ops) = parts.get(3) {
            let ops = ops.split(" <").next().unwrap();
            asm = format!("{asm} {}", ops.split(" #").next().unwrap());
        }
        lines.push((addr, bits, asm));
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
