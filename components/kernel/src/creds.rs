//! Credentials: a process's user and group ids (real, effective, saved and filesystem)
//! and supplementary groups, the rules by which the setuid family may change them, and the
//! discretionary access checks Linux makes with them (generic_permission, the sticky bit,
//! ownership for chmod/chown/utimes, protected hard links).
//!
//! Capabilities (capabilities(7)) are kept as Linux keeps them: effective, permitted,
//! inheritable, bounding and ambient sets and the securebits, changed by capset, prctl,
//! the setuid family (cap_task_fix_setuid: root's capabilities follow uid 0 unless
//! SECBIT_NO_SETUID_FIXUP or SECBIT_KEEP_CAPS says otherwise) and execve
//! (cap_bprm_creds_from_file, with no file capabilities: friscy's filesystems keep no
//! xattrs). Each check names the capability Linux checks. The container's root starts
//! with every capability but CAP_SYS_RESOURCE: the limits friscy enforces (--memory,
//! --ulimit) are the container's, which nothing inside may exceed, as under Docker.

use friscy_abi::Errno;
use friscy_abi::mode::{S_IFDIR, S_IFMT, S_IFREG};

/// inode_permission's mask bits.
pub const MAY_EXEC: u32 = 1;
pub const MAY_WRITE: u32 = 2;
pub const MAY_READ: u32 = 4;

pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;

/// "No id": what the set*id calls take for "leave unchanged", and an invalid id.
pub const NO_ID: u32 = u32::MAX;

/// Linux's NGROUPS_MAX.
pub const NGROUPS_MAX: usize = 65536;

/// Capability numbers (include/uapi/linux/capability.h).
pub mod cap {
    pub const CHOWN: u32 = 0;
    pub const DAC_OVERRIDE: u32 = 1;
    pub const DAC_READ_SEARCH: u32 = 2;
    pub const FOWNER: u32 = 3;
    pub const FSETID: u32 = 4;
    pub const KILL: u32 = 5;
    pub const SETGID: u32 = 6;
    pub const SETUID: u32 = 7;
    pub const SETPCAP: u32 = 8;
    pub const LINUX_IMMUTABLE: u32 = 9;
    pub const IPC_LOCK: u32 = 14;
    pub const IPC_OWNER: u32 = 15;
    pub const SYS_CHROOT: u32 = 18;
    pub const SYS_PTRACE: u32 = 19;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYS_NICE: u32 = 23;
    pub const SYS_RESOURCE: u32 = 24;
    pub const MKNOD: u32 = 27;
    pub const MAC_OVERRIDE: u32 = 32;
    /// CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE).
    pub const LAST: u32 = 40;
    /// CAP_VALID_MASK: every capability this kernel knows.
    pub const ALL: u64 = (1 << (LAST + 1)) - 1;

    pub const fn bit(cap: u32) -> u64 {
        1 << cap
    }

    /// CAP_FS_SET: what moves with the filesystem uid (cap_drop_fs_set, cap_raise_fs_set).
    pub const FS_SET: u64 = bit(CHOWN)
        | bit(MKNOD)
        | bit(DAC_OVERRIDE)
        | bit(DAC_READ_SEARCH)
        | bit(FOWNER)
        | bit(FSETID)
        | bit(MAC_OVERRIDE)
        | bit(LINUX_IMMUTABLE);

    /// The container's bounding set: all but CAP_SYS_RESOURCE (the module's comment).
    pub const CONTAINER: u64 = ALL & !bit(SYS_RESOURCE);
}

/// securebits (include/uapi/linux/securebits.h): each flag, and its lock one bit above.
pub mod secbit {
    pub const NOROOT: u32 = 1 << 0;
    pub const NO_SETUID_FIXUP: u32 = 1 << 2;
    pub const KEEP_CAPS: u32 = 1 << 4;
    pub const NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
    /// SECURE_ALL_BITS and SECURE_ALL_LOCKS.
    pub const ALL_BITS: u32 = NOROOT | NO_SETUID_FIXUP | KEEP_CAPS | NO_CAP_AMBIENT_RAISE;
    pub const ALL_LOCKS: u32 = ALL_BITS << 1;
}

