//! The record set: Mesos-DNS's names for a [`Cluster`], built in the order and by the
//! rules Mesos-DNS uses (`records/generator.go`): frameworks, agents, this server, masters,
//! then every running task on a known agent.
//!
//! Names are lowercase, end with a dot, and map to sets (an address or SRV target is
//! never listed twice under one name).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use super::cluster::{Cluster, Framework, Networking, Task};
use super::labels::LabelSpec;

/// Where a task's address comes from, in the configured order (`IPSources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum IpSource {
    /// The agent's address.
    #[serde(rename = "host")]
    Host,
    /// The Mesos containerizer's status label.
    #[serde(rename = "mesos")]
    Mesos,
    /// The Docker containerizer's status label.
    #[serde(rename = "docker")]
    Docker,
    /// `container_status.network_infos` of the latest TASK_RUNNING status.
    #[serde(rename = "netinfo")]
    Netinfo,
}

impl IpSource {
    pub fn parse(text: &str) -> Option<IpSource> {
        Some(match text {
            "host" => IpSource::Host,
            "mesos" => IpSource::Mesos,
            "docker" => IpSource::Docker,
            "netinfo" => IpSource::Netinfo,
            _ => return None,
        })
    }
}

/// What names are built from besides the cluster.
#[derive(Debug, Clone)]
pub struct Naming {
    /// Lowercase, without the trailing dot (`mesos`).
    pub domain: String,
    /// This server's own name (`SOAMname`, with its trailing dot).
    pub ns_name: String,
    /// This server's addresses, published under `ns_name`.
    pub ns_ips: Vec<IpAddr>,
    pub ip_sources: Vec<IpSource>,
    pub spec: LabelSpec,
}

