//! marathon-lb benchmark, on the real master, agent, Marathon and HAProxy:
//!
//! - reachability: a new task of a command app turns TASK_RUNNING (Marathon's `startedAt`;
//!   these apps have no health checks) -> the first answer from it through the service port,
//!   with a client sending 200 requests/s through the port; beside it, the time until the
//!   task answered on its own host port (the app's own start-up, which no load balancer can
//!   beat), so the load balancer's share is the difference;
//! - rolling restart: an app of 10 instances restarted with a changed `env`
//!   (`PUT /v2/apps/<id>?force=true`) while a client sends 500 requests/s, one new
//!   connection each, through the service port: requests failed.
//!
//! `cargo build --workspace --bins && cargo run -p mesos-tests --bin lb-bench` (add
//! `--release` to both for release binaries). It prints a table and writes
//! `bench/results/lb.md`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesos_tests::marathon::{task_ids, Marathon};
use mesos_tests::marathon_lb::{drained_web_app, get, LoadClient, MarathonLb, Sample};
use mesos_tests::*;
use serde_json::{json, Value};

const REACH_ROUNDS: usize = 10;
const RESTART_ROUNDS: usize = 3;
const INSTANCES: usize = 10;
const RATE: u32 = 500;
const LONG: Duration = Duration::from_secs(120);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cluster = Cluster::start_with(ClusterOptions {
        agent_resources: "cpus:8;mem:8192;disk:1024;ports:[31000-31400]".to_string(),
        ..ClusterOptions::default()
    })
    .await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let lb = MarathonLb::start(cluster.root(), &marathon, &["--group", "*"]).await;
    let events = if marathon.get("/v2/events").await.status == 404 {
        "polling /v2/apps every second (Marathon has no /v2/events)"
    } else {
        "Marathon's /v2/events stream"
    };

    // Reachability.
    // No health checks here: "healthy" is TASK_RUNNING.
    let mut reach_app = drained_web_app(cluster.root(), "/reach", 1, 5);
    reach_app.as_object_mut().unwrap().remove("healthChecks");
    let port = create(&marathon, &reach_app).await;
    eventually("/reach through its service port", LONG, async || {
        get(&lb.addr, port).await.ok()
    })
    .await;
    let wall_at_start = SystemTime::now();
    let client = LoadClient::start(&lb.addr, port, 200);
    let mut reach = vec![];
    for round in 0..REACH_ROUNDS {
        let before = task_ids(&marathon.tasks("/reach").await);
        scale(&marathon, "/reach", 2).await;
        let task = eventually("the new task running", LONG, async || {
            marathon.tasks("/reach").await.into_iter().find(|t| {
                !before.contains(&t["id"].as_str().unwrap_or_default().to_string())
                    && t["state"] == "TASK_RUNNING"
            })
        })
        .await;
        let id = task["id"].as_str().unwrap().to_string();
        let running = iso_to_system(task["startedAt"].as_str().unwrap());
        let host_port = task["ports"][0].as_u64().unwrap() as u16;
        let direct = eventually("the task on its host port", LONG, async || {
            get("127.0.0.1", host_port)
                .await
                .ok()
                .map(|_| SystemTime::now())
        })
        .await;
        let through = eventually("the task through the service port", LONG, async || {
            client
                .samples()
                .iter()
                .filter(|s| s.result.as_deref() == Ok(id.as_str()))
                .map(|s| wall_at_start + s.answered)
                .min()
        })
        .await;
        let total = since(running, through);
        let own = since(running, direct);
        eprintln!("reach {round}: through the LB {total:?}, on its own port {own:?}");
        reach.push((total, own));
        scale(&marathon, "/reach", 1).await;
        marathon.wait_running("/reach", 1, LONG).await;
    }
    let reach_samples = client.finish().await;
    let reach_failed = reach_samples.iter().filter(|s| s.result.is_err()).count();
    let _ = marathon
        .send("DELETE", "/v2/apps/reach?force=true", None)
        .await;

    // Rolling restarts under load.
    // Zero-downtime restarts need Marathon to know when a new task serves: an HTTP health
    // check, so old tasks go only as new ones answer (marathon-lb's advice too).
    let rolling = drained_web_app(cluster.root(), "/rolling", INSTANCES, 5);
    let port = create(&marathon, &rolling).await;
    marathon.wait_running("/rolling", INSTANCES, LONG).await;
    lb.wait_servers(&format!("rolling_{port}"), INSTANCES, LONG)
        .await;
    let mut restarts = vec![];
    for round in 0..RESTART_ROUNDS {
        let old = task_ids(&marathon.tasks("/rolling").await);
        let client = LoadClient::start(&lb.addr, port, RATE);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let started = Instant::now();
        let r = marathon
            .send(
                "PUT",
                "/v2/apps/rolling?force=true",
                Some(&json!({"env": {"ROUND": round.to_string()}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        lb.wait_replaced(
            &marathon,
            "/rolling",
            &format!("rolling_{port}"),
            &old,
            INSTANCES,
            LONG,
        )
        .await;
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let samples = client.finish().await;
        let row = Restart::new(took, &samples);
        eprintln!(
            "restart {round}: {} requests, {} failed, {took:?}",
            row.total, row.failed
        );
        restarts.push(row);
    }

    let (cpu, reloads, reload_ms) = lb_costs(&lb);
    let table = table(
        &reach,
        reach_failed,
        reach_samples.len(),
        &restarts,
        cpu,
        reloads,
        &reload_ms,
    );
    println!("{table}");
    let report = format!(
        "# marathon-lb: reachability and rolling restarts\n\n\
         Command: `cargo build --workspace --bins && cargo run -p mesos-tests --bin lb-bench` \
         (debug binaries)\n\n{}\n\
         marathon-lb followed Marathon by {events}; HAProxy {} (Debian), reloads with \
         `-D -x <socket> -sf <old pids>`. The app is a Python HTTP server on 127.0.0.1 (one \
         command task per instance; the reachability app has no health checks, so \"healthy\" is \
         TASK_RUNNING there; the rolling app has an HTTP health check every second, and \
         marathon-lb runs with `--health-check`). Client: \
         one new connection per request, open loop at the stated rate.\n\n{table}\n",
        machine(),
        haproxy_version(),
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/lb.md");
    std::fs::create_dir_all(path.parent().unwrap()).expect("bench/results");
    std::fs::write(&path, report).expect("write bench/results/lb.md");
    println!("wrote {}", path.display());
}

/// Creates `app`; its first service port.
async fn create(marathon: &Marathon, app: &Value) -> u16 {
    let r = marathon.send("POST", "/v2/apps", Some(app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["portDefinitions"][0]["port"].as_u64().unwrap() as u16
}

async fn scale(marathon: &Marathon, id: &str, instances: usize) {
    let r = marathon
        .send(
            "PUT",
            &format!("/v2/apps{id}?force=true"),
            Some(&json!({"instances": instances})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

fn since(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or(Duration::ZERO)
}

/// Marathon's `2026-12-02T10:26:17.123Z`.
fn iso_to_system(text: &str) -> SystemTime {
    let n = |a: usize, b: usize| text[a..b].parse::<i64>().expect("ISO timestamp");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let seconds = n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    let fraction: f64 = text[19..text.len() - 1].parse::<f64>().unwrap_or(0.0);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH
        + Duration::from_secs((days * 86_400 + seconds) as u64)
        + Duration::from_secs_f64(fraction)
}

struct Restart {
    took: Duration,
    total: usize,
    failed: usize,
    rate: f64,
    reasons: Vec<(String, usize)>,
}

impl Restart {
    fn new(took: Duration, samples: &[Sample]) -> Restart {
        let span = samples
            .last()
            .map(|s| s.sent)
            .unwrap_or_default()
            .saturating_sub(samples.first().map(|s| s.sent).unwrap_or_default());
        let mut reasons = std::collections::BTreeMap::new();
        for s in samples {
            if let Err(e) = &s.result {
                *reasons.entry(e.clone()).or_insert(0) += 1;
            }
        }
        Restart {
            took,
            total: samples.len(),
            failed: samples.iter().filter(|s| s.result.is_err()).count(),
            rate: samples.len() as f64 / span.as_secs_f64().max(1e-3),
            reasons: reasons.into_iter().collect(),
        }
    }
}

/// marathon-lb's CPU (its own and its finished children's: `haproxy -c` and the reload
/// commands), the reloads it logged, and their durations.
fn lb_costs(lb: &MarathonLb) -> (Duration, usize, Vec<u64>) {
    let pid = lb.proc.pid().expect("marathon-lb runs");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis, field 3 (state) comes first; utime, stime,
    // cutime and cstime are fields 14 to 17, in clock ticks of 10 ms.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = (11..15)
        .filter_map(|i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    let cpu = Duration::from_millis(ticks * 10);
    let reload_ms: Vec<u64> = lb
        .proc
        .stderr()
        .lines()
        .filter(|l| l.contains("HAProxy runs the new configuration"))
        .filter_map(|l| l.split("took_ms=").nth(1)?.trim().parse().ok())
        .collect();
    (cpu, reload_ms.len(), reload_ms)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn table(
    reach: &[(Duration, Duration)],
    reach_failed: usize,
    reach_requests: usize,
    restarts: &[Restart],
    cpu: Duration,
    reloads: usize,
    reload_ms: &[u64],
) -> String {
    let totals: Vec<Duration> = reach.iter().map(|r| r.0).collect();
    let own: Vec<Duration> = reach.iter().map(|r| r.1).collect();
    let lb_share: Vec<Duration> = reach.iter().map(|r| r.0.saturating_sub(r.1)).collect();
    let max_total = totals.iter().max().copied().unwrap_or_default();
    let mut out = String::new();
    out.push_str(
        "| measure | rounds | median | max | target |\n| --- | ---: | ---: | ---: | --- |\n",
    );
    out.push_str(&format!(
        "| TASK_RUNNING -> first answer through the service port | {} | {} | {} | <= 1 s: {} |\n",
        reach.len(),
        ms(median(totals.clone())),
        ms(max_total),
        if max_total <= Duration::from_secs(1) {
            "met"
        } else {
            "missed"
        }
    ));
    out.push_str(&format!(
        "| TASK_RUNNING -> first answer on the task's own port (the app's start-up) | {} | {} | {} | |\n",
        reach.len(),
        ms(median(own.clone())),
        ms(own.iter().max().copied().unwrap_or_default())
    ));
    out.push_str(&format!(
        "| the load balancer's share (difference per round) | {} | {} | {} | |\n\n",
        reach.len(),
        ms(median(lb_share.clone())),
        ms(lb_share.iter().max().copied().unwrap_or_default())
    ));
    out.push_str(&format!(
        "Requests failed during the reachability rounds (200/s, scaling 1 -> 2 -> 1 each round): {reach_failed} of {reach_requests}.\n\n"
    ));
    out.push_str("| rolling restart of 10 instances | requests | achieved rate | failed | restart took | target |\n| --- | ---: | ---: | ---: | ---: | --- |\n");
    for (i, r) in restarts.iter().enumerate() {
        out.push_str(&format!(
            "| round {} | {} | {:.0}/s | {} | {} | 0 failed: {} |\n",
            i + 1,
            r.total,
            r.rate,
            r.failed,
            ms(r.took),
            if r.failed == 0 { "met" } else { "missed" }
        ));
    }
    for (i, r) in restarts.iter().enumerate() {
        for (why, n) in &r.reasons {
            out.push_str(&format!("\nround {}: {n} x {why}", i + 1));
        }
    }
    let mut sorted = reload_ms.to_vec();
    sorted.sort_unstable();
    out.push_str(&format!(
        "\n\nCost: {reloads} HAProxy reloads (check + reload, median {} ms, max {} ms); marathon-lb's CPU \
         with its `haproxy -c` and reload commands: {} in total, {:.1} ms per reload.\n",
        sorted.get(sorted.len() / 2).copied().unwrap_or(0),
        sorted.last().copied().unwrap_or(0),
        ms(cpu),
        cpu.as_secs_f64() * 1000.0 / reloads.max(1) as f64
    ));
    out
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "- date: {date}\n- cores: {cores}\n- memory: {:.1} GiB\n- load average at the end (1/5/15 min): {}\n\
         - the machine was shared with other engineers' builds and tests while this ran\n",
        mem_kb as f64 / 1024.0 / 1024.0,
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

fn haproxy_version() -> String {
    std::process::Command::new("haproxy")
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(2)
                .unwrap_or("?")
                .to_string()
        })
        .unwrap_or_else(|_| "?".into())
}
