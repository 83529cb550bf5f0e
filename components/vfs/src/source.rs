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
    /// The bytes at `offset` into the front of `buf`; how many there were (fewer than
    /// `buf.len()` only at the end of the image). Providers override it to skip
    /// `read_at`'s buffer: a fresh allocation is fresh Wasm memory, a host page fault
    /// per 4 KiB the first time it is touched.
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(u32::MAX as usize / 2);
            let got = self.read_at(offset + done as u64, want as u32);
            let n = got.len().min(want);
            buf[done..done + n].copy_from_slice(&got[..n]);
            done += n;
            if n < want {
                break;
            }
        }
        done
    }
}

fn slice_at(bytes: &[u8], offset: u64, len: u32) -> Vec<u8> {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start.saturating_add(len as usize).min(bytes.len());
    bytes[start..end].to_vec()
}

fn slice_into(bytes: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let n = buf.len().min(bytes.len() - start);
    buf[..n].copy_from_slice(&bytes[start..start + n]);
    n
}

impl RootfsSource for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        slice_at(self, offset, len)
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        slice_into(self, offset, buf)
    }
}

impl RootfsSource for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        slice_at(self, offset, len)
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        slice_into(self, offset, buf)
    }
}

impl<T: RootfsSource + ?Sized> RootfsSource for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        (**self).read_at(offset, len)
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        (**self).read_into(offset, buf)
    }
}

impl<T: RootfsSource + ?Sized> RootfsSource for std::sync::Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        (**self).read_at(offset, len)
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        (**self).read_into(offset, buf)
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
    let len = (len as u64).min(size.saturating_sub(offset)) as usize;
    let mut bytes = vec![0u8; len];
    let n = read_via_words_into(offset, &mut bytes, size, read_words);
    bytes.truncate(n);
    bytes
}

/// `read_into` over a provider's `read-words`, as `read_via_words`: the bytes at `offset`
/// into the front of `buf`, and how many there were.
pub fn read_via_words_into(
    offset: u64,
    buf: &mut [u8],
    size: u64,
    read_words: impl FnOnce(u64, u32) -> Vec<u64>,
) -> usize {
    // The span asked for (len plus up to 7 bytes each side, rounded to words) must fit
    // the u32 length.
    let len = (buf.len() as u64)
        .min(size.saturating_sub(offset))
        .min(u32::MAX as u64 - 15) as usize;
    if len == 0 {
        return 0;
    }
    let start = offset & !7;
    let skip = (offset - start) as usize;
    let span = (skip + len).div_ceil(8) * 8;
    let words = read_words(start, span as u32);
    let n = (words.len() * 8).saturating_sub(skip).min(len);
    copy_word_bytes(&words, skip, &mut buf[..n]);
    n
}

/// Bytes `skip..skip + out.len()` of `words` laid out little-endian, into `out`.
fn copy_word_bytes(words: &[u64], skip: usize, out: &mut [u8]) {
    // A partial first word, then whole words (a loop the compiler turns into plain
    // copies), then a partial last word.
    if out.is_empty() {
        return;
    }
    let head = ((8 - skip % 8) % 8).min(out.len());
    let first = skip / 8;
    if head > 0 {
        out[..head].copy_from_slice(&words[first].to_le_bytes()[skip % 8..skip % 8 + head]);
    }
    let words = &words[skip.div_ceil(8)..];
    let body = &mut out[head..];
    let whole = body.len() / 8;
    for (o, w) in body.chunks_exact_mut(8).zip(words) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    let tail = &mut body[whole * 8..];
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&words[whole].to_le_bytes()[..n]);
    }
}

/// A `RootfsSource` over the functions of a `friscy:vfs/rootfs` import, for the
/// components that import one (the vfs component and the fused kernel): words from a
/// data component, whose bytes wasmtime's adapter would copy one per loop iteration
/// (`read_via_words`), bytes from a host (the import's `prefers-words` says which).
pub struct RootfsImport {
    size: fn() -> u64,
    read: fn(u64, u32) -> Vec<u8>,
    read_words: fn(u64, u32) -> Vec<u64>,
    prefers_words: fn() -> bool,
    /// `prefers_words`'s answer and `size`, asked once.
    known: std::cell::OnceCell<(bool, u64)>,
}

/// The most `RootfsImport::read_into` asks the import for at once. Under 128 KiB: a
/// native host (glibc) serves allocations that size and up with a fresh mmap each time,
/// so larger pieces cost the host a page fault per 4 KiB on every call.
const IMPORT_PIECE: usize = 64 * 1024;

impl RootfsImport {
    pub fn new(
        size: fn() -> u64,
        read: fn(u64, u32) -> Vec<u8>,
        read_words: fn(u64, u32) -> Vec<u64>,
        prefers_words: fn() -> bool,
    ) -> Self {
        RootfsImport {
            size,
            read,
            read_words,
            prefers_words,
            known: std::cell::OnceCell::new(),
        }
    }

    fn known(&self) -> (bool, u64) {
        *self
            .known
            .get_or_init(|| ((self.prefers_words)(), (self.size)()))
    }
}

