//! The benchmark command: scenarios a to f, each measured against its target and
//! collected into one [`Report`].
//!
//! ```text
//!  a  allocator (in process) ─────────────────────────────────────────────▶ cycle times
//!  b  mesos-master ◀─gRPC─ Fleet (5,000)  ◀─v1 API─ Workload (100,000 tasks) ▶ tasks/s
//!  c  mesos-master ◀─gRPC─ Fleet (50,000) ◀─v1 API─ 200 churning Workloads + probe ▶ p50/p99
//!  d  mesos-master ◀─gRPC─ Fleet (50,000) ◀─v1 API─ Workload (100,000 tasks) ▶ RSS, GET times
//!  e  mesos-master ◀─gRPC─ mesos-agent (real processes) ◀─ Workload (1,000 tasks) ▶ tasks/s, RSS
//!  f  mesos-master × 3 (ZooKeeper) ◀─gRPC─ Fleet (10,000, following the leader) ▶ failover times
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use mesos_scheduler::{ContentType, MasterAddress};

use crate::alloc_bench::{self, AGENT_RESOURCES};
use crate::fleet::{Fleet, FleetConfig};
use crate::framework::{TaskDuration, Workload, WorkloadConfig};
use crate::process::{self, ChildProcess};
use crate::report::{percentile, Machine, Report, Row, Scenario};

pub const SCENARIOS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const MIB: f64 = 1024.0 * 1024.0;
/// Tasks a benchmark framework has launched and not yet seen RUNNING, at most, as a real
/// scheduler paces its launches. The master no longer drops a framework that falls behind
/// its own burst (it leaves updates to the agents' retries above 64 MiB queued), but the
/// window keeps launch latencies comparable between runs.
const LAUNCH_WINDOW: u64 = 20_000;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Multiplies every size (agents, tasks, frameworks); 1.0 is the full benchmark.
    pub scale: f64,
    pub seed: u64,
    pub scenarios: Vec<String>,
    /// Where `mesos-master` and `mesos-agent` are; next to this binary by default.
    pub bin_dir: Option<PathBuf>,
    /// Logs and work directories of the processes started.
    pub work_dir: PathBuf,
    /// Encodings scenario b runs with.
    pub content_types: Vec<ContentType>,
    /// Probe runs in scenario c.
    pub probes: usize,
    /// Mean run time of the background tasks in scenario c.
    pub churn_secs: f64,
    /// Run time of the real tasks in scenario e.
    pub real_task_secs: f64,
    /// Allocation cycles per size in scenario a.
    pub alloc_cycles: usize,
    /// Agents sharing one HTTP/2 connection; `None`: 1, or more where the open-file
    /// limit requires it.
    pub agents_per_connection: Option<usize>,
    /// Master log level (`MESOS_LOG_LEVEL`).
    pub master_log_level: String,
    pub fd_limit: u64,
    /// Scenario f's own settings.
    pub failover: crate::failover::FailoverOptions,
}

impl BenchOptions {
    pub(crate) fn scaled(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }

    pub(crate) fn binary(&self, name: &str) -> anyhow::Result<PathBuf> {
        process::find_binary(name, self.bin_dir.as_deref())
    }

    pub(crate) fn sharing(&self, agents: usize) -> usize {
        self.agents_per_connection.unwrap_or_else(|| {
            // Each connection is a descriptor in this process and in the master; leave
            // room for the frameworks' connections and everything else.
            let budget = (self.fd_limit as usize).saturating_sub(4096).max(64) / 2;
            FleetConfig::auto_agents_per_connection(agents, budget)
        })
    }
}

