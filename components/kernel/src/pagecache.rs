//! The page cache: a file's pages, read from the vfs once and shared copy-on-write by
//! every private mapping of the file (the ELF segments execve maps, ld.so's mmaps of
//! shared libraries, programs' own MAP_PRIVATE file mappings), as Linux's page cache is.
//!
//! Each cached file is an exec memory object (frames mappings share). A private mapping
//! maps the object's pages with `map-object(shared = false)`: nothing is copied until the
//! guest stores into a page (exec copies that page then). So the second execve of busybox,
//! every fork+exec in a shell loop, and the hundred shared objects a Python start maps
//! cost page-table work, not a read of the file and a copy of every byte.
//!
//! Pages are read from the vfs when a mapping first touches them, not when the file is
//! mapped (Linux's page faults on a file mapping): each object starts unfilled, an access
//! to a page not read yet stops the hart with a `NotFilled` fault, and `page_cache_fault`
//! reads a few pages around it (only those not read yet; more while the faults of a file
//! run sequentially, as Linux's read-ahead grows) before the access is retried; the
//! kernel's own copies to and from the guest do the same (`Kernel::guest`). So `true`
//! costs the pages busybox and musl run, not their 1.4 MiB, and a 30 MiB libnode.so the
//! pages Node uses. (A file with code translated ahead of time has its executable pages
//! read when registered instead: exec watches the bytes it registers.)
//!
//! Validity: an entry remembers the file's size, mtime and ctime when it was made; every
//! use compares them with a fresh stat and starts over if the file changed (write(2),
//! truncate, a host-side change under a bind mount). Mappings made before keep the pages
//! they had, which POSIX allows for private mappings; pages they had not touched are
//! read when touched from the file as it is then, as Linux shows an untouched private
//! page the file's current contents. A file that also has MAP_SHARED mappings is not
//! cached here (shm.rs owns its pages; mappings copy as before).
//!
//! Size: entries past `LIMIT_PAGES` in total are dropped least recently used first; a
//! dropped entry's frames stay alive as long as mappings use them, and its pages not read
//! yet can still be filled (the entry is kept by object until every page is read or exec
//! reuses the object's id, which it does only once nothing maps it).

use std::collections::HashMap;

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::{ObjId, SpaceId};
use friscy_vfs::{Ino, Timespec};

use crate::Kernel;

/// At most this many cached pages (256 MiB) across files not dropped yet.
const LIMIT_PAGES: u64 = 64 << 10;

/// Pages read at a fault, aligned: what a start touches is scattered (busybox's `true`
/// touches 71 of its and musl's 354 pages), and each page read costs far more than a
/// fault (in Wasm about 2.7 us a page against 0.5 us a fault), so few.
const FAULT_AROUND: u64 = 4;
/// Pages read at a fault that continues the previous one's range, doubling up to this
/// (a sequential scan of a mapped file; Linux's read-ahead grows the same way).
const READ_AHEAD_MAX: u64 = 32;

/// What identifies one version of a file's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: Timespec,
    ctime: Timespec,
}

#[derive(Debug)]
struct Cached {
    ino: Ino,
    /// The object's size in pages: the file's, rounded up.
    pages: u64,
    /// One bit per page: read from the file already.
    filled: Vec<u64>,
    stamp: Stamp,
    /// The `clock` value of the last use (for LRU).
    used: u64,
    /// The page after the range the last fault read, and that range's length: a fault
    /// there reads twice as much.
    ahead: (u64, u64),
}

impl Cached {
    fn is_filled(&self, page: u64) -> bool {
        self.filled[(page / 64) as usize] & (1 << (page % 64)) != 0
    }
    fn set_filled(&mut self, page: u64) {
        self.filled[(page / 64) as usize] |= 1 << (page % 64);
    }
    fn all_filled(&self) -> bool {
        (0..self.pages).all(|p| self.is_filled(p))
    }
}

