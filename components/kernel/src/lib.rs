//! friscy's kernel: the Linux personality that turns an RV64GC machine (exec) and a
//! filesystem (vfs) into a place where unmodified Linux riscv64 programs run.
//!
//! The kernel drives: it loads a program, resumes its hart with `run(budget)`, and services
//! each `ecall` by reading and writing guest memory through the machine interface. exec,
//! vfs and the host are reached through traits, implemented either by direct calls (the
//! fused build and native tests) or over WIT imports (the composed component).

mod aot;
pub mod creds;
pub mod devfs;
mod dns;
pub mod elf;
pub mod fd;
pub mod host;
pub mod host_dir;
pub mod image;
pub mod inotify;
pub mod ipc;
pub mod limits;
pub mod loader;
pub mod mm;
pub mod mounts;
mod namei;
pub mod netlink;
pub mod pagecache;
mod perm;
pub mod pipe;
pub mod process;
pub mod procfs;
pub mod sched;
pub mod shm;
pub mod signal;
pub mod socket;
pub mod syscalls;
pub mod tty;
pub mod users;

#[cfg(any(feature = "component", feature = "fused", feature = "browser"))]
mod bindings;
pub mod persist;
#[cfg(any(feature = "component", feature = "fused", feature = "browser"))]
mod wasi_dir;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use friscy_exec::{Machine, SpaceId};
use friscy_vfs::{Fs, Ino};

pub use creds::Creds;
pub use host::{ConsoleEvent, ConsoleMode, Host, Stdio};
pub use perm::ReadOnly;
pub use process::{ExitStatus, Pid, Process};

use fd::{FdEntry, FdTable, FileKind, new_file};

/// PATH when neither the image nor the user sets one (Docker's default).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a futex is known by: its address in one address space (private futexes, and
/// shared ones in private memory), or its offset in a shared memory object, where waiters
/// from different processes meet (get_futex_key in Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FutexKey {
    Private(SpaceId, u64),
    /// (object, offset): see shm.rs.
    Shared(u64, u64),
}

/// A thread waiting in FUTEX_WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FutexWaiter {
    pub pid: Pid,
    pub tid: Pid,
    pub bitset: u32,
}

