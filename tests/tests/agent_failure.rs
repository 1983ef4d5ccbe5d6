//! Agents that die or restart: a dead agent's tasks are reported lost (or unreachable) and
//! its resources leave the pool; a restarted agent keeps its id and loses no update.

use std::time::Duration;

use mesos_tests::*;
use serde_json::Value;

/// Launches `sleep 100` on one of two agents, kills that agent with -9 and checks what the
/// framework and the master say about it.
async fn agent_loss(framework: Value, expected_state: &str) {
    let mut cluster = Cluster::with_agents(2).await;
    let mut sched = cluster.subscribe_with(framework).await;

    let offer = sched.next_offer().await;
    let lost_agent = offer_agent_id(&offer).to_string();
    let lost_index = cluster.agent_index(&lost_agent).await;
    let other_index = 1 - lost_index;
    let other_agent = cluster.agent_id(other_index).await;
    let task_id = unique_id("doomed");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &lost_agent, "sleep 100", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    // Hold an offer from the surviving agent, to show later that offering goes on.
    let held = sched.next_offer_from(&other_agent).await;

    cluster.kill_agent(lost_index);
    let expected = expected_state.to_string();
    let lost = sched
        .skip_to(
            &format!("{expected_state} for the task of the killed agent"),
            Duration::from_secs(30),
            |e| {
                event_type(e) == "UPDATE"
                    && task_id_of(&e["update"]["status"]) == task_id
                    && is_terminal_or_unreachable(state_of(&e["update"]["status"]))
            },
        )
        .await
        .event["update"]["status"]
        .clone();
    assert_eq!(state_of(&lost), expected, "{lost}");
    assert_eq!(id_value(&lost["agent_id"]), lost_agent, "{lost}");
    if lost.get("uuid").is_some() {
        assert_eq!(sched.acknowledge(&lost).await, 202);
    }

    eventually(
        "the killed agent to leave the active agents",
        TIMEOUT,
        async || {
            let entry = cluster.master_agent(&lost_agent).await;
            match entry {
                None => Some(()),
                Some(agent) => (agent["active"].as_bool() == Some(false)).then_some(()),
            }
        },
    )
    .await;

    // No offer for the dead agent from now on, while the live one keeps being offered.
    let dead = lost_agent.clone();
    sched
        .expect_none("offer from the killed agent", Duration::from_secs(3), |e| {
            offers_of(e).iter().any(|o| offer_agent_id(o) == dead)
        })
        .await;
    sched.decline(offer_id(&held), 0.0).await;
    let again = sched.next_offer_from(&other_agent).await;
    assert_eq!(offer_agent_id(&again), other_agent);
    let dead = lost_agent.clone();
    sched
        .expect_none("offer from the killed agent", Duration::from_secs(1), |e| {
            offers_of(e).iter().any(|o| offer_agent_id(o) == dead)
        })
        .await;
}

fn is_terminal_or_unreachable(state: &str) -> bool {
    is_terminal(state) || state == "TASK_UNREACHABLE"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_agent_gives_task_lost() {
    agent_loss(framework_info("lost-agent-test"), "TASK_LOST").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_agent_gives_task_unreachable_to_partition_aware_framework() {
    agent_loss(
        partition_aware_framework_info("unreachable-agent-test"),
        "TASK_UNREACHABLE",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_agent_loses_no_update_and_keeps_its_id() {
    let mut cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("agent-restart-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    assert_eq!(cluster.agent_id(0).await, agent_id);
    let task_id = unique_id("survivor");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 3", 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;

    // The agent dies, the task does not; the agent comes back on the same work_dir.
    cluster.kill_agent(0);
    cluster.restart_agent(0).await;

    let finished = sched
        .await_state_within(&task_id, "TASK_FINISHED", Duration::from_secs(30))
        .await;
    assert_eq!(id_value(&finished["agent_id"]), agent_id, "{finished}");

    assert_eq!(
        cluster.agent_id(0).await,
        agent_id,
        "the restarted agent changed its id"
    );
    eventually(
        "the restarted agent active in /master/state",
        TIMEOUT,
        async || {
            let agent = cluster.master_agent(&agent_id).await?;
            (agent["active"].as_bool() != Some(false)).then_some(())
        },
    )
    .await;
    let state = cluster.master_state().await;
    let listed = state["slaves"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(
        listed, 1,
        "the restart must not add a second agent: {}",
        state["slaves"]
    );
}
