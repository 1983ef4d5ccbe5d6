//! Running containers through the Docker Engine API.
//!
//! Each container has one supervising tokio task ([`DockerRuntime::launch`] or
//! [`DockerRuntime::adopt`]) that reports to the core with [`ContainerEvent`]s and takes kill
//! requests through its [`KillSwitch`]. Nothing here blocks the core or other containers: a
//! slow pull only delays its own task.
//!
//! The daemon may go away and come back under a running agent: every long-lived request
//! (wait, logs) is re-opened with a backoff, and what happened meanwhile is read back with
//! `inspect`.
//!
//! Logs are copied from the daemon into the sandbox's `stdout` and `stderr`. The daemon keeps
//! the whole log, so a copy that starts over (after an agent restart or a lost connection)
//! skips as many bytes of each stream as the sandbox file already holds.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::ContainerStateStatusEnum;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use mesos_proto::v1::{network_info, NetworkInfo};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn, Instrument};

use super::labels;
use super::spec::ContainerSpec;
use crate::status_update::StreamKey;

/// How long the daemon gets to answer at agent start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Request timeout (until the response head; streams may last longer).
const REQUEST_TIMEOUT_SECS: u64 = 60;
/// Backoff between attempts to reach a daemon that went away.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// How long the log copy may lag behind the container's exit before the exit is reported.
const LOG_DRAIN: Duration = Duration::from_secs(3);
/// Pull progress goes to the agent's log at most this often per pull.
/// How long a container that died of SIGKILL is watched for the daemon's OOM flag. Docker
/// 20.10 handles containerd's OOM event and exit event in either order, so the flag can be
/// set a few milliseconds after the container is already seen as exited.
const OOM_SETTLE: Duration = Duration::from_secs(1);
const OOM_SETTLE_STEP: Duration = Duration::from_millis(50);
/// Exit status of a process ended by SIGKILL, which is how the kernel's OOM killer ends it.
const SIGKILL_STATUS: i64 = 128 + 9;
const PULL_PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Why the Docker daemon cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker daemon at {socket}: {reason}")]
pub struct ConnectError {
    pub socket: String,
    pub reason: String,
}

/// What a container's supervising task reports.
#[derive(Debug)]
pub struct ContainerEvent {
    pub key: StreamKey,
    pub container_id: String,
    pub kind: ContainerEventKind,
}

#[derive(Debug)]
pub enum ContainerEventKind {
    /// The container exists (TASK_STARTING).
    Created,
    /// The container runs (TASK_RUNNING); its addresses and port mappings.
    Started { network_infos: Vec<NetworkInfo> },
    /// The container is over, or never came to be.
    Ended(Outcome),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The container's main process exited (as `docker inspect` tells).
    Exited { code: i64, oom_killed: bool },
    /// Pulling, creating or starting failed; the daemon's words.
    LaunchFailed(String),
    /// A kill came before the container started.
    KilledBeforeStart,
    /// The container is not there (any more), or cannot be recovered.
    Gone(String),
}

/// Asks a container's supervising task to stop the container.
#[derive(Debug)]
pub struct KillSwitch(watch::Sender<Option<Duration>>);

impl KillSwitch {
    fn new() -> (KillSwitch, watch::Receiver<Option<Duration>>) {
        let (tx, rx) = watch::channel(None);
        (KillSwitch(tx), rx)
    }

    /// `docker stop` with `grace` between SIGTERM and SIGKILL.
    pub fn kill(&self, grace: Duration) {
        self.0.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(grace);
            }
            first
        });
    }
}

/// Resolves once a pod's network container runs (Err: why it cannot).
pub type NetworkReady = Shared<BoxFuture<'static, Result<(), String>>>;

/// Which task and sandbox a container belongs to.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: StreamKey,
    pub container_id: String,
    pub sandbox: PathBuf,
}

/// The agent's handle on the Docker daemon.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    pub(super) docker: Docker,
    events: mpsc::UnboundedSender<ContainerEvent>,
    /// What tasks may ask of the host (privileged, host paths).
    pub guards: super::spec::Guards,
}

