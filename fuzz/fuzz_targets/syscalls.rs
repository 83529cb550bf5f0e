//! The syscall layer from outside, as tests/guest/syscall_fuzz.c does it from inside:
//! random syscall numbers with random arguments (small numbers, descriptors, flags, and
//! pointers into the process's own memory or anywhere) dispatched to process 1 of a native
//! kernel over a small image. Whatever the calls do, they return an errno or a value, or
//! park; the kernel never panics. Calls that park are abandoned (the thread is unparked,
//! as if it had been interrupted).
#![no_main]

use friscy_fuzz::{kernel, tar, tiny_elf};
use friscy_kernel::syscalls::dispatch;
use libfuzzer_sys::fuzz_target;

/// Syscalls that end or replace process 1, after which nothing more can be called.
const ENDS: [u64; 4] = [93, 94, 221, 281]; // exit, exit_group, execve, execveat

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u64(&mut self) -> u64 {
        let mut v = [0u8; 8];
        for b in &mut v {
            *b = self.u8().unwrap_or(0);
        }
        u64::from_le_bytes(v)
    }
}

fuzz_target!(|data: &[u8]| {
    let elf = tiny_elf();
    let image = tar(&[
        ("bin/init", 0o755, &elf),
        ("etc", 0o040755, b""),
        ("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n"),
        ("tmp", 0o041777, b""),
    ]);
    let Some(mut k) = kernel(image) else { return };
    let root = k.fs.root();
    let Ok(mut p) = k.spawn_init(root, friscy_kernel::creds::Creds::root(), vec![b"/bin/init".to_vec()], vec![b"A=1".to_vec()]) else {
        panic!("the tiny ELF loads");
    };
    let sp = k.machine.x(p.hart(), 2);
    // A scratch area on the stack, well below what the loader wrote.
    let scratch = (sp - 0x10000) & !0xfff;
    let mut input = Bytes(data);
    for _ in 0..64 {
        let Some(sel) = input.u8() else { break };
        let nr = match sel {
            // Mostly real syscall numbers (asm-generic: 0..=462), sometimes anything.
            0..=239 => u64::from(sel) * 2 + u64::from(input.u8().unwrap_or(0) & 1),
            240..=254 => 240 + u64::from(input.u8().unwrap_or(0)) % 223,
            255 => input.u64(),
        };
        if ENDS.contains(&nr) {
            continue;
        }
        let mut args = [0u64; 6];
        for a in &mut args {
            let kind = input.u8().unwrap_or(0);
            *a = match kind % 8 {
                0 => 0,
                1 => u64::from(kind >> 3), // small: fds, flags
                2 => (-(i64::from(kind >> 3)) - 1) as u64, // -1, AT_FDCWD-like
                3 => scratch + u64::from(input.u8().unwrap_or(0)) * 64, // valid memory
                4 => input.u64(),          // anything
                5 => 0x10000 + u64::from(input.u8().unwrap_or(0)) * 16, // the program
                6 => 1u64 << (kind >> 2),  // one bit
                _ => u64::from(input.u8().unwrap_or(0)) << 12, // page-sized
            };
        }
        let _ = dispatch(&mut k, &mut p, nr, args);
        if p.exit.is_some() || p.threads.is_empty() {
            break;
        }
        let t = p.thread_mut();
        t.block = None;
        t.restart = None;
        if t.exiting {
            break;
        }
    }
});
