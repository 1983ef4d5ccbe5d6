//! Presence of `required` fields, read straight from protobuf wire bytes.
//!
//! prost fills an absent required field with its default, so the generated types cannot
//! tell "missing" from "zero". Instead of decoding into a `DynamicMessage` (which allocates
//! a value per field) this walks the bytes once, guided by the message descriptor: it notes
//! which field numbers occur and descends into the payloads of message fields. Semantics
//! follow protobuf's parser: occurrences of a singular message field merge, every element of
//! a repeated message field is checked on its own, setting another member of a `oneof`
//! discards the earlier one, and unknown fields are skipped. Map values are not descended
//! into (as before: the dynamic walk did not either).

use prost_reflect::{Kind, MessageDescriptor, OneofDescriptor};

/// Bytes that are not a well-formed protobuf encoding. [`crate::decode_checked`] decodes with
/// prost first, which rejects the same inputs, so this is reached only by direct callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf: {0}")]
pub struct DecodeError(&'static str);

impl DecodeError {
    fn new(reason: &'static str) -> Self {
        DecodeError(reason)
    }
}

/// Dotted paths (`accept.offer_ids[0].value`) of every absent `required` field in the
/// message `bytes` encode, in declaration order, depth first.
pub fn missing_required(
    descriptor: &MessageDescriptor,
    bytes: &[u8],
) -> Result<Vec<String>, DecodeError> {
    let mut out = Vec::new();
    check(descriptor, &[bytes], None, &mut out)?;
    Ok(out)
}

/// Where a nested message sits, built on the stack and rendered only when a field is missing.
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
    index: Option<usize>,
}

fn render(path: Option<&Path<'_>>, leaf: &str) -> String {
    fn push(path: &Path<'_>, s: &mut String) {
        if let Some(parent) = path.parent {
            push(parent, s);
            s.push('.');
        }
        s.push_str(path.name);
        if let Some(i) = path.index {
            s.push_str(&format!("[{i}]"));
        }
    }
    let mut s = String::new();
    if let Some(path) = path {
        push(path, &mut s);
        s.push('.');
    }
    s.push_str(leaf);
    s
}

/// Checks the message made of `parts` (more than one when a singular message field occurs
/// several times: protobuf merges them).
fn check(
    descriptor: &MessageDescriptor,
    parts: &[&[u8]],
    path: Option<&Path<'_>>,
    out: &mut Vec<String>,
) -> Result<(), DecodeError> {
    let mut seen: Vec<u32> = Vec::new();
    // (field number, payload) of message fields, in wire order.
    let mut nested: Vec<(u32, &[u8])> = Vec::new();
    // The member each oneof holds so far.
    let mut oneofs: Vec<(OneofDescriptor, u32)> = Vec::new();
    for part in parts {
        let mut rest: &[u8] = part;
        while !rest.is_empty() {
            let key = varint(&mut rest)?;
            let number = u32::try_from(key >> 3)
                .ok()
                .filter(|n| *n != 0)
                .ok_or_else(|| DecodeError::new("invalid field number"))?;
            let field = descriptor.get_field(number);
            let payload = match key & 7 {
                0 => {
                    varint(&mut rest)?;
                    None
                }
                1 => {
                    take(&mut rest, 8)?;
                    None
                }
                5 => {
                    take(&mut rest, 4)?;
                    None
                }
                2 => {
                    let len = usize::try_from(varint(&mut rest)?)
                        .map_err(|_| DecodeError::new("length too large"))?;
                    Some(take(&mut rest, len)?)
                }
                3 => Some(group(&mut rest, number)?),
                4 => return Err(DecodeError::new("unexpected end group")),
                _ => return Err(DecodeError::new("invalid wire type")),
            };
            let Some(field) = field else { continue };
            if let Some(oneof) = field.containing_oneof() {
                match oneofs.iter_mut().find(|(o, _)| *o == oneof) {
                    Some((_, member)) if *member != number => {
                        let previous = std::mem::replace(member, number);
                        seen.retain(|n| *n != previous);
                        nested.retain(|(n, _)| *n != previous);
                    }
                    Some(_) => {}
                    None => oneofs.push((oneof, number)),
                }
            }
            if !seen.contains(&number) {
                seen.push(number);
            }
            if let (Some(payload), Kind::Message(_)) = (payload, field.kind()) {
                if !field.is_map() {
                    nested.push((number, payload));
                }
            }
        }
    }
    for field in descriptor.fields() {
        let number = field.number();
        if !seen.contains(&number) {
            if field.is_required() {
                out.push(render(path, field.name()));
            }
            continue;
        }
        let Kind::Message(inner) = field.kind() else {
            continue;
        };
        let payloads = nested.iter().filter(|(n, _)| *n == number).map(|(_, p)| *p);
        if field.is_list() {
            for (i, payload) in payloads.enumerate() {
                let here = Path {
                    parent: path,
                    name: field.name(),
                    index: Some(i),
                };
                check(&inner, &[payload], Some(&here), out)?;
            }
        } else if !field.is_map() {
            let payloads: Vec<&[u8]> = payloads.collect();
            let here = Path {
                parent: path,
                name: field.name(),
                index: None,
            };
            check(&inner, &payloads, Some(&here), out)?;
        }
    }
    Ok(())
}

