//! Whole images as input: every riscv64 ELF file in a rootfs tar (plain or gzip).

use std::io::Read;

use anyhow::Result;

use crate::Input;
use crate::elf::is_riscv64_elf;

/// Whether `data` (named `name`) is a tar or a gzip-compressed tar.
pub fn is_tar(name: &str, data: &[u8]) -> bool {
    let gz = data.starts_with(&[0x1f, 0x8b]);
    let ustar = data.len() > 262 && &data[257..262] == b"ustar";
    ustar || gz && (name.ends_with(".tar.gz") || name.ends_with(".tgz"))
}

/// The riscv64 ELF regular files in a tar (hard links and symlinks are the same files).
pub fn elfs_in_tar(data: &[u8]) -> Result<Vec<Input>> {
    let reader: Box<dyn Read + '_> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    let mut ar = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in ar.entries()? {
        let mut e = entry?;
        if e.header().entry_type() != tar::EntryType::Regular || e.size() < 64 {
            continue;
        }
        let name = e.path()?.display().to_string();
        let mut head = [0u8; 64];
        e.read_exact(&mut head)?;
        if !is_riscv64_elf(&head) {
            continue;
        }
        let mut data = head.to_vec();
        e.read_to_end(&mut data)?;
        out.push(Input { name, data });
    }
    Ok(out)
}
