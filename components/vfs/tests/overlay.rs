//! The writable upper layer: copy-up, whiteouts, opaque directories, and the errors of
//! create, link, remove, rename and set_attr.

mod common;

use common::*;
use friscy_abi::mode::*;
use friscy_vfs::{Errno, Fs, SetAttr, Timespec, Vfs};

fn base() -> TestFs {
    mount(
        Archive::new()
            .file("etc/passwd", b"root:x:0:0\n")
            .file("etc/group", b"root:x:0:\n")
            .file("usr/lib/libc.so", &vec![7u8; 100_000])
            .hardlink("usr/lib/libc2.so", "usr/lib/libc.so")
            .file("usr/lib/sub/deep", b"d")
            .dir("empty", 0o755)
            .dir("tmp", 0o1777)
            .symlink("lib", "usr/lib")
            .finish(),
    )
}

fn parent_and_name(fs: &mut TestFs, path: &str) -> Result<(u64, Vec<u8>), Errno> {
    let root = fs.root();
    fs.lookup_parent(root, path.as_bytes())
}

fn rm(fs: &mut TestFs, path: &str, dir: bool) -> Result<(), Errno> {
    let (p, n) = parent_and_name(fs, path)?;
    fs.remove(p, &n, dir)
}

fn mv(fs: &mut TestFs, from: &str, to: &str, flags: u32) -> Result<(), Errno> {
    let (op, on) = parent_and_name(fs, from)?;
    let (np, nn) = parent_and_name(fs, to)?;
    fs.rename(op, &on, np, &nn, flags)
}

fn mk(fs: &mut TestFs, path: &str, mode: u32) -> Result<u64, Errno> {
    let (p, n) = parent_and_name(fs, path)?;
    fs.create(p, &n, mode, 0)
}

#[test]
fn writing_a_lower_file_copies_it_up_in_place() {
    let mut fs = base();
    let libc = ino(&mut fs, "/usr/lib/libc.so");
    assert_eq!(fs.write(libc, 99_998, b"abcd").unwrap(), 4);
    let st = fs.stat(libc).unwrap();
    assert_eq!((st.size, st.nlink), (100_002, 2));
    // The hard link sees the change: same inode.
    let data = read_all(&mut fs, "/usr/lib/libc2.so");
    assert_eq!(data.len(), 100_002);
    assert_eq!(&data[99_990..], b"\x07\x07\x07\x07\x07\x07\x07\x07abcd");
    assert!(data[..99_998].iter().all(|&b| b == 7));
    assert_eq!(ino(&mut fs, "/lib/libc.so"), libc);

    let passwd = ino(&mut fs, "/etc/passwd");
    let attr = SetAttr {
        size: Some(4),
        ..SetAttr::default()
    };
    fs.set_attr(passwd, &attr).unwrap();
    assert_eq!(read_all(&mut fs, "/etc/passwd"), b"root");
    fs.set_attr(
        passwd,
        &SetAttr {
            size: Some(8),
            ..SetAttr::default()
        },
    )
    .unwrap();
    assert_eq!(read_all(&mut fs, "/etc/passwd"), b"root\0\0\0\0");
    assert_eq!(ino(&mut fs, "/etc/passwd"), passwd);

    let etc = ino(&mut fs, "/etc");
    assert_eq!(fs.write(etc, 0, b"x"), Err(Errno::EISDIR));
    assert_eq!(fs.write(passwd, u64::MAX - 1, b"xx"), Err(Errno::EFBIG));
    assert_eq!(fs.write(passwd, 3, b""), Ok(0));
}

#[test]
fn set_attr_changes_mode_owner_and_times() {
    let mut fs = base();
    let g = ino(&mut fs, "/etc/group");
    let t = Timespec { sec: 42, nsec: 7 };
    let attr = SetAttr {
        mode: Some(S_IFDIR | 0o4711),
        uid: Some(1000),
        gid: Some(50),
        atime: Some(t),
        mtime: Some(Timespec { sec: 43, nsec: 0 }),
        size: None,
    };
    fs.set_attr(g, &attr).unwrap();
    let st = fs.stat(g).unwrap();
    assert_eq!(st.mode, S_IFREG | 0o4711, "type bits are kept");
    assert_eq!((st.uid, st.gid, st.atime, st.mtime.sec), (1000, 50, t, 43));
    let etc = ino(&mut fs, "/etc");
    let trunc = SetAttr {
        size: Some(0),
        ..SetAttr::default()
    };
    assert_eq!(fs.set_attr(etc, &trunc), Err(Errno::EISDIR));
    let root = fs.root();
    let lib = fs.lookup(root, b"/lib", false).unwrap();
    assert_eq!(fs.set_attr(lib, &trunc), Err(Errno::EINVAL));
}

