//! How keys and values are spelled in ZooKeeper: node names, value headers and the batch
//! record. Pure functions; the store in `mod.rs` does the I/O.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// First byte of a value node holding the value itself.
const INLINE: u8 = b'v';
/// First byte of a value node naming the chunks that hold the value.
const CHUNKED: u8 = b'c';
/// First bytes of a batch record (format version 1).
const RECORD_MAGIC: &[u8] = b"MSR1";
/// Length written for an absent field in a batch record.
const ABSENT: u32 = u32::MAX;

/// Value nodes are named `=` + the escaped segment; `=` in a segment is escaped, so a
/// directory node never starts with it.
pub(super) const VALUE_MARK: char = '=';

/// Whether ZooKeeper refuses `c` in a node name (its `PathUtils.validatePath`).
fn refused_by_zookeeper(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}')
}

/// A key segment (or with `slash`, a whole key) as a node name: `%`, `=`, the characters
/// ZooKeeper refuses (and `/` with `slash`) become `%XX` per UTF-8 byte.
pub(super) fn escape(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' || c == VALUE_MARK || (slash && c == '/') || refused_by_zookeeper(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The inverse of [`escape`]; None for a name no key escapes to.
pub(super) fn unescape(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The name of chunk `index` of generation `gen` of `key` in the blobs directory (`key`
/// empty: a batch record's chunk).
pub(super) fn blob_name(gen: &str, index: u32, key: &str) -> String {
    format!("{gen}-{index}-{}", escape(key, true))
}

/// A blob name's generation and key; None for a name [`blob_name`] does not make.
pub(super) fn parse_blob_name(name: &str) -> Option<(&str, String)> {
    let mut parts = name.splitn(3, '-');
    let gen = parts.next().filter(|g| !g.is_empty())?;
    parts.next()?.parse::<u32>().ok()?;
    let key = unescape(parts.next()?)?;
    Some((gen, key))
}

/// Where a value too large for one node is: chunks `0..chunks` of generation `gen`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Chunks {
    pub gen: String,
    pub chunks: u32,
    pub len: u64,
}

/// What a value node (or the commit node) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Header {
    Inline(Vec<u8>),
    Chunked(Chunks),
}

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Header::Inline(value) => {
                let mut data = Vec::with_capacity(value.len() + 1);
                data.push(INLINE);
                data.extend_from_slice(value);
                data
            }
            Header::Chunked(chunks) => {
                let mut data = vec![CHUNKED];
                data.extend(serde_json::to_vec(chunks).expect("chunk header serializes"));
                data
            }
        }
    }

    pub fn decode(mut data: Vec<u8>) -> Result<Header, String> {
        match data.first() {
            Some(&INLINE) => {
                data.remove(0);
                Ok(Header::Inline(data))
            }
            Some(&CHUNKED) => serde_json::from_slice(&data[1..])
                .map(Header::Chunked)
                .map_err(|e| format!("bad chunk header: {e}")),
            Some(other) => Err(format!("unknown header byte {other:#04x}")),
            None => Err("empty value node".to_string()),
        }
    }

    pub fn chunks(&self) -> Option<&Chunks> {
        match self {
            Header::Chunked(chunks) => Some(chunks),
            Header::Inline(_) => None,
        }
    }
}

/// One key of a batch: the value node's new data (None: delete it), and the chunks of the
/// value it replaces, to be deleted once the batch is in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub key: String,
    pub new: Option<Vec<u8>>,
    pub old: Option<Chunks>,
}

/// The batch record the commit node holds: magic, count, then per entry the key, the new
/// header and the old chunk header, each as a u32 length (`u32::MAX`: absent) and bytes.
pub(super) fn encode_record(entries: &[Entry]) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                let len = u32::try_from(bytes.len()).expect("field under 4 GiB");
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&ABSENT.to_be_bytes()),
        }
    }
    let mut out = RECORD_MAGIC.to_vec();
    let count = u32::try_from(entries.len()).expect("fewer than 4G entries");
    out.extend_from_slice(&count.to_be_bytes());
    for entry in entries {
        field(&mut out, Some(entry.key.as_bytes()));
        field(&mut out, entry.new.as_deref());
        let old = entry
            .old
            .as_ref()
            .map(|c| Header::Chunked(c.clone()).encode());
        field(&mut out, old.as_deref());
    }
    out
}

