//! Differential fuzzing against qemu-riscv64: thousands of short random instruction
//! sequences (`fuzz/gen.rs`), assembled with GNU as into static ELF programs, run on
//! friscy-exec and on qemu; every sequence's final x1..x31, f0..f31, fcsr and scratch memory
//! must be identical.
//!
//! Each program holds a batch of sequences, each with its own data region (initial values,
//! scratch buffer, dump area); a prologue loads the registers and fcsr from the region, the
//! body runs, an epilogue stores everything back, and at the end the program writes all
//! regions to stdout. When a whole batch diverges (a crash, a stop), it is bisected until
//! the sequences responsible are found. A differing sequence is shrunk by removing items
//! while it still differs, and printed as disassembly with its differing state.
//!
//! Environment: `FRISCY_FUZZ_N` sequences (default 20000, about 20 s of CPU), `FRISCY_FUZZ_SEED` (default
//! fixed), `FRISCY_FUZZ_ONLY=k` runs only sequence `k` of the seed (to reproduce a report),
//! `FRISCY_FUZZ_WASM=1` also runs every program on the interpreter built for wasm32 under
//! wasmtime (`examples/run_elf.rs`), `FRISCY_FUZZ_AOT=1` also translates every program
//! with rv2wasm into that wasm32 build and runs the translated code (issue 16's evidence
//! that both backends agree with qemu), `FRISCY_FUZZ_KEEP=1` keeps the generated sources
//! and programs in the temp directory.

mod common;
#[path = "fuzz/gen.rs"]
mod generator;
#[path = "fuzz/values.rs"]
mod values;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use friscy_exec::decode::{decode16, decode32, inst_len};
use friscy_exec::disasm::disasm;
use friscy_exec::{Machine, StopReason};
use generator::{DUMP_F, DUMP_FCSR, DUMP_X, REGION, SCRATCH, Seq};
use values::Rng;

const DEFAULT_N: usize = 20000;
const DEFAULT_SEED: u64 = 0x5eed_f15c_0001;
const BATCH: usize = 100;

/// How a program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Exit(i32, Vec<u8>),
    /// Anything else: a signal under qemu, a fault or illegal instruction under friscy.
    Stopped(String),
}

/// What comparing one program's runs found.
enum Check {
    Same,
    /// These sequences (indices into the program's list) differ; the rest matched.
    Differs(Vec<usize>),
    /// The runs diverged as a whole.
    Broken,
}

struct Workdir {
    dir: PathBuf,
    counter: AtomicUsize,
    /// `examples/run_elf.rs` built for wasm32-wasip2, when `FRISCY_FUZZ_WASM=1`.
    wasm: Option<PathBuf>,
    /// That build and rv2wasm, when `FRISCY_FUZZ_AOT=1`.
    aot: Option<(PathBuf, PathBuf)>,
}

