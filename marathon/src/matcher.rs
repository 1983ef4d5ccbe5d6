//! Which offers run which missing instances: the tracker's demand, placement's answer per
//! offer, and the statistics `/v2/queue` shows. Pure: offers in, decisions out.
//!
//! ```text
//!   offers ──▶ for each offer, apps in waiting order ──place()──▶ launches | rejection
//!                 (demand from the Tracker, less what this round planned)      │
//!   OfferDecision { launches } ◀────────────────────────────────────────────────┘
//!   (no launches = decline)             OfferStats per waiting app ◀── record()
//! ```

use std::collections::BTreeMap;

use mesos_common::resources::Resources;

use crate::app::{AppDefinition, NetworkMode, PathId};
use crate::placement::{
    self, Agent, Constraint, Offer, OfferMatch, OfferStats, PlacementConfig, RunSpecNeeds,
};
use crate::tracker::Tracker;

/// One instance to launch from an offer.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLaunch {
    pub app_id: PathId,
    pub resources: Resources,
    pub host_ports: Vec<u32>,
}

/// What to do with one offer: launch these (none: decline it).
#[derive(Debug, Clone, PartialEq)]
pub struct OfferDecision {
    pub offer_id: String,
    pub agent_id: String,
    pub hostname: String,
    pub launches: Vec<PlannedLaunch>,
}

/// How offers are matched: placement's settings and Marathon's
/// `--default_accepted_resource_roles` (empty: every role offered to Marathon).
#[derive(Debug, Clone, Default)]
pub struct MatchConfig {
    pub placement: PlacementConfig,
    pub default_accepted_roles: Vec<String>,
}

/// What an instance of `app` needs from an offer.
pub fn needs_of(app: &AppDefinition, default_roles: &[String]) -> RunSpecNeeds {
    let host_ports: Vec<u16> = match app.network_mode() {
        NetworkMode::Host => app
            .port_definitions
            .iter()
            .map(|p| if app.require_ports { p.port as u16 } else { 0 })
            .collect(),
        _ => app
            .port_mappings()
            .iter()
            .map(|m| m.host_port.unwrap_or(0) as u16)
            .collect(),
    };
    RunSpecNeeds {
        cpus: app.cpus,
        mem: app.mem,
        disk: app.disk,
        gpus: app.gpus as f64,
        host_ports,
        require_ports: app.require_ports || app.network_mode() != NetworkMode::Host,
        accepted_roles: app
            .accepted_resource_roles
            .clone()
            .unwrap_or_else(|| default_roles.to_vec()),
        // Apps are validated on the way in, so every constraint parses.
        constraints: app
            .constraints
            .iter()
            .filter_map(|c| Constraint::parse(c).ok())
            .collect(),
        reservation: None,
    }
}

