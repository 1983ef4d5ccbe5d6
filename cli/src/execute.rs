//! `mesos-execute`: runs one task through a throwaway framework and reports its updates.
//!
//! The flags describe a TaskInfo (or give one as JSON). The framework subscribes, takes
//! the first offer the task fits in, launches it, prints every status update, kills the
//! task after `--kill_after`, and tears itself down once the task is terminal.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{ArgAction, Parser};
use mesos_common::flags::{bool_arg, duration_arg};
use mesos_common::resources::{Resource, Resources, Scalar, Value, DEFAULT_ROLE};
use mesos_common::wire::{resources_from_proto, resources_to_proto, WireError};
use mesos_proto::v1::container_info::{DockerInfo, MesosInfo};
use mesos_proto::v1::environment::Variable;
use mesos_proto::v1::framework_info::{capability, Capability};
use mesos_proto::v1::scheduler::{event, Event};
use mesos_proto::v1::{
    image, AgentId, CommandInfo, ContainerInfo, Environment, FrameworkInfo, Image, Offer, TaskId,
    TaskInfo, TaskState, TaskStatus,
};
use tokio::time::Instant;

use crate::scheduler::{
    calls, detector_for, ContentType, Credential, DetectorError, Scheduler, SchedulerConfig,
    SchedulerError, SchedulerEvent,
};

/// Framework name Mesos's `mesos-execute` registers with.
pub const DEFAULT_FRAMEWORK_NAME: &str = "mesos-execute instance";

/// How long offers that do not fit stay away: short, since a busy agent frees up.
const REFUSE_UNFIT_SECONDS: f64 = 1.0;
/// After the launch no offer is wanted any more.
const REFUSE_AFTER_LAUNCH_SECONDS: f64 = 3600.0;

/// Flags of `mesos-execute`, named as Mesos names them; each may also come from
/// `MESOS_<FLAG>`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mesos-execute",
    version,
    about = "Launches one task on a Mesos cluster and waits for it to finish"
)]
pub struct Flags {
    /// Mesos master (e.g., IP:PORT).
    #[arg(long, env = "MESOS_MASTER")]
    pub master: String,

    /// Name of the task (also its id).
    #[arg(long, env = "MESOS_NAME")]
    pub name: Option<String>,

    /// Command to launch.
    #[arg(long, env = "MESOS_COMMAND")]
    pub command: Option<String>,

    /// Run the command through a shell.
    #[arg(long, env = "MESOS_SHELL", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", value_parser = bool_arg, action = ArgAction::Set)]
    pub shell: bool,

    /// Resources for the command.
    #[arg(long, env = "MESOS_RESOURCES", default_value = "cpus:1;mem:128")]
    pub resources: String,

    /// Environment variables of the command, as a JSON object: {"name": "value"}.
    #[arg(long = "env", env = "MESOS_ENV")]
    pub env: Option<String>,

    /// Role to subscribe with.
    #[arg(long, env = "MESOS_ROLE", default_value = DEFAULT_ROLE)]
    pub role: String,

    /// Kill the task this long after it started running (e.g. 10secs, 2mins).
    #[arg(long = "kill_after", env = "MESOS_KILL_AFTER", value_parser = duration_arg)]
    pub kill_after: Option<Duration>,

    /// A TaskInfo as JSON, or the path of a file holding one (its agent_id need not be set).
    #[arg(long, env = "MESOS_TASK")]
    pub task: Option<String>,

