//! The exec component's WIT layer: `friscy:exec/machine` exported over `Machines`. Only
//! conversions live here; the machine itself is the library.

use std::cell::RefCell;

use crate::machine::{self, Machine, Machines};

wit_bindgen::generate!({ path: "../../wit", world: "friscy:exec/exec" });

use exports::friscy::exec::machine as wit;

thread_local! {
    // One Wasm instance is one thread; the table lives as long as the instance.
    static MACHINES: RefCell<Machines> = RefCell::new(Machines::new());
}

fn with<T>(f: impl FnOnce(&mut Machines) -> T) -> T {
    MACHINES.with(|m| f(&mut m.borrow_mut()))
}

fn prot(p: wit::Prot) -> machine::Prot {
    machine::Prot(p.bits())
}

fn map_error(e: machine::MapError) -> wit::MapError {
    match e {
        machine::MapError::Invalid => wit::MapError::Invalid,
        machine::MapError::OutOfMemory => wit::MapError::OutOfMemory,
    }
}

fn fault(f: machine::Fault) -> wit::Fault {
    wit::Fault {
        addr: f.addr,
        access: match f.access {
            machine::Access::Load => wit::Access::Load,
            machine::Access::Store => wit::Access::Store,
            machine::Access::Fetch => wit::Access::Fetch,
        },
        cause: match f.cause {
            machine::FaultCause::Unmapped => wit::FaultCause::Unmapped,
            machine::FaultCause::Protection => wit::FaultCause::Protection,
            machine::FaultCause::OutOfMemory => wit::FaultCause::OutOfMemory,
            machine::FaultCause::NotFilled => wit::FaultCause::NotFilled,
        },
    }
}

pub struct AddressSpace(machine::SpaceId);

impl Drop for AddressSpace {
    fn drop(&mut self) {
        with(|m| m.space_drop(self.0));
    }
}

impl wit::GuestAddressSpace for AddressSpace {
    fn new() -> Self {
        AddressSpace(with(|m| m.space_new()))
    }
    fn id(&self) -> u32 {
        self.0
    }
    fn fork(&self) -> wit::AddressSpace {
        wit::AddressSpace::new(AddressSpace(with(|m| m.space_fork(self.0))))
    }
}

pub struct Hart(machine::HartId);

impl Drop for Hart {
    fn drop(&mut self) {
        with(|m| m.hart_drop(self.0));
    }
}

impl wit::GuestHart for Hart {
    fn new(space: wit::AddressSpaceBorrow<'_>) -> Self {
        let space = space.get::<AddressSpace>().0;
        Hart(with(|m| m.hart_new(space)))
    }
    fn id(&self) -> u32 {
        self.0
    }
}

struct Exec;

impl wit::Guest for Exec {
    type AddressSpace = AddressSpace;
    type Hart = Hart;

