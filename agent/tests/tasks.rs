//! The agent with an in-memory master: real task processes, real sandboxes, real HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use mesos_agent::master_link::memory::{self, MemoryConnection};
use mesos_agent::{AgentError, Config};
use mesos_proto::internal::{
    agent_message, master_message, KillTask, Register, Registered, RunTask, ShutdownFramework,
    StatusUpdate, StatusUpdateAcknowledgement,
};
use mesos_proto::v1::{
    framework_info, AgentId, CommandInfo, DurationInfo, FrameworkId, FrameworkInfo, KillPolicy,
    MasterInfo, TaskId, TaskInfo, TaskState,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(15);
const AGENT_ID: &str = "master-1-S0";

struct TestAgent {
    connections: mpsc::Receiver<MemoryConnection>,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), AgentError>>,
    http: SocketAddr,
}

impl TestAgent {
    async fn start(work_dir: &Path, extra: &[&str]) -> TestAgent {
        let supervisor_dir = Path::new(env!("CARGO_BIN_EXE_mesos-agent"))
            .parent()
            .unwrap();
        let mut args = vec![
            "mesos-agent".to_string(),
            "--master=127.0.0.1:1".to_string(),
            "--ip=127.0.0.1".to_string(),
            format!("--work_dir={}", work_dir.display()),
            format!("--launcher_dir={}", supervisor_dir.display()),
            "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31009]".to_string(),
            "--registration_backoff_factor=10ms".to_string(),
            "--status_update_retry_interval_min=200ms".to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = Config::try_parse_from(args).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = listener.local_addr().unwrap();
        let (transport, connections) = memory::pair();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(mesos_agent::run_with_transport(
            listener,
            config,
            transport,
            async move {
                let _ = stopped.await;
            },
        ));
        TestAgent {
            connections,
            stop: Some(stop),
            handle,
            http,
        }
    }

    /// Accepts the next stream and returns it with the agent's Register.
    async fn accept(&mut self) -> (MemoryConnection, Register) {
        let mut conn = within(self.connections.recv())
            .await
            .expect("agent connects");
        let first = within(conn.recv()).await.expect("register");
        let Some(agent_message::Message::Register(register)) = first.message else {
            panic!("first message is not Register: {first:?}");
        };
        (conn, register)
    }

    /// Accepts and registers the agent with [`AGENT_ID`].
    async fn register(&mut self) -> (MemoryConnection, Register) {
        let (conn, register) = self.accept().await;
        conn.send(master_message::Message::Registered(Registered {
            agent_id: AgentId {
                value: AGENT_ID.into(),
            },
            master_info: MasterInfo {
                id: "master-1".into(),
                hostname: Some("master-host".into()),
                ..Default::default()
            },
            ping_interval_seconds: Some(15.0),
            max_ping_timeouts: Some(5),
        }))
        .await;
        (conn, register)
    }

    async fn stop(mut self) -> Result<(), AgentError> {
        let _ = self.stop.take().unwrap().send(());
        within(self.handle).await.unwrap()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("http://{}{path}", self.http))
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn state(&self) -> serde_json::Value {
        let (status, body) = self.get("/state").await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).unwrap()
    }
}

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

fn framework(capabilities: &[framework_info::capability::Type]) -> FrameworkInfo {
    FrameworkInfo {
        user: "nobody".into(),
        name: "test-framework".into(),
        id: Some(FrameworkId {
            value: "fw-1".into(),
        }),
        capabilities: capabilities
            .iter()
            .map(|t| framework_info::Capability {
                r#type: Some(*t as i32),
            })
            .collect(),
        ..Default::default()
    }
}

fn command_task(id: &str, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskId { value: id.into() },
        agent_id: AgentId {
            value: AGENT_ID.into(),
        },
        resources: mesos_common::wire::resources_to_proto(
            &mesos_common::resources::Resources::parse("cpus:0.1;mem:32;ports:[31000-31001]")
                .unwrap(),
            None,
        ),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn run_task(conn: &MemoryConnection, framework: FrameworkInfo, task: TaskInfo) {
    conn.send(master_message::Message::RunTask(RunTask {
        framework_info: framework,
        task,
    }))
    .await;
}

async fn kill_task(conn: &MemoryConnection, id: &str, grace: Option<Duration>) {
    conn.send(master_message::Message::KillTask(KillTask {
        framework_id: FrameworkId {
            value: "fw-1".into(),
        },
        task_id: TaskId { value: id.into() },
        kill_policy: grace.map(|g| KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: g.as_nanos() as i64,
            }),
        }),
    }))
    .await;
}

