//! The lower layer over a directory tree (the WIT `tree` interface as a Rust trait): a
//! container runtime's unpacked snapshot, or any root filesystem directory on the host.
//!
//! The tree is listed once, every directory from the root down, into the same inode table
//! a tar image is indexed into, so from then on the overlay works exactly as over a tar:
//! writes, removals and renames stay in memory and the host's tree is never changed (see
//! docs/CONTAINERD.md for why). Entries keep what lstat(2) reported: modes, owners, device
//! numbers, times and symlink targets as they are (absolute ones resolve in the guest's
//! tree, as symlink(7) says they do under a changed root). Non-directories that share a
//! host (st_dev, st_ino) become one inode with several names, as hard links are. File
//! contents are read from the host when the guest reads them.

use std::collections::HashMap;

use crate::file::FileData;
use crate::node::{Body, Dir, Node, ROOT, Table};
use crate::path::NAME_MAX;
use crate::source::LowerLayer;
use crate::{Errno, Timespec};
use friscy_abi::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};

/// One node of the tree, as lstat(2) sees it (`entry` in vfs.wit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeEntry {
    /// The name in its directory (empty for the root).
    pub name: Vec<u8>,
    /// The source's handle for a directory (for `list_dir`) or regular file (for `read`).
    pub handle: u64,
    /// The host's st_dev and st_ino: non-directories sharing both are one file.
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    /// A symlink's target; empty for other types.
    pub target: Vec<u8>,
}

/// A directory tree to serve as the root filesystem.
pub trait TreeSource {
    /// The root directory, or why the tree cannot be used.
    fn root(&self) -> Result<TreeEntry, String>;
    /// A directory's entries, without "." and "..".
    fn list_dir(&self, dir: u64) -> Result<Vec<TreeEntry>, Errno>;
    /// Up to `len` bytes at `offset` of a regular file; shorter only at its end.
    fn read(&self, file: u64, offset: u64, len: u32) -> Result<Vec<u8>, Errno>;
}

impl<T: TreeSource + ?Sized> TreeSource for Box<T> {
    fn root(&self) -> Result<TreeEntry, String> {
        (**self).root()
    }
    fn list_dir(&self, dir: u64) -> Result<Vec<TreeEntry>, Errno> {
        (**self).list_dir(dir)
    }
    fn read(&self, file: u64, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        (**self).read(file, offset, len)
    }
}

/// Why a tree cannot be served: its root is unusable or a directory cannot be listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeError(pub String);

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TreeError {}

/// The lower layer over a tree: file contents come from `TreeSource::read`.
pub struct Tree<T> {
    pub(crate) src: T,
}

impl<T: TreeSource> Tree<T> {
    pub(crate) fn new(src: T) -> Self {
        Tree { src }
    }
}

/// The most one `TreeSource::read` call is asked for (hosts serve at least this much).
const READ_PIECE: usize = 1 << 20;

impl<T: TreeSource> LowerLayer for Tree<T> {
    fn read_into(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let mut done = 0usize;
        while done < buf.len() {
            let want = (buf.len() - done).min(READ_PIECE) as u32;
            let got = self
                .src
                .read(file, offset + done as u64, want)
                .map_err(|_| Errno::EIO)?;
            let n = got.len().min(want as usize);
            buf[done..done + n].copy_from_slice(&got[..n]);
            done += n;
            if n < want as usize {
                // The host file is shorter than when it was listed: what is gone reads as
                // zeros, as a file truncated under a mapping does not, but the size the
                // guest saw stays consistent.
                buf[done..].fill(0);
                break;
            }
        }
        Ok(())
    }
}

fn time(t: Timespec) -> Timespec {
    Timespec {
        sec: t.sec,
        nsec: t.nsec.min(999_999_999),
    }
}

/// A node for `e`, or None for a type Linux has no inode for (the entry is skipped).
fn node_of(e: &TreeEntry) -> Option<Node> {
    let ftype = e.mode & S_IFMT;
    let (body, rdev) = match ftype {
        S_IFREG => (Body::File(FileData::lower(e.handle, e.size)), 0),
        S_IFDIR => (Body::Dir(Dir::default()), 0),
        S_IFLNK => (Body::Symlink(e.target.clone()), 0),
        S_IFCHR | S_IFBLK => (Body::Special, e.rdev),
        S_IFIFO | S_IFSOCK => (Body::Special, 0),
        _ => return None,
    };
    let mut node = Node::new(ftype | (e.mode & 0o7777), body, time(e.mtime));
    if ftype == S_IFLNK {
        // symlink(7): the permissions of a symlink are always 0777 on Linux.
        node.mode = S_IFLNK | 0o777;
    }
    node.uid = e.uid;
    node.gid = e.gid;
    node.rdev = rdev;
    node.atime = time(e.atime);
    node.ctime = time(e.ctime);
    Some(node)
}

fn display(path: &[u8]) -> String {
    if path.is_empty() {
        "/".into()
    } else {
        String::from_utf8_lossy(path).into_owned()
    }
}

/// List the whole tree into a fresh table.
pub(crate) fn build<T: TreeSource>(src: &T) -> Result<Table, TreeError> {
    let root = src.root().map_err(TreeError)?;
    if root.mode & S_IFMT != S_IFDIR {
        return Err(TreeError("the root is not a directory".into()));
    }
    let mut table = Table::new();
    if let Ok(r) = table.get_mut(ROOT) {
        r.mode = S_IFDIR | (root.mode & 0o7777);
        r.uid = root.uid;
        r.gid = root.gid;
        r.atime = time(root.atime);
        r.mtime = time(root.mtime);
        r.ctime = time(root.ctime);
    }
    // Hard links: the first name listed makes the inode, later ones link to it.
    let mut files: HashMap<(u64, u64), u64> = HashMap::new();
    // Depth first; the path is only for error messages.
    let mut pending = vec![(ROOT, root.handle, Vec::new())];
    while let Some((dir, handle, path)) = pending.pop() {
        let entries = src
            .list_dir(handle)
            .map_err(|e| TreeError(format!("cannot list {}: {}", display(&path), e.message())))?;
        for e in entries {
            if e.name.is_empty()
                || e.name.len() > NAME_MAX
                || e.name.contains(&b'/')
                || e.name == b"."
                || e.name == b".."
                || table.child(dir, &e.name).is_some()
            {
                // Not a name a Linux directory can hold (or a host listing it twice).
                continue;
            }
            let is_dir = e.mode & S_IFMT == S_IFDIR;
            if !is_dir
                && e.nlink > 1
                && let Some(&ino) = files.get(&(e.dev, e.ino))
            {
                table.attach(dir, &e.name, ino);
                continue;
            }
            let Some(node) = node_of(&e) else { continue };
            let ino = table.alloc(node);
            table.attach(dir, &e.name, ino);
            if is_dir {
                let mut sub = path.clone();
                sub.push(b'/');
                sub.extend_from_slice(&e.name);
                pending.push((ino, e.handle, sub));
            } else if e.nlink > 1 {
                files.insert((e.dev, e.ino), ino);
            }
        }
    }
    Ok(table)
}
