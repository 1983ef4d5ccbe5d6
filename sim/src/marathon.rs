//! Marathon's benchmarks: a real `marathon` (release) on a real `mesos-master`, with
//! simulated agents, driven over Marathon's REST API (`mesos-sim marathon`).
//!
//! ```text
//!  one   mesos-master ◀─gRPC─ Fleet (500)   ◀─v1 API─ marathon ◀─ POST one app of 500
//!  many  mesos-master ◀─gRPC─ Fleet (1,000) ◀─v1 API─ marathon ◀─ POST 1,000 apps x 10,
//!                                                                 GET /v2/apps?embed, RSS
//!  ha    mesos-master ◀─ Fleet ◀─ marathon A (leads) + marathon B (standby) ◀─▶ ZooKeeper
//!                      kill -9 A ─▶ B serves /v2/apps; no task restarted
//!  roll  mesos-master ◀─ Fleet (100) ◀─ marathon ◀─ POST one app of 1,000, then PUT a new
//!                                                   config under two upgradeStrategies
//! ```
//!
//! Marathon's published figures these are measured against: 500 instances in 14.2 s on
//! 189 agents; `/v2/apps` of 1,000 tasks in 12 s. Times are wall clock on loopback; the
//! CPU time the marathon process used (from `/proc/<pid>/stat`) is reported beside them,
//! per unit of work, because this machine's speed varies from day to day.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::agent::FleetStats;
use crate::alloc_bench::AGENT_RESOURCES;
use crate::bench::{mib, start_master_with};
use crate::failover::{zookeeper_script, ZooKeeper};
use crate::fleet::{Fleet, FleetConfig};
use crate::process::{self, ChildProcess};
use crate::report::{percentile, Machine, Report, Row, Scenario};

/// Scenarios, in the order they run: `one` (target 1), `many` (targets 2 to 4), `ha`
/// (target 5, needs ZooKeeper), `roll` (rolling restarts of one app of 1,000 instances).
pub const SCENARIOS: [&str; 4] = ["one", "many", "ha", "roll"];
/// Resources of every benchmark instance.
const INSTANCE_CPUS: f64 = 0.1;
const INSTANCE_MEM: f64 = 32.0;
/// The command of every instance: not `sleep`, so simulated agents run it until killed.
const INSTANCE_CMD: &str = "exec ./server --port $PORT0";

#[derive(Debug, Clone)]
pub struct MarathonOptions {
    pub scale: f64,
    pub seed: u64,
    pub scenarios: Vec<String>,
    /// Where `mesos-master` and `marathon` are; next to this binary by default.
    pub bin_dir: Option<PathBuf>,
    pub work_dir: PathBuf,
    pub fd_limit: u64,
    /// `--internal_store_backend` of scenarios one and many: `mem` or `embedded`.
    pub store: String,
    pub max_instances_per_offer: u32,
    pub decline_offer_duration_ms: u64,
    /// Simulated agents, apps and instances per app of scenario many.
    pub many_agents: usize,
    pub many_apps: usize,
    pub many_instances: usize,
    /// How long scenario many waits for every instance to run; past it, the scenario
    /// reports how far it got and measures memory and GETs on that.
    pub many_timeout: Duration,
    /// POST /v2/apps requests in flight at once in scenario many.
    pub post_concurrency: usize,
    /// Timed GETs of each endpoint in scenario many.
    pub gets: usize,
    /// Apps, instances per app and agents of scenario ha.
    pub ha_apps: usize,
    pub ha_instances: usize,
    pub ha_agents: usize,
    /// Marathon's `--zk_session_timeout` in scenario ha.
    pub session_timeout: Duration,
    pub zookeeper_script: Option<PathBuf>,
    /// `MARATHON_LOG_LEVEL` and `MESOS_LOG_LEVEL` of the processes started.
    pub marathon_log_level: String,
    pub master_log_level: String,
    /// More flags for every marathon.
    pub marathon_args: Vec<String>,
}

impl MarathonOptions {
    fn scaled(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }

    fn binary(&self, name: &str) -> anyhow::Result<PathBuf> {
        process::find_binary(name, self.bin_dir.as_deref())
    }
}

