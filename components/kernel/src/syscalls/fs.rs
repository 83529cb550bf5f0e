//! File syscalls: opening, reading, writing, seeking, stat, directories, links, the
//! descriptor table (dup, fcntl) and ioctl (the terminal ones are in tty.rs). Paths resolve through the vfs;
//! a few names the kernel serves itself (/dev devices, /proc/self links).

use friscy_abi::Errno;
use friscy_abi::mode::*;
use friscy_vfs::Ino;

use super::{Args, SysResult, fasync, lock};
use crate::creds::{MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::fd::{Device, FdEntry, FileKind, OpenFile, new_file};
use crate::host::Stdio;
use crate::{Kernel, Process};

pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
pub const AT_EMPTY_PATH: u64 = 0x1000;

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

/// Largest single read or write moved in one step (a call moves up to MAX_RW_COUNT in
/// such steps).
pub const IO_CHUNK: usize = 1 << 20;
/// The most one read or write moves (Linux's MAX_RW_COUNT).
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

pub(crate) fn fd_arg(a: u64) -> i32 {
    a as i32
}

impl Kernel {
    /// The inode a relative path starts from: the cwd or a directory descriptor.
    pub(crate) fn start_dir(
        &mut self,
        proc: &Process,
        dirfd: i32,
        path: &[u8],
    ) -> Result<Ino, Errno> {
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

    pub(crate) fn lookup_at(
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
        self.resolve(proc, start, path, follow)
    }

    /// Read from an open file at `offset` (regular files) or its stream position.
    pub(crate) fn file_read(
        &mut self,
        file: &OpenFile,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, Errno> {
        let len = len.min(IO_CHUNK);
        match &file.kind {
            // EAGAIN here means "would block": the syscall parks unless O_NONBLOCK.
            FileKind::Stdio(Stdio::In) => self.stdin_read(len),
            FileKind::Pipe(end) => {
                let mut pipe = end.pipe.borrow_mut();
                if !pipe.buf.is_empty() {
                    let data = pipe.buf.peek(len);
                    pipe.buf.consume(data.len());
                    Ok(data)
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
            FileKind::Inode(ino) => {
                let mut data = self.fs.read(*ino, offset, len as u32)?;
                // The newest bytes of a file with shared mappings are in them (shm.rs).
                self.shm_file_overlay(*ino, offset, &mut data);
                if !data.is_empty() && file.notify.is_some() {
                    self.inotify
                        .borrow_mut()
                        .inode_event(*ino, crate::inotify::IN_ACCESS);
                }
                Ok(data)
            }
            FileKind::Proc(pf) => {
                let start = (offset as usize).min(pf.data.len());
                Ok(pf.data[start..(start + len).min(pf.data.len())].to_vec())
            }
            FileKind::EventFd(e) => e.0.borrow_mut().read(len),
            FileKind::Inotify(i) => i.0.borrow_mut().read(len),
            FileKind::TimerFd(t) => t.0.borrow_mut().read(self.host.monotonic_ns(), len),
            // read(2) and readv(2) take signalfds before this (signalfd.rs): what else
            // reads through here (sendfile, splice) cannot read one.
            FileKind::Epoll(_) | FileKind::SignalFd(_) | FileKind::PidFd(_) => Err(Errno::EINVAL),
            FileKind::Socket(s) => self.socket_read(&s.0, len),
            FileKind::Tty(end) if end.master => end.tty.borrow_mut().master_read(len),
            FileKind::Tty(end) => end.tty.borrow_mut().read(len),
        }
    }

    pub(crate) fn file_write(
        &mut self,
        file: &OpenFile,
        offset: u64,
        data: &[u8],
    ) -> Result<u64, Errno> {
        match &file.kind {
            FileKind::Stdio(Stdio::In) => Err(Errno::EBADF),
            FileKind::Stdio(s) => {
                self.host.write(*s, data)?;
                Ok(data.len() as u64)
            }
            FileKind::Device(Device::Full) => Err(Errno::ENOSPC),
            FileKind::Device(_) => Ok(data.len() as u64),
            FileKind::EventFd(e) => e.0.borrow_mut().write(data),
            FileKind::Epoll(_)
            | FileKind::TimerFd(_)
            | FileKind::SignalFd(_)
            | FileKind::Inotify(_)
            | FileKind::PidFd(_) => Err(Errno::EINVAL),
            FileKind::Socket(s) => self.socket_write(&s.0, data),
            FileKind::Pipe(end) => {
                let mut pipe = end.pipe.borrow_mut();
                let n = pipe.writable(data.len())?;
                pipe.buf.extend(&data[..n]);
                Ok(n as u64)
            }
            FileKind::Inode(ino) => {
                let n = self.fs.write(*ino, offset, data)?;
                // Shared mappings of the file see what was written (shm.rs).
                self.shm_file_written(*ino, offset, &data[..n as usize]);
                // So do private ones, in the pages they have not copied yet.
                self.page_cache_written(*ino, offset, &data[..n as usize]);
                Ok(n as u64)
            }
            // /proc files served here have no write operation.
            FileKind::Proc(_) => Err(Errno::EINVAL),
            FileKind::Tty(end) => {
                let mut t = end.tty.borrow_mut();
                let n = match end.master {
                    true => t.receive(data),
                    false if t.hung_up => return Err(Errno::EIO),
                    false if !t.writable() => 0,
                    false => t.write(data),
                };
                drop(t);
                if end.tty.borrow().console {
                    self.flush_console(&end.tty)?;
                }
                match n {
                    0 if !data.is_empty() => Err(Errno::EAGAIN),
                    n => Ok(n as u64),
                }
            }
        }
    }

    pub(crate) fn do_read(
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
        if at.is_some()
            && matches!(
                f.kind,
                FileKind::Pipe(_) | FileKind::Stdio(_) | FileKind::Socket(_) | FileKind::Tty(_)
            )
        {
            return Err(Errno::ESPIPE);
        }
        if let FileKind::Pipe(end) = &f.kind {
            return super::pipe::pipe_read(self, proc, end, buf, len);
        }
        if f.kind == FileKind::Device(Device::Zero) {
            // No buffer of zeros made per read: the same one, copied out.
            static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
            let len = (len as usize).min(IO_CHUNK);
            let mut at = 0;
            while at < len {
                let n = (len - at).min(ZEROS.len());
                match self.write_user(proc, buf + at as u64, &ZEROS[..n]) {
                    Ok(()) => at += n,
                    Err(_) if at > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            return Ok(at as u64);
        }
        // Files and devices give all that was asked, up to end of file, as Linux does
        // (in steps of IO_CHUNK); streams (eventfd, timerfd, the host's stdin) one step.
        let whole = matches!(
            f.kind,
            FileKind::Inode(_) | FileKind::Proc(_) | FileKind::Device(_)
        );
        let len = len.min(MAX_RW_COUNT);
        let start = at.unwrap_or(f.offset);
        let mut done = 0u64;
        loop {
            let want = (len - done).min(IO_CHUNK as u64) as usize;
            // A directory gives EISDIR from the vfs itself: no extra stat per read.
            let data = match self.file_read(&f, start + done, want) {
                Ok(d) => d,
                Err(_) if done > 0 => break,
                Err(e) => return Err(e),
            };
            match self.write_user(proc, buf + done, &data) {
                Ok(()) => done += data.len() as u64,
                Err(_) if done > 0 => break,
                Err(e) => return Err(e),
            }
            if !whole || data.len() < want || done == len {
                break;
            }
        }
        if at.is_none() {
            f.offset += done;
        }
        Ok(done)
    }

    /// write(2), writev(2), pwrite64 and pwritev of the data at `segs` to anything but a
    /// socket or pipe: all of it (files and devices take everything, as on Linux), copied
    /// from guest memory in steps of at most IO_CHUNK that may span several segments, so
    /// a small writev is still one write. Stops at a short write; an error after some
    /// bytes returns their count.
    pub(crate) fn write_segs(
        &mut self,
        proc: &Process,
        fd: i32,
        segs: &[(u64, u64)],
        at: Option<u64>,
    ) -> SysResult {
        let total = segs
            .iter()
            .fold(0u64, |t, &(_, l)| t.saturating_add(l))
            .min(MAX_RW_COUNT);
        let mut done = 0u64;
        loop {
            let want = (total - done).min(IO_CHUNK as u64) as usize;
            let data = match super::pipe::gather(self, proc, segs, done, want) {
                Ok(d) => d,
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            };
            let n = match self.do_write(proc, fd, &data, at.map(|a| a + done)) {
                Ok(n) => n,
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            };
            done += n;
            if n < want as u64 || done >= total {
                return Ok(done);
            }
        }
    }

    pub(crate) fn do_write(
        &mut self,
        proc: &Process,
        fd: i32,
        data: &[u8],
        at: Option<u64>,
    ) -> SysResult {
        let file = proc.fds.file(fd)?;
        let mut f = file.borrow_mut();
        if f.flags & O_ACCMODE == 0 || f.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        if at.is_some()
            && matches!(
                f.kind,
                FileKind::Pipe(_) | FileKind::Stdio(_) | FileKind::Socket(_) | FileKind::Tty(_)
            )
        {
            return Err(Errno::ESPIPE);
        }
        let offset = match (at, &f.kind) {
            (Some(off), _) => off,
            (None, FileKind::Inode(ino)) if f.flags & O_APPEND != 0 => self.fs.stat(*ino)?.size,
            (None, _) => f.offset,
        };
        let n = match self.file_write(&f, offset, data) {
            // A full writable layer may hold unlinked files nobody has open any more.
            Err(Errno::ENOSPC) if matches!(f.kind, FileKind::Inode(ino) if self.reclaim_space(proc, ino) > 0) => {
                self.file_write(&f, offset, data)?
            }
            r => r?,
        };
        if at.is_none() {
            f.offset = offset + n;
        }
        Ok(n)
    }

    /// The (base, len) pairs of an iovec array (readv(2)).
    pub(crate) fn read_iovecs(
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

pub fn sys_openat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, flags, mode) = (
        fd_arg(a[0]),
        k.read_path(p, a[1])?,
        a[2] as u32,
        a[3] as u32,
    );
    open_at(k, p, dirfd, path, flags, mode)
}

/// openat2(2): openat with `struct open_how` (flags, mode, resolve), checked strictly
/// (unknown flags or resolve bits, a mode without O_CREAT, are EINVAL; a larger struct
/// must be zero beyond what is known, E2BIG), and the RESOLVE_* restrictions applied to
/// the walk (namei.rs): no mount crossing, no magic links or no symlinks at all, nothing
/// above the starting directory (BENEATH, EXDEV) or the starting directory as the root
/// (IN_ROOT). RESOLVE_CACHED always succeeds: every lookup here is "cached".
pub fn sys_openat2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    use crate::namei::*;
    /// OPEN_HOW_SIZE_VER0.
    const VER0: u64 = 24;
    let (dirfd, path, how_at, size) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2], a[3]);
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let how = k.read_user(p, how_at, size as usize)?;
    if how[VER0 as usize..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| u64::from_le_bytes(how[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    // build_open_how/build_open_flags: every flag known, a mode only to create with.
    // O_ACCMODE and every O_* flag up to __O_TMPFILE (VALID_OPEN_FLAGS): bits 2-5 are
    // none.
    const VALID: u64 = 0o37_777_703;
    if flags > u32::MAX as u64 || flags & !(VALID | O_TMPFILE_BIT as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let creating = flags & (O_CREAT as u64 | O_TMPFILE_BIT as u64) != 0;
    if mode & !0o7777 != 0 || (!creating && mode != 0) {
        return Err(Errno::EINVAL);
    }
    let known = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    if resolve & !known != 0
        || resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) == (RESOLVE_BENEATH | RESOLVE_IN_ROOT)
    {
        return Err(Errno::EINVAL);
    }
    if resolve & RESOLVE_CACHED != 0 && flags & (O_CREAT | O_TRUNC | O_TMPFILE_BIT) as u64 != 0 {
        return Err(Errno::EAGAIN);
    }
    if resolve & !RESOLVE_CACHED == 0 {
        return open_at(k, p, dirfd, path, flags as u32, mode as u32);
    }
    // IN_ROOT takes an absolute path from the starting directory too.
    let base = k.start_dir(p, dirfd, b".")?;
    k.resolve_how = Some(ResolveHow {
        flags: resolve,
        base,
    });
    let r = open_at(k, p, dirfd, path, flags as u32, mode as u32);
    k.resolve_how = None;
    r
}

fn open_at(
    k: &mut Kernel,
    p: &mut Process,
    dirfd: i32,
    path: Vec<u8>,
    flags: u32,
    mode: u32,
) -> SysResult {
    if flags & O_TMPFILE_BIT != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let follow = flags & O_NOFOLLOW == 0;
    // A FIFO open parked waiting for its partner holds the inode it found the first time
    // (renaming or unlinking the FIFO meanwhile does not matter, as in Linux).
    let waiting = k.fifos.waiting.get(&p.tid()).map(|w| w.ino);
    if let Some(ino) = waiting.filter(|_| p.thread().restart.is_some()) {
        let what = super::pipe::open_fifo(k, p, ino, flags)?;
        return install(k, p, dirfd, path, what, flags);
    }
    let mut created = false;
    let ino = match k.lookup_at(p, dirfd, &path, follow) {
        Ok(_) if flags & (O_CREAT | O_EXCL) == (O_CREAT | O_EXCL) => return Err(Errno::EEXIST),
        Ok(ino) => ino,
        Err(Errno::ENOENT) if flags & O_CREAT != 0 => {
            let (parent, name) = if k.resolve_how.is_some() {
                // openat2's restrictions apply to the directory the name goes in.
                let cut = path.iter().rposition(|&c| c == b'/');
                let (dir, name) = match cut {
                    Some(0) => (&b"/"[..], &path[1..]),
                    Some(i) => (&path[..i], &path[i + 1..]),
                    None => (&b"."[..], &path[..]),
                };
                (k.lookup_at(p, dirfd, dir, true)?, name.to_vec())
            } else {
                k.parent_at(p, dirfd, &path)?
            };
            if name.is_empty() || name == b"." || name == b".." || path.ends_with(b"/") {
                return Err(Errno::EISDIR);
            }
            created = true;
            let mode = S_IFREG | (mode & 0o7777 & !p.umask);
            k.create_node(&p.creds.clone(), parent, &name, mode, 0)?
        }
        Err(e) => return Err(e),
    };
    let st = k.stat_ino(p, ino)?;
    let kind = st.mode & S_IFMT;
    // may_open(): the access the flags ask for (O_TRUNC writes); none for O_PATH or for a
    // file this call created.
    if flags & O_PATH == 0 && !created {
        let mut mask = match flags & O_ACCMODE {
            0 => MAY_READ,
            O_WRONLY => MAY_WRITE,
            _ => MAY_READ | MAY_WRITE,
        };
        if flags & O_TRUNC != 0 {
            mask |= MAY_WRITE;
        }
        // A directory opened for writing is EISDIR below, before any permission check.
        let dir_write = kind == S_IFDIR && (mask & MAY_WRITE != 0 || flags & O_CREAT != 0);
        if kind != S_IFLNK && !dir_write {
            k.may(&p.creds.clone(), ino, mask)?;
        }
    }
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
        if matches!(kind, S_IFREG | S_IFDIR) && !crate::procfs::is_proc(ino) {
            // inotify: IN_OPEN, before the truncation's IN_MODIFY (as do_open orders
            // them); the last close is IN_CLOSE_* (fd.rs).
            let isdir = if kind == S_IFDIR {
                crate::inotify::IN_ISDIR
            } else {
                0
            };
            k.inotify
                .borrow_mut()
                .inode_event(ino, crate::inotify::IN_OPEN | isdir);
        }
        // /proc's files are generated, not stored: O_TRUNC means nothing to them (a shell's
        // `echo 1 > /proc/sys/...` opens with it). A file this call made is empty already
        // (Linux does not truncate it either).
        if flags & O_TRUNC != 0
            && flags & O_ACCMODE != 0
            && kind == S_IFREG
            && !created
            && !crate::procfs::is_proc(ino)
        {
            // Mappings keep the bytes they mapped (pages not read yet are read now).
            k.page_cache_settle(ino)?;
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
    // /proc serves its own files; a character device opens the driver its number names
    // (devfs.rs); open(2) gives ENXIO for block devices and sockets.
    let what = match kind {
        _ if flags & O_PATH != 0 => FileKind::Inode(ino),
        _ if crate::procfs::is_proc(ino) => crate::procfs::open(k, p, ino, flags & O_ACCMODE != 0)?,
        S_IFCHR => crate::devfs::open_char(k, p, st.rdev, flags)?,
        S_IFBLK | S_IFSOCK => return Err(Errno::ENXIO),
        S_IFIFO => super::pipe::open_fifo(k, p, ino, flags)?,
        _ => FileKind::Inode(ino),
    };
    let watched = matches!(what, FileKind::Inode(_)) && flags & O_PATH == 0;
    let fd = install(k, p, dirfd, path, what, flags)?;
    if watched {
        // inotify: the description's last close is IN_CLOSE_* (fd.rs).
        p.fds.file(fd as i32)?.borrow_mut().notify = Some((k.inotify.clone(), kind == S_IFDIR));
    }
    Ok(fd)
}

/// The end of open(2): a description for `what`, at the lowest free descriptor.
pub(crate) fn install(
    k: &mut Kernel,
    p: &mut Process,
    dirfd: i32,
    path: Vec<u8>,
    what: FileKind,
    flags: u32,
) -> SysResult {
    let path = k.absolute_path(p, dirfd, path);
    let file = new_file(
        what,
        flags & !(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOFOLLOW),
        path,
    );
    Ok(p.fds.insert(FdEntry {
        file,
        cloexec: flags & O_CLOEXEC != 0,
    })? as u64)
}

pub fn sys_close(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let entry = p.fds.remove(fd_arg(a[0]))?;
    k.locks.closed(p.pid, &entry.file);
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
                FileKind::Socket(ref s) => {
                    // sendfile/splice on a socket: wait for either direction.
                    if let crate::socket::Imp::Inet(i) = &s.0.borrow().imp {
                        k.want_net(i.handle, true, true);
                    }
                    crate::process::Wake::Event
                }
                FileKind::Pipe(_)
                | FileKind::EventFd(_)
                | FileKind::TimerFd(_)
                | FileKind::Tty(_) => crate::process::Wake::Event,
                _ => return Err(Errno::EAGAIN),
            };
            if f.flags & O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            // A timer's reader also wakes when it expires.
            let timer = super::timerfd::expiry(&f);
            drop(f);
            let r = k.park(p, wake, None, true);
            k.wake_by(p, timer);
            r
        }
        Err(Errno::EPIPE) => {
            p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
            Err(Errno::EPIPE)
        }
        r => r,
    }
}

/// Whether `fd` is a socket: its reads and writes are sends and receives (socket.rs),
/// with the socket's own blocking rules.
fn is_signalfd(p: &Process, fd: i32) -> bool {
    p.fds
        .file(fd)
        .is_ok_and(|f| super::signalfd::is_signalfd(&f.borrow()))
}

fn is_socket(p: &Process, fd: i32) -> bool {
    p.fds
        .file(fd)
        .is_ok_and(|f| matches!(f.borrow().kind, FileKind::Socket(_)))
}

pub fn sys_read(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if is_signalfd(p, fd_arg(a[0])) {
        return super::signalfd::read(k, p, fd_arg(a[0]), &[(a[1], a[2])]);
    }
    if super::tty::is_tty(p, fd_arg(a[0])) {
        return super::tty::read(k, p, fd_arg(a[0]), &[(a[1], a[2])]);
    }
    if is_socket(p, fd_arg(a[0])) {
        return super::socket::socket_rw(k, p, fd_arg(a[0]), &[(a[1], a[2])], false);
    }
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
    if super::tty::is_tty(p, fd_arg(a[0])) {
        return super::tty::write(k, p, fd_arg(a[0]), &[(a[1], a[2])]);
    }
    match write_target(p, fd_arg(a[0])) {
        WriteTo::Socket => {
            return super::socket::socket_rw(k, p, fd_arg(a[0]), &[(a[1], a[2])], true);
        }
        WriteTo::Pipe(file) => return super::pipe::pipe_write(k, p, &file, &[(a[1], a[2])]),
        WriteTo::Discard(file) => return discard(&file, a[2]),
        WriteTo::Proc(file) => return proc_write(k, p, &file, &[(a[1], a[2])]),
        WriteTo::Other => {}
    }
    let r = k.write_segs(p, fd_arg(a[0]), &[(a[1], a[2])], None);
    maybe_block(k, p, fd_arg(a[0]), r)
}

/// Where write(2) and writev(2) on `fd` go: sockets (socket.rs) and pipe write ends
/// (pipe.rs) have their own blocking rules; everything else is `do_write`.
enum WriteTo {
    Socket,
    /// A /proc file with a write operation (comm): procfs.rs.
    Proc(crate::fd::FileRef),
    Pipe(crate::fd::FileRef),
    /// /dev/null and /dev/zero: the bytes are never looked at.
    Discard(crate::fd::FileRef),
    Other,
}

/// A write to /dev/null or /dev/zero: Linux's write_null takes the count without reading
/// the buffer (so a `> /dev/null` costs no copy of guest memory).
fn discard(file: &crate::fd::FileRef, len: u64) -> SysResult {
    let f = file.borrow();
    if f.flags & O_ACCMODE == 0 || f.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(len.min(0x7fff_f000))
}

/// write(2)/writev(2) to a /proc file: the bytes of all segments at once (a comm write
/// takes the first 15).
fn proc_write(
    k: &mut Kernel,
    p: &mut Process,
    file: &crate::fd::FileRef,
    segs: &[(u64, u64)],
) -> SysResult {
    let ino = match &file.borrow().kind {
        FileKind::Proc(pf) if file.borrow().flags & O_ACCMODE != 0 => pf.ino,
        _ => return Err(Errno::EBADF),
    };
    let mut data = Vec::new();
    for &(at, len) in segs {
        data.extend(k.read_user(p, at, len.min(4096) as usize)?);
    }
    crate::procfs::write(p, ino, &data)
}

fn write_target(p: &Process, fd: i32) -> WriteTo {
    let Ok(file) = p.fds.file(fd) else {
        return WriteTo::Other; // do_write reports EBADF
    };
    if matches!(
        file.borrow().kind,
        FileKind::Device(Device::Null | Device::Zero)
    ) {
        return WriteTo::Discard(file);
    }
    if matches!(file.borrow().kind, FileKind::Proc(_)) {
        return WriteTo::Proc(file);
    }
    let (socket, pipe_writer) = match &file.borrow().kind {
        FileKind::Socket(_) => (true, false),
        FileKind::Pipe(end) => (false, end.write),
        _ => (false, false),
    };
    match (socket, pipe_writer) {
        (true, _) => WriteTo::Socket,
        (_, true) => WriteTo::Pipe(file),
        _ => WriteTo::Other,
    }
}

pub fn sys_pwrite64(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    k.write_segs(p, fd_arg(a[0]), &[(a[1], a[2])], Some(a[3]))
}

pub fn sys_readv(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    if is_signalfd(p, fd_arg(a[0])) {
        let iov = k.read_iovecs(p, a[1], a[2])?;
        return super::signalfd::read(k, p, fd_arg(a[0]), &iov);
    }
    if super::tty::is_tty(p, fd_arg(a[0])) {
        let iov = k.read_iovecs(p, a[1], a[2])?;
        return super::tty::read(k, p, fd_arg(a[0]), &iov);
    }
    if is_socket(p, fd_arg(a[0])) {
        let iov = k.read_iovecs(p, a[1], a[2])?;
        return super::socket::socket_rw(k, p, fd_arg(a[0]), &iov, false);
    }
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
    let iov = k.read_iovecs(p, a[1], a[2])?;
    if super::tty::is_tty(p, fd_arg(a[0])) {
        return super::tty::write(k, p, fd_arg(a[0]), &iov);
    }
    match write_target(p, fd_arg(a[0])) {
        WriteTo::Socket => return super::socket::socket_rw(k, p, fd_arg(a[0]), &iov, true),
        WriteTo::Pipe(file) => return super::pipe::pipe_write(k, p, &file, &iov),
        WriteTo::Discard(file) => {
            let total = iov.iter().fold(0u64, |t, &(_, l)| t.saturating_add(l));
            return discard(&file, total);
        }
        WriteTo::Proc(file) => return proc_write(k, p, &file, &iov),
        WriteTo::Other => {}
    }
    let r = k.write_segs(p, fd_arg(a[0]), &iov, None);
    maybe_block(k, p, fd_arg(a[0]), r)
}

pub fn sys_lseek(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let file = p.fds.file(fd_arg(a[0]))?;
    let mut f = file.borrow_mut();
    let ino = match &f.kind {
        FileKind::Inode(ino) => Some(*ino),
        FileKind::Proc(_) => None,
        FileKind::Stdio(_)
        | FileKind::Pipe(_)
        | FileKind::Epoll(_)
        | FileKind::EventFd(_)
        | FileKind::Socket(_)
        | FileKind::PidFd(_)
        | FileKind::Tty(_) => {
            return Err(Errno::ESPIPE);
        }
        // lseek on /dev/null and friends succeeds and reports 0 (drivers/char/mem.c), as
        // on a timerfd or signalfd (noop_llseek).
        FileKind::Device(_)
        | FileKind::TimerFd(_)
        | FileKind::SignalFd(_)
        | FileKind::Inotify(_) => return Ok(0),
    };
    let base = match (a[2], ino, &f.kind) {
        (0, _, _) => 0,                                        // SEEK_SET
        (1, _, _) => f.offset as i64,                          // SEEK_CUR
        (2, Some(ino), _) => k.stat_ino(p, ino)?.size as i64,  // SEEK_END
        (2, None, FileKind::Proc(pf)) => pf.data.len() as i64, // a /proc file's snapshot
        _ => return Err(Errno::EINVAL),
    };
    let new = base
        .checked_add(a[1] as i64)
        .filter(|&o| o >= 0)
        .ok_or(Errno::EINVAL)?;
    f.offset = new as u64;
    Ok(new as u64)
}

pub fn sys_readlinkat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, buf, size) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2], a[3]);
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let ino = k.lookup_at(p, dirfd, &path, false)?;
    let target = k.readlink_ino(p, ino)?;
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
    let max = (count / 24).max(1) as u32;
    let entries = if crate::procfs::is_proc(ino) {
        crate::procfs::readdir(k, p, ino, f.offset, max)?
    } else {
        k.fs.readdir(ino, f.offset, max)?
    };
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
    if f.notify.is_some() {
        // iterate_dir(): every listing is an access, even one at the end.
        use crate::inotify::{IN_ACCESS, IN_ISDIR};
        k.inotify
            .borrow_mut()
            .inode_event(ino, IN_ACCESS | IN_ISDIR);
    }
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
    const AT_EACCESS: u64 = 0x200;
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = k.read_path(p, path)?;
    // access(2) asks with the real ids (a set-user-ID program checking for its caller),
    // faccessat2's AT_EACCESS with the effective ones.
    let creds = if flags & AT_EACCESS != 0 {
        p.creds.clone()
    } else {
        p.creds.for_access()
    };
    let saved = std::mem::replace(&mut p.creds, creds.clone());
    let found = if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        k.start_dir(p, fd_arg(dirfd), b"x")
    } else {
        k.lookup_at(p, fd_arg(dirfd), &path, flags & AT_SYMLINK_NOFOLLOW == 0)
    };
    p.creds = saved;
    let ino = found?;
    if mode == 0 {
        return Ok(0);
    }
    k.may(&creds, ino, mode as u32)?;
    Ok(0)
}