impl DockerRuntime {
    /// Connects to the daemon's unix socket, agrees on an API version and pings it.
    pub async fn connect(
        socket: &str,
        events: mpsc::UnboundedSender<ContainerEvent>,
    ) -> Result<DockerRuntime, ConnectError> {
        let error = |reason: String| ConnectError {
            socket: socket.to_string(),
            reason,
        };
        let docker =
            Docker::connect_with_unix(socket, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(|e| error(e.to_string()))?;
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let docker = docker.negotiate_version().await?;
            docker.ping().await?;
            Ok::<_, BollardError>(docker)
        })
        .await
        .map_err(|_| error(format!("no answer within {CONNECT_TIMEOUT:?}")))?
        .map_err(|e| error(e.to_string()))?;
        info!(
            socket,
            api_version = %docker.client_version(),
            "connected to the Docker daemon"
        );
        Ok(DockerRuntime {
            docker,
            events,
            guards: Default::default(),
        })
    }

    /// Starts a task's container: pull (when the image is missing or a pull is forced),
    /// create, start, then supervise it until it ends.
    pub fn launch(&self, spec: ContainerSpec, target: Target) -> KillSwitch {
        self.launch_after(spec, target, None)
    }

    /// As [`DockerRuntime::launch`], once `network` (a pod's network container, see
    /// [`DockerRuntime::start_network`]) runs; if it cannot run, neither does this.
    pub fn launch_after(
        &self,
        spec: ContainerSpec,
        target: Target,
        network: Option<NetworkReady>,
    ) -> KillSwitch {
        let (switch, kill) = KillSwitch::new();
        let runner = Runner {
            docker: self.docker.clone(),
            events: self.events.clone(),
            name: spec.name.clone(),
            target,
        };
        let span = tracing::info_span!("container", name = %spec.name);
        tokio::spawn(runner.launch(spec, kill, network).instrument(span));
        switch
    }

    /// Starts a pod's network container (or finds it running): the others join its
    /// network once the returned future says it runs.
    pub fn start_network(&self, spec: ContainerSpec) -> NetworkReady {
        let docker = self.docker.clone();
        let span = tracing::info_span!("network_container", name = %spec.name);
        let started = tokio::spawn(
            async move {
                let running = docker
                    .inspect_container(&spec.name, None)
                    .await
                    .ok()
                    .and_then(|c| c.state)
                    .and_then(|s| s.running)
                    .unwrap_or(false);
                if running {
                    return Ok(());
                }
                remove_container(&docker, &spec.name).await;
                create_container(&docker, &spec).await?;
                docker
                    .start_container(&spec.name, None)
                    .await
                    .map_err(|e| daemon_text(&e))?;
                info!("pod network container started");
                Ok(())
            }
            .instrument(span),
        );
        async move {
            started
                .await
                .unwrap_or_else(|e| Err(format!("the start was cancelled: {e}")))
        }
        .boxed()
        .shared()
    }

    /// Takes over the container of a task started by an earlier agent process: reports it
    /// running (when `announce_start`, i.e. RUNNING was never sent), supervises it, or
    /// reports how it ended while the agent was away.
    pub fn adopt(&self, target: Target, announce_start: bool) -> KillSwitch {
        let (switch, kill) = KillSwitch::new();
        let name = super::container_name(&target.container_id);
        let runner = Runner {
            docker: self.docker.clone(),
            events: self.events.clone(),
            name: name.clone(),
            target,
        };
        let span = tracing::info_span!("container", name = %name);
        tokio::spawn(runner.adopt(announce_start, kill).instrument(span));
        switch
    }

    /// Removes a container (and its anonymous volumes) in the background, whatever its state.
    pub fn remove(&self, name: String) {
        let docker = self.docker.clone();
        tokio::spawn(async move {
            remove_container(&docker, &name).await;
        });
    }

    /// Removes the containers labelled with `agent_id` whose container id is not in `keep`.
    /// Returns how many it found.
    pub async fn remove_orphans(&self, agent_id: &str, keep: &HashSet<String>) -> usize {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{}={agent_id}", labels::AGENT_ID)],
        )]);
        let listed = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await;
        let containers = match listed {
            Ok(containers) => containers,
            Err(e) => {
                warn!(error = %daemon_text(&e), "cannot list containers to remove orphans");
                return 0;
            }
        };
        let mut removed = 0;
        for container in containers {
            let container_id = container
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::CONTAINER_ID))
                .cloned()
                .unwrap_or_default();
            if keep.contains(&container_id) {
                continue;
            }
            let name = container
                .names
                .and_then(|n| n.first().cloned())
                .map(|n| n.trim_start_matches('/').to_string())
                .or(container.id)
                .unwrap_or_default();
            info!(container = %name, container_id, "removing a container no known task owns");
            self.remove(name);
            removed += 1;
        }
        removed
    }
}

