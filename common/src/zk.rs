//! ZooKeeper as Mesos uses it, in one place for the master, the agent and the tools.
//!
//! - [`ZkUrl`]: `zk://[user:pass@]host1:port1,host2:port2/path`, or `file:///path` holding
//!   such a URL.
//! - The election layout: every master creates an EPHEMERAL|SEQUENTIAL child
//!   `<path>/json.info_<10 digits>` holding its MasterInfo as JSON; the lowest sequence
//!   leads. [`leader_child`], [`parse_master_info`], [`master_info_json`].
//! - [`Session`]: one ZooKeeper session whose every call is bounded in time, with a sticky
//!   [`SessionState::Expired`] (the client library would otherwise quietly open a new
//!   session, losing ephemeral nodes and watches).
//! - [`LeaderDetector`]: a background task following the election; agents, schedulers and
//!   `mesos-resolve` read the leader from it.
//!
//! ```text
//!   ZooKeeper <path>/json.info_0000000007  ◀── lowest sequence = leader
//!             <path>/json.info_0000000009
//!        │ get_children (watch) + get_data
//!        ▼
//!   LeaderDetector ──watch::Receiver<Detected>──▶ agent link / scheduler / mesos-resolve
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mesos_proto::v1::MasterInfo;
use tokio::sync::{mpsc, watch};
use zookeeper_async::{Acl, CreateMode, Permission, Stat, ZkState, ZooKeeper};

/// Prefix of the election children that carry MasterInfo as JSON.
pub const MASTER_INFO_PREFIX: &str = "json.info_";
/// The client port ZooKeeper listens on when a URL names none.
pub const DEFAULT_ZK_PORT: u16 = 2181;
/// Pause between attempts to reach an unreachable ensemble.
const RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("invalid ZooKeeper URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot read the ZooKeeper URL from '{path}': {source}")]
    UrlFile {
        path: String,
        source: std::io::Error,
    },
    #[error("ZooKeeper {servers}: no answer to {op} within {timeout:?}")]
    Timeout {
        servers: String,
        op: &'static str,
        timeout: Duration,
    },
    #[error("ZooKeeper session expired")]
    Expired,
    #[error("ZooKeeper {op} '{path}' failed: {error:?}")]
    Call {
        op: &'static str,
        path: String,
        error: zookeeper_async::ZkError,
    },
}

impl ZkError {
    /// The ZooKeeper error code, for callers that handle NoNode / NodeExists / BadVersion.
    pub fn code(&self) -> Option<zookeeper_async::ZkError> {
        match self {
            ZkError::Call { error, .. } => Some(*error),
            _ => None,
        }
    }
}

/// Digest credentials from a `zk://user:pass@...` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:***", self.user)
    }
}

/// A parsed ZooKeeper URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host:port` of each server.
    pub servers: Vec<String>,
    pub credentials: Option<Credentials>,
    /// Absolute znode path, without a trailing slash (`/` for the root).
    pub path: String,
}

impl ZkUrl {
    /// Parses `zk://...`; `file:///path` reads the URL from that file first.
    pub fn parse(text: &str) -> Result<ZkUrl, ZkError> {
        let text = text.trim();
        if let Some(file) = text.strip_prefix("file://") {
            let contents = std::fs::read_to_string(file).map_err(|source| ZkError::UrlFile {
                path: file.to_string(),
                source,
            })?;
            let inner = contents.trim();
            if inner.starts_with("file://") {
                return Err(invalid(text, "the file holds another file:// reference"));
            }
            return Self::parse(inner);
        }
        let rest = text
            .strip_prefix("zk://")
            .ok_or_else(|| invalid(text, "expected zk://host:port[,host:port...]/path"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((creds, hosts)) => {
                let (user, password) = creds
                    .split_once(':')
                    .ok_or_else(|| invalid(text, "credentials must be user:password"))?;
                if user.is_empty() {
                    return Err(invalid(text, "empty user name"));
                }
                let credentials = Credentials {
                    user: user.to_string(),
                    password: password.to_string(),
                };
                (Some(credentials), hosts)
            }
            None => (None, authority),
        };
        let mut servers = Vec::new();
        for server in hosts.split(',') {
            let server = server.trim();
            if server.is_empty() {
                return Err(invalid(text, "empty server in the host list"));
            }
            let with_port = match server.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && !host.ends_with(':') => {
                    port.parse::<u16>()
                        .map_err(|_| invalid(text, &format!("bad port in '{server}'")))?;
                    server.to_string()
                }
                Some(_) => return Err(invalid(text, &format!("bad server '{server}'"))),
                None => format!("{server}:{DEFAULT_ZK_PORT}"),
            };
            servers.push(with_port);
        }
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        if path
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == "..")
            && path != "/"
        {
            return Err(invalid(text, &format!("bad znode path '{path}'")));
        }
        Ok(ZkUrl {
            servers,
            credentials,
            path: path.to_string(),
        })
    }

    /// The servers as the client library takes them: `h1:p1,h2:p2`.
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }

    /// The absolute path of a child of the URL's path.
    pub fn child(&self, name: &str) -> String {
        if self.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.path)
        }
    }
}

