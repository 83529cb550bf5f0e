//! Process syscalls: clone (fork, vfork, threads), execve, exit, wait4/waitid, ids,
//! process groups and sessions, scheduling, limits.

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::process::{Pid, RLIMIT_NOFILE, State, Thread, Wake};
use crate::signal::{self, SigInfo};
use crate::{ExitStatus, Kernel, Process};

// clone(2) flags (include/uapi/linux/sched.h).
const CLONE_VM: u64 = 0x100;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
/// New namespaces of any kind: friscy has one of each.
const CLONE_NEW_ANY: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/// clone(flags, newsp, parent_tid, tls, child_tid): the riscv64 argument order.
/// clone3's flag that resets the child's signal handlers (flush_signal_handlers).
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// The exit signal's bits in clone(2)'s flags.
const CSIGNAL: u64 = 0xff;

/// CLONE_CLEAR_SIGHAND: handlers go back to SIG_DFL; ignored signals stay ignored.
fn clear_handlers(mut acts: [crate::signal::SigAction; 64]) -> [crate::signal::SigAction; 64] {
    for a in acts.iter_mut() {
        if a.handler > crate::signal::SIG_IGN {
            *a = crate::signal::SigAction::default();
        }
    }
    acts
}

/// clone(2): riscv64's argument order (flags, stack, parent_tid, tls, child_tid); only
/// the low 32 bits of the flags count, the lowest 8 being the exit signal.
pub fn sys_clone(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    do_clone(k, p, a[0] & 0xffff_ffff, a[1], a[2], a[3], a[4])
}

