//! KILL: SIGTERM first, SIGKILL after the grace period, TASK_KILLED either way.

use std::time::{Duration, Instant};

use mesos_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_running_task_gives_task_killed() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("kill-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("long-sleeper");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 100", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;

    sched.kill(&task_id, &agent_id).await;
    let killed = sched.await_state(&task_id, "TASK_KILLED").await;
    assert_eq!(id_value(&killed["agent_id"]), agent_id, "{killed}");

    eventually("the agent to stop running the task", TIMEOUT, async || {
        (!cluster.agent_runs_task(0, &task_id).await).then_some(())
    })
    .await;
    let shown = eventually("TASK_KILLED in /master/state", TIMEOUT, async || {
        let task = cluster.master_task(&task_id).await?;
        (task.state() == "TASK_KILLED").then_some(task)
    })
    .await;
    assert!(shown.task_completed, "{shown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_ignoring_sigterm_is_killed_after_grace_period() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("kill-stubborn-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("stubborn");
    let grace = 2.0;
    let task = with_grace_period(
        command_task(
            &task_id,
            &agent_id,
            "trap '' TERM; echo ready; sleep 100",
            0.1,
            32.0,
        ),
        grace,
    );
    sched.launch(&offer, vec![task]).await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    // Only once the trap is in place does the test say anything about SIGTERM.
    cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", "ready")
        .await;

    let kill_sent = Instant::now();
    sched.kill(&task_id, &agent_id).await;
    let received = sched
        .wait_for_received("TASK_KILLED", Duration::from_secs(30), |e| {
            event_type(e) == "UPDATE"
                && task_id_of(&e["update"]["status"]) == task_id
                && state_of(&e["update"]["status"]) == "TASK_KILLED"
        })
        .await;
    // SIGTERM alone cannot end this task: TASK_KILLED can only follow the grace period.
    let elapsed = received.at.duration_since(kill_sent);
    assert!(
        elapsed >= Duration::from_secs_f64(grace - 0.2),
        "TASK_KILLED came {elapsed:?} after KILL, before the {grace} s grace period ran out"
    );
    eventually("the agent to stop running the task", TIMEOUT, async || {
        (!cluster.agent_runs_task(0, &task_id).await).then_some(())
    })
    .await;
}
