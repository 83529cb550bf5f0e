//! Running code rv2wasm translated ahead of time, with the interpreter as the fallback.
//!
//! rv2wasm appends translated functions to this very module (see `aot/` at the top of
//! the repository and docs/ARCHITECTURE.md): they share its linear memory, sit in its
//! function table, and call the helpers in `helpers.rs`. It also replaces the bodies of
//! two placeholder functions, so that `manifest()` finds which code exists: per file
//! (keyed by a hash of its contents), entry points by file offset.
//!
//! The kernel tells exec which file bytes sit where (`Machine::map_file`, for ELF
//! segments and private file mappings). `SpaceAot` keeps those registrations per address
//! space; when the block cache decodes a block at a pc that is an entry point of a
//! translated function whose code still holds the file's bytes (no page of it written
//! since: `tainted`) and may be fetched, the block records the translation (`Block::aot`)
//! and the interpreter hands over (`interp::run_blocks`). Registered pages are kept marked
//! as code, so every store into them (the guest's, the kernel's) takes the slow path and
//! taints the page, which drops the translations that cover it.
//!
//! `run` alternates: translated code runs until it stops (ecall, fault, ...) or leaves for
//! a pc it cannot continue at (which the block cache resolves, maybe to other translated
//! code), and the interpreter runs whatever has no translation, exactly as without AOT.
//! A translated function never runs more instructions than the budget allows: it checks
//! at its entries and loop headers that the budget covers the longest path to the next
//! check, and leaves (`STOP_BUDGET`) for the interpreter to finish the slice otherwise, so
//! `run` keeps its contract (at most `budget` instructions, exact instret).

pub mod abi;
mod helpers;
pub mod key;
pub mod manifest;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

pub use key::{FileKey, KeyHasher};

use crate::interp::{self, Hart, RunEnd};
use crate::machine::{Space, StopReason, Syscall};
use crate::memory::{Memory, PAGE_SIZE};
pub use abi::HartAot;
use abi::*;
use manifest::Manifest;

/// `Block::aot` for a block without a translation.
pub const NO_AOT: u64 = u64::MAX;

/// The translations linked into this module, if any (and if built for this ABI).
struct Loaded {
    manifest: Manifest,
    by_key: HashMap<FileKey, u32>,
}

fn loaded() -> Option<&'static Loaded> {
    static LOADED: OnceLock<Option<Loaded>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let bytes = helpers::manifest_bytes();
            if bytes.is_empty() {
                return None;
            }
            let Some(manifest) = Manifest::decode(&bytes) else {
                eprintln!(
                    "friscy-exec: translated code carries a manifest this exec cannot read \
                     (made by another rv2wasm); ignoring it"
                );
                return None;
            };
            if !manifest.abi_matches() {
                eprintln!("friscy-exec: translated code was built for another exec; ignoring it");
                return None;
            }
            let by_key = manifest
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (f.key, i as u32))
                .collect();
            Some(Loaded { manifest, by_key })
        })
        .as_ref()
}

/// Whether this module holds translated code.
pub fn enabled() -> bool {
    loaded().is_some()
}

/// The sizes of the files this module holds translated code for.
pub fn translated_file_sizes() -> Vec<u64> {
    loaded().map_or(Vec::new(), |l| {
        l.manifest.files.iter().map(|f| f.size).collect()
    })
}

/// Instructions retired by translated code and by the interpreter, over the instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub translated: u64,
    pub interpreted: u64,
}

thread_local! {
    static STATS: Cell<Stats> = const { Cell::new(Stats { translated: 0, interpreted: 0 }) };
}

pub fn stats() -> Stats {
    STATS.with(Cell::get)
}

fn count(translated: u64, interpreted: u64) {
    STATS.with(|s| {
        let mut v = s.get();
        v.translated += translated;
        v.interpreted += interpreted;
        s.set(v);
    });
}

/// A registered range of file bytes: `[start, end)` of the space holds the file's bytes
/// from `offset`.
#[derive(Clone, Copy, Debug)]
struct FileMap {
    end: u64,
    file: u32,
    offset: u64,
}

/// Makes the page at `addr` present (as a fetch would) and marks it as holding code;
/// false if it cannot be fetched from.
fn present_code(mem: &mut Memory, addr: u64) -> bool {
    mem.translate(addr, crate::machine::Access::Fetch).is_ok() && mem.mark_code(addr)
}

/// One address space's view of translated code.
#[derive(Clone, Default)]
pub struct SpaceAot {
    maps: BTreeMap<u64, FileMap>,
    /// Pages (numbers) of registered ranges written since they were registered.
    tainted: HashSet<u64>,
}

