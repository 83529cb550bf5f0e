//! MAP_SHARED memory between processes (mmap(2)): anonymous shared mappings inherited
//! across fork, and shared mappings of a file, seen alike by every process that maps them.
//!
//! The pages are exec's: each shared memory object (one per anonymous MAP_SHARED mmap, one
//! per file with shared mappings) is an exec memory object (frames that several mappings
//! share), and every mapping of it is a shared mapping of those frames (`map-object`), so
//! a store through any mapping, in any process, is seen at once by every other, as on
//! Linux; a fork shares them too. This module keeps the kernel's side: which object each
//! shared range maps and at what offset (futex keys, msync, write-back), the file behind
//! a file object, and the objects' lifetimes.
//!
//! Futexes in shared mappings are keyed by (object, offset), so waiters in different
//! processes meet. A file object holds the pages some mapping of it covers, read from the
//! file when a mapping first covers them (`PageRanges`: a mapping at a high offset of a
//! large file reads its own range only, and a sparse file's holes take no frames);
//! write(2) to the file updates those pages and read(2) of the file sees them
//! (`shm_file_written`, `shm_file_overlay`), and the ones that differ from the file go
//! back to it on msync, on munmap and when the last mapping of it goes (exit, execve).
//!
//! Limits: mremap cannot move or grow a shared mapping (ENOMEM); ftruncate does not shrink
//! a mapped file's object (pages past the new end stay readable instead of SIGBUS).

use std::collections::{BTreeMap, HashMap};

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::{ObjId, Prot, SpaceId};
use friscy_vfs::Ino;

use crate::Kernel;

/// A shared memory object.
#[derive(Debug)]
struct Object {
    /// exec's memory object.
    exec: ObjId,
    /// Its size in pages.
    pages: u64,
    /// The file behind it (a shared file mapping).
    file: Option<Ino>,
    /// A System V segment holds it (syscalls/sysv_shm.rs): it stays while unmapped.
    pinned: bool,
    /// A file object: the pages read from the file so far (those some mapping covers);
    /// the rest are zero and neither shown to read(2) nor written back.
    filled: PageRanges,
}

/// Disjoint page ranges, [start, end), by start.
#[derive(Debug, Default)]
struct PageRanges(BTreeMap<u64, u64>);

impl PageRanges {
    /// The parts of [lo, hi) not in the set, in order.
    fn gaps(&self, lo: u64, hi: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut at = lo;
        for (s, e) in self.overlapping(lo, hi) {
            if s > at {
                out.push((at, s));
            }
            at = at.max(e);
        }
        if at < hi {
            out.push((at, hi));
        }
        out
    }
    /// The set's ranges that overlap [lo, hi), clipped to it.
    fn overlapping(&self, lo: u64, hi: u64) -> Vec<(u64, u64)> {
        let before = self.0.range(..lo).next_back().filter(|(_, e)| **e > lo);
        before
            .into_iter()
            .chain(self.0.range(lo..hi))
            .map(|(&s, &e)| (s.max(lo), e.min(hi)))
            .filter(|(s, e)| s < e)
            .collect()
    }
    fn add(&mut self, lo: u64, hi: u64) {
        let (mut lo, mut hi) = (lo, hi);
        let touching: Vec<(u64, u64)> = self
            .0
            .range(..=hi)
            .filter(|(_, e)| **e >= lo)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.0.remove(&s);
            lo = lo.min(s);
            hi = hi.max(e);
        }
        self.0.insert(lo, hi);
    }
    /// The byte ranges of the set that overlap bytes [lo, hi), clipped to them.
    fn bytes_overlapping(&self, lo: u64, hi: u64) -> Vec<(u64, u64)> {
        self.overlapping(lo / PAGE_SIZE, hi.div_ceil(PAGE_SIZE))
            .into_iter()
            .map(|(s, e)| ((s * PAGE_SIZE).max(lo), (e * PAGE_SIZE).min(hi)))
            .filter(|(s, e)| s < e)
            .collect()
    }
}

/// A range of an address space mapping part of an object.
#[derive(Clone, Copy, Debug)]
struct Attach {
    end: u64,
    obj: u64,
    /// Where `start` falls in the object.
    offset: u64,
}

