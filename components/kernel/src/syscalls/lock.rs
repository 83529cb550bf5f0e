//! Advisory file locks: fcntl(2) record locks (F_GETLK, F_SETLK, F_SETLKW), open file
//! description locks (F_OFD_*), and flock(2).
//!
//! As in Linux: POSIX record locks belong to a process and go away when it closes any
//! descriptor of the file; OFD locks and flock locks belong to an open file description
//! and go away when its last descriptor closes. Locks of one owner never conflict with
//! each other; record locks (POSIX and OFD) conflict with each other; flock locks live in
//! their own namespace. A blocking request (F_SETLKW, F_OFD_SETLKW, flock without
//! LOCK_NB) that meets a conflicting lock parks until some syscall completes and then
//! tries again, as long as someone else can release that lock (another process, or another
//! thread of ours); when only the waiting thread itself could, the wait could never end and
//! the request fails with EDEADLK.

use std::collections::HashMap;
use std::rc::Rc;

use friscy_abi::Errno;

use super::fs::{O_ACCMODE, O_PATH, O_WRONLY, fd_arg};
use super::{Args, SysResult};
use crate::fd::{Device, FileKind, FileRef};
use crate::host::Stdio;
use crate::{Kernel, Process};

pub const F_GETLK: u64 = 5;
pub const F_SETLK: u64 = 6;
pub const F_SETLKW: u64 = 7;
pub const F_OFD_GETLK: u64 = 36;
pub const F_OFD_SETLK: u64 = 37;
pub const F_OFD_SETLKW: u64 = 38;

const F_RDLCK: u16 = 0;
const F_WRLCK: u16 = 1;
const F_UNLCK: u16 = 2;

const LOCK_SH: u64 = 1;
const LOCK_EX: u64 = 2;
const LOCK_NB: u64 = 4;
const LOCK_UN: u64 = 8;

/// The largest offset (OFFSET_MAX): a lock with l_len 0 reaches it.
const OFFSET_MAX: u64 = i64::MAX as u64;

