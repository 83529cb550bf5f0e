//! friscy's filesystem: the container's root filesystem served from a tar image (indexed
//! once by its headers, file contents read lazily in chunks) or from a host directory tree
//! (listed once, file contents read lazily), under a writable in-memory overlay, with Linux
//! path resolution and error semantics.
//!
//! `Fs` is the interface the kernel uses; it mirrors `interface fs` in
//! `wit/deps/friscy-vfs/vfs.wit` one to one, so the fused build calls `Vfs` directly and
//! the composed build calls it through the WIT bindings. The kernel owns file descriptors
//! and permission checks; this crate owns inodes, directories, symlinks and file data.
//!
//! Modules: `tar` parses the archive, `index` turns it into inodes, `tree` does the same
//! for a directory tree (and `host_tree` serves one from the host's filesystem), `node` is
//! the inode table (and the overlay), `file` holds copy-on-write file contents, `path`
//! resolves paths, `ops` implements the changes (create, remove, rename, ...).

mod file;
mod index;
mod layer;
mod node;
mod ops;
mod path;
pub mod prebuilt;
mod source;
mod tar;
mod tree;

#[cfg(unix)]
pub mod host_tree;

pub use friscy_abi::Errno;
pub use source::{
    LowerLayer, RootfsImport, RootfsSource, Tar, read_via_words, read_via_words_into, words_from,
};
pub use tar::TarError;
pub use tree::{Tree, TreeEntry, TreeError, TreeSource};

use friscy_abi::mode::{S_IFMT, S_IFREG};
use node::{Body, ROOT, Table};

/// An inode number: stable for the life of the filesystem.
pub type Ino = u64;

/// A point in time (seconds and nanoseconds since the epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: u32,
}

/// stat(2), with Linux's st_mode bits (type and permissions).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Stat {
    pub ino: Ino,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    /// 512-byte units: the size rounded up.
    pub blocks: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

/// One directory entry, as getdents64 reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dirent {
    pub ino: Ino,
    /// d_type (DT_REG, DT_DIR, ...).
    pub kind: u8,
    pub name: Vec<u8>,
    /// The cookie that continues the listing after this entry (d_off).
    pub next: u64,
}

/// Attributes to change; `None` leaves one as it is.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<Timespec>,
    pub mtime: Option<Timespec>,
}

/// How full the writable layer is (statfs(2), and the `FRISCY_DISK` limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Usage {
    /// Bytes the writable layer may hold, and holds.
    pub capacity: u64,
    pub used: u64,
    /// Inodes that may be created, and were (beyond the image's own).
    pub inodes: u64,
    pub inodes_used: u64,
}

