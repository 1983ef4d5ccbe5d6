//! Reads Mesos's JSON straight into protobuf wire bytes.
//!
//! A serde `DeserializeSeed` guided by the message's [`Schemas`] tables writes each field
//! as it is read (nested messages into the same buffer, their length patched in after), so
//! neither a `serde_json::Value` nor a `DynamicMessage` is built; prost then decodes the
//! typed message from the bytes.
//!
//! This is the fast path for well-formed requests, and it only ever accepts what the
//! previous implementation (prost-reflect over a parsed `Value`, kept in the parent module)
//! accepts, with the same result. Where the two could differ it gives up and the caller
//! asks that implementation: on any error (so error messages stay as they were), when a
//! field occurs twice in one object (a parsed `Value` keeps only the last of duplicate
//! keys, and prost-reflect rejects two members of a oneof or handles a proto name and a
//! json name of one field in sorted key order), and for map keys that are not strings.
//! Values of unknown fields are parsed fully (not skipped), since a `Value` rejects e.g.
//! out-of-range numbers inside them.

use std::fmt;

use prost::encoding::{encode_key, encode_varint, WireType};
use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use super::schema::{Cardinality, FieldKind, FieldSchema, Schemas, SCHEMAS};

/// Paths, relative to a message and in the order the reference walk reports them
/// (declaration order, depth first), of the `required` fields missing in it. Noting them
/// while reading saves a second walk over the bytes; empty (no allocation) normally.
pub(super) type Missing = Vec<String>;

/// Writes the fields of message `message` found in a JSON object to `out`.
pub(super) struct MessageSeed<'a> {
    pub(super) message: usize,
    pub(super) out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = Missing;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Missing, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = Missing;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Missing, A::Error> {
        let schemas = &*SCHEMAS;
        let schema = &schemas.messages[self.message];
        let mut seen = Seen::new(schema.fields.len());
        // Fields given a value other than null.
        let mut present = Seen::new(schema.fields.len());
        // (field, list index, paths missing below it)
        let mut nested: Vec<(usize, Option<usize>, Missing)> = Vec::new();
        let mut oneofs = 0u64;
        while let Some(key) = map.next_key_seed(KeySeed(schema))? {
            let Some(index) = key else {
                map.next_value::<Skip>()?;
                continue;
            };
            if !seen.insert(index) {
                return Err(A::Error::custom("field given twice"));
            }
            let field = &schema.fields[index];
            if let Some(oneof) = field.oneof {
                let bit = 1u64
                    .checked_shl(u32::try_from(oneof).unwrap_or(u32::MAX))
                    .ok_or_else(|| A::Error::custom("too many oneofs"))?;
                if oneofs & bit != 0 {
                    return Err(A::Error::custom("several members of a oneof"));
                }
                oneofs |= bit;
            }
            let set = map.next_value_seed(FieldSeed {
                schemas,
                field,
                out: &mut *self.out,
                index,
                nested: &mut nested,
            })?;
            if set {
                present.insert(index);
            }
        }
        let complete = schema.required.iter().all(|index| present.contains(*index));
        if complete && nested.is_empty() {
            return Ok(Missing::new());
        }
        let mut missing = Missing::new();
        for (index, field) in schema.fields.iter().enumerate() {
            if !present.contains(index) {
                if schema.required.contains(&index) {
                    missing.push(field.name.to_string());
                }
                continue;
            }
            for (_, element, paths) in nested.iter().filter(|(i, _, _)| *i == index) {
                for path in paths {
                    missing.push(match element {
                        Some(k) => format!("{}[{k}].{path}", field.name),
                        None => format!("{}.{path}", field.name),
                    });
                }
            }
        }
        Ok(missing)
    }
}

/// Which fields of a message have been read.
struct Seen {
    small: u128,
    large: Vec<bool>,
}

impl Seen {
    fn new(fields: usize) -> Self {
        Seen {
            small: 0,
            large: if fields > 128 {
                vec![false; fields]
            } else {
                Vec::new()
            },
        }
    }

    /// Marks `index`; false if it was marked already.
    fn insert(&mut self, index: usize) -> bool {
        if self.large.is_empty() {
            let bit = 1u128 << index;
            let new = self.small & bit == 0;
            self.small |= bit;
            new
        } else {
            !std::mem::replace(&mut self.large[index], true)
        }
    }

