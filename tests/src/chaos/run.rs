//! Runs one seed: starts the cluster, deploys the apps, then for each step of the
//! schedule makes its change, injects its fault, restores, and waits for every app to
//! converge, while a poller checks the continuous invariants every 250 ms.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::apps::{apps, AppSpec};
use super::cluster::{ChaosCluster, ProcId, AGENT_PING_TIMEOUT, SESSION_TIMEOUT};
use super::invariants::{
    acknowledged_versions_kept, converged, master_tasks, Checker, Intent, MasterTask, Violation,
};
use super::schedule::{Change, Fault, FaultKind, Schedule, Target, Timing};

/// How often the poller reads the leading master's state.
const POLL: Duration = Duration::from_millis(250);
/// How long a write to Marathon is retried (while it has no leader, say).
const WRITE_RETRY: Duration = Duration::from_secs(90);

#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub faults: usize,
    /// How long every app gets to converge after a fault is restored.
    pub converge_timeout: Duration,
    /// Print the run's events as they happen.
    pub verbose: bool,
}

impl Options {
    pub fn new(seed: u64, faults: usize) -> Options {
        Options {
            seed,
            faults,
            converge_timeout: Duration::from_secs(150),
            verbose: true,
        }
    }
}

/// The timing every schedule is generated with: pauses outlive the cluster's session
/// and agent ping timeouts.
pub fn timing() -> Timing {
    Timing {
        session_timeout: SESSION_TIMEOUT.max(AGENT_PING_TIMEOUT),
    }
}

/// The outcome of one seed.
#[derive(Debug)]
pub struct Report {
    pub schedule: Schedule,
    /// Timestamped events: changes, faults, restores, convergence.
    pub events: Vec<String>,
    pub violations: Vec<Violation>,
    /// Faults injected, with the time every app took to converge after the restore
    /// (None: it did not within the limit).
    pub faults: Vec<(FaultKind, Option<Duration>)>,
    /// Log tails of every process, kept when something was violated.
    pub logs: String,
    pub snapshots: usize,
    pub wall: Duration,
}

impl Report {
    pub fn replay_command(&self) -> String {
        format!(
            "cargo run -p mesos-tests --bin chaos-bench -- --seed {} --faults {}",
            self.schedule.seed,
            self.schedule.steps.len()
        )
    }

    /// The fault history, events and violations of a failing seed, with its replay.
    pub fn failure(&self) -> String {
        let mut out = format!(
            "chaos seed {}: {} violation(s)\nschedule:\n{}events:\n",
            self.schedule.seed,
            self.violations.len(),
            self.schedule.history()
        );
        for e in &self.events {
            out.push_str(&format!("  {e}\n"));
        }
        out.push_str("violations:\n");
        for v in &self.violations {
            out.push_str(&format!("  {v}\n"));
        }
        out.push_str(&format!("replay: {}\n", self.replay_command()));
        out.push_str(&self.logs);
        out
    }
}

/// What the poller shares with the runner.
#[derive(Default)]
struct Shared {
    checker: Checker,
    /// The last snapshot of the leading master's Marathon tasks and when it was taken.
    latest: Option<(Instant, Vec<MasterTask>)>,
    agent_ids: BTreeSet<String>,
}

struct Run {
    started: Instant,
    cluster: ChaosCluster,
    shared: Arc<Mutex<Shared>>,
    client: reqwest::Client,
    specs: Vec<AppSpec>,
    intents: Vec<Intent>,
    /// Acknowledged versions per app.
    acknowledged: Vec<Vec<String>>,
    events: Vec<String>,
    violations: Vec<Violation>,
    verbose: bool,
}

