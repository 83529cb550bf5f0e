//! The writable layer as an OCI layer tar: exporting what changed since the image was
//! indexed, reading it back with the `tar` crate, and starting a fresh filesystem from the
//! image plus that layer, which must give the same tree.

mod common;

use common::*;
use friscy_abi::mode::*;
use friscy_vfs::{Fs, Ino, SetAttr};
use std::io::Read;

fn image() -> Vec<u8> {
    Archive::new()
        .dir("etc", 0o755)
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        .file("etc/motd", b"welcome\n")
        .file("etc/hostname", b"image\n")
        .dir("srv", 0o755)
        .file("srv/a", b"a")
        .file("srv/b", b"b")
        .dir("keep", 0o755)
        .file("keep/same", b"untouched")
        .symlink("keep/link", "same")
        .dir("dev", 0o755)
        .finish()
}

fn create_file(fs: &mut TestFs, path: &str, data: &[u8]) -> Ino {
    let root = fs.root();
    let (parent, name) = fs.lookup_parent(root, path.as_bytes()).unwrap();
    let ino = fs.create(parent, &name, S_IFREG | 0o644, 0).unwrap();
    fs.write(ino, 0, data).unwrap();
    ino
}

fn mkdir(fs: &mut TestFs, path: &str) -> Ino {
    let root = fs.root();
    let (parent, name) = fs.lookup_parent(root, path.as_bytes()).unwrap();
    fs.create(parent, &name, S_IFDIR | 0o750, 0).unwrap()
}

fn remove(fs: &mut TestFs, path: &str, dir: bool) {
    let root = fs.root();
    let (parent, name) = fs.lookup_parent(root, path.as_bytes()).unwrap();
    fs.remove(parent, &name, dir).unwrap();
}

/// The changes a guest might make, of every kind a layer records.
fn change(fs: &mut TestFs) {
    create_file(fs, "/etc/new", b"created\n");
    let motd = ino(fs, "/etc/motd");
    fs.write(motd, 0, b"W").unwrap();
    remove(fs, "/etc/hostname", false);
    // /srv replaced by a new directory: nothing of the image's shows through.
    remove(fs, "/srv/a", false);
    remove(fs, "/srv/b", false);
    remove(fs, "/srv", true);
    mkdir(fs, "/srv");
    create_file(fs, "/srv/fresh", b"fresh");
    let deep = format!("/etc/{}", "d".repeat(120));
    mkdir(fs, &deep);
    create_file(
        fs,
        &format!("{deep}/{}", "f".repeat(90)),
        &vec![7u8; 10_000],
    );
    let root = fs.root();
    let etc = ino(fs, "/etc");
    fs.symlink(etc, b"sym", b"passwd").unwrap();
    let h = create_file(fs, "/etc/h1", b"linked");
    fs.link(h, etc, b"h2").unwrap();
    let passwd = ino(fs, "/etc/passwd");
    let attr = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    fs.set_attr(passwd, &attr).unwrap();
    // Runtime files: left out of the layer.
    let dev = fs.lookup(root, b"/dev", true).unwrap();
    fs.create(dev, b"null", S_IFCHR | 0o666, 0x103).unwrap();
}

/// Every path with its type, mode, size, owner, link target and contents.
fn tree(fs: &mut TestFs) -> Vec<String> {
    fn walk(fs: &mut TestFs, path: &str, out: &mut Vec<String>) {
        for name in names(fs, if path.is_empty() { "/" } else { path }) {
            let p = format!("{path}/{}", String::from_utf8_lossy(&name));
            let root = fs.root();
            let node = fs.lookup(root, p.as_bytes(), false).unwrap();
            let st = fs.stat(node).unwrap();
            let extra = match st.mode & S_IFMT {
                S_IFREG => {
                    let data = read_all(fs, &p);
                    let sum = data
                        .iter()
                        .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64));
                    format!("{}:{sum:x}", data.len())
                }
                S_IFLNK => String::from_utf8_lossy(&fs.readlink(node).unwrap()).into_owned(),
                _ => String::new(),
            };
            out.push(format!(
                "{p} {:o} {} {} {} {extra}",
                st.mode, st.size, st.uid, st.nlink
            ));
            if st.mode & S_IFMT == S_IFDIR {
                walk(fs, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(fs, "", &mut out);
    out
}

fn members(layer: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
    let mut a = tar::Archive::new(layer);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let kind = e.header().entry_type();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (path, kind, data)
        })
        .collect()
}

#[test]
fn an_unchanged_tree_exports_an_empty_layer() {
    let mut fs = mount(image());
    let g = fs.generation();
    assert_eq!(fs.export_layer(&[]).unwrap(), vec![0u8; 1024]);
    assert_eq!(fs.generation(), g, "exporting changes nothing");
    let root = fs.root();
    let dev = fs.lookup(root, b"/dev", true).unwrap();
    fs.create(dev, b"x", S_IFREG, 0).unwrap();
    assert_ne!(fs.generation(), g);
    assert_eq!(
        fs.export_layer(&[b"/dev".to_vec()]).unwrap(),
        vec![0u8; 1024]
    );
}

