//! Mesos id formats. The master's id is a random UUID; the ids it hands out are that id
//! with a suffix and a counter, so ids from different master incarnations never collide.

/// A fresh master id (a random UUID, as Mesos uses).
pub fn new_master_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `<master>-0000`, `<master>-0001`, ...
pub fn framework_id(master_id: &str, n: u64) -> String {
    format!("{master_id}-{n:04}")
}

/// `<master>-S0`, `<master>-S1`, ...
pub fn agent_id(master_id: &str, n: u64) -> String {
    format!("{master_id}-S{n}")
}

/// `<master>-O0`, `<master>-O1`, ...
pub fn offer_id(master_id: &str, n: u64) -> String {
    format!("{master_id}-O{n}")
}

/// A random status update uuid (16 raw bytes, as on the wire).
pub fn new_uuid_bytes() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes().to_vec()
}

/// Renders raw uuid bytes for logs; anything that is not 16 bytes is shown in hex.
pub fn uuid_to_string(bytes: &[u8]) -> String {
    match uuid::Uuid::from_slice(bytes) {
        Ok(u) => u.to_string(),
        Err(_) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_mesos() {
        let m = "5b1f0c2e-1111-2222-3333-444455556666";
        assert_eq!(framework_id(m, 0), format!("{m}-0000"));
        assert_eq!(framework_id(m, 12345), format!("{m}-12345"));
        assert_eq!(agent_id(m, 3), format!("{m}-S3"));
        assert_eq!(offer_id(m, 7), format!("{m}-O7"));
        assert_eq!(new_master_id().len(), 36);
        assert_eq!(new_uuid_bytes().len(), 16);
    }
}