pub async fn run_seed(options: &Options) -> Report {
    let schedule = Schedule::generate(options.seed, options.faults, timing());
    let started = Instant::now();
    let cluster = ChaosCluster::start().await;
    let specs = apps();
    let unique = specs
        .iter()
        .filter(|s| s.unique)
        .map(AppSpec::safe_id)
        .collect::<Vec<_>>();
    let shared = Arc::new(Mutex::new(Shared {
        checker: Checker::new(unique),
        ..Shared::default()
    }));
    let (stop, stopped) = watch::channel(false);
    let poller = tokio::spawn(poll(
        cluster.master_ports(),
        shared.clone(),
        started,
        stopped,
    ));
    let mut run = Run {
        started,
        cluster,
        shared: shared.clone(),
        client: crate::http::client(),
        intents: specs
            .iter()
            .map(|s| Intent {
                id: s.id.to_string(),
                instances: s.instances,
                round: 0,
                health_checked: s.health_checked,
                unique: s.unique,
            })
            .collect(),
        acknowledged: vec![Vec::new(); specs.len()],
        specs,
        events: Vec::new(),
        violations: Vec::new(),
        verbose: options.verbose,
    };
    run.event(format!(
        "seed {}: cluster up; schedule:\n{}",
        schedule.seed,
        schedule.history()
    ));
    let mut faults = Vec::new();
    if run.deploy_apps(options.converge_timeout).await {
        for (i, step) in schedule.steps.iter().enumerate() {
            let took = run.step(i + 1, step, options.converge_timeout).await;
            faults.push((step.fault.kind(), took));
            if took.is_none() {
                break;
            }
        }
        let patience = match faults.last() {
            Some((_, None)) => Duration::from_secs(5),
            _ => WRITE_RETRY,
        };
        run.final_checks(patience).await;
    }
    let _ = stop.send(true);
    let _ = poller.await;
    let (checker_violations, snapshots, agent_ids) = {
        let mut s = shared.lock().unwrap();
        (
            std::mem::take(&mut s.checker.violations),
            s.checker.snapshots,
            std::mem::take(&mut s.agent_ids),
        )
    };
    let mut violations = checker_violations;
    violations.append(&mut run.violations);
    violations.sort_by_key(|v| v.at);
    run.cluster.agent_ids = agent_ids;
    let logs = match violations.is_empty() {
        true => String::new(),
        false => {
            let kept = run.cluster.ha.keep_files();
            format!("{}files kept in {}\n", run.logs(), kept.display())
        }
    };
    Report {
        schedule,
        events: run.events,
        violations,
        faults,
        logs,
        snapshots,
        wall: started.elapsed(),
    }
}

