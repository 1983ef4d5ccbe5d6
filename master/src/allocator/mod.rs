//! A hierarchical DRF allocator as a pure, synchronous core.
//!
//! The master reports events (frameworks and agents come and go, offers are declined,
//! tasks end) and calls [`Allocator::allocate`] once per allocation interval; each call
//! returns the [`Allocation`]s the master turns into offers. There is no clock, no I/O and
//! no randomness from outside: time is the `now` argument (measured from the master's
//! start) and the agent order is shuffled from [`AllocatorConfig::seed`].
//!
//! ```text
//!  add/remove/activate framework or agent ─┐
//!  recover_resources (+ refuse filter) ────┤   ┌────────────────────────────────────────┐
//!  suppress / revive / weights / quota ────┴──▶│ state: agents (available, allocations,  │
//!                                              │ filters), roles ─▶ frameworks in DRF    │
//!  allocate(now) ─────────────────────────────▶│ order; dirty agents; filter expiries    │
//!          ◀── Vec<Allocation> ────────────────└────────────────────────────────────────┘
//!  per dirty agent (shuffled): roles by share/weight ─▶ frameworks by share ─▶ first one
//!  neither filtered, suppressed nor inactive gets all the agent offers that role
//! ```
//!
//! Allocated resources stay allocated until recovered; the master decides whether they
//! are outstanding offers or running tasks.
//!
//! Scale: frameworks, agents and framework-in-role "clients" are small integer slots; each
//! role keeps its offerable frameworks sorted and a cycle re-sorts only what changed. A
//! cycle visits only agents whose situation changed (resources came back, a filter
//! expired, the agent was added or activated) unless something global changed (a
//! framework was added, activated or revived, a quota changed). Filters are answered from
//! a per-agent bitset (see [`filters`]), and their expiry comes from one queue, so a cycle
//! after which nothing changed costs almost nothing.

mod filters;
mod quantities;
mod slab;
mod sorter;
#[cfg(test)]
mod tests;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use mesos_common::resources::{
    parse_min_allocatable, validate_role, ParseError, Resource, ResourceQuantities, ResourceSum,
    Resources, Scalar, Value, DEFAULT_ROLE,
};
use thiserror::Error;

use filters::AgentFilters;
use quantities::{NameId, Names, Quantities};
use slab::{IdMap, IdSet, Idx, Slab};
use sorter::Sorter;

/// Mesos caps `refuse_seconds` at a year.
const MAX_REFUSAL: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, Clone, PartialEq)]
pub struct AllocatorConfig {
    /// Offers smaller than all of these alternatives are not made (`cpus:0.01|mem:32`).
    /// Empty: any non-empty offer is made.
    pub min_allocatable_resources: Vec<ResourceQuantities>,
    /// Resource names left out of dominant shares (`--fair_sharing_excluded_resource_names`).
    pub fair_sharing_excluded_resource_names: Vec<String>,
    /// Filters last at least this long: they are only looked at when allocating.
    pub allocation_interval: Duration,
    /// Seeds the agent shuffle of each cycle.
    pub seed: u64,
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        AllocatorConfig {
            min_allocatable_resources: parse_min_allocatable("cpus:0.01|mem:32")
                .expect("the default is valid"),
            fair_sharing_excluded_resource_names: Vec::new(),
            allocation_interval: Duration::from_secs(1),
            seed: 0,
        }
    }
}

/// What the allocator needs to know of a framework.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameworkSpec {
    pub roles: Vec<String>,
    /// Roles (among `roles`) in which the framework wants no offers for now.
    pub suppressed_roles: Vec<String>,
}

/// What the allocator needs to know of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    pub hostname: String,
    pub total: Resources,
}

/// Where the allocator keeps an agent (see [`Allocator::agent_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentSlot(Idx);

/// Resources of one agent given to one framework in one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub framework_id: String,
    pub agent_id: String,
    pub role: String,
    pub resources: Resources,
}

