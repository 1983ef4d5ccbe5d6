//! Failover of the leading master, against a real three-server ZooKeeper ensemble on
//! loopback with three masters and one agent:
//!
//! - kill -9 of the leader: ZooKeeper deletes its znode only when its session expires, so
//!   the new leader can serve after the session timeout (target: timeout + 1 s);
//! - graceful stop (SIGINT) of the leader: it closes its session, its znode goes at once
//!   (target: 1 s).
//!
//! Each figure runs from the signal to the first master answering a SUBSCRIBE with 200 and
//! a SUBSCRIBED event; the second column is until the agent is registered with it. The
//! stopped master is started again (as a standby) before the next run.
//!
//! Build the binaries in release mode first, then run:
//! `cargo build --release --workspace --bins && cargo run --release -p mesos-tests --bin failover-bench`
//! Options: `--runs=N` (default 5), `--session_timeout_secs=S[,S...]` (default `10,4`: Mesos's
//! default and the tests' value; ZooKeeper runs with tickTime 500 ms, so sessions of 1 to
//! 10 s are allowed). Each session timeout gets its own cluster.
//! It prints a table and writes `bench/results/failover.md`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mesos_tests::cluster::wait_ready;
use mesos_tests::zookeeper::{HaCluster, HaOptions};
use mesos_tests::*;
use serde_json::json;

struct Args {
    runs: usize,
    session_timeouts: Vec<Duration>,
}

