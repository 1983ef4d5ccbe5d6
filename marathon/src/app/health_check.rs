//! Health checks of an app: Marathon's protocols, defaults, JSON shape and rules.
//!
//! HTTP, HTTPS and TCP are probed by Marathon itself ([`crate::health`]); COMMAND,
//! MESOS_HTTP, MESOS_HTTPS and MESOS_TCP go to the agent in `TaskInfo.health_check`
//! ([`crate::task_info`]) and come back as `TaskStatus.healthy`.

use serde::{Deserialize, Serialize};

use super::validate::Violations;
use super::{AppDefinition, ContainerType, NetworkMode};

pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 300;
pub const DEFAULT_INTERVAL_SECONDS: i64 = 60;
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 20;
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: i64 = 3;
pub const DEFAULT_DELAY_SECONDS: i64 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    #[default]
    Http,
    Https,
    Tcp,
    Command,
    MesosHttp,
    MesosHttps,
    MesosTcp,
}

impl Protocol {
    /// Probed by Marathon (not by the agent).
    pub fn is_marathon(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Https | Protocol::Tcp)
    }

    /// The name in JSON (`MESOS_HTTP`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
            Protocol::Tcp => "TCP",
            Protocol::Command => "COMMAND",
            Protocol::MesosHttp => "MESOS_HTTP",
            Protocol::MesosHttps => "MESOS_HTTPS",
            Protocol::MesosTcp => "MESOS_TCP",
        }
    }

    fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http | Protocol::Https | Protocol::MesosHttp | Protocol::MesosHttps
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IpProtocol {
    #[default]
    IPv4,
    IPv6,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandCheck {
    pub value: String,
}

/// One health check, with Marathon's defaults filled in. Its serde form is what
/// `/v2/apps` shows: the optional fields only when set, as Marathon writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    #[serde(default = "grace", rename = "gracePeriodSeconds")]
    pub grace_period_seconds: i64,
    #[serde(default = "interval")]
    pub interval_seconds: i64,
    #[serde(default = "failures")]
    pub max_consecutive_failures: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_index: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandCheck>,
    #[serde(default = "timeout")]
    pub timeout_seconds: i64,
    #[serde(default = "delay")]
    pub delay_seconds: i64,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default)]
    pub ip_protocol: IpProtocol,
    /// Only on HTTP and HTTPS checks (Marathon writes it for those alone).
    #[serde(
        default,
        rename = "ignoreHttp1xx",
        skip_serializing_if = "Option::is_none"
    )]
    pub ignore_http1xx: Option<bool>,
}

fn grace() -> i64 {
    DEFAULT_GRACE_PERIOD_SECONDS
}
fn interval() -> i64 {
    DEFAULT_INTERVAL_SECONDS
}
fn failures() -> i64 {
    DEFAULT_MAX_CONSECUTIVE_FAILURES
}
fn timeout() -> i64 {
    DEFAULT_TIMEOUT_SECONDS
}
fn delay() -> i64 {
    DEFAULT_DELAY_SECONDS
}

/// A health check as a request body gives it: every field optional, numbers of any size
/// (a negative or huge value is a 422 with its path, not a parse error).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckUpdate {
    pub protocol: Option<Protocol>,
    pub command: Option<CommandCheck>,
    pub path: Option<String>,
    pub port_index: Option<i64>,
    pub port: Option<i64>,
    pub port_name: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub max_consecutive_failures: Option<i64>,
    pub delay_seconds: Option<i64>,
    #[serde(rename = "ignoreHttp1xx")]
    pub ignore_http1xx: Option<bool>,
    pub ip_protocol: Option<IpProtocol>,
}

impl HealthCheckUpdate {
    /// The check with Marathon's defaults; a check that probes a port and names none gets
    /// `portIndex: 0`, as Marathon's normalisation does.
    pub fn into_check(self) -> HealthCheck {
        let protocol = self.protocol.unwrap_or_default();
        let names_port =
            self.port.is_some() || self.port_index.is_some() || self.port_name.is_some();
        let port_index = match self.port_index {
            None if protocol != Protocol::Command && self.command.is_none() && !names_port => {
                Some(0)
            }
            other => other,
        };
        HealthCheck {
            grace_period_seconds: self.grace_period_seconds.unwrap_or_else(grace),
            interval_seconds: self.interval_seconds.unwrap_or_else(interval),
            max_consecutive_failures: self.max_consecutive_failures.unwrap_or_else(failures),
            port_index,
            port: self.port,
            port_name: self.port_name,
            path: self.path,
            command: self.command,
            timeout_seconds: self.timeout_seconds.unwrap_or_else(timeout),
            delay_seconds: self.delay_seconds.unwrap_or_else(delay),
            protocol,
            ip_protocol: self.ip_protocol.unwrap_or_default(),
            ignore_http1xx: matches!(protocol, Protocol::Http | Protocol::Https)
                .then(|| self.ignore_http1xx.unwrap_or(false)),
        }
    }
}