#[derive(Debug, Default)]
pub struct PageCache {
    /// The current entry of each cached file.
    files: HashMap<Ino, ObjId>,
    /// Every object made here that may still need pages filled: current and dropped.
    objs: HashMap<ObjId, Cached>,
    total_pages: u64,
    clock: u64,
    /// Where fills read a file's bytes before exec copies them into frames: kept, so
    /// that reading allocates nothing after the first fill (fresh Wasm memory costs a
    /// host page fault per 4 KiB). At most `FILL_PIECE` long.
    scratch: Vec<u8>,
}

/// The most a fill reads from the filesystem at once.
const FILL_PIECE: u64 = 32 * PAGE_SIZE;

/// A file's cached pages, ready to map privately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedRange {
    pub obj: ObjId,
    /// The object's size in pages (mappings must stop there; past it is beyond the file).
    pub pages: u64,
}

impl Kernel {
    /// The page cache object of `ino` (nothing is read: pages are filled when touched,
    /// `page_cache_fault`), or None when the file is not cacheable (it has MAP_SHARED
    /// mappings).
    pub fn page_cache(&mut self, ino: Ino) -> Result<Option<CachedRange>, Errno> {
        if self.shm_has_file(ino) {
            return Ok(None);
        }
        let st = self.fs.stat(ino)?;
        let stamp = Stamp {
            size: st.size,
            mtime: st.mtime,
            ctime: st.ctime,
        };
        self.page_cache.clock += 1;
        let clock = self.page_cache.clock;
        if let Some(obj) = self.page_cache.files.get(&ino)
            && self.page_cache.objs[obj].stamp != stamp
        {
            self.page_cache_drop(ino);
        }
        if !self.page_cache.files.contains_key(&ino) {
            let pages = st.size.div_ceil(PAGE_SIZE);
            self.page_cache_make_room(pages);
            let obj = self.machine.obj_create_unfilled(pages);
            self.page_cache.total_pages += pages;
            self.page_cache.files.insert(ino, obj);
            // exec reuses an id only once nothing maps its object: an entry left under
            // it is done with.
            self.page_cache.objs.insert(
                obj,
                Cached {
                    ino,
                    pages,
                    filled: vec![0; pages.div_ceil(64) as usize],
                    stamp,
                    used: clock,
                    ahead: (u64::MAX, 0),
                },
            );
        }
        let obj = self.page_cache.files[&ino];
        let c = self.page_cache.objs.get_mut(&obj).unwrap();
        c.used = clock;
        Ok(Some(CachedRange {
            obj,
            pages: c.pages,
        }))
    }

    /// Reads the pages of `obj` in [first, last) (clipped to it) not read yet from its
    /// file. Pages past the file's end as it is now stay zero.
    pub fn page_cache_fill(&mut self, obj: ObjId, first: u64, last: u64) -> Result<(), Errno> {
        let Some(c) = self.page_cache.objs.get(&obj) else {
            return Err(Errno::EFAULT);
        };
        let ino = c.ino;
        let last = last.min(c.pages);
        // Read the runs of pages not read yet (1 MiB at most, in FILL_PIECE reads).
        let mut page = first.min(last);
        while page < last {
            if self.page_cache.objs[&obj].is_filled(page) {
                page += 1;
                continue;
            }
            let mut run_end = page + 1;
            while run_end < last
                && run_end - page < 256
                && !self.page_cache.objs[&obj].is_filled(run_end)
            {
                run_end += 1;
            }
            let offset = page * PAGE_SIZE;
            let want = (run_end - page) * PAGE_SIZE;
            // Pages are marked as they are written (exec's `obj_write` is all or
            // nothing), so a read or memory error part way leaves every page either
            // filled and marked, or unfilled and unmarked.
            let mut done = 0;
            let mut buf = std::mem::take(&mut self.page_cache.scratch);
            while done < want {
                buf.resize((want - done).min(FILL_PIECE) as usize, 0);
                let n = self.fs.read_into(ino, offset + done, &mut buf)?;
                if n == 0 {
                    break;
                }
                self.machine
                    .obj_write(obj, offset + done, &buf[..n])
                    .map_err(|_| Errno::ENOMEM)?;
                done += n as u64;
                self.page_cache_mark(obj, page, page + done / PAGE_SIZE);
            }
            self.page_cache.scratch = buf;
            // At the end of the file, its last page is complete (zeros after the end).
            self.page_cache_mark(obj, page, page + done.div_ceil(PAGE_SIZE));
            // Past the end of the file (it shrank since the entry was made): zero pages,
            // so that no page of the run faults again.
            let mut at = done.next_multiple_of(PAGE_SIZE);
            while at < want {
                self.machine
                    .obj_write(obj, offset + at, &[0])
                    .map_err(|_| Errno::ENOMEM)?;
                self.page_cache_mark(obj, page + at / PAGE_SIZE, page + at / PAGE_SIZE + 1);
                at += PAGE_SIZE;
            }
            page = run_end;
        }
        // A dropped entry (no longer its file's) is kept only while it has pages to read.
        let c = &self.page_cache.objs[&obj];
        if self.page_cache.files.get(&c.ino) != Some(&obj) && c.all_filled() {
            self.page_cache.objs.remove(&obj);
        }
        Ok(())
    }

