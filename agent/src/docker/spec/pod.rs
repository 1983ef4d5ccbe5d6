//! Task groups whose tasks have Docker images (Marathon's pods) as Docker containers that
//! share one network namespace.
//!
//! One network container per default executor (`mesos-<executor container id>`, the
//! group's first image running a shell that only waits) holds the namespace: on the
//! executor's network (`mesos-bridge` is Docker's bridge, with the executor's port
//! mappings published; another name is that Docker network). Each task's container joins
//! it (`--network container:<it>`), so the tasks reach each other on `127.0.0.1`. On host
//! networking (no executor network) there is no network container: every task uses the
//! host's network.
//!
//! Volumes: a `SANDBOX_PATH` volume of type PARENT is the directory of that path in the
//! executor's sandbox (the pod's shared ephemeral volume), bound into each task that
//! mounts it; host paths are bound as for Docker tasks.

use std::path::Path;

use mesos_proto::v1::container_info::docker_info::Network;
use mesos_proto::v1::container_info::{DockerInfo, Type as ContainerType};
use mesos_proto::v1::volume::source::sandbox_path::Type as SandboxType;
use mesos_proto::v1::{image, ContainerInfo, ExecutorInfo, TaskInfo, Volume};

use super::{
    bind_ports, build, container_name, labels, ContainerSpec, ImageReference, SpecContext,
    SpecError,
};

/// The network the executor's ContainerInfo names for Mesos's CNI bridge.
pub const BRIDGE_NETWORK: &str = "mesos-bridge";

/// What the network container runs: nothing but waiting, ending at once on SIGTERM.
const WAIT_FOREVER: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// The Docker image of a task of a group (`ContainerInfo` of type MESOS with a DOCKER
/// image), if it has one.
pub fn image(task: &TaskInfo) -> Option<&str> {
    let container = task.container.as_ref()?;
    if container.r#type() != ContainerType::Mesos {
        return None;
    }
    let image = container.mesos.as_ref()?.image.as_ref()?;
    if image.r#type() != image::Type::Docker {
        return None;
    }
    image.docker.as_ref().map(|d| d.name.as_str())
}

/// The network container of a group's executor; None on host networking (the tasks then
/// use the host's network).
pub fn network_container(
    executor: &ExecutorInfo,
    image_name: &str,
    ctx: &SpecContext<'_>,
) -> Result<Option<ContainerSpec>, SpecError> {
    let networks = executor
        .container
        .as_ref()
        .map(|c| c.network_infos.as_slice())
        .unwrap_or_default();
    let network = match networks {
        [] => return Ok(None),
        [one] => one,
        _ => {
            return Err(SpecError::Network(
                "a task group joins at most one network".into(),
            ))
        }
    };
    let (mode, kind) = match network.name.as_deref() {
        Some(BRIDGE_NETWORK) | None => ("bridge".to_string(), Network::Bridge),
        Some(name) => (name.to_string(), Network::User),
    };
    let mut port_mappings = vec![];
    for m in &network.port_mappings {
        let protocol = m.protocol.clone().unwrap_or_else(|| "tcp".into());
        if !matches!(protocol.as_str(), "tcp" | "udp") || m.container_port > 65535 {
            return Err(SpecError::PortMapping(format!(
                "{} -> {}/{protocol} is not a tcp or udp port",
                m.host_port, m.container_port
            )));
        }
        port_mappings.push((m.host_port, m.container_port, protocol));
    }
    let mut body = bollard::models::ContainerCreateBody {
        image: Some(image_name.to_string()),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), WAIT_FOREVER.into()]),
        labels: Some(
            labels::of(
                ctx.agent_id,
                ctx.framework_id,
                &executor.executor_id.value,
                ctx.container_id,
            )
            .into_iter()
            .collect(),
        ),
        ..Default::default()
    };
    let mut host = bollard::models::HostConfig {
        network_mode: Some(mode),
        ..Default::default()
    };
    bind_ports(&port_mappings, &mut body, &mut host);
    body.host_config = Some(host);
    Ok(Some(ContainerSpec {
        name: container_name(ctx.container_id),
        image: ImageReference::parse(image_name)?,
        force_pull: false,
        network: kind,
        port_mappings,
        body,
        network_container: None,
    }))
}

