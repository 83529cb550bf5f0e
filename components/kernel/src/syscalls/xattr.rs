//! Extended attributes: setxattr, getxattr, listxattr, removexattr and their l* (no
//! symlink following) and f* (descriptor) forms.
//!
//! friscy's filesystems keep no extended attributes, so they answer as a Linux filesystem
//! without xattr support does (fs/xattr.c with no handlers): listxattr lists none, and
//! getting, setting or removing one fails with EOPNOTSUPP. The arguments are checked
//! first, in Linux's order (flags, name, value size, then the file), so bad calls get the
//! errors they would get anywhere. Programs treat EOPNOTSUPP as "this filesystem has no
//! xattrs" (Python's shutil.copy2, cp -a, tar --xattrs); ENOSYS made shutil.copy2 fail.

use friscy_abi::Errno;

use super::fs::{AT_FDCWD, O_PATH, fd_arg};
use super::{Args, SysResult};
use crate::{Kernel, Process};

/// XATTR_NAME_MAX and XATTR_SIZE_MAX (include/uapi/linux/limits.h).
const NAME_MAX: usize = 255;
const SIZE_MAX: u64 = 65536;
const XATTR_CREATE: u64 = 1;
const XATTR_REPLACE: u64 = 2;

/// Which file a call names.
enum Target {
    Path { follow: bool },
    Fd,
}

/// Resolves the file (ENOENT, ENOTDIR, ELOOP, EBADF... as any call that takes one).
fn resolve(k: &mut Kernel, p: &Process, arg: u64, target: Target) -> Result<(), Errno> {
    match target {
        Target::Path { follow } => {
            let path = k.read_path(p, arg)?;
            k.lookup_at(p, AT_FDCWD, &path, follow)?;
        }
        Target::Fd => {
            // An O_PATH descriptor does not carry attributes calls (fdget, not fdget_raw).
            if p.fds.file(fd_arg(arg))?.borrow().flags & O_PATH != 0 {
                return Err(Errno::EBADF);
            }
        }
    }
    Ok(())
}

/// An attribute name: ERANGE when empty or longer than XATTR_NAME_MAX.
fn name(k: &mut Kernel, p: &Process, addr: u64) -> Result<(), Errno> {
    let name = k
        .guest(p.space, |m| m.read_cstr(p.space, addr, NAME_MAX + 1))
        .map_err(|_| Errno::EFAULT)?;
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(Errno::ERANGE);
    }
    Ok(())
}

fn set(k: &mut Kernel, p: &mut Process, a: Args, target: Target) -> SysResult {
    let (size, flags) = (a[3], a[4]);
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    name(k, p, a[1])?;
    if size > SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    if size > 0 {
        k.read_user(p, a[2], size as usize)?;
    }
    resolve(k, p, a[0], target)?;
    Err(Errno::EOPNOTSUPP)
}

fn get(k: &mut Kernel, p: &mut Process, a: Args, target: Target) -> SysResult {
    name(k, p, a[1])?;
    resolve(k, p, a[0], target)?;
    Err(Errno::EOPNOTSUPP)
}

fn list(k: &mut Kernel, p: &mut Process, a: Args, target: Target) -> SysResult {
    resolve(k, p, a[0], target)?;
    // No attributes: an empty list, whatever the buffer's size.
    Ok(0)
}

fn remove(k: &mut Kernel, p: &mut Process, a: Args, target: Target) -> SysResult {
    name(k, p, a[1])?;
    resolve(k, p, a[0], target)?;
    Err(Errno::EOPNOTSUPP)
}

pub fn sys_setxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    set(k, p, a, Target::Path { follow: true })
}
pub fn sys_lsetxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    set(k, p, a, Target::Path { follow: false })
}
pub fn sys_fsetxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    set(k, p, a, Target::Fd)
}
pub fn sys_getxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    get(k, p, a, Target::Path { follow: true })
}
pub fn sys_lgetxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    get(k, p, a, Target::Path { follow: false })
}
pub fn sys_fgetxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    get(k, p, a, Target::Fd)
}
pub fn sys_listxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    list(k, p, a, Target::Path { follow: true })
}
pub fn sys_llistxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    list(k, p, a, Target::Path { follow: false })
}
pub fn sys_flistxattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    list(k, p, a, Target::Fd)
}
pub fn sys_removexattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    remove(k, p, a, Target::Path { follow: true })
}
pub fn sys_lremovexattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    remove(k, p, a, Target::Path { follow: false })
}
pub fn sys_fremovexattr(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    remove(k, p, a, Target::Fd)
}