    /// Pages [first, last) of `ino`'s object `obj`, just mapped: read now if the file is
    /// on a host mount (`-v`), where an inode stands for a path, so that a file replaced
    /// on the host (a rebuilt binary renamed over the old) cannot fill a running
    /// program's later pages from the new file; otherwise left to be read when touched.
    pub fn page_cache_mapped(
        &mut self,
        ino: Ino,
        obj: ObjId,
        first: u64,
        last: u64,
    ) -> Result<(), Errno> {
        if crate::mounts::is_host(ino) {
            self.page_cache_fill(obj, first, last)?;
        }
        Ok(())
    }

    /// Reads the cached pages of `ino` holding bytes [offset, offset+len) now, if the
    /// file is in the page cache.
    pub(crate) fn page_cache_fill_file(
        &mut self,
        ino: Ino,
        offset: u64,
        len: u64,
    ) -> Result<(), Errno> {
        match self.page_cache.files.get(&ino) {
            Some(&obj) => self.page_cache_fill(
                obj,
                offset / PAGE_SIZE,
                offset.saturating_add(len).div_ceil(PAGE_SIZE),
            ),
            None => Ok(()),
        }
    }

    fn page_cache_mark(&mut self, obj: ObjId, first: u64, last: u64) {
        let c = self.page_cache.objs.get_mut(&obj).unwrap();
        for p in first..last {
            c.set_filled(p);
        }
    }

    /// Reads every page not read yet of `ino`'s cached objects (its current entry and
    /// dropped ones mappings may still use): before its contents go (truncation, the
    /// storage of an unlinked file freed), so that mappings made before keep the bytes
    /// they mapped, as they did when mappings were read whole.
    pub fn page_cache_settle(&mut self, ino: Ino) -> Result<(), Errno> {
        let objs: Vec<ObjId> = self
            .page_cache
            .objs
            .iter()
            .filter(|(_, c)| c.ino == ino && !c.all_filled())
            .map(|(&obj, _)| obj)
            .collect();
        for obj in objs {
            self.page_cache_fill(obj, 0, u64::MAX)?;
        }
        Ok(())
    }

    /// The files whose cached objects still have pages to read from them.
    pub fn page_cache_unread_files(&self) -> Vec<Ino> {
        let mut inos: Vec<Ino> = self
            .page_cache
            .objs
            .values()
            .filter(|c| !c.all_filled())
            .map(|c| c.ino)
            .collect();
        inos.sort_unstable();
        inos.dedup();
        inos
    }

