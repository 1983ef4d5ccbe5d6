//! From a pod and a placement decision to Mesos's LAUNCH_GROUP: one `TaskInfo` per
//! container and the `ExecutorInfo` (type DEFAULT) they share, as Marathon's
//! `TaskGroupBuilder` makes them.
//!
//! - the instance's resources are split: each container gets its own, the executor the
//!   rest (`executorResources`);
//! - containers with an image get `ContainerInfo { type: MESOS, mesos.image: DOCKER }`;
//!   the pod's network is the executor's container's (`mesos-bridge` with the host-port
//!   mappings for `container/bridge`, the named network for `container`, none for host);
//! - volume mounts: an ephemeral volume is the executor sandbox's `volumes/<name>`
//!   (`SANDBOX_PATH`, type PARENT), a `host` volume that host path;
//! - each container's health check is a Mesos health check of its task, on the host port
//!   (host networking) or the container port.

use mesos_common::resources::Resources;
use mesos_common::wire::resources_to_proto;
use mesos_proto::v1;

use crate::app::NetworkMode;
use crate::placement::{split, Part};
use crate::pod::{
    container_task_id, Endpoint, MesosCommand, PodContainer, PodDefinition, PodHealthCheck,
};
use crate::task_info::{environment_proto, uri_proto};

/// The name of the network Mesos's CNI bridge goes by (`container/bridge`).
pub const BRIDGE_NETWORK: &str = "mesos-bridge";

/// One instance of a pod to launch.
pub struct GroupLaunch<'a> {
    pub pod: &'a PodDefinition,
    pub instance_id: &'a str,
    pub agent_id: &'a str,
    pub resources: &'a Resources,
    /// Host ports in the order of [`PodDefinition::host_port_endpoints`].
    pub host_ports: &'a [u32],
    pub allocation_role: &'a str,
}

/// The executor id of a pod instance (`instance-<instanceId>`, as Marathon's).
pub fn executor_id(instance_id: &str) -> String {
    format!("instance-{instance_id}")
}

/// The task group of one pod instance and the executor that runs it.
pub fn task_group(launch: &GroupLaunch<'_>) -> (v1::ExecutorInfo, Vec<v1::TaskInfo>) {
    let pod = launch.pod;
    let mode = pod.network_mode();
    // (container, endpoint, host port) of every endpoint that has one.
    let allocated: Vec<(&str, &Endpoint, u32)> = pod
        .host_port_endpoints()
        .into_iter()
        .zip(launch.host_ports)
        .map(|((c, e), &p)| (c.name.as_str(), e, p))
        .collect();
    let parts: Vec<Part> = pod
        .containers
        .iter()
        .map(|c| Part {
            cpus: c.resources.cpus,
            mem: c.resources.mem,
            disk: c.resources.disk,
            gpus: f64::from(c.resources.gpus),
            ports: allocated
                .iter()
                .filter(|(name, ..)| *name == c.name)
                .map(|(.., p)| *p as u16)
                .collect(),
        })
        .collect();
    let mut shares = split(launch.resources, &parts);
    let executor_share = shares.pop().unwrap_or_default();
    let role = Some(launch.allocation_role);
    let mut executor_container = v1::ContainerInfo::default();
    executor_container.set_type(v1::container_info::Type::Mesos);
    executor_container.network_infos = match mode {
        NetworkMode::Host => vec![],
        NetworkMode::Bridge => vec![v1::NetworkInfo {
            name: Some(BRIDGE_NETWORK.into()),
            port_mappings: allocated
                .iter()
                .flat_map(|(_, e, host)| {
                    protocols(e)
                        .into_iter()
                        .map(move |protocol| v1::network_info::PortMapping {
                            host_port: *host,
                            container_port: e.container_port.unwrap_or(*host),
                            protocol: Some(protocol),
                        })
                })
                .collect(),
            ..Default::default()
        }],
        NetworkMode::Container => pod
            .networks
            .iter()
            .map(|n| v1::NetworkInfo {
                name: n.name.clone(),
                ..Default::default()
            })
            .collect(),
    };
    let mut executor = v1::ExecutorInfo {
        executor_id: v1::ExecutorId {
            value: executor_id(launch.instance_id),
        },
        resources: resources_to_proto(&executor_share, role),
        container: Some(executor_container),
        ..Default::default()
    };
    executor.set_type(v1::executor_info::Type::Default);
    let tasks = pod
        .containers
        .iter()
        .zip(shares)
        .map(|(c, share)| {
            let ports: Vec<(&Endpoint, u32)> = allocated
                .iter()
                .filter(|(name, ..)| *name == c.name)
                .map(|(_, e, p)| (*e, *p))
                .collect();
            v1::TaskInfo {
                name: c.name.clone(),
                task_id: v1::TaskId {
                    value: container_task_id(launch.instance_id, &c.name),
                },
                agent_id: v1::AgentId {
                    value: launch.agent_id.to_string(),
                },
                resources: resources_to_proto(&share, role),
                command: Some(command(pod, c, &allocated)),
                container: container(pod, c),
                labels: labels(c),
                kill_policy: c
                    .lifecycle
                    .and_then(|l| l.kill_grace_period_seconds)
                    .map(|s| v1::KillPolicy {
                        grace_period: Some(v1::DurationInfo {
                            nanoseconds: (s * 1e9) as i64,
                        }),
                    }),
                health_check: c
                    .health_check
                    .as_ref()
                    .and_then(|hc| health_check(hc, c, mode, &ports)),
                ..Default::default()
            }
        })
        .collect();
    (executor, tasks)
}

