//! What the fuzz targets share: a tar image builder, a host that needs nothing, a kernel
//! over an image, and a tiny riscv64 program to be process 1.

use friscy_abi::Errno;
use friscy_kernel::limits::Limits;
use friscy_kernel::{Host, Kernel, Stdio};

/// A ustar archive of (path, mode, contents); a mode with S_IFDIR makes a directory.
pub fn tar(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, mode, data) in files {
        let dir = mode & 0o170000 == 0o040000;
        let mut h = [0u8; 512];
        h[..path.len()].copy_from_slice(path.as_bytes());
        let octal = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
            let s = format!("{v:0width$o}", width = len - 1);
            h[off..off + len - 1].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, (*mode & 0o7777) as u64);
        octal(&mut h, 108, 8, 0);
        octal(&mut h, 116, 8, 0);
        octal(&mut h, 124, 12, if dir { 0 } else { data.len() as u64 });
        octal(&mut h, 136, 12, 0);
        h[156] = if dir { b'5' } else { b'0' };
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        if !dir {
            out.extend_from_slice(data);
            out.resize(out.len().next_multiple_of(512), 0);
        }
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A host with no input, a fixed clock that advances a little on every look, and nowhere
/// to wait.
#[derive(Default)]
pub struct NullHost {
    now: std::cell::Cell<u64>,
}

impl Host for NullHost {
    fn read_stdin(&mut self, _max: usize) -> Option<Vec<u8>> {
        Some(Vec::new())
    }
    fn write(&mut self, _: Stdio, _: &[u8]) -> Result<(), Errno> {
        Ok(())
    }
    fn wall_clock(&self) -> (i64, u32) {
        (1_700_000_000, 0)
    }
    fn monotonic_ns(&self) -> u64 {
        let t = self.now.get() + 1_000_000;
        self.now.set(t);
        10_000_000_000 + t
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(4);
    }
    fn diagnostic(&mut self, _: &str) {}
    fn wait(&mut self, _: bool, _: Option<u64>, _: Vec<u32>) {}
}

/// A kernel over `image` (a tar), with small limits so that nothing the fuzzer does can
/// take the fuzzing process's memory.
pub fn kernel(image: Vec<u8>) -> Option<Kernel> {
    let vfs = friscy_vfs::Vfs::new(image).ok()?;
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        Box::new(vfs),
        Box::new(NullHost::default()),
    );
    k.apply_limits(Limits {
        memory: 64 << 20,
        pids: 16,
        nofile: (64, 64),
        disk: 8 << 20,
        timeout_ns: None,
    });
    Some(k)
}

/// A static riscv64 ELF executable (ET_EXEC at 0x10000) whose code is `li a7, 93;
/// ecall` (exit) and a page of data after it: enough to be process 1.
pub fn tiny_elf() -> Vec<u8> {
    let mut f = vec![0u8; 0x1000];
    let code: [u32; 2] = [0x05d00893, 0x00000073]; // addi a7, x0, 93; ecall
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little-endian
    f[6] = 1; // EV_CURRENT
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&243u16.to_le_bytes()); // EM_RISCV
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&0x10800u64.to_le_bytes()); // e_entry
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    let ph = &mut f[64..120];
    ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[4..8].copy_from_slice(&7u32.to_le_bytes()); // RWX
    ph[8..16].copy_from_slice(&0u64.to_le_bytes()); // p_offset
    ph[16..24].copy_from_slice(&0x10000u64.to_le_bytes()); // p_vaddr
    ph[24..32].copy_from_slice(&0x10000u64.to_le_bytes()); // p_paddr
    ph[32..40].copy_from_slice(&0x1000u64.to_le_bytes()); // p_filesz
    ph[40..48].copy_from_slice(&0x3000u64.to_le_bytes()); // p_memsz
    ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes()); // p_align
    for (i, w) in code.iter().enumerate() {
        f[0x800 + i * 4..0x804 + i * 4].copy_from_slice(&w.to_le_bytes());
    }
    f
}
