//! `mesos-dns` benchmarks against a real master and agent on loopback:
//!
//! - **Queries per second** for names in the zone (A records of running tasks), from a UDP
//!   load generator (threads with a window of outstanding queries each) for a fixed time;
//!   with the CPU time mesos-dns spent per query (from `/proc/<pid>/stat`) and the load
//!   generator's own CPU. The same generator against a trivial UDP echo server in the same
//!   run gives the machine's packet rate as a ratio to compare with (target: >= 50,000
//!   queries/s on the 2 cores, load generator included).
//! - **TASK_RUNNING to resolvable**: a framework launches a task while a poller asks for
//!   its name every millisecond; measured from the agent's TASK_RUNNING timestamp (and from
//!   the framework receiving the update) to the first answer with the address; then from
//!   TASK_KILLED to NXDOMAIN (target <= 100 ms; Mesos-DNS polls every 60 s).
//!
//! Build mesos-dns in release mode and the rest as for the tests, then run:
//! `cargo build --workspace --bins && cargo build --release -p mesos-dns && cargo run -p mesos-tests --bin dns-bench -- --mesos-dns=target/release/mesos-dns`
//! Options: `--seconds=S` (5), `--threads=N` (2), `--window=W` (64), `--runs=R` (20),
//! `--tasks=T` (20). Prints a table and writes `bench/results/dns.md`.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesos_tests::mesos_dns::MesosDns;
use mesos_tests::*;
use serde_json::{json, Value};

struct Args {
    mesos_dns: PathBuf,
    seconds: u64,
    threads: usize,
    window: usize,
    runs: usize,
    tasks: usize,
}

fn args() -> Args {
    let mut out = Args {
        mesos_dns: binary("mesos-dns"),
        seconds: 5,
        threads: 2,
        window: 64,
        runs: 20,
        tasks: 20,
    };
    for arg in std::env::args().skip(1) {
        let (name, value) = arg.split_once('=').unwrap_or((&arg, ""));
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}=<number>"))
        };
        match name {
            "--mesos-dns" => out.mesos_dns = value.into(),
            "--seconds" => out.seconds = number(),
            "--threads" => out.threads = number() as usize,
            "--window" => out.window = number() as usize,
            "--runs" => out.runs = number() as usize,
            "--tasks" => out.tasks = number() as usize,
            other => panic!("unknown option {other}; see the top of dns-bench.rs"),
        }
    }
    out
}

