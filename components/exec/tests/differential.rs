//! Guest programs run on friscy-exec and on qemu-riscv64; stdout and exit status must match.

mod common;

#[test]
fn hello_world() {
    let out = common::differential("asm/hello.S");
    assert_eq!(out, b"hello, world\n");
}

#[test]
fn integer_ops_match_qemu() {
    let out = common::differential("guest/intops.c");
    assert!(out.len() > 100_000);
}

#[test]
fn float_ops_match_qemu() {
    let out = common::differential("guest/fpops.c");
    assert!(out.len() > 100_000);
}

#[test]
fn static_glibc_program_matches_qemu() {
    let bin = common::build_glibc("guest/glibc_hello.c");
    let out = common::differential_bin("guest/glibc_hello.c", &bin);
    assert!(out.starts_with(b"hello heap 1 "));
}
