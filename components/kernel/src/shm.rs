//! MAP_SHARED memory between processes (mmap(2)): anonymous shared mappings inherited
//! across fork, and shared mappings of a file, seen alike by every process that maps them.
//!
//! exec gives every address space its own arena and has no notion of a page frame shared
//! by two spaces, so the kernel keeps coherence itself, by copying at context switch. Each
//! shared memory object (one per anonymous MAP_SHARED mmap, one per mapped file inode)
//! holds a copy of its contents and remembers its *owner*: the address space that ran last
//! with it mapped, whose pages are the newest version. Before a process runs, every object
//! it maps and does not own is brought up to date: the owner's mappings are copied into
//! the object, the object into this process's mappings, and this process becomes the
//! owner. Only one guest thread runs at a time, so no one else can see the pages in
//! between. A process that is alone with its objects (the usual case) pays nothing; two
//! processes taking turns on an object pay two copies of its mapped bytes per switch.
//!
//! Futexes in shared mappings are keyed by (object, offset), so waiters in different
//! processes meet. A shared file mapping is written back to the file on msync, on munmap
//! and when the last mapping of it goes (exit, execve).
//!
//! Limits: two mappings of one object in the same process are not kept coherent with each
//! other between switches; read(2)/write(2) of a file see its shared mappings' changes
//! only after msync or munmap; mremap cannot move or grow a shared mapping (ENOMEM).

use std::collections::{BTreeMap, HashMap};

use friscy_abi::Errno;
use friscy_exec::{Prot, SpaceId};
use friscy_vfs::Ino;

use crate::Kernel;

/// A shared memory object.
#[derive(Debug)]
struct Object {
    /// The contents as of the last copy out of the owner's mappings.
    data: Vec<u8>,
    /// The file behind it (a shared file mapping).
    file: Option<Ino>,
    /// The address space whose mappings hold the newest contents.
    owner: Option<SpaceId>,
}

/// A range of an address space mapping part of an object.
#[derive(Clone, Copy, Debug)]
struct Attach {
    end: u64,
    obj: u64,
    /// Where `start` falls in the object.
    offset: u64,
    prot: Prot,
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

    /// fork(2): the child maps what the parent maps. Its pages are a copy of the parent's,
    /// so they already hold the contents; the parent stays the owner.
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

    /// mprotect(2) of [start, end) in `space`: the copies need it to lift it briefly.
    pub fn protect(&mut self, space: SpaceId, start: u64, end: u64, prot: Prot) {
        if !self.overlaps(space, start, end) {
            return;
        }
        self.split_at(space, start);
        self.split_at(space, end);
        for (_, a) in self.maps.range_mut((space, start)..(space, end)) {
            a.prot = prot;
        }
    }
}

impl Kernel {
    /// A new anonymous shared object of `len` zero bytes, mapped at [start, end) of
    /// `space` (already mapped, zero-filled, in exec).
    pub fn shm_map_anonymous(&mut self, space: SpaceId, start: u64, end: u64, prot: Prot) {
        let shm = &mut self.shm;
        let id = shm.next_id;
        shm.next_id += 1;
        shm.objects.insert(
            id,
            Object {
                data: vec![0; (end - start) as usize],
                file: None,
                owner: Some(space),
            },
        );
        shm.maps.insert(
            (space, start),
            Attach {
                end,
                obj: id,
                offset: 0,
                prot,
            },
        );
    }

    /// Map [start, end) of `space` (already mapped in exec) to the file `ino` from
    /// `offset`, sharing the pages every other shared mapping of the file has.
    pub fn shm_map_file(
        &mut self,
        space: SpaceId,
        start: u64,
        end: u64,
        prot: Prot,
        ino: Ino,
        offset: u64,
    ) -> Result<(), Errno> {
        let id = match self.shm.files.get(&ino) {
            Some(&id) => id,
            None => {
                let id = self.shm.next_id;
                self.shm.next_id += 1;
                self.shm.objects.insert(
                    id,
                    Object {
                        data: Vec::new(),
                        file: Some(ino),
                        owner: None,
                    },
                );
                self.shm.files.insert(ino, id);
                id
            }
        };
        // Bring the object up to date, then extend it with the file's bytes (zeros past
        // its end) if this mapping reaches further than the others.
        self.shm_flush(id);
        let want = (offset + (end - start)) as usize;
        let have = self.shm.objects[&id].data.len();
        if want > have {
            let mut more = Vec::with_capacity(want - have);
            while more.len() < want - have {
                let at = (have + more.len()) as u64;
                let chunk =
                    self.fs
                        .read(ino, at, (want - have - more.len()).min(1 << 20) as u32)?;
                if chunk.is_empty() {
                    break;
                }
                more.extend(chunk);
            }
            more.resize(want - have, 0);
            self.shm.objects.get_mut(&id).unwrap().data.extend(more);
        }
        let a = Attach {
            end,
            obj: id,
            offset,
            prot,
        };
        self.shm.maps.insert((space, start), a);
        self.shm_load(space, start, a);
        self.shm.objects.get_mut(&id).unwrap().owner = Some(space);
        Ok(())
    }

    /// Before `space` runs: bring every object it maps and does not own up to date in its
    /// mappings (see the module comment).
    pub fn shm_switch_to(&mut self, space: SpaceId) {
        if self.shm.maps.is_empty() {
            return;
        }
        let mine: Vec<(u64, Attach)> = self
            .shm
            .maps
            .range((space, 0)..=(space, u64::MAX))
            .map(|((_, addr), a)| (*addr, *a))
            .collect();
        let mut done: Vec<u64> = Vec::new();
        for (_, a) in &mine {
            if done.contains(&a.obj) || self.shm.objects[&a.obj].owner == Some(space) {
                continue;
            }
            done.push(a.obj);
            self.shm_flush(a.obj);
            for (addr, b) in mine.iter().filter(|(_, b)| b.obj == a.obj) {
                self.shm_load(space, *addr, *b);
            }
            self.shm.objects.get_mut(&a.obj).unwrap().owner = Some(space);
        }
    }

