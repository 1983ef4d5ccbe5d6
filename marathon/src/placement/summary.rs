//! Offer statistics per run spec, for `/v2/queue`'s `processedOffersSummary` and
//! `embed=lastUnusedOffers`, and for a human "why is it waiting" line.
//!
//! The scheduler keeps one [`OfferStats`] per queued run spec and calls
//! [`OfferStats::record`] with every offer's [`OfferMatch`]. The summary shapes serialise to
//! Marathon's JSON (camelCase, ISO-8601 timestamps with milliseconds, optional timestamps
//! left out).
//!
//! Each offer counts once, under its earliest reason in the funnel. A rejection summary lists
//! every funnel reason in order with `processed` = offers still in the funnel at that step:
//! `processed(first)` = offers considered, `processed(n) = processed(n-1) - declined(n-1)`.
//!
//! Where this differs from Marathon: `rejectSummaryLastOffers` looks at the last offer from
//! each agent whether it was used or not (Marathon keeps an agent's last unused offer even
//! after a later offer from it was used), so its chain ends at the agents whose last offer was
//! used.

use std::collections::BTreeMap;

use mesos_common::resources::Value;
use serde::{Serialize, Serializer};

use super::offer::{AttributeValue, Offer};
use super::{OfferMatch, Reason, Rejection};

/// One step of the funnel in a rejection summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeclinedOfferStep {
    pub reason: Reason,
    pub declined: u64,
    pub processed: u64,
}

/// `processedOffersSummary` of a `/v2/queue` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessedOffersSummary {
    pub processed_offers_count: u64,
    pub unused_offers_count: u64,
    /// Milliseconds since the epoch.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_timestamp_opt"
    )]
    pub last_unused_offer_at: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "iso_timestamp_opt"
    )]
    pub last_used_offer_at: Option<i64>,
    pub reject_summary_last_offers: Vec<DeclinedOfferStep>,
    pub reject_summary_launch_attempt: Vec<DeclinedOfferStep>,
}

/// The last offer from one agent that took no instance, for `embed=lastUnusedOffers`:
/// `{"offer":{id,agentId,hostname,resources,attributes},"reason":[...],"timestamp"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedOffer {
    pub offer: Offer,
    pub rejection: Rejection,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// Counts one run spec's offers during a launch attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferStats {
    processed_offers: u64,
    unused_offers: u64,
    last_unused_offer_at: Option<i64>,
    last_used_offer_at: Option<i64>,
    /// This launch attempt's unused offers by the reason that counted.
    declined: [u64; Reason::FUNNEL.len()],
    /// By agent id: why the agent's last offer was not used, `None` if it was.
    last_offers: BTreeMap<String, Option<Rejection>>,
    /// By agent id: the agent's last unused offer.
    last_unused: BTreeMap<String, UnusedOffer>,
}

impl OfferStats {
    /// Counts one processed offer at `now` (milliseconds since the epoch). An offer from which
    /// no instance was wanted (`Used` with no launches) is not counted.
    pub fn record(&mut self, offer: &Offer, result: &OfferMatch, now: i64) {
        let agent = offer.agent.id.clone();
        match result {
            OfferMatch::Used(launches) if launches.is_empty() => {}
            OfferMatch::Used(_) => {
                self.processed_offers += 1;
                self.last_used_offer_at = Some(now);
                self.last_offers.insert(agent, None);
            }
            OfferMatch::Unused(rejection) => {
                self.processed_offers += 1;
                self.unused_offers += 1;
                self.last_unused_offer_at = Some(now);
                self.declined[rejection.reason().index()] += 1;
                self.last_offers
                    .insert(agent.clone(), Some(rejection.clone()));
                self.last_unused.insert(
                    agent,
                    UnusedOffer {
                        offer: offer.clone(),
                        rejection: rejection.clone(),
                        timestamp: now,
                    },
                );
            }
        }
    }

    /// Starts counting a new launch attempt: the offer counts and the attempt's reject summary
    /// start from zero; what is known per agent is kept. (Marathon drops a run spec's
    /// statistics altogether once its queue entry is done; dropping the `OfferStats` does
    /// that.)
    pub fn start_launch_attempt(&mut self) {
        self.processed_offers = 0;
        self.unused_offers = 0;
        self.declined = [0; Reason::FUNNEL.len()];
    }

    pub fn summary(&self) -> ProcessedOffersSummary {
        let mut last = [0u64; Reason::FUNNEL.len()];
        for rejection in self.last_offers.values().flatten() {
            last[rejection.reason().index()] += 1;
        }
        ProcessedOffersSummary {
            processed_offers_count: self.processed_offers,
            unused_offers_count: self.unused_offers,
            last_unused_offer_at: self.last_unused_offer_at,
            last_used_offer_at: self.last_used_offer_at,
            reject_summary_last_offers: funnel(self.last_offers.len() as u64, &last),
            reject_summary_launch_attempt: funnel(self.processed_offers, &self.declined),
        }
    }

