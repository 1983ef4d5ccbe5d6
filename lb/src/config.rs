//! marathon-lb's flags (the names of marathon_lb.py, plus a few for where HAProxy's files
//! and shared frontends go), checked before anything starts.

use std::path::{Path, PathBuf};

use clap::{ArgAction, Parser};

use crate::labels;
use crate::render::Layout;
use crate::services::Settings;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "marathon-lb",
    about = "Marathon HAProxy Load Balancer: HAProxy configuration from Marathon's apps and events"
)]
pub struct Config {
    /// Marathon endpoints, tried in order, e.g. -m http://marathon1:8080 http://marathon2:8080
    #[arg(long, short = 'm', num_args = 1.., default_value = "http://master.mesos:8080")]
    pub marathon: Vec<String>,
    /// Location of the HAProxy configuration this program writes.
    #[arg(long = "haproxy-config", default_value = "/etc/haproxy/haproxy.cfg")]
    pub haproxy_config: PathBuf,
    /// Only serve apps whose HAPROXY_GROUP (or HAPROXY_{n}_GROUP) lists one of these
    /// names; '*' serves every app, with or without a group. Repeatable. Default: external.
    #[arg(long, action = ArgAction::Append)]
    pub group: Vec<String>,
    /// Run this shell command to reload HAProxy instead of starting it here.
    #[arg(long, short = 'c')]
    pub command: Option<String>,
    /// Serve only service ports with HAPROXY_{n}_ENABLED=true.
    #[arg(long = "strict-mode")]
    pub strict_mode: bool,
    /// Follow Marathon's event stream (/v2/events) and keep running; without it the
    /// configuration is written once and the program exits.
    #[arg(long, short = 's')]
    pub sse: bool,
    /// Respect Marathon's health check results: a task of an app with health checks is
    /// served once one of its checks is alive.
    #[arg(long = "health-check", short = 'H')]
    pub health_check: bool,
    /// Do not bind the virtual-host frontend (port 80).
    #[arg(long = "dont-bind-http-https")]
    pub dont_bind_http_https: bool,
    /// Load the configuration without `haproxy -c` first.
    #[arg(long = "skip-validation")]
    pub skip_validation: bool,
    /// Only print the configuration, once.
    #[arg(long, short = 'd')]
    pub dry: bool,
    /// The HAProxy program.
    #[arg(long = "haproxy-bin", default_value = "haproxy")]
    pub haproxy_bin: PathBuf,
    /// HAProxy's pid file. Default: haproxy.pid next to --haproxy-config.
    #[arg(long = "haproxy-pidfile")]
    pub haproxy_pidfile: Option<PathBuf>,
    /// HAProxy's runtime API socket. Default: haproxy.sock next to --haproxy-config.
    #[arg(long = "haproxy-socket")]
    pub haproxy_socket: Option<PathBuf>,
    /// Address the frontends bind to unless HAPROXY_{n}_BIND_ADDR says otherwise.
    #[arg(long = "bind-addr", default_value = "*")]
    pub bind_addr: String,
    /// Port of the virtual-host frontend (HAPROXY_{n}_VHOST); 0: not bound.
    #[arg(long = "vhost-port", default_value_t = 80)]
    pub vhost_port: u16,
    /// Port of the frontend that routes on the X-Marathon-App-Id header; 0: not bound.
    #[arg(long = "appid-port", default_value_t = 9091)]
    pub appid_port: u16,
    /// How often to fetch the apps while the event stream is unavailable (milliseconds).
    #[arg(long = "poll-interval-ms", default_value_t = 1000)]
    pub poll_interval_ms: u64,
    /// `user:password` sent to Marathon as HTTP Basic (Marathon's `--http_credentials`).
    #[arg(long = "auth-credentials", hide_env_values = true)]
    pub auth_credentials: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{flag}: {why}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub why: String,
}

fn bad(flag: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        why: why.into(),
    }
}

/// Longest path a Unix socket address holds.
const MAX_SOCKET_PATH: usize = 107;

