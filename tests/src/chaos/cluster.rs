//! The chaos cluster: three ZooKeeper servers (small heaps), three masters, three Docker
//! agents (each behind its own Docker socket proxy, each with its own `--hostname` so
//! UNIQUE means something on one machine) and two Marathons. Every process can be
//! killed, paused and restarted by role, and every exit the harness did not cause is
//! found by [`ChaosCluster::unexpected_exits`].
//!
//! ```text
//!   ZooKeeper 1 2 3 ◄── mesos-master × 3 ◄── mesos-agent × 3 ──► DaemonProxy ──► dockerd
//!          ▲                  ▲                 (--hostname 127.0.0.2..4)
//!          └────────────── marathon × 2
//! ```

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::docker::{self, DaemonProxy, AGENT_LABEL};
use crate::marathon::Marathon;
use crate::process::Proc;
use crate::zookeeper::{HaCluster, HaOptions};

use super::schedule::{Role, AGENTS};

/// The masters' and Marathons' ZooKeeper session timeout.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
/// The masters' agent ping timeout times the pings they may miss: an agent silent this
/// long is unreachable.
pub const AGENT_PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Marathon reconciles every 10 s rather than every 10 min: tasks an unreachable agent
/// brings back are not announced by the master (as in Mesos); Marathon learns of them,
/// and kills the ones it replaced, by reconciling.
const MARATHON_FLAGS: &[&str] = &["--reconciliation_interval", "10000"];

/// A process of the cluster, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcId {
    Master(usize),
    Agent(usize),
    Marathon(usize),
}

impl std::fmt::Display for ProcId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcId::Master(i) => write!(f, "master{i}"),
            ProcId::Agent(i) => write!(f, "agent{i}"),
            ProcId::Marathon(i) => write!(f, "marathon{i}"),
        }
    }
}

pub struct ChaosCluster {
    pub ha: HaCluster,
    pub marathons: Vec<Marathon>,
    pub proxies: Vec<DaemonProxy>,
    /// Processes the harness took down and has not started again.
    down: BTreeSet<ProcId>,
    /// ZooKeeper servers (1-based) the harness took down.
    zk_down: BTreeSet<usize>,
    /// Every agent id the cluster's agents registered with (for container cleanup).
    pub agent_ids: BTreeSet<String>,
}

/// `--hostname` of agent `i`: loopback addresses other than 127.0.0.1 reach this machine
/// too, so Marathon's health checks reach the tasks while each agent is a host of its own.
pub fn agent_hostname(i: usize) -> String {
    format!("127.0.0.{}", i + 2)
}

/// Agent `i`'s port range: distinct per agent (they share one network stack) and away
/// from the ranges other tests give their agents.
pub fn agent_ports(i: usize) -> String {
    let first = 31500 + 50 * i;
    format!("[{first}-{}]", first + 49)
}

