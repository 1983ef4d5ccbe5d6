//! A tiny custom executor for the executor API tests, speaking plain JSON over HTTP as an
//! outside executor would (no project crate):
//!
//! - SUBSCRIBEs to `$MESOS_AGENT_ENDPOINT/api/v1/executor` and writes each event's type to
//!   stdout;
//! - on LAUNCH (and for each task of a LAUNCH_GROUP) sends TASK_RUNNING, then
//!   TASK_FINISHED unless the task's name contains `linger` (such a task runs until
//!   killed);
//! - on KILL sends TASK_KILLED; on MESSAGE sends the same data back as a MESSAGE;
//! - on ACKNOWLEDGED writes `acknowledged <task id>`; on SHUTDOWN exits. A task named with
//!   `crash` makes it exit with status 3 right after TASK_RUNNING.
//!
//! Like Mesos's executor library, it keeps its updates until they are acknowledged and,
//! when its connection to the agent breaks, subscribes again if the framework checkpoints
//! (`MESOS_CHECKPOINT=1`): every `MESOS_SUBSCRIPTION_BACKOFF_MAX` at most, for
//! `MESOS_RECOVERY_TIMEOUT`, listing its unacknowledged tasks and updates. Otherwise it
//! exits when the connection breaks.
//!
//! `TEST_EXECUTOR_MODE` (from the ExecutorInfo's command environment) makes it misbehave:
//! `mute` never subscribes; `deaf` stays alive but never subscribes again after its
//! connection breaks; `finish_while_away` finishes its running tasks while disconnected
//! (the updates reach the agent only as unacknowledged updates of its next SUBSCRIBE).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use mesos_tests::recordio::RecordIoDecoder;
use serde_json::{json, Value};

struct Executor {
    url: String,
    framework_id: String,
    executor_id: String,
    client: reqwest::Client,
    /// Updates sent and not yet acknowledged, by uuid (base64).
    unacknowledged_updates: BTreeMap<String, Value>,
    /// Tasks launched none of whose updates has been acknowledged yet.
    unacknowledged_tasks: BTreeMap<String, Value>,
    /// Tasks running (lingering) until killed.
    running: Vec<String>,
}

/// How one subscription ended.
enum Ended {
    Shutdown,
    /// The agent went away after the subscription succeeded.
    StreamClosed,
    /// The agent could not be subscribed to.
    Refused(String),
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

    async fn update(&mut self, task_id: &str, state: &str) {
        let uuid: [u8; 16] = rand::random();
        let uuid = base64::engine::general_purpose::STANDARD.encode(uuid);
        let status = json!({
            "task_id": { "value": task_id },
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "uuid": uuid,
        });
        let update = json!({ "status": status });
        self.unacknowledged_updates.insert(uuid, update.clone());
        self.post(self.call("UPDATE", "update", update)).await;
    }

    /// One subscription: SUBSCRIBE, then the events until the stream ends.
    async fn run(&mut self) -> Ended {
        let subscribe = self.call(
            "SUBSCRIBE",
            "subscribe",
            json!({
                "unacknowledged_tasks": self.unacknowledged_tasks.values().collect::<Vec<_>>(),
                "unacknowledged_updates": self.unacknowledged_updates.values().collect::<Vec<_>>(),
            }),
        );
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(subscribe.to_string())
            .send()
            .await;
        let response = match response {
            Ok(r) if r.status().as_u16() == 200 => r,
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Ended::Refused(format!("SUBSCRIBE refused: {status} {body}"));
            }
            Err(e) => return Ended::Refused(format!("SUBSCRIBE failed: {e}")),
        };
        let mut body = response.bytes_stream();
        let mut decoder = RecordIoDecoder::new();
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else {
                break;
            };
            for record in decoder.feed(&chunk).expect("RecordIO") {
                let event: Value = serde_json::from_slice(&record).expect("JSON event");
                if self.handle(event).await {
                    return Ended::Shutdown;
                }
            }
        }
        Ended::StreamClosed
    }

    async fn launch(&mut self, task: &Value) {
        let task_id = task["task_id"]["value"].as_str().unwrap_or("").to_string();
        let name = task["name"].as_str().unwrap_or("").to_string();
        self.unacknowledged_tasks
            .insert(task_id.clone(), task.clone());
        self.update(&task_id, "TASK_RUNNING").await;
        if name.contains("crash") {
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::process::exit(3);
        }
        if name.contains("linger") {
            self.running.push(task_id);
        } else {
            self.update(&task_id, "TASK_FINISHED").await;
        }
    }

    /// Handles an event; true on SHUTDOWN.
    async fn handle(&mut self, event: Value) -> bool {
        let kind = event["type"].as_str().unwrap_or("").to_string();
        println!("event {kind}");
        match kind.as_str() {
            "LAUNCH" => self.launch(&event["launch"]["task"]).await,
            "LAUNCH_GROUP" => {
                let tasks = event["launch_group"]["task_group"]["tasks"].clone();
                for task in tasks.as_array().into_iter().flatten() {
                    self.launch(task).await;
                }
            }
            "KILL" => {
                let task_id = event["kill"]["task_id"]["value"].as_str().unwrap_or("");
                self.running.retain(|t| t != task_id);
                self.update(task_id, "TASK_KILLED").await;
            }
            "MESSAGE" => {
                let data = event["message"]["data"].clone();
                self.post(self.call("MESSAGE", "message", json!({ "data": data })))
                    .await;
            }
            "ACKNOWLEDGED" => {
                let task_id = event["acknowledged"]["task_id"]["value"]
                    .as_str()
                    .unwrap_or("");
                if let Some(uuid) = event["acknowledged"]["uuid"].as_str() {
                    self.unacknowledged_updates.remove(uuid);
                }
                self.unacknowledged_tasks.remove(task_id);
                println!("acknowledged {task_id}");
            }
            "SHUTDOWN" => return true,
            _ => {}
        }
        false
    }
}

