//! Marathon's configuration: Marathon's flag names and defaults, each also readable from its
//! `MARATHON_*` variable (`--http_port` = `MARATHON_HTTP_PORT`), so existing command lines,
//! `/etc/default/marathon` files and container environments work unchanged.
//!
//! Values keep Marathon's units: milliseconds for timeouts and intervals, seconds for
//! `--failover_timeout`. The accessors return `Duration`s so callers never see the units.
//!
//! Marathon's boolean flags are toggles: `--ha` / `--disable_ha`, `--checkpoint` /
//! `--disable_checkpoint`, `--zk_compression` / `--disable_zk_compression`. Either form may
//! take `true`/`false` (`--ha=false`), and an empty `MARATHON_DISABLE_HA=` sets the flag, as
//! Marathon's start script does. If both forms are set the later one on the command line wins;
//! if one of them comes from the environment, the `disable_` form wins.
//!
//! `--master` is required, as in Marathon: a scheduler that quietly registers with whatever
//! answers on 127.0.0.1:5050 is worse than one that refuses to start.
//!
//! Where state lives, `--internal_store_backend` (Marathon's name):
//! - `zk` (default): ZooKeeper under `--zk`, shared by all Marathons of the cluster (HA).
//! - `mem`: memory only, lost on exit; for tests.
//! - `embedded`: a file store under `--store_path` on this node. It needs `--disable_ha`:
//!   another node could not read this node's state.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mesos_common::zk::ZkUrl;

/// Flags of `marathon`. Unknown flags and malformed values stop the program at start with a
/// message naming the flag (clap's errors do that); `validate()` checks the rest.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "marathon",
    version,
    about = "Marathon-compatible framework for Mesos"
)]
pub struct Config {
    /// The Mesos master: `zk://host1:port1,host2:port2/path`, `http(s)://host:port` or
    /// `host:port`.
    #[arg(long = "master", env = "MARATHON_MASTER")]
    pub master: String,

