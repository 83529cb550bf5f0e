//! The real Alpine riscv64 minirootfs (from ../shared/fixtures), when present: indexing it
//! and checking what the kernel will need first (busybox, the /bin/sh symlink, the musl
//! loader), plus every member cross-checked against the `tar` crate's reading.

mod common;

use common::*;
use friscy_abi::mode::*;
use friscy_vfs::{Errno, Fs};
use std::io::Read;

const FIXTURE: &str = "/work/shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz";

fn alpine_tar() -> Option<Vec<u8>> {
    let path = std::env::var("FRISCY_ALPINE_TAR_GZ").unwrap_or_else(|_| FIXTURE.to_string());
    let Ok(gz) = std::fs::read(&path) else {
        println!("{path} not found: skipping the Alpine rootfs test");
        return None;
    };
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    Some(tar)
}

#[test]
fn alpine_minirootfs() {
    let Some(bytes) = alpine_tar() else { return };
    let mut fs = mount(bytes.clone());
    let root = fs.root();

    let bb = stat_of(&mut fs, "/bin/busybox");
    assert_eq!(bb.mode, S_IFREG | 0o755);
    assert_eq!(bb.size, 837_344);
    assert_eq!(bb.blocks, 837_344u64.div_ceil(512));
    let sh = fs.lookup(root, b"/bin/sh", false).unwrap();
    assert_eq!(fs.stat(sh).unwrap().mode & S_IFMT, S_IFLNK);
    assert_eq!(fs.readlink(sh).unwrap(), b"/bin/busybox");
    assert_eq!(ino(&mut fs, "/bin/sh"), ino(&mut fs, "/bin/busybox"));
    let sh = ino(&mut fs, "/bin/sh");
    let elf = fs.read(sh, 0, 4).unwrap();
    assert_eq!(elf, b"\x7fELF");

    let os = String::from_utf8(read_all(&mut fs, "/etc/os-release")).unwrap();
    assert!(
        os.starts_with("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"),
        "{os}"
    );
    let ld = stat_of(&mut fs, "/lib/ld-musl-riscv64.so.1");
    assert_eq!((ld.mode & S_IFMT, ld.size), (S_IFREG, 608_888));
    assert_eq!(
        ino(&mut fs, "/lib/libc.musl-riscv64.so.1"),
        ino(&mut fs, "/lib/ld-musl-riscv64.so.1")
    );
    assert_eq!(lookup(&mut fs, b"/bin/busybox/x"), Err(Errno::ENOTDIR));
    let share = ino(&mut fs, "/usr/share");
    assert_eq!(fs.path(share).unwrap(), b"/usr/share");
    let top = names(&mut fs, "/");
    for d in ["bin", "etc", "lib", "usr", "var", "tmp", "root"] {
        assert!(top.contains(&d.as_bytes().to_vec()), "{d} in /");
    }

    // Every member agrees with the tar crate's reading of the same archive.
    let mut checked = 0;
    let mut archive = tar::Archive::new(&bytes[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path_bytes().into_owned();
        let header = entry.header().clone();
        let node = fs.lookup(root, &path, false).unwrap();
        let st = fs.stat(node).unwrap();
        assert_eq!(st.mode & 0o7777, header.mode().unwrap() & 0o7777);
        assert_eq!(st.mtime.sec as u64, header.mtime().unwrap());
        match header.entry_type() {
            tar::EntryType::Regular => {
                let mut want = Vec::new();
                entry.read_to_end(&mut want).unwrap();
                assert_eq!(fs.read(node, 0, u32::MAX).unwrap(), want);
                checked += 1;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap().into_owned();
                assert_eq!(fs.readlink(node).unwrap(), target);
            }
            tar::EntryType::Directory => assert_eq!(st.mode & S_IFMT, S_IFDIR),
            _ => {}
        }
    }
    assert!(checked > 50, "{checked} files");
}

#[test]
fn alpine_overlay_writes() {
    let Some(bytes) = alpine_tar() else { return };
    let mut fs = mount(bytes);
    let root = fs.root();
    let etc = ino(&mut fs, "/etc");
    let hosts = fs.create(etc, b"hosts.new", S_IFREG | 0o644, 0).unwrap();
    fs.write(hosts, 0, b"127.0.0.1 localhost\n").unwrap();
    fs.rename(etc, b"hosts.new", etc, b"hosts", 0).unwrap();
    assert_eq!(read_all(&mut fs, "/etc/hosts"), b"127.0.0.1 localhost\n");
    // Copy-up of busybox keeps its inode and its other names.
    let bb = ino(&mut fs, "/bin/busybox");
    fs.write(bb, 0, b"\x7fELG").unwrap();
    let sh = ino(&mut fs, "/bin/sh");
    assert_eq!(fs.read(sh, 0, 4).unwrap(), b"\x7fELG");
    assert_eq!(fs.stat(bb).unwrap().size, 837_344);
    let (parent, name) = fs.lookup_parent(root, b"/usr/bin/").unwrap();
    assert_eq!(name, b"bin");
    fs.remove(parent, &name, true).unwrap_err();
}
