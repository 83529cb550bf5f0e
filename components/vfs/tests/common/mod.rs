//! Helpers shared by the integration tests: archives built with the `tar` crate, raw
//! hand-made headers (for the cases a writer library will not produce), and small `Fs`
//! conveniences.

#![allow(dead_code)]

use friscy_vfs::{Fs, Ino, Tar, Vfs};

pub type TestFs = Vfs<Tar<Vec<u8>>>;

/// A tar archive built with the `tar` crate (GNU headers, so long names become 'L'/'K').
pub struct Archive {
    b: tar::Builder<Vec<u8>>,
}

impl Archive {
    pub fn new() -> Archive {
        let mut b = tar::Builder::new(Vec::new());
        b.mode(tar::HeaderMode::Complete);
        Archive { b }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.b.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn file_owned(mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.b.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn device(mut self, path: &str, kind: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::header(kind, 0o660, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    /// A PAX extended header for the next member.
    pub fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        self.b
            .append_pax_extensions(records.iter().map(|&(k, v)| (k, v)))
            .unwrap();
        self
    }

    /// Raw bytes appended as they are (hand-made headers).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.b.get_mut().extend_from_slice(bytes);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// One hand-made header block: `name`, with POSIX ustar magic (and `prefix`) or GNU's.
pub fn raw_header(
    name: &[u8],
    prefix: &[u8],
    typeflag: u8,
    size: u64,
    link: &[u8],
    ustar: bool,
) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[..name.len()].copy_from_slice(name);
    b[100..108].copy_from_slice(b"0000644\0");
    b[108..116].copy_from_slice(b"0001750\0");
    b[116..124].copy_from_slice(b"0001750\0");
    b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    b[136..148].copy_from_slice(b"14530000000\0");
    b[156] = typeflag;
    b[157..157 + link.len()].copy_from_slice(link);
    if ustar {
        b[257..265].copy_from_slice(b"ustar\x0000");
        b[345..345 + prefix.len()].copy_from_slice(prefix);
    } else {
        b[257..265].copy_from_slice(b"ustar  \0");
    }
    set_checksum(&mut b);
    b
}

pub fn set_checksum(b: &mut [u8; 512]) {
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&c| c as u32).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// `data` padded to whole blocks.
pub fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

pub fn end_blocks() -> Vec<u8> {
    vec![0u8; 1024]
}

pub fn mount(archive: Vec<u8>) -> TestFs {
    let mut fs = Vfs::new(archive).expect("archive indexes");
    fs.set_clock(None);
    fs
}

pub fn ino(fs: &mut TestFs, path: &str) -> Ino {
    let root = fs.root();
    fs.lookup(root, path.as_bytes(), true)
        .unwrap_or_else(|e| panic!("lookup {path}: {e}"))
}

pub fn lookup(fs: &mut TestFs, path: &[u8]) -> Result<Ino, friscy_vfs::Errno> {
    let root = fs.root();
    fs.lookup(root, path, true)
}

pub fn read_all(fs: &mut TestFs, path: &str) -> Vec<u8> {
    let node = ino(fs, path);
    let mut out = Vec::new();
    loop {
        let chunk = fs.read(node, out.len() as u64, 4096).unwrap();
        if chunk.is_empty() {
            return out;
        }
        out.extend_from_slice(&chunk);
    }
}

/// Every name in a directory (without "." and ".."), read in small batches.
pub fn names(fs: &mut TestFs, path: &str) -> Vec<Vec<u8>> {
    let dir = ino(fs, path);
    let mut out = Vec::new();
    let mut cookie = 0;
    loop {
        let batch = fs.readdir(dir, cookie, 3).unwrap();
        if batch.is_empty() {
            break;
        }
        for e in batch {
            cookie = e.next;
            if e.name != b"." && e.name != b".." {
                out.push(e.name);
            }
        }
    }
    out
}

pub fn stat_of(fs: &mut TestFs, path: &str) -> friscy_vfs::Stat {
    let node = ino(fs, path);
    fs.stat(node).unwrap()
}
