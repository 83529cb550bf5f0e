//! Directory operations on the inode table: readdir, and the changes (create, symlink,
//! link, remove, rename) with the errors their man pages list. Times: a changed directory
//! gets a new mtime and ctime, a node whose link count changes a new ctime (when there is
//! a clock; `now` is `None` otherwise).

use crate::file::FileData;
use crate::node::{Body, Dir, Node, ROOT, Table};
use crate::path::{NAME_MAX, PATH_MAX};
use crate::{Dirent, Ino, Timespec};
use friscy_abi::Errno;
use friscy_abi::mode::{
    S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, dtype_of,
};

/// renameat2(2) flags.
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;

/// Cookies 1 and 2 continue after "." and ".."; entry `seq` continues at `seq + 3`.
const FIRST_ENTRY_COOKIE: u64 = 2;

/// A name for a new entry: the final component lookup-parent returned.
fn check_new_name(name: &[u8]) -> Result<(), Errno> {
    match name {
        b"" => Err(Errno::ENOENT),
        // mkdir(2) and friends: EEXIST for ".", ".." and the root.
        b"." | b".." | b"/" => Err(Errno::EEXIST),
        _ if name.contains(&b'/') => Err(Errno::EINVAL),
        _ if name.len() > NAME_MAX => Err(Errno::ENAMETOOLONG),
        _ => Ok(()),
    }
}

impl Table {
    fn touch_dir(&mut self, dir: Ino, now: Option<Timespec>) {
        if let (Some(t), Ok(n)) = (now, self.get_mut(dir)) {
            n.mtime = t;
            n.ctime = t;
        }
    }

    fn touch_ctime(&mut self, ino: Ino, now: Option<Timespec>) {
        if let (Some(t), Ok(n)) = (now, self.get_mut(ino)) {
            n.ctime = t;
        }
    }

    /// Point an existing entry at another inode (RENAME_EXCHANGE): link counts are
    /// unchanged overall, but directory parents and subdirectory counts follow.
    fn rebind(&mut self, parent: Ino, name: &[u8], ino: Ino) {
        let is_dir = match self.get_mut(ino) {
            Ok(n) => match &mut n.body {
                Body::Dir(d) => {
                    d.parent = parent;
                    d.name = name.to_vec();
                    true
                }
                _ => false,
            },
            Err(_) => return,
        };
        let old = match self
            .dir_mut(parent)
            .ok()
            .and_then(|p| p.listing_mut().ok())
            .and_then(|l| l.entries.get_mut(name))
        {
            Some(entry) => std::mem::replace(&mut entry.1, ino),
            None => return,
        };
        let was_dir = self.get(old).map(|n| n.is_dir()).unwrap_or(false);
        if let Ok(p) = self.dir_mut(parent) {
            p.subdirs = p.subdirs + is_dir as u32 - was_dir as u32;
        }
    }

    pub(crate) fn readdir(&self, dir: Ino, cookie: u64, max: u32) -> Result<Vec<Dirent>, Errno> {
        let d = self.dir(dir)?;
        let mut out = Vec::new();
        if d.removed {
            // A removed directory reads as empty, without "." and "..".
            return Ok(out);
        }
        let max = max as usize;
        let dtype = |ino| dtype_of(self.get(ino).map(|n| n.mode).unwrap_or(0));
        if cookie == 0 && out.len() < max {
            out.push(Dirent {
                ino: dir,
                kind: dtype(dir),
                name: b".".to_vec(),
                next: 1,
            });
        }
        if cookie <= 1 && out.len() < max {
            let parent = if dir == ROOT { ROOT } else { d.parent };
            out.push(Dirent {
                ino: parent,
                kind: dtype(parent),
                name: b"..".to_vec(),
                next: 2,
            });
        }
        let from = cookie.max(FIRST_ENTRY_COOKIE) - FIRST_ENTRY_COOKIE;
        let l = d.listing()?;
        for (&seq, name) in l.order.range(from..) {
            if out.len() >= max {
                break;
            }
            let Some(&(_, ino)) = l.entries.get(name) else {
                continue;
            };
            out.push(Dirent {
                ino,
                kind: dtype(ino),
                name: name.clone(),
                next: seq + 3,
            });
        }
        Ok(out)
    }

