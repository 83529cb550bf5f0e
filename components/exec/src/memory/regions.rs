//! Which guest pages are mapped, with what protection, and what backs them: non-overlapping
//! ranges of page numbers. This is what lets a reservation of gigabytes cost one entry:
//! the page table only gets an entry when a page is first touched, and takes its
//! protection and its frame's origin from here.

use std::collections::BTreeMap;

use super::objects::ObjectId;

/// What a region's pages hold before they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Zero-filled anonymous memory.
    Anonymous,
    /// Pages of a memory object, starting with its page `first`: shared (MAP_SHARED:
    /// writes go to the object's frames) or private (copy-on-write over them).
    Object {
        obj: ObjectId,
        first: u64,
        shared: bool,
    },
}

impl Backing {
    /// The backing of the part of a region that starts `pages` pages later.
    fn advanced(self, pages: u64) -> Backing {
        match self {
            Backing::Anonymous => Backing::Anonymous,
            Backing::Object { obj, first, shared } => Backing::Object {
                obj,
                first: first + pages,
                shared,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// One past the last page.
    pub end: u64,
    /// mmap's PROT_* bits.
    pub prot: u8,
    pub backing: Backing,
}

#[derive(Clone, Debug, Default)]
pub struct Regions {
    /// First page -> region.
    map: BTreeMap<u64, Region>,
}

impl Regions {
    /// The region holding page `vpn` and its first page.
    pub fn find(&self, vpn: u64) -> Option<(u64, Region)> {
        let (&start, &r) = self.map.range(..=vpn).next_back()?;
        (r.end > vpn).then_some((start, r))
    }

    /// Makes `at` a region boundary.
    fn split(&mut self, at: u64) {
        if let Some((&start, &r)) = self.map.range(..at).next_back()
            && r.end > at
        {
            self.map.insert(start, Region { end: at, ..r });
            self.map.insert(
                at,
                Region {
                    backing: r.backing.advanced(at - start),
                    ..r
                },
            );
        }
    }

    /// Unmaps pages `[start, end)`.
    pub fn remove(&mut self, start: u64, end: u64) {
        self.split(start);
        self.split(end);
        let inside: Vec<u64> = self.map.range(start..end).map(|(&s, _)| s).collect();
        for s in inside {
            self.map.remove(&s);
        }
    }

    /// Maps pages `[start, end)` with `prot` and `backing`, replacing what was there.
    pub fn insert(&mut self, start: u64, end: u64, prot: u8, backing: Backing) {
        self.remove(start, end);
        self.map.insert(start, Region { end, prot, backing });
        self.merge_around(start, end);
    }

    /// The objects the regions map (with repeats).
    pub fn objects(&self) -> impl Iterator<Item = ObjectId> + '_ {
        self.map.values().filter_map(|r| match r.backing {
            Backing::Object { obj, .. } => Some(obj),
            Backing::Anonymous => None,
        })
    }

    /// Whether every page of `[start, end)` is mapped.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        while at < end {
            match self.map.range(..=at).next_back() {
                Some((_, r)) if r.end > at => at = r.end,
                _ => return false,
            }
        }
        true
    }

    /// Changes the protection of `[start, end)`, which must be mapped (checked by the
    /// caller with `covers`).
    pub fn protect(&mut self, start: u64, end: u64, prot: u8) {
        self.split(start);
        self.split(end);
        for (_, r) in self.map.range_mut(start..end) {
            r.prot = prot;
        }
        self.merge_around(start, end);
    }

    /// Joins neighbours that continue each other (same protection, and the same object at
    /// consecutive pages), so that repeated mprotects of a heap do not leave thousands of
    /// one-page regions.
    fn merge_around(&mut self, start: u64, end: u64) {
        let mut cur = self
            .map
            .range(..start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        while let Some(&r) = self.map.get(&cur) {
            if let Some(&next) = self.map.get(&r.end)
                && next.prot == r.prot
                && next.backing == r.backing.advanced(r.end - cur)
            {
                self.map.remove(&r.end);
                self.map.insert(cur, Region { end: next.end, ..r });
                continue;
            }
            match self.map.range(cur + 1..).next() {
                Some((&k, _)) if k <= end => cur = k,
                _ => break,
            }
        }
    }

    #[cfg(test)]
    fn list(&self) -> Vec<(u64, u64, u8)> {
        self.map.iter().map(|(&s, r)| (s, r.end, r.prot)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANON: Backing = Backing::Anonymous;

    #[test]
    fn insert_remove_protect_merge() {
        let mut r = Regions::default();
        r.insert(10, 20, 3, ANON);
        r.insert(20, 30, 3, ANON);
        assert_eq!(r.list(), vec![(10, 30, 3)]);
        r.protect(15, 16, 1);
        assert_eq!(r.list(), vec![(10, 15, 3), (15, 16, 1), (16, 30, 3)]);
        assert_eq!(r.find(15).map(|(_, r)| r.prot), Some(1));
        assert_eq!(r.find(30), None);
        r.protect(15, 16, 3);
        assert_eq!(r.list(), vec![(10, 30, 3)]);
        r.remove(12, 14);
        assert_eq!(r.list(), vec![(10, 12, 3), (14, 30, 3)]);
        assert!(!r.covers(10, 15));
        assert!(r.covers(14, 30));
        r.insert(0, 1 << 35, 0, ANON);
        assert_eq!(r.list(), vec![(0, 1 << 35, 0)]);
    }

    #[test]
    fn object_regions_split_and_merge_by_offset() {
        let mut r = Regions::default();
        let obj = |first| Backing::Object {
            obj: 7,
            first,
            shared: true,
        };
        r.insert(100, 110, 3, obj(0));
        r.protect(104, 106, 1);
        assert_eq!(
            r.find(105).unwrap(),
            (
                104,
                Region {
                    end: 106,
                    prot: 1,
                    backing: obj(4)
                }
            )
        );
        assert_eq!(r.find(108).unwrap().1.backing, obj(6));
        r.protect(104, 106, 3);
        assert_eq!(r.list(), vec![(100, 110, 3)]);
        // The same object mapped again right after, but not continuing it: no merge.
        r.insert(110, 112, 3, obj(0));
        assert_eq!(r.list(), vec![(100, 110, 3), (110, 112, 3)]);
        r.remove(102, 111);
        assert_eq!(
            r.find(111).unwrap(),
            (
                111,
                Region {
                    end: 112,
                    prot: 3,
                    backing: obj(1)
                }
            )
        );
    }
}
