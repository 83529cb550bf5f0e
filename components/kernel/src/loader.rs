//! execve's loader: resolves the program (PATH search, `#!` scripts), maps an ELF
//! executable and its PT_INTERP into a fresh address space, and builds the Linux initial
//! stack (argc, argv, envp, auxv; fs/binfmt_elf.c `create_elf_tables`).

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::{HartId, Prot, SpaceId};
use friscy_vfs::Ino;

use crate::Kernel;
use crate::creds::{Creds, MAY_EXEC, Owner};
use crate::elf::{self, Elf, ElfError};
use crate::mm::{self, MemoryMap, VmaName, page_down, page_up};

/// How much of an executable is read to find its headers (more only if they lie beyond).
const HEAD_BYTES: u64 = 16 << 10;

/// A file being executed: its inode and size, and its first bytes (the ELF and program
/// headers, a `#!` line). Its segments are mapped from the page cache (pagecache.rs).
pub struct ExecFile {
    ino: Ino,
    size: u64,
    head: Vec<u8>,
}

/// Linux's BINPRM_BUF_SIZE bounds a `#!` line; nested interpreters stop at 4 levels.
const SHEBANG_MAX: usize = 256;
const SHEBANG_DEPTH: usize = 4;

/// AT_* keys of the auxiliary vector (include/uapi/linux/auxvec.h).
mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const EXECFN: u64 = 31;
}

/// AT_HWCAP for RV64IMAFDC: one bit per single-letter extension ('a' = bit 0), as
/// arch/riscv/kernel/cpufeature.c reports it.
pub const HWCAP_RV64GC: u64 = {
    let mut bits = 0;
    let letters = *b"imafdc";
    let mut i = 0;
    while i < letters.len() {
        bits |= 1 << (letters[i] - b'a');
        i += 1;
    }
    bits
};

/// Why a program could not be started; each maps to the status and message a shell gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// The program (or a `#!` interpreter) does not exist.
    NotFound(Vec<u8>),
    /// A dynamically linked program whose PT_INTERP is missing.
    InterpreterNotFound { program: Vec<u8>, interp: Vec<u8> },
    /// Exists but cannot be executed (a directory, no execute permission...).
    Denied(Vec<u8>, Errno),
    /// Not something we can run: not ELF, wrong architecture, corrupt.
    Format(Vec<u8>, ElfError),
    /// The address space could not hold it.
    NoMemory(Vec<u8>),
}

impl ExecError {
    /// The errno execve(2) returns for this failure.
    pub fn errno(&self) -> Errno {
        match self {
            ExecError::NotFound(_) | ExecError::InterpreterNotFound { .. } => Errno::ENOENT,
            ExecError::Denied(_, e) => *e,
            ExecError::Format(..) => Errno::ENOEXEC,
            ExecError::NoMemory(_) => Errno::ENOMEM,
        }
    }
    /// The exit status a shell reports: 127 for "not found", 126 for "cannot execute".
    pub fn shell_status(&self) -> u8 {
        match self {
            ExecError::NotFound(_) | ExecError::InterpreterNotFound { .. } => 127,
            _ => 126,
        }
    }
    /// The one-line message friscy prints.
    pub fn message(&self) -> String {
        let s = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        match self {
            ExecError::NotFound(p) => format!("{}: No such file or directory", s(p)),
            ExecError::InterpreterNotFound { program, interp } => {
                format!("{}: interpreter {} not found", s(program), s(interp))
            }
            ExecError::Denied(p, e) => format!("{}: {}", s(p), e.message()),
            ExecError::Format(p, e) => format!("{}: cannot execute: {e}", s(p)),
            ExecError::NoMemory(p) => format!("{}: out of guest memory while loading", s(p)),
        }
    }
}

/// A loaded program, ready to run.
pub struct Image {
    pub space: SpaceId,
    pub hart: HartId,
    pub mm: MemoryMap,
    /// Absolute path of the executable that was loaded (the script itself for `#!`).
    pub exe: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    /// The credentials the program runs with.
    pub creds: Creds,
}

/// Where one ELF file ended up.
struct Loaded {
    bias: u64,
    entry: u64,
    phdr: u64,
    phnum: u16,
}

fn prot_of(flags: u32) -> Prot {
    let mut p = Prot::NONE;
    if flags & elf::PF_R != 0 {
        p = p | Prot::READ;
    }
    if flags & elf::PF_W != 0 {
        p = p | Prot::WRITE;
    }
    if flags & elf::PF_X != 0 {
        p = p | Prot::EXEC;
    }
    p
}