/// The container of one task of a group: the task as a Docker task, in the network of
/// `network` (a network container's name; None: the host's), with the group's volumes.
pub fn member(
    task: &TaskInfo,
    ctx: &SpecContext<'_>,
    executor_sandbox: &Path,
    network: Option<&ContainerSpec>,
) -> Result<ContainerSpec, SpecError> {
    let image_name = image(task).ok_or(SpecError::MissingDockerInfo)?;
    let container = task.container.clone().unwrap_or_default();
    let cached = container
        .mesos
        .as_ref()
        .and_then(|m| m.image.as_ref())
        .and_then(|i| i.cached);
    let mut docker = DockerInfo {
        image: image_name.to_string(),
        force_pull_image: Some(cached == Some(false)),
        ..Default::default()
    };
    docker.set_network(Network::Host);
    let volumes = container
        .volumes
        .iter()
        .map(|v| shared_volume(v, executor_sandbox))
        .collect::<Result<Vec<_>, _>>()?;
    let mut as_docker = task.clone();
    let mut info = ContainerInfo {
        docker: Some(docker),
        volumes,
        ..Default::default()
    };
    info.set_type(ContainerType::Docker);
    as_docker.container = Some(info);
    // The group's shared volumes are directories of the executor's sandbox, whatever the
    // operator's prefixes; host paths the pod names are checked against them as usual.
    let guards = ctx.guards.also_under(executor_sandbox);
    let ctx = SpecContext {
        guards: &guards,
        ..*ctx
    };
    let mut spec = build(&as_docker, &ctx)?;
    let host = spec.body.host_config.get_or_insert_with(Default::default);
    match network {
        Some(net) => {
            host.network_mode = Some(format!("container:{}", net.name));
            spec.network = net.network;
            spec.port_mappings = net.port_mappings.clone();
            spec.network_container = Some(net.name.clone());
        }
        None => host.network_mode = Some("host".into()),
    }
    Ok(spec)
}

/// A volume of a group's task as a Docker task's: the executor sandbox's directory for a
/// PARENT sandbox path, a host path as it is.
fn shared_volume(v: &Volume, executor_sandbox: &Path) -> Result<Volume, SpecError> {
    let Some(source) = &v.source else {
        return Ok(v.clone());
    };
    let bad = |reason: &str| SpecError::Volume {
        path: v.container_path.clone(),
        reason: reason.to_string(),
    };
    if let Some(host) = &source.host_path {
        return Ok(Volume {
            host_path: Some(host.path.clone()),
            source: None,
            ..v.clone()
        });
    }
    let sandbox = source
        .sandbox_path
        .as_ref()
        .ok_or_else(|| bad("only sandbox paths and host paths are supported in task groups"))?;
    if sandbox.path.split('/').any(|part| part == "..") {
        return Err(bad("the sandbox path leaves the sandbox"));
    }
    let host_path = match sandbox.r#type() {
        SandboxType::Parent => executor_sandbox.join(&sandbox.path),
        _ => return Err(bad("only PARENT sandbox paths are supported")),
    };
    Ok(Volume {
        host_path: Some(host_path.display().to_string()),
        source: None,
        ..v.clone()
    })
}

#[cfg(test)]
mod tests {
    use mesos_proto::v1::{network_info, volume, NetworkInfo};

    use super::*;

    fn ctx<'a>(sandbox: &'a Path, container_id: &'a str) -> SpecContext<'a> {
        SpecContext {
            agent_id: "a1",
            framework_id: "f1",
            container_id,
            sandbox,
            agent_endpoint: "127.0.0.1:5051",
            hostname: "h1",
            // The agent's defaults: a group's shared volumes must pass them.
            guards: Box::leak(Box::new(super::super::Guards::default())),
        }
    }

