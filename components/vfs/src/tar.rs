//! The tar parser: walks an archive's 512-byte headers through `RootfsSource::read_at`
//! (in 64 KiB windows), skipping file contents by arithmetic, and yields one `Entry` per
//! member with its metadata and the offset of its data.
//!
//! Formats: POSIX ustar (prefix + name), GNU (long names 'L' / long links 'K', no prefix
//! field), PAX extended headers ('x': path, linkpath, size, mtime, uid, gid; global 'g'
//! headers are ignored) and base-256 numeric fields. References: POSIX pax(1) "ustar
//! Interchange Format" and "pax Interchange Format"; GNU tar manual, "Basic Tar Format".

use crate::Timespec;
use crate::source::{CHUNK, RootfsSource};
use core::fmt;

const BLOCK: u64 = 512;
/// Upper bound on a GNU long name or PAX header's data (real ones are a few hundred bytes).
const MAX_META: u64 = 1 << 20;

/// Why an archive could not be indexed. Offsets are byte offsets into the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TarError {
    /// The image ended inside a header or a member's data, or before the end-of-archive
    /// zero block.
    Truncated { offset: u64 },
    /// A header's checksum does not match its contents (not a tar archive, or corrupt).
    BadChecksum {
        offset: u64,
        stored: u64,
        computed: u64,
    },
    /// A numeric header field is neither octal nor base-256, or is out of range.
    BadNumber { offset: u64, field: &'static str },
    /// A PAX extended header record is malformed.
    BadPax { offset: u64, reason: &'static str },
    /// A GNU long name/link or PAX header is implausibly large.
    TooLarge { offset: u64, size: u64 },
    /// A member type that cannot be represented (GNU sparse or multi-volume files).
    Unsupported { offset: u64, typeflag: u8 },
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TarError::Truncated { offset } => write!(f, "tar archive truncated at byte {offset}"),
            TarError::BadChecksum {
                offset,
                stored,
                computed,
            } => write!(
                f,
                "tar header at byte {offset}: bad checksum (stored {stored:o}, computed {computed:o})"
            ),
            TarError::BadNumber { offset, field } => {
                write!(
                    f,
                    "tar header at byte {offset}: bad numeric field `{field}`"
                )
            }
            TarError::BadPax { offset, reason } => {
                write!(f, "tar PAX header at byte {offset}: {reason}")
            }
            TarError::TooLarge { offset, size } => {
                write!(
                    f,
                    "tar header at byte {offset}: extended header of {size} bytes is too large"
                )
            }
            TarError::Unsupported { offset, typeflag } => write!(
                f,
                "tar header at byte {offset}: unsupported member type {:?}",
                typeflag as char
            ),
        }
    }
}

impl std::error::Error for TarError {}

/// What a member is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    HardLink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

/// One archive member, with any GNU/PAX overrides applied.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    /// The raw member name (not yet normalised).
    pub path: Vec<u8>,
    /// Symlink target or hard-link target path.
    pub link: Vec<u8>,
    /// Permission bits (and set-id/sticky), without the type.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Timespec,
    pub size: u64,
    /// Where the member's data starts in the image.
    pub data: u64,
    pub major: u32,
    pub minor: u32,
}

/// Overrides collected from GNU 'L'/'K' and PAX 'x' headers for the next member.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    mtime: Option<Timespec>,
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.path.is_none()
            && self.link.is_none()
            && self.size.is_none()
            && self.mtime.is_none()
            && self.uid.is_none()
            && self.gid.is_none()
    }
}

/// Iterates over an archive's members.
pub(crate) struct TarReader<'a, R: RootfsSource + ?Sized> {
    src: &'a R,
    total: u64,
    pos: u64,
    win_start: u64,
    win: Vec<u8>,
    /// Whether the last member was small: then the next headers are likely close, and a
    /// miss reads a whole window ahead; after a large member it reads just the header, as
    /// reading ahead would copy data the index never looks at (a Debian image's 185 MiB
    /// tar was copied over once per start, 18% of `/bin/true`).
    near: bool,
    done: bool,
}

/// A member (header and data) up to this size counts as small for read-ahead.
const NEAR: u64 = 8 * 1024;

impl<'a, R: RootfsSource + ?Sized> TarReader<'a, R> {
    pub(crate) fn new(src: &'a R) -> Self {
        TarReader {
            src,
            total: src.size(),
            pos: 0,
            win_start: 0,
            win: Vec::new(),
            near: true,
            done: false,
        }
    }