/// clone3(2): `struct clone_args` (flags, pidfd, child_tid, parent_tid, exit_signal,
/// stack, stack_size, tls, set_tid, set_tid_size, cgroup), `size` bytes of it; the stack
/// is given by its lowest address and size. Checked as copy_clone_args_from_user and
/// clone3_args_valid check it, then the same clone as clone(2).
pub fn sys_clone3(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const VER0: u64 = 64;
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let size = a[1];
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > friscy_abi::PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    let raw = k.read_user(p, a[0], size as usize)?;
    // Fields past the ones this kernel knows must be zero (E2BIG otherwise).
    if raw
        .get(88..)
        .is_some_and(|rest| rest.iter().any(|&b| b != 0))
    {
        return Err(Errno::E2BIG);
    }
    let field = |i: usize| {
        raw.get(i * 8..i * 8 + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    // (Field 1, the pidfd, is only for CLONE_PIDFD, which do_clone refuses.)
    let (flags, child_tid, parent_tid, exit_signal) = (field(0), field(2), field(3), field(4));
    let (stack, stack_size, tls, set_tid_size) = (field(5), field(6), field(7), field(9));
    let known = 0xffff_ff00 | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;
    if flags & !known != 0
        || exit_signal & !CSIGNAL != 0
        || exit_signal > crate::signal::NSIG as u64
        || (stack == 0) != (stack_size == 0)
        || flags & (CLONE_CLEAR_SIGHAND | CLONE_SIGHAND) == CLONE_CLEAR_SIGHAND | CLONE_SIGHAND
        || (flags & (CLONE_THREAD | CLONE_PARENT) != 0 && exit_signal != 0)
        || set_tid_size > 32
    {
        return Err(Errno::EINVAL);
    }
    // Choosing the child's pid needs CAP_SYS_ADMIN over the pid namespace, which a
    // container's root does not have here; cgroups are not offered.
    if set_tid_size != 0 {
        return Err(Errno::EPERM);
    }
    if flags & CLONE_INTO_CGROUP != 0 {
        return Err(Errno::EBADF);
    }
    let sp = if stack_size != 0 {
        stack.wrapping_add(stack_size)
    } else {
        0
    };
    do_clone(k, p, flags | exit_signal, sp, parent_tid, tls, child_tid)
}

fn do_clone(
    k: &mut Kernel,
    p: &mut Process,
    flags: u64,
    newsp: u64,
    ptid: u64,
    tls: u64,
    ctid: u64,
) -> SysResult {
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0
        || flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_NEW_ANY != 0 {
        return Err(Errno::EPERM);
    }
    if flags & CLONE_PIDFD != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_VM != 0 && flags & (CLONE_THREAD | CLONE_VFORK) == 0 {
        // Two processes sharing memory without vfork's hand-over: not supported.
        if k.trace {
            k.report("clone: CLONE_VM without CLONE_THREAD or CLONE_VFORK is not supported");
        }
        return Err(Errno::EINVAL);
    }
    // The pids limit counts threads too (docker's --pids-limit, the pids cgroup); a fork
    // also commits a copy of the parent's memory (limits.rs).
    k.task_charge(p)?;
    if flags & (CLONE_THREAD | CLONE_VFORK) == 0 {
        k.mem_charge(p, crate::limits::commit_of(&p.mm))?;
    }
    // The child resumes where the parent does, with a0 = 0, its own stack and TLS if given.
    let mut regs = k.machine.registers(p.hart());
    regs.x[10] = 0;
    if newsp != 0 {
        regs.x[2] = newsp;
    }
    if flags & CLONE_SETTLS != 0 {
        regs.x[4] = tls;
    }
    let tid = k.alloc_pid();
    if flags & CLONE_THREAD != 0 {
        let hart = k.machine.hart_new(p.space);
        k.machine.set_registers(hart, &regs);
        let mut t = Thread::new(tid, hart);
        t.sigmask = p.thread().sigmask;
        // A new thread starts with its creator's credentials (copy_creds).
        t.creds = Some(Box::new(p.creds.clone()));
        // A new thread starts with a copy of its creator's name.
        t.comm = Some(p.thread_name().to_vec());
        if flags & CLONE_CHILD_CLEARTID != 0 {
            t.clear_child_tid = ctid;
        }
        if flags & CLONE_PARENT_SETTID != 0 {
            k.write_user(p, ptid, &(tid as u32).to_le_bytes())?;
        }
        if flags & CLONE_CHILD_SETTID != 0 {
            k.write_user(p, ctid, &(tid as u32).to_le_bytes())?;
        }
        p.threads.push(t);
        return Ok(tid as u64);
    }

    // A new process: a copy of the address space (fork), or the same one lent until the
    // child calls execve or exits (vfork; the parent waits).
    let vfork = flags & CLONE_VFORK != 0;
    let space = if vfork {
        p.space
    } else {
        let child = k.machine.space_fork(p.space);
        k.shm.fork(p.space, child);
        child
    };
    let hart = k.machine.hart_new(space);
    k.machine.set_registers(hart, &regs);
    let cur = p.thread();
    let mut t = Thread::new(tid, hart);
    t.sigmask = cur.sigmask;
    t.altstack = cur.altstack;
    if flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_child_tid = ctid;
    }
    let child = Process {
        pid: tid,
        ppid: if flags & CLONE_PARENT != 0 {
            p.ppid
        } else {
            p.pid
        },
        pgid: p.pgid,
        sid: p.sid,
        ctty: p.ctty.clone(),
        space,
        mm: p.mm.clone(),
        fds: p.fds.clone(),
        cwd: p.cwd,
        root: p.root,
        umask: p.umask,
        sched: super::sched::inherit(p.sched),
        creds: p.creds.clone(),
        creds_of: tid,
        exe: p.exe.clone(),
        comm: p.thread_name().to_vec(),
        argv: p.argv.clone(),
        envp: p.envp.clone(),
        rlimits: p.rlimits,
        threads: vec![t],
        cur: 0,
        sigactions: if flags & CLONE_CLEAR_SIGHAND != 0 {
            clear_handlers(p.sigactions)
        } else {
            p.sigactions
        },
        pending: 0,
        siginfo: [SigInfo::default(); 64],
        state: State::Running,
        exit: None,
        exit_signal: (flags & CSIGNAL) as u8,
        continued: false,
        vfork_parent: vfork.then_some(p.pid),
        itimer_real: None,
        itimer_cpu: [None; 2],
        aimed: Vec::new(),
        dumpable: true,
        pdeath_sig: 0,
        child_subreaper: false,
        timer_slack: p.timer_slack,
        mce_kill: p.mce_kill,
        thp_disable: p.thp_disable,
        personality: p.personality,
        membarrier: 0,
        timers: Vec::new(),
        instret: 0,
        children_instret: 0,
        death_reason: None,
    };
    if flags & CLONE_CHILD_SETTID != 0 {
        // In the child's memory (for fork, its own copy).
        let _ = k.guest(space, |m| m.write(space, ctid, &(tid as u32).to_le_bytes()));
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        k.write_user(p, ptid, &(tid as u32).to_le_bytes())?;
    }
    k.procs.insert(tid, child);
    if vfork {
        // The parent's clone returns now, but it runs again only once the child is done.
        let _ = k.park(p, Wake::VforkDone(tid), None, false);
    }
    Ok(tid as u64)
}

pub fn sys_execve(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let path = k.read_path(p, a[0])?;
    let argv = read_string_array(k, p, a[1])?;
    let envp = read_string_array(k, p, a[2])?;
    k.execve(p, &path, None, argv, envp)
}

/// execveat(dirfd, path, argv, envp, flags): execve relative to a directory descriptor,
/// or of the open file itself with AT_EMPTY_PATH (fexecve, a memfd included); with
/// AT_SYMLINK_NOFOLLOW a final symlink is ELOOP.
pub fn sys_execveat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, flags) = (a[0] as i32, a[4]);
    use super::fs::{AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW};
    use friscy_abi::mode::{S_IFLNK, S_IFMT};
    let (nofollow, empty) = (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH);
    if flags & !(nofollow | empty) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = k.read_path(p, a[1])?;
    let argv = read_string_array(k, p, a[2])?;
    let envp = read_string_array(k, p, a[3])?;
    if path.is_empty() {
        if flags & empty == 0 {
            return Err(Errno::ENOENT);
        }
        let file = p.fds.file(dirfd)?;
        let (kind, name) = {
            let f = file.borrow();
            (f.kind.clone(), f.path.clone())
        };
        let crate::fd::FileKind::Inode(ino) = kind else {
            return Err(Errno::EACCES);
        };
        return k.execve(p, &name, Some(ino), argv, envp);
    }
    let full = if path.starts_with(b"/") {
        path.clone()
    } else {
        k.absolute_path(p, dirfd, path.clone())
    };
    if flags & nofollow != 0 {
        let start = k.start_dir(p, dirfd, &path)?;
        let ino = k.resolve(p, start, &path, false)?;
        if k.stat_ino(p, ino)?.mode & S_IFMT == S_IFLNK {
            return Err(Errno::ELOOP);
        }
    }
    k.execve(p, &full, None, argv, envp)
}

