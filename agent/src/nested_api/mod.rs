//! The operator API's container calls (`POST /api/v1` on the agent), answered as Mesos's
//! agent answers them: LAUNCH_NESTED_CONTAINER_SESSION and ATTACH_CONTAINER_OUTPUT stream
//! `ProcessIO` records back, ATTACH_CONTAINER_INPUT streams `Call` records in, and
//! WAIT/KILL_(NESTED_)CONTAINER report and end a nested container ([`crate::nested`]).
//!
//! Media types follow Mesos: a streamed body is `application/recordio` with its records'
//! encoding in `Message-Content-Type` (requests) or asked for with `Message-Accept`
//! (responses, JSON by default); `Message-*` headers on a body that is not streamed are
//! refused. A session's container lives as long as its response: when the client goes
//! away (or the output ends) the container is killed, and so are the containers nested in
//! a task that ends. Like the sandboxes (`/files`), these calls are open to every client
//! of the agent.
//!
//! ```text
//!  LAUNCH_NESTED_CONTAINER_SESSION ─▶ core: parent's sandbox, environment, Docker name
//!        └─▶ nested: launch ─▶ 200 recordio ◀─ ProcessIO DATA (stdout/stderr), HEARTBEAT
//!  ATTACH_CONTAINER_INPUT (recordio Calls) ─▶ nested: input (STDIN, TTY_INFO, EOF) ─▶ 200
//!  WAIT_CONTAINER ─▶ exit_status       KILL_CONTAINER ─▶ signal
//! ```

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use mesos_proto::v1::agent::{self, call, process_io, response};
use mesos_proto::v1::{container_info, ContainerId};
use nix::sys::signal::Signal;

use crate::agent::Core;
use crate::encoding::{self, ApiError, Encoding};
use crate::handle::{inspect, HttpState};
use crate::launcher::CommandLine;
use crate::nested::{self, dotted, Input, Launch, NestedError, Runtime};

/// Mesos's default `--http_heartbeat_interval`: output streams carry a HEARTBEAT this often.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// How often a session checks that the task it runs in is still there.
const PARENT_CHECK: Duration = Duration::from_secs(1);
/// Longest container id Mesos accepts.
const MAX_CONTAINER_ID_LENGTH: usize = 242;
const RECORDIO: &str = "application/recordio";
const MESSAGE_CONTENT_TYPE: &str = "message-content-type";
const MESSAGE_ACCEPT: &str = "message-accept";

/// How the response is encoded: its records' encoding, and whether they are streamed as
/// `application/recordio` (otherwise the body's type is the records' own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media {
    pub encoding: Encoding,
    pub streaming: bool,
}

fn media_type(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

/// Whether the request body is a stream of records (ATTACH_CONTAINER_INPUT).
pub fn is_streaming_request(headers: &HeaderMap) -> bool {
    media_type(headers, header::CONTENT_TYPE).as_deref() == Some(RECORDIO)
}

/// The response's media; `Message-*` headers on bodies that are not streamed are refused.
pub fn response_media(headers: &HeaderMap, encoding: Encoding) -> Result<Media, ApiError> {
    if headers.contains_key(MESSAGE_CONTENT_TYPE) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Message-Content-Type' to be not set for non-streaming requests",
        ));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let accepts = |wanted: &str| {
        accept
            .split(',')
            .any(|part| part.split(';').next().unwrap_or("").trim() == wanted)
    };
    // As in Mesos, JSON and protobuf win over a stream when several are acceptable.
    let streaming = !accept.is_empty()
        && accepts(RECORDIO)
        && ![
            "application/json",
            "application/x-protobuf",
            "*/*",
            "application/*",
        ]
        .iter()
        .any(|t| accepts(t));
    if !streaming && headers.contains_key(MESSAGE_ACCEPT) {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Expecting 'Message-Accept' to be not set for non-streaming responses",
        ));
    }
    Ok(Media {
        encoding,
        streaming,
    })
}

/// Whether a call may answer with a stream.
pub fn streams(kind: call::Type) -> bool {
    matches!(
        kind,
        call::Type::LaunchNestedContainerSession | call::Type::AttachContainerOutput
    )
}

