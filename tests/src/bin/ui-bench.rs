//! How long each dashboard page takes to show its data on a cluster of 1,000 agents and
//! 10,000 running tasks (the target: under one second per page).
//!
//! The cluster: a real `mesos-master`, 1,000 simulated agents (`mesos-sim agents`) and a
//! real `marathon` running 10 apps of 1,000 instances (tasks on simulated agents are
//! placed and reported RUNNING; no process runs them). The browser: headless Chromium
//! through ChromeDriver. For each page, a fresh navigation, then the time (from the
//! navigation's start, `performance.now()` in the page) until the page shows what it
//! exists for (rows in its table, the pager's total). In the same run, the time of a plain
//! GET of the page's largest API answer, so the ratio says what the page adds to the API.
//!
//! `cargo build --release --workspace --bins && cargo run --release -p mesos-tests --bin ui-bench`
//! prints a table and writes `bench/results/ui.md`.

use std::time::{Duration, Instant};

use mesos_tests::browser::Browser;
use mesos_tests::marathon::Marathon;
use mesos_tests::*;
use serde_json::json;

const AGENTS: usize = 1000;
const APPS: usize = 10;
const INSTANCES: usize = 1000;
const ROUNDS: usize = 3;

struct Page {
    name: &'static str,
    url: String,
    /// JavaScript condition that holds once the page shows its data.
    ready: String,
    /// The largest API answer the page reads, fetched alone for comparison.
    api: String,
}