/// One row of `/master/roles`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleShare {
    pub role: String,
    pub weight: f64,
    /// The role's dominant share of the cluster (not divided by the weight).
    pub dominant_share: f64,
    /// Scalars allocated to the role's frameworks.
    pub allocated: ResourceQuantities,
    pub quota: Option<ResourceQuantities>,
    /// Frameworks subscribed to the role or holding resources in it, sorted.
    pub frameworks: Vec<String>,
}

/// A call that does not fit the allocator's state. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AllocatorError {
    #[error("unknown framework {0}")]
    UnknownFramework(String),
    #[error("unknown agent {0}")]
    UnknownAgent(String),
    #[error("framework {0} was already added")]
    DuplicateFramework(String),
    #[error("agent {0} was already added")]
    DuplicateAgent(String),
    #[error(transparent)]
    InvalidRole(#[from] ParseError),
    #[error("weight {weight} of role '{role}' is not a positive number")]
    InvalidWeight { role: String, weight: f64 },
    #[error("{resources} on agent {agent_id} are not allocated to framework {framework_id}")]
    NotAllocated {
        framework_id: String,
        agent_id: String,
        resources: String,
    },
    #[error("agent {agent_id} reports {used} in use, more than its total {total}")]
    Overcommitted {
        agent_id: String,
        used: String,
        total: String,
    },
}

#[derive(Debug)]
struct Framework {
    id: String,
    /// False while the framework is known only from an agent's report after a failover.
    registered: bool,
    active: bool,
    roles: Vec<String>,
    clients: Vec<Idx>,
}

/// A framework within one role: the unit the role's DRF sorter orders.
#[derive(Debug)]
struct Client {
    framework: Idx,
    role: Idx,
    subscribed: bool,
    suppressed: bool,
    /// Registered, active, subscribed and not suppressed: listed in the role's sorter.
    offerable: bool,
    allocated: Quantities,
    /// What it holds on all agents together, kept up to date so that the state views need
    /// not add up 50,000 agents ([`Allocator::framework_allocated`]).
    allocated_sum: ResourceSum,
    share: f64,
    /// Agents where the client holds resources.
    agents: IdSet,
    /// Number of filters per agent.
    filters: IdMap<u32>,
}

#[derive(Debug)]
struct Role {
    name: String,
    weight: f64,
    weight_set: bool,
    quota: Option<ResourceQuantities>,
    limits: Vec<(NameId, i64)>,
    allocated: Quantities,
    allocated_unreserved: Quantities,
    /// Static reservations to this role in the agents' totals; they count against quota
    /// whether or not they are allocated, as in Mesos.
    reserved: Quantities,
    /// Dominant share divided by weight.
    share: f64,
    clients: Vec<Idx>,
    sorter: Sorter,
}

impl Role {
    /// How much more of `name` unreserved the role may get, if it has a limit for it.
    fn headroom(&self, name: NameId) -> Option<i64> {
        self.limits
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, limit)| {
                (limit - self.reserved.get(name) - self.allocated_unreserved.get(name)).max(0)
            })
    }
}

#[derive(Debug)]
struct Agent {
    id: String,
    hostname: String,
    total: Resources,
    available: Resources,
    active: bool,
    /// Something changed that may let this agent offer more.
    dirty: bool,
    allocations: Vec<(Idx, Resources)>,
    /// Changes with `allocations`, to a number no agent had before (see
    /// [`Allocator::agent_revision`]).
    revision: u64,
    filters: AgentFilters,
}

/// The allocator. See the module documentation.
#[derive(Debug)]
pub struct Allocator {
    min_allocatable: Vec<Vec<(NameId, i64)>>,
    allocation_interval: Duration,
    names: Names,
    frameworks: Slab<Framework>,
    framework_ids: HashMap<String, Idx>,
    clients: Slab<Client>,
    roles: Vec<Role>,
    role_ids: HashMap<String, Idx>,
    /// Roles with at least one offerable client.
    role_order: Sorter,
    agents: Slab<Agent>,
    agent_ids: HashMap<String, Idx>,
    totals: Quantities,
    /// Totals changed: every share must be recomputed.
    shares_stale: bool,
    /// Something changed that may let any agent offer more.
    all_dirty: bool,
    /// The agents whose `dirty` flag was set since the last cycle (each once; an index
    /// may be stale if its agent was removed), so a cycle visits them without a scan.
    dirty_agents: Vec<Idx>,
    expiries: BinaryHeap<Reverse<(Duration, u64, Idx)>>,
    live_filters: usize,
    next_filter_id: u64,
    /// The last agent revision handed out.
    revision: u64,
    rng: u64,
    agent_order: Vec<Idx>,
    touched_roles: Vec<Idx>,
    offer_scratch: Quantities,
}

