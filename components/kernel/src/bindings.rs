//! The kernel's WIT layer, in its two builds:
//! - `component`: the composed kernel; exec and vfs are WIT imports, wrapped here into
//!   the kernel's `Machine` and `Fs` traits;
//! - `fused`: exec and vfs linked in as libraries; only the rootfs image is imported.
//!
//! Both export `wasi:cli/run` and share the WASI-backed `Host`, whose console facts come
//! from the `friscy:tty/console` import (the native host, a browser page, or the
//! `console-wasi` component in sealed builds).

use friscy_abi::Errno;

use crate::host::{ConsoleEvent, ConsoleMode};
use crate::{Host, Kernel, Stdio};

#[cfg(feature = "component")]
mod generated {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "friscy:kernel/kernel",
        features: ["cli-exit-with-code"],
        generate_all,
    });
}

#[cfg(all(
    feature = "fused",
    not(feature = "component"),
    not(feature = "browser")
))]
mod generated {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "friscy:kernel/kernel-fused",
        features: ["cli-exit-with-code"],
        generate_all,
    });
}

#[cfg(all(feature = "browser", not(feature = "component")))]
mod generated {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "friscy:kernel/kernel-browser",
        features: ["cli-exit-with-code"],
        generate_all,
    });
}

use generated::friscy::tty::console;
pub(crate) use generated::wasi;

/// How long the guest's machine seems to have been up when the run starts. wasmtime's
/// monotonic clock starts at zero with each run, where Linux's CLOCK_MONOTONIC has counted
/// since boot: a program that asks for a time a second in the past (ipc_timerfd's
/// TFD_TIMER_ABSTIME) got a negative time, and EINVAL, under `wasmtime run`.
const BOOT_NS: u64 = 60_000_000_000;

/// The host side of the kernel, over WASI: the standard streams as wasi:io streams (so
/// stdin can be read without blocking and waited on with `wasi:io/poll`), clocks, random,
/// and the console.
struct WasiHost {
    stdin: wasi::io::streams::InputStream,
    stdout: wasi::io::streams::OutputStream,
    stderr: wasi::io::streams::OutputStream,
    stdin_eof: bool,
    mode: ConsoleMode,
}

impl WasiHost {
    fn new() -> WasiHost {
        WasiHost {
            stdin: wasi::cli::stdin::get_stdin(),
            stdout: wasi::cli::stdout::get_stdout(),
            stderr: wasi::cli::stderr::get_stderr(),
            stdin_eof: false,
            mode: match console::mode() {
                console::TtyMode::None => ConsoleMode::None,
                console::TtyMode::Raw => ConsoleMode::Raw,
                console::TtyMode::Cooked => ConsoleMode::Cooked,
            },
        }
    }
}