/// The next status update on the stream (pongs skipped).
async fn next_update(conn: &mut MemoryConnection) -> StatusUpdate {
    loop {
        let message = within(conn.recv()).await.expect("stream open");
        if let Some(agent_message::Message::StatusUpdate(update)) = message.message {
            return update;
        }
    }
}

async fn ack(conn: &MemoryConnection, update: &StatusUpdate) {
    conn.send(master_message::Message::Acknowledgement(
        StatusUpdateAcknowledgement {
            framework_id: update.framework_id.clone(),
            task_id: update.status.task_id.clone(),
            uuid: update.status.uuid.clone().unwrap(),
        },
    ))
    .await;
}

fn state(update: &StatusUpdate) -> TaskState {
    TaskState::try_from(update.status.state).unwrap()
}

/// Receives updates, acknowledging each, until a terminal one; returns them all.
async fn updates_until_terminal(conn: &mut MemoryConnection) -> Vec<StatusUpdate> {
    let mut seen = Vec::new();
    loop {
        let update = next_update(conn).await;
        ack(conn, &update).await;
        let terminal = matches!(
            state(&update),
            TaskState::TaskFinished | TaskState::TaskFailed | TaskState::TaskKilled
        );
        seen.push(update);
        if terminal {
            return seen;
        }
    }
}

fn states(updates: &[StatusUpdate]) -> Vec<TaskState> {
    updates.iter().map(state).collect()
}

fn message(update: &StatusUpdate) -> &str {
    update.status.message.as_deref().unwrap_or_default()
}

fn sandbox_of(state: &serde_json::Value, task_id: &str) -> PathBuf {
    let all = state["frameworks"]
        .as_array()
        .into_iter()
        .chain(state["completed_frameworks"].as_array())
        .flatten();
    for framework in all {
        for key in ["executors", "completed_executors"] {
            for executor in framework[key].as_array().into_iter().flatten() {
                if executor["id"] == task_id {
                    return PathBuf::from(executor["directory"].as_str().unwrap());
                }
            }
        }
    }
    panic!("no executor for {task_id} in {state}");
}

#[tokio::test]
async fn a_command_runs_to_completion_with_its_environment_and_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, register) = agent.register().await;
    assert!(register.agent_info.id.is_none());
    assert_eq!(register.agent_info.hostname, "127.0.0.1");
    assert_eq!(register.http_address, Some(agent.http.to_string()));
    assert_eq!(register.agent_info.resources.len(), 4);

    run_task(
        &conn,
        framework(&[]),
        command_task(
            "t1",
            "echo \"$MESOS_TASK_ID $PORT0 $PORTS $MESOS_FRAMEWORK_ID\"; pwd",
        ),
    )
    .await;
    let updates = updates_until_terminal(&mut conn).await;
    assert_eq!(
        states(&updates),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    let finished = updates.last().unwrap();
    assert_eq!(message(finished), "Command exited with status 0");
    assert_eq!(finished.status.agent_id.as_ref().unwrap().value, AGENT_ID);
    assert_eq!(finished.status.executor_id.as_ref().unwrap().value, "t1");
    assert_eq!(finished.status.uuid.as_ref().unwrap().len(), 16);

    // The agent id is checkpointed the Mesos way.
    let latest = std::fs::read_link(dir.path().join("meta/slaves/latest")).unwrap();
    assert_eq!(latest, PathBuf::from(AGENT_ID));

    let state = agent.state().await;
    assert_eq!(state["id"], AGENT_ID);
    assert_eq!(state["pid"], format!("slave(1)@{}", agent.http));
    assert_eq!(state["master_hostname"], "master-host");
    assert_eq!(state["resources"]["cpus"], 2.0);
    let sandbox = sandbox_of(&state, "t1");
    assert!(sandbox.starts_with(
        dir.path()
            .join("slaves")
            .join(AGENT_ID)
            .join("frameworks/fw-1/executors/t1/runs")
    ));
    assert!(sandbox.parent().unwrap().join("latest").exists());
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap();
    assert_eq!(
        stdout,
        format!("t1 31000 31000,31001 fw-1\n{}\n", sandbox.display())
    );

    // The same file through /files.
    let path = sandbox.join("stdout").display().to_string();
    let (status, body) = agent
        .get(&format!("/files/read?path={path}&offset=0"))
        .await;
    assert_eq!(status, 200);
    let read: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(read["data"], stdout);
    let (status, body) = agent
        .get(&format!("/files/read?path={path}&offset=-1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["offset"],
        stdout.len()
    );
    let (status, body) = agent.get(&format!("/files/download?path={path}")).await;
    assert_eq!((status, body), (200, stdout.clone()));
    let (status, body) = agent
        .get(&format!("/files/browse?path={}", sandbox.display()))
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("stderr"));
    let (status, _) = agent.get("/files/read?path=/etc/passwd&offset=0").await;
    assert_eq!(status, 404);
    let (status, _) = agent
        .get(&format!(
            "/files/read?path={}/../../../../../../../../../etc/passwd&offset=0",
            sandbox.display()
        ))
        .await;
    assert_eq!(status, 404);

    for path in ["/health", "/slave(1)/health"] {
        assert_eq!(agent.get(path).await.0, 200);
    }
    let (_, flags) = agent.get("/flags").await;
    let flags: serde_json::Value = serde_json::from_str(&flags).unwrap();
    assert_eq!(flags["flags"]["port"], "5051");
    let (_, same) = agent.get("/slave(1)/state").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&same).unwrap()["id"],
        AGENT_ID
    );

    agent.stop().await.unwrap();
}