/// Where a check connects: a fixed port, or one of the task's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChoice {
    /// `port`: this number.
    Fixed(u32),
    /// `portIndex` / `portName`: the task's port at this index.
    Index(usize),
}

impl HealthCheck {
    /// The check's port: `port`, else `portIndex`, else the index of `portName` among the
    /// app's ports (None: it names no port of the app).
    pub fn port_choice(&self, app: &AppDefinition) -> Option<PortChoice> {
        if let Some(p) = self.port {
            return u32::try_from(p).ok().map(PortChoice::Fixed);
        }
        if let Some(i) = self.port_index {
            return usize::try_from(i).ok().map(PortChoice::Index);
        }
        let name = self.port_name.as_deref()?;
        port_names(app)
            .iter()
            .position(|n| n.as_deref() == Some(name))
            .map(PortChoice::Index)
    }

    pub fn interval_ms(&self) -> u64 {
        secs_ms(self.interval_seconds)
    }

    pub fn timeout_ms(&self) -> u64 {
        secs_ms(self.timeout_seconds)
    }

    pub fn grace_period_ms(&self) -> u64 {
        secs_ms(self.grace_period_seconds)
    }
}

fn secs_ms(s: i64) -> u64 {
    u64::try_from(s).unwrap_or(0).saturating_mul(1000)
}

/// The names of the app's ports, in port order (port definitions or port mappings).
fn port_names(app: &AppDefinition) -> Vec<Option<String>> {
    match app.network_mode() {
        NetworkMode::Host => app
            .port_definitions
            .iter()
            .map(|p| p.name.clone())
            .collect(),
        _ => app.port_mappings().iter().map(|m| m.name.clone()).collect(),
    }
}