pub fn sys_faccessat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    access(k, p, a[0], a[1], a[2], 0)
}

pub fn sys_faccessat2(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    access(k, p, a[0], a[1], a[2], a[3])
}

pub fn sys_getcwd(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let mut path = k.ino_path(p, p.cwd)?;
    path.push(0);
    if path.len() as u64 > a[1] {
        return Err(Errno::ERANGE);
    }
    k.write_user(p, a[0], &path)?;
    Ok(path.len() as u64)
}

fn set_cwd(k: &mut Kernel, p: &mut Process, ino: Ino) -> SysResult {
    if k.stat_ino(p, ino)?.mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    k.may(&p.creds.clone(), ino, MAY_EXEC)?;
    p.cwd = ino;
    Ok(0)
}

pub fn sys_chdir(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let path = k.read_path(p, a[0])?;
    let ino = k.lookup_at(p, AT_FDCWD, &path, true)?;
    set_cwd(k, p, ino)
}

/// chroot(2): the directory `path` names becomes the process's `/` (CAP_SYS_CHROOT;
/// search permission on it). Absolute paths and `..` at it stay inside from then on, for
/// its children and across execve; the working directory is left where it is, as Linux
/// leaves it (so a process can still reach outside through it or open descriptors).
pub fn sys_chroot(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let path = k.read_path(p, a[0])?;
    let ino = k.lookup_at(p, AT_FDCWD, &path, true)?;
    if k.stat_ino(p, ino)?.mode & S_IFMT != S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    k.may(&p.creds.clone(), ino, MAY_EXEC)?;
    if !p.creds.capable(crate::creds::cap::SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    if crate::procfs::is_proc(ino) {
        // /proc's directories are made on demand, not kept: not a root to walk from.
        return Err(Errno::EINVAL);
    }
    p.root = (ino != k.fs.root()).then_some(ino);
    Ok(0)
}

pub fn sys_fchdir(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let FileKind::Inode(ino) = p.fds.file(fd_arg(a[0]))?.borrow().kind else {
        return Err(Errno::ENOTDIR);
    };
    set_cwd(k, p, ino)
}

pub fn sys_mkdirat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, mode) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2] as u32);
    let (parent, name) = k.parent_at(p, dirfd, &path)?;
    if name == b"." || name == b".." || name.is_empty() {
        return Err(Errno::EEXIST);
    }
    let mode = S_IFDIR | (mode & 0o7777 & !p.umask);
    k.create_node(&p.creds.clone(), parent, &name, mode, 0)?;
    Ok(0)
}

