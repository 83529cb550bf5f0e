//! In-kernel copies between descriptors: sendfile, splice, tee, vmsplice and
//! copy_file_range (sendfile(2), splice(2), tee(2), vmsplice(2), copy_file_range(2)).
//!
//! Bytes move from a *source* (a file, device or /proc file read at an offset; a pipe's
//! read end; a stream socket) to a *sink* (a pipe's write end; a socket; a file, device or
//! host stream) without passing through guest memory. Two rules shape the loop, as in
//! Linux, so that no byte is lost or sent twice when a call waits:
//!
//! - Nothing is consumed that the sink did not take. A source is read ahead (a file at its
//!   offset, a pipe or socket by peeking) and only the bytes the sink accepted are consumed:
//!   the offset moves by that much, that much leaves the pipe or socket.
//! - A call that must wait has either moved nothing (it parks and runs again from scratch)
//!   or it keeps what it moved in `Restart::done`. Into a pipe, and out of a pipe that runs
//!   dry, Linux returns the count as soon as a wait would follow (splice_file_to_pipe fills
//!   the pipe once; splice_from_pipe_next stops once the pipe is empty and something was
//!   spliced); into a blocking socket it waits until all is sent, so the call parks with
//!   its count in `Restart::done`, offsets already moved, and a signal ends it with that
//!   count (sched.rs `setup_frame`), as a partial sendfile(2) returns.

use friscy_abi::Errno;
use friscy_abi::mode::*;

use super::fs::{IO_CHUNK, O_ACCMODE, O_APPEND, O_NONBLOCK, O_PATH, O_WRONLY, fd_arg};
use super::{Args, SysResult};
use crate::fd::{FileKind, FileRef};
use crate::process::{Restart, Wake};
use crate::socket::SockRef;
use crate::{Kernel, Process};

/// splice(2) flags (include/linux/splice.h).
const SPLICE_F_NONBLOCK: u64 = 0x02;
const SPLICE_F_ALL: u64 = 0x0f;
/// The most one call moves (Linux's MAX_RW_COUNT).
const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// The most one socket send of a copy takes: a pipe's worth, as splice_to_socket gathers
/// at most the pipe's buffers into one sendmsg (datagram sockets get one message each).
const SOCKET_CHUNK: usize = 64 * 1024;

/// Where the bytes of a copy come from.
enum Source {
    /// Read at `pos`; each step that moves bytes stores the new position back in the
    /// description (`own_pos`) or at the guest's offset pointer (`ptr`).
    File {
        file: FileRef,
        pos: u64,
        own_pos: bool,
        ptr: u64,
    },
    /// A pipe's read end (also a FIFO's).
    Pipe(FileRef),
    /// A stream socket: read by peeking, consumed by receiving what the sink took.
    Socket(FileRef, SockRef),
}

/// Where the bytes of a copy go.
enum Sink {
    Pipe(FileRef),
    Socket(FileRef, SockRef),
    /// A file at `pos` (stored back like `Source::File`'s), a device or a host stream:
    /// anything whose write never waits.
    File {
        file: FileRef,
        pos: u64,
        own_pos: bool,
        ptr: u64,
    },
}

/// Whether a descriptor is open for reading, writing (EBADF otherwise).
fn readable(f: &FileRef) -> bool {
    let flags = f.borrow().flags;
    flags & O_ACCMODE != O_WRONLY && flags & O_PATH == 0
}
fn writable(f: &FileRef) -> bool {
    let flags = f.borrow().flags;
    flags & O_ACCMODE != 0 && flags & O_PATH == 0
}

fn nonblocking(f: &FileRef) -> bool {
    f.borrow().flags & O_NONBLOCK != 0
}

/// The pipe behind a descriptor, if it is one (get_pipe_info).
fn is_pipe(f: &FileRef) -> bool {
    matches!(f.borrow().kind, FileKind::Pipe(_))
}

fn socket_of(f: &FileRef) -> Option<SockRef> {
    match &f.borrow().kind {
        FileKind::Socket(s) => Some(s.0.clone()),
        _ => None,
    }
}