impl Host for WasiHost {
    fn read_stdin(&mut self, max: usize) -> Option<Vec<u8>> {
        if self.stdin_eof {
            return Some(Vec::new());
        }
        match self.stdin.read(max as u64) {
            Ok(data) if data.is_empty() => None,
            Ok(data) => Some(data),
            Err(_) => {
                self.stdin_eof = true;
                Some(Vec::new())
            }
        }
    }
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), Errno> {
        use wasi::io::streams::StreamError;
        let out = match stream {
            Stdio::Err => &self.stderr,
            _ => &self.stdout,
        };
        // blocking-write-and-flush takes at most 4096 bytes per call.
        for chunk in data.chunks(4096) {
            out.blocking_write_and_flush(chunk).map_err(|e| match e {
                StreamError::Closed => Errno::EPIPE,
                // The host's error, as wasi:filesystem names it (a full disk is ENOSPC,
                // not a broken pipe: `friscy run ... > /dev/full`).
                StreamError::LastOperationFailed(err) => {
                    wasi::filesystem::types::filesystem_error_code(&err)
                        .map_or(Errno::EIO, crate::wasi_dir::errno)
                }
            })?;
        }
        Ok(())
    }
    fn console_mode(&self) -> ConsoleMode {
        self.mode
    }
    fn console_size(&self) -> Option<(u16, u16)> {
        console::size().map(|w| (w.rows, w.cols))
    }
    fn console_events(&mut self) -> Vec<ConsoleEvent> {
        console::events()
            .into_iter()
            .map(|e| match e {
                console::Event::Resize(w) => ConsoleEvent::Resize {
                    rows: w.rows,
                    cols: w.cols,
                },
                console::Event::Signal(s) => ConsoleEvent::Signal(s),
            })
            .collect()
    }
    fn wall_clock(&self) -> (i64, u32) {
        let now = wasi::clocks::wall_clock::now();
        (now.seconds as i64, now.nanoseconds)
    }
    fn monotonic_ns(&self) -> u64 {
        wasi::clocks::monotonic_clock::now() + BOOT_NS
    }
    fn random(&mut self, buf: &mut [u8]) {
        let bytes = wasi::random::random::get_random_bytes(buf.len() as u64);
        buf.copy_from_slice(&bytes);
    }
    fn diagnostic(&mut self, line: &str) {
        // A raw terminal does not turn NL into CR NL.
        let end = if self.mode == ConsoleMode::Raw {
            "\r\n"
        } else {
            "\n"
        };
        let _ = self.write(Stdio::Err, format!("{line}{end}").as_bytes());
    }
    fn wait(&mut self, stdin: bool, deadline_ns: Option<u64>, net: Vec<u32>) {
        let mut pollables = Vec::new();
        for h in net {
            // SAFETY: the net backend handed over owned pollable handles of this
            // component's wasi:io/poll import (the same resource table).
            pollables.push(unsafe { wasi::io::poll::Pollable::from_handle(h) });
        }
        if stdin && !self.stdin_eof {
            pollables.push(self.stdin.subscribe());
        }
        if let Some(t) = deadline_ns {
            let host = t.saturating_sub(BOOT_NS);
            pollables.push(wasi::clocks::monotonic_clock::subscribe_instant(host));
        }
        // Resizes and forwarded signals wake the kernel too.
        pollables.push(console::subscribe());
        if !pollables.is_empty() {
            let refs: Vec<&wasi::io::poll::Pollable> = pollables.iter().collect();
            wasi::io::poll::poll(&refs);
        }
    }
    #[cfg(all(feature = "browser", not(feature = "component")))]
    fn keeps_layer(&self) -> bool {
        generated::friscy::vfs::layer::persistent()
    }
    #[cfg(all(feature = "browser", not(feature = "component")))]
    fn save_layer(&mut self, layer: &[u8]) {
        generated::friscy::vfs::layer::save(layer);
    }
}

/// The guest's argv from ours: drop our own name and a leading `--` (wasmtime passes it
/// through, and users write `wasmtime run friscy.wasm -- /bin/ls`).
pub fn guest_argv(args: impl IntoIterator<Item = String>) -> Vec<Vec<u8>> {
    let mut args = args.into_iter().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--") {
        args.next();
    }
    args.map(String::into_bytes).collect()
}

/// Kernel options come from `FRISCY_*` variables, which are not passed to the guest
/// (`friscy run` sets them from its options; `wasmtime run --env` sets them by hand).
#[derive(Default)]
struct Options {
    trace: bool,
    /// FRISCY_AOT_STATS=1: how many instructions ran translated, at exit.
    aot_stats: bool,
    /// FRISCY_PORTS=HOST:GUEST[,...]: guest binds to GUEST bind HOST.
    ports: Vec<(u16, u16)>,
    /// FRISCY_ENTRYPOINT, FRISCY_WORKDIR, FRISCY_USER.
    overrides: crate::image::Overrides,
    /// FRISCY_HOSTNAME.
    hostname: Option<String>,
    /// FRISCY_READ_ONLY=1.
    read_only: bool,
    /// FRISCY_TMPFS=PATH[,PATH...].
    tmpfs: Vec<String>,
    /// FRISCY_MEMORY, FRISCY_PIDS_LIMIT, FRISCY_NOFILE, FRISCY_DISK, FRISCY_TIMEOUT.
    limits: crate::limits::Limits,
    /// A malformed limit: the run does not start.
    bad: Option<String>,
}

