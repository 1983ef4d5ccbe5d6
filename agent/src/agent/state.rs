//! `/state`: the agent's frameworks, executors and tasks in the JSON shape of Mesos's
//! agent.

use std::collections::BTreeMap;

use mesos_common::resources::Resources;
use mesos_proto::v1::TaskState;
use serde_json::json;

use super::{Core, Framework, Query, Task};
use crate::resources;
use crate::VERSION;

impl Core {
    pub fn on_query(&mut self, query: Query) {
        match query {
            Query::State(reply) => {
                let _ = reply.send(self.state_json());
            }
            Query::Inspect(read) => (read.0)(self),
            Query::Executor(request) => self.on_executor_request(*request),
        }
    }

    fn state_json(&self) -> serde_json::Value {
        let frameworks: Vec<serde_json::Value> = self
            .frameworks
            .values()
            .map(|f| self.framework_json(f))
            .collect();
        let completed: Vec<serde_json::Value> = self
            .completed_frameworks
            .iter()
            .map(|f| self.framework_json(f))
            .collect();
        let mut state = json!({
            "version": VERSION,
            "git_sha": "",
            "git_branch": "",
            "build_date": "",
            "build_time": 0,
            "build_user": "",
            "start_time": self.start_time,
            "id": self.agent_id.clone().unwrap_or_default(),
            "pid": self.identity.pid(),
            "hostname": self.identity.hostname,
            "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
            "resources": mesos_common::wire::resources_state_json(&self.resources),
            "unreserved_resources": mesos_common::wire::resources_state_json(&self.resources.unreserved()),
            "reserved_resources": reserved_by_role(&self.resources),
            "attributes": resources::attributes_state_json(&self.attributes),
            "flags": self.config.flags(),
            "frameworks": frameworks,
            "completed_frameworks": completed,
        });
        if let Some(master) = self.master_info.as_ref().filter(|_| self.registered) {
            state["master_hostname"] = json!(master.hostname.clone().unwrap_or_default());
        }
        if let Some(log_dir) = &self.config.log_dir {
            state["log_dir"] = json!(log_dir.display().to_string());
        }
        state
    }

    fn framework_json(&self, framework: &Framework) -> serde_json::Value {
        let info = &framework.info;
        let executors: Vec<serde_json::Value> = framework
            .tasks
            .values()
            .map(|t| self.executor_json(t))
            .collect();
        let completed: Vec<serde_json::Value> = framework
            .completed
            .iter()
            .map(|t| self.executor_json(t))
            .collect();
        let capabilities: Vec<&str> = info
            .capabilities
            .iter()
            .map(|c| c.r#type().as_str_name())
            .collect();
        json!({
            "id": framework.id(),
            "name": info.name,
            "user": info.user,
            "failover_timeout": info.failover_timeout(),
            "checkpoint": info.checkpoint(),
            "hostname": info.hostname.clone().unwrap_or_default(),
            "role": info.roles.first().cloned().unwrap_or_else(|| info.role().to_string()),
            "roles": info.roles,
            "principal": info.principal,
            "capabilities": capabilities,
            "executors": executors,
            "completed_executors": completed,
        })
    }

    fn executor_json(&self, task: &Task) -> serde_json::Value {
        let task_json = self.task_json(task);
        let (live, done) = if task.state.is_terminal() || task.exited {
            (vec![], vec![task_json])
        } else {
            (vec![task_json], vec![])
        };
        json!({
            "id": task.id(),
            "name": task.executor_name(),
            "source": task.id(),
            "framework_id": task.framework_id,
            "container": task.container_id,
            "directory": task.run.sandbox.display().to_string(),
            "resources": mesos_common::wire::resources_state_json(&mesos_common::wire::resources_from_proto(&task.info.resources).unwrap_or_default()),
            "type": "COMMAND",
            "tasks": live,
            "queued_tasks": [],
            "completed_tasks": done,
        })
    }

    fn task_json(&self, task: &Task) -> serde_json::Value {
        let statuses: Vec<serde_json::Value> = task
            .statuses
            .iter()
            .map(|s| {
                let mut status = json!({
                    "state": TaskState::try_from(s.state).unwrap_or(TaskState::TaskStaging).as_str_name(),
                    "timestamp": s.timestamp.unwrap_or_default(),
                });
                if let Some(container) = &s.container_status {
                    status["container_status"] = mesos_proto::json::to_json_value(container);
                }
                if let Some(healthy) = s.healthy {
                    status["healthy"] = json!(healthy);
                }
                status
            })
            .collect();
        let mut value = json!({
            "id": task.id(),
            "name": task.info.name,
            "framework_id": task.framework_id,
            "executor_id": "",
            "slave_id": self.agent_id.clone().unwrap_or_default(),
            "state": task.state.as_str_name(),
            "resources": mesos_common::wire::resources_state_json(&mesos_common::wire::resources_from_proto(&task.info.resources).unwrap_or_default()),
            "statuses": statuses,
        });
        let info = &task.info;
        if let Some(labels) = &info.labels {
            value["labels"] = mesos_proto::json::to_json_value(labels)["labels"].clone();
        }
        if let Some(discovery) = &info.discovery {
            value["discovery"] = mesos_proto::json::to_json_value(discovery);
        }
        if let Some(container) = &info.container {
            value["container"] = mesos_proto::json::to_json_value(container);
        }
        if let Some(kill_policy) = &info.kill_policy {
            value["kill_policy"] = mesos_proto::json::to_json_value(kill_policy);
        }
        value
    }
}

/// `{role: {...}}` of the reserved resources, as `/state` shows them.
fn reserved_by_role(all: &Resources) -> serde_json::Value {
    let mut by_role: BTreeMap<String, Resources> = BTreeMap::new();
    for r in all.reserved().iter() {
        by_role.entry(r.role.clone()).or_default().add_resource(r);
    }
    let object: serde_json::Map<String, serde_json::Value> = by_role
        .into_iter()
        .map(|(role, resources)| (role, mesos_common::wire::resources_state_json(&resources)))
        .collect();
    serde_json::Value::Object(object)
}
