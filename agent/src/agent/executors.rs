//! Custom executors (a TaskInfo with an ExecutorInfo) and the core side of the v1 executor
//! API (`POST /api/v1/executor`, see [`crate::executor_api`]).
//!
//! The agent starts the executor's command under a supervisor in the executor's sandbox,
//! queues its tasks until it SUBSCRIBEs, then sends them as LAUNCH events on its stream.
//! The executor's UPDATE calls go through the reliable status update manager under the
//! executor's own uuids; when the framework acknowledges one, the executor hears
//! ACKNOWLEDGED. When the executor process ends, its unfinished tasks fail with
//! REASON_EXECUTOR_TERMINATED.
//!
//! ```text
//!  RunTask(executor) ─▶ start executor ─▶ queued ──SUBSCRIBE──▶ LAUNCH events
//!  RunTaskGroup(custom executor) ─▶ (same) ──▶ LAUNCH_GROUP event
//!  UPDATE call ─▶ status update manager ─▶ master ─▶ ack ─▶ ACKNOWLEDGED event
//!  MESSAGE call ─▶ ExecutorToFramework      FrameworkToExecutor ─▶ MESSAGE event
//!  ShutdownExecutor ─▶ SHUTDOWN event, kill after the grace period
//! ```
//!
//! An executor that does not SUBSCRIBE within `--executor_registration_timeout` is killed
//! and its tasks fail (REASON_EXECUTOR_REGISTRATION_TIMEOUT). After an agent restart the
//! executors of the checkpointed runs are adopted again: each has
//! `--executor_reregistration_timeout` to SUBSCRIBE again (with its unacknowledged tasks
//! and updates, which the agent takes over) before it is killed and its tasks are lost
//! (REASON_EXECUTOR_REREGISTRATION_TIMEOUT).
//!
//! A task group (LAUNCH_GROUP) whose ExecutorInfo is CUSTOM goes to its executor as one
//! LAUNCH_GROUP event; groups under the default executor are [`super::task_groups`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use mesos_proto::internal::{
    agent_message, ExecutorToFramework, FrameworkToExecutor, RunTask, ShutdownExecutor,
    StatusUpdate,
};
use mesos_proto::v1::executor::{self, call, event};
use mesos_proto::v1::{
    self, task_status, AgentId, ExecutorId, ExecutorInfo, FrameworkId, TaskInfo, TaskState,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, info_span, warn};

use super::{now_secs, Core, Exit, Task};
use crate::checkpoint::{self, RecoveredRun};
use crate::encoding::{ApiError, Encoding};
use crate::launcher::{self, CommandLine, EnvContext, Supervised};
use crate::paths::RunPaths;
use crate::status_update::StreamKey;
use crate::supervisor::ExitStatus;
use mesos_common::flags::format_duration;

/// Events queued for one executor's stream before it is considered too slow.
const STREAM_CAPACITY: usize = 1024;

/// A call of an executor, as the HTTP edge hands it to the core. SUBSCRIBE is answered
/// with the receiving end of the executor's event stream (RecordIO records).
#[derive(Debug)]
pub struct ExecutorRequest {
    pub call: executor::Call,
    pub encoding: Encoding,
    pub reply: oneshot::Sender<Result<Option<mpsc::Receiver<Bytes>>, ApiError>>,
}

#[derive(Debug)]
struct Executor {
    info: ExecutorInfo,
    framework_info: v1::FrameworkInfo,
    container_id: String,
    run: RunPaths,
    stream: Option<(mpsc::Sender<Bytes>, Encoding)>,
    /// Tasks and task groups waiting for the executor to subscribe.
    queued: Vec<Launch>,
    /// Every task given to this executor that the core still holds.
    tasks: BTreeSet<String>,
    shutting_down: bool,
    /// Until when it may (re-)subscribe before it is killed; `None` once subscribed.
    subscribe_by: Option<Instant>,
    /// Adopted after an agent restart and not subscribed again yet.
    recovered: bool,
    /// Why the agent ended it, which its unfinished tasks then report.
    termination: Option<Termination>,
}

/// What an executor is given: a task (LAUNCH) or a task group (LAUNCH_GROUP).
#[derive(Debug, Clone)]
enum Launch {
    Task(Box<TaskInfo>),
    Group(v1::TaskGroupInfo),
}