#[tokio::test]
async fn failures_and_unsupported_tasks_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, _) = agent.register().await;

    run_task(&conn, framework(&[]), command_task("fails", "exit 3")).await;
    let updates = updates_until_terminal(&mut conn).await;
    assert_eq!(states(&updates).last(), Some(&TaskState::TaskFailed));
    assert_eq!(
        message(updates.last().unwrap()),
        "Command exited with status 3"
    );

    let mut direct = command_task("missing", "");
    direct.command = Some(CommandInfo {
        shell: Some(false),
        value: Some("/does/not/exist".into()),
        arguments: vec!["exist".into()],
        ..Default::default()
    });
    run_task(&conn, framework(&[]), direct).await;
    let updates = updates_until_terminal(&mut conn).await;
    let last = updates.last().unwrap();
    assert_eq!(state(last), TaskState::TaskFailed);
    assert!(
        message(last).contains("/does/not/exist"),
        "{}",
        message(last)
    );

    let mut with_executor = command_task("custom", "true");
    with_executor.command = None;
    with_executor.executor = Some(mesos_proto::v1::ExecutorInfo {
        executor_id: mesos_proto::v1::ExecutorId {
            value: "custom-executor".into(),
        },
        ..Default::default()
    });
    run_task(&conn, framework(&[]), with_executor).await;
    let update = next_update(&mut conn).await;
    assert_eq!(state(&update), TaskState::TaskFailed);
    assert!(
        message(&update).contains("Executor has no command"),
        "{}",
        message(&update)
    );
    ack(&conn, &update).await;

    agent.stop().await.unwrap();
}

#[tokio::test]
async fn kills_escalate_to_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, _) = agent.register().await;
    let killing = framework_info::capability::Type::TaskKillingState;

    run_task(
        &conn,
        framework(&[killing]),
        command_task("polite", "sleep 60"),
    )
    .await;
    for want in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = next_update(&mut conn).await;
        assert_eq!(state(&update), want);
        ack(&conn, &update).await;
    }
    kill_task(&conn, "polite", None).await;
    let updates = updates_until_terminal(&mut conn).await;
    assert_eq!(
        states(&updates),
        [TaskState::TaskKilling, TaskState::TaskKilled]
    );
    assert_eq!(
        message(updates.last().unwrap()),
        "Command terminated with signal Terminated"
    );

    let stubborn = command_task("stubborn", "trap '' TERM; sleep 60");
    run_task(&conn, framework(&[]), stubborn).await;
    for want in [TaskState::TaskStarting, TaskState::TaskRunning] {
        let update = next_update(&mut conn).await;
        assert_eq!(state(&update), want);
        ack(&conn, &update).await;
    }
    // Let the shell install its trap before the kill.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    kill_task(&conn, "stubborn", Some(Duration::from_millis(700))).await;
    let updates = updates_until_terminal(&mut conn).await;
    // No TASK_KILLING: the framework lacks the capability.
    assert_eq!(states(&updates), [TaskState::TaskKilled]);
    assert_eq!(
        message(&updates[0]),
        "Command terminated with signal Killed"
    );
    assert!(started.elapsed() >= Duration::from_millis(700));

    agent.stop().await.unwrap();
}

