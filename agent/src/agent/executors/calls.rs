//! The executor API's calls as the core answers them: SUBSCRIBE (a first one, or one that
//! takes over after an agent restart), UPDATE, MESSAGE, and acknowledgements passed on.

use std::collections::BTreeSet;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::StatusCode;
use mesos_proto::internal::{
    agent_message, ExecutorToFramework, FrameworkToExecutor, StatusUpdate,
};
use mesos_proto::v1::executor::{self, call};
use mesos_proto::v1::{self, task_status, AgentId, ExecutorId, FrameworkId, TaskState};
use tokio::sync::mpsc;
use tracing::{info, warn};

// `super::event` is both the event builder and the `executor::event` module.
use super::{bad, event, ExecutorRequest, STREAM_CAPACITY};
use crate::agent::{now_secs, Core};
use crate::encoding::{ApiError, Encoding};
use crate::status_update::StreamKey;

impl Core {
    /// A call from an executor over HTTP.
    pub(crate) fn on_executor_request(&mut self, request: ExecutorRequest) {
        let answer = self.executor_call(request.call, request.encoding, request.principal);
        let _ = request.reply.send(answer);
    }

    fn executor_call(
        &mut self,
        call: executor::Call,
        encoding: Encoding,
        principal: Option<mesos_common::auth::Principal>,
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
        if let Some(principal) = &principal {
            verify_claims(principal, &key.0, &key.1, &executor.container_id)?;
        }
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
}

/// An authenticated executor may only speak for itself (Mesos's `verifyExecutorClaims`):
/// 403 when its token names another framework, executor or container.
fn verify_claims(
    principal: &mesos_common::auth::Principal,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> Result<(), ApiError> {
    let claim = |name: &str| principal.claims.get(name).map(String::as_str);
    let refuse = |message: String| Err(ApiError::new(StatusCode::FORBIDDEN, message));
    if claim("fid") != Some(framework_id) {
        return refuse(format!(
            "Authenticated principal '{principal}' does not contain an 'fid' claim with the \
             framework ID {framework_id}, which is set in the call"
        ));
    }
    if claim("eid") != Some(executor_id) {
        return refuse(format!(
            "Authenticated principal '{principal}' does not contain an 'eid' claim with the \
             executor ID {executor_id}, which is set in the call"
        ));
    }
    if claim("cid") != Some(container_id) {
        return refuse(format!(
            "Authenticated principal '{principal}' does not contain a 'cid' claim with the \
             correct active ContainerID"
        ));
    }
    Ok(())
}
