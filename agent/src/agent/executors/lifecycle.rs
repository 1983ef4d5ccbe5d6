//! An executor's life after launch: kills and shutdowns, its exit, registration timeouts,
//! and adoption after an agent restart.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mesos_common::flags::format_duration;
use mesos_proto::internal::{agent_message, ShutdownExecutor};
use mesos_proto::v1::{self, task_status, FrameworkId, TaskState};
use tracing::{info, warn};

// `super::event` is both the event builder and the `executor::event` module.
use super::{event, Executor, Termination};
use crate::agent::{Core, Exit};
use crate::checkpoint::RecoveredRun;
use crate::launcher::{self, Supervised};
use crate::status_update::StreamKey;
use crate::supervisor::ExitStatus;

impl Core {
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
