//! System V shared memory: shmget, shmat, shmdt, shmctl (ipc/shm.c).
//!
//! A segment is a shared memory object of shm.rs (exec frames that every attach maps, so
//! a store in one process is seen at once in every other), held by the segment table
//! until IPC_RMID: unlike an anonymous MAP_SHARED object it outlives its mappings. An
//! attach is a shared mapping of it, so fork inherits attaches and exit and execve detach
//! them, as on Linux. IPC_RMID marks the segment SHM_DEST and makes its key private; the
//! object goes with its last attach. Keys, ids and permissions are ipc.rs's.
//!
//! PostgreSQL (its interlock segment), X11's MIT-SHM clients, older databases and
//! `ipcs`/`ipcrm` use these.

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::Prot;

use super::{Args, SysResult};
use crate::ipc::{
    Got, IPC_64, IPC_INFO, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT, IpcPerm, IpcTable, PERM_SIZE,
};
use crate::limits;
use crate::mm::{VmaName, map_region, page_up};
use crate::{Kernel, Process};

const SHM_LOCK: u64 = 11;
const SHM_UNLOCK: u64 = 12;
const SHM_STAT: u64 = 13;
const SHM_INFO: u64 = 14;
const SHM_STAT_ANY: u64 = 15;

const SHM_RDONLY: u64 = 0o10000;
const SHM_RND: u64 = 0o20000;
const SHM_REMAP: u64 = 0o40000;
const SHM_EXEC: u64 = 0o100000;
/// Mode bits Linux reports: marked for destruction, locked.
const SHM_DEST: u32 = 0o1000;
const SHM_LOCKED: u32 = 0o2000;

/// asm-generic's SHMLBA: attach addresses are multiples of a page.
const SHMLBA: u64 = PAGE_SIZE;
/// Linux's defaults (SHMMAX, SHMALL in pages, SHMMNI segments).
const SHMMAX: u64 = u64::MAX - (1 << 24);
const SHMALL: u64 = u64::MAX - (1 << 24);
pub const SHMMNI: u64 = 4096;

/// struct shmid64_ds (asm-generic, 64-bit): 112 bytes.
const SHMID_DS_SIZE: usize = 112;

#[derive(Debug)]
pub struct Segment {
    size: u64,
    /// The shm.rs object holding the pages.
    obj: u64,
    cpid: i32,
    lpid: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
}

/// Every segment, by index.
pub type Segments = IpcTable<Segment>;

impl Kernel {
    /// Forget segments marked for destruction whose last attach has gone.
    fn shm_reap_segments(&mut self) {
        let gone: Vec<i32> = self
            .sysv_shm
            .by_index
            .iter()
            .filter(|(_, (perm, s))| perm.mode & SHM_DEST != 0 && !self.shm.exists(s.obj))
            .map(|(&i, _)| i)
            .collect();
        for i in gone {
            self.sysv_shm.by_index.remove(&i);
        }
    }

    /// struct shmid64_ds of a segment.
    fn shmid_ds(&self, perm: &IpcPerm, s: &Segment) -> Vec<u8> {
        let mut b = perm.bytes();
        b.extend_from_slice(&s.size.to_le_bytes());
        for t in [s.atime, s.dtime, s.ctime] {
            b.extend_from_slice(&t.to_le_bytes());
        }
        b.extend_from_slice(&s.cpid.to_le_bytes());
        b.extend_from_slice(&s.lpid.to_le_bytes());
        // nattch: the mappings that start at the object's first byte.
        b.extend_from_slice(&(self.shm.attaches(s.obj) as u64).to_le_bytes());
        b.resize(SHMID_DS_SIZE, 0);
        b
    }
}

