//! Finding the leading master. The scheduler asks a [`Detector`] for an address before each
//! subscription attempt; a standby master's 307 redirect corrects a stale answer.
//! [`StaticDetector`] answers a fixed `host:port`; [`ZkDetector`] follows the election in
//! ZooKeeper (`zk://host:port,.../path`), as Mesos masters run it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mesos_common::zk::{self, Detected, LeaderDetector, ZkUrl};

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
        for prefix in ["http://", "https://", "//"] {
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

    /// Base URL of the master, without a trailing slash: `https` when this process speaks
    /// TLS (`LIBPROCESS_SSL_ENABLED`), as libprocess does.
    pub fn url(&self) -> String {
        format!("{}://{self}", mesos_common::tls::scheme())
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

pub type ChangeFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Source of the leading master's address.
///
/// `detect` resolves to the current leader, waiting while none is elected. It is called
/// before every subscription attempt, so an implementation that watches an election (the
/// ZooKeeper detector) only needs to keep its latest answer at hand.
pub trait Detector: Send + Sync {
    fn detect(&self) -> DetectFuture<'_>;

    /// Resolves once the leader differs from the last `detect` answer, so that a
    /// subscription waiting out a backoff can go to the new leader at once. A fixed
    /// address never changes.
    fn changed(&self) -> ChangeFuture<'_> {
        Box::pin(std::future::pending())
    }
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

/// The leader of a ZooKeeper election: the lowest `json.info_` child of the URL's path.
pub struct ZkDetector {
    url: ZkUrl,
    session_timeout: Duration,
    /// Started on first use, inside the caller's runtime.
    detector: OnceLock<LeaderDetector>,
    /// Id of the master the last answer named.
    last: Mutex<Option<String>>,
}

/// How long `detect` waits for a leader before it reports that there is none.
const ZK_DETECT_TIMEOUT: Duration = Duration::from_secs(10);

impl ZkDetector {
    pub fn new(url: ZkUrl, session_timeout: Duration) -> Self {
        Self {
            url,
            session_timeout,
            detector: OnceLock::new(),
            last: Mutex::new(None),
        }
    }

    fn detector(&self) -> &LeaderDetector {
        self.detector
            .get_or_init(|| LeaderDetector::start(self.url.clone(), self.session_timeout))
    }

    fn last(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Detector for ZkDetector {
    fn detect(&self) -> DetectFuture<'_> {
        Box::pin(async move {
            let leader = self
                .detector()
                .leader_within(ZK_DETECT_TIMEOUT)
                .await
                .ok_or_else(|| {
                    DetectorError::NoLeader(format!("no master is elected in {}", self.url))
                })?;
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(leader.id.clone());
            let (host, port) = zk::master_host_port(&leader);
            Ok(MasterAddress::new(host, port))
        })
    }

    fn changed(&self) -> ChangeFuture<'_> {
        Box::pin(async move {
            let last = self.last();
            let mut detected = self.detector().subscribe();
            let _ = detected
                .wait_for(|d| matches!(d, Detected::Leader(i) if Some(&i.id) != last.as_ref()))
                .await;
        })
    }
}

/// ZooKeeper session timeout of the detectors built by [`detector_for`].
pub const DEFAULT_ZK_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the detector a `--master` flag value asks for: `host:port` (and the spellings
/// [`MasterAddress::parse`] takes) or `zk://...`. `file://` values were already replaced
/// by the file's contents by `mesos_common::flags`.
pub fn detector_for(master: &str) -> Result<Arc<dyn Detector>, DetectorError> {
    let master = master.trim();
    if master.starts_with("zk://") {
        let url = ZkUrl::parse(master).map_err(|e| DetectorError::InvalidAddress(e.to_string()))?;
        return Ok(Arc::new(ZkDetector::new(url, DEFAULT_ZK_SESSION_TIMEOUT)));
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
    async fn static_and_zookeeper_detectors() {
        let d = detector_for("127.0.0.1:5050").unwrap();
        assert_eq!(
            d.detect().await.unwrap(),
            MasterAddress::new("127.0.0.1", 5050)
        );
        assert!(detector_for("zk://127.0.0.1:2181,127.0.0.1:2182/mesos").is_ok());
        assert!(matches!(
            detector_for("zk://127.0.0.1:notaport/mesos"),
            Err(DetectorError::InvalidAddress(_))
        ));
    }
}
