//! One POST to a master's v1 API (`/api/v1/scheduler`, or the operator API `/api/v1`),
//! following a standby master's 307 to the leader.

use std::time::Duration;

use std::collections::VecDeque;

use bytes::Bytes;
use mesos_common::recordio::Decoder;
use prost::Message;
use prost_reflect::ReflectMessage;
use rand::Rng;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;

use super::codec::ContentType;
use super::credential::Credential;
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
    // TLS as LIBPROCESS_SSL_* says, verifying the master against the CA file.
    let mut builder = mesos_common::tls::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true);
    if dedicated {
        // The subscription owns its connection; nothing else may ever reuse it.
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .expect("an HTTP client with a validated TLS setup builds")
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
    /// Sent as HTTP Basic on every attempt, redirects included (they stay in the cluster).
    pub credential: Option<&'a Credential>,
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
        if let Some(credential) = request.credential {
            builder = credential.authorize(builder);
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

/// The events of a streaming answer (SUBSCRIBE on the scheduler or the operator API): a
/// chunked RecordIO body, each record one event in `encoding`. A stream silent for longer
/// than the caller's patience (its heartbeats missed) is given up.
pub struct EventStream {
    master: MasterAddress,
    response: reqwest::Response,
    encoding: ContentType,
    decoder: Decoder,
    pending: VecDeque<Bytes>,
}

impl EventStream {
    pub fn new(
        master: MasterAddress,
        response: reqwest::Response,
        encoding: ContentType,
        max_record_size: usize,
    ) -> Self {
        Self {
            master,
            response,
            encoding,
            decoder: Decoder::new(max_record_size),
            pending: VecDeque::new(),
        }
    }

    /// The master the stream comes from.
    pub fn master(&self) -> &MasterAddress {
        &self.master
    }

    /// The next event; waits at most `patience` for each chunk of the body.
    pub async fn next<M: Message + ReflectMessage + Default>(
        &mut self,
        patience: Duration,
    ) -> Result<M, SchedulerError> {
        let master = || self.master.clone();
        loop {
            if let Some(record) = self.pending.pop_front() {
                return self
                    .encoding
                    .decode(&record)
                    .map_err(|source| SchedulerError::Decode {
                        master: self.master.clone(),
                        source,
                    });
            }
            let chunk = match tokio::time::timeout(patience, self.response.chunk()).await {
                Err(_) => {
                    return Err(SchedulerError::HeartbeatTimeout {
                        master: master(),
                        seconds: patience.as_secs_f64(),
                    })
                }
                Ok(Err(source)) => {
                    return Err(SchedulerError::Http {
                        master: master(),
                        source,
                    })
                }
                Ok(Ok(None)) => return Err(SchedulerError::StreamClosed { master: master() }),
                Ok(Ok(Some(chunk))) => chunk,
            };
            let records = self
                .decoder
                .feed(&chunk)
                .map_err(|source| SchedulerError::RecordIo {
                    master: self.master.clone(),
                    source,
                })?;
            self.pending.extend(records);
        }
    }
}