/// Runs the selected scenarios; a failing scenario is reported and the others still run.
pub async fn run(options: &BenchOptions, command: String) -> Report {
    let mut scenarios = Vec::new();
    for id in SCENARIOS {
        if !options.scenarios.iter().any(|s| s == id) {
            continue;
        }
        let started = Instant::now();
        let mut scenario = match id {
            "a" => Scenario::new("a", "Allocator, DeclineOffers shape (in process)"),
            "b" => Scenario::new("b", "Placement throughput end to end"),
            "c" => Scenario::new("c", "Task launch overhead under load (Mesos paper)"),
            "d" => Scenario::new("d", "Master memory and state endpoints"),
            "f" => Scenario::new("f", "Master failover through ZooKeeper"),
            _ => Scenario::new("e", "One real agent launching command tasks"),
        };
        eprintln!("== scenario {id}: {}", scenario.title);
        let result = match id {
            "a" => allocator(options, &mut scenario),
            "b" => placement(options, &mut scenario).await,
            "c" => overhead(options, &mut scenario).await,
            "d" => memory(options, &mut scenario).await,
            "f" => crate::failover::failover(options, &mut scenario).await,
            _ => real_agent(options, &mut scenario).await,
        };
        if let Err(e) = result {
            eprintln!("scenario {id} failed: {e:#}");
            scenario.error = Some(format!("{e:#}"));
        }
        scenario.seconds = started.elapsed().as_secs_f64();
        if options.scale < 1.0 {
            // Targets are stated for the full sizes; a scaled run only shows figures.
            for row in &mut scenario.rows {
                row.target = None;
                row.met = None;
            }
        }
        scenarios.push(scenario);
    }
    Report {
        title: None,
        intro: None,
        command,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        git_sha: crate::report::git_sha(),
        machine: Machine::detect(options.fd_limit),
        scale: options.scale,
        seed: options.seed,
        scenarios,
    }
}

// ------------------------------------------------------------------------------ a

fn allocator(options: &BenchOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let sizes = [(1_000, 50), (10_000, 100), (10_000, 1_000), (50_000, 200)];
    let mut setup = Vec::new();
    for (agents, frameworks) in sizes {
        let (a, f) = (options.scaled(agents), options.scaled(frameworks));
        let t = alloc_bench::decline_offers(a, f, options.alloc_cycles, options.seed);
        eprintln!(
            "  {a}x{f}: first {:.1} ms, steady {:.1} ms, worst {:.1} ms ({:.0} offers per cycle)",
            t.first_ms, t.steady_ms, t.worst_ms, t.offers_per_cycle
        );
        let size = format!("{a}x{f}");
        let first = Row::new(format!("{size} first cycle"), t.first_ms, "ms");
        let steady = Row::new(format!("{size} steady cycle (median)"), t.steady_ms, "ms");
        let worst = Row::new(format!("{size} worst cycle"), t.worst_ms, "ms");
        if (agents, frameworks) == (10_000, 1_000) {
            scenario.row(first.at_most(50.0));
            scenario.row(steady.at_most(50.0));
            scenario.row(worst.at_most(50.0));
        } else {
            scenario.row(first);
            scenario.row(steady);
            scenario.row(worst);
        }
        scenario.note(format!(
            "{size}: {} cycles, {:.0} offers per steady cycle, declining one cycle's offers {:.1} ms, \
             worst cycle wall time {:.1} ms, setup {:.0} ms",
            t.cycles, t.offers_per_cycle, t.declines_ms, t.worst_wall_ms, t.setup_ms
        ));
        setup.push(size);
    }
    scenario.setup = format!(
        "agents x frameworks {}; agents `{AGENT_RESOURCES}`, each running a task of one \
         framework; every offer declined with a one-year filter; times are CPU time of the \
         allocating thread (Mesos 1.x: 1.06 s per cycle at 10,000x1,000)",
        setup.join(", ")
    );
    Ok(())
}

// ------------------------------------------------------------------------- helpers

/// A real master process and simulated agents registered with it.
struct Cluster {
    master: ChildProcess,
    fleet: Fleet,
    registration: Duration,
}

impl Cluster {
    fn address(&self) -> MasterAddress {
        MasterAddress::new(self.master.addr.ip().to_string(), self.master.addr.port())
    }

    async fn stop(self) {
        self.fleet.stop().await;
        self.master.stop().await;
    }
}

async fn start_master(options: &BenchOptions, name: &str) -> anyhow::Result<ChildProcess> {
    start_master_with(
        &options.binary("mesos-master")?,
        &options.work_dir,
        name,
        &options.master_log_level,
        &[],
    )
    .await
}

