//! marathon-lb with the real Marathon, agent, Docker and HAProxy: an app answers through
//! its service port while it scales with no failed request, a task being killed stops
//! getting traffic while it still runs, a rolling restart loses no request, and bad labels
//! leave other apps served.

use std::time::Duration;

use mesos_tests::cluster::{Cluster, ClusterOptions};
use mesos_tests::docker::{docker_cluster, ContainerCleanup, IMAGE};
use mesos_tests::eventually;
use mesos_tests::marathon::{task_ids, Marathon};
use mesos_tests::marathon_lb::{drained_web_app, get, servers_of, LoadClient, MarathonLb};
use serde_json::json;

const LONG: Duration = Duration::from_secs(60);

/// A BRIDGE Docker app whose page is its task id; busybox httpd runs as the container's
/// PID 1, which ignores SIGTERM, so a killed task serves until the grace period ends.
fn docker_web(id: &str, grace: u32) -> serde_json::Value {
    json!({
        "id": id, "cpus": 0.1, "mem": 32, "instances": 1,
        "cmd": "mkdir -p /www && echo $MESOS_TASK_ID > /www/index.html && exec busybox httpd -f -p 8080 -h /www",
        "labels": {"HAPROXY_GROUP": "external"},
        "taskKillGracePeriodSeconds": grace,
        "container": {"type": "DOCKER", "docker": {"image": IMAGE, "network": "BRIDGE",
            "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 0, "protocol": "tcp"}]}}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_app_scales_behind_its_service_port_and_a_killed_task_drains_first() {
    let cluster = docker_cluster().await;
    let _cleanup = ContainerCleanup::new(&cluster.agent_id(0).await);
    let marathon = Marathon::start(&cluster, &[]).await;
    let lb = MarathonLb::start(cluster.root(), &marathon, &[]).await;

    let r = marathon
        .send("POST", "/v2/apps", Some(&docker_web("/lbweb", 6)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let service_port = r.json()["container"]["portMappings"][0]["servicePort"]
        .as_u64()
        .unwrap() as u16;
    eventually("the app through its service port", LONG, async || {
        get(&lb.addr, service_port)
            .await
            .ok()
            .filter(|b| b.contains("lbweb"))
    })
    .await;

    let client = LoadClient::start(&lb.addr, service_port, 100);
    let r = marathon
        .send(
            "PUT",
            "/v2/apps/lbweb?force=true",
            Some(&json!({"instances": 3})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tasks = marathon.wait_running("/lbweb", 3, LONG).await;
    lb.wait_servers(&format!("lbweb_{service_port}"), 3, LONG)
        .await;
    let ids: Vec<String> = tasks
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    eventually("answers from all three tasks", LONG, async || {
        let recent: Vec<String> = client
            .samples()
            .into_iter()
            .rev()
            .take(100)
            .filter_map(|s| s.result.ok())
            .collect();
        ids.iter().all(|id| recent.contains(id)).then_some(())
    })
    .await;

    // Kill one (scaling down): Marathon reports it killing at once, the container serves
    // for the 6 s grace period; the load balancer must stop sending to it long before.
    let victim = ids[0].clone();
    let killed_at = client.started.elapsed();
    let r = marathon
        .send(
            "DELETE",
            &format!("/v2/apps/lbweb/tasks/{victim}?scale=true"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    lb.wait_servers(&format!("lbweb_{service_port}"), 2, LONG)
        .await;
    let out_of_rotation = client.started.elapsed() - killed_at;
    eventually("the killed task gone from Marathon", LONG, async || {
        (marathon.tasks("/lbweb").await.len() == 2).then_some(())
    })
    .await;
    let ended = client.started.elapsed() - killed_at;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let samples = client.finish().await;

    eprintln!(
        "{} requests; the killed task out of rotation after {out_of_rotation:?}, ended after {ended:?}",
        samples.len()
    );
    let failed: Vec<_> = samples.iter().filter(|s| s.result.is_err()).collect();
    assert!(samples.len() > 200, "{} requests", samples.len());
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
    let last_to_victim = samples
        .iter()
        .filter(|s| s.result.as_deref() == Ok(victim.as_str()))
        .map(|s| s.sent)
        .max()
        .unwrap();
    assert!(
        last_to_victim < killed_at + out_of_rotation + Duration::from_millis(500),
        "the victim got a request {:?} after the kill; out of rotation after {out_of_rotation:?}",
        last_to_victim.saturating_sub(killed_at)
    );
    assert!(
        out_of_rotation + Duration::from_secs(2) < ended,
        "out of rotation after {out_of_rotation:?}, yet the task ended after {ended:?}: no drain"
    );
    let r = marathon
        .send("DELETE", "/v2/apps/lbweb?force=true", None)
        .await;
    assert_eq!(r.status, 200);
}

/// Marathon replaces the instances one by one (a new one healthy, then an old one killed);
/// each old task, reported TASK_KILLING, is drained through HAProxy's runtime API at once
/// and serves what it has until SIGKILL at the end of its grace period. The client, one
/// new connection per request, must see every request answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_loses_no_request() {
    // Host ports of its own: the Docker test beside it publishes ports of the default
    // range, and Docker's NAT would take connections meant for these tasks.
    let cluster = Cluster::start_with(ClusterOptions {
        agent_resources: "cpus:2;mem:1024;disk:1024;ports:[31500-31600]".to_string(),
        ..ClusterOptions::default()
    })
    .await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let lb = MarathonLb::start(cluster.root(), &marathon, &["--group", "*"]).await;
    let r = marathon
        .send(
            "POST",
            "/v2/apps",
            Some(&drained_web_app(cluster.root(), "/rollweb", 3, 5)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let port = r.json()["portDefinitions"][0]["port"].as_u64().unwrap() as u16;
    let backend = format!("rollweb_{port}");
    let old = task_ids(&marathon.wait_running("/rollweb", 3, LONG).await);
    if tokio::time::timeout(LONG, lb.wait_servers(&backend, 3, LONG * 2))
        .await
        .is_err()
    {
        panic!(
            "3 servers in {backend}: timed out after {LONG:?}\ntasks: {:#?}\nconfig:\n{}\nmarathon-lb:\n{}",
            marathon.tasks("/rollweb").await,
            lb.config(),
            lb.proc.stderr()
        );
    }
    // The file is written before the reload: wait for HAProxy to serve it.
    eventually("the app through its service port", LONG, async || {
        get(&lb.addr, port).await.ok()
    })
    .await;

    let client = LoadClient::start(&lb.addr, port, 100);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = marathon
        .send(
            "PUT",
            "/v2/apps/rollweb?force=true",
            Some(&json!({"env": {"ROUND": "1"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    lb.wait_replaced(&marathon, "/rollweb", &backend, &old, 3, LONG)
        .await;
    // Past the last old task's grace period: whatever it had must have been answered.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let samples = client.finish().await;

    let failed: Vec<_> = samples.iter().filter(|s| s.result.is_err()).collect();
    eprintln!("{} requests, {} failed", samples.len(), failed.len());
    assert!(samples.len() > 300, "{} requests", samples.len());
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}\nmarathon-lb:\n{}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)],
        lb.proc.stderr()
    );
    // The old tasks served before the roll (all of them, unless one died on its own on a
    // loaded machine and Marathon replaced it), and only new ones answer now.
    let answered: std::collections::BTreeSet<&str> = samples
        .iter()
        .filter_map(|s| s.result.as_deref().ok())
        .collect();
    assert!(
        old.iter().any(|id| answered.contains(id.as_str())),
        "{answered:?}"
    );
    let new = task_ids(&marathon.tasks("/rollweb").await);
    let recent: Vec<&str> = samples[samples.len() - 100..]
        .iter()
        .filter_map(|s| s.result.as_deref().ok())
        .collect();
    assert!(
        recent.iter().all(|id| new.iter().any(|n| n == id)),
        "{recent:?}"
    );
    // The old tasks left through the runtime API, not one reload later.
    let log = lb.proc.stderr();
    let drained = log
        .lines()
        .filter(|l| l.contains(&format!("set server {backend}/")) && l.contains("state drain"))
        .count();
    assert!(drained >= 1, "no drain through the runtime API:\n{log}");
}

#[tokio::test]
async fn bad_labels_and_other_groups_leave_the_good_app_served() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let lb = MarathonLb::start(cluster.root(), &marathon, &["--group", "external"]).await;
    let sleeper = |id: &str, labels: serde_json::Value| {
        json!({"id": id, "cmd": "sleep 1000", "cpus": 0.05, "mem": 16, "instances": 1,
               "portDefinitions": [{"port": 0}], "labels": labels})
    };
    let apps = [
        sleeper(
            "/badvhost",
            json!({"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "my app.example.com"}),
        ),
        sleeper(
            "/badmode",
            json!({"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "udp"}),
        ),
        sleeper("/internal", json!({"HAPROXY_GROUP": "internal"})),
        json!({"id": "/good", "cmd": "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
               "cpus": 0.05, "mem": 32, "instances": 1, "portDefinitions": [{"port": 0}],
               "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "good.example.com"}}),
    ];
    let mut good_port = 0;
    for app in &apps {
        let r = marathon.send("POST", "/v2/apps", Some(app)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        good_port = r.json()["portDefinitions"][0]["port"].as_u64().unwrap() as u16;
    }
    for app in &apps {
        marathon
            .wait_running(app["id"].as_str().unwrap(), 1, LONG)
            .await;
    }
    eventually("the good app through its service port", LONG, async || {
        get(&lb.addr, good_port)
            .await
            .ok()
            .filter(|b| b.contains("Directory listing"))
    })
    .await;
    // Once every app runs, the configuration holds the good app alone.
    let config = lb.wait_servers(&format!("good_{good_port}"), 1, LONG).await;
    for left_out in ["badvhost", "badmode", "internal"] {
        assert!(!config.contains(left_out), "{left_out} in\n{config}");
    }
    assert_eq!(servers_of(&config, &format!("good_{good_port}")).len(), 1);
    assert!(config.contains("acl host_good_example_com_good hdr(host) -i good.example.com"));
    let log = eventually("the skipped ports in the log", LONG, async || {
        let log = lb.proc.stderr();
        (log.contains("HAPROXY_0_VHOST") && log.contains("HAPROXY_0_MODE")).then_some(log)
    })
    .await;
    assert!(log.contains("app /badvhost"), "{log}");
    // The virtual host routes on the shared HTTP frontend too.
    let r = reqwest::Client::new()
        .get(format!("http://{}:{}/", lb.addr, lb.vhost_port))
        .header("Host", "good.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
