//! marathon-lb's app labels, read and checked: `HAPROXY_GROUP` for the whole app and
//! `HAPROXY_{n}_*` for service port `n`. A value that would put something HAProxy refuses
//! (or something it never should see, like a line break) into the configuration is an
//! error that names the label, so the caller skips that one service port and nothing else.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The proxy mode of a service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tcp,
    Http,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Http => "http",
        }
    }
}

/// What the labels say about one service port. `None` where the label is absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortLabels {
    /// `HAPROXY_{n}_VHOST`: lowercased host names (comma-separated in the label).
    pub vhosts: Vec<String>,
    /// `HAPROXY_{n}_MODE`.
    pub mode: Option<Mode>,
    /// `HAPROXY_{n}_BALANCE` (HAProxy's `balance` line).
    pub balance: Option<String>,
    /// `HAPROXY_{n}_PORT`: binds this port instead of the service port.
    pub port: Option<u32>,
    /// `HAPROXY_{n}_ENABLED` (`true`, `t`, `yes`, `y` in any case; anything else is false).
    pub enabled: Option<bool>,
    /// `HAPROXY_{n}_GROUP`: overrides `HAPROXY_GROUP` for this port.
    pub groups: Option<Vec<String>>,
    /// `HAPROXY_{n}_BIND_ADDR`.
    pub bind_addr: Option<String>,
    /// `HAPROXY_{n}_*` labels this implementation does not act on (templates, TLS...).
    pub ignored: Vec<String>,
}

/// A label value that cannot go into the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError {
    pub label: String,
    pub value: String,
    pub why: &'static str,
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "label {}={:?}: {}", self.label, self.value, self.why)
    }
}

/// HAProxy 2.6's balance algorithms.
const ALGORITHMS: &[&str] = &[
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "uri",
    "url_param",
    "hdr",
    "random",
    "rdp-cookie",
    "hash",
];

/// The per-port labels this implementation acts on.
const HANDLED: &[&str] = &[
    "VHOST",
    "MODE",
    "BALANCE",
    "PORT",
    "ENABLED",
    "GROUP",
    "BIND_ADDR",
];

/// `HAPROXY_GROUP`, split on commas (marathon-lb keeps empty parts as they are).
pub fn app_groups(labels: &BTreeMap<String, String>) -> Vec<String> {
    labels
        .get("HAPROXY_GROUP")
        .map(|g| g.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// marathon-lb's truth values.
fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "t" | "yes" | "y")
}

/// The labels of service port `n`, checked.
pub fn port_labels(labels: &BTreeMap<String, String>, n: usize) -> Result<PortLabels, LabelError> {
    let prefix = format!("HAPROXY_{n}_");
    let mut out = PortLabels::default();
    for (key, value) in labels {
        let Some(name) = key.strip_prefix(&prefix) else {
            continue;
        };
        let error = |why| LabelError {
            label: key.clone(),
            value: value.clone(),
            why,
        };
        match name {
            "VHOST" => out.vhosts = vhosts(value).map_err(error)?,
            "MODE" => {
                out.mode = Some(match value.to_ascii_lowercase().as_str() {
                    "tcp" => Mode::Tcp,
                    "http" => Mode::Http,
                    _ => return Err(error("the mode must be tcp or http")),
                })
            }
            "BALANCE" => out.balance = Some(balance(value).map_err(error)?),
            "PORT" => {
                out.port = Some(
                    value
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=65535).contains(p))
                        .ok_or_else(|| error("the port must be a number from 1 to 65535"))?,
                )
            }
            "ENABLED" => out.enabled = Some(truthy(value)),
            "GROUP" => out.groups = Some(value.split(',').map(str::to_string).collect()),
            "BIND_ADDR" => out.bind_addr = Some(bind_addr(value).map_err(error)?),
            _ => {}
        }
        if !HANDLED.contains(&name) {
            out.ignored.push(key.clone());
        }
    }
    Ok(out)
}

fn host_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*')
}

/// Comma-separated host names, lowercased as marathon-lb does.
fn vhosts(value: &str) -> Result<Vec<String>, &'static str> {
    let names: Vec<String> = value.split(',').map(str::to_ascii_lowercase).collect();
    for name in &names {
        if name.is_empty() {
            return Err("a virtual host name is empty");
        }
        if !name.chars().all(host_name_char) {
            return Err("a virtual host name may hold only letters, digits, '-', '.', '_' and '*' (no spaces)");
        }
    }
    Ok(names)
}

