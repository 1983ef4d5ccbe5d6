//! A master and its agents as child processes in one private temp dir, plus the state
//! queries tests make against them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::http;
use crate::json::*;
use crate::process::{binary, free_port, kill_processes_under, Proc};
use crate::scheduler::Scheduler;
use crate::{eventually, TIMEOUT};

/// How long a process gets to become ready.
const STARTUP: Duration = Duration::from_secs(30);
/// Attempts to start a process when its port turns out to be taken.
const START_ATTEMPTS: usize = 3;

pub const DEFAULT_AGENT_RESOURCES: &str = "cpus:2;mem:1024;disk:1024;ports:[31000-31100]";

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub agents: usize,
    pub agent_resources: String,
    /// Extra flags for the master, after the standard ones (replacing a standard one of
    /// the same name).
    pub master_flags: Vec<String>,
    /// Extra flags for every agent, after the standard ones.
    pub agent_flags: Vec<String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            agents: 1,
            agent_resources: DEFAULT_AGENT_RESOURCES.to_string(),
            master_flags: Vec::new(),
            agent_flags: Vec::new(),
        }
    }
}

/// One agent process.
pub struct Agent {
    pub proc: Proc,
    pub port: u16,
    pub work_dir: PathBuf,
}

/// A task as `/master/state` shows it, with where it was found.
#[derive(Debug, Clone)]
pub struct MasterTask {
    pub task: Value,
    pub framework_id: String,
    /// Found under `completed_frameworks`.
    pub framework_completed: bool,
    /// Found in a framework's `completed_tasks` (rather than `tasks`).
    pub task_completed: bool,
}

impl MasterTask {
    pub fn state(&self) -> &str {
        self.task["state"].as_str().unwrap_or("")
    }
}

