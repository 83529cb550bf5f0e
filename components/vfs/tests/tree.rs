//! The directory-tree lower layer (`Vfs::from_tree`): over an in-memory tree for the edge
//! cases (hard links, names Linux cannot hold, a host that fails), over real host
//! directories through `HostTree` (modes, symlinks, hard links, FIFOs, writes never reaching
//! the host), and the Alpine minirootfs extracted by GNU tar compared node by node with the
//! same image read as a tar.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use friscy_abi::mode::*;
use friscy_vfs::host_tree::HostTree;
use friscy_vfs::{Errno, Fs, Ino, Timespec, TreeEntry, TreeSource, Vfs};

// --- an in-memory tree -------------------------------------------------------------

#[derive(Default)]
struct MemTree {
    /// handle -> entries; handle 1 is the root.
    dirs: BTreeMap<u64, Vec<TreeEntry>>,
    files: BTreeMap<u64, Vec<u8>>,
    /// Directories whose listing fails.
    broken: Vec<u64>,
    /// Reads fail (the host file went away).
    unreadable: bool,
}

fn e(name: &str, mode: u32, handle: u64) -> TreeEntry {
    TreeEntry {
        name: name.as_bytes().to_vec(),
        handle,
        mode,
        nlink: 1,
        ino: handle + 1000,
        mtime: Timespec {
            sec: 1_700_000_000,
            nsec: 5,
        },
        ..TreeEntry::default()
    }
}

impl TreeSource for MemTree {
    fn root(&self) -> Result<TreeEntry, String> {
        Ok(e("", S_IFDIR | 0o755, 1))
    }
    fn list_dir(&self, dir: u64) -> Result<Vec<TreeEntry>, Errno> {
        if self.broken.contains(&dir) {
            return Err(Errno::EACCES);
        }
        self.dirs.get(&dir).cloned().ok_or(Errno::ENOENT)
    }
    fn read(&self, file: u64, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        if self.unreadable {
            return Err(Errno::ENOENT);
        }
        let data = self.files.get(&file).ok_or(Errno::EBADF)?;
        let start = (offset as usize).min(data.len());
        let end = (start + len as usize).min(data.len());
        Ok(data[start..end].to_vec())
    }
}

fn lookup<L: friscy_vfs::LowerLayer>(
    fs: &mut Vfs<L>,
    path: &str,
    follow: bool,
) -> Result<Ino, Errno> {
    let root = fs.root();
    fs.lookup(root, path.as_bytes(), follow)
}

fn read_all<L: friscy_vfs::LowerLayer>(fs: &mut Vfs<L>, node: Ino) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    loop {
        let chunk = fs.read(node, out.len() as u64, 65536)?;
        if chunk.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
    }
}

fn mem_tree() -> MemTree {
    let mut t = MemTree::default();
    let mut hosts = e("hosts", S_IFREG | 0o644, 3);
    hosts.size = 9;
    let mut shadow = e("shadow", S_IFREG | 0o640, 4);
    shadow.gid = 42;
    shadow.size = 4;
    shadow.nlink = 2;
    shadow.dev = 7;
    shadow.ino = 99;
    let mut shadow2 = shadow.clone();
    shadow2.name = b"shadow-".to_vec();
    shadow2.handle = 5;
    let mut abs = e("abs", S_IFLNK | 0o777, 0);
    abs.target = b"/etc/hosts".to_vec();
    let mut null = e("null", S_IFCHR | 0o666, 0);
    null.rdev = (1 << 8) | 3;
    t.dirs.insert(
        1,
        vec![
            e("etc", S_IFDIR | 0o755, 2),
            abs,
            null,
            // A host can list names no Linux directory holds: they are left out.
            e("a/b", S_IFREG | 0o644, 6),
            e("..", S_IFDIR | 0o755, 7),
            e("", S_IFREG | 0o644, 8),
        ],
    );
    t.dirs.insert(2, vec![hosts, shadow, shadow2]);
    t.files.insert(3, b"127.0.0.1".to_vec());
    t.files.insert(4, b"root".to_vec());
    t
}

