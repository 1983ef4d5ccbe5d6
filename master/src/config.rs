//! The master's configuration: Mesos's flag names, also readable from `MESOS_*` variables.

use std::net::IpAddr;
use std::time::Duration;

use clap::{ArgAction, Parser};
use mesos_common::exposure::{Exposure, ExposureWarning};
use mesos_common::flags::{bool_arg, duration_arg, format_duration};
use mesos_common::resources::ResourceQuantities;

/// Flags of `mesos-master`. Unknown flags and malformed values stop the program at start
/// with a message naming the flag (clap's errors do that).
#[derive(Debug, Clone, Parser)]
#[command(name = "mesos-master", version, about = "Mesos-compatible master")]
pub struct Config {
    /// IP address to listen on.
    #[arg(long = "ip", env = "MESOS_IP", default_value = "0.0.0.0")]
    pub ip: IpAddr,

    /// Port to listen on.
    #[arg(long = "port", env = "MESOS_PORT", default_value_t = 5050)]
    pub port: u16,

    /// Hostname to advertise (defaults to the machine's hostname).
    #[arg(long = "hostname", env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,

    /// IP address to advertise to agents and frameworks.
    #[arg(long = "advertise_ip", env = "MESOS_ADVERTISE_IP")]
    pub advertise_ip: Option<IpAddr>,

    /// Port to advertise (defaults to the bound port).
    #[arg(long = "advertise_port", env = "MESOS_ADVERTISE_PORT")]
    pub advertise_port: Option<u16>,

    /// Directory for the master's persistent data.
    #[arg(long = "work_dir", env = "MESOS_WORK_DIR")]
    pub work_dir: Option<String>,

    /// Human-readable cluster name shown in the state and the web UI.
    #[arg(long = "cluster", env = "MESOS_CLUSTER")]
    pub cluster: Option<String>,

    /// Directory for log files (logs go to stderr as well).
    #[arg(long = "log_dir", env = "MESOS_LOG_DIR")]
    pub log_dir: Option<String>,

    /// ZooKeeper URL for leader election (`zk://host:port/path`).
    #[arg(long = "zk", env = "MESOS_ZK")]
    pub zk: Option<String>,

    /// Size of the registry quorum.
    #[arg(long = "quorum", env = "MESOS_QUORUM")]
    pub quorum: Option<u32>,

    /// ZooKeeper session timeout.
    #[arg(long = "zk_session_timeout", env = "MESOS_ZK_SESSION_TIMEOUT", default_value = "10secs", value_parser = duration_arg)]
    pub zk_session_timeout: Duration,

    /// Where the registry lives: `replicated_log` or `in_memory`.
    #[arg(long = "registry", env = "MESOS_REGISTRY", default_value = "replicated_log", value_parser = ["replicated_log", "in_memory"])]
    pub registry: String,

    /// Interval between batch allocations.
    #[arg(long = "allocation_interval", env = "MESOS_ALLOCATION_INTERVAL", default_value = "1secs", value_parser = duration_arg)]
    pub allocation_interval: Duration,

    /// How long an offer may stay outstanding before it is rescinded (unset: forever).
    #[arg(long = "offer_timeout", env = "MESOS_OFFER_TIMEOUT", value_parser = duration_arg)]
    pub offer_timeout: Option<Duration>,

