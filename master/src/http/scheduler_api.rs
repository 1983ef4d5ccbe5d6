//! `/api/v1/scheduler`: a framework's SUBSCRIBE (answered with its event stream) and its
//! other calls, decoded, validated and dispatched to the engine.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use mesos_proto::v1::scheduler::{self, call};
use tokio::sync::oneshot;

use crate::api::{error_response, read_request, unavailable};
use crate::engine::{
    CallError, Encoding, Engine, SubscribeRequest, Subscriber, HEARTBEAT_INTERVAL_SECS,
};
use crate::event_queue::event_queue;
use crate::handle::{Command, MasterHandle};

fn decode_call(encoding: Encoding, body: &[u8]) -> Result<scheduler::Call, String> {
    match encoding {
        Encoding::Json => mesos_proto::json::from_json_slice::<scheduler::Call>(body)
            .map_err(|e| format!("Failed to parse body into Call: {e}")),
        Encoding::Protobuf => mesos_proto::decode_checked::<scheduler::Call>(body)
            .map_err(|e| format!("Failed to parse body into Call: {e}")),
    }
}

/// Checks that the call carries what its type needs (Mesos's `validation::scheduler::call`).
fn validate_call(call: &scheduler::Call) -> Result<(), String> {
    let t = call::Type::try_from(call.r#type.unwrap_or(0)).unwrap_or(call::Type::Unknown);
    if t == call::Type::Unknown {
        return Err("Expecting 'type' to be present and known".to_string());
    }
    if t == call::Type::Subscribe {
        let Some(sub) = &call.subscribe else {
            return Err("Expecting 'subscribe' to be present".to_string());
        };
        if let (Some(fid), Some(info_id)) = (&call.framework_id, &sub.framework_info.id) {
            if fid.value != info_id.value {
                return Err("'framework_id' differs from 'subscribe.framework_info.id'".to_string());
            }
        }
        return Ok(());
    }
    if call
        .framework_id
        .as_ref()
        .is_none_or(|f| f.value.is_empty())
    {
        return Err("Expecting 'framework_id' to be present".to_string());
    }
    let present = match t {
        call::Type::Accept => call.accept.is_some(),
        call::Type::Decline => call.decline.is_some(),
        call::Type::AcceptInverseOffers => call.accept_inverse_offers.is_some(),
        call::Type::DeclineInverseOffers => call.decline_inverse_offers.is_some(),
        call::Type::Kill => call.kill.is_some(),
        call::Type::Shutdown => call.shutdown.is_some(),
        call::Type::Acknowledge => call.acknowledge.is_some(),
        call::Type::AcknowledgeOperationStatus => call.acknowledge_operation_status.is_some(),
        call::Type::Reconcile => call.reconcile.is_some(),
        call::Type::ReconcileOperations => call.reconcile_operations.is_some(),
        call::Type::Message => call.message.is_some(),
        call::Type::Request => call.request.is_some(),
        call::Type::UpdateFramework => call.update_framework.is_some(),
        call::Type::Teardown | call::Type::Revive | call::Type::Suppress => true,
        call::Type::Subscribe | call::Type::Unknown => true,
    };
    if !present {
        let name = t.as_str_name().to_ascii_lowercase();
        return Err(format!("Expecting '{name}' to be present"));
    }
    if let (Some(update), Some(fid)) = (&call.update_framework, &call.framework_id) {
        if update
            .framework_info
            .id
            .as_ref()
            .is_none_or(|id| id.value != fid.value)
        {
            return Err(
                "'update_framework.framework_info.id' must be set and equal 'framework_id'"
                    .to_string(),
            );
        }
    }
    if let Some(ack) = &call.acknowledge {
        if uuid::Uuid::from_slice(&ack.uuid).is_err() {
            return Err("'acknowledge.uuid' is not a valid UUID".to_string());
        }
    }
    Ok(())
}

/// Applies a validated, authorized call from a subscribed framework.
pub(crate) fn dispatch(
    engine: &mut Engine,
    framework_id: &str,
    call: scheduler::Call,
    now: Duration,
) -> Result<(), CallError> {
    match call.r#type() {
        call::Type::Teardown => engine.teardown(framework_id, now),
        call::Type::Accept => engine.accept(framework_id, call.accept.unwrap_or_default(), now),
        call::Type::Decline => {
            let d = call.decline.unwrap_or_default();
            engine.decline(framework_id, &d.offer_ids, d.filters.as_ref(), now)
        }
        call::Type::Revive => engine.revive(
            framework_id,
            call.revive.map(|r| r.roles).unwrap_or_default(),
        ),
        call::Type::Suppress => engine.suppress(
            framework_id,
            call.suppress.map(|s| s.roles).unwrap_or_default(),
        ),
        call::Type::Kill => engine.kill(framework_id, call.kill.unwrap_or_default()),
        call::Type::Acknowledge => {
            engine.acknowledge(framework_id, call.acknowledge.unwrap_or_default())
        }
        call::Type::Reconcile => {
            engine.reconcile(framework_id, call.reconcile.unwrap_or_default().tasks)
        }
        call::Type::Message => {
            engine.framework_message(framework_id, call.message.unwrap_or_default())
        }
        call::Type::UpdateFramework => {
            engine.update_framework(framework_id, call.update_framework.unwrap_or_default())?
        }
        // Accepted and ignored, as in Mesos: requests, inverse offers, operation feedback
        // (this master performs no offer operations that report status).
        call::Type::Request
        | call::Type::AcceptInverseOffers
        | call::Type::DeclineInverseOffers
        | call::Type::AcknowledgeOperationStatus
        | call::Type::ReconcileOperations => {}
        call::Type::Shutdown => {
            engine.shutdown_executor(framework_id, call.shutdown.unwrap_or_default())
        }
        call::Type::Subscribe => {
            return Err(CallError::BadRequest(
                "SUBSCRIBE must not carry a Mesos-Stream-Id".to_string(),
            ))
        }
        call::Type::Unknown => return Err(CallError::BadRequest("Unknown call type".to_string())),
    }
    Ok(())
}

