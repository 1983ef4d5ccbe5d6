//! Request bodies of `POST /v2/apps`, `PUT` and `PATCH /v2/apps/{id}`: every field optional,
//! the older forms accepted, applied onto a base app.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::health_check::HealthCheckUpdate;
use super::{
    AppDefinition, Container, ContainerType, Docker, DockerParameter, FetchUri, KillSelection,
    Network, NetworkMode, PathId, PortDefinition, PortMapping, UnreachableStrategy,
    UpgradeStrategy, Volume,
};

/// A JSON body that parsed but does not fit the app schema: where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    /// JSON pointer-like path (`/container/docker/image`).
    pub path: String,
    pub message: String,
}

/// Reads a parsed JSON object body into `T`; a value of the wrong type gives its path
/// (`/container/docker/image`), as Marathon's 422 details name it.
pub fn from_body<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, SchemaError> {
    if !value.is_object() {
        return Err(SchemaError {
            path: "/".into(),
            message: "error.expected.jsobject".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "/".to_string()
        } else {
            format!("/{}", path.replace('.', "/"))
        };
        SchemaError {
            path,
            message: e.into_inner().to_string(),
        }
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUpdate {
    pub id: Option<String>,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub instances: Option<u32>,
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    pub gpus: Option<u32>,
    pub executor: Option<String>,
    pub constraints: Option<Vec<Vec<Value>>>,
    pub fetch: Option<Vec<FetchUri>>,
    pub uris: Option<Vec<String>>,
    pub backoff_seconds: Option<f64>,
    pub backoff_factor: Option<f64>,
    pub max_launch_delay_seconds: Option<f64>,
    pub container: Option<ContainerUpdate>,
    pub networks: Option<Vec<Network>>,
    pub port_definitions: Option<Vec<PortDefinition>>,
    pub ports: Option<Vec<u32>>,
    pub require_ports: Option<bool>,
    pub health_checks: Option<Vec<HealthCheckUpdate>>,
    pub readiness_checks: Option<Vec<Value>>,
    pub dependencies: Option<Vec<String>>,
    pub upgrade_strategy: Option<UpgradeStrategyUpdate>,
    pub labels: Option<BTreeMap<String, String>>,
    pub accepted_resource_roles: Option<Vec<String>>,
    pub kill_selection: Option<KillSelection>,
    pub unreachable_strategy: Option<UnreachableStrategy>,
    pub task_kill_grace_period_seconds: Option<f64>,
    pub secrets: Option<BTreeMap<String, Value>>,
    /// Only with a version: roll back to that stored version.
    pub version: Option<String>,
    /// A whole pod (`/v2/pods`): it replaces the run spec, nothing else applies.
    #[serde(skip)]
    pub pod: Option<Box<crate::pod::PodDefinition>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerUpdate {
    #[serde(rename = "type")]
    pub kind: Option<ContainerType>,
    pub docker: Option<DockerUpdate>,
    pub volumes: Option<Vec<Volume>>,
    pub port_mappings: Option<Vec<PortMapping>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerUpdate {
    pub image: Option<String>,
    /// The pre-1.5 place of the network: `BRIDGE`, `HOST`, `NONE` or `USER`.
    pub network: Option<LegacyNetwork>,
    /// The pre-1.5 place of the port mappings.
    pub port_mappings: Option<Vec<PortMapping>>,
    pub privileged: Option<bool>,
    pub parameters: Option<Vec<DockerParameter>>,
    pub force_pull_image: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LegacyNetwork {
    Bridge,
    Host,
    None,
    User,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategyUpdate {
    pub minimum_health_capacity: Option<f64>,
    pub maximum_over_capacity: Option<f64>,
}

impl AppUpdate {
    /// Reads a parsed JSON body; a value of the wrong type gives its path.
    pub fn from_value(value: Value) -> Result<AppUpdate, SchemaError> {
        from_body(value)
    }

    /// True if the body carries nothing but a version: a rollback.
    pub fn is_rollback(&self) -> bool {
        self.version.is_some() && !self.changes_anything()
    }

    /// True if any field other than `id` and `version` is given.
    fn changes_anything(&self) -> bool {
        let u = self;
        u.cmd.is_some()
            || u.args.is_some()
            || u.user.is_some()
            || u.env.is_some()
            || u.instances.is_some()
            || u.cpus.is_some()
            || u.mem.is_some()
            || u.disk.is_some()
            || u.gpus.is_some()
            || u.executor.is_some()
            || u.constraints.is_some()
            || u.fetch.is_some()
            || u.uris.is_some()
            || u.backoff_seconds.is_some()
            || u.backoff_factor.is_some()
            || u.max_launch_delay_seconds.is_some()
            || u.container.is_some()
            || u.networks.is_some()
            || u.port_definitions.is_some()
            || u.ports.is_some()
            || u.require_ports.is_some()
            || u.health_checks.is_some()
            || u.readiness_checks.is_some()
            || u.dependencies.is_some()
            || u.upgrade_strategy.is_some()
            || u.labels.is_some()
            || u.accepted_resource_roles.is_some()
            || u.kill_selection.is_some()
            || u.unreachable_strategy.is_some()
            || u.task_kill_grace_period_seconds.is_some()
            || u.secrets.is_some()
    }

    /// Applies the given fields onto `base`. `creating` adds the defaults Marathon fills in
    /// for a new app (one `portDefinitions` entry on host networking).
    pub fn apply(&self, mut app: AppDefinition, creating: bool) -> AppDefinition {
        if let Some(pod) = &self.pod {
            return pod.to_run_spec();
        }
        if let Some(cmd) = &self.cmd {
            app.cmd = Some(cmd.clone());
            if self.args.is_none() {
                app.args = None;
            }
        }
        if let Some(args) = &self.args {
            app.args = Some(args.clone());
            if self.cmd.is_none() {
                app.cmd = None;
            }
        }
        set(&mut app.user, self.user.clone().map(Some));
        set(&mut app.env, self.env.clone());
        set(&mut app.instances, self.instances);
        set(&mut app.cpus, self.cpus);
        set(&mut app.mem, self.mem);
        set(&mut app.disk, self.disk);
        set(&mut app.gpus, self.gpus);
        set(&mut app.executor, self.executor.clone());
        if let Some(cs) = &self.constraints {
            app.constraints = cs
                .iter()
                .map(|c| c.iter().map(constraint_part).collect())
                .collect();
        }
        if let Some(fetch) = &self.fetch {
            app.fetch = fetch.clone();
        } else if let Some(uris) = &self.uris {
            app.fetch = uris.iter().map(|u| fetch_from_uri(u)).collect();
        }
        set(&mut app.backoff_seconds, self.backoff_seconds);
        set(&mut app.backoff_factor, self.backoff_factor);
        set(
            &mut app.max_launch_delay_seconds,
            self.max_launch_delay_seconds,
        );
        self.apply_container_and_networks(&mut app, creating);
        set(&mut app.require_ports, self.require_ports);
        if let Some(checks) = &self.health_checks {
            app.health_checks = checks
                .iter()
                .cloned()
                .map(HealthCheckUpdate::into_check)
                .collect();
        }
        set(&mut app.readiness_checks, self.readiness_checks.clone());
        if let Some(deps) = &self.dependencies {
            app.dependencies = deps.iter().map(|d| resolve(&app.id, d)).collect();
        }
        if let Some(us) = self.upgrade_strategy {
            let d = UpgradeStrategy::default();
            app.upgrade_strategy = UpgradeStrategy {
                minimum_health_capacity: us
                    .minimum_health_capacity
                    .unwrap_or(d.minimum_health_capacity),
                maximum_over_capacity: us.maximum_over_capacity.unwrap_or(d.maximum_over_capacity),
            };
        }
        set(&mut app.labels, self.labels.clone());
        set(
            &mut app.accepted_resource_roles,
            self.accepted_resource_roles.clone().map(Some),
        );
        set(&mut app.kill_selection, self.kill_selection);
        set(&mut app.unreachable_strategy, self.unreachable_strategy);
        set(
            &mut app.task_kill_grace_period_seconds,
            self.task_kill_grace_period_seconds.map(Some),
        );
        set(&mut app.secrets, self.secrets.clone());
        app
    }

    fn apply_container_and_networks(&self, app: &mut AppDefinition, creating: bool) {
        let mut legacy_network = None;
        if let Some(cu) = &self.container {
            let kind = cu.kind.unwrap_or(ContainerType::Docker);
            let old = app.container.take();
            let old_docker = old.as_ref().and_then(|c| c.docker.clone());
            let docker = match &cu.docker {
                Some(du) => {
                    legacy_network = du.network;
                    Some(Docker {
                        image: du
                            .image
                            .clone()
                            .or_else(|| old_docker.as_ref().map(|d| d.image.clone()))
                            .unwrap_or_default(),
                        privileged: du.privileged.unwrap_or(false),
                        parameters: du.parameters.clone().unwrap_or_default(),
                        force_pull_image: du.force_pull_image.unwrap_or(false),
                    })
                }
                None if kind == ContainerType::Docker => old_docker,
                None => None,
            };
            let port_mappings = cu
                .port_mappings
                .clone()
                .or_else(|| cu.docker.as_ref().and_then(|d| d.port_mappings.clone()))
                .or_else(|| old.as_ref().and_then(|c| c.port_mappings.clone()));
            app.container = Some(Container {
                kind,
                docker,
                volumes: cu.volumes.clone().unwrap_or_default(),
                port_mappings,
            });
        }
        if let Some(networks) = &self.networks {
            app.networks = networks.clone();
        } else if let Some(legacy) = legacy_network {
            let (mode, name) = match legacy {
                LegacyNetwork::Bridge => (NetworkMode::Bridge, None),
                LegacyNetwork::User => (NetworkMode::Container, None),
                // Docker's `--net=none` has no place in `networks`; it runs as host
                // networking without ports, which is what NONE gave a task.
                LegacyNetwork::Host | LegacyNetwork::None => (NetworkMode::Host, None),
            };
            app.networks = vec![Network {
                mode,
                name,
                labels: BTreeMap::new(),
            }];
        }
        match app.network_mode() {
            NetworkMode::Host => {
                if let Some(c) = app.container.as_mut() {
                    c.port_mappings = None;
                }
                if let Some(defs) = &self.port_definitions {
                    app.port_definitions = defs.clone();
                } else if let Some(ports) = &self.ports {
                    app.port_definitions = ports
                        .iter()
                        .map(|&port| PortDefinition {
                            port,
                            protocol: "tcp".into(),
                            name: None,
                            labels: BTreeMap::new(),
                        })
                        .collect();
                } else if creating {
                    app.port_definitions = vec![PortDefinition {
                        port: 0,
                        protocol: "tcp".into(),
                        name: None,
                        labels: BTreeMap::new(),
                    }];
                }
            }
            NetworkMode::Bridge | NetworkMode::Container => {
                app.port_definitions = vec![];
                if let Some(c) = app.container.as_mut() {
                    c.port_mappings.get_or_insert_with(Vec::new);
                }
            }
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Constraint parts arrive as strings, but clients also send numbers (`["rack","MAX_PER",2]`).
fn constraint_part(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fetch_from_uri(uri: &str) -> FetchUri {
    let lower = uri.to_ascii_lowercase();
    let extract = [
        ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext));
    FetchUri {
        uri: uri.to_string(),
        extract,
        executable: false,
        cache: false,
        output_file: None,
    }
}

/// Dependencies may be relative to the app's group.
fn resolve(app: &PathId, dep: &str) -> PathId {
    if dep.starts_with('/') {
        PathId::parse(dep)
    } else {
        PathId::parse(&format!("{}/{}", app.parent(), dep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: Value) -> AppDefinition {
        let u = AppUpdate::from_value(body).unwrap();
        let id = PathId::parse(u.id.as_deref().unwrap());
        u.apply(AppDefinition::with_defaults(id), true)
    }

    #[test]
    fn defaults_fill_a_minimal_app() {
        let app = create(json!({"id": "web", "cmd": "sleep 100"}));
        assert_eq!(app.id.to_string(), "/web");
        assert_eq!(app.cpus, 1.0);
        assert_eq!(app.mem, 128.0);
        assert_eq!(app.instances, 1);
        assert_eq!(app.backoff_factor, 1.15);
        assert_eq!(app.network_mode(), NetworkMode::Host);
        assert_eq!(app.port_definitions.len(), 1);
        assert_eq!(app.port_definitions[0].port, 0);
    }

    #[test]
    fn legacy_docker_bridge_becomes_networks_and_container_port_mappings() {
        let app = create(json!({
            "id": "web",
            "container": {"type": "DOCKER", "docker": {"image": "busybox", "network": "BRIDGE",
                "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 0, "protocol": "tcp"}]}}
        }));
        assert_eq!(app.network_mode(), NetworkMode::Bridge);
        assert_eq!(app.port_mappings().len(), 1);
        assert_eq!(app.port_mappings()[0].container_port, 8080);
        assert!(app.port_definitions.is_empty());
        assert_eq!(app.docker_image(), Some("busybox"));
    }

    #[test]
    fn new_form_and_old_ports_array() {
        let app = create(json!({
            "id": "web", "networks": [{"mode": "container/bridge"}],
            "container": {"type": "DOCKER", "docker": {"image": "i"},
                "portMappings": [{"containerPort": 80}]}
        }));
        assert_eq!(app.port_mappings()[0].host_port, None);
        let app = create(json!({"id": "web", "cmd": "x", "ports": [3000, 0]}));
        let ports: Vec<u32> = app.port_definitions.iter().map(|p| p.port).collect();
        assert_eq!(ports, vec![3000, 0]);
    }

    #[test]
    fn partial_update_keeps_other_fields_and_cmd_replaces_args() {
        let app = create(json!({"id": "web", "args": ["a"], "mem": 64}));
        let u = AppUpdate::from_value(json!({"cmd": "sleep 1", "instances": 3})).unwrap();
        let app = u.apply(app, false);
        assert_eq!(app.cmd.as_deref(), Some("sleep 1"));
        assert_eq!(app.args, None);
        assert_eq!(app.mem, 64.0);
        assert_eq!(app.instances, 3);
    }

    #[test]
    fn wrong_types_give_their_path() {
        let e = AppUpdate::from_value(json!({"id": "w", "cpus": "lots"})).unwrap_err();
        assert_eq!(e.path, "/cpus");
        let e = AppUpdate::from_value(json!({"container": {"docker": {"image": 3}}})).unwrap_err();
        assert_eq!(e.path, "/container/docker/image");
        assert!(AppUpdate::from_value(json!([1])).is_err());
    }

    #[test]
    fn rollback_is_a_body_with_only_a_version() {
        let u = AppUpdate::from_value(json!({"version": "2026-01-01T00:00:00.000Z"})).unwrap();
        assert!(u.is_rollback());
        let u = AppUpdate::from_value(json!({"version": "v", "cpus": 1})).unwrap();
        assert!(!u.is_rollback());
    }

    #[test]
    fn uris_become_fetch_with_extract_by_extension() {
        let app = create(json!({"id": "w", "cmd": "x", "uris": ["http://h/a.tgz", "file:///b"]}));
        assert!(app.fetch[0].extract);
        assert!(!app.fetch[1].extract);
    }
}