pub struct Kernel {
    pub machine: Box<dyn Machine>,
    pub fs: Box<dyn Fs>,
    /// inotify's watches (inotify.rs): `fs` reports its changes to them.
    pub inotify: inotify::RegistryRef,
    pub host: Box<dyn Host>,
    /// Print every syscall (strace-like) and unsupported ones, on the host's diagnostics.
    pub trace: bool,
    /// Syscall numbers already reported as unsupported (each is logged once).
    pub(crate) enosys_seen: HashSet<u64>,
    /// Every process but the one whose thread is running (the scheduler takes that one out
    /// while its syscall is handled), zombies included until they are reaped.
    pub procs: BTreeMap<Pid, Process>,
    pub(crate) next_pid: Pid,
    /// Bumped whenever a syscall completes: threads parked on `Wake::Event` retry once it
    /// has moved past the value they parked at.
    pub progress: u64,
    /// The root directory of the process whose syscall runs now (chroot(2); None: the
    /// container's root). Path walks start absolute paths here and stop `..` at it.
    pub(crate) cur_root: Option<Ino>,
    /// openat2's RESOLVE_* restrictions while it resolves its path (namei.rs).
    pub(crate) resolve_how: Option<namei::ResolveHow>,
    /// FUTEX_WAIT queues.
    pub futexes: HashMap<FutexKey, VecDeque<FutexWaiter>>,
    /// MAP_SHARED memory objects and where they are mapped.
    pub shm: shm::SharedMemory,
    /// System V shared memory segments (syscalls/sysv_shm.rs).
    pub(crate) sysv_shm: syscalls::sysv_shm::Segments,
    /// System V semaphore sets and SEM_UNDO records (syscalls/sysv_sem.rs).
    pub(crate) sysv_sem: syscalls::sysv_sem::Semaphores,
    /// System V message queues (syscalls/sysv_msg.rs).
    pub(crate) sysv_msg: syscalls::sysv_msg::Queues,
    /// Files' pages shared copy-on-write by private mappings (pagecache.rs).
    pub page_cache: pagecache::PageCache,
    /// Input read from the host's stdin that no guest has consumed yet (poll looked ahead).
    pub stdin_buf: Vec<u8>,
    pub stdin_eof: bool,
    /// The console and pseudo-terminals (tty/).
    pub ttys: tty::Ttys,
    pub(crate) next_pipe_id: u64,
    /// The pipes of open FIFOs and the opens waiting for a partner.
    pub(crate) fifos: pipe::Fifos,
    /// The current thread asked to give up the rest of its time slice.
    pub(crate) yield_now: bool,
    /// Advisory file locks (fcntl record and OFD locks, flock).
    pub(crate) locks: syscalls::lock::LockTable,
    /// IP sockets' backend (wasi:sockets, a WebSocket relay, or none).
    pub net: Box<dyn friscy_net::Net>,
    /// Net handles of IP sockets whose last descriptor closed, to close after the syscall.
    pub(crate) net_graveyard: std::rc::Rc<std::cell::RefCell<Vec<(u32, bool)>>>,
    /// What parked threads wait for on IP sockets (handle -> read, write): the idle wait
    /// subscribes to exactly these.
    pub(crate) net_interest: BTreeMap<u32, (bool, bool)>,
    /// The net backend may hold bytes in TCP send queues (set by a send, cleared once
    /// `Net::pump` says all went): the scheduler pumps them on every round and the idle
    /// wait waits for them too.
    pub(crate) net_queued: bool,
    /// `Net::activity` at the last idle wait.
    pub(crate) net_activity: u64,
    /// /etc/resolv.conf was rewritten at start (the network is on): a runtime path,
    /// never saved in the writable layer (persist.rs).
    pub(crate) resolv_conf_written: bool,
    /// Bound AF_UNIX names (paths by inode, abstract names by bytes).
    pub(crate) unix_names:
        HashMap<socket::UnixKey, std::rc::Weak<std::cell::RefCell<socket::Socket>>>,
    /// The last autobind name handed out.
    pub(crate) unix_autobind: u32,
    /// `friscy run -p HOST:GUEST`: a guest bind to GUEST binds HOST (guest, host).
    pub port_map: Vec<(u16, u16)>,
    /// The embedded DNS responder's answers so far.
    pub(crate) dns_cache: dns::Cache,
    /// The writable layer's saving (persist.rs).
    pub(crate) layer: persist::LayerState,
    /// Content keys of files, for exec's translated code (aot.rs).
    pub(crate) file_keys: aot::FileKeys,
    /// uname's nodename (`friscy run --hostname`, FRISCY_HOSTNAME; sethostname), and its
    /// NIS domain name (setdomainname): the container's UTS namespace.
    pub hostname: Vec<u8>,
    pub domainname: Vec<u8>,
    /// Files with an owner for signal-driven I/O (syscalls/fasync.rs).
    pub(crate) fasync: Vec<syscalls::fasync::AsyncFile>,
    /// /proc/sys/kernel/random/boot_id, made at its first read.
    pub(crate) boot_id: String,
    /// The root filesystem is read-only (`friscy run --read-only`), but for these places.
    pub read_only: Option<ReadOnly>,
    /// Memory, tasks, descriptors, disk and time (limits.rs); set before `run_command`.
    pub limits: limits::Limits,
    /// When the run started (monotonic ns), for `FRISCY_TIMEOUT`.
    pub(crate) started_ns: Option<u64>,
}

