//! Flattening: the layers applied in order into one tree, with the OCI whiteouts
//! (image-spec layer.md: `.wh.NAME` deletes NAME from the layers below, `.wh..wh..opq`
//! empties a directory of what the layers below put there), then written as one tar.
//!
//! Only metadata is kept in memory; file contents are copied once into a spool file as
//! the (possibly compressed) layer streams go by, and copied again into the output.
//! Hard links are kept as shared "inodes": a link made in any layer shares the data of its
//! target at that moment, as extracting the layers in order onto a disk would, so a link
//! survives its target being deleted or replaced later (the first path of each inode in
//! the output carries the data and the others link to it).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::decompress;
use crate::layout::open_source;
use crate::oci::{BlobSource, Layer};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    File { inode: u64, offset: u64, len: u64 },
    Dir,
    Symlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

#[derive(Clone, Debug)]
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    uname: Vec<u8>,
    gname: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Node {
    kind: Kind,
    meta: Meta,
    /// The layer that made this node (an opaque directory only hides lower layers).
    layer: usize,
}

/// What could not be carried into the flattened tar, counted per reason.
#[derive(Debug, Default)]
pub struct Report {
    pub skipped: BTreeMap<String, Vec<String>>,
    pub entries: u64,
    pub whiteouts: u64,
}

impl Report {
    fn skip(&mut self, reason: &str, path: &[u8]) {
        self.skipped
            .entry(reason.to_string())
            .or_default()
            .push(String::from_utf8_lossy(path).into_owned());
    }

    /// One line per reason, with up to three examples.
    pub fn lines(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|(reason, paths)| {
                let shown: Vec<&str> = paths.iter().take(3).map(String::as_str).collect();
                let more = if paths.len() > 3 { ", ..." } else { "" };
                format!("{} x {reason}: {}{more}", paths.len(), shown.join(", "))
            })
            .collect()
    }
}

pub struct Flattener {
    tree: BTreeMap<Vec<u8>, Node>,
    spool: File,
    spool_len: u64,
    next_inode: u64,
    pub report: Report,
}

/// Reads the raw blob, hashing and counting what goes by (shared with the decoder on top,
/// so the rest of the blob can be drained and the digest checked after the tar ends).
struct Tap {
    inner: Box<dyn Read>,
    hash: Sha256,
    progress: Box<dyn FnMut(u64)>,
}

#[derive(Clone)]
struct Shared(Rc<RefCell<Tap>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut tap = self.0.borrow_mut();
        let n = tap.inner.read(buf)?;
        tap.hash.update(&buf[..n]);
        (tap.progress)(n as u64);
        Ok(n)
    }
}

impl Flattener {
    pub fn new() -> Result<Flattener> {
        Ok(Flattener {
            tree: BTreeMap::new(),
            spool: tempfile::tempfile().context("creating the spool file")?,
            spool_len: 0,
            next_inode: 0,
            report: Report::default(),
        })
    }

    /// Apply one layer on top of what is there; `progress` gets the raw bytes read.
    pub fn apply(
        &mut self,
        index: usize,
        layer: &Layer,
        progress: Box<dyn FnMut(u64)>,
    ) -> Result<()> {
        let tap = Shared(Rc::new(RefCell::new(Tap {
            inner: open_source(&layer.source)?,
            hash: Sha256::new(),
            progress,
        })));
        let what = format!("layer {}", layer.label);
        {
            let decoded = decompress::decoder(tap.clone()).with_context(|| what.clone())?;
            let mut archive = tar::Archive::new(decoded);
            let mut spool = BufWriter::with_capacity(1 << 20, &self.spool);
            let entries = archive
                .entries()
                .with_context(|| format!("{what}: not a tar archive"))?;
            for entry in entries {
                let entry = entry.with_context(|| format!("{what}: truncated or corrupt"))?;
                apply_entry(
                    &mut self.tree,
                    &mut self.report,
                    &mut spool,
                    &mut self.spool_len,
                    &mut self.next_inode,
                    index,
                    entry,
                )
                .with_context(|| format!("{what}: truncated or corrupt"))?;
            }
            spool.flush().context("writing the spool file")?;
        }
        // The digest covers the whole blob, including what follows the tar's end.
        let mut tap = Shared::into_tap(tap);
        io::copy(&mut tap.inner, &mut HashSink(&mut tap.hash))
            .with_context(|| format!("{what}: reading"))?;
        if let Some(expected) = &layer.digest {
            let got = format!("sha256:{:x}", tap.hash.finalize());
            if expected.starts_with("sha256:") && &got != expected {
                bail!("{what}: digest mismatch: expected {expected}, got {got}");
            }
        }
        Ok(())
    }

