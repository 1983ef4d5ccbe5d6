//! Status updates are retried until acknowledged, and a task's next update waits for the
//! acknowledgement of the previous one.

use std::time::Duration;

use mesos_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_update_is_redelivered_until_acknowledged() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("reliable-test").await;
    let offer = sched.next_offer().await;
    let task_id = unique_id("unacked");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "sleep 1",
                0.1,
                32.0,
            )],
        )
        .await;

    // Acknowledge whatever precedes RUNNING; keep RUNNING unacknowledged.
    let running = loop {
        let status = sched.next_update(&task_id).await;
        match state_of(&status) {
            "TASK_STAGING" | "TASK_STARTING" => {
                assert_eq!(sched.acknowledge(&status).await, 202);
            }
            "TASK_RUNNING" => break status,
            other => panic!("unexpected {other} before TASK_RUNNING: {status}"),
        }
    };
    let uuid = status_uuid(&running);

    // The agent retries (--status_update_retry_interval_min=500ms): the very same update.
    let again = sched
        .wait_for_update(&task_id, "a re-delivered update", TIMEOUT, |_| true)
        .await;
    assert_eq!(state_of(&again), "TASK_RUNNING", "{again}");
    assert_eq!(
        status_uuid(&again),
        uuid,
        "a retry carries the same uuid: {again}"
    );

    // The task has long finished by the end of this window, yet nothing but RUNNING
    // may arrive while RUNNING is unacknowledged.
    let first_uuid = running["uuid"].clone();
    let id = task_id.clone();
    sched
        .expect_none(
            "any other update before RUNNING is acknowledged",
            Duration::from_secs(3),
            |e| {
                event_type(e) == "UPDATE"
                    && task_id_of(&e["update"]["status"]) == id
                    && e["update"]["status"]["uuid"] != first_uuid
            },
        )
        .await;

    assert_eq!(sched.acknowledge(&running).await, 202);
    let finished = sched
        .wait_for_update(&task_id, "the update after RUNNING", TIMEOUT, |s| {
            state_of(s) != "TASK_RUNNING"
        })
        .await;
    assert_eq!(state_of(&finished), "TASK_FINISHED", "{finished}");
    assert_ne!(status_uuid(&finished), uuid);
    assert_eq!(sched.acknowledge(&finished).await, 202);

    // Once acknowledged, FINISHED is not re-sent.
    let id = task_id.clone();
    sched
        .expect_none(
            "a re-sent TASK_FINISHED after its acknowledgement",
            Duration::from_secs(2),
            |e| {
                event_type(e) == "UPDATE"
                    && task_id_of(&e["update"]["status"]) == id
                    && state_of(&e["update"]["status"]) == "TASK_FINISHED"
            },
        )
        .await;
}
