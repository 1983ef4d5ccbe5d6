//! Following the leading master: find it (ZooKeeper or the configured list), ask it who
//! it is (GET_MASTER), then SUBSCRIBE to its operator event stream and turn every event
//! into a [`Change`]. Any failure starts over with the next master after a backoff; a
//! new leader in ZooKeeper cuts the wait short.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mesos_proto::v1::master::{call, event, Call, Event, Response};
use mesos_scheduler::transport::{self, backoff, OPERATOR_PATH};
use mesos_scheduler::{ContentType, Credential, Detector, MasterAddress, SchedulerError};
use reqwest::StatusCode;
use tokio::sync::mpsc;

use super::wire;
use crate::core::cluster::Change;

/// Where masters are found.
pub enum Masters {
    /// The leader as elected in ZooKeeper: the only master known then, as in Mesos-DNS.
    ZooKeeper(Arc<dyn Detector>),
    /// The configured `masters`, tried in turn; a standby redirects to the leader.
    List(Vec<MasterAddress>),
}

#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// Wait for response headers.
    pub request_timeout: Duration,
    /// Heartbeat intervals without a byte before the stream is given up.
    pub missed_heartbeats: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The configured `masters` (`host:port`), for the `master<N>` records.
    pub configured: Vec<String>,
    /// HTTP Basic towards the masters (`MesosAuthentication: "basic"`).
    pub credential: Option<Credential>,
}

enum Ended {
    /// Nobody listens to the changes any more.
    Closed,
    NewLeader,
    Failed(SchedulerError),
}

impl From<Result<(), SchedulerError>> for Ended {
    fn from(result: Result<(), SchedulerError>) -> Self {
        match result {
            Ok(()) => Ended::Closed,
            Err(e) => Ended::Failed(e),
        }
    }
}

const ENCODING: ContentType = ContentType::Protobuf;
const MAX_REDIRECTS: u32 = 5;
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Follows the masters until `changes` is closed.
pub async fn follow(masters: Masters, config: FollowConfig, changes: mpsc::Sender<Change>) {
    let mut failures: u32 = 0;
    let mut turn = 0usize;
    loop {
        let candidate = match &masters {
            Masters::ZooKeeper(detector) => detector.detect().await.map_err(SchedulerError::from),
            Masters::List(list) => {
                turn += 1;
                Ok(list[(turn - 1) % list.len()].clone())
            }
        };
        let mut streamed = false;
        let ended = match candidate {
            Ok(master) => {
                let session = session(master, &masters, &config, &changes, &mut streamed);
                match &masters {
                    Masters::ZooKeeper(detector) => tokio::select! {
                        result = session => Ended::from(result),
                        _ = detector.changed() => Ended::NewLeader,
                    },
                    Masters::List(_) => Ended::from(session.await),
                }
            }
            Err(e) => Ended::Failed(e),
        };
        match ended {
            _ if changes.is_closed() => return,
            Ended::Closed => return,
            Ended::NewLeader => {
                tracing::info!("a new master was elected; following it");
                failures = 0;
                continue;
            }
            Ended::Failed(error) => tracing::warn!(%error, "lost the master's event stream"),
        }
        if streamed {
            failures = 0;
        }
        let delay = backoff(config.backoff_min, config.backoff_max, failures);
        failures = failures.saturating_add(1);
        match &masters {
            Masters::ZooKeeper(detector) => tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = detector.changed() => failures = 0,
                _ = changes.closed() => return,
            },
            Masters::List(_) => tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = changes.closed() => return,
            },
        }
    }
}

fn operator_call(kind: call::Type) -> Bytes {
    let call = Call {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    Bytes::from(ENCODING.encode(&call))
}

async fn post(
    client: &reqwest::Client,
    master: MasterAddress,
    kind: call::Type,
    config: &FollowConfig,
) -> Result<(MasterAddress, reqwest::Response), SchedulerError> {
    let (master, response) = transport::post(
        client,
        master,
        transport::Request {
            path: OPERATOR_PATH,
            body: operator_call(kind),
            content_type: ENCODING,
            stream_id: None,
            timeout: config.request_timeout,
            max_redirects: MAX_REDIRECTS,
            credential: config.credential.as_ref(),
        },
    )
    .await?;
    if response.status() != StatusCode::OK {
        return Err(transport::status_error(master, response).await);
    }
    Ok((master, response))
}

/// One subscription: returns `Ok` only when nobody listens any more.
async fn session(
    master: MasterAddress,
    masters: &Masters,
    config: &FollowConfig,
    changes: &mpsc::Sender<Change>,
    streamed: &mut bool,
) -> Result<(), SchedulerError> {
    let client = transport::client(true);
    let (master, response) = post(&client, master, call::Type::GetMaster, config).await?;
    let body = response
        .bytes()
        .await
        .map_err(|source| SchedulerError::Http {
            master: master.clone(),
            source,
        })?;
    let answer: Response = ENCODING
        .decode(&body)
        .map_err(|source| SchedulerError::Decode {
            master: master.clone(),
            source,
        })?;
    let leader = answer
        .get_master
        .and_then(|g| g.master_info)
        .and_then(|info| wire::master_addr(&info));
    let known = match masters {
        Masters::ZooKeeper(_) => leader
            .iter()
            .map(|l| MasterAddress::new(l.ip.to_string(), l.port).to_string())
            .collect(),
        Masters::List(_) => config.configured.clone(),
    };
    if changes
        .send(Change::Masters {
            leader,
            masters: known,
        })
        .await
        .is_err()
    {
        return Ok(());
    }

    let (master, response) = post(&client, master, call::Type::Subscribe, config).await?;
    tracing::info!(%master, "following the master's operator event stream");
    let mut stream = transport::EventStream::new(
        master,
        response,
        ENCODING,
        mesos_common::recordio::DEFAULT_MAX_RECORD_SIZE,
    );
    let mut heartbeat = DEFAULT_HEARTBEAT;
    loop {
        let patience = heartbeat.saturating_mul(config.missed_heartbeats.max(1));
        let event: Event = stream.next(patience).await?;
        if event.r#type() == event::Type::Subscribed {
            *streamed = true;
            if let Some(s) = event
                .subscribed
                .as_ref()
                .and_then(|s| s.heartbeat_interval_seconds)
            {
                if s.is_finite() && s > 0.0 {
                    heartbeat = Duration::from_secs_f64(s);
                }
            }
        }
        if let Some(change) = wire::change(&event).await {
            if changes.send(change).await.is_err() {
                return Ok(());
            }
        }
    }
}
