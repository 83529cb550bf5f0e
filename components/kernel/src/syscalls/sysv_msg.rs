//! System V message queues: msgget, msgsnd, msgrcv, msgctl (ipc/msg.c).
//!
//! A queue holds typed messages up to `msg_qbytes` bytes (and as many messages). msgsnd
//! on a full queue and msgrcv finding no message of the type asked for park having done
//! nothing (nothing read from or written to guest memory counts until the call
//! completes), and are tried again after other threads make progress; like Linux they
//! are never restarted after a signal handler (EINTR), and a queue removed under a
//! waiter gives it EIDRM. Keys, ids and permissions are ipc.rs's.

use std::collections::VecDeque;

use friscy_abi::Errno;

use super::{Args, SysResult};
use crate::ipc::{
    Got, IPC_64, IPC_INFO, IPC_MNI, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, IpcPerm, IpcTable,
    PERM_SIZE,
};
use crate::process::{Pid, Wake};
use crate::{Kernel, Process};

const MSG_STAT: u64 = 11;
const MSG_INFO: u64 = 12;
const MSG_STAT_ANY: u64 = 13;

const MSG_NOERROR: u64 = 0o10000;
const MSG_EXCEPT: u64 = 0o20000;
const MSG_COPY: u64 = 0o40000;

/// Linux's defaults: the largest message, a queue's bytes.
const MSGMAX: usize = 8192;
const MSGMNB: u64 = 16384;

/// struct msqid64_ds (asm-generic, 64-bit): 120 bytes; msg_qbytes at 88.
const MSQID_DS_SIZE: usize = 120;
const QBYTES_AT: usize = 88;

#[derive(Debug)]
pub struct Queue {
    msgs: VecDeque<(i64, Vec<u8>)>,
    bytes: u64,
    qbytes: u64,
    lspid: Pid,
    lrpid: Pid,
    stime: i64,
    rtime: i64,
    ctime: i64,
}

pub type Queues = IpcTable<Queue>;

fn msqid_ds(perm: &IpcPerm, q: &Queue) -> Vec<u8> {
    let mut b = perm.bytes();
    for v in [q.stime, q.rtime, q.ctime] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [q.bytes, q.msgs.len() as u64, q.qbytes] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&q.lspid.to_le_bytes());
    b.extend_from_slice(&q.lrpid.to_le_bytes());
    b.resize(MSQID_DS_SIZE, 0);
    b
}

/// The message msgrcv takes for `msgtyp` (0: the first; > 0: the first of that type, or
/// not of it with MSG_EXCEPT; < 0: the first of the lowest type up to |msgtyp|).
fn pick(msgs: &VecDeque<(i64, Vec<u8>)>, msgtyp: i64, except: bool) -> Option<usize> {
    if msgtyp == 0 {
        return (!msgs.is_empty()).then_some(0);
    }
    if msgtyp > 0 {
        return msgs.iter().position(|(t, _)| (*t == msgtyp) != except);
    }
    let limit = msgtyp.unsigned_abs();
    msgs.iter()
        .enumerate()
        .filter(|(_, (t, _))| (*t as u64) <= limit)
        .min_by_key(|(i, (t, _))| (*t, *i))
        .map(|(i, _)| i)
}

/// Park a msgsnd or msgrcv that cannot go on: never restarted after a handler.
fn wait(k: &mut Kernel, p: &mut Process) -> SysResult {
    k.deadline_in(p, None);
    k.park(p, Wake::Event, None, false)
}

/// The queue an id names; EIDRM for one that went while the caller waited on it.
fn queue_index(k: &Kernel, p: &Process, id: i32) -> Result<i32, Errno> {
    k.sysv_msg.index_of(id).map_err(|e| {
        if p.thread().restart.is_some() {
            Errno::EIDRM
        } else {
            e
        }
    })
}

pub fn sys_msgget(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (key, flags) = (a[0] as i32, a[1]);
    if let Got::Existing(i) = k.sysv_msg.lookup(key, flags, &p.creds)? {
        return Ok(Queues::id_of(i, &k.sysv_msg.by_index[&i].0) as u64);
    }
    let q = Queue {
        msgs: VecDeque::new(),
        bytes: 0,
        qbytes: MSGMNB,
        lspid: 0,
        lrpid: 0,
        stime: 0,
        rtime: 0,
        ctime: k.now_secs(),
    };
    let id = k.sysv_msg.insert(IpcPerm::new(key, &p.creds, flags), q)?;
    Ok(id as u64)
}

pub fn sys_msgsnd(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, msgp, size, flags) = (a[0] as i32, a[1], a[2] as i64, a[3]);
    if size < 0 || size as usize > MSGMAX {
        return Err(Errno::EINVAL);
    }
    // Linux reads the message (EFAULT, EINVAL for a type below 1) before it looks the
    // queue up.
    let mtype = k.read_u64(p, msgp)? as i64;
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let text = k.read_user(p, msgp + 8, size as usize)?;
    let index = queue_index(k, p, id)?;
    let (perm, q) = &k.sysv_msg.by_index[&index];
    perm.check(&p.creds, 2)?;
    let fits = q.bytes + size as u64 <= q.qbytes && (q.msgs.len() as u64) < q.qbytes;
    if !fits {
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::EAGAIN);
        }
        return wait(k, p);
    }
    let now = k.now_secs();
    let (_, q) = k.sysv_msg.by_index.get_mut(&index).expect("queue");
    q.bytes += size as u64;
    q.msgs.push_back((mtype, text));
    q.lspid = p.pid;
    q.stime = now;
    Ok(0)
}

