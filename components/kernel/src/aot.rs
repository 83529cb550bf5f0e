//! Telling exec which file's bytes sit where, so code rv2wasm translated ahead of time for
//! that file runs there (`Machine::map_file`), wherever the loader or mmap put it.
//!
//! Translations are keyed by a hash of the whole file (`FileKey::of`). Hashing a 2 MiB
//! libc at every execve or dlopen would cost milliseconds each time, so keys are cached
//! per inode and reused while the inode's size, mtime and ctime are unchanged (any write
//! through the kernel moves them). Nothing is hashed when exec has no translated code,
//! nor for a file whose size no translated file has (exec lists the sizes): with only
//! Python translated, Node's 100 MiB is neither hashed nor read at once.

use std::collections::{HashMap, HashSet};

use friscy_exec::{FileKey, SpaceId};
use friscy_vfs::{Ino, Timespec};

use crate::Kernel;

#[derive(Default)]
pub struct FileKeys {
    /// The sizes of the files exec holds translated code for (asked once).
    sizes: Option<HashSet<u64>>,
    cache: HashMap<Ino, (u64, Timespec, Timespec, FileKey)>,
    /// How many keys were computed (files hashed), for the report.
    computed: u64,
}

impl Kernel {
    /// Whether exec runs translated code, so that file keys are worth computing.
    pub(crate) fn aot_enabled(&mut self) -> bool {
        !self.translated_sizes().is_empty()
    }

    fn translated_sizes(&mut self) -> &HashSet<u64> {
        self.file_keys
            .sizes
            .get_or_insert_with(|| self.machine.translated_file_sizes().into_iter().collect())
    }

    /// The key of `ino`'s contents; `data` is the whole file when the caller has read it.
    pub(crate) fn file_key(&mut self, ino: Ino, data: Option<&[u8]>) -> Option<FileKey> {
        let st = self.fs.stat(ino).ok()?;
        if !self.translated_sizes().contains(&st.size) {
            return None;
        }
        if let Some(&(size, mtime, ctime, key)) = self.file_keys.cache.get(&ino)
            && (size, mtime, ctime) == (st.size, st.mtime, st.ctime)
        {
            return Some(key);
        }
        let key = match data {
            Some(d) if d.len() as u64 == st.size => FileKey::of(d),
            _ => {
                // Through one buffer of at most 1 MiB (pieces of whole 32-byte stripes),
                // not the whole file in fresh memory.
                let mut h = friscy_exec::aot::KeyHasher::default();
                let mut buf = vec![0u8; st.size.min(1 << 20) as usize];
                let mut at = 0;
                while at < st.size {
                    let want = (st.size - at).min(buf.len() as u64) as usize;
                    let mut filled = 0;
                    while filled < want {
                        let n = self
                            .fs
                            .read_into(ino, at + filled as u64, &mut buf[filled..want])
                            .ok()?;
                        if n == 0 {
                            break;
                        }
                        filled += n;
                    }
                    h.update(&buf[..filled]);
                    at += filled as u64;
                    if filled < want {
                        break;
                    }
                }
                h.finish()
            }
        };
        self.file_keys.computed += 1;
        self.file_keys
            .cache
            .insert(ino, (st.size, st.mtime, st.ctime, key));
        Some(key)
    }

    /// Registers `[addr, addr+len)` of `space` as `ino`'s bytes from `offset` (when exec
    /// has translated code).
    pub(crate) fn map_file(
        &mut self,
        space: SpaceId,
        addr: u64,
        len: u64,
        ino: Ino,
        offset: u64,
        data: Option<&[u8]>,
    ) {
        if len == 0 || !self.aot_enabled() {
            return;
        }
        if let Some(key) = self.file_key(ino, data) {
            // exec checks the registered pages' bytes now (its translations run only on
            // pages that hold them), so they are read now rather than when touched.
            if self.page_cache_fill_file(ino, offset, len).is_err() {
                return;
            }
            self.machine.map_file(space, addr, len, key, offset);
        }
    }

    /// "friscy: aot: ..." for FRISCY_AOT_STATS and --strace: how many instructions ran
    /// translated.
    pub fn aot_report(&mut self) -> String {
        let s = self.machine.exec_stats();
        let total = (s.translated + s.interpreted).max(1);
        format!(
            "aot: {} instructions translated, {} interpreted ({:.1}% translated; {} files with translations, {} mapped files hashed)",
            s.translated,
            s.interpreted,
            s.translated as f64 * 100.0 / total as f64,
            self.machine.translated_files(),
            self.file_keys.computed
        )
    }
}