impl RootfsSource for RootfsImport {
    fn size(&self) -> u64 {
        self.known().1
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        let (words, size) = self.known();
        if words {
            read_via_words(offset, len, size, self.read_words)
        } else {
            (self.read)(offset, len)
        }
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        let (words, size) = self.known();
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            // In pieces: the import returns each as a fresh list, so a bounded piece is
            // memory the allocator hands out again for the next one.
            let piece = (buf.len() - done).min(IMPORT_PIECE);
            let n = if words {
                read_via_words_into(at, &mut buf[done..done + piece], size, self.read_words)
            } else {
                let got = (self.read)(at, piece as u32);
                let n = got.len().min(piece);
                buf[done..done + n].copy_from_slice(&got[..n]);
                n
            };
            if n == 0 {
                break;
            }
            done += n;
        }
        done
    }
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
        let mut buf = vec![0; len as usize];
        let n = self.read_into(offset, &mut buf);
        buf.truncate(n);
        buf
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        done
    }
}

/// Size of the chunks read from the image, for indexing and for file contents.
pub(crate) const CHUNK: usize = 64 * 1024;
/// Reads of at least this many bytes go to the image directly, not through the chunk
/// cache: the page cache's fills (4 pages and up) and large read(2)s, which the cache would
/// only copy once more.
const DIRECT: usize = 16 * 1024;
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
        // A slot's buffer is reused when its chunk is replaced: after the first few
        // chunks, reading one allocates nothing (fresh memory costs a host fault a page).
        let i = if self.slots.len() < CACHE_SLOTS {
            self.slots.push(Slot {
                chunk,
                used: tick,
                data: Vec::new(),
            });
            self.slots.len() - 1
        } else {
            (0..self.slots.len())
                .min_by_key(|&i| self.slots[i].used)
                .unwrap_or(0)
        };
        let slot = &mut self.slots[i];
        slot.chunk = chunk;
        slot.used = tick;
        slot.data.resize(CHUNK, 0);
        let n = self.src.read_into(chunk * CHUNK as u64, &mut slot.data);
        slot.data.truncate(n);
        &self.slots[i].data
    }
}

impl<R: RootfsSource> LowerLayer for Tar<R> {
    fn read_into(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<(), Errno> {
        // A member's contents are contiguous in the image.
        let offset = file + offset;
        if buf.len() >= DIRECT {
            // Reads of whole pages and more (the page cache's, large read(2)s) go
            // straight into `buf` and bypass the cache.
            let n = self.src.read_into(offset, buf);
            buf[n..].fill(0);
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
        // Into a buffer (dirty, so nothing passes by being zero already), at every
        // alignment of both ends, and through `RootfsImport` over words and over bytes.
        thread_local! {
            static IMAGE: Vec<u8> = (0..10_003u32).map(|i| (i * 13 % 251) as u8).collect();
        }
        fn size() -> u64 {
            IMAGE.with(|i| i.len() as u64)
        }
        fn read(o: u64, l: u32) -> Vec<u8> {
            IMAGE.with(|i| i.read_at(o, l))
        }
        fn words(o: u64, l: u32) -> Vec<u64> {
            IMAGE.with(|i| words_from(i, o, l))
        }
        let by_words = RootfsImport::new(size, read, words, || true);
        let by_bytes = RootfsImport::new(size, read, words, || false);
        for off in (0..24).chain(9_980..10_010) {
            for len in (0..20).chain([4096, 4099, 20_000]) {
                let want = image.read_at(off, len as u32);
                let mut buf = vec![0xEE; len];
                let n = read_via_words_into(off, &mut buf, image.size(), |o, l| {
                    words_from(&image, o, l)
                });
                assert_eq!(buf[..n], want[..], "offset {off}, len {len}");
                assert!(buf[n..].iter().all(|&b| b == 0xEE));
                for src in [&by_words, &by_bytes] {
                    let mut buf = vec![0xEE; len];
                    let n = src.read_into(off, &mut buf);
                    assert_eq!(buf[..n], want[..], "offset {off}, len {len}");
                    assert_eq!(src.read_at(off, len as u32), want);
                }
            }
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
        for &(off, len) in &[
            (0u64, 10usize),
            (65_530, 20),
            (131_000, 4096),
            (5, 70_000),
            (300, 20_000),
            (0, 10),
            (131_000, 4096),
        ] {
            let mut buf = vec![0xAA; len];
            lower.read_into(0, off, &mut buf).unwrap();
            assert_eq!(buf[..], image[off as usize..off as usize + len]);
        }
        // A member at image offset 100: reads are relative to it.
        let mut buf = vec![0xAA; 10];
        lower.read_into(100, 5, &mut buf).unwrap();
        assert_eq!(buf[..], image[105..115]);
        for len in [100, 20_000] {
            let mut buf = vec![0xAA; len];
            lower.read_into(0, 199_950, &mut buf).unwrap();
            assert_eq!(buf[..50], image[199_950..]);
            assert!(buf[50..].iter().all(|&b| b == 0));
        }
        // More chunks than slots: the slots' buffers are reused for other chunks.
        let chunks = CACHE_SLOTS + 3;
        let image: Vec<u8> = (0..(chunks * CHUNK) as u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut lower = Tar::new(image.clone());
        for round in 0..3 {
            for c in 0..chunks {
                let off = (c * 7 + round) % chunks * CHUNK + c * 17;
                let mut buf = vec![0xAA; 100];
                lower.read_into(0, off as u64, &mut buf).unwrap();
                assert_eq!(buf[..], image[off..off + 100]);
            }
        }
    }
}
