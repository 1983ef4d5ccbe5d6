//! Writes Mesos's JSON straight from protobuf wire bytes.
//!
//! The typed message is prost-encoded (fast, no reflection) and these bytes are walked once,
//! guided by the message's [`Schemas`] tables, calling a serde `Serializer`: with
//! `serde_json::Serializer` the text is written directly, with `serde_json::value::Serializer`
//! a `Value` is built, so both outputs come from one walk.
//!
//! The output is what prost-reflect's `DynamicMessage` serializer produced through a
//! `serde_json::Value` (the previous implementation), byte for byte: keys of a message in
//! sorted order (a `serde_json::Map` sorted them), map entries sorted by key, 32-bit floats
//! written as the `f64` a `Value` stored, non-finite floats as `"NaN"`/`"Infinity"`.
//! Input comes from prost, so it is well formed and every field is written once in
//! field-number order; odd input (unknown fields, wrong wire types, truncation) is skipped
//! rather than trusted, and never panics.

use std::borrow::Cow;

use base64::display::Base64Display;
use base64::prelude::BASE64_STANDARD;
use serde::ser::{Error as _, Serialize, SerializeMap, SerializeSeq, Serializer};

use super::schema::{Cardinality, FieldKind, FieldSchema, Schemas, SCHEMAS};

/// A message's wire bytes, serialized as a JSON object.
pub(super) struct MessageJson<'a> {
    pub(super) message: usize,
    pub(super) bytes: &'a [u8],
}

/// One field value as it sits on the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
}

/// Consecutive occurrences of one field: `bytes[start..end]` holds their keys and values.
#[derive(Clone, Copy)]
struct Run {
    field: usize,
    rank: usize,
    start: usize,
    end: usize,
}

fn varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn take<'a>(bytes: &'a [u8], pos: &mut usize, len: usize) -> Option<&'a [u8]> {
    let end = pos.checked_add(len).filter(|end| *end <= bytes.len())?;
    let slice = &bytes[*pos..end];
    *pos = end;
    Some(slice)
}

/// Reads one field at `pos`: its number and value. Groups (never used by Mesos) and
/// malformed bytes end the walk.
fn field<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<(u64, Wire<'a>)> {
    let key = varint(bytes, pos)?;
    let wire = match key & 7 {
        0 => Wire::Varint(varint(bytes, pos)?),
        1 => Wire::Fixed64(u64::from_le_bytes(take(bytes, pos, 8)?.try_into().ok()?)),
        5 => Wire::Fixed32(u32::from_le_bytes(take(bytes, pos, 4)?.try_into().ok()?)),
        2 => {
            let len = usize::try_from(varint(bytes, pos)?).ok()?;
            Wire::Len(take(bytes, pos, len)?)
        }
        _ => return None,
    };
    Some((key >> 3, wire))
}

/// The values of one field stored in `bytes[run.start..run.end]` for each of `runs`,
/// packed encodings unpacked, values of the wrong wire type for `kind` dropped.
struct Values<'a> {
    kind: FieldKind,
    bytes: &'a [u8],
    runs: &'a [Run],
    pos: usize,
    /// Remaining elements of a packed value being unpacked.
    packed: &'a [u8],
}

fn values<'a>(kind: FieldKind, bytes: &'a [u8], runs: &'a [Run]) -> Values<'a> {
    Values {
        kind,
        bytes,
        runs,
        pos: runs.first().map_or(0, |r| r.start),
        packed: &[],
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = Wire<'a>;

    fn next(&mut self) -> Option<Wire<'a>> {
        loop {
            if !self.packed.is_empty() {
                let mut pos = 0;
                let wire = match wire_type(self.kind) {
                    0 => varint(self.packed, &mut pos).map(Wire::Varint),
                    1 => take(self.packed, &mut pos, 8).map(|b| {
                        Wire::Fixed64(u64::from_le_bytes(b.try_into().unwrap_or_default()))
                    }),
                    _ => take(self.packed, &mut pos, 4).map(|b| {
                        Wire::Fixed32(u32::from_le_bytes(b.try_into().unwrap_or_default()))
                    }),
                };
                match wire {
                    Some(wire) => {
                        self.packed = &self.packed[pos..];
                        return Some(wire);
                    }
                    None => self.packed = &[],
                }
            }
            let run = self.runs.first()?;
            if self.pos >= run.end {
                self.runs = &self.runs[1..];
                self.pos = self.runs.first().map_or(0, |r| r.start);
                continue;
            }
            let bytes = &self.bytes[..run.end];
            let Some((_, wire)) = field(bytes, &mut self.pos) else {
                self.pos = run.end;
                continue;
            };
            if wire_matches(self.kind, wire) {
                return Some(wire);
            }
            if let (0 | 1 | 5, Wire::Len(packed)) = (wire_type(self.kind), wire) {
                self.packed = packed;
            }
        }
    }
}

