//! One simulated agent: the real agent protocol (`mesos.internal.AgentService/Connect`, one
//! gRPC bidirectional stream) without processes behind it.
//!
//! The agent registers, answers pings, and "runs" each task it is given: it reports
//! TASK_STARTING and TASK_RUNNING at once and TASK_FINISHED when the task's run time is
//! over. A task whose command is `sleep <seconds>` runs that long, so the same TaskInfo
//! means the same thing to a simulated and to a real agent; any other task runs for
//! [`AgentSettings::default_task_duration`] (forever when unset). Status updates are
//! reliable as on a real agent: one ordered stream per task, only its head in flight,
//! re-sent with a doubling backoff until the master relays the framework's
//! acknowledgement. KillTask ends a task with TASK_KILLED.
//!
//! Streams go where the agent's [`Route`] says: a fixed master, or whichever master leads
//! the election in ZooKeeper. When another master is elected the agent drops its stream
//! and re-registers with the new one at once, with its tasks (as the real agent does).
//!
//! ```text
//!  master ══ Registered / RunTask / KillTask / Ack / Ping ══▶ SimAgent ──▶ FleetStats
//!         ◀═ Register / StatusUpdate (uuid, latest_state) / Pong ═╝  ▲
//!                                    timers: task finished, update retry
//! ```

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mesos_proto::internal::{
    agent_message, agent_service_client::AgentServiceClient, master_message, AgentMessage,
    MasterMessage, Pong, Register, StatusUpdate,
};
use mesos_proto::v1::{self, task_status::Source, TaskState};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt;
use tracing::{debug, warn};

use crate::fleet::Route;
use crate::seed;

/// Version reported in Register, the agent's own.
const VERSION: &str = "1.11.0";
/// Longest delay between two sends of the same status update (as on a real agent).
const RETRY_MAX: Duration = Duration::from_secs(600);
/// Longest delay between two attempts to open the stream.
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// What every agent of a fleet shares.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub seed: u64,
    /// The agent's total resources, as sent in `AgentInfo`.
    pub resources: Vec<v1::Resource>,
    /// First delay before an unacknowledged status update is sent again.
    pub retry_interval: Duration,
    /// Run time of a task whose command is not `sleep <seconds>`; `None`: until killed.
    pub default_task_duration: Option<Duration>,
    /// Report TASK_STARTING before TASK_RUNNING, as Mesos's command executor does.
    pub send_starting: bool,
    /// Base of the randomized delay before opening a stream again after a failure; it
    /// doubles with each failure in a row (up to 10 s).
    pub backoff: Duration,
}

/// Counters of a whole fleet, updated by every agent as things happen.
#[derive(Debug)]
pub struct FleetStats {
    /// Agents with a registered stream right now.
    pub registered: AtomicI64,
    /// Registered messages received (first registrations and re-registrations).
    pub registrations: AtomicU64,
    pub disconnections: AtomicU64,
    pub refused: AtomicU64,
    pub tasks_launched: AtomicU64,
    /// Tasks that reported TASK_RUNNING and no terminal state yet.
    pub tasks_active: AtomicI64,
    pub tasks_finished: AtomicU64,
    pub tasks_killed: AtomicU64,
    pub updates_sent: AtomicU64,
    pub updates_resent: AtomicU64,
    pub acknowledgements: AtomicU64,
    pub pings: AtomicU64,
    /// When each agent (by its place in the fleet) last received `Registered`, in
    /// microseconds since `epoch` (0: never).
    last_registered: Box<[AtomicU64]>,
    epoch: std::time::Instant,
}

