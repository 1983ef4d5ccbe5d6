//! The master process: one actor task owns the [`Engine`]; HTTP handlers and agent streams
//! talk to it through [`Command`]s. Timers (allocation, pings, failover) are ticks of the
//! same loop, so nothing in the engine ever needs a lock.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos_proto::internal;
use mesos_proto::v1;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use crate::config::{Config, ConfigError};
use crate::engine::{CallError, Engine, SubscribeRequest};
use mesos_proto::v1::scheduler;

/// Version reported on `/version`, in MasterInfo and in the state.
pub const VERSION: &str = "1.11.0";

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot serve HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// A request for the engine. Handlers wait on the oneshot for the answer.
pub enum Command {
    Subscribe {
        req: SubscribeRequest,
        reply: oneshot::Sender<Result<String, CallError>>,
    },
    Call {
        framework_id: String,
        stream_id: String,
        call: Box<scheduler::Call>,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    FrameworkStreamClosed {
        framework_id: String,
        stream_id: String,
    },
    AgentConnected {
        conn_id: u64,
        register: Box<internal::Register>,
        tx: mpsc::Sender<internal::MasterMessage>,
        reply: oneshot::Sender<Result<String, String>>,
    },
    AgentMessage {
        agent_id: String,
        message: internal::AgentMessage,
    },
    AgentDisconnected {
        agent_id: String,
        conn_id: u64,
    },
    /// Runs a read-only function over the engine (state endpoints).
    Inspect(Box<dyn FnOnce(&Engine) + Send>),
    /// Runs a mutating function (operator endpoints such as /master/teardown).
    Mutate(Box<dyn FnOnce(&mut Engine, Duration) + Send>),
}

/// Cheap handle the edges use to reach the actor.
#[derive(Clone)]
pub struct MasterHandle {
    tx: mpsc::Sender<Command>,
    pub(crate) info: Arc<v1::MasterInfo>,
    pub(crate) max_request_body: usize,
}

impl MasterHandle {
    pub(crate) async fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).await.is_ok()
    }

    /// Runs `f` on the engine and returns its result; None if the master is stopping.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Inspect(Box::new(move |e| {
            let _ = reply.send(f(e));
        }));
        if !self.send(cmd).await {
            return None;
        }
        rx.await.ok()
    }

    pub async fn mutate<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine, Duration) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Mutate(Box::new(move |e, now| {
            let _ = reply.send(f(e, now));
        }));
        if !self.send(cmd).await {
            return None;
        }
        rx.await.ok()
    }
}

/// Builds the MasterInfo this master advertises.
pub fn master_info(config: &Config, bound: SocketAddr) -> v1::MasterInfo {
    let ip = config.advertise_ip.unwrap_or_else(|| match config.ip {
        ip if ip.is_unspecified() => {
            first_non_loopback_ip().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        }
        ip => ip,
    });
    let port = config.advertise_port.unwrap_or(bound.port());
    let hostname = config.hostname.clone().unwrap_or_else(|| {
        hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| ip.to_string())
    });
    let packed = match ip {
        // MasterInfo.ip is the IPv4 address in network byte order read as a host integer.
        IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
        IpAddr::V6(_) => 0,
    };
    let mut info = v1::MasterInfo {
        id: mesos_common::ids::new_master_id(),
        ip: packed,
        port: port as u32,
        pid: Some(format!("master@{ip}:{port}")),
        hostname: Some(hostname.clone()),
        version: Some(VERSION.to_string()),
        address: Some(v1::Address {
            hostname: Some(hostname),
            ip: Some(ip.to_string()),
            port: port as i32,
        }),
        ..Default::default()
    };
    let mut cap = v1::master_info::Capability::default();
    cap.set_type(v1::master_info::capability::Type::AgentUpdate);
    info.capabilities.push(cap);
    info
}

fn first_non_loopback_ip() -> Option<IpAddr> {
    // Resolve our own hostname; fall back to loopback when that yields nothing useful.
    let host = hostname::get().ok()?.into_string().ok()?;
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 0))
        .ok()?
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
}

/// Runs a master on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MasterError> {
    config.validate()?;
    let bound = listener.local_addr()?;
    let info = master_info(&config, bound);
    info!(master_id = %info.id, address = %bound, "master starting");
    let allocation_interval = config.allocation_interval;
    let ping_interval = config.agent_ping_timeout;
    let max_request_body = config.max_request_body.min(usize::MAX as u64) as usize;
    let engine = Engine::new(config, info.clone())?;

    let (tx, rx) = mpsc::channel(4096);
    let handle = MasterHandle {
        tx,
        info: Arc::new(info),
        max_request_body,
    };
    let actor = tokio::spawn(actor_loop(engine, rx, allocation_interval, ping_interval));

    let app = crate::http::router(handle.clone()).merge(crate::agent_link::router(handle.clone()));
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    drop(handle);
    actor.abort();
    if let Err(e) = &result {
        error!(error = %e, "HTTP server failed");
    }
    info!("master stopped");
    Ok(result?)
}

async fn actor_loop(
    mut engine: Engine,
    mut rx: mpsc::Receiver<Command>,
    allocation_interval: Duration,
    ping_interval: Duration,
) {
    let epoch = Instant::now();
    let mut allocation = tokio::time::interval(allocation_interval);
    let mut pings = tokio::time::interval(ping_interval);
    let mut housekeeping = tokio::time::interval(Duration::from_millis(100));
    for t in [&mut allocation, &mut pings, &mut housekeeping] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                handle(&mut engine, cmd, epoch.elapsed());
                // Batch whatever else is queued before allocating once.
                let mut budget = 1024;
                while budget > 0 {
                    match rx.try_recv() {
                        Ok(cmd) => handle(&mut engine, cmd, epoch.elapsed()),
                        Err(_) => break,
                    }
                    budget -= 1;
                }
                engine.allocate(epoch.elapsed(), false);
            }
            _ = allocation.tick() => engine.allocate(epoch.elapsed(), true),
            _ = pings.tick() => engine.ping_agents(epoch.elapsed()),
            _ = housekeeping.tick() => engine.tick(epoch.elapsed()),
        }
    }
}

fn handle(engine: &mut Engine, cmd: Command, now: Duration) {
    match cmd {
        Command::Subscribe { req, reply } => {
            let _ = reply.send(engine.subscribe(req, now));
        }
        Command::Call {
            framework_id,
            stream_id,
            call,
            reply,
        } => {
            engine.counters.calls += 1;
            let result = engine
                .authorize_call(&framework_id, &stream_id)
                .and_then(|()| crate::http::dispatch(engine, &framework_id, *call, now));
            let _ = reply.send(result);
        }
        Command::FrameworkStreamClosed {
            framework_id,
            stream_id,
        } => engine.framework_stream_closed(&framework_id, &stream_id, now),
        Command::AgentConnected {
            conn_id,
            register,
            tx,
            reply,
        } => {
            let _ = reply.send(engine.agent_connected(conn_id, *register, tx, now));
        }
        Command::AgentMessage { agent_id, message } => {
            engine.agent_message(&agent_id, message, now)
        }
        Command::AgentDisconnected { agent_id, conn_id } => {
            engine.agent_disconnected(&agent_id, conn_id, now)
        }
        Command::Inspect(f) => f(engine),
        Command::Mutate(f) => f(engine, now),
    }
}
