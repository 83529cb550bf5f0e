//! What rv2wasm needs from an ELF file: its executable segments (to read code by virtual
//! address and map it to file offsets) and where functions start.
//!
//! Function starts ("seeds") come from every source a stripped or unstripped binary may
//! offer: the entry point, `.symtab` and `.dynsym` functions, `.eh_frame` FDEs (present in
//! stripped binaries, one per function with unwind info), PLT stubs, relocation targets
//! into code (R_RISCV_RELATIVE / R_RISCV_64: function pointers in a PIE or shared
//! library), and init/fini arrays. Seeds only decide how code is split into functions:
//! whatever is translated is translated faithfully, and code nothing points to runs in
//! the interpreter.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use goblin::elf::{Elf, header, program_header, section_header, sym};

/// An executable PT_LOAD segment's file bytes.
#[derive(Clone, Debug)]
pub struct Segment {
    pub vaddr: u64,
    pub offset: u64,
    pub data_len: u64,
}

/// A riscv64 ELF file, as far as code goes.
pub struct Image<'a> {
    pub data: &'a [u8],
    pub segments: Vec<Segment>,
    pub seeds: BTreeSet<u64>,
    /// Code addresses stored in the data of a non-PIE executable (ET_EXEC: no relocation
    /// marks its function pointers): functions reached only through a pointer, and the
    /// labels of computed gotos (CPython's eval loop dispatches through
    /// `opcode_targets[]`). A data word may only look like an address, so these are
    /// weaker than `seeds`: discovery takes them after everything the real seeds reach.
    pub data_pointers: BTreeSet<u64>,
    /// Seeds with a known size (symbols): `[start, end)`.
    pub sized: Vec<(u64, u64)>,
    /// The SHF_EXECINSTR sections, `[start, end)`: where an address the code computes
    /// (`auipc` + `addi`) may be a function's (empty when the file has no section headers).
    pub text: Vec<(u64, u64)>,
}

const EM_RISCV: u16 = 243;
const R_RISCV_64: u32 = 2;
const R_RISCV_RELATIVE: u32 = 3;

/// Whether `data` is a riscv64 ELF executable or shared object.
pub fn is_riscv64_elf(data: &[u8]) -> bool {
    data.len() >= 64
        && data[..4] == *b"\x7fELF"
        && data[4] == 2 // ELFCLASS64
        && data[5] == 1 // little-endian
        && u16::from_le_bytes([data[18], data[19]]) == EM_RISCV
        && matches!(
            u16::from_le_bytes([data[16], data[17]]),
            header::ET_EXEC | header::ET_DYN
        )
}

