//! The HTTP edge of the v1 executor API (`POST /api/v1/executor`): decodes a
//! `mesos.v1.executor.Call` (JSON or protobuf), hands it to the core
//! ([`crate::agent::executors`]) and answers 202, or for SUBSCRIBE a chunked RecordIO
//! stream of events with a HEARTBEAT now and then.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_proto::v1::executor::{self, call, event};
use tokio::sync::{mpsc, oneshot};

use crate::agent::executors::ExecutorRequest;
use crate::agent::Query;
use crate::encoding::{self, ApiError, Encoding};
use crate::handle::HttpState;

/// Largest executor call accepted (an UPDATE may carry data).
const MAX_CALL_BYTES: usize = 4 * 1024 * 1024;
/// How often a subscribed executor hears from the agent when nothing else happens.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

pub async fn api(State(state): State<HttpState>, request: Request) -> Response {
    match handle(state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: HttpState, request: Request) -> Result<Response, ApiError> {
    encoding::require_post(request.method())?;
    let principal = mesos_common::auth::http::principal_of(request.extensions());
    let content = encoding::request_encoding(request.headers())?;
    let accept = encoding::response_encoding(request.headers())?;
    let body = encoding::read_body(request.into_body(), MAX_CALL_BYTES).await?;
    let call: executor::Call = content
        .decode(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let kind = call
        .r#type
        .and_then(|t| call::Type::try_from(t).ok())
        .filter(|t| *t != call::Type::Unknown)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Failed to validate executor::Call: Expecting 'type' to be present",
            )
        })?;
    let (reply, answer) = oneshot::channel();
    let request = ExecutorRequest {
        call,
        principal,
        encoding: accept,
        reply,
    };
    let unavailable = || ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down");
    state
        .queries
        .send(Query::Executor(Box::new(request)))
        .await
        .map_err(|_| unavailable())?;
    let events = answer.await.map_err(|_| unavailable())??;
    match (kind, events) {
        (call::Type::Subscribe, Some(events)) => Ok(stream(events, accept)),
        _ => Ok(StatusCode::ACCEPTED.into_response()),
    }
}

/// The executor's event stream: the core's events, plus heartbeats in the quiet times.
fn stream(mut events: mpsc::Receiver<Bytes>, accept: Encoding) -> Response {
    let heartbeat = {
        let event = executor::Event {
            r#type: Some(event::Type::Heartbeat as i32),
            ..Default::default()
        };
        mesos_common::recordio::encode(&accept.encode(&event))
    };
    let body = async_stream(move |tx| async move {
        let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
        ticks.tick().await;
        loop {
            let record = tokio::select! {
                record = events.recv() => match record {
                    Some(r) => r,
                    None => break,
                },
                _ = ticks.tick() => heartbeat.clone(),
            };
            if tx.send(Ok(record)).await.is_err() {
                break;
            }
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, accept.content_type())],
        body,
    )
        .into_response()
}

/// A body fed by a task through a channel; the task ends when the client goes away.
fn async_stream<F, Fut>(producer: F) -> Body
where
    F: FnOnce(mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(producer(tx));
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}
