//! Reading the rootfs image: the `RootfsSource` trait (the WIT `rootfs` interface as a
//! Rust trait), its in-memory implementations, and `Tar`, the lower layer over a tar image,
//! which reads file contents out of the image in aligned chunks through a small cache so
//! that the guest's page-sized reads do not each become a call to the image provider.

use friscy_abi::Errno;

/// The rootfs image: a tar archive read in chunks (never all at once).
pub trait RootfsSource {
    /// Size of the image in bytes.
    fn size(&self) -> u64;
    /// Up to `len` bytes at `offset`; shorter only at the end of the image.
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8>;
}

fn slice_at(bytes: &[u8], offset: u64, len: u32) -> Vec<u8> {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start.saturating_add(len as usize).min(bytes.len());
    bytes[start..end].to_vec()
}

impl RootfsSource for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        slice_at(self, offset, len)
    }
}

impl RootfsSource for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        slice_at(self, offset, len)
    }
}

impl<T: RootfsSource + ?Sized> RootfsSource for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        (**self).read_at(offset, len)
    }
}

impl<T: RootfsSource + ?Sized> RootfsSource for std::sync::Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        (**self).read_at(offset, len)
    }
}

/// `read_at` over a provider's `read-words` (`friscy:vfs/rootfs`): the bytes at `offset`,
/// fetched as the aligned little-endian 64-bit words that cover them. Components use it
/// because wasmtime's adapters copy a `list<u8>` between components one byte per loop
/// iteration (20% of a sealed component's `busybox true`); a `list<u64>` moves eight
/// bytes per iteration, and turning the words back into bytes here is a plain copy.
///
/// `size` is the image's (the words' padding past it is not image bytes).
pub fn read_via_words(
    offset: u64,
    len: u32,
    size: u64,
    read_words: impl FnOnce(u64, u32) -> Vec<u64>,
) -> Vec<u8> {
    let len = (len as u64).min(size.saturating_sub(offset)) as u32;
    if len == 0 {
        return Vec::new();
    }
    let start = offset & !7;
    let end = offset + len as u64;
    // At most len + 14 bytes: fits in a u32 unless len is within 14 of u32::MAX.
    let span = ((end - start).div_ceil(8) * 8).min(u32::MAX as u64 & !7) as u32;
    let words = read_words(start, span);
    let skip = (offset - start) as usize;
    if words.len() * 8 <= skip {
        return Vec::new();
    }
    let n = (words.len() * 8 - skip).min(len as usize);
    let mut bytes = vec![0u8; words.len() * 8];
    for (out, w) in bytes.chunks_exact_mut(8).zip(&words) {
        out.copy_from_slice(&w.to_le_bytes());
    }
    bytes.truncate(skip + n);
    bytes.drain(..skip);
    bytes
}

/// A `read-words` provider over `read_at` (the other half of `read_via_words`): empty for
/// an unaligned offset, the last word zero-padded.
pub fn words_from<R: RootfsSource + ?Sized>(src: &R, offset: u64, len: u32) -> Vec<u64> {
    if !offset.is_multiple_of(8) {
        return Vec::new();
    }
    src.read_at(offset, len)
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect()
}

/// An image file on the host (friscy-pack and the native host build prebuilt indexes from
/// them, `prebuilt::trailer`).
#[cfg(unix)]
impl RootfsSource for std::fs::File {
    fn size(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; len as usize];
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        buf.truncate(done);
        buf
    }
}

/// Size of the chunks read from the image, for indexing and for file contents.
pub(crate) const CHUNK: usize = 64 * 1024;
/// How many file-content chunks the cache keeps.
const CACHE_SLOTS: usize = 8;

