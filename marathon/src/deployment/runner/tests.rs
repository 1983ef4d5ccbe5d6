use super::*;
use crate::app::UpgradeStrategy;

fn app(id: &str, instances: u32, min: f64, over: f64) -> AppDefinition {
    let mut a = AppDefinition::with_defaults(PathId::parse(id));
    a.cmd = Some("sleep 100".into());
    a.instances = instances;
    a.upgrade_strategy = UpgradeStrategy {
        minimum_health_capacity: min,
        maximum_over_capacity: over,
    };
    a.version_info.last_config_change_at = "v2".into();
    a
}

fn action(kind: ActionKind, app: &str) -> Action {
    Action {
        kind,
        app: PathId::parse(app),
    }
}

fn deployment(steps: Vec<Step>, apps: &[&str]) -> Deployment {
    Deployment {
        id: "d".into(),
        version: "v2".into(),
        steps,
        current_step: 0,
        original: apps.iter().map(|a| (PathId::parse(a), None)).collect(),
        groups: None,
    }
}

/// A simulated instance: how many rounds it has lived and after how many it turns healthy.
#[derive(Clone)]
struct Sim {
    id: String,
    current: bool,
    age: usize,
    healthy_after: Option<usize>,
}

impl Sim {
    fn observed(&self) -> Observed<'_> {
        Observed {
            task_id: &self.id,
            current: self.current,
            killing: false,
            healthy: self.healthy_after.is_some_and(|h| self.age >= h),
            staged_at: self.age as u64,
        }
    }
}

/// Runs a rolling restart of `n` healthy old instances round by round: each round asks the
/// deployment, kills what it says (the kill lands at once), launches up to the hold's cap
/// (as the tracker does), then ages every instance by one round. `new_healthy_after`
/// says after how many rounds the k-th new instance turns healthy (None: never).
/// Returns the (killed, launched) of each round and whether the restart finished; checks
/// the bounds after every round.
fn roll(
    n: u32,
    min: f64,
    over: f64,
    old_healthy: &[bool],
    new_healthy_after: impl Fn(usize) -> Option<usize>,
) -> (Vec<(usize, usize)>, bool) {
    let a = app("/web", n, min, over);
    let (min_healthy, max_capacity) = rolling::bounds(n as usize, &a.upgrade_strategy);
    let mut sims: Vec<Sim> = old_healthy
        .iter()
        .enumerate()
        .map(|(i, &h)| Sim {
            id: format!("old{i}"),
            current: false,
            age: 10,
            healthy_after: h.then_some(0),
        })
        .collect();
    let mut d = deployment(
        vec![vec![action(ActionKind::RestartApplication, "/web")]],
        &["/web"],
    );
    let mut launched_total = 0;
    let mut trace = vec![];
    for _ in 0..30 {
        let healthy_before = sims.iter().filter(|s| s.observed().healthy).count();
        let p = d.progress(|_| AppState {
            app: Some(&a),
            instances: sims.iter().map(Sim::observed).collect(),
        });
        if p.finished {
            assert_eq!(p.holds[&a.id], None, "a finished deployment holds nothing");
            return (trace, true);
        }
        sims.retain(|s| !p.kill.contains(&s.id));
        let healthy_after_kills = sims.iter().filter(|s| s.observed().healthy).count();
        assert!(
            p.kill.is_empty()
                || healthy_after_kills >= min_healthy.min(healthy_before)
                || healthy_after_kills >= n as usize,
            "healthy {healthy_before} -> {healthy_after_kills} under {min_healthy}"
        );
        let Some(Some(Hold::Rolling { new_cap })) = p.holds.get(&a.id) else {
            panic!("a restart rolls: {:?}", p.holds);
        };
        let current = sims.iter().filter(|s| s.current).count();
        let launch = (*new_cap as usize).saturating_sub(current);
        for _ in 0..launch {
            sims.push(Sim {
                id: format!("new{launched_total}"),
                current: true,
                age: 0,
                healthy_after: new_healthy_after(launched_total),
            });
            launched_total += 1;
        }
        assert!(
            sims.len() <= max_capacity,
            "{} alive > {max_capacity}",
            sims.len()
        );
        trace.push((p.kill.len(), launch));
        for s in sims.iter_mut() {
            s.age += 1;
        }
    }
    (trace, false)
}

fn healthy(n: usize) -> Vec<bool> {
    vec![true; n]
}

