//! [`HostDir`] over a `wasi:filesystem` preopen: how `wasmtime run --dir HOST::/data` and
//! `friscy run -v HOST:/data` reach the host from inside the component.
//!
//! Every call works on the preopen's descriptor with a relative path that `Mounts` has
//! already checked (plain names, each a directory), and wasi:filesystem itself refuses
//! anything that would leave the preopen, so a guest cannot escape twice over.
//!
//! wasi:filesystem has no permission bits, owners or chmod: nodes are reported as owned by
//! root, directories 0755 and files 0755 (a script on a mount must stay runnable, and the
//! host decides what may really be written); chmod on a mount fails with EPERM rather than
//! pretend.

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK};
use friscy_vfs::Timespec;

use crate::bindings::wasi::filesystem::types::{
    Datetime, Descriptor, DescriptorFlags, DescriptorType, ErrorCode, NewTimestamp, OpenFlags,
    PathFlags,
};
use crate::mounts::{HostDir, HostStat};

pub struct WasiDir {
    root: Descriptor,
    /// A read-only preopen (`--dir` read-only, `friscy run -v HOST:GUEST:ro`): the host
    /// refuses changes with not-permitted, which Linux reports as EROFS on such a mount.
    read_only: bool,
}

impl WasiDir {
    pub fn new(root: Descriptor) -> WasiDir {
        // A preopen the guest may change has mutate-directory (wasmtime gives it to
        // read-write preopens only).
        let read_only = root
            .get_flags()
            .is_ok_and(|f| f.bits() & DescriptorFlags::MUTATE_DIRECTORY.bits() == 0);
        WasiDir { root, read_only }
    }

    fn open(&self, rel: &str, write: bool) -> Result<Descriptor, Errno> {
        let mut flags = DescriptorFlags::READ;
        if write {
            flags = DescriptorFlags::WRITE;
        }
        self.root
            .open_at(PathFlags::empty(), path(rel), OpenFlags::empty(), flags)
            .map_err(|e| self.change_errno(e, write))
    }

    /// The errno of a failed change (or of an open for writing): on a read-only mount the
    /// host's refusal is EROFS, as mount(2)'s MS_RDONLY gives on Linux.
    fn change_errno(&self, e: ErrorCode, change: bool) -> Errno {
        match e {
            ErrorCode::NotPermitted | ErrorCode::ReadOnly if change && self.read_only => {
                Errno::EROFS
            }
            e => errno(e),
        }
    }
}

