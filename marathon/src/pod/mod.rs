//! Pods: several containers that share one network namespace and volumes, launched
//! together on one agent as a Mesos task group (`/v2/pods`, Marathon 1.4+).
//!
//! - [`PodDefinition`]: the pod in Marathon's JSON shape (`containers`, `networks`,
//!   `volumes`, `scaling {kind: fixed, instances}`, `scheduling {backoff, upgrade,
//!   placement}`, `executorResources`). A request body is read into it directly, with
//!   Marathon's defaults for what it leaves out.
//! - [`validate`]: Marathon's pod rules (`PodsValidation`), every failing path at once.
//! - [`PodDefinition::to_run_spec`]: the pod as the [`AppDefinition`] the tracker,
//!   deployments, placement and health run on: instances from `scaling`, resources summed
//!   over the containers plus the executor's, the endpoints' host ports as required
//!   ports, one Mesos health check when a container has one. The pod itself rides along
//!   in `AppDefinition.pod`, so the store keeps versions of it as of apps, and launches
//!   build a task group from it ([`crate::task_group`]).

pub mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::health_check::{CommandCheck, HealthCheck, IpProtocol, Protocol};
use crate::app::{
    AppDefinition, KillSelection, Network, NetworkMode, PathId, PortDefinition,
    UnreachableStrategy, UpgradeStrategy,
};

pub use validate::validate;

/// The default executor's own share of each instance (Marathon's `executorResources`).
pub const EXECUTOR_CPUS: f64 = 0.1;
pub const EXECUTOR_MEM: f64 = 32.0;
pub const EXECUTOR_DISK: f64 = 10.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDefinition {
    pub id: PathId,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Set by Marathon when the pod is stored; a version in a body is ignored.
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `NAME: "value"` or `NAME: {"secret": "<name>"}`.
    #[serde(default)]
    pub environment: BTreeMap<String, Value>,
    #[serde(default)]
    pub containers: Vec<PodContainer>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Value>,
    #[serde(default)]
    pub volumes: Vec<PodVolume>,
    #[serde(default = "host_network")]
    pub networks: Vec<Network>,
    #[serde(default)]
    pub scaling: Scaling,
    #[serde(default)]
    pub scheduling: Scheduling,
    #[serde(default)]
    pub executor_resources: ExecutorResources,
}

fn host_network() -> Vec<Network> {
    vec![Network {
        mode: NetworkMode::Host,
        name: None,
        labels: BTreeMap::new(),
    }]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodContainer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<MesosExec>,
    #[serde(default)]
    pub resources: ContainerResources,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(default)]
    pub environment: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<PodHealthCheck>,
    #[serde(default)]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MesosExec {
    pub command: MesosCommand,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_entrypoint: Option<bool>,
}