/// Every shared memory object and where each is mapped.
#[derive(Debug, Default)]
pub struct SharedMemory {
    objects: HashMap<u64, Object>,
    files: HashMap<Ino, u64>,
    /// (space, start) -> mapping; a space's mappings never overlap.
    maps: BTreeMap<(SpaceId, u64), Attach>,
    next_id: u64,
}

impl SharedMemory {
    /// The mappings of `space` that overlap [start, end).
    fn overlapping(&self, space: SpaceId, start: u64, end: u64) -> Vec<(u64, Attach)> {
        let first = self
            .maps
            .range(..(space, start))
            .next_back()
            .filter(|((s, _), a)| *s == space && a.end > start)
            .map(|((_, addr), a)| (*addr, *a));
        first
            .into_iter()
            .chain(
                self.maps
                    .range((space, start)..(space, end.max(start)))
                    .map(|((_, addr), a)| (*addr, *a)),
            )
            .collect()
    }

    /// Whether any of [start, end) in `space` is a shared mapping.
    pub fn overlaps(&self, space: SpaceId, start: u64, end: u64) -> bool {
        !self.overlapping(space, start, end).is_empty()
    }

    /// Split the mapping of `space` around `at` so that `at` is a boundary.
    fn split_at(&mut self, space: SpaceId, at: u64) {
        let Some((&(s, start), &a)) = self.maps.range(..(space, at)).next_back() else {
            return;
        };
        if s == space && a.end > at {
            self.maps.get_mut(&(s, start)).unwrap().end = at;
            let tail = Attach {
                offset: a.offset + (at - start),
                ..a
            };
            self.maps.insert((space, at), tail);
        }
    }

    /// The object and offset behind `addr` in `space`, if it is shared (futex keys).
    pub fn key_of(&self, space: SpaceId, addr: u64) -> Option<(u64, u64)> {
        let ((s, start), a) = self.maps.range(..=(space, addr)).next_back()?;
        (*s == space && a.end > addr).then(|| (a.obj, a.offset + (addr - start)))
    }

    /// How many attaches `obj` has: its mappings that start at its first byte.
    pub fn attaches(&self, obj: u64) -> usize {
        self.maps
            .values()
            .filter(|a| a.obj == obj && a.offset == 0)
            .count()
    }

    /// Whether the object still exists.
    pub fn exists(&self, obj: u64) -> bool {
        self.objects.contains_key(&obj)
    }

    /// Whether `obj` is attached at `addr` of `space` from its first byte.
    pub fn attached_at(&self, space: SpaceId, addr: u64, obj: u64) -> bool {
        self.maps
            .get(&(space, addr))
            .is_some_and(|a| a.obj == obj && a.offset == 0)
    }

    /// The ranges of [start, end) in `space` that map `obj`, clipped to it.
    pub fn pieces_of(&self, space: SpaceId, start: u64, end: u64, obj: u64) -> Vec<(u64, u64)> {
        self.overlapping(space, start, end)
            .into_iter()
            .filter(|(_, a)| a.obj == obj)
            .map(|(s, a)| (s.max(start), a.end.min(end)))
            .collect()
    }

    /// fork(2): the child maps what the parent maps (exec's fork shares the frames).
    pub fn fork(&mut self, parent: SpaceId, child: SpaceId) {
        let copies: Vec<(u64, Attach)> = self
            .maps
            .range((parent, 0)..=(parent, u64::MAX))
            .map(|((_, addr), a)| (*addr, *a))
            .collect();
        for (addr, a) in copies {
            self.maps.insert((child, addr), a);
        }
    }
}

impl Kernel {
    fn shm_new_object(&mut self, pages: u64, file: Option<Ino>) -> u64 {
        let exec = self.machine.obj_create(pages);
        let id = self.shm.next_id;
        self.shm.next_id += 1;
        self.shm.objects.insert(
            id,
            Object {
                exec,
                pages,
                file,
                pinned: false,
                filled: PageRanges::default(),
            },
        );
        id
    }