/// Marathon's rules for `healthChecks`, each failure under `/healthChecks(i)[/field]`.
pub fn validate(app: &AppDefinition, v: &mut Violations) {
    let ports = port_names(app).len();
    let docker = app
        .container
        .as_ref()
        .is_some_and(|c| c.kind == ContainerType::Docker);
    for (i, hc) in app.health_checks.iter().enumerate() {
        let at = |field: &str| format!("/healthChecks({i}){field}");
        for (field, value) in [
            ("/gracePeriodSeconds", hc.grace_period_seconds),
            ("/intervalSeconds", hc.interval_seconds),
            ("/maxConsecutiveFailures", hc.max_consecutive_failures),
            ("/timeoutSeconds", hc.timeout_seconds),
            ("/delaySeconds", hc.delay_seconds),
        ] {
            if value < 0 {
                v.add(at(field), format!("got {value}, expected 0 or more"));
            } else if value > i64::from(i32::MAX) {
                v.add(
                    at(field),
                    format!("got {value}, expected {} or less", i32::MAX),
                );
            }
        }
        for (field, value) in [("/port", hc.port), ("/portIndex", hc.port_index)] {
            match value {
                Some(p) if p < 0 => v.add(at(field), format!("got {p}, expected 0 or more")),
                Some(p) if p > 65535 => {
                    v.add(at(field), format!("got {p}, expected 65535 or less"))
                }
                _ => {}
            }
        }
        let is_command = hc.protocol == Protocol::Command;
        if is_command && hc.command.is_none() {
            v.add(at("/command"), "COMMAND health checks need a command");
        }
        if !is_command && hc.command.is_some() {
            v.add(
                at(""),
                format!(
                    "HealthCheck is having parameters violation {} protocol.",
                    hc.protocol.name()
                ),
            );
        }
        if hc.path.is_some() && !hc.protocol.is_http() {
            v.add(
                at("/path"),
                "path is only used by HTTP and HTTPS health checks",
            );
        }
        if !is_command {
            let named = [
                hc.port.is_some(),
                hc.port_index.is_some(),
                hc.port_name.is_some(),
            ]
            .iter()
            .filter(|&&b| b)
            .count();
            if named != 1 {
                v.add(
                    at(""),
                    "HealthCheck must specify either a port or a portIndex",
                );
            } else if hc.port.is_none() {
                let index_ok = match hc.port_choice(app) {
                    Some(PortChoice::Index(idx)) => idx < ports,
                    _ => false,
                };
                if !index_ok && hc.port_name.is_some() {
                    v.add(
                        at("/portName"),
                        format!(
                            "No port definition reference for portName {}",
                            hc.port_name.as_deref().unwrap_or_default()
                        ),
                    );
                } else if !index_ok {
                    v.add(
                        at(""),
                        "Health check port indices must address an element of the ports array or container port mappings.",
                    );
                }
            }
        }
        let mesos_ip_check = !hc.protocol.is_marathon() && hc.protocol != Protocol::Command;
        if hc.ip_protocol == IpProtocol::IPv6 && !(mesos_ip_check && docker) {
            v.add(
                at(""),
                "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks",
            );
        }
    }
    // Marathon gives a task one Mesos health check (older apps may hold several COMMAND ones).
    let commands = app
        .health_checks
        .iter()
        .filter(|h| h.protocol == Protocol::Command)
        .count();
    let mesos = app
        .health_checks
        .iter()
        .filter(|h| !h.protocol.is_marathon())
        .count();
    if mesos - commands > 1 {
        v.add(
            "/",
            "AppDefinition can contain at most one Mesos health check",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::update::AppUpdate;
    use crate::app::PathId;
    use serde_json::{json, Value};

    fn app(body: Value) -> AppDefinition {
        let u = AppUpdate::from_value(body).unwrap();
        u.apply(
            AppDefinition::with_defaults(PathId::parse(u.id.as_deref().unwrap())),
            true,
        )
    }

    fn paths(body: Value) -> Vec<String> {
        let mut v = Violations::default();
        validate(&app(body), &mut v);
        v.into_vec().into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn defaults_are_marathons_and_the_json_is_its_shape() {
        let a = app(json!({"id": "w", "cmd": "x", "healthChecks": [{}]}));
        assert_eq!(
            serde_json::to_value(&a.health_checks).unwrap(),
            json!([{"gracePeriodSeconds": 300, "intervalSeconds": 60, "maxConsecutiveFailures": 3,
                    "portIndex": 0, "timeoutSeconds": 20, "delaySeconds": 15, "protocol": "HTTP",
                    "ipProtocol": "IPv4", "ignoreHttp1xx": false}])
        );
        let a = app(json!({"id": "w", "cmd": "x", "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": "true"}},
            {"protocol": "TCP", "port": 8080}]}));
        let v = serde_json::to_value(&a.health_checks).unwrap();
        assert_eq!(v[0]["command"], json!({"value": "true"}));
        assert!(v[0].get("portIndex").is_none(), "a command names no port");
        assert!(v[0].get("ignoreHttp1xx").is_none());
        assert_eq!(v[1]["port"], 8080);
        assert!(v[1].get("portIndex").is_none());
        // What is stored reads back the same.
        let back: Vec<HealthCheck> = serde_json::from_value(v).unwrap();
        assert_eq!(back, a.health_checks);
    }

    #[test]
    fn out_of_range_fields_are_reported_with_their_paths() {
        let p = paths(json!({"id": "w", "cmd": "x", "healthChecks": [
            {"intervalSeconds": -1, "gracePeriodSeconds": -5, "maxConsecutiveFailures": -1,
             "timeoutSeconds": -2, "delaySeconds": -3},
            {"protocol": "TCP", "port": 70000},
            {"portIndex": 3},
            {"protocol": "HTTP", "port": 80, "portIndex": 0},
            {"protocol": "COMMAND"}]}));
        for want in [
            "/healthChecks(0)/intervalSeconds",
            "/healthChecks(0)/gracePeriodSeconds",
            "/healthChecks(0)/maxConsecutiveFailures",
            "/healthChecks(0)/timeoutSeconds",
            "/healthChecks(0)/delaySeconds",
            "/healthChecks(1)/port",
            "/healthChecks(2)",
            "/healthChecks(3)",
            "/healthChecks(4)/command",
        ] {
            assert!(p.contains(&want.to_string()), "{want} missing in {p:?}");
        }
    }

    #[test]
    fn port_names_resolve_and_mesos_checks_are_one_at_most() {
        let body = json!({"id": "w", "cmd": "x",
            "portDefinitions": [{"port": 0, "name": "admin"}, {"port": 0, "name": "http"}],
            "healthChecks": [{"portName": "http"}]});
        assert!(paths(body.clone()).is_empty());
        let a = app(body);
        assert_eq!(
            a.health_checks[0].port_choice(&a),
            Some(PortChoice::Index(1))
        );
        let p = paths(json!({"id": "w", "cmd": "x", "healthChecks": [{"portName": "nope"}]}));
        assert_eq!(p, vec!["/healthChecks(0)/portName"]);
        let p = paths(json!({"id": "w", "cmd": "x", "healthChecks": [
            {"protocol": "MESOS_TCP"}, {"protocol": "MESOS_HTTP"}]}));
        assert_eq!(p, vec!["/"]);
        // Several COMMAND checks stay valid (older Marathons stored such apps).
        assert!(paths(json!({"id": "w", "cmd": "x", "healthChecks": [
            {"protocol": "COMMAND", "command": {"value": "a"}},
            {"protocol": "COMMAND", "command": {"value": "b"}}]}))
        .is_empty());
    }
}
