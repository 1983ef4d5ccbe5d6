//! Bad requests to /api/v1/scheduler get the status codes Mesos gives, with a readable
//! message, and the master goes on serving everyone else.

use std::time::Duration;

use mesos_tests::http::{self, raw_request};
use mesos_tests::*;
use serde_json::json;

/// A master with one well-behaved framework subscribed.
async fn setup() -> (Cluster, Scheduler) {
    let cluster = Cluster::master_only().await;
    let sched = cluster.subscribe("bystander").await;
    (cluster, sched)
}

fn url(cluster: &Cluster) -> String {
    format!("http://{}/api/v1/scheduler", cluster.master_addr())
}

/// The master still answers /health, the subscribed framework's calls still work and its
/// stream is still open.
async fn assert_still_serving(cluster: &Cluster, sched: &mut Scheduler) {
    let health = http::get(&cluster.master_url("/health")).await;
    assert_eq!(
        health.status, 200,
        "master unhealthy after bad input: {}",
        health.body
    );
    sched.revive().await;
    assert!(
        sched
            .wait_closed(Duration::from_millis(200))
            .await
            .is_none(),
        "the bystander's stream was closed by someone else's bad request"
    );
    let newcomer = cluster.subscribe("newcomer").await;
    assert!(!newcomer.framework_id.is_empty());
}

