//! App definitions: what a user asks Marathon to keep running.
//!
//! - [`AppDefinition`]: the normalised, validated app, in Marathon 1.5+'s form (`networks` and
//!   `container.portMappings`, `portDefinitions`, `fetch`). It is what is stored and what the
//!   rest of Marathon reads. Its serde form is Marathon's JSON field names.
//! - [`update::AppUpdate`]: a request body (POST, PUT, PATCH), every field optional, also in
//!   the older forms (`docker.network`, `docker.portMappings`, `ports`, `uris`), applied onto
//!   defaults or onto the current app.
//! - [`validate`]: Marathon's rules, every failing path reported at once.
//! - [`health_check`]: health checks, their defaults and rules.

pub mod health_check;
pub mod id;
pub mod update;
pub mod validate;

#[cfg(test)]
mod fuzz;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use health_check::HealthCheck;
pub use id::PathId;

pub const DEFAULT_CPUS: f64 = 1.0;
pub const DEFAULT_MEM: f64 = 128.0;
pub const DEFAULT_BACKOFF_SECONDS: f64 = 1.0;
pub const DEFAULT_BACKOFF_FACTOR: f64 = 1.15;
pub const DEFAULT_MAX_LAUNCH_DELAY_SECONDS: f64 = 300.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppDefinition {
    pub id: PathId,
    pub cmd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub instances: u32,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: u32,
    pub executor: String,
    /// Raw `[field, OPERATOR, value?]` triples, checked by placement's parser on validation.
    pub constraints: Vec<Vec<String>>,
    pub fetch: Vec<FetchUri>,
    pub backoff_seconds: f64,
    pub backoff_factor: f64,
    pub max_launch_delay_seconds: f64,
    pub container: Option<Container>,
    pub networks: Vec<Network>,
    pub port_definitions: Vec<PortDefinition>,
    pub require_ports: bool,
    pub health_checks: Vec<HealthCheck>,
    /// Readiness checks are kept as given.
    pub readiness_checks: Vec<serde_json::Value>,
    pub dependencies: Vec<PathId>,
    pub upgrade_strategy: UpgradeStrategy,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_resource_roles: Option<Vec<String>>,
    pub kill_selection: KillSelection,
    pub unreachable_strategy: UnreachableStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<f64>,
    pub secrets: BTreeMap<String, serde_json::Value>,
    /// The time of this version, ISO 8601 (`2026-12-02T05:00:00.000Z`).
    pub version: String,
    pub version_info: VersionInfo,
    /// Set when this run spec is a pod (`/v2/pods`): the pod as given, from which the
    /// fields above were derived ([`crate::pod::PodDefinition::to_run_spec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Box<crate::pod::PodDefinition>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchUri {
    pub uri: String,
    #[serde(default)]
    pub extract: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContainerType {
    Docker,
    Mesos,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(rename = "type")]
    pub kind: ContainerType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<Docker>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Present for BRIDGE and USER networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Docker {
    pub image: String,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub parameters: Vec<DockerParameter>,
    #[serde(default)]
    pub force_pull_image: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerParameter {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub container_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    #[serde(default = "default_volume_mode")]
    pub mode: String,
}

fn default_volume_mode() -> String {
    "RW".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    #[serde(default)]
    pub container_port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u32>,
    #[serde(default)]
    pub service_port: u32,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_protocol() -> String {
    "tcp".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkMode {
    #[serde(rename = "host")]
    Host,
    #[serde(rename = "container/bridge")]
    Bridge,
    #[serde(rename = "container")]
    Container,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub mode: NetworkMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortDefinition {
    #[serde(default)]
    pub port: u32,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    #[serde(default = "full")]
    pub minimum_health_capacity: f64,
    #[serde(default = "full")]
    pub maximum_over_capacity: f64,
}

fn full() -> f64 {
    1.0
}

impl Default for UpgradeStrategy {
    fn default() -> Self {
        UpgradeStrategy {
            minimum_health_capacity: 1.0,
            maximum_over_capacity: 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSelection {
    #[default]
    YoungestFirst,
    OldestFirst,
}

/// What to do with an instance whose agent became unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UnreachableStrategy {
    /// Replace after `inactiveAfterSeconds`, forget after `expungeAfterSeconds`.
    #[serde(rename_all = "camelCase")]
    Enabled {
        inactive_after_seconds: f64,
        expunge_after_seconds: f64,
    },
    /// `"disabled"`: never replace, wait for the agent.
    Disabled(UnreachableDisabled),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnreachableDisabled {
    #[serde(rename = "disabled")]
    Disabled,
}

impl Default for UnreachableStrategy {
    fn default() -> Self {
        UnreachableStrategy::Enabled {
            inactive_after_seconds: 0.0,
            expunge_after_seconds: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub last_scaling_at: String,
    pub last_config_change_at: String,
}

impl AppDefinition {
    /// An app with Marathon's defaults and nothing to run yet.
    pub fn with_defaults(id: PathId) -> AppDefinition {
        AppDefinition {
            id,
            cmd: None,
            args: None,
            user: None,
            env: BTreeMap::new(),
            instances: 1,
            cpus: DEFAULT_CPUS,
            mem: DEFAULT_MEM,
            disk: 0.0,
            gpus: 0,
            executor: String::new(),
            constraints: vec![],
            fetch: vec![],
            backoff_seconds: DEFAULT_BACKOFF_SECONDS,
            backoff_factor: DEFAULT_BACKOFF_FACTOR,
            max_launch_delay_seconds: DEFAULT_MAX_LAUNCH_DELAY_SECONDS,
            container: None,
            networks: vec![Network {
                mode: NetworkMode::Host,
                name: None,
                labels: BTreeMap::new(),
            }],
            port_definitions: vec![],
            require_ports: false,
            health_checks: vec![],
            readiness_checks: vec![],
            dependencies: vec![],
            upgrade_strategy: UpgradeStrategy::default(),
            labels: BTreeMap::new(),
            accepted_resource_roles: None,
            kill_selection: KillSelection::default(),
            unreachable_strategy: UnreachableStrategy::default(),
            task_kill_grace_period_seconds: None,
            secrets: BTreeMap::new(),
            version: String::new(),
            version_info: VersionInfo::default(),
            pod: None,
        }
    }

    pub fn is_pod(&self) -> bool {
        self.pod.is_some()
    }

    pub fn network_mode(&self) -> NetworkMode {
        self.networks
            .first()
            .map(|n| n.mode)
            .unwrap_or(NetworkMode::Host)
    }

    pub fn docker_image(&self) -> Option<&str> {
        self.container
            .as_ref()
            .and_then(|c| c.docker.as_ref())
            .map(|d| d.image.as_str())
    }

    /// Port mappings of BRIDGE / USER networking (empty on host networking).
    pub fn port_mappings(&self) -> &[PortMapping] {
        match (self.network_mode(), &self.container) {
            (NetworkMode::Host, _) => &[],
            (_, Some(c)) => c.port_mappings.as_deref().unwrap_or(&[]),
            (_, None) => &[],
        }
    }

    /// Whether port mapping `m` takes a host port: always on BRIDGE (`hostPort` 0 or
    /// omitted = any), on container (USER) networks only when `hostPort` is given (as in
    /// Marathon: the container is reached at its own address there).
    pub fn takes_host_port(&self, m: &PortMapping) -> bool {
        self.network_mode() != NetworkMode::Container || m.host_port.is_some()
    }

    /// The port each declared port is reached at, in declared order: the task's host ports
    /// (`host_ports`, one per port that takes one), and on container networks a mapping's
    /// `containerPort` when it has no host port (Marathon's PORT0.. on USER networks).
    pub fn task_ports(&self, host_ports: &[u32]) -> Vec<u32> {
        if self.network_mode() != NetworkMode::Container {
            return host_ports.to_vec();
        }
        let mut hosts = host_ports.iter();
        self.port_mappings()
            .iter()
            .filter_map(|m| {
                if m.host_port.is_some() {
                    hosts.next().copied()
                } else {
                    Some(m.container_port)
                }
            })
            .collect()
    }

    /// The service ports: `portDefinitions[].port` on host networking, the port mappings'
    /// `servicePort` otherwise.
    pub fn service_ports(&self) -> Vec<u32> {
        match self.network_mode() {
            NetworkMode::Host => self.port_definitions.iter().map(|p| p.port).collect(),
            _ => self
                .port_mappings()
                .iter()
                .map(|p| p.service_port)
                .collect(),
        }
    }

    /// True if only `instances` differs between `self` and `other` (a scale, not a restart).
    pub fn is_only_scale_change(&self, other: &AppDefinition) -> bool {
        let mut a = self.clone();
        a.instances = other.instances;
        a.version = other.version.clone();
        a.version_info = other.version_info.clone();
        if let (Some(mine), Some(theirs)) = (a.pod.as_mut(), other.pod.as_ref()) {
            mine.scaling = theirs.scaling.clone();
            mine.version = theirs.version.clone();
        }
        a == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_strategy_forms_round_trip() {
        let enabled: UnreachableStrategy =
            serde_json::from_str(r#"{"inactiveAfterSeconds":60,"expungeAfterSeconds":120}"#)
                .unwrap();
        assert_eq!(
            enabled,
            UnreachableStrategy::Enabled {
                inactive_after_seconds: 60.0,
                expunge_after_seconds: 120.0
            }
        );
        let disabled: UnreachableStrategy = serde_json::from_str(r#""disabled""#).unwrap();
        assert_eq!(serde_json::to_string(&disabled).unwrap(), r#""disabled""#);
    }

    #[test]
    fn scale_change_is_told_from_a_config_change() {
        let a = AppDefinition::with_defaults(PathId::parse("/a"));
        let mut b = a.clone();
        b.instances = 3;
        b.version = "later".into();
        assert!(a.is_only_scale_change(&b));
        b.cmd = Some("sleep 1".into());
        assert!(!a.is_only_scale_change(&b));
    }
}
