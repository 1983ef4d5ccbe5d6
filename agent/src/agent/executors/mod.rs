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

mod calls;
mod lifecycle;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use mesos_proto::internal::RunTask;
use mesos_proto::v1::executor::{self, event};
use mesos_proto::v1::{self, task_status, ExecutorInfo, FrameworkId, TaskInfo, TaskState};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, info_span, warn};

use super::{Core, Exit, Task};
use crate::checkpoint::{self};
use crate::encoding::{ApiError, Encoding};
use crate::launcher::{self, CommandLine, EnvContext};
use crate::paths::RunPaths;
use crate::status_update::StreamKey;
use mesos_common::flags::format_duration;

/// Events queued for one executor's stream before it is considered too slow.
const STREAM_CAPACITY: usize = 1024;

/// A call of an executor, as the HTTP edge hands it to the core. SUBSCRIBE is answered
/// with the receiving end of the executor's event stream (RecordIO records).
#[derive(Debug)]
pub struct ExecutorRequest {
    pub call: executor::Call,
    /// The claims of the executor's token, when `--authenticate_http_executors` checked
    /// one.
    pub principal: Option<mesos_common::auth::Principal>,
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
                        health: None,
                        killed_by_health_check: false,
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
        if let Some(key) = &self.executor_key {
            // The executor's identity, as Mesos's agent signs it: which framework,
            // executor and container it is. No expiry.
            let claims = [
                ("fid", framework_id.clone()),
                ("eid", executor_id.clone()),
                ("cid", container_id.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            env.insert(
                "MESOS_EXECUTOR_AUTHENTICATION_TOKEN".to_string(),
                key.sign(&claims),
            );
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
        let command_user = info.command.as_ref().and_then(|c| c.user.as_deref());
        let user = self.users.user_of(command_user, &framework_info.user);
        let supervised = self
            .launcher
            .launch(run, &command, &env, user)
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
}
