//! Path resolution across the vfs and the filesystems the kernel serves itself (/proc).
//!
//! The vfs resolves whole paths in one call, which is the fast path. It cannot know about
//! /proc, so the kernel walks a path itself, one component at a time, when the path starts
//! in /proc (an absolute "/proc/..." or a /proc directory descriptor), and as a fallback
//! when the vfs fails: a symlink in the image may lead into /proc (Alpine's /etc/mtab ->
//! /proc/mounts, /dev/fd -> /proc/self/fd). A fallback walk that never enters /proc
//! returns the vfs's own error, so the vfs stays the authority on its namespace.

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFDIR, S_IFLNK, S_IFMT};
use friscy_vfs::Ino;

use crate::procfs::{self, Follow};
use crate::{Kernel, Process};

/// Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

/// Whether the first real component of an absolute path is "proc".
fn under_proc(path: &[u8]) -> bool {
    path.starts_with(b"/")
        && path
            .split(|&c| c == b'/')
            .find(|c| !c.is_empty() && *c != b".")
            .is_some_and(|c| c == b"proc")
}

/// Push the components of `path` so that the first one is popped first.
fn push_components(stack: &mut Vec<Vec<u8>>, path: &[u8]) {
    for c in path.rsplit(|&c| c == b'/') {
        if !c.is_empty() {
            stack.push(c.to_vec());
        }
    }
}

/// openat2(2)'s restrictions on a resolution (`Kernel::resolve_how` while it lasts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolveHow {
    /// The RESOLVE_* flags.
    pub flags: u64,
    /// The directory the path starts from (RESOLVE_BENEATH's floor, RESOLVE_IN_ROOT's
    /// root).
    pub base: Ino,
}

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// Lookups that would block are EAGAIN (none does here).
pub const RESOLVE_CACHED: u64 = 0x20;

/// Which filesystem a node is on, as RESOLVE_NO_XDEV compares them: the image, /proc or
/// a host mount.
fn mount_of(ino: Ino) -> u8 {
    if procfs::is_proc(ino) {
        1
    } else if crate::mounts::is_host(ino) {
        2
    } else {
        0
    }
}

