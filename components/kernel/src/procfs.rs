//! /proc, served by the kernel itself (procfs(5)): the global files (cpuinfo, meminfo,
//! mounts, uptime, version, filesystems, stat, loadavg) and one directory per process
//! (exe, cwd, root, fd/, maps, stat, statm, status, cmdline, environ, auxv, comm,
//! mounts, task/ with one directory per thread whose comm, stat and status are the
//! thread's), plus the `self` link, and /proc/sys: the tunables programs read (read-only,
//! as Docker mounts it: opening one for writing is EROFS).
//!
//! Nodes are inode numbers in a range the vfs never hands out (bit 62 set), so the rest of
//! the kernel carries them where it carries vfs inodes (a directory descriptor, the cwd)
//! and asks this module instead of the vfs when `is_proc` says so. A file's contents are
//! generated when it is opened (as Linux's seq_file does on the first read) and live in
//! the open file description, so a reader sees one consistent snapshot.
//!
//! Processes are reached through `pids` and `process`: the only places that need to learn
//! about the kernel's process table.

use std::rc::Rc;

use friscy_abi::Errno;
use friscy_abi::mode::*;
use friscy_exec::Prot;
use friscy_vfs::{Dirent, Ino, Stat};

use crate::fd::{FileKind, OpenFile};
use crate::mm::{Vma, VmaName};
use crate::syscalls::info;
use crate::{Kernel, Process};

/// st_dev of every /proc node (procfs is an anonymous device; 0:22 is typical).
pub const DEV: u64 = 22;
/// PROC_SUPER_MAGIC (include/uapi/linux/magic.h), for statfs(2).
pub const SUPER_MAGIC: i64 = 0x9fa0;

/// Set in every /proc inode number (host mounts use 1 << 61, mounts.rs; the vfs counts up).
const PROC_BIT: u64 = 1 << 62;

/// What a /proc node is. Per-process kinds carry the pid in the inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Root = 1,
    SelfLink,
    MountsLink,
    Cpuinfo,
    Meminfo,
    Uptime,
    Version,
    Filesystems,
    SysStat,
    Loadavg,
    /// A directory of /proc/sys (n: its index in `sysctl_dirs`, 0 for /proc/sys).
    SysctlDir,
    /// A file of /proc/sys (n: its index in `SYSCTL`).
    Sysctl,
    PidDir = 32,
    Exe,
    Cwd,
    RootLink,
    FdDir,
    /// fd/N, the symlink.
    Fd,
    /// What fd/N leads to when followed, if that is not a vfs inode (a pipe, a terminal,
    /// a device): the open file itself (a "magic link", as Linux calls it).
    FdTarget,
    Maps,
    Stat,
    Status,
    Cmdline,
    Environ,
    Auxv,
    Comm,
    Mounts,
    Statm,
    MountInfo,
    Limits,
    /// task/, and task/TID (n: the tid) with the thread's own comm, stat and status.
    TaskDir,
    TidDir,
    TidComm,
    TidStat,
    TidStatus,
    Personality,
}

const KINDS: [Kind; 36] = [
    Kind::Root,
    Kind::SelfLink,
    Kind::MountsLink,
    Kind::Cpuinfo,
    Kind::Meminfo,
    Kind::Uptime,
    Kind::Version,
    Kind::Filesystems,
    Kind::SysStat,
    Kind::Loadavg,
    Kind::SysctlDir,
    Kind::Sysctl,
    Kind::PidDir,
    Kind::Exe,
    Kind::Cwd,
    Kind::RootLink,
    Kind::FdDir,
    Kind::Fd,
    Kind::FdTarget,
    Kind::Maps,
    Kind::Stat,
    Kind::Status,
    Kind::Cmdline,
    Kind::Environ,
    Kind::Auxv,
    Kind::Comm,
    Kind::Mounts,
    Kind::Statm,
    Kind::MountInfo,
    Kind::Limits,
    Kind::TaskDir,
    Kind::TidDir,
    Kind::TidComm,
    Kind::TidStat,
    Kind::TidStatus,
    Kind::Personality,
];

/// The entries of /proc besides the process directories, in listing order.
const ROOT_ENTRIES: &[(&str, Kind)] = &[
    ("cpuinfo", Kind::Cpuinfo),
    ("filesystems", Kind::Filesystems),
    ("loadavg", Kind::Loadavg),
    ("meminfo", Kind::Meminfo),
    ("mounts", Kind::MountsLink),
    ("self", Kind::SelfLink),
    ("stat", Kind::SysStat),
    ("sys", Kind::SysctlDir),
    ("uptime", Kind::Uptime),
    ("version", Kind::Version),
];

/// The files of /proc/sys, sorted (what their contents are: `sysctl`).
const SYSCTL: &[&str] = &[
    "fs/file-max",
    "fs/inotify/max_queued_events",
    "fs/inotify/max_user_instances",
    "fs/inotify/max_user_watches",
    "fs/nr_open",
    "fs/pipe-max-size",
    "kernel/cap_last_cap",
    "kernel/domainname",
    "kernel/hostname",
    "kernel/msgmax",
    "kernel/msgmnb",
    "kernel/msgmni",
    "kernel/ngroups_max",
    "kernel/osrelease",
    "kernel/ostype",
    "kernel/overflowgid",
    "kernel/overflowuid",
    "kernel/pid_max",
    "kernel/random/boot_id",
    "kernel/random/entropy_avail",
    "kernel/random/poolsize",
    "kernel/random/uuid",
    "kernel/sem",
    "kernel/shmall",
    "kernel/shmmax",
    "kernel/shmmni",
    "kernel/threads-max",
    "kernel/version",
    "net/core/somaxconn",
    "net/ipv4/ip_local_port_range",
    "vm/max_map_count",
    "vm/overcommit_memory",
    "vm/overcommit_ratio",
];

/// The directories of /proc/sys: "" (itself), then every prefix of a `SYSCTL` path, in
/// order.
fn sysctl_dirs() -> Vec<&'static str> {
    let mut dirs = vec![""];
    for f in SYSCTL {
        let mut at = 0;
        while let Some(i) = f[at..].find('/') {
            let d = &f[..at + i];
            if !dirs.contains(&d) {
                dirs.push(d);
            }
            at += i + 1;
        }
    }
    dirs
}

