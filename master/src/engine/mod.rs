//! The master's bookkeeping: frameworks, agents, tasks and offers, driven by one actor.
//!
//! Everything here is synchronous. The HTTP and gRPC edges turn requests into calls on
//! [`Engine`]; the engine answers through the channels it holds for each subscribed
//! framework ([`Subscriber`]) and each connected agent. Time enters as an argument
//! (`now`, measured from the master's start) so the allocator stays a pure core.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesos_common::ids;
use mesos_common::resources::{ResourceSum, Resources};
use mesos_common::wire;
use mesos_proto::internal::{self as internal, master_message};
use mesos_proto::v1::scheduler::{self, event};
use mesos_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};
use prost::Message as _;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub(crate) mod admin;

use crate::allocator::{AgentSpec, Allocator, FrameworkSpec};
use crate::config::Config;
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
    pub(crate) completed_tasks: VecDeque<Arc<v1::Task>>,
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
    /// Its state JSON, kept from one request to the next.
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
    /// it with [`Engine::offer_proto`].
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
        })
    }

    /// Tells observers about a change; free when nobody listens.
    pub(crate) fn emit(&self, event: impl FnOnce() -> EngineEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event());
        }
    }

    // ------------------------------------------------------------------ frameworks

    /// SUBSCRIBE: a new framework, or a known one failing over to a new connection.
    pub fn subscribe(&mut self, req: SubscribeRequest, now: Duration) -> Result<String, CallError> {
        let SubscribeRequest {
            mut info,
            suppressed_roles,
            subscriber,
        } = req;
        validate_framework_info(&info)?;
        let framework_id = match info.id.as_ref().map(|i| i.value.clone()) {
            Some(id) if !id.is_empty() => id,
            _ => {
                let id = ids::framework_id(&self.id, self.next_framework);
                self.next_framework += 1;
                id
            }
        };
        info.id = Some(fid(&framework_id));
        let roles = framework_roles(&info);
        let wall = wall_clock_secs();

        if self
            .completed_frameworks
            .iter()
            .any(|f| f.id == framework_id)
        {
            return Err(CallError::Forbidden(format!(
                "Framework {framework_id} has been removed"
            )));
        }

        if let Some(existing) = self.frameworks.get_mut(&framework_id) {
            info!(framework_id = %framework_id, "framework re-subscribed (failover)");
            if let Some(old) = existing.subscriber.take() {
                if old.stream_id != subscriber.stream_id {
                    old.send(&error_event("Framework failed over"));
                }
            }
            existing.info = info;
            existing.last_stream_id = subscriber.stream_id.clone();
            existing.subscriber = Some(subscriber);
            existing.active = true;
            existing.recovered = false;
            existing.failover_deadline = None;
            existing.reregistered_time = Some(wall);
            existing.unregistered_time = None;
            allocator_result(self.allocator.update_framework(
                &framework_id,
                FrameworkSpec {
                    roles,
                    suppressed_roles,
                },
            ));
            allocator_result(self.allocator.activate_framework(&framework_id));
            self.emit(|| EngineEvent::FrameworkUpdated {
                framework_id: framework_id.clone(),
            });
        } else {
            info!(framework_id = %framework_id, name = %info.name, "framework subscribed");
            allocator_result(self.allocator.add_framework(
                &framework_id,
                FrameworkSpec {
                    roles,
                    suppressed_roles,
                },
                true,
            ));
            self.frameworks.insert(
                framework_id.clone(),
                Framework {
                    id: framework_id.clone(),
                    info,
                    last_stream_id: subscriber.stream_id.clone(),
                    subscriber: Some(subscriber),
                    active: true,
                    recovered: false,
                    registered_time: wall,
                    reregistered_time: None,
                    unregistered_time: None,
                    failover_deadline: None,
                    tasks: BTreeMap::new(),
                    completed_tasks: VecDeque::new(),
                    executors: BTreeMap::new(),
                    offers: HashSet::new(),
                    offered: ResourceSum::default(),
                },
            );
            self.emit(|| EngineEvent::FrameworkAdded {
                framework_id: framework_id.clone(),
            });
        }

        let mut subscribed = scheduler::Event {
            subscribed: Some(event::Subscribed {
                framework_id: fid(&framework_id),
                heartbeat_interval_seconds: Some(HEARTBEAT_INTERVAL_SECS),
                master_info: Some(self.info.clone()),
            }),
            ..Default::default()
        };
        subscribed.set_type(event::Type::Subscribed);
        self.send_to_framework(&framework_id, &subscribed);
        self.allocation_pending = true;
        let _ = now;
        Ok(framework_id)
    }

    /// Checks that a call comes from the framework's current stream.
    pub fn authorize_call(&self, framework_id: &str, stream_id: &str) -> Result<(), CallError> {
        let framework = self.frameworks.get(framework_id).ok_or_else(|| {
            CallError::Forbidden(format!("Framework '{framework_id}' is not subscribed"))
        })?;
        match &framework.subscriber {
            Some(s) if s.stream_id == stream_id => Ok(()),
            Some(_) => Err(CallError::BadRequest(format!(
                "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}"
            ))),
            None => Err(CallError::Forbidden(format!(
                "Framework '{framework_id}' is not subscribed"
            ))),
        }
    }

    /// The event stream of a framework closed (client went away or could not keep up).
    pub fn framework_stream_closed(&mut self, framework_id: &str, stream_id: &str, now: Duration) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let current = match &framework.subscriber {
            Some(s) => s.stream_id == stream_id,
            // The engine dropped this stream itself (queue full); still a disconnect.
            None => framework.last_stream_id == stream_id && framework.failover_deadline.is_none(),
        };
        if !current {
            return;
        }
        info!(framework_id, "framework disconnected");
        framework.subscriber = None;
        framework.active = false;
        framework.unregistered_time = Some(wall_clock_secs());
        let timeout = framework.info.failover_timeout.unwrap_or(0.0);
        let timeout = if timeout.is_finite() && timeout > 0.0 {
            Duration::from_secs_f64(timeout.min(1e9))
        } else {
            Duration::ZERO
        };
        framework.failover_deadline = Some(now + timeout);
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(EngineEvent::FrameworkUpdated {
                framework_id: framework_id.to_string(),
            });
        }
        allocator_result(self.allocator.deactivate_framework(framework_id));
        let offers: Vec<String> = framework.offers.iter().cloned().collect();
        for offer in offers {
            self.remove_offer(&offer, false, now);
        }
        if timeout.is_zero() {
            self.remove_framework(framework_id, now);
        }
    }

    /// TEARDOWN, or a failover timeout that ran out: kill every task, forget the framework.
    pub fn remove_framework(&mut self, framework_id: &str, now: Duration) {
        let Some(mut framework) = self.frameworks.remove(framework_id) else {
            return;
        };
        info!(framework_id, "removing framework");
        for offer in framework.offers.clone() {
            self.remove_offer(&offer, false, now);
        }
        framework.offers.clear();
        let mut agents_to_tell = HashSet::new();
        let tasks = std::mem::take(&mut framework.tasks);
        for (task_id, mut entry) in tasks {
            let agent_id = entry.task.agent_id.value.clone();
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent
                    .tasks
                    .remove(&(framework_id.to_string(), task_id.clone()));
            }
            if !entry.task.state().is_terminal() {
                agents_to_tell.insert(agent_id.clone());
                Arc::make_mut(&mut entry.task).set_state(TaskState::TaskKilled);
                self.counters.tasks_killed += 1;
            }
            push_completed(
                &mut framework.completed_tasks,
                entry.task,
                self.config.max_completed_tasks_per_framework,
            );
        }
        for agent_id in agents_to_tell {
            self.send_to_agent(
                &agent_id,
                master_message::Message::ShutdownFramework(internal::ShutdownFramework {
                    framework_id: fid(framework_id),
                }),
            );
        }
        allocator_result(self.allocator.remove_framework(framework_id));
        framework.active = false;
        framework.subscriber = None;
        framework.unregistered_time = Some(wall_clock_secs());
        self.emit(|| EngineEvent::FrameworkRemoved {
            info: Box::new(framework.info.clone()),
        });
        self.completed_frameworks.push_back(framework);
        while self.completed_frameworks.len() > self.config.max_completed_frameworks {
            self.completed_frameworks.pop_front();
        }
        self.allocation_pending = true;
    }

    // ------------------------------------------------------------------ scheduler calls

    pub fn teardown(&mut self, framework_id: &str, now: Duration) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            // TEARDOWN ends the stream: dropping the sender closes the response body.
            f.subscriber = None;
        }
        self.remove_framework(framework_id, now);
    }

    pub fn decline(
        &mut self,
        framework_id: &str,
        offer_ids: &[v1::OfferId],
        filters: Option<&v1::Filters>,
        now: Duration,
    ) {
        let refuse = refuse_duration(filters);
        for offer_id in offer_ids {
            let Some(offer) = self.offers.get(&offer_id.value) else {
                continue;
            };
            if offer.framework_id != framework_id {
                continue;
            }
            let offer = self.take_offer(&offer_id.value).expect("offer exists");
            self.counters.offers_declined += 1;
            allocator_result(self.allocator.recover_resources(
                framework_id,
                &offer.agent_id,
                &offer.resources,
                refuse,
                now,
            ));
        }
        self.allocation_pending = true;
    }

    pub fn revive(&mut self, framework_id: &str, roles: Vec<String>) {
        let roles = if roles.is_empty() { None } else { Some(roles) };
        allocator_result(self.allocator.revive(framework_id, roles));
        self.allocation_pending = true;
    }

    pub fn suppress(&mut self, framework_id: &str, roles: Vec<String>) {
        let roles = if roles.is_empty() { None } else { Some(roles) };
        allocator_result(self.allocator.suppress(framework_id, roles));
    }

    pub fn accept(&mut self, framework_id: &str, accept: scheduler::call::Accept, now: Duration) {
        let refuse = refuse_duration(accept.filters.as_ref());
        let pa = self
            .frameworks
            .get(framework_id)
            .map(|f| partition_aware(&f.info))
            .unwrap_or(false);

        // Validate the offers first: every task of an ACCEPT with a bad offer is dropped.
        let mut offer_error = None;
        let mut agent_id: Option<String> = None;
        let mut seen = HashSet::new();
        if accept.offer_ids.is_empty() {
            offer_error = Some("No offers specified".to_string());
        }
        for offer_id in &accept.offer_ids {
            if !seen.insert(offer_id.value.clone()) {
                offer_error = Some(format!("Duplicate offer {} in ACCEPT", offer_id.value));
                break;
            }
            match self.offers.get(&offer_id.value) {
                None => {
                    offer_error = Some(format!("Offer {} is no longer valid", offer_id.value));
                    break;
                }
                Some(o) if o.framework_id != framework_id => {
                    offer_error = Some(format!(
                        "Offer {} has invalid framework {} while framework {} is expected",
                        offer_id.value, o.framework_id, framework_id
                    ));
                    break;
                }
                Some(o) => match &agent_id {
                    Some(a) if a != &o.agent_id => {
                        offer_error = Some(format!(
                            "Aggregated offers must belong to one single agent. Offer {} uses agent {} and agent {}",
                            offer_id.value, o.agent_id, a
                        ));
                        break;
                    }
                    _ => agent_id = Some(o.agent_id.clone()),
                },
            }
        }

        if let Some(error) = offer_error {
            warn!(framework_id, %error, "ACCEPT with invalid offers");
            // The valid offers among them go back to the allocator, as Mesos does.
            for offer_id in &accept.offer_ids {
                if self
                    .offers
                    .get(&offer_id.value)
                    .is_some_and(|o| o.framework_id == framework_id)
                {
                    let o = self.take_offer(&offer_id.value).expect("offer exists");
                    allocator_result(self.allocator.recover_resources(
                        framework_id,
                        &o.agent_id,
                        &o.resources,
                        None,
                        now,
                    ));
                }
            }
            let state = if pa {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for op in &accept.operations {
                for task in launch_tasks(op) {
                    let status = master_status(
                        &task.task_id.value.clone(),
                        Some(task.agent_id.value.as_str()),
                        state,
                        Reason::InvalidOffers,
                        format!("Task launched with invalid offers: {error}"),
                    );
                    self.count_terminal(state);
                    self.send_to_framework(framework_id, &update_event(status));
                }
            }
            self.allocation_pending = true;
            return;
        }

        let agent_id = agent_id.expect("at least one valid offer");
        let mut available = Resources::default();
        for offer_id in &accept.offer_ids {
            let o = self.take_offer(&offer_id.value).expect("validated");
            available = available.plus(&o.resources);
        }
        self.counters.offers_accepted += accept.offer_ids.len() as u64;

        for op in accept.operations {
            let op_type = op.r#type();
            match op_type {
                v1::offer::operation::Type::Launch => {
                    let tasks = op.launch.map(|l| l.task_infos).unwrap_or_default();
                    for task in tasks {
                        self.launch_task(framework_id, &agent_id, task, &mut available, pa);
                    }
                }
                v1::offer::operation::Type::LaunchGroup => match op.launch_group {
                    Some(group) => {
                        self.launch_group(framework_id, &agent_id, group, &mut available, pa)
                    }
                    None => self.send_to_framework(
                        framework_id,
                        &error_event("LAUNCH_GROUP operation without 'launch_group'"),
                    ),
                },
                other => {
                    // Reservations and volumes are not supported yet; say so instead of
                    // silently ignoring the operation.
                    self.send_to_framework(
                        framework_id,
                        &error_event(format!(
                            "Offer operation {} is not supported by this master",
                            other.as_str_name()
                        )),
                    );
                }
            }
        }

        if !available.is_empty() {
            allocator_result(self.allocator.recover_resources(
                framework_id,
                &agent_id,
                &available,
                refuse,
                now,
            ));
        }
        self.allocation_pending = true;
    }

    fn launch_task(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task: v1::TaskInfo,
        available: &mut Resources,
        partition_aware: bool,
    ) {
        let task_id = task.task_id.value.clone();
        let resources = match self.validate_task(framework_id, agent_id, &task, available) {
            Ok(r) => r,
            Err(message) => {
                warn!(framework_id, task_id, %message, "invalid task");
                let status = master_status(
                    &task_id,
                    Some(agent_id),
                    TaskState::TaskError,
                    Reason::TaskInvalid,
                    message,
                );
                self.count_terminal(TaskState::TaskError);
                self.send_to_framework(framework_id, &update_event(status));
                return;
            }
        };
        let connected = self.agents.get(agent_id).is_some_and(|a| a.conn.is_some());
        if !connected {
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            let status = master_status(
                &task_id,
                Some(agent_id),
                state,
                Reason::AgentRemoved,
                "Agent is not connected",
            );
            self.count_terminal(state);
            self.send_to_framework(framework_id, &update_event(status));
            return;
        }
        *available = available.minus(&resources);
        let framework_info = self.record_task(framework_id, agent_id, &task, resources);
        // Per task, so debug: at thousands of launches a second an INFO line each costs ~10%
        // of the master's CPU. Framework and agent events stay at INFO.
        debug!(framework_id, agent_id, task_id, "launching task");
        self.send_to_agent(
            agent_id,
            master_message::Message::RunTask(internal::RunTask {
                framework_info,
                task,
            }),
        );
    }

    /// LAUNCH_GROUP: every task of the group is valid and launched, or none is.
    fn launch_group(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        group: v1::offer::operation::LaunchGroup,
        available: &mut Resources,
        partition_aware: bool,
    ) {
        let v1::offer::operation::LaunchGroup {
            executor,
            task_group,
        } = group;
        let mut remaining = available.clone();
        let mut checked = Vec::new();
        let mut error = None;
        if task_group.tasks.is_empty() {
            error = Some("Task group is empty".to_string());
        }
        match wire::resources_from_proto(&executor.resources) {
            Ok(r) if remaining.contains(&r) => remaining = remaining.minus(&r),
            Ok(r) => {
                error = Some(format!(
                    "Executor uses more resources {r} than available {remaining}"
                ))
            }
            Err(e) => error = Some(format!("Executor uses invalid resources: {e}")),
        }
        if let Err(e) = validate_id("Executor", &executor.executor_id.value) {
            error = Some(e);
        }
        let mut ids = HashSet::new();
        for task in &task_group.tasks {
            if error.is_some() {
                break;
            }
            if task.executor.is_some() {
                error = Some(format!(
                    "Task {} in a task group must not set an executor",
                    task.task_id.value
                ));
                break;
            }
            if !ids.insert(task.task_id.value.clone()) {
                error = Some(format!(
                    "Task group has duplicate task ID: {}",
                    task.task_id.value
                ));
                break;
            }
            match self.validate_task(framework_id, agent_id, task, &remaining) {
                Ok(r) => {
                    remaining = remaining.minus(&r);
                    checked.push(r);
                }
                Err(e) => error = Some(e),
            }
        }
        if let Some(message) = error {
            warn!(framework_id, %message, "invalid task group");
            for task in &task_group.tasks {
                let status = master_status(
                    &task.task_id.value,
                    Some(agent_id),
                    TaskState::TaskError,
                    Reason::TaskGroupInvalid,
                    message.clone(),
                );
                self.count_terminal(TaskState::TaskError);
                self.send_to_framework(framework_id, &update_event(status));
            }
            return;
        }
        if self.agents.get(agent_id).is_none_or(|a| a.conn.is_none()) {
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for task in &task_group.tasks {
                let status = master_status(
                    &task.task_id.value,
                    Some(agent_id),
                    state,
                    Reason::AgentRemoved,
                    "Agent is not connected",
                );
                self.count_terminal(state);
                self.send_to_framework(framework_id, &update_event(status));
            }
            return;
        }
        *available = remaining;
        let mut framework_info = None;
        for (task, resources) in task_group.tasks.iter().zip(checked) {
            let mut task = task.clone();
            task.executor = Some(executor.clone());
            framework_info = Some(self.record_task(framework_id, agent_id, &task, resources));
        }
        info!(framework_id, agent_id, executor_id = %executor.executor_id.value, "launching task group");
        self.send_to_agent(
            agent_id,
            master_message::Message::RunTaskGroup(internal::RunTaskGroup {
                framework_info: framework_info.expect("non-empty group"),
                executor,
                task_group,
            }),
        );
    }

    /// Starts tracking a task that is on its way to the agent; returns the framework's info
    /// for the message that carries it there.
    fn record_task(
        &mut self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        resources: Resources,
    ) -> v1::FrameworkInfo {
        let task_id = task.task_id.value.clone();
        let framework = self
            .frameworks
            .get_mut(framework_id)
            .expect("caller checked");
        let framework_info = framework.info.clone();
        if let Some(executor) = &task.executor {
            let mut executor = executor.clone();
            executor.framework_id = Some(fid(framework_id));
            framework.executors.insert(
                (agent_id.to_string(), executor.executor_id.value.clone()),
                executor,
            );
        }
        let mut proto = v1::Task {
            name: task.name.clone(),
            task_id: task.task_id.clone(),
            framework_id: fid(framework_id),
            executor_id: task.executor.as_ref().map(|e| e.executor_id.clone()),
            agent_id: aid(agent_id),
            resources: task.resources.clone(),
            labels: task.labels.clone(),
            discovery: task.discovery.clone().map(Box::new),
            container: task.container.clone().map(Box::new),
            health_check: task.health_check.clone().map(Box::new),
            kill_policy: task.kill_policy,
            user: Some(
                task.command
                    .as_ref()
                    .and_then(|c| c.user.clone())
                    .unwrap_or_else(|| framework.info.user.clone()),
            ),
            ..Default::default()
        };
        proto.set_state(TaskState::TaskStaging);
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(EngineEvent::TaskAdded {
                task: Box::new(proto.clone()),
            });
        }
        framework.tasks.insert(
            task_id.clone(),
            TaskEntry {
                task: Arc::new(proto),
                resources,
                recovered: false,
                terminal_uuid: None,
            },
        );
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent
                .tasks
                .insert((framework_id.to_string(), task_id.clone()));
        }
        framework_info
    }

    fn validate_task(
        &self,
        framework_id: &str,
        agent_id: &str,
        task: &v1::TaskInfo,
        available: &Resources,
    ) -> Result<Resources, String> {
        let task_id = task.task_id.value.as_str();
        validate_id("Task", task_id)?;
        let framework = self
            .frameworks
            .get(framework_id)
            .ok_or_else(|| "Framework is not subscribed".to_string())?;
        if framework.tasks.contains_key(task_id) {
            return Err(format!("Task has duplicate ID: {task_id}"));
        }
        let task_agent = task.agent_id.value.as_str();
        if task_agent != agent_id {
            return Err(format!(
                "Task uses agent ID {task_agent} which does not match the offer's agent {agent_id}"
            ));
        }
        match (&task.command, &task.executor) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(
                    "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
                        .to_string(),
                )
            }
        }
        let resources = wire::resources_from_proto(&task.resources)
            .map_err(|e| format!("Task uses invalid resources: {e}"))?;
        if resources.is_empty() {
            return Err("Task uses no resources".to_string());
        }
        if !available.contains(&resources) {
            return Err(format!(
                "Task uses more resources {} than available {}",
                resources, available
            ));
        }
        Ok(resources)
    }

    pub fn kill(&mut self, framework_id: &str, kill: scheduler::call::Kill) {
        let task_id = kill.task_id.value.clone();
        let agent_id = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(&task_id))
            .map(|t| t.task.agent_id.value.clone());
        match agent_id {
            Some(agent_id) => {
                info!(framework_id, task_id, agent_id, "killing task");
                self.send_to_agent(
                    &agent_id,
                    master_message::Message::KillTask(internal::KillTask {
                        framework_id: fid(framework_id),
                        task_id: kill.task_id,
                        kill_policy: kill.kill_policy,
                    }),
                );
            }
            None => {
                // Unknown task: answer with reconciliation, as Mesos does.
                self.reconcile(
                    framework_id,
                    vec![scheduler::call::reconcile::Task {
                        task_id: kill.task_id,
                        agent_id: kill.agent_id,
                    }],
                );
            }
        }
    }

    pub fn acknowledge(&mut self, framework_id: &str, ack: scheduler::call::Acknowledge) {
        let task_id = ack.task_id.value.clone();
        let agent_id = ack.agent_id.value.clone();
        self.send_to_agent(
            &agent_id,
            master_message::Message::Acknowledgement(internal::StatusUpdateAcknowledgement {
                framework_id: fid(framework_id),
                task_id: ack.task_id.clone(),
                uuid: ack.uuid.clone(),
            }),
        );
        let max_completed = self.config.max_completed_tasks_per_framework;
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework
            .tasks
            .get(&task_id)
            .is_some_and(|t| t.terminal_uuid.as_deref() == Some(ack.uuid.as_slice()));
        if done {
            let entry = framework.tasks.remove(&task_id).expect("checked");
            push_completed(&mut framework.completed_tasks, entry.task, max_completed);
            if let Some(agent) = self.agents.get_mut(&agent_id) {
                agent.tasks.remove(&(framework_id.to_string(), task_id));
            }
        }
    }

    pub fn reconcile(&mut self, framework_id: &str, tasks: Vec<scheduler::call::reconcile::Task>) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let pa = partition_aware(&framework.info);
        let mut statuses = Vec::new();
        if tasks.is_empty() {
            for entry in framework.tasks.values() {
                statuses.push(reconciliation_status(&entry.task));
            }
        } else {
            for t in tasks {
                let task_id = t.task_id.value;
                let agent_id = t.agent_id.map(|a| a.value);
                if let Some(entry) = framework.tasks.get(&task_id) {
                    statuses.push(reconciliation_status(&entry.task));
                    continue;
                }
                let state = match (&agent_id, pa) {
                    (_, false) => TaskState::TaskLost,
                    (Some(a), true) if self.agents.contains_key(a) => TaskState::TaskGone,
                    (Some(a), true) if self.unreachable_agents.contains_key(a) => {
                        TaskState::TaskUnreachable
                    }
                    (_, true) => TaskState::TaskUnknown,
                };
                statuses.push(master_status(
                    &task_id,
                    agent_id.as_deref(),
                    state,
                    Reason::Reconciliation,
                    "Reconciliation: Task is unknown",
                ));
            }
        }
        for status in statuses {
            self.send_to_framework(framework_id, &update_event(status));
        }
    }

    /// UPDATE_FRAMEWORK: new FrameworkInfo (roles, capabilities, failover timeout, ...) and
    /// suppressed roles for a subscribed framework. The user, principal and checkpoint flag
    /// are fixed at subscription, as in Mesos.
    pub fn update_framework(
        &mut self,
        framework_id: &str,
        update: scheduler::call::UpdateFramework,
    ) -> Result<(), CallError> {
        let info = update.framework_info;
        validate_framework_info(&info)?;
        let framework = self.frameworks.get_mut(framework_id).ok_or_else(|| {
            CallError::Forbidden(format!("Framework '{framework_id}' is not subscribed"))
        })?;
        if info.user != framework.info.user {
            return Err(CallError::BadRequest(
                "Updating 'FrameworkInfo.user' is unsupported".to_string(),
            ));
        }
        if info.principal != framework.info.principal {
            return Err(CallError::BadRequest(
                "Updating 'FrameworkInfo.principal' is unsupported".to_string(),
            ));
        }
        if info.checkpoint() != framework.info.checkpoint() {
            return Err(CallError::BadRequest(
                "Updating 'FrameworkInfo.checkpoint' is unsupported".to_string(),
            ));
        }
        let roles = framework_roles(&info);
        framework.info = info;
        allocator_result(self.allocator.update_framework(
            framework_id,
            FrameworkSpec {
                roles,
                suppressed_roles: update.suppressed_roles,
            },
        ));
        self.emit(|| EngineEvent::FrameworkUpdated {
            framework_id: framework_id.to_string(),
        });
        self.allocation_pending = true;
        Ok(())
    }

    /// SHUTDOWN: stop a custom executor (and with it its tasks) on an agent.
    pub fn shutdown_executor(&mut self, framework_id: &str, shutdown: scheduler::call::Shutdown) {
        self.send_to_agent(
            &shutdown.agent_id.value,
            master_message::Message::ShutdownExecutor(internal::ShutdownExecutor {
                framework_id: fid(framework_id),
                executor_id: shutdown.executor_id,
            }),
        );
    }

    pub fn framework_message(&mut self, framework_id: &str, msg: scheduler::call::Message) {
        let agent_id = msg.agent_id.value.clone();
        self.send_to_agent(
            &agent_id,
            master_message::Message::FrameworkMessage(internal::FrameworkToExecutor {
                framework_id: fid(framework_id),
                executor_id: msg.executor_id,
                data: msg.data,
            }),
        );
    }

    // ------------------------------------------------------------------ agents

    /// An agent opened its stream and sent Register. Returns the id it now has.
    pub fn agent_connected(
        &mut self,
        conn_id: u64,
        register: internal::Register,
        tx: AgentSender,
        now: Duration,
    ) -> Result<String, String> {
        let mut info = register.agent_info;
        let total = wire::resources_from_proto(&info.resources)
            .map_err(|e| format!("invalid agent resources: {e}"))?;
        let wall = wall_clock_secs();
        let claimed = info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .filter(|s| !s.is_empty());
        let agent_id = match claimed {
            Some(id) => id,
            None => {
                let id = ids::agent_id(&self.id, self.next_agent);
                self.next_agent += 1;
                id
            }
        };
        if let Some(refusal) = admin::refusal(self, &agent_id) {
            return Err(refusal);
        }
        info.id = Some(aid(&agent_id));
        self.unreachable_agents.remove(&agent_id);

        let reported: HashMap<(String, String), v1::Task> = register
            .tasks
            .into_iter()
            .map(|t| {
                let f = t.framework_id.value.clone();
                let id = t.task_id.value.clone();
                ((f, id), t)
            })
            .collect();
        let reported_frameworks: HashMap<String, v1::FrameworkInfo> = register
            .frameworks
            .into_iter()
            .filter_map(|f| Some((f.id.clone()?.value, f)))
            .collect();

        let existing = self.agents.remove(&agent_id);
        let reregistered = existing.is_some();
        if let Some(old) = existing {
            info!(agent_id, "agent re-registered");
            // Tasks the master thought were there but the agent no longer has are lost.
            for key in &old.tasks {
                if !reported.contains_key(key) {
                    self.task_gone_with_agent(
                        &key.0,
                        &key.1,
                        &agent_id,
                        TaskState::TaskLost,
                        Reason::AgentReregistered,
                        "Task was not found on the agent when it re-registered",
                        now,
                    );
                }
            }
            for offer in old.offers {
                self.remove_offer(&offer, false, now);
            }
            allocator_result(self.allocator.remove_agent(&agent_id));
        } else {
            info!(agent_id, hostname = %info.hostname, "agent registered");
        }

        let resources_wire = v1::AgentInfo {
            resources: std::mem::take(&mut info.resources),
            ..Default::default()
        }
        .encode_to_vec()
        .into_boxed_slice();
        let mut agent = Agent {
            id: agent_id.clone(),
            total: total.clone(),
            info,
            resources_wire,
            version: register.version.unwrap_or_default(),
            http_address: register.http_address.unwrap_or_default(),
            registered_time: wall,
            reregistered_time: reregistered.then_some(wall),
            conn: Some(AgentConn { id: conn_id, tx }),
            missed_pings: 0,
            ping_outstanding: Arc::new(AtomicBool::new(false)),
            next_ping: now + self.config.agent_ping_timeout,
            tasks: HashSet::new(),
            offers: HashSet::new(),
            offered: Resources::default(),
            offers_revision: 0,
            allocator_slot: None,
            views: ViewSlot::default(),
        };
        self.ping_queue
            .push(Reverse((agent.next_ping, agent_id.clone())));

        // Rebuild what the agent reports: tasks the master does not know (it restarted)
        // and frameworks it has never seen (recovered, waiting for the scheduler).
        let mut used: HashMap<String, Resources> = HashMap::new();
        for ((framework_id, task_id), task) in reported {
            if !self.frameworks.contains_key(&framework_id) {
                if self
                    .completed_frameworks
                    .iter()
                    .any(|f| f.id == framework_id)
                {
                    self.send_to_conn(
                        &agent.conn,
                        master_message::Message::ShutdownFramework(internal::ShutdownFramework {
                            framework_id: fid(&framework_id),
                        }),
                    );
                    continue;
                }
                let finfo = reported_frameworks
                    .get(&framework_id)
                    .cloned()
                    .unwrap_or_else(|| v1::FrameworkInfo {
                        id: Some(fid(&framework_id)),
                        ..Default::default()
                    });
                self.add_recovered_framework(&framework_id, finfo);
            }
            let resources = wire::resources_from_proto(&task.resources).unwrap_or_default();
            let terminal = task.state().is_terminal();
            if !terminal {
                let entry = used.entry(framework_id.clone()).or_default();
                *entry = entry.plus(&resources);
            }
            let framework = self.frameworks.get_mut(&framework_id).expect("ensured");
            framework
                .tasks
                .entry(task_id.clone())
                .and_modify(|e| {
                    Arc::make_mut(&mut e.task).set_state(task.state());
                    e.recovered = terminal;
                })
                .or_insert(TaskEntry {
                    task: Arc::new(task),
                    resources,
                    recovered: terminal,
                    terminal_uuid: None,
                });
            agent.tasks.insert((framework_id, task_id));
        }

        allocator_result(self.allocator.add_agent(
            &agent_id,
            AgentSpec {
                hostname: agent.info.hostname.clone(),
                total,
            },
            used,
        ));
        agent.allocator_slot = self.allocator.agent_slot(&agent_id);
        self.agents.insert(agent_id.clone(), agent);
        admin::agent_admitted(self, &agent_id);
        self.emit(|| EngineEvent::AgentAdded {
            agent_id: agent_id.clone(),
        });

        self.send_to_agent(
            &agent_id,
            master_message::Message::Registered(internal::Registered {
                agent_id: aid(&agent_id),
                master_info: self.info.clone(),
                ping_interval_seconds: Some(self.config.agent_ping_timeout.as_secs_f64()),
                max_ping_timeouts: Some(self.config.max_agent_ping_timeouts),
            }),
        );
        self.allocation_pending = true;
        Ok(agent_id)
    }

    pub(crate) fn add_recovered_framework(&mut self, framework_id: &str, info: v1::FrameworkInfo) {
        info!(framework_id, "recovered framework from an agent's report");
        allocator_result(self.allocator.add_framework(
            framework_id,
            FrameworkSpec {
                roles: framework_roles(&info),
                suppressed_roles: Vec::new(),
            },
            false,
        ));
        self.frameworks.insert(
            framework_id.to_string(),
            Framework {
                id: framework_id.to_string(),
                info,
                subscriber: None,
                last_stream_id: String::new(),
                active: false,
                recovered: true,
                registered_time: wall_clock_secs(),
                reregistered_time: None,
                unregistered_time: None,
                failover_deadline: None,
                tasks: BTreeMap::new(),
                completed_tasks: VecDeque::new(),
                executors: BTreeMap::new(),
                offers: HashSet::new(),
                offered: ResourceSum::default(),
            },
        );
    }

    /// The agent's stream ended. Its tasks stay until it misses enough pings.
    pub fn agent_disconnected(&mut self, agent_id: &str, conn_id: u64, now: Duration) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if agent.conn.as_ref().is_none_or(|c| c.id != conn_id) {
            return;
        }
        info!(agent_id, "agent disconnected");
        agent.conn = None;
        let offers: Vec<String> = agent.offers.iter().cloned().collect();
        allocator_result(self.allocator.deactivate_agent(agent_id));
        for offer in offers {
            self.remove_offer(&offer, true, now);
        }
    }

    pub fn agent_message(&mut self, agent_id: &str, msg: internal::AgentMessage, now: Duration) {
        use internal::agent_message::Message;
        match msg.message {
            Some(Message::Pong(_)) => {
                // Streams take pongs themselves; one that reaches the engine counts the same.
                if let Some(agent) = self.agents.get(agent_id) {
                    agent.ping_outstanding.store(false, Ordering::Relaxed);
                }
            }
            Some(Message::StatusUpdate(update)) => self.status_update(agent_id, update, now),
            Some(Message::ExecutorMessage(m)) => {
                let framework_id = m.framework_id.value.clone();
                let mut e = scheduler::Event {
                    message: Some(event::Message {
                        agent_id: aid(agent_id),
                        executor_id: m.executor_id,
                        data: m.data,
                    }),
                    ..Default::default()
                };
                e.set_type(event::Type::Message);
                self.send_to_framework(&framework_id, &e);
            }
            Some(Message::ExitedExecutor(exited)) => {
                let framework_id = exited.framework_id.value.clone();
                if let Some(f) = self.frameworks.get_mut(&framework_id) {
                    f.executors
                        .remove(&(agent_id.to_string(), exited.executor_id.value.clone()));
                }
                let mut e = scheduler::Event {
                    failure: Some(event::Failure {
                        agent_id: Some(aid(agent_id)),
                        executor_id: Some(exited.executor_id),
                        status: exited.status,
                    }),
                    ..Default::default()
                };
                e.set_type(event::Type::Failure);
                self.send_to_framework(&framework_id, &e);
            }
            Some(Message::Register(_)) => {
                warn!(agent_id, "duplicate Register on an open stream ignored");
            }
            None => {}
        }
    }

    fn status_update(&mut self, agent_id: &str, update: internal::StatusUpdate, now: Duration) {
        let framework_id = update.framework_id.value.clone();
        let mut status = update.status;
        let task_id = status.task_id.value.clone();
        let latest = update
            .latest_state
            .and_then(|s| TaskState::try_from(s).ok())
            .unwrap_or(status.state());
        status.agent_id.get_or_insert_with(|| aid(agent_id));

        if !self.frameworks.contains_key(&framework_id) {
            if self
                .completed_frameworks
                .iter()
                .any(|f| f.id == framework_id)
            {
                // Nobody will ever acknowledge it: do it on the framework's behalf.
                if let Some(uuid) = status.uuid.clone() {
                    self.send_to_agent(
                        agent_id,
                        master_message::Message::Acknowledgement(
                            internal::StatusUpdateAcknowledgement {
                                framework_id: fid(&framework_id),
                                task_id: status.task_id.clone(),
                                uuid,
                            },
                        ),
                    );
                }
            }
            self.counters.invalid_status_updates += 1;
            return;
        }
        self.counters.valid_status_updates += 1;

        let mut recover = None;
        let mut count = None;
        {
            let framework = self.frameworks.get_mut(&framework_id).expect("checked");
            if let Some(entry) = framework.tasks.get_mut(&task_id) {
                let previous = entry.task.state();
                let task = Arc::make_mut(&mut entry.task);
                task.set_state(latest);
                if task.statuses.last().map(|s| (s.state, &s.uuid))
                    != Some((status.state, &status.uuid))
                {
                    let mut kept = status.clone();
                    kept.data = None;
                    push_status(task, kept);
                }
                task.status_update_state = Some(status.state);
                task.status_update_uuid = status.uuid.clone();
                if status.state().is_terminal() {
                    entry.terminal_uuid = status.uuid.clone();
                }
                if latest.is_terminal() && !entry.recovered {
                    entry.recovered = true;
                    recover = Some(entry.resources.clone());
                }
                if latest.is_terminal() && !previous.is_terminal() {
                    count = Some(latest);
                }
                debug!(framework_id, task_id, state = ?status.state(), "status update");
                if self.events.receiver_count() > 0 {
                    let _ = self.events.send(EngineEvent::TaskUpdated {
                        framework_id: framework_id.clone(),
                        status: Box::new(status.clone()),
                        state: latest,
                    });
                }
            }
        }
        if let Some(state) = count {
            self.count_terminal(state);
        }
        if let Some(resources) = recover {
            allocator_result(self.allocator.recover_resources(
                &framework_id,
                agent_id,
                &resources,
                None,
                now,
            ));
            self.allocation_pending = true;
        }
        self.send_to_framework(&framework_id, &update_event(status));
    }

    /// Liveness: pings the agents that are due at `now` (call it often: each agent has its own
    /// time). An agent that missed `max_agent_ping_timeouts` pings in a row is unreachable.
    pub fn ping_agents(&mut self, now: Duration) {
        let interval = self.config.agent_ping_timeout;
        let max = self.config.max_agent_ping_timeouts;
        let mut lost = Vec::new();
        while let Some(Reverse((due, _))) = self.ping_queue.peek() {
            if *due > now {
                break;
            }
            let Some(Reverse((due, agent_id))) = self.ping_queue.pop() else {
                break;
            };
            let Some(agent) = self.agents.get_mut(&agent_id) else {
                continue;
            };
            if agent.next_ping != due {
                // Left over from an earlier registration of the agent.
                continue;
            }
            let unanswered = agent.ping_outstanding.swap(true, Ordering::Relaxed);
            if unanswered || agent.conn.is_none() {
                agent.missed_pings += 1;
            } else {
                agent.missed_pings = 0;
            }
            if agent.missed_pings >= max {
                lost.push(agent_id);
                continue;
            }
            // Keep the agent's phase unless the master fell a whole interval behind.
            let next = (due + interval).max(now + interval / 2);
            agent.next_ping = next;
            self.ping_queue.push(Reverse((next, agent_id.clone())));
            self.send_to_agent(
                &agent_id,
                master_message::Message::Ping(internal::Ping { seq: 0 }),
            );
        }
        for agent_id in lost {
            self.mark_agent_unreachable(&agent_id, now);
        }
    }

    pub(crate) fn mark_agent_unreachable(&mut self, agent_id: &str, now: Duration) {
        let Some(agent) = self.agents.remove(agent_id) else {
            return;
        };
        warn!(agent_id, "agent unreachable: it missed too many pings");
        self.forget_executors_on(agent_id);
        for offer in agent.offers.iter() {
            self.remove_offer(offer, true, now);
        }
        allocator_result(self.allocator.remove_agent(agent_id));
        self.unreachable_agents
            .insert(agent_id.to_string(), wall_clock_secs());
        self.emit(|| EngineEvent::AgentRemoved {
            agent_id: agent_id.to_string(),
        });
        for (framework_id, task_id) in agent.tasks {
            self.task_gone_with_agent(
                &framework_id,
                &task_id,
                agent_id,
                TaskState::TaskUnreachable,
                Reason::AgentRemoved,
                "Agent is unreachable",
                now,
            );
            if let Some(framework) = self.frameworks.get(&framework_id) {
                let mut failure = scheduler::Event {
                    failure: Some(event::Failure {
                        agent_id: Some(aid(agent_id)),
                        executor_id: None,
                        status: None,
                    }),
                    ..Default::default()
                };
                failure.set_type(event::Type::Failure);
                if framework.subscriber.is_some() {
                    self.send_to_framework(&framework_id, &failure);
                }
            }
        }
    }

    /// A task is gone because its agent is: TASK_UNREACHABLE for partition-aware
    /// frameworks, TASK_LOST for the others (`state` says which the caller prefers).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn task_gone_with_agent(
        &mut self,
        framework_id: &str,
        task_id: &str,
        agent_id: &str,
        state: TaskState,
        reason: Reason,
        message: &str,
        now: Duration,
    ) {
        let max_completed = self.config.max_completed_tasks_per_framework;
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let pa = partition_aware(&framework.info);
        let Some(mut entry) = framework.tasks.remove(task_id) else {
            return;
        };
        if entry.task.state().is_terminal() {
            push_completed(&mut framework.completed_tasks, entry.task, max_completed);
            return;
        }
        // Frameworks that are not partition-aware know only TASK_LOST for all of these.
        let state = match state {
            TaskState::TaskUnreachable | TaskState::TaskGone | TaskState::TaskGoneByOperator
                if !pa =>
            {
                TaskState::TaskLost
            }
            other => other,
        };
        let mut status = master_status(task_id, Some(agent_id), state, reason, message);
        if state == TaskState::TaskUnreachable {
            status.unreachable_time = Some(v1::TimeInfo {
                nanoseconds: (wall_clock_secs() * 1e9) as i64,
            });
        }
        let task = Arc::make_mut(&mut entry.task);
        task.set_state(state);
        push_status(task, status.clone());
        let recover = (!entry.recovered).then(|| entry.resources.clone());
        push_completed(&mut framework.completed_tasks, entry.task, max_completed);
        if let Some(resources) = recover {
            if self.agents.contains_key(agent_id) {
                allocator_result(self.allocator.recover_resources(
                    framework_id,
                    agent_id,
                    &resources,
                    None,
                    now,
                ));
            }
        }
        self.publish_master_update(framework_id, status);
    }

    /// A status the master itself decided (the task's agent is gone, ...): counted, shown
    /// to observers and sent to the framework.
    pub(crate) fn publish_master_update(&mut self, framework_id: &str, status: v1::TaskStatus) {
        let state = status.state();
        self.count_terminal(state);
        self.emit(|| EngineEvent::TaskUpdated {
            framework_id: framework_id.to_string(),
            status: Box::new(status.clone()),
            state,
        });
        self.send_to_framework(framework_id, &update_event(status));
    }

    // ------------------------------------------------------------------ timers

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

    /// Runs an allocation cycle if anything may have changed (or `force`), sending offers.
    pub fn allocate(&mut self, now: Duration, force: bool) {
        if !force && !self.allocation_pending {
            return;
        }
        self.allocation_pending = false;
        let started = std::time::Instant::now();
        let allocations = self.allocator.allocate(now);
        self.counters.allocation_runs += 1;
        self.counters.last_allocation_ms = started.elapsed().as_secs_f64() * 1000.0;
        if self.counters.last_allocation_ms > SLOW_ALLOCATION_MS {
            debug!(
                ms = self.counters.last_allocation_ms,
                offers = allocations.len(),
                "slow allocation cycle"
            );
        }
        let mut per_framework: HashMap<String, Vec<v1::Offer>> = HashMap::new();
        for allocation in allocations {
            let framework_id = allocation.framework_id.clone();
            let agent_id = allocation.agent_id.clone();
            let (Some(agent), true) = (
                self.agents.get(&agent_id),
                self.frameworks
                    .get(&framework_id)
                    .is_some_and(|f| f.subscriber.is_some()),
            ) else {
                allocator_result(self.allocator.recover_resources(
                    &framework_id,
                    &agent_id,
                    &allocation.resources,
                    None,
                    now,
                ));
                continue;
            };
            let offer_id = ids::offer_id(&self.id, self.next_offer);
            self.next_offer += 1;
            let offered = allocation.resources.clone();
            let entry = OfferEntry {
                framework_id: framework_id.clone(),
                agent_id: agent_id.clone(),
                resources: allocation.resources,
                created: now,
                role: allocation.role,
            };
            per_framework
                .entry(framework_id.clone())
                .or_default()
                .push(offer_proto(&offer_id, &entry, agent));
            self.offers.insert(offer_id.clone(), entry);
            if let Some(f) = self.frameworks.get_mut(&framework_id) {
                f.offers.insert(offer_id.clone());
                f.offered.add(&offered);
            }
            if let Some(a) = self.agents.get_mut(&agent_id) {
                a.offers.insert(offer_id);
                a.offered.add(&offered);
                a.offers_revision += 1;
            }
        }
        for (framework_id, offers) in per_framework {
            let mut e = scheduler::Event {
                offers: Some(event::Offers { offers }),
                ..Default::default()
            };
            e.set_type(event::Type::Offers);
            self.send_to_framework(&framework_id, &e);
        }
    }

    // ------------------------------------------------------------------ helpers

    pub(crate) fn take_offer(&mut self, offer_id: &str) -> Option<OfferEntry> {
        let offer = self.offers.remove(offer_id)?;
        if let Some(f) = self.frameworks.get_mut(&offer.framework_id) {
            f.offers.remove(offer_id);
            if f.offered.remove(&offer.resources).is_err() {
                warn!(
                    offer_id,
                    "a framework's offered sum lacked an offer's resources"
                );
            }
        }
        if let Some(a) = self.agents.get_mut(&offer.agent_id) {
            a.offers.remove(offer_id);
            // Summed again rather than subtracted: exact, and an agent has few offers.
            let mut offered = Resources::default();
            for o in a.offers.iter().filter_map(|o| self.offers.get(o)) {
                offered.add(&o.resources);
            }
            a.offered = offered;
            a.offers_revision += 1;
        }
        Some(offer)
    }

    /// Withdraws an offer, giving its resources back; `rescind` tells the framework.
    pub(crate) fn remove_offer(&mut self, offer_id: &str, rescind: bool, now: Duration) {
        let Some(offer) = self.take_offer(offer_id) else {
            return;
        };
        if rescind {
            self.counters.offers_rescinded += 1;
            let mut e = scheduler::Event {
                rescind: Some(event::Rescind {
                    offer_id: v1::OfferId {
                        value: offer_id.to_string(),
                    },
                }),
                ..Default::default()
            };
            e.set_type(event::Type::Rescind);
            self.send_to_framework(&offer.framework_id, &e);
        }
        if self.agents.contains_key(&offer.agent_id) {
            allocator_result(self.allocator.recover_resources(
                &offer.framework_id,
                &offer.agent_id,
                &offer.resources,
                None,
                now,
            ));
        }
        self.allocation_pending = true;
    }

    pub(crate) fn count_terminal(&mut self, state: TaskState) {
        let c = &mut self.counters;
        match state {
            TaskState::TaskFinished => c.tasks_finished += 1,
            TaskState::TaskFailed => c.tasks_failed += 1,
            TaskState::TaskKilled => c.tasks_killed += 1,
            TaskState::TaskLost => c.tasks_lost += 1,
            TaskState::TaskError => c.tasks_error += 1,
            TaskState::TaskDropped => c.tasks_dropped += 1,
            TaskState::TaskUnreachable => c.tasks_unreachable += 1,
            TaskState::TaskGone | TaskState::TaskGoneByOperator => c.tasks_gone += 1,
            _ => {}
        }
    }

    pub(crate) fn send_to_framework(&mut self, framework_id: &str, event: &scheduler::Event) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let Some(subscriber) = &framework.subscriber else {
            return;
        };
        match subscriber.send(event) {
            Delivery::Queued => {}
            Delivery::Deferred => self.counters.deferred_updates += 1,
            Delivery::Lost => {
                self.counters.dropped_messages += 1;
                warn!(
                    framework_id,
                    queued_bytes = subscriber.tx.queued_bytes(),
                    "event stream closed or hopelessly behind; dropping the connection"
                );
                self.drop_subscriber(framework_id);
            }
        }
    }

    /// Dropping the sender ends the response body; the stream's guard then reports the
    /// close and `framework_stream_closed` handles it like any disconnect.
    fn drop_subscriber(&mut self, framework_id: &str) {
        if let Some(f) = self.frameworks.get_mut(framework_id) {
            f.subscriber = None;
        }
    }

    /// Drops subscribers that have read nothing for a long time with a full queue: a
    /// connection that is open but never read would otherwise hold its queue forever.
    fn drop_stalled_subscribers(&mut self, now: Duration) {
        let mut stalled = Vec::new();
        for framework in self.frameworks.values_mut() {
            if let Some(subscriber) = &mut framework.subscriber {
                if subscriber.stall.stalled(&subscriber.tx, now) {
                    stalled.push(framework.id.clone());
                }
            }
        }
        for framework_id in stalled {
            warn!(
                framework_id,
                "event stream read nothing for {}s with a full queue; dropping the connection",
                event_queue::STALL_TIMEOUT.as_secs()
            );
            self.counters.dropped_messages += 1;
            self.drop_subscriber(&framework_id);
        }
    }

    fn send_to_conn(&mut self, conn: &Option<AgentConn>, message: master_message::Message) {
        if let Some(conn) = conn {
            if conn
                .tx
                .try_send(Box::new(internal::MasterMessage {
                    message: Some(message),
                }))
                .is_err()
            {
                self.counters.dropped_messages += 1;
            }
        }
    }

    pub(crate) fn send_to_agent(&mut self, agent_id: &str, message: master_message::Message) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let sent = agent.conn.as_ref().map(|c| {
            c.tx.try_send(Box::new(internal::MasterMessage {
                message: Some(message),
            }))
            .is_ok()
        });
        if sent == Some(false) {
            self.counters.dropped_messages += 1;
            warn!(agent_id, "agent queue full or closed; message dropped");
        }
    }

    // ------------------------------------------------------------------ views

    pub(crate) fn framework_tasks<'a>(&self, f: &'a Framework) -> Vec<&'a v1::Task> {
        f.tasks.values().map(|e| &*e.task).collect()
    }

    /// The framework's executors by agent: those it launched, and those its tasks name
    /// that the master has not seen launched (it learnt of them from a re-registering
    /// agent after a change of leader), with what the tasks tell of them.
    pub(crate) fn framework_executors(f: &Framework) -> Vec<(String, v1::ExecutorInfo)> {
        let mut out: BTreeMap<(String, String), v1::ExecutorInfo> = f.executors.clone();
        for entry in f.tasks.values() {
            let task = &entry.task;
            if let Some(executor_id) = &task.executor_id {
                out.entry((task.agent_id.value.clone(), executor_id.value.clone()))
                    .or_insert_with(|| v1::ExecutorInfo {
                        executor_id: executor_id.clone(),
                        framework_id: Some(task.framework_id.clone()),
                        ..Default::default()
                    });
            }
        }
        out.into_iter()
            .map(|((agent_id, _), info)| (agent_id, info))
            .collect()
    }

    /// An agent left: the executors it ran are gone with it.
    pub(crate) fn forget_executors_on(&mut self, agent_id: &str) {
        for f in self.frameworks.values_mut() {
            f.executors.retain(|(agent, _), _| agent != agent_id);
        }
    }

    pub(crate) fn framework_offers(&self, f: &Framework) -> Vec<v1::Offer> {
        f.offers
            .iter()
            .filter_map(|id| {
                let entry = self.offers.get(id)?;
                Some(offer_proto(id, entry, self.agents.get(&entry.agent_id)?))
            })
            .collect()
    }

    pub(crate) fn framework_connected(f: &Framework) -> bool {
        f.subscriber.is_some()
    }

    pub(crate) fn agent_connected_now(a: &Agent) -> bool {
        a.conn.is_some()
    }

    /// (used by tasks, offered) resources of a framework: what the allocator has allocated
    /// to it less its outstanding offers, as for an agent ([`Engine::agent_usage`]); a
    /// framework the allocator does not know (completed) sums its tasks.
    pub(crate) fn framework_usage(&self, f: &Framework) -> (Resources, Resources) {
        let offered = f.offered.total();
        if let Some(allocated) = self.allocator.framework_allocated(&f.id) {
            let used = if offered.is_empty() {
                allocated
            } else {
                allocated.minus(&offered)
            };
            return (used, offered);
        }
        let mut used = Resources::default();
        for e in f.tasks.values() {
            if !e.task.state().is_terminal() {
                used.add(&e.resources);
            }
        }
        (used, offered)
    }

    /// (used by tasks, offered) resources on an agent: what the allocator has allocated
    /// there (it gets every launch and every recovery) less the outstanding offers, instead
    /// of a sum over the agent's tasks.
    pub(crate) fn agent_usage(&self, a: &Agent) -> (Resources, Resources) {
        let (allocated, offered) = self.agent_allocated_and_offered(a);
        (used_of(&allocated, &offered), offered)
    }

    /// What the allocator holds for the agent (offered or in use) and what of it is
    /// offered: cheap (usually shared, not summed); [`used_of`] makes the rest.
    pub(crate) fn agent_allocated_and_offered(&self, a: &Agent) -> (Resources, Resources) {
        let allocated = a
            .allocator_slot
            .and_then(|slot| self.allocator.agent_allocated(slot, &a.id))
            .unwrap_or_default();
        (allocated, a.offered.clone())
    }

    /// The flag an agent's stream clears when a pong comes (see `Agent::ping_outstanding`).
    pub(crate) fn agent_liveness(&self, agent_id: &str) -> Option<Arc<AtomicBool>> {
        Some(self.agents.get(agent_id)?.ping_outstanding.clone())
    }

    pub(crate) fn outstanding_offers(&self) -> usize {
        self.offers.len()
    }
}