    /// Smallest offers, as alternatives: `cpus:0.01|mem:32`.
    #[arg(
        long = "min_allocatable_resources",
        env = "MESOS_MIN_ALLOCATABLE_RESOURCES",
        default_value = "cpus:0.01|mem:32"
    )]
    pub min_allocatable_resources: String,

    /// Time between pings to an agent.
    #[arg(long = "agent_ping_timeout", alias = "slave_ping_timeout", env = "MESOS_AGENT_PING_TIMEOUT", default_value = "15secs", value_parser = duration_arg)]
    pub agent_ping_timeout: Duration,

    /// Pings an agent may miss before it is considered unreachable.
    #[arg(
        long = "max_agent_ping_timeouts",
        alias = "max_slave_ping_timeouts",
        env = "MESOS_MAX_AGENT_PING_TIMEOUTS",
        default_value_t = 5
    )]
    pub max_agent_ping_timeouts: u32,

    /// Time the new leader waits for agents to re-register.
    #[arg(long = "agent_reregister_timeout", alias = "slave_reregister_timeout", env = "MESOS_AGENT_REREGISTER_TIMEOUT", default_value = "10mins", value_parser = duration_arg)]
    pub agent_reregister_timeout: Duration,

    /// Role weights: `role1=2.0,role2=1.0`.
    #[arg(long = "weights", env = "MESOS_WEIGHTS")]
    pub weights: Option<String>,

    /// Completed frameworks kept in the state.
    #[arg(
        long = "max_completed_frameworks",
        env = "MESOS_MAX_COMPLETED_FRAMEWORKS",
        default_value_t = 50
    )]
    pub max_completed_frameworks: usize,

    /// Completed tasks kept per framework.
    #[arg(
        long = "max_completed_tasks_per_framework",
        env = "MESOS_MAX_COMPLETED_TASKS_PER_FRAMEWORK",
        default_value_t = 1000
    )]
    pub max_completed_tasks_per_framework: usize,

    /// Tasks on unreachable agents kept per framework.
    #[arg(
        long = "max_unreachable_tasks_per_framework",
        env = "MESOS_MAX_UNREACHABLE_TASKS_PER_FRAMEWORK",
        default_value_t = 1000
    )]
    pub max_unreachable_tasks_per_framework: usize,

    /// Path (or `file://` URL) of a JSON file of credentials,
    /// `{"credentials":[{"principal":"p","secret":"s"}]}`, checked by the Basic HTTP
    /// authenticator and on the agent stream.
    #[arg(long = "credentials", env = "MESOS_CREDENTIALS")]
    pub credentials: Option<String>,

    /// Only frameworks that authenticate may subscribe. Mesos applies it to v0 (driver)
    /// frameworks; this master has no v0 API, so it requires HTTP Basic on
    /// `/api/v1/scheduler`, as `--authenticate_http_frameworks` does.
    #[arg(long = "authenticate_frameworks", alias = "authenticate", env = "MESOS_AUTHENTICATE_FRAMEWORKS",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_frameworks: bool,

    /// Only agents that present a credential of `--credentials` may register.
    #[arg(long = "authenticate_agents", alias = "authenticate_slaves", env = "MESOS_AUTHENTICATE_AGENTS",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_agents: bool,

    /// Authenticate requests to the read-only endpoints (`/state`, `/flags`, ...).
    #[arg(long = "authenticate_http_readonly", env = "MESOS_AUTHENTICATE_HTTP_READONLY",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_http_readonly: bool,

    /// Authenticate requests to the endpoints that change things (`/api/v1`, `/teardown`, ...).
    #[arg(long = "authenticate_http_readwrite", alias = "authenticate_http", env = "MESOS_AUTHENTICATE_HTTP_READWRITE",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_http_readwrite: bool,

    /// Authenticate HTTP frameworks (`/api/v1/scheduler`); needs
    /// `--http_framework_authenticators`.
    #[arg(long = "authenticate_http_frameworks", env = "MESOS_AUTHENTICATE_HTTP_FRAMEWORKS",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_http_frameworks: bool,

    /// HTTP authenticators of the read-only and read-write realms (only `basic`).
    #[arg(
        long = "http_authenticators",
        env = "MESOS_HTTP_AUTHENTICATORS",
        default_value = "basic"
    )]
    pub http_authenticators: String,

    /// HTTP authenticators of the scheduler realm (only `basic`); no default, as in Mesos.
    #[arg(
        long = "http_framework_authenticators",
        env = "MESOS_HTTP_FRAMEWORK_AUTHENTICATORS"
    )]
    pub http_framework_authenticators: Option<String>,

    /// Authenticator of v0 frameworks and agents (accepted for compatibility: `crammd5`).
    #[arg(
        long = "authenticators",
        env = "MESOS_AUTHENTICATORS",
        default_value = "crammd5"
    )]
    pub authenticators: String,

    /// Authorizer (only `local`, which reads `--acls`).
    #[arg(
        long = "authorizers",
        env = "MESOS_AUTHORIZERS",
        default_value = "local"
    )]
    pub authorizers: String,

    /// ACLs as JSON, or the path (`/x` or `file:///x`) of a file holding them.
    #[arg(long = "acls", env = "MESOS_ACLS")]
    pub acls: Option<String>,

    /// Largest request body accepted on the HTTP API.
    #[arg(long = "max_request_body", env = "MESOS_MAX_REQUEST_BODY", default_value = "10MB", value_parser = mesos_common::flags::bytes_arg)]
    pub max_request_body: u64,
}