/// A process's capability sets (each a mask of `1 << cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub eff: u64,
    pub prm: u64,
    pub inh: u64,
    pub bnd: u64,
    pub amb: u64,
}

impl Caps {
    /// Root's: everything the bounding set allows, effective and permitted.
    fn root() -> Caps {
        Caps {
            eff: cap::CONTAINER,
            prm: cap::CONTAINER,
            inh: 0,
            bnd: cap::CONTAINER,
            amb: 0,
        }
    }

    /// Another user's: none, under the same bounding set.
    fn none() -> Caps {
        Caps {
            eff: 0,
            prm: 0,
            ..Caps::root()
        }
    }
}

/// One kind of id (user or group): real, effective, saved set-id and filesystem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ids {
    pub real: u32,
    pub eff: u32,
    pub saved: u32,
    pub fs: u32,
}

impl Ids {
    pub fn all(id: u32) -> Ids {
        Ids {
            real: id,
            eff: id,
            saved: id,
            fs: id,
        }
    }

    fn is_current(&self, id: u32) -> bool {
        id == self.real || id == self.eff || id == self.saved
    }

    /// setuid(2)/setgid(2): with the capability all of real, effective and saved;
    /// without it only the effective id, and only to the real or saved one.
    pub fn set(&mut self, id: u32, capable: bool) -> Result<(), Errno> {
        if id == NO_ID {
            return Err(Errno::EINVAL);
        }
        if capable {
            self.real = id;
            self.saved = id;
        } else if id != self.real && id != self.saved {
            return Err(Errno::EPERM);
        }
        self.eff = id;
        self.fs = id;
        Ok(())
    }

    /// setreuid(2)/setregid(2) (kernel/sys.c): the real id may become the effective one,
    /// the effective id any of the three; the saved id follows the new effective id when
    /// the real id is set or the effective id moves away from the real one.
    pub fn set_re(&mut self, real: u32, eff: u32, capable: bool) -> Result<(), Errno> {
        let old = *self;
        let mut new = old;
        if real != NO_ID {
            if !capable && real != old.real && real != old.eff {
                return Err(Errno::EPERM);
            }
            new.real = real;
        }
        if eff != NO_ID {
            if !capable && !old.is_current(eff) {
                return Err(Errno::EPERM);
            }
            new.eff = eff;
        }
        if real != NO_ID || (eff != NO_ID && eff != old.real) {
            new.saved = new.eff;
        }
        new.fs = new.eff;
        *self = new;
        Ok(())
    }

    /// setresuid(2)/setresgid(2): without the capability each id given must be one of the
    /// current real, effective and saved ids.
    pub fn set_res(&mut self, real: u32, eff: u32, saved: u32, capable: bool) -> Result<(), Errno> {
        if !capable
            && [real, eff, saved]
                .iter()
                .any(|&id| id != NO_ID && !self.is_current(id))
        {
            return Err(Errno::EPERM);
        }
        if real != NO_ID {
            self.real = real;
        }
        if eff != NO_ID {
            self.eff = eff;
        }
        if saved != NO_ID {
            self.saved = saved;
        }
        self.fs = self.eff;
        Ok(())
    }

    /// setfsuid(2)/setfsgid(2): returns the previous filesystem id whether or not it
    /// changed; it changes with the capability or to one of real, effective, saved or the
    /// current filesystem id.
    pub fn set_fs(&mut self, id: u32, capable: bool) -> u32 {
        let old = self.fs;
        if id != NO_ID && (capable || self.is_current(id) || id == self.fs) {
            self.fs = id;
        }
        old
    }
}

