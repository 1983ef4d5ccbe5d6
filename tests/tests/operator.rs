//! The master's operator API v1 (`POST /api/v1`): every call in JSON, a few in protobuf
//! (types generated from the .proto files only), the SUBSCRIBE event stream, and the
//! actions on agents and roles as frameworks see them.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use mesos_tests::proto::mesos::v1 as pb;
use mesos_tests::recordio::RecordIoDecoder;
use mesos_tests::*;
use prost::Message;
use serde_json::{json, Value};
use tokio::sync::mpsc;

// ----------------------------------------------------------------------------- client

fn api_url(cluster: &Cluster) -> String {
    cluster.master_url("/api/v1")
}

/// POSTs a JSON call; returns status and body.
async fn call(cluster: &Cluster, body: Value) -> http::Response {
    http::operator_call(&api_url(cluster), &body).await
}

/// A call with no argument, expecting 200 and a Response of the same type; returns the
/// response's body field (`get_state` for GET_STATE...).
async fn get(cluster: &Cluster, kind: &str) -> Value {
    http::operator_get(&api_url(cluster), kind).await
}

/// A call expected to answer an empty 200.
async fn act(cluster: &Cluster, body: Value) {
    http::operator_act(&api_url(cluster), &body).await
}

/// POSTs a protobuf call asking for a protobuf answer.
async fn call_protobuf(cluster: &Cluster, body: &pb::master::Call) -> (u16, Vec<u8>) {
    let response = http::client()
        .post(api_url(cluster))
        .header("Content-Type", "application/x-protobuf")
        .header("Accept", "application/x-protobuf")
        .body(body.encode_to_vec())
        .send()
        .await
        .expect("protobuf call");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = response.bytes().await.expect("body").to_vec();
    if status == 200 && !bytes.is_empty() {
        assert_eq!(content_type, "application/x-protobuf");
    }
    (status, bytes)
}

fn proto_call(kind: pb::master::call::Type) -> pb::master::Call {
    pb::master::Call {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

fn agent_entry<'a>(agents: &'a Value, agent_id: &str) -> Option<&'a Value> {
    agents["agents"]
        .as_array()?
        .iter()
        .find(|a| a["agent_info"]["id"]["value"] == agent_id)
}

fn agent_call(kind: &str, agent_id: &str) -> Value {
    let mut body = json!({ "type": kind });
    body[kind.to_ascii_lowercase()] = json!({ "agent_id": { "value": agent_id } });
    body
}

/// A framework running one long task on agent 0, with the rest of the agent declined for
/// an hour; returns the scheduler and the task id.
async fn running_task(cluster: &Cluster, framework_info: Value) -> (Scheduler, String) {
    let mut sched = cluster.subscribe_with(framework_info).await;
    let offer = sched.next_offer().await;
    let task_id = unique_id("op-task");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "sleep 1000",
                0.1,
                32.0,
            )],
        )
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;
    // Park what the task left so no offer is outstanding; REVIVE brings it back.
    let leftover = sched.next_offer().await;
    sched.decline(offer_id(&leftover), 3600.0).await;
    (sched, task_id)
}

// ----------------------------------------------------------------------- event stream

/// The SUBSCRIBE stream of the operator API, one decoded record at a time.
struct EventStream {
    status: u16,
    content_type: String,
    rx: mpsc::UnboundedReceiver<Result<Vec<u8>, String>>,
    queue: VecDeque<Value>,
    seen: Vec<String>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl EventStream {
    async fn open(cluster: &Cluster, accept: &str) -> EventStream {
        let response = http::client()
            .post(api_url(cluster))
            .header("Content-Type", "application/json")
            .header("Accept", accept)
            .body(json!({ "type": "SUBSCRIBE" }).to_string())
            .send()
            .await
            .expect("SUBSCRIBE");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut body = response.bytes_stream();
            let mut decoder = RecordIoDecoder::new();
            while let Some(chunk) = body.next().await {
                let records = match chunk {
                    Ok(chunk) => decoder.feed(&chunk),
                    Err(e) => Err(e.to_string()),
                };
                match records {
                    Ok(records) => {
                        for record in records {
                            if tx.send(Ok(record)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            let _ = tx.send(Err("stream ended".to_string()));
        });
        EventStream {
            status,
            content_type,
            rx,
            queue: VecDeque::new(),
            seen: Vec::new(),
            reader,
        }
    }

    async fn next_record(&mut self, timeout: Duration) -> Vec<u8> {
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Ok(Some(Ok(record))) => record,
            Ok(Some(Err(why))) => panic!("operator stream failed: {why}; seen {:?}", self.seen),
            Ok(None) => panic!("operator stream reader stopped; seen {:?}", self.seen),
            Err(_) => panic!("no operator event within {timeout:?}; seen {:?}", self.seen),
        }
    }

    /// The first JSON event (queued or new) matching `pred`; others stay queued.
    async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.queue.iter().position(&pred) {
            return self.queue.remove(i).expect("indexed");
        }
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                panic!("timed out waiting for {what}; seen {:?}", self.seen);
            }
            let record = self.next_record(left).await;
            let event: Value = serde_json::from_slice(&record).unwrap_or_else(|e| {
                panic!(
                    "operator event is not JSON ({e}): {}",
                    String::from_utf8_lossy(&record)
                )
            });
            self.seen.push(event_type(&event).to_string());
            if pred(&event) {
                return event;
            }
            self.queue.push_back(event);
        }
    }