    /// ZooKeeper URL for Marathon's state and leader election:
    /// `zk://[user:pass@]host1:port1,host2:port2/path`.
    #[arg(
        long = "zk",
        env = "MARATHON_ZK",
        default_value = "zk://localhost:2181/marathon"
    )]
    pub zk: String,

    /// Address to listen on for HTTP requests (all interfaces by default).
    #[arg(
        long = "http_address",
        env = "MARATHON_HTTP_ADDRESS",
        default_value = "0.0.0.0"
    )]
    pub http_address: IpAddr,

    /// Port to listen on for HTTP requests.
    #[arg(long = "http_port", env = "MARATHON_HTTP_PORT", default_value_t = 8080)]
    pub http_port: u16,

    /// HTTPS port, served with `--ssl_cert_file` and `--ssl_key_file` (see `https`).
    #[arg(
        long = "https_port",
        env = "MARATHON_HTTPS_PORT",
        default_value_t = 8443
    )]
    pub https_port: u16,

    #[command(flatten)]
    pub https: crate::https::HttpsFlags,

    /// Hostname advertised to Mesos and to the other Marathons (default: this machine's).
    #[arg(long = "hostname", env = "MARATHON_HOSTNAME")]
    pub hostname: Option<String>,

    /// Framework name registered with Mesos.
    #[arg(
        long = "framework_name",
        env = "MARATHON_FRAMEWORK_NAME",
        default_value = "marathon"
    )]
    pub framework_name: String,

    /// Mesos role of the framework; offers of this role come in addition to `*`.
    #[arg(long = "mesos_role", env = "MARATHON_MESOS_ROLE", default_value = "*")]
    pub mesos_role: String,

    /// User tasks run as unless an app says otherwise (default: the user running Marathon).
    #[arg(long = "mesos_user", env = "MARATHON_MESOS_USER")]
    pub mesos_user: Option<String>,

    /// URL of the Mesos web UI shown by Marathon's UI (default: the detected leader).
    #[arg(long = "mesos_leader_ui_url", env = "MARATHON_MESOS_LEADER_UI_URL")]
    pub mesos_leader_ui_url: Option<String>,

    /// URL of Marathon's web UI registered with Mesos (default: the advertised host).
    #[arg(long = "webui_url", env = "MARATHON_WEBUI_URL")]
    pub webui_url: Option<String>,

    /// How long Mesos keeps the tasks of a disconnected Marathon, in seconds (one week).
    #[arg(
        long = "failover_timeout",
        env = "MARATHON_FAILOVER_TIMEOUT",
        default_value_t = 604_800
    )]
    pub failover_timeout_secs: u64,

    #[command(flatten)]
    checkpoint: CheckpointToggle,

    #[command(flatten)]
    ha: HaToggle,

    /// How long unused offers are declined for, in milliseconds.
    #[arg(
        long = "decline_offer_duration",
        env = "MARATHON_DECLINE_OFFER_DURATION",
        default_value_t = 120_000
    )]
    pub decline_offer_duration_ms: u64,

    /// How long a task may take to reach TASK_RUNNING before it is killed, in milliseconds.
    #[arg(
        long = "task_launch_timeout",
        env = "MARATHON_TASK_LAUNCH_TIMEOUT",
        default_value_t = 300_000
    )]
    pub task_launch_timeout_ms: u64,

    /// Most instances launched on one offer.
    #[arg(
        long = "max_instances_per_offer",
        env = "MARATHON_MAX_INSTANCES_PER_OFFER",
        default_value_t = 5
    )]
    pub max_instances_per_offer: u32,

    /// How agents are chosen among the offers that fit: spread, binpack or random (an app's
    /// MARATHON_PLACEMENT_STRATEGY label wins). binpack fills one offer before the next, as
    /// Marathon always did.
    #[arg(
        long = "placement_strategy",
        env = "MARATHON_PLACEMENT_STRATEGY",
        default_value = "binpack"
    )]
    pub placement_strategy: crate::placement::Strategy,

    /// Delay before the first task reconciliation after election, in milliseconds.
    #[arg(
        long = "reconciliation_initial_delay",
        env = "MARATHON_RECONCILIATION_INITIAL_DELAY",
        default_value_t = 15_000
    )]
    pub reconciliation_initial_delay_ms: u64,

    /// Time between task reconciliations, in milliseconds.
    #[arg(
        long = "reconciliation_interval",
        env = "MARATHON_RECONCILIATION_INTERVAL",
        default_value_t = 600_000
    )]
    pub reconciliation_interval_ms: u64,

    /// Lowest service port Marathon assigns.
    #[arg(
        long = "local_port_min",
        env = "MARATHON_LOCAL_PORT_MIN",
        default_value_t = 10_000
    )]
    pub local_port_min: u16,

    /// Highest service port Marathon assigns.
    #[arg(
        long = "local_port_max",
        env = "MARATHON_LOCAL_PORT_MAX",
        default_value_t = 20_000
    )]
    pub local_port_max: u16,

    /// ZooKeeper session timeout, in milliseconds.
    #[arg(
        long = "zk_session_timeout",
        env = "MARATHON_ZK_SESSION_TIMEOUT",
        default_value_t = 10_000
    )]
    pub zk_session_timeout_ms: u64,

    /// Timeout of one ZooKeeper operation, in milliseconds.
    #[arg(
        long = "zk_timeout",
        env = "MARATHON_ZK_TIMEOUT",
        default_value_t = 10_000
    )]
    pub zk_timeout_ms: u64,

    /// Timeout to connect to ZooKeeper, in milliseconds.
    #[arg(
        long = "zk_connection_timeout",
        env = "MARATHON_ZK_CONNECTION_TIMEOUT",
        default_value_t = 10_000
    )]
    pub zk_connection_timeout_ms: u64,

    /// Largest znode Marathon writes, in bytes.
    #[arg(
        long = "zk_max_node_size",
        env = "MARATHON_ZK_MAX_NODE_SIZE",
        default_value_t = 1_024_000
    )]
    pub zk_max_node_size: u64,

    /// Versions kept per app and group (in every store, despite the name).
    #[arg(
        long = "zk_max_versions",
        env = "MARATHON_ZK_MAX_VERSIONS",
        default_value_t = 50
    )]
    pub zk_max_versions: u32,

    #[command(flatten)]
    zk_compression: ZkCompressionToggle,

    /// Nodes larger than this many bytes are compressed (when compression is on).
    #[arg(
        long = "zk_compression_threshold",
        env = "MARATHON_ZK_COMPRESSION_THRESHOLD",
        default_value_t = 65_536
    )]
    pub zk_compression_threshold: u64,

    /// Where Marathon keeps its state: `zk`, `mem` or `embedded` (see the module doc).
    #[arg(
        long = "internal_store_backend",
        env = "MARATHON_INTERNAL_STORE_BACKEND",
        value_enum,
        default_value_t = StoreKind::Zk
    )]
    pub internal_store_backend: StoreKind,

    /// Directory of the embedded store (`--internal_store_backend embedded` only).
    #[arg(long = "store_path", env = "MARATHON_STORE_PATH")]
    pub store_path: Option<PathBuf>,

    /// Roles an app accepts offers of when it names none, as `role1,role2`
    /// (default: all roles Marathon is offered).
    #[arg(
        long = "default_accepted_resource_roles",
        env = "MARATHON_DEFAULT_ACCEPTED_RESOURCE_ROLES"
    )]
    pub default_accepted_resource_roles: Option<String>,

    /// Prefix of the environment variables Marathon sets in tasks (`PORT0` -> `<prefix>PORT0`).
    #[arg(long = "env_vars_prefix", env = "MARATHON_ENV_VARS_PREFIX")]
    pub env_vars_prefix: Option<String>,

    /// Timeout for a standby connecting to the leader it proxies to, in milliseconds.
    #[arg(
        long = "leader_proxy_connection_timeout",
        env = "MARATHON_LEADER_PROXY_CONNECTION_TIMEOUT",
        default_value_t = 5_000
    )]
    pub leader_proxy_connection_timeout_ms: u64,

    /// Timeout for a standby reading the leader's answer, in milliseconds.
    #[arg(
        long = "leader_proxy_read_timeout",
        env = "MARATHON_LEADER_PROXY_READ_TIMEOUT",
        default_value_t = 10_000
    )]
    pub leader_proxy_read_timeout_ms: u64,

    /// Most deployments running at once; more are refused.
    #[arg(
        long = "max_running_deployments",
        env = "MARATHON_MAX_RUNNING_DEPLOYMENTS",
        default_value_t = 100
    )]
    pub max_running_deployments: u32,

    /// `Access-Control-Allow-Origin` origins, as `*` or `http://a, http://b` (unset: no CORS).
    #[arg(
        long = "access_control_allow_origin",
        env = "MARATHON_ACCESS_CONTROL_ALLOW_ORIGIN"
    )]
    pub access_control_allow_origin: Option<String>,

    /// Events buffered for one `/v2/events` client before it is disconnected.
    #[arg(
        long = "event_stream_max_outstanding_messages",
        env = "MARATHON_EVENT_STREAM_MAX_OUTSTANDING_MESSAGES",
        default_value_t = 1024
    )]
    pub event_stream_max_outstanding_messages: usize,

    /// Event subscription module: `http_callback` posts events to `--http_endpoints`.
    #[arg(
        long = "event_subscriber",
        env = "MARATHON_EVENT_SUBSCRIBER",
        value_parser = ["http_callback"]
    )]
    pub event_subscriber: Option<String>,

    /// Callback URLs subscribed at start, as `http://a/cb,http://b/cb`.
    #[arg(long = "http_endpoints", env = "MARATHON_HTTP_ENDPOINTS")]
    pub http_endpoints: Option<String>,

    /// A callback slower than this is a slow consumer, in milliseconds.
    #[arg(
        long = "http_event_callback_slow_consumer_timeout",
        env = "MARATHON_HTTP_EVENT_CALLBACK_SLOW_CONSUMER_TIMEOUT",
        default_value_t = 10_000
    )]
    pub http_event_callback_slow_consumer_timeout_ms: u64,

    /// Silence from the Mesos master longer than this counts as a missed heartbeat, in
    /// milliseconds.
    #[arg(
        long = "mesos_heartbeat_interval",
        env = "MARATHON_MESOS_HEARTBEAT_INTERVAL",
        default_value_t = 15_000
    )]
    pub mesos_heartbeat_interval_ms: u64,

    /// Missed heartbeats after which Marathon reconnects to Mesos.
    #[arg(
        long = "mesos_heartbeat_failure_threshold",
        env = "MARATHON_MESOS_HEARTBEAT_FAILURE_THRESHOLD",
        default_value_t = 5
    )]
    pub mesos_heartbeat_failure_threshold: u32,

    #[command(flatten)]
    pub auth: crate::auth::AuthFlags,
}

