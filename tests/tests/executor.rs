//! Custom executors through the v1 executor API: the agent starts the executor (the
//! `test-executor` binary, which speaks plain JSON over HTTP), the executor subscribes,
//! runs tasks, its updates reach the framework and its acknowledgements come back, messages
//! go both ways, kills and shutdowns reach it, and its death fails its tasks.

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
