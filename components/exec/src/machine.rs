//! The `Machine` API the kernel drives (mirrors `wit/deps/friscy-exec/exec.wit`), and
//! `Machines`, its implementation over handle tables of address spaces and harts.

use core::ops::BitOr;

pub use crate::aot::{FileKey, Stats as ExecStats};
use crate::block::CodeCache;
use crate::interp::Hart;
use crate::memory::{Memory, ObjectError, ObjectId, Physical, SharedPhys};
use std::cell::RefCell;
use std::rc::Rc;

pub type SpaceId = u32;
pub type HartId = u32;

/// Page protection, with the bits of mmap(2)'s PROT_READ, PROT_WRITE, PROT_EXEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot(pub u8);

impl Prot {
    pub const NONE: Prot = Prot(0);
    pub const READ: Prot = Prot(1);
    pub const WRITE: Prot = Prot(2);
    pub const EXEC: Prot = Prot(4);

    /// Whether every bit of `other` is set in `self`.
    pub fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        Prot(self.0 | rhs.0)
    }
}

/// What a faulting access was doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Load,
    Store,
    Fetch,
}

/// Why an access faulted: SEGV_MAPERR (`Unmapped`), SEGV_ACCERR (`Protection`), no
/// memory for a page the access needed (`OutOfMemory`: the kernel's OOM path), or a page
/// of a memory object the kernel has not filled yet (`NotFilled`: a major fault; the
/// kernel fills it, `object_at` says which, and the access is retried).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultCause {
    Unmapped,
    Protection,
    OutOfMemory,
    NotFilled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub addr: u64,
    pub access: Access,
    pub cause: FaultCause,
}

/// A system call: `a7` and `a0`..`a5` at the `ecall`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub nr: u64,
    pub args: [u64; 6],
}

/// Why `run` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// pc already points past the ecall.
    Ecall(Syscall),
    /// pc points at the ebreak.
    Breakpoint,
    BudgetExhausted,
    /// pc points at the instruction; 16-bit forms in the low half.
    IllegalInstruction(u32),
    /// pc points at the faulting instruction, which had no effect.
    Fault(Fault),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Not page aligned, zero length, or wrapping the address space.
    Invalid,
    /// Beyond what this address space can hold.
    OutOfMemory,
}

/// The architectural register file of a hart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registers {
    pub x: [u64; 32],
    /// Raw 64-bit patterns (f32 values NaN-boxed).
    pub f: [u64; 32],
    pub pc: u64,
    /// fflags in bits 0..5, frm in bits 5..8.
    pub fcsr: u32,
}

