//! `mesos task exec [-i] [-t] <task> <cmd> [args...]`: runs a command in a running task's
//! container through its agent's operator API, as the Mesos CLI does.
//!
//! The task and its agent come from the master (`/tasks`, `/master/slaves`); the command
//! runs in a container nested in the task's (LAUNCH_NESTED_CONTAINER_SESSION, whose
//! response streams the output back); with `-i` the terminal's input goes to it as one
//! ATTACH_CONTAINER_INPUT stream (with a heartbeat every 30 s, and the window size with
//! `-t`, in raw mode so that keys reach the remote shell as typed). When the output ends,
//! WAIT_CONTAINER gives the command's exit status, which becomes ours (128 + signal for a
//! command ended by a signal).
//!
//! ```text
//!  stdin ──▶ ATTACH_CONTAINER_INPUT (RecordIO Calls) ──▶ agent ──▶ command
//!  stdout/stderr ◀── LAUNCH_NESTED_CONTAINER_SESSION (RecordIO ProcessIO) ◀──┘
//!  exit code ◀── WAIT_CONTAINER
//! ```

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::master::{client, CliError, Master, REQUEST_TIMEOUT};
use crate::verbs::tasks;

/// How often the input stream carries a heartbeat (the Mesos CLI's interval).
const HEARTBEAT: Duration = Duration::from_secs(30);

/// What to run where.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub task_id: String,
    pub command: String,
    pub args: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
}

/// Runs the command; our exit code is the command's.
pub async fn run(master: &Master, request: ExecRequest) -> Result<i32, CliError> {
    let stdin_is_tty = rustix::termios::isatty(std::io::stdin());
    if request.tty && !stdin_is_tty {
        return Err(CliError::new(
            "Must be running in a tty to pass the '--tty' flag",
        ));
    }
    let target = find_target(master, &request.task_id).await?;
    let id = json!({ "parent": target.container_id, "value": uuid::Uuid::new_v4().to_string() });
    let session = launch_session(&target.agent_api, &id, &request).await?;
    // Raw mode from here on: the remote terminal does the echoing and line editing.
    let _terminal = match (request.tty, request.interactive) {
        (true, true) => Some(RawTerminal::enter()?),
        _ => None,
    };
    let input = request.interactive.then(|| {
        tokio::spawn(send_input(
            target.agent_api.clone(),
            id.clone(),
            request.tty,
        ))
    });
    let streamed = copy_output(session).await;
    if let Some(input) = input {
        input.abort();
    }
    streamed?;
    let status = wait_container(&target.agent_api, &id).await?;
    Ok(exit_code(status))
}

/// `WEXITSTATUS`, or 128 + the signal that ended the command.
pub fn exit_code(status: i64) -> i32 {
    let status = status as i32;
    let signal = status & 0x7f;
    if signal != 0 {
        128 + signal
    } else {
        (status >> 8) & 0xff
    }
}

struct Target {
    agent_api: String,
    container_id: Value,
}

async fn find_target(master: &Master, task_id: &str) -> Result<Target, CliError> {
    let found = tasks(master, &[("task_id", task_id)]).await?;
    let running: Vec<&Value> = found
        .iter()
        .filter(|t| t["id"] == task_id && t["state"] == "TASK_RUNNING")
        .collect();
    let task = match running.as_slice() {
        [] => {
            return Err(CliError::new(format!(
                "Unable to find running task '{task_id}' from leading master '{}'",
                master.url
            )))
        }
        [task] => *task,
        _ => {
            return Err(CliError::new(format!(
                "More than one task matching id '{task_id}'"
            )))
        }
    };
    let container_id = task["statuses"]
        .as_array()
        .and_then(|s| s.first())
        .map(|s| s["container_status"]["container_id"].clone())
        .filter(|id| id["value"].is_string())
        .ok_or_else(|| {
            CliError::new(
                "No container found for the specified task. It might still be spinning up. \
                 Please try again",
            )
        })?;
    let agent_id = task["slave_id"].as_str().unwrap_or_default();
    let agents = master.get_list("master/slaves", "slaves", &[]).await?;
    let address = agents
        .iter()
        .find(|a| a["id"] == agent_id)
        .and_then(|a| a["pid"].as_str())
        .and_then(|pid| pid.split_once('@'))
        .map(|(_, address)| address.to_string())
        .ok_or_else(|| CliError::new(format!("Unable to find agent '{agent_id}'")))?;
    Ok(Target {
        agent_api: format!("{}://{address}/api/v1", mesos_common::tls::scheme()),
        container_id,
    })
}

