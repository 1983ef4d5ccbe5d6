//! The DNS server's request handler (served by hickory-server on UDP and TCP): names in
//! the domain from the current [`Zone`], other names forwarded upstream.
//!
//! hickory-server answers FORMERR itself when a message after a readable header does not
//! parse, and drops what has no header; this handler answers FORMERR to a message that
//! parses but is not one question (as Mesos-DNS's DNS library does) and NOTIMP to
//! opcodes other than QUERY.

use std::sync::Arc;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::forward::{ForwardError, Upstreams};
use super::ZoneCell;

pub struct Handler {
    pub zone: ZoneCell,
    pub upstreams: Arc<Upstreams>,
}

/// What to send back.
enum Outcome {
    Error(ResponseCode),
    Answer {
        metadata: Metadata,
        answers: Vec<Record>,
        authorities: Vec<Record>,
        additionals: Vec<Record>,
    },
}

impl Handler {
    async fn outcome(&self, request: &Request) -> Outcome {
        if request.metadata.op_code != OpCode::Query {
            return Outcome::Error(ResponseCode::NotImp);
        }
        let queries = request.queries.queries();
        if queries.len() != 1 || request.answers.len() > 1 || request.authorities.len() > 1 {
            return Outcome::Error(ResponseCode::FormErr);
        }
        let query = &queries[0];
        let zone = self.zone.read().unwrap_or_else(|e| e.into_inner()).clone();
        if zone.contains(query.name()) {
            let reply = zone.answer(
                query.original().name(),
                query.query_type(),
                &mut rand::thread_rng(),
            );
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.authoritative = true;
            metadata.recursion_available = reply.recursion_available;
            metadata.response_code = reply.code;
            return Outcome::Answer {
                metadata,
                answers: reply.answers,
                authorities: reply.authorities,
                additionals: reply.additionals,
            };
        }
        drop(zone);
        let tcp = request.protocol() == Protocol::Tcp;
        match self
            .upstreams
            .exchange(query.name(), request.as_slice(), request.metadata.id, tcp)
            .await
        {
            Ok(message) => Outcome::Answer {
                metadata: message.metadata,
                answers: message.answers,
                authorities: message.authorities,
                additionals: message.additionals,
            },
            Err(ForwardError::NoUpstream) => Outcome::Error(ResponseCode::Refused),
            Err(error @ ForwardError::Failed(_)) => {
                tracing::warn!(name = %query.name(), %error, "forwarding failed");
                Outcome::Error(ResponseCode::ServFail)
            }
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let outcome = self.outcome(request).await;
        // Answer with EDNS when asked with it, offering the size the client offered.
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload());
            edns
        });
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let (sent, metadata) = match &outcome {
            Outcome::Error(code) => {
                let message = builder.error_msg(&request.metadata, *code);
                let metadata = *message.metadata();
                (response_handle.send_response(message).await, metadata)
            }
            Outcome::Answer {
                metadata,
                answers,
                authorities,
                additionals,
            } => {
                let message = builder.build(
                    *metadata,
                    answers,
                    authorities,
                    &[] as &[Record],
                    additionals,
                );
                (response_handle.send_response(message).await, *metadata)
            }
        };
        sent.unwrap_or_else(|error| {
            tracing::debug!(%error, "could not send a DNS answer");
            let mut metadata = metadata;
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        })
    }
}

#[cfg(test)]
mod tests;