    /// A System V segment's object: zero pages that stay while nothing maps them, until
    /// `shm_release_segment_object`.
    pub fn shm_new_segment_object(&mut self, pages: u64) -> u64 {
        let id = self.shm_new_object(pages, None);
        self.shm.objects.get_mut(&id).expect("object").pinned = true;
        id
    }

    /// IPC_RMID: the segment's object goes now if nothing maps it, else with its last
    /// mapping.
    pub fn shm_release_segment_object(&mut self, obj: u64) {
        if let Some(o) = self.shm.objects.get_mut(&obj) {
            o.pinned = false;
            self.shm_release(&[obj]);
        }
    }

    /// Map [start, end) of `space` to `obj` from byte `offset`, shared (mmap; shmat with
    /// offset 0).
    pub(crate) fn shm_attach(
        &mut self,
        space: SpaceId,
        start: u64,
        end: u64,
        prot: Prot,
        obj: u64,
        offset: u64,
    ) -> Result<(), Errno> {
        let exec = self.shm.objects[&obj].exec;
        self.machine
            .map_object(
                space,
                start,
                end - start,
                prot,
                exec,
                offset / PAGE_SIZE,
                true,
            )
            .map_err(|_| Errno::ENOMEM)?;
        self.shm
            .maps
            .insert((space, start), Attach { end, obj, offset });
        Ok(())
    }

    /// A new anonymous shared object of `end - start` zero bytes, mapped at [start, end)
    /// of `space`.
    pub fn shm_map_anonymous(
        &mut self,
        space: SpaceId,
        start: u64,
        end: u64,
        prot: Prot,
    ) -> Result<(), Errno> {
        let id = self.shm_new_object((end - start) / PAGE_SIZE, None);
        self.shm_attach(space, start, end, prot, id, 0)
    }

    /// Map [start, end) of `space` to the file `ino` from `offset`, sharing the pages every
    /// other shared mapping of the file has.
    pub fn shm_map_file(
        &mut self,
        space: SpaceId,
        start: u64,
        end: u64,
        prot: Prot,
        ino: Ino,
        offset: u64,
    ) -> Result<(), Errno> {
        let want = (offset + (end - start)) / PAGE_SIZE;
        let id = match self.shm.files.get(&ino) {
            Some(&id) => id,
            None => {
                let id = self.shm_new_object(0, Some(ino));
                self.shm.files.insert(ino, id);
                id
            }
        };
        // Grow the object if this mapping reaches further than the others, and read the
        // file's bytes (zeros past its end) into the pages it covers that no other mapping
        // covered: a mapping at a high offset of a large file reads only its own range.
        let (have, exec) = (self.shm.objects[&id].pages, self.shm.objects[&id].exec);
        let first = offset / PAGE_SIZE;
        let gaps = self.shm.objects[&id].filled.gaps(first, want);
        let mut made = if want > have {
            self.machine
                .obj_resize(exec, want)
                .map_err(|_| Errno::ENOMEM)
        } else {
            Ok(())
        };
        for &(lo, hi) in &gaps {
            if made.is_ok() {
                made = self.shm_fill(exec, ino, lo * PAGE_SIZE, hi * PAGE_SIZE);
            }
        }
        if let Err(e) = made {
            // Nothing maps the new pages yet: give back what they took (zero them, shrink
            // the object), and the whole object if this mapping was to be its first (no
            // write-back: nothing was stored through it).
            for &(lo, hi) in gaps.iter().filter(|(lo, _)| *lo < have) {
                let hi = hi.min(have);
                let zeros = vec![0; ((hi - lo) * PAGE_SIZE) as usize];
                let _ = self.machine.obj_write(exec, lo * PAGE_SIZE, &zeros);
            }
            let _ = self.machine.obj_resize(exec, have);
            if self.shm.objects[&id].filled.0.is_empty() {
                self.machine.obj_drop(exec);
                self.shm.objects.remove(&id);
                self.shm.files.remove(&ino);
            }
            return Err(e);
        }
        let obj = self.shm.objects.get_mut(&id).unwrap();
        obj.pages = obj.pages.max(want);
        obj.filled.add(first, want);
        self.shm_attach(space, start, end, prot, id, offset)
    }

