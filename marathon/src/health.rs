//! Instance health, as Marathon keeps it: per instance and health check a [`Health`]
//! record fed by Marathon's own probes (HTTP, HTTPS, TCP) and by the `healthy` field of
//! Mesos status updates (COMMAND and MESOS_* checks run by the agent).
//!
//! A pure core: [`HealthMonitor::due`] says which probes to run now, the edge runs them and
//! hands each outcome to [`HealthMonitor::on_result`], which returns [`HealthEvent`]s (the
//! one place health events happen: status changes, failed checks, kills of unhealthy
//! instances). Time is an argument in milliseconds since the epoch.
//!
//! Marathon's rules, kept here:
//! - a probe runs on RUNNING instances of the app's current configuration, the first one
//!   `min(interval, 5 s)` after Marathon sees the instance run, then every `interval`;
//! - a failure is ignored (the record is kept as it is) while the instance is not running,
//!   or before its first success while within `gracePeriodSeconds` of running;
//! - a counted failure kills the instance when the failures counted *before* it already
//!   reached `maxConsecutiveFailures` (0 disables kills), unless it is unreachable: so
//!   with 3 it is the fourth consecutive failure that kills;
//! - `alive` = a success, and none failed after it.
//!
//! Health lives in memory only. A new leader starts with no record, so no instance is
//! killed for health before the new leader has probed it again `maxConsecutiveFailures + 1`
//! times (no kill storm after a failover); the last `healthy` a Mesos status reported is
//! replayed without events when the state is loaded, as Marathon does.

use std::collections::BTreeMap;

use crate::app::health_check::{PortChoice, Protocol};
use crate::app::{AppDefinition, HealthCheck, NetworkMode, PathId};
use crate::instance::{instance_id_of, Condition, Instance};
use crate::tracker::Tracker;

/// Marathon starts probing an app at most this long after it sees it.
pub const FIRST_CHECK_AFTER_MS: u64 = 5_000;

/// The health one check gives one instance (Marathon's `Health`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub first_success: Option<u64>,
    pub last_success: Option<u64>,
    pub last_failure: Option<u64>,
    pub last_failure_cause: Option<String>,
    pub consecutive_failures: u32,
}

impl Health {
    pub fn alive(&self) -> bool {
        self.last_success
            .is_some_and(|s| self.last_failure.is_none_or(|f| s > f))
    }

    fn success(mut self, now: u64) -> Health {
        self.first_success.get_or_insert(now);
        self.last_success = Some(now);
        self.consecutive_failures = 0;
        self
    }

    fn failure(mut self, cause: String, now: u64) -> Health {
        self.last_failure = Some(now);
        self.last_failure_cause = Some(cause);
        self.consecutive_failures += 1;
        self
    }
}

/// What one probe (or one Mesos health report) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Healthy,
    Unhealthy(String),
    /// A 1xx answer to a check with `ignoreHttp1xx`: nothing changes.
    Ignored,
}

/// One probe for the edge to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub task_id: String,
    /// The index of the check in the app's `healthChecks`.
    pub check: usize,
    pub protocol: Protocol,
    pub host: String,
    pub port: u32,
    /// The request path of HTTP(S) probes (`/` when the check names none).
    pub path: String,
    pub timeout_ms: u64,
    pub ignore_http1xx: bool,
}

/// Health events, for the event stream and the kill path. Every event Marathon publishes
/// about health comes out of [`HealthMonitor::on_result`] as one of these.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthEvent {
    /// `health_status_changed_event`: the instance's `alive` changed for this check.
    StatusChanged {
        app_id: PathId,
        task_id: String,
        instance_id: String,
        version: String,
        alive: bool,
    },
    /// `failed_health_check_event`: a failure that counted.
    FailedCheck {
        app_id: PathId,
        task_id: String,
        instance_id: String,
        check: Box<HealthCheck>,
    },
    /// `unhealthy_instance_kill_event`; the instance is to be killed (and replaced).
    KillUnhealthy {
        app_id: PathId,
        task_id: String,
        instance_id: String,
        version: String,
        reason: String,
        host: String,
        agent_id: String,
        /// The last failure, milliseconds since the epoch.
        timestamp_ms: u64,
    },
}

#[derive(Debug, Clone, Default)]
struct CheckState {
    health: Option<Health>,
    next_at: Option<u64>,
    in_flight: bool,
}

#[derive(Debug, Default)]
pub struct HealthMonitor {
    /// Per task id, one state per health check of its app.
    tasks: BTreeMap<String, Vec<CheckState>>,
}

