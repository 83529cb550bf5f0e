//! Which guest pages are mapped, and with what protection: non-overlapping ranges of page
//! numbers. This is what lets a reservation of gigabytes cost one entry: the page table
//! only gets an entry when a page is first touched, and takes its protection from here.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// One past the last page.
    pub end: u64,
    /// mmap's PROT_* bits.
    pub prot: u8,
}

#[derive(Clone, Debug, Default)]
pub struct Regions {
    /// First page -> region.
    map: BTreeMap<u64, Region>,
}

impl Regions {
    /// The protection of page `vpn`, if it is mapped.
    pub fn prot(&self, vpn: u64) -> Option<u8> {
        let (_, r) = self.map.range(..=vpn).next_back()?;
        (r.end > vpn).then_some(r.prot)
    }

    /// Makes `at` a region boundary.
    fn split(&mut self, at: u64) {
        if let Some((&start, &r)) = self.map.range(..at).next_back()
            && r.end > at
        {
            self.map.insert(start, Region { end: at, ..r });
            self.map.insert(at, r);
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

    /// Maps pages `[start, end)` with `prot`, replacing what was there.
    pub fn insert(&mut self, start: u64, end: u64, prot: u8) {
        self.remove(start, end);
        self.map.insert(start, Region { end, prot });
        self.merge_around(start, end);
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

    /// Joins neighbours with equal protection, so that repeated mprotects of a heap do not
    /// leave thousands of one-page regions.
    fn merge_around(&mut self, start: u64, end: u64) {
        let mut cur = self
            .map
            .range(..start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        while let Some(&r) = self.map.get(&cur) {
            if let Some(&next) = self.map.get(&r.end)
                && next.prot == r.prot
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

    #[test]
    fn insert_remove_protect_merge() {
        let mut r = Regions::default();
        r.insert(10, 20, 3);
        r.insert(20, 30, 3);
        assert_eq!(r.list(), vec![(10, 30, 3)]);
        r.protect(15, 16, 1);
        assert_eq!(r.list(), vec![(10, 15, 3), (15, 16, 1), (16, 30, 3)]);
        assert_eq!(r.prot(15), Some(1));
        assert_eq!(r.prot(30), None);
        r.protect(15, 16, 3);
        assert_eq!(r.list(), vec![(10, 30, 3)]);
        r.remove(12, 14);
        assert_eq!(r.list(), vec![(10, 12, 3), (14, 30, 3)]);
        assert!(!r.covers(10, 15));
        assert!(r.covers(14, 30));
        r.insert(0, 1 << 35, 0);
        assert_eq!(r.list(), vec![(0, 1 << 35, 0)]);
    }
}
