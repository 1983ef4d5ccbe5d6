//! Placement strategies on a real master with two agents: `spread` (Marathon's
//! `--placement_strategy`) alternates between the agents, `binpack` (an app's
//! `MARATHON_PLACEMENT_STRATEGY` label) fills one agent before the next.

use std::collections::BTreeMap;
use std::time::Duration;

use mesos_tests::cluster::Cluster;
use mesos_tests::eventually;
use mesos_tests::marathon::Marathon;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

/// Instances per agent (`slaveId`), most first.
fn per_agent(tasks: &[Value]) -> Vec<usize> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        *counts
            .entry(t["slaveId"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let mut counts: Vec<usize> = counts.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_alternates_agents_and_binpack_fills_one_first() {
    // Two agents of 2 cpus each: four 0.5-cpu instances fill one.
    let cluster = Cluster::with_agents(2).await;
    let marathon = Marathon::start(&cluster, &["--placement_strategy", "spread"]).await;

    let app = |id: &str, instances: usize, labels: Value| {
        json!({"id": id, "cmd": "sleep 1000", "cpus": 0.5, "mem": 16,
               "instances": instances, "labels": labels})
    };
    let r = marathon
        .send("POST", "/v2/apps", Some(&app("/spread", 4, json!({}))))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tasks = marathon.wait_running("/spread", 4, LONG).await;
    assert_eq!(per_agent(&tasks), [2, 2], "spread: {tasks:?}");

    // Remove it and wait until the agents hold nothing, so both offer all they have.
    assert_eq!(
        marathon
            .send("DELETE", "/v2/apps/spread", None)
            .await
            .status,
        200
    );
    eventually("the agents empty again", LONG, async || {
        let state = cluster.master_state().await;
        let running: usize = state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f["tasks"].as_array().map_or(0, Vec::len))
            .sum();
        (running == 0).then_some(())
    })
    .await;

    let label = json!({"MARATHON_PLACEMENT_STRATEGY": "binpack"});
    let r = marathon
        .send("POST", "/v2/apps", Some(&app("/packed", 6, label)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tasks = marathon.wait_running("/packed", 6, LONG).await;
    assert_eq!(per_agent(&tasks), [4, 2], "binpack: {tasks:?}");

    // A strategy Marathon does not know is refused with the label's path.
    let bad = app("/bad", 1, json!({"MARATHON_PLACEMENT_STRATEGY": "fill"}));
    let r = marathon.send("POST", "/v2/apps", Some(&bad)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let details = r.json()["details"].to_string();
    assert!(
        details.contains("/labels/MARATHON_PLACEMENT_STRATEGY")
            && details.contains("spread, binpack, random"),
        "{details}"
    );
}
