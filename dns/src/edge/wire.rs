//! Operator API messages (v1 protobuf) to the core's cluster types. Host names of agents
//! and frameworks are resolved to addresses here, so the core sees addresses only.

use std::net::IpAddr;
use std::time::Duration;

use mesos_proto::v1::master::event;
use mesos_proto::v1::master::response::{get_agents, get_frameworks, GetState};
use mesos_proto::v1::{self as v1};
use mesos_proto::v1::{container_info, MasterInfo, TaskState, TaskStatus};

use crate::core::cluster::{
    Agent, Change, Discovery, DiscoveryPort, Framework, MasterAddr, Networking, RunningStatus,
    Task, TaskUpdate,
};

/// A host name lookup that does not answer in this time yields no address.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// The addresses of a host: itself when it is an address, else what the system's
/// resolver says (IPv4 and IPv6, each once).
pub async fn host_ips(host: &str) -> Vec<IpAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Vec::new();
    }
    if let Ok(ip) = host.parse() {
        return vec![ip];
    }
    let lookup = tokio::net::lookup_host((host, 0));
    let mut ips: Vec<IpAddr> = match tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => {
            tracing::debug!(host, "host name does not resolve");
            Vec::new()
        }
    };
    ips.sort();
    ips.dedup();
    ips
}

/// `ip:port` of a libprocess pid (`slave(1)@10.0.0.1:5051`).
fn pid_host_port(pid: &str) -> Option<(&str, u16)> {
    let (_, address) = pid.split_once('@')?;
    let (host, port) = address.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

/// Where a master listens: `address` (Mesos >= 0.24) else the packed IPv4 `ip`.
pub fn master_addr(info: &MasterInfo) -> Option<MasterAddr> {
    if let Some(address) = &info.address {
        if let Some(ip) = address.ip.as_deref().and_then(|ip| ip.parse().ok()) {
            return Some(MasterAddr {
                ip,
                port: u16::try_from(address.port).ok()?,
            });
        }
    }
    // The packed address is in network byte order.
    let ip = IpAddr::from(info.ip.to_le_bytes());
    Some(MasterAddr {
        ip,
        port: u16::try_from(info.port).ok()?,
    })
}

pub async fn agent(agent: &get_agents::Agent) -> Option<Agent> {
    let info = &agent.agent_info;
    let id = info.id.as_ref()?.value.clone();
    let pid = agent.pid.as_deref().and_then(pid_host_port);
    let (host, port) = match pid {
        Some((host, port)) => (host.to_string(), port),
        None => (
            info.hostname.clone(),
            u16::try_from(info.port.unwrap_or(5051)).ok()?,
        ),
    };
    let mut ips = host_ips(&host).await;
    if ips.is_empty() && host != info.hostname {
        ips = host_ips(&info.hostname).await;
    }
    Some(Agent {
        id,
        ips,
        hostname: info.hostname.clone(),
        port,
    })
}

pub async fn framework(framework: &get_frameworks::Framework) -> Option<Framework> {
    framework_from_info(&framework.framework_info).await
}

async fn framework_from_info(info: &v1::FrameworkInfo) -> Option<Framework> {
    Some(Framework {
        id: info.id.as_ref()?.value.clone(),
        name: info.name.clone(),
        ips: host_ips(info.hostname.as_deref().unwrap_or_default()).await,
        // Frameworks on the v1 HTTP API have no libprocess pid, hence no port.
        port: None,
    })
}

fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::TaskFinished
            | TaskState::TaskFailed
            | TaskState::TaskKilled
            | TaskState::TaskError
            | TaskState::TaskLost
            | TaskState::TaskDropped
            | TaskState::TaskGone
            | TaskState::TaskGoneByOperator
    )
}