fn protocols(e: &Endpoint) -> Vec<String> {
    let named: Vec<String> = e
        .protocol
        .iter()
        .filter(|p| matches!(p.as_str(), "tcp" | "udp"))
        .cloned()
        .collect();
    if named.is_empty() {
        vec!["tcp".into()]
    } else {
        named
    }
}

/// The container's command and environment: the pod's variables, then the container's,
/// then Marathon's (`ENDPOINT_<NAME>` for each endpoint's port, the pod's id and version).
fn command(
    pod: &PodDefinition,
    c: &PodContainer,
    allocated: &[(&str, &Endpoint, u32)],
) -> v1::CommandInfo {
    let mut env: Vec<(String, String)> = vec![];
    let plain = |vars: &std::collections::BTreeMap<String, serde_json::Value>| {
        vars.iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect::<Vec<_>>()
    };
    env.extend(plain(&pod.environment));
    env.extend(plain(&c.environment));
    for e in pod.containers.iter().flat_map(|c| c.endpoints.iter()) {
        let port = allocated
            .iter()
            .find(|(_, a, _)| a.name == e.name)
            .map(|(.., p)| *p)
            .or(e.container_port);
        if let Some(port) = port {
            let name = e.name.to_uppercase().replace('-', "_");
            env.push((format!("ENDPOINT_{name}"), port.to_string()));
        }
    }
    env.push(("MARATHON_APP_ID".into(), pod.id.to_string()));
    env.push(("MARATHON_APP_VERSION".into(), pod.version.clone()));
    env.push(("MARATHON_CONTAINER_ID".into(), c.name.clone()));
    let mut info = v1::CommandInfo {
        environment: Some(environment_proto(env)),
        uris: c
            .artifacts
            .iter()
            .map(|a| {
                uri_proto(
                    &a.uri,
                    a.executable,
                    a.extract,
                    a.cache,
                    a.dest_path.clone(),
                )
            })
            .collect(),
        user: c.user.clone().or_else(|| pod.user.clone()),
        ..Default::default()
    };
    match c.exec.as_ref().map(|e| &e.command) {
        Some(MesosCommand::Shell { shell }) => {
            info.shell = Some(true);
            info.value = Some(shell.clone());
        }
        Some(MesosCommand::Argv { argv }) => {
            info.shell = Some(false);
            if c.image.is_none() {
                info.value = argv.first().cloned();
            }
            info.arguments = argv.clone();
        }
        None => info.shell = Some(false),
    }
    info
}

