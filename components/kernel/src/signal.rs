//! Signals: numbers, dispositions, default actions, and the riscv64 signal frame.
//!
//! The frame is what Linux's arch/riscv/kernel/signal.c builds: a `siginfo_t` followed by a
//! `struct ucontext` whose `uc_mcontext` holds pc and x1-x31, then f0-f31 and fcsr. The
//! handler returns through a two-instruction trampoline (`li a7, 139; ecall`) that the
//! kernel maps into every process, since friscy has no vDSO; rt_sigreturn then reads the
//! frame back at sp.

use friscy_exec::Registers;

/// A set of signals: bit `n - 1` for signal `n` (the kernel's 64-bit sigset_t).
pub type SigSet = u64;

pub fn bit(sig: u8) -> SigSet {
    1u64 << (sig - 1)
}

pub const SIGHUP: u8 = 1;
pub const SIGINT: u8 = 2;
pub const SIGQUIT: u8 = 3;
pub const SIGILL: u8 = 4;
pub const SIGTRAP: u8 = 5;
pub const SIGABRT: u8 = 6;
pub const SIGBUS: u8 = 7;
pub const SIGFPE: u8 = 8;
pub const SIGKILL: u8 = 9;
pub const SIGUSR1: u8 = 10;
pub const SIGSEGV: u8 = 11;
pub const SIGUSR2: u8 = 12;
pub const SIGPIPE: u8 = 13;
pub const SIGALRM: u8 = 14;
pub const SIGTERM: u8 = 15;
pub const SIGSTKFLT: u8 = 16;
pub const SIGCHLD: u8 = 17;
pub const SIGCONT: u8 = 18;
pub const SIGSTOP: u8 = 19;
pub const SIGTSTP: u8 = 20;
pub const SIGTTIN: u8 = 21;
pub const SIGTTOU: u8 = 22;
pub const SIGURG: u8 = 23;
pub const SIGXCPU: u8 = 24;
pub const SIGXFSZ: u8 = 25;
pub const SIGVTALRM: u8 = 26;
pub const SIGPROF: u8 = 27;
pub const SIGWINCH: u8 = 28;
pub const SIGIO: u8 = 29;
pub const SIGPWR: u8 = 30;
pub const SIGSYS: u8 = 31;
/// _NSIG: signals are 1..=64.
pub const NSIG: u8 = 64;

/// Signals that can be neither caught, blocked nor ignored.
pub const UNBLOCKABLE: SigSet = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

// sa_flags (asm-generic/signal-defs.h).
pub const SA_NOCLDSTOP: u64 = 0x1;
pub const SA_NOCLDWAIT: u64 = 0x2;
pub const SA_SIGINFO: u64 = 0x4;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

// sigaltstack ss_flags.
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const MINSIGSTKSZ: u64 = 2048;

// si_code values.
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;
pub const SI_KERNEL: i32 = 0x80;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const ILL_ILLOPC: i32 = 1;
/// SIGBUS: nonexistent physical address (a file page that could not be read).
pub const BUS_ADRERR: i32 = 2;
pub const TRAP_BRKPT: i32 = 1;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// The riscv64 `struct sigaction` as rt_sigaction(2) takes it (no sa_restorer on riscv).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub mask: SigSet,
}

impl SigAction {
    pub const SIZE: usize = 24;

    pub fn decode(b: &[u8]) -> SigAction {
        let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        SigAction {
            handler: u(0),
            flags: u(8),
            mask: u(16),
        }
    }

    pub fn encode(&self) -> [u8; 24] {
        let mut b = [0; 24];
        b[0..8].copy_from_slice(&self.handler.to_le_bytes());
        b[8..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.mask.to_le_bytes());
        b
    }
}

/// What SIG_DFL does (signal(7)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    Core,
    Ignore,
    Stop,
    Continue,
}

