//! Scenario f: master failover through ZooKeeper with 10,000 simulated agents.
//!
//! ZooKeeper (Debian's package, started by `scripts/zookeeper.sh`) and two or three real
//! `mesos-master`s with `--zk`; a fleet that follows the election with one detector; one
//! framework that runs a task on every agent. Then the leader is killed with SIGKILL (and,
//! in a second round, the next one stopped with SIGTERM), and the scenario measures:
//!
//! ```text
//!  signal ──▶ new leader's znode lowest ──▶ new leader elected ──▶ last agent re-registered
//!             (the fleet's detector)        (its log line)         (acks in the simulator;
//!                                                                   slaves_active at the leader)
//! ```
//!
//! The target of the HA issue: every agent re-registered within 5 s of the election.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use mesos_common::zk::ZkUrl;
use mesos_scheduler::MasterAddress;
use nix::sys::signal::Signal;

use crate::alloc_bench::AGENT_RESOURCES;
use crate::bench::{launch_all, launcher, wait_for, BenchOptions};
use crate::fleet::{Fleet, FleetConfig, Master};
use crate::process::{self, ChildProcess};
use crate::report::{percentile, Row, Scenario};

/// Every agent re-registered within this long of the new leader's election.
const TARGET_SECS: f64 = 5.0;
/// The master's log line when it starts leading, and when the agents of its registry
/// are all back (both from `mesos_master`).
const ELECTED_LINE: &str = "elected as the leading master";
const ALL_BACK_LINE: &str = "every agent of the registry re-registered";
/// How often the new leader's `master/slaves_active` is read.
const LEADER_POLL: Duration = Duration::from_millis(250);
/// ZooKeeper's tick: sessions may be as short as two ticks.
const ZK_TICK_MS: u64 = 500;
/// ZooKeeper's Java heap. The leader rewrites its whole registry (megabytes at 10,000
/// agents) while agents register; the script's default of 128 MB runs out of memory.
const ZK_HEAP: &str = "1g";

/// What scenario f runs with, beyond the common options.
#[derive(Debug, Clone)]
pub struct FailoverOptions {
    /// `mesos-master` processes (2 or 3).
    pub masters: usize,
    /// ZooKeeper servers: 1 (standalone) or 3 (an ensemble).
    pub zookeepers: usize,
    /// The masters' `--zk_session_timeout`: how long a killed leader's znode outlives it.
    pub session_timeout: Duration,
    /// `scripts/zookeeper.sh` (default: found from the working directory or the source tree).
    pub zookeeper_script: Option<PathBuf>,
    /// Tasks the framework runs on each agent before the failover.
    pub tasks_per_agent: usize,
    /// Base of a simulated agent's reconnection backoff.
    pub backoff: Duration,
    /// Also measure a graceful stop (SIGTERM) of the next leader.
    pub graceful: bool,
}

impl Default for FailoverOptions {
    fn default() -> Self {
        FailoverOptions {
            masters: 3,
            zookeepers: 1,
            session_timeout: Duration::from_secs(4),
            zookeeper_script: None,
            tasks_per_agent: 1,
            backoff: Duration::from_millis(100),
            graceful: true,
        }
    }
}