    /// Encoding of scheduler API messages: protobuf or json.
    #[arg(
        long = "content_type",
        env = "MESOS_CONTENT_TYPE",
        default_value = "protobuf"
    )]
    pub content_type: ContentType,

    /// Enable checkpointing for the framework.
    #[arg(long, env = "MESOS_CHECKPOINT", default_value = "false", num_args = 0..=1,
          default_missing_value = "true", value_parser = bool_arg, action = ArgAction::Set)]
    pub checkpoint: bool,

    /// Enable partition awareness for the framework.
    #[arg(long = "partition_aware", env = "MESOS_PARTITION_AWARE", default_value = "true", num_args = 0..=1,
          default_missing_value = "true", value_parser = bool_arg, action = ArgAction::Set)]
    pub partition_aware: bool,

    /// Principal of the framework.
    #[arg(long, env = "MESOS_PRINCIPAL")]
    pub principal: Option<String>,

    /// Secret of the principal: with `--principal`, sent as HTTP Basic on every scheduler
    /// call (for a master with `--authenticate_http_frameworks`).
    #[arg(long, env = "MESOS_SECRET")]
    pub secret: Option<String>,

    /// Name the framework registers with.
    #[arg(long = "framework_name", env = "MESOS_FRAMEWORK_NAME", default_value = DEFAULT_FRAMEWORK_NAME)]
    pub framework_name: String,

    /// Docker image to run the command in (<image>:<tag>).
    #[arg(long = "docker_image", env = "MESOS_DOCKER_IMAGE")]
    pub docker_image: Option<String>,

    /// Containerizer to use: mesos or docker.
    #[arg(long, env = "MESOS_CONTAINERIZER", default_value = "mesos")]
    pub containerizer: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The flags do not describe a task; the message says what is wrong.
    #[error("{0}")]
    Usage(String),
    #[error("Failed to parse resources '{text}': {reason}")]
    Resources { text: String, reason: String },
    #[error("invalid --task: {0}")]
    Task(String),
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
    #[error(transparent)]
    Scheduler(#[from] SchedulerError),
    #[error("Received an ERROR event: {0}")]
    ErrorEvent(String),
    /// The master ended the subscription for good (it refused the framework).
    #[error("{0}")]
    Refused(String),
    #[error("the scheduler library stopped")]
    Stopped,
}

impl Flags {
    /// The TaskInfo to launch, without an agent id. With `--task` it is that TaskInfo;
    /// otherwise it is built from `--name`, `--command`, `--resources` and friends.
    pub fn task_info(&self) -> Result<TaskInfo, ExecuteError> {
        match &self.task {
            Some(value) => self.task_from_json(value),
            None => self.task_from_flags(),
        }
    }

    fn task_from_json(&self, value: &str) -> Result<TaskInfo, ExecuteError> {
        if self.name.is_some()
            || self.command.is_some()
            || self.env.is_some()
            || self.docker_image.is_some()
        {
            return Err(ExecuteError::Usage(
                "'--name', '--command', '--env' and '--docker_image' cannot be combined with '--task'"
                    .into(),
            ));
        }
        let text = if value.trim_start().starts_with('{') {
            value.to_string()
        } else {
            let path = value.strip_prefix("file://").unwrap_or(value);
            std::fs::read_to_string(path)
                .map_err(|e| ExecuteError::Task(format!("cannot read '{path}': {e}")))?
        };
        let mut task: TaskInfo = mesos_proto::json::from_json_str(&text)
            .map_err(|e| ExecuteError::Task(e.to_string()))?;
        if task.name.is_empty() {
            return Err(ExecuteError::Task("the task has no name".into()));
        }
        if task.task_id.value.is_empty() {
            return Err(ExecuteError::Task("the task has no task_id".into()));
        }
        // The agent is chosen from the offer.
        task.agent_id = AgentId::default();
        Ok(task)
    }

    fn task_from_flags(&self) -> Result<TaskInfo, ExecuteError> {
        let name = self
            .name
            .clone()
            .ok_or_else(|| ExecuteError::Usage("Missing required option --name".into()))?;
        let mut command = CommandInfo {
            shell: Some(self.shell),
            ..Default::default()
        };
        if self.shell {
            let value = self
                .command
                .clone()
                .ok_or_else(|| ExecuteError::Usage("Missing required option --command".into()))?;
            command.value = Some(value);
        }
        command.environment = self.environment()?;
        let resources = Resources::parse(&self.resources).map_err(|e| ExecuteError::Resources {
            text: self.resources.clone(),
            reason: e.to_string(),
        })?;
        Ok(TaskInfo {
            name: name.clone(),
            task_id: TaskId { value: name },
            resources: resources_to_proto(&resources, None),
            command: Some(command),
            container: self.container_info()?,
            ..Default::default()
        })
    }