impl Kernel {
    /// Find a command the way execvp(3) does: a name with a `/` is a path, anything else
    /// is searched in `PATH`.
    pub fn find_command(
        &mut self,
        creds: &Creds,
        cwd: Ino,
        name: &[u8],
        path_var: &[u8],
    ) -> Option<Vec<u8>> {
        if name.contains(&b'/') {
            return Some(name.to_vec());
        }
        for dir in path_var.split(|&b| b == b':') {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let mut candidate = dir.to_vec();
            candidate.push(b'/');
            candidate.extend_from_slice(name);
            if let Ok(ino) = self.lookup_as(creds, cwd, &candidate, true)
                && self
                    .fs
                    .stat(ino)
                    .is_ok_and(|st| st.mode & friscy_abi::mode::S_IFMT == friscy_abi::mode::S_IFREG)
            {
                return Some(candidate);
            }
        }
        None
    }

    /// Open a regular file that is to be executed by `creds` and read its first bytes
    /// (headers, a `#!` line); its owner and mode (for set-user-ID) come along.
    /// The executable at `path`, or the file `open` itself (execveat with AT_EMPTY_PATH,
    /// fexecve: `path` only names it then).
    fn read_executable(
        &mut self,
        creds: &Creds,
        cwd: Ino,
        path: &[u8],
        open: Option<Ino>,
    ) -> Result<(Owner, ExecFile), ExecError> {
        use friscy_abi::mode::{S_IFDIR, S_IFMT, S_IFREG};
        let found = match open {
            Some(ino) => Ok(ino),
            None => self.lookup_as(creds, cwd, path, true),
        };
        let ino = match found {
            Ok(ino) => ino,
            Err(Errno::ENOENT) => return Err(ExecError::NotFound(path.to_vec())),
            Err(e) => return Err(ExecError::Denied(path.to_vec(), e)),
        };
        let st = self
            .fs
            .stat(ino)
            .map_err(|e| ExecError::Denied(path.to_vec(), e))?;
        match st.mode & S_IFMT {
            S_IFREG => {}
            S_IFDIR => return Err(ExecError::Denied(path.to_vec(), Errno::EISDIR)),
            _ => return Err(ExecError::Denied(path.to_vec(), Errno::EACCES)),
        }
        // execve(2): EACCES without execute permission (root needs some execute bit).
        let owner = Owner {
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
        };
        creds
            .permission(owner, MAY_EXEC)
            .map_err(|e| ExecError::Denied(path.to_vec(), e))?;
        let mut file = ExecFile {
            ino,
            size: st.size,
            head: Vec::new(),
        };
        self.read_head(&mut file, HEAD_BYTES)
            .map_err(|e| ExecError::Denied(path.to_vec(), e))?;
        Ok((owner, file))
    }

    /// Make `file.head` hold the file's first `upto` bytes (or all of a shorter file).
    fn read_head(&mut self, file: &mut ExecFile, upto: u64) -> Result<(), Errno> {
        let upto = upto.min(file.size);
        while (file.head.len() as u64) < upto {
            let at = file.head.len() as u64;
            let want = (upto - at).min(1 << 20) as u32;
            let chunk = self.fs.read(file.ino, at, want)?;
            if chunk.is_empty() {
                // Shorter than stat said: the size is what could be read.
                file.size = at;
                break;
            }
            file.head.extend_from_slice(&chunk);
        }
        Ok(())
    }

    /// Parse `file`'s ELF headers (and PT_INTERP), reading further than the first bytes
    /// if the headers lie beyond them.
    fn parse_exec(
        &mut self,
        file: &mut ExecFile,
        path: &[u8],
    ) -> Result<(Elf, Option<Vec<u8>>), ExecError> {
        let format = |e| ExecError::Format(path.to_vec(), e);
        let denied = |e| ExecError::Denied(path.to_vec(), e);
        for _ in 0..2 {
            let elf = match Elf::parse_head(&file.head, file.size) {
                Err(ElfError::HeadTooShort(n)) => {
                    self.read_head(file, n).map_err(denied)?;
                    continue;
                }
                r => r.map_err(format)?,
            };
            match elf.interp(&file.head) {
                Err(ElfError::HeadTooShort(n)) => {
                    self.read_head(file, n).map_err(denied)?;
                }
                r => return Ok((elf, r.map_err(format)?.map(<[u8]>::to_vec))),
            }
        }
        Err(format(ElfError::Corrupt("headers out of range")))
    }

