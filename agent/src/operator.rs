//! The agent's operator API v1 (`POST /api/v1`) and its monitoring endpoints
//! (`/monitor/statistics`, `/containers`, `/metrics/snapshot`).
//!
//! A `mesos.v1.agent.Call` is decoded by Content-Type and answered with a
//! `mesos.v1.agent.Response` encoded by Accept, with the master's status-code rules
//! ([`crate::encoding`]). Reads go to the core's actor as one [`Inspect`] each, so every
//! answer is one consistent state; `/proc` is read afterwards, off the async threads.
//!
//! The container calls (nested containers: `task exec`) are [`nested_api`]'s.
//!
//! Calls left out on purpose (answered 501): SET_LOGGING_LEVEL (set RUST_LOG at start),
//! standalone containers and nested ones outside a session (LAUNCH_CONTAINER,
//! LAUNCH_NESTED_CONTAINER, REMOVE_*CONTAINER), resource providers (ADD/UPDATE/REMOVE_RESOURCE_PROVIDER_CONFIG,
//! MARK_RESOURCE_PROVIDER_GONE) and PRUNE_IMAGES: this agent has none of those features.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mesos_proto::v1::agent::{self, call, response};
use mesos_proto::v1::{self, Flag, Metric, VersionInfo};

use crate::agent::views::ContainerView;
use crate::agent::Core;
use crate::authorization::Viewer;
use crate::encoding::{self, error_response, Encoding};
use crate::files::{self, FilesError};
use crate::handle::{inspect, HttpState};
use crate::monitor::{self, Measured};
use crate::nested_api;
use crate::VERSION;
use mesos_common::auth::http::principal_of;

/// Largest operator call accepted; calls are small.
const MAX_CALL_BYTES: usize = 1024 * 1024;

fn unavailable() -> Response {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down")
}

/// Every live container, measured now.
/// Every container measured now: executors' containers (with the usage of the containers
/// nested in them) and, with `nested`, the nested ones as well.
async fn measured_with(state: &HttpState, nested: bool) -> Option<Vec<Measured>> {
    let views: Vec<ContainerView> = inspect(state, Core::containers).await?;
    tokio::task::spawn_blocking(move || monitor::top_level(monitor::measure(views), nested))
        .await
        .ok()
}

async fn measured(state: &HttpState) -> Option<Vec<Measured>> {
    measured_with(state, false).await
}

pub async fn monitor_statistics(State(state): State<HttpState>) -> Response {
    match measured(&state).await {
        Some(list) => Json(
            list.iter()
                .map(Measured::statistics_json)
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => unavailable(),
    }
}

pub async fn containers(State(state): State<HttpState>) -> Response {
    match measured(&state).await {
        Some(list) => Json(
            list.iter()
                .map(Measured::container_json)
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => unavailable(),
    }
}

pub async fn metrics_snapshot(State(state): State<HttpState>) -> Response {
    match inspect(&state, Core::metrics).await {
        Some(metrics) => Json(metrics).into_response(),
        None => unavailable(),
    }
}

pub async fn api(State(state): State<HttpState>, request: Request) -> Response {
    if let Err(e) = encoding::require_post(request.method()) {
        return e.into_response();
    }
    let headers = request.headers().clone();
    let viewer = state.viewer(principal_of(request.extensions()).as_ref());
    if nested_api::is_streaming_request(&headers) {
        return nested_api::attach_input(state, request).await;
    }
    let (content, accept) = match (
        encoding::request_encoding(&headers),
        encoding::response_encoding(&headers),
    ) {
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
        (Ok(c), Ok(a)) => (c, a),
    };
    let body = match encoding::read_body(request.into_body(), MAX_CALL_BYTES).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let call: agent::Call = match content.decode(&body) {
        Ok(c) => c,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    let kind = match validate(&call) {
        Ok(kind) => kind,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("Failed to validate agent::Call: {e}"),
            )
        }
    };
    tracing::debug!(call = kind.as_str_name(), "operator call");
    let media = match nested_api::response_media(&headers, accept) {
        Ok(media) => media,
        Err(e) => return e.into_response(),
    };
    if media.streaming && !nested_api::streams(kind) {
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Streaming response is not supported for {} call",
                kind.as_str_name()
            ),
        );
    }
    match answer(&state, &viewer, call, kind, media).await {
        Ok(response) => ok(accept, &response),
        Err(r) => r,
    }
}

