use super::*;
use crate::v1::{self, scheduler};
use prost::Message;
use serde_json::json;

const SUBSCRIBE: &str =
    r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"demo"}}}"#;

const ACCEPT_LAUNCH: &str = r#"{"framework_id":{"value":"M-0000"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"M-O1"}],
  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t1","task_id":{"value":"t1"},
  "agent_id":{"value":"M-S0"},"command":{"shell":true,"value":"sleep 10"},"resources":[
  {"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR",
  "scalar":{"value":32}}]}]}}],"filters":{"refuse_seconds":5.0}}}"#;

#[test]
fn decodes_minimal_subscribe() {
    let call: scheduler::Call = from_json_str(SUBSCRIBE).unwrap();
    assert_eq!(call.r#type(), scheduler::call::Type::Subscribe);
    assert!(call.framework_id.is_none());
    let info = call.subscribe.unwrap().framework_info;
    assert_eq!(info.user, "root");
    assert_eq!(info.name, "demo");
    assert!(info.id.is_none());
    // Unset proto2 fields keep their declared defaults.
    assert_eq!(info.role(), "*");
    assert_eq!(info.failover_timeout(), 0.0);
    assert!(!info.checkpoint());
}

#[test]
fn decodes_accept_with_launch() {
    let call: scheduler::Call = from_json_str(ACCEPT_LAUNCH).unwrap();
    assert_eq!(call.r#type(), scheduler::call::Type::Accept);
    assert_eq!(call.framework_id.unwrap().value, "M-0000");
    let accept = call.accept.unwrap();
    assert_eq!(accept.offer_ids[0].value, "M-O1");
    assert_eq!(accept.filters.unwrap().refuse_seconds(), 5.0);
    let operation = &accept.operations[0];
    assert_eq!(operation.r#type(), v1::offer::operation::Type::Launch);
    let task = &operation.launch.as_ref().unwrap().task_infos[0];
    assert_eq!(task.name, "t1");
    assert_eq!(task.task_id.value, "t1");
    assert_eq!(task.agent_id.value, "M-S0");
    let command = task.command.as_ref().unwrap();
    assert_eq!(command.value(), "sleep 10");
    assert!(command.shell());
    assert_eq!(task.resources.len(), 2);
    assert_eq!(task.resources[0].name, "cpus");
    assert_eq!(task.resources[0].r#type(), v1::value::Type::Scalar);
    assert_eq!(task.resources[0].scalar.unwrap().value, 0.1);
    assert_eq!(task.resources[1].name, "mem");
    assert_eq!(task.resources[1].scalar.unwrap().value, 32.0);
}

fn update_event() -> scheduler::Event {
    scheduler::Event {
        r#type: Some(scheduler::event::Type::Update as i32),
        update: Some(scheduler::event::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId { value: "t1".into() },
                state: v1::TaskState::TaskRunning as i32,
                uuid: Some(vec![0xde, 0xad, 0xbe, 0xef]),
                source: Some(v1::task_status::Source::Executor as i32),
                timestamp: Some(1.5),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

#[test]
fn encodes_update_with_names_and_base64() {
    let value = to_json_value(&update_event());
    assert_eq!(
        value,
        json!({
            "type": "UPDATE",
            "update": {"status": {
                "task_id": {"value": "t1"},
                "state": "TASK_RUNNING",
                "uuid": "3q2+7w==",
                "source": "SOURCE_EXECUTOR",
                "timestamp": 1.5
            }}
        })
    );
}

#[test]
fn sixty_four_bit_integers_are_numbers() {
    let range = v1::value::Range {
        begin: 31000,
        end: u64::MAX,
    };
    assert_eq!(
        to_json_value(&range),
        json!({"begin": 31000, "end": u64::MAX})
    );
    let time = v1::TimeInfo {
        nanoseconds: -5_000_000_000,
    };
    assert_eq!(to_json_string(&time), r#"{"nanoseconds":-5000000000}"#);
}

#[test]
fn accepts_64_bit_integers_as_strings() {
    let range: v1::value::Range = from_json_str(r#"{"begin":"31000","end":32000}"#).unwrap();
    assert_eq!((range.begin, range.end), (31000, 32000));
}

#[test]
fn ignores_unknown_fields() {
    let id: v1::FrameworkId = from_json_str(r#"{"value":"x","bogus":{"a":[1,2]}}"#).unwrap();
    assert_eq!(id.value, "x");
}

#[test]
fn json_round_trip() {
    let call: scheduler::Call = from_json_str(ACCEPT_LAUNCH).unwrap();
    let value = to_json_value(&call);
    // Doubles come back with a fraction ("32.0"); same value, other spelling.
    let original: serde_json::Value =
        serde_json::from_str(&ACCEPT_LAUNCH.replace(r#"{"value":32}"#, r#"{"value":32.0}"#))
            .unwrap();
    assert_eq!(value, original);
    let again: scheduler::Call = from_json_value(&value).unwrap();
    assert_eq!(again, call);

    let event = update_event();
    let back: scheduler::Event = from_json_str(&to_json_string(&event)).unwrap();
    assert_eq!(back, event);
}

#[test]
fn protobuf_binary_round_trip() {
    let call: scheduler::Call = from_json_str(ACCEPT_LAUNCH).unwrap();
    let bytes = call.encode_to_vec();
    assert_eq!(scheduler::Call::decode(bytes.as_slice()).unwrap(), call);

    let event = update_event();
    let decoded = scheduler::Event::decode(event.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, event);
}

#[test]
fn errors_are_readable_and_never_panic() {
    let unknown_enum = from_json_str::<scheduler::Call>(r#"{"type":"NOPE"}"#).unwrap_err();
    let text = unknown_enum.to_string();
    assert!(text.contains("mesos.v1.scheduler.Call"), "{text}");
    assert!(text.contains("NOPE"), "{text}");

    let nested = from_json_str::<scheduler::Call>(
        r#"{"type":"ACCEPT","accept":{"operations":[{"type":"LAUNCHH"}]}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(nested.contains("LAUNCHH"), "{nested}");

    let inputs: &[&[u8]] = &[
        b"",
        b"{",
        b"null",
        b"[]",
        b"42",
        b"{\"type\":1.5}",
        b"{\"type\":[]}",
        b"{\"framework_id\":\"abc\"}",
        b"{\"subscribe\":{\"framework_info\":{\"user\":7}}}",
        b"{\"type\":\"SUBSCRIBE\"} trailing",
        b"\xff\xfe\x00",
        b"{\"accept\":{\"offer_ids\":{}}}",
    ];
    for input in inputs {
        let result = from_json_slice::<scheduler::Call>(input);
        assert!(
            result.is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!result.unwrap_err().to_string().is_empty());
    }

    let bad_base64 = from_json_str::<v1::TaskStatus>(
        r#"{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"***"}"#,
    );
    assert!(bad_base64.is_err());

    let out_of_range = from_json_str::<v1::value::Range>(r#"{"begin":-1,"end":2}"#);
    assert!(out_of_range.is_err());
}

/// Appends a protobuf field key.
fn key(buf: &mut Vec<u8>, field: u32, wire_type: u32) {
    prost::encoding::encode_key(
        field,
        match wire_type {
            0 => prost::encoding::WireType::Varint,
            1 => prost::encoding::WireType::SixtyFourBit,
            _ => prost::encoding::WireType::LengthDelimited,
        },
        buf,
    );
}

fn varint_field(buf: &mut Vec<u8>, field: u32, value: u64) {
    key(buf, field, 0);
    prost::encoding::encode_varint(value, buf);
}

fn bytes_field(buf: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(buf, field, 2);
    prost::encoding::encode_varint(value.len() as u64, buf);
    buf.extend_from_slice(value);
}

fn double_field(buf: &mut Vec<u8>, field: u32, value: f64) {
    key(buf, field, 1);
    buf.extend_from_slice(&value.to_le_bytes());
}

fn id(value: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    bytes_field(&mut buf, 1, value.as_bytes());
    buf
}

/// Field numbers as published in Apache Mesos's v1 .proto files; a
/// renumbering here would break wire compatibility with real Mesos.
#[test]
fn field_numbers_match_mesos() {
    let mut capability = Vec::new();
    varint_field(&mut capability, 1, 5); // Type PARTITION_AWARE = 5
    let mut fw = Vec::new();
    bytes_field(&mut fw, 1, b"root"); // user
    bytes_field(&mut fw, 2, b"demo"); // name
    bytes_field(&mut fw, 3, &id("fw-1")); // id
    double_field(&mut fw, 4, 60.0); // failover_timeout
    varint_field(&mut fw, 5, 1); // checkpoint
    bytes_field(&mut fw, 7, b"host"); // hostname
    bytes_field(&mut fw, 8, b"me"); // principal
    bytes_field(&mut fw, 9, b"http://ui"); // webui_url
    bytes_field(&mut fw, 10, &capability); // capabilities
    bytes_field(&mut fw, 12, b"dev"); // roles
    let info = v1::FrameworkInfo::decode(fw.as_slice()).unwrap();
    assert_eq!(info.user, "root");
    assert_eq!(info.name, "demo");
    assert_eq!(info.id.as_ref().unwrap().value, "fw-1");
    assert_eq!(info.failover_timeout(), 60.0);
    assert!(info.checkpoint());
    assert_eq!(info.hostname(), "host");
    assert_eq!(info.principal(), "me");
    assert_eq!(info.webui_url(), "http://ui");
    assert_eq!(
        info.capabilities[0].r#type(),
        v1::framework_info::capability::Type::PartitionAware
    );
    assert_eq!(info.roles, vec!["dev".to_string()]);

    let mut st = Vec::new();
    bytes_field(&mut st, 1, &id("t1")); // task_id
    varint_field(&mut st, 2, 1); // state TASK_RUNNING = 1
    bytes_field(&mut st, 3, b"data"); // data
    bytes_field(&mut st, 4, b"msg"); // message
    bytes_field(&mut st, 5, &id("S0")); // agent_id
    double_field(&mut st, 6, 2.5); // timestamp
    bytes_field(&mut st, 7, &id("e1")); // executor_id
    varint_field(&mut st, 8, 1); // healthy
    varint_field(&mut st, 9, 1); // source SOURCE_AGENT = 1
    varint_field(&mut st, 10, 14); // reason REASON_TASK_INVALID = 14
    bytes_field(&mut st, 11, b"uuid"); // uuid
    let status = v1::TaskStatus::decode(st.as_slice()).unwrap();
    assert_eq!(status.task_id.value, "t1");
    assert_eq!(status.state(), v1::TaskState::TaskRunning);
    assert_eq!(status.data(), b"data");
    assert_eq!(status.message(), "msg");
    assert_eq!(status.agent_id.as_ref().unwrap().value, "S0");
    assert_eq!(status.timestamp(), 2.5);
    assert_eq!(status.executor_id.as_ref().unwrap().value, "e1");
    assert!(status.healthy());
    assert_eq!(status.source(), v1::task_status::Source::Agent);
    assert_eq!(status.reason(), v1::task_status::Reason::TaskInvalid);
    assert_eq!(status.uuid(), b"uuid");

    // Scheduler Call: framework_id = 1, type = 2, kill = 6 (task_id = 1).
    let mut kill = Vec::new();
    bytes_field(&mut kill, 1, &id("t9"));
    let mut call = Vec::new();
    bytes_field(&mut call, 1, &id("fw-1"));
    varint_field(&mut call, 2, 6); // KILL = 6
    bytes_field(&mut call, 6, &kill);
    let call = scheduler::Call::decode(call.as_slice()).unwrap();
    assert_eq!(call.r#type(), scheduler::call::Type::Kill);
    assert_eq!(call.kill.unwrap().task_id.value, "t9");

    // Enum numbers that differ from declaration order.
    assert_eq!(v1::TaskState::TaskStaging as i32, 6);
    assert_eq!(v1::TaskState::TaskStarting as i32, 0);
    assert_eq!(v1::TaskState::TaskKilling as i32, 8);
    assert_eq!(v1::TaskState::TaskGoneByOperator as i32, 12);
    assert_eq!(scheduler::event::Type::Heartbeat as i32, 8);
    assert_eq!(scheduler::event::Type::UpdateOperationStatus as i32, 11);
    assert_eq!(scheduler::call::Type::AcknowledgeOperationStatus as i32, 15);
    assert_eq!(v1::offer::operation::Type::LaunchGroup as i32, 6);
    assert_eq!(v1::task_status::Reason::AgentDraining as i32, 34);
    assert_eq!(crate::v1::executor::event::Type::Heartbeat as i32, 9);
    assert_eq!(crate::v1::executor::call::Type::Heartbeat as i32, 4);
}

#[test]
fn master_info_round_trips_with_required_defaults() {
    let info = v1::MasterInfo {
        id: "m".into(),
        ip: 0x0100_007f,
        port: 5050,
        pid: Some("master@127.0.0.1:5050".into()),
        address: Some(v1::Address {
            hostname: None,
            ip: Some("127.0.0.1".into()),
            port: 5050,
        }),
        ..Default::default()
    };
    let value = to_json_value(&info);
    assert_eq!(value["ip"], json!(16_777_343u32));
    assert_eq!(value["address"], json!({"ip": "127.0.0.1", "port": 5050}));
    assert!(value.get("hostname").is_none());
    let back: v1::MasterInfo = from_json_value(&value).unwrap();
    assert_eq!(back, info);
}

#[test]
fn internal_protocol_is_generated() {
    use crate::internal::{self, agent_message, AgentMessage};
    let message = AgentMessage {
        message: Some(agent_message::Message::Pong(internal::Pong { seq: 7 })),
    };
    let decoded = AgentMessage::decode(message.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, message);
    assert_eq!(to_json_value(&message), json!({"pong": {"seq": 7}}));
    // Both ends of the gRPC stream exist.
    let _ = internal::agent_service_client::AgentServiceClient::<tonic::transport::Channel>::new;
    let _ = std::any::type_name::<internal::agent_service_server::AgentServiceServer<()>>();
}
