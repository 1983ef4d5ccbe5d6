//! Exec into running tasks through the agent's operator API, spoken on the wire as the
//! Mesos CLI speaks it: LAUNCH_NESTED_CONTAINER_SESSION (a RecordIO stream of ProcessIO
//! records back), ATTACH_CONTAINER_INPUT (a RecordIO stream of calls in), WAIT_CONTAINER
//! (the exit status), into a command task and into a Docker task, with and without a TTY;
//! a client that goes away leaves no process behind; unknown or finished containers are
//! refused.

use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use mesos_tests::docker::*;
use mesos_tests::http;
use mesos_tests::recordio::RecordIoDecoder;
use mesos_tests::*;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const LAUNCH: Duration = Duration::from_secs(30);

/// A running task (command or Docker) and where to reach its agent.
struct RunningTask {
    task_id: String,
    agent_id: String,
    container_id: Value,
    api: String,
}

async fn run_task(
    cluster: &Cluster,
    sched: &mut Scheduler,
    task: impl FnOnce(&str, &str) -> Value,
) -> RunningTask {
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("exec-target");
    sched.launch(&offer, vec![task(&task_id, &agent_id)]).await;
    let running = sched
        .await_state_within(&task_id, "TASK_RUNNING", LAUNCH)
        .await;
    let container_id = running["container_status"]["container_id"].clone();
    assert!(
        container_id["value"].is_string(),
        "TASK_RUNNING names the container: {running}"
    );
    RunningTask {
        task_id,
        agent_id,
        container_id,
        api: cluster.agent_url(0, "/api/v1"),
    }
}

fn nested_id(parent: &Value) -> Value {
    json!({ "parent": parent, "value": unique_id("session") })
}

/// The Python CLI's command for `task exec <task> sh -c <script>`.
fn sh(script: &str) -> Value {
    json!({ "shell": false, "value": "sh", "arguments": ["sh", "-c", script] })
}

async fn launch_session(
    api: &str,
    id: &Value,
    command: Value,
    tty: Option<(u32, u32)>,
) -> reqwest::Response {
    let mut call = json!({
        "type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": { "container_id": id, "command": command }
    });
    if let Some((rows, columns)) = tty {
        call["launch_nested_container_session"]["container"] = json!({
            "type": "MESOS",
            "tty_info": { "window_size": { "rows": rows, "columns": columns } }
        });
    }
    http::client()
        .post(api)
        .header("Content-Type", "application/json")
        .header("Accept", "application/recordio")
        .header("Message-Accept", "application/json")
        .body(call.to_string())
        .send()
        .await
        .expect("LAUNCH_NESTED_CONTAINER_SESSION sent")
}

/// The output of a session as it arrives.
struct Output {
    records: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    decoder: RecordIoDecoder,
    stdout: String,
    stderr: String,
}