fn container(pod: &PodDefinition, c: &PodContainer) -> Option<v1::ContainerInfo> {
    if c.image.is_none() && c.volume_mounts.is_empty() {
        return None;
    }
    let mut info = v1::ContainerInfo::default();
    info.set_type(v1::container_info::Type::Mesos);
    if let Some(image) = &c.image {
        let mut mesos_image = v1::Image {
            docker: Some(v1::image::Docker {
                name: image.id.clone(),
                ..Default::default()
            }),
            cached: Some(!image.force_pull),
            ..Default::default()
        };
        mesos_image.set_type(v1::image::Type::Docker);
        info.mesos = Some(v1::container_info::MesosInfo {
            image: Some(mesos_image),
        });
    }
    info.volumes = c
        .volume_mounts
        .iter()
        .filter_map(|m| {
            let volume = pod.volumes.iter().find(|v| v.name == m.name)?;
            let mut out = v1::Volume {
                container_path: m.mount_path.clone(),
                ..Default::default()
            };
            out.set_mode(if m.read_only == Some(true) {
                v1::volume::Mode::Ro
            } else {
                v1::volume::Mode::Rw
            });
            match &volume.host {
                Some(host) => out.host_path = Some(host.clone()),
                None => {
                    let mut sandbox = v1::volume::source::SandboxPath {
                        path: format!("volumes/{}", volume.name),
                        ..Default::default()
                    };
                    sandbox.set_type(v1::volume::source::sandbox_path::Type::Parent);
                    let mut source = v1::volume::Source {
                        sandbox_path: Some(sandbox),
                        ..Default::default()
                    };
                    source.set_type(v1::volume::source::Type::SandboxPath);
                    out.source = Some(source);
                }
            }
            Some(out)
        })
        .collect();
    Some(info)
}