/// Answers a container call whose body is not streamed.
#[allow(deprecated)] // the *_NESTED_CONTAINER calls are still named
pub async fn answer(
    state: &HttpState,
    call: agent::Call,
    kind: call::Type,
    media: Media,
) -> Response {
    use call::Type as T;
    let result = match kind {
        T::LaunchNestedContainerSession => {
            let l = call.launch_nested_container_session.unwrap_or_default();
            let call = LaunchCall::new(FIELD_SESSION, l.container_id, l.command, l.container);
            launch_session(state, call, media).await
        }
        T::LaunchNestedContainer => {
            let l = call.launch_nested_container.unwrap_or_default();
            let call = LaunchCall::new(FIELD_NESTED, l.container_id, l.command, l.container);
            launch_detached(state, call).await
        }
        // Only nested ones: this agent runs no standalone containers.
        T::LaunchContainer
            if call
                .launch_container
                .as_ref()
                .is_some_and(|l| l.container_id.parent.is_some()) =>
        {
            let l = call.launch_container.unwrap_or_default();
            let call = LaunchCall::new(FIELD_CONTAINER, l.container_id, l.command, l.container);
            launch_detached(state, call).await
        }
        T::AttachContainerOutput => {
            let id = call
                .attach_container_output
                .unwrap_or_default()
                .container_id;
            attach_output(state, id, media)
        }
        T::AttachContainerInput => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Expecting 'Content-Type' to be {RECORDIO} for ATTACH_CONTAINER_INPUT call"),
        )),
        T::WaitNestedContainer => {
            let id = call.wait_nested_container.unwrap_or_default().container_id;
            wait(state, id, "wait_nested_container", true, media.encoding).await
        }
        T::WaitContainer => {
            let id = call.wait_container.unwrap_or_default().container_id;
            wait(state, id, "wait_container", false, media.encoding).await
        }
        T::KillNestedContainer => {
            let kill = call.kill_nested_container.unwrap_or_default();
            kill_container(
                state,
                kill.container_id,
                kill.signal,
                "kill_nested_container",
            )
        }
        T::KillContainer => {
            let kill = call.kill_container.unwrap_or_default();
            kill_container(state, kill.container_id, kill.signal, "kill_container")
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "{} is not supported: this agent runs no standalone containers and keeps \
                 no nested container once it has ended",
                kind.as_str_name()
            ),
        )),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// Mesos's rules for a ContainerID (and its parents).
fn check_container_id(id: &ContainerId) -> Result<(), String> {
    let value = &id.value;
    if value.is_empty() {
        return Err("ID must not be empty".into());
    }
    if value.len() > MAX_CONTAINER_ID_LENGTH {
        return Err(format!(
            "'ContainerID.value' '{value}' exceeds the maximum length ({MAX_CONTAINER_ID_LENGTH})"
        ));
    }
    if value
        .chars()
        .any(|c| matches!(c, '.' | ' ' | '/' | '\\') || c.is_control())
    {
        return Err(format!(
            "'ContainerID.value' '{value}' contains invalid characters"
        ));
    }
    match &id.parent {
        Some(parent) => {
            check_container_id(parent).map_err(|e| format!("'ContainerID.parent' is invalid: {e}"))
        }
        None => Ok(()),
    }
}

fn valid_id(id: &ContainerId, field: &str) -> Result<(), ApiError> {
    check_container_id(id)
        .map_err(|e| bad_request(format!("'{field}.container_id' is invalid: {e}")))
}

/// A valid id of a nested container: top-level ones are tasks' own containers (waited for
/// and killed through the scheduler API) or standalone ones, which this agent has none of.
fn nested_id(id: &ContainerId, field: &str) -> Result<(), ApiError> {
    valid_id(id, field)?;
    if id.parent.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "'{field}' of a top-level container is not supported: this agent waits for \
                 and kills tasks through the scheduler API and runs no standalone containers"
            ),
        ));
    }
    Ok(())
}

fn not_found(error: NestedError) -> ApiError {
    let status = match error {
        NestedError::NotFound(_) => StatusCode::NOT_FOUND,
        NestedError::InputBusy | NestedError::Exists(_) => StatusCode::CONFLICT,
        NestedError::Launch(_) => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, error.to_string())
}

