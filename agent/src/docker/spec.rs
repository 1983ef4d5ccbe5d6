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

pub use super::image::ImageReference;
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
}

/// Checks the task and builds the create request of its container.
pub fn build(task: &TaskInfo, ctx: &SpecContext<'_>) -> Result<ContainerSpec, SpecError> {
    let container = task.container.clone().unwrap_or_default();
    let docker = container
        .docker
        .as_ref()
        .ok_or(SpecError::MissingDockerInfo)?;
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
    if !port_mappings.is_empty() {
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for (host_port, container_port, protocol) in &port_mappings {
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
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::container_info::docker_info::PortMapping;
    use mesos_proto::v1::container_info::Type;
    use mesos_proto::v1::{value, Parameter, Resource, TaskId, Volume};

    fn scalar(name: &str, value: f64) -> Resource {
        Resource {
            name: name.into(),
            r#type: value::Type::Scalar as i32,
            scalar: Some(value::Scalar { value }),
            ..Default::default()
        }
    }

    fn ports(begin: u64, end: u64) -> Resource {
        Resource {
            name: "ports".into(),
            r#type: value::Type::Ranges as i32,
            ranges: Some(value::Ranges {
                range: vec![value::Range { begin, end }],
            }),
            ..Default::default()
        }
    }

    fn docker_task(docker: DockerInfo, command: Option<CommandInfo>) -> TaskInfo {
        let mut container = ContainerInfo {
            docker: Some(docker),
            ..Default::default()
        };
        container.set_type(Type::Docker);
        TaskInfo {
            name: "t".into(),
            task_id: TaskId { value: "t1".into() },
            resources: vec![
                scalar("cpus", 0.5),
                scalar("mem", 64.0),
                ports(31000, 31002),
            ],
            command,
            container: Some(container),
            ..Default::default()
        }
    }

    fn docker(image: &str) -> DockerInfo {
        DockerInfo {
            image: image.into(),
            ..Default::default()
        }
    }

    fn shell(value: &str) -> Option<CommandInfo> {
        Some(CommandInfo {
            value: Some(value.into()),
            ..Default::default()
        })
    }

    fn ctx(sandbox: &Path) -> SpecContext<'_> {
        SpecContext {
            agent_id: "A-S0",
            framework_id: "F",
            container_id: "C",
            sandbox,
            agent_endpoint: "127.0.0.1:5051",
            hostname: "h",
        }
    }

    fn build_ok(task: &TaskInfo) -> ContainerSpec {
        build(task, &ctx(Path::new("/sb"))).unwrap()
    }

    #[test]
    fn bridge_task_with_port_mappings_and_limits() {
        let mut info = docker("mesos-test/busybox");
        info.set_network(Network::Bridge);
        info.port_mappings = vec![
            PortMapping {
                host_port: 31001,
                container_port: 8080,
                protocol: None,
            },
            PortMapping {
                host_port: 31002,
                container_port: 0,
                protocol: Some("tcp,udp".into()),
            },
        ];
        info.privileged = Some(true);
        let spec = build_ok(&docker_task(info, shell("httpd -f")));
        assert_eq!(spec.name, "mesos-C");
        assert_eq!(spec.image.pull_arguments().1, "latest");
        let host = spec.body.host_config.clone().unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        assert_eq!(host.privileged, Some(true));
        assert_eq!(host.cpu_shares, Some(512));
        assert_eq!(host.cpu_period, Some(100_000));
        assert_eq!(host.cpu_quota, Some(50_000));
        assert_eq!(host.memory, Some(64 << 20));
        assert_eq!(host.memory_swap, Some(64 << 20));
        let bindings = host.port_bindings.unwrap();
        assert_eq!(
            bindings["8080/tcp"].as_ref().unwrap()[0]
                .host_port
                .as_deref(),
            Some("31001")
        );
        assert!(bindings.contains_key("31002/tcp") && bindings.contains_key("31002/udp"));
        assert_eq!(
            spec.body.exposed_ports.unwrap(),
            ["31002/tcp", "31002/udp", "8080/tcp"]
        );
        assert_eq!(host.binds.unwrap(), ["/sb:/mnt/mesos/sandbox:rw"]);
        assert_eq!(spec.body.entrypoint.unwrap(), ["/bin/sh"]);
        assert_eq!(spec.body.cmd.unwrap(), ["-c", "httpd -f"]);
        let env = spec.body.env.unwrap();
        for want in [
            "MESOS_TASK_ID=t1",
            "MESOS_SANDBOX=/mnt/mesos/sandbox",
            "MESOS_CONTAINER_NAME=mesos-C",
            "PORT0=31000",
            "PORTS=31000,31001,31002",
        ] {
            assert!(env.iter().any(|e| e == want), "{want} missing from {env:?}");
        }
        assert!(!env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
        let labels = spec.body.labels.unwrap();
        assert_eq!(labels["mesos.agent_id"], "A-S0");
        assert_eq!(labels["mesos.framework_id"], "F");
        assert_eq!(labels["mesos.task_id"], "t1");
        assert_eq!(labels["mesos.container_id"], "C");
    }

    #[test]
    fn small_tasks_get_the_minimum_limits() {
        let mut task = docker_task(docker("busybox"), shell("true"));
        task.resources = vec![scalar("cpus", 0.001), scalar("mem", 16.0)];
        let host = build_ok(&task).body.host_config.unwrap();
        assert_eq!(host.memory, Some(MIN_MEMORY_BYTES));
        assert_eq!(host.cpu_quota, Some(1000));
        assert_eq!(host.cpu_shares, Some(10));
    }

    #[test]
    fn networks() {
        let cases = [
            (Network::Host, vec![], Ok("host")),
            (Network::None, vec![], Ok("none")),
            (Network::User, vec!["net1"], Ok("net1")),
            (Network::User, vec![], Err(())),
            (Network::User, vec!["a", "b"], Err(())),
        ];
        for (network, names, want) in cases {
            let mut info = docker("busybox");
            info.set_network(network);
            let mut task = docker_task(info, shell("true"));
            let container = task.container.as_mut().unwrap();
            container.network_infos = names
                .iter()
                .map(|n| mesos_proto::v1::NetworkInfo {
                    name: Some(n.to_string()),
                    ..Default::default()
                })
                .collect();
            let got = build(&task, &ctx(Path::new("/sb")));
            match want {
                Ok(mode) => assert_eq!(
                    got.unwrap()
                        .body
                        .host_config
                        .unwrap()
                        .network_mode
                        .as_deref(),
                    Some(mode)
                ),
                Err(()) => assert!(matches!(got, Err(SpecError::Network(_))), "{got:?}"),
            }
        }
    }

    #[test]
    fn invalid_port_mappings() {
        let mapping = |host_port, protocol: Option<&str>| PortMapping {
            host_port,
            container_port: 80,
            protocol: protocol.map(String::from),
        };
        let cases = [
            (
                Network::Bridge,
                mapping(30999, None),
                "not in the task's ports",
            ),
            (Network::Bridge, mapping(0, None), "not in the task's ports"),
            (
                Network::Bridge,
                mapping(31000, Some("sctp")),
                "not tcp or udp",
            ),
            (Network::Host, mapping(31000, None), "BRIDGE or USER"),
        ];
        for (network, mapping, needle) in cases {
            let mut info = docker("busybox");
            info.set_network(network);
            info.port_mappings = vec![mapping];
            let err = build(&docker_task(info, shell("true")), &ctx(Path::new("/sb")))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn parameters() {
        let param = |key: &str, value: &str| Parameter {
            key: key.into(),
            value: value.into(),
        };
        let mut info = docker("busybox");
        info.parameters = vec![
            param("env", "A=1"),
            param("env", "MESOS_TASK_ID=override"),
            param("label", "team=web"),
            param("hostname", "box"),
            param("user", "nobody"),
            param("workdir", "/tmp"),
            param("cap-add", "NET_ADMIN"),
            param("add-host", "db:10.0.0.1"),
        ];
        let spec = build_ok(&docker_task(info, shell("true")));
        let env = spec.body.env.unwrap();
        assert!(env.contains(&"A=1".to_string()));
        assert!(env.contains(&"MESOS_TASK_ID=override".to_string()));
        assert_eq!(spec.body.labels.unwrap()["team"], "web");
        assert_eq!(spec.body.hostname.as_deref(), Some("box"));
        assert_eq!(spec.body.user.as_deref(), Some("nobody"));
        assert_eq!(spec.body.working_dir.as_deref(), Some("/tmp"));
        let host = spec.body.host_config.unwrap();
        assert_eq!(host.cap_add.unwrap(), ["NET_ADMIN"]);
        assert_eq!(host.extra_hosts.unwrap(), ["db:10.0.0.1"]);

        for (key, value, want) in [
            (
                "log-driver",
                "none",
                "Unsupported Docker parameter 'log-driver'",
            ),
            ("env", "NOVALUE", "expected NAME=VALUE"),
            ("label", "mesos.task_id=x", "reserved"),
            ("workdir", "relative", "absolute"),
        ] {
            let mut info = docker("busybox");
            info.parameters = vec![param(key, value)];
            let err = build(&docker_task(info, shell("true")), &ctx(Path::new("/sb")))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{key}={value}: {err}");
        }
    }

    #[test]
    fn volumes() {
        let mut task = docker_task(docker("busybox"), shell("true"));
        let volume = |container_path: &str, host_path: Option<&str>, mode: volume::Mode| {
            let mut v = Volume {
                container_path: container_path.into(),
                host_path: host_path.map(String::from),
                ..Default::default()
            };
            v.set_mode(mode);
            v
        };
        task.container.as_mut().unwrap().volumes = vec![
            volume("/data", Some("/srv/data"), volume::Mode::Ro),
            volume("cache", Some("cache"), volume::Mode::Rw),
            volume("/scratch", None, volume::Mode::Rw),
        ];
        let spec = build_ok(&task);
        assert_eq!(
            spec.body.host_config.unwrap().binds.unwrap(),
            [
                "/sb:/mnt/mesos/sandbox:rw",
                "/srv/data:/data:ro",
                "/sb/cache:/mnt/mesos/sandbox/cache:rw"
            ]
        );
        assert_eq!(spec.body.volumes.unwrap(), ["/scratch"]);
    }

    type CommandCase = (
        Option<CommandInfo>,
        Option<Vec<&'static str>>,
        Option<Vec<&'static str>>,
    );

    #[test]
    fn commands() {
        let argv = |value: Option<&str>, args: &[&str]| {
            Some(CommandInfo {
                shell: Some(false),
                value: value.map(String::from),
                arguments: args.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            })
        };
        let cases: [CommandCase; 5] = [
            (None, None, None),
            (
                shell("echo hi"),
                Some(vec!["/bin/sh"]),
                Some(vec!["-c", "echo hi"]),
            ),
            (argv(None, &[]), None, None),
            (argv(None, &["a", "b"]), None, Some(vec!["a", "b"])),
            (
                argv(Some("sleep"), &["10"]),
                None,
                Some(vec!["sleep", "10"]),
            ),
        ];
        for (cmd, entrypoint, args) in cases {
            let spec = build_ok(&docker_task(docker("busybox"), cmd.clone()));
            let own = |v: Option<Vec<&str>>| v.map(|v| v.iter().map(|s| s.to_string()).collect());
            assert_eq!(spec.body.entrypoint, own(entrypoint), "{cmd:?}");
            assert_eq!(spec.body.cmd, own(args), "{cmd:?}");
        }
        assert!(matches!(
            build(
                &docker_task(docker("busybox"), shell(" ")),
                &ctx(Path::new("/s"))
            ),
            Err(SpecError::Command(_))
        ));
    }
}
