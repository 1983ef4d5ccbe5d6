//! From an app and a placement decision to the Mesos `TaskInfo` that launches it: the
//! command or Docker container, the task environment Marathon sets, labels and discovery.

use mesos_common::resources::Resources;
use mesos_common::wire::resources_to_proto;
use mesos_proto::v1;
use mesos_proto::v1::container_info::docker_info;

use crate::app::health_check::{PortChoice, Protocol};
use crate::app::{AppDefinition, ContainerType, HealthCheck, NetworkMode};

/// One instance to launch: where, with which resources and host ports.
pub struct Launch<'a> {
    pub app: &'a AppDefinition,
    pub task_id: &'a str,
    pub agent_id: &'a str,
    pub hostname: &'a str,
    pub resources: &'a Resources,
    /// Host ports in the order the app declares its ports (port definitions or mappings).
    pub host_ports: &'a [u32],
    /// The role the offer was allocated to (`allocation_info` of each resource).
    pub allocation_role: &'a str,
}

pub fn task_info(launch: &Launch<'_>, env_prefix: &str) -> v1::TaskInfo {
    let app = launch.app;
    let env = environment(launch, env_prefix);
    let mut command = v1::CommandInfo {
        environment: Some(environment_proto(env)),
        uris: app
            .fetch
            .iter()
            .map(|f| {
                uri_proto(
                    &f.uri,
                    f.executable,
                    f.extract,
                    f.cache,
                    f.output_file.clone(),
                )
            })
            .collect(),
        user: app.user.clone(),
        ..Default::default()
    };
    match (&app.cmd, &app.args) {
        (Some(cmd), _) => {
            command.shell = Some(true);
            command.value = Some(cmd.clone());
        }
        (None, Some(args)) => {
            command.shell = Some(false);
            if app.docker_image().is_none() {
                command.value = args.first().cloned();
            }
            command.arguments = args.clone();
        }
        (None, None) => command.shell = Some(false),
    }
    let container = app.container.as_ref().map(|c| {
        let mut info = v1::ContainerInfo {
            volumes: c
                .volumes
                .iter()
                .map(|v| {
                    let mut vol = v1::Volume {
                        container_path: v.container_path.clone(),
                        host_path: v.host_path.clone(),
                        ..Default::default()
                    };
                    vol.set_mode(if v.mode == "RO" {
                        v1::volume::Mode::Ro
                    } else {
                        v1::volume::Mode::Rw
                    });
                    vol
                })
                .collect(),
            ..Default::default()
        };
        match (c.kind, &c.docker) {
            (ContainerType::Docker, Some(d)) => {
                let mut docker = v1::container_info::DockerInfo {
                    image: d.image.clone(),
                    privileged: Some(d.privileged),
                    force_pull_image: Some(d.force_pull_image),
                    parameters: d
                        .parameters
                        .iter()
                        .map(|p| v1::Parameter {
                            key: p.key.clone(),
                            value: p.value.clone(),
                        })
                        .collect(),
                    port_mappings: app
                        .port_mappings()
                        .iter()
                        .filter(|m| app.takes_host_port(m))
                        .zip(launch.host_ports)
                        .map(|(m, &host)| docker_info::PortMapping {
                            host_port: host,
                            container_port: if m.container_port == 0 {
                                host
                            } else {
                                m.container_port
                            },
                            protocol: Some(m.protocol.clone()),
                        })
                        .collect(),
                    ..Default::default()
                };
                docker.set_network(match app.network_mode() {
                    NetworkMode::Host => docker_info::Network::Host,
                    NetworkMode::Bridge => docker_info::Network::Bridge,
                    NetworkMode::Container => docker_info::Network::User,
                });
                info.docker = Some(docker);
                info.set_type(v1::container_info::Type::Docker);
            }
            (_, Some(d)) => {
                let mut image = v1::Image {
                    docker: Some(v1::image::Docker {
                        name: d.image.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                image.set_type(v1::image::Type::Docker);
                info.mesos = Some(v1::container_info::MesosInfo { image: Some(image) });
                info.set_type(v1::container_info::Type::Mesos);
            }
            (_, None) => info.set_type(v1::container_info::Type::Mesos),
        }
        if app.network_mode() == NetworkMode::Container {
            info.network_infos = app
                .networks
                .iter()
                .map(|n| v1::NetworkInfo {
                    name: n.name.clone(),
                    ..Default::default()
                })
                .collect();
        }
        info
    });
    let labels = (!app.labels.is_empty()).then(|| v1::Labels {
        labels: app
            .labels
            .iter()
            .map(|(k, v)| v1::Label {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect(),
    });
    let kill_policy = app.task_kill_grace_period_seconds.map(|s| v1::KillPolicy {
        grace_period: Some(v1::DurationInfo {
            nanoseconds: (s * 1e9) as i64,
        }),
    });
    v1::TaskInfo {
        name: app.id.to_hostname(),
        task_id: v1::TaskId {
            value: launch.task_id.to_string(),
        },
        agent_id: v1::AgentId {
            value: launch.agent_id.to_string(),
        },
        resources: resources_to_proto(launch.resources, Some(launch.allocation_role)),
        command: Some(command),
        container,
        labels,
        kill_policy,
        discovery: Some(discovery(launch)),
        health_check: mesos_health_check(app, launch.host_ports),
        ..Default::default()
    }
}

/// Variables as a command's `Environment`.
pub fn environment_proto(vars: Vec<(String, String)>) -> v1::Environment {
    v1::Environment {
        variables: vars
            .into_iter()
            .map(|(name, value)| v1::environment::Variable {
                name,
                value: Some(value),
                ..Default::default()
            })
            .collect(),
    }
}

/// A URI for the fetcher.
pub fn uri_proto(
    value: &str,
    executable: bool,
    extract: bool,
    cache: bool,
    output_file: Option<String>,
) -> v1::command_info::Uri {
    v1::command_info::Uri {
        value: value.to_string(),
        executable: Some(executable),
        extract: Some(extract),
        cache: Some(cache),
        output_file,
    }
}

/// The app's first health check the agent runs (Marathon gives a task one), as Mesos's
/// HealthCheck: a COMMAND, or HTTP(S) / TCP on the task's port as seen from the task (the
/// container port on bridge and container networks, the host port on host networking).
fn mesos_health_check(app: &AppDefinition, host_ports: &[u32]) -> Option<v1::HealthCheck> {
    let hc = app
        .health_checks
        .iter()
        .find(|h| !h.protocol.is_marathon())?;
    let mut check = v1::HealthCheck {
        delay_seconds: Some(hc.delay_seconds as f64),
        interval_seconds: Some(hc.interval_seconds as f64),
        timeout_seconds: Some(hc.timeout_seconds as f64),
        consecutive_failures: Some(u32::try_from(hc.max_consecutive_failures).unwrap_or(0)),
        grace_period_seconds: Some(hc.grace_period_seconds as f64),
        ..Default::default()
    };
    match hc.protocol {
        Protocol::Command => {
            check.set_type(v1::health_check::Type::Command);
            check.command = Some(v1::CommandInfo {
                shell: Some(true),
                value: hc.command.as_ref().map(|c| c.value.clone()),
                ..Default::default()
            });
        }
        Protocol::MesosHttp | Protocol::MesosHttps => {
            check.set_type(v1::health_check::Type::Http);
            check.http = Some(v1::health_check::HttpCheckInfo {
                scheme: Some(
                    if hc.protocol == Protocol::MesosHttps {
                        "https"
                    } else {
                        "http"
                    }
                    .into(),
                ),
                port: task_port(app, hc, host_ports)?,
                path: hc.path.clone(),
                ..Default::default()
            });
        }
        Protocol::MesosTcp => {
            check.set_type(v1::health_check::Type::Tcp);
            check.tcp = Some(v1::health_check::TcpCheckInfo {
                port: task_port(app, hc, host_ports)?,
                ..Default::default()
            });
        }
        Protocol::Http | Protocol::Https | Protocol::Tcp => return None,
    }
    Some(check)
}

fn task_port(app: &AppDefinition, hc: &HealthCheck, host_ports: &[u32]) -> Option<u32> {
    match hc.port_choice(app)? {
        PortChoice::Fixed(p) => Some(p),
        PortChoice::Index(n) => match app.network_mode() {
            NetworkMode::Host => host_ports.get(n).copied(),
            _ => {
                let mapping = app.port_mappings().get(n)?;
                match mapping.container_port {
                    0 => app.task_ports(host_ports).get(n).copied(),
                    p => Some(p),
                }
            }
        },
    }
}

/// Mesos-DNS and other tools read a task's ports from its discovery info.
fn discovery(launch: &Launch<'_>) -> v1::DiscoveryInfo {
    let app = launch.app;
    let declared: Vec<(Option<String>, String)> = match app.network_mode() {
        NetworkMode::Host => app
            .port_definitions
            .iter()
            .map(|p| (p.name.clone(), p.protocol.clone()))
            .collect(),
        _ => app
            .port_mappings()
            .iter()
            .map(|m| (m.name.clone(), m.protocol.clone()))
            .collect(),
    };
    let mut info = v1::DiscoveryInfo {
        name: Some(app.id.to_hostname()),
        ports: Some(v1::Ports {
            ports: declared
                .into_iter()
                .zip(app.task_ports(launch.host_ports))
                .map(|((name, protocol), number)| v1::Port {
                    number,
                    name,
                    protocol: Some(protocol),
                    ..Default::default()
                })
                .collect(),
        }),
        ..Default::default()
    };
    info.set_visibility(v1::discovery_info::Visibility::Framework);
    info
}

/// The variables Marathon adds to every task, then the app's own `env` (which wins and
/// gets no prefix).
pub fn environment(launch: &Launch<'_>, prefix: &str) -> Vec<(String, String)> {
    let app = launch.app;
    let mut env: Vec<(String, String)> = vec![];
    let mut put = |name: String, value: String| env.push((format!("{prefix}{name}"), value));
    let (declared, names): (Vec<u32>, Vec<Option<String>>) = match app.network_mode() {
        NetworkMode::Host => app
            .port_definitions
            .iter()
            .map(|p| (p.port, p.name.clone()))
            .unzip(),
        _ => app
            .port_mappings()
            .iter()
            .map(|m| (m.container_port, m.name.clone()))
            .unzip(),
    };
    let ports = app.task_ports(launch.host_ports);
    if let Some(first) = ports.first() {
        put("PORT".into(), first.to_string());
    }
    for (i, port) in ports.iter().enumerate() {
        put(format!("PORT{i}"), port.to_string());
        if let Some(&d) = declared.get(i) {
            if d != 0 {
                put(format!("PORT_{d}"), port.to_string());
            }
        }
        if let Some(Some(name)) = names.get(i) {
            put(format!("PORT_{}", env_name(name)), port.to_string());
        }
    }
    if !ports.is_empty() {
        put(
            "PORTS".into(),
            ports
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    put("HOST".into(), launch.hostname.to_string());
    put("MARATHON_APP_ID".into(), app.id.to_string());
    put("MARATHON_APP_VERSION".into(), app.version.clone());
    put(
        "MARATHON_APP_DOCKER_IMAGE".into(),
        app.docker_image().unwrap_or("").to_string(),
    );
    put("MARATHON_APP_RESOURCE_CPUS".into(), app.cpus.to_string());
    put("MARATHON_APP_RESOURCE_MEM".into(), app.mem.to_string());
    put("MARATHON_APP_RESOURCE_DISK".into(), app.disk.to_string());
    put("MARATHON_APP_RESOURCE_GPUS".into(), app.gpus.to_string());
    let label_names: Vec<String> = app.labels.keys().map(|k| env_name(k)).collect();
    put("MARATHON_APP_LABELS".into(), label_names.join(" "));
    for (k, v) in &app.labels {
        put(format!("MARATHON_APP_LABEL_{}", env_name(k)), v.clone());
    }
    put("MESOS_TASK_ID".into(), launch.task_id.to_string());
    for (k, v) in &app.env {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// Upper case, anything but letters, digits and `_` as `_`.
fn env_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::update::AppUpdate;
    use crate::app::PathId;
    use serde_json::json;

    fn app(body: serde_json::Value) -> AppDefinition {
        let u = AppUpdate::from_value(body).unwrap();
        let mut a = u.apply(
            AppDefinition::with_defaults(PathId::parse(u.id.as_deref().unwrap())),
            true,
        );
        a.version = "2026-12-02T05:00:00.000Z".into();
        a
    }

    fn env_of(app: &AppDefinition, ports: &[u32]) -> std::collections::BTreeMap<String, String> {
        let r = Resources::parse("cpus:1;mem:128").unwrap();
        environment(
            &Launch {
                app,
                task_id: "web.instance-1._app.1",
                agent_id: "a1",
                hostname: "node-1",
                resources: &r,
                host_ports: ports,
                allocation_role: "*",
            },
            "",
        )
        .into_iter()
        .collect()
    }

    #[test]
    fn host_networking_env() {
        let a = app(json!({"id": "/prod/web", "cmd": "x",
            "portDefinitions": [{"port": 0, "name": "http"}, {"port": 3000}],
            "labels": {"team": "a-b"}, "env": {"PORT": "override"}}));
        let env = env_of(&a, &[31001, 31002]);
        assert_eq!(env["PORT"], "override", "the app's env wins");
        assert_eq!(env["PORT0"], "31001");
        assert_eq!(env["PORT1"], "31002");
        assert_eq!(env["PORT_HTTP"], "31001");
        assert_eq!(env["PORT_3000"], "31002");
        assert_eq!(env["PORTS"], "31001,31002");
        assert_eq!(env["HOST"], "node-1");
        assert_eq!(env["MARATHON_APP_ID"], "/prod/web");
        assert_eq!(env["MARATHON_APP_RESOURCE_MEM"], "128");
        assert_eq!(env["MARATHON_APP_LABELS"], "TEAM");
        assert_eq!(env["MARATHON_APP_LABEL_TEAM"], "a-b");
        assert_eq!(env["MESOS_TASK_ID"], "web.instance-1._app.1");
    }

    #[test]
    fn bridge_task_maps_host_to_container_ports() {
        let a = app(
            json!({"id": "web", "container": {"type": "DOCKER", "docker": {
            "image": "busybox", "network": "BRIDGE", "portMappings": [
                {"containerPort": 8080, "hostPort": 0}, {"containerPort": 0, "hostPort": 0}]}}}),
        );
        let r = Resources::parse("cpus:1;mem:128;ports:[31000-31001]").unwrap();
        let t = task_info(
            &Launch {
                app: &a,
                task_id: "web.1",
                agent_id: "a1",
                hostname: "h",
                resources: &r,
                host_ports: &[31000, 31001],
                allocation_role: "*",
            },
            "",
        );
        let docker = t.container.as_ref().unwrap().docker.as_ref().unwrap();
        assert_eq!(docker.network(), docker_info::Network::Bridge);
        let pm: Vec<(u32, u32)> = docker
            .port_mappings
            .iter()
            .map(|p| (p.host_port, p.container_port))
            .collect();
        assert_eq!(pm, vec![(31000, 8080), (31001, 31001)]);
        assert_eq!(t.name, "web");
        let command = t.command.unwrap();
        assert_eq!(command.shell, Some(false));
        assert_eq!(command.value, None, "the image's entrypoint runs");
        let env = env_of(&a, &[31000, 31001]);
        assert_eq!(env["PORT_8080"], "31000");
        assert_eq!(env["MARATHON_APP_DOCKER_IMAGE"], "busybox");
    }

    #[test]
    fn mesos_health_checks_go_into_the_task() {
        let r = Resources::new();
        let launch = |a: &AppDefinition| {
            task_info(
                &Launch {
                    app: a,
                    task_id: "t",
                    agent_id: "a",
                    hostname: "h",
                    resources: &r,
                    host_ports: &[31005],
                    allocation_role: "*",
                },
                "",
            )
        };
        let a = app(json!({"id": "w", "cmd": "x", "healthChecks": [
            {"protocol": "HTTP"},
            {"protocol": "MESOS_TCP", "intervalSeconds": 2, "gracePeriodSeconds": 7,
             "maxConsecutiveFailures": 4, "timeoutSeconds": 1, "delaySeconds": 0}]}));
        let hc = launch(&a).health_check.expect("the Mesos check");
        assert_eq!(hc.r#type(), v1::health_check::Type::Tcp);
        assert_eq!(
            hc.tcp.unwrap().port,
            31005,
            "host networking: the host port"
        );
        assert_eq!(
            (
                hc.interval_seconds,
                hc.grace_period_seconds,
                hc.consecutive_failures
            ),
            (Some(2.0), Some(7.0), Some(4))
        );
        assert_eq!(
            (hc.timeout_seconds, hc.delay_seconds),
            (Some(1.0), Some(0.0))
        );
        let a = app(
            json!({"id": "w", "container": {"type": "DOCKER", "docker": {
            "image": "busybox", "network": "BRIDGE", "portMappings": [{"containerPort": 80}]}},
            "healthChecks": [{"protocol": "MESOS_HTTPS", "path": "/ok"}]}),
        );
        let http = launch(&a).health_check.unwrap().http.unwrap();
        assert_eq!(
            (http.port, http.scheme.as_deref(), http.path.as_deref()),
            (80, Some("https"), Some("/ok")),
            "bridge: the container port"
        );
        let a = app(json!({"id": "w", "cmd": "x", "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": "test -f ok"}}]}));
        let hc = launch(&a).health_check.unwrap();
        assert_eq!(hc.command.unwrap().value.as_deref(), Some("test -f ok"));
        let a = app(json!({"id": "w", "cmd": "x", "healthChecks": [{"protocol": "TCP"}]}));
        assert!(
            launch(&a).health_check.is_none(),
            "Marathon probes TCP itself"
        );
    }

    #[test]
    fn prefix_applies_to_marathon_variables_only() {
        let a = app(json!({"id": "web", "cmd": "x", "env": {"A": "1"}}));
        let r = Resources::new();
        let env: std::collections::BTreeMap<_, _> = environment(
            &Launch {
                app: &a,
                task_id: "t",
                agent_id: "a",
                hostname: "h",
                resources: &r,
                host_ports: &[5],
                allocation_role: "*",
            },
            "MY_",
        )
        .into_iter()
        .collect();
        assert_eq!(env["MY_PORT0"], "5");
        assert_eq!(env["A"], "1");
        assert!(!env.contains_key("PORT0"));
    }
}