/// Guest address spaces and harts, addressed by integer ids. Unknown ids panic (a kernel
/// bug); ids are not reused while live.
pub trait Machine {
    fn space_new(&mut self) -> SpaceId;
    /// A full copy of `space`'s mappings and contents (fork(2)).
    fn space_fork(&mut self, space: SpaceId) -> SpaceId;
    fn space_drop(&mut self, space: SpaceId);
    /// A hart bound to `space`, all registers zero.
    fn hart_new(&mut self, space: SpaceId) -> HartId;
    fn hart_drop(&mut self, hart: HartId);
    /// Zero-filled pages replacing what was there (MAP_FIXED).
    fn map(&mut self, space: SpaceId, addr: u64, len: u64, prot: Prot) -> Result<(), MapError>;
    fn unmap(&mut self, space: SpaceId, addr: u64, len: u64) -> Result<(), MapError>;
    /// `Invalid` if any page in the range is unmapped.
    fn protect(&mut self, space: SpaceId, addr: u64, len: u64, prot: Prot) -> Result<(), MapError>;
    /// Needs READ on every page, like copy_from_user.
    fn read(&mut self, space: SpaceId, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;
    /// Needs WRITE on every page; invalidates decoded code it overwrites.
    fn write(&mut self, space: SpaceId, addr: u64, data: &[u8]) -> Result<(), Fault>;
    /// The bytes before the NUL, at most `max` of them.
    fn read_cstr(&mut self, space: SpaceId, addr: u64, max: usize) -> Result<Vec<u8>, Fault>;
    /// Executes at most `budget` instructions.
    fn run(&mut self, hart: HartId, budget: u64) -> StopReason;
    fn registers(&self, hart: HartId) -> Registers;
    fn set_registers(&mut self, hart: HartId, regs: &Registers);
    fn x(&self, hart: HartId, reg: u8) -> u64;
    /// Writes to x0 are ignored.
    fn set_x(&mut self, hart: HartId, reg: u8, value: u64);
    fn pc(&self, hart: HartId) -> u64;
    fn set_pc(&mut self, hart: HartId, pc: u64);
    /// Instructions retired: an `ecall` counts (pc is past it), an instruction that stops
    /// with a fault, breakpoint or illegal-instruction does not.
    fn instret(&self, hart: HartId) -> u64;
    /// Says that `[addr, addr+len)` of `space` now holds the bytes of the file whose
    /// contents have key `key` (`FileKey::of`), starting at file offset `offset`: an ELF
    /// segment or a private file mapping, just mapped and filled. Code translated ahead of
    /// time for that file may then run there. Call it after the bytes are written and the
    /// protection set; later changes to the range (stores, munmap) are noticed. Exec
    /// builds without translated code ignore it.
    fn map_file(&mut self, space: SpaceId, addr: u64, len: u64, key: FileKey, offset: u64) {
        let _ = (space, addr, len, key, offset);
    }
    /// Guest instructions retired so far by translated code and by the interpreter, over
    /// every hart this machine has run.
    fn exec_stats(&self) -> ExecStats {
        ExecStats::default()
    }
    /// The sizes of the files there is translated code for (none: `map_file` is not
    /// worth calling; a file of another size has no translation).
    fn translated_file_sizes(&self) -> Vec<u64> {
        Vec::new()
    }
    /// How many files there is translated code for.
    fn translated_files(&self) -> u32 {
        self.translated_file_sizes().len() as u32
    }

    /// A memory object of `pages` zero pages: frames that mappings share (MAP_SHARED
    /// memory, a file's page cache). Lives until `obj_drop` (its mapped pages until they
    /// are unmapped too).
    fn obj_create(&mut self, pages: u64) -> ObjId;
    /// A memory object of `pages` pages not filled yet (a file's page cache): an access
    /// through a mapping to a page `obj_write` has not reached faults with `NotFilled`.
    fn obj_create_unfilled(&mut self, pages: u64) -> ObjId;
    /// The owner is done with `obj`. Mappings of it keep working (their untouched pages
    /// still come from it, unfilled ones still fault with `NotFilled`); its id is reused
    /// only once nothing maps it.
    fn obj_drop(&mut self, obj: ObjId);
    /// The memory object mapped at `addr` in `space` and its page number there (what a
    /// `NotFilled` fault needs filled), or None if no object backs the page.
    fn object_at(&mut self, space: SpaceId, addr: u64) -> Option<(ObjId, u64)>;
    /// Grows or shrinks an object (ftruncate of a mapped file).
    fn obj_resize(&mut self, obj: ObjId, pages: u64) -> Result<(), MapError>;
    /// Copies `data` into the object at byte `offset`.
    fn obj_write(&mut self, obj: ObjId, offset: u64, data: &[u8]) -> Result<(), MapError>;
    /// Fills `buf` from the object at byte `offset`.
    fn obj_read(&mut self, obj: ObjId, offset: u64, buf: &mut [u8]) -> Result<(), MapError>;
    /// Maps the object's pages from `first` on at `[addr, addr+len)`, replacing what was
    /// there: `shared` (stores reach the object) or private (copy-on-write).
    #[allow(clippy::too_many_arguments)]
    fn map_object(
        &mut self,
        space: SpaceId,
        addr: u64,
        len: u64,
        prot: Prot,
        obj: ObjId,
        first: u64,
        shared: bool,
    ) -> Result<(), MapError>;

    /// Limits guest memory (frames in use, over every address space and memory object) to
    /// `bytes` (`u64::MAX`: no limit); past it, an access that needs a new page faults with
    /// `OutOfMemory` (the container's `--memory`, as a memory cgroup's limit).
    fn set_memory_limit(&mut self, bytes: u64);
    /// Guest memory in use: bytes of frames, over every address space and object.
    fn memory_in_use(&self) -> u64;
    /// Bytes of frames `space` refers to (its resident set; shared frames counted in
    /// full), for the OOM killer's choice and /proc's VmRSS.
    fn resident(&mut self, space: SpaceId) -> u64;
    /// Drops every block decoded from the space: riscv_flush_icache. Stores through the
    /// mapping code was fetched from invalidate it already; a store through another
    /// mapping of the same frames (a shared object mapped twice) does not.
    fn flush_icache(&mut self, space: SpaceId);
}

/// A memory object's id.
pub type ObjId = ObjectId;

fn object_error(e: ObjectError) -> MapError {
    match e {
        ObjectError::OutOfMemory => MapError::OutOfMemory,
        ObjectError::NoObject | ObjectError::PastEnd | ObjectError::NotFilled => MapError::Invalid,
    }
}

/// An address space: memory plus the code decoded from it.
pub(crate) struct Space {
    pub mem: Memory,
    pub code: CodeCache,
}

impl Space {
    /// Runs `op`, a change of the mappings of `[addr, addr+len)`, keeping decoded and
    /// translated code consistent with it.
    fn remap(
        &mut self,
        addr: u64,
        len: u64,
        op: impl FnOnce(&mut Memory) -> Result<(), MapError>,
    ) -> Result<(), MapError> {
        // Stores queued before count as stores.
        self.code.sync(&mut self.mem);
        op(&mut self.mem)?;
        self.code.sync_untainted(&mut self.mem);
        if self.code.aot.forget(addr, addr.saturating_add(len)) {
            self.code.flush();
        }
        Ok(())
    }
}

/// A table of live objects, indexed by id; freed ids are reused.
struct Table<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Table<T> {
    fn new() -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
    fn insert(&mut self, v: T) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(v);
                id
            }
            None => {
                self.slots.push(Some(v));
                (self.slots.len() - 1) as u32
            }
        }
    }
    fn remove(&mut self, id: u32) {
        let slot = self.slots.get_mut(id as usize).and_then(Option::take);
        assert!(slot.is_some(), "friscy-exec: drop of unknown id {id}");
        self.free.push(id);
    }
    fn get(&self, id: u32) -> &T {
        match self.slots.get(id as usize) {
            Some(Some(v)) => v,
            _ => panic!("friscy-exec: unknown id {id}"),
        }
    }
    fn get_mut(&mut self, id: u32) -> &mut T {
        match self.slots.get_mut(id as usize) {
            Some(Some(v)) => v,
            _ => panic!("friscy-exec: unknown id {id}"),
        }
    }
}

