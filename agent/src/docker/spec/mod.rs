//! From a TaskInfo with a DOCKER ContainerInfo to the Engine API's create request, checking
//! everything that can be checked without the daemon. A [`SpecError`] means the task itself
//! is invalid (TASK_ERROR); what only the daemon can refuse (a missing image, an unknown
//! network) fails later, at launch.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use mesos_proto::v1::container_info::docker_info::Network;
use mesos_proto::v1::container_info::DockerInfo;
use mesos_proto::v1::{volume, CommandInfo, ContainerInfo, TaskInfo};

pub mod guards;

pub use guards::Guards;

use super::{container_name, labels, SANDBOX_IN_CONTAINER};
use crate::launcher::{self, EnvContext};

/// Below these, Mesos raises a task's limits (a container needs some memory to start at all).
pub const MIN_MEMORY_BYTES: i64 = 32 << 20;
pub const MIN_CPUS: f64 = 0.01;
/// CFS period: a task with `cpus` gets `cpus` times this much CPU time per period.
pub const CPU_PERIOD_US: i64 = 100_000;

/// `docker run` options a task may pass as `DockerInfo.parameters`.
pub const SUPPORTED_PARAMETERS: &[&str] = &[
    "env", "label", "hostname", "user", "workdir", "cap-add", "cap-drop", "dns", "add-host",
];

/// Why a task cannot be run as a Docker container.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("DOCKER container of the task has no DockerInfo")]
    MissingDockerInfo,
    #[error("Invalid Docker image name '{image}': {reason}")]
    Image { image: String, reason: String },
    #[error("Invalid network: {0}")]
    Network(String),
    #[error("Invalid port mapping: {0}")]
    PortMapping(String),
    #[error("Unsupported Docker parameter '{0}' (supported: {list})", list = SUPPORTED_PARAMETERS.join(", "))]
    UnsupportedParameter(String),
    #[error("Invalid Docker parameter '{key}={value}': {reason}")]
    Parameter {
        key: String,
        value: String,
        reason: String,
    },
    #[error("Invalid volume '{path}': {reason}")]
    Volume { path: String, reason: String },
    #[error("Invalid command: {0}")]
    Command(String),
    /// The agent's operator does not allow what the task asks (see [`guards`]).
    #[error("Refused by the agent: {0}")]
    Forbidden(String),
}

