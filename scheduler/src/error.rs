use super::codec::CodecError;
use super::detector::{DetectorError, MasterAddress};
use mesos_common::recordio::RecordIoError;

/// Failures of the scheduler library. Call errors ([`SchedulerError::Status`],
/// [`SchedulerError::Http`], [`SchedulerError::NotSubscribed`]) concern one request; the
/// subscription loop turns the others into `Disconnected` events and retries.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The master answered with an unexpected status; `body` is its explanation.
    #[error("master {master} answered {status}: {body}")]
    Status {
        master: MasterAddress,
        status: u16,
        body: String,
    },
    #[error("request to master {master} failed: {source}")]
    Http {
        master: MasterAddress,
        #[source]
        source: reqwest::Error,
    },
    #[error("request to master {master} timed out")]
    Timeout { master: MasterAddress },
    #[error("master {master} redirected to an invalid location '{location}'")]
    BadRedirect {
        master: MasterAddress,
        location: String,
    },
    #[error("too many redirects, last to {master}")]
    TooManyRedirects { master: MasterAddress },
    #[error("master {master} did not send a Mesos-Stream-Id header")]
    MissingStreamId { master: MasterAddress },
    /// A call was made before a subscription was established (or after it ended).
    #[error("not subscribed to a master")]
    NotSubscribed,
    #[error("event stream from master {master}: {source}")]
    RecordIo {
        master: MasterAddress,
        #[source]
        source: RecordIoError,
    },
    #[error("undecodable event from master {master}: {source}")]
    Decode {
        master: MasterAddress,
        #[source]
        source: CodecError,
    },
    #[error("master {master} closed the event stream")]
    StreamClosed { master: MasterAddress },
    #[error("no event from master {master} for {seconds:.1}s (heartbeats missed)")]
    HeartbeatTimeout { master: MasterAddress, seconds: f64 },
    #[error(transparent)]
    Detector(#[from] DetectorError),
}
