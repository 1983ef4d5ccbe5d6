//! The agent core: one task (an actor) owning frameworks, tasks and the status update
//! manager. It reacts to the master link, to task exits and to `/state` queries; all
//! checkpointing goes through it so that the order "checkpoint, then act" holds.
//!
//! [`Core`] owns the state; its rules live in one module per concept, each an
//! `impl Core` block: `link` (registration and the master's messages), `launch` (admission,
//! the containerizer's plan and launch), `tasks` (exits, container events, status updates,
//! kills), `frameworks` (shutdown and retirement), `recovery` (after an agent restart),
//! [`executors`] (custom executors and the core side of the executor API) and `task_groups`
//! (LAUNCH_GROUP under the default executor). `state` and [`views`] are what `/state` and
//! the operator API read.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesos_common::resources::{Attributes, Resources};
use mesos_proto::internal::{agent_message, AgentMessage, MasterMessage};
use mesos_proto::v1::{
    self, framework_info, task_status, AgentId, AgentInfo, ContainerId, FrameworkInfo, MasterInfo,
    NetworkInfo, TaskInfo, TaskState, TaskStatus,
};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::checkpoint::FileJournal;
use crate::config::Config;
use crate::containerizer::LaunchError;
use crate::docker::{self, ContainerEvent, DockerRuntime, KillSwitch};
use crate::launcher::{CommandLine, Launcher};
use crate::paths::{Layout, RunPaths};
use crate::status_update::{state_of, StatusUpdateManager, StreamKey};
use crate::supervisor::ExitStatus;
use crate::AgentError;

pub mod executors;
mod frameworks;
mod health;
mod launch;
mod link;
mod recovery;
mod state;
mod task_groups;
mod tasks;
pub mod views;

/// What the link tells the agent core.
#[derive(Debug)]
pub enum LinkEvent {
    /// The core must answer with the `Register` message for a new stream.
    NeedRegister(oneshot::Sender<AgentMessage>),
    /// A stream is open (Register already sent); messages for the master go here.
    Connected(mpsc::Sender<AgentMessage>),
    Message(Box<MasterMessage>),
    Disconnected,
}

/// Grace period between SIGTERM and SIGKILL when neither the task nor the kill says.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);
/// Completed tasks kept per framework for `/state`.
const MAX_COMPLETED_TASKS: usize = 150;
/// Completed frameworks kept for `/state`.
const MAX_COMPLETED_FRAMEWORKS: usize = 50;
/// Marker file of a framework the master shut down.
const FRAMEWORK_REMOVED: &str = "framework.removed";

/// How the agent presents itself.
#[derive(Debug, Clone)]
pub struct Identity {
    pub hostname: String,
    pub ip: IpAddr,
    pub port: u16,
}

impl Identity {
    /// `--hostname`, else the IP when `--ip` names one, else the system hostname; the
    /// advertised IP is `--advertise_ip`, else `--ip` when it names one, else the first
    /// non-loopback address the hostname resolves to, else 127.0.0.1.
    pub fn new(config: &Config, port: u16) -> Identity {
        let system_hostname = hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string());
        let hostname = match (&config.hostname, config.ip.is_unspecified()) {
            (Some(h), _) => h.clone(),
            (None, false) => config.ip.to_string(),
            (None, true) => system_hostname.clone(),
        };
        let ip = config
            .advertise_ip
            .or_else(|| (!config.ip.is_unspecified()).then_some(config.ip))
            .or_else(|| resolve_non_loopback(&system_hostname))
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Identity { hostname, ip, port }
    }

    /// `ip:port` of the agent's HTTP endpoint.
    pub fn endpoint(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }

    /// The libprocess pid tools split at `@`.
    pub fn pid(&self) -> String {
        format!("slave(1)@{}", self.endpoint())
    }
}

fn resolve_non_loopback(hostname: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    (hostname, 0)
        .to_socket_addrs()
        .ok()?
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
}

/// A task exit reported by a watcher.
#[derive(Debug)]
pub struct Exit {
    pub key: StreamKey,
    pub container_id: String,
    pub status: Option<ExitStatus>,
}

