//! inotify(7): filesystem events read from a descriptor (tail -f, Node's fs.watch and the
//! dev servers built on it, Python's watchdog, inotifywait).
//!
//! Every change to the container's filesystem passes through the kernel, so events are
//! made where the changes are made: [`Notifying`] wraps the kernel's `Fs` and reports
//! what each call changed (a name created, removed or moved in a directory; a file
//! written, truncated or given new attributes), and the descriptor layer reports opens,
//! reads and last closes of files (fd.rs, syscalls/fs.rs). The [`Registry`] finds the
//! watches an event concerns: those on the inode itself, and, for events a directory
//! also reports about its entries, those on each directory that holds it under a name.
//! Linux finds the parent through the dentry the file was reached by; here the registry
//! keeps, for the entries of watched directories only, which directory holds an inode
//! under which name (read when the watch is added, kept up to date by the wrapper's
//! creates, removes and renames).
//!
//! With no watch anywhere, the wrapper costs a flag test per call.
//!
//! Differences from Linux: changes made on the host to a `-v` mount are not seen (as
//! with any network filesystem); IN_DELETE_SELF comes when the last name goes, not when
//! the last descriptor of the file closes; IN_EXCL_UNLINK is accepted and ignored.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFDIR, S_IFMT};
use friscy_vfs::{Dirent, Fs, Ino, SetAttr, Stat, Usage};

// Event bits (include/uapi/linux/inotify.h).
pub const IN_ACCESS: u32 = 0x1;
pub const IN_MODIFY: u32 = 0x2;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_CLOSE_WRITE: u32 = 0x8;
pub const IN_CLOSE_NOWRITE: u32 = 0x10;
pub const IN_OPEN: u32 = 0x20;
pub const IN_MOVED_FROM: u32 = 0x40;
pub const IN_MOVED_TO: u32 = 0x80;
pub const IN_CREATE: u32 = 0x100;
pub const IN_DELETE: u32 = 0x200;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;
pub const IN_ALL_EVENTS: u32 = 0xfff;
pub const IN_Q_OVERFLOW: u32 = 0x4000;
pub const IN_IGNORED: u32 = 0x8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;

/// Events a directory's watch also reports about its entries (with the entry's name).
const CHILD_EVENTS: u32 =
    IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN;

/// /proc/sys/fs/inotify/max_queued_events, max_user_instances, max_user_watches (the
/// values of a Debian kernel with a few GiB of memory).
pub const MAX_QUEUED_EVENTS: usize = 16384;
pub const MAX_USER_INSTANCES: usize = 128;
pub const MAX_USER_WATCHES: usize = 65536;

/// `struct inotify_event`'s fixed part: wd, mask, cookie, len.
const EVENT_HEADER: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// The name is NUL-terminated and padded to a multiple of the header's size.
    fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).next_multiple_of(EVENT_HEADER)
        }
    }

    fn size(&self) -> usize {
        EVENT_HEADER + self.name_len()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(self.wd.to_le_bytes());
        out.extend(self.mask.to_le_bytes());
        out.extend(self.cookie.to_le_bytes());
        out.extend((self.name_len() as u32).to_le_bytes());
        let start = out.len();
        out.extend(&self.name);
        out.resize(start + self.name_len(), 0);
    }
}

/// One inotify descriptor: its watches and its queue of events.
#[derive(Debug)]
pub struct Instance {
    queue: VecDeque<Event>,
    /// wd -> (inode, mask as given, without the flag bits that only add_watch reads).
    watches: HashMap<i32, (Ino, u32)>,
    next_wd: i32,
    /// The registry, so that closing the descriptor takes its watches out.
    registry: Weak<RefCell<Registry>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // (Busy only if the registry itself dropped the last reference; its next
        // delivery to these watches prunes them then.)
        if let Some(reg) = self.registry.upgrade()
            && let Ok(mut reg) = reg.try_borrow_mut()
        {
            for &(ino, _) in self.watches.values() {
                reg.prune(ino);
            }
            reg.watches -= self.watches.len().min(reg.watches);
        }
    }
}

impl Instance {
    /// Bytes a read could return now (FIONREAD).
    pub fn pending_bytes(&self) -> u64 {
        self.queue.iter().map(|e| e.size() as u64).sum()
    }

    pub fn readable(&self) -> bool {
        !self.queue.is_empty()
    }

