//! memfd_create(2) (mm/memfd.c): an anonymous, memory-backed regular file. V8, systemd,
//! Wayland clients and others use it for shared memory and to double-map JIT code.
//!
//! The file is a nameless vfs inode (nlink 0), so read, write, ftruncate, mmap (shared
//! mappings through shm.rs) and fstat work as on any regular file; /proc/self/fd shows
//! "/memfd:NAME (deleted)" as on Linux.

use friscy_abi::Errno;

use super::fs::install;
use super::{Args, SysResult};
use crate::{Kernel, Process};

const MFD_CLOEXEC: u64 = 0x1;
const MFD_ALLOW_SEALING: u64 = 0x2;
const MFD_HUGETLB: u64 = 0x4;
const MFD_NOEXEC_SEAL: u64 = 0x8;
const MFD_EXEC: u64 = 0x10;
/// MFD_NAME_MAX_LEN: NAME_MAX minus the "memfd:" prefix.
const NAME_MAX: usize = 255 - 6;
const O_RDWR: u32 = 0o2;
const O_LARGEFILE: u32 = 0o100000;
const O_CLOEXEC: u32 = 0o2000000;

pub fn sys_memfd_create(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let flags = a[1];
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & (MFD_NOEXEC_SEAL | MFD_EXEC) == (MFD_NOEXEC_SEAL | MFD_EXEC)
    {
        return Err(Errno::EINVAL);
    }
    // There is no hugetlbfs to back such a file (Linux says ENOENT when the hugetlbfs
    // mount for the size is missing).
    if flags & MFD_HUGETLB != 0 {
        return Err(Errno::ENOENT);
    }
    // The name is read up to NAME_MAX + 1 bytes: a longer one is EINVAL.
    let name = k
        .guest(p.space, |m| m.read_cstr(p.space, a[0], NAME_MAX + 1))
        .map_err(|_| Errno::EFAULT)?;
    if name.len() > NAME_MAX {
        return Err(Errno::EINVAL);
    }
    let ino = k.fs.create_unlinked(0o777)?;
    let (uid, gid) = (p.creds.uid.fs, p.creds.gid.fs);
    if (uid, gid) != (0, 0) {
        k.fs.set_attr(
            ino,
            &friscy_vfs::SetAttr {
                uid: Some(uid),
                gid: Some(gid),
                ..Default::default()
            },
        )?;
    }
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let mut oflags = O_RDWR | O_LARGEFILE;
    if flags & MFD_CLOEXEC != 0 {
        oflags |= O_CLOEXEC;
    }
    install(k, p, -100, path, crate::fd::FileKind::Inode(ino), oflags)
}
