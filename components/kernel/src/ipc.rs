//! What the three System V IPC families share (ipc/util.c): keys and ids, the ipc64_perm
//! permission record and its checks, and the get-or-create rule of shmget, semget and
//! msgget. The families themselves are syscalls/sysv_shm.rs, sysv_sem.rs and sysv_msg.rs.

use std::collections::BTreeMap;

use friscy_abi::Errno;

use crate::creds::{Creds, cap};

pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: u64 = 0o1000;
pub const IPC_EXCL: u64 = 0o2000;
pub const IPC_NOWAIT: u64 = 0o4000;

pub const IPC_RMID: u64 = 0;
pub const IPC_SET: u64 = 1;
pub const IPC_STAT: u64 = 2;
pub const IPC_INFO: u64 = 3;
/// glibc adds IPC_64 to ctl commands on some architectures; it means the 64-bit layouts.
pub const IPC_64: u64 = 0x100;

/// Ids are `seq * IPCMNI + index`, as Linux numbers them.
const IPCMNI: i32 = 32768;
/// How many objects of one family may exist (SHMMNI, SEMMNI, MSGMNI).
pub const IPC_MNI: i32 = 32000;

/// struct ipc64_perm (asm-generic): 48 bytes.
pub const PERM_SIZE: usize = 48;

/// One object's key, owner and mode.
#[derive(Clone, Debug)]
pub struct IpcPerm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// Permission bits, and family flags above them (SHM_DEST...).
    pub mode: u32,
    pub seq: u16,
}

impl IpcPerm {
    /// A new object's record: its creator owns it, with the mode bits of the get call.
    pub fn new(key: i32, c: &Creds, flags: u64) -> IpcPerm {
        IpcPerm {
            key,
            uid: c.uid.eff,
            gid: c.gid.eff,
            cuid: c.uid.eff,
            cgid: c.gid.eff,
            mode: flags as u32 & 0o777,
            seq: 0,
        }
    }

    /// ipcperms(): `want` (4 read, 2 write) against the owner's or creator's bits, the
    /// group's, or the others', then CAP_IPC_OWNER (euid 0).
    pub fn check(&self, c: &Creds, want: u32) -> Result<(), Errno> {
        let bits = if c.uid.eff == self.uid || c.uid.eff == self.cuid {
            self.mode >> 6
        } else if c.gid.eff == self.gid
            || c.gid.eff == self.cgid
            || c.groups.binary_search(&self.gid).is_ok()
            || c.groups.binary_search(&self.cgid).is_ok()
        {
            self.mode >> 3
        } else {
            self.mode
        } & 7;
        if want & !bits & 7 == 0 || c.capable(cap::IPC_OWNER) {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// Whether the caller may change or remove the object (IPC_SET, IPC_RMID): its owner,
    /// creator or root.
    pub fn owned_by(&self, c: &Creds) -> bool {
        c.uid.eff == self.uid || c.uid.eff == self.cuid || c.capable(cap::SYS_ADMIN)
    }

    /// struct ipc64_perm.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(PERM_SIZE);
        for v in [
            self.key as u32,
            self.uid,
            self.gid,
            self.cuid,
            self.cgid,
            self.mode,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.seq.to_le_bytes());
        b.resize(PERM_SIZE, 0);
        b
    }

    /// IPC_SET: uid, gid and the permission bits from a struct ipc64_perm.
    pub fn set_from(&mut self, perm: &[u8]) {
        let word = |i: usize| u32::from_le_bytes(perm[i..i + 4].try_into().unwrap());
        self.uid = word(4);
        self.gid = word(8);
        self.mode = (self.mode & !0o777) | (word(20) & 0o777);
    }
}

/// The objects of one family, by index (the low part of their ids).
#[derive(Debug)]
pub struct IpcTable<T> {
    pub by_index: BTreeMap<i32, (IpcPerm, T)>,
    seq: u16,
}

impl<T> Default for IpcTable<T> {
    fn default() -> Self {
        IpcTable {
            by_index: BTreeMap::new(),
            seq: 0,
        }
    }
}

/// What a get call found: an existing object's index, or that one must be made.
pub enum Got {
    Existing(i32),
    Create,
}

impl<T> IpcTable<T> {
    pub fn id_of(index: i32, perm: &IpcPerm) -> i32 {
        perm.seq as i32 * IPCMNI + index
    }