fn expect(status: u16, body: &str, expected: u16, what: &str) {
    assert_eq!(
        status, expected,
        "{what}: expected {expected}, got {status}: {body}"
    );
    assert_readable(status, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400() {
    let (cluster, mut sched) = setup().await;
    for body in ["{\"type\": \"REVIVE\",", "not json at all", "[1, 2, 3]", ""] {
        let response = http::post(
            &url(&cluster),
            body.to_string(),
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", sched.stream_id.as_str()),
            ],
        )
        .await;
        expect(
            response.status,
            &response.body,
            400,
            &format!("body {body:?}"),
        );
    }
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_call_type_is_400() {
    let (cluster, mut sched) = setup().await;
    let (status, body) = sched.call(json!({ "type": "NOT_A_CALL" })).await;
    expect(status, &body, 400, "unknown call type");
    let (status, body) = sched.call(json!({ "type": 12345 })).await;
    expect(status, &body, 400, "numeric call type out of range");
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_required_fields_are_400() {
    let (cluster, mut sched) = setup().await;
    let calls = [
        ("no type", json!({})),
        ("ACCEPT without accept", json!({ "type": "ACCEPT" })),
        ("DECLINE without decline", json!({ "type": "DECLINE" })),
        ("KILL without kill", json!({ "type": "KILL" })),
        (
            "ACKNOWLEDGE without acknowledge",
            json!({ "type": "ACKNOWLEDGE" }),
        ),
        (
            "KILL without task_id",
            json!({ "type": "KILL", "kill": { "agent_id": { "value": "x" } } }),
        ),
    ];
    for (what, call) in calls {
        let (status, body) = sched.call(call).await;
        expect(status, &body, 400, what);
    }
    // SUBSCRIBE without framework_info.
    let response = http::post(
        &url(&cluster),
        json!({ "type": "SUBSCRIBE", "subscribe": {} }).to_string(),
        &[("Content-Type", "application/json")],
    )
    .await;
    expect(
        response.status,
        &response.body,
        400,
        "SUBSCRIBE without framework_info",
    );
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_without_stream_id_is_400() {
    let (cluster, mut sched) = setup().await;
    let response = http::post(
        &url(&cluster),
        json!({ "type": "REVIVE", "framework_id": { "value": sched.framework_id } }).to_string(),
        &[("Content-Type", "application/json")],
    )
    .await;
    expect(
        response.status,
        &response.body,
        400,
        "call without Mesos-Stream-Id",
    );
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_with_wrong_stream_id_is_400() {
    let (cluster, mut sched) = setup().await;
    let other = cluster.subscribe("other").await;
    for wrong in [
        "6d0d1a4c-2a51-4d3c-9f0f-6a3d0d1c2b3a",
        other.stream_id.as_str(),
    ] {
        let response = http::post(
            &url(&cluster),
            json!({ "type": "REVIVE", "framework_id": { "value": sched.framework_id } })
                .to_string(),
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", wrong),
            ],
        )
        .await;
        expect(
            response.status,
            &response.body,
            400,
            &format!("stream id {wrong}"),
        );
    }
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_with_stream_id_is_400() {
    let (cluster, mut sched) = setup().await;
    let call = json!({
        "type": "SUBSCRIBE",
        "subscribe": { "framework_info": framework_info("sneaky") }
    });
    match Scheduler::try_subscribe(
        &cluster.master_addr(),
        call,
        &[("Mesos-Stream-Id", sched.stream_id.as_str())],
    )
    .await
    {
        Ok(_) => panic!("SUBSCRIBE with a Mesos-Stream-Id header was accepted"),
        Err(refused) => expect(
            refused.status,
            &refused.body,
            400,
            "SUBSCRIBE with Mesos-Stream-Id",
        ),
    }
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_from_unknown_framework_is_403() {
    let (cluster, mut sched) = setup().await;
    let master_id = sched.master_info()["id"].as_str().unwrap_or("").to_string();
    for framework_id in [format!("{master_id}-9999"), "no-such-framework".to_string()] {
        let response = http::post(
            &url(&cluster),
            json!({ "type": "REVIVE", "framework_id": { "value": framework_id } }).to_string(),
            &[
                ("Content-Type", "application/json"),
                ("Mesos-Stream-Id", sched.stream_id.as_str()),
            ],
        )
        .await;
        expect(
            response.status,
            &response.body,
            403,
            &format!("framework {framework_id}"),
        );
    }
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_post_is_405() {
    let (cluster, mut sched) = setup().await;
    let client = http::client();
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = http::send(client.request(method.clone(), url(&cluster)))
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"));
        expect(
            response.status,
            &response.body,
            405,
            &format!("{method} /api/v1/scheduler"),
        );
    }
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415() {
    let (cluster, mut sched) = setup().await;
    let body = json!({
        "type": "SUBSCRIBE",
        "subscribe": { "framework_info": framework_info("plain-text") }
    })
    .to_string();
    for content_type in ["text/plain", "application/xml"] {
        let response = http::post(
            &url(&cluster),
            body.clone(),
            &[
                ("Content-Type", content_type),
                ("Accept", "application/json"),
            ],
        )
        .await;
        expect(
            response.status,
            &response.body,
            415,
            &format!("Content-Type {content_type}"),
        );
    }
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacceptable_accept_is_406() {
    let (cluster, mut sched) = setup().await;
    let response = http::post(
        &url(&cluster),
        json!({
            "type": "SUBSCRIBE",
            "subscribe": { "framework_info": framework_info("html-lover") }
        })
        .to_string(),
        &[
            ("Content-Type", "application/json"),
            ("Accept", "text/html"),
        ],
    )
    .await;
    expect(response.status, &response.body, 406, "Accept: text/html");
    assert_still_serving(&cluster, &mut sched).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_refused() {
    let (cluster, mut sched) = setup().await;
    // A syntactically plausible call padded to 20 MB.
    let mut body = format!(
        "{{\"type\":\"REVIVE\",\"framework_id\":{{\"value\":\"{}\"}},\"padding\":\"",
        sched.framework_id
    )
    .into_bytes();
    body.resize(20 * 1024 * 1024 - 2, b'x');
    body.extend_from_slice(b"\"}");
    let head = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nMesos-Stream-Id: {stream}\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n",
        addr = cluster.master_addr(),
        stream = sched.stream_id,
        len = body.len()
    );
    let response = raw_request(&cluster.master_addr(), head, body, Duration::from_secs(2)).await;
    assert!(
        response.status == 413 || response.status == 400,
        "a 20 MB body: expected 413 or 400, got {}",
        response.head
    );
    assert_readable(response.status, &String::from_utf8_lossy(&response.body));
    assert_still_serving(&cluster, &mut sched).await;
}
