//! The library against a scripted master: an axum server that answers SUBSCRIBE with a
//! canned chunked RecordIO body and records every other call.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use mesos_proto::v1::scheduler::{call, event, Call, Event};
use mesos_proto::v1::{
    AgentId, FrameworkId, FrameworkInfo, MasterInfo, Offer, OfferId, TaskId, TaskState, TaskStatus,
};

use super::*;

/// How the scripted master answers.
#[derive(Clone, Default)]
struct Script {
    /// Chunks of the SUBSCRIBE body, sent one by one with a pause in between.
    chunks: Vec<Vec<u8>>,
    /// Keep the stream open after the last chunk (otherwise the body ends).
    keep_open: bool,
    /// Answer SUBSCRIBE with a 307 to this location instead.
    redirect_to: Option<String>,
    /// Answer SUBSCRIBE with this status and body instead.
    subscribe_status: Option<(StatusCode, &'static str)>,
    /// Status for calls other than SUBSCRIBE (202 when unset).
    call_status: Option<(StatusCode, &'static str)>,
}

#[derive(Default)]
struct Seen {
    subscribes: Vec<Call>,
    calls: Vec<(Option<String>, Call)>,
    /// The `Authorization` header of every request, in order.
    authorizations: Vec<Option<String>>,
}

#[derive(Clone)]
struct Mock {
    script: Script,
    seen: Arc<Mutex<Seen>>,
}

const STREAM_ID: &str = "0b0e6a5e-1c1c-4f6e-9e0b-9a8f3f3f3f3f";

async fn handle(State(mock): State<Mock>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(ContentType::from_mime)
        .expect("request has a known content type");
    let accept = headers.get("accept").and_then(|v| v.to_str().ok());
    assert_eq!(
        accept,
        Some(content_type.mime()),
        "Accept matches Content-Type"
    );
    let call: Call = content_type.decode(&body).expect("decodable call");
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    mock.seen.lock().unwrap().authorizations.push(authorization);
    let stream_id = headers
        .get(STREAM_ID_HEADER_NAME)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if call.r#type() != call::Type::Subscribe {
        mock.seen.lock().unwrap().calls.push((stream_id, call));
        let (status, text) = mock
            .script
            .call_status
            .unwrap_or((StatusCode::ACCEPTED, ""));
        return Response::builder()
            .status(status)
            .body(Body::from(text))
            .unwrap();
    }
    assert!(stream_id.is_none(), "SUBSCRIBE must not carry a stream id");
    mock.seen.lock().unwrap().subscribes.push(call);
    if let Some((status, text)) = mock.script.subscribe_status {
        return Response::builder()
            .status(status)
            .body(Body::from(text))
            .unwrap();
    }
    if let Some(location) = &mock.script.redirect_to {
        return Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header("location", location)
            .body(Body::empty())
            .unwrap();
    }
    let chunks = mock.script.chunks.clone();
    let paced = futures::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(15)).await;
        Ok::<_, Infallible>(Bytes::from(chunk))
    });
    let body = if mock.script.keep_open {
        Body::from_stream(paced.chain(futures::stream::pending()))
    } else {
        Body::from_stream(paced)
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type.mime())
        .header(STREAM_ID_HEADER_NAME, STREAM_ID)
        .body(body)
        .unwrap()
}

const STREAM_ID_HEADER_NAME: &str = "mesos-stream-id";

async fn serve(script: Script) -> (MasterAddress, Arc<Mutex<Seen>>) {
    serve_with(|_| script).await
}

