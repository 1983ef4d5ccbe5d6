//! The Docker containerizer against this machine's real Docker daemon: BRIDGE networking with
//! port mappings, limits, logs, kills (ours and from outside), bad images and bad tasks, OOM,
//! agent restarts with running containers, and mesos-execute with --docker_image.
//!
//! Every test removes the containers labelled with its agent's id when it ends, pass or fail.

use std::time::{Duration, Instant};

use mesos_tests::cluster::find_master_task;
use mesos_tests::docker::*;
use mesos_tests::*;
use serde_json::Value;

/// How long a launch may take to report RUNNING (creating a container takes ~0.5 s here).
const LAUNCH: Duration = Duration::from_secs(30);

/// Follows the task's updates until a terminal one, acknowledging each; returns them all,
/// without the re-sends of an update acknowledged late.
async fn updates_until_terminal(sched: &mut Scheduler, task_id: &str) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let status = sched
            .wait_for_update(task_id, "an UPDATE", LAUNCH, |_| true)
            .await;
        if status.get("uuid").is_some() {
            assert_eq!(sched.acknowledge(&status).await, 202);
        }
        let terminal = is_terminal(state_of(&status));
        if seen
            .iter()
            .any(|s| s["uuid"].is_string() && s["uuid"] == status["uuid"])
        {
            continue;
        }
        seen.push(status);
        if terminal {
            return seen;
        }
    }
}

fn states(updates: &[Value]) -> Vec<&str> {
    updates.iter().map(state_of).collect()
}

