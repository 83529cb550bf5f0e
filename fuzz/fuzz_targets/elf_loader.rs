//! The ELF loader (components/kernel/src/elf.rs, loader.rs): any bytes as the program of
//! process 1, and as its PT_INTERP. Loading must fail with an error, never panic, and a
//! loaded program's memory must be mapped where its headers say.
#![no_main]

use friscy_fuzz::{kernel, tar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = friscy_kernel::elf::Elf::parse(data).map(|e| {
        let _ = e.interp(data);
        e.load_range()
    });
    // The same bytes as a program and as every interpreter it might name.
    let image = tar(&[
        ("bin/x", 0o755, data),
        ("lib/ld.so", 0o755, data),
        ("lib/ld-linux-riscv64-lp64d.so.1", 0o755, data),
        ("lib/ld-musl-riscv64.so.1", 0o755, data),
    ]);
    let Some(mut k) = kernel(image) else { return };
    let root = k.fs.root();
    if let Ok(p) = k.spawn_init(root, friscy_kernel::creds::Creds::root(), vec![b"/bin/x".to_vec(), b"arg".to_vec()], vec![]) {
        // Its stack holds argv where the auxv says.
        let sp = k.machine.x(p.hart(), 2);
        let mut argc = [0u8; 8];
        k.machine
            .read(p.space, sp, &mut argc)
            .expect("the initial stack is mapped");
        assert_eq!(u64::from_le_bytes(argc), 2);
        k.machine.hart_drop(p.hart());
        k.machine.space_drop(p.space);
    }
});
