//! One level of the DRF hierarchy kept in order: roles, or the frameworks of one role.
//!
//! Only members that can receive offers are listed. Keys (share, name) live with the
//! allocator; the sorter is told how to compare. Between allocation cycles changes only
//! mark the order stale, and it is re-sorted once when the next cycle starts; during a
//! cycle the member whose share just grew is moved to its new place.

use std::cmp::Ordering;

use super::slab::Idx;

#[derive(Debug, Default)]
pub(super) struct Sorter {
    order: Vec<Idx>,
    stale: bool,
}

impl Sorter {
    pub fn as_slice(&self) -> &[Idx] {
        &self.order
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn insert(&mut self, id: Idx, cmp: impl Fn(Idx, Idx) -> Ordering) {
        if self.stale {
            self.order.push(id);
        } else {
            let at = self
                .order
                .partition_point(|&other| cmp(other, id) == Ordering::Less);
            self.order.insert(at, id);
        }
    }

    pub fn remove(&mut self, id: Idx) {
        if let Some(at) = self.order.iter().position(|&x| x == id) {
            self.order.remove(at);
        }
    }

    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Moves `id` to its place after its key changed.
    pub fn update(&mut self, id: Idx, cmp: impl Fn(Idx, Idx) -> Ordering) {
        if self.stale {
            return;
        }
        self.remove(id);
        self.insert(id, cmp);
    }

    pub fn sort(&mut self, cmp: impl Fn(Idx, Idx) -> Ordering) {
        self.order.sort_by(|&a, &b| cmp(a, b));
        self.stale = false;
    }
}
