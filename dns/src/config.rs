//! Mesos-DNS's configuration file (`config.json`): the same keys, matched without regard
//! to case as Go's JSON decoder matches them, the same defaults, and the same checks,
//! each failing with a message that names the key. Keys Mesos-DNS does not know are
//! ignored, as it ignores them (its own sample carries `ns`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::labels::LabelSpec;
use crate::core::records::IpSource;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("failed to unmarshal config file {path}: {reason}")]
    Syntax { path: String, reason: String },
    #[error("config field {key}: {reason}")]
    Field { key: &'static str, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Credentials for masters that authenticate HTTP clients (`mesosCredentials`), sent as
/// HTTP Basic with `MesosAuthentication: "basic"`. `/v1/config` shows the secret masked.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(rename = "Principal", alias = "principal", default)]
    pub principal: String,
    #[serde(
        rename = "Secret",
        alias = "secret",
        default,
        serialize_with = "masked"
    )]
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("principal", &self.principal)
            .field("secret", &"***")
            .finish()
    }
}

/// A set secret is shown as `********`, an unset one as `""`.
fn masked<S: serde::Serializer>(secret: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if secret.is_empty() { "" } else { "********" })
}

/// The configuration, serialized by `/v1/config` with Mesos-DNS's field names in its
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    #[serde(rename = "RefreshSeconds")]
    pub refresh_seconds: i64,
    #[serde(rename = "Port")]
    pub port: u16,
    #[serde(rename = "Timeout")]
    pub timeout: i64,
    #[serde(rename = "StateTimeoutSeconds")]
    pub state_timeout_seconds: i64,
    #[serde(rename = "ZkDetectionTimeout")]
    pub zk_detection_timeout: i64,
    #[serde(rename = "HttpPort")]
    pub http_port: u16,
    #[serde(rename = "TTL")]
    pub ttl: i32,
    #[serde(rename = "SRVRecordDefaultWeight")]
    pub srv_record_default_weight: u16,
    #[serde(rename = "SOASerial")]
    pub soa_serial: u32,
    #[serde(rename = "SOARefresh")]
    pub soa_refresh: u32,
    #[serde(rename = "SOARetry")]
    pub soa_retry: u32,
    #[serde(rename = "SOAExpire")]
    pub soa_expire: u32,
    #[serde(rename = "SOAMinttl")]
    pub soa_minttl: u32,
    #[serde(rename = "SOAMname")]
    pub soa_mname: String,
    #[serde(rename = "SOARname")]
    pub soa_rname: String,
    #[serde(rename = "Masters")]
    pub masters: Option<Vec<String>>,
    #[serde(rename = "ZoneResolvers")]
    pub zone_resolvers: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Resolvers")]
    pub resolvers: Vec<String>,
    #[serde(rename = "IPSources")]
    pub ip_sources: Vec<String>,
    #[serde(rename = "Zk")]
    pub zk: String,
    #[serde(rename = "Domain")]
    pub domain: String,
    #[serde(rename = "File")]
    pub file: String,
    #[serde(rename = "Listener")]
    pub listener: String,
    #[serde(rename = "HTTPListener")]
    pub http_listener: String,
    #[serde(rename = "RecurseOn")]
    pub recurse_on: bool,
    #[serde(rename = "DnsOn")]
    pub dns_on: bool,
    #[serde(rename = "HttpOn")]
    pub http_on: bool,
    #[serde(rename = "ExternalOn")]
    pub external_on: bool,
    #[serde(rename = "EnforceRFC952")]
    pub enforce_rfc952: bool,
    #[serde(rename = "SetTruncateBit")]
    pub set_truncate_bit: bool,
    #[serde(rename = "EnumerationOn")]
    pub enumeration_on: bool,
    #[serde(rename = "MesosHTTPSOn")]
    pub mesos_https_on: bool,
    #[serde(rename = "CACertFile")]
    pub ca_cert_file: String,
    #[serde(rename = "CertFile")]
    pub cert_file: String,
    #[serde(rename = "KeyFile")]
    pub key_file: String,
    #[serde(rename = "MesosCredentials")]
    pub mesos_credentials: Credentials,
    #[serde(rename = "IAMConfigFile")]
    pub iam_config_file: String,
    #[serde(rename = "MesosAuthentication")]
    pub mesos_authentication: String,
}

