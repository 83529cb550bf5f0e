//! Host directory mounts (for `friscy run -v HOST:/guest` and `wasmtime run --dir
//! HOST::/guest`, whose wiring is not done yet): a layer in front of the vfs that presents
//! each host directory at its guest path.
//!
//! `Mounts` implements [`Fs`] itself, so every syscall reaches mounted files unchanged.
//! Nodes under a mount get inode numbers from a range the vfs never uses and stand for a
//! path relative to the mount's root. Paths that may cross a mount are resolved here one
//! component at a time: `..` at a mount's root goes to the mount point's parent, and
//! symlinks found on the host are followed in the guest's namespace (an absolute target
//! starts at the guest's `/`), so the host only ever sees relative paths of plain names
//! that were each checked to be a directory: nothing can reach outside the mount (and
//! wasi:filesystem refuses escapes as well).
//!
//! Limitation: a node is its path, so a descriptor of a host file that is renamed under it
//! follows the old name.

use std::collections::HashMap;

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use friscy_vfs::{Dirent, Fs, Ino, SetAttr, Stat, Timespec};

/// Inode numbers of host nodes start here: the vfs counts up from 1, and /proc's numbers
/// have bit 62 set (procfs.rs), so host nodes live between the two.
const HOST_INO: Ino = 1 << 61;
/// Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS).
const MAX_SYMLINKS: u32 = 40;

/// Whether `ino` is a host node (under a mount), whose permissions are the host's.
pub fn is_host(ino: Ino) -> bool {
    ino & HOST_INO != 0 && !crate::procfs::is_proc(ino)
}

/// What a host directory tree offers. Paths are relative to the mount's root, made of
/// plain names (no `.`, `..` or empty components); "" is the root itself. Nothing here
/// follows a symlink in the last component.
pub trait HostDir {
    fn stat(&mut self, rel: &str) -> Result<HostStat, Errno>;
    fn read(&mut self, rel: &str, offset: u64, len: u32) -> Result<Vec<u8>, Errno>;
    fn write(&mut self, rel: &str, offset: u64, data: &[u8]) -> Result<u32, Errno>;
    /// Names in the directory, without "." and "..".
    fn list(&mut self, rel: &str) -> Result<Vec<String>, Errno>;
    fn readlink(&mut self, rel: &str) -> Result<Vec<u8>, Errno>;
    fn create_file(&mut self, rel: &str, mode: u32) -> Result<(), Errno>;
    fn mkdir(&mut self, rel: &str, mode: u32) -> Result<(), Errno>;
    fn symlink(&mut self, rel: &str, target: &[u8]) -> Result<(), Errno>;
    fn link(&mut self, old: &str, new: &str) -> Result<(), Errno>;
    fn remove(&mut self, rel: &str, dir: bool) -> Result<(), Errno>;
    fn rename(&mut self, old: &str, new: &str) -> Result<(), Errno>;
    fn set_size(&mut self, rel: &str, size: u64) -> Result<(), Errno>;
    fn set_mode(&mut self, rel: &str, mode: u32) -> Result<(), Errno>;
    fn set_times(
        &mut self,
        rel: &str,
        atime: Option<Timespec>,
        mtime: Option<Timespec>,
    ) -> Result<(), Errno>;
}

/// What the kernel needs of a host node's metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostStat {
    /// Type and permission bits (S_IFMT | 0o7777).
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: Timespec,
    pub mtime: Timespec,
    pub ctime: Timespec,
}

struct Mount {
    /// The lower directory it covers.
    point: Ino,
    host: Box<dyn HostDir>,
}