pub fn default_action(sig: u8) -> DefaultAction {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::Core,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGCONT => DefaultAction::Continue,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

/// What a shell prints for a death by this signal (strsignal(3) as glibc words it).
pub fn describe(sig: u8) -> &'static str {
    match sig {
        SIGHUP => "Hangup",
        SIGINT => "Interrupt",
        SIGQUIT => "Quit",
        SIGILL => "Illegal instruction",
        SIGTRAP => "Trace/breakpoint trap",
        SIGABRT => "Aborted",
        SIGBUS => "Bus error",
        SIGFPE => "Floating point exception",
        SIGKILL => "Killed",
        SIGUSR1 => "User defined signal 1",
        SIGSEGV => "Segmentation fault",
        SIGUSR2 => "User defined signal 2",
        SIGPIPE => "Broken pipe",
        SIGALRM => "Alarm clock",
        SIGTERM => "Terminated",
        SIGSTKFLT => "Stack fault",
        SIGXCPU => "CPU time limit exceeded",
        SIGXFSZ => "File size limit exceeded",
        SIGVTALRM => "Virtual timer expired",
        SIGPROF => "Profiling timer expired",
        SIGIO => "I/O possible",
        SIGPWR => "Power failure",
        SIGSYS => "Bad system call",
        _ => "Real-time signal",
    }
}

/// siginfo_t fields friscy fills in (the layout of include/uapi/asm-generic/siginfo.h on
/// a 64-bit machine: si_signo, si_errno, si_code, then the union at offset 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: u8,
    pub code: i32,
    /// kill/tgkill/SIGCHLD: the sender or child pid.
    pub pid: i32,
    /// kill/tgkill: the sender's real uid.
    pub uid: u32,
    /// rt_sigqueueinfo/rt_tgsigqueueinfo: bytes 16..32 of the caller's siginfo (si_pid,
    /// si_uid and si_value for SI_QUEUE), delivered as given.
    pub queued: Option<[u8; 16]>,
    /// SIGCHLD: the exit code or signal.
    pub status: i32,
    /// SIGSEGV/SIGBUS/SIGILL/SIGTRAP: the faulting address.
    pub addr: u64,
    /// A POSIX timer's signal (si_code SI_TIMER): its id, overrun and sigev_value.
    pub timer: Option<(i32, i32, u64)>,
}

pub const SIGINFO_SIZE: usize = 128;