    /// Load `path` with `argv` and `envp` into a new address space and hart, as `creds`
    /// (the result's creds are what the program runs with: a set-user-ID file's owner).
    pub fn load_program(
        &mut self,
        creds: &Creds,
        cwd: Ino,
        path: &[u8],
        open: Option<Ino>,
        mut argv: Vec<Vec<u8>>,
        envp: &[Vec<u8>],
    ) -> Result<Image, ExecError> {
        let mut path = path.to_vec();
        let (owner, mut file) = self.read_executable(creds, cwd, &path, open)?;
        // Set-user-ID and set-group-ID count on the file execve was given, and Linux
        // ignores them on scripts (binfmt_script).
        let mut new_creds = creds.clone();
        let script = file.head.starts_with(b"#!");
        new_creds.exec(if script {
            Owner { mode: 0, ..owner }
        } else {
            owner
        });
        // `#!interpreter [one argument]`: binfmt_script.
        let mut depth = 0;
        while file.head.starts_with(b"#!") {
            depth += 1;
            if depth > SHEBANG_DEPTH {
                return Err(ExecError::Denied(path, Errno::ELOOP));
            }
            let line = &file.head[2..file.head.len().min(SHEBANG_MAX)];
            let line = line.split(|&b| b == b'\n').next().unwrap_or(line);
            let mut words = line
                .splitn(2, |&b| b == b' ' || b == b'\t')
                .map(|w| w.trim_ascii())
                .filter(|w| !w.is_empty());
            let Some(interp) = words.next().map(<[u8]>::to_vec) else {
                return Err(ExecError::Format(path, ElfError::NotElf));
            };
            let mut new_argv = vec![interp.clone()];
            new_argv.extend(words.next().map(<[u8]>::to_vec));
            new_argv.push(path.clone());
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            file = match self.read_executable(creds, cwd, &interp, None) {
                Ok((_, f)) => f,
                Err(ExecError::NotFound(_)) => {
                    return Err(ExecError::InterpreterNotFound {
                        program: path,
                        interp,
                    });
                }
                Err(e) => return Err(e),
            };
            path = interp;
        }
        let (exe, interp) = self.parse_exec(&mut file, &path)?;
        let interp_file = match &interp {
            None => None,
            Some(ip) => match self.read_executable(creds, cwd, ip, None) {
                Ok((_, f)) => Some(f),
                Err(ExecError::NotFound(_)) => {
                    return Err(ExecError::InterpreterNotFound {
                        program: path,
                        interp: ip.clone(),
                    });
                }
                Err(e) => return Err(e),
            },
        };
        let abs_path = self.absolute(cwd, &path);

        let space = self.machine.space_new();
        let result = self.populate(
            space,
            &abs_path,
            &file,
            &exe,
            interp.as_deref(),
            interp_file,
            &argv,
            envp,
        );
        match result {
            Ok((mm, pc, sp)) => {
                let hart = self.machine.hart_new(space);
                self.machine.set_pc(hart, pc);
                self.machine.set_x(hart, 2, sp);
                let exe = self.resolved_path(cwd, &abs_path).unwrap_or(abs_path);
                Ok(Image {
                    space,
                    hart,
                    mm,
                    exe,
                    argv,
                    creds: new_creds,
                })
            }
            Err(e) => {
                self.machine.space_drop(space);
                Err(e)
            }
        }
    }

    /// The canonical path of a file, every symlink resolved, as /proc/self/exe shows it
    /// (busybox applets are symlinks, and programs find their files relative to it).
    fn resolved_path(&mut self, cwd: Ino, path: &[u8]) -> Option<Vec<u8>> {
        let mut path = path.to_vec();
        for _ in 0..40 {
            let (dir, name) = self.lookup_parent_as(&Creds::root(), cwd, &path).ok()?;
            let ino = self.fs.lookup(dir, &name, false).ok()?;
            let dir_path = self.path_in_root(dir).ok()?;
            let st = self.fs.stat(ino).ok()?;
            if st.mode & friscy_abi::mode::S_IFMT != friscy_abi::mode::S_IFLNK {
                let mut out = dir_path;
                if !out.ends_with(b"/") {
                    out.push(b'/');
                }
                out.extend_from_slice(&name);
                return Some(out);
            }
            let target = self.fs.readlink(ino).ok()?;
            path = if target.starts_with(b"/") {
                target
            } else {
                [dir_path.as_slice(), b"/", &target].concat()
            };
        }
        None
    }

