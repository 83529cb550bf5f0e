//! File syscalls: opening, reading, writing, seeking, stat, directories, links, the
//! descriptor table (dup, fcntl) and the terminal ioctls. Paths resolve through the vfs;
//! a few names the kernel serves itself (/dev devices, /proc/self links).

use friscy_abi::Errno;
use friscy_abi::mode::*;
use friscy_vfs::{Ino, Stat};

use super::{Args, SysResult};
use crate::fd::{Device, FdEntry, FileKind, OpenFile, new_file};
use crate::host::Stdio;
use crate::{Kernel, Process};

pub const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EMPTY_PATH: u64 = 0x1000;

pub const O_ACCMODE: u32 = 3;
pub const O_WRONLY: u32 = 1;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_PATH: u32 = 0o10000000;
const O_TMPFILE_BIT: u32 = 0o20000000;

/// Largest single read or write moved in one step (Linux caps at MAX_RW_COUNT, ~2 GiB).
const IO_CHUNK: usize = 1 << 20;

fn fd_arg(a: u64) -> i32 {
    a as i32
}

impl Kernel {
    /// The inode a relative path starts from: the cwd or a directory descriptor.
    fn start_dir(&mut self, proc: &Process, dirfd: i32, path: &[u8]) -> Result<Ino, Errno> {
        if path.starts_with(b"/") {
            return Ok(self.fs.root());
        }
        if dirfd == AT_FDCWD {
            return Ok(proc.cwd);
        }
        match &proc.fds.file(dirfd)?.borrow().kind {
            FileKind::Inode(ino) => Ok(*ino),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn lookup_at(
        &mut self,
        proc: &Process,
        dirfd: i32,
        path: &[u8],
        follow: bool,
    ) -> Result<Ino, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let start = self.start_dir(proc, dirfd, path)?;
        self.fs.lookup(start, path, follow)
    }

    /// A `stat` of whatever an open file refers to.
    fn stat_file(&mut self, file: &OpenFile) -> Result<Stat, Errno> {
        match &file.kind {
            FileKind::Inode(ino) => self.fs.stat(*ino),
            FileKind::Device(d) => {
                let (major, minor) = d.rdev();
                Ok(Stat {
                    mode: S_IFCHR | 0o666,
                    nlink: 1,
                    rdev: makedev(major, minor),
                    ..Stat::default()
                })
            }
            FileKind::Pipe(end) => Ok(Stat {
                ino: end.pipe.borrow().id,
                mode: S_IFIFO | 0o600,
                nlink: 1,
                ..Stat::default()
            }),
            FileKind::Stdio(s) => Ok(if self.host.is_terminal(*s) {
                // A pseudo-terminal, as /dev/pts/0 (major 136).
                Stat {
                    mode: S_IFCHR | 0o620,
                    nlink: 1,
                    rdev: makedev(136, 0),
                    ..Stat::default()
                }
            } else {
                Stat {
                    mode: S_IFIFO | 0o600,
                    nlink: 1,
                    ..Stat::default()
                }
            }),
        }
    }

    /// Read from an open file at `offset` (regular files) or its stream position.
    fn file_read(&mut self, file: &OpenFile, offset: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let len = len.min(IO_CHUNK);
        match &file.kind {
            // EAGAIN here means "would block": the syscall parks unless O_NONBLOCK.
            FileKind::Stdio(Stdio::In) => self.stdin_read(len),
            FileKind::Pipe(end) => {
                let mut pipe = end.pipe.borrow_mut();
                if !pipe.buf.is_empty() {
                    let n = len.min(pipe.buf.len());
                    Ok(pipe.buf.drain(..n).collect())
                } else if pipe.writers == 0 {
                    Ok(Vec::new())
                } else {
                    Err(Errno::EAGAIN)
                }
            }
            FileKind::Stdio(_) => Err(Errno::EBADF),
            FileKind::Device(Device::Null) => Ok(Vec::new()),
            FileKind::Device(Device::Zero | Device::Full) => Ok(vec![0; len]),
            FileKind::Device(Device::Random | Device::Urandom) => {
                let mut buf = vec![0; len];
                self.host.random(&mut buf);
                Ok(buf)
            }
            FileKind::Inode(ino) => self.fs.read(*ino, offset, len as u32),
        }
    }

    fn file_write(&mut self, file: &OpenFile, offset: u64, data: &[u8]) -> Result<u64, Errno> {
        match &file.kind {
            FileKind::Stdio(Stdio::In) => Err(Errno::EBADF),
            FileKind::Stdio(s) => {
                self.host.write(*s, data).map_err(|_| Errno::EPIPE)?;
                Ok(data.len() as u64)
            }
            FileKind::Device(Device::Full) => Err(Errno::ENOSPC),
            FileKind::Device(_) => Ok(data.len() as u64),
            FileKind::Pipe(end) => {
                let mut pipe = end.pipe.borrow_mut();
                if pipe.readers == 0 {
                    return Err(Errno::EPIPE);
                }
                // Writes up to PIPE_BUF are atomic: all or (would block) nothing. Larger
                // ones take what fits and return the short count.
                let space = pipe.space();
                if space == 0 || (data.len() <= crate::pipe::PIPE_BUF && space < data.len()) {
                    return Err(Errno::EAGAIN);
                }
                let n = data.len().min(space);
                pipe.buf.extend(&data[..n]);
                Ok(n as u64)
            }
            FileKind::Inode(ino) => self.fs.write(*ino, offset, data).map(u64::from),
        }
    }

    fn do_read(
        &mut self,
        proc: &Process,
        fd: i32,
        buf: u64,
        len: u64,
        at: Option<u64>,
    ) -> SysResult {
        let file = proc.fds.file(fd)?;
        let mut f = file.borrow_mut();
        if f.flags & O_ACCMODE == O_WRONLY || f.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        if at.is_some() && matches!(f.kind, FileKind::Pipe(_) | FileKind::Stdio(_)) {
            return Err(Errno::ESPIPE);
        }
        // A directory gives EISDIR from the vfs itself: no extra stat per read.
        let data = self.file_read(&f, at.unwrap_or(f.offset), len as usize)?;
        self.write_user(proc, buf, &data)?;
        if at.is_none() {
            f.offset += data.len() as u64;
        }
        Ok(data.len() as u64)
    }

    fn do_write(&mut self, proc: &Process, fd: i32, data: &[u8], at: Option<u64>) -> SysResult {
        let file = proc.fds.file(fd)?;
        let mut f = file.borrow_mut();
        if f.flags & O_ACCMODE == 0 || f.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        if at.is_some() && matches!(f.kind, FileKind::Pipe(_) | FileKind::Stdio(_)) {
            return Err(Errno::ESPIPE);
        }
        let offset = match (at, &f.kind) {
            (Some(off), _) => off,
            (None, FileKind::Inode(ino)) if f.flags & O_APPEND != 0 => self.fs.stat(*ino)?.size,
            (None, _) => f.offset,
        };
        let n = self.file_write(&f, offset, data)?;
        if at.is_none() {
            f.offset = offset + n;
        }
        Ok(n)
    }

    /// The (base, len) pairs of an iovec array (readv(2)).
    fn read_iovecs(
        &mut self,
        proc: &Process,
        iov: u64,
        count: u64,
    ) -> Result<Vec<(u64, u64)>, Errno> {
        // UIO_MAXIOV
        if count > 1024 {
            return Err(Errno::EINVAL);
        }
        let raw = self.read_user(proc, iov, count as usize * 16)?;
        Ok(raw
            .chunks_exact(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().unwrap()),
                    u64::from_le_bytes(c[8..].try_into().unwrap()),
                )
            })
            .collect())
    }
}