    async fn wait_for_type(&mut self, kind: &str) -> Value {
        self.wait_for(&format!("a {kind} event"), |e| event_type(e) == kind)
            .await
    }
}

// ------------------------------------------------------------------------------ calls

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_in_mesos_shapes() {
    let cluster = Cluster::start().await;
    let agent_id = cluster.agent_id(0).await;
    let (sched, task_id) = running_task(&cluster, framework_info("op-queries")).await;

    assert_eq!(
        get(&cluster, "GET_HEALTH").await,
        json!({ "healthy": true })
    );

    let flags = get(&cluster, "GET_FLAGS").await;
    let port = flags["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .find(|f| f["name"] == "port")
        .unwrap_or_else(|| panic!("no port flag: {flags}"));
    assert_eq!(port["value"], cluster.master_port.to_string());

    let version = get(&cluster, "GET_VERSION").await;
    assert_eq!(version["version_info"]["version"], "1.11.0", "{version}");

    let metrics = get(&cluster, "GET_METRICS").await;
    let metric = |name: &str| {
        metrics["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["value"].as_f64())
            .unwrap_or_else(|| panic!("no metric {name}: {metrics}"))
    };
    assert_eq!(metric("master/tasks_running"), 1.0);
    assert_eq!(metric("master/frameworks_active"), 1.0);
    assert_eq!(metric("master/elected"), 1.0);
    let with_timeout = call(
        &cluster,
        json!({ "type": "GET_METRICS", "get_metrics": { "timeout": { "nanoseconds": 5_000_000_000u64 } } }),
    )
    .await;
    assert_eq!(with_timeout.status, 200, "{}", with_timeout.body);

    assert_eq!(
        get(&cluster, "GET_LOGGING_LEVEL").await,
        json!({ "level": 0 })
    );

    // GET_STATE holds the four lists, each as its own call answers it.
    let state = get(&cluster, "GET_STATE").await;
    let agents = &state["get_agents"];
    let agent = agent_entry(agents, &agent_id).unwrap_or_else(|| panic!("{state}"));
    assert_eq!(agent["active"], true, "{agent}");
    assert_eq!(agent["deactivated"], false, "{agent}");
    assert!(agent["version"].is_string(), "{agent}");
    assert!(
        agent["pid"]
            .as_str()
            .is_some_and(|p| p.starts_with("slave(1)@127.0.0.1:")),
        "{agent}"
    );
    assert!(agent["registered_time"]["nanoseconds"].as_i64().unwrap() > 0);
    assert_eq!(scalar_of(&agent["total_resources"], "cpus"), 2.0, "{agent}");
    assert_eq!(
        scalar_of(&agent["allocated_resources"], "cpus"),
        0.1,
        "{agent}"
    );
    assert!(agent["agent_info"]["hostname"].is_string(), "{agent}");

    let frameworks = &state["get_frameworks"]["frameworks"];
    assert_eq!(frameworks.as_array().map(Vec::len), Some(1), "{state}");
    let framework = &frameworks[0];
    assert_eq!(
        framework["framework_info"]["id"]["value"],
        sched.framework_id.as_str()
    );
    assert_eq!(framework["framework_info"]["name"], "op-queries");
    assert_eq!(framework["active"], true);
    assert_eq!(framework["connected"], true);
    assert_eq!(framework["recovered"], false);
    assert_eq!(scalar_of(&framework["allocated_resources"], "cpus"), 0.1);

    let tasks = &state["get_tasks"]["tasks"];
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{state}");
    assert_eq!(tasks[0]["task_id"]["value"], task_id.as_str());
    assert_eq!(tasks[0]["state"], "TASK_RUNNING");
    assert_eq!(tasks[0]["agent_id"]["value"], agent_id.as_str());
    assert!(state["get_executors"].is_object(), "{state}");

    assert_eq!(get(&cluster, "GET_AGENTS").await, state["get_agents"]);
    assert_eq!(
        get(&cluster, "GET_FRAMEWORKS").await["frameworks"][0]["framework_info"],
        framework["framework_info"]
    );
    assert_eq!(
        get(&cluster, "GET_TASKS").await["tasks"][0]["task_id"]["value"],
        task_id.as_str()
    );
    assert!(get(&cluster, "GET_EXECUTORS").await.is_object());

    let roles = get(&cluster, "GET_ROLES").await;
    let star = roles["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["name"] == "*")
        .unwrap_or_else(|| panic!("no '*' role: {roles}"));
    assert_eq!(star["weight"], 1.0);
    assert_eq!(star["frameworks"][0]["value"], sched.framework_id.as_str());

    let master = get(&cluster, "GET_MASTER").await;
    assert_eq!(master["master_info"]["id"], sched.master_info()["id"]);
    assert!(master["start_time"].as_f64().unwrap() > 0.0, "{master}");
    assert!(master["elected_time"].as_f64().unwrap() > 0.0, "{master}");

    assert_eq!(get(&cluster, "GET_OPERATIONS").await, json!({}));
    assert_eq!(get(&cluster, "GET_WEIGHTS").await, json!({}));
    assert_eq!(get(&cluster, "GET_QUOTA").await, json!({ "status": {} }));
    assert_eq!(
        get(&cluster, "GET_MAINTENANCE_STATUS").await,
        json!({ "status": {} })
    );
    assert_eq!(
        get(&cluster, "GET_MAINTENANCE_SCHEDULE").await,
        json!({ "schedule": {} })
    );

    // What this master does not do is said plainly.
    for body in [
        json!({ "type": "SET_LOGGING_LEVEL", "set_logging_level": { "level": 1, "duration": { "nanoseconds": 1 } } }),
        json!({ "type": "RESERVE_RESOURCES", "reserve_resources": { "agent_id": { "value": agent_id } } }),
        json!({ "type": "START_MAINTENANCE", "start_maintenance": {} }),
    ] {
        let response = call(&cluster, body.clone()).await;
        assert_eq!(response.status, 501, "{body}: {}", response.body);
        assert_readable(501, &response.body);
    }
    let files = call(
        &cluster,
        json!({ "type": "LIST_FILES", "list_files": { "path": "/master/log" } }),
    )
    .await;
    assert_eq!(files.status, 404, "{}", files.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_calls_and_answers() {
    use pb::master::{call, response};
    let cluster = Cluster::start().await;
    let agent_id = cluster.agent_id(0).await;

    let (status, body) = call_protobuf(&cluster, &proto_call(call::Type::GetHealth)).await;
    assert_eq!(status, 200);
    let answer = pb::master::Response::decode(body.as_slice()).expect("Response");
    assert_eq!(answer.r#type(), response::Type::GetHealth);
    assert_eq!(answer.get_health.map(|h| h.healthy), Some(true));

    let (status, body) = call_protobuf(&cluster, &proto_call(call::Type::GetState)).await;
    assert_eq!(status, 200);
    let answer = pb::master::Response::decode(body.as_slice()).expect("Response");
    assert_eq!(answer.r#type(), response::Type::GetState);
    let agents = answer.get_state.unwrap().get_agents.unwrap().agents;
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].agent_info.id.as_ref().unwrap().value, agent_id);
    assert!(agents[0].active);

    let mut update = proto_call(call::Type::UpdateWeights);
    update.update_weights = Some(call::UpdateWeights {
        weight_infos: vec![pb::WeightInfo {
            weight: 3.0,
            role: Some("proto-role".to_string()),
        }],
    });
    let (status, body) = call_protobuf(&cluster, &update).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(body.is_empty());

    let (status, body) = call_protobuf(&cluster, &proto_call(call::Type::GetWeights)).await;
    assert_eq!(status, 200);
    let weights = pb::master::Response::decode(body.as_slice())
        .unwrap()
        .get_weights
        .unwrap()
        .weight_infos;
    assert_eq!(
        weights,
        vec![pb::WeightInfo {
            weight: 3.0,
            role: Some("proto-role".to_string())
        }]
    );

    // Protobuf SUBSCRIBE: the first record is SUBSCRIBED with the whole state.
    let mut stream = EventStream::open(&cluster, "application/x-protobuf").await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.content_type, "application/x-protobuf");
    let record = stream.next_record(TIMEOUT).await;
    let event = pb::master::Event::decode(record.as_slice()).expect("Event");
    assert_eq!(event.r#type(), pb::master::event::Type::Subscribed);
    let subscribed = event.subscribed.unwrap();
    assert_eq!(subscribed.heartbeat_interval_seconds, Some(15.0));
    let agents = subscribed.get_state.unwrap().get_agents.unwrap().agents;
    assert_eq!(agents[0].agent_info.id.as_ref().unwrap().value, agent_id);

    // Garbage in protobuf is a 400 with a message.
    let response = http::post(
        &api_url(&cluster),
        vec![0xff_u8, 0xff, 0xff],
        &[("Content-Type", "application/x-protobuf")],
    )
    .await;
    assert_eq!(response.status, 400);
    assert_readable(400, &response.body);
}

// ------------------------------------------------------------------------- SUBSCRIBE

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_agents_frameworks_and_tasks() {
    let mut cluster = Cluster::start().await;
    let mut stream = EventStream::open(&cluster, "application/json").await;
    assert_eq!(stream.status, 200);
    assert!(stream.content_type.starts_with("application/json"));
    let subscribed = stream.wait_for_type("SUBSCRIBED").await;
    assert_eq!(subscribed["subscribed"]["heartbeat_interval_seconds"], 15.0);
    let first_agent = cluster.agent_id(0).await;
    assert!(
        agent_entry(
            &subscribed["subscribed"]["get_state"]["get_agents"],
            &first_agent
        )
        .is_some(),
        "{subscribed}"
    );

    // A framework arrives and launches a task.
    let (sched, task_id) = running_task(&cluster, framework_info("op-stream")).await;
    let added = stream.wait_for_type("FRAMEWORK_ADDED").await;
    let framework = &added["framework_added"]["framework"];
    assert_eq!(
        framework["framework_info"]["id"]["value"],
        sched.framework_id.as_str()
    );
    assert_eq!(framework["framework_info"]["name"], "op-stream");
    assert!(
        framework.get("offers").is_none(),
        "events carry no offers: {added}"
    );

    let task_added = stream.wait_for_type("TASK_ADDED").await;
    let task = &task_added["task_added"]["task"];
    assert_eq!(task["task_id"]["value"], task_id.as_str());
    assert_eq!(task["state"], "TASK_STAGING");
    assert_eq!(task["framework_id"]["value"], sched.framework_id.as_str());

    let running = stream
        .wait_for("TASK_UPDATED to TASK_RUNNING", |e| {
            event_type(e) == "TASK_UPDATED" && e["task_updated"]["state"] == "TASK_RUNNING"
        })
        .await;
    let updated = &running["task_updated"];
    assert_eq!(
        updated["framework_id"]["value"],
        sched.framework_id.as_str()
    );
    assert_eq!(updated["status"]["task_id"]["value"], task_id.as_str());

    // Another agent joins.
    let index = cluster.add_agent().await;
    let second_agent = cluster.agent_id(index).await;
    let agent_added = stream
        .wait_for("AGENT_ADDED of the new agent", |e| {
            event_type(e) == "AGENT_ADDED"
                && e["agent_added"]["agent"]["agent_info"]["id"]["value"] == second_agent.as_str()
        })
        .await;
    assert_eq!(agent_added["agent_added"]["agent"]["active"], true);

    // The operator tears the framework down.
    act(
        &cluster,
        json!({ "type": "TEARDOWN", "teardown": { "framework_id": { "value": sched.framework_id } } }),
    )
    .await;
    let removed = stream.wait_for_type("FRAMEWORK_REMOVED").await;
    assert_eq!(
        removed["framework_removed"]["framework_info"]["id"]["value"],
        sched.framework_id.as_str()
    );
    let frameworks = get(&cluster, "GET_FRAMEWORKS").await;
    assert_eq!(
        frameworks["completed_frameworks"][0]["framework_info"]["id"]["value"],
        sched.framework_id.as_str(),
        "{frameworks}"
    );
    let unknown = call(
        &cluster,
        json!({ "type": "TEARDOWN", "teardown": { "framework_id": { "value": "no-such-framework" } } }),
    )
    .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);

    // The agent is marked gone: AGENT_REMOVED.
    act(&cluster, agent_call("MARK_AGENT_GONE", &second_agent)).await;
    let agent_removed = stream.wait_for_type("AGENT_REMOVED").await;
    assert_eq!(
        agent_removed["agent_removed"]["agent_id"]["value"],
        second_agent.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_get_heartbeats() {
    let cluster = Cluster::master_only().await;
    let mut stream = EventStream::open(&cluster, "application/json").await;
    stream.wait_for_type("SUBSCRIBED").await;
    let started = tokio::time::Instant::now();
    stream.wait_for_type("HEARTBEAT").await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(13) && waited <= Duration::from_secs(20),
        "first HEARTBEAT after {waited:?}, expected about 15 s"
    );
}

// ------------------------------------------------------------------------ agent actions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_agent_gone_ends_its_tasks_and_stops_it() {
    let mut cluster = Cluster::start().await;
    let agent_id = cluster.agent_id(0).await;
    let (mut sched, task_id) =
        running_task(&cluster, partition_aware_framework_info("op-gone")).await;

    act(&cluster, agent_call("MARK_AGENT_GONE", &agent_id)).await;
    let status = sched
        .wait_for_update(&task_id, "TASK_GONE_BY_OPERATOR", TIMEOUT, |s| {
            state_of(s) == "TASK_GONE_BY_OPERATOR"
        })
        .await;
    assert_eq!(
        status["reason"], "REASON_AGENT_REMOVED_BY_OPERATOR",
        "{status}"
    );

    // The agent is told to stop, and does.
    let exited = cluster.agents[0].proc.wait_exit(TIMEOUT).await;
    assert!(
        exited.is_some(),
        "the agent kept running after being marked gone\n{}",
        cluster.agents[0].proc.log_tail(30)
    );
    let agents = get(&cluster, "GET_AGENTS").await;
    assert!(agent_entry(&agents, &agent_id).is_none(), "{agents}");
    let tasks = get(&cluster, "GET_TASKS").await;
    assert_eq!(
        tasks["completed_tasks"][0]["state"], "TASK_GONE_BY_OPERATOR",
        "{tasks}"
    );

    // Marking it again is fine; an unknown agent is not found.
    act(&cluster, agent_call("MARK_AGENT_GONE", &agent_id)).await;
    let unknown = call(&cluster, agent_call("MARK_AGENT_GONE", "no-such-agent")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_stops_offers_and_reactivate_brings_them_back() {
    let cluster = Cluster::start().await;
    let agent_id = cluster.agent_id(0).await;
    let mut sched = cluster.subscribe("op-deactivate").await;
    let offer = sched.next_offer().await;

    act(&cluster, agent_call("DEACTIVATE_AGENT", &agent_id)).await;
    let rescind = sched.wait_for_type("RESCIND").await;
    assert_eq!(rescind["rescind"]["offer_id"]["value"], offer_id(&offer));
    sched
        .expect_none(
            "an offer from a deactivated agent",
            Duration::from_secs(3),
            |e| event_type(e) == "OFFERS",
        )
        .await;
    let agents = get(&cluster, "GET_AGENTS").await;
    let agent = agent_entry(&agents, &agent_id).expect("listed");
    assert_eq!(agent["deactivated"], true, "{agent}");
    assert_eq!(agent["active"], true, "still connected: {agent}");

    act(&cluster, agent_call("REACTIVATE_AGENT", &agent_id)).await;
    let again = sched.next_offer().await;
    assert_eq!(offer_agent_id(&again), agent_id);
    let agents = get(&cluster, "GET_AGENTS").await;
    assert_eq!(
        agent_entry(&agents, &agent_id).unwrap()["deactivated"],
        false
    );

    let unknown = call(&cluster, agent_call("DEACTIVATE_AGENT", "no-such-agent")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_kills_tasks_then_reports_the_agent_drained() {
    let cluster = Cluster::start().await;
    let agent_id = cluster.agent_id(0).await;
    let (mut sched, task_id) = running_task(&cluster, framework_info("op-drain")).await;

    act(
        &cluster,
        json!({
            "type": "DRAIN_AGENT",
            "drain_agent": {
                "agent_id": { "value": agent_id },
                "max_grace_period": { "seconds": 1 }
            }
        }),
    )
    .await;
    let agents = get(&cluster, "GET_AGENTS").await;
    let agent = agent_entry(&agents, &agent_id).expect("listed");
    assert_eq!(agent["deactivated"], true, "{agent}");
    assert_eq!(
        agent["drain_info"]["config"]["max_grace_period"]["nanoseconds"], 1_000_000_000u64,
        "{agent}"
    );

    // await_state acknowledges, which lets the drain complete.
    sched.await_state(&task_id, "TASK_KILLED").await;
    let drained = eventually("the agent DRAINED", TIMEOUT, async || {
        let agents = get(&cluster, "GET_AGENTS").await;
        let agent = agent_entry(&agents, &agent_id)?.clone();
        (agent["drain_info"]["state"] == "DRAINED").then_some(agent)
    })
    .await;
    assert_eq!(
        drained["drain_info"]["config"]["mark_gone"], false,
        "{drained}"
    );
    sched
        .expect_none(
            "an offer from a drained agent",
            Duration::from_secs(2),
            |e| event_type(e) == "OFFERS",
        )
        .await;

    act(&cluster, agent_call("REACTIVATE_AGENT", &agent_id)).await;
    sched.revive().await;
    let again = sched.next_offer().await;
    assert_eq!(offer_agent_id(&again), agent_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_with_mark_gone_removes_the_agent() {
    let mut cluster = Cluster::start().await;
    let agent_id = cluster.agent_id(0).await;
    let (mut sched, task_id) =
        running_task(&cluster, partition_aware_framework_info("op-drain-gone")).await;

    act(
        &cluster,
        json!({
            "type": "DRAIN_AGENT",
            "drain_agent": { "agent_id": { "value": agent_id }, "mark_gone": true }
        }),
    )
    .await;
    sched.await_state(&task_id, "TASK_KILLED").await;
    eventually("the drained agent gone", TIMEOUT, async || {
        let agents = get(&cluster, "GET_AGENTS").await;
        agent_entry(&agents, &agent_id).is_none().then_some(())
    })
    .await;
    assert!(cluster.agents[0].proc.wait_exit(TIMEOUT).await.is_some());
}

// ------------------------------------------------------------------------- roles

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_show_in_get_weights_get_roles_and_master_roles() {
    let cluster = Cluster::start().await;
    let mut info = framework_info("op-weights");
    info["role"] = json!("analytics");
    let _sched = cluster.subscribe_with(info).await;

    act(
        &cluster,
        json!({
            "type": "UPDATE_WEIGHTS",
            "update_weights": { "weight_infos": [ { "role": "analytics", "weight": 2.5 } ] }
        }),
    )
    .await;
    assert_eq!(
        get(&cluster, "GET_WEIGHTS").await,
        json!({ "weight_infos": [ { "role": "analytics", "weight": 2.5 } ] })
    );
    let roles = get(&cluster, "GET_ROLES").await;
    let analytics = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "analytics")
        .unwrap_or_else(|| panic!("{roles}"));
    assert_eq!(analytics["weight"], 2.5);
    let legacy = http::get_json(&cluster.master_url("/master/roles")).await;
    let analytics = legacy["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "analytics")
        .unwrap_or_else(|| panic!("{legacy}"));
    assert_eq!(analytics["weight"], 2.5, "{legacy}");

    for bad in [
        json!([ { "role": "analytics", "weight": 0.0 } ]),
        json!([ { "role": "bad role", "weight": 1.0 } ]),
        json!([ { "weight": 1.0 } ]),
    ] {
        let response = call(
            &cluster,
            json!({ "type": "UPDATE_WEIGHTS", "update_weights": { "weight_infos": bad } }),
        )
        .await;
        assert_eq!(response.status, 400, "{bad}: {}", response.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_limits_what_a_role_is_offered() {
    let cluster = Cluster::start().await;
    act(
        &cluster,
        json!({
            "type": "UPDATE_QUOTA",
            "update_quota": {
                "quota_configs": [ {
                    "role": "capped",
                    "limits": { "cpus": { "value": 0.5 }, "mem": { "value": 256 } }
                } ]
            }
        }),
    )
    .await;
    let quota = get(&cluster, "GET_QUOTA").await;
    assert_eq!(
        quota["status"]["configs"],
        json!([ { "role": "capped", "limits": { "cpus": { "value": 0.5 }, "mem": { "value": 256.0 } } } ]),
        "{quota}"
    );

    let mut info = framework_info("op-quota");
    info["role"] = json!("capped");
    let mut sched = cluster.subscribe_with(info).await;
    let offer = sched.next_offer().await;
    assert_eq!(scalar_of(&offer["resources"], "cpus"), 0.5, "{offer}");
    assert_eq!(scalar_of(&offer["resources"], "mem"), 256.0, "{offer}");
    assert_eq!(offer["allocation_info"]["role"], "capped", "{offer}");

    // The role holds its whole limit now: a lower limit needs `force`.
    let lower = json!({
        "type": "UPDATE_QUOTA",
        "update_quota": {
            "quota_configs": [ { "role": "capped", "limits": { "cpus": { "value": 0.25 } } } ]
        }
    });
    let refused = call(&cluster, lower.clone()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let mut forced = lower;
    forced["update_quota"]["force"] = json!(true);
    act(&cluster, forced).await;
    let rescind = sched.wait_for_type("RESCIND").await;
    assert_eq!(rescind["rescind"]["offer_id"]["value"], offer_id(&offer));
    let smaller = sched.next_offer().await;
    assert_eq!(scalar_of(&smaller["resources"], "cpus"), 0.25, "{smaller}");

    // The default role cannot have a quota; removing the quota lifts the limit.
    let star = call(
        &cluster,
        json!({ "type": "UPDATE_QUOTA", "update_quota": { "quota_configs": [ { "role": "*", "limits": { "cpus": { "value": 1 } } } ] } }),
    )
    .await;
    assert_eq!(star.status, 400, "{}", star.body);
    act(
        &cluster,
        json!({ "type": "UPDATE_QUOTA", "update_quota": { "quota_configs": [ { "role": "capped" } ] } }),
    )
    .await;
    assert_eq!(get(&cluster, "GET_QUOTA").await, json!({ "status": {} }));
    // Without a limit, the rest of the agent is offered too.
    let rest = sched.next_offer().await;
    assert_eq!(scalar_of(&rest["resources"], "cpus"), 1.75, "{rest}");
}

// ------------------------------------------------------------------------- bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_the_right_status() {
    let cluster = Cluster::master_only().await;
    let url = api_url(&cluster);
    let json_headers = [("Content-Type", "application/json")];

    let cases: Vec<(&str, http::Response, u16)> = vec![
        (
            "unknown call type",
            http::post(&url, r#"{"type":"NO_SUCH_CALL"}"#, &json_headers).await,
            400,
        ),
        (
            "malformed JSON",
            http::post(&url, "{not json", &json_headers).await,
            400,
        ),
        (
            "JSON of the wrong shape",
            http::post(&url, r#"{"type":["GET_HEALTH"]}"#, &json_headers).await,
            400,
        ),
        (
            "missing call body",
            http::post(&url, r#"{"type":"DRAIN_AGENT"}"#, &json_headers).await,
            400,
        ),
        (
            "missing required field",
            http::post(
                &url,
                r#"{"type":"MARK_AGENT_GONE","mark_agent_gone":{}}"#,
                &json_headers,
            )
            .await,
            400,
        ),
        ("no type", http::post(&url, "{}", &json_headers).await, 400),
        ("GET", http::get(&url).await, 405),
        (
            "text/plain body",
            http::post(
                &url,
                r#"{"type":"GET_HEALTH"}"#,
                &[("Content-Type", "text/plain")],
            )
            .await,
            415,
        ),
        (
            "no Content-Type",
            http::post(&url, r#"{"type":"GET_HEALTH"}"#, &[]).await,
            415,
        ),
        (
            "unacceptable Accept",
            http::post(
                &url,
                r#"{"type":"GET_HEALTH"}"#,
                &[
                    ("Content-Type", "application/json"),
                    ("Accept", "text/html"),
                ],
            )
            .await,
            406,
        ),
    ];
    for (what, response, expected) in cases {
        assert_eq!(response.status, expected, "{what}: {}", response.body);
        assert_readable(response.status, &response.body);
    }
    let get = http::get(&url).await;
    assert_eq!(get.header("allow"), Some("POST"));

    // A JSON request may ask for a protobuf answer.
    let response = http::client()
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/x-protobuf")
        .body(r#"{"type":"GET_HEALTH"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer = pb::master::Response::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.get_health.map(|h| h.healthy), Some(true));
}
