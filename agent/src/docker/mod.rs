//! The Docker containerizer: tasks whose ContainerInfo is of type DOCKER run as containers of
//! the local Docker daemon, driven through the Engine API (bollard).
//!
//! - [`spec`]: TaskInfo -> create request (pure, checked; a bad task is a TASK_ERROR).
//! - [`runtime`]: one supervising tokio task per container: pull when needed, create, start,
//!   stream the logs into the sandbox, wait (re-connecting when the daemon restarts), stop on
//!   a kill, inspect the exit. It reports [`ContainerEvent`]s to the agent core.
//!
//! - [`exec`]: commands run in a task's running container (`docker exec`), the nested
//!   containers of Docker tasks (see [`crate::nested`]).
//!
//! Containers are named `mesos-<containerId>` and labelled with the agent, framework, task
//! and container ids ([`labels`]), so an agent restarted on the same work directory finds its
//! containers again and removes the ones no task owns.
//!
//! ```text
//!  core ──launch(spec)──▶ runtime task ──create/start/wait/logs──▶ dockerd
//!   ▲                          │  ▲
//!   └──── ContainerEvent ◀─────┘  └── KillSwitch (grace) ◀── core
//! ```

pub mod exec;
pub mod runtime;
pub mod spec;

pub use runtime::{
    ContainerEvent, ContainerEventKind, DockerRuntime, KillSwitch, NetworkReady, Outcome,
};
pub use spec::{ContainerSpec, SpecContext, SpecError};

/// Where the task's sandbox is mounted inside its container (as in Mesos).
pub const SANDBOX_IN_CONTAINER: &str = "/mnt/mesos/sandbox";

/// The Docker name of the container of a run.
pub fn container_name(container_id: &str) -> String {
    format!("mesos-{container_id}")
}

/// The labels that tie a container to this agent and its task.
pub mod labels {
    pub const AGENT_ID: &str = "mesos.agent_id";
    pub const FRAMEWORK_ID: &str = "mesos.framework_id";
    pub const TASK_ID: &str = "mesos.task_id";
    pub const CONTAINER_ID: &str = "mesos.container_id";

    pub fn of(
        agent_id: &str,
        framework_id: &str,
        task_id: &str,
        container_id: &str,
    ) -> [(String, String); 4] {
        [
            (AGENT_ID.to_string(), agent_id.to_string()),
            (FRAMEWORK_ID.to_string(), framework_id.to_string()),
            (TASK_ID.to_string(), task_id.to_string()),
            (CONTAINER_ID.to_string(), container_id.to_string()),
        ]
    }

    /// Whether a task may not set this label itself.
    pub fn is_ours(name: &str) -> bool {
        [AGENT_ID, FRAMEWORK_ID, TASK_ID, CONTAINER_ID].contains(&name)
    }
}

/// Whether a task runs as a Docker container: a Docker task, or a task of a group with a
/// Docker image ([`spec::pod`]).
pub fn runs_in_docker(task: &mesos_proto::v1::TaskInfo) -> bool {
    is_docker_task(task) || spec::pod::image(task).is_some()
}

/// Whether a task asks for a Docker container.
pub fn is_docker_task(task: &mesos_proto::v1::TaskInfo) -> bool {
    task.container.as_ref().is_some_and(|c| {
        c.r#type() == mesos_proto::v1::container_info::Type::Docker || c.docker.is_some()
    })
}
