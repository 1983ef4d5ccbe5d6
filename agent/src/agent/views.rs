//! What the operator API (`POST /api/v1`) and the monitor (`/monitor/statistics`,
//! `/containers`) read from the core: the v1 agent Response parts, the agent's metrics and
//! the list of live containers. Everything here is a pure function of the core's state;
//! reading `/proc` happens on the HTTP side ([`crate::monitor`]).

use std::collections::{BTreeMap, BTreeSet};

use mesos_common::resources::Resources;
use mesos_common::wire;
use mesos_proto::v1::agent::response::{self, get_executors, get_frameworks};
use mesos_proto::v1::{self, TaskState};

use super::{now_secs, Core, Framework, Task};
use crate::authorization::Viewer;
use crate::paths::RunPaths;

/// A read of the core's state, run on the core's actor (so it sees one consistent state).
pub struct Inspect(pub Box<dyn FnOnce(&Core) + Send>);

impl std::fmt::Debug for Inspect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inspect")
    }
}

/// A live container as the monitor sees it: who owns it, its limits, and where its
/// processes can be found.
#[derive(Debug, Clone)]
pub struct ContainerView {
    pub framework_id: String,
    pub executor_id: String,
    pub executor_name: String,
    pub source: String,
    pub container_id: String,
    pub cpus_limit: Option<f64>,
    pub mem_limit_bytes: Option<u64>,
    /// The run's paths, to find its process (command tasks).
    pub run: RunPaths,
    /// Docker containers are measured by the Docker daemon, not from `/proc` here.
    pub docker: bool,
    /// The executor's container this one is nested in (tasks of a task group).
    pub parent_container_id: Option<String>,
}

/// Where a container nested in a running task runs: the task's sandbox, environment and
/// user (Mesos's nested containers inherit all three), or the task's Docker container.
#[derive(Debug, Clone)]
pub struct NestedParent {
    pub sandbox: std::path::PathBuf,
    pub env: BTreeMap<String, String>,
    /// The user the task runs as, when the agent switched to it.
    pub user: Option<crate::users::RunAs>,
    /// The Docker name of a Docker task's container.
    pub docker_container: Option<String>,
}

impl Task {
    /// How Mesos names the command executor it makes up for a command task.
    pub(crate) fn executor_name(&self) -> String {
        format!(
            "Command Executor (Task: {}) (Command: {})",
            self.id(),
            self.command
        )
    }

    fn resources(&self) -> Resources {
        wire::resources_from_proto(&self.info.resources).unwrap_or_default()
    }

    /// Ended, or its terminal update already journaled.
    fn is_done(&self) -> bool {
        self.state.is_terminal() || self.exited
    }
}

impl Core {
    pub(super) fn executor_info(&self, task: &Task) -> v1::ExecutorInfo {
        if let Some(custom) = &task.info.executor {
            let mut info = custom.clone();
            info.framework_id = Some(v1::FrameworkId {
                value: task.framework_id.clone(),
            });
            return info;
        }
        v1::ExecutorInfo {
            executor_id: v1::ExecutorId {
                value: task.id().to_string(),
            },
            framework_id: Some(v1::FrameworkId {
                value: task.framework_id.clone(),
            }),
            command: task.info.command.clone(),
            resources: task.info.resources.clone(),
            name: Some(task.executor_name()),
            #[allow(deprecated)] // still filled in by Mesos for command executors
            source: Some(task.id().to_string()),
            ..Default::default()
        }
    }

    /// Whose sandbox the executor's is (`access_sandboxes`): its framework's user and the
    /// executor's own command user (a command task's). Unknown parts stay None.
    pub fn sandbox_owner(
        &self,
        framework_id: &str,
        executor_id: &str,
    ) -> crate::authorization::SandboxOwner {
        let Some(framework) = self.all_frameworks().find(|f| f.id() == framework_id) else {
            return Default::default();
        };
        let executor_user = framework
            .tasks
            .values()
            .chain(framework.completed.iter())
            .find(|t| t.executor_id() == executor_id)
            .and_then(|t| self.executor_info(t).command)
            .and_then(|c| c.user);
        crate::authorization::SandboxOwner {
            framework_user: Some(framework.info.user.clone()),
            executor_user,
        }
    }