/// A running master with its agents. Everything is killed on drop; on a failing test the
/// logs are printed and the temp dir is kept.
pub struct Cluster {
    pub master: Proc,
    pub master_port: u16,
    pub agents: Vec<Agent>,
    options: ClusterOptions,
    root: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Cluster {
    /// A master and one agent with the default resources.
    pub async fn start() -> Cluster {
        Self::start_with(ClusterOptions::default()).await
    }

    /// A master and `agents` agents.
    pub async fn with_agents(agents: usize) -> Cluster {
        Self::start_with(ClusterOptions {
            agents,
            ..ClusterOptions::default()
        })
        .await
    }

    /// A master alone.
    pub async fn master_only() -> Cluster {
        Self::with_agents(0).await
    }

    pub async fn start_with(options: ClusterOptions) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("mesos-tests-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let (master, master_port) = start_master(&root, &options.master_flags).await;
        let mut cluster = Cluster {
            master,
            master_port,
            agents: Vec::new(),
            options,
            root,
            dir: Some(dir),
        };
        for _ in 0..cluster.options.agents {
            cluster.add_agent().await;
        }
        cluster.wait_for_active_agents(cluster.agents.len()).await;
        cluster
    }

    /// The private temp dir of this cluster.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `127.0.0.1:<master port>`, as `--master` takes it.
    pub fn master_addr(&self) -> String {
        format!("127.0.0.1:{}", self.master_port)
    }

    pub fn master_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.master_port)
    }

    pub fn agent_url(&self, agent: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.agents[agent].port)
    }

    /// Starts one more agent with the cluster's options and waits until it answers HTTP
    /// (registration is checked separately). Returns its index.
    pub async fn add_agent(&mut self) -> usize {
        self.add_agent_with(&[]).await
    }

    /// Like [`Cluster::add_agent`], with `extra` flags after the cluster's agent flags
    /// (either replacing a standard flag of the same name).
    pub async fn add_agent_with(&mut self, extra: &[&str]) -> usize {
        let index = self.agents.len();
        let work_dir = self.root.join(format!("agent{index}"));
        std::fs::create_dir_all(&work_dir).expect("agent work dir");
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let mut args = vec![
                format!("--master={}", self.master_addr()),
                "--ip=127.0.0.1".to_string(),
                format!("--port={port}"),
                format!("--work_dir={}", work_dir.display()),
                format!("--resources={}", self.options.agent_resources),
                "--status_update_retry_interval_min=500ms".to_string(),
            ];
            let mut given: Vec<String> = self.options.agent_flags.clone();
            given.extend(extra.iter().map(|f| f.to_string()));
            // A flag given here replaces the standard one (the agent refuses a flag given
            // twice).
            let name = |flag: &str| flag.split('=').next().unwrap_or("").to_string();
            args.retain(|a| !given.iter().any(|g| name(g) == name(a)));
            args.extend(given);
            let mut proc = Proc::spawn(
                &format!("agent{index}"),
                &binary("mesos-agent"),
                args,
                &self.root,
            );
            let url = format!("http://127.0.0.1:{port}/health");
            match wait_ready(&mut proc, &url).await {
                Ok(()) => {
                    self.agents.push(Agent {
                        proc,
                        port,
                        work_dir,
                    });
                    return index;
                }
                Err(why) if attempt < START_ATTEMPTS && proc.try_exit().is_some() => {
                    eprintln!("agent{index} on port {port} did not start ({why}); retrying");
                }
                Err(why) => panic!(
                    "agent{index} on port {port} did not become ready: {why}\n{}",
                    proc.log_tail(60)
                ),
            }
        }
        unreachable!()
    }

    /// Waits until `/master/state` lists at least `count` active agents.
    pub async fn wait_for_active_agents(&self, count: usize) {
        if count == 0 {
            return;
        }
        let state_url = self.master_url("/master/state");
        let registered = tokio::time::timeout(STARTUP, async {
            loop {
                let response = http::get(&state_url).await;
                if response.status == 200 {
                    let state = response.json();
                    let active = state["slaves"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|s| s["active"].as_bool() != Some(false))
                        .count();
                    if active >= count {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        if registered.is_err() {
            let logs: String = self.agents.iter().map(|a| a.proc.log_tail(40)).collect();
            panic!(
                "{count} agent(s) did not register with the master within {STARTUP:?}\n{}\n{logs}",
                self.master.log_tail(40)
            );
        }
    }

    /// SIGKILLs agent `agent` (its tasks keep running, as with a crashed agent).
    pub fn kill_agent(&mut self, agent: usize) {
        self.agents[agent].proc.kill9();
    }

    /// Restarts agent `agent` with the same flags, port and work_dir, and waits until it
    /// answers HTTP again.
    pub async fn restart_agent(&mut self, agent: usize) {
        let port = self.agents[agent].port;
        let proc = &mut self.agents[agent].proc;
        proc.restart();
        if let Err(why) = wait_ready(proc, &format!("http://127.0.0.1:{port}/health")).await {
            panic!(
                "agent{agent} did not come back after restart: {why}\n{}",
                proc.log_tail(60)
            );
        }
    }

    /// Subscribes a framework named `name`.
    pub async fn subscribe(&self, name: &str) -> Scheduler {
        Scheduler::subscribe(&self.master_addr(), framework_info(name)).await
    }

    /// Subscribes a framework with the given FrameworkInfo.
    pub async fn subscribe_with(&self, framework_info: Value) -> Scheduler {
        Scheduler::subscribe(&self.master_addr(), framework_info).await
    }

    // ----- state queries -----

    pub async fn master_state(&self) -> Value {
        http::get_json(&self.master_url("/master/state")).await
    }

    pub async fn agent_state(&self, agent: usize) -> Value {
        http::get_json(&self.agent_url(agent, "/state")).await
    }

    /// The agent id of agent `agent`, from its own `/state`, else from the master's list
    /// (matching the port in the `pid`).
    pub async fn agent_id(&self, agent: usize) -> String {
        let port = self.agents[agent].port;
        eventually(&format!("the id of agent{agent}"), TIMEOUT, async || {
            let own = http::get(&self.agent_url(agent, "/state")).await;
            if own.status == 200 {
                if let Some(id) = own.json()["id"].as_str().filter(|id| !id.is_empty()) {
                    return Some(id.to_string());
                }
            }
            let state = self.master_state().await;
            state["slaves"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| {
                    s["pid"]
                        .as_str()
                        .is_some_and(|pid| pid.ends_with(&format!(":{port}")))
                })
                .and_then(|s| s["id"].as_str().map(str::to_string))
        })
        .await
    }

    /// Index of the agent whose id is `agent_id`.
    pub async fn agent_index(&self, agent_id: &str) -> usize {
        for index in 0..self.agents.len() {
            if self.agent_id(index).await == agent_id {
                return index;
            }
        }
        panic!("no agent of this cluster has id {agent_id}");
    }

    /// The master's entry for agent `agent_id` in `slaves`, if listed.
    pub async fn master_agent(&self, agent_id: &str) -> Option<Value> {
        let state = self.master_state().await;
        state["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == agent_id)
            .cloned()
    }

    /// `task_id` as `/master/state` shows it, searching active and completed frameworks and
    /// both `tasks` and `completed_tasks`.
    pub async fn master_task(&self, task_id: &str) -> Option<MasterTask> {
        let state = self.master_state().await;
        find_master_task(&state, task_id)
    }

    /// The executor entry of `task_id` in agent `agent`'s `/state`, searching live and
    /// completed frameworks and executors.
    pub async fn agent_executor(&self, agent: usize, task_id: &str) -> Option<Value> {
        let state = self.agent_state(agent).await;
        find_executor(&state, task_id).map(|(executor, _)| executor)
    }

    /// True while agent `agent` lists `task_id` among a live executor's tasks.
    pub async fn agent_runs_task(&self, agent: usize, task_id: &str) -> bool {
        let state = self.agent_state(agent).await;
        matches!(find_executor(&state, task_id), Some((_, true)))
    }

    /// The sandbox directory of `task_id` on agent `agent`.
    pub async fn sandbox_dir(&self, agent: usize, task_id: &str) -> String {
        eventually(
            &format!("the sandbox of task {task_id} in agent{agent}'s /state"),
            TIMEOUT,
            async || {
                let executor = self.agent_executor(agent, task_id).await?;
                executor["directory"]
                    .as_str()
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
            },
        )
        .await
    }

    /// Reads `<sandbox>/<file>` of `task_id` through the agent's `/files/read`.
    pub async fn read_sandbox_file(&self, agent: usize, task_id: &str, file: &str) -> String {
        let dir = self.sandbox_dir(agent, task_id).await;
        let path = format!("{dir}/{file}");
        let request = http::client()
            .get(self.agent_url(agent, "/files/read"))
            .query(&[("path", path.as_str()), ("offset", "0")]);
        let response = http::send(request)
            .await
            .unwrap_or_else(|e| panic!("/files/read {path}: {e}"));
        assert_eq!(
            response.status, 200,
            "/files/read?path={path}: {}",
            response.body
        );
        let body = response.json();
        assert_eq!(
            body["offset"].as_u64(),
            Some(0),
            "/files/read answer: {body}"
        );
        body["data"]
            .as_str()
            .unwrap_or_else(|| panic!("/files/read answer has no data: {body}"))
            .to_string()
    }

    /// Polls the sandbox file until it contains `needle`; returns the contents.
    pub async fn wait_for_sandbox_text(
        &self,
        agent: usize,
        task_id: &str,
        file: &str,
        needle: &str,
    ) -> String {
        eventually(
            &format!("{needle:?} in {file} of task {task_id}"),
            TIMEOUT,
            async || {
                let text = self.read_sandbox_file(agent, task_id, file).await;
                text.contains(needle).then_some(text)
            },
        )
        .await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for agent in &mut self.agents {
            agent.proc.kill9();
        }
        self.master.kill9();
        kill_processes_under(&self.root);
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "mesos-tests: kept the cluster's files in {}",
                    kept.display()
                );
            }
        }
    }
}

/// Starts a master on a free port, retrying on another port if it exits during startup.
async fn start_master(root: &Path, extra_flags: &[String]) -> (Proc, u16) {
    let work_dir = root.join("master");
    std::fs::create_dir_all(&work_dir).expect("master work dir");
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        let mut args = vec![
            "--ip=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--work_dir={}", work_dir.display()),
            "--allocation_interval=100ms".to_string(),
            "--agent_ping_timeout=1secs".to_string(),
            "--max_agent_ping_timeouts=3".to_string(),
        ];
        // A flag given in `extra_flags` replaces the standard one (the master refuses a
        // flag given twice).
        let name = |flag: &str| flag.split('=').next().unwrap_or("").to_string();
        args.retain(|a| !extra_flags.iter().any(|e| name(e) == name(a)));
        args.extend(extra_flags.iter().cloned());
        let mut proc = Proc::spawn("master", &binary("mesos-master"), args, root);
        let url = format!("http://127.0.0.1:{port}/health");
        match wait_ready(&mut proc, &url).await {
            Ok(()) => return (proc, port),
            Err(why) if attempt < START_ATTEMPTS && proc.try_exit().is_some() => {
                eprintln!("master on port {port} did not start ({why}); retrying");
            }
            Err(why) => panic!(
                "master on port {port} did not become ready: {why}\n{}",
                proc.log_tail(60)
            ),
        }
    }
    unreachable!()
}