/// The vfs with host directories mounted on it.
pub struct Mounts {
    lower: Box<dyn Fs>,
    mounts: Vec<Mount>,
    /// Host nodes: (mount index, relative path) by inode number and back.
    nodes: Vec<(usize, String)>,
    by_path: HashMap<(usize, String), Ino>,
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn name_str(name: &[u8]) -> Result<&str, Errno> {
    // wasi:filesystem paths are strings; a name that is not UTF-8 cannot exist there.
    std::str::from_utf8(name).map_err(|_| Errno::EINVAL)
}

impl Mounts {
    /// Mount `dirs` (guest path, host directory) over `lower`, making missing mount
    /// points (as Docker does for `-v`). A mount point that cannot be made is an error.
    pub fn new(
        mut lower: Box<dyn Fs>,
        dirs: Vec<(String, Box<dyn HostDir>)>,
    ) -> Result<Mounts, String> {
        let mut mounts = Vec::new();
        for (guest, host) in dirs {
            let root = lower.root();
            let mut cur = root;
            for name in guest.split('/').filter(|c| !c.is_empty() && *c != ".") {
                cur = match lower.lookup(cur, name.as_bytes(), true) {
                    Ok(ino) => ino,
                    Err(Errno::ENOENT) => lower
                        .create(cur, name.as_bytes(), S_IFDIR | 0o755, 0)
                        .map_err(|e| format!("mount point {guest}: {}", e.message()))?,
                    Err(e) => return Err(format!("mount point {guest}: {}", e.message())),
                };
            }
            if cur == root {
                return Err(format!("{guest}: cannot mount over the root"));
            }
            mounts.push(Mount { point: cur, host });
        }
        Ok(Mounts {
            lower,
            mounts,
            nodes: Vec::new(),
            by_path: HashMap::new(),
        })
    }

    fn node(&mut self, mount: usize, rel: String) -> Ino {
        if let Some(&ino) = self.by_path.get(&(mount, rel.clone())) {
            return ino;
        }
        let ino = HOST_INO + self.nodes.len() as Ino;
        self.nodes.push((mount, rel.clone()));
        self.by_path.insert((mount, rel), ino);
        ino
    }

    fn host_node(&self, ino: Ino) -> Option<(usize, String)> {
        ino.checked_sub(HOST_INO)
            .and_then(|i| self.nodes.get(i as usize))
            .cloned()
    }

    fn mount_at(&self, lower_ino: Ino) -> Option<usize> {
        self.mounts.iter().position(|m| m.point == lower_ino)
    }

    /// One step of a walk: `name` in directory `dir`, not following a final symlink.
    fn step(&mut self, dir: Ino, name: &[u8]) -> Result<Ino, Errno> {
        if let Some((m, rel)) = self.host_node(dir) {
            if self.mounts[m].host.stat(&rel)?.mode & S_IFMT != S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            return match name {
                b"." => Ok(dir),
                b".." if rel.is_empty() => self.lower.lookup(self.mounts[m].point, b"..", false),
                b".." => {
                    let parent = rel.rsplit_once('/').map_or("", |(p, _)| p).to_string();
                    Ok(self.node(m, parent))
                }
                _ => {
                    let rel = join(&rel, name_str(name)?);
                    self.mounts[m].host.stat(&rel)?;
                    Ok(self.node(m, rel))
                }
            };
        }
        let next = self.lower.lookup(dir, name, false)?;
        Ok(match self.mount_at(next) {
            Some(m) if name != b".." && name != b"." => self.node(m, String::new()),
            _ => next,
        })
    }

    /// Resolve `path` component by component (only needed when a mount exists).
    fn walk(&mut self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
        let (dir, last) = self.walk_parent(start, path)?;
        let dir_wanted = path.ends_with(b"/");
        if last == b"/" {
            return Ok(dir);
        }
        let mut links = 0;
        let mut dir = dir;
        let mut name = last;
        loop {
            let next = self.step(dir, &name)?;
            if !(follow || dir_wanted) || self.stat(next)?.mode & S_IFMT != S_IFLNK {
                if dir_wanted && self.stat(next)?.mode & S_IFMT != S_IFDIR {
                    return Err(Errno::ENOTDIR);
                }
                return Ok(next);
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Errno::ELOOP);
            }
            let target = self.readlink(next)?;
            let (d, n) = self.walk_parent_counted(dir, &target, &mut links)?;
            if n == b"/" {
                return Ok(d);
            }
            (dir, name) = (d, n);
        }
    }