fn split_env() -> (Vec<Vec<u8>>, Options) {
    let mut opts = Options::default();
    let mut envp = Vec::new();
    for (k, v) in wasi::cli::environment::get_environment() {
        match opts.limits.set(&k, &v) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(msg) => {
                opts.bad.get_or_insert(msg);
                continue;
            }
        }
        match k.as_str() {
            "FRISCY_TRACE" => opts.trace = !v.is_empty() && v != "0",
            "FRISCY_AOT_STATS" => opts.aot_stats = !v.is_empty() && v != "0",
            "FRISCY_PORTS" => {
                for pair in v.split(',').filter(|p| !p.is_empty()) {
                    let parsed = pair
                        .split_once(':')
                        .and_then(|(h, g)| Some((g.parse().ok()?, h.parse().ok()?)));
                    match parsed {
                        Some(p) => opts.ports.push(p),
                        None => eprintln!("friscy: FRISCY_PORTS: {pair:?} is not HOST:GUEST"),
                    }
                }
            }
            "FRISCY_ENTRYPOINT" => opts.overrides.entrypoint = Some(v.into_bytes()),
            "FRISCY_WORKDIR" => opts.overrides.workdir = Some(v.into_bytes()),
            "FRISCY_USER" => opts.overrides.user = Some(v),
            "FRISCY_HOSTNAME" => opts.hostname = Some(v),
            "FRISCY_READ_ONLY" => opts.read_only = !v.is_empty() && v != "0",
            "FRISCY_TMPFS" => opts
                .tmpfs
                .extend(v.split(',').filter(|p| !p.is_empty()).map(String::from)),
            // Other FRISCY_* variables are other parts' options, never the guest's.
            _ if k.starts_with("FRISCY_") => {}
            _ => envp.push(format!("{k}={v}").into_bytes()),
        }
    }
    (envp, opts)
}

/// One line on stderr and Docker's status for "the container could not be started".
fn fail(msg: &str) -> Result<(), ()> {
    eprintln!("friscy: {msg}");
    wasi::cli::exit::exit_with_code(125);
    Err(())
}

fn run(make: impl FnOnce() -> Result<Kernel, String>) -> Result<(), ()> {
    let mut kernel = match make() {
        Ok(k) => k,
        Err(msg) => return fail(&msg),
    };
    let (envp, opts) = split_env();
    if let Some(msg) = opts.bad {
        return fail(&msg);
    }
    kernel.trace = opts.trace;
    kernel.port_map = opts.ports;
    kernel.apply_limits(opts.limits);
    if let Some(h) = opts.hostname {
        kernel.hostname = h.into_bytes();
    }
    let argv = guest_argv(wasi::cli::environment::get_arguments());
    // The image's entrypoint, cmd, env, working dir and user, where friscy-pack baked
    // them in, with the run-time overrides.
    let config = generated::friscy::vfs::image::config();
    let start = crate::image::launch(&config, argv, envp, &opts.overrides).and_then(|l| {
        let mut writable = Vec::new();
        for path in &opts.tmpfs {
            writable.push(kernel.tmpfs(path.as_bytes())?);
        }
        let start = kernel.prepare(l)?;
        if opts.read_only {
            kernel.make_read_only(writable);
        }
        Ok(start)
    });
    let start = match start {
        Ok(s) => s,
        Err(msg) => return fail(&msg),
    };
    let status = kernel.run_command_as(start.cwd, start.creds, start.argv, start.envp);
    if opts.aot_stats || opts.trace {
        let report = kernel.aot_report();
        kernel.report(&report);
    }
    // The instance ends with this call (the layer is saved, every process is gone):
    // freeing the kernel piece by piece (the inode table, the page cache, the processes'
    // pages) would only cost time, for memory that goes with the instance. Debian's
    // `/bin/true` spent about 0.3 ms of its start in dlfree and drops here.
    std::mem::forget(kernel);
    if status == 0 {
        return Ok(());
    }
    // The exact status where the host supports it (wasmtime, our native host); a host
    // without exit-with-code still sees failure through the error result.
    wasi::cli::exit::exit_with_code(status);
    Err(())
}

struct Component;

impl generated::exports::wasi::cli::run::Guest for Component {
    fn run() -> Result<(), ()> {
        run(make_kernel)
    }
}

generated::export!(Component with_types_in generated);