pub fn sys_shmget(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (key, size, flags) = (a[0] as i32, a[1], a[2]);
    k.shm_reap_segments();
    if let Got::Existing(i) = k.sysv_shm.lookup(key, flags, &p.creds)? {
        let (perm, s) = &k.sysv_shm.by_index[&i];
        if size > s.size {
            return Err(Errno::EINVAL);
        }
        return Ok(Segments::id_of(i, perm) as u64);
    }
    if size == 0 || size > SHMMAX {
        return Err(Errno::EINVAL);
    }
    let pages = page_up(size).ok_or(Errno::EINVAL)? / PAGE_SIZE;
    if k.sysv_shm.by_index.len() as u64 >= SHMMNI {
        return Err(Errno::ENOSPC);
    }
    // A segment commits its size when made, as Linux's shmem does (ENOMEM), here with
    // every other segment's, attached or not.
    let held: u64 = k
        .sysv_shm
        .by_index
        .values()
        .map(|(_, s)| page_up(s.size).unwrap_or(u64::MAX))
        .fold(0, u64::saturating_add);
    k.mem_charge(p, held.saturating_add(pages * PAGE_SIZE))?;
    let obj = k.shm_new_segment_object(pages);
    let seg = Segment {
        size,
        obj,
        cpid: p.pid,
        lpid: 0,
        atime: 0,
        dtime: 0,
        ctime: k.now_secs(),
    };
    let id = k.sysv_shm.insert(IpcPerm::new(key, &p.creds, flags), seg)?;
    Ok(id as u64)
}

pub fn sys_shmat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, addr, flags) = (a[0] as i32, a[1], a[2]);
    k.shm_reap_segments();
    let index = k.sysv_shm.index_of(id)?;
    let (obj, size, key) = {
        let (perm, s) = &k.sysv_shm.by_index[&index];
        let want = if flags & SHM_RDONLY != 0 { 4 } else { 6 } | u32::from(flags & SHM_EXEC != 0);
        perm.check(&p.creds, want)?;
        (s.obj, s.size, perm.key)
    };
    let len = page_up(size).ok_or(Errno::EINVAL)?;
    let start = if addr != 0 {
        let at = if flags & SHM_RND != 0 {
            addr & !(SHMLBA - 1)
        } else if !addr.is_multiple_of(SHMLBA) {
            return Err(Errno::EINVAL);
        } else {
            addr
        };
        let end = at.checked_add(len).ok_or(Errno::EINVAL)?;
        if at == 0 || end > crate::mm::TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        if p.mm.overlaps(at, end) && flags & SHM_REMAP == 0 {
            return Err(Errno::EINVAL);
        }
        at
    } else {
        if flags & SHM_REMAP != 0 {
            return Err(Errno::EINVAL);
        }
        p.mm.find_free(len).ok_or(Errno::ENOMEM)?
    };
    let end = start + len;
    let mut prot = Prot::READ;
    if flags & SHM_RDONLY == 0 {
        prot = prot | Prot::WRITE;
    }
    if flags & SHM_EXEC != 0 {
        prot = prot | Prot::EXEC;
    }
    k.mem_charge(p, limits::map_growth(&p.mm, start, end, prot))?;
    // SHM_REMAP: what was there goes, as with MAP_FIXED.
    k.shm_unmap(p.space, start, end);
    let name = VmaName::File(format!("/SYSV{:08x} (deleted)", key as u32).into_bytes());
    map_region(&mut *k.machine, p.space, &mut p.mm, start, end, prot, name)?;
    k.shm_attach(p.space, start, end, prot, obj, 0)?;
    let now = k.now_secs();
    let (_, s) = k.sysv_shm.by_index.get_mut(&index).expect("segment");
    s.atime = now;
    s.lpid = p.pid;
    Ok(start)
}