/// Plain HTTP GET of `http://127.0.0.1:<port>/`; the body on a 200.
async fn http_get_local(port: u64) -> Option<String> {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    if response.status().as_u16() != 200 {
        return None;
    }
    response.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_httpd_is_reachable_limited_logged_and_killed() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-httpd").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let host_port = first_port(&offer);
    let task_id = unique_id("httpd");
    let command = "mkdir -p /www && echo hello-from-docker > /www/index.html \
                   && echo httpd-starting && echo to-stderr >&2 \
                   && exec busybox httpd -f -p 8080 -h /www";
    let task = with_resource(
        with_port_mapping(
            with_network(
                docker_task(&task_id, &agent_id, IMAGE, Some(command), 0.5, 64.0),
                "BRIDGE",
            ),
            host_port,
            8080,
        ),
        ports_resource(host_port, host_port),
    );
    sched.launch(&offer, vec![task]).await;

    let starting = sched
        .await_state_within(&task_id, "TASK_STARTING", LAUNCH)
        .await;
    assert_eq!(id_value(&starting["agent_id"]), agent_id);
    let running = sched
        .await_state_within(&task_id, "TASK_RUNNING", LAUNCH)
        .await;
    let network = &running["container_status"]["network_infos"][0];
    assert_eq!(
        network["port_mappings"][0]["host_port"].as_u64(),
        Some(host_port),
        "{running}"
    );
    assert!(
        network["ip_addresses"][0]["ip_address"].as_str().is_some(),
        "TASK_RUNNING carries the container's address: {running}"
    );

    // Reachable from the host through the assigned host port.
    let body = eventually("httpd through the host port", TIMEOUT, async || {
        http_get_local(host_port).await
    })
    .await;
    assert_eq!(body.trim(), "hello-from-docker");

    // Limits, name and labels as docker inspect shows them.
    let name = container_of(&cluster, 0, &task_id).await;
    let inspected = inspect(&name).expect("the task's container exists");
    let host_config = &inspected["HostConfig"];
    assert_eq!(host_config["CpuShares"], 512, "{host_config}");
    assert_eq!(host_config["CpuPeriod"], 100_000, "{host_config}");
    assert_eq!(host_config["CpuQuota"], 50_000, "{host_config}");
    assert_eq!(host_config["Memory"], 64 << 20, "{host_config}");
    assert_eq!(host_config["NetworkMode"], "bridge");
    let labels = &inspected["Config"]["Labels"];
    assert_eq!(labels["mesos.task_id"], task_id.as_str());
    assert_eq!(labels["mesos.agent_id"], agent_id.as_str());
    assert_eq!(labels["mesos.framework_id"], sched.framework_id.as_str());

    // The agent's /state shows the container.
    let executor = cluster.agent_executor(0, &task_id).await.unwrap();
    assert_eq!(
        format!("mesos-{}", executor["container"].as_str().unwrap()),
        name
    );
    assert_eq!(
        executor["tasks"][0]["container"]["type"], "DOCKER",
        "{executor}"
    );
    assert_eq!(executor["tasks"][0]["container"]["docker"]["image"], IMAGE);

    // Logs in the sandbox, through /files/read.
    cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", "httpd-starting")
        .await;
    cluster
        .wait_for_sandbox_text(0, &task_id, "stderr", "to-stderr")
        .await;

    // Kill: TASK_KILLED, and the container is gone.
    sched.kill(&task_id, &agent_id).await;
    let killed = sched
        .await_state_within(&task_id, "TASK_KILLED", LAUNCH)
        .await;
    assert_eq!(killed["source"], "SOURCE_EXECUTOR", "{killed}");
    eventually(
        "the killed task's container to be removed",
        TIMEOUT,
        async || inspect(&name).is_none().then_some(()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_killed_from_outside_is_reported_promptly() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-outside-kill").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let task_id = unique_id("victim");
    let task = docker_task(&task_id, &agent_id, IMAGE, Some("sleep 1000"), 0.1, 32.0);
    sched.launch(&offer, vec![task]).await;
    sched
        .await_state_within(&task_id, "TASK_RUNNING", LAUNCH)
        .await;

    let name = container_of(&cluster, 0, &task_id).await;
    let killed_at = Instant::now();
    let (ok, _, stderr) = docker(&["kill", &name]);
    assert!(ok, "docker kill: {stderr}");
    let end = sched
        .wait_for_update(
            &task_id,
            "the end of the task",
            Duration::from_secs(10),
            |s| is_terminal(state_of(s)),
        )
        .await;
    let elapsed = killed_at.elapsed();
    assert!(
        matches!(state_of(&end), "TASK_FAILED" | "TASK_KILLED"),
        "{end}"
    );
    assert!(
        end["message"].as_str().unwrap_or("").contains("137"),
        "the exit code is in the message: {end}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "reported after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_fails_with_the_daemons_words() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-missing-image").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let task_id = unique_id("no-image");
    let image = "mesos-test/does-not-exist:1.0";
    let task = docker_task(&task_id, &agent_id, image, Some("true"), 0.1, 32.0);
    sched.launch(&offer, vec![task]).await;
    let updates = updates_until_terminal(&mut sched, &task_id).await;
    let failed = updates.last().unwrap();
    assert_eq!(state_of(failed), "TASK_FAILED", "{:?}", states(&updates));
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{failed}"
    );
    let message = failed["message"].as_str().unwrap_or("");
    assert!(
        message.contains("mesos-test/does-not-exist") && message.len() > 60,
        "the message carries the daemon's error: {message}"
    );
    assert!(containers_labelled(AGENT_LABEL, &agent_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_docker_tasks_give_task_error() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-invalid").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let port = first_port(&offer);

    let bad_name = unique_id("bad-image-name");
    let bad_port = unique_id("bad-port");
    let bad_parameter = unique_id("bad-parameter");
    let tasks = vec![
        docker_task(
            &bad_name,
            &agent_id,
            "UPPER/Case:bad tag!",
            Some("true"),
            0.1,
            32.0,
        ),
        with_resource(
            with_port_mapping(
                with_network(
                    docker_task(&bad_port, &agent_id, IMAGE, Some("true"), 0.1, 32.0),
                    "BRIDGE",
                ),
                port + 1000,
                80,
            ),
            ports_resource(port, port),
        ),
        with_parameter(
            docker_task(&bad_parameter, &agent_id, IMAGE, Some("true"), 0.1, 32.0),
            "log-driver",
            "none",
        ),
    ];
    sched.launch(&offer, tasks).await;
    for (task_id, needle) in [
        (&bad_name, "Invalid Docker image name"),
        (&bad_port, "not in the task's ports resource"),
        (&bad_parameter, "Unsupported Docker parameter 'log-driver'"),
    ] {
        let updates = updates_until_terminal(&mut sched, task_id).await;
        let error = updates.last().unwrap();
        assert_eq!(
            state_of(error),
            "TASK_ERROR",
            "{task_id}: {:?}",
            states(&updates)
        );
        assert_eq!(error["reason"], "REASON_TASK_INVALID", "{error}");
        assert!(
            error["message"].as_str().unwrap_or("").contains(needle),
            "{task_id}: {error}"
        );
    }
    assert!(containers_labelled(AGENT_LABEL, &agent_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_memory_gives_container_limitation_memory() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-oom").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let task_id = unique_id("hog");
    // dd's buffer alone is twice the (minimum, 32 MB) limit.
    let command = "dd if=/dev/zero of=/dev/null bs=64M count=1";
    let task = docker_task(&task_id, &agent_id, IMAGE, Some(command), 0.1, 16.0);
    sched.launch(&offer, vec![task]).await;
    let updates = updates_until_terminal(&mut sched, &task_id).await;
    let failed = updates.last().unwrap();
    assert_eq!(state_of(failed), "TASK_FAILED", "{:?}", states(&updates));
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LIMITATION_MEMORY",
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_entrypoint_and_exit_codes() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-env").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let port = first_port(&offer);

    let env_task = unique_id("env");
    let entrypoint_task = unique_id("entrypoint");
    let failing_task = unique_id("exit3");
    let command = "echo \"task=$MESOS_TASK_ID sandbox=$MESOS_SANDBOX port=$PORT0 pwd=$(pwd)\" \
                   && test -f $MESOS_SANDBOX/stdout";
    let tasks = vec![
        with_resource(
            docker_task(&env_task, &agent_id, IMAGE, Some(command), 0.1, 32.0),
            ports_resource(port, port),
        ),
        // No command value: the image's own command (`/bin/sh`, no input) runs and ends.
        docker_task(&entrypoint_task, &agent_id, IMAGE, None, 0.1, 32.0),
        docker_task(&failing_task, &agent_id, IMAGE, Some("exit 3"), 0.1, 32.0),
    ];
    sched.launch(&offer, tasks).await;
    for (task_id, want) in [
        (&env_task, "TASK_FINISHED"),
        (&entrypoint_task, "TASK_FINISHED"),
        (&failing_task, "TASK_FAILED"),
    ] {
        let updates = updates_until_terminal(&mut sched, task_id).await;
        assert_eq!(
            states(&updates),
            ["TASK_STARTING", "TASK_RUNNING", want],
            "{task_id}: {updates:?}"
        );
        if want == "TASK_FAILED" {
            let message = updates[2]["message"].as_str().unwrap_or("");
            assert_eq!(message, "Container exited with status 3");
        }
    }
    let text = cluster.read_sandbox_file(0, &env_task, "stdout").await;
    assert_eq!(
        text.trim(),
        format!("task={env_task} sandbox=/mnt/mesos/sandbox port={port} pwd=/mnt/mesos/sandbox")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_agent_readopts_running_containers_and_removes_orphans() {
    let mut cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("docker-restart").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let survivor = unique_id("survivor");
    let quitter = unique_id("quitter");
    let tasks = vec![
        docker_task(
            &survivor,
            &agent_id,
            IMAGE,
            Some("echo before; sleep 4; echo after; exec sleep 1000"),
            0.1,
            32.0,
        ),
        docker_task(
            &quitter,
            &agent_id,
            IMAGE,
            Some("sleep 1; exit 3"),
            0.1,
            32.0,
        ),
    ];
    sched.launch(&offer, tasks).await;
    sched
        .await_state_within(&survivor, "TASK_RUNNING", LAUNCH)
        .await;
    sched
        .await_state_within(&quitter, "TASK_RUNNING", LAUNCH)
        .await;
    cluster
        .wait_for_sandbox_text(0, &survivor, "stdout", "before")
        .await;
    let survivor_container = container_of(&cluster, 0, &survivor).await;

    // The master gives a silent agent 3 s (test flags), so the agent stays away for less.
    cluster.kill_agent(0);
    let killed_at = Instant::now();
    // While the agent is away: one task ends, and a container no task owns appears.
    let orphan = format!("mesos-orphan-{}", unique_id("c"));
    let agent_label = format!("{AGENT_LABEL}={agent_id}");
    let (ok, _, stderr) = docker(&[
        "run",
        "-d",
        "--name",
        &orphan,
        "--label",
        &agent_label,
        "--label",
        "mesos.container_id=unknown",
        IMAGE,
        "sleep",
        "1000",
    ]);
    assert!(ok, "docker run of the orphan: {stderr}");
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(killed_at.elapsed())).await;
    cluster.restart_agent(0).await;

    // The task that ended meanwhile is reported with its exit code.
    let ended = sched
        .await_state_within(&quitter, "TASK_FAILED", Duration::from_secs(30))
        .await;
    assert!(
        ended["message"].as_str().unwrap_or("").contains("status 3"),
        "{ended}"
    );
    assert!(
        cluster.agents[0]
            .proc
            .log_tail(200)
            .contains("the container ended while the agent was away"),
        "the quitter should have ended while the agent was down"
    );
    eventually("the orphan container to be removed", TIMEOUT, async || {
        inspect(&orphan).is_none().then_some(())
    })
    .await;
    // The running one is still running, under the same container, and its logs flow again.
    assert!(cluster.agent_runs_task(0, &survivor).await);
    assert_eq!(
        container_of(&cluster, 0, &survivor).await,
        survivor_container
    );
    assert_eq!(
        inspect(&survivor_container).unwrap()["State"]["Running"],
        true
    );
    let text = cluster
        .wait_for_sandbox_text(0, &survivor, "stdout", "after")
        .await;
    assert_eq!(text, "before\nafter\n", "each line once");
    sched
        .expect_none(
            "a terminal update of the survivor",
            Duration::from_secs(1),
            |e| {
                event_type(e) == "UPDATE"
                    && task_id_of(&e["update"]["status"]) == survivor
                    && is_terminal(state_of(&e["update"]["status"]))
            },
        )
        .await;
    let master_view = cluster.master_task(&survivor).await.unwrap();
    assert_eq!(master_view.state(), "TASK_RUNNING");

    // And it is still supervised: a kill ends it.
    sched.kill(&survivor, &agent_id).await;
    sched
        .await_state_within(&survivor, "TASK_KILLED", LAUNCH)
        .await;
    eventually(
        "the survivor's container to be removed",
        TIMEOUT,
        async || inspect(&survivor_container).is_none().then_some(()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_refuses_to_start_without_the_docker_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--master=127.0.0.1:1".to_string(),
        "--ip=127.0.0.1".to_string(),
        format!("--port={}", free_port()),
        format!("--work_dir={}", dir.path().display()),
        "--containerizers=docker,mesos".to_string(),
        format!("--docker_socket={}/no-such.sock", dir.path().display()),
    ];
    let output = run_command(&binary("mesos-agent"), &args, &[], Duration::from_secs(20)).await;
    assert!(
        output.status.is_some_and(|s| !s.success()),
        "the agent must exit with an error\n{output}"
    );
    let text = output.combined();
    assert!(
        text.contains("--docker_socket") && text.contains("no-such.sock"),
        "the message names the flag and the socket\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_execute_runs_a_docker_image() {
    let cluster = docker_cluster().await;
    let agent_id = cluster.agent_id(0).await;
    let _cleanup = ContainerCleanup::new(&agent_id);
    let args: Vec<String> = [
        format!("--master={}", cluster.master_addr()),
        "--name=docker-execute".to_string(),
        "--command=echo hello-from-execute".to_string(),
        format!("--docker_image={IMAGE}"),
        "--containerizer=docker".to_string(),
        "--resources=cpus:0.1;mem:32".to_string(),
    ]
    .into();
    let output = run_command(
        &binary("mesos-execute"),
        &args,
        &[],
        Duration::from_secs(90),
    )
    .await;
    assert!(output.success(), "mesos-execute should exit 0\n{output}");
    assert!(output.combined().contains("TASK_FINISHED"), "{output}");
    let state = cluster.master_state().await;
    let task = find_master_task(&state, "docker-execute").expect("the task in /master/state");
    assert_eq!(task.task["container"]["type"], "DOCKER", "{}", task.task);
    let text = cluster
        .read_sandbox_file(0, "docker-execute", "stdout")
        .await;
    assert_eq!(text.trim(), "hello-from-execute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_outage_does_not_wedge_the_agent() {
    ensure_image();
    let socket_dir = tempfile::tempdir().unwrap();
    let proxy = DaemonProxy::start(
        socket_dir.path().join("docker.sock"),
        "/var/run/docker.sock",
    );
    let cluster = Cluster::start_with(ClusterOptions {
        agent_flags: vec![
            "--containerizers=docker,mesos".to_string(),
            format!("--docker_socket={}", proxy.path.display()),
        ],
        ..ClusterOptions::default()
    })
    .await;
    let mut sched = cluster.subscribe("docker-outage").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let _cleanup = ContainerCleanup::new(&agent_id);
    let steady = unique_id("steady");
    let command = "echo one; sleep 3; echo two; exec sleep 1000";
    let task = docker_task(&steady, &agent_id, IMAGE, Some(command), 0.1, 32.0);
    sched.launch(&offer, vec![task]).await;
    sched
        .await_state_within(&steady, "TASK_RUNNING", LAUNCH)
        .await;
    cluster
        .wait_for_sandbox_text(0, &steady, "stdout", "one")
        .await;
    let container = container_of(&cluster, 0, &steady).await;

    proxy.take_down();
    // The agent keeps working: a command task runs, a Docker task fails with a reason.
    let offer = sched.next_offer().await;
    let plain = unique_id("plain");
    let unlucky = unique_id("unlucky");
    sched
        .launch(
            &offer,
            vec![
                command_task(&plain, &agent_id, "echo fine", 0.1, 32.0),
                docker_task(&unlucky, &agent_id, IMAGE, Some("true"), 0.1, 32.0),
            ],
        )
        .await;
    sched.await_state(&plain, "TASK_FINISHED").await;
    let failed = sched.await_state(&unlucky, "TASK_FAILED").await;
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{failed}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.bring_back();

    // The running container is supervised again: its logs flow on, without repeats...
    let text = cluster
        .wait_for_sandbox_text(0, &steady, "stdout", "two")
        .await;
    assert_eq!(text, "one\ntwo\n");
    assert!(cluster.agent_runs_task(0, &steady).await);
    // ...and its end is seen.
    let (ok, _, stderr) = docker(&["kill", &container]);
    assert!(ok, "docker kill: {stderr}");
    let end = sched
        .wait_for_update(
            &steady,
            "the end of the task",
            Duration::from_secs(10),
            |s| is_terminal(state_of(s)),
        )
        .await;
    assert_eq!(state_of(&end), "TASK_FAILED", "{end}");
}