/// Runs the selected scenarios; a failing scenario is reported and the others still run.
pub async fn run(options: &MarathonOptions, command: String) -> Report {
    let mut scenarios = Vec::new();
    for id in SCENARIOS {
        if !options.scenarios.iter().any(|s| s == id) {
            continue;
        }
        let started = Instant::now();
        let mut scenario = match id {
            "one" => Scenario::new("one", "One app of 500 instances, POST to all RUNNING"),
            "many" => Scenario::new("many", "Many apps: placement, /v2/apps, memory"),
            "roll" => Scenario::new("roll", "Rolling restarts of one app of 1,000 instances"),
            _ => Scenario::new("ha", "kill -9 of the leading Marathon"),
        };
        eprintln!("== scenario {id}: {}", scenario.title);
        let result = match id {
            "one" => one_app(options, &mut scenario).await,
            "many" => many_apps(options, &mut scenario).await,
            "roll" => rolling_restarts(options, &mut scenario).await,
            _ => failover(options, &mut scenario).await,
        };
        if let Err(e) = result {
            eprintln!("scenario {id} failed: {e:#}");
            scenario.error = Some(format!("{e:#}"));
        }
        scenario.seconds = started.elapsed().as_secs_f64();
        if options.scale < 1.0 {
            for row in &mut scenario.rows {
                row.target = None;
                row.met = None;
            }
        }
        scenarios.push(scenario);
    }
    Report {
        title: Some("Benchmark results: Marathon".to_string()),
        intro: Some(
            "A real `marathon` and a real `mesos-master` (release builds, child processes on \
             loopback) with simulated agents: in-process fakes that speak the real agent \
             protocol, whose tasks are *scheduled* (placed, reported RUNNING, acknowledged), \
             not run in containers. Marathon's published figures: 500 instances in 14.2 s on \
             189 agents; `/v2/apps` of 1,000 tasks in 12 s. CPU figures are the marathon \
             process's user + system time from `/proc/<pid>/stat` over the measured work."
                .to_string(),
        ),
        command,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        git_sha: crate::report::git_sha(),
        machine: Machine::detect(options.fd_limit),
        scale: options.scale,
        seed: options.seed,
        scenarios,
    }
}

// ------------------------------------------------------------------------- helpers

/// A marathon process and a client for its API.
struct Marathon {
    proc: ChildProcess,
    client: reqwest::Client,
}

impl Marathon {
    /// Starts `marathon` against `master` with the common flags, then `args`.
    async fn start(
        options: &MarathonOptions,
        name: &str,
        master: SocketAddr,
        args: Vec<String>,
    ) -> anyhow::Result<Marathon> {
        let port = process::free_port()?;
        let mut all = vec![
            format!("--master={master}"),
            "--http_address=127.0.0.1".to_string(),
            format!("--http_port={port}"),
            "--hostname=127.0.0.1".to_string(),
            format!(
                "--max_instances_per_offer={}",
                options.max_instances_per_offer
            ),
            format!(
                "--decline_offer_duration={}",
                options.decline_offer_duration_ms
            ),
        ];
        all.extend(args);
        all.extend(options.marathon_args.iter().cloned());
        let proc = ChildProcess::start(
            name,
            &options.binary("marathon")?,
            all,
            &[("MARATHON_LOG_LEVEL", options.marathon_log_level.as_str())],
            SocketAddr::from(([127, 0, 0, 1], port)),
            "/ping",
            &options.work_dir,
        )
        .await?;
        Ok(Marathon {
            proc,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proc.addr)
    }

    /// What it calls itself in `X-Marathon-Leader` and `/v2/leader`.
    fn me(&self) -> String {
        self.proc.addr.to_string()
    }

    fn cpu(&self) -> Duration {
        self.proc.cpu_time().unwrap_or_default()
    }

    async fn post_app(&self, app: &Value) -> anyhow::Result<()> {
        let r = self
            .client
            .post(self.url("/v2/apps"))
            .json(app)
            .send()
            .await?;
        let status = r.status();
        if status.as_u16() != 201 {
            bail!("POST /v2/apps {}: {status} {}", app["id"], r.text().await?);
        }
        Ok(())
    }

    async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.client.get(self.url(path)).send().await?;
        Ok(r.error_for_status()?.json().await?)
    }

    /// Instances Marathon counts as TASK_RUNNING (`/metrics`).
    async fn running(&self) -> anyhow::Result<u64> {
        self.gauge("marathon.instances.running.gauge").await
    }

    async fn gauge(&self, name: &str) -> anyhow::Result<u64> {
        let metrics = self.get_json("/metrics").await?;
        metrics["gauges"][name]["value"]
            .as_f64()
            .map(|v| v as u64)
            .with_context(|| format!("/metrics has no {name}"))
    }