pub fn sys_shmdt(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let addr = a[0];
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    // The attach that starts at `addr`, and every piece of it after (mprotect may have
    // split it), up to the segment's size: what Linux's shmdt unmaps.
    let Some((index, size)) = k.sysv_shm.by_index.iter().find_map(|(&i, (_, s))| {
        k.shm
            .attached_at(p.space, addr, s.obj)
            .then_some((i, s.size))
    }) else {
        return Err(Errno::EINVAL);
    };
    let obj = k.sysv_shm.by_index[&index].1.obj;
    let end = addr.saturating_add(page_up(size).ok_or(Errno::EINVAL)?);
    for (start, stop) in k.shm.pieces_of(p.space, addr, end, obj) {
        k.shm_unmap(p.space, start, stop);
        k.machine
            .unmap(p.space, start, stop - start)
            .map_err(|_| Errno::EINVAL)?;
        p.mm.remove(start, stop);
    }
    let now = k.now_secs();
    if let Some((_, s)) = k.sysv_shm.by_index.get_mut(&index) {
        s.dtime = now;
        s.lpid = p.pid;
    }
    k.shm_reap_segments();
    Ok(0)
}

pub fn sys_shmctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] & !IPC_64, a[2]);
    k.shm_reap_segments();
    match cmd {
        IPC_INFO => {
            // struct shminfo64: shmmax, shmmin, shmmni, shmseg, shmall, then 4 unused.
            let mut b = Vec::with_capacity(72);
            let mni = SHMMNI;
            for v in [SHMMAX, 1, mni, mni, SHMALL, 0, 0, 0, 0] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            k.write_user(p, buf, &b)?;
            return Ok(k.sysv_shm.highest_index());
        }
        SHM_INFO => {
            // struct shm_info: used_ids, then shm_tot, shm_rss, shm_swp and two unused.
            let used = k.sysv_shm.by_index.len() as i32;
            let tot: u64 = k
                .sysv_shm
                .by_index
                .values()
                .map(|(_, s)| page_up(s.size).unwrap_or(0) / PAGE_SIZE)
                .sum();
            let mut b = used.to_le_bytes().to_vec();
            b.resize(8, 0);
            for v in [tot, tot, 0, 0, 0] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            k.write_user(p, buf, &b)?;
            return Ok(k.sysv_shm.highest_index());
        }
        SHM_STAT | SHM_STAT_ANY => {
            // `id` is an index here (ipcs walks them); the segment's id is returned.
            let (perm, s) = k.sysv_shm.by_index.get(&id).ok_or(Errno::EINVAL)?;
            if cmd == SHM_STAT {
                perm.check(&p.creds, 4)?;
            }
            let ds = k.shmid_ds(perm, s);
            let sid = Segments::id_of(id, perm);
            k.write_user(p, buf, &ds)?;
            return Ok(sid as u64);
        }
        _ => {}
    }
    let (perm, s) = k.sysv_shm.get(id)?;
    match cmd {
        IPC_STAT => {
            perm.check(&p.creds, 4)?;
            let ds = k.shmid_ds(perm, s);
            k.write_user(p, buf, &ds)?;
            Ok(0)
        }
        IPC_SET => {
            if !perm.owned_by(&p.creds) {
                return Err(Errno::EPERM);
            }
            let ds = k.read_user(p, buf, PERM_SIZE)?;
            let now = k.now_secs();
            let (perm, s) = k.sysv_shm.get_mut(id)?;
            perm.set_from(&ds);
            s.ctime = now;
            Ok(0)
        }
        IPC_RMID => {
            if !perm.owned_by(&p.creds) {
                return Err(Errno::EPERM);
            }
            let (perm, s) = k.sysv_shm.get_mut(id)?;
            perm.mode |= SHM_DEST;
            // A removed segment's key is free for a new one at once.
            perm.key = IPC_PRIVATE;
            let obj = s.obj;
            k.shm_release_segment_object(obj);
            k.shm_reap_segments();
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            // Without CAP_IPC_LOCK, RLIMIT_MEMLOCK decides; its default (8 MiB) covers
            // a segment its owner locks. Nothing is swapped here: recorded only.
            if !perm.owned_by(&p.creds) {
                return Err(Errno::EPERM);
            }
            let (perm, _) = k.sysv_shm.get_mut(id)?;
            if cmd == SHM_LOCK {
                perm.mode |= SHM_LOCKED;
            } else {
                perm.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
