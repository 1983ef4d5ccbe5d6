//! Instances: one launched task of an app, as Marathon tracks it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::app::{AppDefinition, PathId};

/// Where an instance is in its life, after the last status update Marathon got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Condition {
    /// Marathon decided to launch it and persisted it; no update yet.
    Provisioned,
    Staging,
    Starting,
    Running,
    Killing,
    Unreachable,
    /// Unreachable for longer than `unreachableStrategy.inactiveAfterSeconds`: replaced.
    UnreachableInactive,
    Finished,
    Failed,
    Killed,
    Error,
    Lost,
    Dropped,
    Gone,
    GoneByOperator,
    Unknown,
}

impl Condition {
    /// From a Mesos task state name (`TASK_RUNNING`).
    pub fn from_mesos(state: &str) -> Condition {
        match state {
            "TASK_STAGING" => Condition::Staging,
            "TASK_STARTING" => Condition::Starting,
            "TASK_RUNNING" => Condition::Running,
            "TASK_KILLING" => Condition::Killing,
            "TASK_FINISHED" => Condition::Finished,
            "TASK_FAILED" => Condition::Failed,
            "TASK_KILLED" => Condition::Killed,
            "TASK_ERROR" => Condition::Error,
            "TASK_LOST" => Condition::Lost,
            "TASK_DROPPED" => Condition::Dropped,
            "TASK_UNREACHABLE" => Condition::Unreachable,
            "TASK_GONE" => Condition::Gone,
            "TASK_GONE_BY_OPERATOR" => Condition::GoneByOperator,
            _ => Condition::Unknown,
        }
    }

    /// The Mesos task state shown as a task's `state`.
    pub fn mesos_state(self) -> &'static str {
        match self {
            Condition::Provisioned | Condition::Staging => "TASK_STAGING",
            Condition::Starting => "TASK_STARTING",
            Condition::Running => "TASK_RUNNING",
            Condition::Killing => "TASK_KILLING",
            Condition::Unreachable | Condition::UnreachableInactive => "TASK_UNREACHABLE",
            Condition::Finished => "TASK_FINISHED",
            Condition::Failed => "TASK_FAILED",
            Condition::Killed => "TASK_KILLED",
            Condition::Error => "TASK_ERROR",
            Condition::Lost => "TASK_LOST",
            Condition::Dropped => "TASK_DROPPED",
            Condition::Gone => "TASK_GONE",
            Condition::GoneByOperator => "TASK_GONE_BY_OPERATOR",
            Condition::Unknown => "TASK_UNKNOWN",
        }
    }

    /// Marathon's name of the condition (`instance_changed_event.condition`).
    pub fn name(self) -> &'static str {
        match self {
            Condition::Provisioned => "Provisioned",
            Condition::Staging => "Staging",
            Condition::Starting => "Starting",
            Condition::Running => "Running",
            Condition::Killing => "Killing",
            Condition::Unreachable => "Unreachable",
            Condition::UnreachableInactive => "UnreachableInactive",
            Condition::Finished => "Finished",
            Condition::Failed => "Failed",
            Condition::Killed => "Killed",
            Condition::Error => "Error",
            Condition::Lost => "Lost",
            Condition::Dropped => "Dropped",
            Condition::Gone => "Gone",
            Condition::GoneByOperator => "GoneByOperator",
            Condition::Unknown => "Unknown",
        }
    }

    /// The task has ended for good: the instance is forgotten (and replaced if needed).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Condition::Finished
                | Condition::Failed
                | Condition::Killed
                | Condition::Error
                | Condition::Lost
                | Condition::Dropped
                | Condition::Gone
                | Condition::GoneByOperator
                | Condition::Unknown
        )
    }

    /// An end that counts as the app failing: the launch backoff grows.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Condition::Finished | Condition::Failed | Condition::Error
        )
    }

    /// Launched but not yet running.
    pub fn is_staged(self) -> bool {
        matches!(
            self,
            Condition::Provisioned | Condition::Staging | Condition::Starting
        )
    }
}

