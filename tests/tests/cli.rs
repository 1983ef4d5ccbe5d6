//! The command-line tools against a real cluster: mesos-execute, mesos ps, mesos-local.

use std::time::Duration;

use mesos_tests::http;
use mesos_tests::process::bin_dir;
use mesos_tests::*;

const RUN_LIMIT: Duration = Duration::from_secs(90);

async fn mesos_execute(master: &str, name: &str, command: &str, extra: &[&str]) -> CommandOutput {
    let mut args = vec![
        format!("--master={master}"),
        format!("--name={name}"),
        format!("--command={command}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run_command(&binary("mesos-execute"), &args, &[], RUN_LIMIT).await
}

/// The output names RUNNING, then FINISHED.
fn assert_ran_to_finished(output: &CommandOutput) {
    assert!(output.success(), "mesos-execute should exit 0\n{output}");
    let text = output.combined();
    let running = text.find("TASK_RUNNING");
    let finished = text.find("TASK_FINISHED");
    assert!(
        running.is_some() && finished.is_some() && running < finished,
        "mesos-execute should print TASK_RUNNING then TASK_FINISHED\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_execute_with_json_runs_to_finished() {
    let cluster = Cluster::start().await;
    let output = mesos_execute(
        &cluster.master_addr(),
        "cluster-test",
        "sleep 2",
        &["--content_type=json"],
    )
    .await;
    assert_ran_to_finished(&output);
    let task = cluster
        .master_task("cluster-test")
        .await
        .or(find_by_name(&cluster, "cluster-test").await)
        .expect("the task in /master/state");
    assert_eq!(task.state(), "TASK_FINISHED", "{task:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_execute_with_protobuf_runs_to_finished() {
    let cluster = Cluster::start().await;
    let output = mesos_execute(&cluster.master_addr(), "cluster-test", "sleep 2", &[]).await;
    assert_ran_to_finished(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_execute_fails_with_failing_command() {
    let cluster = Cluster::start().await;
    let output = mesos_execute(&cluster.master_addr(), "failing-test", "exit 1", &[]).await;
    assert!(
        output.status.is_some_and(|s| !s.success()),
        "mesos-execute should exit non-zero for a failing task\n{output}"
    );
    assert!(output.combined().contains("TASK_FAILED"), "{output}");
}

/// The task named `name`, wherever `/master/state` has it.
async fn find_by_name(cluster: &Cluster, name: &str) -> Option<MasterTask> {
    let state = cluster.master_state().await;
    let id = ["frameworks", "completed_frameworks"]
        .iter()
        .flat_map(|list| state[*list].as_array().cloned().unwrap_or_default())
        .flat_map(|f| {
            let mut tasks = f["tasks"].as_array().cloned().unwrap_or_default();
            tasks.extend(f["completed_tasks"].as_array().cloned().unwrap_or_default());
            tasks
        })
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str().map(str::to_string))?;
    cluster.master_task(&id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_ps_lists_a_running_task() {
    let cluster = Cluster::start().await;
    let name = "ps-listed-task";
    let _execute = Proc::spawn(
        "mesos-execute",
        &binary("mesos-execute"),
        vec![
            format!("--master={}", cluster.master_addr()),
            format!("--name={name}"),
            "--command=sleep 30".to_string(),
        ],
        cluster.root(),
    );
    eventually(
        "the task running in /master/state",
        Duration::from_secs(30),
        async || {
            let task = find_by_name(&cluster, name).await?;
            (task.state() == "TASK_RUNNING").then_some(())
        },
    )
    .await;

    // `mesos ps` is the dispatcher running mesos-ps, found next to it or on PATH.
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = run_command(
        &binary("mesos"),
        &[
            "ps".to_string(),
            format!("--master={}", cluster.master_addr()),
        ],
        &[("PATH".to_string(), path)],
        Duration::from_secs(30),
    )
    .await;
    assert!(output.success(), "`mesos ps` failed\n{output}");
    let header = output
        .stdout
        .lines()
        .find(|l| l.contains("USER"))
        .unwrap_or_else(|| panic!("no header line\n{output}"));
    let columns: Vec<&str> = header.split_whitespace().collect();
    for column in ["USER", "FRAMEWORK", "TASK", "SLAVE", "MEM", "TIME", "CPU"] {
        assert!(
            columns.iter().any(|c| c.starts_with(column)),
            "column {column} missing from {header:?}\n{output}"
        );
    }
    assert!(
        output.stdout.contains(name),
        "`mesos ps` does not list {name}\n{output}"
    );

    // mesos-ps directly gives the same listing.
    let direct = run_command(
        &binary("mesos-ps"),
        &[format!("--master={}", cluster.master_addr())],
        &[],
        Duration::from_secs(30),
    )
    .await;
    assert!(direct.success() && direct.stdout.contains(name), "{direct}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_local_runs_a_cluster_that_runs_tasks() {
    let dir = tempfile::Builder::new()
        .prefix("mesos-tests-local-")
        .tempdir()
        .expect("temp dir");
    let port = free_port();
    let mut local = Proc::spawn(
        "mesos-local",
        &binary("mesos-local"),
        vec![
            format!("--port={port}"),
            format!("--work_dir={}", dir.path().join("work").display()),
        ],
        dir.path(),
    );
    let master = format!("127.0.0.1:{port}");
    if let Err(why) =
        mesos_tests::cluster::wait_ready(&mut local, &format!("http://{master}/health")).await
    {
        panic!("mesos-local did not start: {why}\n{}", local.log_tail(60));
    }
    eventually(
        "an agent registered with mesos-local",
        Duration::from_secs(30),
        async || {
            let state = http::get_json(&format!("http://{master}/master/state")).await;
            (!state["slaves"].as_array()?.is_empty()).then_some(())
        },
    )
    .await;

    let output = mesos_execute(&master, "local-test", "sleep 1", &[]).await;
    assert_ran_to_finished(&output);

    local.kill9();
    mesos_tests::process::kill_processes_under(dir.path());
}

/// An operator tears the framework down while its task runs: the master refuses the
/// framework from then on (403), and mesos-execute stops with that message instead of
/// subscribing again forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_execute_exits_with_the_masters_message_after_a_teardown() {
    let cluster = Cluster::start().await;
    let name = "torn-down-execute";
    let mut execute = Proc::spawn(
        "mesos-execute",
        &binary("mesos-execute"),
        vec![
            format!("--master={}", cluster.master_addr()),
            format!("--name={name}"),
            "--command=sleep 100".to_string(),
        ],
        cluster.root(),
    );
    let task = eventually(
        "the task running in /master/state",
        Duration::from_secs(30),
        async || {
            let task = find_by_name(&cluster, name).await?;
            (task.state() == "TASK_RUNNING").then_some(task)
        },
    )
    .await;
    let response = http::post(
        &cluster.master_url("/master/teardown"),
        format!("frameworkId={}", task.framework_id),
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);

    let status = execute.wait_exit(Duration::from_secs(60)).await;
    let output = format!("{}{}", execute.stdout(), execute.stderr());
    assert!(
        status.is_some_and(|s| !s.success()),
        "mesos-execute should exit non-zero after its framework was torn down ({status:?})\n{output}"
    );
    assert!(
        output.contains(&format!("Framework {} has been removed", task.framework_id)),
        "mesos-execute should print the master's message\n{output}"
    );
}