impl Kernel {
    pub fn new(machine: Box<dyn Machine>, fs: Box<dyn Fs>, host: Box<dyn Host>) -> Kernel {
        let ttys = tty::Ttys::new(host.console_mode(), host.console_size());
        let inotify = inotify::RegistryRef::default();
        let fs = Box::new(inotify::Notifying::new(fs, inotify.clone()));
        let mut k = Kernel {
            machine,
            fs,
            inotify,
            host,
            trace: false,
            enosys_seen: HashSet::new(),
            procs: BTreeMap::new(),
            next_pid: 1,
            progress: 0,
            cur_root: None,
            resolve_how: None,
            futexes: HashMap::new(),
            shm: Default::default(),
            sysv_shm: Default::default(),
            sysv_sem: Default::default(),
            sysv_msg: Default::default(),
            page_cache: Default::default(),
            stdin_buf: Vec::new(),
            stdin_eof: false,
            ttys,
            next_pipe_id: 1,
            fifos: Default::default(),
            yield_now: false,
            locks: Default::default(),
            net: Box::new(friscy_net::loopback::Loopback::new()),
            net_graveyard: Default::default(),
            net_interest: BTreeMap::new(),
            net_queued: false,
            net_activity: 0,
            resolv_conf_written: false,
            unix_names: HashMap::new(),
            unix_autobind: 0,
            port_map: Vec::new(),
            dns_cache: Default::default(),
            layer: Default::default(),
            file_keys: Default::default(),
            hostname: syscalls::info::UTS_NODENAME.as_bytes().to_vec(),
            domainname: b"(none)".to_vec(),
            fasync: Vec::new(),
            boot_id: String::new(),
            read_only: None,
            limits: Default::default(),
            started_ns: None,
        };
        // Docker's /dev, made once like the tmpfs it mounts there.
        devfs::populate(&mut k);
        k
    }

    /// One line on the host's diagnostic stream, prefixed like a shell's messages.
    pub fn report(&mut self, msg: &str) {
        self.host.diagnostic(&format!("friscy: {msg}"));
    }

    /// With the network on, the guest's /etc/resolv.conf names the embedded DNS responder
    /// (dns.rs), as Docker writes its own into a container. Images without /etc are left
    /// alone.
    fn point_resolver_at_friscy(&mut self) {
        let root = self.fs.root();
        let Ok(etc) = self.fs.lookup(root, b"etc", true) else {
            return;
        };
        if let Ok(old) = self.fs.lookup(etc, b"resolv.conf", false) {
            let dir = self
                .fs
                .stat(old)
                .is_ok_and(|s| s.mode & 0o170000 == 0o040000);
            if dir || self.fs.remove(etc, b"resolv.conf", false).is_err() {
                return;
            }
        }
        if let Ok(ino) = self.fs.create(etc, b"resolv.conf", 0o100644, 0) {
            let _ = self.fs.write(ino, 0, dns::RESOLV_CONF);
        }
    }

    /// A fresh pid (also used for thread ids, as Linux does).
    pub fn alloc_pid(&mut self) -> Pid {
        let pid = self.next_pid;
        self.next_pid += 1;
        pid
    }

