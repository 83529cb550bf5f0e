//! Serves the `friscy:vfs/tree` import of `friscy-dir-open.wasm` from a directory on the
//! host (`friscy run --rootfs DIR`, and the containerd shim with the container's
//! snapshot), through vfs's own `HostTree`, plus the `friscy:vfs/image` config beside it.
//! Only conversions live here.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use friscy_vfs::host_tree::HostTree;
use friscy_vfs::{Timespec, TreeEntry, TreeSource};
use wasmtime::component::Linker;

wasmtime::component::bindgen!({
    inline: "
        package friscy:host;
        world tree { import friscy:vfs/tree@0.1.0; }
    ",
    path: "../wit",
});

use friscy::vfs::tree::{Entry, Time};

fn time(t: Timespec) -> Time {
    Time {
        sec: t.sec,
        nsec: t.nsec,
    }
}

fn entry(e: TreeEntry) -> Entry {
    Entry {
        name: e.name,
        handle: e.handle,
        dev: e.dev,
        ino: e.ino,
        mode: e.mode,
        nlink: e.nlink,
        uid: e.uid,
        gid: e.gid,
        rdev: e.rdev,
        size: e.size,
        atime: time(e.atime),
        mtime: time(e.mtime),
        ctime: time(e.ctime),
        target: e.target,
    }
}

/// Open `dir` as the guest's root filesystem.
pub fn open(dir: &Path) -> Result<HostTree> {
    HostTree::open(dir).with_context(|| format!("opening the root directory {}", dir.display()))
}

/// Link `friscy:vfs/tree` over `tree` and `friscy:vfs/image` returning `config` (the image
/// config JSON, or empty for none).
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    tree: HostTree,
    config: Vec<u8>,
) -> Result<()> {
    let tree = Arc::new(tree);
    let mut inst = linker.instance("friscy:vfs/tree@0.1.0")?;
    let t = tree.clone();
    inst.func_wrap("root", move |_, (): ()| Ok((t.root().map(entry),)))?;
    let t = tree.clone();
    inst.func_wrap("list-dir", move |_, (dir,): (u64,)| {
        let listed = t
            .list_dir(dir)
            .map(|v| v.into_iter().map(entry).collect::<Vec<_>>())
            .map_err(|e| e as u16);
        Ok((listed,))
    })?;
    inst.func_wrap("read", move |_, (file, offset, len): (u64, u64, u32)| {
        Ok((tree.read(file, offset, len).map_err(|e| e as u16),))
    })?;
    let mut inst = linker.instance("friscy:vfs/image@0.1.0")?;
    inst.func_wrap("config", move |_, (): ()| Ok((config.clone(),)))?;
    Ok(())
}
