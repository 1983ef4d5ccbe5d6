//! Property tests over the parsers that read untrusted input: RecordIO streams from the
//! network and flag values from command lines and environments. Any input must give a value
//! or an error, never a panic, and what is encoded must decode to itself however the bytes
//! are cut into chunks.

use proptest::prelude::*;

use crate::flags::{format_duration, normalize_args, parse_bool, parse_bytes, parse_duration};
use crate::recordio::{encode, Decoder};

/// Text that looks like flag values half of the time and is anything the other half.
fn flagish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,25}(\\.[0-9]{0,10})?(ns|us|ms|secs|mins|hrs|days|weeks|B|KB|MB|GB|TB|x)?",
        "(-|--)(no-)?[a-z_]{0,12}(=.{0,20})?",
        ".{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn value_parsers_never_panic(text in flagish()) {
        let _ = parse_duration(&text);
        let _ = parse_bytes(&text);
        let _ = parse_bool(&text);
    }

    #[test]
    fn printed_durations_parse_back(nanos in 0u64..(u64::MAX / 2)) {
        let d = std::time::Duration::from_nanos(nanos);
        let back = parse_duration(&format_duration(d)).expect("a printed duration parses");
        // Printing may round to the unit; it stays within a millionth.
        let (a, b) = (d.as_secs_f64(), back.as_secs_f64());
        prop_assert!((a - b).abs() <= a * 1e-6 + 1e-9, "{:?} -> {:?}", d, back);
    }

    #[test]
    fn command_lines_normalize_without_panic(args in prop::collection::vec(flagish(), 0..8)) {
        // Values naming files (`file://`) are read; keep the generated ones off the disk.
        prop_assume!(args.iter().all(|a| !a.contains("file:")));
        let all: Vec<String> = std::iter::once("prog".to_string()).chain(args).collect();
        let out = normalize_args(all.clone()).expect("no file values, no error");
        prop_assert_eq!(out.len(), all.len());
    }

    #[test]
    fn recordio_decoder_never_panics(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16),
        max in 0usize..256,
    ) {
        let mut decoder = Decoder::new(max);
        let mut failed = false;
        for chunk in &chunks {
            match decoder.feed(chunk) {
                Ok(records) => {
                    prop_assert!(!failed, "after an error every call fails");
                    prop_assert!(records.iter().all(|r| r.len() <= max));
                }
                Err(_) => failed = true,
            }
        }
    }

    #[test]
    fn recordio_round_trips_across_any_cuts(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream: Vec<u8> = records.iter().flat_map(|r| encode(r).to_vec()).collect();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut decoder = Decoder::new(1024);
        let mut decoded = Vec::new();
        let mut start = 0;
        for end in points.into_iter().chain(std::iter::once(stream.len())) {
            decoded.extend(decoder.feed(&stream[start..end]).expect("well-formed stream"));
            start = end;
        }
        let decoded: Vec<Vec<u8>> = decoded.iter().map(|b| b.to_vec()).collect();
        prop_assert_eq!(decoded, records);
        prop_assert!(decoder.is_idle());
    }
}
