//! The native host's side of the container limits (components/kernel/src/limits.rs has the
//! kernel's): defaults that protect the host, a store limit on the component's linear
//! memories, and a wall-clock backstop for `FRISCY_TIMEOUT`.
//!
//! The kernel enforces the limits itself from the same `FRISCY_*` variables, which is
//! what makes them work under a plain `wasmtime run` too. The host adds what only it can:
//!
//! - Defaults from the host's RAM: `FRISCY_MEMORY` and `FRISCY_DISK` each default to a
//!   quarter of it, at most the kernel's own defaults (what a wasm32 component can hold),
//!   so a run with no options cannot take more than about half the machine.
//! - A store limit (`ResourceLimiter`): all linear memories of the component together may
//!   not grow past memory + disk + an allowance for the components' own state. Past it,
//!   `memory.grow` fails instead of the host being pushed into swap or its own OOM killer;
//!   the components turn that into ENOMEM/ENOSPC where a guest drives the allocation, and
//!   if a component still cannot go on, the run ends with one line and status 137.
//! - Epoch interruption as a backstop for `FRISCY_TIMEOUT`: the kernel ends the run on
//!   time itself; if it cannot (stuck in a loop of its own), the store traps a few seconds
//!   later.

use std::time::Duration;

use anyhow::{Result, bail};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Linear memory the components need beyond the guest's memory and the writable layer:
/// the kernel's tables and buffers, vfs's index of the image, exec's decoded code.
const OVERHEAD: u64 = GIB;
/// How long after `FRISCY_TIMEOUT` the store is interrupted if the kernel has not ended
/// the run by itself.
const GRACE: Duration = Duration::from_secs(5);

/// What the host enforces for one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// Bytes all linear memories together may reach.
    pub store_bytes: u64,
    /// When to interrupt the store (the timeout plus grace).
    pub interrupt_after: Option<Duration>,
}

/// The host's RAM in bytes (MemTotal), or 8 GiB where it cannot be read.
fn host_ram() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(8 * GIB, |kib| kib * 1024)
}

/// The default for a limit whose component default is `cap`, on a host with `ram` bytes.
pub fn default_share(ram: u64, cap: u64) -> u64 {
    (ram / 4).clamp(64 * MIB, cap.max(64 * MIB)) & !(MIB - 1)
}

/// Fill in the defaults for the limits `env` (the guest's environment, where `-e` and the
/// limit options put them) does not set, check the ones it does, and work out what the
/// host enforces. Values are checked as the kernel checks them, so a bad one fails here,
/// before anything is compiled.
pub fn resolve(env: &mut Vec<(String, String)>) -> Result<HostLimits> {
    let get = |env: &Vec<(String, String)>, k: &str| {
        env.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let mut limits = friscy_kernel::limits::Limits::default();
    for (k, v) in env.iter() {
        if let Err(msg) = limits.set(k, v) {
            bail!("{msg}");
        }
    }
    use friscy_kernel::limits::{DEFAULT_DISK, DEFAULT_MEMORY};
    let ram = host_ram();
    for (key, value, cap) in [
        ("FRISCY_MEMORY", &mut limits.memory, DEFAULT_MEMORY),
        ("FRISCY_DISK", &mut limits.disk, DEFAULT_DISK),
    ] {
        if get(env, key).is_none() {
            *value = default_share(ram, cap);
            env.push((key.to_string(), format!("{}m", *value / MIB)));
        }
    }
    Ok(HostLimits {
        store_bytes: limits
            .memory
            .saturating_add(limits.disk)
            .saturating_add(OVERHEAD),
        interrupt_after: limits.timeout_ns.map(|ns| Duration::from_nanos(ns) + GRACE),
    })
}

/// The store's limiter: linear memories (all instances of the composed component) may
/// grow to `store_bytes` together.
pub struct Limiter {
    max: u64,
    used: u64,
    /// A growth was refused: a trap that follows is the component running out of memory.
    pub refused: bool,
}

impl Limiter {
    pub fn new(limits: &HostLimits) -> Limiter {
        Limiter {
            max: limits.store_bytes,
            used: 0,
            refused: false,
        }
    }

    /// The limit, for the message when it was reached.
    pub fn max(&self) -> u64 {
        self.max
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let more = desired.saturating_sub(current) as u64;
        if self.used.saturating_add(more) > self.max {
            self.refused = true;
            return Ok(false);
        }
        self.used += more;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references and resources; a million is far past any need.
        Ok(desired <= 1 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn defaults_are_a_share_of_ram_and_explicit_values_win() {
        assert_eq!(default_share(16 * GIB, 3 * GIB), 3 * GIB);
        assert_eq!(default_share(2 * GIB, 3 * GIB), GIB / 2);
        assert_eq!(default_share(100 * MIB, GIB), 64 * MIB);
        let mut env = vec![("FRISCY_MEMORY".to_string(), "256m".to_string())];
        let l = resolve(&mut env).unwrap();
        let disk = env.iter().find(|(k, _)| k == "FRISCY_DISK").unwrap();
        let disk = friscy_kernel::limits::parse_size(&disk.1).unwrap();
        assert_eq!(l.store_bytes, 256 * MIB + disk + OVERHEAD);
        assert!(!env.iter().any(|(k, v)| k == "FRISCY_MEMORY" && v != "256m"));
        assert_eq!(l.interrupt_after, None);
        let mut env = vec![("FRISCY_TIMEOUT".to_string(), "2".to_string())];
        let l = resolve(&mut env).unwrap();
        assert_eq!(l.interrupt_after, Some(Duration::from_secs(7)));
        let mut env = vec![("FRISCY_PIDS_LIMIT".to_string(), "many".to_string())];
        assert!(resolve(&mut env).is_err());
    }

    #[test]
    fn the_limiter_refuses_growth_past_the_total() {
        let mut l = Limiter {
            max: 10 * MIB,
            used: 0,
            refused: false,
        };
        assert!(l.memory_growing(0, 6 << 20, None).unwrap());
        assert!(l.memory_growing(0, 4 << 20, None).unwrap());
        assert!(!l.memory_growing(4 << 20, 5 << 20, None).unwrap());
        assert!(l.refused);
    }
}