impl Config {
    /// Checks every flag; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for url in &self.marathon {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(bad("--marathon", format!("{url:?} is not an http(s) URL")));
            }
        }
        if self
            .group
            .iter()
            .any(|g| g.is_empty() || g.contains(char::is_whitespace))
        {
            return Err(bad("--group", "group names are non-empty words"));
        }
        let dir = self.config_dir();
        if !dir.is_dir() {
            return Err(bad(
                "--haproxy-config",
                format!("directory {} does not exist", dir.display()),
            ));
        }
        let socket = self.socket_path();
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(bad(
                "--haproxy-socket",
                format!(
                    "{} is longer than {MAX_SOCKET_PATH} bytes",
                    socket.display()
                ),
            ));
        }
        labels::bind_addr(&self.bind_addr).map_err(|why| bad("--bind-addr", why))?;
        if !(10..=3_600_000).contains(&self.poll_interval_ms) {
            return Err(bad("--poll-interval-ms", "must be from 10 to 3600000"));
        }
        self.auth()?;
        Ok(())
    }

    /// `--auth-credentials` as (user, password), split at the first `:` as HTTP Basic
    /// splits it.
    pub fn auth(&self) -> Result<Option<(String, String)>, ConfigError> {
        let Some(text) = &self.auth_credentials else {
            return Ok(None);
        };
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !text.contains(['\n', '\r']) => {
                Ok(Some((user.to_string(), password.to_string())))
            }
            _ => Err(bad("--auth-credentials", "expected user:password")),
        }
    }

    fn config_dir(&self) -> PathBuf {
        match self.haproxy_config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => Path::new(".").to_path_buf(),
        }
    }

    pub fn pidfile_path(&self) -> PathBuf {
        self.haproxy_pidfile
            .clone()
            .unwrap_or_else(|| self.config_dir().join("haproxy.pid"))
    }

    pub fn socket_path(&self) -> PathBuf {
        self.haproxy_socket
            .clone()
            .unwrap_or_else(|| self.config_dir().join("haproxy.sock"))
    }

    /// Where the servers' states are kept across reloads (`show servers state` before each
    /// reload, read by the new process): next to the runtime API socket.
    pub fn server_state_path(&self) -> PathBuf {
        self.socket_path().with_extension("state")
    }

    /// `--group`, with marathon-lb's DC/OS default when none is given.
    pub fn groups(&self) -> Vec<String> {
        if self.group.is_empty() {
            vec!["external".to_string()]
        } else {
            self.group.clone()
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            groups: self.groups(),
            strict_mode: self.strict_mode,
            health_check: self.health_check,
            bind_addr: self.bind_addr.clone(),
        }
    }

    pub fn layout(&self) -> Layout {
        let port = |p: u16| (p != 0).then_some(p);
        Layout {
            stats_socket: self.socket_path().display().to_string(),
            server_state_file: self.server_state_path().display().to_string(),
            vhost_port: if self.dont_bind_http_https {
                None
            } else {
                port(self.vhost_port)
            },
            appid_port: port(self.appid_port),
            bind_addr: self.bind_addr.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let dir = std::env::temp_dir();
        let cfg = dir.join("haproxy.cfg");
        let mut all = vec!["marathon-lb", "--haproxy-config", cfg.to_str().unwrap()];
        all.extend(args);
        let c = Config::try_parse_from(all).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn marathon_lb_flags_parse() {
        let c = parse(&[
            "-m",
            "http://127.0.0.1:8080",
            "http://127.0.0.2:8080",
            "--group",
            "a",
            "--group",
            "b",
            "--sse",
            "-H",
            "--strict-mode",
        ])
        .unwrap();
        assert_eq!(c.marathon.len(), 2);
        assert_eq!(c.groups(), vec!["a", "b"]);
        assert!(c.sse && c.health_check && c.strict_mode);
        assert_eq!(c.pidfile_path(), std::env::temp_dir().join("haproxy.pid"));
        assert_eq!(c.layout().vhost_port, Some(80));
        let c = parse(&["--dont-bind-http-https", "--appid-port", "0"]).unwrap();
        assert_eq!(c.groups(), vec!["external"]);
        assert_eq!((c.layout().vhost_port, c.layout().appid_port), (None, None));
        assert_eq!(c.auth().unwrap(), None);
        let c = parse(&["--auth-credentials", "ops:s3:cret"]).unwrap();
        assert_eq!(c.auth().unwrap(), Some(("ops".into(), "s3:cret".into())));
    }

    #[test]
    fn bad_flags_are_named() {
        let cases: &[(&[&str], &str)] = &[
            (&["--marathon", "localhost:8080"], "--marathon"),
            (&["--group", ""], "--group"),
            (&["--bind-addr", "a b"], "--bind-addr"),
            (&["--poll-interval-ms", "0"], "--poll-interval-ms"),
            (&["--vhost-port", "70000"], "--vhost-port"),
            (&["--auth-credentials", "nocolon"], "--auth-credentials"),
            (&["--auth-credentials", ":pass"], "--auth-credentials"),
            (&["--no-such-flag"], "--no-such-flag"),
        ];
        for (args, flag) in cases {
            let e = parse(args).unwrap_err();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
        let e = Config::try_parse_from(["marathon-lb", "--haproxy-config", "/no/such/dir/h.cfg"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(e.flag, "--haproxy-config");
    }
}
