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
//! Pages are read from the vfs when a mapping first needs them (`filled`), not the whole
//! file at once: a 30 MiB libnode.so costs only the pages its mappings cover.
//!
//! Validity: an entry remembers the file's size, mtime and ctime when it was made; every
//! use compares them with a fresh stat and starts over if the file changed (write(2),
//! truncate, a host-side change under a bind mount). Mappings made before keep the pages
//! they had, which POSIX allows for private mappings. A file that also has MAP_SHARED
//! mappings is not cached here (shm.rs owns its pages; mappings copy as before).
//!
//! Size: entries past `LIMIT_PAGES` in total are dropped least recently used first; a
//! dropped entry's frames stay alive as long as mappings use them.

use std::collections::HashMap;

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::ObjId;
use friscy_vfs::{Ino, Timespec};

use crate::Kernel;

/// At most this many cached pages (256 MiB) across files not dropped yet.
const LIMIT_PAGES: u64 = 64 << 10;

/// What identifies one version of a file's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: Timespec,
    ctime: Timespec,
}

#[derive(Debug)]
struct Cached {
    obj: ObjId,
    /// The object's size in pages: the file's, rounded up.
    pages: u64,
    /// One bit per page: read from the file already.
    filled: Vec<u64>,
    stamp: Stamp,
    /// The `clock` value of the last use (for LRU).
    used: u64,
}

impl Cached {
    fn is_filled(&self, page: u64) -> bool {
        self.filled[(page / 64) as usize] & (1 << (page % 64)) != 0
    }
    fn set_filled(&mut self, page: u64) {
        self.filled[(page / 64) as usize] |= 1 << (page % 64);
    }
}

#[derive(Debug, Default)]
pub struct PageCache {
    files: HashMap<Ino, Cached>,
    total_pages: u64,
    clock: u64,
}

/// A range of a file's cached pages, ready to map privately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachedRange {
    pub obj: ObjId,
    /// The object's size in pages (mappings must stop there; past it is beyond the file).
    pub pages: u64,
}

impl Kernel {
    /// The page cache object of `ino` with pages [first, last) (clipped to the file) read
    /// from the file, or None when the file is not cacheable (it has MAP_SHARED mappings).
    pub fn page_cache(
        &mut self,
        ino: Ino,
        first: u64,
        last: u64,
    ) -> Result<Option<CachedRange>, Errno> {
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
        if self
            .page_cache
            .files
            .get(&ino)
            .is_some_and(|c| c.stamp != stamp)
        {
            self.page_cache_drop(ino);
        }
        if !self.page_cache.files.contains_key(&ino) {
            let pages = st.size.div_ceil(PAGE_SIZE);
            self.page_cache_make_room(pages);
            let obj = self.machine.obj_create(pages);
            self.page_cache.total_pages += pages;
            self.page_cache.files.insert(
                ino,
                Cached {
                    obj,
                    pages,
                    filled: vec![0; pages.div_ceil(64) as usize],
                    stamp,
                    used: clock,
                },
            );
        }
        let c = self.page_cache.files.get_mut(&ino).unwrap();
        c.used = clock;
        let (obj, pages) = (c.obj, c.pages);
        // Read the runs of pages not read yet, 1 MiB at most per vfs call.
        let last = last.min(pages);
        let mut page = first.min(last);
        while page < last {
            if self.page_cache.files[&ino].is_filled(page) {
                page += 1;
                continue;
            }
            let mut run_end = page + 1;
            while run_end < last
                && run_end - page < 256
                && !self.page_cache.files[&ino].is_filled(run_end)
            {
                run_end += 1;
            }
            let offset = page * PAGE_SIZE;
            let want = ((run_end - page) * PAGE_SIZE).min(st.size.saturating_sub(offset));
            let mut done = 0;
            while done < want {
                let chunk = self.fs.read(ino, offset + done, (want - done) as u32)?;
                if chunk.is_empty() {
                    break; // the rest of the object stays zero, as past EOF
                }
                if self.machine.obj_write(obj, offset + done, &chunk).is_err() {
                    self.page_cache_drop(ino);
                    return Err(Errno::ENOMEM);
                }
                done += chunk.len() as u64;
            }
            let c = self.page_cache.files.get_mut(&ino).unwrap();
            for p in page..run_end {
                c.set_filled(p);
            }
            page = run_end;
        }
        Ok(Some(CachedRange { obj, pages }))
    }

    /// write(2) of `data` at `offset` to `ino` (already in the file): the cached pages
    /// take it in place, so private mappings that have not copied a page yet see the new
    /// bytes, as on Linux. Other changes (truncate, copy_file_range...) are caught by the
    /// stamp check at the next use instead.
    pub fn page_cache_written(&mut self, ino: Ino, offset: u64, data: &[u8]) {
        if !self.page_cache.files.contains_key(&ino) {
            return;
        }
        let Ok(st) = self.fs.stat(ino) else {
            self.page_cache_drop(ino);
            return;
        };
        let c = self.page_cache.files.get_mut(&ino).unwrap();
        let pages = st.size.div_ceil(PAGE_SIZE);
        if pages < c.pages {
            self.page_cache_drop(ino);
            return;
        }
        if pages > c.pages {
            if self.machine.obj_resize(c.obj, pages).is_err() {
                self.page_cache_drop(ino);
                return;
            }
            self.page_cache.total_pages += pages - c.pages;
            c.pages = pages;
            c.filled.resize(pages.div_ceil(64) as usize, 0);
        }
        // Bytes landing on pages not read yet are harmless: filling them later reads the
        // file, which holds the same bytes.
        let end = (pages * PAGE_SIZE).min(offset + data.len() as u64);
        if offset < end
            && self
                .machine
                .obj_write(c.obj, offset, &data[..(end - offset) as usize])
                .is_err()
        {
            self.page_cache_drop(ino);
            return;
        }
        c.stamp = Stamp {
            size: st.size,
            mtime: st.mtime,
            ctime: st.ctime,
        };
    }

    /// Forget `ino`'s cached pages (mappings keep the frames they have).
    pub fn page_cache_drop(&mut self, ino: Ino) {
        if let Some(c) = self.page_cache.files.remove(&ino) {
            self.page_cache.total_pages -= c.pages;
            self.machine.obj_drop(c.obj);
        }
    }

    /// Drop least recently used entries until `pages` more fit under the limit.
    fn page_cache_make_room(&mut self, pages: u64) {
        while self.page_cache.total_pages + pages > LIMIT_PAGES {
            let Some((&oldest, _)) = self.page_cache.files.iter().min_by_key(|(_, c)| c.used)
            else {
                return;
            };
            self.page_cache_drop(oldest);
        }
    }
}