/// Questions the HTTP side asks the core.
#[derive(Debug)]
pub enum Query {
    /// `/state` as the viewer may see it.
    State(
        crate::authorization::Viewer,
        oneshot::Sender<serde_json::Value>,
    ),
    /// A read of the core by the operator API and the monitor.
    Inspect(views::Inspect),
    /// A call of a custom executor (`/api/v1/executor`).
    Executor(Box<executors::ExecutorRequest>),
}

#[derive(Debug)]
struct Task {
    framework_id: String,
    info: TaskInfo,
    container_id: String,
    run: RunPaths,
    command: String,
    state: TaskState,
    statuses: Vec<TaskStatus>,
    /// The task's process ended (or never started).
    exited: bool,
    killing: bool,
    /// Stops the task's Docker container (Docker tasks only).
    docker: Option<KillSwitch>,
    /// The container's addresses and port mappings (Docker tasks), for status updates.
    network_infos: Vec<NetworkInfo>,
    /// The executor's container, for a task of a task group: the task's own container is
    /// nested in it (Mesos's default executor runs each task in a child container).
    parent_container_id: Option<String>,
    /// The running health check of `info.health_check` (dropping it stops it).
    health: Option<crate::health_check::HealthHandle>,
    /// Killed because its health check failed: its terminal update says `healthy: false`.
    killed_by_health_check: bool,
}

impl Task {
    fn id(&self) -> &str {
        &self.info.task_id.value
    }

    /// The id of the executor the task runs under: its ExecutorInfo's (custom executors and
    /// task groups), else the task's own (the agent is its command executor).
    fn executor_id(&self) -> &str {
        self.info
            .executor
            .as_ref()
            .map(|e| e.executor_id.value.as_str())
            .unwrap_or_else(|| self.id())
    }

    /// A task of a task group, run by the default executor.
    fn in_group(&self) -> bool {
        self.info
            .executor
            .as_ref()
            .is_some_and(|e| e.r#type() == v1::executor_info::Type::Default)
    }

    /// The executor's sandbox: a task group's tasks have theirs under it, at
    /// `<executor sandbox>/containers/<container id>`.
    fn executor_directory(&self) -> &std::path::Path {
        match self.parent_container_id {
            Some(_) => self
                .run
                .sandbox
                .parent()
                .and_then(|p| p.parent())
                .unwrap_or(&self.run.sandbox),
            None => &self.run.sandbox,
        }
    }

    /// The task's ContainerID, nested in the executor's for task groups.
    fn container(&self) -> ContainerId {
        ContainerId {
            value: self.container_id.clone(),
            parent: self.parent_container_id.as_ref().map(|parent| {
                Box::new(ContainerId {
                    value: parent.clone(),
                    parent: None,
                })
            }),
        }
    }

    fn key(&self) -> StreamKey {
        StreamKey::new(self.framework_id.clone(), self.id())
    }
}

#[derive(Debug)]
struct Framework {
    info: FrameworkInfo,
    /// Tasks running, or ended with their terminal update not yet acknowledged.
    tasks: BTreeMap<String, Task>,
    completed: VecDeque<Task>,
    /// Shut down by the master: its updates are dropped and its tasks killed.
    removed: bool,
}

impl Framework {
    fn new(info: FrameworkInfo) -> Self {
        Framework {
            info,
            tasks: BTreeMap::new(),
            completed: VecDeque::new(),
            removed: false,
        }
    }

    fn id(&self) -> &str {
        self.info
            .id
            .as_ref()
            .map(|i| i.value.as_str())
            .unwrap_or_default()
    }

    fn has_capability(&self, capability: framework_info::capability::Type) -> bool {
        self.info
            .capabilities
            .iter()
            .any(|c| c.r#type() == capability)
    }

    fn complete(&mut self, task: Task) {
        self.completed.push_back(task);
        while self.completed.len() > MAX_COMPLETED_TASKS {
            self.completed.pop_front();
        }
    }
}

/// Everything the core needs at start.
pub struct CoreSetup {
    pub config: Config,
    pub launcher: Launcher,
    pub identity: Identity,
    pub resources: Resources,
    pub attributes: Attributes,
    /// Set when `--containerizers` lists docker.
    pub docker: Option<DockerRuntime>,
    /// `--jwt_secret_key`: custom executors get a token signed with it.
    pub executor_key: Option<mesos_common::auth::jwt::JwtKey>,
}

/// How a task is going to run, or why it cannot.
enum Plan {
    Command(CommandLine),
    Docker(Box<docker::ContainerSpec>),
}

/// Why a task is not launched: TASK_ERROR for an invalid task, TASK_FAILED otherwise.
struct Refusal {
    state: TaskState,
    reason: task_status::Reason,
    message: String,
}

impl Refusal {
    fn failed(message: impl Into<String>) -> Refusal {
        Refusal {
            state: TaskState::TaskFailed,
            reason: task_status::Reason::ContainerLaunchFailed,
            message: message.into(),
        }
    }

