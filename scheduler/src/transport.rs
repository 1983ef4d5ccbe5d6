//! One POST to a master's v1 API (`/api/v1/scheduler`, or the operator API `/api/v1`),
//! following a standby master's 307 to the leader.

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;

use super::codec::ContentType;
use super::detector::MasterAddress;
use super::error::SchedulerError;

pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";
pub const OPERATOR_PATH: &str = "/api/v1";
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";

/// An error answer is a short text; waiting longer for it means it is not coming.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// A client that leaves redirects to us: a redirect tells us who the leader is, and the
/// scheduler must remember that rather than have it hidden.
pub fn client(dedicated: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true);
    if dedicated {
        // The subscription owns its connection; nothing else may ever reuse it.
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build().expect("a plain HTTP client always builds")
}

pub struct Request<'a> {
    /// [`SCHEDULER_PATH`] or [`OPERATOR_PATH`].
    pub path: &'static str,
    pub body: Bytes,
    pub content_type: ContentType,
    pub stream_id: Option<&'a str>,
    /// Bounds the wait for the response headers only: an event stream's body never ends.
    pub timeout: Duration,
    pub max_redirects: u32,
}

/// Sends the request and returns the master that finally answered, with its response.
/// Only 307 is handled here; every other status is left to the caller.
pub async fn post(
    client: &reqwest::Client,
    mut master: MasterAddress,
    request: Request<'_>,
) -> Result<(MasterAddress, reqwest::Response), SchedulerError> {
    let mut redirects = 0;
    loop {
        let mut builder = client
            .post(format!("{}{}", master.url(), request.path))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static(request.content_type.mime()),
            )
            .header(
                ACCEPT,
                HeaderValue::from_static(request.content_type.mime()),
            )
            .body(request.body.clone());
        if let Some(id) = request.stream_id {
            builder = builder.header(STREAM_ID_HEADER, id);
        }
        let response = match tokio::time::timeout(request.timeout, builder.send()).await {
            Err(_) => return Err(SchedulerError::Timeout { master }),
            Ok(Err(source)) => return Err(SchedulerError::Http { master, source }),
            Ok(Ok(response)) => response,
        };
        if response.status() != StatusCode::TEMPORARY_REDIRECT {
            return Ok((master, response));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let leader = MasterAddress::parse(&location).map_err(|_| SchedulerError::BadRedirect {
            master: master.clone(),
            location: location.clone(),
        })?;
        tracing::info!(from = %master, to = %leader, "following redirect to the leading master");
        master = leader;
        redirects += 1;
        if redirects > request.max_redirects {
            return Err(SchedulerError::TooManyRedirects { master });
        }
    }
}

/// Exponential backoff with jitter in the upper half, so that many clients that lost the
/// same master do not come back in lockstep.
pub fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let base = min
        .saturating_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX))
        .min(max);
    let half = base / 2;
    half + rand::thread_rng().gen_range(Duration::ZERO..=half)
}

/// Turns a non-success answer into an error carrying the master's explanation.
pub async fn status_error(master: MasterAddress, response: reqwest::Response) -> SchedulerError {
    let status = response.status().as_u16();
    let body = match tokio::time::timeout(ERROR_BODY_TIMEOUT, response.text()).await {
        Ok(Ok(text)) => text.trim().to_string(),
        Ok(Err(e)) => format!("(body unreadable: {e})"),
        Err(_) => "(body not received in time)".to_string(),
    };
    SchedulerError::Status {
        master,
        status,
        body,
    }
}
