//! `dcos ...` against one real master, agent and Marathon: the book's flow (`app add`,
//! `app list`, `app update --force demo instances=3`, `deployment list`), then every other
//! command: app versions, show of an older version, kill (with `--host` and `--scale`),
//! Marathon's task show/stop, `deployment watch` ending when its deployment does, `node`,
//! `service`, `task` (running and completed), `task log` and `task log --follow` seeing a
//! line the task writes after the command started; groups; and bad input: one `Error:` line and
//! exit status 1.

use std::time::Duration;

use mesos_tests::cluster::Cluster;
use mesos_tests::marathon::Marathon;
use mesos_tests::process::{binary, run_command, CommandOutput, Proc};
use mesos_tests::{eventually, TIMEOUT};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(60);

/// The cluster and where `dcos` is told it is.
struct Setup {
    cluster: Cluster,
    marathon: Marathon,
    dir: tempfile::TempDir,
}

impl Setup {
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DCOS_MARATHON_URL".to_string(), self.marathon.url("")),
            (
                "DCOS_MESOS_MASTER_URL".to_string(),
                self.cluster.master_url(""),
            ),
            // No developer's ~/.dcos/dcos.toml.
            ("HOME".to_string(), self.dir.path().display().to_string()),
        ]
    }

    async fn dcos_with(&self, env: Vec<(String, String)>, args: &[&str]) -> CommandOutput {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        run_command(&binary("dcos"), &args, &env, TIMEOUT).await
    }

    async fn dcos(&self, args: &[&str]) -> CommandOutput {
        self.dcos_with(self.env(), args).await
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.dcos(args).await;
        assert!(out.success(), "dcos {args:?}:\n{}", out.combined());
        out.stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args).await;
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("dcos {args:?}: {e}\n{out}"))
    }

    /// Fails with exit status 1 and one `Error:` line containing `wanted`.
    async fn fails(&self, args: &[&str], wanted: &str) {
        let out = self.dcos(args).await;
        assert_eq!(
            out.status.and_then(|s| s.code()),
            Some(1),
            "dcos {args:?}: {}",
            out.combined()
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "dcos {args:?}: {}", out.stderr);
        assert!(
            lines[0].starts_with("Error: ") && lines[0].contains(wanted),
            "dcos {args:?}: {}",
            lines[0]
        );
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    async fn add_app(&self, definition: &str) {
        let file = self.file("app.json", definition);
        let added = self.ok(&["marathon", "app", "add", &file]).await;
        assert!(added.starts_with("Created deployment "), "{added}");
    }
}

/// The ids of the app's TASK_RUNNING tasks.
async fn running_ids(s: &Setup, app: &str) -> Vec<String> {
    let tasks = s.marathon.tasks(app).await;
    let running: Vec<Value> = tasks
        .into_iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .collect();
    mesos_tests::marathon::task_ids(&running)
}

/// A table's titles, one space apart.
fn header(table: &str) -> String {
    let first = table.lines().next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn row<'a>(table: &'a str, containing: &str) -> Option<Vec<&'a str>> {
    table
        .lines()
        .find(|l| l.contains(containing))
        .map(|l| l.split_whitespace().collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dcos_command_on_one_cluster() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let s = Setup {
        cluster,
        marathon,
        dir: tempfile::tempdir().unwrap(),
    };
    books_flow(&s).await;
    app_versions_and_kill(&s).await;
    marathon_tasks(&s).await;
    cluster_views(&s).await;
    task_log(&s).await;
    deployment_watch(&s).await;
    groups(&s).await;
    pods(&s).await;
    bad_input(&s).await;
    kill_with_scale_and_remove(&s).await;
}