    /// read(2): whole events, as many as fit in `len` (EINVAL if not even the first
    /// does; EAGAIN with none queued, before anything is taken).
    pub fn read(&mut self, len: usize) -> Result<Vec<u8>, Errno> {
        let first = self.queue.front().ok_or(Errno::EAGAIN)?;
        if first.size() > len {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::new();
        while let Some(e) = self.queue.front() {
            if out.len() + e.size() > len {
                break;
            }
            e.encode(&mut out);
            self.queue.pop_front();
        }
        Ok(out)
    }

    /// Queue an event: one identical to the last queued is merged with it, and past
    /// max_queued_events a single IN_Q_OVERFLOW stands for the rest (fs/notify).
    fn push(&mut self, e: Event) {
        if self.queue.back() == Some(&e) {
            return;
        }
        if self.queue.len() >= MAX_QUEUED_EVENTS {
            let overflow = Event {
                wd: -1,
                mask: IN_Q_OVERFLOW,
                cookie: 0,
                name: Vec::new(),
            };
            if self.queue.back() != Some(&overflow) {
                self.queue.push_back(overflow);
            }
            return;
        }
        self.queue.push_back(e);
    }
}

pub type InstanceRef = Rc<RefCell<Instance>>;

/// A watch as the registry finds it: its instance and descriptor.
type Watch = (Weak<RefCell<Instance>>, i32);

/// Every watch of the container, by inode, and where the entries of watched directories
/// live (the module's comment).
#[derive(Debug, Default)]
pub struct Registry {
    /// inode -> (instance, wd) of each watch on it.
    by_ino: HashMap<Ino, Vec<Watch>>,
    /// An entry of a watched directory -> (directory, name) for each such name.
    names: HashMap<Ino, Vec<(Ino, Vec<u8>)>>,
    /// A watched directory -> the entries `names` holds for it.
    children: HashMap<Ino, Vec<Ino>>,
    /// Live instances (max_user_instances) and watches (max_user_watches).
    instances: Vec<Weak<RefCell<Instance>>>,
    watches: usize,
    cookie: u32,
    /// Whether any watch exists: the wrapper's one test on its fast path.
    active: Rc<Cell<bool>>,
}

pub type RegistryRef = Rc<RefCell<Registry>>;

impl Registry {
    pub fn is_active(&self) -> bool {
        self.active.get()
    }

    /// A new instance (inotify_init1): EMFILE past max_user_instances.
    pub fn new_instance(this: &RegistryRef) -> Result<InstanceRef, Errno> {
        let mut reg = this.borrow_mut();
        reg.instances.retain(|w| w.strong_count() > 0);
        if reg.instances.len() >= MAX_USER_INSTANCES {
            return Err(Errno::EMFILE);
        }
        let inst = Rc::new(RefCell::new(Instance {
            queue: VecDeque::new(),
            watches: HashMap::new(),
            next_wd: 1,
            registry: Rc::downgrade(this),
        }));
        reg.instances.push(Rc::downgrade(&inst));
        Ok(inst)
    }

    /// Drop the watches on `ino` whose instance is gone.
    fn prune(&mut self, ino: Ino) {
        if let Some(v) = self.by_ino.get_mut(&ino) {
            v.retain(|(w, _)| w.strong_count() > 0);
            if v.is_empty() {
                self.by_ino.remove(&ino);
                self.forget_dir(ino);
            }
        }
        self.active.set(!self.by_ino.is_empty());
    }

    /// inotify_add_watch on `ino` (its directory entries in `entries` when it is a
    /// directory): the watch's descriptor, the same one for an inode already watched by
    /// this instance (whose mask is replaced, or extended with IN_MASK_ADD).
    pub fn add_watch(
        &mut self,
        inst: &InstanceRef,
        ino: Ino,
        mask: u32,
        entries: Option<Vec<Dirent>>,
    ) -> Result<i32, Errno> {
        let events = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
        let mut i = inst.borrow_mut();
        if let Some((&wd, _)) = i.watches.iter().find(|(_, (w, _))| *w == ino) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            let old = i.watches[&wd].1;
            let new = if mask & IN_MASK_ADD != 0 {
                old | events
            } else {
                events
            };
            i.watches.insert(wd, (ino, new));
            return Ok(wd);
        }
        if self.watches >= MAX_USER_WATCHES {
            return Err(Errno::ENOSPC);
        }
        self.watches += 1;
        let wd = i.next_wd;
        i.next_wd += 1;
        i.watches.insert(wd, (ino, events));
        drop(i);
        self.by_ino
            .entry(ino)
            .or_default()
            .push((Rc::downgrade(inst), wd));
        if let Some(entries) = entries {
            for d in entries {
                if d.name != b"." && d.name != b".." {
                    self.add_name(d.ino, ino, d.name);
                }
            }
        }
        self.active.set(true);
        Ok(wd)
    }

