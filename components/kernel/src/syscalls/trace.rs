//! The strace-style syscall trace (`FRISCY_TRACE=1`, `friscy run --strace`): one line per
//! call, `[tid] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3`, with arguments
//! decoded per syscall and errors by name (`= -1 ENOENT (No such file or directory)`).
//!
//! Pure functions of the call and a reader of guest memory, so they are unit-tested
//! natively. Inputs are rendered before the handler runs ([`Call::capture`]) because some
//! calls invalidate them (a successful execve replaces the address space); outputs (a
//! read's data, pipe2's descriptors) are rendered afterwards ([`Call::finish`]).

use friscy_abi::Errno;
use friscy_exec::SpaceId;

use super::{Args, SysResult};
use crate::Kernel;

/// strace's default `-s 32`: longer strings and buffers end in `...`.
const STRSIZE: usize = 32;
/// Longest path printed (Linux's PATH_MAX); paths are not cut at STRSIZE, as in strace.
const PATHSIZE: usize = 4096;
/// argv entries printed before `...`.
const MAX_ARGV: usize = 32;

/// Guest memory as the trace sees it: `None` where it is not readable.
pub trait GuestMem {
    /// Exactly `len` bytes at `addr`.
    fn bytes(&mut self, addr: u64, len: usize) -> Option<Vec<u8>>;
    /// The NUL-terminated string at `addr`, without the NUL, at most `max` bytes.
    fn cstr(&mut self, addr: u64, max: usize) -> Option<Vec<u8>>;
}

/// A process's address space through the machine: what the dispatcher hands the trace.
pub struct Space<'a>(pub &'a mut Kernel, pub SpaceId);

impl GuestMem for Space<'_> {
    fn bytes(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0; len];
        let space = self.1;
        self.0
            .guest(space, |m| m.read(space, addr, &mut buf))
            .ok()
            .map(|()| buf)
    }
    fn cstr(&mut self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let space = self.1;
        self.0.guest(space, |m| m.read_cstr(space, addr, max)).ok()
    }
}

/// How one argument is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    /// A descriptor, in decimal.
    Fd,
    /// A directory descriptor: `AT_FDCWD` or decimal.
    DirFd,
    /// A path: quoted in full (`NULL` for 0).
    Path,
    /// Input bytes whose length is the given argument: quoted, cut at STRSIZE.
    Buf(usize),
    /// Output bytes, as many as the call returned (else the pointer).
    OutBuf,
    /// Output NUL-terminated string (getcwd).
    OutStr,
    /// Output `int[2]` (pipe2).
    OutFds,
    /// A NULL-terminated array of strings (execve's argv).
    Argv,
    Dec,
    UDec,
    Hex,
    /// A pointer (struct or otherwise opaque): `NULL` or hex.
    Ptr,
    /// A file mode, in octal.
    Mode,
    /// openat's mode: only shown with O_CREAT or O_TMPFILE, as strace does.
    OpenMode,
    OpenFlags,
    /// O_CLOEXEC-style flags without an access mode (pipe2, dup3): `0` when none.
    FdFlags,
    AtFlags,
    WaitOptions,
    Prot,
    MapFlags,
    CloneFlags,
    Signal,
    SigHow,
    Whence,
    FcntlCmd,
    FutexOp,
    FlockOp,
    Clock,
}

/// How the result is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ret {
    Dec,
    /// Addresses (mmap, brk, mremap).
    Hex,
    /// The call does not return (exit, exit_group): `= ?`.
    None,
}

