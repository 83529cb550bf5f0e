//! Regular-file contents with copy-on-write over the image: a file is an optional lower
//! file (a run of bytes in the tar, or a file of the host tree) plus the 4 KiB pages
//! written since (the upper layer). Copy-up is therefore per page and lazy: writing one byte of a 100 MiB lower file
//! copies one page. Pages never written read from the image, or as zeros past its part
//! (holes, so `truncate -s 1G` costs nothing).
//!
//! Invariants: `lower_len <= size`; bytes of a page beyond `size` are zero.

use crate::source::LowerLayer;
use friscy_abi::Errno;
use std::collections::BTreeMap;

pub(crate) const PAGE: usize = 4096;

/// Largest file size, as Linux's MAX_LFS_FILESIZE on 64-bit (write(2), truncate(2): EFBIG).
pub(crate) const MAX_SIZE: u64 = i64::MAX as u64;

#[derive(Clone, Debug, Default)]
pub(crate) struct FileData {
    /// The lower contents: a tar member's image offset, or a tree's file handle.
    lower_file: u64,
    /// How many bytes of the lower contents are still visible (shrinks on truncate).
    lower_len: u64,
    /// Written pages, by page index.
    pages: BTreeMap<u64, Box<[u8; PAGE]>>,
    size: u64,
}

impl FileData {
    /// A file whose contents are the first `len` bytes of lower file `file`.
    pub(crate) fn lower(file: u64, len: u64) -> FileData {
        FileData {
            lower_file: file,
            lower_len: len,
            pages: BTreeMap::new(),
            size: len,
        }
    }

