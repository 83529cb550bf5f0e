//! Serves the `friscy:vfs/rootfs` import from an image file on disk, in chunks. A gzip or
//! zstd image is served from its decompressed copy in the cache (see `decompress`).
//!
//! An image that does not carry a prebuilt index (`friscy_vfs::prebuilt`; friscy-pack's
//! bundles do) is served with one appended past its end: built natively the first time
//! (the vfs would otherwise parse every tar header in Wasm at every start, which grew
//! with the image) and kept in `index/` of the cache, keyed by the file's identity (path,
//! size, mtime, inode), or for the cache's own decompressed copies by their content name.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Linker;

/// Largest chunk one `read` call hands over, whatever the guest side asks for.
const MAX_CHUNK: u32 = 4 << 20;

pub struct RootfsFile {
    file: File,
    /// The file's size.
    file_len: u64,
    /// Served after the file: a prebuilt index it lacks (or nothing).
    trailer: Trailer,
}

/// The prebuilt index served after an image: built just now, or the cache's copy mapped
/// (not read: reading 431 KiB into fresh heap at every start cost Debian's `/bin/true`
/// about 100 page faults; a mapping of a file in the host's page cache costs a few).
enum Trailer {
    Built(Vec<u8>),
    Mapped(Mapped),
}

impl Trailer {
    fn bytes(&self) -> &[u8] {
        match self {
            Trailer::Built(b) => b,
            Trailer::Mapped(m) => m.bytes(),
        }
    }
}

/// A whole file mapped read-only. Only for the cache's index files: they are written
/// under a temporary name and renamed into place, never changed in place, so what is
/// mapped stays as it was checked (an evicted file is unlinked, which keeps the mapping).
struct Mapped {
    ptr: *const u8,
    len: usize,
}

// The mapping is read-only and owned by this value.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    fn of(file: &File) -> Option<Mapped> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a new private read-only mapping of `len` bytes of an open file; nothing
        // in this process writes through it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(Mapped {
            ptr: ptr as *const u8,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping `of` made, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// The image as an uncompressed tar: the file itself, or for a gzip or zstd image its
/// decompressed copy in the cache (`decompress`).
pub fn uncompressed(path: &Path) -> Result<PathBuf> {
    // Opening a FIFO would wait for a writer forever, and the image is read at random
    // offsets anyway: only regular files (and block devices) will do.
    let meta = std::fs::metadata(path).with_context(|| format!("rootfs {}", path.display()))?;
    check_kind(&meta.file_type()).with_context(|| format!("rootfs {}", path.display()))?;
    let file = File::open(path).with_context(|| format!("opening rootfs {}", path.display()))?;
    let mut magic = [0u8; 6];
    let n = file.read_at(&mut magic, 0).unwrap_or(0);
    let kind = crate::decompress::detect(&magic[..n])
        .with_context(|| format!("rootfs {}", path.display()))?;
    match kind {
        Some(kind) => crate::decompress::cached_tar(path, kind)
            .with_context(|| format!("rootfs {}", path.display())),
        None => Ok(path.to_path_buf()),
    }
}

impl RootfsFile {
    /// Open an image for serving (decompressed first if it is compressed).
    pub fn open(path: &Path) -> Result<RootfsFile> {
        let tar = uncompressed(path)?;
        let file = File::open(&tar).with_context(|| format!("opening {}", tar.display()))?;
        // A copy too big for the cache lives as long as this open file.
        crate::decompress::release(&tar);
        let meta = file.metadata()?;
        // The cache's decompressed copy is named by its content and touched at every use
        // (its mtime orders eviction): key its index by name, a user's file by identity.
        let in_cache =
            crate::decompress::cache_dir().is_ok_and(|d| tar.parent() == Some(d.as_path()));
        let trailer = index_trailer(&tar, &meta, &file, in_cache);
        Ok(RootfsFile {
            file,
            file_len: meta.len(),
            trailer,
        })
    }