    fn contains(&self, index: usize) -> bool {
        if self.large.is_empty() {
            self.small & (1u128 << index) != 0
        } else {
            self.large[index]
        }
    }
}

/// Resolves an object key to a field index (json name first, then proto name).
struct KeySeed<'a>(&'a super::schema::MessageSchema);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.field_by_key(key))
    }
}

/// A value of no interest, parsed as strictly as `serde_json::Value` parses it.
struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Skip, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

/// One field's JSON value: `null` leaves the field unset, as in prost-reflect. Yields
/// whether the field was set; what is missing inside it goes to `nested`.
struct FieldSeed<'a> {
    schemas: &'a Schemas,
    field: &'a FieldSchema,
    out: &'a mut Vec<u8>,
    index: usize,
    nested: &'a mut Vec<(usize, Option<usize>, Missing)>,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("option")
    }

    fn visit_none<E: Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        match self.field.cardinality {
            Cardinality::Singular => {
                let missing = ValueSeed {
                    schemas: self.schemas,
                    kind: self.field.kind,
                    number: self.field.number,
                    out: self.out,
                }
                .deserialize(deserializer)?;
                if !missing.is_empty() {
                    self.nested.push((self.index, None, missing));
                }
            }
            Cardinality::List => deserializer.deserialize_any(ListVisitor(self))?,
            // Map values are not checked for required fields, as the reference walk
            // does not descend into them.
            Cardinality::Map => deserializer.deserialize_any(MapVisitor(self))?,
        }
        Ok(true)
    }
}

struct ListVisitor<'a>(FieldSeed<'a>);

impl<'de> Visitor<'de> for ListVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let FieldSeed {
            schemas,
            field,
            out,
            index,
            nested,
        } = self.0;
        let mut element = 0;
        while let Some(missing) = seq.next_element_seed(ValueSeed {
            schemas,
            kind: field.kind,
            number: field.number,
            out: &mut *out,
        })? {
            if !missing.is_empty() {
                nested.push((index, Some(element), missing));
            }
            element += 1;
        }
        Ok(())
    }
}

struct MapVisitor<'a>(FieldSeed<'a>);

impl<'de> Visitor<'de> for MapVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let FieldSeed {
            schemas,
            field,
            out,
            ..
        } = self.0;
        let FieldKind::Message(entry) = field.kind else {
            return Err(A::Error::custom("map field without an entry type"));
        };
        let entry = &schemas.messages[entry];
        let (Some(key_field), Some(value_field)) = (
            entry.field_by_number(1).map(|i| &entry.fields[i]),
            entry.field_by_number(2).map(|i| &entry.fields[i]),
        ) else {
            return Err(A::Error::custom("map entry without key or value"));
        };
        // Numeric keys could name one entry in two spellings ("1", "01"), and which wins
        // depends on key order; Mesos's maps are all keyed by strings.
        if key_field.kind != FieldKind::String {
            return Err(A::Error::custom("map keys that are not strings"));
        }
        loop {
            encode_key(field.number, WireType::LengthDelimited, out);
            let at = begin_len(out);
            let more = map.next_key_seed(ValueSeed {
                schemas,
                kind: FieldKind::String,
                number: 1,
                out: &mut *out,
            })?;
            if more.is_none() {
                // Drop the entry header written in hope of another key.
                out.truncate(at - 1 - key_len(field.number));
                return Ok(());
            }
            map.next_value_seed(ValueSeed {
                schemas,
                kind: value_field.kind,
                number: 2,
                out: &mut *out,
            })?;
            end_len(out, at);
        }
    }
}

fn key_len(number: u32) -> usize {
    prost::encoding::key_len(number)
}

/// Reserves one byte for a length that is patched by [`end_len`].
fn begin_len(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len()
}

fn end_len(out: &mut Vec<u8>, at: usize) {
    let len = out.len() - at;
    if len < 0x80 {
        out[at - 1] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(10);
        encode_varint(len as u64, &mut prefix);
        out.splice(at - 1..at, prefix);
    }
}