    /// `len` bytes at `off`, from the current window or a freshly read one.
    fn bytes(&mut self, off: u64, len: u64) -> Result<&[u8], TarError> {
        if off.checked_add(len).is_none_or(|end| end > self.total) {
            return Err(TarError::Truncated { offset: off });
        }
        let in_window =
            off >= self.win_start && off + len <= self.win_start + self.win.len() as u64;
        if !in_window {
            let ahead = if self.near { CHUNK as u64 } else { BLOCK };
            let want = len.max(ahead).min(self.total - off);
            self.win = self.src.read_at(off, want as u32);
            self.win_start = off;
            if (self.win.len() as u64) < len {
                return Err(TarError::Truncated { offset: off });
            }
        }
        let start = (off - self.win_start) as usize;
        Ok(&self.win[start..start + len as usize])
    }

    /// The data of a metadata member (long name, PAX header), bounded in size.
    fn meta_data(&mut self, hdr: u64, size: u64) -> Result<Vec<u8>, TarError> {
        if size > MAX_META {
            return Err(TarError::TooLarge { offset: hdr, size });
        }
        Ok(self.bytes(hdr + BLOCK, size)?.to_vec())
    }

    /// The next member, `None` at the end-of-archive marker.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        let mut pending = Pending::default();
        loop {
            let off = self.pos;
            if off == self.total {
                // The image ended where a header (or the end marker) should be.
                return Err(TarError::Truncated { offset: off });
            }
            let block: [u8; 512] = self.bytes(off, BLOCK)?.try_into().expect("512-byte block");
            if block.iter().all(|&b| b == 0) {
                // End of archive: POSIX wants two zero blocks, but GNU tar stops at the
                // first one too (with a warning for a lone one); anything after is padding.
                if !pending.is_empty() {
                    // Extended headers with no member after them.
                    return Err(TarError::Truncated { offset: off });
                }
                self.done = true;
                return Ok(None);
            }
            let h = Header::parse(&block, off)?;
            let typeflag = block[156];
            let data = off + BLOCK;
            let size = match typeflag {
                b'x' | b'L' | b'K' | b'g' => h.size,
                _ => pending.size.unwrap_or(h.size),
            };
            // Only regular files (and unknown types, read as regular files) and the
            // metadata members carry data; for links, directories and devices the size
            // field is ignored (as Python's tarfile and GNU tar do).
            let has_data = !matches!(typeflag, b'1'..=b'6' | b'D' | b'V');
            let stored = if has_data { size } else { 0 };
            let end = data
                .checked_add(stored)
                .ok_or(TarError::Truncated { offset: off })?;
            if end > self.total {
                return Err(TarError::Truncated { offset: off });
            }
            self.pos = end.div_ceil(BLOCK) * BLOCK;
            self.near = self.pos - off <= NEAR;
            if self.pos > self.total {
                // Padding of the last member's data is missing.
                return Err(TarError::Truncated { offset: self.total });
            }
            let kind = match typeflag {
                b'L' => {
                    pending.path = Some(until_nul(&self.meta_data(off, size)?).to_vec());
                    continue;
                }
                b'K' => {
                    pending.link = Some(until_nul(&self.meta_data(off, size)?).to_vec());
                    continue;
                }
                b'x' => {
                    let d = self.meta_data(off, size)?;
                    parse_pax(&d, off, &mut pending)?;
                    continue;
                }
                b'g' | b'V' => continue,
                b'S' | b'M' => {
                    return Err(TarError::Unsupported {
                        offset: off,
                        typeflag,
                    });
                }
                b'1' => EntryKind::HardLink,
                b'2' => EntryKind::Symlink,
                b'3' => EntryKind::Char,
                b'4' => EntryKind::Block,
                b'5' | b'D' => EntryKind::Dir,
                b'6' => EntryKind::Fifo,
                // '0', NUL, '7' (contiguous) and, per POSIX, any unknown type: a regular file.
                _ => EntryKind::File,
            };
            let path = pending.path.take().unwrap_or(h.name);
            // Old (pre-POSIX) archives mark directories only by a trailing slash.
            let kind = if kind == EntryKind::File && path.ends_with(b"/") {
                EntryKind::Dir
            } else {
                kind
            };
            return Ok(Some(Entry {
                kind,
                path,
                link: pending.link.take().unwrap_or(h.linkname),
                perm: h.mode & 0o7777,
                uid: pending.uid.unwrap_or(h.uid),
                gid: pending.gid.unwrap_or(h.gid),
                mtime: pending.mtime.unwrap_or(Timespec {
                    sec: h.mtime,
                    nsec: 0,
                }),
                size: if kind == EntryKind::File { size } else { 0 },
                data,
                major: h.major,
                minor: h.minor,
            }));
        }
    }
}

