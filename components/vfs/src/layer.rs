//! The writable layer as an OCI layer tar: what the guest created, changed or deleted
//! since the image was indexed (`export`), and starting from such a layer (`apply`), so a
//! host can keep a container's changes between runs (a browser page keeps them in OPFS).
//!
//! The tree keeps no separate upper layer (node.rs: the table *is* the merged view), so the
//! layer is a diff against a copy of the table made right after indexing (`base`). Inode
//! numbers are never reused, so a path whose inode is the one the image gave it is the
//! image's node (maybe changed), and any other inode there is new. Image-spec layer.md
//! rules: a deleted path is `DIR/.wh.NAME`; a directory that replaced one of the image's
//! is written with `DIR/.wh..wh..opq` right after it, so nothing below shows through.
//!
//! Hard links: the second path of an inode written in the same layer is a hard link to
//! the first; a new name for a file of the image is written as a copy (a layer cannot link
//! into the layers below it). Sockets are left out (tar cannot hold them; Docker's diffs
//! leave them out too).

use crate::file::FileData;
use crate::node::{Body, Node, ROOT, Table};
use crate::source::LowerLayer;
use crate::tar::{EntryKind, TarError, TarReader};
use crate::{Errno, Ino, RootfsSource, Timespec};
use friscy_abi::mode::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
use std::collections::HashMap;

const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// Writes the diff of `cur` against `base` as a tar archive. Paths in `exclude` (absolute,
/// e.g. `/dev`) are left out with everything below them.
pub(crate) fn export<L: LowerLayer>(
    base: &Table,
    cur: &Table,
    lower: &mut L,
    exclude: &[Vec<u8>],
) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::new(),
        first_path: HashMap::new(),
        exclude: exclude
            .iter()
            .map(|p| {
                let start = p.iter().position(|&b| b != b'/').unwrap_or(p.len());
                let end = p.iter().rposition(|&b| b != b'/').map_or(start, |i| i + 1);
                p[start..end.max(start)].to_vec()
            })
            .collect(),
    };
    w.diff_dir(base, cur, lower, Some(ROOT), ROOT, b"");
    // End of archive: two zero blocks.
    w.out.extend_from_slice(&[0u8; 1024]);
    w.out
}

struct Writer {
    out: Vec<u8>,
    /// Inodes written in this layer, by the path they were written at (for hard links).
    first_path: HashMap<Ino, Vec<u8>>,
    exclude: Vec<Vec<u8>>,
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

/// Whether the image's node `b` and the current node `c` (the same inode) still agree on
/// everything a layer records.
fn unchanged(b: &Node, c: &Node) -> bool {
    let same_body = match (&b.body, &c.body) {
        (Body::File(bf), Body::File(cf)) => cf.is_unchanged_from(bf),
        (Body::Symlink(bt), Body::Symlink(ct)) => bt == ct,
        (Body::Dir(_), Body::Dir(_)) | (Body::Special, Body::Special) => true,
        _ => false,
    };
    same_body
        && b.mode == c.mode
        && b.uid == c.uid
        && b.gid == c.gid
        && b.rdev == c.rdev
        && b.mtime == c.mtime
}

impl Writer {
    /// Entries of directory `cur_dir` (at `path`) against the image's `base_dir` (the same
    /// directory in the image, or `None` when it is new or replaced one of the image's).
    fn diff_dir<L: LowerLayer>(
        &mut self,
        base: &Table,
        cur: &Table,
        lower: &mut L,
        base_dir: Option<Ino>,
        cur_dir: Ino,
        path: &[u8],
    ) {
        let Ok(d) = cur.dir(cur_dir).and_then(|d| d.listing()) else {
            return;
        };
        let base_d = base_dir.and_then(|b| base.dir(b).and_then(|d| d.listing()).ok());
        // Deletions first, so that applying in order never removes what this layer adds.
        if let Some(bd) = base_d {
            for name in bd.entries.keys() {
                if !d.entries.contains_key(name) && !self.excluded(&join(path, name)) {
                    let wh = join(path, &[WHITEOUT, name].concat());
                    self.marker(&wh);
                }
            }
        }
        let names: Vec<(Vec<u8>, Ino)> = d
            .order
            .values()
            .filter_map(|n| d.entries.get(n).map(|&(_, i)| (n.clone(), i)))
            .collect();
        for (name, ino) in names {
            let p = join(path, &name);
            if self.excluded(&p) {
                continue;
            }
            let Ok(node) = cur.get(ino) else { continue };
            let base_child = base_d.and_then(|bd| bd.entries.get(&name).map(|&(_, i)| i));
            let same = base_child == Some(ino);
            match &node.body {
                Body::Dir(_) => {
                    let base_node = if same { base.get(ino).ok() } else { None };
                    if base_node.is_none_or(|b| !unchanged(b, node)) {
                        self.entry(&p, ino, node, lower);
                    }
                    // A new directory where the image had one hides the image's contents.
                    let replaced = !same && base_child.is_some_and(|b| base.dir(b).is_ok());
                    if replaced {
                        let opq = join(&p, OPAQUE);
                        self.marker(&opq);
                    }
                    self.diff_dir(base, cur, lower, same.then_some(ino), ino, &p);
                }
                _ => {
                    let changed = !same || base.get(ino).map_or(true, |b| !unchanged(b, node));
                    if changed {
                        self.entry(&p, ino, node, lower);
                    }
                }
            }
        }
    }