/// ARG_MAX as Linux computes it for an 8 MiB stack: a quarter of it.
const ARG_MAX: usize = 2 << 20;

/// argv or envp: a NULL-terminated array of string pointers (NULL itself is empty).
fn read_string_array(k: &mut Kernel, p: &Process, mut addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0;
    loop {
        let ptr = k.read_u64(p, addr)?;
        if ptr == 0 {
            return Ok(out);
        }
        let s = k
            .guest(p.space, |m| m.read_cstr(p.space, ptr, ARG_MAX))
            .map_err(|_| Errno::EFAULT)?;
        total += s.len() + 1 + 8;
        if total > ARG_MAX {
            return Err(Errno::E2BIG);
        }
        out.push(s);
        addr += 8;
    }
}

impl Kernel {
    /// Replace the process's program (execve(2)). On failure the old program is intact.
    pub fn execve(
        &mut self,
        p: &mut Process,
        path: &[u8],
        open: Option<friscy_vfs::Ino>,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> SysResult {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let image = self
            .load_program(&p.creds, p.cwd, path, open, argv, &envp)
            .map_err(|e| e.errno())?;
        // The new program's memory replaces the old one's in the container's account.
        // (A vfork child's map is its parent's, which stays.)
        let old = match p.vfork_parent {
            Some(_) => 0,
            None => crate::limits::commit_of(&p.mm),
        };
        let new = crate::limits::commit_of(&image.mm);
        if let Err(e) = self.mem_charge(p, new.saturating_sub(old)) {
            self.machine.hart_drop(image.hart);
            self.machine.space_drop(image.space);
            return Err(e);
        }
        // The point of no return: other threads go, the old memory goes (or back to the
        // vfork parent), the calling thread carries on as the process's only thread.
        let (sigmask, pending) = (p.thread().sigmask, p.thread().pending);
        for t in std::mem::take(&mut p.threads) {
            self.futex_dequeue(p.pid, t.tid);
            self.fifos.abandon(t.tid);
            self.machine.hart_drop(t.hart);
        }
        if let Some(parent) = p.vfork_parent {
            self.release_vfork(p, parent);
        } else {
            self.shm_drop_space(p.space);
            self.machine.space_drop(p.space);
        }
        p.space = image.space;
        p.mm = image.mm;
        p.creds = image.creds;
        p.exe = image.exe;
        // A new program is dumpable again (a set-user-ID one would not be; core dumps are
        // not made here either way).
        p.dumpable = true;
        p.membarrier = 0;
        p.comm = crate::process::comm_of(path);
        // execve deletes the POSIX timers (ITIMER_REAL survives it).
        p.timers.clear();
        p.argv = image.argv;
        p.envp = envp;
        let mut t = Thread::new(p.pid, image.hart);
        t.sigmask = sigmask;
        t.pending = pending;
        p.threads = vec![t];
        p.cur = 0;
        // The calling thread's credentials, which are the process's now.
        p.creds_of = p.pid;
        // One by one, as close(2) would: a description's own locks go with its last
        // descriptor, and the process's record locks with any descriptor of the file.
        for entry in p.fds.remove_cloexec() {
            self.locks.closed(p.pid, &entry.file);
        }
        // Caught signals revert to the default; ignored ones stay ignored.
        for act in p.sigactions.iter_mut() {
            if act.handler > signal::SIG_IGN {
                *act = signal::SigAction::default();
            }
        }
        Ok(0)
    }
}

pub fn sys_exit(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if p.threads.len() == 1 {
        p.exit = Some(ExitStatus::Code(a[0] as u8));
    } else {
        p.thread_mut().exiting = true;
    }
    Ok(0)
}

pub fn sys_exit_group(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.exit = Some(ExitStatus::Code(a[0] as u8));
    Ok(0)
}

// wait options.
const WNOHANG: u64 = 1;
const WUNTRACED: u64 = 2; // WSTOPPED for waitid
const WEXITED: u64 = 4;
const WCONTINUED: u64 = 8;
const WNOWAIT: u64 = 0x0100_0000;
const WAIT_ANY_CHILD: u64 = 0x2000_0000 | 0x4000_0000 | 0x8000_0000; // __WNOTHREAD, __WALL, __WCLONE

/// Which children a wait call is about.
#[derive(Clone, Copy)]
enum Which {
    Any,
    Pid(Pid),
    Pgid(Pid),
}

/// A child state change a wait call reports.
struct Change {
    pid: Pid,
    /// The wait4 status word.
    status: i32,
    /// waitid's si_code and si_status.
    code: i32,
    si_status: i32,
}

impl Kernel {
    /// Find (and unless `WNOWAIT`, consume) a state change of a matching child.
    /// `Ok(None)`: children exist but none changed; ECHILD: no such children.
    fn wait_change(
        &mut self,
        p: &mut Process,
        which: Which,
        opts: u64,
    ) -> Result<Option<Change>, Errno> {
        let matches = |c: &Process| {
            c.ppid == p.pid
                && match which {
                    Which::Any => true,
                    Which::Pid(pid) => c.pid == pid,
                    Which::Pgid(g) => c.pgid == g,
                }
        };
        let children: Vec<Pid> = self
            .procs
            .values()
            .filter(|c| matches(c))
            .map(|c| c.pid)
            .collect();
        if children.is_empty() {
            return Err(Errno::ECHILD);
        }
        for pid in children {
            let c = self.procs.get_mut(&pid).unwrap();
            match c.state {
                State::Zombie(st) if opts & WEXITED != 0 => {
                    let (code, si_status) = match st {
                        ExitStatus::Code(n) => (signal::CLD_EXITED, n as i32),
                        ExitStatus::Signal(s)
                            if signal::default_action(s) == signal::DefaultAction::Core =>
                        {
                            (signal::CLD_DUMPED, s as i32)
                        }
                        ExitStatus::Signal(s) => (signal::CLD_KILLED, s as i32),
                    };
                    if opts & WNOWAIT == 0 {
                        let c = self.procs.remove(&pid).unwrap();
                        p.children_instret += c.instret + c.children_instret;
                    }
                    return Ok(Some(Change {
                        pid,
                        status: st.wait_status(),
                        code,
                        si_status,
                    }));
                }
                State::Stopped {
                    sig,
                    reported: false,
                } if opts & WUNTRACED != 0 => {
                    if opts & WNOWAIT == 0 {
                        c.state = State::Stopped {
                            sig,
                            reported: true,
                        };
                    }
                    return Ok(Some(Change {
                        pid,
                        status: ((sig as i32) << 8) | 0x7f,
                        code: signal::CLD_STOPPED,
                        si_status: sig as i32,
                    }));
                }
                State::Running if c.continued && opts & WCONTINUED != 0 => {
                    if opts & WNOWAIT == 0 {
                        c.continued = false;
                    }
                    return Ok(Some(Change {
                        pid,
                        status: 0xffff,
                        code: signal::CLD_CONTINUED,
                        si_status: signal::SIGCONT as i32,
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

/// sizeof(struct rusage) on 64-bit Linux.
const RUSAGE_SIZE: usize = 144;

/// A struct rusage with only the user CPU time filled in, estimated from instructions
/// retired (friscy does not account the rest).
pub fn rusage_bytes(instret: u64) -> [u8; RUSAGE_SIZE] {
    let mut b = [0u8; RUSAGE_SIZE];
    // Roughly 100 million guest instructions per second.
    let usec = instret / 100;
    b[0..8].copy_from_slice(&(usec / 1_000_000).to_le_bytes());
    b[8..16].copy_from_slice(&(usec % 1_000_000).to_le_bytes());
    b
}

pub fn sys_wait4(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pid, wstatus, opts, rusage) = (a[0] as i32, a[1], a[2], a[3]);
    if opts & !(WNOHANG | WUNTRACED | WCONTINUED | WAIT_ANY_CHILD) != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match pid {
        // -INT_MIN names no group (Linux's kernel_wait4 refuses it the same way).
        i32::MIN => return Err(Errno::ESRCH),
        -1 => Which::Any,
        0 => Which::Pgid(p.pgid),
        n if n < 0 => Which::Pgid(-n),
        n => Which::Pid(n),
    };
    match k.wait_change(p, which, opts | WEXITED)? {
        Some(ch) => {
            if wstatus != 0 {
                k.write_user(p, wstatus, &ch.status.to_le_bytes())?;
            }
            if rusage != 0 {
                k.write_user(p, rusage, &rusage_bytes(0))?;
            }
            Ok(ch.pid as u64)
        }
        None if opts & WNOHANG != 0 => Ok(0),
        None => k.park(p, Wake::Event, None, true),
    }
}

pub fn sys_waitid(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (idtype, id, infop, opts, rusage) = (a[0], a[1] as i32, a[2], a[3], a[4]);
    if opts & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WAIT_ANY_CHILD) != 0
        || opts & (WUNTRACED | WEXITED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        0 => Which::Any,                     // P_ALL
        1 if id > 0 => Which::Pid(id),       // P_PID
        2 if id == 0 => Which::Pgid(p.pgid), // P_PGID
        2 if id > 0 => Which::Pgid(id),
        3 => Which::Pid(super::pidfd::pid_of(p, id)?), // P_PIDFD
        _ => return Err(Errno::EINVAL),
    };
    match k.wait_change(p, which, opts)? {
        Some(ch) => {
            if infop != 0 {
                let info = SigInfo {
                    signo: signal::SIGCHLD,
                    code: ch.code,
                    pid: ch.pid,
                    status: ch.si_status,
                    ..SigInfo::default()
                };
                k.write_user(p, infop, &info.encode())?;
            }
            if rusage != 0 {
                k.write_user(p, rusage, &rusage_bytes(0))?;
            }
            Ok(0)
        }
        None if opts & WNOHANG != 0 => {
            if infop != 0 {
                k.write_user(p, infop, &[0u8; signal::SIGINFO_SIZE])?;
            }
            Ok(0)
        }
        None => k.park(p, Wake::Event, None, true),
    }
}

pub fn sys_set_tid_address(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.thread_mut().clear_child_tid = a[0];
    Ok(p.tid() as u64)
}

pub fn sys_set_robust_list(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    // sizeof(struct robust_list_head) on 64-bit.
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    p.thread_mut().robust_list = (a[0], a[1]);
    Ok(0)
}

pub fn sys_get_robust_list(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let tid = a[0] as i32;
    let (head, len) = if tid == 0 || tid == p.tid() {
        p.thread().robust_list
    } else {
        p.threads
            .iter()
            .find(|t| t.tid == tid)
            .map(|t| t.robust_list)
            .ok_or(Errno::ESRCH)?
    };
    k.write_u64(p, a[1], head)?;
    k.write_u64(p, a[2], len)?;
    Ok(0)
}

pub fn sys_getpid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.pid as u64)
}

pub fn sys_gettid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.tid() as u64)
}

pub fn sys_getppid(_k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ppid as u64)
}

pub fn sys_setpgid(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pid, pgid) = (a[0] as i32, a[1] as i32);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let target = if pid == 0 { p.pid } else { pid };
    let pgid = if pgid == 0 { target } else { pgid };
    let (sid, is_leader) = (p.sid, target == p.sid);
    if target == p.pid {
        if is_leader {
            return Err(Errno::EPERM);
        }
        p.pgid = pgid;
        return Ok(0);
    }
    let c = k.procs.get_mut(&target).ok_or(Errno::ESRCH)?;
    if c.ppid != p.pid || c.is_zombie() {
        return Err(Errno::ESRCH);
    }
    if c.sid != sid || c.pid == c.sid {
        return Err(Errno::EPERM);
    }
    c.pgid = pgid;
    Ok(0)
}

impl Kernel {
    fn process_field(&self, p: &Process, pid: Pid, f: fn(&Process) -> Pid) -> SysResult {
        if pid == 0 || pid == p.pid {
            return Ok(f(p) as u64);
        }
        match self.procs.get(&pid) {
            Some(c) if !c.is_zombie() => Ok(f(c) as u64),
            _ => Err(Errno::ESRCH),
        }
    }
}

pub fn sys_getpgid(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    k.process_field(p, a[0] as i32, |p| p.pgid)
}

pub fn sys_getsid(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    k.process_field(p, a[0] as i32, |p| p.sid)
}

pub fn sys_setsid(k: &mut Kernel, p: &mut Process, _a: Args) -> SysResult {
    // A process group leader cannot start a session (its group would be split).
    if p.pgid == p.pid || k.procs.values().any(|c| c.pgid == p.pid) {
        return Err(Errno::EPERM);
    }
    p.sid = p.pid;
    p.pgid = p.pid;
    // A new session starts without a controlling terminal.
    p.ctty = None;
    Ok(p.pid as u64)
}

/// unshare(2). A process that is one thread shares nothing that CLONE_FS, CLONE_FILES,
/// CLONE_VM, CLONE_SIGHAND or CLONE_THREAD could part, so those succeed doing nothing (as
/// on Linux); CLONE_SYSVSEM drops its semaphore undo list, applying it (exit_sem). With
/// other threads, friscy keeps one working directory, descriptor table and undo list per
/// process, so parting them is EINVAL (logged when tracing). New namespaces are EPERM,
/// as clone's (friscy has one of each).
pub fn sys_unshare(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const CLONE_NEWTIME: u64 = 0x80;
    const CLONE_FS: u64 = 0x200;
    const CLONE_FILES: u64 = 0x400;
    const CLONE_SYSVSEM: u64 = 0x4_0000;
    let flags = a[0];
    let known = CLONE_THREAD
        | CLONE_FS
        | CLONE_SIGHAND
        | CLONE_VM
        | CLONE_FILES
        | CLONE_SYSVSEM
        | CLONE_NEW_ANY
        | CLONE_NEWTIME;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let alone = p.threads.len() == 1;
    // check_unshare_flags(): a thread group, shared handlers or memory cannot be left.
    if flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) != 0 && !alone {
        return Err(Errno::EINVAL);
    }
    if flags & (CLONE_NEW_ANY | CLONE_NEWTIME) != 0 {
        if k.trace {
            k.report("unshare: new namespaces are not supported (EPERM)");
        }
        return Err(Errno::EPERM);
    }
    if flags & (CLONE_FS | CLONE_FILES | CLONE_SYSVSEM) != 0 && !alone {
        if k.trace {
            k.report(
                "unshare: a thread's own working directory, descriptors or undo list are not supported",
            );
        }
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_SYSVSEM != 0 {
        k.sem_exit(p.pid);
    }
    Ok(0)
}

pub fn sys_sched_yield(k: &mut Kernel, _p: &mut Process, _a: Args) -> SysResult {
    k.yield_now = true;
    Ok(0)
}

/// The thread sched_{get,set}affinity name: 0 for the caller, else a thread id of a live
/// process (ESRCH otherwise, -1 included: find_task_by_vpid).
fn affinity_target(k: &Kernel, p: &Process, tid: u64) -> Result<(), Errno> {
    let tid = tid as i32;
    let live = |q: &Process| !q.is_zombie() && q.threads.iter().any(|t| t.tid == tid);
    if tid == 0 || live(p) || k.procs.values().any(live) {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

/// friscy runs every thread on one CPU.
pub fn sys_sched_getaffinity(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (len, mask) = (a[1] as usize, a[2]);
    affinity_target(k, p, a[0])?;
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; 8];
    bytes[0] = 1;
    k.write_user(p, mask, &bytes)?;
    Ok(8)
}

pub fn sys_sched_setaffinity(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (len, mask) = (a[1] as usize, a[2]);
    affinity_target(k, p, a[0])?;
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let first = k.read_user(p, mask, 1)?;
    if first[0] & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

const RLIM_INFINITY: u64 = u64::MAX;
const RLIMIT_NLIMITS: usize = 16;

/// The default (soft, hard) limits, as a fresh Linux login shell sees them.
fn default_limit(resource: usize) -> (u64, u64) {
    match resource {
        3 => (crate::mm::STACK_SIZE, RLIM_INFINITY), // RLIMIT_STACK
        4 => (0, RLIM_INFINITY),                     // RLIMIT_CORE
        7 => crate::limits::DEFAULT_NOFILE,          // RLIMIT_NOFILE
        8 => (8 << 20, 8 << 20),                     // RLIMIT_MEMLOCK
        13 | 14 => (0, 0),                           // RLIMIT_NICE, RLIMIT_RTPRIO
        _ => (RLIM_INFINITY, RLIM_INFINITY),
    }
}

impl Kernel {
    pub(crate) fn limits(&self, p: &Process, resource: u64) -> Result<(u64, u64), Errno> {
        let r = resource as usize;
        if r >= RLIMIT_NLIMITS {
            return Err(Errno::EINVAL);
        }
        Ok(p.rlimits[r].unwrap_or_else(|| default_limit(r)))
    }

    fn set_limits(&mut self, p: &mut Process, resource: u64, new: (u64, u64)) -> Result<(), Errno> {
        let old = self.limits(p, resource)?;
        if new.0 > new.1 {
            return Err(Errno::EINVAL);
        }
        if resource as usize == RLIMIT_NOFILE {
            // setrlimit(2): EPERM past fs.nr_open. Raising the hard limit needs
            // CAP_SYS_RESOURCE, which docker does not grant: the container's hard limit
            // (--ulimit nofile=, FRISCY_NOFILE) is a ceiling.
            if new.1 > crate::limits::NR_OPEN || new.1 > old.1.max(self.limits.nofile.1) {
                return Err(Errno::EPERM);
            }
            p.fds.set_limit(new.0);
        } else if new.1 > old.1 && !p.creds.capable(crate::creds::cap::SYS_RESOURCE) {
            // do_prlimit(): raising a hard limit needs CAP_SYS_RESOURCE, which the
            // container's root does not have (creds.rs).
            return Err(Errno::EPERM);
        }
        p.rlimits[resource as usize] = Some(new);
        Ok(())
    }
}

pub fn sys_prlimit64(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (pid, resource, new, old) = (a[0] as i32, a[1], a[2], a[3]);
    if pid != 0 && pid != p.pid {
        return Err(Errno::ESRCH);
    }
    let current = k.limits(p, resource)?;
    if new != 0 {
        let soft = k.read_u64(p, new)?;
        let hard = k.read_u64(p, new + 8)?;
        k.set_limits(p, resource, (soft, hard))?;
    }
    if old != 0 {
        k.write_u64(p, old, current.0)?;
        k.write_u64(p, old + 8, current.1)?;
    }
    Ok(0)
}

pub fn sys_getrlimit(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    sys_prlimit64(k, p, [0, a[0], 0, a[1], 0, 0])
}

pub fn sys_setrlimit(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    sys_prlimit64(k, p, [0, a[0], a[1], 0, 0, 0])
}

/// personality(2): the execution domain and its flags (ADDR_NO_RANDOMIZE,
/// READ_IMPLIES_EXEC...), kept per process, inherited by fork and execve and shown in
/// /proc/PID/personality; 0xffffffff only asks. The old value is returned. friscy
/// lays out memory the same whatever the flags (it does not randomise addresses), as a
/// kernel with randomisation off would.
pub fn sys_personality(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let old = p.personality;
    if a[0] as u32 != 0xffff_ffff {
        p.personality = a[0] as u32;
    }
    Ok(old as u64)
}
