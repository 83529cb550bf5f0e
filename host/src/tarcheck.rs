//! A streaming check that decompressed bytes are a tar archive, so that the rootfs cache
//! keeps only complete, valid tars (decompress.rs): every header's checksum, every member's
//! data present, and the end-of-archive marker. It also finds where the archive ends, so
//! padding or junk after it is not written to the cache.
//!
//! It follows the rules of the vfs's tar reader (components/vfs/src/tar.rs): sizes in
//! octal or base-256, PAX `size` records overriding the next header's, no data for links,
//! directories and devices, and the first zero block ending the archive.

use anyhow::{Result, bail};

const BLOCK: usize = 512;
/// Largest PAX extended header read for its `size` record.
const MAX_PAX: u64 = 1 << 20;

#[derive(Default)]
pub struct TarCheck {
    /// Bytes of the archive seen so far.
    pos: u64,
    /// A header being filled.
    header: Vec<u8>,
    /// Member data still to pass (with padding), and how much of it to keep (a PAX header).
    skip: u64,
    pax: Option<Vec<u8>>,
    pax_want: usize,
    /// The size a PAX header set for the next member.
    next_size: Option<u64>,
    entries: u64,
    ended: bool,
}

impl TarCheck {
    /// Take the next bytes of the stream. Returns how many of them belong to the archive
    /// (all of them until the end marker, none after it).
    pub fn feed(&mut self, mut data: &[u8]) -> Result<usize> {
        let total = data.len();
        while !data.is_empty() && !self.ended {
            if self.skip > 0 {
                let n = (self.skip.min(data.len() as u64)) as usize;
                if let Some(p) = &mut self.pax {
                    let want = self.pax_want.saturating_sub(p.len()).min(n);
                    p.extend_from_slice(&data[..want]);
                }
                self.skip -= n as u64;
                self.pos += n as u64;
                data = &data[n..];
                if self.skip == 0
                    && let Some(p) = self.pax.take()
                {
                    self.next_size = pax_size(&p)?.or(self.next_size);
                }
                continue;
            }
            let n = (BLOCK - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            self.pos += n as u64;
            data = &data[n..];
            if self.header.len() == BLOCK {
                let h = std::mem::take(&mut self.header);
                self.header_block(&h)?;
            }
        }
        Ok(total - data.len())
    }

    fn header_block(&mut self, h: &[u8]) -> Result<()> {
        let at = self.pos - BLOCK as u64;
        if h.iter().all(|&b| b == 0) {
            // GNU tar stops at the first zero block too; the second is optional.
            if self.entries == 0 {
                bail!("not a tar archive: it begins with an empty block");
            }
            self.ended = true;
            return Ok(());
        }
        let stored = number(&h[148..156]);
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        if stored != Some(sum) {
            bail!("not a tar archive: bad header checksum at byte {at}");
        }
        let typeflag = h[156];
        let size = number(&h[124..136])
            .ok_or_else(|| anyhow::anyhow!("tar header at byte {at}: bad size field"))?;
        let size = match typeflag {
            b'x' | b'L' | b'K' | b'g' => size,
            _ => self.next_size.take().unwrap_or(size),
        };
        let has_data = !matches!(typeflag, b'1'..=b'6' | b'D' | b'V');
        let stored = if has_data { size } else { 0 };
        self.skip = stored.div_ceil(BLOCK as u64) * BLOCK as u64;
        if typeflag == b'x' {
            if size > MAX_PAX {
                bail!("tar header at byte {at}: extended header of {size} bytes is too large");
            }
            self.pax = Some(Vec::new());
            self.pax_want = size as usize;
        }
        if !matches!(typeflag, b'x' | b'L' | b'K' | b'g' | b'V') {
            self.entries += 1;
        }
        Ok(())
    }

    /// The archive is complete (the stream has ended): its end marker was seen. (GNU tar
    /// also takes an archive that stops at a header boundary; the vfs does not, so neither
    /// does the cache.) Returns the archive's length up to and including the first zero
    /// block.
    pub fn finish(&self) -> Result<u64> {
        if self.ended {
            return Ok(self.pos);
        }
        if self.entries == 0 {
            bail!("not a tar archive: no members");
        }
        if self.skip > 0 || !self.header.is_empty() {
            bail!(
                "truncated tar archive: it ends inside a member at byte {}",
                self.pos
            );
        }
        bail!(
            "truncated tar archive: no end-of-archive marker after byte {}",
            self.pos
        )
    }
}

/// An octal (NUL or space terminated) or base-256 number field.
fn number(f: &[u8]) -> Option<u64> {
    if f[0] & 0x80 != 0 {
        if f[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = (f[0] & 0x3f) as u64;
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s: Vec<u8> = f
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

/// The `size` record of a PAX extended header ("LEN size=N\n"), if it has one.
fn pax_size(d: &[u8]) -> Result<Option<u64>> {
    let mut rest = d;
    let mut size = None;
    while !rest.is_empty() && rest[0] != 0 {
        let Some(sp) = rest.iter().position(|&b| b == b' ') else {
            bail!("malformed PAX extended header");
        };
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&l| l > sp && l <= rest.len())
            .ok_or_else(|| anyhow::anyhow!("malformed PAX extended header"))?;
        let record = &rest[sp + 1..len];
        if let Some(v) = record.strip_prefix(b"size=") {
            let v = v.strip_suffix(b"\n").unwrap_or(v);
            size = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
            if size.is_none() {
                bail!("PAX extended header: bad size");
            }
        }
        rest = &rest[len..];
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: u64, typeflag: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn archive(data_len: usize) -> Vec<u8> {
        let mut a = header("etc/hostname", data_len as u64, b'0').to_vec();
        a.extend(vec![b'x'; data_len]);
        a.resize(a.len().div_ceil(512) * 512, 0);
        a.extend(header("etc/", 0, b'5'));
        a.extend([0u8; 1024]);
        a
    }

    fn check_in_pieces(bytes: &[u8], piece: usize) -> Result<(usize, u64)> {
        let mut c = TarCheck::default();
        let mut kept = 0;
        for chunk in bytes.chunks(piece) {
            kept += c.feed(chunk)?;
        }
        Ok((kept, c.finish()?))
    }

    #[test]
    fn a_tar_is_accepted_in_any_pieces_and_ends_at_its_marker() {
        let mut a = archive(700);
        let end = 512 + 1024 + 512 + 512; // header, data, dir header, one zero block
        a.extend(vec![0xee; 5000]); // junk after the end
        for piece in [1, 7, 512, 4096, a.len()] {
            let (kept, pos) = check_in_pieces(&a, piece).unwrap();
            assert_eq!((kept, pos), (end, end as u64), "piece {piece}");
        }
    }

    #[test]
    fn junk_truncation_and_empty_archives_are_refused() {
        assert!(check_in_pieces(&[0u8; 4096], 512).is_err());
        assert!(check_in_pieces(b"this is not a tar archive at all", 512).is_err());
        let a = archive(700);
        assert!(check_in_pieces(&a[..600], 512).is_err());
        let mut bad = a.clone();
        bad[0] ^= 1;
        assert!(check_in_pieces(&bad, 512).is_err());
        // Ending at a header boundary without the marker is refused (the vfs would).
        let e = check_in_pieces(&a[..2048], 512).unwrap_err().to_string();
        assert!(e.contains("no end-of-archive marker"), "{e}");
    }

    #[test]
    fn pax_size_overrides_the_next_header() {
        let rec = b"15 size=100000\n";
        let mut a = header("././@PaxHeader", rec.len() as u64, b'x').to_vec();
        a.extend(rec);
        a.resize(1024, 0);
        a.extend(header("big", 0, b'0'));
        a.extend(vec![1u8; 100_000]);
        a.resize(a.len().div_ceil(512) * 512, 0);
        a.extend([0u8; 1024]);
        let (kept, _) = check_in_pieces(&a, 333).unwrap();
        assert_eq!(kept, a.len() - 512);
        assert_eq!(number(&[0x80, 0, 0, 1, 0]), Some(256));
    }
}