impl HealthMonitor {
    pub fn new() -> HealthMonitor {
        HealthMonitor::default()
    }

    /// The probes due at `now` (each marked in flight until its outcome comes back).
    pub fn due(&mut self, tracker: &Tracker, now: u64) -> Vec<Probe> {
        let mut probes = vec![];
        for app in tracker.apps() {
            if !app.health_checks.iter().any(|h| h.protocol.is_marathon()) {
                continue;
            }
            for i in tracker.instances_of(&app.id) {
                if i.condition != Condition::Running
                    || !i.is_active()
                    || i.config_version != app.version_info.last_config_change_at
                {
                    continue;
                }
                let states = states_for(&mut self.tasks, &i.task_id, app);
                for (n, hc) in app.health_checks.iter().enumerate() {
                    let state = &mut states[n];
                    if !hc.protocol.is_marathon() || state.in_flight {
                        continue;
                    }
                    let interval = hc.interval_ms().max(100);
                    let Some(at) = state.next_at else {
                        state.next_at = Some(now + interval.min(FIRST_CHECK_AFTER_MS));
                        continue;
                    };
                    if now < at {
                        continue;
                    }
                    state.next_at = Some(now + interval);
                    let Some((host, port)) = target(app, hc, i) else {
                        tracing::warn!(task = %i.task_id, check = n, "the health check names no port of the task");
                        continue;
                    };
                    state.in_flight = true;
                    probes.push(Probe {
                        task_id: i.task_id.clone(),
                        check: n,
                        protocol: hc.protocol,
                        host,
                        port,
                        path: match hc.path.as_deref() {
                            Some(p) if p.starts_with('/') => p.to_string(),
                            Some(p) => format!("/{p}"),
                            None => "/".to_string(),
                        },
                        timeout_ms: hc.timeout_ms(),
                        ignore_http1xx: hc.ignore_http1xx.unwrap_or(false),
                    });
                }
            }
        }
        probes
    }

    /// Applies the outcome of check `check` on `task_id`; `publish` is false for replayed
    /// outcomes (no events, no kill), as Marathon replays Mesos health when it starts.
    pub fn on_result(
        &mut self,
        tracker: &Tracker,
        task_id: &str,
        check: usize,
        outcome: Outcome,
        now: u64,
        publish: bool,
    ) -> Vec<HealthEvent> {
        let Some(instance) = tracker.instance(task_id) else {
            self.tasks.remove(task_id);
            return vec![];
        };
        let Some(app) = tracker.app(&instance.app_id) else {
            return vec![];
        };
        let Some(hc) = app.health_checks.get(check) else {
            return vec![];
        };
        let states = states_for(&mut self.tasks, task_id, app);
        let state = &mut states[check];
        state.in_flight = false;
        let before = state.health.clone().unwrap_or_default();
        let mut events = vec![];
        let after = match outcome {
            Outcome::Healthy => before.clone().success(now),
            Outcome::Ignored => before.clone(),
            Outcome::Unhealthy(_) if ignore_failure(instance, &before, hc, now) => before.clone(),
            Outcome::Unhealthy(cause) => {
                if publish {
                    events.push(HealthEvent::FailedCheck {
                        app_id: app.id.clone(),
                        task_id: task_id.to_string(),
                        instance_id: instance_id_of(task_id).to_string(),
                        check: Box::new(hc.clone()),
                    });
                }
                let max = u32::try_from(hc.max_consecutive_failures).unwrap_or(u32::MAX);
                let kill = publish
                    && max > 0
                    && before.consecutive_failures >= max
                    && instance.condition != Condition::Unreachable
                    && instance.kill_requested_at.is_none();
                if kill {
                    events.push(HealthEvent::KillUnhealthy {
                        app_id: app.id.clone(),
                        task_id: task_id.to_string(),
                        instance_id: instance_id_of(task_id).to_string(),
                        version: app.version.clone(),
                        reason: before
                            .last_failure_cause
                            .clone()
                            .unwrap_or_else(|| "unknown".to_string()),
                        host: instance.hostname.clone(),
                        agent_id: instance.agent_id.clone(),
                        timestamp_ms: before.last_failure.unwrap_or(now),
                    });
                }
                before.clone().failure(cause, now)
            }
        };
        if publish && before.alive() != after.alive() {
            events.push(HealthEvent::StatusChanged {
                app_id: app.id.clone(),
                task_id: task_id.to_string(),
                instance_id: instance_id_of(task_id).to_string(),
                version: app.version.clone(),
                alive: after.alive(),
            });
        }
        state.health = Some(after);
        events
    }