impl Workdir {
    fn new() -> Workdir {
        let dir = std::env::temp_dir().join(format!("friscy-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let wasm = std::env::var_os("FRISCY_FUZZ_WASM").map(|_| build_run_elf_wasm());
        let aot = std::env::var_os("FRISCY_FUZZ_AOT").map(|_| {
            (
                wasm.clone().unwrap_or_else(build_run_elf_wasm),
                build_rv2wasm(),
            )
        });
        Workdir {
            dir,
            counter: AtomicUsize::new(0),
            wasm,
            aot,
        }
    }

    /// Assembles and links `src` into a fresh executable.
    fn build(&self, src: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let (s, o, e) = (
            self.dir.join(format!("p{n}.S")),
            self.dir.join(format!("p{n}.o")),
            self.dir.join(format!("p{n}")),
        );
        std::fs::write(&s, src).unwrap();
        let out = Command::new("riscv64-linux-gnu-as")
            .args(["-march=rv64gc_zba_zbb_zbs", "-o"])
            .arg(&o)
            .arg(&s)
            .output()
            .expect("riscv64-linux-gnu-as (scripts/setup.sh installs binutils-riscv64-linux-gnu)");
        assert!(
            out.status.success(),
            "assembling {}: {}",
            s.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let ok = Command::new("riscv64-linux-gnu-ld")
            .args(["-static", "--no-relax", "-o"])
            .arg(&e)
            .arg(&o)
            .status()
            .expect("riscv64-linux-gnu-ld")
            .success();
        assert!(ok, "linking {}", o.display());
        if std::env::var_os("FRISCY_FUZZ_KEEP").is_none() {
            std::fs::remove_file(&s).ok();
            std::fs::remove_file(&o).ok();
        }
        e
    }
}

/// Runs on friscy-exec, serving write and exit, `budget` instructions per `run` call.
fn run_friscy(elf: &Path, budget: u64) -> Outcome {
    let mut g = common::load(elf);
    let mut out = Vec::new();
    // Bodies only jump forward, so a batch is a few hundred thousand instructions at most.
    while g.m.instret(g.hart) < 64 << 20 {
        match g.m.run(g.hart, budget) {
            StopReason::BudgetExhausted => continue,
            StopReason::Ecall(sc) if sc.nr == 64 => {
                let mut buf = vec![0; sc.args[2] as usize];
                if g.m.read(g.space, sc.args[1], &mut buf).is_err() {
                    return Outcome::Stopped("write from unreadable memory".into());
                }
                out.extend_from_slice(&buf);
                g.m.set_x(g.hart, 10, sc.args[2]);
            }
            StopReason::Ecall(sc) if sc.nr == 93 => return Outcome::Exit(sc.args[0] as i32, out),
            other => {
                let pc = g.m.pc(g.hart);
                return Outcome::Stopped(format!("{other:?} at pc {pc:#x}"));
            }
        }
    }
    Outcome::Stopped("did not finish".into())
}

/// Builds `examples/run_elf.rs` for wasm32-wasip2 (the interpreter as friscy.wasm ships it,
/// with 32-bit `usize`) and returns the module's path.
fn build_run_elf_wasm() -> PathBuf {
    cargo_artifact(
        &[
            "--target",
            "wasm32-wasip2",
            "-p",
            "friscy-exec",
            "--example",
            "run_elf",
        ],
        "run_elf.wasm",
    )
}

/// `cargo build --release ARGS` and the path of the artifact whose file name is `file`.
fn cargo_artifact(args: &[&str], file: &str) -> PathBuf {
    // Run-time values first: a test binary may have been built by another checkout that
    // shares the target dir (cargo reuses it), whose paths do not exist here.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").into());
    let dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--message-format=json"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cargo");
    assert!(
        out.status.success(),
        "building {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The artifact message names the file: "filenames":["/.../run_elf.wasm"] or
    // "executable":"/.../rv2wasm".
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!("/{file}\"");
    let end = text
        .find(&needle)
        .unwrap_or_else(|| panic!("{file} in cargo's output"))
        + needle.len()
        - 1;
    let start = text[..end].rfind('"').unwrap() + 1;
    PathBuf::from(&text[start..end])
}

/// Runs under wasmtime on the wasm32 build of the interpreter; its stops read as
/// `run_friscy`'s (run_elf prints the same text and exits with 3).
fn run_wasm(module: &Path, elf: &Path, budget: u64) -> Outcome {
    run_wasm_with(module, elf, budget, &[])
}

fn run_wasm_with(module: &Path, elf: &Path, budget: u64, options: &[&str]) -> Outcome {
    let dir = elf.parent().unwrap();
    let out = Command::new("wasmtime")
        .arg("run")
        .args(options)
        .arg("--dir")
        .arg(dir)
        .arg(module)
        .arg(elf)
        .arg(budget.to_string())
        .output()
        .expect("wasmtime (scripts/setup.sh installs it)");
    match out.status.code() {
        Some(3) | None => Outcome::Stopped(String::from_utf8_lossy(&out.stderr).trim().into()),
        Some(c) => Outcome::Exit(c, out.stdout),
    }
}

/// Builds rv2wasm (the `aot/` crate) and returns its path.
fn build_rv2wasm() -> PathBuf {
    cargo_artifact(&["-p", "friscy-aot", "--bin", "rv2wasm"], "rv2wasm")
}

/// Translates `elf` with rv2wasm into run_elf's wasm32 build and runs that, so the
/// program's code runs translated (and interpreted where the budget or a stop says so).
fn run_aot(run_elf: &Path, rv2wasm: &Path, elf: &Path, budget: u64) -> Outcome {
    let module = elf.with_extension("aot.wasm");
    let out = Command::new(rv2wasm)
        .arg(elf)
        .arg("--exec")
        .arg(run_elf)
        .arg("-o")
        .arg(&module)
        .output()
        .expect("rv2wasm");
    if !out.status.success() {
        return Outcome::Stopped(format!(
            "rv2wasm failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // Every module is new: no point filling wasmtime's cache with them.
    let r = run_wasm_with(&module, elf, budget, &["-C", "cache=n"]);
    if std::env::var_os("FRISCY_FUZZ_KEEP").is_none() {
        std::fs::remove_file(&module).ok();
    }
    r
}

fn run_qemu(elf: &Path) -> Outcome {
    let out = Command::new("qemu-riscv64")
        .args(["-cpu", "rv64,zba=true,zbb=true,zbs=true"])
        .arg(elf)
        .output()
        .expect("qemu-riscv64 (scripts/setup.sh installs qemu-user)");
    match out.status.code() {
        Some(c) => Outcome::Exit(c, out.stdout),
        None => Outcome::Stopped(format!("qemu: {}", out.status)),
    }
}

/// Every engine's run of `elf` other than qemu's: the native interpreter, then the
/// wasm32 build and the translated build when asked for.
fn engines(w: &Workdir, elf: &Path, budget: u64) -> Vec<(&'static str, Outcome)> {
    let mut runs = vec![("friscy", run_friscy(elf, budget))];
    if let Some(module) = &w.wasm {
        runs.push(("friscy-wasm", run_wasm(module, elf, budget)));
    }
    if let Some((run_elf, rv2wasm)) = &w.aot {
        runs.push(("friscy-aot", run_aot(run_elf, rv2wasm, elf, budget)));
    }
    runs
}

/// All runs of the program made of `seqs`, and the comparison.
fn check(w: &Workdir, seqs: &[(&Seq, Option<&[bool]>)], budget: u64) -> (Check, PathBuf) {
    let elf = w.build(&generator::program(seqs));
    let q = run_qemu(&elf);
    let runs = engines(w, &elf, budget);
    let len = REGION * seqs.len();
    let region = |out: &[u8], k: usize| out[k * REGION..(k + 1) * REGION].to_vec();
    let full = |o: &Outcome| matches!(o, Outcome::Exit(0, out) if out.len() == len);
    let check = if runs.iter().all(|(_, r)| *r == q) {
        Check::Same
    } else if full(&q) && runs.iter().all(|(_, r)| full(r)) {
        let out = |o: &Outcome| match o {
            Outcome::Exit(_, out) => out.clone(),
            Outcome::Stopped(_) => unreachable!(),
        };
        let qo = out(&q);
        let differ = (0..seqs.len())
            .filter(|&k| {
                runs.iter()
                    .any(|(_, r)| region(&out(r), k) != region(&qo, k))
            })
            .collect();
        Check::Differs(differ)
    } else {
        Check::Broken
    };
    (check, elf)
}

/// The sequences of `seqs` (by index) that differ, bisecting programs that break as a whole.
fn failing(w: &Workdir, seqs: &[(usize, Seq)], budget: u64) -> Vec<usize> {
    let list: Vec<_> = seqs.iter().map(|(_, s)| (s, None)).collect();
    let (c, elf) = check(w, &list, budget);
    if std::env::var_os("FRISCY_FUZZ_KEEP").is_none() {
        std::fs::remove_file(elf).ok();
    }
    match c {
        Check::Same => vec![],
        Check::Differs(ks) => ks.into_iter().map(|k| seqs[k].0).collect(),
        Check::Broken if seqs.len() == 1 => vec![seqs[0].0],
        Check::Broken => {
            let (a, b) = seqs.split_at(seqs.len() / 2);
            let mut r = failing(w, a, budget);
            r.extend(failing(w, b, budget));
            r
        }
    }
}

fn differs(w: &Workdir, seq: &Seq, keep: &[bool], budget: u64) -> bool {
    let (c, elf) = check(w, &[(seq, Some(keep))], budget);
    std::fs::remove_file(elf).ok();
    !matches!(c, Check::Same)
}

/// The smallest set of items (found greedily, by halving chunk sizes) that still differs.
fn shrink(w: &Workdir, seq: &Seq, budget: u64) -> Vec<bool> {
    let n = seq.body.len();
    let mut keep = vec![true; n];
    let mut chunk = n.div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            if keep[start..end].iter().any(|&k| k) {
                let mut trial = keep.clone();
                trial[start..end].fill(false);
                if differs(w, seq, &trial, budget) {
                    keep = trial;
                }
            }
            start = end;
        }
        if chunk == 1 {
            return keep;
        }
        chunk = chunk.div_ceil(2);
    }
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// `riscv64-linux-gnu-nm`'s address for `sym` in `elf`.
fn symbol(elf: &Path, sym: &str) -> u64 {
    let out = Command::new("riscv64-linux-gnu-nm")
        .arg(elf)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" {sym}")))
        .unwrap();
    u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap()
}

/// The minimal reproducer for sequence `index`: friscy's disassembly of its body, the
/// initial values of the registers it names, and what differs.
fn report(w: &Workdir, seed: u64, index: usize, seq: &Seq, keep: &[bool], budget: u64) -> String {
    let (c, elf) = check(w, &[(seq, Some(keep))], budget);
    let mut r = format!(
        "sequence {index} (FRISCY_FUZZ_SEED={seed:#x} FRISCY_FUZZ_ONLY={index}), budget {budget}, shrunk to {} of {} items, base x{}, {}:\n",
        keep.iter().filter(|&&k| k).count(),
        seq.body.len(),
        seq.base,
        if seq.rvc { "rvc" } else { "norvc" },
    );
    // Disassemble the body from the loaded image with friscy's decoder.
    let (start, end) = (symbol(&elf, "fz_b0"), symbol(&elf, "fz_e0"));
    let mut g = common::load(&elf);
    let mut pc = start;
    while pc < end {
        let mut b = [0u8; 4];
        g.m.read(g.space, pc, &mut b[..2]).unwrap();
        let low = u16::from_le_bytes([b[0], b[1]]);
        let (inst, bits) = if inst_len(low) == 2 {
            (decode16(low), format!("{low:04x}    "))
        } else {
            g.m.read(g.space, pc, &mut b).unwrap();
            let w = u32::from_le_bytes(b);
            (decode32(w), format!("{w:08x}"))
        };
        r += &format!("  {pc:#x}: {bits}  {}\n", disasm(&inst, pc));
        pc += inst.len as u64;
    }
    // Initial values of the registers the kept items name.
    let mut text = String::new();
    for (item, _) in seq.body.iter().zip(keep).filter(|(_, k)| **k) {
        text += &item.lines.join(" ");
        text.push(' ');
    }
    let named = |prefix: char| -> Vec<usize> {
        let mut v: Vec<usize> = text
            .split(|ch: char| !ch.is_ascii_alphanumeric())
            .filter_map(|tok| tok.strip_prefix(prefix)?.parse().ok())
            .filter(|&n: &usize| n < 32)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    r += "  initial:";
    for x in named('x').into_iter().filter(|&x| x != 0) {
        r += &format!(" x{x}={:#x}", seq.init_x[x]);
    }
    for f in named('f') {
        r += &format!(" f{f}={:#x}", seq.init_f[f]);
    }
    r += &format!(" fcsr={:#x}\n", seq.init_fcsr);
    let q = run_qemu(&elf);
    for (name, e) in &engines(w, &elf, budget) {
        match (&c, e, &q) {
            _ if *e == q => {}
            (Check::Differs(_), Outcome::Exit(_, eo), Outcome::Exit(_, qo)) => {
                r += &state_diff(name, eo, qo)
            }
            _ => r += &format!("  {name}: {}\n  qemu: {}\n", brief(e), brief(&q)),
        }
    }
    r
}

/// The registers, fcsr and scratch words that differ between two dumps of a sequence.
fn state_diff(name: &str, e: &[u8], q: &[u8]) -> String {
    let mut r = String::new();
    let mut word = |what: String, o: usize| {
        let (a, b) = (u64_at(e, o), u64_at(q, o));
        if a != b {
            r += &format!("  {what}: {name} {a:#018x} qemu {b:#018x}\n");
        }
    };
    for x in 1..32 {
        word(format!("x{x}"), DUMP_X as usize + 8 * (x - 1));
    }
    for k in 0..32 {
        word(format!("f{k}"), DUMP_F as usize + 8 * k);
    }
    word("fcsr".into(), DUMP_FCSR as usize);
    for o in (0..SCRATCH as usize).step_by(8) {
        word(format!("scratch+{o}"), o);
    }
    r
}

fn brief(o: &Outcome) -> String {
    match o {
        Outcome::Exit(c, out) => format!("exit {c} after {} bytes of output", out.len()),
        Outcome::Stopped(why) => why.clone(),
    }
}

fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    Some(match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).expect(name),
        None => v.parse().expect(name),
    })
}

