//! ELF64 parsing for the loader: the file header and program headers, checked strictly so a
//! corrupt or foreign file is a clear error instead of a guest crash. (elf(5), and the
//! RISC-V ELF psABI for e_machine and e_flags.)

use std::fmt;

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const EM_RISCV: u16 = 243;
pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
/// Size of one ELF64 program header (AT_PHENT).
pub const PHDR_SIZE: u16 = 56;

/// Why a file cannot be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF file at all (no `\x7fELF`): the shell's "Exec format error".
    NotElf,
    /// An ELF file for another machine or class, e.g. an x86-64 binary.
    WrongArch(String),
    /// An ELF file whose headers are inconsistent or truncated.
    Corrupt(&'static str),
    /// The headers reach past the bytes given (`parse_head`): this many are needed.
    HeadTooShort(u64),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf => write!(f, "not an ELF executable"),
            ElfError::WrongArch(what) => write!(f, "not a riscv64 executable ({what})"),
            ElfError::Corrupt(what) => write!(f, "corrupt ELF file: {what}"),
            ElfError::HeadTooShort(n) => write!(f, "headers past the first {n} bytes read"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ProgramHeader {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

#[derive(Debug, Clone)]
pub struct Elf {
    pub e_type: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phnum: u16,
    pub phdrs: Vec<ProgramHeader>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn machine_name(m: u16) -> String {
    match m {
        3 => "i386".into(),
        40 => "arm".into(),
        62 => "x86-64".into(),
        183 => "aarch64".into(),
        EM_RISCV => "riscv".into(),
        other => format!("machine {other}"),
    }
}

impl Elf {
    /// Parse the headers of `file` (the whole file).
    pub fn parse(file: &[u8]) -> Result<Elf, ElfError> {
        Elf::parse_head(file, file.len() as u64)
    }

    /// Parse the headers from the first bytes of a file of `size` bytes (`head` must
    /// hold the program header table: `HeadTooShort` says how much is needed when not).
    pub fn parse_head(file: &[u8], size: u64) -> Result<Elf, ElfError> {
        if file.len() < 4 || &file[..4] != b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        if file.len() < 64 {
            return Err(ElfError::Corrupt("truncated file header"));
        }
        let machine = u16_at(file, 18);
        if file[4] != 2 {
            return Err(ElfError::WrongArch(format!(
                "32-bit {}",
                machine_name(machine)
            )));
        }
        if file[5] != 1 {
            return Err(ElfError::WrongArch("big-endian".into()));
        }
        if machine != EM_RISCV {
            return Err(ElfError::WrongArch(machine_name(machine)));
        }
        let e_type = u16_at(file, 16);
        if e_type != ET_EXEC && e_type != ET_DYN {
            return Err(ElfError::Corrupt("not an executable or shared object"));
        }
        let entry = u64_at(file, 24);
        let phoff = u64_at(file, 32);
        let phentsize = u16_at(file, 54);
        let phnum = u16_at(file, 56);
        if phentsize != PHDR_SIZE {
            return Err(ElfError::Corrupt("unexpected program header size"));
        }
        let table_len = phnum as u64 * PHDR_SIZE as u64;
        let end = phoff
            .checked_add(table_len)
            .ok_or(ElfError::Corrupt("program header table out of range"))?;
        if end > size || phnum == 0 {
            return Err(ElfError::Corrupt("program header table out of range"));
        }
        if end > file.len() as u64 {
            return Err(ElfError::HeadTooShort(end));
        }
        let mut phdrs = Vec::with_capacity(phnum as usize);
        for i in 0..phnum as usize {
            let o = phoff as usize + i * PHDR_SIZE as usize;
            let ph = ProgramHeader {
                p_type: u32_at(file, o),
                flags: u32_at(file, o + 4),
                offset: u64_at(file, o + 8),
                vaddr: u64_at(file, o + 16),
                filesz: u64_at(file, o + 32),
                memsz: u64_at(file, o + 40),
            };
            if ph.p_type == PT_LOAD {
                if ph.filesz > ph.memsz {
                    return Err(ElfError::Corrupt("segment file size exceeds memory size"));
                }
                if ph.offset.checked_add(ph.filesz).is_none_or(|e| e > size) {
                    return Err(ElfError::Corrupt("segment extends past end of file"));
                }
                if ph.vaddr.checked_add(ph.memsz).is_none() {
                    return Err(ElfError::Corrupt("segment address overflows"));
                }
            }
            phdrs.push(ph);
        }
        if !phdrs.iter().any(|p| p.p_type == PT_LOAD) {
            return Err(ElfError::Corrupt("no loadable segments"));
        }
        Ok(Elf {
            e_type,
            entry,
            phoff,
            phnum,
            phdrs,
        })
    }

    /// The PT_INTERP path (without its NUL), if the program is dynamically linked.
    pub fn interp<'a>(&self, file: &'a [u8]) -> Result<Option<&'a [u8]>, ElfError> {
        let Some(ph) = self.phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
            return Ok(None);
        };
        let start = ph.offset as usize;
        let end = start
            .checked_add(ph.filesz as usize)
            .ok_or(ElfError::Corrupt("PT_INTERP out of range"))?;
        if end > file.len() {
            return Err(ElfError::HeadTooShort(end as u64));
        }
        let path = &file[start..end];
        let path = path.split(|&b| b == 0).next().unwrap_or(path);
        if path.is_empty() {
            return Err(ElfError::Corrupt("empty PT_INTERP"));
        }
        Ok(Some(path))
    }

    /// Lowest and highest virtual address covered by PT_LOAD segments.
    pub fn load_range(&self) -> (u64, u64) {
        let loads = self.phdrs.iter().filter(|p| p.p_type == PT_LOAD);
        let lo = loads.clone().map(|p| p.vaddr).min().unwrap_or(0);
        let hi = loads.map(|p| p.vaddr + p.memsz).max().unwrap_or(0);
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(machine: u16, class: u8) -> Vec<u8> {
        let mut h = vec![0u8; 64 + 56];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = 1;
        h[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h[32..40].copy_from_slice(&64u64.to_le_bytes());
        h[54..56].copy_from_slice(&PHDR_SIZE.to_le_bytes());
        h[56..58].copy_from_slice(&1u16.to_le_bytes());
        h[64..68].copy_from_slice(&PT_LOAD.to_le_bytes());
        h
    }

    #[test]
    fn rejects_foreign_and_corrupt_files() {
        assert_eq!(Elf::parse(b"#!/bin/sh\n").unwrap_err(), ElfError::NotElf);
        assert_eq!(
            Elf::parse(&header(62, 2)).unwrap_err(),
            ElfError::WrongArch("x86-64".into())
        );
        assert!(matches!(
            Elf::parse(&header(EM_RISCV, 1)),
            Err(ElfError::WrongArch(_))
        ));
        let mut h = header(EM_RISCV, 2);
        assert!(Elf::parse(&h).is_ok());
        h[64 + 32..64 + 40].copy_from_slice(&1000u64.to_le_bytes()); // filesz past EOF
        h[64 + 40..64 + 48].copy_from_slice(&1000u64.to_le_bytes());
        assert!(matches!(Elf::parse(&h), Err(ElfError::Corrupt(_))));
        assert!(matches!(Elf::parse(&h[..40]), Err(ElfError::Corrupt(_))));
    }
}
