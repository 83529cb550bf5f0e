//! Permission checks on the vfs, with the calling process's credentials (creds.rs has the
//! rules): inode_permission, may_create, may_delete, search permission on every directory
//! a path walks through, and the read-only root filesystem (`friscy run --read-only`).
//!
//! The cost stays off the common path: root (fsuid 0) on a writable root needs no stat
//! for reading and writing, and its paths resolve through the vfs in one call; only
//! other users' paths are walked a component at a time (namei.rs) to check each
//! directory's search bit. /proc and host-directory mounts are not checked here: /proc's
//! files are the kernel's own, and a mount's permissions are the host's, which
//! wasi:filesystem enforces (its nodes show as root's, so checking them would lock every
//! other user out of `-v` mounts).

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use friscy_vfs::{Ino, SetAttr};

use crate::creds::{Creds, MAY_EXEC, MAY_WRITE, Owner, cap};
use crate::{Kernel, mounts, procfs};

/// Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

/// The root filesystem mounted read-only (docker run --read-only): writes to regular
/// files, directories and symlinks of the image fail with EROFS. Nodes made after it was
/// set up (the image's inode numbers are all below `first_new`) and the `writable`
/// directories (/dev and its subdirectories, `--tmpfs` paths) are the writable places a
/// container has (Docker mounts tmpfs on /dev and on each --tmpfs path).
#[derive(Clone, Debug, Default)]
pub struct ReadOnly {
    pub first_new: Ino,
    pub writable: Vec<Ino>,
}

impl ReadOnly {
    fn allows(&self, ino: Ino) -> bool {
        ino >= self.first_new || self.writable.contains(&ino)
    }
}

/// Whether the checks here leave `ino` to someone else (/proc, host mounts).
fn unchecked(ino: Ino) -> bool {
    procfs::is_proc(ino) || mounts::is_host(ino)
}

impl Kernel {
    /// The owner and mode of a vfs node.
    pub(crate) fn owner(&mut self, ino: Ino) -> Result<Owner, Errno> {
        let st = self.fs.stat(ino)?;
        Ok(Owner {
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
        })
    }

    /// EROFS for a change to a node of the read-only root filesystem (sb_permission: only
    /// regular files, directories and symlinks; devices, FIFOs and sockets stay usable).
    pub(crate) fn check_writable(&mut self, ino: Ino) -> Result<(), Errno> {
        let Some(ro) = &self.read_only else {
            return Ok(());
        };
        if unchecked(ino) || ro.allows(ino) {
            return Ok(());
        }
        match self.fs.stat(ino)?.mode & S_IFMT {
            S_IFREG | S_IFDIR | S_IFLNK => Err(Errno::EROFS),
            _ => Ok(()),
        }
    }

    /// inode_permission(): `mask` of MAY_READ, MAY_WRITE, MAY_EXEC.
    pub(crate) fn may(&mut self, creds: &Creds, ino: Ino, mask: u32) -> Result<(), Errno> {
        if unchecked(ino) {
            return Ok(());
        }
        if mask & MAY_WRITE != 0 {
            self.check_writable(ino)?;
        }
        // CAP_DAC_OVERRIDE reads and writes everything: no need to look.
        if creds.capable(cap::DAC_OVERRIDE) && mask & MAY_EXEC == 0 {
            return Ok(());
        }
        let o = self.owner(ino)?;
        creds.permission(o, mask)
    }

    /// may_create(): write and search permission on the directory.
    pub(crate) fn may_create(&mut self, creds: &Creds, dir: Ino) -> Result<(), Errno> {
        self.may(creds, dir, MAY_WRITE | MAY_EXEC)
    }

    /// may_delete() for `name` in `dir`, if it exists (a missing or special name is left
    /// to the vfs, whose error comes first in Linux too): write and search permission on
    /// the directory, then the sticky bit.
    pub(crate) fn may_delete(&mut self, creds: &Creds, dir: Ino, name: &[u8]) -> Result<(), Errno> {
        if matches!(name, b"" | b"." | b".." | b"/") || unchecked(dir) {
            return Ok(());
        }
        let Ok(victim) = self.fs.lookup(dir, name, false) else {
            return Ok(());
        };
        self.may_create(creds, dir)?;
        if !creds.capable(cap::FOWNER) {
            let (d, v) = (self.owner(dir)?, self.owner(victim)?);
            if !creds.sticky_allows(d, v) {
                return Err(Errno::EPERM);
            }
        }
        Ok(())
    }

    /// Make a node (mknod, mkdir, open with O_CREAT, bind of a socket) after may_create,
    /// owned as inode_init_owner() says: the filesystem ids, or a set-group-ID
    /// directory's group. `mode` is the type and the permission bits after the umask.
    pub(crate) fn create_node(
        &mut self,
        creds: &Creds,
        parent: Ino,
        name: &[u8],
        mode: u32,
        rdev: u64,
    ) -> Result<Ino, Errno> {
        if unchecked(parent) {
            return self.fs.create(parent, name, mode, rdev);
        }
        if !creds.capable(cap::DAC_OVERRIDE) || self.read_only.is_some() {
            // An existing name is EEXIST before any permission error (filename_create).
            if self.fs.lookup(parent, name, false).is_ok() {
                return Err(Errno::EEXIST);
            }
            self.may_create(creds, parent)?;
        }
        // vfs_mknod(): device nodes need CAP_MKNOD.
        if matches!(mode & S_IFMT, S_IFCHR | S_IFBLK) && !creds.capable(cap::MKNOD) {
            return Err(Errno::EPERM);
        }
        let o = creds.new_owner(self.owner(parent)?, mode);
        let ino = self.fs.create(parent, name, o.mode, rdev)?;
        self.set_owner(ino, o)?;
        Ok(ino)
    }

