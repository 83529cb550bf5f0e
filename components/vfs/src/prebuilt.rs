//! A prebuilt index carried at the end of the image, so that a start does not parse every
//! tar header again (issue 17: Debian's 4,576 members cost more than a third of a
//! `/bin/true` start, and the cost grew with the image).
//!
//! The index is derived data: the inode table exactly as `index::build` makes it from the
//! tar, written by whoever prepares the image (friscy-pack for bundles and sealed
//! components, the native host for a plain tar, kept in its cache) and appended after the
//! archive's end-of-archive marker, where tar readers never look:
//!
//! ```text
//! [ the tar archive (tar_len bytes) ][ blob ][ zeros ][ footer, 64 bytes ]
//! ```
//!
//! The whole trailer is a multiple of 512 bytes, so the image stays whole tar blocks.
//! Footer: `MAGIC` (16 bytes), format version (u32), 4 zero bytes, tar_len, blob offset,
//! blob length and the blob's XXH64 (seed 0, the `xxhash-rust` crate; u64 each), 4 zero
//! bytes, CRC-32 of the footer's first 60 bytes (u32); little-endian. The blob: `tar_len` again, the node count, every inode in
//! number order (holes included, so inode numbers are the same as the tar gives), then
//! the directories' entries, breadth first from the root, each directory's in listing
//! order.
//!
//! Everything is checked when read (both checksums, every inode number, every file's
//! extent inside the archive, the directory graph a tree reached from the root);
//! an index that fails any check is not used: the tar is indexed instead (`Vfs::new`).
//! Link counts and each directory's parent are worked out then too, but an inode is made
//! only when first used (`Unmade`: the table keeps each one's record offset), and a
//! directory's listing only when the directory is first used (`Packed`): making all of
//! Debian's 4,576 (two maps and two copies of each name) was 1.0 ms of the 1.25 ms read
//! natively, and freeing them at exit 0.46 ms more, where a start looks into a dozen
//! directories (natively the read is now 0.29 ms, and its freeing 0.04 ms). The checks
//! of the names themselves (each a name, none twice in one directory) then come late: a
//! directory whose record fails them fails its lookups, listings and changes with EIO, as
//! a damaged disk's would, and the rest of the tree is unaffected.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use xxhash_rust::xxh64::xxh64 as xxh64_seeded;

/// XXH64 with seed 0: the blob's checksum (finds damage, not tampering).
fn xxh64(bytes: &[u8]) -> u64 {
    xxh64_seeded(bytes, 0)
}
use crate::file::FileData;
use crate::node::{Body, Dir, Listing, Node, ROOT, Table};
use crate::tar::TarError;
use crate::{Errno, Ino, RootfsSource, Timespec};

/// The footer's first bytes.
pub const MAGIC: &[u8; 16] = b"friscy-vfs-index";
/// Bumped whenever the blob's layout or what `index::build` makes of a tar changes.
/// 2: the blob's checksum is XXH64 (CRC-32 was 0.27 ms in Wasm, half of reading Debian's
/// index once the listings were made lazily).
pub const VERSION: u32 = 2;
/// The footer's size.
pub const FOOTER: usize = 64;
const BLOCK: u64 = 512;
/// Largest blob read back: far beyond any image (Debian's is about 0.4 MB).
const MAX_BLOB: u64 = 1 << 30;

const TAG_NONE: u8 = 0;
const TAG_FILE: u8 = 1;
const TAG_DIR: u8 = 2;
const TAG_SYMLINK: u8 = 3;
const TAG_SPECIAL: u8 = 4;

/// Why a prebuilt index was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexError {
    /// The blob's bytes do not match its checksum.
    Checksum,
    /// The footer names another format version.
    Version(u32),
    /// The blob is malformed (what was wrong).
    Malformed(&'static str),
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::Checksum => write!(f, "the prebuilt index is damaged (checksum)"),
            IndexError::Version(v) => write!(
                f,
                "the prebuilt index has format version {v}, this build reads {VERSION}"
            ),
            IndexError::Malformed(what) => write!(f, "the prebuilt index is malformed: {what}"),
        }
    }
}

/// Where the trailer says things are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    pub version: u32,
    /// XXH64 of the blob.
    pub blob_sum: u64,
    /// Bytes of the image that are the tar archive.
    pub tar_len: u64,
    pub blob_off: u64,
    pub blob_len: u64,
}

