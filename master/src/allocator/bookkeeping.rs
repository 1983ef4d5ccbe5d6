//! The allocator's bookkeeping: slots for frameworks, roles and clients, what each holds
//! on each agent, role accounting, and refusal filters with their expiries.

use std::cmp::Reverse;
use std::time::Duration;

use mesos_common::resources::{ResourceSum, Resources, Value, DEFAULT_ROLE};

use super::quantities::Quantities;
use super::slab::{IdMap, IdSet, Idx};
use super::sorter::Sorter;
use super::{
    client_order, role_order, Agent, Allocation, Allocator, AllocatorError, Client, Framework,
    FrameworkSpec, Role, MAX_REFUSAL,
};

impl Allocator {
    pub(super) fn framework(&self, framework_id: &str) -> Result<Idx, AllocatorError> {
        self.framework_ids
            .get(framework_id)
            .copied()
            .ok_or_else(|| AllocatorError::UnknownFramework(framework_id.to_string()))
    }

    pub(super) fn agent(&self, agent_id: &str) -> Result<Idx, AllocatorError> {
        self.agent_ids
            .get(agent_id)
            .copied()
            .ok_or_else(|| AllocatorError::UnknownAgent(agent_id.to_string()))
    }

    pub(super) fn allocation(&self, c: Idx, agent: &Agent, held: &Resources) -> Allocation {
        let client = self.clients.get(c);
        Allocation {
            framework_id: self.frameworks.get(client.framework).id.clone(),
            agent_id: agent.id.clone(),
            role: self.roles[client.role as usize].name.clone(),
            resources: held.clone(),
        }
    }

    pub(super) fn insert_framework(&mut self, framework_id: &str) -> Idx {
        let f = self.frameworks.insert(Framework {
            id: framework_id.to_string(),
            registered: false,
            active: false,
            roles: Vec::new(),
            clients: Vec::new(),
        });
        self.framework_ids.insert(framework_id.to_string(), f);
        f
    }

    pub(super) fn role(&mut self, name: &str) -> Idx {
        if let Some(&r) = self.role_ids.get(name) {
            return r;
        }
        let r = Idx::try_from(self.roles.len()).expect("fewer than 2^32 roles");
        self.roles.push(Role {
            name: name.to_string(),
            weight: 1.0,
            weight_set: false,
            quota: None,
            limits: Vec::new(),
            allocated: Quantities::default(),
            allocated_unreserved: Quantities::default(),
            reserved: Quantities::default(),
            share: 0.0,
            clients: Vec::new(),
            sorter: Sorter::default(),
        });
        self.role_ids.insert(name.to_string(), r);
        r
    }

    /// The framework's client in `role`, created (not subscribed) if missing.
    pub(super) fn client(&mut self, f: Idx, role: &str) -> Idx {
        let r = self.role(role);
        if let Some(&c) = self
            .frameworks
            .get(f)
            .clients
            .iter()
            .find(|&&c| self.clients.get(c).role == r)
        {
            return c;
        }
        let c = self.clients.insert(Client {
            framework: f,
            role: r,
            subscribed: false,
            suppressed: false,
            offerable: false,
            allocated: Quantities::default(),
            allocated_sum: ResourceSum::default(),
            share: 0.0,
            agents: IdSet::default(),
            filters: IdMap::default(),
        });
        self.frameworks.get_mut(f).clients.push(c);
        self.roles[r as usize].clients.push(c);
        c
    }

    pub(super) fn apply_spec(&mut self, f: Idx, spec: &FrameworkSpec) {
        for c in self.frameworks.get(f).clients.clone() {
            let role = &self.roles[self.clients.get(c).role as usize].name;
            if !spec.roles.contains(role) {
                self.clients.get_mut(c).subscribed = false;
                self.remove_client_filters(c);
                self.refresh_offerable(c);
                self.gc_client(c);
            }
        }
        for role in &spec.roles {
            let c = self.client(f, role);
            let client = self.clients.get_mut(c);
            client.subscribed = true;
            client.suppressed = spec.suppressed_roles.contains(role);
            self.refresh_offerable(c);
        }
        self.frameworks.get_mut(f).roles = spec.roles.clone();
    }

