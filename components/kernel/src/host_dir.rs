//! [`HostDir`] over Rust's `std::fs`, on a real directory: the native implementation, used
//! by the kernel's native tests (and by a future no-Wasm host). The components use
//! `wasi_dir.rs`, on the preopen's descriptor.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFDIR, S_IFLNK, S_IFREG};
use friscy_vfs::Timespec;

use crate::mounts::{HostDir, HostStat};

pub struct StdDir {
    base: PathBuf,
}

impl StdDir {
    pub fn new(base: impl Into<PathBuf>) -> StdDir {
        StdDir { base: base.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.base.clone()
        } else {
            self.base.join(rel)
        }
    }
}

/// The Linux errno for a host error. Natively the OS number is Linux's own; under WASI
/// the numbers are wasi-libc's, so the kind decides.
pub fn errno(e: std::io::Error) -> Errno {
    #[cfg(target_os = "linux")]
    if let Some(n) = e.raw_os_error().and_then(|n| u16::try_from(n).ok())
        && let Some(errno) = Errno::from_raw(n)
    {
        return errno;
    }
    match e.kind() {
        ErrorKind::NotFound => Errno::ENOENT,
        ErrorKind::PermissionDenied => Errno::EACCES,
        ErrorKind::AlreadyExists => Errno::EEXIST,
        ErrorKind::NotADirectory => Errno::ENOTDIR,
        ErrorKind::IsADirectory => Errno::EISDIR,
        ErrorKind::DirectoryNotEmpty => Errno::ENOTEMPTY,
        ErrorKind::ReadOnlyFilesystem => Errno::EROFS,
        ErrorKind::InvalidInput => Errno::EINVAL,
        ErrorKind::CrossesDevices => Errno::EXDEV,
        ErrorKind::InvalidFilename => Errno::ENAMETOOLONG,
        ErrorKind::StorageFull => Errno::ENOSPC,
        ErrorKind::Unsupported => Errno::EOPNOTSUPP,
        ErrorKind::ResourceBusy => Errno::EBUSY,
        _ => Errno::EIO,
    }
}

fn ts(t: std::io::Result<SystemTime>) -> Timespec {
    match t.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => Timespec {
            sec: d.as_secs() as i64,
            nsec: d.subsec_nanos(),
        },
        None => Timespec::default(),
    }
}

fn system_time(t: Timespec) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::new(t.sec.max(0) as u64, t.nsec)
}

impl HostDir for StdDir {
    fn stat(&mut self, rel: &str) -> Result<HostStat, Errno> {
        let m = fs::symlink_metadata(self.path(rel)).map_err(errno)?;
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            S_IFDIR
        } else if ft.is_symlink() {
            S_IFLNK
        } else {
            S_IFREG
        };
        #[cfg(unix)]
        let (mode, nlink, uid, gid) = {
            use std::os::unix::fs::MetadataExt;
            (m.mode(), m.nlink() as u32, m.uid(), m.gid())
        };
        // wasi:filesystem has no permission bits or owners: what a container sees of a
        // directory it may write, owned by root.
        #[cfg(not(unix))]
        let (mode, nlink, uid, gid) = (
            kind | match kind {
                S_IFDIR => 0o755,
                S_IFLNK => 0o777,
                _ => 0o644,
            },
            1,
            0,
            0,
        );
        let _ = kind;
        Ok(HostStat {
            mode,
            nlink,
            uid,
            gid,
            size: m.len(),
            atime: ts(m.accessed()),
            mtime: ts(m.modified()),
            ctime: ts(m.modified()),
        })
    }

    fn read(&mut self, rel: &str, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        let mut f = File::open(self.path(rel)).map_err(errno)?;
        if f.metadata().map_err(errno)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        f.seek(SeekFrom::Start(offset)).map_err(errno)?;
        let mut buf = Vec::with_capacity(len as usize);
        f.take(len as u64).read_to_end(&mut buf).map_err(errno)?;
        Ok(buf)
    }

    fn write(&mut self, rel: &str, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let mut f = OpenOptions::new()
            .write(true)
            .open(self.path(rel))
            .map_err(errno)?;
        f.seek(SeekFrom::Start(offset)).map_err(errno)?;
        f.write_all(data).map_err(errno)?;
        Ok(data.len() as u32)
    }

    fn list(&mut self, rel: &str) -> Result<Vec<String>, Errno> {
        let mut names = Vec::new();
        for e in fs::read_dir(self.path(rel)).map_err(errno)? {
            let e = e.map_err(errno)?;
            // Names that are not UTF-8 cannot be named through wasi:filesystem.
            if let Ok(n) = e.file_name().into_string() {
                names.push(n);
            }
        }
        Ok(names)
    }

    fn readlink(&mut self, rel: &str) -> Result<Vec<u8>, Errno> {
        let t = fs::read_link(self.path(rel)).map_err(errno)?;
        Ok(t.to_string_lossy().into_owned().into_bytes())
    }

    fn create_file(&mut self, rel: &str, mode: u32) -> Result<(), Errno> {
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
        let _ = mode;
        o.open(self.path(rel)).map(drop).map_err(errno)
    }

    fn mkdir(&mut self, rel: &str, mode: u32) -> Result<(), Errno> {
        let _ = mode;
        fs::create_dir(self.path(rel)).map_err(errno)?;
        #[cfg(unix)]
        self.set_mode(rel, mode)?;
        Ok(())
    }

    fn symlink(&mut self, rel: &str, target: &[u8]) -> Result<(), Errno> {
        let target = std::str::from_utf8(target).map_err(|_| Errno::EINVAL)?;
        #[cfg(unix)]
        return std::os::unix::fs::symlink(target, self.path(rel)).map_err(errno);
        // std's WASI symlink is unstable; descriptor symlink-at is the way (not yet).
        #[cfg(not(unix))]
        {
            let _ = (rel, target);
            Err(Errno::EPERM)
        }
    }

    fn link(&mut self, old: &str, new: &str) -> Result<(), Errno> {
        fs::hard_link(self.path(old), self.path(new)).map_err(errno)
    }

    fn remove(&mut self, rel: &str, dir: bool) -> Result<(), Errno> {
        let p = self.path(rel);
        if dir {
            fs::remove_dir(p).map_err(errno)
        } else {
            fs::remove_file(p).map_err(errno)
        }
    }

    fn rename(&mut self, old: &str, new: &str) -> Result<(), Errno> {
        fs::rename(self.path(old), self.path(new)).map_err(errno)
    }

    fn set_size(&mut self, rel: &str, size: u64) -> Result<(), Errno> {
        let f = OpenOptions::new()
            .write(true)
            .open(self.path(rel))
            .map_err(errno)?;
        f.set_len(size).map_err(errno)
    }

    fn set_mode(&mut self, rel: &str, mode: u32) -> Result<(), Errno> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode)).map_err(errno)
        }
        // No permission bits in wasi:filesystem: accepted, without effect.
        #[cfg(not(unix))]
        {
            let _ = (rel, mode);
            Ok(())
        }
    }

    fn set_times(
        &mut self,
        rel: &str,
        atime: Option<Timespec>,
        mtime: Option<Timespec>,
    ) -> Result<(), Errno> {
        let f = File::options()
            .write(true)
            .open(self.path(rel))
            .or_else(|_| File::open(self.path(rel)))
            .map_err(errno)?;
        let mut t = fs::FileTimes::new();
        if let Some(a) = atime {
            t = t.set_accessed(system_time(a));
        }
        if let Some(m) = mtime {
            t = t.set_modified(system_time(m));
        }
        f.set_times(t).map_err(errno)
    }
}