pub fn makedev(major: u32, minor: u32) -> u64 {
    // The glibc/Linux encoding of dev_t (sys/sysmacros.h).
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff)
}

/// `struct stat` as riscv64 (asm-generic) lays it out: 128 bytes.
pub fn encode_stat(st: &Stat) -> [u8; 128] {
    let mut b = [0u8; 128];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &1u64.to_le_bytes()); // st_dev: one filesystem
    put(8, &st.ino.to_le_bytes());
    put(16, &st.mode.to_le_bytes());
    put(20, &st.nlink.to_le_bytes());
    put(24, &st.uid.to_le_bytes());
    put(28, &st.gid.to_le_bytes());
    put(32, &st.rdev.to_le_bytes());
    put(48, &st.size.to_le_bytes());
    put(56, &4096u32.to_le_bytes()); // st_blksize
    put(64, &st.blocks.to_le_bytes());
    for (off, t) in [(72, st.atime), (88, st.mtime), (104, st.ctime)] {
        put(off, &t.sec.to_le_bytes());
        put(off + 8, &(t.nsec as u64).to_le_bytes());
    }
    b
}

pub fn sys_openat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, flags, mode) = (
        fd_arg(a[0]),
        k.read_path(p, a[1])?,
        a[2] as u32,
        a[3] as u32,
    );
    if flags & O_TMPFILE_BIT != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    // Devices the kernel implements itself.
    if let Some(name) = path.strip_prefix(b"/dev/") {
        let kind = match name {
            b"stdin" | b"fd/0" => Some(proc_fd_kind(p, 0)?),
            b"stdout" | b"fd/1" => Some(proc_fd_kind(p, 1)?),
            b"stderr" | b"fd/2" => Some(proc_fd_kind(p, 2)?),
            // The controlling terminal; tty(4): ENXIO when there is none.
            b"tty" if k.host.is_terminal(Stdio::Out) => Some(FileKind::Stdio(Stdio::Out)),
            b"tty" => return Err(Errno::ENXIO),
            _ => Device::from_name(name).map(FileKind::Device),
        };
        if let Some(kind) = kind {
            let file = new_file(
                kind,
                flags & !(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC),
                path,
            );
            return Ok(p.fds.insert(FdEntry {
                file,
                cloexec: flags & O_CLOEXEC != 0,
            })? as u64);
        }
    }
    let follow = flags & O_NOFOLLOW == 0;
    let ino = match k.lookup_at(p, dirfd, &path, follow) {
        Ok(_) if flags & (O_CREAT | O_EXCL) == (O_CREAT | O_EXCL) => return Err(Errno::EEXIST),
        Ok(ino) => ino,
        Err(Errno::ENOENT) if flags & O_CREAT != 0 => {
            let start = k.start_dir(p, dirfd, &path)?;
            let (parent, name) = k.fs.lookup_parent(start, &path)?;
            if name.is_empty() || name == b"." || name == b".." || path.ends_with(b"/") {
                return Err(Errno::EISDIR);
            }
            k.fs.create(parent, &name, S_IFREG | (mode & 0o7777 & !p.umask), 0)?
        }
        Err(e) => return Err(e),
    };
    let st = k.fs.stat(ino)?;
    let kind = st.mode & S_IFMT;
    if flags & O_PATH == 0 {
        if kind == S_IFLNK {
            return Err(Errno::ELOOP); // O_NOFOLLOW on a symlink
        }
        if flags & O_DIRECTORY != 0 && kind != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        if kind == S_IFDIR && (flags & O_ACCMODE != 0 || flags & O_CREAT != 0) {
            return Err(Errno::EISDIR);
        }
        if flags & O_TRUNC != 0 && flags & O_ACCMODE != 0 && kind == S_IFREG {
            k.fs.set_attr(
                ino,
                &friscy_vfs::SetAttr {
                    size: Some(0),
                    ..Default::default()
                },
            )?;
        }
    } else if flags & O_DIRECTORY != 0 && kind != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    let file = new_file(
        FileKind::Inode(ino),
        flags & !(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOFOLLOW),
        path,
    );
    Ok(p.fds.insert(FdEntry {
        file,
        cloexec: flags & O_CLOEXEC != 0,
    })? as u64)
}