/// The preopen itself is ".": wasi:filesystem paths are relative to the descriptor.
fn path(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

/// The Linux errno for a wasi:filesystem error code.
pub(crate) fn errno(e: ErrorCode) -> Errno {
    use ErrorCode as E;
    match e {
        E::Access => Errno::EACCES,
        E::WouldBlock => Errno::EAGAIN,
        E::Already => Errno::EALREADY,
        E::BadDescriptor => Errno::EBADF,
        E::Busy => Errno::EBUSY,
        E::Deadlock => Errno::EDEADLK,
        E::Quota => Errno::EDQUOT,
        E::Exist => Errno::EEXIST,
        E::FileTooLarge => Errno::EFBIG,
        E::IllegalByteSequence => Errno::EILSEQ,
        E::InProgress => Errno::EINPROGRESS,
        E::Interrupted => Errno::EINTR,
        E::Invalid => Errno::EINVAL,
        E::Io => Errno::EIO,
        E::IsDirectory => Errno::EISDIR,
        E::Loop => Errno::ELOOP,
        E::TooManyLinks => Errno::EMLINK,
        E::MessageSize => Errno::EMSGSIZE,
        E::NameTooLong => Errno::ENAMETOOLONG,
        E::NoDevice => Errno::ENODEV,
        E::NoEntry => Errno::ENOENT,
        E::NoLock => Errno::ENOLCK,
        E::InsufficientMemory => Errno::ENOMEM,
        E::InsufficientSpace => Errno::ENOSPC,
        E::NotDirectory => Errno::ENOTDIR,
        E::NotEmpty => Errno::ENOTEMPTY,
        E::NotRecoverable => Errno::EIO,
        E::Unsupported => Errno::EOPNOTSUPP,
        E::NoTty => Errno::ENOTTY,
        E::NoSuchDevice => Errno::ENXIO,
        E::Overflow => Errno::EOVERFLOW,
        E::NotPermitted => Errno::EPERM,
        E::Pipe => Errno::EPIPE,
        E::ReadOnly => Errno::EROFS,
        E::InvalidSeek => Errno::ESPIPE,
        E::TextFileBusy => Errno::ETXTBSY,
        E::CrossDevice => Errno::EXDEV,
    }
}

fn ts(t: Option<Datetime>) -> Timespec {
    t.map(|d| Timespec {
        sec: d.seconds as i64,
        nsec: d.nanoseconds,
    })
    .unwrap_or_default()
}

fn new_ts(t: Option<Timespec>) -> NewTimestamp {
    match t {
        None => NewTimestamp::NoChange,
        Some(t) => NewTimestamp::Timestamp(Datetime {
            seconds: t.sec.max(0) as u64,
            nanoseconds: t.nsec,
        }),
    }
}

impl HostDir for WasiDir {
    fn stat(&mut self, rel: &str) -> Result<HostStat, Errno> {
        let s = self
            .root
            .stat_at(PathFlags::empty(), path(rel))
            .map_err(errno)?;
        let mode = match s.type_ {
            DescriptorType::Directory => S_IFDIR | 0o755,
            DescriptorType::SymbolicLink => S_IFLNK | 0o777,
            DescriptorType::Fifo => S_IFIFO | 0o644,
            DescriptorType::Socket => S_IFSOCK | 0o755,
            DescriptorType::CharacterDevice => S_IFCHR | 0o644,
            DescriptorType::BlockDevice => S_IFBLK | 0o644,
            DescriptorType::RegularFile | DescriptorType::Unknown => S_IFREG | 0o755,
        };
        Ok(HostStat {
            mode,
            nlink: s.link_count.min(u32::MAX as u64) as u32,
            uid: 0,
            gid: 0,
            size: s.size,
            atime: ts(s.data_access_timestamp),
            mtime: ts(s.data_modification_timestamp),
            ctime: ts(s.status_change_timestamp),
        })
    }

    fn read(&mut self, rel: &str, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        let f = self.open(rel, false)?;
        let mut out = Vec::with_capacity(len as usize);
        // A host may return fewer bytes than asked before the end: keep reading.
        while out.len() < len as usize {
            let want = len as u64 - out.len() as u64;
            let (chunk, end) = f.read(want, offset + out.len() as u64).map_err(errno)?;
            out.extend_from_slice(&chunk);
            if end || chunk.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    fn write(&mut self, rel: &str, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let f = self.open(rel, true)?;
        let mut done = 0usize;
        while done < data.len() {
            let n = f
                .write(&data[done..], offset + done as u64)
                .map_err(|e| self.change_errno(e, true))?;
            if n == 0 {
                return Err(Errno::EIO);
            }
            done += n as usize;
        }
        Ok(done as u32)
    }

    fn list(&mut self, rel: &str) -> Result<Vec<String>, Errno> {
        let dir = self
            .root
            .open_at(
                PathFlags::empty(),
                path(rel),
                OpenFlags::DIRECTORY,
                DescriptorFlags::READ,
            )
            .map_err(errno)?;
        let stream = dir.read_directory().map_err(errno)?;
        let mut names = Vec::new();
        while let Some(e) = stream.read_directory_entry().map_err(errno)? {
            names.push(e.name);
        }
        Ok(names)
    }

    fn readlink(&mut self, rel: &str) -> Result<Vec<u8>, Errno> {
        // wasmtime refuses to show an absolute target (not-permitted): such a link cannot
        // be followed from inside the mount, which Linux would allow; reported as EPERM.
        self.root
            .readlink_at(path(rel))
            .map(String::into_bytes)
            .map_err(errno)
    }

    fn create_file(&mut self, rel: &str, _mode: u32) -> Result<(), Errno> {
        self.root
            .open_at(
                PathFlags::empty(),
                path(rel),
                OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                DescriptorFlags::WRITE,
            )
            .map(drop)
            .map_err(|e| self.change_errno(e, true))
    }

    fn mkdir(&mut self, rel: &str, _mode: u32) -> Result<(), Errno> {
        self.root
            .create_directory_at(path(rel))
            .map_err(|e| self.change_errno(e, true))
    }

    fn symlink(&mut self, rel: &str, target: &[u8]) -> Result<(), Errno> {
        let target = std::str::from_utf8(target).map_err(|_| Errno::EINVAL)?;
        self.root
            .symlink_at(target, path(rel))
            .map_err(|e| self.change_errno(e, true))
    }

    fn link(&mut self, old: &str, new: &str) -> Result<(), Errno> {
        self.root
            .link_at(PathFlags::empty(), path(old), &self.root, path(new))
            .map_err(|e| self.change_errno(e, true))
    }

    fn remove(&mut self, rel: &str, dir: bool) -> Result<(), Errno> {
        let r = if dir {
            self.root.remove_directory_at(path(rel))
        } else {
            self.root.unlink_file_at(path(rel))
        };
        r.map_err(|e| self.change_errno(e, true))
    }

    fn rename(&mut self, old: &str, new: &str) -> Result<(), Errno> {
        self.root
            .rename_at(path(old), &self.root, path(new))
            .map_err(|e| self.change_errno(e, true))
    }

    fn set_size(&mut self, rel: &str, size: u64) -> Result<(), Errno> {
        self.open(rel, true)?
            .set_size(size)
            .map_err(|e| self.change_errno(e, true))
    }

    fn set_mode(&mut self, _rel: &str, _mode: u32) -> Result<(), Errno> {
        Err(if self.read_only {
            Errno::EROFS
        } else {
            Errno::EPERM
        })
    }

    fn set_times(
        &mut self,
        rel: &str,
        atime: Option<Timespec>,
        mtime: Option<Timespec>,
    ) -> Result<(), Errno> {
        self.root
            .set_times_at(PathFlags::empty(), path(rel), new_ts(atime), new_ts(mtime))
            .map_err(|e| self.change_errno(e, true))
    }
}