    /// Whether this is still `base` (the same file as indexed from the image): nothing
    /// written, nothing truncated.
    pub(crate) fn is_unchanged_from(&self, base: &FileData) -> bool {
        self.pages.is_empty()
            && self.lower_file == base.lower_file
            && self.lower_len == base.lower_len
            && self.size == base.size
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The lower file and how many of its bytes show: all there is to a file that has not
    /// been written or truncated since it was indexed (a prebuilt index keeps only these).
    pub(crate) fn lower_extent(&self) -> (u64, u64) {
        debug_assert!(self.pages.is_empty() && self.size == self.lower_len);
        (self.lower_file, self.lower_len)
    }

    /// Up to `len` bytes at `offset` (fewer at the end of the file, none past it). Fails
    /// only when the lower layer cannot be read (a tree's host file gone: EIO).
    pub(crate) fn read<L: LowerLayer>(
        &self,
        lower: &mut L,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, Errno> {
        let n = self.size.saturating_sub(offset).min(len as u64) as usize;
        let mut out = vec![0u8; n];
        self.read_into(lower, offset, &mut out)?;
        Ok(out)
    }

    /// The bytes at `offset` into the front of `buf`; how many there were (fewer than
    /// `buf.len()` only at the end of the file).
    pub(crate) fn read_into<L: LowerLayer>(
        &self,
        lower: &mut L,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, Errno> {
        if offset >= self.size {
            return Ok(0);
        }
        let n = (self.size - offset).min(buf.len() as u64) as usize;
        let end = offset + n as u64;
        let out = &mut buf[..n];
        let mut m = 0;
        if offset < self.lower_len {
            m = (self.lower_len.min(end) - offset) as usize;
            lower.read_into(self.lower_file, offset, &mut out[..m])?;
        }
        // Past the image's part: the written pages below, zeros (holes) elsewhere.
        out[m..].fill(0);
        let first = offset / PAGE as u64;
        let last = (end - 1) / PAGE as u64;
        for (&idx, page) in self.pages.range(first..=last) {
            let page_start = idx * PAGE as u64;
            let from = offset.max(page_start);
            let to = end.min(page_start + PAGE as u64);
            out[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&page[(from - page_start) as usize..(to - page_start) as usize]);
        }
        Ok(n)
    }

    /// Pages written so far (the upper layer's share of this file).
    pub(crate) fn pages(&self) -> u64 {
        self.pages.len() as u64
    }

    /// The page `idx`, created from the image (or zeros) if not written before; None when
    /// the budget or the host's memory has no page left.
    fn page_mut<L: LowerLayer>(
        &mut self,
        lower: &mut L,
        idx: u64,
        budget: &mut Budget,
    ) -> Result<Option<&mut [u8; PAGE]>, Errno> {
        if !self.pages.contains_key(&idx) {
            if budget.used >= budget.capacity {
                return Ok(None);
            }
            let Some(mut page) = new_page() else {
                budget.host_refused = true;
                return Ok(None);
            };
            let start = idx * PAGE as u64;
            if start < self.lower_len {
                let m = (self.lower_len - start).min(PAGE as u64) as usize;
                lower.read_into(self.lower_file, start, &mut page[..m])?;
            }
            self.pages.insert(idx, page);
            budget.used += 1;
        }
        Ok(self.pages.get_mut(&idx).map(|p| &mut **p))
    }

    /// Write `data` at `offset`, growing the file, as far as the budget allows: returns
    /// the bytes written (fewer than asked when a page could not be had; the writable
    /// layer is full). The caller checks `MAX_SIZE`. A failed copy-up (the lower layer
    /// unreadable) writes nothing and leaves the size unchanged.
    pub(crate) fn write<L: LowerLayer>(
        &mut self,
        lower: &mut L,
        offset: u64,
        data: &[u8],
        budget: &mut Budget,
    ) -> Result<usize, Errno> {
        if data.is_empty() {
            return Ok(0);
        }
        // Copy up every page first, so that a failure writes nothing; stop at the first
        // page there is no room for.
        let first = offset / PAGE as u64;
        let last = (offset + data.len() as u64 - 1) / PAGE as u64;
        let mut end = offset + data.len() as u64;
        for idx in first..=last {
            if self.page_mut(lower, idx, budget)?.is_none() {
                end = idx * PAGE as u64;
                break;
            }
        }
        let len = end.saturating_sub(offset) as usize;
        let mut done = 0usize;
        while done < len {
            let pos = offset + done as u64;
            let idx = pos / PAGE as u64;
            let within = (pos % PAGE as u64) as usize;
            let n = (PAGE - within).min(len - done);
            let page = self.pages.get_mut(&idx).expect("copied up above");
            page[within..within + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        if len > 0 {
            self.size = self.size.max(offset + len as u64);
        }
        Ok(len)
    }

    /// truncate(2): shrink (dropping contents) or grow (with zeros). Returns the pages it
    /// dropped.
    pub(crate) fn truncate(&mut self, size: u64) -> u64 {
        let before = self.pages();
        if size < self.size {
            let within = (size % PAGE as u64) as usize;
            let idx = size / PAGE as u64;
            if within != 0 {
                // Keep the head of the boundary page, zero its tail.
                if let Some(page) = self.pages.get_mut(&idx) {
                    page[within..].fill(0);
                }
            }
            let keep_pages = size.div_ceil(PAGE as u64);
            self.pages.split_off(&keep_pages);
            self.lower_len = self.lower_len.min(size);
        }
        self.size = size;
        before - self.pages()
    }
}

/// The writable layer's page budget: pages in use across every file, and how many there
/// may be (`FRISCY_DISK`); past it writes fail with ENOSPC.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Budget {
    pub used: u64,
    pub capacity: u64,
    /// A page could not be allocated at all: the host's memory, not the budget, ran out.
    pub host_refused: bool,
}

impl Budget {
    /// No bound: for copies the writable layer accounts for afterwards (a layer applied
    /// at start-up, `Vfs::apply_layer`).
    pub(crate) fn unbounded() -> Budget {
        Budget {
            used: 0,
            capacity: u64::MAX,
            host_refused: false,
        }
    }
}

/// A zeroed page, or None when the host has no memory for one: the write that needed it
/// fails with ENOSPC instead of aborting the component (a full tmpfs, not a crash).
fn new_page() -> Option<Box<[u8; PAGE]>> {
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(PAGE).ok()?;
    v.resize(PAGE, 0);
    v.into_boxed_slice().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Img(Vec<u8>);
    impl LowerLayer for Img {
        fn read_into(&mut self, file: u64, off: u64, buf: &mut [u8]) -> Result<(), Errno> {
            let off = (file + off) as usize;
            buf.copy_from_slice(&self.0[off..off + buf.len()]);
            Ok(())
        }
    }

    fn image() -> Img {
        Img((0..20_000u32).map(|i| (i % 253) as u8).collect())
    }

    fn unlimited() -> Budget {
        Budget {
            used: 0,
            capacity: u64::MAX,
            host_refused: false,
        }
    }

    #[test]
    fn copy_on_write_pages_over_the_image() {
        let mut img = image();
        let expect: Vec<u8> = img.0[100..10_100].to_vec();
        let mut f = FileData::lower(100, 10_000);
        let b = &mut unlimited();
        assert_eq!(f.read(&mut img, 0, 20_000).unwrap(), expect);
        f.write(&mut img, 4095, b"XY", b).unwrap();
        let mut want = expect.clone();
        want[4095..4097].copy_from_slice(b"XY");
        assert_eq!(f.read(&mut img, 0, 20_000).unwrap(), want);
        assert_eq!(f.pages.len(), 2);
        // Append past the end leaves a hole of zeros.
        f.write(&mut img, 12_000, b"end", b).unwrap();
        assert_eq!(b.used, 3);
        want.resize(12_000, 0);
        want.extend_from_slice(b"end");
        assert_eq!(f.read(&mut img, 0, 20_000).unwrap(), want);
        assert_eq!(f.read(&mut img, 12_001, 100).unwrap(), b"nd");
        assert_eq!(f.read(&mut img, 12_003, 100).unwrap(), b"");
    }

    #[test]
    fn truncate_hides_old_contents_when_regrown() {
        let mut img = image();
        let mut f = FileData::lower(0, 10_000);
        f.write(&mut img, 8000, b"zz", &mut unlimited()).unwrap();
        // The page with the write holds the new end: kept, its tail zeroed.
        assert_eq!(f.truncate(5000), 0);
        assert_eq!(f.size(), 5000);
        f.truncate(10_000);
        let got = f.read(&mut img, 0, 10_000).unwrap();
        assert_eq!(got[..5000], img.0[..5000]);
        assert!(got[5000..].iter().all(|&b| b == 0));
        assert_eq!(f.truncate(0), 1);
        f.truncate(3);
        assert_eq!(f.read(&mut img, 0, 10).unwrap(), [0, 0, 0]);
    }

    #[test]
    fn writes_stop_where_the_budget_ends() {
        let mut img = image();
        let mut f = FileData::default();
        let mut b = Budget {
            used: 0,
            capacity: 2,
            host_refused: false,
        };
        // Three pages wanted, two to be had: a short write, as on a full tmpfs.
        assert_eq!(
            f.write(&mut img, 100, &[7; 3 * PAGE], &mut b).unwrap(),
            2 * PAGE - 100
        );
        assert_eq!(f.size(), 2 * PAGE as u64);
        assert_eq!(f.write(&mut img, 2 * PAGE as u64, b"x", &mut b).unwrap(), 0);
        // Rewriting pages it has costs nothing.
        assert_eq!(f.write(&mut img, 0, b"y", &mut b).unwrap(), 1);
        assert_eq!(b.used, 2);
    }
}