impl Launch {
    fn tasks(&self) -> Vec<&TaskInfo> {
        match self {
            Launch::Task(task) => vec![&**task],
            Launch::Group(group) => group.tasks.iter().collect(),
        }
    }

    fn event(&self) -> executor::Event {
        match self {
            Launch::Task(task) => {
                let mut launch = event(event::Type::Launch);
                launch.launch = Some(event::Launch {
                    task: (**task).clone(),
                });
                launch
            }
            Launch::Group(group) => {
                let mut launch = event(event::Type::LaunchGroup);
                launch.launch_group = Some(event::LaunchGroup {
                    task_group: group.clone(),
                });
                launch
            }
        }
    }
}

/// The end the agent gave an executor, as its unfinished tasks report it.
#[derive(Debug, Clone)]
struct Termination {
    state: TaskState,
    reason: task_status::Reason,
    message: String,
}

impl Executor {
    fn send(&self, event: &executor::Event) -> bool {
        let Some((tx, encoding)) = &self.stream else {
            return false;
        };
        let record = mesos_common::recordio::encode(&encoding.encode(event));
        tx.try_send(record).is_ok()
    }
}

/// The custom executors of the agent, by (framework id, executor id).
#[derive(Debug, Default)]
pub struct Executors {
    by_id: BTreeMap<(String, String), Executor>,
}

impl Executors {
    /// Whether a custom executor of that id runs.
    pub(crate) fn contains(&self, framework_id: &str, executor_id: &str) -> bool {
        self.by_id
            .contains_key(&(framework_id.to_string(), executor_id.to_string()))
    }

    /// Records that the executor runs `task_id` (recovery).
    pub(crate) fn hold_task(&mut self, framework_id: &str, executor_id: &str, task_id: &str) {
        let key = (framework_id.to_string(), executor_id.to_string());
        if let Some(executor) = self.by_id.get_mut(&key) {
            executor.tasks.insert(task_id.to_string());
        }
    }

    /// How many executors have not subscribed (yet, or again after an agent restart).
    pub(crate) fn registering(&self) -> usize {
        self.by_id
            .values()
            .filter(|e| e.stream.is_none() && !e.shutting_down)
            .count()
    }

    /// The earliest time an executor's time to subscribe runs out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.by_id
            .values()
            .filter(|e| e.stream.is_none() && !e.shutting_down)
            .filter_map(|e| e.subscribe_by)
            .min()
    }
}

