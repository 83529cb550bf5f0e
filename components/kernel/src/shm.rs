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
//! processes meet. A file object is filled from the file when first mapped and grown as
//! longer mappings appear; write(2) to the file updates it and read(2) of the file sees it
//! (`shm_file_written`, `shm_file_overlay`), and its contents go back to the file on
//! msync, on munmap and when the last mapping of it goes (exit, execve).
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
        // Extend the object with the file's bytes (zeros past its end) if this mapping
        // reaches further than the others.
        let have = self.shm.objects[&id].pages;
        if want > have {
            let exec = self.shm.objects[&id].exec;
            self.machine
                .obj_resize(exec, want)
                .map_err(|_| Errno::ENOMEM)?;
            self.shm.objects.get_mut(&id).unwrap().pages = want;
            let mut at = have * PAGE_SIZE;
            let stop = want * PAGE_SIZE;
            while at < stop {
                let chunk = self.fs.read(ino, at, (stop - at).min(1 << 20) as u32)?;
                if chunk.is_empty() {
                    break;
                }
                self.machine
                    .obj_write(exec, at, &chunk)
                    .map_err(|_| Errno::ENOMEM)?;
                at += chunk.len() as u64;
            }
        }
        self.shm_attach(space, start, end, prot, id, offset)
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
        let end = (obj.pages * PAGE_SIZE).min(offset + data.len() as u64);
        if offset < end {
            let _ = self
                .machine
                .obj_write(obj.exec, offset, &data[..(end - offset) as usize]);
        }
    }

    /// read(2) of file `ino` at `offset` returned `data`: the newest bytes are in its
    /// shared mappings, if it has any.
    pub fn shm_file_overlay(&mut self, ino: Ino, offset: u64, data: &mut [u8]) {
        let Some(obj) = self.shm.files.get(&ino).map(|id| &self.shm.objects[id]) else {
            return;
        };
        let end = (obj.pages * PAGE_SIZE).min(offset + data.len() as u64);
        if offset < end {
            let n = (end - offset) as usize;
            let _ = self.machine.obj_read(obj.exec, offset, &mut data[..n]);
        }
    }

    /// Write a file object's contents back to its file, within the file's size (a mapping
    /// does not extend a file).
    fn shm_write_back(&mut self, id: u64) -> Result<(), Errno> {
        let Some(obj) = self.shm.objects.get(&id) else {
            return Ok(());
        };
        let (Some(ino), exec, pages) = (obj.file, obj.exec, obj.pages) else {
            return Ok(());
        };
        let size = self.fs.stat(ino)?.size.min(pages * PAGE_SIZE);
        let mut at = 0;
        while at < size {
            let n = (size - at).min(1 << 20);
            let mut buf = vec![0; n as usize];
            self.machine
                .obj_read(exec, at, &mut buf)
                .map_err(|_| Errno::EIO)?;
            self.fs.write(ino, at, &buf)?;
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