impl Footer {
    fn encode(&self) -> [u8; FOOTER] {
        let mut f = [0u8; FOOTER];
        f[..16].copy_from_slice(MAGIC);
        f[16..20].copy_from_slice(&self.version.to_le_bytes());
        f[24..32].copy_from_slice(&self.tar_len.to_le_bytes());
        f[32..40].copy_from_slice(&self.blob_off.to_le_bytes());
        f[40..48].copy_from_slice(&self.blob_len.to_le_bytes());
        f[48..56].copy_from_slice(&self.blob_sum.to_le_bytes());
        // The footer keeps its CRC-32 (60 bytes: no time to save), so that a footer of
        // another version is still recognised as one and reported.
        let crc = crc32fast::hash(&f[..60]);
        f[60..].copy_from_slice(&crc.to_le_bytes());
        f
    }

    /// The footer in the last `FOOTER` bytes of an image of `size` bytes, if those bytes
    /// are one (magic and checksum right, the parts in order inside the image).
    pub fn parse(f: &[u8], size: u64) -> Option<Footer> {
        if f.len() != FOOTER || &f[..16] != MAGIC {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(f[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(f[i..i + 8].try_into().unwrap());
        if crc32fast::hash(&f[..60]) != u32_at(60) {
            return None;
        }
        let footer = Footer {
            version: u32_at(16),
            blob_sum: u64_at(48),
            tar_len: u64_at(24),
            blob_off: u64_at(32),
            blob_len: u64_at(40),
        };
        let blob_end = footer.blob_off.checked_add(footer.blob_len)?;
        let in_order = footer.tar_len <= footer.blob_off
            && blob_end <= size.checked_sub(FOOTER as u64)?
            && footer.blob_len <= MAX_BLOB;
        in_order.then_some(footer)
    }
}

/// The footer at the end of `src`, if it carries one.
pub fn footer<R: RootfsSource + ?Sized>(src: &R) -> Option<Footer> {
    let size = src.size();
    let at = size.checked_sub(FOOTER as u64)?;
    Footer::parse(&src.read_at(at, FOOTER as u32), size)
}

/// The trailer to append to an image whose first `tar_len` bytes are `src`'s tar archive:
/// its index, padding, and the footer. Fails as indexing the tar fails.
pub fn trailer<R: RootfsSource + ?Sized>(src: &R) -> Result<Vec<u8>, TarError> {
    let tar_len = src.size();
    let table = crate::index::build(src)?;
    let blob = encode(&table, tar_len);
    let total = (blob.len() as u64 + FOOTER as u64).div_ceil(BLOCK) * BLOCK;
    let mut out = blob;
    let footer = Footer {
        version: VERSION,
        blob_sum: xxh64(&out),
        tar_len,
        blob_off: tar_len,
        blob_len: out.len() as u64,
    };
    out.resize(total as usize - FOOTER, 0);
    out.extend_from_slice(&footer.encode());
    Ok(out)
}

/// Whether `trailer` is a whole, undamaged trailer of this version for an archive of
/// `tar_len` bytes (footer and blob checksums; the blob's contents are checked when read).
pub fn trailer_ok(trailer: &[u8], tar_len: u64) -> bool {
    let size = tar_len + trailer.len() as u64;
    let Some(f) = trailer
        .len()
        .checked_sub(FOOTER)
        .and_then(|at| Footer::parse(&trailer[at..], size))
    else {
        return false;
    };
    if f.tar_len != tar_len || f.version != VERSION {
        return false;
    }
    // Footer::parse put the blob between the archive and the footer.
    let start = (f.blob_off - tar_len) as usize;
    let end = start + f.blob_len as usize;
    xxh64(&trailer[start..end]) == f.blob_sum
}

/// The inode table the trailer of `src` holds (`Ok(None)` when it has none), checked.
pub(crate) fn read<R: RootfsSource + ?Sized>(
    src: &R,
) -> Result<Option<(Footer, Table)>, (Footer, IndexError)> {
    let Some(footer) = footer(src) else {
        return Ok(None);
    };
    if footer.version != VERSION {
        return Err((footer, IndexError::Version(footer.version)));
    }
    // One buffer, read into directly (`Footer::parse` checked that the blob lies inside
    // the image and under MAX_BLOB).
    let mut blob = vec![0u8; footer.blob_len as usize];
    if src.read_into(footer.blob_off, &mut blob) < blob.len() {
        return Err((footer, IndexError::Malformed("the image ends inside it")));
    }
    if xxh64(&blob) != footer.blob_sum {
        return Err((footer, IndexError::Checksum));
    }
    let table = decode(blob, footer.tar_len).map_err(|e| (footer, e))?;
    Ok(Some((footer, table)))
}

/// The image without its trailer: what the tar reader must see when the index is not
/// used (it stops at the end-of-archive marker anyway; this keeps a damaged trailer's
/// bytes out of reach even of a tar without one).
pub(crate) struct TarPart<'a, R: ?Sized> {
    pub src: &'a R,
    pub len: u64,
}

impl<R: RootfsSource + ?Sized> RootfsSource for TarPart<'_, R> {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        let len = (len as u64).min(self.len.saturating_sub(offset)) as u32;
        if len == 0 {
            return Vec::new();
        }
        self.src.read_at(offset, len)
    }
}