/// Like [`serve`], for scripts that need the server's own address.
async fn serve_with(
    script: impl FnOnce(&MasterAddress) -> Script,
) -> (MasterAddress, Arc<Mutex<Seen>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = MasterAddress::new("127.0.0.1", listener.local_addr().unwrap().port());
    let script = script(&address);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mock = Mock {
        script,
        seen: seen.clone(),
    };
    let app = Router::new()
        .route("/api/v1/scheduler", post(handle))
        .with_state(mock);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

fn subscribed(framework: &str, heartbeat: f64) -> Event {
    Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            framework_id: FrameworkId {
                value: framework.into(),
            },
            heartbeat_interval_seconds: Some(heartbeat),
            master_info: Some(MasterInfo {
                id: "master-1".into(),
                port: 5050,
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

fn offers() -> Event {
    Event {
        r#type: Some(event::Type::Offers as i32),
        offers: Some(event::Offers {
            offers: vec![Offer {
                id: OfferId { value: "O1".into() },
                agent_id: AgentId { value: "S0".into() },
                hostname: "agent-host".into(),
                ..Default::default()
            }],
        }),
        ..Default::default()
    }
}

fn heartbeat() -> Event {
    Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

fn update() -> Event {
    Event {
        r#type: Some(event::Type::Update as i32),
        update: Some(event::Update {
            status: TaskStatus {
                task_id: TaskId { value: "t1".into() },
                agent_id: Some(AgentId { value: "S0".into() }),
                state: TaskState::TaskRunning as i32,
                uuid: Some(vec![7; 16]),
                message: Some("a message with \n newline and ünïcode".into()),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

fn error_event(message: &str) -> Event {
    Event {
        r#type: Some(event::Type::Error as i32),
        error: Some(event::Error {
            message: message.into(),
        }),
        ..Default::default()
    }
}

/// RecordIO body of `events`, cut at `cuts` (byte offsets into the whole body).
fn chunked(ct: ContentType, events: &[Event], cuts: &[usize]) -> Vec<Vec<u8>> {
    let body: Vec<u8> = events
        .iter()
        .flat_map(|e| mesos_common::recordio::encode(&ct.encode(e)).to_vec())
        .collect();
    let mut chunks = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
        let cut = cut.min(body.len());
        if cut > start {
            chunks.push(body[start..cut].to_vec());
            start = cut;
        }
    }
    chunks
}

fn config(ct: ContentType) -> SchedulerConfig {
    let mut config = SchedulerConfig::new(FrameworkInfo {
        user: "root".into(),
        name: "test framework".into(),
        ..Default::default()
    });
    config.content_type = ct;
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(100);
    config.request_timeout = Duration::from_secs(5);
    config
}

async fn next(events: &mut Events) -> SchedulerEvent {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10s")
        .expect("the event stream is open")
}

fn start(master: &MasterAddress, config: SchedulerConfig) -> (Scheduler, Events) {
    Scheduler::start(Arc::new(StaticDetector::new(master.clone())), config)
}

fn event_type(e: &SchedulerEvent) -> Option<event::Type> {
    match e {
        SchedulerEvent::Event(ev) => Some(ev.r#type()),
        _ => None,
    }
}

#[tokio::test]
async fn reads_records_split_at_awkward_places() {
    for ct in [ContentType::Json, ContentType::Protobuf] {
        let events = [subscribed("fw-1", 15.0), offers(), heartbeat(), update()];
        let one = mesos_common::recordio::encode(&ct.encode(&events[0])).len();
        // Inside the first length prefix, right after its newline, in the middle of the
        // first record, then the second record and the start of the third in one chunk,
        // then byte by byte through the third record's prefix.
        let mut cuts = vec![1, 3, one / 2, one + 10];
        cuts.extend((one + 30..one + 40).collect::<Vec<_>>());
        let script = Script {
            chunks: chunked(ct, &events, &cuts),
            keep_open: true,
            ..Default::default()
        };
        let (master, seen) = serve(script).await;
        let (scheduler, mut events) = start(&master, config(ct));

        match next(&mut events).await {
            SchedulerEvent::Connected {
                framework_id,
                master_info,
                master: answered,
                heartbeat_interval,
            } => {
                assert_eq!(framework_id.value, "fw-1");
                assert_eq!(master_info.unwrap().id, "master-1");
                assert_eq!(answered, master);
                assert_eq!(heartbeat_interval, Duration::from_secs(15));
            }
            other => panic!("{ct}: expected Connected, got {other:?}"),
        }
        assert_eq!(
            event_type(&next(&mut events).await),
            Some(event::Type::Offers)
        );
        assert_eq!(
            event_type(&next(&mut events).await),
            Some(event::Type::Heartbeat)
        );
        let status = match next(&mut events).await {
            SchedulerEvent::Event(e) => e.update.unwrap().status,
            other => panic!("expected UPDATE, got {other:?}"),
        };
        assert_eq!(
            status.message.as_deref(),
            Some("a message with \n newline and ünïcode")
        );

        assert!(scheduler.is_subscribed());
        assert_eq!(scheduler.framework_id().unwrap().value, "fw-1");
        assert!(scheduler.acknowledge_update(&status).await.unwrap());
        scheduler
            .decline(
                vec![OfferId { value: "O1".into() }],
                Some(calls::refuse_for(1.0)),
            )
            .await
            .unwrap();

        let seen = seen.lock().unwrap();
        assert_eq!(seen.subscribes.len(), 1);
        let subscribe = &seen.subscribes[0];
        assert!(
            subscribe.framework_id.is_none(),
            "first subscription is a new framework"
        );
        assert_eq!(seen.calls.len(), 2);
        for (stream_id, call) in &seen.calls {
            assert_eq!(stream_id.as_deref(), Some(STREAM_ID));
            assert_eq!(call.framework_id.as_ref().unwrap().value, "fw-1");
        }
        let ack = seen.calls[0].1.acknowledge.as_ref().unwrap();
        assert_eq!(ack.uuid, vec![7; 16]);
        assert_eq!(ack.task_id.value, "t1");
        assert_eq!(seen.calls[1].1.r#type(), call::Type::Decline);
        drop(seen);
        scheduler.stop();
    }
}

#[tokio::test]
async fn follows_a_standby_masters_redirect() {
    let (leader, seen_by_leader) = serve(Script {
        chunks: chunked(ContentType::Json, &[subscribed("fw-2", 15.0)], &[]),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let (standby, seen_by_standby) = serve(Script {
        redirect_to: Some(format!("//{leader}/api/v1/scheduler")),
        ..Default::default()
    })
    .await;
    let (scheduler, mut events) = start(&standby, config(ContentType::Json));
    match next(&mut events).await {
        SchedulerEvent::Connected { master, .. } => assert_eq!(master, leader),
        other => panic!("expected Connected, got {other:?}"),
    }
    assert_eq!(scheduler.master(), Some(leader.clone()));
    scheduler.revive(vec![]).await.unwrap();
    assert_eq!(seen_by_standby.lock().unwrap().subscribes.len(), 1);
    let leader_seen = seen_by_leader.lock().unwrap();
    assert_eq!(leader_seen.subscribes.len(), 1);
    assert_eq!(leader_seen.calls.len(), 1, "calls go to the leader");
}

#[tokio::test]
async fn endless_redirects_are_an_error() {
    let (master, _) = serve_with(|me| Script {
        redirect_to: Some(format!("//{me}/api/v1/scheduler")),
        ..Default::default()
    })
    .await;
    let (_scheduler, mut events) = start(&master, config(ContentType::Json));
    match next(&mut events).await {
        SchedulerEvent::Disconnected { reason } => {
            assert!(reason.contains("too many redirects"), "{reason}")
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
}

#[tokio::test]
async fn missed_heartbeats_trigger_a_failover_resubscription() {
    // A 50 ms heartbeat and then silence: the watchdog gives up after 5 x 50 ms.
    let (master, seen) = serve(Script {
        chunks: chunked(ContentType::Json, &[subscribed("fw-3", 0.05)], &[]),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let (scheduler, mut events) = start(&master, config(ContentType::Json));
    let started = tokio::time::Instant::now();
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    match next(&mut events).await {
        SchedulerEvent::Disconnected { reason } => {
            assert!(reason.contains("heartbeat"), "{reason}")
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(240), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert!(!scheduler.is_subscribed());
    assert!(matches!(
        scheduler.revive(vec![]).await,
        Err(SchedulerError::NotSubscribed)
    ));

    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.subscribes.len(), 2);
    let second = &seen.subscribes[1];
    assert_eq!(second.framework_id.as_ref().unwrap().value, "fw-3");
    let info = &second.subscribe.as_ref().unwrap().framework_info;
    assert_eq!(info.id.as_ref().unwrap().value, "fw-3");
}

#[tokio::test]
async fn a_closed_stream_reconnects() {
    let (master, seen) = serve(Script {
        chunks: chunked(ContentType::Protobuf, &[subscribed("fw-4", 15.0)], &[]),
        keep_open: false,
        ..Default::default()
    })
    .await;
    let (_scheduler, mut events) = start(&master, config(ContentType::Protobuf));
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    match next(&mut events).await {
        SchedulerEvent::Disconnected { reason } => assert!(reason.contains("closed"), "{reason}"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    assert!(seen.lock().unwrap().subscribes.len() >= 2);
}

#[tokio::test]
async fn call_rejections_carry_status_and_body() {
    let (master, _) = serve(Script {
        chunks: chunked(ContentType::Json, &[subscribed("fw-5", 15.0)], &[]),
        keep_open: true,
        call_status: Some((StatusCode::FORBIDDEN, "Framework is not subscribed")),
        ..Default::default()
    })
    .await;
    let (scheduler, mut events) = start(&master, config(ContentType::Json));
    assert!(matches!(
        scheduler.kill(TaskId { value: "t".into() }, None).await,
        Err(SchedulerError::NotSubscribed) | Ok(())
    ));
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    match scheduler.kill(TaskId { value: "t".into() }, None).await {
        Err(SchedulerError::Status { status, body, .. }) => {
            assert_eq!(status, 403);
            assert_eq!(body, "Framework is not subscribed");
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[tokio::test]
async fn subscribe_rejection_is_a_disconnect_with_the_body() {
    let (master, seen) = serve(Script {
        subscribe_status: Some((StatusCode::SERVICE_UNAVAILABLE, "Not leading")),
        ..Default::default()
    })
    .await;
    let (_s, mut events) = start(&master, config(ContentType::Json));
    for _ in 0..2 {
        match next(&mut events).await {
            SchedulerEvent::Disconnected { reason } => {
                assert!(
                    reason.contains("503") && reason.contains("Not leading"),
                    "{reason}"
                )
            }
            other => panic!("expected Disconnected, got {other:?}"),
        }
    }
    assert!(
        seen.lock().unwrap().subscribes.len() >= 2,
        "it keeps retrying"
    );

    // Nothing listens: connection refused, also retried.
    let dead = MasterAddress::new("127.0.0.1", 1);
    let (_s, mut events) = start(&dead, config(ContentType::Json));
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Disconnected { .. }
    ));
}

#[tokio::test]
async fn a_refused_subscribe_ends_the_stream_with_the_masters_message() {
    let (master, seen) = serve(Script {
        subscribe_status: Some((StatusCode::FORBIDDEN, "Framework fw-9 has been removed")),
        ..Default::default()
    })
    .await;
    let (_s, mut events) = start(&master, config(ContentType::Json));
    match next(&mut events).await {
        SchedulerEvent::Disconnected { reason } => assert!(
            reason.contains("403") && reason.contains("Framework fw-9 has been removed"),
            "{reason}"
        ),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("the stream ends")
            .is_none(),
        "no retry after a 403"
    );
    assert_eq!(seen.lock().unwrap().subscribes.len(), 1);
}

#[tokio::test]
async fn a_credential_goes_with_every_request_as_basic() {
    let (master, seen) = serve(Script {
        chunks: chunked(ContentType::Json, &[subscribed("fw-c", 15.0)], &[]),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let config = config(ContentType::Json).with_credential(Credential::new("marathon", "s3:cret"));
    let (scheduler, mut events) = start(&master, config);
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    scheduler.revive(vec![]).await.unwrap();
    let seen = seen.lock().unwrap();
    // base64("marathon:s3:cret")
    let want = Some("Basic bWFyYXRob246czM6Y3JldA==".to_string());
    assert_eq!(seen.authorizations, vec![want.clone(), want]);
    let info = &seen.subscribes[0]
        .subscribe
        .as_ref()
        .unwrap()
        .framework_info;
    assert_eq!(info.principal.as_deref(), Some("marathon"));
}

#[tokio::test]
async fn without_a_credential_no_authorization_is_sent() {
    let (master, seen) = serve(Script {
        chunks: chunked(ContentType::Json, &[subscribed("fw-n", 15.0)], &[]),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let (_s, mut events) = start(&master, config(ContentType::Json));
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    assert_eq!(seen.lock().unwrap().authorizations, vec![None]);
    let info = FrameworkInfo {
        principal: Some("set".into()),
        ..Default::default()
    };
    let c = SchedulerConfig::new(info).with_credential(Credential::new("other", "x"));
    assert_eq!(
        c.framework_info.principal.as_deref(),
        Some("set"),
        "a principal already set is kept (the master then says they differ)"
    );
    assert!(
        !format!("{c:?}").contains("\"x\""),
        "Debug hides the secret"
    );
}

#[tokio::test]
async fn a_refused_credential_ends_the_stream() {
    let (master, seen) = serve(Script {
        subscribe_status: Some((StatusCode::UNAUTHORIZED, "401 Unauthorized.")),
        ..Default::default()
    })
    .await;
    let config = config(ContentType::Json).with_credential(Credential::new("p", "wrong"));
    let (_s, mut events) = start(&master, config);
    match next(&mut events).await {
        SchedulerEvent::Disconnected { reason } => {
            assert!(reason.contains("401"), "{reason}")
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("the stream ends")
            .is_none(),
        "no retry after a 401"
    );
    assert_eq!(seen.lock().unwrap().subscribes.len(), 1);
}

#[tokio::test]
async fn an_error_event_ends_the_stream() {
    let (master, seen) = serve(Script {
        chunks: chunked(
            ContentType::Json,
            &[
                subscribed("fw-6", 15.0),
                error_event("Framework has been removed"),
            ],
            &[],
        ),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let (scheduler, mut events) = start(&master, config(ContentType::Json));
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    let e = next(&mut events).await;
    assert_eq!(event_type(&e), Some(event::Type::Error));
    match next(&mut events).await {
        SchedulerEvent::Disconnected { reason } => {
            assert!(reason.contains("Framework has been removed"), "{reason}")
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert!(
        events.next().await.is_none(),
        "no resubscription after ERROR"
    );
    assert!(!scheduler.is_subscribed());
    assert_eq!(seen.lock().unwrap().subscribes.len(), 1);
}

#[tokio::test]
async fn teardown_stops_the_library() {
    let (master, seen) = serve(Script {
        chunks: chunked(ContentType::Protobuf, &[subscribed("fw-7", 15.0)], &[]),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let (scheduler, mut events) = start(&master, config(ContentType::Protobuf));
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    scheduler.teardown().await.unwrap();
    assert!(events.next().await.is_none());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.calls[0].1.r#type(), call::Type::Teardown);
}

#[tokio::test]
async fn a_configured_framework_id_subscribes_as_failover() {
    let (master, seen) = serve(Script {
        chunks: chunked(ContentType::Json, &[subscribed("fw-8", 15.0)], &[]),
        keep_open: true,
        ..Default::default()
    })
    .await;
    let mut config = config(ContentType::Json);
    config.framework_info.id = Some(FrameworkId {
        value: "fw-8".into(),
    });
    let (_scheduler, mut events) = start(&master, config);
    assert!(matches!(
        next(&mut events).await,
        SchedulerEvent::Connected { .. }
    ));
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.subscribes[0].framework_id.as_ref().unwrap().value,
        "fw-8"
    );
}
