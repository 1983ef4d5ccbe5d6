//! The wire-level codec against prost-reflect, the library it replaces on the hot path.
//!
//! Messages of every type in the pool are generated at random (as `DynamicMessage`s, so any
//! type can be built), and the new encoder must write exactly what prost-reflect's serializer
//! wrote through a `serde_json::Value` (the same `Value`, and the same text). Decoding
//! that text, and mutations of it (wrong types, unknown and duplicate keys, camelCase
//! names, numbers as strings, unknown enum names, cut bytes...), must give what the
//! reference decoder gives (prost-reflect plus the enum-name and required-field checks),
//! whenever the wire-level decoder answers rather than deferring to it.

use super::*;
use crate::v1::{self, scheduler};
use proptest::prelude::*;
use prost::Message;
use serde_json::Value as Json;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "",
    "a",
    "task-1",
    "héllo wörld",
    "quote\" back\\slash /",
    "\n\t\r\u{1}\u{1f}",
    "🚀 \u{2028}",
    "TASK_RUNNING",
    "SUBSCRIBE",
    "cpus",
];

fn random_value(rng: &mut Rng, kind: &prost_reflect::Kind, depth: usize) -> prost_reflect::Value {
    use prost_reflect::{Kind, Value};
    let bits = rng.next();
    match kind {
        Kind::Double => Value::F64(rng.pick(&[
            0.0,
            -0.0,
            1.5,
            -2.25,
            0.1,
            32.0,
            1e300,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from_bits(bits),
        ])),
        Kind::Float => Value::F32(rng.pick(&[
            0.0,
            -0.0,
            0.1,
            1.5,
            f32::MAX,
            f32::NAN,
            f32::INFINITY,
            f32::from_bits(bits as u32),
        ])),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(rng.pick(&[0, 1, -1, i32::MIN, i32::MAX, bits as i32]))
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(rng.pick(&[0, 1, -1, i64::MIN, i64::MAX, bits as i64]))
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.pick(&[0, 1, u32::MAX, bits as u32])),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.pick(&[0, 1, u64::MAX, bits])),
        Kind::Bool => Value::Bool(rng.chance(0.5)),
        Kind::String => Value::String(rng.pick(STRINGS).to_owned()),
        Kind::Bytes => Value::Bytes(
            (0..rng.below(9))
                .map(|_| rng.next() as u8)
                .collect::<Vec<u8>>()
                .into(),
        ),
        Kind::Enum(e) => {
            let values: Vec<i32> = e.values().map(|v| v.number()).collect();
            if rng.chance(0.1) {
                Value::EnumNumber(rng.pick(&[-1, 99, 12345]))
            } else {
                Value::EnumNumber(rng.pick(&values))
            }
        }
        Kind::Message(m) => Value::Message(random_message(rng, m, depth + 1)),
    }
}

fn random_message(
    rng: &mut Rng,
    descriptor: &MessageDescriptor,
    depth: usize,
) -> prost_reflect::DynamicMessage {
    use prost_reflect::{Kind, MapKey, Value};
    let mut message = prost_reflect::DynamicMessage::new(descriptor.clone());
    if descriptor.full_name() == "google.protobuf.Duration" {
        let seconds = rng.below(100_000) as i64;
        let nanos = rng.below(1_000_000_000) as i32;
        message.set_field_by_name("seconds", Value::I64(seconds));
        message.set_field_by_name("nanos", Value::I32(nanos));
        return message;
    }
    for field in descriptor.fields() {
        let is_message = matches!(field.kind(), Kind::Message(_));
        if is_message && depth >= 6 {
            continue;
        }
        let p = if field.is_required() {
            0.9
        } else {
            0.5 / (1 + depth) as f64
        };
        if !rng.chance(p) {
            continue;
        }
        let value = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            let key_kind = entry.map_entry_key_field().kind();
            let value_kind = entry.map_entry_value_field().kind();
            let mut map = std::collections::HashMap::new();
            for _ in 0..rng.below(4) {
                let key = match random_value(rng, &key_kind, depth) {
                    Value::String(s) => MapKey::String(s),
                    Value::I32(v) => MapKey::I32(v),
                    Value::I64(v) => MapKey::I64(v),
                    Value::U32(v) => MapKey::U32(v),
                    Value::U64(v) => MapKey::U64(v),
                    Value::Bool(v) => MapKey::Bool(v),
                    _ => continue,
                };
                map.insert(key, random_value(rng, &value_kind, depth));
            }
            Value::Map(map)
        } else if field.is_list() {
            Value::List(
                (0..rng.below(4))
                    .map(|_| random_value(rng, &field.kind(), depth))
                    .collect(),
            )
        } else {
            random_value(rng, &field.kind(), depth)
        };
        message.set_field(&field, value);
    }
    message
}

