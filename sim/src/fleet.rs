//! Many simulated agents in one process.
//!
//! Each agent is a task with its own gRPC stream, exactly as a real agent. Streams are
//! carried by HTTP/2 connections, `agents_per_connection` per connection: 1 gives every
//! agent its own TCP connection; more share a connection between several agents' streams
//! (the master allows 200 streams per connection), which is how 50,000 agents fit in a
//! process whose open-file limit is far lower. Connections are spread over source
//! addresses `127.0.0.2..` so they never run out of ephemeral ports.
//!
//! The fleet talks to a fixed master, or follows the election in ZooKeeper
//! ([`Master::Election`]): one [`LeaderDetector`] (one ZooKeeper session) serves the whole
//! fleet, and each group of agents sharing a connection opens a new one to each newly
//! elected master, on which its agents re-register.
//!
//! ```text
//!   ZooKeeper ── LeaderDetector ──watch──▶ LeaderConnection × (agents / sharing)
//!                                                 │ one HTTP/2 connection per leader
//!                                                 ▼
//!                       SimAgent × sharing ══ gRPC streams ══▶ leading mesos-master
//! ```
//!
//! The agents run on a runtime of their own (threads named `sim-agent`), so that a burst
//! of agent work cannot starve the frameworks sharing the process, and so that their CPU
//! time can be told apart ([`Fleet::cpu_time`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mesos_common::resources::Resources;
use mesos_common::zk::{self, Detected, LeaderDetector, ZkUrl};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

use crate::agent::{AgentSettings, FleetStats, SimAgent};

/// Streams the master accepts on one HTTP/2 connection.
pub const MAX_AGENTS_PER_CONNECTION: usize = 200;
/// Name of the agents' threads.
const AGENT_THREAD: &str = "sim-agent";
/// Source addresses connections are spread over.
const SOURCE_ADDRESSES: usize = 64;
/// ZooKeeper session timeout of the fleet's leader detector.
const DETECTOR_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the agents register.
#[derive(Debug, Clone)]
pub enum Master {
    /// The HTTP address of one master (`AgentService` is served there).
    Fixed(SocketAddr),
    /// Whichever master leads the election under a `zk://` URL.
    Election(ZkUrl),
}

impl From<SocketAddr> for Master {
    fn from(addr: SocketAddr) -> Master {
        Master::Fixed(addr)
    }
}

impl std::fmt::Display for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Master::Fixed(addr) => write!(f, "{addr}"),
            Master::Election(url) => write!(f, "{url}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub master: Master,
    pub agents: usize,
    /// Index of the first agent, so that two fleets of one run have distinct names.
    pub first_index: u64,
    pub agents_per_connection: usize,
    /// Mesos resource text for every agent, e.g. `cpus:24;mem:4096`.
    pub resources: String,
    pub seed: u64,
    pub retry_interval: Duration,
    pub default_task_duration: Option<Duration>,
    pub send_starting: bool,
    /// Base of an agent's randomized backoff after a failed or lost stream.
    pub backoff: Duration,
    /// Connections opened at the same time.
    pub connect_concurrency: usize,
    /// Agents waiting for their registration at the same time.
    pub register_concurrency: usize,
    /// Threads of the agents' runtime.
    pub threads: usize,
}

