//! Randomness derived from one seed, so that a run is reproducible.
//!
//! Every random choice is a pure function of `(seed, stream, n)`: the same task id on the
//! same seed always gets the same duration, whichever agent or framework draws it and in
//! whatever order. There is no shared generator whose state would depend on timing.

/// SplitMix64's finaliser: a fast, well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit value for item `n` of `stream`.
pub fn value(seed: u64, stream: u64, n: u64) -> u64 {
    mix(mix(mix(seed) ^ stream) ^ n)
}

/// A number in `[0, 1)` for item `n` of `stream`.
pub fn unit(seed: u64, stream: u64, n: u64) -> f64 {
    (value(seed, stream, n) >> 11) as f64 / (1u64 << 53) as f64
}

/// Hashes a name into a stream number (FNV-1a), for streams keyed by text.
pub fn stream_of(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A version-4-shaped UUID for item `n` of `stream`.
pub fn uuid(seed: u64, stream: u64, n: u64) -> Vec<u8> {
    let hi = value(seed, stream, n.wrapping_mul(2));
    let lo = value(seed, stream, n.wrapping_mul(2).wrapping_add(1));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    bytes.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_outputs_and_spread() {
        assert_eq!(value(1, 2, 3), value(1, 2, 3));
        assert_ne!(value(1, 2, 3), value(2, 2, 3));
        assert_ne!(value(1, 2, 3), value(1, 3, 3));
        let mean: f64 = (0..10_000).map(|n| unit(7, 0, n)).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert!((0..10_000).all(|n| (0.0..1.0).contains(&unit(7, 1, n))));
        let u = uuid(1, 1, 1);
        assert_eq!(u.len(), 16);
        assert_eq!(u[6] >> 4, 4);
        assert_ne!(uuid(1, 1, 1), uuid(1, 1, 2));
    }
}