    fn pod_task(image_name: &str, volumes: Vec<Volume>) -> TaskInfo {
        let mut img = mesos_proto::v1::Image {
            docker: Some(image::Docker {
                name: image_name.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        img.set_type(image::Type::Docker);
        let mut container = ContainerInfo {
            mesos: Some(mesos_proto::v1::container_info::MesosInfo { image: Some(img) }),
            volumes,
            ..Default::default()
        };
        container.set_type(ContainerType::Mesos);
        TaskInfo {
            name: "web".into(),
            task_id: mesos_proto::v1::TaskId {
                value: "p.instance-x.web".into(),
            },
            command: Some(mesos_proto::v1::CommandInfo {
                shell: Some(true),
                value: Some("httpd -f -p 8080".into()),
                ..Default::default()
            }),
            container: Some(container),
            ..Default::default()
        }
    }

    fn executor(networks: Vec<NetworkInfo>) -> ExecutorInfo {
        let mut container = ContainerInfo {
            network_infos: networks,
            ..Default::default()
        };
        container.set_type(ContainerType::Mesos);
        ExecutorInfo {
            executor_id: mesos_proto::v1::ExecutorId {
                value: "instance-p".into(),
            },
            container: Some(container),
            ..Default::default()
        }
    }

    #[test]
    fn bridge_pods_share_a_network_container_that_publishes_their_ports() {
        let sandbox = Path::new("/work/exec");
        let bridge = executor(vec![NetworkInfo {
            name: Some(BRIDGE_NETWORK.into()),
            port_mappings: vec![network_info::PortMapping {
                host_port: 31005,
                container_port: 8080,
                protocol: None,
            }],
            ..Default::default()
        }]);
        let net = network_container(&bridge, "busybox", &ctx(sandbox, "exec-c"))
            .unwrap()
            .unwrap();
        assert_eq!(net.name, "mesos-exec-c");
        let host = net.body.host_config.as_ref().unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        let bindings = host.port_bindings.as_ref().unwrap();
        assert_eq!(
            bindings["8080/tcp"].as_ref().unwrap()[0]
                .host_port
                .as_deref(),
            Some("31005")
        );
        let mut sandbox_volume = Volume {
            container_path: "/shared".into(),
            ..Default::default()
        };
        let mut source = volume::Source::default();
        source.set_type(volume::source::Type::SandboxPath);
        let mut path = volume::source::SandboxPath {
            path: "volumes/shared".into(),
            ..Default::default()
        };
        path.set_type(SandboxType::Parent);
        source.sandbox_path = Some(path);
        sandbox_volume.source = Some(source);
        sandbox_volume.set_mode(volume::Mode::Rw);
        let task = pod_task("busybox", vec![sandbox_volume]);
        let member_sandbox = sandbox.join("containers/m1");
        let spec = member(&task, &ctx(&member_sandbox, "m1"), sandbox, Some(&net)).unwrap();
        let host = spec.body.host_config.as_ref().unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("container:mesos-exec-c"));
        assert!(
            host.port_bindings.is_none(),
            "ports are the network container's"
        );
        let binds = host.binds.as_ref().unwrap();
        assert!(
            binds.contains(&"/work/exec/volumes/shared:/shared:rw".to_string()),
            "{binds:?}"
        );
        assert_eq!(spec.network_container.as_deref(), Some("mesos-exec-c"));
        assert_eq!(spec.port_mappings, net.port_mappings);
    }

    #[test]
    fn host_pods_need_no_network_container() {
        let host_net = executor(vec![]);
        let sandbox = Path::new("/s");
        assert!(network_container(&host_net, "busybox", &ctx(sandbox, "e"))
            .unwrap()
            .is_none());
        let spec = member(
            &pod_task("busybox", vec![]),
            &ctx(sandbox, "m"),
            sandbox,
            None,
        )
        .unwrap();
        let host = spec.body.host_config.as_ref().unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("host"));
        assert_eq!(image(&pod_task("busybox", vec![])), Some("busybox"));
    }
}
