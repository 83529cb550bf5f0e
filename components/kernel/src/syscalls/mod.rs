//! System calls: the dispatcher, guest-memory helpers shared by the handlers, and the
//! trace. Handlers live one family per file and are named `sys_<linux name>`; they return
//! `Result`, and only `dispatch` turns an error into the `-errno` the guest sees.

mod attr;
mod creds;
mod descriptors;
pub mod epoll;
pub(crate) mod fasync;
pub mod fs;
mod futex;
mod hwprobe;
mod icache;
pub(crate) mod info;
mod inotify;
mod ip_cmsg;
pub(crate) mod lock;
mod membarrier;
mod memfd;
mod mm;
mod names;
mod pidfd;
mod pipe;
mod poll;
pub mod posix_timer;
mod process;
mod process_vm;
mod remap;
mod sched;
pub mod signal;
pub mod signalfd;
pub(crate) mod socket;
mod splice;
pub(crate) mod stat;
mod sync;
pub(crate) mod sysv_msg;
pub(crate) mod sysv_sem;
pub(crate) mod sysv_shm;
mod table;
mod time;
pub mod timerfd;
mod trace;
mod transfer;
pub(crate) mod tty;
mod usage;
mod xattr;

pub use table::{Support, name, support};

use friscy_abi::Errno;

use crate::{Kernel, Process};
use friscy_exec::{Fault, FaultCause, Machine, SpaceId};

pub type SysResult = Result<u64, Errno>;
pub type Args = [u64; 6];

/// Linux's PATH_MAX, including the terminating NUL.
pub const PATH_MAX: usize = 4096;

/// Run syscall `nr` for the current thread of `proc`. Returns the value for a0, or `None`
/// if the thread parked (the scheduler runs the ecall again when it wakes).
pub fn dispatch(k: &mut Kernel, proc: &mut Process, nr: u64, args: Args) -> Option<u64> {
    let first_try = proc.thread().restart.is_none();
    // Inputs are rendered before the call: a successful execve replaces the space.
    let traced = k.trace.then(|| {
        let mem = &mut trace::Space(k, proc.space);
        trace::Call::capture(proc.tid(), nr, table::name(nr), &args, mem)
    });
    k.cur_root = proc.root;
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
    k.cur_root = None;
    let parked = result == Err(Errno::ERESTARTSYS);
    if !k.net_graveyard.borrow().is_empty() {
        k.reap_sockets();
    }
    if let Some(call) = traced.filter(|_| !parked || first_try) {
        let outcome = match parked {
            true => trace::Outcome::Unfinished,
            false => trace::Outcome::Done(result),
        };
        let line = call.finish(outcome, &mut trace::Space(k, proc.space));
        k.host.diagnostic(&line);
    }
    if parked {
        return None;
    }
    // The call is over: forget its restart state, put back a mask it swapped in (ppoll,
    // pselect6), and let parked threads look again at what it may have changed.
    k.progress += 1;
    epoll::note_edges(proc, nr, &args, &result);
    if let Some(t) = proc.threads.get_mut(proc.cur) {
        t.restart = None;
        if let Some(mask) = t.saved_sigmask.take() {
            t.sigmask = mask;
        }
    }
    Some(match result {
        Ok(v) => v,
        Err(e) => e.to_ret(),
    })
}

/// The errno for a fault in a kernel copy to or from the guest: EFAULT, or ENOMEM when
/// the page could not be given memory.
pub fn fault_errno(f: friscy_exec::Fault) -> Errno {
    match f.cause {
        friscy_exec::FaultCause::OutOfMemory => Errno::ENOMEM,
        _ => Errno::EFAULT,
    }
}

impl Kernel {
    /// `op`, a copy to or from the guest memory of `space`, retried after reading each
    /// file page it finds not read yet (a page fault inside copy_from_user: the page
    /// cache fills the page, `page_cache_fault`). A page that cannot be read is a fault
    /// (EFAULT; ENOMEM when there was no memory for it).
    pub fn guest<T>(
        &mut self,
        space: SpaceId,
        mut op: impl FnMut(&mut dyn Machine) -> Result<T, Fault>,
    ) -> Result<T, Fault> {
        loop {
            match op(&mut *self.machine) {
                Err(f) if f.cause == FaultCause::NotFilled => {
                    if let Err(e) = self.page_cache_fault(space, f.addr) {
                        let cause = match e {
                            Errno::ENOMEM => FaultCause::OutOfMemory,
                            _ => FaultCause::Unmapped,
                        };
                        return Err(Fault { cause, ..f });
                    }
                }
                r => return r,
            }
        }
    }

    /// copy_from_user: EFAULT if any byte is not readable by the guest.
    pub fn read_user(&mut self, proc: &Process, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0; len];
        self.guest(proc.space, |m| m.read(proc.space, addr, &mut buf))
            .map_err(fault_errno)?;
        Ok(buf)
    }

    /// copy_to_user: EFAULT if any byte is not writable by the guest (ENOMEM if a page
    /// could not be given memory).
    pub fn write_user(&mut self, proc: &Process, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.guest(proc.space, |m| m.write(proc.space, addr, data))
            .map_err(fault_errno)
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
            .guest(proc.space, |m| m.read_cstr(proc.space, addr, PATH_MAX))
            .map_err(|_| Errno::EFAULT)?;
        if s.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(s)
    }
}
