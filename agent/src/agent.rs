//! The agent core: one task (an actor) owning frameworks, tasks and the status update
//! manager. It reacts to the master link, to task exits and to `/state` queries; all
//! checkpointing goes through it so that the order "checkpoint, then act" holds.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesos_common::resources::{Attributes, Resources};
use mesos_proto::internal::{
    agent_message, master_message, AgentMessage, KillTask, Register, Registered, RunTask,
    ShutdownFramework, StatusUpdate, StatusUpdateAcknowledgement,
};
use mesos_proto::v1::{
    self, framework_info, task_status, AgentId, AgentInfo, ContainerId, ContainerStatus,
    ExecutorId, FrameworkId, FrameworkInfo, MasterInfo, NetworkInfo, TaskId, TaskInfo, TaskState,
    TaskStatus,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, info_span, warn};

use crate::checkpoint::{self, FileJournal};
use crate::config::Config;
use crate::docker::{
    self, runtime::Target, ContainerEvent, ContainerEventKind, DockerRuntime, KillSwitch, Outcome,
};
use crate::launcher::{self, CommandLine, EnvContext, Launcher, Supervised};
use crate::master_link::LinkEvent;
use crate::paths::{valid_id, write_atomic, Layout, RunPaths};
use crate::status_update::{state_of, AckOutcome, Record, StatusUpdateManager, StreamKey};
use crate::supervisor::ExitStatus;
use crate::{AgentError, VERSION};

pub mod executors;
mod state;
mod task_groups;
pub mod views;

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
    State(oneshot::Sender<serde_json::Value>),
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
}

