//! Benchmarks of Marathon's event stream and group planning (`mesos-sim marathon-events`),
//! in process, on the `marathon` library's own code.
//!
//! ```text
//!  fanout  publisher thread ──EventBus::publish (timed)──▶ bus ──▶ Marathon's HTTP router
//!          (10,000 status_update_event/s, like the service)      │  (/v2/events, loopback)
//!                                                 100 reading clients + stuck clients
//!  plan    a 1,000-app group body, 10 groups chained by dependencies:
//!          parse + apply ─▶ ids and dependencies checked ─▶ deployment steps (timed)
//! ```
//! The publisher is a plain thread calling the same `publish` the service calls; its time
//! per call is how much the event stream costs Marathon, and it is measured with clients
//! that read and with clients that never read. Clients run on their own runtime in the
//! same process; CPU figures are the publisher thread's own time and the whole process's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Parser;
use marathon::app::PathId;
use marathon::event_bus::EventBus;
use marathon::events::EventKind;
use marathon::group::{deps, id_clashes, GroupUpdate, Tree};
use marathon::http::{HttpState, Leadership};
use marathon::instance::{Condition, Instance};
use marathon::service::ServiceHandle;
use marathon::tracker::StatusUpdate;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::report::{percentile, Machine, Report, Row, Scenario};

pub const SCENARIOS: [&str; 2] = ["fanout", "plan"];

#[derive(Debug, Clone)]
pub struct EventsOptions {
    pub scenarios: Vec<String>,
    /// Events published per second.
    pub rate: u64,
    /// Clients that read everything.
    pub subscribers: usize,
    /// Clients that never read (phase two).
    pub stuck: usize,
    /// Seconds each fan-out phase publishes.
    pub seconds: f64,
    /// `--event_stream_max_outstanding_messages`.
    pub max_outstanding: usize,
    /// Apps of the planned group and the depth of its dependency chain.
    pub plan_apps: usize,
    pub plan_depth: usize,
    pub plan_runs: usize,
    pub fd_limit: u64,
}

pub fn run(options: &EventsOptions, command: String) -> Report {
    let mut scenarios = vec![];
    for id in SCENARIOS {
        if !options.scenarios.iter().any(|s| s == id) {
            continue;
        }
        let started = Instant::now();
        let mut scenario = match id {
            "fanout" => Scenario::new("fanout", "/v2/events fan-out of status events"),
            _ => Scenario::new("plan", "Planning a large group with a dependency chain"),
        };
        eprintln!("== scenario {id}: {}", scenario.title);
        let result = match id {
            "fanout" => fanout(options, &mut scenario),
            _ => plan(options, &mut scenario),
        };
        if let Err(e) = result {
            eprintln!("scenario {id} failed: {e:#}");
            scenario.error = Some(format!("{e:#}"));
        }
        scenario.seconds = started.elapsed().as_secs_f64();
        scenarios.push(scenario);
    }
    Report {
        title: Some("Benchmark results: Marathon's event stream and group planning".into()),
        intro: Some(
            "In process, on the `marathon` library's own code: the event bus and Marathon's \
             HTTP router serving `/v2/events` on loopback to raw TCP clients, and the group \
             core and deployment planner. The publisher is a thread calling the same \
             `EventBus::publish` the service calls; its time per call is what the stream \
             costs Marathon. CPU figures: the publisher thread's own time \
             (CLOCK_THREAD_CPUTIME_ID) and the whole process's (clients included)."
                .into(),
        ),
        command,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        git_sha: crate::report::git_sha(),
        machine: Machine::detect(options.fd_limit),
        scale: 1.0,
        seed: 0,
        scenarios,
    }
}

fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

fn process_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