/// What a launch call asks for, whichever call it came in.
struct LaunchCall {
    id: ContainerId,
    command: Option<mesos_proto::v1::CommandInfo>,
    container: Option<mesos_proto::v1::ContainerInfo>,
    /// The call's field, for messages.
    field: &'static str,
}

const FIELD_SESSION: &str = "launch_nested_container_session";
const FIELD_NESTED: &str = "launch_nested_container";
const FIELD_CONTAINER: &str = "launch_container";

impl LaunchCall {
    fn new(
        field: &'static str,
        id: ContainerId,
        command: Option<mesos_proto::v1::CommandInfo>,
        container: Option<mesos_proto::v1::ContainerInfo>,
    ) -> LaunchCall {
        LaunchCall {
            id,
            command,
            container,
            field,
        }
    }
}

/// How a nested container is started: as a session (DEBUG class: the parent's sandbox as
/// working directory) or detached (DEFAULT class: a sandbox of its own under the parent's,
/// `containers/<id>`, holding its `stdout` and `stderr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Session,
    Detached,
}

/// Checks a launch and works out where and how its command runs.
async fn plan_launch(
    state: &HttpState,
    call: LaunchCall,
    class: Class,
) -> Result<(Launch, ContainerId, std::path::PathBuf), ApiError> {
    let LaunchCall {
        id,
        command,
        container,
        field,
    } = call;
    valid_id(&id, field)?;
    let Some(parent) = id.parent.as_deref().cloned() else {
        return Err(bad_request(format!(
            "Expecting '{field}.container_id.parent' to be present"
        )));
    };
    let Some(command) = command else {
        return Err(bad_request(format!(
            "Expecting '{field}.command' to be present"
        )));
    };
    let line = CommandLine::from_command(&command)
        .map_err(|e| bad_request(format!("'{field}.command' is invalid: {e}")))?;
    if let Some(container) = &container {
        if container.r#type() != container_info::Type::Mesos {
            return Err(bad_request("The provided ContainerInfo is not supported"));
        }
    }
    let tty = container
        .as_ref()
        .and_then(|c| c.tty_info.as_ref())
        .map(|t| {
            t.window_size
                .as_ref()
                .map(|w| (clamp_u16(w.rows), clamp_u16(w.columns)))
        });
    let parent_value = parent.value.clone();
    let parent_of = inspect(state, move |core: &Core| core.nested_parent(&parent_value))
        .await
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Agent is shutting down"))?
        .ok_or_else(|| {
            bad_request(format!(
                "Parent container {} does not exist",
                dotted(&parent)
            ))
        })?;
    let sandbox = match class {
        Class::Session => parent_of.sandbox.clone(),
        Class::Detached => parent_of.sandbox.join("containers").join(&id.value),
    };
    let own_env = command
        .environment
        .iter()
        .flat_map(|e| e.variables.iter())
        .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()));
    let runtime = match (parent_of.docker_container, state.docker.clone()) {
        (Some(container), Some(docker)) => Runtime::Docker {
            docker,
            container,
            cmd: std::iter::once(line.program.clone())
                .chain(line.argv.iter().skip(1).cloned())
                .collect(),
            env: own_env.map(|(k, v)| format!("{k}={v}")).collect(),
        },
        (Some(_), None) => {
            return Err(bad_request(
                "The parent's Docker container cannot be reached",
            ))
        }
        (None, _) => {
            let mut env = parent_of.env;
            if class == Class::Detached {
                env.insert("MESOS_SANDBOX".into(), sandbox.display().to_string());
            }
            env.extend(own_env);
            Runtime::Host {
                program: line.program,
                argv: line.argv,
                env,
                cwd: sandbox.clone(),
                user: parent_of.user,
            }
        }
    };
    let launch = Launch { id, runtime, tty };
    Ok((launch, parent, sandbox))
}

async fn launch_session(
    state: &HttpState,
    call: LaunchCall,
    media: Media,
) -> Result<Response, ApiError> {
    let (launch, parent, _) = plan_launch(state, call, Class::Session).await?;
    let (output, guard) = match state.nested.launch_session(launch).await {
        Ok(session) => session,
        // Mesos answers a launch of a container it already runs with 202 Accepted.
        Err(NestedError::Exists(_)) => return Ok(StatusCode::ACCEPTED.into_response()),
        Err(e) => return Err(not_found(e)),
    };
    tokio::spawn(watch_parent(state.clone(), parent));
    Ok(output_response(output, Some(guard), media))
}