/// A DNS question for an A record, id 0 (patched per send).
fn question(name: &str) -> Vec<u8> {
    let mut q = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Response code and answer count of a DNS response.
fn rcode_answers(packet: &[u8]) -> Option<(u8, u16)> {
    (packet.len() >= 12 && packet[2] & 0x80 != 0)
        .then(|| (packet[3] & 0x0f, u16::from_be_bytes([packet[6], packet[7]])))
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line are the 12th and 13th after the command name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0 // USER_HZ is 100 on Linux
}

struct Load {
    answered: u64,
    failed: u64,
    elapsed: Duration,
    server_cpu: f64,
    client_cpu: f64,
}

/// Keeps `window` questions in flight per thread for `seconds`, cycling through `names`.
fn load(
    server: &str,
    names: &[String],
    threads: usize,
    window: usize,
    seconds: u64,
    server_pid: &str,
) -> Load {
    let questions: Arc<Vec<Vec<u8>>> = Arc::new(names.iter().map(|n| question(n)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let server_before = cpu_seconds(server_pid);
    let client_before = cpu_seconds("self");
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let questions = questions.clone();
            let stop = stop.clone();
            let server = server.to_string();
            std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn(move || {
                    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                    socket.connect(&server).unwrap();
                    socket
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    let mut next = t;
                    let mut id: u16 = 0;
                    let mut send = |socket: &UdpSocket| {
                        let mut q = questions[next % questions.len()].clone();
                        next += 1;
                        id = id.wrapping_add(1);
                        q[..2].copy_from_slice(&id.to_be_bytes());
                        let _ = socket.send(&q);
                    };
                    for _ in 0..window {
                        send(&socket);
                    }
                    let (mut answered, mut failed) = (0u64, 0u64);
                    let mut buffer = [0u8; 1500];
                    while !stop.load(Ordering::Relaxed) {
                        match socket.recv(&mut buffer) {
                            Ok(n) => {
                                match rcode_answers(&buffer[..n]) {
                                    Some((0, a)) if a > 0 => answered += 1,
                                    _ => failed += 1,
                                }
                                send(&socket);
                            }
                            Err(_) => {
                                // Lost in flight: refill the window.
                                failed += window as u64;
                                for _ in 0..window {
                                    send(&socket);
                                }
                            }
                        }
                    }
                    (answered, failed)
                })
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let server_cpu = cpu_seconds(server_pid) - server_before;
    let client_cpu = cpu_seconds("self") - client_before;
    let (mut answered, mut failed) = (0, 0);
    for w in workers {
        let (a, f) = w.join().unwrap();
        answered += a;
        failed += f;
    }
    Load {
        answered,
        failed,
        elapsed,
        server_cpu,
        client_cpu,
    }
}

/// A UDP server that answers each question with itself marked as a response with one
/// answer: the least any DNS server must do, for the machine's packet rate.
fn echo_server() -> (String, Arc<AtomicBool>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let address = socket.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..2 {
        let socket = socket.try_clone().unwrap();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1500];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buffer) {
                    buffer[2] |= 0x80;
                    buffer[7] = 1;
                    let _ = socket.send_to(&buffer[..n], from);
                }
            }
        });
    }
    (address, stop)
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Asks `name` every millisecond from another thread until `want` holds for the answer;
/// returns the wall-clock time it first did.
fn poll_until(
    server: &str,
    name: &str,
    want: fn(u8, u16) -> bool,
) -> std::thread::JoinHandle<Option<f64>> {
    let server = server.to_string();
    let q = question(name);
    std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(&server).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut buffer = [0u8; 1500];
        while Instant::now() < deadline {
            let sent_at = now_secs();
            let _ = socket.send(&q);
            if let Ok(n) = socket.recv(&mut buffer) {
                if let Some((code, answers)) = rcode_answers(&buffer[..n]) {
                    if want(code, answers) {
                        // The state was there when the question left.
                        return Some(sent_at);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} / {:.1} / {:.1} / {:.1}",
        percentile(&values, 0.0),
        percentile(&values, 0.5),
        percentile(&values, 0.95),
        percentile(&values, 1.0)
    )
}

#[tokio::main]
async fn main() {
    let args = args();
    let cluster = Cluster::start().await;
    let dns = MesosDns::start_binary(
        &args.mesos_dns,
        cluster.root(),
        json!({"masters": [cluster.master_addr()], "externalon": false}),
    )
    .await;
    let server = format!("127.0.0.1:{}", dns.dns_port);
    let pid = dns.proc.pid().expect("mesos-dns runs").to_string();
    let mut framework = cluster.subscribe("bench").await;

    // Tasks whose names the load asks for.
    let offer = framework.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let tasks: Vec<Value> = (0..args.tasks)
        .map(|i| command_task(&format!("bench-{i}"), &agent_id, "sleep 3600", 0.01, 8.0))
        .collect();
    framework.launch(&offer, tasks).await;
    for i in 0..args.tasks {
        framework
            .await_state(&format!("bench-{i}"), "TASK_RUNNING")
            .await;
    }
    let names: Vec<String> = (0..args.tasks)
        .map(|i| format!("bench-{i}.bench.mesos."))
        .collect();
    for name in &names {
        poll_until(&server, name, |code, answers| code == 0 && answers > 0)
            .join()
            .unwrap()
            .expect("the bench tasks resolve");
    }

    let (echo, echo_stop) = echo_server();
    let (threads, window, seconds) = (args.threads, args.window, args.seconds);
    let echo_load = tokio::task::spawn_blocking({
        let names = names.clone();
        move || load(&echo, &names, threads, window, seconds, "self")
    })
    .await
    .unwrap();
    echo_stop.store(true, Ordering::Relaxed);
    let dns_load = tokio::task::spawn_blocking({
        let (server, names, pid) = (server.clone(), names.clone(), pid.clone());
        move || load(&server, &names, threads, window, seconds, &pid)
    })
    .await
    .unwrap();

    // TASK_RUNNING to resolvable, and TASK_KILLED to gone.
    let (mut from_agent, mut from_framework, mut gone_agent, mut gone_framework) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..args.runs {
        let task_id = format!("lat-{run}");
        let name = format!("{task_id}.bench.mesos.");
        let offer = framework.next_offer().await;
        let resolved = poll_until(&server, &name, |code, answers| code == 0 && answers > 0);
        framework
            .launch(
                &offer,
                vec![command_task(&task_id, &agent_id, "sleep 3600", 0.01, 8.0)],
            )
            .await;
        let running = framework.await_state(&task_id, "TASK_RUNNING").await;
        let received = now_secs();
        let at = resolved
            .join()
            .unwrap()
            .expect("the task resolves within 60 s");
        let agent_ts = running["timestamp"].as_f64().unwrap_or(received);
        from_agent.push((at - agent_ts) * 1000.0);
        from_framework.push((at - received) * 1000.0);

        let gone = poll_until(&server, &name, |code, _| code == 3);
        framework.kill(&task_id, &agent_id).await;
        let killed = framework.await_state(&task_id, "TASK_KILLED").await;
        let received = now_secs();
        let at = gone
            .join()
            .unwrap()
            .expect("the task leaves DNS within 60 s");
        let agent_ts = killed["timestamp"].as_f64().unwrap_or(received);
        gone_agent.push((at - agent_ts) * 1000.0);
        gone_framework.push((at - received) * 1000.0);
    }

    let machine = machine();
    let qps = |l: &Load| l.answered as f64 / l.elapsed.as_secs_f64();
    let mut out = String::new();
    out.push_str("# mesos-dns benchmark\n\n");
    // The generator, the master and the agent come from this binary's own build profile.
    let (profile, build) = if cfg!(debug_assertions) {
        ("debug", "cargo build --workspace --bins && cargo build --release -p mesos-dns && cargo run -p mesos-tests --bin dns-bench --")
    } else {
        ("release", "cargo build --release --workspace --bins && target/release/dns-bench")
    };
    out.push_str(&format!(
        "Command: `{build} --mesos-dns={} --seconds={} --threads={} --window={} --runs={} --tasks={}`\n\n",
        args.mesos_dns.display(), args.seconds, args.threads, args.window, args.runs, args.tasks
    ));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    out.push_str(&format!(
        "Machine: {machine}; load average at the end {}\n\n",
        load.join(" ")
    ));
    out.push_str(&format!(
        "mesos-dns is `{}`; the master, the agent and this load generator are {profile} builds sharing the same 2 cores (so the generator's CPU counts against the server's).\n\n",
        args.mesos_dns.display()
    ));
    out.push_str("## Queries per second (A records of running tasks, UDP)\n\n");
    out.push_str("| server | answered/s | failed | server CPU µs/query | generator CPU µs/query |\n|---|---|---|---|---|\n");
    for (label, l) in [
        ("UDP echo (baseline)", &echo_load),
        ("mesos-dns", &dns_load),
    ] {
        let server_cpu = if label.starts_with("UDP") {
            f64::NAN
        } else {
            l.server_cpu
        };
        out.push_str(&format!(
            "| {label} | {:.0} | {} | {:.1} | {:.1} |\n",
            qps(l),
            l.failed,
            server_cpu / l.answered.max(1) as f64 * 1e6,
            l.client_cpu / l.answered.max(1) as f64 * 1e6,
        ));
    }
    out.push_str(&format!(
        "\nmesos-dns answers {:.0}% of the echo server's rate in the same run (target: >= 50,000 answered/s).\n\n",
        qps(&dns_load) / qps(&echo_load) * 100.0
    ));
    out.push_str(&format!(
        "## Task state to DNS ({} runs; min / median / p95 / max, ms)\n\n",
        args.runs
    ));
    out.push_str(
        "| from | TASK_RUNNING to resolvable | TASK_KILLED to NXDOMAIN |\n|---|---|---|\n",
    );
    out.push_str(&format!(
        "| the agent's status timestamp | {} | {} |\n",
        summary(from_agent),
        summary(gone_agent)
    ));
    out.push_str(&format!(
        "| the framework receiving the update | {} | {} |\n",
        summary(from_framework),
        summary(gone_framework)
    ));
    out.push_str("\nThe poller asks every millisecond and counts the time its question left, so figures are within ~1 ms; a negative figure means DNS had the change before the framework got its update (the master tells both at once). Target: <= 100 ms (Mesos-DNS: up to `refreshSeconds`, 60 s).\n");
    println!("{out}");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/dns.md");
    std::fs::write(&path, &out).expect("write bench/results/dns.md");
    eprintln!("wrote {}", path.display());
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores ({cpu}), Linux {}", kernel.trim())
}
