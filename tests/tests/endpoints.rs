//! The master's and agent's read-only HTTP endpoints.

use std::collections::BTreeSet;

use mesos_tests::http;
use mesos_tests::*;
use serde_json::Value;

const STATE_KEYS: &[&str] = &[
    "version",
    "git_sha",
    "build_date",
    "start_time",
    "elected_time",
    "id",
    "pid",
    "hostname",
    "activated_slaves",
    "deactivated_slaves",
    "unreachable_slaves",
    "leader",
    "leader_info",
    "cluster",
    "log_dir",
    "flags",
    "slaves",
    "frameworks",
    "completed_frameworks",
    "orphan_tasks",
    "unregistered_frameworks",
];

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_endpoints_share_one_shape() {
    let cluster = Cluster::start().await;
    let sched = cluster.subscribe("state-test").await;
    let master_id = sched.master_info()["id"].as_str().unwrap_or("").to_string();

    let state = http::get_json(&cluster.master_url("/master/state")).await;
    for key in STATE_KEYS {
        assert!(
            state.get(*key).is_some(),
            "/master/state lacks `{key}`: {:?}",
            keys(&state)
        );
    }
    for alias in ["/state", "/state.json", "/master/state.json"] {
        let other = http::get_json(&cluster.master_url(alias)).await;
        let (a, b) = (keys(&state), keys(&other));
        // Timing fields may differ between two reads; the shape may not.
        assert_eq!(a, b, "{alias} differs in shape from /master/state");
        assert_eq!(other["id"], state["id"], "{alias}");
    }

    assert_eq!(state["id"], master_id.as_str());
    assert_eq!(
        state["pid"].as_str(),
        Some(format!("master@127.0.0.1:{}", cluster.master_port).as_str()),
        "pid: {}",
        state["pid"]
    );
    assert_eq!(
        state["activated_slaves"].as_f64(),
        Some(1.0),
        "{}",
        state["activated_slaves"]
    );
    let slaves = state["slaves"].as_array().expect("slaves is a list");
    assert_eq!(slaves.len(), 1, "{slaves:?}");
    let agent = &slaves[0];
    assert_eq!(agent["id"], cluster.agent_id(0).await.as_str());
    assert!(
        agent["pid"].as_str().is_some_and(|p| p.contains('@')),
        "agent pid should be a libprocess address: {agent}"
    );
    assert_eq!(agent["resources"]["cpus"].as_f64(), Some(2.0), "{agent}");
    assert_eq!(agent["resources"]["mem"].as_f64(), Some(1024.0), "{agent}");
    assert!(
        state["frameworks"]
            .as_array()
            .expect("frameworks is a list")
            .iter()
            .any(|f| f["id"] == sched.framework_id.as_str()),
        "the subscribed framework is not listed: {}",
        state["frameworks"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_version() {
    let cluster = Cluster::master_only().await;
    for path in ["/health", "/master/health"] {
        let response = http::get(&cluster.master_url(path)).await;
        assert_eq!(response.status, 200, "{path}: {}", response.body);
    }
    let version = http::get_json(&cluster.master_url("/version")).await;
    assert!(
        version["version"].as_str().is_some_and(|v| !v.is_empty()),
        "/version has no version: {version}"
    );
    let missing = http::get(&cluster.master_url("/no/such/endpoint")).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_state_and_health() {
    let cluster = Cluster::start().await;
    let health = http::get(&cluster.agent_url(0, "/health")).await;
    assert_eq!(health.status, 200, "{}", health.body);
    let state = cluster.agent_state(0).await;
    let id = state["id"].as_str().unwrap_or("");
    assert!(!id.is_empty(), "agent /state has no id: {state}");
    assert!(
        state["pid"]
            .as_str()
            .is_some_and(|p| p.starts_with("slave(1)@")),
        "agent pid: {}",
        state["pid"]
    );
    assert!(state["frameworks"].is_array(), "{state}");
    assert_eq!(
        state["resources"]["cpus"].as_f64(),
        Some(2.0),
        "{}",
        state["resources"]
    );
    let aliased = http::get_json(&cluster.agent_url(0, "/slave(1)/state")).await;
    assert_eq!(aliased["id"], state["id"]);
}

/// GET `url` without following redirects: (status, body).
async fn status_of(method: reqwest::Method, url: &str, body: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client");
    let mut request = client.request(method.clone(), url);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = http::send(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    (response.status, response.body)
}

/// Every route answers the same with a trailing `/` as without, under each of the names
/// Mesos gives it (`/master/X` and `/X` on the master, `/X` and `/slave(1)/X` on the
/// agent), as Mesos's HTTP layer strips the `/` before matching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_with_and_without_a_trailing_slash() {
    use reqwest::Method;
    let cluster = Cluster::start().await;
    let health = r#"{"type":"GET_HEALTH"}"#;
    let mut routes: Vec<(Method, String, Option<&str>, u16)> = Vec::new();
    for name in [
        "state",
        "state.json",
        "state-summary",
        "frameworks",
        "slaves",
        "tasks",
        "tasks.json",
        "roles",
        "roles.json",
        "flags",
        "health",
        "version",
    ] {
        for prefix in ["/master/", "/"] {
            routes.push((Method::GET, format!("{prefix}{name}"), None, 200));
        }
    }
    routes.extend([
        (Method::GET, "/master/redirect".to_string(), None, 307),
        (Method::GET, "/redirect".to_string(), None, 307),
        (Method::GET, "/metrics/snapshot".to_string(), None, 200),
        (Method::POST, "/master/teardown".to_string(), None, 400),
        (Method::POST, "/teardown".to_string(), None, 400),
        (Method::POST, "/api/v1".to_string(), Some(health), 200),
        (
            Method::POST,
            "/master/api/v1".to_string(),
            Some(health),
            200,
        ),
        (Method::GET, "/api/v1/scheduler".to_string(), None, 405),
        (
            Method::GET,
            "/master/api/v1/scheduler".to_string(),
            None,
            405,
        ),
    ]);
    for (method, path, body, want) in &routes {
        for form in [path.clone(), format!("{path}/")] {
            let (status, text) = status_of(method.clone(), &cluster.master_url(&form), *body).await;
            assert_eq!(status, *want, "master {method} {form}: {text}");
        }
    }

    let mut routes: Vec<(Method, String, Option<&str>, u16)> = Vec::new();
    for name in [
        "state",
        "state.json",
        "health",
        "flags",
        "containers",
        "monitor/statistics",
        "monitor/statistics.json",
    ] {
        for prefix in ["/", "/slave(1)/"] {
            routes.push((Method::GET, format!("{prefix}{name}"), None, 200));
        }
    }
    for prefix in ["/", "/slave(1)/"] {
        routes.push((Method::POST, format!("{prefix}api/v1"), Some(health), 200));
    }
    for path in ["/version", "/metrics/snapshot"] {
        routes.push((Method::GET, path.to_string(), None, 200));
    }
    for (method, path, body, want) in &routes {
        for form in [path.clone(), format!("{path}/")] {
            let (status, text) =
                status_of(method.clone(), &cluster.agent_url(0, &form), *body).await;
            assert_eq!(status, *want, "agent {method} {form}: {text}");
        }
    }
    // Query strings survive the rewrite.
    let tasks = http::get_json(&cluster.master_url("/master/tasks/?limit=0")).await;
    assert_eq!(tasks["tasks"], serde_json::json!([]), "{tasks}");
}

/// Paths to every `null` in `v`: Mesos leaves out a field it has no value for.
fn nulls(v: &Value, path: &str, found: &mut Vec<String>) {
    match v {
        Value::Null => found.push(path.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                nulls(item, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                nulls(item, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

fn task_ids(tasks: &Value) -> Vec<String> {
    tasks["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks list: {tasks}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A framework that finished and was torn down, and one whose agent was killed: their
/// tasks stay listed (`/master/tasks` with Mesos's query, GET_TASKS, `/master/state`), the
/// removed framework holds nothing, and no state object has a `null` member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_listings_keep_finished_and_unreachable_tasks() {
    let mut cluster = Cluster::with_agents(2).await;
    let agent0 = cluster.agent_id(0).await;
    let agent1 = cluster.agent_id(1).await;

    let mut done = cluster.subscribe("finished-framework").await;
    let offer = done.next_offer_from(&agent0).await;
    let finished = unique_id("finished");
    done.launch(
        &offer,
        vec![command_task(&finished, &agent0, "true", 0.1, 32.0)],
    )
    .await;
    done.await_state(&finished, "TASK_FINISHED").await;
    done.teardown().await;
    let done_id = done.framework_id.clone();

    let mut lost = cluster
        .subscribe_with(partition_aware_framework_info("unreachable-framework"))
        .await;
    let offer = lost.next_offer_from(&agent1).await;
    let unreachable = unique_id("unreachable");
    lost.launch(
        &offer,
        vec![command_task(&unreachable, &agent1, "sleep 100", 0.1, 32.0)],
    )
    .await;
    lost.await_state(&unreachable, "TASK_RUNNING").await;
    cluster.kill_agent(1);
    lost.await_state(&unreachable, "TASK_UNREACHABLE").await;
    let lost_id = lost.framework_id.clone();

    let tasks_url = |query: &str| cluster.master_url(&format!("/master/tasks{query}"));
    let all = http::get_json(&tasks_url("")).await;
    let mut ids = task_ids(&all);
    ids.sort();
    let mut want = vec![finished.clone(), unreachable.clone()];
    want.sort();
    assert_eq!(ids, want, "{all}");
    // Newest first by default (the unreachable task started last), oldest first on asc.
    assert_eq!(task_ids(&all), [unreachable.clone(), finished.clone()]);
    let asc = http::get_json(&tasks_url("?order=asc")).await;
    assert_eq!(task_ids(&asc), [finished.clone(), unreachable.clone()]);
    for (query, want) in [
        ("?limit=1", vec![unreachable.clone()]),
        ("?limit=1&offset=1", vec![finished.clone()]),
        ("?limit=-1", vec![unreachable.clone(), finished.clone()]),
        ("?limit=abc", vec![unreachable.clone(), finished.clone()]),
        ("?offset=5", vec![]),
        (&format!("?framework_id={done_id}"), vec![finished.clone()]),
        (
            &format!("?framework_id={lost_id}&task_id={unreachable}"),
            vec![unreachable.clone()],
        ),
        (
            &format!("?framework_id={lost_id}&task_id={finished}"),
            vec![],
        ),
    ] {
        let listed = http::get_json(&tasks_url(query)).await;
        assert_eq!(task_ids(&listed), want, "/master/tasks{query}: {listed}");
    }
    let by_id = |list: &Value, id: &str| -> Value {
        list.as_array()
            .into_iter()
            .flatten()
            .find(|t| t["id"] == id || t["task_id"]["value"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        by_id(&all["tasks"], &unreachable)["state"],
        "TASK_UNREACHABLE"
    );

    let tasks = &http::operator_get(&cluster.master_url("/api/v1"), "GET_TASKS").await;
    assert!(
        by_id(&tasks["completed_tasks"], &finished).is_object(),
        "GET_TASKS completed_tasks: {tasks}"
    );
    assert!(
        by_id(&tasks["unreachable_tasks"], &unreachable).is_object(),
        "GET_TASKS unreachable_tasks: {tasks}"
    );

    let state = cluster.master_state().await;
    let framework = |list: &str, id: &str| -> Value {
        state[list]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {list}: {state}"))
    };
    let removed = framework("completed_frameworks", &done_id);
    assert!(
        by_id(&removed["completed_tasks"], &finished).is_object(),
        "{removed}"
    );
    let partitioned = framework("frameworks", &lost_id);
    assert!(
        by_id(&partitioned["unreachable_tasks"], &unreachable).is_object(),
        "{partitioned}"
    );

    // A removed framework holds nothing, in /master/state and /master/frameworks.
    let frameworks = http::get_json(&cluster.master_url("/master/frameworks")).await;
    for removed in [removed, {
        frameworks["completed_frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["id"] == done_id.as_str())
            .cloned()
            .expect("the removed framework in /master/frameworks")
    }] {
        for key in ["resources", "used_resources", "offered_resources"] {
            for (name, amount) in removed[key].as_object().expect(key) {
                assert!(
                    amount.as_f64() == Some(0.0),
                    "{key}.{name} of a removed framework: {removed}"
                );
            }
        }
    }

    // Mesos leaves out what it has no value for; nothing is `null`.
    let mut found = Vec::new();
    for path in [
        "/master/state",
        "/master/state-summary",
        "/master/frameworks",
        "/master/slaves",
        "/master/tasks",
        "/master/roles",
        "/master/flags",
    ] {
        let json = http::get_json(&cluster.master_url(path)).await;
        nulls(&json, path, &mut found);
    }
    for path in ["/state", "/flags", "/containers", "/monitor/statistics"] {
        let json = http::get_json(&cluster.agent_url(0, path)).await;
        nulls(&json, &format!("agent {path}"), &mut found);
    }
    assert!(found.is_empty(), "null members: {found:?}");
}

/// A task that takes one port of an offered range holds that port only: GET_FRAMEWORKS
/// and `/master/frameworks` show it, not the whole range the offer had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framework_holds_only_the_port_its_task_took() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("one-port").await;
    let offer = sched.next_offer().await;
    let port = first_port(&offer);
    assert!(
        ranges_of(&offer["resources"], "ports")
            .iter()
            .any(|&(b, e)| b == port && e > port),
        "the offer should carry a range: {offer}"
    );
    let task_id = unique_id("one-port");
    let task = with_resource(
        command_task(&task_id, offer_agent_id(&offer), "sleep 100", 0.1, 32.0),
        ports_resource(port, port),
    );
    // The rest of the range goes back to the allocator and stays there (filtered for
    // this framework), so nothing offered again hides what the framework holds.
    sched
        .call_accepted(serde_json::json!({
            "type": "ACCEPT",
            "accept": {
                "offer_ids": [{ "value": offer_id(&offer) }],
                "operations": [mesos_tests::scheduler::launch_operation(vec![task])],
                "filters": { "refuse_seconds": 1000.0 }
            }
        }))
        .await;
    sched.await_state(&task_id, "TASK_RUNNING").await;

    let frameworks = http::operator_get(&cluster.master_url("/api/v1"), "GET_FRAMEWORKS").await;
    let framework = frameworks["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["framework_info"]["id"]["value"] == sched.framework_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("framework not in GET_FRAMEWORKS: {frameworks}"));
    assert_eq!(
        ranges_of(&framework["allocated_resources"], "ports"),
        [(port, port)],
        "{framework}"
    );
    let listed = http::get_json(&cluster.master_url("/master/frameworks")).await;
    let framework = listed["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == sched.framework_id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("framework not in /master/frameworks: {listed}"));
    assert_eq!(
        framework["used_resources"]["ports"],
        format!("[{port}-{port}]"),
        "{framework}"
    );

    // A running task's agent views have no `null` either.
    let mut found = Vec::new();
    for path in ["/state", "/containers", "/monitor/statistics"] {
        let json = http::get_json(&cluster.agent_url(0, path)).await;
        nulls(&json, &format!("agent {path}"), &mut found);
    }
    assert!(found.is_empty(), "null members: {found:?}");
}
