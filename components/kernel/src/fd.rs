//! File descriptors: the per-process table (fd -> open file description, plus FD_CLOEXEC)
//! and open file descriptions (what is open, its offset and status flags). Descriptions
//! are shared by dup(2) and fork(2), as in Linux.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use friscy_abi::Errno;
use friscy_vfs::Ino;

use crate::host::Stdio;

/// The character devices the kernel implements itself (devices(7) numbers in `rdev`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
}

impl Device {
    pub fn from_name(name: &[u8]) -> Option<Device> {
        Some(match name {
            b"null" => Device::Null,
            b"zero" => Device::Zero,
            b"full" => Device::Full,
            b"random" => Device::Random,
            b"urandom" => Device::Urandom,
            _ => return None,
        })
    }
    /// (major, minor) as Linux numbers them (Documentation/admin-guide/devices.txt).
    pub fn rdev(self) -> (u32, u32) {
        match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
            Device::Full => (1, 7),
            Device::Random => (1, 8),
            Device::Urandom => (1, 9),
        }
    }
}

/// What an open file description refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// One of the host's standard streams (the guest's terminal or pipe).
    Stdio(Stdio),
    /// A file, directory or symlink (O_PATH) in the vfs.
    Inode(Ino),
    Device(Device),
    /// One end of a pipe (pipe2, or a FIFO opened by path).
    Pipe(crate::pipe::PipeEnd),
    /// A /proc file, with the contents generated when it was opened.
    Proc(crate::procfs::ProcFile),
    /// An epoll instance (epoll_create1).
    Epoll(Shared<crate::syscalls::epoll::Epoll>),
    /// An eventfd counter (eventfd2).
    EventFd(Shared<crate::syscalls::epoll::EventFd>),
    /// A socket (socket.rs).
    Socket(Shared<crate::socket::Socket>),
    /// A timer (timerfd_create).
    TimerFd(Shared<crate::syscalls::timerfd::TimerFd>),
    /// A signal mask read as a descriptor (signalfd4).
    SignalFd(Shared<crate::syscalls::signalfd::SignalFd>),
    /// Filesystem events read as a descriptor (inotify_init1).
    Inotify(Shared<crate::inotify::Instance>),
    /// A process named by a descriptor (pidfd_open): its pid.
    PidFd(crate::process::Pid),
    /// A terminal: the console or a pty's slave side, or a pty master (tty/).
    Tty(crate::tty::TtyEnd),
}

/// A kernel object an open file description refers to (an epoll set, an eventfd counter),
/// compared by identity.
#[derive(Debug, Default)]
pub struct Shared<T>(pub Rc<RefCell<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T> Eq for Shared<T> {}

#[derive(Debug)]
pub struct OpenFile {
    pub kind: FileKind,
    /// open(2) status flags: the access mode, O_APPEND, O_NONBLOCK...
    pub flags: u32,
    pub offset: u64,
    /// The path it was opened by (for /proc/self/fd and diagnostics).
    pub path: Vec<u8>,
    /// For edge-triggered epoll (epoll.rs): how often a reader, a writer, was sent away to
    /// wait for more (EAGAIN, or fewer bytes than asked).
    pub edges: crate::syscalls::epoll::Edges,
    /// inotify's registry, for a file opened by open(2): its last close is an event
    /// (IN_CLOSE_WRITE or IN_CLOSE_NOWRITE).
    /// (And whether it is a directory: IN_ISDIR.)
    pub notify: Option<(crate::inotify::RegistryRef, bool)>,
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if let (Some((reg, dir)), FileKind::Inode(ino)) = (&self.notify, &self.kind)
            && let Ok(mut reg) = reg.try_borrow_mut()
        {
            // O_ACCMODE: opened for writing (O_WRONLY or O_RDWR).
            reg.closed(*ino, self.flags & 3 != 0, *dir);
        }
    }
}

pub type FileRef = Rc<RefCell<OpenFile>>;

#[derive(Clone, Debug)]
pub struct FdEntry {
    pub file: FileRef,
    pub cloexec: bool,
}

/// RLIMIT_NOFILE's usual soft limit.
pub const NOFILE_MAX: i32 = 1024;