/// Where lower files' contents come from: a tar image (`Tar`) or a host directory tree
/// (`crate::Tree`). A trait so that file-data code need not know which.
pub trait LowerLayer {
    /// Fill `buf` with the bytes at `offset` of lower file `file` (a tar member's image
    /// offset, or a tree's file handle). Bytes past the end of what the layer has read as 0.
    fn read_into(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<(), Errno>;
}

struct Slot {
    chunk: u64,
    used: u64,
    data: Vec<u8>,
}

/// The lower layer over a tar image: the image plus a small least-recently-used cache of
/// aligned chunks.
pub struct Tar<R> {
    pub(crate) src: R,
    slots: Vec<Slot>,
    tick: u64,
}

impl<R: RootfsSource> Tar<R> {
    pub(crate) fn new(src: R) -> Self {
        Tar {
            src,
            slots: Vec::new(),
            tick: 0,
        }
    }

    fn chunk(&mut self, chunk: u64) -> &[u8] {
        self.tick += 1;
        let tick = self.tick;
        if let Some(i) = self.slots.iter().position(|s| s.chunk == chunk) {
            self.slots[i].used = tick;
            return &self.slots[i].data;
        }
        let data = self.src.read_at(chunk * CHUNK as u64, CHUNK as u32);
        let slot = Slot {
            chunk,
            used: tick,
            data,
        };
        let i = if self.slots.len() < CACHE_SLOTS {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let i = (0..self.slots.len())
                .min_by_key(|&i| self.slots[i].used)
                .unwrap_or(0);
            self.slots[i] = slot;
            i
        };
        &self.slots[i].data
    }
}

impl<R: RootfsSource> LowerLayer for Tar<R> {
    fn read_into(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        // A member's contents are contiguous in the image.
        let offset = file + offset;
        if buf.len() >= CHUNK {
            // Large reads go straight to the image (in u32-sized pieces) and bypass the cache.
            let mut done = 0usize;
            while done < buf.len() {
                let want = (buf.len() - done).min(u32::MAX as usize / 2) as u32;
                let got = self.src.read_at(offset + done as u64, want);
                let n = got.len().min(want as usize);
                buf[done..done + n].copy_from_slice(&got[..n]);
                if n < want as usize {
                    buf[done + n..].fill(0);
                    return Ok(());
                }
                done += n;
            }
            return Ok(());
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let chunk = pos / CHUNK as u64;
            let within = (pos % CHUNK as u64) as usize;
            let data = self.chunk(chunk);
            let avail = data.len().saturating_sub(within);
            let n = avail.min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&data[within..within + n]);
            done += n;
            if n == 0 || within + n < CHUNK && done < buf.len() {
                // The image ended inside this chunk.
                buf[done..].fill(0);
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_through_words_give_the_same_bytes() {
        let image: Vec<u8> = (0..10_003u32).map(|i| (i * 13 % 251) as u8).collect();
        for &(off, len) in &[
            (0u64, 0u32),
            (0, 1),
            (0, 8),
            (3, 5),
            (7, 9),
            (8, 4096),
            (4093, 20),
            (9_990, 100),
            (10_003, 8),
            (20_000, 8),
            (5, u32::MAX),
        ] {
            let got = read_via_words(off, len, image.size(), |o, l| words_from(&image, o, l));
            assert_eq!(got, image.read_at(off, len), "offset {off}, len {len}");
        }
        assert_eq!(words_from(&image, 3, 16), Vec::<u64>::new());
        assert_eq!(
            read_via_words(u64::MAX - 2, 8, u64::MAX, |o, l| words_from(&image, o, l)),
            b""
        );
    }

    #[test]
    fn chunked_reads_match_the_image_and_pad_past_its_end() {
        let image: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut lower = Tar::new(image.clone());
        for &(off, len) in &[(0u64, 10usize), (65_530, 20), (131_000, 4096), (5, 70_000)] {
            let mut buf = vec![0xAA; len];
            lower.read_into(0, off, &mut buf).unwrap();
            assert_eq!(buf[..], image[off as usize..off as usize + len]);
        }
        // A member at image offset 100: reads are relative to it.
        let mut buf = vec![0xAA; 10];
        lower.read_into(100, 5, &mut buf).unwrap();
        assert_eq!(buf[..], image[105..115]);
        let mut buf = vec![0xAA; 100];
        lower.read_into(0, 199_950, &mut buf).unwrap();
        assert_eq!(buf[..50], image[199_950..]);
        assert!(buf[50..].iter().all(|&b| b == 0));
    }
}