// A toggle is two flags that clap cannot merge into one field; each pair lives in its own
// small struct so that `Config` exposes a plain `bool` accessor and nothing else.

#[derive(Debug, Clone, clap::Args)]
struct CheckpointToggle {
    /// Ask agents to checkpoint tasks so they survive agent restarts (default).
    #[arg(long = "checkpoint", env = "MARATHON_CHECKPOINT", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "disable_checkpoint", value_name = "BOOL")]
    checkpoint: Option<bool>,
    /// Do not checkpoint tasks.
    #[arg(long = "disable_checkpoint", env = "MARATHON_DISABLE_CHECKPOINT", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "checkpoint", value_name = "BOOL")]
    disable_checkpoint: Option<bool>,
}

#[derive(Debug, Clone, clap::Args)]
struct HaToggle {
    /// Elect a leader through ZooKeeper; standbys proxy to it (default).
    #[arg(long = "ha", env = "MARATHON_HA", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "disable_ha", value_name = "BOOL")]
    ha: Option<bool>,
    /// Run as a single node, without leader election.
    #[arg(long = "disable_ha", env = "MARATHON_DISABLE_HA", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "ha", value_name = "BOOL")]
    disable_ha: Option<bool>,
}

#[derive(Debug, Clone, clap::Args)]
struct ZkCompressionToggle {
    /// Compress nodes above `--zk_compression_threshold` (default).
    #[arg(long = "zk_compression", env = "MARATHON_ZK_COMPRESSION", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "disable_zk_compression", value_name = "BOOL")]
    zk_compression: Option<bool>,
    /// Never compress nodes.
    #[arg(long = "disable_zk_compression", env = "MARATHON_DISABLE_ZK_COMPRESSION", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "zk_compression", value_name = "BOOL")]
    disable_zk_compression: Option<bool>,
}