impl ChaosCluster {
    pub async fn start() -> ChaosCluster {
        docker::ensure_image();
        let mut ha = HaCluster::start(HaOptions {
            zookeepers: 3,
            masters: 3,
            agents: 0,
            proxied_masters: Vec::new(),
            session_timeout: SESSION_TIMEOUT,
            zk_env: vec![
                ("ZK_HEAP".to_string(), "64m".to_string()),
                ("ZK_TICK_MS".to_string(), "250".to_string()),
            ],
        })
        .await;
        let mut proxies = Vec::new();
        for i in 0..AGENTS {
            let socket = ha.root().join(format!("docker{i}.sock"));
            let proxy = DaemonProxy::start(socket, "/var/run/docker.sock");
            let flags = vec![
                "--containerizers=docker,mesos".to_string(),
                format!("--docker_socket={}", proxy.path.display()),
                format!("--hostname={}", agent_hostname(i)),
            ];
            let resources = format!("cpus:2;mem:1024;disk:1024;ports:{}", agent_ports(i));
            ha.add_agent_with(&resources, &flags).await;
            proxies.push(proxy);
        }
        ha.wait_for_agents(AGENTS).await;
        let session_ms = SESSION_TIMEOUT.as_millis() as u64;
        let mut marathons = Vec::new();
        for _ in 0..2 {
            marathons.push(Marathon::start_ha_with(&ha, session_ms, MARATHON_FLAGS).await);
        }
        ChaosCluster {
            ha,
            marathons,
            proxies,
            down: BTreeSet::new(),
            zk_down: BTreeSet::new(),
            agent_ids: BTreeSet::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.ha.root()
    }

    pub fn master_ports(&self) -> Vec<u16> {
        self.ha.masters.iter().map(|m| m.port).collect()
    }

    pub fn marathon_ports(&self) -> Vec<u16> {
        self.marathons.iter().map(|m| m.port).collect()
    }

    pub fn proc_mut(&mut self, id: ProcId) -> &mut Proc {
        match id {
            ProcId::Master(i) => &mut self.ha.masters[i].proc,
            ProcId::Agent(i) => &mut self.ha.agents[i].proc,
            ProcId::Marathon(i) => &mut self.marathons[i].proc,
        }
    }

    fn all_procs(&self) -> Vec<ProcId> {
        let masters = (0..self.ha.masters.len()).map(ProcId::Master);
        let agents = (0..self.ha.agents.len()).map(ProcId::Agent);
        let marathons = (0..self.marathons.len()).map(ProcId::Marathon);
        masters.chain(agents).chain(marathons).collect()
    }

    /// The leading master's index, asking each master once; None while none leads.
    pub async fn leading_master(&self) -> Option<usize> {
        self.ha.leaders().await.first().copied()
    }

    /// The leading Marathon's index, as the Marathons that answer name it.
    pub async fn leading_marathon(&self) -> Option<usize> {
        for m in &self.marathons {
            let r = crate::http::client()
                .get(m.url("/v2/leader"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            let Ok(r) = r else { continue };
            let Ok(body) = r.json::<serde_json::Value>().await else {
                continue;
            };
            if let Some(leader) = body["leader"].as_str() {
                return self
                    .marathons
                    .iter()
                    .position(|m| leader == format!("127.0.0.1:{}", m.port));
            }
        }
        None
    }

    /// The master or Marathon that has `role` now (the first standby for a standby).
    pub async fn resolve(&self, marathon: bool, role: Role) -> Option<ProcId> {
        let (leader, count) = match marathon {
            true => (self.leading_marathon().await?, self.marathons.len()),
            false => (self.leading_master().await?, self.ha.masters.len()),
        };
        let index = match role {
            Role::Leader => leader,
            Role::Standby => (leader + 1) % count,
        };
        Some(match marathon {
            true => ProcId::Marathon(index),
            false => ProcId::Master(index),
        })
    }

    pub fn kill9(&mut self, id: ProcId) {
        self.down.insert(id);
        self.proc_mut(id).kill9();
    }

    /// Starts a process the harness killed (same flags, ports, work dir).
    pub fn restart(&mut self, id: ProcId) {
        self.proc_mut(id).restart();
        self.down.remove(&id);
    }

    /// Stops an agent with SIGTERM and waits for it to exit.
    pub async fn terminate(&mut self, id: ProcId) {
        self.down.insert(id);
        let proc = self.proc_mut(id);
        if let Some(pid) = proc.pid() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        if proc.wait_exit(Duration::from_secs(15)).await.is_none() {
            proc.kill9();
        }
    }

    pub fn signal(&mut self, id: ProcId, signal: Signal) {
        if let Some(pid) = self.proc_mut(id).pid() {
            let _ = kill(Pid::from_raw(pid as i32), signal);
        }
    }

    pub async fn zk_stop(&mut self, server: usize) {
        self.zk_down.insert(server);
        self.ha.zk.stop(server).await;
    }

    pub async fn zk_start(&mut self, server: usize) {
        self.ha.zk.restart(server).await;
        self.zk_down.remove(&server);
    }

    /// Processes that exited without the harness taking them down, with their log
    /// tails; each is started again so the run goes on.
    pub fn unexpected_exits(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for id in self.all_procs() {
            if self.down.contains(&id) {
                continue;
            }
            let proc = self.proc_mut(id);
            if let Some(status) = proc.try_exit() {
                out.push((
                    format!("{id} exited on its own: {status}"),
                    proc.log_tail(30),
                ));
                proc.restart();
            }
        }
        for server in 1..=self.ha.zk.client_ports.len() {
            if !self.zk_down.contains(&server) && !self.ha.zk.is_running(server) {
                out.push((
                    format!("ZooKeeper server {server} exited on its own"),
                    self.ha.zk.log_tail(30),
                ));
                self.zk_down.insert(server);
            }
        }
        out
    }
}

impl Drop for ChaosCluster {
    fn drop(&mut self) {
        // Nothing may relaunch what is removed below; containers outlive their agents.
        for m in &mut self.marathons {
            m.proc.kill9();
        }
        for a in &mut self.ha.agents {
            a.proc.kill9();
        }
        for id in &self.agent_ids {
            let names = docker::containers_labelled(AGENT_LABEL, id);
            if !names.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(names.iter().map(String::as_str));
                docker::docker(&args);
            }
        }
    }
}
