//! The syscall table: one line per riscv64 (asm-generic) number, with its handler and how
//! completely friscy implements it. A number not listed returns ENOSYS (logged once per
//! number when tracing).

use super::{
    Args, SysResult, attr, creds, descriptors, epoll, fs, futex, hwprobe, icache, info, inotify,
    lock, membarrier, memfd, mm, names, pidfd, poll, posix_timer, process, process_vm, remap,
    sched, signal, signalfd, socket, splice, stat, sync, sysv_msg, sysv_sem, sysv_shm, time,
    timerfd, transfer, usage, xattr,
};
use crate::{Kernel, Process};

/// How well a syscall is supported (after gVisor's support table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Implemented with a documented limitation.
    Partial(&'static str),
    /// Known, deliberately returns ENOSYS (callers have a fallback).
    Unsupported(&'static str),
}

macro_rules! syscall_table {
    ($($nr:literal $name:ident => $handler:expr, $support:expr;)*) => {
        /// The Linux name of a syscall number.
        pub fn name(nr: u64) -> Option<&'static str> {
            match nr { $($nr => Some(stringify!($name)),)* _ => None }
        }
        /// How well a syscall number is supported; `None` for numbers not in the table.
        pub fn support(nr: u64) -> Option<Support> {
            use Support::*;
            match nr { $($nr => Some($support),)* _ => None }
        }
        /// Run the handler; `None` when there is none (the caller returns ENOSYS).
        pub(super) fn call(k: &mut Kernel, p: &mut Process, nr: u64, a: Args) -> Option<SysResult> {
            let handler: Option<fn(&mut Kernel, &mut Process, Args) -> SysResult> = match nr {
                $($nr => $handler,)*
                _ => None,
            };
            handler.map(|h| h(k, p, a))
        }
    };
}

