//! Marathon's REST API v2 on `--http_port`, with Marathon's paths, status codes and
//! JSON shapes. A standby answers by proxying to the leader (`proxy`), passing the
//! client's `Authorization` on. With `--http_credentials` every path needs HTTP Basic
//! (`auth`).
//!
//! ```text
//!   client ──▶ router ──(standby)──▶ proxy ──▶ leader's /v2/...
//!                 │ (leader)
//!                 ├── apps: /v2/apps[/{id}[/restart|/tasks[/{task}]|/versions[/{v}]]]
//!                 ├── deployments: /v2/deployments[/{id}]
//!                 ├── pods: /v2/pods[/{id}[::status|::versions[/{v}]|::instances[/{i}]]]
//!                 ├── groups: /v2/groups[/{id}[/versions[/{v}]]]
//!                 ├── events: /v2/events (server-sent events from the event bus;
//!                 │           a standby redirects to the leader)
//!                 ├── misc: /v2/tasks, /v2/queue, /v2/info, /v2/leader, /ping, /metrics,
//!                 │         /v2/info/exposure (ours: open beyond loopback?)
//!                 └── the dashboard: /ui/ (and / redirecting there), from `mesos_ui`
//!                        └──▶ ServiceHandle (commands and reads on the service actor)
//! ```

// Handlers return `Result<_, Response>` to answer early with a finished response; the size
// of axum's Response in the error variant does not matter on this path.
#![allow(clippy::result_large_err)]

mod apps;
pub mod auth;
pub mod cut;
mod deployments;
mod events;
mod groups;
mod misc;
mod pods;
pub mod proxy;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::config::Config;
use crate::event_bus::EventBus;
use crate::service::{ChangeResult, ServiceError, ServiceHandle};

/// Who leads, as the HTTP edge sees it.
#[derive(Clone)]
pub enum Leadership {
    /// This process leads: requests go to its service.
    Leading(ServiceHandle),
    /// Another process leads at `host:port` (None: nobody, or not known yet).
    Standby(Option<String>),
}

#[derive(Clone)]
pub struct HttpState {
    pub config: Arc<Config>,
    pub leadership: watch::Receiver<Leadership>,
    /// `host:port` of this process, as it announces itself.
    pub me: String,
    pub http: reqwest::Client,
    /// Asks the election to give up leadership (`DELETE /v2/leader`).
    pub abdicate: Arc<dyn Fn() + Send + Sync>,
    /// What `/v2/events` streams (the same bus across leadership terms).
    pub events: Arc<EventBus>,
}

/// The largest request body accepted (Marathon's default for app definitions is 1 MB;
/// groups of many apps need more).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

pub fn router(state: HttpState) -> Router {
    let policy = auth::Policy::from_config(&state.config);
    Router::new()
        .route("/v2/apps", any(apps::apps_root))
        .route("/v2/apps/", any(apps::apps_root))
        .route("/v2/apps/{*path}", any(apps::app_path))
        .route("/v2/tasks", get(misc::tasks))
        .route("/v2/tasks/delete", post(misc::tasks_delete))
        .route("/v2/queue", get(misc::queue))
        .route("/v2/queue/{*path}", any(misc::queue_delay))
        .route("/v2/deployments", get(deployments::list))
        .route("/v2/deployments/{id}", any(deployments::cancel))
        .route("/v2/pods", any(pods::pods_root))
        .route("/v2/pods/", any(pods::pods_root))
        .route("/v2/pods/{*path}", any(pods::pod_path))
        .route("/v2/groups", any(groups::groups_root))
        .route("/v2/groups/", any(groups::groups_root))
        .route("/v2/groups/{*path}", any(groups::group_path))
        .route("/v2/events", any(events::events))
        .route("/v2/info", get(misc::info))
        .route("/v2/info/exposure", get(misc::exposure))
        .route("/v2/leader", any(misc::leader))
        .route(
            "/ping",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "pong") }),
        )
        .route("/metrics", get(misc::metrics))
        .merge(mesos_ui::router(mesos_ui::Site::Marathon))
        .method_not_allowed_fallback(|| async { method_not_allowed() })
        .fallback(|| async { not_found("The requested resource could not be found.") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        // Outermost: nothing, not even a 404 or 405, is answered before authentication.
        .layer(axum::middleware::from_fn_with_state(policy, auth::require))
        .with_state(state)
}

pub fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub fn message(status: StatusCode, text: impl Into<String>) -> Response {
    json_response(status, json!({ "message": text.into() }))
}

pub fn not_found(text: impl Into<String>) -> Response {
    message(StatusCode::NOT_FOUND, text)
}

pub fn method_not_allowed() -> Response {
    message(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Marathon is not ready: no leader is elected yet, try again later",
    )
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let text = self.to_string();
        match self {
            ServiceError::UnknownApp(_)
            | ServiceError::UnknownPod(_)
            | ServiceError::UnknownTask(_)
            | ServiceError::NotQueued(_)
            | ServiceError::UnknownDeployment(_)
            | ServiceError::UnknownGroup(_) => not_found(text),
            ServiceError::AppExists(_) | ServiceError::Conflict(_) => {
                message(StatusCode::CONFLICT, text)
            }
            ServiceError::Locked { deployments } => json_response(
                StatusCode::CONFLICT,
                json!({
                    "message": text,
                    "deployments": deployments.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
                }),
            ),
            ServiceError::Invalid(details) => json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "message": text, "details": details }),
            ),
            ServiceError::Store(e) => message(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("Marathon's storage is not available: {e}"),
            ),
        }
    }
}

