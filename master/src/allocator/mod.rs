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
//!
//! Parts: this module holds the state and the events that change it (frameworks, agents,
//! recovered resources, weights, quota); `cycle` is the allocation cycle, `queries`
//! what the allocator answers, `bookkeeping` the slots, accounting and filters the
//! events share.

mod bookkeeping;
mod cycle;
mod filters;
mod quantities;
mod queries;
mod slab;
mod sorter;
#[cfg(test)]
mod tests;

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use mesos_common::resources::{
    parse_min_allocatable, validate_role, ParseError, ResourceQuantities, ResourceSum, Resources,
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
}

impl Agent {
    fn allocation_of(&self, c: Idx) -> Option<&Resources> {
        self.allocations
            .iter()
            .find(|(x, _)| *x == c)
            .map(|(_, held)| held)
    }
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