pub fn sys_msgrcv(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, msgp, size, msgtyp, flags) = (a[0] as i32, a[1], a[2] as i64, a[3] as i64, a[4]);
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 {
        // Checkpoint/restore's peek by position: a kernel built without
        // CONFIG_CHECKPOINT_RESTORE says ENOSYS too.
        if k.trace {
            k.report("msgrcv: MSG_COPY is not supported (ENOSYS)");
        }
        return Err(Errno::ENOSYS);
    }
    let index = queue_index(k, p, id)?;
    let (perm, q) = &k.sysv_msg.by_index[&index];
    perm.check(&p.creds, 4)?;
    let Some(at) = pick(&q.msgs, msgtyp, flags & MSG_EXCEPT != 0) else {
        if flags & IPC_NOWAIT != 0 {
            return Err(Errno::ENOMSG);
        }
        return wait(k, p);
    };
    let (mtype, text) = &q.msgs[at];
    let n = text.len().min(size as usize);
    if text.len() > size as usize && flags & MSG_NOERROR == 0 {
        // The message stays queued.
        return Err(Errno::E2BIG);
    }
    let mut out = (*mtype as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text[..n]);
    // Copied out before the message leaves the queue: a fault loses nothing.
    k.write_user(p, msgp, &out)?;
    let now = k.now_secs();
    let (_, q) = k.sysv_msg.by_index.get_mut(&index).expect("queue");
    let (_, text) = q.msgs.remove(at).expect("message");
    q.bytes -= text.len() as u64;
    q.lrpid = p.pid;
    q.rtime = now;
    Ok(n as u64)
}

pub fn sys_msgctl(k: &mut Kernel, p: &mut Process, a: Args) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] & !IPC_64, a[2]);
    match cmd {
        IPC_INFO | MSG_INFO => {
            // struct msginfo: msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql
            // (ints), msgseg (unsigned short). MSG_INFO reports use in msgpool (queues),
            // msgmap (messages) and msgtql (bytes).
            let queues = &k.sysv_msg.by_index;
            let (pool, map, tql) = if cmd == MSG_INFO {
                let msgs: usize = queues.values().map(|(_, q)| q.msgs.len()).sum();
                let bytes: u64 = queues.values().map(|(_, q)| q.bytes).sum();
                (queues.len() as i32, msgs as i32, bytes as i32)
            } else {
                let mnb = MSGMNB as i32;
                (IPC_MNI / 1024 * mnb, mnb, mnb)
            };
            let info = [pool, map, MSGMAX as i32, MSGMNB as i32, IPC_MNI, 16, tql];
            let mut b: Vec<u8> = info.iter().flat_map(|v| v.to_le_bytes()).collect();
            b.extend_from_slice(&0xffffu16.to_le_bytes());
            b.resize(32, 0);
            k.write_user(p, buf, &b)?;
            return Ok(k.sysv_msg.highest_index());
        }
        MSG_STAT | MSG_STAT_ANY => {
            let (perm, q) = k.sysv_msg.by_index.get(&id).ok_or(Errno::EINVAL)?;
            if cmd == MSG_STAT {
                perm.check(&p.creds, 4)?;
            }
            let ds = msqid_ds(perm, q);
            let qid = Queues::id_of(id, perm);
            k.write_user(p, buf, &ds)?;
            return Ok(qid as u64);
        }
        _ => {}
    }
    let (perm, q) = k.sysv_msg.get(id)?;
    match cmd {
        IPC_STAT => {
            perm.check(&p.creds, 4)?;
            let ds = msqid_ds(perm, q);
            k.write_user(p, buf, &ds)?;
            Ok(0)
        }
        IPC_SET => {
            if !perm.owned_by(&p.creds) {
                return Err(Errno::EPERM);
            }
            let ds = k.read_user(p, buf, MSQID_DS_SIZE)?;
            let qbytes = u64::from_le_bytes(ds[QBYTES_AT..QBYTES_AT + 8].try_into().unwrap());
            // Raising msg_qbytes past MSGMNB needs CAP_SYS_RESOURCE.
            if qbytes > MSGMNB && !p.creds.capable(crate::creds::cap::SYS_RESOURCE) {
                return Err(Errno::EPERM);
            }
            let now = k.now_secs();
            let (perm, q) = k.sysv_msg.get_mut(id)?;
            perm.set_from(&ds[..PERM_SIZE]);
            q.qbytes = qbytes;
            q.ctime = now;
            Ok(0)
        }
        IPC_RMID => {
            if !perm.owned_by(&p.creds) {
                return Err(Errno::EPERM);
            }
            let index = k.sysv_msg.index_of(id)?;
            k.sysv_msg.by_index.remove(&index);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
