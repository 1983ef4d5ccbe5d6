//! The agent's HTTP endpoints. The agent's libprocess id is `slave(1)`, so `/X` and
//! `/slave(1)/X` are the same endpoint; `/files/*`, `/metrics/snapshot` and `/version`
//! have no prefix.

use axum::extract::{Query as QueryParams, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use mesos_common::auth::http::forbidden;
use mesos_common::auth::Principal;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::oneshot;

use crate::agent::Query;
use crate::authorization::Viewer;
use crate::files::{self, FilesError};
use crate::handle::HttpState;
use crate::operator::sandbox_forbidden;
use crate::VERSION;
use crate::{executor_api, operator};

pub fn router(state: HttpState) -> Router {
    let mut router = Router::new();
    // What the master's dashboard reads from the agent: it is served from the master's
    // address, another origin, so these answers allow any origin to read them (Mesos's
    // own UI reaches the same endpoints through JSONP, which is no less open). None of
    // them changes anything.
    let mut readable = Router::new()
        .route("/files/browse", get(browse))
        .route("/files/browse.json", get(browse))
        .route("/files/read", get(read))
        .route("/files/read.json", get(read))
        .route("/files/download", get(download))
        .route("/files/download.json", get(download));
    for prefix in ["", "/slave(1)"] {
        readable = readable
            .route(&format!("{prefix}/state"), get(agent_state))
            .route(&format!("{prefix}/state.json"), get(agent_state));
        router = router
            .route(&format!("{prefix}/health"), get(health))
            .route(&format!("{prefix}/flags"), get(flags))
            .route(&format!("{prefix}/api/v1"), any(operator::api))
            .route(&format!("{prefix}/api/v1/executor"), any(executor_api::api))
            .route(&format!("{prefix}/containers"), get(operator::containers))
            .route(
                &format!("{prefix}/monitor/statistics"),
                get(operator::monitor_statistics),
            )
            .route(
                &format!("{prefix}/monitor/statistics.json"),
                get(operator::monitor_statistics),
            );
    }
    router
        .route("/version", get(version))
        .route("/metrics/snapshot", get(operator::metrics_snapshot))
        .merge(readable.route_layer(axum::middleware::map_response(allow_any_origin)))
        .with_state(state)
}

async fn allow_any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

/// The request's principal, when its realm authenticated it.
type Who = Option<Extension<Principal>>;

fn viewer(state: &HttpState, who: &Who) -> Viewer {
    state.viewer(who.as_ref().map(|Extension(p)| p))
}

/// `/state`, showing what the ACLs let the principal see (`view_*`).
async fn agent_state(State(state): State<HttpState>, who: Who) -> Response {
    let (reply, answer) = oneshot::channel();
    let viewer = viewer(&state, &who);
    if state
        .queries
        .send(Query::State(viewer, reply))
        .await
        .is_err()
    {
        return unavailable();
    }
    match answer.await {
        Ok(value) => Json(value).into_response(),
        Err(_) => unavailable(),
    }
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down").into_response()
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn flags(State(state): State<HttpState>, who: Who) -> Response {
    if !viewer(&state, &who).may_view_flags() {
        return forbidden();
    }
    let mut body = json!({ "flags": *state.flags });
    // Ours, beside Mesos's one key: clients read `flags` and skip the rest.
    if let Some(warning) = &state.exposure {
        body["exposure_warning"] = json!(**warning);
    }
    Json(body).into_response()
}

async fn version() -> Json<serde_json::Value> {
    Json(json!({
        "version": VERSION,
        "build_date": "",
        "build_time": 0,
        "build_user": "",
        "git_sha": "",
    }))
}

#[derive(Debug, Deserialize)]
struct FileParams {
    #[serde(default)]
    path: String,
    offset: Option<String>,
    length: Option<String>,
}

fn files_error(error: FilesError) -> Response {
    let status = match error {
        FilesError::BadRequest(_) => StatusCode::BAD_REQUEST,
        FilesError::NotFound(_) => StatusCode::NOT_FOUND,
        FilesError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({ "message": error.to_string() }))).into_response()
}

fn parse_number(name: &str, value: Option<&str>) -> Result<Option<i64>, FilesError> {
    value
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                FilesError::BadRequest(format!("Failed to parse {name} '{v}': not a number"))
            })
        })
        .transpose()
}

async fn browse(
    State(state): State<HttpState>,
    who: Who,
    QueryParams(params): QueryParams<FileParams>,
) -> Response {
    if !state.may_read(&viewer(&state, &who), &params.path).await {
        return sandbox_forbidden();
    }
    let root = state.sandboxes_root.clone();
    blocking(move || files::browse(&root, &params.path).map(|v| Json(v).into_response())).await
}

async fn read(
    State(state): State<HttpState>,
    who: Who,
    QueryParams(params): QueryParams<FileParams>,
) -> Response {
    if !state.may_read(&viewer(&state, &who), &params.path).await {
        return sandbox_forbidden();
    }
    let root = state.sandboxes_root.clone();
    blocking(move || {
        let offset = parse_number("offset", params.offset.as_deref())?;
        let length = parse_number("length", params.length.as_deref())?;
        files::read(&root, &params.path, offset, length).map(|v| Json(v).into_response())
    })
    .await
}

async fn download(
    State(state): State<HttpState>,
    who: Who,
    QueryParams(params): QueryParams<FileParams>,
) -> Response {
    // Mesos answers a denied download with the plain `403 Forbidden.`.
    if !state.may_read(&viewer(&state, &who), &params.path).await {
        return forbidden();
    }
    let root = state.sandboxes_root.clone();
    blocking(move || {
        let path = files::download(&root, &params.path)?;
        let bytes = std::fs::read(&path).map_err(|e| FilesError::Internal(e.to_string()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().replace('"', ""))
            .unwrap_or_default();
        Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

/// File system work happens off the async threads.
async fn blocking<F>(work: F) -> Response
where
    F: FnOnce() -> Result<Response, FilesError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => files_error(error),
        Err(e) => files_error(FilesError::Internal(e.to_string())),
    }
}
