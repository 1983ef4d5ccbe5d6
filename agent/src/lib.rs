//! The Mesos agent: registers with the master, runs command tasks, task groups and custom
//! executors in sandboxes under `--work_dir`, reports their status reliably, and serves
//! `/state` and `/files`.
//!
//! - [`config`]: flags (`Config`, clap + `MESOS_*` env) and their validation.
//! - [`master_link`]: one bidirectional stream to the master, re-opened with backoff, pings
//!   answered, silence detected; gRPC in production, channels in tests.
//! - [`agent`]: the core actor owning frameworks, tasks and the status update manager, and
//!   its `/state` rendering.
//! - [`status_update`]: reliable, ordered, journaled status updates (pure logic).
//! - [`launcher`] and [`supervisor`]: tasks run under a supervisor process (the agent binary
//!   itself, `--internal-supervise`) that records their exit, so they outlive agent restarts.
//! - [`docker`]: the Docker containerizer: tasks with a DOCKER ContainerInfo run as containers
//!   of the Docker daemon (Engine API), supervised by a tokio task each.
//! - [`checkpoint`] and [`paths`]: the Mesos-like work directory, and recovery from it.
//! - [`resources`]: total resources (flag + detection) and their proto/JSON forms.
//! - [`http`] and [`files`]: `/state`, `/flags`, `/health`, `/version`, `/files/*`.
//! - [`operator`] and [`encoding`]: the operator API v1 (`POST /api/v1`, JSON or protobuf),
//!   `/metrics/snapshot`; [`monitor`]: per-container usage from `/proc`
//!   (`/monitor/statistics`, `/containers`).
//! - [`executor_api`]: the v1 executor API (`POST /api/v1/executor`) for custom executors,
//!   whose core side is [`agent::executors`] (re-subscription after an agent restart,
//!   registration timeouts included).
//! - task groups (LAUNCH_GROUP): the core plays Mesos's default executor, each task in a
//!   container nested in the executor's, under the same supervisor as command tasks.
//!
//! ```text
//!   master ◀──gRPC stream──▶ master_link ──LinkEvent──▶ agent core ──▶ launcher ──▶ supervisor ──▶ task
//!                                  ▲                      │  ▲                          │
//!                                  └── StatusUpdate ◀─ status_update (journal)      exit_status file
//!                                                         │  └──── Exit ◀── watcher ◀───┘
//!                                                         ├──▶ docker runtime ──▶ dockerd
//!                                                         │  ◀── ContainerEvent ──┘
//!   HTTP ──▶ http ──Query──▶ agent core          files ──▶ <work_dir>/slaves/...
//! ```
#![forbid(unsafe_code)]

use std::future::Future;

pub mod agent;
pub mod checkpoint;
pub mod config;
pub mod docker;
pub use mesos_common::api as encoding;
pub mod executor_api;
pub mod files;
pub mod handle;
pub mod http;
pub mod launcher;
pub mod master_link;
pub mod monitor;
pub mod operator;
pub mod paths;
pub mod resources;
pub mod status_update;
pub mod supervisor;

pub use config::{Config, ConfigError};
pub use master_link::{GrpcTransport, MasterTransport};

/// The Mesos version this agent reports (`/version`, `/state`, registration).
pub const VERSION: &str = "1.11.0";

/// Why the agent stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the master refused this agent: {0}")]
    Refused(String),
    #[error("flag --docker_socket: {0} (--containerizers lists docker; start the daemon or drop docker from --containerizers)")]
    Docker(#[from] docker::runtime::ConnectError),
}

fn io_error(context: &str) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io {
        context: context.to_string(),
        source,
    }
}

/// Runs an agent that talks gRPC to `--master`, serving HTTP on `listener` (whose port is
/// the one advertised), until `shutdown` resolves. Running tasks keep running after the
/// agent stops; an agent started later on the same `--work_dir` adopts them.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let master = config.master_address()?;
    run_with_transport(listener, config, GrpcTransport::new(master), shutdown).await
}

/// [`run`] with another way to reach the master (tests use
/// [`master_link::memory`]).
pub async fn run_with_transport<T: MasterTransport>(
    listener: tokio::net::TcpListener,
    config: Config,
    transport: T,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    use tokio::sync::{mpsc, watch};

    let mut config = config;
    // Sandbox paths are handed to tasks and to /files clients: they must be absolute.
    config.work_dir = std::path::absolute(&config.work_dir).map_err(io_error("flag --work_dir"))?;
    config.validate()?;
    let launcher = launcher::Launcher::locate(config.launcher_dir.as_deref())
        .map_err(io_error("cannot locate the task supervisor binary"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("cannot read the listener's address"))?
        .port();
    let identity = agent::Identity::new(&config, port);
    let machine = resources::Machine::detect(&config.work_dir)
        .map_err(io_error("cannot detect the machine's resources"))?;
    let given = resources::parse_flag(config.resources.as_deref(), &config.default_role)
        .map_err(ConfigError::Resources)?;
    let total = resources::with_defaults(given, machine, &config.default_role);
    let attributes = resources::parse_attributes(config.attributes.as_deref())
        .map_err(ConfigError::Attributes)?;
    tracing::info!(
        hostname = %identity.hostname,
        endpoint = %identity.endpoint(),
        resources = %total,
        attributes = %attributes,
        work_dir = %config.work_dir.display(),
        "starting agent"
    );

    let (link_tx, link_rx) = mpsc::channel(1024);
    let (exits_tx, exits_rx) = mpsc::unbounded_channel();
    let (containers_tx, containers_rx) = mpsc::unbounded_channel();
    let docker = match config.docker_enabled() {
        true => Some(docker::DockerRuntime::connect(&config.docker_socket, containers_tx).await?),
        false => None,
    };
    let (queries_tx, queries_rx) = mpsc::channel(64);
    let http_state = handle::HttpState {
        queries: queries_tx,
        flags: std::sync::Arc::new(config.flags()),
        sandboxes_root: paths::Layout::new(&config.work_dir).sandboxes_root(),
    };
    let timing = master_link::LinkTiming::new(config.registration_backoff_factor);
    let mut core = agent::Core::new(
        agent::CoreSetup {
            config,
            launcher,
            identity,
            resources: total,
            attributes,
            docker,
        },
        exits_tx,
    );
    core.recover();
    core.remove_orphan_containers().await;

    let (stop_http, mut http_stopped) = watch::channel(false);
    let server =
        axum::serve(listener, http::router(http_state)).with_graceful_shutdown(async move {
            let _ = http_stopped.wait_for(|stop| *stop).await;
        });
    let server = tokio::spawn(async move { server.await });
    let link = tokio::spawn(master_link::run_link(transport, timing, link_tx));

    let result =
        agent::run_core(core, link_rx, exits_rx, containers_rx, queries_rx, shutdown).await;
    link.abort();
    let _ = stop_http.send(true);
    match server.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server failed"),
        Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
        Ok(Ok(())) => {}
    }
    tracing::info!("agent stopped");
    result
}