/// A process's credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub uid: Ids,
    pub gid: Ids,
    /// Supplementary groups, sorted (setgroups(2) keeps them so; getgroups returns them).
    pub groups: Vec<u32>,
    pub caps: Caps,
    /// prctl(PR_SET_SECUREBITS); SECBIT_KEEP_CAPS is also PR_SET_KEEPCAPS, and execve
    /// clears it.
    pub securebits: u32,
    /// prctl(PR_SET_NO_NEW_PRIVS): execve no longer honours set-user-ID and set-group-ID.
    /// Inherited, and never cleared.
    pub no_new_privs: bool,
}

/// The owner and mode of an inode, as the checks need them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Default for Creds {
    fn default() -> Creds {
        Creds::root()
    }
}

impl Creds {
    /// Root with no supplementary groups: what process 1 runs as by default.
    pub fn root() -> Creds {
        Creds::new(0, 0, Vec::new())
    }

    /// A container's first process as `uid`: root's capabilities for uid 0, none for
    /// anyone else (as if root had called setuid).
    pub fn new(uid: u32, gid: u32, mut groups: Vec<u32>) -> Creds {
        groups.sort_unstable();
        groups.dedup();
        Creds {
            uid: Ids::all(uid),
            gid: Ids::all(gid),
            groups,
            caps: if uid == 0 { Caps::root() } else { Caps::none() },
            securebits: 0,
            no_new_privs: false,
        }
    }

    /// capable(): whether `cap` is in the effective set.
    pub fn capable(&self, cap: u32) -> bool {
        self.caps.eff & cap::bit(cap) != 0
    }

    /// Search and read of any directory, read of any file (CAP_DAC_READ_SEARCH or
    /// CAP_DAC_OVERRIDE): whether path walks may skip the per-directory checks.
    pub fn may_search_all(&self) -> bool {
        self.capable(cap::DAC_READ_SEARCH) || self.capable(cap::DAC_OVERRIDE)
    }

    pub fn keep_caps(&self) -> bool {
        self.securebits & secbit::KEEP_CAPS != 0
    }

    /// A change of the user ids by the setuid family: `change` gets the ids and whether
    /// the caller has CAP_SETUID, then the capability sets follow (cap_emulate_setxuid):
    /// leaving uid 0 in all of real, effective and saved clears permitted and effective
    /// (unless SECBIT_KEEP_CAPS) and ambient; an effective uid leaving 0 clears the
    /// effective set, one becoming 0 gets the permitted set.
    pub fn set_uids(
        &mut self,
        change: impl FnOnce(&mut Ids, bool) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let old = self.uid;
        let capable = self.capable(cap::SETUID);
        change(&mut self.uid, capable)?;
        if self.securebits & secbit::NO_SETUID_FIXUP != 0 {
            return Ok(());
        }
        let any_root = |i: &Ids| i.real == 0 || i.eff == 0 || i.saved == 0;
        let c = &mut self.caps;
        if any_root(&old) && !any_root(&self.uid) {
            if self.securebits & secbit::KEEP_CAPS == 0 {
                c.prm = 0;
                c.eff = 0;
            }
            c.amb = 0;
        }
        if old.eff == 0 && self.uid.eff != 0 {
            c.eff = 0;
        }
        if old.eff != 0 && self.uid.eff == 0 {
            c.eff = c.prm;
        }
        Ok(())
    }

    /// setfsuid(2): the previous filesystem uid. The filesystem capabilities leave the
    /// effective set with fsuid 0 and come back from the permitted set with it.
    pub fn set_fsuid(&mut self, id: u32) -> u32 {
        let cap = self.capable(cap::SETUID);
        let old = self.uid.set_fs(id, cap);
        if self.securebits & secbit::NO_SETUID_FIXUP == 0 {
            let c = &mut self.caps;
            if old == 0 && self.uid.fs != 0 {
                c.eff &= !cap::FS_SET;
            }
            if old != 0 && self.uid.fs == 0 {
                c.eff |= c.prm & cap::FS_SET;
            }
        }
        old
    }

