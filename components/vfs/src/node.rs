//! The inode table: every file, directory, symlink and device node, whether it came from
//! the image or was created since, with directories as ordered name -> inode maps.
//!
//! The overlay is kept at this level: the image's directory tree is indexed into the table
//! once (headers only), and from then on the table *is* the merged view, so a removed
//! lower entry is simply gone (a whiteout), and a directory removed and created again is a
//! new, empty inode (opaque). File contents stay in the image until written (`file.rs`).
//! Inode numbers are table indices, never reused, and so stable across copy-up.

use crate::file::FileData;
use crate::prebuilt::{self, Packed, Unmade};
use crate::{Ino, Stat, Timespec};
use friscy_abi::Errno;
use friscy_abi::mode::S_IFDIR;
use std::cell::OnceCell;
use std::collections::BTreeMap;

/// The root directory's inode number.
pub(crate) const ROOT: Ino = 1;

/// A directory: where it hangs in the tree, and its entries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dir {
    /// The parent directory (the root is its own parent).
    pub parent: Ino,
    /// This directory's name in its parent (for `path`).
    pub name: Vec<u8>,
    /// The entries, made when first used: from the prebuilt index's record when `packed`
    /// names one (a start decodes only the directories it looks into), else empty.
    listing: OnceCell<Listing>,
    packed: Option<Packed>,
    /// How many entries are directories (for nlink; known before the listing is made).
    pub subdirs: u32,
    /// Removed by rmdir (or replaced by rename) while something may still refer to it.
    pub removed: bool,
}

/// A directory's entries, each with a sequence number that orders the listing and makes
/// readdir cookies stable while entries are added and removed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Listing {
    pub entries: BTreeMap<Vec<u8>, (u64, Ino)>,
    pub order: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
}

impl Listing {
    /// A listing of these entries in this order, built in bulk from the sorted entries
    /// rather than by one insertion each. Fails on a name that appears twice.
    pub(crate) fn from_names(names: Vec<(Vec<u8>, Ino)>) -> Result<Listing, ()> {
        let order: BTreeMap<u64, Vec<u8>> = (0..)
            .zip(names.iter().map(|(name, _)| name.clone()))
            .collect();
        // Sorted by name with their sequence numbers: a name twice is then two neighbours.
        let mut by_name: Vec<(Vec<u8>, (u64, Ino))> = (0..)
            .zip(names)
            .map(|(seq, (name, ino))| (name, (seq, ino)))
            .collect();
        by_name.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if by_name.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(());
        }
        Ok(Listing {
            next_seq: by_name.len() as u64,
            // Already sorted and distinct: `from_iter` builds the tree in one pass.
            entries: by_name.into_iter().collect(),
            order,
        })
    }
}

impl Dir {
    /// The entries, decoded from the prebuilt index the first time: EIO if its record
    /// turns out damaged (prebuilt.rs checked all it could without decoding it).
    pub(crate) fn listing(&self) -> Result<&Listing, Errno> {
        if let Some(l) = self.listing.get() {
            return Ok(l);
        }
        let l = match &self.packed {
            Some(p) => prebuilt::unpack(p)?,
            None => Listing::default(),
        };
        Ok(self.listing.get_or_init(|| l))
    }

    pub(crate) fn listing_mut(&mut self) -> Result<&mut Listing, Errno> {
        self.listing()?;
        self.packed = None;
        self.listing.get_mut().ok_or(Errno::EIO)
    }

    /// Its entries as a prebuilt index's record, decoded when first used; `subdirs` of
    /// them are directories.
    pub(crate) fn set_packed(&mut self, packed: Packed, subdirs: u32) {
        self.listing = OnceCell::new();
        self.packed = Some(packed);
        self.subdirs = subdirs;
    }