    fn excluded(&self, path: &[u8]) -> bool {
        self.exclude
            .iter()
            .any(|e| path.starts_with(e) && (path.len() == e.len() || path[e.len()] == b'/'))
    }

    /// One member for `node` at `path`.
    fn entry<L: LowerLayer>(&mut self, path: &[u8], ino: Ino, node: &Node, lower: &mut L) {
        match &node.body {
            Body::Dir(_) => {
                let p = [path, b"/"].concat();
                self.header(&p, S_IFDIR, node, 0, b"");
            }
            Body::Symlink(t) => self.header(path, S_IFLNK, node, 0, t),
            Body::File(f) => {
                if let Some(first) = self.first_path.get(&ino).cloned() {
                    self.header(path, 0, node, 0, &first);
                    return;
                }
                if node.nlink > 1 {
                    self.first_path.insert(ino, path.to_vec());
                }
                let size = f.size();
                self.header(path, S_IFREG, node, size, b"");
                let mut off = 0u64;
                while off < size {
                    let n = (size - off).min(1 << 20) as u32;
                    // A tree's host file that vanished reads as zeros: the header already
                    // promised `size` bytes, and a short member would corrupt the tar.
                    let chunk = f
                        .read(lower, off, n)
                        .unwrap_or_else(|_| vec![0; n as usize]);
                    self.out.extend_from_slice(&chunk);
                    off += chunk.len() as u64;
                    if chunk.is_empty() {
                        break;
                    }
                }
                self.pad();
            }
            Body::Special => {
                let t = node.mode & S_IFMT;
                if t != S_IFSOCK {
                    self.header(path, t, node, 0, b"");
                }
            }
        }
    }

    /// An empty regular file: a whiteout or the opaque marker.
    fn marker(&mut self, path: &[u8]) {
        let node = Node::new(S_IFREG, Body::Special, Timespec::default());
        self.header(path, S_IFREG, &node, 0, b"");
    }

    fn pad(&mut self) {
        let rem = self.out.len() % 512;
        if rem != 0 {
            self.out.resize(self.out.len() + 512 - rem, 0);
        }
    }

    /// A ustar header (type from `ftype`, 0 for a hard link to `link`), preceded by GNU
    /// long-name records where the path or link target does not fit.
    fn header(&mut self, path: &[u8], ftype: u32, node: &Node, size: u64, link: &[u8]) {
        if path.len() > 100 {
            self.long_name(b'L', path);
        }
        if link.len() > 100 {
            self.long_name(b'K', link);
        }
        let typeflag = match ftype {
            S_IFREG => b'0',
            0 => b'1',
            S_IFLNK => b'2',
            S_IFCHR => b'3',
            S_IFBLK => b'4',
            S_IFDIR => b'5',
            S_IFIFO => b'6',
            _ => b'0',
        };
        let (major, minor) = split_dev(node.rdev);
        let mut h = [0u8; 512];
        put(&mut h[0..100], &path[..path.len().min(100)]);
        octal(&mut h[100..108], (node.mode & 0o7777) as u64);
        octal(&mut h[108..116], node.uid as u64);
        octal(&mut h[116..124], node.gid as u64);
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], node.mtime.sec.max(0) as u64);
        h[156] = typeflag;
        put(&mut h[157..257], &link[..link.len().min(100)]);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        octal(&mut h[329..337], major as u64);
        octal(&mut h[337..345], minor as u64);
        checksum(&mut h);
        self.out.extend_from_slice(&h);
    }

    /// A GNU 'L' (path) or 'K' (link target) record holding a long name.
    fn long_name(&mut self, kind: u8, name: &[u8]) {
        let mut h = [0u8; 512];
        put(&mut h[0..100], b"././@LongLink");
        octal(&mut h[100..108], 0o644);
        octal(&mut h[124..136], name.len() as u64 + 1);
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        checksum(&mut h);
        self.out.extend_from_slice(&h);
        self.out.extend_from_slice(name);
        self.out.push(0);
        self.pad();
    }
}