async fn launch_session(
    api: &str,
    id: &Value,
    request: &ExecRequest,
) -> Result<reqwest::Response, CliError> {
    let arguments: Vec<&str> = std::iter::once(request.command.as_str())
        .chain(request.args.iter().map(String::as_str))
        .collect();
    let mut call = json!({
        "type": "LAUNCH_NESTED_CONTAINER_SESSION",
        "launch_nested_container_session": {
            "container_id": id,
            "command": { "value": request.command, "arguments": arguments, "shell": false }
        }
    });
    if request.tty {
        let mut tty_info = json!({});
        if let Some((rows, columns)) = window_size() {
            tty_info["window_size"] = json!({ "rows": rows, "columns": columns });
        }
        call["launch_nested_container_session"]["container"] =
            json!({ "type": "MESOS", "tty_info": tty_info });
    }
    let response = client()
        .post(api)
        .header("Content-Type", "application/json")
        .header("Accept", "application/recordio")
        .header("Message-Accept", "application/json")
        .body(call.to_string())
        .send()
        .await
        .map_err(|e| CliError::new(format!("Cannot reach the agent at {api}: {e}")))?;
    if response.status() != reqwest::StatusCode::OK {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(CliError::new(format!(
            "The agent refused the command: {status} {}",
            message_of(&body)
        )));
    }
    Ok(response)
}

/// The `message` of a JSON error body, else the body.
fn message_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

/// Writes the session's output to ours until it ends.
async fn copy_output(session: reqwest::Response) -> Result<(), CliError> {
    let mut decoder = mesos_common::recordio::Decoder::default();
    let mut body = session.bytes_stream();
    let broken =
        |e: &dyn std::fmt::Display| CliError::new(format!("Error parsing output stream: {e}"));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| broken(&e))?;
        for record in decoder.feed(&chunk).map_err(|e| broken(&e))? {
            let message: Value = serde_json::from_slice(&record).map_err(|e| broken(&e))?;
            if message["type"] != "DATA" {
                continue;
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(message["data"]["data"].as_str().unwrap_or(""))
                .map_err(|e| broken(&e))?;
            let written = match message["data"]["type"].as_str() {
                Some("STDERR") => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(&data).and_then(|()| err.flush())
                }
                _ => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&data).and_then(|()| out.flush())
                }
            };
            // Our reader went away (a closed pipe): the session ends with us.
            if written.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn input_call(process_io: Value) -> Value {
    json!({
        "type": "ATTACH_CONTAINER_INPUT",
        "attach_container_input": { "type": "PROCESS_IO", "process_io": process_io }
    })
}

fn stdin_record(data: &[u8]) -> Value {
    input_call(json!({
        "type": "DATA",
        "data": { "type": "STDIN", "data": base64::engine::general_purpose::STANDARD.encode(data) }
    }))
}

fn window_record(rows: u16, columns: u16) -> Value {
    input_call(json!({
        "type": "CONTROL",
        "control": { "type": "TTY_INFO", "tty_info": { "window_size": { "rows": rows, "columns": columns } } }
    }))
}

fn heartbeat_record() -> Value {
    input_call(json!({
        "type": "CONTROL",
        "control": {
            "type": "HEARTBEAT",
            "heartbeat": { "interval": { "nanoseconds": HEARTBEAT.as_nanos() as u64 } }
        }
    }))
}