pub(super) async fn scheduler_api(
    State(handle): State<MasterHandle>,
    request: Request,
) -> Response {
    // A standby sends schedulers to the leader before looking at the request, as Mesos.
    if let Some(response) = handle.not_leading_response("/api/v1/scheduler") {
        return response;
    }
    let headers = request.headers().clone();
    let principal =
        mesos_common::auth::http::principal_of(request.extensions()).and_then(|p| p.value);
    let (encoding, accept, body) = match read_request(request, handle.max_request_body).await {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    let mut call = match decode_call(encoding, &body) {
        Ok(c) => c,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    if let Err(e) =
        validate_call(&call).and_then(|()| check_principal(&mut call, principal.as_deref()))
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            format!("Failed to validate scheduler::Call: {e}"),
        );
    }
    let stream_id = headers
        .get("mesos-stream-id")
        .map(|v| v.to_str().unwrap_or("").to_string());

    if call.r#type() == call::Type::Subscribe {
        if stream_id.is_some() {
            return error_response(
                StatusCode::BAD_REQUEST,
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        return subscribe(handle, call, accept).await;
    }

    let Some(stream_id) = stream_id else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        );
    };
    let framework_id = call.framework_id.clone().unwrap_or_default().value;
    // UPDATE_FRAMEWORK is answered synchronously (200), every other call with 202.
    let success = if call.r#type() == call::Type::UpdateFramework {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let (reply, rx) = oneshot::channel();
    let cmd = Command::Call {
        framework_id,
        stream_id,
        principal,
        call: Box::new(call),
        reply,
    };
    if !handle.send(cmd).await {
        return unavailable();
    }
    match rx.await {
        Ok(Ok(())) => success.into_response(),
        Ok(Err(CallError::BadRequest(m))) => error_response(StatusCode::BAD_REQUEST, m),
        Ok(Err(CallError::Forbidden(m))) => error_response(StatusCode::FORBIDDEN, m),
        // Only SUBSCRIBE is refused with a stream.
        Ok(Err(CallError::Refused(m))) => error_response(StatusCode::FORBIDDEN, m),
        Err(_) => unavailable(),
    }
}