/// One value of `kind`, written as field `number`.
struct ValueSeed<'a> {
    schemas: &'a Schemas,
    kind: FieldKind,
    number: u32,
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Missing;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Missing, D::Error> {
        let ValueSeed {
            schemas,
            kind,
            number,
            out,
        } = self;
        match kind {
            FieldKind::Double => {
                let v = deserializer.deserialize_any(DoubleVisitor)?;
                encode_key(number, WireType::SixtyFourBit, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            FieldKind::Float => {
                let v = deserializer.deserialize_any(FloatVisitor)?;
                encode_key(number, WireType::ThirtyTwoBit, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            FieldKind::Int32 | FieldKind::Sint32 | FieldKind::Sfixed32 => {
                let v = deserializer.deserialize_any(Int32Visitor)?;
                match kind {
                    FieldKind::Int32 => varint_field(out, number, v as i64 as u64),
                    FieldKind::Sint32 => {
                        varint_field(out, number, u64::from(((v << 1) ^ (v >> 31)) as u32))
                    }
                    _ => {
                        encode_key(number, WireType::ThirtyTwoBit, out);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            FieldKind::Int64 | FieldKind::Sint64 | FieldKind::Sfixed64 => {
                let v = deserializer.deserialize_any(Int64Visitor)?;
                match kind {
                    FieldKind::Int64 => varint_field(out, number, v as u64),
                    FieldKind::Sint64 => varint_field(out, number, ((v << 1) ^ (v >> 63)) as u64),
                    _ => {
                        encode_key(number, WireType::SixtyFourBit, out);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            FieldKind::Uint32 | FieldKind::Fixed32 => {
                let v = deserializer.deserialize_any(Uint32Visitor)?;
                if kind == FieldKind::Uint32 {
                    varint_field(out, number, u64::from(v));
                } else {
                    encode_key(number, WireType::ThirtyTwoBit, out);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            FieldKind::Uint64 | FieldKind::Fixed64 => {
                let v = deserializer.deserialize_any(Uint64Visitor)?;
                if kind == FieldKind::Uint64 {
                    varint_field(out, number, v);
                } else {
                    encode_key(number, WireType::SixtyFourBit, out);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            FieldKind::Bool => {
                let v = deserializer.deserialize_any(BoolVisitor)?;
                varint_field(out, number, u64::from(v));
            }
            FieldKind::String => deserializer.deserialize_str(StringVisitor { number, out })?,
            FieldKind::Bytes => {
                let v = deserializer.deserialize_str(BytesVisitor)?;
                encode_key(number, WireType::LengthDelimited, out);
                encode_varint(v.len() as u64, out);
                out.extend_from_slice(&v);
            }
            FieldKind::Enum(e) => {
                let v = deserializer.deserialize_any(EnumVisitor(&schemas.enums[e]))?;
                varint_field(out, number, v as i64 as u64);
            }
            FieldKind::Message(message) => {
                let schema = &schemas.messages[message];
                if schema.well_known {
                    let dynamic = prost_reflect::DynamicMessage::deserialize_with_options(
                        schema.descriptor.clone(),
                        deserializer,
                        &super::deserialize_options(),
                    )?;
                    encode_key(number, WireType::LengthDelimited, out);
                    prost::Message::encode_length_delimited(&dynamic, out)
                        .map_err(D::Error::custom)?;
                } else {
                    encode_key(number, WireType::LengthDelimited, out);
                    let at = begin_len(out);
                    let missing = MessageSeed {
                        message,
                        out: &mut *out,
                    }
                    .deserialize(deserializer)?;
                    end_len(out, at);
                    return Ok(missing);
                }
            }
        }
        Ok(Missing::new())
    }
}

fn varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    encode_key(number, WireType::Varint, out);
    encode_varint(value, out);
}

// The visitors below accept exactly what prost-reflect's accept (dynamic/serde/de/kind.rs),
// with the same conversions.

macro_rules! int_visitor {
    ($name:ident, $ty:ty, $expecting:literal) => {
        struct $name;

        impl Visitor<'_> for $name {
            type Value = $ty;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str($expecting)
            }

            fn visit_str<E: Error>(self, v: &str) -> Result<$ty, E> {
                v.parse().map_err(E::custom)
            }

            #[allow(clippy::useless_conversion)]
            fn visit_i64<E: Error>(self, v: i64) -> Result<$ty, E> {
                v.try_into().map_err(E::custom)
            }

            #[allow(clippy::useless_conversion)]
            fn visit_u64<E: Error>(self, v: u64) -> Result<$ty, E> {
                v.try_into().map_err(E::custom)
            }

            fn visit_f64<E: Error>(self, v: f64) -> Result<$ty, E> {
                if v.fract() != 0.0 {
                    return Err(E::custom("expected integer value"));
                }
                if v < (<$ty>::MIN as f64) || v > (<$ty>::MAX as f64) {
                    return Err(E::custom("float value out of range"));
                }
                Ok(v as $ty)
            }
        }
    };
}

int_visitor!(Int32Visitor, i32, "a 32-bit signed integer");
int_visitor!(
    Uint32Visitor,
    u32,
    "a 32-bit unsigned integer or decimal string"
);
int_visitor!(
    Int64Visitor,
    i64,
    "a 64-bit signed integer or decimal string"
);
int_visitor!(
    Uint64Visitor,
    u64,
    "a 64-bit unsigned integer or decimal string"
);

struct DoubleVisitor;

impl Visitor<'_> for DoubleVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a 64-bit floating point value")
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<f64, E> {
        match v.parse::<f64>() {
            Ok(value) => Ok(value),
            Err(_) if v == "Infinity" => Ok(f64::INFINITY),
            Err(_) if v == "-Infinity" => Ok(f64::NEG_INFINITY),
            Err(_) if v == "NaN" => Ok(f64::NAN),
            Err(err) => Err(E::custom(err)),
        }
    }
}

struct FloatVisitor;

impl Visitor<'_> for FloatVisitor {
    type Value = f32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a 32-bit floating point value")
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<f32, E> {
        if v < f64::from(f32::MIN) || v > f64::from(f32::MAX) {
            Err(E::custom("float value out of range"))
        } else {
            Ok(v as f32)
        }
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<f32, E> {
        Ok(v as f32)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<f32, E> {
        Ok(v as f32)
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<f32, E> {
        match v.parse::<f32>() {
            Ok(value) => Ok(value),
            Err(_) if v == "Infinity" => Ok(f32::INFINITY),
            Err(_) if v == "-Infinity" => Ok(f32::NEG_INFINITY),
            Err(_) if v == "NaN" => Ok(f32::NAN),
            Err(err) => Err(E::custom(err)),
        }
    }
}

struct BoolVisitor;

impl Visitor<'_> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

/// Writes a string field straight from the parser's buffer.
struct StringVisitor<'a> {
    number: u32,
    out: &'a mut Vec<u8>,
}

impl Visitor<'_> for StringVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<(), E> {
        encode_key(self.number, WireType::LengthDelimited, self.out);
        encode_varint(v.len() as u64, self.out);
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64-encoded string")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Vec<u8>, E> {
        use base64::alphabet;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        use base64::{DecodeError, Engine};

        const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
        const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);

        let mut buf = Vec::new();
        match STANDARD.decode_vec(v, &mut buf) {
            Ok(()) => Ok(buf),
            Err(DecodeError::InvalidByte(_, b'-' | b'_')) => {
                buf.clear();
                URL_SAFE
                    .decode_vec(v, &mut buf)
                    .map(|()| buf)
                    .map_err(|err| E::custom(format!("invalid base64: {err}")))
            }
            Err(err) => Err(E::custom(format!("invalid base64: {err}"))),
        }
    }
}

/// Enum values by name or number; unknown names are errors (Mesos rejects them rather
/// than let a misspelt call type decode as UNKNOWN).
struct EnumVisitor<'a>(&'a super::schema::EnumSchema);

impl Visitor<'_> for EnumVisitor<'_> {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or integer")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<i32, E> {
        self.0
            .number(v)
            .ok_or_else(|| E::custom(format!("unknown value '{v}' for enum {}", self.0.full_name)))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<i32, E> {
        v.try_into().map_err(E::custom)
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<i32, E> {
        v.try_into().map_err(E::custom)
    }
}
