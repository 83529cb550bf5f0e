//! Shared test harness: builds guest programs with the riscv64 cross toolchain, loads
//! them (a minimal ELF PT_LOAD loader), runs them with a toy syscall layer (write, exit),
//! and runs the same binary under qemu-riscv64 as the oracle.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use friscy_exec::{HartId, Machine, Machines, Prot, SpaceId, StopReason};

pub const STACK_TOP: u64 = 0x8000_0000;
const STACK_SIZE: u64 = 1 << 20;

/// Compiles `tests/<rel>` (a .S or .c file) into a static, libc-free executable.
pub fn build(rel: &str) -> PathBuf {
    build_with(rel, &["-nostdlib", "-ffreestanding", "-fno-builtin"])
}

/// Compiles `tests/<rel>` against the cross toolchain's static glibc.
pub fn build_glibc(rel: &str) -> PathBuf {
    build_with(rel, &["-lm"])
}

fn build_with(rel: &str, extra: &[&str]) -> PathBuf {
    let src = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests")
    .join(rel);
    let out_dir = std::env::temp_dir().join(format!("friscy-exec-tests-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(src.file_stem().unwrap());
    let status = Command::new("riscv64-linux-gnu-gcc")
        .args(["-static", "-O2", "-Wl,--no-warn-rwx-segments"])
        .args([
            "-march=rv64gc_zba_zbb_zbs",
            "-mabi=lp64d",
            "-fno-stack-protector",
        ])
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(extra)
        .status()
        .expect("riscv64-linux-gnu-gcc");
    assert!(status.success(), "building {rel}");
    out
}

/// A loaded guest: machine, space, hart.
pub struct Guest {
    pub m: Machines,
    pub space: SpaceId,
    pub hart: HartId,
    pub stdout: Vec<u8>,
    brk: u64,
    mmap_next: u64,
}

const BRK_BASE: u64 = 0x1000_0000;
const MMAP_BASE: u64 = 0x4000_0000;
const ENOSYS: u64 = -38i64 as u64;

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// One PT_LOAD program header of an ELF64 file.
struct Segment {
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

/// The PT_LOAD program headers of `elf`.
fn load_segments(elf: &[u8]) -> impl Iterator<Item = Segment> + '_ {
    let (phoff, phentsize, phnum) = (
        u64_at(elf, 32) as usize,
        u16_at(elf, 54) as usize,
        u16_at(elf, 56) as usize,
    );
    (0..phnum)
        .map(move |k| phoff + k * phentsize)
        .filter(|&ph| u32_at(elf, ph) == 1)
        .map(|ph| Segment {
            flags: u32_at(elf, ph + 4),
            offset: u64_at(elf, ph + 8),
            vaddr: u64_at(elf, ph + 16),
            filesz: u64_at(elf, ph + 32),
            memsz: u64_at(elf, ph + 40),
        })
}

/// Map an ELF64 executable's PT_LOAD segments into `space` with their protections;
/// returns e_phoff (for AT_PHDR). Shared with examples/run_elf.rs.
pub fn map_segments(m: &mut Machines, space: SpaceId, elf: &[u8]) -> usize {
    for seg in load_segments(elf) {
        let (off, vaddr) = (seg.offset as usize, seg.vaddr);
        let start = vaddr & !4095;
        let end = (vaddr + seg.memsz + 4095) & !4095;
        m.map(space, start, end - start, Prot::READ | Prot::WRITE)
            .unwrap();
        m.write(space, vaddr, &elf[off..off + seg.filesz as usize])
            .unwrap();
        let mut prot = Prot::NONE;
        if seg.flags & 4 != 0 {
            prot = prot | Prot::READ;
        }
        if seg.flags & 2 != 0 {
            prot = prot | Prot::WRITE;
        }
        if seg.flags & 1 != 0 {
            prot = prot | Prot::EXEC;
        }
        m.protect(space, start, end - start, prot).unwrap();
    }
    u64_at(elf, 32) as usize
}

/// Tells exec where the executable PT_LOAD segments of `elf` (mapped by `map_segments`)
/// are, as the kernel's ELF loader does, so that their translations run when rv2wasm
/// linked any into this build.
pub fn register_code(m: &mut Machines, space: SpaceId, elf: &[u8]) {
    let key = friscy_exec::FileKey::of(elf);
    for seg in load_segments(elf).filter(|s| s.flags & 1 != 0) {
        m.map_file(space, seg.vaddr, seg.filesz, key, seg.offset);
    }
}

/// Loads an ELF64 executable's PT_LOAD segments and sets up a stack with argc = 0.
pub fn load(path: &Path) -> Guest {
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    let mut m = Machines::new();
    let space = m.space_new();
    let phoff = map_segments(&mut m, space, &elf);
    let (phentsize, phnum) = (u16_at(&elf, 54), u16_at(&elf, 56));
    m.map(
        space,
        STACK_TOP - STACK_SIZE,
        STACK_SIZE,
        Prot::READ | Prot::WRITE,
    )
    .unwrap();
    let hart = m.hart_new(space);
    m.set_pc(hart, u64_at(&elf, 24));
    // The initial stack as Linux builds it: argc, argv, envp, auxv (with what a static
    // glibc needs: AT_PAGESZ, AT_RANDOM, AT_PHDR/PHENT/PHNUM, AT_ENTRY).
    let arg0 = path.to_str().unwrap().as_bytes();
    let strings = STACK_TOP - 256;
    m.write(space, strings, arg0).unwrap();
    let random = STACK_TOP - 32;
    m.write(space, random, &[0x5a; 16]).unwrap();
    let phdr = first_load_vaddr(&elf) + phoff as u64;
    let entry = u64_at(&elf, 24);
    let words: Vec<u64> = vec![
        1,
        strings,
        0,
        0, // argc, argv[0], NULL, envp NULL
        6,
        4096,
        25,
        random,
        3,
        phdr,
        4,
        phentsize as u64,
        5,
        phnum as u64,
        9,
        entry,
        0,
        0,
    ];
    let sp = (strings - 8 * words.len() as u64) & !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    m.write(space, sp, &bytes).unwrap();
    m.set_x(hart, 2, sp);
    Guest {
        m,
        space,
        hart,
        stdout: Vec::new(),
        brk: BRK_BASE,
        mmap_next: MMAP_BASE,
    }
}

/// The lowest PT_LOAD's vaddr minus its offset: where the ELF header sits in memory.
fn first_load_vaddr(elf: &[u8]) -> u64 {
    let (phoff, phentsize, phnum) = (
        u64_at(elf, 32) as usize,
        u16_at(elf, 54) as usize,
        u16_at(elf, 56) as usize,
    );
    (0..phnum)
        .map(|k| phoff + k * phentsize)
        .find(|&ph| u32_at(elf, ph) == 1)
        .map(|ph| u64_at(elf, ph + 16) - u64_at(elf, ph + 8))
        .unwrap()
}

impl Guest {
    /// Runs until exit (returning the status) or another stop (panicking), serving the few
    /// syscalls a static glibc program needs.
    pub fn run_to_exit(&mut self) -> i32 {
        loop {
            let sc = match self.m.run(self.hart, 1_000_000) {
                StopReason::BudgetExhausted => continue,
                StopReason::Ecall(sc) => sc,
                other => panic!(
                    "unexpected stop {other:?} at pc {:#x}",
                    self.m.pc(self.hart)
                ),
            };
            let a = sc.args;
            let ret = match sc.nr {
                64 => {
                    let mut buf = vec![0; a[2] as usize];
                    self.m.read(self.space, a[1], &mut buf).unwrap();
                    self.stdout.extend_from_slice(&buf);
                    a[2]
                }
                66 => {
                    let mut total = 0;
                    for k in 0..a[2] {
                        let mut iov = [0; 16];
                        self.m.read(self.space, a[1] + 16 * k, &mut iov).unwrap();
                        let base = u64::from_le_bytes(iov[..8].try_into().unwrap());
                        let len = u64::from_le_bytes(iov[8..].try_into().unwrap());
                        let mut buf = vec![0; len as usize];
                        self.m.read(self.space, base, &mut buf).unwrap();
                        self.stdout.extend_from_slice(&buf);
                        total += len;
                    }
                    total
                }
                93 | 94 => return a[0] as i32,
                214 => {
                    let old_end = (self.brk + 4095) & !4095;
                    let new_end = (a[0] + 4095) & !4095;
                    if a[0] > self.brk && new_end > old_end {
                        let prot = Prot::READ | Prot::WRITE;
                        self.m
                            .map(self.space, old_end, new_end - old_end, prot)
                            .unwrap();
                    }
                    if a[0] >= BRK_BASE {
                        self.brk = a[0];
                    }
                    self.brk
                }
                222 => {
                    let len = (a[1] + 4095) & !4095;
                    let addr = self.mmap_next;
                    self.mmap_next += len;
                    self.m.map(self.space, addr, len, Prot(a[2] as u8)).unwrap();
                    addr
                }
                215 => 0,
                226 => {
                    match self
                        .m
                        .protect(self.space, a[0], (a[1] + 4095) & !4095, Prot(a[2] as u8))
                    {
                        Ok(()) => 0,
                        Err(_) => -12i64 as u64,
                    }
                }
                96 | 172 | 178 => 1,
                99 | 174 | 175 | 176 | 177 => 0,
                29 => -25i64 as u64, // ioctl: ENOTTY
                278 => {
                    self.m
                        .write(self.space, a[0], &vec![7; a[1] as usize])
                        .unwrap();
                    a[1]
                }
                _ => ENOSYS,
            };
            self.m.set_x(self.hart, 10, ret);
        }
    }
}

/// Runs the binary under qemu-riscv64: (stdout, exit status).
pub fn qemu(path: &Path) -> (Vec<u8>, i32) {
    let out = Command::new("qemu-riscv64")
        .args(["-cpu", "rv64,zba=true,zbb=true,zbs=true"])
        .arg(path)
        .output()
        .expect("qemu-riscv64");
    (out.stdout, out.status.code().unwrap_or(-1))
}

/// Runs `rel` on friscy-exec and on qemu and asserts identical stdout and exit status;
/// returns the stdout.
pub fn differential(rel: &str) -> Vec<u8> {
    differential_bin(rel, &build(rel))
}

/// As `differential`, for an already built binary.
pub fn differential_bin(rel: &str, bin: &Path) -> Vec<u8> {
    let bin = bin.to_path_buf();
    let mut g = load(&bin);
    let status = g.run_to_exit();
    let (qout, qstatus) = qemu(&bin);
    if let Ok(dir) = std::env::var("FRISCY_TEST_DUMP") {
        let name = rel.replace('/', "_");
        std::fs::write(format!("{dir}/{name}.friscy"), &g.stdout).unwrap();
        std::fs::write(format!("{dir}/{name}.qemu"), &qout).unwrap();
    }
    if g.stdout != qout {
        let n = g.stdout.len().min(qout.len());
        let first = (0..n).find(|&k| g.stdout[k] != qout[k]).unwrap_or(n);
        panic!(
            "{rel}: stdout differs at byte {first} (friscy {} bytes, qemu {} bytes)\nfriscy: {:?}\nqemu:   {:?}",
            g.stdout.len(),
            qout.len(),
            String::from_utf8_lossy(
                &g.stdout[first.saturating_sub(200)..(first + 200).min(g.stdout.len())]
            ),
            String::from_utf8_lossy(
                &qout[first.saturating_sub(200)..(first + 200).min(qout.len())]
            ),
        );
    }
    assert_eq!(status, qstatus, "{rel}: exit status");
    g.stdout
}
