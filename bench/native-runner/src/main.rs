//! `friscy-native --rootfs IMAGE.tar [-e NAME=VALUE]... -- PROGRAM [ARGS...]`: runs a guest
//! program on friscy's kernel, interpreter and filesystem linked natively (no Wasm), with
//! stdio passed through and the exact exit status.
//!
//! With `FRISCY_NATIVE_INSTRET=1` it prints the guest instructions retired (all harts,
//! exited ones included) and the wall time of the run to stderr, as
//! `friscy-native: instret N seconds S`, which `bench/run.sh` turns into MIPS.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use friscy_exec::{
    Fault, HartId, Machine, Machines, MapError, ObjId, Prot, Registers, SpaceId, StopReason,
};
use friscy_kernel::{Host, Kernel, Stdio};

/// `Machines`, counting the instructions every `run` retires (the kernel drops harts when
/// threads exit, and their counters with them).
struct Counting {
    inner: Machines,
    retired: std::rc::Rc<std::cell::Cell<u64>>,
}

impl Machine for Counting {
    fn space_new(&mut self) -> SpaceId {
        self.inner.space_new()
    }
    fn space_fork(&mut self, space: SpaceId) -> SpaceId {
        self.inner.space_fork(space)
    }
    fn space_drop(&mut self, space: SpaceId) {
        self.inner.space_drop(space)
    }
    fn hart_new(&mut self, space: SpaceId) -> HartId {
        self.inner.hart_new(space)
    }
    fn hart_drop(&mut self, hart: HartId) {
        self.inner.hart_drop(hart)
    }
    fn map(&mut self, space: SpaceId, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        self.inner.map(space, addr, len, prot)
    }
    fn unmap(&mut self, space: SpaceId, addr: u64, len: u64) -> Result<(), MapError> {
        self.inner.unmap(space, addr, len)
    }
    fn protect(&mut self, space: SpaceId, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        self.inner.protect(space, addr, len, prot)
    }
    fn read(&mut self, space: SpaceId, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.inner.read(space, addr, buf)
    }
    fn write(&mut self, space: SpaceId, addr: u64, data: &[u8]) -> Result<(), Fault> {
        self.inner.write(space, addr, data)
    }
    fn read_cstr(&mut self, space: SpaceId, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
        self.inner.read_cstr(space, addr, max)
    }
    fn run(&mut self, hart: HartId, budget: u64) -> StopReason {
        let before = self.inner.instret(hart);
        let stop = self.inner.run(hart, budget);
        let after = self.inner.instret(hart);
        self.retired.set(self.retired.get() + (after - before));
        stop
    }
    fn registers(&self, hart: HartId) -> Registers {
        self.inner.registers(hart)
    }
    fn set_registers(&mut self, hart: HartId, regs: &Registers) {
        self.inner.set_registers(hart, regs)
    }
    fn x(&self, hart: HartId, reg: u8) -> u64 {
        self.inner.x(hart, reg)
    }
    fn set_x(&mut self, hart: HartId, reg: u8, value: u64) {
        self.inner.set_x(hart, reg, value)
    }
    fn pc(&self, hart: HartId) -> u64 {
        self.inner.pc(hart)
    }
    fn set_pc(&mut self, hart: HartId, pc: u64) {
        self.inner.set_pc(hart, pc)
    }
    fn instret(&self, hart: HartId) -> u64 {
        self.inner.instret(hart)
    }
    fn obj_create(&mut self, pages: u64) -> ObjId {
        self.inner.obj_create(pages)
    }
    fn obj_create_unfilled(&mut self, pages: u64) -> ObjId {
        self.inner.obj_create_unfilled(pages)
    }
    fn obj_drop(&mut self, obj: ObjId) {
        self.inner.obj_drop(obj)
    }
    fn object_at(&mut self, space: SpaceId, addr: u64) -> Option<(ObjId, u64)> {
        self.inner.object_at(space, addr)
    }
    fn obj_resize(&mut self, obj: ObjId, pages: u64) -> Result<(), MapError> {
        self.inner.obj_resize(obj, pages)
    }
    fn obj_write(&mut self, obj: ObjId, offset: u64, data: &[u8]) -> Result<(), MapError> {
        self.inner.obj_write(obj, offset, data)
    }
    fn obj_read(&mut self, obj: ObjId, offset: u64, buf: &mut [u8]) -> Result<(), MapError> {
        self.inner.obj_read(obj, offset, buf)
    }
    fn map_object(
        &mut self,
        space: SpaceId,
        addr: u64,
        len: u64,
        prot: Prot,
        obj: ObjId,
        first: u64,
        shared: bool,
    ) -> Result<(), MapError> {
        self.inner
            .map_object(space, addr, len, prot, obj, first, shared)
    }
    fn set_memory_limit(&mut self, bytes: u64) {
        self.inner.set_memory_limit(bytes)
    }
    fn memory_in_use(&self) -> u64 {
        self.inner.memory_in_use()
    }
    fn resident(&mut self, space: SpaceId) -> u64 {
        self.inner.resident(space)
    }
    fn flush_icache(&mut self, space: SpaceId) {
        self.inner.flush_icache(space)
    }
}

/// The host over std: stdio passed through, real clocks, /dev/urandom.
struct StdHost {
    start: Instant,
    /// Chunks from the stdin reader thread; an empty one is end of file.
    stdin: Receiver<Vec<u8>>,
    /// Input received but not yet read by the guest (an empty vector: end of file).
    pending: Option<Vec<u8>>,
}