async fn remove_container(docker: &Docker, name: &str) {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => debug!(container = name, "container removed"),
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => warn!(container = name, error = %daemon_text(&e), "cannot remove container"),
    }
}

/// The message of a daemon error without bollard's wrapping, else the error itself.
pub fn daemon_text(error: &BollardError) -> String {
    match error {
        BollardError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        BollardError::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    }
}

fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Creates the container, pulling the image first when forced or when it is missing.
async fn create_container(docker: &Docker, spec: &ContainerSpec) -> Result<(), String> {
    check_user_network(docker, spec).await?;
    if spec.force_pull {
        pull(docker, spec).await?;
    }
    let options = CreateContainerOptions {
        name: Some(spec.name.clone()),
        ..Default::default()
    };
    let first = docker
        .create_container(Some(options.clone()), spec.body.clone())
        .await;
    match first {
        Ok(_) => return Ok(()),
        Err(e) if status_of(&e) == Some(404) && !spec.force_pull => {
            debug!(error = %daemon_text(&e), "image not present; pulling it");
        }
        Err(e) => return Err(daemon_text(&e)),
    }
    pull(docker, spec).await?;
    docker
        .create_container(Some(options), spec.body.clone())
        .await
        .map(|_| ())
        .map_err(|e| daemon_text(&e))
}

/// A USER network must exist: Docker refuses the create with a 404 that would read as
/// a missing image (and start a pull that hides the cause).
async fn check_user_network(docker: &Docker, spec: &ContainerSpec) -> Result<(), String> {
    let Some(name) = spec.user_network() else {
        return Ok(());
    };
    match docker.inspect_network(name, None).await {
        Ok(_) => Ok(()),
        Err(e) if status_of(&e) == Some(404) => Err(format!(
            "Docker network '{name}' does not exist on this agent \
             (a USER network is created beforehand: docker network create {name})"
        )),
        Err(e) => Err(format!(
            "cannot inspect Docker network '{name}': {}",
            daemon_text(&e)
        )),
    }
}

async fn pull(docker: &Docker, spec: &ContainerSpec) -> Result<(), String> {
    let (from_image, tag) = spec.image.pull_arguments();
    info!(image = %from_image, tag = %tag, "pulling image");
    let started = Instant::now();
    let mut stream = docker.create_image(
        Some(CreateImageOptions {
            from_image: Some(from_image.clone()),
            tag: Some(tag.clone()),
            ..Default::default()
        }),
        None,
        None,
    );
    let mut last_log = Instant::now();
    let mut last_status = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(progress) => {
                let status = progress.status.unwrap_or_default();
                if status != last_status || last_log.elapsed() >= PULL_PROGRESS_EVERY {
                    info!(
                        image = %from_image,
                        status = %status,
                        layer = progress.id.as_deref().unwrap_or(""),
                        current = progress.progress_detail.as_ref().and_then(|d| d.current).unwrap_or(0),
                        total = progress.progress_detail.as_ref().and_then(|d| d.total).unwrap_or(0),
                        "pull progress"
                    );
                    last_status = status;
                    last_log = Instant::now();
                }
            }
            Err(e) => {
                let text = daemon_text(&e);
                warn!(image = %from_image, error = %text, "pull failed");
                return Err(format!("Failed to pull image {from_image}:{tag}: {text}"));
            }
        }
    }
    info!(image = %from_image, tag = %tag, elapsed = ?started.elapsed(), "image pulled");
    Ok(())
}

/// How a wait for the container's end came out.
enum Waited {
    Ended,
    NotFound,
    /// The request failed (daemon gone?); try again.
    Lost(String),
}

struct Runner {
    docker: Docker,
    events: mpsc::UnboundedSender<ContainerEvent>,
    name: String,
    target: Target,
}

impl Runner {
    fn send(&self, kind: ContainerEventKind) {
        let _ = self.events.send(ContainerEvent {
            key: self.target.key.clone(),
            container_id: self.target.container_id.clone(),
            kind,
        });
    }

    fn end(&self, outcome: Outcome) {
        self.send(ContainerEventKind::Ended(outcome));
    }