/// LAUNCH_NESTED_CONTAINER (or LAUNCH_CONTAINER with a parent): runs until it ends or is
/// killed, its output in its sandbox's `stdout` and `stderr`.
async fn launch_detached(state: &HttpState, call: LaunchCall) -> Result<Response, ApiError> {
    let (launch, parent, sandbox) = plan_launch(state, call, Class::Detached).await?;
    match state.nested.launch_detached(launch, sandbox).await {
        Ok(()) => {}
        Err(NestedError::Exists(_)) => return Ok(StatusCode::ACCEPTED.into_response()),
        Err(e) => return Err(not_found(e)),
    }
    tokio::spawn(watch_parent(state.clone(), parent));
    Ok(StatusCode::OK.into_response())
}

fn clamp_u16(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Kills the containers nested in `parent` once the task running there is gone.
async fn watch_parent(state: HttpState, parent: ContainerId) {
    let key = dotted(&parent);
    loop {
        tokio::time::sleep(PARENT_CHECK).await;
        if state.nested.running_under(&key).is_empty() {
            return;
        }
        let value = parent.value.clone();
        let alive = inspect(&state, move |core: &Core| {
            core.nested_parent(&value).is_some()
        })
        .await
        .unwrap_or(false);
        if !alive {
            state.nested.destroy_under(&key);
            return;
        }
    }
}

fn attach_output(state: &HttpState, id: ContainerId, media: Media) -> Result<Response, ApiError> {
    valid_id(&id, "attach_container_output")?;
    let output = state.nested.attach_output(&id).map_err(not_found)?;
    Ok(output_response(output, None, media))
}

fn process_io_record(encoding: Encoding, message: &agent::ProcessIo) -> Bytes {
    mesos_common::recordio::encode(&encoding.encode(message))
}

fn data_record(stream: nested::Stream, data: Bytes) -> agent::ProcessIo {
    let kind = match stream {
        nested::Stream::Stdout => process_io::data::Type::Stdout,
        nested::Stream::Stderr => process_io::data::Type::Stderr,
    };
    agent::ProcessIo {
        r#type: Some(process_io::Type::Data as i32),
        data: Some(process_io::Data {
            r#type: Some(kind as i32),
            data: Some(data.to_vec()),
        }),
        control: None,
    }
}

fn heartbeat_record() -> agent::ProcessIo {
    agent::ProcessIo {
        r#type: Some(process_io::Type::Control as i32),
        data: None,
        control: Some(process_io::Control {
            r#type: Some(process_io::control::Type::Heartbeat as i32),
            tty_info: None,
            heartbeat: Some(process_io::control::Heartbeat {
                interval: Some(mesos_proto::v1::DurationInfo {
                    nanoseconds: HEARTBEAT.as_nanos() as i64,
                }),
            }),
        }),
    }
}

/// A 200 whose body is the container's output as RecordIO `ProcessIO` records, with a
/// HEARTBEAT record every [`HEARTBEAT`]; it ends with the output. A session's guard goes
/// with the body, so the container is killed when the body is dropped.
fn output_response(
    output: tokio::sync::mpsc::Receiver<nested::Output>,
    guard: Option<nested::SessionGuard>,
    media: Media,
) -> Response {
    let start = tokio::time::Instant::now() + HEARTBEAT;
    let heartbeat = tokio::time::interval_at(start, HEARTBEAT);
    let encoding = media.encoding;
    let records = futures::stream::unfold(
        (output, heartbeat, guard),
        move |(mut output, mut heartbeat, guard)| async move {
            let message = tokio::select! {
                chunk = output.recv() => data_record_of(chunk?),
                _ = heartbeat.tick() => heartbeat_record(),
            };
            let record = process_io_record(encoding, &message);
            Some((Ok::<_, Infallible>(record), (output, heartbeat, guard)))
        },
    );
    let mut response = Response::new(Body::from_stream(records));
    let headers = response.headers_mut();
    if media.streaming {
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(RECORDIO),
        );
        headers.insert(
            MESSAGE_CONTENT_TYPE,
            header::HeaderValue::from_static(encoding.content_type()),
        );
    } else {
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(encoding.content_type()),
        );
    }
    response
}