pub struct Core {
    config: Config,
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
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Core {
    pub fn new(setup: CoreSetup, exits: mpsc::UnboundedSender<Exit>) -> Core {
        let layout = Layout::new(&setup.config.work_dir);
        let sum = StatusUpdateManager::new(
            FileJournal::default(),
            setup.config.status_update_retry_interval_min,
        );
        Core {
            layout,
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
            config: setup.config,
        }
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

    // -----------------------------------------------------------------------------------
    // Recovery

    /// Picks up where an earlier agent process on the same work directory left off.
    pub fn recover(&mut self) {
        let Some((agent_id, checkpointed)) = checkpoint::read_agent(&self.layout) else {
            return;
        };
        let recovered = checkpoint::recover_runs(&self.layout, &agent_id);
        let same_resources = mesos_common::wire::resources_from_proto(&checkpointed.resources)
            .unwrap_or_default()
            == self.resources;
        let same_attributes =
            checkpointed.attributes == mesos_common::wire::attributes_to_proto(&self.attributes);
        if !(same_resources && same_attributes) {
            warn!(
                agent_id,
                was_resources = %mesos_common::wire::resources_from_proto(&checkpointed.resources).unwrap_or_default(),
                now_resources = %self.resources,
                "--resources or --attributes changed since agent {agent_id} last ran; \
                 starting as a new agent (tasks of the old agent are killed)"
            );
            for run in recovered.runs {
                if docker::is_docker_task(&run.task) {
                    if let Some(runtime) = &self.docker {
                        runtime.remove(docker::container_name(&run.container_id));
                    }
                } else if Supervised::adopt(&run.paths).is_some() {
                    tokio::spawn(launcher::kill(run.paths, DEFAULT_KILL_GRACE));
                }
            }
            return;
        }
        info!(
            agent_id,
            "recovering agent from {}",
            self.layout.work_dir().display()
        );
        self.agent_id = Some(agent_id);
        for info in recovered.frameworks {
            let id = info
                .id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_default();
            let mut framework = Framework::new(info);
            framework.removed = self
                .layout
                .framework_meta(self.agent_id.as_deref().unwrap_or_default(), &id)
                .join(FRAMEWORK_REMOVED)
                .exists();
            self.frameworks.insert(id, framework);
        }
        for run in &recovered.runs {
            if self
                .frameworks
                .get(&run.framework_id)
                .is_some_and(|f| !f.removed)
            {
                self.recover_default_executor(run);
            }
        }
        for run in recovered.runs {
            self.recover_run(run);
        }
        self.retire_idle_default_executors();
        let idle: Vec<String> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.tasks.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.retire_framework(&id);
        }
    }

    fn recover_run(&mut self, run: checkpoint::RecoveredRun) {
        let task_id = run.task.task_id.value.clone();
        let span = info_span!("task", framework_id = %run.framework_id, task_id = %task_id);
        let _enter = span.enter();
        let key = StreamKey::new(run.framework_id.clone(), task_id.clone());
        let statuses: Vec<TaskStatus> = run
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Update(u) => Some(u.status.clone()),
                Record::Ack(_) => None,
            })
            .collect();
        let newest_state = run.records.iter().rev().find_map(|r| match r {
            Record::Update(u) => Some(state_of(u)),
            Record::Ack(_) => None,
        });
        // A custom executor's task lives on with its executor, which is adopted again.
        let executor_id = match (&run.task.executor, &run.parent) {
            (Some(executor), None) => Some(executor.executor_id.value.clone()),
            _ => None,
        };
        if executor_id.is_some()
            && self
                .frameworks
                .get(&run.framework_id)
                .is_some_and(|f| !f.removed)
        {
            self.recover_custom_executor(&run);
        }
        let Some(framework) = self.frameworks.get_mut(&run.framework_id) else {
            return;
        };
        let is_docker = docker::is_docker_task(&run.task);
        let command = display_command(&run.task);
        let mut task = Task {
            framework_id: run.framework_id.clone(),
            container_id: run.container_id.clone(),
            command,
            state: newest_state.unwrap_or(TaskState::TaskStaging),
            statuses,
            exited: false,
            killing: run.paths.killed().exists(),
            docker: None,
            network_infos: Vec::new(),
            parent_container_id: run.parent.as_ref().map(|p| p.container_id.clone()),
            run: run.paths.clone(),
            info: run.task,
        };
        if is_docker {
            return self.recover_docker_run(task, key, newest_state, run.records);
        }
        let alive = Supervised::adopt(&run.paths);
        if framework.removed {
            if alive.is_some() {
                tokio::spawn(launcher::kill(run.paths, Duration::ZERO));
            }
            task.exited = true;
            framework.complete(task);
            return;
        }
        self.sum
            .journal_mut()
            .register(key.clone(), run.paths.task_updates(&task_id));
        if self.sum.recover(key.clone(), run.records).is_none() && newest_state.is_some() {
            // Its terminal update was acknowledged before the restart.
            task.exited = true;
            framework.complete(task);
            self.sum.journal_mut().forget(&key);
            return;
        }
        if self.sum.has_terminal(&key) {
            task.exited = true;
            framework.tasks.insert(task_id.clone(), task);
            if let Some(executor_id) = executor_id {
                self.executors
                    .hold_task(&key.framework_id, &executor_id, &task_id);
            }
            return;
        }
        let grace = kill_grace(&task.info, None);
        let killing = task.killing;
        let container_id = task.container_id.clone();
        framework.tasks.insert(task_id.clone(), task);
        if let Some(executor_id) = executor_id {
            // Its executor reports on it once it subscribes again, or its end ends it.
            self.executors
                .hold_task(&key.framework_id, &executor_id, &task_id);
            return;
        }
        match alive {
            Some(supervised) => {
                info!(pid = supervised.pid, "re-adopting running task");
                if killing {
                    tokio::spawn(launcher::kill(run.paths.clone(), grace));
                }
                self.watch(key, container_id, supervised);
            }
            None => {
                let status = ExitStatus::read(&run.paths);
                info!(?status, "task ended while the agent was down");
                // Handled once every run is recovered (a task group needs all its tasks).
                let _ = self.exits.send(Exit {
                    key,
                    container_id,
                    status,
                });
            }
        }
    }

    /// Recovery of a Docker task: the daemon knows whether its container still runs.
    fn recover_docker_run(
        &mut self,
        mut task: Task,
        key: StreamKey,
        newest_state: Option<TaskState>,
        records: Vec<Record>,
    ) {
        let name = docker::container_name(&task.container_id);
        let Some(framework) = self.frameworks.get_mut(&key.framework_id) else {
            return;
        };
        let task_id = key.task_id.clone();
        if framework.removed {
            if let Some(runtime) = &self.docker {
                runtime.remove(name);
            }
            task.exited = true;
            framework.complete(task);
            return;
        }
        self.sum
            .journal_mut()
            .register(key.clone(), task.run.task_updates(&task_id));
        if self.sum.recover(key.clone(), records).is_none() && newest_state.is_some() {
            if let Some(runtime) = &self.docker {
                runtime.remove(name);
            }
            task.exited = true;
            framework.complete(task);
            self.sum.journal_mut().forget(&key);
            return;
        }
        if self.sum.has_terminal(&key) {
            if let Some(runtime) = &self.docker {
                runtime.remove(name);
            }
            task.exited = true;
            framework.tasks.insert(task_id, task);
            return;
        }
        let Some(runtime) = self.docker.clone() else {
            let container_id = task.container_id.clone();
            framework.tasks.insert(task_id, task);
            self.on_container_event(ContainerEvent {
                key,
                container_id,
                kind: ContainerEventKind::Ended(Outcome::Gone(
                    "The agent restarted without the docker containerizer (--containerizers); \
                     the task's container is not supervised any more"
                        .to_string(),
                )),
            });
            return;
        };
        let announce_start = !matches!(newest_state, Some(TaskState::TaskRunning));
        let target = Target {
            key,
            container_id: task.container_id.clone(),
            sandbox: task.run.sandbox.clone(),
        };
        let switch = runtime.adopt(target, announce_start);
        if task.killing {
            switch.kill(kill_grace(&task.info, None));
        }
        task.docker = Some(switch);
        framework.tasks.insert(task_id, task);
    }

    /// Removes the Docker containers labelled with this agent's id that no recovered task
    /// owns. Runs once, after recovery and before any new task can start.
    pub async fn remove_orphan_containers(&self) {
        let (Some(runtime), Some(agent_id)) = (&self.docker, &self.agent_id) else {
            return;
        };
        let keep: std::collections::HashSet<String> = self
            .frameworks
            .values()
            .flat_map(|f| f.tasks.values())
            .filter(|t| t.docker.is_some() && !t.exited)
            .map(|t| t.container_id.clone())
            .collect();
        let removed = runtime.remove_orphans(agent_id, &keep).await;
        if removed > 0 {
            info!(removed, "removed orphan containers");
        }
    }

    // -----------------------------------------------------------------------------------
    // Master link

    pub fn on_link(&mut self, event: LinkEvent) -> Result<(), AgentError> {
        match event {
            LinkEvent::NeedRegister(reply) => {
                let _ = reply.send(AgentMessage {
                    message: Some(agent_message::Message::Register(self.register_message())),
                });
            }
            LinkEvent::Connected(outbound) => {
                debug!("stream to the master open; waiting for Registered");
                self.master = Some(outbound);
                self.registered = false;
            }
            LinkEvent::Disconnected => {
                self.master = None;
                self.registered = false;
            }
            LinkEvent::Message(message) => {
                let Some(message) = message.message else {
                    return Ok(());
                };
                match message {
                    master_message::Message::Registered(r) => self.on_registered(r)?,
                    master_message::Message::RunTask(r) => self.on_run_task(r),
                    master_message::Message::KillTask(k) => self.on_kill_task(k),
                    master_message::Message::Acknowledgement(a) => self.on_acknowledgement(a),
                    master_message::Message::ShutdownFramework(s) => self.on_shutdown_framework(s),
                    master_message::Message::FrameworkMessage(m) => self.on_framework_message(m),
                    master_message::Message::Refused(r) => {
                        error!(message = %r.message, "the master refused this agent; stopping");
                        return Err(AgentError::Refused(r.message));
                    }
                    master_message::Message::RunTaskGroup(group) => self.on_run_task_group(group),
                    master_message::Message::ShutdownExecutor(s) => self.on_shutdown_executor(s),
                    // The link answers pings itself.
                    master_message::Message::Ping(_) => {}
                }
            }
        }
        Ok(())
    }

    fn register_message(&self) -> Register {
        let mut tasks = Vec::new();
        let mut frameworks = Vec::new();
        for framework in self.frameworks.values().filter(|f| !f.removed) {
            if framework.tasks.is_empty() {
                continue;
            }
            frameworks.push(framework.info.clone());
            tasks.extend(framework.tasks.values().map(|t| self.task_proto(t)));
        }
        Register {
            agent_info: self.agent_info(),
            tasks,
            frameworks,
            version: Some(VERSION.to_string()),
            http_address: Some(self.identity.endpoint()),
        }
    }

    fn task_proto(&self, task: &Task) -> v1::Task {
        let in_flight = self.sum.in_flight(&task.key());
        v1::Task {
            name: task.info.name.clone(),
            task_id: task.info.task_id.clone(),
            framework_id: FrameworkId {
                value: task.framework_id.clone(),
            },
            executor_id: task.info.executor.as_ref().map(|e| e.executor_id.clone()),
            agent_id: AgentId {
                value: self.agent_id.clone().unwrap_or_default(),
            },
            state: task.state as i32,
            resources: task.info.resources.clone(),
            statuses: task.statuses.clone(),
            status_update_state: in_flight.map(|u| u.status.state),
            status_update_uuid: in_flight.and_then(|u| u.status.uuid.clone()),
            labels: task.info.labels.clone(),
            discovery: task.info.discovery.clone().map(Box::new),
            container: task.info.container.clone().map(Box::new),
            health_check: task.info.health_check.clone().map(Box::new),
            kill_policy: task.info.kill_policy,
            user: None,
            limits: task.info.limits.clone(),
        }
    }

    fn send(&self, message: agent_message::Message) {
        let Some(master) = self.master.as_ref().filter(|_| self.registered) else {
            return;
        };
        if let Err(e) = master.try_send(AgentMessage {
            message: Some(message),
        }) {
            // Status updates are re-sent until acknowledged, so a full queue loses nothing.
            warn!(error = %e, "cannot queue a message for the master");
        }
    }

    fn on_registered(&mut self, registered: Registered) -> Result<(), AgentError> {
        let id = registered.agent_id.value;
        match &self.agent_id {
            Some(ours) if *ours != id => {
                return Err(AgentError::Refused(format!(
                    "the master registered this agent as {id}, but it is {ours}"
                )));
            }
            Some(_) => info!(agent_id = %id, "re-registered with the master"),
            None => {
                self.agent_id = Some(id.clone());
                if let Err(e) = checkpoint::write_agent(&self.layout, &self.agent_info()) {
                    error!(error = %e, "cannot checkpoint the agent id; a restart will register anew");
                }
                info!(agent_id = %id, "registered with the master");
            }
        }
        self.registered = true;
        self.master_info = Some(registered.master_info);
        for update in self.sum.resend_all(Instant::now()) {
            self.send(agent_message::Message::StatusUpdate(update));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Tasks

    /// What every launch (command task, task on an executor, task group) must pass before
    /// anything is written: the agent is registered (its id is returned), the ids can name
    /// sandbox directories (else the tasks get TASK_ERROR with `invalid`), and no task id is
    /// one this agent already runs (else the launch is ignored: it is a duplicate).
    fn admit_launch(
        &self,
        framework_id: &str,
        executor_id: Option<&str>,
        task_ids: &[String],
        invalid: task_status::Reason,
    ) -> Option<String> {
        let Some(agent_id) = self.agent_id.clone().filter(|_| self.registered) else {
            warn!("ignoring a launch sent before this agent registered");
            return None;
        };
        if !valid_id(framework_id)
            || !executor_id.is_none_or(valid_id)
            || task_ids.iter().any(|t| !valid_id(t))
        {
            warn!("rejecting a launch whose ids cannot name directories");
            for task_id in task_ids {
                self.send_unreliable(
                    framework_id,
                    task_id,
                    TaskState::TaskError,
                    "Framework, executor and task ids must be non-empty and contain no '/' or control characters",
                    invalid,
                );
            }
            return None;
        }
        if self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| task_ids.iter().any(|t| f.tasks.contains_key(t)))
        {
            warn!("ignoring a launch with the id of a task this agent already runs");
            return None;
        }
        Some(agent_id)
    }

    fn on_run_task(&mut self, run: RunTask) {
        if run.task.executor.is_some() {
            return self.run_on_executor(run);
        }
        let RunTask {
            framework_info,
            task,
        } = run;
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let task_id = task.task_id.value.clone();
        let span = info_span!("task", framework_id = %framework_id, task_id = %task_id);
        let _enter = span.enter();
        let Some(agent_id) = self.admit_launch(
            &framework_id,
            None,
            std::slice::from_ref(&task_id),
            task_status::Reason::TaskInvalid,
        ) else {
            return;
        };
        let meta = self.layout.framework_meta(&agent_id, &framework_id);
        let _ = std::fs::remove_file(meta.join(FRAMEWORK_REMOVED));
        if let Err(e) = checkpoint::write_message(
            &self.layout.framework_info(&agent_id, &framework_id),
            &framework_info,
        ) {
            error!(error = %e, "cannot checkpoint the framework");
        }
        let container_id = uuid::Uuid::new_v4().to_string();
        let run = self
            .layout
            .run(&agent_id, &framework_id, &task_id, &container_id);
        let plan = self.plan(&task, &agent_id, &framework_id, &container_id, &run);
        let key = StreamKey::new(framework_id.clone(), task_id.clone());
        let framework = self.framework_entry(framework_info);
        framework.removed = false;
        framework.tasks.insert(
            task_id.clone(),
            Task {
                framework_id: framework_id.clone(),
                container_id: container_id.clone(),
                run: run.clone(),
                command: display_command(&task),
                state: TaskState::TaskStaging,
                statuses: Vec::new(),
                exited: false,
                killing: false,
                docker: None,
                network_infos: Vec::new(),
                parent_container_id: None,
                info: task.clone(),
            },
        );
        self.sum
            .journal_mut()
            .register(key.clone(), run.task_updates(&task_id));
        if let Err(e) = checkpoint::write_message(&run.task_info(&task_id), &task) {
            error!(error = %e, "cannot checkpoint the task");
        }
        let started = plan.and_then(|plan| match plan {
            Plan::Command(command) => {
                let supervised = self.launch(&task, &framework_id, &run, &command)?;
                info!(pid = supervised.pid, sandbox = %run.sandbox.display(), "task started");
                for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
                    self.update(&key, state, None, None, task_status::Source::Executor);
                }
                self.watch(key.clone(), container_id.clone(), supervised);
                Ok(())
            }
            // Its updates follow the container's progress (ContainerEvent).
            Plan::Docker(spec) => self.launch_container(*spec, &key, &container_id, &run),
        });
        if let Err(refusal) = started {
            warn!(message = %refusal.message, state = refusal.state.as_str_name(), "task not launched");
            if let Some(task) = self.task_mut(&key) {
                task.exited = true;
            }
            self.update(
                &key,
                refusal.state,
                Some(refusal.message),
                Some(refusal.reason),
                task_status::Source::Agent,
            );
        }
    }

    /// Decides how the task runs: a command under a supervisor, or a Docker container.
    fn plan(
        &self,
        task: &TaskInfo,
        agent_id: &str,
        framework_id: &str,
        container_id: &str,
        run: &RunPaths,
    ) -> Result<Plan, Refusal> {
        if task.executor.is_some() {
            return Err(Refusal::failed(
                "Tasks with a custom executor are not supported yet",
            ));
        }
        if docker::is_docker_task(task) {
            if self.docker.is_none() {
                return Err(Refusal::failed(
                    "The docker containerizer is not enabled on this agent (--containerizers)",
                ));
            }
            let endpoint = self.identity.endpoint();
            let ctx = docker::SpecContext {
                agent_id,
                framework_id,
                container_id,
                sandbox: &run.sandbox,
                agent_endpoint: &endpoint,
                hostname: &self.identity.hostname,
            };
            return docker::spec::build(task, &ctx)
                .map(|spec| Plan::Docker(Box::new(spec)))
                .map_err(|e| Refusal {
                    state: TaskState::TaskError,
                    reason: task_status::Reason::TaskInvalid,
                    message: e.to_string(),
                });
        }
        if let Some(container) = &task.container {
            if container.mesos.as_ref().is_some_and(|m| m.image.is_some()) {
                return Err(Refusal::failed(
                    "Container images under the mesos containerizer are not supported yet",
                ));
            }
        }
        if !self.config.mesos_enabled() {
            return Err(Refusal::failed(
                "Only Docker tasks run on this agent: --containerizers does not list mesos",
            ));
        }
        let command = task
            .command
            .as_ref()
            .ok_or_else(|| Refusal::failed("Task has no command"))?;
        CommandLine::from_command(command)
            .map(Plan::Command)
            .map_err(Refusal::failed)
    }

    fn launch_container(
        &mut self,
        spec: docker::ContainerSpec,
        key: &StreamKey,
        container_id: &str,
        run: &RunPaths,
    ) -> Result<(), Refusal> {
        let runtime = self.docker.clone().expect("planned for docker");
        launcher::prepare_sandbox(run).map_err(|e| {
            Refusal::failed(format!(
                "Failed to create sandbox {}: {e}",
                run.sandbox.display()
            ))
        })?;
        info!(container = %spec.name, image = %spec.image.repository, sandbox = %run.sandbox.display(), "launching container");
        let switch = runtime.launch(
            spec,
            Target {
                key: key.clone(),
                container_id: container_id.to_string(),
                sandbox: run.sandbox.clone(),
            },
        );
        if let Some(task) = self.task_mut(key) {
            task.docker = Some(switch);
        }
        Ok(())
    }

    fn framework_entry(&mut self, info: FrameworkInfo) -> &mut Framework {
        let id = info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        if !self.frameworks.contains_key(&id) {
            let revived = self
                .completed_frameworks
                .iter()
                .position(|f| f.id() == id)
                .and_then(|i| self.completed_frameworks.remove(i));
            let framework = revived.unwrap_or_else(|| Framework::new(info.clone()));
            self.frameworks.insert(id.clone(), framework);
        }
        let framework = self.frameworks.get_mut(&id).expect("inserted above");
        framework.info = info;
        framework
    }

    fn launch(
        &self,
        task: &TaskInfo,
        framework_id: &str,
        run: &RunPaths,
        command: &CommandLine,
    ) -> Result<Supervised, Refusal> {
        launcher::prepare_sandbox(run).map_err(|e| {
            Refusal::failed(format!(
                "Failed to create sandbox {}: {e}",
                run.sandbox.display()
            ))
        })?;
        let endpoint = self.identity.endpoint();
        let ctx = EnvContext {
            framework_id,
            executor_id: &task.task_id.value,
            sandbox: &run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &self.identity.hostname,
        };
        let env = launcher::task_environment(std::env::vars(), task, &ctx);
        self.launcher
            .launch(run, command, &env)
            .map_err(|e| Refusal::failed(format!("Failed to launch task: {e}")))
    }

    fn watch(&self, key: StreamKey, container_id: String, supervised: Supervised) {
        let exits = self.exits.clone();
        tokio::spawn(async move {
            let status = supervised.wait().await;
            let _ = exits.send(Exit {
                key,
                container_id,
                status,
            });
        });
    }

    fn task_mut(&mut self, key: &StreamKey) -> Option<&mut Task> {
        self.frameworks
            .get_mut(&key.framework_id)
            .and_then(|f| f.tasks.get_mut(&key.task_id))
    }

    /// Creates, journals and (when it is the stream's head) sends a status update.
    fn update(
        &mut self,
        key: &StreamKey,
        state: TaskState,
        message: Option<String>,
        reason: Option<task_status::Reason>,
        source: task_status::Source,
    ) {
        let agent_id = self.agent_id.clone().unwrap_or_default();
        let Some(framework) = self.frameworks.get_mut(&key.framework_id) else {
            return;
        };
        if framework.removed {
            return;
        }
        let Some(task) = framework.tasks.get_mut(&key.task_id) else {
            return;
        };
        let status = TaskStatus {
            task_id: task.info.task_id.clone(),
            state: state as i32,
            message,
            source: Some(source as i32),
            reason: reason.map(|r| r as i32),
            agent_id: Some(AgentId { value: agent_id }),
            executor_id: Some(ExecutorId {
                value: task.executor_id().to_string(),
            }),
            timestamp: Some(now_secs()),
            uuid: Some(mesos_common::ids::new_uuid_bytes()),
            container_status: Some(Box::new(ContainerStatus {
                container_id: Some(task.container()),
                network_infos: task.network_infos.clone(),
                ..Default::default()
            })),
            ..Default::default()
        };
        task.state = state;
        task.statuses.push(status.clone());
        let update = StatusUpdate {
            framework_id: FrameworkId {
                value: key.framework_id.clone(),
            },
            status,
            latest_state: None,
        };
        info!(
            framework_id = %key.framework_id,
            task_id = %key.task_id,
            state = state.as_str_name(),
            "status update"
        );
        match self.sum.update(update, Instant::now()) {
            Ok(Some(head)) => self.send(agent_message::Message::StatusUpdate(head)),
            Ok(None) => {}
            Err(e) => error!(error = %e, "status update not recorded"),
        }
    }

    /// An update that is neither journaled nor acknowledged (no uuid): the answer about a
    /// task this agent does not hold.
    fn send_unreliable(
        &self,
        framework_id: &str,
        task_id: &str,
        state: TaskState,
        message: &str,
        reason: task_status::Reason,
    ) {
        let status = TaskStatus {
            task_id: TaskId {
                value: task_id.to_string(),
            },
            state: state as i32,
            message: Some(message.to_string()),
            source: Some(task_status::Source::Agent as i32),
            reason: Some(reason as i32),
            agent_id: self.agent_id.clone().map(|value| AgentId { value }),
            timestamp: Some(now_secs()),
            ..Default::default()
        };
        self.send(agent_message::Message::StatusUpdate(StatusUpdate {
            framework_id: FrameworkId {
                value: framework_id.to_string(),
            },
            latest_state: Some(state as i32),
            status,
        }));
    }

    pub fn on_exit(&mut self, exit: Exit) {
        if exit.is_executor() {
            return self.on_executor_exit(exit);
        }
        let key = exit.key;
        let span = info_span!("task", framework_id = %key.framework_id, task_id = %key.task_id);
        let _enter = span.enter();
        let Some(framework) = self.frameworks.get_mut(&key.framework_id) else {
            return;
        };
        let removed = framework.removed;
        let Some(task) = framework.tasks.get_mut(&key.task_id) else {
            return;
        };
        if task.container_id != exit.container_id || task.exited {
            return;
        }
        task.exited = true;
        if removed {
            let task = framework.tasks.remove(&key.task_id).expect("present");
            framework.complete(task);
            self.group_task_ended(&key, TaskState::TaskKilled);
            self.retire_framework_if_idle(&key.framework_id);
            return;
        }
        let killing = task.killing;
        let (state, message, reason, source) = match &exit.status {
            None => (
                TaskState::TaskFailed,
                "Abnormal executor termination: the task's supervisor exited without \
                 recording how the task ended"
                    .to_string(),
                Some(task_status::Reason::ExecutorTerminated),
                task_status::Source::Agent,
            ),
            Some(status @ ExitStatus::Error(_)) => (
                TaskState::TaskFailed,
                status.describe(),
                Some(task_status::Reason::ContainerLaunchFailed),
                task_status::Source::Executor,
            ),
            Some(status) if killing => (
                TaskState::TaskKilled,
                status.describe(),
                None,
                task_status::Source::Executor,
            ),
            Some(status) if status.success() => (
                TaskState::TaskFinished,
                status.describe(),
                None,
                task_status::Source::Executor,
            ),
            Some(status) => (
                TaskState::TaskFailed,
                status.describe(),
                None,
                task_status::Source::Executor,
            ),
        };
        info!(message, "task ended");
        self.update(&key, state, Some(message), reason, source);
        self.group_task_ended(&key, state);
    }

    pub fn on_container_event(&mut self, event: ContainerEvent) {
        let key = event.key;
        let span = info_span!("task", framework_id = %key.framework_id, task_id = %key.task_id);
        let _enter = span.enter();
        let name = docker::container_name(&event.container_id);
        let Some(framework) = self.frameworks.get_mut(&key.framework_id) else {
            return;
        };
        let removed = framework.removed;
        let Some(task) = framework.tasks.get_mut(&key.task_id) else {
            return;
        };
        if task.container_id != event.container_id || task.exited {
            return;
        }
        let outcome = match event.kind {
            ContainerEventKind::Created => {
                if !removed {
                    self.update(
                        &key,
                        TaskState::TaskStarting,
                        None,
                        None,
                        task_status::Source::Executor,
                    );
                }
                return;
            }
            ContainerEventKind::Started { network_infos } => {
                if !network_infos.is_empty() {
                    task.network_infos = network_infos;
                }
                if !removed {
                    self.update(
                        &key,
                        TaskState::TaskRunning,
                        None,
                        None,
                        task_status::Source::Executor,
                    );
                }
                return;
            }
            ContainerEventKind::Ended(outcome) => outcome,
        };
        task.exited = true;
        let killing = task.killing;
        if removed {
            let task = framework.tasks.remove(&key.task_id).expect("present");
            framework.complete(task);
            self.retire_framework_if_idle(&key.framework_id);
        } else {
            let (state, message, reason, source) = container_outcome(&outcome, killing);
            info!(message, "task ended");
            self.update(&key, state, Some(message), reason, source);
        }
        // Only now that the end is journaled may the container (and its exit code) go.
        if let Some(runtime) = &self.docker {
            if !matches!(
                outcome,
                Outcome::LaunchFailed(_) | Outcome::KilledBeforeStart
            ) {
                runtime.remove(name);
            }
        }
    }

    fn on_kill_task(&mut self, kill: KillTask) {
        let key = StreamKey::new(kill.framework_id.value.clone(), kill.task_id.value.clone());
        let span = info_span!("task", framework_id = %key.framework_id, task_id = %key.task_id);
        let _enter = span.enter();
        let framework = self.frameworks.get(&key.framework_id);
        let Some(task) = framework.and_then(|f| f.tasks.get(&key.task_id)) else {
            warn!("asked to kill a task this agent does not run");
            let partition_aware = framework.is_some_and(|f| {
                f.has_capability(framework_info::capability::Type::PartitionAware)
            });
            let state = if partition_aware {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            self.send_unreliable(
                &key.framework_id,
                &key.task_id,
                state,
                "Task is unknown to the agent",
                task_status::Reason::TaskUnknown,
            );
            return;
        };
        if task.exited || task.killing {
            debug!("kill ignored: the task is already ending");
            return;
        }
        let grace = kill_grace(&task.info, kill.kill_policy.as_ref());
        let killing_state = framework
            .is_some_and(|f| f.has_capability(framework_info::capability::Type::TaskKillingState));
        self.start_kill(&key, grace);
        if killing_state {
            self.update(
                &key,
                TaskState::TaskKilling,
                None,
                None,
                task_status::Source::Executor,
            );
        }
    }

    fn start_kill(&mut self, key: &StreamKey, grace: Duration) {
        if self.kill_on_executor(key, grace) {
            return;
        }
        let Some(task) = self.task_mut(key) else {
            return;
        };
        task.killing = true;
        if let Err(e) = write_atomic(&task.run.killed(), b"") {
            warn!(error = %e, "cannot checkpoint the kill");
        }
        info!(grace = ?grace, "killing task");
        match &task.docker {
            Some(switch) => switch.kill(grace),
            None => {
                tokio::spawn(launcher::kill(task.run.clone(), grace));
            }
        }
    }

    fn on_acknowledgement(&mut self, ack: StatusUpdateAcknowledgement) {
        let key = StreamKey::new(ack.framework_id.value, ack.task_id.value);
        match self.sum.acknowledge(&key, &ack.uuid, Instant::now()) {
            Ok(AckOutcome::Accepted { next, finished }) => {
                self.executor_acknowledged(&key, &ack.uuid);
                if let Some(next) = next {
                    self.send(agent_message::Message::StatusUpdate(next));
                }
                if finished {
                    self.sum.journal_mut().forget(&key);
                    self.finish_task(&key);
                }
            }
            Ok(AckOutcome::Ignored) => debug!(
                task_id = %key.task_id,
                uuid = %mesos_common::ids::uuid_to_string(&ack.uuid),
                "ignoring an acknowledgement of no update in flight"
            ),
            Err(e) => error!(error = %e, "cannot record acknowledgement"),
        }
    }

    fn finish_task(&mut self, key: &StreamKey) {
        let Some(framework) = self.frameworks.get_mut(&key.framework_id) else {
            return;
        };
        if let Some(task) = framework.tasks.remove(&key.task_id) {
            framework.complete(task);
        }
        self.retire_framework_if_idle(&key.framework_id);
    }

    fn on_shutdown_framework(&mut self, shutdown: ShutdownFramework) {
        let framework_id = shutdown.framework_id.value;
        let span = info_span!("framework", framework_id = %framework_id);
        let _enter = span.enter();
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            debug!("shutdown of a framework with no tasks here");
            return;
        };
        info!("shutting down framework: killing its tasks");
        framework.removed = true;
        if let Some(agent_id) = &self.agent_id {
            let marker = self
                .layout
                .framework_meta(agent_id, &framework_id)
                .join(FRAMEWORK_REMOVED);
            if let Err(e) = write_atomic(&marker, b"") {
                warn!(error = %e, "cannot checkpoint the framework's shutdown");
            }
        }
        let ids = |exited: bool| -> Vec<String> {
            framework
                .tasks
                .iter()
                .filter(|(_, t)| t.exited == exited)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let (ended, running) = (ids(true), ids(false));
        for task_id in ended {
            if let Some(task) = framework.tasks.remove(&task_id) {
                framework.complete(task);
            }
        }
        for key in self.sum.cleanup_framework(&framework_id) {
            self.sum.journal_mut().forget(&key);
        }
        // As Mesos gives executors of a framework being shut down.
        let default_grace = self.config.executor_shutdown_grace_period;
        for task_id in running {
            let key = StreamKey::new(framework_id.clone(), task_id);
            let grace = self
                .task_mut(&key)
                .and_then(|t| policy_grace(&t.info, None))
                .unwrap_or(default_grace);
            if self.task_mut(&key).is_some_and(|t| !t.killing) {
                self.start_kill(&key, grace);
            }
        }
        self.retire_framework_if_idle(&framework_id);
    }

    fn retire_framework_if_idle(&mut self, framework_id: &str) {
        if self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| f.tasks.is_empty())
        {
            self.retire_framework(framework_id);
        }
    }

    fn retire_framework(&mut self, framework_id: &str) {
        if let Some(framework) = self.frameworks.remove(framework_id) {
            self.completed_frameworks.push_back(framework);
            while self.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
                self.completed_frameworks.pop_front();
            }
        }
    }

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

