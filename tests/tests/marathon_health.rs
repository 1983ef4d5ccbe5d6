//! Health checks end to end: Marathon's own HTTP probes and the agent's COMMAND and
//! MESOS_TCP checks make tasks healthy, a task whose check starts failing is killed and
//! replaced, and a new Marathon leader re-checks before it kills anything.
//!
//! The apps serve their sandbox with `python3 -m http.server` and are healthy while the
//! file `ok` is there; a test deletes it to make the task fail its checks.

use std::time::Duration;

use mesos_tests::cluster::{Cluster, ClusterOptions};
use mesos_tests::eventually;
use mesos_tests::marathon::Marathon;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

/// A cluster whose agent offers its own port range: the tasks here really bind their
/// ports, and the tests of this file run side by side (below the kernel's ephemeral
/// ports, above the 20000-30000 the test harness hands out, apart from 31000-31100).
async fn cluster(ports: &str) -> Cluster {
    Cluster::start_with(ClusterOptions {
        agent_resources: format!("cpus:2;mem:1024;disk:1024;ports:[{ports}]"),
        ..ClusterOptions::default()
    })
    .await
}

/// An app that serves its sandbox on $PORT0, with `checks` as its health checks.
fn app(id: &str, checks: Value) -> Value {
    json!({
        "id": id,
        "cmd": "echo ok > ok && exec python3 -m http.server --bind 127.0.0.1 $PORT0",
        "cpus": 0.1, "mem": 32, "instances": 1,
        "healthChecks": checks,
    })
}

/// The app's only task once it runs with every health result alive.
async fn wait_healthy(marathon: &Marathon, app: &str) -> Value {
    eventually(&format!("a healthy task of {app}"), LONG, async || {
        let r = marathon.get(&format!("/v2/apps{app}")).await;
        let a = r.json()["app"].clone();
        let tasks = a["tasks"].as_array()?;
        let results = tasks.first()?["healthCheckResults"].as_array()?;
        let alive = !results.is_empty() && results.iter().all(|h| h["alive"] == true);
        (tasks.len() == 1 && alive && a["tasksHealthy"] == 1 && a["tasksUnhealthy"] == 0)
            .then(|| tasks[0].clone())
    })
    .await
}

/// Deletes `ok` from the task's sandbox: its checks fail from now on.
async fn break_health(cluster: &Cluster, task_id: &str) {
    let dir = cluster.sandbox_dir(0, task_id).await;
    std::fs::remove_file(format!("{dir}/ok")).expect("the task created ok");
}

/// Waits until `old` is gone and another task of `app` is healthy; returns that task.
async fn wait_replaced(marathon: &Marathon, app: &str, old: &str) -> Value {
    eventually(
        &format!("{old} replaced by a healthy task"),
        LONG,
        async || {
            let task = wait_healthy(marathon, app).await;
            (task["id"] != old).then_some(task)
        },
    )
    .await
}