fn ok(accept: Encoding, response: &agent::Response) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, accept.content_type())],
        accept.encode(response),
    )
        .into_response()
}

/// The call's type, once the part its type needs is present.
#[allow(deprecated)] // the *_NESTED_CONTAINER calls are still named
fn validate(call: &agent::Call) -> Result<call::Type, String> {
    let Some(raw) = call.r#type else {
        return Err("Expecting 'type' to be present".to_string());
    };
    let kind = call::Type::try_from(raw).map_err(|_| format!("Unknown call type {raw}"))?;
    use call::Type as T;
    let present = match kind {
        T::Unknown => return Err("Expecting 'type' to be a known call type".to_string()),
        T::SetLoggingLevel => call.set_logging_level.is_some(),
        T::ListFiles => call.list_files.is_some(),
        T::ReadFile => call.read_file.is_some(),
        T::LaunchNestedContainer => call.launch_nested_container.is_some(),
        T::WaitNestedContainer => call.wait_nested_container.is_some(),
        T::KillNestedContainer => call.kill_nested_container.is_some(),
        T::RemoveNestedContainer => call.remove_nested_container.is_some(),
        T::LaunchNestedContainerSession => call.launch_nested_container_session.is_some(),
        T::AttachContainerInput => call.attach_container_input.is_some(),
        T::AttachContainerOutput => call.attach_container_output.is_some(),
        T::LaunchContainer => call.launch_container.is_some(),
        T::WaitContainer => call.wait_container.is_some(),
        T::KillContainer => call.kill_container.is_some(),
        T::RemoveContainer => call.remove_container.is_some(),
        T::AddResourceProviderConfig => call.add_resource_provider_config.is_some(),
        T::UpdateResourceProviderConfig => call.update_resource_provider_config.is_some(),
        T::RemoveResourceProviderConfig => call.remove_resource_provider_config.is_some(),
        T::MarkResourceProviderGone => call.mark_resource_provider_gone.is_some(),
        T::PruneImages => call.prune_images.is_some(),
        T::GetHealth
        | T::GetFlags
        | T::GetVersion
        | T::GetMetrics
        | T::GetLoggingLevel
        | T::GetState
        | T::GetContainers
        | T::GetFrameworks
        | T::GetExecutors
        | T::GetOperations
        | T::GetTasks
        | T::GetAgent
        | T::GetResourceProviders => true,
    };
    if !present {
        let name = kind.as_str_name().to_ascii_lowercase();
        return Err(format!("Expecting '{name}' to be present"));
    }
    Ok(kind)
}

fn response(kind: response::Type) -> agent::Response {
    agent::Response {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

pub fn version_info() -> VersionInfo {
    VersionInfo {
        version: VERSION.to_string(),
        build_date: Some(String::new()),
        build_time: Some(0.0),
        build_user: Some(String::new()),
        git_sha: None,
        git_branch: None,
        git_tag: None,
    }
}

fn flags(state: &HttpState) -> response::GetFlags {
    response::GetFlags {
        flags: state
            .flags
            .iter()
            .map(|(name, value)| Flag {
                name: name.clone(),
                value: Some(value.clone()),
            })
            .collect(),
    }
}

fn metrics(values: BTreeMap<String, f64>) -> response::GetMetrics {
    response::GetMetrics {
        metrics: values
            .into_iter()
            .map(|(name, value)| Metric {
                name,
                value: Some(value),
            })
            .collect(),
    }
}

/// Reads the core or answers 503.
async fn read<T: Send + 'static>(
    state: &HttpState,
    f: impl FnOnce(&Core) -> T + Send + 'static,
) -> Result<T, Response> {
    inspect(state, f).await.ok_or_else(unavailable)
}

fn files_error(error: FilesError) -> Response {
    let status = match error {
        FilesError::BadRequest(_) => StatusCode::BAD_REQUEST,
        FilesError::NotFound(_) => StatusCode::NOT_FOUND,
        FilesError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_response(status, error.to_string())
}

/// Mesos's answer to a sandbox read `access_sandboxes` denies: 403 with an empty body.
pub fn sandbox_forbidden() -> Response {
    StatusCode::FORBIDDEN.into_response()
}

/// LIST_FILES: the `/files/browse` listing as FileInfos.
fn list_files(state: &HttpState, path: &str) -> Result<response::ListFiles, FilesError> {
    let listing = files::browse(&state.sandboxes_root, path)?;
    let file_infos = listing
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let text = |k: &str| entry[k].as_str().map(str::to_string);
            let number = |k: &str| entry[k].as_f64();
            v1::FileInfo {
                path: text("path").unwrap_or_default(),
                nlink: number("nlink").map(|n| n as i32),
                size: number("size").map(|n| n as u64),
                mtime: number("mtime").map(|s| v1::TimeInfo {
                    nanoseconds: (s * 1e9) as i64,
                }),
                mode: text("mode").map(|m| mode_bits(&m)),
                uid: text("uid"),
                gid: text("gid"),
            }
        })
        .collect();
    Ok(response::ListFiles { file_infos })
}

