//! The master's and agent's read-only HTTP endpoints.

use std::collections::BTreeSet;

use mesos_tests::http;
use mesos_tests::*;
use serde_json::Value;

const STATE_KEYS: &[&str] = &[
    "version",
    "git_sha",
    "build_date",
    "start_time",
    "elected_time",
    "id",
    "pid",
    "hostname",
    "activated_slaves",
    "deactivated_slaves",
    "unreachable_slaves",
    "leader",
    "leader_info",
    "cluster",
    "log_dir",
    "flags",
    "slaves",
    "frameworks",
    "completed_frameworks",
    "orphan_tasks",
    "unregistered_frameworks",
];

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_endpoints_share_one_shape() {
    let cluster = Cluster::start().await;
    let sched = cluster.subscribe("state-test").await;
    let master_id = sched.master_info()["id"].as_str().unwrap_or("").to_string();

    let state = http::get_json(&cluster.master_url("/master/state")).await;
    for key in STATE_KEYS {
        assert!(
            state.get(*key).is_some(),
            "/master/state lacks `{key}`: {:?}",
            keys(&state)
        );
    }
    for alias in ["/state", "/state.json", "/master/state.json"] {
        let other = http::get_json(&cluster.master_url(alias)).await;
        let (a, b) = (keys(&state), keys(&other));
        // Timing fields may differ between two reads; the shape may not.
        assert_eq!(a, b, "{alias} differs in shape from /master/state");
        assert_eq!(other["id"], state["id"], "{alias}");
    }

    assert_eq!(state["id"], master_id.as_str());
    assert_eq!(
        state["pid"].as_str(),
        Some(format!("master@127.0.0.1:{}", cluster.master_port).as_str()),
        "pid: {}",
        state["pid"]
    );
    assert_eq!(
        state["activated_slaves"].as_f64(),
        Some(1.0),
        "{}",
        state["activated_slaves"]
    );
    let slaves = state["slaves"].as_array().expect("slaves is a list");
    assert_eq!(slaves.len(), 1, "{slaves:?}");
    let agent = &slaves[0];
    assert_eq!(agent["id"], cluster.agent_id(0).await.as_str());
    assert!(
        agent["pid"].as_str().is_some_and(|p| p.contains('@')),
        "agent pid should be a libprocess address: {agent}"
    );
    assert_eq!(agent["resources"]["cpus"].as_f64(), Some(2.0), "{agent}");
    assert_eq!(agent["resources"]["mem"].as_f64(), Some(1024.0), "{agent}");
    assert!(
        state["frameworks"]
            .as_array()
            .expect("frameworks is a list")
            .iter()
            .any(|f| f["id"] == sched.framework_id.as_str()),
        "the subscribed framework is not listed: {}",
        state["frameworks"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_version() {
    let cluster = Cluster::master_only().await;
    for path in ["/health", "/master/health"] {
        let response = http::get(&cluster.master_url(path)).await;
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
    let version = http::get_json(&cluster.master_url("/version")).await;
    assert!(
        version["version"].as_str().is_some_and(|v| !v.is_empty()),
        "/version has no version: {version}"
    );
    let missing = http::get(&cluster.master_url("/no/such/endpoint")).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_state_and_health() {
    let cluster = Cluster::start().await;
    let health = http::get(&cluster.agent_url(0, "/health")).await;
    assert_eq!(health.status, 200, "{}", health.body);
    let state = cluster.agent_state(0).await;
    let id = state["id"].as_str().unwrap_or("");
    assert!(!id.is_empty(), "agent /state has no id: {state}");
    assert!(
        state["pid"]
            .as_str()
            .is_some_and(|p| p.starts_with("slave(1)@")),
        "agent pid: {}",
        state["pid"]
    );
    assert!(state["frameworks"].is_array(), "{state}");
    assert_eq!(
        state["resources"]["cpus"].as_f64(),
        Some(2.0),
        "{}",
        state["resources"]
    );
    let aliased = http::get_json(&cluster.agent_url(0, "/slave(1)/state")).await;
    assert_eq!(aliased["id"], state["id"]);
}
