//! Task groups (LAUNCH_GROUP) under the default executor: the tasks of a group run under
//! one executor whose sandbox they share (each task's own sandbox is
//! `<executor sandbox>/containers/<container id>`, linked from `tasks/<task id>`), they
//! report through the reliable status updates, they live and die together (a failed or
//! killed task takes its group down), and they survive an agent restart.

use mesos_tests::*;
use serde_json::{json, Value};

/// LAUNCH_GROUP of `tasks` under the default executor `executor_id`.
fn launch_group(executor_id: &str, tasks: Vec<Value>) -> Value {
    json!({
        "type": "LAUNCH_GROUP",
        "launch_group": {
            "executor": {
                "executor_id": { "value": executor_id },
                "type": "DEFAULT",
                "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)]
            },
            "task_group": { "tasks": tasks }
        }
    })
}

/// Launches `commands` (task id, shell command) as one group on `offer`.
async fn launch(sched: &Scheduler, offer: &Value, executor_id: &str, commands: &[(&str, &str)]) {
    let agent_id = offer_agent_id(offer);
    let tasks = commands
        .iter()
        .map(|(id, command)| command_task(id, agent_id, command, 0.1, 32.0))
        .collect();
    let (status, body) = sched
        .accept(&[offer_id(offer)], vec![launch_group(executor_id, tasks)])
        .await;
    assert_eq!(status, 202, "ACCEPT with LAUNCH_GROUP: {body}");
}

/// The executor entry `executor_id` of agent 0's `/state` (live or completed frameworks),
/// and whether it is live.
async fn agent_executor_entry(cluster: &Cluster, executor_id: &str) -> Option<(Value, bool)> {
    let state = cluster.agent_state(0).await;
    for frameworks in ["frameworks", "completed_frameworks"] {
        for framework in state[frameworks].as_array().into_iter().flatten() {
            for list in ["executors", "completed_executors"] {
                for executor in framework[list].as_array().into_iter().flatten() {
                    if executor["id"] == executor_id {
                        let live = frameworks == "frameworks" && list == "executors";
                        return Some((executor.clone(), live));
                    }
                }
            }
        }
    }
    None
}