fn encode(table: &Table, tar_len: u64) -> Vec<u8> {
    let mut w = Vec::with_capacity(table.slots() * 64);
    let put_u32 = |w: &mut Vec<u8>, v: u32| w.extend_from_slice(&v.to_le_bytes());
    let put_u64 = |w: &mut Vec<u8>, v: u64| w.extend_from_slice(&v.to_le_bytes());
    let put_time = |w: &mut Vec<u8>, t: Timespec| {
        w.extend_from_slice(&t.sec.to_le_bytes());
        w.extend_from_slice(&t.nsec.to_le_bytes());
    };
    let put_bytes = |w: &mut Vec<u8>, b: &[u8]| {
        w.extend_from_slice(&(b.len() as u32).to_le_bytes());
        w.extend_from_slice(b);
    };
    put_u64(&mut w, tar_len);
    put_u64(&mut w, table.slots() as u64);
    for ino in 1..table.slots() as Ino {
        let Ok(n) = table.get(ino) else {
            w.push(TAG_NONE);
            continue;
        };
        let tag = match &n.body {
            Body::File(_) => TAG_FILE,
            Body::Dir(_) => TAG_DIR,
            Body::Symlink(_) => TAG_SYMLINK,
            Body::Special => TAG_SPECIAL,
        };
        w.push(tag);
        put_u32(&mut w, n.mode);
        put_u32(&mut w, n.uid);
        put_u32(&mut w, n.gid);
        put_u64(&mut w, n.rdev);
        put_time(&mut w, n.atime);
        put_time(&mut w, n.mtime);
        put_time(&mut w, n.ctime);
        match &n.body {
            Body::File(f) => {
                // A freshly indexed file is a run of the image: nothing written yet.
                let (file, len) = f.lower_extent();
                put_u64(&mut w, file);
                put_u64(&mut w, len);
            }
            Body::Symlink(target) => put_bytes(&mut w, target),
            Body::Dir(_) | Body::Special => {}
        }
    }
    // Directories breadth first from the root: a directory's record comes after the
    // entry that names it, which is what `decode` checks to rule out cycles.
    let mut queue = VecDeque::from([ROOT]);
    while let Some(dir) = queue.pop_front() {
        let Ok(d) = table.dir(dir).and_then(|d| d.listing()) else {
            continue;
        };
        put_u64(&mut w, dir);
        put_u32(&mut w, d.order.len() as u32);
        for name in d.order.values() {
            let (_, child) = d.entries[name];
            put_bytes(&mut w, name);
            put_u64(&mut w, child);
            if table.dir(child).is_ok() {
                queue.push_back(child);
            }
        }
    }
    w
}

/// A bounds-checked reader over the blob.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        if self.b.len() < n {
            return Err(IndexError::Malformed("it ends early"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, IndexError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, IndexError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn time(&mut self) -> Result<Timespec, IndexError> {
        let sec = self.u64()? as i64;
        let nsec = self.u32()?;
        if nsec >= 1_000_000_000 {
            return Err(IndexError::Malformed("a timestamp's nanoseconds"));
        }
        Ok(Timespec { sec, nsec })
    }
    fn bytes(&mut self) -> Result<&'a [u8], IndexError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn name_ok(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|&b| b == b'/' || b == 0)
}

/// A directory's record in the prebuilt index, kept undecoded until the directory is first
/// used: a start looks into a few directories of the thousands an image has, and making
/// every listing (two maps, two copies of each name) was most of reading the index.
#[derive(Clone)]
pub(crate) struct Packed {
    /// The whole blob (read and checked at the start).
    blob: Arc<Vec<u8>>,
    /// Where this directory's entries start in `blob`, and how many there are.
    at: usize,
    count: u32,
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Packed {{ at: {}, count: {} }}", self.at, self.count)
    }
}