/// The entries directly in /proc/sys directory `dir`: (name, kind, index).
fn sysctl_children(dir: &str) -> Vec<(&'static str, Kind, u32)> {
    let under = |path: &'static str| -> Option<&'static str> {
        let rest = if dir.is_empty() {
            path
        } else {
            path.strip_prefix(dir)?.strip_prefix('/')?
        };
        (!rest.is_empty() && !rest.contains('/')).then_some(rest)
    };
    let mut out: Vec<(&'static str, Kind, u32)> = sysctl_dirs()
        .into_iter()
        .enumerate()
        .filter_map(|(i, d)| under(d).map(|n| (n, Kind::SysctlDir, i as u32)))
        .collect();
    out.extend(
        SYSCTL
            .iter()
            .enumerate()
            .filter_map(|(i, f)| under(f).map(|n| (n, Kind::Sysctl, i as u32))),
    );
    out.sort_by_key(|&(n, _, _)| n);
    out
}

/// A random version 4 UUID, as the kernel's random/uuid gives one per read.
fn uuid(k: &mut Kernel) -> String {
    let mut b = [0u8; 16];
    k.host.random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The contents of /proc/sys/`path`: the values this kernel works by (its IPC limits,
/// port range, descriptor and task limits, uname), Linux's defaults for the rest.
fn sysctl(k: &mut Kernel, path: &str) -> String {
    let v = match path {
        "fs/file-max" => "9223372036854775807".to_string(),
        "fs/inotify/max_queued_events" => crate::inotify::MAX_QUEUED_EVENTS.to_string(),
        "fs/inotify/max_user_instances" => crate::inotify::MAX_USER_INSTANCES.to_string(),
        "fs/inotify/max_user_watches" => crate::inotify::MAX_USER_WATCHES.to_string(),
        "fs/nr_open" => crate::limits::NR_OPEN.to_string(),
        "fs/pipe-max-size" => crate::pipe::PIPE_MAX_SIZE.to_string(),
        "kernel/cap_last_cap" => "40".into(),
        "kernel/domainname" => String::from_utf8_lossy(&k.domainname).into_owned(),
        "kernel/hostname" => String::from_utf8_lossy(&k.hostname).into_owned(),
        "kernel/msgmax" => "8192".into(),
        "kernel/msgmnb" => "16384".into(),
        "kernel/msgmni" => crate::ipc::IPC_MNI.to_string(),
        "kernel/ngroups_max" => crate::creds::NGROUPS_MAX.to_string(),
        "kernel/osrelease" => info::UTS_RELEASE.into(),
        "kernel/ostype" => info::UTS_SYSNAME.into(),
        "kernel/overflowgid" | "kernel/overflowuid" => "65534".into(),
        "kernel/pid_max" => "4194304".into(),
        "kernel/random/boot_id" => {
            if k.boot_id.is_empty() {
                k.boot_id = uuid(k);
            }
            k.boot_id.clone()
        }
        "kernel/random/entropy_avail" | "kernel/random/poolsize" => "256".into(),
        "kernel/random/uuid" => uuid(k),
        "kernel/sem" => format!("32000\t1024000000\t500\t{}", crate::ipc::IPC_MNI),
        "kernel/shmall" | "kernel/shmmax" => (u64::MAX - (1 << 24)).to_string(),
        "kernel/shmmni" => crate::syscalls::sysv_shm::SHMMNI.to_string(),
        "kernel/threads-max" => k.limits.pids.to_string(),
        "kernel/version" => info::UTS_VERSION.into(),
        "net/core/somaxconn" => "4096".into(),
        "net/ipv4/ip_local_port_range" => "32768\t60999".into(),
        "vm/max_map_count" => "65530".into(),
        // Commitments are checked against the memory limit (limits.rs): strict
        // accounting, with the whole limit as the commit limit.
        "vm/overcommit_memory" => "2".into(),
        "vm/overcommit_ratio" => "100".into(),
        _ => String::new(),
    };
    v + "\n"
}

/// The entries of /proc/<pid>.
const PID_ENTRIES: &[(&str, Kind)] = &[
    ("auxv", Kind::Auxv),
    ("cmdline", Kind::Cmdline),
    ("comm", Kind::Comm),
    ("cwd", Kind::Cwd),
    ("environ", Kind::Environ),
    ("exe", Kind::Exe),
    ("fd", Kind::FdDir),
    ("limits", Kind::Limits),
    ("maps", Kind::Maps),
    ("mountinfo", Kind::MountInfo),
    ("mounts", Kind::Mounts),
    ("personality", Kind::Personality),
    ("root", Kind::RootLink),
    ("stat", Kind::Stat),
    ("statm", Kind::Statm),
    ("status", Kind::Status),
    ("task", Kind::TaskDir),
];

/// The entries of /proc/<pid>/task/<tid>: the process's (a thread shares them) without
/// task/, except that comm, stat and status are the thread's own.
fn tid_entries() -> impl Iterator<Item = (&'static str, Kind)> {
    PID_ENTRIES.iter().filter_map(|&(name, kind)| {
        let kind = match kind {
            Kind::TaskDir => return None,
            Kind::Comm => Kind::TidComm,
            Kind::Stat => Kind::TidStat,
            Kind::Status => Kind::TidStatus,
            other => other,
        };
        Some((name, kind))
    })
}

/// Whether a kind is one of a thread's own (its inode carries the tid).
fn per_thread(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::TidDir | Kind::TidComm | Kind::TidStat | Kind::TidStatus
    )
}

/// The tids of a process's threads (a zombie keeps its leader's, as Linux lists it).
fn tids(q: &Process) -> Vec<i32> {
    if q.threads.is_empty() {
        return vec![q.pid];
    }
    q.threads.iter().map(|t| t.tid).collect()
}

/// The thread `tid` of process `q`: None for a zombie's leader, ENOENT if there is none.
fn thread_of(q: &Process, tid: i32) -> Result<Option<&crate::process::Thread>, Errno> {
    if !tids(q).contains(&tid) {
        return Err(Errno::ENOENT);
    }
    Ok(q.threads.iter().find(|t| t.tid == tid))
}

/// /proc itself.
pub const ROOT: Ino = PROC_BIT | (Kind::Root as u64) << 24;

fn ino(kind: Kind, pid: i32, n: u32) -> Ino {
    PROC_BIT | (pid as u64 & 0x3f_ffff) << 32 | (kind as u64) << 24 | (n as u64 & 0xff_ffff)
}

/// Whether an inode number is a /proc node.
pub fn is_proc(ino: Ino) -> bool {
    ino & PROC_BIT != 0
}

/// The process a /proc/PID directory is (pidfd_send_signal takes its descriptor as a
/// pidfd), or None for any other node.
pub fn pid_dir(ino: Ino) -> Option<i32> {
    match decode(ino) {
        Ok((Kind::PidDir, pid, _)) if is_proc(ino) => Some(pid),
        _ => None,
    }
}

/// (kind, pid, fd) of a /proc inode.
fn decode(ino: Ino) -> Result<(Kind, i32, i32), Errno> {
    let k = (ino >> 24) as u8;
    let kind = KINDS
        .iter()
        .copied()
        .find(|&x| x as u8 == k)
        .ok_or(Errno::ENOENT)?;
    Ok((
        kind,
        (ino >> 32 & 0x3f_ffff) as i32,
        (ino & 0xff_ffff) as i32,
    ))
}

/// An open /proc file: its node and the contents generated at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcFile {
    pub ino: Ino,
    pub data: Rc<[u8]>,
}

/// The processes, in pid order: the caller (which the scheduler holds outside the table
/// while its syscall runs) and `Kernel::procs` (zombies included, as Linux lists them).
fn pids(k: &Kernel, p: &Process) -> Vec<i32> {
    let mut all: Vec<i32> = k.procs.keys().copied().chain([p.pid]).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The process with this pid, if it exists.
fn process<'a>(k: &'a Kernel, p: &'a Process, pid: i32) -> Result<&'a Process, Errno> {
    if pid == p.pid {
        Ok(p)
    } else {
        k.procs.get(&pid).ok_or(Errno::ENOENT)
    }
}

/// Where following a /proc symlink leads.
pub enum Follow {
    /// A path, resolved from the directory holding the link (`self` -> "1").
    Path(Vec<u8>),
    /// A node directly (exe, cwd, root, fd/N: Linux's magic links).
    Node(Ino),
}

/// The entry `name` of /proc directory `dir` (".." leaves /proc for the vfs root).
pub fn lookup(k: &mut Kernel, p: &Process, dir: Ino, name: &[u8]) -> Result<Ino, Errno> {
    let (kind, pid, n) = decode(dir)?;
    let find = |table: &[(&str, Kind)], pid| {
        table
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|&(_, kind)| ino(kind, pid, 0))
    };
    match (kind, name) {
        (_, b"." | b"") => Ok(dir),
        (Kind::Root, b"..") => Ok(k.fs.root()),
        (Kind::PidDir, b"..") => Ok(ROOT),
        (Kind::FdDir, b"..") => Ok(ino(Kind::PidDir, pid, 0)),
        (Kind::SysctlDir, b"..") => {
            let dirs = sysctl_dirs();
            let me = dirs.get(n as usize).ok_or(Errno::ENOENT)?;
            Ok(match me.rfind('/') {
                Some(i) => {
                    let up = dirs.iter().position(|d| *d == &me[..i]).unwrap_or(0);
                    ino(Kind::SysctlDir, 0, up as u32)
                }
                None if me.is_empty() => ROOT,
                None => ino(Kind::SysctlDir, 0, 0),
            })
        }
        (Kind::SysctlDir, _) => {
            let dirs = sysctl_dirs();
            let me = dirs.get(n as usize).ok_or(Errno::ENOENT)?;
            sysctl_children(me)
                .into_iter()
                .find(|(c, _, _)| c.as_bytes() == name)
                .map(|(_, kind, i)| ino(kind, 0, i))
                .ok_or(Errno::ENOENT)
        }
        (Kind::Root, _) => {
            if let Some(found) = find(ROOT_ENTRIES, 0) {
                return Ok(found);
            }
            let pid: i32 = parse_num(name).ok_or(Errno::ENOENT)?;
            process(k, p, pid)?;
            Ok(ino(Kind::PidDir, pid, 0))
        }
        (Kind::PidDir, _) => {
            process(k, p, pid)?;
            find(PID_ENTRIES, pid).ok_or(Errno::ENOENT)
        }
        (Kind::TaskDir, b"..") => Ok(ino(Kind::PidDir, pid, 0)),
        (Kind::TaskDir, _) => {
            let tid = parse_num(name).ok_or(Errno::ENOENT)?;
            thread_of(process(k, p, pid)?, tid)?;
            Ok(ino(Kind::TidDir, pid, tid as u32))
        }
        (Kind::TidDir, b"..") => Ok(ino(Kind::TaskDir, pid, 0)),
        (Kind::TidDir, _) => {
            thread_of(process(k, p, pid)?, n)?;
            let (_, kind) = tid_entries()
                .find(|(e, _)| e.as_bytes() == name)
                .ok_or(Errno::ENOENT)?;
            Ok(ino(kind, pid, if per_thread(kind) { n as u32 } else { 0 }))
        }
        (Kind::FdDir, _) => {
            let fd: i32 = parse_num(name).ok_or(Errno::ENOENT)?;
            process(k, p, pid)?.fds.get(fd).map_err(|_| Errno::ENOENT)?;
            Ok(ino(Kind::Fd, pid, fd as u32))
        }
        _ => Err(Errno::ENOTDIR),
    }
}

/// A decimal number as /proc names them (no sign, no leading zeros).
fn parse_num(name: &[u8]) -> Option<i32> {
    if name.is_empty()
        || (name[0] == b'0' && name.len() > 1)
        || !name.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

fn is_link(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::SelfLink | Kind::MountsLink | Kind::Exe | Kind::Cwd | Kind::RootLink | Kind::Fd
    )
}

fn is_dir(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Root | Kind::PidDir | Kind::FdDir | Kind::SysctlDir | Kind::TaskDir | Kind::TidDir
    )
}