    /// inotify_rm_watch: EINVAL for a descriptor this instance does not have; the watch
    /// ends with IN_IGNORED.
    pub fn rm_watch(&mut self, inst: &InstanceRef, wd: i32) -> Result<(), Errno> {
        let (ino, _) = inst.borrow_mut().watches.remove(&wd).ok_or(Errno::EINVAL)?;
        self.unlink_watch(inst, ino, wd);
        Ok(())
    }

    /// Take watch `wd` of `inst` on `ino` out of the registry and queue IN_IGNORED.
    fn unlink_watch(&mut self, inst: &InstanceRef, ino: Ino, wd: i32) {
        inst.borrow_mut().watches.remove(&wd);
        inst.borrow_mut().push(Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
        if let Some(v) = self.by_ino.get_mut(&ino) {
            let before = v.len();
            v.retain(|(w, d)| !(*d == wd && w.as_ptr() == Rc::as_ptr(inst)));
            self.watches -= (before - v.len()).min(self.watches);
        }
        self.prune(ino);
    }

    /// The entries of a directory no longer watched need not be tracked.
    fn forget_dir(&mut self, dir: Ino) {
        for child in self.children.remove(&dir).unwrap_or_default() {
            if let Some(v) = self.names.get_mut(&child) {
                v.retain(|(d, _)| *d != dir);
                if v.is_empty() {
                    self.names.remove(&child);
                }
            }
        }
    }

    fn add_name(&mut self, child: Ino, dir: Ino, name: Vec<u8>) {
        let v = self.names.entry(child).or_default();
        if !v.iter().any(|(d, n)| *d == dir && *n == name) {
            v.push((dir, name));
            self.children.entry(dir).or_default().push(child);
        }
    }

    fn remove_name(&mut self, child: Ino, dir: Ino, name: &[u8]) {
        let Some(v) = self.names.get_mut(&child) else {
            return;
        };
        v.retain(|(d, n)| !(*d == dir && n == name));
        let still_there = v.iter().any(|(d, _)| *d == dir);
        if v.is_empty() {
            self.names.remove(&child);
        }
        if !still_there
            && let Some(c) = self.children.get_mut(&dir)
            && let Some(i) = c.iter().position(|&x| x == child)
        {
            c.swap_remove(i);
        }
    }

    /// Deliver `mask` to the watches on `ino` (with `name`: as a directory reporting one
    /// of its entries). IN_ONESHOT watches end after their first event.
    fn deliver(&mut self, ino: Ino, mask: u32, cookie: u32, name: &[u8]) {
        let Some(watches) = self.by_ino.get(&ino) else {
            return;
        };
        let mut ended = Vec::new();
        let mut dead = false;
        for (w, wd) in watches.clone() {
            let Some(inst) = w.upgrade() else {
                dead = true;
                continue;
            };
            let Some(&(_, wmask)) = inst.borrow().watches.get(&wd) else {
                continue;
            };
            if wmask & mask & IN_ALL_EVENTS == 0 {
                continue;
            }
            inst.borrow_mut().push(Event {
                wd,
                mask: mask & (IN_ALL_EVENTS | IN_ISDIR),
                cookie,
                name: name.to_vec(),
            });
            if wmask & IN_ONESHOT != 0 {
                ended.push((inst, wd));
            }
        }
        for (inst, wd) in ended {
            self.unlink_watch(&inst, ino, wd);
        }
        if dead {
            self.prune(ino);
        }
    }

    /// An event on inode `ino` itself: the directories that hold it (for the events they
    /// report about entries), then its own watches, in Linux's order.
    pub fn inode_event(&mut self, ino: Ino, mask: u32) {
        if !self.is_active() {
            return;
        }
        if mask & CHILD_EVENTS != 0
            && let Some(parents) = self.names.get(&ino).cloned()
        {
            for (dir, name) in parents {
                self.deliver(dir, mask, 0, &name);
            }
        }
        self.deliver(ino, mask, 0, b"");
    }

    /// An inode is gone (its last name removed): IN_DELETE_SELF, then every watch on it
    /// ends with IN_IGNORED. (Linux marks neither this nor IN_MOVE_SELF with IN_ISDIR.)
    fn deleted(&mut self, ino: Ino) {
        self.deliver(ino, IN_DELETE_SELF, 0, b"");
        if let Some(watches) = self.by_ino.get(&ino).cloned() {
            for (w, wd) in watches {
                if let Some(inst) = w.upgrade() {
                    self.unlink_watch(&inst, ino, wd);
                }
            }
        }
        if let Some(dirs) = self.names.remove(&ino) {
            for (dir, _) in dirs {
                if let Some(c) = self.children.get_mut(&dir) {
                    c.retain(|&x| x != ino);
                }
            }
        }
    }

    /// An open file description of `ino` was closed for the last time (fd.rs).
    pub fn closed(&mut self, ino: Ino, wrote: bool, dir: bool) {
        let mask = if wrote {
            IN_CLOSE_WRITE
        } else {
            IN_CLOSE_NOWRITE
        };
        self.inode_event(ino, mask | if dir { IN_ISDIR } else { 0 });
    }
}

/// The kernel's filesystem with events reported (the module's comment). Every call is
/// passed on unchanged.
pub struct Notifying {
    inner: Box<dyn Fs>,
    reg: RegistryRef,
    active: Rc<Cell<bool>>,
}

impl Notifying {
    pub fn new(inner: Box<dyn Fs>, reg: RegistryRef) -> Notifying {
        let active = reg.borrow().active.clone();
        Notifying { inner, reg, active }
    }