    fn environment(&self) -> Result<Option<Environment>, ExecuteError> {
        let Some(text) = &self.env else {
            return Ok(None);
        };
        let bad = |reason: String| ExecuteError::Usage(format!("Failed to parse --env: {reason}"));
        let map: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let variables = map
            .into_iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(value) => Ok(Variable {
                    name,
                    value: Some(value),
                    ..Default::default()
                }),
                other => Err(bad(format!(
                    "the value of '{name}' is not a string: {other}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Environment { variables }))
    }

    /// The container the task runs in: none for a plain command under the Mesos
    /// containerizer, a MESOS container with a Docker image, or a DOCKER container.
    pub fn container_info(&self) -> Result<Option<ContainerInfo>, ExecuteError> {
        match self.containerizer.as_str() {
            "mesos" => Ok(self.docker_image.as_ref().map(|name| {
                let mut image = Image {
                    docker: Some(image::Docker {
                        name: name.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                image.set_type(image::Type::Docker);
                let mut container = ContainerInfo {
                    mesos: Some(MesosInfo { image: Some(image) }),
                    ..Default::default()
                };
                container.set_type(mesos_proto::v1::container_info::Type::Mesos);
                container
            })),
            "docker" => {
                let image = self.docker_image.clone().ok_or_else(|| {
                    ExecuteError::Usage("The docker containerizer needs --docker_image".into())
                })?;
                let mut container = ContainerInfo {
                    docker: Some(DockerInfo {
                        image,
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                container.set_type(mesos_proto::v1::container_info::Type::Docker);
                Ok(Some(container))
            }
            other => Err(ExecuteError::Usage(format!(
                "Unsupported containerizer: {other}"
            ))),
        }
    }

    /// `--principal` with `--secret`, as Mesos builds its Credential. A secret without a
    /// principal is a mistake worth stopping for (Mesos ignores it).
    pub fn credential(&self) -> Result<Option<Credential>, ExecuteError> {
        match (&self.principal, &self.secret) {
            (Some(principal), Some(secret)) => Ok(Some(Credential::new(principal, secret))),
            (None, Some(_)) => Err(ExecuteError::Usage("'--secret' needs '--principal'".into())),
            _ => Ok(None),
        }
    }

    pub fn framework_info(&self, user: &str) -> FrameworkInfo {
        let mut kinds = vec![
            capability::Type::ReservationRefinement,
            capability::Type::TaskKillingState,
            capability::Type::RevocableResources,
        ];
        if self.partition_aware {
            kinds.push(capability::Type::PartitionAware);
        }
        // Mesos's mesos-execute subscribes with the single (deprecated) `role` field.
        #[allow(deprecated)]
        FrameworkInfo {
            user: user.to_string(),
            name: self.framework_name.clone(),
            role: Some(self.role.clone()),
            checkpoint: Some(self.checkpoint),
            principal: self.principal.clone(),
            capabilities: kinds
                .into_iter()
                .map(|kind| Capability {
                    r#type: Some(kind as i32),
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// The name of the user running this process, which the task runs as.
pub fn current_user() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
}

/// Picks the resources for `wanted` out of `offered`, taking those reserved to `role`
/// before unreserved ones, as Mesos's `mesos-execute` does. A scalar may be split between
/// the two; ranges and sets come whole from one of them. `None` if they do not fit.
pub fn find_resources(offered: &Resources, wanted: &Resources, role: &str) -> Option<Resources> {
    let mut available = offered.clone();
    let mut found = Resources::new();
    for w in wanted.flatten().iter() {
        let parts: Resources = match &w.value {
            Value::Scalar(amount) => {
                let reserved = if role == DEFAULT_ROLE {
                    Scalar::ZERO
                } else {
                    let held = available
                        .filter(|r| r.name == w.name && r.role == role)
                        .scalar(&w.name)
                        .unwrap_or(0.0);
                    Scalar::new(held).min(*amount)
                };
                [
                    Resource::new(w.name.clone(), Value::Scalar(reserved)).reserved(role),
                    Resource::new(w.name.clone(), Value::Scalar(*amount - reserved)),
                ]
                .into_iter()
                .collect()
            }
            _ => {
                let whole = [w.clone().reserved(role), w.clone()]
                    .into_iter()
                    .find(|candidate| available.contains_resource(candidate))?;
                std::iter::once(whole).collect()
            }
        };
        available.subtract(&parts).ok()?;
        found += &parts;
    }
    Some(found)
}

/// The task placed on `offer`, or `None` if the offer is too small.
pub fn place(task: &TaskInfo, offer: &Offer, role: &str) -> Result<Option<TaskInfo>, WireError> {
    let wanted = resources_from_proto(&task.resources)?;
    let offered = resources_from_proto(&offer.resources)?;
    let Some(found) = find_resources(&offered, &wanted, role) else {
        return Ok(None);
    };
    // Allocated resources carry the role they were offered to; echo it back.
    let allocation_role = offer
        .resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref()?.role.clone());
    let mut placed = task.clone();
    placed.agent_id = offer.agent_id.clone();
    placed.resources = resources_to_proto(&found, allocation_role.as_deref());
    Ok(Some(placed))
}

/// The lines `mesos-execute` prints for a status update, worded as Mesos's.
pub fn describe_update(status: &TaskStatus) -> String {
    let task_id = &status.task_id.value;
    let mut out = format!(
        "Received status update {} for task '{task_id}'\n",
        status.state().as_str_name()
    );
    if let Some(message) = &status.message {
        out.push_str(&format!("  message: '{message}'\n"));
    }
    if status.source.is_some() {
        out.push_str(&format!("  source: {}\n", status.source().as_str_name()));
    }
    if status.reason.is_some() {
        out.push_str(&format!("  reason: {}\n", status.reason().as_str_name()));
    }
    if let Some(healthy) = status.healthy {
        // Mesos streams a C++ bool, which prints as 1 or 0.
        out.push_str(&format!("  healthy?: {}\n", u8::from(healthy)));
    }
    if let Some(limitation) = &status.limitation {
        if let Ok(resources) = resources_from_proto(&limitation.resources) {
            if !resources.is_empty() {
                out.push_str(&format!("  resource limit violation: {resources}\n"));
            }
        }
    }
    out
}

/// What became of the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The task reached this terminal state.
    Terminal(TaskState),
    /// Interrupted (Ctrl-C) before the task ended.
    Interrupted,
}

impl Outcome {
    /// 0 only for a task that finished.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Terminal(TaskState::TaskFinished) => 0,
            Outcome::Terminal(_) => 1,
            Outcome::Interrupted => 130,
        }
    }
}

/// Runs the framework until the task is terminal, then tears it down.
pub async fn run(flags: Flags) -> Result<Outcome, ExecuteError> {
    let task = flags.task_info()?;
    let user = current_user()
        .ok_or_else(|| ExecuteError::Usage("Failed to get the current user name".into()))?;
    let mut config = SchedulerConfig::new(flags.framework_info(&user));
    config.content_type = flags.content_type;
    if let Some(credential) = flags.credential()? {
        config = config.with_credential(credential);
    }
    let (scheduler, mut events) = Scheduler::start(detector_for(&flags.master)?, config);

    let mut runner = Runner {
        scheduler: scheduler.clone(),
        task,
        role: flags.role.clone(),
        kill_after: flags.kill_after,
        launched: None,
        kill_at: None,
        suppressed: false,
        disconnected: None,
    };
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let outcome = loop {
        let kill_at = runner.kill_at;
        let step = tokio::select! {
            event = events.next() => match event {
                Some(event) => runner.handle(event).await,
                // The library ends the stream after its last Disconnected when the
                // master refused the framework: that reason is why we stop.
                None => Err(match runner.disconnected.take() {
                    Some(reason) => ExecuteError::Refused(reason),
                    None => ExecuteError::Stopped,
                }),
            },
            _ = sleep_until(kill_at) => runner.kill().await,
            _ = &mut interrupted => Ok(Some(Outcome::Interrupted)),
        };
        match step {
            Ok(Some(outcome)) => break Ok(outcome),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
    };
    if scheduler.is_subscribed() {
        if let Err(e) = scheduler.teardown().await {
            tracing::warn!("failed to tear down the framework: {e}");
        }
    }
    scheduler.stop();
    outcome
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The framework's state between events.
struct Runner {
    scheduler: Scheduler,
    task: TaskInfo,
    role: String,
    kill_after: Option<Duration>,
    /// Task id and agent once launched.
    launched: Option<(TaskId, AgentId)>,
    kill_at: Option<Instant>,
    suppressed: bool,
    /// Why the last subscription ended, until the next one is established.
    disconnected: Option<String>,
}

impl Runner {
    async fn handle(&mut self, event: SchedulerEvent) -> Result<Option<Outcome>, ExecuteError> {
        match event {
            SchedulerEvent::Connected { framework_id, .. } => {
                println!("Subscribed with ID {}", framework_id.value);
                self.disconnected = None;
                Ok(None)
            }
            SchedulerEvent::Disconnected { reason } => {
                tracing::warn!("disconnected from the master: {reason}");
                self.disconnected = Some(reason);
                Ok(None)
            }
            SchedulerEvent::Event(event) => self.handle_event(*event).await,
        }
    }

    async fn handle_event(&mut self, event: Event) -> Result<Option<Outcome>, ExecuteError> {
        match event.r#type() {
            event::Type::Offers => {
                let offers = event.offers.map(|o| o.offers).unwrap_or_default();
                for offer in offers {
                    self.offer(offer).await?;
                }
                Ok(None)
            }
            event::Type::Update => {
                let status = event.update.map(|u| u.status).unwrap_or_default();
                self.update(status).await
            }
            event::Type::Error => {
                let message = event.error.map(|e| e.message).unwrap_or_default();
                Err(ExecuteError::ErrorEvent(message))
            }
            _ => Ok(None),
        }
    }

    async fn offer(&mut self, offer: Offer) -> Result<(), ExecuteError> {
        let offer_id = offer.id.clone();
        if self.launched.is_none() {
            if let Some(task) = place(&self.task, &offer, &self.role)? {
                let agent_id = offer.agent_id.clone();
                let task_id = task.task_id.clone();
                self.scheduler.launch(offer_id, vec![task], None).await?;
                println!(
                    "Submitted task '{}' to agent '{}'",
                    self.task.name, agent_id.value
                );
                self.launched = Some((task_id, agent_id));
                return Ok(());
            }
        }
        let refuse = if self.launched.is_some() {
            REFUSE_AFTER_LAUNCH_SECONDS
        } else {
            REFUSE_UNFIT_SECONDS
        };
        if let Err(e) = self
            .scheduler
            .decline(vec![offer_id], Some(calls::refuse_for(refuse)))
            .await
        {
            tracing::warn!("failed to decline an offer: {e}");
        }
        if self.launched.is_some() && !self.suppressed {
            self.suppressed = self.scheduler.suppress(vec![]).await.is_ok();
        }
        Ok(())
    }

    async fn update(&mut self, status: TaskStatus) -> Result<Option<Outcome>, ExecuteError> {
        print!("{}", describe_update(&status));
        if let Err(e) = self.scheduler.acknowledge_update(&status).await {
            tracing::warn!("failed to acknowledge a status update: {e}");
        }
        let state = status.state();
        if state == TaskState::TaskRunning && self.kill_at.is_none() {
            if let Some(after) = self.kill_after {
                self.kill_at = Some(Instant::now() + after);
            }
        }
        Ok(state.is_terminal().then_some(Outcome::Terminal(state)))
    }

    async fn kill(&mut self) -> Result<Option<Outcome>, ExecuteError> {
        // Once asked, never again: the deadline must not fire in a loop.
        self.kill_at = None;
        self.kill_after = None;
        if let Some((task_id, agent_id)) = self.launched.clone() {
            println!(
                "Asked to kill task '{}' on agent '{}'",
                task_id.value, agent_id.value
            );
            self.scheduler.kill(task_id, Some(agent_id)).await?;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::{OfferId, TaskResourceLimitation};

    /// Parses as the binary does, Mesos spellings (`--no-flag`) included.
    fn flags(args: &[&str]) -> Flags {
        let argv = ["mesos-execute", "--master=127.0.0.1:5050"]
            .iter()
            .chain(args)
            .map(|s| s.to_string());
        Flags::try_parse_from(mesos_common::flags::normalize_args(argv).unwrap()).unwrap()
    }

    fn scalar(task: &TaskInfo, name: &str) -> f64 {
        resources_from_proto(&task.resources)
            .unwrap()
            .scalar(name)
            .unwrap_or(0.0)
    }

    #[test]
    fn defaults_match_mesos() {
        let f = flags(&["--name=t", "--command=true"]);
        assert!(f.shell);
        assert_eq!(f.resources, "cpus:1;mem:128");
        assert_eq!(f.role, "*");
        assert_eq!(f.content_type, ContentType::Protobuf);
        assert!(!f.checkpoint);
        assert!(f.partition_aware);
        assert_eq!(f.framework_name, DEFAULT_FRAMEWORK_NAME);
        assert_eq!(f.containerizer, "mesos");
    }

    #[test]
    fn builds_a_shell_task_from_flags() {
        let f = flags(&[
            "--name=sleeper",
            "--command=sleep 1",
            "--resources=cpus:0.5;mem:64",
            r#"--env={"A":"1","B":"two"}"#,
            "--kill_after=2secs",
            "--content_type=json",
        ]);
        assert_eq!(f.kill_after, Some(Duration::from_secs(2)));
        assert_eq!(f.content_type, ContentType::Json);
        let task = f.task_info().unwrap();
        assert_eq!(task.name, "sleeper");
        assert_eq!(task.task_id.value, "sleeper");
        assert!(task.agent_id.value.is_empty());
        let command = task.command.as_ref().unwrap();
        assert_eq!(command.shell, Some(true));
        assert_eq!(command.value.as_deref(), Some("sleep 1"));
        let env = &command.environment.as_ref().unwrap().variables;
        assert_eq!(env.len(), 2);
        assert_eq!(
            (env[1].name.as_str(), env[1].value.as_deref()),
            ("B", Some("two"))
        );
        assert_eq!(scalar(&task, "cpus"), 0.5);
        assert_eq!(scalar(&task, "mem"), 64.0);
        assert!(task.container.is_none());
    }

    #[test]
    fn usage_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["--command=true"], "--name"),
            (&["--name=t"], "--command"),
            (
                &["--name=t", "--command=x", "--resources=cpus:x"],
                "Failed to parse resources",
            ),
            (&["--name=t", "--command=x", "--env=[1]"], "--env"),
            (
                &["--name=t", "--command=x", r#"--env={"A":1}"#],
                "not a string",
            ),
            (
                &["--name=t", "--command=x", "--containerizer=docker"],
                "--docker_image",
            ),
            (
                &["--name=t", "--command=x", "--containerizer=lxc"],
                "Unsupported containerizer",
            ),
            (
                &["--name=t", r#"--task={"name":"t"}"#],
                "cannot be combined",
            ),
            (&[r#"--task={"name":"t"}"#], "task_id"),
        ];
        for (args, want) in cases {
            let err = flags(args).task_info().unwrap_err().to_string();
            assert!(err.contains(want), "{args:?}: {err}");
        }
        assert!(
            Flags::try_parse_from(["mesos-execute", "--name=t"]).is_err(),
            "--master"
        );
        assert!(
            Flags::try_parse_from(["mesos-execute", "--master=m:5050", "--content_type=xml"])
                .is_err()
        );
    }

    #[test]
    fn non_shell_tasks_need_no_command() {
        let task = flags(&["--name=t", "--shell=false"]).task_info().unwrap();
        let command = task.command.unwrap();
        assert_eq!(command.shell, Some(false));
        assert!(command.value.is_none());
    }

    #[test]
    fn task_from_json_and_from_a_file() {
        let json = r#"{"name":"web","task_id":{"value":"web-1"},"agent_id":{"value":""},
            "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}],
            "command":{"value":"sleep 1000"}}"#;
        let task = flags(&[&format!("--task={json}")]).task_info().unwrap();
        assert_eq!(task.name, "web");
        assert_eq!(task.task_id.value, "web-1");
        assert!(task.agent_id.value.is_empty());
        assert_eq!(scalar(&task, "cpus"), 0.1);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task.json");
        std::fs::write(&path, json).unwrap();
        for value in [
            path.display().to_string(),
            format!("file://{}", path.display()),
        ] {
            let from_file = flags(&[&format!("--task={value}")]).task_info().unwrap();
            assert_eq!(from_file, task);
        }
        let missing = flags(&["--task=/does/not/exist"]).task_info().unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }

    #[test]
    fn docker_image_goes_into_the_container() {
        let mesos = flags(&["--name=t", "--command=x", "--docker_image=busybox:latest"])
            .task_info()
            .unwrap()
            .container
            .unwrap();
        assert_eq!(mesos.r#type(), mesos_proto::v1::container_info::Type::Mesos);
        let image = mesos.mesos.unwrap().image.unwrap();
        assert_eq!(image.r#type(), image::Type::Docker);
        assert_eq!(image.docker.unwrap().name, "busybox:latest");

        let docker = flags(&[
            "--name=t",
            "--command=x",
            "--docker_image=busybox",
            "--containerizer=docker",
        ])
        .task_info()
        .unwrap()
        .container
        .unwrap();
        assert_eq!(
            docker.r#type(),
            mesos_proto::v1::container_info::Type::Docker
        );
        assert_eq!(docker.docker.unwrap().image, "busybox");
    }

    #[test]
    fn framework_info_from_flags() {
        let f = flags(&[
            "--name=t",
            "--command=x",
            "--role=web",
            "--checkpoint",
            "--no-partition_aware",
            "--principal=ops",
            "--framework_name=mine",
        ]);
        let info = f.framework_info("alice");
        assert_eq!(info.user, "alice");
        assert_eq!(info.name, "mine");
        #[allow(deprecated)]
        let role = info.role.as_deref();
        assert_eq!(role, Some("web"));
        assert_eq!(info.checkpoint, Some(true));
        assert_eq!(info.principal.as_deref(), Some("ops"));
        assert_eq!(f.credential().unwrap(), None, "no secret, no credential");
        let with_secret = flags(&["--principal=ops", "--secret=s3cret"]);
        let credential = with_secret.credential().unwrap().unwrap();
        assert_eq!(
            (credential.principal.as_str(), credential.secret()),
            ("ops", "s3cret")
        );
        assert!(matches!(
            flags(&["--secret=s3cret"]).credential(),
            Err(ExecuteError::Usage(_))
        ));
        let kinds: Vec<_> = info.capabilities.iter().map(|c| c.r#type()).collect();
        assert!(kinds.contains(&capability::Type::TaskKillingState));
        assert!(!kinds.contains(&capability::Type::PartitionAware));
        assert!(flags(&[])
            .framework_info("bob")
            .capabilities
            .iter()
            .any(|c| c.r#type() == capability::Type::PartitionAware));
    }

    #[test]
    fn no_flag_spelling_reaches_clap_through_prepare() {
        let args = mesos_common::flags::normalize_args(
            [
                "mesos-execute",
                "--master=m:5050",
                "--no-shell",
                "--checkpoint",
            ]
            .map(String::from),
        )
        .unwrap();
        let f = Flags::try_parse_from(args).unwrap();
        assert!(!f.shell);
        assert!(f.checkpoint);
    }

    fn offer(resources: &str) -> Offer {
        Offer {
            id: OfferId { value: "O1".into() },
            agent_id: AgentId { value: "S1".into() },
            hostname: "h".into(),
            resources: resources_to_proto(&Resources::parse(resources).unwrap(), Some("*")),
            ..Default::default()
        }
    }

    #[test]
    fn places_a_task_only_where_it_fits() {
        let task = flags(&["--name=t", "--command=x", "--resources=cpus:1;mem:128"])
            .task_info()
            .unwrap();
        assert!(place(&task, &offer("cpus:0.5;mem:1024"), "*")
            .unwrap()
            .is_none());
        let placed = place(&task, &offer("cpus:4;mem:1024;ports:[31000-32000]"), "*")
            .unwrap()
            .unwrap();
        assert_eq!(placed.agent_id.value, "S1");
        assert_eq!(
            resources_from_proto(&placed.resources).unwrap(),
            Resources::parse("cpus:1;mem:128").unwrap()
        );
        assert!(placed.resources.iter().all(|r| r
            .allocation_info
            .as_ref()
            .unwrap()
            .role
            .as_deref()
            == Some("*")));
    }

    #[test]
    fn takes_reserved_resources_first() {
        let offered = Resources::parse("cpus(web):0.5;cpus:4;mem(web):512;mem:512").unwrap();
        let wanted = Resources::parse("cpus:1;mem:256").unwrap();
        let found = find_resources(&offered, &wanted, "web").unwrap();
        assert_eq!(
            found,
            Resources::parse("cpus(web):0.5;cpus:0.5;mem(web):256").unwrap()
        );
        assert_eq!(
            find_resources(&offered, &wanted, "*").unwrap(),
            Resources::parse("cpus:1;mem:256").unwrap()
        );
        let ports = Resources::parse("ports:[31000-31010]").unwrap();
        assert!(find_resources(
            &ports,
            &Resources::parse("ports:[31005-31006]").unwrap(),
            "*"
        )
        .is_some());
        assert!(find_resources(&ports, &Resources::parse("ports:[1-2]").unwrap(), "*").is_none());
    }

    #[test]
    fn describes_updates_as_mesos_does() {
        let mut status = TaskStatus {
            task_id: TaskId { value: "t".into() },
            ..Default::default()
        };
        status.set_state(TaskState::TaskRunning);
        assert_eq!(
            describe_update(&status),
            "Received status update TASK_RUNNING for task 't'\n"
        );
        status.set_state(TaskState::TaskFailed);
        status.message = Some("Command exited with status 1".into());
        status.set_source(mesos_proto::v1::task_status::Source::Executor);
        status.set_reason(mesos_proto::v1::task_status::Reason::CommandExecutorFailed);
        status.healthy = Some(false);
        status.limitation = Some(Box::new(TaskResourceLimitation {
            resources: resources_to_proto(&Resources::parse("mem:64").unwrap(), None),
        }));
        assert_eq!(
            describe_update(&status),
            "Received status update TASK_FAILED for task 't'\n\
             \x20 message: 'Command exited with status 1'\n\
             \x20 source: SOURCE_EXECUTOR\n\
             \x20 reason: REASON_COMMAND_EXECUTOR_FAILED\n\
             \x20 healthy?: 0\n\
             \x20 resource limit violation: mem:64\n"
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Outcome::Terminal(TaskState::TaskFinished).exit_code(), 0);
        for state in [
            TaskState::TaskFailed,
            TaskState::TaskKilled,
            TaskState::TaskLost,
        ] {
            assert!(state.is_terminal());
            assert_eq!(Outcome::Terminal(state).exit_code(), 1);
        }
        for state in [
            TaskState::TaskRunning,
            TaskState::TaskKilling,
            TaskState::TaskUnreachable,
            TaskState::TaskStaging,
        ] {
            assert!(!state.is_terminal());
        }
    }
}