/// How many finished tasks a framework keeps, by kind.
#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    pub completed_tasks: usize,
    pub unreachable_tasks: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid flag --{flag}: {reason}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub reason: String,
}

impl Config {
    /// Checks what clap cannot: values that parse but make no sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.min_allocatable()?;
        self.weights()?;
        if self.max_agent_ping_timeouts == 0 {
            return Err(ConfigError {
                flag: "max_agent_ping_timeouts",
                reason: "must be at least 1".into(),
            });
        }
        if self.agent_ping_timeout.is_zero() {
            return Err(ConfigError {
                flag: "agent_ping_timeout",
                reason: "must be positive".into(),
            });
        }
        self.validate_authentication()?;
        if self.allocation_interval.is_zero() {
            return Err(ConfigError {
                flag: "allocation_interval",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }

    /// Mesos's start-up rules for authentication flags that need no file read.
    fn validate_authentication(&self) -> Result<(), ConfigError> {
        let only_basic = |flag: &'static str, value: &str| {
            mesos_common::auth::check_http_authenticators(value)
                .map_err(|reason| ConfigError { flag, reason })
        };
        only_basic("http_authenticators", &self.http_authenticators)?;
        if self.authenticate_http_frameworks {
            let Some(names) = &self.http_framework_authenticators else {
                return Err(ConfigError {
                    flag: "http_framework_authenticators",
                    reason: "Missing `--http_framework_authenticators` flag. This must be used \
                             in conjunction with `--authenticate_http_frameworks`"
                        .into(),
                });
            };
            only_basic("http_framework_authenticators", names)?;
        }
        if self.authenticators.contains(',') {
            return Err(ConfigError {
                flag: "authenticators",
                reason: "Multiple authenticators not supported".into(),
            });
        }
        if self.authenticators != "crammd5" {
            return Err(ConfigError {
                flag: "authenticators",
                reason: format!(
                    "Authenticator '{}' not found. Check the spelling (compare to 'crammd5')",
                    self.authenticators
                ),
            });
        }
        if self.authorizers != "local" {
            return Err(ConfigError {
                flag: "authorizers",
                reason: format!(
                    "Authorizer '{}' not found. Check the spelling (compare to 'local')",
                    self.authorizers
                ),
            });
        }
        Ok(())
    }

    /// The start-up warning when the master listens beyond loopback (`--ip`) with any of
    /// its authentication flags off: anyone who reaches an open scheduler API can run any
    /// command on the agents, an open operator API can tear frameworks down, an open agent
    /// stream takes tasks (and their secrets) to a rogue agent, and `/state` lists every
    /// task's environment. `port` is the port bound.
    pub fn exposure_warning(&self, port: u16) -> Option<ExposureWarning> {
        let frameworks = self.authenticate_frameworks || self.authenticate_http_frameworks;
        let off = mesos_common::exposure::off([
            ("--authenticate_frameworks", frameworks),
            (
                "--authenticate_http_readwrite",
                self.authenticate_http_readwrite,
            ),
            ("--authenticate_agents", self.authenticate_agents),
            (
                "--authenticate_http_readonly",
                self.authenticate_http_readonly,
            ),
        ]);
        let host = self.ip.to_string();
        Exposure {
            program: "mesos-master",
            host: &host,
            port,
            off,
            risk: "register a framework and run any command on the agents",
            loopback: "--ip=127.0.0.1",
        }
        .warning()
    }

    pub fn min_allocatable(&self) -> Result<Vec<ResourceQuantities>, ConfigError> {
        mesos_common::resources::parse_min_allocatable(&self.min_allocatable_resources).map_err(
            |e| ConfigError {
                flag: "min_allocatable_resources",
                reason: e.to_string(),
            },
        )
    }

    pub fn weights(&self) -> Result<Vec<(String, f64)>, ConfigError> {
        let Some(text) = &self.weights else {
            return Ok(Vec::new());
        };
        let err = |reason: String| ConfigError {
            flag: "weights",
            reason,
        };
        text.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|pair| {
                let (role, weight) = pair
                    .split_once('=')
                    .ok_or_else(|| err(format!("'{pair}' is not role=weight")))?;
                let weight: f64 = weight
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("'{weight}' is not a number")))?;
                if !(weight > 0.0 && weight.is_finite()) {
                    return Err(err(format!("weight of '{role}' must be positive")));
                }
                Ok((role.trim().to_string(), weight))
            })
            .collect()
    }

    /// How much finished-task history each framework keeps.
    pub fn history_limits(&self) -> HistoryLimits {
        HistoryLimits {
            completed_tasks: self.max_completed_tasks_per_framework,
            unreachable_tasks: self.max_unreachable_tasks_per_framework,
        }
    }

    /// The flags as Mesos's `/master/flags` shows them: every value a string.
    pub fn flag_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), serde_json::Value::String(v));
        };
        put("ip", self.ip.to_string());
        put("port", self.port.to_string());
        if let Some(h) = &self.hostname {
            put("hostname", h.clone());
        }
        if let Some(w) = &self.work_dir {
            put("work_dir", w.clone());
        }
        if let Some(c) = &self.cluster {
            put("cluster", c.clone());
        }
        if let Some(l) = &self.log_dir {
            put("log_dir", l.clone());
        }
        if let Some(zk) = &self.zk {
            put("zk", zk.clone());
        }
        if let Some(q) = self.quorum {
            put("quorum", q.to_string());
        }
        put(
            "zk_session_timeout",
            format_duration(self.zk_session_timeout),
        );
        put("registry", self.registry.clone());
        put(
            "allocation_interval",
            format_duration(self.allocation_interval),
        );
        if let Some(t) = self.offer_timeout {
            put("offer_timeout", format_duration(t));
        }
        put(
            "min_allocatable_resources",
            self.min_allocatable_resources.clone(),
        );
        put(
            "agent_ping_timeout",
            format_duration(self.agent_ping_timeout),
        );
        put(
            "max_agent_ping_timeouts",
            self.max_agent_ping_timeouts.to_string(),
        );
        put(
            "agent_reregister_timeout",
            format_duration(self.agent_reregister_timeout),
        );
        if let Some(w) = &self.weights {
            put("weights", w.clone());
        }
        put(
            "max_completed_frameworks",
            self.max_completed_frameworks.to_string(),
        );
        put(
            "max_completed_tasks_per_framework",
            self.max_completed_tasks_per_framework.to_string(),
        );
        put(
            "max_unreachable_tasks_per_framework",
            self.max_unreachable_tasks_per_framework.to_string(),
        );
        // The path, never the file's contents: secrets stay out of /flags.
        if let Some(c) = &self.credentials {
            put("credentials", c.clone());
        }
        for (name, on) in [
            ("authenticate_frameworks", self.authenticate_frameworks),
            ("authenticate_agents", self.authenticate_agents),
            (
                "authenticate_http_readonly",
                self.authenticate_http_readonly,
            ),
            (
                "authenticate_http_readwrite",
                self.authenticate_http_readwrite,
            ),
            (
                "authenticate_http_frameworks",
                self.authenticate_http_frameworks,
            ),
        ] {
            put(name, on.to_string());
        }
        put("http_authenticators", self.http_authenticators.clone());
        if let Some(a) = &self.http_framework_authenticators {
            put("http_framework_authenticators", a.clone());
        }
        put("authenticators", self.authenticators.clone());
        put("authorizers", self.authorizers.clone());
        if let Some(a) = &self.acls {
            put("acls", a.clone());
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("mesos-master").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn listening_beyond_loopback_with_authentication_off_is_warned_about() {
        let all_on = [
            "--authenticate_frameworks",
            "--authenticate_agents",
            "--authenticate_http_readonly",
            "--authenticate_http_readwrite",
        ];
        let warning = config(&[])
            .exposure_warning(5050)
            .expect("0.0.0.0 is the default");
        assert_eq!(warning.address, "0.0.0.0:5050");
        assert_eq!(warning.flags.len(), 4, "{warning:?}");
        let some_on = config(&["--ip=10.0.0.5", "--authenticate_http_readwrite"]);
        let warning = some_on.exposure_warning(5050).expect("three flags off");
        assert!(!warning
            .flags
            .contains(&"--authenticate_http_readwrite".to_string()));
        assert!(warning.message.contains("--authenticate_frameworks"));
        assert_eq!(config(&all_on).exposure_warning(5050), None);
        // The HTTP spelling of framework authentication counts too.
        let mut http_frameworks = all_on.to_vec();
        http_frameworks[0] = "--authenticate_http_frameworks";
        assert_eq!(config(&http_frameworks).exposure_warning(5050), None);
        assert_eq!(config(&["--ip=127.0.0.1"]).exposure_warning(5050), None);
        assert_eq!(config(&["--ip=::1"]).exposure_warning(5050), None);
    }
}
