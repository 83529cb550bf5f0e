//! The task process: one per container, the shim binary run again as
//! `containerd-shim-friscy-v1 friscy-task` by the daemon (`task.rs`). It runs the guest in
//! `friscy-dir-open.wasm` on wasmtime, as the native host does, with the container's
//! snapshot as the root filesystem (`friscy_host::tree`), containerd's FIFOs as stdio, the
//! spec's mounts as preopens, and its process in the container's network namespace. Its
//! exit status is the guest's, which the daemon reports to containerd.
//!
//! The daemon talks to it over two pipes: its standard input carries the plan (one JSON
//! line), then `start`, `signal N` and `resize ROWS COLS` lines; its standard output (and
//! error) carry one line back once it is ready to start (`ready`, or what went wrong), so
//! that a container friscy cannot run fails `ctr run` at create. Then the FIFOs take over
//! file descriptors 0 to 2, where wasmtime's stdio reads and writes them.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::console::Console;
use crate::plan::Plan;

/// The component, embedded at build time (build.rs) unless built before
/// scripts/build.sh made it; `FRISCY_SHIM_COMPONENT` names another.
static EMBEDDED: &[u8] = include_bytes!(env!("FRISCY_SHIM_COMPONENT_FILE"));

pub struct State {
    wasi: WasiCtx,
    pub table: ResourceTable,
    pub console: Console,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A message from the daemon.
#[derive(Debug, PartialEq, Eq)]
pub enum Control {
    Start,
    Signal(u8),
    Resize(u16, u16),
}

impl Control {
    pub fn parse(line: &str) -> Option<Control> {
        let mut words = line.split_whitespace();
        match (words.next()?, words.next(), words.next()) {
            ("start", None, None) => Some(Control::Start),
            ("signal", Some(n), None) => Some(Control::Signal(n.parse().ok()?)),
            ("resize", Some(r), Some(c)) => Some(Control::Resize(r.parse().ok()?, c.parse().ok()?)),
            _ => None,
        }
    }

    pub fn line(&self) -> String {
        match self {
            Control::Start => "start\n".into(),
            Control::Signal(n) => format!("signal {n}\n"),
            Control::Resize(r, c) => format!("resize {r} {c}\n"),
        }
    }
}

/// Whether signal `n`'s default action ends the process (signal(7)): all but SIGCHLD,
/// SIGCONT, SIGURG, SIGWINCH and the stop signals.
pub fn terminates(n: u8) -> bool {
    !matches!(n, 17 | 18 | 19 | 20 | 21 | 22 | 23 | 28)
}

/// The task process's main: exits with the guest's status.
pub fn main() -> ExitCode {
    let io = match Pipes::take() {
        Ok(io) => io,
        Err(e) => {
            eprintln!("friscy-task: {e:#}");
            return ExitCode::from(125);
        }
    };
    let Pipes {
        control,
        mut status,
    } = io;
    let mut control = BufReader::new(control);
    let plan = match read_plan(&mut control) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(status, "{e:#}");
            return ExitCode::from(125);
        }
    };
    if plan.sandbox {
        let _ = writeln!(status, "ready");
        drop(status);
        return sandbox(control);
    }
    let prepared = prepare(plan);
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(status, "{e:#}");
            return ExitCode::from(125);
        }
    };
    // Nothing more goes to the daemon this way: stdout and stderr are the FIFOs now.
    if writeln!(status, "ready").is_err() {
        return ExitCode::from(125);
    }
    drop(status);
    let mut line = String::new();
    loop {
        line.clear();
        match control.read_line(&mut line) {
            // The daemon is gone, or the task was deleted before it started.
            Ok(0) | Err(_) => return ExitCode::from(137),
            Ok(_) => {}
        }
        match Control::parse(&line) {
            Some(Control::Start) => break,
            Some(Control::Signal(n)) if terminates(n) => return ExitCode::from(128 + n),
            _ => {}
        }
    }
    let console = prepared
        .imports_console
        .then(|| prepared.store.data().console.clone());
    std::thread::spawn(move || controls(control, console));
    prepared.run()
}

/// A Kubernetes pod sandbox: the pause container holds the pod's namespaces (CRI made them)
/// and runs nothing, so neither do we (its image is not even riscv64). It lives until it
/// is signalled, then exits as pause does: 0 for SIGINT and SIGTERM, else as the signal's
/// default action would.
fn sandbox(control: BufReader<File>) -> ExitCode {
    for line in control.lines() {
        let Ok(line) = line else { break };
        if let Some(Control::Signal(n)) = Control::parse(&line)
            && let Some(status) = pause_exit(n)
        {
            return ExitCode::from(status);
        }
    }
    ExitCode::from(137)
}