    fn map_pages(space: u32, addr: u64, len: u64, p: wit::Prot) -> Result<(), wit::MapError> {
        with(|m| m.map(space, addr, len, prot(p))).map_err(map_error)
    }
    fn unmap_pages(space: u32, addr: u64, len: u64) -> Result<(), wit::MapError> {
        with(|m| m.unmap(space, addr, len)).map_err(map_error)
    }
    fn protect_pages(space: u32, addr: u64, len: u64, p: wit::Prot) -> Result<(), wit::MapError> {
        with(|m| m.protect(space, addr, len, prot(p))).map_err(map_error)
    }
    fn read(space: u32, addr: u64, len: u32) -> Result<Vec<u8>, wit::Fault> {
        let mut buf = vec![0; len as usize];
        with(|m| m.read(space, addr, &mut buf)).map_err(fault)?;
        Ok(buf)
    }
    fn write(space: u32, addr: u64, data: Vec<u8>) -> Result<(), wit::Fault> {
        with(|m| m.write(space, addr, &data)).map_err(fault)
    }
    fn read_cstr(space: u32, addr: u64, max: u32) -> Result<Vec<u8>, wit::Fault> {
        with(|m| m.read_cstr(space, addr, max as usize)).map_err(fault)
    }
    fn run(hart: u32, budget: u64) -> wit::StopReason {
        match with(|m| m.run(hart, budget)) {
            machine::StopReason::Ecall(s) => {
                let [a0, a1, a2, a3, a4, a5] = s.args;
                wit::StopReason::Ecall(wit::Syscall {
                    nr: s.nr,
                    args: (a0, a1, a2, a3, a4, a5),
                })
            }
            machine::StopReason::Breakpoint => wit::StopReason::Breakpoint,
            machine::StopReason::BudgetExhausted => wit::StopReason::BudgetExhausted,
            machine::StopReason::IllegalInstruction(bits) => {
                wit::StopReason::IllegalInstruction(bits)
            }
            machine::StopReason::Fault(f) => wit::StopReason::Fault(fault(f)),
        }
    }
    fn get_registers(hart: u32) -> wit::Registers {
        let r = with(|m| m.registers(hart));
        wit::Registers {
            x: r.x.to_vec(),
            f: r.f.to_vec(),
            pc: r.pc,
            fcsr: r.fcsr,
        }
    }
    fn set_registers(hart: u32, regs: wit::Registers) {
        let mut r = machine::Registers {
            x: [0; 32],
            f: [0; 32],
            pc: regs.pc,
            fcsr: regs.fcsr,
        };
        for (dst, src) in r.x.iter_mut().zip(&regs.x) {
            *dst = *src;
        }
        for (dst, src) in r.f.iter_mut().zip(&regs.f) {
            *dst = *src;
        }
        with(|m| m.set_registers(hart, &r));
    }
    fn get_x(hart: u32, reg: u8) -> u64 {
        with(|m| m.x(hart, reg))
    }
    fn set_x(hart: u32, reg: u8, value: u64) {
        with(|m| m.set_x(hart, reg, value));
    }
    fn get_pc(hart: u32) -> u64 {
        with(|m| m.pc(hart))
    }
    fn set_pc(hart: u32, pc: u64) {
        with(|m| m.set_pc(hart, pc));
    }
    fn instret(hart: u32) -> u64 {
        with(|m| m.instret(hart))
    }
    fn map_file(space: u32, addr: u64, len: u64, key: (u64, u64), offset: u64) {
        let key = machine::FileKey::from_halves(key.0, key.1);
        with(|m| m.map_file(space, addr, len, key, offset));
    }
    fn exec_stats() -> (u64, u64) {
        let s = with(|m| m.exec_stats());
        (s.translated, s.interpreted)
    }
    fn translated_file_sizes() -> Vec<u64> {
        with(|m| m.translated_file_sizes())
    }
    fn object_create(pages: u64) -> u32 {
        with(|m| m.obj_create(pages))
    }
    fn object_create_unfilled(pages: u64) -> u32 {
        with(|m| m.obj_create_unfilled(pages))
    }
    fn object_drop(obj: u32) {
        with(|m| m.obj_drop(obj));
    }
    fn object_at(space: u32, addr: u64) -> Option<(u32, u64)> {
        with(|m| m.object_at(space, addr))
    }
    fn object_resize(obj: u32, pages: u64) -> Result<(), wit::MapError> {
        with(|m| m.obj_resize(obj, pages)).map_err(map_error)
    }
    fn object_write(obj: u32, offset: u64, data: Vec<u8>) -> Result<(), wit::MapError> {
        with(|m| m.obj_write(obj, offset, &data)).map_err(map_error)
    }
    fn object_read(obj: u32, offset: u64, len: u32) -> Result<Vec<u8>, wit::MapError> {
        let mut buf = vec![0; len as usize];
        with(|m| m.obj_read(obj, offset, &mut buf)).map_err(map_error)?;
        Ok(buf)
    }
    fn map_object(
        space: u32,
        addr: u64,
        len: u64,
        p: wit::Prot,
        obj: u32,
        first: u64,
        shared: bool,
    ) -> Result<(), wit::MapError> {
        with(|m| m.map_object(space, addr, len, prot(p), obj, first, shared)).map_err(map_error)
    }
    fn set_memory_limit(bytes: u64) {
        with(|m| m.set_memory_limit(bytes));
    }
    fn memory_in_use() -> u64 {
        with(|m| m.memory_in_use())
    }
    fn resident(space: u32) -> u64 {
        with(|m| m.resident(space))
    }
    fn flush_icache(space: u32) {
        with(|m| m.flush_icache(space))
    }
}

export!(Exec);
