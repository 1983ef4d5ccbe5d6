//! Where Marathon and the Mesos master are, from the environment and the DC/OS CLI's
//! config file (`DCOS_CONFIG`, default `~/.dcos/dcos.toml`: TOML sections `[marathon]`
//! with `url`, `[core]` with `mesos_master_url`).
//!
//! | service | first                   | then                     | then           | default                 |
//! |---------|-------------------------|--------------------------|----------------|-------------------------|
//! | Marathon| `DCOS_MARATHON_URL`     | `marathon.url`           |                | `http://127.0.0.1:8080` |
//! | master  | `DCOS_MESOS_MASTER_URL` | `core.mesos_master_url`  | `MESOS_MASTER` | `http://127.0.0.1:5050` |
//! | token   | `DCOS_ACS_TOKEN`        | `core.dcos_acs_token`    |                | none                    |
//!
//! Basic credentials go in the URLs (`http://user:password@host:8080`).
//!
//! `MESOS_MASTER` takes what `--master` takes (`host:port`, `zk://...`); a ZooKeeper
//! election is resolved to the leader when the master is first needed.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment, as a map (tests pass their own).
pub type Env = BTreeMap<String, String>;

const DEFAULT_MARATHON: &str = "http://127.0.0.1:8080";
const DEFAULT_MASTER: &str = "http://127.0.0.1:5050";

/// The config file's path: `DCOS_CONFIG`, else `$HOME/.dcos/dcos.toml`.
pub fn config_path(env: &Env) -> Option<PathBuf> {
    env.get("DCOS_CONFIG").map(PathBuf::from).or_else(|| {
        env.get("HOME")
            .map(|home| PathBuf::from(home).join(".dcos/dcos.toml"))
    })
}

/// `section.key` from the config file's text: the simple TOML the DC/OS CLI writes
/// (`[section]` headers, `key = "value"` lines, `#` comments).
pub fn config_value(config_file: &str, dotted: &str) -> Option<String> {
    let (wanted_section, wanted_key) = dotted.split_once('.')?;
    let mut section = String::new();
    for line in config_file.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            if section == wanted_section && key.trim() == wanted_key {
                return Some(value.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The first non-empty of an environment variable and a config file key.
fn first_set(env: &Env, var: &str, config_file: Option<&str>, key: &str) -> Option<String> {
    env.get(var)
        .filter(|u| !u.is_empty())
        .cloned()
        .or_else(|| config_file.and_then(|c| config_value(c, key)))
        .filter(|u| !u.is_empty())
}

/// Marathon's base URL.
pub fn marathon_url(env: &Env, config_file: Option<&str>) -> String {
    first_set(env, "DCOS_MARATHON_URL", config_file, "marathon.url")
        .unwrap_or_else(|| DEFAULT_MARATHON.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The DC/OS ACS token: `DCOS_ACS_TOKEN`, else `core.dcos_acs_token` (sent as
/// `Authorization: token=<token>`).
pub fn acs_token(env: &Env, config_file: Option<&str>) -> Option<String> {
    first_set(env, "DCOS_ACS_TOKEN", config_file, "core.dcos_acs_token")
}

/// Where the leading Mesos master is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterLocation {
    /// A base URL.
    Url(String),
    /// An address as `--master` takes it (`host:port`, `zk://...`), to resolve.
    Address(String),
}

/// The master's location.
pub fn master_location(env: &Env, config_file: Option<&str>) -> MasterLocation {
    if let Some(url) = first_set(
        env,
        "DCOS_MESOS_MASTER_URL",
        config_file,
        "core.mesos_master_url",
    ) {
        return MasterLocation::Url(url.trim_end_matches('/').to_string());
    }
    match env.get("MESOS_MASTER").map(|m| m.trim()) {
        Some(m) if !m.is_empty() => MasterLocation::Address(m.to_string()),
        _ => MasterLocation::Url(DEFAULT_MASTER.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CONFIG: &str = "# written by hand\n[core]\ndcos_url = \"http://x\"\n\
        mesos_master_url = \"http://c:5050/\"\n[marathon]\nurl = \"http://m:8080/\"\n";

    #[test]
    fn marathon_url_from_env_then_config_then_default() {
        let e = env(&[("DCOS_MARATHON_URL", "http://e:1")]);
        assert_eq!(marathon_url(&e, Some(CONFIG)), "http://e:1");
        assert_eq!(marathon_url(&Env::new(), Some(CONFIG)), "http://m:8080");
        assert_eq!(marathon_url(&Env::new(), None), "http://127.0.0.1:8080");
    }

    #[test]
    fn master_from_env_then_config_then_mesos_master_then_default() {
        let url = |s: &str| MasterLocation::Url(s.to_string());
        let e = env(&[
            ("DCOS_MESOS_MASTER_URL", "http://e:5050"),
            ("MESOS_MASTER", "m:1"),
        ]);
        assert_eq!(master_location(&e, Some(CONFIG)), url("http://e:5050"));
        let e = env(&[("MESOS_MASTER", "m:1")]);
        assert_eq!(master_location(&e, Some(CONFIG)), url("http://c:5050"));
        assert_eq!(
            master_location(&e, None),
            MasterLocation::Address("m:1".into())
        );
        assert_eq!(
            master_location(&Env::new(), None),
            url("http://127.0.0.1:5050")
        );
    }

    #[test]
    fn acs_token_from_env_then_config() {
        let config = "[core]\ndcos_acs_token = \"t-file\"\n";
        let e = env(&[("DCOS_ACS_TOKEN", "t-env")]);
        assert_eq!(acs_token(&e, Some(config)).as_deref(), Some("t-env"));
        assert_eq!(
            acs_token(&Env::new(), Some(config)).as_deref(),
            Some("t-file")
        );
        assert_eq!(acs_token(&Env::new(), None), None);
    }

    #[test]
    fn config_values_by_section() {
        assert_eq!(
            config_value(CONFIG, "core.dcos_url").as_deref(),
            Some("http://x")
        );
        assert_eq!(config_value(CONFIG, "marathon.dcos_url"), None);
        assert_eq!(config_value(CONFIG, "nodots"), None);
    }
}