fn data_record_of((stream, data): nested::Output) -> agent::ProcessIo {
    data_record(stream, data)
}

#[allow(deprecated)] // WAIT_NESTED_CONTAINER is still answered
async fn wait(
    state: &HttpState,
    id: ContainerId,
    field: &str,
    deprecated: bool,
    encoding: Encoding,
) -> Result<Response, ApiError> {
    nested_id(&id, field)?;
    let ended = state.nested.wait(&id).await.map_err(not_found)?;
    let mut out = agent::Response::default();
    if deprecated {
        out.r#type = Some(response::Type::WaitNestedContainer as i32);
        out.wait_nested_container = Some(response::WaitNestedContainer {
            exit_status: Some(ended.status),
            ..Default::default()
        });
    } else {
        out.r#type = Some(response::Type::WaitContainer as i32);
        out.wait_container = Some(response::WaitContainer {
            exit_status: Some(ended.status),
            ..Default::default()
        });
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        encoding.encode(&out),
    )
        .into_response())
}

fn kill_container(
    state: &HttpState,
    id: ContainerId,
    signal: Option<i32>,
    field: &str,
) -> Result<Response, ApiError> {
    nested_id(&id, field)?;
    let signal = match signal {
        None => Signal::SIGKILL,
        Some(n) => Signal::try_from(n)
            .map_err(|_| bad_request(format!("'{field}.signal' {n} is not a signal")))?,
    };
    if !state.nested.kill(&id, signal) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "Container '{}' cannot be found (or is already killed)",
                dotted(&id)
            ),
        ));
    }
    Ok(StatusCode::OK.into_response())
}

/// ATTACH_CONTAINER_INPUT: a stream of `Call` records, the first naming the container,
/// the rest carrying `ProcessIO`. Answered 200 when the stream or the container ends.
pub async fn attach_input(state: HttpState, request: Request) -> Response {
    match attach_input_stream(state, request).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn attach_input_stream(state: HttpState, request: Request) -> Result<(), ApiError> {
    encoding::require_post(request.method())?;
    let headers = request.headers();
    let message_encoding =
        match media_type(headers, MESSAGE_CONTENT_TYPE).as_deref() {
            None => {
                return Err(bad_request(
                    "Expecting 'Message-Content-Type' to be set for streaming requests",
                ))
            }
            Some("application/json") => Encoding::Json,
            Some("application/x-protobuf") => Encoding::Protobuf,
            Some(_) => return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expecting 'Message-Content-Type' of application/json or application/x-protobuf",
            )),
        };
    let accept = encoding::response_encoding(headers)?;
    let streaming_accept = response_media(&strip_message_content_type(headers), accept)?.streaming;
    let deadline = request
        .extensions()
        .get::<mesos_common::serve::BodyDeadline>()
        .cloned();
    let mut body = request.into_body().into_data_stream();
    let mut records = RecordReader::new(message_encoding);
    let first = match records.next(&mut body).await? {
        Some(call) => call,
        None => return Err(bad_request("Received EOF while reading request body")),
    };
    // The first record names the container within the body timeout; the input after it
    // is a person typing, for as long as the session lasts.
    if let Some(deadline) = deadline {
        deadline.lift();
    }
    let kind = first.r#type();
    if kind != call::Type::AttachContainerInput {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Streaming 'Content-Type' {RECORDIO} is not supported for {} call",
                kind.as_str_name()
            ),
        ));
    }
    if streaming_accept {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Streaming response is not supported for ATTACH_CONTAINER_INPUT call",
        ));
    }
    let attach = first
        .attach_container_input
        .ok_or_else(|| bad_request("Expecting 'attach_container_input' to be present"))?;
    if attach.r#type() != call::attach_container_input::Type::ContainerId {
        return Err(bad_request(
            "Expecting 'attach_container_input.type' to be CONTAINER_ID",
        ));
    }
    let id = attach.container_id.unwrap_or_default();
    valid_id(&id, "attach_container_input")?;
    let input = state.nested.attach_input(&id).map_err(not_found)?;
    loop {
        let record = tokio::select! {
            record = records.next(&mut body) => record?,
            // The container ended: the rest of the input has nowhere to go.
            _ = input.closed() => return Ok(()),
        };
        let Some(call) = record else {
            return Ok(());
        };
        let Some(input_record) = input_of(call, input.tty)? else {
            continue;
        };
        if !input.send(input_record).await {
            return Ok(());
        }
    }
}

