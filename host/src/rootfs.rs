//! Serves the `friscy:vfs/rootfs` import from an image file on disk, in chunks. A gzip or
//! zstd image is served from its decompressed copy in the cache (see `decompress`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, Result};
use wasmtime::component::Linker;

/// Largest chunk one `read` call hands over, whatever the guest side asks for.
const MAX_CHUNK: u32 = 4 << 20;

pub struct RootfsFile {
    file: File,
    size: u64,
}

impl RootfsFile {
    pub fn open(path: &Path) -> Result<RootfsFile> {
        // Opening a FIFO would wait for a writer forever, and the image is read at random
        // offsets anyway: only regular files (and block devices) will do.
        let meta = std::fs::metadata(path).with_context(|| format!("rootfs {}", path.display()))?;
        check_kind(&meta.file_type()).with_context(|| format!("rootfs {}", path.display()))?;
        let mut file =
            File::open(path).with_context(|| format!("opening rootfs {}", path.display()))?;
        let mut magic = [0u8; 6];
        let n = file.read_at(&mut magic, 0).unwrap_or(0);
        let kind = crate::decompress::detect(&magic[..n])
            .with_context(|| format!("rootfs {}", path.display()))?;
        if let Some(kind) = kind {
            let tar = crate::decompress::cached_tar(path, kind)
                .with_context(|| format!("rootfs {}", path.display()))?;
            file =
                File::open(&tar.path).with_context(|| format!("opening {}", tar.path.display()))?;
            if tar.temporary {
                // Too big for the cache: it lives as long as this open file.
                let _ = std::fs::remove_file(&tar.path);
            }
        }
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
    // The image config (friscy:vfs/image): none for a plain image file, so the command
    // line names the program; a friscy-pack bundle directory brings its manifest.json.
    let mut inst = linker.instance("friscy:vfs/image@0.1.0")?;
    inst.func_wrap("config", move |_, (): ()| Ok((config.clone(),)))?;
    Ok(())
}
