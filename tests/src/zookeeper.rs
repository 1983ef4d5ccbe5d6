//! ZooKeeper for the high-availability tests: real servers (Debian's `zookeeper` package)
//! started through `scripts/zookeeper.sh`, masters that elect a leader through them, a TCP
//! proxy that can cut one process off from ZooKeeper, and a leader detector written the
//! way third-party tools read Mesos's election (plain JSON, no project crate).
//!
//! ```text
//!   HaCluster ─► ZooKeeper (1 or 3 servers, tickTime 500 ms) ◄─┬─ mesos-master × N (--zk)
//!                      ▲        ▲                              └─ mesos-agent (--master=zk://)
//!                      │        └── Proxy (freeze = silent partition) ◄── a master
//!                      └── third_party_leader(): children, lowest json.info_, address
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::cluster::{wait_ready, Agent, DEFAULT_AGENT_RESOURCES};
use crate::http;
use crate::process::{binary, free_port, kill_processes_under, run_command, Proc};
use crate::{eventually, TIMEOUT};

/// `scripts/zookeeper.sh` of this workspace.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/zookeeper.sh")
        .canonicalize()
        .expect("scripts/zookeeper.sh exists")
}

async fn zk_script(args: &[&str], envs: &[(String, String)]) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = run_command(&script(), &args, envs, Duration::from_secs(90)).await;
    assert!(
        out.success(),
        "scripts/zookeeper.sh {} failed:\n{}",
        args.join(" "),
        out.combined()
    );
}

/// ZooKeeper servers on loopback, killed on drop.
pub struct ZooKeeper {
    dir: PathBuf,
    pub client_ports: Vec<u16>,
    /// `scripts/zookeeper.sh`'s environment (`ZK_HEAP`, `ZK_TICK_MS`).
    envs: Vec<(String, String)>,
}

impl ZooKeeper {
    /// Starts `servers` servers (1: standalone; 3: an ensemble) under `dir` and waits until
    /// they serve.
    pub async fn start(dir: &Path, servers: usize) -> ZooKeeper {
        Self::start_with(dir, servers, Vec::new()).await
    }

    /// Like [`ZooKeeper::start`], with `scripts/zookeeper.sh` variables (`ZK_HEAP`,
    /// `ZK_TICK_MS`) for every start of the servers.
    pub async fn start_with(dir: &Path, servers: usize, envs: Vec<(String, String)>) -> ZooKeeper {
        let client_ports: Vec<u16> = (0..servers).map(|_| free_port()).collect();
        let specs: Vec<String> = if servers == 1 {
            vec![client_ports[0].to_string()]
        } else {
            client_ports
                .iter()
                .map(|c| format!("{c}:{}:{}", free_port(), free_port()))
                .collect()
        };
        let dir_text = dir.to_str().expect("utf-8 path");
        let mut args = vec!["start", dir_text];
        args.extend(specs.iter().map(String::as_str));
        zk_script(&args, &envs).await;
        ZooKeeper {
            dir: dir.to_path_buf(),
            client_ports,
            envs,
        }
    }

