//! RecordIO, the framing of the v1 HTTP event streams: each record is its length in
//! decimal, a newline, then that many bytes. Chunk boundaries carry no meaning, so the
//! decoder keeps partial input between calls. A record larger than the configured limit is
//! an error rather than an allocation: a hostile or broken peer cannot make us buffer
//! without bound.

use bytes::{Buf, Bytes, BytesMut};

/// Default limit on one record: far above any real event, far below a memory problem.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 64 * 1024 * 1024;

/// Longest length prefix we accept (digits of `DEFAULT_MAX_RECORD_SIZE` and then some).
const MAX_LENGTH_DIGITS: usize = 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordIoError {
    #[error("invalid RecordIO length prefix {0:?}")]
    InvalidLength(String),
    #[error("RecordIO record of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: u64, limit: usize },
}

/// Frames one record.
pub fn encode(record: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(record.len() + 12);
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(record);
    out.freeze()
}

/// Incremental decoder: feed it chunks as they arrive, get whole records out.
#[derive(Debug)]
pub struct Decoder {
    buffer: BytesMut,
    /// Length of the record being read, once its prefix has been parsed.
    pending: Option<usize>,
    max_record_size: usize,
    failed: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RECORD_SIZE)
    }
}

impl Decoder {
    pub fn new(max_record_size: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            pending: None,
            max_record_size,
            failed: false,
        }
    }

    /// Adds a chunk and returns every record it completes. After an error the stream is
    /// unusable (the framing is lost) and every later call returns the same kind of error.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        if self.failed {
            return Err(RecordIoError::InvalidLength("stream already failed".into()));
        }
        self.buffer.extend_from_slice(chunk);
        let mut records = Vec::new();
        loop {
            match self.pending {
                None => {
                    let newline = self.buffer.iter().position(|b| *b == b'\n');
                    let Some(end) = newline else {
                        if self.buffer.len() > MAX_LENGTH_DIGITS {
                            return Err(self.fail_length(&self.buffer.clone()));
                        }
                        break;
                    };
                    let prefix = self.buffer.split_to(end + 1);
                    let digits = &prefix[..end];
                    let size = self.parse_length(digits)?;
                    self.pending = Some(size);
                }
                Some(size) => {
                    if self.buffer.len() < size {
                        break;
                    }
                    records.push(self.buffer.split_to(size).freeze());
                    self.pending = None;
                }
            }
        }
        Ok(records)
    }

    /// True when no partial record is buffered (a clean place for a stream to end).
    pub fn is_idle(&self) -> bool {
        self.pending.is_none() && self.buffer.is_empty()
    }

    fn parse_length(&mut self, digits: &[u8]) -> Result<usize, RecordIoError> {
        if digits.is_empty()
            || digits.len() > MAX_LENGTH_DIGITS
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return Err(self.fail_length(digits));
        }
        let text = std::str::from_utf8(digits).expect("ascii digits");
        // All digits, so a parse failure can only be overflow: too large, not malformed.
        let size: u64 = text.parse().unwrap_or(u64::MAX);
        if size > self.max_record_size as u64 {
            self.failed = true;
            return Err(RecordIoError::TooLarge {
                size,
                limit: self.max_record_size,
            });
        }
        Ok(size as usize)
    }

    fn fail_length(&mut self, digits: &[u8]) -> RecordIoError {
        self.failed = true;
        self.buffer.advance(self.buffer.len());
        let shown: String = String::from_utf8_lossy(&digits[..digits.len().min(32)]).into();
        RecordIoError::InvalidLength(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_reference_example() {
        let mut d = Decoder::default();
        let out = d.feed(b"20\n{\"type\":\"HEARTBEAT\"}").unwrap();
        assert_eq!(out, vec![Bytes::from_static(b"{\"type\":\"HEARTBEAT\"}")]);
        assert!(d.is_idle());
    }

    #[test]
    fn handles_split_and_joined_records() {
        let mut d = Decoder::default();
        assert!(d.feed(b"5\nhel").unwrap().is_empty());
        assert_eq!(d.feed(b"lo3\nabc0\n1").unwrap(), vec!["hello", "abc", ""]);
        assert!(!d.is_idle());
        assert_eq!(d.feed(b"\nx").unwrap(), vec!["x"]);
    }

    #[test]
    fn rejects_bad_prefixes_and_huge_records() {
        for bad in [
            &b"abc\n"[..],
            b"-1\n",
            b"\n",
            b"1 2\n",
            b"123456789012345678901234567890",
        ] {
            assert!(
                matches!(
                    Decoder::default().feed(bad),
                    Err(RecordIoError::InvalidLength(_))
                ),
                "{bad:?}"
            );
        }
        let mut d = Decoder::new(10);
        assert_eq!(
            d.feed(b"11\n"),
            Err(RecordIoError::TooLarge {
                size: 11,
                limit: 10
            })
        );
        assert!(d.feed(b"1\na").is_err(), "a failed stream stays failed");
        let mut d = Decoder::new(10);
        assert!(matches!(
            d.feed(b"99999999999999999999\n"),
            Err(RecordIoError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_records(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
            cuts in proptest::collection::vec(0usize..600, 0..10),
        ) {
            let stream: Vec<u8> = records.iter().flat_map(|r| encode(r).to_vec()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort();
            let mut d = Decoder::default();
            let mut out = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain(std::iter::once(stream.len())) {
                out.extend(d.feed(&stream[start..cut]).unwrap());
                start = cut;
            }
            let got: Vec<Vec<u8>> = out.into_iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(got, records);
            prop_assert!(d.is_idle());
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut d = Decoder::new(1024);
            let _ = d.feed(&input);
        }
    }
}
