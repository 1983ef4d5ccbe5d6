//! The Mesos agent: registers with the master, runs command tasks, task groups and custom
//! executors in sandboxes under `--work_dir`, reports their status reliably, and serves
//! `/state` and `/files`.
//!
//! # Layout
//!
//! Five layers. A module names (`use crate::...`) modules of its own layer and of the
//! layers below, never above, and no modules name each other in a cycle (`layers_hold`
//! below checks both).
//!
//! ```text
//!  edges           http: routes every endpoint
//!                    ▼
//!                  operator (POST /api/v1, /monitor, /containers)   executor_api (/api/v1/executor)
//!                    ▼
//!                  nested_api (the container calls of /api/v1: task exec sessions)
//!                    ▼
//!                  files (/files/*)   handle (HttpState: the core's query queue)
//!                  master_link (gRPC stream to the master, re-opened with backoff)
//!                  security (the authentication flags: realms, credential, token key)
//!                    ▼
//!  views           monitor (per-container usage from /proc)
//!                    ▼
//!  core            agent: Core + link, launch, tasks, frameworks, recovery, executors,
//!                  task_groups; state and views (what /state and the operator API read)
//!                    ▼
//!  containerizers  containerizer (the trait) over launcher (command tasks under a
//!                  supervisor) and docker (containers through the Engine API);
//!                  health_check (TaskInfo.health_check run next to the task);
//!                  nested (processes run beside a task: exec sessions)
//!                    ▼
//!  foundations     config  paths  resources  checkpoint  status_update  supervisor  users
//!                  authorization (what --acls let a principal see and read)
//! ```
//!
//! - Foundations: [`config`] (flags, clap + `MESOS_*` env); [`paths`] and [`checkpoint`]
//!   (the Mesos-like work directory, and recovery from it); [`resources`] (total
//!   resources, flag + detection); [`status_update`] (reliable, ordered, journaled status
//!   updates, pure logic); [`supervisor`] (the process, the agent binary itself with
//!   `--internal-supervise`, that runs a task and records its exit, so that tasks outlive
//!   agent restarts); [`users`] (`--switch_user`: which user a task runs as).
//! - Containerizers, behind one trait ([`containerizer::Containerizer`]: plan a task, then
//!   launch it): [`launcher`] starts command tasks (and executors) under the supervisor;
//!   [`docker`] runs tasks with a DOCKER ContainerInfo as containers of the Docker daemon,
//!   supervised by a tokio task each. [`health_check`] runs a task's health check as
//!   Mesos's executors do (a pure checker and a tokio runner per task); [`nested`] runs
//!   commands beside a running task (a host process in its sandbox, or a `docker exec`).
//! - Core: [`agent`], the actor owning frameworks, tasks, executors (the core side of the
//!   v1 executor API, [`agent::executors`]) and the status update manager; task groups
//!   (LAUNCH_GROUP) run under it as Mesos's default executor would run them.
//! - Views: [`monitor`] measures the containers the core lists.
//! - Edges: [`master_link`] (gRPC in production, channels in tests), [`http`] with
//!   [`files`], [`operator`] (the operator API v1, JSON or protobuf via [`encoding`]) with
//!   [`nested_api`] (its container calls: `task exec` sessions over [`nested`]) and
//!   [`executor_api`]; [`handle`] is what their handlers hold.
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
pub mod authorization;
pub mod checkpoint;
pub mod config;
pub mod containerizer;
pub mod docker;
pub use mesos_common::api as encoding;
pub mod executor_api;
pub mod fetcher;
pub mod files;
pub mod handle;
pub mod health_check;
pub mod http;
pub mod launcher;
pub mod master_link;
pub mod monitor;
pub mod nested;
pub mod nested_api;
pub mod operator;
pub mod paths;
pub mod resources;
pub mod security;
pub mod status_update;
pub mod supervisor;
pub mod users;

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
    #[error(transparent)]
    Tls(#[from] mesos_common::tls::TlsError),
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
    let credential = security::Security::load(&config)?.credential;
    let transport = GrpcTransport::new(master).with_credential(credential);
    run_with_transport(listener, config, transport, shutdown).await
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
    let security = security::Security::load(&config)?;
    let edge = mesos_common::serve::Edge::from_env()?;
    let launcher = launcher::Launcher::locate(config.launcher_dir.as_deref())
        .map_err(io_error("cannot locate the task supervisor binary"))?;
    let port = listener
        .local_addr()
        .map_err(io_error("cannot read the listener's address"))?
        .port();
    let exposure = config.exposure_warning(port);
    if let Some(warning) = &exposure {
        warning.log();
    }
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
        true => {
            let mut runtime =
                docker::DockerRuntime::connect(&config.docker_socket, containers_tx).await?;
            runtime.guards = docker::spec::Guards {
                allow_privileged: config.docker_allow_privileged,
                // validate() refused a malformed list; none is the strictest.
                host_path_prefixes: config.allowed_host_path_prefixes().unwrap_or_default(),
            };
            Some(runtime)
        }
        false => None,
    };
    let (queries_tx, queries_rx) = mpsc::channel(64);
    let http_state = handle::HttpState {
        queries: queries_tx,
        flags: std::sync::Arc::new(config.flags()),
        exposure: exposure.map(std::sync::Arc::new),
        sandboxes_root: paths::Layout::new(&config.work_dir).sandboxes_root(),
        nested: nested::NestedContainers::default(),
        docker: docker.clone(),
        acls: security.acls.clone(),
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
            executor_key: security.executor_key.clone(),
        },
        exits_tx,
    );
    core.recover();
    core.remove_orphan_containers().await;

    let (stop_http, mut http_stopped) = watch::channel(false);
    let app = mesos_common::api::tolerate_trailing_slash(
        security.http.clone().layer(http::router(http_state)),
    );
    let server = mesos_common::serve::serve(listener, edge, app, async move {
        let _ = http_stopped.wait_for(|stop| *stop).await;
    });
    let server = tokio::spawn(server);
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

/// The layers of this crate, bottom first (see the crate's doc).
#[cfg(test)]
const LAYERS: mesos_common::layers::Layers = &[
    (
        "foundations",
        &[
            "checkpoint",
            "config",
            "paths",
            "resources",
            "status_update",
            "supervisor",
            "users",
            "authorization",
        ],
    ),
    (
        "containerizers",
        &[
            "containerizer",
            "docker",
            "fetcher",
            "health_check",
            "launcher",
            "nested",
        ],
    ),
    ("core", &["agent"]),
    ("views", &["monitor"]),
    (
        "edges",
        &[
            "executor_api",
            "files",
            "handle",
            "http",
            "master_link",
            "nested_api",
            "operator",
            "security",
        ],
    ),
];

#[cfg(test)]
#[test]
fn layers_hold() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems =
        mesos_common::layers::check_dir(&src, LAYERS, &["AgentError", "VERSION", "encoding"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