    /// The last unused offer of every agent, by agent id.
    pub fn last_unused_offers(&self) -> impl Iterator<Item = &UnusedOffer> {
        self.last_unused.values()
    }

    /// Each constraint that agents' last offers did not meet, with how many agents, most
    /// first (then by name).
    pub fn unmet_constraints(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for rejection in self.last_offers.values().flatten() {
            for c in rejection.unmet_constraints() {
                *counts.entry(c).or_default() += 1;
            }
        }
        let mut out: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(c, n)| (c.to_string(), n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Why the run spec is waiting, from each agent's last offer, e.g. `last offers of 3
    /// agents: 2 not used: constraint hostname:UNIQUE on 2 agents`. `None` while no agent's
    /// last offer was turned down.
    pub fn waiting_reason(&self) -> Option<String> {
        let unused: Vec<&Rejection> = self.last_offers.values().flatten().collect();
        if unused.is_empty() {
            return None;
        }
        let agents = |n: usize| {
            if n == 1 {
                "1 agent".to_string()
            } else {
                format!("{n} agents")
            }
        };
        let mut parts = Vec::new();
        for reason in Reason::FUNNEL {
            let n = unused.iter().filter(|r| r.reason() == reason).count();
            if n == 0 {
                continue;
            }
            if reason == Reason::UnfulfilledConstraint {
                for (constraint, on) in self.unmet_constraints() {
                    parts.push(format!("constraint {constraint} on {}", agents(on)));
                }
            } else {
                parts.push(format!("{reason} on {}", agents(n)));
            }
        }
        Some(format!(
            "last offers of {}: {} not used: {}",
            agents(self.last_offers.len()),
            unused.len(),
            parts.join(", ")
        ))
    }
}

/// Every funnel reason in order with the offers it declined and the offers that reached it.
fn funnel(considered: u64, declined: &[u64; Reason::FUNNEL.len()]) -> Vec<DeclinedOfferStep> {
    let mut processed = considered;
    Reason::FUNNEL
        .iter()
        .map(|&reason| {
            let step = DeclinedOfferStep {
                reason,
                declined: declined[reason.index()],
                processed,
            };
            processed = processed.saturating_sub(step.declined);
            step
        })
        .collect()
}

/// Marathon's timestamp form, `2017-05-24T14:32:51.013Z`.
pub(crate) fn iso_timestamp(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn iso_timestamp_opt<S: Serializer>(millis: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match millis {
        Some(m) => s.serialize_str(&iso_timestamp(*m)),
        None => s.serialize_none(),
    }
}

// --- embed=lastUnusedOffers JSON ------------------------------------------------------------

#[derive(Serialize)]
struct NumberRange {
    begin: u64,
    end: u64,
}

#[derive(Serialize)]
struct OfferResourceJson<'a> {
    name: &'a str,
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scalar: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ranges: Option<Vec<NumberRange>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
struct AgentAttributeJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scalar: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ranges: Option<Vec<NumberRange>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set: Option<Vec<&'a str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OfferJson<'a> {
    id: &'a str,
    agent_id: &'a str,
    hostname: &'a str,
    resources: Vec<OfferResourceJson<'a>>,
    attributes: Vec<AgentAttributeJson<'a>>,
}

#[derive(Serialize)]
struct UnusedOfferJson<'a> {
    offer: OfferJson<'a>,
    reason: &'a [Reason],
    timestamp: String,
}

fn number_ranges(ranges: &mesos_common::resources::Ranges) -> Vec<NumberRange> {
    ranges
        .ranges()
        .iter()
        .map(|r| NumberRange {
            begin: r.begin,
            end: r.end,
        })
        .collect()
}

impl Serialize for UnusedOffer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let offer = &self.offer;
        let resources = offer
            .resources
            .iter()
            .map(|r| {
                let mut json = OfferResourceJson {
                    name: &r.name,
                    role: &r.role,
                    scalar: None,
                    ranges: None,
                    set: None,
                };
                match &r.value {
                    Value::Scalar(v) => json.scalar = Some(v.value()),
                    Value::Ranges(v) => json.ranges = Some(number_ranges(v)),
                    Value::Set(v) => json.set = Some(v.iter().map(String::as_str).collect()),
                }
                json
            })
            .collect();
        let attributes = offer
            .agent
            .attributes
            .iter()
            .map(|a| {
                let mut json = AgentAttributeJson {
                    name: &a.name,
                    text: None,
                    scalar: None,
                    ranges: None,
                    set: None,
                };
                match &a.value {
                    AttributeValue::Text(t) => json.text = Some(t),
                    AttributeValue::Scalar(v) => json.scalar = Some(v.value()),
                    AttributeValue::Ranges(v) => json.ranges = Some(number_ranges(v)),
                    AttributeValue::Set(v) => {
                        json.set = Some(v.iter().map(String::as_str).collect())
                    }
                }
                json
            })
            .collect();
        UnusedOfferJson {
            offer: OfferJson {
                id: &offer.id,
                agent_id: &offer.agent.id,
                hostname: &offer.agent.hostname,
                resources,
                attributes,
            },
            reason: self.rejection.reasons(),
            timestamp: iso_timestamp(self.timestamp),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::testkit::{agent, config, offer, spec};
    use crate::placement::{place, Launch};
    use mesos_common::resources::Resources;

    fn used() -> OfferMatch {
        OfferMatch::Used(vec![Launch {
            resources: Resources::new(),
            host_ports: vec![],
        }])
    }

    fn unused(reasons: &[Reason]) -> OfferMatch {
        OfferMatch::Unused(Rejection::new(reasons.to_vec(), vec![]))
    }

    fn steps(summary: &[DeclinedOfferStep]) -> Vec<(Reason, u64, u64)> {
        summary
            .iter()
            .map(|s| (s.reason, s.declined, s.processed))
            .collect()
    }

    #[test]
    fn empty_stats_list_every_reason_with_zeros() {
        let summary = OfferStats::default().summary();
        assert_eq!(summary.processed_offers_count, 0);
        let want: Vec<_> = Reason::FUNNEL.iter().map(|&r| (r, 0, 0)).collect();
        assert_eq!(steps(&summary.reject_summary_launch_attempt), want);
        assert_eq!(steps(&summary.reject_summary_last_offers), want);
        let json = serde_json::to_value(&summary).unwrap();
        assert!(json.get("lastUnusedOfferAt").is_none());
        assert!(json.get("lastUsedOfferAt").is_none());
    }

    #[test]
    fn counts_each_offer_once_under_its_earliest_reason_and_chains_processed() {
        let mut stats = OfferStats::default();
        let from = |id: &str| offer().on(id);
        // Five offers: one used, four unused with several reasons each.
        stats.record(&from("a1"), &used(), 1_000);
        stats.record(
            &from("a2"),
            &unused(&[Reason::InsufficientMemory, Reason::InsufficientCpus]),
            2_000,
        );
        stats.record(
            &from("a3"),
            &unused(&[Reason::InsufficientPorts, Reason::UnfulfilledConstraint]),
            3_000,
        );
        stats.record(&from("a4"), &unused(&[Reason::InsufficientCpus]), 4_000);
        stats.record(
            &from("a5"),
            &unused(&[Reason::DeclinedScarceResources]),
            5_000,
        );

        let summary = stats.summary();
        assert_eq!(summary.processed_offers_count, 5);
        assert_eq!(summary.unused_offers_count, 4);
        assert_eq!(summary.last_used_offer_at, Some(1_000));
        assert_eq!(summary.last_unused_offer_at, Some(5_000));
        use Reason::*;
        let want = vec![
            (UnfulfilledRole, 0, 5),
            (UnfulfilledConstraint, 1, 5),
            (NoCorrespondingReservationFound, 0, 4),
            (AgentMaintenance, 0, 4),
            (InsufficientCpus, 2, 4),
            (InsufficientMemory, 0, 2),
            (InsufficientDisk, 0, 2),
            (InsufficientGpus, 0, 2),
            (InsufficientPorts, 0, 2),
            (DeclinedScarceResources, 1, 2),
        ];
        assert_eq!(steps(&summary.reject_summary_launch_attempt), want);
        // One offer per agent so far: the last offers say the same.
        assert_eq!(steps(&summary.reject_summary_last_offers), want);
    }

    #[test]
    fn last_offers_keep_only_the_latest_offer_per_agent() {
        let mut stats = OfferStats::default();
        stats.record(
            &offer().on("a1").id("o1"),
            &unused(&[Reason::InsufficientCpus]),
            1,
        );
        stats.record(
            &offer().on("a1").id("o2"),
            &unused(&[Reason::InsufficientMemory]),
            2,
        );
        stats.record(
            &offer().on("a2").id("o3"),
            &unused(&[Reason::InsufficientCpus]),
            3,
        );
        stats.record(&offer().on("a2").id("o4"), &used(), 4);

        let summary = stats.summary();
        assert_eq!(summary.processed_offers_count, 4);
        let last = steps(&summary.reject_summary_last_offers);
        assert_eq!(last[0], (Reason::UnfulfilledRole, 0, 2));
        assert_eq!(last[4], (Reason::InsufficientCpus, 0, 2));
        assert_eq!(last[5], (Reason::InsufficientMemory, 1, 2));
        assert_eq!(last[6], (Reason::InsufficientDisk, 0, 1));
        let attempt = steps(&summary.reject_summary_launch_attempt);
        assert_eq!(attempt[4], (Reason::InsufficientCpus, 2, 4));
        assert_eq!(attempt[5], (Reason::InsufficientMemory, 1, 2));

        // The last unused offer per agent is kept, even when a later one was used.
        let ids: Vec<&str> = stats
            .last_unused_offers()
            .map(|u| u.offer.id.as_str())
            .collect();
        assert_eq!(ids, ["o2", "o3"]);
    }

    #[test]
    fn a_new_launch_attempt_starts_the_counts_again() {
        let mut stats = OfferStats::default();
        stats.record(&offer(), &unused(&[Reason::InsufficientCpus]), 1);
        stats.start_launch_attempt();
        stats.record(&offer().on("a2"), &unused(&[Reason::InsufficientDisk]), 2);
        let summary = stats.summary();
        assert_eq!(summary.processed_offers_count, 1);
        assert_eq!(summary.unused_offers_count, 1);
        assert_eq!(summary.reject_summary_launch_attempt[4].declined, 0);
        assert_eq!(summary.reject_summary_launch_attempt[6].declined, 1);
        assert_eq!(summary.reject_summary_last_offers[0].processed, 2);
        assert_eq!(summary.last_unused_offer_at, Some(2));
    }

    #[test]
    fn offers_without_wanted_instances_are_not_counted() {
        let mut stats = OfferStats::default();
        stats.record(&offer(), &OfferMatch::Used(vec![]), 1);
        assert_eq!(stats, OfferStats::default());
    }

    #[test]
    fn summary_json_uses_marathon_names() {
        let mut stats = OfferStats::default();
        stats.record(
            &offer(),
            &unused(&[Reason::InsufficientCpus]),
            1_495_636_371_013,
        );
        stats.record(&offer().on("a2"), &used(), 1_495_636_372_000);
        let json = serde_json::to_value(stats.summary()).unwrap();
        assert_eq!(json["processedOffersCount"], 2);
        assert_eq!(json["unusedOffersCount"], 1);
        assert_eq!(json["lastUnusedOfferAt"], "2017-05-24T14:32:51.013Z");
        assert_eq!(json["lastUsedOfferAt"], "2017-05-24T14:32:52.000Z");
        assert_eq!(
            json["rejectSummaryLaunchAttempt"][4],
            serde_json::json!({"reason": "InsufficientCpus", "declined": 1, "processed": 2})
        );
        assert_eq!(
            json["rejectSummaryLastOffers"].as_array().unwrap().len(),
            10
        );
    }

    #[test]
    fn unused_offer_json_matches_marathon() {
        let mut stats = OfferStats::default();
        let o = offer()
            .agent(
                agent("a1")
                    .attr("rack", "r1")
                    .scalar("level", 2.5)
                    .ranges("slots", &[(1, 3)]),
            )
            .res("cpus:0.5;cpus(web):1;ports:[31000-31001];disks:{a}");
        let result = place(&o, &spec().cpus(4.0), &[], 1, &config());
        stats.record(&o, &result, 0);
        let json = serde_json::to_value(stats.last_unused_offers().next().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "offer": {
                    "id": "o1",
                    "agentId": "a1",
                    "hostname": "a1.example",
                    "resources": [
                        {"name": "cpus", "role": "*", "scalar": 0.5},
                        {"name": "cpus", "role": "web", "scalar": 1.0},
                        {"name": "disks", "role": "*", "set": ["a"]},
                        {"name": "ports", "role": "*", "ranges": [{"begin": 31000, "end": 31001}]},
                    ],
                    "attributes": [
                        {"name": "rack", "text": "r1"},
                        {"name": "level", "scalar": 2.5},
                        {"name": "slots", "ranges": [{"begin": 1, "end": 3}]},
                    ],
                },
                "reason": ["InsufficientCpus"],
                "timestamp": "1970-01-01T00:00:00.000Z",
            })
        );
    }

    #[test]
    fn waiting_reason_names_the_constraint_and_how_many_agents() {
        let mut stats = OfferStats::default();
        assert_eq!(stats.waiting_reason(), None);
        let needs = spec().cpus(1.0).constraint(&["hostname", "UNIQUE"]);
        let existing = [agent("a1"), agent("a2")];
        for id in ["a1", "a2", "a3"] {
            let o = offer().on(id).cpus(if id == "a3" { 0.5 } else { 4.0 });
            stats.record(&o, &place(&o, &needs, &existing, 1, &config()), 0);
        }
        assert_eq!(
            stats.unmet_constraints(),
            [("hostname:UNIQUE".to_string(), 2)]
        );
        assert_eq!(
            stats.waiting_reason().unwrap(),
            "last offers of 3 agents: 3 not used: constraint hostname:UNIQUE on 2 agents, \
             InsufficientCpus on 1 agent"
        );
    }
}
