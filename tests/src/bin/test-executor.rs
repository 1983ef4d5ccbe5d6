//! A tiny custom executor for the executor API tests, speaking plain JSON over HTTP as an
//! outside executor would (no project crate):
//!
//! - SUBSCRIBEs to `$MESOS_AGENT_ENDPOINT/api/v1/executor` and writes each event's type to
//!   stdout;
//! - on LAUNCH sends TASK_RUNNING, then TASK_FINISHED unless the task's name contains
//!   `linger` (such a task runs until killed);
//! - on KILL sends TASK_KILLED; on MESSAGE sends the same data back as a MESSAGE;
//! - on ACKNOWLEDGED writes `acknowledged <task id>`; on SHUTDOWN, or when the stream ends,
//!   exits. A task named with `crash` makes it exit with status 3 right after TASK_RUNNING.

use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use mesos_tests::recordio::RecordIoDecoder;
use serde_json::{json, Value};

struct Executor {
    url: String,
    framework_id: String,
    executor_id: String,
    client: reqwest::Client,
}

impl Executor {
    fn call(&self, kind: &str, field: &str, body: Value) -> Value {
        let mut call = json!({
            "type": kind,
            "framework_id": { "value": self.framework_id },
            "executor_id": { "value": self.executor_id },
        });
        if !field.is_empty() {
            call[field] = body;
        }
        call
    }

    async fn post(&self, call: Value) {
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(call.to_string())
            .send()
            .await;
        match response {
            Ok(r) if r.status().as_u16() == 202 => {}
            Ok(r) => eprintln!(
                "call refused: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(e) => eprintln!("call failed: {e}"),
        }
    }

    async fn update(&self, task_id: &str, state: &str) {
        let uuid: [u8; 16] = rand::random();
        let status = json!({
            "task_id": { "value": task_id },
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "uuid": base64::engine::general_purpose::STANDARD.encode(uuid),
        });
        self.post(self.call("UPDATE", "update", json!({ "status": status })))
            .await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let executor = Executor {
        url: format!("http://{}/api/v1/executor", env("MESOS_AGENT_ENDPOINT")),
        framework_id: env("MESOS_FRAMEWORK_ID"),
        executor_id: env("MESOS_EXECUTOR_ID"),
        client: reqwest::Client::new(),
    };
    for name in [
        "MESOS_SANDBOX",
        "MESOS_DIRECTORY",
        "MESOS_CHECKPOINT",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
    ] {
        println!("env {name}={}", std::env::var(name).unwrap_or_default());
    }
    let subscribe = executor.call(
        "SUBSCRIBE",
        "subscribe",
        json!({ "unacknowledged_tasks": [], "unacknowledged_updates": [] }),
    );
    let response = executor
        .client
        .post(&executor.url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(subscribe.to_string())
        .send()
        .await
        .expect("SUBSCRIBE");
    assert_eq!(response.status().as_u16(), 200, "SUBSCRIBE refused");
    let mut body = response.bytes_stream();
    let mut decoder = RecordIoDecoder::new();
    while let Some(Ok(chunk)) = body.next().await {
        for record in decoder.feed(&chunk).expect("RecordIO") {
            let event: Value = serde_json::from_slice(&record).expect("JSON event");
            let kind = event["type"].as_str().unwrap_or("").to_string();
            println!("event {kind}");
            match kind.as_str() {
                "LAUNCH" => {
                    let task = &event["launch"]["task"];
                    let task_id = task["task_id"]["value"].as_str().unwrap_or("");
                    let name = task["name"].as_str().unwrap_or("");
                    executor.update(task_id, "TASK_RUNNING").await;
                    if name.contains("crash") {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        std::process::exit(3);
                    }
                    if !name.contains("linger") {
                        executor.update(task_id, "TASK_FINISHED").await;
                    }
                }
                "KILL" => {
                    let task_id = event["kill"]["task_id"]["value"].as_str().unwrap_or("");
                    executor.update(task_id, "TASK_KILLED").await;
                }
                "MESSAGE" => {
                    let data = event["message"]["data"].clone();
                    executor
                        .post(executor.call("MESSAGE", "message", json!({ "data": data })))
                        .await;
                }
                "ACKNOWLEDGED" => {
                    println!(
                        "acknowledged {}",
                        event["acknowledged"]["task_id"]["value"]
                            .as_str()
                            .unwrap_or("")
                    );
                }
                "SHUTDOWN" => return,
                _ => {}
            }
        }
    }
}
