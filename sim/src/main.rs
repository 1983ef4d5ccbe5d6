//! `mesos-sim`: the scale and failover benchmarks (`bench`), Marathon's benchmarks
//! (`marathon`) and a standalone fleet of simulated agents (`agents`).

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use mesos_common::zk::ZkUrl;
use mesos_scheduler::ContentType;
use mesos_sim::bench::{self, BenchOptions, SCENARIOS};
use mesos_sim::failover::FailoverOptions;
use mesos_sim::fleet::{Fleet, FleetConfig, Master};
use mesos_sim::marathon::{self, MarathonOptions};
use mesos_sim::marathon_events::{self, EventsOptions};
use mesos_sim::process;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mesos-sim",
    about = "Simulated Mesos agents and scale benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the bench variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Runs the benchmark scenarios and writes <out>/<name>.json and <out>/<name>.md.
    Bench(BenchArgs),
    /// Runs simulated agents against a master until interrupted.
    Agents(AgentsArgs),
    /// Runs Marathon's benchmarks and writes <out>/<name>.json and <out>/<name>.md.
    Marathon(MarathonArgs),
    /// Benchmarks Marathon's /v2/events fan-out and group planning (in process) and
    /// writes <out>/<name>.json and <out>/<name>.md.
    MarathonEvents(MarathonEventsArgs),
}

#[derive(Parser)]
struct MarathonEventsArgs {
    /// Scenarios, comma separated: fanout, plan.
    #[arg(long, value_delimiter = ',', default_value = "fanout,plan")]
    only: Vec<String>,
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    #[arg(long, default_value = "marathon-events")]
    name: String,
    /// Status events published per second.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// Clients that read the stream.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Clients that never read (second fan-out phase).
    #[arg(long, default_value_t = 10)]
    stuck: usize,
    /// Seconds each fan-out phase publishes.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// --event_stream_max_outstanding_messages of the bus (Marathon's default 1024).
    #[arg(long, default_value_t = 1024)]
    max_outstanding: usize,
    #[arg(long, default_value_t = 1000)]
    plan_apps: usize,
    #[arg(long, default_value_t = 10)]
    plan_depth: usize,
    #[arg(long, default_value_t = 21)]
    plan_runs: usize,
}

#[derive(Parser)]
struct MarathonArgs {
    /// Multiplies every size; 1 is the full benchmark, 0.1 a quick run.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scenarios to run, comma separated: one (target 1), many (targets 2 to 4), ha
    /// (target 5, needs ZooKeeper), roll (rolling restarts of 1,000 instances).
    #[arg(long, value_delimiter = ',', default_value = "one,many,ha")]
    only: Vec<String>,
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    #[arg(long, default_value = "marathon")]
    name: String,
    /// Directory holding mesos-master and marathon (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Directory for the logs of the processes started (default: a temporary one).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Marathon's store in scenarios one and many: mem or embedded.
    #[arg(long, default_value = "mem")]
    store: String,
    /// Marathon's --max_instances_per_offer (Marathon's default: 5).
    #[arg(long, default_value_t = 5)]
    max_instances_per_offer: u32,
    /// Marathon's --decline_offer_duration in milliseconds (Marathon's default: 120000).
    #[arg(long, default_value_t = 120_000)]
    decline_offer_duration_ms: u64,
    /// Simulated agents in scenario many.
    #[arg(long, default_value_t = 1000)]
    many_agents: usize,
    /// Apps in scenario many.
    #[arg(long, default_value_t = 1000)]
    many_apps: usize,
    /// Instances per app in scenario many.
    #[arg(long, default_value_t = 10)]
    many_instances: usize,
    /// Seconds scenario many waits for every instance to run before it reports how far
    /// it got.
    #[arg(long, default_value_t = 120)]
    many_timeout_secs: u64,
    /// POST /v2/apps requests in flight at once.
    #[arg(long, default_value_t = 16)]
    post_concurrency: usize,
    /// Timed GETs of each endpoint in scenario many.
    #[arg(long, default_value_t = 5)]
    gets: usize,
    /// Apps in scenario ha.
    #[arg(long, default_value_t = 100)]
    ha_apps: usize,
    /// Instances per app in scenario ha.
    #[arg(long, default_value_t = 10)]
    ha_instances: usize,
    /// Simulated agents in scenario ha.
    #[arg(long, default_value_t = 200)]
    ha_agents: usize,
    /// Marathon's --zk_session_timeout in scenario ha, in milliseconds.
    #[arg(long, default_value_t = 4000)]
    session_timeout_ms: u64,
    /// scripts/zookeeper.sh (default: from the working directory or the source tree).
    #[arg(long)]
    zookeeper_script: Option<PathBuf>,
    /// Log level of the marathon processes (MARATHON_LOG_LEVEL).
    #[arg(long, default_value = "info,zookeeper_async=warn")]
    marathon_log_level: String,
    /// Log level of the master (MESOS_LOG_LEVEL).
    #[arg(long, default_value = "info")]
    master_log_level: String,
    /// More flags for every marathon, e.g. `--marathon-arg=--task_launch_timeout=60000`.
    #[arg(long = "marathon-arg", allow_hyphen_values = true)]
    marathon_args: Vec<String>,
}

