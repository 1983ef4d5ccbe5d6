//! Per-message lookup tables for the JSON codec, built once from [`crate::DESCRIPTOR_POOL`].
//!
//! prost-reflect answers "which field is `framework_id`?" and "what is enum value 6 called?"
//! through descriptor handles that clone an `Arc` per call; the codec asks these questions
//! for every key and value it reads or writes, so it reads plain tables instead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use prost_reflect::{Kind, MessageDescriptor};

/// Every message and enum of the pool, addressed by index.
pub(super) struct Schemas {
    pub(super) messages: Vec<MessageSchema>,
    pub(super) enums: Vec<EnumSchema>,
    by_name: HashMap<String, usize>,
}

pub(super) struct MessageSchema {
    pub(super) descriptor: MessageDescriptor,
    /// Fields in field-number order, as prost writes them.
    pub(super) fields: Vec<FieldSchema>,
    /// JSON key -> index into `fields`. Proto names and camelCase json names both; a json
    /// name wins over another field's proto name, as in prost-reflect's lookup.
    by_key: HashMap<Box<str>, usize, Fnv>,
    /// Indices of the `required` fields.
    pub(super) required: Vec<usize>,
    /// Well-known `google.protobuf` types have their own JSON forms; the codec hands them
    /// to prost-reflect.
    pub(super) well_known: bool,
}

pub(super) struct FieldSchema {
    pub(super) number: u32,
    pub(super) name: Box<str>,
    pub(super) kind: FieldKind,
    pub(super) cardinality: Cardinality,
    /// Index of the containing oneof within its message.
    pub(super) oneof: Option<usize>,
    /// Position of `name` among the message's field names: the order in which the JSON
    /// mapping has always written keys (it went through a sorted `serde_json::Map`).
    pub(super) rank: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Cardinality {
    Singular,
    List,
    /// The kind is `Message` of the map entry type (key = field 1, value = field 2).
    Map,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum FieldKind {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    /// Index into [`Schemas::enums`].
    Enum(usize),
    /// Index into [`Schemas::messages`].
    Message(usize),
}

pub(super) struct EnumSchema {
    pub(super) full_name: Box<str>,
    /// The first declared value: what an absent proto2 enum value reads as.
    pub(super) default_number: i32,
    by_name: HashMap<Box<str>, i32, Fnv>,
    /// Sorted by number.
    by_number: Vec<(i32, Box<str>)>,
}

/// FNV-1a: keys are a few bytes of field or enum names, where SipHash's setup dominates.
/// Denial of service is not a concern: the tables are fixed, built from the descriptors.
#[derive(Default)]
struct FnvHasher(u64);

type Fnv = BuildHasherDefault<FnvHasher>;

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

impl EnumSchema {
    pub(super) fn number(&self, name: &str) -> Option<i32> {
        self.by_name.get(name).copied()
    }

    pub(super) fn name(&self, number: i32) -> Option<&str> {
        self.by_number
            .binary_search_by_key(&number, |(n, _)| *n)
            .ok()
            .map(|i| &*self.by_number[i].1)
    }
}

impl MessageSchema {
    pub(super) fn field_by_key(&self, key: &str) -> Option<usize> {
        self.by_key.get(key).copied()
    }

    pub(super) fn field_by_number(&self, number: u32) -> Option<usize> {
        self.fields.binary_search_by_key(&number, |f| f.number).ok()
    }
}

impl Schemas {
    /// The tables of `descriptor`, if it belongs to this crate's pool.
    pub(super) fn message(&self, descriptor: &MessageDescriptor) -> Option<usize> {
        let index = *self.by_name.get(descriptor.full_name())?;
        (self.messages[index].descriptor == *descriptor).then_some(index)
    }
}

pub(super) static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| build(&crate::DESCRIPTOR_POOL));

fn build(pool: &prost_reflect::DescriptorPool) -> Schemas {
    let by_name: HashMap<String, usize> = pool
        .all_messages()
        .enumerate()
        .map(|(i, m)| (m.full_name().to_owned(), i))
        .collect();
    let enum_index: HashMap<String, usize> = pool
        .all_enums()
        .enumerate()
        .map(|(i, e)| (e.full_name().to_owned(), i))
        .collect();
    let enums = pool
        .all_enums()
        .map(|e| EnumSchema {
            full_name: e.full_name().into(),
            default_number: e.default_value().number(),
            by_name: e.values().map(|v| (v.name().into(), v.number())).collect(),
            by_number: {
                let mut by_number: Vec<(i32, Box<str>)> = e
                    .values()
                    .filter_map(|v| {
                        let first = e.get_value(v.number())?;
                        Some((v.number(), first.name().into()))
                    })
                    .collect();
                by_number.sort_by_key(|(n, _)| *n);
                by_number.dedup_by_key(|(n, _)| *n);
                by_number
            },
        })
        .collect();
    let messages = pool
        .all_messages()
        .map(|descriptor| {
            let mut names: Vec<String> = descriptor.fields().map(|f| f.name().to_owned()).collect();
            names.sort();
            let fields: Vec<FieldSchema> = descriptor
                .fields()
                .map(|f| FieldSchema {
                    number: f.number(),
                    name: f.name().into(),
                    kind: match f.kind() {
                        Kind::Double => FieldKind::Double,
                        Kind::Float => FieldKind::Float,
                        Kind::Int32 => FieldKind::Int32,
                        Kind::Int64 => FieldKind::Int64,
                        Kind::Uint32 => FieldKind::Uint32,
                        Kind::Uint64 => FieldKind::Uint64,
                        Kind::Sint32 => FieldKind::Sint32,
                        Kind::Sint64 => FieldKind::Sint64,
                        Kind::Fixed32 => FieldKind::Fixed32,
                        Kind::Fixed64 => FieldKind::Fixed64,
                        Kind::Sfixed32 => FieldKind::Sfixed32,
                        Kind::Sfixed64 => FieldKind::Sfixed64,
                        Kind::Bool => FieldKind::Bool,
                        Kind::String => FieldKind::String,
                        Kind::Bytes => FieldKind::Bytes,
                        Kind::Enum(e) => FieldKind::Enum(enum_index[e.full_name()]),
                        Kind::Message(m) => FieldKind::Message(by_name[m.full_name()]),
                    },
                    cardinality: if f.is_map() {
                        Cardinality::Map
                    } else if f.is_list() {
                        Cardinality::List
                    } else {
                        Cardinality::Singular
                    },
                    oneof: f.containing_oneof().map(|o| {
                        descriptor
                            .oneofs()
                            .position(|x| x == o)
                            .expect("a field's oneof is one of its message's oneofs")
                    }),
                    rank: names
                        .binary_search_by(|n| n.as_str().cmp(f.name()))
                        .expect("every field name is in the list"),
                })
                .collect();
            let mut by_key: HashMap<Box<str>, usize, Fnv> = HashMap::default();
            for (i, f) in descriptor.fields().enumerate() {
                by_key.insert(f.name().into(), i);
            }
            for (i, f) in descriptor.fields().enumerate() {
                by_key.insert(f.json_name().into(), i);
            }
            MessageSchema {
                required: descriptor
                    .fields()
                    .enumerate()
                    .filter(|(_, f)| f.is_required())
                    .map(|(i, _)| i)
                    .collect(),
                well_known: descriptor.full_name().starts_with("google.protobuf."),
                descriptor,
                fields,
                by_key,
            }
        })
        .collect();
    Schemas {
        messages,
        enums,
        by_name,
    }
}