    /// A Mesos status update's `healthy`: the outcome of the app's Mesos health check.
    pub fn on_mesos_health(
        &mut self,
        tracker: &Tracker,
        task_id: &str,
        healthy: bool,
        now: u64,
        publish: bool,
    ) -> Vec<HealthEvent> {
        let Some(check) = tracker
            .instance(task_id)
            .and_then(|i| tracker.app(&i.app_id))
            .and_then(|a| {
                a.health_checks
                    .iter()
                    .position(|h| !h.protocol.is_marathon())
            })
        else {
            return vec![];
        };
        let outcome = if healthy {
            Outcome::Healthy
        } else {
            Outcome::Unhealthy(String::new())
        };
        self.on_result(tracker, task_id, check, outcome, now, publish)
    }

    /// Forgets instances that ended or are being killed.
    pub fn purge(&mut self, tracker: &Tracker) {
        self.tasks.retain(|t, _| {
            tracker
                .instance(t)
                .is_some_and(|i| !i.condition.is_terminal())
        });
    }

    /// The records of an instance, one per check that has a result.
    pub fn results(&self, task_id: &str) -> impl Iterator<Item = &Health> {
        self.tasks
            .get(task_id)
            .into_iter()
            .flatten()
            .filter_map(|s| s.health.as_ref())
    }

    /// Marathon's health of an instance: unknown without records, else healthy when every
    /// record is alive.
    pub fn healthy(&self, task_id: &str) -> Option<bool> {
        let mut any = false;
        for h in self.results(task_id) {
            if !h.alive() {
                return Some(false);
            }
            any = true;
        }
        any.then_some(true)
    }
}

fn states_for<'a>(
    tasks: &'a mut BTreeMap<String, Vec<CheckState>>,
    task_id: &str,
    app: &AppDefinition,
) -> &'a mut Vec<CheckState> {
    let states = tasks.entry(task_id.to_string()).or_default();
    if states.len() < app.health_checks.len() {
        states.resize(app.health_checks.len(), CheckState::default());
    }
    states
}

/// Failures do not count while the instance is not running, nor before its first success
/// within the grace period after it started running.
fn ignore_failure(i: &Instance, health: &Health, hc: &HealthCheck, now: u64) -> bool {
    if i.condition != Condition::Running {
        return true;
    }
    let since = i.started_at.unwrap_or(now);
    health.first_success.is_none() && since + hc.grace_period_ms() > now
}