/// Polls `url` until it answers 200, failing early when the process exits.
pub async fn wait_ready(proc: &mut Proc, url: &str) -> Result<(), String> {
    let client = http::client();
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        if let Some(status) = proc.try_exit() {
            return Err(format!("{} exited with {status}", proc.name()));
        }
        let answer = client.get(url).timeout(Duration::from_secs(2)).send().await;
        if let Ok(response) = answer {
            if response.status().as_u16() == 200 {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("{url} did not answer 200 within {STARTUP:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Searches a `/master/state` document for a task.
pub fn find_master_task(state: &Value, task_id: &str) -> Option<MasterTask> {
    for (list, framework_completed) in [("frameworks", false), ("completed_frameworks", true)] {
        for framework in state[list].as_array().into_iter().flatten() {
            for (tasks, task_completed) in [("tasks", false), ("completed_tasks", true)] {
                let found = framework[tasks]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|t| t["id"] == task_id);
                if let Some(task) = found {
                    return Some(MasterTask {
                        task: task.clone(),
                        framework_id: framework["id"].as_str().unwrap_or("").to_string(),
                        framework_completed,
                        task_completed,
                    });
                }
            }
        }
    }
    None
}

/// Searches an agent `/state` document for the executor running (or having run) `task_id`.
/// Returns the executor and whether the task is live in it.
pub fn find_executor(state: &Value, task_id: &str) -> Option<(Value, bool)> {
    let has = |executor: &Value, list: &str| {
        executor[list]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["id"] == task_id)
    };
    let mut completed = None;
    for frameworks in ["frameworks", "completed_frameworks"] {
        for framework in state[frameworks].as_array().into_iter().flatten() {
            for executors in ["executors", "completed_executors"] {
                for executor in framework[executors].as_array().into_iter().flatten() {
                    let live = frameworks == "frameworks"
                        && executors == "executors"
                        && (has(executor, "tasks") || has(executor, "queued_tasks"));
                    if live {
                        return Some((executor.clone(), true));
                    }
                    if completed.is_none()
                        && (executor["id"] == task_id
                            || has(executor, "tasks")
                            || has(executor, "queued_tasks")
                            || has(executor, "completed_tasks"))
                    {
                        completed = Some((executor.clone(), false));
                    }
                }
            }
        }
    }
    completed
}
