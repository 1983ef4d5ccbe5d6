//! Agent configuration: Mesos agent flag names (with underscores), each also read from
//! `MESOS_<NAME>`. Binaries run [`mesos_common::flags::prepare_command_line`] first so that
//! Mesos value syntax (`--no-flag`, `file://` values) reaches clap already normalized.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};
use mesos_common::exposure::{Exposure, ExposureWarning};
use mesos_common::flags::{bool_arg, duration_arg, format_duration};

/// Flags of `mesos-agent` (alias `mesos-slave`).
///
/// Programmatic construction (e.g. `mesos-local`):
/// `Config::try_parse_from(["mesos-agent", "--master=127.0.0.1:5050", "--work_dir=/tmp/a"])`.
#[derive(Debug, Clone, Parser)]
#[command(name = "mesos-agent", version, about = "Mesos agent: runs tasks for the master", long_about = None)]
pub struct Config {
    /// Master address: `host:port`, or a `zk://host:port,.../path` URL to follow the
    /// leader elected in ZooKeeper.
    #[arg(long = "master", env = "MESOS_MASTER")]
    pub master: Option<String>,

    /// IP address to listen on.
    #[arg(long = "ip", env = "MESOS_IP", default_value = "0.0.0.0")]
    pub ip: IpAddr,

    /// Port to listen on.
    #[arg(long = "port", env = "MESOS_PORT", default_value_t = 5051)]
    pub port: u16,

    /// Hostname the agent reports to the master (default: the IP when --ip is set, else
    /// the system hostname).
    #[arg(long = "hostname", env = "MESOS_HOSTNAME")]
    pub hostname: Option<String>,

    /// IP address advertised to the master and frameworks, when it differs from --ip.
    #[arg(long = "advertise_ip", env = "MESOS_ADVERTISE_IP")]
    pub advertise_ip: Option<IpAddr>,