    /// Run a command the way `docker run IMAGE CMD...` does: find it (PATH search), load
    /// it as process 1, and run it and everything it starts until it exits. Returns the
    /// status a shell would report.
    pub fn run_command(&mut self, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> u8 {
        let root = self.fs.root();
        self.run_command_in(root, argv, envp)
    }

    /// `run_command` with process 1 starting in directory `cwd` (an image's WorkingDir).
    pub fn run_command_in(&mut self, cwd: Ino, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> u8 {
        self.run_command_as(cwd, Creds::root(), argv, envp)
    }

    /// `run_command_in` with process 1 running as `creds` (`docker run -u`, an image's
    /// User): the command is found and loaded with that user's permissions.
    pub fn run_command_as(
        &mut self,
        cwd: Ino,
        creds: Creds,
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> u8 {
        let init = match self.spawn_init(cwd, creds, argv, envp) {
            Ok(init) => init,
            Err(status) => return status,
        };
        // What the runtime made so far (/dev, resolv.conf, a restored layer) needs no save.
        self.layer_baseline();
        let status = self.run_init(init);
        self.save_layer();
        status.shell_status()
    }

    /// Load process 1 (PATH search, ELF, stdio or the console on descriptors 0-2) without
    /// running it (`run_init` does; the syscall fuzzer drives it by hand). Errors are
    /// reported and come back as the status a shell would give.
    pub fn spawn_init(
        &mut self,
        cwd: Ino,
        creds: Creds,
        argv: Vec<Vec<u8>>,
        mut envp: Vec<Vec<u8>>,
    ) -> Result<Process, u8> {
        let Some(cmd) = argv.first().cloned() else {
            self.report("no command given (usage: friscy.wasm -- /path/to/program [args...])");
            return Err(2);
        };
        if !envp.iter().any(|e| e.starts_with(b"PATH=")) {
            envp.insert(0, [b"PATH=".as_slice(), DEFAULT_PATH].concat());
        }
        if self.net.enabled() {
            self.point_resolver_at_friscy();
            self.resolv_conf_written = true;
        } else if !self.net.local() {
            // No network allowed (wasmtime without -S inherit-network, friscy run without
            // --net, a page without a proxy): the guest keeps its own loopback, as a
            // container with `--network none` does.
            self.net = Box::new(friscy_net::loopback::Loopback::new());
        }
        let path_var = envp
            .iter()
            .find_map(|e| e.strip_prefix(b"PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_vec();
        let Some(path) = self.find_command(&creds, cwd, &cmd, &path_var) else {
            self.report(&format!(
                "{}: command not found",
                String::from_utf8_lossy(&cmd)
            ));
            return Err(127);
        };
        let image = match self.load_program(&creds, cwd, &path, None, argv, &envp) {
            Ok(image) => image,
            Err(e) => {
                let msg = e.message();
                self.report(&msg);
                return Err(e.shell_status());
            }
        };
        let mut fds = FdTable::default();
        fds.set_limit(self.limits.nofile.0);
        let console = self.ttys.console.clone();
        for (fd, stream, flags) in [(0, Stdio::In, 0), (1, Stdio::Out, 1), (2, Stdio::Err, 1)] {
            // With a console, fds 0-2 are its slave side, as a container runtime's -t
            // gives them (stderr included).
            let file = match &console {
                Some(tty) => new_file(
                    FileKind::Tty(tty::TtyEnd::new(tty.clone(), false)),
                    2,
                    tty::pts_path(0),
                ),
                None => new_file(
                    FileKind::Stdio(stream),
                    flags,
                    format!("/dev/std{fd}").into_bytes(),
                ),
            };
            fds.insert_at(
                fd,
                FdEntry {
                    file,
                    cloexec: false,
                },
            )
            .expect("fd 0-2 are valid");
        }
        let pid = self.alloc_pid();
        let mut init = Process {
            pid,
            ppid: 0,
            pgid: pid,
            sid: pid,
            ctty: None,
            space: image.space,
            mm: image.mm,
            fds,
            cwd,
            root: None,
            umask: 0o022,
            sched: Default::default(),
            creds: image.creds,
            creds_of: pid,
            exe: image.exe,
            comm: process::comm_of(&path),
            argv: image.argv,
            envp,
            rlimits: process::initial_rlimits(&self.limits),
            threads: vec![process::Thread::new(pid, image.hart)],
            cur: 0,
            sigactions: [signal::SigAction::default(); 64],
            pending: 0,
            siginfo: [signal::SigInfo::default(); 64],
            state: process::State::Running,
            exit: None,
            exit_signal: signal::SIGCHLD,
            continued: false,
            vfork_parent: None,
            itimer_real: None,
            itimer_cpu: [None; 2],
            aimed: Vec::new(),
            dumpable: true,
            pdeath_sig: 0,
            child_subreaper: false,
            timer_slack: process::DEFAULT_TIMER_SLACK,
            mce_kill: process::PR_MCE_KILL_DEFAULT,
            thp_disable: false,
            personality: 0,
            membarrier: 0,
            timers: Vec::new(),
            instret: 0,
            children_instret: 0,
            death_reason: None,
        };
        if let Some(tty) = &console {
            // The container's init is a session leader with the console as its
            // controlling terminal (runc: setsid, then TIOCSCTTY).
            self.maybe_acquire(&mut init, tty);
        }
        Ok(init)
    }
}