fn task_ids(executor: &Value, list: &str) -> Vec<String> {
    let mut ids: Vec<String> = executor[list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["id"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_runs_under_one_executor_sharing_its_sandbox() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-test").await;
    let offer = sched.next_offer().await;
    let executor_id = unique_id("default");
    let (writer, reader, idle) = (unique_id("writer"), unique_id("reader"), unique_id("idle"));
    let launched_at = std::time::Instant::now();
    // The writer leaves a file in the executor's sandbox (two levels up from its own);
    // the reader waits for it there and prints it.
    launch(
        &sched,
        &offer,
        &executor_id,
        &[
            (
                &writer,
                "echo shared-by-the-group > \"$MESOS_SANDBOX/../../shared\" && sleep 1000",
            ),
            (
                &reader,
                "echo \"sandbox=$MESOS_SANDBOX executor=$MESOS_EXECUTOR_ID\"; \
                 while [ ! -f \"$MESOS_SANDBOX/../../shared\" ]; do sleep 0.1; done; \
                 cat \"$MESOS_SANDBOX/../../shared\"; sleep 1000",
            ),
            (&idle, "sleep 1000"),
        ],
    )
    .await;
    let starting = sched.next_update(&writer).await;
    assert_eq!(state_of(&starting), "TASK_STARTING", "{starting}");
    let mut statuses = Vec::new();
    for task in [&writer, &reader, &idle] {
        let running = sched.await_state(task, "TASK_RUNNING").await;
        assert_eq!(running["source"], "SOURCE_EXECUTOR", "{running}");
        assert_eq!(id_value(&running["executor_id"]), executor_id, "{running}");
        statuses.push(running);
    }
    eprintln!(
        "task group of 3: ACCEPT to the last TASK_RUNNING took {:?}",
        launched_at.elapsed()
    );
    // Each task has its own container, nested in the executor's (the same for all).
    let containers: Vec<&Value> = statuses
        .iter()
        .map(|s| &s["container_status"]["container_id"])
        .collect();
    let parent = id_value(&containers[0]["parent"]).to_string();
    assert!(is_uuid(&parent), "{}", statuses[0]);
    for container in &containers {
        assert_eq!(id_value(&container["parent"]), parent, "{container}");
        assert_ne!(id_value(container), parent, "{container}");
    }

    // One executor entry with all three tasks in the agent's /state.
    let (executor, live) = eventually("the group's executor in /state", TIMEOUT, async || {
        agent_executor_entry(&cluster, &executor_id).await
    })
    .await;
    assert!(live, "{executor}");
    assert_eq!(executor["type"], "DEFAULT", "{executor}");
    assert_eq!(executor["container"], parent.as_str(), "{executor}");
    assert_eq!(
        task_ids(&executor, "tasks"),
        sorted(&[&writer, &reader, &idle]),
        "{executor}"
    );
    for task in executor["tasks"].as_array().unwrap() {
        assert_eq!(task["executor_id"], executor_id.as_str(), "{task}");
        assert_eq!(task["state"], "TASK_RUNNING", "{task}");
    }
    let directory = executor["directory"].as_str().unwrap().to_string();
    assert!(
        directory.ends_with(&format!("/executors/{executor_id}/runs/{parent}")),
        "{directory}"
    );

    // The reader saw the writer's file; its sandbox is its container's, under the
    // executor's, reachable as tasks/<task id>.
    let stdout = cluster
        .wait_for_sandbox_text(
            0,
            &reader,
            &format!("tasks/{reader}/stdout"),
            "shared-by-the-group",
        )
        .await;
    let reader_container = id_value(&statuses[1]["container_status"]["container_id"]);
    assert!(
        stdout.contains(&format!(
            "sandbox={directory}/containers/{reader_container} executor={executor_id}"
        )),
        "{stdout}"
    );

    // The master and the operator API know the tasks' executor.
    let master_task = cluster
        .master_task(&idle)
        .await
        .expect("idle in /master/state");
    assert_eq!(master_task.task["executor_id"], executor_id.as_str());
    let state = cluster.master_state().await;
    let framework = state["frameworks"]
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|f| f["id"] == master_task.framework_id.as_str())
        })
        .expect("framework in /master/state");
    let executors = framework["executors"].as_array().expect("executors");
    assert_eq!(executors.len(), 1, "{framework}");
    let executor = &executors[0];
    assert_eq!(executor["executor_id"], executor_id.as_str(), "{executor}");
    assert_eq!(executor["type"], "DEFAULT", "{executor}");
    assert_eq!(executor["framework_id"], master_task.framework_id.as_str());
    assert_eq!(
        executor["slave_id"], master_task.task["slave_id"],
        "{executor}"
    );
    assert_eq!(executor["resources"]["cpus"], 0.1, "{executor}");
    assert_eq!(executor["resources"]["mem"], 32.0, "{executor}");
    let master_executors =
        http::operator_get(&cluster.master_url("/api/v1"), "GET_EXECUTORS").await;
    let on_master: Vec<&Value> = master_executors["executors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["executor_info"]["executor_id"]["value"] == executor_id.as_str())
        .collect();
    assert_eq!(on_master.len(), 1, "{master_executors}");
    assert_eq!(on_master[0]["executor_info"]["type"], "DEFAULT");
    assert_eq!(
        on_master[0]["agent_id"]["value"],
        master_task.task["slave_id"]
    );
    let executors = http::operator_get(&cluster.agent_url(0, "/api/v1"), "GET_EXECUTORS").await;
    let listed: Vec<&Value> = executors["executors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["executor_info"]["executor_id"]["value"] == executor_id.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{executors}");
    assert_eq!(listed[0]["executor_info"]["type"], "DEFAULT", "{executors}");
    let tasks = http::operator_get(&cluster.agent_url(0, "/api/v1"), "GET_TASKS").await;
    let launched: Vec<&Value> = tasks["launched_tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["executor_id"]["value"] == executor_id.as_str())
        .collect();
    assert_eq!(launched.len(), 3, "{tasks}");
    // GET_CONTAINERS shows the executor's container with the usage of its three nested
    // ones, and the nested ones too when asked to.
    let agent_api = cluster.agent_url(0, "/api/v1");
    let ours = |list: &Value| -> Vec<Value> {
        list["get_containers"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["executor_id"]["value"] == executor_id.as_str())
            .cloned()
            .collect()
    };
    let top = http::operator_call(&agent_api, &json!({ "type": "GET_CONTAINERS" }))
        .await
        .json();
    let top = ours(&top);
    assert_eq!(top.len(), 1, "{top:?}");
    assert!(top[0]["container_id"].get("parent").is_none(), "{top:?}");
    let executor_container = top[0]["container_id"]["value"].clone();
    let processes = top[0]["resource_statistics"]["processes"]
        .as_u64()
        .unwrap_or(0);
    assert!(processes >= 3, "the three tasks' processes: {top:?}");
    let all = http::operator_call(
        &agent_api,
        &json!({ "type": "GET_CONTAINERS", "get_containers": { "show_nested": true } }),
    )
    .await
    .json();
    let all = ours(&all);
    assert_eq!(all.len(), 4, "{all:?}");
    let nested = all
        .iter()
        .filter(|c| c["container_id"]["parent"]["value"] == executor_container)
        .count();
    assert_eq!(nested, 3, "{all:?}");
    let statistics = http::get_json(&cluster.agent_url(0, "/monitor/statistics")).await;
    let entries = statistics
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["executor_id"] == executor_id.as_str())
        .count();
    assert_eq!(entries, 1, "one entry per executor: {statistics}");

    // One executor runs, with three tasks.
    let metrics = http::get_json(&cluster.agent_url(0, "/metrics/snapshot")).await;
    assert_eq!(metrics["slave/executors_running"], 1.0, "{metrics}");
    assert_eq!(metrics["slave/tasks_running"], 3.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_kills_the_rest_of_its_group() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-failure-test").await;
    let offer = sched.next_offer().await;
    let executor_id = unique_id("default");
    let (failing, a, b) = (unique_id("failing"), unique_id("a"), unique_id("b"));
    launch(
        &sched,
        &offer,
        &executor_id,
        &[
            (&failing, "sleep 1; exit 3"),
            (&a, "sleep 1000"),
            (&b, "sleep 1000"),
        ],
    )
    .await;
    for task in [&failing, &a, &b] {
        sched.await_state(task, "TASK_RUNNING").await;
    }
    let failed = sched.await_state(&failing, "TASK_FAILED").await;
    assert_eq!(failed["source"], "SOURCE_EXECUTOR", "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited with status 3")),
        "{failed}"
    );
    for task in [&a, &b] {
        let killed = sched.await_state(task, "TASK_KILLED").await;
        assert_eq!(id_value(&killed["executor_id"]), executor_id, "{killed}");
    }
    // With every task ended, the executor is done: the framework hears it exited.
    let failure = sched
        .wait_for("a FAILURE event for the default executor", TIMEOUT, |e| {
            e["type"] == "FAILURE" && e["failure"]["executor_id"]["value"] == executor_id.as_str()
        })
        .await;
    assert_eq!(failure["failure"]["status"], 0, "{failure}");
    // The master forgets it too.
    let framework_id = sched.framework_id.clone();
    eventually("the master to forget the executor", TIMEOUT, async || {
        let state = cluster.master_state().await;
        let framework = state["frameworks"]
            .as_array()?
            .iter()
            .find(|f| f["id"] == framework_id.as_str())?
            .clone();
        framework["executors"]
            .as_array()
            .is_some_and(|list| list.is_empty())
            .then_some(())
    })
    .await;
    let (executor, live) = eventually("the executor to complete", TIMEOUT, async || {
        agent_executor_entry(&cluster, &executor_id)
            .await
            .filter(|(_, live)| !live)
    })
    .await;
    assert!(!live);
    assert_eq!(
        task_ids(&executor, "completed_tasks"),
        sorted(&[&failing, &a, &b]),
        "{executor}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_task_kills_the_group() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-kill-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("default");
    let (a, b, c) = (unique_id("a"), unique_id("b"), unique_id("c"));
    launch(
        &sched,
        &offer,
        &executor_id,
        &[(&a, "sleep 1000"), (&b, "sleep 1000"), (&c, "sleep 1000")],
    )
    .await;
    for task in [&a, &b, &c] {
        sched.await_state(task, "TASK_RUNNING").await;
    }
    sched.kill(&b, &agent_id).await;
    for task in [&b, &a, &c] {
        let killed = sched.await_state(task, "TASK_KILLED").await;
        assert_eq!(killed["source"], "SOURCE_EXECUTOR", "{killed}");
    }
    eventually(
        "the group's tasks to leave the master's live tasks",
        TIMEOUT,
        async || {
            let mut done = true;
            for task in [&a, &b, &c] {
                done &= cluster
                    .master_task(task)
                    .await
                    .is_some_and(|t| t.state() == "TASK_KILLED");
            }
            done.then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_group_joins_the_running_executor() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-second-test").await;
    let offer = sched.next_offer().await;
    let executor_id = unique_id("default");
    let (first, second) = (unique_id("first"), unique_id("second"));
    launch(&sched, &offer, &executor_id, &[(&first, "sleep 1000")]).await;
    let running = sched.await_state(&first, "TASK_RUNNING").await;
    let parent = id_value(&running["container_status"]["container_id"]["parent"]).to_string();

    let offer = sched.next_offer().await;
    launch(
        &sched,
        &offer,
        &executor_id,
        &[(&second, "sleep 1; exit 1")],
    )
    .await;
    let running = sched.await_state(&second, "TASK_RUNNING").await;
    assert_eq!(
        id_value(&running["container_status"]["container_id"]["parent"]),
        parent,
        "the second group runs in the same executor container: {running}"
    );
    let (executor, _) = agent_executor_entry(&cluster, &executor_id)
        .await
        .expect("executor in /state");
    assert_eq!(
        task_ids(&executor, "tasks"),
        sorted(&[&first, &second]),
        "{executor}"
    );
    // A failure in the second group leaves the first group running.
    sched.await_state(&second, "TASK_FAILED").await;
    sched
        .expect_none(
            "an update of the first group",
            std::time::Duration::from_secs(2),
            |e| event_type(e) == "UPDATE" && task_id_of(&e["update"]["status"]) == first,
        )
        .await;
    assert!(cluster.agent_runs_task(0, &first).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_keeps_running_across_an_agent_restart() {
    let mut cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-restart-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("default");
    let (a, b) = (unique_id("a"), unique_id("b"));
    launch(
        &sched,
        &offer,
        &executor_id,
        &[(&a, "sleep 1000"), (&b, "sleep 1000")],
    )
    .await;
    let mut pids = Vec::new();
    for task in [&a, &b] {
        sched.await_state(task, "TASK_RUNNING").await;
    }
    let (before, _) = agent_executor_entry(&cluster, &executor_id)
        .await
        .expect("executor in /state");
    for task in [&a, &b] {
        pids.push(sleep_pid(&before, task).await);
    }

    cluster.kill_agent(0);
    cluster.restart_agent(0).await;
    cluster.wait_for_active_agents(1).await;

    // The same executor, with both tasks still running (the same processes).
    let (after, live) = eventually("the recovered group in /state", TIMEOUT, async || {
        agent_executor_entry(&cluster, &executor_id).await
    })
    .await;
    assert!(live, "{after}");
    assert_eq!(after["container"], before["container"], "{after}");
    assert_eq!(after["directory"], before["directory"], "{after}");
    assert_eq!(task_ids(&after, "tasks"), sorted(&[&a, &b]), "{after}");
    for pid in &pids {
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "task process {pid} died with the agent"
        );
    }

    // Group semantics hold after the restart: a kill of one takes the group down.
    sched.kill(&a, &agent_id).await;
    for task in [&a, &b] {
        sched.await_state(task, "TASK_KILLED").await;
    }
    for pid in &pids {
        eventually("the task processes to end", TIMEOUT, async || {
            (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_failing_while_the_agent_is_down_takes_its_group_down_after_the_restart() {
    let mut cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-down-test").await;
    let offer = sched.next_offer().await;
    let executor_id = unique_id("default");
    let (survivor, failing) = (unique_id("survivor"), unique_id("failing"));
    launch(
        &sched,
        &offer,
        &executor_id,
        &[
            (&survivor, "sleep 1000"),
            // Fails once told to (a file in its sandbox).
            (
                &failing,
                "while [ ! -f \"$MESOS_SANDBOX/go\" ]; do sleep 0.05; done; exit 1",
            ),
        ],
    )
    .await;
    for task in [&survivor, &failing] {
        sched.await_state(task, "TASK_RUNNING").await;
    }
    let (executor, _) = agent_executor_entry(&cluster, &executor_id)
        .await
        .expect("executor in /state");
    let directory = executor["directory"].as_str().unwrap().to_string();
    cluster.kill_agent(0);
    // The failing task ends while no agent watches it (and before the master gives the
    // agent up).
    std::fs::write(format!("{directory}/tasks/{failing}/go"), b"").expect("go file");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let restarted_at = std::time::Instant::now();
    cluster.restart_agent(0).await;

    let failed = sched.await_state(&failing, "TASK_FAILED").await;
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited with status 1")),
        "{failed}"
    );
    sched.await_state(&survivor, "TASK_KILLED").await;
    eprintln!(
        "agent restart to the group's TASK_KILLED took {:?}",
        restarted_at.elapsed()
    );
}

/// The pid of `task_id`'s process, from its supervisor's checkpoint next to the sandbox
/// (`<work_dir>/meta/...` mirrors `<work_dir>/slaves/...`).
async fn sleep_pid(executor: &Value, task_id: &str) -> u32 {
    let directory = executor["directory"].as_str().unwrap();
    let sandbox = std::fs::read_link(format!("{directory}/tasks/{task_id}"))
        .unwrap_or_else(|e| panic!("tasks/{task_id} link in {directory}: {e}"));
    let sandbox = sandbox.display().to_string();
    let (work_dir, rest) = sandbox
        .split_once("/slaves/")
        .expect("sandbox under work_dir");
    let pid_file = format!("{work_dir}/meta/slaves/{rest}/pids/task.pid");
    eventually(
        &format!("the task pid in {pid_file}"),
        TIMEOUT,
        async || std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_ends_the_group_and_its_executor() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-teardown-test").await;
    let offer = sched.next_offer().await;
    let executor_id = unique_id("default");
    let (a, b) = (unique_id("a"), unique_id("b"));
    launch(
        &sched,
        &offer,
        &executor_id,
        &[(&a, "sleep 1000"), (&b, "sleep 1000")],
    )
    .await;
    for task in [&a, &b] {
        sched.await_state(task, "TASK_RUNNING").await;
    }
    let (executor, _) = agent_executor_entry(&cluster, &executor_id)
        .await
        .expect("executor in /state");
    let mut pids = Vec::new();
    for task in [&a, &b] {
        pids.push(sleep_pid(&executor, task).await);
    }
    sched.teardown().await;
    // The tasks are killed and the executor is gone from the live ones.
    for pid in &pids {
        eventually("the group's processes to end", TIMEOUT, async || {
            (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
        })
        .await;
    }
    let (executor, live) = eventually("the executor to complete", TIMEOUT, async || {
        agent_executor_entry(&cluster, &executor_id)
            .await
            .filter(|(_, live)| !live)
    })
    .await;
    assert!(!live, "{executor}");
    let metrics = http::get_json(&cluster.agent_url(0, "/metrics/snapshot")).await;
    assert_eq!(metrics["slave/executors_running"], 0.0, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_of_the_executor_kills_all_its_groups() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("task-group-shutdown-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let executor_id = unique_id("default");
    let (a, b) = (unique_id("a"), unique_id("b"));
    launch(&sched, &offer, &executor_id, &[(&a, "sleep 1000")]).await;
    sched.await_state(&a, "TASK_RUNNING").await;
    let offer = sched.next_offer().await;
    launch(&sched, &offer, &executor_id, &[(&b, "sleep 1000")]).await;
    sched.await_state(&b, "TASK_RUNNING").await;
    sched
        .call_accepted(json!({
            "type": "SHUTDOWN",
            "shutdown": {
                "executor_id": { "value": executor_id },
                "agent_id": { "value": agent_id }
            }
        }))
        .await;
    for task in [&a, &b] {
        let killed = sched.await_state(task, "TASK_KILLED").await;
        assert_eq!(id_value(&killed["executor_id"]), executor_id, "{killed}");
    }
}