#[test]
fn rolling_restart_sequences() {
    // (instances, minimumHealthCapacity, maximumOverCapacity, old health, rounds until each
    // new instance is healthy) -> (killed, launched) per round, finished.
    type Case = (u32, f64, f64, Vec<bool>, fn(usize) -> Option<usize>);
    type Row = (Case, Vec<(usize, usize)>, bool);
    let cases: Vec<Row> = vec![
        // Default strategy: all new first, then all old.
        (
            (3, 1.0, 1.0, healthy(3), |_| Some(1)),
            vec![(0, 3), (3, 0)],
            true,
        ),
        // Slower health: old instances wait for it.
        (
            (3, 1.0, 1.0, healthy(3), |_| Some(3)),
            vec![(0, 3), (0, 0), (0, 0), (3, 0)],
            true,
        ),
        // No room over capacity, all must stay: one at a time, one over. A killed
        // instance is alive until its task ended, so a launch waits for the kill to land.
        (
            (3, 1.0, 0.0, healthy(3), |_| Some(1)),
            vec![(0, 1), (1, 0), (0, 1), (1, 0), (0, 1), (1, 0)],
            true,
        ),
        // Half may go at once.
        (
            (4, 0.5, 0.0, healthy(4), |_| Some(1)),
            vec![(2, 0), (0, 2), (2, 0), (0, 2)],
            true,
        ),
        // Room over capacity: launches overlap the kills.
        (
            (4, 0.5, 0.5, healthy(4), |_| Some(1)),
            vec![(2, 2), (2, 2)],
            true,
        ),
        // Nothing needs to stay: all go, then all come.
        (
            (3, 0.0, 0.0, healthy(3), |_| Some(1)),
            vec![(3, 0), (0, 3)],
            true,
        ),
        // An unhealthy old instance goes at once, without waiting.
        (
            (3, 1.0, 0.0, vec![true, false, true], |_| Some(1)),
            vec![(1, 1), (0, 1), (1, 0), (0, 1), (1, 0)],
            true,
        ),
        // New instances that never turn healthy: the old ones stay, the roll stalls.
        (
            (3, 1.0, 0.0, healthy(3), |_| None),
            vec![(0, 1), (0, 0), (0, 0)],
            false,
        ),
        // ... and with half allowed to go, no more than half goes.
        (
            (4, 0.5, 0.0, healthy(4), |_| None),
            vec![(2, 0), (0, 2), (0, 0)],
            false,
        ),
        // Only the second new instance is bad: the roll goes as far as the first allows.
        (
            (2, 1.0, 0.0, healthy(2), |k| (k != 1).then_some(1)),
            vec![(0, 1), (1, 0), (0, 1), (0, 0)],
            false,
        ),
    ];
    for ((n, min, over, old, health), want, finished) in cases {
        let (trace, done) = roll(n, min, over, &old, health);
        let shown: Vec<(usize, usize)> = trace.iter().take(want.len()).copied().collect();
        assert_eq!(shown, want, "({n}, {min}, {over}, {old:?})");
        assert_eq!(done, finished, "({n}, {min}, {over}): {trace:?}");
        if finished {
            assert_eq!(trace.len(), want.len(), "no extra rounds: {trace:?}");
        } else {
            assert!(
                trace[want.len()..].iter().all(|&r| r == (0, 0)),
                "{trace:?}"
            );
        }
    }
}

#[test]
fn instances_count_as_marathon_counts_them() {
    let mut a = app("/web", 1, 1.0, 1.0);
    let mut i = Instance::provisioned(&a, "t".into(), "a", "h", vec![], 0);
    // (current config, health checks, condition, healthy, ready) -> counts as healthy
    let table = [
        (false, false, Condition::Running, None, true, true),
        (false, true, Condition::Running, None, true, true),
        (false, true, Condition::Running, Some(false), true, false),
        (false, false, Condition::Staging, None, true, false),
        (true, false, Condition::Running, None, true, true),
        (true, false, Condition::Running, None, false, false),
        (true, true, Condition::Running, None, true, false),
        (true, true, Condition::Running, Some(true), true, true),
        (true, true, Condition::Starting, Some(true), true, false),
    ];
    for (current, checked, condition, health, ready, want) in table {
        i.config_version = if current { "v2" } else { "v1" }.into();
        i.condition = condition;
        i.healthy = health;
        a.health_checks = if checked {
            vec![serde_json::from_value(serde_json::json!({"protocol": "HTTP"})).unwrap()]
        } else {
            vec![]
        };
        let o = observe(&i, &a, ready);
        assert_eq!(o.current, current);
        assert_eq!(
            o.healthy, want,
            "{current} {checked} {condition:?} {health:?} {ready}"
        );
    }
}

#[test]
fn steps_run_in_order_and_hold_later_apps() {
    let web = app("/web", 1, 1.0, 1.0);
    let mut d = deployment(
        vec![
            vec![action(ActionKind::StopApplication, "/gone")],
            vec![action(ActionKind::StartApplication, "/web")],
            vec![action(ActionKind::ScaleApplication, "/web")],
        ],
        &["/gone", "/web"],
    );
    let gone_alive = Observed {
        task_id: "g",
        current: true,
        killing: true,
        healthy: true,
        staged_at: 0,
    };
    let web_new = |healthy: bool| Observed {
        task_id: "w",
        current: true,
        killing: false,
        healthy,
        staged_at: 0,
    };
    // /gone still has a task: the stop waits, /web waits frozen behind it.
    let p = d.progress(|id| AppState {
        app: (id == &web.id).then_some(&web),
        instances: if id == &web.id {
            vec![]
        } else {
            vec![gone_alive.clone()]
        },
    });
    assert!(!p.finished && p.steps_done.is_empty());
    assert_eq!(p.holds[&web.id], Some(Hold::Frozen));
    assert_eq!(p.holds[&PathId::parse("/gone")], None);
    // It ended: stop and start finish together, the scale runs unheld.
    let p = d.progress(|id| AppState {
        app: (id == &web.id).then_some(&web),
        instances: vec![],
    });
    assert_eq!(p.steps_done, vec![0, 1]);
    assert_eq!(d.current_step, 2);
    assert_eq!(p.holds[&web.id], None);
    // Running but not yet healthy: not done; healthy: done.
    let p = d.progress(|id| AppState {
        app: (id == &web.id).then_some(&web),
        instances: if id == &web.id {
            vec![web_new(false)]
        } else {
            vec![]
        },
    });
    assert!(!p.finished);
    let p = d.progress(|id| AppState {
        app: (id == &web.id).then_some(&web),
        instances: if id == &web.id {
            vec![web_new(true)]
        } else {
            vec![]
        },
    });
    assert!(p.finished);
    assert_eq!(p.steps_done, vec![2]);
}

#[test]
fn a_deployment_round_trips_through_json_in_marathons_action_form() {
    let d = deployment(
        vec![vec![action(ActionKind::RestartApplication, "/web")]],
        &["/web"],
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json["steps"],
        serde_json::json!([[{"action": "RestartApplication", "app": "/web"}]])
    );
    let back: Deployment = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
}