/// A guest `loff_t *` argument: None for NULL, EINVAL for a negative offset.
fn offset_at(k: &mut Kernel, p: &Process, ptr: u64) -> Result<Option<u64>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    match k.read_u64(p, ptr)? as i64 {
        o if o < 0 => Err(Errno::EINVAL),
        o => Ok(Some(o as u64)),
    }
}

/// Files a copy may read at an offset (those with splice_read and FMODE_PREAD).
fn positioned(f: &FileRef) -> bool {
    matches!(
        f.borrow().kind,
        FileKind::Inode(_) | FileKind::Proc(_) | FileKind::Device(_)
    )
}

/// The source for a readable, positioned descriptor at `*ptr` or its own offset.
fn file_source(k: &mut Kernel, p: &Process, file: FileRef, ptr: u64) -> Result<Source, Errno> {
    let (pos, own_pos) = match offset_at(k, p, ptr)? {
        Some(o) => (o, false),
        None => (file.borrow().offset, true),
    };
    Ok(Source::File {
        file,
        pos,
        own_pos,
        ptr,
    })
}

/// The sink for a writable descriptor that is neither a pipe nor a socket.
fn file_sink(k: &mut Kernel, p: &Process, file: FileRef, ptr: u64) -> Result<Sink, Errno> {
    match file.borrow().kind {
        // No splice_write (eventfd, epoll, timerfd, signalfd), or no write at all (stdin).
        FileKind::EventFd(_)
        | FileKind::Epoll(_)
        | FileKind::TimerFd(_)
        | FileKind::SignalFd(_)
        | FileKind::Inotify(_)
        | FileKind::PidFd(_)
        | FileKind::Proc(_)
        | FileKind::Stdio(crate::Stdio::In) => return Err(Errno::EINVAL),
        _ => {}
    }
    let (pos, own_pos) = match offset_at(k, p, ptr)? {
        Some(o) if positioned(&file) => (o, false),
        Some(_) => return Err(Errno::EINVAL),
        None => (file.borrow().offset, true),
    };
    Ok(Sink::File {
        file,
        pos,
        own_pos,
        ptr,
    })
}

impl Source {
    /// Up to `max` bytes without consuming them: EAGAIN when none are there yet, empty at
    /// end of file.
    fn peek(&self, k: &mut Kernel, max: usize) -> Result<Vec<u8>, Errno> {
        match self {
            Source::File { file, pos, .. } => k.file_read(&file.borrow(), *pos, max),
            Source::Pipe(file) => {
                let f = file.borrow();
                let FileKind::Pipe(end) = &f.kind else {
                    return Err(Errno::EBADF);
                };
                let pipe = end.pipe.borrow();
                if pipe.buf.is_empty() {
                    return if pipe.writers == 0 {
                        Ok(Vec::new())
                    } else {
                        Err(Errno::EAGAIN)
                    };
                }
                Ok(pipe.buf.peek(max))
            }
            Source::Socket(_, sock) => {
                let r = k.sock_recv(sock, max, super::socket::MSG_PEEK)?;
                Ok(r.data)
            }
        }
    }

    /// Take `n` bytes that a peek returned and the sink accepted.
    fn consume(&mut self, k: &mut Kernel, p: &Process, n: usize) -> Result<(), Errno> {
        match self {
            Source::File {
                file,
                pos,
                own_pos,
                ptr,
            } => {
                *pos += n as u64;
                if *own_pos {
                    file.borrow_mut().offset = *pos;
                } else {
                    k.write_u64(p, *ptr, *pos)?;
                }
            }
            Source::Pipe(file) => {
                if let FileKind::Pipe(end) = &file.borrow().kind {
                    end.pipe.borrow_mut().buf.consume(n);
                }
            }
            Source::Socket(_, sock) => {
                k.sock_recv(sock, n, 0)?;
            }
        }
        Ok(())
    }

