//! The read-only endpoints (`/master/state` and its family, `/flags`, `/health`,
//! `/redirect`, `/version`, `/metrics/snapshot`) and `/master/teardown`.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tracing::debug;

use crate::api::error_response;
use crate::api::unavailable;
use crate::handle::MasterHandle;
use crate::views::state_json::{self, TaskListing, View};

/// Answers with a view of the engine: snapshot in the actor, serialization on a blocking
/// thread, so that a large state neither stalls the actor nor an async worker. The body
/// is sent in pieces as they are written (at 50,000 agents the summary is 33 MB and the
/// state 74 MB): the transfer overlaps with the writing, and no buffer of the whole view
/// is needed.
async fn view(h: &MasterHandle, view: View) -> Response {
    /// Bytes per piece of the body.
    const CHUNK: usize = 1 << 20;
    let asked = std::time::Instant::now();
    let Some((snapshot, taking)) = h
        .inspect(move |e| {
            let started = std::time::Instant::now();
            (state_json::snapshot(e, view), started.elapsed())
        })
        .await
    else {
        return unavailable();
    };
    let leader = (view == View::State).then(|| h.leader_info()).flatten();
    let snapshotted = asked.elapsed();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        let mut bytes = 0;
        snapshot.write_chunked(leader.as_ref(), CHUNK, &mut |chunk| {
            bytes += chunk.len();
            // A client that went away only stops the sending, not the writing.
            let _ = tx.blocking_send(Bytes::from(chunk));
        });
        debug!(
            ?view,
            bytes,
            in_actor_ms = taking.as_secs_f64() * 1e3,
            until_snapshot_ms = snapshotted.as_secs_f64() * 1e3,
            total_ms = asked.elapsed().as_secs_f64() * 1e3,
            "state view written"
        );
    });
    let body = tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<Bytes, Infallible>);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

pub(super) async fn state(State(h): State<MasterHandle>) -> Response {
    view(&h, View::State).await
}

pub(super) async fn state_summary(State(h): State<MasterHandle>) -> Response {
    view(&h, View::Summary).await
}

pub(super) async fn frameworks(State(h): State<MasterHandle>) -> Response {
    view(&h, View::Frameworks).await
}

pub(super) async fn slaves(State(h): State<MasterHandle>) -> Response {
    view(&h, View::Slaves).await
}

#[derive(serde::Deserialize)]
pub(super) struct TasksQuery {
    limit: Option<String>,
    offset: Option<String>,
    order: Option<String>,
    framework_id: Option<String>,
    task_id: Option<String>,
}

/// Mesos answers any query here: what it cannot read falls back to the defaults.
pub(super) async fn tasks(State(h): State<MasterHandle>, Query(q): Query<TasksQuery>) -> Response {
    let listing = TaskListing::from_query(
        q.limit.as_deref(),
        q.offset.as_deref(),
        q.order.as_deref(),
        q.framework_id,
        q.task_id,
    );
    let for_snapshot = listing.clone();
    let Some(snapshot) = h
        .inspect(move |e| state_json::tasks_snapshot(e, &for_snapshot))
        .await
    else {
        return unavailable();
    };
    match tokio::task::spawn_blocking(move || snapshot.write(&listing)).await {
        Ok(bytes) => json_bytes_response(bytes),
        Err(_) => unavailable(),
    }
}

pub(super) async fn roles(State(h): State<MasterHandle>) -> Response {
    match h.inspect(state_json::roles).await {
        Some(v) => json_response(v),
        None => unavailable(),
    }
}

pub(super) async fn flags(State(h): State<MasterHandle>) -> Response {
    match h
        .inspect(|e| serde_json::json!({ "flags": e.config.flag_map() }))
        .await
    {
        Some(v) => json_response(v),
        None => unavailable(),
    }
}

pub(super) async fn health() -> StatusCode {
    StatusCode::OK
}

pub(super) async fn version() -> Response {
    json_response(state_json::version())
}

pub(super) async fn metrics(State(h): State<MasterHandle>) -> Response {
    match h.inspect(state_json::metrics).await {
        Some(v) => json_response(h.with_elected(v)),
        None => unavailable(),
    }
}

/// Redirects to the leading master (this one while no leader is known).
pub(super) async fn redirect(State(h): State<MasterHandle>) -> Response {
    let location = crate::handle::base_url(&h.redirect_target());
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct TeardownForm {
    #[serde(rename = "frameworkId")]
    framework_id: Option<String>,
}

/// `POST /master/teardown` with form field `frameworkId`, as Mesos's operator endpoint.
pub(super) async fn teardown(State(h): State<MasterHandle>, request: Request) -> Response {
    if request.method() != Method::POST {
        return error_response(StatusCode::METHOD_NOT_ALLOWED, "Expecting a 'POST' request");
    }
    let query = request.uri().query().unwrap_or("").to_string();
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => return error_response(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
    };
    let form: TeardownForm = serde_urlencoded_pairs(&body)
        .or_else(|| serde_urlencoded_pairs(query.as_bytes()))
        .unwrap_or(TeardownForm { framework_id: None });
    let Some(framework_id) = form.framework_id else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "Missing 'frameworkId' query parameter in the request body",
        );
    };
    let id = framework_id.clone();
    match h
        .mutate(move |e, now| {
            if e.frameworks.contains_key(&id) {
                e.teardown(&id, now);
                true
            } else {
                false
            }
        })
        .await
    {
        Some(true) => StatusCode::OK.into_response(),
        Some(false) => error_response(
            StatusCode::BAD_REQUEST,
            format!("No framework found with specified ID {framework_id}"),
        ),
        None => unavailable(),
    }
}

fn serde_urlencoded_pairs(bytes: &[u8]) -> Option<TeardownForm> {
    let text = std::str::from_utf8(bytes).ok()?;
    let id = text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "frameworkId").then(|| percent_decode(v))
    })?;
    Some(TeardownForm {
        framework_id: Some(id),
    })
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn json_response(value: serde_json::Value) -> Response {
    json_bytes_response(value.to_string().into_bytes())
}

fn json_bytes_response(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teardown_form_decoding() {
        let f = serde_urlencoded_pairs(b"frameworkId=abc-0000").unwrap();
        assert_eq!(f.framework_id.as_deref(), Some("abc-0000"));
        assert_eq!(percent_decode("a%2Db"), "a-b");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