/// The listing a packed record holds. The record was checked when the index was read,
/// all but its names: each must be a name (not empty, ".", "..", nor holding '/' or NUL;
/// in Wasm that byte scan of every name was a quarter of the read, 0.31 -> 0.24 ms for
/// Debian), and none twice, which only shows once they are sorted. EIO if not: the
/// directory cannot be listed or looked into, and the rest of the tree is unaffected.
pub(crate) fn unpack(p: &Packed) -> Result<Listing, Errno> {
    let mut r = Reader {
        b: p.blob.get(p.at..).ok_or(Errno::EIO)?,
    };
    let mut names = Vec::with_capacity(p.count as usize);
    for _ in 0..p.count {
        let name = r.bytes().map_err(|_| Errno::EIO)?;
        let child = r.u64().map_err(|_| Errno::EIO)?;
        if !name_ok(name) {
            return Err(Errno::EIO);
        }
        names.push((name.to_vec(), child));
    }
    Listing::from_names(names).map_err(|_| Errno::EIO)
}

/// No record: an inode number the index does not use (or, in `Unmade`, one made already
/// or released), or no name (the root's).
const NONE: u32 = u32::MAX;

/// An inode's record: the node, without its link count or a directory's place in the
/// tree (the directory records give those).
fn node_record(r: &mut Reader, tar_len: u64) -> Result<Option<Node>, IndexError> {
    use friscy_abi::mode::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
    let bad = IndexError::Malformed;
    let tag = r.u8()?;
    if tag == TAG_NONE {
        return Ok(None);
    }
    let (mode, uid, gid, rdev) = (r.u32()?, r.u32()?, r.u32()?, r.u64()?);
    let (atime, mtime, ctime) = (r.time()?, r.time()?, r.time()?);
    let (body, ftype) = match tag {
        TAG_FILE => {
            let (file, len) = (r.u64()?, r.u64()?);
            if file.checked_add(len).is_none_or(|end| end > tar_len) {
                return Err(bad("a file lies outside the archive"));
            }
            (Body::File(FileData::lower(file, len)), Some(S_IFREG))
        }
        TAG_DIR => (Body::Dir(Dir::default()), Some(S_IFDIR)),
        TAG_SYMLINK => (Body::Symlink(r.bytes()?.to_vec()), Some(S_IFLNK)),
        TAG_SPECIAL => (Body::Special, None),
        _ => return Err(bad("an inode's kind")),
    };
    let ok_type = match ftype {
        Some(t) => mode & S_IFMT == t,
        None => !matches!(mode & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK) && mode & S_IFMT != 0,
    };
    if !ok_type {
        return Err(bad("an inode's mode does not match its kind"));
    }
    let mut node = Node::new(mode, body, mtime);
    (node.uid, node.gid, node.rdev) = (uid, gid, rdev);
    (node.atime, node.ctime) = (atime, ctime);
    Ok(Some(node))
}

/// A directory's part of the tree, from the directory records.
#[derive(Clone, Copy, Debug)]
struct DirRecord {
    /// Where its name lies in the blob (in its parent's record), NONE for the root.
    name_at: u32,
    /// Its own record: where its entries start, how many, how many are directories.
    at: u32,
    count: u32,
    subdirs: u32,
}

/// The index's inodes not made yet. The table makes a node from its record the first
/// time it is asked for it (`Table::get`): a start uses a few dozen of the thousands an
/// image has, and making every node (about 140 bytes each in Wasm) was 250 host page
/// faults of Debian's `/bin/true` (4,576 inodes). The records were all checked when the
/// index was read, so making one cannot fail.
#[derive(Clone)]
pub(crate) struct Unmade {
    blob: Arc<Vec<u8>>,
    tar_len: u64,
    /// Per inode number: where its record starts in `blob`; NONE once made or released
    /// (or never an inode).
    at: Vec<u32>,
    /// Per inode number: a non-directory's link count, a directory's parent.
    link: Vec<u32>,
    dirs: std::collections::HashMap<u32, DirRecord>,
}

impl Unmade {
    /// Node `ino`, made now from its record, if it has one not made yet. Its record is
    /// then forgotten: the table holds the node from here on.
    pub(crate) fn make(&mut self, ino: Ino) -> Option<Node> {
        let i = usize::try_from(ino).ok()?;
        let at = std::mem::replace(self.at.get_mut(i)?, NONE);
        if at == NONE {
            return None;
        }
        self.build(i, at)
    }

    /// Node `ino` as `make` would make it, leaving its record in place (for a shared
    /// look: the table keeps what this returns).
    pub(crate) fn peek(&self, ino: Ino) -> Option<Node> {
        let i = usize::try_from(ino).ok()?;
        let at = *self.at.get(i)?;
        if at == NONE {
            return None;
        }
        self.build(i, at)
    }

    /// Forgets node `ino`'s record (it is released, or the table made it); whether it had
    /// one.
    pub(crate) fn forget(&mut self, ino: Ino) -> bool {
        usize::try_from(ino)
            .ok()
            .and_then(|i| self.at.get_mut(i))
            .is_some_and(|a| std::mem::replace(a, NONE) != NONE)
    }

