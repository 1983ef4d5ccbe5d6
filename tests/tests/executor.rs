//! Custom executors through the v1 executor API: the agent starts the executor (the
//! `test-executor` binary, which speaks plain JSON over HTTP), the executor subscribes,
//! runs tasks, its updates reach the framework and its acknowledgements come back, messages
//! go both ways, kills and shutdowns reach it, and its death fails its tasks. It subscribes
//! again after an agent restart and keeps its tasks; one that does not subscribe (again) in
//! time is killed and its tasks end.

use std::time::Duration;

use base64::Engine;
use mesos_tests::*;
use serde_json::{json, Value};

fn executor_task(task_id: &str, name: &str, agent_id: &str, executor_id: &str) -> Value {
    json!({
        "name": name,
        "task_id": { "value": task_id },
        "agent_id": { "value": agent_id },
        "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)],
        "executor": {
            "executor_id": { "value": executor_id },
            "type": "CUSTOM",
            "name": "test executor",
            "command": {
                "shell": false,
                "value": binary("test-executor").display().to_string()
            },
            "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)]
        }
    })
}

/// Sets an environment variable of the task's executor (`TEST_EXECUTOR_MODE`...).
fn with_executor_env(mut task: Value, name: &str, value: &str) -> Value {
    task["executor"]["command"]["environment"] = json!({
        "variables": [{ "name": name, "value": value }]
    });
    task
}

/// A framework that checkpoints, whose executors ride out agent restarts.
fn checkpointing(name: &str) -> Value {
    let mut info = framework_info(name);
    info["checkpoint"] = json!(true);
    info
}

/// The entry of executor `executor_id` in agent 0's `/state`, if live.
async fn live_executor(cluster: &Cluster, executor_id: &str) -> Option<Value> {
    let state = cluster.agent_state(0).await;
    state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["executors"].as_array().into_iter().flatten())
        .find(|e| e["id"] == executor_id)
        .cloned()
}

