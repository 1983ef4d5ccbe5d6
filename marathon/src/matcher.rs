//! Which offers run which missing instances: the tracker's demand, placement's answer per
//! offer, and the statistics `/v2/queue` shows. Pure: offers in, decisions out.
//!
//! ```text
//!   offers ──▶ apps in waiting order (demand from the Tracker)
//!                └─ per instance: rank(offers, strategy) ──▶ first that place() takes
//!                   (each sees this round's earlier launches as taken)  │ or rejections
//!   OfferDecision { launches } per offer ◀───────────────────────────────┘
//!   (no launches = decline)             OfferStats per waiting app ◀── record()
//! ```

use std::collections::{BTreeMap, HashMap};

use mesos_common::resources::Resources;

use crate::app::{AppDefinition, NetworkMode, PathId};
use crate::placement::{
    self, Agent, AgentLoad, Constraint, Offer, OfferMatch, OfferStats, PlacementConfig,
    RunSpecNeeds, Strategy, STRATEGY_LABEL,
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

/// How offers are matched: placement's settings, Marathon's
/// `--default_accepted_resource_roles` (empty: every role offered to Marathon) and
/// `--placement_strategy` (an app's `MARATHON_PLACEMENT_STRATEGY` label wins).
#[derive(Debug, Clone, Default)]
pub struct MatchConfig {
    pub placement: PlacementConfig,
    pub default_accepted_roles: Vec<String>,
    pub strategy: Strategy,
}

/// The strategy placing `app`'s instances: its label, else the cluster's default. (Apps are
/// validated on the way in, so a label that does not parse is one stored before; it gets
/// the default.)
pub fn strategy_of(app: &AppDefinition, default: Strategy) -> Strategy {
    app.labels
        .get(STRATEGY_LABEL)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
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
            .filter(|m| app.takes_host_port(m))
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

/// One app that waits for launches, as this round sees it.
struct Demand {
    app_id: PathId,
    version: String,
    wanted: usize,
    needs: RunSpecNeeds,
    strategy: Strategy,
    /// The agents of the app's active instances, this round's launches included.
    placed: Vec<Agent>,
}

/// Matches `offers` against every app that waits. Apps take their turn in waiting order;
/// each places its instances one at a time on the best offer of its strategy's ranking
/// that passes every filter (so `spread` alternates between agents and `binpack` fills
/// one before the next). `agents` knows the agents seen in offers (for the attributes of
/// agents that run existing instances); `stats` gets one entry per waiting app and loses
/// those of apps that no longer wait.
pub fn match_offers(
    tracker: &Tracker,
    offers: &[Offer],
    agents: &BTreeMap<String, Agent>,
    stats: &mut BTreeMap<PathId, OfferStats>,
    config: &MatchConfig,
    now: u64,
) -> Vec<OfferDecision> {
    let mut demand: Vec<Demand> = tracker
        .apps()
        .filter_map(|app| {
            let n = tracker.launch_demand(&app.id, now) as usize;
            (n > 0).then(|| Demand {
                app_id: app.id.clone(),
                version: app.version.clone(),
                wanted: n,
                needs: needs_of(app, &config.default_accepted_roles),
                strategy: strategy_of(app, config.strategy),
                placed: tracker
                    .instances_of(&app.id)
                    .filter(|i| i.is_active())
                    .map(|i| {
                        agents
                            .get(&i.agent_id)
                            .cloned()
                            .unwrap_or_else(|| Agent::new(&i.agent_id, &i.hostname))
                    })
                    .collect(),
            })
        })
        .collect();
    demand.sort_by_key(|d| {
        (
            tracker.waiting_since(&d.app_id).unwrap_or(now),
            d.app_id.clone(),
        )
    });
    stats.retain(|id, _| tracker.waiting_since(id).is_some());
    // Instances of every app per agent, for spread's second key.
    let mut everyone = AgentLoad::default();
    for i in tracker.instances().filter(|i| i.is_active()) {
        everyone.add(&i.agent_id, false);
    }
    let index: HashMap<&str, usize> = offers
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.as_str(), i))
        .collect();
    let mut remaining: Vec<Offer> = offers.to_vec();
    let mut launches: Vec<Vec<PlannedLaunch>> = vec![vec![]; offers.len()];
    for d in demand.iter_mut() {
        let limit = placement::per_offer_limit(&d.needs, &config.placement);
        let mut load = everyone.clone();
        for agent in &d.placed {
            load.add(&agent.id, true);
        }
        // Per offer: this app's launches on it, and the last rejection it gave.
        let mut mine: Vec<Vec<placement::Launch>> = vec![vec![]; offers.len()];
        let mut rejected: Vec<Option<OfferMatch>> = vec![None; offers.len()];
        while d.wanted > 0 {
            let seed = placement::seed(&d.app_id.to_string(), &d.version, d.placed.len());
            let open: Vec<&Offer> = remaining
                .iter()
                .enumerate()
                .filter(|(i, _)| mine[*i].len() < limit)
                .map(|(_, o)| o)
                .collect();
            let mut launched = None;
            for offer in placement::rank(&open, &load, d.strategy.ranking(seed)) {
                let i = index[offer.id.as_str()];
                match placement::place(offer, &d.needs, d.placed.iter(), 1, &config.placement) {
                    OfferMatch::Used(mut found) if !found.is_empty() => {
                        launched = Some((i, found.remove(0)));
                        break;
                    }
                    result => rejected[i] = Some(result),
                }
            }
            let Some((i, launch)) = launched else { break };
            remaining[i].resources = remaining[i].resources.minus(&launch.resources);
            let agent = remaining[i].agent.clone();
            load.add(&agent.id, true);
            everyone.add(&agent.id, false);
            d.placed.push(agent);
            d.wanted -= 1;
            mine[i].push(launch);
        }
        let app_stats = stats.entry(d.app_id.clone()).or_default();
        for (i, used) in mine.into_iter().enumerate() {
            if used.is_empty() {
                if let Some(result) = &rejected[i] {
                    app_stats.record(&remaining[i], result, now as i64);
                }
                continue;
            }
            launches[i].extend(used.iter().map(|l| PlannedLaunch {
                app_id: d.app_id.clone(),
                resources: l.resources.clone(),
                host_ports: l.host_ports.iter().map(|&p| p as u32).collect(),
            }));
            app_stats.record(&remaining[i], &OfferMatch::Used(used), now as i64);
        }
    }
    offers
        .iter()
        .zip(launches)
        .map(|(offer, launches)| OfferDecision {
            offer_id: offer.id.clone(),
            agent_id: offer.agent.id.clone(),
            hostname: offer.agent.hostname.clone(),
            launches,
        })
        .collect()
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

    /// Apps' launches per agent, for one round over offers o1..on (agent a1..an).
    fn spread_of(decisions: &[OfferDecision]) -> Vec<(String, usize)> {
        decisions
            .iter()
            .map(|d| (d.agent_id.clone(), d.launches.len()))
            .collect()
    }

    fn round(body: serde_json::Value, offers: usize, config: &MatchConfig) -> Vec<OfferDecision> {
        let mut t = Tracker::new(TrackerConfig {
            task_launch_timeout_ms: 1000,
        });
        t.put_app(app(body), 0);
        let offers: Vec<Offer> = (1..=offers).map(offer).collect();
        match_offers(
            &t,
            &offers,
            &BTreeMap::new(),
            &mut BTreeMap::new(),
            config,
            1,
        )
    }

    #[test]
    fn strategies_choose_among_the_offers_of_one_round() {
        let binpack = MatchConfig::default();
        let spread = MatchConfig {
            strategy: Strategy::Spread,
            ..MatchConfig::default()
        };
        let labelled = |s: &str| {
            json!({"id": "web", "cmd": "x", "cpus": 1, "mem": 32,
            "instances": 6, "labels": {"MARATHON_PLACEMENT_STRATEGY": s}})
        };
        let plain = json!({"id": "web", "cmd": "x", "cpus": 1, "mem": 32, "instances": 6});
        let cases = [
            (
                "binpack (default) fills a1 (4 cpus) before a2",
                &plain,
                &binpack,
                [4, 2, 0],
            ),
            ("spread alternates", &plain, &spread, [2, 2, 2]),
            (
                "the label wins over the default",
                &labelled("spread"),
                &binpack,
                [2, 2, 2],
            ),
            ("binpack by label", &labelled("binpack"), &spread, [4, 2, 0]),
        ];
        for (what, body, config, want) in cases {
            let got: Vec<usize> = spread_of(&round(body.clone(), 3, config))
                .into_iter()
                .map(|(_, n)| n)
                .collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn spread_counts_other_apps_after_the_app_s_own() {
        let mut t = Tracker::new(TrackerConfig {
            task_launch_timeout_ms: 1000,
        });
        t.put_app(
            app(json!({"id": "db", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 2})),
            0,
        );
        let config = MatchConfig {
            strategy: Strategy::Spread,
            ..MatchConfig::default()
        };
        // db's two instances both land on a1 (binpack by label would too; spread with one
        // offer has no choice).
        let d = match_offers(
            &t,
            &[offer(1)],
            &BTreeMap::new(),
            &mut BTreeMap::new(),
            &config,
            1,
        );
        launched(&mut t, &d);
        t.put_app(
            app(json!({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 1})),
            2,
        );
        let d = match_offers(
            &t,
            &[offer(1), offer(2)],
            &BTreeMap::new(),
            &mut BTreeMap::new(),
            &config,
            3,
        );
        assert_eq!(spread_of(&d), [("a1".into(), 0), ("a2".into(), 1)]);
    }

    #[test]
    fn random_is_the_same_for_the_same_app_version_and_offers() {
        let config = MatchConfig {
            strategy: Strategy::Random,
            ..MatchConfig::default()
        };
        let body = json!({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 8});
        let first = spread_of(&round(body.clone(), 6, &config));
        assert_eq!(first, spread_of(&round(body.clone(), 6, &config)));
        assert_eq!(first.iter().map(|(_, n)| n).sum::<usize>(), 8);
        assert!(
            first.iter().filter(|(_, n)| *n > 0).count() > 1,
            "random spreads over agents: {first:?}"
        );
    }

    #[test]
    fn the_per_offer_limit_holds_for_every_strategy() {
        for strategy in [Strategy::Spread, Strategy::Binpack, Strategy::Random] {
            let config = MatchConfig {
                strategy,
                placement: PlacementConfig {
                    max_instances_per_offer: 2,
                    ..PlacementConfig::default()
                },
                ..MatchConfig::default()
            };
            let body = json!({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 9});
            let d = round(body, 3, &config);
            assert!(d.iter().all(|d| d.launches.len() == 2), "{strategy}: {d:?}");
        }
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
        // On a container (USER) network only a given hostPort takes one.
        let a = app(
            json!({"id": "web", "networks": [{"mode": "container", "name": "n"}],
            "container": {"docker": {"image": "i"}, "portMappings": [
                {"containerPort": 80}, {"containerPort": 81, "hostPort": 0}]}}),
        );
        assert_eq!(needs_of(&a, &[]).host_ports, vec![0]);
        assert_eq!(a.task_ports(&[31007]), vec![80, 31007]);
    }
}