/// The arguments of a syscall by name, and how its result is shown. Calls not listed show
/// six hex arguments.
fn signature(name: &str) -> Option<(&'static [Arg], Ret)> {
    use Arg::*;
    let args: &'static [Arg] = match name {
        "getcwd" => &[OutStr, UDec],
        "setxattr" | "lsetxattr" => &[Path, Path, Ptr, UDec, Hex],
        "fsetxattr" => &[Fd, Path, Ptr, UDec, Hex],
        "getxattr" | "lgetxattr" => &[Path, Path, Ptr, UDec],
        "fgetxattr" => &[Fd, Path, Ptr, UDec],
        "listxattr" | "llistxattr" => &[Path, Ptr, UDec],
        "flistxattr" => &[Fd, Ptr, UDec],
        "removexattr" | "lremovexattr" => &[Path, Path],
        "fremovexattr" => &[Fd, Path],
        "eventfd2" => &[UDec, Hex],
        "epoll_create1" => &[Hex],
        "epoll_ctl" => &[Fd, Dec, Fd, Ptr],
        "epoll_pwait" => &[Fd, Ptr, Dec, Dec, Ptr, UDec],
        "epoll_pwait2" => &[Fd, Ptr, Dec, Ptr, Ptr, UDec],
        "timerfd_create" => &[Dec, FdFlags],
        "signalfd4" => &[Fd, Ptr, UDec, FdFlags],
        "timer_create" => &[Clock, Ptr, Ptr],
        "timer_settime" => &[Dec, Hex, Ptr, Ptr],
        "timer_gettime" => &[Dec, Ptr],
        "timer_getoverrun" | "timer_delete" => &[Dec],
        "timerfd_settime" => &[Fd, Hex, Ptr, Ptr],
        "timerfd_gettime" => &[Fd, Ptr],
        "dup" => &[Fd],
        "dup3" => &[Fd, Fd, FdFlags],
        "fcntl" => &[Fd, FcntlCmd, Hex],
        "ioctl" => &[Fd, Hex, Ptr],
        "flock" => &[Fd, FlockOp],
        "mknodat" => &[DirFd, Path, Mode, Hex],
        "mkdirat" => &[DirFd, Path, Mode],
        "unlinkat" => &[DirFd, Path, AtFlags],
        "symlinkat" => &[Path, DirFd, Path],
        "linkat" => &[DirFd, Path, DirFd, Path, AtFlags],
        "renameat2" => &[DirFd, Path, DirFd, Path, Hex],
        "statfs" => &[Path, Ptr],
        "fstatfs" => &[Fd, Ptr],
        "truncate" => &[Path, Dec],
        "ftruncate" => &[Fd, Dec],
        "fallocate" => &[Fd, Hex, Dec, Dec],
        "faccessat" => &[DirFd, Path, Mode],
        "faccessat2" => &[DirFd, Path, Mode, AtFlags],
        "chdir" | "chroot" => &[Path],
        "fchdir" => &[Fd],
        "fchmod" => &[Fd, Mode],
        "fchmodat" => &[DirFd, Path, Mode],
        "fchmodat2" => &[DirFd, Path, Mode, AtFlags],
        "fchownat" => &[DirFd, Path, Dec, Dec, AtFlags],
        "fchown" => &[Fd, Dec, Dec],
        "openat" => &[DirFd, Path, OpenFlags, OpenMode],
        "openat2" => &[DirFd, Path, Ptr, UDec],
        "close" => &[Fd],
        "close_range" => &[UDec, UDec, Hex],
        "pipe2" => &[OutFds, FdFlags],
        "getdents64" => &[Fd, Ptr, UDec],
        "lseek" => &[Fd, Dec, Whence],
        "msgget" => &[Hex, Hex],
        "msgsnd" => &[Dec, Ptr, UDec, Hex],
        "msgrcv" => &[Dec, Ptr, UDec, Dec, Hex],
        "msgctl" | "shmctl" => &[Dec, Dec, Ptr],
        "semget" => &[Hex, Dec, Hex],
        "semop" => &[Dec, Ptr, UDec],
        "semtimedop" => &[Dec, Ptr, UDec, Ptr],
        "semctl" => &[Dec, Dec, Dec, Hex],
        "shmget" => &[Hex, UDec, Hex],
        "shmat" => &[Dec, Ptr, Hex],
        "shmdt" => &[Ptr],
        "socket" => &[Dec, Hex, Dec],
        "socketpair" => &[Dec, Hex, Dec, OutFds],
        "bind" | "connect" => &[Fd, Ptr, UDec],
        "listen" => &[Fd, Dec],
        "accept" | "getsockname" | "getpeername" => &[Fd, Ptr, Ptr],
        "accept4" => &[Fd, Ptr, Ptr, Hex],
        "sendto" => &[Fd, Buf(2), UDec, Hex, Ptr, UDec],
        "recvfrom" => &[Fd, OutBuf, UDec, Hex, Ptr, Ptr],
        "setsockopt" => &[Fd, Dec, Dec, Ptr, UDec],
        "getsockopt" => &[Fd, Dec, Dec, Ptr, Ptr],
        "shutdown" => &[Fd, Dec],
        "sendmsg" | "recvmsg" => &[Fd, Ptr, Hex],
        "sendmmsg" => &[Fd, Ptr, UDec, Hex],
        "process_vm_readv" | "process_vm_writev" => &[Dec, Ptr, UDec, Ptr, UDec, Hex],
        "recvmmsg" => &[Fd, Ptr, UDec, Hex, Ptr],
        "read" => &[Fd, OutBuf, UDec],
        "write" => &[Fd, Buf(2), UDec],
        "pread64" => &[Fd, OutBuf, UDec, Dec],
        "pwrite64" => &[Fd, Buf(2), UDec, Dec],
        "readv" | "writev" => &[Fd, Ptr, Dec],
        "preadv" | "pwritev" => &[Fd, Ptr, Dec, Dec],
        "preadv2" | "pwritev2" => &[Fd, Ptr, Dec, Dec, Dec, Hex],
        "sendfile" => &[Fd, Fd, Ptr, UDec],
        "copy_file_range" => &[Fd, Ptr, Fd, Ptr, UDec, Hex],
        "splice" => &[Fd, Ptr, Fd, Ptr, UDec, Hex],
        "tee" => &[Fd, Fd, UDec, Hex],
        "vmsplice" => &[Fd, Ptr, Dec, Hex],
        "pselect6" => &[Dec, Ptr, Ptr, Ptr, Ptr, Ptr],
        "ppoll" => &[Ptr, UDec, Ptr, Ptr, UDec],
        "readlinkat" => &[DirFd, Path, OutBuf, UDec],
        "newfstatat" => &[DirFd, Path, Ptr, AtFlags],
        "fstat" => &[Fd, Ptr],
        "statx" => &[DirFd, Path, AtFlags, Hex, Ptr],
        "sync" | "munlockall" | "sched_yield" | "rt_sigreturn" | "setsid" | "getpid"
        | "getppid" | "getuid" | "geteuid" | "getgid" | "getegid" | "gettid" => &[],
        "fsync" | "fdatasync" | "syncfs" => &[Fd],
        "fadvise64" => &[Fd, Dec, Dec, Dec],
        "sync_file_range" => &[Fd, Dec, Dec, Hex],
        "readahead" => &[Fd, Dec, UDec],
        "utimensat" => &[DirFd, Path, Ptr, AtFlags],
        "exit" | "exit_group" => &[Dec],
        "waitid" => &[Dec, Dec, Ptr, WaitOptions, Ptr],
        "wait4" => &[Dec, Ptr, WaitOptions, Ptr],
        "set_tid_address" => &[Ptr],
        "futex" => &[Ptr, FutexOp, Dec, Ptr, Ptr, Dec],
        "set_robust_list" => &[Ptr, UDec],
        "get_robust_list" => &[Dec, Ptr, Ptr],
        "nanosleep" => &[Ptr, Ptr],
        "getitimer" => &[Dec, Ptr],
        "setitimer" => &[Dec, Ptr, Ptr],
        "clock_gettime" | "clock_getres" | "clock_settime" => &[Clock, Ptr],
        "settimeofday" => &[Ptr, Ptr],
        "syslog" => &[Dec, Ptr, Dec],
        "clock_nanosleep" => &[Clock, Hex, Ptr, Ptr],
        "sched_setaffinity" | "sched_getaffinity" => &[Dec, UDec, Ptr],
        "sched_setscheduler" => &[Dec, Dec, Ptr],
        "sched_setparam" | "sched_getparam" => &[Dec, Ptr],
        "sched_getscheduler" | "sched_get_priority_max" | "sched_get_priority_min" => &[Dec],
        "getpriority" | "ioprio_get" => &[Dec, Dec],
        "ioprio_set" => &[Dec, Dec, Hex],
        "sched_getattr" => &[Dec, Ptr, UDec, Hex],
        "sched_rr_get_interval" => &[Dec, Ptr],
        "sched_setattr" => &[Dec, Ptr, Hex],
        "setpriority" => &[Dec, Dec, Dec],
        "kill" | "tkill" => &[Dec, Signal],
        "tgkill" => &[Dec, Dec, Signal],
        "sigaltstack" => &[Ptr, Ptr],
        "rt_sigsuspend" | "rt_sigpending" => &[Ptr, UDec],
        "rt_sigaction" => &[Signal, Ptr, Ptr, UDec],
        "rt_sigprocmask" => &[SigHow, Ptr, Ptr, UDec],
        "rt_sigtimedwait" => &[Ptr, Ptr, Ptr, UDec],
        "times" | "uname" | "sysinfo" => &[Ptr],
        "sethostname" | "setdomainname" => &[Buf(1), UDec],
        "setpgid" => &[Dec, Dec],
        "getpgid" | "getsid" => &[Dec],
        "getgroups" | "setgroups" => &[Dec, Ptr],
        "setuid" | "setgid" | "setfsuid" | "setfsgid" => &[Dec],
        "setreuid" | "setregid" => &[Dec, Dec],
        "setresuid" | "setresgid" => &[Dec, Dec, Dec],
        "getresuid" | "getresgid" => &[Ptr, Ptr, Ptr],
        "capget" | "capset" => &[Ptr, Ptr],
        "prctl" => &[Dec, Hex, Hex, Hex, Hex],
        "getrlimit" | "setrlimit" | "getrusage" => &[Dec, Ptr],
        "prlimit64" => &[Dec, Dec, Ptr, Ptr],
        "umask" => &[Mode],
        "gettimeofday" => &[Ptr, Ptr],
        "brk" => &[Ptr],
        "munmap" => &[Ptr, UDec],
        "mremap" => &[Ptr, UDec, UDec, Hex, Ptr],
        "clone" => &[CloneFlags, Ptr, Ptr, Ptr, Ptr],
        "clone3" => &[Ptr, UDec],
        "unshare" => &[CloneFlags],
        "io_uring_setup" => &[UDec, Ptr],
        "pidfd_open" => &[Dec, Hex],
        "pidfd_send_signal" => &[Fd, Signal, Ptr, Hex],
        "execve" => &[Path, Argv, Ptr],
        "execveat" => &[DirFd, Path, Argv, Ptr, AtFlags],
        "mmap" => &[Ptr, UDec, Prot, MapFlags, Fd, Hex],
        "mprotect" => &[Ptr, UDec, Prot],
        "msync" => &[Ptr, UDec, Hex],
        "madvise" => &[Ptr, UDec, Dec],
        "mlock" | "munlock" | "mincore" => &[Ptr, UDec, Ptr],
        "mlock2" => &[Ptr, UDec, Hex],
        "mlockall" => &[Hex],
        "personality" => &[Hex],
        "inotify_init1" => &[Hex],
        "inotify_add_watch" => &[Fd, Path, Hex],
        "inotify_rm_watch" => &[Fd, Dec],
        "getcpu" => &[Ptr, Ptr, Ptr],
        "membarrier" => &[Dec, Hex, Dec],
        "rt_sigqueueinfo" => &[Dec, Signal, Ptr],
        "rt_tgsigqueueinfo" => &[Dec, Dec, Signal, Ptr],
        "riscv_hwprobe" => &[Ptr, UDec, UDec, Ptr, Hex],
        "riscv_flush_icache" => &[Ptr, Ptr, Hex],
        "memfd_create" => &[Path, Hex],
        "getrandom" => &[Ptr, UDec, Hex],
        "rseq" => &[Ptr, UDec, Hex, Hex],
        _ => return None,
    };
    let ret = match name {
        "mmap" | "brk" | "mremap" | "shmat" => Ret::Hex,
        "exit" | "exit_group" => Ret::None,
        _ => Ret::Dec,
    };
    Some((args, ret))
}