fn status_event(n: u64) -> EventKind {
    let task_id = format!(
        "bench_app{}.instance-{n:08x}-0000-0000-0000-000000000000._app.1",
        n % 100
    );
    let instance = Instance {
        task_id: task_id.clone(),
        app_id: PathId::parse(&format!("/bench/app{}", n % 100)),
        version: "2026-12-02T00:00:00.000Z".into(),
        config_version: "2026-12-02T00:00:00.000Z".into(),
        agent_id: "0f3b8c1e-5d2a-4c7b-9e11-3f6d2a7b8c90-S12".into(),
        hostname: "agent-12.example.org".into(),
        host_ports: vec![31000 + (n % 1000) as u32],
        service_ports: vec![10000],
        condition: Condition::Running,
        staged_at: 0,
        started_at: Some(0),
        ip_addresses: vec!["10.0.12.7".into()],
        kill_requested_at: None,
        unreachable_since: None,
        healthy: None,
        mesos_healthy: None,
        message: None,
        pod_tasks: Default::default(),
    };
    let update = StatusUpdate {
        task_id,
        agent_id: Some(instance.agent_id.clone()),
        state: "TASK_RUNNING".into(),
        message: None,
        healthy: None,
        ip_addresses: vec![],
        timestamp_ms: 0,
    };
    EventKind::status_update(&update, &instance)
}

/// One reading client until told to stop or cut. It counts `{` bytes (a vectorised
/// count, so the client keeps up): each status event carries exactly two, every other
/// event one, and only status events are published while it counts.
async fn reader(port: u16, braces: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> anyhow::Result<bool> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(
        format!("GET /v2/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let n = match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(false),
            Ok(Ok(n)) => n,
        };
        let found = buf[..n].iter().filter(|&&b| b == b'{').count();
        braces.fetch_add(found as u64, Ordering::Relaxed);
    }
}

struct Phase {
    publish_us: Vec<f64>,
    published: u64,
    wall: Duration,
    publisher_cpu: Duration,
    process_cpu: Duration,
    delivered_min: u64,
    delivered_total: u64,
    readers_cut: usize,
    stuck_cut: usize,
}

