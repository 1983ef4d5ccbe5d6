//! Launching tasks: admission (framework, ids), the choice of containerizer (command or
//! Docker), the plan and the launch through it, and watching what was started.

use mesos_proto::internal::RunTask;
use mesos_proto::v1::{task_status, TaskInfo, TaskState};
use tracing::{error, info, info_span, warn};

use super::{display_command, Core, Exit, Plan, Refusal, Task, FRAMEWORK_REMOVED};
use crate::checkpoint;
use crate::containerizer::{Containerizer, TaskContext};
use crate::docker;
use crate::launcher::Supervised;
use crate::paths::valid_id;
use crate::status_update::StreamKey;

impl Core {
    /// What every launch (command task, task on an executor, task group) must pass before
    /// anything is written: the agent is registered (its id is returned), the ids can name
    /// sandbox directories (else the tasks get TASK_ERROR with `invalid`), and no task id is
    /// one this agent already runs (else the launch is ignored: it is a duplicate).
    pub(super) fn admit_launch(
        &self,
        framework_id: &str,
        executor_id: Option<&str>,
        task_ids: &[String],
        invalid: task_status::Reason,
    ) -> Option<String> {
        let Some(agent_id) = self.agent_id.clone().filter(|_| self.registered) else {
            warn!("ignoring a launch sent before this agent registered");
            return None;
        };
        if !valid_id(framework_id)
            || !executor_id.is_none_or(valid_id)
            || task_ids.iter().any(|t| !valid_id(t))
        {
            warn!("rejecting a launch whose ids cannot name directories");
            for task_id in task_ids {
                self.send_unreliable(
                    framework_id,
                    task_id,
                    TaskState::TaskError,
                    "Framework, executor and task ids must be non-empty and contain no '/' or control characters",
                    invalid,
                );
            }
            return None;
        }
        if self
            .frameworks
            .get(framework_id)
            .is_some_and(|f| task_ids.iter().any(|t| f.tasks.contains_key(t)))
        {
            warn!("ignoring a launch with the id of a task this agent already runs");
            return None;
        }
        Some(agent_id)
    }

    pub(super) fn on_run_task(&mut self, run: RunTask) {
        if run.task.executor.is_some() {
            return self.run_on_executor(run);
        }
        let RunTask {
            framework_info,
            task,
        } = run;
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let task_id = task.task_id.value.clone();
        let span = info_span!("task", framework_id = %framework_id, task_id = %task_id);
        let _enter = span.enter();
        let Some(agent_id) = self.admit_launch(
            &framework_id,
            None,
            std::slice::from_ref(&task_id),
            task_status::Reason::TaskInvalid,
        ) else {
            return;
        };
        let meta = self.layout.framework_meta(&agent_id, &framework_id);
        let _ = std::fs::remove_file(meta.join(FRAMEWORK_REMOVED));
        if let Err(e) = checkpoint::write_message(
            &self.layout.framework_info(&agent_id, &framework_id),
            &framework_info,
        ) {
            error!(error = %e, "cannot checkpoint the framework");
        }
        let container_id = uuid::Uuid::new_v4().to_string();
        let run = self
            .layout
            .run(&agent_id, &framework_id, &task_id, &container_id);
        let key = StreamKey::new(framework_id.clone(), task_id.clone());
        let endpoint = self.identity.endpoint();
        let hostname = self.identity.hostname.clone();
        let ctx = TaskContext {
            agent_id: &agent_id,
            framework_id: &framework_id,
            container_id: &container_id,
            key: &key,
            run: &run,
            agent_endpoint: &endpoint,
            hostname: &hostname,
        };
        let plan = self.plan(&task, &ctx);
        let framework = self.framework_entry(framework_info);
        framework.removed = false;
        framework.tasks.insert(
            task_id.clone(),
            Task {
                framework_id: framework_id.clone(),
                container_id: container_id.clone(),
                run: run.clone(),
                command: display_command(&task),
                state: TaskState::TaskStaging,
                statuses: Vec::new(),
                exited: false,
                killing: false,
                docker: None,
                network_infos: Vec::new(),
                parent_container_id: None,
                info: task.clone(),
            },
        );
        self.sum
            .journal_mut()
            .register(key.clone(), run.task_updates(&task_id));
        if let Err(e) = checkpoint::write_message(&run.task_info(&task_id), &task) {
            error!(error = %e, "cannot checkpoint the task");
        }
        let started = plan.and_then(|plan| match plan {
            Plan::Command(command) => {
                let supervised = self.launcher.launch_task(command, &task, &ctx)?;
                info!(pid = supervised.pid, sandbox = %run.sandbox.display(), "task started");
                for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
                    self.update(&key, state, None, None, task_status::Source::Executor);
                }
                self.watch(key.clone(), container_id.clone(), supervised);
                Ok(())
            }
            // Its updates follow the container's progress (ContainerEvent).
            Plan::Docker(spec) => {
                let runtime = self.docker.as_ref().expect("planned for docker");
                let switch = runtime.launch_task(spec, &task, &ctx)?;
                if let Some(task) = self.task_mut(&key) {
                    task.docker = Some(switch);
                }
                Ok(())
            }
        });
        if let Err(refusal) = started {
            warn!(message = %refusal.message, state = refusal.state.as_str_name(), "task not launched");
            if let Some(task) = self.task_mut(&key) {
                task.exited = true;
            }
            self.update(
                &key,
                refusal.state,
                Some(refusal.message),
                Some(refusal.reason),
                task_status::Source::Agent,
            );
        }
    }

    /// Decides how the task runs: a command under a supervisor, or a Docker container.
    fn plan(&self, task: &TaskInfo, ctx: &TaskContext<'_>) -> Result<Plan, Refusal> {
        if task.executor.is_some() {
            return Err(Refusal::failed(
                "Tasks with a custom executor are not supported yet",
            ));
        }
        if docker::is_docker_task(task) {
            let Some(runtime) = &self.docker else {
                return Err(Refusal::failed(
                    "The docker containerizer is not enabled on this agent (--containerizers)",
                ));
            };
            return Ok(Plan::Docker(runtime.plan_task(task, ctx)?));
        }
        if let Some(container) = &task.container {
            if container.mesos.as_ref().is_some_and(|m| m.image.is_some()) {
                return Err(Refusal::failed(
                    "Container images under the mesos containerizer are not supported yet",
                ));
            }
        }
        if !self.config.mesos_enabled() {
            return Err(Refusal::failed(
                "Only Docker tasks run on this agent: --containerizers does not list mesos",
            ));
        }
        Ok(Plan::Command(self.launcher.plan_task(task, ctx)?))
    }

    pub(super) fn watch(&self, key: StreamKey, container_id: String, supervised: Supervised) {
        let exits = self.exits.clone();
        tokio::spawn(async move {
            let status = supervised.wait().await;
            let _ = exits.send(Exit {
                key,
                container_id,
                status,
            });
        });
    }
}