fn ips(texts: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<IpAddr> {
    texts
        .into_iter()
        .filter_map(|t| t.as_ref().trim().parse().ok())
        .collect()
}

/// The addresses a TASK_RUNNING status carries, by source.
fn running_status(status: &TaskStatus) -> RunningStatus {
    let label_ips = |key: &str| {
        ips(status
            .labels
            .iter()
            .flat_map(|l| &l.labels)
            .filter(|l| l.key == key)
            .filter_map(|l| l.value.as_deref()))
    };
    let netinfo = status
        .container_status
        .iter()
        .flat_map(|c| &c.network_infos)
        .flat_map(|n| &n.ip_addresses)
        .filter_map(|a| a.ip_address.as_deref());
    RunningStatus {
        timestamp: status.timestamp.unwrap_or(0.0),
        netinfo: ips(netinfo),
        mesos: label_ips("MesosContainerizer.NetworkSettings.IPAddress"),
        docker: label_ips("Docker.NetworkSettings.IPAddress"),
    }
}

fn networking(container: Option<&v1::ContainerInfo>) -> Networking {
    let Some(container) = container else {
        return Networking::Plain;
    };
    if container.r#type() != container_info::Type::Docker {
        return Networking::Plain;
    }
    match container.docker.as_ref().map(|d| d.network()) {
        Some(container_info::docker_info::Network::User) => Networking::DockerUser,
        _ => Networking::DockerHostOrBridge,
    }
}

