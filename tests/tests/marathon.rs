//! Marathon against a real master and agents: apps are created, run, replaced when they
//! die, scaled, adopted across Marathon restarts, and refused with Marathon's errors.

use std::time::Duration;

use mesos_tests::cluster::{Cluster, ClusterOptions};
use mesos_tests::eventually;
use mesos_tests::marathon::{task_ids, Marathon};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_command_app_runs_is_replaced_scaled_and_deleted() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let app =
        json!({"id": "sleepy", "cmd": "env; sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2});
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("Location"), Some("/v2/apps/sleepy"));
    assert!(r.header("Marathon-Deployment-Id").is_some());
    let body = r.json();
    assert_eq!(body["id"], "/sleepy");
    assert_eq!(body["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(body["tasksRunning"], 0);

    let tasks = marathon.wait_running("/sleepy", 2, LONG).await;
    // The task environment Marathon sets.
    let task_id = tasks[0]["id"].as_str().unwrap().to_string();
    let port = tasks[0]["ports"][0].as_u64().unwrap();
    let stdout = cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", "MARATHON_APP_ID=/sleepy")
        .await;
    assert!(stdout.contains(&format!("PORT0={port}")), "{stdout}");
    assert!(stdout.contains("HOST=127.0.0.1"), "{stdout}");
    assert!(
        stdout.contains(&format!("MESOS_TASK_ID={task_id}")),
        "{stdout}"
    );
    marathon.wait_deployments_done(LONG).await;

    // The app with its tasks and counts.
    let got = marathon.get("/v2/apps/sleepy").await.json();
    assert_eq!(got["app"]["tasksRunning"], 2);
    assert_eq!(got["app"]["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(got["app"]["deployments"], json!([]));

    // A killed task (not scaled) is replaced.
    let r = marathon
        .send("DELETE", &format!("/v2/apps/sleepy/tasks/{task_id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["task"]["id"], task_id.as_str());
    let replaced = eventually("a replacement task", LONG, async || {
        let tasks = marathon.tasks("/sleepy").await;
        let ids = task_ids(&tasks);
        let running = tasks
            .iter()
            .filter(|t| t["state"] == "TASK_RUNNING")
            .count();
        (running == 2 && tasks.len() == 2 && !ids.contains(&task_id)).then_some(ids)
    })
    .await;
    assert_eq!(replaced.len(), 2);

    // Scale down to one.
    let r = marathon
        .send("PUT", "/v2/apps/sleepy", Some(&json!({"instances": 1})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["deploymentId"].is_string());
    marathon.wait_running("/sleepy", 1, LONG).await;
    let versions = marathon.get("/v2/apps/sleepy/versions").await.json();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);

    // Delete: the tasks go, the app is unknown.
    let r = marathon.send("DELETE", "/v2/apps/sleepy", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(
        "the app's tasks are gone from the master",
        LONG,
        async || {
            let state = cluster.master_state().await;
            let running = state["frameworks"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|f| f["tasks"].as_array().cloned().unwrap_or_default())
                .filter(|t| t["state"] == "TASK_RUNNING")
                .count();
            (running == 0).then_some(())
        },
    )
    .await;
    let r = marathon.get("/v2/apps/sleepy").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "App '/sleepy' does not exist");
}

#[tokio::test]
async fn bad_requests_get_marathons_errors() {
    let cluster = Cluster::master_only().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    // Not JSON, and a file name curl was not told to read.
    let r = mesos_tests::http::post(
        &marathon.url("/v2/apps"),
        "app.json",
        &[("Content-Type", "application/json")],
    )
    .await;
    assert_eq!(r.status, 400);
    let body = r.json();
    assert_eq!(body["message"], "Invalid JSON");
    assert!(body.to_string().contains("-d @"), "{body}");
    // Valid JSON, invalid app: every failing path.
    let r = marathon
        .send(
            "POST",
            "/v2/apps",
            Some(&json!({"id": "Bad_Id", "cmd": "x", "cpus": -1,
                "upgradeStrategy": {"minimumHealthCapacity": 2},
                "constraints": [["hostname", "NOPE"]]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let body = r.json();
    assert_eq!(body["message"], "Object is not valid");
    let paths: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    for p in [
        "/id",
        "/cpus",
        "/upgradeStrategy/minimumHealthCapacity",
        "/constraints(0)",
    ] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }
    // A wrong type names its path.
    let r = marathon
        .send("POST", "/v2/apps", Some(&json!({"id": "x", "mem": "lots"})))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["details"][0]["path"], "/mem");
    // Duplicate.
    let app = json!({"id": "dup", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 0});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["message"], "An app with id [/dup] already exists.");
    // Unknown app, wrong method, unknown path.
    assert_eq!(marathon.get("/v2/apps/nope").await.status, 404);
    assert_eq!(marathon.send("DELETE", "/v2/info", None).await.status, 405);
    assert_eq!(marathon.get("/v2/nothing").await.status, 404);
    // Too large.
    let big = "x".repeat(9 * 1024 * 1024);
    let r = mesos_tests::http::post(
        &marathon.url("/v2/apps"),
        big,
        &[("Content-Type", "application/json")],
    )
    .await;
    assert_eq!(r.status, 413);
    // An app that can never be placed is accepted, and waits.
    let huge = json!({"id": "huge", "cmd": "sleep 100", "cpus": 1000, "mem": 16});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&huge)).await.status,
        201
    );
    assert_eq!(marathon.get("/ping").await.body, "pong");
}

#[tokio::test]
async fn unique_keeps_the_second_instance_waiting_and_the_queue_says_why() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({"id": "/prod/uniq", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2,
        "constraints": [["hostname", "UNIQUE"]]});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    eventually("one running task", LONG, async || {
        let tasks = marathon.tasks("/prod/uniq").await;
        (tasks
            .iter()
            .filter(|t| t["state"] == "TASK_RUNNING")
            .count()
            == 1)
            .then_some(())
    })
    .await;
    let item = eventually("the queue explains the wait", LONG, async || {
        let q = marathon
            .get("/v2/queue?embed=lastUnusedOffers")
            .await
            .json();
        let item = q["queue"].as_array()?.first()?.clone();
        let summary = &item["processedOffersSummary"]["rejectSummaryLastOffers"];
        let declined = summary
            .as_array()?
            .iter()
            .find(|r| r["reason"] == "UnfulfilledConstraint")?["declined"]
            .as_u64()?;
        (declined >= 1).then_some(item)
    })
    .await;
    assert_eq!(item["app"]["id"], "/prod/uniq");
    assert_eq!(item["count"], 1);
    assert_eq!(item["delay"]["overdue"], true);
    assert!(!item["lastUnusedOffers"].as_array().unwrap().is_empty());
    // A second agent (another hostname) lets it run.
    let mut cluster = cluster;
    cluster.add_agent_with(&["--hostname=localhost"]).await;
    marathon.wait_running("/prod/uniq", 2, LONG).await;
    let q = marathon.get("/v2/queue").await.json();
    assert_eq!(q["queue"], json!([]));
}

#[tokio::test]
async fn marathon_restarted_with_kill_9_adopts_its_tasks() {
    let cluster = Cluster::start().await;
    let mut marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({"id": "adopt", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let before = task_ids(&marathon.wait_running("/adopt", 2, LONG).await);
    let framework = marathon.get("/v2/info").await.json()["frameworkId"].clone();
    assert!(framework.is_string());
    marathon.proc.kill9();
    marathon.proc.restart();
    let ping = marathon.url("/ping");
    mesos_tests::cluster::wait_ready(&mut marathon.proc, &ping)
        .await
        .unwrap();
    let after = task_ids(&marathon.wait_running("/adopt", 2, LONG).await);
    assert_eq!(before, after, "the same tasks, none restarted");
    assert_eq!(
        marathon.get("/v2/info").await.json()["frameworkId"],
        framework
    );
    // Still the same after a reconciliation round.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(task_ids(&marathon.tasks("/adopt").await), before);
}

#[tokio::test]
async fn a_task_that_exits_is_replaced_after_its_backoff() {
    let cluster = Cluster::start_with(ClusterOptions::default()).await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({"id": "crashy", "cmd": "sleep 1; exit 3", "cpus": 0.1, "mem": 16,
        "backoffSeconds": 1, "backoffFactor": 1.0});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let failure: Value = eventually("a recorded failure", LONG, async || {
        let app = marathon.get("/v2/apps/crashy").await.json();
        let f = app["app"]["lastTaskFailure"].clone();
        (f["state"] == "TASK_FAILED").then_some(f)
    })
    .await;
    let first = failure["taskId"].as_str().unwrap().to_string();
    eventually("a second task", LONG, async || {
        let tasks = marathon.tasks("/crashy").await;
        tasks
            .iter()
            .any(|t| t["id"].as_str() != Some(first.as_str()))
            .then_some(())
    })
    .await;
}

/// The "done when": a BRIDGE Docker app with `hostPort: 0` serves HTTP on the host
/// port Marathon reports, and comes back after its container is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_docker_app_serves_on_its_host_port_and_survives_a_killed_container() {
    use mesos_tests::docker::{container_of, docker, docker_cluster, ContainerCleanup, IMAGE};
    let cluster = docker_cluster().await;
    let _cleanup = ContainerCleanup::new(&cluster.agent_id(0).await);
    let marathon = Marathon::start(&cluster, &[]).await;
    let command = "mkdir -p /www && echo hello-from-marathon > /www/index.html \
                   && exec busybox httpd -f -p 8080 -h /www";
    let app = json!({
        "id": "web", "cpus": 0.2, "mem": 32, "instances": 1, "cmd": command,
        "constraints": [["hostname", "UNIQUE", ""]],
        "container": {"type": "DOCKER", "docker": {"image": IMAGE, "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 0, "protocol": "tcp"}]}}
    });
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    let service_port = created["container"]["portMappings"][0]["servicePort"]
        .as_u64()
        .unwrap();
    assert!((10000..20000).contains(&service_port), "{created}");
    assert_eq!(created["networks"], json!([{"mode": "container/bridge"}]));

    let serve = async |tasks: &[Value]| {
        let port = tasks[0]["ports"][0].as_u64().unwrap();
        eventually("the app through its host port", LONG, async || {
            let r = reqwest::Client::new()
                .get(format!("http://127.0.0.1:{port}/"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .ok()?;
            r.text()
                .await
                .ok()
                .filter(|b| b.contains("hello-from-marathon"))
        })
        .await
    };
    let tasks = marathon.wait_running("/web", 1, LONG).await;
    assert_eq!(tasks[0]["servicePorts"], json!([service_port]));
    serve(&tasks).await;

    // Kill the container behind Marathon's back: a new task replaces it.
    let first = tasks[0]["id"].as_str().unwrap().to_string();
    let container = container_of(&cluster, 0, &first).await;
    let (ok, _, err) = docker(&["kill", &container]);
    assert!(ok, "docker kill: {err}");
    let replaced = eventually("a replacement task", LONG, async || {
        let tasks = marathon.tasks("/web").await;
        (tasks.len() == 1
            && tasks[0]["id"] != first.as_str()
            && tasks[0]["state"] == "TASK_RUNNING")
            .then_some(tasks)
    })
    .await;
    serve(&replaced).await;
    let r = marathon.send("DELETE", "/v2/apps/web", None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_lost_agent_s_instance_is_replaced_on_another_agent() {
    let mut cluster = Cluster::start().await;
    cluster.add_agent_with(&["--hostname=localhost"]).await;
    cluster.wait_for_active_agents(2).await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let app = json!({"id": "moving", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2,
        "constraints": [["hostname", "UNIQUE"]]});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let tasks = marathon.wait_running("/moving", 2, LONG).await;
    let on_first: Vec<String> = tasks
        .iter()
        .filter(|t| t["host"] == "127.0.0.1")
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(on_first.len(), 1);
    // A third agent to move to, then the first agent dies for good.
    cluster.add_agent_with(&["--hostname=third"]).await;
    cluster.wait_for_active_agents(3).await;
    cluster.kill_agent(0);
    let moved = eventually(
        "the lost instance replaced on the new agent",
        LONG,
        async || {
            let tasks = marathon.tasks("/moving").await;
            let running: Vec<&Value> = tasks
                .iter()
                .filter(|t| t["state"] == "TASK_RUNNING")
                .collect();
            (running.len() == 2 && running.iter().any(|t| t["host"] == "third")).then_some(tasks)
        },
    )
    .await;
    // The lost task is shown unreachable (or is gone), never running.
    for t in &moved {
        if t["id"] == on_first[0].as_str() {
            assert_eq!(t["state"], "TASK_UNREACHABLE", "{moved:?}");
        }
    }
}

/// Sends `sig` to agent `agent`'s process.
fn signal_agent(cluster: &Cluster, agent: usize, sig: nix::sys::signal::Signal) {
    let pid = cluster.agents[agent].proc.pid().expect("agent runs");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("signal sent");
}

#[tokio::test]
async fn an_instance_back_from_an_unreachable_agent_is_killed_next_to_its_replacement() {
    // The test master calls an agent unreachable after 3 s without a pong.
    let mut cluster = Cluster::start().await;
    cluster.add_agent_with(&["--hostname=localhost"]).await;
    cluster.wait_for_active_agents(2).await;
    // The master does not announce tasks an agent brings back: Marathon learns of them
    // by reconciling, here every second.
    let marathon = Marathon::start(&cluster, &["--reconciliation_interval", "1000"]).await;
    let app = json!({"id": "back", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let tasks = marathon.wait_running("/back", 1, LONG).await;
    let old = tasks[0]["id"].as_str().unwrap().to_string();
    let away = if tasks[0]["host"] == "127.0.0.1" {
        0
    } else {
        1
    };

    // Its agent stops answering past the ping timeout: Marathon's default
    // unreachableStrategy (0 s, 0 s) replaces the instance on the other agent at once.
    signal_agent(&cluster, away, nix::sys::signal::Signal::SIGSTOP);
    let replacement = eventually("a replacement running", LONG, async || {
        marathon
            .tasks("/back")
            .await
            .iter()
            .find(|t| t["id"] != old.as_str() && t["state"] == "TASK_RUNNING")
            .map(|t| t["id"].as_str().unwrap().to_string())
    })
    .await;

    // The agent comes back with the old task still running: one instance too many,
    // until Marathon kills the one it replaced.
    signal_agent(&cluster, away, nix::sys::signal::Signal::SIGCONT);
    cluster.wait_for_active_agents(2).await;
    eventually("the returned task killed", LONG, async || {
        let task = cluster.master_task(&old).await?;
        (task.state() == "TASK_KILLED").then_some(())
    })
    .await;
    let tasks = marathon.wait_running("/back", 1, LONG).await;
    assert_eq!(task_ids(&tasks), vec![replacement.clone()]);
    let kept = cluster
        .master_task(&replacement)
        .await
        .expect("at the master");
    assert_eq!(kept.state(), "TASK_RUNNING");
}

#[tokio::test]
async fn the_rest_of_the_v2_api() {
    let mut cluster = Cluster::start().await;
    cluster.add_agent_with(&["--hostname=localhost"]).await;
    let marathon = Marathon::start(&cluster, &[]).await;
    // PUT of an array creates and updates; GET filters by cmd, id and label.
    let apps = json!([
        {"id": "/g/a", "cmd": "sleep 500", "cpus": 0.1, "mem": 16, "instances": 1, "labels": {"tier": "web"}},
        {"id": "/g/b", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 1, "labels": {"tier": "db"}}
    ]);
    let r = marathon.send("PUT", "/v2/apps", Some(&apps)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("Marathon-Deployment-Id").is_some());
    let ids = |v: Value| -> Vec<String> {
        v["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(marathon.get("/v2/apps?cmd=sleep%20600").await.json()),
        vec!["/g/b"]
    );
    assert_eq!(
        ids(marathon.get("/v2/apps?id=g/a").await.json()),
        vec!["/g/a"]
    );
    assert_eq!(
        ids(marathon.get("/v2/apps?label=tier==web").await.json()),
        vec!["/g/a"]
    );
    assert_eq!(
        ids(marathon.get("/v2/apps?label=tier").await.json()).len(),
        2
    );
    // Python clients put the id's leading slash after /v2/apps/.
    assert_eq!(marathon.get("/v2/apps//g/a").await.status, 200);
    marathon.wait_running("/g/a", 1, LONG).await;
    marathon.wait_running("/g/b", 1, LONG).await;
    let embedded = marathon
        .get("/v2/apps?embed=apps.tasks&embed=apps.counts")
        .await
        .json();
    assert_eq!(embedded["apps"][0]["tasks"].as_array().unwrap().len(), 1);
    // PATCH changes one field; the app keeps the others.
    let r = marathon
        .send("PATCH", "/v2/apps/g/a", Some(&json!({"instances": 2})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = marathon.get("/v2/apps/g/a").await.json()["app"].clone();
    assert_eq!(a["instances"], 2);
    assert_eq!(a["cmd"], "sleep 500");
    marathon.wait_running("/g/a", 2, LONG).await;
    // /v2/tasks with a status filter, and as text for old load balancers.
    let all = marathon.get("/v2/tasks?status=running").await.json();
    assert_eq!(all["tasks"].as_array().unwrap().len(), 3);
    let text = mesos_tests::http::send(
        mesos_tests::http::client()
            .get(marathon.url("/v2/tasks"))
            .header("Accept", "text/plain"),
    )
    .await
    .unwrap();
    assert!(text.body.contains("g_a\t"), "{}", text.body);
    // Kill with scale through /v2/tasks/delete: a new version with one instance less.
    let victim = marathon.tasks("/g/a").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = marathon
        .send(
            "POST",
            "/v2/tasks/delete?scale=true",
            Some(&json!({"ids": [victim.clone()]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["deploymentId"].is_string());
    marathon.wait_running("/g/a", 1, LONG).await;
    assert_eq!(
        marathon.get("/v2/apps/g/a").await.json()["app"]["instances"],
        1
    );
    let r = marathon
        .send(
            "POST",
            "/v2/tasks/delete",
            Some(&json!({"ids": ["nope.instance-1._app.1"]})),
        )
        .await;
    assert_eq!(r.status, 400);
    // Kill every task of an app on one host, without scaling: they are replaced.
    let before = task_ids(&marathon.tasks("/g/b").await);
    let host = marathon.tasks("/g/b").await[0]["host"]
        .as_str()
        .unwrap()
        .to_string();
    let r = marathon
        .send("DELETE", &format!("/v2/apps/g/b/tasks?host={host}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        task_ids(&r.json()["tasks"].as_array().unwrap().clone()),
        before
    );
    eventually("a replaced /g/b", LONG, async || {
        let now = marathon.wait_running("/g/b", 1, LONG).await;
        (task_ids(&now) != before).then_some(())
    })
    .await;
    // Restart: a new version, every instance replaced.
    let old = task_ids(&marathon.tasks("/g/b").await);
    let r = marathon.send("POST", "/v2/apps/g/b/restart", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually("restarted /g/b", LONG, async || {
        let now = marathon.tasks("/g/b").await;
        (now.len() == 1 && now[0]["state"] == "TASK_RUNNING" && task_ids(&now) != old).then_some(())
    })
    .await;
    // Versions, and a rollback to the first one.
    let versions = marathon.get("/v2/apps/g/a/versions").await.json()["versions"].clone();
    let first = versions
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let v = marathon
        .get(&format!("/v2/apps/g/a/versions/{first}"))
        .await
        .json();
    assert_eq!(v["instances"], 1);
    assert_eq!(v["version"], first.as_str());
    // A deployment in flight locks the app; force overrides.
    let r = marathon
        .send("PUT", "/v2/apps/g/a", Some(&json!({"cpus": 100})))
        .await;
    assert_eq!(r.status, 200, "accepted though it can never be placed");
    let r = marathon
        .send("PUT", "/v2/apps/g/a", Some(&json!({"cpus": 0.1})))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.json()["deployments"][0]["id"].is_string());
    let deployments = marathon.get("/v2/deployments").await.json();
    assert_eq!(deployments[0]["affectedApps"], json!(["/g/a"]));
    assert_eq!(
        deployments[0]["steps"][0]["actions"][0]["action"],
        "RestartApplication"
    );
    let r = marathon
        .send(
            "PUT",
            "/v2/apps/g/a?force=true",
            Some(&json!({"version": first})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    marathon.wait_deployments_done(LONG).await;
    assert_eq!(
        marathon.get("/v2/apps/g/a").await.json()["app"]["cpus"],
        0.1
    );
    // The queue's delay can be reset only for a waiting app.
    assert_eq!(
        marathon
            .send("DELETE", "/v2/queue/g/a/delay", None)
            .await
            .status,
        404
    );
    // Info, leader, metrics.
    let info = marathon.get("/v2/info").await.json();
    assert_eq!(info["name"], "marathon");
    assert_eq!(info["elected"], true);
    assert_eq!(
        marathon.get("/v2/leader").await.json()["leader"],
        format!("127.0.0.1:{}", marathon.port)
    );
    let metrics = marathon.get("/metrics").await.json();
    assert_eq!(
        metrics["gauges"]["marathon.apps.active.gauge"]["value"],
        2.0
    );
}

#[tokio::test]
async fn invalid_flags_stop_marathon_at_start_naming_the_flag() {
    use mesos_tests::{binary, run_command};
    let cases: &[(&[&str], &str)] = &[
        (
            &["--master", "127.0.0.1:5050", "--http_port", "abc"],
            "--http_port",
        ),
        (
            &["--master", "127.0.0.1:5050", "--zk", "zk://127.0.0.1:2181"],
            "--zk",
        ),
        (&["--master", "no port here/x"], "--master"),
        (
            &["--master", "127.0.0.1:5050", "--bogus_flag", "1"],
            "--bogus_flag",
        ),
        (
            &[
                "--master",
                "127.0.0.1:5050",
                "--internal_store_backend",
                "embedded",
                "--disable_ha",
            ],
            "--store_path",
        ),
        (
            &[
                "--master",
                "127.0.0.1:5050",
                "--local_port_min",
                "20000",
                "--local_port_max",
                "10000",
            ],
            "--local_port",
        ),
    ];
    for (args, flag) in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = run_command(&binary("marathon"), &args, &[], Duration::from_secs(20)).await;
        assert!(!out.success(), "{args:?} started: {}", out.combined());
        assert!(
            out.combined().contains(flag),
            "{args:?}: {}",
            out.combined()
        );
    }
}

#[tokio::test]
async fn fetch_brings_uris_into_the_sandbox_and_a_failed_fetch_fails_the_task() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    // A tarball on disk, and a script served over HTTP.
    let dir = cluster.root().join("fetch-src");
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/hello.txt"), "hi from a tarball\n").unwrap();
    let tarball = cluster.root().join("app.tar.gz");
    let ok = std::process::Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-czf")
        .arg(&tarball)
        .arg("app")
        .status()
        .unwrap();
    assert!(ok.success());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = "#!/bin/sh\necho script-ran\n";
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    let app = json!({"id": "fetching", "cpus": 0.1, "mem": 16,
    "cmd": "./run.sh && cat app/hello.txt && sleep 1000",
    "fetch": [
        {"uri": format!("file://{}", tarball.display()), "extract": true},
        {"uri": format!("http://127.0.0.1:{port}/run.sh"), "executable": true}
    ]});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&app)).await.status,
        201
    );
    let tasks = marathon.wait_running("/fetching", 1, LONG).await;
    let id = tasks[0]["id"].as_str().unwrap();
    let out = cluster
        .wait_for_sandbox_text(0, id, "stdout", "hi from a tarball")
        .await;
    assert!(out.contains("script-ran"), "{out}");
    // The old `uris` form, with a URI that cannot be fetched: TASK_FAILED with the reason.
    let bad = json!({"id": "unfetchable", "cpus": 0.1, "mem": 16, "cmd": "sleep 1000",
        "uris": ["http://127.0.0.1:1/nothing.tgz"]});
    assert_eq!(
        marathon.send("POST", "/v2/apps", Some(&bad)).await.status,
        201
    );
    let failure = eventually(
        "the failed fetch as the app's last failure",
        LONG,
        async || {
            let app = marathon.get("/v2/apps/unfetchable").await.json();
            let f = app["app"]["lastTaskFailure"].clone();
            (f["state"] == "TASK_FAILED").then_some(f)
        },
    )
    .await;
    let message = failure["message"].as_str().unwrap();
    assert!(message.contains("Failed to fetch all URIs"), "{message}");
    assert!(message.contains("nothing.tgz"), "{message}");
}
