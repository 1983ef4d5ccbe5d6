//! Pods end to end: Marathon's `/v2/pods` launches a pod's containers as one task group, and
//! the agent runs them as Docker containers that share one network namespace, so one
//! container reaches the other on 127.0.0.1. A health check that only passes once the
//! client got the server's page makes the instance STABLE; the pod scales, an instance is
//! killed and replaced, and deleting the pod leaves no container behind.

use std::time::Duration;

use mesos_tests::docker::{
    containers_labelled, docker_cluster, ContainerCleanup, AGENT_LABEL, IMAGE,
};
use mesos_tests::eventually;
use mesos_tests::http;
use mesos_tests::marathon::Marathon;
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(90);

/// A web server and a client that fetches its page over localhost into a shared volume;
/// the client is healthy only once it has the page.
fn pod(instances: u32) -> Value {
    json!({
        "id": "/shop/web",
        "scaling": {"kind": "fixed", "instances": instances},
        "containers": [
            {"name": "server", "resources": {"cpus": 0.1, "mem": 32},
             "image": {"kind": "DOCKER", "id": IMAGE},
             "exec": {"command": {"shell":
                "mkdir -p /www && echo hello-from-server > /www/index.html && exec httpd -f -p 8080 -h /www"}},
             "endpoints": [{"name": "http", "containerPort": 8080, "hostPort": 0, "protocol": ["tcp"]}],
             "healthCheck": {"http": {"endpoint": "http", "path": "/"},
                             "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 1,
                             "delaySeconds": 0}},
            {"name": "client", "resources": {"cpus": 0.1, "mem": 32},
             "image": {"kind": "DOCKER", "id": IMAGE},
             "exec": {"command": {"shell":
                "while true; do wget -qO /shared/got.tmp http://127.0.0.1:8080/ && mv /shared/got.tmp /shared/got && cat /shared/got; sleep 1; done"}},
             "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
             "healthCheck": {"exec": {"command": {"shell": "grep -q hello-from-server /shared/got"}},
                             "gracePeriodSeconds": 30, "intervalSeconds": 2, "timeoutSeconds": 1,
                             "delaySeconds": 0}}
        ],
        "networks": [{"mode": "container/bridge"}],
        "volumes": [{"name": "shared"}]
    })
}

/// The pod's status once it is STABLE with `n` stable instances.
async fn wait_stable(marathon: &Marathon, n: usize) -> Value {
    eventually(&format!("{n} stable instances"), LONG, async || {
        let r = marathon.get("/v2/pods/shop/web::status").await;
        let status = r.json();
        let instances = status["instances"].as_array()?;
        let stable = instances.iter().filter(|i| i["status"] == "STABLE").count();
        (status["status"] == "STABLE" && instances.len() == n && stable == n).then_some(status)
    })
    .await
}

fn pod_containers(agent_id: &str) -> Vec<String> {
    containers_labelled(AGENT_LABEL, agent_id)
}