/// Every port of the task's `ports` ranges.
fn ports(resources: &[v1::Resource]) -> Vec<u16> {
    resources
        .iter()
        .filter(|r| r.name == "ports")
        .flat_map(|r| r.ranges.iter().flat_map(|rs| &rs.range))
        .flat_map(|range| range.begin..=range.end)
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

pub fn task(task: &v1::Task) -> Task {
    let running_status = task
        .statuses
        .iter()
        .filter(|s| s.state() == TaskState::TaskRunning)
        .max_by(|a, b| {
            a.timestamp
                .unwrap_or(0.0)
                .total_cmp(&b.timestamp.unwrap_or(0.0))
        })
        .map(running_status);
    let discovery = task
        .discovery
        .as_ref()
        .filter(|d| d.name.as_deref().is_some_and(|n| !n.is_empty()))
        .map(|d| Discovery {
            name: d.name.clone().unwrap_or_default(),
            ports: d
                .ports
                .iter()
                .flat_map(|p| &p.ports)
                .filter_map(|p| {
                    Some(DiscoveryPort {
                        number: u16::try_from(p.number).ok()?,
                        protocol: p.protocol.clone().unwrap_or_default(),
                        name: p.name.clone().unwrap_or_default(),
                    })
                })
                .collect(),
        });
    Task {
        id: task.task_id.value.clone(),
        name: task.name.clone(),
        framework_id: task.framework_id.value.clone(),
        agent_id: task.agent_id.value.clone(),
        running: task.state() == TaskState::TaskRunning,
        running_status,
        ports: ports(&task.resources),
        discovery,
        networking: networking(task.container.as_deref()),
    }
}

pub fn task_updated(updated: &event::TaskUpdated) -> TaskUpdate {
    let state = updated.state();
    let status = &updated.status;
    TaskUpdate {
        framework_id: updated.framework_id.value.clone(),
        task_id: status.task_id.value.clone(),
        running: state == TaskState::TaskRunning,
        terminal: is_terminal(state),
        running_status: (status.state() == TaskState::TaskRunning).then(|| running_status(status)),
    }
}

/// The whole cluster from SUBSCRIBED's `get_state`.
pub async fn snapshot(state: &GetState) -> Change {
    let mut agents = Vec::new();
    for a in state.get_agents.iter().flat_map(|g| &g.agents) {
        agents.extend(agent(a).await);
    }
    let mut frameworks = Vec::new();
    for f in state.get_frameworks.iter().flat_map(|g| &g.frameworks) {
        frameworks.extend(framework(f).await);
    }
    let tasks = state
        .get_tasks
        .iter()
        .flat_map(|g| &g.tasks)
        .filter(|t| !is_terminal(t.state()))
        .map(task)
        .collect();
    Change::Snapshot {
        agents,
        frameworks,
        tasks,
    }
}

/// The change an operator event makes, if any.
pub async fn change(event: &mesos_proto::v1::master::Event) -> Option<Change> {
    use mesos_proto::v1::master::event::Type;
    Some(match event.r#type() {
        Type::Subscribed => snapshot(event.subscribed.as_ref()?.get_state.as_ref()?).await,
        Type::TaskAdded => Change::TaskAdded(task(&event.task_added.as_ref()?.task)),
        Type::TaskUpdated => Change::TaskUpdated(task_updated(event.task_updated.as_ref()?)),
        Type::AgentAdded => Change::AgentAdded(agent(&event.agent_added.as_ref()?.agent).await?),
        Type::AgentRemoved => {
            Change::AgentRemoved(event.agent_removed.as_ref()?.agent_id.value.clone())
        }
        Type::FrameworkAdded => {
            Change::FrameworkAdded(framework(&event.framework_added.as_ref()?.framework).await?)
        }
        Type::FrameworkUpdated => {
            Change::FrameworkAdded(framework(&event.framework_updated.as_ref()?.framework).await?)
        }
        Type::FrameworkRemoved => Change::FrameworkRemoved(
            event
                .framework_removed
                .as_ref()?
                .framework_info
                .id
                .as_ref()?
                .value
                .clone(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_master_ip_is_network_order() {
        let info = MasterInfo {
            ip: u32::from_le_bytes([10, 0, 0, 7]),
            port: 5050,
            ..Default::default()
        };
        let addr = master_addr(&info).unwrap();
        assert_eq!(addr.ip.to_string(), "10.0.0.7");
        assert_eq!(addr.port, 5050);
        assert_eq!(
            pid_host_port("slave(1)@10.0.0.1:5051"),
            Some(("10.0.0.1", 5051))
        );
        assert_eq!(pid_host_port("nonsense"), None);
    }

    #[test]
    fn docker_networks_and_ports() {
        let json = serde_json::json!({
            "name": "web.prod", "task_id": {"value": "prod_web.1"},
            "framework_id": {"value": "F"}, "agent_id": {"value": "M-S0"},
            "state": "TASK_RUNNING",
            "resources": [{"name": "ports", "type": "RANGES",
                           "ranges": {"range": [{"begin": 31000, "end": 31001}, {"begin": 31005, "end": 31005}]}}],
            "statuses": [
                {"task_id": {"value": "prod_web.1"}, "state": "TASK_RUNNING", "timestamp": 1.0,
                 "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "172.18.0.2"}]}]}},
                {"task_id": {"value": "prod_web.1"}, "state": "TASK_RUNNING", "timestamp": 2.0,
                 "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "172.18.0.3"}]}]}}
            ],
            "container": {"type": "DOCKER", "docker": {"image": "x", "network": "USER"}},
            "discovery": {"visibility": "FRAMEWORK", "name": "web.prod",
                          "ports": {"ports": [{"number": 31000, "protocol": "tcp", "name": "http"}]}}
        });
        let proto: v1::Task = mesos_proto::json::from_json_value(&json).unwrap();
        let t = task(&proto);
        assert_eq!(t.ports, [31000, 31001, 31005]);
        assert_eq!(t.networking, Networking::DockerUser);
        assert!(t.running);
        assert_eq!(
            t.running_status.unwrap().netinfo,
            ["172.18.0.3".parse::<IpAddr>().unwrap()],
            "the latest RUNNING status"
        );
        let d = t.discovery.unwrap();
        assert_eq!((d.name.as_str(), d.ports[0].number), ("web.prod", 31000));
        let bridge: v1::ContainerInfo = mesos_proto::json::from_json_value(
            &serde_json::json!({"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE"}}),
        )
        .unwrap();
        assert_eq!(networking(Some(&bridge)), Networking::DockerHostOrBridge);
        assert_eq!(networking(None), Networking::Plain);
    }
}
