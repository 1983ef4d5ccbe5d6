//! Launch overhead of the Docker containerizer against raw `docker run -d`, measured in the
//! same run on the same daemon and image:
//!
//! - single: ACCEPT of one Docker task -> its TASK_RUNNING, versus one `docker run -d`
//!   (median of N each, interleaved);
//! - concurrent: ACCEPT of twenty tasks on one agent -> the last TASK_RUNNING, versus twenty
//!   `docker run -d` started at once -> the last one returning.
//!
//! Build the binaries in release mode first, then run:
//! `cargo build --release --workspace --bins && cargo run --release -p mesos-tests --bin docker-bench`
//! It prints a table and writes `bench/results/docker.md`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mesos_tests::docker::*;
use mesos_tests::scheduler::launch_operation;
use mesos_tests::*;
use serde_json::Value;

const SINGLE_ROUNDS: usize = 15;
const CONCURRENT_ROUNDS: usize = 5;
const CONCURRENCY: usize = 20;
const COMMAND: &str = "sleep 1000";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    ensure_image();
    let cluster = Cluster::start_with(ClusterOptions {
        agent_resources: "cpus:8;mem:8192;disk:1024;ports:[31000-31100]".to_string(),
        agent_flags: docker_agent_flags(),
        ..ClusterOptions::default()
    })
    .await;
    let mut sched = cluster.subscribe("docker-bench").await;
    let agent_id = cluster.agent_id(0).await;
    let _cleanup = ContainerCleanup::new(&agent_id);

    // One launch each way first, so that neither side pays for a cold cache in the figures.
    agent_launch(&mut sched, &agent_id, 1).await;
    raw_launch(1).await;

    let mut single_agent = Vec::new();
    let mut single_raw = Vec::new();
    for round in 0..SINGLE_ROUNDS {
        single_agent.push(agent_launch(&mut sched, &agent_id, 1).await);
        single_raw.push(raw_launch(1).await);
        eprintln!(
            "single {round}: agent {:?}, raw {:?}",
            single_agent[round], single_raw[round]
        );
    }
    let mut many_agent = Vec::new();
    let mut many_raw = Vec::new();
    for round in 0..CONCURRENT_ROUNDS {
        many_agent.push(agent_launch(&mut sched, &agent_id, CONCURRENCY).await);
        many_raw.push(raw_launch(CONCURRENCY).await);
        eprintln!(
            "{CONCURRENCY} concurrent {round}: agent {:?}, raw {:?}",
            many_agent[round], many_raw[round]
        );
    }

    let rows = [
        Row::new(
            "single launch",
            SINGLE_ROUNDS,
            &single_agent,
            &single_raw,
            1.15,
        ),
        Row::new(
            "20 concurrent launches",
            CONCURRENT_ROUNDS,
            &many_agent,
            &many_raw,
            1.2,
        ),
    ];
    let table = table(&rows);
    println!("{table}");
    let report = report(&table, &rows);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/docker.md");
    std::fs::create_dir_all(path.parent().unwrap()).expect("bench/results");
    std::fs::write(&path, report).expect("write bench/results/docker.md");
    println!("wrote {}", path.display());
}

/// ACCEPT of `count` tasks -> the last TASK_RUNNING; then kills them (not timed).
async fn agent_launch(sched: &mut Scheduler, agent_id: &str, count: usize) -> Duration {
    // The resources of the previous round's tasks come back in several offers: take offers
    // until they hold enough, and launch on all of them at once.
    let mut offers: Vec<Value> = Vec::new();
    while offers
        .iter()
        .map(|o| scalar_of(&o["resources"], "cpus"))
        .sum::<f64>()
        < 0.1 * count as f64 - 1e-9
    {
        offers.push(sched.next_offer().await);
    }
    let offer_ids: Vec<&str> = offers.iter().map(offer_id).collect();
    let ids: Vec<String> = (0..count).map(|_| unique_id("bench")).collect();
    let tasks: Vec<Value> = ids
        .iter()
        .map(|id| docker_task(id, agent_id, IMAGE, Some(COMMAND), 0.1, 32.0))
        .collect();
    let start = Instant::now();
    let (status, body) = sched
        .accept(&offer_ids, vec![launch_operation(tasks)])
        .await;
    assert_eq!(status, 202, "ACCEPT: {body}");
    // Updates are acknowledged as a scheduler would: TASK_RUNNING follows only once the
    // agent has the acknowledgement of TASK_STARTING.
    let mut last = start;
    let mut running = std::collections::HashSet::new();
    while running.len() < count {
        let received = sched
            .wait_for_received(
                "an update of the launched tasks",
                Duration::from_secs(60),
                |e| {
                    event_type(e) == "UPDATE"
                        && ids
                            .iter()
                            .any(|id| id == task_id_of(&e["update"]["status"]))
                },
            )
            .await;
        let status = &received.event["update"]["status"];
        assert!(!is_terminal(state_of(status)), "task ended: {status}");
        if state_of(status) == "TASK_RUNNING" && running.insert(task_id_of(status).to_string()) {
            last = last.max(received.at);
        }
        sched.acknowledge(status).await;
    }
    let elapsed = last - start;
    for id in &ids {
        sched.kill(id, agent_id).await;
    }
    for id in &ids {
        sched
            .await_state_within(id, "TASK_KILLED", Duration::from_secs(60))
            .await;
    }
    elapsed
}