#[tokio::test]
async fn a_pods_containers_talk_over_localhost_scale_and_leave_nothing_behind() {
    let cluster = docker_cluster().await;
    let agent_id = cluster.agent_id(0).await;
    let _cleanup = ContainerCleanup::new(&agent_id);
    let marathon = Marathon::start(&cluster, &[]).await;

    // Two containers on one port: refused, nothing stored.
    let mut clash = pod(1);
    clash["containers"][1]["endpoints"] = json!([{"name": "other", "containerPort": 8080}]);
    let r = marathon.send("POST", "/v2/pods", Some(&clash)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["message"], "Object is not valid");
    assert_eq!(
        r.json()["details"],
        json!([{"path": "/", "errors": ["Container ports are unique"]}])
    );
    assert_eq!(marathon.get("/v2/pods").await.json(), json!([]));

    let r = marathon.send("POST", "/v2/pods", Some(&pod(1))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("Marathon-Deployment-Id").is_some());
    assert_eq!(r.header("Location"), Some("/shop/web"));
    let created = r.json();
    assert_eq!(created["id"], "/shop/web");
    assert_eq!(created["scaling"], json!({"kind": "fixed", "instances": 1}));
    assert!(created["version"]
        .as_str()
        .is_some_and(|v| v.ends_with('Z')));
    let r = marathon.send("POST", "/v2/pods", Some(&pod(1))).await;
    assert_eq!(r.status, 409, "{}", r.body);

    // STABLE needs both health checks: the client's passes only once it got the page
    // from the server over 127.0.0.1.
    let status = wait_stable(&marathon, 1).await;
    assert_eq!(status["id"], "/shop/web");
    assert_eq!(status["spec"]["id"], "/shop/web");
    let instance = &status["instances"][0];
    for key in [
        "id",
        "statusSince",
        "agentHostname",
        "agentId",
        "resources",
        "specReference",
        "lastUpdated",
        "lastChanged",
    ] {
        assert!(instance.get(key).is_some(), "{key} in {instance}");
    }
    let containers = instance["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "{instance}");
    for c in containers {
        assert_eq!(c["status"], "TASK_RUNNING", "{c}");
        assert!(c["containerId"]
            .as_str()
            .unwrap()
            .ends_with(c["name"].as_str().unwrap()));
    }
    let server = containers.iter().find(|c| c["name"] == "server").unwrap();
    assert_eq!(server["endpoints"][0]["name"], "http");
    assert_eq!(server["endpoints"][0]["healthy"], true);
    let host_port = server["endpoints"][0]["allocatedHostPort"]
        .as_u64()
        .unwrap();

    // The endpoint's host port is published by the pod's network container.
    let page = http::get(&format!("http://127.0.0.1:{host_port}/")).await;
    assert_eq!(page.body.trim(), "hello-from-server");
    // What the client got over localhost, in its log and in the shared volume.
    let client_task = containers.iter().find(|c| c["name"] == "client").unwrap()["containerId"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = cluster.sandbox_dir(0, &client_task).await;
    let log = std::fs::read_to_string(format!("{dir}/tasks/{client_task}/stdout")).unwrap();
    assert!(log.contains("hello-from-server"), "client stdout: {log}");
    let shared = std::fs::read_to_string(format!("{dir}/volumes/shared/got")).unwrap();
    assert_eq!(shared.trim(), "hello-from-server");
    assert_eq!(
        pod_containers(&agent_id).len(),
        3,
        "a network container and two"
    );

    // Pods are not apps; a pod is listed and versioned on /v2/pods.
    assert_eq!(marathon.get("/v2/apps").await.json()["apps"], json!([]));
    assert_eq!(
        marathon
            .get("/v2/pods")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Scale to two.
    let r = marathon
        .send("PUT", "/v2/pods/shop/web", Some(&pod(2)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let status = wait_stable(&marathon, 2).await;
    let ports: Vec<u64> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let server = i["containers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "server")
                .unwrap();
            server["endpoints"][0]["allocatedHostPort"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_ne!(ports[0], ports[1]);
    assert_eq!(pod_containers(&agent_id).len(), 6);
    let versions = marathon.get("/v2/pods/shop/web::versions").await.json();
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    let old = marathon
        .get(&format!(
            "/v2/pods/shop/web::versions/{}",
            versions[1].as_str().unwrap()
        ))
        .await;
    assert_eq!(old.json()["scaling"]["instances"], 1, "{}", old.body);

    // A killed instance is replaced.
    let killed = status["instances"][0]["id"].as_str().unwrap().to_string();
    let r = marathon
        .send(
            "DELETE",
            &format!("/v2/pods/shop/web::instances/{killed}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["instanceId"]["idString"], killed.as_str());
    eventually("the killed instance replaced", LONG, async || {
        let status = wait_stable(&marathon, 2).await;
        let ids: Vec<&str> = status["instances"]
            .as_array()?
            .iter()
            .filter_map(|i| i["id"].as_str())
            .collect();
        (!ids.contains(&killed.as_str())).then_some(())
    })
    .await;

    // Deleting the pod stops every container, the network containers included.
    let r = marathon.send("DELETE", "/v2/pods/shop/web", None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(r.header("Marathon-Deployment-Id").is_some());
    eventually("no container left", LONG, async || {
        pod_containers(&agent_id).is_empty().then_some(())
    })
    .await;
    let r = marathon.get("/v2/pods/shop/web").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "Pod '/shop/web' does not exist");
}
