//! Docker helpers for the tests that run tasks as real containers of this machine's Docker
//! daemon: the local test image, the `docker` CLI, task builders and label-based cleanup.
//!
//! The machine has no image registry, so the image is built locally from Debian's
//! busybox-static by `scripts/docker-image.sh` (once per process here; the script itself
//! serializes concurrent test processes with a lock file).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::cluster::{Cluster, ClusterOptions, DEFAULT_AGENT_RESOURCES};

/// The image every Docker test runs: busybox with `sh`, `sleep`, `httpd`.
pub const IMAGE: &str = "mesos-test/busybox:latest";
/// The label the agent puts its id in.
pub const AGENT_LABEL: &str = "mesos.agent_id";

/// Builds [`IMAGE`] unless it exists; panics with the script's output when it cannot.
pub fn ensure_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/docker-image.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg(IMAGE)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "{} failed: {}\n{}",
            script.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// Runs the docker CLI; returns (success, stdout, stderr).
pub fn docker(args: &[&str]) -> (bool, String, String) {
    let output = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `docker inspect <name>`, or `None` when there is no such container.
pub fn inspect(name: &str) -> Option<Value> {
    let (ok, stdout, _) = docker(&["container", "inspect", name]);
    if !ok {
        return None;
    }
    let parsed: Value = serde_json::from_str(&stdout).expect("docker inspect prints JSON");
    parsed.as_array().and_then(|a| a.first().cloned())
}

/// Names of all containers (running or not) with the label `key=value`.
pub fn containers_labelled(key: &str, value: &str) -> Vec<String> {
    let filter = format!("label={key}={value}");
    let (ok, stdout, stderr) = docker(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
    assert!(ok, "docker ps failed: {stderr}");
    stdout
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Removes every container labelled with an agent id when dropped, so a test leaves no
/// container behind even when it fails.
pub struct ContainerCleanup {
    agent_ids: Vec<String>,
}

impl ContainerCleanup {
    pub fn new(agent_id: &str) -> ContainerCleanup {
        ContainerCleanup {
            agent_ids: vec![agent_id.to_string()],
        }
    }
}

impl Drop for ContainerCleanup {
    fn drop(&mut self) {
        for id in &self.agent_ids {
            let names = containers_labelled(AGENT_LABEL, id);
            if !names.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(names.iter().map(String::as_str));
                docker(&args);
            }
        }
    }
}

/// Agent flags that enable the Docker containerizer.
pub fn docker_agent_flags() -> Vec<String> {
    vec!["--containerizers=docker,mesos".to_string()]
}

/// A master and one agent with the Docker containerizer, the test image built.
pub async fn docker_cluster() -> Cluster {
    ensure_image();
    Cluster::start_with(ClusterOptions {
        agent_resources: DEFAULT_AGENT_RESOURCES.to_string(),
        agent_flags: docker_agent_flags(),
        ..ClusterOptions::default()
    })
    .await
}

/// A task running `command` (a shell command; `None` for the image's own) in a DOCKER
/// container of `image`, HOST network.
pub fn docker_task(
    task_id: &str,
    agent_id: &str,
    image: &str,
    command: Option<&str>,
    cpus: f64,
    mem: f64,
) -> Value {
    let mut task = json!({
        "name": task_id,
        "task_id": { "value": task_id },
        "agent_id": { "value": agent_id },
        "resources": [crate::json::scalar("cpus", cpus), crate::json::scalar("mem", mem)],
        "container": { "type": "DOCKER", "docker": { "image": image } }
    });
    task["command"] = match command {
        Some(command) => json!({ "shell": true, "value": command }),
        None => json!({ "shell": false }),
    };
    task
}

/// Sets the Docker network (`HOST`, `BRIDGE`, `NONE`, `USER`).
pub fn with_network(mut task: Value, network: &str) -> Value {
    task["container"]["docker"]["network"] = json!(network);
    task
}

/// Adds a port mapping (and does not touch the task's resources).
pub fn with_port_mapping(mut task: Value, host_port: u64, container_port: u64) -> Value {
    let docker = &mut task["container"]["docker"];
    if docker.get("port_mappings").is_none() {
        docker["port_mappings"] = json!([]);
    }
    docker["port_mappings"]
        .as_array_mut()
        .expect("port_mappings is an array")
        .push(
            json!({ "host_port": host_port, "container_port": container_port, "protocol": "tcp" }),
        );
    task
}

/// Adds a `docker run` parameter.
pub fn with_parameter(mut task: Value, key: &str, value: &str) -> Value {
    let docker = &mut task["container"]["docker"];
    if docker.get("parameters").is_none() {
        docker["parameters"] = json!([]);
    }
    docker["parameters"]
        .as_array_mut()
        .expect("parameters is an array")
        .push(json!({ "key": key, "value": value }));
    task
}

/// The Docker name of the container of `task_id`, from the agent's `/state`
/// (`mesos-<containerId>`).
pub async fn container_of(cluster: &Cluster, agent: usize, task_id: &str) -> String {
    let executor = cluster
        .agent_executor(agent, task_id)
        .await
        .unwrap_or_else(|| panic!("task {task_id} is not in agent{agent}'s /state"));
    let id = executor["container"]
        .as_str()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| panic!("executor of {task_id} has no container id: {executor}"));
    format!("mesos-{id}")
}

/// A unix-socket proxy in front of the Docker daemon that can be taken down and brought back,
/// so that a test can make the daemon unreachable without touching the real one (which other
/// tests share).
pub struct DaemonProxy {
    pub path: PathBuf,
    state: std::sync::Arc<std::sync::Mutex<ProxyState>>,
    accept: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct ProxyState {
    down: bool,
    connections: Vec<tokio::task::AbortHandle>,
}

impl DaemonProxy {
    /// Listens on `path` and forwards each connection to `upstream`.
    pub fn start(path: PathBuf, upstream: &str) -> DaemonProxy {
        let listener = tokio::net::UnixListener::bind(&path)
            .unwrap_or_else(|e| panic!("cannot listen on {}: {e}", path.display()));
        let state = std::sync::Arc::new(std::sync::Mutex::new(ProxyState::default()));
        let shared = state.clone();
        let upstream = upstream.to_string();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut guard = shared.lock().unwrap();
                if guard.down {
                    // Dropping the connection at once: the daemon is "not there".
                    continue;
                }
                let upstream = upstream.clone();
                let handle = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::UnixStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                guard.connections.push(handle.abort_handle());
            }
        });
        DaemonProxy {
            path,
            state,
            accept,
        }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn take_down(&self) {
        let mut guard = self.state.lock().unwrap();
        guard.down = true;
        for connection in guard.connections.drain(..) {
            connection.abort();
        }
    }

    pub fn bring_back(&self) {
        self.state.lock().unwrap().down = false;
    }
}

impl Drop for DaemonProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.take_down();
    }
}
