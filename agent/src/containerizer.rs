//! One trait over the two ways a task runs: the command containerizer ([`Launcher`]: a
//! process under the agent's supervisor) and Docker ([`DockerRuntime`]: a container of the
//! Docker daemon). The core checks a task with [`Containerizer::plan_task`] before it
//! writes anything for it, then starts it with [`Containerizer::launch_task`]; what that
//! returns is the handle the core keeps on the task: the [`Supervised`] process it waits
//! on, or the [`KillSwitch`] of a container that reports its own progress.
//!
//! Which containerizer runs a task is the core's choice (`--containerizers`, the task's
//! ContainerInfo), and so is what a refusal becomes ([`LaunchError::invalid`]).
//!
//! ```text
//!  core ──plan_task(task)──▶ Launcher: CommandLine      DockerRuntime: ContainerSpec
//!       ──launch_task(plan)─▶ Launcher: Supervised      DockerRuntime: KillSwitch
//! ```

use mesos_proto::v1::TaskInfo;
use tracing::info;

use crate::docker::{self, runtime::Target, ContainerSpec, DockerRuntime, KillSwitch};
use crate::launcher::{self, CommandLine, EnvContext, Launcher, Supervised};
use crate::paths::RunPaths;
use crate::status_update::StreamKey;

/// The task a containerizer plans or launches, and where it runs.
#[derive(Debug, Clone, Copy)]
pub struct TaskContext<'a> {
    pub agent_id: &'a str,
    pub framework_id: &'a str,
    pub container_id: &'a str,
    /// The task's status update stream (a container reports its progress under it).
    pub key: &'a StreamKey,
    pub run: &'a RunPaths,
    /// `ip:port` of the agent's HTTP endpoint, for the task's environment.
    pub agent_endpoint: &'a str,
    pub hostname: &'a str,
    /// The user the task runs as (`--switch_user`); None: as the agent.
    pub user: Option<&'a str>,
}

/// Why a task cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchError {
    /// The task itself is invalid (TASK_ERROR); otherwise running it failed (TASK_FAILED).
    pub invalid: bool,
    pub message: String,
}

impl LaunchError {
    fn failed(message: impl Into<String>) -> LaunchError {
        LaunchError {
            invalid: false,
            message: message.into(),
        }
    }
}

/// A way to run tasks.
pub trait Containerizer {
    /// How it runs a task, as [`Containerizer::plan_task`] worked it out.
    type Plan;
    /// The handle on a launched task.
    type Running;

    /// Checks the task and works out how to run it; nothing is started or written.
    fn plan_task(&self, task: &TaskInfo, ctx: &TaskContext<'_>) -> Result<Self::Plan, LaunchError>;

    /// Prepares the task's sandbox and starts the task.
    fn launch_task(
        &self,
        plan: Self::Plan,
        task: &TaskInfo,
        ctx: &TaskContext<'_>,
    ) -> Result<Self::Running, LaunchError>;
}

fn prepare_sandbox(run: &RunPaths) -> Result<(), LaunchError> {
    launcher::prepare_sandbox(run).map_err(|e| {
        LaunchError::failed(format!(
            "Failed to create sandbox {}: {e}",
            run.sandbox.display()
        ))
    })
}

/// Command tasks: the task's command, run by the supervisor in the task's sandbox.
impl Containerizer for Launcher {
    type Plan = CommandLine;
    type Running = Supervised;

    fn plan_task(&self, task: &TaskInfo, _: &TaskContext<'_>) -> Result<CommandLine, LaunchError> {
        let command = task
            .command
            .as_ref()
            .ok_or_else(|| LaunchError::failed("Task has no command"))?;
        CommandLine::from_command(command).map_err(LaunchError::failed)
    }

    fn launch_task(
        &self,
        command: CommandLine,
        task: &TaskInfo,
        ctx: &TaskContext<'_>,
    ) -> Result<Supervised, LaunchError> {
        prepare_sandbox(ctx.run)?;
        let env_ctx = EnvContext {
            framework_id: ctx.framework_id,
            executor_id: &task.task_id.value,
            sandbox: &ctx.run.sandbox,
            agent_endpoint: ctx.agent_endpoint,
            hostname: ctx.hostname,
        };
        let env = launcher::task_environment(std::env::vars(), task, &env_ctx);
        self.launch(ctx.run, &command, &env, ctx.user)
            .map_err(|e| LaunchError::failed(format!("Failed to launch task: {e}")))
    }
}

/// Docker tasks: a container built from the task's DockerInfo; its supervising task
/// reports the container's progress as `ContainerEvent`s.
impl Containerizer for DockerRuntime {
    type Plan = Box<ContainerSpec>;
    type Running = KillSwitch;

    fn plan_task(
        &self,
        task: &TaskInfo,
        ctx: &TaskContext<'_>,
    ) -> Result<Box<ContainerSpec>, LaunchError> {
        let spec_ctx = docker::SpecContext {
            agent_id: ctx.agent_id,
            framework_id: ctx.framework_id,
            container_id: ctx.container_id,
            sandbox: &ctx.run.sandbox,
            agent_endpoint: ctx.agent_endpoint,
            hostname: ctx.hostname,
            guards: &self.guards,
        };
        docker::spec::build(task, &spec_ctx)
            .map(Box::new)
            .map_err(|e| LaunchError {
                invalid: true,
                message: e.to_string(),
            })
    }

    fn launch_task(
        &self,
        spec: Box<ContainerSpec>,
        _: &TaskInfo,
        ctx: &TaskContext<'_>,
    ) -> Result<KillSwitch, LaunchError> {
        prepare_sandbox(ctx.run)?;
        // As Mesos: the sandbox is the user's, the container runs as its image's user
        // (no `docker run --user`).
        crate::users::hand_over(&ctx.run.sandbox, ctx.user);
        info!(container = %spec.name, image = %spec.image.repository, sandbox = %ctx.run.sandbox.display(), "launching container");
        Ok(self.launch(
            *spec,
            Target {
                key: ctx.key.clone(),
                container_id: ctx.container_id.to_string(),
                sandbox: ctx.run.sandbox.clone(),
            },
        ))
    }
}
