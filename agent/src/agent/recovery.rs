//! Recovery after an agent restart: the runs checkpointed under the work directory are
//! adopted (still running) or finished (exited while the agent was away), and Docker
//! containers no run claims are removed.

use std::time::Duration;

use mesos_proto::v1::{TaskState, TaskStatus};
use tracing::{info, info_span, warn};

use super::{
    display_command, kill_grace, Core, Exit, Framework, Task, DEFAULT_KILL_GRACE, FRAMEWORK_REMOVED,
};
use crate::checkpoint;
use crate::docker::{self, runtime::Target, ContainerEvent, ContainerEventKind, Outcome};
use crate::launcher::{self, Supervised};
use crate::status_update::{state_of, Record, StreamKey};
use crate::supervisor::ExitStatus;

impl Core {
    /// Picks up where an earlier agent process on the same work directory left off.
    pub fn recover(&mut self) {
        let Some((agent_id, checkpointed)) = checkpoint::read_agent(&self.layout) else {
            return;
        };
        let recovered = checkpoint::recover_runs(&self.layout, &agent_id);
        let same_resources = mesos_common::wire::resources_from_proto(&checkpointed.resources)
            .unwrap_or_default()
            == self.resources;
        let same_attributes =
            checkpointed.attributes == mesos_common::wire::attributes_to_proto(&self.attributes);
        if !(same_resources && same_attributes) {
            warn!(
                agent_id,
                was_resources = %mesos_common::wire::resources_from_proto(&checkpointed.resources).unwrap_or_default(),
                now_resources = %self.resources,
                "--resources or --attributes changed since agent {agent_id} last ran; \
                 starting as a new agent (tasks of the old agent are killed)"
            );
            for run in recovered.runs {
                if docker::runs_in_docker(&run.task) {
                    if let Some(runtime) = &self.docker {
                        runtime.remove(docker::container_name(&run.container_id));
                    }
                } else if Supervised::adopt(&run.paths).is_some() {
                    tokio::spawn(launcher::kill(run.paths, DEFAULT_KILL_GRACE));
                }
            }
            return;
        }
        info!(
            agent_id,
            "recovering agent from {}",
            self.layout.work_dir().display()
        );
        self.agent_id = Some(agent_id);
        for info in recovered.frameworks {
            let id = info
                .id
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_default();
            let mut framework = Framework::new(info);
            framework.removed = self
                .layout
                .framework_meta(self.agent_id.as_deref().unwrap_or_default(), &id)
                .join(FRAMEWORK_REMOVED)
                .exists();
            self.frameworks.insert(id, framework);
        }
        for run in &recovered.runs {
            if self
                .frameworks
                .get(&run.framework_id)
                .is_some_and(|f| !f.removed)
            {
                self.recover_default_executor(run);
            }
        }
        for run in recovered.runs {
            self.recover_run(run);
        }
        self.retire_idle_default_executors();
        let idle: Vec<String> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.tasks.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.retire_framework(&id);
        }
    }

    fn recover_run(&mut self, run: checkpoint::RecoveredRun) {
        let task_id = run.task.task_id.value.clone();
        let span = info_span!("task", framework_id = %run.framework_id, task_id = %task_id);
        let _enter = span.enter();
        let key = StreamKey::new(run.framework_id.clone(), task_id.clone());
        let statuses: Vec<TaskStatus> = run
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Update(u) => Some(u.status.clone()),
                Record::Ack(_) => None,
            })
            .collect();
        let newest_state = run.records.iter().rev().find_map(|r| match r {
            Record::Update(u) => Some(state_of(u)),
            Record::Ack(_) => None,
        });
        // A custom executor's task lives on with its executor, which is adopted again.
        let executor_id = match (&run.task.executor, &run.parent) {
            (Some(executor), None) => Some(executor.executor_id.value.clone()),
            _ => None,
        };
        if executor_id.is_some()
            && self
                .frameworks
                .get(&run.framework_id)
                .is_some_and(|f| !f.removed)
        {
            self.recover_custom_executor(&run);
        }
        let Some(framework) = self.frameworks.get_mut(&run.framework_id) else {
            return;
        };
        let is_docker = docker::runs_in_docker(&run.task);
        let command = display_command(&run.task);
        let mut task = Task {
            framework_id: run.framework_id.clone(),
            container_id: run.container_id.clone(),
            command,
            state: newest_state.unwrap_or(TaskState::TaskStaging),
            statuses,
            exited: false,
            killing: run.paths.killed().exists(),
            docker: None,
            network_infos: Vec::new(),
            parent_container_id: run.parent.as_ref().map(|p| p.container_id.clone()),
            health: None,
            killed_by_health_check: false,
            run: run.paths.clone(),
            info: run.task,
        };
        if is_docker {
            return self.recover_docker_run(task, key, newest_state, run.records);
        }
        let alive = Supervised::adopt(&run.paths);
        if framework.removed {
            if alive.is_some() {
                tokio::spawn(launcher::kill(run.paths, Duration::ZERO));
            }
            task.exited = true;
            framework.complete(task);
            return;
        }
        self.sum
            .journal_mut()
            .register(key.clone(), run.paths.task_updates(&task_id));
        if self.sum.recover(key.clone(), run.records).is_none() && newest_state.is_some() {
            // Its terminal update was acknowledged before the restart.
            task.exited = true;
            framework.complete(task);
            self.sum.journal_mut().forget(&key);
            return;
        }
        if self.sum.has_terminal(&key) {
            task.exited = true;
            framework.tasks.insert(task_id.clone(), task);
            if let Some(executor_id) = executor_id {
                self.executors
                    .hold_task(&key.framework_id, &executor_id, &task_id);
            }
            return;
        }
        let grace = kill_grace(&task.info, None);
        let killing = task.killing;
        let container_id = task.container_id.clone();
        framework.tasks.insert(task_id.clone(), task);
        if let Some(executor_id) = executor_id {
            // Its executor reports on it once it subscribes again, or its end ends it.
            self.executors
                .hold_task(&key.framework_id, &executor_id, &task_id);
            return;
        }
        match alive {
            Some(supervised) => {
                info!(pid = supervised.pid, "re-adopting running task");
                if killing {
                    tokio::spawn(launcher::kill(run.paths.clone(), grace));
                }
                // Checked again from the start (grace period included): the checker died
                // with the agent process.
                self.start_health_check(&key);
                self.watch(key, container_id, supervised);
            }
            None => {
                let status = ExitStatus::read(&run.paths);
                info!(?status, "task ended while the agent was down");
                // Handled once every run is recovered (a task group needs all its tasks).
                let _ = self.exits.send(Exit {
                    key,
                    container_id,
                    status,
                });
            }
        }
    }

    /// Recovery of a Docker task: the daemon knows whether its container still runs.
    fn recover_docker_run(
        &mut self,
        mut task: Task,
        key: StreamKey,
        newest_state: Option<TaskState>,
        records: Vec<Record>,
    ) {
        let name = docker::container_name(&task.container_id);
        let Some(framework) = self.frameworks.get_mut(&key.framework_id) else {
            return;
        };
        let task_id = key.task_id.clone();
        if framework.removed {
            if let Some(runtime) = &self.docker {
                runtime.remove(name);
            }
            task.exited = true;
            framework.complete(task);
            return;
        }
        self.sum
            .journal_mut()
            .register(key.clone(), task.run.task_updates(&task_id));
        if self.sum.recover(key.clone(), records).is_none() && newest_state.is_some() {
            if let Some(runtime) = &self.docker {
                runtime.remove(name);
            }
            task.exited = true;
            framework.complete(task);
            self.sum.journal_mut().forget(&key);
            return;
        }
        if self.sum.has_terminal(&key) {
            if let Some(runtime) = &self.docker {
                runtime.remove(name);
            }
            task.exited = true;
            framework.tasks.insert(task_id, task);
            return;
        }
        let Some(runtime) = self.docker.clone() else {
            let container_id = task.container_id.clone();
            framework.tasks.insert(task_id, task);
            self.on_container_event(ContainerEvent {
                key,
                container_id,
                kind: ContainerEventKind::Ended(Outcome::Gone(
                    "The agent restarted without the docker containerizer (--containerizers); \
                     the task's container is not supervised any more"
                        .to_string(),
                )),
            });
            return;
        };
        let announce_start = !matches!(newest_state, Some(TaskState::TaskRunning));
        let target = Target {
            key: key.clone(),
            container_id: task.container_id.clone(),
            sandbox: task.run.sandbox.clone(),
        };
        let switch = runtime.adopt(target, announce_start);
        if task.killing {
            switch.kill(kill_grace(&task.info, None));
        }
        task.docker = Some(switch);
        framework.tasks.insert(task_id, task);
        if !announce_start {
            self.start_health_check(&key);
        }
    }

    /// Removes the Docker containers labelled with this agent's id that no recovered task
    /// owns. Runs once, after recovery and before any new task can start.
    pub async fn remove_orphan_containers(&self) {
        let (Some(runtime), Some(agent_id)) = (&self.docker, &self.agent_id) else {
            return;
        };
        let keep: std::collections::HashSet<String> = self
            .frameworks
            .values()
            .flat_map(|f| f.tasks.values())
            .filter(|t| t.docker.is_some() && !t.exited)
            .map(|t| t.container_id.clone())
            // The network containers of pods that still run.
            .chain(
                self.groups
                    .by_id
                    .values()
                    .filter(|e| e.docker)
                    .map(|e| e.container_id.clone()),
            )
            .collect();
        let removed = runtime.remove_orphans(agent_id, &keep).await;
        if removed > 0 {
            info!(removed, "removed orphan containers");
        }
    }
}