/// The fields of one header block.
struct Header {
    name: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    linkname: Vec<u8>,
    major: u32,
    minor: u32,
}

impl Header {
    fn parse(b: &[u8; 512], off: u64) -> Result<Header, TarError> {
        let stored = number(&b[148..156], off, "chksum")?;
        let unsigned: u64 = b
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    b' ' as u64
                } else {
                    c as u64
                }
            })
            .sum();
        // Some old tars summed signed chars; accept either.
        let signed: i64 = b
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    b' ' as i64
                } else {
                    c as i8 as i64
                }
            })
            .sum();
        if stored != unsigned && stored as i64 != signed {
            return Err(TarError::BadChecksum {
                offset: off,
                stored,
                computed: unsigned,
            });
        }
        let magic = &b[257..265];
        let mut name = until_nul(&b[0..100]).to_vec();
        // POSIX ustar ("ustar\0" + "00") has a prefix; GNU's "ustar  \0" uses those bytes
        // for other things.
        if &magic[..6] == b"ustar\0" {
            let prefix = until_nul(&b[345..500]);
            if !prefix.is_empty() {
                let mut full = prefix.to_vec();
                full.push(b'/');
                full.extend_from_slice(&name);
                name = full;
            }
        }
        let small = |range: core::ops::Range<usize>, field| -> Result<u32, TarError> {
            u32::try_from(number(&b[range], off, field)?)
                .map_err(|_| TarError::BadNumber { offset: off, field })
        };
        let is_dev = matches!(b[156], b'3' | b'4');
        Ok(Header {
            name,
            mode: small(100..108, "mode")?,
            uid: small(108..116, "uid")?,
            gid: small(116..124, "gid")?,
            size: number(&b[124..136], off, "size")?,
            mtime: signed_number(&b[136..148], off, "mtime")?,
            linkname: until_nul(&b[157..257]).to_vec(),
            major: if is_dev {
                small(329..337, "devmajor")?
            } else {
                0
            },
            minor: if is_dev {
                small(337..345, "devminor")?
            } else {
                0
            },
        })
    }
}

fn until_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// A numeric field: octal digits (leading spaces, terminated by NUL or space; empty means
/// 0), or GNU base-256 when the high bit of the first byte is set.
fn signed_number(f: &[u8], off: u64, field: &'static str) -> Result<i64, TarError> {
    let bad = TarError::BadNumber { offset: off, field };
    if f[0] & 0x80 != 0 {
        // Base-256: big-endian two's complement; 0x80 marks positive, 0xff negative.
        let negative = f[0] == 0xff;
        let mut v: i128 = if negative { -1 } else { (f[0] & 0x7f) as i128 };
        for &c in &f[1..] {
            v = v.checked_mul(256).ok_or(bad.clone())? + c as i128;
            if v.abs() > i64::MAX as i128 + 1 {
                return Err(bad);
            }
        }
        return i64::try_from(v).map_err(|_| bad);
    }
    let mut i = 0;
    while i < f.len() && f[i] == b' ' {
        i += 1;
    }
    let mut v: i64 = 0;
    while i < f.len() && (b'0'..=b'7').contains(&f[i]) {
        v = v.checked_mul(8).ok_or(bad.clone())? + (f[i] - b'0') as i64;
        i += 1;
    }
    if f[i..].iter().all(|&c| c == 0 || c == b' ') {
        Ok(v)
    } else {
        Err(bad)
    }
}

fn number(f: &[u8], off: u64, field: &'static str) -> Result<u64, TarError> {
    u64::try_from(signed_number(f, off, field)?)
        .map_err(|_| TarError::BadNumber { offset: off, field })
}

/// PAX extended header records: "<len> <key>=<value>\n", where len counts the whole record.
fn parse_pax(d: &[u8], off: u64, p: &mut Pending) -> Result<(), TarError> {
    let bad = |reason| TarError::BadPax {
        offset: off,
        reason,
    };
    let mut rest = d;
    while !rest.is_empty() {
        if rest.iter().all(|&c| c == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|&c| c == b' ')
            .ok_or(bad("record without length"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad("bad record length"))?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("record length does not match"));
        }
        let rec = &rest[sp + 1..len - 1];
        rest = &rest[len..];
        let eq = rec
            .iter()
            .position(|&c| c == b'=')
            .ok_or(bad("record without '='"))?;
        let (key, value) = (&rec[..eq], &rec[eq + 1..]);
        if value.is_empty() {
            continue;
        }
        let int = |v: &[u8]| -> Option<u64> { std::str::from_utf8(v).ok()?.parse().ok() };
        match key {
            b"path" => p.path = Some(value.to_vec()),
            b"linkpath" => p.link = Some(value.to_vec()),
            b"size" => p.size = Some(int(value).ok_or(bad("bad size"))?),
            b"uid" => {
                p.uid = Some(
                    int(value)
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or(bad("bad uid"))?,
                )
            }
            b"gid" => {
                p.gid = Some(
                    int(value)
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or(bad("bad gid"))?,
                )
            }
            b"mtime" => p.mtime = Some(pax_time(value).ok_or(bad("bad mtime"))?),
            _ => {}
        }
    }
    Ok(())
}

