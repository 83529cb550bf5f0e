//! Serves the `friscy:vfs/rootfs` import from an image file on disk, in chunks. A gzip or
//! zstd image is served from its decompressed copy in the cache (see `decompress`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Linker;

/// Largest chunk one `read` call hands over, whatever the guest side asks for.
const MAX_CHUNK: u32 = 4 << 20;

pub struct RootfsFile {
    file: File,
    size: u64,
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
        let size = file.metadata()?.len();
        Ok(RootfsFile { file, size })
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        let len = len.min(MAX_CHUNK) as u64;
        let len = len.min(self.size.saturating_sub(offset)) as usize;
        let mut buf = vec![0; len];
        let mut done = 0;
        while done < len {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        buf.truncate(done);
        buf
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
    let size = image.size;
    inst.func_wrap("size", move |_, (): ()| Ok((size,)))?;
    inst.func_wrap("read", move |_, (offset, len): (u64, u32)| {
        Ok((image.read(offset, len),))
    })?;
    // The image config (friscy:vfs/image): none for a plain rootfs tar, so the command
    // line names the program; other images bring their manifest.json (image.rs).
    let mut inst = linker.instance("friscy:vfs/image@0.1.0")?;
    inst.func_wrap("config", move |_, (): ()| Ok((config.clone(),)))?;
    Ok(())
}