/// The book: add, list, scale with --force, deployments, tasks, restart.
async fn books_flow(s: &Setup) {
    assert_eq!(
        s.ok(&["marathon", "app", "list"]).await,
        "No apps to list.\n"
    );
    s.add_app(r#"{"id": "demo", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1}"#)
        .await;
    let app_file = s.dir.path().join("app.json").display().to_string();
    s.fails(
        &["marathon", "app", "add", &app_file],
        "Application '/demo' already exists",
    )
    .await;
    eventually("the app to run", LONG, async || {
        let list = s.ok(&["marathon", "app", "list"]).await;
        list.lines()
            .any(|l| l.starts_with("/demo ") && l.contains(" 1/1 "))
            .then_some(())
    })
    .await;
    let list = s.ok(&["marathon", "app", "list"]).await;
    assert_eq!(
        header(&list),
        "ID MEM CPUS TASKS HEALTH DEPLOYMENT WAITING CONTAINER CMD"
    );
    let listed = s.json(&["marathon", "app", "list", "--json"]).await;
    assert_eq!(listed[0]["id"], "/demo");
    let shown = s.json(&["marathon", "app", "show", "demo"]).await;
    assert_eq!(shown["cmd"], "sleep 1000");

    let book: Vec<&str> = "marathon app update --force demo instances=3"
        .split(' ')
        .collect();
    let updated = s.ok(&book).await;
    assert!(updated.starts_with("Created deployment "), "{updated}");
    let app = s.marathon.get("/v2/apps/demo").await.json();
    assert_eq!(app["app"]["instances"], 3);
    let deployments = s.dcos(&["marathon", "deployment", "list"]).await;
    if deployments.success() {
        assert_eq!(header(&deployments.stdout), "APP POD ACTION PROGRESS ID");
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
        let tasks = s.ok(&["marathon", "task", "list", "demo"]).await;
        (tasks.lines().filter(|l| l.starts_with("/demo ")).count() == 3).then_some(())
    })
    .await;
    let tasks = s.ok(&["marathon", "task", "list"]).await;
    assert_eq!(header(&tasks), "APP HEALTHY STARTED HOST ID");
    let restarted = s
        .ok(&["marathon", "app", "restart", "--force", "demo"])
        .await;
    assert!(restarted.starts_with("Created deployment "), "{restarted}");
    s.marathon.wait_deployments_done(LONG).await;
    s.marathon.wait_running("/demo", 3, LONG).await;
}

/// Versions newest first, `--max-count`, `--app-version=-1` (the definition before the
/// scale), and `app kill` without `--scale`: Marathon replaces the tasks.
async fn app_versions_and_kill(s: &Setup) {
    let versions = s
        .json(&["marathon", "app", "version", "list", "demo"])
        .await;
    let versions = versions.as_array().unwrap().clone();
    assert!(versions.len() >= 2, "{versions:?}");
    let newest = s
        .json(&[
            "marathon",
            "app",
            "version",
            "list",
            "--max-count=1",
            "demo",
        ])
        .await;
    assert_eq!(newest, Value::Array(versions[..1].to_vec()));
    let before = s
        .json(&["marathon", "app", "show", "--app-version=-1", "demo"])
        .await;
    assert_eq!(before["version"], versions[1]);
    s.fails(
        &["marathon", "app", "show", "--app-version=2", "demo"],
        "Relative versions must be negative: 2",
    )
    .await;
    let first = versions.last().unwrap().as_str().unwrap();
    let original = s
        .json(&[
            "marathon",
            "app",
            "show",
            &format!("--app-version={first}"),
            "demo",
        ])
        .await;
    assert_eq!(original["instances"], 1);
    s.fails(
        &["marathon", "app", "show", "--app-version=-99", "demo"],
        "Application '/demo' only has",
    )
    .await;
    s.fails(
        &[
            "marathon",
            "app",
            "version",
            "list",
            "--max-count=0",
            "demo",
        ],
        "Maximum count must be a positive number: 0",
    )
    .await;

    s.fails(
        &["marathon", "app", "kill", "--host=elsewhere", "demo"],
        "App '/demo' has no tasks on host elsewhere to kill",
    )
    .await;
    let old = mesos_tests::marathon::task_ids(&s.marathon.tasks("/demo").await);
    let killed = s.ok(&["marathon", "app", "kill", "demo"]).await;
    assert!(killed.starts_with("Killed tasks: "), "{killed}");
    for id in &old {
        assert!(killed.contains(id.as_str()), "{id} not in {killed}");
    }
    eventually("three new tasks", LONG, async || {
        let now = running_ids(s, "/demo").await;
        (now.len() == 3 && now.iter().all(|id| !old.contains(id))).then_some(())
    })
    .await;
}