    /// An absolute form of `path` for /proc/self/exe and AT_EXECFN.
    fn absolute(&mut self, cwd: Ino, path: &[u8]) -> Vec<u8> {
        if path.starts_with(b"/") {
            return path.to_vec();
        }
        let mut abs = self.fs.path(cwd).unwrap_or_else(|_| b"/".to_vec());
        if !abs.ends_with(b"/") {
            abs.push(b'/');
        }
        abs.extend_from_slice(path.strip_prefix(b"./").unwrap_or(path));
        abs
    }

    #[allow(clippy::too_many_arguments)]
    fn populate(
        &mut self,
        space: SpaceId,
        path: &[u8],
        file: &ExecFile,
        exe: &Elf,
        interp_path: Option<&[u8]>,
        interp_file: Option<ExecFile>,
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
    ) -> Result<(MemoryMap, u64, u64), ExecError> {
        let oom = || ExecError::NoMemory(path.to_vec());
        let (lo, hi) = exe.load_range();
        // A bias moves a position-independent image by modular arithmetic, as Linux's
        // load_bias does: one linked above PIE_BASE moves down (a "negative" bias).
        let bias = if exe.e_type == elf::ET_DYN {
            mm::PIE_BASE.wrapping_sub(page_down(lo))
        } else {
            0
        };
        let mut mm = MemoryMap::new(hi.wrapping_add(bias));
        let main = self
            .load_segments(space, &mut mm, file, exe, bias, path)
            .ok_or_else(oom)?;

        let mut entry = main.entry;
        let mut base = 0;
        if let (Some(ip), Some(mut ifile)) = (interp_path, interp_file) {
            let (ielf, _) = self.parse_exec(&mut ifile, ip)?;
            let (ilo, ihi) = ielf.load_range();
            let span = page_up(ihi - page_down(ilo)).ok_or_else(oom)?;
            // load_elf_interp(): an ET_EXEC interpreter goes at its own link address
            // (bias 0, AT_BASE 0), and cannot share it with the program.
            let ibias = if ielf.e_type == elf::ET_DYN {
                mm.find_free(span)
                    .ok_or_else(oom)?
                    .wrapping_sub(page_down(ilo))
            } else if mm.overlaps(page_down(ilo), page_down(ilo) + span) {
                return Err(oom());
            } else {
                0
            };
            let loaded = self
                .load_segments(space, &mut mm, &ifile, &ielf, ibias, ip)
                .ok_or_else(oom)?;
            entry = loaded.entry;
            base = loaded.bias;
        }

        let (stack_lo, stack_top) = (mm.stack_top - mm::STACK_SIZE, mm.stack_top);
        mm::map_region(
            &mut *self.machine,
            space,
            &mut mm,
            stack_lo,
            stack_top,
            Prot::READ | Prot::WRITE,
            VmaName::Stack,
        )
        .map_err(|_| oom())?;
        // The page signal handlers return through (see signal.rs).
        let vdso = mm.find_free(PAGE_SIZE).ok_or_else(oom)?;
        self.machine
            .map(space, vdso, PAGE_SIZE, Prot::READ | Prot::WRITE)
            .map_err(|_| oom())?;
        self.machine
            .write(space, vdso, &crate::signal::TRAMPOLINE)
            .map_err(|_| oom())?;
        self.machine
            .protect(space, vdso, PAGE_SIZE, Prot::READ | Prot::EXEC)
            .map_err(|_| oom())?;
        mm.insert(
            vdso,
            vdso + PAGE_SIZE,
            Prot::READ | Prot::EXEC,
            VmaName::Vdso,
        );
        mm.sigreturn = vdso;
        let auxv = [
            (at::PHDR, main.phdr),
            (at::PHENT, elf::PHDR_SIZE as u64),
            (at::PHNUM, main.phnum as u64),
            (at::PAGESZ, PAGE_SIZE),
            (at::BASE, base),
            (at::FLAGS, 0),
            (at::ENTRY, main.entry),
            (at::UID, 0),
            (at::EUID, 0),
            (at::GID, 0),
            (at::EGID, 0),
            (at::HWCAP, HWCAP_RV64GC),
            (at::CLKTCK, 100),
            (at::SECURE, 0),
        ];
        let (sp, saved_auxv, args, env) = self
            .build_stack(space, mm.stack_top, path, argv, envp, &auxv)
            .ok_or_else(oom)?;
        mm.saved_auxv = saved_auxv;
        mm.args = args;
        mm.env = env;
        Ok((mm, entry, sp))
    }