/// `drwxr-xr-x` back to mode bits (type and permissions).
fn mode_bits(mode: &str) -> u32 {
    let kind = match mode.chars().next() {
        Some('d') => libc::S_IFDIR,
        Some('l') => libc::S_IFLNK,
        _ => libc::S_IFREG,
    };
    let permissions = mode
        .chars()
        .skip(1)
        .take(9)
        .enumerate()
        .filter(|(_, c)| *c != '-')
        .fold(0u32, |bits, (i, _)| bits | (1 << (8 - i)));
    kind | permissions
}

/// Most bytes one READ_FILE returns; clients page through larger files.
const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

/// READ_FILE: up to `length` bytes (to the end when absent) from `offset`, as raw bytes.
fn read_file(state: &HttpState, request: call::ReadFile) -> Result<response::ReadFile, FilesError> {
    use std::io::{Read, Seek, SeekFrom};
    let path = files::confine(&state.sandboxes_root, &request.path)?;
    if path.is_dir() {
        return Err(FilesError::BadRequest("Cannot read a directory".into()));
    }
    let internal = |e: std::io::Error| FilesError::Internal(e.to_string());
    let mut file = std::fs::File::open(&path).map_err(internal)?;
    let size = file.metadata().map_err(internal)?.len();
    let mut data = Vec::new();
    if request.offset < size {
        let length = request.length.unwrap_or(u64::MAX).min(MAX_READ_BYTES);
        file.seek(SeekFrom::Start(request.offset))
            .map_err(internal)?;
        file.take(length).read_to_end(&mut data).map_err(internal)?;
    }
    Ok(response::ReadFile { size, data })
}

async fn blocking_files<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FilesError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(files_error),
        Err(e) => Err(files_error(FilesError::Internal(e.to_string()))),
    }
}

