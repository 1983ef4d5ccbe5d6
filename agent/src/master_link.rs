//! The agent's side of the master link: one bidirectional stream at a time, opened through a
//! [`MasterTransport`] (gRPC in production, channels in tests), reopened with a randomized
//! backoff whenever it breaks or the master falls silent. With `--master=zk://...` the
//! transport follows the election in ZooKeeper, and a newly elected master ends the current
//! stream (and any backoff) so that the agent re-registers with it at once.
//!
//! The link answers pings itself and watches for silence (no ping for
//! `ping_interval * max_ping_timeouts`); everything else goes to the agent core as
//! [`LinkEvent`]s. The core supplies the `Register` message for each new stream, so that a
//! reconnect always re-registers with the current tasks.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures::{Stream, StreamExt};
use mesos_common::zk::{self, Detected, LeaderDetector, ZkUrl};
use mesos_proto::internal::{
    agent_message, agent_service_client::AgentServiceClient, master_message, AgentMessage,
    MasterMessage, Pong,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

pub use crate::agent::LinkEvent;

/// Messages from the master, or why the stream ended.
pub type Inbound = Pin<Box<dyn Stream<Item = Result<MasterMessage, String>> + Send>>;

/// An open stream to the master.
pub struct Connection {
    pub outbound: mpsc::Sender<AgentMessage>,
    pub inbound: Inbound,
}

/// Opens streams to the master. `first` (the `Register`) must be the first message sent.
pub trait MasterTransport: Send + Sync + 'static {
    fn connect(
        &self,
        first: AgentMessage,
    ) -> impl Future<Output = Result<Connection, String>> + Send;

    /// Resolves when a master other than the one of the last `connect` was elected.
    /// A transport with one fixed master never resolves it.
    fn leader_changed(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// The gRPC transport: `AgentService.Connect` on the master's HTTP port (h2c), at a fixed
/// `host:port` or at whichever master leads the election of a `zk://` URL.
pub struct GrpcTransport {
    target: Target,
    /// `--credential`, presented on every stream as `authorization: Basic ...`.
    credential: Option<mesos_common::auth::Credential>,
}

enum Target {
    Fixed(String),
    Election {
        url: ZkUrl,
        /// Started by the first `connect`, which runs inside the agent's runtime.
        detector: OnceLock<LeaderDetector>,
        /// Id of the master the last `connect` went to.
        chosen: Mutex<Option<String>>,
    },
    Invalid(String),
}

/// ZooKeeper session timeout of the agent's detector (Mesos's `--zk_session_timeout`).
const ZK_SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one `connect` waits for an election result.
const DETECT_TIMEOUT: Duration = Duration::from_secs(10);

impl GrpcTransport {
    /// `master` is `host:port` or a `zk://` URL (already checked by the agent's config).
    pub fn new(master: String) -> GrpcTransport {
        let target = if master.starts_with("zk://") || master.starts_with("file://") {
            match ZkUrl::parse(&master) {
                Ok(url) => Target::Election {
                    url,
                    detector: OnceLock::new(),
                    chosen: Mutex::new(None),
                },
                Err(e) => Target::Invalid(e.to_string()),
            }
        } else {
            Target::Fixed(master)
        };
        GrpcTransport {
            target,
            credential: None,
        }
    }

    /// Presents `credential` to the master on every stream.
    pub fn with_credential(mut self, credential: Option<mesos_common::auth::Credential>) -> Self {
        self.credential = credential;
        self
    }

    /// `host:port` of the master to connect to now.
    async fn master(&self) -> Result<String, String> {
        match &self.target {
            Target::Fixed(master) => Ok(master.clone()),
            Target::Invalid(error) => Err(error.clone()),
            Target::Election {
                url,
                detector,
                chosen,
            } => {
                let detector =
                    detector.get_or_init(|| LeaderDetector::start(url.clone(), ZK_SESSION_TIMEOUT));
                let leader = detector
                    .leader_within(DETECT_TIMEOUT)
                    .await
                    .ok_or_else(|| {
                        format!("no leading master detected in ZooKeeper at {url} yet")
                    })?;
                *chosen.lock().unwrap_or_else(|e| e.into_inner()) = Some(leader.id.clone());
                let (host, port) = zk::master_host_port(&leader);
                Ok(format!("{host}:{port}"))
            }
        }
    }
}

const OUTBOUND_BUFFER: usize = 1024;

impl MasterTransport for GrpcTransport {
    async fn leader_changed(&self) {
        let Target::Election {
            detector, chosen, ..
        } = &self.target
        else {
            return std::future::pending().await;
        };
        let Some(detector) = detector.get() else {
            return std::future::pending().await;
        };
        let chosen = chosen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut detected = detector.subscribe();
        let _ = detected
            .wait_for(|d| matches!(d, Detected::Leader(info) if Some(&info.id) != chosen.as_ref()))
            .await;
    }

    async fn connect(&self, first: AgentMessage) -> Result<Connection, String> {
        let master = self.master().await?;
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{master}"))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20));
        // With LIBPROCESS_SSL_ENABLED the link is gRPC over TLS, the master checked
        // against the CA and this agent presenting its certificate.
        let channel = match mesos_common::tls::process() {
            Ok(Some(tls)) => {
                endpoint
                    .connect_with_connector(mesos_common::tls::Connector::new(tls.client_h2()))
                    .await
            }
            _ => endpoint.connect().await,
        }
        .map_err(|e| error_chain(&e))?;
        let mut client = AgentServiceClient::new(channel);
        let (outbound, rx) = mpsc::channel(OUTBOUND_BUFFER);
        // Queued before the call so that a master that waits for Register before it
        // answers the call does not wait forever.
        outbound.send(first).await.map_err(|e| e.to_string())?;
        let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        if let Some(c) = &self.credential {
            let value = mesos_common::auth::http::basic_header(&c.principal, &c.secret);
            let value = value
                .parse()
                .map_err(|_| "--credential: the principal or secret cannot be sent".to_string())?;
            request.metadata_mut().insert("authorization", value);
        }
        let response = client
            .connect(request)
            .await
            .map_err(|status| format!("{}: {}", status.code(), status.message()))?;
        let inbound = response
            .into_inner()
            .map(|item| item.map_err(|status| format!("{}: {}", status.code(), status.message())));
        Ok(Connection {
            outbound,
            inbound: Box::pin(inbound),
        })
    }
}

/// An error with its causes ("transport error: connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Timing of the link.
#[derive(Debug, Clone, Copy)]
pub struct LinkTiming {
    /// Base of the randomized reconnection backoff (`--registration_backoff_factor`).
    pub backoff_factor: Duration,
    /// Longest backoff between attempts.
    pub backoff_max: Duration,
    /// Silence after which the master is considered lost, until `Registered` says better.
    pub default_silence: Duration,
}

impl LinkTiming {
    pub fn new(backoff_factor: Duration) -> Self {
        LinkTiming {
            backoff_factor,
            backoff_max: Duration::from_secs(60),
            default_silence: Duration::from_secs(75),
        }
    }
}

/// Keeps a stream to the master open until `events` closes (the core stopped).
pub async fn run_link<T: MasterTransport>(
    transport: T,
    timing: LinkTiming,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut failures: u32 = 0;
    loop {
        let (reply, register) = oneshot::channel();
        if events.send(LinkEvent::NeedRegister(reply)).await.is_err() {
            return;
        }
        let Ok(register) = register.await else {
            return;
        };
        match transport.connect(register).await {
            Ok(connection) => {
                failures = 0;
                let outbound = connection.outbound.clone();
                if events.send(LinkEvent::Connected(outbound)).await.is_err() {
                    return;
                }
                let reason = tokio::select! {
                    reason = pump(connection, timing, &events) => reason,
                    () = transport.leader_changed() => "a new master was elected".to_string(),
                };
                info!(reason, "lost the connection to the master; reconnecting");
                if events.send(LinkEvent::Disconnected).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if failures == 0 {
                    warn!(error, "cannot reach the master; retrying");
                } else {
                    debug!(error, attempt = failures + 1, "cannot reach the master");
                }
                failures = failures.saturating_add(1);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff(timing, failures)) => {}
            () = transport.leader_changed() => failures = 0,
        }
    }
}

/// A random delay in `[0, min(factor * 2^failures, max)]`, as Mesos agents back off.
fn backoff(timing: LinkTiming, failures: u32) -> Duration {
    let ceiling = timing
        .backoff_factor
        .saturating_mul(1u32 << failures.min(16))
        .min(timing.backoff_max);
    ceiling.mul_f64(rand::random::<f64>())
}

/// Forwards one stream's messages until it ends; returns why it ended.
async fn pump(
    mut connection: Connection,
    timing: LinkTiming,
    events: &mpsc::Sender<LinkEvent>,
) -> String {
    let mut silence = timing.default_silence;
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(silence, connection.inbound.next()) => next,
            () = events.closed() => return "the agent is stopping".to_string(),
        };
        let message = match next {
            Err(_) => return format!("no message from the master for {silence:?}"),
            Ok(None) => return "the master closed the stream".to_string(),
            Ok(Some(Err(error))) => return error,
            Ok(Some(Ok(message))) => message,
        };
        match &message.message {
            Some(master_message::Message::Ping(ping)) => {
                let pong = AgentMessage {
                    message: Some(agent_message::Message::Pong(Pong { seq: ping.seq })),
                };
                if connection.outbound.send(pong).await.is_err() {
                    return "the stream to the master is closed".to_string();
                }
                continue;
            }
            Some(master_message::Message::Registered(registered)) => {
                let interval = registered.ping_interval_seconds.unwrap_or(15.0);
                let timeouts = registered.max_ping_timeouts.unwrap_or(5).max(1);
                if interval.is_finite() && interval > 0.0 {
                    silence = Duration::from_secs_f64(interval * f64::from(timeouts));
                }
            }
            _ => {}
        }
        if events
            .send(LinkEvent::Message(Box::new(message)))
            .await
            .is_err()
        {
            return "the agent is stopping".to_string();
        }
    }
}

