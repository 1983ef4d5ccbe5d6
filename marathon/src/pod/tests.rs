use serde_json::{json, Value};

use super::*;
use crate::app::update::from_body;

fn pod(body: Value) -> PodDefinition {
    from_body(body).expect("a pod body")
}

fn errors(body: Value) -> Vec<(String, Vec<String>)> {
    validate(&pod(body), |c| match c.get(1).map(String::as_str) {
        Some("UNIQUE" | "CLUSTER") => Ok(()),
        _ => Err("bad constraint".into()),
    })
    .into_iter()
    .map(|v| (v.path, v.errors))
    .collect()
}

/// Two containers sharing a network and a volume: a web server and its client.
fn web_and_client() -> Value {
    json!({
        "id": "/shop/web",
        "scaling": {"kind": "fixed", "instances": 2},
        "containers": [
            {"name": "web", "resources": {"cpus": 0.2, "mem": 32},
             "image": {"kind": "DOCKER", "id": "mesos-test/busybox:latest"},
             "exec": {"command": {"shell": "httpd -f -p 8080"}},
             "endpoints": [{"name": "http", "containerPort": 8080, "hostPort": 0, "protocol": ["tcp"]}],
             "healthCheck": {"http": {"endpoint": "http", "path": "/"}, "intervalSeconds": 2, "timeoutSeconds": 1},
             "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
            {"name": "client", "resources": {"cpus": 0.1, "mem": 16},
             "image": {"kind": "DOCKER", "id": "mesos-test/busybox:latest"},
             "exec": {"command": {"shell": "wget -qO- http://127.0.0.1:8080/"}},
             "volumeMounts": [{"name": "shared", "mountPath": "/shared", "readOnly": true}]}
        ],
        "networks": [{"mode": "container/bridge"}],
        "volumes": [{"name": "shared"}]
    })
}

#[test]
fn a_minimal_pod_gets_marathons_defaults() {
    let p = pod(json!({
        "id": "/simplepod",
        "containers": [{"name": "sleep1", "exec": {"command": {"shell": "sleep 1000"}},
                        "resources": {"cpus": 0.1, "mem": 32}}]
    }));
    assert_eq!(p.scaling.instances, 1);
    assert_eq!(p.network_mode(), NetworkMode::Host);
    assert_eq!(p.scheduling.backoff.max_launch_delay, 3600.0);
    assert_eq!(p.executor_resources, ExecutorResources::default());
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["scaling"], json!({"kind": "fixed", "instances": 1}));
    assert_eq!(v["networks"], json!([{"mode": "host"}]));
    assert_eq!(
        v["scheduling"]["backoff"],
        json!({"backoff": 1.0, "backoffFactor": 1.15, "maxLaunchDelay": 3600.0})
    );
    assert_eq!(
        v["scheduling"]["upgrade"],
        json!({"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0})
    );
    assert_eq!(
        v["executorResources"],
        json!({"cpus": 0.1, "mem": 32.0, "disk": 10.0})
    );
    let c = &v["containers"][0];
    assert_eq!(c["exec"], json!({"command": {"shell": "sleep 1000"}}));
    assert_eq!(
        c["resources"],
        json!({"cpus": 0.1, "mem": 32.0, "disk": 0.0, "gpus": 0})
    );
    assert!(errors(json!({
        "id": "/simplepod",
        "containers": [{"name": "sleep1", "exec": {"command": {"shell": "sleep 1000"}}}]
    }))
    .is_empty());
}

#[test]
fn a_pod_round_trips_through_its_json() {
    let p = pod(web_and_client());
    let again: PodDefinition = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(again, p);
    assert!(
        errors(web_and_client()).is_empty(),
        "{:?}",
        errors(web_and_client())
    );
}

#[test]
fn a_pod_is_a_run_spec_for_the_rest_of_marathon() {
    let p = pod(web_and_client());
    let app = p.to_run_spec();
    assert_eq!(app.id, PathId::parse("/shop/web"));
    assert_eq!(app.instances, 2);
    assert!((app.cpus - (0.2 + 0.1 + EXECUTOR_CPUS)).abs() < 1e-9);
    assert_eq!(app.mem, 32.0 + 16.0 + EXECUTOR_MEM);
    assert_eq!(app.disk, EXECUTOR_DISK);
    // The one endpoint with a host port, as a required (any, since 0) host port.
    assert!(app.require_ports);
    assert_eq!(app.port_definitions.len(), 1);
    assert_eq!(app.port_definitions[0].port, 0);
    assert_eq!(app.health_checks.len(), 1);
    assert_eq!(
        app.health_checks[0].protocol,
        crate::app::health_check::Protocol::MesosHttp
    );
    assert_eq!(app.pod.as_deref(), Some(&p));
    // Scaling is a scale, anything else a new configuration.
    let mut scaled = p.clone();
    scaled.scaling.instances = 3;
    scaled.version = "later".into();
    assert!(app.is_only_scale_change(&scaled.to_run_spec()));
    let mut changed = p.clone();
    changed.containers[1].resources.mem = 64.0;
    assert!(!app.is_only_scale_change(&changed.to_run_spec()));
}

#[test]
fn two_containers_on_one_port_are_refused() {
    let mut body = web_and_client();
    body["containers"][1]["endpoints"] = json!([{"name": "other", "containerPort": 8080}]);
    assert_eq!(
        errors(body),
        vec![(
            "/".to_string(),
            vec!["Container ports are unique".to_string()]
        )]
    );
    let mut body = web_and_client();
    body["networks"] = json!([{"mode": "host"}]);
    body["containers"][0]["endpoints"] = json!([{"name": "http", "hostPort": 8080}]);
    body["containers"][1]["endpoints"] = json!([{"name": "b", "hostPort": 8080}]);
    assert_eq!(
        errors(body),
        vec![("/".to_string(), vec!["Host ports are unique".to_string()])]
    );
}

#[test]
fn every_failing_path_is_listed() {
    let body = json!({
        "id": "/Bad_Id",
        "scaling": {"kind": "fixed", "instances": -1},
        "containers": [
            {"name": "Web", "resources": {"cpus": -1},
             "endpoints": [{"name": "http", "hostPort": 80}],
             "healthCheck": {"http": {"endpoint": "nope"}, "tcp": {"endpoint": "http"}},
             "volumeMounts": [{"name": "missing", "mountPath": "/m"}]},
            {"name": "Web", "exec": {"command": {"shell": "true"}}}
        ],
        "networks": [{"mode": "container/bridge"}],
        "volumes": [{"name": "unused"}],
        "scheduling": {"upgrade": {"minimumHealthCapacity": 2},
                       "placement": {"constraints": [["hostname", "NOPE"]]}}
    });
    let found: Vec<String> = errors(body).into_iter().map(|(p, _)| p).collect();
    for path in [
        "/id",
        "/containers",
        "/containers(0)/name",
        "/containers(0)/resources/cpus",
        "/containers(0)/endpoints(0)/containerPort",
        "/containers(0)/exec",
        "/containers(0)/healthCheck",
        "/containers(0)/healthCheck/http/endpoint",
        "/containers(0)/volumeMounts(0)/name",
        "/volumes(0)",
        "/scaling/instances",
        "/scheduling/upgrade/minimumHealthCapacity",
        "/scheduling/placement/constraints(0)",
    ] {
        assert!(found.contains(&path.to_string()), "{path} not in {found:?}");
    }
}

#[test]
fn host_networking_needs_host_ports_and_no_container_ports() {
    let body = json!({
        "id": "/p",
        "containers": [{"name": "a", "exec": {"command": {"shell": "true"}},
                        "endpoints": [{"name": "e", "containerPort": 80}]}]
    });
    let found = errors(body);
    assert!(found.contains(&(
        "/containers(0)/endpoints(0)/hostPort".into(),
        vec!["is required when using host-mode networking".into()]
    )));
    assert!(found.contains(&(
        "/containers(0)/endpoints(0)/containerPort".into(),
        vec!["is not allowed when using host-mode networking".into()]
    )));
}

#[test]
fn wrong_types_give_their_path() {
    let e = from_body::<PodDefinition>(json!({
        "id": "/p", "containers": [{"name": "a", "resources": {"cpus": "lots"}}]
    }))
    .unwrap_err();
    assert_eq!(e.path, "/containers[0]/resources/cpus");
}

#[test]
fn pod_task_ids_name_their_instance_and_container() {
    let id = new_instance_id(&PathId::parse("/shop/web"), uuid::Uuid::nil());
    assert_eq!(id, "shop_web.instance-00000000-0000-0000-0000-000000000000");
    let task = container_task_id(&id, "client");
    assert_eq!(split_task_id(&task), Some((id.as_str(), "client")));
    assert_eq!(
        split_task_id(&format!("{id}._app.1")),
        None,
        "an app's task"
    );
    assert_eq!(split_task_id(&id), None, "the instance itself");
    assert_eq!(
        split_task_id("web.5e8a2c5a-1111-11e7-9a52-0242ac110002"),
        None
    );
}
