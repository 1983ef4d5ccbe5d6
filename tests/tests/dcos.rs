//! `dcos marathon ...` against a real master, agent and Marathon: the book's flow (`app
//! add`, `app list`, `app update --force demo instances=3`, `deployment list`), the other
//! app, deployment and task commands, and one clear line with a non-zero exit for a missing
//! file, invalid JSON or an unknown app.

use std::time::Duration;

use mesos_tests::cluster::Cluster;
use mesos_tests::marathon::Marathon;
use mesos_tests::process::{binary, run_command, CommandOutput};
use mesos_tests::{eventually, TIMEOUT};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

async fn dcos(marathon: &Marathon, args: &[&str]) -> CommandOutput {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env = [("DCOS_MARATHON_URL".to_string(), marathon.url(""))];
    run_command(&binary("dcos"), &args, &env, TIMEOUT).await
}

async fn ok(marathon: &Marathon, args: &[&str]) -> String {
    let out = dcos(marathon, args).await;
    assert!(out.success(), "dcos {args:?}:\n{}", out.combined());
    out.stdout
}

/// Fails with exit status 1 and one `Error:` line containing `wanted`.
async fn fails(marathon: &Marathon, args: &[&str], wanted: &str) {
    let out = dcos(marathon, args).await;
    assert_eq!(
        out.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        out.combined()
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("Error: ") && lines[0].contains(wanted),
        "{}",
        lines[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_books_flow_and_the_other_commands() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let app_json = dir.path().join("app.json");
    std::fs::write(
        &app_json,
        r#"{"id": "demo", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1}"#,
    )
    .unwrap();
    let app_file = app_json.to_str().unwrap();

    assert_eq!(
        ok(&marathon, &["marathon", "app", "list"]).await,
        "No apps to list.\n"
    );
    let added = ok(&marathon, &["marathon", "app", "add", app_file]).await;
    assert!(added.starts_with("Created deployment "), "{added}");
    fails(
        &marathon,
        &["marathon", "app", "add", app_file],
        "Application '/demo' already exists",
    )
    .await;
    eventually("the app to run", LONG, async || {
        let list = ok(&marathon, &["marathon", "app", "list"]).await;
        list.lines()
            .any(|l| l.starts_with("/demo ") && l.contains(" 1/1 "))
            .then_some(())
    })
    .await;
    let list = ok(&marathon, &["marathon", "app", "list"]).await;
    let header: Vec<&str> = list.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "MEM",
            "CPUS",
            "TASKS",
            "HEALTH",
            "DEPLOYMENT",
            "WAITING",
            "CONTAINER",
            "CMD"
        ]
    );
    let listed: Value =
        serde_json::from_str(&ok(&marathon, &["marathon", "app", "list", "--json"]).await).unwrap();
    assert_eq!(listed[0]["id"], "/demo");
    let shown: Value =
        serde_json::from_str(&ok(&marathon, &["marathon", "app", "show", "demo"]).await).unwrap();
    assert_eq!(shown["cmd"], "sleep 1000");

    // The book: scale with --force, then watch the deployment.
    let updated = ok(
        &marathon,
        &[
            "marathon",
            "app",
            "update",
            "--force",
            "demo",
            "instances=3",
        ],
    )
    .await;
    assert!(updated.starts_with("Created deployment "), "{updated}");
    let app = marathon.get("/v2/apps/demo").await.json();
    assert_eq!(app["app"]["instances"], 3);
    let deployments = dcos(&marathon, &["marathon", "deployment", "list"]).await;
    if deployments.success() {
        let header = deployments.stdout.lines().next().unwrap_or_default();
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            ["APP", "POD", "ACTION", "PROGRESS", "ID"]
        );
        assert!(
            deployments.stdout.contains("/demo"),
            "{}",
            deployments.stdout
        );
    } else {
        // The scale finished before the listing: the DC/OS CLI's answer for that.
        assert_eq!(deployments.stderr.trim(), "Error: There are no deployments");
    }
    eventually("three tasks", LONG, async || {
        let tasks = ok(&marathon, &["marathon", "task", "list", "demo"]).await;
        (tasks.lines().filter(|l| l.starts_with("/demo ")).count() == 3).then_some(())
    })
    .await;
    let tasks = ok(&marathon, &["marathon", "task", "list"]).await;
    assert_eq!(
        tasks
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["APP", "HEALTHY", "STARTED", "HOST", "ID"]
    );
    let restarted = ok(
        &marathon,
        &["marathon", "app", "restart", "--force", "demo"],
    )
    .await;
    assert!(restarted.starts_with("Created deployment "), "{restarted}");

    // Bad input: one line, exit status 1.
    fails(
        &marathon,
        &["marathon", "app", "add", "/nonexistent/app.json"],
        "Can't read from resource: /nonexistent/app.json",
    )
    .await;
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"id\": ").unwrap();
    fails(
        &marathon,
        &["marathon", "app", "add", broken.to_str().unwrap()],
        "Error loading JSON",
    )
    .await;
    for args in [
        &["marathon", "app", "show", "nope"][..],
        &["marathon", "app", "update", "nope", "instances=2"],
        &["marathon", "app", "remove", "nope"],
    ] {
        fails(&marathon, args, "App '/nope' does not exist").await;
    }
    fails(
        &marathon,
        &["marathon", "app", "update", "demo", "instances"],
        "'instances' is not a property",
    )
    .await;

    ok(&marathon, &["marathon", "app", "remove", "--force", "demo"]).await;
    eventually("the app to go", LONG, async || {
        let list = ok(&marathon, &["marathon", "app", "list"]).await;
        (list == "No apps to list.\n").then_some(())
    })
    .await;
}
