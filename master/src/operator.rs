//! The operator API v1 (`POST /api/v1`). Being written; answers 501 until then.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::error_response;
use crate::server::MasterHandle;

pub(crate) async fn api(State(_handle): State<MasterHandle>, _request: Request) -> Response {
    error_response(StatusCode::NOT_IMPLEMENTED, "The operator API is not available yet")
}