fn encode(call: &Value) -> Bytes {
    mesos_common::recordio::encode(call.to_string().as_bytes())
}

/// Streams our stdin (and with a TTY, window size changes) to the command until stdin
/// ends; without a TTY the end of stdin is sent as an empty STDIN record (EOF).
async fn send_input(api: String, id: Value, tty: bool) {
    let (records, queue) = mpsc::channel::<Bytes>(64);
    let first = json!({
        "type": "ATTACH_CONTAINER_INPUT",
        "attach_container_input": { "type": "CONTAINER_ID", "container_id": id }
    });
    let _ = records.send(encode(&first)).await;
    let body = futures::stream::unfold(queue, |mut queue| async move {
        let chunk = queue.recv().await?;
        Some((Ok::<_, std::io::Error>(chunk), queue))
    });
    let request = client()
        .post(&api)
        .header("Content-Type", "application/recordio")
        .header("Message-Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let produce = async move {
        let mut stdin = tokio::io::stdin();
        let mut buffer = vec![0u8; 1024];
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut resized =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok();
        if tty {
            if let Some((rows, columns)) = window_size() {
                let _ = records.send(encode(&window_record(rows, columns))).await;
            }
        }
        loop {
            let record = tokio::select! {
                read = stdin.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => stdin_record(&buffer[..n]),
                },
                _ = heartbeat.tick() => heartbeat_record(),
                Some(()) = async { match resized.as_mut() { Some(s) => s.recv().await, None => None } } => {
                    match window_size() {
                        Some((rows, columns)) if tty => window_record(rows, columns),
                        _ => continue,
                    }
                }
            };
            if records.send(encode(&record)).await.is_err() {
                return;
            }
        }
        if !tty {
            let _ = records.send(encode(&stdin_record(b""))).await;
        }
        // The request ends when `records` is dropped here.
    };
    let (_, answered) = tokio::join!(produce, request);
    if let Ok(response) = answered {
        if !response.status().is_success() {
            tracing::debug!(status = %response.status(), "the agent refused our input");
        }
    }
}

async fn wait_container(api: &str, id: &Value) -> Result<i64, CliError> {
    let call = json!({ "type": "WAIT_CONTAINER", "wait_container": { "container_id": id } });
    let failed = |e: &dyn std::fmt::Display| {
        CliError::new(format!("Error waiting for command to complete: {e}"))
    };
    let response = client()
        .post(api)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(call.to_string())
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| failed(&e))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| failed(&e))?;
    if !status.is_success() {
        return Err(failed(&format!("{status} {}", message_of(&body))));
    }
    let body: Value = serde_json::from_str(&body).map_err(|e| failed(&e))?;
    body["wait_container"]["exit_status"]
        .as_i64()
        .ok_or_else(|| failed(&"the agent gave no exit status"))
}

/// Our terminal's size, when stdin is one.
fn window_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdin()).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// The terminal in raw mode until dropped.
struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    fn enter() -> Result<RawTerminal, CliError> {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let failed = |e: rustix::io::Errno| {
            CliError::new(format!("Cannot set the terminal to raw mode: {e}"))
        };
        let saved = tcgetattr(std::io::stdin()).map_err(failed)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(std::io::stdin(), OptionalActions::Now, &raw).map_err(failed)?;
        Ok(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        use rustix::termios::{tcsetattr, OptionalActions};
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Flush, &self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_wait_status() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(15), 143);
    }

    #[test]
    fn input_records_are_the_mesos_cli_s() {
        let record = stdin_record(b"ls\n");
        assert_eq!(
            record["attach_container_input"]["process_io"]["data"]["data"],
            "bHMK"
        );
        assert_eq!(
            window_record(24, 80)["attach_container_input"]["process_io"]["control"]["tty_info"]
                ["window_size"]["columns"],
            80
        );
        let framed = encode(&json!({"a": 1}));
        assert_eq!(&framed[..], b"7\n{\"a\":1}");
    }
}