/// Where Marathon probes an instance: the agent's host and the task's host port (or the
/// task's address and the container port on a container network without host ports).
fn target(app: &AppDefinition, hc: &HealthCheck, i: &Instance) -> Option<(String, u32)> {
    match hc.port_choice(app)? {
        PortChoice::Fixed(p) => Some((i.hostname.clone(), p)),
        PortChoice::Index(n) => match i.host_ports.get(n) {
            Some(&p) if p != 0 => Some((i.hostname.clone(), p)),
            _ if app.network_mode() == NetworkMode::Container => {
                let port = app.port_mappings().get(n)?.container_port;
                Some((i.ip_addresses.first()?.clone(), port))
            }
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::update::AppUpdate;
    use crate::instance::new_task_id;
    use crate::tracker::{StatusUpdate, TrackerConfig};
    use serde_json::json;

    const S: u64 = 1000;

    fn app(checks: serde_json::Value) -> AppDefinition {
        let u = AppUpdate::from_value(json!({"id": "/web", "cmd": "x", "healthChecks": checks}))
            .unwrap();
        let mut a = u.apply(AppDefinition::with_defaults(PathId::parse("/web")), true);
        a.version = "v1".into();
        a.version_info.last_config_change_at = "v1".into();
        a
    }

    /// A tracker with `app` and one instance of it, running since `running_at`.
    fn world(app: &AppDefinition, running_at: u64) -> (Tracker, String) {
        let mut t = Tracker::new(TrackerConfig {
            task_launch_timeout_ms: 300_000,
        });
        t.put_app(app.clone(), 0);
        let task_id = new_task_id(&app.id, uuid::Uuid::from_u128(1));
        t.provisioned(vec![Instance::provisioned(
            app,
            task_id.clone(),
            "a1",
            "node1",
            vec![31000],
            0,
        )]);
        t.on_status(
            &StatusUpdate {
                task_id: task_id.clone(),
                agent_id: Some("a1".into()),
                state: "TASK_RUNNING".into(),
                message: None,
                healthy: None,
                ip_addresses: vec![],
                timestamp_ms: running_at,
            },
            running_at,
        );
        (t, task_id)
    }

    fn kills(events: &[HealthEvent]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, HealthEvent::KillUnhealthy { .. }))
            .count()
    }

    fn fail() -> Outcome {
        Outcome::Unhealthy("503 Service Unavailable".into())
    }

    #[test]
    fn probes_start_after_min_interval_and_five_seconds_then_every_interval() {
        for (interval, first) in [(1u64, S), (60, 5 * S)] {
            let a = app(json!([{"intervalSeconds": interval, "path": "health"}]));
            let (t, task) = world(&a, 0);
            let mut m = HealthMonitor::new();
            assert!(m.due(&t, 10 * S).is_empty(), "first seen: scheduled");
            assert!(m.due(&t, 10 * S + first - 1).is_empty());
            let probes = m.due(&t, 10 * S + first);
            assert_eq!(probes.len(), 1);
            let p = &probes[0];
            assert_eq!(
                (p.host.as_str(), p.port, p.path.as_str()),
                ("node1", 31000, "/health")
            );
            assert!(
                m.due(&t, 100 * S).is_empty(),
                "one probe in flight at a time"
            );
            m.on_result(&t, &task, 0, Outcome::Healthy, 100 * S, true);
            assert_eq!(m.due(&t, 100 * S).len(), 1, "overdue: at once");
            m.on_result(&t, &task, 0, Outcome::Healthy, 100 * S, true);
            assert!(m.due(&t, 100 * S + interval * S - 1).is_empty());
            assert_eq!(m.due(&t, 100 * S + interval * S).len(), 1);
        }
    }

    #[test]
    fn mesos_checks_and_other_instances_are_not_probed_by_marathon() {
        let a = app(json!([{"protocol": "MESOS_TCP", "intervalSeconds": 1}]));
        let (t, _) = world(&a, 0);
        let mut m = HealthMonitor::new();
        m.due(&t, 0);
        assert!(m.due(&t, 100 * S).is_empty());
    }

    /// Marathon's counting: failures before the first success are ignored within the grace
    /// period; a counted failure kills when those counted before it reached the maximum.
    #[test]
    fn counting_grace_period_and_kills() {
        struct Case {
            name: &'static str,
            grace: u64,
            max: u64,
            /// (seconds after running, healthy?)
            results: &'static [(u64, bool)],
            /// The result (1-based) that kills, if any.
            kill_at: Option<usize>,
            failures_after: u32,
        }
        let cases = [
            Case {
                name: "fourth failure kills with max 3",
                grace: 0,
                max: 3,
                results: &[(1, false), (2, false), (3, false), (4, false)],
                kill_at: Some(4),
                failures_after: 4,
            },
            Case {
                name: "three failures do not",
                grace: 0,
                max: 3,
                results: &[(1, false), (2, false), (3, false)],
                kill_at: None,
                failures_after: 3,
            },
            Case {
                name: "a success resets the count",
                grace: 0,
                max: 2,
                results: &[(1, false), (2, false), (3, true), (4, false), (5, false)],
                kill_at: None,
                failures_after: 2,
            },
            Case {
                name: "max 0 never kills",
                grace: 0,
                max: 0,
                results: &[(1, false), (2, false), (3, false), (4, false)],
                kill_at: None,
                failures_after: 4,
            },
            Case {
                name: "failures within the grace period are ignored",
                grace: 10,
                max: 1,
                results: &[(1, false), (5, false), (9, false)],
                kill_at: None,
                failures_after: 0,
            },
            Case {
                name: "after the grace period they count",
                grace: 10,
                max: 1,
                results: &[(9, false), (11, false), (12, false)],
                kill_at: Some(3),
                failures_after: 2,
            },
            Case {
                name: "after a first success the grace period is over",
                grace: 100,
                max: 1,
                results: &[(1, true), (2, false), (3, false)],
                kill_at: Some(3),
                failures_after: 2,
            },
        ];
        for c in cases {
            let a = app(json!([{"gracePeriodSeconds": c.grace, "maxConsecutiveFailures": c.max}]));
            let (t, task) = world(&a, 0);
            let mut m = HealthMonitor::new();
            let mut killed_at = None;
            for (n, &(at, ok)) in c.results.iter().enumerate() {
                let outcome = if ok { Outcome::Healthy } else { fail() };
                let events = m.on_result(&t, &task, 0, outcome, at * S, true);
                if kills(&events) > 0 && killed_at.is_none() {
                    killed_at = Some(n + 1);
                }
            }
            assert_eq!(killed_at, c.kill_at, "{}", c.name);
            let h = m.results(&task).next().unwrap();
            assert_eq!(h.consecutive_failures, c.failures_after, "{}", c.name);
        }
    }

    #[test]
    fn alive_and_events() {
        let a = app(json!([{"gracePeriodSeconds": 0, "maxConsecutiveFailures": 1}]));
        let (t, task) = world(&a, 0);
        let mut m = HealthMonitor::new();
        assert_eq!(m.healthy(&task), None, "no record yet");
        let e = m.on_result(&t, &task, 0, Outcome::Healthy, S, true);
        assert!(matches!(
            &e[..],
            [HealthEvent::StatusChanged { alive: true, .. }]
        ));
        assert_eq!(m.healthy(&task), Some(true));
        assert!(m
            .on_result(&t, &task, 0, Outcome::Ignored, 2 * S, true)
            .is_empty());
        let e = m.on_result(&t, &task, 0, fail(), 3 * S, true);
        assert!(matches!(
            &e[..],
            [
                HealthEvent::FailedCheck { .. },
                HealthEvent::StatusChanged { alive: false, .. }
            ]
        ));
        assert_eq!(m.healthy(&task), Some(false));
        let e = m.on_result(&t, &task, 0, fail(), 4 * S, true);
        match &e[1] {
            HealthEvent::KillUnhealthy {
                reason,
                timestamp_ms,
                host,
                ..
            } => {
                assert_eq!(
                    reason, "503 Service Unavailable",
                    "the cause counted before"
                );
                assert_eq!(*timestamp_ms, 3 * S);
                assert_eq!(host, "node1");
            }
            other => panic!("{other:?}"),
        }
        let h = m.results(&task).next().unwrap();
        assert_eq!(h.first_success, Some(S));
        assert_eq!(h.last_failure, Some(4 * S));
    }

    /// A new leader has no records: however long a task failed before, it is killed only
    /// after the new leader counted max + 1 failures of its own; replayed Mesos health
    /// neither kills nor publishes.
    #[test]
    fn after_a_failover_nothing_is_killed_before_it_is_checked_again() {
        let a = app(
            json!([{"gracePeriodSeconds": 0, "maxConsecutiveFailures": 2, "intervalSeconds": 1}]),
        );
        let (t, task) = world(&a, 0);
        let mut old_leader = HealthMonitor::new();
        for n in 1..=2 {
            old_leader.on_result(&t, &task, 0, fail(), n * S, true);
        }
        let mut new_leader = HealthMonitor::new();
        assert_eq!(new_leader.healthy(&task), None);
        assert!(
            new_leader.due(&t, 3 * S).is_empty(),
            "nothing due at takeover"
        );
        for n in 1..=2 {
            let e = new_leader.on_result(&t, &task, 0, fail(), (10 + n) * S, true);
            assert_eq!(kills(&e), 0, "failure {n} of the new leader");
        }
        assert_eq!(
            kills(&new_leader.on_result(&t, &task, 0, fail(), 13 * S, true)),
            1
        );

        let m = app(
            json!([{"protocol": "MESOS_TCP", "gracePeriodSeconds": 0, "maxConsecutiveFailures": 0}]),
        );
        let (t, task) = world(&m, 0);
        let mut replayed = HealthMonitor::new();
        assert!(replayed
            .on_mesos_health(&t, &task, false, S, false)
            .is_empty());
        assert_eq!(replayed.healthy(&task), Some(false));
    }

    #[test]
    fn unreachable_instances_are_not_killed_and_ended_ones_are_forgotten() {
        let a = app(json!([{"gracePeriodSeconds": 0, "maxConsecutiveFailures": 1}]));
        let (mut t, task) = world(&a, 0);
        let mut m = HealthMonitor::new();
        m.on_result(&t, &task, 0, fail(), S, true);
        t.on_status(
            &StatusUpdate {
                task_id: task.clone(),
                agent_id: None,
                state: "TASK_UNREACHABLE".into(),
                message: None,
                healthy: None,
                ip_addresses: vec![],
                timestamp_ms: 2 * S,
            },
            2 * S,
        );
        // Not running: the failure is ignored altogether.
        assert!(m.on_result(&t, &task, 0, fail(), 3 * S, true).is_empty());
        t.kill(std::slice::from_ref(&task), 4 * S);
        t.on_status(
            &StatusUpdate {
                task_id: task.clone(),
                agent_id: None,
                state: "TASK_KILLED".into(),
                message: None,
                healthy: None,
                ip_addresses: vec![],
                timestamp_ms: 5 * S,
            },
            5 * S,
        );
        m.purge(&t);
        assert_eq!(m.results(&task).count(), 0);
    }
}
