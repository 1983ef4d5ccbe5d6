//! Which connections a listener keeps when clients hold sockets without sending requests.
//!
//! A connection is *pending* from accept until its first request has arrived. A slow
//! client (one byte a second) stays pending; a normal one leaves that state within
//! milliseconds. When one peer has too many pending connections, or the listener has too
//! many connections at all, the oldest pending connection that has had time to send its
//! request is cut, so new clients always get a turn. Young pending connections are never
//! cut: under load the accept loop can run ahead of the connections' first reads.
//! Time is an input; the caller cuts what [`Admit::Admitted`] returns as evicted.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdmissionLimits {
    pub max_connections: usize,
    pub max_pending_per_peer: usize,
    /// A pending connection younger than this is not cut to make room.
    pub min_age_to_evict: Duration,
}

#[derive(Debug, PartialEq)]
pub enum Admit<C> {
    Admitted {
        id: u64,
        evicted: Vec<C>,
    },
    /// Full of connections that are serving or too young to cut.
    Refused,
}

struct Pending<C> {
    peer: IpAddr,
    since: Instant,
    handle: C,
}

pub struct Admission<C> {
    limits: AdmissionLimits,
    next: u64,
    open: usize,
    /// By id, so the oldest comes first.
    pending: BTreeMap<u64, Pending<C>>,
    pending_per_peer: HashMap<IpAddr, usize>,
}

impl<C> Admission<C> {
    pub fn new(limits: AdmissionLimits) -> Self {
        Admission {
            limits,
            next: 0,
            open: 0,
            pending: BTreeMap::new(),
            pending_per_peer: HashMap::new(),
        }
    }

    pub fn open(&self) -> usize {
        self.open
    }

    pub fn admit(&mut self, peer: IpAddr, now: Instant, handle: C) -> Admit<C> {
        let mut evicted = Vec::new();
        let of_peer = self.pending_per_peer.get(&peer).copied().unwrap_or(0);
        if of_peer >= self.limits.max_pending_per_peer {
            evicted.extend(self.evict_oldest(now, Some(peer)));
        }
        if self.open >= self.limits.max_connections {
            match self.evict_oldest(now, None) {
                Some(handle) => evicted.push(handle),
                None => return Admit::Refused,
            }
        }
        let id = self.next;
        self.next += 1;
        self.open += 1;
        self.pending.insert(
            id,
            Pending {
                peer,
                since: now,
                handle,
            },
        );
        *self.pending_per_peer.entry(peer).or_default() += 1;
        Admit::Admitted { id, evicted }
    }

    /// The connection's first request arrived.
    pub fn served(&mut self, id: u64) {
        self.forget_pending(id);
    }

    /// The connection ended (evicted ones too).
    pub fn closed(&mut self, id: u64) {
        self.open = self.open.saturating_sub(1);
        self.forget_pending(id);
    }

    fn forget_pending(&mut self, id: u64) {
        if let Some(p) = self.pending.remove(&id) {
            self.uncount(p.peer);
        }
    }

    fn uncount(&mut self, peer: IpAddr) {
        if let Some(n) = self.pending_per_peer.get_mut(&peer) {
            *n -= 1;
            if *n == 0 {
                self.pending_per_peer.remove(&peer);
            }
        }
    }

    /// Stops tracking the oldest old-enough pending connection (of `peer`, if given) and
    /// returns it to be cut; it stays open (counted) until [`Admission::closed`].
    fn evict_oldest(&mut self, now: Instant, peer: Option<IpAddr>) -> Option<C> {
        let id = self
            .pending
            .iter()
            .filter(|(_, p)| peer.is_none_or(|peer| p.peer == peer))
            .find(|(_, p)| now.saturating_duration_since(p.since) >= self.limits.min_age_to_evict)
            .map(|(id, _)| *id)?;
        let p = self.pending.remove(&id)?;
        self.uncount(p.peer);
        Some(p.handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn admission(max_connections: usize, per_peer: usize) -> (Admission<&'static str>, Instant) {
        let limits = AdmissionLimits {
            max_connections,
            max_pending_per_peer: per_peer,
            min_age_to_evict: Duration::from_secs(1),
        };
        (Admission::new(limits), Instant::now())
    }

    fn id(admit: Admit<&'static str>) -> u64 {
        match admit {
            Admit::Admitted { id, .. } => id,
            Admit::Refused => panic!("refused"),
        }
    }

    #[test]
    fn a_peer_over_its_pending_limit_loses_its_oldest_slow_connection() {
        let (mut a, t0) = admission(100, 2);
        id(a.admit(A, t0, "a1"));
        id(a.admit(A, t0, "a2"));
        id(a.admit(B, t0, "b1"));
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            a.admit(A, later, "a3"),
            Admit::Admitted {
                id: 3,
                evicted: vec!["a1"]
            }
        );
        assert_eq!(a.open(), 4, "the evicted one counts until it closes");
    }

    #[test]
    fn young_pending_connections_are_never_cut() {
        let (mut a, t0) = admission(2, 1);
        id(a.admit(A, t0, "a1"));
        // Over the per-peer limit but a1 is young: admitted without eviction.
        assert_eq!(
            a.admit(A, t0, "a2"),
            Admit::Admitted {
                id: 1,
                evicted: vec![]
            }
        );
        // Full and nothing old enough: refused.
        assert_eq!(a.admit(B, t0, "b1"), Admit::Refused);
    }

    #[test]
    fn served_connections_are_kept_and_a_full_listener_cuts_the_oldest_pending() {
        let (mut a, t0) = admission(2, 10);
        let first = id(a.admit(A, t0, "served"));
        a.served(first);
        id(a.admit(B, t0, "slow"));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            a.admit(A, later, "new"),
            Admit::Admitted {
                id: 2,
                evicted: vec!["slow"]
            }
        );
        a.closed(1);
        a.closed(first);
        assert_eq!(a.open(), 1);
        // Only served connections left and full: refused.
        let (mut a, t0) = admission(1, 10);
        let only = id(a.admit(A, t0, "served"));
        a.served(only);
        assert_eq!(a.admit(B, t0 + Duration::from_secs(9), "x"), Admit::Refused);
    }
}
