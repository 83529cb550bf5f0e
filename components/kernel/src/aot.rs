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
                let mut all = vec![0u8; usize::try_from(st.size).ok()?];
                let mut done = 0;
                while done < all.len() {
                    // In pieces: a filesystem without its own read_into (a component's,
                    // a host mount) makes a buffer of what it is asked for.
                    let piece = (all.len() - done).min(1 << 20);
                    let n = self
                        .fs
                        .read_into(ino, done as u64, &mut all[done..done + piece])
                        .ok()?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                all.truncate(done);
                FileKey::of(&all)
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