/// pause's status for signal `n`, if it ends it.
fn pause_exit(n: u8) -> Option<u8> {
    match n {
        2 | 15 => Some(0),
        n if terminates(n) => Some(128 + n),
        _ => None,
    }
}

/// The pipes to the daemon, taken off file descriptors 0 and 1 (and 2, the same pipe as
/// 1) before the FIFOs are put there.
struct Pipes {
    control: File,
    status: File,
}

impl Pipes {
    fn take() -> Result<Pipes> {
        let control = std::io::stdin().as_fd().try_clone_to_owned()?;
        let status = std::io::stdout().as_fd().try_clone_to_owned()?;
        Ok(Pipes {
            control: File::from(control),
            status: File::from(status),
        })
    }
}

fn read_plan(control: &mut BufReader<File>) -> Result<Plan> {
    let mut line = String::new();
    control.read_line(&mut line).context("reading the plan")?;
    serde_json::from_str(&line).context("the plan from the daemon")
}

/// Messages after start: signals for the guest's init process, terminal sizes.
fn controls(control: BufReader<File>, console: Option<Console>) {
    for line in control.lines() {
        let Ok(line) = line else { break };
        match (Control::parse(&line), &console) {
            (Some(Control::Signal(n)), Some(c)) => c.signal(n),
            (Some(Control::Resize(rows, cols)), Some(c)) => c.resize(rows, cols),
            (Some(Control::Signal(n)), None) if terminates(n) => {
                // A component without the console cannot hand the signal to the guest's
                // init process: end the guest as the signal's default action would.
                std::process::exit(128 + i32::from(n));
            }
            _ => {}
        }
    }
}

/// Everything set up, the guest not yet started.
struct Prepared {
    store: Store<State>,
    command: Command,
    /// Whether the component imports the console (signals and sizes reach the guest).
    imports_console: bool,
}

impl Prepared {
    fn run(mut self) -> ExitCode {
        let status = match self.command.wasi_cli_run().call_run(&mut self.store) {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => exit.0 as u8,
                None => {
                    eprintln!("friscy: the friscy component trapped: {e:#}");
                    125
                }
            },
        };
        let _ = std::io::stdout().flush();
        ExitCode::from(status)
    }
}

/// The component: `$FRISCY_SHIM_COMPONENT`, else the embedded one, else
/// `friscy-dir-open.wasm` beside this executable.
fn component(engine: &Engine) -> Result<Component> {
    if let Some(path) = std::env::var_os("FRISCY_SHIM_COMPONENT").filter(|p| !p.is_empty()) {
        return friscy_host::compiled::load(engine, path.as_ref());
    }
    if !EMBEDDED.is_empty() {
        return friscy_host::compiled::load_bytes(engine, EMBEDDED, "the embedded component");
    }
    let exe = std::env::current_exe().context("locating the shim executable")?;
    let beside = exe.with_file_name("friscy-dir-open.wasm");
    if beside.exists() {
        return friscy_host::compiled::load(engine, &beside);
    }
    bail!(
        "no friscy component: none was embedded at build time, FRISCY_SHIM_COMPONENT is unset \
         and {} does not exist",
        beside.display()
    )
}

fn prepare(plan: Plan) -> Result<Prepared> {
    // First, while this process has one thread: the namespace is per thread, and the
    // threads started later (wasmtime's, tokio's for sockets) inherit it.
    crate::netns::enter(&plan.network)?;

    let engine = Engine::new(&Config::new()).map_err(|e| anyhow!("{e:#}"))?;
    let component = component(&engine)?;
    let imports_console = component
        .component_type()
        .imports(&engine)
        .any(|(name, _)| name.starts_with("friscy:tty/console@"));

    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    crate::console::add_to_linker(&mut linker)?;
    let tree = friscy_host::tree::open(&plan.rootfs)?;
    friscy_host::tree::add_to_linker(&mut linker, tree, plan.config.clone().into_bytes())?;

    let mut wasi = WasiCtx::builder();
    // Synchronous calls into the component: blocking WASI calls (mount reads and writes)
    // run on this thread rather than through tokio's blocking pool (as the friscy host).
    wasi.allow_blocking_current_thread(true);
    wasi.arg("friscy");
    for a in &plan.args {
        wasi.arg(a);
    }
    for (k, v) in &plan.env {
        wasi.env(k, v);
    }
    // The container's network namespace confines the guest's sockets, as it does a runc
    // container's.
    wasi.inherit_network();
    wasi.allow_tcp(true);
    wasi.allow_udp(true);
    wasi.allow_ip_name_lookup(true);
    for v in &plan.volumes {
        let perms = match v.read_only {
            true => wasmtime_wasi::FsPerms::ReadOnly,
            false => wasmtime_wasi::FsPerms::ReadWrite,
        };
        wasi.preopened_dir(&v.host, &v.guest, perms)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("mount {} at {}", v.host.display(), v.guest))?;
    }
    stdio(&plan)?;
    if plan.terminal {
        // `ctr run -t`: the guest's standard streams are its terminal.
        let (stdin, stdout, stderr) = (
            wasmtime_wasi::cli::stdin(),
            wasmtime_wasi::cli::stdout(),
            wasmtime_wasi::cli::stderr(),
        );
        wasi.stdin(Tty(stdin))
            .stdout(Tty(stdout))
            .stderr(Tty(stderr));
    } else {
        wasi.inherit_stdio();
    }
    let mut store = Store::new(
        &engine,
        State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            console: Console::new(plan.terminal, plan.size),
        },
    );
    let command = Command::instantiate(&mut store, &component, &linker)
        .map_err(|e| anyhow!("{e:#}"))
        .context("instantiating the friscy component")?;
    Ok(Prepared {
        store,
        command,
        imports_console,
    })
}

