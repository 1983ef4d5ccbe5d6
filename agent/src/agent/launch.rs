//! Launching tasks: admission (framework, ids), the choice of containerizer (command or
//! Docker), the plan and the launch through it, and watching what was started.

use mesos_proto::internal::RunTask;
use mesos_proto::v1::{task_status, TaskInfo, TaskState};
use tracing::{error, info, info_span, warn};

use super::{display_command, Core, Exit, Fetched, Plan, Refusal, Task, FRAMEWORK_REMOVED};
use crate::checkpoint;
use crate::containerizer::{Containerizer, TaskContext};
use crate::docker;
use crate::fetcher::{self, FetchUri};
use crate::launcher::{self, Supervised};
use crate::paths::valid_id;
use crate::paths::RunPaths;
use crate::status_update::StreamKey;
use crate::users;

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
        let user = self.task_user(&task, &framework_info.user);
        let ctx = TaskContext {
            agent_id: &agent_id,
            framework_id: &framework_id,
            container_id: &container_id,
            key: &key,
            run: &run,
            agent_endpoint: &endpoint,
            hostname: &hostname,
            user: user.as_deref(),
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
                health: None,
                killed_by_health_check: false,
                info: task.clone(),
            },
        );
        self.sum
            .journal_mut()
            .register(key.clone(), run.task_updates(&task_id));
        if let Err(e) = checkpoint::write_message(&run.task_info(&task_id), &task) {
            error!(error = %e, "cannot checkpoint the task");
        }
        let uris = task_uris(&task);
        let started = match plan {
            // The URIs first; the launch follows when they are in the sandbox.
            Ok(plan) if !uris.is_empty() => {
                self.start_fetch(key.clone(), plan, uris, &run);
                Ok(())
            }
            Ok(plan) => self.start_planned(&key, plan, &task, &ctx),
            Err(refusal) => Err(refusal),
        };
        if let Err(refusal) = started {
            self.refuse_launch(&key, refusal);
        }
    }

    /// Starts a planned task through its containerizer.
    fn start_planned(
        &mut self,
        key: &StreamKey,
        plan: Plan,
        task: &TaskInfo,
        ctx: &TaskContext<'_>,
    ) -> Result<(), Refusal> {
        match plan {
            Plan::Command(command) => {
                check_user(ctx.user, ctx.run)?;
                let supervised = self.launcher.launch_task(command, task, ctx)?;
                info!(pid = supervised.pid, sandbox = %ctx.run.sandbox.display(), "task started");
                for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
                    self.update(key, state, None, None, task_status::Source::Executor);
                }
                self.start_health_check(key);
                self.watch(key.clone(), ctx.container_id.to_string(), supervised);
                Ok(())
            }
            // Its updates follow the container's progress (ContainerEvent).
            Plan::Docker(spec) => {
                let runtime = self.docker.as_ref().expect("planned for docker");
                let switch = runtime.launch_task(spec, task, ctx)?;
                if let Some(task) = self.task_mut(key) {
                    task.docker = Some(switch);
                }
                Ok(())
            }
        }
    }

    fn refuse_launch(&mut self, key: &StreamKey, refusal: Refusal) {
        warn!(message = %refusal.message, state = refusal.state.as_str_name(), "task not launched");
        if let Some(task) = self.task_mut(key) {
            task.exited = true;
        }
        self.update(
            key,
            refusal.state,
            Some(refusal.message),
            Some(refusal.reason),
            task_status::Source::Agent,
        );
    }

    /// Fetches the task's URIs into its sandbox in the background (Mesos's fetcher); the
    /// launch goes on in [`Core::on_fetched`].
    fn start_fetch(&mut self, key: StreamKey, plan: Plan, uris: Vec<FetchUri>, run: &RunPaths) {
        self.fetching.insert(key.clone(), plan);
        let tx = self.fetched_tx.clone();
        let run = run.clone();
        info!(uris = uris.len(), "fetching the task's URIs");
        tokio::spawn(async move {
            let result = match launcher::prepare_sandbox(&run) {
                Err(e) => Err(format!("cannot create the sandbox: {e}")),
                Ok(()) => fetcher::fetch_all(&uris, &run.sandbox)
                    .await
                    .map(|fetched| log_fetched(&run, &uris, &fetched))
                    .map_err(|e| e.to_string()),
            };
            let _ = tx.send(Fetched { key, result });
        });
    }

    /// The URIs of a task are in its sandbox (or could not be fetched): launch it, or fail
    /// it as Mesos does (TASK_FAILED, REASON_CONTAINER_LAUNCH_FAILED). A task killed while
    /// fetching was already reported killed.
    pub(super) fn on_fetched(&mut self, fetched: Fetched) {
        let Fetched { key, result } = fetched;
        let span = info_span!("task", framework_id = %key.framework_id, task_id = %key.task_id);
        let _enter = span.enter();
        let Some(plan) = self.fetching.remove(&key) else {
            return;
        };
        let Some(task) = self.task_mut(&key) else {
            return;
        };
        let info = task.info.clone();
        let run = task.run.clone();
        let container_id = task.container_id.clone();
        if let Err(reason) = result {
            let message =
                format!("Failed to fetch all URIs for container '{container_id}': {reason}");
            return self.refuse_launch(&key, Refusal::failed(message));
        }
        let Some(agent_id) = self.agent_id.clone() else {
            return;
        };
        let endpoint = self.identity.endpoint();
        let hostname = self.identity.hostname.clone();
        let framework_user = self
            .frameworks
            .get(&key.framework_id)
            .map(|f| f.info.user.clone())
            .unwrap_or_default();
        let user = self.task_user(&info, &framework_user);
        let ctx = TaskContext {
            agent_id: &agent_id,
            framework_id: &key.framework_id,
            container_id: &container_id,
            key: &key,
            run: &run,
            agent_endpoint: &endpoint,
            hostname: &hostname,
            user: user.as_deref(),
        };
        if let Err(refusal) = self.start_planned(&key, plan, &info, &ctx) {
            self.refuse_launch(&key, refusal);
        }
    }

    /// A kill of a task still fetching: nothing runs yet, so it is over at once.
    pub(super) fn kill_fetching(&mut self, key: &StreamKey) -> bool {
        if self.fetching.remove(key).is_none() {
            return false;
        }
        if let Some(task) = self.task_mut(key) {
            task.exited = true;
        }
        self.update(
            key,
            TaskState::TaskKilled,
            Some("Killed while fetching its URIs".to_string()),
            None,
            task_status::Source::Agent,
        );
        true
    }

    /// The user a command task (or a Docker task's sandbox) belongs to: the task's
    /// command's user, else its framework's, when the agent switches users.
    fn task_user(&self, task: &TaskInfo, framework_user: &str) -> Option<String> {
        let command_user = task.command.as_ref().and_then(|c| c.user.as_deref());
        self.users
            .user_of(command_user, framework_user)
            .map(str::to_string)
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

/// A command task's user must exist: Mesos's command executor cannot start as a user the
/// system does not know; its launcher says so in the sandbox's stderr, and the task
/// fails as its executor ends (TASK_FAILED, REASON_EXECUTOR_TERMINATED).
pub(super) fn check_user(user: Option<&str>, run: &RunPaths) -> Result<(), Refusal> {
    use std::io::Write;
    let Some(name) = user else {
        return Ok(());
    };
    let Err(error) = users::resolve(name, &users::SystemUsers) else {
        return Ok(());
    };
    warn!(user = name, "the task's user does not exist on this agent");
    let logged = launcher::prepare_sandbox(run).and_then(|()| {
        let mut stderr = std::fs::OpenOptions::new()
            .append(true)
            .open(run.sandbox.join("stderr"))?;
        writeln!(stderr, "{error}")
    });
    if let Err(e) = logged {
        warn!(error = %e, "cannot write to the sandbox");
    }
    Err(Refusal::executor_terminated())
}

/// The URIs of a task's command (a Docker task's too: they land in the sandbox, which the
/// container sees as MESOS_SANDBOX).
fn task_uris(task: &TaskInfo) -> Vec<FetchUri> {
    task.command
        .as_ref()
        .map(|c| c.uris.iter().map(FetchUri::from).collect())
        .unwrap_or_default()
}

/// Notes in the sandbox's stderr what was fetched, as Mesos's fetcher does.
fn log_fetched(run: &RunPaths, uris: &[FetchUri], fetched: &[std::path::PathBuf]) {
    use std::io::Write;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run.sandbox.join("stderr"))
    else {
        return;
    };
    for (uri, path) in uris.iter().zip(fetched) {
        let _ = writeln!(f, "Fetched '{}' to '{}'", uri.value, path.display());
    }
}
