//! LAUNCH validation, as Mesos does it: an invalid task gets TASK_ERROR
//! (REASON_TASK_INVALID); a launch on offers that are unknown or already used gets TASK_LOST
//! (TASK_DROPPED for partition-aware frameworks) with REASON_INVALID_OFFERS. Both come from
//! the master, and the master keeps going.

use mesos_tests::*;
use serde_json::Value;

fn assert_master_verdict(status: &Value, state: &str, reason: &str) {
    assert_eq!(state_of(status), state, "{status}");
    assert_eq!(status["reason"], reason, "{status}");
    assert_eq!(status["source"], "SOURCE_MASTER", "{status}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{state} should explain itself in `message`: {status}"
    );
}

/// Waits for `task_id`'s update in `state`, acknowledging it if it has a uuid.
async fn verdict(sched: &mut Scheduler, task_id: &str, state: &str) -> Value {
    let wanted = state.to_string();
    let status = sched
        .wait_for_update(task_id, state, TIMEOUT, |s| state_of(s) == wanted)
        .await;
    if status.get("uuid").is_some() {
        assert_eq!(sched.acknowledge(&status).await, 202);
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_using_more_than_the_offer_gets_task_error() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("too-big-test").await;
    let offer = sched.next_offer().await;
    let task_id = unique_id("too-big");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "sleep 10",
                3.0,
                32.0,
            )],
        )
        .await;
    let status = verdict(&mut sched, &task_id, "TASK_ERROR").await;
    assert_master_verdict(&status, "TASK_ERROR", "REASON_TASK_INVALID");

    // Nothing was consumed: the whole agent is offered again.
    let again = sched.next_offer().await;
    assert_eq!(scalar_of(&again["resources"], "cpus"), 2.0, "{again}");
    assert!(
        cluster
            .master_task(&task_id)
            .await
            .is_none_or(|t| t.state() == "TASK_ERROR"),
        "an invalid task must not be running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_of_a_running_task_id_gets_task_error() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("duplicate-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("twin");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;

    let second_offer = sched.next_offer().await;
    sched
        .launch(
            &second_offer,
            vec![command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    let status = verdict(&mut sched, &task_id, "TASK_ERROR").await;
    assert_master_verdict(&status, "TASK_ERROR", "REASON_TASK_INVALID");

    // The original keeps running.
    let shown = cluster
        .master_task(&task_id)
        .await
        .expect("original task in /master/state");
    assert_eq!(shown.state(), "TASK_RUNNING", "{shown:?}");
    assert!(cluster.agent_runs_task(0, &task_id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_task_ids_in_one_launch_run_only_the_first() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("duplicate-in-launch-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("twin");
    sched
        .launch(
            &offer,
            vec![
                command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0),
                command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0),
            ],
        )
        .await;
    let status = verdict(&mut sched, &task_id, "TASK_ERROR").await;
    assert_master_verdict(&status, "TASK_ERROR", "REASON_TASK_INVALID");
    sched.await_state(&task_id, "TASK_RUNNING").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_for_another_agent_than_the_offer_gets_task_error() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("wrong-agent-test").await;
    let offer = sched.next_offer().await;
    let master_id = sched.master_info()["id"].as_str().unwrap_or("").to_string();
    let task_id = unique_id("misplaced");
    let elsewhere = format!("{master_id}-S999");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &elsewhere, "sleep 10", 0.1, 32.0)],
        )
        .await;
    let status = verdict(&mut sched, &task_id, "TASK_ERROR").await;
    assert_master_verdict(&status, "TASK_ERROR", "REASON_TASK_INVALID");
}

async fn launch_on_unknown_offer(framework: Value, state: &str) {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe_with(framework).await;
    let offer = sched.next_offer().await;
    let master_id = sched.master_info()["id"].as_str().unwrap_or("").to_string();
    let task_id = unique_id("orphan");
    let unknown = format!("{master_id}-O999999");
    sched
        .launch_on(
            &[&unknown],
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "sleep 10",
                0.1,
                32.0,
            )],
        )
        .await;
    let status = verdict(&mut sched, &task_id, state).await;
    assert_master_verdict(&status, state, "REASON_INVALID_OFFERS");

    // The real offer is still good.
    let good = unique_id("good");
    sched
        .launch(
            &offer,
            vec![command_task(
                &good,
                offer_agent_id(&offer),
                "sleep 1",
                0.1,
                32.0,
            )],
        )
        .await;
    sched.await_state(&good, "TASK_FINISHED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_offer_gives_task_lost() {
    launch_on_unknown_offer(framework_info("unknown-offer-test"), "TASK_LOST").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_offer_gives_task_dropped_to_partition_aware_framework() {
    launch_on_unknown_offer(
        partition_aware_framework_info("unknown-offer-pa-test"),
        "TASK_DROPPED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_used_twice_gives_task_lost_for_the_second_launch() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("offer-twice-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let first = unique_id("first");
    let second = unique_id("second");
    sched
        .launch(
            &offer,
            vec![command_task(&first, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    sched
        .launch(
            &offer,
            vec![command_task(&second, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    let status = verdict(&mut sched, &second, "TASK_LOST").await;
    assert_master_verdict(&status, "TASK_LOST", "REASON_INVALID_OFFERS");
    sched.await_state(&first, "TASK_RUNNING").await;
    assert!(!cluster.agent_runs_task(0, &second).await);
}