    /// Whether waiting for input must not block: SPLICE_F_NONBLOCK for pipes (given, or
    /// from the descriptors' O_NONBLOCK as do_splice derives it), the socket's own
    /// O_NONBLOCK for sockets (tcp_splice_read).
    fn nonblocking(&self, splice_nonblock: bool) -> bool {
        match self {
            Source::File { .. } => false,
            Source::Pipe(_) => splice_nonblock,
            Source::Socket(f, _) => nonblocking(f),
        }
    }
}

/// How much a sink takes now.
enum Room {
    /// No readers (pipes) or a broken connection: EPIPE and SIGPIPE.
    Broken,
    Full,
    Bytes(usize),
}

impl Sink {
    fn room(&self) -> Room {
        match self {
            Sink::Pipe(file) => {
                let f = file.borrow();
                let FileKind::Pipe(end) = &f.kind else {
                    return Room::Broken;
                };
                let pipe = end.pipe.borrow();
                match (pipe.readers, pipe.space()) {
                    (0, _) => Room::Broken,
                    (_, 0) => Room::Full,
                    (_, n) => Room::Bytes(n),
                }
            }
            Sink::Socket(..) => Room::Bytes(SOCKET_CHUNK),
            Sink::File { .. } => Room::Bytes(IO_CHUNK),
        }
    }

    /// Write `data`: the bytes taken (possibly fewer), EAGAIN when none fit.
    fn push(&mut self, k: &mut Kernel, p: &Process, data: &[u8]) -> Result<usize, Errno> {
        match self {
            Sink::Pipe(file) => {
                let f = file.borrow();
                let FileKind::Pipe(end) = &f.kind else {
                    return Err(Errno::EBADF);
                };
                let mut pipe = end.pipe.borrow_mut();
                let n = data.len().min(pipe.space());
                pipe.buf.extend(&data[..n]);
                Ok(n)
            }
            Sink::Socket(_, sock) => k.sock_send(sock, data, None, Vec::new(), Some(p)),
            Sink::File {
                file,
                pos,
                own_pos,
                ptr,
            } => {
                let n = k.file_write(&file.borrow(), *pos, data)?;
                *pos += n;
                if *own_pos {
                    file.borrow_mut().offset = *pos;
                } else {
                    k.write_u64(p, *ptr, *pos)?;
                }
                Ok(n as usize)
            }
        }
    }
}

/// Move up to `count` bytes from `src` to `sink` (the loop the module comment describes).
/// `splice_nonblock`: SPLICE_F_NONBLOCK, given or derived from O_NONBLOCK.
fn copy(
    k: &mut Kernel,
    p: &mut Process,
    mut src: Source,
    mut sink: Sink,
    count: u64,
    splice_nonblock: bool,
) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    let mut done = p.thread().restart.map_or(0, |r| r.done);
    let mut moved = false;
    loop {
        if done >= count {
            return Ok(done);
        }
        let room = match sink.room() {
            Room::Broken => {
                p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EPIPE)
                };
            }
            Room::Full if done > 0 => return Ok(done),
            Room::Full if splice_nonblock => return Err(Errno::EAGAIN),
            Room::Full => return wait(k, p, None, done, moved),
            Room::Bytes(n) => n,
        };
        let want = ((count - done) as usize).min(room);
        let data = match src.peek(k, want) {
            Ok(d) => d,
            Err(Errno::EAGAIN) if done > 0 => return Ok(done),
            Err(Errno::EAGAIN) if src.nonblocking(splice_nonblock) => return Err(Errno::EAGAIN),
            Err(Errno::EAGAIN) => {
                let want_net = match &src {
                    Source::Socket(_, s) => Some((s.clone(), false)),
                    _ => None,
                };
                return wait(k, p, want_net, done, moved);
            }
            Err(e) if done > 0 => {
                let _ = e;
                return Ok(done);
            }
            Err(e) => return Err(e),
        };
        if data.is_empty() {
            return Ok(done);
        }
        let n = match sink.push(k, p, &data) {
            Ok(n) => n,
            Err(Errno::EAGAIN) => {
                // Only a socket refuses bytes here (a pipe's room was checked): Linux's
                // send waits for buffer space until all is sent.
                let Sink::Socket(file, sock) = &sink else {
                    return if done > 0 {
                        Ok(done)
                    } else {
                        Err(Errno::EAGAIN)
                    };
                };
                let (file, sock) = (file.clone(), sock.clone());
                return socket_wait(k, p, &file, &sock, done, moved);
            }
            Err(Errno::EPIPE) => {
                p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EPIPE)
                };
            }
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        };
        src.consume(k, p, n)?;
        done += n as u64;
        moved |= n > 0;
        if n < data.len() && !matches!(sink, Sink::Socket(..)) {
            // A file that took less (no space): what moved is the answer.
            return Ok(done);
        }
    }
}