/// A `balance` value: a known algorithm, optionally with an argument in parentheses or
/// after it in plain words.
fn balance(value: &str) -> Result<String, &'static str> {
    const WHY: &str = "not an HAProxy balance algorithm (roundrobin, static-rr, leastconn, first, source, uri, url_param, hdr(name), random, rdp-cookie, hash)";
    let words: Vec<&str> = value.split(' ').collect();
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '(' | ')' | ',')
            })
    };
    if !words.iter().all(|w| word_ok(w)) {
        return Err(WHY);
    }
    let name = words[0].split('(').next().unwrap_or_default();
    if !ALGORITHMS.contains(&name) {
        return Err(WHY);
    }
    Ok(value.to_string())
}

pub fn bind_addr(value: &str) -> Result<String, &'static str> {
    let ok = value == "*"
        || value.parse::<IpAddr>().is_ok()
        || (!value.is_empty() && value.chars().all(host_name_char));
    if ok {
        Ok(value.to_string())
    } else {
        Err("the bind address must be '*', an IP address or a host name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn good_labels_are_read_for_their_port_only() {
        let l = labels(&[
            ("HAPROXY_0_VHOST", "Web.Example.com,www.example.com"),
            ("HAPROXY_0_MODE", "HTTP"),
            ("HAPROXY_0_BALANCE", "leastconn"),
            ("HAPROXY_0_PORT", "8081"),
            ("HAPROXY_0_ENABLED", "Yes"),
            ("HAPROXY_0_GROUP", "internal,external"),
            ("HAPROXY_0_BIND_ADDR", "127.0.0.1"),
            ("HAPROXY_0_SSL_CERT", "/etc/ssl/cert.pem"),
            ("HAPROXY_1_MODE", "nonsense"),
        ]);
        let p = port_labels(&l, 0).unwrap();
        assert_eq!(p.vhosts, vec!["web.example.com", "www.example.com"]);
        assert_eq!(p.mode, Some(Mode::Http));
        assert_eq!(p.balance.as_deref(), Some("leastconn"));
        assert_eq!(p.port, Some(8081));
        assert_eq!(p.enabled, Some(true));
        assert_eq!(p.groups, Some(vec!["internal".into(), "external".into()]));
        assert_eq!(p.bind_addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(p.ignored, vec!["HAPROXY_0_SSL_CERT"]);
        assert!(port_labels(&l, 1).is_err());
        assert_eq!(port_labels(&l, 2).unwrap(), PortLabels::default());
    }

    #[test]
    fn bad_values_name_their_label() {
        let cases = [
            ("HAPROXY_0_VHOST", "web example.com"),
            ("HAPROXY_0_VHOST", "a.com,,b.com"),
            ("HAPROXY_0_VHOST", "a.com\n  bind *:22"),
            ("HAPROXY_0_MODE", "udp"),
            ("HAPROXY_0_MODE", ""),
            ("HAPROXY_0_BALANCE", "fastest"),
            ("HAPROXY_0_BALANCE", "roundrobin\nmode tcp"),
            ("HAPROXY_0_BALANCE", "roundrobin  # x"),
            ("HAPROXY_0_PORT", "0"),
            ("HAPROXY_0_PORT", "65536"),
            ("HAPROXY_0_PORT", "http"),
            ("HAPROXY_0_BIND_ADDR", "1.2.3.4 5"),
        ];
        for (key, value) in cases {
            let e = port_labels(&labels(&[(key, value)]), 0).unwrap_err();
            assert_eq!(e.label, key, "{value:?}");
            assert_eq!(e.value, value);
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn balance_takes_arguments() {
        for v in [
            "hdr(host)",
            "url_param userid",
            "random(2)",
            "source",
            "uri whole",
        ] {
            assert_eq!(balance(v).as_deref(), Ok(v));
        }
    }

    #[test]
    fn truth_values_follow_marathon_lb() {
        for (v, want) in [
            ("true", true),
            ("T", true),
            ("y", true),
            ("1", false),
            ("no", false),
        ] {
            assert_eq!(truthy(v), want, "{v}");
        }
        assert_eq!(
            app_groups(&labels(&[("HAPROXY_GROUP", "a,b")])),
            vec!["a", "b"]
        );
        assert!(app_groups(&BTreeMap::new()).is_empty());
    }
}