/// One instance and the single task it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub task_id: String,
    pub app_id: PathId,
    /// The app version it was launched with.
    pub version: String,
    /// The app's `lastConfigChangeAt` when it was launched: a later config change makes
    /// it outdated, a later scale does not.
    pub config_version: String,
    pub agent_id: String,
    pub hostname: String,
    pub host_ports: Vec<u32>,
    pub service_ports: Vec<u32>,
    pub condition: Condition,
    /// Milliseconds since the epoch.
    pub staged_at: u64,
    pub started_at: Option<u64>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// When Marathon asked Mesos to kill it.
    #[serde(default)]
    pub kill_requested_at: Option<u64>,
    #[serde(default)]
    pub unreachable_since: Option<u64>,
    /// Marathon's health of the instance, over all its app's health checks (Marathon's
    /// probes and the agent's): None until a check has a result, then true when every
    /// check is alive. Kept current by the service from [`crate::health`]; what
    /// deployments and the task counts read. Not kept across leaders: a new leader checks
    /// again.
    #[serde(default, skip_serializing)]
    pub healthy: Option<bool>,
    /// The `healthy` field of the last Mesos status that had one (health checks run by the
    /// agent), replayed into the health records when a leader loads the state.
    #[serde(default)]
    pub mesos_healthy: Option<bool>,
    /// Message of the last status, for `lastTaskFailure`.
    #[serde(default)]
    pub message: Option<String>,
    /// A pod instance's tasks, one per container, by Mesos task id (empty for an app's
    /// instance, whose one task is `task_id`). The instance's condition and health are
    /// made of theirs ([`pod_condition`], [`pod_health`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_tasks: BTreeMap<String, PodTask>,
}

/// One container's task of a pod instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTask {
    /// The container's name in the pod.
    pub container: String,
    pub condition: Condition,
    /// Whether the container has a health check (its `healthy` counts).
    pub checked: bool,
    #[serde(default)]
    pub healthy: Option<bool>,
    /// When the condition last changed (milliseconds since the epoch).
    pub since: u64,
    #[serde(default)]
    pub message: Option<String>,
}

/// The condition of a pod instance made of its tasks' (Mesos's default executor kills
/// the rest of a group when one task fails or is killed): a failure ends it at once; a
/// kill keeps it Killing until every task has ended; a container that finished
/// successfully leaves the others running; otherwise the least advanced task's.
pub fn pod_condition<'a>(tasks: impl IntoIterator<Item = &'a PodTask>) -> Condition {
    let conditions: Vec<Condition> = tasks.into_iter().map(|t| t.condition).collect();
    if let Some(&failed) = conditions
        .iter()
        .find(|c| c.is_terminal() && !matches!(c, Condition::Killed | Condition::Finished))
    {
        return failed;
    }
    if conditions.iter().all(|c| c.is_terminal()) {
        return if conditions.contains(&Condition::Killed) {
            Condition::Killed
        } else {
            Condition::Finished
        };
    }
    let live = conditions.iter().filter(|c| !c.is_terminal());
    let rank = |c: &Condition| match c {
        Condition::Provisioned => 0,
        Condition::Staging => 1,
        Condition::Starting => 2,
        _ => 3,
    };
    if conditions.contains(&Condition::Killed) || conditions.contains(&Condition::Killing) {
        return Condition::Killing;
    }
    for c in [Condition::UnreachableInactive, Condition::Unreachable] {
        if conditions.contains(&c) {
            return c;
        }
    }
    live.min_by_key(|c| rank(c))
        .copied()
        .unwrap_or(Condition::Unknown)
}

/// A pod instance's health: unhealthy when a checked container is, healthy when every
/// checked container is, unknown until then (or without checks).
pub fn pod_health<'a>(tasks: impl IntoIterator<Item = &'a PodTask>) -> Option<bool> {
    let checked: Vec<Option<bool>> = tasks
        .into_iter()
        .filter(|t| t.checked)
        .map(|t| t.healthy)
        .collect();
    if checked.is_empty() {
        None
    } else if checked.contains(&Some(false)) {
        Some(false)
    } else if checked.iter().all(|h| *h == Some(true)) {
        Some(true)
    } else {
        None
    }
}

impl Instance {
    /// A new instance of `app` that Marathon decided to launch on `agent_id` at `now`.
    pub fn provisioned(
        app: &AppDefinition,
        task_id: String,
        agent_id: &str,
        hostname: &str,
        host_ports: Vec<u32>,
        now: u64,
    ) -> Instance {
        Instance {
            task_id,
            app_id: app.id.clone(),
            version: app.version.clone(),
            config_version: app.version_info.last_config_change_at.clone(),
            agent_id: agent_id.to_string(),
            hostname: hostname.to_string(),
            host_ports,
            service_ports: app.service_ports(),
            condition: Condition::Provisioned,
            staged_at: now,
            started_at: None,
            ip_addresses: vec![],
            kill_requested_at: None,
            unreachable_since: None,
            healthy: None,
            mesos_healthy: None,
            message: None,
            pod_tasks: BTreeMap::new(),
        }
    }

    /// The Mesos task ids of the instance: its pod tasks, or its one task.
    pub fn mesos_task_ids(&self) -> Vec<String> {
        if self.pod_tasks.is_empty() {
            vec![self.task_id.clone()]
        } else {
            self.pod_tasks.keys().cloned().collect()
        }
    }