/// A repository name with its tag or digest, following Docker's reference grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageReference {
    pub fn parse(text: &str) -> Result<ImageReference, SpecError> {
        let bad = |reason: &str| SpecError::Image {
            image: text.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(bad("the name is empty"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                if !valid_digest(digest) {
                    return Err(bad("the digest is not <algorithm>:<hex>"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            if !valid_tag(tag) {
                return Err(bad(
                    "a tag is 1 to 128 of [A-Za-z0-9_.-] and does not start with '.' or '-'",
                ));
            }
        }
        if repository.len() > 255 {
            return Err(bad("the repository name is longer than 255 characters"));
        }
        let mut components: Vec<&str> = repository.split('/').collect();
        let first = components[0];
        // Docker reads the first component as a registry when it looks like a host name.
        let has_domain = components.len() > 1
            && (first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()));
        if has_domain {
            if !valid_domain(first) {
                return Err(bad("the registry is not a valid host[:port]"));
            }
            components.remove(0);
        }
        if components.iter().any(|c| !valid_path_component(c)) {
            return Err(bad(
                "repository names are lowercase letters and digits, separated by '.', '_', '__' or '-', in '/'-separated parts",
            ));
        }
        Ok(ImageReference {
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// `fromImage` and `tag` of a pull; an untagged name means `latest` (as the docker CLI
    /// does; the API would pull every tag).
    pub fn pull_arguments(&self) -> (String, String) {
        let tag = self
            .digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".to_string());
        (self.repository.clone(), tag)
    }
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum_lower(bytes[0]) || !is_alnum_lower(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum_lower(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum_lower(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.chars().all(|c| c == '-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    !algorithm.is_empty()
        && algorithm
            .bytes()
            .all(|c| is_alnum_lower(c) || matches!(c, b'+' | b'.' | b'_' | b'-'))
        && hex.len() >= 32
        && hex
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'))
}

/// Where a container runs: the ids it is labelled with and the task's context.
#[derive(Debug, Clone)]
pub struct SpecContext<'a> {
    pub agent_id: &'a str,
    pub framework_id: &'a str,
    pub container_id: &'a str,
    /// The sandbox on the host; it is mounted at [`SANDBOX_IN_CONTAINER`].
    pub sandbox: &'a Path,
    pub agent_endpoint: &'a str,
    pub hostname: &'a str,
    /// What the agent allows (privileged containers, host paths).
    pub guards: &'a Guards,
}

/// Everything needed to create and start a task's container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    /// `mesos-<containerId>`.
    pub name: String,
    pub image: ImageReference,
    pub force_pull: bool,
    pub network: Network,
    /// Host port -> (container port, protocol), as the task asked.
    pub port_mappings: Vec<(u32, u32, String)>,
    pub body: ContainerCreateBody,
    /// The container whose network this one joins (a pod's network container): its
    /// addresses are the task's.
    pub network_container: Option<String>,
}

impl ContainerSpec {
    /// The Docker network a USER-network container joins.
    pub fn user_network(&self) -> Option<&str> {
        if self.network != Network::User {
            return None;
        }
        self.body
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
    }
}

/// Checks the task and builds the create request of its container.
pub fn build(task: &TaskInfo, ctx: &SpecContext<'_>) -> Result<ContainerSpec, SpecError> {
    let container = task.container.clone().unwrap_or_default();
    let docker = container
        .docker
        .as_ref()
        .ok_or(SpecError::MissingDockerInfo)?;
    ctx.guards.check(&container)?;
    let image = ImageReference::parse(&docker.image)?;
    let network = docker.network();
    let network_mode = network_mode(network, &container)?;
    let port_mappings = port_mappings(docker, network, task)?;

    let mut env = container_environment(task, ctx);
    let mut labels: BTreeMap<String, String> = task
        .labels
        .iter()
        .flat_map(|l| l.labels.iter())
        .map(|l| (l.key.clone(), l.value.clone().unwrap_or_default()))
        .collect();
    labels.extend(labels::of(
        ctx.agent_id,
        ctx.framework_id,
        &task.task_id.value,
        ctx.container_id,
    ));

    let mut body = ContainerCreateBody {
        image: Some(docker.image.clone()),
        working_dir: Some(SANDBOX_IN_CONTAINER.to_string()),
        hostname: container.hostname.clone(),
        ..Default::default()
    };
    let mut host = HostConfig {
        network_mode: Some(network_mode),
        privileged: Some(docker.privileged()),
        binds: Some(vec![format!(
            "{}:{SANDBOX_IN_CONTAINER}:rw",
            ctx.sandbox.display()
        )]),
        ..Default::default()
    };
    apply_parameters(docker, &mut body, &mut host, &mut env, &mut labels)?;
    apply_volumes(&container, ctx.sandbox, &mut body, &mut host)?;
    apply_limits(task, &mut host);
    bind_ports(&port_mappings, &mut body, &mut host);
    let (entrypoint, cmd) = command(task.command.as_ref())?;
    body.entrypoint = entrypoint;
    body.cmd = cmd;
    body.env = Some(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect());
    body.labels = Some(labels.into_iter().collect());
    body.host_config = Some(host);
    Ok(ContainerSpec {
        name: container_name(ctx.container_id),
        image,
        force_pull: docker.force_pull_image(),
        network,
        port_mappings,
        body,
        network_container: None,
    })
}

/// Publishes `(host port, container port, protocol)` mappings on the container.
fn bind_ports(
    port_mappings: &[(u32, u32, String)],
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
) {
    if port_mappings.is_empty() {
        return;
    }
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for (host_port, container_port, protocol) in port_mappings {
        bindings
            .entry(format!("{container_port}/{protocol}"))
            .or_default()
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: None,
                host_port: Some(host_port.to_string()),
            });
    }
    let mut exposed: Vec<String> = bindings.keys().cloned().collect();
    exposed.sort();
    body.exposed_ports = Some(exposed);
    host.port_bindings = Some(bindings);
}

/// The variables Mesos gives a task, with the sandbox as the container sees it.
fn container_environment(task: &TaskInfo, ctx: &SpecContext<'_>) -> BTreeMap<String, String> {
    let env_ctx = EnvContext {
        framework_id: ctx.framework_id,
        executor_id: &task.task_id.value,
        sandbox: Path::new(SANDBOX_IN_CONTAINER),
        agent_endpoint: ctx.agent_endpoint,
        hostname: ctx.hostname,
    };
    let mut env = launcher::task_variables(task, &env_ctx);
    // The task's own settings come last in task_variables; only add what it did not set.
    env.entry("MESOS_CONTAINER_NAME".to_string())
        .or_insert_with(|| container_name(ctx.container_id));
    env
}

fn network_mode(network: Network, container: &ContainerInfo) -> Result<String, SpecError> {
    Ok(match network {
        Network::Host => "host".to_string(),
        Network::Bridge => "bridge".to_string(),
        Network::None => "none".to_string(),
        Network::User => {
            let names: Vec<&str> = container
                .network_infos
                .iter()
                .filter_map(|n| n.name.as_deref())
                .filter(|n| !n.is_empty())
                .collect();
            match names.as_slice() {
                [name] => name.to_string(),
                [] => {
                    return Err(SpecError::Network(
                        "a USER network needs the network's name in ContainerInfo.network_infos"
                            .to_string(),
                    ))
                }
                _ => {
                    return Err(SpecError::Network(
                        "a Docker container joins exactly one USER network".to_string(),
                    ))
                }
            }
        }
    })
}

fn port_mappings(
    docker: &DockerInfo,
    network: Network,
    task: &TaskInfo,
) -> Result<Vec<(u32, u32, String)>, SpecError> {
    if docker.port_mappings.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(network, Network::Host | Network::None) {
        return Err(SpecError::PortMapping(format!(
            "port mappings need a BRIDGE or USER network, not {}",
            network.as_str_name()
        )));
    }
    let ports = crate::resources::task_ports(&task.resources);
    let mut out = Vec::new();
    for mapping in &docker.port_mappings {
        let host_port = mapping.host_port;
        if !ports.contains(&u64::from(host_port)) {
            return Err(SpecError::PortMapping(format!(
                "host port {host_port} is not in the task's ports resource ({})",
                describe_ports(&ports)
            )));
        }
        let container_port = match mapping.container_port {
            0 => host_port,
            port if port > 65535 => {
                return Err(SpecError::PortMapping(format!(
                    "container port {port} is out of range"
                )))
            }
            port => port,
        };
        let protocols = mapping.protocol.as_deref().unwrap_or("tcp");
        for protocol in protocols.split(',').map(str::trim) {
            if !matches!(protocol, "tcp" | "udp") {
                return Err(SpecError::PortMapping(format!(
                    "protocol '{protocol}' is not tcp or udp"
                )));
            }
            out.push((host_port, container_port, protocol.to_string()));
        }
    }
    Ok(out)
}

fn describe_ports(ports: &[u64]) -> String {
    if ports.is_empty() {
        return "none".to_string();
    }
    let list: Vec<String> = ports.iter().map(u64::to_string).collect();
    list.join(",")
}

fn apply_parameters(
    docker: &DockerInfo,
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
    env: &mut BTreeMap<String, String>,
    labels: &mut BTreeMap<String, String>,
) -> Result<(), SpecError> {
    for parameter in &docker.parameters {
        let key = parameter.key.as_str();
        let value = parameter.value.clone();
        let bad = |reason: &str| SpecError::Parameter {
            key: key.to_string(),
            value: value.clone(),
            reason: reason.to_string(),
        };
        let push = |list: &mut Option<Vec<String>>| {
            list.get_or_insert_with(Vec::new).push(value.clone());
        };
        match key {
            "env" | "e" => {
                let (name, val) = value
                    .split_once('=')
                    .ok_or_else(|| bad("expected NAME=VALUE"))?;
                if name.is_empty() {
                    return Err(bad("the variable has no name"));
                }
                env.insert(name.to_string(), val.to_string());
            }
            "label" | "l" => {
                let (name, val) = value.split_once('=').unwrap_or((&value, ""));
                if name.is_empty() || labels::is_ours(name) {
                    return Err(bad("the label has no name or is reserved for the agent"));
                }
                labels.insert(name.to_string(), val.to_string());
            }
            "hostname" | "h" => body.hostname = Some(value.clone()),
            "user" | "u" => body.user = Some(value.clone()),
            "workdir" | "w" => {
                if !value.starts_with('/') {
                    return Err(bad("the working directory must be an absolute path"));
                }
                body.working_dir = Some(value.clone());
            }
            "cap-add" => push(&mut host.cap_add),
            "cap-drop" => push(&mut host.cap_drop),
            "dns" => push(&mut host.dns),
            "add-host" => {
                if !value.contains(':') {
                    return Err(bad("expected HOST:IP"));
                }
                push(&mut host.extra_hosts)
            }
            other => return Err(SpecError::UnsupportedParameter(other.to_string())),
        }
    }
    Ok(())
}

fn apply_volumes(
    container: &ContainerInfo,
    sandbox: &Path,
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
) -> Result<(), SpecError> {
    for volume in &container.volumes {
        let bad = |reason: &str| SpecError::Volume {
            path: volume.container_path.clone(),
            reason: reason.to_string(),
        };
        if volume.container_path.is_empty() {
            return Err(bad("the container path is empty"));
        }
        if volume.image.is_some() || volume.source.is_some() {
            return Err(bad(
                "only host paths (host_path) and anonymous volumes are supported",
            ));
        }
        // A relative container path is relative to the sandbox, as in Mesos.
        let container_path = if volume.container_path.starts_with('/') {
            volume.container_path.clone()
        } else {
            format!("{SANDBOX_IN_CONTAINER}/{}", volume.container_path)
        };
        match volume.host_path.as_deref().filter(|p| !p.is_empty()) {
            Some(host_path) => {
                let host_path = if host_path.starts_with('/') {
                    host_path.to_string()
                } else {
                    sandbox.join(host_path).display().to_string()
                };
                let mode = match volume.mode() {
                    volume::Mode::Ro => "ro",
                    volume::Mode::Rw => "rw",
                };
                host.binds
                    .get_or_insert_with(Vec::new)
                    .push(format!("{host_path}:{container_path}:{mode}"));
            }
            None => body
                .volumes
                .get_or_insert_with(Vec::new)
                .push(container_path),
        }
    }
    Ok(())
}

/// cpus -> CPU shares and a CFS quota; mem -> the memory limit (swap included, so the limit
/// is a limit).
fn apply_limits(task: &TaskInfo, host: &mut HostConfig) {
    let scalar = |name: &str| -> Option<f64> {
        let total: f64 = task
            .resources
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| r.scalar.as_ref().map(|s| s.value))
            .sum();
        (total > 0.0).then_some(total)
    };
    if let Some(cpus) = scalar("cpus") {
        let cpus = cpus.max(MIN_CPUS);
        host.cpu_shares = Some(((cpus * 1024.0) as i64).max(2));
        host.cpu_period = Some(CPU_PERIOD_US);
        host.cpu_quota = Some(((cpus * CPU_PERIOD_US as f64) as i64).max(1000));
    }
    if let Some(mem_mb) = scalar("mem") {
        let bytes = ((mem_mb * (1 << 20) as f64) as i64).max(MIN_MEMORY_BYTES);
        host.memory = Some(bytes);
        host.memory_swap = Some(bytes);
    }
}

/// A container's entrypoint and command; `None` keeps the image's.
type EntrypointAndCmd = (Option<Vec<String>>, Option<Vec<String>>);

/// Entrypoint and command: a shell command runs under `/bin/sh -c`; otherwise the value and
/// arguments follow the image's entrypoint, and with neither the image's own command runs.
fn command(command: Option<&CommandInfo>) -> Result<EntrypointAndCmd, SpecError> {
    let Some(command) = command else {
        return Ok((None, None));
    };
    if command.shell() {
        let value = command.value.clone().unwrap_or_default();
        if value.trim().is_empty() {
            return Err(SpecError::Command(
                "a shell command needs a value".to_string(),
            ));
        }
        return Ok((
            Some(vec!["/bin/sh".to_string()]),
            Some(vec!["-c".to_string(), value]),
        ));
    }
    let args: Vec<String> = command
        .value
        .iter()
        .filter(|v| !v.is_empty())
        .cloned()
        .chain(command.arguments.iter().cloned())
        .collect();
    Ok((None, (!args.is_empty()).then_some(args)))
}

/// How `/state` names the command of a Docker task.
pub fn display_command(task: &TaskInfo) -> String {
    match command(task.command.as_ref()) {
        Ok((Some(_), Some(cmd))) => format!("sh -c '{}'", cmd[1]),
        Ok((None, Some(args))) => args.join(" "),
        _ => String::new(),
    }
}

pub mod pod;
#[cfg(test)]
mod tests;
