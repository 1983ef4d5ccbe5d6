//! Placement: which offers can run which instances, and why not.
//!
//! Pure and synchronous: offers and instances in, launches and rejection reasons out; no I/O,
//! no clock (timestamps are inputs).
//!
//! ```text
//!   Offer (agent, attributes, fault domain, Resources with roles, maintenance)
//!     |
//!     +- filters: role ........ a resource in an accepted role?    UnfulfilledRole
//!     |           constraints . each by name (hostname:UNIQUE);     UnfulfilledConstraint
//!     |                         other regions only if asked for
//!     |           reservation . a resident instance's reservation?  NoCorrespondingReservationFound
//!     |           maintenance . agent draining or in maintenance?   AgentMaintenance
//!     |           scarce GPUs . GPU agent, no GPU need?             DeclinedScarceResources
//!     +- fit:     cpus, mem, disk, gpus, ports (reserved first)     Insufficient*
//!     |           (all run, so a rejection lists every reason; the funnel order picks one)
//!     v
//!   OfferMatch::Used([Launch { resources, host_ports }, ..])   up to min(wanted, per offer);
//!                                                              each sees the earlier ones as
//!                                                              taken and as placed instances
//!   OfferMatch::Unused(Rejection { reasons in funnel order, unmet constraints })
//!     |
//!     v
//!   OfferStats::record -> ProcessedOffersSummary (/v2/queue), last unused offer per agent
//! ```
//!
//! Public API:
//! - [`place`]`(&Offer, &RunSpecNeeds, existing: impl IntoIterator<Item = &Agent>,`
//!   `wanted: usize, &PlacementConfig) -> OfferMatch`
//! - domain inputs: [`Offer`], [`Agent`] (hostname, [`Attribute`]s, [`FaultDomain`]),
//!   [`RunSpecNeeds`], [`Constraint`] (parsed from Marathon's `["field","OP","value"]`,
//!   [`ConstraintError`] with Marathon's messages), [`PlacementConfig`].
//! - outputs: [`OfferMatch`], [`Launch`], [`Rejection`], [`Reason`] (funnel order).
//! - ranking: [`rank`]`(&[&Offer], &AgentLoad, Ranking) -> Vec<&Offer>`, best first, by a
//!   [`Strategy`] (spread, binpack, seeded random; [`STRATEGY_LABEL`] per app), with
//!   [`seed`] for the random one.
//! - statistics: [`OfferStats`] and its serialisable [`ProcessedOffersSummary`] and
//!   [`UnusedOffer`] (Marathon's camelCase JSON).

mod constraint;
mod fit;
mod offer;
mod rank;
mod reason;
mod summary;
#[cfg(test)]
mod testkit;

pub use constraint::{Constraint, ConstraintError, Field, Operator};
pub use fit::{split, Part};
pub use offer::{Agent, Attribute, AttributeValue, FaultDomain, Offer};
pub use rank::{rank, seed, AgentLoad, Ranking, Strategy, UnknownStrategy, STRATEGY_LABEL};
pub use reason::Reason;
pub use summary::{DeclinedOfferStep, OfferStats, ProcessedOffersSummary, UnusedOffer};

use mesos_common::resources::{Resources, DEFAULT_ROLE};

use fit::AcceptedRoles;

/// What one instance of a run spec needs from an offer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSpecNeeds {
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: f64,
    /// Host ports in declared order; 0 = any port from the offer's `ports`.
    pub host_ports: Vec<u16>,
    /// Non-zero host ports must be exactly these numbers. Without it, declared numbers are
    /// service ports and the host ports are any free ones (Marathon's `requirePorts`). For
    /// container port mappings, whose non-zero `hostPort` is always fixed, pass `true`.
    pub require_ports: bool,
    /// `acceptedResourceRoles`; empty = unreserved plus the framework's role.
    pub accepted_roles: Vec<String>,
    pub constraints: Vec<Constraint>,
    /// Set when relaunching a resident instance: only its reservation may be used.
    pub reservation: Option<Reservation>,
}

/// Where a resident instance's resources are reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub agent_id: String,
    pub role: String,
}