#[cfg(all(
    feature = "fused",
    not(feature = "component"),
    not(feature = "browser")
))]
fn make_kernel() -> Result<Kernel, String> {
    use friscy_vfs::{RootfsImport, Vfs};
    use generated::friscy::vfs::rootfs as r;

    let image = RootfsImport::new(r::size, r::read, r::read_words, r::prefers_words);
    let vfs = Vfs::new(image).map_err(|e| format!("rootfs: {e}"))?;
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        with_mounts(Box::new(vfs))?,
        Box::new(WasiHost::new()),
    );
    k.net = Box::new(friscy_net::wasi::WasiNet::new());
    Ok(k)
}

/// The browser build: the fused kernel over the page's imports. The saved writable layer
/// (if any) is applied over the image; sockets go through the relay when the page has a
/// proxy (`FRISCY_RELAY` set in the environment, which the guest does not see), and fail
/// with EACCES otherwise, as under `wasmtime run` without network permission.
#[cfg(all(feature = "browser", not(feature = "component")))]
fn make_kernel() -> Result<Kernel, String> {
    use friscy_vfs::{RootfsSource, Vfs};
    use generated::friscy::net::transport;
    use generated::friscy::vfs::{layer, rootfs};

    struct ImportedRootfs;
    impl RootfsSource for ImportedRootfs {
        fn size(&self) -> u64 {
            rootfs::size()
        }
        fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
            rootfs::read(offset, len)
        }
    }
    struct SavedLayer;
    impl RootfsSource for SavedLayer {
        fn size(&self) -> u64 {
            layer::size()
        }
        fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
            layer::read(offset, len)
        }
    }
    struct PageTransport;
    impl friscy_net::relay::Transport for PageTransport {
        fn send(&mut self, message: Vec<u8>) -> Result<(), friscy_net::relay::Closed> {
            transport::send(&message).map_err(|_| friscy_net::relay::Closed)
        }
        fn try_recv(&mut self) -> Result<Option<Vec<u8>>, friscy_net::relay::Closed> {
            transport::try_recv().map_err(|_| friscy_net::relay::Closed)
        }
        fn subscribe(&mut self) -> Option<u32> {
            Some(transport::subscribe().take_handle())
        }
    }

    let mut vfs = Vfs::new(ImportedRootfs).map_err(|e| format!("rootfs: {e}"))?;
    let mut restore_error = None;
    if let Err(e) = vfs.apply_layer(&SavedLayer) {
        // A damaged saved layer must not lock the user out of the image.
        restore_error = Some(format!(
            "the saved writable layer is unreadable ({e}); starting from the image"
        ));
    }
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        with_mounts(Box::new(vfs))?,
        Box::new(WasiHost::new()),
    );
    if let Some(msg) = restore_error {
        k.report(&msg);
    }
    let relay = wasi::cli::environment::get_environment()
        .iter()
        .any(|(k, v)| k == "FRISCY_RELAY" && !v.is_empty());
    if relay {
        k.net = Box::new(friscy_net::relay::RelayNet::new(PageTransport));
    }
    Ok(k)
}

#[cfg(feature = "component")]
fn make_kernel() -> Result<Kernel, String> {
    if let Some(err) = generated::friscy::vfs::fs::image_error() {
        return Err(format!("rootfs: {err}"));
    }
    let mut k = Kernel::new(
        Box::new(imported::ImportedMachine::default()),
        with_mounts(Box::new(imported::ImportedFs))?,
        Box::new(WasiHost::new()),
    );
    k.net = Box::new(imported::ImportedNet);
    Ok(k)
}

/// The host's preopened directories mounted at their names: `wasmtime run --dir
/// HOST::/data` (and `friscy run -v HOST:/data`, which the native host turns into the
/// same preopen) is named "/data". Preopens with relative names ("." from `--dir .`) have
/// no place in the guest's tree and are left out.
fn with_mounts(fs: Box<dyn friscy_vfs::Fs>) -> Result<Box<dyn friscy_vfs::Fs>, String> {
    use crate::mounts::{HostDir, Mounts};
    use crate::wasi_dir::WasiDir;
    let dirs: Vec<(String, Box<dyn HostDir>)> = wasi::filesystem::preopens::get_directories()
        .into_iter()
        .filter(|(_, name)| name.starts_with('/') && !name.trim_matches('/').is_empty())
        .map(|(dir, name)| (name, Box::new(WasiDir::new(dir)) as Box<dyn HostDir>))
        .collect();
    if dirs.is_empty() {
        return Ok(fs);
    }
    Ok(Box::new(Mounts::new(fs, dirs)?))
}

