//! What the allocator answers about its state: shares, totals, allocations, filters.

use std::cmp::Reverse;
use std::time::Duration;

use mesos_common::resources::{ResourceQuantities, Resources};

use super::quantities::Quantities;
use super::{sum_held, Agent, AgentSlot, Allocation, Allocator, RoleShare};

impl Allocator {
    /// Every role with frameworks, a weight or a quota, by name.
    pub fn role_shares(&self) -> Vec<RoleShare> {
        let mut out: Vec<RoleShare> = self
            .roles
            .iter()
            .filter(|r| !r.clients.is_empty() || r.weight_set || r.quota.is_some())
            .map(|r| {
                let mut frameworks: Vec<String> = r
                    .clients
                    .iter()
                    .map(|&c| {
                        self.frameworks
                            .get(self.clients.get(c).framework)
                            .id
                            .clone()
                    })
                    .collect();
                frameworks.sort();
                RoleShare {
                    role: r.name.clone(),
                    weight: r.weight,
                    dominant_share: r.allocated.dominant_share(&self.totals, &self.names),
                    allocated: r.allocated.to_resource_quantities(&self.names),
                    quota: r.quota.clone(),
                    frameworks,
                }
            })
            .collect();
        out.sort_by(|a, b| a.role.cmp(&b.role));
        out
    }

    /// Scalars of all agents.
    pub fn total(&self) -> ResourceQuantities {
        self.totals.to_resource_quantities(&self.names)
    }

    /// Scalars allocated to anyone.
    pub fn allocated(&self) -> ResourceQuantities {
        let mut sum = Quantities::default();
        for r in &self.roles {
            sum.add_all(&r.allocated, 1);
        }
        sum.to_resource_quantities(&self.names)
    }

    pub fn agent_available(&self, agent_id: &str) -> Option<&Resources> {
        let a = *self.agent_ids.get(agent_id)?;
        Some(&self.agents.get(a).available)
    }

    /// The agent's slot, for callers that ask about every agent (the state views): asking
    /// by slot hashes nothing. A slot outlives its agent only as a stale answer (None).
    pub fn agent_slot(&self, agent_id: &str) -> Option<AgentSlot> {
        self.agent_ids.get(agent_id).map(|&a| AgentSlot(a))
    }

    fn agent_at(&self, slot: AgentSlot, agent_id: &str) -> Option<&Agent> {
        self.agents.try_get(slot.0).filter(|a| a.id == agent_id)
    }

    /// A number that changes whenever what is allocated on the agent changes and is never
    /// reused, not even by another agent or the same agent re-added; None for an unknown
    /// agent. The state views keep each agent's rendered usage until this moves.
    pub fn agent_revision(&self, slot: AgentSlot, agent_id: &str) -> Option<u64> {
        Some(self.agent_at(slot, agent_id)?.revision)
    }

    /// Everything allocated on an agent, offered or in use, summed over frameworks and
    /// roles; None for an unknown agent. Cheap: the state endpoints ask for every agent.
    pub fn agent_allocated(&self, slot: AgentSlot, agent_id: &str) -> Option<Resources> {
        Some(sum_held(&self.agent_at(slot, agent_id)?.allocations))
    }

    /// Everything allocated to a framework, offered or in use, over all its roles and
    /// agents; None for an unknown framework. Cheap: the scalars are kept summed, only
    /// agents where it holds ranges or sets are visited.
    pub fn framework_allocated(&self, framework_id: &str) -> Option<Resources> {
        let f = *self.framework_ids.get(framework_id)?;
        let mut sum = Resources::default();
        for &c in &self.frameworks.get(f).clients {
            let client = self.clients.get(c);
            sum.add(&client.allocated_sum.total());
        }
        Some(sum)
    }

    pub fn agent_allocations(&self, agent_id: &str) -> Option<Vec<Allocation>> {
        let a = *self.agent_ids.get(agent_id)?;
        let agent = self.agents.get(a);
        Some(
            agent
                .allocations
                .iter()
                .map(|(c, held)| self.allocation(*c, agent, held))
                .collect(),
        )
    }

    pub fn framework_allocations(&self, framework_id: &str) -> Option<Vec<Allocation>> {
        let f = *self.framework_ids.get(framework_id)?;
        let mut out = Vec::new();
        for &c in &self.frameworks.get(f).clients {
            for &a in &self.clients.get(c).agents {
                let agent = self.agents.get(a);
                if let Some(held) = agent.allocation_of(c) {
                    out.push(self.allocation(c, agent, held));
                }
            }
        }
        out.sort_by(|x, y| (&x.agent_id, &x.role).cmp(&(&y.agent_id, &y.role)));
        Some(out)
    }

    pub fn agent_hostname(&self, agent_id: &str) -> Option<&str> {
        let a = *self.agent_ids.get(agent_id)?;
        Some(&self.agents.get(a).hostname)
    }

    /// When the earliest filter may expire; the master may allocate then.
    pub fn next_filter_expiry(&self) -> Option<Duration> {
        self.expiries.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Filters in place.
    pub fn active_filters(&self) -> usize {
        self.live_filters
    }
}