fn ids(tasks: &Value) -> Vec<&str> {
    tasks
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["id"].as_str().unwrap_or(""))
        .collect()
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_executor_runs_tasks_and_echoes_messages() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("executor-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");

    let quick = unique_id("quick");
    sched
        .launch(
            &offer,
            vec![executor_task(&quick, "quick", &agent_id, &executor_id)],
        )
        .await;
    let running = sched.await_state(&quick, "TASK_RUNNING").await;
    assert_eq!(running["source"], "SOURCE_EXECUTOR", "{running}");
    assert_eq!(id_value(&running["executor_id"]), executor_id, "{running}");
    sched.await_state(&quick, "TASK_FINISHED").await;

    // The framework's acknowledgements come back to the executor; its environment is set.
    let stdout = cluster
        .wait_for_sandbox_text(0, &quick, "stdout", &format!("acknowledged {quick}"))
        .await;
    assert!(stdout.contains("event SUBSCRIBED"), "{stdout}");
    assert!(stdout.contains("event LAUNCH"), "{stdout}");
    assert!(stdout.contains("env MESOS_CHECKPOINT=0"), "{stdout}");
    assert!(
        stdout.contains("env MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs"),
        "{stdout}"
    );
    assert!(!stdout.contains("env MESOS_SANDBOX=\n"), "{stdout}");

    // A second task on the same executor, which lingers: messages go there and back.
    let offer = sched.next_offer().await;
    let linger = unique_id("linger");
    sched
        .launch(
            &offer,
            vec![executor_task(&linger, "linger", &agent_id, &executor_id)],
        )
        .await;
    sched.await_state(&linger, "TASK_RUNNING").await;
    // One executor entry in the agent's /state holds both of its tasks.
    let executor = live_executor(&cluster, &executor_id)
        .await
        .expect("the executor in /state");
    assert_eq!(executor["type"], "CUSTOM", "{executor}");
    assert_eq!(executor["name"], "test executor", "{executor}");
    assert_eq!(ids(&executor["tasks"]), [linger.as_str()], "{executor}");
    assert_eq!(
        ids(&executor["completed_tasks"]),
        [quick.as_str()],
        "{executor}"
    );
    let data = b64(b"ping \x00\xff from the framework");
    sched
        .call_accepted(json!({
            "type": "MESSAGE",
            "message": {
                "agent_id": { "value": agent_id },
                "executor_id": { "value": executor_id },
                "data": data
            }
        }))
        .await;
    let echoed = sched
        .wait_for("the executor's MESSAGE", TIMEOUT, |e| {
            event_type(e) == "MESSAGE"
        })
        .await;
    assert_eq!(echoed["message"]["data"], data.as_str(), "{echoed}");
    assert_eq!(
        id_value(&echoed["message"]["executor_id"]),
        executor_id,
        "{echoed}"
    );

    // A kill reaches the executor, which answers TASK_KILLED itself.
    sched.kill(&linger, &agent_id).await;
    let killed = sched.await_state(&linger, "TASK_KILLED").await;
    assert_eq!(killed["source"], "SOURCE_EXECUTOR", "{killed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_group_with_a_custom_executor_reaches_it_as_one_launch_group() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("executor-group-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");
    let (quick, linger) = (unique_id("quick"), unique_id("linger"));
    let mut executor = executor_task(&quick, "quick", &agent_id, &executor_id)["executor"].clone();
    executor["type"] = json!("CUSTOM");
    let task = |id: &str, name: &str| {
        let mut task = executor_task(id, name, &agent_id, &executor_id);
        task.as_object_mut().unwrap().remove("executor");
        // A task of a group names no executor, so it needs a command (the executor's own
        // business what to do with it).
        task["command"] = json!({ "value": "true" });
        task
    };
    let (status, body) = sched
        .accept(
            &[offer_id(&offer)],
            vec![json!({
                "type": "LAUNCH_GROUP",
                "launch_group": {
                    "executor": executor,
                    "task_group": { "tasks": [task(&quick, "quick"), task(&linger, "linger")] }
                }
            })],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    sched.await_state(&quick, "TASK_FINISHED").await;
    let running = sched.await_state(&linger, "TASK_RUNNING").await;
    assert_eq!(running["source"], "SOURCE_EXECUTOR", "{running}");
    assert_eq!(id_value(&running["executor_id"]), executor_id, "{running}");
    let stdout = cluster
        .wait_for_sandbox_text(0, &linger, "stdout", "event LAUNCH_GROUP")
        .await;
    assert!(!stdout.contains("event LAUNCH\n"), "{stdout}");
    let executor = live_executor(&cluster, &executor_id)
        .await
        .expect("the executor in /state");
    assert_eq!(executor["type"], "CUSTOM", "{executor}");
    assert_eq!(ids(&executor["tasks"]), [linger.as_str()], "{executor}");
    sched.kill(&linger, &agent_id).await;
    sched.await_state(&linger, "TASK_KILLED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_exit_fails_its_tasks() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("executor-crash-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("crash");
    let executor_id = unique_id("exec");
    sched
        .launch(
            &offer,
            vec![executor_task(&task_id, "crash", &agent_id, &executor_id)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    let failed = sched.await_state(&task_id, "TASK_FAILED").await;
    // The framework also hears that the executor itself is gone, with its wait status.
    let failure = sched
        .wait_for("a FAILURE event for the executor", TIMEOUT, |e| {
            e["type"] == "FAILURE" && e["failure"]["executor_id"]["value"] == executor_id.as_str()
        })
        .await;
    assert_eq!(failure["failure"]["agent_id"]["value"], agent_id.as_str());
    assert_eq!(failure["failure"]["status"], 3 << 8, "{failure}");
    assert_eq!(failed["reason"], "REASON_EXECUTOR_TERMINATED", "{failed}");
    assert_eq!(failed["source"], "SOURCE_AGENT", "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("status 3")),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reaches_the_executor() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("executor-shutdown-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");
    let task_id = unique_id("linger");
    sched
        .launch(
            &offer,
            vec![executor_task(&task_id, "linger", &agent_id, &executor_id)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    sched
        .call_accepted(json!({
            "type": "SHUTDOWN",
            "shutdown": {
                "executor_id": { "value": executor_id },
                "agent_id": { "value": agent_id }
            }
        }))
        .await;
    // The executor leaves on SHUTDOWN; its task had not ended, so it fails.
    let failed = sched.await_state(&task_id, "TASK_FAILED").await;
    assert_eq!(failed["reason"], "REASON_EXECUTOR_TERMINATED", "{failed}");
    let stdout = cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", "event SHUTDOWN")
        .await;
    assert!(stdout.contains("event SUBSCRIBED"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_subscribes_again_after_an_agent_restart() {
    let mut cluster = Cluster::start().await;
    let mut sched = cluster
        .subscribe_with(checkpointing("executor-recovery-test"))
        .await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");
    let task_id = unique_id("linger");
    sched
        .launch(
            &offer,
            vec![executor_task(&task_id, "linger", &agent_id, &executor_id)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    let stdout = cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", &format!("acknowledged {task_id}"))
        .await;
    // What it needs to ride out a restart, as Mesos gives it to checkpointing frameworks.
    assert!(stdout.contains("env MESOS_CHECKPOINT=1"), "{stdout}");
    assert!(
        stdout.contains("env MESOS_RECOVERY_TIMEOUT=15mins"),
        "{stdout}"
    );
    assert!(
        stdout.contains("env MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs"),
        "{stdout}"
    );

    cluster.kill_agent(0);
    let restarted_at = std::time::Instant::now();
    cluster.restart_agent(0).await;
    cluster.wait_for_active_agents(1).await;

    // The executor subscribed again and still holds its task.
    let stdout = eventually("the executor to subscribe again", TIMEOUT, async || {
        let text = cluster.read_sandbox_file(0, &task_id, "stdout").await;
        (text.matches("event SUBSCRIBED").count() >= 2).then_some(text)
    })
    .await;
    assert!(stdout.contains("subscribing again"), "{stdout}");
    eprintln!(
        "agent restart to the executor's second SUBSCRIBED seen: {:?}",
        restarted_at.elapsed()
    );
    let executor = live_executor(&cluster, &executor_id)
        .await
        .expect("the executor in /state after the restart");
    assert_eq!(ids(&executor["tasks"]), [task_id.as_str()], "{executor}");
    // Well past --executor_reregistration_timeout, it is still there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(cluster.agent_runs_task(0, &task_id).await);

    // A kill reaches it through its new subscription.
    sched.kill(&task_id, &agent_id).await;
    let killed = sched.await_state(&task_id, "TASK_KILLED").await;
    assert_eq!(killed["source"], "SOURCE_EXECUTOR", "{killed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_sent_while_the_agent_was_down_arrive_after_it_restarts() {
    let mut cluster = Cluster::start().await;
    let mut sched = cluster
        .subscribe_with(checkpointing("executor-takeover-test"))
        .await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");
    let task_id = unique_id("linger");
    let task = executor_task(&task_id, "linger", &agent_id, &executor_id);
    sched
        .launch(
            &offer,
            vec![with_executor_env(
                task,
                "TEST_EXECUTOR_MODE",
                "finish_while_away",
            )],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", &format!("acknowledged {task_id}"))
        .await;

    cluster.kill_agent(0);
    cluster.restart_agent(0).await;

    // The task finished while the agent was down; its executor's SUBSCRIBE carried the
    // update, which the agent took over and delivered, and acknowledged back.
    let finished = sched.await_state(&task_id, "TASK_FINISHED").await;
    assert_eq!(finished["source"], "SOURCE_EXECUTOR", "{finished}");
    assert_eq!(
        id_value(&finished["executor_id"]),
        executor_id,
        "{finished}"
    );
    let stdout = eventually("the update's acknowledgement", TIMEOUT, async || {
        let text = cluster.read_sandbox_file(0, &task_id, "stdout").await;
        (text.matches(&format!("acknowledged {task_id}")).count() >= 2).then_some(text)
    })
    .await;
    assert!(
        stdout.contains(&format!("finishing {task_id} while disconnected")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_not_subscribing_again_in_time_loses_its_tasks() {
    let mut cluster = Cluster::start_with(ClusterOptions {
        agent_flags: vec!["--executor_reregistration_timeout=1secs".to_string()],
        ..ClusterOptions::default()
    })
    .await;
    let mut sched = cluster
        .subscribe_with(checkpointing("executor-reregistration-timeout-test"))
        .await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");
    let task_id = unique_id("linger");
    let task = executor_task(&task_id, "linger", &agent_id, &executor_id);
    sched
        .launch(
            &offer,
            vec![with_executor_env(task, "TEST_EXECUTOR_MODE", "deaf")],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;

    cluster.kill_agent(0);
    cluster.restart_agent(0).await;

    let lost = sched.await_state(&task_id, "TASK_LOST").await;
    assert_eq!(
        lost["reason"], "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
        "{lost}"
    );
    assert_eq!(lost["source"], "SOURCE_AGENT", "{lost}");
    assert!(
        lost["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not reregister within 1secs")),
        "{lost}"
    );
    // The executor was killed (it would have lingered forever).
    let failure = sched
        .wait_for("a FAILURE event for the executor", TIMEOUT, |e| {
            e["type"] == "FAILURE" && e["failure"]["executor_id"]["value"] == executor_id.as_str()
        })
        .await;
    let status = failure["failure"]["status"].as_i64().unwrap_or(0);
    assert!(
        status & 0x7f != 0,
        "ended by a signal (raw wait status): {failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_not_subscribing_in_time_fails_its_tasks() {
    let cluster = Cluster::start_with(ClusterOptions {
        agent_flags: vec!["--executor_registration_timeout=1secs".to_string()],
        ..ClusterOptions::default()
    })
    .await;
    let mut sched = cluster
        .subscribe("executor-registration-timeout-test")
        .await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("exec");
    let task_id = unique_id("linger");
    let task = executor_task(&task_id, "linger", &agent_id, &executor_id);
    sched
        .launch(
            &offer,
            vec![with_executor_env(task, "TEST_EXECUTOR_MODE", "mute")],
        )
        .await;
    let failed = sched.await_state(&task_id, "TASK_FAILED").await;
    assert_eq!(
        failed["reason"], "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
        "{failed}"
    );
    assert_eq!(failed["source"], "SOURCE_AGENT", "{failed}");
    assert_eq!(
        failed["message"], "Executor did not register within 1secs",
        "{failed}"
    );
    let stdout = cluster.read_sandbox_file(0, &task_id, "stdout").await;
    assert!(stdout.contains("mute: not subscribing"), "{stdout}");
    sched
        .wait_for("a FAILURE event for the executor", TIMEOUT, |e| {
            e["type"] == "FAILURE" && e["failure"]["executor_id"]["value"] == executor_id.as_str()
        })
        .await;
}