    fn walk_parent(&mut self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
        let mut links = 0;
        self.walk_parent_counted(start, path, &mut links)
    }

    /// All but the last component, following every symlink on the way (in the guest's
    /// namespace: an absolute target restarts at the guest root).
    fn walk_parent_counted(
        &mut self,
        start: Ino,
        path: &[u8],
        links: &mut u32,
    ) -> Result<(Ino, Vec<u8>), Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let root = self.lower.root();
        let mut cur = if path.starts_with(b"/") { root } else { start };
        let mut stack: Vec<Vec<u8>> = Vec::new();
        for c in path.rsplit(|&c| c == b'/') {
            if !c.is_empty() {
                stack.push(c.to_vec());
            }
        }
        let Some(mut last) = stack.first().cloned() else {
            return Ok((root, b"/".to_vec()));
        };
        // The final name stays on the stack bottom until only it is left.
        while stack.len() > 1 {
            let name = stack.pop().unwrap();
            let next = self.step(cur, &name)?;
            if self.stat(next)?.mode & S_IFMT == S_IFLNK {
                *links += 1;
                if *links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = self.readlink(next)?;
                if target.starts_with(b"/") {
                    cur = root;
                }
                for c in target.rsplit(|&c| c == b'/') {
                    if !c.is_empty() {
                        stack.push(c.to_vec());
                    }
                }
                continue;
            }
            cur = next;
        }
        if let Some(l) = stack.pop() {
            last = l;
        }
        Ok((cur, last))
    }

    fn host(&mut self, ino: Ino) -> Option<(&mut dyn HostDir, String)> {
        let (m, rel) = self.host_node(ino)?;
        Some((&mut *self.mounts[m].host, rel))
    }

    /// A name inside host directory `parent`.
    fn child(&mut self, parent: Ino, name: &[u8]) -> Result<(usize, String), Errno> {
        let (m, rel) = self.host_node(parent).ok_or(Errno::EXDEV)?;
        if name.contains(&b'/') || name == b"." || name == b".." || name.is_empty() {
            return Err(Errno::EINVAL);
        }
        Ok((m, join(&rel, name_str(name)?)))
    }
}

impl Fs for Mounts {
    fn root(&self) -> Ino {
        self.lower.root()
    }

    fn lookup(&mut self, start: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
        if self.mounts.is_empty() {
            return self.lower.lookup(start, path, follow);
        }
        self.walk(start, path, follow)
    }

    fn lookup_parent(&mut self, start: Ino, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
        if self.mounts.is_empty() {
            return self.lower.lookup_parent(start, path);
        }
        let (dir, last) = self.walk_parent(start, path)?;
        if last != b"/" && self.stat(dir)?.mode & S_IFMT != S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        Ok((dir, last))
    }

    fn path(&mut self, dir: Ino) -> Result<Vec<u8>, Errno> {
        let Some((m, rel)) = self.host_node(dir) else {
            return self.lower.path(dir);
        };
        let mut p = self.lower.path(self.mounts[m].point)?;
        if !rel.is_empty() {
            p.push(b'/');
            p.extend_from_slice(rel.as_bytes());
        }
        Ok(p)
    }

    fn stat(&mut self, node: Ino) -> Result<Stat, Errno> {
        let Some((host, rel)) = self.host(node) else {
            return self.lower.stat(node);
        };
        let s = host.stat(&rel)?;
        Ok(Stat {
            ino: node,
            mode: s.mode,
            nlink: s.nlink,
            uid: s.uid,
            gid: s.gid,
            rdev: 0,
            size: s.size,
            blocks: s.size.div_ceil(512),
            atime: s.atime,
            mtime: s.mtime,
            ctime: s.ctime,
        })
    }

    fn read(&mut self, node: Ino, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        match self.host(node) {
            Some((host, rel)) => host.read(&rel, offset, len),
            None => self.lower.read(node, offset, len),
        }
    }