fn labels(c: &PodContainer) -> Option<v1::Labels> {
    (!c.labels.is_empty()).then(|| v1::Labels {
        labels: c
            .labels
            .iter()
            .map(|(k, v)| v1::Label {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect(),
    })
}

/// The container's health check for the agent: HTTP and TCP on the endpoint's port as
/// the container sees it (the host port on host networking), or a command.
fn health_check(
    hc: &PodHealthCheck,
    c: &PodContainer,
    mode: NetworkMode,
    allocated: &[(&Endpoint, u32)],
) -> Option<v1::HealthCheck> {
    let port_of = |name: &str| -> Option<u32> {
        match mode {
            NetworkMode::Host => allocated
                .iter()
                .find(|(e, _)| e.name == name)
                .map(|(_, p)| *p),
            _ => c
                .endpoints
                .iter()
                .find(|e| e.name == name)
                .and_then(|e| e.container_port),
        }
    };
    let mut check = v1::HealthCheck {
        delay_seconds: Some(hc.delay_seconds as f64),
        interval_seconds: Some(hc.interval_seconds as f64),
        timeout_seconds: Some(hc.timeout_seconds as f64),
        consecutive_failures: Some(u32::try_from(hc.max_consecutive_failures).unwrap_or(0)),
        grace_period_seconds: Some(hc.grace_period_seconds as f64),
        ..Default::default()
    };
    if let Some(http) = &hc.http {
        check.set_type(v1::health_check::Type::Http);
        check.http = Some(v1::health_check::HttpCheckInfo {
            scheme: Some(
                if http.scheme.as_deref() == Some("HTTPS") {
                    "https"
                } else {
                    "http"
                }
                .into(),
            ),
            port: port_of(&http.endpoint)?,
            path: http.path.clone(),
            ..Default::default()
        });
    } else if let Some(tcp) = &hc.tcp {
        check.set_type(v1::health_check::Type::Tcp);
        check.tcp = Some(v1::health_check::TcpCheckInfo {
            port: port_of(&tcp.endpoint)?,
            ..Default::default()
        });
    } else {
        let exec = hc.exec.as_ref()?;
        check.set_type(v1::health_check::Type::Command);
        check.command = Some(match &exec.command {
            MesosCommand::Shell { shell } => v1::CommandInfo {
                shell: Some(true),
                value: Some(shell.clone()),
                ..Default::default()
            },
            MesosCommand::Argv { argv } => v1::CommandInfo {
                shell: Some(false),
                value: argv.first().cloned(),
                arguments: argv.clone(),
                ..Default::default()
            },
        });
    }
    Some(check)
}

#[cfg(test)]
mod tests {
    use mesos_common::resources::Resources;
    use serde_json::json;

    use super::*;

    fn launch_of(
        pod: &PodDefinition,
        resources: &Resources,
        ports: &[u32],
    ) -> (v1::ExecutorInfo, Vec<v1::TaskInfo>) {
        task_group(&GroupLaunch {
            pod,
            instance_id: "p.instance-00000000-0000-0000-0000-000000000000",
            agent_id: "a1",
            resources,
            host_ports: ports,
            allocation_role: "*",
        })
    }

    fn bridge_pod() -> PodDefinition {
        crate::app::update::from_body(json!({
            "id": "/p",
            "containers": [
                {"name": "web", "resources": {"cpus": 0.2, "mem": 32},
                 "image": {"kind": "DOCKER", "id": "busybox"},
                 "exec": {"command": {"shell": "httpd -f -p 8080"}},
                 "endpoints": [{"name": "http", "containerPort": 8080, "hostPort": 0}],
                 "healthCheck": {"http": {"endpoint": "http", "path": "/ok"}},
                 "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
                {"name": "client", "resources": {"cpus": 0.1, "mem": 16},
                 "exec": {"command": {"shell": "sleep 100"}},
                 "volumeMounts": [{"name": "logs", "mountPath": "/logs", "readOnly": true}]}
            ],
            "networks": [{"mode": "container/bridge"}],
            "volumes": [{"name": "shared"}, {"name": "logs", "host": "/var/log"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_instance_is_one_task_per_container_under_a_default_executor() {
        let pod = bridge_pod();
        let total = Resources::parse("cpus:0.4;mem:80;disk:10;ports:[31005-31005]").unwrap();
        let (executor, tasks) = launch_of(&pod, &total, &[31005]);
        assert_eq!(executor.r#type(), v1::executor_info::Type::Default);
        assert_eq!(
            executor.executor_id.value,
            "instance-p.instance-00000000-0000-0000-0000-000000000000"
        );
        let net = &executor.container.as_ref().unwrap().network_infos[0];
        assert_eq!(net.name.as_deref(), Some(BRIDGE_NETWORK));
        assert_eq!(net.port_mappings[0].host_port, 31005);
        assert_eq!(net.port_mappings[0].container_port, 8080);
        let ids: Vec<&str> = tasks.iter().map(|t| t.task_id.value.as_str()).collect();
        assert_eq!(
            ids,
            [
                "p.instance-00000000-0000-0000-0000-000000000000.web",
                "p.instance-00000000-0000-0000-0000-000000000000.client"
            ]
        );
        // Resources: each container its own, the executor the rest, nothing lost.
        let of = |r: &[v1::Resource]| mesos_common::wire::resources_from_proto(r).unwrap();
        let web = of(&tasks[0].resources);
        assert_eq!(web.cpus(), Some(0.2));
        assert_eq!(web.ports().unwrap().count(), 1);
        assert_eq!(of(&tasks[1].resources).mem(), Some(16.0));
        let exec = of(&executor.resources);
        assert!((exec.cpus().unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(exec.mem(), Some(32.0));
        assert_eq!(exec.disk(), Some(10.0));
        // The image, the shared ephemeral volume and the host volume.
        let web_container = tasks[0].container.as_ref().unwrap();
        let image = web_container
            .mesos
            .as_ref()
            .unwrap()
            .image
            .as_ref()
            .unwrap();
        assert_eq!(image.docker.as_ref().unwrap().name, "busybox");
        let source = web_container.volumes[0].source.as_ref().unwrap();
        assert_eq!(source.sandbox_path.as_ref().unwrap().path, "volumes/shared");
        let client_volume = &tasks[1].container.as_ref().unwrap().volumes[0];
        assert_eq!(client_volume.host_path.as_deref(), Some("/var/log"));
        assert_eq!(client_volume.mode(), v1::volume::Mode::Ro);
        // The health check on the container port; the endpoint in every container's env.
        let http = tasks[0]
            .health_check
            .as_ref()
            .unwrap()
            .http
            .as_ref()
            .unwrap();
        assert_eq!((http.port, http.path.as_deref()), (8080, Some("/ok")));
        let env = |t: &v1::TaskInfo, name: &str| {
            t.command
                .as_ref()
                .unwrap()
                .environment
                .as_ref()
                .unwrap()
                .variables
                .iter()
                .find(|v| v.name == name)
                .and_then(|v| v.value.clone())
        };
        assert_eq!(env(&tasks[1], "ENDPOINT_HTTP").as_deref(), Some("31005"));
        assert_eq!(env(&tasks[1], "MARATHON_APP_ID").as_deref(), Some("/p"));
        assert_eq!(
            tasks[1].command.as_ref().unwrap().value.as_deref(),
            Some("sleep 100")
        );
    }
}