    /// Map one PT_LOAD segment's file bytes at `bias` (writable for now), and zero the
    /// rest of its last file page if the segment has a bss (binfmt_elf's padzero).
    fn map_segment(
        &mut self,
        space: SpaceId,
        file: &ExecFile,
        ph: &elf::ProgramHeader,
        bias: u64,
    ) -> Option<()> {
        if ph.filesz == 0 {
            return Some(());
        }
        let vaddr = ph.vaddr.wrapping_add(bias);
        let vstart = page_down(vaddr);
        let file_end = page_up(vaddr.checked_add(ph.filesz)?)?;
        let first = page_down(ph.offset) / PAGE_SIZE;
        let pages = (file_end - vstart) / PAGE_SIZE;
        // ELF requires p_vaddr and p_offset to agree modulo the page size; a file that
        // breaks the rule is copied instead of mapped.
        let cached = if vaddr % PAGE_SIZE == ph.offset % PAGE_SIZE {
            self.page_cache(file.ino).ok()?
        } else {
            None
        };
        match cached {
            Some(c) => {
                let n = c.pages.saturating_sub(first).min(pages);
                self.page_cache_mapped(file.ino, c.obj, first, first + n)
                    .ok()?;
                self.machine
                    .map_object(
                        space,
                        vstart,
                        n * PAGE_SIZE,
                        Prot::READ | Prot::WRITE,
                        c.obj,
                        first,
                        false,
                    )
                    .ok()?;
            }
            None => {
                let mut done = 0;
                while done < ph.filesz {
                    let want = (ph.filesz - done).min(1 << 20) as u32;
                    let chunk = self.fs.read(file.ino, ph.offset + done, want).ok()?;
                    if chunk.is_empty() {
                        break;
                    }
                    self.guest(space, |m| m.write(space, vaddr + done, &chunk))
                        .ok()?;
                    done += chunk.len() as u64;
                }
            }
        }
        if ph.memsz > ph.filesz {
            let from = vaddr + ph.filesz;
            let to = file_end.min(page_up(vaddr.checked_add(ph.memsz)?)?);
            if to > from {
                let zeros = vec![0; (to - from) as usize];
                self.guest(space, |m| m.write(space, from, &zeros)).ok()?;
            }
        }
        Some(())
    }

    /// Map the PT_LOAD segments of one ELF file at `bias`.
    fn load_segments(
        &mut self,
        space: SpaceId,
        mm: &mut MemoryMap,
        file: &ExecFile,
        elf: &Elf,
        bias: u64,
        name: &[u8],
    ) -> Option<Loaded> {
        let loads: Vec<_> = elf
            .phdrs
            .iter()
            .filter(|p| p.p_type == elf::PT_LOAD)
            .collect();
        let (lo, hi) = elf.load_range();
        // The bias is modular (a PIE linked high moves down), as Linux computes it.
        let start = page_down(lo.wrapping_add(bias));
        let end = page_up(hi.wrapping_add(bias))?;
        if end < start {
            return None;
        }
        // Reserve the whole span as zero pages, map each segment's file pages over it
        // from the page cache (copy-on-write, as elf_map's MAP_PRIVATE), then give each
        // segment its own protection and unmap the holes between segments.
        self.machine
            .map(space, start, end - start, Prot::READ | Prot::WRITE)
            .ok()?;
        for ph in &loads {
            self.map_segment(space, file, ph, bias)?;
        }
        // Page ranges with their protection, in address order; where two segments share
        // pages, those pages get both protections.
        let mut covered: Vec<(u64, u64, Prot)> = Vec::new();
        for ph in &loads {
            let s = page_down(ph.vaddr.wrapping_add(bias));
            let e = page_up(ph.vaddr.wrapping_add(bias) + ph.memsz)?;
            let prot = prot_of(ph.flags);
            match covered.last_mut() {
                Some(last) if last.1 > s => {
                    let (shared_end, shared) = (last.1.min(e), last.2 | prot);
                    last.1 = s;
                    covered.push((s, shared_end, shared));
                    if e > shared_end {
                        covered.push((shared_end, e, prot));
                    }
                }
                _ => covered.push((s, e, prot)),
            }
        }
        let mut at = start;
        for &(s, e, prot) in &covered {
            if s > at {
                self.machine.unmap(space, at, s - at).ok()?;
            }
            if e > s {
                self.machine.protect(space, s, e - s, prot).ok()?;
                mm.insert(s, e, prot, VmaName::File(name.to_vec()));
            }
            at = at.max(e);
        }
        // Code translated ahead of time for this file may run in its executable segments.
        for ph in loads.iter().filter(|p| p.flags & elf::PF_X != 0) {
            self.map_file(
                space,
                ph.vaddr.wrapping_add(bias),
                ph.filesz,
                file.ino,
                ph.offset,
                None,
            );
        }
        // AT_PHDR: PT_PHDR if present, else where the header table lies inside the
        // segment that maps file offset 0.
        let phdr = match elf.phdrs.iter().find(|p| p.p_type == elf::PT_PHDR) {
            Some(p) => p.vaddr.wrapping_add(bias),
            None => loads
                .iter()
                .find(|p| p.offset <= elf.phoff && elf.phoff < p.offset + p.filesz)
                .map(|p| {
                    p.vaddr
                        .wrapping_sub(p.offset)
                        .wrapping_add(elf.phoff)
                        .wrapping_add(bias)
                })
                .unwrap_or(0),
        };
        Some(Loaded {
            bias,
            entry: elf.entry.wrapping_add(bias),
            phdr,
            phnum: elf.phnum,
        })
    }