/// What /dev/std{in,out,err} open: the same thing the process's fd refers to.
fn proc_fd_kind(p: &Process, fd: i32) -> Result<FileKind, Errno> {
    Ok(p.fds
        .file(fd)
        .map_err(|_| Errno::ENOENT)?
        .borrow()
        .kind
        .clone())
}

pub fn sys_close(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    p.fds.remove(fd_arg(a[0]))?;
    Ok(0)
}

/// A read or write that found nothing to do on a pipe or stdin: park until something
/// changes, unless the descriptor is non-blocking. A broken pipe also raises SIGPIPE.
pub fn maybe_block(k: &mut Kernel, p: &mut Process, fd: i32, r: SysResult) -> SysResult {
    match r {
        Err(Errno::EAGAIN) => {
            let file = p.fds.file(fd)?;
            let f = file.borrow();
            let wake = match f.kind {
                FileKind::Stdio(Stdio::In) => crate::process::Wake::Stdin,
                FileKind::Pipe(_) => crate::process::Wake::Event,
                _ => return Err(Errno::EAGAIN),
            };
            if f.flags & O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            drop(f);
            k.park(p, wake, None, true)
        }
        Err(Errno::EPIPE) => {
            p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
            Err(Errno::EPIPE)
        }
        r => r,
    }
}