impl StdHost {
    fn new() -> StdHost {
        // A reader thread turns the blocking stdin into the non-blocking reads the kernel
        // asks for.
        let (tx, rx) = std::sync::mpsc::channel();
        // Built for wasm32-wasip2 (a quick way to measure the interpreter as Cranelift
        // compiles it, without composing components) there are no threads: stdin is then
        // at end of file, which the benchmarks never read.
        if cfg!(target_os = "wasi") {
            let _ = tx.send(Vec::new());
            return StdHost {
                start: Instant::now(),
                stdin: rx,
                pending: None,
            };
        }
        std::thread::spawn(move || {
            let mut buf = vec![0; 64 << 10];
            loop {
                let n = std::io::stdin().read(&mut buf).unwrap_or(0);
                if tx.send(buf[..n].to_vec()).is_err() || n == 0 {
                    return;
                }
            }
        });
        StdHost {
            start: Instant::now(),
            stdin: rx,
            pending: None,
        }
    }

    /// Takes what the reader thread has, waiting at most `timeout` (forever if None).
    fn receive(&mut self, timeout: Option<Duration>) {
        if self.pending.is_some() {
            return;
        }
        let got = match timeout {
            Some(Duration::ZERO) => self
                .stdin
                .try_recv()
                .map_err(|e| e == TryRecvError::Disconnected),
            Some(t) => self
                .stdin
                .recv_timeout(t)
                .map_err(|e| e == RecvTimeoutError::Disconnected),
            None => self.stdin.recv().map_err(|_| true),
        };
        self.pending = match got {
            Ok(data) => Some(data),
            // The reader is gone: it sent end of file (or stdin failed).
            Err(true) => Some(Vec::new()),
            Err(false) => None,
        };
    }
}

impl Host for StdHost {
    fn read_stdin(&mut self, max: usize) -> Option<Vec<u8>> {
        self.receive(Some(Duration::ZERO));
        let mut data = self.pending.take()?;
        if data.is_empty() {
            // End of file stays.
            self.pending = Some(Vec::new());
        } else if data.len() > max {
            self.pending = Some(data.split_off(max));
        }
        Some(data)
    }
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), friscy_vfs::Errno> {
        let r = match stream {
            Stdio::Err => std::io::stderr().write_all(data),
            _ => std::io::stdout()
                .write_all(data)
                .and(std::io::stdout().flush()),
        };
        r.map_err(|_| friscy_vfs::Errno::EPIPE)
    }
    /// A terminal stays in its own (cooked) mode here, as under `wasmtime run`.
    fn console_mode(&self) -> friscy_kernel::ConsoleMode {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            friscy_kernel::ConsoleMode::Cooked
        } else {
            friscy_kernel::ConsoleMode::None
        }
    }
    fn wall_clock(&self) -> (i64, u32) {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (d.as_secs() as i64, d.subsec_nanos())
    }
    fn monotonic_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn random(&mut self, buf: &mut [u8]) {
        if cfg!(target_os = "wasi") {
            // No /dev/urandom under WASI; std's hash seeds come from wasi:random.
            use std::hash::{BuildHasher, Hasher};
            for chunk in buf.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(chunk.as_ptr() as usize);
                chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
            }
            return;
        }
        let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
        ok.expect("reading /dev/urandom");
    }
    fn diagnostic(&mut self, line: &str) {
        eprintln!("{line}");
    }
    fn wait(&mut self, stdin: bool, deadline_ns: Option<u64>, _pollables: Vec<u32>) {
        let timeout =
            deadline_ns.map(|d| Duration::from_nanos(d.saturating_sub(self.monotonic_ns())));
        if stdin {
            self.receive(timeout);
        } else if let Some(t) = timeout {
            std::thread::sleep(t);
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: friscy-native --rootfs IMAGE.tar [-e NAME=VALUE]... -- PROGRAM [ARGS...]");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut rootfs: Option<PathBuf> = None;
    let mut envp: Vec<Vec<u8>> = Vec::new();
    let mut argv: Vec<Vec<u8>> = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rootfs" => rootfs = Some(args.next().unwrap_or_else(|| usage()).into()),
            "-e" => envp.push(args.next().unwrap_or_else(|| usage()).into_bytes()),
            "--" => {
                argv = args.by_ref().map(String::into_bytes).collect();
                break;
            }
            _ => usage(),
        }
    }
    let Some(rootfs) = rootfs else { usage() };
    if argv.is_empty() {
        usage();
    }
    let image = std::fs::read(&rootfs).unwrap_or_else(|e| {
        eprintln!("friscy-native: reading {}: {e}", rootfs.display());
        std::process::exit(125);
    });
    let vfs = friscy_vfs::Vfs::new(image).unwrap_or_else(|e| {
        eprintln!("friscy-native: {}: {e:?}", rootfs.display());
        std::process::exit(125);
    });
    let retired = std::rc::Rc::new(std::cell::Cell::new(0));
    let machine = Counting {
        inner: Machines::new(),
        retired: retired.clone(),
    };
    let mut kernel = Kernel::new(Box::new(machine), Box::new(vfs), Box::new(StdHost::new()));
    kernel.trace = std::env::var_os("FRISCY_TRACE").is_some();
    let start = Instant::now();
    let status = kernel.run_command(argv, envp);
    if std::env::var_os("FRISCY_NATIVE_INSTRET").is_some() {
        eprintln!(
            "friscy-native: instret {} seconds {:.6}",
            retired.get(),
            start.elapsed().as_secs_f64()
        );
    }
    std::process::exit(status as i32);
}