    fn build(&self, i: usize, at: u32) -> Option<Node> {
        let mut r = Reader {
            b: self.blob.get(at as usize..)?,
        };
        let mut node = node_record(&mut r, self.tar_len).ok()??;
        match &mut node.body {
            Body::Dir(d) => {
                let rec = self.dirs.get(&(i as u32))?;
                d.parent = if i == ROOT as usize {
                    ROOT
                } else {
                    self.link[i] as Ino
                };
                if rec.name_at != NONE {
                    let mut n = Reader {
                        b: self.blob.get(rec.name_at as usize..)?,
                    };
                    d.name = n.bytes().ok()?.to_vec();
                }
                let packed = Packed {
                    blob: self.blob.clone(),
                    at: rec.at as usize,
                    count: rec.count,
                };
                d.set_packed(packed, rec.subdirs);
            }
            _ => node.nlink = self.link[i],
        }
        Some(node)
    }
}

fn decode(blob: Vec<u8>, tar_len: u64) -> Result<Table, IndexError> {
    let bad = IndexError::Malformed;
    // Kept whole for the nodes and listings made later, rather than copying their parts.
    let blob: Arc<Vec<u8>> = Arc::new(blob);
    let mut r = Reader { b: &blob };
    if r.u64()? != tar_len {
        return Err(bad("it names another archive length"));
    }
    let slots = r.u64()?;
    // Every node takes at least one byte: a count beyond the blob is a lie (and the
    // blob's size, under MAX_BLOB, keeps numbers and offsets in a u32).
    if slots < 2 || slots > blob.len() as u64 {
        return Err(bad("the inode count"));
    }
    let slots = slots as usize;
    // Per-number vectors, allocated so that a count too big for memory (which a crafted
    // index could claim) is an error: the tar is indexed instead.
    fn room<T: Clone>(n: usize, fill: T) -> Result<Vec<T>, IndexError> {
        let mut v = Vec::new();
        v.try_reserve_exact(n)
            .map_err(|_| IndexError::Malformed("more inodes than memory holds"))?;
        v.resize(n, fill);
        Ok(v)
    }
    // Every record is checked now (and the node it makes dropped): a damaged index is
    // refused whole at the start, never found out later.
    const FILE: u8 = 1;
    const DIR: u8 = 2;
    // Filled by pushing, in number order.
    let (mut at, mut kind) = (room(slots, NONE)?, room(slots, 0u8)?);
    at.clear();
    kind.clear();
    at.push(NONE);
    kind.push(0u8);
    for _ in 1..slots {
        let pos = (blob.len() - r.b.len()) as u32;
        match node_record(&mut r, tar_len)? {
            None => {
                at.push(NONE);
                kind.push(0);
            }
            Some(n) => {
                at.push(pos);
                kind.push(if n.is_dir() { DIR } else { FILE });
            }
        }
    }
    if kind[ROOT as usize] != DIR {
        return Err(bad("the root is not a directory"));
    }
    let mut link = room(slots, 0u32)?;
    let mut dirs = std::collections::HashMap::new();
    link[ROOT as usize] = ROOT as u32;

    // The directory entries: each directory once, after the entry that reaches it. Every
    // record is checked here but the one thing that needs its names sorted (a name
    // twice); its listing is made when the directory is first used (`unpack`).
    let mut reached = room(slots, false)?;
    let mut listed = room(slots, false)?;
    let mut names = room(slots, NONE)?;
    reached[ROOT as usize] = true;
    while !r.b.is_empty() {
        let dir = r.u64()? as usize;
        if dir >= slots || !reached[dir] || listed[dir] || kind[dir] != DIR {
            return Err(bad("a directory record"));
        }
        listed[dir] = true;
        let count = r.u32()?;
        // Each entry takes at least 12 bytes: a count beyond the blob is a lie.
        if count as usize > r.b.len() / 12 {
            return Err(bad("a directory's entry count"));
        }
        let entries_at = (blob.len() - r.b.len()) as u32;
        let mut subdirs = 0;
        for _ in 0..count {
            // Its name is checked when the listing is made (`unpack`): the only way to
            // the child is through that listing.
            let name_at = (blob.len() - r.b.len()) as u32;
            r.bytes()?;
            let child = r.u64()? as usize;
            if child >= slots || child == ROOT as usize || kind[child] == 0 {
                return Err(bad("an entry's inode"));
            }
            if kind[child] == DIR {
                // A directory has one name: a second would make a cycle or a hard link.
                if reached[child] {
                    return Err(bad("a directory named twice"));
                }
                link[child] = dir as u32;
                names[child] = name_at;
                subdirs += 1;
            } else {
                // Its link count.
                link[child] += 1;
            }
            reached[child] = true;
        }
        dirs.insert(
            dir as u32,
            DirRecord {
                name_at: names[dir],
                at: entries_at,
                count,
                subdirs,
            },
        );
    }
    // Every inode the image holds has a name (the tar gives no other way to make one),
    // and every directory has its record, empty or not.
    if (1..slots).any(|i| kind[i] != 0 && !reached[i]) {
        return Err(bad("an inode with no name"));
    }
    if (1..slots).any(|i| kind[i] == DIR && !listed[i]) {
        return Err(bad("a directory without its record"));
    }
    let live = kind.iter().filter(|&&k| k != 0).count() as u64;
    let unmade = Unmade {
        blob,
        tar_len,
        at,
        link,
        dirs,
    };
    Table::unmade(slots, unmade, live).ok_or(bad("more inodes than memory holds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar with a bit of everything the index keeps: nested directories, a file, a hard
    /// link, a symlink, a FIFO, a long name, and a member replaced by a later one.
    fn sample() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(if kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            });
            h.set_uid(1000);
            h.set_gid(100);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            b.append_data(&mut h, path, data).unwrap();
        };
        add("etc/", tar::EntryType::Directory, b"", None);
        add("etc/hostname", tar::EntryType::Regular, b"box\n", None);
        add("etc/motd", tar::EntryType::Regular, b"old\n", None);
        add("etc/motd", tar::EntryType::Regular, b"new motd\n", None);
        add("usr/lib/deep/er/file", tar::EntryType::Regular, b"x", None);
        add("bin/sh", tar::EntryType::Regular, b"#!shell", None);
        add("bin/ash", tar::EntryType::Link, b"", Some("bin/sh"));
        add("bin/bash", tar::EntryType::Symlink, b"", Some("sh"));
        add("run/fifo", tar::EntryType::Fifo, b"", None);
        let long = format!("opt/{}", "n".repeat(150));
        add(&long, tar::EntryType::Regular, b"long", None);
        b.into_inner().unwrap()
    }

    fn with_trailer(tar: &[u8]) -> Vec<u8> {
        let mut image = tar.to_vec();
        let t = trailer(&tar).unwrap();
        assert!(trailer_ok(&t, tar.len() as u64));
        assert!(!trailer_ok(&t, tar.len() as u64 + 512));
        image.extend(t);
        image
    }

    /// Everything observable about a table: each inode's stat and each directory's
    /// entries in listing order.
    fn dump(t: &Table) -> Vec<String> {
        let mut out = Vec::new();
        for ino in 1..t.slots() as Ino {
            if let Ok(n) = t.get(ino) {
                out.push(format!("{ino} {:?}", n.stat(ino)));
                match &n.body {
                    Body::Dir(d) => {
                        let names: Vec<_> = match d.listing() {
                            Ok(l) => l
                                .order
                                .values()
                                .map(|k| (String::from_utf8_lossy(k).into_owned(), l.entries[k].1))
                                .collect(),
                            Err(e) => vec![(format!("{e:?}"), 0)],
                        };
                        out.push(format!("  {} {:?} {names:?}", d.parent, d.name));
                    }
                    Body::File(f) => out.push(format!("  file {:?}", f.lower_extent())),
                    Body::Symlink(s) => out.push(format!("  -> {s:?}")),
                    Body::Special => {}
                }
            }
        }
        out
    }

    /// The format's blob checksum is XXH64 with seed 0 (docs/PACK.md): the published
    /// reference values.
    #[test]
    fn the_blob_checksum_is_xxh64() {
        assert_eq!(xxh64(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"abc"), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition"),
            0xFBCE_A83C_8A37_8BF1
        );
    }

    #[test]
    fn the_trailer_gives_the_table_the_tar_gives() {
        let tar = sample();
        let image = with_trailer(&tar);
        assert_eq!(image.len() % 512, 0);
        let (footer, table) = read(&image).unwrap().unwrap();
        assert_eq!(footer.tar_len, tar.len() as u64);
        let direct = crate::index::build(&tar).unwrap();
        assert!(dump(&direct).len() > 25, "{:#?}", dump(&direct));
        assert_eq!(dump(&table), dump(&direct));
        assert_eq!(table.live(), direct.live());
        // And the tar reader still sees the archive alone (it stops at the end marker).
        assert_eq!(dump(&crate::index::build(&image).unwrap()), dump(&direct));
    }

    /// Every path below `dir` (depth first, in listing order), read through `Fs`.
    fn paths(fs: &mut impl crate::Fs, dir: &[u8], out: &mut Vec<Vec<u8>>) {
        let ino = fs
            .lookup(ROOT, [dir, b"/"].concat().as_slice(), false)
            .unwrap();
        for e in fs.readdir(ino, 0, u32::MAX).unwrap() {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let p = [dir, b"/", &e.name[..]].concat();
            out.push(p.clone());
            if e.kind == 4 {
                paths(fs, &p, out);
            }
        }
    }

    /// What the guest can see of `p`: its stat, and a directory's path and listing.
    fn observe(fs: &mut impl crate::Fs, p: &[u8]) -> String {
        let p = if p.is_empty() { b"/" } else { p };
        let Ok(ino) = fs.lookup(ROOT, p, false) else {
            return "ENOENT".into();
        };
        let st = fs.stat(ino).unwrap();
        let mut out = format!("{st:?}");
        if st.mode & friscy_abi::mode::S_IFMT == friscy_abi::mode::S_IFDIR {
            out += &format!(" {:?}", fs.path(ino));
            // Cookies (d_off) are opaque: the tar's count replaced members, the index's
            // do not. A listing continued from each one gives the same entries.
            let list = fs.readdir(ino, 0, u32::MAX).unwrap();
            let names = |l: &[crate::Dirent]| -> Vec<_> {
                l.iter().map(|e| (e.ino, e.kind, e.name.clone())).collect()
            };
            out += &format!(" {:?}", names(&list));
            for e in &list {
                out += &format!(" {:?}", names(&fs.readdir(ino, e.next, 2).unwrap()));
            }
        }
        out
    }

    #[test]
    fn a_lazily_read_index_shows_what_the_tar_shows() {
        use crate::{Fs, Vfs};
        let tar = sample();
        let image = with_trailer(&tar);
        let eager = || {
            let mut v = Vfs::new(tar.clone()).unwrap();
            v.set_clock(None);
            v
        };
        let lazy = || {
            let mut v = Vfs::new(image.clone()).unwrap();
            v.set_clock(None);
            v
        };
        let mut all = vec![b"".to_vec()];
        paths(&mut eager(), b"", &mut all);
        assert!(all.len() > 15, "{all:?}");

        // A start makes no node, and a lookup only those it passes (each resolve below
        // makes the directory it names too).
        let fs = lazy();
        assert_eq!(fs.table.made(), 0);
        let mut fs = lazy();
        fs.lookup(ROOT, b"/usr/lib/deep", false).unwrap();
        assert_eq!(fs.table.made(), 4, "the root, usr, lib and deep");
        assert_eq!(fs.table.live(), eager().table.live());

        // A start decodes no listing; a lookup only those of the directories it passes.
        let mut fs = lazy();
        let packed = |fs: &Vfs<_>, p: &[u8]| {
            let ino = fs.table.resolve(ROOT, p, false).unwrap();
            fs.table.dir(ino).unwrap().is_packed()
        };
        assert!(fs.table.dir(ROOT).unwrap().is_packed());
        fs.lookup(ROOT, b"/usr/lib/deep", false).unwrap();
        assert!(!packed(&fs, b"/usr/lib") && packed(&fs, b"/usr/lib/deep"));
        assert!(packed(&fs, b"/etc"));

        // Stat first (link counts come before listings), then listings, one path at a
        // time from a fresh start and all on one.
        let mut e = eager();
        let mut l = lazy();
        for p in &all {
            let want = observe(&mut eager(), p);
            assert_eq!(
                observe(&mut lazy(), p),
                want,
                "{}",
                String::from_utf8_lossy(p)
            );
            assert_eq!(observe(&mut e, p), observe(&mut l, p));
        }

        // Changes made in directories not yet decoded.
        let change = |fs: &mut Vfs<crate::Tar<Vec<u8>>>| {
            let etc = fs.lookup(ROOT, b"/etc", false).unwrap();
            let bin = fs.lookup(ROOT, b"/bin", false).unwrap();
            let usr = fs.lookup(ROOT, b"/usr", false).unwrap();
            let run = fs.lookup(ROOT, b"/run", false).unwrap();
            let opt = fs.lookup(ROOT, b"/opt", false).unwrap();
            fs.create(etc, b"new", 0o644, 0).unwrap();
            fs.remove(bin, b"ash", false).unwrap();
            fs.rename(usr, b"lib", run, b"lib2", 0).unwrap();
            let sh = fs.lookup(ROOT, b"/bin/sh", false).unwrap();
            fs.link(sh, opt, b"sh").unwrap();
            fs.create(opt, b"d", friscy_abi::mode::S_IFDIR | 0o755, 0)
                .unwrap();
            assert_eq!(fs.remove(ROOT, b"etc", true), Err(Errno::ENOTEMPTY));
            let mut all = vec![b"".to_vec()];
            paths(fs, b"", &mut all);
            all.iter().map(|p| observe(fs, p)).collect::<Vec<_>>()
        };
        assert_eq!(change(&mut lazy()), change(&mut eager()));
        // And the writable layer exported against the image's index, lazy or not.
        let (mut a, mut b) = (lazy(), eager());
        change(&mut a);
        change(&mut b);
        assert_eq!(a.export_layer(&[]), b.export_layer(&[]));
    }

    #[test]
    fn an_image_without_a_trailer_has_none() {
        let tar = sample();
        assert_eq!(read(&tar).unwrap().map(|(f, _)| f), None);
        assert_eq!(read(&Vec::<u8>::new()).unwrap().map(|(f, _)| f), None);
    }

    #[test]
    fn every_flipped_byte_of_the_trailer_is_caught() {
        let tar = sample();
        let image = with_trailer(&tar);
        for i in tar.len()..image.len() {
            let mut bad = image.clone();
            bad[i] ^= 0x40;
            let ok = trailer_ok(&bad[tar.len()..], tar.len() as u64);
            assert_eq!(ok, read(&bad).is_ok_and(|t| t.is_some()), "byte {i}");
            // Read or refused; only the padding between blob and footer is not covered
            // by a checksum, and it changes nothing.
            if let Ok(Some((_, t))) = read(&bad) {
                assert_eq!(dump(&t), dump(&read(&image).unwrap().unwrap().1));
            }
        }
    }

    #[test]
    fn malformed_blobs_are_errors_not_panics() {
        let tar = sample();
        let table = crate::index::build(&tar).unwrap();
        let blob = encode(&table, tar.len() as u64);
        // Truncations, and bytes changed behind the checksum's back.
        for cut in 0..blob.len() {
            assert!(
                decode(blob[..cut].to_vec(), tar.len() as u64).is_err(),
                "cut at {cut}"
            );
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut b = blob.clone();
            for _ in 0..3 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let i = (rng % b.len() as u64) as usize;
                b[i] = (rng >> 32) as u8;
            }
            // Read (every listing made, as the guest may ask for any) or refused.
            if let Ok(t) = decode(b, tar.len() as u64) {
                dump(&t);
            }
        }
        // A blob made for another archive.
        assert!(decode(blob.clone(), tar.len() as u64 - 512).is_err());
    }

    #[test]
    fn a_name_twice_or_no_name_fails_its_directory_with_eio() {
        let mut b = tar::Builder::new(Vec::new());
        for path in ["d/aa", "d/bb"] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(1);
            b.append_data(&mut h, path, &b"x"[..]).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let table = crate::index::build(&tar).unwrap();
        let blob = encode(&table, tar.len() as u64);
        assert!(decode(blob.clone(), tar.len() as u64).is_ok());
        // "bb" (a u32 length of 2, then the name) renamed "aa".
        let at = blob
            .windows(6)
            .position(|w| w == b"\x02\0\0\0bb")
            .expect("the entry bb");
        let mut twice = blob.clone();
        twice[at + 4..at + 6].copy_from_slice(b"aa");
        // Only seen once the names are sorted: when the directory is first used, whose
        // listing is then an I/O error (and the rest of the tree as it was).
        let table = decode(twice, tar.len() as u64).expect("read");
        let d = table.child(ROOT, b"d").expect("d");
        assert!(table.dir(d).unwrap().is_packed());
        assert_eq!(table.dir(d).unwrap().listing().err(), Some(Errno::EIO));
        assert_eq!(table.resolve(ROOT, b"/d/aa", true), Err(Errno::EIO));
        assert_eq!(table.readdir(d, 0, 10).err(), Some(Errno::EIO));
        assert_eq!(table.get(d).unwrap().stat(d).nlink, 2);

        // The same for a name that is no name.
        for bad in [&b"b/"[..], b"b\0", b".."] {
            let mut b = blob.clone();
            b[at + 4..at + 6].copy_from_slice(bad);
            let table = decode(b, tar.len() as u64).expect("read");
            let d = table.child(ROOT, b"d").expect("d");
            assert_eq!(table.resolve(ROOT, b"/d/aa", true), Err(Errno::EIO));
            assert_eq!(table.readdir(d, 0, 10).err(), Some(Errno::EIO));
        }
    }
}
