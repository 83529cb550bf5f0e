//! The manifest: which translated code exists, keyed by file content and offset.
//!
//! rv2wasm writes it into the module it generates (a passive data segment the placeholder
//! `friscy_aot_manifest_copy` copies out); exec reads it once. Little-endian:
//!
//! ```text
//! "FRAOTMF2"  layout (abi::layout(), 12 x u32)  nfiles: u32
//! per file:   key: [u8; 16]  size: u64  nfuncs: u32  nentries: u32
//!             funcs:   (slot: u32, lo: u64, hi: u64)*      table slot, code byte range
//!             entries: (offset: u64, func: u32, entry: u32)*  sorted by offset
//! ```
//!
//! Offsets are file offsets, so one translation serves the file wherever it is mapped.

use super::FileKey;

const MAGIC: &[u8; 8] = b"FRAOTMF2";

/// A translated function: its table slot and the file bytes its code covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    pub slot: u32,
    pub lo: u64,
    pub hi: u64,
}

/// Where translated code may be entered: file offset `offset` is entry `entry` of
/// function `func` (an index into the file's `funcs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub offset: u64,
    pub func: u32,
    pub entry: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct File {
    pub key: FileKey,
    /// The file's length (`key` covers it too): files of other sizes need no key.
    pub size: u64,
    pub funcs: Vec<Func>,
    /// Sorted by offset.
    pub entries: Vec<Entry>,
}

impl File {
    /// The entry at file offset `offset`.
    pub fn entry(&self, offset: u64) -> Option<Entry> {
        let i = self
            .entries
            .binary_search_by_key(&offset, |e| e.offset)
            .ok()?;
        Some(self.entries[i])
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub layout: Vec<u32>,
    pub files: Vec<File>,
}

impl Manifest {
    /// Whether it was generated against this build's ABI.
    pub fn abi_matches(&self) -> bool {
        self.layout == super::abi::layout()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for v in &self.layout {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        for f in &self.files {
            out.extend_from_slice(&f.key.0);
            out.extend_from_slice(&f.size.to_le_bytes());
            out.extend_from_slice(&(f.funcs.len() as u32).to_le_bytes());
            out.extend_from_slice(&(f.entries.len() as u32).to_le_bytes());
            for g in &f.funcs {
                out.extend_from_slice(&g.slot.to_le_bytes());
                out.extend_from_slice(&g.lo.to_le_bytes());
                out.extend_from_slice(&g.hi.to_le_bytes());
            }
            for e in &f.entries {
                out.extend_from_slice(&e.offset.to_le_bytes());
                out.extend_from_slice(&e.func.to_le_bytes());
                out.extend_from_slice(&e.entry.to_le_bytes());
            }
        }
        out
    }

    /// `None` for anything malformed (a manifest is only ever written by rv2wasm).
    pub fn decode(b: &[u8]) -> Option<Manifest> {
        let mut r = Reader(b);
        if r.take(8)? != MAGIC {
            return None;
        }
        let layout = (0..super::abi::layout().len())
            .map(|_| r.u32())
            .collect::<Option<Vec<_>>>()?;
        let nfiles = r.u32()?;
        let mut files = Vec::new();
        for _ in 0..nfiles {
            let key = FileKey(r.take(16)?.try_into().ok()?);
            let size = r.u64()?;
            let (nfuncs, nentries) = (r.u32()?, r.u32()?);
            let mut funcs = Vec::with_capacity(nfuncs.min(1 << 20) as usize);
            for _ in 0..nfuncs {
                funcs.push(Func {
                    slot: r.u32()?,
                    lo: r.u64()?,
                    hi: r.u64()?,
                });
            }
            let mut entries = Vec::with_capacity(nentries.min(1 << 20) as usize);
            for _ in 0..nentries {
                let e = Entry {
                    offset: r.u64()?,
                    func: r.u32()?,
                    entry: r.u32()?,
                };
                if e.func >= nfuncs {
                    return None;
                }
                entries.push(e);
            }
            if !entries.is_sorted_by_key(|e| e.offset) {
                return None;
            }
            files.push(File {
                key,
                size,
                funcs,
                entries,
            });
        }
        Some(Manifest { layout, files })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = Manifest {
            layout: super::super::abi::layout().to_vec(),
            files: vec![File {
                key: FileKey([7; 16]),
                size: 0x2000,
                funcs: vec![Func {
                    slot: 70,
                    lo: 0x1000,
                    hi: 0x1040,
                }],
                entries: vec![
                    Entry {
                        offset: 0x1000,
                        func: 0,
                        entry: 0,
                    },
                    Entry {
                        offset: 0x1010,
                        func: 0,
                        entry: 1,
                    },
                ],
            }],
        };
        let d = Manifest::decode(&m.encode()).unwrap();
        assert_eq!(d, m);
        assert!(d.abi_matches());
        assert_eq!(d.files[0].entry(0x1010).unwrap().entry, 1);
        assert!(d.files[0].entry(0x1008).is_none());
        assert!(Manifest::decode(&m.encode()[..20]).is_none());
    }
}