    pub(super) fn subscribed_clients(&self, f: Idx, roles: Option<&[String]>) -> Vec<Idx> {
        self.frameworks
            .get(f)
            .clients
            .iter()
            .copied()
            .filter(|&c| {
                let client = self.clients.get(c);
                client.subscribed
                    && roles
                        .is_none_or(|roles| roles.contains(&self.roles[client.role as usize].name))
            })
            .collect()
    }

    /// Splits resources a framework already holds by the role to charge.
    pub(super) fn charge_roles(&self, f: Idx, resources: &Resources) -> Vec<(String, Resources)> {
        let roles = &self.frameworks.get(f).roles;
        let mut parts: Vec<(String, Resources)> = Vec::new();
        for r in resources {
            let role = roles
                .iter()
                .find(|role| r.is_reserved() && r.is_allocatable_to(role))
                .or_else(|| roles.first())
                .map_or(DEFAULT_ROLE, String::as_str);
            match parts.iter_mut().find(|(name, _)| name == role) {
                Some((_, part)) => part.add_resource(r),
                None => parts.push((role.to_string(), std::iter::once(r.clone()).collect())),
            }
        }
        parts
    }

    /// Lists or unlists the client in its role's sorter after a change of state.
    pub(super) fn refresh_offerable(&mut self, c: Idx) {
        let client = self.clients.get(c);
        let framework = self.frameworks.get(client.framework);
        let offerable =
            framework.registered && framework.active && client.subscribed && !client.suppressed;
        if offerable == client.offerable {
            return;
        }
        let r = client.role;
        self.clients.get_mut(c).offerable = offerable;
        let role = &mut self.roles[r as usize];
        if offerable {
            let first = role.sorter.is_empty();
            role.sorter
                .insert(c, client_order(&self.clients, &self.frameworks));
            if first {
                self.role_order.insert(r, role_order(&self.roles));
            }
        } else {
            role.sorter.remove(c);
            if role.sorter.is_empty() {
                self.role_order.remove(r);
            }
        }
    }

    /// Forgets a client that is neither subscribed nor holding anything.
    pub(super) fn gc_client(&mut self, c: Idx) {
        let client = self.clients.get(c);
        if !client.subscribed && client.agents.is_empty() {
            self.destroy_client(c);
        }
    }

    pub(super) fn destroy_client(&mut self, c: Idx) {
        self.remove_client_filters(c);
        let client = self.clients.remove(c);
        let role = &mut self.roles[client.role as usize];
        role.clients.retain(|&x| x != c);
        if client.offerable {
            role.sorter.remove(c);
            if role.sorter.is_empty() {
                self.role_order.remove(client.role);
            }
        }
        if let Some(framework) = self.frameworks.try_get_mut(client.framework) {
            framework.clients.retain(|&x| x != c);
        }
    }

    pub(super) fn mark_dirty(&mut self, a: Idx) {
        let agent = self.agents.get_mut(a);
        if !agent.dirty {
            agent.dirty = true;
            self.dirty_agents.push(a);
        }
    }

    pub(super) fn track(&mut self, c: Idx, a: Idx, resources: &Resources) {
        self.revision += 1;
        let agent = self.agents.get_mut(a);
        agent.revision = self.revision;
        agent
            .available
            .subtract(resources)
            .expect("allocations are taken from what is available");
        match agent.allocations.iter_mut().find(|(x, _)| *x == c) {
            Some((_, held)) => held.add(resources),
            None => agent.allocations.push((c, resources.clone())),
        }
        let client = self.clients.get_mut(c);
        client.agents.insert(a);
        self.account(c, resources, 1);
    }

    /// Gives back `resources`, which the client holds on the agent.
    pub(super) fn untrack(&mut self, c: Idx, a: Idx, resources: &Resources) {
        self.revision += 1;
        let agent = self.agents.get_mut(a);
        agent.revision = self.revision;
        let at = agent
            .allocations
            .iter()
            .position(|(x, _)| *x == c)
            .expect("the client holds resources here");
        agent.allocations[at]
            .1
            .subtract(resources)
            .expect("only held resources are given back");
        if agent.allocations[at].1.is_empty() {
            agent.allocations.swap_remove(at);
            self.clients.get_mut(c).agents.remove(&a);
        }
        agent.available.add(resources);
        self.mark_dirty(a);
        self.account(c, resources, -1);
        let r = self.clients.get(c).role as usize;
        self.roles[r].sorter.mark_stale();
        self.role_order.mark_stale();
    }