#[derive(Clone, Debug)]
pub struct FdTable {
    fds: BTreeMap<i32, FdEntry>,
    /// RLIMIT_NOFILE's soft limit: descriptors are below it.
    limit: i32,
}

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            fds: BTreeMap::new(),
            limit: NOFILE_MAX,
        }
    }
}

impl FdTable {
    /// RLIMIT_NOFILE's soft limit (setrlimit): new descriptors must be below it; those
    /// already open above it stay open, as on Linux.
    pub fn set_limit(&mut self, soft: u64) {
        self.limit = soft.min(crate::limits::NR_OPEN) as i32;
    }

    /// The soft limit new descriptors must stay below.
    pub fn limit(&self) -> i32 {
        self.limit
    }

    pub fn get(&self, fd: i32) -> Result<&FdEntry, Errno> {
        self.fds.get(&fd).ok_or(Errno::EBADF)
    }
    pub fn get_mut(&mut self, fd: i32) -> Result<&mut FdEntry, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::EBADF)
    }
    pub fn file(&self, fd: i32) -> Result<FileRef, Errno> {
        Ok(self.get(fd)?.file.clone())
    }

    /// Install at the lowest free descriptor >= `min` (open(2) and F_DUPFD): EMFILE when
    /// none is below the limit, EINVAL when `min` itself is not (fcntl(2) F_DUPFD).
    pub fn insert_from(&mut self, min: i32, entry: FdEntry) -> Result<i32, Errno> {
        if min >= self.limit {
            return Err(Errno::EINVAL);
        }
        let mut fd = min;
        for (&used, _) in self.fds.range(min..) {
            if used != fd {
                break;
            }
            fd += 1;
        }
        if fd >= self.limit {
            return Err(Errno::EMFILE);
        }
        self.fds.insert(fd, entry);
        Ok(fd)
    }

    pub fn insert(&mut self, entry: FdEntry) -> Result<i32, Errno> {
        if self.limit <= 0 {
            return Err(Errno::EMFILE);
        }
        self.insert_from(0, entry)
    }

    /// Install at exactly `fd`, closing what was there (dup2/dup3): EBADF at or past the
    /// limit.
    pub fn insert_at(&mut self, fd: i32, entry: FdEntry) -> Result<(), Errno> {
        if !(0..self.limit).contains(&fd) {
            return Err(Errno::EBADF);
        }
        self.fds.insert(fd, entry);
        Ok(())
    }

    pub fn remove(&mut self, fd: i32) -> Result<FdEntry, Errno> {
        self.fds.remove(&fd).ok_or(Errno::EBADF)
    }

    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> {
        self.fds.iter().map(|(&fd, e)| (fd, e))
    }

    /// Close the FD_CLOEXEC descriptors (execve); the caller releases their locks.
    #[must_use]
    pub fn remove_cloexec(&mut self) -> Vec<FdEntry> {
        let doomed: Vec<i32> = self
            .fds
            .iter()
            .filter(|(_, e)| e.cloexec)
            .map(|(&fd, _)| fd)
            .collect();
        doomed
            .into_iter()
            .filter_map(|fd| self.fds.remove(&fd))
            .collect()
    }

    /// Close the descriptors in [first, last] (close_range(2)).
    pub fn remove_range(&mut self, first: i32, last: i32) {
        let doomed: Vec<i32> = self.fds.range(first..=last).map(|(&fd, _)| fd).collect();
        for fd in doomed {
            self.fds.remove(&fd);
        }
    }
}

/// A descriptor for an object on Linux's anonymous-inode filesystem (epoll, eventfd,
/// timerfd, signalfd, pidfd): open O_RDWR (`flags` adds O_NONBLOCK), named
/// `anon_inode:[NAME]` in /proc/self/fd.
pub fn install_anon(
    fds: &mut FdTable,
    kind: FileKind,
    name: &str,
    flags: u32,
    cloexec: bool,
) -> Result<i32, Errno> {
    let file = new_file(kind, 2 | flags, format!("anon_inode:[{name}]").into_bytes());
    fds.insert(FdEntry { file, cloexec })
}

pub fn new_file(kind: FileKind, flags: u32, path: Vec<u8>) -> FileRef {
    Rc::new(RefCell::new(OpenFile {
        kind,
        flags,
        offset: 0,
        path,
        edges: Default::default(),
        notify: None,
    }))
}