impl SpaceAot {
    /// Registers `[addr, addr+len)` as holding the bytes of file `key` from `offset`.
    /// Returns whether anything changed (the caller drops decoded blocks there).
    pub(crate) fn map_file(
        &mut self,
        mem: &mut Memory,
        addr: u64,
        len: u64,
        key: FileKey,
        offset: u64,
    ) -> bool {
        let end = addr.saturating_add(len);
        let mut changed = self.forget(addr, end);
        let Some(file) = loaded().and_then(|l| l.by_key.get(&key).copied()) else {
            return changed;
        };
        if len == 0 {
            return changed;
        }
        self.maps.insert(addr, FileMap { end, file, offset });
        for page in addr / PAGE_SIZE..end.div_ceil(PAGE_SIZE) {
            // Stores into the range must be seen from now on, so its pages are made
            // present (mappings fill pages on first touch) and marked as code; a page
            // that cannot be fetched from does not count as the file's bytes.
            if present_code(mem, page * PAGE_SIZE) {
                self.tainted.remove(&page);
            } else {
                self.tainted.insert(page);
            }
        }
        changed = true;
        changed
    }

    /// Whether no registered page has been written (direct calls between translated
    /// functions need no check then).
    pub(crate) fn untainted(&self) -> bool {
        self.tainted.is_empty()
    }

    /// Forgets registrations inside `[start, end)` (munmap, a new mapping over them).
    /// Returns whether there were any.
    pub(crate) fn forget(&mut self, start: u64, end: u64) -> bool {
        let hit: Vec<(u64, FileMap)> = self
            .maps
            .range(..end)
            .filter(|(s, m)| m.end > start && **s < end)
            .map(|(s, m)| (*s, *m))
            .collect();
        for (s, m) in &hit {
            self.maps.remove(s);
            if *s < start {
                self.maps.insert(*s, FileMap { end: start, ..*m });
            }
            if m.end > end {
                self.maps.insert(
                    end,
                    FileMap {
                        offset: m.offset + (end - s),
                        ..*m
                    },
                );
            }
        }
        !hit.is_empty()
    }

    /// Whether `[start, end)` overlaps a registration.
    pub(crate) fn overlaps(&self, start: u64, end: u64) -> bool {
        self.maps
            .range(..end)
            .next_back()
            .is_some_and(|(s, m)| m.end > start && *s < end)
            || self.maps.range(start..end).next().is_some()
    }

    /// Marks the registered pages of `mem` as code again (after fork or mprotect cleared
    /// the marks): stores into them must keep being noticed.
    pub(crate) fn remark(&mut self, mem: &mut Memory) {
        for (&start, m) in &self.maps {
            for page in start / PAGE_SIZE..m.end.div_ceil(PAGE_SIZE) {
                if !present_code(mem, page * PAGE_SIZE) {
                    self.tainted.insert(page);
                }
            }
        }
    }

    /// Notes that `pages` were written. Returns whether a registered page was among them
    /// (then every decoded block must go: translations span pages).
    pub(crate) fn taint(&mut self, pages: &[u64]) -> bool {
        if self.maps.is_empty() {
            return false;
        }
        let mut hit = false;
        for &page in pages {
            let addr = page * PAGE_SIZE;
            let registered = self
                .maps
                .range(..addr + PAGE_SIZE)
                .next_back()
                .is_some_and(|(_, m)| m.end > addr);
            if registered && self.tainted.insert(page) {
                hit = true;
            }
        }
        hit
    }

    /// The translation entered at `pc`, as `Block::aot` stores it (`slot << 32 | entry`),
    /// or `NO_AOT`, and the address of the file's offset 0 (`Block::aot_base`). Checks
    /// that the whole function still holds the file's bytes and may be fetched.
    pub(crate) fn probe(&mut self, mem: &mut Memory, pc: u64) -> (u64, u64) {
        if self.maps.is_empty() {
            return (NO_AOT, 0);
        }
        let Some(l) = loaded() else {
            return (NO_AOT, 0);
        };
        let Some((&start, m)) = self.maps.range(..=pc).next_back() else {
            return (NO_AOT, 0);
        };
        if pc >= m.end {
            return (NO_AOT, 0);
        }
        let file = &l.manifest.files[m.file as usize];
        let Some(e) = file.entry(pc - start + m.offset) else {
            return (NO_AOT, 0);
        };
        let f = file.funcs[e.func as usize];
        let (map_lo, map_hi) = (m.offset, m.offset + (m.end - start));
        if f.lo < map_lo || f.hi > map_hi || f.lo >= f.hi {
            return (NO_AOT, 0);
        }
        let (lo, hi) = (start + (f.lo - map_lo), start + (f.hi - map_lo));
        for page in lo / PAGE_SIZE..hi.div_ceil(PAGE_SIZE) {
            let a = page * PAGE_SIZE;
            if self.tainted.contains(&page)
                || mem.translate(a, crate::machine::Access::Fetch).is_err()
                || !mem.mark_code(a)
            {
                return (NO_AOT, 0);
            }
        }
        (
            (f.slot as u64) << 32 | e.entry as u64,
            start.wrapping_sub(m.offset),
        )
    }
}

