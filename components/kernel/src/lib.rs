//! friscy's kernel: the Linux personality that turns an RV64GC machine (exec) and a
//! filesystem (vfs) into a place where unmodified Linux riscv64 programs run.
//!
//! The kernel drives: it loads a program, resumes its hart with `run(budget)`, and services
//! each `ecall` by reading and writing guest memory through the machine interface. exec,
//! vfs and the host are reached through traits, implemented either by direct calls (the
//! fused build and native tests) or over WIT imports (the composed component).

pub mod elf;
pub mod fd;
pub mod host;
pub mod loader;
pub mod mm;
pub mod process;
pub mod syscalls;

#[cfg(any(feature = "component", feature = "fused"))]
mod bindings;

use std::collections::HashSet;

use friscy_exec::{Fault, FaultCause, Machine, StopReason};
use friscy_vfs::Fs;

pub use host::{Host, Stdio};
pub use process::{ExitStatus, Process};

use fd::{FdEntry, FdTable, FileKind, new_file};

/// Instructions a hart runs before the kernel looks up again (for fairness later, and so a
/// runaway guest stays interruptible).
const RUN_BUDGET: u64 = 1 << 20;

/// PATH when neither the image nor the user sets one (Docker's default).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Signal numbers used when a guest dies (signal(7), asm-generic).
pub mod signo {
    pub const SIGILL: u8 = 4;
    pub const SIGTRAP: u8 = 5;
    pub const SIGBUS: u8 = 7;
    pub const SIGSEGV: u8 = 11;
}

pub struct Kernel {
    pub machine: Box<dyn Machine>,
    pub fs: Box<dyn Fs>,
    pub host: Box<dyn Host>,
    /// Print every syscall (strace-like) and unsupported ones, on the host's diagnostics.
    pub trace: bool,
    /// Syscall numbers already reported as unsupported (each is logged once).
    pub(crate) enosys_seen: HashSet<u64>,
}

impl Kernel {
    pub fn new(machine: Box<dyn Machine>, fs: Box<dyn Fs>, host: Box<dyn Host>) -> Kernel {
        Kernel {
            machine,
            fs,
            host,
            trace: false,
            enosys_seen: HashSet::new(),
        }
    }

    /// One line on the host's diagnostic stream, prefixed like a shell's messages.
    pub fn report(&mut self, msg: &str) {
        self.host.diagnostic(&format!("friscy: {msg}"));
    }

    /// Run a command the way `docker run IMAGE CMD...` does: find it (PATH search), load
    /// it, run it to completion. Returns the status a shell would report.
    pub fn run_command(&mut self, argv: Vec<Vec<u8>>, mut envp: Vec<Vec<u8>>) -> u8 {
        let Some(cmd) = argv.first().cloned() else {
            self.report("no command given (usage: friscy.wasm -- /path/to/program [args...])");
            return 2;
        };
        if !envp.iter().any(|e| e.starts_with(b"PATH=")) {
            envp.insert(0, [b"PATH=".as_slice(), DEFAULT_PATH].concat());
        }
        let path_var = envp
            .iter()
            .find_map(|e| e.strip_prefix(b"PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_vec();
        let cwd = self.fs.root();
        let Some(path) = self.find_command(cwd, &cmd, &path_var) else {
            self.report(&format!(
                "{}: command not found",
                String::from_utf8_lossy(&cmd)
            ));
            return 127;
        };
        let image = match self.load_program(cwd, &path, argv, &envp) {
            Ok(image) => image,
            Err(e) => {
                let msg = e.message();
                self.report(&msg);
                return e.shell_status();
            }
        };
        let mut fds = FdTable::default();
        for (fd, stream, flags) in [(0, Stdio::In, 0), (1, Stdio::Out, 1), (2, Stdio::Err, 1)] {
            let file = new_file(
                FileKind::Stdio(stream),
                flags,
                format!("/dev/std{fd}").into_bytes(),
            );
            fds.insert_at(
                fd,
                FdEntry {
                    file,
                    cloexec: false,
                },
            )
            .expect("fd 0-2 are valid");
        }
        let mut proc = Process {
            pid: 1,
            space: image.space,
            hart: image.hart,
            mm: image.mm,
            fds,
            cwd,
            umask: 0o022,
            exe: image.exe,
            argv: image.argv,
            envp,
            clear_child_tid: 0,
            rlimits: [None; 16],
            exit: None,
        };
        let status = self.run_process(&mut proc);
        self.machine.hart_drop(proc.hart);
        self.machine.space_drop(proc.space);
        status.shell_status()
    }

    /// Resume the process's hart until it exits.
    pub fn run_process(&mut self, proc: &mut Process) -> ExitStatus {
        loop {
            match self.machine.run(proc.hart, RUN_BUDGET) {
                StopReason::Ecall(call) => {
                    let ret = syscalls::dispatch(self, proc, call.nr, call.args);
                    if let Some(status) = proc.exit {
                        return status;
                    }
                    self.machine.set_x(proc.hart, 10, ret);
                }
                StopReason::BudgetExhausted => {}
                StopReason::Breakpoint => {
                    return self.die(proc, signo::SIGTRAP, "Trace/breakpoint trap".into());
                }
                StopReason::IllegalInstruction(bits) => {
                    let why = format!("Illegal instruction (0x{bits:08x})");
                    return self.die(proc, signo::SIGILL, why);
                }
                StopReason::Fault(Fault {
                    addr,
                    access,
                    cause,
                }) => {
                    let kind = match cause {
                        FaultCause::Unmapped => "unmapped",
                        FaultCause::Protection => "protected",
                    };
                    let access = match access {
                        friscy_exec::Access::Load => "load",
                        friscy_exec::Access::Store => "store",
                        friscy_exec::Access::Fetch => "fetch",
                    };
                    let why = format!("Segmentation fault ({access} at {kind} address 0x{addr:x})");
                    return self.die(proc, signo::SIGSEGV, why);
                }
            }
        }
    }

    /// A fatal signal with no handler: report it like a shell does and end the process.
    fn die(&mut self, proc: &mut Process, sig: u8, why: String) -> ExitStatus {
        let pc = self.machine.pc(proc.hart);
        let exe = String::from_utf8_lossy(&proc.exe).into_owned();
        self.report(&format!("{exe}: {why} at pc 0x{pc:x}"));
        let status = ExitStatus::Signal(sig);
        proc.exit = Some(status);
        status
    }
}