pub fn sys_unlinkat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (dirfd, path, flags) = (fd_arg(a[0]), k.read_path(p, a[1])?, a[2]);
    let (parent, name) = k.parent_at(p, dirfd, &path)?;
    k.may_delete(&p.creds.clone(), parent, &name)?;
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

pub fn sys_dup3(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (old, new, flags) = (fd_arg(a[0]), fd_arg(a[1]), a[2] as u32);
    if old == new || flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.fds.file(old)?;
    if let Ok(replaced) = p.fds.get(new).map(|e| e.file.clone()) {
        p.fds.remove(new)?;
        k.locks.closed(p.pid, &replaced);
    }
    p.fds.insert_at(
        new,
        FdEntry {
            file,
            cloexec: flags & O_CLOEXEC != 0,
        },
    )?;
    Ok(new as u64)
}

pub fn sys_fcntl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const F_DUPFD: u64 = 0;
    const F_GETFD: u64 = 1;
    const F_SETFD: u64 = 2;
    const F_GETFL: u64 = 3;
    const F_SETFL: u64 = 4;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    const F_SETPIPE_SZ: u64 = 1031;
    const F_GETPIPE_SZ: u64 = 1032;
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
            // fcntl(2): only O_APPEND, O_NONBLOCK, O_ASYNC (and direct I/O flags) change.
            let file = p.fds.file(fd)?;
            let settable = O_APPEND | O_NONBLOCK;
            {
                let mut f = file.borrow_mut();
                f.flags = (f.flags & !settable) | (a[2] as u32 & settable);
            }
            k.set_o_async(p, &file, a[2] as u32 & fasync::O_ASYNC != 0);
            Ok(0)
        }
        fasync::F_SETOWN
        | fasync::F_GETOWN
        | fasync::F_SETSIG
        | fasync::F_GETSIG
        | fasync::F_SETOWN_EX
        | fasync::F_GETOWN_EX => fasync::fcntl(k, p, a),
        lock::F_GETLK
        | lock::F_SETLK
        | lock::F_SETLKW
        | lock::F_OFD_GETLK
        | lock::F_OFD_SETLK
        | lock::F_OFD_SETLKW => lock::fcntl_lock(k, p, a),
        F_SETPIPE_SZ | F_GETPIPE_SZ => {
            let file = p.fds.file(fd)?;
            let f = file.borrow();
            let FileKind::Pipe(end) = &f.kind else {
                return Err(Errno::EBADF);
            };
            let mut pipe = end.pipe.borrow_mut();
            if a[1] == F_GETPIPE_SZ {
                return Ok(pipe.buf.capacity() as u64);
            }
            // Past /proc/sys/fs/pipe-max-size needs CAP_SYS_RESOURCE, which docker does not
            // grant (as for RLIMIT_NOFILE's hard limit).
            let size = a[2] as u32 as usize;
            let cap = crate::pipe::Ring::round_capacity(size)?;
            if cap > crate::pipe::PIPE_MAX_SIZE && cap > pipe.buf.capacity() {
                return Err(Errno::EPERM);
            }
            pipe.buf.set_capacity(cap)?;
            drop(pipe);
            k.progress += 1;
            Ok(cap as u64)
        }
        cmd => {
            // Unknown commands are EINVAL on Linux too; these are known ones not done here.
            let name = match cmd {
                1024 | 1025 => "F_SETLEASE/F_GETLEASE",
                1026 => "F_NOTIFY",
                1033 | 1034 => "F_ADD_SEALS/F_GET_SEALS",
                _ => "",
            };
            if k.trace && !name.is_empty() {
                k.report(&format!("fcntl {name} is not supported: returning EINVAL"));
            }
            Err(Errno::EINVAL)
        }
    }
}

