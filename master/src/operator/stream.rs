//! SUBSCRIBE: a RecordIO stream that opens with the whole state (SUBSCRIBED) and then
//! follows the engine's changes as events, with a HEARTBEAT every 15 seconds.
//!
//! The snapshot and the engine's change feed are taken in the same actor turn, so no change
//! falls between them. A subscriber that reads too slowly for the feed is cut off (the
//! stream ends) rather than silently missing events; it resubscribes for a fresh snapshot.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use mesos_proto::v1::master::{self, event};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tracing::{debug, warn};

use super::OperatorError;
use crate::engine::{Encoding, EngineEvent, HEARTBEAT_INTERVAL_SECS};
use crate::handle::MasterHandle;
use crate::views::operator as views;

/// Records queued towards one subscriber before sending waits for it.
const QUEUE: usize = 1024;

fn record(encoding: Encoding, event: &master::Event) -> Bytes {
    mesos_common::recordio::encode(&encoding.encode(event))
}

fn typed(kind: event::Type) -> master::Event {
    master::Event {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

pub(crate) async fn subscribe(handle: MasterHandle, encoding: Encoding) -> Response {
    let taken = handle
        .inspect(|e| (views::state(e), e.events.subscribe()))
        .await;
    let Some((state, changes)) = taken else {
        return OperatorError::Unavailable.into_response();
    };
    let mut subscribed = typed(event::Type::Subscribed);
    subscribed.subscribed = Some(event::Subscribed {
        get_state: Some(state),
        heartbeat_interval_seconds: Some(HEARTBEAT_INTERVAL_SECS),
    });
    let (tx, rx) = mpsc::channel(QUEUE);
    let _ = tx.try_send(record(encoding, &subscribed));
    tokio::spawn(forward(handle, changes, tx, encoding));

    let body = ReceiverStream::new(rx).map(Ok::<Bytes, Infallible>);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, encoding.content_type())
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .expect("valid response")
}

/// Relays engine changes and heartbeats until the subscriber goes away or falls behind.
async fn forward(
    handle: MasterHandle,
    mut changes: broadcast::Receiver<EngineEvent>,
    tx: mpsc::Sender<Bytes>,
    encoding: Encoding,
) {
    let period = Duration::from_secs_f64(HEARTBEAT_INTERVAL_SECS);
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        let next = tokio::select! {
            _ = tx.closed() => break,
            _ = heartbeat.tick() => typed(event::Type::Heartbeat),
            change = changes.recv() => match change {
                Ok(change) => match to_event(&handle, change).await {
                    Some(event) => event,
                    None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(missed, "operator subscriber fell behind; ending its stream");
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        if tx.send(record(encoding, &next)).await.is_err() {
            break;
        }
    }
    debug!("operator event stream ended");
}

/// The operator event for an engine change. Agents and frameworks are looked up as they
/// are now; one that is already gone again yields nothing (its removal event follows).
async fn to_event(handle: &MasterHandle, change: EngineEvent) -> Option<master::Event> {
    let mut out;
    match change {
        EngineEvent::TaskAdded { task } => {
            out = typed(event::Type::TaskAdded);
            out.task_added = Some(event::TaskAdded { task: *task });
        }
        EngineEvent::TaskUpdated {
            framework_id,
            status,
            state,
        } => {
            out = typed(event::Type::TaskUpdated);
            let mut updated = event::TaskUpdated {
                framework_id: mesos_proto::v1::FrameworkId {
                    value: framework_id,
                },
                status: *status,
                ..Default::default()
            };
            updated.set_state(state);
            out.task_updated = Some(updated);
        }
        EngineEvent::AgentAdded { agent_id } => {
            let agent = handle
                .inspect(move |e| e.agents.get(&agent_id).map(|a| views::agent(e, a)))
                .await??;
            out = typed(event::Type::AgentAdded);
            out.agent_added = Some(event::AgentAdded { agent });
        }
        EngineEvent::AgentRemoved { agent_id } => {
            out = typed(event::Type::AgentRemoved);
            out.agent_removed = Some(event::AgentRemoved {
                agent_id: mesos_proto::v1::AgentId { value: agent_id },
            });
        }
        EngineEvent::FrameworkAdded { framework_id } => {
            let framework = framework_now(handle, framework_id).await?;
            out = typed(event::Type::FrameworkAdded);
            out.framework_added = Some(event::FrameworkAdded { framework });
        }
        EngineEvent::FrameworkUpdated { framework_id } => {
            let framework = framework_now(handle, framework_id).await?;
            out = typed(event::Type::FrameworkUpdated);
            out.framework_updated = Some(event::FrameworkUpdated { framework });
        }
        EngineEvent::FrameworkRemoved { info } => {
            out = typed(event::Type::FrameworkRemoved);
            out.framework_removed = Some(event::FrameworkRemoved {
                framework_info: *info,
            });
        }
    }
    Some(out)
}

async fn framework_now(
    handle: &MasterHandle,
    framework_id: String,
) -> Option<master::response::get_frameworks::Framework> {
    handle
        .inspect(move |e| {
            e.frameworks
                .get(&framework_id)
                .map(|f| views::framework(e, f, false))
        })
        .await?
}