/// A Mesos duration (`2secs`, `15mins`, `500ms`...).
fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "secs" => 1.0,
        "mins" => 60.0,
        "hrs" => 3600.0,
        "days" => 86400.0,
        "weeks" => 604800.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(number * seconds))
}

/// The HTTP client: with the agent's token on every call when it gave one (an agent
/// with `--authenticate_http_executors` refuses calls without it), as Mesos's executor
/// library does.
fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(token) = std::env::var("MESOS_EXECUTOR_AUTHENTICATION_TOKEN") {
        println!("token: given");
        if let Ok(value) = format!("Bearer {token}").parse() {
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let mut executor = Executor {
        url: format!("http://{}/api/v1/executor", env("MESOS_AGENT_ENDPOINT")),
        framework_id: env("MESOS_FRAMEWORK_ID"),
        executor_id: env("MESOS_EXECUTOR_ID"),
        client: client(),
        unacknowledged_updates: BTreeMap::new(),
        unacknowledged_tasks: BTreeMap::new(),
        running: Vec::new(),
    };
    for name in [
        "MESOS_SANDBOX",
        "MESOS_DIRECTORY",
        "MESOS_CHECKPOINT",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
        "MESOS_RECOVERY_TIMEOUT",
        "MESOS_SUBSCRIPTION_BACKOFF_MAX",
    ] {
        println!("env {name}={}", std::env::var(name).unwrap_or_default());
    }
    let mode = std::env::var("TEST_EXECUTOR_MODE").unwrap_or_default();
    if mode == "mute" {
        println!("mute: not subscribing");
        std::future::pending::<()>().await;
    }
    // Without checkpointing, a broken connection ends the executor (Mesos's library).
    let recovery = match std::env::var("MESOS_CHECKPOINT").as_deref() {
        Ok("1") => std::env::var("MESOS_RECOVERY_TIMEOUT")
            .ok()
            .and_then(|t| parse_duration(&t)),
        _ => None,
    };
    let backoff = std::env::var("MESOS_SUBSCRIPTION_BACKOFF_MAX")
        .ok()
        .and_then(|t| parse_duration(&t))
        .unwrap_or(Duration::from_secs(2))
        .min(Duration::from_millis(250));
    let mut disconnected_since: Option<Instant> = None;
    loop {
        let why = match executor.run().await {
            Ended::Shutdown => return,
            Ended::StreamClosed => {
                disconnected_since = Some(Instant::now());
                "the event stream ended".to_string()
            }
            Ended::Refused(why) => why,
        };
        let Some(recovery) = recovery else {
            println!("disconnected ({why}); exiting");
            return;
        };
        if mode == "deaf" {
            println!("deaf: disconnected ({why}); not subscribing again");
            std::future::pending::<()>().await;
        }
        if mode == "finish_while_away" {
            for task_id in std::mem::take(&mut executor.running) {
                println!("finishing {task_id} while disconnected");
                executor.update(&task_id, "TASK_FINISHED").await;
            }
        }
        let since = *disconnected_since.get_or_insert_with(Instant::now);
        if since.elapsed() > recovery {
            println!("disconnected ({why}) for longer than {recovery:?}; exiting");
            std::process::exit(1);
        }
        println!("disconnected ({why}); subscribing again");
        tokio::time::sleep(backoff).await;
    }
}
