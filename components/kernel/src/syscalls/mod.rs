//! System calls: the dispatcher, guest-memory helpers shared by the handlers, and the
//! trace. Handlers live one family per file and are named `sys_<linux name>`; they return
//! `Result`, and only `dispatch` turns an error into the `-errno` the guest sees.

mod fs;
mod info;
mod mm;
mod process;
mod table;
mod time;

pub use table::{Support, name, support};

use friscy_abi::Errno;

use crate::{Kernel, Process};

pub type SysResult = Result<u64, Errno>;
pub type Args = [u64; 6];

/// Linux's PATH_MAX, including the terminating NUL.
pub const PATH_MAX: usize = 4096;

/// Run syscall `nr` and produce the value for a0.
pub fn dispatch(k: &mut Kernel, proc: &mut Process, nr: u64, args: Args) -> u64 {
    let result = match table::call(k, proc, nr, args) {
        Some(r) => r,
        None => {
            if k.trace && k.enosys_seen.insert(nr) {
                let what = match table::support(nr) {
                    Some(Support::Unsupported(why)) => {
                        format!("{} ({why})", table::name(nr).unwrap_or("?"))
                    }
                    _ => table::name(nr).unwrap_or("unknown").to_string(),
                };
                k.report(&format!(
                    "unsupported syscall {nr} {what}: returning ENOSYS"
                ));
            }
            Err(Errno::ENOSYS)
        }
    };
    if k.trace {
        let name = table::name(nr).unwrap_or("?");
        let ret = match result {
            Ok(v) => format!("{v:#x}"),
            Err(e) => format!("-1 {}", e.name()),
        };
        let [a0, a1, a2, a3, a4, a5] = args;
        k.host.diagnostic(&format!(
            "[{}] {name}({a0:#x}, {a1:#x}, {a2:#x}, {a3:#x}, {a4:#x}, {a5:#x}) = {ret}",
            proc.pid
        ));
    }
    match result {
        Ok(v) => v,
        Err(e) => e.to_ret(),
    }
}

impl Kernel {
    /// copy_from_user: EFAULT if any byte is not readable by the guest.
    pub fn read_user(&mut self, proc: &Process, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0; len];
        self.machine
            .read(proc.space, addr, &mut buf)
            .map_err(|_| Errno::EFAULT)?;
        Ok(buf)
    }

    /// copy_to_user: EFAULT if any byte is not writable by the guest.
    pub fn write_user(&mut self, proc: &Process, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.machine
            .write(proc.space, addr, data)
            .map_err(|_| Errno::EFAULT)
    }

    pub fn read_u64(&mut self, proc: &Process, addr: u64) -> Result<u64, Errno> {
        let b = self.read_user(proc, addr, 8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap()))
    }

    pub fn write_u64(&mut self, proc: &Process, addr: u64, v: u64) -> Result<(), Errno> {
        self.write_user(proc, addr, &v.to_le_bytes())
    }

    /// A path argument: NUL-terminated, ENAMETOOLONG past PATH_MAX.
    pub fn read_path(&mut self, proc: &Process, addr: u64) -> Result<Vec<u8>, Errno> {
        let s = self
            .machine
            .read_cstr(proc.space, addr, PATH_MAX)
            .map_err(|_| Errno::EFAULT)?;
        if s.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(s)
    }
}