impl SigInfo {
    pub fn encode(&self) -> [u8; SIGINFO_SIZE] {
        let mut b = [0; SIGINFO_SIZE];
        b[0..4].copy_from_slice(&(self.signo as i32).to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        if let Some(fields) = self.queued {
            b[16..32].copy_from_slice(&fields);
            return b;
        }
        if let Some((id, overrun, value)) = self.timer {
            // _sigfault's place holds _timer: si_tid, si_overrun, si_value.
            b[16..20].copy_from_slice(&id.to_le_bytes());
            b[20..24].copy_from_slice(&overrun.to_le_bytes());
            b[24..32].copy_from_slice(&value.to_le_bytes());
            return b;
        }
        match self.signo {
            SIGSEGV | SIGBUS | SIGILL | SIGTRAP | SIGFPE if self.code > 0 => {
                b[16..24].copy_from_slice(&self.addr.to_le_bytes());
            }
            _ => {
                b[16..20].copy_from_slice(&self.pid.to_le_bytes());
                b[20..24].copy_from_slice(&self.uid.to_le_bytes());
                if self.signo == SIGCHLD {
                    b[24..28].copy_from_slice(&self.status.to_le_bytes());
                }
            }
        }
        b
    }
}

// Offsets in the rt_sigframe (checked against glibc's ucontext_t in tests/guest).
const UC: usize = SIGINFO_SIZE;
const UC_STACK: usize = UC + 16;
const UC_SIGMASK: usize = UC + 40;
const UC_MCONTEXT: usize = UC + 176;
const MC_FPREGS: usize = UC_MCONTEXT + 256;
const MC_FCSR: usize = MC_FPREGS + 256;
/// sizeof(struct rt_sigframe): siginfo plus a 960-byte ucontext.
pub const FRAME_SIZE: usize = UC + 960;

/// The frame for a handler: where it goes and what it holds.
pub fn build_frame(
    info: &SigInfo,
    regs: &Registers,
    mask: SigSet,
    altstack: (u64, u64, u32),
) -> Vec<u8> {
    let mut f = vec![0u8; FRAME_SIZE];
    f[..SIGINFO_SIZE].copy_from_slice(&info.encode());
    f[UC_STACK..UC_STACK + 8].copy_from_slice(&altstack.0.to_le_bytes());
    f[UC_STACK + 8..UC_STACK + 12].copy_from_slice(&altstack.2.to_le_bytes());
    f[UC_STACK + 16..UC_STACK + 24].copy_from_slice(&altstack.1.to_le_bytes());
    f[UC_SIGMASK..UC_SIGMASK + 8].copy_from_slice(&mask.to_le_bytes());
    f[UC_MCONTEXT..UC_MCONTEXT + 8].copy_from_slice(&regs.pc.to_le_bytes());
    for r in 1..32 {
        let o = UC_MCONTEXT + 8 * r;
        f[o..o + 8].copy_from_slice(&regs.x[r].to_le_bytes());
    }
    for r in 0..32 {
        let o = MC_FPREGS + 8 * r;
        f[o..o + 8].copy_from_slice(&regs.f[r].to_le_bytes());
    }
    f[MC_FCSR..MC_FCSR + 4].copy_from_slice(&regs.fcsr.to_le_bytes());
    f
}

/// rt_sigreturn: the registers and signal mask saved in (and possibly edited through) a
/// frame.
pub fn read_frame(f: &[u8], regs: &mut Registers) -> SigSet {
    let u = |o: usize| u64::from_le_bytes(f[o..o + 8].try_into().unwrap());
    regs.pc = u(UC_MCONTEXT);
    for r in 1..32 {
        regs.x[r] = u(UC_MCONTEXT + 8 * r);
    }
    for r in 0..32 {
        regs.f[r] = u(MC_FPREGS + 8 * r);
    }
    regs.fcsr = u32::from_le_bytes(f[MC_FCSR..MC_FCSR + 4].try_into().unwrap()) & 0xff;
    u(UC_SIGMASK)
}

/// Offset of the ucontext in the frame (a2 for an SA_SIGINFO handler).
pub const FRAME_UCONTEXT: u64 = UC as u64;

/// The sigreturn trampoline: `li a7, 139` (rt_sigreturn), `ecall`.
pub const TRAMPOLINE: [u8; 8] = [0x93, 0x08, 0xb0, 0x08, 0x73, 0x00, 0x00, 0x00];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_registers_and_mask() {
        let mut regs = Registers {
            x: [0; 32],
            f: [0; 32],
            pc: 0x1234,
            fcsr: 0x65,
        };
        for i in 0..32 {
            regs.x[i] = i as u64 * 3;
            regs.f[i] = !(i as u64);
        }
        regs.x[0] = 0;
        let info = SigInfo {
            signo: SIGUSR1,
            code: SI_USER,
            pid: 7,
            ..Default::default()
        };
        let f = build_frame(&info, &regs, 0xf0, (0, 0, SS_DISABLE));
        assert_eq!(f.len(), 1088);
        let mut back = Registers {
            x: [0; 32],
            f: [0; 32],
            pc: 0,
            fcsr: 0,
        };
        assert_eq!(read_frame(&f, &mut back), 0xf0);
        assert_eq!(back, regs);
        assert_eq!(&f[16..20], &7i32.to_le_bytes());
    }

    #[test]
    fn default_actions_follow_signal_7() {
        assert_eq!(default_action(SIGSEGV), DefaultAction::Core);
        assert_eq!(default_action(SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(40), DefaultAction::Terminate);
    }
}