/// A SUBSCRIBE that authenticated must name the same principal in its FrameworkInfo,
/// or none, which the authenticated one then fills in (Mesos's rule).
fn check_principal(call: &mut scheduler::Call, principal: Option<&str>) -> Result<(), String> {
    if call.r#type() != call::Type::Subscribe {
        return Ok(());
    }
    let (Some(principal), Some(subscribe)) = (principal, call.subscribe.as_mut()) else {
        return Ok(());
    };
    let info = &mut subscribe.framework_info;
    match info.principal.as_deref() {
        None => {
            tracing::warn!(
                principal,
                "Setting 'principal' in FrameworkInfo because the framework authenticated \
                 with that principal but did not set it in FrameworkInfo"
            );
            info.principal = Some(principal.to_string());
            Ok(())
        }
        Some(own) if own == principal => Ok(()),
        Some(own) => Err(format!(
            "Authenticated principal '{principal}' does not match principal '{own}' set in `FrameworkInfo`"
        )),
    }
}

/// Mesos's answer to a SUBSCRIBE refused after it was read: 200, the stream's headers,
/// one ERROR event, and the end of the stream.
fn refused_stream(stream_id: &str, accept: Encoding, message: &str) -> Response {
    let event = crate::engine::error_event(message);
    let body = mesos_common::recordio::encode(&accept.encode(&event));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, accept.content_type())
        .header(
            "Mesos-Stream-Id",
            HeaderValue::from_str(stream_id).expect("uuid"),
        )
        .body(Body::from(body))
        .expect("valid response")
}

/// Reports a closed event stream to the master when the response body is dropped, which
/// happens both when the client goes away and when the master ends the stream.
struct StreamGuard {
    handle: MasterHandle,
    framework_id: Option<String>,
    stream_id: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let Some(framework_id) = self.framework_id.take() else {
            return;
        };
        let handle = self.handle.clone();
        let stream_id = std::mem::take(&mut self.stream_id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                handle
                    .send(Command::FrameworkStreamClosed {
                        framework_id,
                        stream_id,
                    })
                    .await;
            });
        }
    }
}