    async fn launch(
        self,
        spec: ContainerSpec,
        mut kill: watch::Receiver<Option<Duration>>,
        network: Option<NetworkReady>,
    ) {
        let started_at = Instant::now();
        if let Some(ready) = network {
            tokio::select! {
                ready = ready => if let Err(text) = ready {
                    warn!(error = %text, "the pod's network container cannot run");
                    return self.end(Outcome::LaunchFailed(format!(
                        "the pod's network container cannot run: {text}"
                    )));
                },
                _ = async { drop(kill.wait_for(Option::is_some).await) } => {
                    return self.end(Outcome::KilledBeforeStart);
                }
            }
        }
        let created = tokio::select! {
            created = create_container(&self.docker, &spec) => created,
            _ = async { drop(kill.wait_for(Option::is_some).await) } => {
                // A create may have gone through before it was dropped.
                remove_container(&self.docker, &self.name).await;
                return self.end(Outcome::KilledBeforeStart);
            }
        };
        if let Err(text) = created {
            warn!(error = %text, "cannot create the container");
            return self.end(Outcome::LaunchFailed(text));
        }
        self.send(ContainerEventKind::Created);
        if kill.borrow().is_some() {
            remove_container(&self.docker, &self.name).await;
            return self.end(Outcome::KilledBeforeStart);
        }
        if let Err(e) = self.docker.start_container(&self.name, None).await {
            let text = daemon_text(&e);
            warn!(error = %text, "cannot start the container");
            remove_container(&self.docker, &self.name).await;
            return self.end(Outcome::LaunchFailed(text));
        }
        let network_infos = self.network_infos(&spec).await;
        info!(elapsed = ?started_at.elapsed(), "container started");
        self.send(ContainerEventKind::Started { network_infos });
        self.supervise(kill).await;
    }

    /// The container's address(es) and the task's port mappings, for TASK_RUNNING.
    async fn network_infos(&self, spec: &ContainerSpec) -> Vec<NetworkInfo> {
        let name = spec.network_container.as_deref().unwrap_or(&self.name);
        let inspected = match self.docker.inspect_container(name, None).await {
            Ok(inspected) => inspected,
            Err(e) => {
                debug!(error = %daemon_text(&e), "cannot inspect the started container");
                return Vec::new();
            }
        };
        let mut ips: Vec<String> = inspected
            .network_settings
            .and_then(|n| n.networks)
            .into_iter()
            .flat_map(|networks| networks.into_values())
            .filter_map(|endpoint| endpoint.ip_address)
            .filter(|ip| !ip.is_empty())
            .collect();
        ips.dedup();
        if ips.is_empty() && spec.port_mappings.is_empty() {
            return Vec::new();
        }
        vec![NetworkInfo {
            ip_addresses: ips
                .into_iter()
                .map(|ip| network_info::IpAddress {
                    protocol: None,
                    ip_address: Some(ip),
                })
                .collect(),
            port_mappings: spec
                .port_mappings
                .iter()
                .map(
                    |(host_port, container_port, protocol)| network_info::PortMapping {
                        host_port: *host_port,
                        container_port: *container_port,
                        protocol: Some(protocol.clone()),
                    },
                )
                .collect(),
            ..Default::default()
        }]
    }