/// The interpreter's implementation of `Machine`.
pub struct Machines {
    phys: SharedPhys,
    spaces: Table<Space>,
    harts: Table<Hart>,
}

impl Machines {
    pub fn new() -> Self {
        Machines {
            phys: Rc::new(RefCell::new(Physical::default())),
            spaces: Table::new(),
            harts: Table::new(),
        }
    }

    /// Frees the objects their owners dropped that no region of any space maps any more
    /// (called when mappings go away: munmap, an address space's end, a drop).
    fn collect_objects(&mut self) {
        let Physical { frames, objects } = &mut *self.phys.borrow_mut();
        for obj in objects.dropped() {
            let mapped = self
                .spaces
                .slots
                .iter()
                .flatten()
                .any(|s| s.mem.maps_object(obj));
            if !mapped {
                objects.drop_object(obj, frames);
            }
        }
    }
}

impl Default for Machines {
    fn default() -> Self {
        Machines::new()
    }
}

impl Machine for Machines {
    fn space_new(&mut self) -> SpaceId {
        self.spaces.insert(Space {
            mem: Memory::new(self.phys.clone()),
            code: CodeCache::default(),
        })
    }

    fn space_fork(&mut self, space: SpaceId) -> SpaceId {
        let s = self.spaces.get_mut(space);
        // Decoded code is not copied: the child re-decodes what it runs (usually an exec).
        let mut copy = Space {
            mem: s.mem.fork(),
            code: CodeCache::default(),
        };
        // Where translated code may run is copied, and its pages marked as code again
        // (a fork clears the marks).
        copy.code.aot = s.code.aot.clone();
        copy.code.aot.remark(&mut copy.mem);
        self.spaces.insert(copy)
    }

