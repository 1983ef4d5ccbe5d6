//! The agent's own security, against the real binaries: `--switch_user` (tasks run as
//! their command's user, else their framework's; a user the agent's machine does not know
//! fails the task as Mesos fails it; off, tasks run as the agent) and `--acls` on the
//! agent (`access_sandboxes` on `/files` and READ_FILE, `view_*` on `/state` and
//! `/flags`). The agent runs as root here, as it must to switch users.

use std::time::Duration;

use base64::Engine;
use mesos_tests::cluster::ClusterOptions;
use mesos_tests::process::{binary, free_port, Proc};
use mesos_tests::*;
use serde_json::{json, Value};

const LAUNCH: Duration = Duration::from_secs(30);

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn with_user(mut task: Value, user: &str) -> Value {
    task["command"]["user"] = json!(user);
    task
}

/// What a finished task printed: `<uid> <owner of its sandbox>`.
const WHO_AM_I: &str = "echo \"$(id -u) $(stat -c %U .)\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_as_their_user() {
    if !running_as_root() {
        eprintln!("skipped: switching users needs root");
        return;
    }
    let cluster = Cluster::start().await;
    // The framework's user is the test's (root); one task names its own user.
    let mut sched = cluster.subscribe("switch-user").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let as_nobody = unique_id("as-nobody");
    let as_framework = unique_id("as-framework");
    let unknown = unique_id("unknown-user");
    sched
        .launch(
            &offer,
            vec![
                with_user(
                    command_task(&as_nobody, &agent_id, WHO_AM_I, 0.1, 32.0),
                    "nobody",
                ),
                command_task(&as_framework, &agent_id, WHO_AM_I, 0.1, 32.0),
                with_user(
                    command_task(&unknown, &agent_id, "true", 0.1, 32.0),
                    "no-such-user-here",
                ),
            ],
        )
        .await;
    for task in [&as_nobody, &as_framework] {
        let status = sched.terminal_update(task, LAUNCH).await;
        assert_eq!(state_of(&status), "TASK_FINISHED", "{status}");
    }
    assert_eq!(
        cluster.read_sandbox_file(0, &as_nobody, "stdout").await,
        "65534 nobody\n",
        "the task and its sandbox are nobody's"
    );
    let root_uid = nix_uid_of(&current_user());
    assert_eq!(
        cluster.read_sandbox_file(0, &as_framework, "stdout").await,
        format!("{root_uid} {}\n", current_user()),
        "without a user of its own the task runs as its framework's user"
    );

    // A user this machine does not know: the task fails as Mesos's does when its
    // executor cannot start, and the sandbox says why.
    let failed = sched.terminal_update(&unknown, LAUNCH).await;
    assert_eq!(state_of(&failed), "TASK_FAILED", "{failed}");
    assert_eq!(failed["reason"], "REASON_EXECUTOR_TERMINATED", "{failed}");
    assert_eq!(failed["source"], "SOURCE_AGENT", "{failed}");
    assert_eq!(failed["message"], "Executor terminated", "{failed}");
    let stderr = cluster.read_sandbox_file(0, &unknown, "stderr").await;
    assert!(
        stderr.contains("Failed to get the uid of user 'no-such-user-here': not found"),
        "{stderr}"
    );

    // FrameworkInfo.user alone decides for a framework whose tasks name no user (the
    // first framework leaves, so that the agent's resources are offered to the second).
    sched.teardown().await;
    let mut info = framework_info("nobody-framework");
    info["user"] = json!("nobody");
    let mut nobody_sched = cluster.subscribe_with(info).await;
    let offer = nobody_sched.next_offer().await;
    let task = unique_id("framework-nobody");
    nobody_sched
        .launch(
            &offer,
            vec![command_task(&task, &agent_id, WHO_AM_I, 0.1, 32.0)],
        )
        .await;
    let status = nobody_sched.terminal_update(&task, LAUNCH).await;
    assert_eq!(state_of(&status), "TASK_FINISHED", "{status}");
    assert_eq!(
        cluster.read_sandbox_file(0, &task, "stdout").await,
        "65534 nobody\n"
    );

    // A task group: the default executor runs as the executor's user (here the
    // framework's, nobody), a task of the group as its own user when it names one.
    let offer = nobody_sched.next_offer().await;
    let inherits = unique_id("group-inherits");
    let own = unique_id("group-own-user");
    let group = json!({
        "type": "LAUNCH_GROUP",
        "launch_group": {
            "executor": {
                "executor_id": { "value": unique_id("group-executor") },
                "type": "DEFAULT",
                "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)]
            },
            "task_group": { "tasks": [
                command_task(&inherits, &agent_id, "id -u", 0.1, 32.0),
                with_user(command_task(&own, &agent_id, "id -u", 0.1, 32.0), "root"),
            ] }
        }
    });
    let (code, body) = nobody_sched.accept(&[offer_id(&offer)], vec![group]).await;
    assert_eq!(code, 202, "{body}");
    for (task, uid) in [(&inherits, "65534\n"), (&own, "0\n")] {
        let status = nobody_sched.terminal_update(task, LAUNCH).await;
        assert_eq!(state_of(&status), "TASK_FINISHED", "{status}");
        // The executor's sandbox links each task's own as `tasks/<task id>`.
        let stdout = cluster
            .read_sandbox_file(0, task, &format!("tasks/{task}/stdout"))
            .await;
        assert_eq!(stdout, uid, "{task}");
    }
}