/// Park a copy that waits for a pipe (either end) or a socket to read, keeping the count
/// moved so far (which is 0 here for every caller but the socket sink).
fn wait(
    k: &mut Kernel,
    p: &mut Process,
    net: Option<(SockRef, bool)>,
    done: u64,
    moved: bool,
) -> SysResult {
    if moved {
        // Parked threads on the other end may go on even though this call parks.
        k.progress += 1;
    }
    if let Some((sock, write)) = net
        && let crate::socket::Imp::Inet(i) = &sock.borrow().imp
    {
        k.want_net(i.handle, !write, write);
    }
    let r = k.park(p, Wake::Event, None, true);
    p.thread_mut()
        .restart
        .get_or_insert_with(Restart::default)
        .done = done;
    r
}

/// A socket sink that is full: the count so far for a non-blocking socket (EAGAIN if
/// none), else park (SO_SNDTIMEO is the deadline) keeping the count.
fn socket_wait(
    k: &mut Kernel,
    p: &mut Process,
    file: &FileRef,
    sock: &SockRef,
    done: u64,
    moved: bool,
) -> SysResult {
    if moved {
        k.progress += 1;
    }
    match k.sock_block(p, file, sock, 0, true) {
        Err(Errno::ERESTARTSYS) => {
            p.thread_mut()
                .restart
                .get_or_insert_with(Restart::default)
                .done = done;
            Err(Errno::ERESTARTSYS)
        }
        Err(Errno::EAGAIN) if done > 0 => Ok(done),
        r => r,
    }
}

/// The sink for a writable descriptor: its pipe, socket, or a file.
fn sink_for(k: &mut Kernel, p: &Process, file: FileRef, ptr: u64) -> Result<Sink, Errno> {
    if is_pipe(&file) {
        return Ok(Sink::Pipe(file));
    }
    if let Some(sock) = socket_of(&file) {
        if ptr != 0 {
            return Err(Errno::EINVAL);
        }
        return Ok(Sink::Socket(file, sock));
    }
    file_sink(k, p, file, ptr)
}

pub fn sys_sendfile(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (out_fd, in_fd, off_ptr, count) = (fd_arg(a[0]), fd_arg(a[1]), a[2], a[3]);
    let input = p.fds.file(in_fd)?;
    if !readable(&input) {
        return Err(Errno::EBADF);
    }
    let output = p.fds.file(out_fd)?;
    if !writable(&output) {
        return Err(Errno::EBADF);
    }
    // sendfile(2): in_fd must support mmap-like reads (files, devices, /proc; a pipe or a
    // socket is EINVAL, as Linux 6 answers); out_fd must not be O_APPEND.
    if !positioned(&input) {
        return Err(Errno::EINVAL);
    }
    if output.borrow().flags & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let src = file_source(k, p, input, off_ptr)?;
    // do_sendfile: a pipe output waits only with O_NONBLOCK off; otherwise the copy is
    // do_splice_direct's, which never gives up early.
    let nonblock = is_pipe(&output) && nonblocking(&output);
    let sink = sink_for(k, p, output, 0)?;
    copy(k, p, src, sink, count, nonblock)
}