    /// `host:port,...` of all servers.
    pub fn servers(&self) -> String {
        self.client_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `zk://<all servers><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("zk://{}{path}", self.servers())
    }

    /// Kills server `id` (1-based) with SIGKILL.
    pub async fn stop(&self, id: usize) {
        zk_script(
            &["stop", self.dir.to_str().unwrap(), &id.to_string()],
            &self.envs,
        )
        .await;
    }

    /// Whether server `id` (1-based) runs (its pid file names a live process).
    pub fn is_running(&self, id: usize) -> bool {
        let pid = std::fs::read_to_string(self.dir.join(format!("node{id}/pid")));
        pid.ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok())
    }

    /// Starts server `id` again (it serves once a quorum is up).
    pub async fn restart(&self, id: usize) {
        let dir = self.dir.to_str().unwrap();
        zk_script(&["start-node", dir, &id.to_string()], &self.envs).await;
    }

    /// The servers' log tails, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for id in 1..=self.client_ports.len() {
            let path = self.dir.join(format!("node{id}/zk.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!(
                "----- zookeeper {id} ({}) -----\n",
                path.display()
            ));
            out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
            out.push('\n');
        }
        out
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script())
            .args(["stop", self.dir.to_str().unwrap_or_default()])
            .status();
    }
}

// ------------------------------------------------------------------------- proxy

/// A TCP forwarder to a local port. Frozen, it stops moving bytes but keeps every
/// connection open: to the process behind it, ZooKeeper falls silent, as in a partition.
pub struct Proxy {
    pub port: u16,
    frozen: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let (frozen, watch) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(client_read, server_write, watch.clone()));
                tokio::spawn(forward(server_read, client_write, watch.clone()));
            }
        });
        Proxy { port, frozen, task }
    }

    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Frozen while waiting: stop reading at once.
            _ = frozen.wait_for(|f| *f) => continue,
        };
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

// ------------------------------------------------------------------------- detector

/// The leader as a third-party tool finds it: list the children of `path`, take the
/// `json.info_` child with the lowest sequence, parse its JSON and read `address.ip` and
/// `address.port`. None when ZooKeeper does not answer or no master is elected.
pub async fn third_party_leader(servers: &str, path: &str) -> Option<(String, u16)> {
    let connect = zookeeper_async::ZooKeeper::connect(servers, Duration::from_secs(5), |_| {});
    let zk = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .ok()?
        .ok()?;
    let read = async {
        let children = zk.get_children(path, false).await.ok()?;
        let leader = children
            .iter()
            .filter_map(|c| {
                let seq = c.strip_prefix("json.info_")?.parse::<u64>().ok()?;
                Some((seq, c))
            })
            .min()?
            .1
            .clone();
        let (data, _) = zk.get_data(&format!("{path}/{leader}"), false).await.ok()?;
        let info: Value = serde_json::from_slice(&data).ok()?;
        let ip = info["address"]["ip"].as_str()?.to_string();
        let port = u16::try_from(info["address"]["port"].as_u64()?).ok()?;
        Some((ip, port))
    };
    let found = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()
        .flatten();
    let _ = tokio::time::timeout(Duration::from_secs(2), zk.close()).await;
    found
}

// ------------------------------------------------------------------------- cluster

/// ZooKeeper session timeout of the test masters: short for quick failovers, long enough
/// that a busy test machine does not lose sessions by accident.
pub const SESSION_TIMEOUT_SECS: u64 = 4;

/// What an [`HaCluster`] starts.
#[derive(Debug, Clone)]
pub struct HaOptions {
    /// ZooKeeper servers: 1 (standalone) or 3.
    pub zookeepers: usize,
    pub masters: usize,
    pub agents: usize,
    /// Masters (by index) that reach ZooKeeper through a [`Proxy`].
    pub proxied_masters: Vec<usize>,
    /// The masters' `--zk_session_timeout`.
    pub session_timeout: Duration,
    /// `scripts/zookeeper.sh` variables, e.g. a small `ZK_HEAP`.
    pub zk_env: Vec<(String, String)>,
}

impl Default for HaOptions {
    fn default() -> Self {
        HaOptions {
            zookeepers: 3,
            masters: 3,
            agents: 1,
            proxied_masters: Vec::new(),
            session_timeout: Duration::from_secs(SESSION_TIMEOUT_SECS),
            zk_env: Vec::new(),
        }
    }
}

/// One master of an [`HaCluster`].
pub struct HaMaster {
    pub proc: Proc,
    pub port: u16,
    /// Set for a master that reaches ZooKeeper through a proxy.
    pub proxy: Option<Proxy>,
}

/// Masters electing a leader through ZooKeeper, with agents that follow it. Everything
/// is killed on drop; a failing test keeps the temp dir and prints the logs.
pub struct HaCluster {
    pub zk: ZooKeeper,
    pub path: String,
    session_timeout: Duration,
    pub masters: Vec<HaMaster>,
    pub agents: Vec<Agent>,
    root: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl HaCluster {
    /// Starts ZooKeeper, then the masters one after another (so master 0 is elected
    /// first), then the agents, and waits until they are registered with the leader.
    pub async fn start(options: HaOptions) -> HaCluster {
        let dir = tempfile::Builder::new()
            .prefix("mesos-ha-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let zk = ZooKeeper::start_with(&root.join("zookeeper"), options.zookeepers, options.zk_env)
            .await;
        let path = "/mesos".to_string();
        let mut cluster = HaCluster {
            zk,
            path,
            session_timeout: options.session_timeout,
            masters: Vec::new(),
            agents: Vec::new(),
            root,
            dir: Some(dir),
        };
        for i in 0..options.masters {
            cluster
                .add_master(options.proxied_masters.contains(&i))
                .await;
            if i == 0 {
                cluster.wait_for_leader().await;
            }
        }
        for _ in 0..options.agents {
            cluster.add_agent().await;
        }
        if options.agents > 0 {
            cluster.wait_for_agents(options.agents).await;
        }
        cluster
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Keeps the cluster's files (logs, work dirs) after it is dropped; returns where.
    pub fn keep_files(&mut self) -> PathBuf {
        match self.dir.take() {
            Some(dir) => dir.keep(),
            None => self.root.clone(),
        }
    }

    /// The URL masters and agents are given.
    pub fn zk_url(&self) -> String {
        self.zk.url(&self.path)
    }

    pub fn master_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.masters[i].port)
    }

    pub fn master_url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.masters[i].port)
    }

    pub fn agent_url(&self, agent: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.agents[agent].port)
    }

    /// Starts one more master; returns its index.
    pub async fn add_master(&mut self, proxied: bool) -> usize {
        let index = self.masters.len();
        let work_dir = self.root.join(format!("master{index}"));
        std::fs::create_dir_all(&work_dir).expect("master work dir");
        let proxy = match proxied {
            true => Some(Proxy::start(self.zk.client_ports[0]).await),
            false => None,
        };
        let zk_url = match &proxy {
            Some(p) => format!("zk://127.0.0.1:{}{}", p.port, self.path),
            None => self.zk_url(),
        };
        let port = free_port();
        let args = vec![
            "--ip=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--work_dir={}", work_dir.display()),
            format!("--zk={zk_url}"),
            format!(
                "--zk_session_timeout={}ms",
                self.session_timeout.as_millis()
            ),
            "--quorum=2".to_string(),
            "--allocation_interval=100ms".to_string(),
            "--agent_ping_timeout=1secs".to_string(),
            "--max_agent_ping_timeouts=5".to_string(),
            "--agent_reregister_timeout=2mins".to_string(),
        ];
        let mut proc = Proc::spawn_with_env(
            &format!("master{index}"),
            &binary("mesos-master"),
            args,
            log_level(),
            &self.root,
        );
        if let Err(why) = wait_ready(&mut proc, &format!("http://127.0.0.1:{port}/health")).await {
            panic!("master{index} did not start: {why}\n{}", proc.log_tail(60));
        }
        self.masters.push(HaMaster { proc, port, proxy });
        index
    }

    /// Starts one more agent following the election; returns its index.
    pub async fn add_agent(&mut self) -> usize {
        self.add_agent_with(DEFAULT_AGENT_RESOURCES, &[]).await
    }

    /// Like [`HaCluster::add_agent`], with `--resources` and `extra` flags.
    pub async fn add_agent_with(&mut self, resources: &str, extra: &[String]) -> usize {
        let index = self.agents.len();
        let work_dir = self.root.join(format!("agent{index}"));
        std::fs::create_dir_all(&work_dir).expect("agent work dir");
        let port = free_port();
        let mut args = vec![
            format!("--master={}", self.zk_url()),
            "--ip=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--work_dir={}", work_dir.display()),
            format!("--resources={resources}"),
            "--status_update_retry_interval_min=500ms".to_string(),
            "--registration_backoff_factor=200ms".to_string(),
        ];
        args.extend(extra.iter().cloned());
        let mut proc = Proc::spawn_with_env(
            &format!("agent{index}"),
            &binary("mesos-agent"),
            args,
            log_level(),
            &self.root,
        );
        if let Err(why) = wait_ready(&mut proc, &format!("http://127.0.0.1:{port}/health")).await {
            panic!("agent{index} did not start: {why}\n{}", proc.log_tail(60));
        }
        self.agents.push(Agent {
            proc,
            port,
            work_dir,
        });
        index
    }

    /// `master/elected` of master `i`; None when it does not answer.
    pub async fn elected(&self, i: usize) -> Option<bool> {
        let response = http::client()
            .get(self.master_url(i, "/metrics/snapshot"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        let metrics: Value = response.json().await.ok()?;
        Some(metrics["master/elected"].as_f64()? == 1.0)
    }

    /// The masters that say they lead right now.
    pub async fn leaders(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for i in 0..self.masters.len() {
            if self.elected(i).await == Some(true) {
                out.push(i);
            }
        }
        out
    }

    /// Waits until exactly one master leads and every other live master names it as the
    /// leader in `/master/state`; returns its index.
    pub async fn wait_for_leader(&self) -> usize {
        eventually(
            "exactly one leading master, named by all",
            TIMEOUT * 2,
            async || {
                let leaders = self.leaders().await;
                let [leader] = leaders[..] else {
                    return None;
                };
                let pid = format!("master@127.0.0.1:{}", self.masters[leader].port);
                for i in 0..self.masters.len() {
                    let Ok(response) = http::client()
                        .get(self.master_url(i, "/master/state"))
                        .timeout(Duration::from_secs(2))
                        .send()
                        .await
                    else {
                        continue;
                    };
                    let state: Value = response.json().await.ok()?;
                    if state["leader"] != pid.as_str() {
                        return None;
                    }
                }
                Some(leader)
            },
        )
        .await
    }

    /// Waits until the leader lists `count` active agents.
    pub async fn wait_for_agents(&self, count: usize) -> usize {
        eventually(
            &format!("{count} active agent(s) at the leader"),
            TIMEOUT * 2,
            async || {
                let leader = *self.leaders().await.first()?;
                let state = self.master_state(leader).await?;
                let active = state["slaves"]
                    .as_array()?
                    .iter()
                    .filter(|s| s["active"] == true)
                    .count();
                (active >= count).then_some(leader)
            },
        )
        .await
    }

    pub async fn master_state(&self, i: usize) -> Option<Value> {
        let response = http::client()
            .get(self.master_url(i, "/master/state"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    pub async fn agent_state(&self, agent: usize) -> Value {
        http::get_json(&self.agent_url(agent, "/state")).await
    }

    /// Runs `mesos-resolve` on this cluster's URL; returns (exit success, stdout, stderr).
    pub async fn resolve(&self) -> (bool, String, String) {
        let args = [self.zk_url(), "--timeout=5secs".to_string()];
        let out = run_command(
            &binary("mesos-resolve"),
            &args,
            &[],
            Duration::from_secs(20),
        )
        .await;
        (
            out.success(),
            out.stdout.trim().to_string(),
            out.stderr.trim().to_string(),
        )
    }

    /// Every process's log tail (for failure messages).
    pub fn logs(&self) -> String {
        let mut out: String = self.masters.iter().map(|m| m.proc.log_tail(40)).collect();
        out.extend(self.agents.iter().map(|a| a.proc.log_tail(40)));
        out.push_str(&self.zk.log_tail(20));
        out
    }
}

/// Log filter for the test processes: the ZooKeeper client logs each reconnection
/// attempt (some at WARN), which would drown everything else while servers are down.
pub fn log_level() -> Vec<(String, String)> {
    let filter = "info,zookeeper_async=error".to_string();
    vec![
        ("MESOS_LOG_LEVEL".to_string(), filter.clone()),
        ("RUST_LOG".to_string(), filter),
    ]
}

impl Drop for HaCluster {
    fn drop(&mut self) {
        for agent in &mut self.agents {
            agent.proc.kill9();
        }
        for master in &mut self.masters {
            master.proc.kill9();
        }
        kill_processes_under(&self.root);
        if std::thread::panicking() {
            eprintln!("{}", self.zk.log_tail(30));
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "mesos-tests: kept the HA cluster's files in {}",
                    kept.display()
                );
            }
        }
    }
}