/// What of an agent's `allocated` resources is in use rather than `offered`.
pub(crate) fn used_of(allocated: &Resources, offered: &Resources) -> Resources {
    if offered.is_empty() {
        allocated.clone()
    } else {
        allocated.minus(offered)
    }
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

fn launch_tasks(op: &v1::offer::Operation) -> Vec<&v1::TaskInfo> {
    let mut out: Vec<&v1::TaskInfo> = Vec::new();
    if let Some(l) = &op.launch {
        out.extend(l.task_infos.iter());
    }
    if let Some(g) = &op.launch_group {
        out.extend(g.task_group.tasks.iter());
    }
    out
}

fn reconciliation_status(task: &v1::Task) -> v1::TaskStatus {
    let mut status = task
        .statuses
        .last()
        .cloned()
        .unwrap_or_else(|| v1::TaskStatus {
            task_id: task.task_id.clone(),
            agent_id: Some(task.agent_id.clone()),
            ..Default::default()
        });
    status.set_state(task.state());
    status.uuid = None;
    status.set_source(Source::Master);
    status.set_reason(Reason::Reconciliation);
    status.message = Some("Reconciliation: Latest task state".to_string());
    status.timestamp = Some(wall_clock_secs());
    status
}

fn refuse_duration(filters: Option<&v1::Filters>) -> Option<Duration> {
    let secs = filters.map(|f| f.refuse_seconds()).unwrap_or(5.0);
    if secs.is_finite() && secs > 0.0 {
        Some(Duration::from_secs_f64(secs.min(365.0 * 86400.0)))
    } else {
        None
    }
}

/// Appends to a task's status history without the spare capacity `Vec::push` leaves (room
/// for four statuses, ~1.4 KB, on the first push): the master keeps every task's history.
fn push_status(task: &mut v1::Task, status: v1::TaskStatus) {
    task.statuses.reserve_exact(1);
    task.statuses.push(status);
}

fn push_completed(list: &mut VecDeque<Arc<v1::Task>>, task: Arc<v1::Task>, max: usize) {
    list.push_back(task);
    while list.len() > max {
        list.pop_front();
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

fn validate_framework_info(info: &v1::FrameworkInfo) -> Result<(), CallError> {
    if info.name.is_empty() {
        // Mesos accepts an empty name, but an unnamed framework is unreadable in every
        // UI; still, stay compatible and only reject what Mesos rejects.
    }
    let multi_role = has_capability(info, v1::framework_info::capability::Type::MultiRole);
    if !multi_role && !info.roles.is_empty() {
        return Err(CallError::BadRequest(
            "'FrameworkInfo.roles' is set but the MULTI_ROLE capability is not".to_string(),
        ));
    }
    #[allow(deprecated)] // the pre-MULTI_ROLE field is exactly what is checked here
    let legacy_role = info.role.is_some();
    if multi_role && legacy_role {
        return Err(CallError::BadRequest(
            "'FrameworkInfo.role' must not be set with the MULTI_ROLE capability".to_string(),
        ));
    }
    for role in framework_roles(info) {
        if role.is_empty() || role.contains('/') && role.split('/').any(|p| p.is_empty()) {
            return Err(CallError::BadRequest(format!("Role '{role}' is invalid")));
        }
        if role.chars().any(|c| c.is_whitespace() || c.is_control()) || role == "." || role == ".."
        {
            return Err(CallError::BadRequest(format!("Role '{role}' is invalid")));
        }
    }
    if let Some(t) = info.failover_timeout {
        if !t.is_finite() || t < 0.0 {
            return Err(CallError::BadRequest(
                "'FrameworkInfo.failover_timeout' must be a non-negative number".to_string(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