/// The uid of `user` from /etc/passwd.
fn nix_uid_of(user: &str) -> u32 {
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            (fields.first() == Some(&user)).then(|| fields[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{user} in /etc/passwd"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_switch_user_off_tasks_run_as_the_agent() {
    if !running_as_root() {
        eprintln!("skipped: the agent must run as root to show it does not switch");
        return;
    }
    let cluster = Cluster::start_with(ClusterOptions {
        agents: 0,
        ..Default::default()
    })
    .await;
    // Through the environment, as packaged agents are configured.
    let port = free_port();
    let work_dir = cluster.root().join("agent-no-switch");
    std::fs::create_dir_all(&work_dir).unwrap();
    let mut agent = Proc::spawn_with_env(
        "agent-no-switch",
        &binary("mesos-agent"),
        vec![
            format!("--master={}", cluster.master_addr()),
            "--ip=127.0.0.1".into(),
            format!("--port={port}"),
            format!("--work_dir={}", work_dir.display()),
            format!(
                "--resources={}",
                mesos_tests::cluster::DEFAULT_AGENT_RESOURCES
            ),
        ],
        vec![("MESOS_SWITCH_USER".into(), "false".into())],
        cluster.root(),
    );
    mesos_tests::cluster::wait_ready(&mut agent, &format!("http://127.0.0.1:{port}/health"))
        .await
        .expect("agent up");
    cluster.wait_for_active_agents(1).await;
    let flags = http::get_json(&format!("http://127.0.0.1:{port}/flags")).await;
    assert_eq!(flags["flags"]["switch_user"], "false", "{flags}");

    let mut sched = cluster.subscribe("no-switch").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task = unique_id("not-switched");
    sched
        .launch(
            &offer,
            vec![with_user(
                command_task(&task, &agent_id, "id -u", 0.1, 32.0),
                "nobody",
            )],
        )
        .await;
    let status = sched.terminal_update(&task, LAUNCH).await;
    assert_eq!(state_of(&status), "TASK_FINISHED", "{status}");
    let state = http::get_json(&format!("http://127.0.0.1:{port}/state")).await;
    let (executor, _) = mesos_tests::cluster::find_executor(&state, &task).expect("executor");
    let stdout = std::fs::read_to_string(format!(
        "{}/stdout",
        executor["directory"].as_str().unwrap()
    ))
    .unwrap();
    assert_eq!(stdout, "0\n", "the agent's user (root) ran it");
    agent.kill9();
}

fn basic(principal: &str, secret: &str) -> String {
    let pair = format!("{principal}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn get_as(url: &str, auth: &str, query: &[(&str, &str)]) -> http::Response {
    let request = http::client()
        .get(url)
        .query(query)
        .header("Authorization", auth);
    http::send(request).await.expect("GET")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_acls_guard_sandboxes_state_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("http_credentials");
    std::fs::write(
        &creds,
        json!({"credentials": [
            {"principal": "owner", "secret": "owner-secret"},
            {"principal": "stranger", "secret": "stranger-secret"}
        ]})
        .to_string(),
    )
    .unwrap();
    let user = current_user();
    let acls = json!({
        "access_sandboxes": [
            {"principals": {"values": ["owner"]}, "users": {"values": [user]}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ],
        "view_frameworks": [
            {"principals": {"values": ["owner"]}, "users": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "users": {"type": "NONE"}}
        ],
        "view_flags": [
            {"principals": {"values": ["owner"]}, "flags": {"type": "ANY"}},
            {"principals": {"type": "ANY"}, "flags": {"type": "NONE"}}
        ]
    });
    let cluster = Cluster::start_with(ClusterOptions {
        agent_flags: vec![
            format!("--http_credentials={}", creds.display()),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
            format!("--acls={acls}"),
        ],
        ..Default::default()
    })
    .await;
    let owner = basic("owner", "owner-secret");
    let stranger = basic("stranger", "stranger-secret");
    let mut sched = cluster.subscribe("agent-acls").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task = unique_id("guarded");
    sched
        .launch(
            &offer,
            vec![command_task(
                &task,
                &agent_id,
                "echo secret-output",
                0.1,
                32.0,
            )],
        )
        .await;
    let status = sched.terminal_update(&task, LAUNCH).await;
    assert_eq!(state_of(&status), "TASK_FINISHED", "{status}");

    // /state: the owner sees the framework and its sandbox; the stranger sees no
    // framework and no flags.
    let state_url = cluster.agent_url(0, "/state");
    let state = get_as(&state_url, &owner, &[]).await.json();
    let (executor, _) = mesos_tests::cluster::find_executor(&state, &task).expect("owner sees it");
    assert!(state["flags"].is_object(), "{state}");
    let sandbox = executor["directory"].as_str().unwrap().to_string();
    let hidden = get_as(&state_url, &stranger, &[]).await;
    assert_eq!(hidden.status, 200);
    let hidden = hidden.json();
    assert_eq!(hidden["frameworks"], json!([]), "{hidden}");
    assert_eq!(hidden["completed_frameworks"], json!([]), "{hidden}");
    assert!(hidden.get("flags").is_none(), "{hidden}");
    let flags = get_as(&cluster.agent_url(0, "/flags"), &stranger, &[]).await;
    assert_eq!((flags.status, flags.body.as_str()), (403, "403 Forbidden."));
    let flags = get_as(&cluster.agent_url(0, "/flags"), &owner, &[]).await;
    assert_eq!(flags.status, 200);

    // /files: the owner reads the sandbox, the stranger is refused as Mesos refuses.
    let stdout = format!("{sandbox}/stdout");
    let read_query = [("path", stdout.as_str()), ("offset", "0")];
    let read_url = cluster.agent_url(0, "/files/read");
    let read = get_as(&read_url, &owner, &read_query).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["data"], "secret-output\n");
    let denied = get_as(&read_url, &stranger, &read_query).await;
    assert_eq!((denied.status, denied.body.as_str()), (403, ""));
    for (endpoint, query, body) in [
        ("/files/browse", [("path", sandbox.as_str())], ""),
        (
            "/files/download",
            [("path", stdout.as_str())],
            "403 Forbidden.",
        ),
    ] {
        let url = cluster.agent_url(0, endpoint);
        let allowed = get_as(&url, &owner, &query).await;
        assert_eq!(allowed.status, 200, "{endpoint}: {}", allowed.body);
        let denied = get_as(&url, &stranger, &query).await;
        assert_eq!(
            (denied.status, denied.body.as_str()),
            (403, body),
            "{endpoint}"
        );
    }
    // The directories above the sandboxes name every framework: not for the stranger.
    let work_dir = cluster.agents[0].work_dir.canonicalize().unwrap();
    let slaves = work_dir.join("slaves").display().to_string();
    let above = get_as(
        &cluster.agent_url(0, "/files/browse"),
        &stranger,
        &[("path", &slaves)],
    )
    .await;
    assert_eq!(above.status, 403);

    // The operator API's READ_FILE answers the same.
    let read_file = json!({"type": "READ_FILE", "read_file": {"path": stdout, "offset": 0}});
    let api = cluster.agent_url(0, "/api/v1");
    for (who, want) in [(&owner, 200), (&stranger, 403)] {
        let answer = http::post(
            &api,
            read_file.to_string(),
            &[("Content-Type", "application/json"), ("Authorization", who)],
        )
        .await;
        assert_eq!(answer.status, want, "{}", answer.body);
    }
    // ... and its views show the stranger no framework, no task, no flags.
    let call = |kind: &str| json!({ "type": kind });
    let post = |body: Value, who: String| {
        let api = api.clone();
        async move {
            http::post(
                &api,
                body.to_string(),
                &[
                    ("Content-Type", "application/json"),
                    ("Authorization", &who),
                ],
            )
            .await
        }
    };
    let tasks = post(call("GET_TASKS"), owner.clone()).await.json();
    assert!(tasks.to_string().contains(&task), "{tasks}");
    let tasks = post(call("GET_TASKS"), stranger.clone()).await.json();
    assert!(!tasks.to_string().contains(&task), "{tasks}");
    let state = post(call("GET_STATE"), stranger.clone()).await.json();
    assert!(!state.to_string().contains(&task), "{state}");
    let framework_count = |answer: &Value| {
        ["frameworks", "completed_frameworks"]
            .iter()
            .map(|k| answer["get_frameworks"][k].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    };
    let seen = post(call("GET_FRAMEWORKS"), owner.clone()).await.json();
    assert_eq!(framework_count(&seen), 1, "{seen}");
    let hidden = post(call("GET_FRAMEWORKS"), stranger.clone()).await.json();
    assert_eq!(framework_count(&hidden), 0, "{hidden}");
    let flags = post(call("GET_FLAGS"), stranger.clone()).await;
    assert_eq!(flags.status, 403, "{}", flags.body);
    let flags = post(call("GET_FLAGS"), owner.clone()).await;
    assert_eq!(flags.status, 200, "{}", flags.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathon_apps_run_as_the_app_user_else_mesos_user() {
    if !running_as_root() {
        eprintln!("skipped: switching users needs root");
        return;
    }
    let cluster = Cluster::start().await;
    let marathon = mesos_tests::marathon::Marathon::start(&cluster, &["--mesos_user=nobody"]).await;
    for app in [
        json!({"id": "as-mesos-user", "cmd": "echo uid=$(id -u); sleep 1000", "cpus": 0.1, "mem": 16}),
        json!({"id": "as-app-user", "cmd": "echo uid=$(id -u); sleep 1000", "cpus": 0.1, "mem": 16,
               "user": "root"}),
    ] {
        let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for (app, uid) in [("/as-mesos-user", "uid=65534"), ("/as-app-user", "uid=0")] {
        let tasks = marathon.wait_running(app, 1, LAUNCH * 2).await;
        let task_id = tasks[0]["id"].as_str().unwrap().to_string();
        let stdout = cluster
            .wait_for_sandbox_text(0, &task_id, "stdout", "uid=")
            .await;
        assert!(stdout.contains(uid), "{app}: {stdout}");
    }
}

/// A command health check runs as its task's user, as Mesos's executor runs it: the
/// check passes only when it runs as nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_run_as_the_task_s_user() {
    if !running_as_root() {
        eprintln!("skipped: switching users needs root");
        return;
    }
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("health-user").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task = unique_id("checked-as-nobody");
    let mut info = with_user(
        command_task(&task, &agent_id, "sleep 600", 0.1, 32.0),
        "nobody",
    );
    info["health_check"] = json!({
        "type": "COMMAND",
        "command": {"shell": true, "value": "test \"$(id -u)\" = 65534"},
        "delay_seconds": 0.0,
        "interval_seconds": 0.5,
        "grace_period_seconds": 30.0,
        "consecutive_failures": 100
    });
    sched.launch(&offer, vec![info]).await;
    // Updates come one at a time, each after the last was acknowledged.
    let status = loop {
        let status = sched
            .wait_for_update(&task, "an UPDATE", LAUNCH, |_| true)
            .await;
        if status.get("uuid").is_some() {
            sched.acknowledge(&status).await;
        }
        assert!(!is_terminal(state_of(&status)), "{status}");
        if status.get("healthy").is_some() {
            break status;
        }
    };
    assert_eq!(status["healthy"], true, "{status}");
    sched.kill(&task, &agent_id).await;
    let killed = sched.terminal_update(&task, LAUNCH).await;
    assert_eq!(state_of(&killed), "TASK_KILLED", "{killed}");
}
