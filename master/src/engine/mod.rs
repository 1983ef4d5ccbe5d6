//! The master's bookkeeping: frameworks, agents, tasks and offers, driven by one actor.
//!
//! Everything here is synchronous. The HTTP and gRPC edges turn requests into calls on
//! [`Engine`]; the engine answers through the channels it holds for each subscribed
//! framework ([`Subscriber`]) and each connected agent. Time enters as an argument
//! (`now`, measured from the master's start) so the allocator stays a pure core.
//!
//! [`Engine`] owns the state; its rules live in one module per concept, each an
//! `impl Engine` block:
//! - `frameworks`: SUBSCRIBE, failover, teardown, the event streams, UPDATE_FRAMEWORK;
//! - `agents`: registration, the agent stream's messages, pings, unreachable agents;
//! - `offers`: allocation into offers, DECLINE / REVIVE / SUPPRESS, ACCEPT and launches;
//! - `tasks`: KILL, ACKNOWLEDGE, RECONCILE, status updates, tasks lost with an agent;
//! - `admin`: the operator's decisions (gone, drain, deactivate, weights, quota).
//!
//! Nothing here knows about views or edges: the state views read the engine (and keep
//! their renderings in each agent's `ViewSlot`); HTTP, gRPC and ZooKeeper call in.

pub(crate) mod admin;
mod agents;
mod frameworks;
mod offers;
mod tasks;

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesos_common::auth::{Acls, Action, Object};
use mesos_common::resources::{ResourceSum, Resources};
use mesos_common::wire;
use mesos_proto::internal;
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};
use prost::Message as _;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::allocator::Allocator;
use crate::config::{Config, HistoryLimits};
use crate::event_queue::{self, EventSender, StallWatch};

/// Seconds between HEARTBEAT events (fixed in Mesos).
pub const HEARTBEAT_INTERVAL_SECS: f64 = 15.0;

pub use mesos_common::api::Encoding;

/// The open event stream of a subscribed framework. Records are RecordIO-framed.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub stream_id: String,
    pub encoding: Encoding,
    pub tx: EventSender,
    stall: StallWatch,
}

/// What became of an event handed to a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Queued,
    /// A status update not forwarded while the queue is over its soft limit; the agent
    /// re-sends it until the framework acknowledges it.
    Deferred,
    /// The stream is closed, or the queue is over its hard limit.
    Lost,
}

impl Subscriber {
    pub fn new(stream_id: String, encoding: Encoding, tx: EventSender) -> Self {
        Subscriber {
            stream_id,
            encoding,
            tx,
            stall: StallWatch::default(),
        }
    }

    fn send(&self, event: &scheduler::Event) -> Delivery {
        let queued = self.tx.queued_bytes();
        if queued > event_queue::HARD_LIMIT || self.tx.is_closed() {
            return Delivery::Lost;
        }
        if queued > event_queue::SOFT_LIMIT && event.r#type() == event::Type::Update {
            return Delivery::Deferred;
        }
        let body = self.encoding.encode(event);
        match self.tx.push(mesos_common::recordio::encode(&body)) {
            Ok(()) => Delivery::Queued,
            Err(_) => Delivery::Lost,
        }
    }
}

/// Why a scheduler call was refused, mapped to an HTTP status by the edge.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CallError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    /// A SUBSCRIBE refused after it was read (not authorized, principal changed): Mesos
    /// answers 200 with a stream that carries one ERROR event and closes.
    #[error("{0}")]
    Refused(String),
}

#[derive(Debug)]
pub(crate) struct TaskEntry {
    /// Shared with state snapshots, which serialize it outside the actor; changed through
    /// `Arc::make_mut` (a copy only while a snapshot still holds the old version).
    pub(crate) task: Arc<v1::Task>,
    pub(crate) resources: Resources,
    /// The resources went back to the allocator when the task reached a terminal state.
    pub(crate) recovered: bool,
    /// uuid of the terminal update forwarded to the framework; its acknowledgement
    /// removes the task.
    pub(crate) terminal_uuid: Option<Vec<u8>>,
}

