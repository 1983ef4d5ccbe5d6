//! The JSON encoding Mesos uses on its HTTP APIs.
//!
//! It is protobuf's JSON mapping with three Mesos-specific choices, which the
//! C++ implementation (and every client written against it) relies on:
//! fields keep their original proto names (`framework_id`, not `frameworkId`),
//! 64-bit integers are JSON numbers rather than strings, and unset fields are
//! left out. Enums are written by name (`"TASK_RUNNING"`) and bytes as
//! standard base64.
//!
//! Decoding is lenient where Mesos is lenient (unknown fields are ignored,
//! 64-bit integers may also be given as strings, camelCase names are
//! accepted) and strict where a silent default would change meaning (unknown
//! enum names and wrong value types are errors).
//!
//! Two implementations of the mapping live here. The fast one works on protobuf
//! wire bytes and is what callers normally get:
//!
//! ```text
//! encode: typed --prost--> wire bytes --encode::MessageJson (serde)--> JSON text | Value
//! decode: JSON --decode::MessageSeed (serde)--> wire bytes + missing required --prost--> typed
//! ```
//!
//! The other is prost-reflect's `DynamicMessage` mapping, which the fast one
//! reproduces exactly (the differential tests hold it to that); it answers for
//! whatever the fast one declines: every rejected input (so error messages are
//! its own), keys given twice, and messages outside this crate's pool.

mod decode;
mod encode;
mod schema;

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    SerializeOptions,
};
use serde::de::DeserializeSeed;
use serde::Serialize;

/// Why a JSON document could not be turned into a message.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Malformed JSON, or JSON that does not fit the message schema (wrong
    /// type, unknown enum name, bad base64...).
    #[error("invalid JSON for {message}: {source}")]
    Invalid {
        /// Full protobuf name of the message being decoded.
        message: String,
        #[source]
        source: serde_json::Error,
    },
    /// The decoded message could not be converted to the generated type.
    #[error("cannot convert JSON to {message}: {source}")]
    Convert {
        /// Full protobuf name of the message being decoded.
        message: String,
        #[source]
        source: prost::DecodeError,
    },
    /// The message lacks fields its schema marks `required`.
    #[error("{message} is missing required fields: {}", fields.join(", "))]
    MissingRequired {
        /// Full protobuf name of the message being decoded.
        message: String,
        /// Dotted paths of the missing fields, e.g. `kill.task_id`.
        fields: Vec<String>,
    },
}

fn serialize_options() -> SerializeOptions {
    SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .use_enum_numbers(false)
        .skip_default_fields(true)
}

fn deserialize_options() -> DeserializeOptions {
    DeserializeOptions::new().deny_unknown_fields(false)
}

/// Encodes `message` as a JSON value in Mesos's mapping.
pub fn to_json_value<M: ReflectMessage>(message: &M) -> serde_json::Value {
    if let Some(index) = fast_path(&message.descriptor()) {
        let bytes = message.encode_to_vec();
        let json = encode::MessageJson {
            message: index,
            bytes: &bytes,
        };
        if let Ok(value) = json.serialize(serde_json::value::Serializer) {
            return value;
        }
    }
    dynamic_to_json_value(message)
}

/// Encodes `message` as a compact JSON string in Mesos's mapping.
pub fn to_json_string<M: ReflectMessage>(message: &M) -> String {
    if let Some(index) = fast_path(&message.descriptor()) {
        let bytes = message.encode_to_vec();
        let mut out = Vec::with_capacity(bytes.len() * 2 + 16);
        let json = encode::MessageJson {
            message: index,
            bytes: &bytes,
        };
        if serde_json::to_writer(&mut out, &json).is_ok() {
            if let Ok(text) = String::from_utf8(out) {
                return text;
            }
        }
    }
    dynamic_to_json_value(message).to_string()
}

/// Decodes a message from JSON bytes (for example an HTTP request body).
pub fn from_json_slice<M: ReflectMessage + Default>(bytes: &[u8]) -> Result<M, JsonError> {
    let descriptor = M::default().descriptor();
    if let Some(read) = fast_path(&descriptor).and_then(|index| read_slice(index, bytes)) {
        if let Some(result) = finish(&descriptor, read) {
            return result;
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| JsonError::Invalid {
            message: descriptor.full_name().to_owned(),
            source,
        })?;
    dynamic_from_json_value(&value)
}

/// Decodes a message from JSON text.
pub fn from_json_str<M: ReflectMessage + Default>(text: &str) -> Result<M, JsonError> {
    from_json_slice(text.as_bytes())
}

/// Decodes a message from an already parsed JSON value.
pub fn from_json_value<M: ReflectMessage + Default>(
    value: &serde_json::Value,
) -> Result<M, JsonError> {
    let descriptor = M::default().descriptor();
    if let Some(read) = fast_path(&descriptor).and_then(|index| read_value(index, value)) {
        if let Some(result) = finish(&descriptor, read) {
            return result;
        }
    }
    dynamic_from_json_value(value)
}

/// The tables of `descriptor` when the wire-level codec handles it: messages of this
/// crate. Anything else (a well-known type at the top, a message from another pool) takes
/// the `DynamicMessage` path.
fn fast_path(descriptor: &MessageDescriptor) -> Option<usize> {
    let schemas = &*schema::SCHEMAS;
    schemas
        .message(descriptor)
        .filter(|index| !schemas.messages[*index].well_known)
}

/// What the wire-level decoder read: the message's protobuf bytes and the paths of the
/// required fields it lacks.
struct Read {
    wire: Vec<u8>,
    missing: Vec<String>,
}

/// Message `index` read from JSON text, or `None` where the wire-level decoder leaves the
/// answer to the `DynamicMessage` path (see [`decode`]).
fn read_slice(index: usize, bytes: &[u8]) -> Option<Read> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut wire = Vec::with_capacity(bytes.len());
    let missing = decode::MessageSeed {
        message: index,
        out: &mut wire,
    }
    .deserialize(&mut deserializer)
    .and_then(|missing| deserializer.end().map(|()| missing))
    .ok()?;
    Some(Read { wire, missing })
}