#[tokio::test]
async fn unacknowledged_updates_are_retried_and_resent_on_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, _) = agent.register().await;

    run_task(&conn, framework(&[]), command_task("slow", "sleep 60")).await;
    let starting = next_update(&mut conn).await;
    assert_eq!(state(&starting), TaskState::TaskStarting);
    // Only the head is in flight; without an ack it comes again (200ms, then 400ms...).
    let again = next_update(&mut conn).await;
    assert_eq!(again.status.uuid, starting.status.uuid);
    assert_eq!(again.latest_state, Some(TaskState::TaskRunning as i32));

    // The master goes away; the agent reconnects and re-registers with its task.
    drop(conn);
    let (mut conn, register) = agent.register().await;
    assert_eq!(register.agent_info.id.as_ref().unwrap().value, AGENT_ID);
    assert_eq!(register.tasks.len(), 1);
    let task = &register.tasks[0];
    assert_eq!(task.task_id.value, "slow");
    assert_eq!(task.state, TaskState::TaskRunning as i32);
    assert_eq!(
        task.status_update_state,
        Some(TaskState::TaskStarting as i32)
    );
    assert_eq!(register.frameworks.len(), 1);
    let resent = next_update(&mut conn).await;
    assert_eq!(resent.status.uuid, starting.status.uuid);
    ack(&conn, &resent).await;
    let running = next_update(&mut conn).await;
    assert_eq!(state(&running), TaskState::TaskRunning);
    ack(&conn, &running).await;

    // Shutting the framework down kills its task; nothing more is reported for it.
    conn.send(master_message::Message::ShutdownFramework(
        ShutdownFramework {
            framework_id: FrameworkId {
                value: "fw-1".into(),
            },
        },
    ))
    .await;
    let state = within(async {
        loop {
            let state = agent.state().await;
            if state["frameworks"].as_array().unwrap().is_empty() {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let done = &state["completed_frameworks"][0]["completed_executors"][0]["completed_tasks"][0];
    assert_eq!(done["id"], "slow");

    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_restarted_agent_keeps_its_id_and_tasks_and_loses_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("go");
    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, _) = agent.register().await;
    let command = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 0",
        marker.display()
    );
    run_task(&conn, framework(&[]), command_task("survivor", &command)).await;
    let starting = next_update(&mut conn).await;
    ack(&conn, &starting).await;
    let running = next_update(&mut conn).await;
    assert_eq!(state(&running), TaskState::TaskRunning);
    // RUNNING is never acknowledged before the agent stops.
    agent.stop().await.unwrap();
    drop(conn);

    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, register) = agent.register().await;
    assert_eq!(register.agent_info.id.as_ref().unwrap().value, AGENT_ID);
    assert_eq!(register.tasks.len(), 1);
    assert_eq!(register.tasks[0].state, TaskState::TaskRunning as i32);
    let resent = next_update(&mut conn).await;
    assert_eq!(resent.status.uuid, running.status.uuid);
    ack(&conn, &resent).await;

    // The task is still alive, watched by the new agent, and ends normally.
    std::fs::write(&marker, "").unwrap();
    let finished = next_update(&mut conn).await;
    assert_eq!(state(&finished), TaskState::TaskFinished);
    ack(&conn, &finished).await;

    // A task that ends while the agent is down is reported once it is back.
    let marker2 = dir.path().join("go2");
    let command = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 4",
        marker2.display()
    );
    run_task(&conn, framework(&[]), command_task("orphan", &command)).await;
    for _ in 0..2 {
        let update = next_update(&mut conn).await;
        ack(&conn, &update).await;
    }
    agent.stop().await.unwrap();
    drop(conn);
    std::fs::write(&marker2, "").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (mut conn, register) = agent.register().await;
    assert_eq!(register.agent_info.id.as_ref().unwrap().value, AGENT_ID);
    // The ack of RUNNING may not have been processed before the stop; then RUNNING
    // comes again first.
    let updates = updates_until_terminal(&mut conn).await;
    let failed = updates.last().unwrap();
    assert!(updates.len() <= 2, "{:?}", states(&updates));
    assert_eq!(failed.status.task_id.value, "orphan");
    assert_eq!(state(failed), TaskState::TaskFailed);
    assert_eq!(message(failed), "Command exited with status 4");
    agent.stop().await.unwrap();

    // Different resources: a new agent.
    let mut agent = TestAgent::start(dir.path(), &["--attributes=rack:r2"]).await;
    let (_conn, register) = agent.accept().await;
    assert!(register.agent_info.id.is_none());
    assert!(register.tasks.is_empty());
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_agent_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = TestAgent::start(dir.path(), &[]).await;
    let (conn, _) = agent.accept().await;
    conn.send(master_message::Message::Refused(
        mesos_proto::internal::Refused {
            message: "agent is gone".into(),
        },
    ))
    .await;
    let result = within(agent.handle).await.unwrap();
    assert!(matches!(result, Err(AgentError::Refused(m)) if m == "agent is gone"));
}
