//! Whether a listener can be reached from other machines, and the warning a process gives
//! at start (and shows on its dashboard) when it can and answers without credentials.
//! Open Mesos and Marathon ports were how clusters were taken over (a `POST /v2/apps`
//! mounting the host's `/`, crypto-miners deployed through open Marathons), so every
//! binary asks the same question here, in one place:
//!
//! ```text
//!   bind host ──beyond_loopback──▶ reachable? ─┐
//!   auth settings still off (the binary's) ────┴─▶ Exposure::warning ─▶ WARN at start
//!                                                                    └─▶ API field ─▶ banner
//! ```
//!
//! Pure: no resolving, no sockets. A host name other than `localhost` counts as reachable
//! (the names a server is bound to normally resolve to its interfaces), so a doubt warns.

use std::net::IpAddr;

use serde::Serialize;

/// Whether a listener bound to `host` (an IP address, `[v6]` with brackets or not, or a
/// host name) answers on more than the loopback interface: `0.0.0.0`, `::`, `10.1.2.3`
/// and host names do; `127.0.0.0/8`, `::1`, `::ffff:127.x.y.z` and `localhost` names do not.
/// An empty host means every interface, as in most bind settings.
pub fn beyond_loopback(host: &str) -> bool {
    let host = host.trim();
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    // A zone (`fe80::1%eth0`) names an interface, never loopback's address.
    let address = unbracketed.split('%').next().unwrap_or(unbracketed);
    match address.parse::<IpAddr>() {
        Ok(ip) => ip_beyond_loopback(ip),
        Err(_) => !is_localhost_name(unbracketed),
    }
}

/// [`beyond_loopback`] of an address already parsed.
pub fn ip_beyond_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => !v4.is_loopback(),
            None => !v6.is_loopback(),
        },
    }
}

/// `localhost` and the names under it, which resolve to loopback only (RFC 6761, 6.3).
fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The settings of `settings` (`(name, on)`) that are off, in order: what
/// [`Exposure::off`] lists.
pub fn off<'a>(settings: impl IntoIterator<Item = (&'a str, bool)>) -> Vec<&'a str> {
    settings
        .into_iter()
        .filter_map(|(name, on)| (!on).then_some(name))
        .collect()
}

/// What a process logs at start and its API reports (as `exposure_warning`) when it is
/// reachable beyond loopback without authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureWarning {
    /// Where it listens, `host:port` as bound.
    pub address: String,
    /// The settings that would make it ask for credentials, as the operator writes them.
    pub flags: Vec<String>,
    /// The sentence for people: what is open, what anyone can do, what to turn on.
    pub message: String,
}

/// One listener of a program and the authentication settings it still has off.
#[derive(Debug, Clone)]
pub struct Exposure<'a> {
    /// The program as operators know it (`mesos-master`).
    pub program: &'a str,
    /// The bind host (address or name) and port.
    pub host: &'a str,
    pub port: u16,
    /// The settings that would make this listener ask for credentials and are off now
    /// (`--authenticate_http_readwrite`); empty when authentication is on.
    pub off: Vec<&'a str>,
    /// What anyone who reaches it can do ("run any command on the cluster").
    pub risk: &'a str,
    /// How to keep it on loopback instead (`--ip=127.0.0.1`).
    pub loopback: &'a str,
}

impl Exposure<'_> {
    /// The warning, when the listener is reachable beyond loopback with some
    /// authentication setting still off.
    pub fn warning(&self) -> Option<ExposureWarning> {
        if self.off.is_empty() || !beyond_loopback(self.host) {
            return None;
        }
        let address = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        };
        let message = format!(
            "{} listens on {address}, beyond loopback, without authentication: anyone who can \
             reach it can {}. Turn on {}, or listen on loopback only ({}).",
            self.program,
            self.risk,
            self.off.join(", "),
            self.loopback,
        );
        Some(ExposureWarning {
            address,
            flags: self.off.iter().map(|f| f.to_string()).collect(),
            message,
        })
    }
}

impl ExposureWarning {
    /// The one WARN line at start.
    pub fn log(&self) {
        tracing::warn!(address = %self.address, flags = ?self.flags, "{}", self.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_127_slash_8_v6_loopback_and_localhost_names() {
        let cases = [
            ("0.0.0.0", true),
            ("::", true),
            ("[::]", true),
            ("10.1.2.3", true),
            ("192.168.0.7", true),
            ("128.0.0.1", true),
            ("fe80::1%eth0", true),
            ("::ffff:10.0.0.1", true),
            ("", true),
            ("mesos-master-1.example.com", true),
            ("localhost.example.com", true),
            ("127.0.0.1", false),
            ("127.0.0.2", false),
            ("127.255.255.254", false),
            (" 127.0.0.1 ", false),
            ("::1", false),
            ("[::1]", false),
            ("0:0:0:0:0:0:0:1", false),
            ("::ffff:127.0.0.1", false),
            ("localhost", false),
            ("LocalHost.", false),
            ("master.localhost", false),
        ];
        for (host, want) in cases {
            assert_eq!(beyond_loopback(host), want, "{host:?}");
        }
    }

    fn exposure<'a>(host: &'a str, off: Vec<&'a str>) -> Exposure<'a> {
        Exposure {
            program: "mesos-master",
            host,
            port: 5050,
            off,
            risk: "run any command on the agents",
            loopback: "--ip=127.0.0.1",
        }
    }

    #[test]
    fn the_warning_names_the_address_and_the_settings_to_turn_on() {
        let w = exposure(
            "0.0.0.0",
            vec!["--authenticate_frameworks", "--authenticate_agents"],
        )
        .warning()
        .expect("open on every interface");
        assert_eq!(w.address, "0.0.0.0:5050");
        assert_eq!(
            w.flags,
            ["--authenticate_frameworks", "--authenticate_agents"]
        );
        assert_eq!(
            w.message,
            "mesos-master listens on 0.0.0.0:5050, beyond loopback, without authentication: \
             anyone who can reach it can run any command on the agents. Turn on \
             --authenticate_frameworks, --authenticate_agents, or listen on loopback only \
             (--ip=127.0.0.1)."
        );
        let v6 = exposure("::", vec!["--x"]).warning().unwrap();
        assert_eq!(v6.address, "[::]:5050");
    }

    #[test]
    fn no_warning_on_loopback_or_with_authentication_on() {
        assert_eq!(exposure("127.0.0.1", vec!["--x"]).warning(), None);
        assert_eq!(exposure("::1", vec!["--x"]).warning(), None);
        assert_eq!(exposure("0.0.0.0", vec![]).warning(), None);
    }

    #[test]
    fn the_api_field_has_a_stable_shape() {
        let w = exposure("10.0.0.5", vec!["--x"]).warning().unwrap();
        let json = serde_json::to_value(&w).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["address", "flags", "message"]);
    }
}
