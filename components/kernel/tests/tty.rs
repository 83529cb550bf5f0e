//! Terminals, natively: pseudo-terminals and the line discipline compared with Linux
//! (tests/guest/tty_pty.c in friscy and under qemu-riscv64 on the host's ptys).

mod harness;

#[test]
fn ptys_and_the_line_discipline_match_linux() {
    harness::same_as_linux("tty_pty");
}