impl Kernel {
    /// FIONREAD: bytes a read would return now.
    fn bytes_readable(&mut self, p: &Process, f: &OpenFile) -> Result<u64, Errno> {
        Ok(match &f.kind {
            FileKind::Pipe(end) => end.pipe.borrow().buf.len() as u64,
            FileKind::Inotify(i) => i.0.borrow().pending_bytes(),
            FileKind::Stdio(Stdio::In) => {
                self.poll_file(p, f, 0);
                self.stdin_buf.len() as u64
            }
            FileKind::Inode(ino) => {
                let st = self.fs.stat(*ino)?;
                if st.mode & S_IFMT == S_IFDIR {
                    return Err(Errno::ENOTTY);
                }
                st.size.saturating_sub(f.offset)
            }
            FileKind::Socket(s) => {
                let s = s.0.borrow();
                match &s.imp {
                    crate::socket::Imp::Unix(u) => {
                        let messages = s.ty != crate::socket::SockType::Stream;
                        match u.rx.front() {
                            // A datagram socket reports the next message's size.
                            Some(m) if messages => m.data.len() as u64,
                            _ => u.rx_bytes as u64,
                        }
                    }
                    crate::socket::Imp::Netlink(n) => {
                        n.replies.front().map_or(0, |m| m.len() as u64)
                    }
                    crate::socket::Imp::Inet(i) => match i.dns_replies.front() {
                        Some(r) => r.len() as u64,
                        None => self
                            .net
                            .recv(i.handle, 1 << 16, true)
                            .map_or(0, |(d, _)| d.len() as u64),
                    },
                }
            }
            FileKind::EventFd(_) | FileKind::Epoll(_) => return Err(Errno::ENOTTY),
            // TIOCINQ: complete lines in canonical mode; for a master, unread output.
            FileKind::Tty(end) => {
                let t = end.tty.borrow();
                match end.master {
                    true => t.out.len() as u64,
                    false => t.ldisc.available(&t.termios) as u64,
                }
            }
            _ => 0,
        })
    }
}

