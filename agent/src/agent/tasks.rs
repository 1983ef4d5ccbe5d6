//! Tasks and their status updates: exits and container events turned into updates,
//! reliable delivery and acknowledgements, kills.

use std::time::{Duration, Instant};

use mesos_proto::internal::{agent_message, KillTask, StatusUpdate, StatusUpdateAcknowledgement};
use mesos_proto::v1::{
    framework_info, task_status, AgentId, ContainerStatus, ExecutorId, FrameworkId, TaskId,
    TaskState, TaskStatus,
};
use tracing::{debug, error, info, info_span, warn};

use super::{kill_grace, now_secs, Core, Exit, Task};
use crate::docker::{self, ContainerEvent, ContainerEventKind, Outcome};
use crate::launcher;
use crate::paths::write_atomic;
use crate::status_update::{AckOutcome, StreamKey};
use crate::supervisor::ExitStatus;

impl Core {
    pub(super) fn task_mut(&mut self, key: &StreamKey) -> Option<&mut Task> {
        self.frameworks
            .get_mut(&key.framework_id)
            .and_then(|f| f.tasks.get_mut(&key.task_id))
    }

    /// Creates, journals and (when it is the stream's head) sends a status update.
    pub(super) fn update(
        &mut self,
        key: &StreamKey,
        state: TaskState,
        message: Option<String>,
        reason: Option<task_status::Reason>,
        source: task_status::Source,
    ) {
        self.update_status(key, state, message, reason, source, None);
    }

    /// [`Core::update`] with the task's `healthy`; the terminal update of a task killed by
    /// its health check says unhealthy in any case.
    pub(super) fn update_status(
        &mut self,
        key: &StreamKey,
        state: TaskState,
        message: Option<String>,
        reason: Option<task_status::Reason>,
        source: task_status::Source,
        healthy: Option<bool>,
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
        let terminal = state.is_terminal();
        if terminal {
            task.health = None;
        }
        let healthy = match healthy {
            None if terminal && task.killed_by_health_check => Some(false),
            other => other,
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
            healthy,
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
    pub(super) fn send_unreliable(
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
                // A task of a group was STARTING before its container was created.
                if !removed && task.state != TaskState::TaskStarting {
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
                    self.start_health_check(&key);
                }
                return;
            }
            ContainerEventKind::Ended(outcome) => outcome,
        };
        task.exited = true;
        let killing = task.killing;
        let state = if removed {
            let task = framework.tasks.remove(&key.task_id).expect("present");
            framework.complete(task);
            self.retire_framework_if_idle(&key.framework_id);
            TaskState::TaskKilled
        } else {
            let (state, message, reason, source) = container_outcome(&outcome, killing);
            info!(message, "task ended");
            self.update(&key, state, Some(message), reason, source);
            state
        };
        // A task of a group (a pod's container) takes its group along, as processes do.
        self.group_task_ended(&key, state);
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

    pub(super) fn on_kill_task(&mut self, kill: KillTask) {
        let key = StreamKey::new(kill.framework_id.value.clone(), kill.task_id.value.clone());
        let span = info_span!("task", framework_id = %key.framework_id, task_id = %key.task_id);
        let _enter = span.enter();
        if self.kill_fetching(&key) {
            return;
        }
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
        self.kill_and_report(&key, grace);
    }

    /// Kills a task, with TASK_KILLING for frameworks that know that state.
    pub(super) fn kill_and_report(&mut self, key: &StreamKey, grace: Duration) {
        let killing_state = self
            .frameworks
            .get(&key.framework_id)
            .is_some_and(|f| f.has_capability(framework_info::capability::Type::TaskKillingState));
        self.start_kill(key, grace);
        if killing_state {
            self.update(
                key,
                TaskState::TaskKilling,
                None,
                None,
                task_status::Source::Executor,
            );
        }
    }

    pub(super) fn start_kill(&mut self, key: &StreamKey, grace: Duration) {
        if self.kill_on_executor(key, grace) {
            return;
        }
        let Some(task) = self.task_mut(key) else {
            return;
        };
        task.killing = true;
        // Mesos's executors stop health checking a task they kill.
        task.health = None;
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

    pub(super) fn on_acknowledgement(&mut self, ack: StatusUpdateAcknowledgement) {
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