impl FleetStats {
    pub fn new(agents: usize) -> FleetStats {
        FleetStats {
            registered: AtomicI64::new(0),
            registrations: AtomicU64::new(0),
            disconnections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            tasks_launched: AtomicU64::new(0),
            tasks_active: AtomicI64::new(0),
            tasks_finished: AtomicU64::new(0),
            tasks_killed: AtomicU64::new(0),
            updates_sent: AtomicU64::new(0),
            updates_resent: AtomicU64::new(0),
            acknowledgements: AtomicU64::new(0),
            pings: AtomicU64::new(0),
            last_registered: (0..agents).map(|_| AtomicU64::new(0)).collect(),
            epoch: std::time::Instant::now(),
        }
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn record_registration(&self, slot: usize) {
        let micros = self.epoch.elapsed().as_micros().max(1);
        if let Some(at) = self.last_registered.get(slot) {
            at.store(micros as u64, Ordering::Relaxed);
        }
    }

    /// When each agent of the fleet last received `Registered` (None: never).
    pub fn last_registered(&self) -> Vec<Option<std::time::Instant>> {
        self.last_registered
            .iter()
            .map(|at| match at.load(Ordering::Relaxed) {
                0 => None,
                micros => Some(self.epoch + Duration::from_micros(micros)),
            })
            .collect()
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

type TaskKey = (String, String);

struct SimTask {
    name: String,
    resources: Vec<v1::Resource>,
    /// The executor of a task group's task.
    executor: Option<String>,
    /// The newest state, which may be ahead of the update in flight.
    state: TaskState,
    /// Updates not acknowledged yet; the front one is in flight.
    pending: VecDeque<v1::TaskStatus>,
    /// Every status sent so far, reported on re-registration as the real agent does.
    statuses: Vec<v1::TaskStatus>,
    backoff: Duration,
}

enum TimerKind {
    Finish(TaskKey),
    Retry(TaskKey, Vec<u8>),
}

struct Timer {
    at: Instant,
    seq: u64,
    kind: TimerKind,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// How a stream ended.
enum End {
    Stop,
    Refused(String),
    Lost(String),
    /// Another master was elected: re-register with it at once.
    NewLeader,
}

/// The run time a task asks for: `sleep <seconds>` (optionally with an `s` suffix).
pub fn sleep_duration(task: &v1::TaskInfo) -> Option<Duration> {
    let command = task.command.as_ref()?.value.as_deref()?;
    let mut words = command.split_whitespace();
    let program = words.next()?;
    if program != "sleep" && !program.ends_with("/sleep") {
        return None;
    }
    let secs: f64 = words.next()?.trim_end_matches('s').parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

pub(crate) struct SimAgent {
    index: u64,
    /// Place in the fleet (for [`FleetStats`]).
    slot: usize,
    settings: Arc<AgentSettings>,
    stats: Arc<FleetStats>,
    agent_id: Option<String>,
    frameworks: HashMap<String, v1::FrameworkInfo>,
    tasks: HashMap<TaskKey, SimTask>,
    timers: BinaryHeap<Reverse<Timer>>,
    next_timer: u64,
    next_uuid: u64,
    /// Boxed: a channel allocates room for 32 messages up front, per agent.
    out: Option<mpsc::UnboundedSender<Box<AgentMessage>>>,
}

impl SimAgent {
    pub(crate) fn new(
        index: u64,
        slot: usize,
        settings: Arc<AgentSettings>,
        stats: Arc<FleetStats>,
    ) -> Self {
        SimAgent {
            index,
            slot,
            settings,
            stats,
            agent_id: None,
            frameworks: HashMap::new(),
            tasks: HashMap::new(),
            timers: BinaryHeap::new(),
            next_timer: 0,
            next_uuid: 0,
            out: None,
        }
    }

    fn hostname(&self) -> String {
        format!("sim-{:05}", self.index)
    }

    /// Keeps the agent's stream open until `stop` turns true. `gate` bounds how many
    /// agents of the fleet wait for their registration at the same time.
    pub(crate) async fn run(
        mut self,
        route: Route,
        gate: Arc<Semaphore>,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                return;
            }
            let target = tokio::select! {
                t = route.target() => t,
                _ = stop.changed() => return,
            };
            let permit = tokio::select! {
                p = gate.clone().acquire_owned() => p.ok(),
                _ = stop.changed() => return,
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let _ = tx.send(Box::new(AgentMessage {
                message: Some(agent_message::Message::Register(self.register_message())),
            }));
            let mut client =
                AgentServiceClient::new(target.channel.clone()).max_decoding_message_size(64 << 20);
            let leader = target.leader.as_deref();
            let response = tokio::select! {
                r = client.connect(UnboundedReceiverStream::new(rx).map(|m| *m)) => r,
                () = route.leader_changed(leader) => {
                    failures = 0;
                    continue;
                }
                _ = stop.changed() => return,
            };
            let (end, registered) = match response {
                Ok(response) => {
                    self.out = Some(tx);
                    let changed = route.leader_changed(leader);
                    let ended = self
                        .pump(response.into_inner(), permit, &mut stop, changed)
                        .await;
                    self.out = None;
                    ended
                }
                Err(status) => (
                    End::Lost(format!("{}: {}", status.code(), status.message())),
                    false,
                ),
            };
            if registered {
                failures = 0;
            }
            match end {
                End::Stop => return,
                End::Refused(message) => {
                    bump(&self.stats.refused);
                    warn!(agent = self.index, %message, "master refused the simulated agent");
                    return;
                }
                End::NewLeader => {
                    bump(&self.stats.disconnections);
                    failures = 0;
                    continue;
                }
                End::Lost(reason) => {
                    bump(&self.stats.disconnections);
                    if failures == 0 {
                        debug!(agent = self.index, %reason, "stream lost; reconnecting");
                    }
                }
            }
            failures = failures.saturating_add(1);
            let ceiling = self
                .settings
                .backoff
                .saturating_mul(1 << failures.min(8))
                .min(RECONNECT_MAX);
            let jitter = seed::unit(self.settings.seed, self.index, u64::from(failures));
            tokio::select! {
                _ = tokio::time::sleep(ceiling.mul_f64(0.5 + jitter / 2.0)) => {}
                // A newly elected master ends the backoff, as on a real agent.
                () = route.leader_changed(leader) => failures = 0,
                _ = stop.changed() => return,
            }
        }
    }

    /// Serves one stream until it ends; also says whether the agent was registered on it.
    async fn pump(
        &mut self,
        mut inbound: tonic::Streaming<MasterMessage>,
        permit: Option<OwnedSemaphorePermit>,
        stop: &mut watch::Receiver<bool>,
        leader_changed: impl std::future::Future<Output = ()>,
    ) -> (End, bool) {
        let mut permit = permit;
        let mut registered = false;
        let far = || Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far());
        tokio::pin!(sleep);
        tokio::pin!(leader_changed);
        let end = loop {
            let wake = self
                .timers
                .peek()
                .map(|Reverse(t)| t.at)
                .unwrap_or_else(far);
            if sleep.deadline() != wake {
                sleep.as_mut().reset(wake);
            }
            tokio::select! {
                message = inbound.message() => match message {
                    Ok(Some(message)) => match message.message {
                        Some(master_message::Message::Refused(r)) => break End::Refused(r.message),
                        Some(master_message::Message::Registered(r)) => {
                            permit.take();
                            if !registered {
                                registered = true;
                                self.stats.registered.fetch_add(1, Ordering::Relaxed);
                            }
                            bump(&self.stats.registrations);
                            self.stats.record_registration(self.slot);
                            self.agent_id = Some(r.agent_id.value);
                            self.resend_all();
                        }
                        Some(other) => self.handle(other),
                        None => {}
                    },
                    Ok(None) => break End::Lost("the master closed the stream".into()),
                    Err(status) => break End::Lost(format!("{}: {}", status.code(), status.message())),
                },
                () = &mut sleep => self.fire_timers(),
                () = &mut leader_changed => break End::NewLeader,
                _ = stop.changed() => break End::Stop,
            }
        };
        if registered {
            self.stats.registered.fetch_sub(1, Ordering::Relaxed);
        }
        (end, registered)
    }

    fn send(&self, message: agent_message::Message) {
        if let Some(out) = &self.out {
            let _ = out.send(Box::new(AgentMessage {
                message: Some(message),
            }));
        }
    }

    fn handle(&mut self, message: master_message::Message) {
        match message {
            master_message::Message::Ping(ping) => {
                bump(&self.stats.pings);
                self.send(agent_message::Message::Pong(Pong { seq: ping.seq }));
            }
            master_message::Message::RunTask(run) => {
                self.run_task(&run.framework_info, run.task, None)
            }
            master_message::Message::RunTaskGroup(run) => {
                let executor = run.executor.executor_id.value;
                for task in run.task_group.tasks {
                    self.run_task(&run.framework_info, task, Some(executor.clone()));
                }
            }
            master_message::Message::ShutdownExecutor(shutdown) => {
                let framework_id = shutdown.framework_id.value;
                let executor = Some(shutdown.executor_id.value);
                let keys: Vec<TaskKey> = self
                    .tasks
                    .iter()
                    .filter(|((f, _), t)| {
                        *f == framework_id && t.executor == executor && !t.state.is_terminal()
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in keys {
                    self.push_update(&key, TaskState::TaskKilled);
                }
            }
            master_message::Message::KillTask(kill) => {
                let key = (kill.framework_id.value, kill.task_id.value);
                if self.tasks.get(&key).is_some_and(|t| !t.state.is_terminal()) {
                    self.push_update(&key, TaskState::TaskKilled);
                }
            }
            master_message::Message::Acknowledgement(ack) => {
                let key = (ack.framework_id.value, ack.task_id.value);
                self.acknowledge(&key, &ack.uuid);
            }
            master_message::Message::ShutdownFramework(shutdown) => {
                let framework_id = shutdown.framework_id.value;
                self.frameworks.remove(&framework_id);
                let stats = &self.stats;
                self.tasks.retain(|(f, _), task| {
                    if *f != framework_id {
                        return true;
                    }
                    if !task.state.is_terminal() {
                        bump(&stats.tasks_killed);
                        if task.state == TaskState::TaskRunning {
                            stats.tasks_active.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    false
                });
            }
            // Framework messages need an executor to deliver them to; there is none.
            _ => {}
        }
    }

    fn run_task(
        &mut self,
        framework_info: &v1::FrameworkInfo,
        task: v1::TaskInfo,
        executor: Option<String>,
    ) {
        let Some(framework_id) = framework_info.id.as_ref().map(|i| i.value.clone()) else {
            return;
        };
        let key = (framework_id.clone(), task.task_id.value.clone());
        if self.tasks.contains_key(&key) {
            return;
        }
        bump(&self.stats.tasks_launched);
        let duration = sleep_duration(&task).or(self.settings.default_task_duration);
        self.frameworks
            .entry(framework_id)
            .or_insert_with(|| framework_info.clone());
        self.tasks.insert(
            key.clone(),
            SimTask {
                name: task.name,
                resources: task.resources,
                executor,
                state: TaskState::TaskStaging,
                pending: VecDeque::new(),
                statuses: Vec::new(),
                backoff: self.settings.retry_interval,
            },
        );
        if self.settings.send_starting {
            self.push_update(&key, TaskState::TaskStarting);
        }
        self.push_update(&key, TaskState::TaskRunning);
        if let Some(duration) = duration {
            self.schedule(Instant::now() + duration, TimerKind::Finish(key));
        }
    }

    fn schedule(&mut self, at: Instant, kind: TimerKind) {
        self.next_timer += 1;
        self.timers.push(Reverse(Timer {
            at,
            seq: self.next_timer,
            kind,
        }));
    }

    /// Records a new state of a task and queues its update; sends it if it is the head.
    fn push_update(&mut self, key: &TaskKey, state: TaskState) {
        let uuid = seed::uuid(self.settings.seed, self.index, self.next_uuid);
        self.next_uuid += 1;
        let agent_id = self.agent_id.clone().unwrap_or_default();
        let Some(task) = self.tasks.get_mut(key) else {
            return;
        };
        let was_active = task.state == TaskState::TaskRunning;
        task.state = state;
        let mut status = v1::TaskStatus {
            task_id: v1::TaskId {
                value: key.1.clone(),
            },
            agent_id: Some(v1::AgentId { value: agent_id }),
            timestamp: Some(crate::report::wall_clock_secs()),
            uuid: Some(uuid),
            ..Default::default()
        };
        status.set_state(state);
        status.set_source(Source::Executor);
        task.statuses.push(status.clone());
        task.pending.push_back(status);
        let first = task.pending.len() == 1;
        match state {
            TaskState::TaskRunning => {
                self.stats.tasks_active.fetch_add(1, Ordering::Relaxed);
            }
            TaskState::TaskFinished | TaskState::TaskKilled => {
                if was_active {
                    self.stats.tasks_active.fetch_sub(1, Ordering::Relaxed);
                }
                bump(if state == TaskState::TaskFinished {
                    &self.stats.tasks_finished
                } else {
                    &self.stats.tasks_killed
                });
            }
            _ => {}
        }
        if first {
            self.send_head(key, false);
        }
    }

    /// Sends the update in flight for `key` and arms its retry.
    fn send_head(&mut self, key: &TaskKey, resend: bool) {
        let Some(task) = self.tasks.get_mut(key) else {
            return;
        };
        let Some(head) = task.pending.front() else {
            return;
        };
        let uuid = head.uuid.clone().unwrap_or_default();
        let update = StatusUpdate {
            framework_id: v1::FrameworkId {
                value: key.0.clone(),
            },
            status: head.clone(),
            latest_state: Some(task.state as i32),
        };
        let delay = if resend {
            task.backoff = (task.backoff * 2).min(RETRY_MAX);
            task.backoff
        } else {
            task.backoff = self.settings.retry_interval;
            task.backoff
        };
        bump(if resend {
            &self.stats.updates_resent
        } else {
            &self.stats.updates_sent
        });
        self.send(agent_message::Message::StatusUpdate(update));
        self.schedule(Instant::now() + delay, TimerKind::Retry(key.clone(), uuid));
    }

    fn acknowledge(&mut self, key: &TaskKey, uuid: &[u8]) {
        let Some(task) = self.tasks.get_mut(key) else {
            return;
        };
        if task.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return;
        }
        bump(&self.stats.acknowledgements);
        task.pending.pop_front();
        if !task.pending.is_empty() {
            self.send_head(key, false);
        } else if task.state.is_terminal() {
            self.tasks.remove(key);
            if !self.tasks.keys().any(|(f, _)| *f == key.0) {
                self.frameworks.remove(&key.0);
            }
        }
    }

    /// After (re-)registration: whatever was in flight may have been lost with the old
    /// stream, so every head goes out again.
    fn resend_all(&mut self) {
        let keys: Vec<TaskKey> = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.pending.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            self.send_head(&key, false);
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse(timer)) = self.timers.peek() {
            if timer.at > now {
                break;
            }
            let Reverse(timer) = self.timers.pop().expect("peeked");
            match timer.kind {
                TimerKind::Finish(key) => {
                    if self.tasks.get(&key).is_some_and(|t| !t.state.is_terminal()) {
                        self.push_update(&key, TaskState::TaskFinished);
                    }
                }
                TimerKind::Retry(key, uuid) => {
                    let in_flight = self
                        .tasks
                        .get(&key)
                        .and_then(|t| t.pending.front())
                        .and_then(|s| s.uuid.as_deref())
                        == Some(uuid.as_slice());
                    if in_flight {
                        self.send_head(&key, true);
                    }
                }
            }
        }
    }

    fn register_message(&self) -> Register {
        let agent_id = self.agent_id.clone().map(|value| v1::AgentId { value });
        let tasks = self
            .tasks
            .iter()
            .map(|((framework_id, task_id), task)| {
                let head = task.pending.front();
                v1::Task {
                    name: task.name.clone(),
                    task_id: v1::TaskId {
                        value: task_id.clone(),
                    },
                    framework_id: v1::FrameworkId {
                        value: framework_id.clone(),
                    },
                    agent_id: agent_id.clone().unwrap_or_default(),
                    state: task.state as i32,
                    resources: task.resources.clone(),
                    executor_id: task.executor.clone().map(|value| v1::ExecutorId { value }),
                    statuses: task.statuses.clone(),
                    status_update_state: head.map(|s| s.state),
                    status_update_uuid: head.and_then(|s| s.uuid.clone()),
                    ..Default::default()
                }
            })
            .collect();
        Register {
            agent_info: v1::AgentInfo {
                hostname: self.hostname(),
                port: Some(5051),
                resources: self.settings.resources.clone(),
                id: agent_id,
                ..Default::default()
            },
            tasks,
            frameworks: self.frameworks.values().cloned().collect(),
            version: Some(VERSION.to_string()),
            http_address: Some("127.0.0.1:5051".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(command: &str) -> v1::TaskInfo {
        v1::TaskInfo {
            command: Some(v1::CommandInfo {
                value: Some(command.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn run_time_comes_from_sleep_commands() {
        assert_eq!(
            sleep_duration(&task("sleep 5")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            sleep_duration(&task("/bin/sleep 1.5s")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(sleep_duration(&task("echo hi")), None);
        assert_eq!(sleep_duration(&task("sleep forever")), None);
        assert_eq!(sleep_duration(&v1::TaskInfo::default()), None);
    }
}
