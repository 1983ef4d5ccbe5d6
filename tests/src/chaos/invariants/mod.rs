//! The invariants, as pure checks over what the harness observed: snapshots of the leading
//! master's tasks (every ~250 ms) and of Marathon's apps, with the time as an input. The
//! runner feeds them; nothing here does I/O.
//!
//! Continuous checks ([`Checker::observe`]):
//! - an app never runs more tasks than its upgrade bound ([`upper_bound`]) (the larger of the old and new targets while a change is in flight); tasks being
//!   killed count until the master says they are terminal. Tasks the master once declared
//!   unreachable do not count: Marathon replaces them by design, and kills them when they
//!   come back (which convergence then checks);
//! - a task id runs on one agent only, at once or ever;
//! - the UNIQUE app never has two live tasks on one host.
//!
//! End checks ([`converged`], [`acknowledged_versions_kept`]): every acknowledged write is
//! visible, every app runs its target with healthy tasks of its latest configuration, and
//! Marathon's tasks are the master's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// Mesos states of a task that occupies its resources.
const LIVE: [&str; 4] = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
];

pub fn is_live(state: &str) -> bool {
    LIVE.contains(&state)
}

/// One of Marathon's tasks as the leading master lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterTask {
    pub id: String,
    /// Marathon's safe app id (`chaos_web` for `/chaos/web`), from the task id.
    pub app: String,
    pub agent: String,
    pub host: String,
    pub state: String,
}

/// The safe app id a Marathon task id starts with (`<safeId>.instance-<uuid>._app.1`).
pub fn app_of_task(task_id: &str) -> &str {
    task_id
        .split_once(".instance-")
        .or_else(|| task_id.split_once('.'))
        .map_or(task_id, |(app, _)| app)
}

/// Marathon's tasks in a `/master/state` answer (frameworks named `marathon`), live and
/// unreachable, with their agents' hostnames.
pub fn master_tasks(state: &Value) -> Vec<MasterTask> {
    let hosts: HashMap<&str, &str> = state["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["id"].as_str()?, s["hostname"].as_str()?)))
        .collect();
    let mut out = Vec::new();
    for framework in state["frameworks"].as_array().into_iter().flatten() {
        if framework["name"] != "marathon" {
            continue;
        }
        for key in ["tasks", "unreachable_tasks"] {
            for t in framework[key].as_array().into_iter().flatten() {
                let id = t["id"].as_str().unwrap_or_default().to_string();
                let agent = t["slave_id"].as_str().unwrap_or_default().to_string();
                out.push(MasterTask {
                    app: app_of_task(&id).to_string(),
                    host: hosts.get(agent.as_str()).unwrap_or(&"").to_string(),
                    state: t["state"].as_str().unwrap_or_default().to_string(),
                    id,
                    agent,
                });
            }
        }
    }
    out
}

/// A broken invariant, when it was seen and what exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: Duration,
    pub invariant: &'static str,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:>7.1}s] {}: {}",
            self.at.as_secs_f64(),
            self.invariant,
            self.detail
        )
    }
}

/// Marathon's upper bound on an app's live instances while it rolls:
/// `floor(instances * (1 + maxOverCapacity))`, but one over `minHealthy` (ceil of
/// `instances * minimumHealthCapacity`) when they are equal, or the roll could not move,
/// and never below `instances`. A little slack for floating point: 3 x 1.34 is 4.02.
pub fn upper_bound(instances: u32, strategy: (f64, f64)) -> usize {
    let (min_health, max_over) = strategy;
    let n = f64::from(instances);
    let min_healthy = (n * min_health - 1e-9).ceil().max(0.0) as usize;
    let mut bound = (n * (1.0 + max_over) + 1e-9).floor() as usize;
    if bound <= min_healthy {
        bound = min_healthy + 1;
    }
    bound.max(instances as usize)
}

