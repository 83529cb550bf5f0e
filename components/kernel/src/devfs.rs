//! /dev: the device nodes a container sees, and what opening a character device gives.
//!
//! Docker mounts a fresh tmpfs on /dev holding null, zero, full, random, urandom, tty, the
//! fd/stdin/stdout/stderr links into /proc, ptmx (a link to pts/ptmx), the pts (devpts)
//! and shm directories, and with -t the console. friscy makes
//! the same entries as real nodes in the vfs's writable layer when the kernel starts, so
//! `ls -l /dev`, stat, readlink and getdents64 need nothing special, programs can create
//! files in /dev/shm, and `mknod` anywhere makes a working device. Opening a character
//! device dispatches on its device number (as Linux's chrdev table does), not on its name.

use friscy_abi::Errno;
use friscy_abi::mode::*;

use crate::fd::{Device, FileKind};
use crate::syscalls::stat::{major, makedev, minor};
use crate::tty::TtyEnd;
use crate::{Kernel, Process};

/// What /dev holds: (name, mode, rdev (major, minor), symlink target).
const ENTRIES: &[(&str, u32, (u32, u32), &str)] = &[
    ("null", S_IFCHR | 0o666, (1, 3), ""),
    ("zero", S_IFCHR | 0o666, (1, 5), ""),
    ("full", S_IFCHR | 0o666, (1, 7), ""),
    ("random", S_IFCHR | 0o666, (1, 8), ""),
    ("urandom", S_IFCHR | 0o666, (1, 9), ""),
    ("tty", S_IFCHR | 0o666, (5, 0), ""),
    ("fd", S_IFLNK | 0o777, (0, 0), "/proc/self/fd"),
    ("stdin", S_IFLNK | 0o777, (0, 0), "/proc/self/fd/0"),
    ("stdout", S_IFLNK | 0o777, (0, 0), "/proc/self/fd/1"),
    ("stderr", S_IFLNK | 0o777, (0, 0), "/proc/self/fd/2"),
    ("ptmx", S_IFLNK | 0o777, (0, 0), "pts/ptmx"),
    ("pts", S_IFDIR | 0o755, (0, 0), ""),
    ("shm", S_IFDIR | 0o1777, (0, 0), ""),
];

/// devpts's own entries: (name, mode, rdev).
const PTS_ENTRIES: &[(&str, u32, (u32, u32))] = &[("ptmx", S_IFCHR | 0o666, (5, 2))];

/// UNIX98 pty slaves (Documentation/admin-guide/devices.txt).
pub const PTS_MAJOR: u32 = 136;

/// The device behind a character device number (Documentation/admin-guide/devices.txt).
pub fn device_of(rdev: u64) -> Option<Device> {
    Some(match (major(rdev), minor(rdev)) {
        (1, 3) => Device::Null,
        (1, 5) => Device::Zero,
        (1, 7) => Device::Full,
        (1, 8) => Device::Random,
        (1, 9) => Device::Urandom,
        _ => return None,
    })
}

/// Make /dev's entries in the vfs (once, when the kernel starts). An entry the image
/// already has with the right type (and device number or target) is kept; another file
/// by that name is replaced, as the tmpfs hides the image's /dev. Failures only leave an
/// entry out: a read-only or odd image still runs.
pub fn populate(k: &mut Kernel) {
    let root = k.fs.root();
    let dev = match k.fs.lookup(root, b"dev", true) {
        Ok(ino) => ino,
        Err(_) => match k.fs.create(root, b"dev", S_IFDIR | 0o755, 0) {
            Ok(ino) => ino,
            Err(_) => return,
        },
    };
    let mut entries: Vec<(&str, u32, (u32, u32), &str)> = ENTRIES.to_vec();
    if k.ttys.console.is_some() {
        entries.push(("console", S_IFCHR | 0o600, (5, 1), ""));
    }
    make_nodes(k, dev, &entries);
    if let Ok(pts) = k.fs.lookup(dev, b"pts", true) {
        let mut entries: Vec<(&str, u32, (u32, u32), &str)> =
            PTS_ENTRIES.iter().map(|&(n, m, r)| (n, m, r, "")).collect();
        if k.ttys.console.is_some() {
            entries.push(("0", S_IFCHR | 0o620, (PTS_MAJOR, 0), ""));
        }
        make_nodes(k, pts, &entries);
    }
}