#[tokio::test]
async fn marathon_http_checks_make_tasks_healthy_and_replace_failing_ones() {
    let cluster = cluster("31200-31249").await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let checks = json!([{"protocol": "HTTP", "path": "/ok", "portIndex": 0,
        "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1,
        "maxConsecutiveFailures": 2}]);
    let r = marathon
        .send("POST", "/v2/apps", Some(&app("/web", checks)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The definition comes back in Marathon's shape, defaults filled in.
    let hc = &r.json()["healthChecks"][0];
    assert_eq!(hc["delaySeconds"], 15);
    assert_eq!(hc["ignoreHttp1xx"], false);
    assert_eq!(hc["maxConsecutiveFailures"], 2);

    let task = wait_healthy(&marathon, "/web").await;
    let id = task["id"].as_str().unwrap().to_string();
    let h = &task["healthCheckResults"][0];
    assert_eq!(h["instanceId"], id.trim_end_matches("._app.1"));
    assert_eq!(h["consecutiveFailures"], 0);
    assert!(
        h["firstSuccess"].is_string() && h["lastSuccess"].is_string(),
        "{h}"
    );
    assert!(
        h["lastFailure"].is_null() && h["lastFailureCause"].is_null(),
        "{h}"
    );

    break_health(&cluster, &id).await;
    let failing = eventually("the failure seen", LONG, async || {
        let r = marathon.get("/v2/apps/web").await.json();
        let h = r["app"]["tasks"][0]["healthCheckResults"][0].clone();
        (h["alive"] == false && r["app"]["tasksUnhealthy"] == 1).then_some(h)
    })
    .await;
    assert_eq!(failing["lastFailureCause"], "404 Not Found", "{failing}");
    let new = wait_replaced(&marathon, "/web", &id).await;
    assert_ne!(new["id"], id.as_str());
    let old = cluster
        .master_task(&id)
        .await
        .expect("the master knows the killed task");
    assert_eq!(old.state(), "TASK_KILLED");
}

#[tokio::test]
async fn agent_run_checks_report_health_through_task_status() {
    let cluster = cluster("31250-31299").await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let timing = json!({"gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 2,
        "delaySeconds": 0, "maxConsecutiveFailures": 2});
    let mut command = json!({"protocol": "COMMAND", "command": {"value": "test -f ok"}});
    let mut tcp = json!({"protocol": "MESOS_TCP"});
    for c in [&mut command, &mut tcp] {
        c.as_object_mut()
            .unwrap()
            .extend(timing.as_object().unwrap().clone());
    }
    for (id, check) in [("/cmd", command), ("/tcp", tcp)] {
        let r = marathon
            .send("POST", "/v2/apps", Some(&app(id, json!([check]))))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let tcp_task = wait_healthy(&marathon, "/tcp").await;
    let task = wait_healthy(&marathon, "/cmd").await;
    let id = task["id"].as_str().unwrap().to_string();
    // The agent said so: the master keeps the status with `healthy`.
    let master_task = eventually("the master's healthy status", LONG, async || {
        let state = cluster.master_state().await;
        state["frameworks"]
            .as_array()?
            .iter()
            .flat_map(|f| f["tasks"].as_array().cloned().unwrap_or_default())
            .find(|t| t["id"] == id.as_str())
            .filter(|t| {
                t["statuses"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["healthy"] == true))
            })
    })
    .await;
    assert_eq!(master_task["state"], "TASK_RUNNING");

    // The COMMAND check fails: the agent kills the task (healthy: false), Marathon
    // replaces it; the TCP app is untouched.
    break_health(&cluster, &id).await;
    wait_replaced(&marathon, "/cmd", &id).await;
    let ended = cluster.master_task(&id).await;
    if let Some(t) = ended {
        assert_eq!(t.state(), "TASK_KILLED");
    }
    let tcp_now = wait_healthy(&marathon, "/tcp").await;
    assert_eq!(tcp_now["id"], tcp_task["id"]);
}

/// kill -9 of the leader while a task fails its checks: the next leader starts from no
/// record and counts its own failures (1, 2, 3 with maxConsecutiveFailures 3) before it
/// kills the task, instead of killing on what the old leader saw.
#[tokio::test]
async fn a_new_leader_checks_again_before_it_kills() {
    let cluster = cluster("31300-31349").await;
    let first = Marathon::start(&cluster, &[]).await;
    let store = first.store_path.clone();
    let checks = json!([{"protocol": "HTTP", "path": "/ok", "gracePeriodSeconds": 0,
        "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 3}]);
    let r = first
        .send("POST", "/v2/apps", Some(&app("/storm", checks)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let task = wait_healthy(&first, "/storm").await;
    let id = task["id"].as_str().unwrap().to_string();
    break_health(&cluster, &id).await;
    eventually(
        "two failures counted by the first leader",
        LONG,
        async || {
            let t = first.tasks("/storm").await;
            let failures = t.first()?["healthCheckResults"][0]["consecutiveFailures"].as_u64()?;
            (failures >= 2).then_some(())
        },
    )
    .await;
    let mut first = first;
    first.proc.kill9();

    let args = vec![
        "--disable_ha".to_string(),
        "--internal_store_backend".to_string(),
        "embedded".to_string(),
        "--store_path".to_string(),
        store.display().to_string(),
    ];
    let second = Marathon::start_with(cluster.root(), &cluster.master_addr(), args, store).await;
    let mut seen = vec![];
    eventually(
        "the failing task killed by the new leader",
        LONG,
        async || {
            let tasks = second.tasks("/storm").await;
            let old = tasks.iter().find(|t| t["id"] == id.as_str());
            match old {
                Some(t) if t["state"] == "TASK_RUNNING" => {
                    let n = t["healthCheckResults"][0]["consecutiveFailures"].as_u64();
                    if let Some(n) = n.filter(|n| seen.last() != Some(n)) {
                        seen.push(n);
                    }
                    None
                }
                _ => Some(()),
            }
        },
    )
    .await;
    assert!(
        !seen.is_empty(),
        "the new leader showed no health record before the kill"
    );
    // The kill comes with the failure after the third (Marathon counts the failures before
    // it), which the record may show before the task leaves TASK_RUNNING.
    assert!(
        seen.windows(2).all(|w| w[0] < w[1])
            && seen[0] <= 1
            && seen.contains(&3)
            && *seen.last().unwrap() <= 4,
        "the new leader counted its own failures from zero up to 3 before killing: {seen:?}"
    );
    let new = wait_replaced(&second, "/storm", &id).await;
    assert_ne!(new["id"], id.as_str());
}

/// Serves the working directory over HTTPS on the port given, with `cert.pem`/`key.pem`.
const HTTPS_SERVER: &str = "import http.server, ssl, sys
server = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain('cert.pem', 'key.pem')
server.socket = tls.wrap_socket(server.socket, server_side=True)
server.serve_forever()
";

/// An app that makes itself a self-signed certificate and serves its sandbox over HTTPS
/// on $PORT0 (port name `https`).
fn https_app(id: &str, extra: Value) -> Value {
    let mut app = json!({
        "id": id,
        "cmd": "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj /CN=localhost -days 1 -keyout key.pem -out cert.pem 2>/dev/null \
            && echo ok > ok && exec python3 -c \"$SERVE\" $PORT0",
        "env": {"SERVE": HTTPS_SERVER},
        "cpus": 0.1, "mem": 32, "instances": 1,
        "portDefinitions": [{"port": 0, "name": "https"}],
    });
    app.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app
}

#[tokio::test]
async fn https_checks_accept_a_self_signed_certificate() {
    let cluster = cluster("31400-31449").await;
    let marathon = Marathon::start(&cluster, &[]).await;
    // Marathon's own HTTPS health check, and an HTTPS readiness check the deployment
    // waits for (it never finishes unless the check gets its 200).
    let marathon_run = json!({
        "healthChecks": [{"protocol": "HTTPS", "path": "/ok", "portIndex": 0,
            "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 1,
            "maxConsecutiveFailures": 2}],
        "readinessChecks": [{"protocol": "HTTPS", "portName": "https", "path": "/ok",
            "intervalSeconds": 2, "timeoutSeconds": 1}],
    });
    let agent_run = json!({
        "healthChecks": [{"protocol": "MESOS_HTTPS", "path": "/ok", "portIndex": 0,
            "gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 2,
            "delaySeconds": 0, "maxConsecutiveFailures": 2}],
    });
    for (id, extra) in [("/tls", marathon_run), ("/mesos-tls", agent_run)] {
        let r = marathon
            .send("POST", "/v2/apps", Some(&https_app(id, extra)))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let task = wait_healthy(&marathon, "/tls").await;
    wait_healthy(&marathon, "/mesos-tls").await;
    marathon.wait_deployments_done(LONG).await;

    // A failing answer over HTTPS is seen as such: the status, not a TLS error.
    let id = task["id"].as_str().unwrap().to_string();
    break_health(&cluster, &id).await;
    let failing = eventually("the HTTPS failure seen", LONG, async || {
        let r = marathon.get("/v2/apps/tls").await.json();
        let h = r["app"]["tasks"][0]["healthCheckResults"][0].clone();
        (h["alive"] == false).then_some(h)
    })
    .await;
    assert_eq!(failing["lastFailureCause"], "404 Not Found", "{failing}");
}

/// A BRIDGE Docker app serving /www on container port 8080 (mapped to a host port), with
/// `check` as its health check; `/www/ok` exists until a test removes it.
fn docker_app(id: &str, check: Value) -> Value {
    use mesos_tests::docker::IMAGE;
    json!({
        "id": id, "cpus": 0.2, "mem": 32, "instances": 1,
        "cmd": "mkdir -p /www && echo ok > /www/ok && exec busybox httpd -f -p 8080 -h /www",
        "container": {"type": "DOCKER", "docker": {"image": IMAGE, "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}]}},
        "healthChecks": [check],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_tasks_are_checked_inside_their_container_and_on_their_mapped_port() {
    use mesos_tests::docker::{container_of, docker, docker_cluster, ContainerCleanup};
    let cluster = docker_cluster().await;
    let _cleanup = ContainerCleanup::new(&cluster.agent_id(0).await);
    let marathon = Marathon::start(&cluster, &[]).await;
    let timing = json!({"gracePeriodSeconds": 60, "intervalSeconds": 1, "timeoutSeconds": 2,
        "delaySeconds": 0, "maxConsecutiveFailures": 2});
    // `/www/ok` exists only inside the container: the check passes only through exec.
    let mut command = json!({"protocol": "COMMAND", "command": {"value": "test -f /www/ok"}});
    let mut http = json!({"protocol": "MESOS_HTTP", "path": "/ok", "portIndex": 0});
    for c in [&mut command, &mut http] {
        c.as_object_mut()
            .unwrap()
            .extend(timing.as_object().unwrap().clone());
    }
    for (id, check) in [("/dcmd", command), ("/dhttp", http)] {
        let r = marathon
            .send("POST", "/v2/apps", Some(&docker_app(id, check)))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let mut old = vec![];
    for app in ["/dcmd", "/dhttp"] {
        let task = wait_healthy(&marathon, app).await;
        let id = task["id"].as_str().unwrap().to_string();
        // Healthy as the agent said, in the master's statuses.
        let master_task = cluster.master_task(&id).await.expect("the master knows it");
        assert_eq!(master_task.state(), "TASK_RUNNING");
        old.push((app, id));
    }
    // Both checks fail once `ok` is gone from the container: both tasks are replaced.
    for (_, id) in &old {
        let container = container_of(&cluster, 0, id).await;
        let (ok, _, err) = docker(&["exec", &container, "rm", "/www/ok"]);
        assert!(ok, "docker exec rm: {err}");
    }
    for (app, id) in &old {
        let new = wait_replaced(&marathon, app, id).await;
        assert_ne!(new["id"], id.as_str());
    }
}