#[test]
fn a_tree_becomes_the_lower_layer_with_its_modes_owners_and_links() {
    let mut fs = Vfs::from_tree(mem_tree()).unwrap();
    fs.set_clock(None);
    let etc = lookup(&mut fs, "/etc", true).unwrap();
    let st = fs.stat(etc).unwrap();
    assert_eq!((st.mode, st.nlink), (S_IFDIR | 0o755, 2));

    let shadow = lookup(&mut fs, "/etc/shadow", true).unwrap();
    let st = fs.stat(shadow).unwrap();
    assert_eq!(
        (st.mode, st.gid, st.nlink, st.size),
        (S_IFREG | 0o640, 42, 2, 4)
    );
    assert_eq!(
        st.mtime,
        Timespec {
            sec: 1_700_000_000,
            nsec: 5
        }
    );
    // The two names of one host file are one inode.
    assert_eq!(lookup(&mut fs, "/etc/shadow-", true).unwrap(), shadow);

    // An absolute symlink resolves in the guest's tree.
    let abs = lookup(&mut fs, "/abs", false).unwrap();
    assert_eq!(fs.readlink(abs).unwrap(), b"/etc/hosts");
    let hosts = lookup(&mut fs, "/abs", true).unwrap();
    assert_eq!(read_all(&mut fs, hosts).unwrap(), b"127.0.0.1");

    let null = lookup(&mut fs, "/null", true).unwrap();
    let st = fs.stat(null).unwrap();
    assert_eq!((st.mode, st.rdev), (S_IFCHR | 0o666, (1 << 8) | 3));

    // Bad names were skipped: the root holds exactly what Linux could.
    let root = fs.root();
    let mut names: Vec<Vec<u8>> = fs
        .readdir(root, 0, 100)
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, [&b"."[..], b"..", b"abs", b"etc", b"null"]);
}

#[test]
fn writes_copy_up_and_never_reach_the_tree() {
    let mut fs = Vfs::from_tree(mem_tree()).unwrap();
    let hosts = lookup(&mut fs, "/etc/hosts", true).unwrap();
    assert_eq!(fs.write(hosts, 4, b"X").unwrap(), 1);
    assert_eq!(read_all(&mut fs, hosts).unwrap(), b"127.X.0.1");
    assert_eq!(fs.source().files[&3], b"127.0.0.1");
    let etc = lookup(&mut fs, "/etc", true).unwrap();
    fs.remove(etc, b"shadow", false).unwrap();
    assert_eq!(lookup(&mut fs, "/etc/shadow", true), Err(Errno::ENOENT));
    let other = lookup(&mut fs, "/etc/shadow-", true).unwrap();
    assert_eq!(fs.stat(other).unwrap().nlink, 1);
}