/// Publishes at `rate` for `seconds` with `readers` reading clients and `stuck` clients
/// that never read.
fn phase(
    options: &EventsOptions,
    bus: &Arc<EventBus>,
    port: u16,
    clients: &tokio::runtime::Runtime,
    stuck: usize,
) -> anyhow::Result<Phase> {
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<AtomicU64>> = (0..options.subscribers)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let readers: Vec<_> = counters
        .iter()
        .map(|c| clients.spawn(reader(port, c.clone(), stop.clone())))
        .collect();
    // The stuck clients: a small receive buffer, the request, then nothing.
    let mut stuck_sockets = vec![];
    for _ in 0..stuck {
        let s = clients.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(4096)?;
            let mut s = socket
                .connect(format!("127.0.0.1:{port}").parse().expect("address"))
                .await?;
            s.write_all(b"GET /v2/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
                .await?;
            anyhow::Ok(s)
        })?;
        stuck_sockets.push(s);
    }
    // Every reading client has its own `event_stream_attached` (so it is subscribed).
    let deadline = Instant::now() + Duration::from_secs(20);
    while counters.iter().any(|c| c.load(Ordering::SeqCst) == 0)
        || bus.subscribers() < options.subscribers + stuck
    {
        if Instant::now() > deadline {
            return Err(anyhow!("only {} clients subscribed", bus.subscribers()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    for c in &counters {
        c.store(0, Ordering::SeqCst);
    }
    let per_tick = (options.rate / 1000).max(1);
    let ticks = (options.seconds * 1000.0) as u64;
    let bus2 = bus.clone();
    let publisher = std::thread::spawn(move || {
        let mut publish_us = Vec::with_capacity((ticks * per_tick) as usize);
        let cpu0 = thread_cpu();
        let start = Instant::now();
        let mut n = 0u64;
        for tick in 0..ticks {
            let due = start + Duration::from_millis(tick);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for _ in 0..per_tick {
                let event = status_event(n);
                let t = Instant::now();
                bus2.publish(event);
                publish_us.push(t.elapsed().as_secs_f64() * 1e6);
                n += 1;
            }
        }
        (publish_us, n, start.elapsed(), thread_cpu() - cpu0)
    });
    let pcpu0 = process_cpu();
    let (publish_us, published, wall, publisher_cpu) = publisher
        .join()
        .map_err(|_| anyhow!("the publisher panicked"))?;
    let process_cpu = process_cpu() - pcpu0;
    // Let the readers drain what is in flight.
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let min = counters
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .min()
            .unwrap_or(0);
        if min >= published || Instant::now() > drain_deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivered: Vec<u64> = counters
        .iter()
        .map(|c| c.load(Ordering::SeqCst) / 2)
        .collect();
    stop.store(true, Ordering::SeqCst);
    let mut readers_cut = 0;
    for r in readers {
        if let Ok(Ok(false)) = clients.block_on(r) {
            readers_cut += 1;
        }
    }
    // A stuck client was cut if the server closed it: reading it reaches EOF.
    let mut stuck_cut = 0;
    for mut s in stuck_sockets {
        let closed = clients.block_on(async {
            let mut buf = vec![0u8; 1 << 20];
            let until = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                match tokio::time::timeout_at(until, s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return true,
                    Ok(Ok(_)) => {}
                    Err(_) => return false,
                }
            }
        });
        stuck_cut += closed as usize;
    }
    Ok(Phase {
        publish_us,
        published,
        wall,
        publisher_cpu,
        process_cpu,
        delivered_min: delivered.iter().copied().min().unwrap_or(0),
        delivered_total: delivered.iter().sum(),
        readers_cut,
        stuck_cut,
    })
}

fn fanout(options: &EventsOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    scenario.setup = format!(
        "{} status_update_event/s for {} s to {} reading clients; then again with {} \
         clients that never read; --event_stream_max_outstanding_messages {}",
        options.rate, options.seconds, options.subscribers, options.stuck, options.max_outstanding
    );
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("marathon")
        .enable_all()
        .build()?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("clients")
        .enable_all()
        .build()?;
    let bus = server.block_on(async { EventBus::new(options.max_outstanding) });
    let port = server.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        // The events route only asks whether this process leads; the service behind the
        // handle is never called.
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let (_lead_tx, lead_rx) = watch::channel(Leadership::Leading(ServiceHandle::new(tx)));
        let config = marathon::Config::try_parse_from(["marathon", "--master", "127.0.0.1:5050"])
            .context("config")?;
        let state = HttpState {
            config: Arc::new(config),
            leadership: lead_rx,
            me: format!("127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            abdicate: Arc::new(|| {}),
            events: bus.clone(),
        };
        let app = marathon::http::router(state);
        tokio::spawn(async move {
            let _keep = (_lead_tx, _rx);
            let edge = mesos_common::serve::Edge::default();
            let _ = mesos_common::serve::serve(listener, edge, app, std::future::pending()).await;
        });
        anyhow::Ok(port)
    })?;
    for (name, stuck) in [
        ("reading clients only", 0),
        ("with stuck clients", options.stuck),
    ] {
        eprintln!("   phase: {name}");
        let p = phase(options, &bus, port, &clients, stuck)?;
        let rate = p.published as f64 / p.wall.as_secs_f64();
        let label = |m: &str| format!("{m} ({name})");
        let row = Row::new(label("events published per second"), rate, "events/s");
        scenario.row(if stuck == 0 {
            row.at_least(options.rate as f64 * 0.95)
        } else {
            row
        });
        scenario.row(Row::new(
            label("publish time p50"),
            percentile(&p.publish_us, 50.0),
            "us",
        ));
        scenario.row(Row::new(
            label("publish time p99"),
            percentile(&p.publish_us, 99.0),
            "us",
        ));
        scenario.row(Row::new(
            label("publish time max"),
            p.publish_us.iter().copied().fold(0.0, f64::max),
            "us",
        ));
        scenario.row(Row::new(
            label("publisher CPU per event"),
            p.publisher_cpu.as_secs_f64() * 1e6 / p.published.max(1) as f64,
            "us",
        ));
        scenario.row(Row::new(
            label("process CPU per event delivered"),
            p.process_cpu.as_secs_f64() * 1e6 / p.delivered_total.max(1) as f64,
            "us",
        ));
        scenario.row(Row::new(
            label("events delivered to the slowest reading client"),
            100.0 * p.delivered_min as f64 / p.published.max(1) as f64,
            "%",
        ));
        scenario.row(
            Row::new(
                label("reading clients cut"),
                p.readers_cut as f64,
                "clients",
            )
            .at_most(0.0),
        );
        if stuck > 0 {
            scenario.row(
                Row::new(label("stuck clients cut"), p.stuck_cut as f64, "clients")
                    .at_least(stuck as f64),
            );
        }
    }
    scenario.note(
        "Target: 10,000 status events per second to 100 subscribers with no subscriber \
         delaying Marathon: the publish rate holds, publish time does not grow with stuck \
         clients, stuck clients are cut and reading ones are not. The bus drops events for \
         a client only by cutting it (a lagging broadcast receiver is cut), so a client not \
         cut got every event; the delivered share is counted by `{` bytes after the \
         publisher stops, with a 10 s drain, and is shown for information.",
    );
    Ok(())
}

/// A group body of `apps` apps in `depth` subgroups, each depending on the one before.
pub fn chain_body(apps: usize, depth: usize) -> Value {
    let per = apps / depth.max(1);
    let groups: Vec<Value> = (0..depth)
        .map(|g| {
            let apps: Vec<Value> = (0..per)
                .map(|a| {
                    json!({"id": format!("app{a}"), "cmd": "sleep 1000", "cpus": 0.1,
                                "mem": 32, "instances": 2, "labels": {"tier": format!("g{g}")}})
                })
                .collect();
            let deps = if g == 0 {
                vec![]
            } else {
                vec![format!("/chain/g{}", g - 1)]
            };
            json!({"id": format!("g{g}"), "dependencies": deps, "apps": apps})
        })
        .collect();
    json!({"id": "/chain", "groups": groups})
}

fn plan(options: &EventsOptions, scenario: &mut Scenario) -> anyhow::Result<()> {
    scenario.setup = format!(
        "one POST /v2/groups body of {} apps in {} groups, group g(i) depending on g(i-1) \
         (every app of g(i) on every app of g(i-1)); {} runs",
        options.plan_apps, options.plan_depth, options.plan_runs
    );
    let body = chain_body(options.plan_apps, options.plan_depth);
    let id = PathId::parse("/chain");
    let (mut parse, mut check, mut steps_ms, mut total, mut cpu) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut steps = vec![];
    for _ in 0..options.plan_runs {
        let cpu0 = thread_cpu();
        let t0 = Instant::now();
        let update = GroupUpdate::from_value(body.clone()).map_err(|v| anyhow!("{v:?}"))?;
        let (target, applied) = Tree::default()
            .apply(&id, &update, "2026-12-02T00:00:00.000Z")
            .map_err(|v| anyhow!("{v:?}"))?;
        let t1 = Instant::now();
        let clashes = id_clashes(&target, &applied.paths);
        deps::effective(&target, &applied.paths, true).map_err(|v| anyhow!("{v:?}"))?;
        if !clashes.is_empty() {
            return Err(anyhow!("id clashes: {clashes:?}"));
        }
        let t2 = Instant::now();
        steps = deps::plan_between(&Tree::default(), &target)?;
        let t3 = Instant::now();
        cpu.push((thread_cpu() - cpu0).as_secs_f64() * 1e3);
        parse.push((t1 - t0).as_secs_f64() * 1e3);
        check.push((t2 - t1).as_secs_f64() * 1e3);
        steps_ms.push((t3 - t2).as_secs_f64() * 1e3);
        total.push((t3 - t0).as_secs_f64() * 1e3);
    }
    let actions: usize = steps.iter().map(Vec::len).sum();
    scenario.row(
        Row::new(
            "body to deployment steps, median",
            percentile(&total, 50.0),
            "ms",
        )
        .at_most(50.0),
    );
    scenario.row(Row::new(
        "body to deployment steps, max",
        percentile(&total, 100.0),
        "ms",
    ));
    scenario.row(Row::new(
        "  parse and apply the body, median",
        percentile(&parse, 50.0),
        "ms",
    ));
    scenario.row(Row::new(
        "  check ids and dependencies (cycles), median",
        percentile(&check, 50.0),
        "ms",
    ));
    scenario.row(Row::new(
        "  plan the steps, median",
        percentile(&steps_ms, 50.0),
        "ms",
    ));
    scenario.row(Row::new(
        "CPU per plan, median",
        percentile(&cpu, 50.0),
        "ms",
    ));
    scenario.row(
        Row::new("steps planned", steps.len() as f64, "steps")
            .at_least((options.plan_depth + 1) as f64),
    );
    scenario.row(Row::new("actions planned", actions as f64, "actions"));
    scenario.note(
        "Steps: StartApplication of every app, then one ScaleApplication step per \
         dependency depth (leaves first), as Marathon's DeploymentPlan orders them.",
    );
    Ok(())
}