/// Who holds a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Owner {
    /// A process's record lock (F_SETLK).
    Posix(i32),
    /// An open file description's record lock (F_OFD_SETLK), by the description's address.
    Ofd(usize),
    /// An open file description's flock(2) lock.
    Flock(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Lock {
    owner: Owner,
    /// Inclusive byte range.
    start: u64,
    end: u64,
    write: bool,
}

impl Lock {
    fn conflicts(&self, owner: Owner, start: u64, end: u64, write: bool) -> bool {
        let flock = |o| matches!(o, Owner::Flock(_));
        self.owner != owner
            && flock(self.owner) == flock(owner)
            && self.start <= end
            && start <= self.end
            && (write || self.write)
    }
}

/// Every lock held, by file.
#[derive(Default)]
pub struct LockTable {
    files: HashMap<u64, Vec<Lock>>,
}

impl LockTable {
    fn conflict(&self, key: u64, owner: Owner, start: u64, end: u64, write: bool) -> Option<Lock> {
        self.files
            .get(&key)?
            .iter()
            .find(|l| l.conflicts(owner, start, end, write))
            .copied()
    }

    /// Replace `owner`'s locks over [start, end] with `new` (None unlocks), splitting the
    /// ranges it cuts and merging neighbours of the same type, as posix_lock_inode does.
    fn set(&mut self, key: u64, owner: Owner, start: u64, end: u64, new: Option<bool>) {
        let locks = self.files.entry(key).or_default();
        let mut kept = Vec::with_capacity(locks.len() + 2);
        for l in locks.drain(..) {
            if l.owner != owner || l.end < start || l.start > end {
                kept.push(l);
                continue;
            }
            if l.start < start {
                kept.push(Lock {
                    end: start - 1,
                    ..l
                });
            }
            if l.end > end {
                kept.push(Lock {
                    start: end + 1,
                    ..l
                });
            }
        }
        if let Some(write) = new {
            let mut lock = Lock {
                owner,
                start,
                end,
                write,
            };
            // Coalesce with adjacent locks of the same owner and type.
            kept.retain(|l| {
                let touches = l.owner == owner
                    && l.write == write
                    && l.start <= lock.end.saturating_add(1)
                    && lock.start <= l.end.saturating_add(1);
                if touches {
                    lock.start = lock.start.min(l.start);
                    lock.end = lock.end.max(l.end);
                }
                !touches
            });
            kept.push(lock);
        }
        kept.sort_by_key(|l| l.start);
        if kept.is_empty() {
            self.files.remove(&key);
        } else {
            *locks = kept;
        }
    }

    /// A descriptor of `file` was closed by process `pid` (close, dup2 over it,
    /// close_range, exit): POSIX locks of that process on the file go, and the
    /// description's own locks go with its last descriptor.
    pub fn closed(&mut self, pid: i32, file: &FileRef) {
        let Some(key) = lock_key(&file.borrow().kind) else {
            return;
        };
        let id = Rc::as_ptr(file) as usize;
        let last = Rc::strong_count(file) == 1;
        if let Some(locks) = self.files.get_mut(&key) {
            locks.retain(|l| match l.owner {
                Owner::Posix(p) => p != pid,
                Owner::Ofd(d) | Owner::Flock(d) => !(last && d == id),
            });
            if locks.is_empty() {
                self.files.remove(&key);
            }
        }
    }
}

impl LockTable {
    /// Process `pid` ends (or drops its table): every descriptor closes, one by one, so a
    /// description shared by two of them loses its locks with the last.
    pub fn close_all(&mut self, pid: i32, mut fds: crate::fd::FdTable) {
        let all: Vec<i32> = fds.iter().map(|(fd, _)| fd).collect();
        for fd in all {
            if let Ok(entry) = fds.remove(fd) {
                self.closed(pid, &entry.file);
            }
        }
    }
}

/// The identity locks hang on: the inode, or a stream or device the kernel serves.
fn lock_key(kind: &FileKind) -> Option<u64> {
    Some(match kind {
        FileKind::Inode(ino) => *ino,
        FileKind::Proc(pf) => pf.ino,
        // A FIFO by its inode, other pipes by their id, in a range no inode number reaches.
        FileKind::Pipe(crate::pipe::PipeEnd {
            fifo: Some(ino), ..
        }) => *ino,
        FileKind::Pipe(end) => (1 << 61) | end.pipe.borrow().id,
        // Anonymous inodes by their object's address, also out of the inode range.
        FileKind::Epoll(e) => (1 << 60) | (std::rc::Rc::as_ptr(&e.0) as usize as u64 >> 3),
        FileKind::EventFd(e) => (1 << 60) | (std::rc::Rc::as_ptr(&e.0) as usize as u64 >> 3),
        FileKind::Socket(s) => (1 << 60) | (std::rc::Rc::as_ptr(&s.0) as usize as u64 >> 3),
        FileKind::TimerFd(t) => (1 << 60) | (std::rc::Rc::as_ptr(&t.0) as usize as u64 >> 3),
        FileKind::SignalFd(s) => (1 << 60) | (std::rc::Rc::as_ptr(&s.0) as usize as u64 >> 3),
        FileKind::Inotify(i) => (1 << 60) | (std::rc::Rc::as_ptr(&i.0) as usize as u64 >> 3),
        // A pidfd by its pid, in a range of its own.
        FileKind::PidFd(pid) => (1 << 59) | *pid as u64,
        FileKind::Tty(t) => (1 << 60) | (std::rc::Rc::as_ptr(&t.tty) as usize as u64 >> 3),
        FileKind::Stdio(s) => {
            u64::MAX
                - match s {
                    Stdio::In => 0,
                    Stdio::Out => 1,
                    Stdio::Err => 2,
                }
        }
        FileKind::Device(d) => {
            u64::MAX
                - 16
                - match d {
                    Device::Null => 0,
                    Device::Zero => 1,
                    Device::Full => 2,
                    Device::Random => 3,
                    Device::Urandom => 4,
                }
        }
    })
}

/// struct flock on riscv64: l_type (i16), l_whence (i16), pad, l_start (i64),
/// l_len (i64), l_pid (i32), pad: 32 bytes.
struct Flock {
    ltype: u16,
    whence: u16,
    start: i64,
    len: i64,
    pid: i32,
}

impl Flock {
    fn decode(b: &[u8]) -> Flock {
        let i64_at = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        Flock {
            ltype: u16::from_le_bytes([b[0], b[1]]),
            whence: u16::from_le_bytes([b[2], b[3]]),
            start: i64_at(8),
            len: i64_at(16),
            pid: i32::from_le_bytes(b[24..28].try_into().unwrap()),
        }
    }

    fn encode(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&self.ltype.to_le_bytes());
        b[2..4].copy_from_slice(&self.whence.to_le_bytes());
        b[8..16].copy_from_slice(&self.start.to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b[24..28].copy_from_slice(&self.pid.to_le_bytes());
    }
}

impl Kernel {
    /// The inclusive byte range a struct flock names (flock_to_posix_lock).
    fn lock_range(&mut self, p: &Process, file: &FileRef, fl: &Flock) -> Result<(u64, u64), Errno> {
        let base: i64 = match fl.whence {
            0 => 0,
            1 => file.borrow().offset as i64,
            2 => match &file.borrow().kind {
                FileKind::Inode(ino) => self.stat_ino(p, *ino)?.size as i64,
                FileKind::Proc(pf) => pf.data.len() as i64,
                _ => 0,
            },
            _ => return Err(Errno::EINVAL),
        };
        let mut start = base.checked_add(fl.start).ok_or(Errno::EOVERFLOW)?;
        if start < 0 {
            return Err(Errno::EINVAL);
        }
        let end = match fl.len {
            0 => OFFSET_MAX as i64,
            len if len > 0 => start.checked_add(len - 1).ok_or(Errno::EOVERFLOW)?,
            len => {
                let end = start - 1;
                start += len;
                if start < 0 {
                    return Err(Errno::EINVAL);
                }
                end
            }
        };
        Ok((start as u64, end as u64))
    }
}

/// fcntl's lock commands (fs.rs's sys_fcntl hands them here).
pub fn fcntl_lock(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, cmd, arg) = (fd_arg(a[0]), a[1], a[2]);
    let file = p.fds.file(fd)?;
    let raw = k.read_user(p, arg, 32)?;
    let mut fl = Flock::decode(&raw);
    let ofd = matches!(cmd, F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW);
    // fcntl(2): OFD requests must have l_pid 0.
    if ofd && fl.pid != 0 {
        return Err(Errno::EINVAL);
    }
    let owner = if ofd {
        Owner::Ofd(Rc::as_ptr(&file) as usize)
    } else {
        Owner::Posix(p.pid)
    };
    let key = lock_key(&file.borrow().kind).ok_or(Errno::EBADF)?;
    let (start, end) = k.lock_range(p, &file, &fl)?;
    match cmd {
        F_GETLK | F_OFD_GETLK => {
            let write = match fl.ltype {
                F_RDLCK => false,
                F_WRLCK => true,
                _ => return Err(Errno::EINVAL),
            };
            match k.locks.conflict(key, owner, start, end, write) {
                Some(l) => {
                    fl.ltype = if l.write { F_WRLCK } else { F_RDLCK };
                    fl.whence = 0;
                    fl.start = l.start as i64;
                    fl.len = if l.end == OFFSET_MAX {
                        0
                    } else {
                        (l.end - l.start + 1) as i64
                    };
                    fl.pid = match l.owner {
                        Owner::Posix(pid) => pid,
                        _ => -1,
                    };
                }
                None => fl.ltype = F_UNLCK,
            }
            let mut out = raw;
            fl.encode(&mut out);
            k.write_user(p, arg, &out)?;
            Ok(0)
        }
        _ => {
            let flags = file.borrow().flags;
            let new = match fl.ltype {
                // A read lock needs the file open for reading, a write lock for writing.
                F_RDLCK if flags & O_ACCMODE == O_WRONLY || flags & O_PATH != 0 => {
                    return Err(Errno::EBADF);
                }
                F_WRLCK if flags & O_ACCMODE == 0 || flags & O_PATH != 0 => {
                    return Err(Errno::EBADF);
                }
                F_RDLCK => Some(false),
                F_WRLCK => Some(true),
                F_UNLCK => None,
                _ => return Err(Errno::EINVAL),
            };
            if let Some(write) = new
                && let Some(held) = k.locks.conflict(key, owner, start, end, write)
            {
                if !matches!(cmd, F_SETLKW | F_OFD_SETLKW) {
                    return Err(Errno::EAGAIN);
                }
                return wait_for(k, p, held.owner);
            }
            k.locks.set(key, owner, start, end, new);
            Ok(0)
        }
    }
}

