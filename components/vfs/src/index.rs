//! Building the lower layer: turns the tar members into inodes, the way extracting the
//! archive would (tar(1) semantics): leading "./" and "/" stripped, missing parent
//! directories created (mode 0755, root-owned), a later member replacing an earlier one of
//! the same path (a directory over a directory only updates its attributes), hard links
//! sharing the target's inode.

use crate::file::FileData;
use crate::node::{Body, Dir, Node, ROOT, Table};
use crate::tar::{Entry, EntryKind, TarError, TarReader};
use crate::{Ino, RootfsSource, Timespec};
use friscy_abi::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};

/// Index every member of the archive into a fresh table.
pub(crate) fn build<R: RootfsSource + ?Sized>(src: &R) -> Result<Table, TarError> {
    let mut table = Table::new();
    let mut reader = TarReader::new(src);
    while let Some(entry) = reader.next_entry()? {
        add_node(&mut table, entry, None);
    }
    Ok(table)
}

/// The path's components, or None for one that climbs with "..": such members are
/// skipped, as GNU tar does ("Removing leading `../'" / refusing to extract).
fn normalize(path: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return None,
            _ => out.push(c),
        }
    }
    Some(out)
}

/// Linux's dev_t encoding (glibc makedev(3), the kernel's new_encode_dev).
pub(crate) fn makedev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (major as u64, minor as u64);
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// The directory for `comps` below the root, creating missing ones. An existing symlink
/// that resolves to a directory is followed (as tar does when extracting); any other
/// non-directory in the way is replaced.
fn ensure_dir(table: &mut Table, comps: &[&[u8]]) -> Ino {
    let mut cur = ROOT;
    for &name in comps {
        if let Some(child) = table.child(cur, name) {
            if table.dir(child).is_ok() {
                cur = child;
                continue;
            }
            let target = match table.get(child).map(|n| &n.body) {
                Ok(Body::Symlink(_)) => table.resolve(cur, name, true).ok(),
                _ => None,
            };
            if let Some(t) = target.filter(|&t| table.dir(t).is_ok()) {
                cur = t;
                continue;
            }
            table.detach(cur, name);
        }
        let node = Node::new(
            S_IFDIR | 0o755,
            Body::Dir(Dir::default()),
            Timespec::default(),
        );
        let ino = table.alloc(node);
        table.attach(cur, name, ino);
        cur = ino;
    }
    cur
}

/// Add one member. A regular file's contents are `data` when given (a layer's files,
/// copied in), else the member's bytes in the image.
pub(crate) fn add_node(table: &mut Table, e: Entry, data: Option<FileData>) {
    let Some(comps) = normalize(&e.path) else {
        return;
    };
    let Some((&name, dirs)) = comps.split_last() else {
        // "./" itself: the root directory's attributes.
        if e.kind == EntryKind::Dir
            && let Ok(root) = table.get_mut(ROOT)
        {
            root.mode = S_IFDIR | e.perm;
            root.uid = e.uid;
            root.gid = e.gid;
            (root.atime, root.mtime, root.ctime) = (e.mtime, e.mtime, e.mtime);
        }
        return;
    };
    let parent = ensure_dir(table, dirs);

    if e.kind == EntryKind::HardLink {
        // The target names an earlier member (by its archive path, no symlinks followed).
        let Some(tcomps) = normalize(&e.link) else {
            return;
        };
        let mut target = Some(ROOT);
        for c in &tcomps {
            target = target.and_then(|t| table.child(t, c));
        }
        let Some(target) = target.filter(|&t| t != ROOT && table.dir(t).is_err()) else {
            return;
        };
        if table.child(parent, name) == Some(target) {
            return;
        }
        replace(table, parent, name);
        table.attach(parent, name, target);
        return;
    }

    if let Some(existing) = table.child(parent, name)
        && e.kind == EntryKind::Dir
        && let Ok(node) = table.get_mut(existing)
        && node.is_dir()
    {
        node.mode = S_IFDIR | e.perm;
        node.uid = e.uid;
        node.gid = e.gid;
        (node.atime, node.mtime, node.ctime) = (e.mtime, e.mtime, e.mtime);
        return;
    }
    replace(table, parent, name);

    let (ftype, body, rdev) = match e.kind {
        EntryKind::File => (
            S_IFREG,
            Body::File(data.unwrap_or_else(|| FileData::lower(e.data, e.size))),
            0,
        ),
        EntryKind::Dir => (S_IFDIR, Body::Dir(Dir::default()), 0),
        EntryKind::Symlink => (S_IFLNK, Body::Symlink(e.link.clone()), 0),
        EntryKind::Char => (S_IFCHR, Body::Special, makedev(e.major, e.minor)),
        EntryKind::Block => (S_IFBLK, Body::Special, makedev(e.major, e.minor)),
        EntryKind::Fifo => (S_IFIFO, Body::Special, 0),
        EntryKind::HardLink => return,
    };
    let mut node = Node::new(ftype | e.perm, body, e.mtime);
    if ftype == S_IFLNK {
        // symlink(7): the permissions of a symlink are always 0777 on Linux.
        node.mode = S_IFLNK | 0o777;
    }
    node.uid = e.uid;
    node.gid = e.gid;
    node.rdev = rdev;
    let ino = table.alloc(node);
    table.attach(parent, name, ino);
}

/// Unbind an existing `name` in `parent` before a later member takes it over.
pub(crate) fn replace(table: &mut Table, parent: Ino, name: &[u8]) {
    if let Some(old) = table.detach(parent, name) {
        let unreferenced = table
            .get(old)
            .map(|n| n.is_dir() || n.nlink == 0)
            .unwrap_or(false);
        if unreferenced {
            table.drop_tree(old);
        }
    }
}
