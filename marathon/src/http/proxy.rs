//! A standby forwards API calls to the leader, as Marathon does, guarding against loops
//! with `X-Marathon-Via`.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{message, HttpState};

/// A request as it can be sent on.
pub struct Forward {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

const VIA: &str = "X-Marathon-Via";

pub async fn forward(state: &HttpState, leader: &str, request: &Forward) -> Response {
    let via = request
        .headers
        .get(VIA)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if via.split(',').any(|v| v.trim() == state.me) {
        return message(
            StatusCode::BAD_GATEWAY,
            format!("Proxy loop: this request already passed {via}"),
        );
    }
    let via = if via.is_empty() {
        state.me.clone()
    } else {
        format!("{via},{}", state.me)
    };
    let url = format!("{}://{leader}{}", state.config.https.scheme(), request.uri);
    let mut builder = state
        .http
        .request(request.method.clone(), &url)
        .header(VIA, via)
        .timeout(state.config.leader_proxy_read_timeout())
        .body(request.body.clone());
    for name in [header::CONTENT_TYPE, header::ACCEPT, header::AUTHORIZATION] {
        if let Some(v) = request.headers.get(&name) {
            builder = builder.header(name, v.clone());
        }
    }
    match builder.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut headers = HeaderMap::new();
            for name in [
                header::CONTENT_TYPE,
                header::LOCATION,
                header::HeaderName::from_static("marathon-deployment-id"),
                header::HeaderName::from_static("x-marathon-leader"),
            ] {
                if let Some(v) = answer.headers().get(&name) {
                    headers.insert(name, v.clone());
                }
            }
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            response.headers_mut().extend(headers);
            response
        }
        Err(e) => {
            let mut response = message(
                StatusCode::BAD_GATEWAY,
                format!("Could not reach the leading Marathon at {leader}: {e}"),
            );
            if let Ok(v) =
                HeaderValue::from_str(&format!("{}://{leader}", state.config.https.scheme()))
            {
                response.headers_mut().insert("X-Marathon-Leader", v);
            }
            response
        }
    }
}
