//! What DNS needs to know of the cluster: the leading master, the agents, the frameworks
//! and their tasks, kept current by [`Change`]s (the operator event stream, converted at
//! the edge). Plain data: no I/O, no clock.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A master's address as the records name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterAddr {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    /// From the agent's pid (`slave(1)@ip:port`), else its hostname resolved at the edge.
    pub ips: Vec<IpAddr>,
    /// The agent's hostname, used in place of an address when none is known.
    pub hostname: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Framework {
    pub id: String,
    pub name: String,
    /// The scheduler's host addresses (FrameworkInfo.hostname, resolved at the edge).
    pub ips: Vec<IpAddr>,
    /// The scheduler's port, known only for libprocess-based frameworks (a pid).
    pub port: Option<u16>,
}

/// How a task is reached from outside its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Networking {
    /// Command tasks and Mesos containers: container addresses, when reported, are usable.
    #[default]
    Plain,
    /// A Docker container on the host's or the bridge network: the address Docker reports
    /// is the private bridge address, unreachable from other hosts, so only the agent's
    /// address is published.
    DockerHostOrBridge,
    /// A Docker container on a USER network: its address there is the one to publish.
    DockerUser,
}

/// Addresses a TASK_RUNNING status carried, by source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunningStatus {
    pub timestamp: f64,
    /// `container_status.network_infos[].ip_addresses[]` (source `netinfo`).
    pub netinfo: Vec<IpAddr>,
    /// Label `MesosContainerizer.NetworkSettings.IPAddress` (source `mesos`).
    pub mesos: Vec<IpAddr>,
    /// Label `Docker.NetworkSettings.IPAddress` (source `docker`).
    pub docker: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryPort {
    pub number: u16,
    pub protocol: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub name: String,
    pub ports: Vec<DiscoveryPort>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub name: String,
    pub framework_id: String,
    pub agent_id: String,
    pub running: bool,
    /// The latest TASK_RUNNING status by timestamp.
    pub running_status: Option<RunningStatus>,
    /// Host ports from the task's `ports` resources, in order.
    pub ports: Vec<u16>,
    /// Only when it has a name: Mesos-DNS ignores nameless discovery info.
    pub discovery: Option<Discovery>,
    pub networking: Networking,
}

/// A status update of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskUpdate {
    pub framework_id: String,
    pub task_id: String,
    pub running: bool,
    /// The task ended (finished, failed, killed, lost, ...): it is forgotten.
    pub terminal: bool,
    /// Set when the update is a TASK_RUNNING status.
    pub running_status: Option<RunningStatus>,
}

/// Everything that changes the records.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A fresh view of the whole cluster (a new subscription): replaces everything but
    /// the masters.
    Snapshot {
        agents: Vec<Agent>,
        frameworks: Vec<Framework>,
        tasks: Vec<Task>,
    },
    /// The leading master and the masters known besides it (`host:port`, in the order
    /// the configuration lists them).
    Masters {
        leader: Option<MasterAddr>,
        masters: Vec<String>,
    },
    TaskAdded(Task),
    TaskUpdated(TaskUpdate),
    AgentAdded(Agent),
    AgentRemoved(String),
    /// Added or updated.
    FrameworkAdded(Framework),
    FrameworkRemoved(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cluster {
    pub leader: Option<MasterAddr>,
    pub masters: Vec<String>,
    pub agents: BTreeMap<String, Agent>,
    pub frameworks: BTreeMap<String, Framework>,
    /// By (framework id, task id).
    pub tasks: BTreeMap<(String, String), Task>,
}

impl Cluster {
    /// Applies one change; returns whether the records may differ afterwards.
    pub fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::Snapshot {
                agents,
                frameworks,
                tasks,
            } => {
                self.agents = agents.into_iter().map(|a| (a.id.clone(), a)).collect();
                self.frameworks = frameworks.into_iter().map(|f| (f.id.clone(), f)).collect();
                self.tasks = tasks
                    .into_iter()
                    .map(|t| ((t.framework_id.clone(), t.id.clone()), t))
                    .collect();
                true
            }
            Change::Masters { leader, masters } => {
                let changed = self.leader != leader || self.masters != masters;
                self.leader = leader;
                self.masters = masters;
                changed
            }
            Change::TaskAdded(task) => {
                let key = (task.framework_id.clone(), task.id.clone());
                self.tasks.insert(key, task);
                true
            }
            Change::TaskUpdated(update) => {
                let key = (update.framework_id, update.task_id);
                let Some(task) = self.tasks.get_mut(&key) else {
                    return false;
                };
                let was_running = task.running;
                if update.terminal {
                    self.tasks.remove(&key);
                    return was_running;
                }
                task.running = update.running;
                if let Some(status) = update.running_status {
                    let newer = task
                        .running_status
                        .as_ref()
                        .is_none_or(|s| status.timestamp >= s.timestamp);
                    if newer {
                        task.running_status = Some(status);
                        return true;
                    }
                }
                was_running != update.running
            }
            Change::AgentAdded(agent) => {
                self.agents.insert(agent.id.clone(), agent);
                true
            }
            Change::AgentRemoved(id) => self.agents.remove(&id).is_some(),
            Change::FrameworkAdded(framework) => {
                self.frameworks.insert(framework.id.clone(), framework);
                true
            }
            Change::FrameworkRemoved(id) => {
                self.tasks
                    .retain(|(framework_id, _), _| *framework_id != id);
                self.frameworks.remove(&id).is_some()
            }
        }
    }
}