impl Default for Config {
    /// Mesos-DNS's defaults (`records.NewConfig`).
    fn default() -> Self {
        Config {
            refresh_seconds: 60,
            port: 53,
            timeout: 5,
            state_timeout_seconds: 300,
            zk_detection_timeout: 30,
            http_port: 8123,
            ttl: 60,
            srv_record_default_weight: 1,
            soa_serial: 0,
            soa_refresh: 60,
            soa_retry: 600,
            soa_expire: 86400,
            soa_minttl: 60,
            soa_mname: "ns1.mesos".into(),
            soa_rname: "root.ns1.mesos".into(),
            masters: None,
            zone_resolvers: BTreeMap::new(),
            resolvers: vec!["8.8.8.8".into()],
            ip_sources: vec!["netinfo".into(), "mesos".into(), "host".into()],
            zk: String::new(),
            domain: "mesos".into(),
            file: String::new(),
            listener: "0.0.0.0".into(),
            http_listener: "0.0.0.0".into(),
            recurse_on: true,
            dns_on: true,
            http_on: true,
            external_on: true,
            enforce_rfc952: false,
            set_truncate_bit: true,
            enumeration_on: true,
            mesos_https_on: false,
            ca_cert_file: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            mesos_credentials: Credentials::default(),
            iam_config_file: String::new(),
            mesos_authentication: String::new(),
        }
    }
}

fn field<T: DeserializeOwned>(key: &'static str, value: Value) -> Result<T, ConfigError> {
    serde_json::from_value(value).map_err(|e| ConfigError::Field {
        key,
        reason: e.to_string(),
    })
}