fn strip_message_content_type(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    headers.remove(MESSAGE_CONTENT_TYPE);
    headers
}

/// What one PROCESS_IO record asks of the container (None: nothing, e.g. a HEARTBEAT).
fn input_of(call: agent::Call, tty: bool) -> Result<Option<Input>, ApiError> {
    use process_io::{control, data};
    let Some(attach) = call.attach_container_input else {
        return Err(bad_request(
            "Expecting 'attach_container_input' to be present",
        ));
    };
    if attach.r#type() != call::attach_container_input::Type::ProcessIo {
        return Err(bad_request(format!(
            "Expecting 'attach_container_input.type' to be 'PROCESS_IO' instead of: '{}'",
            attach.r#type().as_str_name()
        )));
    }
    let message = attach.process_io.ok_or_else(|| {
        bad_request("Expecting 'attach_container_input.process_io' to be present")
    })?;
    match message.r#type() {
        process_io::Type::Unknown => Err(bad_request("'process_io.type' is unknown")),
        process_io::Type::Control => {
            let control = message
                .control
                .ok_or_else(|| bad_request("Expecting 'process_io.control' to be present"))?;
            match control.r#type() {
                control::Type::Unknown => Err(bad_request("'process_io.control.type' is unknown")),
                control::Type::TtyInfo => {
                    let size = control
                        .tty_info
                        .ok_or_else(|| {
                            bad_request("Expecting 'process_io.control.tty_info' to be present")
                        })?
                        .window_size
                        .ok_or_else(|| {
                            bad_request("Expecting 'tty_info.window_size' to be present")
                        })?;
                    Ok(Some(Input::Resize {
                        rows: clamp_u16(size.rows),
                        columns: clamp_u16(size.columns),
                    }))
                }
                control::Type::Heartbeat => Ok(None),
            }
        }
        process_io::Type::Data => {
            let data = message
                .data
                .ok_or_else(|| bad_request("Expecting 'process_io.data' to be present"))?;
            if data.r#type() != data::Type::Stdin {
                return Err(bad_request(
                    "Expecting 'process_io.data.type' to be 'STDIN'",
                ));
            }
            let bytes = data
                .data
                .ok_or_else(|| bad_request("Expecting 'process_io.data.data' to be present"))?;
            // Empty data is the end of input; with a TTY the client sends EOT instead.
            Ok(match (bytes.is_empty(), tty) {
                (true, false) => Some(Input::Eof),
                (true, true) => None,
                (false, _) => Some(Input::Data(Bytes::from(bytes))),
            })
        }
    }
}

/// Reads `Call` records off a streamed request body.
struct RecordReader {
    decoder: mesos_common::recordio::Decoder,
    encoding: Encoding,
    ready: std::collections::VecDeque<Bytes>,
}

impl RecordReader {
    fn new(encoding: Encoding) -> RecordReader {
        RecordReader {
            decoder: mesos_common::recordio::Decoder::default(),
            encoding,
            ready: Default::default(),
        }
    }

    /// The next call, or None at the end of the body.
    async fn next<S, E>(&mut self, body: &mut S) -> Result<Option<agent::Call>, ApiError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        loop {
            if let Some(record) = self.ready.pop_front() {
                let call: agent::Call = self.encoding.decode(&record).map_err(bad_request)?;
                return Ok(Some(call));
            }
            match body.next().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(bad_request(format!("Failed to read the request body: {e}")))
                }
                Some(Ok(chunk)) => {
                    let records = self
                        .decoder
                        .feed(&chunk)
                        .map_err(|e| bad_request(e.to_string()))?;
                    self.ready.extend(records);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