/// exec and vfs over their WIT imports.
#[cfg(feature = "component")]
mod imported {
    use std::collections::HashMap;

    use friscy_abi::Errno;
    use friscy_exec::{
        Access, ExecStats, Fault, FaultCause, FileKey, HartId, Machine, MapError, ObjId, Prot,
        Registers, SpaceId, StopReason, Syscall,
    };
    use friscy_vfs::{Dirent, Fs, Ino, SetAttr, Stat, Timespec};

    use super::generated::friscy::exec::machine as m;
    use super::generated::friscy::vfs::{fs, fs as t};

    /// Owns the resources; the hot path uses the plain functions with their ids.
    #[derive(Default)]
    pub struct ImportedMachine {
        spaces: HashMap<SpaceId, m::AddressSpace>,
        harts: HashMap<HartId, m::Hart>,
    }

    fn prot(p: Prot) -> m::Prot {
        m::Prot::from_bits_retain(p.0)
    }
    fn map_err(e: m::MapError) -> MapError {
        match e {
            m::MapError::Invalid => MapError::Invalid,
            m::MapError::OutOfMemory => MapError::OutOfMemory,
        }
    }
    fn fault(f: m::Fault) -> Fault {
        Fault {
            addr: f.addr,
            access: match f.access {
                m::Access::Load => Access::Load,
                m::Access::Store => Access::Store,
                m::Access::Fetch => Access::Fetch,
            },
            cause: match f.cause {
                m::FaultCause::Unmapped => FaultCause::Unmapped,
                m::FaultCause::Protection => FaultCause::Protection,
                m::FaultCause::OutOfMemory => FaultCause::OutOfMemory,
                m::FaultCause::NotFilled => FaultCause::NotFilled,
            },
        }
    }