/// Make the entries in directory `dev`, keeping what is already right.
fn make_nodes(k: &mut Kernel, dev: friscy_vfs::Ino, entries: &[(&str, u32, (u32, u32), &str)]) {
    for &(name, mode, (ma, mi), target) in entries {
        let name = name.as_bytes();
        let rdev = makedev(ma, mi);
        if let Ok(ino) = k.fs.lookup(dev, name, false) {
            let Ok(st) = k.fs.stat(ino) else { continue };
            let same = st.mode & S_IFMT == mode & S_IFMT
                && match mode & S_IFMT {
                    S_IFCHR => st.rdev == rdev,
                    S_IFLNK => k.fs.readlink(ino).is_ok_and(|t| t == target.as_bytes()),
                    _ => true,
                };
            if same || k.fs.remove(dev, name, st.mode & S_IFMT == S_IFDIR).is_err() {
                continue;
            }
        }
        let _ = match mode & S_IFMT {
            S_IFLNK => k.fs.symlink(dev, name, target.as_bytes()).map(drop),
            _ => k.fs.create(dev, name, mode, rdev).map(drop),
        };
    }
}

/// What opening a character device node gives. open(2): ENXIO for a device number no
/// driver serves; tty(4): ENXIO for /dev/tty without a controlling terminal; pts(4): a
/// new pty for /dev/ptmx (its /dev/pts/N appears), EIO for a locked slave.
pub fn open_char(
    k: &mut Kernel,
    p: &mut Process,
    rdev: u64,
    flags: u32,
) -> Result<FileKind, Errno> {
    if let Some(d) = device_of(rdev) {
        return Ok(FileKind::Device(d));
    }
    let slave = match (major(rdev), minor(rdev)) {
        (5, 0) => {
            let tty = p.ctty.clone().ok_or(Errno::ENXIO)?;
            return Ok(FileKind::Tty(TtyEnd::new(tty, false)));
        }
        (5, 1) => k.ttys.console.clone().ok_or(Errno::ENXIO)?,
        (5, 2) => {
            let tty = k.ttys.new_pty()?;
            let index = tty.borrow().index;
            let root = k.fs.root();
            if let Ok(pts) = k.fs.lookup(root, b"dev/pts", true) {
                let name = index.to_string();
                let _ = k.fs.remove(pts, name.as_bytes(), false);
                let _ = k.fs.create(
                    pts,
                    name.as_bytes(),
                    S_IFCHR | 0o620,
                    makedev(PTS_MAJOR, index),
                );
            }
            return Ok(FileKind::Tty(TtyEnd::new(tty, true)));
        }
        (PTS_MAJOR, n) => {
            let tty = k.ttys.pts(n).ok_or(Errno::ENXIO)?;
            if tty.borrow().locked {
                return Err(Errno::EIO);
            }
            tty
        }
        _ => return Err(Errno::ENXIO),
    };
    if flags & O_NOCTTY == 0 {
        k.maybe_acquire(p, &slave);
    }
    Ok(FileKind::Tty(TtyEnd::new(slave, false)))
}

/// open(2)'s O_NOCTTY.
const O_NOCTTY: u32 = 0o400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_match_linux() {
        assert_eq!(device_of(makedev(1, 3)), Some(Device::Null));
        assert_eq!(device_of(makedev(1, 9)), Some(Device::Urandom));
        assert_eq!(device_of(makedev(5, 0)), None);
        for (name, _, (ma, mi), _) in ENTRIES {
            if let Some(d) = device_of(makedev(*ma, *mi)) {
                assert_eq!(d.rdev(), (*ma, *mi), "{name}");
            }
        }
    }
}