    /// Write the flattened tree as one tar archive, parents before children.
    pub fn write<W: Write>(&self, out: W) -> Result<W> {
        let mut b = tar::Builder::new(out);
        let mut first_path: HashMap<u64, &[u8]> = HashMap::new();
        for (path, node) in &self.tree {
            let mut h = Header::new_gnu();
            let m = &node.meta;
            h.set_mode(m.mode);
            h.set_uid(m.uid);
            h.set_gid(m.gid);
            h.set_mtime(m.mtime);
            if let Ok(u) = std::str::from_utf8(&m.uname) {
                let _ = h.set_username(u);
            }
            if let Ok(g) = std::str::from_utf8(&m.gname) {
                let _ = h.set_groupname(g);
            }
            let p = Path::new(std::ffi::OsStr::from_bytes(path));
            let res = match &node.kind {
                Kind::File { inode, offset, len } => {
                    if let Some(target) = first_path.get(inode) {
                        h.set_entry_type(EntryType::Link);
                        h.set_size(0);
                        let t = Path::new(std::ffi::OsStr::from_bytes(target));
                        b.append_link(&mut h, p, t)
                    } else {
                        first_path.insert(*inode, path);
                        h.set_entry_type(EntryType::Regular);
                        h.set_size(*len);
                        b.append_data(&mut h, p, SpoolReader::new(&self.spool, *offset, *len))
                    }
                }
                Kind::Dir => {
                    h.set_entry_type(EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, p, io::empty())
                }
                Kind::Symlink(target) => {
                    h.set_entry_type(EntryType::Symlink);
                    h.set_size(0);
                    let t = Path::new(std::ffi::OsStr::from_bytes(target));
                    b.append_link(&mut h, p, t)
                }
                Kind::Char(maj, min) | Kind::Block(maj, min) => {
                    h.set_entry_type(if matches!(node.kind, Kind::Char(..)) {
                        EntryType::Char
                    } else {
                        EntryType::Block
                    });
                    h.set_size(0);
                    h.set_device_major(*maj)?;
                    h.set_device_minor(*min)?;
                    b.append_data(&mut h, p, io::empty())
                }
                Kind::Fifo => {
                    h.set_entry_type(EntryType::Fifo);
                    h.set_size(0);
                    b.append_data(&mut h, p, io::empty())
                }
            };
            res.with_context(|| format!("writing {}", String::from_utf8_lossy(path)))?;
        }
        b.into_inner().context("writing the rootfs tar")
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }
}

impl Shared {
    fn into_tap(self) -> Tap {
        match Rc::try_unwrap(self.0) {
            Ok(cell) => cell.into_inner(),
            Err(_) => unreachable!("the decoder holding the other handle was dropped"),
        }
    }
}

struct HashSink<'a>(&'a mut Sha256);
impl Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A byte range of the spool file, read with pread.
struct SpoolReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}
impl<'a> SpoolReader<'a> {
    fn new(file: &'a File, offset: u64, len: u64) -> Self {
        SpoolReader {
            file,
            pos: offset,
            end: offset + len,
        }
    }
}
impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spool file"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// `./a//b/` -> `a/b`; None for paths that climb out (`..`), which are skipped.
fn normalize(path: &[u8]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return None,
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Some(out)
}

fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b"", path),
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

/// Remove `path` and everything under it (made by layers below `below`, if given).
fn remove_tree(tree: &mut BTreeMap<Vec<u8>, Node>, path: &[u8], below: Option<usize>) {
    let keep = |n: &Node| below.is_some_and(|l| n.layer >= l);
    if tree.get(path).is_some_and(|n| !keep(n)) {
        tree.remove(path);
    }
    let mut prefix = path.to_vec();
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    let doomed: Vec<Vec<u8>> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, n)| !keep(n))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        tree.remove(&k);
    }
}

/// PAX records override the header's numbers and names (large ids, sub-second times).
fn meta_of<R: Read>(
    entry: &mut tar::Entry<R>,
    report: &mut Report,
    path: &[u8],
) -> io::Result<Meta> {
    let h = entry.header();
    let mut meta = Meta {
        mode: h.mode()? & 0o7777,
        uid: h.uid()?,
        gid: h.gid()?,
        mtime: h.mtime()?,
        uname: h.username_bytes().unwrap_or_default().to_vec(),
        gname: h.groupname_bytes().unwrap_or_default().to_vec(),
    };
    let mut xattrs = false;
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            let (Ok(key), value) = (ext.key(), ext.value_bytes()) else {
                continue;
            };
            let num = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.split('.').next()?.parse::<u64>().ok())
            };
            match key {
                "uid" => meta.uid = num().unwrap_or(meta.uid),
                "gid" => meta.gid = num().unwrap_or(meta.gid),
                "mtime" => meta.mtime = num().unwrap_or(meta.mtime),
                "uname" => meta.uname = value.to_vec(),
                "gname" => meta.gname = value.to_vec(),
                k if k.starts_with("SCHILY.xattr.") || k.starts_with("LIBARCHIVE.xattr.") => {
                    xattrs = true
                }
                _ => {}
            }
        }
    }
    if xattrs {
        report.skip("extended attributes dropped (friscy's vfs has none)", path);
    }
    Ok(meta)
}