fn wire_type(kind: FieldKind) -> u8 {
    match kind {
        FieldKind::Double | FieldKind::Fixed64 | FieldKind::Sfixed64 => 1,
        FieldKind::Float | FieldKind::Fixed32 | FieldKind::Sfixed32 => 5,
        FieldKind::String | FieldKind::Bytes | FieldKind::Message(_) => 2,
        _ => 0,
    }
}

impl Serialize for MessageJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let schemas = &*SCHEMAS;
        let schema = &schemas.messages[self.message];
        if schema.well_known {
            return well_known(schemas, self.message, self.bytes).serialize(serializer);
        }
        let bytes = self.bytes;
        let mut runs = Runs::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let start = pos;
            let Some((number, _)) = field(bytes, &mut pos) else {
                break;
            };
            let Some(index) = u32::try_from(number)
                .ok()
                .and_then(|n| schema.field_by_number(n))
            else {
                continue;
            };
            match runs.last_mut() {
                Some(run) if run.field == index && run.end == start => run.end = pos,
                _ => runs.push(Run {
                    field: index,
                    rank: schema.fields[index].rank,
                    start,
                    end: pos,
                }),
            }
        }
        let runs = runs.as_mut_slice();
        runs.sort_by_key(|run| run.rank);
        let mut map = serializer.serialize_map(None)?;
        let mut rest = &*runs;
        while let Some(first) = rest.first() {
            let same = rest.iter().take_while(|r| r.field == first.field).count();
            let (group, tail) = rest.split_at(same);
            rest = tail;
            let field = &schema.fields[first.field];
            match field.cardinality {
                Cardinality::List => map.serialize_entry(
                    &*field.name,
                    &ListJson {
                        schemas,
                        kind: field.kind,
                        bytes,
                        runs: group,
                    },
                )?,
                Cardinality::Map => map.serialize_entry(
                    &*field.name,
                    &MapJson {
                        schemas,
                        field,
                        bytes,
                        runs: group,
                    },
                )?,
                Cardinality::Singular => {
                    if let Some(value) = singular(field.kind, bytes, group) {
                        map.serialize_entry(
                            &*field.name,
                            &ValueJson {
                                schemas,
                                kind: field.kind,
                                wire: value.as_wire(),
                            },
                        )?;
                    }
                }
            }
        }
        map.end()
    }
}

/// The runs of one message, on the stack unless there are many (a message per nesting
/// level of the walk allocated otherwise).
// The inline variant is large on purpose: it lives on the stack for one message's walk.
#[allow(clippy::large_enum_variant)]
enum Runs {
    Inline([Run; 24], usize),
    Heap(Vec<Run>),
}

impl Runs {
    const EMPTY: Run = Run {
        field: 0,
        rank: 0,
        start: 0,
        end: 0,
    };

    fn new() -> Self {
        Runs::Inline([Self::EMPTY; 24], 0)
    }

    fn last_mut(&mut self) -> Option<&mut Run> {
        self.as_mut_slice().last_mut()
    }

    fn push(&mut self, run: Run) {
        match self {
            Runs::Inline(array, len) if *len < array.len() => {
                array[*len] = run;
                *len += 1;
            }
            Runs::Inline(array, _) => {
                let mut heap = array.to_vec();
                heap.push(run);
                *self = Runs::Heap(heap);
            }
            Runs::Heap(heap) => heap.push(run),
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Run] {
        match self {
            Runs::Inline(array, len) => &mut array[..*len],
            Runs::Heap(heap) => heap,
        }
    }
}

/// A singular value: the last occurrence wins, occurrences of a message merge (protobuf's
/// rule; prost never writes a field twice, so the merge copies only on odd input).
enum Singular<'a> {
    Wire(Wire<'a>),
    Merged(Vec<u8>),
}

impl Singular<'_> {
    fn as_wire(&self) -> Wire<'_> {
        match self {
            Singular::Wire(wire) => *wire,
            Singular::Merged(bytes) => Wire::Len(bytes),
        }
    }
}

