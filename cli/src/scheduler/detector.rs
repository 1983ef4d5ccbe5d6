//! Finding the leading master. The scheduler asks a [`Detector`] for an address before each
//! subscription attempt; a standby master's 307 redirect corrects a stale answer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// `host:port` of a master's HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MasterAddress {
    pub host: String,
    pub port: u16,
}

/// Port a master listens on when an address names none.
pub const DEFAULT_MASTER_PORT: u16 = 5050;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DetectorError {
    #[error("invalid master address '{0}': expected host:port")]
    InvalidAddress(String),
    #[error("master detection through '{0}' is not supported yet")]
    Unsupported(String),
    #[error("no leading master: {0}")]
    NoLeader(String),
}

impl MasterAddress {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// Accepts the spellings a master address comes in: `host:port`, `host` (port 5050),
    /// `http://host:port[/path]`, a libprocess pid `master@host:port`, and the scheme-less
    /// `//host:port/api/v1/scheduler` a standby master puts in its `Location` header.
    pub fn parse(text: &str) -> Result<Self, DetectorError> {
        let invalid = || DetectorError::InvalidAddress(text.to_string());
        let mut rest = text.trim();
        for prefix in ["http://", "//"] {
            if let Some(stripped) = rest.strip_prefix(prefix) {
                rest = stripped;
                break;
            }
        }
        if let Some((_, after)) = rest.split_once('@') {
            rest = after;
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(invalid());
        }
        // A bracketed IPv6 literal keeps its colons inside the brackets.
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..].parse::<u16>().map_err(|_| invalid())?;
                (&authority[..i], port)
            }
            _ => (authority, DEFAULT_MASTER_PORT),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(invalid());
        }
        Ok(Self::new(host, port))
    }

    /// Base URL of the master, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{self}")
    }
}

impl fmt::Display for MasterAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl std::str::FromStr for MasterAddress {
    type Err = DetectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

pub type DetectFuture<'a> =
    Pin<Box<dyn Future<Output = Result<MasterAddress, DetectorError>> + Send + 'a>>;

/// Source of the leading master's address.
///
/// `detect` resolves to the current leader, waiting while none is elected. It is called
/// before every subscription attempt, so an implementation that watches an election (the
/// ZooKeeper detector) only needs to keep its latest answer at hand.
pub trait Detector: Send + Sync {
    fn detect(&self) -> DetectFuture<'_>;
}

/// A fixed master address (`--master=host:port`).
#[derive(Debug, Clone)]
pub struct StaticDetector {
    address: MasterAddress,
}

impl StaticDetector {
    pub fn new(address: MasterAddress) -> Self {
        Self { address }
    }
}

impl Detector for StaticDetector {
    fn detect(&self) -> DetectFuture<'_> {
        let address = self.address.clone();
        Box::pin(async move { Ok(address) })
    }
}

/// Builds the detector a `--master` flag value asks for. `file://` values were already
/// replaced by the file's contents by `mesos_common::flags`.
pub fn detector_for(master: &str) -> Result<Arc<dyn Detector>, DetectorError> {
    let master = master.trim();
    if master.starts_with("zk://") {
        return Err(DetectorError::Unsupported(master.to_string()));
    }
    Ok(Arc::new(StaticDetector::new(MasterAddress::parse(master)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        let cases = [
            ("127.0.0.1:5050", ("127.0.0.1", 5050)),
            ("master.example:5051", ("master.example", 5051)),
            ("localhost", ("localhost", 5050)),
            ("http://10.0.0.1:5050/", ("10.0.0.1", 5050)),
            ("master@10.0.0.2:5050", ("10.0.0.2", 5050)),
            ("//10.0.0.3:6060/api/v1/scheduler", ("10.0.0.3", 6060)),
            ("[::1]:5050", ("[::1]", 5050)),
        ];
        for (text, (host, port)) in cases {
            assert_eq!(
                MasterAddress::parse(text),
                Ok(MasterAddress::new(host, port)),
                "{text}"
            );
        }
        for bad in ["", "host:notaport", ":5050", "//", "host:99999"] {
            assert!(MasterAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn static_and_unsupported_detectors() {
        let d = detector_for("127.0.0.1:5050").unwrap();
        assert_eq!(
            d.detect().await.unwrap(),
            MasterAddress::new("127.0.0.1", 5050)
        );
        assert!(matches!(
            detector_for("zk://127.0.0.1:2181/mesos"),
            Err(DetectorError::Unsupported(_))
        ));
    }
}
