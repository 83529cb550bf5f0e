//! `run_elf PROGRAM [BUDGET]`: runs a static, libc-free riscv64 ELF on friscy-exec with a
//! toy syscall layer (write to stdout, exit), `BUDGET` instructions per `run` call.
//!
//! Built for wasm32-wasip2 and run under wasmtime, it lets the fuzzer (`tests/fuzz.rs`,
//! `FRISCY_FUZZ_WASM=1`) compare the interpreter as it ships, with 32-bit `usize`,
//! against qemu and the native build. On an unexpected stop it prints the reason to stderr
//! and exits with status 3.
//!
//! When rv2wasm has linked translations into it (`rv2wasm PROGRAM --exec run_elf.wasm`,
//! the fuzzer's `FRISCY_FUZZ_AOT=1`), it registers the program's executable segments as
//! the kernel's ELF loader does, so translated code runs where it exists.

use std::io::Write;

use friscy_exec::{Machine, Machines, StopReason};

// The tests' ELF loader, so the fuzzer's wasm runs load programs exactly as its native
// runs do.
#[path = "../tests/common/mod.rs"]
mod common;

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: run_elf PROGRAM [BUDGET]");
    let budget: u64 = args.next().map_or(1 << 20, |b| b.parse().expect("BUDGET"));
    let elf = std::fs::read(&path).expect("reading the program");
    let mut m = Machines::new();
    let space = m.space_new();
    common::map_segments(&mut m, space, &elf);
    if m.translated_files() > 0 {
        common::register_code(&mut m, space, &elf);
    }
    // No stack: the fuzzer's programs set every register themselves (and a stack near
    // 2 GiB would not fit the wasm32 arena).
    let hart = m.hart_new(space);
    m.set_pc(hart, u64_at(&elf, 24));
    let mut out = std::io::stdout().lock();
    while m.instret(hart) < 64 << 20 {
        match m.run(hart, budget) {
            StopReason::BudgetExhausted => {}
            StopReason::Ecall(sc) if sc.nr == 64 => {
                let mut buf = vec![0; sc.args[2] as usize];
                m.read(space, sc.args[1], &mut buf)
                    .expect("write from unreadable memory");
                out.write_all(&buf).unwrap();
                m.set_x(hart, 10, sc.args[2]);
            }
            StopReason::Ecall(sc) if sc.nr == 93 => {
                out.flush().unwrap();
                if std::env::var_os("FRISCY_AOT_STATS").is_some() {
                    let s = m.exec_stats();
                    eprintln!("run_elf: {s:?}");
                }
                std::process::exit(sc.args[0] as i32);
            }
            other => {
                eprintln!("{other:?} at pc {:#x}", m.pc(hart));
                std::process::exit(3);
            }
        }
    }
    eprintln!("did not finish");
    std::process::exit(3);
}
