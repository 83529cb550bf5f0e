//! The vfs's tar indexer (components/vfs/src/tar.rs, index.rs) on any bytes as a root
//! filesystem image, then a walk of what it built: every directory listed, every node
//! stat'ed, files read, symlinks read and followed, and a few changes made.
#![no_main]

use friscy_vfs::{Fs, Vfs};
use libfuzzer_sys::fuzz_target;

fn walk(fs: &mut Vfs<friscy_vfs::Tar<Vec<u8>>>, dir: u64, depth: u32, budget: &mut u32) {
    let Ok(entries) = fs.readdir(dir, 0, 256) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if e.name == b"." || e.name == b".." {
            continue;
        }
        let _ = fs.stat(e.ino);
        let _ = fs.read(e.ino, 0, 4096);
        let _ = fs.readlink(e.ino);
        let _ = fs.lookup(dir, &e.name, true);
        let _ = fs.path(e.ino);
        if depth < 16 {
            walk(fs, e.ino, depth + 1, budget);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut fs) = Vfs::new(data.to_vec()) else {
        return;
    };
    fs.set_clock(None);
    fs.set_capacity(1 << 20);
    let root = fs.root();
    let mut budget = 2000;
    walk(&mut fs, root, 0, &mut budget);
    for path in [&b"etc/passwd"[..], b"/bin/sh", b"a/../b/./c", b"x/y/z/"] {
        let _ = fs.lookup(root, path, true);
        let _ = fs.lookup_parent(root, path);
    }
    // The overlay over whatever was indexed.
    if let Ok(f) = fs.create(root, b"new", 0o100644, 0) {
        let _ = fs.write(f, 4000, b"written");
        let _ = fs.read(f, 0, 8192);
    }
    let _ = fs.rename(root, b"new", root, b"etc", 0);
    let _ = fs.remove(root, b"etc", true);
    let _ = fs.reclaim(&[]);
});