pub fn sys_ioctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    const FIONCLEX: u64 = 0x5450;
    const FIOCLEX: u64 = 0x5451;
    const FIONREAD: u64 = 0x541b;
    const FIONBIO: u64 = 0x5421;
    const FIOASYNC: u64 = 0x5452;
    let fd = fd_arg(a[0]);
    match a[1] {
        FIOCLEX | FIONCLEX => {
            p.fds.get_mut(fd)?.cloexec = a[1] == FIOCLEX;
            Ok(0)
        }
        // Python's setblocking() and many event loops flip O_NONBLOCK this way.
        FIONBIO => {
            let on = u32::from_le_bytes(k.read_user(p, a[2], 4)?.try_into().unwrap()) != 0;
            let file = p.fds.file(fd)?;
            let mut f = file.borrow_mut();
            if on {
                f.flags |= O_NONBLOCK;
            } else {
                f.flags &= !O_NONBLOCK;
            }
            Ok(0)
        }
        // O_ASYNC, as F_SETFL sets it (nginx arms its channels this way).
        FIOASYNC => {
            let on = u32::from_le_bytes(k.read_user(p, a[2], 4)?.try_into().unwrap()) != 0;
            let file = p.fds.file(fd)?;
            k.set_o_async(p, &file, on);
            Ok(0)
        }
        FIONREAD => {
            let file = p.fds.file(fd)?;
            let n = k.bytes_readable(p, &file.borrow())?;
            k.write_user(p, a[2], &(n.min(i32::MAX as u64) as i32).to_le_bytes())?;
            Ok(0)
        }
        cmd if crate::netlink::ifreq::is_interface_ioctl(cmd)
            || cmd == crate::netlink::ifreq::SIOCGIFCONF =>
        {
            super::socket::interface_ioctl(k, p, fd, cmd, a[2])
        }
        _ if super::tty::is_tty(p, fd) => super::tty::ioctl(k, p, fd, a),
        _ => {
            p.fds.file(fd)?;
            Err(Errno::ENOTTY)
        }
    }
}
