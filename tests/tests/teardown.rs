//! TEARDOWN: the framework's tasks are killed and it moves to completed_frameworks.

use mesos_tests::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_kills_tasks_and_completes_the_framework() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("teardown-test").await;
    let offer = sched.next_offer().await;
    let task_id = unique_id("torn-down");
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

    sched.teardown().await;
    let framework_id = sched.framework_id.clone();

    // The master ends the subscription of a removed framework.
    let ended = sched.wait_closed(TIMEOUT).await;
    assert!(
        ended.is_some(),
        "the event stream stayed open after TEARDOWN"
    );

    eventually(
        "the framework in completed_frameworks",
        TIMEOUT,
        async || {
            let state = cluster.master_state().await;
            let completed = state["completed_frameworks"]
                .as_array()?
                .iter()
                .any(|f| f["id"] == framework_id.as_str());
            let active = state["frameworks"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["id"] == framework_id.as_str());
            (completed && !active).then_some(())
        },
    )
    .await;
    let task = eventually("the torn-down task as TASK_KILLED", TIMEOUT, async || {
        let task = cluster.master_task(&task_id).await?;
        (task.state() == "TASK_KILLED").then_some(task)
    })
    .await;
    assert!(task.framework_completed, "{task:?}");
    eventually("the agent to stop the task", TIMEOUT, async || {
        (!cluster.agent_runs_task(0, &task_id).await).then_some(())
    })
    .await;

    // A removed framework cannot make calls any more.
    let (status, body) = sched.call(json!({ "type": "REVIVE" })).await;
    assert_eq!(status, 403, "call from a torn-down framework: {body}");
}
