//! JSON or protobuf on the v1 HTTP APIs of master and agent (`/api/v1/scheduler`,
//! `/api/v1`, `/api/v1/executor`): the request's Content-Type picks the decoder, Accept the
//! encoder, with the status codes Mesos uses (405 not POST, 415 bad Content-Type, 406 bad
//! Accept, 413 too large, 400 undecodable body). Errors are JSON bodies
//! `{"code": .., "message": ..}`.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use prost_reflect::ReflectMessage;

/// How a message travels on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    pub fn encode<M: prost::Message + ReflectMessage>(self, message: &M) -> Bytes {
        match self {
            Encoding::Json => Bytes::from(mesos_proto::json::to_json_string(message)),
            Encoding::Protobuf => Bytes::from(message.encode_to_vec()),
        }
    }

    /// Decodes a call; protobuf must carry its required fields.
    pub fn decode<M: ReflectMessage + Default>(self, body: &[u8]) -> Result<M, String> {
        let failed = |e: &dyn std::fmt::Display| format!("Failed to parse body into Call: {e}");
        match self {
            Encoding::Json => mesos_proto::json::from_json_slice::<M>(body).map_err(|e| failed(&e)),
            Encoding::Protobuf => mesos_proto::decode_checked::<M>(body).map_err(|e| failed(&e)),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }
}

/// A refused request: its status and the message the JSON error body carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = error_response(self.status, self.message);
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        }
        response
    }
}

pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "code": status.as_u16(), "message": message.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// 405 unless the method is POST.
pub fn require_post(method: &Method) -> Result<(), ApiError> {
    if method == Method::POST {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Expecting a 'POST' request, received '{method}'"),
    ))
}

/// The request body's encoding, from Content-Type (415 if neither JSON nor protobuf).
pub fn request_encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' to be present",
        ));
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" => Ok(Encoding::Json),
        "application/x-protobuf" => Ok(Encoding::Protobuf),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Expecting 'Content-Type' of application/json or application/x-protobuf, got '{other}'"
            ),
        )),
    }
}

/// The response's encoding, from Accept (JSON when absent, 406 if nothing acceptable).
/// `application/recordio` asks for a stream whose records are typed by `Message-Accept`.
pub fn response_encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let accept = match headers.get(header::ACCEPT) {
        None => return Ok(Encoding::Json),
        Some(v) => v.to_str().unwrap_or("").to_ascii_lowercase(),
    };
    let message_accept = headers
        .get("message-accept")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_ascii_lowercase());
    accept
        .split(',')
        .find_map(|part| match part.split(';').next().unwrap_or("").trim() {
            "application/json" | "*/*" | "application/*" => Some(Encoding::Json),
            "application/x-protobuf" => Some(Encoding::Protobuf),
            "application/recordio" => match message_accept.as_deref() {
                Some(m) if m.contains("application/x-protobuf") => Some(Encoding::Protobuf),
                _ => Some(Encoding::Json),
            },
            _ => None,
        })
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!(
                    "Expecting 'Accept' to allow application/json or application/x-protobuf, got '{accept}'"
                ),
            )
        })
}

/// Reads a request body of at most `limit` bytes (413 beyond).
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than the limit of {limit} bytes"),
        )
    })
}

/// A router that answers every path with and without a trailing `/`, as Mesos's HTTP
/// layer does (it strips the `/` before matching). The path is rewritten before the
/// router sees it: `Router::layer` would run after routing, too late to change the match.
pub type TrailingSlashTolerant = tower_http::normalize_path::NormalizePath<axum::Router>;

pub fn tolerate_trailing_slash(router: axum::Router) -> TrailingSlashTolerant {
    tower_http::normalize_path::NormalizePath::trim_trailing_slash(router)
}
