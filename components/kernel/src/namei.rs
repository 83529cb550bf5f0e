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
        let root = self.cur_root.unwrap_or(mount_root);
        let mut cur = if path.starts_with(b"/") { root } else { start };
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
            if last && !follow && !dir_wanted {
                cur = next;
                break;
            }
            if procfs::is_proc(next) {
                if procfs::is_symlink(next) {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    match procfs::follow(self, p, next)? {
                        // Relative to the directory holding the link, which is `cur`.
                        Follow::Path(target) => push_components(&mut stack, &target),
                        Follow::Node(node) => cur = node,
                    }
                    continue;
                }
            } else if self.fs.stat(next)?.mode & S_IFMT == S_IFLNK {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = self.fs.readlink(next)?;
                if target.starts_with(b"/") {
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