pub(super) fn decode_record(record: &[u8]) -> Result<Vec<Entry>, String> {
    struct Reader<'a>(&'a [u8]);
    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            if self.0.len() < n {
                return Err("batch record is truncated".to_string());
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_be_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            ))
        }
        fn field(&mut self) -> Result<Option<Vec<u8>>, String> {
            match self.u32()? {
                ABSENT => Ok(None),
                len => Ok(Some(self.take(len as usize)?.to_vec())),
            }
        }
    }
    let mut r = Reader(record);
    if r.take(RECORD_MAGIC.len())? != RECORD_MAGIC {
        return Err("not a batch record".to_string());
    }
    let count = r.u32()?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let key = r.field()?.ok_or("batch entry without a key")?;
        let key = String::from_utf8(key).map_err(|_| "batch key is not UTF-8")?;
        let new = r.field()?;
        let old = match r.field()? {
            None => None,
            Some(header) => match Header::decode(header)? {
                Header::Chunked(chunks) => Some(chunks),
                Header::Inline(_) => return Err("old chunks of a batch entry are inline".into()),
            },
        };
        entries.push(Entry { key, new, old });
    }
    if !r.0.is_empty() {
        return Err("trailing bytes after the batch record".to_string());
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_escaped_only_where_needed() {
        assert_eq!(escape("web", false), "web");
        assert_eq!(
            escape("2026-12-02T05:00:00.000Z", false),
            "2026-12-02T05:00:00.000Z"
        );
        assert_eq!(escape("a=b%c", false), "a%3Db%25c");
        assert_eq!(escape("apps/prod/web", true), "apps%2Fprod%2Fweb");
        assert_eq!(escape("apps/prod", false), "apps/prod");
        assert_eq!(escape("\u{1}\u{e000}", false), "%01%EE%80%80");
        assert_eq!(unescape("a%3Db%25c").as_deref(), Some("a=b%c"));
        assert_eq!(unescape("%EE%80%80").as_deref(), Some("\u{e000}"));
        for bad in ["%", "%4", "%zz", "%FF"] {
            assert_eq!(unescape(bad), None, "{bad}");
        }
    }

    #[test]
    fn blob_names_carry_generation_and_key() {
        let name = blob_name("9f2c", 3, "apps/prod/web-1");
        assert_eq!(name, "9f2c-3-apps%2Fprod%2Fweb-1");
        assert_eq!(
            parse_blob_name(&name),
            Some(("9f2c", "apps/prod/web-1".to_string()))
        );
        assert_eq!(parse_blob_name("9f2c-0-"), Some(("9f2c", String::new())));
        assert_eq!(parse_blob_name("junk"), None);
        assert_eq!(parse_blob_name("9f2c-x-key"), None);
    }

    #[test]
    fn headers_round_trip() {
        for header in [
            Header::Inline(Vec::new()),
            Header::Inline(b"{\"id\":\"/prod/web\"}".to_vec()),
            Header::Chunked(Chunks {
                gen: "abc".into(),
                chunks: 3,
                len: 3_000_000,
            }),
        ] {
            assert_eq!(Header::decode(header.encode()).unwrap(), header);
        }
        assert!(Header::decode(Vec::new()).is_err());
        assert!(Header::decode(b"x".to_vec()).is_err());
        assert!(Header::decode(b"c{".to_vec()).is_err());
    }

    #[test]
    fn records_round_trip_and_refuse_damage() {
        let entries = vec![
            Entry {
                key: "apps/prod/web".into(),
                new: Some(Header::Inline(b"app".to_vec()).encode()),
                old: Some(Chunks {
                    gen: "g1".into(),
                    chunks: 2,
                    len: 1_500_000,
                }),
            },
            Entry {
                key: "instances/x".into(),
                new: None,
                old: None,
            },
            Entry {
                key: "empty".into(),
                new: Some(Vec::new()),
                old: None,
            },
        ];
        let record = encode_record(&entries);
        assert_eq!(decode_record(&record).unwrap(), entries);
        assert!(decode_record(&record[..record.len() - 1]).is_err());
        let mut longer = record.clone();
        longer.push(0);
        assert!(decode_record(&longer).is_err());
        assert!(decode_record(b"nope").is_err());
        assert_eq!(decode_record(&encode_record(&[])).unwrap(), Vec::new());
    }

    proptest! {
        #[test]
        fn escaping_round_trips_to_names_zookeeper_takes(segment in "\\PC*|[\\x00-\\x1f=%/\u{e000}\u{fff0}-\u{ffff}a]*") {
            for slash in [false, true] {
                let name = escape(&segment, slash);
                prop_assert_eq!(unescape(&name), Some(segment.clone()));
                prop_assert!(!name.chars().any(refused_by_zookeeper));
                prop_assert!(!name.contains(VALUE_MARK));
                if slash {
                    prop_assert!(!name.contains('/'));
                }
            }
        }
    }
}