#[derive(Debug)]
pub(crate) struct Framework {
    pub(crate) id: String,
    pub(crate) info: v1::FrameworkInfo,
    pub(crate) subscriber: Option<Subscriber>,
    /// Stream id of the newest subscription, kept after the stream is gone.
    pub(crate) last_stream_id: String,
    pub(crate) active: bool,
    /// Recovered from an agent's report after a master restart, not yet re-subscribed.
    pub(crate) recovered: bool,
    pub(crate) registered_time: f64,
    pub(crate) reregistered_time: Option<f64>,
    pub(crate) unregistered_time: Option<f64>,
    /// When a disconnected framework is torn down (failover timeout).
    pub(crate) failover_deadline: Option<Duration>,
    pub(crate) tasks: BTreeMap<String, TaskEntry>,
    /// Finished tasks, newest last, at most `--max_completed_tasks_per_framework`.
    pub(crate) completed_tasks: VecDeque<Arc<v1::Task>>,
    /// Tasks on unreachable agents, newest last, at most
    /// `--max_unreachable_tasks_per_framework`; kept apart as Mesos does, so that a
    /// burst of finished tasks does not push them out.
    pub(crate) unreachable_tasks: VecDeque<Arc<v1::Task>>,
    pub(crate) offers: HashSet<String>,
    /// The sum of its outstanding offers' resources, kept with `offers`.
    pub(crate) offered: ResourceSum,
    /// Executors launched for it (custom and default executors; command tasks' executors
    /// are made up by their agent), by (agent id, executor id), until they exit.
    pub(crate) executors: BTreeMap<(String, String), v1::ExecutorInfo>,
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) id: String,
    /// The AgentInfo it registered with, without its resources: those are kept encoded in
    /// `resources_wire` (decoded `v1::Resource`s cost ~1 KB per agent for what only the
    /// registry and GET_AGENTS read); [`Agent::agent_info`] puts them back.
    pub(crate) info: v1::AgentInfo,
    resources_wire: Box<[u8]>,
    pub(crate) total: Resources,
    pub(crate) version: String,
    pub(crate) http_address: String,
    pub(crate) registered_time: f64,
    pub(crate) reregistered_time: Option<f64>,
    pub(crate) conn: Option<AgentConn>,
    pub(crate) missed_pings: u32,
    /// A ping was sent and no pong has come since. Shared with the agent's stream, which
    /// takes pongs itself: 50,000 agents answer ~3,300 pings a second, and each would
    /// otherwise be a command through the actor.
    pub(crate) ping_outstanding: Arc<AtomicBool>,
    /// When it is pinged next: `agent_ping_timeout` after it registered, then every
    /// `agent_ping_timeout` (the entry of `Engine::ping_queue` that matches this one counts).
    pub(crate) next_ping: Duration,
    /// (framework id, task id) of the tasks on this agent.
    pub(crate) tasks: HashSet<(String, String)>,
    pub(crate) offers: HashSet<String>,
    /// The sum of its outstanding offers' resources, kept with `offers`.
    pub(crate) offered: Resources,
    /// Bumped whenever `offers` changes: its state JSON is re-rendered when this moves.
    pub(crate) offers_revision: u64,
    /// Where the allocator keeps it, so that the state views find it without hashing.
    pub(crate) allocator_slot: Option<crate::allocator::AgentSlot>,
    /// What the state views keep of it between requests; a new one at every registration.
    pub(crate) views: ViewSlot,
}

impl Agent {
    /// The AgentInfo as the agent registered it, resources included.
    pub(crate) fn agent_info(&self) -> v1::AgentInfo {
        let mut info = self.info.clone();
        // Encoded by `agent_connected` from a decoded message, so it always decodes.
        info.resources = v1::AgentInfo::decode(&*self.resources_wire)
            .map(|wire| wire.resources)
            .unwrap_or_default();
        info
    }
}

/// Room for what a view renders of an agent and keeps from one request to the next (the
/// state views' JSON). The core never looks inside: it only starts a new, empty slot at
/// every (re-)registration, so nothing rendered of an earlier one is shown. Typed by the
/// view that fills it, so that the core needs nothing from the views.
#[derive(Clone, Default)]
pub(crate) struct ViewSlot(OnceLock<Arc<dyn Any + Send + Sync>>);