pub fn stat(k: &mut Kernel, p: &Process, node: Ino) -> Result<Stat, Errno> {
    let (kind, pid, fd) = decode(node)?;
    if pid != 0 {
        process(k, p, pid)?;
    }
    let (mode, nlink) = match kind {
        Kind::Root => (S_IFDIR | 0o555, 2 + pids(k, p).len() as u32),
        Kind::PidDir => (S_IFDIR | 0o555, 2 + PID_ENTRIES.len() as u32),
        Kind::FdDir => (S_IFDIR | 0o500, 2),
        Kind::SysctlDir => (S_IFDIR | 0o555, 2),
        Kind::TaskDir => (S_IFDIR | 0o555, 2 + tids(process(k, p, pid)?).len() as u32),
        Kind::TidDir => {
            thread_of(process(k, p, pid)?, fd)?;
            (S_IFDIR | 0o555, 2 + tid_entries().count() as u32)
        }
        Kind::TidComm => (S_IFREG | 0o644, 1),
        Kind::Sysctl => (S_IFREG | 0o644, 1),
        Kind::SelfLink | Kind::MountsLink => (S_IFLNK | 0o777, 1),
        // fd/N shows the descriptor's access mode (proc_fd_link: lr-x, l-wx or lrwx).
        Kind::Fd => {
            let file = process(k, p, pid)?
                .fds
                .file(fd)
                .map_err(|_| Errno::ENOENT)?;
            let perm = match file.borrow().flags & 3 {
                0 => 0o500,
                1 => 0o300,
                _ => 0o700,
            };
            (S_IFLNK | perm, 1)
        }
        Kind::Exe | Kind::Cwd | Kind::RootLink => (S_IFLNK | 0o777, 1),
        Kind::FdTarget => {
            let file = process(k, p, pid)?
                .fds
                .file(fd)
                .map_err(|_| Errno::ENOENT)?;
            return k.stat_file(p, &file.borrow());
        }
        Kind::Environ | Kind::Auxv | Kind::Personality => (S_IFREG | 0o400, 1),
        Kind::Comm => (S_IFREG | 0o644, 1),
        _ => (S_IFREG | 0o444, 1),
    };
    let now = k.host.wall_clock();
    let t = friscy_vfs::Timespec {
        sec: now.0,
        nsec: now.1,
    };
    // A process's entries belong to its effective ids (ps shows its USER from them).
    let (uid, gid) = match pid {
        0 => (0, 0),
        _ => {
            let c = &process(k, p, pid)?.creds;
            (c.uid.eff, c.gid.eff)
        }
    };
    Ok(Stat {
        ino: node,
        mode,
        nlink,
        uid,
        gid,
        // Link sizes are what readlink gives (fd links report 64, as on Linux).
        size: if kind == Kind::Fd { 64 } else { 0 },
        atime: t,
        mtime: t,
        ctime: t,
        ..Stat::default()
    })
}

