//! RecordIO decoding for the scheduler's event stream: `<decimal length>\n<bytes>` repeated.
//! Written here rather than taken from `mesos-common` so the tests check the framing
//! independently of the code under test.

/// Longest length prefix accepted; anything longer is a framing error, not a huge record.
const MAX_PREFIX_DIGITS: usize = 20;

/// Incremental decoder: feed chunks as they arrive, get complete records back.
#[derive(Debug, Default)]
pub struct RecordIoDecoder {
    buffer: Vec<u8>,
}

impl RecordIoDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `chunk` and returns every record it completes, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        self.buffer.extend_from_slice(chunk);
        let mut records = Vec::new();
        loop {
            let Some(newline) = self.buffer.iter().position(|&b| b == b'\n') else {
                if self.buffer.len() > MAX_PREFIX_DIGITS {
                    return Err(format!(
                        "no newline within {MAX_PREFIX_DIGITS} bytes: {:?}",
                        String::from_utf8_lossy(&self.buffer[..MAX_PREFIX_DIGITS])
                    ));
                }
                break;
            };
            let prefix = &self.buffer[..newline];
            if prefix.is_empty()
                || prefix.len() > MAX_PREFIX_DIGITS
                || !prefix.iter().all(u8::is_ascii_digit)
            {
                return Err(format!(
                    "invalid RecordIO length prefix {:?}",
                    String::from_utf8_lossy(prefix)
                ));
            }
            let length: usize = std::str::from_utf8(prefix)
                .expect("digits are ASCII")
                .parse()
                .map_err(|e| format!("invalid RecordIO length: {e}"))?;
            let end = newline + 1 + length;
            if self.buffer.len() < end {
                break;
            }
            records.push(self.buffer[newline + 1..end].to_vec());
            self.buffer.drain(..end);
        }
        Ok(records)
    }

    /// True when no partial record is buffered.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_records_in_one_chunk() {
        let mut d = RecordIoDecoder::new();
        let out = d.feed(b"3\nabc2\nde0\n").unwrap();
        assert_eq!(out, vec![b"abc".to_vec(), b"de".to_vec(), Vec::new()]);
        assert!(d.is_empty());
    }

    #[test]
    fn record_split_across_chunks_at_every_position() {
        let input = b"20\n{\"type\":\"HEARTBEAT\"}5\nhello";
        for split in 0..=input.len() {
            let mut d = RecordIoDecoder::new();
            let mut out = d.feed(&input[..split]).unwrap();
            out.extend(d.feed(&input[split..]).unwrap());
            assert_eq!(
                out,
                vec![b"{\"type\":\"HEARTBEAT\"}".to_vec(), b"hello".to_vec()],
                "split at {split}"
            );
            assert!(d.is_empty());
        }
    }

    #[test]
    fn byte_by_byte() {
        let mut d = RecordIoDecoder::new();
        let mut out = Vec::new();
        for b in b"1\nx11\nhello world" {
            out.extend(d.feed(&[*b]).unwrap());
        }
        assert_eq!(out, vec![b"x".to_vec(), b"hello world".to_vec()]);
    }

    #[test]
    fn bad_prefix_is_an_error() {
        assert!(RecordIoDecoder::new().feed(b"x\nabc").is_err());
        assert!(RecordIoDecoder::new().feed(b"\nabc").is_err());
        assert!(RecordIoDecoder::new()
            .feed(b"123456789012345678901234567890")
            .is_err());
    }
}