/// A release `mesos-master` on a free loopback port with its registry in memory, its
/// log and work directory under `work_dir`, and `extra` flags.
pub(crate) async fn start_master_with(
    program: &Path,
    work_dir: &Path,
    name: &str,
    log_level: &str,
    extra: &[String],
) -> anyhow::Result<ChildProcess> {
    let port = process::free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let work = work_dir.join(name);
    std::fs::create_dir_all(&work)?;
    let mut args = vec![
        "--ip=127.0.0.1".to_string(),
        format!("--port={port}"),
        format!("--work_dir={}", work.display()),
        "--registry=in_memory".to_string(),
    ];
    args.extend(extra.iter().cloned());
    ChildProcess::start(
        name,
        program,
        args,
        &[("MESOS_LOG_LEVEL", log_level)],
        addr,
        "/master/health",
        work_dir,
    )
    .await
}

async fn start_fleet(
    options: &BenchOptions,
    master: SocketAddr,
    agents: usize,
) -> anyhow::Result<Fleet> {
    let mut config = FleetConfig::new(master, agents, AGENT_RESOURCES);
    config.seed = options.seed;
    config.agents_per_connection = options.sharing(agents);
    Ok(Fleet::start(config).await?)
}

async fn start_cluster(
    options: &BenchOptions,
    name: &str,
    agents: usize,
) -> anyhow::Result<Cluster> {
    let master = start_master(options, name).await?;
    let fleet = start_fleet(options, master.addr, agents).await?;
    let registration = fleet
        .wait_registered(Duration::from_secs(60) + Duration::from_millis(agents as u64 * 4))
        .await?;
    eprintln!(
        "  {agents} simulated agents registered in {:.1} s over {} connections",
        registration.as_secs_f64(),
        fleet.connections
    );
    Ok(Cluster {
        master,
        fleet,
        registration,
    })
}

fn encoding_name(content_type: ContentType) -> &'static str {
    match content_type {
        ContentType::Protobuf => "protobuf",
        ContentType::Json => "json",
    }
}

