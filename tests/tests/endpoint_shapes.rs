//! Shapes and values of the master's JSON endpoints, as Mesos tools read them.

use mesos_tests::http;
use mesos_tests::*;
use serde_json::Value;

/// The metric names the reference lists; dashboards scrape exactly these.
const METRICS: &[&str] = &[
    "master/elected",
    "master/uptime_secs",
    "master/slaves_active",
    "master/slaves_connected",
    "master/slaves_disconnected",
    "master/frameworks_active",
    "master/tasks_staging",
    "master/tasks_running",
    "master/tasks_finished",
    "master/tasks_failed",
    "master/tasks_killed",
    "master/tasks_lost",
    "master/cpus_total",
    "master/cpus_used",
    "master/mem_total",
    "master/mem_used",
    "master/disk_total",
    "master/outstanding_offers",
    "allocator/mesos/allocation_run_ms",
];

async fn launch_sleepers(cluster: &Cluster, sched: &mut Scheduler, names: &[&str]) {
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let tasks = names
        .iter()
        .map(|n| command_task(n, &agent_id, "sleep 60", 0.1, 32.0))
        .collect();
    sched.launch(&offer, tasks).await;
    for n in names {
        sched.await_state(n, "TASK_RUNNING").await;
    }
    let _ = cluster;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_snapshot_names_and_values_follow_the_state() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("metrics-test").await;
    launch_sleepers(&cluster, &mut sched, &["m1"]).await;
    let metrics = http::get_json(&cluster.master_url("/metrics/snapshot")).await;
    for name in METRICS {
        assert!(
            metrics[*name].is_number(),
            "/metrics/snapshot lacks numeric `{name}`: {metrics}"
        );
    }
    assert_eq!(metrics["master/elected"], 1.0);
    assert_eq!(metrics["master/slaves_active"], 1.0);
    assert_eq!(metrics["master/frameworks_active"], 1.0);
    assert_eq!(metrics["master/tasks_running"], 1.0);
    assert_eq!(metrics["master/cpus_total"], 2.0);
    assert!((metrics["master/cpus_used"].as_f64().unwrap() - 0.1).abs() < 1e-9);
    assert_eq!(metrics["master/mem_total"], 1024.0);
    assert_eq!(metrics["master/mem_used"], 32.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_endpoint_pages_and_orders() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("tasks-test").await;
    launch_sleepers(&cluster, &mut sched, &["t-a", "t-b", "t-c"]).await;

    let all = http::get_json(&cluster.master_url("/master/tasks")).await;
    let all = all["tasks"].as_array().expect("tasks list").clone();
    assert_eq!(all.len(), 3, "{all:?}");
    for task in &all {
        for key in [
            "id",
            "name",
            "framework_id",
            "slave_id",
            "state",
            "resources",
            "statuses",
        ] {
            assert!(task.get(key).is_some(), "task lacks `{key}`: {task}");
        }
    }
    let page = http::get_json(&cluster.master_url("/master/tasks?limit=2")).await;
    assert_eq!(page["tasks"].as_array().unwrap().len(), 2);
    let rest = http::get_json(&cluster.master_url("/master/tasks?limit=2&offset=2")).await;
    assert_eq!(rest["tasks"].as_array().unwrap().len(), 1);
    let asc = http::get_json(&cluster.master_url("/master/tasks?order=asc")).await;
    let des = http::get_json(&cluster.master_url("/master/tasks?order=des")).await;
    let ids = |v: &Value| -> Vec<String> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut reversed = ids(&des);
    reversed.reverse();
    assert_eq!(ids(&asc), reversed);
    // As in Mesos, what cannot be read falls back to the default (a negative limit is
    // no limit, anything but `asc` is descending) rather than being refused.
    for query in ["limit=-1", "limit=many", "offset=x", "order=sideways"] {
        let listed = http::get_json(&cluster.master_url(&format!("/master/tasks?{query}"))).await;
        assert_eq!(ids(&listed), ids(&des), "{query}: {listed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_endpoints_have_mesos_keys() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("listing-test").await;
    launch_sleepers(&cluster, &mut sched, &["l1"]).await;

    let frameworks = http::get_json(&cluster.master_url("/master/frameworks")).await;
    for key in [
        "frameworks",
        "completed_frameworks",
        "unregistered_frameworks",
    ] {
        assert!(frameworks[key].is_array(), "/master/frameworks lacks {key}");
    }
    let f = &frameworks["frameworks"][0];
    for key in [
        "id",
        "name",
        "user",
        "active",
        "connected",
        "role",
        "registered_time",
        "resources",
        "used_resources",
        "offered_resources",
        "tasks",
        "completed_tasks",
        "capabilities",
    ] {
        assert!(f.get(key).is_some(), "framework lacks `{key}`: {f}");
    }
    assert_eq!(f["used_resources"]["cpus"].as_f64(), Some(0.1));

    let slaves = http::get_json(&cluster.master_url("/master/slaves")).await;
    let s = &slaves["slaves"][0];
    for key in [
        "id",
        "pid",
        "hostname",
        "registered_time",
        "resources",
        "used_resources",
        "offered_resources",
        "reserved_resources",
        "unreserved_resources",
        "attributes",
        "active",
        "version",
    ] {
        assert!(s.get(key).is_some(), "slave lacks `{key}`: {s}");
    }
    assert_eq!(s["used_resources"]["mem"].as_f64(), Some(32.0));

    let summary = http::get_json(&cluster.master_url("/master/state-summary")).await;
    for key in ["hostname", "cluster", "slaves", "frameworks"] {
        assert!(summary.get(key).is_some(), "state-summary lacks `{key}`");
    }

    let roles = http::get_json(&cluster.master_url("/master/roles")).await;
    let star = roles["roles"]
        .as_array()
        .expect("roles list")
        .iter()
        .find(|r| r["name"] == "*")
        .expect("role * listed");
    assert_eq!(star["weight"], 1.0);
    assert!(star["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == sched.framework_id.as_str()));

    let flags = http::get_json(&cluster.master_url("/master/flags")).await;
    assert_eq!(flags["flags"]["allocation_interval"], "100ms");
    assert_eq!(
        flags["flags"]["port"],
        cluster.master_port.to_string().as_str()
    );

    let version = http::get_json(&cluster.master_url("/version")).await;
    for key in ["version", "build_date", "git_sha"] {
        assert!(version.get(key).is_some(), "/version lacks `{key}`");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_points_at_the_leader_and_teardown_removes_a_framework() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("teardown-endpoint").await;
    launch_sleepers(&cluster, &mut sched, &["doomed"]).await;

    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(cluster.master_url("/master/redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("//") && location.ends_with(&format!(":{}", cluster.master_port)),
        "Location: {location}"
    );

    let missing = http::post(
        &cluster.master_url("/master/teardown"),
        "frameworkId=no-such-framework",
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    let ok = http::post(
        &cluster.master_url("/master/teardown"),
        format!("frameworkId={}", sched.framework_id),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let state = cluster.master_state().await;
    let completed = state["completed_frameworks"].as_array().unwrap();
    let framework = completed
        .iter()
        .find(|f| f["id"] == sched.framework_id.as_str())
        .expect("torn-down framework is completed");
    assert_eq!(framework["completed_tasks"][0]["state"], "TASK_KILLED");
}