    /// Directory for checkpoints and task sandboxes.
    #[arg(
        long = "work_dir",
        env = "MESOS_WORK_DIR",
        default_value = "/var/lib/mesos"
    )]
    pub work_dir: PathBuf,

    /// Total resources: `cpus:4;mem:2048;ports:[31000-32000]` or a JSON array of resources.
    /// Kinds left out (cpus, mem, disk, ports) are detected from the machine.
    #[arg(long = "resources", env = "MESOS_RESOURCES")]
    pub resources: Option<String>,

    /// Attributes: `rack:r1;zone:a`.
    #[arg(long = "attributes", env = "MESOS_ATTRIBUTES")]
    pub attributes: Option<String>,

    /// Comma-separated containerizers: `mesos` (command tasks under a supervisor process)
    /// and `docker` (tasks with a DOCKER ContainerInfo, through the Docker Engine API).
    #[arg(
        long = "containerizers",
        env = "MESOS_CONTAINERIZERS",
        default_value = "mesos"
    )]
    pub containerizers: String,

    /// Unix socket of the Docker daemon (used when --containerizers lists docker).
    #[arg(
        long = "docker_socket",
        env = "MESOS_DOCKER_SOCKET",
        default_value = "/var/run/docker.sock"
    )]
    pub docker_socket: String,

    /// Isolation mechanisms (accepted for compatibility; tasks run as plain processes).
    #[arg(
        long = "isolation",
        env = "MESOS_ISOLATION",
        default_value = "posix/cpu,posix/mem"
    )]
    pub isolation: String,

    /// Role given to resources that name none.
    #[arg(long = "default_role", env = "MESOS_DEFAULT_ROLE", default_value = "*")]
    pub default_role: String,

    /// Time between SIGTERM and SIGKILL when a task is killed without a kill policy of its own.
    #[arg(long = "executor_shutdown_grace_period", env = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD",
          default_value = "5secs", value_parser = duration_arg)]
    pub executor_shutdown_grace_period: Duration,

    /// How long a custom executor may take to SUBSCRIBE after it started; then it is
    /// killed and its tasks fail (REASON_EXECUTOR_REGISTRATION_TIMEOUT).
    #[arg(long = "executor_registration_timeout", env = "MESOS_EXECUTOR_REGISTRATION_TIMEOUT",
          default_value = "1mins", value_parser = duration_arg)]
    pub executor_registration_timeout: Duration,

    /// How long a custom executor that ran before an agent restart may take to SUBSCRIBE
    /// again; then it is killed and its tasks are lost
    /// (REASON_EXECUTOR_REREGISTRATION_TIMEOUT). Also its maximum backoff between
    /// attempts (`MESOS_SUBSCRIPTION_BACKOFF_MAX`).
    #[arg(long = "executor_reregistration_timeout", env = "MESOS_EXECUTOR_REREGISTRATION_TIMEOUT",
          default_value = "2secs", value_parser = duration_arg)]
    pub executor_reregistration_timeout: Duration,

    /// How long executors of checkpointing frameworks keep trying to reach a restarting
    /// agent before they give up (`MESOS_RECOVERY_TIMEOUT`).
    #[arg(long = "recovery_timeout", env = "MESOS_RECOVERY_TIMEOUT",
          default_value = "15mins", value_parser = duration_arg)]
    pub recovery_timeout: Duration,

    /// Base of the randomized backoff between attempts to reach the master.
    #[arg(long = "registration_backoff_factor", env = "MESOS_REGISTRATION_BACKOFF_FACTOR",
          default_value = "1secs", value_parser = duration_arg)]
    pub registration_backoff_factor: Duration,

    /// Directory for log files (logs go to stderr when unset).
    #[arg(long = "log_dir", env = "MESOS_LOG_DIR")]
    pub log_dir: Option<PathBuf>,

    /// Directory holding the `mesos-agent` binary used to supervise tasks (default: the
    /// running binary, or a `mesos-agent` next to it).
    #[arg(long = "launcher_dir", env = "MESOS_LAUNCHER_DIR")]
    pub launcher_dir: Option<PathBuf>,

    /// Let Docker tasks run privileged containers (`DockerInfo.privileged`). Off by
    /// default: a privileged container is root on the host.
    #[arg(long = "docker_allow_privileged", env = "MESOS_DOCKER_ALLOW_PRIVILEGED",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = mesos_common::flags::bool_arg, action = clap::ArgAction::Set)]
    pub docker_allow_privileged: bool,

    /// Absolute host paths Docker volumes may mount, as `/data,/srv/shared` (each path and
    /// what lies below it). Unset: only paths inside the sandbox.
    #[arg(
        long = "allowed_host_path_prefixes",
        env = "MESOS_ALLOWED_HOST_PATH_PREFIXES"
    )]
    pub allowed_host_path_prefixes: Option<String>,

    /// First delay before re-sending an unacknowledged status update; it doubles up to 10mins.
    #[arg(long = "status_update_retry_interval_min",
          env = "MESOS_STATUS_UPDATE_RETRY_INTERVAL_MIN", default_value = "10secs",
          value_parser = duration_arg, hide = true)]
    pub status_update_retry_interval_min: Duration,

    /// Path (or `file://` URL) of this agent's credential,
    /// `{"principal":"p","secret":"s"}`, presented to a master that authenticates agents.
    #[arg(long = "credential", env = "MESOS_CREDENTIAL")]
    pub credential: Option<String>,

    /// Path (or `file://` URL) of the credentials HTTP clients of this agent must present
    /// (`{"credentials":[...]}`, as the master's `--credentials`).
    #[arg(long = "http_credentials", env = "MESOS_HTTP_CREDENTIALS")]
    pub http_credentials: Option<String>,

    /// Authenticate requests to the read-only endpoints (`/state`, `/flags`, `/files`, ...).
    #[arg(long = "authenticate_http_readonly", env = "MESOS_AUTHENTICATE_HTTP_READONLY",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_http_readonly: bool,

    /// Authenticate requests to the operator API (`/api/v1`).
    #[arg(long = "authenticate_http_readwrite", env = "MESOS_AUTHENTICATE_HTTP_READWRITE",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_http_readwrite: bool,

    /// Give each executor a token (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, an HS256 JWT
    /// signed with `--jwt_secret_key`) and require it on `/api/v1/executor`.
    #[arg(long = "authenticate_http_executors", env = "MESOS_AUTHENTICATE_HTTP_EXECUTORS",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub authenticate_http_executors: bool,

    /// Path (or `file://` URL) of the key executor tokens are signed with.
    #[arg(
        long = "jwt_secret_key",
        alias = "executor_secret_key",
        env = "MESOS_JWT_SECRET_KEY"
    )]
    pub jwt_secret_key: Option<String>,

    /// Run tasks as their user (`CommandInfo.user`, else `FrameworkInfo.user`) when the
    /// agent runs as root; the user must exist on this machine or the task fails. Off:
    /// tasks run as the agent's user.
    #[arg(long = "switch_user", env = "MESOS_SWITCH_USER",
          default_value = "true", num_args = 0..=1, default_missing_value = "true",
          value_parser = bool_arg, action = ArgAction::Set)]
    pub switch_user: bool,

    /// Access control lists (JSON, or a path or `file://` URL of a file holding it), in
    /// the master's `--acls` format; the agent enforces `access_sandboxes` on `/files`
    /// and the `view_*` rules on `/state` and `/flags`.
    #[arg(long = "acls", env = "MESOS_ACLS")]
    pub acls: Option<String>,

    /// HTTP authenticators of the read-only and read-write realms (only `basic`).
    #[arg(
        long = "http_authenticators",
        env = "MESOS_HTTP_AUTHENTICATORS",
        default_value = "basic"
    )]
    pub http_authenticators: String,
}