impl fmt::Display for ZkUrl {
    /// The URL without the password, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zk://")?;
        if let Some(c) = &self.credentials {
            write!(f, "{}:***@", c.user)?;
        }
        write!(f, "{}{}", self.connect_string(), self.path)
    }
}

fn invalid(url: &str, reason: &str) -> ZkError {
    ZkError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    }
}

// ------------------------------------------------------------------------- layout

/// The sequence number of an election child (`json.info_0000000012` -> 12).
pub fn sequence_of(child: &str) -> Option<u64> {
    let digits = child.strip_prefix(MASTER_INFO_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The leading child: the `json.info_` child with the lowest sequence number. Other
/// children (the registry, Mesos's `log_replicas`, old `info_` nodes) are ignored.
pub fn leader_child(children: &[String]) -> Option<&str> {
    children
        .iter()
        .filter_map(|c| sequence_of(c).map(|s| (s, c.as_str())))
        .min()
        .map(|(_, c)| c)
}

/// MasterInfo as Mesos writes it into the election znode.
pub fn master_info_json(info: &MasterInfo) -> Vec<u8> {
    mesos_proto::json::to_json_string(info).into_bytes()
}

/// Reads an election znode's data.
pub fn parse_master_info(data: &[u8]) -> Result<MasterInfo, String> {
    mesos_proto::json::from_json_slice::<MasterInfo>(data).map_err(|e| e.to_string())
}

/// `ip:port` of a master, as `mesos-resolve` prints it: the pid without `master@`, else
/// `address`, else the packed `ip` field.
pub fn master_endpoint(info: &MasterInfo) -> String {
    if let Some(pid) = info.pid.as_deref().filter(|p| !p.is_empty()) {
        return pid.strip_prefix("master@").unwrap_or(pid).to_string();
    }
    let (host, port) = master_host_port(info);
    format!("{host}:{port}")
}

/// Host and port to reach a master at: `address.ip`, else `address.hostname`, else the
/// packed `ip` (network byte order) and `port`.
pub fn master_host_port(info: &MasterInfo) -> (String, u16) {
    if let Some(address) = &info.address {
        let port = u16::try_from(address.port).unwrap_or(0);
        if let Some(ip) = address.ip.as_deref().filter(|s| !s.is_empty()) {
            return (ip.to_string(), port);
        }
        if let Some(host) = address.hostname.as_deref().filter(|s| !s.is_empty()) {
            return (host.to_string(), port);
        }
    }
    let ip = std::net::Ipv4Addr::from(info.ip.to_le_bytes());
    (ip.to_string(), u16::try_from(info.port).unwrap_or(0))
}

/// The ACL Mesos puts on what it creates: world-readable; writable by everyone without
/// credentials, only by the creator with them.
pub fn acl_for(url: &ZkUrl) -> Vec<Acl> {
    match url.credentials {
        None => Acl::open_unsafe().clone(),
        Some(_) => vec![
            Acl::new(Permission::READ, "world", "anyone"),
            Acl::new(Permission::ALL, "auth", ""),
        ],
    }
}

// ------------------------------------------------------------------------- session

/// Where a [`Session`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Between servers (or none reachable); calls wait.
    Connecting,
    Connected,
    /// The session is over for good: ephemeral nodes are gone and the session must be
    /// replaced.
    Expired,
}

/// One ZooKeeper session. Every call is bounded by the session timeout, because the
/// client library waits forever while no server answers.
pub struct Session {
    zk: Arc<ZooKeeper>,
    url: ZkUrl,
    timeout: Duration,
    state: watch::Receiver<SessionState>,
}

impl Session {
    /// Opens a session, retrying until a server accepts a connection or `deadline`
    /// passes. The session is usable once [`Session::wait_connected`] returns.
    pub async fn open(
        url: &ZkUrl,
        session_timeout: Duration,
        deadline: Duration,
    ) -> Result<Session, ZkError> {
        let (tx, rx) = watch::channel(SessionState::Connecting);
        let servers = url.connect_string();
        let connect = ZooKeeper::connect_with_retry_time(
            &servers,
            session_timeout,
            |_event: zookeeper_async::WatchedEvent| {},
            RETRY,
        );
        // Without a server the library retries forever inside `connect`; dropping the
        // future is what stops it.
        let zk = tokio::time::timeout(deadline, connect)
            .await
            .map_err(|_| ZkError::Timeout {
                servers: url.connect_string(),
                op: "connect",
                timeout: deadline,
            })?
            .map_err(|error| ZkError::Call {
                op: "connect",
                path: url.path.clone(),
                error,
            })?;
        let tx = Arc::new(tx);
        let listener_tx = tx.clone();
        zk.add_listener(move |state| {
            #[allow(deprecated)] // NotConnected is what the library reports for expiry
            let next = match state {
                ZkState::Connected | ZkState::ConnectedReadOnly => SessionState::Connected,
                ZkState::Connecting | ZkState::Associating => SessionState::Connecting,
                ZkState::NotConnected | ZkState::Closed | ZkState::AuthFailed => {
                    SessionState::Expired
                }
            };
            listener_tx.send_if_modified(|current| {
                // Expired is final: the library's next "Connected" is a new session.
                if *current == SessionState::Expired || *current == next {
                    return false;
                }
                *current = next;
                true
            });
        });
        let session = Session {
            zk: Arc::new(zk),
            url: url.clone(),
            timeout: session_timeout,
            state: rx,
        };
        // The session may have been established before the listener was added: an answer
        // proves it.
        let first = session.zk.exists("/", false);
        if let Ok(Ok(_)) = tokio::time::timeout(deadline.min(Duration::from_secs(2)), first).await {
            tx.send_if_modified(|current| {
                let connecting = *current == SessionState::Connecting;
                if connecting {
                    *current = SessionState::Connected;
                }
                connecting
            });
        }
        if let Some(c) = &url.credentials {
            let auth = format!("{}:{}", c.user, c.password).into_bytes();
            let added = session
                .bounded("auth", &url.path, session.zk.add_auth("digest", auth))
                .await;
            if let Err(e) = added {
                session.close();
                return Err(e);
            }
        }
        Ok(session)
    }

    pub fn url(&self) -> &ZkUrl {
        &self.url
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn state(&self) -> watch::Receiver<SessionState> {
        self.state.clone()
    }

    pub fn is_expired(&self) -> bool {
        *self.state.borrow() == SessionState::Expired
    }

    /// Waits until the session is connected (true) or expired (false).
    pub async fn wait_connected(&self) -> bool {
        let mut state = self.state.clone();
        matches!(
            state
                .wait_for(|s| *s != SessionState::Connecting)
                .await
                .map(|s| *s),
            Ok(SessionState::Connected)
        )
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        path: &str,
        call: impl std::future::Future<Output = zookeeper_async::ZkResult<T>>,
    ) -> Result<T, ZkError> {
        if self.is_expired() {
            return Err(ZkError::Expired);
        }
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(ZkError::Timeout {
                servers: self.url.connect_string(),
                op,
                timeout: self.timeout,
            }),
            Ok(Err(zookeeper_async::ZkError::SessionExpired)) => Err(ZkError::Expired),
            Ok(Err(error)) => Err(ZkError::Call {
                op,
                path: path.to_string(),
                error,
            }),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// A round trip to the server. Returns when the request was sent: the session was
    /// alive on the server at least until then plus the session timeout.
    pub async fn probe(&self) -> Result<Instant, ZkError> {
        let sent = Instant::now();
        self.bounded("exists", "/", self.zk.exists("/", false))
            .await?;
        Ok(sent)
    }

    /// Creates `path` and its missing parents as persistent nodes.
    pub async fn ensure_path(&self, path: &str) -> Result<(), ZkError> {
        let mut prefix = String::new();
        for component in path.split('/').filter(|c| !c.is_empty()) {
            prefix.push('/');
            prefix.push_str(component);
            let created = self
                .bounded(
                    "create",
                    &prefix,
                    self.zk.create(
                        &prefix,
                        Vec::new(),
                        acl_for(&self.url),
                        CreateMode::Persistent,
                    ),
                )
                .await;
            match created {
                Ok(_) => {}
                Err(e) if e.code() == Some(zookeeper_async::ZkError::NodeExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates a node; returns its actual path (with the sequence for sequential modes).
    pub async fn create(
        &self,
        path: &str,
        data: Vec<u8>,
        mode: CreateMode,
    ) -> Result<String, ZkError> {
        self.bounded(
            "create",
            path,
            self.zk.create(path, data, acl_for(&self.url), mode),
        )
        .await
    }

    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<(), ZkError> {
        self.bounded("delete", path, self.zk.delete(path, version))
            .await
    }

    /// The node's data and stat, or None when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<(Vec<u8>, Stat)>, ZkError> {
        match self
            .bounded("get", path, self.zk.get_data(path, false))
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.code() == Some(zookeeper_async::ZkError::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn set(
        &self,
        path: &str,
        data: Vec<u8>,
        version: Option<i32>,
    ) -> Result<Stat, ZkError> {
        self.bounded("set", path, self.zk.set_data(path, data, version))
            .await
    }

    pub async fn children(&self, path: &str) -> Result<Vec<String>, ZkError> {
        self.bounded("get_children", path, self.zk.get_children(path, false))
            .await
    }

    /// The children of `path`, with a watch that sends on `fired` when they change (or the
    /// node is deleted). A watch does not survive a reconnection: list again after one.
    pub async fn children_watched(
        &self,
        path: &str,
        fired: mpsc::Sender<()>,
    ) -> Result<Vec<String>, ZkError> {
        self.bounded(
            "get_children",
            path,
            self.zk.get_children_w(path, move |_| {
                let _ = fired.try_send(());
            }),
        )
        .await
    }

    /// Whether `path` exists, with a watch that sends on `fired` when it is created,
    /// changed or deleted.
    pub async fn exists_watched(
        &self,
        path: &str,
        fired: mpsc::Sender<()>,
    ) -> Result<bool, ZkError> {
        self.bounded(
            "exists",
            path,
            self.zk.exists_w(path, move |_| {
                let _ = fired.try_send(());
            }),
        )
        .await
        .map(|stat| stat.is_some())
    }

    /// Ends the session (its ephemeral nodes go at once) without waiting: the client
    /// library only lets go of its connection after a close, and a close can only be sent
    /// once some server answers.
    pub fn close(&self) {
        let zk = self.zk.clone();
        tokio::spawn(async move {
            let _ = zk.close().await;
        });
    }

    /// Ends the session and waits (at most the session timeout) until it is closed. Past
    /// the timeout the close goes on in the background: dropped, it would never be sent,
    /// and the client would carry the session (and its ephemeral nodes) on as soon as a
    /// server answers again.
    pub async fn close_now(&self) {
        let zk = self.zk.clone();
        let closing = tokio::spawn(async move {
            let _ = zk.close().await;
        });
        let _ = tokio::time::timeout(self.timeout, closing).await;
    }
}

/// Opens a session, retrying every `RETRY` until one is connected or `stop` says so.
pub async fn open_until_connected(
    url: &ZkUrl,
    session_timeout: Duration,
    mut stop: impl FnMut() -> bool,
) -> Option<Session> {
    let mut logged = false;
    loop {
        if stop() {
            return None;
        }
        match Session::open(url, session_timeout, session_timeout).await {
            Ok(session) => {
                // The client keeps trying every server by itself; a fresh client per
                // attempt would leave the old one retrying forever in the background.
                loop {
                    let waited = tokio::time::timeout(RETRY * 10, session.wait_connected()).await;
                    match waited {
                        Ok(true) => return Some(session),
                        Ok(false) => break,
                        Err(_) if stop() => {
                            session.close();
                            return None;
                        }
                        Err(_) => {}
                    }
                }
                session.close();
            }
            Err(e) => {
                if !logged {
                    tracing::warn!(url = %url, error = %e, "cannot reach ZooKeeper; retrying");
                    logged = true;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

// ------------------------------------------------------------------------- detector

/// What a [`LeaderDetector`] knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Detected {
    /// Nothing yet (ZooKeeper not reached so far).
    Unknown,
    /// ZooKeeper answered: no master is contending.
    NoLeader,
    Leader(Box<MasterInfo>),
}

impl Detected {
    pub fn leader(&self) -> Option<&MasterInfo> {
        match self {
            Detected::Leader(info) => Some(info),
            _ => None,
        }
    }
}

/// Follows the election under a URL's path in a background task (stopped on drop).
pub struct LeaderDetector {
    rx: watch::Receiver<Detected>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LeaderDetector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How often the detector lists the children even without a watch firing. Watches are lost
/// when the client library moves to another server, and the detector lists again then; this
/// is the safety net, kept rare because every agent runs a detector.
const REFRESH: Duration = Duration::from_secs(30);

impl LeaderDetector {
    /// Starts following; needs a tokio runtime.
    pub fn start(url: ZkUrl, session_timeout: Duration) -> LeaderDetector {
        let (tx, rx) = watch::channel(Detected::Unknown);
        let task = tokio::spawn(follow(url, session_timeout, tx));
        LeaderDetector { rx, task }
    }

    pub fn subscribe(&self) -> watch::Receiver<Detected> {
        self.rx.clone()
    }

    pub fn current(&self) -> Detected {
        self.rx.borrow().clone()
    }

    /// Waits up to `timeout` for a leader.
    pub async fn leader_within(&self, timeout: Duration) -> Option<MasterInfo> {
        let mut rx = self.rx.clone();
        let found = tokio::time::timeout(timeout, rx.wait_for(|d| d.leader().is_some())).await;
        match found {
            Ok(Ok(d)) => d.leader().cloned(),
            _ => None,
        }
    }
}

async fn follow(url: ZkUrl, session_timeout: Duration, tx: watch::Sender<Detected>) {
    loop {
        let Some(session) = open_until_connected(&url, session_timeout, || tx.is_closed()).await
        else {
            return;
        };
        follow_session(&session, &tx).await;
        if tx.is_closed() {
            session.close();
            return;
        }
        tracing::info!(url = %url, "ZooKeeper session expired; opening a new one");
        session.close();
        tx.send_replace(Detected::NoLeader);
    }
}

/// Lists and publishes the leader until the session expires.
async fn follow_session(session: &Session, tx: &watch::Sender<Detected>) {
    let path = session.url().path.clone();
    let mut state = session.state();
    let (fired_tx, mut fired) = mpsc::channel(1);
    loop {
        if !session.wait_connected().await {
            return;
        }
        state.borrow_and_update();
        match current_leader(session, &path, fired_tx.clone()).await {
            Ok(detected) => {
                tx.send_if_modified(|d| {
                    let changed = *d != detected;
                    if changed {
                        tracing::info!(leader = ?detected.leader().map(master_endpoint), "leading master detected");
                        *d = detected;
                    }
                    changed
                });
            }
            Err(ZkError::Expired) => return,
            Err(e) => tracing::debug!(error = %e, "cannot list the election; retrying"),
        }
        tokio::select! {
            _ = fired.recv() => {}
            _ = state.changed() => {}
            _ = tokio::time::sleep(REFRESH) => {}
            _ = tx.closed() => return,
        }
        if session.is_expired() {
            return;
        }
    }
}

/// Reads the election once: the leader's MasterInfo, or NoLeader. Sets a watch on the
/// children (or, while the path does not exist, on its creation).
pub async fn current_leader(
    session: &Session,
    path: &str,
    fired: mpsc::Sender<()>,
) -> Result<Detected, ZkError> {
    loop {
        let children = match session.children_watched(path, fired.clone()).await {
            Ok(c) => c,
            Err(e) if e.code() == Some(zookeeper_async::ZkError::NoNode) => {
                if session.exists_watched(path, fired.clone()).await? {
                    continue;
                }
                return Ok(Detected::NoLeader);
            }
            Err(e) => return Err(e),
        };
        let Some(leader) = leader_child(&children) else {
            return Ok(Detected::NoLeader);
        };
        let node = if path == "/" {
            format!("/{leader}")
        } else {
            format!("{path}/{leader}")
        };
        match session.get(&node).await? {
            // Gone between the listing and the read: list again.
            None => continue,
            Some((data, _)) => {
                return match parse_master_info(&data) {
                    Ok(info) => Ok(Detected::Leader(Box::new(info))),
                    Err(e) => {
                        tracing::warn!(node, error = %e, "leader znode holds no valid MasterInfo");
                        Ok(Detected::NoLeader)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = ZkUrl::parse("zk://h1:2181,h2:2182/mesos").unwrap();
        assert_eq!(u.servers, vec!["h1:2181", "h2:2182"]);
        assert_eq!(u.path, "/mesos");
        assert_eq!(u.credentials, None);
        assert_eq!(u.child("json.info_1"), "/mesos/json.info_1");

        let u = ZkUrl::parse("zk://jo:s3cret@10.0.0.1:2181/a/b/").unwrap();
        assert_eq!(u.path, "/a/b");
        assert_eq!(
            u.credentials,
            Some(Credentials {
                user: "jo".into(),
                password: "s3cret".into()
            })
        );
        assert_eq!(u.to_string(), "zk://jo:***@10.0.0.1:2181/a/b");

        let u = ZkUrl::parse("zk://zk1").unwrap();
        assert_eq!(u.servers, vec!["zk1:2181"]);
        assert_eq!(u.path, "/");
        assert_eq!(u.child("x"), "/x");

        for bad in [
            "",
            "http://h:1/m",
            "zk:///mesos",
            "zk://h:notaport/m",
            "zk://h:1,,h:2/m",
            "zk://h:1//m",
            "zk://h:1/a/../b",
            "zk://:pw@h:1/m",
        ] {
            assert!(ZkUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_urls_from_files() {
        let dir = std::env::temp_dir().join(format!("zk-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("zk");
        std::fs::write(&file, "zk://127.0.0.1:2181/mesos\n").unwrap();
        let u = ZkUrl::parse(&format!("file://{}", file.display())).unwrap();
        assert_eq!(u.path, "/mesos");
        assert!(matches!(
            ZkUrl::parse("file:///no/such/file"),
            Err(ZkError::UrlFile { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn lowest_json_info_leads() {
        let children: Vec<String> = [
            "log_replicas",
            "json.info_0000000012",
            "info_0000000001",
            "registry",
            "json.info_0000000010",
            "json.info_x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(leader_child(&children), Some("json.info_0000000010"));
        assert_eq!(leader_child(&[]), None);
        assert_eq!(sequence_of("json.info_0000000003"), Some(3));
        assert_eq!(sequence_of("json.info_"), None);
    }

    #[test]
    fn master_info_round_trips_and_resolves() {
        let info = MasterInfo {
            id: "m1".into(),
            ip: u32::from_le_bytes([10, 0, 0, 7]),
            port: 5050,
            pid: Some("master@10.0.0.7:5050".into()),
            hostname: Some("m1.example".into()),
            version: Some("1.11.0".into()),
            address: Some(mesos_proto::v1::Address {
                hostname: Some("m1.example".into()),
                ip: Some("10.0.0.7".into()),
                port: 5050,
            }),
            ..Default::default()
        };
        let json = master_info_json(&info);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        // What third-party detectors read.
        assert_eq!(value["address"]["ip"], "10.0.0.7");
        assert_eq!(value["address"]["port"], 5050);
        assert_eq!(value["ip"], u32::from_le_bytes([10, 0, 0, 7]));
        assert_eq!(parse_master_info(&json).unwrap(), info);
        assert_eq!(master_endpoint(&info), "10.0.0.7:5050");
        assert_eq!(master_host_port(&info), ("10.0.0.7".to_string(), 5050));
        let bare = MasterInfo {
            ip: u32::from_le_bytes([127, 0, 0, 1]),
            port: 5051,
            ..Default::default()
        };
        assert_eq!(master_endpoint(&bare), "127.0.0.1:5051");
        assert!(parse_master_info(b"{}").is_err());
    }
}