/// A toggle's value: bare flag or empty variable = on; `true`/`false` as written.
pub(crate) fn toggle_arg(text: &str) -> Result<bool, String> {
    if text.trim().is_empty() {
        return Ok(true);
    }
    mesos_common::flags::bool_arg(text)
}

/// All toggles default to on; the `disable_` form, when set, turns one off.
pub(crate) fn resolve_toggle(on: Option<bool>, disable: Option<bool>) -> bool {
    match (on, disable) {
        (_, Some(true)) => false,
        (Some(value), _) => value,
        (None, _) => true,
    }
}

/// The `--internal_store_backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Zk,
    Mem,
    Embedded,
}

/// Where state lives, with what each store needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreBackend {
    Zk(ZkUrl),
    Mem,
    Embedded(PathBuf),
}

/// How to reach the Mesos master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MesosMaster {
    /// Follow the elected master through ZooKeeper.
    Zk(ZkUrl),
    /// One master at a fixed base URL, without a trailing slash (`http://host:5050`).
    Url(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid flag --{flag}: {reason}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub reason: String,
}

fn invalid(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        reason: reason.into(),
    }
}

impl Config {
    /// Checks what clap cannot: values that parse but make no sense, alone or together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.master()?;
        self.zk_url()?;
        self.store_backend()?;
        self.default_accepted_resource_roles()?;
        self.http_endpoints()?;
        self.https.validate()?;
        self.auth.validate()?;
        if self.local_port_min >= self.local_port_max {
            return Err(invalid(
                "local_port_min",
                format!(
                    "{} must be below --local_port_max ({})",
                    self.local_port_min, self.local_port_max
                ),
            ));
        }
        let at_least_one = [
            ("max_instances_per_offer", self.max_instances_per_offer),
            ("max_running_deployments", self.max_running_deployments),
            ("zk_max_versions", self.zk_max_versions),
            (
                "mesos_heartbeat_failure_threshold",
                self.mesos_heartbeat_failure_threshold,
            ),
        ];
        for (flag, value) in at_least_one {
            if value == 0 {
                return Err(invalid(flag, "must be at least 1"));
            }
        }
        if self.event_stream_max_outstanding_messages == 0 {
            return Err(invalid(
                "event_stream_max_outstanding_messages",
                "must be at least 1",
            ));
        }
        // Zero would spin a loop or fail every call at once.
        let positive = [
            ("task_launch_timeout", self.task_launch_timeout_ms),
            ("reconciliation_interval", self.reconciliation_interval_ms),
            ("zk_session_timeout", self.zk_session_timeout_ms),
            ("zk_timeout", self.zk_timeout_ms),
            ("zk_connection_timeout", self.zk_connection_timeout_ms),
            ("zk_max_node_size", self.zk_max_node_size),
            (
                "leader_proxy_connection_timeout",
                self.leader_proxy_connection_timeout_ms,
            ),
            (
                "leader_proxy_read_timeout",
                self.leader_proxy_read_timeout_ms,
            ),
            ("mesos_heartbeat_interval", self.mesos_heartbeat_interval_ms),
        ];
        for (flag, value) in positive {
            if value == 0 {
                return Err(invalid(flag, "must be positive"));
            }
        }
        let non_empty = [
            ("framework_name", Some(&self.framework_name)),
            ("mesos_role", Some(&self.mesos_role)),
            ("hostname", self.hostname.as_ref()),
            ("mesos_user", self.mesos_user.as_ref()),
        ];
        for (flag, value) in non_empty {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(invalid(flag, "must not be empty"));
            }
        }
        Ok(())
    }

    /// The Mesos master to register with.
    pub fn master(&self) -> Result<MesosMaster, ConfigError> {
        let text = self.master.trim();
        let expected =
            "expected zk://host:port[,host:port...]/path, http(s)://host:port or host:port";
        let err = |reason: String| invalid("master", format!("'{text}': {reason}"));
        if text
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("zk://"))
        {
            let url = ZkUrl::parse(&format!("zk://{}", &text[5..]))
                .map_err(|e| invalid("master", e.to_string()))?;
            if url.path == "/" {
                return Err(err("the ZooKeeper URL needs a path, e.g. /mesos".into()));
            }
            return Ok(MesosMaster::Zk(url));
        }
        let lower = text.to_ascii_lowercase();
        let scheme = ["http://", "https://"]
            .into_iter()
            .find(|s| lower.starts_with(s));
        let rest = &text[scheme.map_or(0, str::len)..];
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains('/') {
            return Err(err(expected.into()));
        }
        match authority.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            // A URL may leave the port to its scheme; a bare address may not.
            None if scheme.is_some() => {}
            _ => return Err(err(expected.into())),
        }
        Ok(MesosMaster::Url(format!(
            "{}{authority}",
            scheme.unwrap_or("http://")
        )))
    }

    /// The parsed `--zk`. Marathon keeps its nodes under the path, so it must have one.
    pub fn zk_url(&self) -> Result<ZkUrl, ConfigError> {
        let url = ZkUrl::parse(&self.zk).map_err(|e| invalid("zk", e.to_string()))?;
        if url.path == "/" {
            return Err(invalid(
                "zk",
                format!("'{}' needs a path, e.g. /marathon", self.zk),
            ));
        }
        Ok(url)
    }

    /// The store chosen by `--internal_store_backend`, with what it needs.
    pub fn store_backend(&self) -> Result<StoreBackend, ConfigError> {
        let backend = match (self.internal_store_backend, &self.store_path) {
            (StoreKind::Embedded, Some(path)) => StoreBackend::Embedded(path.clone()),
            (StoreKind::Embedded, None) => {
                return Err(invalid(
                    "store_path",
                    "required with --internal_store_backend embedded",
                ))
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "store_path",
                    "only used with --internal_store_backend embedded",
                ))
            }
            (StoreKind::Zk, None) => StoreBackend::Zk(self.zk_url()?),
            (StoreKind::Mem, None) => StoreBackend::Mem,
        };
        if self.ha() && !matches!(backend, StoreBackend::Zk(_)) {
            return Err(invalid(
                "internal_store_backend",
                "a store on one node cannot be shared by several Marathons; add --disable_ha",
            ));
        }
        Ok(backend)
    }

    /// `--default_accepted_resource_roles` as a list; `None` means every offered role.
    /// As in Marathon, only roles Marathon is offered are allowed: `*` and `--mesos_role`.
    pub fn default_accepted_resource_roles(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(text) = &self.default_accepted_resource_roles else {
            return Ok(None);
        };
        let roles: Vec<String> = split_list(text);
        if roles.is_empty() {
            return Err(invalid(
                "default_accepted_resource_roles",
                "must not be empty",
            ));
        }
        let unoffered: Vec<&str> = roles
            .iter()
            .map(String::as_str)
            .filter(|r| *r != "*" && *r != self.mesos_role)
            .collect();
        if !unoffered.is_empty() {
            return Err(invalid(
                "default_accepted_resource_roles",
                format!(
                    "contains roles for which we will not receive offers: {}",
                    unoffered.join(", ")
                ),
            ));
        }
        Ok(Some(roles))
    }

    /// The callback URLs of `--http_endpoints`; they need `--event_subscriber http_callback`.
    pub fn http_endpoints(&self) -> Result<Vec<String>, ConfigError> {
        let Some(text) = &self.http_endpoints else {
            return Ok(Vec::new());
        };
        if self.event_subscriber.is_none() {
            return Err(invalid(
                "http_endpoints",
                "needs --event_subscriber http_callback",
            ));
        }
        let endpoints = split_list(text);
        if let Some(bad) = endpoints
            .iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(invalid(
                "http_endpoints",
                format!("'{bad}' is not an http(s) URL"),
            ));
        }
        Ok(endpoints)
    }

    /// The origins of `--access_control_allow_origin` (empty: no CORS headers).
    pub fn access_control_allow_origin(&self) -> Vec<String> {
        self.access_control_allow_origin
            .as_deref()
            .map(split_list)
            .unwrap_or_default()
    }

    pub fn http_listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.http_address, self.http_port)
    }

    /// Where HTTPS is served (same address as HTTP, `--https_port`).
    pub fn https_listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.http_address, self.https_port)
    }

    /// `--hostname`, or this machine's name.
    pub fn hostname(&self) -> String {
        self.hostname.clone().unwrap_or_else(|| {
            hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "localhost".to_string())
        })
    }

    /// `--mesos_user`, or the user running this process (as Marathon's JVM `user.name`).
    pub fn mesos_user(&self) -> String {
        self.mesos_user
            .clone()
            .or_else(current_user)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "root".to_string())
    }

    pub fn checkpoint(&self) -> bool {
        resolve_toggle(
            self.checkpoint.checkpoint,
            self.checkpoint.disable_checkpoint,
        )
    }

    pub fn ha(&self) -> bool {
        resolve_toggle(self.ha.ha, self.ha.disable_ha)
    }

    pub fn zk_compression(&self) -> bool {
        resolve_toggle(
            self.zk_compression.zk_compression,
            self.zk_compression.disable_zk_compression,
        )
    }

    pub fn failover_timeout(&self) -> Duration {
        Duration::from_secs(self.failover_timeout_secs)
    }

    pub fn decline_offer_duration(&self) -> Duration {
        Duration::from_millis(self.decline_offer_duration_ms)
    }

    pub fn task_launch_timeout(&self) -> Duration {
        Duration::from_millis(self.task_launch_timeout_ms)
    }

    pub fn reconciliation_initial_delay(&self) -> Duration {
        Duration::from_millis(self.reconciliation_initial_delay_ms)
    }

    pub fn reconciliation_interval(&self) -> Duration {
        Duration::from_millis(self.reconciliation_interval_ms)
    }

    pub fn zk_session_timeout(&self) -> Duration {
        Duration::from_millis(self.zk_session_timeout_ms)
    }

    pub fn zk_timeout(&self) -> Duration {
        Duration::from_millis(self.zk_timeout_ms)
    }

    pub fn zk_connection_timeout(&self) -> Duration {
        Duration::from_millis(self.zk_connection_timeout_ms)
    }

    pub fn leader_proxy_connection_timeout(&self) -> Duration {
        Duration::from_millis(self.leader_proxy_connection_timeout_ms)
    }

    pub fn leader_proxy_read_timeout(&self) -> Duration {
        Duration::from_millis(self.leader_proxy_read_timeout_ms)
    }

    pub fn http_event_callback_slow_consumer_timeout(&self) -> Duration {
        Duration::from_millis(self.http_event_callback_slow_consumer_timeout_ms)
    }

    pub fn mesos_heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.mesos_heartbeat_interval_ms)
    }
}