    /// capset(2)'s rules (cap_capset): the inheritable set may only grow within
    /// inheritable | permitted (without CAP_SETPCAP) and inheritable | bounding, the
    /// permitted set only shrink, the effective set stay within the permitted one. The
    /// ambient set keeps what is still both permitted and inheritable.
    pub fn capset(&mut self, eff: u64, prm: u64, inh: u64) -> Result<(), Errno> {
        let (eff, prm, inh) = (eff & cap::ALL, prm & cap::ALL, inh & cap::ALL);
        let old = self.caps;
        let within = |set: u64, of: u64| set & !of == 0;
        if (!self.capable(cap::SETPCAP) && !within(inh, old.inh | old.prm))
            || !within(inh, old.inh | old.bnd)
            || !within(prm, old.prm)
            || !within(eff, prm)
        {
            return Err(Errno::EPERM);
        }
        self.caps = Caps {
            eff,
            prm,
            inh,
            amb: old.amb & prm & inh,
            ..old
        };
        Ok(())
    }

    /// in_group_p: the filesystem group or a supplementary one.
    pub fn in_group(&self, gid: u32) -> bool {
        gid == self.gid.fs || self.groups.binary_search(&gid).is_ok()
    }

    /// The credentials access(2) and faccessat(2) check with: the real ids in place of the
    /// filesystem ones (access_override_creds), so a set-user-ID program can ask what its
    /// caller may do. A real uid of 0 keeps root's override.
    pub fn for_access(&self) -> Creds {
        let mut c = self.clone();
        c.uid.fs = c.uid.real;
        c.gid.fs = c.gid.real;
        if c.securebits & secbit::NO_SETUID_FIXUP == 0 {
            c.caps.eff = if c.uid.real == 0 { c.caps.prm } else { 0 };
        }
        c
    }

    /// generic_permission(): the owner, group or other bits by who is asking, then the
    /// capability overrides. Directories: root may read and search any, and write any;
    /// other files: root may read and write any, execute those with some execute bit.
    pub fn permission(&self, o: Owner, mask: u32) -> Result<(), Errno> {
        let mask = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
        let bits = if self.uid.fs == o.uid {
            o.mode >> 6
        } else if self.in_group(o.gid) {
            o.mode >> 3
        } else {
            o.mode
        } & 7;
        if mask & !bits == 0 {
            return Ok(());
        }
        let dir = o.mode & S_IFMT == S_IFDIR;
        if dir {
            // Reading and searching a directory: CAP_DAC_READ_SEARCH; anything:
            // CAP_DAC_OVERRIDE.
            if (mask & MAY_WRITE == 0 && self.capable(cap::DAC_READ_SEARCH))
                || self.capable(cap::DAC_OVERRIDE)
            {
                return Ok(());
            }
        } else {
            // Files: CAP_DAC_OVERRIDE, but execution only with some execute bit;
            // reading alone also CAP_DAC_READ_SEARCH.
            if self.capable(cap::DAC_OVERRIDE) && (mask & MAY_EXEC == 0 || o.mode & 0o111 != 0) {
                return Ok(());
            }
            if mask == MAY_READ && self.capable(cap::DAC_READ_SEARCH) {
                return Ok(());
            }
        }
        Err(Errno::EACCES)
    }

    /// inode_owner_or_capable(): chmod, utimes with explicit times, the sticky bit.
    pub fn owns(&self, o: Owner) -> bool {
        self.uid.fs == o.uid || self.capable(cap::FOWNER)
    }

    /// may_delete()'s sticky-directory rule (check_sticky): in a sticky directory only
    /// the file's owner, the directory's owner or root may remove or rename an entry.
    pub fn sticky_allows(&self, dir: Owner, victim: Owner) -> bool {
        dir.mode & S_ISVTX == 0
            || self.uid.fs == victim.uid
            || self.uid.fs == dir.uid
            || self.capable(cap::FOWNER)
    }