    /// How Mesos reports an executor that ended before it ran anything (its launcher
    /// failed, e.g. on a user the system does not know).
    fn executor_terminated() -> Refusal {
        Refusal {
            state: TaskState::TaskFailed,
            reason: task_status::Reason::ExecutorTerminated,
            message: "Executor terminated".to_string(),
        }
    }
}

impl From<LaunchError> for Refusal {
    fn from(e: LaunchError) -> Refusal {
        if e.invalid {
            Refusal {
                state: TaskState::TaskError,
                reason: task_status::Reason::TaskInvalid,
                message: e.message,
            }
        } else {
            Refusal::failed(e.message)
        }
    }
}

pub struct Core {
    config: Config,
    /// `--switch_user` as it applies to this process.
    users: crate::users::UserSwitch,
    executor_key: Option<mesos_common::auth::jwt::JwtKey>,
    layout: Layout,
    launcher: Launcher,
    identity: Identity,
    resources: Resources,
    attributes: Attributes,
    agent_id: Option<String>,
    start_time: f64,
    master: Option<mpsc::Sender<AgentMessage>>,
    registered: bool,
    master_info: Option<MasterInfo>,
    frameworks: BTreeMap<String, Framework>,
    completed_frameworks: VecDeque<Framework>,
    sum: StatusUpdateManager<FileJournal>,
    exits: mpsc::UnboundedSender<Exit>,
    docker: Option<DockerRuntime>,
    executors: executors::Executors,
    groups: task_groups::DefaultExecutors,
    /// Tasks whose URIs are being fetched, with how they will run once fetched.
    fetching: HashMap<StreamKey, Plan>,
    fetched_tx: mpsc::UnboundedSender<Fetched>,
    /// Taken by [`run_core`], which waits on it.
    fetched_rx: Option<mpsc::UnboundedReceiver<Fetched>>,
    health_tx: mpsc::UnboundedSender<crate::health_check::HealthReport>,
    /// Taken by [`run_core`], which waits on it.
    health_rx: Option<mpsc::UnboundedReceiver<crate::health_check::HealthReport>>,
}

/// A fetch of a task's URIs ended (Err: why it failed).
#[derive(Debug)]
pub struct Fetched {
    pub key: StreamKey,
    pub result: Result<(), String>,
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Core {
    pub fn new(setup: CoreSetup, exits: mpsc::UnboundedSender<Exit>) -> Core {
        let (fetched_tx, fetched_rx) = mpsc::unbounded_channel();
        let (health_tx, health_rx) = mpsc::unbounded_channel();
        let layout = Layout::new(&setup.config.work_dir);
        let sum = StatusUpdateManager::new(
            FileJournal::default(),
            setup.config.status_update_retry_interval_min,
        );
        Core {
            layout,
            users: crate::users::UserSwitch::of_this_process(setup.config.switch_user),
            executor_key: setup.executor_key,
            launcher: setup.launcher,
            identity: setup.identity,
            resources: setup.resources,
            attributes: setup.attributes,
            agent_id: None,
            start_time: now_secs(),
            master: None,
            registered: false,
            master_info: None,
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            sum,
            exits,
            docker: setup.docker,
            executors: executors::Executors::default(),
            groups: task_groups::DefaultExecutors::default(),
            fetching: HashMap::new(),
            fetched_tx,
            fetched_rx: Some(fetched_rx),
            health_tx,
            health_rx: Some(health_rx),
            config: setup.config,
        }
    }

    /// The user a running task's processes run as (`--switch_user`): its own command's
    /// user, else its executor's (a nested container inherits it), else its framework's.
    fn user_of_task<'a>(&'a self, task: &'a Task) -> Option<&'a str> {
        let framework_user = self
            .frameworks
            .get(&task.framework_id)
            .map(|f| f.info.user.as_str())
            .unwrap_or_default();
        let command_user = [
            task.info.command.as_ref(),
            task.info.executor.as_ref().and_then(|e| e.command.as_ref()),
        ]
        .into_iter()
        .flatten()
        .find_map(|c| c.user.as_deref());
        self.users.user_of(command_user, framework_user)
    }

    pub fn agent_id(&self) -> Option<&str> {
        self.agent_id.as_deref()
    }

    fn agent_info(&self) -> AgentInfo {
        AgentInfo {
            hostname: self.identity.hostname.clone(),
            port: Some(i32::from(self.identity.port)),
            resources: mesos_common::wire::resources_to_proto(&self.resources, None),
            attributes: mesos_common::wire::attributes_to_proto(&self.attributes),
            id: self.agent_id.clone().map(|value| AgentId { value }),
            domain: None,
        }
    }

    // ------------------------------------------------------------------------- timers

    /// Re-sends the updates whose retry time has come.
    pub fn resend_due(&mut self) {
        for update in self.sum.due(Instant::now()) {
            debug!(
                task_id = %update.status.task_id.value,
                state = ?state_of(&update),
                "re-sending unacknowledged status update"
            );
            self.send(agent_message::Message::StatusUpdate(update));
        }
    }

    /// When the core next has something to do on its own: an update to re-send, or an
    /// executor's time to subscribe running out.
    pub fn next_wakeup(&self) -> Option<Instant> {
        [self.sum.next_deadline(), self.executors.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn on_wakeup(&mut self) {
        self.resend_due();
        self.expire_executor_subscriptions(Instant::now());
    }
}

/// How `/state` names a task's command.
fn display_command(task: &TaskInfo) -> String {
    if docker::is_docker_task(task) {
        return docker::spec::display_command(task);
    }
    task.command
        .as_ref()
        .and_then(|c| CommandLine::from_command(c).ok())
        .map(|c| c.display())
        .unwrap_or_default()
}

/// The kill's policy, else the task's, else [`DEFAULT_KILL_GRACE`].
pub fn kill_grace(task: &TaskInfo, kill: Option<&v1::KillPolicy>) -> Duration {
    policy_grace(task, kill).unwrap_or(DEFAULT_KILL_GRACE)
}

fn policy_grace(task: &TaskInfo, kill: Option<&v1::KillPolicy>) -> Option<Duration> {
    kill.and_then(|k| k.grace_period.as_ref())
        .or_else(|| task.kill_policy.as_ref()?.grace_period.as_ref())
        .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
}

/// Runs the core until `shutdown` resolves or a fatal error.
pub async fn run_core(
    mut core: Core,
    mut link: mpsc::Receiver<LinkEvent>,
    mut exits: mpsc::UnboundedReceiver<Exit>,
    mut containers: mpsc::UnboundedReceiver<ContainerEvent>,
    mut queries: mpsc::Receiver<Query>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), AgentError> {
    tokio::pin!(shutdown);
    let mut fetched = core.fetched_rx.take().expect("run_core runs once");
    let mut health = core.health_rx.take().expect("run_core runs once");
    loop {
        let wakeup_at = core.next_wakeup();
        let wakeup = async move {
            match wakeup_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            Some(event) = link.recv() => core.on_link(event)?,
            Some(exit) = exits.recv() => core.on_exit(exit),
            Some(event) = containers.recv() => core.on_container_event(event),
            Some(f) = fetched.recv() => core.on_fetched(f),
            Some(report) = health.recv() => core.on_health_report(report),
            Some(query) = queries.recv() => core.on_query(query),
            _ = wakeup => core.on_wakeup(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::{DurationInfo, KillPolicy};

    #[test]
    fn kill_grace_prefers_the_kill_then_the_task() {
        let policy = |secs: i64| KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: secs * 1_000_000_000,
            }),
        };
        let mut task = TaskInfo::default();
        assert_eq!(kill_grace(&task, None), DEFAULT_KILL_GRACE);
        task.kill_policy = Some(policy(7));
        assert_eq!(kill_grace(&task, None), Duration::from_secs(7));
        assert_eq!(kill_grace(&task, Some(&policy(1))), Duration::from_secs(1));
    }
}