/// `{"shell": "..."}` (run by `/bin/sh -c`) or `{"argv": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MesosCommand {
    Shell { shell: String },
    Argv { argv: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContainerResources {
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    #[serde(default = "default_mem")]
    pub mem: f64,
    #[serde(default)]
    pub disk: f64,
    #[serde(default)]
    pub gpus: u32,
}

fn default_cpus() -> f64 {
    crate::app::DEFAULT_CPUS
}
fn default_mem() -> f64 {
    crate::app::DEFAULT_MEM
}

impl Default for ContainerResources {
    fn default() -> Self {
        ContainerResources {
            cpus: default_cpus(),
            mem: default_mem(),
            disk: 0.0,
            gpus: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExecutorResources {
    #[serde(default = "executor_cpus")]
    pub cpus: f64,
    #[serde(default = "executor_mem")]
    pub mem: f64,
    #[serde(default = "executor_disk")]
    pub disk: f64,
}

fn executor_cpus() -> f64 {
    EXECUTOR_CPUS
}
fn executor_mem() -> f64 {
    EXECUTOR_MEM
}
fn executor_disk() -> f64 {
    EXECUTOR_DISK
}

impl Default for ExecutorResources {
    fn default() -> Self {
        ExecutorResources {
            cpus: EXECUTOR_CPUS,
            mem: EXECUTOR_MEM,
            disk: EXECUTOR_DISK,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocol: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ImageKind {
    Docker,
    Appc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub kind: ImageKind,
    pub id: String,
    #[serde(default)]
    pub force_pull: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodHealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<CommandCheckSpec>,
    #[serde(default = "grace")]
    pub grace_period_seconds: i64,
    #[serde(default = "interval")]
    pub interval_seconds: i64,
    #[serde(default = "failures")]
    pub max_consecutive_failures: i64,
    #[serde(default = "timeout")]
    pub timeout_seconds: i64,
    #[serde(default = "delay")]
    pub delay_seconds: i64,
}

fn grace() -> i64 {
    crate::app::health_check::DEFAULT_GRACE_PERIOD_SECONDS
}
fn interval() -> i64 {
    crate::app::health_check::DEFAULT_INTERVAL_SECONDS
}
fn failures() -> i64 {
    crate::app::health_check::DEFAULT_MAX_CONSECUTIVE_FAILURES
}
fn timeout() -> i64 {
    crate::app::health_check::DEFAULT_TIMEOUT_SECONDS
}
fn delay() -> i64 {
    crate::app::health_check::DEFAULT_DELAY_SECONDS
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpCheck {
    pub endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandCheckSpec {
    pub command: MesosCommand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// A pod volume: a host path, or (without `host`) an ephemeral directory the pod's
/// containers share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodVolume {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub uri: String,
    #[serde(default)]
    pub extract: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest_path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_grace_period_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scaling {
    /// Only `fixed` exists.
    #[serde(default = "fixed")]
    pub kind: String,
    #[serde(default = "one")]
    pub instances: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<i64>,
}

fn fixed() -> String {
    "fixed".into()
}
fn one() -> i64 {
    1
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            kind: fixed(),
            instances: 1,
            max_instances: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Scheduling {
    #[serde(default)]
    pub backoff: Backoff,
    #[serde(default)]
    pub upgrade: UpgradeStrategy,
    #[serde(default)]
    pub placement: Placement,
    #[serde(default)]
    pub kill_selection: KillSelection,
    #[serde(default)]
    pub unreachable_strategy: UnreachableStrategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    #[serde(default = "backoff_seconds")]
    pub backoff: f64,
    #[serde(default = "backoff_factor")]
    pub backoff_factor: f64,
    #[serde(default = "max_launch_delay")]
    pub max_launch_delay: f64,
}

fn backoff_seconds() -> f64 {
    crate::app::DEFAULT_BACKOFF_SECONDS
}
fn backoff_factor() -> f64 {
    crate::app::DEFAULT_BACKOFF_FACTOR
}
/// Pods back off up to an hour (apps: 300 s), as Marathon's pod defaults say.
fn max_launch_delay() -> f64 {
    3600.0
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            backoff: backoff_seconds(),
            backoff_factor: backoff_factor(),
            max_launch_delay: max_launch_delay(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// Raw `[field, OPERATOR, value?]` triples, as for apps.
    #[serde(default)]
    pub constraints: Vec<Vec<String>>,
    #[serde(default)]
    pub accepted_resource_roles: Vec<String>,
}

impl PodDefinition {
    pub fn network_mode(&self) -> NetworkMode {
        self.networks
            .first()
            .map(|n| n.mode)
            .unwrap_or(NetworkMode::Host)
    }

    /// The endpoints that take a port on the agent, in declared order (container by
    /// container): all of them on host networking, those with a `hostPort` otherwise.
    pub fn host_port_endpoints(&self) -> Vec<(&PodContainer, &Endpoint)> {
        let host = self.network_mode() == NetworkMode::Host;
        self.containers
            .iter()
            .flat_map(|c| c.endpoints.iter().map(move |e| (c, e)))
            .filter(|(_, e)| host || e.host_port.is_some())
            .collect()
    }

    /// What the rest of Marathon runs: the pod as a run spec (see the module doc).
    /// `version` and `version_info` are left for the caller (the service sets them).
    pub fn to_run_spec(&self) -> AppDefinition {
        let mut app = AppDefinition::with_defaults(self.id.clone());
        let sum = |f: fn(&ContainerResources) -> f64| -> f64 {
            self.containers.iter().map(|c| f(&c.resources)).sum()
        };
        let e = &self.executor_resources;
        app.cpus = sum(|r| r.cpus) + e.cpus;
        app.mem = sum(|r| r.mem) + e.mem;
        app.disk = sum(|r| r.disk) + e.disk;
        app.gpus = self.containers.iter().map(|c| c.resources.gpus).sum();
        app.instances = u32::try_from(self.scaling.instances).unwrap_or(0);
        app.user = self.user.clone();
        app.labels = self.labels.clone();
        app.backoff_seconds = self.scheduling.backoff.backoff;
        app.backoff_factor = self.scheduling.backoff.backoff_factor;
        app.max_launch_delay_seconds = self.scheduling.backoff.max_launch_delay;
        app.upgrade_strategy = self.scheduling.upgrade;
        app.kill_selection = self.scheduling.kill_selection;
        app.unreachable_strategy = self.scheduling.unreachable_strategy;
        app.constraints = self.scheduling.placement.constraints.clone();
        app.accepted_resource_roles =
            Some(self.scheduling.placement.accepted_resource_roles.clone())
                .filter(|r| !r.is_empty());
        // Host ports are placed as required ports of host networking: a non-zero one is
        // that port, 0 any free one.
        app.networks = host_network();
        app.require_ports = true;
        app.port_definitions = self
            .host_port_endpoints()
            .into_iter()
            .map(|(_, e)| PortDefinition {
                port: e.host_port.unwrap_or(0),
                protocol: "tcp".into(),
                name: Some(e.name.clone()),
                labels: BTreeMap::new(),
            })
            .collect();
        app.health_checks = self
            .containers
            .iter()
            .find_map(|c| c.health_check.as_ref())
            .map(|hc| vec![hc.as_mesos_check()])
            .unwrap_or_default();
        app.version = self.version.clone();
        app.pod = Some(Box::new(self.clone()));
        app
    }
}

impl PodHealthCheck {
    /// The check as the app-level health check the instance's health is kept by (run by
    /// the agent, so a Mesos protocol).
    fn as_mesos_check(&self) -> HealthCheck {
        let protocol = match (&self.http, &self.tcp) {
            (Some(h), _) if h.scheme.as_deref() == Some("HTTPS") => Protocol::MesosHttps,
            (Some(_), _) => Protocol::MesosHttp,
            (None, Some(_)) => Protocol::MesosTcp,
            (None, None) => Protocol::Command,
        };
        HealthCheck {
            grace_period_seconds: self.grace_period_seconds,
            interval_seconds: self.interval_seconds,
            max_consecutive_failures: self.max_consecutive_failures,
            port_index: None,
            port: None,
            port_name: None,
            path: self.http.as_ref().and_then(|h| h.path.clone()),
            command: match &self.exec {
                Some(CommandCheckSpec {
                    command: MesosCommand::Shell { shell },
                }) => Some(CommandCheck {
                    value: shell.clone(),
                }),
                _ => None,
            },
            timeout_seconds: self.timeout_seconds,
            delay_seconds: self.delay_seconds,
            protocol,
            ip_protocol: IpProtocol::IPv4,
            ignore_http1xx: None,
        }
    }
}

/// A new instance id of a pod: `<safeId>.instance-<uuid>`, as Marathon names them.
pub fn new_instance_id(pod: &PathId, uuid: uuid::Uuid) -> String {
    format!("{}.instance-{}", pod.safe_id(), uuid)
}

/// The Mesos task id of one container of a pod instance: `<instanceId>.<container>`.
pub fn container_task_id(instance_id: &str, container: &str) -> String {
    format!("{instance_id}.{container}")
}

/// The pod instance id and container name of a pod task id, if it is one.
pub fn split_task_id(task_id: &str) -> Option<(&str, &str)> {
    const MARK: &str = ".instance-";
    let at = task_id.find(MARK)? + MARK.len();
    // A UUID is 36 characters; a container name follows it after a dot.
    let rest = task_id.get(at..)?;
    let (uuid, name) = (rest.get(..36)?, rest.get(36..)?);
    let name = name.strip_prefix('.')?;
    if uuid::Uuid::parse_str(uuid).is_err() || name.is_empty() || name == "_app.1" {
        return None;
    }
    Some((&task_id[..at + 36], name))
}

#[cfg(test)]
mod tests;