/// A comma list with blanks around items and empty items dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The name of the process's user from `/etc/passwd` (the owner of `/proc/self`).
fn current_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let line_uid: u32 = fields.next()?.parse().ok()?;
        (line_uid == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `marathon <args>`, with `--master 127.0.0.1:5050` unless `args` name one.
    fn parse(args: &[&str]) -> Config {
        try_parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn try_parse(args: &[&str]) -> Result<Config, clap::Error> {
        let master: &[&str] = if args.contains(&"--master") {
            &[]
        } else {
            &["--master", "127.0.0.1:5050"]
        };
        Config::try_parse_from(["marathon"].iter().chain(master).chain(args))
    }

    #[test]
    fn defaults_are_marathons() {
        let c = parse(&[]);
        assert_eq!(c.zk, "zk://localhost:2181/marathon");
        assert_eq!(c.http_listen_addr(), "0.0.0.0:8080".parse().unwrap());
        assert_eq!(c.https_port, 8443);
        assert_eq!(c.framework_name, "marathon");
        assert_eq!(c.mesos_role, "*");
        assert_eq!(c.failover_timeout(), Duration::from_secs(604_800));
        assert_eq!(c.decline_offer_duration(), Duration::from_secs(120));
        assert_eq!(c.task_launch_timeout(), Duration::from_secs(300));
        assert_eq!(c.max_instances_per_offer, 5);
        assert_eq!(c.placement_strategy, crate::placement::Strategy::Binpack);
        assert_eq!(c.reconciliation_initial_delay(), Duration::from_secs(15));
        assert_eq!(c.reconciliation_interval(), Duration::from_secs(600));
        assert_eq!((c.local_port_min, c.local_port_max), (10_000, 20_000));
        assert_eq!(c.zk_session_timeout(), Duration::from_secs(10));
        assert_eq!(c.zk_timeout(), Duration::from_secs(10));
        assert_eq!(c.zk_connection_timeout(), Duration::from_secs(10));
        assert_eq!(c.zk_max_node_size, 1_024_000);
        assert_eq!(c.zk_max_versions, 50);
        assert_eq!(c.zk_compression_threshold, 65_536);
        assert_eq!(c.leader_proxy_connection_timeout(), Duration::from_secs(5));
        assert_eq!(c.leader_proxy_read_timeout(), Duration::from_secs(10));
        assert_eq!(c.max_running_deployments, 100);
        assert_eq!(c.event_stream_max_outstanding_messages, 1024);
        assert_eq!(
            c.http_event_callback_slow_consumer_timeout(),
            Duration::from_secs(10)
        );
        assert_eq!(c.mesos_heartbeat_interval(), Duration::from_secs(15));
        assert_eq!(c.mesos_heartbeat_failure_threshold, 5);
        assert!(c.checkpoint() && c.ha() && c.zk_compression());
        assert_eq!(c.internal_store_backend, StoreKind::Zk);
        assert_eq!(c.default_accepted_resource_roles(), Ok(None));
        assert!(c.access_control_allow_origin().is_empty());
        assert_eq!(c.http_endpoints(), Ok(vec![]));
        assert!(!c.hostname().is_empty());
        assert!(!c.mesos_user().is_empty());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn master_is_required() {
        let err = Config::try_parse_from(["marathon"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(err.to_string().contains("--master"), "{err}");
    }

    #[test]
    fn both_value_syntaxes() {
        let a = parse(&["--http_port", "9090", "--zk=zk://h:1/x"]);
        let b = parse(&["--http_port=9090", "--zk", "zk://h:1/x"]);
        for c in [a, b] {
            assert_eq!(c.http_port, 9090);
            assert_eq!(c.zk, "zk://h:1/x");
        }
    }

    #[test]
    fn toggles() {
        let cases: [(&[&str], bool); 9] = [
            (&[], true),
            (&["--ha"], true),
            (&["--disable_ha"], false),
            (&["--ha=false"], false),
            (&["--ha", "false"], false),
            (&["--disable_ha=false"], true),
            (&["--ha", "--disable_ha"], false),
            (&["--disable_ha", "--ha"], true),
            (&["--disable_ha", "--zk", "zk://h:1/x"], false),
        ];
        for (args, want) in cases {
            assert_eq!(parse(args).ha(), want, "{args:?}");
        }
        assert!(!parse(&["--disable_checkpoint"]).checkpoint());
        assert!(parse(&["--checkpoint"]).checkpoint());
        assert!(!parse(&["--disable_zk_compression"]).zk_compression());
        assert!(try_parse(&["--ha=maybe"]).is_err());
    }

    #[test]
    fn every_flag_has_its_marathon_variable() {
        let cmd = <Config as clap::CommandFactory>::command();
        let mut count = 0;
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let want = format!("MARATHON_{}", long.to_ascii_uppercase());
            assert_eq!(arg.get_env(), Some(want.as_ref()), "--{long}");
            count += 1;
        }
        assert!(count > 40, "{count}");
    }

    /// Runs in a child process (see `environment_variables`), which alone sets MARATHON_*
    /// variables: setting them here would race with the other tests' parsing.
    #[test]
    fn env_child() {
        if std::env::var_os("MARATHON_CONFIG_TEST_CHILD").is_none() {
            return;
        }
        let c = Config::try_parse_from(["marathon", "--http_port", "7070"]).unwrap();
        assert_eq!(c.master, "zk://m:2181/mesos");
        assert_eq!(c.http_port, 7070, "the command line beats the environment");
        assert_eq!(c.https_port, 9443);
        assert_eq!(c.task_launch_timeout(), Duration::from_secs(1));
        assert!(!c.ha(), "MARATHON_DISABLE_HA= (empty) sets --disable_ha");
        assert!(
            c.checkpoint(),
            "MARATHON_CHECKPOINT= (empty) sets --checkpoint"
        );
        assert_eq!(c.internal_store_backend, StoreKind::Embedded);
    }

    #[test]
    fn environment_variables() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "config::tests::env_child", "--nocapture"])
            .env("MARATHON_CONFIG_TEST_CHILD", "1")
            .env("MARATHON_MASTER", "zk://m:2181/mesos")
            .env("MARATHON_HTTP_PORT", "9090")
            .env("MARATHON_HTTPS_PORT", "9443")
            .env("MARATHON_TASK_LAUNCH_TIMEOUT", "1000")
            .env("MARATHON_DISABLE_HA", "")
            .env("MARATHON_CHECKPOINT", "")
            .env("MARATHON_INTERNAL_STORE_BACKEND", "embedded")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn masters() {
        let zk = |s: &str| MesosMaster::Zk(ZkUrl::parse(s).unwrap());
        let url = |s: &str| MesosMaster::Url(s.to_string());
        let cases = [
            ("zk://a:2181,b:2181/mesos", zk("zk://a:2181,b:2181/mesos")),
            ("ZK://a:2181/mesos", zk("zk://a:2181/mesos")),
            ("127.0.0.1:5050", url("http://127.0.0.1:5050")),
            ("leader.mesos:5050", url("http://leader.mesos:5050")),
            ("http://m:5050/", url("http://m:5050")),
            ("HTTPS://m:5050", url("https://m:5050")),
            ("http://leader.mesos", url("http://leader.mesos")),
            ("[::1]:5050", url("http://[::1]:5050")),
        ];
        for (text, want) in cases {
            let c = parse(&["--master", text]);
            assert_eq!(c.master(), Ok(want), "{text}");
        }
    }

    #[test]
    fn stores() {
        assert_eq!(
            parse(&["--zk", "zk://z:1/m"]).store_backend(),
            Ok(StoreBackend::Zk(ZkUrl::parse("zk://z:1/m").unwrap()))
        );
        let c = parse(&[
            "--internal_store_backend",
            "embedded",
            "--store_path",
            "/var/lib/marathon",
            "--disable_ha",
        ]);
        assert_eq!(
            c.store_backend(),
            Ok(StoreBackend::Embedded("/var/lib/marathon".into()))
        );
        let c = parse(&["--internal_store_backend", "mem", "--disable_ha"]);
        assert_eq!(c.store_backend(), Ok(StoreBackend::Mem));
        assert!(try_parse(&["--internal_store_backend", "file"]).is_err());
    }

    #[test]
    fn list_flags() {
        let c = parse(&[
            "--mesos_role",
            "marathon",
            "--default_accepted_resource_roles",
            "*, marathon",
            "--access_control_allow_origin",
            "http://a, http://b",
            "--event_subscriber",
            "http_callback",
            "--http_endpoints",
            "http://h/cb,https://i/cb",
        ]);
        assert_eq!(
            c.default_accepted_resource_roles(),
            Ok(Some(vec!["*".into(), "marathon".into()]))
        );
        assert_eq!(c.access_control_allow_origin(), ["http://a", "http://b"]);
        assert_eq!(c.http_endpoints().unwrap(), ["http://h/cb", "https://i/cb"]);
        assert!(try_parse(&["--event_subscriber", "log"]).is_err());
        let c = parse(&["--placement_strategy", "spread"]);
        assert_eq!(c.placement_strategy, crate::placement::Strategy::Spread);
        let e = try_parse(&["--placement_strategy", "fill"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--placement_strategy") && e.contains("spread, binpack, random"),
            "{e}"
        );
    }

    #[test]
    fn every_validation_error_names_its_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--master", "mesos.example"], "master"),
            (&["--master", "m:http"], "master"),
            (&["--master", "file:///etc/mesos/zk"], "master"),
            (&["--master", "zk://m:2181"], "master"),
            (&["--master", "zk://m:x/mesos"], "master"),
            (&["--zk", "localhost:2181/marathon"], "zk"),
            (&["--zk", "zk://localhost:2181"], "zk"),
            (&["--zk", "zk://localhost:2181/"], "zk"),
            (&["--zk", "zk://h:port/marathon"], "zk"),
            (&["--local_port_min", "20000"], "local_port_min"),
            (
                &["--local_port_min", "5000", "--local_port_max", "4000"],
                "local_port_min",
            ),
            (
                &["--max_instances_per_offer", "0"],
                "max_instances_per_offer",
            ),
            (
                &["--max_running_deployments", "0"],
                "max_running_deployments",
            ),
            (&["--zk_max_versions", "0"], "zk_max_versions"),
            (
                &["--mesos_heartbeat_failure_threshold", "0"],
                "mesos_heartbeat_failure_threshold",
            ),
            (
                &["--event_stream_max_outstanding_messages", "0"],
                "event_stream_max_outstanding_messages",
            ),
            (&["--task_launch_timeout", "0"], "task_launch_timeout"),
            (
                &["--reconciliation_interval", "0"],
                "reconciliation_interval",
            ),
            (&["--zk_session_timeout", "0"], "zk_session_timeout"),
            (&["--zk_timeout", "0"], "zk_timeout"),
            (&["--zk_connection_timeout", "0"], "zk_connection_timeout"),
            (&["--zk_max_node_size", "0"], "zk_max_node_size"),
            (
                &["--leader_proxy_connection_timeout", "0"],
                "leader_proxy_connection_timeout",
            ),
            (
                &["--leader_proxy_read_timeout", "0"],
                "leader_proxy_read_timeout",
            ),
            (
                &["--mesos_heartbeat_interval", "0"],
                "mesos_heartbeat_interval",
            ),
            (&["--framework_name", ""], "framework_name"),
            (&["--mesos_role", " "], "mesos_role"),
            (&["--hostname", ""], "hostname"),
            (&["--mesos_user", ""], "mesos_user"),
            (
                &["--internal_store_backend", "embedded", "--disable_ha"],
                "store_path",
            ),
            (&["--store_path", "/tmp/m"], "store_path"),
            (
                &["--internal_store_backend", "mem", "--store_path", "/tmp/m"],
                "store_path",
            ),
            (
                &[
                    "--internal_store_backend",
                    "embedded",
                    "--store_path",
                    "/tmp/m",
                ],
                "internal_store_backend",
            ),
            (
                &["--internal_store_backend", "mem"],
                "internal_store_backend",
            ),
            (
                &["--default_accepted_resource_roles", " , "],
                "default_accepted_resource_roles",
            ),
            (
                &["--default_accepted_resource_roles", "*,ops"],
                "default_accepted_resource_roles",
            ),
            (&["--http_endpoints", "http://h/cb"], "http_endpoints"),
            (
                &[
                    "--event_subscriber",
                    "http_callback",
                    "--http_endpoints",
                    "h/cb",
                ],
                "http_endpoints",
            ),
        ];
        for (args, flag) in cases {
            let err = parse(args).validate().unwrap_err();
            assert_eq!(err.flag, *flag, "{args:?}: {err}");
            assert!(err
                .to_string()
                .starts_with(&format!("invalid flag --{flag}: ")));
        }
    }
}