fn event(kind: event::Type) -> executor::Event {
    executor::Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

impl Exit {
    /// The exit of a custom executor: no task of its own, only its container.
    fn of_executor(framework_id: &str, container_id: &str) -> (StreamKey, String) {
        (
            StreamKey::new(framework_id, String::new()),
            container_id.to_string(),
        )
    }

    /// Whether this is an executor's exit rather than a command task's.
    pub(crate) fn is_executor(&self) -> bool {
        self.key.task_id.is_empty()
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

impl Core {
    fn executor_of_task(&self, key: &StreamKey) -> Option<&(String, String)> {
        self.executors
            .by_id
            .iter()
            .find(|((fw, _), e)| *fw == key.framework_id && e.tasks.contains(&key.task_id))
            .map(|(k, _)| k)
    }

    /// RunTask for a task with an ExecutorInfo: starts the executor unless it runs, then
    /// gives it the task (at once if it has subscribed).
    pub(crate) fn run_on_executor(&mut self, run: RunTask) {
        let RunTask {
            framework_info,
            task,
        } = run;
        let info = task.executor.clone().expect("a task with an executor");
        self.give_to_executor(framework_info, info, Launch::Task(Box::new(task)));
    }

    /// RunTaskGroup whose executor is a custom one: the executor gets the group as one
    /// LAUNCH_GROUP event, as Mesos gives it.
    pub(crate) fn run_group_on_executor(
        &mut self,
        framework_info: v1::FrameworkInfo,
        info: ExecutorInfo,
        group: v1::TaskGroupInfo,
    ) {
        self.give_to_executor(framework_info, info, Launch::Group(group));
    }

    /// Starts the executor unless it runs, then gives it `launch` (at once if it has
    /// subscribed, else when it does).
    fn give_to_executor(
        &mut self,
        framework_info: v1::FrameworkInfo,
        info: ExecutorInfo,
        launch: Launch,
    ) {
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let task_ids: Vec<String> = launch
            .tasks()
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect();
        let executor_id = info.executor_id.value.clone();
        let span = info_span!("task", framework_id = %framework_id, task_id = %task_ids.join(","), executor_id = %executor_id);
        let _enter = span.enter();
        let Some(agent_id) = self.admit_launch(
            &framework_id,
            Some(&executor_id),
            &task_ids,
            task_status::Reason::TaskInvalid,
        ) else {
            return;
        };
        let refuse = |core: &Core, state: TaskState, reason: task_status::Reason, message: &str| {
            for task_id in &task_ids {
                core.send_unreliable(&framework_id, task_id, state, message, reason);
            }
        };
        if let Err(e) = checkpoint::write_message(
            &self.layout.framework_info(&agent_id, &framework_id),
            &framework_info,
        ) {
            warn!(error = %e, "cannot checkpoint the framework");
        }
        let key = (framework_id.clone(), executor_id.clone());
        if self
            .executors
            .by_id
            .get(&key)
            .is_some_and(|e| e.shutting_down)
        {
            return refuse(
                self,
                TaskState::TaskLost,
                task_status::Reason::ExecutorTerminated,
                "The task's executor is shutting down",
            );
        }
        let (container_id, run, started) = match self.executors.by_id.get(&key) {
            Some(e) => (e.container_id.clone(), e.run.clone(), Ok(())),
            None => {
                let container_id = uuid::Uuid::new_v4().to_string();
                let run = self
                    .layout
                    .run(&agent_id, &framework_id, &executor_id, &container_id);
                let started = self.start_executor(
                    &agent_id,
                    &framework_info,
                    info.clone(),
                    &container_id,
                    &run,
                );
                (container_id, run, started)
            }
        };
        let framework = self.framework_entry(framework_info);
        framework.removed = false;
        let command = info
            .command
            .as_ref()
            .and_then(|c| CommandLine::from_command(c).ok())
            .map(|c| c.display())
            .unwrap_or_default();
        let mut streams = Vec::new();
        for task in launch.tasks() {
            let mut task = task.clone();
            // The agent's record says which executor runs it (tasks of a group name none).
            task.executor = Some(info.clone());
            let task_id = task.task_id.value.clone();
            let stream = StreamKey::new(framework_id.clone(), task_id.clone());
            self.sum
                .journal_mut()
                .register(stream.clone(), run.task_updates(&task_id));
            if let Err(e) = checkpoint::write_message(&run.task_info(&task_id), &task) {
                warn!(task_id, error = %e, "cannot checkpoint the task");
            }
            self.frameworks
                .get_mut(&framework_id)
                .expect("framework_entry inserted it")
                .tasks
                .insert(
                    task_id,
                    Task {
                        framework_id: framework_id.clone(),
                        container_id: container_id.clone(),
                        run: run.clone(),
                        command: command.clone(),
                        state: TaskState::TaskStaging,
                        statuses: Vec::new(),
                        exited: false,
                        killing: false,
                        docker: None,
                        network_infos: Vec::new(),
                        parent_container_id: None,
                        info: task,
                    },
                );
            streams.push(stream);
        }
        if let Err(message) = started {
            warn!(message, "executor not started");
            for stream in &streams {
                if let Some(t) = self.task_mut(stream) {
                    t.exited = true;
                }
                self.update(
                    stream,
                    TaskState::TaskFailed,
                    Some(message.clone()),
                    Some(task_status::Reason::ContainerLaunchFailed),
                    task_status::Source::Agent,
                );
            }
            return;
        }
        let executor = self.executors.by_id.get_mut(&key).expect("started above");
        executor.tasks.extend(task_ids);
        if executor.stream.is_some() {
            executor.send(&launch.event());
        } else {
            executor.queued.push(launch);
        }
    }

    /// Starts the executor's command under a supervisor in a sandbox of its own.
    fn start_executor(
        &mut self,
        agent_id: &str,
        framework_info: &v1::FrameworkInfo,
        mut info: ExecutorInfo,
        container_id: &str,
        run: &RunPaths,
    ) -> Result<(), String> {
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let executor_id = info.executor_id.value.clone();
        let command = info
            .command
            .as_ref()
            .ok_or("Executor has no command")
            .and_then(|c| CommandLine::from_command(c).map_err(|_| "Executor command is empty"))
            .map_err(str::to_string)?;
        info.framework_id = Some(FrameworkId {
            value: framework_id.clone(),
        });
        launcher::prepare_sandbox(run)
            .map_err(|e| format!("Failed to create sandbox {}: {e}", run.sandbox.display()))?;
        let endpoint = self.identity.endpoint();
        let ctx = EnvContext {
            framework_id: &framework_id,
            executor_id: &executor_id,
            sandbox: &run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &self.identity.hostname,
        };
        // The executor's environment is a task's, built from the executor's command.
        let as_task = TaskInfo {
            task_id: v1::TaskId {
                value: executor_id.clone(),
            },
            command: info.command.clone(),
            resources: info.resources.clone(),
            ..Default::default()
        };
        let mut env = launcher::task_environment(std::env::vars(), &as_task, &ctx);
        env.remove("MESOS_TASK_ID");
        let grace = self.executor_grace(&info);
        for (name, value) in [
            ("MESOS_AGENT_ID", agent_id.to_string()),
            ("MESOS_SLAVE_ID", agent_id.to_string()),
            (
                "MESOS_CHECKPOINT",
                if framework_info.checkpoint() {
                    "1"
                } else {
                    "0"
                }
                .to_string(),
            ),
            (
                "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
                format!("{}secs", grace.as_secs_f64()),
            ),
            ("MESOS_HTTP_COMMAND_EXECUTOR", "0".to_string()),
        ] {
            env.entry(name.to_string()).or_insert(value);
        }
        if framework_info.checkpoint() {
            // What an executor needs to ride out an agent restart, as Mesos gives it.
            for (name, value) in [
                ("MESOS_RECOVERY_TIMEOUT", self.config.recovery_timeout),
                (
                    "MESOS_SUBSCRIPTION_BACKOFF_MAX",
                    self.config.executor_reregistration_timeout,
                ),
            ] {
                env.entry(name.to_string())
                    .or_insert_with(|| format_duration(value));
            }
        }
        let supervised = self
            .launcher
            .launch(run, &command, &env)
            .map_err(|e| format!("Failed to launch executor: {e}"))?;
        info!(pid = supervised.pid, sandbox = %run.sandbox.display(), "executor started");
        let exits = self.exits.clone();
        let (key, container) = Exit::of_executor(&framework_id, container_id);
        tokio::spawn(async move {
            let status = supervised.wait().await;
            let _ = exits.send(Exit {
                key,
                container_id: container,
                status,
            });
        });
        self.executors.by_id.insert(
            (framework_id, executor_id),
            Executor {
                info,
                framework_info: framework_info.clone(),
                container_id: container_id.to_string(),
                run: run.clone(),
                stream: None,
                queued: Vec::new(),
                tasks: BTreeSet::new(),
                shutting_down: false,
                subscribe_by: Some(Instant::now() + self.config.executor_registration_timeout),
                recovered: false,
                termination: None,
            },
        );
        Ok(())
    }

    fn executor_grace(&self, info: &ExecutorInfo) -> Duration {
        info.shutdown_grace_period
            .as_ref()
            .map(|d| Duration::from_nanos(d.nanoseconds.max(0) as u64))
            .unwrap_or(self.config.executor_shutdown_grace_period)
    }

    /// A call from an executor over HTTP.
    pub(crate) fn on_executor_request(&mut self, request: ExecutorRequest) {
        let answer = self.executor_call(request.call, request.encoding);
        let _ = request.reply.send(answer);
    }

    fn executor_call(
        &mut self,
        call: executor::Call,
        encoding: Encoding,
    ) -> Result<Option<mpsc::Receiver<Bytes>>, ApiError> {
        let key = (
            call.framework_id.value.clone(),
            call.executor_id.value.clone(),
        );
        let agent_info = self.agent_info();
        let Some(executor) = self.executors.by_id.get_mut(&key) else {
            return Err(bad(format!(
                "Executor '{}' of framework '{}' is not known to this agent",
                key.1, key.0
            )));
        };
        let kind = call.r#type.and_then(|t| call::Type::try_from(t).ok());
        if executor.stream.is_none() && !matches!(kind, Some(call::Type::Subscribe) | None) {
            // As Mesos: after an agent restart an executor must SUBSCRIBE again (with its
            // unacknowledged updates) before anything else, so that every update it sent
            // is acknowledged back to it on its stream.
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Executor is not subscribed",
            ));
        }
        match kind {
            Some(call::Type::Subscribe) => {
                if executor.shutting_down {
                    return Err(bad("Executor is shutting down"));
                }
                let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
                executor.stream = Some((tx, encoding));
                executor.subscribe_by = None;
                let recovered = std::mem::take(&mut executor.recovered);
                let mut subscribed = event(event::Type::Subscribed);
                subscribed.subscribed = Some(event::Subscribed {
                    executor_info: executor.info.clone(),
                    framework_info: executor.framework_info.clone(),
                    agent_info,
                    container_id: Some(v1::ContainerId {
                        value: executor.container_id.clone(),
                        parent: None,
                    }),
                });
                executor.send(&subscribed);
                for launch in std::mem::take(&mut executor.queued) {
                    executor.send(&launch.event());
                }
                info!(executor_id = %key.1, recovered, "executor subscribed");
                if recovered {
                    self.take_over_from_executor(&key, call.subscribe.unwrap_or_default());
                }
                Ok(Some(rx))
            }
            Some(call::Type::Update) => {
                let update = call
                    .update
                    .ok_or_else(|| bad("Expecting 'update' to be present"))?;
                self.executor_update(&key, update.status)?;
                Ok(None)
            }
            Some(call::Type::Message) => {
                let message = call
                    .message
                    .ok_or_else(|| bad("Expecting 'message' to be present"))?;
                self.send(agent_message::Message::ExecutorMessage(
                    ExecutorToFramework {
                        framework_id: call.framework_id,
                        executor_id: call.executor_id,
                        data: message.data,
                    },
                ));
                Ok(None)
            }
            Some(call::Type::Heartbeat) => Ok(None),
            _ => Err(bad("Expecting 'type' to be a known call type")),
        }
    }

    /// An UPDATE from an executor: journaled and sent under the executor's uuid.
    fn executor_update(
        &mut self,
        executor: &(String, String),
        mut status: v1::TaskStatus,
    ) -> Result<(), ApiError> {
        let stream = StreamKey::new(executor.0.clone(), status.task_id.value.clone());
        if !self
            .executors
            .by_id
            .get(executor)
            .is_some_and(|e| e.tasks.contains(&stream.task_id))
        {
            return Err(bad(format!(
                "Task '{}' is not a task of executor '{}'",
                stream.task_id, executor.1
            )));
        }
        let state = TaskState::try_from(status.state)
            .map_err(|_| bad(format!("Unknown task state {}", status.state)))?;
        if status.uuid.as_ref().is_none_or(|u| u.len() != 16) {
            return Err(bad("Expecting 'status.uuid' to be a 16-byte UUID"));
        }
        if state == TaskState::TaskStaging {
            return Err(bad("An executor may not send TASK_STAGING"));
        }
        status.source = Some(task_status::Source::Executor as i32);
        status.agent_id = self.agent_id.clone().map(|value| AgentId { value });
        status.executor_id = Some(ExecutorId {
            value: executor.1.clone(),
        });
        status.timestamp = Some(status.timestamp.unwrap_or_else(now_secs));
        let Some(task) = self.task_mut(&stream) else {
            return Err(bad("The task is gone"));
        };
        if task.state.is_terminal() {
            return Err(bad(format!(
                "Task '{}' already ended in {}",
                stream.task_id,
                task.state.as_str_name()
            )));
        }
        if status.container_status.is_none() {
            status.container_status = Some(Box::new(v1::ContainerStatus {
                container_id: Some(v1::ContainerId {
                    value: task.container_id.clone(),
                    parent: None,
                }),
                ..Default::default()
            }));
        }
        task.state = state;
        task.statuses.push(status.clone());
        if state.is_terminal() {
            task.exited = true;
        }
        info!(task_id = %stream.task_id, state = state.as_str_name(), "status update from executor");
        let update = StatusUpdate {
            framework_id: FrameworkId {
                value: stream.framework_id.clone(),
            },
            status,
            latest_state: None,
        };
        match self.sum.update(update, Instant::now()) {
            Ok(Some(head)) => self.send(agent_message::Message::StatusUpdate(head)),
            Ok(None) => {}
            Err(e) => return Err(bad(e.to_string())),
        }
        Ok(())
    }

    /// Tells the executor of the task that the framework acknowledged `uuid`.
    pub(crate) fn executor_acknowledged(&mut self, stream: &StreamKey, uuid: &[u8]) {
        let Some(key) = self.executor_of_task(stream).cloned() else {
            return;
        };
        let executor = &self.executors.by_id[&key];
        let mut acknowledged = event(event::Type::Acknowledged);
        acknowledged.acknowledged = Some(event::Acknowledged {
            task_id: v1::TaskId {
                value: stream.task_id.clone(),
            },
            uuid: uuid.to_vec(),
        });
        executor.send(&acknowledged);
        if let Some(task) = self.task_mut(stream) {
            if task.exited && task.state.is_terminal() {
                // The terminal update is acknowledged: the executor is done with the task.
                let key = key.clone();
                if let Some(e) = self.executors.by_id.get_mut(&key) {
                    e.tasks.remove(&stream.task_id);
                }
            }
        }
    }

    /// Kills a task of a custom executor by asking the executor; false for other tasks.
    pub(crate) fn kill_on_executor(&mut self, stream: &StreamKey, grace: Duration) -> bool {
        let Some(key) = self.executor_of_task(stream).cloned() else {
            return false;
        };
        if let Some(task) = self.task_mut(stream) {
            task.killing = true;
        }
        let executor = self.executors.by_id.get_mut(&key).expect("found above");
        if let Some(i) = executor.queued.iter().position(|launch| {
            launch
                .tasks()
                .iter()
                .any(|t| t.task_id.value == stream.task_id)
        }) {
            // Never launched: it ends here, with the rest of its group (as in Mesos).
            let launch = executor.queued.remove(i);
            for task in launch.tasks() {
                let stream =
                    StreamKey::new(stream.framework_id.clone(), task.task_id.value.clone());
                if let Some(task) = self.task_mut(&stream) {
                    task.exited = true;
                }
                self.update(
                    &stream,
                    TaskState::TaskKilled,
                    Some("Task killed before its executor subscribed".to_string()),
                    None,
                    task_status::Source::Agent,
                );
            }
            return true;
        }
        let mut kill = event(event::Type::Kill);
        kill.kill = Some(event::Kill {
            task_id: v1::TaskId {
                value: stream.task_id.clone(),
            },
            kill_policy: Some(v1::KillPolicy {
                grace_period: Some(v1::DurationInfo {
                    nanoseconds: grace.as_nanos() as i64,
                }),
            }),
        });
        if !executor.send(&kill) {
            warn!(task_id = %stream.task_id, "cannot reach the executor; shutting it down");
            self.shutdown_executor(&key);
        }
        true
    }

    /// FrameworkToExecutor from the master: a MESSAGE event for a subscribed executor.
    pub(crate) fn on_framework_message(&mut self, message: FrameworkToExecutor) {
        let key = (
            message.framework_id.value.clone(),
            message.executor_id.value.clone(),
        );
        let mut event = event(event::Type::Message);
        event.message = Some(event::Message { data: message.data });
        let delivered = self
            .executors
            .by_id
            .get(&key)
            .is_some_and(|e| e.send(&event));
        if !delivered {
            warn!(
                framework_id = %key.0,
                executor_id = %key.1,
                "dropping framework message: no subscribed executor of that id"
            );
        }
    }

    pub(crate) fn on_shutdown_executor(&mut self, shutdown: ShutdownExecutor) {
        let key = (
            shutdown.framework_id.value.clone(),
            shutdown.executor_id.value.clone(),
        );
        if !self.executors.by_id.contains_key(&key) {
            if self.shutdown_default_executor(&key) {
                return;
            }
            warn!(executor_id = %key.1, "shutdown of an executor this agent does not run");
            return;
        }
        self.shutdown_executor(&key);
    }

    /// SHUTDOWN event, then the executor's process group is killed after its grace period.
    fn shutdown_executor(&mut self, key: &(String, String)) {
        let grace = match self.executors.by_id.get(key) {
            Some(e) => self.executor_grace(&e.info),
            None => return,
        };
        let executor = self.executors.by_id.get_mut(key).expect("present");
        if executor.shutting_down {
            return;
        }
        executor.shutting_down = true;
        info!(executor_id = %key.1, grace = ?grace, "shutting down executor");
        let told = executor.send(&event(event::Type::Shutdown));
        let run = executor.run.clone();
        // A subscribed executor gets its grace period to end its tasks and itself.
        tokio::spawn(async move {
            if told {
                tokio::time::sleep(grace).await;
            }
            launcher::kill(run, Duration::ZERO).await;
        });
    }

    /// The executor's process ended: its unfinished tasks fail (or are killed, when a kill
    /// was asked for) and it is forgotten.
    pub(crate) fn on_executor_exit(&mut self, exit: Exit) {
        let Some(key) = self
            .executors
            .by_id
            .iter()
            .find(|((fw, _), e)| {
                *fw == exit.key.framework_id && e.container_id == exit.container_id
            })
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        let executor = self.executors.by_id.remove(&key).expect("found above");
        // The framework hears of it as a FAILURE event (with a POSIX wait status).
        let wait_status = exit.status.as_ref().and_then(|s| match s {
            crate::supervisor::ExitStatus::Code(code) => Some((code & 0xff) << 8),
            crate::supervisor::ExitStatus::Signal(signal) => Some(*signal & 0x7f),
            crate::supervisor::ExitStatus::Error(_) => None,
        });
        self.send(agent_message::Message::ExitedExecutor(
            mesos_proto::internal::ExitedExecutor {
                framework_id: mesos_proto::v1::FrameworkId {
                    value: key.0.clone(),
                },
                executor_id: mesos_proto::v1::ExecutorId {
                    value: key.1.clone(),
                },
                status: wait_status,
            },
        ));
        let how = exit
            .status
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_else(|| "its supervisor recorded no exit status".to_string());
        info!(executor_id = %key.1, status = %how, "executor exited");
        for task_id in executor.tasks {
            let stream = StreamKey::new(key.0.clone(), task_id);
            let Some(task) = self.task_mut(&stream) else {
                continue;
            };
            if task.exited {
                continue;
            }
            task.exited = true;
            let (state, reason, message) = match (&executor.termination, task.killing) {
                (Some(t), _) => (t.state, Some(t.reason), t.message.clone()),
                (None, true) => (
                    TaskState::TaskKilled,
                    None,
                    format!("Executor terminated: {how}"),
                ),
                (None, false) => (
                    TaskState::TaskFailed,
                    Some(task_status::Reason::ExecutorTerminated),
                    format!("Executor terminated: {how}"),
                ),
            };
            self.update(
                &stream,
                state,
                Some(message),
                reason,
                task_status::Source::Agent,
            );
        }
    }

    /// Kills the executors whose time to subscribe (or to subscribe again after an agent
    /// restart) ran out; their tasks then end as Mesos ends them.
    pub(crate) fn expire_executor_subscriptions(&mut self, now: Instant) {
        let expired: Vec<(String, String)> = self
            .executors
            .by_id
            .iter()
            .filter(|(_, e)| e.stream.is_none() && !e.shutting_down)
            .filter(|(_, e)| e.subscribe_by.is_some_and(|by| by <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            let (registration, reregistration) = (
                self.config.executor_registration_timeout,
                self.config.executor_reregistration_timeout,
            );
            let executor = self.executors.by_id.get_mut(&key).expect("listed above");
            executor.subscribe_by = None;
            let termination = match executor.recovered {
                false => Termination {
                    state: TaskState::TaskFailed,
                    reason: task_status::Reason::ExecutorRegistrationTimeout,
                    message: format!(
                        "Executor did not register within {}",
                        format_duration(registration)
                    ),
                },
                true => Termination {
                    state: TaskState::TaskLost,
                    reason: task_status::Reason::ExecutorReregistrationTimeout,
                    message: format!(
                        "Executor did not reregister within {}",
                        format_duration(reregistration)
                    ),
                },
            };
            warn!(executor_id = %key.1, framework_id = %key.0, "{}; killing it", termination.message);
            executor.termination = Some(termination);
            self.shutdown_executor(&key);
        }
    }

    /// A recovered executor subscribed again: the agent takes over the updates it could
    /// not deliver while the agent was down, and the tasks it never heard of (launched as
    /// the agent went down) are lost.
    fn take_over_from_executor(&mut self, key: &(String, String), subscribe: call::Subscribe) {
        let known: BTreeSet<String> = subscribe
            .unacknowledged_tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect();
        for update in subscribe.unacknowledged_updates {
            let stream = StreamKey::new(key.0.clone(), update.status.task_id.value.clone());
            let seen = update
                .status
                .uuid
                .as_ref()
                .is_some_and(|uuid| self.sum.knows(&stream, uuid));
            if seen {
                continue;
            }
            if let Err(e) = self.executor_update(key, update.status) {
                warn!(task_id = %stream.task_id, error = %e.message, "unacknowledged update of the executor not taken over");
            }
        }
        let partition_aware = self.frameworks.get(&key.0).is_some_and(|f| {
            f.has_capability(v1::framework_info::capability::Type::PartitionAware)
        });
        let tasks: Vec<String> = self.executors.by_id[key].tasks.iter().cloned().collect();
        for task_id in tasks {
            let stream = StreamKey::new(key.0.clone(), task_id.clone());
            let Some(task) = self.task_mut(&stream) else {
                continue;
            };
            if task.exited || task.state != TaskState::TaskStaging || known.contains(&task_id) {
                continue;
            }
            task.exited = true;
            let state = match partition_aware {
                true => TaskState::TaskDropped,
                false => TaskState::TaskLost,
            };
            self.update(
                &stream,
                state,
                Some("Task launched during agent restart".to_string()),
                Some(task_status::Reason::AgentRestarted),
                task_status::Source::Agent,
            );
        }
    }

    /// Recovery of a task of a custom executor: the executor of its run is adopted again
    /// (once) and given `--executor_reregistration_timeout` to subscribe again; if it is
    /// gone, it is handled as an executor that exited, once recovery is done.
    pub(crate) fn recover_custom_executor(&mut self, run: &RecoveredRun) {
        let Some(mut info) = run.task.executor.clone() else {
            return;
        };
        let Some(framework_info) = self
            .frameworks
            .get(&run.framework_id)
            .map(|f| f.info.clone())
        else {
            return;
        };
        let key = (run.framework_id.clone(), info.executor_id.value.clone());
        let same_run = self
            .executors
            .by_id
            .get(&key)
            .is_some_and(|e| e.container_id == run.container_id);
        if same_run {
            return;
        }
        let alive = Supervised::adopt(&run.paths);
        if self.executors.by_id.contains_key(&key) && alive.is_none() {
            // An older run of the same executor id; the adopted one stays.
            return;
        }
        info.framework_id = Some(FrameworkId {
            value: key.0.clone(),
        });
        let (exit_key, container) = Exit::of_executor(&key.0, &run.container_id);
        let exits = self.exits.clone();
        match alive {
            Some(supervised) => {
                info!(executor_id = %key.1, pid = supervised.pid, "re-adopting executor; waiting for it to subscribe again");
                tokio::spawn(async move {
                    let status = supervised.wait().await;
                    let _ = exits.send(Exit {
                        key: exit_key,
                        container_id: container,
                        status,
                    });
                });
            }
            None => {
                info!(executor_id = %key.1, "executor ended while the agent was down");
                let _ = exits.send(Exit {
                    key: exit_key,
                    container_id: container,
                    status: ExitStatus::read(&run.paths),
                });
            }
        }
        self.executors.by_id.insert(
            key.clone(),
            Executor {
                info,
                framework_info,
                container_id: run.container_id.clone(),
                run: run.paths.clone(),
                stream: None,
                queued: Vec::new(),
                tasks: BTreeSet::new(),
                shutting_down: false,
                subscribe_by: Some(Instant::now() + self.config.executor_reregistration_timeout),
                recovered: true,
                termination: None,
            },
        );
    }
}