/// The instructions per `run` call for sequence `k` and the others of its batch: plenty
/// for half the batches; a few for a quarter, so that execution stops and resumes in the
/// middle of decoded blocks; some dozens for the rest, so that translated code is entered
/// in the middle of its loops and runs on from there.
fn budget(seed: u64, k: usize) -> u64 {
    let v = Rng::new(seed ^ (k / BATCH) as u64).next();
    match v & 3 {
        0 | 1 => 1 << 20,
        2 => 1 + (v >> 2) % 13,
        _ => 14 + (v >> 2) % 200,
    }
}

/// Sequence `k` of `seed`: each has its own generator, so one can be regenerated alone.
///
/// Sequences run with a small budget have no LR/SC pairs: friscy drops the reservation
/// whenever `run` returns, as Linux does on every return from a trap (arch/riscv/kernel/
/// entry.S, "Dangling load reservations"), so an SC after a budget stop fails there, but
/// succeeds under qemu-user, which never clears it. Both are allowed (RISC-V unpriv 14.2).
fn sequence(seed: u64, k: usize) -> Seq {
    let mut rng = Rng::new(seed ^ (k as u64).wrapping_mul(0xa076_1d64_78bd_642f));
    Seq::generate(&mut rng, budget(seed, k) == 1 << 20)
}

