//! Where the `mesos` verbs find the master, and how they read it.
//!
//! The address is `--master`, else `MESOS_MASTER`, else the Mesos CLI's config file
//! (`$MESOS_CLI_CONFIG`, else `~/.mesos/config.toml`, whose `[master]` table holds
//! `address = "host:port"`), else `127.0.0.1:5050` as in the Mesos CLI. A `zk://` URL (or
//! `file://` holding one) is resolved to the leading master, as `mesos-ps` does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::scheduler::{detector_for, MasterAddress};

/// The Mesos CLI's default master.
pub const DEFAULT_MASTER: &str = "127.0.0.1:5050";
/// How long a request to the master or an agent may take (a session's stream excepted).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a verb cannot go on; printed as `Error: <message>.`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError(message.into())
    }
}

/// The master to ask: the flag, the environment, the config file, the default.
pub fn configured_master(
    flag: Option<&str>,
    env: Option<String>,
    config: Option<&Path>,
) -> Result<String, CliError> {
    if let Some(master) = flag.filter(|m| !m.is_empty()) {
        return Ok(master.to_string());
    }
    if let Some(master) = env.filter(|m| !m.is_empty()) {
        return Ok(master);
    }
    if let Some(path) = config.filter(|p| p.exists()) {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::new(format!(
                "Cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        if let Some(address) = config_address(&text).map_err(|e| {
            CliError::new(format!(
                "Error loading config file {} as TOML: {e}",
                path.display()
            ))
        })? {
            return Ok(address);
        }
    }
    Ok(DEFAULT_MASTER.to_string())
}

/// The config file the Mesos CLI reads.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("MESOS_CLI_CONFIG") {
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::var_os("HOME").map(|home| Path::new(&home).join(".mesos/config.toml")),
    }
}

/// `address` of the `[master]` table: the one key of the config file the verbs need
/// (a reader for that much TOML rather than a TOML library).
fn config_address(text: &str) -> Result<Option<String>, String> {
    let mut table = String::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            table = name.trim().to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected 'key = value'", number + 1));
        };
        if table == "master" && key.trim() == "address" {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .ok_or_else(|| format!("line {}: the address must be a string", number + 1))?;
            return Ok(Some(unquoted.to_string()));
        }
    }
    Ok(None)
}

/// A client that goes to the machines it is given, never through a proxy.
pub fn client() -> reqwest::Client {
    mesos_common::tls::http_client()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// The leading master.
pub struct Master {
    /// `http://host:port`.
    pub url: String,
}

impl Master {
    /// Resolves `address` (host:port, `http://...`, or `zk://`) to the leader.
    pub async fn connect(address: &str) -> Result<Master, CliError> {
        let leader = |e: &dyn std::fmt::Display| {
            CliError::new(format!("Unable to get leading master address: {e}"))
        };
        let resolved: MasterAddress = detector_for(address)
            .map_err(|e| leader(&e))?
            .detect()
            .await
            .map_err(|e| leader(&e))?;
        Ok(Master {
            url: resolved.url(),
        })
    }

    /// GET `<master>/<path>` as JSON.
    pub async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, CliError> {
        let url = format!("{}/{}", self.url, path.trim_start_matches('/'));
        let failed = |e: &dyn std::fmt::Display| {
            CliError::new(format!("Could not open '/{path}' on master: {e}"))
        };
        let response = client()
            .get(&url)
            .query(query)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(&e))?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(failed(&format!("{status} {}", body.trim())));
        }
        response.json::<Value>().await.map_err(|e| failed(&e))
    }

    /// The list under `key` of `<master>/<path>`.
    pub async fn get_list(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, CliError> {
        let mut data = self.get_json(path, query).await?;
        match data.get_mut(key).map(Value::take) {
            Some(Value::Array(list)) => Ok(list),
            _ => Err(CliError::new(format!(
                "Missing '{key}' key in data retrieved from master on '/{path}'"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_environment_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "# cluster\n[master]\naddress = \"10.0.0.1:5050\"\n").unwrap();
        let pick = |flag, env: Option<&str>, config| {
            configured_master(flag, env.map(str::to_string), config).unwrap()
        };
        assert_eq!(pick(Some("m:1"), Some("e:2"), Some(file.as_path())), "m:1");
        assert_eq!(pick(None, Some("e:2"), Some(file.as_path())), "e:2");
        assert_eq!(pick(None, None, Some(file.as_path())), "10.0.0.1:5050");
        let missing = dir.path().join("none");
        assert_eq!(pick(None, None, Some(missing.as_path())), DEFAULT_MASTER);
        assert_eq!(pick(None, None, None), DEFAULT_MASTER);
    }

    #[test]
    fn config_files_are_read_as_the_mesos_cli_writes_them() {
        assert_eq!(
            config_address("[agent]\nssl = false\n[master]\naddress = '1.2.3.4:5050'").unwrap(),
            Some("1.2.3.4:5050".into())
        );
        assert_eq!(config_address("[agent]\naddress = \"x\"\n").unwrap(), None);
        assert!(config_address("[master]\naddress = 5050\n").is_err());
        assert!(config_address("[master]\nnonsense\n").is_err());
    }
}
