//! A guest process: its address space and hart, memory map, file descriptors, working
//! directory and identity. (Part 1 runs one process; fork, threads and signals build on
//! this struct.)

use friscy_exec::{HartId, SpaceId};
use friscy_vfs::Ino;

use crate::fd::FdTable;
use crate::mm::MemoryMap;

pub struct Process {
    pub pid: i32,
    pub space: SpaceId,
    pub hart: HartId,
    pub mm: MemoryMap,
    pub fds: FdTable,
    pub cwd: Ino,
    pub umask: u32,
    /// The executable's absolute path (/proc/self/exe, AT_EXECFN).
    pub exe: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// set_tid_address(2)'s pointer, cleared at thread exit.
    pub clear_child_tid: u64,
    /// setrlimit(2) values; `None` means the default.
    pub rlimits: [Option<(u64, u64)>; 16],
    /// Set by exit/exit_group (or a fatal signal): the wait status to report.
    pub exit: Option<ExitStatus>,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(u8),
    Signal(u8),
}

impl ExitStatus {
    /// The status a shell reports: the code, or 128 + the signal number.
    pub fn shell_status(self) -> u8 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signal(s) => 128u8.wrapping_add(s),
        }
    }
}