/// A call's arguments rendered before it ran; outputs stay raw until [`Call::finish`].
pub struct Call {
    tid: i32,
    name: String,
    args: Vec<Rendered>,
    ret: Ret,
}

enum Rendered {
    Text(String),
    Out(Arg, u64),
}

/// How a call ended, as far as the trace is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done(SysResult),
    /// Parked: it will run again from scratch when woken.
    Unfinished,
}

impl Call {
    /// Render the inputs of syscall `nr` (named `name`, if the table knows it).
    pub fn capture(
        tid: i32,
        nr: u64,
        name: Option<&str>,
        a: &Args,
        mem: &mut dyn GuestMem,
    ) -> Call {
        let Some(name) = name else {
            let args = a.iter().map(|v| Rendered::Text(format!("{v:#x}")));
            return Call {
                tid,
                name: format!("syscall_{nr}"),
                args: args.collect(),
                ret: Ret::Dec,
            };
        };
        let (kinds, ret) = signature(name).unwrap_or((&[Arg::Hex; 6], Ret::Dec));
        let mut args = Vec::with_capacity(kinds.len());
        for (i, &kind) in kinds.iter().enumerate() {
            let v = a[i];
            args.push(match kind {
                Arg::OutBuf | Arg::OutStr | Arg::OutFds => Rendered::Out(kind, v),
                Arg::OpenMode if a[2] & (O_CREAT | O_TMPFILE) == 0 => continue,
                _ => Rendered::Text(render(kind, v, a, mem)),
            });
        }
        Call {
            tid,
            name: name.to_string(),
            args,
            ret,
        }
    }

