//! The chaos harness's long form: many seeds, many faults each, on a fresh cluster per
//! seed (three ZooKeeper servers, three masters, three Docker agents, two Marathons).
//! Prints, per fault kind, the faults injected and survived and the convergence time
//! after the restore (p50, p99), the seeds run and the violations; a failing seed
//! prints its fault history, what was violated and the command that replays it.
//!
//! `cargo build --release --workspace --bins && cargo run --release -p mesos-tests --bin chaos-bench -- --seeds 5 --faults 7`
//! Options: `--seeds N` (seeds `--first-seed` .. +N, default 3), `--first-seed S` (1),
//! `--seed S` (that seed alone: the replay), `--faults M` (per seed, default 7),
//! `--converge-secs T` (the limit after each fault, default 150), `--out FILE` (also
//! write the report there), `--quiet` (no event lines).

use std::time::{Duration, Instant};

use mesos_tests::chaos::report::Tally;
use mesos_tests::chaos::{run_seed, Options};
use mesos_tests::process::shell_output;

struct Args {
    first_seed: u64,
    seeds: u64,
    faults: usize,
    converge: Duration,
    out: Option<String>,
    quiet: bool,
}

fn args() -> Args {
    let mut out = Args {
        first_seed: 1,
        seeds: 3,
        faults: 7,
        converge: Duration::from_secs(150),
        out: None,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if name == "--quiet" {
            out.quiet = true;
            continue;
        }
        let value = inline
            .or_else(|| it.next())
            .unwrap_or_else(|| fail(&format!("{name} needs a value")));
        let number = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| fail(&format!("{name}: not a number: {v}")))
        };
        match name.as_str() {
            "--seeds" => out.seeds = number(&value),
            "--first-seed" => out.first_seed = number(&value),
            "--seed" => {
                out.first_seed = number(&value);
                out.seeds = 1;
            }
            "--faults" => out.faults = number(&value) as usize,
            "--converge-secs" => out.converge = Duration::from_secs(number(&value)),
            "--out" => out.out = Some(value),
            other => fail(&format!(
                "unknown option {other}; see the top of chaos-bench.rs"
            )),
        }
    }
    out
}

fn fail(why: &str) -> ! {
    eprintln!("chaos-bench: {why}");
    std::process::exit(2);
}

/// CPU seconds of this process and its reaped children (the cluster's processes, all
/// reaped at the end of each seed; the ZooKeeper JVMs are not counted).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, utime..cstime are fields 14..17.
    let ticks: f64 = (11..15)
        .filter_map(|i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = args();
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let mut faults_total = 0;
    for seed in args.first_seed..args.first_seed + args.seeds {
        let mut options = Options::new(seed, args.faults);
        options.converge_timeout = args.converge;
        options.verbose = !args.quiet;
        let report = run_seed(&options).await;
        eprintln!(
            "chaos-bench: seed {seed}: {} fault(s), {} violation(s), {} snapshots, {:.0}s",
            report.faults.len(),
            report.violations.len(),
            report.snapshots,
            report.wall.as_secs_f64()
        );
        if !report.violations.is_empty() {
            let text = report.failure();
            eprintln!("{text}");
            failures.push(text);
        }
        faults_total += report.faults.len();
        tally.add(&report.faults, report.violations.len());
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds();
    let per_fault = |x: f64| x / faults_total.max(1) as f64;
    let shell = shell_output;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let text = format!(
        "# Chaos harness, long form\n\n\
         Command: `cargo run{} -p mesos-tests --bin chaos-bench -- --first-seed {} --seeds {} --faults {} --converge-secs {}` \
         (the cluster's binaries from the same build)\n\n\
         - date: {}\n- cores: {cores} ({}), load average at the end: {}\n- memory: {}\n\
         - cluster per seed: three ZooKeeper servers (64 MB heaps), three masters, three agents \
         with Docker (each behind its own socket proxy, `--hostname` 127.0.0.2-4), two Marathons; \
         apps /chaos/web (Docker BRIDGE, Marathon HTTP check, 2 instances), /chaos/uniq (Docker, \
         hostname:UNIQUE, 2), /chaos/cmd (command, COMMAND check, 2)\n\n\
         {}\n\
         Wall time: {wall:.0} s ({:.1} s per fault, cluster starts included); CPU of the harness \
         and its reaped children (masters, agents, Marathons; not ZooKeeper or containers): \
         {cpu:.0} s ({:.1} s per fault).\n",
        if cfg!(debug_assertions) { "" } else { " --release" },
        args.first_seed,
        args.seeds,
        args.faults,
        args.converge.as_secs(),
        shell("date -u '+%Y-%m-%d %H:%M:%S UTC'"),
        shell("sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1"),
        shell("cut -d' ' -f1-3 /proc/loadavg"),
        shell("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo"),
        tally.table(),
        per_fault(wall),
        per_fault(cpu),
    );
    println!("{text}");
    for f in &failures {
        println!("```\n{f}```");
    }
    if let Some(path) = &args.out {
        let mut all = text.clone();
        for f in &failures {
            all.push_str(&format!("\n```\n{f}```\n"));
        }
        std::fs::write(path, all).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    }
    if tally.violations > 0 {
        std::process::exit(1);
    }
}