/// An in-memory transport for tests: each `connect` hands the test a
/// [`MemoryConnection`] that plays the master.
pub mod memory {
    use super::*;

    /// The master's end of one stream.
    pub struct MemoryConnection {
        pub from_agent: mpsc::Receiver<AgentMessage>,
        pub to_agent: mpsc::Sender<Result<MasterMessage, String>>,
    }

    impl MemoryConnection {
        pub async fn recv(&mut self) -> Option<AgentMessage> {
            self.from_agent.recv().await
        }

        pub async fn send(&self, message: master_message::Message) {
            let _ = self
                .to_agent
                .send(Ok(MasterMessage {
                    message: Some(message),
                }))
                .await;
        }
    }

    /// Hands each new connection to the receiver returned by [`pair`].
    pub struct MemoryTransport {
        connections: mpsc::Sender<MemoryConnection>,
    }

    /// Creates a transport and the receiver of the connections it opens.
    pub fn pair() -> (MemoryTransport, mpsc::Receiver<MemoryConnection>) {
        let (connections, accepted) = mpsc::channel(16);
        (MemoryTransport { connections }, accepted)
    }

    impl MasterTransport for MemoryTransport {
        async fn connect(&self, first: AgentMessage) -> Result<Connection, String> {
            let (outbound, from_agent) = mpsc::channel(OUTBOUND_BUFFER);
            let (to_agent, inbound) = mpsc::channel(OUTBOUND_BUFFER);
            outbound.send(first).await.map_err(|e| e.to_string())?;
            self.connections
                .send(MemoryConnection {
                    from_agent,
                    to_agent,
                })
                .await
                .map_err(|_| "no master".to_string())?;
            Ok(Connection {
                outbound,
                inbound: Box::pin(tokio_stream::wrappers::ReceiverStream::new(inbound)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let timing = LinkTiming::new(Duration::from_secs(1));
        for failures in 0..40 {
            let delay = backoff(timing, failures);
            assert!(delay <= Duration::from_secs(60));
            if failures == 0 {
                assert!(delay <= Duration::from_secs(1));
            }
        }
    }

    #[tokio::test]
    async fn pings_are_answered_and_silence_reconnects() {
        let (transport, mut accepted) = memory::pair();
        let timing = LinkTiming {
            backoff_factor: Duration::from_millis(1),
            backoff_max: Duration::from_millis(5),
            default_silence: Duration::from_secs(60),
        };
        let (events_tx, mut events) = mpsc::channel(16);
        let link = tokio::spawn(run_link(transport, timing, events_tx));
        let register = AgentMessage {
            message: Some(agent_message::Message::Pong(Pong { seq: 0 })),
        };
        let Some(LinkEvent::NeedRegister(reply)) = events.recv().await else {
            panic!("expected NeedRegister");
        };
        reply.send(register.clone()).unwrap();
        let mut conn = accepted.recv().await.unwrap();
        assert_eq!(conn.recv().await, Some(register.clone()));
        assert!(matches!(events.recv().await, Some(LinkEvent::Connected(_))));

        conn.send(master_message::Message::Ping(mesos_proto::internal::Ping {
            seq: 7,
        }))
        .await;
        let pong = conn.recv().await.unwrap();
        assert_eq!(
            pong.message,
            Some(agent_message::Message::Pong(Pong { seq: 7 }))
        );
        // A Registered with a tiny ping interval makes the silent master lost quickly.
        conn.send(master_message::Message::Registered(
            mesos_proto::internal::Registered {
                agent_id: mesos_proto::v1::AgentId { value: "a".into() },
                master_info: Default::default(),
                ping_interval_seconds: Some(0.05),
                max_ping_timeouts: Some(2),
            },
        ))
        .await;
        assert!(matches!(events.recv().await, Some(LinkEvent::Message(_))));
        assert!(matches!(events.recv().await, Some(LinkEvent::Disconnected)));
        let Some(LinkEvent::NeedRegister(reply)) = events.recv().await else {
            panic!("expected a new registration");
        };
        reply.send(register.clone()).unwrap();
        let mut again = accepted.recv().await.unwrap();
        assert_eq!(again.recv().await, Some(register));
        drop(events);
        link.await.unwrap();
    }
}
