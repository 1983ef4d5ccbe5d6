//! The master process: one actor task owns the [`Engine`]; HTTP handlers and agent streams
//! talk to it through `Command`s. Timers (allocation, pings, failover) are ticks of the
//! same loop, so nothing in the engine ever needs a lock.
//!
//! With `--zk` the actor serves only while this master leads (`Leadership`, kept by the
//! election task): a newly elected master first recovers the registry (frameworks,
//! unreachable agents, weights, the agents to expect back), and a master that stops
//! leading drops its whole engine and waits for a new term as an empty standby. While the
//! expected agents come back (`--agent_reregister_timeout`), nobody is told a task on them
//! is lost: reconciliation of unknown tasks on such agents is held, as in Mesos.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos_common::zk::ZkUrl;
use mesos_proto::v1;
use mesos_proto::v1::scheduler::{self, call, event};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError};
use crate::election::{Election, ElectionSetup, Snapshot};
use crate::engine::Engine;
use crate::handle::{Command, Leadership, MasterHandle};
use crate::registry::{ExpectedAgents, Registry, RegistryTracker};
use crate::VERSION;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] mesos_common::tls::TlsError),
    #[error("cannot serve HTTP: {0}")]
    Io(#[from] std::io::Error),
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
    let security = crate::security::Security::load(&config)?;
    let zk = match config.zk.as_deref() {
        Some(url) => Some(ZkUrl::parse(url).map_err(|e| ConfigError {
            flag: "zk",
            reason: e.to_string(),
        })?),
        None => None,
    };
    if config.quorum == Some(0) {
        return Err(ConfigError {
            flag: "quorum",
            reason: "must be at least 1".into(),
        }
        .into());
    }
    let edge = mesos_common::serve::Edge::from_env()?;
    let bound = listener.local_addr()?;
    let exposure = config.exposure_warning(bound.port());
    if let Some(warning) = &exposure {
        warning.log();
    }
    let info = master_info(&config, bound);
    info!(master_id = %info.id, address = %bound, zk = ?zk.as_ref().map(|u| u.to_string()), "master starting");
    let allocation_interval = config.allocation_interval;
    let max_request_body = config.max_request_body.min(usize::MAX as u64) as usize;
    let engine = Engine::new(config.clone(), info.clone())?.with_acls(security.acls.clone());

    let standalone = zk.is_none();
    let (leadership_tx, leadership) = watch::channel(if standalone {
        Leadership::Standalone
    } else {
        Leadership::Standby { leader: None }
    });
    let (snapshots_tx, snapshots) = watch::channel(None);
    let (tx, rx) = mpsc::channel(4096);
    let handle = MasterHandle::new(
        tx.clone(),
        Arc::new(info.clone()),
        max_request_body,
        leadership.clone(),
    )
    .with_acls(security.acls.clone())
    .with_exposure(exposure);
    let actor = Actor {
        term: standalone.then_some(0),
        engine,
        config: config.clone(),
        acls: security.acls.clone(),
        standby_info: info.clone(),
        leadership,
        expected: ExpectedAgents::new(),
        reregister_deadline: None,
        tracker: RegistryTracker::default(),
        snapshots: snapshots_tx,
    };
    let actor = tokio::spawn(actor_loop(actor, rx, allocation_interval));

    let (stop_tx, stop) = watch::channel(false);
    let election = zk.map(|url| {
        tokio::spawn(
            Election {
                setup: ElectionSetup {
                    url,
                    session_timeout: config.zk_session_timeout,
                    template: info.clone(),
                    persist_registry: config.registry != "in_memory",
                },
                leadership: leadership_tx,
                actor: tx.clone(),
                snapshots,
                stop,
            }
            .run(),
        )
    });
    // Stopping: leave the election first (the znode goes at once, so a standby takes over
    // without waiting for the session to expire), then drop the engine, which ends every
    // event and agent stream so that the HTTP server can drain.
    let stopping = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        if let Some(election) = election {
            let _ = election.await;
        }
        actor.abort();
    };

    let app = mesos_common::api::tolerate_trailing_slash(
        security.http.clone().layer(
            crate::http::router(handle.clone())
                .merge(crate::operator::router(handle.clone()))
                .merge(crate::agent_link::router(handle.clone(), &security))
                .merge(mesos_ui::router(mesos_ui::Site::Master)),
        ),
    );
    drop(tx);
    let result = mesos_common::serve::serve(listener, edge, app, stopping).await;
    drop(handle);
    if let Err(e) = &result {
        error!(error = %e, "HTTP server failed");
    }
    info!("master stopped");
    Ok(result?)
}