    /// Copy the owner's mappings of object `id` into it; afterwards the object is as new
    /// as any mapping of it.
    fn shm_flush(&mut self, id: u64) {
        let Some(owner) = self.shm.objects.get(&id).and_then(|o| o.owner) else {
            return;
        };
        let theirs: Vec<(u64, Attach)> = self
            .shm
            .maps
            .range((owner, 0)..=(owner, u64::MAX))
            .filter(|(_, a)| a.obj == id)
            .map(|((_, addr), a)| (*addr, *a))
            .collect();
        for (addr, a) in theirs {
            let mut buf = vec![0; (a.end - addr) as usize];
            self.with_access(owner, addr, &a, Prot::READ, |m| {
                m.read(owner, addr, &mut buf)
            });
            let obj = self.shm.objects.get_mut(&id).unwrap();
            let at = a.offset as usize;
            obj.data[at..at + buf.len()].copy_from_slice(&buf);
        }
    }

    /// Copy object contents into one mapping.
    fn shm_load(&mut self, space: SpaceId, addr: u64, a: Attach) {
        let at = a.offset as usize;
        let data = self.shm.objects[&a.obj].data[at..at + (a.end - addr) as usize].to_vec();
        self.with_access(space, addr, &a, Prot::WRITE, |m| {
            m.write(space, addr, &data)
        });
    }

    /// Run a copy on a mapping with `need` granted for its duration (the kernel copies
    /// through the guest's view, which a PROT_READ or PROT_NONE mapping would refuse).
    fn with_access<T, E>(
        &mut self,
        space: SpaceId,
        addr: u64,
        a: &Attach,
        need: Prot,
        f: impl FnOnce(&mut dyn friscy_exec::Machine) -> Result<T, E>,
    ) {
        let len = a.end - addr;
        let lift = !a.prot.contains(need);
        if lift {
            let _ = self.machine.protect(space, addr, len, a.prot | need);
        }
        // The range is mapped (the kernel's map says so), so the copy cannot fault.
        let _ = f(&mut *self.machine);
        if lift {
            let _ = self.machine.protect(space, addr, len, a.prot);
        }
    }

    /// Write a file object's contents back to its file, within the file's size (a mapping
    /// does not extend a file).
    fn shm_write_back(&mut self, id: u64) -> Result<(), Errno> {
        let Some(ino) = self.shm.objects.get(&id).and_then(|o| o.file) else {
            return Ok(());
        };
        let size = self.fs.stat(ino)?.size as usize;
        let obj = &self.shm.objects[&id];
        let n = size.min(obj.data.len());
        if n > 0 {
            let data = obj.data[..n].to_vec();
            self.fs.write(ino, 0, &data)?;
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
        ids.dedup();
        for id in ids {
            self.shm_flush(id);
            self.shm_write_back(id)?;
        }
        Ok(())
    }

    /// [start, end) of `space` is about to be unmapped (munmap, MAP_FIXED over it, brk,
    /// mremap): keep what its shared mappings hold, write files back, and forget objects
    /// mapped nowhere any more.
    pub fn shm_unmap(&mut self, space: SpaceId, start: u64, end: u64) {
        let hit = self.shm.overlapping(space, start, end);
        if hit.is_empty() {
            return;
        }
        let mut ids: Vec<u64> = hit.iter().map(|(_, a)| a.obj).collect();
        ids.sort_unstable();
        ids.dedup();
        for &id in &ids {
            self.shm_flush(id);
        }
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

    /// Write back, and forget those of `ids` that are mapped nowhere any more; owners whose
    /// mappings are gone give up ownership (the object holds the contents now).
    fn shm_release(&mut self, ids: &[u64]) {
        for &id in ids {
            if self.shm_write_back(id).is_err() && self.trace {
                self.report("MAP_SHARED: writing a file mapping back to its file failed");
            }
            let owner = self.shm.objects[&id].owner;
            let mapped = |s: Option<SpaceId>| {
                self.shm
                    .maps
                    .iter()
                    .any(|((sp, _), a)| a.obj == id && s.is_none_or(|s| *sp == s))
            };
            if !mapped(None) {
                let obj = self.shm.objects.remove(&id).unwrap();
                if let Some(ino) = obj.file {
                    self.shm.files.remove(&ino);
                }
            } else if owner.is_some() && !mapped(owner) {
                self.shm.objects.get_mut(&id).unwrap().owner = None;
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
            prot: Prot::READ,
        };
        shm.maps.insert((1, 0x2000), a);
        assert_eq!(shm.key_of(1, 0x2010), Some((7, 0x1010)));
        assert_eq!(shm.key_of(1, 0x5000), None);
        assert_eq!(shm.key_of(2, 0x2010), None);
        shm.protect(1, 0x3000, 0x4000, Prot::WRITE);
        assert_eq!(shm.maps.len(), 3);
        assert_eq!(shm.maps[&(1, 0x3000)].offset, 0x2000);
        assert_eq!(shm.maps[&(1, 0x3000)].prot, Prot::WRITE);
        assert_eq!(shm.key_of(1, 0x4008), Some((7, 0x3008)));
        shm.fork(1, 2);
        assert_eq!(shm.key_of(2, 0x4008), Some((7, 0x3008)));
        assert!(shm.overlaps(2, 0x4fff, 0x6000));
        assert!(!shm.overlaps(2, 0x5000, 0x6000));
    }
}