fn singular<'a>(kind: FieldKind, bytes: &'a [u8], runs: &'a [Run]) -> Option<Singular<'a>> {
    let mut all = values(kind, bytes, runs);
    let first = all.next()?;
    let Some(second) = all.next() else {
        return Some(Singular::Wire(first));
    };
    if let (FieldKind::Message(_), Wire::Len(a), Wire::Len(b)) = (kind, first, second) {
        let mut merged = [a, b].concat();
        for wire in all {
            if let Wire::Len(more) = wire {
                merged.extend_from_slice(more);
            }
        }
        return Some(Singular::Merged(merged));
    }
    Some(Singular::Wire(all.last().unwrap_or(second)))
}

struct ListJson<'a> {
    schemas: &'a Schemas,
    kind: FieldKind,
    bytes: &'a [u8],
    runs: &'a [Run],
}

impl Serialize for ListJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for wire in values(self.kind, self.bytes, self.runs) {
            seq.serialize_element(&ValueJson {
                schemas: self.schemas,
                kind: self.kind,
                wire,
            })?;
        }
        seq.end()
    }
}

struct MapJson<'a> {
    schemas: &'a Schemas,
    field: &'a FieldSchema,
    bytes: &'a [u8],
    runs: &'a [Run],
}

impl Serialize for MapJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let FieldKind::Message(entry) = self.field.kind else {
            return Err(S::Error::custom("map field without an entry type"));
        };
        let entry = &self.schemas.messages[entry];
        let (Some(key_field), Some(value_field)) = (
            entry.field_by_number(1).map(|i| &entry.fields[i]),
            entry.field_by_number(2).map(|i| &entry.fields[i]),
        ) else {
            return Err(S::Error::custom("map entry without key or value"));
        };
        let mut entries: Vec<(Cow<'_, str>, Wire<'_>)> = Vec::new();
        for wire in values(self.field.kind, self.bytes, self.runs) {
            let Wire::Len(bytes) = wire else { continue };
            let (mut key, mut value) = (None, None);
            let mut pos = 0;
            while let Some((number, wire)) = field(bytes, &mut pos) {
                if number == 1 && wire_matches(key_field.kind, wire) {
                    key = Some(wire);
                } else if number == 2 && wire_matches(value_field.kind, wire) {
                    value = Some(wire);
                }
            }
            let key = key.unwrap_or_else(|| default_wire(self.schemas, key_field.kind));
            let value = value.unwrap_or_else(|| default_wire(self.schemas, value_field.kind));
            entries.push((map_key(key_field.kind, key), value));
        }
        // A JSON object keeps one value per key, the last one, in key order.
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, wire) in &entries {
            map.serialize_entry(
                &**key,
                &ValueJson {
                    schemas: self.schemas,
                    kind: value_field.kind,
                    wire: *wire,
                },
            )?;
        }
        map.end()
    }
}

fn wire_matches(kind: FieldKind, wire: Wire<'_>) -> bool {
    matches!(
        (wire_type(kind), wire),
        (0, Wire::Varint(_)) | (1, Wire::Fixed64(_)) | (5, Wire::Fixed32(_)) | (2, Wire::Len(_))
    )
}

/// What an absent map key or value decodes to.
fn default_wire(schemas: &Schemas, kind: FieldKind) -> Wire<'static> {
    match wire_type(kind) {
        0 => Wire::Varint(match kind {
            FieldKind::Enum(e) => schemas.enums[e].default_number as i64 as u64,
            _ => 0,
        }),
        1 => Wire::Fixed64(0),
        5 => Wire::Fixed32(0),
        _ => Wire::Len(&[]),
    }
}