/// `{"deploymentId","version"}` with the `Marathon-Deployment-Id` header.
pub fn deployment_response(status: StatusCode, result: &ChangeResult) -> Response {
    let mut response = json_response(
        status,
        json!({"deploymentId": result.deployment_id, "version": result.version}),
    );
    add_deployment_header(&mut response, &result.deployment_id);
    response
}

pub fn add_deployment_header(response: &mut Response, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert("Marathon-Deployment-Id", v);
    }
}

/// The query string as pairs, repeated keys kept (`embed=a&embed=b`).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default()
}

/// A boolean query parameter: `true`/`True`/`false`/`False` (and a bare key means true).
pub fn query_bool(pairs: &[(String, String)], key: &str, default: bool) -> bool {
    match pairs.iter().rev().find(|(k, _)| k == key) {
        Some((_, v)) if v.is_empty() => true,
        Some((_, v)) => v.eq_ignore_ascii_case("true"),
        None => default,
    }
}

pub fn query_values<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .collect()
}

/// Reads a JSON body: 413 when too large, 400 with Marathon's message when not JSON (with
/// a hint when it looks like a file name curl did not read).
pub fn read_json(body: Result<Bytes, BytesRejection>) -> Result<Value, Response> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            message(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body too large: at most {MAX_BODY} bytes are accepted"),
            )
        } else {
            message(
                StatusCode::BAD_REQUEST,
                format!("Cannot read the request body: {e}"),
            )
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let text = String::from_utf8_lossy(&bytes);
        let trimmed = text.trim();
        let mut errors = vec![e.to_string()];
        let looks_like_path = trimmed.starts_with('@')
            || (!trimmed.starts_with(['{', '[']) && (trimmed.ends_with(".json") || trimmed.contains('/')));
        if looks_like_path {
            errors.push(format!(
                "The body is '{trimmed}', not JSON: to send a file with curl, use -d @file.json (the @ makes curl read the file)"
            ));
        }
        json_response(
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid JSON", "details": [{"path": "/", "errors": errors}]}),
        )
    })
}

/// A call the leader's service answers. Extracting it on a standby sends the request on
/// to the leader (or answers 503 when none is known) and returns that answer instead.
pub struct LeaderCall {
    pub service: ServiceHandle,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// The body, or why it could not be read (413 when too large).
    pub body: Result<Bytes, BytesRejection>,
    /// The client's address (`clientIp` of `api_post_event`).
    pub client_ip: String,
}

impl axum::extract::FromRequest<HttpState> for LeaderCall {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &HttpState,
    ) -> Result<Self, Response> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let headers = req.headers().clone();
        let client_ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<cut::Peer>>()
            .map(|c| c.0.addr.ip().to_string())
            .unwrap_or_default();
        let body = Bytes::from_request(req, state).await;
        let forward = proxy::Forward {
            method: method.clone(),
            uri: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| uri.path().to_string()),
            headers: headers.clone(),
            body: body.as_ref().cloned().unwrap_or_default(),
        };
        let service = leading(state, &forward).await?;
        Ok(LeaderCall {
            service,
            method,
            uri,
            headers,
            body,
            client_ip,
        })
    }
}

/// 503 for a leader that stepped down while a call was in flight.
pub fn lost_leadership() -> Response {
    message(StatusCode::SERVICE_UNAVAILABLE, "Marathon lost leadership")
}

/// The service of the leader, or the response a standby gives (proxied or 503).
async fn leading(state: &HttpState, request: &proxy::Forward) -> Result<ServiceHandle, Response> {
    let leadership = state.leadership.borrow().clone();
    match leadership {
        Leadership::Leading(handle) => Ok(handle),
        Leadership::Standby(Some(leader)) if leader != state.me => {
            Err(proxy::forward(state, &leader, request).await)
        }
        Leadership::Standby(_) => Err(unavailable()),
    }
}

/// Adds the `X-Marathon-Leader` header the leader puts on every answer.
pub fn leader_header(me: &str, mut response: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("http://{me}")) {
        response.headers_mut().insert("X-Marathon-Leader", v);
    }
    response
}

pub fn wants_text(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/plain") && !a.contains("application/json"))
}
