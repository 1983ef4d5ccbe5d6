//! The gRPC edge towards agents: each agent holds one bidirectional `Connect` stream.
//! The first message must be `Register`; after that, messages are relayed to the engine
//! tagged with the agent's id and this connection's number, so that a stale stream
//! closing after a reconnect cannot disconnect the agent's newer one.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use mesos_proto::internal::{
    self, agent_message, agent_service_server::AgentService,
    agent_service_server::AgentServiceServer, master_message,
};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

use crate::server::{Command, MasterHandle};

/// Messages queued towards one agent before it counts as stuck.
const AGENT_QUEUE: usize = 16_384;
/// How long a new stream may take to send its Register.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

struct Link {
    handle: MasterHandle,
    next_conn: Arc<AtomicU64>,
}

pub(crate) fn router(handle: MasterHandle) -> axum::Router {
    let service = AgentServiceServer::new(Link {
        handle,
        next_conn: Arc::new(AtomicU64::new(1)),
    })
    .max_decoding_message_size(64 * 1024 * 1024);
    // Only the service's own path: tonic's catch-all fallback would answer every unknown
    // HTTP path with a 200 gRPC "unimplemented" instead of a 404.
    axum::Router::new().route_service("/mesos.internal.AgentService/Connect", service)
}

type MasterStream = Pin<Box<dyn Stream<Item = Result<internal::MasterMessage, Status>> + Send>>;

#[tonic::async_trait]
impl AgentService for Link {
    type ConnectStream = MasterStream;

    async fn connect(
        &self,
        request: Request<Streaming<internal::AgentMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
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
        let agent_id = match reply_rx.await {
            Ok(Ok(id)) => id,
            Ok(Err(message)) => {
                warn!(%message, "agent registration refused");
                let refused = internal::MasterMessage {
                    message: Some(master_message::Message::Refused(internal::Refused {
                        message,
                    })),
                };
                let stream = futures::stream::iter([Ok(refused)]);
                return Ok(Response::new(Box::pin(stream)));
            }
            Err(_) => return Err(Status::unavailable("master is shutting down")),
        };
        // The engine holds the sender; ours only keeps the stream open until then.
        drop(tx);

        let handle = self.handle.clone();
        tokio::spawn(async move {
            loop {
                match inbound.next().await {
                    Some(Ok(message)) => {
                        let cmd = Command::AgentMessage {
                            agent_id: agent_id.clone(),
                            message,
                        };
                        if !handle.send(cmd).await {
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        info!(agent_id, error = %e, "agent stream failed");
                        break;
                    }
                    None => break,
                }
            }
            handle
                .send(Command::AgentDisconnected { agent_id, conn_id })
                .await;
        });

        let outbound = ReceiverStream::new(rx).map(|message| Ok(*message));
        Ok(Response::new(Box::pin(outbound)))
    }
}