#[allow(clippy::too_many_arguments)]
fn apply_entry<R: Read>(
    tree: &mut BTreeMap<Vec<u8>, Node>,
    report: &mut Report,
    spool: &mut BufWriter<&File>,
    spool_len: &mut u64,
    next_inode: &mut u64,
    layer: usize,
    mut entry: tar::Entry<R>,
) -> Result<()> {
    let raw = entry.path_bytes().into_owned();
    report.entries += 1;
    let Some(path) = normalize(&raw) else {
        report.skip("paths that leave the root (..)", &raw);
        return Ok(());
    };
    if path.is_empty() {
        return Ok(()); // the root directory itself
    }
    let (parent, name) = split_parent(&path);
    // Whiteouts (image-spec layer.md).
    if name == b".wh..wh..opq" {
        report.whiteouts += 1;
        let dir = parent.to_vec();
        let keep_dir = tree.get(&dir).cloned();
        remove_tree(tree, &dir, Some(layer));
        if let Some(d) = keep_dir {
            tree.insert(dir, d);
        }
        return Ok(());
    }
    if let Some(hidden) = name.strip_prefix(b".wh.") {
        report.whiteouts += 1;
        remove_tree(tree, &join(parent, hidden), None);
        return Ok(());
    }
    let meta = meta_of(&mut entry, report, &path)?;
    let ty = entry.header().entry_type();
    let kind = match ty {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
            let offset = *spool_len;
            let len = io::copy(&mut entry, spool)?;
            *spool_len += len;
            *next_inode += 1;
            Kind::File {
                inode: *next_inode,
                offset,
                len,
            }
        }
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => {
            Kind::Symlink(entry.link_name_bytes().unwrap_or_default().into_owned())
        }
        EntryType::Link => {
            let target = entry.link_name_bytes().unwrap_or_default();
            let Some(target) = normalize(&target) else {
                report.skip("hard links that leave the root", &path);
                return Ok(());
            };
            match tree.get(&target) {
                // A link shares its target's inode: data, mode and owner.
                Some(t) if !matches!(t.kind, Kind::Dir) => {
                    let node = Node { layer, ..t.clone() };
                    place(tree, report, path, node);
                }
                _ => report.skip("hard links to a missing target", &path),
            }
            return Ok(());
        }
        EntryType::Char | EntryType::Block => {
            let h = entry.header();
            let maj = h.device_major()?.unwrap_or(0);
            let min = h.device_minor()?.unwrap_or(0);
            if ty == EntryType::Char {
                Kind::Char(maj, min)
            } else {
                Kind::Block(maj, min)
            }
        }
        EntryType::Fifo => Kind::Fifo,
        _ => {
            report.skip("entries of an unsupported type", &path);
            return Ok(());
        }
    };
    place(tree, report, path, Node { kind, meta, layer });
    Ok(())
}

/// Put `node` at `path`: a directory over a directory keeps the children (a layer only
/// changes its metadata), anything else replaces what was there, subtree included.
fn place(tree: &mut BTreeMap<Vec<u8>, Node>, report: &mut Report, path: Vec<u8>, node: Node) {
    // Parents: made (0755, root) where a layer omits them, as tar extraction does.
    let mut at = 0;
    while let Some(i) = path[at..].iter().position(|&b| b == b'/') {
        let dir = &path[..at + i];
        match tree.get(dir) {
            Some(n) if n.kind == Kind::Dir => {}
            Some(_) => {
                report.skip("entries under a non-directory", &path);
                return;
            }
            None => {
                tree.insert(
                    dir.to_vec(),
                    Node {
                        kind: Kind::Dir,
                        meta: Meta {
                            mode: 0o755,
                            uid: 0,
                            gid: 0,
                            mtime: 0,
                            uname: Vec::new(),
                            gname: Vec::new(),
                        },
                        layer: node.layer,
                    },
                );
            }
        }
        at += i + 1;
    }
    let both_dirs = node.kind == Kind::Dir && tree.get(&path).is_some_and(|n| n.kind == Kind::Dir);
    if !both_dirs {
        remove_tree(tree, &path, None);
    }
    tree.insert(path, node);
}

/// Total raw bytes of the layers (for the progress bar).
pub fn total_size(layers: &[Layer]) -> u64 {
    layers
        .iter()
        .map(|l| match &l.source {
            BlobSource::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            BlobSource::Range { len, .. } => *len,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_escapes_refused() {
        assert_eq!(normalize(b"./a//b/").unwrap(), b"a/b");
        assert_eq!(normalize(b"/etc/./x").unwrap(), b"etc/x");
        assert_eq!(normalize(b"./").unwrap(), b"");
        assert!(normalize(b"a/../../etc").is_none());
    }
}