#[test]
fn the_layer_holds_exactly_the_changes() {
    let mut fs = mount(image());
    change(&mut fs);
    let layer = fs.export_layer(&[b"/dev".to_vec()]).unwrap();
    let got = members(&layer);
    let names: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
    let deep = format!("etc/{}", "d".repeat(120));
    // (No clock in these tests, so changed directories keep their mtime and are not
    // written themselves.)
    let expect = [
        "etc/.wh.hostname".to_string(),
        "etc/passwd".to_string(),
        "etc/motd".to_string(),
        "etc/new".to_string(),
        "srv/".to_string(),
        "srv/.wh..wh..opq".to_string(),
        "srv/fresh".to_string(),
        format!("{deep}/"),
        format!("{deep}/{}", "f".repeat(90)),
        "etc/sym".to_string(),
        "etc/h1".to_string(),
        "etc/h2".to_string(),
    ];
    let mut sorted_names = names.clone();
    sorted_names.sort();
    let mut sorted_expect: Vec<&str> = expect.iter().map(String::as_str).collect();
    sorted_expect.sort();
    assert_eq!(sorted_names, sorted_expect, "{names:?}");
    let find = |p: &str| got.iter().find(|(n, _, _)| n == p).unwrap();
    assert_eq!(find("etc/motd").2, b"Welcome\n");
    assert_eq!(find("etc/new").2, b"created\n");
    assert_eq!(find("etc/h1").1, tar::EntryType::Regular);
    assert_eq!(find("etc/h2").1, tar::EntryType::Link);
    assert_eq!(find("etc/sym").1, tar::EntryType::Symlink);
    assert_eq!(
        find(&format!("{deep}/{}", "f".repeat(90))).2,
        vec![7u8; 10_000]
    );
    // Whiteouts come before the entries of their directory.
    let pos = |p: &str| names.iter().position(|n| *n == p).unwrap();
    assert!(pos("etc/.wh.hostname") < pos("etc/new"));
    assert!(pos("srv/.wh..wh..opq") < pos("srv/fresh"));
}

#[test]
fn image_plus_layer_is_the_changed_tree() {
    let mut fs = mount(image());
    change(&mut fs);
    let exclude = [b"/dev".to_vec()];
    let layer = fs.export_layer(&exclude).unwrap();

    let mut again = mount(image());
    again.apply_layer(&layer).unwrap();
    let (mut want, mut got) = (tree(&mut fs), tree(&mut again));
    // /dev is the runtime's, not the layer's.
    want.retain(|l| !l.starts_with("/dev/"));
    got.retain(|l| !l.starts_with("/dev/"));
    // (Listing order may differ: a replaced directory keeps its place when restored.)
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        ino(&mut again, "/etc/h1"),
        ino(&mut again, "/etc/h2"),
        "hard links stay linked"
    );
    // Restored changes are the layer's: exporting again gives the same members.
    let sorted = |l: &[u8]| {
        let mut m: Vec<(String, usize)> = members(l)
            .into_iter()
            .map(|(p, _, d)| (p, d.len()))
            .collect();
        m.sort();
        m
    };
    assert_eq!(
        sorted(&again.export_layer(&exclude).unwrap()),
        sorted(&layer)
    );
    // And a change on top adds to it.
    create_file(&mut again, "/keep/more", b"more");
    let names: Vec<String> = members(&again.export_layer(&exclude).unwrap())
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert!(names.contains(&"keep/more".to_string()), "{names:?}");
    assert!(names.contains(&"etc/new".to_string()), "{names:?}");
}

#[test]
fn an_empty_layer_changes_nothing() {
    let mut fs = mount(image());
    let before = tree(&mut fs);
    fs.apply_layer(&Vec::<u8>::new()).unwrap();
    fs.apply_layer(&vec![0u8; 1024]).unwrap();
    assert_eq!(tree(&mut fs), before);
}

#[test]
fn a_layer_from_another_tool_applies() {
    // Written by the tar crate, as `docker export`-style tools do: whiteouts anywhere in
    // their directory, a deep new path with missing parents.
    let layer = Archive::new()
        .file("etc/.wh.motd", b"")
        .file("new/deep/file", b"x")
        .file("keep/.wh.link", b"")
        .finish();
    let mut fs = mount(image());
    fs.apply_layer(&layer).unwrap();
    assert!(lookup(&mut fs, b"/etc/motd").is_err());
    assert!(lookup(&mut fs, b"/keep/link").is_err());
    assert_eq!(read_all(&mut fs, "/new/deep/file"), b"x");
    assert_eq!(read_all(&mut fs, "/keep/same"), b"untouched");
}