/// Entries after `cookie`: ".", "..", then the directory's own (the cookie is an index).
pub fn readdir(
    k: &mut Kernel,
    p: &Process,
    dir: Ino,
    cookie: u64,
    max: u32,
) -> Result<Vec<Dirent>, Errno> {
    let (kind, pid, n) = decode(dir)?;
    let parent = lookup(k, p, dir, b"..")?;
    let mut all: Vec<(Ino, u8, Vec<u8>)> = vec![
        (dir, DT_DIR, b".".to_vec()),
        (parent, DT_DIR, b"..".to_vec()),
    ];
    // Entries named by a number (pids, tids, fds) sit at a position of their own, that
    // number past the fixed entries (Linux: fd + 2 in /proc/PID/fd), so a reader that
    // closes descriptors or sees processes go between two getdents calls skips nothing:
    // CPython's subprocess closes the fds it lists from /proc/self/fd as it reads.
    let mut numbered: Vec<(u64, Ino, u8, Vec<u8>)> = Vec::new();
    let dtype = |kind: Kind| {
        if is_dir(kind) {
            DT_DIR
        } else if is_link(kind) {
            DT_LNK
        } else {
            DT_REG
        }
    };
    match kind {
        Kind::Root => {
            for &(name, kind) in ROOT_ENTRIES {
                all.push((ino(kind, 0, 0), dtype(kind), name.into()));
            }
            for pid in pids(k, p) {
                numbered.push((
                    pid as u64,
                    ino(Kind::PidDir, pid, 0),
                    DT_DIR,
                    pid.to_string().into_bytes(),
                ));
            }
        }
        Kind::PidDir => {
            process(k, p, pid)?;
            for &(name, kind) in PID_ENTRIES {
                all.push((ino(kind, pid, 0), dtype(kind), name.into()));
            }
        }
        Kind::SysctlDir => {
            let dirs = sysctl_dirs();
            let me = dirs.get(n as usize).ok_or(Errno::ENOENT)?;
            for (name, kind, i) in sysctl_children(me) {
                all.push((ino(kind, 0, i), dtype(kind), name.into()));
            }
        }
        Kind::TaskDir => {
            for tid in tids(process(k, p, pid)?) {
                numbered.push((
                    tid as u64,
                    ino(Kind::TidDir, pid, tid as u32),
                    DT_DIR,
                    tid.to_string().into_bytes(),
                ));
            }
        }
        Kind::TidDir => {
            thread_of(process(k, p, pid)?, n)?;
            for (name, kind) in tid_entries() {
                let at = if per_thread(kind) { n as u32 } else { 0 };
                all.push((ino(kind, pid, at), dtype(kind), name.into()));
            }
        }
        Kind::FdDir => {
            for (fd, _) in process(k, p, pid)?.fds.iter() {
                numbered.push((
                    fd as u64,
                    ino(Kind::Fd, pid, fd as u32),
                    DT_LNK,
                    fd.to_string().into_bytes(),
                ));
            }
        }
        _ => return Err(Errno::ENOTDIR),
    }
    let fixed = all.len() as u64;
    numbered.sort_by_key(|e| e.0);
    let positioned = all
        .into_iter()
        .enumerate()
        .map(|(i, e)| (i as u64, e))
        .chain(
            numbered
                .into_iter()
                .map(|(n, ino, kind, name)| (fixed + n, (ino, kind, name))),
        );
    Ok(positioned
        .filter(|(at, _)| *at >= cookie)
        .take(max as usize)
        .map(|(at, (ino, kind, name))| Dirent {
            ino,
            kind,
            name,
            next: at + 1,
        })
        .collect())
}