    /// chown_ok()/chgrp_ok(): root may give anything to anyone; the owner may only set the
    /// owner it already has and a group it is in.
    pub fn may_chown(&self, o: Owner, uid: Option<u32>, gid: Option<u32>) -> bool {
        if self.capable(cap::CHOWN) {
            return true;
        }
        let uid_ok = uid.is_none_or(|u| u == o.uid && self.uid.fs == o.uid);
        let gid_ok = gid.is_none_or(|g| self.uid.fs == o.uid && (g == o.gid || self.in_group(g)));
        uid_ok && gid_ok
    }

    /// The mode chmod(2) stores: set-group-ID is dropped when the caller is neither in the
    /// file's group nor root (inode_init_owner / setattr_copy).
    pub fn chmod_mode(&self, o: Owner, mode: u32) -> u32 {
        if mode & S_ISGID != 0 && !self.in_group(o.gid) && !self.capable(cap::FSETID) {
            mode & !S_ISGID
        } else {
            mode
        }
    }

    /// may_linkat() with fs.protected_hardlinks = 1 (Debian's and most distributions'
    /// default): linking a file one does not own needs a regular file that is neither
    /// set-user-ID nor executable set-group-ID, and read and write permission on it.
    pub fn may_link(&self, o: Owner) -> bool {
        if self.uid.fs == o.uid || self.capable(cap::FOWNER) {
            return true;
        }
        let safe = o.mode & S_IFMT == S_IFREG
            && o.mode & S_ISUID == 0
            && o.mode & (S_ISGID | 0o010) != (S_ISGID | 0o010);
        safe && self.permission(o, MAY_READ | MAY_WRITE).is_ok()
    }

    /// The owner and mode of a new node in directory `dir` (inode_init_owner): the
    /// filesystem uid, and the directory's group if it is set-group-ID (a new directory
    /// then inherits the bit), else the filesystem gid. A set-group-ID bit asked for on a
    /// file in a group the creator is not in is dropped.
    pub fn new_owner(&self, dir: Owner, mode: u32) -> Owner {
        let mut mode = mode;
        let gid = if dir.mode & S_ISGID != 0 {
            if mode & S_IFMT == S_IFDIR {
                mode |= S_ISGID;
            }
            dir.gid
        } else {
            self.gid.fs
        };
        if mode & S_IFMT != S_IFDIR
            && mode & (S_ISGID | 0o010) == (S_ISGID | 0o010)
            && !self.in_group(gid)
            && !self.capable(cap::FSETID)
        {
            mode &= !S_ISGID;
        }
        Owner {
            mode,
            uid: self.uid.fs,
            gid,
        }
    }

    /// execve(2) of a set-user-ID or set-group-ID (with group execute) file: the effective
    /// ids become the file's; the saved and filesystem ids follow the effective ones
    /// whatever the file (bprm_fill_uid, commit_creds). Capabilities as
    /// cap_bprm_creds_from_file computes them for a file without file capabilities: a
    /// new effective or real uid 0 (without SECBIT_NOROOT) permits bounding |
    /// inheritable, made effective with an effective uid 0; anyone else keeps only the
    /// ambient set, which a set-id execution clears.
    pub fn exec(&mut self, file: Owner) {
        let old_real = (self.uid.real, self.gid.real);
        if file.mode & S_ISUID != 0 && !self.no_new_privs {
            self.uid.eff = file.uid;
        }
        if file.mode & (S_ISGID | 0o010) == (S_ISGID | 0o010) && !self.no_new_privs {
            self.gid.eff = file.gid;
        }
        self.uid.saved = self.uid.eff;
        self.uid.fs = self.uid.eff;
        self.gid.saved = self.gid.eff;
        self.gid.fs = self.gid.eff;
        let c = &mut self.caps;
        let mut prm = 0;
        let mut effective = false;
        if self.securebits & secbit::NOROOT == 0 {
            if self.uid.eff == 0 || self.uid.real == 0 {
                prm = c.bnd | c.inh;
            }
            effective = self.uid.eff == 0;
        }
        if (self.uid.eff, self.gid.eff) != old_real {
            c.amb = 0;
        }
        c.prm = prm | c.amb;
        c.eff = if effective { c.prm } else { c.amb };
        self.securebits &= !secbit::KEEP_CAPS;
    }