    fn read_into(&mut self, node: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        match self.host(node) {
            Some((host, rel)) => {
                let got = host.read(&rel, offset, buf.len().min(u32::MAX as usize) as u32)?;
                let n = got.len().min(buf.len());
                buf[..n].copy_from_slice(&got[..n]);
                Ok(n)
            }
            None => self.lower.read_into(node, offset, buf),
        }
    }

    fn write(&mut self, node: Ino, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        match self.host(node) {
            Some((host, rel)) => host.write(&rel, offset, data),
            None => self.lower.write(node, offset, data),
        }
    }

    fn readdir(&mut self, dir: Ino, cookie: u64, max: u32) -> Result<Vec<Dirent>, Errno> {
        let Some((m, rel)) = self.host_node(dir) else {
            return self.lower.readdir(dir, cookie, max);
        };
        let mut names = vec![".".to_string(), "..".to_string()];
        let mut listed = self.mounts[m].host.list(&rel)?;
        listed.sort();
        names.extend(listed);
        let mut out = Vec::new();
        for (i, name) in names.into_iter().enumerate().skip(cookie as usize) {
            if out.len() as u32 >= max {
                break;
            }
            let (ino, kind) = match name.as_str() {
                "." => (dir, 4),
                ".." => (self.step(dir, b"..")?, 4),
                _ => {
                    let rel = join(&rel, &name);
                    let mode = self.mounts[m].host.stat(&rel).map_or(0, |s| s.mode);
                    (self.node(m, rel), ((mode & S_IFMT) >> 12) as u8)
                }
            };
            out.push(Dirent {
                ino,
                kind,
                name: name.into_bytes(),
                next: i as u64 + 1,
            });
        }
        Ok(out)
    }

    fn readlink(&mut self, node: Ino) -> Result<Vec<u8>, Errno> {
        match self.host(node) {
            Some((host, rel)) => host.readlink(&rel),
            None => self.lower.readlink(node),
        }
    }

    fn create_unlinked(&mut self, mode: u32) -> Result<Ino, Errno> {
        // Memory-backed: the image's filesystem, never a host directory.
        self.lower.create_unlinked(mode)
    }

    fn create(&mut self, parent: Ino, name: &[u8], mode: u32, rdev: u64) -> Result<Ino, Errno> {
        if self.host_node(parent).is_none() {
            return self.lower.create(parent, name, mode, rdev);
        }
        let (m, rel) = self.child(parent, name)?;
        match mode & S_IFMT {
            0 | S_IFREG => self.mounts[m].host.create_file(&rel, mode & 0o7777)?,
            S_IFDIR => self.mounts[m].host.mkdir(&rel, mode & 0o7777)?,
            // Device nodes, FIFOs and sockets cannot be made through wasi:filesystem.
            _ => return Err(Errno::EPERM),
        }
        Ok(self.node(m, rel))
    }