    impl Machine for ImportedMachine {
        fn space_new(&mut self) -> SpaceId {
            let s = m::AddressSpace::new();
            let id = s.id();
            self.spaces.insert(id, s);
            id
        }
        fn space_fork(&mut self, space: SpaceId) -> SpaceId {
            let s = self.spaces[&space].fork();
            let id = s.id();
            self.spaces.insert(id, s);
            id
        }
        fn space_drop(&mut self, space: SpaceId) {
            self.spaces.remove(&space);
        }
        fn hart_new(&mut self, space: SpaceId) -> HartId {
            let h = m::Hart::new(&self.spaces[&space]);
            let id = h.id();
            self.harts.insert(id, h);
            id
        }
        fn hart_drop(&mut self, hart: HartId) {
            self.harts.remove(&hart);
        }
        fn map(&mut self, space: SpaceId, addr: u64, len: u64, p: Prot) -> Result<(), MapError> {
            m::map_pages(space, addr, len, prot(p)).map_err(map_err)
        }
        fn unmap(&mut self, space: SpaceId, addr: u64, len: u64) -> Result<(), MapError> {
            m::unmap_pages(space, addr, len).map_err(map_err)
        }
        fn protect(
            &mut self,
            space: SpaceId,
            addr: u64,
            len: u64,
            p: Prot,
        ) -> Result<(), MapError> {
            m::protect_pages(space, addr, len, prot(p)).map_err(map_err)
        }
        fn read(&mut self, space: SpaceId, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
            let data = m::read(space, addr, buf.len() as u32).map_err(fault)?;
            buf.copy_from_slice(&data);
            Ok(())
        }
        fn write(&mut self, space: SpaceId, addr: u64, data: &[u8]) -> Result<(), Fault> {
            m::write(space, addr, data).map_err(fault)
        }
        fn read_cstr(&mut self, space: SpaceId, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
            m::read_cstr(space, addr, max as u32).map_err(fault)
        }
        fn run(&mut self, hart: HartId, budget: u64) -> StopReason {
            match m::run(hart, budget) {
                m::StopReason::Ecall(s) => {
                    let (a0, a1, a2, a3, a4, a5) = s.args;
                    StopReason::Ecall(Syscall {
                        nr: s.nr,
                        args: [a0, a1, a2, a3, a4, a5],
                    })
                }
                m::StopReason::Breakpoint => StopReason::Breakpoint,
                m::StopReason::BudgetExhausted => StopReason::BudgetExhausted,
                m::StopReason::IllegalInstruction(bits) => StopReason::IllegalInstruction(bits),
                m::StopReason::Fault(f) => StopReason::Fault(fault(f)),
            }
        }
        fn registers(&self, hart: HartId) -> Registers {
            let r = m::get_registers(hart);
            let mut out = Registers {
                x: [0; 32],
                f: [0; 32],
                pc: r.pc,
                fcsr: r.fcsr,
            };
            out.x.copy_from_slice(&r.x[..32]);
            out.f.copy_from_slice(&r.f[..32]);
            out
        }
        fn set_registers(&mut self, hart: HartId, r: &Registers) {
            m::set_registers(
                hart,
                &m::Registers {
                    x: r.x.to_vec(),
                    f: r.f.to_vec(),
                    pc: r.pc,
                    fcsr: r.fcsr,
                },
            );
        }
        fn x(&self, hart: HartId, reg: u8) -> u64 {
            m::get_x(hart, reg)
        }
        fn set_x(&mut self, hart: HartId, reg: u8, value: u64) {
            m::set_x(hart, reg, value)
        }
        fn pc(&self, hart: HartId) -> u64 {
            m::get_pc(hart)
        }
        fn set_pc(&mut self, hart: HartId, pc: u64) {
            m::set_pc(hart, pc)
        }
        fn instret(&self, hart: HartId) -> u64 {
            m::instret(hart)
        }
        fn map_file(&mut self, space: SpaceId, addr: u64, len: u64, key: FileKey, offset: u64) {
            m::map_file(space, addr, len, key.halves(), offset)
        }
        fn exec_stats(&self) -> ExecStats {
            let (translated, interpreted) = m::exec_stats();
            ExecStats {
                translated,
                interpreted,
            }
        }
        fn translated_file_sizes(&self) -> Vec<u64> {
            m::translated_file_sizes()
        }
        fn obj_create(&mut self, pages: u64) -> ObjId {
            m::object_create(pages)
        }
        fn obj_create_unfilled(&mut self, pages: u64) -> ObjId {
            m::object_create_unfilled(pages)
        }
        fn obj_drop(&mut self, obj: ObjId) {
            m::object_drop(obj)
        }
        fn object_at(&mut self, space: SpaceId, addr: u64) -> Option<(ObjId, u64)> {
            m::object_at(space, addr)
        }
        fn obj_resize(&mut self, obj: ObjId, pages: u64) -> Result<(), MapError> {
            m::object_resize(obj, pages).map_err(map_err)
        }
        fn obj_write(&mut self, obj: ObjId, offset: u64, data: &[u8]) -> Result<(), MapError> {
            m::object_write(obj, offset, data).map_err(map_err)
        }
        fn obj_read(&mut self, obj: ObjId, offset: u64, buf: &mut [u8]) -> Result<(), MapError> {
            let data = m::object_read(obj, offset, buf.len() as u32).map_err(map_err)?;
            buf.copy_from_slice(&data);
            Ok(())
        }
        fn map_object(
            &mut self,
            space: SpaceId,
            addr: u64,
            len: u64,
            p: Prot,
            obj: ObjId,
            first: u64,
            shared: bool,
        ) -> Result<(), MapError> {
            m::map_object(space, addr, len, prot(p), obj, first, shared).map_err(map_err)
        }
        fn set_memory_limit(&mut self, bytes: u64) {
            m::set_memory_limit(bytes)
        }
        fn memory_in_use(&self) -> u64 {
            m::memory_in_use()
        }
        fn resident(&mut self, space: SpaceId) -> u64 {
            m::resident(space)
        }
        fn flush_icache(&mut self, space: SpaceId) {
            m::flush_icache(space)
        }
    }

    pub struct ImportedFs;

    fn errno(e: u16) -> Errno {
        Errno::from_raw(e).unwrap_or(Errno::EIO)
    }
    fn ts(t: t::Timespec) -> Timespec {
        Timespec {
            sec: t.sec,
            nsec: t.nsec,
        }
    }
    fn ts_out(t: Timespec) -> t::Timespec {
        t::Timespec {
            sec: t.sec,
            nsec: t.nsec,
        }
    }