fn varint(buf: &mut &[u8]) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = buf
            .split_first()
            .ok_or_else(|| DecodeError::new("truncated varint"))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(DecodeError::new("invalid varint"))
}

fn take<'a>(buf: &mut &'a [u8], len: usize) -> Result<&'a [u8], DecodeError> {
    if buf.len() < len {
        return Err(DecodeError::new("buffer underflow"));
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

/// The body of a group that started with field `number`, up to its end-group key.
fn group<'a>(buf: &mut &'a [u8], number: u32) -> Result<&'a [u8], DecodeError> {
    let start: &'a [u8] = buf;
    loop {
        let before = buf.len();
        let key = varint(buf)?;
        let wire = key & 7;
        match wire {
            0 => {
                varint(buf)?;
            }
            1 => {
                take(buf, 8)?;
            }
            5 => {
                take(buf, 4)?;
            }
            2 => {
                let len = usize::try_from(varint(buf)?)
                    .map_err(|_| DecodeError::new("length too large"))?;
                take(buf, len)?;
            }
            3 => {
                let inner = u32::try_from(key >> 3).map_err(|_| DecodeError::new("bad group"))?;
                group(buf, inner)?;
            }
            4 => {
                if key >> 3 != u64::from(number) {
                    return Err(DecodeError::new("mismatched end group"));
                }
                return Ok(&start[..start.len() - before]);
            }
            _ => return Err(DecodeError::new("invalid wire type")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1;
    use crate::v1::scheduler;
    use prost::Message;
    use prost_reflect::ReflectMessage;

    fn id(value: &str) -> v1::OfferId {
        v1::OfferId {
            value: value.into(),
        }
    }

    fn missing<M: ReflectMessage + Default>(bytes: &[u8]) -> Vec<String> {
        missing_required(&M::default().descriptor(), bytes).expect("well-formed bytes")
    }

    fn key(buf: &mut Vec<u8>, field: u32, wire: u32) {
        prost::encoding::encode_varint(u64::from(field << 3 | wire), buf);
    }

    fn len_field(buf: &mut Vec<u8>, field: u32, payload: &[u8]) {
        key(buf, field, 2);
        prost::encoding::encode_varint(payload.len() as u64, buf);
        buf.extend_from_slice(payload);
    }

    #[test]
    fn complete_message_has_nothing_missing() {
        let call = scheduler::Call {
            framework_id: Some(v1::FrameworkId { value: "f".into() }),
            r#type: Some(scheduler::call::Type::Decline as i32),
            decline: Some(scheduler::call::Decline {
                offer_ids: vec![id("a"), id("b")],
                filters: None,
            }),
            ..Default::default()
        };
        assert!(missing::<scheduler::Call>(&call.encode_to_vec()).is_empty());
    }

    /// Call.type = `t` (every Call type number fits one byte).
    fn call_of_type(t: scheduler::call::Type) -> Vec<u8> {
        let mut call = Vec::new();
        key(&mut call, 2, 0);
        call.push(t as u8);
        call
    }

    #[test]
    fn names_a_missing_nested_required_field() {
        // framework_id {} (no value) and kill { agent_id { value } } without task_id.
        let mut call = Vec::new();
        len_field(&mut call, 1, &[]);
        call.extend(call_of_type(scheduler::call::Type::Kill));
        let mut kill = Vec::new();
        len_field(
            &mut kill,
            2,
            &v1::AgentId { value: "a".into() }.encode_to_vec(),
        );
        len_field(&mut call, 6, &kill);
        assert_eq!(
            missing::<scheduler::Call>(&call),
            vec!["framework_id.value", "kill.task_id"]
        );
    }

    #[test]
    fn checks_every_element_of_repeated_messages() {
        let mut decline = Vec::new();
        len_field(&mut decline, 1, &id("a").encode_to_vec());
        len_field(&mut decline, 1, &[]); // offer_ids[1] without its value
        len_field(&mut decline, 1, &id("c").encode_to_vec());
        len_field(&mut decline, 1, &[]); // offer_ids[3]
        let mut call = call_of_type(scheduler::call::Type::Decline);
        len_field(&mut call, 5, &decline);
        assert_eq!(
            missing::<scheduler::Call>(&call),
            vec!["decline.offer_ids[1].value", "decline.offer_ids[3].value"]
        );
    }

    #[test]
    fn merges_repeated_occurrences_of_a_singular_message() {
        // kill given twice: empty first, task_id in the second.
        let mut kill = Vec::new();
        len_field(
            &mut kill,
            1,
            &v1::TaskId { value: "t".into() }.encode_to_vec(),
        );
        let mut call = call_of_type(scheduler::call::Type::Kill);
        len_field(&mut call, 6, &[]);
        len_field(&mut call, 6, &kill);
        assert!(missing::<scheduler::Call>(&call).is_empty());
        let mut call = call_of_type(scheduler::call::Type::Kill);
        len_field(&mut call, 6, &[]);
        len_field(&mut call, 6, &[]);
        assert_eq!(missing::<scheduler::Call>(&call), vec!["kill.task_id"]);
    }

    #[test]
    fn skips_unknown_fields_of_every_wire_type() {
        let mut call = call_of_type(scheduler::call::Type::Revive);
        key(&mut call, 900, 0);
        prost::encoding::encode_varint(u64::MAX, &mut call);
        key(&mut call, 901, 1);
        call.extend_from_slice(&[0; 8]);
        key(&mut call, 902, 5);
        call.extend_from_slice(&[0; 4]);
        len_field(&mut call, 903, b"no message here");
        key(&mut call, 904, 3);
        key(&mut call, 1, 0);
        call.push(1);
        key(&mut call, 904, 4);
        assert!(missing::<scheduler::Call>(&call).is_empty());
        // Unknown fields are skipped inside nested messages as well.
        let mut kill = Vec::new();
        len_field(&mut kill, 77, &[1, 2, 3]);
        let mut call = call_of_type(scheduler::call::Type::Kill);
        len_field(&mut call, 6, &kill);
        assert_eq!(missing::<scheduler::Call>(&call), vec!["kill.task_id"]);
    }

    fn descriptor(name: &str) -> MessageDescriptor {
        crate::DESCRIPTOR_POOL
            .get_message_by_name(name)
            .expect("known message")
    }

    #[test]
    fn packed_fields_are_skipped_as_one_payload() {
        // HealthCheck.HTTPCheckInfo: required uint32 port = 1; repeated uint32 statuses = 4.
        let d = descriptor("mesos.v1.HealthCheck.HTTPCheckInfo");
        let mut packed = Vec::new();
        for v in [200u64, 300, 70_000] {
            prost::encoding::encode_varint(v, &mut packed);
        }
        let mut bytes = Vec::new();
        len_field(&mut bytes, 4, &packed);
        assert_eq!(missing_required(&d, &bytes).unwrap(), vec!["port"]);
        key(&mut bytes, 1, 0);
        bytes.push(80);
        assert!(missing_required(&d, &bytes).unwrap().is_empty());
        // The same bytes are what prost decodes.
        let info = v1::health_check::HttpCheckInfo::decode(bytes.as_slice()).unwrap();
        assert_eq!(info.statuses, vec![200, 300, 70_000]);
    }

    #[test]
    fn a_later_oneof_member_discards_the_earlier_one() {
        // Predicate { oneof { Exists exists = 1; TextEquals text_equals = 3 { required value } } }
        let d = descriptor("mesos.v1.scheduler.AttributeConstraint.Predicate");
        let mut bytes = Vec::new();
        len_field(&mut bytes, 3, &[]);
        len_field(&mut bytes, 1, &[]);
        assert!(missing_required(&d, &bytes).unwrap().is_empty());
        let mut bytes = Vec::new();
        len_field(&mut bytes, 1, &[]);
        len_field(&mut bytes, 3, &[]);
        assert_eq!(
            missing_required(&d, &bytes).unwrap(),
            vec!["text_equals.value"]
        );
    }

    #[test]
    fn malformed_bytes_are_errors() {
        let d = scheduler::Call::default().descriptor();
        assert!(missing_required(&d, &[0xff, 0xff, 0xff]).is_err());
        assert!(missing_required(&d, &[0x0a, 0x05, 0x01]).is_err());
        assert!(missing_required(&d, &[0x00]).is_err());
        assert!(missing_required(&d, &[0x0c]).is_err());
    }

    /// Seeds for the equivalence property: calls whose every nested message has required
    /// fields, so that cutting bytes out of them removes required fields at all depths.
    fn seeds() -> Vec<Vec<u8>> {
        let accept = r#"{"type":"ACCEPT","framework_id":{"value":"F"},"accept":{
            "offer_ids":[{"value":"O1"},{"value":"O2"}],
            "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t1"},
              "agent_id":{"value":"S"},"command":{"value":"true"},
              "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},
                           {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]}}],
              "health_check":{"type":"HTTP","http":{"port":80,"statuses":[200,204]}}}]}}],
            "filters":{"refuse_seconds":5}}}"#;
        let kill = r#"{"type":"KILL","framework_id":{"value":"F"},"kill":{"task_id":{"value":"t"},"agent_id":{"value":"S"}}}"#;
        let ack = r#"{"type":"ACKNOWLEDGE","framework_id":{"value":"F"},"acknowledge":{"agent_id":{"value":"S"},"task_id":{"value":"t"},"uuid":"AAEC"}}"#;
        let subscribe = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","roles":["a"],
            "capabilities":[{"type":"MULTI_ROLE"}]},
            "offer_constraints":{"role_constraints":{"a":{"groups":[{"attribute_constraints":[
              {"selector":{"attribute_name":"rack"},"predicate":{"text_equals":{"value":"r1"}}}]}]}}}}}"#;
        [accept, kill, ack, subscribe]
            .iter()
            .map(|text| {
                crate::json::from_json_str::<scheduler::Call>(text)
                    .expect("seed decodes")
                    .encode_to_vec()
            })
            .collect()
    }

    proptest::proptest! {
        /// The wire walk reports exactly what the dynamic message walk reported, for calls
        /// with arbitrary byte ranges cut out or overwritten.
        #[test]
        fn agrees_with_the_dynamic_walk(
            seed in 0usize..4,
            cuts in proptest::collection::vec((0usize..600, 0usize..12, proptest::prelude::any::<Option<u8>>()), 1..4),
        ) {
            let mut bytes = seeds()[seed].clone();
            for (at, len, replace) in cuts {
                let at = at % (bytes.len() + 1);
                let end = (at + len).min(bytes.len());
                match replace {
                    None => { bytes.drain(at..end); }
                    Some(b) => for x in &mut bytes[at..end] { *x = b; },
                }
            }
            let descriptor = scheduler::Call::default().descriptor();
            let Ok(dynamic) = prost_reflect::DynamicMessage::decode(descriptor.clone(), bytes.as_slice()) else {
                return Ok(());
            };
            let expected = crate::json::missing_required_fields(&dynamic);
            proptest::prop_assert_eq!(missing_required(&descriptor, &bytes).ok(), Some(expected));
        }
    }
}