    async fn adopt(self, announce_start: bool, kill: watch::Receiver<Option<Duration>>) {
        let mut backoff = RETRY_MIN;
        let state = loop {
            match self.docker.inspect_container(&self.name, None).await {
                Ok(inspected) => break inspected.state.unwrap_or_default(),
                Err(e) if status_of(&e) == Some(404) => {
                    return self.end(Outcome::Gone(format!(
                        "Container {} no longer exists",
                        self.name
                    )));
                }
                Err(e) => {
                    warn!(error = %daemon_text(&e), "cannot inspect the container; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        };
        match state.status {
            Some(ContainerStateStatusEnum::CREATED) | None => {
                remove_container(&self.docker, &self.name).await;
                self.end(Outcome::Gone(format!(
                    "Container {} was created but never started",
                    self.name
                )));
            }
            Some(
                ContainerStateStatusEnum::EXITED
                | ContainerStateStatusEnum::DEAD
                | ContainerStateStatusEnum::REMOVING,
            ) => {
                info!("the container ended while the agent was away");
                if let Err(e) =
                    copy_logs(&self.docker, &self.name, &self.target.sandbox, false).await
                {
                    debug!(error = %e, "cannot copy the rest of the container's logs");
                }
                self.end(Outcome::Exited {
                    code: state.exit_code.unwrap_or(-1),
                    oom_killed: state.oom_killed.unwrap_or(false),
                });
            }
            Some(_) => {
                info!("re-adopting running container");
                if announce_start {
                    self.send(ContainerEventKind::Started {
                        network_infos: Vec::new(),
                    });
                }
                self.supervise(kill).await;
            }
        }
    }

    /// Streams the logs and waits for the end of a started container, stopping it on a kill.
    async fn supervise(self, mut kill: watch::Receiver<Option<Duration>>) {
        let mut logs = self.spawn_logs();
        let mut stopping = false;
        let mut backoff = RETRY_MIN;
        let mut waiting = Box::pin(wait_for_end(self.docker.clone(), self.name.clone()));
        loop {
            if !stopping {
                if let Some(grace) = *kill.borrow_and_update() {
                    stopping = true;
                    tokio::spawn(
                        stop(self.docker.clone(), self.name.clone(), grace)
                            .instrument(tracing::Span::current()),
                    );
                }
            }
            tokio::select! {
                waited = &mut waiting => match waited {
                    Waited::Ended => break,
                    Waited::NotFound => {
                        logs.abort();
                        let message = format!("Container {} was removed outside the agent", self.name);
                        return self.end(Outcome::Gone(message));
                    }
                    Waited::Lost(why) => {
                        warn!(error = %why, retry_in = ?backoff, "lost the wait on the container; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(RETRY_MAX);
                        waiting = Box::pin(wait_for_end(self.docker.clone(), self.name.clone()));
                    }
                },
                changed = kill.changed(), if !stopping => {
                    if changed.is_err() {
                        // The core let go of the task; nothing will ask for a kill any more.
                        stopping = true;
                    }
                }
            }
        }
        let (code, mut oom_killed) = self.exit_state().await;
        if code == SIGKILL_STATUS && !oom_killed && !stopping {
            oom_killed = self.late_oom_flag().await;
        }
        let drained = tokio::time::timeout(LOG_DRAIN, &mut logs).await;
        if !matches!(drained, Ok(Ok(()))) {
            logs.abort();
            if let Err(e) = copy_logs(&self.docker, &self.name, &self.target.sandbox, false).await {
                debug!(error = %e, "cannot copy the rest of the container's logs");
            }
        }
        info!(code, oom_killed, "container ended");
        self.end(Outcome::Exited { code, oom_killed });
    }

    /// Follows the container's output into the sandbox until the container stops, starting
    /// over (where the sandbox files end) whenever the daemon drops the stream.
    fn spawn_logs(&self) -> tokio::task::JoinHandle<()> {
        let docker = self.docker.clone();
        let name = self.name.clone();
        let sandbox = self.target.sandbox.clone();
        let follow = async move {
            let mut backoff = RETRY_MIN;
            loop {
                match copy_logs(&docker, &name, &sandbox, true).await {
                    Ok(()) => {
                        let running = docker
                            .inspect_container(&name, None)
                            .await
                            .ok()
                            .and_then(|i| i.state)
                            .and_then(|s| s.running)
                            .unwrap_or(false);
                        if !running {
                            return;
                        }
                    }
                    Err(e) => debug!(error = %e, "lost the container's log stream; retrying"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        };
        tokio::spawn(follow.instrument(tracing::Span::current()))
    }

    /// Asks again, for up to `OOM_SETTLE`, whether the daemon has since marked the
    /// SIGKILLed container as OOM-killed.
    async fn late_oom_flag(&self) -> bool {
        let started = Instant::now();
        while started.elapsed() < OOM_SETTLE {
            tokio::time::sleep(OOM_SETTLE_STEP).await;
            let inspected = self.docker.inspect_container(&self.name, None).await;
            match inspected
                .ok()
                .and_then(|i| i.state)
                .and_then(|s| s.oom_killed)
            {
                Some(true) => {
                    info!(after = ?started.elapsed(), "the daemon set the OOM flag after the exit");
                    return true;
                }
                Some(false) => continue,
                None => return false,
            }
        }
        false
    }

    /// Exit code and OOM flag of the ended container; keeps asking while the daemon is away.
    async fn exit_state(&self) -> (i64, bool) {
        let mut backoff = RETRY_MIN;
        loop {
            match self.docker.inspect_container(&self.name, None).await {
                Ok(inspected) => {
                    let state = inspected.state.unwrap_or_default();
                    return (
                        state.exit_code.unwrap_or(-1),
                        state.oom_killed.unwrap_or(false),
                    );
                }
                Err(e) if status_of(&e) == Some(404) => return (-1, false),
                Err(e) => {
                    warn!(error = %daemon_text(&e), "cannot inspect the ended container; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
    }
}

async fn wait_for_end(docker: Docker, name: String) -> Waited {
    let options = WaitContainerOptions {
        condition: "not-running".to_string(),
    };
    let mut stream = docker.wait_container(&name, Some(options));
    match stream.next().await {
        Some(Ok(_)) | Some(Err(BollardError::DockerContainerWaitError { .. })) => Waited::Ended,
        Some(Err(e)) if status_of(&e) == Some(404) => Waited::NotFound,
        Some(Err(e)) => Waited::Lost(daemon_text(&e)),
        None => Waited::Lost("the wait ended without an answer".to_string()),
    }
}

/// `docker stop` (SIGTERM, SIGKILL after `grace`), then a kill if the stop did not work,
/// retried until the daemon answers: a kill asked for while the daemon is unreachable
/// must still happen once it is back, or the task stays TASK_KILLING for good.
async fn stop(docker: Docker, name: String, grace: Duration) {
    let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    info!(grace = ?grace, "stopping container");
    let mut client = docker.clone();
    client.set_timeout(Duration::from_secs(seconds + REQUEST_TIMEOUT_SECS));
    let options = StopContainerOptions {
        t: Some(seconds.min(i32::MAX as u64) as i32),
        signal: None,
    };
    match client.stop_container(&name, Some(options)).await {
        Ok(()) => return,
        // 304: already stopped; 404: gone.
        Err(e) if matches!(status_of(&e), Some(304) | Some(404)) => return,
        Err(e) => warn!(error = %daemon_text(&e), "docker stop failed; killing the container"),
    }
    let mut backoff = RETRY_MIN;
    loop {
        match docker
            .kill_container(&name, Some(KillContainerOptions::default()))
            .await
        {
            Ok(()) => return,
            // 404: gone; 409: not running any more.
            Err(e) if matches!(status_of(&e), Some(404) | Some(409)) => return,
            Err(e) => {
                warn!(error = %daemon_text(&e), retry_in = ?backoff, "cannot kill the container; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Appends the container's output to the sandbox's `stdout` and `stderr`, skipping what they
/// already hold. With `follow`, runs until the container's output ends.
async fn copy_logs(
    docker: &Docker,
    name: &str,
    sandbox: &Path,
    follow: bool,
) -> Result<(), String> {
    let mut out = SandboxFile::open(&sandbox.join("stdout")).await?;
    let mut err = SandboxFile::open(&sandbox.join("stderr")).await?;
    let options = LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut stream = docker.logs(name, Some(options));
    while let Some(item) = stream.next().await {
        match item.map_err(|e| daemon_text(&e))? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                out.write(&message).await?
            }
            LogOutput::StdErr { message } => err.write(&message).await?,
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

/// A sandbox output file and how many bytes of the stream it already holds.
struct SandboxFile {
    file: tokio::fs::File,
    skip: u64,
    path: PathBuf,
}

impl SandboxFile {
    async fn open(path: &Path) -> Result<SandboxFile, String> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let skip = file
            .metadata()
            .await
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        Ok(SandboxFile {
            file,
            skip,
            path: path.to_path_buf(),
        })
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let skipped = (self.skip.min(bytes.len() as u64)) as usize;
        self.skip -= skipped as u64;
        let rest = &bytes[skipped..];
        if rest.is_empty() {
            return Ok(());
        }
        let error = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        self.file.write_all(rest).await.map_err(error)?;
        self.file.flush().await.map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sandbox_files_skip_what_they_already_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout");
        std::fs::write(&path, "hello ").unwrap();
        let mut file = SandboxFile::open(&path).await.unwrap();
        file.write(b"hel").await.unwrap();
        file.write(b"lo world\n").await.unwrap();
        file.write(b"more\n").await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "hello world\nmore\n"
        );
    }

    #[test]
    fn a_kill_switch_keeps_the_first_grace_period() {
        let (switch, rx) = KillSwitch::new();
        assert_eq!(*rx.borrow(), None);
        switch.kill(Duration::from_secs(3));
        switch.kill(Duration::from_secs(9));
        assert_eq!(*rx.borrow(), Some(Duration::from_secs(3)));
    }
}