    fn all_frameworks(&self) -> impl Iterator<Item = &Framework> {
        self.frameworks
            .values()
            .chain(self.completed_frameworks.iter())
    }

    /// The frameworks the viewer may see (`view_frameworks`), with their tasks and
    /// executors.
    fn seen_frameworks<'a>(&'a self, viewer: &'a Viewer) -> impl Iterator<Item = &'a Framework> {
        self.all_frameworks()
            .filter(|f| viewer.may_view_framework(&f.info.user))
    }

    pub(crate) fn operator_frameworks(&self, viewer: &Viewer) -> response::GetFrameworks {
        let entry = |f: &Framework| get_frameworks::Framework {
            framework_info: f.info.clone(),
        };
        let seen = |f: &&Framework| viewer.may_view_framework(&f.info.user);
        response::GetFrameworks {
            frameworks: self.frameworks.values().filter(seen).map(entry).collect(),
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .filter(seen)
                .map(entry)
                .collect(),
        }
    }

    pub(crate) fn operator_executors(&self, viewer: &Viewer) -> response::GetExecutors {
        let mut out = response::GetExecutors::default();
        // A custom executor runs several tasks; it is listed once per state.
        let mut seen = std::collections::BTreeSet::new();
        for framework in self.seen_frameworks(viewer) {
            for task in framework.tasks.values().chain(framework.completed.iter()) {
                let executor_info = self.executor_info(task);
                let user = executor_info
                    .command
                    .as_ref()
                    .and_then(|c| c.user.as_deref());
                if !viewer.may_view_executor(user, &framework.info.user) {
                    continue;
                }
                let id = executor_info.executor_id.value.clone();
                if !seen.insert((framework.id().to_string(), id, task.is_done())) {
                    continue;
                }
                let entry = get_executors::Executor { executor_info };
                if task.is_done() {
                    out.completed_executors.push(entry);
                } else {
                    out.executors.push(entry);
                }
            }
        }
        out
    }

    pub(crate) fn operator_tasks(&self, viewer: &Viewer) -> response::GetTasks {
        let mut out = response::GetTasks::default();
        for framework in self.seen_frameworks(viewer) {
            let may_see = |t: &&Task| {
                let user = t.info.command.as_ref().and_then(|c| c.user.as_deref());
                viewer.may_view_task(user, &framework.info.user)
            };
            for task in framework.tasks.values().filter(may_see) {
                let proto = self.task_proto(task);
                if task.state.is_terminal() {
                    out.terminated_tasks.push(proto);
                } else {
                    out.launched_tasks.push(proto);
                }
            }
            out.completed_tasks.extend(
                framework
                    .completed
                    .iter()
                    .filter(may_see)
                    .map(|t| self.task_proto(t)),
            );
        }
        out
    }

    pub(crate) fn operator_state(&self, viewer: &Viewer) -> response::GetState {
        response::GetState {
            get_tasks: Some(self.operator_tasks(viewer)),
            get_executors: Some(self.operator_executors(viewer)),
            get_frameworks: Some(self.operator_frameworks(viewer)),
        }
    }

    pub(crate) fn operator_agent(&self) -> response::GetAgent {
        response::GetAgent {
            agent_info: Some(self.agent_info()),
            ..Default::default()
        }
    }