/// An SRV target: host name (with trailing dot) and port.
pub type Target = (String, u16);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumerableRecord {
    pub name: String,
    pub host: String,
    pub rtype: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumerableTask {
    pub name: String,
    pub id: String,
    pub records: Vec<EnumerableRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnumerableFramework {
    pub tasks: Vec<EnumerableTask>,
    pub name: String,
}

/// `/v1/enumerate`: every framework with the records each of its tasks produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Enumeration {
    pub frameworks: Vec<EnumerableFramework>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    pub a: BTreeMap<String, BTreeSet<IpAddr>>,
    pub aaaa: BTreeMap<String, BTreeSet<IpAddr>>,
    pub srv: BTreeMap<String, BTreeSet<Target>>,
    pub enumeration: Enumeration,
}

impl Records {
    /// A or AAAA addresses of a name.
    pub fn addresses(&self, name: &str) -> impl Iterator<Item = &IpAddr> {
        self.a
            .get(name)
            .into_iter()
            .chain(self.aaaa.get(name))
            .flatten()
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.a.contains_key(name) || self.aaaa.contains_key(name) || self.srv.contains_key(name)
    }

    fn insert_ip(&mut self, name: &str, ip: IpAddr) -> Option<EnumerableRecord> {
        let (map, rtype) = match ip {
            IpAddr::V4(_) => (&mut self.a, "A"),
            IpAddr::V6(_) => (&mut self.aaaa, "AAAA"),
        };
        map.entry(name.to_string())
            .or_default()
            .insert(ip)
            .then(|| EnumerableRecord {
                name: name.to_string(),
                host: ip.to_string(),
                rtype,
            })
    }

    fn insert_srv(&mut self, name: &str, target: Target) -> Option<EnumerableRecord> {
        let host = format!("{}:{}", target.0, target.1);
        self.srv
            .entry(name.to_string())
            .or_default()
            .insert(target)
            .then(|| EnumerableRecord {
                name: name.to_string(),
                host,
                rtype: "SRV",
            })
    }
}

/// Builds every record of the cluster.
pub fn build(cluster: &Cluster, naming: &Naming) -> Records {
    let mut rs = Records::default();
    let domain = &naming.domain;
    let spec = naming.spec;

    for framework in cluster.frameworks.values() {
        let fname = spec.domain_fragment(&framework.name);
        if fname.is_empty() || framework.ips.is_empty() {
            continue;
        }
        let a = format!("{fname}.{domain}.");
        for ip in &framework.ips {
            rs.insert_ip(&a, *ip);
        }
        if let Some(port) = framework.port {
            rs.insert_srv(&format!("_framework._tcp.{a}"), (a.clone(), port));
        }
    }

    let slave = format!("slave.{domain}.");
    for agent in cluster.agents.values() {
        for ip in &agent.ips {
            rs.insert_ip(&slave, *ip);
        }
        if !agent.ips.is_empty() {
            rs.insert_srv(
                &format!("_slave._tcp.{domain}."),
                (slave.clone(), agent.port),
            );
        }
    }

    for ip in &naming.ns_ips {
        rs.insert_ip(&naming.ns_name, *ip);
    }

    master_records(&mut rs, cluster, domain);

    for framework in cluster.frameworks.values() {
        let mut enumerable = EnumerableFramework {
            tasks: Vec::new(),
            name: framework.name.clone(),
        };
        let first = (framework.id.clone(), String::new());
        for ((framework_id, _), task) in cluster.tasks.range(first..) {
            if *framework_id != framework.id {
                break;
            }
            let Some(agent) = cluster.agents.get(&task.agent_id) else {
                continue;
            };
            if task.running {
                enumerable
                    .tasks
                    .push(task_records(&mut rs, naming, framework, task, &agent.ips));
            }
        }
        rs.enumeration.frameworks.push(enumerable);
    }
    rs
}

/// `leader.<domain>`, `master.<domain>` (every master) and `master<N>.<domain>` (one per
/// master, in the configured order, the leader given the next index when unlisted).
fn master_records(rs: &mut Records, cluster: &Cluster, domain: &str) {
    let Some(leader) = &cluster.leader else {
        return;
    };
    let leader_address = host_port(leader.ip, leader.port);
    let leader_name = format!("leader.{domain}.");
    let all = format!("master.{domain}.");
    rs.insert_ip(&leader_name, leader.ip);
    rs.insert_ip(&all, leader.ip);
    for proto in ["tcp", "udp"] {
        rs.insert_srv(
            &format!("_leader._{proto}.{domain}."),
            (leader_name.clone(), leader.port),
        );
    }
    let mut leader_indexed = false;
    let mut index = 0;
    for master in &cluster.masters {
        let Some(ip) = master_ip(master) else {
            continue;
        };
        let is_leader = *master == leader_address;
        if !is_leader && rs.insert_ip(&all, ip).is_none() {
            continue; // the same master listed twice
        }
        if is_leader && leader_indexed {
            continue;
        }
        rs.insert_ip(&format!("master{index}.{domain}."), ip);
        index += 1;
        leader_indexed |= is_leader;
    }
    if !leader_indexed {
        rs.insert_ip(&format!("master{index}.{domain}."), leader.ip);
    }
}

fn master_ip(master: &str) -> Option<IpAddr> {
    let (host, _) = master.rsplit_once(':')?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(ip) => format!("{ip}:{port}"),
        IpAddr::V6(ip) => format!("[{ip}]:{port}"),
    }
}

/// The records of one running task (and its enumeration entry).
fn task_records(
    rs: &mut Records,
    naming: &Naming,
    framework: &Framework,
    task: &Task,
    agent_ips: &[IpAddr],
) -> EnumerableTask {
    let mut out = EnumerableTask {
        name: task.name.clone(),
        id: task.id.clone(),
        records: Vec::new(),
    };
    let ctx = TaskContext {
        fname: naming.spec.domain_fragment(&framework.name),
        task_id: hash_string(&task.id),
        agent_id: agent_id_tail(&task.agent_id),
        task_ips: task_ips(task, &naming.ip_sources, agent_ips),
        agent_ips,
    };
    match &task.discovery {
        Some(discovery) => {
            // Mesos-DNS publishes the discovery name as given (its legacy form) and as a
            // label; the given form is only reachable when it is a valid lowercase name.
            if is_plain_name(&discovery.name) {
                ctx.records(rs, naming, task, &discovery.name, &mut out);
            }
            let label = naming.spec.label(&discovery.name);
            ctx.records(rs, naming, task, &label, &mut out);
        }
        None => ctx.records(rs, naming, task, &naming.spec.label(&task.name), &mut out),
    }
    out
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

struct TaskContext<'a> {
    fname: String,
    task_id: String,
    agent_id: String,
    task_ips: Vec<IpAddr>,
    agent_ips: &'a [IpAddr],
}

