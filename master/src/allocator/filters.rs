//! Refusal filters of one agent.
//!
//! A framework that declines resources with `refuse_seconds` is not offered that agent
//! again, in that role, while what the agent would offer is contained in what it refused
//! (Mesos's `RefusedOfferFilter`). The allocator asks "is this client filtered here?" for
//! many clients on every agent it visits, so the answer is precomputed as one bit per
//! client, valid for one content of the agent's available resources (the basis). When the
//! available resources differ from the basis at the next visit, the bits are recomputed; an
//! agent whose offer was declined usually gets exactly the same resources back, so the
//! common case keeps its bits.

use std::time::Duration;

use mesos_common::resources::Resources;

use super::slab::{BitSet, Idx};

#[derive(Debug)]
struct Filter {
    id: u64,
    client: Idx,
    refused: Resources,
    expires: Duration,
    /// Whether `refused` holds everything the basis would offer to the client's role.
    covers: bool,
}

#[derive(Debug, Default)]
pub(super) struct AgentFilters {
    filters: Vec<Filter>,
    /// Clients with a filter that covers the basis offer.
    covered: BitSet,
    /// Clients with any filter here.
    filtered: BitSet,
    /// The available resources the `covers` flags were computed for.
    basis: Option<Resources>,
}

/// Whether everything `available` holds for `role` is inside `refused`.
fn refuses_all(refused: &Resources, available: &Resources, role: &str) -> bool {
    // The first test is instant when the refused resources are the very value the agent
    // got back, the usual case after a decline.
    refused.contains(available)
        || available
            .iter()
            .filter(|r| r.is_allocatable_to(role))
            .all(|r| refused.contains_resource(r))
}

impl AgentFilters {
    /// The client refused at least what the basis offers its role.
    pub fn covers(&self, client: Idx) -> bool {
        self.covered.get(client)
    }

    pub fn has_any(&self, client: Idx) -> bool {
        self.filtered.get(client)
    }

    /// Exact check for an offer that differs from the basis one (quota-trimmed, or taken
    /// after part of the agent went to another role in the same visit).
    pub fn refuses(&self, client: Idx, offer: &Resources) -> bool {
        self.filters
            .iter()
            .any(|f| f.client == client && f.refused.contains(offer))
    }

    pub fn add(&mut self, id: u64, client: Idx, refused: Resources, expires: Duration, role: &str) {
        let covers = self
            .basis
            .as_ref()
            .is_some_and(|basis| refuses_all(&refused, basis, role));
        self.covered.set(client, self.covered.get(client) || covers);
        self.filtered.set(client, true);
        self.filters.push(Filter {
            id,
            client,
            refused,
            expires,
            covers,
        });
    }

    /// Makes the bits describe `available`.
    pub fn refresh<'a>(&mut self, available: &Resources, role_of: impl Fn(Idx) -> &'a str) {
        if self.filters.is_empty() || self.basis.as_ref() == Some(available) {
            return;
        }
        self.covered.clear();
        for f in &mut self.filters {
            f.covers = refuses_all(&f.refused, available, role_of(f.client));
            if f.covers {
                self.covered.set(f.client, true);
            }
        }
        self.basis = Some(available.clone());
    }

    /// Removes the filter `id`; returns its client if it was here.
    pub fn remove(&mut self, id: u64) -> Option<Idx> {
        let at = self.filters.iter().position(|f| f.id == id)?;
        let client = self.filters.swap_remove(at).client;
        let rest = self.filters.iter().filter(|f| f.client == client);
        let (mut any, mut covers) = (false, false);
        for f in rest {
            any = true;
            covers |= f.covers;
        }
        self.filtered.set(client, any);
        self.covered.set(client, covers);
        self.drop_basis_if_empty();
        Some(client)
    }

    /// Removes every filter of `client`.
    pub fn remove_client(&mut self, client: Idx) {
        self.filters.retain(|f| f.client != client);
        self.filtered.set(client, false);
        self.covered.set(client, false);
        self.drop_basis_if_empty();
    }

    fn drop_basis_if_empty(&mut self) {
        if self.filters.is_empty() {
            self.basis = None;
        }
    }

    pub fn clients(&self) -> impl Iterator<Item = Idx> + '_ {
        self.filters.iter().map(|f| f.client)
    }

    /// `(expiry, id)` of every filter here.
    pub fn expiries(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.filters.iter().map(|f| (f.expires, f.id))
    }
}