/// What readlink(2) shows for a /proc link.
pub fn readlink(k: &mut Kernel, p: &Process, node: Ino) -> Result<Vec<u8>, Errno> {
    let (kind, pid, fd) = decode(node)?;
    match kind {
        Kind::SelfLink => Ok(p.pid.to_string().into_bytes()),
        Kind::MountsLink => Ok(b"self/mounts".to_vec()),
        Kind::Exe => Ok(process(k, p, pid)?.exe.clone()),
        Kind::Cwd => {
            let cwd = process(k, p, pid)?.cwd;
            k.ino_path(p, cwd)
        }
        // The process's root as the reader sees it (its chroot, or "/").
        Kind::RootLink => match process(k, p, pid)?.root {
            Some(root) => k.path_in_root(root),
            None => Ok(b"/".to_vec()),
        },
        Kind::Fd => {
            let file = process(k, p, pid)?
                .fds
                .file(fd)
                .map_err(|_| Errno::ENOENT)?;
            Ok(describe(&file.borrow()))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The name /proc/<pid>/fd/N shows for an open file.
fn describe(f: &OpenFile) -> Vec<u8> {
    match &f.kind {
        // A host stream (not a terminal: that is the console, a Tty) is a pipe or a file
        // the host opened.
        FileKind::Stdio(s) => format!("pipe:[{}]", *s as u8).into_bytes(),
        FileKind::Pipe(end) if end.fifo.is_none() => {
            format!("pipe:[{}]", end.pipe.borrow().id).into_bytes()
        }
        _ => f.path.clone(),
    }
}

/// Follow a /proc link (the caller checked that `node` is one).
pub fn follow(k: &mut Kernel, p: &Process, node: Ino) -> Result<Follow, Errno> {
    let (kind, pid, fd) = decode(node)?;
    Ok(match kind {
        Kind::SelfLink | Kind::MountsLink => Follow::Path(readlink(k, p, node)?),
        Kind::Exe => {
            // The path execve recorded is from the process's own root (a chroot's).
            let q = process(k, p, pid)?;
            let (exe, root) = (q.exe.clone(), q.root.unwrap_or(k.fs.root()));
            let rel = exe.strip_prefix(b"/").unwrap_or(&exe);
            Follow::Node(k.fs.lookup(root, rel, true)?)
        }
        Kind::Cwd => Follow::Node(process(k, p, pid)?.cwd),
        Kind::RootLink => Follow::Node(process(k, p, pid)?.root.unwrap_or(k.fs.root())),
        Kind::Fd => {
            let file = process(k, p, pid)?
                .fds
                .file(fd)
                .map_err(|_| Errno::ENOENT)?;
            let f = file.borrow();
            match &f.kind {
                FileKind::Inode(ino) => Follow::Node(*ino),
                FileKind::Proc(pf) => Follow::Node(pf.ino),
                _ => Follow::Node(ino(Kind::FdTarget, pid, fd as u32)),
            }
        }
        _ => return Err(Errno::EINVAL),
    })
}

/// The absolute path of a /proc directory.
pub fn path(k: &mut Kernel, p: &Process, dir: Ino) -> Result<Vec<u8>, Errno> {
    let (kind, pid, n) = decode(dir)?;
    if pid != 0 {
        process(k, p, pid)?;
    }
    Ok(match kind {
        Kind::Root => "/proc".to_string(),
        Kind::PidDir => format!("/proc/{pid}"),
        Kind::FdDir => format!("/proc/{pid}/fd"),
        Kind::TaskDir => format!("/proc/{pid}/task"),
        Kind::TidDir => format!("/proc/{pid}/task/{n}"),
        Kind::SysctlDir => match sysctl_dirs().get(n as usize) {
            Some(&"") => "/proc/sys".to_string(),
            Some(d) => format!("/proc/sys/{d}"),
            None => return Err(Errno::ENOENT),
        },
        _ => return Err(Errno::ENOTDIR),
    }
    .into_bytes())
}

/// Whether a node is a symlink (for path resolution).
pub fn is_symlink(node: Ino) -> bool {
    decode(node).is_ok_and(|(kind, _, _)| is_link(kind))
}

/// Open a /proc node: directories stay inodes (for getdents64), files get their contents
/// now, and a followed fd link opens what that descriptor has open (a new description).
/// /proc/sys is read-only: opening one of its files for writing is EROFS.
pub fn open(k: &mut Kernel, p: &Process, node: Ino, write: bool) -> Result<FileKind, Errno> {
    let (kind, pid, fd) = decode(node)?;
    if kind == Kind::Sysctl {
        if write {
            return Err(Errno::EROFS);
        }
        let path = SYSCTL.get(fd as usize).ok_or(Errno::ENOENT)?;
        return Ok(FileKind::Proc(ProcFile {
            ino: node,
            data: sysctl(k, path).into_bytes().into(),
        }));
    }
    if is_dir(kind) {
        return Ok(FileKind::Inode(node));
    }
    if kind == Kind::FdTarget {
        let file = process(k, p, pid)?
            .fds
            .file(fd)
            .map_err(|_| Errno::ENOENT)?;
        return Ok(file.borrow().kind.clone());
    }
    let data = generate(k, p, kind, pid, fd)?;
    Ok(FileKind::Proc(ProcFile {
        ino: node,
        data: data.into(),
    }))
}

/// The contents of a /proc file (`n`: the tid of a thread's own files).
fn generate(k: &mut Kernel, p: &Process, kind: Kind, pid: i32, n: i32) -> Result<Vec<u8>, Errno> {
    let text = match kind {
        Kind::Cpuinfo => cpuinfo(),
        Kind::Meminfo => {
            let (total, free) = k.memory_figures();
            meminfo(total, free)
        }
        Kind::Uptime => {
            let ns = k.host.monotonic_ns();
            // No idle time is accounted: the guest's CPU never idles in the interpreter.
            format!("{}.{:02} 0.00\n", ns / 1_000_000_000, ns / 10_000_000 % 100)
        }
        Kind::Version => format!(
            "{} version {} (friscy) {}\n",
            info::UTS_SYSNAME,
            info::UTS_RELEASE,
            info::UTS_VERSION
        ),
        Kind::Filesystems => "nodev\tproc\nnodev\toverlay\nnodev\tdevpts\n".into(),
        Kind::SysStat => sys_stat(k, p),
        Kind::Loadavg => loadavg(k, p),
        Kind::Mounts => MOUNTS.into(),
        Kind::MountInfo => mountinfo(),
        Kind::Maps => {
            let vmas: Vec<(u64, Vma)> = process(k, p, pid)?
                .mm
                .vmas
                .iter()
                .map(|(&s, v)| (s, v.clone()))
                .collect();
            maps(k, &vmas)
        }
        _ => {
            // The resident set is exec's to count (frames the space refers to); a zombie
            // has none.
            let q = process(k, p, pid)?;
            let space = (!q.is_zombie()).then_some(q.space);
            let rss = space.map_or(0, |s| k.machine.resident(s));
            let q = process(k, p, pid)?;
            match kind {
                Kind::Cmdline | Kind::Environ => {
                    let (args, env, space) = (q.mm.args, q.mm.env, q.space);
                    if args.1 <= args.0 || q.is_zombie() {
                        // Not started by execve here (or gone): what it was started with.
                        let strings = if kind == Kind::Cmdline {
                            &q.argv
                        } else {
                            &q.envp
                        };
                        return Ok(nul_joined(strings));
                    }
                    return Ok(match kind {
                        Kind::Cmdline => live_cmdline(k, space, args, env),
                        _ => read_guest(k, space, env.0, env.1 - env.0),
                    });
                }
                Kind::Auxv => {
                    return Ok(q
                        .mm
                        .saved_auxv
                        .iter()
                        .flat_map(|&(key, v)| [key.to_le_bytes(), v.to_le_bytes()])
                        .flatten()
                        .collect());
                }
                Kind::Comm => format!("{}\n", comm(q)),
                Kind::Stat => pid_stat(q, None),
                Kind::TidComm | Kind::TidStat | Kind::TidStatus => {
                    let t = thread_of(q, n)?;
                    match kind {
                        Kind::TidComm => format!("{}\n", thread_comm(q, t)),
                        Kind::TidStat => pid_stat(q, t),
                        _ => status(q, rss, t),
                    }
                }
                Kind::Statm => statm(q, rss),
                Kind::Status => status(q, rss, None),
                Kind::Limits => limits(k, q),
                Kind::Personality => format!("{:08x}\n", q.personality),
                _ => return Err(Errno::EINVAL),
            }
        }
    };
    Ok(text.into_bytes())
}

/// /proc/mounts: the root filesystem (the vfs: a tar image under an in-memory upper
/// layer, which is what overlayfs is to Docker) and /proc.
const MOUNTS: &str =
    "overlay / overlay rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n";

/// The same mounts as /proc/PID/mountinfo shows them (proc_pid_mountinfo(5)): mount id,
/// parent id, the st_dev stat(2) gives their files (the root filesystem is 0:1, /proc
/// `DEV`), root, mount point, options, then the filesystem type, source and superblock
/// options. GNU df reads this first (then /etc/mtab, which minimal images lack).
fn mountinfo() -> String {
    let root = crate::syscalls::stat::dev_of(0); // any inode outside /proc
    let (major, minor) = (crate::syscalls::stat::major, crate::syscalls::stat::minor);
    format!(
        "1 0 {}:{} / / rw,relatime - overlay overlay rw\n\
         2 1 {}:{} / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n",
        major(root),
        minor(root),
        major(DEV),
        minor(DEV)
    )
}

/// The ISA exec implements (components/exec/src/isa.rs: RV64GC, Zicsr, Zifencei, the
/// cycle/time/instret counters, Zba, Zbb, Zbs), in the format of arch/riscv/kernel/cpu.c.
pub const ISA: &str = "rv64imafdc_zicntr_zicsr_zifencei_zba_zbb_zbs";

fn cpuinfo() -> String {
    format!(
        "processor\t: 0\nhart\t\t: 0\nisa\t\t: {ISA}\nmmu\t\t: sv39\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\n\n"
    )
}

/// /proc/meminfo from the figures sysinfo(2) reports (`Kernel::memory_figures`, bytes):
/// the container's memory limit and what of it exec has not handed out; no swap.
fn meminfo(total: u64, free: u64) -> String {
    let (total, free) = (total >> 10, free >> 10);
    [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
    ]
    .iter()
    .map(|(name, kb)| format!("{:<16}{kb:>8} kB\n", format!("{name}:")))
    .collect()
}

/// Bytes of another process's memory; what cannot be read ends them (the kernel's
/// access_remote_vm reads what it can).
fn read_guest(k: &mut Kernel, space: friscy_exec::SpaceId, addr: u64, len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = addr;
    while at < addr + len {
        let n = (PAGE - at % PAGE).min(addr + len - at);
        let mut buf = vec![0; n as usize];
        if k.guest(space, |m| m.read(space, at, &mut buf)).is_err() {
            break;
        }
        out.extend_from_slice(&buf);
        at += n;
    }
    out
}

const PAGE: u64 = friscy_abi::PAGE_SIZE;

/// /proc/PID/cmdline as Linux's get_mm_cmdline reads it: the argument strings as they
/// are now; if the last byte of the argument area is no longer a NUL, the program wrote
/// a title over them (setproctitle), which may run on into the environment area: up to
/// its first NUL.
fn live_cmdline(
    k: &mut Kernel,
    space: friscy_exec::SpaceId,
    args: (u64, u64),
    env: (u64, u64),
) -> Vec<u8> {
    let area = read_guest(k, space, args.0, args.1 - args.0);
    if area.last() != Some(&0) && area.len() as u64 == args.1 - args.0 {
        let end = if env.0 == args.1 && env.1 >= env.0 {
            env.1
        } else {
            args.1
        };
        let all = read_guest(k, space, args.0, end - args.0);
        return match all.iter().position(|&b| b == 0) {
            Some(nul) => all[..=nul].to_vec(),
            None => all,
        };
    }
    area
}

fn nul_joined(items: &[Vec<u8>]) -> Vec<u8> {
    items
        .iter()
        .flat_map(|s| s.iter().copied().chain([0]))
        .collect()
}

/// The command name: the executable's base name, at most 15 bytes (TASK_COMM_LEN - 1).
fn comm(p: &Process) -> String {
    let base = &p.comm;
    String::from_utf8_lossy(&base[..base.len().min(15)]).into_owned()
}

/// A thread's name: its own (prctl PR_SET_NAME, a write to task/TID/comm) or the
/// process's.
fn thread_comm(p: &Process, t: Option<&crate::process::Thread>) -> String {
    match t {
        Some(t) => {
            let name = p.name_of(t);
            String::from_utf8_lossy(&name[..name.len().min(15)]).into_owned()
        }
        None => comm(p),
    }
}

/// A thread's state letter: the process's when it is a zombie or stopped, else whether
/// this thread is parked in a syscall.
fn thread_state(p: &Process, t: Option<&crate::process::Thread>) -> char {
    match (state_letter(p), t) {
        ('Z' | 'T', _) | (_, None) => state_letter(p),
        (_, Some(t)) if t.block.is_some() => 'S',
        _ => 'R',
    }
}

/// A write to a comm file (comm_write in fs/proc/base.c): only within the writer's own
/// thread group (EINVAL otherwise); the first 15 bytes name the process (comm) or the
/// thread (task/TID/comm), a newline included, as Linux keeps it.
pub fn write(p: &mut Process, node: Ino, data: &[u8]) -> Result<u64, Errno> {
    let (kind, pid, tid) = decode(node)?;
    if !matches!(kind, Kind::Comm | Kind::TidComm) || pid != p.pid {
        return Err(Errno::EINVAL);
    }
    p.set_name(if kind == Kind::Comm { pid } else { tid }, data)?;
    Ok(data.len() as u64)
}

fn maps(k: &mut Kernel, vmas: &[(u64, Vma)]) -> String {
    let mut out = String::new();
    let root = k.fs.root();
    for (start, vma) in vmas {
        let perm = |bit: Prot, c: char| if vma.prot.0 & bit.0 != 0 { c } else { '-' };
        let (ino, name) = match &vma.name {
            VmaName::File(path) => (
                k.fs.lookup(root, path, true).unwrap_or(0),
                String::from_utf8_lossy(path).into_owned(),
            ),
            VmaName::Heap => (0, "[heap]".into()),
            VmaName::Stack => (0, "[stack]".into()),
            VmaName::Vdso => (0, "[vdso]".into()),
            VmaName::Anonymous => (0, String::new()),
        };
        let dev = if ino != 0 { (0, 1) } else { (0, 0) };
        // show_map_vma: file offsets are not recorded per mapping, so 0 is shown.
        let mut line = format!(
            "{start:08x}-{:08x} {}{}{}p {:08x} {:02x}:{:02x} {ino} ",
            vma.end,
            perm(Prot::READ, 'r'),
            perm(Prot::WRITE, 'w'),
            perm(Prot::EXEC, 'x'),
            0,
            dev.0,
            dev.1,
        );
        if !name.is_empty() {
            // The name starts in column 73, as seq_pad puts it.
            while line.len() < 73 {
                line.push(' ');
            }
            line.push_str(&name);
        }
        line.push('\n');
        out.push_str(&line);
    }
    out
}

/// Total mapped bytes.
fn vsize(p: &Process) -> u64 {
    p.mm.vmas.iter().map(|(&s, v)| v.end - s).sum()
}

/// USER_HZ: clock ticks per second in /proc (sysconf(_SC_CLK_TCK)).
const USER_HZ: u64 = 100;

/// Guest CPU time in clock ticks, estimated from instructions retired (about 100
/// million a second, as getrusage's estimate: syscalls/process.rs).
fn ticks(instret: u64) -> u64 {
    instret / (100_000_000 / USER_HZ)
}

/// The processes in pid order with the caller in its place (it is out of `procs`).
fn all_processes<'a>(k: &'a Kernel, p: &'a Process) -> Vec<&'a Process> {
    let mut all: Vec<&Process> = k.procs.values().filter(|q| q.pid != p.pid).collect();
    all.push(p);
    all.sort_by_key(|q| q.pid);
    all
}

/// A process's state letter (fs/proc/array.c's task_state_array): R running, S
/// sleeping in a syscall, T stopped, Z zombie.
fn state_letter(p: &Process) -> char {
    match p.state {
        crate::process::State::Zombie(_) => 'Z',
        crate::process::State::Stopped { .. } => 'T',
        _ if p.threads.iter().all(|t| t.block.is_some()) => 'S',
        _ => 'R',
    }
}

/// /proc/stat: CPU time on the one CPU friscy shows (user time estimated from
/// instructions; the rest of the uptime counted idle), boot time and process counts.
fn sys_stat(k: &Kernel, p: &Process) -> String {
    let up = k.host.monotonic_ns() / (1_000_000_000 / USER_HZ);
    let procs = all_processes(k, p);
    let user: u64 = procs
        .iter()
        .map(|q| ticks(q.instret + q.children_instret))
        .sum::<u64>()
        .min(up);
    let idle = up - user;
    let running = procs.iter().filter(|q| state_letter(q) == 'R').count();
    let boot = k.host.wall_clock().0 - (up / USER_HZ) as i64;
    let cpu = format!("{user} 0 0 {idle} 0 0 0 0 0 0");
    format!(
        "cpu  {cpu}\ncpu0 {cpu}\nintr 0\nctxt 0\nbtime {boot}\nprocesses {}\n\
         procs_running {running}\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
        k.next_pid - 1,
    )
}

/// /proc/loadavg: the averages are not computed (0.00); runnable and total tasks and the
/// last pid are real.
fn loadavg(k: &Kernel, p: &Process) -> String {
    let procs = all_processes(k, p);
    let threads: usize = procs.iter().map(|q| q.threads.len()).sum();
    let running = procs.iter().filter(|q| state_letter(q) == 'R').count();
    format!("0.00 0.00 0.00 {running}/{threads} {}\n", k.next_pid - 1)
}

/// The controlling terminal as /proc/<pid>/stat shows it: tty_nr (new_encode_dev of
/// 136:N) and the terminal's foreground group (tpgid, -1 without one).
fn tty_fields(p: &Process) -> (u64, i32) {
    match &p.ctty {
        Some(tty) => {
            let t = tty.borrow();
            ((136 << 8) | t.index as u64, t.pgrp.unwrap_or(-1))
        }
        None => (0, -1),
    }
}

/// /proc/<pid>/stat (proc_pid_stat in fs/proc/array.c), all 52 fields. Fault counts,
/// start time and the argument/environment addresses are not recorded and read as 0;
/// CPU time is estimated from instructions retired; rss is reported as the mapped size
/// (pages are not tracked as resident or not).
/// /proc/<pid>/stat, or with a thread its task/<tid>/stat (the thread's id, name and
/// state).
fn pid_stat(p: &Process, t: Option<&crate::process::Thread>) -> String {
    let pages = vsize(p) / 4096;
    let code =
        p.mm.vmas
            .iter()
            .find(|(_, v)| v.prot.0 & Prot::EXEC.0 != 0)
            .map(|(&s, v)| (s, v.end))
            .unwrap_or((0, 0));
    let (tty_nr, tpgid) = tty_fields(p);
    format!(
        "{pid} ({comm}) {state} {ppid} {pgrp} {sid} {tty_nr} {tpgid} 4194304 0 0 0 0 {utime} 0 \
         {cutime} 0 {priority} {nice} {threads} 0 0 {vsize} {pages} 18446744073709551615 {} {} {} \
         0 0 0 0 0 0 0 0 0 {exit_signal} 0 {rt_priority} {policy} 0 0 0 0 0 {} 0 0 0 0 0\n",
        code.0,
        code.1,
        p.mm.stack_top,
        p.mm.brk_start,
        pid = t.map_or(p.pid, |t| t.tid),
        comm = thread_comm(p, t),
        state = thread_state(p, t),
        ppid = p.ppid,
        pgrp = p.pgid,
        sid = p.sid,
        utime = ticks(p.instret),
        cutime = ticks(p.children_instret),
        threads = p.threads.len().max(1),
        vsize = vsize(p),
        exit_signal = p.exit_signal,
        // task_prio(): 20 + nice for normal policies, -1 - rt_priority for real-time.
        priority = match p.sched.policy {
            1 | 2 => -1 - p.sched.priority as i32,
            _ => 20 + p.sched.nice as i32,
        },
        nice = p.sched.nice,
        rt_priority = p.sched.priority,
        policy = p.sched.policy,
    )
}

/// /proc/<pid>/limits (proc_pid_limits in fs/proc/base.c): each resource's soft and hard
/// limit as setrlimit(2) left them, in Linux's table.
fn limits(k: &Kernel, p: &Process) -> String {
    const ROWS: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let value = |v: u64| {
        if v == u64::MAX {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    let mut out = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for (r, (name, units)) in ROWS.iter().enumerate() {
        let (soft, hard) = k.limits(p, r as u64).unwrap_or((u64::MAX, u64::MAX));
        out += &format!(
            "{name:<25} {:<20} {:<20} {units:<10}\n",
            value(soft),
            value(hard)
        );
    }
    out
}

/// /proc/<pid>/statm: size, resident, shared, text, lib, data, dirty in pages (`rss`:
/// bytes of frames the process refers to).
fn statm(p: &Process, rss: u64) -> String {
    let pages = vsize(p) / 4096;
    let text: u64 =
        p.mm.vmas
            .iter()
            .filter(|(_, v)| v.prot.0 & Prot::EXEC.0 != 0)
            .map(|(&s, v)| (v.end - s) / 4096)
            .sum();
    format!(
        "{pages} {} 0 {text} 0 {} 0\n",
        rss / 4096,
        pages - text.min(pages)
    )
}

/// /proc/<pid>/status, or with a thread its task/<tid>/status.
fn status(p: &Process, rss: u64, t: Option<&crate::process::Thread>) -> String {
    let kb = vsize(p) / 1024;
    let rss_kb = rss / 1024;
    let fdsize = p.fds.iter().last().map_or(0, |(fd, _)| fd + 1).max(64);
    let (u, g) = (p.creds.uid, p.creds.gid);
    // Groups: each followed by a space, as Linux prints them.
    let groups: String = p.creds.groups.iter().map(|g| format!("{g} ")).collect();
    let c = p.creds.caps;
    format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\t{state}\nTgid:\t{pid}\nNgid:\t0\nPid:\t{tid}\n\
         PPid:\t{ppid}\nTracerPid:\t0\nUid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t{fdsize}\n\
         Groups:\t{groups}\nVmSize:\t{kb:>8} kB\nVmRSS:\t{rss_kb:>8} kB\nThreads:\t{threads}\nCapInh:\t{:016x}\n\
         CapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{:016x}\n\
         CapAmb:\t{:016x}\nNoNewPrivs:\t{}\nSeccomp:\t0\nCpus_allowed:\t1\n\
         Cpus_allowed_list:\t0\n",
        thread_comm(p, t),
        p.umask,
        u.real,
        u.eff,
        u.saved,
        u.fs,
        g.real,
        g.eff,
        g.saved,
        g.fs,
        c.inh,
        c.prm,
        c.eff,
        c.bnd,
        c.amb,
        p.creds.no_new_privs as u8,
        pid = p.pid,
        tid = t.map_or(p.pid, |t| t.tid),
        // The names fs/proc/array.c gives the letters.
        state = match thread_state(p, t) {
            'Z' => "Z (zombie)",
            'T' => "T (stopped)",
            'S' => "S (sleeping)",
            _ => "R (running)",
        },
        ppid = p.ppid,
        threads = p.threads.len().max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_numbers_round_trip_and_stay_out_of_the_vfs_range() {
        for &kind in &KINDS {
            let n = ino(kind, 4242, 17);
            assert!(is_proc(n));
            assert_eq!(decode(n).unwrap(), (kind, 4242, 17));
        }
        assert!(!is_proc(12345));
        assert_eq!(decode(ROOT).unwrap().0, Kind::Root);
    }

    #[test]
    fn numbers_are_canonical() {
        assert_eq!(parse_num(b"12"), Some(12));
        assert_eq!(parse_num(b"012"), None);
        assert_eq!(parse_num(b"-1"), None);
        assert_eq!(parse_num(b""), None);
    }

    #[test]
    fn meminfo_lines_align_like_linux() {
        assert!(meminfo(4 << 30, 3 << 30).starts_with("MemTotal:        4194304 kB\n"));
    }
}