/// The actor's state: the engine, and what leading through ZooKeeper adds to it.
struct Actor {
    engine: Engine,
    config: Config,
    /// `--acls`, read at start, given to every new engine.
    acls: Arc<mesos_common::auth::Acls>,
    /// MasterInfo of the empty engine a standby keeps (for its state endpoints).
    standby_info: v1::MasterInfo,
    leadership: watch::Receiver<Leadership>,
    /// The term the engine was recovered for; None while standing by.
    term: Option<u64>,
    /// Agents in the registry that have not re-registered yet.
    expected: ExpectedAgents,
    /// When the expected agents that are still missing become unreachable.
    reregister_deadline: Option<Duration>,
    tracker: RegistryTracker,
    snapshots: watch::Sender<Option<Snapshot>>,
}

async fn actor_loop(
    mut actor: Actor,
    mut rx: mpsc::Receiver<Command>,
    allocation_interval: Duration,
) {
    let epoch = Instant::now();
    let mut allocation = tokio::time::interval(allocation_interval);
    let mut housekeeping = tokio::time::interval(Duration::from_millis(100));
    for t in [&mut allocation, &mut housekeeping] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                actor.handle(cmd, epoch.elapsed());
                // Batch whatever else is queued before allocating once.
                let mut budget = 1024;
                while budget > 0 {
                    match rx.try_recv() {
                        Ok(cmd) => actor.handle(cmd, epoch.elapsed()),
                        Err(_) => break,
                    }
                    budget -= 1;
                }
                if actor.serving() {
                    actor.engine.allocate(epoch.elapsed(), false);
                }
            }
            _ = allocation.tick() => if actor.serving() {
                actor.engine.allocate(epoch.elapsed(), true)
            },
            _ = housekeeping.tick() => actor.housekeeping(epoch.elapsed()),
        }
    }
}

impl Actor {
    /// Whether the engine may change: this master leads in the term it recovered for.
    fn serving(&self) -> bool {
        self.term
            .is_some_and(|term| self.leadership.borrow().is_leading_term(term))
    }

    /// Whether this master led in its term and the lease ran out. (Between recovery and
    /// the election's confirmation the term is not leading yet, and that is fine.)
    fn lease_lapsed(&self) -> bool {
        match (self.term, &*self.leadership.borrow()) {
            (Some(term), l @ Leadership::Leading { term: t, .. }) => *t != term || !l.is_leading(),
            _ => false,
        }
    }

    fn handle(&mut self, cmd: Command, now: Duration) {
        match cmd {
            Command::Inspect(f) => f(&self.engine),
            Command::Elected {
                term,
                info,
                registry,
                reply,
            } => {
                self.recover(term, (*info).clone(), &registry, now);
                let _ = reply.send(());
            }
            Command::Deposed { term } => {
                if self.term == Some(term) {
                    self.step_down();
                }
            }
            // Not leading: dropping the reply makes the edge answer 503 (or tells the
            // agent to try again), and changes nothing here.
            _ if !self.serving() => {}
            Command::Subscribe { req, reply } => {
                let _ = reply.send(self.engine.subscribe(*req, now));
            }
            Command::Call {
                framework_id,
                stream_id,
                principal,
                call,
                reply,
            } => {
                self.engine.counters.calls += 1;
                let result = self
                    .engine
                    .authorize_call(&framework_id, &stream_id, principal.as_deref())
                    .and_then(
                        |()| match self.hold_for_expected_agents(&framework_id, *call) {
                            Some(call) => {
                                crate::http::dispatch(&mut self.engine, &framework_id, call, now)
                            }
                            None => Ok(()),
                        },
                    );
                let _ = reply.send(result);
            }
            Command::FrameworkStreamClosed {
                framework_id,
                stream_id,
            } => self
                .engine
                .framework_stream_closed(&framework_id, &stream_id, now),
            Command::AgentConnected {
                conn_id,
                register,
                tx,
                reply,
            } => {
                let result = self.engine.agent_connected(conn_id, *register, tx, now);
                if let Ok(agent_id) = &result {
                    if self.expected.remove(agent_id).is_some() && self.expected.is_empty() {
                        info!("every agent of the registry re-registered");
                        self.reregister_deadline = None;
                    }
                }
                let result = result.map(|agent_id| {
                    let liveness = self
                        .engine
                        .agent_liveness(&agent_id)
                        .expect("the agent was just added");
                    (agent_id, liveness)
                });
                let _ = reply.send(result);
            }
            Command::AgentMessage { agent_id, message } => {
                self.engine.agent_message(&agent_id, *message, now)
            }
            Command::AgentDisconnected { agent_id, conn_id } => {
                self.engine.agent_disconnected(&agent_id, conn_id, now)
            }
            Command::Mutate(f) => f(&mut self.engine, now),
        }
    }

