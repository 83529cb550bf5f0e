//! System V shared memory: shmget, shmat, shmdt, shmctl (ipc/shm.c).
//!
//! A segment is a shared memory object of shm.rs (exec frames that every attach maps, so
//! a store in one process is seen at once in every other), held by the segment table
//! until IPC_RMID: unlike an anonymous MAP_SHARED object it outlives its mappings. An
//! attach is a shared mapping of it, so fork inherits attaches and exit and execve detach
//! them, as on Linux. IPC_RMID marks the segment SHM_DEST and makes its key private; the
//! object goes with its last attach.
//!
//! PostgreSQL (its interlock segment), X11's MIT-SHM clients, older databases and
//! `ipcs`/`ipcrm` use these. Semaphore sets and message queues are not offered (ENOSYS).

use std::collections::BTreeMap;

use friscy_abi::{Errno, PAGE_SIZE};
use friscy_exec::Prot;

use super::{Args, SysResult};
use crate::creds::Creds;
use crate::limits;
use crate::mm::{VmaName, map_region, page_up};
use crate::{Kernel, Process};

const IPC_PRIVATE: i32 = 0;
const IPC_CREAT: u64 = 0o1000;
const IPC_EXCL: u64 = 0o2000;

const IPC_RMID: u64 = 0;
const IPC_SET: u64 = 1;
const IPC_STAT: u64 = 2;
const IPC_INFO: u64 = 3;
const SHM_LOCK: u64 = 11;
const SHM_UNLOCK: u64 = 12;
const SHM_STAT: u64 = 13;
const SHM_INFO: u64 = 14;
const SHM_STAT_ANY: u64 = 15;
/// glibc adds IPC_64 to the command on some architectures; it means the layouts below.
const IPC_64: u64 = 0x100;

const SHM_RDONLY: u64 = 0o10000;
const SHM_RND: u64 = 0o20000;
const SHM_REMAP: u64 = 0o40000;
const SHM_EXEC: u64 = 0o100000;
/// Mode bits Linux reports: marked for destruction, locked.
const SHM_DEST: u32 = 0o1000;
const SHM_LOCKED: u32 = 0o2000;

/// asm-generic's SHMLBA: attach addresses are multiples of a page.
const SHMLBA: u64 = PAGE_SIZE;
/// Linux's defaults (SHMMAX, SHMMNI, SHMALL in pages).
const SHMMAX: u64 = u64::MAX - (1 << 24);
const SHMMNI: u64 = 4096;
const SHMALL: u64 = u64::MAX - (1 << 24);
/// Segment ids are `seq * IPCMNI + index`, as Linux numbers them.
const IPCMNI: i32 = 32768;

/// struct ipc64_perm and struct shmid64_ds (asm-generic, 64-bit): 48 and 112 bytes.
const SHMID_DS_SIZE: usize = 112;

#[derive(Debug)]
struct Segment {
    key: i32,
    size: u64,
    /// The shm.rs object holding the pages.
    obj: u64,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    /// Permission bits, with SHM_DEST and SHM_LOCKED.
    mode: u32,
    seq: u16,
    cpid: i32,
    lpid: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
}

/// Every segment, by index (the low part of its id).
#[derive(Debug, Default)]
pub struct Segments {
    by_index: BTreeMap<i32, Segment>,
    seq: u16,
}

impl Segments {
    /// What IPC_INFO and SHM_INFO return: the highest index in use (ipcs walks up to it).
    fn highest_index(&self) -> u64 {
        self.by_index.keys().next_back().map_or(0, |&i| i as u64)
    }

    fn id_of(index: i32, s: &Segment) -> i32 {
        s.seq as i32 * IPCMNI + index
    }