pub fn sys_read(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let r = k.do_read(p, fd_arg(a[0]), a[1], a[2], None);
    maybe_block(k, p, fd_arg(a[0]), r)
}

pub fn sys_pread64(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    k.do_read(p, fd_arg(a[0]), a[1], a[2], Some(a[3]))
}

pub fn sys_write(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let data = k.read_user(p, a[1], (a[2] as usize).min(IO_CHUNK))?;
    let r = k.do_write(p, fd_arg(a[0]), &data, None);
    maybe_block(k, p, fd_arg(a[0]), r)
}

pub fn sys_pwrite64(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let data = k.read_user(p, a[1], (a[2] as usize).min(IO_CHUNK))?;
    k.do_write(p, fd_arg(a[0]), &data, Some(a[3]))
}

pub fn sys_readv(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let mut total = 0;
    for (base, len) in k.read_iovecs(p, a[1], a[2])? {
        if len == 0 {
            continue;
        }
        let n = match k.do_read(p, fd_arg(a[0]), base, len, None) {
            Ok(n) => n,
            Err(_) if total > 0 => break,
            Err(e) => return maybe_block(k, p, fd_arg(a[0]), Err(e)),
        };
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

pub fn sys_writev(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    // Gather first so the bytes go out in one write, as one writev does on a pipe.
    let mut data = Vec::new();
    for (base, len) in k.read_iovecs(p, a[1], a[2])? {
        data.extend(k.read_user(p, base, (len as usize).min(IO_CHUNK))?);
    }
    let r = k.do_write(p, fd_arg(a[0]), &data, None);
    maybe_block(k, p, fd_arg(a[0]), r)
}

pub fn sys_lseek(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(fd_arg(a[0]))?;
    let mut f = file.borrow_mut();
    let ino = match f.kind {
        FileKind::Inode(ino) => ino,
        FileKind::Stdio(_) | FileKind::Pipe(_) => return Err(Errno::ESPIPE),
        // lseek on /dev/null and friends succeeds and reports 0 (drivers/char/mem.c).
        FileKind::Device(_) => return Ok(0),
    };
    let base = match a[2] {
        0 => 0,                           // SEEK_SET
        1 => f.offset as i64,             // SEEK_CUR
        2 => k.fs.stat(ino)?.size as i64, // SEEK_END
        _ => return Err(Errno::EINVAL),
    };
    let new = base
        .checked_add(a[1] as i64)
        .filter(|&o| o >= 0)
        .ok_or(Errno::EINVAL)?;
    f.offset = new as u64;
    Ok(new as u64)
}

pub fn sys_newfstatat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, flags) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[3]);
    let st = if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let file = if dirfd == AT_FDCWD {
            None
        } else {
            Some(p.fds.file(dirfd)?)
        };
        match file {
            Some(f) => k.stat_file(&f.borrow())?,
            None => k.fs.stat(p.cwd)?,
        }
    } else {
        let ino = k.lookup_at(p, dirfd, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        k.fs.stat(ino)?
    };
    k.write_user(p, a[2], &encode_stat(&st))?;
    Ok(0)
}

pub fn sys_fstat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(fd_arg(a[0]))?;
    let st = k.stat_file(&file.borrow())?;
    k.write_user(p, a[1], &encode_stat(&st))?;
    Ok(0)
}

/// Links the kernel itself answers under /proc (procfs(5)).
fn proc_link(p: &Process, k: &mut Kernel, path: &[u8]) -> Option<Result<Vec<u8>, Errno>> {
    let pid = p.pid.to_string();
    let rest = path.strip_prefix(b"/proc/self/").or_else(|| {
        path.strip_prefix(b"/proc/")?
            .strip_prefix(pid.as_bytes())?
            .strip_prefix(b"/")
    })?;
    Some(match rest {
        b"exe" => Ok(p.exe.clone()),
        b"cwd" => k.fs.path(p.cwd),
        _ => {
            let fd: i32 = std::str::from_utf8(rest.strip_prefix(b"fd/")?)
                .ok()?
                .parse()
                .ok()?;
            p.fds
                .file(fd)
                .map(|f| f.borrow().path.clone())
                .map_err(|_| Errno::ENOENT)
        }
    })
}