#[derive(Parser)]
struct BenchArgs {
    /// Multiplies every size; 1 is the full benchmark, 0.1 a quick run.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scenarios to run, comma separated (a,b,c,d,e; f, the failover, needs ZooKeeper and
    /// runs only when named).
    #[arg(long, value_delimiter = ',', default_value = "a,b,c,d,e")]
    only: Vec<String>,
    /// Directory for the results.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// File name (without extension) of the results.
    #[arg(long, default_value = "scale")]
    name: String,
    /// Directory holding mesos-master and mesos-agent (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Directory for the logs of the processes started (default: a temporary one).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Encodings of the scheduler API scenario b runs with.
    #[arg(long, value_delimiter = ',', default_value = "protobuf,json")]
    content_types: Vec<String>,
    /// Probe runs in scenario c.
    #[arg(long, default_value_t = 200)]
    probes: usize,
    /// Mean run time in seconds of scenario c's background tasks.
    #[arg(long, default_value_t = 60.0)]
    churn_secs: f64,
    /// Run time in seconds of scenario e's real tasks.
    #[arg(long, default_value_t = 10.0)]
    real_task_secs: f64,
    /// Allocation cycles per size in scenario a.
    #[arg(long, default_value_t = 20)]
    alloc_cycles: usize,
    /// Simulated agents per HTTP/2 connection (default: 1, more if the open-file limit
    /// requires it).
    #[arg(long)]
    agents_per_connection: Option<usize>,
    /// Log level of the master processes.
    #[arg(long, default_value = "info")]
    master_log_level: String,
    /// Speak TLS on every connection (masters, simulated agents, frameworks), with the
    /// certificates `scripts/test-ca.sh DIR` made; client certificates are required.
    #[arg(long, value_name = "DIR")]
    tls: Option<PathBuf>,
    /// Masters electing a leader in scenario f.
    #[arg(long, default_value_t = 3)]
    failover_masters: usize,
    /// ZooKeeper servers in scenario f: 1 (standalone) or 3 (an ensemble).
    #[arg(long, default_value_t = 1)]
    failover_zookeepers: usize,
    /// The masters' --zk_session_timeout in scenario f, in milliseconds.
    #[arg(long, default_value_t = 4000)]
    failover_session_timeout_ms: u64,
    /// Tasks on each agent in scenario f.
    #[arg(long, default_value_t = 1)]
    failover_tasks_per_agent: usize,
    /// Base of the simulated agents' reconnection backoff in scenario f, in milliseconds.
    #[arg(long, default_value_t = 100)]
    failover_backoff_ms: u64,
    /// Skip scenario f's second round (a graceful SIGTERM of the next leader).
    #[arg(long)]
    failover_no_graceful: bool,
    /// scripts/zookeeper.sh (default: from the working directory or the source tree).
    #[arg(long)]
    zookeeper_script: Option<PathBuf>,
}

