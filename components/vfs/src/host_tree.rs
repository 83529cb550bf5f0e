//! `HostTree`: a `TreeSource` over a directory of the host's filesystem, for the hosts that
//! serve `friscy:vfs/tree` (the native host's `friscy run --rootfs DIR` and the containerd
//! shim, which point it at the snapshot containerd unpacked) and for native tests.
//!
//! Nothing here follows a symlink or leaves the tree: every open walks from the root one
//! component at a time with O_NOFOLLOW (a component that became a symlink fails with
//! ENOTDIR or ELOOP), and the components are names this tree listed itself. Entries are
//! lstat(2)s, so modes, owners, device numbers and hard-link identity are the host's. Only
//! reads: the tree is never changed.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use rustix::fs::{AtFlags, Dir, Mode, OFlags, Stat, openat, readlinkat, statat};

use crate::{Errno, Timespec, TreeEntry, TreeSource};

/// The most one `read` hands over, whatever is asked for.
const MAX_READ: u32 = 4 << 20;
/// How many files stay open between reads.
const OPEN_FILES: usize = 16;

/// A host directory served as a tree. Handles are 1 + an index into the paths listed so far
/// (the root is 1).
pub struct HostTree {
    root: OwnedFd,
    /// Paths relative to the root, as components, of the directories and regular files
    /// listed so far; handle `h` is `paths[h - 1]`.
    paths: Mutex<Vec<Vec<Vec<u8>>>>,
    /// The most recently read files, newest last.
    open: Mutex<Vec<(u64, File)>>,
}

fn errno(e: impl Into<io::Error>) -> Errno {
    let e: io::Error = e.into();
    e.raw_os_error()
        .and_then(|n| u16::try_from(n).ok())
        .and_then(Errno::from_raw)
        .unwrap_or(Errno::EIO)
}

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec {
        sec,
        nsec: nsec.clamp(0, 999_999_999) as u32,
    }
}

// The field types of `struct stat` differ between architectures (and rustix backends):
// every conversion below is a widening or same-width one on Linux.
#[allow(clippy::unnecessary_cast)]
fn entry(name: &[u8], st: &Stat, handle: u64, target: Vec<u8>) -> TreeEntry {
    TreeEntry {
        name: name.to_vec(),
        handle,
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        mode: st.st_mode as u32,
        nlink: st.st_nlink.min(u32::MAX as _) as u32,
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        rdev: st.st_rdev as u64,
        size: st.st_size.max(0) as u64,
        atime: ts(st.st_atime as i64, st.st_atime_nsec as i64),
        mtime: ts(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctime: ts(st.st_ctime as i64, st.st_ctime_nsec as i64),
        target,
    }
}

impl HostTree {
    /// Serve the directory at `path` (symlinks to it are followed once, here).
    pub fn open(path: &Path) -> io::Result<HostTree> {
        let root = openat(
            rustix::fs::CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(HostTree {
            root,
            paths: Mutex::new(vec![Vec::new()]),
            open: Mutex::new(Vec::new()),
        })
    }

    fn path(&self, handle: u64) -> Result<Vec<Vec<u8>>, Errno> {
        let paths = self.paths.lock().unwrap_or_else(|p| p.into_inner());
        usize::try_from(handle)
            .ok()
            .and_then(|h| h.checked_sub(1))
            .and_then(|i| paths.get(i))
            .cloned()
            .ok_or(Errno::EBADF)
    }

    fn remember(&self, path: Vec<Vec<u8>>) -> u64 {
        let mut paths = self.paths.lock().unwrap_or_else(|p| p.into_inner());
        paths.push(path);
        paths.len() as u64
    }

    /// Open `path` below the root: directories on the way with O_NOFOLLOW|O_DIRECTORY, the
    /// last one with `flags`|O_NOFOLLOW.
    fn open_below(&self, path: &[Vec<u8>], flags: OFlags) -> Result<OwnedFd, Errno> {
        let Some((last, dirs)) = path.split_last() else {
            return openat(&self.root, ".", flags | OFlags::CLOEXEC, Mode::empty()).map_err(errno);
        };
        let mut dir: Option<OwnedFd> = None;
        for name in dirs {
            let at: BorrowedFd<'_> = dir.as_ref().map_or(self.root.as_fd(), |d| d.as_fd());
            let next = openat(
                at,
                OsStr::from_bytes(name),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno)?;
            dir = Some(next);
        }
        let at: BorrowedFd<'_> = dir.as_ref().map_or(self.root.as_fd(), |d| d.as_fd());
        openat(
            at,
            OsStr::from_bytes(last),
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)
    }

    /// The open file for `handle`, opened now if it is not among the recent ones.
    fn with_file<T>(&self, handle: u64, f: impl FnOnce(&File) -> T) -> Result<T, Errno> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = open.iter().position(|(h, _)| *h == handle) {
            let entry = open.remove(i);
            open.push(entry);
        } else {
            let path = self.path(handle)?;
            // O_NONBLOCK: should a listed file have been replaced by a FIFO, the open must
            // not wait for a writer; the check below then refuses it.
            let fd = self.open_below(&path, OFlags::RDONLY | OFlags::NONBLOCK)?;
            let file = File::from(fd);
            if !file.metadata().map_err(errno)?.is_file() {
                return Err(Errno::EIO);
            }
            if open.len() >= OPEN_FILES {
                open.remove(0);
            }
            open.push((handle, file));
        }
        let (_, file) = open.last().expect("pushed above");
        Ok(f(file))
    }
}

impl TreeSource for HostTree {
    fn root(&self) -> Result<TreeEntry, String> {
        let st = rustix::fs::fstat(&self.root).map_err(|e| format!("stat of the root: {e}"))?;
        Ok(entry(b"", &st, 1, Vec::new()))
    }

    fn list_dir(&self, dir: u64) -> Result<Vec<TreeEntry>, Errno> {
        let path = self.path(dir)?;
        let fd = self.open_below(&path, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut names = Vec::new();
        for item in Dir::read_from(&fd).map_err(errno)? {
            let item = item.map_err(errno)?;
            let name = item.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        // The host's order is arbitrary (hash order on ext4): sort, so that listings and
        // inode numbers are the same on every run.
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let st = match statat(&fd, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Removed since the listing: it is not there.
                Err(rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(errno(e)),
            };
            let kind = st.st_mode as u32 & friscy_abi::mode::S_IFMT;
            let (handle, target) = match kind {
                friscy_abi::mode::S_IFDIR | friscy_abi::mode::S_IFREG => {
                    let mut sub = path.clone();
                    sub.push(name.clone());
                    (self.remember(sub), Vec::new())
                }
                friscy_abi::mode::S_IFLNK => {
                    let target =
                        readlinkat(&fd, OsStr::from_bytes(&name), Vec::new()).map_err(errno)?;
                    (0, target.into_bytes())
                }
                _ => (0, Vec::new()),
            };
            out.push(entry(&name, &st, handle, target));
        }
        Ok(out)
    }

    fn read(&self, file: u64, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        let len = len.min(MAX_READ) as usize;
        self.with_file(file, |f| {
            let mut buf = vec![0; len];
            let mut done = 0;
            while done < len {
                match f.read_at(&mut buf[done..], offset + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(errno(e)),
                }
            }
            buf.truncate(done);
            Ok(buf)
        })?
    }
}
