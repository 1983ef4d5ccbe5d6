//! ACCEPT with LAUNCH: a command task runs, its updates arrive in order with uuids, the
//! master's state follows it, and the sandbox holds its output.

use mesos_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_runs_to_finished_and_state_follows() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("launch-test").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("sleeper");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "sleep 3", 0.1, 32.0)],
        )
        .await;

    // Updates up to RUNNING, each with a 16-byte uuid, each acknowledged.
    let mut states = Vec::new();
    let running = loop {
        let status = sched.next_update(&task_id).await;
        status_uuid(&status);
        assert_eq!(id_value(&status["agent_id"]), agent_id, "{status}");
        let code = sched.acknowledge(&status).await;
        assert_eq!(code, 202, "ACKNOWLEDGE {status}");
        states.push(state_of(&status).to_string());
        match state_of(&status) {
            "TASK_STAGING" | "TASK_STARTING" => continue,
            "TASK_RUNNING" => break status,
            other => panic!("unexpected {other} before TASK_RUNNING: {status}"),
        }
    };
    assert_eq!(task_id_of(&running), task_id);

    // While it runs, /master/state lists it under the framework's tasks.
    let shown = eventually("the running task in /master/state", TIMEOUT, async || {
        let task = cluster.master_task(&task_id).await?;
        (task.state() == "TASK_RUNNING").then_some(task)
    })
    .await;
    assert!(
        !shown.framework_completed && !shown.task_completed,
        "{shown:?}"
    );
    assert_eq!(shown.framework_id, sched.framework_id);
    assert_eq!(
        shown.task["slave_id"],
        agent_id.as_str(),
        "{:?}",
        shown.task
    );
    assert_eq!(
        shown.task["framework_id"],
        sched.framework_id.as_str(),
        "{:?}",
        shown.task
    );
    // Mesos shows a task's resources as an object of scalar totals (what `mesos ps` reads).
    let resources = &shown.task["resources"];
    assert_eq!(
        resources["cpus"].as_f64(),
        Some(0.1),
        "task resources: {}",
        shown.task
    );
    assert_eq!(
        resources["mem"].as_f64(),
        Some(32.0),
        "task resources: {}",
        shown.task
    );

    let finished = sched.await_state(&task_id, "TASK_FINISHED").await;
    status_uuid(&finished);
    assert_ne!(
        finished["uuid"], running["uuid"],
        "each update has its own uuid"
    );
    states.push("TASK_FINISHED".to_string());
    assert!(
        states.iter().position(|s| s == "TASK_RUNNING")
            < states.iter().position(|s| s == "TASK_FINISHED"),
        "states out of order: {states:?}"
    );

    let done = eventually(
        "the finished task in completed_tasks",
        TIMEOUT,
        async || {
            let task = cluster.master_task(&task_id).await?;
            (task.task_completed && task.state() == "TASK_FINISHED").then_some(task)
        },
    )
    .await;
    assert_eq!(done.framework_id, sched.framework_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_environment_reaches_the_sandbox_stdout() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("env-test").await;
    let offer = sched.next_offer().await;
    let port = first_port(&offer);
    let task_id = unique_id("env");
    let task = with_resource(
        command_task(
            &task_id,
            offer_agent_id(&offer),
            "echo $MESOS_TASK_ID $PORT0",
            0.1,
            32.0,
        ),
        ports_resource(port, port),
    );
    sched.launch(&offer, vec![task]).await;
    sched.await_state(&task_id, "TASK_FINISHED").await;

    let dir = cluster.sandbox_dir(0, &task_id).await;
    let work_dir = cluster.agents[0].work_dir.display().to_string();
    assert!(
        dir.starts_with(&work_dir),
        "sandbox {dir} is not under the agent's work_dir {work_dir}"
    );
    assert!(
        dir.contains(&format!("/frameworks/{}/executors/", sched.framework_id))
            && dir.contains("/runs/"),
        "sandbox {dir} is not laid out as slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<run>"
    );
    let stdout = cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", &format!("{task_id} {port}"))
        .await;
    assert!(
        stdout
            .lines()
            .any(|l| l.trim() == format!("{task_id} {port}")),
        "stdout should hold the line `{task_id} {port}`: {stdout:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_command_gives_task_failed_with_exit_status() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("fail-test").await;
    let offer = sched.next_offer().await;
    let task_id = unique_id("failing");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task_id,
                offer_agent_id(&offer),
                "exit 3",
                0.1,
                32.0,
            )],
        )
        .await;
    let failed = sched.await_state(&task_id, "TASK_FAILED").await;
    let message = failed["message"].as_str().unwrap_or("");
    assert!(
        message.contains('3'),
        "TASK_FAILED message should mention exit status 3: {failed}"
    );
    let shown = eventually("the failed task in /master/state", TIMEOUT, async || {
        let task = cluster.master_task(&task_id).await?;
        (task.state() == "TASK_FAILED").then_some(task)
    })
    .await;
    assert!(shown.task_completed, "{shown:?}");
}
