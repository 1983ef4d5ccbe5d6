//! What the master's authentication and authorization flags turn on, read once at start
//! (files are read here, so that a bad one stops the master before it serves): the HTTP
//! realms' authenticators, the credentials agents must present, and the ACLs.

use std::sync::Arc;

use mesos_common::auth::credentials::{read_credentials, Credential};
use mesos_common::auth::{
    master_realm, Acls, Authenticator, HttpAuth, MASTER_READONLY_REALM, MASTER_READWRITE_REALM,
    MASTER_SCHEDULER_REALM,
};
use tracing::info;

use crate::config::{Config, ConfigError};

#[derive(Clone)]
pub(crate) struct Security {
    pub(crate) http: HttpAuth,
    pub(crate) acls: Arc<Acls>,
    /// What an agent must present on its stream (`--authenticate_agents`), else None.
    pub(crate) agent_credentials: Option<Arc<Vec<Credential>>>,
}

impl Security {
    pub(crate) fn load(config: &Config) -> Result<Security, ConfigError> {
        let credentials = match &config.credentials {
            Some(path) => Some(Arc::new(read_credentials(path).map_err(|e| {
                ConfigError {
                    flag: "credentials",
                    reason: e.to_string(),
                }
            })?)),
            None => None,
        };
        let needed = |flag: &'static str, realm: &str| {
            credentials.clone().ok_or_else(|| ConfigError {
                flag,
                reason: format!(
                    "No credentials provided for the default 'basic' HTTP authenticator for \
                     realm '{realm}' (see --credentials)"
                ),
            })
        };
        let mut http = HttpAuth::new(master_realm);
        for (on, flag, realm) in [
            (
                config.authenticate_http_readonly,
                "authenticate_http_readonly",
                MASTER_READONLY_REALM,
            ),
            (
                config.authenticate_http_readwrite,
                "authenticate_http_readwrite",
                MASTER_READWRITE_REALM,
            ),
            (
                config.authenticate_http_frameworks || config.authenticate_frameworks,
                if config.authenticate_http_frameworks {
                    "authenticate_http_frameworks"
                } else {
                    "authenticate_frameworks"
                },
                MASTER_SCHEDULER_REALM,
            ),
        ] {
            if on {
                info!(realm, "HTTP Basic authentication on");
                http = http.with(realm, Authenticator::basic(realm, needed(flag, realm)?));
            }
        }
        if config.authenticate_frameworks || config.authenticate_http_frameworks {
            info!("Master only allowing authenticated frameworks to register");
        } else {
            info!("Master allowing unauthenticated frameworks to register");
        }
        let agent_credentials = if config.authenticate_agents {
            info!("Master only allowing authenticated agents to register");
            Some(credentials.clone().ok_or_else(|| {
                ConfigError {
                    flag: "authenticate_agents",
                    reason: "Failed to start master with authentication enabled: \
                         no credentials provided (see --credentials)"
                        .into(),
                }
            })?)
        } else {
            None
        };
        let acls = match &config.acls {
            Some(text) => Acls::load(text).map_err(|e| ConfigError {
                flag: "acls",
                reason: e.to_string(),
            })?,
            None => Acls::default(),
        };
        Ok(Security {
            http,
            acls: Arc::new(acls),
            agent_credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn load(args: &[&str]) -> Result<Security, ConfigError> {
        let mut all = vec!["mesos-master"];
        all.extend_from_slice(args);
        let config = Config::try_parse_from(all).unwrap();
        config.validate()?;
        Security::load(&config)
    }

    #[test]
    fn start_up_rules_follow_mesos() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds");
        std::fs::write(
            &creds,
            r#"{"credentials":[{"principal":"p","secret":"s"}]}"#,
        )
        .unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, r#"{"credentials":[]}"#).unwrap();
        let c = format!("--credentials={}", creds.display());

        assert!(load(&[]).unwrap().agent_credentials.is_none());
        let s = load(&[&c, "--authenticate_http_readonly", "--authenticate_agents"]).unwrap();
        assert!(s.http.is_enabled(MASTER_READONLY_REALM));
        assert!(!s.http.is_enabled(MASTER_READWRITE_REALM));
        assert_eq!(s.agent_credentials.unwrap().len(), 1);
        assert!(load(&[&c, "--authenticate_frameworks"])
            .unwrap()
            .http
            .is_enabled(MASTER_SCHEDULER_REALM));

        for (args, flag) in [
            (
                vec!["--authenticate_http_readwrite"],
                "authenticate_http_readwrite",
            ),
            (vec!["--authenticate_agents"], "authenticate_agents"),
            (
                vec![c.as_str(), "--authenticate_http_frameworks"],
                "http_framework_authenticators",
            ),
            (vec!["--credentials=/no/such/file"], "credentials"),
            (vec!["--acls={\"run_task\":[]}"], "acls"),
            (vec!["--http_authenticators=jwt"], "http_authenticators"),
            (vec!["--authorizers=other"], "authorizers"),
        ] {
            let e = load(&args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} must fail"));
            assert_eq!(e.flag, flag, "{args:?}: {e}");
        }
        let e = load(&[&format!("--credentials={}", empty.display())])
            .err()
            .unwrap();
        assert!(e.to_string().contains("at least one credential"), "{e}");
        let ok = load(&[
            &c,
            "--authenticate_http_frameworks",
            "--http_framework_authenticators=basic",
        ])
        .unwrap();
        assert!(ok.http.is_enabled(MASTER_SCHEDULER_REALM));
    }
}