#[allow(deprecated)] // the *_NESTED_CONTAINER calls are still named
/// The call's Response, or a response of its own (an error, or a container call's).
async fn answer(
    state: &HttpState,
    viewer: &Viewer,
    call: agent::Call,
    kind: call::Type,
    media: nested_api::Media,
) -> Result<agent::Response, Response> {
    use call::Type as T;
    use response::Type as R;
    let out = match kind {
        T::GetHealth => {
            // Answered by the core's actor: an agent too busy to answer is not healthy.
            read(state, |_| ()).await?;
            let mut r = response(R::GetHealth);
            r.get_health = Some(response::GetHealth { healthy: true });
            r
        }
        T::GetFlags => {
            if !viewer.may_view_flags() {
                return Err(mesos_common::auth::http::forbidden());
            }
            let mut r = response(R::GetFlags);
            r.get_flags = Some(flags(state));
            r
        }
        T::GetVersion => {
            let mut r = response(R::GetVersion);
            r.get_version = Some(response::GetVersion {
                version_info: version_info(),
            });
            r
        }
        T::GetMetrics => {
            let mut r = response(R::GetMetrics);
            r.get_metrics = Some(metrics(read(state, Core::metrics).await?));
            r
        }
        T::GetLoggingLevel => {
            let mut r = response(R::GetLoggingLevel);
            r.get_logging_level = Some(response::GetLoggingLevel { level: 0 });
            r
        }
        T::GetState => {
            let mut r = response(R::GetState);
            r.get_state = Some({
                let viewer = viewer.clone();
                read(state, move |core: &Core| core.operator_state(&viewer)).await?
            });
            r
        }
        T::GetContainers => {
            let nested = call
                .get_containers
                .as_ref()
                .and_then(|g| g.show_nested)
                .unwrap_or(false);
            let list = measured_with(state, nested).await.ok_or_else(unavailable)?;
            let mut r = response(R::GetContainers);
            r.get_containers = Some(response::GetContainers {
                containers: list.iter().map(Measured::container_proto).collect(),
            });
            r
        }
        T::GetFrameworks => {
            let mut r = response(R::GetFrameworks);
            r.get_frameworks = Some({
                let viewer = viewer.clone();
                read(state, move |core: &Core| core.operator_frameworks(&viewer)).await?
            });
            r
        }
        T::GetExecutors => {
            let mut r = response(R::GetExecutors);
            r.get_executors = Some({
                let viewer = viewer.clone();
                read(state, move |core: &Core| core.operator_executors(&viewer)).await?
            });
            r
        }
        T::GetTasks => {
            let mut r = response(R::GetTasks);
            r.get_tasks = Some({
                let viewer = viewer.clone();
                read(state, move |core: &Core| core.operator_tasks(&viewer)).await?
            });
            r
        }
        T::GetAgent => {
            let mut r = response(R::GetAgent);
            r.get_agent = Some(read(state, Core::operator_agent).await?);
            r
        }
        T::GetOperations => {
            // No operation on this agent reports status.
            let mut r = response(R::GetOperations);
            r.get_operations = Some(response::GetOperations::default());
            r
        }
        T::GetResourceProviders => {
            let mut r = response(R::GetResourceProviders);
            r.get_resource_providers = Some(response::GetResourceProviders::default());
            r
        }
        T::ListFiles => {
            let path = call.list_files.unwrap_or_default().path;
            if !state.may_read(viewer, &path).await {
                return Err(sandbox_forbidden());
            }
            let state = state.clone();
            let mut r = response(R::ListFiles);
            r.list_files = Some(blocking_files(move || list_files(&state, &path)).await?);
            r
        }
        T::ReadFile => {
            let request = call.read_file.unwrap_or_default();
            if !state.may_read(viewer, &request.path).await {
                return Err(sandbox_forbidden());
            }
            let state = state.clone();
            let mut r = response(R::ReadFile);
            r.read_file = Some(blocking_files(move || read_file(&state, request)).await?);
            r
        }
        T::SetLoggingLevel => {
            return Err(error_response(
                StatusCode::NOT_IMPLEMENTED,
                "SET_LOGGING_LEVEL is not supported: set RUST_LOG when starting the agent",
            ))
        }
        T::LaunchNestedContainer
        | T::WaitNestedContainer
        | T::KillNestedContainer
        | T::RemoveNestedContainer
        | T::LaunchNestedContainerSession
        | T::AttachContainerInput
        | T::AttachContainerOutput
        | T::LaunchContainer
        | T::WaitContainer
        | T::KillContainer
        | T::RemoveContainer => {
            // Streams and empty 200s: these calls make their own responses.
            return Err(nested_api::answer(state, call, kind, media).await);
        }
        T::AddResourceProviderConfig
        | T::UpdateResourceProviderConfig
        | T::RemoveResourceProviderConfig
        | T::MarkResourceProviderGone => {
            return Err(error_response(
                StatusCode::NOT_IMPLEMENTED,
                format!(
                    "{} is not supported: this agent has no resource providers",
                    kind.as_str_name()
                ),
            ))
        }
        T::PruneImages => {
            return Err(error_response(
                StatusCode::NOT_IMPLEMENTED,
                "PRUNE_IMAGES is not supported: this agent keeps no container images",
            ))
        }
        T::Unknown => {
            return Err(error_response(
                StatusCode::BAD_REQUEST,
                "UNKNOWN is not a call",
            ))
        }
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_needs_the_type_and_its_part() {
        let mut call = agent::Call::default();
        assert!(validate(&call).unwrap_err().contains("'type'"));
        call.r#type = Some(call::Type::GetHealth as i32);
        assert_eq!(validate(&call), Ok(call::Type::GetHealth));
        call.r#type = Some(call::Type::ReadFile as i32);
        assert!(validate(&call).unwrap_err().contains("'read_file'"));
        call.r#type = Some(999);
        assert!(validate(&call).unwrap_err().contains("Unknown call type"));
    }

    #[test]
    fn mode_strings_back_to_bits() {
        assert_eq!(mode_bits("drwxr-xr-x"), libc::S_IFDIR | 0o755);
        assert_eq!(mode_bits("-rw-r--r--"), libc::S_IFREG | 0o644);
    }
}