pub async fn failover(options: &BenchOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    let f = &options.failover;
    if !(2..=9).contains(&f.masters) {
        bail!("scenario f needs 2 to 9 masters, not {}", f.masters);
    }
    let agents = options.scaled(10_000);
    let tasks = agents * f.tasks_per_agent;
    let sharing = options.sharing(agents);
    let script = zookeeper_script(f.zookeeper_script.as_deref())?;
    let zk = ZooKeeper::start(&script, &options.work_dir.join("zookeeper-f"), f.zookeepers).await?;
    let url = zk.url("/mesos");
    scenario.setup = format!(
        "ZooKeeper 3.8 ({} on loopback, tickTime {ZK_TICK_MS} ms, heap {ZK_HEAP}), {} real mesos-masters \
         (release) with `--zk --quorum=2 --zk_session_timeout={}ms` and the registry in \
         ZooKeeper; {agents} simulated agents `{AGENT_RESOURCES}` ({sharing} per HTTP/2 \
         connection) following the election through one ZooKeeper detector, reconnection \
         backoff {} ms doubling; one framework running {tasks} tasks `cpus:1;mem:128` \
         ({} per agent, scheduled, not run in containers) that the agents report when they \
         re-register",
        if f.zookeepers == 1 {
            "standalone server".to_string()
        } else {
            format!("ensemble of {}", f.zookeepers)
        },
        f.masters,
        f.session_timeout.as_millis(),
        f.backoff.as_millis(),
        f.tasks_per_agent,
    );
    let mut cluster = Masters {
        options,
        url: url.clone(),
        procs: Vec::new(),
        ports: Vec::new(),
        starts: 0,
    };
    for i in 0..f.masters {
        cluster.ports.push(process::free_port()?);
        cluster.procs.push(None);
        cluster.start(i).await?;
        if i == 0 {
            // Master 0 leads: the others join the election behind it.
            cluster.wait_elected(0, Duration::from_secs(60)).await?;
        }
    }

    let mut config = FleetConfig::new(
        Master::Election(ZkUrl::parse(&url)?),
        agents,
        AGENT_RESOURCES,
    );
    config.seed = options.seed;
    config.agents_per_connection = sharing;
    config.backoff = f.backoff;
    let fleet = Fleet::start(config).await?;
    let result = async {
        let took = fleet
            .wait_registered(Duration::from_secs(60) + Duration::from_millis(agents as u64 * 4))
            .await?;
        eprintln!(
            "  {agents} simulated agents registered in {:.1} s over {} connections",
            took.as_secs_f64(),
            fleet.connections
        );
        let mut framework = launcher(
            "failover",
            MasterAddress::new("127.0.0.1", cluster.ports[0]),
            options,
            tasks,
        );
        framework.max_tasks_per_offer = f.tasks_per_agent;
        let (workload, rate, _) = launch_all(framework).await?;
        eprintln!("  {tasks} tasks running ({rate:.0} tasks/s)");
        // The leader writes its registry in the background: give it time to hold every
        // agent, so that the next leader expects them all.
        tokio::time::sleep(Duration::from_secs(3)).await;

        let mut leader = 0;
        let mut rounds = vec![(Signal::SIGKILL, "kill -9")];
        if f.graceful {
            rounds.push((Signal::SIGTERM, "SIGTERM"));
        }
        for (n, (signal, name)) in rounds.into_iter().enumerate() {
            if n > 0 {
                // The master stopped in the last round comes back as a standby.
                let stopped = cluster.procs.iter().position(Option::is_none);
                if let Some(stopped) = stopped {
                    cluster.start(stopped).await?;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            leader = measure(
                &mut cluster,
                &fleet,
                leader,
                signal,
                name,
                agents,
                tasks,
                scenario,
            )
            .await
            .with_context(|| format!("failover after {name}"))?;
        }
        scenario.note(format!(
            "the framework launched {tasks} tasks at {rate:.0} tasks/s through the first \
             leader; its address is fixed, so it finds a new leader only when a standby it \
             retries redirects it: the new leaders recover it from the registry and learn its \
             tasks from the re-registering agents"
        ));
        scenario.note(
            "the simulated agents re-register when the fleet's detector sees a new lowest \
             `json.info_` znode; a master that is not serving yet (still recovering its \
             registry) refuses the stream with UNAVAILABLE and the agent retries after its \
             backoff, as real agents do",
        );
        drop(workload);
        anyhow::Ok(())
    }
    .await;
    fleet.stop().await;
    cluster.stop_all().await;
    drop(zk);
    result
}

/// Times one failover: `signal` to master `leader`. Returns the new leader.
#[allow(clippy::too_many_arguments)]
async fn measure(
    cluster: &mut Masters<'_>,
    fleet: &Fleet,
    leader: usize,
    signal: Signal,
    name: &str,
    agents: usize,
    tasks: usize,
    scenario: &mut Scenario,
) -> anyhow::Result<usize> {
    let mut detected = fleet
        .detected()
        .context("the fleet does not follow an election")?;
    let old_id = detected
        .borrow()
        .leader()
        .map(|l| l.id.clone())
        .context("the fleet sees no leader")?;
    let old_port = cluster.ports[leader];
    let master_cpu: Vec<Duration> = cluster
        .procs
        .iter()
        .map(|p| {
            p.as_ref()
                .and_then(ChildProcess::cpu_time)
                .unwrap_or_default()
        })
        .collect();
    let agents_cpu = Fleet::cpu_time();
    let disconnections = fleet.stats.disconnections.load(Ordering::Relaxed);

    let proc = cluster.procs[leader]
        .as_ref()
        .context("no leader process")?;
    let pid = nix::unistd::Pid::from_raw(proc.pid() as i32);
    let signalled = Instant::now();
    let signalled_wall = chrono::Utc::now();
    nix::sys::signal::kill(pid, signal).context("cannot signal the leader")?;

    let election_timeout = cluster.options.failover.session_timeout * 3 + Duration::from_secs(30);
    let znode = async {
        let changed = tokio::time::timeout(
            election_timeout,
            detected.wait_for(|d| d.leader().is_some_and(|l| l.id != old_id)),
        )
        .await;
        match changed {
            Ok(Ok(d)) => {
                let port = d.leader().and_then(|l| l.address.as_ref()).map(|a| a.port);
                Ok((Instant::now(), port))
            }
            _ => Err(anyhow!(
                "the fleet saw no new leader within {election_timeout:?}"
            )),
        }
    };
    let polled = cluster.poll_elected(leader, election_timeout);
    let ((znode_at, znode_port), (polled_at, new)) = tokio::try_join!(znode, polled)?;
    if znode_port != Some(i32::from(cluster.ports[new])) {
        bail!("the fleet's detector and the masters disagree on the new leader");
    }
    let wait = Duration::from_secs(60) + Duration::from_millis(agents as u64 * 4);
    // Master side: the new leader lists every agent as active again. Its metrics walk
    // every agent, so a tight poll would slow down what it measures.
    let leader_side = async {
        let started = Instant::now();
        loop {
            if let Ok(m) = cluster.get_json(new, "/metrics/snapshot").await {
                if m["master/slaves_active"].as_f64().unwrap_or(0.0) >= agents as f64 {
                    return Ok(Instant::now());
                }
            }
            if started.elapsed() > wait {
                bail!("the new leader did not list {agents} active agents within {wait:?}");
            }
            tokio::time::sleep(LEADER_POLL).await;
        }
    };
    // Simulator side: every agent received Registered after the signal.
    let fleet_side = async {
        wait_for("every agent to re-register", wait, || {
            fleet
                .stats
                .last_registered()
                .iter()
                .all(|at| at.is_some_and(|at| at > signalled))
        })
        .await
    };
    let (leader_all_at, ()) = tokio::try_join!(leader_side, fleet_side)?;
    let registered: Vec<Instant> = fleet
        .stats
        .last_registered()
        .into_iter()
        .map(|at| at.expect("all registered"))
        .collect();
    let metrics = cluster.get_json(new, "/metrics/snapshot").await?;
    let tasks_running = metrics["master/tasks_running"].as_f64().unwrap_or(f64::NAN);

    // The election as the new leader logs it; the poll is the fallback.
    let log = std::fs::read_to_string(&cluster.procs[new].as_ref().expect("new leader").log)
        .unwrap_or_default();
    let at = |line: &str| log_instant(&log, line, signalled_wall, signalled);
    let (elected_at, elected_source) = match at(ELECTED_LINE) {
        Some(at) => (at, "its log line"),
        None => (polled_at, "polling master/elected every 10 ms"),
    };
    let all_back_logged = at(ALL_BACK_LINE);

    let secs = |a: Instant, b: Instant| signed_secs(a, b);
    let last = registered.iter().copied().max().expect("agents");
    let delays: Vec<f64> = registered
        .iter()
        .map(|&at| secs(at, elected_at) * 1000.0)
        .collect();
    let cpu = |i: usize| {
        cluster.procs[i]
            .as_ref()
            .and_then(ChildProcess::cpu_time)
            .unwrap_or_default()
            .saturating_sub(master_cpu[i])
    };
    let window = secs(last.max(leader_all_at), signalled);
    eprintln!(
        "  {name}: new leader's znode after {:.2} s, elected after {:.2} s; all {agents} \
         agents re-registered {:.2} s after the election",
        secs(znode_at, signalled),
        secs(elected_at, signalled),
        secs(last, elected_at)
    );
    scenario.row(Row::new(
        format!("{name}: signal to new leader's znode lowest (detector)"),
        secs(znode_at, signalled),
        "s",
    ));
    scenario.row(Row::new(
        format!("{name}: signal to new leader elected"),
        secs(elected_at, signalled),
        "s",
    ));
    scenario.row(
        Row::new(
            format!("{name}: election to last of {agents} agents re-registered (simulator)"),
            secs(last, elected_at),
            "s",
        )
        .at_most(TARGET_SECS),
    );
    scenario.row(Row::new(
        format!(
            "{name}: election to master/slaves_active = {agents} (leader, polled every 250 ms)"
        ),
        secs(leader_all_at, elected_at),
        "s",
    ));
    for (label, p) in [("p50", 50.0), ("p99", 99.0), ("max", 100.0)] {
        scenario.row(Row::new(
            format!("{name}: per-agent re-registration after election {label}"),
            percentile(&delays, p),
            "ms",
        ));
    }
    scenario.note(format!(
        "{name}: the old leader (port {old_port}) was signalled; master {new} (port {}) was \
         elected; election time from {elected_source} (the poll saw it {:.0} ms later); \
         \"{ALL_BACK_LINE}\" logged {}; {tasks_running} of {tasks} tasks running at the new \
         leader afterwards; {} streams ended and were reopened by the agents",
        cluster.ports[new],
        secs(polled_at, elected_at) * 1000.0,
        match all_back_logged {
            Some(at) => format!("{:.2} s after the election", secs(at, elected_at)),
            None => "never".to_string(),
        },
        fleet.stats.disconnections.load(Ordering::Relaxed) - disconnections,
    ));
    scenario.note(format!(
        "{name}: from the signal to the last agent back ({window:.2} s) the new leader used \
         {:.2} s of CPU and the simulated agents {:.2} s",
        cpu(new).as_secs_f64(),
        (Fleet::cpu_time().saturating_sub(agents_cpu)).as_secs_f64(),
    ));
    // Long stopped or still closing after SIGTERM: its part is over either way.
    drop(cluster.procs[leader].take());
    Ok(new)
}

/// `a - b` in seconds, negative when `a` is earlier.
fn signed_secs(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -(b - a).as_secs_f64(),
    }
}

/// When the last log line containing `text` was written, as an `Instant`, if after
/// `since` (the wall clock at `since_instant`). Log lines start with an RFC 3339 time.
fn log_instant(
    log: &str,
    text: &str,
    since: chrono::DateTime<chrono::Utc>,
    since_instant: Instant,
) -> Option<Instant> {
    let line = log.lines().rev().find(|l| l.contains(text))?;
    let stamp = line.split_whitespace().next()?;
    let at = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    let after = (at.with_timezone(&chrono::Utc) - since).to_std().ok()?;
    Some(since_instant + after)
}

/// The masters of the scenario, by index; a stopped one is `None`.
struct Masters<'a> {
    options: &'a BenchOptions,
    url: String,
    procs: Vec<Option<ChildProcess>>,
    ports: Vec<u16>,
    starts: usize,
}