    fn space_drop(&mut self, space: SpaceId) {
        self.spaces.remove(space);
        self.collect_objects();
    }

    fn hart_new(&mut self, space: SpaceId) -> HartId {
        self.spaces.get(space);
        self.harts.insert(Hart::new(space))
    }

    fn hart_drop(&mut self, hart: HartId) {
        self.harts.remove(hart);
    }

    fn map(&mut self, space: SpaceId, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let s = self.spaces.get_mut(space);
        s.remap(addr, len, |mem| mem.map(addr, len, prot))?;
        // What it replaced may have been a dropped object's last mapping.
        self.collect_objects();
        Ok(())
    }

    fn unmap(&mut self, space: SpaceId, addr: u64, len: u64) -> Result<(), MapError> {
        let s = self.spaces.get_mut(space);
        s.remap(addr, len, |mem| mem.unmap(addr, len))?;
        self.collect_objects();
        Ok(())
    }

    fn protect(&mut self, space: SpaceId, addr: u64, len: u64, prot: Prot) -> Result<(), MapError> {
        let s = self.spaces.get_mut(space);
        // Stores queued before count as stores.
        s.code.sync(&mut s.mem);
        s.mem.protect(addr, len, prot)?;
        s.code.sync_untainted(&mut s.mem);
        if s.code.aot.overlaps(addr, addr.saturating_add(len)) {
            // The pages lost their code marks, and translated code spanning them was
            // checked against the old protection.
            s.code.aot.remark(&mut s.mem);
            s.code.flush();
        }
        Ok(())
    }

    fn read(&mut self, space: SpaceId, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.spaces.get_mut(space).mem.read(addr, buf)
    }

    fn write(&mut self, space: SpaceId, addr: u64, data: &[u8]) -> Result<(), Fault> {
        self.spaces.get_mut(space).mem.write(addr, data)
    }

    fn read_cstr(&mut self, space: SpaceId, addr: u64, max: usize) -> Result<Vec<u8>, Fault> {
        self.spaces.get_mut(space).mem.read_cstr(addr, max)
    }

    fn run(&mut self, hart: HartId, budget: u64) -> StopReason {
        let h = self.harts.get_mut(hart);
        let space = self.spaces.get_mut(h.space);
        crate::aot::run(h, space, budget)
    }

    fn registers(&self, hart: HartId) -> Registers {
        let h = self.harts.get(hart);
        let mut x = [0; 32];
        x.copy_from_slice(&h.x[..32]);
        let mut f = [0; 32];
        f.copy_from_slice(&h.f[..32]);
        Registers {
            x,
            f,
            pc: h.pc,
            fcsr: h.fcsr(),
        }
    }

    fn set_registers(&mut self, hart: HartId, regs: &Registers) {
        let h = self.harts.get_mut(hart);
        h.x[..32].copy_from_slice(&regs.x);
        h.x[0] = 0;
        h.f[..32].copy_from_slice(&regs.f);
        h.pc = regs.pc;
        h.set_fcsr(regs.fcsr);
    }