/// `marathon task show|stop`: stop kills one task and Marathon starts another.
async fn marathon_tasks(s: &Setup) {
    let tasks = s.marathon.wait_running("/demo", 3, LONG).await;
    let id = tasks[0]["id"].as_str().unwrap().to_string();
    let shown = s.json(&["marathon", "task", "show", &id]).await;
    assert_eq!(shown["appId"], "/demo");
    assert_eq!(shown["id"], id.as_str());
    let stopped = s.json(&["marathon", "task", "stop", &id]).await;
    assert_eq!(stopped["id"], id.as_str());
    eventually("the stopped task replaced", LONG, async || {
        let now = running_ids(s, "/demo").await;
        (now.len() == 3 && !now.contains(&id)).then_some(())
    })
    .await;
    s.fails(
        &["marathon", "task", "show", "nope"],
        "Task 'nope' does not exist",
    )
    .await;
    s.fails(&["marathon", "task", "stop", "nope"], "nope").await;
    // The stopped task is a completed Mesos task now.
    let completed = s.ok(&["task", "--completed", &id]).await;
    let cells = row(&completed, &id).unwrap_or_else(|| panic!("{id} in\n{completed}"));
    assert_eq!(cells[3], "K", "{completed}");
}

/// `node`, `service` and `task` from the master's state, the master found through the
/// environment, the config file and `MESOS_MASTER`.
async fn cluster_views(s: &Setup) {
    let agent_id = s.cluster.agent_id(0).await;
    let nodes = s.ok(&["node"]).await;
    assert_eq!(header(&nodes), "HOSTNAME IP ID TYPE REGION ZONE");
    let agent = row(&nodes, &agent_id).unwrap_or_else(|| panic!("{agent_id} in\n{nodes}"));
    assert_eq!(agent[1..4], ["127.0.0.1", agent_id.as_str(), "agent"]);
    assert!(nodes.contains("master (leader)"), "{nodes}");

    // The same master through the config file, then through MESOS_MASTER.
    let config = s.file(
        "dcos.toml",
        &format!(
            "[core]\nmesos_master_url = \"{}\"\n",
            s.cluster.master_url("")
        ),
    );
    let home = ("HOME".to_string(), s.dir.path().display().to_string());
    let by_config = s
        .dcos_with(
            vec![home.clone(), ("DCOS_CONFIG".into(), config)],
            &["node", "--json"],
        )
        .await;
    assert!(by_config.success(), "{by_config}");
    let listed: Value = serde_json::from_str(&by_config.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let by_env = s
        .dcos_with(
            vec![home, ("MESOS_MASTER".into(), s.cluster.master_addr())],
            &["service"],
        )
        .await;
    assert!(by_env.success(), "{by_env}");
    let services = by_env.stdout;
    assert_eq!(header(&services), "NAME HOST ACTIVE TASKS CPU MEM DISK ID");
    let marathon_row =
        row(&services, "marathon").unwrap_or_else(|| panic!("marathon in\n{services}"));
    assert_eq!(marathon_row[2..4], ["True", "3"], "{services}");
    let services = s.json(&["service", "--json"]).await;
    assert_eq!(services[0]["name"], "marathon");

    let tasks = s.ok(&["task"]).await;
    assert_eq!(
        header(&tasks),
        "NAME HOST USER STATE ID MESOS ID REGION ZONE"
    );
    let running: Vec<&str> = tasks.lines().skip(1).collect();
    assert_eq!(running.len(), 3, "{tasks}");
    for line in running {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (cells[0], cells[3], cells[5]),
            ("demo", "R", agent_id.as_str())
        );
    }
    let listed = s.json(&["task", "--json", "demo*"]).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
    assert_eq!(
        s.json(&["task", "--json", "nomatch"]).await,
        Value::Array(vec![])
    );
}