/// `count` concurrent `docker run -d` -> the last one returning; then removes them.
async fn raw_launch(count: usize) -> Duration {
    let names: Vec<String> = (0..count)
        .map(|_| format!("mesos-bench-raw-{}", unique_id("r")))
        .collect();
    let start = Instant::now();
    let runs = names.iter().map(|name| {
        let name = name.clone();
        async move {
            let output = tokio::process::Command::new("docker")
                .args([
                    "run",
                    "-d",
                    "--name",
                    &name,
                    "--cpu-shares",
                    "102",
                    "--memory",
                    "32m",
                    IMAGE,
                    "sleep",
                    "1000",
                ])
                .output()
                .await
                .expect("docker run");
            assert!(
                output.status.success(),
                "docker run: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    });
    tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(runs))
        .await
        .expect("docker run -d did not return within 60 s");
    let elapsed = start.elapsed();
    let mut args = vec!["rm".to_string(), "-f".to_string()];
    args.extend(names);
    let status = tokio::process::Command::new("docker")
        .args(&args)
        .output()
        .await
        .expect("docker rm");
    assert!(status.status.success());
    elapsed
}

struct Row {
    name: &'static str,
    rounds: usize,
    agent: Duration,
    raw: Duration,
    target: f64,
}

impl Row {
    fn new(
        name: &'static str,
        rounds: usize,
        agent: &[Duration],
        raw: &[Duration],
        target: f64,
    ) -> Row {
        Row {
            name,
            rounds,
            agent: median(agent),
            raw: median(raw),
            target,
        }
    }

    fn ratio(&self) -> f64 {
        self.agent.as_secs_f64() / self.raw.as_secs_f64()
    }
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | rounds | agent: ACCEPT -> TASK_RUNNING (median) | raw docker run -d (median) | ratio | target |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {:.0} ms | {:.0} ms | {:.2} | <= {:.2} {} |\n",
            row.name,
            row.rounds,
            row.agent.as_secs_f64() * 1e3,
            row.raw.as_secs_f64() * 1e3,
            row.ratio(),
            row.target,
            if row.ratio() <= row.target {
                "met"
            } else {
                "MISSED"
            },
        ));
    }
    out
}

fn report(table: &str, rows: &[Row]) -> String {
    let shell = mesos_tests::process::shell_output;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = shell("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo");
    let docker = shell("docker version --format '{{.Server.Version}} (storage driver '\"$(docker info --format '{{.Driver}}')\"')'");
    let ratios: Vec<String> = rows
        .iter()
        .map(|r| format!("{}: {:.2} (target <= {:.2})", r.name, r.ratio(), r.target))
        .collect();
    format!(
        "# Docker containerizer launch overhead\n\n\
         Command: `cargo build --release --workspace --bins && cargo run --release -p mesos-tests --bin docker-bench`\n\n\
         - date: {}\n- cores: {cores}\n- memory: {memory}\n- Docker daemon: {docker}\n\
         - image: `{IMAGE}` (built locally by scripts/docker-image.sh), task command `{COMMAND}`, \
         cpus 0.1, mem 32 MB; raw runs use `docker run -d --cpu-shares 102 --memory 32m`\n\n\
         The agent figure is the time from the scheduler sending ACCEPT to the scheduler \
         receiving TASK_RUNNING (for twenty tasks in one ACCEPT: the last of them), through \
         master, agent and the Engine API. The raw figure is the time for `docker run -d` to \
         return (for twenty started at once: the last of them). Both run on the same daemon in \
         the same run, interleaved. The raw figure includes the docker CLI starting up and its \
         own API calls; the machine was shared with other builds while this ran, so single \
         samples are noisy and the medians are what counts.\n\n{table}\nRatios: {}.\n",
        shell("date -u '+%Y-%m-%d %H:%M:%S UTC'"),
        ratios.join("; ")
    )
}