    /// Copies bytes [at, stop) of file `ino` into object `exec`. Runs of zeros (a sparse
    /// file's holes, a file's end) are skipped: the object's pages read as zero until
    /// written, so they cost no frames.
    fn shm_fill(&mut self, exec: ObjId, ino: Ino, mut at: u64, stop: u64) -> Result<(), Errno> {
        while at < stop {
            let chunk = self.fs.read(ino, at, (stop - at).min(1 << 20) as u32)?;
            if chunk.is_empty() {
                break;
            }
            for (i, page) in chunk.chunks(PAGE_SIZE as usize).enumerate() {
                if page.iter().any(|&b| b != 0) {
                    self.machine
                        .obj_write(exec, at + i as u64 * PAGE_SIZE, page)
                        .map_err(|_| Errno::ENOMEM)?;
                }
            }
            at += chunk.len() as u64;
        }
        Ok(())
    }

    /// Whether `ino` has MAP_SHARED mappings (whose pages this module owns).
    pub fn shm_has_file(&self, ino: Ino) -> bool {
        self.shm.files.contains_key(&ino)
    }

    /// write(2) of `data` at `offset` to file `ino`: its shared mappings see it.
    pub fn shm_file_written(&mut self, ino: Ino, offset: u64, data: &[u8]) {
        let Some(obj) = self.shm.files.get(&ino).map(|id| &self.shm.objects[id]) else {
            return;
        };
        let exec = obj.exec;
        for (lo, hi) in obj
            .filled
            .bytes_overlapping(offset, offset + data.len() as u64)
        {
            let _ = self.machine.obj_write(
                exec,
                lo,
                &data[(lo - offset) as usize..(hi - offset) as usize],
            );
        }
    }

    /// read(2) of file `ino` at `offset` returned `data`: the newest bytes are in its
    /// shared mappings, if it has any.
    pub fn shm_file_overlay(&mut self, ino: Ino, offset: u64, data: &mut [u8]) {
        let Some(obj) = self.shm.files.get(&ino).map(|id| &self.shm.objects[id]) else {
            return;
        };
        let exec = obj.exec;
        for (lo, hi) in obj
            .filled
            .bytes_overlapping(offset, offset + data.len() as u64)
        {
            let part = &mut data[(lo - offset) as usize..(hi - offset) as usize];
            let _ = self.machine.obj_read(exec, lo, part);
        }
    }

    /// Write a file object's contents back to its file, within the file's size (a mapping
    /// does not extend a file).
    fn shm_write_back(&mut self, id: u64) -> Result<(), Errno> {
        let Some(obj) = self.shm.objects.get(&id) else {
            return Ok(());
        };
        let (Some(ino), exec) = (obj.file, obj.exec) else {
            return Ok(());
        };
        let size = self.fs.stat(ino)?.size;
        for (lo, hi) in obj.filled.bytes_overlapping(0, size) {
            self.shm_write_back_range(ino, exec, lo, hi)?;
        }
        Ok(())
    }

    /// Writes bytes [at, stop) of a file object back to its file.
    fn shm_write_back_range(
        &mut self,
        ino: Ino,
        exec: ObjId,
        mut at: u64,
        stop: u64,
    ) -> Result<(), Errno> {
        while at < stop {
            let n = (stop - at).min(1 << 20);
            let mut buf = vec![0; n as usize];
            self.machine
                .obj_read(exec, at, &mut buf)
                .map_err(|_| Errno::EIO)?;
            // Only the pages that differ from the file are written: a sparse file keeps
            // its holes, and a large mapping with a few stores costs a few writes.
            let old = self.fs.read(ino, at, n as u32)?;
            let page = PAGE_SIZE as usize;
            let differs = |i: usize| {
                buf[i * page..((i + 1) * page).min(buf.len())]
                    != *old
                        .get(i * page..((i + 1) * page).min(buf.len()))
                        .unwrap_or(&[])
            };
            let count = buf.len().div_ceil(page);
            let mut i = 0;
            while i < count {
                if !differs(i) {
                    i += 1;
                    continue;
                }
                let first = i;
                while i < count && differs(i) {
                    i += 1;
                }
                let range = first * page..(i * page).min(buf.len());
                self.fs.write(ino, at + range.start as u64, &buf[range])?;
            }
            at += n;
        }
        Ok(())
    }

