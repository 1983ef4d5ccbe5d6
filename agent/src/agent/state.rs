//! `/state`: the agent's frameworks, executors and tasks in the JSON shape of Mesos's
//! agent.

use mesos_proto::v1::TaskState;
use serde_json::json;

use super::{Core, Framework, Query, Task};
use crate::authorization::Viewer;
use crate::resources;
use crate::VERSION;

impl Core {
    pub fn on_query(&mut self, query: Query) {
        match query {
            Query::State(viewer, reply) => {
                let _ = reply.send(self.state_json(&viewer));
            }
            Query::Inspect(read) => (read.0)(self),
            Query::Executor(request) => self.on_executor_request(*request),
        }
    }

    /// As Mesos's agent writes it for a viewer: frameworks, executors and tasks the
    /// `view_*` rules hide are left out, and so are the flags and the log directory
    /// without `view_flags`.
    fn state_json(&self, viewer: &Viewer) -> serde_json::Value {
        let seen = |f: &&Framework| viewer.may_view_framework(&f.info.user);
        let frameworks: Vec<serde_json::Value> = self
            .frameworks
            .values()
            .filter(seen)
            .map(|f| self.framework_json(f, viewer))
            .collect();
        let completed: Vec<serde_json::Value> = self
            .completed_frameworks
            .iter()
            .filter(seen)
            .map(|f| self.framework_json(f, viewer))
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
            "reserved_resources": mesos_common::wire::reserved_state_json(&self.resources),
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
        if !viewer.may_view_flags() {
            if let Some(map) = state.as_object_mut() {
                map.remove("flags");
                map.remove("log_dir");
            }
        }
        state
    }

    fn framework_json(&self, framework: &Framework, viewer: &Viewer) -> serde_json::Value {
        let info = &framework.info;
        let task_seen = |t: &&Task| {
            let user = t.info.command.as_ref().and_then(|c| c.user.as_deref());
            viewer.may_view_task(user, &info.user)
        };
        // Tasks by executor (a custom or default executor runs several), in the order the
        // executors first appear: (executor id, tasks held, completed tasks).
        let mut by_executor: Vec<(&str, Vec<&Task>, Vec<&Task>)> = Vec::new();
        let held = framework
            .tasks
            .values()
            .filter(task_seen)
            .map(|t| (t, true));
        let done = framework
            .completed
            .iter()
            .filter(task_seen)
            .map(|t| (t, false));
        for (task, is_held) in held.chain(done) {
            let id = task.executor_id();
            let i = match by_executor.iter().position(|(e, _, _)| *e == id) {
                Some(i) => i,
                None => {
                    by_executor.push((id, Vec::new(), Vec::new()));
                    by_executor.len() - 1
                }
            };
            match is_held {
                true => by_executor[i].1.push(task),
                false => by_executor[i].2.push(task),
            }
        }
        let framework_id = framework.id();
        let (mut executors, mut completed) = (Vec::new(), Vec::new());
        for (executor_id, held, done) in &by_executor {
            let newest = held.last().or(done.last()).expect("an executor has a task");
            let executor_user = self.executor_info(newest).command.and_then(|c| c.user);
            if !viewer.may_view_executor(executor_user.as_deref(), &info.user) {
                continue;
            }
            let running = !held.is_empty()
                || self.executors.contains(framework_id, executor_id)
                || self
                    .groups
                    .by_id
                    .contains_key(&(framework_id.to_string(), executor_id.to_string()));
            let json = self.executor_json(held, done);
            match running {
                true => executors.push(json),
                false => completed.push(json),
            }
        }
        let capabilities: Vec<&str> = info
            .capabilities
            .iter()
            .map(|c| c.r#type().as_str_name())
            .collect();
        let mut value = json!({
            "id": framework.id(),
            "name": info.name,
            "user": info.user,
            "failover_timeout": info.failover_timeout(),
            "checkpoint": info.checkpoint(),
            "hostname": info.hostname.clone().unwrap_or_default(),
            "role": info.roles.first().cloned().unwrap_or_else(|| info.role().to_string()),
            "roles": info.roles,
            "capabilities": capabilities,
            "executors": executors,
            "completed_executors": completed,
        });
        // Mesos writes it only when the framework has one (never `null`).
        if let Some(principal) = &info.principal {
            value["principal"] = json!(principal);
        }
        value
    }

    /// One executor with its tasks: those the agent holds (`tasks` while they run, else
    /// `completed_tasks`) and those already completed. Either list may be empty, not both.
    fn executor_json(&self, held: &[&Task], done: &[&Task]) -> serde_json::Value {
        let newest = held.last().or(done.last()).expect("an executor has a task");
        let (live, ended): (Vec<&Task>, Vec<&Task>) = held
            .iter()
            .partition(|t| !(t.state.is_terminal() || t.exited));
        let tasks: Vec<serde_json::Value> = live.iter().map(|t| self.task_json(t)).collect();
        let completed: Vec<serde_json::Value> = ended
            .iter()
            .chain(done.iter())
            .map(|t| self.task_json(t))
            .collect();
        let task_resources = |t: &Task| {
            mesos_common::wire::resources_from_proto(&t.info.resources).unwrap_or_default()
        };
        let (kind, name, source, resources) = match &newest.info.executor {
            None => (
                "COMMAND",
                newest.executor_name(),
                newest.id().to_string(),
                task_resources(newest),
            ),
            Some(executor) => {
                // The executor's own resources plus those of the tasks it runs.
                let mut resources = mesos_common::wire::resources_from_proto(&executor.resources)
                    .unwrap_or_default();
                for task in &live {
                    resources.add(&task_resources(task));
                }
                #[allow(deprecated)] // still reported by Mesos
                let source = executor
                    .source
                    .clone()
                    .unwrap_or_else(|| executor.executor_id.value.clone());
                let kind = match newest.in_group() {
                    true => "DEFAULT",
                    false => "CUSTOM",
                };
                (
                    kind,
                    executor.name.clone().unwrap_or_default(),
                    source,
                    resources,
                )
            }
        };
        json!({
            "id": newest.executor_id(),
            "name": name,
            "source": source,
            "framework_id": newest.framework_id,
            "container": newest.parent_container_id.as_ref().unwrap_or(&newest.container_id),
            "directory": newest.executor_directory().display().to_string(),
            "resources": mesos_common::wire::resources_state_json(&resources),
            "type": kind,
            "tasks": tasks,
            "queued_tasks": [],
            "completed_tasks": completed,
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
            "executor_id": task.info.executor.as_ref().map(|e| e.executor_id.value.clone()).unwrap_or_default(),
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