/// Map keys are JSON object keys: strings, numbers and bools in decimal.
fn map_key(kind: FieldKind, wire: Wire<'_>) -> Cow<'_, str> {
    match (kind, wire) {
        (FieldKind::String, Wire::Len(bytes)) => String::from_utf8_lossy(bytes),
        (FieldKind::Bool, Wire::Varint(v)) => Cow::Borrowed(if v != 0 { "true" } else { "false" }),
        (FieldKind::Int32, Wire::Varint(v)) => Cow::Owned((v as i32).to_string()),
        (FieldKind::Int64, Wire::Varint(v)) => Cow::Owned((v as i64).to_string()),
        (FieldKind::Uint32, Wire::Varint(v)) => Cow::Owned((v as u32).to_string()),
        (FieldKind::Uint64, Wire::Varint(v)) => Cow::Owned(v.to_string()),
        (FieldKind::Sint32, Wire::Varint(v)) => Cow::Owned(zigzag32(v).to_string()),
        (FieldKind::Sint64, Wire::Varint(v)) => Cow::Owned(zigzag64(v).to_string()),
        (FieldKind::Fixed32, Wire::Fixed32(v)) => Cow::Owned(v.to_string()),
        (FieldKind::Sfixed32, Wire::Fixed32(v)) => Cow::Owned((v as i32).to_string()),
        (FieldKind::Fixed64, Wire::Fixed64(v)) => Cow::Owned(v.to_string()),
        (FieldKind::Sfixed64, Wire::Fixed64(v)) => Cow::Owned((v as i64).to_string()),
        _ => Cow::Borrowed(""),
    }
}

fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct ValueJson<'a> {
    schemas: &'a Schemas,
    kind: FieldKind,
    wire: Wire<'a>,
}

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.kind, self.wire) {
            (FieldKind::Int32, Wire::Varint(v)) => serializer.serialize_i32(v as i32),
            (FieldKind::Int64, Wire::Varint(v)) => serializer.serialize_i64(v as i64),
            (FieldKind::Uint32, Wire::Varint(v)) => serializer.serialize_u32(v as u32),
            (FieldKind::Uint64, Wire::Varint(v)) => serializer.serialize_u64(v),
            (FieldKind::Sint32, Wire::Varint(v)) => serializer.serialize_i32(zigzag32(v)),
            (FieldKind::Sint64, Wire::Varint(v)) => serializer.serialize_i64(zigzag64(v)),
            (FieldKind::Bool, Wire::Varint(v)) => serializer.serialize_bool(v != 0),
            (FieldKind::Enum(e), Wire::Varint(v)) => {
                let number = v as i32;
                match self.schemas.enums[e].name(number) {
                    Some(name) => serializer.serialize_str(name),
                    None => serializer.serialize_i32(number),
                }
            }
            (FieldKind::Fixed32, Wire::Fixed32(v)) => serializer.serialize_u32(v),
            (FieldKind::Sfixed32, Wire::Fixed32(v)) => serializer.serialize_i32(v as i32),
            // A `serde_json::Value` held an f32 as the f64 it widens to, and wrote that.
            (FieldKind::Float, Wire::Fixed32(v)) => float(serializer, f64::from(f32::from_bits(v))),
            (FieldKind::Fixed64, Wire::Fixed64(v)) => serializer.serialize_u64(v),
            (FieldKind::Sfixed64, Wire::Fixed64(v)) => serializer.serialize_i64(v as i64),
            (FieldKind::Double, Wire::Fixed64(v)) => float(serializer, f64::from_bits(v)),
            (FieldKind::String, Wire::Len(bytes)) => {
                serializer.serialize_str(&String::from_utf8_lossy(bytes))
            }
            (FieldKind::Bytes, Wire::Len(bytes)) => {
                serializer.collect_str(&Base64Display::new(bytes, &BASE64_STANDARD))
            }
            (FieldKind::Message(message), Wire::Len(bytes)) => {
                MessageJson { message, bytes }.serialize(serializer)
            }
            _ => Err(S::Error::custom("wire type does not match the field")),
        }
    }
}

fn float<S: Serializer>(serializer: S, value: f64) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(value)
    } else if value == f64::INFINITY {
        serializer.serialize_str("Infinity")
    } else if value == f64::NEG_INFINITY {
        serializer.serialize_str("-Infinity")
    } else {
        serializer.serialize_str("NaN")
    }
}

/// `google.protobuf` types (Mesos uses `Duration`) have JSON forms of their own, which
/// prost-reflect knows. A value it cannot write (a `Duration` out of range) becomes `null`:
/// the previous implementation panicked there.
fn well_known(schemas: &Schemas, message: usize, bytes: &[u8]) -> serde_json::Value {
    let descriptor = schemas.messages[message].descriptor.clone();
    prost_reflect::DynamicMessage::decode(descriptor, bytes)
        .ok()
        .and_then(|dynamic| {
            dynamic
                .serialize_with_options(serde_json::value::Serializer, &super::serialize_options())
                .ok()
        })
        .unwrap_or(serde_json::Value::Null)
}