pub(crate) async fn wait_for(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > timeout {
            return Err(anyhow!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

fn registration_row(cluster: &Cluster, agents: usize) -> Row {
    Row::new(
        "agents registered per second",
        agents as f64 / cluster.registration.as_secs_f64().max(1e-6),
        "agents/s",
    )
}

/// A framework launching `tasks` tasks of `cpus:1;mem:128` that run until killed.
pub(crate) fn launcher(
    name: &str,
    address: MasterAddress,
    options: &BenchOptions,
    tasks: usize,
) -> WorkloadConfig {
    let mut config = WorkloadConfig::new(name, address);
    config.tasks = Some(tasks as u64);
    config.seed = options.seed;
    config.max_in_flight = Some(LAUNCH_WINDOW);
    config
}

/// Starts `config` and waits until all its tasks are RUNNING and acknowledged. Returns
/// (the workload, tasks per second from first ACCEPT to last acknowledgement of
/// TASK_RUNNING, launch latencies in seconds).
pub(crate) async fn launch_all(
    config: WorkloadConfig,
) -> anyhow::Result<(Workload, f64, Vec<f64>)> {
    let tasks = config.tasks.context("a launch needs a task count")?;
    let workload = Workload::start(config);
    let timeout = Duration::from_secs(120) + Duration::from_millis(tasks * 5);
    let end = workload
        .wait_all_running(timeout)
        .await
        .map_err(|e| anyhow!(e))?;
    let start = *workload
        .stats
        .first_accept_at
        .get()
        .context("no ACCEPT was sent")?;
    let rate = tasks as f64 / end.duration_since(start).as_secs_f64().max(1e-6);
    let latencies = workload
        .stats
        .launch_latencies
        .lock()
        .expect("latency lock")
        .clone();
    Ok((workload, rate, latencies))
}

// ------------------------------------------------------------------------------ b

async fn placement(options: &BenchOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let agents = options.scaled(5_000);
    let tasks = options.scaled(100_000);
    let cluster = start_cluster(options, "master-b", agents).await?;
    scenario.setup = format!(
        "real mesos-master (release), {agents} simulated agents `{AGENT_RESOURCES}` \
         ({} per HTTP/2 connection), one framework launching {tasks} tasks `cpus:1;mem:128` \
         (up to 24 per offer); tasks are scheduled on simulated agents, not run in containers",
        options.sharing(agents)
    );
    scenario.row(registration_row(&cluster, agents));
    let result = async {
        for &content_type in &options.content_types {
            let encoding = encoding_name(content_type);
            let cpu_before = cluster.master.cpu_time().unwrap_or_default();
            let own_before = process::cpu_time(std::process::id()).unwrap_or_default();
            let agents_before = Fleet::cpu_time();
            let mut config = launcher(
                &format!("placement-{encoding}"),
                cluster.address(),
                options,
                tasks,
            );
            config.content_type = content_type;
            config.max_tasks_per_offer = 24;
            let (workload, rate, latencies) = launch_all(config).await?;
            let cpu = cluster.master.cpu_time().unwrap_or_default() - cpu_before;
            let own = process::cpu_time(std::process::id()).unwrap_or_default() - own_before;
            let sim_agents = Fleet::cpu_time() - agents_before;
            eprintln!("  {encoding}: {rate:.0} tasks/s");
            scenario.row(Row::new(
                format!("master CPU per task ({encoding})"),
                cpu.as_secs_f64() * 1e6 / tasks as f64,
                "us",
            ));
            scenario.row(Row::new(
                format!("simulated agents CPU per task ({encoding})"),
                sim_agents.as_secs_f64() * 1e6 / tasks as f64,
                "us",
            ));
            scenario.row(Row::new(
                format!("framework CPU per task ({encoding})"),
                own.saturating_sub(sim_agents).as_secs_f64() * 1e6 / tasks as f64,
                "us",
            ));
            scenario
                .row(Row::new(format!("tasks/s ({encoding})"), rate, "tasks/s").at_least(10_000.0));
            scenario.row(Row::new(
                format!("launch latency p50 ({encoding})"),
                percentile(&latencies, 50.0) * 1000.0,
                "ms",
            ));
            scenario.row(Row::new(
                format!("launch latency p99 ({encoding})"),
                percentile(&latencies, 99.0) * 1000.0,
                "ms",
            ));
            let stats = &workload.stats;
            scenario.note(format!(
                "{encoding}: {} ACCEPT calls, {} acknowledgements, {} call errors, {} lost \
                 subscriptions; the master used {:.1} s of CPU; launch latency is from a \
                 task's ACCEPT being sent to its TASK_RUNNING arriving",
                stats.accepts.load(Ordering::Relaxed),
                stats.acknowledged.load(Ordering::Relaxed),
                stats.call_errors.load(Ordering::Relaxed),
                stats.disconnections.load(Ordering::Relaxed),
                cpu.as_secs_f64()
            ));
            workload.teardown().await;
            let fleet = &cluster.fleet;
            wait_for(
                "the torn-down tasks to leave the agents",
                Duration::from_secs(60),
                || fleet.stats.tasks_active.load(Ordering::Relaxed) == 0,
            )
            .await?;
        }
        if let Some((rss, _)) = cluster.master.memory() {
            scenario.note(format!("master RSS at the end: {:.0} MiB", mib(rss)));
        }
        anyhow::Ok(())
    }
    .await;
    cluster.stop().await;
    result
}

// ------------------------------------------------------------------------------ c

async fn overhead(options: &BenchOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let agents = options.scaled(50_000);
    let frameworks = options.scaled(200);
    let churn = options.churn_secs.max(0.1);
    let master = start_master(options, "master-c").await?;
    let address = MasterAddress::new("127.0.0.1", master.addr.port());
    scenario.setup = format!(
        "real mesos-master (release), {agents} simulated agents `{AGENT_RESOURCES}` ({} per \
         HTTP/2 connection); {frameworks} background frameworks keep every agent busy with \
         whole-agent tasks of {:.0}-{:.0} s (scheduled, not run in containers); a probe \
         framework subscribes, launches one task `cpus:1;mem:128` and tears down, {} times \
         in a row",
        options.sharing(agents),
        churn * 0.5,
        churn * 1.5,
        options.probes
    );
    // The background frameworks subscribe before the agents come, so the allocator
    // spreads the agents over all of them as they register.
    let mut background = Vec::new();
    for f in 0..frameworks {
        let mut config = WorkloadConfig::new(&format!("background-{f:03}"), address.clone());
        config.task_resources = "cpus:24;mem:4096".to_string();
        config.max_tasks_per_offer = 1;
        config.duration = TaskDuration::Uniform {
            min: Duration::from_secs_f64(churn * 0.5),
            max: Duration::from_secs_f64(churn * 1.5),
        };
        config.seed = options.seed;
        config.concurrency = 8;
        config.refuse_seconds = 1.0;
        background.push(Workload::start(config));
    }
    let result = async {
        for w in &background {
            w.wait_subscribed(Duration::from_secs(60))
                .await
                .map_err(|e| anyhow!(e))?;
        }
        let fleet = start_fleet(options, master.addr, agents).await?;
        let outcome = async {
            let registration = fleet
                .wait_registered(Duration::from_secs(60) + Duration::from_millis(agents as u64 * 4))
                .await?;
            eprintln!(
                "  {agents} simulated agents registered in {:.1} s over {} connections",
                registration.as_secs_f64(),
                fleet.connections
            );
            scenario.row(Row::new(
                "agents registered per second",
                agents as f64 / registration.as_secs_f64().max(1e-6),
                "agents/s",
            ));
            let busy = (agents as f64 * 0.95) as i64;
            wait_for(
                "the background frameworks to fill the cluster",
                Duration::from_secs(300),
                || fleet.stats.tasks_active.load(Ordering::Relaxed) >= busy,
            )
            .await?;
            // Probes measure a cluster in steady churn, not one still filling up.
            wait_for(
                "the first background tasks to finish",
                Duration::from_secs_f64(churn * 2.0 + 30.0),
                || {
                    fleet.stats.tasks_finished.load(Ordering::Relaxed)
                        >= (agents as u64 / 20).max(1)
                },
            )
            .await?;
            let finished_before = fleet.stats.tasks_finished.load(Ordering::Relaxed);
            let cpu_before = master.cpu_time().unwrap_or_default();
            let window = Instant::now();
            let mut samples = Vec::new();
            // Milliseconds from the start of each probe to SUBSCRIBED and to its ACCEPT.
            let mut phases = [Vec::new(), Vec::new()];
            for p in 0..options.probes {
                let mut config = WorkloadConfig::new(&format!("probe-{p:03}"), address.clone());
                config.tasks = Some(1);
                config.max_tasks_per_offer = 1;
                config.refuse_seconds = 60.0;
                config.seed = options.seed;
                let probe = Workload::start(config);
                let stats = probe.stats.clone();
                wait_for("the probe's task to run", Duration::from_secs(30), || {
                    stats.first_running_at.get().is_some()
                })
                .await?;
                let running = *stats.first_running_at.get().expect("waited");
                let since = |at: Option<&Instant>| {
                    at.map_or(f64::NAN, |at| {
                        at.duration_since(probe.started_at).as_secs_f64() * 1000.0
                    })
                };
                samples.push(since(Some(&running)));
                phases[0].push(since(stats.subscribed_at.get()));
                phases[1].push(since(stats.first_accept_at.get()));
                probe.teardown().await;
            }
            let window = window.elapsed().as_secs_f64();
            let churned = fleet.stats.tasks_finished.load(Ordering::Relaxed) - finished_before;
            let cpu = master.cpu_time().unwrap_or_default() - cpu_before;
            eprintln!(
                "  probe: p50 {:.1} ms, p99 {:.1} ms over {} runs",
                percentile(&samples, 50.0),
                percentile(&samples, 99.0),
                samples.len()
            );
            scenario.row(
                Row::new(
                    "probe SUBSCRIBE to RUNNING p50",
                    percentile(&samples, 50.0),
                    "ms",
                )
                .at_most(100.0),
            );
            scenario.row(
                Row::new(
                    "probe SUBSCRIBE to RUNNING p99",
                    percentile(&samples, 99.0),
                    "ms",
                )
                .at_most(250.0),
            );
            scenario.row(Row::new(
                "probe SUBSCRIBE to RUNNING max",
                percentile(&samples, 100.0),
                "ms",
            ));
            scenario.row(Row::new(
                "background tasks finished per second",
                churned as f64 / window,
                "tasks/s",
            ));
            scenario.note(format!(
                "probe phases (median): SUBSCRIBED after {:.1} ms, ACCEPT of the first offer sent \
                 after {:.1} ms, TASK_RUNNING after {:.1} ms",
                percentile(&phases[0], 50.0),
                percentile(&phases[1], 50.0),
                percentile(&samples, 50.0)
            ));
            scenario.note(format!(
                "during the {} probes ({window:.0} s) the background frameworks finished and \
                 relaunched {churned} tasks; the master used {:.0}% of one core",
                samples.len(),
                cpu.as_secs_f64() / window * 100.0
            ));
            if let Some((rss, _)) = master.memory() {
                scenario.note(format!("master RSS: {:.0} MiB", mib(rss)));
            }
            anyhow::Ok(())
        }
        .await;
        // Frameworks first: with the agents gone, their last calls would only fail.
        for w in background.drain(..) {
            w.teardown().await;
        }
        fleet.stop().await;
        outcome
    }
    .await;
    for w in background {
        w.teardown().await;
    }
    master.stop().await;
    result
}

// ------------------------------------------------------------------------------ d

async fn memory(options: &BenchOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let agents = options.scaled(50_000);
    let tasks = options.scaled(100_000);
    let cluster = start_cluster(options, "master-d", agents).await?;
    scenario.setup = format!(
        "real mesos-master (release), {agents} simulated agents `{AGENT_RESOURCES}` ({} per \
         HTTP/2 connection), {tasks} running tasks `cpus:1;mem:128` (two per agent) \
         scheduled by one framework (not run in containers)",
        options.sharing(agents)
    );
    scenario.row(registration_row(&cluster, agents));
    let result = async {
        let mut config = launcher("memory", cluster.address(), options, tasks);
        config.max_tasks_per_offer = 2;
        let (workload, rate, _) = launch_all(config).await?;
        scenario.row(Row::new("tasks/s while filling (protobuf)", rate, "tasks/s"));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss, hwm) = cluster.master.memory().context("cannot read the master's memory")?;
        scenario.row(Row::new("master RSS", mib(rss), "MiB").at_most(1024.0));
        scenario.note(format!("master peak RSS (VmHWM): {:.0} MiB", mib(hwm)));
        let (state, size, state_cpu) = cluster.master.timed_gets("/master/state", 3).await?;
        let (summary, _, summary_cpu) =
            cluster.master.timed_gets("/master/state-summary", 5).await?;
        scenario.row(Row::new("GET /master/state (median of 3)", percentile(&state, 50.0) / 1000.0, "s").at_most(1.0));
        scenario.row(Row::new("master CPU per GET /master/state", state_cpu.as_secs_f64() * 1000.0, "ms"));
        scenario.row(Row::new("GET /master/state-summary (median of 5)", percentile(&summary, 50.0), "ms").at_most(100.0));
        scenario.row(Row::new("master CPU per GET /master/state-summary", summary_cpu.as_secs_f64() * 1000.0, "ms"));
        scenario.note(format!(
            "/master/state: {:.1} MB, slowest of 3 {:.2} s; /master/state-summary slowest of 5 {:.0} ms",
            size as f64 / 1e6,
            percentile(&state, 100.0) / 1000.0,
            percentile(&summary, 100.0)
        ));
        if let Some((rss, _)) = cluster.master.memory() {
            scenario.note(format!("master RSS after the GETs: {:.0} MiB", mib(rss)));
        }
        if let Some((rss, _)) = process::memory(std::process::id()) {
            scenario.note(format!(
                "the simulator process (agents and framework) held {:.0} MiB",
                mib(rss)
            ));
        }
        workload.teardown().await;
        anyhow::Ok(())
    }
    .await;
    cluster.stop().await;
    result
}

// ------------------------------------------------------------------------------ e

async fn real_agent(options: &BenchOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let tasks = options.scaled(1_000);
    let master = start_master(options, "master-e").await?;
    let port = process::free_port()?;
    let work = options.work_dir.join("agent-e");
    std::fs::create_dir_all(&work)?;
    let resources = format!(
        "cpus:{};mem:{};disk:10000;ports:[31000-32000]",
        tasks as f64 * 0.1 + 1.0,
        tasks * 32 + 1024
    );
    let args = vec![
        format!("--master={}", master.addr),
        "--ip=127.0.0.1".to_string(),
        format!("--port={port}"),
        format!("--work_dir={}", work.display()),
        format!("--resources={resources}"),
    ];
    let agent = ChildProcess::start(
        "agent-e",
        &options.binary("mesos-agent")?,
        args,
        &[],
        SocketAddr::from(([127, 0, 0, 1], port)),
        "/health",
        &options.work_dir,
    )
    .await?;
    scenario.setup = format!(
        "real mesos-master and one real mesos-agent (release) with `{resources}`; one \
         framework launches {tasks} command tasks `sleep {}` (`cpus:0.1;mem:32`), each a \
         real process under the agent's supervisor",
        options.real_task_secs
    );
    let result = async {
        let started = Instant::now();
        loop {
            let metrics = master.get_json("/metrics/snapshot").await?;
            if metrics["master/slaves_active"].as_f64() == Some(1.0) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(anyhow!("the agent did not register within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (rss_idle, _) = agent.memory().unwrap_or_default();
        let cpu_before = agent.cpu_time().unwrap_or_default();
        let secs = options.real_task_secs;
        let sampler_pid = agent.pid();
        let (stop_sampling, mut stopped) = tokio::sync::watch::channel(false);
        let sampler = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                if let Some((rss, _)) = process::memory(sampler_pid) {
                    peak = peak.max(rss);
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stopped.changed() => return peak,
                }
            }
        });
        let mut config = launcher(
            "real",
            MasterAddress::new("127.0.0.1", master.addr.port()),
            options,
            tasks,
        );
        config.task_resources = "cpus:0.1;mem:32".to_string();
        config.duration = TaskDuration::Uniform {
            min: Duration::from_secs_f64(secs),
            max: Duration::from_secs_f64(secs),
        };
        let (workload, rate, latencies) = launch_all(config).await?;
        let (rss_running, _) = agent.memory().unwrap_or_default();
        let stats = workload.stats.clone();
        wait_for(
            "the real tasks to finish",
            Duration::from_secs_f64(secs * 3.0 + 60.0),
            || {
                stats.finished.load(Ordering::Relaxed)
                    + stats.other_terminal.load(Ordering::Relaxed)
                    >= tasks as u64
            },
        )
        .await?;
        stop_sampling.send_replace(true);
        let peak = sampler.await.unwrap_or(0);
        let cpu = agent.cpu_time().unwrap_or_default() - cpu_before;
        scenario.row(Row::new(
            "tasks/s (first ACCEPT to last RUNNING acknowledged)",
            rate,
            "tasks/s",
        ));
        scenario.row(Row::new(
            "launch latency p50",
            percentile(&latencies, 50.0) * 1000.0,
            "ms",
        ));
        scenario.row(Row::new(
            "launch latency p99",
            percentile(&latencies, 99.0) * 1000.0,
            "ms",
        ));
        scenario.row(Row::new("agent RSS, idle", mib(rss_idle), "MiB"));
        scenario.row(Row::new(
            "agent RSS, all tasks running",
            mib(rss_running),
            "MiB",
        ));
        scenario.row(Row::new("agent RSS, peak", mib(peak), "MiB"));
        scenario.note(format!(
            "{} tasks finished, {} ended otherwise; the agent process used {:.1} s of CPU \
             (its task supervisors are separate processes)",
            stats.finished.load(Ordering::Relaxed),
            stats.other_terminal.load(Ordering::Relaxed),
            cpu.as_secs_f64()
        ));
        workload.teardown().await;
        anyhow::Ok(())
    }
    .await;
    agent.stop().await;
    master.stop().await;
    result
}

/// A fresh directory for logs under `base`.
pub fn work_dir(base: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match base {
        Some(b) => b.to_path_buf(),
        None => std::env::temp_dir().join(format!("mesos-sim-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
