//! Task groups (LAUNCH_GROUP) under the default executor, with Mesos's semantics: the
//! tasks of a group run under one executor (ExecutorInfo type DEFAULT) whose sandbox they
//! share, and they live and die together.
//!
//! As for command tasks, the agent itself plays the executor: there is no executor process.
//! Each task runs under a supervisor (see [`crate::launcher`]) in a container nested in the
//! executor's, with its sandbox at `<executor sandbox>/containers/<container id>` (its
//! `MESOS_SANDBOX`) and a link `<executor sandbox>/tasks/<task id>` to it, as Mesos's
//! default executor lays them out. So group tasks survive agent restarts like command
//! tasks do, and their checkpoints (`containers/<id>/...` in the executor's run) bring the
//! group back.
//!
//! ```text
//!  RunTaskGroup ─▶ executor (new, or the running one: a second group joins it)
//!               ─▶ TASK_STARTING (all) ─▶ launch each ─▶ TASK_RUNNING (all)
//!  task ends FAILED/KILLED ─▶ kill the rest of its group (TASK_KILLED)
//!  KILL of one task ─▶ that task ends KILLED ─▶ the rest of its group is killed
//!  every task ended ─▶ the executor is done (ExitedExecutor, status 0)
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use mesos_proto::internal::{agent_message, ExitedExecutor, RunTaskGroup};
use mesos_proto::v1::{self, executor_info, framework_info, task_status, TaskInfo, TaskState};
use tracing::{info, info_span, warn};

use super::{display_command, Core, Task, DEFAULT_KILL_GRACE, FRAMEWORK_REMOVED};
use crate::checkpoint;
use crate::docker::{self, ContainerSpec, NetworkReady, SpecContext};
use crate::launcher::{self, CommandLine, EnvContext};
use crate::paths::{replace_symlink, write_atomic, RunPaths};
use crate::status_update::StreamKey;

/// Grace period the default executor gives the tasks it kills on its own (the rest of a
/// group, or all tasks on shutdown), as Mesos's does.
const GROUP_KILL_GRACE: Duration = DEFAULT_KILL_GRACE;

/// One LAUNCH_GROUP's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    tasks: Vec<String>,
    /// One of its tasks failed or was killed: the others are being killed.
    killing: bool,
}

/// A default executor: the groups it runs and where.
#[derive(Debug)]
pub(crate) struct DefaultExecutor {
    pub(crate) container_id: String,
    pub(crate) run: RunPaths,
    groups: Vec<Group>,
    /// Asked to shut down: its tasks are all being killed.
    shutting_down: bool,
    /// Some of its tasks run as Docker containers (a pod): its network container, if it
    /// has one, goes with it.
    pub(crate) docker: bool,
    /// The network container its Docker tasks join, and when it runs.
    network: Option<(ContainerSpec, NetworkReady)>,
}

impl DefaultExecutor {
    fn new(container_id: String, run: RunPaths) -> Self {
        DefaultExecutor {
            container_id,
            run,
            groups: Vec::new(),
            shutting_down: false,
            docker: false,
            network: None,
        }
    }

    /// Adds a group; a task already in one (recovery finds each task of a group) is not
    /// added twice.
    fn add_group(&mut self, tasks: Vec<String>) {
        let known = |id: &String| self.groups.iter().any(|g| g.tasks.contains(id));
        if tasks.iter().any(known) {
            return;
        }
        self.groups.push(Group {
            tasks,
            killing: false,
        });
    }

    fn tasks(&self) -> impl Iterator<Item = &String> {
        self.groups.iter().flat_map(|g| g.tasks.iter())
    }

    /// A task ended in `state`: the tasks of its group to kill now. The default restart
    /// policy of Mesos: when a task fails or is killed, the rest of its group is killed
    /// (once; not while the executor shuts down anyway).
    fn on_task_ended(&mut self, task_id: &str, state: TaskState) -> Vec<String> {
        if self.shutting_down || !matches!(state, TaskState::TaskFailed | TaskState::TaskKilled) {
            return Vec::new();
        }
        let Some(group) = self
            .groups
            .iter_mut()
            .find(|g| g.tasks.iter().any(|t| t == task_id))
        else {
            return Vec::new();
        };
        if group.killing {
            return Vec::new();
        }
        group.killing = true;
        group
            .tasks
            .iter()
            .filter(|t| *t != task_id)
            .cloned()
            .collect()
    }

