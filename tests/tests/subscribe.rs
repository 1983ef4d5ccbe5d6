//! SUBSCRIBE: the response, the SUBSCRIBED event, the stream framing, and the first offers.

use std::time::Duration;

use mesos_tests::http::{dechunk, raw_request};
use mesos_tests::recordio::RecordIoDecoder;
use mesos_tests::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_event_and_response_headers() {
    let cluster = Cluster::master_only().await;
    let sched = cluster.subscribe("subscribe-test").await;

    assert_eq!(sched.status, 200);
    assert!(
        !sched.stream_id.is_empty() && sched.stream_id.len() <= 128,
        "Mesos-Stream-Id must be 1..=128 bytes: {:?}",
        sched.stream_id
    );
    let content_type = sched
        .headers
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "stream Content-Type should follow Accept: {content_type:?}"
    );

    let master_info = sched.master_info();
    let master_id = master_info["id"].as_str().unwrap_or("");
    assert!(
        is_uuid(master_id),
        "master_info.id is not a UUID: {master_info}"
    );
    assert_eq!(
        master_info["port"].as_u64(),
        Some(cluster.master_port as u64),
        "master_info.port: {master_info}"
    );
    assert_id_shape(&sched.framework_id, master_id, "");
    assert_eq!(
        sched.subscribed["heartbeat_interval_seconds"].as_f64(),
        Some(15.0),
        "SUBSCRIBED: {}",
        sched.subscribed
    );

    // A second framework gets its own id and stream.
    let other = cluster.subscribe("subscribe-test-2").await;
    assert_ne!(other.framework_id, sched.framework_id);
    assert_ne!(other.stream_id, sched.stream_id);
    assert_id_shape(&other.framework_id, master_id, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_is_chunked_recordio_on_the_wire() {
    let cluster = Cluster::master_only().await;
    let body = json!({
        "type": "SUBSCRIBE",
        "subscribe": { "framework_info": framework_info("raw-subscriber") }
    })
    .to_string();
    let head = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nContent-Length: {len}\r\n\r\n",
        addr = cluster.master_addr(),
        len = body.len()
    );
    let response = raw_request(
        &cluster.master_addr(),
        head,
        body.into_bytes(),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(response.status, 200, "head: {}", response.head);
    let encoding = response.header("Transfer-Encoding").unwrap_or_default();
    assert!(
        encoding.to_ascii_lowercase().contains("chunked"),
        "SUBSCRIBE response must be chunked: {}",
        response.head
    );
    assert!(
        response.header("Mesos-Stream-Id").is_some(),
        "no Mesos-Stream-Id: {}",
        response.head
    );
    assert!(
        response.header("Content-Length").is_none(),
        "a stream has no Content-Length: {}",
        response.head
    );

    let payload = dechunk(&response.body);
    let records = RecordIoDecoder::new()
        .feed(&payload)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&payload)));
    let first: Value = serde_json::from_slice(records.first().unwrap_or_else(|| {
        panic!(
            "no complete record in {:?}",
            String::from_utf8_lossy(&payload)
        )
    }))
    .expect("first record is JSON");
    assert_eq!(event_type(&first), "SUBSCRIBED", "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_carry_the_agents_resources() {
    let cluster = Cluster::start().await;
    let mut sched = cluster.subscribe("offers-test").await;
    let master_id = sched.master_info()["id"].as_str().unwrap_or("").to_string();

    let offer = sched.next_offer().await;
    assert_id_shape(offer_id(&offer), &master_id, "O");
    assert_id_shape(offer_agent_id(&offer), &master_id, "S");
    assert_eq!(offer_agent_id(&offer), cluster.agent_id(0).await);
    assert_eq!(
        id_value(&offer["framework_id"]),
        sched.framework_id,
        "{offer}"
    );
    assert!(
        offer["hostname"].as_str().is_some_and(|h| !h.is_empty()),
        "offer has no hostname: {offer}"
    );

    let resources = &offer["resources"];
    let cpus = resources
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "cpus")
        .unwrap_or_else(|| panic!("no cpus in {offer}"));
    assert_eq!(cpus["type"], "SCALAR", "{cpus}");
    assert_eq!(scalar_of(resources, "cpus"), 2.0, "{offer}");
    assert_eq!(scalar_of(resources, "mem"), 1024.0, "{offer}");
    assert_eq!(scalar_of(resources, "disk"), 1024.0, "{offer}");
    let ports = resources
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["name"] == "ports")
        .unwrap_or_else(|| panic!("no ports in {offer}"));
    assert_eq!(ports["type"], "RANGES", "{ports}");
    assert_eq!(
        ranges_of(resources, "ports"),
        vec![(31000, 31100)],
        "{offer}"
    );

    // Offer ids are never reused: decline and take the next one.
    sched.decline(offer_id(&offer), 0.0).await;
    let again = sched.next_offer().await;
    assert_id_shape(offer_id(&again), &master_id, "O");
    assert_ne!(offer_id(&again), offer_id(&offer));
}