    /// symlink(2) after may_create, owned like any new node.
    pub(crate) fn create_symlink(
        &mut self,
        creds: &Creds,
        parent: Ino,
        name: &[u8],
        target: &[u8],
    ) -> Result<Ino, Errno> {
        if unchecked(parent) {
            return self.fs.symlink(parent, name, target);
        }
        if !creds.capable(cap::DAC_OVERRIDE) || self.read_only.is_some() {
            if self.fs.lookup(parent, name, false).is_ok() {
                return Err(Errno::EEXIST);
            }
            self.may_create(creds, parent)?;
        }
        let o = creds.new_owner(self.owner(parent)?, S_IFLNK | 0o777);
        let ino = self.fs.symlink(parent, name, target)?;
        self.set_owner(ino, o)?;
        Ok(ino)
    }

    /// The vfs makes nodes owned by 0:0; anyone else's get their owner here.
    fn set_owner(&mut self, ino: Ino, o: Owner) -> Result<(), Errno> {
        if (o.uid, o.gid) != (0, 0) {
            self.fs.set_attr(
                ino,
                &SetAttr {
                    uid: Some(o.uid),
                    gid: Some(o.gid),
                    ..SetAttr::default()
                },
            )?;
        }
        Ok(())
    }

    /// Resolve a vfs path as `creds`: in one vfs call for whoever may search everything
    /// (outside a chroot), else a component at a time with search permission on each
    /// directory (what link_path_walk checks) and the chroot's root as `/`. /proc is not
    /// entered here (namei.rs does that for processes).
    pub(crate) fn lookup_as(
        &mut self,
        creds: &Creds,
        start: Ino,
        path: &[u8],
        follow: bool,
    ) -> Result<Ino, Errno> {
        let check = !creds.may_search_all();
        if !check && self.cur_root.is_none() {
            return self.fs.lookup(start, path, follow);
        }
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let root = self.cur_root.unwrap_or(self.fs.root());
        let mut cur = if path.starts_with(b"/") { root } else { start };
        let mut stack: Vec<Vec<u8>> = Vec::new();
        push_components(&mut stack, path);
        let dir_wanted = path.ends_with(b"/");
        let mut links = 0;
        while let Some(name) = stack.pop() {
            if check {
                self.may(creds, cur, MAY_EXEC)?;
            }
            if cur == root && name == b".." {
                continue; // the root's parent is itself
            }
            let next = self.fs.lookup(cur, &name, false)?;
            let last = stack.is_empty();
            if last && !follow && !dir_wanted {
                return Ok(next);
            }
            if !unchecked(next) && self.fs.stat(next)?.mode & S_IFMT == S_IFLNK {
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
        if dir_wanted && self.fs.stat(cur)?.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// `lookup_parent` as `creds`: the directory is resolved with search permission on the
    /// way, and must itself be searchable.
    pub(crate) fn lookup_parent_as(
        &mut self,
        creds: &Creds,
        start: Ino,
        path: &[u8],
    ) -> Result<(Ino, Vec<u8>), Errno> {
        let trimmed = trim_trailing_slashes(path);
        let slash = trimmed.iter().rposition(|&c| c == b'/');
        let head = match slash {
            Some(0) => b"/".as_slice(),
            Some(i) => &trimmed[..i],
            None => b".".as_slice(),
        };
        if let Some(root) = self.cur_root {
            // In a chroot the vfs cannot resolve the directory (its `/` is another):
            // walk to it here, then take the last name as the vfs would.
            if trimmed.is_empty() {
                return Err(Errno::ENOENT);
            }
            if trimmed == b"/" {
                return Ok((root, b"/".to_vec()));
            }
            let dir = self.lookup_as(creds, start, head, true)?;
            if self.fs.stat(dir)?.mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if !creds.may_search_all() {
                self.may(creds, dir, MAY_EXEC)?;
            }
            let name = slash.map_or(trimmed, |i| &trimmed[i + 1..]);
            return Ok((dir, name.to_vec()));
        }
        let (dir, name) = self.fs.lookup_parent(start, path)?;
        if creds.may_search_all() {
            return Ok((dir, name));
        }
        // Walk the leading part again with the checks (the vfs answered without them).
        let checked = self.lookup_as(creds, start, head, true)?;
        self.may(creds, checked, MAY_EXEC)?;
        Ok((dir, name))
    }
}

fn trim_trailing_slashes(path: &[u8]) -> &[u8] {
    let mut end = path.len();
    while end > 1 && path[end - 1] == b'/' {
        end -= 1;
    }
    &path[..end]
}

/// Push the components of `path` so that the first one is popped first.
pub(crate) fn push_components(stack: &mut Vec<Vec<u8>>, path: &[u8]) {
    for c in path.rsplit(|&c| c == b'/') {
        if !c.is_empty() {
            stack.push(c.to_vec());
        }
    }
}