    /// SHUTDOWN: every task is to be killed, without group kills on top.
    fn shut_down(&mut self) -> Vec<String> {
        self.shutting_down = true;
        self.tasks().cloned().collect()
    }
}

/// The default executors of the agent, by (framework id, executor id).
#[derive(Debug, Default)]
pub(crate) struct DefaultExecutors {
    pub(crate) by_id: BTreeMap<(String, String), DefaultExecutor>,
}

impl DefaultExecutors {
    /// The executor running `task_id` of `framework_id`.
    fn of_task(&self, framework_id: &str, task_id: &str) -> Option<(String, String)> {
        self.by_id
            .iter()
            .find(|((fw, _), e)| fw == framework_id && e.tasks().any(|t| t == task_id))
            .map(|(k, _)| k.clone())
    }
}

/// How one task of a group runs.
#[derive(Debug, Clone, PartialEq)]
enum Member {
    /// A process under a supervisor.
    Process(CommandLine),
    /// A Docker container in the group's network (the task has a Docker image).
    Docker,
}

/// How each task of a group runs, or why the group cannot run (TASK_FAILED for all, as
/// Mesos fails a group atomically).
fn plan_group(tasks: &[TaskInfo]) -> Result<Vec<Member>, String> {
    tasks
        .iter()
        .map(|task| {
            if docker::spec::pod::image(task).is_some() {
                return Ok(Member::Docker);
            }
            if docker::is_docker_task(task) {
                return Err(format!(
                    "Task '{}': DOCKER containers in task groups are not supported; give the task a MESOS container with a Docker image",
                    task.task_id.value
                ));
            }
            let command = task.command.as_ref().ok_or_else(|| {
                format!("Task '{}' of the task group has no command", task.task_id.value)
            })?;
            CommandLine::from_command(command)
                .map(Member::Process)
                .map_err(|e| format!("Task '{}': {e}", task.task_id.value))
        })
        .collect()
}

impl Core {
    /// RunTaskGroup from the master: the group's tasks start under the default executor.
    pub(crate) fn on_run_task_group(&mut self, group: RunTaskGroup) {
        let RunTaskGroup {
            framework_info,
            mut executor,
            task_group,
        } = group;
        let framework_id = framework_info
            .id
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_default();
        let executor_id = executor.executor_id.value.clone();
        let span =
            info_span!("task_group", framework_id = %framework_id, executor_id = %executor_id);
        let _enter = span.enter();
        let task_ids: Vec<String> = task_group
            .tasks
            .iter()
            .map(|t| t.task_id.value.clone())
            .collect();
        if task_ids.is_empty() {
            warn!("ignoring an empty task group");
            return;
        }
        let refuse = |core: &Core, state: TaskState, reason: task_status::Reason, message: &str| {
            warn!(message, "task group not launched");
            for task_id in &task_ids {
                core.send_unreliable(&framework_id, task_id, state, message, reason);
            }
        };
        let Some(agent_id) = self.admit_launch(
            &framework_id,
            Some(&executor_id),
            &task_ids,
            task_status::Reason::TaskGroupInvalid,
        ) else {
            return;
        };
        if executor.r#type == Some(executor_info::Type::Custom as i32) {
            return self.run_group_on_executor(framework_info, executor, task_group);
        }
        if self.executors.contains(&framework_id, &executor_id) {
            return refuse(
                self,
                TaskState::TaskFailed,
                task_status::Reason::ContainerLaunchFailed,
                "A custom executor with this executor id runs on this agent",
            );
        }
        if !self.config.mesos_enabled() {
            return refuse(
                self,
                TaskState::TaskFailed,
                task_status::Reason::ContainerLaunchFailed,
                "Task groups run under the mesos containerizer, which --containerizers does not list",
            );
        }
        let commands = match plan_group(&task_group.tasks) {
            Ok(commands) => commands,
            Err(message) => {
                return refuse(
                    self,
                    TaskState::TaskFailed,
                    task_status::Reason::ContainerLaunchFailed,
                    &message,
                )
            }
        };
        if commands.contains(&Member::Docker) && self.docker.is_none() {
            return refuse(
                self,
                TaskState::TaskFailed,
                task_status::Reason::ContainerLaunchFailed,
                "Tasks with Docker images run under the docker containerizer, which --containerizers does not list",
            );
        }
        let key = (framework_id.clone(), executor_id.clone());
        if self.groups.by_id.get(&key).is_some_and(|e| e.shutting_down) {
            return refuse(
                self,
                TaskState::TaskLost,
                task_status::Reason::ExecutorTerminated,
                "The task group's executor is shutting down",
            );
        }
        executor.framework_id = Some(v1::FrameworkId {
            value: framework_id.clone(),
        });
        executor.set_type(executor_info::Type::Default);

