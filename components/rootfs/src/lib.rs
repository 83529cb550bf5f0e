//! The rootfs data component: exports `friscy:vfs/rootfs` (and an empty
//! `friscy:vfs/image` config) over a tar archive embedded at
//! build time (`FRISCY_ROOTFS=image.tar cargo build -p friscy-rootfs --target
//! wasm32-wasip2`). Plugging it into the open composition gives the sealed `friscy.wasm`,
//! whose only imports are `wasi:*`.
//!
//! The image lives in the component's data segment and is handed out in chunks, so the
//! whole archive never crosses a component boundary at once.

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "friscy:vfs/rootfs-data" });
}

static IMAGE: &[u8] = include_bytes!(env!("FRISCY_ROOTFS_EMBED"));

/// Up to `len` bytes of the image at `offset`.
pub fn read(offset: u64, len: u32) -> &'static [u8] {
    let start = offset.min(IMAGE.len() as u64) as usize;
    let end = start.saturating_add(len as usize).min(IMAGE.len());
    &IMAGE[start..end]
}

#[cfg(target_arch = "wasm32")]
struct RootfsData;

#[cfg(target_arch = "wasm32")]
impl bindings::exports::friscy::vfs::rootfs::Guest for RootfsData {
    fn size() -> u64 {
        IMAGE.len() as u64
    }
    fn read(offset: u64, len: u32) -> Vec<u8> {
        read(offset, len).to_vec()
    }
    /// A component behind wasmtime's adapters, as friscy-pack's data component.
    fn prefers_words() -> bool {
        true
    }
    fn read_words(offset: u64, len: u32) -> Vec<u64> {
        friscy_vfs::words_from(&IMAGE, offset, len)
    }
}

/// No image config: the command line names the program (friscy-pack's data components
/// carry one; this build-time component serves test images).
#[cfg(target_arch = "wasm32")]
impl bindings::exports::friscy::vfs::image::Guest for RootfsData {
    fn config() -> Vec<u8> {
        Vec::new()
    }
}

#[cfg(target_arch = "wasm32")]
bindings::export!(RootfsData with_types_in bindings);
