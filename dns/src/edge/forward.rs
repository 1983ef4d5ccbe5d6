//! Forwarding questions outside the Mesos domain to upstream servers, over the protocol
//! the question came in on, each server in turn until one answers (Mesos-DNS's
//! `exchanger.Forwarder`). No server configured: REFUSED; none answered: SERVFAIL.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::LowerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Which servers answer for which names.
#[derive(Debug, Clone, Default)]
pub struct Upstreams {
    /// Per zone, longest zone first.
    pub zones: Vec<(LowerName, Vec<SocketAddr>)>,
    pub default: Vec<SocketAddr>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream server for this name")]
    NoUpstream,
    #[error("no upstream server answered: {0}")]
    Failed(String),
}

/// The largest answer read over UDP (EDNS allows up to 64 KiB).
const MAX_UDP: usize = 65_535;

impl Upstreams {
    pub fn for_name(&self, name: &LowerName) -> &[SocketAddr] {
        self.zones
            .iter()
            .find(|(zone, _)| zone.zone_of(name))
            .map_or(&self.default[..], |(_, servers)| &servers[..])
    }

    /// Sends the raw question to the servers for `name`; returns the first answer.
    pub async fn exchange(
        &self,
        name: &LowerName,
        question: &[u8],
        id: u16,
        tcp: bool,
    ) -> Result<Message, ForwardError> {
        let servers = self.for_name(name);
        if servers.is_empty() {
            return Err(ForwardError::NoUpstream);
        }
        let mut errors = Vec::new();
        for server in servers {
            let attempt = async {
                if tcp {
                    exchange_tcp(*server, question).await
                } else {
                    exchange_udp(*server, question, id).await
                }
            };
            match tokio::time::timeout(self.timeout, attempt).await {
                Ok(Ok(bytes)) => match Message::from_vec(&bytes) {
                    Ok(message) if message.metadata.id == id => return Ok(message),
                    Ok(_) => errors.push(format!("{server}: answer to another question")),
                    Err(e) => errors.push(format!("{server}: {e}")),
                },
                Ok(Err(e)) => errors.push(format!("{server}: {e}")),
                Err(_) => errors.push(format!("{server}: timed out")),
            }
        }
        Err(ForwardError::Failed(errors.join("; ")))
    }
}

async fn exchange_udp(server: SocketAddr, question: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(server).await?;
    socket.send(question).await?;
    let mut buffer = vec![0u8; MAX_UDP];
    loop {
        let n = socket.recv(&mut buffer).await?;
        // A stray datagram is not the answer: keep waiting (the timeout bounds it).
        if n >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
            buffer.truncate(n);
            return Ok(buffer);
        }
    }
}

async fn exchange_tcp(server: SocketAddr, question: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await?;
    let length = u16::try_from(question.len())
        .map_err(|_| std::io::Error::other("question too long for TCP"))?;
    let mut framed = Vec::with_capacity(question.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(question);
    stream.write_all(&framed).await?;
    let length = stream.read_u16().await? as usize;
    let mut answer = vec![0u8; length];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    fn question(id: u16) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii("example.com.").unwrap(),
            RecordType::A,
        ));
        m.to_vec().unwrap()
    }

    /// A server on loopback that answers each question with an empty response.
    async fn upstream() -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buffer).await {
                let question = Message::from_vec(&buffer[..n]).unwrap();
                let mut answer =
                    Message::new(question.metadata.id, MessageType::Response, OpCode::Query);
                answer.metadata.recursion_available = true;
                let _ = socket.send_to(&answer.to_vec().unwrap(), from).await;
            }
        });
        address
    }

    #[tokio::test]
    async fn tries_servers_in_turn_and_picks_zones_by_suffix() {
        // Bound but never answering: the first server times out, the second answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let name = |s: &str| LowerName::new(&Name::from_ascii(s).unwrap());
        let upstreams = Upstreams {
            zones: vec![(name("weave."), vec![silent.local_addr().unwrap()])],
            default: vec![silent.local_addr().unwrap(), upstream().await],
            timeout: Duration::from_millis(200),
        };
        let answer = upstreams
            .exchange(&name("example.com."), &question(7), 7, false)
            .await
            .unwrap();
        assert_eq!(answer.metadata.id, 7);
        assert!(answer.metadata.recursion_available);
        // The zone's only server is silent: a failure (SERVFAIL to the client).
        let failed = upstreams
            .exchange(&name("a.weave."), &question(8), 8, false)
            .await
            .unwrap_err();
        assert!(
            matches!(failed, ForwardError::Failed(ref why) if why.contains("timed out")),
            "{failed}"
        );
        let none = Upstreams::default();
        assert!(matches!(
            none.exchange(&name("x."), &question(9), 9, false).await,
            Err(ForwardError::NoUpstream)
        ));
    }
}