        let meta = self.layout.framework_meta(&agent_id, &framework_id);
        let _ = std::fs::remove_file(meta.join(FRAMEWORK_REMOVED));
        if let Err(e) = checkpoint::write_message(
            &self.layout.framework_info(&agent_id, &framework_id),
            &framework_info,
        ) {
            warn!(error = %e, "cannot checkpoint the framework");
        }
        if !self.groups.by_id.contains_key(&key) {
            let container_id = uuid::Uuid::new_v4().to_string();
            let run = self
                .layout
                .run(&agent_id, &framework_id, &executor_id, &container_id);
            // Mesos's default executor runs as the executor's user (else the framework's).
            let command_user = executor.command.as_ref().and_then(|c| c.user.as_deref());
            let user = self.users.user_of(command_user, &framework_info.user);
            if let Err(refusal) = super::launch::check_user(user, &run) {
                return refuse(self, refusal.state, refusal.reason, &refusal.message);
            }
            if let Err(e) = launcher::prepare_sandbox(&run) {
                return refuse(
                    self,
                    TaskState::TaskFailed,
                    task_status::Reason::ContainerLaunchFailed,
                    &format!("Failed to create sandbox {}: {e}", run.sandbox.display()),
                );
            }
            crate::users::hand_over(&run.sandbox, user);
            info!(container_id, sandbox = %run.sandbox.display(), "default executor started");
            self.groups
                .by_id
                .insert(key.clone(), DefaultExecutor::new(container_id, run));
        } else {
            info!("task group joins the running default executor");
        }
        let network = match commands.contains(&Member::Docker) {
            true => match self.pod_network(&key, &agent_id, &executor, &task_group.tasks) {
                Ok(network) => network,
                Err(message) => {
                    return refuse(
                        self,
                        TaskState::TaskFailed,
                        task_status::Reason::ContainerLaunchFailed,
                        &message,
                    )
                }
            },
            false => None,
        };
        let (parent_container, executor_run) = {
            let e = &self.groups.by_id[&key];
            (e.container_id.clone(), e.run.clone())
        };
        self.groups
            .by_id
            .get_mut(&key)
            .expect("inserted above")
            .add_group(task_ids.clone());
        let group_json = serde_json::to_vec(&task_ids).expect("ids serialize");