async fn subscribe(handle: MasterHandle, call: scheduler::Call, accept: Encoding) -> Response {
    let sub = call.subscribe.unwrap_or_default();
    let stream_id = uuid::Uuid::new_v4().to_string();
    let (tx, rx) = event_queue();
    let (reply, reply_rx) = oneshot::channel();
    let req = SubscribeRequest {
        info: sub.framework_info,
        suppressed_roles: sub.suppressed_roles,
        subscriber: Subscriber::new(stream_id.clone(), accept, tx.clone()),
    };
    if !handle
        .send(Command::Subscribe {
            req: Box::new(req),
            reply,
        })
        .await
    {
        return unavailable();
    }
    let framework_id = match reply_rx.await {
        Ok(Ok(id)) => id,
        Ok(Err(CallError::BadRequest(m))) => return error_response(StatusCode::BAD_REQUEST, m),
        Ok(Err(CallError::Forbidden(m))) => return error_response(StatusCode::FORBIDDEN, m),
        Ok(Err(CallError::Refused(m))) => return refused_stream(&stream_id, accept, &m),
        Err(_) => return unavailable(),
    };

    // Heartbeats come from here rather than the engine: they need no state, and a weak
    // sender lets the stream end as soon as the engine lets go of it.
    let weak = tx.downgrade();
    drop(tx);
    let heartbeat = accept.encode(&crate::engine::heartbeat_event());
    tokio::spawn(async move {
        let period = Duration::from_secs_f64(HEARTBEAT_INTERVAL_SECS);
        loop {
            tokio::time::sleep(period).await;
            let Some(tx) = weak.upgrade() else { break };
            if tx.push(mesos_common::recordio::encode(&heartbeat)).is_err() {
                break;
            }
        }
    });

    let guard = StreamGuard {
        handle,
        framework_id: Some(framework_id),
        stream_id: stream_id.clone(),
    };
    let stream = rx.map(move |chunk| {
        let _keep = &guard;
        Ok::<Bytes, Infallible>(chunk)
    });
    let content_type = accept.content_type();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(
            "Mesos-Stream-Id",
            HeaderValue::from_str(&stream_id).expect("uuid"),
        )
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("valid response")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;
    use crate::api::{request_encoding, response_encoding};

    fn call_json(s: &str) -> scheduler::Call {
        decode_call(Encoding::Json, s.as_bytes()).expect("decodes")
    }

    #[test]
    fn validation_names_the_missing_field() {
        let c = call_json(r#"{"type":"ACCEPT","framework_id":{"value":"f"}}"#);
        assert_eq!(
            validate_call(&c),
            Err("Expecting 'accept' to be present".into())
        );
        let c = call_json(r#"{"type":"DECLINE"}"#);
        assert_eq!(
            validate_call(&c),
            Err("Expecting 'framework_id' to be present".into())
        );
        let c = call_json(r#"{"type":"SUBSCRIBE"}"#);
        assert!(validate_call(&c).is_err());
        let c = call_json(r#"{"type":"REVIVE","framework_id":{"value":"f"}}"#);
        assert_eq!(validate_call(&c), Ok(()));
        assert!(decode_call(Encoding::Json, b"{not json").is_err());
        assert!(decode_call(Encoding::Json, br#"{"type":"NO_SUCH_CALL"}"#).is_err());
        assert!(decode_call(Encoding::Protobuf, &[0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn encodings_follow_headers() {
        let mut h = HeaderMap::new();
        assert!(request_encoding(&h).is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(request_encoding(&h).ok(), Some(Encoding::Json));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(request_encoding(&h).is_err());
        let mut h = HeaderMap::new();
        assert_eq!(response_encoding(&h).ok(), Some(Encoding::Json));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/x-protobuf"),
        );
        assert_eq!(response_encoding(&h).ok(), Some(Encoding::Protobuf));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(response_encoding(&h).is_err());
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/recordio"),
        );
        h.insert(
            "message-accept",
            HeaderValue::from_static("application/x-protobuf"),
        );
        assert_eq!(response_encoding(&h).ok(), Some(Encoding::Protobuf));
    }

    /// JSON documents of any shape, biased towards the field names of a Call so that the
    /// decoder's deeper paths are reached, not only its "not an object" answer.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let names = prop_oneof![
            Just("type".to_string()),
            Just("framework_id".to_string()),
            Just("value".to_string()),
            Just("accept".to_string()),
            Just("offer_ids".to_string()),
            Just("operations".to_string()),
            Just("launch".to_string()),
            Just("task_infos".to_string()),
            Just("resources".to_string()),
            Just("scalar".to_string()),
            Just("uuid".to_string()),
            Just("kill".to_string()),
            Just("subscribe".to_string()),
            Just("framework_info".to_string()),
            "[a-z_]{1,8}",
        ];
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::json!(f)),
            prop_oneof![
                Just("ACCEPT".to_string()),
                Just("SUBSCRIBE".to_string()),
                Just("SCALAR".to_string()),
                Just("LAUNCH".to_string()),
                ".{0,12}",
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(names.clone(), inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Fuzz target: any bytes, as JSON or protobuf, decode to a Call or an error.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            for encoding in [Encoding::Json, Encoding::Protobuf] {
                if let Ok(call) = decode_call(encoding, &bytes) {
                    let _ = validate_call(&call);
                }
            }
        }

        /// Fuzz target: JSON of Call-like shapes decodes or fails, and never panics.
        #[test]
        fn any_json_decodes_or_fails_cleanly(value in json_value()) {
            let text = value.to_string();
            if let Ok(call) = decode_call(Encoding::Json, text.as_bytes()) {
                let _ = validate_call(&call);
                // What decoded must survive the protobuf round trip too.
                let bytes = prost::Message::encode_to_vec(&call);
                let again = decode_call(Encoding::Protobuf, &bytes);
                proptest::prop_assert!(again.is_ok() || validate_call(&call).is_err());
            }
        }
    }
}