impl ViewSlot {
    /// What the slot keeps, made by `init` the first time.
    ///
    /// # Panics
    /// If the slot was filled with another type: one view owns the slot.
    pub(crate) fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let kept = self.0.get_or_init(|| Arc::new(init())).clone();
        kept.downcast()
            .unwrap_or_else(|_| panic!("an agent's view slot holds another type"))
    }
}

impl std::fmt::Debug for ViewSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewSlot")
            .field("filled", &self.0.get().is_some())
            .finish()
    }
}

/// The queue of messages to one agent's stream. Boxed: a `MasterMessage` is ~3 KB inline
/// (RunTask carries a TaskInfo and a FrameworkInfo), and tokio allocates a channel's slots
/// 32 at a time; once touched by traffic, every connected agent kept ~100 KB resident.
pub(crate) type AgentSender = mpsc::Sender<Box<internal::MasterMessage>>;

#[derive(Debug)]
pub(crate) struct AgentConn {
    pub(crate) id: u64,
    pub(crate) tx: AgentSender,
}

#[derive(Debug)]
pub(crate) struct OfferEntry {
    pub(crate) framework_id: String,
    pub(crate) agent_id: String,
    pub(crate) resources: Resources,
    pub(crate) created: Duration,
    /// The role it was allocated to. The `v1::Offer` sent to the framework is not kept
    /// (~1.5 KB inline in the offer table, whose capacity never shrinks): views rebuild
    /// it with [`offers::offer_proto`].
    pub(crate) role: String,
}

/// Counters for `/metrics/snapshot`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Counters {
    pub(crate) tasks_finished: u64,
    pub(crate) tasks_failed: u64,
    pub(crate) tasks_killed: u64,
    pub(crate) tasks_lost: u64,
    pub(crate) tasks_error: u64,
    pub(crate) tasks_dropped: u64,
    pub(crate) tasks_unreachable: u64,
    pub(crate) tasks_gone: u64,
    pub(crate) valid_status_updates: u64,
    pub(crate) invalid_status_updates: u64,
    pub(crate) offers_declined: u64,
    pub(crate) offers_rescinded: u64,
    pub(crate) offers_accepted: u64,
    pub(crate) allocation_runs: u64,
    pub(crate) last_allocation_ms: f64,
    pub(crate) dropped_messages: u64,
    /// Status updates not forwarded because the framework's queue was full.
    pub(crate) deferred_updates: u64,
    pub(crate) calls: u64,
}

/// The master's state and the rules that change it.
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) id: String,
    pub(crate) info: v1::MasterInfo,
    pub(crate) start_time: f64,
    pub(crate) elected_time: f64,
    pub(crate) allocator: Allocator,
    pub(crate) frameworks: HashMap<String, Framework>,
    pub(crate) completed_frameworks: VecDeque<Framework>,
    pub(crate) agents: HashMap<String, Agent>,
    /// Agents removed for missing pings: id -> time they became unreachable.
    pub(crate) unreachable_agents: BTreeMap<String, f64>,
    pub(crate) offers: HashMap<String, OfferEntry>,
    pub(crate) next_framework: u64,
    pub(crate) next_agent: u64,
    pub(crate) next_offer: u64,
    pub(crate) counters: Counters,
    /// Set by anything that may let the allocator offer more; cleared by `allocate`.
    pub(crate) allocation_pending: bool,
    /// When each agent is pinged next. Each agent keeps the phase of its registration,
    /// as Mesos's per-agent observers do, so that 50,000 agents are not pinged at once.
    ping_queue: BinaryHeap<Reverse<(Duration, String)>>,
    /// Observers of changes (operator API SUBSCRIBE).
    pub(crate) events: tokio::sync::broadcast::Sender<EngineEvent>,
    /// What operators decided: deactivated, draining and gone agents, quotas.
    pub(crate) operator: admin::OperatorState,
    /// `--acls`: who may do what (everything, by default).
    pub(crate) acls: Arc<Acls>,
}

/// Allocator errors mean the engine and allocator disagree about who exists; that is a
/// bug worth a loud log line, never a reason to stop serving.
fn allocator_result(result: Result<(), crate::allocator::AllocatorError>) {
    if let Err(e) = result {
        warn!(error = %e, "allocator rejected an event");
    }
}