impl Kernel {
    /// Resolve `path` from directory `start`, following a final symlink only if `follow`
    /// (or if the path ends in '/').
    pub(crate) fn resolve(
        &mut self,
        p: &Process,
        start: Ino,
        path: &[u8],
        follow: bool,
    ) -> Result<Ino, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        // Other users' paths are walked here to check each directory's search permission
        // (perm.rs), and a chrooted process's to keep them inside its root; root's go to
        // the vfs in one call.
        if procfs::is_proc(start)
            || under_proc(path)
            || !p.creds.may_search_all()
            || self.cur_root.is_some()
            || self.resolve_how.is_some()
        {
            let mut crossed = false;
            return self.walk(p, start, path, follow, &mut crossed);
        }
        match self.fs.lookup(start, path, follow) {
            // A path that reaches the image's /proc directory some other way ("proc" from
            // the root, "/tmp/../proc") lands on the mount point: /proc itself.
            Ok(ino) if path.ends_with(b"proc") || path.ends_with(b"..") => {
                let root = self.fs.root();
                if self.fs.lookup(root, b"proc", false) == Ok(ino) {
                    Ok(procfs::ROOT)
                } else {
                    Ok(ino)
                }
            }
            Ok(ino) => Ok(ino),
            Err(e @ (Errno::ENOENT | Errno::ENOTDIR)) => {
                let mut crossed = false;
                let walked = self.walk(p, start, path, follow, &mut crossed);
                if crossed { walked } else { Err(e) }
            }
            Err(e) => Err(e),
        }
    }

    /// Resolve component by component; `crossed` tells whether /proc was entered.
    fn walk(
        &mut self,
        p: &Process,
        start: Ino,
        path: &[u8],
        follow: bool,
        crossed: &mut bool,
    ) -> Result<Ino, Errno> {
        // /proc is mounted on the container's root; a chroot's absolute paths start at
        // its own root, and `..` stops there (follow_dotdot).
        let mount_root = self.fs.root();
        let how = self.resolve_how.unwrap_or(ResolveHow {
            flags: 0,
            base: start,
        });
        let beneath = how.flags & RESOLVE_BENEATH != 0;
        let no_symlinks = how.flags & RESOLVE_NO_SYMLINKS != 0;
        let no_magic = how.flags & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS) != 0;
        let no_xdev = how.flags & RESOLVE_NO_XDEV != 0;
        let root = if how.flags & RESOLVE_IN_ROOT != 0 {
            how.base
        } else {
            self.cur_root.unwrap_or(mount_root)
        };
        if beneath && path.starts_with(b"/") {
            return Err(Errno::EXDEV);
        }
        let mut cur = if path.starts_with(b"/") { root } else { start };
        // RESOLVE_BENEATH: how far below `base` the walk is (a `..` at 0 would leave it).
        let mut depth = 0usize;
        *crossed = procfs::is_proc(cur);
        let mut stack = Vec::new();
        push_components(&mut stack, path);
        let dir_wanted = path.ends_with(b"/");
        let mut links = 0;
        let check = !p.creds.may_search_all();
        while let Some(name) = stack.pop() {
            let last = stack.is_empty();
            if check {
                self.may(&p.creds, cur, crate::creds::MAY_EXEC)?;
            }
            if name == b".." && beneath {
                if depth == 0 {
                    return Err(Errno::EXDEV);
                }
                depth -= 1;
            } else if name != b"." && name != b".." {
                depth += 1;
            }
            if cur == root && name == b".." {
                continue; // the root's parent is itself
            }
            let next = if procfs::is_proc(cur) {
                procfs::lookup(self, p, cur, &name)?
            } else if cur == mount_root && name == b"proc" {
                *crossed = true;
                procfs::ROOT
            } else {
                self.fs.lookup(cur, &name, false)?
            };
            if no_xdev && mount_of(next) != mount_of(cur) {
                return Err(Errno::EXDEV);
            }
            if last && !follow && !dir_wanted {
                cur = next;
                break;
            }
            if procfs::is_proc(next) {
                if procfs::is_symlink(next) {
                    links += 1;
                    if links > MAX_SYMLINKS || no_symlinks {
                        return Err(Errno::ELOOP);
                    }
                    // A symlink's own name is not a step down.
                    depth = depth.saturating_sub(1);
                    match procfs::follow(self, p, next)? {
                        // Relative to the directory holding the link, which is `cur`.
                        Follow::Path(target) => push_components(&mut stack, &target),
                        // A magic link (/proc/PID/fd/N, exe, cwd, root): it jumps.
                        Follow::Node(_)
                            if no_magic || beneath || how.flags & RESOLVE_IN_ROOT != 0 =>
                        {
                            return Err(if no_magic { Errno::ELOOP } else { Errno::EXDEV });
                        }
                        Follow::Node(node) => cur = node,
                    }
                    continue;
                }
            } else if self.fs.stat(next)?.mode & S_IFMT == S_IFLNK {
                links += 1;
                if links > MAX_SYMLINKS || no_symlinks {
                    return Err(Errno::ELOOP);
                }
                depth = depth.saturating_sub(1);
                let target = self.fs.readlink(next)?;
                if target.starts_with(b"/") {
                    if beneath {
                        return Err(Errno::EXDEV);
                    }
                    cur = root;
                }
                push_components(&mut stack, &target);
                continue;
            }
            cur = next;
        }
        if dir_wanted && self.stat_ino(p, cur)?.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// The absolute path of a directory (getcwd, /proc/<pid>/cwd).
    pub(crate) fn ino_path(&mut self, p: &Process, dir: Ino) -> Result<Vec<u8>, Errno> {
        if procfs::is_proc(dir) {
            return procfs::path(self, p, dir);
        }
        self.path_in_root(dir)
    }

    /// A directory's path as the running process sees it: from its chroot's root, or,
    /// for a directory outside that root, "(unreachable)" and the path from the
    /// container's root (what getcwd(2) gives since Linux 2.6.36).
    pub(crate) fn path_in_root(&mut self, dir: Ino) -> Result<Vec<u8>, Errno> {
        let path = self.fs.path(dir)?;
        let Some(root) = self.cur_root else {
            return Ok(path);
        };
        let base = self.fs.path(root)?;
        if path == base {
            return Ok(b"/".to_vec());
        }
        match path.strip_prefix(base.as_slice()) {
            Some(rest) if rest.starts_with(b"/") => Ok(rest.to_vec()),
            _ => Ok([b"(unreachable)".as_slice(), &path].concat()),
        }
    }

    /// The absolute form of a path opened from `dirfd`, for /proc/<pid>/fd (lexically
    /// cleaned; symlinks in it are not resolved).
    pub(crate) fn absolute_path(&mut self, p: &Process, dirfd: i32, path: Vec<u8>) -> Vec<u8> {
        let mut full = if path.starts_with(b"/") {
            Vec::new()
        } else {
            self.start_dir(p, dirfd, &path)
                .and_then(|dir| self.ino_path(p, dir))
                .unwrap_or_default()
        };
        full.push(b'/');
        full.extend_from_slice(&path);
        let mut parts: Vec<&[u8]> = Vec::new();
        for c in full.split(|&c| c == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                _ => parts.push(c),
            }
        }
        let mut out = Vec::new();
        for c in parts {
            out.push(b'/');
            out.extend_from_slice(c);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        out
    }

    /// readlink of a resolved node.
    pub(crate) fn readlink_ino(&mut self, p: &Process, node: Ino) -> Result<Vec<u8>, Errno> {
        if procfs::is_proc(node) {
            return procfs::readlink(self, p, node);
        }
        self.fs.readlink(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_prefix_is_lexical() {
        assert!(under_proc(b"/proc"));
        assert!(under_proc(b"//./proc/self/maps"));
        assert!(!under_proc(b"/process"));
        assert!(!under_proc(b"proc/self"));
        let mut s = Vec::new();
        push_components(&mut s, b"/a//b/");
        assert_eq!(s, [b"b".to_vec(), b"a".to_vec()]);
    }
}