    /// kill(2)'s check_kill_permission(): root, or the sender's real or effective uid is
    /// the target's real or saved uid.
    pub fn may_signal(&self, target: &Creds) -> bool {
        self.capable(cap::KILL)
            || [self.uid.real, self.uid.eff]
                .iter()
                .any(|&u| u == target.uid.real || u == target.uid.saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(mode: u32, uid: u32, gid: u32) -> Owner {
        Owner { mode, uid, gid }
    }

    #[test]
    fn permission_picks_one_class_of_bits() {
        let user = Creds::new(1000, 1000, vec![50]);
        let f = |mode| owner(S_IFREG | mode, 1000, 1000);
        assert!(user.permission(f(0o600), MAY_READ | MAY_WRITE).is_ok());
        // The owner class decides even when group or other would allow more.
        assert_eq!(user.permission(f(0o077), MAY_READ), Err(Errno::EACCES));
        let g = owner(S_IFREG | 0o640, 0, 50);
        assert!(user.permission(g, MAY_READ).is_ok());
        assert_eq!(user.permission(g, MAY_WRITE), Err(Errno::EACCES));
        let other = owner(S_IFREG | 0o604, 0, 0);
        assert!(user.permission(other, MAY_READ).is_ok());
        assert_eq!(user.permission(other, MAY_EXEC), Err(Errno::EACCES));
    }

    #[test]
    fn root_overrides_all_but_execute_without_an_x_bit() {
        let root = Creds::root();
        assert!(
            root.permission(owner(S_IFREG, 5, 5), MAY_READ | MAY_WRITE)
                .is_ok()
        );
        assert_eq!(
            root.permission(owner(S_IFREG | 0o644, 5, 5), MAY_EXEC),
            Err(Errno::EACCES)
        );
        assert!(
            root.permission(owner(S_IFREG | 0o100, 5, 5), MAY_EXEC)
                .is_ok()
        );
        assert!(
            root.permission(owner(S_IFDIR, 5, 5), MAY_EXEC | MAY_WRITE)
                .is_ok()
        );
    }

    #[test]
    fn unprivileged_setuid_moves_only_the_effective_id() {
        // A set-user-ID root program run by 1000: real 1000, effective and saved 0.
        let mut ids = Ids {
            real: 1000,
            eff: 0,
            saved: 0,
            fs: 0,
        };
        // Privileged: all three.
        let mut all = ids;
        all.set(5, true).unwrap();
        assert_eq!(all, Ids::all(5));
        // seteuid-style dance without the capability.
        ids.set_res(NO_ID, 1000, NO_ID, false).unwrap();
        assert_eq!((ids.eff, ids.saved, ids.fs), (1000, 0, 1000));
        ids.set(0, false).unwrap(); // back to the saved id
        assert_eq!((ids.real, ids.eff, ids.saved), (1000, 0, 0));
        let mut dropped = Ids::all(1000);
        assert_eq!(dropped.set(0, false), Err(Errno::EPERM));
        assert_eq!(dropped.set(NO_ID, true), Err(Errno::EINVAL));
    }

    #[test]
    fn setreuid_updates_the_saved_id_as_linux_does() {
        let mut ids = Ids::all(0);
        ids.set_re(NO_ID, 1000, true).unwrap();
        // The effective id moved away from the real one: saved follows it.
        assert_eq!((ids.real, ids.eff, ids.saved), (0, 1000, 1000));
        let mut ids = Ids {
            real: 1,
            eff: 2,
            saved: 3,
            fs: 2,
        };
        assert_eq!(ids.set_re(3, NO_ID, false), Err(Errno::EPERM));
        ids.set_re(2, 1, false).unwrap(); // swap real and effective
        assert_eq!((ids.real, ids.eff, ids.saved, ids.fs), (2, 1, 1, 1));
    }

    #[test]
    fn setfsuid_returns_the_old_id_always() {
        let mut ids = Ids::all(1000);
        assert_eq!(ids.set_fs(0, false), 1000);
        assert_eq!(ids.fs, 1000);
        assert_eq!(ids.set_fs(NO_ID, false), 1000);
        let mut root = Ids::all(0);
        assert_eq!(root.set_fs(7, true), 0);
        assert_eq!(root.fs, 7);
    }

    #[test]
    fn sticky_directories_protect_other_users_entries() {
        let tmp = owner(S_IFDIR | 0o1777, 0, 0);
        let user = Creds::new(1000, 1000, vec![]);
        assert!(!user.sticky_allows(tmp, owner(S_IFREG | 0o666, 1001, 1001)));
        assert!(user.sticky_allows(tmp, owner(S_IFREG | 0o600, 1000, 1000)));
        assert!(Creds::root().sticky_allows(tmp, owner(S_IFREG, 1001, 1001)));
    }

    #[test]
    fn chown_rules() {
        let user = Creds::new(1000, 1000, vec![50]);
        let mine = owner(S_IFREG | 0o644, 1000, 1000);
        assert!(user.may_chown(mine, Some(1000), Some(50)));
        assert!(!user.may_chown(mine, Some(0), None));
        assert!(!user.may_chown(mine, None, Some(60)));
        assert!(!user.may_chown(owner(S_IFREG, 0, 0), None, Some(1000)));
        assert!(Creds::root().may_chown(mine, Some(5), Some(5)));
    }

    #[test]
    fn new_nodes_take_the_fs_ids_or_a_setgid_directorys_group() {
        let user = Creds::new(1000, 1000, vec![]);
        let plain = owner(S_IFDIR | 0o777, 0, 0);
        assert_eq!(
            user.new_owner(plain, S_IFREG | 0o644),
            owner(S_IFREG | 0o644, 1000, 1000)
        );
        let shared = owner(S_IFDIR | 0o2777, 0, 50);
        assert_eq!(
            user.new_owner(shared, S_IFDIR | 0o755),
            owner(S_IFDIR | 0o2755, 1000, 50)
        );
        // Set-group-ID on a file of a group the creator is not in is dropped.
        assert_eq!(
            user.new_owner(shared, S_IFREG | 0o2775).mode,
            S_IFREG | 0o775
        );
    }

    #[test]
    fn exec_of_setuid_files_changes_the_effective_ids() {
        let mut c = Creds::new(1000, 1000, vec![]);
        c.exec(owner(S_IFREG | 0o4755, 0, 0));
        assert_eq!((c.uid.real, c.uid.eff, c.uid.saved), (1000, 0, 0));
        assert_eq!(c.gid.eff, 1000);
        // Set-group-ID without group execute is mandatory locking, not set-group-ID.
        let mut c = Creds::new(1000, 1000, vec![]);
        c.exec(owner(S_IFREG | 0o2745, 0, 42));
        assert_eq!(c.gid.eff, 1000);
        c.exec(owner(S_IFREG | 0o2755, 0, 42));
        assert_eq!((c.gid.real, c.gid.eff, c.gid.saved), (1000, 42, 42));
        // No new privileges: the bits are ignored.
        let mut c = Creds::new(1000, 1000, vec![]);
        c.no_new_privs = true;
        c.exec(owner(S_IFREG | 0o6755, 0, 0));
        assert_eq!((c.uid.eff, c.gid.eff), (1000, 1000));
    }

    #[test]
    fn protected_hardlinks() {
        let user = Creds::new(1000, 1000, vec![]);
        assert!(!user.may_link(owner(S_IFREG | 0o644, 0, 0)));
        assert!(user.may_link(owner(S_IFREG | 0o666, 0, 0)));
        assert!(!user.may_link(owner(S_IFREG | 0o4777, 0, 0)));
        assert!(user.may_link(owner(S_IFREG | 0o600, 1000, 1000)));
    }
}
