//! Tasks and their status updates: KILL, ACKNOWLEDGE, RECONCILE, updates from agents, and
//! tasks ended by their agent going away.

use std::sync::Arc;
use std::time::Duration;

use mesos_proto::internal::{self as internal, master_message};
use mesos_proto::v1::scheduler;
use mesos_proto::v1::{self, task_status::Reason, task_status::Source, TaskState};
use tracing::{debug, info};

use super::{
    aid, allocator_result, fid, master_status, partition_aware, update_event, wall_clock_secs,
    Engine, EngineEvent,
};

impl Engine {
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
        let limits = self.config.history_limits();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let done = framework
            .tasks
            .get(&task_id)
            .is_some_and(|t| t.terminal_uuid.as_deref() == Some(ack.uuid.as_slice()));
        if done {
            let entry = framework.tasks.remove(&task_id).expect("checked");
            framework.keep_finished(entry.task, limits);
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

    pub(super) fn status_update(
        &mut self,
        agent_id: &str,
        update: internal::StatusUpdate,
        now: Duration,
    ) {
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
        let limits = self.config.history_limits();
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let pa = partition_aware(&framework.info);
        let Some(mut entry) = framework.tasks.remove(task_id) else {
            return;
        };
        if entry.task.state().is_terminal() {
            framework.keep_finished(entry.task, limits);
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
        framework.keep_finished(entry.task, limits);
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

/// Appends to a task's status history without the spare capacity `Vec::push` leaves (room
/// for four statuses, ~1.4 KB, on the first push): the master keeps every task's history.
fn push_status(task: &mut v1::Task, status: v1::TaskStatus) {
    task.statuses.reserve_exact(1);
    task.statuses.push(status);
}
