//! Admission before a client slot: unfinished handshakes and sessions per address.
//!
//! A TCP connection costs the proxy a task and a descriptor before it has said anything,
//! so handshakes in progress are bounded: per address (`PENDING_PER_IP`) and in all
//! (`MAX_PENDING`). A new connection past either bound closes the *oldest* unfinished
//! handshake (of its address, or of all) rather than being refused itself: idle or slow
//! connections, however many, cannot keep out a client that authenticates promptly, and
//! a flood from one address mostly evicts its own connections. Every handshake is also
//! bounded in time (`--handshake-timeout`). Only after the token and Origin check does a
//! client take a client slot (`--max-clients`) and one of its address's sessions
//! (`--max-per-ip`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Unfinished handshakes from one address.
pub const PENDING_PER_IP: usize = 8;
/// Unfinished handshakes in all.
pub const MAX_PENDING: usize = 256;

struct Pending {
    id: u64,
    ip: IpAddr,
    /// Dropping it tells the handshake task to give up.
    evict: oneshot::Sender<()>,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Pending>,
    sessions: HashMap<IpAddr, usize>,
}

pub struct Gate {
    state: Arc<Mutex<State>>,
    max_per_ip: usize,
}

/// One of an address's sessions; given back when dropped.
pub struct Session {
    state: Arc<Mutex<State>>,
    ip: IpAddr,
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = st.sessions.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                st.sessions.remove(&self.ip);
            }
        }
    }
}

impl Gate {
    pub fn new(max_per_ip: usize) -> Gate {
        Gate {
            state: Default::default(),
            max_per_ip,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection `id` from `ip` starts its handshake, evicting the oldest ones past
    /// the bounds. The receiver completes (with an error) when this one is evicted.
    pub fn pending(&self, id: u64, ip: IpAddr) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.lock();
        if st.pending.iter().filter(|p| p.ip == ip).count() >= PENDING_PER_IP
            && let Some(i) = st.pending.iter().position(|p| p.ip == ip)
        {
            st.pending.remove(i);
        }
        if st.pending.len() >= MAX_PENDING {
            st.pending.pop_front();
        }
        st.pending.push_back(Pending { id, ip, evict: tx });
        rx
    }

    /// Handshake `id` is over (done, refused, failed or evicted).
    pub fn done(&self, id: u64) {
        let mut st = self.lock();
        if let Some(i) = st.pending.iter().position(|p| p.id == id) {
            let p = st.pending.remove(i).expect("index from position");
            drop(p.evict);
        }
    }

    /// One more session for `ip`, if it has fewer than `--max-per-ip`.
    pub fn session(&self, ip: IpAddr) -> Option<Session> {
        let mut st = self.lock();
        let n = st.sessions.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return None;
        }
        *n += 1;
        Some(Session {
            state: self.state.clone(),
            ip,
        })
    }

    #[cfg(test)]
    fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_handshake_of_an_address_makes_room() {
        let g = Gate::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut rx: Vec<_> = (0..PENDING_PER_IP as u64)
            .map(|i| g.pending(i, a))
            .collect();
        let other = g.pending(100, b);
        assert!(rx.iter_mut().all(|r| {
            r.try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Empty)
        }));
        // One more from `a` evicts a's oldest, not b's.
        let _newest = g.pending(200, a);
        assert_eq!(rx[0].try_recv(), Err(oneshot::error::TryRecvError::Closed));
        assert_eq!(rx[1].try_recv(), Err(oneshot::error::TryRecvError::Empty));
        drop(other);
        assert_eq!(g.pending_count(), PENDING_PER_IP + 1);
        g.done(100);
        assert_eq!(g.pending_count(), PENDING_PER_IP);
    }

    #[test]
    fn sessions_per_address_are_bounded_and_given_back() {
        let g = Gate::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let s1 = g.session(a).unwrap();
        let _s2 = g.session(a).unwrap();
        assert!(g.session(a).is_none());
        assert!(g.session("10.0.0.2".parse().unwrap()).is_some());
        drop(s1);
        assert!(g.session(a).is_some());
    }
}