    /// IN_ISDIR for a directory.
    fn isdir(&mut self, ino: Ino) -> u32 {
        match self.inner.stat(ino) {
            Ok(st) if st.mode & S_IFMT == S_IFDIR => IN_ISDIR,
            _ => 0,
        }
    }

    /// A name made in `dir`: IN_CREATE there, and the entry tracked if `dir` is watched.
    fn created(&mut self, dir: Ino, name: &[u8], ino: Ino) {
        let isdir = self.isdir(ino);
        let mut reg = self.reg.borrow_mut();
        if reg.by_ino.contains_key(&dir) {
            reg.add_name(ino, dir, name.to_vec());
        }
        reg.deliver(dir, IN_CREATE | isdir, 0, name);
    }

    /// A name's inode lost a link: a file's own watches see its link count change
    /// (IN_ATTRIB, not reported to directories: fsnotify_link_count), and an inode left
    /// with no name is gone.
    fn unlinked(&mut self, ino: Ino, isdir: u32) {
        let left = match self.inner.stat(ino) {
            Ok(st) if isdir == 0 => st.nlink,
            _ => 0,
        };
        let mut reg = self.reg.borrow_mut();
        if isdir == 0 {
            reg.deliver(ino, IN_ATTRIB, 0, b"");
        }
        if left == 0 {
            reg.deleted(ino);
        }
    }