/// A PAX time: decimal seconds with an optional fraction, possibly negative.
fn pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let sec: i64 = int.parse().ok()?;
    let mut nsec: u32 = 0;
    for (i, c) in frac.bytes().take(9).enumerate() {
        nsec += (c - b'0') as u32 * 10u32.pow(8 - i as u32);
    }
    Some(if !neg {
        Timespec { sec, nsec }
    } else if nsec == 0 {
        Timespec { sec: -sec, nsec: 0 }
    } else {
        // -1.25 is 2 seconds before the epoch plus 0.75.
        Timespec {
            sec: -sec - 1,
            nsec: 1_000_000_000 - nsec,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields() {
        assert_eq!(number(b"0000644\0", 0, "m"), Ok(0o644));
        assert_eq!(number(b"   644 \0", 0, "m"), Ok(0o644));
        assert_eq!(number(b"\0\0\0\0\0\0\0\0", 0, "m"), Ok(0));
        assert!(number(b"00006x4\0", 0, "m").is_err());
        let b256 = [0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 1];
        assert_eq!(number(&b256, 0, "size"), Ok(0x2_0000_0001));
        let neg = [0xffu8; 12];
        assert_eq!(signed_number(&neg, 0, "mtime"), Ok(-1));
        assert!(number(&neg, 0, "size").is_err());
    }

    #[test]
    fn pax_times() {
        assert_eq!(
            pax_time(b"1700000000.5"),
            Some(Timespec {
                sec: 1_700_000_000,
                nsec: 500_000_000
            })
        );
        assert_eq!(pax_time(b"12"), Some(Timespec { sec: 12, nsec: 0 }));
        assert_eq!(
            pax_time(b"-1.25"),
            Some(Timespec {
                sec: -2,
                nsec: 750_000_000
            })
        );
        assert_eq!(pax_time(b"1.x"), None);
    }

    #[test]
    fn pax_records() {
        let mut p = Pending::default();
        parse_pax(b"12 path=a/b\n12 uid=1000\n", 0, &mut p).unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a/b"[..]));
        assert_eq!(p.uid, Some(1000));
        assert!(parse_pax(b"99 path=a\n", 0, &mut Pending::default()).is_err());
        assert!(parse_pax(b"x path=a\n", 0, &mut Pending::default()).is_err());
    }
}

#[cfg(test)]
mod read_ahead {
    use super::*;
    use std::cell::Cell;

    /// A source that counts the bytes read from it and the reads.
    struct Counting(Vec<u8>, Cell<u64>, Cell<u32>);

    impl RootfsSource for Counting {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, len: u32) -> Vec<u8> {
            let v = self.0.as_slice().read_at(offset, len);
            self.1.set(self.1.get() + v.len() as u64);
            self.2.set(self.2.get() + 1);
            v
        }
    }

    fn image(sizes: &[usize]) -> Counting {
        let mut b = tar::Builder::new(Vec::new());
        for (i, &n) in sizes.iter().enumerate() {
            let mut h = tar::Header::new_ustar();
            h.set_size(n as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, format!("f{i}"), &vec![7u8; n][..])
                .unwrap();
        }
        Counting(b.into_inner().unwrap(), Cell::new(0), Cell::new(0))
    }

    fn index(src: &Counting) -> usize {
        let mut r = TarReader::new(src);
        let mut n = 0;
        while r.next_entry().unwrap().is_some() {
            n += 1;
        }
        n
    }

    #[test]
    fn large_members_are_skipped_not_read() {
        // 50 members of 200 KiB: reading a window ahead of each header would copy
        // 3.2 MiB of data the index never looks at.
        let src = image(&[200 << 10; 50]);
        assert_eq!(index(&src), 50);
        assert!(src.1.get() < 128 << 10, "{} bytes read", src.1.get());
    }

    #[test]
    fn small_members_share_windows() {
        // 400 members of 1 KiB (600 KiB of tar): about ten 64 KiB windows, not 400 reads.
        let src = image(&[1024; 400]);
        assert_eq!(index(&src), 400);
        assert!(src.2.get() <= 12, "{} reads", src.2.get());
    }
}