    /// The segment an id names (EINVAL for none, or an id of a reused index).
    fn index_of(&self, id: i32) -> Result<i32, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        let index = id % IPCMNI;
        match self.by_index.get(&index) {
            Some(s) if s.seq as i32 == id / IPCMNI => Ok(index),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// ipcperms(): the owner's or creator's bits, the group's, or the others', then
/// CAP_IPC_OWNER (euid 0).
fn ipc_permission(c: &Creds, s: &Segment, want: u32) -> Result<(), Errno> {
    let bits = if c.uid.eff == s.uid || c.uid.eff == s.cuid {
        s.mode >> 6
    } else if c.gid.eff == s.gid
        || c.gid.eff == s.cgid
        || c.groups.binary_search(&s.gid).is_ok()
        || c.groups.binary_search(&s.cgid).is_ok()
    {
        s.mode >> 3
    } else {
        s.mode
    } & 7;
    if want & !bits == 0 || c.capable() {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// Whether the caller may change or remove the segment: its owner, creator or root.
fn ipc_owner(c: &Creds, s: &Segment) -> bool {
    c.uid.eff == s.uid || c.uid.eff == s.cuid || c.capable()
}

impl Kernel {
    /// The number of attaches of a segment (its mappings that start at its first page).
    fn shm_nattch(&self, s: &Segment) -> u64 {
        self.shm.attaches(s.obj) as u64
    }

    /// Forget segments marked for destruction whose last attach has gone.
    fn shm_reap_segments(&mut self) {
        let gone: Vec<i32> = self
            .sysv_shm
            .by_index
            .iter()
            .filter(|(_, s)| s.mode & SHM_DEST != 0 && !self.shm.exists(s.obj))
            .map(|(&i, _)| i)
            .collect();
        for i in gone {
            self.sysv_shm.by_index.remove(&i);
        }
    }

    /// struct shmid64_ds of a segment.
    fn shmid_ds(&self, s: &Segment) -> Vec<u8> {
        let mut b = Vec::with_capacity(SHMID_DS_SIZE);
        for v in [s.key as u32, s.uid, s.gid, s.cuid, s.cgid, s.mode] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&s.seq.to_le_bytes());
        b.resize(48, 0);
        b.extend_from_slice(&s.size.to_le_bytes());
        for t in [s.atime, s.dtime, s.ctime] {
            b.extend_from_slice(&t.to_le_bytes());
        }
        b.extend_from_slice(&s.cpid.to_le_bytes());
        b.extend_from_slice(&s.lpid.to_le_bytes());
        b.extend_from_slice(&self.shm_nattch(s).to_le_bytes());
        b.resize(SHMID_DS_SIZE, 0);
        b
    }

    fn now_secs(&self) -> i64 {
        self.host.wall_clock().0
    }
}

pub fn sys_shmget(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (key, size, flags) = (a[0] as i32, a[1], a[2]);
    k.shm_reap_segments();
    if key != IPC_PRIVATE {
        let found = k
            .sysv_shm
            .by_index
            .iter()
            .find(|(_, s)| s.key == key && s.mode & SHM_DEST == 0)
            .map(|(&i, _)| i);
        if let Some(i) = found {
            if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            let s = &k.sysv_shm.by_index[&i];
            let f = flags as u32;
            ipc_permission(&p.creds, s, ((f >> 6) | (f >> 3) | f) & 7)?;
            if size > s.size {
                return Err(Errno::EINVAL);
            }
            return Ok(Segments::id_of(i, s) as u64);
        }
        if flags & IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
    }
    if size == 0 || size > SHMMAX {
        return Err(Errno::EINVAL);
    }
    let pages = page_up(size).ok_or(Errno::EINVAL)? / PAGE_SIZE;
    let Some(index) = (0..SHMMNI as i32).find(|i| !k.sysv_shm.by_index.contains_key(i)) else {
        return Err(Errno::ENOSPC);
    };
    let obj = k.shm_new_segment_object(pages);
    k.sysv_shm.seq = k.sysv_shm.seq.wrapping_add(1) % (i32::MAX / IPCMNI) as u16;
    let now = k.now_secs();
    let seg = Segment {
        key,
        size,
        obj,
        uid: p.creds.uid.eff,
        gid: p.creds.gid.eff,
        cuid: p.creds.uid.eff,
        cgid: p.creds.gid.eff,
        mode: flags as u32 & 0o777,
        seq: k.sysv_shm.seq,
        cpid: p.pid,
        lpid: 0,
        atime: 0,
        dtime: 0,
        ctime: now,
    };
    let id = Segments::id_of(index, &seg);
    k.sysv_shm.by_index.insert(index, seg);
    Ok(id as u64)
}

pub fn sys_shmat(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, addr, flags) = (a[0] as i32, a[1], a[2]);
    k.shm_reap_segments();
    let index = k.sysv_shm.index_of(id)?;
    let (obj, size) = {
        let s = &k.sysv_shm.by_index[&index];
        let want = if flags & SHM_RDONLY != 0 { 4 } else { 6 } | u32::from(flags & SHM_EXEC != 0);
        ipc_permission(&p.creds, s, want)?;
        (s.obj, s.size)
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
    let name = VmaName::File(
        format!(
            "/SYSV{:08x} (deleted)",
            k.sysv_shm.by_index[&index].key as u32
        )
        .into_bytes(),
    );
    map_region(&mut *k.machine, p.space, &mut p.mm, start, end, prot, name)?;
    k.shm_attach(p.space, start, end, prot, obj, 0)?;
    let now = k.now_secs();
    let s = k.sysv_shm.by_index.get_mut(&index).expect("segment");
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
    let Some((index, size)) = k.sysv_shm.by_index.iter().find_map(|(&i, s)| {
        k.shm
            .attached_at(p.space, addr, s.obj)
            .then_some((i, s.size))
    }) else {
        return Err(Errno::EINVAL);
    };
    let obj = k.sysv_shm.by_index[&index].obj;
    let end = addr.saturating_add(page_up(size).ok_or(Errno::EINVAL)?);
    for (start, stop) in k.shm.pieces_of(p.space, addr, end, obj) {
        k.shm_unmap(p.space, start, stop);
        k.machine
            .unmap(p.space, start, stop - start)
            .map_err(|_| Errno::EINVAL)?;
        p.mm.remove(start, stop);
    }
    let now = k.now_secs();
    if let Some(s) = k.sysv_shm.by_index.get_mut(&index) {
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
            for v in [SHMMAX, 1, SHMMNI, SHMMNI, SHMALL, 0, 0, 0, 0] {
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
                .map(|s| page_up(s.size).unwrap_or(0) / PAGE_SIZE)
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
            let s = k.sysv_shm.by_index.get(&id).ok_or(Errno::EINVAL)?;
            if cmd == SHM_STAT {
                ipc_permission(&p.creds, s, 4)?;
            }
            let ds = k.shmid_ds(s);
            let sid = Segments::id_of(id, s);
            k.write_user(p, buf, &ds)?;
            return Ok(sid as u64);
        }
        _ => {}
    }
    let index = k.sysv_shm.index_of(id)?;
    match cmd {
        IPC_STAT => {
            let s = &k.sysv_shm.by_index[&index];
            ipc_permission(&p.creds, s, 4)?;
            let ds = k.shmid_ds(s);
            k.write_user(p, buf, &ds)?;
            Ok(0)
        }
        IPC_SET => {
            if !ipc_owner(&p.creds, &k.sysv_shm.by_index[&index]) {
                return Err(Errno::EPERM);
            }
            let ds = k.read_user(p, buf, 48)?;
            let word = |i: usize| u32::from_le_bytes(ds[i..i + 4].try_into().unwrap());
            let now = k.now_secs();
            let s = k.sysv_shm.by_index.get_mut(&index).expect("segment");
            s.uid = word(4);
            s.gid = word(8);
            s.mode = (s.mode & !0o777) | (word(20) & 0o777);
            s.ctime = now;
            Ok(0)
        }
        IPC_RMID => {
            if !ipc_owner(&p.creds, &k.sysv_shm.by_index[&index]) {
                return Err(Errno::EPERM);
            }
            let s = k.sysv_shm.by_index.get_mut(&index).expect("segment");
            s.mode |= SHM_DEST;
            // A removed segment's key is free for a new one at once.
            s.key = IPC_PRIVATE;
            let obj = s.obj;
            k.shm_release_segment_object(obj);
            k.shm_reap_segments();
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let s = &k.sysv_shm.by_index[&index];
            // Without CAP_IPC_LOCK, RLIMIT_MEMLOCK decides; its default (8 MiB) covers
            // a segment only the owner locks.
            if !p.creds.capable() && !ipc_owner(&p.creds, s) {
                return Err(Errno::EPERM);
            }
            let s = k.sysv_shm.by_index.get_mut(&index).expect("segment");
            if cmd == SHM_LOCK {
                s.mode |= SHM_LOCKED;
            } else {
                s.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