/// How GPU agents are treated when a run spec needs no GPUs (`--gpu_scheduling_behavior`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GpuScheduling {
    /// Keep GPU agents for GPU work: decline them for run specs needing none.
    #[default]
    Restricted,
    Unrestricted,
}

/// The scheduler-wide settings placement needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementConfig {
    /// The framework's Mesos role, for the default accepted roles.
    pub framework_role: String,
    /// `--max_instances_per_offer`.
    pub max_instances_per_offer: usize,
    pub gpu_scheduling: GpuScheduling,
    /// The Mesos master's region. Offers from other regions are only for run specs with an
    /// `@region` or `@zone` constraint, as in Marathon. `None`: no region is remote.
    pub local_region: Option<String>,
}

impl Default for PlacementConfig {
    fn default() -> PlacementConfig {
        PlacementConfig {
            framework_role: DEFAULT_ROLE.to_string(),
            max_instances_per_offer: 5,
            gpu_scheduling: GpuScheduling::default(),
            local_region: None,
        }
    }
}

/// One instance to launch from an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Exactly what to take from the offer, each resource with its role.
    pub resources: Resources,
    /// The host ports, in the order the run spec declared them.
    pub host_ports: Vec<u16>,
}

/// Why an offer took no instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    reasons: Vec<Reason>,
    unmet_constraints: Vec<String>,
}

impl Rejection {
    fn new(mut reasons: Vec<Reason>, unmet_constraints: Vec<String>) -> Rejection {
        debug_assert!(!reasons.is_empty(), "a rejection needs a reason");
        reasons.sort_unstable();
        reasons.dedup();
        Rejection {
            reasons,
            unmet_constraints,
        }
    }

    /// The reason the statistics count: the earliest in the funnel.
    pub fn reason(&self) -> Reason {
        self.reasons[0]
    }

    /// Every reason the offer failed for, in funnel order, each once.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The constraints the agent did not meet, as `field:OPERATOR[:value]`.
    pub fn unmet_constraints(&self) -> &[String] {
        &self.unmet_constraints
    }
}

/// What one offer gives a run spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferMatch {
    /// Instances to launch, at least one (none only when none were wanted).
    Used(Vec<Launch>),
    Unused(Rejection),
}

/// Places up to `min(wanted, max_instances_per_offer)` instances on one offer.
///
/// `existing` gives the agent of every instance the run spec already has (one per instance,
/// e.g. `instances.iter().map(|i| &i.agent)`), for constraints. Each launch after the first
/// sees the earlier ones as taken resources and as instances on the offer's agent, so
/// `hostname:UNIQUE` gives at most one.
pub fn place<'a>(
    offer: &'a Offer,
    needs: &RunSpecNeeds,
    existing: impl IntoIterator<Item = &'a Agent>,
    wanted: usize,
    config: &PlacementConfig,
) -> OfferMatch {
    let roles = match &needs.reservation {
        Some(reservation) => AcceptedRoles::only(&reservation.role),
        None => AcceptedRoles::new(&needs.accepted_roles, &config.framework_role),
    };
    let per_offer = per_offer_limit(needs, config);
    let mut placed: Vec<&Agent> = existing.into_iter().collect();
    let mut available = offer.resources.clone();
    let mut launches = Vec::new();
    while launches.len() < wanted.min(per_offer) {
        match match_one(offer, &available, needs, &placed, &roles, config) {
            Ok(launch) => {
                available = available.minus(&launch.resources);
                placed.push(&offer.agent);
                launches.push(launch);
            }
            Err(rejection) if launches.is_empty() => return OfferMatch::Unused(rejection),
            Err(_) => break,
        }
    }
    OfferMatch::Used(launches)
}

/// How many instances of a run spec one offer may take: `--max_instances_per_offer`, and one
/// for a reservation.
pub fn per_offer_limit(needs: &RunSpecNeeds, config: &PlacementConfig) -> usize {
    if needs.reservation.is_some() {
        1
    } else {
        config.max_instances_per_offer
    }
}

/// What the filters look at: one offer for one more instance of a run spec.
struct Candidate<'a> {
    offer: &'a Offer,
    needs: &'a RunSpecNeeds,
    roles: &'a AcceptedRoles,
    config: &'a PlacementConfig,
    /// Computed once: the filter needs only whether it is empty, the rejection the names.
    unmet_constraints: &'a [String],
}