/// The filesystem the kernel uses (mirrors `interface fs` in vfs.wit one to one). Paths
/// and names are bytes. No permission checks are made here.
pub trait Fs {
    /// The root directory's inode.
    fn root(&self) -> Ino;
    /// Resolve `path` from directory `start` (ignored for absolute paths). Symlinks are
    /// followed, the final one only if `follow` (or if the path ends in '/').
    fn lookup(&mut self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno>;
    /// Resolve all but the last component: the parent directory and the final name
    /// (trailing slashes stripped; "." and ".." as they are; "/" alone gives (root, "/")).
    fn lookup_parent(&mut self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno>;
    /// The absolute path of a directory (getcwd); ENOENT once it was removed.
    fn path(&mut self, dir: Ino) -> Result<Vec<u8>, Errno>;
    fn stat(&mut self, node: Ino) -> Result<Stat, Errno>;
    /// Up to `len` bytes at `offset` of a regular file (EISDIR for a directory, EINVAL
    /// for other types, which the kernel serves itself).
    fn read(&mut self, node: Ino, offset: u64, len: u32) -> Result<Vec<u8>, Errno>;
    /// `read` into the front of `buf`: how many bytes there were (fewer than `buf.len()`
    /// only at the end of the file). For callers with a buffer of their own (the kernel's
    /// page cache), so no buffer is allocated per read.
    fn read_into(&mut self, node: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let len = buf.len().min(u32::MAX as usize) as u32;
        let got = self.read(node, offset, len)?;
        let n = got.len().min(buf.len());
        buf[..n].copy_from_slice(&got[..n]);
        Ok(n)
    }
    fn write(&mut self, node: Ino, offset: u64, data: &[u8]) -> Result<u32, Errno>;
    /// Entries after `cookie` (0 starts; "." and ".." included), at most `max` of them.
    fn readdir(&mut self, dir: Ino, cookie: u64, max: u32) -> Result<Vec<Dirent>, Errno>;
    fn readlink(&mut self, node: Ino) -> Result<Vec<u8>, Errno>;
    /// Create a node of the type in `mode`'s S_IFMT bits (0 means a regular file).
    fn create(&mut self, parent: Ino, name: &[u8], mode: u32, rdev: u64) -> Result<Ino, Errno>;
    /// A regular file with no name (nlink 0): memfd_create(2)'s memory-backed file. It
    /// lives as long as the kernel holds it, like any unlinked file that is still open.
    fn create_unlinked(&mut self, mode: u32) -> Result<Ino, Errno>;
    fn symlink(&mut self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Ino, Errno>;
    fn link(&mut self, node: Ino, parent: Ino, name: &[u8]) -> Result<(), Errno>;
    /// unlink(2), or rmdir(2) when `dir` is true.
    fn remove(&mut self, parent: Ino, name: &[u8], dir: bool) -> Result<(), Errno>;
    /// renameat2(2); `flags` are RENAME_NOREPLACE (1) and RENAME_EXCHANGE (2).
    fn rename(
        &mut self,
        old_parent: Ino,
        old_name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno>;
    fn set_attr(&mut self, node: Ino, attr: &SetAttr) -> Result<(), Errno>;
    /// A number that changes whenever the tree changes (so a host knows when the writable
    /// layer needs saving again). Constant for filesystems without a writable layer.
    fn generation(&self) -> u64 {
        0
    }
    /// The writable layer (everything changed since the image was indexed) as an OCI
    /// layer tar, leaving out the absolute paths in `exclude` and what lies below them
    /// (see layer.rs). ENOSYS where there is no such layer.
    fn export_layer(&mut self, exclude: &[Vec<u8>]) -> Result<Vec<u8>, Errno> {
        let _ = exclude;
        Err(Errno::ENOSYS)
    }
    /// Bound the writable layer to `bytes` of written data and `bytes / 4096` new inodes
    /// (as tmpfs's size= bounds both); past it, writes and creates fail with ENOSPC.
    fn set_capacity(&mut self, bytes: u64);
    /// How full the writable layer is.
    fn usage(&mut self) -> Usage;
    /// Free the storage of every unlinked node that is not in `open` (the inodes open
    /// descriptors and mappings still use); returns the bytes freed. The kernel calls it
    /// when space runs out, since it alone knows what is still open.
    fn reclaim(&mut self, open: &[Ino]) -> u64;
}

/// The wall clock used for timestamps (std's; WASI's wall clock in a component).
pub fn system_clock() -> Timespec {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Timespec {
            sec: d.as_secs() as i64,
            nsec: d.subsec_nanos(),
        },
        Err(_) => Timespec::default(),
    }
}

/// The writable layer's size when nobody sets one: effectively unbounded (the kernel
/// always sets `FRISCY_DISK`'s value).
const UNBOUNDED: u64 = u64::MAX / 2;

/// The reserve's size: more than the largest argument a call brings (the kernel moves
/// file data in 1 MiB pieces) and the small allocations that go with it.
const RESERVE: usize = 4 << 20;

/// A filesystem over a lower layer: a tar image (`Vfs<Tar<R>>`, from `Vfs::new`) or a
/// directory tree (`Vfs<Tree<T>>`, from `Vfs::from_tree`).
pub struct Vfs<L> {
    lower: L,
    table: Table,
    /// The table as indexed from the image, which the writable layer is the diff against:
    /// kept for a directory tree (which may change under us), made again from the image
    /// when a layer is exported for a tar (cloning the table at every start cost a fifth
    /// of indexing Debian's image, for a diff most runs never take).
    base: Base<L>,
    /// Bumped by every change (`Fs::generation`).
    generation: u64,
    clock: Option<fn() -> Timespec>,
    /// Pages of written data, and how many there may be.
    budget: file::Budget,
    /// Nodes the image itself holds (the inode limit counts the ones beyond them).
    image_inodes: u64,
    inode_capacity: u64,
    /// Memory set aside at the start and given back the first time the host refuses a
    /// page: what comes next still needs memory (in a component, the canonical ABI
    /// allocates each call's arguments, a write's data included, and cannot fail
    /// gracefully), so the layer stops growing while there is still some left.
    reserve: Option<Vec<u8>>,
}

/// Where `Vfs::base` comes from.
enum Base<L> {
    Kept(Table),
    /// Index the (unchanging) image again: the same inode numbers as at the start.
    Rebuild(fn(&L) -> Result<Table, TarError>),
}

impl<L> Vfs<L> {
    /// A filesystem over `lower`, indexed as `table`.
    fn over(lower: L, table: Table, base: Base<L>) -> Self {
        Vfs {
            lower,
            base,
            image_inodes: table.live(),
            table,
            generation: 0,
            clock: Some(system_clock),
            budget: file::Budget {
                used: 0,
                capacity: UNBOUNDED,
                host_refused: false,
            },
            inode_capacity: UNBOUNDED,
            // A component's linear memory grows for it now. Capacity, not zeros: zeroing
            // would touch (and so commit) 4 MiB of host memory at every start for nothing.
            reserve: Some(Vec::with_capacity(RESERVE)),
        }
    }
}

impl<R: RootfsSource> Vfs<Tar<R>> {
    /// Index the image (its headers only) into a filesystem.
    /// An image that carries a prebuilt index (`prebuilt`) is not parsed at all; one whose
    /// index is damaged or of another version is indexed from its tar, with a warning.
    pub fn new(source: R) -> Result<Self, TarError> {
        let table = Self::index(&source, true)?;
        let rebuild = |lower: &Tar<R>| Self::index(&lower.src, false);
        Ok(Vfs::over(Tar::new(source), table, Base::Rebuild(rebuild)))
    }

    fn index(source: &R, warn: bool) -> Result<Table, TarError> {
        match prebuilt::read(source) {
            Ok(Some((_, table))) => Ok(table),
            Ok(None) => index::build(source),
            Err((footer, e)) => {
                if warn {
                    eprintln!("friscy: {e}; indexing the tar instead");
                }
                let tar = prebuilt::TarPart {
                    src: source,
                    len: footer.tar_len,
                };
                index::build(&tar)
            }
        }
    }

    /// The image this filesystem reads from.
    pub fn source(&self) -> &R {
        &self.lower.src
    }
}

impl<T: TreeSource> Vfs<Tree<T>> {
    /// List the tree (every directory, once) into a filesystem. File contents are read
    /// from the tree when the guest reads them, and never written back.
    pub fn from_tree(source: T) -> Result<Self, TreeError> {
        let table = tree::build(&source)?;
        let base = Base::Kept(table.clone());
        Ok(Vfs::over(Tree::new(source), table, base))
    }

    /// The tree this filesystem reads from.
    pub fn source(&self) -> &T {
        &self.lower.src
    }
}

impl<L> Vfs<L> {
    /// Apply a layer tar (as `export_layer` writes them: a writable layer saved by an
    /// earlier run) over the tree. Its files are copied in, so they belong to the writable
    /// layer from now on and a later export writes them again.
    pub fn apply_layer<S: RootfsSource>(&mut self, layer: &S) -> Result<(), TarError> {
        self.generation += 1;
        let r = layer::apply(&mut self.table, layer);
        // Its files' pages are the writable layer's now.
        self.budget.used = self.table.written_pages();
        r
    }

    /// Set the clock for mtime/ctime updates (`None`: times never change after indexing,
    /// and new nodes get time 0). The default is `system_clock`. atime is only changed by
    /// `set_attr` (as with the noatime mount option).
    pub fn set_clock(&mut self, clock: Option<fn() -> Timespec>) {
        self.clock = clock;
    }

    /// Free an inode that has no names left (unlinked, or a removed directory) once the
    /// kernel holds no open file on it. Not part of the WIT interface; without it an
    /// unlinked file's data stays in memory. Its number is never reused.
    pub fn forget(&mut self, node: Ino) {
        let unlinked = match self.table.get(node) {
            Ok(n) => match &n.body {
                Body::Dir(d) => d.removed && d.listing().is_ok_and(|l| l.entries.is_empty()),
                _ => n.nlink == 0,
            },
            Err(_) => false,
        };
        if unlinked {
            let pages = self.table.release(node);
            self.budget.used = self.budget.used.saturating_sub(pages);
        }
    }

    fn now(&self) -> Option<Timespec> {
        self.clock.map(|c| c())
    }

    /// ENOSPC once the writable layer has created as many inodes as it may.
    fn inode_room(&self) -> Result<(), Errno> {
        let used = self.table.live().saturating_sub(self.image_inodes);
        if used >= self.inode_capacity {
            return Err(Errno::ENOSPC);
        }
        Ok(())
    }
}

impl<L: LowerLayer> Fs for Vfs<L> {
    fn root(&self) -> Ino {
        ROOT
    }

    fn lookup(&mut self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
        self.table.resolve(start, path, follow)
    }

    fn lookup_parent(&mut self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
        self.table.resolve_parent(start, path)
    }

    fn path(&mut self, dir: Ino) -> Result<Vec<u8>, Errno> {
        self.table.path_of(dir)
    }

    fn stat(&mut self, node: Ino) -> Result<Stat, Errno> {
        Ok(self.table.get(node)?.stat(node))
    }

    fn read(&mut self, node: Ino, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        match &self.table.get(node)?.body {
            Body::File(f) => f.read(&mut self.lower, offset, len),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn read_into(&mut self, node: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match &self.table.get(node)?.body {
            Body::File(f) => f.read_into(&mut self.lower, offset, buf),
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn write(&mut self, node: Ino, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let now = self.now();
        self.generation += 1;
        let n = self.table.get_mut(node)?;
        let Body::File(f) = &mut n.body else {
            return Err(if n.is_dir() {
                Errno::EISDIR
            } else {
                Errno::EINVAL
            });
        };
        // The result is a u32 count: never take more than fits.
        let data = &data[..data.len().min(u32::MAX as usize)];
        if offset
            .checked_add(data.len() as u64)
            .is_none_or(|end| end > file::MAX_SIZE)
        {
            return Err(Errno::EFBIG);
        }
        if data.is_empty() {
            return Ok(0);
        }
        // As much as fits: a short count, then ENOSPC (write(2) on a full filesystem).
        let done = f.write(&mut self.lower, offset, data, &mut self.budget)?;
        if std::mem::take(&mut self.budget.host_refused) {
            // The host has no more memory for us: the layer is full from now on, and the
            // reserve goes back for what must still be allocated.
            self.budget.capacity = self.budget.used;
            self.reserve = None;
        }
        if done == 0 {
            return Err(Errno::ENOSPC);
        }
        if let Some(t) = now {
            n.mtime = t;
            n.ctime = t;
        }
        Ok(done as u32)
    }

    fn readdir(&mut self, dir: Ino, cookie: u64, max: u32) -> Result<Vec<Dirent>, Errno> {
        self.table.readdir(dir, cookie, max)
    }

    fn readlink(&mut self, node: Ino) -> Result<Vec<u8>, Errno> {
        match &self.table.get(node)?.body {
            Body::Symlink(t) => Ok(t.clone()),
            // readlink(2): EINVAL if the file is not a symbolic link.
            _ => Err(Errno::EINVAL),
        }
    }

    fn create(&mut self, parent: Ino, name: &[u8], mode: u32, rdev: u64) -> Result<Ino, Errno> {
        self.inode_room()?;
        let now = self.now();
        self.generation += 1;
        self.table.create(parent, name, mode, rdev, now)
    }

    fn create_unlinked(&mut self, mode: u32) -> Result<Ino, Errno> {
        let now = self.now().unwrap_or_default();
        self.generation += 1;
        let node = node::Node::new(
            S_IFREG | (mode & 0o7777),
            Body::File(file::FileData::default()),
            now,
        );
        Ok(self.table.alloc(node))
    }

    fn symlink(&mut self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Ino, Errno> {
        self.inode_room()?;
        let now = self.now();
        self.generation += 1;
        self.table.symlink(parent, name, target, now)
    }

    fn link(&mut self, node: Ino, parent: Ino, name: &[u8]) -> Result<(), Errno> {
        let now = self.now();
        self.generation += 1;
        self.table.link(node, parent, name, now)
    }

    fn remove(&mut self, parent: Ino, name: &[u8], dir: bool) -> Result<(), Errno> {
        let now = self.now();
        self.generation += 1;
        self.table.remove(parent, name, dir, now)
    }

    fn rename(
        &mut self,
        old_parent: Ino,
        old_name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        let now = self.now();
        self.generation += 1;
        self.table
            .rename(old_parent, old_name, new_parent, new_name, flags, now)
    }

    fn set_attr(&mut self, node: Ino, attr: &SetAttr) -> Result<(), Errno> {
        let now = self.now();
        self.generation += 1;
        let n = self.table.get_mut(node)?;
        if let Some(size) = attr.size {
            // truncate(2): EISDIR for a directory, EINVAL for other non-regular files,
            // EFBIG past the largest file size.
            match &mut n.body {
                Body::File(_) if size > file::MAX_SIZE => return Err(Errno::EFBIG),
                Body::File(f) => {
                    if size != f.size() {
                        let freed = f.truncate(size);
                        self.budget.used = self.budget.used.saturating_sub(freed);
                    }
                    // Linux's do_truncate() always asks for new mtime and ctime, whether
                    // or not the size changes.
                    if let Some(t) = now {
                        n.mtime = t;
                    }
                }
                Body::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        if let Some(mode) = attr.mode {
            n.mode = (n.mode & S_IFMT) | (mode & 0o7777);
        }
        if let Some(uid) = attr.uid {
            n.uid = uid;
        }
        if let Some(gid) = attr.gid {
            n.gid = gid;
        }
        if let Some(t) = attr.atime {
            n.atime = t;
        }
        if let Some(t) = attr.mtime {
            n.mtime = t;
        }
        if let Some(t) = now {
            n.ctime = t;
        }
        Ok(())
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    fn export_layer(&mut self, exclude: &[Vec<u8>]) -> Result<Vec<u8>, Errno> {
        Ok(self.export(exclude))
    }

    fn set_capacity(&mut self, bytes: u64) {
        let pages = bytes / file::PAGE as u64;
        self.budget.capacity = pages;
        self.inode_capacity = pages;
    }

    fn usage(&mut self) -> Usage {
        let page = file::PAGE as u64;
        Usage {
            capacity: self.budget.capacity.saturating_mul(page),
            used: self.budget.used * page,
            inodes: self.inode_capacity,
            inodes_used: self.table.live().saturating_sub(self.image_inodes),
        }
    }

    fn reclaim(&mut self, open: &[Ino]) -> u64 {
        let open: std::collections::HashSet<Ino> = open.iter().copied().collect();
        let doomed: Vec<Ino> = self
            .table
            .orphans()
            .filter(|(ino, _)| !open.contains(ino))
            .map(|(ino, _)| ino)
            .collect();
        if !doomed.is_empty() {
            self.generation += 1;
        }
        let mut freed = 0;
        for ino in doomed {
            let pages = self.table.release(ino);
            self.budget.used = self.budget.used.saturating_sub(pages);
            freed += pages * file::PAGE as u64;
        }
        freed
    }
}

impl<L: LowerLayer> Vfs<L> {
    fn export(&mut self, exclude: &[Vec<u8>]) -> Vec<u8> {
        let rebuilt;
        let base = match &self.base {
            Base::Kept(t) => t,
            Base::Rebuild(index) => {
                // The image indexed at the start cannot fail to index now (it is the same
                // bytes); were it to, every file would count as new, which loses nothing.
                rebuilt = index(&self.lower).unwrap_or_else(|_| Table::new());
                &rebuilt
            }
        };
        layer::export(base, &self.table, &mut self.lower, exclude)
    }
}

// The WIT layer, compiled only for the component build.
#[cfg(feature = "component")]
mod bindings;
