//! What the scheduler API and the operator API share at the HTTP edge: the negotiation
//! every v1 call goes through, and the JSON error bodies of refusals.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

use crate::engine::Encoding;

pub(crate) use mesos_common::api::error_response;
pub(crate) use mesos_common::api::{request_encoding, response_encoding};

/// The negotiation every v1 call goes through: POST only, a known Content-Type, an
/// acceptable Accept, a body within the limit. Returns (request encoding, response
/// encoding, body).
pub(crate) async fn read_request(
    request: Request,
    limit: usize,
) -> Result<(Encoding, Encoding, Bytes), mesos_common::api::ApiError> {
    mesos_common::api::require_post(request.method())?;
    let encoding = request_encoding(request.headers())?;
    let accept = response_encoding(request.headers())?;
    let body = mesos_common::api::read_body(request.into_body(), limit).await?;
    Ok((encoding, accept, body))
}

/// The answer to a request that came while the master stops.
pub(crate) fn unavailable() -> Response {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down")
}
