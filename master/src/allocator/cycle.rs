//! The allocation cycle: which agents to visit, in which order roles and frameworks are
//! offered each one, and what an offer holds.

use std::time::Duration;

use mesos_common::resources::{Resource, Resources, Scalar, Value};

use super::quantities::{Names, Quantities};
use super::slab::Idx;
use super::{client_order, role_order, Agent, Allocation, Allocator, Role};

impl Allocator {
    /// One batch allocation cycle at time `now`. See the module documentation.
    pub fn allocate(&mut self, now: Duration) -> Vec<Allocation> {
        self.expire_filters(now);
        if !self.all_dirty && self.dirty_agents.is_empty() {
            return Vec::new();
        }
        self.refresh_order();
        let mut order = std::mem::take(&mut self.agent_order);
        order.clear();
        if self.all_dirty {
            order.extend(self.agents.iter().map(|(a, _)| a));
            self.dirty_agents.clear();
        } else {
            for a in self.dirty_agents.drain(..) {
                // Skips a removed agent's index, and a reused one listed twice.
                if let Some(agent) = self.agents.try_get_mut(a).filter(|agent| agent.dirty) {
                    agent.dirty = false;
                    order.push(a);
                }
            }
        }
        shuffle(&mut order, &mut self.rng);
        let mut out = Vec::new();
        for &a in &order {
            let agent = self.agents.get_mut(a);
            agent.dirty = false;
            if agent.active && !agent.available.is_empty() {
                self.allocate_agent(a, &mut out);
            }
        }
        self.agent_order = order;
        self.all_dirty = false;
        out
    }

    fn allocate_agent(&mut self, a: Idx, out: &mut Vec<Allocation>) {
        {
            let (clients, roles) = (&self.clients, &self.roles);
            let Agent {
                filters, available, ..
            } = self.agents.get_mut(a);
            filters.refresh(available, |c| &roles[clients.get(c).role as usize].name);
        }
        let mut scratch = std::mem::take(&mut self.offer_scratch);
        let mut touched = std::mem::take(&mut self.touched_roles);
        let mut allocated_here = false;
        let mut i = 0;
        while let Some(&r) = self.role_order.as_slice().get(i) {
            i += 1;
            let agent = self.agents.get(a);
            if agent.available.is_empty() {
                break;
            }
            let role = &self.roles[r as usize];
            if !self.offer_is_allocatable(&agent.available, role, &mut scratch) {
                continue;
            }
            // The filter bits describe the agent as it was when the visit started, for
            // offers not cut by quota; anything else needs the exact check.
            let exact = allocated_here || !role.limits.is_empty();
            let mut offer = None;
            let mut chosen = None;
            for &c in role.sorter.as_slice() {
                if agent.filters.covers(c) {
                    continue;
                }
                if exact && agent.filters.has_any(c) {
                    let o = offer
                        .get_or_insert_with(|| build_offer(&agent.available, role, &self.names));
                    if agent.filters.refuses(c, o) {
                        continue;
                    }
                }
                chosen = Some(c);
                break;
            }
            let Some(c) = chosen else { continue };
            let offer = offer.unwrap_or_else(|| build_offer(&agent.available, role, &self.names));
            let allocation = Allocation {
                framework_id: self
                    .frameworks
                    .get(self.clients.get(c).framework)
                    .id
                    .clone(),
                agent_id: agent.id.clone(),
                role: role.name.clone(),
                resources: offer,
            };
            self.track(c, a, &allocation.resources);
            self.roles[r as usize]
                .sorter
                .update(c, client_order(&self.clients, &self.frameworks));
            touched.push(r);
            allocated_here = true;
            out.push(allocation);
        }
        for r in touched.drain(..) {
            self.role_order.update(r, role_order(&self.roles));
        }
        self.touched_roles = touched;
        self.offer_scratch = scratch;
    }

    /// Whether what `role` would be offered from `available` is big enough.
    fn offer_is_allocatable(
        &self,
        available: &Resources,
        role: &Role,
        scratch: &mut Quantities,
    ) -> bool {
        scratch.clear();
        let mut any = false;
        for r in available.iter().filter(|r| r.is_allocatable_to(&role.name)) {
            let Some(id) = self.names.lookup(&r.name) else {
                continue;
            };
            let mut amount = r.value.quantity().millis();
            if matches!(r.value, Value::Scalar(_)) && !r.is_reserved() {
                if let Some(headroom) = role.headroom(id) {
                    amount = amount.min(headroom);
                }
            }
            if amount > 0 {
                any = true;
                scratch.add(id, amount);
            }
        }
        any && (self.min_allocatable.is_empty()
            || self.min_allocatable.iter().any(|alt| scratch.covers(alt)))
    }

    fn refresh_order(&mut self) {
        if self.shares_stale {
            for (_, c) in self.clients.iter_mut() {
                c.share = c.allocated.dominant_share(&self.totals, &self.names);
            }
            for r in &mut self.roles {
                r.share = r.allocated.dominant_share(&self.totals, &self.names) / r.weight;
                r.sorter.mark_stale();
            }
            self.role_order.mark_stale();
            self.shares_stale = false;
        }
        for r in &mut self.roles {
            if r.sorter.is_stale() {
                r.sorter.sort(client_order(&self.clients, &self.frameworks));
            }
        }
        if self.role_order.is_stale() {
            self.role_order.sort(role_order(&self.roles));
        }
    }
}

/// splitmix64: small, fast and good enough to spread agents.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn shuffle(items: &mut [Idx], state: &mut u64) {
    for i in (1..items.len()).rev() {
        let j = (next_random(state) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// What `role` gets from `available`: everything allocatable to it, with unreserved
/// scalars cut to the role's quota headroom.
fn build_offer(available: &Resources, role: &Role, names: &Names) -> Resources {
    if role.limits.is_empty() && available.iter().all(|r| r.is_allocatable_to(&role.name)) {
        // Shares the agent's entries; taking them all leaves the agent an empty value.
        return available.clone();
    }
    let mut offer = Resources::new();
    for r in available.iter().filter(|r| r.is_allocatable_to(&role.name)) {
        let headroom = match r.value {
            Value::Scalar(_) if !r.is_reserved() => {
                names.lookup(&r.name).and_then(|id| role.headroom(id))
            }
            _ => None,
        };
        match (headroom, &r.value) {
            (Some(headroom), Value::Scalar(s)) if headroom < s.millis() => {
                if headroom > 0 {
                    offer.add_resource(&Resource {
                        name: r.name.clone(),
                        role: r.role.clone(),
                        value: Value::Scalar(Scalar::from_millis(headroom)),
                    });
                }
            }
            _ => offer.add_resource(r),
        }
    }
    offer
}