/// An allocation cycle longer than this is logged (at debug).
const SLOW_ALLOCATION_MS: f64 = 10.0;

pub(crate) fn wall_clock_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn has_capability(info: &v1::FrameworkInfo, cap: v1::framework_info::capability::Type) -> bool {
    info.capabilities.iter().any(|c| c.r#type() == cap)
}

pub(crate) fn partition_aware(info: &v1::FrameworkInfo) -> bool {
    has_capability(info, v1::framework_info::capability::Type::PartitionAware)
}

/// The roles a framework subscribes with: `roles` for MULTI_ROLE frameworks, else `role`.
pub(crate) fn framework_roles(info: &v1::FrameworkInfo) -> Vec<String> {
    if has_capability(info, v1::framework_info::capability::Type::MultiRole) {
        info.roles.clone()
    } else {
        vec![info.role().to_string()]
    }
}

fn fid(value: &str) -> v1::FrameworkId {
    v1::FrameworkId {
        value: value.to_string(),
    }
}

fn aid(value: &str) -> v1::AgentId {
    v1::AgentId {
        value: value.to_string(),
    }
}

fn tid(value: &str) -> v1::TaskId {
    v1::TaskId {
        value: value.to_string(),
    }
}

pub(crate) fn master_status(
    task_id: &str,
    agent_id: Option<&str>,
    state: TaskState,
    reason: Reason,
    message: impl Into<String>,
) -> v1::TaskStatus {
    let mut status = v1::TaskStatus {
        task_id: tid(task_id),
        agent_id: agent_id.map(aid),
        message: Some(message.into()),
        timestamp: Some(wall_clock_secs()),
        ..Default::default()
    };
    status.set_state(state);
    status.set_source(Source::Master);
    status.set_reason(reason);
    status
}

fn update_event(status: v1::TaskStatus) -> scheduler::Event {
    let mut e = scheduler::Event {
        update: Some(event::Update { status }),
        ..Default::default()
    };
    e.set_type(event::Type::Update);
    e
}

pub(crate) fn error_event(message: impl Into<String>) -> scheduler::Event {
    let mut e = scheduler::Event {
        error: Some(event::Error {
            message: message.into(),
        }),
        ..Default::default()
    };
    e.set_type(event::Type::Error);
    e
}

pub(crate) fn heartbeat_event() -> scheduler::Event {
    let mut e = scheduler::Event::default();
    e.set_type(event::Type::Heartbeat);
    e
}

/// The offer as the framework received it.
fn offer_proto(id: &str, entry: &OfferEntry, agent: &Agent) -> v1::Offer {
    v1::Offer {
        id: v1::OfferId {
            value: id.to_string(),
        },
        framework_id: fid(&entry.framework_id),
        agent_id: aid(&entry.agent_id),
        hostname: agent.info.hostname.clone(),
        url: Some(agent_url(agent)),
        resources: wire::resources_to_proto(&entry.resources, Some(&entry.role)),
        attributes: agent.info.attributes.clone(),
        allocation_info: Some(v1::resource::AllocationInfo {
            role: Some(entry.role.clone()),
        }),
        ..Default::default()
    }
}

impl Framework {
    /// Keeps a task that left `tasks` in the bounded history its state belongs to.
    pub(crate) fn keep_finished(&mut self, task: Arc<v1::Task>, limits: HistoryLimits) {
        let (list, max) = if task.state() == TaskState::TaskUnreachable {
            (&mut self.unreachable_tasks, limits.unreachable_tasks)
        } else {
            (&mut self.completed_tasks, limits.completed_tasks)
        };
        list.push_back(task);
        while list.len() > max {
            list.pop_front();
        }
    }
}

/// Mesos's id rules: non-empty, no '/', no whitespace or control characters, not '.' or '..'.
fn validate_id(kind: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{kind} ID must not be empty"));
    }
    if id == "." || id == ".." {
        return Err(format!("{kind} ID '{id}' is invalid"));
    }
    if id
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{kind} ID '{id}' contains invalid characters ('/', whitespace or control)"
        ));
    }
    Ok(())
}

