//! Dense storage addressed by small integer ids, and hash maps keyed by them.
//!
//! The allocator names frameworks, agents and framework-in-role clients by `u32` slots so
//! its hot loop indexes vectors and bitsets instead of hashing strings.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

pub(super) type Idx = u32;

/// A vector of optional slots that reuses freed ones.
#[derive(Debug)]
pub(super) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<Idx>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    pub fn insert(&mut self, value: T) -> Idx {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                Idx::try_from(self.slots.len() - 1).expect("fewer than 2^32 slots")
            }
        }
    }

    pub fn remove(&mut self, i: Idx) -> T {
        let value = self.slots[i as usize].take().expect("removing a live slot");
        self.free.push(i);
        value
    }

    /// Panics on a free slot: ids held by the allocator always point at live slots.
    pub fn get(&self, i: Idx) -> &T {
        self.slots[i as usize].as_ref().expect("live slot")
    }

    pub fn get_mut(&mut self, i: Idx) -> &mut T {
        self.slots[i as usize].as_mut().expect("live slot")
    }

    /// `None` for a free or never-used slot.
    pub fn try_get(&self, i: Idx) -> Option<&T> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    /// `None` for a free or never-used slot (ids kept in the expiry queue may be stale).
    pub fn try_get_mut(&mut self, i: Idx) -> Option<&mut T> {
        self.slots.get_mut(i as usize).and_then(Option::as_mut)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Idx, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|v| (i as Idx, v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Idx, &mut T)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.as_mut().map(|v| (i as Idx, v)))
    }
}

/// A hasher for `u32` ids: one multiplication, enough for keys that are already dense.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(super) type IdMap<V> = HashMap<Idx, V, BuildHasherDefault<IdHasher>>;
pub(super) type IdSet = HashSet<Idx, BuildHasherDefault<IdHasher>>;

/// A growable set of small ids, one bit each.
#[derive(Debug, Default, Clone)]
pub(super) struct BitSet(Vec<u64>);

impl BitSet {
    pub fn get(&self, i: Idx) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn set(&mut self, i: Idx, on: bool) {
        let word = (i / 64) as usize;
        if on {
            if self.0.len() <= word {
                self.0.resize(word + 1, 0);
            }
            self.0[word] |= 1 << (i % 64);
        } else if let Some(w) = self.0.get_mut(word) {
            *w &= !(1 << (i % 64));
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}
