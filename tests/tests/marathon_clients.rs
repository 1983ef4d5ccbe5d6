//! Marathon as existing clients see it. marathon-python (PyPI `marathon` 0.13.0, installed
//! by `scripts/client-venv.sh`) drives a real Marathon through its own client and builds
//! every response with its strict models (an unknown key, a missing required key or another
//! timestamp format raises); the DC/OS CLI, which cannot be installed here, is checked for
//! the keys its `app list`, `task list` and `deployment list` tables read.

use std::path::PathBuf;
use std::time::Duration;

use mesos_tests::cluster::Cluster;
use mesos_tests::eventually;
use mesos_tests::marathon::Marathon;
use mesos_tests::python_clients::client_python;
use mesos_tests::run_command;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn marathon_python_parses_every_response() {
    let Some(python) = client_python() else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/marathon_client_check.py");
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let out = run_command(
        &python,
        &[script.display().to_string(), marathon.url("")],
        &[("PYTHONUNBUFFERED".into(), "1".into())],
        Duration::from_secs(600),
    )
    .await;
    println!("{}", out.stdout);
    assert!(
        out.success(),
        "marathon-python rejected Marathon's answers\n{out}\n----- marathon log -----\n{}",
        marathon.proc.log_tail(60)
    );
}

/// The keys of `keys` that `object` lacks.
fn missing<'a>(object: &Value, keys: &[&'a str]) -> Vec<&'a str> {
    keys.iter()
        .copied()
        .filter(|k| object.get(k).is_none())
        .collect()
}

/// The deployment actions `dcos marathon deployment list` can print (any other is an error
/// there).
const DCOS_ACTIONS: &[&str] = &[
    "ResolveArtifacts",
    "ScaleApplication",
    "StartApplication",
    "StopApplication",
    "RestartApplication",
    "ScalePod",
    "StartPod",
    "StopPod",
    "RestartPod",
    "KillAllOldTasksOf",
];

#[tokio::test]
async fn dcos_cli_tables_find_their_keys() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let runs = json!({"id": "/dcos/runs", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16});
    // Never placed: its deployment stays, and it waits in the queue.
    let waits = json!({"id": "/dcos/waits", "args": ["sleep", "1000"], "cpus": 0.1, "mem": 16,
        "constraints": [["hostname", "CLUSTER", "no-such-host"]],
        "container": {"type": "MESOS", "volumes": []}});
    for app in [&runs, &waits] {
        let r = marathon.send("POST", "/v2/apps", Some(app)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    marathon.wait_running("/dcos/runs", 1, LONG).await;

    // `dcos marathon app list`: /v2/apps (+ /v2/deployments, /v2/queue).
    let apps = marathon.get("/v2/apps").await.json()["apps"].clone();
    let apps = apps.as_array().expect("apps");
    assert_eq!(apps.len(), 2);
    for app in apps {
        let lacks = missing(
            app,
            &[
                "id",
                "mem",
                "cpus",
                "instances",
                "tasksRunning",
                "tasksHealthy",
                "healthChecks",
                "deployments",
                "container",
                "cmd",
            ],
        );
        assert!(lacks.is_empty(), "app list needs {lacks:?} in {app}");
        // CMD shows `args` when `cmd` is null; CONTAINER reads `type` when not null.
        if app["cmd"].is_null() {
            assert!(app["args"].is_array(), "{app}");
        }
        if !app["container"].is_null() {
            assert!(app["container"]["type"].is_string(), "{app}");
        }
    }
    let waits_app = apps.iter().find(|a| a["id"] == "/dcos/waits").unwrap();
    assert_eq!(waits_app["cmd"], Value::Null);
    assert_eq!(waits_app["args"], json!(["sleep", "1000"]));

    // `dcos marathon deployment list`: APP POD ACTION PROGRESS ID.
    let deployment = eventually("the waiting app's deployment", LONG, async || {
        let list = marathon.get("/v2/deployments").await.json();
        list.as_array()?
            .iter()
            .find(|d| d["affectedApps"] == json!(["/dcos/waits"]))
            .cloned()
    })
    .await;
    let lacks = missing(
        &deployment,
        &[
            "id",
            "affectedApps",
            "affectedPods",
            "currentActions",
            "currentStep",
            "totalSteps",
        ],
    );
    assert!(lacks.is_empty(), "deployment list needs {lacks:?}");
    assert!(deployment["currentStep"].as_u64().is_some_and(|s| s >= 1));
    assert!(deployment["totalSteps"].as_u64().is_some());
    let actions = deployment["currentActions"].as_array().unwrap();
    assert!(!actions.is_empty(), "{deployment}");
    for a in actions {
        let name = a["action"].as_str().unwrap_or_default();
        assert!(DCOS_ACTIONS.contains(&name), "unknown action {name}");
        assert!(a["app"].is_string(), "{a}");
    }
    // The app list's DEPLOYMENT column: the app's deployment ids are the listed ones.
    assert_eq!(
        waits_app["deployments"],
        json!([{ "id": deployment["id"].clone() }])
    );

    // WAITING: the queue's delay.overdue per app.
    let queue = marathon.get("/v2/queue").await.json();
    let item = queue["queue"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["app"]["id"] == "/dcos/waits")
        .cloned()
        .expect("the waiting app is queued");
    assert!(item["delay"]["overdue"].is_boolean(), "{item}");

    // `dcos marathon task list`: APP HEALTHY STARTED HOST ID.
    let tasks = marathon.get("/v2/tasks").await.json()["tasks"].clone();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    for t in tasks {
        let lacks = missing(
            t,
            &["appId", "host", "id", "startedAt", "healthCheckResults"],
        );
        assert!(lacks.is_empty(), "task list needs {lacks:?} in {t}");
    }
    // `app update --force` GETs the app first.
    assert_eq!(marathon.get("/v2/apps/dcos/runs").await.status, 200);
}