/// [`read_slice`] for an already parsed value.
fn read_value(index: usize, value: &serde_json::Value) -> Option<Read> {
    let mut wire = Vec::new();
    let missing = decode::MessageSeed {
        message: index,
        out: &mut wire,
    }
    .deserialize(value)
    .ok()?;
    Some(Read { wire, missing })
}

/// The typed message from what the decoder read, or `None` to leave the answer to the
/// `DynamicMessage` path (prost refusing the bytes, e.g. nesting beyond its limit).
/// Required fields are reported first, as that path checks them before converting.
fn finish<M: ReflectMessage + Default>(
    descriptor: &MessageDescriptor,
    read: Read,
) -> Option<Result<M, JsonError>> {
    if !read.missing.is_empty() {
        return Some(Err(JsonError::MissingRequired {
            message: descriptor.full_name().to_owned(),
            fields: read.missing,
        }));
    }
    M::decode(read.wire.as_slice()).ok().map(Ok)
}

/// prost-reflect's own serializer: the reference the wire-level encoder reproduces, used
/// for what it does not handle.
fn dynamic_to_json_value<M: ReflectMessage>(message: &M) -> serde_json::Value {
    let dynamic = message.transcode_to_dynamic();
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &serialize_options())
        // Serializing into a `Value` only fails for non-string map keys, and
        // protobuf map keys are always rendered as strings.
        .expect("protobuf messages always serialize to JSON")
}

/// prost-reflect's own deserializer with Mesos's strictness added: the reference the
/// wire-level decoder reproduces, and the one that explains every rejection.
fn dynamic_from_json_value<M: ReflectMessage + Default>(
    value: &serde_json::Value,
) -> Result<M, JsonError> {
    let descriptor = M::default().descriptor();
    let invalid = |source| JsonError::Invalid {
        message: descriptor.full_name().to_owned(),
        source,
    };
    check_enum_names(value, &descriptor).map_err(invalid)?;
    let dynamic =
        DynamicMessage::deserialize_with_options(descriptor.clone(), value, &deserialize_options())
            .map_err(invalid)?;
    let missing = missing_required_fields(&dynamic);
    if !missing.is_empty() {
        return Err(JsonError::MissingRequired {
            message: descriptor.full_name().to_owned(),
            fields: missing,
        });
    }
    convert(dynamic)
}

/// Dotted paths of every `required` field that is absent, at any depth. Generated prost
/// types cannot tell an absent required field from a default one, so presence is checked
/// on the dynamic message before it is converted.
pub fn missing_required_fields(message: &DynamicMessage) -> Vec<String> {
    let mut out = Vec::new();
    collect_missing(message, "", &mut out);
    out
}

fn collect_missing(message: &DynamicMessage, prefix: &str, out: &mut Vec<String>) {
    for field in message.descriptor().fields() {
        let path = if prefix.is_empty() {
            field.name().to_owned()
        } else {
            format!("{prefix}.{}", field.name())
        };
        if field.cardinality() == prost_reflect::Cardinality::Required && !message.has_field(&field)
        {
            out.push(path);
            continue;
        }
        if !message.has_field(&field) {
            continue;
        }
        match message.get_field(&field).as_ref() {
            prost_reflect::Value::Message(m) => collect_missing(m, &path, out),
            prost_reflect::Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let prost_reflect::Value::Message(m) = item {
                        collect_missing(m, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// prost-reflect only rejects unknown enum names together with unknown
/// fields; Mesos ignores the latter but must reject the former (silently
/// dropping `"type":"SUBSCRIBBE"` would turn a call into UNKNOWN), so enum
/// names are checked in a separate walk before decoding.
fn check_enum_names(
    value: &serde_json::Value,
    descriptor: &MessageDescriptor,
) -> Result<(), serde_json::Error> {
    let serde_json::Value::Object(object) = value else {
        // Type errors are reported by the decoder itself.
        return Ok(());
    };
    for (key, field_value) in object {
        let Some(field) = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key))
        else {
            continue;
        };
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                continue;
            };
            if let serde_json::Value::Object(entries) = field_value {
                let value_field = entry.map_entry_value_field();
                for item in entries.values() {
                    check_kind(item, &value_field.kind(), &field)?;
                }
            }
        } else if field.is_list() {
            if let serde_json::Value::Array(items) = field_value {
                for item in items {
                    check_kind(item, &field.kind(), &field)?;
                }
            }
        } else {
            check_kind(field_value, &field.kind(), &field)?;
        }
    }
    Ok(())
}

fn check_kind(
    value: &serde_json::Value,
    kind: &Kind,
    field: &FieldDescriptor,
) -> Result<(), serde_json::Error> {
    match (kind, value) {
        (Kind::Enum(enum_descriptor), serde_json::Value::String(name))
            if enum_descriptor.get_value_by_name(name).is_none() =>
        {
            Err(<serde_json::Error as serde::de::Error>::custom(format!(
                "unknown value '{name}' for enum {} in field '{}'",
                enum_descriptor.full_name(),
                field.name()
            )))
        }
        (Kind::Message(message), _) => check_enum_names(value, message),
        _ => Ok(()),
    }
}

fn convert<M: ReflectMessage + Default>(dynamic: DynamicMessage) -> Result<M, JsonError> {
    dynamic
        .transcode_to::<M>()
        .map_err(|source| JsonError::Convert {
            message: dynamic.descriptor().full_name().to_owned(),
            source,
        })
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