/// A filter passes an offer, or the offer is rejected for the filter's reason.
type Filter = fn(&Candidate<'_>) -> bool;

/// The filters before the resource fit.
const FILTERS: [(Reason, Filter); 5] = [
    (Reason::UnfulfilledRole, has_accepted_role),
    (Reason::UnfulfilledConstraint, meets_constraints),
    (Reason::NoCorrespondingReservationFound, has_reservation),
    (Reason::AgentMaintenance, is_available),
    (Reason::DeclinedScarceResources, leaves_no_gpus_idle),
];

/// Runs one instance through the filters and the fit. Every filter is evaluated, so a
/// rejection lists all its reasons; the funnel picks the one that counts.
fn match_one(
    offer: &Offer,
    available: &Resources,
    needs: &RunSpecNeeds,
    placed: &[&Agent],
    roles: &AcceptedRoles,
    config: &PlacementConfig,
) -> Result<Launch, Rejection> {
    let unmet = unmet_constraints(offer, needs, placed, config);
    let candidate = Candidate {
        offer,
        needs,
        roles,
        config,
        unmet_constraints: &unmet,
    };
    let mut reasons: Vec<Reason> = FILTERS
        .iter()
        .filter(|(_, passes)| !passes(&candidate))
        .map(|(reason, _)| *reason)
        .collect();
    match fit::fit(available, needs, roles) {
        Ok(fit) if reasons.is_empty() => Ok(Launch {
            resources: fit.resources,
            host_ports: fit.host_ports,
        }),
        Ok(_) => Err(Rejection::new(reasons, unmet)),
        Err(short) => {
            reasons.extend(short);
            Err(Rejection::new(reasons, unmet))
        }
    }
}

fn has_accepted_role(c: &Candidate<'_>) -> bool {
    c.offer.resources.iter().any(|r| c.roles.accepts(&r.role))
}

fn meets_constraints(c: &Candidate<'_>) -> bool {
    c.unmet_constraints.is_empty()
}

/// A resident instance's reservation is in the offer (always true for other instances).
fn has_reservation(c: &Candidate<'_>) -> bool {
    c.needs.reservation.as_ref().is_none_or(|reservation| {
        c.offer.agent.id == reservation.agent_id
            && c.offer
                .resources
                .iter()
                .any(|r| r.is_reserved() && r.role == reservation.role)
    })
}

fn is_available(c: &Candidate<'_>) -> bool {
    !c.offer.maintenance
}

/// A run spec needing no GPUs stays off GPU agents, unless GPU scheduling is unrestricted.
fn leaves_no_gpus_idle(c: &Candidate<'_>) -> bool {
    c.config.gpu_scheduling == GpuScheduling::Unrestricted
        || c.needs.gpus > 0.0
        || c.offer.resources.gpus().is_none_or(|gpus| gpus <= 0.0)
}

/// The constraints the offer's agent does not meet, by name.
fn unmet_constraints(
    offer: &Offer,
    needs: &RunSpecNeeds,
    placed: &[&Agent],
    config: &PlacementConfig,
) -> Vec<String> {
    let mut unmet: Vec<String> = needs
        .constraints
        .iter()
        .filter(|c| !c.is_met(&offer.agent, placed))
        .map(Constraint::to_string)
        .collect();
    if let Some(local) = remote_region(offer, needs, config) {
        // Marathon gives no reason here; it is an implied constraint, so it is named as one.
        unmet.push(format!("@region:IS:{local}"));
    }
    unmet
}

/// The local region, when the offer comes from another one and the run spec does not ask for
/// regions or zones itself.
fn remote_region<'a>(
    offer: &Offer,
    needs: &RunSpecNeeds,
    config: &'a PlacementConfig,
) -> Option<&'a str> {
    let local = config.local_region.as_deref()?;
    let region = offer.agent.region()?;
    let chooses_domain = needs
        .constraints
        .iter()
        .any(|c| matches!(c.source(), Field::Region | Field::Zone));
    (region != local && !chooses_domain).then_some(local)
}

#[cfg(test)]
mod tests;