pub fn sys_readlinkat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, buf, size) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2], a[3]);
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let target = match proc_link(p, k, &path) {
        Some(r) => r?,
        None => {
            let ino = k.lookup_at(p, dirfd, &path, false)?;
            k.fs.readlink(ino)?
        }
    };
    // readlink(2) truncates silently and does not NUL-terminate.
    let n = target.len().min(size as usize);
    k.write_user(p, buf, &target[..n])?;
    Ok(n as u64)
}

pub fn sys_getdents64(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, count) = (fd_arg(a[0]), a[1], a[2] as usize);
    let file = p.fds.file(fd)?;
    let mut f = file.borrow_mut();
    let FileKind::Inode(ino) = f.kind else {
        return Err(Errno::ENOTDIR);
    };
    let entries = k.fs.readdir(ino, f.offset, (count / 24).max(1) as u32)?;
    let mut out = Vec::new();
    for e in entries {
        // struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name[] NUL, 8-aligned.
        let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > count {
            if out.is_empty() {
                return Err(Errno::EINVAL);
            }
            break;
        }
        out.extend(e.ino.to_le_bytes());
        out.extend(e.next.to_le_bytes());
        out.extend((reclen as u16).to_le_bytes());
        out.push(e.kind);
        out.extend(&e.name);
        out.resize(out.len() + reclen - 19 - e.name.len(), 0);
        f.offset = e.next;
    }
    k.write_user(p, buf, &out)?;
    Ok(out.len() as u64)
}

fn access(
    k: &mut Kernel,
    p: &mut Process,
    dirfd: u64,
    path: u64,
    mode: u64,
    flags: u64,
) -> SysResult {
    let path = k.read_path(p, path)?;
    let st = {
        let ino = k.lookup_at(p, fd_arg(dirfd), &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        k.fs.stat(ino)?
    };
    // As root, read and write are always granted; execute needs some x bit (or a dir).
    if mode & 1 != 0 && st.mode & S_IFMT != S_IFDIR && st.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

pub fn sys_faccessat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    access(k, p, a[0], a[1], a[2], 0)
}

pub fn sys_faccessat2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    access(k, p, a[0], a[1], a[2], a[3])
}

pub fn sys_getcwd(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let mut path = k.fs.path(p.cwd)?;
    path.push(0);
    if path.len() as u64 > a[1] {
        return Err(Errno::ERANGE);
    }
    k.write_user(p, a[0], &path)?;
    Ok(path.len() as u64)
}

fn set_cwd(k: &mut Kernel, p: &mut Process, ino: Ino) -> SysResult {
    if k.fs.stat(ino)?.mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    p.cwd = ino;
    Ok(0)
}

pub fn sys_chdir(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let path = k.read_path(p, a[0])?;
    let ino = k.lookup_at(p, AT_FDCWD, &path, true)?;
    set_cwd(k, p, ino)
}

pub fn sys_fchdir(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let FileKind::Inode(ino) = p.fds.file(fd_arg(a[0]))?.borrow().kind else {
        return Err(Errno::ENOTDIR);
    };
    set_cwd(k, p, ino)
}

pub fn sys_mkdirat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, mode) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2] as u32);
    let start = k.start_dir(p, dirfd, &path)?;
    let (parent, name) = k.fs.lookup_parent(start, &path)?;
    if name == b"." || name == b".." || name.is_empty() {
        return Err(Errno::EEXIST);
    }
    k.fs.create(parent, &name, S_IFDIR | (mode & 0o7777 & !p.umask), 0)?;
    Ok(0)
}

pub fn sys_unlinkat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, flags) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2]);
    let start = k.start_dir(p, dirfd, &path)?;
    let (parent, name) = k.fs.lookup_parent(start, &path)?;
    k.fs.remove(parent, &name, flags & AT_REMOVEDIR != 0)?;
    Ok(0)
}

pub fn sys_umask(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let old = p.umask;
    p.umask = a[0] as u32 & 0o777;
    Ok(old as u64)
}

pub fn sys_dup(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(fd_arg(a[0]))?;
    Ok(p.fds.insert(FdEntry {
        file,
        cloexec: false,
    })? as u64)
}