    fn size(&self) -> u64 {
        self.file_len + self.trailer.bytes().len() as u64
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        let len = len.min(MAX_CHUNK) as u64;
        let len = len.min(self.size().saturating_sub(offset)) as usize;
        let mut buf = vec![0; len];
        let from_file = (self.file_len.saturating_sub(offset) as usize).min(len);
        let mut done = 0;
        while done < from_file {
            match self
                .file
                .read_at(&mut buf[done..from_file], offset + done as u64)
            {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        if done < from_file {
            // The file shrank under us: what it still has.
            buf.truncate(done);
            return buf;
        }
        if from_file < len {
            let at = (offset + from_file as u64 - self.file_len) as usize;
            buf[from_file..].copy_from_slice(&self.trailer.bytes()[at..at + len - from_file]);
        }
        buf
    }
}

/// The prebuilt index to serve after `tar`, if it has none of its own: from the cache, or
/// built now and kept there. Empty when the tar cannot be indexed (the vfs then reports
/// what is wrong with it) or already carries an index.
fn index_trailer(path: &Path, meta: &std::fs::Metadata, file: &File, by_name: bool) -> Trailer {
    use friscy_vfs::prebuilt;
    use std::hash::{Hash, Hasher};
    if prebuilt::footer(file).is_some() {
        return Trailer::Built(Vec::new());
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if by_name {
        (path.file_name(), meta.len()).hash(&mut h);
    } else {
        friscy_host::compiled::hash_identity(path, meta, &mut h);
    }
    h.write_u32(prebuilt::VERSION);
    h.write(env!("CARGO_PKG_VERSION").as_bytes());
    let dir = friscy_host::cache::base().join("index");
    let cached = dir.join(format!("{:016x}.idx", h.finish()));
    // A damaged cache entry (checksums) is made again.
    if let Some(t) = File::open(&cached).ok().and_then(|f| Mapped::of(&f))
        && prebuilt::trailer_ok(t.bytes(), meta.len())
    {
        friscy_host::cache::touch(&cached);
        return Trailer::Mapped(t);
    }
    let Ok(t) = prebuilt::trailer(file) else {
        return Trailer::Built(Vec::new());
    };
    // The cache is an optimisation: failing to write it is not an error.
    let _ = std::fs::create_dir_all(&dir);
    let tmp = cached.with_extension(format!("tmp.{}", std::process::id()));
    if std::fs::write(&tmp, &t).is_ok() {
        let _ = std::fs::rename(&tmp, &cached);
        // Least recently used first; a changed tar leaves its old index behind.
        friscy_host::cache::evict(&dir, ".idx", INDEX_CACHE_MAX, Some(&cached));
    }
    Trailer::Built(t)
}

/// Room for prebuilt indexes in the cache (Debian's is 431 KiB).
pub const INDEX_CACHE_MAX: u64 = 64 << 20;

impl friscy_vfs::RootfsSource for RootfsFile {
    fn size(&self) -> u64 {
        RootfsFile::size(self)
    }
    fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
        self.read(offset, len)
    }
    fn read_into(&self, offset: u64, buf: &mut [u8]) -> usize {
        // `read` hands over at most MAX_CHUNK at once: ask until the image ends.
        let mut done = 0;
        while done < buf.len() {
            let want = (buf.len() - done).min(MAX_CHUNK as usize);
            let got = self.read(offset + done as u64, want as u32);
            buf[done..done + got.len()].copy_from_slice(&got);
            done += got.len();
            if got.len() < want {
                break;
            }
        }
        done
    }
}

/// Whether a file of this type can be an image.
fn check_kind(t: &std::fs::FileType) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let what = if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else {
        return Ok(());
    };
    anyhow::bail!(
        "is {what}; an image must be a regular file (it is read at random offsets), \
         a friscy-pack bundle directory, or a block device"
    )
}

pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    image: RootfsFile,
    config: Vec<u8>,
) -> Result<()> {
    let image = std::sync::Arc::new(image);
    let mut inst = linker.instance("friscy:vfs/rootfs@0.1.0")?;
    let size = image.size();
    inst.func_wrap("size", move |_, (): ()| Ok((size,)))?;
    let words = image.clone();
    inst.func_wrap("read", move |_, (offset, len): (u64, u32)| {
        Ok((image.read(offset, len),))
    })?;
    // `read` is one copy from here: readers need not turn words back into bytes.
    inst.func_wrap("prefers-words", |_, (): ()| Ok((false,)))?;
    inst.func_wrap("read-words", move |_, (offset, len): (u64, u32)| {
        Ok((friscy_vfs::words_from(&*words, offset, len),))
    })?;
    // The image config (friscy:vfs/image): none for a plain rootfs tar, so the command
    // line names the program; other images bring their manifest.json (image.rs).
    let mut inst = linker.instance("friscy:vfs/image@0.1.0")?;
    inst.func_wrap("config", move |_, (): ()| Ok((config.clone(),)))?;
    Ok(())
}