impl Masters<'_> {
    async fn start(&mut self, i: usize) -> anyhow::Result<()> {
        let f = &self.options.failover;
        let port = self.ports[i];
        let work = self.options.work_dir.join(format!("master-f{i}"));
        std::fs::create_dir_all(&work)?;
        let args = vec![
            "--ip=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--work_dir={}", work.display()),
            format!("--zk={}", self.url),
            "--quorum=2".to_string(),
            format!("--zk_session_timeout={}ms", f.session_timeout.as_millis()),
        ];
        // The election's log lines are what the scenario times, whatever the level.
        let level = format!(
            "{},zookeeper_async=warn,mesos_master::election=info,mesos_master::server=info",
            self.options.master_log_level
        );
        self.starts += 1;
        let proc = ChildProcess::start(
            &format!("master-f{i}-{}", self.starts),
            &self.options.binary("mesos-master")?,
            args,
            &[("MESOS_LOG_LEVEL", level.as_str())],
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            "/master/health",
            &self.options.work_dir,
        )
        .await?;
        self.procs[i] = Some(proc);
        Ok(())
    }

    async fn get_json(&self, i: usize, path: &str) -> anyhow::Result<serde_json::Value> {
        let proc = self.procs[i].as_ref().context("master stopped")?;
        proc.get_json(path).await
    }

    async fn elected(&self, i: usize) -> bool {
        match self.get_json(i, "/metrics/snapshot").await {
            Ok(m) => m["master/elected"].as_f64() == Some(1.0),
            Err(_) => false,
        }
    }

    async fn wait_elected(&self, i: usize, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while !self.elected(i).await {
            if started.elapsed() > timeout {
                bail!("master {i} was not elected within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Polls every live master but `old` until one says it is elected: (when, which).
    async fn poll_elected(
        &self,
        old: usize,
        timeout: Duration,
    ) -> anyhow::Result<(Instant, usize)> {
        let started = Instant::now();
        loop {
            for i in 0..self.procs.len() {
                if i != old && self.procs[i].is_some() && self.elected(i).await {
                    return Ok((Instant::now(), i));
                }
            }
            if started.elapsed() > timeout {
                bail!("no master was elected within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop_all(&mut self) {
        for proc in self.procs.iter_mut().filter_map(Option::take) {
            proc.stop().await;
        }
    }
}

/// `scripts/zookeeper.sh`: as given, else from the working directory (the repository
/// root, where the benchmark is run), else from the source tree this binary was built in.
pub(crate) fn zookeeper_script(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<PathBuf> = match given {
        Some(path) => vec![path.to_path_buf()],
        None => vec![
            PathBuf::from("scripts/zookeeper.sh"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/zookeeper.sh"),
        ],
    };
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| format!("scripts/zookeeper.sh not found (looked at {candidates:?})"))
}

/// ZooKeeper servers on loopback (started through `scripts/zookeeper.sh`), killed on drop.
pub(crate) struct ZooKeeper {
    script: PathBuf,
    dir: PathBuf,
    client_ports: Vec<u16>,
}

impl ZooKeeper {
    pub(crate) async fn start(
        script: &Path,
        dir: &Path,
        servers: usize,
    ) -> anyhow::Result<ZooKeeper> {
        if servers != 1 && servers != 3 {
            bail!("ZooKeeper runs as 1 server or an ensemble of 3, not {servers}");
        }
        // The script keeps the ports of an existing directory: start afresh.
        let _ = std::fs::remove_dir_all(dir);
        let client_ports = (0..servers)
            .map(|_| process::free_port())
            .collect::<Result<Vec<_>, _>>()?;
        let specs = if servers == 1 {
            vec![client_ports[0].to_string()]
        } else {
            client_ports
                .iter()
                .map(|c| {
                    Ok(format!(
                        "{c}:{}:{}",
                        process::free_port()?,
                        process::free_port()?
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let zk = ZooKeeper {
            script: script.to_path_buf(),
            dir: dir.to_path_buf(),
            client_ports,
        };
        let run = tokio::process::Command::new(script)
            .arg("start")
            .arg(dir)
            .args(&specs)
            .env("ZK_TICK_MS", ZK_TICK_MS.to_string())
            .env("ZK_HEAP", ZK_HEAP)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(180), run)
            .await
            .context("scripts/zookeeper.sh start took over 180 s")??;
        if !out.status.success() {
            bail!(
                "scripts/zookeeper.sh start failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(zk)
    }

    /// `zk://<servers><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        let servers: Vec<String> = self
            .client_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("zk://{}{path}", servers.join(","))
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_become_instants() {
        let since = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let now = Instant::now();
        let log = "2026-11-27T09:59:59.000000Z  INFO mesos_master::election: elected as the leading master\n\
                   2026-11-27T10:00:04.250000Z  INFO mesos_master::election: elected as the leading master term=2\n";
        let at = log_instant(log, ELECTED_LINE, since, now).unwrap();
        assert_eq!(at - now, Duration::from_millis(4250));
        assert!(log_instant(log, ALL_BACK_LINE, since, now).is_none());
        assert!(signed_secs(now, now + Duration::from_secs(1)) < 0.0);
    }
}