#[test]
fn a_host_that_fails_is_an_error_not_a_fake_success() {
    let mut t = mem_tree();
    t.broken.push(2);
    let err = Vfs::from_tree(t).err().expect("listing /etc fails");
    assert!(err.0.contains("/etc") && err.0.contains("denied"), "{err}");

    let mut t = mem_tree();
    t.unreadable = true;
    let mut fs = Vfs::from_tree(t).unwrap();
    let hosts = lookup(&mut fs, "/etc/hosts", true).unwrap();
    assert_eq!(fs.read(hosts, 0, 10), Err(Errno::EIO));
    // A write that needs the lower contents fails whole: nothing was written.
    assert_eq!(fs.write(hosts, 2, b"zz"), Err(Errno::EIO));
    assert_eq!(fs.stat(hosts).unwrap().size, 9);
    // Truncated to nothing, the file has no lower contents left to copy up: writes work.
    fs.set_attr(
        hosts,
        &friscy_vfs::SetAttr {
            size: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(fs.write(hosts, 0, b"new").unwrap(), 3);
    assert_eq!(read_all(&mut fs, hosts).unwrap(), b"new");
}

// --- real host directories ---------------------------------------------------------

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("friscy-vfs-tree-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn host_tree_serves_a_real_directory() {
    let dir = temp_dir("host");
    std::fs::create_dir_all(dir.join("etc/sub")).unwrap();
    std::fs::write(dir.join("etc/passwd"), b"root:x:0:0\n").unwrap();
    std::fs::set_permissions(
        dir.join("etc/passwd"),
        std::fs::Permissions::from_mode(0o4751),
    )
    .unwrap();
    std::fs::hard_link(dir.join("etc/passwd"), dir.join("etc/passwd-")).unwrap();
    symlink("/etc/passwd", dir.join("abs")).unwrap();
    symlink("..", dir.join("etc/sub/up")).unwrap();
    // A symlink pointing out of the tree on the host resolves inside it in the guest.
    symlink("/", dir.join("etc/hostroot")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join("fifo").as_path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big"), &big).unwrap();

    let tree = HostTree::open(&dir).unwrap();
    let mut fs = Vfs::from_tree(tree).unwrap();
    let passwd = lookup(&mut fs, "/etc/passwd", true).unwrap();
    let st = fs.stat(passwd).unwrap();
    let host = std::fs::symlink_metadata(dir.join("etc/passwd")).unwrap();
    assert_eq!(st.mode, host.mode());
    assert_eq!((st.uid, st.gid, st.nlink), (host.uid(), host.gid(), 2));
    assert_eq!(st.mtime.sec, host.mtime());
    assert_eq!(lookup(&mut fs, "/etc/passwd-", true).unwrap(), passwd);
    assert_eq!(read_all(&mut fs, passwd).unwrap(), b"root:x:0:0\n");

    assert_eq!(lookup(&mut fs, "/abs", true).unwrap(), passwd);
    assert_eq!(lookup(&mut fs, "/etc/sub/up/passwd", true).unwrap(), passwd);
    // "/" from /etc/hostroot is the guest's root, so this is /etc/passwd again.
    assert_eq!(
        lookup(&mut fs, "/etc/hostroot/etc/passwd", true).unwrap(),
        passwd
    );
    let fifo = lookup(&mut fs, "/fifo", true).unwrap();
    assert_eq!(fs.stat(fifo).unwrap().mode, S_IFIFO | 0o600);

    let big_ino = lookup(&mut fs, "/big", true).unwrap();
    assert_eq!(read_all(&mut fs, big_ino).unwrap(), big);

    // Changes stay in the overlay.
    assert_eq!(fs.write(passwd, 0, b"ROOT").unwrap(), 4);
    assert_eq!(&read_all(&mut fs, passwd).unwrap()[..4], b"ROOT");
    let etc = lookup(&mut fs, "/etc", true).unwrap();
    fs.remove(etc, b"passwd-", false).unwrap();
    fs.create(etc, b"new", S_IFREG | 0o644, 0).unwrap();
    assert_eq!(
        std::fs::read(dir.join("etc/passwd")).unwrap(),
        b"root:x:0:0\n"
    );
    assert!(dir.join("etc/passwd-").exists());
    assert!(!dir.join("etc/new").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn host_tree_never_follows_a_symlink_swapped_in_after_listing() {
    let dir = temp_dir("swap");
    std::fs::create_dir_all(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/f"), b"inside").unwrap();
    let outside = temp_dir("swap-outside");
    std::fs::write(outside.join("f"), b"outside").unwrap();

    let tree = HostTree::open(&dir).unwrap();
    let mut fs = Vfs::from_tree(tree).unwrap();
    let f = lookup(&mut fs, "/d/f", true).unwrap();
    // Replace the directory by a symlink to somewhere else before the first read.
    std::fs::rename(dir.join("d"), dir.join("d.old")).unwrap();
    symlink(&outside, dir.join("d")).unwrap();
    assert_eq!(fs.read(f, 0, 100), Err(Errno::EIO));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

// --- Alpine: tar and extracted tree agree ------------------------------------------

const FIXTURE: &str = "/work/shared/fixtures/alpine-minirootfs-3.20.3-riscv64.tar.gz";

/// Every node reachable without following symlinks: path -> (mode, uid, gid, nlink, rdev,
/// mtime, symlink target or file contents).
type Listing = BTreeMap<Vec<u8>, (u32, u32, u32, u32, u64, i64, Vec<u8>)>;

fn walk<L: friscy_vfs::LowerLayer>(fs: &mut Vfs<L>, dir: Ino, path: &[u8], out: &mut Listing) {
    for d in fs.readdir(dir, 0, u32::MAX).unwrap() {
        if d.name == b"." || d.name == b".." {
            continue;
        }
        let mut p = path.to_vec();
        p.push(b'/');
        p.extend_from_slice(&d.name);
        let st = fs.stat(d.ino).unwrap();
        let body = match st.mode & S_IFMT {
            S_IFREG => read_all(fs, d.ino).unwrap(),
            S_IFLNK => fs.readlink(d.ino).unwrap(),
            _ => Vec::new(),
        };
        out.insert(
            p.clone(),
            (
                st.mode,
                st.uid,
                st.gid,
                st.nlink,
                st.rdev,
                st.mtime.sec,
                body,
            ),
        );
        if st.mode & S_IFMT == S_IFDIR {
            walk(fs, d.ino, &p, out);
        }
    }
}

#[test]
fn alpine_extracted_is_the_same_filesystem_as_alpine_read_as_a_tar() {
    let path = std::env::var("FRISCY_ALPINE_TAR").unwrap_or_else(|_| FIXTURE.to_string());
    let Ok(gz) = std::fs::read(&path) else {
        println!("SKIPPED: no Alpine image at {path} (set FRISCY_ALPINE_TAR)");
        return;
    };
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    let dir = temp_dir("alpine");
    let status = std::process::Command::new("tar")
        .args(["-x", "--numeric-owner", "-p", "-f", "-", "-C"])
        .arg(&dir)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&tar)?;
            c.wait()
        })
        .expect("GNU tar runs");
    assert!(status.success());

    let mut from_tar = Vfs::new(tar).unwrap();
    let mut from_dir = Vfs::from_tree(HostTree::open(&dir).unwrap()).unwrap();
    let (mut a, mut b) = (Listing::new(), Listing::new());
    let (ra, rb) = (from_tar.root(), from_dir.root());
    walk(&mut from_tar, ra, b"", &mut a);
    walk(&mut from_dir, rb, b"", &mut b);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(a.len() > 400, "{} nodes", a.len());
    // Owners survive extraction only as root.
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        for x in a.values_mut().chain(b.values_mut()) {
            (x.1, x.2) = (0, 0);
        }
    }
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "{only_a:?} {only_b:?}"
    );
    for (p, x) in &a {
        assert_eq!(x, &b[p], "{}", String::from_utf8_lossy(p));
    }
}