pub fn sys_splice(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (in_fd, off_in, out_fd, off_out, len, flags) = (
        fd_arg(a[0]),
        a[1],
        fd_arg(a[2]),
        a[3],
        a[4],
        a[5] as u32 as u64,
    );
    if len == 0 {
        return Ok(0);
    }
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let input = p.fds.file(in_fd)?;
    let output = p.fds.file(out_fd)?;
    if !readable(&input) || !writable(&output) {
        return Err(Errno::EBADF);
    }
    let mut nonblock = flags & SPLICE_F_NONBLOCK != 0;
    let (src, sink) = match (is_pipe(&input), is_pipe(&output)) {
        (true, true) => {
            if off_in != 0 || off_out != 0 {
                return Err(Errno::ESPIPE);
            }
            if same_pipe(&input, &output) {
                return Err(Errno::EINVAL);
            }
            nonblock |= nonblocking(&input) || nonblocking(&output);
            (Source::Pipe(input), Sink::Pipe(output))
        }
        (true, false) => {
            if off_in != 0 {
                return Err(Errno::ESPIPE);
            }
            if output.borrow().flags & O_APPEND != 0 {
                return Err(Errno::EINVAL);
            }
            nonblock |= nonblocking(&input);
            let sink = sink_for(k, p, output, off_out)?;
            (Source::Pipe(input), sink)
        }
        (false, true) => {
            if off_out != 0 {
                return Err(Errno::ESPIPE);
            }
            nonblock |= nonblocking(&output);
            let src = match socket_of(&input) {
                Some(_) if off_in != 0 => return Err(Errno::EINVAL),
                Some(sock) => stream_source(input, sock)?,
                None if positioned(&input) => file_source(k, p, input, off_in)?,
                None => return Err(Errno::EINVAL),
            };
            (src, Sink::Pipe(output))
        }
        (false, false) => return Err(Errno::EINVAL),
    };
    copy(k, p, src, sink, len, nonblock)
}

/// A socket as a splice source: stream sockets only (a datagram's boundaries would be
/// lost; Linux's datagram splice_read is not modelled).
fn stream_source(file: FileRef, sock: SockRef) -> Result<Source, Errno> {
    if sock.borrow().ty != crate::socket::SockType::Stream {
        return Err(Errno::EINVAL);
    }
    Ok(Source::Socket(file, sock))
}

fn same_pipe(a: &FileRef, b: &FileRef) -> bool {
    match (&a.borrow().kind, &b.borrow().kind) {
        (FileKind::Pipe(x), FileKind::Pipe(y)) => std::rc::Rc::ptr_eq(&x.pipe, &y.pipe),
        _ => false,
    }
}