    impl Fs for ImportedFs {
        fn root(&self) -> Ino {
            fs::root()
        }
        fn lookup(&mut self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
            fs::lookup(start, path, follow).map_err(errno)
        }
        fn lookup_parent(&mut self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
            fs::lookup_parent(start, path).map_err(errno)
        }
        fn path(&mut self, dir: Ino) -> Result<Vec<u8>, Errno> {
            fs::path(dir).map_err(errno)
        }
        fn stat(&mut self, node: Ino) -> Result<Stat, Errno> {
            let s = fs::stat(node).map_err(errno)?;
            Ok(Stat {
                ino: s.ino,
                mode: s.mode,
                nlink: s.nlink,
                uid: s.uid,
                gid: s.gid,
                rdev: s.rdev,
                size: s.size,
                blocks: s.blocks,
                atime: ts(s.atime),
                mtime: ts(s.mtime),
                ctime: ts(s.ctime),
            })
        }
        fn read(&mut self, node: Ino, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
            fs::read(node, offset, len).map_err(errno)
        }
        fn write(&mut self, node: Ino, offset: u64, data: &[u8]) -> Result<u32, Errno> {
            fs::write(node, offset, data).map_err(errno)
        }
        fn readdir(&mut self, dir: Ino, cookie: u64, max: u32) -> Result<Vec<Dirent>, Errno> {
            let entries = fs::readdir(dir, cookie, max).map_err(errno)?;
            Ok(entries
                .into_iter()
                .map(|e| Dirent {
                    ino: e.ino,
                    kind: e.kind,
                    name: e.name,
                    next: e.next,
                })
                .collect())
        }
        fn readlink(&mut self, node: Ino) -> Result<Vec<u8>, Errno> {
            fs::readlink(node).map_err(errno)
        }
        fn create(&mut self, parent: Ino, name: &[u8], mode: u32, rdev: u64) -> Result<Ino, Errno> {
            fs::create(parent, name, mode, rdev).map_err(errno)
        }
        fn create_unlinked(&mut self, mode: u32) -> Result<Ino, Errno> {
            fs::create_unlinked(mode).map_err(errno)
        }
        fn symlink(&mut self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Ino, Errno> {
            fs::symlink(parent, name, target).map_err(errno)
        }
        fn link(&mut self, node: Ino, parent: Ino, name: &[u8]) -> Result<(), Errno> {
            fs::link(node, parent, name).map_err(errno)
        }
        fn remove(&mut self, parent: Ino, name: &[u8], dir: bool) -> Result<(), Errno> {
            fs::remove(parent, name, dir).map_err(errno)
        }
        fn rename(
            &mut self,
            op: Ino,
            on: &[u8],
            np: Ino,
            nn: &[u8],
            flags: u32,
        ) -> Result<(), Errno> {
            fs::rename(op, on, np, nn, flags).map_err(errno)
        }
        fn set_attr(&mut self, node: Ino, a: &SetAttr) -> Result<(), Errno> {
            let attr = t::AttrChanges {
                mode: a.mode,
                uid: a.uid,
                gid: a.gid,
                size: a.size,
                atime: a.atime.map(ts_out),
                mtime: a.mtime.map(ts_out),
            };
            fs::set_attr(node, attr).map_err(errno)
        }
        fn set_capacity(&mut self, bytes: u64) {
            fs::set_capacity(bytes)
        }
        fn usage(&mut self) -> friscy_vfs::Usage {
            let u = fs::usage();
            friscy_vfs::Usage {
                capacity: u.capacity,
                used: u.used,
                inodes: u.inodes,
                inodes_used: u.inodes_used,
            }
        }
        fn reclaim(&mut self, open: &[Ino]) -> u64 {
            fs::reclaim(open)
        }
    }

    /// IP sockets over the friscy:net/sockets import (the net component).
    pub struct ImportedNet;

    use super::generated::friscy::net::sockets as n;
    use friscy_net::{Family, Kind, Net, Readiness, SockAddr, SockOpt, Socket};
    use std::net::IpAddr;

    fn e(code: u16) -> Errno {
        Errno::from_raw(code).unwrap_or(Errno::EIO)
    }

    friscy_net::address_conversions!(n);