/// `task log`: the last lines, then `--follow` printing a line the task writes once the
/// command is already running (the task waits for a file the test creates).
async fn task_log(s: &Setup) {
    s.add_app(
        r#"{"id": "logger", "cpus": 0.1, "mem": 16, "instances": 1,
            "cmd": "for i in 1 2 3; do echo line-$i; done; echo to-stderr >&2; while [ ! -e go ]; do sleep 0.1; done; echo after-go; sleep 1000"}"#,
    )
    .await;
    let task = s.marathon.wait_running("/logger", 1, LONG).await;
    let task_id = task[0]["id"].as_str().unwrap().to_string();
    s.cluster
        .wait_for_sandbox_text(0, &task_id, "stdout", "line-3")
        .await;
    let last = s.ok(&["task", "log", "--lines=2", &task_id]).await;
    assert!(last.ends_with("line-2\nline-3\n"), "{last}");
    assert!(!last.contains("line-1"), "{last}");
    let stderr = s.ok(&["task", "log", "logger", "stderr"]).await;
    assert!(stderr.contains("to-stderr\n"), "{stderr}");

    let args = ["task", "log", "--follow", "--lines=1", task_id.as_str()];
    let mut follower = Proc::spawn_with_env(
        "dcos-follow",
        &binary("dcos"),
        args.iter().map(|a| a.to_string()).collect(),
        s.env(),
        s.dir.path(),
    );
    eventually("the follower's first line", TIMEOUT, async || {
        follower.stdout().contains("line-3").then_some(())
    })
    .await;
    let sandbox = s.cluster.sandbox_dir(0, &task_id).await;
    std::fs::write(format!("{sandbox}/go"), "").unwrap();
    eventually(
        "the follower to print what came later",
        TIMEOUT,
        async || follower.stdout().contains("after-go\n").then_some(()),
    )
    .await;
    assert!(follower.is_running(), "--follow keeps going");
    follower.kill9();
    assert!(
        !follower.stdout().contains("line-2"),
        "{}",
        follower.stdout()
    );

    s.fails(&["task", "log", "nomatch"], "No matching tasks. Exiting.")
        .await;
    s.ok(&["marathon", "app", "remove", "logger"]).await;
    eventually("the logger task to end", LONG, async || {
        let out = s.dcos(&["task", "log", &task_id]).await;
        out.stderr
            .contains("there is 1 matching completed task. Run with --completed")
            .then_some(())
    })
    .await;
    let completed = s.ok(&["task", "log", "--completed", &task_id]).await;
    assert!(completed.contains("after-go"), "{completed}");
}

