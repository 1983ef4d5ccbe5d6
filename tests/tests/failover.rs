//! Scheduler disconnects: failover_timeout decides whether the framework's tasks survive.

use std::time::Duration;

use mesos_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_zero_failover_timeout_kills_tasks() {
    let cluster = Cluster::start().await;
    let mut info = framework_info("no-failover-test");
    info["failover_timeout"] = json!(0.0);
    let mut sched = cluster.subscribe_with(info).await;
    let offer = sched.next_offer().await;
    let task_id = unique_id("abandoned");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "sleep 100",
                0.1,
                32.0,
            )],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    let framework_id = sched.framework_id.clone();

    sched.disconnect();

    eventually(
        "the framework in completed_frameworks",
        TIMEOUT,
        async || {
            let state = cluster.master_state().await;
            state["completed_frameworks"]
                .as_array()?
                .iter()
                .any(|f| f["id"] == framework_id.as_str())
                .then_some(())
        },
    )
    .await;
    eventually("the abandoned task as TASK_KILLED", TIMEOUT, async || {
        let task = cluster.master_task(&task_id).await?;
        (task.state() == "TASK_KILLED").then_some(())
    })
    .await;
    eventually("the agent to stop the task", TIMEOUT, async || {
        (!cluster.agent_runs_task(0, &task_id).await).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubscribe_within_failover_timeout_keeps_tasks() {
    let cluster = Cluster::start().await;
    let mut info = framework_info("failover-test");
    info["failover_timeout"] = json!(60.0);
    let mut sched = cluster.subscribe_with(info.clone()).await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("kept");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    let framework_id = sched.framework_id.clone();
    let old_stream = sched.stream_id.clone();

    sched.disconnect();
    // Give the master time to notice; the framework must stay, with its task.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let state = cluster.master_state().await;
    assert!(
        state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["id"] == framework_id.as_str()),
        "a disconnected framework within its failover_timeout must stay: {}",
        state["frameworks"]
    );
    let task = cluster
        .master_task(&task_id)
        .await
        .expect("task still in /master/state");
    assert_eq!(task.state(), "TASK_RUNNING", "{task:?}");

    info["id"] = json!({ "value": framework_id });
    let mut again = cluster.subscribe_with(info).await;
    assert_eq!(
        again.framework_id, framework_id,
        "re-SUBSCRIBE keeps the framework id"
    );
    assert_ne!(
        again.stream_id, old_stream,
        "a new subscription has a new stream id"
    );

    again.reconcile(&[(&task_id, Some(&agent_id))]).await;
    let id = task_id.clone();
    let event = again
        .wait_for("the kept task's reconciliation", TIMEOUT, |e| {
            event_type(e) == "UPDATE"
                && task_id_of(&e["update"]["status"]) == id
                && e["update"]["status"]["reason"] == "REASON_RECONCILIATION"
        })
        .await;
    assert_eq!(
        state_of(&event["update"]["status"]),
        "TASK_RUNNING",
        "{event}"
    );
    assert!(cluster.agent_runs_task(0, &task_id).await);

    // The old stream id is dead; the new one works.
    let stale = http::post(
        &format!("http://{}/api/v1/scheduler", cluster.master_addr()),
        json!({ "type": "REVIVE", "framework_id": { "value": framework_id } }).to_string(),
        &[
            ("Content-Type", "application/json"),
            ("Mesos-Stream-Id", old_stream.as_str()),
        ],
    )
    .await;
    assert_eq!(
        stale.status, 400,
        "call with the old stream id: {}",
        stale.body
    );
    again.revive().await;
}