/// Matches `offers` against every app that waits. `agents` knows the agents seen in
/// offers (for the attributes of agents that run existing instances); `stats` gets one
/// entry per waiting app and loses those of apps that no longer wait.
pub fn match_offers(
    tracker: &Tracker,
    offers: &[Offer],
    agents: &BTreeMap<String, Agent>,
    stats: &mut BTreeMap<PathId, OfferStats>,
    config: &MatchConfig,
    now: u64,
) -> Vec<OfferDecision> {
    let mut demand: Vec<(PathId, usize, RunSpecNeeds, Vec<Agent>)> = tracker
        .apps()
        .filter_map(|app| {
            let n = tracker.launch_demand(&app.id, now) as usize;
            (n > 0).then(|| {
                let placed = tracker
                    .instances_of(&app.id)
                    .filter(|i| i.is_active())
                    .map(|i| {
                        agents
                            .get(&i.agent_id)
                            .cloned()
                            .unwrap_or_else(|| Agent::new(&i.agent_id, &i.hostname))
                    })
                    .collect();
                (
                    app.id.clone(),
                    n,
                    needs_of(app, &config.default_accepted_roles),
                    placed,
                )
            })
        })
        .collect();
    demand.sort_by_key(|(id, ..)| (tracker.waiting_since(id).unwrap_or(now), id.clone()));
    stats.retain(|id, _| tracker.waiting_since(id).is_some());
    let mut decisions = Vec::with_capacity(offers.len());
    for offer in offers {
        let mut remaining = offer.clone();
        let mut launches = vec![];
        for (app_id, wanted, needs, placed) in demand.iter_mut() {
            if *wanted == 0 {
                continue;
            }
            let result =
                placement::place(&remaining, needs, placed.iter(), *wanted, &config.placement);
            stats
                .entry(app_id.clone())
                .or_default()
                .record(&remaining, &result, now as i64);
            if let OfferMatch::Used(found) = result {
                for l in found {
                    remaining.resources = remaining.resources.minus(&l.resources);
                    placed.push(offer.agent.clone());
                    *wanted -= 1;
                    launches.push(PlannedLaunch {
                        app_id: app_id.clone(),
                        resources: l.resources,
                        host_ports: l.host_ports.iter().map(|&p| p as u32).collect(),
                    });
                }
            }
        }
        decisions.push(OfferDecision {
            offer_id: offer.id.clone(),
            agent_id: offer.agent.id.clone(),
            hostname: offer.agent.hostname.clone(),
            launches,
        });
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::update::AppUpdate;
    use crate::instance::{new_task_id, Instance};
    use crate::tracker::TrackerConfig;
    use serde_json::json;

    fn app(body: serde_json::Value) -> AppDefinition {
        let u = AppUpdate::from_value(body).unwrap();
        let mut a = u.apply(
            AppDefinition::with_defaults(PathId::parse(u.id.as_deref().unwrap())),
            true,
        );
        a.version = "v1".into();
        a.version_info.last_config_change_at = "v1".into();
        a
    }

    fn offer(n: usize) -> Offer {
        Offer::new(
            format!("o{n}"),
            Agent::new(format!("a{n}"), format!("h{n}")),
            Resources::parse("cpus:4;mem:4096;disk:1000;ports:[31000-31009]").unwrap(),
        )
    }

    fn launched(tracker: &mut Tracker, decisions: &[OfferDecision]) {
        let mut n = 0;
        for d in decisions {
            for l in &d.launches {
                n += 1;
                let app = tracker.app(&l.app_id).unwrap().clone();
                tracker.provisioned(vec![Instance::provisioned(
                    &app,
                    new_task_id(&app.id, uuid::Uuid::from_u128(n)),
                    &d.agent_id,
                    &d.hostname,
                    l.host_ports.clone(),
                    0,
                )]);
            }
        }
    }

    #[test]
    fn unique_hostname_waits_on_one_agent_and_says_why() {
        let mut t = Tracker::new(TrackerConfig {
            task_launch_timeout_ms: 1000,
        });
        t.put_app(
            app(
                json!({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 32, "instances": 2,
            "constraints": [["hostname", "UNIQUE"]]}),
            ),
            0,
        );
        let mut stats = BTreeMap::new();
        let cfg = MatchConfig::default();
        let d = match_offers(&t, &[offer(1)], &BTreeMap::new(), &mut stats, &cfg, 1);
        assert_eq!(d[0].launches.len(), 1, "UNIQUE: one per agent");
        assert_eq!(d[0].launches[0].host_ports.len(), 1);
        launched(&mut t, &d);
        // The same agent offers again: nothing fits, and the reason is the constraint.
        let d = match_offers(&t, &[offer(1)], &BTreeMap::new(), &mut stats, &cfg, 2);
        assert!(d[0].launches.is_empty());
        let id = PathId::parse("/web");
        let why = stats[&id].waiting_reason().unwrap();
        assert!(why.contains("UNIQUE"), "{why}");
        // A second agent takes the second instance.
        let d = match_offers(&t, &[offer(2)], &BTreeMap::new(), &mut stats, &cfg, 3);
        assert_eq!(d[0].launches.len(), 1);
    }

    #[test]
    fn one_offer_serves_several_apps_without_overcommitting() {
        let mut t = Tracker::new(TrackerConfig {
            task_launch_timeout_ms: 1000,
        });
        t.put_app(
            app(json!({"id": "a", "cmd": "x", "cpus": 1.5, "mem": 10, "instances": 2})),
            0,
        );
        t.put_app(
            app(json!({"id": "b", "cmd": "x", "cpus": 1.5, "mem": 10, "instances": 2})),
            1,
        );
        let mut stats = BTreeMap::new();
        let d = match_offers(
            &t,
            &[offer(1)],
            &BTreeMap::new(),
            &mut stats,
            &MatchConfig::default(),
            5,
        );
        let ids: Vec<String> = d[0].launches.iter().map(|l| l.app_id.to_string()).collect();
        assert_eq!(
            ids,
            vec!["/a", "/a"],
            "4 cpus hold two 1.5-cpu instances, oldest app first"
        );
        let mut ports: Vec<u32> = d[0]
            .launches
            .iter()
            .flat_map(|l| l.host_ports.clone())
            .collect();
        ports.dedup();
        assert_eq!(ports.len(), 2, "distinct host ports");
    }

    #[test]
    fn bridge_needs_follow_port_mappings() {
        let a = app(
            json!({"id": "web", "container": {"docker": {"image": "i", "network": "BRIDGE",
            "portMappings": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 81, "hostPort": 31005}]}}}),
        );
        let n = needs_of(&a, &[]);
        assert_eq!(n.host_ports, vec![0, 31005]);
        assert!(n.require_ports);
    }
}