    /// Lay out strings, random bytes, argv, envp and auxv below `top`; returns sp, the
    /// complete auxiliary vector, and where the argument and environment strings are.
    /// The strings go as Linux puts them (fs/exec.c copies envp, then argv, downwards
    /// from the top, under the file name): ascending, the 16 random bytes, the argument
    /// strings, the environment strings, the file name; setproctitle implementations
    /// (nginx's, PostgreSQL's) count on the environment following the arguments.
    #[allow(clippy::type_complexity)]
    fn build_stack(
        &mut self,
        space: SpaceId,
        top: u64,
        execfn: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        auxv: &[(u64, u64)],
    ) -> Option<(u64, Vec<(u64, u64)>, (u64, u64), (u64, u64))> {
        // Strings from the bottom up, remembering where each one ends.
        let mut strings: Vec<u8> = Vec::new();
        let offsets = |s: &[u8], strings: &mut Vec<u8>| {
            strings.extend_from_slice(s);
            strings.push(0);
            strings.len() as u64
        };
        let mut random = [0u8; 16];
        self.host.random(&mut random);
        strings.extend_from_slice(&random);
        let args_off = strings.len() as u64;
        let arg_offs: Vec<u64> = argv.iter().map(|a| offsets(a, &mut strings)).collect();
        let env_off = strings.len() as u64;
        let env_offs: Vec<u64> = envp.iter().map(|e| offsets(e, &mut strings)).collect();
        let env_end = strings.len() as u64;
        let execfn_off = offsets(execfn, &mut strings);
        // Strings occupy [top - 8 - len, top - 8); an address is (top - 8 - len) + end_off - its_len.
        let strings_lo = top - 8 - strings.len() as u64;
        let addr_of = |end_off: u64, len: usize| strings_lo + end_off - len as u64 - 1;
        let args = (strings_lo + args_off, strings_lo + env_off);
        let env = (strings_lo + env_off, strings_lo + env_end);

        let mut table: Vec<u64> = vec![argv.len() as u64];
        table.extend(arg_offs.iter().zip(argv).map(|(&o, a)| addr_of(o, a.len())));
        table.push(0);
        table.extend(env_offs.iter().zip(envp).map(|(&o, e)| addr_of(o, e.len())));
        table.push(0);
        let auxv_at = table.len();
        for &(k, v) in auxv {
            table.extend([k, v]);
        }
        table.extend([at::RANDOM, strings_lo]);
        table.extend([at::EXECFN, addr_of(execfn_off, execfn.len())]);
        table.extend([at::NULL, 0]);

        let sp = (strings_lo - table.len() as u64 * 8) & !15;
        if sp < top - crate::mm::STACK_SIZE + PAGE_SIZE {
            return None; // E2BIG in execve terms; the arguments do not fit the stack
        }
        let mut image: Vec<u8> = table.iter().flat_map(|w| w.to_le_bytes()).collect();
        image.resize((strings_lo - sp) as usize, 0);
        image.extend_from_slice(&strings);
        self.guest(space, |m| m.write(space, sp, &image)).ok()?;
        let full = table[auxv_at..].chunks(2).map(|c| (c[0], c[1])).collect();
        Some((sp, full, args, env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwcap_has_imafdc() {
        assert_eq!(HWCAP_RV64GC, 0x112d);
    }
}