/// The descriptors under test: every message of the pool that the wire-level codec
/// handles, the hot scheduler types weighted up.
fn descriptors() -> Vec<(usize, MessageDescriptor)> {
    let schemas = &*schema::SCHEMAS;
    let mut all: Vec<(usize, MessageDescriptor)> = crate::DESCRIPTOR_POOL
        .all_messages()
        .filter(|m| !m.is_map_entry())
        .filter_map(|m| fast_path(&m).map(|i| (i, m)))
        .collect();
    assert!(
        all.len() > 200,
        "pool has {} messages",
        schemas.messages.len()
    );
    for hot in [
        "mesos.v1.scheduler.Call",
        "mesos.v1.scheduler.Event",
        "mesos.v1.TaskInfo",
        "mesos.v1.TaskStatus",
        "mesos.v1.Offer",
        "mesos.v1.Resource",
        "mesos.v1.master.Response",
        "mesos.v1.master.Call",
        "mesos.v1.agent.Call",
        "mesos.v1.executor.Event",
    ] {
        let m = crate::DESCRIPTOR_POOL.get_message_by_name(hot).unwrap();
        let i = fast_path(&m).unwrap();
        for _ in 0..40 {
            all.push((i, m.clone()));
        }
    }
    all
}

/// What prost-reflect's serializer writes for `bytes` (the previous `to_json_value`).
fn reference_json(descriptor: &MessageDescriptor, bytes: &[u8]) -> Option<Json> {
    prost_reflect::DynamicMessage::decode(descriptor.clone(), bytes)
        .ok()?
        .serialize_with_options(serde_json::value::Serializer, &serialize_options())
        .ok()
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// The decoded message, written back as JSON by the reference serializer.
    Ok(Json),
    Invalid,
    MissingRequired(Vec<String>),
}

/// The previous decoder: `Value`, enum names, prost-reflect, required fields.
fn reference_decode(descriptor: &MessageDescriptor, text: &[u8]) -> Outcome {
    let Ok(value) = serde_json::from_slice::<Json>(text) else {
        return Outcome::Invalid;
    };
    if check_enum_names(&value, descriptor).is_err() {
        return Outcome::Invalid;
    }
    let Ok(dynamic) = prost_reflect::DynamicMessage::deserialize_with_options(
        descriptor.clone(),
        &value,
        &deserialize_options(),
    ) else {
        return Outcome::Invalid;
    };
    let missing = missing_required_fields(&dynamic);
    if !missing.is_empty() {
        return Outcome::MissingRequired(missing);
    }
    Outcome::Ok(
        dynamic
            .serialize_with_options(serde_json::value::Serializer, &serialize_options())
            .unwrap(),
    )
}

/// The wire-level decoder, or `None` where it defers to the reference.
fn new_decode(index: usize, descriptor: &MessageDescriptor, text: &[u8]) -> Option<Outcome> {
    outcome(descriptor, read_slice(index, text)?)
}

fn outcome(descriptor: &MessageDescriptor, read: Read) -> Option<Outcome> {
    if !read.missing.is_empty() {
        return Some(Outcome::MissingRequired(read.missing));
    }
    let Some(json) = reference_json(descriptor, &read.wire) else {
        panic!("decoder wrote bytes prost-reflect cannot read");
    };
    Some(Outcome::Ok(json))
}

fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn random_json(rng: &mut Rng) -> Json {
    match rng.below(14) {
        0 => Json::Null,
        1 => Json::Bool(rng.chance(0.5)),
        2 => serde_json::json!(rng.pick(&[0i64, 1, -1, 300, i64::MIN])),
        3 => serde_json::json!(rng.pick(&[u64::MAX, 4_294_967_296])),
        4 => serde_json::json!(rng.pick(&[1.5f64, -0.0, 2.0, 1e20, 4_294_967_295.0])),
        5 => Json::String(rng.pick(STRINGS).into()),
        6 => Json::String(
            rng.pick(&[
                "NOPE", "12", "-3", "1e3", "NaN", "Infinity", "AAEC", "***", "0x10",
            ])
            .into(),
        ),
        7 => serde_json::json!([]),
        8 => serde_json::json!([null]),
        9 => serde_json::json!({}),
        10 => serde_json::json!({"value": "x"}),
        11 => serde_json::json!([{"value": "x"}, 1]),
        12 => serde_json::json!({"a": {"value": "x"}}),
        _ => serde_json::json!(["TASK_RUNNING", "NOPE"]),
    }
}

/// Changes a few nodes of `value` at random.
fn mutate(rng: &mut Rng, value: &mut Json, depth: usize) {
    match value {
        Json::Object(map) if !map.is_empty() && rng.chance(0.7) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = keys[rng.below(keys.len())].clone();
            match rng.below(8) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    let v = map.remove(&key).unwrap();
                    map.insert(camel(&key), v);
                }
                2 => {
                    map.insert(key, random_json(rng));
                }
                3 => {
                    map.insert("unknown_field".into(), random_json(rng));
                }
                4 => {
                    // Both spellings of one field.
                    let v = map[&key].clone();
                    map.insert(camel(&key), v);
                }
                _ => mutate(rng, map.get_mut(&key).unwrap(), depth + 1),
            }
        }
        Json::Array(items) if !items.is_empty() && rng.chance(0.7) => {
            let i = rng.below(items.len());
            match rng.below(4) {
                0 => {
                    items.remove(i);
                }
                1 => items[i] = random_json(rng),
                _ => mutate(rng, &mut items[i], depth + 1),
            }
        }
        Json::Number(n) if rng.chance(0.5) => *value = Json::String(n.to_string()),
        _ if depth > 0 => *value = random_json(rng),
        _ => {}
    }
}