struct Measured {
    name: &'static str,
    page_ms: Vec<f64>,
    api_ms: Vec<f64>,
    api_bytes: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wanted = APPS * INSTANCES;
    // The browser starts first: Chromium may not start in time on a machine this loaded.
    // Its logs and profile live under target/, apart from the cluster's temp dir.
    let browser_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/ui-bench");
    std::fs::create_dir_all(&browser_dir).expect("browser dir");
    let browser = Browser::start(&browser_dir).await;
    let cluster = Cluster::start_with(ClusterOptions {
        agents: 0,
        // Mesos's own ping timeouts: the test harness's 1 s ones mark a thousand simulated
        // agents unreachable on a loaded machine.
        master_flags: vec![
            "--agent_ping_timeout=15secs".into(),
            "--max_agent_ping_timeouts=5".into(),
        ],
        ..ClusterOptions::default()
    })
    .await;
    let _fleet = Proc::spawn(
        "mesos-sim",
        &binary("mesos-sim"),
        vec![
            "agents".into(),
            "--master".into(),
            cluster.master_addr(),
            "--agents".into(),
            AGENTS.to_string(),
        ],
        cluster.root(),
    );
    let metric = async |name: &str| -> f64 {
        http::get_json(&cluster.master_url("/metrics/snapshot")).await[name]
            .as_f64()
            .unwrap_or(0.0)
    };
    eventually(
        "1,000 simulated agents",
        Duration::from_secs(120),
        async || (metric("master/slaves_active").await as usize == AGENTS).then_some(()),
    )
    .await;
    let marathon = Marathon::start(&cluster, &[]).await;
    for i in 0..APPS {
        let app = json!({"id": format!("/bench/app-{i}"), "cmd": "sleep 100000",
            "cpus": 0.01, "mem": 1, "instances": INSTANCES});
        let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Placement is given ten minutes; on a loaded machine it may fall short, and the
    // pages are then measured with the tasks that run (the report says how many).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut running = 0;
    while Instant::now() < deadline {
        running = metric("master/tasks_running").await as usize;
        eprintln!("{running} tasks running");
        if running >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let tasks = running;
    // The deployments page needs a deployment to show: one that waits for good, for an
    // agent no offer matches (it also gives the page a reason to explain).
    let waiting = json!({"id": "/bench/waiting", "cmd": "sleep 100000", "cpus": 0.01,
        "mem": 1, "instances": 1, "constraints": [["hostname", "LIKE", "no-such-host"]]});
    let r = marathon.send("POST", "/v2/apps", Some(&waiting)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let state = http::get_json(&cluster.master_url("/master/state-summary")).await;
    let agent_id = state["slaves"][0]["id"].as_str().unwrap().to_string();
    let framework_id = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "marathon")
        .expect("marathon's framework")["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Rows with data (an empty table has one row saying so).
    let rows = |n: usize| {
        format!("document.querySelectorAll('main tbody td:first-child:not(.empty)').length >= {n}")
    };
    // A pager's total of at least `n` (tasks may churn by a few while the page loads).
    let total = |n: usize| {
        format!("[...document.querySelectorAll('.pager-info')].some(e => Number((e.textContent.match(/ of (\\d+)$/) || [])[1]) >= {})", (n * 95 / 100).max(1))
    };
    let master = |path: &str| cluster.master_url(path);
    let pages = [
        Page {
            name: "master: overview",
            url: master("/"),
            ready: format!("{} && document.querySelector('#task-counts')", total(AGENTS)),
            api: master("/master/state-summary"),
        },
        Page {
            name: "master: agents",
            url: master("/#/agents"),
            ready: total(AGENTS),
            api: master("/master/state-summary"),
        },
        Page {
            name: "master: one agent",
            url: master(&format!("/#/agents/{agent_id}")),
            ready: "document.querySelector('main .facts') && document.querySelectorAll('main .pager-info').length > 0".into(),
            api: master("/master/tasks?limit=-1"),
        },
        Page {
            name: "master: frameworks",
            url: master("/#/frameworks"),
            ready: rows(1),
            api: master("/master/state-summary"),
        },
        Page {
            name: "master: Marathon's framework",
            url: master(&format!("/#/frameworks/{framework_id}")),
            ready: format!("{} && {}", rows(1), total(1)),
            api: master("/master/frameworks"),
        },
        Page {
            name: "master: tasks",
            url: master("/#/tasks"),
            ready: format!("{} && {}", rows(1), total(1)),
            api: master("/master/tasks?limit=-1&order=desc"),
        },
        Page {
            name: "marathon: apps",
            url: marathon.url("/ui/#/"),
            ready: format!("document.querySelectorAll('tr[data-app]').length >= {APPS}"),
            api: marathon.url("/v2/apps?embed=apps.counts&embed=apps.deployments&embed=apps.lastTaskFailure"),
        },
        Page {
            name: "marathon: one app",
            url: marathon.url("/ui/#/app/bench/app-0"),
            ready: format!("{} && {}", rows(1), total(1)),
            api: marathon.url("/v2/apps/bench/app-0?embed=app.counts&embed=app.deployments&embed=app.lastTaskFailure&embed=app.tasks"),
        },
        Page {
            name: "marathon: deployments",
            url: marathon.url("/ui/#/deployments"),
            ready: rows(1),
            api: marathon.url("/v2/deployments"),
        },
    ];

    let mut measured = Vec::new();
    for page in &pages {
        let mut m = Measured {
            name: page.name,
            page_ms: vec![],
            api_ms: vec![],
            api_bytes: 0,
        };
        for _ in 0..ROUNDS {
            browser.open("about:blank").await;
            browser.open(&page.url).await;
            let at = browser.ready_time(&page.ready).await;
            // Not shown within the page's 20 s counts as 20 s (and misses the target).
            m.page_ms.push(at.unwrap_or(20_000.0));
            let started = Instant::now();
            let body = reqwest::get(&page.api)
                .await
                .expect("GET")
                .bytes()
                .await
                .expect("body");
            m.api_ms.push(started.elapsed().as_secs_f64() * 1e3);
            m.api_bytes = body.len();
        }
        eprintln!("{}: page {:?} ms, API {:?} ms", m.name, m.page_ms, m.api_ms);
        measured.push(m);
    }
    let table = table(&measured);
    println!("{table}");
    let report = report(&table, tasks, wanted);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results/ui.md");
    std::fs::write(&path, report).expect("write bench/results/ui.md");
    eprintln!("wrote {}", path.display());
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn table(rows: &[Measured]) -> String {
    let mut out = String::from(
        "| page | page shows its data (median, max of 3) | GET of its largest API answer (median) | answer size | page / API | target |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for m in rows {
        let page = median(&m.page_ms);
        let max = m.page_ms.iter().copied().fold(0.0, f64::max);
        let api = median(&m.api_ms);
        out += &format!(
            "| {} | {page:.0} ms, {max:.0} ms | {api:.0} ms | {:.1} MB | {:.1} | < 1000 ms {} |\n",
            m.name,
            m.api_bytes as f64 / 1e6,
            page / api.max(1.0),
            if max < 1000.0 { "met" } else { "MISSED" },
        );
    }
    out
}

fn report(table: &str, tasks: usize, wanted: usize) -> String {
    let shell = mesos_tests::process::shell_output;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let profile = if binary("mesos-master")
        .to_string_lossy()
        .contains("/release/")
    {
        "release"
    } else {
        "debug"
    };
    format!(
        "# Dashboard page times at {AGENTS} agents and {tasks} running tasks (of {wanted} asked for)\n\n\
         Command: `cargo build --release --workspace --bins && cargo run --release -p mesos-tests --bin ui-bench`\n\n\
         - date: {}\n- commit: {}\n- cores: {cores}\n- memory: {}\n- CPU: {}\n- binaries: {profile}\n- browser: {}\n\n\
         A real `mesos-master` with {AGENTS} simulated agents (`mesos-sim agents`) and a real `marathon` \
         running {APPS} apps of {INSTANCES} instances (tasks on simulated agents are placed and reported \
         RUNNING; no process runs them). Each page is opened by a fresh navigation in headless Chromium \
         (ChromeDriver); the figure is `performance.now()` in the page (time since the navigation started) \
         when the page first shows its data: the pager's total of agents or tasks, or the rows of its table. \
         It includes loading the page's files, the API calls and building the DOM. Beside it, in the same run, \
         a plain GET of the largest API answer the page reads, so the ratio shows what the page adds. \
         The machine was shared with other builds while this ran.\n\n{table}",
        shell("date -u '+%Y-%m-%d %H:%M:%S UTC'"),
        shell("git rev-parse --short HEAD"),
        shell("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo"),
        shell("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo"),
        shell("chromium --version"),
    )
}