    fn moved(&mut self, from: (Ino, &[u8]), to: (Ino, &[u8]), ino: Ino, isdir: u32, cookie: u32) {
        let mut reg = self.reg.borrow_mut();
        reg.remove_name(ino, from.0, from.1);
        if reg.by_ino.contains_key(&to.0) {
            reg.add_name(ino, to.0, to.1.to_vec());
        }
        reg.deliver(from.0, IN_MOVED_FROM | isdir, cookie, from.1);
        reg.deliver(to.0, IN_MOVED_TO | isdir, cookie, to.1);
        reg.deliver(ino, IN_MOVE_SELF, 0, b"");
    }
}

impl Fs for Notifying {
    fn root(&self) -> Ino {
        self.inner.root()
    }
    fn lookup(&mut self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
        self.inner.lookup(start, path, follow)
    }
    fn lookup_parent(&mut self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
        self.inner.lookup_parent(start, path)
    }
    fn path(&mut self, dir: Ino) -> Result<Vec<u8>, Errno> {
        self.inner.path(dir)
    }
    fn stat(&mut self, node: Ino) -> Result<Stat, Errno> {
        self.inner.stat(node)
    }
    fn read(&mut self, node: Ino, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        self.inner.read(node, offset, len)
    }
    fn read_into(&mut self, node: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.inner.read_into(node, offset, buf)
    }
    fn write(&mut self, node: Ino, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let n = self.inner.write(node, offset, data)?;
        if self.active.get() && n > 0 {
            self.reg.borrow_mut().inode_event(node, IN_MODIFY);
        }
        Ok(n)
    }
    fn readdir(&mut self, dir: Ino, cookie: u64, max: u32) -> Result<Vec<Dirent>, Errno> {
        self.inner.readdir(dir, cookie, max)
    }
    fn readlink(&mut self, node: Ino) -> Result<Vec<u8>, Errno> {
        self.inner.readlink(node)
    }
    fn create(&mut self, parent: Ino, name: &[u8], mode: u32, rdev: u64) -> Result<Ino, Errno> {
        let ino = self.inner.create(parent, name, mode, rdev)?;
        if self.active.get() {
            self.created(parent, name, ino);
        }
        Ok(ino)
    }
    fn create_unlinked(&mut self, mode: u32) -> Result<Ino, Errno> {
        self.inner.create_unlinked(mode)
    }
    fn symlink(&mut self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Ino, Errno> {
        let ino = self.inner.symlink(parent, name, target)?;
        if self.active.get() {
            self.created(parent, name, ino);
        }
        Ok(ino)
    }
    fn link(&mut self, node: Ino, parent: Ino, name: &[u8]) -> Result<(), Errno> {
        self.inner.link(node, parent, name)?;
        if self.active.get() {
            // fsnotify_link: the inode's link count (its own watches only), then the
            // new name.
            self.reg.borrow_mut().deliver(node, IN_ATTRIB, 0, b"");
            self.created(parent, name, node);
        }
        Ok(())
    }
    fn remove(&mut self, parent: Ino, name: &[u8], dir: bool) -> Result<(), Errno> {
        if !self.active.get() {
            return self.inner.remove(parent, name, dir);
        }
        let victim = self.inner.lookup(parent, name, false);
        self.inner.remove(parent, name, dir)?;
        if let Ok(ino) = victim {
            let isdir = if dir { IN_ISDIR } else { 0 };
            self.reg.borrow_mut().remove_name(ino, parent, name);
            self.unlinked(ino, isdir);
            self.reg
                .borrow_mut()
                .deliver(parent, IN_DELETE | isdir, 0, name);
        }
        Ok(())
    }
    fn rename(
        &mut self,
        old_parent: Ino,
        old_name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if !self.active.get() {
            return self
                .inner
                .rename(old_parent, old_name, new_parent, new_name, flags);
        }
        const RENAME_EXCHANGE: u32 = 2;
        let source = self.inner.lookup(old_parent, old_name, false);
        let target = self.inner.lookup(new_parent, new_name, false);
        self.inner
            .rename(old_parent, old_name, new_parent, new_name, flags)?;
        let Ok(ino) = source else {
            return Ok(());
        };
        if target == Ok(ino) {
            return Ok(()); // two names of one inode: nothing moves
        }
        let isdir = self.isdir(ino);
        let cookie = {
            let mut reg = self.reg.borrow_mut();
            reg.cookie = reg.cookie.wrapping_add(1).max(1);
            reg.cookie
        };
        self.moved(
            (old_parent, old_name),
            (new_parent, new_name),
            ino,
            isdir,
            cookie,
        );
        if let Ok(other) = target {
            let other_dir = self.isdir(other);
            if flags & RENAME_EXCHANGE != 0 {
                let cookie = cookie.wrapping_add(1).max(1);
                self.reg.borrow_mut().cookie = cookie;
                self.moved(
                    (new_parent, new_name),
                    (old_parent, old_name),
                    other,
                    other_dir,
                    cookie,
                );
            } else {
                self.reg
                    .borrow_mut()
                    .remove_name(other, new_parent, new_name);
                self.unlinked(other, other_dir);
            }
        }
        Ok(())
    }
    fn set_attr(&mut self, node: Ino, attr: &SetAttr) -> Result<(), Errno> {
        self.inner.set_attr(node, attr)?;
        if self.active.get() {
            // fsnotify_change(): a size is IN_MODIFY, owners and modes IN_ATTRIB, both
            // times (utimes) IN_ATTRIB, one time alone IN_ACCESS or IN_MODIFY.
            let mut mask = 0;
            if attr.uid.is_some() || attr.gid.is_some() || attr.mode.is_some() {
                mask |= IN_ATTRIB;
            }
            if attr.size.is_some() {
                mask |= IN_MODIFY;
            }
            match (attr.atime.is_some(), attr.mtime.is_some()) {
                (true, true) => mask |= IN_ATTRIB,
                (true, false) => mask |= IN_ACCESS,
                (false, true) => mask |= IN_MODIFY,
                (false, false) => {}
            }
            if mask != 0 {
                let isdir = self.isdir(node);
                self.reg.borrow_mut().inode_event(node, mask | isdir);
            }
        }
        Ok(())
    }
    fn generation(&self) -> u64 {
        self.inner.generation()
    }
    fn export_layer(&mut self, exclude: &[Vec<u8>]) -> Result<Vec<u8>, Errno> {
        self.inner.export_layer(exclude)
    }
    fn set_capacity(&mut self, bytes: u64) {
        self.inner.set_capacity(bytes)
    }
    fn usage(&mut self) -> Usage {
        self.inner.usage()
    }
    fn reclaim(&mut self, open: &[Ino]) -> u64 {
        self.inner.reclaim(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filesystem of an empty image, wrapped, with its registry.
    fn setup() -> (Notifying, RegistryRef) {
        let vfs = friscy_vfs::Vfs::new(vec![0u8; 1024]).unwrap();
        let reg = RegistryRef::default();
        (Notifying::new(Box::new(vfs), reg.clone()), reg)
    }

    fn watch_dir(fs: &mut Notifying, reg: &RegistryRef, inst: &InstanceRef, dir: Ino) -> i32 {
        let entries = fs.readdir(dir, 0, 1000).unwrap();
        reg.borrow_mut()
            .add_watch(inst, dir, IN_ALL_EVENTS, Some(entries))
            .unwrap()
    }

    #[test]
    fn closing_the_descriptor_takes_its_watches_out() {
        let (mut fs, reg) = setup();
        let root = fs.root();
        let inst = Registry::new_instance(&reg).unwrap();
        watch_dir(&mut fs, &reg, &inst, root);
        assert!(fs.active.get());
        let f = fs.create(root, b"f", 0o100644, 0).unwrap();
        fs.write(f, 0, b"x").unwrap();
        let bytes = inst.borrow_mut().read(4096).unwrap();
        assert_eq!(bytes.len(), 2 * (16 + 16)); // CREATE "f", MODIFY "f"
        drop(inst);
        assert!(!fs.active.get(), "no watch is left");
        assert!(reg.borrow().names.is_empty() && reg.borrow().children.is_empty());
        assert_eq!(reg.borrow().watches, 0);
    }

    #[test]
    fn entries_are_tracked_only_while_their_directory_is_watched() {
        let (mut fs, reg) = setup();
        let root = fs.root();
        let sub = fs.create(root, b"sub", S_IFDIR | 0o755, 0).unwrap();
        let inst = Registry::new_instance(&reg).unwrap();
        let wd = watch_dir(&mut fs, &reg, &inst, sub);
        let f = fs.create(sub, b"a", 0o100644, 0).unwrap();
        fs.link(f, sub, b"b").unwrap();
        fs.rename(sub, b"a", root, b"out", 0).unwrap();
        assert_eq!(reg.borrow().names[&f], vec![(sub, b"b".to_vec())]);
        reg.borrow_mut().rm_watch(&inst, wd).unwrap();
        assert!(reg.borrow().names.is_empty() && reg.borrow().children.is_empty());
        assert_eq!(reg.borrow_mut().rm_watch(&inst, wd), Err(Errno::EINVAL));
    }

    #[test]
    fn a_full_queue_ends_in_one_overflow_event() {
        let (mut fs, reg) = setup();
        let root = fs.root();
        let inst = Registry::new_instance(&reg).unwrap();
        watch_dir(&mut fs, &reg, &inst, root);
        for i in 0..MAX_QUEUED_EVENTS + 10 {
            fs.create(root, format!("f{i}").as_bytes(), 0o100644, 0)
                .unwrap();
        }
        let i = inst.borrow();
        assert_eq!(i.queue.len(), MAX_QUEUED_EVENTS + 1);
        assert_eq!(i.queue.back().unwrap().mask, IN_Q_OVERFLOW);
        assert_eq!(i.queue.back().unwrap().wd, -1);
    }
}
