//! The agent's guards on Docker tasks (`--docker_allow_privileged`,
//! `--allowed_host_path_prefixes`) against the real Docker daemon: a privileged container
//! and a host path outside the allowed prefixes are refused with TASK_ERROR and a reason,
//! and no container is created; a host path inside a prefix runs.

use std::time::Duration;

use mesos_tests::cluster::{ClusterOptions, DEFAULT_AGENT_RESOURCES};
use mesos_tests::docker::*;
use mesos_tests::*;
use serde_json::{json, Value};

const LAUNCH: Duration = Duration::from_secs(30);

fn with_host_volume(mut task: Value, host_path: &str) -> Value {
    task["container"]["volumes"] =
        json!([{"container_path": "/mnt/host", "host_path": host_path, "mode": "RW"}]);
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_containers_and_foreign_host_paths_are_refused() {
    ensure_image();
    let allowed = tempfile::tempdir().expect("temp dir");
    std::fs::write(allowed.path().join("marker"), "inside-the-prefix\n").unwrap();
    let mut agent_flags = docker_agent_flags();
    agent_flags.push(format!(
        "--allowed_host_path_prefixes={}",
        allowed.path().display()
    ));
    let cluster = mesos_tests::cluster::Cluster::start_with(ClusterOptions {
        agent_resources: DEFAULT_AGENT_RESOURCES.to_string(),
        agent_flags,
        ..ClusterOptions::default()
    })
    .await;
    let mut sched = cluster.subscribe("guards").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);

    let privileged = unique_id("privileged");
    let root_mount = unique_id("root-mount");
    let escape = unique_id("escape");
    let inside = unique_id("inside");
    let mut privileged_task = docker_task(&privileged, &agent_id, IMAGE, Some("true"), 0.1, 32.0);
    privileged_task["container"]["docker"]["privileged"] = json!(true);
    let tasks = vec![
        privileged_task,
        with_host_volume(
            docker_task(&root_mount, &agent_id, IMAGE, Some("true"), 0.1, 32.0),
            "/",
        ),
        with_host_volume(
            docker_task(&escape, &agent_id, IMAGE, Some("true"), 0.1, 32.0),
            &format!("{}/../..", allowed.path().display()),
        ),
        with_host_volume(
            docker_task(
                &inside,
                &agent_id,
                IMAGE,
                Some("cat /mnt/host/marker"),
                0.1,
                32.0,
            ),
            &allowed.path().display().to_string(),
        ),
    ];
    sched.launch(&offer, tasks).await;
    for (task_id, needle) in [
        (&privileged, "privileged containers are not allowed"),
        (
            &root_mount,
            "outside the agent's --allowed_host_path_prefixes",
        ),
        (&escape, "must not contain '..'"),
    ] {
        let error = sched.terminal_update(task_id, LAUNCH).await;
        assert_eq!(state_of(&error), "TASK_ERROR", "{task_id}: {error}");
        assert_eq!(error["reason"], "REASON_TASK_INVALID", "{error}");
        assert!(
            error["message"].as_str().unwrap_or("").contains(needle),
            "{task_id}: {error}"
        );
    }
    let finished = sched.terminal_update(&inside, LAUNCH).await;
    assert_eq!(state_of(&finished), "TASK_FINISHED", "{finished}");
    let out = cluster.read_sandbox_file(0, &inside, "stdout").await;
    assert!(out.contains("inside-the-prefix"), "{out}");
    // Only the allowed task ever got a container.
    assert!(containers_labelled(AGENT_LABEL, &agent_id).len() <= 1);
}