    fn x(&self, hart: HartId, reg: u8) -> u64 {
        self.harts.get(hart).x[reg as usize & 31]
    }

    fn set_x(&mut self, hart: HartId, reg: u8, value: u64) {
        if reg != 0 {
            self.harts.get_mut(hart).x[reg as usize & 31] = value;
        }
    }

    fn pc(&self, hart: HartId) -> u64 {
        self.harts.get(hart).pc
    }

    fn set_pc(&mut self, hart: HartId, pc: u64) {
        self.harts.get_mut(hart).pc = pc;
    }

    fn instret(&self, hart: HartId) -> u64 {
        self.harts.get(hart).instret
    }

    fn map_file(&mut self, space: SpaceId, addr: u64, len: u64, key: FileKey, offset: u64) {
        let s = self.spaces.get_mut(space);
        s.code.sync(&mut s.mem);
        if s.code.aot.map_file(&mut s.mem, addr, len, key, offset) {
            s.code.flush();
        }
    }

    fn exec_stats(&self) -> ExecStats {
        crate::aot::stats()
    }

    fn translated_file_sizes(&self) -> Vec<u64> {
        crate::aot::translated_file_sizes()
    }
    fn obj_create(&mut self, pages: u64) -> ObjId {
        self.phys.borrow_mut().objects.create(pages)
    }

    fn obj_create_unfilled(&mut self, pages: u64) -> ObjId {
        self.phys.borrow_mut().objects.create_unfilled(pages)
    }

    fn obj_drop(&mut self, obj: ObjId) {
        self.phys.borrow_mut().objects.mark_dropped(obj);
        self.collect_objects();
    }

    fn object_at(&mut self, space: SpaceId, addr: u64) -> Option<(ObjId, u64)> {
        self.spaces.get(space).mem.object_at(addr)
    }

    fn obj_resize(&mut self, obj: ObjId, pages: u64) -> Result<(), MapError> {
        let Physical { frames, objects } = &mut *self.phys.borrow_mut();
        objects.resize(obj, pages, frames).map_err(object_error)
    }

    fn obj_write(&mut self, obj: ObjId, offset: u64, data: &[u8]) -> Result<(), MapError> {
        let Physical { frames, objects } = &mut *self.phys.borrow_mut();
        objects
            .write(obj, offset, data, frames)
            .map_err(object_error)
    }

    fn obj_read(&mut self, obj: ObjId, offset: u64, buf: &mut [u8]) -> Result<(), MapError> {
        let phys = self.phys.borrow();
        let data = phys
            .objects
            .read(obj, offset, buf.len(), &phys.frames)
            .map_err(object_error)?;
        buf.copy_from_slice(&data);
        Ok(())
    }

    fn map_object(
        &mut self,
        space: SpaceId,
        addr: u64,
        len: u64,
        prot: Prot,
        obj: ObjId,
        first: u64,
        shared: bool,
    ) -> Result<(), MapError> {
        let s = self.spaces.get_mut(space);
        s.remap(addr, len, |mem| {
            mem.map_object(addr, len, prot, obj, first, shared)
        })?;
        self.collect_objects();
        Ok(())
    }

    fn set_memory_limit(&mut self, bytes: u64) {
        let frames = usize::try_from(bytes / crate::memory::PAGE_SIZE).unwrap_or(usize::MAX);
        self.phys.borrow_mut().frames.set_limit(frames);
    }

    fn memory_in_use(&self) -> u64 {
        self.phys.borrow().frames.in_use() as u64 * crate::memory::PAGE_SIZE
    }

    fn resident(&mut self, space: SpaceId) -> u64 {
        self.spaces.get_mut(space).mem.resident_pages() * crate::memory::PAGE_SIZE
    }

    fn flush_icache(&mut self, space: SpaceId) {
        self.spaces.get_mut(space).code.flush();
    }
}