impl Output {
    fn of(response: reqwest::Response) -> Output {
        assert_eq!(response.status().as_u16(), 200, "the session starts");
        assert_eq!(header(&response, "content-type"), "application/recordio");
        assert_eq!(
            header(&response, "message-content-type"),
            "application/json"
        );
        Output {
            records: response.bytes_stream().boxed(),
            decoder: RecordIoDecoder::new(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    /// Reads one chunk; false at the end of the stream.
    async fn read(&mut self) -> bool {
        let chunk = match tokio::time::timeout(TIMEOUT, self.records.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(e))) => panic!("the output stream failed: {e}"),
            Ok(None) => return false,
            Err(_) => panic!(
                "no output for {TIMEOUT:?}; so far: {:?} {:?}",
                self.stdout, self.stderr
            ),
        };
        for record in self.decoder.feed(&chunk).expect("RecordIO framing") {
            let message: Value = serde_json::from_slice(&record).expect("a JSON ProcessIO");
            if message["type"] != "DATA" {
                assert_eq!(message["control"]["type"], "HEARTBEAT", "{message}");
                continue;
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(message["data"]["data"].as_str().unwrap_or(""))
                .expect("base64 data");
            let text = String::from_utf8_lossy(&data);
            match message["data"]["type"].as_str() {
                Some("STDOUT") => self.stdout.push_str(&text),
                Some("STDERR") => self.stderr.push_str(&text),
                other => panic!("unexpected data type {other:?}"),
            }
        }
        true
    }

    async fn until(&mut self, needle: &str) {
        while !self.stdout.contains(needle) {
            assert!(
                self.read().await,
                "the output ended before {needle:?}: {:?}",
                self.stdout
            );
        }
    }

    async fn read_to_end(&mut self) {
        while self.read().await {}
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn record(call: &Value) -> Vec<u8> {
    let body = call.to_string();
    let mut out = format!("{}\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn stdin(data: &[u8]) -> Value {
    json!({
        "type": "ATTACH_CONTAINER_INPUT",
        "attach_container_input": {
            "type": "PROCESS_IO",
            "process_io": {
                "type": "DATA",
                "data": { "type": "STDIN", "data": base64::engine::general_purpose::STANDARD.encode(data) }
            }
        }
    })
}

fn window(rows: u32, columns: u32) -> Value {
    json!({
        "type": "ATTACH_CONTAINER_INPUT",
        "attach_container_input": {
            "type": "PROCESS_IO",
            "process_io": {
                "type": "CONTROL",
                "control": { "type": "TTY_INFO", "tty_info": { "window_size": { "rows": rows, "columns": columns } } }
            }
        }
    })
}

/// An ATTACH_CONTAINER_INPUT request whose body is streamed record by record.
struct Input {
    records: mpsc::UnboundedSender<Vec<u8>>,
    response: tokio::task::JoinHandle<u16>,
}

impl Input {
    fn attach(api: &str, id: &Value) -> Input {
        let (records, queue) = mpsc::unbounded_channel::<Vec<u8>>();
        let first = json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": { "type": "CONTAINER_ID", "container_id": id }
        });
        records.send(record(&first)).unwrap();
        let body = futures::stream::unfold(queue, |mut queue| async move {
            let chunk = queue.recv().await?;
            Some((Ok::<_, std::io::Error>(chunk), queue))
        });
        let request = http::client()
            .post(api)
            .header("Content-Type", "application/recordio")
            .header("Message-Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(reqwest::Body::wrap_stream(body));
        let response = tokio::spawn(async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        });
        Input { records, response }
    }

    fn send(&self, call: &Value) {
        let _ = self.records.send(record(call));
    }

    /// Ends the request body; the agent's answer.
    async fn finish(self) -> u16 {
        drop(self.records);
        tokio::time::timeout(TIMEOUT, self.response)
            .await
            .expect("ATTACH_CONTAINER_INPUT answered")
            .expect("input task")
    }
}

async fn wait_container(api: &str, id: &Value) -> http::Response {
    http::operator_call(
        api,
        &json!({ "type": "WAIT_CONTAINER", "wait_container": { "container_id": id } }),
    )
    .await
}

async fn exit_status(api: &str, id: &Value) -> i64 {
    let response = wait_container(api, id).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["type"], "WAIT_CONTAINER", "{body}");
    body["wait_container"]["exit_status"]
        .as_i64()
        .expect("an exit status")
}

/// Without a TTY: `sh` reads `echo hi` from stdin, prints it, ends at EOF with status 0.
async fn session_without_tty(task: &RunningTask, expect_pwd: Option<&str>) {
    let id = nested_id(&task.container_id);
    let mut output = Output::of(launch_session(&task.api, &id, sh("exec sh"), None).await);
    let input = Input::attach(&task.api, &id);
    input.send(&stdin(
        b"echo hi; echo \"task=$MESOS_TASK_ID\"; pwd; echo to-stderr >&2\n",
    ));
    output.until("hi\n").await;
    input.send(&stdin(b""));
    assert_eq!(input.finish().await, 200);
    output.read_to_end().await;
    assert!(output.stdout.starts_with("hi\n"), "{:?}", output.stdout);
    assert!(
        output.stderr.contains("to-stderr"),
        "stderr comes as STDERR: {:?}",
        output.stderr
    );
    if let Some(pwd) = expect_pwd {
        assert!(
            output.stdout.contains(&format!("task={}\n", task.task_id)),
            "the task's environment: {:?}",
            output.stdout
        );
        assert!(
            output.stdout.contains(&format!("{pwd}\n")),
            "runs in the sandbox {pwd}: {:?}",
            output.stdout
        );
    }
    assert_eq!(exit_status(&task.api, &id).await, 0);
}

/// With a TTY: the window size set at launch and changed later is the terminal's, `hi`
/// comes back, `exit 0` ends the session with status 0.
async fn session_with_tty(task: &RunningTask) {
    let id = nested_id(&task.container_id);
    let mut output =
        Output::of(launch_session(&task.api, &id, sh("exec sh"), Some((24, 80))).await);
    let input = Input::attach(&task.api, &id);
    input.send(&stdin(b"test -t 0 && stty size\n"));
    output.until("24 80").await;
    input.send(&window(31, 101));
    input.send(&stdin(b"stty size; echo h''i\n"));
    output.until("31 101").await;
    output.until("hi").await;
    input.send(&stdin(b"exit 0\n"));
    output.read_to_end().await;
    assert_eq!(input.finish().await, 200);
    assert_eq!(exit_status(&task.api, &id).await, 0);
}

/// Processes (not zombies) whose command line is exactly `argv`.
fn processes_running(argv: &[&str]) -> Vec<i32> {
    let wanted: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
        .collect()
}

/// A session whose client goes away: its process (and the one it started) is killed.
async fn disconnect_leaves_nothing(task: &RunningTask, marker_seconds: &str) {
    let id = nested_id(&task.container_id);
    let script = format!("sleep {marker_seconds} & echo started; wait");
    let mut output = Output::of(launch_session(&task.api, &id, sh(&script), None).await);
    output.until("started").await;
    // `started` may come before the background shell has exec'd its sleep.
    eventually("the session's sleep running", TIMEOUT, async || {
        (processes_running(&["sleep", marker_seconds]).len() == 1).then_some(())
    })
    .await;
    drop(output);
    eventually("the session's processes gone", TIMEOUT, async || {
        processes_running(&["sleep", marker_seconds])
            .is_empty()
            .then_some(())
    })
    .await;
    let status = exit_status(&task.api, &id).await;
    assert_ne!(status, 0, "a killed session does not end well");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_into_a_command_task() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("exec-command").await;
    let task = run_task(&cluster, &mut sched, |id, agent| {
        command_task(id, agent, "sleep 600", 0.1, 32.0)
    })
    .await;
    let sandbox = cluster.sandbox_dir(0, &task.task_id).await;

    session_without_tty(&task, Some(&sandbox)).await;
    session_with_tty(&task).await;
    disconnect_leaves_nothing(&task, "7771").await;

    // Output can be attached to a running session, and it can be killed.
    let id = nested_id(&task.container_id);
    let mut first =
        Output::of(launch_session(&task.api, &id, sh("echo ready; exec sleep 7772"), None).await);
    first.until("ready").await;
    let attached = http::client()
        .post(&task.api)
        .header("Content-Type", "application/json")
        .header("Accept", "application/recordio")
        .body(json!({ "type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": { "container_id": id } }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(attached.status().as_u16(), 200);
    let kill = http::operator_call(
        &task.api,
        &json!({ "type": "KILL_NESTED_CONTAINER", "kill_nested_container": { "container_id": id, "signal": 15 } }),
    )
    .await;
    assert_eq!(kill.status, 200, "{}", kill.body);
    first.read_to_end().await;
    Output::of(attached).read_to_end().await;
    let waited = http::operator_call(
        &task.api,
        &json!({ "type": "WAIT_NESTED_CONTAINER", "wait_nested_container": { "container_id": id } }),
    )
    .await
    .json();
    assert_eq!(
        waited["wait_nested_container"]["exit_status"], 15,
        "terminated by SIGTERM: {waited}"
    );
    // A nested container launched on its own writes its output to its own sandbox.
    let detached = nested_id(&task.container_id);
    let launched = http::operator_call(
        &task.api,
        &json!({
            "type": "LAUNCH_NESTED_CONTAINER",
            "launch_nested_container": {
                "container_id": detached,
                "command": { "value": "echo \"detached in $MESOS_SANDBOX\"; exit 2" }
            }
        }),
    )
    .await;
    assert_eq!(launched.status, 200, "{}", launched.body);
    assert_eq!(exit_status(&task.api, &detached).await, 2 << 8);
    let own_sandbox = format!(
        "{sandbox}/containers/{}",
        detached["value"].as_str().unwrap()
    );
    let written = std::fs::read_to_string(format!("{own_sandbox}/stdout")).unwrap_or_default();
    assert_eq!(written, format!("detached in {own_sandbox}\n"));

    let again = http::operator_call(
        &task.api,
        &json!({ "type": "KILL_CONTAINER", "kill_container": { "container_id": id } }),
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_into_a_docker_task() {
    let cluster = docker_cluster().await;
    let mut sched = cluster.subscribe("exec-docker").await;
    let task = run_task(&cluster, &mut sched, |id, agent| {
        docker_task(id, agent, IMAGE, Some("sleep 600"), 0.1, 64.0)
    })
    .await;
    let _cleanup = ContainerCleanup::new(&task.agent_id);

    session_without_tty(&task, None).await;
    session_with_tty(&task).await;
    disconnect_leaves_nothing(&task, "7773").await;

    // The exec runs inside the task's container: it sees the task's environment.
    let id = nested_id(&task.container_id);
    let mut output = Output::of(
        launch_session(
            &task.api,
            &id,
            sh("echo \"task=$MESOS_TASK_ID\"; exit 5"),
            None,
        )
        .await,
    );
    output.read_to_end().await;
    assert_eq!(output.stdout.trim(), format!("task={}", task.task_id));
    assert_eq!(exit_status(&task.api, &id).await, 5 << 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_into_an_unknown_or_finished_task_is_refused() {
    let cluster = Cluster::start().await;
    let api = cluster.agent_url(0, "/api/v1");
    let unknown = json!({ "parent": { "value": "no-such-container" }, "value": "s1" });

    // As Mesos: a launch under an unknown parent is a bad request, the rest are not found.
    let launched = launch_session(&api, &unknown, sh("true"), None).await;
    assert_eq!(launched.status().as_u16(), 400);
    let body = launched.text().await.unwrap();
    assert!(
        body.contains("Parent container no-such-container does not exist"),
        "{body}"
    );
    for call in [
        json!({ "type": "ATTACH_CONTAINER_OUTPUT", "attach_container_output": { "container_id": unknown } }),
        json!({ "type": "WAIT_CONTAINER", "wait_container": { "container_id": unknown } }),
        json!({ "type": "KILL_CONTAINER", "kill_container": { "container_id": unknown } }),
    ] {
        let response = http::operator_call(&api, &call).await;
        assert_eq!(response.status, 404, "{call}: {}", response.body);
        assert!(
            response.body.contains("no-such-container.s1"),
            "{}",
            response.body
        );
    }
    let input = Input::attach(&api, &unknown);
    assert_eq!(input.finish().await, 404);

    // Bad media types, as Mesos answers them.
    let plain = http::operator_call(
        &api,
        &json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": { "type": "CONTAINER_ID", "container_id": unknown }
        }),
    )
    .await;
    assert_eq!(plain.status, 415, "{}", plain.body);
    let streamed_health = http::post(
        &api,
        r#"{"type":"GET_HEALTH"}"#,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/recordio"),
        ],
    )
    .await;
    assert_eq!(streamed_health.status, 406, "{}", streamed_health.body);
    let no_parent = launch_session(&api, &json!({ "value": "top" }), sh("true"), None).await;
    assert_eq!(no_parent.status().as_u16(), 400);

    // A task that finished takes no exec.
    let mut sched = cluster.subscribe("exec-finished").await;
    let offer = sched.next_offer().await;
    let agent_id = offer_agent_id(&offer).to_string();
    let task_id = unique_id("short");
    sched
        .launch(
            &offer,
            vec![command_task(&task_id, &agent_id, "true", 0.1, 32.0)],
        )
        .await;
    let finished = sched
        .await_state_within(&task_id, "TASK_FINISHED", LAUNCH)
        .await;
    let parent = finished["container_status"]["container_id"].clone();
    let refused = launch_session(&api, &nested_id(&parent), sh("true"), None).await;
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.unwrap().contains("does not exist"));
}

/// A session inherits its task's user (the agent switches users as root): `id -u` in a
/// task run as `nobody` answers nobody's uid, with or without a TTY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_as_the_task_s_user() {
    if !std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
    {
        eprintln!("skipped: switching users needs root");
        return;
    }
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("exec-user").await;
    let task = run_task(&cluster, &mut sched, |id, agent| {
        let mut task = command_task(id, agent, "sleep 600", 0.1, 32.0);
        task["command"]["user"] = json!("nobody");
        task
    })
    .await;
    for tty in [None, Some((24, 80))] {
        let id = nested_id(&task.container_id);
        let mut output = Output::of(launch_session(&task.api, &id, sh("id -u"), tty).await);
        output.until("65534").await;
        output.read_to_end().await;
        assert_eq!(exit_status(&task.api, &id).await, 0);
    }
    sched.kill(&task.task_id, &task.agent_id).await;
    sched.await_state(&task.task_id, "TASK_KILLED").await;
}