fn put(field: &mut [u8], v: &[u8]) {
    field[..v.len()].copy_from_slice(v);
}

/// A numeric field: octal with a NUL, or GNU base-256 when it does not fit.
fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    if digits >= 22 || v < 1u64 << (3 * digits) {
        let s = format!("{v:0digits$o}");
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        field.fill(0);
        field[0] = 0x80;
        let bytes = v.to_be_bytes();
        let n = field.len().min(8);
        let len = field.len();
        field[len - n..].copy_from_slice(&bytes[8 - n..]);
    }
}

fn checksum(h: &mut [u8; 512]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

/// Linux's dev_t split (the inverse of index::makedev).
fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Lower reads for a layer's own file data, which is copied into the upper layer.
struct LayerBytes<'a, S: RootfsSource>(&'a S);

impl<S: RootfsSource> LowerLayer for LayerBytes<'_, S> {
    fn read_into(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let offset = file + offset;
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(1 << 20) as u32;
            let got = self.0.read_at(offset + done as u64, want);
            if got.is_empty() {
                buf[done..].fill(0);
                return Ok(());
            }
            buf[done..done + got.len()].copy_from_slice(&got);
            done += got.len();
        }
        Ok(())
    }
}

/// A layer's members applied over `table`, as extracting it over the tree would
/// (image-spec layer.md). File contents are copied in (they become written pages, so a
/// later `export` writes them again). An empty source is no layer.
pub(crate) fn apply<S: RootfsSource>(table: &mut Table, layer: &S) -> Result<(), TarError> {
    if layer.size() == 0 {
        return Ok(());
    }
    let mut reader = TarReader::new(layer);
    let mut data = LayerBytes(layer);
    while let Some(mut e) = reader.next_entry()? {
        let comps: Vec<&[u8]> = e
            .path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        if comps.contains(&&b".."[..]) {
            continue;
        }
        let Some((&name, dirs)) = comps.split_last() else {
            continue;
        };
        if name == OPAQUE || name.starts_with(WHITEOUT) {
            let Some(dir) = walk(table, dirs) else {
                continue;
            };
            if name == OPAQUE {
                opaque(table, dir, dirs);
            } else {
                crate::index::replace(table, dir, &name[WHITEOUT.len()..]);
            }
            continue;
        }
        if e.kind == EntryKind::File {
            let mut f = FileData::default();
            // Counted afterwards, from the table (`Vfs::apply_layer`).
            let mut budget = crate::file::Budget::unbounded();
            let mut buf = vec![0u8; e.size.min(1 << 20) as usize];
            let mut off = 0;
            while off < e.size {
                let n = (e.size - off).min(buf.len() as u64) as usize;
                // Infallible: LayerBytes reads the layer itself.
                let _ = data.read_into(e.data, off, &mut buf[..n]);
                // Cannot fail: the lower layer here is the layer itself (LayerBytes).
                let _ = f.write(&mut data, off, &buf[..n], &mut budget);
                off += n as u64;
            }
            crate::index::add_node(table, e.clone(), Some(f));
            continue;
        }
        e.size = 0;
        crate::index::add_node(table, e, None);
    }
    Ok(())
}

/// Make directory `dir` (at `comps`) opaque: a new, empty directory with the same
/// attributes takes its place, as if the guest had removed and made it again, so the
/// layer's own entries that follow go into it and a later export marks it opaque again.
fn opaque(table: &mut Table, dir: Ino, comps: &[&[u8]]) {
    let Some((&name, up)) = comps.split_last() else {
        // The root cannot be replaced: empty it.
        let names: Vec<Vec<u8>> = table
            .dir(dir)
            .and_then(|d| d.listing())
            .map(|l| l.entries.keys().cloned().collect())
            .unwrap_or_default();
        for n in names {
            crate::index::replace(table, dir, &n);
        }
        return;
    };
    let (Some(parent), Ok(old)) = (walk(table, up), table.get(dir)) else {
        return;
    };
    let mut node = Node::new(old.mode, Body::Dir(Default::default()), old.mtime);
    (node.uid, node.gid, node.atime, node.ctime) = (old.uid, old.gid, old.atime, old.ctime);
    crate::index::replace(table, parent, name);
    let ino = table.alloc(node);
    table.attach(parent, name, ino);
}

/// The directory at `comps` below the root, if it exists.
fn walk(table: &Table, comps: &[&[u8]]) -> Option<Ino> {
    let mut cur = ROOT;
    for c in comps {
        cur = table.child(cur, c)?;
        table.dir(cur).ok()?;
    }
    Some(cur)
}