/// The terminal update of a Docker task: state, message, reason, source.
fn container_outcome(
    outcome: &Outcome,
    killing: bool,
) -> (
    TaskState,
    String,
    Option<task_status::Reason>,
    task_status::Source,
) {
    use task_status::{Reason, Source};
    match outcome {
        Outcome::Exited {
            code,
            oom_killed: true,
        } => (
            TaskState::TaskFailed,
            format!("Memory limit exceeded: the container was OOM-killed (exit status {code})"),
            Some(Reason::ContainerLimitationMemory),
            Source::Agent,
        ),
        Outcome::Exited { code, .. } if killing => (
            TaskState::TaskKilled,
            format!("Container exited with status {code} after a kill"),
            None,
            Source::Executor,
        ),
        Outcome::Exited { code: 0, .. } => (
            TaskState::TaskFinished,
            "Container exited with status 0".to_string(),
            None,
            Source::Executor,
        ),
        Outcome::Exited { code, .. } => (
            TaskState::TaskFailed,
            format!("Container exited with status {code}"),
            None,
            Source::Executor,
        ),
        Outcome::LaunchFailed(text) => (
            TaskState::TaskFailed,
            format!("Failed to launch container: {text}"),
            Some(Reason::ContainerLaunchFailed),
            Source::Agent,
        ),
        Outcome::KilledBeforeStart => (
            TaskState::TaskKilled,
            "Task killed before its container started".to_string(),
            None,
            Source::Agent,
        ),
        Outcome::Gone(text) if killing => {
            (TaskState::TaskKilled, text.clone(), None, Source::Agent)
        }
        Outcome::Gone(text) => (
            TaskState::TaskFailed,
            text.clone(),
            Some(Reason::ExecutorTerminated),
            Source::Agent,
        ),
    }
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
