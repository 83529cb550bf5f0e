//! The vfs component's WIT layer: `friscy:vfs/fs` exported over `Vfs`, reading the image
//! through the imported `friscy:vfs/rootfs` (world `vfs`) or, built with the
//! `tree-component` feature, a host directory through the imported `friscy:vfs/tree`
//! (world `vfs-tree`). Only conversions live here.

use std::cell::RefCell;

use crate::{Fs, Ino, SetAttr, Stat, Timespec, Vfs};

#[cfg(not(feature = "tree-component"))]
wit_bindgen::generate!({ path: "../../wit", world: "friscy:vfs/vfs" });
#[cfg(feature = "tree-component")]
wit_bindgen::generate!({ path: "../../wit", world: "friscy:vfs/vfs-tree" });

use exports::friscy::vfs::fs as wit;
use exports::friscy::vfs::fs as t;

#[cfg(not(feature = "tree-component"))]
mod lower {
    use crate::{RootfsImport, Tar, Vfs};

    /// The image, read through the `rootfs` import in chunks.
    pub type Lower = Tar<RootfsImport>;

    pub fn open() -> Result<Vfs<Lower>, String> {
        use super::friscy::vfs::rootfs as r;
        let image = RootfsImport::new(r::size, r::read, r::read_words, r::prefers_words);
        Vfs::new(image).map_err(|e| e.to_string())
    }
}

#[cfg(feature = "tree-component")]
mod lower {
    use super::friscy::vfs::tree as w;
    use crate::{Errno, Timespec, Tree, TreeEntry, TreeSource, Vfs};

    /// The host's directory tree, through the `tree` import.
    pub struct ImportedTree;

    fn time(t: w::Time) -> Timespec {
        Timespec {
            sec: t.sec,
            nsec: t.nsec,
        }
    }

    fn entry(e: w::Entry) -> TreeEntry {
        TreeEntry {
            name: e.name,
            handle: e.handle,
            dev: e.dev,
            ino: e.ino,
            mode: e.mode,
            nlink: e.nlink,
            uid: e.uid,
            gid: e.gid,
            rdev: e.rdev,
            size: e.size,
            atime: time(e.atime),
            mtime: time(e.mtime),
            ctime: time(e.ctime),
            target: e.target,
        }
    }

    fn errno(n: u16) -> Errno {
        Errno::from_raw(n).unwrap_or(Errno::EIO)
    }

    impl TreeSource for ImportedTree {
        fn root(&self) -> Result<TreeEntry, String> {
            w::root().map(entry)
        }
        fn list_dir(&self, dir: u64) -> Result<Vec<TreeEntry>, Errno> {
            w::list_dir(dir)
                .map(|v| v.into_iter().map(entry).collect())
                .map_err(errno)
        }
        fn read(&self, file: u64, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
            w::read(file, offset, len).map_err(errno)
        }
    }

    pub type Lower = Tree<ImportedTree>;

    pub fn open() -> Result<Vfs<Lower>, String> {
        Vfs::from_tree(ImportedTree).map_err(|e| format!("root directory: {e}"))
    }
}

thread_local! {
    // Indexed on first use; an unusable image is remembered as its error message.
    static VFS: RefCell<Option<Result<Vfs<lower::Lower>, String>>> = const { RefCell::new(None) };
}

fn with<T>(f: impl FnOnce(&mut Vfs<lower::Lower>) -> Result<T, crate::Errno>) -> Result<T, u16> {
    VFS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let vfs = slot.get_or_insert_with(lower::open);
        match vfs {
            Ok(v) => f(v).map_err(|e| e as u16),
            Err(_) => Err(crate::Errno::EIO as u16),
        }
    })
}

fn ts(t: Timespec) -> t::Timespec {
    t::Timespec {
        sec: t.sec,
        nsec: t.nsec,
    }
}
fn ts_in(t: t::Timespec) -> Timespec {
    Timespec {
        sec: t.sec,
        nsec: t.nsec,
    }
}

