//! The master link as the core sees it: registration, re-registration with what runs
//! here, and messages from the master dispatched to the rest of the core.

use std::time::Instant;

use mesos_proto::internal::{agent_message, master_message, AgentMessage, Register, Registered};
use mesos_proto::v1::{self, AgentId, FrameworkId};
use tracing::{debug, error, info, warn};

use super::{Core, LinkEvent, Task};
use crate::checkpoint;
use crate::{AgentError, VERSION};

impl Core {
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

    pub(super) fn task_proto(&self, task: &Task) -> v1::Task {
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

    pub(super) fn send(&self, message: agent_message::Message) {
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
}