/// A blocking lock request met `holder`'s lock: park (the whole call runs again after
/// any syscall completes, which is when a lock can have been released), or EDEADLK when
/// nobody but the caller could ever release it.
fn wait_for(k: &mut Kernel, p: &mut Process, holder: Owner) -> SysResult {
    let others_can_release = match holder {
        Owner::Posix(pid) => pid != p.pid,
        // A description's lock: anyone holding a descriptor of it may unlock or close it.
        Owner::Ofd(d) | Owner::Flock(d) => {
            p.threads.len() > 1
                || k.procs
                    .values()
                    .any(|q| q.fds.iter().any(|(_, e)| Rc::as_ptr(&e.file) as usize == d))
        }
    };
    if !others_can_release {
        return Err(Errno::EDEADLK);
    }
    // SA_RESTART restarts it after a handler, as Linux's -ERESTARTSYS from fcntl/flock.
    k.park(p, crate::process::Wake::Event, None, true)
}

pub fn sys_flock(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, op) = (fd_arg(a[0]), a[1]);
    let file = p.fds.file(fd)?;
    // flock(2): EBADF for an O_PATH descriptor.
    if file.borrow().flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let new = match op & !LOCK_NB {
        LOCK_SH => Some(false),
        LOCK_EX => Some(true),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    let key = lock_key(&file.borrow().kind).ok_or(Errno::EBADF)?;
    let owner = Owner::Flock(Rc::as_ptr(&file) as usize);
    if let Some(write) = new
        && let Some(held) = k.locks.conflict(key, owner, 0, OFFSET_MAX, write)
    {
        if op & LOCK_NB != 0 {
            return Err(Errno::EWOULDBLOCK);
        }
        return wait_for(k, p, held.owner);
    }
    k.locks.set(key, owner, 0, OFFSET_MAX, new);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_splits_and_merges_ranges() {
        let mut t = LockTable::default();
        let me = Owner::Posix(1);
        t.set(7, me, 0, 99, Some(true));
        t.set(7, me, 10, 19, None);
        assert_eq!(t.files[&7].len(), 2);
        t.set(7, me, 10, 19, Some(true));
        assert_eq!(t.files[&7].len(), 1, "{:?}", t.files[&7]);
        let other = Owner::Ofd(5);
        assert!(t.conflict(7, other, 50, 50, false).is_some());
        assert!(t.conflict(7, me, 50, 50, true).is_none());
        assert!(t.conflict(7, Owner::Flock(5), 0, 1, true).is_none());
        t.set(7, me, 0, OFFSET_MAX, None);
        assert!(t.files.is_empty());
    }
}