    /// The trace line, rendering outputs now that the call is over.
    pub fn finish(&self, outcome: Outcome, mem: &mut dyn GuestMem) -> String {
        let ok = match outcome {
            Outcome::Done(Ok(n)) => Some(n),
            _ => None,
        };
        let args: Vec<String> = self
            .args
            .iter()
            .map(|r| match *r {
                Rendered::Text(ref s) => s.clone(),
                Rendered::Out(kind, v) => render_out(kind, v, ok, mem),
            })
            .collect();
        let head = format!("[{}] {}({}", self.tid, self.name, args.join(", "));
        match outcome {
            Outcome::Unfinished => format!("{head} <unfinished ...>"),
            Outcome::Done(r) => format!("{head}) = {}", result(r, self.ret)),
        }
    }
}

/// The text after `= `.
fn result(r: SysResult, ret: Ret) -> String {
    match (r, ret) {
        (_, Ret::None) => "?".to_string(),
        (Ok(v), Ret::Hex) => format!("{v:#x}"),
        (Ok(v), _) => (v as i64).to_string(),
        (Err(e), _) => errno(e),
    }
}

/// `-1 ENOENT (No such file or directory)`.
pub fn errno(e: Errno) -> String {
    format!("-1 {} ({})", e.name(), e.message())
}