    /// The index an id names (EINVAL for none, or a stale id of a reused index).
    pub fn index_of(&self, id: i32) -> Result<i32, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        let index = id % IPCMNI;
        match self.by_index.get(&index) {
            Some((perm, _)) if perm.seq as i32 == id / IPCMNI => Ok(index),
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn get(&self, id: i32) -> Result<&(IpcPerm, T), Errno> {
        Ok(&self.by_index[&self.index_of(id)?])
    }

    pub fn get_mut(&mut self, id: i32) -> Result<&mut (IpcPerm, T), Errno> {
        let i = self.index_of(id)?;
        Ok(self.by_index.get_mut(&i).expect("index"))
    }

    /// ipcget(): IPC_PRIVATE always makes a new object; a key finds the object that has
    /// it (EEXIST with IPC_CREAT|IPC_EXCL, EACCES unless the mode bits asked for are
    /// granted), or ENOENT without IPC_CREAT. (A removed shared memory segment that lives
    /// on while attached has given its key up: IPC_PRIVATE.)
    pub fn lookup(&self, key: i32, flags: u64, c: &Creds) -> Result<Got, Errno> {
        if key == IPC_PRIVATE {
            return Ok(Got::Create);
        }
        match self.by_index.iter().find(|(_, (p, _))| p.key == key) {
            Some((&i, (perm, _))) => {
                if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let f = flags as u32;
                perm.check(c, ((f >> 6) | (f >> 3) | f) & 7)?;
                Ok(Got::Existing(i))
            }
            None if flags & IPC_CREAT == 0 => Err(Errno::ENOENT),
            None => Ok(Got::Create),
        }
    }

    /// Add an object; its id. ENOSPC when the family is full.
    pub fn insert(&mut self, mut perm: IpcPerm, obj: T) -> Result<i32, Errno> {
        let index = (0..IPC_MNI)
            .find(|i| !self.by_index.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        self.seq = self.seq.wrapping_add(1) % (i32::MAX / IPCMNI) as u16;
        perm.seq = self.seq;
        let id = Self::id_of(index, &perm);
        self.by_index.insert(index, (perm, obj));
        Ok(id)
    }

    /// What IPC_INFO and the family's *_INFO return: the highest index in use (ipcs walks
    /// up to it).
    pub fn highest_index(&self) -> u64 {
        self.by_index.keys().next_back().map_or(0, |&i| i as u64)
    }
}

impl crate::Kernel {
    /// The wall-clock seconds the families record (their otime, ctime, stime...).
    pub(crate) fn now_secs(&self) -> i64 {
        self.host.wall_clock().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keys_and_permissions() {
        let root = Creds::root();
        let user = Creds::new(1000, 1000, vec![]);
        let mut t: IpcTable<()> = IpcTable::default();
        assert!(matches!(t.lookup(42, 0, &root), Err(Errno::ENOENT)));
        assert!(matches!(t.lookup(42, IPC_CREAT, &root), Ok(Got::Create)));
        let id = t.insert(IpcPerm::new(42, &root, 0o640), ()).unwrap();
        assert!(matches!(t.lookup(42, 0, &root), Ok(Got::Existing(0))));
        assert!(matches!(
            t.lookup(42, IPC_CREAT | IPC_EXCL, &root),
            Err(Errno::EEXIST)
        ));
        assert!(matches!(t.lookup(42, 0o600, &user), Err(Errno::EACCES)));
        assert!(matches!(t.lookup(42, 0, &user), Ok(Got::Existing(0))));
        assert_eq!(t.index_of(id), Ok(0));
        t.by_index.clear();
        let id2 = t.insert(IpcPerm::new(42, &root, 0o600), ()).unwrap();
        assert_ne!(id, id2);
        assert_eq!(t.index_of(id), Err(Errno::EINVAL));
        let p = &t.get(id2).unwrap().0;
        assert_eq!(p.check(&user, 4), Err(Errno::EACCES));
        assert!(!p.owned_by(&user) && p.owned_by(&root));
        assert_eq!(p.bytes().len(), PERM_SIZE);
    }
}