impl TaskContext<'_> {
    fn records(
        &self,
        rs: &mut Records,
        naming: &Naming,
        task: &Task,
        task_name: &str,
        out: &mut EnumerableTask,
    ) {
        if task_name.is_empty() || self.fname.is_empty() {
            return;
        }
        let fname = &self.fname;
        let tail = format!(".{}.", naming.domain);
        let canonical = format!("{task_name}-{}-{}.{fname}", self.task_id, self.agent_id);
        let arec = format!("{task_name}.{fname}");
        let mut keep = |record: Option<EnumerableRecord>| out.records.extend(record);

        for ip in &self.task_ips {
            keep(rs.insert_ip(&format!("{arec}{tail}"), *ip));
            keep(rs.insert_ip(&format!("{canonical}{tail}"), *ip));
        }
        for ip in self.agent_ips {
            keep(rs.insert_ip(&format!("{arec}.slave{tail}"), *ip));
            keep(rs.insert_ip(&format!("{canonical}.slave{tail}"), *ip));
        }

        // Host ports: under `.slave` always, and under the framework too without
        // discovery info, for TCP and UDP alike.
        let agent_host = format!("{canonical}.slave{tail}");
        let mut subdomains = vec![".slave"];
        if task.discovery.is_none() {
            subdomains.push("");
        }
        for port in &task.ports {
            for proto in ["tcp", "udp"] {
                for sub in &subdomains {
                    let name = format!("_{task_name}._{proto}.{fname}{sub}{tail}");
                    keep(rs.insert_srv(&name, (agent_host.clone(), *port)));
                }
            }
        }

        // Discovery ports: under the framework, by protocol (both when unset), and also
        // prefixed by the port's name when it has one.
        let Some(discovery) = &task.discovery else {
            return;
        };
        let host = format!("{canonical}{tail}");
        for port in &discovery.ports {
            let protocol = naming.spec.label(&port.protocol);
            let protocols: Vec<&str> = if protocol.is_empty() {
                vec!["tcp", "udp"]
            } else {
                vec![protocol.as_str()]
            };
            let port_name = naming.spec.label(&port.name);
            for proto in protocols {
                let name = format!("_{task_name}._{proto}.{fname}{tail}");
                keep(rs.insert_srv(&name, (host.clone(), port.number)));
                if !port_name.is_empty() {
                    let named = format!("_{port_name}.{name}");
                    keep(rs.insert_srv(&named, (host.clone(), port.number)));
                }
            }
        }
    }
}

/// The task's addresses from the first source that has any.
fn task_ips(task: &Task, sources: &[IpSource], agent_ips: &[IpAddr]) -> Vec<IpAddr> {
    let status = task.running_status.as_ref();
    for source in sources {
        let ips: Vec<IpAddr> = match source {
            IpSource::Host => agent_ips.to_vec(),
            IpSource::Netinfo if task.networking == Networking::DockerHostOrBridge => Vec::new(),
            IpSource::Netinfo => status.map(|s| s.netinfo.clone()).unwrap_or_default(),
            IpSource::Mesos => status.map(|s| s.mesos.clone()).unwrap_or_default(),
            IpSource::Docker => status.map(|s| s.docker.clone()).unwrap_or_default(),
        };
        if !ips.is_empty() {
            return ips;
        }
    }
    Vec::new()
}

/// Five z-base-32 characters of the task id's SHA-1: short, readable, and distinct
/// enough to tell the instances of one name apart.
pub fn hash_string(text: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";
    let digest = sha1_smol::Sha1::from(text).digest().bytes();
    let bits = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (0..5)
        .map(|i| ALPHABET[((bits >> (27 - 5 * i)) & 0x1f) as usize] as char)
        .collect()
}

/// `S3` of `<master id>-S3`, lowercased.
fn agent_id_tail(agent_id: &str) -> String {
    agent_id
        .rsplit('-')
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

#[cfg(test)]
mod tests;