    /// A `NotFilled` fault at `addr` in `space`: reads the pages around it. Err when no
    /// page-cache object backs the address or its file cannot be read (SIGBUS, or EFAULT
    /// in a kernel copy).
    pub fn page_cache_fault(&mut self, space: SpaceId, addr: u64) -> Result<(), Errno> {
        let (obj, page) = self.machine.object_at(space, addr).ok_or(Errno::EFAULT)?;
        let (first, len) = match self.page_cache.objs.get_mut(&obj) {
            Some(c) => {
                let (first, len) = if c.ahead.0 == page {
                    (page, (c.ahead.1 * 2).min(READ_AHEAD_MAX))
                } else {
                    (page - page % FAULT_AROUND, FAULT_AROUND)
                };
                c.ahead = (first + len, len);
                (first, len)
            }
            None => return Err(Errno::EFAULT),
        };
        self.page_cache_fill(obj, first, first + len)?;
        // The page must be filled now, or the access would fault again forever.
        match self.page_cache.objs.get(&obj) {
            Some(c) if page >= c.pages || !c.is_filled(page) => Err(Errno::EFAULT),
            _ => Ok(()),
        }
    }

    /// write(2) of `data` at `offset` to `ino` (already in the file): the cached pages
    /// take it in place, so private mappings that have not copied a page yet see the new
    /// bytes, as on Linux. Other changes (truncate, copy_file_range...) are caught by the
    /// stamp check at the next use instead.
    pub fn page_cache_written(&mut self, ino: Ino, offset: u64, data: &[u8]) {
        let Some(&obj) = self.page_cache.files.get(&ino) else {
            return;
        };
        let Ok(st) = self.fs.stat(ino) else {
            self.page_cache_drop(ino);
            return;
        };
        let c = self.page_cache.objs.get_mut(&obj).unwrap();
        let pages = st.size.div_ceil(PAGE_SIZE);
        if pages < c.pages {
            self.page_cache_drop(ino);
            return;
        }
        if pages > c.pages {
            if self.machine.obj_resize(obj, pages).is_err() {
                self.page_cache_drop(ino);
                return;
            }
            self.page_cache.total_pages += pages - c.pages;
            c.pages = pages;
            c.filled.resize(pages.div_ceil(64) as usize, 0);
        }
        // Only pages read already take the bytes: one not read yet would become a page
        // holding just them, and reading it later reads the file, which holds them.
        c.stamp = Stamp {
            size: st.size,
            mtime: st.mtime,
            ctime: st.ctime,
        };
        let end = (pages * PAGE_SIZE).min(offset + data.len() as u64);
        let mut at = offset;
        while at < end {
            let page = at / PAGE_SIZE;
            let next = ((page + 1) * PAGE_SIZE).min(end);
            if self.page_cache.objs[&obj].is_filled(page) {
                let bytes = &data[(at - offset) as usize..(next - offset) as usize];
                if self.machine.obj_write(obj, at, bytes).is_err() {
                    self.page_cache_drop(ino);
                    return;
                }
            }
            at = next;
        }
    }

    /// Forget `ino`'s cached pages (mappings keep the frames they have, and can still
    /// have the pages they have not touched filled).
    pub fn page_cache_drop(&mut self, ino: Ino) {
        if let Some(obj) = self.page_cache.files.remove(&ino) {
            let c = &self.page_cache.objs[&obj];
            self.page_cache.total_pages -= c.pages;
            if c.all_filled() {
                self.page_cache.objs.remove(&obj);
            }
            self.machine.obj_drop(obj);
        }
    }

    /// Drop least recently used entries until `pages` more fit under the limit.
    fn page_cache_make_room(&mut self, pages: u64) {
        while self.page_cache.total_pages + pages > LIMIT_PAGES {
            let Some((&oldest, _)) = self
                .page_cache
                .files
                .iter()
                .min_by_key(|(_, obj)| self.page_cache.objs[obj].used)
            else {
                return;
            };
            self.page_cache_drop(oldest);
        }
    }
}
