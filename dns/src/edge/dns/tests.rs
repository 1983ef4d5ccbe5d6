//! The request path fed random bytes and random questions (property tests): every
//! message that hickory-server hands over gets exactly one answer, with the question's
//! id, and FORMERR when it is not a single question; nothing panics.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::NetError;
use hickory_server::zone_handler::MessageResponse;
use proptest::prelude::*;

use super::*;
use crate::core::cluster::{Agent, Change, Cluster, Framework, Networking, Task};
use crate::core::labels::LabelSpec;
use crate::core::records::{self, IpSource, Naming};
use crate::core::zone::Zone;

/// Keeps what would have been sent.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(512);
        let info = response.destructive_emit(&mut encoder)?;
        self.0.lock().unwrap().push(bytes);
        Ok(info)
    }
}

/// One handler for every case: building the zone is not what is tested.
fn handler() -> &'static Handler {
    static HANDLER: std::sync::OnceLock<Handler> = std::sync::OnceLock::new();
    HANDLER.get_or_init(build_handler)
}

fn build_handler() -> Handler {
    let mut cluster = Cluster::default();
    cluster.apply(Change::Snapshot {
        agents: vec![Agent {
            id: "M-S0".into(),
            ips: vec!["10.0.0.1".parse().unwrap()],
            hostname: "a".into(),
            port: 5051,
        }],
        frameworks: vec![Framework {
            id: "F".into(),
            name: "marathon".into(),
            ips: vec![],
            port: None,
        }],
        tasks: (0..20)
            .map(|i| Task {
                id: format!("web.{i}"),
                name: "web".into(),
                framework_id: "F".into(),
                agent_id: "M-S0".into(),
                running: true,
                running_status: None,
                ports: vec![31000 + i],
                discovery: None,
                networking: Networking::Plain,
            })
            .collect(),
    });
    let naming = Naming {
        domain: "mesos".into(),
        ns_name: "ns1.mesos.".into(),
        ns_ips: vec![],
        ip_sources: vec![IpSource::Host],
        spec: LabelSpec::Rfc1123,
    };
    let settings = crate::core::zone::tests::settings();
    let zone = Zone::new(settings, records::build(&cluster, &naming), 1);
    Handler {
        zone: Arc::new(RwLock::new(Arc::new(zone))),
        // No upstream: names outside the domain are refused without any network.
        upstreams: Arc::new(Upstreams {
            timeout: Duration::from_millis(100),
            ..Default::default()
        }),
    }
}

/// Runs the request path on `bytes` as hickory-server would: decode, then handle.
/// Returns the decoded question (when it decodes) and the answers sent.
fn serve(handler: &Handler, bytes: Vec<u8>) -> (Option<Request>, Vec<Vec<u8>>) {
    let src: SocketAddr = "127.0.0.1:5353".parse().unwrap();
    let Ok(request) = Request::from_bytes(bytes, src, Protocol::Udp) else {
        return (None, Vec::new());
    };
    let capture = Capture::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(handler.handle_request::<_, TokioTime>(&request, capture.clone()));
    let sent = capture.0.lock().unwrap().clone();
    (Some(request), sent)
}

fn check_answer(request: &Request, sent: &[Vec<u8>]) -> Message {
    assert_eq!(sent.len(), 1, "exactly one answer");
    let answer = Message::from_vec(&sent[0]).expect("the answer parses");
    assert_eq!(answer.metadata.id, request.metadata.id);
    assert_eq!(answer.metadata.message_type, MessageType::Response);
    answer
}

fn question(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
    question_for(id, Name::from_ascii(name).unwrap(), qtype)
}

fn question_for(id: u16, name: Name, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name, qtype));
    m.to_vec().unwrap()
}

#[test]
fn answers_questions_and_refuses_other_names_without_upstreams() {
    let h = handler();
    let (request, sent) = serve(h, question(9, "web.marathon.mesos.", RecordType::A));
    let answer = check_answer(&request.unwrap(), &sent);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.metadata.authoritative);
    assert_eq!(answer.answers.len(), 1);
    // 20 instances over UDP without EDNS: cut to fit 512 bytes, never an error.
    let (request, sent) = serve(
        h,
        question(10, "_web._tcp.marathon.mesos.", RecordType::SRV),
    );
    let answer = check_answer(&request.unwrap(), &sent);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(sent[0].len() <= 512);
    let (request, sent) = serve(h, question(11, "example.com.", RecordType::A));
    let answer = check_answer(&request.unwrap(), &sent);
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    // Not a QUERY: NOTIMP.
    let mut m = Message::new(12, MessageType::Query, OpCode::Status);
    m.add_query(Query::query(
        Name::from_ascii("mesos.").unwrap(),
        RecordType::A,
    ));
    let (request, sent) = serve(h, m.to_vec().unwrap());
    let answer = check_answer(&request.unwrap(), &sent);
    assert_eq!(answer.metadata.response_code, ResponseCode::NotImp);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic_and_get_one_wellformed_answer(
        bytes in proptest::collection::vec(any::<u8>(), 0..300)
    ) {
        let h = handler();
        let (request, sent) = serve(h, bytes);
        if let Some(request) = request {
            if request.metadata.message_type == MessageType::Response {
                // hickory-server drops responses before they reach the handler.
                return Ok(());
            }
            let answer = check_answer(&request, &sent);
            if request.metadata.op_code == OpCode::Query && request.queries.queries().len() != 1 {
                prop_assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
            }
        }
    }

    #[test]
    fn random_questions_get_an_answer_code_mesos_dns_gives(
        // Any bytes in a label, the characters of names most of the time.
        labels in proptest::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9_*-]{1,20}".prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 1..20),
            ],
            0..5,
        ),
        in_domain in any::<bool>(),
        qtype in prop_oneof![
            Just(RecordType::A), Just(RecordType::AAAA), Just(RecordType::SRV),
            Just(RecordType::SOA), Just(RecordType::NS), Just(RecordType::ANY),
            Just(RecordType::MX), Just(RecordType::TXT), Just(RecordType::PTR),
        ],
        id in any::<u16>(),
    ) {
        let suffix: &[u8] = if in_domain { b"mesos" } else { b"example" };
        let Ok(mut name) = Name::from_labels(
            labels.iter().map(Vec::as_slice).chain(std::iter::once(suffix)),
        ) else {
            return Ok(()); // too long for a name
        };
        name.set_fqdn(true);
        let h = handler();
        let (request, sent) = serve(h, question_for(id, name, qtype));
        let answer = check_answer(&request.unwrap(), &sent);
        let code = answer.metadata.response_code;
        if in_domain {
            prop_assert!(matches!(code, ResponseCode::NoError | ResponseCode::NXDomain), "{code:?}");
            prop_assert!(answer.metadata.authoritative);
        } else {
            prop_assert_eq!(code, ResponseCode::Refused);
        }
    }
}