#[test]
fn create_nodes_of_every_type() {
    let mut fs = base();
    let tmp = ino(&mut fs, "/tmp");
    let f = fs.create(tmp, b"file", 0o640, 0).unwrap();
    let d = fs.create(tmp, b"dir", S_IFDIR | 0o700, 0).unwrap();
    let c = fs.create(tmp, b"null", S_IFCHR | 0o666, 0x103).unwrap();
    let p = fs.create(tmp, b"fifo", S_IFIFO | 0o600, 0).unwrap();
    let s = fs.create(tmp, b"sock", S_IFSOCK | 0o755, 0).unwrap();
    let l = fs.symlink(tmp, b"link", b"file").unwrap();
    assert_eq!(fs.stat(f).unwrap().mode, S_IFREG | 0o640);
    assert_eq!(fs.stat(d).unwrap().mode, S_IFDIR | 0o700);
    assert_eq!(fs.stat(d).unwrap().nlink, 2);
    assert_eq!(fs.stat(tmp).unwrap().nlink, 3);
    assert_eq!(
        (fs.stat(c).unwrap().mode, fs.stat(c).unwrap().rdev),
        (S_IFCHR | 0o666, 0x103)
    );
    assert_eq!(fs.stat(p).unwrap().mode & S_IFMT, S_IFIFO);
    assert_eq!(fs.stat(s).unwrap().mode & S_IFMT, S_IFSOCK);
    assert_eq!(fs.stat(l).unwrap().mode, S_IFLNK | 0o777);
    assert_eq!(fs.stat(l).unwrap().size, 4);
    assert_eq!(ino(&mut fs, "/tmp/link"), f);
    fs.write(f, 0, b"hello").unwrap();
    assert_eq!(read_all(&mut fs, "/tmp/link"), b"hello");
    let names = names(&mut fs, "/tmp");
    assert_eq!(
        names,
        [&b"file"[..], b"dir", b"null", b"fifo", b"sock", b"link"]
    );
    assert_eq!(fs.path(d).unwrap(), b"/tmp/dir");

    assert_eq!(fs.create(tmp, b"file", 0o644, 0), Err(Errno::EEXIST));
    assert_eq!(fs.create(tmp, b"link", 0o644, 0), Err(Errno::EEXIST));
    assert_eq!(fs.create(tmp, b".", S_IFDIR, 0), Err(Errno::EEXIST));
    assert_eq!(fs.create(tmp, b"..", S_IFDIR, 0), Err(Errno::EEXIST));
    assert_eq!(fs.create(tmp, &[b'x'; 256], 0, 0), Err(Errno::ENAMETOOLONG));
    assert_eq!(fs.create(f, b"x", 0, 0), Err(Errno::ENOTDIR));
    assert_eq!(
        fs.create(tmp, b"l2", S_IFLNK | 0o777, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(fs.symlink(tmp, b"l3", b""), Err(Errno::ENOENT));
    assert_eq!(mk(&mut fs, "/tmp/dir/sub/x", 0), Err(Errno::ENOENT));
    let root = fs.root();
    assert_eq!(fs.create(root, b"/", S_IFDIR, 0), Err(Errno::EEXIST));
}

#[test]
fn hard_links_count_and_refuse_directories() {
    let mut fs = base();
    let passwd = ino(&mut fs, "/etc/passwd");
    let tmp = ino(&mut fs, "/tmp");
    fs.link(passwd, tmp, b"pw").unwrap();
    assert_eq!(fs.stat(passwd).unwrap().nlink, 2);
    assert_eq!(ino(&mut fs, "/tmp/pw"), passwd);
    assert_eq!(fs.link(passwd, tmp, b"pw"), Err(Errno::EEXIST));
    let etc = ino(&mut fs, "/etc");
    assert_eq!(fs.link(etc, tmp, b"etc2"), Err(Errno::EPERM));
    rm(&mut fs, "/etc/passwd", false).unwrap();
    rm(&mut fs, "/tmp/pw", false).unwrap();
    assert_eq!(fs.stat(passwd).unwrap().nlink, 0);
    // Still readable through the inode (an open file), but it cannot get a name again.
    assert_eq!(fs.read(passwd, 0, 4).unwrap(), b"root");
    assert_eq!(fs.link(passwd, tmp, b"back"), Err(Errno::ENOENT));
    fs.forget(passwd);
    assert_eq!(fs.stat(passwd), Err(Errno::ENOENT));
}

#[test]
fn removing_lower_entries_hides_them() {
    let mut fs = base();
    rm(&mut fs, "/etc/passwd", false).unwrap();
    assert_eq!(lookup(&mut fs, b"/etc/passwd"), Err(Errno::ENOENT));
    assert_eq!(names(&mut fs, "/etc"), [b"group".to_vec()]);
    assert_eq!(rm(&mut fs, "/etc/passwd", false), Err(Errno::ENOENT));
    // Recreating it gives a new, empty file.
    let new = mk(&mut fs, "/etc/passwd", 0o600).unwrap();
    assert_eq!(read_all(&mut fs, "/etc/passwd"), b"");
    assert_eq!(fs.stat(new).unwrap().size, 0);

    // A lower directory removed and created again is opaque: no old children.
    rm(&mut fs, "/usr/lib/sub/deep", false).unwrap();
    let sub = ino(&mut fs, "/usr/lib/sub");
    rm(&mut fs, "/usr/lib/sub", true).unwrap();
    assert_eq!(fs.stat(sub).unwrap().nlink, 0);
    assert_eq!(fs.readdir(sub, 0, 10).unwrap(), vec![]);
    assert_eq!(fs.path(sub), Err(Errno::ENOENT));
    assert_eq!(fs.create(sub, b"x", 0, 0), Err(Errno::ENOENT));
    let again = mk(&mut fs, "/usr/lib/sub", S_IFDIR | 0o755).unwrap();
    assert_ne!(again, sub);
    assert_eq!(names(&mut fs, "/usr/lib/sub"), Vec::<Vec<u8>>::new());
    assert_eq!(lookup(&mut fs, b"/usr/lib/sub/deep"), Err(Errno::ENOENT));
}

#[test]
fn remove_errors() {
    let mut fs = base();
    assert_eq!(rm(&mut fs, "/usr/lib", true), Err(Errno::ENOTEMPTY));
    assert_eq!(rm(&mut fs, "/usr/lib/sub", false), Err(Errno::EISDIR));
    assert_eq!(rm(&mut fs, "/etc/passwd", true), Err(Errno::ENOTDIR));
    assert_eq!(rm(&mut fs, "/empty/.", true), Err(Errno::EINVAL));
    assert_eq!(rm(&mut fs, "/empty/..", true), Err(Errno::ENOTEMPTY));
    assert_eq!(rm(&mut fs, "/", true), Err(Errno::EBUSY));
    assert_eq!(rm(&mut fs, "/", false), Err(Errno::EISDIR));
    assert_eq!(rm(&mut fs, "/nothing", false), Err(Errno::ENOENT));
    // rmdir of a symlink to a directory: ENOTDIR (the link is not followed).
    assert_eq!(rm(&mut fs, "/lib", true), Err(Errno::ENOTDIR));
    rm(&mut fs, "/lib", false).unwrap();
    assert!(lookup(&mut fs, b"/usr/lib/libc.so").is_ok());
    rm(&mut fs, "/empty", true).unwrap();
    assert_eq!(stat_of(&mut fs, "/").nlink, 2 + 3); // etc, usr, tmp
}

#[test]
fn rename_moves_and_replaces() {
    let mut fs = base();
    let passwd = ino(&mut fs, "/etc/passwd");
    mv(&mut fs, "/etc/passwd", "/tmp/pw", 0).unwrap();
    assert_eq!(ino(&mut fs, "/tmp/pw"), passwd);
    assert_eq!(lookup(&mut fs, b"/etc/passwd"), Err(Errno::ENOENT));
    assert_eq!(read_all(&mut fs, "/tmp/pw"), b"root:x:0:0\n");
    // Replacing a file drops the old one's link.
    let group = ino(&mut fs, "/etc/group");
    mv(&mut fs, "/tmp/pw", "/etc/group", 0).unwrap();
    assert_eq!(ino(&mut fs, "/etc/group"), passwd);
    assert_eq!(fs.stat(group).unwrap().nlink, 0);
    // A directory moves with its subtree, and its path follows.
    let sub = ino(&mut fs, "/usr/lib/sub");
    mv(&mut fs, "/usr/lib/sub", "/tmp/moved", 0).unwrap();
    assert_eq!(fs.path(sub).unwrap(), b"/tmp/moved");
    assert_eq!(read_all(&mut fs, "/tmp/moved/deep"), b"d");
    assert_eq!(fs.lookup(sub, b"..", true), Ok(ino(&mut fs, "/tmp")));
    assert_eq!(stat_of(&mut fs, "/tmp").nlink, 3);
    // Over an empty directory: allowed; the old one is gone.
    let empty = ino(&mut fs, "/empty");
    mv(&mut fs, "/tmp/moved", "/empty", 0).unwrap();
    assert_eq!(ino(&mut fs, "/empty"), sub);
    assert_eq!(fs.stat(empty).unwrap().nlink, 0);
    // Same file under two names: nothing happens.
    mv(&mut fs, "/usr/lib/libc.so", "/usr/lib/libc2.so", 0).unwrap();
    assert!(lookup(&mut fs, b"/usr/lib/libc.so").is_ok());
    // Renaming onto itself.
    mv(&mut fs, "/etc/group", "/etc/group", 0).unwrap();
    assert_eq!(ino(&mut fs, "/etc/group"), passwd);
}

#[test]
fn rename_errors() {
    let mut fs = base();
    assert_eq!(mv(&mut fs, "/usr", "/usr/lib/sub/x", 0), Err(Errno::EINVAL));
    assert_eq!(mv(&mut fs, "/usr/lib", "/usr/lib", 0), Ok(()));
    assert_eq!(
        mv(&mut fs, "/usr/lib/sub", "/usr", 0),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(mv(&mut fs, "/empty", "/usr", 0), Err(Errno::ENOTEMPTY));
    assert_eq!(mv(&mut fs, "/empty", "/etc/passwd", 0), Err(Errno::ENOTDIR));
    assert_eq!(mv(&mut fs, "/etc/passwd", "/empty", 0), Err(Errno::EISDIR));
    assert_eq!(
        mv(&mut fs, "/etc/passwd", "/etc/group", 1),
        Err(Errno::EEXIST)
    );
    assert_eq!(mv(&mut fs, "/nothing", "/x", 0), Err(Errno::ENOENT));
    assert_eq!(
        mv(&mut fs, "/etc/passwd", "/nothing/x", 0),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        mv(&mut fs, "/etc/passwd", "/etc/group", 3),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        mv(&mut fs, "/etc/passwd", "/etc/group", 4),
        Err(Errno::EINVAL)
    );
    assert_eq!(mv(&mut fs, "/etc/.", "/x", 0), Err(Errno::EBUSY));
    assert_eq!(mv(&mut fs, "/etc/passwd", "/tmp/..", 0), Err(Errno::EBUSY));
    assert_eq!(mv(&mut fs, "/etc/passwd", "/tmp/..", 1), Err(Errno::EEXIST));
    assert_eq!(mv(&mut fs, "/etc/passwd", "/tmp/y", 2), Err(Errno::ENOENT));
    // Nothing above changed anything.
    assert_eq!(read_all(&mut fs, "/etc/passwd"), b"root:x:0:0\n");
    assert_eq!(names(&mut fs, "/empty"), Vec::<Vec<u8>>::new());
}

fn mv_raw(fs: &mut TestFs, from: &str, to: &str) -> Result<(), Errno> {
    mv(fs, from, to, 0)
}

#[test]
fn rename_exchange() {
    let mut fs = base();
    let passwd = ino(&mut fs, "/etc/passwd");
    let sub = ino(&mut fs, "/usr/lib/sub");
    mv(&mut fs, "/etc/passwd", "/usr/lib/sub", 2).unwrap();
    assert_eq!(ino(&mut fs, "/etc/passwd"), sub);
    assert_eq!(ino(&mut fs, "/usr/lib/sub"), passwd);
    assert_eq!(fs.path(sub).unwrap(), b"/etc/passwd");
    assert_eq!(stat_of(&mut fs, "/etc").nlink, 3);
    assert_eq!(stat_of(&mut fs, "/usr/lib").nlink, 2);
    // A directory cannot be exchanged into its own subtree.
    assert_eq!(
        mv(&mut fs, "/usr", "/usr/lib/libc.so", 2),
        Err(Errno::EINVAL)
    );
    mv_raw(&mut fs, "/etc/passwd", "/etc/dir").unwrap();
    assert_eq!(read_all(&mut fs, "/etc/dir/deep"), b"d");
}

#[test]
fn readdir_while_changing() {
    let mut fs = base();
    let tmp = ino(&mut fs, "/tmp");
    for i in 0..20 {
        fs.create(tmp, format!("f{i:02}").as_bytes(), 0o644, 0)
            .unwrap();
    }
    let first = fs.readdir(tmp, 0, 7).unwrap();
    let mut seen: Vec<Vec<u8>> = first.iter().map(|e| e.name.clone()).collect();
    let mut cookie = first.last().unwrap().next;
    // Remove one already listed, one not yet listed, add new ones.
    fs.remove(tmp, b"f01", false).unwrap();
    fs.remove(tmp, b"f10", false).unwrap();
    fs.create(tmp, b"new", 0o644, 0).unwrap();
    loop {
        let batch = fs.readdir(tmp, cookie, 4).unwrap();
        if batch.is_empty() {
            break;
        }
        cookie = batch.last().unwrap().next;
        seen.extend(batch.into_iter().map(|e| e.name));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no entry twice");
    assert!(!seen.contains(&b"f10".to_vec()));
    assert!(seen.contains(&b"f19".to_vec()));
}

fn fixed_clock() -> Timespec {
    Timespec {
        sec: 2_000_000_000,
        nsec: 5,
    }
}

#[test]
fn times_follow_the_clock() {
    let mut fs = base();
    fs.set_clock(Some(fixed_clock));
    let tmp = ino(&mut fs, "/tmp");
    let before = fs.stat(tmp).unwrap();
    assert_eq!(before.mtime.sec, 1_700_000_000);
    let f = fs.create(tmp, b"f", 0o644, 0).unwrap();
    let st = fs.stat(f).unwrap();
    assert_eq!(
        (st.atime, st.mtime, st.ctime),
        (fixed_clock(), fixed_clock(), fixed_clock())
    );
    assert_eq!(fs.stat(tmp).unwrap().mtime, fixed_clock());
    let passwd = ino(&mut fs, "/etc/passwd");
    fs.write(passwd, 0, b"R").unwrap();
    let st = fs.stat(passwd).unwrap();
    assert_eq!((st.mtime, st.ctime), (fixed_clock(), fixed_clock()));
    assert_eq!(st.atime.sec, 1_700_000_000);
    // The default clock is the system's.
    let mut fs = Vfs::new(Archive::new().dir("d", 0o755).finish()).unwrap();
    let root = fs.root();
    let d = fs.create(root, b"new", S_IFDIR | 0o755, 0).unwrap();
    assert!(fs.stat(d).unwrap().mtime.sec > 1_700_000_000);
}

#[test]
fn dot_dot_at_root_and_relative_starts() {
    let mut fs = base();
    let root = fs.root();
    let etc = ino(&mut fs, "/etc");
    assert_eq!(fs.lookup(etc, b"../../../..", true), Ok(root));
    assert_eq!(
        fs.lookup(etc, b"../etc/./passwd", true),
        Ok(ino(&mut fs, "/etc/passwd"))
    );
    assert_eq!(
        fs.lookup_parent(etc, b"../../tmp/x"),
        Ok((ino(&mut fs, "/tmp"), b"x".to_vec()))
    );
    let lib = fs.lookup(root, b"/lib", false).unwrap();
    assert_eq!(
        fs.lookup_parent(root, b"/lib/new"),
        Ok((ino(&mut fs, "/usr/lib"), b"new".to_vec()))
    );
    assert_eq!(fs.lookup_parent(root, b"/lib"), Ok((root, b"lib".to_vec())));
    assert_eq!(fs.stat(lib).unwrap().mode & S_IFMT, S_IFLNK);
    // Making a symlink loop in the upper layer.
    let tmp = ino(&mut fs, "/tmp");
    fs.symlink(tmp, b"a", b"/tmp/b").unwrap();
    fs.symlink(tmp, b"b", b"a").unwrap();
    assert_eq!(lookup(&mut fs, b"/tmp/a"), Err(Errno::ELOOP));
    assert_eq!(fs.lookup_parent(root, b"/tmp/a/x"), Err(Errno::ELOOP));
    assert!(fs.lookup(root, b"/tmp/a", false).is_ok());
}

#[test]
fn rename_exchange_keeps_listing_positions() {
    let mut fs = base();
    let etc = ino(&mut fs, "/etc");
    let before = fs.readdir(etc, 0, 10).unwrap();
    mv(&mut fs, "/etc/passwd", "/etc/group", 2).unwrap();
    let after = fs.readdir(etc, 0, 10).unwrap();
    let key = |v: &[friscy_vfs::Dirent]| {
        v.iter()
            .map(|e| (e.name.clone(), e.next))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&before), key(&after));
    assert_eq!(before[2].ino, after[3].ino);
    assert_eq!(read_all(&mut fs, "/etc/passwd"), b"root:x:0:\n");
}

#[test]
fn the_writable_layer_has_a_capacity_and_unlinked_files_can_be_reclaimed() {
    let mut fs = base();
    fs.set_capacity(3 * 4096);
    let tmp = ino(&mut fs, "tmp");
    let a = fs.create(tmp, b"a", S_IFREG | 0o644, 0).unwrap();
    // Copy-up of one page of a lower file counts too.
    let libc = ino(&mut fs, "usr/lib/libc.so");
    assert_eq!(fs.write(libc, 10, b"x"), Ok(1));
    // Two pages left: a short write, then ENOSPC, as on a full tmpfs.
    assert_eq!(fs.write(a, 0, &[1u8; 3 * 4096]), Ok(2 * 4096));
    assert_eq!(fs.write(a, 2 * 4096, b"more"), Err(Errno::ENOSPC));
    // Rewriting written pages costs nothing.
    assert_eq!(fs.write(a, 100, b"rewrite"), Ok(7));
    let u = fs.usage();
    assert_eq!((u.capacity, u.used), (3 * 4096, 3 * 4096));
    // Unlinked, its pages stay until the kernel says nobody has it open.
    rm(&mut fs, "tmp/a", false).unwrap();
    assert_eq!(fs.reclaim(&[a]), 0);
    assert_eq!(fs.read(a, 0, 4), Ok(vec![1, 1, 1, 1]));
    assert_eq!(fs.reclaim(&[]), 2 * 4096);
    assert_eq!(fs.usage().used, 4096);
    let b = fs.create(tmp, b"b", S_IFREG | 0o644, 0).unwrap();
    assert_eq!(fs.write(b, 0, &[2u8; 2 * 4096]), Ok(2 * 4096));
    // Truncating gives pages back.
    let shrink = SetAttr {
        size: Some(0),
        ..SetAttr::default()
    };
    fs.set_attr(b, &shrink).unwrap();
    assert_eq!(fs.usage().used, 4096);
    // Inodes are bounded by the capacity too (one per 4 KiB, as tmpfs's default).
    let used = fs.usage().inodes_used;
    assert_eq!(used, 1);
    assert!(fs.create(tmp, b"c", S_IFREG | 0o644, 0).is_ok());
    assert!(fs.symlink(tmp, b"d", b"c").is_ok());
    assert_eq!(fs.create(tmp, b"e", S_IFREG, 0), Err(Errno::ENOSPC));
}