/// JSON text of `value`, sometimes with a key written twice (which a `Value` cannot hold).
fn write_with_duplicates(rng: &mut Rng, value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            out.push('{');
            let mut first = true;
            for (k, v) in map {
                let mut entry = |out: &mut String, v: &Json, rng: &mut Rng| {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    write_with_duplicates(rng, v, out);
                };
                if rng.chance(0.05) {
                    let other = if rng.chance(0.5) {
                        v.clone()
                    } else {
                        random_json(rng)
                    };
                    entry(out, &other, rng);
                }
                entry(out, v, rng);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_with_duplicates(rng, v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn mutate_text(rng: &mut Rng, text: &mut Vec<u8>) {
    if text.is_empty() {
        return;
    }
    let at = rng.below(text.len());
    match rng.below(4) {
        0 => {
            let end = (at + rng.below(6)).min(text.len());
            text.drain(at..end);
        }
        1 => text.insert(at, rng.pick(b"{}[],:\"\\ 0-.e")),
        2 => {
            let junk: &[u8] = rng.pick(&[&b"1e400"[..], b"18446744073709551616", b"\xff", b"null"]);
            text.splice(at..at, junk.iter().copied());
        }
        _ => text[at] = rng.next() as u8,
    }
}

/// `value` as text with every object's keys in order, as the encoder writes them. Not
/// `value.to_string()`: a workspace build that turns on serde_json's `preserve_order`
/// (thirtyfour, for the browser tests, does) keeps the reference's field order instead.
fn sorted_text(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Json::from(k.as_str()), sorted_text(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(sorted_text).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Encoding writes exactly what prost-reflect wrote, as a `Value` and as text; decoding
    /// that text gives back the same message (or the same missing required fields).
    #[test]
    fn encoder_and_decoder_match_prost_reflect(seed in any::<u64>(), pick in any::<usize>()) {
        thread_local!(static DESCRIPTORS: Vec<(usize, MessageDescriptor)> = descriptors());
        let (index, descriptor) = DESCRIPTORS.with(|d| d[pick % d.len()].clone());
        let mut rng = Rng(seed);
        let bytes = random_message(&mut rng, &descriptor, 0).encode_to_vec();
        let Some(expected) = reference_json(&descriptor, &bytes) else {
            return Ok(());
        };
        let json = encode::MessageJson { message: index, bytes: &bytes };
        prop_assert_eq!(&json.serialize(serde_json::value::Serializer).unwrap(), &expected);
        let text = serde_json::to_string(&json).unwrap();
        prop_assert_eq!(&text, &sorted_text(&expected));

        let reference = reference_decode(&descriptor, text.as_bytes());
        prop_assert!(!matches!(reference, Outcome::Invalid), "{}", text);
        let decoded = new_decode(index, &descriptor, text.as_bytes());
        prop_assert_eq!(decoded.as_ref(), Some(&reference), "{}", text);
        // And from the parsed value.
        let wire = read_value(index, &expected);
        prop_assert!(wire.is_some());
    }

    /// On mutated input the wire-level decoder, when it answers, answers as the reference
    /// does; it answers for nearly all well-formed input.
    #[test]
    fn decoder_agrees_on_mutated_input(seed in any::<u64>(), pick in any::<usize>()) {
        thread_local!(static DESCRIPTORS: Vec<(usize, MessageDescriptor)> = descriptors());
        let (index, descriptor) = DESCRIPTORS.with(|d| d[pick % d.len()].clone());
        let mut rng = Rng(seed);
        let bytes = random_message(&mut rng, &descriptor, 0).encode_to_vec();
        let Some(mut value) = reference_json(&descriptor, &bytes) else {
            return Ok(());
        };
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut value, 0);
        }
        let mut text = String::new();
        write_with_duplicates(&mut rng, &value, &mut text);
        let mut text = text.into_bytes();
        if rng.chance(0.2) {
            mutate_text(&mut rng, &mut text);
        }
        let reference = reference_decode(&descriptor, &text);
        if let Some(decoded) = new_decode(index, &descriptor, &text) {
            prop_assert_eq!(&decoded, &reference, "{}", String::from_utf8_lossy(&text));
        }
        if let Ok(value) = serde_json::from_slice::<Json>(&text) {
            if let Some(read) = read_value(index, &value) {
                let decoded = outcome(&descriptor, read);
                prop_assert_eq!(decoded.as_ref(), Some(&reference), "{}", value);
            }
        }
    }

    /// The public functions on the typed hot messages: same answers as the reference, and
    /// the same text as prost-reflect wrote.
    #[test]
    fn typed_api_matches_the_reference(seed in any::<u64>(), which in 0usize..6) {
        let mut rng = Rng(seed);
        macro_rules! check {
            ($ty:ty) => {{
                let descriptor = <$ty>::default().descriptor();
                let bytes = random_message(&mut rng, &descriptor, 0).encode_to_vec();
                let typed = <$ty>::decode(bytes.as_slice()).unwrap();
                let expected = dynamic_to_json_value(&typed);
                prop_assert_eq!(&to_json_value(&typed), &expected);
                prop_assert_eq!(&to_json_string(&typed), &sorted_text(&expected));
                let mut value = expected.clone();
                if rng.chance(0.7) {
                    mutate(&mut rng, &mut value, 0);
                }
                let mut text = String::new();
                write_with_duplicates(&mut rng, &value, &mut text);
                let new = from_json_str::<$ty>(&text);
                let old = serde_json::from_str::<Json>(&text)
                    .map_err(|_| ())
                    .and_then(|v| Ok(dynamic_from_json_value::<$ty>(&v)));
                match (new, old) {
                    (Ok(a), Ok(Ok(b))) => prop_assert_eq!(to_json_value(&a), to_json_value(&b)),
                    (Err(JsonError::Invalid { .. }), Err(()) | Ok(Err(JsonError::Invalid { .. }))) => {}
                    (Err(JsonError::MissingRequired { fields: a, .. }),
                     Ok(Err(JsonError::MissingRequired { fields: b, .. }))) => prop_assert_eq!(a, b),
                    (new, old) => prop_assert!(false, "{text}: new {new:?}, old {old:?}"),
                }
            }};
        }
        match which {
            0 => check!(scheduler::Call),
            1 => check!(scheduler::Event),
            2 => check!(v1::TaskInfo),
            3 => check!(v1::Offer),
            4 => check!(crate::v1::master::Response),
            _ => check!(v1::Resource),
        }
    }
}

/// Old against new on the two messages of the launch benchmark's hot path. Run with
/// `cargo test --release -p mesos-proto -- --ignored --nocapture codec_timings`.
#[test]
#[ignore]
fn codec_timings() {
    let update = scheduler::Event {
        r#type: Some(scheduler::event::Type::Update as i32),
        update: Some(scheduler::event::Update {
            status: v1::TaskStatus {
                task_id: v1::TaskId {
                    value: "task-000042".into(),
                },
                state: v1::TaskState::TaskRunning as i32,
                agent_id: Some(v1::AgentId {
                    value: "a1b2c3-S17".into(),
                }),
                uuid: Some((0..16).collect()),
                source: Some(v1::task_status::Source::Executor as i32),
                timestamp: Some(1_764_000_000.25),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let accept: scheduler::Call = from_json_str(
        r#"{"framework_id":{"value":"a1b2c3-0000"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"a1b2c3-O17"}],
  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"task-000042","task_id":{"value":"task-000042"},
  "agent_id":{"value":"a1b2c3-S17"},"command":{"shell":true,"value":"sleep 10"},"resources":[
  {"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},{"name":"mem","type":"SCALAR",
  "scalar":{"value":32}}]}]}}],"filters":{"refuse_seconds":5.0}}}"#,
    )
    .unwrap();
    fn time(label: &str, mut f: impl FnMut()) {
        let n = 20_000;
        for _ in 0..1000 {
            f();
        }
        let start = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        println!(
            "{label:40} {:>8.0} ns",
            start.elapsed().as_nanos() as f64 / n as f64
        );
    }
    let update_text = to_json_string(&update);
    let accept_text = to_json_string(&accept);
    time("Event::Update encode, prost-reflect", || {
        std::hint::black_box(dynamic_to_json_value(&update).to_string());
    });
    time("Event::Update encode, wire-level", || {
        std::hint::black_box(to_json_string(&update));
    });
    time("Event::Update decode, prost-reflect", || {
        let v: Json = serde_json::from_str(&update_text).unwrap();
        std::hint::black_box(dynamic_from_json_value::<scheduler::Event>(&v).unwrap());
    });
    time("Event::Update decode, wire-level", || {
        std::hint::black_box(from_json_str::<scheduler::Event>(&update_text).unwrap());
    });
    time("Call::Accept encode, prost-reflect", || {
        std::hint::black_box(dynamic_to_json_value(&accept).to_string());
    });
    time("Call::Accept encode, wire-level", || {
        std::hint::black_box(to_json_string(&accept));
    });
    time("Call::Accept decode, prost-reflect", || {
        let v: Json = serde_json::from_str(&accept_text).unwrap();
        std::hint::black_box(dynamic_from_json_value::<scheduler::Call>(&v).unwrap());
    });
    time("Call::Accept decode, wire-level", || {
        std::hint::black_box(from_json_str::<scheduler::Call>(&accept_text).unwrap());
    });
}
