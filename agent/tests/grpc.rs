//! The real gRPC link against a minimal tonic master that starts late.

use std::pin::Pin;
use std::time::Duration;

use clap::Parser;
use futures::Stream;
use mesos_proto::internal::agent_service_server::{AgentService, AgentServiceServer};
use mesos_proto::internal::{
    agent_message, master_message, AgentMessage, MasterMessage, Ping, Register, Registered,
};
use mesos_proto::v1::{AgentId, MasterInfo};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;

/// What the fake master saw on a stream.
#[allow(clippy::large_enum_variant)] // a handful per test
#[derive(Debug)]
enum Seen {
    Register(Register),
    Pong(u64),
}

struct FakeMaster {
    seen: mpsc::UnboundedSender<Seen>,
}

#[tonic::async_trait]
impl AgentService for FakeMaster {
    type ConnectStream =
        Pin<Box<dyn Stream<Item = Result<MasterMessage, tonic::Status>> + Send + 'static>>;

    async fn connect(
        &self,
        request: tonic::Request<tonic::Streaming<AgentMessage>>,
    ) -> Result<tonic::Response<Self::ConnectStream>, tonic::Status> {
        let mut inbound = request.into_inner();
        let seen = self.seen.clone();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(Ok(message)) = inbound.next().await {
                match message.message {
                    Some(agent_message::Message::Register(register)) => {
                        let _ = seen.send(Seen::Register(register));
                        let registered = Registered {
                            agent_id: AgentId {
                                value: "m-S7".into(),
                            },
                            master_info: MasterInfo {
                                id: "m".into(),
                                ..Default::default()
                            },
                            ping_interval_seconds: Some(1.0),
                            max_ping_timeouts: Some(3),
                        };
                        for message in [
                            master_message::Message::Registered(registered),
                            master_message::Message::Ping(Ping { seq: 42 }),
                        ] {
                            let _ = tx
                                .send(Ok(MasterMessage {
                                    message: Some(message),
                                }))
                                .await;
                        }
                    }
                    Some(agent_message::Message::Pong(pong)) => {
                        let _ = seen.send(Seen::Pong(pong.seq));
                    }
                    _ => {}
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

#[tokio::test]
async fn registers_over_grpc_once_the_master_is_up() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let supervisor_dir = std::path::Path::new(env!("CARGO_BIN_EXE_mesos-agent"))
        .parent()
        .unwrap()
        .to_path_buf();
    let config = mesos_agent::Config::try_parse_from([
        "mesos-agent".to_string(),
        format!("--master=127.0.0.1:{port}"),
        "--ip=127.0.0.1".to_string(),
        format!("--work_dir={}", dir.path().display()),
        format!("--launcher_dir={}", supervisor_dir.display()),
        "--registration_backoff_factor=50ms".to_string(),
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(mesos_agent::run(listener, config, async move {
        let _ = stopped.await;
    }));

    // The master is unreachable for a while.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let master_listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AgentServiceServer::new(FakeMaster { seen: seen_tx }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                master_listener,
            )),
    );

    let wait = Duration::from_secs(20);
    let Some(Seen::Register(register)) = tokio::time::timeout(wait, seen.recv()).await.unwrap()
    else {
        panic!("expected Register first");
    };
    assert!(register.agent_info.id.is_none());
    assert_eq!(register.version.as_deref(), Some(mesos_agent::VERSION));
    let pong = tokio::time::timeout(wait, seen.recv()).await.unwrap();
    assert!(matches!(pong, Some(Seen::Pong(42))), "{pong:?}");

    // Registered was handled: the id is checkpointed.
    tokio::time::timeout(wait, async {
        while std::fs::read_link(dir.path().join("meta/slaves/latest")).is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();

    // The master stops pinging: after 1s x 3 the agent reconnects and re-registers with
    // its id.
    let Some(Seen::Register(again)) = tokio::time::timeout(wait, seen.recv()).await.unwrap() else {
        panic!("expected a second Register");
    };
    assert_eq!(again.agent_info.id.unwrap().value, "m-S7");

    let _ = stop.send(());
    tokio::time::timeout(wait, agent)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    server.abort();
}
