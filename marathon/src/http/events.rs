//! `GET /v2/events`: the event bus as server-sent events, as Marathon serves it.
//!
//! - The request must accept `text/event-stream`; otherwise 405, as Jetty's
//!   EventSourceServlet (which Marathon uses) answers.
//! - The leader answers 200 `text/event-stream;charset=UTF-8` with `Connection: close`,
//!   then `event: <type>\r\ndata: <json>\r\n\r\n` per event as it happens (the first one
//!   `event_stream_attached`), and a `\r\n` heartbeat every 10 s.
//! - `event_type` (repeatable) keeps only those types.
//! - A standby redirects (302) to the leader's `/v2/events`; the stream ends when this
//!   process stops leading.
//! - A client that falls more than `--event_stream_max_outstanding_messages` events
//!   behind is disconnected (its connection cut, see `cut`), never waited for.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use tokio::sync::watch;

use super::cut::Peer;
use super::{leader_header, message, query_pairs, HttpState, Leadership};
use crate::event_bus::{Received, Subscription};

/// Jetty's EventSourceServlet heartbeat period.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Whether one of the `Accept` values names `text/event-stream`.
pub fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

pub async fn events(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return super::method_not_allowed();
    }
    if !accepts_event_stream(&headers) {
        return message(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP method GET is not supported by this URL",
        );
    }
    let leadership = state.leadership.borrow().clone();
    match leadership {
        Leadership::Leading(_) => {}
        Leadership::Standby(Some(leader)) if leader != state.me => {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let scheme = state.config.https.scheme();
            let location = format!("{scheme}://{leader}/v2/events{query}");
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            return response;
        }
        Leadership::Standby(_) => return super::unavailable(),
    }
    let event_types: Vec<String> = query_pairs(uri.query())
        .into_iter()
        .filter(|(k, _)| k == "event_type")
        .map(|(_, v)| v)
        .collect();
    let cut = peer.cut.clone();
    let subscription = state
        .events
        .subscribe(event_types, peer.addr.ip().to_string(), move || cut.cut());
    tracing::info!(client = %peer.addr, "event stream attached");
    let body = Body::from_stream(frames(subscription, state.leadership.clone()));
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream;charset=UTF-8"),
            (header::CONNECTION, "close"),
        ],
        body,
    )
        .into_response();
    leader_header(&state.me, response)
}

struct Stream {
    subscription: Subscription,
    leadership: watch::Receiver<Leadership>,
    heartbeat: tokio::time::Interval,
}

/// The body: every frame already waiting goes out in one chunk, at once; a heartbeat
/// when nothing happened for a period; the end when the subscription overflows or this
/// process stops leading.
fn frames(
    subscription: Subscription,
    leadership: watch::Receiver<Leadership>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = Stream {
        subscription,
        leadership,
        heartbeat,
    };
    futures::stream::unfold(stream, |mut s| async move {
        tokio::select! {
            received = s.subscription.recv() => {
                let Received::Frame(first) = received else {
                    return None;
                };
                let mut chunk = BytesMut::from(&first.bytes[..]);
                while let Some(Received::Frame(more)) = s.subscription.try_recv() {
                    chunk.extend_from_slice(&more.bytes);
                }
                s.heartbeat.reset();
                Some((Ok(chunk.freeze()), s))
            }
            _ = s.heartbeat.tick() => Some((Ok(Bytes::from_static(b"\r\n")), s)),
            changed = s.leadership.changed() => {
                let leading = changed.is_ok()
                    && matches!(*s.leadership.borrow(), Leadership::Leading(_));
                if leading {
                    // A new term of this same process: the stream goes on.
                    Some((Ok(Bytes::new()), s))
                } else {
                    tracing::info!("event stream closed: not leading any more");
                    None
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_must_name_the_event_stream() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            accepts_event_stream(&h)
        };
        assert!(with("text/event-stream"));
        assert!(with("application/json, text/event-stream;q=0.9"));
        assert!(!with("*/*"));
        assert!(!with("application/json"));
        assert!(!accepts_event_stream(&HeaderMap::new()));
    }
}