impl<'a> Image<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Image<'a>> {
        if !is_riscv64_elf(data) {
            bail!("not a riscv64 ELF executable or shared object");
        }
        let elf = Elf::parse(data).context("parsing the ELF file")?;
        let mut segments = Vec::new();
        for ph in &elf.program_headers {
            if ph.p_type == program_header::PT_LOAD && ph.p_flags & program_header::PF_X != 0 {
                let end = ph.p_offset.checked_add(ph.p_filesz);
                if end.is_none_or(|e| e > data.len() as u64) {
                    bail!("an executable segment lies outside the file");
                }
                segments.push(Segment {
                    vaddr: ph.p_vaddr,
                    offset: ph.p_offset,
                    data_len: ph.p_filesz,
                });
            }
        }
        let mut img = Image {
            data,
            segments,
            seeds: BTreeSet::new(),
            data_pointers: BTreeSet::new(),
            sized: Vec::new(),
            text: Vec::new(),
        };
        img.add_seed(elf.entry);
        for s in elf.syms.iter().chain(elf.dynsyms.iter()) {
            let code_sym = matches!(s.st_type(), sym::STT_FUNC | sym::STT_GNU_IFUNC)
                || (s.st_type() == sym::STT_NOTYPE && s.st_bind() == sym::STB_GLOBAL);
            if code_sym
                && s.st_shndx != section_header::SHN_UNDEF as usize
                && img.add_seed(s.st_value)
                && s.st_size > 0
                && s.st_type() == sym::STT_FUNC
            {
                img.sized.push((s.st_value, s.st_value + s.st_size));
            }
        }
        for r in elf.dynrelas.iter().chain(elf.pltrelocs.iter()) {
            match r.r_type {
                R_RISCV_RELATIVE => {
                    img.add_seed(r.r_addend.unwrap_or(0) as u64);
                }
                R_RISCV_64 => {
                    if let Some(s) = elf.dynsyms.get(r.r_sym)
                        && s.st_shndx != section_header::SHN_UNDEF as usize
                    {
                        img.add_seed(s.st_value.wrapping_add(r.r_addend.unwrap_or(0) as u64));
                    }
                }
                _ => {}
            }
        }
        for sh in &elf.section_headers {
            if sh.sh_flags & section_header::SHF_EXECINSTR as u64 != 0
                && sh.sh_type == section_header::SHT_PROGBITS
            {
                img.text
                    .push((sh.sh_addr, sh.sh_addr.saturating_add(sh.sh_size)));
            }
            let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("");
            let range = sh.file_range();
            match name {
                ".plt" => {
                    // A 32-byte header, then 16-byte stubs (RISC-V psABI).
                    let mut a = sh.sh_addr + 32;
                    while a + 16 <= sh.sh_addr + sh.sh_size {
                        img.add_seed(a);
                        a += 16;
                    }
                    img.add_seed(sh.sh_addr);
                }
                ".init_array" | ".fini_array" | ".preinit_array" => {
                    if let Some(r) = range
                        && sh.sh_type != section_header::SHT_NOBITS
                        && r.end <= data.len()
                    {
                        for w in data[r].chunks_exact(8) {
                            img.add_seed(u64::from_le_bytes(w.try_into().unwrap()));
                        }
                    }
                }
                ".eh_frame" => {
                    if let Some(r) = range
                        && r.end <= data.len()
                    {
                        img.eh_frame(sh.sh_addr, &data[r]);
                    }
                }
                _ => {}
            }
        }
        if elf.header.e_type == header::ET_EXEC {
            img.scan_data_pointers(&elf);
        }
        Ok(img)
    }

    /// Every aligned 64-bit word of the allocated, non-code PROGBITS sections (.rodata,
    /// .data, .data.rel.ro, ...; not .eh_frame, read by `eh_frame`, nor .got.plt, whose
    /// words point at the PLT header) that is a code address (`may_be_code`).
    fn scan_data_pointers(&mut self, elf: &Elf) {
        for sh in &elf.section_headers {
            let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("");
            if sh.sh_type != section_header::SHT_PROGBITS
                || sh.sh_flags & section_header::SHF_ALLOC as u64 == 0
                || sh.sh_flags & section_header::SHF_EXECINSTR as u64 != 0
                || name.starts_with(".eh_frame")
                || name == ".got.plt"
            {
                continue;
            }
            let Some(r) = sh.file_range().filter(|r| r.end <= self.data.len()) else {
                continue;
            };
            // Words aligned in memory (file offsets and addresses agree modulo the page).
            let skip = (8 - (sh.sh_addr % 8) as usize) % 8;
            let Some(words) = self.data[r].get(skip..) else {
                continue;
            };
            for w in words.chunks_exact(8) {
                let v = u64::from_le_bytes(w.try_into().unwrap());
                if self.may_be_code(v) && !self.seeds.contains(&v) {
                    self.data_pointers.insert(v);
                }
            }
        }
    }

    /// The file offset of virtual address `addr`, if it is inside an executable segment.
    pub fn offset_of(&self, addr: u64) -> Option<u64> {
        self.segment_of(addr).map(|s| addr - s.vaddr + s.offset)
    }

    pub fn segment_of(&self, addr: u64) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| addr >= s.vaddr && addr - s.vaddr < s.data_len)
    }

    /// Whether `addr` may start a function whose address the code takes: even, in an
    /// executable segment, and in an SHF_EXECINSTR section when the file has sections
    /// (so that the address of a string in a segment's read-only data is not taken for
    /// code).
    pub fn may_be_code(&self, addr: u64) -> bool {
        addr.is_multiple_of(2)
            && self.segment_of(addr).is_some()
            && (self.text.is_empty() || self.text.iter().any(|&(a, b)| addr >= a && addr < b))
    }

    /// The 16-bit parcel at `addr`, if it is code.
    pub fn parcel(&self, addr: u64) -> Option<u16> {
        let s = self.segment_of(addr)?;
        if addr - s.vaddr + 2 > s.data_len {
            return None;
        }
        let o = (addr - s.vaddr + s.offset) as usize;
        Some(u16::from_le_bytes([self.data[o], self.data[o + 1]]))
    }

    /// Adds `addr` as a function start if it is an even address inside code.
    fn add_seed(&mut self, addr: u64) -> bool {
        if addr.is_multiple_of(2) && self.segment_of(addr).is_some() {
            self.seeds.insert(addr);
            true
        } else {
            false
        }
    }

    /// Every FDE's initial location in `.eh_frame` (loaded at `addr`).
    fn eh_frame(&mut self, addr: u64, bytes: &[u8]) {
        use gimli::{BaseAddresses, CieOrFde, EhFrame, LittleEndian, UnwindSection};
        let eh = EhFrame::new(bytes, LittleEndian);
        let bases = BaseAddresses::default().set_eh_frame(addr);
        let mut entries = eh.entries(&bases);
        let mut starts = Vec::new();
        // A malformed entry ends the walk; what was found so far is kept.
        while let Ok(Some(entry)) = entries.next() {
            if let CieOrFde::Fde(partial) = entry
                && let Ok(fde) = partial.parse(|s, b, o| s.cie_from_offset(b, o))
            {
                starts.push((fde.initial_address(), fde.len()));
            }
        }
        for (start, len) in starts {
            if self.add_seed(start) && len > 0 {
                self.sized.push((start, start + len));
            }
        }
    }
}