fn render_out(kind: Arg, v: u64, ok: Option<u64>, mem: &mut dyn GuestMem) -> String {
    let shown = match (kind, ok) {
        (_, None) => None,
        (Arg::OutBuf, Some(n)) => {
            let len = (n as usize).min(STRSIZE);
            mem.bytes(v, len).map(|b| quote(&b, n as usize > STRSIZE))
        }
        (Arg::OutStr, Some(_)) => mem.cstr(v, PATHSIZE).map(|b| quote(&b, false)),
        (Arg::OutFds, Some(_)) => mem.bytes(v, 8).map(|b| {
            let fd = |i: usize| i32::from_le_bytes(b[i..i + 4].try_into().unwrap());
            format!("[{}, {}]", fd(0), fd(4))
        }),
        _ => None,
    };
    shown.unwrap_or_else(|| ptr(v))
}

fn render(kind: Arg, v: u64, a: &Args, mem: &mut dyn GuestMem) -> String {
    match kind {
        Arg::Fd => (v as i32).to_string(),
        Arg::DirFd if v as i32 == AT_FDCWD => "AT_FDCWD".into(),
        Arg::DirFd => (v as i32).to_string(),
        Arg::Path if v == 0 => "NULL".into(),
        Arg::Path => match mem.cstr(v, PATHSIZE) {
            Some(s) => quote(&s, false),
            None => ptr(v),
        },
        Arg::Buf(len_arg) => {
            let len = a[len_arg] as usize;
            match mem.bytes(v, len.min(STRSIZE)) {
                Some(b) => quote(&b, len > STRSIZE),
                None => ptr(v),
            }
        }
        Arg::Argv => argv(v, mem),
        Arg::Dec => (v as i64).to_string(),
        Arg::UDec => v.to_string(),
        Arg::Hex => format!("{v:#x}"),
        Arg::Ptr | Arg::OutBuf | Arg::OutStr | Arg::OutFds => ptr(v),
        // strace's octal: a leading 0, at least three digits.
        Arg::Mode | Arg::OpenMode => format!("0{:03o}", v as u32),
        Arg::OpenFlags => open_flags(v as u32),
        Arg::FdFlags => flags(v, OPEN, "0"),
        Arg::AtFlags => flags(v, AT_FLAGS, "0"),
        Arg::WaitOptions => flags(v, WAIT, "0"),
        Arg::Prot => flags(v, PROT, "PROT_NONE"),
        Arg::MapFlags => map_flags(v),
        Arg::CloneFlags => clone_flags(v),
        Arg::Signal => signal(v as i32),
        Arg::SigHow => table_name(v, &["SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK"]),
        Arg::Whence => table_name(
            v,
            &["SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"],
        ),
        Arg::FcntlCmd => fcntl_cmd(v),
        Arg::FutexOp => futex_op(v),
        Arg::FlockOp => flags(v, FLOCK, "0"),
        Arg::Clock => table_name(
            v,
            &[
                "CLOCK_REALTIME",
                "CLOCK_MONOTONIC",
                "CLOCK_PROCESS_CPUTIME_ID",
                "CLOCK_THREAD_CPUTIME_ID",
                "CLOCK_MONOTONIC_RAW",
                "CLOCK_REALTIME_COARSE",
                "CLOCK_MONOTONIC_COARSE",
                "CLOCK_BOOTTIME",
            ],
        ),
    }
}

fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// A C string literal as strace writes one: `\n`, `\t`, `\"`, `\\`, octal for other
/// unprintable bytes (three digits when a digit follows, so it reads back unambiguously),
/// and `...` after the closing quote when cut.
pub fn quote(b: &[u8], cut: bool) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ if b.get(i + 1).is_some_and(|n| (b'0'..=b'7').contains(n)) => {
                s.push_str(&format!("\\{c:03o}"))
            }
            _ => s.push_str(&format!("\\{c:o}")),
        }
    }
    s.push('"');
    if cut {
        s.push_str("...");
    }
    s
}

fn argv(v: u64, mem: &mut dyn GuestMem) -> String {
    if v == 0 {
        return "NULL".into();
    }
    let mut items = Vec::new();
    for i in 0..=MAX_ARGV as u64 {
        let Some(p) = mem.bytes(v + 8 * i, 8) else {
            return ptr(v);
        };
        let p = u64::from_le_bytes(p.try_into().unwrap());
        if p == 0 {
            break;
        }
        if i == MAX_ARGV as u64 {
            items.push("...".to_string());
            break;
        }
        items.push(match mem.cstr(p, PATHSIZE) {
            Some(s) => quote(&s[..s.len().min(STRSIZE)], s.len() > STRSIZE),
            None => ptr(p),
        });
    }
    format!("[{}]", items.join(", "))
}