/// What of an agent's `allocated` resources is in use rather than `offered`.
pub(crate) fn used_of(allocated: &Resources, offered: &Resources) -> Resources {
    if offered.is_empty() {
        allocated.clone()
    } else {
        allocated.minus(offered)
    }
}

fn agent_url(agent: &Agent) -> v1::Url {
    let (host, port) = agent
        .http_address
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse().unwrap_or(5051)))
        .unwrap_or_else(|| (agent.info.hostname.clone(), agent.info.port.unwrap_or(5051)));
    v1::Url {
        scheme: "http".to_string(),
        address: v1::Address {
            hostname: Some(agent.info.hostname.clone()),
            ip: Some(host),
            port,
        },
        path: Some("/slave(1)".to_string()),
        ..Default::default()
    }
}

/// What changed in the engine, for observers such as the operator API's SUBSCRIBE stream.
/// Sent only while someone listens; a listener that falls behind is dropped by the channel.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    TaskAdded {
        task: Box<v1::Task>,
    },
    TaskUpdated {
        framework_id: String,
        status: Box<v1::TaskStatus>,
        state: TaskState,
    },
    AgentAdded {
        agent_id: String,
    },
    AgentRemoved {
        agent_id: String,
    },
    FrameworkAdded {
        framework_id: String,
    },
    FrameworkUpdated {
        framework_id: String,
    },
    FrameworkRemoved {
        info: Box<v1::FrameworkInfo>,
    },
}

/// Events an observer may lag behind before it is cut off.
const EVENT_BUFFER: usize = 4096;

/// A validated SUBSCRIBE, ready for the engine.
#[derive(Debug)]
pub struct SubscribeRequest {
    pub info: v1::FrameworkInfo,
    pub suppressed_roles: Vec<String>,
    pub subscriber: Subscriber,
}

impl Engine {
    pub fn new(config: Config, info: v1::MasterInfo) -> Result<Self, crate::config::ConfigError> {
        let mut allocator = Allocator::new(crate::allocator::AllocatorConfig {
            min_allocatable_resources: config.min_allocatable()?,
            ..Default::default()
        });
        allocator_result(allocator.set_weights(config.weights()?));
        let now = wall_clock_secs();
        Ok(Self {
            id: info.id.clone(),
            info,
            config,
            start_time: now,
            elected_time: now,
            allocator,
            frameworks: HashMap::new(),
            completed_frameworks: VecDeque::new(),
            agents: HashMap::new(),
            unreachable_agents: BTreeMap::new(),
            offers: HashMap::new(),
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
            counters: Counters::default(),
            allocation_pending: false,
            ping_queue: BinaryHeap::new(),
            events: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
            operator: Default::default(),
            acls: Arc::new(Acls::default()),
        })
    }

    /// The engine with `--acls` in force.
    pub fn with_acls(mut self, acls: Arc<Acls>) -> Self {
        self.acls = acls;
        self
    }

    /// Whether `principal` may do `action` on `object` (Mesos's local authorizer).
    pub(crate) fn authorized(
        &self,
        action: Action,
        principal: Option<&str>,
        object: Object<'_>,
    ) -> bool {
        self.acls.approved(action, principal, object)
    }

    /// Tells observers about a change; free when nobody listens.
    pub(crate) fn emit(&self, event: impl FnOnce() -> EngineEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event());
        }
    }

    /// Periodic work other than allocation: failover timeouts and offer timeouts.
    pub fn tick(&mut self, now: Duration) {
        let expired: Vec<String> = self
            .frameworks
            .values()
            .filter(|f| f.failover_deadline.is_some_and(|d| d <= now))
            .map(|f| f.id.clone())
            .collect();
        for framework_id in expired {
            info!(framework_id, "failover timeout elapsed");
            self.remove_framework(&framework_id, now);
        }
        if let Some(timeout) = self.config.offer_timeout {
            let stale: Vec<String> = self
                .offers
                .iter()
                .filter(|(_, o)| o.created + timeout <= now)
                .map(|(id, _)| id.clone())
                .collect();
            for offer in stale {
                self.remove_offer(&offer, true, now);
            }
        }
        self.drop_stalled_subscribers(now);
        admin::tick(self, now);
    }
}

#[cfg(test)]
mod tests;