/// tee(2): copy up to `len` bytes from one pipe to another without consuming them. Waits
/// for input (none and no writers: 0) and for room (ipipe_prep, opipe_prep).
pub fn sys_tee(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (in_fd, out_fd, len, flags) = (fd_arg(a[0]), fd_arg(a[1]), a[2], a[3] as u32 as u64);
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let input = p.fds.file(in_fd)?;
    let output = p.fds.file(out_fd)?;
    if !readable(&input) || !writable(&output) {
        return Err(Errno::EBADF);
    }
    if !is_pipe(&input) || !is_pipe(&output) || same_pipe(&input, &output) {
        return Err(Errno::EINVAL);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || nonblocking(&input) || nonblocking(&output);
    let src = Source::Pipe(input);
    let mut sink = Sink::Pipe(output);
    let data = match src.peek(k, len.min(MAX_RW_COUNT) as usize) {
        Ok(d) if d.is_empty() => return Ok(0),
        Ok(d) => d,
        Err(Errno::EAGAIN) if nonblock => return Err(Errno::EAGAIN),
        Err(Errno::EAGAIN) => return wait(k, p, None, 0, false),
        Err(e) => return Err(e),
    };
    let room = match sink.room() {
        Room::Broken => {
            p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
            return Err(Errno::EPIPE);
        }
        Room::Full if nonblock => return Err(Errno::EAGAIN),
        Room::Full => return wait(k, p, None, 0, false),
        Room::Bytes(n) => n,
    };
    let n = sink.push(k, p, &data[..data.len().min(room)])?;
    Ok(n as u64)
}

/// vmsplice(2): guest memory into a pipe's write end (what fits once there is room, as
/// vmsplice_to_pipe), or a pipe's read end into guest memory (what is there once there is
/// something, as vmsplice_to_user).
pub fn sys_vmsplice(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (fd, iov, nr, flags) = (fd_arg(a[0]), a[1], a[2], a[3] as u32 as u64);
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.fds.file(fd)?;
    if !is_pipe(&file) {
        return Err(Errno::EBADF);
    }
    let iov = k.read_iovecs(p, iov, nr)?;
    let total = iov
        .iter()
        .fold(0u64, |t, &(_, l)| t.saturating_add(l))
        .min(MAX_RW_COUNT);
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || nonblocking(&file);
    if writable(&file) {
        let mut sink = Sink::Pipe(file);
        let room = match sink.room() {
            Room::Broken => {
                p.thread_mut().pending |= crate::signal::bit(crate::signal::SIGPIPE);
                return Err(Errno::EPIPE);
            }
            _ if total == 0 => return Ok(0),
            Room::Full if nonblock => return Err(Errno::EAGAIN),
            Room::Full => return wait(k, p, None, 0, false),
            Room::Bytes(n) => n,
        };
        let data = super::pipe::gather(k, p, &iov, 0, (total as usize).min(room))?;
        return Ok(sink.push(k, p, &data)? as u64);
    }
    if !readable(&file) {
        return Err(Errno::EBADF);
    }
    if total == 0 {
        return Ok(0);
    }
    let mut src = Source::Pipe(file);
    let data = match src.peek(k, total as usize) {
        Ok(d) => d,
        Err(Errno::EAGAIN) if nonblock => return Err(Errno::EAGAIN),
        Err(Errno::EAGAIN) => return wait(k, p, None, 0, false),
        Err(e) => return Err(e),
    };
    // Into guest memory first, then out of the pipe: a bad buffer loses nothing.
    let mut at = 0;
    for (base, len) in iov {
        if at == data.len() {
            break;
        }
        let n = (len as usize).min(data.len() - at);
        if let Err(e) = k.write_user(p, base, &data[at..at + n]) {
            if at == 0 {
                return Err(e);
            }
            break;
        }
        at += n;
    }
    src.consume(k, p, at)?;
    Ok(at as u64)
}

pub fn sys_copy_file_range(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (in_fd, in_ptr, out_fd, out_ptr, len, flags) =
        (fd_arg(a[0]), a[1], fd_arg(a[2]), a[3], a[4], a[5]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let (input, output) = (p.fds.file(in_fd)?, p.fds.file(out_fd)?);
    if !readable(&input) || !writable(&output) {
        return Err(Errno::EBADF);
    }
    // copy_file_range(2): EBADF if fd_out is O_APPEND; both must be regular files
    // (EISDIR for a directory, EINVAL otherwise: pipes and sockets included).
    if output.borrow().flags & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let mut inos = [0; 2];
    for (i, f) in [&input, &output].into_iter().enumerate() {
        let FileKind::Inode(ino) = f.borrow().kind else {
            return Err(Errno::EINVAL);
        };
        match k.stat_ino(p, ino)?.mode & S_IFMT {
            S_IFREG => inos[i] = ino,
            S_IFDIR => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        }
    }
    let src = file_source(k, p, input.clone(), in_ptr)?;
    let sink = file_sink(k, p, output.clone(), out_ptr)?;
    // The same file with overlapping ranges is EINVAL.
    if let (Source::File { pos: i, .. }, Sink::File { pos: o, .. }) = (&src, &sink)
        && inos[0] == inos[1]
        && *i < o.saturating_add(len)
        && *o < i.saturating_add(len)
    {
        return Err(Errno::EINVAL);
    }
    copy(k, p, src, sink, len, false)
}