/// A flag value the agent cannot start with.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("flag --master is required (host:port)")]
    MissingMaster,
    #[error("flag --master: {0}")]
    Master(String),
    #[error("flag --containerizers: unknown containerizer '{0}' (supported: mesos, docker)")]
    UnknownContainerizer(String),
    #[error("flag --containerizers: no containerizer given")]
    NoContainerizer,
    #[error("flag --resources: {0}")]
    Resources(String),
    #[error("flag --attributes: {0}")]
    Attributes(String),
    #[error("flag --default_role: invalid role '{0}'")]
    DefaultRole(String),
    #[error("flag --work_dir: cannot create '{path}': {reason}")]
    WorkDir { path: String, reason: String },
    #[error("flag --{0}: must be greater than zero")]
    ZeroDuration(&'static str),
    #[error("flag --{flag}: {reason}")]
    Security { flag: &'static str, reason: String },
    #[error("flag --allowed_host_path_prefixes: {0}")]
    HostPathPrefixes(String),
}

impl Config {
    /// Checks flag values that clap cannot check on its own; creates `--work_dir`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.master_address()?;
        let names = self.containerizer_names();
        if names.is_empty() {
            return Err(ConfigError::NoContainerizer);
        }
        if let Some(other) = names.iter().find(|n| !matches!(**n, "mesos" | "docker")) {
            return Err(ConfigError::UnknownContainerizer(other.to_string()));
        }
        if !crate::resources::valid_role(&self.default_role) {
            return Err(ConfigError::DefaultRole(self.default_role.clone()));
        }
        crate::resources::parse_flag(self.resources.as_deref(), &self.default_role)
            .map_err(ConfigError::Resources)?;
        crate::resources::parse_attributes(self.attributes.as_deref())
            .map_err(ConfigError::Attributes)?;
        mesos_common::auth::check_http_authenticators(&self.http_authenticators).map_err(
            |reason| ConfigError::Security {
                flag: "http_authenticators",
                reason,
            },
        )?;
        if self.authenticate_http_executors && self.jwt_secret_key.is_none() {
            return Err(ConfigError::Security {
                flag: "jwt_secret_key",
                reason: "--authenticate_http_executors needs a secret key to sign executor \
                         tokens with"
                    .into(),
            });
        }
        self.allowed_host_path_prefixes()?;
        if self.status_update_retry_interval_min.is_zero() {
            return Err(ConfigError::ZeroDuration(
                "status_update_retry_interval_min",
            ));
        }
        std::fs::create_dir_all(&self.work_dir).map_err(|e| ConfigError::WorkDir {
            path: self.work_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(())
    }

    /// `--allowed_host_path_prefixes` (`/data,/srv/shared`): absolute paths without `..`.
    pub fn allowed_host_path_prefixes(&self) -> Result<Vec<PathBuf>, ConfigError> {
        let text = self.allowed_host_path_prefixes.as_deref().unwrap_or("");
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let path = PathBuf::from(p);
                let parent = path
                    .components()
                    .any(|c| c == std::path::Component::ParentDir);
                if !path.is_absolute() || parent {
                    Err(ConfigError::HostPathPrefixes(format!(
                        "'{p}' is not an absolute path without '..'"
                    )))
                } else {
                    Ok(path)
                }
            })
            .collect()
    }

    fn containerizer_names(&self) -> Vec<&str> {
        self.containerizers
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// `--containerizers` lists `docker`.
    pub fn docker_enabled(&self) -> bool {
        self.containerizer_names().contains(&"docker")
    }

    /// `--containerizers` lists `mesos` (command tasks without a Docker container).
    pub fn mesos_enabled(&self) -> bool {
        self.containerizer_names().contains(&"mesos")
    }

    /// The master's `host:port`, with the forms Mesos also accepts (`master@host:port`,
    /// `http://host:port`) reduced to it; a `zk://` URL as given (its syntax checked).
    pub fn master_address(&self) -> Result<String, ConfigError> {
        let raw = self
            .master
            .as_deref()
            .ok_or(ConfigError::MissingMaster)?
            .trim();
        if raw.starts_with("zk://") {
            return mesos_common::zk::ZkUrl::parse(raw)
                .map(|_| raw.to_string())
                .map_err(|e| ConfigError::Master(e.to_string()));
        }
        let stripped = raw
            .strip_prefix("http://")
            .or_else(|| raw.strip_prefix("master@"))
            .unwrap_or(raw)
            .trim_end_matches('/');
        match stripped.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(stripped.to_string())
            }
            _ => Err(ConfigError::Master(format!("'{raw}' is not host:port"))),
        }
    }

    /// The start-up warning when the agent listens beyond loopback (`--ip`) with its HTTP
    /// authentication off: its operator API launches commands in any task's container
    /// and `/files` reads every sandbox. `port` is the port bound.
    pub fn exposure_warning(&self, port: u16) -> Option<ExposureWarning> {
        let off = mesos_common::exposure::off([
            (
                "--authenticate_http_readwrite",
                self.authenticate_http_readwrite,
            ),
            (
                "--authenticate_http_readonly",
                self.authenticate_http_readonly,
            ),
        ]);
        let host = self.ip.to_string();
        Exposure {
            program: "mesos-agent",
            host: &host,
            port,
            off,
            risk: "run commands in any task's container and read every sandbox",
            loopback: "--ip=127.0.0.1",
        }
        .warning()
    }

    /// Every flag with its effective value, as `/flags` and `/state` report them.
    pub fn flags(&self) -> BTreeMap<String, String> {
        let duration = |d: Duration| format_duration(d);
        let optional = |v: Option<String>| v.unwrap_or_default();
        let entries: [(&str, String); 31] = [
            ("master", optional(self.master.clone())),
            ("ip", self.ip.to_string()),
            ("port", self.port.to_string()),
            ("hostname", optional(self.hostname.clone())),
            (
                "advertise_ip",
                optional(self.advertise_ip.map(|ip| ip.to_string())),
            ),
            ("work_dir", self.work_dir.display().to_string()),
            ("resources", optional(self.resources.clone())),
            ("attributes", optional(self.attributes.clone())),
            ("containerizers", self.containerizers.clone()),
            ("docker_socket", self.docker_socket.clone()),
            ("isolation", self.isolation.clone()),
            ("default_role", self.default_role.clone()),
            (
                "executor_shutdown_grace_period",
                duration(self.executor_shutdown_grace_period),
            ),
            (
                "executor_registration_timeout",
                duration(self.executor_registration_timeout),
            ),
            (
                "executor_reregistration_timeout",
                duration(self.executor_reregistration_timeout),
            ),
            ("recovery_timeout", duration(self.recovery_timeout)),
            (
                "registration_backoff_factor",
                duration(self.registration_backoff_factor),
            ),
            (
                "log_dir",
                optional(self.log_dir.as_ref().map(|p| p.display().to_string())),
            ),
            (
                "launcher_dir",
                optional(self.launcher_dir.as_ref().map(|p| p.display().to_string())),
            ),
            (
                "status_update_retry_interval_min",
                duration(self.status_update_retry_interval_min),
            ),
            // Paths only: the files' secrets never reach /flags.
            ("credential", optional(self.credential.clone())),
            ("http_credentials", optional(self.http_credentials.clone())),
            (
                "authenticate_http_readonly",
                self.authenticate_http_readonly.to_string(),
            ),
            (
                "authenticate_http_readwrite",
                self.authenticate_http_readwrite.to_string(),
            ),
            (
                "authenticate_http_executors",
                self.authenticate_http_executors.to_string(),
            ),
            ("jwt_secret_key", optional(self.jwt_secret_key.clone())),
            ("http_authenticators", self.http_authenticators.clone()),
            ("switch_user", self.switch_user.to_string()),
            ("acls", optional(self.acls.clone())),
            (
                "docker_allow_privileged",
                self.docker_allow_privileged.to_string(),
            ),
            (
                "allowed_host_path_prefixes",
                optional(self.allowed_host_path_prefixes.clone()),
            ),
        ];
        entries
            .into_iter()
            // Mesos leaves unset optional flags out of /flags.
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("mesos-agent").chain(args.iter().copied()))
    }

    #[test]
    fn listening_beyond_loopback_with_authentication_off_is_warned_about() {
        let warned = |args: &[&str]| {
            let mut all = vec!["--master=m:5050"];
            all.extend(args);
            parse(&all).unwrap().exposure_warning(5051)
        };
        let warning = warned(&[]).expect("0.0.0.0 is the default");
        assert_eq!(
            warning.flags,
            [
                "--authenticate_http_readwrite",
                "--authenticate_http_readonly"
            ]
        );
        assert!(warned(&["--ip=10.0.0.7", "--authenticate_http_readwrite"]).is_some());
        assert!(warned(&[
            "--authenticate_http_readwrite",
            "--authenticate_http_readonly"
        ])
        .is_none());
        assert!(warned(&["--ip=127.0.0.1"]).is_none());
    }

    #[test]
    fn docker_guard_flags() {
        let config = parse(&["--master=m:5050"]).unwrap();
        assert!(
            !config.docker_allow_privileged,
            "privileged is off by default"
        );
        assert_eq!(
            config.allowed_host_path_prefixes().unwrap(),
            Vec::<PathBuf>::new()
        );
        let config = parse(&[
            "--master=m:5050",
            "--docker_allow_privileged",
            "--allowed_host_path_prefixes=/data, /srv/shared,",
        ])
        .unwrap();
        assert!(config.docker_allow_privileged);
        assert_eq!(
            config.allowed_host_path_prefixes().unwrap(),
            vec![PathBuf::from("/data"), PathBuf::from("/srv/shared")]
        );
        for bad in ["data", "/a/../b"] {
            let config = parse(&[
                "--master=m:5050",
                &format!("--allowed_host_path_prefixes={bad}"),
            ])
            .unwrap();
            assert!(matches!(
                config.allowed_host_path_prefixes(),
                Err(ConfigError::HostPathPrefixes(_))
            ));
        }
    }

    #[test]
    fn defaults_follow_mesos() {
        let config = parse(&["--master=127.0.0.1:5050"]).unwrap();
        assert_eq!(config.port, 5051);
        assert_eq!(config.ip.to_string(), "0.0.0.0");
        assert_eq!(config.work_dir, PathBuf::from("/var/lib/mesos"));
        assert_eq!(config.containerizers, "mesos");
        assert_eq!(config.default_role, "*");
        assert!(config.switch_user, "Mesos switches users by default");
        assert!(
            !parse(&["--master=m:1", "--switch_user=false"])
                .unwrap()
                .switch_user
        );
        assert_eq!(
            config.executor_shutdown_grace_period,
            Duration::from_secs(5)
        );
        assert_eq!(config.registration_backoff_factor, Duration::from_secs(1));
        assert_eq!(
            config.status_update_retry_interval_min,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn every_flag_is_described() {
        let dir = tempfile::tempdir().unwrap();
        let work_dir = format!("--work_dir={}", dir.path().display());
        let config = parse(&[
            "--master=m:5050",
            "--hostname=h",
            "--advertise_ip=10.0.0.1",
            "--resources=cpus:1",
            "--attributes=rack:a",
            "--log_dir=/tmp/l",
            "--launcher_dir=/tmp/b",
            "--credential=/etc/c",
            "--http_credentials=/etc/h",
            "--jwt_secret_key=/etc/k",
            "--allowed_host_path_prefixes=/data",
            "--acls={}",
            &work_dir,
        ])
        .unwrap();
        let flags = config.flags();
        for arg in Config::command().get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            assert!(
                flags.contains_key(id),
                "flag {id} missing from Config::flags()"
            );
        }
        assert_eq!(flags["executor_shutdown_grace_period"], "5secs");
        // Mesos's defaults.
        assert_eq!(flags["executor_registration_timeout"], "1mins");
        assert_eq!(flags["executor_reregistration_timeout"], "2secs");
        assert_eq!(flags["recovery_timeout"], "15mins");
    }

    #[test]
    fn invalid_values_name_the_flag() {
        let err = parse(&["--port=abc"]).unwrap_err().to_string();
        assert!(err.contains("--port"), "{err}");
        let err = parse(&["--executor_shutdown_grace_period=5"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--executor_shutdown_grace_period"), "{err}");
    }

    #[test]
    fn validation() {
        let dir = tempfile::tempdir().unwrap();
        let work_dir = format!("--work_dir={}", dir.path().join("w").display());
        let ok = parse(&["--master=127.0.0.1:5050", &work_dir]).unwrap();
        assert_eq!(ok.validate(), Ok(()));
        assert!(dir.path().join("w").is_dir());

        let cases: [(&[&str], ConfigError); 5] = [
            (&[], ConfigError::MissingMaster),
            (
                &["--master=127.0.0.1:5050", "--containerizers= ,"],
                ConfigError::NoContainerizer,
            ),
            (
                &["--master=127.0.0.1:5050", "--containerizers=lxc"],
                ConfigError::UnknownContainerizer("lxc".into()),
            ),
            (
                &["--master=nonsense"],
                ConfigError::Master("'nonsense' is not host:port".into()),
            ),
            (
                &[
                    "--master=127.0.0.1:5050",
                    "--status_update_retry_interval_min=0secs",
                ],
                ConfigError::ZeroDuration("status_update_retry_interval_min"),
            ),
        ];
        for (args, want) in cases {
            let mut all = args.to_vec();
            all.push(&work_dir);
            assert_eq!(parse(&all).unwrap().validate(), Err(want), "{args:?}");
        }
        let both = parse(&["--master=m:1", "--containerizers=docker,mesos", &work_dir]).unwrap();
        assert_eq!(both.validate(), Ok(()));
        assert!(both.docker_enabled() && both.mesos_enabled());
        assert!(!ok.docker_enabled() && ok.mesos_enabled());
        assert_eq!(ok.docker_socket, "/var/run/docker.sock");
        let bad_resources = parse(&["--master=m:1", "--resources=cpus:abc", &work_dir]).unwrap();
        assert!(matches!(
            bad_resources.validate(),
            Err(ConfigError::Resources(_))
        ));
        assert_eq!(
            parse(&["--master=master@10.0.0.2:5050"])
                .unwrap()
                .master_address(),
            Ok("10.0.0.2:5050".to_string())
        );
    }

    #[test]
    fn unwritable_work_dir_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let work_dir = format!("--work_dir={}", file.join("sub").display());
        let config = parse(&["--master=m:1", &work_dir]).unwrap();
        assert!(matches!(
            config.validate(),
            Err(ConfigError::WorkDir { .. })
        ));
    }
}
