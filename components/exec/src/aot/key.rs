//! File keys: what names a file's translations. A 128-bit hash of the whole file's bytes,
//! computed by rv2wasm when it translates and by whoever maps the file (the kernel caches
//! it per inode), so one translation serves every path and address the file appears at.
//!
//! The hash is xxHash64's round function over four lanes (32-byte stripes), finished
//! into two 64-bit halves with different avalanches. It is not cryptographic: a guest
//! that crafted a colliding file would only run another file's translation on its own
//! bytes, inside its own sandbox.

/// A file's content key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey(pub [u8; 16]);

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, v: u64) -> u64 {
    acc.wrapping_add(v.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

fn avalanche(mut h: u64, m1: u64, m2: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(m1);
    h ^= h >> 29;
    h = h.wrapping_mul(m2);
    h ^ (h >> 32)
}

/// `FileKey::of` over a file given in pieces (the kernel hashes a mapped file through one
/// small buffer instead of reading it whole into fresh memory). Every piece but the last
/// must be a whole number of 32-byte stripes.
#[derive(Clone, Debug)]
pub struct KeyHasher {
    acc: [u64; 4],
    len: u64,
    /// The last piece's bytes after its whole stripes (at most 31).
    tail: Vec<u8>,
}

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher {
            acc: [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)],
            len: 0,
            tail: Vec::new(),
        }
    }
}

impl KeyHasher {
    /// The next piece of the file.
    pub fn update(&mut self, piece: &[u8]) {
        debug_assert!(self.tail.is_empty(), "a piece after a partial stripe");
        let stripes = piece.len() / 32;
        for s in 0..stripes {
            let o = s * 32;
            for (lane, a) in self.acc.iter_mut().enumerate() {
                *a = round(*a, word(piece, o + lane * 8));
            }
        }
        self.tail.extend_from_slice(&piece[stripes * 32..]);
        self.len += piece.len() as u64;
    }

    pub fn finish(self) -> FileKey {
        let acc = self.acc;
        let mut h = acc[0]
            .rotate_left(1)
            .wrapping_add(acc[1].rotate_left(7))
            .wrapping_add(acc[2].rotate_left(12))
            .wrapping_add(acc[3].rotate_left(18));
        let mut g =
            acc[0] ^ acc[1].rotate_left(17) ^ acc[2].rotate_left(33) ^ acc[3].rotate_left(49);
        for a in acc {
            h = (h ^ round(0, a)).wrapping_mul(P1).wrapping_add(P4);
            g = (g ^ round(0, a.rotate_left(32)))
                .wrapping_mul(P2)
                .wrapping_add(P3);
        }
        h = h.wrapping_add(self.len);
        g = g.wrapping_add(self.len.wrapping_mul(P5));
        for (i, &b) in self.tail.iter().enumerate() {
            h = (h ^ (b as u64).wrapping_mul(P5))
                .rotate_left(11)
                .wrapping_mul(P1);
            g = (g ^ ((b as u64) << (i % 8 * 8)).wrapping_mul(P3))
                .rotate_left(23)
                .wrapping_mul(P2);
        }
        let lo = avalanche(h ^ g.rotate_left(7), P2, P3);
        let hi = avalanche(g ^ h.rotate_left(29), P3, P1);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&lo.to_le_bytes());
        out[8..].copy_from_slice(&hi.to_le_bytes());
        FileKey(out)
    }
}

impl FileKey {
    /// The key of a file with these contents.
    pub fn of(data: &[u8]) -> FileKey {
        let mut h = KeyHasher::default();
        h.update(data);
        h.finish()
    }

    /// The two halves, as the WIT interface carries them.
    pub fn halves(&self) -> (u64, u64) {
        (
            u64::from_le_bytes(self.0[..8].try_into().unwrap()),
            u64::from_le_bytes(self.0[8..].try_into().unwrap()),
        )
    }

    pub fn from_halves(lo: u64, hi: u64) -> FileKey {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&lo.to_le_bytes());
        out[8..].copy_from_slice(&hi.to_le_bytes());
        FileKey(out)
    }

    /// Lowercase hex, for cache file names and reports.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_and_the_length_matter() {
        let base: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let k = FileKey::of(&base);
        for i in [0, 31, 32, 63, 150, 199] {
            let mut d = base.clone();
            d[i] ^= 1;
            assert_ne!(FileKey::of(&d), k, "byte {i}");
        }
        assert_ne!(FileKey::of(&base[..199]), k);
        assert_ne!(FileKey::of(&[]), FileKey::of(&[0]));
        assert_ne!(FileKey::of(&[0; 32]), FileKey::of(&[0; 64]));
        assert_eq!(FileKey::of(&base), k);
        let (lo, hi) = k.halves();
        assert_eq!(FileKey::from_halves(lo, hi), k);
    }

    #[test]
    fn pieces_give_the_whole_files_key() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13 % 251) as u8).collect();
        for piece in [32, 64, 96, 512, 992, 1024] {
            for len in [0, 1, 31, 32, 33, 500, 992, 999, 1000] {
                let mut h = KeyHasher::default();
                for p in data[..len].chunks(piece) {
                    h.update(p);
                }
                assert_eq!(h.finish(), FileKey::of(&data[..len]), "{piece} {len}");
            }
        }
    }
}