/// A standard stream the guest is told is a terminal: with `ctr run -t` the FIFOs carry a
/// terminal's bytes (`ctr` keeps its own terminal raw and forwards sizes), so the guest
/// must behave as on one.
struct Tty<S>(S);

impl<S> wasmtime_wasi::cli::IsTerminal for Tty<S> {
    fn is_terminal(&self) -> bool {
        true
    }
}

impl<S: wasmtime_wasi::cli::StdinStream> wasmtime_wasi::cli::StdinStream for Tty<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        self.0.async_stream()
    }
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::InputStream> {
        self.0.p2_stream()
    }
}

impl<S: wasmtime_wasi::cli::StdoutStream> wasmtime_wasi::cli::StdoutStream for Tty<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        self.0.async_stream()
    }
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        self.0.p2_stream()
    }
}

/// Put containerd's FIFOs on file descriptors 0 to 2 (with a terminal, stdout carries
/// stderr too). stdout and stderr are opened read-write, as containerd's own shims keep a
/// reader open: the open never waits for `ctr` and a writer never gets EPIPE when `ctr`
/// detaches. stdin is copied from its FIFO into a pipe by a thread, because opening a FIFO
/// for reading waits for a writer (and without one, a non-blocking read would mean end of
/// file); the guest reads end of file once `ctr` closes its end.
fn stdio(plan: &Plan) -> Result<()> {
    let open_out = |path: &str| -> Result<File> {
        if path.is_empty() {
            return File::options()
                .write(true)
                .open("/dev/null")
                .context("/dev/null");
        }
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_CLOEXEC)
            .open(path)
            .with_context(|| format!("opening {path}"))
    };
    let stdout = open_out(&plan.stdio.stdout)?;
    let stderr = match plan.terminal {
        true => stdout.try_clone()?,
        false => open_out(&plan.stdio.stderr)?,
    };
    if plan.stdio.stdin.is_empty() {
        let null = File::open("/dev/null").context("/dev/null")?;
        nix::unistd::dup2_stdin(&null)?;
    } else {
        let (reader, mut writer) = std::io::pipe()?;
        nix::unistd::dup2_stdin(&reader)?;
        let path = plan.stdio.stdin.clone();
        std::thread::spawn(move || {
            if let Ok(mut fifo) = File::open(&path) {
                let _ = std::io::copy(&mut fifo, &mut writer);
            }
        });
    }
    nix::unistd::dup2_stdout(&stdout)?;
    nix::unistd::dup2_stderr(&stderr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines_round_trip() {
        for c in [Control::Start, Control::Signal(15), Control::Resize(24, 80)] {
            assert_eq!(Control::parse(&c.line()), Some(c));
        }
        assert_eq!(Control::parse("signal x"), None);
        assert_eq!(Control::parse("launch"), None);
    }

    #[test]
    fn a_sandbox_ends_as_pause_does() {
        assert_eq!(pause_exit(15), Some(0));
        assert_eq!(pause_exit(2), Some(0));
        assert_eq!(pause_exit(1), Some(129));
        assert_eq!(pause_exit(28), None);
    }

    #[test]
    fn default_actions() {
        assert!(terminates(15) && terminates(2) && terminates(9) && terminates(1));
        assert!(!terminates(17) && !terminates(28) && !terminates(19));
    }
}