syscall_table! {
    5   setxattr => Some(xattr::sys_setxattr), Partial("no filesystem keeps attributes: EOPNOTSUPP after Linux's argument checks");
    6   lsetxattr => Some(xattr::sys_lsetxattr), Partial("as setxattr");
    7   fsetxattr => Some(xattr::sys_fsetxattr), Partial("as setxattr");
    8   getxattr => Some(xattr::sys_getxattr), Partial("as setxattr");
    9   lgetxattr => Some(xattr::sys_lgetxattr), Partial("as setxattr");
    10  fgetxattr => Some(xattr::sys_fgetxattr), Partial("as setxattr");
    11  listxattr => Some(xattr::sys_listxattr), Partial("an empty list: no filesystem keeps attributes");
    12  llistxattr => Some(xattr::sys_llistxattr), Partial("as listxattr");
    13  flistxattr => Some(xattr::sys_flistxattr), Partial("as listxattr");
    14  removexattr => Some(xattr::sys_removexattr), Partial("as setxattr");
    15  lremovexattr => Some(xattr::sys_lremovexattr), Partial("as setxattr");
    16  fremovexattr => Some(xattr::sys_fremovexattr), Partial("as setxattr");
    17  getcwd => Some(fs::sys_getcwd), Full;
    19  eventfd2 => Some(epoll::sys_eventfd2), Full;
    20  epoll_create1 => Some(epoll::sys_epoll_create1), Full;
    21  epoll_ctl => Some(epoll::sys_epoll_ctl), Partial("EPOLLET: IP sockets are not reported again for data that arrives before a drain (docs/ARCHITECTURE.md)");
    22  epoll_pwait => Some(epoll::sys_epoll_pwait), Partial("as epoll_ctl");
    23  dup => Some(fs::sys_dup), Full;
    24  dup3 => Some(fs::sys_dup3), Full;
    25  fcntl => Some(fs::sys_fcntl), Partial("F_DUPFD*, F_GETFD/SETFD, F_GETFL/SETFL, record and OFD locks, F_GETPIPE_SZ/SETPIPE_SZ, signal-driven I/O (F_SETOWN*, F_SETSIG: on readiness gained or new data, looked at when a process runs); no leases, F_NOTIFY or seals (EINVAL); F_SETLKW gets EDEADLK only when no one else could release the lock (no cycle detection across processes)");
    26  inotify_init1 => Some(inotify::sys_inotify_init1), Partial("no events for changes made on the host to -v mounts; IN_DELETE_SELF when the last name goes, open or not; IN_EXCL_UNLINK ignored");
    27  inotify_add_watch => Some(inotify::sys_inotify_add_watch), Partial("as inotify_init1");
    28  inotify_rm_watch => Some(inotify::sys_inotify_rm_watch), Full;
    29  ioctl => Some(fs::sys_ioctl), Partial("FIOCLEX/FIONCLEX, FIONBIO, FIOASYNC, FIONREAD; terminals (tty.rs): termios, window size, controlling tty and job control, pty masters; no TIOCPKT, modem lines or TIOCL*");
    32  flock => Some(lock::sys_flock), Partial("a wait only the caller itself could end fails with EDEADLK instead of hanging");
    33  mknodat => Some(names::sys_mknodat), Full;
    30  ioprio_set => Some(sched::sys_ioprio_set), Partial("recorded and reported, per process; I/O is not scheduled");
    31  ioprio_get => Some(sched::sys_ioprio_get), Full;
    34  mkdirat => Some(fs::sys_mkdirat), Full;
    35  unlinkat => Some(fs::sys_unlinkat), Full;
    36  symlinkat => Some(names::sys_symlinkat), Full;
    37  linkat => Some(names::sys_linkat), Full;
    43  statfs => Some(stat::sys_statfs), Partial("host mounts report no sizes; the root reports the writable layer's");
    44  fstatfs => Some(stat::sys_fstatfs), Partial("host mounts report no sizes; the root reports the writable layer's");
    45  truncate => Some(attr::sys_truncate), Full;
    46  ftruncate => Some(attr::sys_ftruncate), Full;
    47  fallocate => Some(attr::sys_fallocate), Partial("no COLLAPSE_RANGE/INSERT_RANGE (EOPNOTSUPP, as tmpfs)");
    48  faccessat => Some(fs::sys_faccessat), Full;
    49  chdir => Some(fs::sys_chdir), Full;
    50  fchdir => Some(fs::sys_fchdir), Full;
    51  chroot => Some(fs::sys_chroot), Partial("not into /proc");
    52  fchmod => Some(attr::sys_fchmod), Full;
    53  fchmodat => Some(attr::sys_fchmodat), Full;
    54  fchownat => Some(attr::sys_fchownat), Full;
    55  fchown => Some(attr::sys_fchown), Full;
    56  openat => Some(fs::sys_openat), Partial("no O_TMPFILE");
    57  close => Some(fs::sys_close), Full;
    59  pipe2 => Some(poll::sys_pipe2), Full;
    61  getdents64 => Some(fs::sys_getdents64), Full;
    62  lseek => Some(fs::sys_lseek), Partial("no SEEK_DATA/SEEK_HOLE");
    63  read => Some(fs::sys_read), Full;
    64  write => Some(fs::sys_write), Full;
    65  readv => Some(fs::sys_readv), Full;
    66  writev => Some(fs::sys_writev), Full;
    67  pread64 => Some(fs::sys_pread64), Full;
    68  pwrite64 => Some(fs::sys_pwrite64), Full;
    69  preadv => Some(transfer::sys_preadv), Full;
    70  pwritev => Some(transfer::sys_pwritev), Full;
    71  sendfile => Some(splice::sys_sendfile), Full;
    72  pselect6 => Some(poll::sys_pselect6), Partial("the timeout is not updated");
    73  ppoll => Some(poll::sys_ppoll), Full;
    74  signalfd4 => Some(signalfd::sys_signalfd4), Full;
    75  vmsplice => Some(splice::sys_vmsplice), Partial("copies: no page gifting (SPLICE_F_GIFT is a hint)");
    76  splice => Some(splice::sys_splice), Partial("copies through the kernel; datagram sockets as a source are EINVAL");
    77  tee => Some(splice::sys_tee), Full;
    78  readlinkat => Some(fs::sys_readlinkat), Full;
    79  newfstatat => Some(stat::sys_newfstatat), Full;
    80  fstat => Some(stat::sys_fstat), Full;
    81  sync => Some(sync::sys_sync), Full;
    82  fsync => Some(sync::sys_fsync), Full;
    83  fdatasync => Some(sync::sys_fdatasync), Full;
    84  sync_file_range => Some(sync::sys_sync_file_range), Full;
    85  timerfd_create => Some(timerfd::sys_timerfd_create), Full;
    86  timerfd_settime => Some(timerfd::sys_timerfd_settime), Partial("the wall clock cannot be set, so TFD_TIMER_CANCEL_ON_SET never cancels");
    87  timerfd_gettime => Some(timerfd::sys_timerfd_gettime), Full;
    88  utimensat => Some(attr::sys_utimensat), Full;
    90  capget => Some(creds::sys_capget), Partial("credentials are per process, not per thread");
    91  capset => Some(creds::sys_capset), Partial("the caller's process, not only its thread; no file capabilities");
    92  personality => Some(process::sys_personality), Full;
    93  exit => Some(process::sys_exit), Full;
    94  exit_group => Some(process::sys_exit_group), Full;
    95  waitid => Some(process::sys_waitid), Partial("no rusage beyond user time");
    96  set_tid_address => Some(process::sys_set_tid_address), Full;
    97  unshare => Some(process::sys_unshare), Partial("only what a lone thread shares (nothing to part); no namespaces (EPERM)");
    98  futex => Some(futex::sys_futex), Partial("no priority-inheritance ops");
    99  set_robust_list => Some(process::sys_set_robust_list), Partial("recorded; not walked at thread death");
    100 get_robust_list => Some(process::sys_get_robust_list), Full;
    101 nanosleep => Some(time::sys_nanosleep), Full;
    102 getitimer => Some(signal::sys_getitimer), Partial("ITIMER_VIRTUAL and ITIMER_PROF count CPU time as getrusage does: instructions at 100 per microsecond");
    103 setitimer => Some(signal::sys_setitimer), Partial("ITIMER_VIRTUAL and ITIMER_PROF count CPU time as getrusage does: instructions at 100 per microsecond");
    107 timer_create => Some(posix_timer::sys_timer_create), Partial("CPU-time clocks count instructions (100 per microsecond); not another process's CPU clock");
    108 timer_gettime => Some(posix_timer::sys_timer_gettime), Full;
    109 timer_getoverrun => Some(posix_timer::sys_timer_getoverrun), Full;
    110 timer_settime => Some(posix_timer::sys_timer_settime), Full;
    111 timer_delete => Some(posix_timer::sys_timer_delete), Full;
    112 clock_settime => Some(time::sys_clock_settime), Partial("EPERM: a container cannot set the clock (no CAP_SYS_TIME)");
    113 clock_gettime => Some(time::sys_clock_gettime), Full;
    114 clock_getres => Some(time::sys_clock_getres), Full;
    115 clock_nanosleep => Some(time::sys_clock_nanosleep), Partial("TIMER_ABSTIME on realtime and monotonic");
    116 syslog => Some(info::sys_syslog), Partial("EPERM: a container may not read the kernel log (no CAP_SYSLOG)");
    118 sched_setparam => Some(sched::sys_sched_setparam), Partial("recorded and reported, per process; every thread runs alike");
    119 sched_setscheduler => Some(sched::sys_sched_setscheduler), Partial("recorded and reported, per process; every thread runs alike");
    120 sched_getscheduler => Some(sched::sys_sched_getscheduler), Full;
    121 sched_getparam => Some(sched::sys_sched_getparam), Full;
    122 sched_setaffinity => Some(process::sys_sched_setaffinity), Full;
    123 sched_getaffinity => Some(process::sys_sched_getaffinity), Full;
    124 sched_yield => Some(process::sys_sched_yield), Full;
    125 sched_get_priority_max => Some(sched::sys_sched_get_priority_max), Full;
    126 sched_get_priority_min => Some(sched::sys_sched_get_priority_min), Full;
    127 sched_rr_get_interval => Some(sched::sys_sched_rr_get_interval), Full;
    129 kill => Some(signal::sys_kill), Full;
    130 tkill => Some(signal::sys_tkill), Full;
    131 tgkill => Some(signal::sys_tgkill), Full;
    132 sigaltstack => Some(signal::sys_sigaltstack), Full;
    133 rt_sigsuspend => Some(signal::sys_rt_sigsuspend), Full;
    134 rt_sigaction => Some(signal::sys_rt_sigaction), Full;
    135 rt_sigprocmask => Some(signal::sys_rt_sigprocmask), Full;
    136 rt_sigpending => Some(signal::sys_rt_sigpending), Full;
    137 rt_sigtimedwait => Some(signal::sys_rt_sigtimedwait), Full;
    138 rt_sigqueueinfo => Some(signal::sys_rt_sigqueueinfo), Full;
    139 rt_sigreturn => Some(signal::sys_rt_sigreturn), Full;
    140 setpriority => Some(sched::sys_setpriority), Partial("recorded and reported, per process; every thread runs alike");
    141 getpriority => Some(sched::sys_getpriority), Full;
    143 setregid => Some(creds::sys_setregid), Full;
    144 setgid => Some(creds::sys_setgid), Full;
    145 setreuid => Some(creds::sys_setreuid), Full;
    146 setuid => Some(creds::sys_setuid), Partial("per process, not per thread (libcs change every thread anyway)");
    147 setresuid => Some(creds::sys_setresuid), Full;
    148 getresuid => Some(creds::sys_getresuid), Full;
    149 setresgid => Some(creds::sys_setresgid), Full;
    150 getresgid => Some(creds::sys_getresgid), Full;
    151 setfsuid => Some(creds::sys_setfsuid), Full;
    152 setfsgid => Some(creds::sys_setfsgid), Full;
    153 times => Some(usage::sys_times), Partial("user time estimated from instructions retired; no system time");
    154 setpgid => Some(process::sys_setpgid), Full;
    155 getpgid => Some(process::sys_getpgid), Full;
    156 getsid => Some(process::sys_getsid), Full;
    157 setsid => Some(process::sys_setsid), Full;
    158 getgroups => Some(creds::sys_getgroups), Full;
    159 setgroups => Some(creds::sys_setgroups), Full;
    160 uname => Some(info::sys_uname), Full;
    161 sethostname => Some(info::sys_sethostname), Full;
    162 setdomainname => Some(info::sys_setdomainname), Full;
    163 getrlimit => Some(process::sys_getrlimit), Full;
    164 setrlimit => Some(process::sys_setrlimit), Full;
    165 getrusage => Some(usage::sys_getrusage), Partial("user time estimated from instructions retired; maxrss is the mapped size");
    166 umask => Some(fs::sys_umask), Full;
    167 prctl => Some(creds::sys_prctl), Partial("credentials (PR_[GS]ET_KEEPCAPS, PR_[GS]ET_SECUREBITS, PR_CAPBSET_READ/DROP, PR_CAP_AMBIENT, PR_[GS]ET_NO_NEW_PRIVS), PR_[GS]ET_PDEATHSIG, PR_[GS]ET_DUMPABLE, PR_[GS]ET_NAME; other options EINVAL");
    168 getcpu => Some(sched::sys_getcpu), Full;
    169 gettimeofday => Some(time::sys_gettimeofday), Full;
    170 settimeofday => Some(time::sys_settimeofday), Partial("EPERM: a container cannot set the clock (no CAP_SYS_TIME)");
    172 getpid => Some(process::sys_getpid), Full;
    173 getppid => Some(process::sys_getppid), Full;
    174 getuid => Some(creds::sys_getuid), Full;
    175 geteuid => Some(creds::sys_geteuid), Full;
    176 getgid => Some(creds::sys_getgid), Full;
    177 getegid => Some(creds::sys_getegid), Full;
    178 gettid => Some(process::sys_gettid), Full;
    179 sysinfo => Some(info::sys_sysinfo), Full;
    186 msgget => Some(sysv_msg::sys_msgget), Full;
    187 msgctl => Some(sysv_msg::sys_msgctl), Full;
    188 msgrcv => Some(sysv_msg::sys_msgrcv), Partial("no MSG_COPY (ENOSYS, as a kernel without CONFIG_CHECKPOINT_RESTORE)");
    189 msgsnd => Some(sysv_msg::sys_msgsnd), Full;
    190 semget => Some(sysv_sem::sys_semget), Full;
    191 semctl => Some(sysv_sem::sys_semctl), Full;
    192 semtimedop => Some(sysv_sem::sys_semtimedop), Full;
    193 semop => Some(sysv_sem::sys_semop), Full;
    194 shmget => Some(sysv_shm::sys_shmget), Full;
    195 shmctl => Some(sysv_shm::sys_shmctl), Partial("SHM_LOCK and SHM_UNLOCK are recorded only (nothing is swapped)");
    196 shmat => Some(sysv_shm::sys_shmat), Full;
    197 shmdt => Some(sysv_shm::sys_shmdt), Full;
    198 socket => Some(socket::sys_socket), Partial("AF_UNIX in the kernel; AF_INET/AF_INET6 TCP and UDP through the net backend; AF_NETLINK route queries answered for lo (netlink.rs); no raw or packet sockets");
    199 socketpair => Some(socket::sys_socketpair), Full;
    200 bind => Some(socket::sys_bind), Full;
    201 listen => Some(socket::sys_listen), Full;
    202 accept => Some(socket::sys_accept), Full;
    203 connect => Some(socket::sys_connect), Full;
    204 getsockname => Some(socket::sys_getsockname), Full;
    205 getpeername => Some(socket::sys_getpeername), Full;
    206 sendto => Some(socket::sys_sendto), Partial("no MSG_OOB");
    207 recvfrom => Some(socket::sys_recvfrom), Partial("no MSG_OOB; MSG_WAITALL returns what is there");
    208 setsockopt => Some(socket::sys_setsockopt), Partial("options without an observable effect (SO_LINGER, IP_TOS, TCP tuning...) are stored and read back");
    209 getsockopt => Some(socket::sys_getsockopt), Full;
    210 shutdown => Some(socket::sys_shutdown), Full;
    211 sendmsg => Some(socket::sys_sendmsg), Partial("control messages: SCM_RIGHTS, SCM_CREDENTIALS");
    212 recvmsg => Some(socket::sys_recvmsg), Partial("control messages: SCM_RIGHTS, SCM_CREDENTIALS (with SO_PASSCRED)");
    213 readahead => Some(sync::sys_readahead), Full;
    214 brk => Some(mm::sys_brk), Full;
    215 munmap => Some(mm::sys_munmap), Full;
    216 mremap => Some(remap::sys_mremap), Partial("a MAP_SHARED mapping cannot be moved or grown (ENOMEM)");
    220 clone => Some(process::sys_clone), Partial("CLONE_VM only with CLONE_THREAD or CLONE_VFORK; no namespaces");
    221 execve => Some(process::sys_execve), Full;
    222 mmap => Some(mm::sys_mmap), Partial("a shared file mapping's pages reach the file on msync, munmap and exit (read(2) sees them at once); ftruncate does not take pages past a mapped file's new end away (no SIGBUS)");
    223 fadvise64 => Some(sync::sys_fadvise64), Full;
    226 mprotect => Some(mm::sys_mprotect), Full;
    227 msync => Some(remap::sys_msync), Full;
    228 mlock => Some(mm::sys_mlock), Partial("pages are never swapped, so locking changes nothing; RLIMIT_MEMLOCK is checked per call, not summed");
    229 munlock => Some(mm::sys_munlock), Full;
    230 mlockall => Some(mm::sys_mlockall), Partial("as mlock");
    231 munlockall => Some(mm::sys_munlockall), Full;
    232 mincore => Some(mm::sys_mincore), Partial("every mapped page is reported resident");
    233 madvise => Some(mm::sys_madvise), Partial("advice only; MADV_DONTNEED zeroes private pages");
    240 rt_tgsigqueueinfo => Some(signal::sys_rt_tgsigqueueinfo), Full;
    242 accept4 => Some(socket::sys_accept4), Full;
    243 recvmmsg => Some(socket::sys_recvmmsg), Partial("the timeout also bounds the waits (Linux looks at it only after each message)");
    258 riscv_hwprobe => Some(hwprobe::sys_riscv_hwprobe), Full;
    259 riscv_flush_icache => Some(icache::sys_riscv_flush_icache), Full;
    260 wait4 => Some(process::sys_wait4), Partial("rusage is zero");
    261 prlimit64 => Some(process::sys_prlimit64), Partial("own process only");
    267 syncfs => Some(sync::sys_syncfs), Full;
    269 sendmmsg => Some(socket::sys_sendmmsg), Full;
    270 process_vm_readv => Some(process_vm::sys_process_vm_readv), Full;
    271 process_vm_writev => Some(process_vm::sys_process_vm_writev), Full;
    274 sched_setattr => Some(sched::sys_sched_setattr), Partial("no SCHED_DEADLINE or utilisation clamps; recorded and reported, per process");
    275 sched_getattr => Some(sched::sys_sched_getattr), Full;
    276 renameat2 => Some(names::sys_renameat2), Partial("no RENAME_WHITEOUT (EINVAL)");
    278 getrandom => Some(info::sys_getrandom), Full;
    279 memfd_create => Some(memfd::sys_memfd_create), Partial("no sealing (F_ADD_SEALS, F_GET_SEALS are EINVAL); no MFD_HUGETLB (ENOENT)");
    281 execveat => Some(process::sys_execveat), Full;
    283 membarrier => Some(membarrier::sys_membarrier), Partial("no RSEQ commands (no rseq)");
    284 mlock2 => Some(mm::sys_mlock2), Partial("as mlock");
    285 copy_file_range => Some(splice::sys_copy_file_range), Full;
    286 preadv2 => Some(transfer::sys_preadv2), Full;
    287 pwritev2 => Some(transfer::sys_pwritev2), Full;
    291 statx => Some(stat::sys_statx), Partial("no birth time (STATX_BTIME)");
    293 rseq => None, Unsupported("glibc falls back without restartable sequences");
    424 pidfd_send_signal => Some(pidfd::sys_pidfd_send_signal), Full;
    425 io_uring_setup => None, Unsupported("libuv (Node) and other users fall back to plain syscalls");
    434 pidfd_open => Some(pidfd::sys_pidfd_open), Partial("no PIDFD_THREAD");
    435 clone3 => Some(process::sys_clone3), Partial("as clone; no set_tid (EPERM) or CLONE_INTO_CGROUP (EBADF)");
    436 close_range => Some(descriptors::sys_close_range), Full;
    437 openat2 => Some(fs::sys_openat2), Partial("RESOLVE_NO_XDEV sees the image, /proc and host mounts as the only mounts; RESOLVE_CACHED never says EAGAIN for a lookup");
    439 faccessat2 => Some(fs::sys_faccessat2), Full;
    441 epoll_pwait2 => Some(epoll::sys_epoll_pwait2), Partial("as epoll_ctl");
    452 fchmodat2 => Some(attr::sys_fchmodat2), Full;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_asm_generic_numbers() {
        assert_eq!(name(56), Some("openat"));
        assert_eq!(name(64), Some("write"));
        assert_eq!(name(94), Some("exit_group"));
        assert_eq!(name(222), Some("mmap"));
        assert_eq!(name(9999), None);
        assert!(matches!(support(293), Some(Support::Unsupported(_))));
    }
}