impl Config {
    /// Reads a `config.json` text over the defaults. `path` is only for messages and the
    /// `File` field.
    pub fn from_json(path: &str, text: &str) -> Result<Config, ConfigError> {
        let syntax = |reason: String| ConfigError::Syntax {
            path: path.to_string(),
            reason,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let Value::Object(object) = value else {
            return Err(syntax("the configuration must be a JSON object".into()));
        };
        let mut c = Config {
            file: path.to_string(),
            ..Config::default()
        };
        for (key, value) in object {
            c.set(&key, value)?;
        }
        Ok(c)
    }

    /// Sets the field a key names (case-insensitively); unknown keys are ignored.
    fn set(&mut self, key: &str, value: Value) -> Result<(), ConfigError> {
        macro_rules! fields {
            ($($name:literal => $field:ident),* $(,)?) => {
                $(if key.eq_ignore_ascii_case($name) {
                    self.$field = field($name, value)?;
                    return Ok(());
                })*
            };
        }
        fields! {
            "RefreshSeconds" => refresh_seconds,
            "Port" => port,
            "Timeout" => timeout,
            "StateTimeoutSeconds" => state_timeout_seconds,
            "ZkDetectionTimeout" => zk_detection_timeout,
            "HttpPort" => http_port,
            "TTL" => ttl,
            "SRVRecordDefaultWeight" => srv_record_default_weight,
            "SOASerial" => soa_serial,
            "SOARefresh" => soa_refresh,
            "SOARetry" => soa_retry,
            "SOAExpire" => soa_expire,
            "SOAMinttl" => soa_minttl,
            "SOAMname" => soa_mname,
            "SOARname" => soa_rname,
            "Masters" => masters,
            "ZoneResolvers" => zone_resolvers,
            "Resolvers" => resolvers,
            "IPSources" => ip_sources,
            "Zk" => zk,
            "Domain" => domain,
            "Listener" => listener,
            "HTTPListener" => http_listener,
            "RecurseOn" => recurse_on,
            "DnsOn" => dns_on,
            "HttpOn" => http_on,
            "ExternalOn" => external_on,
            "EnforceRFC952" => enforce_rfc952,
            "SetTruncateBit" => set_truncate_bit,
            "EnumerationOn" => enumeration_on,
            "MesosHTTPSOn" => mesos_https_on,
            "CACertFile" => ca_cert_file,
            "CertFile" => cert_file,
            "KeyFile" => key_file,
            "MesosCredentials" => mesos_credentials,
            "IAMConfigFile" => iam_config_file,
            "MesosAuthentication" => mesos_authentication,
        }
        tracing::debug!(key, "ignoring unknown configuration key");
        Ok(())
    }

    /// Mesos-DNS's checks and normalizations (`records.SetConfig`). `local_resolvers`
    /// stands in for the nameservers of `/etc/resolv.conf` when `resolvers` is empty.
    pub fn validate(mut self, local_resolvers: &[String]) -> Result<Config, ConfigError> {
        let invalid = |text: String| Err(ConfigError::Invalid(text));
        if !self.dns_on && !self.http_on {
            return invalid("either DNS or HTTP server should be on".into());
        }
        let masters = self.masters.clone().unwrap_or_default();
        if masters.is_empty() && self.zk.is_empty() {
            return invalid("specify Mesos masters or Zookeeper in config.json".into());
        }
        unique(&masters, normalize_master)
            .map_err(|e| ConfigError::Invalid(format!("error validating masters: {e}")))?;
        if !self.zk.is_empty() {
            mesos_common::zk::ZkUrl::parse(&self.zk)
                .map_err(|e| ConfigError::Invalid(format!("invalid zk URL {:?}: {e}", self.zk)))?;
        }
        self.domain = self.domain.to_lowercase();
        if !valid_domain(&self.domain) {
            return invalid(format!("{} is not a valid domain name", self.domain));
        }
        if self.external_on {
            if self.resolvers.is_empty() {
                self.resolvers = local_resolvers.to_vec();
            }
            unique(&self.resolvers, normalize_resolver)
                .map_err(|e| ConfigError::Invalid(format!("error validating resolvers: {e}")))?;
            self.validate_zone_resolvers()?;
        }
        if self.ip_sources.is_empty() {
            return invalid("IPSources validation failed: empty ip sources".into());
        }
        let mut seen = Vec::new();
        for source in &self.ip_sources {
            if IpSource::parse(source).is_none() {
                return invalid(format!(
                    "IPSources validation failed: invalid ip source {source:?}"
                ));
            }
            if seen.contains(&source) {
                return invalid(
                    "IPSources validation failed: duplicate ip source specified".into(),
                );
            }
            seen.push(source);
        }
        if self.state_timeout_seconds <= 0 {
            return invalid(format!(
                "Invalid HTTP Timeout: {}",
                self.state_timeout_seconds
            ));
        }
        if self.ttl < 0 {
            return invalid(format!("TTL must not be negative: {}", self.ttl));
        }
        if self.timeout <= 0 {
            return invalid(format!("timeout must be positive: {}", self.timeout));
        }
        for (key, address) in [
            ("listener", &self.listener),
            ("httplistener", &self.http_listener),
        ] {
            if address.parse::<IpAddr>().is_err() {
                return invalid(format!("{key} {address:?} is not an IP address"));
            }
        }
        if self.mesos_https_on {
            return invalid(
                "MesosHTTPSOn is not supported: the masters are reached over plain HTTP".into(),
            );
        }
        match self.mesos_authentication.as_str() {
            "" => {}
            "basic" => {
                let c = &self.mesos_credentials;
                if c.principal.is_empty() || c.secret.is_empty() {
                    return invalid(
                        "MesosAuthentication \"basic\" needs MesosCredentials with a principal and a secret".into(),
                    );
                }
            }
            other => {
                return invalid(format!(
                    "MesosAuthentication {other:?} is not supported: only \"basic\" (MesosCredentials as HTTP Basic) is"
                ))
            }
        }
        self.soa_rname = format!(
            "{}.",
            self.soa_rname.replace('@', ".").trim_end_matches('.')
        );
        self.soa_mname = format!("{}.", self.soa_mname.trim_end_matches('.'));
        for (key, name) in [("SOAMname", &self.soa_mname), ("SOARname", &self.soa_rname)] {
            if !valid_domain(name.trim_end_matches('.').to_lowercase().as_str()) {
                return invalid(format!("{key} {name:?} is not a valid domain name"));
            }
        }
        Ok(self)
    }

    fn validate_zone_resolvers(&self) -> Result<(), ConfigError> {
        let mut zones = Vec::new();
        for (zone, resolvers) in &self.zone_resolvers {
            if resolvers.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "field ZoneResolver {zone} is empty"
                )));
            }
            if !valid_domain(zone) {
                return Err(ConfigError::Invalid(format!("invalid domain name: {zone}")));
            }
            unique(resolvers, normalize_resolver)
                .map_err(|e| ConfigError::Invalid(format!("error validating resolvers: {e}")))?;
            if *zone == self.domain {
                return Err(ConfigError::Invalid(format!(
                    "can't specify ZoneResolver for Mesos domain ({})",
                    self.domain
                )));
            }
            zones.push(format!(".{zone}"));
        }
        zones.push(format!(".{}", self.domain));
        for a in &zones {
            for b in &zones {
                if a != b && a.ends_with(b.as_str()) {
                    return Err(ConfigError::Invalid(format!(
                        "ambiguous zone resolvers: {a} is masked by {b}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The credential sent to the masters (`MesosAuthentication: "basic"`), else `None`.
    pub fn mesos_credential(&self) -> Option<mesos_scheduler::Credential> {
        let c = &self.mesos_credentials;
        (self.mesos_authentication == "basic")
            .then(|| mesos_scheduler::Credential::new(&c.principal, &c.secret))
    }

    pub fn label_spec(&self) -> LabelSpec {
        if self.enforce_rfc952 {
            LabelSpec::Rfc952
        } else {
            LabelSpec::Rfc1123
        }
    }

    /// The validated `IPSources`.
    pub fn ip_sources(&self) -> Vec<IpSource> {
        self.ip_sources
            .iter()
            .filter_map(|s| IpSource::parse(s))
            .collect()
    }

    /// Upstream servers for names outside the domain: per zone (longest suffix first in
    /// the answer), then the default resolvers; empty when forwarding is off.
    pub fn upstreams(&self) -> (Vec<(String, Vec<SocketAddr>)>, Vec<SocketAddr>) {
        if !self.external_on {
            return (Vec::new(), Vec::new());
        }
        let parse = |list: &[String]| -> Vec<SocketAddr> {
            list.iter()
                .filter_map(|r| normalize_resolver(r).ok()?.parse().ok())
                .collect()
        };
        let mut zones: Vec<(String, Vec<SocketAddr>)> = self
            .zone_resolvers
            .iter()
            .map(|(zone, list)| (format!("{}.", zone.to_lowercase()), parse(list)))
            .collect();
        zones.sort_by_key(|(zone, _)| std::cmp::Reverse(zone.len()));
        (zones, parse(&self.resolvers))
    }
}

/// `host:port` with a valid port, as Mesos-DNS accepts masters.
fn normalize_master(text: &str) -> Result<String, String> {
    let (host, port) =
        split_host_port(text).ok_or_else(|| format!("illegal host:port specified: {text}"))?;
    if !valid_port(port) {
        return Err(format!("illegal host:port specified: {text}"));
    }
    let host = host
        .parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| host.to_string());
    Ok(format!("{host}:{port}"))
}

/// An IP address, with an optional port (53 by default).
fn normalize_resolver(text: &str) -> Result<String, String> {
    let (host, port) = split_host_port(text).unwrap_or((text, "53"));
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("illegal ip specified: {host}"))?;
    if !valid_port(port) {
        return Err(format!("illegal host:port specified: {text}"));
    }
    Ok(SocketAddr::new(ip, port.parse().expect("checked")).to_string())
}

fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port));
    }
    let (host, port) = text.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