/// The continuous invariants.
#[derive(Debug, Default)]
pub struct Checker {
    /// Per safe app id: the bound now.
    bounds: BTreeMap<String, usize>,
    unique_apps: BTreeSet<String>,
    /// The agent each task id was first seen on.
    agent_of: HashMap<String, String>,
    /// Task ids the master once listed as unreachable.
    was_unreachable: HashSet<String>,
    /// (invariant, key) pairs already reported, so one fault is not reported 400 times.
    reported: HashSet<(&'static str, String)>,
    pub violations: Vec<Violation>,
    pub snapshots: usize,
}

impl Checker {
    pub fn new(unique_apps: impl IntoIterator<Item = String>) -> Checker {
        Checker {
            unique_apps: unique_apps.into_iter().collect(),
            ..Checker::default()
        }
    }

    /// A change of `app`'s target was acknowledged: until [`Checker::settle`], the bound
    /// is the larger of the old one and the new one.
    pub fn change(&mut self, app: &str, instances: u32, strategy: (f64, f64)) {
        let new = upper_bound(instances, strategy);
        let bound = self.bounds.entry(app.to_string()).or_insert(new);
        *bound = (*bound).max(new);
    }

    /// `app` converged to its target: the bound is the target's alone.
    pub fn settle(&mut self, app: &str, instances: u32, strategy: (f64, f64)) {
        self.bounds
            .insert(app.to_string(), upper_bound(instances, strategy));
    }

    pub fn bound(&self, app: &str) -> Option<usize> {
        self.bounds.get(app).copied()
    }

    fn report(&mut self, at: Duration, invariant: &'static str, key: String, detail: String) {
        if self.reported.insert((invariant, key)) {
            self.violations.push(Violation {
                at,
                invariant,
                detail,
            });
        }
    }

    /// Checks one snapshot of the leading master's Marathon tasks.
    pub fn observe(&mut self, at: Duration, tasks: &[MasterTask]) {
        self.snapshots += 1;
        for t in tasks {
            if t.state == "TASK_UNREACHABLE" {
                self.was_unreachable.insert(t.id.clone());
            }
        }
        let live: Vec<&MasterTask> = tasks.iter().filter(|t| is_live(&t.state)).collect();

        // A task id on two agents, in this snapshot or over time.
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for t in &live {
            if let Some(other) = seen.insert(&t.id, &t.agent) {
                if other != t.agent {
                    self.report(
                        at,
                        "task id running twice",
                        t.id.clone(),
                        format!("{} is live on agents {other} and {} at once", t.id, t.agent),
                    );
                }
            }
            let first = self
                .agent_of
                .entry(t.id.clone())
                .or_insert_with(|| t.agent.clone())
                .clone();
            if first != t.agent {
                self.report(
                    at,
                    "task id running twice",
                    t.id.clone(),
                    format!("{} ran on agent {first}, now on agent {}", t.id, t.agent),
                );
            }
        }

        // The upgrade bound, per app.
        let mut per_app: BTreeMap<&str, Vec<&MasterTask>> = BTreeMap::new();
        for t in &live {
            if !self.was_unreachable.contains(&t.id) {
                per_app.entry(&t.app).or_default().push(t);
            }
        }
        for (app, tasks) in &per_app {
            let Some(bound) = self.bound(app) else {
                continue;
            };
            if tasks.len() > bound {
                let list: Vec<String> = tasks
                    .iter()
                    .map(|t| format!("{} {} on {}", t.id, t.state, t.host))
                    .collect();
                self.report(
                    at,
                    "upgrade bound exceeded",
                    format!("{app} {}", tasks.len()),
                    format!(
                        "{app} has {} live tasks, bound {bound}: {}",
                        tasks.len(),
                        list.join(", ")
                    ),
                );
            }
            if self.unique_apps.contains(*app) {
                let mut hosts: HashMap<&str, &str> = HashMap::new();
                for t in tasks {
                    if let Some(other) = hosts.insert(&t.host, &t.id) {
                        self.report(
                            at,
                            "hostname:UNIQUE broken",
                            format!("{other} {}", t.id),
                            format!("{app}: {other} and {} both live on {}", t.id, t.host),
                        );
                    }
                }
            }
        }
    }
}

/// What the harness asked of one app, last.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// Marathon's app id (`/chaos/web`).
    pub id: String,
    pub instances: u32,
    /// The `ROUND` environment variable: bumped by every restart.
    pub round: u32,
    pub health_checked: bool,
    pub unique: bool,
}