/// Reads the leading master's state every [`POLL`] and checks the continuous invariants.
async fn poll(
    ports: Vec<u16>,
    shared: Arc<Mutex<Shared>>,
    started: Instant,
    mut stopped: watch::Receiver<bool>,
) {
    let client = crate::http::client();
    let mut leader = 0;
    loop {
        for k in 0..ports.len() {
            let i = (leader + k) % ports.len();
            let url = format!("http://127.0.0.1:{}/master/state", ports[i]);
            let Some(state) = get_json(&client, &url, Duration::from_secs(1)).await else {
                continue;
            };
            if state["pid"].as_str().is_none_or(|p| state["leader"] != p) {
                continue;
            }
            leader = i;
            let tasks = master_tasks(&state);
            let mut s = shared.lock().unwrap();
            s.checker.observe(started.elapsed(), &tasks);
            s.latest = Some((Instant::now(), tasks));
            for agent in state["slaves"].as_array().into_iter().flatten() {
                if let Some(id) = agent["id"].as_str() {
                    s.agent_ids.insert(id.to_string());
                }
            }
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn get_json(client: &reqwest::Client, url: &str, timeout: Duration) -> Option<Value> {
    let r = client.get(url).timeout(timeout).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.json().await.ok()
}

impl Run {
    fn at(&self) -> Duration {
        self.started.elapsed()
    }

    fn event(&mut self, what: String) {
        let line = format!("[{:>7.1}s] {what}", self.at().as_secs_f64());
        if self.verbose {
            eprintln!("chaos: {line}");
        }
        self.events.push(line);
    }

    fn violation(&mut self, invariant: &'static str, detail: String) {
        self.event(format!("VIOLATION {invariant}: {detail}"));
        self.violations.push(Violation {
            at: self.at(),
            invariant,
            detail,
        });
    }

    fn check_exits(&mut self) {
        for (what, tail) in self.cluster.unexpected_exits() {
            self.violation("process crashed", format!("{what}\n{tail}"));
        }
    }

    /// Sleeps `d`, checking for crashes every [`POLL`].
    async fn hold(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.check_exits();
            tokio::time::sleep(POLL.min(until - Instant::now())).await;
        }
    }

    /// Sends a request to the Marathons in turn until one answers with other than 502/503
    /// (a standby proxies to the leader); None when none did before `deadline`.
    async fn marathon(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        deadline: Duration,
    ) -> Option<(u16, Value)> {
        let until = Instant::now() + deadline;
        let ports = self.cluster.marathon_ports();
        let mut k = 0;
        loop {
            let url = format!("http://127.0.0.1:{}{path}", ports[k % ports.len()]);
            k += 1;
            let mut request = self
                .client
                .request(method.clone(), &url)
                .timeout(Duration::from_secs(5));
            if let Some(b) = body {
                request = request.json(b);
            }
            if let Ok(r) = request.send().await {
                let status = r.status().as_u16();
                if status != 502 && status != 503 {
                    let text = r.text().await.unwrap_or_default();
                    return Some((status, serde_json::from_str(&text).unwrap_or(json!(text))));
                }
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A write that must be acknowledged; records the version it returns.
    async fn write(
        &mut self,
        app: usize,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> bool {
        let answer = self
            .marathon(method.clone(), path, Some(&body), WRITE_RETRY)
            .await;
        match answer {
            Some((status, value)) if (200..300).contains(&status) => {
                let version = value["version"].as_str().unwrap_or_default().to_string();
                let deployment = value["deploymentId"]
                    .as_str()
                    .or_else(|| value["deployments"][0]["id"].as_str())
                    .unwrap_or_default()
                    .to_string();
                self.event(format!(
                    "{method} {path} -> {status}: version {version}, deployment {deployment}"
                ));
                if !version.is_empty() {
                    self.acknowledged[app].push(version);
                }
                true
            }
            Some((status, value)) => {
                self.violation(
                    "write refused",
                    format!("{method} {path} {body} -> {status} {value}"),
                );
                false
            }
            None => {
                self.violation(
                    "Marathon unavailable",
                    format!("{method} {path}: no answer for {WRITE_RETRY:?}"),
                );
                false
            }
        }
    }

    async fn deploy_apps(&mut self, timeout: Duration) -> bool {
        for i in 0..self.specs.len() {
            let definition = self.specs[i].definition.clone();
            if !self
                .write(i, reqwest::Method::POST, "/v2/apps", definition)
                .await
            {
                return false;
            }
            let spec = &self.specs[i];
            let (app, n, over) = (spec.safe_id(), spec.instances, spec.strategy);
            self.shared.lock().unwrap().checker.settle(&app, n, over);
        }
        let took = self.wait_converged(timeout).await;
        took.is_some()
    }

    async fn apply(&mut self, step: usize, change: Change) -> bool {
        let (app, body) = match change {
            Change::Scale { app, instances } => {
                self.intents[app].instances = instances;
                (app, json!({ "instances": instances }))
            }
            Change::Restart { app } => {
                self.intents[app].round = step as u32;
                (app, json!({ "env": { "ROUND": step.to_string() } }))
            }
        };
        let spec = &self.specs[app];
        let (safe, over) = (spec.safe_id(), spec.strategy);
        let instances = self.intents[app].instances;
        // The bound widens before the write: tasks may start as soon as it is accepted.
        self.shared
            .lock()
            .unwrap()
            .checker
            .change(&safe, instances, over);
        let path = format!("{}?force=true", self.specs[app].id);
        self.write(app, reqwest::Method::PUT, &format!("/v2/apps{path}"), body)
            .await
    }

    /// One step; the time the apps took to converge after the restore.
    async fn step(
        &mut self,
        n: usize,
        step: &super::schedule::Step,
        timeout: Duration,
    ) -> Option<Duration> {
        self.event(format!("step {n}: {}", step.fault));
        if let Some(change) = step.change {
            self.event(format!("step {n}: {change}"));
            if !self.apply(n, change).await {
                return None;
            }
        }
        self.inject(&step.fault).await?;
        self.event(format!("step {n}: restored; waiting for convergence"));
        let took = self.wait_converged(timeout).await;
        if let Some(t) = took {
            self.event(format!(
                "step {n}: converged {:.1}s after the restore",
                t.as_secs_f64()
            ));
        }
        took
    }

    async fn target(&mut self, target: Target) -> Option<ProcId> {
        let id = match target {
            Target::Agent(i) => Some(ProcId::Agent(i)),
            Target::Master(role) => self.cluster.resolve(false, role).await,
            Target::Marathon(role) => self.cluster.resolve(true, role).await,
        };
        if id.is_none() {
            self.violation("no leader", format!("cannot find {target}"));
        }
        id
    }

    /// Injects `fault`, holds it, restores it.
    async fn inject(&mut self, fault: &Fault) -> Option<()> {
        match *fault {
            Fault::Kill9 { target, down } => {
                let id = self.target(target).await?;
                self.event(format!("kill -9 {id}"));
                self.cluster.kill9(id);
                self.hold(down).await;
                self.event(format!("restart {id}"));
                self.cluster.restart(id);
            }
            Fault::Pause { target, pause } => {
                let id = self.target(target).await?;
                self.event(format!("SIGSTOP {id}"));
                self.cluster.signal(id, Signal::SIGSTOP);
                self.hold(pause).await;
                self.event(format!("SIGCONT {id}"));
                self.cluster.signal(id, Signal::SIGCONT);
            }
            Fault::ZkServerLoss { server, down } => {
                self.event(format!("kill ZooKeeper server {server}"));
                self.cluster.zk_stop(server).await;
                self.hold(down).await;
                self.event(format!("start ZooKeeper server {server}"));
                self.cluster.zk_start(server).await;
            }
            Fault::ZkQuorumLoss { servers, down } => {
                self.event(format!("kill ZooKeeper servers {servers:?}"));
                for s in servers {
                    self.cluster.zk_stop(s).await;
                }
                self.hold(down).await;
                self.event(format!("start ZooKeeper servers {servers:?}"));
                for s in servers {
                    self.cluster.zk_start(s).await;
                }
            }
            Fault::DockerSocketCut { agent, down } => {
                self.event(format!("cut agent{agent}'s Docker socket"));
                self.cluster.proxies[agent].take_down();
                self.hold(down).await;
                self.event(format!("restore agent{agent}'s Docker socket"));
                self.cluster.proxies[agent].bring_back();
            }
            Fault::AgentRestart { agent } => {
                let id = ProcId::Agent(agent);
                self.event(format!("SIGTERM {id}"));
                self.cluster.terminate(id).await;
                self.event(format!("start {id} on its work dir"));
                self.cluster.restart(id);
            }
            Fault::MarathonAbdication => {
                // The step's change started a rolling restart of app 0: abdicate while it
                // is still listed.
                let app = self.specs[0].id;
                let running = self
                    .marathon(reqwest::Method::GET, "/v2/deployments", None, WRITE_RETRY)
                    .await
                    .is_some_and(|(_, d)| {
                        d.as_array().is_some_and(|a| {
                            a.iter().any(|d| {
                                d["affectedApps"]
                                    .as_array()
                                    .is_some_and(|x| x.iter().any(|x| x == app))
                            })
                        })
                    });
                let leader = self.cluster.leading_marathon().await;
                self.event(format!(
                    "DELETE /v2/leader (leader marathon{leader:?}, deployment of {app} running: {running})"
                ));
                match self
                    .marathon(reqwest::Method::DELETE, "/v2/leader", None, WRITE_RETRY)
                    .await
                {
                    Some((200, _)) => {}
                    other => {
                        self.violation("abdication refused", format!("{other:?}"));
                        return None;
                    }
                }
            }
        }
        Some(())
    }

    /// Waits until every app converged (and settles their bounds); the time it took, or
    /// None after a violation naming what did not converge.
    async fn wait_converged(&mut self, timeout: Duration) -> Option<Duration> {
        let start = Instant::now();
        loop {
            self.check_exits();
            let why = match self.all_converged(start).await {
                Ok(()) => {
                    let mut s = self.shared.lock().unwrap();
                    for (spec, intent) in self.specs.iter().zip(&self.intents) {
                        s.checker
                            .settle(&spec.safe_id(), intent.instances, spec.strategy);
                    }
                    return Some(start.elapsed());
                }
                Err(e) => e,
            };
            if start.elapsed() > timeout {
                self.violation(
                    "no convergence",
                    format!("not converged after {timeout:?}: {why}"),
                );
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn all_converged(&self, since: Instant) -> Result<(), String> {
        let deployments = self
            .marathon(
                reqwest::Method::GET,
                "/v2/deployments",
                None,
                Duration::ZERO,
            )
            .await
            .filter(|(s, _)| *s == 200)
            .ok_or("no deployments from Marathon")?
            .1;
        for intent in &self.intents {
            let (status, app) = self
                .marathon(
                    reqwest::Method::GET,
                    &format!("/v2/apps{}", intent.id),
                    None,
                    Duration::ZERO,
                )
                .await
                .ok_or("Marathon does not answer")?;
            if status != 200 {
                return Err(format!("GET /v2/apps{}: {status} {app}", intent.id));
            }
            // A master snapshot taken after this check began.
            let master = {
                let s = self.shared.lock().unwrap();
                match &s.latest {
                    Some((at, tasks)) if *at > since => tasks.clone(),
                    _ => return Err("no fresh state from a leading master".to_string()),
                }
            };
            converged(intent, &app["app"], &deployments, &master)
                .map_err(|e| format!("{}: {e}", intent.id))?;
        }
        Ok(())
    }

    /// The end: every acknowledged version is listed, nothing crashed.
    async fn final_checks(&mut self, patience: Duration) {
        self.check_exits();
        for i in 0..self.specs.len() {
            let path = format!("/v2/apps{}/versions", self.specs[i].id);
            let Some((200, versions)) = self
                .marathon(reqwest::Method::GET, &path, None, patience)
                .await
            else {
                self.violation(
                    "acknowledged version lost",
                    format!("{path} does not answer"),
                );
                continue;
            };
            let missing = acknowledged_versions_kept(&self.acknowledged[i], &versions);
            if !missing.is_empty() {
                self.violation(
                    "acknowledged version lost",
                    format!("{}: {missing:?} not in {versions}", self.specs[i].id),
                );
            }
        }
    }

    fn logs(&self) -> String {
        let mut out = self.cluster.ha.logs();
        for m in &self.cluster.marathons {
            out.push_str(&m.proc.log_tail(40));
        }
        out
    }
}