    /// Adds (`sign` 1) or removes (-1) an allocation from the client's and role's sums.
    pub(super) fn account(&mut self, c: Idx, resources: &Resources, sign: i64) {
        let client = self.clients.get_mut(c);
        let role = &mut self.roles[client.role as usize];
        for r in resources {
            if let Value::Scalar(s) = r.value {
                let id = self.names.id(&r.name);
                let millis = sign * s.millis();
                client.allocated.add(id, millis);
                role.allocated.add(id, millis);
                if !r.is_reserved() {
                    role.allocated_unreserved.add(id, millis);
                }
            }
        }
        if sign > 0 {
            client.allocated_sum.add(resources);
        } else {
            client
                .allocated_sum
                .remove(resources)
                .expect("only held resources are given back");
        }
        client.share = client.allocated.dominant_share(&self.totals, &self.names);
        role.share = role.allocated.dominant_share(&self.totals, &self.names) / role.weight;
        if sign < 0 && !role.limits.is_empty() {
            // Quota headroom grew: the role may now take resources on any agent.
            self.all_dirty = true;
        }
    }

    pub(super) fn account_total(&mut self, total: &Resources, sign: i64) {
        let q = Quantities::of_scalars(&mut self.names, total, |_| true);
        self.totals.add_all(&q, sign);
        for r in total.iter().filter(|r| r.is_reserved()) {
            if let Value::Scalar(s) = r.value {
                let id = self.names.id(&r.name);
                let role = self.role(&r.role) as usize;
                self.roles[role].reserved.add(id, sign * s.millis());
            }
        }
        self.shares_stale = true;
    }

    pub(super) fn add_filter(
        &mut self,
        c: Idx,
        a: Idx,
        refused: Resources,
        refuse: Duration,
        now: Duration,
    ) {
        let expires = now.saturating_add(refuse.max(self.allocation_interval).min(MAX_REFUSAL));
        let id = self.next_filter_id;
        self.next_filter_id += 1;
        let role = &self.roles[self.clients.get(c).role as usize].name;
        let filters = &mut self.agents.get_mut(a).filters;
        filters.add(id, c, refused, expires, role);
        *self.clients.get_mut(c).filters.entry(a).or_default() += 1;
        self.live_filters += 1;
        self.expiries.push(Reverse((expires, id, a)));
    }

    pub(super) fn expire_filters(&mut self, now: Duration) {
        while let Some(&Reverse((at, id, a))) = self.expiries.peek() {
            if at > now {
                break;
            }
            self.expiries.pop();
            let Some(agent) = self.agents.try_get_mut(a) else {
                continue;
            };
            let Some(c) = agent.filters.remove(id) else {
                continue;
            };
            self.live_filters -= 1;
            self.mark_dirty(a);
            let counts = &mut self.clients.get_mut(c).filters;
            if let Some(n) = counts.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&a);
                }
            }
        }
    }

    pub(super) fn remove_client_filters(&mut self, c: Idx) {
        let filtered = std::mem::take(&mut self.clients.get_mut(c).filters);
        for (a, n) in filtered {
            self.live_filters -= n as usize;
            if let Some(agent) = self.agents.try_get_mut(a) {
                agent.filters.remove_client(c);
                self.mark_dirty(a);
            }
        }
        self.compact_expiries();
    }

    /// Entries of removed filters wait in the expiry queue until their time; rebuild it
    /// when they make up most of it (revives or agent removals after long refusals).
    pub(super) fn compact_expiries(&mut self) {
        if self.expiries.len() > 1024 && self.expiries.len() > 4 * self.live_filters {
            self.expiries = self
                .agents
                .iter()
                .flat_map(|(a, agent)| {
                    agent
                        .filters
                        .expiries()
                        .map(move |(at, id)| Reverse((at, id, a)))
                })
                .collect();
        }
    }
}
