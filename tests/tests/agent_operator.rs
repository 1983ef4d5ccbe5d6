//! The agent's operator API v1 (`POST /api/v1` on the agent) in JSON and protobuf, its
//! status codes, and the monitoring endpoints (`/monitor/statistics`, `/containers`,
//! `/metrics/snapshot`) measuring a real task.

use mesos_tests::proto::mesos::v1 as pb;
use mesos_tests::*;
use prost::Message;
use serde_json::{json, Value};

async fn call(cluster: &Cluster, body: Value) -> http::Response {
    http::operator_call(&cluster.agent_url(0, "/api/v1"), &body).await
}

/// A call with no argument, expecting 200 and a Response of its type; returns the
/// response's field for it.
async fn get(cluster: &Cluster, kind: &str) -> Value {
    http::operator_get(&cluster.agent_url(0, "/api/v1"), kind).await
}

fn ids(list: &Value, pointer: &str) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.pointer(pointer)?.as_str().map(str::to_string))
        .collect()
}

/// A framework with one running task on agent 0; returns (scheduler, agent id, task id).
async fn running_task(cluster: &Cluster, command: &str) -> (Scheduler, String, String) {
    let mut sched = cluster.subscribe("agent-operator-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("op");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, command, 0.1, 32.0)],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    (sched, agent_id, task_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_calls_describe_the_agent_and_its_task() {
    let cluster = Cluster::start().await;
    let (mut sched, agent_id, task_id) = running_task(&cluster, "sleep 60").await;

    assert_eq!(get(&cluster, "GET_HEALTH").await["healthy"], true);
    let flags = get(&cluster, "GET_FLAGS").await;
    assert!(
        ids(&flags["flags"], "/name").contains(&"work_dir".to_string()),
        "{flags}"
    );
    let version = get(&cluster, "GET_VERSION").await;
    assert!(
        version["version_info"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{version}"
    );
    let agent = get(&cluster, "GET_AGENT").await;
    assert_eq!(
        agent["agent_info"]["id"]["value"],
        agent_id.as_str(),
        "{agent}"
    );
    assert!(agent["agent_info"]["hostname"].is_string(), "{agent}");

    let metrics = get(&cluster, "GET_METRICS").await;
    let metric = |name: &str| {
        metrics["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == name)
            .and_then(|m| m["value"].as_f64())
    };
    assert_eq!(metric("slave/registered"), Some(1.0), "{metrics}");
    assert_eq!(metric("slave/tasks_running"), Some(1.0), "{metrics}");
    assert_eq!(metric("slave/frameworks_active"), Some(1.0), "{metrics}");
    assert!(
        (metric("slave/cpus_used").unwrap_or_default() - 0.1).abs() < 1e-9,
        "{metrics}"
    );
    assert!(
        metric("slave/mem_total").unwrap_or_default() > 0.0,
        "{metrics}"
    );

    let frameworks = get(&cluster, "GET_FRAMEWORKS").await;
    assert_eq!(
        ids(&frameworks["frameworks"], "/framework_info/id/value"),
        [sched.framework_id.clone()],
        "{frameworks}"
    );
    let executors = get(&cluster, "GET_EXECUTORS").await;
    assert_eq!(
        ids(&executors["executors"], "/executor_info/executor_id/value"),
        [task_id.as_str()],
        "{executors}"
    );
    let tasks = get(&cluster, "GET_TASKS").await;
    assert_eq!(
        ids(&tasks["launched_tasks"], "/task_id/value"),
        [task_id.as_str()],
        "{tasks}"
    );
    assert_eq!(
        tasks["launched_tasks"][0]["state"], "TASK_RUNNING",
        "{tasks}"
    );
    assert_eq!(
        tasks["launched_tasks"][0]["agent_id"]["value"],
        agent_id.as_str()
    );

    let state = get(&cluster, "GET_STATE").await;
    assert_eq!(state["get_tasks"], tasks, "{state}");
    assert_eq!(state["get_executors"], executors, "{state}");
    assert_eq!(state["get_frameworks"], frameworks, "{state}");

    let containers = get(&cluster, "GET_CONTAINERS").await;
    let list = containers["containers"].as_array().expect("containers");
    assert_eq!(list.len(), 1, "{containers}");
    assert_eq!(list[0]["executor_id"]["value"], task_id.as_str());
    assert_eq!(
        list[0]["framework_id"]["value"],
        sched.framework_id.as_str()
    );
    assert!(list[0]["container_id"]["value"].is_string(), "{containers}");
    assert!(
        list[0]["resource_statistics"]["timestamp"].is_number(),
        "{containers}"
    );

    // Once killed and acknowledged, the task is completed and its executor too.
    sched.kill(&task_id, &agent_id).await;
    sched.await_state(&task_id, "TASK_KILLED").await;
    let tasks = eventually(
        "the killed task among completed_tasks",
        TIMEOUT,
        async || {
            let tasks = get(&cluster, "GET_TASKS").await;
            ids(&tasks["completed_tasks"], "/task_id/value")
                .contains(&task_id)
                .then_some(tasks)
        },
    )
    .await;
    assert!(
        tasks["launched_tasks"]
            .as_array()
            .is_none_or(|l| l.is_empty()),
        "{tasks}"
    );
    let executors = get(&cluster, "GET_EXECUTORS").await;
    assert_eq!(
        ids(
            &executors["completed_executors"],
            "/executor_info/executor_id/value"
        ),
        [task_id.as_str()],
        "{executors}"
    );
    assert!(get(&cluster, "GET_CONTAINERS").await["containers"]
        .as_array()
        .is_none_or(|l| l.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_follow_the_masters_rules() {
    let cluster = Cluster::start().await;
    let url = cluster.agent_url(0, "/api/v1");

    let response = http::get(&url).await;
    assert_eq!(response.status, 405, "{}", response.body);
    assert_eq!(response.header("allow"), Some("POST"));

    let plain = http::post(
        &url,
        r#"{"type":"GET_HEALTH"}"#,
        &[("Content-Type", "text/plain")],
    )
    .await;
    assert_eq!(plain.status, 415, "{}", plain.body);
    assert_eq!(plain.json()["code"], 415, "{}", plain.body);

    let html = http::post(
        &url,
        r#"{"type":"GET_HEALTH"}"#,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "text/html"),
        ],
    )
    .await;
    assert_eq!(html.status, 406, "{}", html.body);

    for (body, needle) in [
        ("{not json".to_string(), "Failed to parse"),
        (json!({}).to_string(), "'type'"),
        (
            json!({"type": "NO_SUCH_CALL"}).to_string(),
            "Failed to parse",
        ),
        (json!({"type": "READ_FILE"}).to_string(), "'read_file'"),
    ] {
        let response =
            http::post(&url, body.clone(), &[("Content-Type", "application/json")]).await;
        assert_eq!(response.status, 400, "{body}: {}", response.body);
        let error = response.json();
        assert_eq!(error["code"], 400, "{error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{body}: {error}"
        );
    }

    for body in [
        json!({"type": "PRUNE_IMAGES", "prune_images": {}}),
        json!({"type": "SET_LOGGING_LEVEL",
               "set_logging_level": {"level": 1, "duration": {"nanoseconds": 1000000000}}}),
        json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "c"}}}),
    ] {
        let response = call(&cluster, body.clone()).await;
        assert_eq!(response.status, 501, "{body}: {}", response.body);
        assert!(response.json()["message"].is_string(), "{}", response.body);
    }

    // `slave(1)` is the agent's process id: the same endpoint under its prefix.
    let prefixed = http::post(
        &cluster.agent_url(0, "/slave(1)/api/v1"),
        r#"{"type":"GET_HEALTH"}"#,
        &[("Content-Type", "application/json")],
    )
    .await;
    assert_eq!(prefixed.status, 200, "{}", prefixed.body);
    assert_eq!(prefixed.json()["get_health"]["healthy"], true);
}

async fn call_protobuf(cluster: &Cluster, call: &pb::agent::Call) -> (u16, Vec<u8>) {
    let response = http::client()
        .post(cluster.agent_url(0, "/api/v1"))
        .header("Content-Type", "application/x-protobuf")
        .header("Accept", "application/x-protobuf")
        .body(call.encode_to_vec())
        .send()
        .await
        .expect("protobuf call");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body").to_vec();
    (status, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_calls_and_answers() {
    let cluster = Cluster::start().await;
    let (sched, _agent_id, task_id) = running_task(&cluster, "sleep 60").await;
    use pb::agent::{call::Type as C, response::Type as R};

    let ask = |kind: C| pb::agent::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    let (status, bytes) = call_protobuf(&cluster, &ask(C::GetHealth)).await;
    assert_eq!(status, 200);
    let response = pb::agent::Response::decode(bytes.as_slice()).expect("Response");
    assert_eq!(response.r#type, Some(R::GetHealth as i32));
    assert!(response.get_health.expect("get_health").healthy);

    let (status, bytes) = call_protobuf(&cluster, &ask(C::GetState)).await;
    assert_eq!(status, 200);
    let state = pb::agent::Response::decode(bytes.as_slice())
        .expect("Response")
        .get_state
        .expect("get_state");
    let tasks = state.get_tasks.expect("get_tasks");
    assert_eq!(tasks.launched_tasks.len(), 1);
    assert_eq!(tasks.launched_tasks[0].task_id.value, task_id);
    let frameworks = state.get_frameworks.expect("get_frameworks");
    assert_eq!(
        frameworks.frameworks[0]
            .framework_info
            .id
            .as_ref()
            .map(|i| i.value.as_str()),
        Some(sched.framework_id.as_str())
    );

    // A protobuf body without its required part, and one that does not decode: 400.
    let (status, _) = call_protobuf(&cluster, &ask(C::ListFiles)).await;
    assert_eq!(status, 400);
    let raw = http::post(
        &cluster.agent_url(0, "/api/v1"),
        vec![0xff, 0xff, 0xff],
        &[("Content-Type", "application/x-protobuf")],
    )
    .await;
    assert_eq!(raw.status, 400, "{}", raw.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_read_files_stay_in_the_sandbox() {
    let cluster = Cluster::start().await;
    let (_sched, _agent_id, task_id) =
        running_task(&cluster, "echo hello-operator; sleep 60").await;
    let sandbox = cluster.sandbox_dir(0, &task_id).await;
    cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", "hello-operator")
        .await;

    let listed = get_with(
        &cluster,
        json!({"type": "LIST_FILES", "list_files": {"path": sandbox}}),
    )
    .await["list_files"]
        .clone();
    let paths = ids(&listed["file_infos"], "/path");
    assert!(paths.contains(&format!("{sandbox}/stdout")), "{listed}");

    let read = get_with(
        &cluster,
        json!({"type": "READ_FILE",
               "read_file": {"path": format!("{sandbox}/stdout"), "offset": 0}}),
    )
    .await["read_file"]
        .clone();
    let data = base64_decode(read["data"].as_str().expect("data"));
    assert!(
        String::from_utf8_lossy(&data).contains("hello-operator"),
        "{read}"
    );
    assert_eq!(read["size"].as_u64(), Some(data.len() as u64), "{read}");

    let outside = call(
        &cluster,
        json!({"type": "READ_FILE", "read_file": {"path": "/etc/passwd", "offset": 0}}),
    )
    .await;
    assert_eq!(outside.status, 404, "{}", outside.body);
}

async fn get_with(cluster: &Cluster, body: Value) -> Value {
    let response = call(cluster, body.clone()).await;
    assert_eq!(response.status, 200, "{body}: {}", response.body);
    response.json()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_statistics_measure_the_tasks_processes() {
    let cluster = Cluster::start().await;
    // Busy for a while in a child of the task's shell, then idle.
    let (sched, _agent_id, task_id) = running_task(
        &cluster,
        "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'; sleep 60",
    )
    .await;

    let entry = eventually("CPU time in /monitor/statistics", TIMEOUT, async || {
        let list = http::get_json(&cluster.agent_url(0, "/monitor/statistics")).await;
        let entry = list.as_array()?.first()?.clone();
        (entry["statistics"]["cpus_user_time_secs"].as_f64()? > 0.0).then_some(entry)
    })
    .await;
    assert_eq!(entry["executor_id"], task_id.as_str(), "{entry}");
    assert_eq!(entry["source"], task_id.as_str(), "{entry}");
    assert_eq!(
        entry["framework_id"],
        sched.framework_id.as_str(),
        "{entry}"
    );
    assert!(
        entry["executor_name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Command Executor")),
        "{entry}"
    );
    let statistics = &entry["statistics"];
    assert!(
        statistics["timestamp"].as_f64().unwrap_or_default() > 1e9,
        "{entry}"
    );
    assert!(statistics["cpus_system_time_secs"].is_number(), "{entry}");
    assert_eq!(statistics["cpus_limit"].as_f64(), Some(0.1), "{entry}");
    assert_eq!(
        statistics["mem_limit_bytes"].as_u64(),
        Some(32 * 1024 * 1024),
        "{entry}"
    );
    assert!(
        statistics["mem_rss_bytes"].as_u64().unwrap_or_default() > 0,
        "{entry}"
    );

    let alias = http::get_json(&cluster.agent_url(0, "/monitor/statistics.json")).await;
    assert_eq!(alias.as_array().map(Vec::len), Some(1), "{alias}");

    let containers = http::get_json(&cluster.agent_url(0, "/containers")).await;
    let container = &containers[0];
    assert_eq!(container["executor_id"], task_id.as_str(), "{containers}");
    let container_id = container["container_id"].as_str().expect("container_id");
    assert_eq!(container["status"]["container_id"]["value"], container_id);
    assert!(
        container["status"]["executor_pid"].is_number(),
        "{containers}"
    );
    assert!(
        container["statistics"]["mem_rss_bytes"].is_number(),
        "{containers}"
    );
    let state = cluster.agent_state(0).await;
    assert_eq!(
        state["frameworks"][0]["executors"][0]["container"], container_id,
        "{state}"
    );

    let metrics = http::get_json(&cluster.agent_url(0, "/metrics/snapshot")).await;
    assert_eq!(metrics["slave/tasks_running"], 1.0, "{metrics}");
    assert_eq!(metrics["slave/registered"], 1.0, "{metrics}");
}