fn args() -> Args {
    let mut out = Args {
        runs: 5,
        session_timeouts: vec![Duration::from_secs(10), Duration::from_secs(4)],
    };
    for arg in std::env::args().skip(1) {
        let (name, value) = arg.split_once('=').unwrap_or((&arg, ""));
        match name {
            "--runs" => out.runs = value.parse().expect("--runs=N"),
            "--session_timeout_secs" => {
                out.session_timeouts = value
                    .split(',')
                    .map(|s| Duration::from_secs(s.parse().expect("--session_timeout_secs=S,...")))
                    .collect()
            }
            other => panic!("unknown option {other}; see the top of failover-bench.rs"),
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Kill9,
    Graceful,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Kill9 => "kill -9 of the leader",
            Stop::Graceful => "graceful stop (SIGINT) of the leader",
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let mut rows = Vec::new();
    for &session in &args.session_timeouts {
        let mut cluster = HaCluster::start(HaOptions {
            session_timeout: session,
            ..HaOptions::default()
        })
        .await;
        for stop in [Stop::Kill9, Stop::Graceful] {
            let mut serving = Vec::new();
            let mut agent = Vec::new();
            for run in 0..args.runs {
                let (s, a) = failover(&mut cluster, stop).await;
                eprintln!(
                    "{} ({session:?} sessions) run {}: serving SUBSCRIBE after {s:?}, \
                     agent re-registered after {a:?}",
                    stop.name(),
                    run + 1
                );
                serving.push(s);
                agent.push(a);
            }
            rows.push(Row {
                stop,
                session,
                serving,
                agent,
            });
        }
    }
    let table = table(&rows);
    print!("{table}");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/failover.md");
    std::fs::create_dir_all(path.parent().unwrap()).expect("bench/results");
    std::fs::write(&path, report(&table, &args)).expect("write bench/results/failover.md");
    eprintln!("wrote {}", path.display());
}

/// Stops the leader; returns the times until another master served SUBSCRIBE and until
/// the agent was registered with it.
async fn failover(cluster: &mut HaCluster, stop: Stop) -> (Duration, Duration) {
    let leader = cluster.wait_for_leader().await;
    cluster.wait_for_agents(1).await;
    // Let the registry write settle, as in a cluster that has been up for a while.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let others: Vec<usize> = (0..cluster.masters.len())
        .filter(|i| *i != leader)
        .collect();
    let started = Instant::now();
    match stop {
        Stop::Kill9 => cluster.masters[leader].proc.kill9(),
        Stop::Graceful => {
            let pid = cluster.masters[leader].proc.pid().expect("leader runs");
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGINT,
            )
            .expect("SIGINT sent");
        }
    }
    let (new_leader, serving) = first_serving(cluster, &others, started).await;
    let agent = eventually("the agent at the new leader", TIMEOUT * 3, async || {
        let state = cluster.master_state(new_leader).await?;
        let active = state["slaves"]
            .as_array()?
            .iter()
            .any(|s| s["active"] == true);
        active.then(|| started.elapsed())
    })
    .await;

    // Bring the stopped master back as a standby for the next run.
    let proc = &mut cluster.masters[leader].proc;
    if stop == Stop::Graceful && proc.wait_exit(Duration::from_secs(10)).await.is_none() {
        panic!("the leader did not stop on SIGINT\n{}", proc.log_tail(40));
    }
    proc.restart();
    let url = cluster.master_url(leader, "/health");
    let proc = &mut cluster.masters[leader].proc;
    wait_ready(proc, &url).await.expect("restarted master");
    (serving, agent)
}

/// Polls every candidate with SUBSCRIBE until one answers 200 and SUBSCRIBED.
async fn first_serving(
    cluster: &HaCluster,
    candidates: &[usize],
    started: Instant,
) -> (usize, Duration) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let call = json!({
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": framework_info("failover-bench")}
    })
    .to_string();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no master served SUBSCRIBE within 60 s\n{}",
            cluster.logs()
        );
        for &i in candidates {
            let response = client
                .post(cluster.master_url(i, "/api/v1/scheduler"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(call.clone())
                .send()
                .await;
            let Ok(response) = response else { continue };
            if response.status().as_u16() != 200 {
                continue;
            }
            let mut body = response.bytes_stream();
            if let Ok(Some(Ok(chunk))) =
                tokio::time::timeout(Duration::from_secs(2), body.next()).await
            {
                if String::from_utf8_lossy(&chunk).contains("SUBSCRIBED") {
                    return (i, started.elapsed());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn stats(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    (
        sorted[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1],
    )
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

struct Row {
    stop: Stop,
    session: Duration,
    serving: Vec<Duration>,
    agent: Vec<Duration>,
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | session timeout | runs | new leader serves SUBSCRIBE: min / median / max | agent re-registered: median | target |\n\
         |---|---|---|---|---|---|\n",
    );
    for row in rows {
        let (min, median, max) = stats(&row.serving);
        let target = match row.stop {
            Stop::Kill9 => row.session + Duration::from_secs(1),
            Stop::Graceful => Duration::from_secs(1),
        };
        let met = if max <= target { "met" } else { "missed" };
        out.push_str(&format!(
            "| {} | {} | {} | {} / {} / {} | {} | <= {} ({met}) |\n",
            row.stop.name(),
            secs(row.session),
            row.serving.len(),
            secs(min),
            secs(median),
            secs(max),
            secs(stats(&row.agent).1),
            secs(target),
        ));
    }
    out
}

fn report(table: &str, args: &Args) -> String {
    let shell = mesos_tests::process::shell_output;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = shell("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo");
    let cpu = shell("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1");
    let sessions: Vec<String> = args
        .session_timeouts
        .iter()
        .map(|t| t.as_secs().to_string())
        .collect();
    format!(
        "# Master failover\n\n\
         Command: `cargo build --release --workspace --bins && cargo run --release -p mesos-tests \
         --bin failover-bench -- --runs={} --session_timeout_secs={}`\n\n\
         - date: {}\n- cores: {cores} ({cpu})\n- memory: {memory}\n\
         - ZooKeeper: Debian's zookeeper 3.8, three servers on loopback (tickTime 500 ms), \
         started by scripts/zookeeper.sh\n\
         - three masters (`--zk_session_timeout` as in the table), one agent following the \
         election\n\n\
         Each run stops the current leader and measures, from the signal, the time until one \
         of the two other masters answers a SUBSCRIBE with 200 and a SUBSCRIBED event (polled \
         every 10 ms), and until the agent is registered with that master. After kill -9 the \
         dead master's znode stays until ZooKeeper expires its session; after a graceful stop \
         the master closes its session, so its znode goes at once. The stopped master is then \
         restarted as a standby. Mesos reports 4-8 s.\n\n{table}\n\
         Pending: the re-registration of 10,000 simulated agents with a new leader (target: \
         all within 5 s of its election) needs the agent simulator of the scale issue.\n",
        args.runs,
        sessions.join(","),
        shell("date -u '+%Y-%m-%d %H:%M:%S UTC'"),
    )
}