fn client_order<'a>(
    clients: &'a Slab<Client>,
    frameworks: &'a Slab<Framework>,
) -> impl Fn(Idx, Idx) -> Ordering + 'a {
    move |a, b| {
        let (ca, cb) = (clients.get(a), clients.get(b));
        ca.share.total_cmp(&cb.share).then_with(|| {
            frameworks
                .get(ca.framework)
                .id
                .cmp(&frameworks.get(cb.framework).id)
        })
    }
}

fn role_order(roles: &[Role]) -> impl Fn(Idx, Idx) -> Ordering + '_ {
    move |a, b| {
        let (ra, rb) = (&roles[a as usize], &roles[b as usize]);
        ra.share
            .total_cmp(&rb.share)
            .then_with(|| ra.name.cmp(&rb.name))
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

fn shuffle(items: &mut [Idx], state: &mut u64) {
    for i in (1..items.len()).rev() {
        let j = (next_random(state) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn validate_spec(spec: &FrameworkSpec) -> Result<(), AllocatorError> {
    for role in spec.roles.iter().chain(&spec.suppressed_roles) {
        validate_role(role)?;
    }
    Ok(())
}

impl Allocator {
    pub fn new(config: AllocatorConfig) -> Allocator {
        let mut names = Names::new(&config.fair_sharing_excluded_resource_names);
        let min_allocatable = config
            .min_allocatable_resources
            .iter()
            .map(|alt| {
                alt.iter()
                    .map(|(name, amount)| (names.id(name), amount.millis()))
                    .collect()
            })
            .collect();
        Allocator {
            min_allocatable,
            allocation_interval: config.allocation_interval,
            names,
            frameworks: Slab::default(),
            framework_ids: HashMap::new(),
            clients: Slab::default(),
            roles: Vec::new(),
            role_ids: HashMap::new(),
            role_order: Sorter::default(),
            agents: Slab::default(),
            agent_ids: HashMap::new(),
            totals: Quantities::default(),
            shares_stale: false,
            all_dirty: false,
            dirty_agents: Vec::new(),
            expiries: BinaryHeap::new(),
            live_filters: 0,
            next_filter_id: 0,
            revision: 0,
            rng: config.seed,
            agent_order: Vec::new(),
            touched_roles: Vec::new(),
            offer_scratch: Quantities::default(),
        }
    }

    // ------------------------------------------------------------------------ frameworks

    /// A framework subscribed (or was recovered from an agent's report, `active == false`).
    /// Resources it already holds come with [`Allocator::add_agent`]'s `used`.
    pub fn add_framework(
        &mut self,
        framework_id: &str,
        spec: FrameworkSpec,
        active: bool,
    ) -> Result<(), AllocatorError> {
        validate_spec(&spec)?;
        let f = match self.framework_ids.get(framework_id) {
            Some(&f) if self.frameworks.get(f).registered => {
                return Err(AllocatorError::DuplicateFramework(framework_id.to_string()))
            }
            Some(&f) => f,
            None => self.insert_framework(framework_id),
        };
        let framework = self.frameworks.get_mut(f);
        framework.registered = true;
        framework.active = active;
        self.apply_spec(f, &spec);
        self.all_dirty = true;
        Ok(())
    }

    /// The framework changed its roles or suppressed roles (re-subscription or
    /// UPDATE_FRAMEWORK). Filters of roles it left are dropped.
    pub fn update_framework(
        &mut self,
        framework_id: &str,
        spec: FrameworkSpec,
    ) -> Result<(), AllocatorError> {
        validate_spec(&spec)?;
        let f = self.framework(framework_id)?;
        self.apply_spec(f, &spec);
        self.all_dirty = true;
        Ok(())
    }

    /// The framework is gone: everything it holds becomes available again.
    pub fn remove_framework(&mut self, framework_id: &str) -> Result<(), AllocatorError> {
        let f = self.framework(framework_id)?;
        let framework = self.frameworks.remove(f);
        self.framework_ids.remove(framework_id);
        for c in framework.clients {
            let agents: Vec<Idx> = self.clients.get(c).agents.iter().copied().collect();
            for a in agents {
                let held = self.agents.get(a).allocation_of(c).cloned();
                if let Some(held) = held {
                    self.untrack(c, a, &held);
                }
            }
            self.destroy_client(c);
        }
        self.role_order.mark_stale();
        Ok(())
    }

    /// The framework is connected again and may receive offers.
    pub fn activate_framework(&mut self, framework_id: &str) -> Result<(), AllocatorError> {
        let f = self.framework(framework_id)?;
        self.frameworks.get_mut(f).active = true;
        for c in self.frameworks.get(f).clients.clone() {
            self.refresh_offerable(c);
        }
        self.all_dirty = true;
        Ok(())
    }

    /// The framework disconnected: no offers, but it keeps what it holds. Its filters are
    /// dropped, as Mesos does, since its outstanding offers are rescinded anyway.
    pub fn deactivate_framework(&mut self, framework_id: &str) -> Result<(), AllocatorError> {
        let f = self.framework(framework_id)?;
        self.frameworks.get_mut(f).active = false;
        for c in self.frameworks.get(f).clients.clone() {
            self.remove_client_filters(c);
            self.refresh_offerable(c);
        }
        Ok(())
    }

    /// SUPPRESS: no offers in `roles` (all the framework's roles when `None`).
    pub fn suppress(
        &mut self,
        framework_id: &str,
        roles: Option<Vec<String>>,
    ) -> Result<(), AllocatorError> {
        let f = self.framework(framework_id)?;
        for c in self.subscribed_clients(f, roles.as_deref()) {
            self.clients.get_mut(c).suppressed = true;
            self.refresh_offerable(c);
        }
        Ok(())
    }

    /// REVIVE: offers again in `roles` (all when `None`), with their filters cleared.
    pub fn revive(
        &mut self,
        framework_id: &str,
        roles: Option<Vec<String>>,
    ) -> Result<(), AllocatorError> {
        let f = self.framework(framework_id)?;
        for c in self.subscribed_clients(f, roles.as_deref()) {
            self.remove_client_filters(c);
            self.clients.get_mut(c).suppressed = false;
            self.refresh_offerable(c);
        }
        self.all_dirty = true;
        Ok(())
    }

    // ---------------------------------------------------------------------------- agents

    /// An agent registered. `used` is what its running tasks and executors hold, per
    /// framework (after a master failover); frameworks not yet known are remembered until
    /// they come back or are removed. Used resources are charged to the framework's
    /// role they are reserved to, else to its first role (`*` if it has none yet).
    pub fn add_agent(
        &mut self,
        agent_id: &str,
        spec: AgentSpec,
        used: impl IntoIterator<Item = (String, Resources)>,
    ) -> Result<(), AllocatorError> {
        if self.agent_ids.contains_key(agent_id) {
            return Err(AllocatorError::DuplicateAgent(agent_id.to_string()));
        }
        let mut used: Vec<(String, Resources)> =
            used.into_iter().filter(|(_, r)| !r.is_empty()).collect();
        // Sorted so that slots given to recovered frameworks do not depend on hash order.
        used.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sum = Resources::new();
        for (_, r) in &used {
            sum.add(r);
        }
        if !spec.total.contains(&sum) {
            return Err(AllocatorError::Overcommitted {
                agent_id: agent_id.to_string(),
                used: sum.to_string(),
                total: spec.total.to_string(),
            });
        }
        for r in spec.total.iter() {
            self.names.id(&r.name);
        }
        self.account_total(&spec.total, 1);
        self.revision += 1;
        let a = self.agents.insert(Agent {
            id: agent_id.to_string(),
            hostname: spec.hostname,
            available: spec.total.clone(),
            total: spec.total,
            active: true,
            dirty: true,
            allocations: Vec::new(),
            revision: self.revision,
            filters: AgentFilters::default(),
        });
        self.agent_ids.insert(agent_id.to_string(), a);
        self.dirty_agents.push(a);
        for (framework_id, resources) in used {
            let f = match self.framework_ids.get(&framework_id) {
                Some(&f) => f,
                None => self.insert_framework(&framework_id),
            };
            for (role, part) in self.charge_roles(f, &resources) {
                let c = self.client(f, &role);
                self.track(c, a, &part);
                self.roles[self.clients.get(c).role as usize]
                    .sorter
                    .mark_stale();
            }
        }
        self.role_order.mark_stale();
        Ok(())
    }

    /// The agent is gone with everything on it.
    pub fn remove_agent(&mut self, agent_id: &str) -> Result<(), AllocatorError> {
        let a = self.agent(agent_id)?;
        let agent = self.agents.remove(a);
        self.agent_ids.remove(agent_id);
        for c in agent.filters.clients() {
            if let Some(n) = self.clients.get_mut(c).filters.remove(&a) {
                self.live_filters -= n as usize;
            }
        }
        for (c, held) in &agent.allocations {
            let client = self.clients.get_mut(*c);
            client.agents.remove(&a);
            self.account(*c, held, -1);
            self.gc_client(*c);
        }
        self.account_total(&agent.total, -1);
        self.compact_expiries();
        Ok(())
    }

    /// The agent is connected again; its resources may be offered.
    pub fn activate_agent(&mut self, agent_id: &str) -> Result<(), AllocatorError> {
        let a = self.agent(agent_id)?;
        self.agents.get_mut(a).active = true;
        self.mark_dirty(a);
        Ok(())
    }

    /// The agent disconnected (or is draining): nothing on it is offered.
    pub fn deactivate_agent(&mut self, agent_id: &str) -> Result<(), AllocatorError> {
        let a = self.agent(agent_id)?;
        self.agents.get_mut(a).active = false;
        Ok(())
    }

    // ------------------------------------------------------------------------ resources

    /// Resources allocated to the framework on the agent come back: an offer was declined,
    /// rescinded or partly used, or a task ended. With `refuse`, the framework is not
    /// offered that agent again (in that role) for that long while the agent has nothing
    /// beyond the refused resources; the filter lasts at least one allocation interval
    /// and at most a year. The role is the framework's role whose allocation on the agent
    /// holds the resources.
    pub fn recover_resources(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Duration,
    ) -> Result<(), AllocatorError> {
        if resources.is_empty() {
            return Ok(());
        }
        let f = self.framework(framework_id)?;
        let a = self.agent(agent_id)?;
        let c = self
            .agents
            .get(a)
            .allocations
            .iter()
            .find(|(c, held)| self.clients.get(*c).framework == f && held.contains(resources))
            .map(|(c, _)| *c)
            .ok_or_else(|| AllocatorError::NotAllocated {
                framework_id: framework_id.to_string(),
                agent_id: agent_id.to_string(),
                resources: resources.to_string(),
            })?;
        self.untrack(c, a, resources);
        if let Some(refuse) = refuse.filter(|d| !d.is_zero()) {
            if self.clients.get(c).subscribed {
                self.add_filter(c, a, resources.clone(), refuse, now);
            }
        }
        self.gc_client(c);
        Ok(())
    }

    // -------------------------------------------------------------------- roles, quota

    /// Sets role weights (default 1): a role's share is divided by its weight.
    pub fn set_weights(&mut self, weights: Vec<(String, f64)>) -> Result<(), AllocatorError> {
        for (role, weight) in &weights {
            validate_role(role)?;
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(AllocatorError::InvalidWeight {
                    role: role.clone(),
                    weight: *weight,
                });
            }
        }
        for (role, weight) in weights {
            let r = self.role(&role) as usize;
            self.roles[r].weight = weight;
            self.roles[r].weight_set = true;
            self.roles[r].share = self.roles[r]
                .allocated
                .dominant_share(&self.totals, &self.names)
                / weight;
        }
        self.role_order.mark_stale();
        Ok(())
    }

    /// The weights set with [`Allocator::set_weights`].
    pub fn weights(&self) -> HashMap<String, f64> {
        self.roles
            .iter()
            .filter(|r| r.weight_set)
            .map(|r| (r.name.clone(), r.weight))
            .collect()
    }

    /// Limits what a role may hold: unreserved scalars offered to it are cut so that its
    /// allocation plus its reservations stay within `limits`. Empty limits remove the quota.
    pub fn set_quota(
        &mut self,
        role: &str,
        limits: ResourceQuantities,
    ) -> Result<(), AllocatorError> {
        validate_role(role)?;
        let r = self.role(role) as usize;
        let names = &mut self.names;
        self.roles[r].limits = limits
            .iter()
            .map(|(name, amount)| (names.id(name), amount.millis()))
            .collect();
        self.roles[r].quota = (!limits.is_empty()).then_some(limits);
        self.all_dirty = true;
        Ok(())
    }

    // ----------------------------------------------------------------------- allocation

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

    // -------------------------------------------------------------------------- queries

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

    // -------------------------------------------------------------------------- helpers

    fn framework(&self, framework_id: &str) -> Result<Idx, AllocatorError> {
        self.framework_ids
            .get(framework_id)
            .copied()
            .ok_or_else(|| AllocatorError::UnknownFramework(framework_id.to_string()))
    }

    fn agent(&self, agent_id: &str) -> Result<Idx, AllocatorError> {
        self.agent_ids
            .get(agent_id)
            .copied()
            .ok_or_else(|| AllocatorError::UnknownAgent(agent_id.to_string()))
    }

    fn allocation(&self, c: Idx, agent: &Agent, held: &Resources) -> Allocation {
        let client = self.clients.get(c);
        Allocation {
            framework_id: self.frameworks.get(client.framework).id.clone(),
            agent_id: agent.id.clone(),
            role: self.roles[client.role as usize].name.clone(),
            resources: held.clone(),
        }
    }

    fn insert_framework(&mut self, framework_id: &str) -> Idx {
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

    fn role(&mut self, name: &str) -> Idx {
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
    fn client(&mut self, f: Idx, role: &str) -> Idx {
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

    fn apply_spec(&mut self, f: Idx, spec: &FrameworkSpec) {
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

    fn subscribed_clients(&self, f: Idx, roles: Option<&[String]>) -> Vec<Idx> {
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
    fn charge_roles(&self, f: Idx, resources: &Resources) -> Vec<(String, Resources)> {
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
    fn refresh_offerable(&mut self, c: Idx) {
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
    fn gc_client(&mut self, c: Idx) {
        let client = self.clients.get(c);
        if !client.subscribed && client.agents.is_empty() {
            self.destroy_client(c);
        }
    }

    fn destroy_client(&mut self, c: Idx) {
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

    fn mark_dirty(&mut self, a: Idx) {
        let agent = self.agents.get_mut(a);
        if !agent.dirty {
            agent.dirty = true;
            self.dirty_agents.push(a);
        }
    }

    fn track(&mut self, c: Idx, a: Idx, resources: &Resources) {
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
    fn untrack(&mut self, c: Idx, a: Idx, resources: &Resources) {
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
    fn account(&mut self, c: Idx, resources: &Resources, sign: i64) {
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

    fn account_total(&mut self, total: &Resources, sign: i64) {
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

    fn add_filter(&mut self, c: Idx, a: Idx, refused: Resources, refuse: Duration, now: Duration) {
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

    fn expire_filters(&mut self, now: Duration) {
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

    fn remove_client_filters(&mut self, c: Idx) {
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
    fn compact_expiries(&mut self) {
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

impl Agent {
    fn allocation_of(&self, c: Idx) -> Option<&Resources> {
        self.allocations
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, held)| held)
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

/// The sum of what an agent holds for its clients. The first `add` to an empty sum shares
/// the held resources: usually there is only one.
fn sum_held(allocations: &[(Idx, Resources)]) -> Resources {
    let mut sum = Resources::default();
    for (_, held) in allocations {
        sum.add(held);
    }
    sum
}