    fn opt(o: SockOpt) -> n::SocketOption {
        match o {
            SockOpt::ReuseAddress => n::SocketOption::ReuseAddress,
            SockOpt::KeepAlive => n::SocketOption::KeepAlive,
            SockOpt::NoDelay => n::SocketOption::NoDelay,
            SockOpt::ReceiveBufferSize => n::SocketOption::ReceiveBufferSize,
            SockOpt::SendBufferSize => n::SocketOption::SendBufferSize,
            SockOpt::HopLimit => n::SocketOption::HopLimit,
            SockOpt::V6Only => n::SocketOption::V6Only,
        }
    }

    impl Net for ImportedNet {
        fn create(&mut self, family: Family, kind: Kind) -> Result<Socket, Errno> {
            let f = match family {
                Family::Inet => n::Family::Inet,
                Family::Inet6 => n::Family::Inet6,
            };
            let k = match kind {
                Kind::Stream => n::Kind::Stream,
                Kind::Datagram => n::Kind::Datagram,
            };
            n::create(f, k).map_err(e)
        }
        fn close(&mut self, s: Socket) {
            n::close(s)
        }
        fn bind(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
            n::bind(s, addr_out(addr)).map_err(e)
        }
        fn connect(&mut self, s: Socket, addr: SockAddr) -> Result<(), Errno> {
            n::connect(s, addr_out(addr)).map_err(e)
        }
        fn listen(&mut self, s: Socket, backlog: u32) -> Result<(), Errno> {
            n::listen(s, backlog).map_err(e)
        }
        fn accept(&mut self, s: Socket) -> Result<(Socket, SockAddr), Errno> {
            n::accept(s).map(|(s, a)| (s, addr_in(a))).map_err(e)
        }
        fn send(&mut self, s: Socket, data: &[u8], to: Option<SockAddr>) -> Result<usize, Errno> {
            n::send(s, data, to.map(addr_out))
                .map(|n| n as usize)
                .map_err(e)
        }
        fn recv(
            &mut self,
            s: Socket,
            max: usize,
            peek: bool,
        ) -> Result<(Vec<u8>, Option<SockAddr>), Errno> {
            n::recv(s, max.min(u32::MAX as usize) as u32, peek)
                .map(|(d, a)| (d, a.map(addr_in)))
                .map_err(e)
        }
        fn shutdown(&mut self, s: Socket, how: u8) -> Result<(), Errno> {
            n::shutdown(s, how).map_err(e)
        }
        fn local_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
            n::local_address(s).map(addr_in).map_err(e)
        }
        fn remote_address(&mut self, s: Socket) -> Result<SockAddr, Errno> {
            n::remote_address(s).map(addr_in).map_err(e)
        }
        fn set_option(&mut self, s: Socket, o: SockOpt, value: u64) -> Result<(), Errno> {
            n::set_option(s, opt(o), value).map_err(e)
        }
        fn get_option(&mut self, s: Socket, o: SockOpt) -> Result<u64, Errno> {
            n::get_option(s, opt(o)).map_err(e)
        }
        fn take_error(&mut self, s: Socket) -> Option<Errno> {
            match n::take_error(s) {
                0 => None,
                code => Some(e(code)),
            }
        }
        fn readiness(&mut self, s: Socket) -> Readiness {
            let r = n::poll_readiness(s);
            Readiness {
                readable: r.bits() & n::Readiness::READABLE.bits() != 0,
                writable: r.bits() & n::Readiness::WRITABLE.bits() != 0,
                hangup: r.bits() & n::Readiness::HANGUP.bits() != 0,
                error: r.bits() & n::Readiness::ERROR.bits() != 0,
            }
        }
        fn subscribe(&mut self, s: Socket, read: bool, write: bool) -> Vec<u32> {
            n::subscribe(s, read, write)
                .into_iter()
                .map(|p| p.take_handle())
                .collect()
        }
        fn pump(&mut self) -> bool {
            n::pump()
        }
        fn subscribe_queued(&mut self) -> Vec<u32> {
            n::subscribe_queued()
                .into_iter()
                .map(|p| p.take_handle())
                .collect()
        }
        fn resolve(&mut self, name: &str) -> Result<Vec<IpAddr>, Errno> {
            n::resolve(name)
                .map(|v| v.into_iter().map(|a| addr_in(a).ip()).collect())
                .map_err(e)
        }
        fn enabled(&mut self) -> bool {
            n::enabled()
        }
    }
}