    /// The Mesos task ids of the instance that Mesos has sent a status of (not just
    /// provisioned).
    pub fn confirmed_task_ids(&self) -> Vec<String> {
        if self.pod_tasks.is_empty() {
            (self.condition != Condition::Provisioned)
                .then(|| self.task_id.clone())
                .into_iter()
                .collect()
        } else {
            self.pod_tasks
                .iter()
                .filter(|(_, t)| t.condition != Condition::Provisioned)
                .map(|(id, _)| id.clone())
                .collect()
        }
    }

    /// Alive and not on its way out: counts toward the app's instances.
    pub fn is_active(&self) -> bool {
        !self.condition.is_terminal()
            && self.condition != Condition::UnreachableInactive
            && self.kill_requested_at.is_none()
    }
}

/// A new task id: `<safeId>.instance-<uuid>._app.1`, as Marathon 1.8+ names tasks.
pub fn new_task_id(app: &PathId, uuid: uuid::Uuid) -> String {
    format!("{}.instance-{}._app.1", app.safe_id(), uuid)
}

/// The app a task id belongs to (also for ids of Marathon <= 1.7, `<safeId>.<uuid>`).
pub fn app_of_task_id(task_id: &str) -> Option<PathId> {
    let (safe, _) = task_id.split_once('.')?;
    if safe.is_empty() {
        return None;
    }
    Some(PathId::from_safe_id(safe))
}

/// The instance id of a task id (`<safeId>.instance-<uuid>`).
pub fn instance_id_of(task_id: &str) -> &str {
    task_id.strip_suffix("._app.1").unwrap_or(task_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_name_their_app() {
        let app = PathId::parse("/prod/web");
        let id = new_task_id(&app, uuid::Uuid::nil());
        assert_eq!(
            id,
            "prod_web.instance-00000000-0000-0000-0000-000000000000._app.1"
        );
        assert_eq!(app_of_task_id(&id), Some(app.clone()));
        assert_eq!(
            app_of_task_id("prod_web.5e8a2c5a-1111-11e7-9a52-0242ac110002"),
            Some(app)
        );
        assert_eq!(app_of_task_id("nodot"), None);
        assert_eq!(
            instance_id_of(&id),
            "prod_web.instance-00000000-0000-0000-0000-000000000000"
        );
    }

    fn tasks(conditions: &[(Condition, bool, Option<bool>)]) -> Vec<PodTask> {
        conditions
            .iter()
            .enumerate()
            .map(|(n, &(condition, checked, healthy))| PodTask {
                container: format!("c{n}"),
                condition,
                checked,
                healthy,
                since: 0,
                message: None,
            })
            .collect()
    }

    #[test]
    fn a_pod_instance_is_as_its_tasks_are() {
        use Condition::*;
        let cases = [
            (vec![Provisioned, Provisioned], Provisioned),
            (vec![Running, Starting], Starting),
            (vec![Running, Running], Running),
            (vec![Running, Finished], Running),
            (vec![Running, Failed], Failed),
            (vec![Running, Killed], Killing),
            (vec![Killed, Killed], Killed),
            (vec![Finished, Finished], Finished),
            (vec![Running, Unreachable], Unreachable),
        ];
        for (states, want) in cases {
            let t = tasks(&states.iter().map(|&c| (c, false, None)).collect::<Vec<_>>());
            assert_eq!(pod_condition(&t), want, "{states:?}");
        }
        let health = |h: &[(bool, Option<bool>)]| {
            pod_health(&tasks(
                &h.iter()
                    .map(|&(c, h)| (Condition::Running, c, h))
                    .collect::<Vec<_>>(),
            ))
        };
        assert_eq!(health(&[(false, None)]), None, "no checks");
        assert_eq!(health(&[(true, Some(true)), (false, None)]), Some(true));
        assert_eq!(health(&[(true, Some(true)), (true, None)]), None);
        assert_eq!(
            health(&[(true, Some(true)), (true, Some(false))]),
            Some(false)
        );
    }

    #[test]
    fn conditions_round_trip_mesos_states() {
        for s in [
            "TASK_STAGING",
            "TASK_RUNNING",
            "TASK_FAILED",
            "TASK_UNREACHABLE",
            "TASK_GONE_BY_OPERATOR",
        ] {
            assert_eq!(Condition::from_mesos(s).mesos_state(), s);
        }
        assert!(Condition::Failed.is_failure());
        assert!(!Condition::Killed.is_failure());
        assert!(Condition::Killed.is_terminal());
        assert!(!Condition::Unreachable.is_terminal());
    }
}