    /// A directory that new names can go into.
    fn target_dir(&self, parent: Ino, name: &[u8]) -> Result<(), Errno> {
        // Its listing too: EIO rather than a name that looks free in a damaged one.
        self.live_dir(parent)?.listing()?;
        check_new_name(name)?;
        if self.child(parent, name).is_some() {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }

    fn add_node(&mut self, parent: Ino, name: &[u8], node: Node, now: Option<Timespec>) -> Ino {
        let ino = self.alloc(node);
        self.attach(parent, name, ino);
        self.touch_dir(parent, now);
        ino
    }

    /// mknod(2) / mkdir(2) / open(2) with O_CREAT. New nodes are owned by 0:0: the kernel
    /// sets the caller's uid/gid with `set_attr`.
    pub(crate) fn create(
        &mut self,
        parent: Ino,
        name: &[u8],
        mode: u32,
        rdev: u64,
        now: Option<Timespec>,
    ) -> Result<Ino, Errno> {
        self.target_dir(parent, name)?;
        let ftype = match mode & S_IFMT {
            0 => S_IFREG,
            t => t,
        };
        let (body, rdev) = match ftype {
            S_IFREG => (Body::File(FileData::default()), 0),
            S_IFDIR => (Body::Dir(Dir::default()), 0),
            S_IFCHR | S_IFBLK => (Body::Special, rdev),
            S_IFIFO | S_IFSOCK => (Body::Special, 0),
            // mknod(2): EINVAL for a type it cannot create (symlinks have their own call).
            _ => return Err(Errno::EINVAL),
        };
        let mut node = Node::new(ftype | (mode & 0o7777), body, now.unwrap_or_default());
        node.rdev = rdev;
        Ok(self.add_node(parent, name, node, now))
    }

    /// symlink(2).
    pub(crate) fn symlink(
        &mut self,
        parent: Ino,
        name: &[u8],
        target: &[u8],
        now: Option<Timespec>,
    ) -> Result<Ino, Errno> {
        if target.is_empty() {
            // symlink(2): ENOENT for an empty target.
            return Err(Errno::ENOENT);
        }
        if target.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        self.target_dir(parent, name)?;
        let node = Node::new(
            S_IFLNK | 0o777,
            Body::Symlink(target.to_vec()),
            now.unwrap_or_default(),
        );
        Ok(self.add_node(parent, name, node, now))
    }

    /// link(2).
    pub(crate) fn link(
        &mut self,
        node: Ino,
        parent: Ino,
        name: &[u8],
        now: Option<Timespec>,
    ) -> Result<(), Errno> {
        let n = self.get(node)?;
        if n.is_dir() {
            // link(2): EPERM if oldpath is a directory.
            return Err(Errno::EPERM);
        }
        if n.nlink == 0 {
            // linkat(2): an unlinked file cannot get a new name (ENOENT).
            return Err(Errno::ENOENT);
        }
        self.target_dir(parent, name)?;
        self.attach(parent, name, node);
        self.touch_dir(parent, now);
        self.touch_ctime(node, now);
        Ok(())
    }

    /// unlink(2) or rmdir(2).
    pub(crate) fn remove(
        &mut self,
        parent: Ino,
        name: &[u8],
        dir: bool,
        now: Option<Timespec>,
    ) -> Result<(), Errno> {
        self.dir(parent)?.listing()?;
        match (name, dir) {
            // rmdir(2): EINVAL for ".", ENOTEMPTY for "..", EBUSY for the root.
            (b".", true) => return Err(Errno::EINVAL),
            (b"..", true) => return Err(Errno::ENOTEMPTY),
            (b"/", true) => return Err(Errno::EBUSY),
            // unlink(2) of a directory: EISDIR.
            (b"." | b".." | b"/", false) => return Err(Errno::EISDIR),
            (b"", _) => return Err(Errno::ENOENT),
            _ => {}
        }
        let child = self.child(parent, name).ok_or(Errno::ENOENT)?;
        match (self.get(child)?.is_dir(), dir) {
            (true, false) => return Err(Errno::EISDIR),
            (false, true) => return Err(Errno::ENOTDIR),
            (true, true) if !self.dir(child)?.listing()?.entries.is_empty() => {
                return Err(Errno::ENOTEMPTY);
            }
            _ => {}
        }
        self.detach(parent, name);
        if dir {
            self.mark_removed(child);
        }
        self.touch_dir(parent, now);
        self.touch_ctime(child, now);
        Ok(())
    }

    /// renameat2(2).
    pub(crate) fn rename(
        &mut self,
        old_parent: Ino,
        old_name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: u32,
        now: Option<Timespec>,
    ) -> Result<(), Errno> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        self.dir(old_parent)?.listing()?;
        self.live_dir(new_parent)?.listing()?;
        let special = |n: &[u8]| matches!(n, b"." | b".." | b"/" | b"");
        // do_renameat2: EBUSY when either final component is "." or ".." (or the root),
        // except that RENAME_NOREPLACE turns the new side's into EEXIST.
        if special(old_name) {
            return Err(if old_name.is_empty() {
                Errno::ENOENT
            } else {
                Errno::EBUSY
            });
        }
        if special(new_name) {
            return Err(if new_name.is_empty() {
                Errno::ENOENT
            } else if flags & RENAME_NOREPLACE != 0 {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
        }
        if new_name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if new_name.contains(&b'/') {
            return Err(Errno::EINVAL);
        }
        let src = self.child(old_parent, old_name).ok_or(Errno::ENOENT)?;
        let dst = self.child(new_parent, new_name);
        let src_dir = self.get(src)?.is_dir();

        if flags & RENAME_EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            let dst_dir = self.get(dst)?.is_dir();
            // Neither may end up inside itself.
            if (src_dir && self.is_within(new_parent, src))
                || (dst_dir && self.is_within(old_parent, dst))
            {
                return Err(Errno::EINVAL);
            }
            if src == dst {
                return Ok(());
            }
            // Swap the two entries' inodes in place, so that both keep their readdir
            // positions (a listing in progress sees neither twice).
            self.rebind(old_parent, old_name, dst);
            self.rebind(new_parent, new_name, src);
        } else {
            if dst.is_some() && flags & RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            // rename(2): EINVAL for moving a directory into its own subtree.
            if src_dir && self.is_within(new_parent, src) {
                return Err(Errno::EINVAL);
            }
            if let Some(dst) = dst {
                // rename(2): two names of the same file: do nothing, successfully.
                if dst == src {
                    return Ok(());
                }
                match (src_dir, self.get(dst)?.is_dir()) {
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    (true, true) if !self.dir(dst)?.listing()?.entries.is_empty() => {
                        return Err(Errno::ENOTEMPTY);
                    }
                    _ => {}
                }
                self.detach(new_parent, new_name);
                if src_dir {
                    self.mark_removed(dst);
                }
                self.touch_ctime(dst, now);
            }
            self.detach(old_parent, old_name);
            self.attach(new_parent, new_name, src);
        }
        self.touch_dir(old_parent, now);
        self.touch_dir(new_parent, now);
        self.touch_ctime(src, now);
        Ok(())
    }
}
