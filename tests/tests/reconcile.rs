//! RECONCILE: the master answers from its own knowledge with uuid-less updates.

use mesos_tests::*;
use serde_json::Value;

fn is_reconciliation_of(event: &Value, task_id: &str) -> bool {
    let status = &event["update"]["status"];
    event_type(event) == "UPDATE"
        && task_id_of(status) == task_id
        && status["reason"] == "REASON_RECONCILIATION"
}

fn assert_reconciliation_update(status: &Value, state: &str) {
    assert_eq!(state_of(status), state, "{status}");
    assert!(
        status.get("uuid").is_none(),
        "reconciliation updates carry no uuid (nothing to acknowledge): {status}"
    );
    assert_eq!(status["reason"], "REASON_RECONCILIATION", "{status}");
}

/// Launches `sleep 100` on the next offer and waits for RUNNING; returns (task id, agent id).
async fn running_task(sched: &mut Scheduler) -> (String, String) {
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("reconciled");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    (task_id, agent_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_reconciliation_reports_every_task() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("implicit-reconcile-test").await;
    let (task_id, agent_id) = running_task(&mut sched).await;

    sched.reconcile(&[]).await;
    let event = sched
        .wait_for("the reconciliation update", TIMEOUT, |e| {
            is_reconciliation_of(e, &task_id)
        })
        .await;
    let status = &event["update"]["status"];
    assert_reconciliation_update(status, "TASK_RUNNING");
    assert_eq!(id_value(&status["agent_id"]), agent_id, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_reconciliation_of_known_and_unknown_tasks() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("explicit-reconcile-test").await;
    let (task_id, agent_id) = running_task(&mut sched).await;
    let unknown_on_agent = unique_id("never-launched");
    let unknown_anywhere = unique_id("never-heard-of");

    sched
        .reconcile(&[
            (&task_id, Some(&agent_id)),
            (&unknown_on_agent, Some(&agent_id)),
            (&unknown_anywhere, None),
        ])
        .await;

    let known = sched
        .wait_for("the known task's reconciliation", TIMEOUT, |e| {
            is_reconciliation_of(e, &task_id)
        })
        .await;
    assert_reconciliation_update(&known["update"]["status"], "TASK_RUNNING");

    // A framework that is not partition-aware hears TASK_LOST for tasks the master does not know.
    for unknown in [&unknown_on_agent, &unknown_anywhere] {
        let event = sched
            .wait_for(
                &format!("the reconciliation of unknown task {unknown}"),
                TIMEOUT,
                |e| is_reconciliation_of(e, unknown),
            )
            .await;
        assert_reconciliation_update(&event["update"]["status"], "TASK_LOST");
    }
}