/// What the helpers need while translated code runs: the space (its memory and code),
/// and what a helper's stop was. One Wasm instance is one thread, and translated code only
/// runs inside `run`, which sets these.
pub(crate) struct Context {
    pub space: *mut Space,
    pub stop: Option<StopReason>,
    /// instret when the current translated call began, and its budget.
    pub instret0: u64,
    pub budget0: i64,
}

thread_local! {
    pub(crate) static CTX: Cell<*mut Context> = const { Cell::new(core::ptr::null_mut()) };
}

/// Runs `h` for at most `budget` instructions, translated code where there is some.
pub(crate) fn run(h: &mut Hart, space: &mut Space, budget: u64) -> StopReason {
    // Like Linux on every return to user space, drop any dangling LR reservation.
    h.reservation = None;
    if !enabled() {
        let before = h.instret;
        let stop = interp::run(h, space, budget);
        count(0, h.instret - before);
        return stop;
    }
    let mut left = budget;
    // Once translated code says the budget is too short for it, the interpreter finishes
    // the slice.
    let mut interp_only = false;
    loop {
        if left == 0 {
            return StopReason::BudgetExhausted;
        }
        let (aot, base) = if interp_only {
            (NO_AOT, 0)
        } else {
            space.mem.catch_up();
            space.code.sync(&mut space.mem);
            match space.code.lookup(&mut space.mem, h.pc) {
                Ok(idx) => {
                    let b = space.code.block(idx);
                    (b.aot, b.aot_base)
                }
                Err(f) => return StopReason::Fault(f),
            }
        };
        if aot == NO_AOT {
            let before = h.instret;
            let end = interp::run_blocks(h, space, left, !interp_only);
            let n = h.instret - before;
            count(0, n);
            left -= n;
            match end {
                RunEnd::Stop(reason) => return reason,
                RunEnd::Translated => continue,
            }
        }
        let (r, stop, reason) = call(h, space, aot, base, left);
        let n = left - r;
        count(n, 0);
        left = r;
        match stop {
            STOP_NONE => {}
            STOP_ECALL => {
                let x = &h.x;
                let args = [x[10], x[11], x[12], x[13], x[14], x[15]];
                return StopReason::Ecall(Syscall { nr: x[17], args });
            }
            STOP_EBREAK => return StopReason::Breakpoint,
            STOP_ILLEGAL => return StopReason::IllegalInstruction(h.aot.arg as u32),
            STOP_HELPER => {
                return reason.expect("friscy-exec: a helper stopped without a reason");
            }
            STOP_FENCE_I => space.code.flush(),
            STOP_BUDGET => interp_only = true,
            // The store's invalidation is picked up by the next sync.
            STOP_CODE_DIRTY => {}
            _ => unreachable!("friscy-exec: translated code stopped with {stop}"),
        }
    }
}

/// Calls the translation `aot` at `h.pc` (its file's offset 0 at `base`) with `budget`;
/// returns the budget left, the stop (`STOP_NONE` to continue at `h.pc`) and a helper's
/// stop reason, with instret updated.
fn call(
    h: &mut Hart,
    space: &mut Space,
    aot: u64,
    base: u64,
    budget: u64,
) -> (u64, u32, Option<StopReason>) {
    let budget = budget.min(i64::MAX as u64) as i64;
    let mut ctx = Context {
        space: space as *mut Space,
        stop: None,
        instret0: h.instret,
        budget0: budget,
    };
    // The TLB's wasm32 address (truncation is moot elsewhere: no translated code runs).
    h.aot.tlb = &*space.mem.tlb as *const crate::memory::tlb::Tlb as usize as u32;
    h.aot.stop = STOP_NONE;
    h.aot.direct = space.code.aot.untainted() as u32;
    let prev = CTX.with(|c| c.replace(&mut ctx));
    let r = helpers::call_translated(h, aot, base, budget);
    CTX.with(|c| c.set(prev));
    let (left, stop) = if r >= 0 {
        (r, STOP_NONE)
    } else {
        (!r, h.aot.stop)
    };
    debug_assert!(left <= budget, "translated code gained budget");
    h.instret = ctx.instret0 + (budget - left) as u64;
    (left as u64, stop, ctx.stop.take())
}
