//! Many simulated agents in one process.
//!
//! Each agent is a task with its own gRPC stream, exactly as a real agent. Streams are
//! carried by HTTP/2 connections, `agents_per_connection` per connection: 1 gives every
//! agent its own TCP connection; more share a connection between several agents' streams
//! (the master allows 200 streams per connection), which is how 50,000 agents fit in a
//! process whose open-file limit is far lower. Connections are spread over source
//! addresses `127.0.0.2..` so they never run out of ephemeral ports.
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

#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The master's HTTP address (`AgentService` is served there).
    pub master: SocketAddr,
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
    /// Connections opened at the same time.
    pub connect_concurrency: usize,
    /// Agents waiting for their registration at the same time.
    pub register_concurrency: usize,
    /// Threads of the agents' runtime.
    pub threads: usize,
}

impl FleetConfig {
    pub fn new(master: SocketAddr, agents: usize, resources: &str) -> Self {
        FleetConfig {
            master,
            agents,
            first_index: 0,
            agents_per_connection: 1,
            resources: resources.to_string(),
            seed: 1,
            retry_interval: Duration::from_secs(10),
            default_task_duration: None,
            send_starting: true,
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
    Connect(SocketAddr, String),
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
        });
        let stats = Arc::new(FleetStats::default());
        let connections = config.agents.div_ceil(sharing);
        let master = config.master;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name(AGENT_THREAD)
            .enable_all()
            .build()?;
        // Connections belong to the runtime that opens them: open them on the agents' one.
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
            Err(e) => Err(FleetError::Connect(master, e.to_string())),
        }?;

        let (stop, stop_rx) = watch::channel(false);
        let gate = Arc::new(Semaphore::new(config.register_concurrency.max(1)));
        let tasks = (0..config.agents)
            .map(|i| {
                let agent = SimAgent::new(
                    config.first_index + i as u64,
                    settings.clone(),
                    stats.clone(),
                );
                let channel = channels[i / sharing].clone();
                runtime.spawn(agent.run(channel, gate.clone(), stop_rx.clone()))
            })
            .collect();
        Ok(Fleet {
            stats,
            connections,
            agents: config.agents,
            stop,
            tasks,
            runtime: Some(runtime),
        })
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

async fn connect(master: SocketAddr, index: usize) -> Result<Channel, FleetError> {
    let source = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        2 + (index % SOURCE_ADDRESSES) as u8,
    ));
    let local = if master.ip().is_loopback() {
        Some(source)
    } else {
        None
    };
    let endpoint = Endpoint::from_shared(format!("http://{master}"))
        .map_err(|e| FleetError::Connect(master, e.to_string()))?
        .local_address(local)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    let mut last = String::new();
    for attempt in 0..5u32 {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) => last = error_chain(&e),
        }
        tokio::time::sleep(Duration::from_millis(200) * (attempt + 1)).await;
    }
    Err(FleetError::Connect(master, last))
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