        let framework = self.framework_entry(framework_info);
        framework.removed = false;
        let mut runs = Vec::new();
        for mut task in task_group.tasks {
            task.executor = Some(executor.clone());
            let task_id = task.task_id.value.clone();
            let container_id = uuid::Uuid::new_v4().to_string();
            let run = executor_run.nested(&container_id);
            let stream = StreamKey::new(framework_id.clone(), task_id.clone());
            self.sum
                .journal_mut()
                .register(stream.clone(), run.task_updates(&task_id));
            if let Err(e) = checkpoint::write_message(&run.task_info(&task_id), &task)
                .and_then(|()| write_atomic(&run.task_group(), &group_json))
            {
                warn!(task_id, error = %e, "cannot checkpoint the task");
            }
            self.frameworks
                .get_mut(&framework_id)
                .expect("framework_entry inserted it")
                .tasks
                .insert(
                    task_id,
                    Task {
                        framework_id: framework_id.clone(),
                        container_id,
                        run: run.clone(),
                        command: display_command(&task),
                        state: TaskState::TaskStaging,
                        statuses: Vec::new(),
                        exited: false,
                        killing: false,
                        docker: None,
                        network_infos: Vec::new(),
                        parent_container_id: Some(parent_container.clone()),
                        health: None,
                        killed_by_health_check: false,
                        info: task,
                    },
                );
            runs.push((stream, run));
        }
        // As Mesos's default executor: STARTING for all, launch all, then RUNNING.
        for (stream, _) in &runs {
            self.update(
                stream,
                TaskState::TaskStarting,
                None,
                None,
                task_status::Source::Executor,
            );
        }
        let mut failed = Vec::new();
        let mut started = Vec::new();
        for ((stream, run), member) in runs.into_iter().zip(commands) {
            let command = match member {
                Member::Process(command) => command,
                Member::Docker => {
                    // RUNNING when its container runs (a container event).
                    let launched = self.launch_docker_member(
                        &stream,
                        &run,
                        &executor_run,
                        &agent_id,
                        network.as_ref(),
                    );
                    if let Err(message) = launched {
                        failed.push((stream, message));
                    }
                    continue;
                }
            };
            match self.launch_in_group(&stream, &run, &executor_run, &command) {
                Ok(supervised) => {
                    info!(task_id = %stream.task_id, pid = supervised.pid, sandbox = %run.sandbox.display(), "task of the group started");
                    let container_id = self
                        .task_mut(&stream)
                        .map(|t| t.container_id.clone())
                        .unwrap_or_default();
                    self.watch(stream.clone(), container_id, supervised);
                    started.push(stream);
                }
                Err(message) => failed.push((stream, message)),
            }
        }
        for stream in &started {
            self.update(
                stream,
                TaskState::TaskRunning,
                None,
                None,
                task_status::Source::Executor,
            );
        }
        for (stream, message) in failed {
            warn!(task_id = %stream.task_id, message, "task of the group not launched");
            if let Some(task) = self.task_mut(&stream) {
                task.exited = true;
            }
            self.update(
                &stream,
                TaskState::TaskFailed,
                Some(message),
                Some(task_status::Reason::ContainerLaunchFailed),
                task_status::Source::Executor,
            );
            self.group_task_ended(&stream, TaskState::TaskFailed);
        }
    }

    /// Starts one task of a group in its nested sandbox, with the environment Mesos gives
    /// a task of the default executor.
    fn launch_in_group(
        &self,
        stream: &StreamKey,
        run: &RunPaths,
        executor_run: &RunPaths,
        command: &CommandLine,
    ) -> Result<launcher::Supervised, String> {
        let task = self
            .frameworks
            .get(&stream.framework_id)
            .and_then(|f| f.tasks.get(&stream.task_id))
            .ok_or("the task is gone")?;
        prepare_nested_sandbox(run, executor_run, &stream.task_id)
            .map_err(|e| format!("Failed to create sandbox {}: {e}", run.sandbox.display()))?;
        let endpoint = self.identity.endpoint();
        let ctx = EnvContext {
            framework_id: &stream.framework_id,
            executor_id: task.executor_id(),
            sandbox: &run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &self.identity.hostname,
        };
        let mut env = launcher::task_environment(std::env::vars(), &task.info, &ctx);
        // Set by Mesos's default executor for each task it launches.
        env.entry("MESOS_CONTAINER_IP".to_string())
            .or_insert_with(|| self.identity.ip.to_string());
        if let Some(role) = task
            .info
            .resources
            .first()
            .and_then(|r| r.allocation_info.as_ref())
            .and_then(|a| a.role.clone())
        {
            env.entry("MESOS_ALLOCATION_ROLE".to_string())
                .or_insert(role);
        }
        let user = self.user_of_task(task);
        self.launcher
            .launch(run, command, &env, user)
            .map_err(|e| format!("Failed to launch task: {e}"))
    }

    /// The network container of the executor `key` for a group with Docker tasks: the
    /// one it has, or a new one started from the group's first image (None on host
    /// networking).
    fn pod_network(
        &mut self,
        key: &(String, String),
        agent_id: &str,
        executor: &v1::ExecutorInfo,
        tasks: &[TaskInfo],
    ) -> Result<Option<(ContainerSpec, NetworkReady)>, String> {
        let runtime = self
            .docker
            .clone()
            .ok_or("the docker containerizer is not enabled")?;
        let endpoint = self.identity.endpoint();
        let hostname = self.identity.hostname.clone();
        let e = self.groups.by_id.get_mut(key).expect("created before");
        e.docker = true;
        if let Some(network) = &e.network {
            return Ok(Some(network.clone()));
        }
        let image = tasks
            .iter()
            .find_map(docker::spec::pod::image)
            .ok_or("no task of the group has a Docker image")?;
        let ctx = SpecContext {
            agent_id,
            framework_id: &key.0,
            container_id: &e.container_id,
            sandbox: &e.run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &hostname,
            guards: &runtime.guards,
        };
        let Some(spec) = docker::spec::pod::network_container(executor, image, &ctx)
            .map_err(|err| format!("The task group's network: {err}"))?
        else {
            return Ok(None);
        };
        info!(container = %spec.name, "starting the task group's network container");
        let ready = runtime.start_network(spec.clone());
        e.network = Some((spec, ready.clone()));
        Ok(e.network.clone())
    }

    /// Starts one task of a group as a Docker container in the group's network.
    fn launch_docker_member(
        &mut self,
        stream: &StreamKey,
        run: &RunPaths,
        executor_run: &RunPaths,
        agent_id: &str,
        network: Option<&(ContainerSpec, NetworkReady)>,
    ) -> Result<(), String> {
        let runtime = self
            .docker
            .clone()
            .ok_or("the docker containerizer is not enabled")?;
        let endpoint = self.identity.endpoint();
        let hostname = self.identity.hostname.clone();
        let task = self
            .frameworks
            .get(&stream.framework_id)
            .and_then(|f| f.tasks.get(&stream.task_id))
            .ok_or("the task is gone")?;
        prepare_nested_sandbox(run, executor_run, &stream.task_id)
            .and_then(|()| prepare_shared_volumes(&task.info, &executor_run.sandbox))
            .map_err(|e| format!("Failed to create sandbox {}: {e}", run.sandbox.display()))?;
        let ctx = SpecContext {
            agent_id,
            framework_id: &stream.framework_id,
            container_id: &task.container_id,
            sandbox: &run.sandbox,
            agent_endpoint: &endpoint,
            hostname: &hostname,
            guards: &runtime.guards,
        };
        let spec = docker::spec::pod::member(
            &task.info,
            &ctx,
            &executor_run.sandbox,
            network.map(|(spec, _)| spec),
        )
        .map_err(|e| e.to_string())?;
        let target = docker::runtime::Target {
            key: stream.clone(),
            container_id: task.container_id.clone(),
            sandbox: run.sandbox.clone(),
        };
        info!(task_id = %stream.task_id, container = %spec.name, "task of the group starts as a Docker container");
        let switch = runtime.launch_after(spec, target, network.map(|(_, ready)| ready.clone()));
        if let Some(task) = self.task_mut(stream) {
            task.docker = Some(switch);
        }
        Ok(())
    }

    /// After a task of a group ended in `state`: the rest of its group is killed when it
    /// failed or was killed, and the executor is done once all its tasks have ended.
    pub(crate) fn group_task_ended(&mut self, stream: &StreamKey, state: TaskState) {
        let Some(key) = self.groups.of_task(&stream.framework_id, &stream.task_id) else {
            return;
        };
        let siblings = self
            .groups
            .by_id
            .get_mut(&key)
            .expect("found above")
            .on_task_ended(&stream.task_id, state);
        if !siblings.is_empty() {
            info!(executor_id = %key.1, task_id = %stream.task_id, state = state.as_str_name(), "killing the rest of the task group");
        }
        for task_id in siblings {
            self.kill_group_task(&StreamKey::new(key.0.clone(), task_id));
        }
        self.retire_executor_if_done(&key);
    }

    /// Kills a task of a group on the default executor's own account.
    fn kill_group_task(&mut self, stream: &StreamKey) {
        let framework = self.frameworks.get(&stream.framework_id);
        let killing_state = framework
            .is_some_and(|f| f.has_capability(framework_info::capability::Type::TaskKillingState));
        if !self
            .task_mut(stream)
            .is_some_and(|t| !t.exited && !t.killing)
        {
            return;
        }
        self.start_kill(stream, GROUP_KILL_GRACE);
        if killing_state {
            self.update(
                stream,
                TaskState::TaskKilling,
                None,
                None,
                task_status::Source::Executor,
            );
        }
    }

    /// ShutdownExecutor for a default executor: all its tasks are killed. False when no
    /// default executor has that id.
    pub(crate) fn shutdown_default_executor(&mut self, key: &(String, String)) -> bool {
        let Some(executor) = self.groups.by_id.get_mut(key) else {
            return false;
        };
        info!(executor_id = %key.1, "shutting down the default executor: killing its tasks");
        for task_id in executor.shut_down() {
            self.kill_group_task(&StreamKey::new(key.0.clone(), task_id));
        }
        self.retire_executor_if_done(key);
        true
    }

    /// Forgets the executor once none of its tasks runs, telling the master it exited.
    fn retire_executor_if_done(&mut self, key: &(String, String)) {
        let Some(executor) = self.groups.by_id.get(key) else {
            return;
        };
        let framework = self.frameworks.get(&key.0);
        let running = executor.tasks().any(|task_id| {
            framework
                .and_then(|f| f.tasks.get(task_id))
                .is_some_and(|t| !t.exited)
        });
        if running {
            return;
        }
        let executor = self.groups.by_id.remove(key).expect("found above");
        self.remove_network_container(&executor);
        info!(executor_id = %key.1, "default executor done: all its tasks ended");
        if framework.is_some_and(|f| !f.removed) {
            self.send(agent_message::Message::ExitedExecutor(ExitedExecutor {
                framework_id: v1::FrameworkId {
                    value: key.0.clone(),
                },
                executor_id: v1::ExecutorId {
                    value: key.1.clone(),
                },
                status: Some(0),
            }));
        }
    }

    /// Recovery: the default executors of the recovered task group tasks, so that group
    /// semantics hold for tasks that ended while the agent was down (their exits are
    /// handled after recovery).
    pub(crate) fn recover_default_executor(&mut self, run: &checkpoint::RecoveredRun) {
        let (Some(parent), Some(info)) = (&run.parent, &run.task.executor) else {
            return;
        };
        let key = (run.framework_id.clone(), info.executor_id.value.clone());
        let executor = self.groups.by_id.entry(key).or_insert_with(|| {
            DefaultExecutor::new(parent.container_id.clone(), parent.paths.clone())
        });
        let group = match parent.group.is_empty() {
            true => vec![run.task.task_id.value.clone()],
            false => parent.group.clone(),
        };
        executor.add_group(group);
        executor.docker |= docker::runs_in_docker(&run.task);
        if run.paths.killed().exists() {
            // It was being killed, as the rest of its group then.
            let task_id = &run.task.task_id.value;
            if let Some(g) = executor
                .groups
                .iter_mut()
                .find(|g| g.tasks.iter().any(|t| t == task_id))
            {
                g.killing = true;
            }
        }
    }

    /// Recovery done: executors none of whose tasks runs any more are forgotten.
    pub(crate) fn retire_idle_default_executors(&mut self) {
        let keys: Vec<(String, String)> = self.groups.by_id.keys().cloned().collect();
        for key in keys {
            let framework = self.frameworks.get(&key.0);
            let running = self.groups.by_id[&key].tasks().any(|task_id| {
                framework
                    .and_then(|f| f.tasks.get(task_id))
                    .is_some_and(|t| !t.exited)
            });
            if !running {
                let executor = self.groups.by_id.remove(&key).expect("listed above");
                self.remove_network_container(&executor);
            }
        }
    }

    /// Removes the network container of a pod's executor that is done (if it had one).
    fn remove_network_container(&self, executor: &DefaultExecutor) {
        if let (true, Some(runtime)) = (executor.docker, &self.docker) {
            runtime.remove(docker::container_name(&executor.container_id));
        }
    }
}

