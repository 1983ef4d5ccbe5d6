//! Marathon's `/v2/events` and `/v2/groups` against a real master (and agent): the events
//! of an app's life arrive in order with Marathon's framing, `event_type` filters, a
//! client that never reads is disconnected without slowing Marathon down, and groups are
//! created, scaled, planned, rolled back and deleted with Marathon's answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesos_tests::cluster::Cluster;
use mesos_tests::eventually;
use mesos_tests::marathon::Marathon;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const LONG: Duration = Duration::from_secs(60);

/// A `/v2/events` client on a raw connection, reading and parsing in the background.
struct EventStream {
    head: String,
    events: Arc<Mutex<Vec<(String, Value)>>>,
    ended: Arc<Mutex<bool>>,
    reader: tokio::task::JoinHandle<()>,
}

fn request(marathon: &Marathon, query: &str) -> String {
    format!(
        "GET /v2/events{query} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n\r\n",
        marathon.port
    )
}

/// Reads up to the end of the response head; returns it and what followed.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = vec![];
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).into_owned();
            return (head, buf[pos + 4..].to_vec());
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("a response head within 10 s")
            .expect("read");
        assert!(
            n > 0,
            "closed before the head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Decodes complete chunks off the front of `raw` (chunked transfer encoding).
fn take_chunks(raw: &mut Vec<u8>, out: &mut Vec<u8>) -> bool {
    loop {
        let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let size_text = String::from_utf8_lossy(&raw[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size");
        if size == 0 {
            return true;
        }
        let start = line_end + 2;
        if raw.len() < start + size + 2 {
            return false;
        }
        out.extend_from_slice(&raw[start..start + size]);
        raw.drain(..start + size + 2);
    }
}

impl EventStream {
    async fn open(marathon: &Marathon, query: &str) -> EventStream {
        let mut stream = TcpStream::connect(("127.0.0.1", marathon.port))
            .await
            .expect("connect");
        stream
            .write_all(request(marathon, query).as_bytes())
            .await
            .expect("send");
        let (head, rest) = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let events = Arc::new(Mutex::new(vec![]));
        let ended = Arc::new(Mutex::new(false));
        let (events2, ended2) = (events.clone(), ended.clone());
        let reader = tokio::spawn(async move {
            let mut raw = rest;
            let mut text = vec![];
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let done = if chunked {
                    take_chunks(&mut raw, &mut text)
                } else {
                    text.append(&mut raw);
                    false
                };
                // Frames: `event: T\r\ndata: JSON\r\n\r\n`; heartbeats are bare `\r\n`.
                while let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                    let frame = String::from_utf8_lossy(&text[..end]).to_string();
                    text.drain(..end + 4);
                    let frame = frame.trim_start_matches("\r\n");
                    let mut kind = None;
                    let mut data = None;
                    for line in frame.split("\r\n") {
                        if let Some(t) = line.strip_prefix("event: ") {
                            kind = Some(t.to_string());
                        } else if let Some(d) = line.strip_prefix("data: ") {
                            data = Some(serde_json::from_str::<Value>(d).expect("data is JSON"));
                        }
                    }
                    if let (Some(kind), Some(data)) = (kind, data) {
                        assert_eq!(data["eventType"], kind.as_str(), "event: names the type");
                        events2.lock().unwrap().push((kind, data));
                    }
                }
                if done {
                    break;
                }
                match stream.read(&mut buf).await {
                    Ok(n) if n > 0 => raw.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            *ended2.lock().unwrap() = true;
        });
        EventStream {
            head,
            events,
            ended,
            reader,
        }
    }

    fn snapshot(&self) -> Vec<(String, Value)> {
        self.events.lock().unwrap().clone()
    }

    /// Waits for an event that `matches`; returns its position and data.
    async fn wait(&self, what: &str, matches: impl Fn(&str, &Value) -> bool) -> (usize, Value) {
        eventually(what, LONG, async || {
            self.snapshot()
                .into_iter()
                .enumerate()
                .find(|(_, (t, v))| matches(t, v))
                .map(|(i, (_, v))| (i, v))
        })
        .await
    }

    fn types(&self) -> Vec<String> {
        self.snapshot().into_iter().map(|(t, _)| t).collect()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn is(kind: &'static str) -> impl Fn(&str, &Value) -> bool {
    move |t, _| t == kind
}

#[tokio::test]
async fn an_app_s_life_arrives_on_the_event_stream_in_order() {
    let cluster = Cluster::start().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    // Without `Accept: text/event-stream`: what Jetty's EventSourceServlet answers.
    let r = marathon.get("/v2/events").await;
    assert_eq!(r.status, 405, "{}", r.body);

    let all = EventStream::open(&marathon, "").await;
    assert!(all
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream;charset=utf-8"));
    let filtered = EventStream::open(
        &marathon,
        "?event_type=api_post_event&event_type=deployment_success",
    )
    .await;
    let (first, attached) = all.wait("attached", is("event_stream_attached")).await;
    assert_eq!(first, 0, "the first event is the client's own attachment");
    assert_eq!(attached["remoteAddress"], "127.0.0.1");

    let app = json!({"id": "/ev", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1});
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let deployment = r.header("Marathon-Deployment-Id").unwrap().to_string();
    let (post, p) = all.wait("api_post_event", is("api_post_event")).await;
    assert_eq!(p["appDefinition"]["id"], "/ev");
    assert_eq!(p["uri"], "/v2/apps");
    assert_eq!(p["clientIp"], "127.0.0.1");
    let (info, i) = all.wait("deployment_info", is("deployment_info")).await;
    assert_eq!(i["plan"]["id"], deployment.as_str());
    for key in ["original", "target", "steps", "version"] {
        assert!(i["plan"].get(key).is_some(), "plan.{key}: {i}");
    }
    assert_eq!(i["currentStep"]["actions"][0]["app"], "/ev");
    let (running, s) = all
        .wait("TASK_RUNNING", |t, v| {
            t == "status_update_event" && v["taskStatus"] == "TASK_RUNNING"
        })
        .await;
    assert_eq!(s["appId"], "/ev");
    assert!(s["ports"].is_array() && s["host"] == "127.0.0.1", "{s}");
    let (changed, c) = all
        .wait("instance Running", |t, v| {
            t == "instance_changed_event" && v["condition"] == "Running"
        })
        .await;
    assert_eq!(c["runSpecId"], "/ev");
    let (done, d) = all
        .wait("deployment_success", |t, v| {
            t == "deployment_success" && v["id"] == deployment.as_str()
        })
        .await;
    assert_eq!(d["plan"]["id"], deployment.as_str());
    assert!(post < info && info < running && running < changed && changed < done);

    // Scale, then delete: the same story, ending in app_terminated_event.
    let r = marathon
        .send("PUT", "/v2/apps/ev", Some(&json!({"instances": 2})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let scaled = r.json()["deploymentId"].as_str().unwrap().to_string();
    all.wait("the scale's success", |t, v| {
        t == "deployment_success" && v["id"] == scaled.as_str()
    })
    .await;
    let r = marathon.send("DELETE", "/v2/apps/ev", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let removed = r.json()["deploymentId"].as_str().unwrap().to_string();
    let (killed, _) = all
        .wait("TASK_KILLED", |t, v| {
            t == "status_update_event" && v["taskStatus"] == "TASK_KILLED"
        })
        .await;
    let (terminated, t) = all
        .wait("app_terminated_event", is("app_terminated_event"))
        .await;
    assert_eq!(t["appId"], "/ev");
    let (gone, _) = all
        .wait("the delete's success", |t, v| {
            t == "deployment_success" && v["id"] == removed.as_str()
        })
        .await;
    assert!(killed < terminated && terminated < gone);

    // The filtered client saw exactly its two types: 2 posts (create, scale), 3 successes.
    filtered
        .wait("the filtered client's last event", |t, v| {
            t == "deployment_success" && v["id"] == removed.as_str()
        })
        .await;
    let mut types = filtered.types();
    types.dedup();
    assert_eq!(filtered.types().len(), 5, "{:?}", filtered.types());
    assert!(types
        .iter()
        .all(|t| t == "api_post_event" || t == "deployment_success"));
    drop(filtered);
    all.wait("the filtered client detached", is("event_stream_detached"))
        .await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_cut_and_marathon_stays_responsive() {
    let cluster = Cluster::master_only().await;
    let marathon =
        Marathon::start(&cluster, &["--event_stream_max_outstanding_messages", "16"]).await;
    let watcher = EventStream::open(&marathon, "").await;
    // The stuck client: a tiny receive buffer, and never a read after the request.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket
        .connect(format!("127.0.0.1:{}", marathon.port).parse().unwrap())
        .await
        .unwrap();
    stuck
        .write_all(request(&marathon, "").as_bytes())
        .await
        .unwrap();
    watcher
        .wait("both attached", |_, _| {
            watcher
                .types()
                .iter()
                .filter(|t| *t == "event_stream_attached")
                .count()
                == 2
        })
        .await;

    // Big events: every change of an app with 256 KB of labels sends it in
    // api_post_event and twice more in each deployment event's plan.
    let labels: serde_json::Map<String, Value> = (0..256)
        .map(|n| (format!("l{n}"), json!("x".repeat(1024))))
        .collect();
    let mut app = json!({"id": "/big", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16,
                         "instances": 1, "labels": labels});
    let r = marathon.send("POST", "/v2/apps", Some(&app)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut changes = 0;
    eventually("the stuck client cut", LONG, async || {
        changes += 1;
        app["env"] = json!({"N": changes.to_string()});
        let r = marathon
            .send("PUT", "/v2/apps/big?force=true", Some(&app))
            .await;
        assert_eq!(r.status, 200, "change {changes}: {}", r.body);
        watcher
            .snapshot()
            .iter()
            .any(|(t, _)| t == "event_stream_detached")
            .then_some(())
    })
    .await;
    assert!(!*watcher.ended.lock().unwrap(), "the reading client stays");
    // The stuck connection ends: what the kernel holds, then EOF.
    let mut sink = vec![0u8; 1 << 20];
    let drained = tokio::time::timeout(LONG, async {
        loop {
            match stuck.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the stuck client's connection was closed");
    // Marathon answers and the reading client still gets new events.
    assert_eq!(marathon.get("/ping").await.status, 200);
    let r = marathon
        .send(
            "POST",
            "/v2/apps",
            Some(&json!({"id": "/after", "cmd": "sleep 1", "cpus": 0.1, "mem": 16})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    watcher
        .wait("events after the cut", |t, v| {
            t == "api_post_event" && v["appDefinition"]["id"] == "/after"
        })
        .await;
}

#[tokio::test]
async fn groups_are_created_planned_scaled_rolled_back_and_deleted() {
    let cluster = Cluster::master_only().await;
    let marathon = Marathon::start(&cluster, &[]).await;
    let events = EventStream::open(&marathon, "?event_type=group_change_success").await;
    assert_eq!(marathon.get("/v2/groups").await.json(), json!({"id": "/"}));

    let shop = json!({
        "id": "/shop",
        "apps": [{"id": "db", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16}],
        "groups": [{
            "id": "web",
            "dependencies": ["/shop/db"],
            "apps": [{"id": "fe", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 2}]
        }]
    });
    let r = marathon.send("POST", "/v2/groups", Some(&shop)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("Location"), Some("/v2/groups/shop"));
    assert!(r.header("Marathon-Deployment-Id").is_some());
    let created = r.json()["version"].as_str().unwrap().to_string();
    let (_, e) = events
        .wait("group_change_success", is("group_change_success"))
        .await;
    assert_eq!(e["groupId"], "/shop");
    let r = marathon.send("POST", "/v2/groups", Some(&shop)).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json()["message"],
        "Group /shop is already created. Use PUT to change this group."
    );

    let g = marathon.get("/v2/groups/shop").await.json();
    let mut keys: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["apps", "dependencies", "groups", "id", "pods", "version"]
    );
    assert_eq!(g["apps"][0]["id"], "/shop/db");
    assert_eq!(g["groups"][0]["id"], "/shop/web");
    assert_eq!(g["groups"][0]["dependencies"], json!(["/shop/db"]));
    assert_eq!(g["groups"][0]["apps"][0]["instances"], 2);
    let root = marathon.get("/v2/groups").await.json();
    assert_eq!(root["groups"][0]["id"], "/shop");
    let only = marathon
        .get("/v2/groups/shop?embed=group.apps")
        .await
        .json();
    assert!(
        only.get("groups").is_none() && only["apps"].is_array(),
        "{only}"
    );
    let counted = marathon
        .get("/v2/groups/shop?embed=group.apps&embed=group.apps.counts")
        .await
        .json();
    assert!(
        counted["apps"][0].get("tasksRunning").is_some(),
        "{counted}"
    );

    // dryRun: the plan by dependency depth, nothing changed.
    let r = marathon
        .send(
            "PUT",
            "/v2/groups/shop?dryRun=true",
            Some(&json!({"scaleBy": 2})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"steps": [
            {"actions": [{"action": "ScaleApplication", "app": "/shop/db"}]},
            {"actions": [{"action": "ScaleApplication", "app": "/shop/web/fe"}]}
        ]})
    );
    assert_eq!(
        marathon.get("/v2/apps/shop/db").await.json()["app"]["instances"],
        1
    );

    // scaleBy for real (the first deployment still runs: force).
    let r = marathon
        .send(
            "PUT",
            "/v2/groups/shop?force=true",
            Some(&json!({"scaleBy": 2})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["deploymentId"].is_string());
    assert_eq!(
        marathon.get("/v2/apps/shop/db").await.json()["app"]["instances"],
        2
    );
    assert_eq!(
        marathon.get("/v2/apps/shop/web/fe").await.json()["app"]["instances"],
        4
    );
    let versions = marathon.get("/v2/groups/shop/versions").await.json();
    assert!(versions.as_array().unwrap().len() >= 2, "{versions}");
    let old = marathon
        .get(&format!("/v2/groups/shop/versions/{created}"))
        .await;
    assert_eq!(old.status, 200, "{}", old.body);
    assert_eq!(old.json()["groups"][0]["apps"][0]["instances"], 2);

    // Rollback to the first version.
    let r = marathon
        .send(
            "PUT",
            "/v2/groups/shop?force=true",
            Some(&json!({"version": created})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        marathon.get("/v2/apps/shop/web/fe").await.json()["app"]["instances"],
        2
    );
    let r = marathon
        .send(
            "PUT",
            "/v2/groups/shop",
            Some(&json!({"version": "2000-01-01T00:00:00.000Z"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Bad groups: every failing path.
    let r = marathon
        .send(
            "POST",
            "/v2/groups",
            Some(&json!({"id": "/bad", "apps": [
                {"id": "a", "cmd": "c", "dependencies": ["b"]},
                {"id": "b", "cmd": "c", "dependencies": ["a"]},
                {"id": "c", "cmd": "c", "dependencies": ["/nowhere"]},
                {"id": "web", "cmd": "c"}
            ], "groups": [{"id": "web"}]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let body = r.json();
    let mut paths: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/apps(0)/dependencies",
            "/apps(1)/dependencies",
            "/apps(2)/dependencies(0)",
            "/apps(3)/id"
        ],
        "{body}"
    );
    assert_eq!(
        marathon.get("/v2/groups/bad").await.status,
        404,
        "nothing was made"
    );
    let r = marathon
        .send(
            "POST",
            "/v2/apps",
            Some(&json!({"id": "/shop/web", "cmd": "c"})),
        )
        .await;
    assert_eq!(
        r.status, 422,
        "an app may not take a group's id: {}",
        r.body
    );

    // Delete: the apps go with the group.
    let r = marathon
        .send("DELETE", "/v2/groups/shop?force=true", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["deploymentId"].is_string());
    let r = marathon.get("/v2/groups/shop").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "Group '/shop' does not exist");
    assert_eq!(marathon.get("/v2/apps/shop/db").await.status, 404);
    assert_eq!(
        marathon
            .send("DELETE", "/v2/groups/nope", None)
            .await
            .status,
        404
    );
}