    /// The agent's metrics under Mesos's names (`slave/...`).
    pub(crate) fn metrics(&self) -> BTreeMap<String, f64> {
        let mut states: BTreeMap<TaskState, usize> = BTreeMap::new();
        // Executors, not tasks: a custom or default executor runs several.
        let (mut running, mut terminating, mut terminated) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut used = Resources::new();
        for framework in self.all_frameworks() {
            for task in framework.tasks.values().chain(framework.completed.iter()) {
                *states.entry(task.state).or_default() += 1;
                let executor = (task.framework_id.as_str(), task.executor_id());
                if task.is_done() {
                    terminated.insert(executor);
                } else {
                    used.add(&task.resources());
                    if task.killing {
                        terminating.insert(executor);
                    } else {
                        running.insert(executor);
                    }
                }
            }
        }
        // An executor with a task running is running; one with none left, terminated.
        terminating.retain(|e| !running.contains(e));
        terminated.retain(|e| !running.contains(e) && !terminating.contains(e));
        let count = |state: TaskState| states.get(&state).copied().unwrap_or_default() as f64;
        let mut m = BTreeMap::new();
        let mut put = |name: &str, value: f64| {
            m.insert(format!("slave/{name}"), value);
        };
        put("uptime_secs", (now_secs() - self.start_time).max(0.0));
        put("registered", f64::from(u8::from(self.registered)));
        put("recovery_errors", 0.0);
        put("frameworks_active", self.frameworks.len() as f64);
        for (name, state) in [
            ("staging", TaskState::TaskStaging),
            ("starting", TaskState::TaskStarting),
            ("running", TaskState::TaskRunning),
            ("killing", TaskState::TaskKilling),
            ("finished", TaskState::TaskFinished),
            ("failed", TaskState::TaskFailed),
            ("killed", TaskState::TaskKilled),
            ("lost", TaskState::TaskLost),
            ("gone", TaskState::TaskGone),
            ("dropped", TaskState::TaskDropped),
            ("error", TaskState::TaskError),
            ("unreachable", TaskState::TaskUnreachable),
        ] {
            put(&format!("tasks_{name}"), count(state));
        }
        put("executors_registering", self.executors.registering() as f64);
        put("executors_running", running.len() as f64);
        put("executors_terminating", terminating.len() as f64);
        put("executors_terminated", terminated.len() as f64);
        for (name, total, used) in [
            ("cpus", self.resources.cpus(), used.cpus()),
            ("mem", self.resources.mem(), used.mem()),
            ("disk", self.resources.disk(), used.disk()),
            ("gpus", self.resources.gpus(), used.gpus()),
        ] {
            let total = total.unwrap_or_default();
            let used = used.unwrap_or_default();
            put(&format!("{name}_total"), total);
            put(&format!("{name}_used"), used);
            put(
                &format!("{name}_percent"),
                if total > 0.0 { used / total } else { 0.0 },
            );
        }
        m
    }

    /// The containers of tasks that have not ended.
    pub(crate) fn containers(&self) -> Vec<ContainerView> {
        self.frameworks
            .values()
            .flat_map(|f| f.tasks.values())
            .filter(|t| !t.is_done())
            .map(|task| {
                let resources = task.resources();
                ContainerView {
                    framework_id: task.framework_id.clone(),
                    executor_id: task.executor_id().to_string(),
                    executor_name: task.executor_name(),
                    source: task.id().to_string(),
                    container_id: task.container_id.clone(),
                    cpus_limit: resources.cpus(),
                    mem_limit_bytes: resources.mem().map(|mb| (mb * 1024.0 * 1024.0) as u64),
                    run: task.run.clone(),
                    docker: task.docker.is_some(),
                    parent_container_id: task.parent_container_id.clone(),
                }
            })
            .collect()
    }
}

impl Core {
    /// The running task whose container is `container_id`, as a parent of nested
    /// containers; None once it has ended (a finished task takes no exec).
    pub fn nested_parent(&self, container_id: &str) -> Option<NestedParent> {
        let task = self
            .frameworks
            .values()
            .flat_map(|f| f.tasks.values())
            .find(|t| t.container_id == container_id && !t.is_done())?;
        if task.docker.is_some() {
            return Some(NestedParent {
                sandbox: task.run.sandbox.clone(),
                env: BTreeMap::new(),
                user: None,
                docker_container: Some(crate::docker::container_name(&task.container_id)),
            });
        }
        let endpoint = self.identity.endpoint();
        let ctx = crate::launcher::EnvContext {
            framework_id: &task.framework_id,
            executor_id: task.executor_id(),
            sandbox: &task.run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &self.identity.hostname,
        };
        let user = crate::users::switch_to(self.user_of_task(task));
        Some(NestedParent {
            sandbox: task.run.sandbox.clone(),
            env: crate::launcher::task_environment(std::env::vars(), &task.info, &ctx),
            user,
            docker_container: None,
        })
    }
}