    /// msync(2) of [start, end) in `space`: write the file mappings in it back.
    pub fn shm_sync(&mut self, space: SpaceId, start: u64, end: u64) -> Result<(), Errno> {
        let mut ids: Vec<u64> = self
            .shm
            .overlapping(space, start, end)
            .iter()
            .map(|(_, a)| a.obj)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            self.shm_write_back(id)?;
        }
        Ok(())
    }

    /// [start, end) of `space` is about to be unmapped (munmap, MAP_FIXED over it, brk,
    /// mremap): write files back, and forget objects mapped nowhere any more.
    pub fn shm_unmap(&mut self, space: SpaceId, start: u64, end: u64) {
        let hit = self.shm.overlapping(space, start, end);
        if hit.is_empty() {
            return;
        }
        let mut ids: Vec<u64> = hit.iter().map(|(_, a)| a.obj).collect();
        ids.sort_unstable();
        ids.dedup();
        self.shm.split_at(space, start);
        self.shm.split_at(space, end);
        let doomed: Vec<(SpaceId, u64)> = self
            .shm
            .maps
            .range((space, start)..(space, end))
            .map(|(k, _)| *k)
            .collect();
        for k in doomed {
            self.shm.maps.remove(&k);
        }
        self.shm_release(&ids);
    }

    /// `space` is going away (exit, execve): its mappings end as by munmap.
    pub fn shm_drop_space(&mut self, space: SpaceId) {
        self.shm_unmap(space, 0, u64::MAX);
    }

    /// Write back, and forget those of `ids` that are mapped nowhere any more.
    fn shm_release(&mut self, ids: &[u64]) {
        for &id in ids {
            if self.shm_write_back(id).is_err() && self.trace {
                self.report("MAP_SHARED: writing a file mapping back to its file failed");
            }
            if !self.shm.objects[&id].pinned && !self.shm.maps.values().any(|a| a.obj == id) {
                let obj = self.shm.objects.remove(&id).unwrap();
                self.machine.obj_drop(obj.exec);
                if let Some(ino) = obj.file {
                    self.shm.files.remove(&ino);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges_merge_and_report_gaps() {
        let mut r = PageRanges::default();
        assert_eq!(r.gaps(0, 10), [(0, 10)]);
        r.add(2, 4);
        r.add(6, 8);
        assert_eq!(r.gaps(0, 10), [(0, 2), (4, 6), (8, 10)]);
        assert_eq!(r.gaps(3, 7), [(4, 6)]);
        assert_eq!(r.overlapping(3, 7), [(3, 4), (6, 7)]);
        r.add(4, 6); // touching both: one range
        assert_eq!(r.0.iter().collect::<Vec<_>>(), [(&2, &8)]);
        assert_eq!(r.gaps(2, 8), []);
        let p = PAGE_SIZE;
        assert_eq!(r.bytes_overlapping(0, 3 * p + 5), [(2 * p, 3 * p + 5)]);
        assert_eq!(r.bytes_overlapping(8 * p, 9 * p), []);
    }

    #[test]
    fn keys_split_and_fork() {
        let mut shm = SharedMemory::default();
        let a = Attach {
            end: 0x5000,
            obj: 7,
            offset: 0x1000,
        };
        shm.maps.insert((1, 0x2000), a);
        assert_eq!(shm.key_of(1, 0x2010), Some((7, 0x1010)));
        assert_eq!(shm.key_of(1, 0x5000), None);
        assert_eq!(shm.key_of(2, 0x2010), None);
        shm.split_at(1, 0x3000);
        shm.split_at(1, 0x4000);
        assert_eq!(shm.maps.len(), 3);
        assert_eq!(shm.maps[&(1, 0x3000)].offset, 0x2000);
        assert_eq!(shm.key_of(1, 0x4008), Some((7, 0x3008)));
        shm.fork(1, 2);
        assert_eq!(shm.key_of(2, 0x4008), Some((7, 0x3008)));
        assert!(shm.overlaps(2, 0x4fff, 0x6000));
        assert!(!shm.overlaps(2, 0x5000, 0x6000));
    }
}