pub fn sys_dup3(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (old, new, flags) = (fd_arg(a[0]), fd_arg(a[1]), a[2] as u32);
    if old == new || flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.fds.file(old)?;
    p.fds.insert_at(
        new,
        FdEntry {
            file,
            cloexec: flags & O_CLOEXEC != 0,
        },
    )?;
    Ok(new as u64)
}

pub fn sys_fcntl(_k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const F_DUPFD: u64 = 0;
    const F_GETFD: u64 = 1;
    const F_SETFD: u64 = 2;
    const F_GETFL: u64 = 3;
    const F_SETFL: u64 = 4;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    const FD_CLOEXEC: u64 = 1;
    let fd = fd_arg(a[0]);
    match a[1] {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let file = p.fds.file(fd)?;
            let min = a[2] as i32;
            if min < 0 {
                return Err(Errno::EINVAL);
            }
            Ok(p.fds.insert_from(
                min,
                FdEntry {
                    file,
                    cloexec: a[1] == F_DUPFD_CLOEXEC,
                },
            )? as u64)
        }
        F_GETFD => Ok(if p.fds.get(fd)?.cloexec {
            FD_CLOEXEC
        } else {
            0
        }),
        F_SETFD => {
            p.fds.get_mut(fd)?.cloexec = a[2] & FD_CLOEXEC != 0;
            Ok(0)
        }
        F_GETFL => Ok(p.fds.file(fd)?.borrow().flags as u64),
        F_SETFL => {
            // fcntl(2): only O_APPEND, O_NONBLOCK (and async/direct flags) can change.
            let file = p.fds.file(fd)?;
            let mut f = file.borrow_mut();
            let settable = O_APPEND | O_NONBLOCK;
            f.flags = (f.flags & !settable) | (a[2] as u32 & settable);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_ioctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const TCGETS: u64 = 0x5401;
    const TIOCGPGRP: u64 = 0x540f;
    const TIOCGWINSZ: u64 = 0x5413;
    const FIONCLEX: u64 = 0x5450;
    const FIOCLEX: u64 = 0x5451;
    let fd = fd_arg(a[0]);
    match a[1] {
        FIOCLEX | FIONCLEX => {
            p.fds.get_mut(fd)?.cloexec = a[1] == FIOCLEX;
            return Ok(0);
        }
        _ => {}
    }
    let file = p.fds.file(fd)?;
    let FileKind::Stdio(stream) = file.borrow().kind else {
        return Err(Errno::ENOTTY);
    };
    if !k.host.is_terminal(stream) {
        return Err(Errno::ENOTTY);
    }
    match a[1] {
        TCGETS => {
            // struct termios (asm-generic): iflag, oflag, cflag, lflag, line, cc[19].
            // A cooked terminal: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD, ISIG|ICANON|ECHO...
            let mut t = [0u8; 36];
            t[0..4].copy_from_slice(&0o2400u32.to_le_bytes());
            t[4..8].copy_from_slice(&0o5u32.to_le_bytes());
            t[8..12].copy_from_slice(&0o277u32.to_le_bytes());
            t[12..16].copy_from_slice(&0o105073u32.to_le_bytes());
            let cc = [
                3u8, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
            ];
            t[17..36].copy_from_slice(&cc);
            k.write_user(p, a[2], &t)?;
            Ok(0)
        }
        TIOCGWINSZ => {
            // WASI reports no window size; 80x24 is what a terminal without one assumes.
            let ws = [24u16, 80, 0, 0];
            let bytes: Vec<u8> = ws.iter().flat_map(|v| v.to_le_bytes()).collect();
            k.write_user(p, a[2], &bytes)?;
            Ok(0)
        }
        TIOCGPGRP => {
            k.write_user(p, a[2], &(p.pid as u32).to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_layout_matches_asm_generic() {
        let st = Stat {
            ino: 7,
            mode: S_IFREG | 0o755,
            nlink: 1,
            size: 1234,
            ..Stat::default()
        };
        let b = encode_stat(&st);
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 7);
        assert_eq!(
            u32::from_le_bytes(b[16..20].try_into().unwrap()),
            S_IFREG | 0o755
        );
        assert_eq!(u64::from_le_bytes(b[48..56].try_into().unwrap()), 1234);
        assert_eq!(makedev(136, 0), 0x8800);
        assert_eq!(makedev(1, 3), 0x103);
    }
}
