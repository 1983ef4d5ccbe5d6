//! Master behaviour over time: offer timeouts, heartbeats, and a master restart that agents
//! and frameworks survive.

use std::time::Duration;

use mesos_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_timeout_rescinds_offers_held_too_long() {
    let cluster = Cluster::start_with(ClusterOptions {
        master_flags: vec!["--offer_timeout=1secs".to_string()],
        ..Default::default()
    })
    .await;
    let mut sched = cluster.subscribe("offer-hoarder").await;
    let offer = sched.next_offer().await;
    let held = offer_id(&offer).to_string();
    let rescind = sched
        .wait_for("RESCIND of the held offer", TIMEOUT, |e| {
            e["type"] == "RESCIND" && e["rescind"]["offer_id"]["value"] == held.as_str()
        })
        .await;
    assert_eq!(rescind["rescind"]["offer_id"]["value"], held.as_str());
    // The rescinded offer is gone: accepting it now fails the task as an invalid offer.
    let agent_id = offer_agent_id(&offer).to_string();
    sched
        .launch(
            &offer,
            vec![command_task("too-late", &agent_id, "true", 0.1, 32.0)],
        )
        .await;
    let update = sched.next_update("too-late").await;
    assert_eq!(state_of(&update), "TASK_LOST", "{update}");
    // ...and its resources are offered again.
    let again = sched
        .wait_for_offer("the rescinded resources offered again", |o| {
            offer_agent_id(o) == agent_id
        })
        .await;
    assert_ne!(offer_id(&again), held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_arrive_every_fifteen_seconds() {
    let cluster = Cluster::master_only().await;
    let mut sched = cluster.subscribe("heartbeat-listener").await;
    assert_eq!(sched.subscribed["heartbeat_interval_seconds"], 15.0);
    let first = sched
        .wait_for_received("a HEARTBEAT", Duration::from_secs(20), |e| {
            e["type"] == "HEARTBEAT"
        })
        .await;
    assert_eq!(first.event, json!({"type": "HEARTBEAT"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reregisters_with_its_running_task_after_a_master_restart() {
    let mut cluster = Cluster::start().await;
    let mut info = framework_info("survivor");
    info["failover_timeout"] = json!(300.0);
    let mut sched = cluster.subscribe_with(info.clone()).await;
    let framework_id = sched.framework_id.clone();
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    sched
        .launch(
            &offer,
            vec![command_task(
                "long-runner",
                &agent_id,
                "sleep 60",
                0.1,
                32.0,
            )],
        )
        .await;
    sched.await_state("long-runner", "TASK_RUNNING").await;

    cluster.master.kill9();
    drop(sched);
    cluster.master.restart();
    let health = cluster.master_url("/health");
    mesos_tests::cluster::wait_ready(&mut cluster.master, &health)
        .await
        .expect("restarted master serves");

    // The agent comes back under the same id, bringing the task it still runs.
    let task = eventually(
        "the task reported by the re-registered agent",
        TIMEOUT,
        async || {
            cluster
                .master_task("long-runner")
                .await
                .filter(|t| t.state() == "TASK_RUNNING")
        },
    )
    .await;
    assert_eq!(task.framework_id, framework_id);
    assert_eq!(task.task["slave_id"], agent_id.as_str());

    // The scheduler fails over to the new master with its framework id and reconciles.
    info["id"] = json!({ "value": framework_id });
    let mut sched = cluster.subscribe_with(info).await;
    assert_eq!(sched.framework_id, framework_id);
    sched
        .reconcile(&[("long-runner", Some(agent_id.as_str()))])
        .await;
    let status = sched.next_update("long-runner").await;
    assert_eq!(state_of(&status), "TASK_RUNNING", "{status}");
    assert_eq!(status["reason"], "REASON_RECONCILIATION");
    let state = cluster.master_state().await;
    let framework = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == framework_id.as_str())
        .expect("framework in state");
    assert_eq!(framework["active"], true, "{framework}");
}