#[test]
fn random_sequences_match_qemu() {
    let seed = env_num("FRISCY_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let indices: Vec<usize> = match env_num("FRISCY_FUZZ_ONLY") {
        Some(k) => vec![k as usize],
        None => (0..env_num("FRISCY_FUZZ_N").map_or(DEFAULT_N, |n| n as usize)).collect(),
    };
    let w = Workdir::new();
    let batches: Vec<&[usize]> = indices.chunks(BATCH).collect();
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(b) else { break };
                    let seqs: Vec<(usize, Seq)> =
                        batch.iter().map(|&k| (k, sequence(seed, k))).collect();
                    let budget = budget(seed, batch[0]);
                    let bad = failing(&w, &seqs, budget);
                    found
                        .lock()
                        .unwrap()
                        .extend(bad.into_iter().map(|k| (k, budget)));
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap();
    found.sort();
    if found.is_empty() {
        if std::env::var_os("FRISCY_FUZZ_KEEP").is_none() {
            std::fs::remove_dir_all(&w.dir).ok();
        }
        return;
    }
    // Shrink and report the first few (they are often the same bug).
    let mut msg = format!(
        "{} of {} random sequences differ from qemu: {:?}\n",
        found.len(),
        indices.len(),
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
    );
    for &(k, budget) in found.iter().take(6) {
        let seq = sequence(seed, k);
        let keep = shrink(&w, &seq, budget);
        msg += &report(&w, seed, k, &seq, &keep, budget);
    }
    panic!("{msg}");
}