    /// Until the expected agents are back, a task the master does not know may be running
    /// on one of them: explicit reconciliation of such a task, and a kill of one, get no
    /// answer rather than TASK_LOST (Mesos's "transitioning agent" rule). Returns what is
    /// left of the call to dispatch, if anything.
    fn hold_for_expected_agents(
        &self,
        framework_id: &str,
        mut call: scheduler::Call,
    ) -> Option<scheduler::Call> {
        if self.expected.is_empty() {
            return Some(call);
        }
        let known = |task_id: &str| {
            self.engine
                .frameworks
                .get(framework_id)
                .is_some_and(|f| f.tasks.contains_key(task_id))
        };
        let transitioning = |agent: Option<&v1::AgentId>| match agent {
            Some(a) => self.expected.contains_key(&a.value),
            None => true,
        };
        match call.r#type() {
            call::Type::Reconcile => {
                let reconcile = call.reconcile.as_mut()?;
                if reconcile.tasks.is_empty() {
                    return Some(call);
                }
                reconcile
                    .tasks
                    .retain(|t| known(&t.task_id.value) || !transitioning(t.agent_id.as_ref()));
                // An emptied list must not turn into implicit reconciliation.
                (!reconcile.tasks.is_empty()).then_some(call)
            }
            call::Type::Kill => {
                let kill = call.kill.as_ref()?;
                (known(&kill.task_id.value) || !transitioning(kill.agent_id.as_ref()))
                    .then_some(call)
            }
            _ => Some(call),
        }
    }

    /// Becomes the leader of `term`: a fresh engine loaded with the registry.
    fn recover(&mut self, term: u64, info: v1::MasterInfo, registry: &Registry, now: Duration) {
        self.engine = Engine::new(self.config.clone(), info)
            .expect("config validated at start")
            .with_acls(self.acls.clone());
        self.expected = crate::registry::recover(&mut self.engine, registry, now);
        self.reregister_deadline =
            (!self.expected.is_empty()).then(|| now + self.config.agent_reregister_timeout);
        self.tracker = RegistryTracker::default();
        self.term = Some(term);
    }

    /// Drops everything: streams to frameworks and agents close with the engine.
    fn step_down(&mut self) {
        if self.term.take().is_none() {
            return;
        }
        warn!("stopped leading: dropping all state; frameworks and agents must reconnect");
        let mut info = self.standby_info.clone();
        info.id = mesos_common::ids::new_master_id();
        self.engine = Engine::new(self.config.clone(), info)
            .expect("config validated at start")
            .with_acls(self.acls.clone());
        self.expected.clear();
        self.reregister_deadline = None;
    }

    fn housekeeping(&mut self, now: Duration) {
        if self.lease_lapsed() {
            // The lease ran out before the election task noticed (it may be waiting on
            // ZooKeeper): stop now.
            self.step_down();
        }
        if !self.serving() {
            return;
        }
        self.engine.tick(now);
        self.engine.ping_agents(now);
        if self.reregister_deadline.is_some_and(|d| d <= now) {
            self.reregister_deadline = None;
            self.expected_agents_timed_out();
        }
        if let Some(term) = self.term.filter(|_| self.config.zk.is_some()) {
            if let Some(bytes) = self.tracker.changed_paced(&self.engine, &self.expected) {
                self.snapshots.send_replace(Some(Snapshot {
                    term,
                    bytes: Arc::new(bytes),
                }));
            }
        }
    }

    /// Agents of the registry that did not come back in time become unreachable, and
    /// every framework hears that they are lost.
    fn expected_agents_timed_out(&mut self) {
        let missing = std::mem::take(&mut self.expected);
        if missing.is_empty() {
            return;
        }
        warn!(
            agents = missing.len(),
            "agents did not re-register within --agent_reregister_timeout; marking them unreachable"
        );
        let wall = crate::engine::wall_clock_secs();
        let frameworks: Vec<String> = self.engine.frameworks.keys().cloned().collect();
        for (agent_id, _) in missing {
            self.engine
                .unreachable_agents
                .insert(agent_id.clone(), wall);
            let mut failure = scheduler::Event {
                failure: Some(event::Failure {
                    agent_id: Some(v1::AgentId { value: agent_id }),
                    executor_id: None,
                    status: None,
                }),
                ..Default::default()
            };
            failure.set_type(event::Type::Failure);
            for framework_id in &frameworks {
                self.engine.send_to_framework(framework_id, &failure);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use clap::Parser;
    use tokio::sync::oneshot;

    use super::*;
    use crate::handle::base_url;

    fn config() -> Config {
        Config::try_parse_from(["mesos-master", "--zk=zk://127.0.0.1:2181/mesos"]).unwrap()
    }

    fn info(id: &str, port: u16) -> v1::MasterInfo {
        let config = Config::try_parse_from(["mesos-master", "--ip=127.0.0.1"]).unwrap();
        let mut info = master_info(&config, SocketAddr::from(([127, 0, 0, 1], port)));
        info.id = id.to_string();
        info.hostname = Some("m.example".into());
        if let Some(a) = info.address.as_mut() {
            a.hostname = Some("m.example".into());
        }
        info
    }

    fn actor(leadership: watch::Receiver<Leadership>) -> Actor {
        let own = info("standby", 5050);
        Actor {
            engine: Engine::new(config(), own.clone()).unwrap(),
            config: config(),
            acls: Default::default(),
            standby_info: own,
            leadership,
            term: None,
            expected: ExpectedAgents::new(),
            reregister_deadline: None,
            tracker: RegistryTracker::default(),
            snapshots: watch::channel(None).0,
        }
    }

    fn registry_with_agent(id: &str) -> Registry {
        let agent = v1::AgentInfo {
            hostname: "a.example".into(),
            id: Some(v1::AgentId { value: id.into() }),
            ..Default::default()
        };
        Registry {
            agents: vec![mesos_proto::json::to_json_value(&agent)],
            frameworks: vec![serde_json::json!({"id": {"value": "f"}, "name": "f", "user": "u"})],
            ..Default::default()
        }
    }

    fn reconcile(tasks: &[(&str, Option<&str>)]) -> scheduler::Call {
        let mut call = scheduler::Call {
            reconcile: Some(call::Reconcile {
                tasks: tasks
                    .iter()
                    .map(|(t, a)| call::reconcile::Task {
                        task_id: v1::TaskId {
                            value: t.to_string(),
                        },
                        agent_id: a.map(|a| v1::AgentId {
                            value: a.to_string(),
                        }),
                    })
                    .collect(),
            }),
            ..Default::default()
        };
        call.set_type(call::Type::Reconcile);
        call
    }

    fn kept(call: Option<scheduler::Call>) -> Option<Vec<String>> {
        call.map(|c| {
            c.reconcile
                .map(|r| r.tasks.into_iter().map(|t| t.task_id.value).collect())
                .unwrap_or_default()
        })
    }

    #[test]
    fn reconciliation_of_unknown_tasks_waits_for_expected_agents() {
        let (_tx, rx) = watch::channel(Leadership::Standby { leader: None });
        let mut a = actor(rx);
        a.recover(
            1,
            info("m1", 5050),
            &registry_with_agent("a1"),
            Duration::ZERO,
        );
        assert_eq!(a.expected.keys().collect::<Vec<_>>(), ["a1"]);
        assert!(a.reregister_deadline.is_some());

        // Unknown task on an expected agent, or on no agent named: no answer yet.
        let call = reconcile(&[("t1", Some("a1")), ("t2", Some("a2")), ("t3", None)]);
        assert_eq!(
            kept(a.hold_for_expected_agents("f", call)),
            Some(vec!["t2".into()])
        );
        assert_eq!(
            kept(a.hold_for_expected_agents("f", reconcile(&[("t1", Some("a1"))]))),
            None
        );
        // Implicit reconciliation answers what is known, as always.
        assert_eq!(
            kept(a.hold_for_expected_agents("f", reconcile(&[]))),
            Some(vec![])
        );

        let mut kill = scheduler::Call {
            kill: Some(call::Kill {
                task_id: v1::TaskId { value: "t1".into() },
                agent_id: Some(v1::AgentId { value: "a1".into() }),
                kill_policy: None,
            }),
            ..Default::default()
        };
        kill.set_type(call::Type::Kill);
        assert!(a.hold_for_expected_agents("f", kill.clone()).is_none());

        // Once the agents are back (or given up on), everything is answered.
        a.expected.clear();
        assert_eq!(
            kept(a.hold_for_expected_agents("f", reconcile(&[("t1", Some("a1"))]))),
            Some(vec!["t1".into()])
        );
        assert!(a.hold_for_expected_agents("f", kill).is_some());
    }

    #[test]
    fn missing_agents_become_unreachable_after_the_timeout() {
        let until = Instant::now() + Duration::from_secs(60);
        let (_tx, rx) = watch::channel(Leadership::Leading {
            term: 1,
            info: Arc::new(info("m1", 5050)),
            until,
        });
        let mut a = actor(rx);
        a.recover(
            1,
            info("m1", 5050),
            &registry_with_agent("a1"),
            Duration::ZERO,
        );
        assert!(a.serving());
        a.housekeeping(Duration::from_secs(1));
        assert!(!a.engine.unreachable_agents.contains_key("a1"));
        a.housekeeping(a.config.agent_reregister_timeout + Duration::from_secs(1));
        assert!(a.expected.is_empty());
        assert!(a.engine.unreachable_agents.contains_key("a1"));
    }

    #[tokio::test]
    async fn a_lapsed_lease_drops_all_state_and_refuses_changes() {
        let (tx, rx) = watch::channel(Leadership::Standby { leader: None });
        let mut a = actor(rx);
        a.recover(
            7,
            info("m7", 5050),
            &registry_with_agent("a1"),
            Duration::ZERO,
        );
        // Recovered but not yet confirmed by the election: not serving, not stepping down.
        assert!(!a.serving());
        a.housekeeping(Duration::ZERO);
        assert_eq!(a.term, Some(7));

        tx.send_replace(Leadership::Leading {
            term: 7,
            info: Arc::new(info("m7", 5050)),
            until: Instant::now() + Duration::from_millis(50),
        });
        assert!(a.serving());
        assert!(a.engine.frameworks.contains_key("f"));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!a.serving());
        a.housekeeping(Duration::from_millis(60));
        assert_eq!(a.term, None);
        assert!(a.engine.frameworks.is_empty(), "the engine was dropped");
        assert_ne!(a.engine.id, "m7");

        // A standby runs no mutation.
        let (reply, answer) = oneshot::channel::<()>();
        a.handle(
            Command::Mutate(Box::new(move |_, _| {
                let _ = reply.send(());
            })),
            Duration::ZERO,
        );
        assert!(answer.await.is_err(), "the mutation must not run");
    }

    fn handle(leadership: Leadership) -> MasterHandle {
        MasterHandle::new(
            mpsc::channel(1).0,
            Arc::new(info("self", 5050)),
            1024,
            watch::channel(leadership).1,
        )
    }

    #[test]
    fn standbys_redirect_to_the_leader_or_answer_503() {
        let leader = Arc::new(info("other", 6060));
        let h = handle(Leadership::Standby {
            leader: Some(leader.clone()),
        });
        let r = h.not_leading_response("/api/v1/scheduler").unwrap();
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(r.headers()["location"], "//m.example:6060/api/v1/scheduler");
        assert_eq!(base_url(&h.redirect_target()), "//m.example:6060");
        let leader = h.leader_info().expect("a leader");
        assert_eq!(leader.pid.as_deref(), Some("master@127.0.0.1:6060"));
        assert_eq!(leader.id, "other");
        assert_eq!(h.with_elected(serde_json::json!({}))["master/elected"], 0.0);

        let h = handle(Leadership::Standby { leader: None });
        let r = h.not_leading_response("/api/v1/scheduler").unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(h.leader_info().is_none());
        assert_eq!(base_url(&h.redirect_target()), "//m.example:5050");

        // Elected and still recovering: itself as the leader, but not serving yet.
        let h = handle(Leadership::Standby {
            leader: Some(Arc::new(info("self-next-term", 5050))),
        });
        let r = h.not_leading_response("/api/v1/scheduler").unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

        let h = handle(Leadership::Leading {
            term: 1,
            info: Arc::new(info("self-term-1", 5050)),
            until: Instant::now() + Duration::from_secs(60),
        });
        assert!(h.not_leading_response("/api/v1/scheduler").is_none());
        assert_eq!(h.with_elected(serde_json::json!({}))["master/elected"], 1.0);
        assert_eq!(h.leader_info().expect("leading").id, "self-term-1");
        assert!(handle(Leadership::Standalone)
            .not_leading_response("/x")
            .is_none());
    }
}