fn table_name(v: u64, names: &[&str]) -> String {
    match names.get(v as usize) {
        Some(n) => n.to_string(),
        None => (v as i64).to_string(),
    }
}

/// `A|B|0x40` for the bits in `table` plus what remains, `zero` when nothing is set.
fn flags(v: u64, table: &[(u64, &str)], zero: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in table {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        zero.to_string()
    } else {
        parts.join("|")
    }
}

// asm-generic/fcntl.h (riscv64 uses the generic values).
const O_CREAT: u64 = 0o100;
const O_TMPFILE: u64 = 0o20200000;
const AT_FDCWD: i32 = -100;

fn open_flags(v: u32) -> String {
    let access = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flags(u64::from(v & !3), OPEN, "");
    if rest.is_empty() {
        access.into()
    } else {
        format!("{access}|{rest}")
    }
}

const OPEN: &[(u64, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o20200000, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4010000, "O_SYNC"),
    (0o10000000, "O_PATH"),
];

const AT_FLAGS: &[(u64, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
];

const WAIT: &[(u64, &str)] = &[
    (1, "WNOHANG"),
    (2, "WUNTRACED"),
    (4, "WEXITED"),
    (8, "WCONTINUED"),
    (0x0100_0000, "WNOWAIT"),
    (0x2000_0000, "__WNOTHREAD"),
    (0x4000_0000, "__WALL"),
    (0x8000_0000, "__WCLONE"),
];

const PROT: &[(u64, &str)] = &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];

const FLOCK: &[(u64, &str)] = &[
    (1, "LOCK_SH"),
    (2, "LOCK_EX"),
    (4, "LOCK_NB"),
    (8, "LOCK_UN"),
];

fn map_flags(v: u64) -> String {
    let kind = match v & 0xf {
        1 => "MAP_SHARED",
        2 => "MAP_PRIVATE",
        3 => "MAP_SHARED_VALIDATE",
        _ => "",
    };
    const MAP: &[(u64, &str)] = &[
        (0x10, "MAP_FIXED"),
        (0x20, "MAP_ANONYMOUS"),
        (0x100, "MAP_GROWSDOWN"),
        (0x800, "MAP_DENYWRITE"),
        (0x1000, "MAP_EXECUTABLE"),
        (0x2000, "MAP_LOCKED"),
        (0x4000, "MAP_NORESERVE"),
        (0x8000, "MAP_POPULATE"),
        (0x10000, "MAP_NONBLOCK"),
        (0x20000, "MAP_STACK"),
        (0x40000, "MAP_HUGETLB"),
        (0x100000, "MAP_FIXED_NOREPLACE"),
    ];
    let rest = flags(v & !0xf, MAP, "");
    match (kind, rest.is_empty()) {
        ("", true) => format!("{:#x}", v & 0xf),
        ("", false) if v & 0xf == 0 => rest,
        ("", false) => format!("{:#x}|{rest}", v & 0xf),
        (k, true) => k.into(),
        (k, false) => format!("{k}|{rest}"),
    }
}

fn clone_flags(v: u64) -> String {
    const CLONE: &[(u64, &str)] = &[
        (0x100, "CLONE_VM"),
        (0x200, "CLONE_FS"),
        (0x400, "CLONE_FILES"),
        (0x800, "CLONE_SIGHAND"),
        (0x1000, "CLONE_PIDFD"),
        (0x2000, "CLONE_PTRACE"),
        (0x4000, "CLONE_VFORK"),
        (0x8000, "CLONE_PARENT"),
        (0x10000, "CLONE_THREAD"),
        (0x20000, "CLONE_NEWNS"),
        (0x40000, "CLONE_SYSVSEM"),
        (0x80000, "CLONE_SETTLS"),
        (0x100000, "CLONE_PARENT_SETTID"),
        (0x200000, "CLONE_CHILD_CLEARTID"),
        (0x400000, "CLONE_DETACHED"),
        (0x800000, "CLONE_UNTRACED"),
        (0x1000000, "CLONE_CHILD_SETTID"),
    ];
    // The low byte is the signal sent to the parent at exit, not a flag.
    let mut s = flags(v & !0xff, CLONE, "");
    if v & 0xff != 0 {
        if !s.is_empty() {
            s.push('|');
        }
        s.push_str(&signal((v & 0xff) as i32));
    }
    if s.is_empty() {
        s.push('0');
    }
    format!("flags={s}")
}

const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `SIGTERM`, `SIGRT_3` (SIGRTMIN is 32), or the number.
pub fn signal(n: i32) -> String {
    match n {
        1..=31 => SIGNALS[n as usize - 1].to_string(),
        32..=64 => format!("SIGRT_{}", n - 32),
        _ => n.to_string(),
    }
}