/// The executor sandbox's directories of the PARENT sandbox-path volumes of `task` (a
/// pod's shared ephemeral volumes), created before a container binds them.
fn prepare_shared_volumes(
    task: &TaskInfo,
    executor_sandbox: &std::path::Path,
) -> std::io::Result<()> {
    let volumes = task.container.iter().flat_map(|c| c.volumes.iter());
    for path in volumes
        .filter_map(|v| v.source.as_ref()?.sandbox_path.as_ref())
        .filter(|p| !p.path.split('/').any(|part| part == ".."))
    {
        std::fs::create_dir_all(executor_sandbox.join(&path.path))?;
    }
    Ok(())
}

/// The sandbox of a task of a group, with its `stdout`/`stderr`, and the
/// `<executor sandbox>/tasks/<task id>` link to it that Mesos's default executor makes.
fn prepare_nested_sandbox(
    run: &RunPaths,
    executor_run: &RunPaths,
    task_id: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&run.sandbox)?;
    for name in ["stdout", "stderr"] {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(run.sandbox.join(name))?;
    }
    let tasks = executor_run.sandbox.join("tasks");
    std::fs::create_dir_all(&tasks)?;
    replace_symlink(&run.sandbox, &tasks.join(task_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn executor() -> DefaultExecutor {
        let run = RunPaths {
            meta: PathBuf::from("/m"),
            sandbox: PathBuf::from("/s"),
        };
        let mut e = DefaultExecutor::new("c".into(), run);
        e.add_group(vec!["a".into(), "b".into(), "c".into()]);
        e.add_group(vec!["x".into(), "y".into()]);
        e
    }

    #[test]
    fn a_failed_or_killed_task_takes_its_group_down_once() {
        for state in [TaskState::TaskFailed, TaskState::TaskKilled] {
            let mut e = executor();
            assert_eq!(e.on_task_ended("b", state), ["a", "c"]);
            // The others then end KILLED: no second round of kills.
            assert!(e.on_task_ended("a", TaskState::TaskKilled).is_empty());
            assert!(e.on_task_ended("c", TaskState::TaskKilled).is_empty());
            // The other group is not touched, and has its own fate.
            assert_eq!(e.on_task_ended("y", TaskState::TaskFailed), ["x"]);
        }
    }

    #[test]
    fn a_finished_task_leaves_its_group_running() {
        let mut e = executor();
        assert!(e.on_task_ended("a", TaskState::TaskFinished).is_empty());
        assert_eq!(e.on_task_ended("b", TaskState::TaskFailed), ["a", "c"]);
        assert!(e.on_task_ended("unknown", TaskState::TaskFailed).is_empty());
    }

    #[test]
    fn shutdown_kills_everything_without_group_kills() {
        let mut e = executor();
        assert_eq!(e.shut_down(), ["a", "b", "c", "x", "y"]);
        assert!(e.on_task_ended("a", TaskState::TaskKilled).is_empty());
    }

    #[test]
    fn recovered_tasks_of_a_group_make_one_group() {
        let mut e = executor();
        e.add_group(vec!["b".into(), "a".into(), "c".into()]);
        e.add_group(vec!["z".into()]);
        assert_eq!(e.groups.len(), 3);
        assert_eq!(e.tasks().count(), 6);
    }

    #[test]
    fn groups_need_plain_commands() {
        let task = |id: &str, command: Option<&str>| TaskInfo {
            task_id: v1::TaskId { value: id.into() },
            command: command.map(|c| v1::CommandInfo {
                value: Some(c.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let plan = plan_group(&[task("a", Some("sleep 1")), task("b", Some("true"))]).unwrap();
        let Member::Process(first) = &plan[0] else {
            panic!("a process")
        };
        assert_eq!(first.argv, ["sh", "-c", "sleep 1"]);
        let err = plan_group(&[task("a", Some("true")), task("b", None)]).unwrap_err();
        assert!(err.contains("'b'"), "{err}");
        let mut docker = task("d", Some("true"));
        let mut info = v1::ContainerInfo::default();
        info.set_type(v1::container_info::Type::Docker);
        docker.container = Some(info);
        assert!(plan_group(&[docker]).unwrap_err().contains("not supported"));
    }
}