/// Why `app` (Marathon's `/v2/apps/<id>?embed=app.tasks` answer's `app`) has not reached
/// `intent` yet, or `Ok` when it has: the target instance count and configuration, that
/// many running tasks (healthy when checked, on distinct hosts when UNIQUE) all of the
/// latest configuration, no deployment of it left, and the leading master running exactly
/// Marathon's tasks (every status update reached Marathon).
pub fn converged(
    intent: &Intent,
    app: &Value,
    deployments: &Value,
    master: &[MasterTask],
) -> Result<(), String> {
    if app["instances"] != intent.instances {
        return Err(format!(
            "instances {} != {}",
            app["instances"], intent.instances
        ));
    }
    let round = intent.round.to_string();
    if app["env"]["ROUND"].as_str() != Some(round.as_str()) {
        return Err(format!("env.ROUND {} != {round}", app["env"]["ROUND"]));
    }
    let busy = deployments
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            d["affectedApps"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == intent.id.as_str()))
        })
        .count();
    if busy > 0 {
        return Err(format!("{busy} deployment(s) still run"));
    }
    let tasks = app["tasks"].as_array().cloned().unwrap_or_default();
    let running: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .collect();
    if tasks.len() != intent.instances as usize || running.len() != tasks.len() {
        return Err(format!(
            "{} task(s), {} running, want {}",
            tasks.len(),
            running.len(),
            intent.instances
        ));
    }
    let config = app["versionInfo"]["lastConfigChangeAt"]
        .as_str()
        .unwrap_or_default();
    for t in &tasks {
        let version = t["version"].as_str().unwrap_or_default();
        if version < config {
            return Err(format!(
                "{} runs version {version}, older than the configuration {config}",
                t["id"]
            ));
        }
        if intent.health_checked {
            let results = t["healthCheckResults"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if results.is_empty() || results.iter().any(|h| h["alive"] != true) {
                return Err(format!("{} not healthy yet", t["id"]));
            }
        }
    }
    if intent.unique {
        let hosts: BTreeSet<&str> = tasks.iter().filter_map(|t| t["host"].as_str()).collect();
        if hosts.len() != tasks.len() {
            return Err(format!("tasks share hosts: {hosts:?}"));
        }
    }
    let safe = intent.id.trim_start_matches('/').replace('/', "_");
    let marathon_ids: BTreeSet<&str> = tasks.iter().filter_map(|t| t["id"].as_str()).collect();
    let master_ids: BTreeSet<&str> = master
        .iter()
        .filter(|t| t.app == safe && is_live(&t.state))
        .map(|t| t.id.as_str())
        .collect();
    if marathon_ids != master_ids {
        return Err(format!(
            "Marathon's tasks {marathon_ids:?} are not the master's live tasks {master_ids:?}"
        ));
    }
    if let Some(t) = master
        .iter()
        .find(|t| t.app == safe && is_live(&t.state) && t.state != "TASK_RUNNING")
    {
        return Err(format!("the master has {} in {}", t.id, t.state));
    }
    Ok(())
}

/// Acknowledged versions (from 2xx answers) missing from `/v2/apps/<id>/versions`.
pub fn acknowledged_versions_kept(acknowledged: &[String], versions: &Value) -> Vec<String> {
    let listed: BTreeSet<&str> = versions["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    acknowledged
        .iter()
        .filter(|v| !listed.contains(v.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