fn fcntl_cmd(v: u64) -> String {
    let name = match v {
        0 => "F_DUPFD",
        1 => "F_GETFD",
        2 => "F_SETFD",
        3 => "F_GETFL",
        4 => "F_SETFL",
        5 => "F_GETLK",
        6 => "F_SETLK",
        7 => "F_SETLKW",
        36 => "F_OFD_GETLK",
        37 => "F_OFD_SETLK",
        38 => "F_OFD_SETLKW",
        1030 => "F_DUPFD_CLOEXEC",
        _ => return (v as i64).to_string(),
    };
    name.into()
}

fn futex_op(v: u64) -> String {
    const OPS: [&str; 14] = [
        "FUTEX_WAIT",
        "FUTEX_WAKE",
        "FUTEX_FD",
        "FUTEX_REQUEUE",
        "FUTEX_CMP_REQUEUE",
        "FUTEX_WAKE_OP",
        "FUTEX_LOCK_PI",
        "FUTEX_UNLOCK_PI",
        "FUTEX_TRYLOCK_PI",
        "FUTEX_WAIT_BITSET",
        "FUTEX_WAKE_BITSET",
        "FUTEX_WAIT_REQUEUE_PI",
        "FUTEX_CMP_REQUEUE_PI",
        "FUTEX_LOCK_PI2",
    ];
    let mut s = table_name(v & 0x7f, &OPS);
    if v & 128 != 0 {
        s.push_str("_PRIVATE");
    }
    if v & 256 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Guest memory as a few byte strings at fixed addresses.
    #[derive(Default)]
    struct Mem(BTreeMap<u64, Vec<u8>>);

    impl GuestMem for Mem {
        fn bytes(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
            let (&base, data) = self.0.range(..=addr).next_back()?;
            let off = (addr - base) as usize;
            data.get(off..off + len).map(<[u8]>::to_vec)
        }
        fn cstr(&mut self, addr: u64, max: usize) -> Option<Vec<u8>> {
            let (&base, data) = self.0.range(..=addr).next_back()?;
            let rest = data.get((addr - base) as usize..)?;
            let end = rest.iter().position(|&c| c == 0)?;
            Some(rest[..end.min(max)].to_vec())
        }
    }

    fn line(nr: u64, name: &str, a: [u64; 6], r: Outcome, mem: &mut Mem) -> String {
        Call::capture(7, nr, Some(name), &a, mem).finish(r, mem)
    }

    #[test]
    fn openat_decodes_dirfd_path_flags_and_mode_only_with_o_creat() {
        let mut m = Mem::default();
        m.0.insert(0x1000, b"/etc/passwd\0".to_vec());
        let l = line(
            56,
            "openat",
            [-100i64 as u64, 0x1000, 0o2000000, 0, 0, 0],
            Outcome::Done(Ok(3)),
            &mut m,
        );
        assert_eq!(
            l,
            r#"[7] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3"#
        );
        let l = line(
            56,
            "openat",
            [5, 0x1000, 0o1101, 0o644, 0, 0],
            Outcome::Done(Err(Errno::ENOENT)),
            &mut m,
        );
        assert_eq!(
            l,
            r#"[7] openat(5, "/etc/passwd", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 ENOENT (No such file or directory)"#
        );
    }

    #[test]
    fn buffers_are_quoted_escaped_and_cut_like_strace() {
        let mut m = Mem::default();
        m.0.insert(
            0x2000,
            b"hello\n\t\"q\"\\\x1b[0m\x007 and a long tail beyond 32".to_vec(),
        );
        let l = line(
            64,
            "write",
            [1, 0x2000, 6, 0, 0, 0],
            Outcome::Done(Ok(6)),
            &mut m,
        );
        assert_eq!(l, r#"[7] write(1, "hello\n", 6) = 6"#);
        let l = line(
            64,
            "write",
            [1, 0x2000, 40, 0, 0, 0],
            Outcome::Done(Ok(40)),
            &mut m,
        );
        assert_eq!(
            l,
            r#"[7] write(1, "hello\n\t\"q\"\\\33[0m\0007 and a long tai"..., 40) = 40"#
        );
        // read's buffer is an output: shown as returned, the pointer when it failed.
        let l = line(
            63,
            "read",
            [0, 0x2000, 100, 0, 0, 0],
            Outcome::Done(Ok(5)),
            &mut m,
        );
        assert_eq!(l, r#"[7] read(0, "hello", 100) = 5"#);
        let l = line(
            63,
            "read",
            [9, 0x2000, 100, 0, 0, 0],
            Outcome::Done(Err(Errno::EBADF)),
            &mut m,
        );
        assert_eq!(
            l,
            "[7] read(9, 0x2000, 100) = -1 EBADF (Bad file descriptor)"
        );
        // Unreadable memory shows the address.
        let l = line(
            64,
            "write",
            [1, 0xdead0, 3, 0, 0, 0],
            Outcome::Done(Err(Errno::EFAULT)),
            &mut m,
        );
        assert_eq!(l, "[7] write(1, 0xdead0, 3) = -1 EFAULT (Bad address)");
    }

    #[test]
    fn mmap_clone_signals_and_results() {
        let mut m = Mem::default();
        let l = line(
            222,
            "mmap",
            [0, 8192, 3, 0x22, -1i64 as u64, 0],
            Outcome::Done(Ok(0x7f00_0000)),
            &mut m,
        );
        assert_eq!(
            l,
            "[7] mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0x0) = 0x7f000000"
        );
        let l = line(
            226,
            "mprotect",
            [0x1000, 4096, 0, 0, 0, 0],
            Outcome::Done(Ok(0)),
            &mut m,
        );
        assert_eq!(l, "[7] mprotect(0x1000, 4096, PROT_NONE) = 0");
        let flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x80000 | 0x100000 | 0x200000;
        let l = line(
            220,
            "clone",
            [flags, 0x5000, 0x6000, 0x7000, 0x6000, 0],
            Outcome::Done(Ok(12)),
            &mut m,
        );
        assert_eq!(
            l,
            "[7] clone(flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, 0x5000, 0x6000, 0x7000, 0x6000) = 12"
        );
        let l = line(
            220,
            "clone",
            [0x1200011, 0, 0, 0, 0x8000, 0],
            Outcome::Done(Ok(2)),
            &mut m,
        );
        assert_eq!(
            l,
            "[7] clone(flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL, NULL, NULL, 0x8000) = 2"
        );
        let l = line(
            129,
            "kill",
            [3, 15, 0, 0, 0, 0],
            Outcome::Done(Err(Errno::ESRCH)),
            &mut m,
        );
        assert_eq!(l, "[7] kill(3, SIGTERM) = -1 ESRCH (No such process)");
        let l = line(
            134,
            "rt_sigaction",
            [34, 0x10, 0, 8, 0, 0],
            Outcome::Done(Ok(0)),
            &mut m,
        );
        assert_eq!(l, "[7] rt_sigaction(SIGRT_2, 0x10, NULL, 8) = 0");
        let l = line(
            94,
            "exit_group",
            [0, 0, 0, 0, 0, 0],
            Outcome::Done(Ok(0)),
            &mut m,
        );
        assert_eq!(l, "[7] exit_group(0) = ?");
    }

    #[test]
    fn parked_calls_print_unfinished_and_outputs_after() {
        let mut m = Mem::default();
        let l = line(
            63,
            "read",
            [0, 0x3000, 10, 0, 0, 0],
            Outcome::Unfinished,
            &mut m,
        );
        assert_eq!(l, "[7] read(0, 0x3000, 10 <unfinished ...>");
        m.0.insert(0x4000, vec![3, 0, 0, 0, 4, 0, 0, 0]);
        let l = line(
            59,
            "pipe2",
            [0x4000, 0o2000000, 0, 0, 0, 0],
            Outcome::Done(Ok(0)),
            &mut m,
        );
        assert_eq!(l, "[7] pipe2([3, 4], O_CLOEXEC) = 0");
        let l = line(
            260,
            "wait4",
            [-1i64 as u64, 0x10, 1, 0, 0, 0],
            Outcome::Unfinished,
            &mut m,
        );
        assert_eq!(l, "[7] wait4(-1, 0x10, WNOHANG, NULL <unfinished ...>");
        let l = line(
            98,
            "futex",
            [0x4000, 128, 1, 0, 0, 0],
            Outcome::Unfinished,
            &mut m,
        );
        assert_eq!(
            l,
            "[7] futex(0x4000, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0 <unfinished ...>"
        );
    }

    #[test]
    fn execve_argv_and_unknown_calls() {
        let mut m = Mem::default();
        m.0.insert(0x100, b"/bin/ls\0-l\0".to_vec());
        let mut arr = Vec::new();
        for p in [0x100u64, 0x108, 0] {
            arr.extend(p.to_le_bytes());
        }
        m.0.insert(0x200, arr);
        let l = line(
            221,
            "execve",
            [0x100, 0x200, 0x300, 0, 0, 0],
            Outcome::Done(Ok(0)),
            &mut m,
        );
        assert_eq!(l, r#"[7] execve("/bin/ls", ["/bin/ls", "-l"], 0x300) = 0"#);
        let l = Call::capture(7, 999, None, &[1, 2, 3, 4, 5, 6], &mut m)
            .finish(Outcome::Done(Err(Errno::ENOSYS)), &mut m);
        assert_eq!(
            l,
            "[7] syscall_999(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)"
        );
    }

    #[test]
    fn every_named_syscall_has_a_signature() {
        for nr in 0..600 {
            if let Some(name) = super::super::table::name(nr) {
                assert!(
                    signature(name).is_some(),
                    "{nr} {name} has no trace signature"
                );
            }
        }
    }
}