fn valid_port(port: &str) -> bool {
    matches!(port.parse::<u32>(), Ok(p) if (1..=65535).contains(&p))
}

fn unique(list: &[String], normalize: fn(&str) -> Result<String, String>) -> Result<(), String> {
    let mut seen = Vec::new();
    for item in list {
        let normal = normalize(item)?;
        if seen.contains(&normal) {
            return Err(format!("duplicate found: {item}"));
        }
        seen.push(normal);
    }
    Ok(())
}

/// Labels of letters, digits and `-`, joined by dots (Mesos-DNS's domain check).
fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The `nameserver` lines of a resolv.conf text, minus addresses of this machine.
pub fn resolv_conf_nameservers(text: &str, local: &[IpAddr]) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        .filter(|server| {
            server
                .parse::<IpAddr>()
                .map_or(true, |ip| !local.contains(&ip))
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_json("config.json", text)?.validate(&["10.0.0.53".to_string()])
    }

    #[test]
    fn defaults_and_the_sample_file() {
        let c = parse(r#"{"zk": "zk://127.0.0.1:2181/mesos"}"#).unwrap();
        assert_eq!(c.domain, "mesos");
        assert_eq!(
            (c.ttl, c.port, c.http_port, c.refresh_seconds),
            (60, 53, 8123, 60)
        );
        assert_eq!(c.ip_sources, ["netinfo", "mesos", "host"]);
        assert_eq!(c.soa_mname, "ns1.mesos.");
        assert_eq!(c.soa_rname, "root.ns1.mesos.");
        // Mesos-DNS's own sample, with its keys in mixed case and the unknown "ns".
        let sample = r#"{
          "zk": "zk://127.0.0.1:2181/mesos", "masters": ["127.0.0.1:5050"],
          "stateTimeoutSeconds": 300, "refreshSeconds": 60, "ttl": 30, "domain": "Mesos",
          "ns": "ns1", "port": 8053, "resolvers": ["8.8.8.8"], "timeout": 5,
          "listener": "0.0.0.0", "SOAMname": "ns1.mesos", "SOARname": "root@ns1.mesos",
          "SOARefresh": 60, "SOARetry": 600, "SOAExpire": 86400, "SOAMinttl": 60,
          "dnson": true, "httpon": true, "httpport": 8123, "externalon": true,
          "recurseon": true, "srvRecordDefaultWeight": 1, "IPSources": ["mesos", "host"],
          "EnforceRFC952": false, "EnumerationOn": true
        }"#;
        let c = parse(sample).unwrap();
        assert_eq!((c.ttl, c.port), (30, 8053));
        assert_eq!(c.domain, "mesos");
        assert_eq!(c.soa_rname, "root.ns1.mesos.");
        assert_eq!(c.masters, Some(vec!["127.0.0.1:5050".to_string()]));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["HttpPort"], 8123);
        assert_eq!(json["DnsOn"], true);
        assert_eq!(json["Zk"], "zk://127.0.0.1:2181/mesos");
    }

    #[test]
    fn empty_resolvers_come_from_resolv_conf() {
        let c = parse(r#"{"masters": ["127.0.0.1:5050"], "resolvers": []}"#).unwrap();
        assert_eq!(c.resolvers, ["10.0.0.53"]);
        let text = "# comment\nnameserver 127.0.0.1\nnameserver 10.1.1.1\nsearch x\n";
        assert_eq!(
            resolv_conf_nameservers(text, &["127.0.0.1".parse().unwrap()]),
            ["10.1.1.1"]
        );
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            ("{", "failed to unmarshal"),
            ("[]", "JSON object"),
            (r#"{"masters": ["127.0.0.1:5050"], "ttl": "60"}"#, "TTL"),
            (r#"{"masters": ["127.0.0.1:5050"], "port": 70000}"#, "Port"),
            (r#"{}"#, "specify Mesos masters or Zookeeper"),
            (r#"{"masters": ["127.0.0.1"]}"#, "illegal host:port"),
            (r#"{"masters": ["a:1", "a:1"]}"#, "duplicate found"),
            (r#"{"zk": "http://x"}"#, "invalid zk URL"),
            (
                r#"{"masters": ["a:1"], "dnson": false, "httpon": false}"#,
                "either DNS or HTTP",
            ),
            (
                r#"{"masters": ["a:1"], "resolvers": ["not-an-ip"]}"#,
                "illegal ip",
            ),
            (
                r#"{"masters": ["a:1"], "IPSources": []}"#,
                "empty ip sources",
            ),
            (
                r#"{"masters": ["a:1"], "IPSources": ["host", "cni"]}"#,
                "invalid ip source",
            ),
            (
                r#"{"masters": ["a:1"], "IPSources": ["host", "host"]}"#,
                "duplicate ip source",
            ),
            (
                r#"{"masters": ["a:1"], "domain": "bad_domain"}"#,
                "not a valid domain",
            ),
            (
                r#"{"masters": ["a:1"], "stateTimeoutSeconds": 0}"#,
                "Invalid HTTP Timeout",
            ),
            (r#"{"masters": ["a:1"], "listener": "nowhere"}"#, "listener"),
            (
                r#"{"masters": ["a:1"], "zoneResolvers": {"mesos": ["1.1.1.1"]}}"#,
                "Mesos domain",
            ),
            (
                r#"{"masters": ["a:1"], "zoneResolvers": {"a.b": ["1.1.1.1"], "b": ["1.1.1.2"]}}"#,
                "ambiguous",
            ),
            (
                r#"{"masters": ["a:1"], "mesosAuthentication": "iam"}"#,
                "not supported",
            ),
            (
                r#"{"masters": ["a:1"], "mesosAuthentication": "basic"}"#,
                "needs MesosCredentials",
            ),
            (
                r#"{"masters": ["a:1"], "mesosAuthentication": "basic",
                    "mesosCredentials": {"principal": "dns"}}"#,
                "needs MesosCredentials",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
        // With forwarding off, resolvers are not checked.
        assert!(parse(r#"{"masters": ["a:1"], "externalon": false, "resolvers": ["x"]}"#).is_ok());
    }

    #[test]
    fn basic_credentials_for_the_masters() {
        let c = parse(
            r#"{"masters": ["a:1"], "mesosAuthentication": "basic",
                "mesosCredentials": {"principal": "dns", "secret": "s3cret"}}"#,
        )
        .unwrap();
        let credential = c.mesos_credential().unwrap();
        assert_eq!(
            (credential.principal.as_str(), credential.secret()),
            ("dns", "s3cret")
        );
        let shown = serde_json::to_value(&c).unwrap();
        assert_eq!(
            shown["MesosCredentials"],
            serde_json::json!({"Principal": "dns", "Secret": "********"})
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        // Credentials without "basic" are not sent, as in Mesos-DNS.
        let c = parse(
            r#"{"masters": ["a:1"], "mesosCredentials": {"principal": "dns", "secret": "s"}}"#,
        )
        .unwrap();
        assert!(c.mesos_credential().is_none());
    }

    #[test]
    fn upstreams_by_zone() {
        let c = parse(
            r#"{"masters": ["a:1"], "resolvers": ["10.0.0.1", "10.0.0.2:5353"],
                "zoneResolvers": {"weave": ["172.17.0.1"]}}"#,
        )
        .unwrap();
        let (zones, default) = c.upstreams();
        assert_eq!(
            zones,
            [("weave.".to_string(), vec!["172.17.0.1:53".parse().unwrap()])]
        );
        assert_eq!(
            default,
            [
                "10.0.0.1:53".parse().unwrap(),
                "10.0.0.2:5353".parse().unwrap()
            ] as [SocketAddr; 2]
        );
    }
}
