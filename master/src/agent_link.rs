//! The gRPC edge towards agents: each agent holds one bidirectional `Connect` stream.
//! The first message must be `Register`; after that, messages are relayed to the engine
//! tagged with the agent's id and this connection's number, so that a stale stream
//! closing after a reconnect cannot disconnect the agent's newer one.
//!
//! With `--authenticate_agents` the call must carry the agent's `--credential` as
//! `authorization: Basic ...` metadata; an agent without it, or with a wrong one, is
//! refused (and stops, as a Mesos agent whose authentication is refused does). The
//! `register_agents` ACL is checked against the principal it authenticated as.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use mesos_common::auth::credentials::{self, Credential};
use mesos_common::auth::{Acls, Action, Object};
use mesos_proto::internal::{
    self, agent_message, agent_service_server::AgentService,
    agent_service_server::AgentServiceServer, master_message,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::PollSender;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

use crate::handle::{Command, MasterHandle};
use crate::security::Security;

/// Messages queued towards one agent before it counts as stuck.
const AGENT_QUEUE: usize = 16_384;
/// How long a new stream may take to send its Register.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

struct Link {
    handle: MasterHandle,
    next_conn: Arc<AtomicU64>,
    /// Credentials an agent must present, with `--authenticate_agents`.
    credentials: Option<Arc<Vec<Credential>>>,
    acls: Arc<Acls>,
}

pub(crate) fn router(handle: MasterHandle, security: &Security) -> axum::Router {
    let service = AgentServiceServer::new(Link {
        handle,
        next_conn: Arc::new(AtomicU64::new(1)),
        credentials: security.agent_credentials.clone(),
        acls: security.acls.clone(),
    })
    .max_decoding_message_size(64 * 1024 * 1024);
    // Only the service's own path: tonic's catch-all fallback would answer every unknown
    // HTTP path with a 200 gRPC "unimplemented" instead of a 404.
    // The agent's messages are one stream for as long as it stays connected: no body
    // deadline (the first message has REGISTER_TIMEOUT, pings find dead links).
    axum::Router::new()
        .route_service("/mesos.internal.AgentService/Connect", service)
        .layer(axum::middleware::from_fn(
            mesos_common::serve::streaming_bodies,
        ))
}

type MasterStream = Pin<Box<dyn Stream<Item = Result<internal::MasterMessage, Status>> + Send>>;

#[tonic::async_trait]
impl AgentService for Link {
    type ConnectStream = MasterStream;

    async fn connect(
        &self,
        request: Request<Streaming<internal::AgentMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(mesos_common::auth::http::parse_basic);
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(REGISTER_TIMEOUT, inbound.next())
            .await
            .map_err(|_| Status::deadline_exceeded("no Register within 30s"))?
            .ok_or_else(|| Status::invalid_argument("stream closed before Register"))?
            .map_err(|e| Status::invalid_argument(format!("bad first message: {e}")))?;
        let Some(agent_message::Message::Register(register)) = first.message else {
            return Err(Status::invalid_argument(
                "the first message on an agent stream must be Register",
            ));
        };

        if let Err(message) = self.admit(presented, &register) {
            let peer = register.http_address.clone().unwrap_or_default();
            warn!(agent = %peer, hostname = %register.agent_info.hostname, %message, "refusing registration of agent");
            return Ok(refused(message));
        }

        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(AGENT_QUEUE);
        let (reply, reply_rx) = oneshot::channel();
        let sent = self
            .handle
            .send(Command::AgentConnected {
                conn_id,
                register: Box::new(register),
                tx: tx.clone(),
                reply,
            })
            .await;
        if !sent {
            return Err(Status::unavailable("master is shutting down"));
        }
        let (agent_id, liveness) = match reply_rx.await {
            Ok(Ok(registered)) => registered,
            Ok(Err(message)) => {
                warn!(%message, "agent registration refused");
                return Ok(refused(message));
            }
            Err(_) => return Err(Status::unavailable("master is shutting down")),
        };
        // The engine holds the sender; ours only keeps the stream open until then.
        drop(tx);
        Ok(Response::new(Box::pin(AgentStream {
            agent_id,
            conn_id,
            liveness,
            inbound: Some(inbound),
            outbound: rx,
            actor: PollSender::new(self.handle.commands()),
            pending: None,
            disconnect_sent: false,
        })))
    }
}

impl Link {
    /// Authentication (`--authenticate_agents`) and the `register_agents` ACL.
    fn admit(
        &self,
        presented: Option<(String, String)>,
        register: &internal::Register,
    ) -> Result<(), String> {
        let principal = match (&self.credentials, &presented) {
            (Some(known), Some((principal, secret))) => {
                match credentials::check(known, principal, secret) {
                    Some(c) => Some(c.principal.clone()),
                    None => {
                        return Err(format!(
                            "Master refused authentication of principal '{principal}': \
                             wrong credential (see the agent's --credential)"
                        ))
                    }
                }
            }
            (Some(_), None) => {
                return Err(
                    "Master requires agents to authenticate (--authenticate_agents); \
                     start the agent with --credential"
                        .to_string(),
                )
            }
            // Without --authenticate_agents a credential is not checked, and names nobody.
            (None, _) => None,
        };
        if !self
            .acls
            .approved(Action::RegisterAgents, principal.as_deref(), Object::Any)
        {
            let resources =
                mesos_common::wire::resources_from_proto(&register.agent_info.resources)
                    .map(|r| r.to_string())
                    .unwrap_or_default();
            return Err(format!(
                "Not authorized to register agent providing resources '{resources}' {}",
                match &principal {
                    Some(p) => format!("with principal '{p}'"),
                    None => "without a principal".to_string(),
                }
            ));
        }
        Ok(())
    }
}

/// The answer to a refused agent: one `Refused`, then the end of the stream.
fn refused(message: String) -> Response<MasterStream> {
    let refused = internal::MasterMessage {
        message: Some(master_message::Message::Refused(internal::Refused {
            message,
        })),
    };
    Response::new(Box::pin(futures::stream::iter([Ok(refused)])))
}

/// One agent's stream both ways, polled by the task hyper already runs for the HTTP/2
/// stream: it relays what the agent sends to the actor, and yields what the engine queued
/// for the agent. A relay task of its own per agent cost ~2.3 KB per connected agent.
struct AgentStream {
    agent_id: String,
    conn_id: u64,
    /// Cleared here when a pong comes, without bothering the actor.
    liveness: Arc<AtomicBool>,
    /// None once the agent's side has ended.
    inbound: Option<Streaming<internal::AgentMessage>>,
    outbound: mpsc::Receiver<Box<internal::MasterMessage>>,
    actor: PollSender<Command>,
    /// A command read from the agent, waiting for room in the actor's queue.
    pending: Option<Command>,
    /// `AgentDisconnected` went to the actor (or is `pending`).
    disconnect_sent: bool,
}

impl AgentStream {
    /// Moves what the agent sent to the actor until either side has to wait (the waker
    /// of `cx` is then registered with it).
    fn relay(&mut self, cx: &mut Context<'_>) {
        loop {
            if self.pending.is_some() {
                match self.actor.poll_reserve(cx) {
                    Poll::Ready(Ok(())) => {
                        let cmd = self.pending.take().expect("checked");
                        if self.actor.send_item(cmd).is_err() {
                            return;
                        }
                    }
                    // The actor is gone: the master is stopping.
                    Poll::Ready(Err(_)) => {
                        self.pending = None;
                        self.inbound = None;
                        return;
                    }
                    Poll::Pending => return,
                }
            }
            let Some(inbound) = self.inbound.as_mut() else {
                return;
            };
            match Pin::new(inbound).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    if matches!(message.message, Some(agent_message::Message::Pong(_))) {
                        self.liveness.store(false, Ordering::Relaxed);
                        continue;
                    }
                    self.pending = Some(Command::AgentMessage {
                        agent_id: self.agent_id.clone(),
                        message: Box::new(message),
                    });
                }
                Poll::Ready(end) => {
                    if let Some(Err(e)) = end {
                        info!(agent_id = %self.agent_id, error = %e, "agent stream failed");
                    }
                    self.inbound = None;
                    self.pending = Some(self.disconnected());
                    self.disconnect_sent = true;
                }
                Poll::Pending => return,
            }
        }
    }

    fn disconnected(&self) -> Command {
        Command::AgentDisconnected {
            agent_id: self.agent_id.clone(),
            conn_id: self.conn_id,
        }
    }
}

impl Stream for AgentStream {
    type Item = Result<internal::MasterMessage, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.relay(cx);
        this.outbound
            .poll_recv(cx)
            .map(|message| message.map(|m| Ok(*m)))
    }
}

impl Drop for AgentStream {
    /// The HTTP/2 stream went away (connection closed, or the engine ended it) while the
    /// agent's side was still open, or before its end reached the actor: tell the engine,
    /// which ignores it if a newer connection of the agent has taken over.
    fn drop(&mut self) {
        let undelivered = matches!(self.pending, Some(Command::AgentDisconnected { .. }));
        if self.disconnect_sent && !undelivered {
            return;
        }
        let Some(tx) = self.actor.get_ref().cloned() else {
            return;
        };
        let cmd = self.disconnected();
        if let Err(mpsc::error::TrySendError::Full(cmd)) = tx.try_send(cmd) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = tx.send(cmd).await;
                });
            }
        }
    }
}