impl FleetConfig {
    pub fn new(master: impl Into<Master>, agents: usize, resources: &str) -> Self {
        FleetConfig {
            master: master.into(),
            agents,
            first_index: 0,
            agents_per_connection: 1,
            resources: resources.to_string(),
            seed: 1,
            retry_interval: Duration::from_secs(10),
            default_task_duration: None,
            send_starting: true,
            backoff: Duration::from_millis(100),
            connect_concurrency: 32,
            register_concurrency: 256,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }

    /// The smallest sharing that keeps the fleet's connections under `max_connections`.
    pub fn auto_agents_per_connection(agents: usize, max_connections: usize) -> usize {
        agents
            .div_ceil(max_connections.max(1))
            .clamp(1, MAX_AGENTS_PER_CONNECTION)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("invalid agent resources '{0}': {1}")]
    Resources(String, String),
    #[error("agents per connection must be 1..={MAX_AGENTS_PER_CONNECTION}, not {0}")]
    Sharing(usize),
    #[error("cannot start the agents' runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("cannot connect to the master at {0}: {1}")]
    Connect(String, String),
    #[error("{registered} of {wanted} agents registered within {waited:?}")]
    RegistrationTimeout {
        registered: i64,
        wanted: usize,
        waited: Duration,
    },
}

/// A running fleet. Dropping it without [`Fleet::stop`] leaves the agents running until
/// the runtime ends.
pub struct Fleet {
    pub stats: Arc<FleetStats>,
    pub connections: usize,
    agents: usize,
    /// Set when following an election.
    detector: Option<LeaderDetector>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Always `Some` until dropped: a runtime must be shut down, not dropped, from async code.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Fleet {
    /// Opens the connections and starts every agent; registration continues in the
    /// background (see [`Fleet::wait_registered`]).
    pub async fn start(config: FleetConfig) -> Result<Fleet, FleetError> {
        let sharing = config.agents_per_connection;
        if !(1..=MAX_AGENTS_PER_CONNECTION).contains(&sharing) {
            return Err(FleetError::Sharing(sharing));
        }
        let resources = Resources::parse(&config.resources)
            .map_err(|e| FleetError::Resources(config.resources.clone(), e.to_string()))?;
        let settings = Arc::new(AgentSettings {
            seed: config.seed,
            resources: mesos_common::wire::resources_to_proto(&resources, None),
            retry_interval: config.retry_interval,
            default_task_duration: config.default_task_duration,
            send_starting: config.send_starting,
            backoff: config.backoff,
        });
        let stats = Arc::new(FleetStats::new(config.agents));
        let connections = config.agents.div_ceil(sharing);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name(AGENT_THREAD)
            .enable_all()
            .build()?;
        let (routes, detector) = match &config.master {
            Master::Fixed(master) => {
                let master = *master;
                // Connections belong to the runtime that opens them: open them on the
                // agents' one.
                let concurrency = config.connect_concurrency.max(1);
                let opened = runtime.spawn(async move {
                    futures::stream::iter(0..connections)
                        .map(|i| connect(master, i))
                        .buffered(concurrency)
                        .collect::<Vec<_>>()
                        .await
                });
                let channels: Vec<Channel> = match opened.await {
                    Ok(results) => results.into_iter().collect::<Result<_, _>>(),
                    Err(e) => Err(FleetError::Connect(master.to_string(), e.to_string())),
                }?;
                (channels.into_iter().map(Route::Fixed).collect(), None)
            }
            Master::Election(url) => {
                let detector = {
                    let _inside = runtime.enter();
                    LeaderDetector::start(url.clone(), DETECTOR_SESSION_TIMEOUT)
                };
                let routes: Vec<Route> = (0..connections)
                    .map(|i| {
                        Route::Leader(Arc::new(LeaderConnection {
                            detected: detector.subscribe(),
                            source: source_address(i),
                            current: std::sync::Mutex::new(None),
                        }))
                    })
                    .collect();
                (routes, Some(detector))
            }
        };

        let (stop, stop_rx) = watch::channel(false);
        let gate = Arc::new(Semaphore::new(config.register_concurrency.max(1)));
        let tasks = (0..config.agents)
            .map(|i| {
                let agent = SimAgent::new(
                    config.first_index + i as u64,
                    i,
                    settings.clone(),
                    stats.clone(),
                );
                let route = routes[i / sharing].clone();
                runtime.spawn(agent.run(route, gate.clone(), stop_rx.clone()))
            })
            .collect();
        Ok(Fleet {
            stats,
            connections,
            agents: config.agents,
            detector,
            stop,
            tasks,
            runtime: Some(runtime),
        })
    }

    /// The leader as the fleet's detector sees it (None for a fleet with a fixed master).
    pub fn detected(&self) -> Option<watch::Receiver<Detected>> {
        self.detector.as_ref().map(LeaderDetector::subscribe)
    }

    /// CPU time used so far by the agents' threads.
    pub fn cpu_time() -> Duration {
        crate::process::thread_cpu_time(std::process::id(), AGENT_THREAD)
    }

    pub fn registered(&self) -> i64 {
        self.stats.registered.load(Ordering::Relaxed)
    }

    /// Waits until every agent is registered; returns how long that took.
    pub async fn wait_registered(&self, timeout: Duration) -> Result<Duration, FleetError> {
        let started = Instant::now();
        while self.registered() < self.agents as i64 {
            if started.elapsed() > timeout {
                return Err(FleetError::RegistrationTimeout {
                    registered: self.registered(),
                    wanted: self.agents,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(started.elapsed())
    }

    /// Closes every stream and waits for the agents to end.
    pub async fn stop(mut self) {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

/// The loopback source address of connection `index`.
fn source_address(index: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        2 + (index % SOURCE_ADDRESSES) as u8,
    ))
}

fn endpoint(host: &str, port: u16, source: IpAddr) -> Result<Endpoint, String> {
    let loopback = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let endpoint = Endpoint::from_shared(format!("http://{host}:{port}"))
        .map_err(|e| e.to_string())?
        .local_address(loopback.then_some(source))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    Ok(endpoint)
}

/// Where an agent opens its streams.
#[derive(Clone)]
pub(crate) enum Route {
    /// A connection to a fixed master, opened up front.
    Fixed(Channel),
    /// The connection of the agent's group to whichever master leads.
    Leader(Arc<LeaderConnection>),
}

/// A channel to open a stream on, and the id of the master it leads to (None for a
/// fixed master).
pub(crate) struct RouteTarget {
    pub(crate) channel: Channel,
    pub(crate) leader: Option<String>,
}

/// One group's connection to the leading master, replaced when another is elected.
pub(crate) struct LeaderConnection {
    detected: watch::Receiver<Detected>,
    source: IpAddr,
    /// The master the channel leads to, by id.
    current: std::sync::Mutex<Option<(String, Channel)>>,
}

impl LeaderConnection {
    /// The group's channel to `leader`, opened now unless it is open already.
    fn channel_to(&self, leader: &mesos_proto::v1::MasterInfo) -> Result<Channel, String> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, channel)) = current.as_ref().filter(|(id, _)| *id == leader.id) {
            return Ok(channel.clone());
        }
        let (host, port) = zk::master_host_port(leader);
        // Lazy: the first stream opens the connection and the others of the group wait
        // for it; a failed connection is opened again by the next stream.
        let channel = endpoint(&host, port, self.source)?.connect_lazy();
        *current = Some((leader.id.clone(), channel.clone()));
        Ok(channel)
    }
}

impl Route {
    /// Waits for a leader when there is none, then returns the channel to it.
    pub(crate) async fn target(&self) -> RouteTarget {
        let group = match self {
            Route::Fixed(channel) => {
                return RouteTarget {
                    channel: channel.clone(),
                    leader: None,
                }
            }
            Route::Leader(group) => group,
        };
        loop {
            let mut detected = group.detected.clone();
            let found = detected
                .wait_for(|d| d.leader().is_some())
                .await
                .ok()
                .and_then(|d| d.leader().cloned());
            // None: the detector is gone, the fleet is stopping.
            let Some(leader) = found else {
                return std::future::pending().await;
            };
            match group.channel_to(&leader) {
                Ok(channel) => {
                    return RouteTarget {
                        channel,
                        leader: Some(leader.id),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the elected master's address is unusable");
                    let _ = detected.changed().await;
                }
            }
        }
    }

    /// Resolves once a master other than `leader` is elected; never for a fixed master.
    pub(crate) async fn leader_changed(&self, leader: Option<&str>) {
        let Route::Leader(group) = self else {
            return std::future::pending().await;
        };
        let mut detected = group.detected.clone();
        let changed = detected
            .wait_for(|d| d.leader().is_some_and(|l| Some(l.id.as_str()) != leader))
            .await
            .is_ok();
        if !changed {
            std::future::pending::<()>().await;
        }
    }
}

async fn connect(master: SocketAddr, index: usize) -> Result<Channel, FleetError> {
    let endpoint = endpoint(
        &master.ip().to_string(),
        master.port(),
        source_address(index),
    )
    .map_err(|e| FleetError::Connect(master.to_string(), e))?;
    let mut last = String::new();
    for attempt in 0..5u32 {
        let connected = match mesos_common::tls::process() {
            Ok(Some(tls)) => {
                let connector = mesos_common::tls::Connector::new(tls.client_h2());
                endpoint.connect_with_connector(connector).await
            }
            _ => endpoint.connect().await,
        };
        match connected {
            Ok(channel) => return Ok(channel),
            Err(e) => last = error_chain(&e),
        }
        tokio::time::sleep(Duration::from_millis(200) * (attempt + 1)).await;
    }
    Err(FleetError::Connect(master.to_string(), last))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