    /// Whether the listing is still only a record in the prebuilt index (for tests).
    #[cfg(test)]
    pub(crate) fn is_packed(&self) -> bool {
        self.listing.get().is_none() && self.packed.is_some()
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    File(FileData),
    Dir(Dir),
    Symlink(Vec<u8>),
    /// Character and block devices, FIFOs and sockets: only metadata here.
    Special,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// st_mode: type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    /// Link count of a non-directory (a directory's is computed).
    pub nlink: u32,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
    pub body: Body,
}

impl Node {
    pub(crate) fn new(mode: u32, body: Body, time: Timespec) -> Node {
        Node {
            mode,
            uid: 0,
            gid: 0,
            rdev: 0,
            nlink: 0,
            atime: time,
            mtime: time,
            ctime: time,
            body,
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    pub(crate) fn stat(&self, ino: Ino) -> Stat {
        let (size, nlink) = match &self.body {
            Body::File(f) => (f.size(), self.nlink),
            Body::Dir(d) => (4096, if d.removed { 0 } else { 2 + d.subdirs }),
            Body::Symlink(t) => (t.len() as u64, self.nlink),
            Body::Special => (0, self.nlink),
        };
        Stat {
            ino,
            mode: self.mode,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: self.rdev,
            size,
            blocks: size.div_ceil(512),
            atime: self.atime,
            mtime: self.mtime,
            ctime: self.ctime,
        }
    }
}

/// All inodes, indexed by number (0 is never used).
#[derive(Clone)]
pub(crate) struct Table {
    /// The nodes made, by number. An empty cell is a free number, or a node of the
    /// prebuilt index not made yet (`unmade`), which the first look makes.
    nodes: Vec<OnceCell<Box<Node>>>,
    unmade: Option<Unmade>,
    /// Nodes allocated and not released (for the inode limit).
    live: u64,
}

impl Table {
    /// A table holding only an empty root directory.
    pub(crate) fn new() -> Table {
        let root = Dir {
            parent: ROOT,
            ..Dir::default()
        };
        let root = Node::new(S_IFDIR | 0o755, Body::Dir(root), Timespec::default());
        Table {
            nodes: vec![OnceCell::new(), OnceCell::from(Box::new(root))],
            unmade: None,
            live: 1,
        }
    }

    /// A table of `slots` numbers whose `live` nodes are all still records of a prebuilt
    /// index (checked: the root is a directory); None if memory cannot hold the numbers.
    pub(crate) fn unmade(slots: usize, unmade: Unmade, live: u64) -> Option<Table> {
        // Room for the nodes every start adds (/dev's, /tmp's files) before the vector
        // moves.
        let mut nodes = Vec::new();
        nodes
            .try_reserve_exact(slots.checked_add(slots / 16 + 64)?)
            .ok()?;
        nodes.resize_with(slots, OnceCell::new);
        Some(Table {
            nodes,
            unmade: Some(unmade),
            live,
        })
    }

    /// How many nodes have been made (for tests: the rest are records).
    #[cfg(test)]
    pub(crate) fn made(&self) -> usize {
        self.nodes.iter().filter(|n| n.get().is_some()).count()
    }

    /// How many inode numbers have been handed out, plus one (0 is never used).
    pub(crate) fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// The node, ENOENT for a number that was never allocated or was released.
    pub(crate) fn get(&self, ino: Ino) -> Result<&Node, Errno> {
        let cell = usize::try_from(ino)
            .ok()
            .and_then(|i| self.nodes.get(i))
            .ok_or(Errno::ENOENT)?;
        if let Some(n) = cell.get() {
            return Ok(n);
        }
        let n = self
            .unmade
            .as_ref()
            .and_then(|u| u.peek(ino))
            .ok_or(Errno::ENOENT)?;
        Ok(cell.get_or_init(|| Box::new(n)))
    }

    pub(crate) fn get_mut(&mut self, ino: Ino) -> Result<&mut Node, Errno> {
        let i = usize::try_from(ino)
            .ok()
            .filter(|&i| i < self.nodes.len())
            .ok_or(Errno::ENOENT)?;
        if self.nodes[i].get().is_none()
            && let Some(n) = self.unmade.as_mut().and_then(|u| u.make(ino))
        {
            let _ = self.nodes[i].set(Box::new(n));
        }
        self.nodes[i]
            .get_mut()
            .map(|n| &mut **n)
            .ok_or(Errno::ENOENT)
    }

    /// The directory, ENOTDIR if `ino` is something else.
    pub(crate) fn dir(&self, ino: Ino) -> Result<&Dir, Errno> {
        match &self.get(ino)?.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub(crate) fn dir_mut(&mut self, ino: Ino) -> Result<&mut Dir, Errno> {
        match &mut self.get_mut(ino)?.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// A directory that can take new entries: ENOENT once it has been removed.
    pub(crate) fn live_dir(&self, ino: Ino) -> Result<&Dir, Errno> {
        let d = self.dir(ino)?;
        if d.removed { Err(Errno::ENOENT) } else { Ok(d) }
    }

    pub(crate) fn child(&self, dir: Ino, name: &[u8]) -> Option<Ino> {
        let l = self.dir(dir).ok()?.listing().ok()?;
        l.entries.get(name).map(|&(_, ino)| ino)
    }

    pub(crate) fn alloc(&mut self, node: Node) -> Ino {
        self.nodes.push(OnceCell::from(Box::new(node)));
        self.live += 1;
        (self.nodes.len() - 1) as Ino
    }

    /// How many nodes exist.
    pub(crate) fn live(&self) -> u64 {
        self.live
    }

    /// Pages of written data in all files (the writable layer's size, counted afresh).
    /// Nodes not made yet are the image's as it was: none.
    pub(crate) fn written_pages(&self) -> u64 {
        self.nodes
            .iter()
            .filter_map(OnceCell::get)
            .map(|n| match &n.body {
                Body::File(f) => f.pages(),
                _ => 0,
            })
            .sum()
    }

    /// Every node that has lost its last name but not its storage (unlinked files, which
    /// open descriptors may still use), with the pages its data holds. Nodes not made yet
    /// all have their names.
    pub(crate) fn orphans(&self) -> impl Iterator<Item = (Ino, u64)> + '_ {
        self.nodes.iter().enumerate().filter_map(|(i, n)| {
            let n = n.get()?;
            match &n.body {
                Body::File(f) if n.nlink == 0 => Some((i as Ino, f.pages())),
                Body::Symlink(_) | Body::Special if n.nlink == 0 => Some((i as Ino, 0)),
                _ => None,
            }
        })
    }

    /// Drop an inode's storage for good (it must have no names left). Returns the pages
    /// of written data it held.
    pub(crate) fn release(&mut self, ino: Ino) -> u64 {
        if ino == ROOT {
            return 0;
        }
        let Some(slot) = usize::try_from(ino)
            .ok()
            .and_then(|i| self.nodes.get_mut(i))
        else {
            return 0;
        };
        let made = slot.take();
        let unmade = self.unmade.as_mut().is_some_and(|u| u.forget(ino));
        if made.is_some() || unmade {
            self.live -= 1;
        }
        match made.as_deref() {
            Some(Node {
                body: Body::File(f),
                ..
            }) => f.pages(),
            _ => 0,
        }
    }

    /// Add the name `name` -> `ino` to `parent` (which must not have it already): the
    /// child's link count (or, for a directory, its parent link) follows.
    pub(crate) fn attach(&mut self, parent: Ino, name: &[u8], ino: Ino) {
        let Some(is_dir) = self.link_child(parent, name, ino) else {
            return;
        };
        if let Ok(p) = self.dir_mut(parent)
            && let Ok(l) = p.listing_mut()
        {
            let seq = l.next_seq;
            l.next_seq += 1;
            l.entries.insert(name.to_vec(), (seq, ino));
            l.order.insert(seq, name.to_vec());
            if is_dir {
                p.subdirs += 1;
            }
        }
    }

    /// The child's side of a new name `name` in `parent`: a directory's parent and name,
    /// or another link. Whether it is a directory; None if `ino` is no node.
    pub(crate) fn link_child(&mut self, parent: Ino, name: &[u8], ino: Ino) -> Option<bool> {
        let n = self.get_mut(ino).ok()?;
        Some(match &mut n.body {
            Body::Dir(d) => {
                d.parent = parent;
                d.name = name.to_vec();
                d.removed = false;
                true
            }
            _ => {
                n.nlink += 1;
                false
            }
        })
    }

    /// Remove the name from `parent` and drop the link it held. A directory is not marked
    /// removed here (rename moves it); the caller does that for rmdir.
    pub(crate) fn detach(&mut self, parent: Ino, name: &[u8]) -> Option<Ino> {
        let l = self.dir_mut(parent).ok()?.listing_mut().ok()?;
        let (seq, ino) = l.entries.remove(name)?;
        l.order.remove(&seq);
        let node = self.get_mut(ino).ok()?;
        if node.is_dir() {
            if let Ok(p) = self.dir_mut(parent) {
                p.subdirs -= 1;
            }
        } else {
            node.nlink = node.nlink.saturating_sub(1);
        }
        Some(ino)
    }

    /// Mark a detached directory (and everything in it) as gone.
    pub(crate) fn mark_removed(&mut self, ino: Ino) {
        if let Ok(d) = self.dir_mut(ino) {
            d.removed = true;
        }
    }

    /// Drop a subtree that no longer has a name (an image entry replaced by a later one).
    pub(crate) fn drop_tree(&mut self, ino: Ino) {
        let listing = self.dir(ino).and_then(|d| d.listing());
        let children: Vec<Ino> = match listing {
            Ok(l) => l.entries.values().map(|&(_, c)| c).collect(),
            Err(_) => Vec::new(),
        };
        let names: Vec<Vec<u8>> = listing
            .map(|l| l.entries.keys().cloned().collect())
            .unwrap_or_default();
        for name in names {
            self.detach(ino, &name);
        }
        for c in children {
            let gone = self
                .get(c)
                .map(|n| n.is_dir() || n.nlink == 0)
                .unwrap_or(false);
            if gone {
                self.drop_tree(c);
            }
        }
        self.release(ino);
    }

    /// True if `ino` is `anc` or lies below it.
    pub(crate) fn is_within(&self, mut ino: Ino, anc: Ino) -> bool {
        loop {
            if ino == anc {
                return true;
            }
            match self.dir(ino) {
                Ok(d) if ino != ROOT && !d.removed => ino = d.parent,
                _ => return false,
            }
        }
    }
}