fn stat(s: Stat) -> t::NodeStat {
    t::NodeStat {
        ino: s.ino,
        mode: s.mode,
        nlink: s.nlink,
        uid: s.uid,
        gid: s.gid,
        rdev: s.rdev,
        size: s.size,
        blocks: s.blocks,
        atime: ts(s.atime),
        mtime: ts(s.mtime),
        ctime: ts(s.ctime),
    }
}

struct Component;

impl wit::Guest for Component {
    fn image_error() -> Option<String> {
        with(|_| Ok(())).err()?;
        VFS.with(|cell| {
            cell.borrow()
                .as_ref()
                .and_then(|r| r.as_ref().err().cloned())
        })
    }
    fn root() -> Ino {
        with(|v| Ok(v.root())).unwrap_or(1)
    }
    fn lookup(start: Ino, path: Vec<u8>, follow: bool) -> Result<Ino, u16> {
        with(|v| v.lookup(start, &path, follow))
    }
    fn lookup_parent(start: Ino, path: Vec<u8>) -> Result<(Ino, Vec<u8>), u16> {
        with(|v| v.lookup_parent(start, &path))
    }
    fn path(dir: Ino) -> Result<Vec<u8>, u16> {
        with(|v| v.path(dir))
    }
    fn stat(node: Ino) -> Result<t::NodeStat, u16> {
        with(|v| v.stat(node)).map(stat)
    }
    fn read(node: Ino, offset: u64, len: u32) -> Result<Vec<u8>, u16> {
        with(|v| v.read(node, offset, len))
    }
    fn write(node: Ino, offset: u64, data: Vec<u8>) -> Result<u32, u16> {
        with(|v| v.write(node, offset, &data))
    }
    fn readdir(dir: Ino, cookie: u64, max: u32) -> Result<Vec<t::Dirent>, u16> {
        let entries = with(|v| v.readdir(dir, cookie, max))?;
        Ok(entries
            .into_iter()
            .map(|e| t::Dirent {
                ino: e.ino,
                kind: e.kind,
                name: e.name,
                next: e.next,
            })
            .collect())
    }
    fn readlink(node: Ino) -> Result<Vec<u8>, u16> {
        with(|v| v.readlink(node))
    }
    fn create(parent: Ino, name: Vec<u8>, mode: u32, rdev: u64) -> Result<Ino, u16> {
        with(|v| v.create(parent, &name, mode, rdev))
    }
    fn create_unlinked(mode: u32) -> Result<Ino, u16> {
        with(|v| v.create_unlinked(mode))
    }
    fn symlink(parent: Ino, name: Vec<u8>, target: Vec<u8>) -> Result<Ino, u16> {
        with(|v| v.symlink(parent, &name, &target))
    }
    fn link(node: Ino, parent: Ino, name: Vec<u8>) -> Result<(), u16> {
        with(|v| v.link(node, parent, &name))
    }
    fn remove(parent: Ino, name: Vec<u8>, dir: bool) -> Result<(), u16> {
        with(|v| v.remove(parent, &name, dir))
    }
    fn rename(op: Ino, on: Vec<u8>, np: Ino, nn: Vec<u8>, flags: u32) -> Result<(), u16> {
        with(|v| v.rename(op, &on, np, &nn, flags))
    }
    fn set_attr(node: Ino, a: t::AttrChanges) -> Result<(), u16> {
        let attr = SetAttr {
            mode: a.mode,
            uid: a.uid,
            gid: a.gid,
            size: a.size,
            atime: a.atime.map(ts_in),
            mtime: a.mtime.map(ts_in),
        };
        with(|v| v.set_attr(node, &attr))
    }
    fn set_capacity(bytes: u64) {
        let _ = with(|v| {
            v.set_capacity(bytes);
            Ok(())
        });
    }
    fn usage() -> t::FsUsage {
        let u = with(|v| Ok(v.usage())).unwrap_or_default();
        t::FsUsage {
            capacity: u.capacity,
            used: u.used,
            inodes: u.inodes,
            inodes_used: u.inodes_used,
        }
    }
    fn reclaim(open: Vec<Ino>) -> u64 {
        with(|v| Ok(v.reclaim(&open))).unwrap_or(0)
    }
}

export!(Component);