/// `deployment watch` on a deployment that cannot finish (no agent has 100 CPUs): with
/// `--max-count` it prints that many updates; without, it ends once the deployment does
/// (here, rolled back).
async fn deployment_watch(s: &Setup) {
    s.add_app(r#"{"id": "big", "cmd": "sleep 1000", "cpus": 100, "mem": 16, "instances": 1}"#)
        .await;
    let deployments = s
        .json(&["marathon", "deployment", "list", "--json", "big"])
        .await;
    let id = deployments[0]["id"].as_str().unwrap().to_string();
    let twice = s
        .ok(&[
            "marathon",
            "deployment",
            "watch",
            "--max-count=2",
            "--interval=1",
            &id,
        ])
        .await;
    assert_eq!(
        twice.matches("Deployment update time: ").count(),
        2,
        "{twice}"
    );
    assert!(twice.contains(&id), "{twice}");

    let watch_args = [
        "marathon",
        "deployment",
        "watch",
        "--interval=1",
        id.as_str(),
    ];
    let watch = s.dcos(&watch_args);
    let rollback = async {
        // Let the watch print once before the deployment goes.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.json(&["marathon", "deployment", "rollback", &id]).await
    };
    let (watched, rolled_back) = tokio::join!(watch, rollback);
    assert!(rolled_back["deploymentId"].is_string(), "{rolled_back}");
    assert!(watched.success(), "{watched}");
    assert!(
        watched.stdout.contains("Deployment update time: "),
        "{watched}"
    );
    s.marathon.wait_deployments_done(LONG).await;
    s.fails(
        &["marathon", "app", "show", "big"],
        "App '/big' does not exist",
    )
    .await;
}

/// `marathon group add|list|show|scale|update|remove` against `/v2/groups`.
async fn groups(s: &Setup) {
    let app = |id: &str| {
        format!(r#"{{"id": "{id}", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1}}"#)
    };
    let group = s.file(
        "group.json",
        &format!(
            r#"{{"id": "/prod", "apps": [{}], "groups": [{{"id": "/prod/web", "apps": [{}]}}]}}"#,
            app("/prod/lb"),
            app("/prod/web/a")
        ),
    );
    let created = s.ok(&["marathon", "group", "add", &group]).await;
    assert!(created.starts_with("Created deployment "), "{created}");
    s.fails(
        &["marathon", "group", "add", &group],
        "Group '/prod' already exists",
    )
    .await;
    assert_eq!(
        s.ok(&["marathon", "group", "list"]).await,
        "ID         APPS\n/prod      2\n/prod/web  1\n"
    );
    let listed = s.json(&["marathon", "group", "list", "--json"]).await;
    assert_eq!(listed[0]["id"], "/prod");
    let shown = s.json(&["marathon", "group", "show", "prod/web"]).await;
    assert_eq!(shown["apps"][0]["id"], "/prod/web/a");
    s.marathon.wait_deployments_done(LONG).await;

    let scaled = s.ok(&["marathon", "group", "scale", "prod", "2"]).await;
    assert!(scaled.starts_with("Created deployment "), "{scaled}");
    s.marathon.wait_running("/prod/lb", 2, LONG).await;
    s.marathon.wait_running("/prod/web/a", 2, LONG).await;
    s.marathon.wait_deployments_done(LONG).await;

    let replace = format!("apps=[{}]", app("/prod/web/b"));
    let updated = s
        .ok(&[
            "marathon", "group", "update", "--force", "prod/web", &replace,
        ])
        .await;
    assert!(updated.starts_with("Created deployment "), "{updated}");
    s.marathon.wait_running("/prod/web/b", 1, LONG).await;
    s.fails(
        &["marathon", "group", "show", "nope"],
        "Group '/nope' does not exist",
    )
    .await;
    s.fails(
        &["marathon", "group", "update", "nope", "scaleBy=2"],
        "Group '/nope' does not exist",
    )
    .await;

    s.ok(&["marathon", "group", "remove", "--force", "prod"])
        .await;
    eventually("the group to go", LONG, async || {
        (s.ok(&["marathon", "group", "list"]).await == "ID  APPS\n").then_some(())
    })
    .await;
}

/// `marathon pod add|list|show|kill|remove` against `/v2/pods`, with a pod of one process
/// (no image: it runs under the default executor without Docker).
async fn pods(s: &Setup) {
    let pod = s.file(
        "pod.json",
        r#"{"id": "/sleepy", "scaling": {"kind": "fixed", "instances": 1},
            "containers": [{"name": "sleep1", "exec": {"command": {"shell": "sleep 1000"}},
                            "resources": {"cpus": 0.1, "mem": 16}}],
            "networks": [{"mode": "host"}]}"#,
    );
    s.ok(&["marathon", "pod", "add", &pod]).await;
    let instance = eventually("a stable pod", LONG, async || {
        let listed = s.json(&["marathon", "pod", "list", "--json"]).await;
        let status = listed.as_array()?.first()?.clone();
        (status["status"] == "STABLE")
            .then(|| status["instances"][0]["id"].as_str().map(str::to_string))?
    })
    .await;
    let listed = s.ok(&["marathon", "pod", "list"]).await;
    assert_eq!(
        header(&listed),
        "ID +TASKS INSTANCES VERSION STATUS STATUS SINCE WAITING"
    );
    let sleepy = row(&listed, "/sleepy").expect("a row of the pod");
    assert_eq!(sleepy[..3], ["/sleepy", "1", "1"]);
    assert_eq!(sleepy[4], "STABLE");
    let shown = s.json(&["marathon", "pod", "show", "sleepy"]).await;
    assert_eq!(shown["containers"][0]["name"], "sleep1");
    let killed = s
        .ok(&["marathon", "pod", "kill", "sleepy", &instance])
        .await;
    assert_eq!(killed, format!("Killed instances: {instance}\n"));
    s.ok(&["marathon", "pod", "remove", "sleepy"]).await;
    s.fails(
        &["marathon", "pod", "show", "sleepy"],
        "Pod '/sleepy' does not exist",
    )
    .await;
}

/// Missing file, invalid JSON, unknown app, bad properties, a bad command line, an
/// unreadable config file: one line, exit status 1.
async fn bad_input(s: &Setup) {
    s.fails(
        &["marathon", "app", "add", "/nonexistent/app.json"],
        "Can't read from resource: /nonexistent/app.json",
    )
    .await;
    let broken = s.file("broken.json", "{\"id\": ");
    s.fails(&["marathon", "app", "add", &broken], "Error loading JSON")
        .await;
    for args in [
        &["marathon", "app", "show", "nope"][..],
        &["marathon", "app", "update", "nope", "instances=2"],
        &["marathon", "app", "remove", "nope"],
        &["marathon", "app", "kill", "nope"],
        &["marathon", "app", "version", "list", "nope"],
    ] {
        s.fails(args, "App '/nope' does not exist").await;
    }
    s.fails(
        &["marathon", "app", "update", "demo", "instances"],
        "'instances' is not a property",
    )
    .await;
    s.fails(&["marathon", "app", "frobnicate"], "frobnicate")
        .await;
    s.fails(&["marathon"], "a command is missing").await;
    let out = s
        .dcos_with(
            vec![("DCOS_CONFIG".into(), "/nonexistent/dcos.toml".into())],
            &["node"],
        )
        .await;
    assert_eq!(out.status.and_then(|c| c.code()), Some(1), "{out}");
    assert!(
        out.stderr
            .starts_with("Error: Can't read the config file /nonexistent/dcos.toml"),
        "{out}"
    );
}

/// `app kill --scale` kills every task and leaves the app at 0 instances.
async fn kill_with_scale_and_remove(s: &Setup) {
    let scaled = s.ok(&["marathon", "app", "kill", "--scale", "demo"]).await;
    assert!(scaled.starts_with("Started deployment: "), "{scaled}");
    eventually("demo scaled to 0 by the kill", LONG, async || {
        let app = s.json(&["marathon", "app", "show", "demo"]).await;
        (app["instances"] == 0 && app["tasksRunning"] == 0).then_some(())
    })
    .await;
    s.fails(
        &["marathon", "app", "restart", "demo"],
        "because it has no running tasks",
    )
    .await;
    s.ok(&["marathon", "app", "remove", "--force", "demo"])
        .await;
    eventually("the app to go", LONG, async || {
        (s.ok(&["marathon", "app", "list"]).await == "No apps to list.\n").then_some(())
    })
    .await;
}