    /// Polls `/metrics` every `every` until `n` instances run; returns when it saw them.
    async fn wait_running(
        &self,
        n: u64,
        every: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Instant> {
        let started = Instant::now();
        let mut last = 0;
        loop {
            if let Ok(running) = self.running().await {
                last = running;
                if running >= n {
                    return Ok(Instant::now());
                }
            }
            if started.elapsed() > timeout {
                bail!("{last} of {n} instances running after {timeout:?}");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Waits (polling every 50 ms, for up to 300 s) until `n` instances run: the seconds
    /// since `t0` and the CPU this marathon used since it had used `cpu`.
    async fn filled(
        &self,
        n: usize,
        t0: Instant,
        cpu: Duration,
    ) -> anyhow::Result<(f64, Duration)> {
        let done = self
            .wait_running(
                n as u64,
                Duration::from_millis(50),
                Duration::from_secs(300),
            )
            .await?;
        Ok((done.duration_since(t0).as_secs_f64(), self.cpu() - cpu))
    }

    /// The leader it names on `/v2/leader`, if any.
    async fn leader(&self) -> Option<String> {
        let v = self.get_json("/v2/leader").await.ok()?;
        v["leader"].as_str().map(str::to_string)
    }
}

fn app(id: &str, instances: usize) -> Value {
    json!({
        "id": id,
        "cmd": INSTANCE_CMD,
        "cpus": INSTANCE_CPUS,
        "mem": INSTANCE_MEM,
        "instances": instances,
    })
}

async fn start_fleet(
    options: &MarathonOptions,
    master: SocketAddr,
    agents: usize,
) -> anyhow::Result<Fleet> {
    let mut config = FleetConfig::new(master, agents, AGENT_RESOURCES);
    config.seed = options.seed;
    let budget = (options.fd_limit as usize).saturating_sub(4096).max(64) / 2;
    config.agents_per_connection = FleetConfig::auto_agents_per_connection(agents, budget);
    let fleet = Fleet::start(config).await?;
    let took = fleet
        .wait_registered(Duration::from_secs(60) + Duration::from_millis(agents as u64 * 4))
        .await?;
    eprintln!(
        "  {agents} simulated agents registered in {:.1} s",
        took.as_secs_f64()
    );
    Ok(fleet)
}

async fn start_master(options: &MarathonOptions, name: &str) -> anyhow::Result<ChildProcess> {
    start_master_with(
        &options.binary("mesos-master")?,
        &options.work_dir,
        name,
        &options.master_log_level,
        &[],
    )
    .await
}

/// Waits until the master counts `n` active frameworks (Marathon subscribed).
async fn wait_subscribed(master: &ChildProcess, n: f64) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Ok(m) = master.get_json("/metrics/snapshot").await {
            if m["master/frameworks_active"].as_f64() >= Some(n) {
                return Ok(());
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("marathon did not subscribe to the master within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn store_args(options: &MarathonOptions, name: &str) -> anyhow::Result<Vec<String>> {
    let mut args = vec![
        format!("--internal_store_backend={}", options.store),
        "--disable_ha".to_string(),
    ];
    match options.store.as_str() {
        "mem" => {}
        "embedded" => args.push(format!(
            "--store_path={}",
            options.work_dir.join(format!("{name}.db")).display()
        )),
        other => bail!("--store must be mem or embedded, not {other}"),
    }
    Ok(args)
}

/// When the simulated agents first received a task, and when `n` of them ran, sampled
/// every 2 ms in the background.
struct AgentClock {
    first_launch: Arc<std::sync::OnceLock<Instant>>,
    all_running: Arc<std::sync::OnceLock<Instant>>,
    task: tokio::task::JoinHandle<()>,
}

impl AgentClock {
    fn start(stats: Arc<FleetStats>, n: i64) -> AgentClock {
        let first_launch = Arc::new(std::sync::OnceLock::new());
        let all_running = Arc::new(std::sync::OnceLock::new());
        let (first, all) = (first_launch.clone(), all_running.clone());
        let launched_before = stats.tasks_launched.load(Ordering::Relaxed);
        let active_before = stats.tasks_active.load(Ordering::Relaxed);
        let task = tokio::spawn(async move {
            loop {
                if stats.tasks_launched.load(Ordering::Relaxed) > launched_before {
                    let _ = first.set(Instant::now());
                }
                if stats.tasks_active.load(Ordering::Relaxed) - active_before >= n {
                    let _ = all.set(Instant::now());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        AgentClock {
            first_launch,
            all_running,
            task,
        }
    }

    fn since(at: &std::sync::OnceLock<Instant>, t0: Instant) -> f64 {
        at.get()
            .map_or(f64::NAN, |t| t.duration_since(t0).as_secs_f64())
    }
}

impl Drop for AgentClock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn cpu_row(metric: &str, cpu: Duration, units: usize) -> Row {
    Row::new(metric, cpu.as_secs_f64() * 1e6 / units.max(1) as f64, "us")
}

/// Lines of a log that contain `needle`.
fn log_lines(path: &std::path::Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().filter(|l| l.contains(needle)).count())
        .unwrap_or(0)
}

// ------------------------------------------------------------------------- one

async fn one_app(options: &MarathonOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let agents = options.scaled(500);
    let instances = options.scaled(500);
    let master = start_master(options, "master-one").await?;
    let fleet = start_fleet(options, master.addr, agents).await?;
    let marathon = Marathon::start(
        options,
        "marathon-one",
        master.addr,
        store_args(options, "marathon-one")?,
    )
    .await?;
    scenario.setup = format!(
        "real mesos-master (release, allocation interval 1 s), {agents} simulated agents \
         `{AGENT_RESOURCES}`, one marathon (release, `--internal_store_backend {}`, \
         `--max_instances_per_offer {}`, `--decline_offer_duration {}`); one app of \
         {instances} instances `cpus:{INSTANCE_CPUS};mem:{INSTANCE_MEM}`, one host port each, \
         POSTed to an idle Marathon (no app, offers suppressed); done when Marathon's \
         `/metrics` (polled every 10 ms) counts {instances} instances TASK_RUNNING",
        options.store, options.max_instances_per_offer, options.decline_offer_duration_ms
    );
    let result = async {
        wait_subscribed(&master, 1.0).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let clock = AgentClock::start(fleet.stats.clone(), instances as i64);
        let cpu = marathon.cpu();
        let master_cpu = master.cpu_time().unwrap_or_default();
        let t0 = Instant::now();
        marathon.post_app(&app("/bench/one", instances)).await?;
        let posted = t0.elapsed().as_secs_f64();
        let done = marathon
            .wait_running(
                instances as u64,
                Duration::from_millis(10),
                Duration::from_secs(120),
            )
            .await?;
        let took = done.duration_since(t0).as_secs_f64();
        let cpu = marathon.cpu() - cpu;
        let master_cpu = master.cpu_time().unwrap_or_default() - master_cpu;
        eprintln!("  {instances} instances running {took:.2} s after the POST");
        scenario.row(
            Row::new(
                format!("POST to {instances} instances RUNNING (target 1)"),
                took,
                "s",
            )
            .at_most(1.0),
        );
        scenario.row(Row::new(
            "POST to the first task at an agent",
            AgentClock::since(&clock.first_launch, t0),
            "s",
        ));
        scenario.row(Row::new(
            format!("POST to {instances} TASK_RUNNING sent by the agents"),
            AgentClock::since(&clock.all_running, t0),
            "s",
        ));
        scenario.row(cpu_row("marathon CPU per instance", cpu, instances));
        scenario.row(cpu_row("master CPU per instance", master_cpu, instances));
        if let Some((rss, _)) = marathon.proc.memory() {
            scenario.row(Row::new("marathon RSS", mib(rss), "MiB"));
        }
        scenario.note(format!(
            "the POST answered in {:.0} ms; Marathon 1.x: 500 instances in 14.2 s on 189 agents \
             ({:.0}x this run); marathon used {:.0} ms of CPU in all ({:.0}% of the wall time)",
            posted * 1000.0,
            14.2 / took,
            cpu.as_secs_f64() * 1000.0,
            cpu.as_secs_f64() / took * 100.0
        ));
        anyhow::Ok(())
    }
    .await;
    marathon.proc.stop().await;
    fleet.stop().await;
    master.stop().await;
    result
}

// ------------------------------------------------------------------------- roll

/// Launches one app, then restarts it with a new config under each upgrade strategy. The
/// instances have no health checks, so each is healthy once running: every second of a
/// restart is Marathon's and the master's work (planning, kills, launches), none of it a
/// health delay. The first launch of as many instances in the same run is the yardstick.
async fn rolling_restarts(
    options: &MarathonOptions,
    scenario: &mut Scenario,
) -> anyhow::Result<()> {
    let agents = options.scaled(100);
    let instances = options.scaled(1000);
    let master = start_master(options, "master-roll").await?;
    let fleet = start_fleet(options, master.addr, agents).await?;
    let marathon = Marathon::start(
        options,
        "marathon-roll",
        master.addr,
        store_args(options, "marathon-roll")?,
    )
    .await?;
    let strategies = [(1.0, 1.0), (0.9, 0.1)];
    scenario.setup = format!(
        "real mesos-master, {agents} simulated agents `{AGENT_RESOURCES}`, one marathon \
         (`--internal_store_backend {}`); one app of {instances} instances without health \
         checks, then `PUT /v2/apps/{{id}}` of a new `env` under upgradeStrategy \
         (minimumHealthCapacity, maximumOverCapacity) = {strategies:?}; a restart is done \
         when `/v2/deployments` is empty and {instances} instances run (both polled every \
         20 ms, with the instances Marathon holds, to check the capacity bound)",
        options.store
    );
    let result = async {
        wait_subscribed(&master, 1.0).await?;
        let cpu = marathon.cpu();
        let t0 = Instant::now();
        marathon.post_app(&app("/bench/roll", instances)).await?;
        let (launch, launch_cpu) = marathon.filled(instances, t0, cpu).await?;
        scenario.row(Row::new(
            format!("POST to {instances} instances RUNNING (the yardstick)"),
            launch,
            "s",
        ));
        scenario.row(cpu_row("marathon CPU per instance launched", launch_cpu, instances));
        wait_no_deployment(&marathon).await?;
        for (round, (min, over)) in strategies.into_iter().enumerate() {
            let cpu = marathon.cpu();
            let t0 = Instant::now();
            let body = json!({"env": {"ROUND": round.to_string()},
                "upgradeStrategy": {"minimumHealthCapacity": min, "maximumOverCapacity": over}});
            let r = marathon
                .client
                .put(marathon.url("/v2/apps/bench/roll?force=true"))
                .json(&body)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("PUT /v2/apps/bench/roll: {} {}", r.status(), r.text().await?);
            }
            let mut most_alive = 0;
            loop {
                let alive = marathon.gauge("marathon.instances.launched.gauge").await?;
                most_alive = most_alive.max(alive);
                let deployments = marathon.get_json("/v2/deployments").await?;
                if deployments.as_array().is_some_and(|d| d.is_empty())
                    && marathon.running().await? == instances as u64
                {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(600) {
                    bail!("the restart under ({min}, {over}) did not finish in 600 s");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let took = t0.elapsed().as_secs_f64();
            let cpu = marathon.cpu() - cpu;
            let bound = (instances as f64 * (1.0 + over) + 1e-9).floor() as u64;
            eprintln!("  restart ({min}, {over}): {took:.2} s, at most {most_alive} alive (bound {bound})");
            // No health delay here: the whole restart is planning overhead.
            scenario.row(
                Row::new(
                    format!("restart of {instances} under ({min}, {over}), PUT to done"),
                    took,
                    "s",
                )
                .at_most(5.0),
            );
            scenario.row(Row::new(
                format!("restart under ({min}, {over}) / first launch (same run)"),
                took / launch,
                "x",
            ));
            scenario.row(cpu_row(
                &format!("marathon CPU per instance replaced under ({min}, {over})"),
                cpu,
                instances,
            ));
            scenario.row(Row::new(
                format!("most instances alive under ({min}, {over}), bound {bound}"),
                most_alive as f64,
                "instances",
            ));
            if most_alive > bound {
                bail!("{most_alive} instances alive, above the bound {bound}");
            }
        }
        anyhow::Ok(())
    }
    .await;
    marathon.proc.stop().await;
    fleet.stop().await;
    master.stop().await;
    result
}

async fn wait_no_deployment(marathon: &Marathon) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let d = marathon.get_json("/v2/deployments").await?;
        if d.as_array().is_some_and(|d| d.is_empty()) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("a deployment still runs after 60 s: {d}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ------------------------------------------------------------------------- many

async fn many_apps(options: &MarathonOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let agents = options.scaled(options.many_agents);
    let apps = options.scaled(options.many_apps);
    let per_app = options.many_instances.max(1);
    let instances = apps * per_app;
    // Targets 2 to 4 are stated for 1,000 apps of 10 instances (10,000 tasks).
    let full_shape = apps == 1_000 && instances == 10_000;
    let master = start_master(options, "master-many").await?;
    let fleet = start_fleet(options, master.addr, agents).await?;
    let marathon = Marathon::start(
        options,
        "marathon-many",
        master.addr,
        store_args(options, "marathon-many")?,
    )
    .await?;
    scenario.setup = format!(
        "real mesos-master (release, allocation interval 1 s), {agents} simulated agents \
         `{AGENT_RESOURCES}`, one marathon (release, `--internal_store_backend {}`, \
         `--max_instances_per_offer {}`, `--decline_offer_duration {}`); {apps} apps of \
         {per_app} instances `cpus:{INSTANCE_CPUS};mem:{INSTANCE_MEM}` (one host port each), \
         one POST /v2/apps each, {} in flight at once; done when `/metrics` (polled every \
         50 ms) counts {instances} TASK_RUNNING, or after {} s; then RSS, then GETs, one at \
         a time",
        options.store,
        options.max_instances_per_offer,
        options.decline_offer_duration_ms,
        options.post_concurrency,
        options.many_timeout.as_secs()
    );
    let result = async {
        wait_subscribed(&master, 1.0).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let clock = AgentClock::start(fleet.stats.clone(), instances as i64);
        let cpu = marathon.cpu();
        let master_cpu = master.cpu_time().unwrap_or_default();
        let t0 = Instant::now();
        let latencies: Vec<anyhow::Result<f64>> = futures::stream::iter(0..apps)
            .map(|i| {
                let marathon = &marathon;
                async move {
                    // The POSTs, too, are bounded by the scenario's budget.
                    if t0.elapsed() > options.many_timeout {
                        bail!("not sent: the {:?} budget was spent", options.many_timeout);
                    }
                    let started = Instant::now();
                    marathon
                        .post_app(&app(&format!("/bench/many/app-{i:04}"), per_app))
                        .await?;
                    Ok(started.elapsed().as_secs_f64() * 1000.0)
                }
            })
            .buffer_unordered(options.post_concurrency.max(1))
            .collect()
            .await;
        let posted = t0.elapsed().as_secs_f64();
        // A POST stuck behind a busy Marathon times out on the client (30 s); Marathon
        // still creates the app, so the wait goes on.
        let mut failed = Vec::new();
        let latencies: Vec<f64> = latencies
            .into_iter()
            .filter_map(|r| r.map_err(|e| failed.push(format!("{e:#}"))).ok())
            .collect();
        if let Some(first) = failed.first() {
            eprintln!("  {} POSTs failed, the first: {first}", failed.len());
            scenario.note(format!(
                "{} of {apps} POSTs failed (client timeout 30 s, or not sent once the budget \
                 was spent), the first with: {first}",
                failed.len()
            ));
        }
        let waited = marathon
            .wait_running(
                instances as u64,
                Duration::from_millis(50),
                options.many_timeout.saturating_sub(t0.elapsed()),
            )
            .await;
        let took = t0.elapsed().as_secs_f64();
        let cpu = marathon.cpu() - cpu;
        let master_cpu = master.cpu_time().unwrap_or_default() - master_cpu;
        let agents_ran = fleet.stats.tasks_active.load(Ordering::Relaxed);
        let running = match waited {
            Ok(done) => {
                let took = done.duration_since(t0).as_secs_f64();
                eprintln!("  {instances} instances of {apps} apps running {took:.2} s after the first POST");
                let row = Row::new(
                    format!("first POST to {instances} instances of {apps} apps RUNNING (target 2)"),
                    took,
                    "s",
                );
                scenario.row(if full_shape { row.at_most(10.0) } else { row });
                instances
            }
            Err(e) => {
                let running = marathon.running().await.unwrap_or(0) as usize;
                eprintln!("  gave up after {took:.0} s: {e:#}");
                let row = Row::new(
                    format!(
                        "first POST to {instances} instances of {apps} apps RUNNING (target 2): \
                         NOT REACHED, {running} RUNNING at Marathon after"
                    ),
                    took,
                    "s",
                );
                scenario.row(if full_shape { row.at_most(10.0) } else { row });
                scenario.note(format!(
                    "placement did not finish within {took:.0} s: Marathon counted {running} of \
                     {instances} instances RUNNING while the agents had sent TASK_RUNNING for \
                     {agents_ran}; the GETs and memory below are of that state"
                ));
                running
            }
        };
        if clock.all_running.get().is_some() {
            scenario.row(Row::new(
                format!("first POST to {instances} TASK_RUNNING sent by the agents"),
                AgentClock::since(&clock.all_running, t0),
                "s",
            ));
        } else {
            scenario.row(Row::new(
                "tasks the agents had reported RUNNING by then",
                agents_ran as f64,
                "tasks",
            ));
        }
        scenario.row(Row::new(format!("{apps} POSTs answered"), posted, "s"));
        scenario.row(Row::new(
            "POSTs failed (30 s client timeout) or not sent",
            failed.len() as f64,
            "requests",
        ));
        scenario.row(Row::new(
            "POST /v2/apps latency p50",
            percentile(&latencies, 50.0),
            "ms",
        ));
        scenario.row(Row::new(
            "POST /v2/apps latency p99",
            percentile(&latencies, 99.0),
            "ms",
        ));
        let complete = running == instances;
        if complete {
            scenario.row(cpu_row("marathon CPU per instance placed", cpu, instances));
            scenario.row(cpu_row("master CPU per instance placed", master_cpu, instances));
        } else {
            scenario.row(Row::new("marathon CPU until it was given up", cpu.as_secs_f64(), "s"));
            scenario.row(Row::new("master CPU until it was given up", master_cpu.as_secs_f64(), "s"));
        }

        tokio::time::sleep(Duration::from_secs(2)).await;
        let known = marathon
            .gauge("marathon.instances.launched.gauge")
            .await
            .unwrap_or(0) as usize;
        let (rss, hwm) = marathon
            .proc
            .memory()
            .context("cannot read marathon's memory")?;
        let row = Row::new(
            format!(
                "marathon RSS, {apps} apps and {known} instances, {} RUNNING (target 4)",
                marathon.running().await.unwrap_or(0)
            ),
            mib(rss),
            "MiB",
        );
        scenario.row(if full_shape && known == instances {
            row.at_most(256.0)
        } else {
            row
        });
        scenario.row(Row::new(
            "marathon RSS per instance",
            rss as f64 / known.max(1) as f64 / 1024.0,
            "KiB",
        ));

        let (embed, embed_size, embed_cpu) = marathon
            .proc
            .timed_gets("/v2/apps?embed=apps.tasks", options.gets)
            .await?;
        let (plain, plain_size, plain_cpu) = marathon.proc.timed_gets("/v2/apps", options.gets).await?;
        let (tasks, tasks_size, tasks_cpu) = marathon.proc.timed_gets("/v2/tasks", options.gets).await?;
        let row = Row::new(
            format!(
                "GET /v2/apps?embed=apps.tasks, {known} tasks (median of {}, target 3)",
                options.gets
            ),
            percentile(&embed, 50.0),
            "ms",
        );
        scenario.row(if running >= 10_000 { row.at_most(100.0) } else { row });
        scenario.row(cpu_row(
            "marathon CPU per GET /v2/apps?embed=apps.tasks",
            embed_cpu,
            1,
        ));
        scenario.row(Row::new(
            format!("GET /v2/apps (median of {})", options.gets),
            percentile(&plain, 50.0),
            "ms",
        ));
        scenario.row(Row::new(
            format!("GET /v2/tasks (median of {})", options.gets),
            percentile(&tasks, 50.0),
            "ms",
        ));
        let (rss_after, hwm_after) = marathon.proc.memory().unwrap_or((rss, hwm));
        scenario.note(format!(
            "POSTs: {apps} in {posted:.2} s; Marathon 1.x took 12 s for `/v2/apps` of 1,000 \
             tasks, this run {:.0} ms for {known} tasks with them embedded",
            percentile(&embed, 50.0)
        ));
        scenario.note(format!(
            "bodies: /v2/apps?embed=apps.tasks {:.1} MB (slowest {:.0} ms, CPU {:.0} ms per GET), \
             /v2/apps {:.1} MB (slowest {:.0} ms, CPU {:.0} ms), /v2/tasks {:.1} MB (slowest \
             {:.0} ms, CPU {:.0} ms)",
            embed_size as f64 / 1e6,
            percentile(&embed, 100.0),
            embed_cpu.as_secs_f64() * 1000.0,
            plain_size as f64 / 1e6,
            percentile(&plain, 100.0),
            plain_cpu.as_secs_f64() * 1000.0,
            tasks_size as f64 / 1e6,
            percentile(&tasks, 100.0),
            tasks_cpu.as_secs_f64() * 1000.0
        ));
        scenario.note(format!(
            "marathon memory: RSS {:.0} MiB after placement (peak {:.0} MiB), {:.0} MiB after \
             the GETs (peak {:.0} MiB); marathon used {:.2} s of CPU while placing ({:.0}% of \
             the wall time), the master {:.2} s",
            mib(rss),
            mib(hwm),
            mib(rss_after),
            mib(hwm_after),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() / took * 100.0,
            master_cpu.as_secs_f64()
        ));
        if !complete {
            scenario.note(
                "the GETs above are answered by the same actor that still works through the \
                 backlog of status updates, so they include waiting behind it",
            );
        }
        anyhow::Ok(())
    }
    .await;
    marathon.proc.stop().await;
    fleet.stop().await;
    master.stop().await;
    result
}

// ------------------------------------------------------------------------- ha

/// Task ids and start times Marathon lists on `/v2/tasks`.
async fn task_starts(marathon: &Marathon) -> anyhow::Result<Vec<(String, String)>> {
    let tasks = marathon.get_json("/v2/tasks").await?;
    let mut out: Vec<(String, String)> = tasks["tasks"]
        .as_array()
        .context("/v2/tasks has no tasks array")?
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                t["startedAt"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

async fn failover(options: &MarathonOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let agents = options.scaled(options.ha_agents);
    let apps = options.scaled(options.ha_apps);
    let per_app = options.ha_instances.max(1);
    let instances = apps * per_app;
    let session_ms = options.session_timeout.as_millis() as u64;
    let reconcile_delay_ms = 2_000;
    let script = zookeeper_script(options.zookeeper_script.as_deref())?;
    let zk = ZooKeeper::start(&script, &options.work_dir.join("zookeeper-ha"), 1).await?;
    let zk_url = zk.url("/marathon");
    let master = start_master(options, "master-ha").await?;
    let fleet = start_fleet(options, master.addr, agents).await?;
    let ha_args = || {
        vec![
            format!("--zk={zk_url}"),
            "--internal_store_backend=zk".to_string(),
            format!("--zk_session_timeout={session_ms}"),
            format!("--reconciliation_initial_delay={reconcile_delay_ms}"),
        ]
    };
    scenario.setup = format!(
        "ZooKeeper 3.8 (standalone, loopback, tickTime 500 ms), real mesos-master (release), \
         {agents} simulated agents `{AGENT_RESOURCES}`, two marathons (release) with \
         `--zk --internal_store_backend zk --zk_session_timeout {session_ms} \
         --reconciliation_initial_delay {reconcile_delay_ms}`, A elected first; {apps} apps of \
         {per_app} instances launched through A; then A is killed with SIGKILL and B's \
         `GET /v2/apps` polled every 10 ms until B answers it itself (`X-Marathon-Leader` is \
         B) with every app"
    );
    let a = Marathon::start(options, "marathon-ha-a", master.addr, ha_args()).await?;
    let result = async {
        let leader_a = &a;
        let started = Instant::now();
        while leader_a.leader().await.as_deref() != Some(leader_a.me().as_str()) {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("marathon A was not elected within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let b = Marathon::start(options, "marathon-ha-b", master.addr, ha_args()).await?;
        let outcome = async {
            wait_subscribed(&master, 1.0).await?;
            let cpu = leader_a.cpu();
            let t0 = Instant::now();
            let posts: Vec<anyhow::Result<()>> = futures::stream::iter(0..apps)
                .map(|i| async move {
                    leader_a
                        .post_app(&app(&format!("/bench/ha/app-{i:04}"), per_app))
                        .await
                })
                .buffer_unordered(options.post_concurrency.max(1))
                .collect()
                .await;
            posts.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
            let (fill, cpu) = leader_a.filled(instances, t0, cpu).await?;
            scenario.row(Row::new(
                format!("first POST to {instances} RUNNING, ZooKeeper store"),
                fill,
                "s",
            ));
            scenario.row(cpu_row(
                "marathon CPU per instance placed, ZooKeeper store",
                cpu,
                instances,
            ));
            // Let the acknowledgements of the last updates reach the agents.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let before = task_starts(leader_a).await?;
            if before.len() != instances {
                bail!("A lists {} tasks, not {instances}", before.len());
            }
            let launched = fleet.stats.tasks_launched.load(Ordering::Relaxed);
            let killed = fleet.stats.tasks_killed.load(Ordering::Relaxed);
            let b_me = format!("http://{}", b.me());

            // Not reaped until the end: the pid stays A's.
            let pid = nix::unistd::Pid::from_raw(leader_a.proc.pid() as i32);
            let b_cpu = b.cpu();
            let t_kill = Instant::now();
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)
                .context("cannot kill marathon A")?;
            let mut polls = 0;
            let mut refusals = 0;
            let served = loop {
                polls += 1;
                let answer = b
                    .client
                    .get(b.url("/v2/apps"))
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await;
                if let Ok(r) = answer {
                    let leader = r
                        .headers()
                        .get("X-Marathon-Leader")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let ok = r.status().is_success();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let listed = body["apps"].as_array().map_or(0, Vec::len);
                    if ok && leader.as_deref() == Some(b_me.as_str()) && listed == apps {
                        break t_kill.elapsed().as_secs_f64();
                    }
                    if !ok {
                        refusals += 1;
                    }
                }
                if t_kill.elapsed() > options.session_timeout * 3 + Duration::from_secs(30) {
                    bail!("B did not serve /v2/apps within {:?}", t_kill.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            eprintln!("  B served /v2/apps {served:.2} s after the kill -9 of A");
            let target = options.session_timeout.as_secs_f64() + 1.0;
            scenario.row(
                Row::new(
                    "kill -9 of the leader to the standby serving /v2/apps (target 5)",
                    served,
                    "s",
                )
                .at_most(target),
            );
            let running = b
                .wait_running(
                    instances as u64,
                    Duration::from_millis(50),
                    Duration::from_secs(120),
                )
                .await?;
            scenario.row(Row::new(
                format!("kill -9 to {instances} instances RUNNING at the new leader"),
                running.duration_since(t_kill).as_secs_f64(),
                "s",
            ));
            // Past the new leader's first reconciliation: a task it doubted would be
            // killed or replaced by now.
            tokio::time::sleep(Duration::from_millis(reconcile_delay_ms + 3_000)).await;
            let after = task_starts(&b).await?;
            let restarted_at_agents = fleet.stats.tasks_launched.load(Ordering::Relaxed) - launched
                + fleet.stats.tasks_killed.load(Ordering::Relaxed)
                - killed;
            let changed = after.iter().filter(|t| !before.contains(t)).count()
                + before.iter().filter(|t| !after.contains(t)).count();
            scenario.row(
                Row::new(
                    "tasks launched or killed at the agents after the kill -9",
                    restarted_at_agents as f64,
                    "tasks",
                )
                .at_most(0.0),
            );
            scenario.row(
                Row::new(
                    "task ids or start times changed on /v2/tasks (target 5)",
                    changed as f64,
                    "tasks",
                )
                .at_most(0.0),
            );
            let b_cpu = b.cpu() - b_cpu;
            scenario.note(format!(
                "the target is the ZooKeeper session timeout ({session_ms} ms) + 1 s: A's \
                 leader znode lives until ZooKeeper expires its session; B answered {polls} \
                 polls of /v2/apps, {refusals} of them with an error (proxying to the dead A), \
                 before answering itself; from the kill to {:.0} s later B used {:.2} s of CPU",
                t_kill.elapsed().as_secs_f64(),
                b_cpu.as_secs_f64()
            ));
            scenario.note(format!(
                "before and after: {} tasks on /v2/tasks, {} after; the new leader's log: {} \
                 lines saying it leads",
                before.len(),
                after.len(),
                log_lines(&b.proc.log, "leading")
            ));
            anyhow::Ok(())
        }
        .await;
        b.proc.stop().await;
        outcome
    }
    .await;
    a.proc.stop().await;
    fleet.stop().await;
    master.stop().await;
    drop(zk);
    result.map_err(|e| anyhow!(e))
}
