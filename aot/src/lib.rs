//! rv2wasm: RISC-V ELF code translated ahead of time into WebAssembly, linked into
//! friscy's exec component so that it runs where the interpreter would have.
//!
//! `elf` reads the code and its function starts, `discover` splits it into functions and
//! blocks with exec's own decoder, `emit` turns each function into a Wasm function, and
//! `link` appends them to exec's core module with a manifest (file key, file offset ->
//! function, entry) that exec's `aot` module reads at start-up. See docs/ARCHITECTURE.md.

pub mod discover;
pub mod elf;
pub mod emit;
pub mod image;
pub mod link;

use anyhow::{Context, Result};
use friscy_exec::FileKey;
use friscy_exec::aot::abi;
use friscy_exec::aot::manifest::{self, Manifest};

/// One input file.
#[derive(Debug)]
pub struct Input {
    pub name: String,
    pub data: Vec<u8>,
}

/// What a translation did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub files: usize,
    pub funcs: usize,
    pub blocks: usize,
    pub insts: usize,
    /// Bytes of guest code covered by translated blocks.
    pub code_bytes: u64,
    /// Bytes of executable segments in the inputs.
    pub text_bytes: u64,
    /// Inputs skipped (not riscv64 ELF, or unreadable), with why.
    pub skipped: Vec<(String, String)>,
}

/// Translates `inputs` and links them into `exec` (the interpreter's component); returns
/// the new component.
pub fn translate(inputs: &[Input], exec: &[u8]) -> Result<(Vec<u8>, Report)> {
    let mut report = Report::default();
    let mut parsed = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for input in inputs {
        let img = match elf::Image::parse(&input.data) {
            Ok(img) => img,
            Err(e) => {
                report.skipped.push((input.name.clone(), format!("{e:#}")));
                continue;
            }
        };
        // The same file given twice (hard links in an image) is translated once.
        if !keys.insert(FileKey::of(&input.data)) {
            continue;
        }
        let funcs = discover::discover(&img);
        report.files += 1;
        report.text_bytes += img.segments.iter().map(|s| s.data_len).sum::<u64>();
        parsed.push((img, funcs));
    }
    let out = link::edit_component(exec, |module, info| {
        let mut wasm_funcs = Vec::new();
        let mut man = Manifest {
            layout: abi::layout().to_vec(),
            files: Vec::new(),
        };
        for (img, funcs) in &parsed {
            let mut file = manifest::File {
                key: FileKey::of(img.data),
                size: img.data.len() as u64,
                funcs: Vec::new(),
                entries: Vec::new(),
            };
            // Every entry of the file's functions, for direct calls between them.
            let first = wasm_funcs.len() as u32;
            let mut callees = std::collections::HashMap::new();
            let entries: Vec<Vec<bool>> = funcs.iter().map(emit::entries).collect();
            for (fi, f) in funcs.iter().enumerate() {
                let lo = f.blocks[0].start;
                for (b, _) in f.blocks.iter().zip(&entries[fi]).filter(|(_, e)| **e) {
                    callees.entry(b.start).or_insert((
                        info.func_index(first + fi as u32),
                        emit::entry_of(lo, b.start),
                    ));
                }
            }
            let lookup = |pc: u64| callees.get(&pc).copied();
            for (f, entry) in funcs.iter().zip(&entries) {
                let slot = info.slot(wasm_funcs.len() as u32);
                let fi = file.funcs.len() as u32;
                let (mut lo, mut hi) = (u64::MAX, 0);
                let first_block = f.blocks[0].start;
                for (b, &is_entry) in f.blocks.iter().zip(entry) {
                    let off = img.offset_of(b.start).context("a block outside code")?;
                    lo = lo.min(off);
                    hi = hi.max(off + (b.end - b.start));
                    report.blocks += 1;
                    report.insts += b.insts.len();
                    report.code_bytes += b.end - b.start;
                    if is_entry {
                        file.entries.push(manifest::Entry {
                            offset: off,
                            func: fi,
                            entry: emit::entry_of(first_block, b.start),
                        });
                    }
                }
                file.funcs.push(manifest::Func { slot, lo, hi });
                let seg = img
                    .segment_of(f.blocks[0].start)
                    .context("a function outside code")?;
                let delta = seg.vaddr.wrapping_sub(seg.offset);
                wasm_funcs.push(emit::emit(f, info.helpers, delta, &lookup));
                report.funcs += 1;
            }
            file.entries.sort_by_key(|e| e.offset);
            file.entries.dedup_by_key(|e| e.offset);
            man.files.push(file);
        }
        link::link_module(module, &info, &wasm_funcs, &man.encode())
    })?;
    Ok((out, report))
}