    fn symlink(&mut self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Ino, Errno> {
        if self.host_node(parent).is_none() {
            return self.lower.symlink(parent, name, target);
        }
        let (m, rel) = self.child(parent, name)?;
        self.mounts[m].host.symlink(&rel, target)?;
        Ok(self.node(m, rel))
    }

    fn link(&mut self, node: Ino, parent: Ino, name: &[u8]) -> Result<(), Errno> {
        match (self.host_node(node), self.host_node(parent)) {
            (None, None) => self.lower.link(node, parent, name),
            (Some((m, old)), Some((pm, _))) if m == pm => {
                let (_, new) = self.child(parent, name)?;
                self.mounts[m].host.link(&old, &new)
            }
            _ => Err(Errno::EXDEV),
        }
    }

    fn remove(&mut self, parent: Ino, name: &[u8], dir: bool) -> Result<(), Errno> {
        if self.host_node(parent).is_none() {
            // A mount point is busy while mounted.
            if let Ok(ino) = self.lower.lookup(parent, name, false)
                && self.mount_at(ino).is_some()
            {
                return Err(Errno::EBUSY);
            }
            return self.lower.remove(parent, name, dir);
        }
        let (m, rel) = self.child(parent, name)?;
        self.mounts[m].host.remove(&rel, dir)
    }

    fn rename(
        &mut self,
        old_parent: Ino,
        old_name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        match (self.host_node(old_parent), self.host_node(new_parent)) {
            (None, None) => {
                for (p, n) in [(old_parent, old_name), (new_parent, new_name)] {
                    if let Ok(ino) = self.lower.lookup(p, n, false)
                        && self.mount_at(ino).is_some()
                    {
                        return Err(Errno::EBUSY);
                    }
                }
                self.lower
                    .rename(old_parent, old_name, new_parent, new_name, flags)
            }
            (Some((m, _)), Some((n, _))) if m == n => {
                if flags != 0 {
                    // RENAME_NOREPLACE / RENAME_EXCHANGE have no wasi:filesystem form.
                    return Err(Errno::EINVAL);
                }
                let (_, old) = self.child(old_parent, old_name)?;
                let (_, new) = self.child(new_parent, new_name)?;
                self.mounts[m].host.rename(&old, &new)?;
                // The node keeps its number under its new name.
                if let Some(ino) = self.by_path.remove(&(m, old.clone())) {
                    self.nodes[(ino - HOST_INO) as usize].1 = new.clone();
                    self.by_path.insert((m, new), ino);
                }
                Ok(())
            }
            _ => Err(Errno::EXDEV),
        }
    }

    fn set_attr(&mut self, node: Ino, attr: &SetAttr) -> Result<(), Errno> {
        let Some((host, rel)) = self.host(node) else {
            return self.lower.set_attr(node, attr);
        };
        if let Some(size) = attr.size {
            host.set_size(&rel, size)?;
        }
        if let Some(mode) = attr.mode {
            host.set_mode(&rel, mode & 0o7777)?;
        }
        if attr.atime.is_some() || attr.mtime.is_some() {
            host.set_times(&rel, attr.atime, attr.mtime)?;
        }
        // Ownership cannot change through wasi:filesystem; like a rootless container,
        // chown of a mounted file is accepted and has no effect.
        Ok(())
    }

    // The writable layer is the image's: mounted host directories are not part of it.
    fn generation(&self) -> u64 {
        self.lower.generation()
    }
    fn export_layer(&mut self, exclude: &[Vec<u8>]) -> Result<Vec<u8>, Errno> {
        self.lower.export_layer(exclude)
    }

    // The writable layer's limit and usage are the image overlay's; host directories are
    // bounded by the host.
    fn set_capacity(&mut self, bytes: u64) {
        self.lower.set_capacity(bytes)
    }

    fn usage(&mut self) -> friscy_vfs::Usage {
        self.lower.usage()
    }

    fn reclaim(&mut self, open: &[Ino]) -> u64 {
        self.lower.reclaim(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_dir::StdDir;

    /// A one-file image: /etc/secret, and a fresh host directory with a file, a
    /// subdirectory and symlinks that try to leave the mount.
    fn setup(name: &str) -> (Mounts, std::path::PathBuf) {
        let mut h = [0u8; 512];
        h[..10].copy_from_slice(b"etc/secret");
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(b"00000000006");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut tar = h.to_vec();
        tar.extend_from_slice(b"image\n");
        tar.resize(512 * 4, 0);
        let vfs = friscy_vfs::Vfs::new(tar).unwrap();
        let dir = std::env::temp_dir().join(format!("friscy-mounts-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("hello.txt"), "from the host\n").unwrap();
        std::os::unix::fs::symlink("/etc/secret", dir.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/secret", dir.join("sub/rel")).unwrap();
        std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
        let host: Box<dyn HostDir> = Box::new(StdDir::new(&dir));
        let m = Mounts::new(Box::new(vfs), vec![("/data".into(), host)]).unwrap();
        (m, dir)
    }

    fn read_all(m: &mut Mounts, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let root = m.root();
        let ino = m.lookup(root, path, true)?;
        m.read(ino, 0, 1 << 16)
    }

    #[test]
    fn host_files_read_write_and_list_through_the_mount() {
        let (mut m, dir) = setup("rw");
        assert_eq!(
            read_all(&mut m, b"/data/hello.txt").unwrap(),
            b"from the host\n"
        );
        assert_eq!(read_all(&mut m, b"/etc/secret").unwrap(), b"image\n");
        let root = m.root();
        let data = m.lookup(root, b"/data", true).unwrap();
        assert_eq!(m.stat(data).unwrap().mode & S_IFMT, S_IFDIR);
        let f = m.create(data, b"new.txt", S_IFREG | 0o644, 0).unwrap();
        assert_eq!(m.write(f, 0, b"written by the guest").unwrap(), 20);
        assert_eq!(
            std::fs::read(dir.join("new.txt")).unwrap(),
            b"written by the guest"
        );
        let names: Vec<Vec<u8>> = m
            .readdir(data, 0, 100)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        let want: [&[u8]; 6] = [b".", b"..", b"abs", b"hello.txt", b"new.txt", b"sub"];
        assert_eq!(names, want);
        let sub = m.lookup(root, b"/data/sub", true).unwrap();
        assert_eq!(m.path(sub).unwrap(), b"/data/sub");
        let (parent, name) = m.lookup_parent(root, b"/data/sub/x").unwrap();
        assert_eq!(name, b"x");
        let sub = m.create(parent, b"x", S_IFDIR | 0o755, 0).unwrap();
        assert!(dir.join("sub/x").is_dir());
        m.rename(parent, b"x", data, b"y", 0).unwrap();
        assert!(dir.join("y").is_dir());
        assert_eq!(m.path(sub).unwrap(), b"/data/y");
        m.remove(data, b"y", true).unwrap();
        m.remove(data, b"new.txt", false).unwrap();
        assert!(!dir.join("new.txt").exists());
        // Across the mount boundary: EXDEV, as between two Linux filesystems.
        let etc = m.lookup(root, b"/etc", true).unwrap();
        assert_eq!(m.rename(etc, b"secret", data, b"s", 0), Err(Errno::EXDEV));
        assert_eq!(m.remove(root, b"data", true), Err(Errno::EBUSY));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn dotdot_and_symlinks_stay_in_the_guest_namespace() {
        let (mut m, dir) = setup("escape");
        let root = m.root();
        // `..` at the mount root is the mount point's parent, the guest's /.
        for p in [&b"/data/.."[..], b"/data/../../..", b"/data/sub/../.."] {
            assert_eq!(
                m.lookup(root, p, true),
                Ok(root),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        let data = m.lookup(root, b"/data", true).unwrap();
        assert_eq!(
            m.lookup(data, b"../../../etc/secret", true),
            m.lookup(root, b"/etc/secret", true)
        );
        // Symlinks on the host resolve in the guest: the image's /etc/secret, never the
        // host's /etc.
        assert_eq!(read_all(&mut m, b"/data/abs").unwrap(), b"image\n");
        assert_eq!(read_all(&mut m, b"/data/sub/rel").unwrap(), b"image\n");
        assert_eq!(m.lookup(root, b"/data/sub/up", true), Ok(data));
        assert_eq!(
            m.lookup(root, b"/data/sub/up/../etc/secret", true),
            m.lookup(root, b"/etc/secret", true)
        );
        let abs = m.lookup(root, b"/data/abs", false).unwrap();
        assert_eq!(m.stat(abs).unwrap().mode & S_IFMT, S_IFLNK);
        assert_eq!(m.readlink(abs).unwrap(), b"/etc/secret");
        assert_eq!(read_all(&mut m, b"/data/missing"), Err(Errno::ENOENT));
        assert_eq!(read_all(&mut m, b"/data/hello.txt/x"), Err(Errno::ENOTDIR));
        std::fs::remove_dir_all(&dir).ok();
    }
}