#[derive(Parser)]
struct AgentsArgs {
    /// The master's `host:port`, or `zk://host:port,.../path` to follow the election.
    #[arg(long)]
    master: String,
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    #[arg(long, default_value = mesos_sim::alloc_bench::AGENT_RESOURCES)]
    resources: String,
    #[arg(long, default_value_t = 1)]
    agents_per_connection: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn content_type(name: &str) -> anyhow::Result<ContentType> {
    match name {
        "protobuf" => Ok(ContentType::Protobuf),
        "json" => Ok(ContentType::Json),
        other => bail!("unknown content type '{other}' (protobuf or json)"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_SIM_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let fd_limit = process::raise_fd_limit();
    match Cli::parse().command {
        Command::Bench(args) => run_bench(args, fd_limit).await,
        Command::Agents(args) => run_agents(args).await,
        Command::Marathon(args) => run_marathon(args, fd_limit).await,
        Command::MarathonEvents(args) => run_marathon_events(args, fd_limit).await,
    }
}

async fn run_marathon_events(args: MarathonEventsArgs, fd_limit: u64) -> anyhow::Result<()> {
    for s in &args.only {
        if !marathon_events::SCENARIOS.contains(&s.as_str()) {
            bail!("unknown scenario '{s}' (fanout or plan)");
        }
    }
    let options = EventsOptions {
        scenarios: args.only.clone(),
        rate: args.rate,
        subscribers: args.subscribers,
        stuck: args.stuck,
        seconds: args.seconds,
        max_outstanding: args.max_outstanding,
        plan_apps: args.plan_apps,
        plan_depth: args.plan_depth.max(1),
        plan_runs: args.plan_runs.max(1),
        fd_limit,
    };
    let command = command_line();
    // The benchmark runs its own runtimes on plain threads.
    let report = tokio::task::spawn_blocking(move || marathon_events::run(&options, command))
        .await
        .context("the benchmark thread panicked")?;
    println!("{}", report.table());
    let (json, md) = report
        .write(&args.out, &args.name)
        .with_context(|| format!("cannot write results into {}", args.out.display()))?;
    println!("results: {} and {}", json.display(), md.display());
    if report.scenarios.iter().any(|s| s.error.is_some()) {
        bail!("some scenarios failed");
    }
    Ok(())
}

async fn run_bench(args: BenchArgs, fd_limit: u64) -> anyhow::Result<()> {
    for s in &args.only {
        if !SCENARIOS.contains(&s.as_str()) {
            bail!("unknown scenario '{s}' (a, b, c, d, e or f)");
        }
    }
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        bail!("--scale must be a positive number");
    }
    if let Some(dir) = &args.tls {
        // Read by this process (agents' links, frameworks) and the masters it starts.
        let file = |name: &str| dir.join(name).display().to_string();
        for (var, value) in [
            ("LIBPROCESS_SSL_ENABLED", "true".to_string()),
            ("LIBPROCESS_SSL_CERT_FILE", file("server.pem")),
            ("LIBPROCESS_SSL_KEY_FILE", file("server.key")),
            ("LIBPROCESS_SSL_CA_FILE", file("ca.pem")),
            ("LIBPROCESS_SSL_REQUIRE_CLIENT_CERT", "true".to_string()),
        ] {
            std::env::set_var(var, value);
        }
        mesos_common::tls::process().context("--tls")?;
    }
    let options = BenchOptions {
        scale: args.scale,
        seed: args.seed,
        scenarios: args.only.clone(),
        bin_dir: args.bin_dir.clone(),
        work_dir: bench::work_dir(args.work_dir.as_deref())?,
        content_types: args
            .content_types
            .iter()
            .map(|c| content_type(c))
            .collect::<anyhow::Result<_>>()?,
        probes: args.probes.max(1),
        churn_secs: args.churn_secs,
        real_task_secs: args.real_task_secs,
        alloc_cycles: args.alloc_cycles,
        agents_per_connection: args.agents_per_connection,
        master_log_level: args.master_log_level.clone(),
        fd_limit,
        failover: FailoverOptions {
            masters: args.failover_masters,
            zookeepers: args.failover_zookeepers,
            session_timeout: Duration::from_millis(args.failover_session_timeout_ms),
            zookeeper_script: args.zookeeper_script.clone(),
            tasks_per_agent: args.failover_tasks_per_agent.max(1),
            backoff: Duration::from_millis(args.failover_backoff_ms),
            graceful: !args.failover_no_graceful,
        },
    };
    eprintln!("logs in {}", options.work_dir.display());
    let report = bench::run(&options, command_line()).await;
    println!("{}", report.table());
    let (json, md) = report
        .write(&args.out, &args.name)
        .with_context(|| format!("cannot write results into {}", args.out.display()))?;
    println!("results: {} and {}", json.display(), md.display());
    if report.scenarios.iter().any(|s| s.error.is_some()) {
        bail!("some scenarios failed");
    }
    Ok(())
}

async fn run_marathon(args: MarathonArgs, fd_limit: u64) -> anyhow::Result<()> {
    for s in &args.only {
        if !marathon::SCENARIOS.contains(&s.as_str()) {
            bail!("unknown scenario '{s}' (one, many, ha or roll)");
        }
    }
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        bail!("--scale must be a positive number");
    }
    let options = MarathonOptions {
        scale: args.scale,
        seed: args.seed,
        scenarios: args.only.clone(),
        bin_dir: args.bin_dir.clone(),
        work_dir: bench::work_dir(args.work_dir.as_deref())?,
        fd_limit,
        store: args.store.clone(),
        max_instances_per_offer: args.max_instances_per_offer,
        decline_offer_duration_ms: args.decline_offer_duration_ms,
        many_agents: args.many_agents,
        many_apps: args.many_apps,
        many_instances: args.many_instances,
        many_timeout: Duration::from_secs(args.many_timeout_secs),
        post_concurrency: args.post_concurrency,
        gets: args.gets.max(1),
        ha_apps: args.ha_apps,
        ha_instances: args.ha_instances,
        ha_agents: args.ha_agents,
        session_timeout: Duration::from_millis(args.session_timeout_ms),
        zookeeper_script: args.zookeeper_script.clone(),
        marathon_log_level: args.marathon_log_level.clone(),
        master_log_level: args.master_log_level.clone(),
        marathon_args: args.marathon_args.clone(),
    };
    eprintln!("logs in {}", options.work_dir.display());
    let report = marathon::run(&options, command_line()).await;
    println!("{}", report.table());
    let (json, md) = report
        .write(&args.out, &args.name)
        .with_context(|| format!("cannot write results into {}", args.out.display()))?;
    println!("results: {} and {}", json.display(), md.display());
    if report.scenarios.iter().any(|s| s.error.is_some()) {
        bail!("some scenarios failed");
    }
    Ok(())
}

/// This run's command line, as the results record it.
fn command_line() -> String {
    std::iter::once("mesos-sim".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run_agents(args: AgentsArgs) -> anyhow::Result<()> {
    let master = if args.master.starts_with("zk://") {
        Master::Election(ZkUrl::parse(&args.master)?)
    } else {
        let addr = args
            .master
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", args.master))?
            .next()
            .context("no address for the master")?;
        Master::Fixed(addr)
    };
    let mut config = FleetConfig::new(master, args.agents, &args.resources);
    config.agents_per_connection = args.agents_per_connection;
    config.seed = args.seed;
    let fleet = Fleet::start(config).await?;
    let took = fleet.wait_registered(Duration::from_secs(600)).await?;
    eprintln!(
        "{} agents registered in {:.1} s; Ctrl-C to stop",
        args.agents,
        took.as_secs_f64()
    );
    let _ = tokio::signal::ctrl_c().await;
    fleet.stop().await;
    Ok(())
}
