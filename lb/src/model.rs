//! What marathon-lb needs to know of Marathon's apps and tasks, as plain values: the wire
//! JSON is converted into these at the edge (`wire`), so the cores never see JSON.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// How an app's tasks are reached (marathon-lb's networking modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Networking {
    /// Host networking: the agent's address and the task's host ports.
    Host,
    /// Docker BRIDGE: the agent's address and the host ports mapped to the container.
    Bridge,
    /// A container network (USER, IP per task): the task's own address and container ports.
    Container,
}

/// A Marathon health check, as far as HAProxy's own checks use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub protocol: String,
    pub port_index: Option<usize>,
    pub port: Option<u32>,
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub max_consecutive_failures: u32,
}

impl HealthCheck {
    /// HTTP checks make the service an HTTP one (marathon-lb's rule).
    pub fn is_http(&self) -> bool {
        matches!(
            self.protocol.as_str(),
            "HTTP" | "HTTPS" | "MESOS_HTTP" | "MESOS_HTTPS"
        )
    }

    pub fn is_tcp(&self) -> bool {
        matches!(self.protocol.as_str(), "TCP" | "MESOS_TCP")
    }
}

/// One task of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    /// The agent's host name.
    pub host: String,
    /// The address to send traffic to: the host's (resolved at the edge) or, on container
    /// networks, the task's own; `None` when it has none (yet).
    pub ip: Option<IpAddr>,
    /// The ports to send traffic to, in service port order.
    pub ports: Vec<u32>,
    /// Mesos state (`TASK_RUNNING`...); absent in hand-made inputs.
    pub state: Option<String>,
    /// `alive` of each health check result (empty: no result yet).
    pub alive: Vec<bool>,
}

/// One app with its tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Marathon's absolute id (`/prod/web`).
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub networking: Networking,
    /// Service ports in port order (`servicePort` of port mappings, `portDefinitions[].port`).
    pub service_ports: Vec<u32>,
    pub health_checks: Vec<HealthCheck>,
    pub tasks: Vec<Task>,
    /// Readiness of the tasks Marathon reports on (`readinessCheckResults`): task id -> ready.
    pub readiness: BTreeMap<String, bool>,
}

impl App {
    /// The health check for service port `index`: the first with an explicit `port`, or
    /// the first for that `portIndex` (marathon-lb's choice).
    pub fn health_check(&self, index: usize) -> Option<&HealthCheck> {
        self.health_checks
            .iter()
            .find(|c| c.port.is_some() || c.port_index.unwrap_or(0) == index)
    }
}

/// Mesos task states that get no traffic: not yet running, being killed, or ended.
/// TASK_RUNNING gets traffic, and so do TASK_LOST and TASK_UNREACHABLE, whose tasks may
/// well still run (marathon-lb's list).
pub const EXCLUDED_STATES: &[&str] = &[
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
];

/// Whether a task in `state` gets no traffic.
pub fn is_excluded_state(state: &str) -> bool {
    EXCLUDED_STATES.contains(&state)
}

/// Whether a task in `state` is being killed or has ended: it never gets traffic again
/// (unlike a task still starting, which is merely not serving yet).
pub fn is_ending_state(state: &str) -> bool {
    is_excluded_state(state) && !matches!(state, "TASK_STAGING" | "TASK_STARTING")
}
