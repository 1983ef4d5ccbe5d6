//! Launching tasks: admission (framework, ids, resources), the plan (command or Docker
//! container), sandbox preparation, and watching what was started.

use mesos_proto::internal::RunTask;
use mesos_proto::v1::{task_status, TaskInfo, TaskState};
use tracing::{error, info, info_span, warn};

use super::{display_command, Core, Exit, Plan, Refusal, Task, FRAMEWORK_REMOVED};
use crate::checkpoint;
use crate::docker::{self, runtime::Target};
use crate::launcher::{self, CommandLine, EnvContext, Supervised};
use crate::paths::{valid_id, RunPaths};
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
        let plan = self.plan(&task, &agent_id, &framework_id, &container_id, &run);
        let key = StreamKey::new(framework_id.clone(), task_id.clone());
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
                let supervised = self.launch(&task, &framework_id, &run, &command)?;
                info!(pid = supervised.pid, sandbox = %run.sandbox.display(), "task started");
                for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
                    self.update(&key, state, None, None, task_status::Source::Executor);
                }
                self.watch(key.clone(), container_id.clone(), supervised);
                Ok(())
            }
            // Its updates follow the container's progress (ContainerEvent).
            Plan::Docker(spec) => self.launch_container(*spec, &key, &container_id, &run),
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
    fn plan(
        &self,
        task: &TaskInfo,
        agent_id: &str,
        framework_id: &str,
        container_id: &str,
        run: &RunPaths,
    ) -> Result<Plan, Refusal> {
        if task.executor.is_some() {
            return Err(Refusal::failed(
                "Tasks with a custom executor are not supported yet",
            ));
        }
        if docker::is_docker_task(task) {
            if self.docker.is_none() {
                return Err(Refusal::failed(
                    "The docker containerizer is not enabled on this agent (--containerizers)",
                ));
            }
            let endpoint = self.identity.endpoint();
            let ctx = docker::SpecContext {
                agent_id,
                framework_id,
                container_id,
                sandbox: &run.sandbox,
                agent_endpoint: &endpoint,
                hostname: &self.identity.hostname,
            };
            return docker::spec::build(task, &ctx)
                .map(|spec| Plan::Docker(Box::new(spec)))
                .map_err(|e| Refusal {
                    state: TaskState::TaskError,
                    reason: task_status::Reason::TaskInvalid,
                    message: e.to_string(),
                });
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
        let command = task
            .command
            .as_ref()
            .ok_or_else(|| Refusal::failed("Task has no command"))?;
        CommandLine::from_command(command)
            .map(Plan::Command)
            .map_err(Refusal::failed)
    }

    fn launch_container(
        &mut self,
        spec: docker::ContainerSpec,
        key: &StreamKey,
        container_id: &str,
        run: &RunPaths,
    ) -> Result<(), Refusal> {
        let runtime = self.docker.clone().expect("planned for docker");
        launcher::prepare_sandbox(run).map_err(|e| {
            Refusal::failed(format!(
                "Failed to create sandbox {}: {e}",
                run.sandbox.display()
            ))
        })?;
        info!(container = %spec.name, image = %spec.image.repository, sandbox = %run.sandbox.display(), "launching container");
        let switch = runtime.launch(
            spec,
            Target {
                key: key.clone(),
                container_id: container_id.to_string(),
                sandbox: run.sandbox.clone(),
            },
        );
        if let Some(task) = self.task_mut(key) {
            task.docker = Some(switch);
        }
        Ok(())
    }

    pub(super) fn launch(
        &self,
        task: &TaskInfo,
        framework_id: &str,
        run: &RunPaths,
        command: &CommandLine,
    ) -> Result<Supervised, Refusal> {
        launcher::prepare_sandbox(run).map_err(|e| {
            Refusal::failed(format!(
                "Failed to create sandbox {}: {e}",
                run.sandbox.display()
            ))
        })?;
        let endpoint = self.identity.endpoint();
        let ctx = EnvContext {
            framework_id,
            executor_id: &task.task_id.value,
            sandbox: &run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &self.identity.hostname,
        };
        let env = launcher::task_environment(std::env::vars(), task, &ctx);
        self.launcher
            .launch(run, command, &env)
            .map_err(|e| Refusal::failed(format!("Failed to launch task: {e}")))
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
