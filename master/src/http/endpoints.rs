//! The read-only endpoints (`/master/state` and its family, `/flags`, `/health`,
//! `/redirect`, `/version`, `/metrics/snapshot`) and `/master/teardown`.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures::StreamExt;
use mesos_common::auth::http::forbidden;
use mesos_common::auth::{Action, Object, Principal};
use tracing::debug;

use crate::api::error_response;
use crate::api::unavailable;
use crate::handle::MasterHandle;
use crate::views::authorized::Viewer;
use crate::views::state_json::{self, TaskListing, View};

/// The request's principal, when its realm authenticated it.
type Who = Option<Extension<Principal>>;

fn who(p: &Who) -> Option<&Principal> {
    p.as_ref().map(|Extension(p)| p)
}

/// Answers with a view of the engine: snapshot in the actor, serialization on a blocking
/// thread, so that a large state neither stalls the actor nor an async worker. The body
/// is sent in pieces as they are written (at 50,000 agents the summary is 33 MB and the
/// state 74 MB): the transfer overlaps with the writing, and no buffer of the whole view
/// is needed.
async fn view(h: &MasterHandle, view: View, viewer: Viewer) -> Response {
    if !viewer.sees_everything() {
        return filtered_view(h, view, viewer).await;
    }
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

/// A view with what the `view_*` ACLs hide taken out: written whole, filtered, rewritten
/// (only when ACLs restrict views; the common case streams).
async fn filtered_view(h: &MasterHandle, view: View, viewer: Viewer) -> Response {
    let Some(snapshot) = h.inspect(move |e| state_json::snapshot(e, view)).await else {
        return unavailable();
    };
    let leader = (view == View::State).then(|| h.leader_info()).flatten();
    let written = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        snapshot.write_chunked(leader.as_ref(), usize::MAX, &mut |chunk| {
            bytes.extend_from_slice(&chunk)
        });
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        viewer.state_json(&mut value);
        Some(value.to_string().into_bytes())
    })
    .await;
    match written {
        Ok(Some(bytes)) => json_bytes_response(bytes),
        _ => unavailable(),
    }
}

pub(super) async fn state(State(h): State<MasterHandle>, p: Who) -> Response {
    let viewer = h.viewer(who(&p));
    view(&h, View::State, viewer).await
}

pub(super) async fn state_summary(State(h): State<MasterHandle>, p: Who) -> Response {
    let viewer = h.viewer(who(&p));
    view(&h, View::Summary, viewer).await
}

pub(super) async fn frameworks(State(h): State<MasterHandle>, p: Who) -> Response {
    let viewer = h.viewer(who(&p));
    view(&h, View::Frameworks, viewer).await
}

pub(super) async fn slaves(State(h): State<MasterHandle>, p: Who) -> Response {
    let viewer = h.viewer(who(&p));
    view(&h, View::Slaves, viewer).await
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
pub(super) async fn tasks(
    State(h): State<MasterHandle>,
    p: Who,
    Query(q): Query<TasksQuery>,
) -> Response {
    let viewer = h.viewer(who(&p));
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
    let written = tokio::task::spawn_blocking(move || {
        let bytes = snapshot.write(&listing);
        if viewer.sees_everything() {
            return bytes;
        }
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(mut value) => {
                viewer.state_json(&mut value);
                value.to_string().into_bytes()
            }
            Err(_) => bytes,
        }
    })
    .await;
    match written {
        Ok(bytes) => json_bytes_response(bytes),
        Err(_) => unavailable(),
    }
}

pub(super) async fn roles(State(h): State<MasterHandle>, p: Who) -> Response {
    let viewer = h.viewer(who(&p));
    match h.inspect(state_json::roles).await {
        Some(mut v) => {
            if let Some(serde_json::Value::Array(roles)) = v.get_mut("roles") {
                roles.retain(|r| viewer.may_see_role(r["name"].as_str().unwrap_or("")));
            }
            json_response(v)
        }
        None => unavailable(),
    }
}

pub(super) async fn flags(State(h): State<MasterHandle>, p: Who) -> Response {
    if !h.authorized(Action::ViewFlags, who(&p), Object::Any) {
        return forbidden();
    }
    let exposure = h.exposure.clone();
    let answer = h
        .inspect(move |e| {
            let mut body = serde_json::json!({ "flags": e.config.flag_map() });
            // Ours, beside Mesos's one key: clients read `flags` and skip the rest.
            if let Some(warning) = exposure {
                body["exposure_warning"] = serde_json::json!(*warning);
            }
            body
        })
        .await;
    match answer {
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

pub(super) async fn metrics(State(h): State<MasterHandle>, p: Who) -> Response {
    if !h.authorized(
        Action::GetEndpoints,
        who(&p),
        Object::Value("/metrics/snapshot"),
    ) {
        return forbidden();
    }
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
    let principal = request
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.value.clone());
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
            let Some(f) = e.frameworks.get(&id) else {
                return Some(false);
            };
            let owner = f.info.principal.clone().unwrap_or_default();
            if !e.acls.approved(
                Action::TeardownFrameworks,
                principal.as_deref(),
                Object::Value(&owner),
            ) {
                return None;
            }
            e.teardown(&id, now);
            Some(true)
        })
        .await
    {
        Some(None) => forbidden(),
        Some(Some(true)) => StatusCode::OK.into_response(),
        Some(Some(false)) => error_response(
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
