//! What the agent's authentication flags turn on, read once at start (a bad file stops
//! the agent, naming its flag): the HTTP realms' authenticators, the credential it
//! presents to the master, and the key executor tokens are signed with.

use std::sync::Arc;

use mesos_common::auth::credentials::{flag_path, read_credential, read_credentials, Credential};
use mesos_common::auth::jwt::JwtKey;
use mesos_common::auth::{
    agent_realm, Acls, Authenticator, HttpAuth, AGENT_EXECUTOR_REALM, AGENT_READONLY_REALM,
    AGENT_READWRITE_REALM,
};

use crate::config::{Config, ConfigError};

pub struct Security {
    pub http: HttpAuth,
    /// `--credential`, sent to the master on the agent stream.
    pub credential: Option<Credential>,
    /// `--jwt_secret_key`: executors get tokens signed with it.
    pub executor_key: Option<JwtKey>,
    /// `--acls` (none: everything is allowed).
    pub acls: Arc<Acls>,
}

fn error(flag: &'static str) -> impl Fn(String) -> ConfigError {
    move |reason| ConfigError::Security { flag, reason }
}

impl Security {
    pub fn load(config: &Config) -> Result<Security, ConfigError> {
        let credential = config
            .credential
            .as_deref()
            .map(read_credential)
            .transpose()
            .map_err(|e| error("credential")(e.to_string()))?;
        let http_credentials = config
            .http_credentials
            .as_deref()
            .map(read_credentials)
            .transpose()
            .map_err(|e| error("http_credentials")(e.to_string()))?
            .map(Arc::new);
        let mut http = HttpAuth::new(agent_realm);
        for (on, realm) in [
            (config.authenticate_http_readonly, AGENT_READONLY_REALM),
            (config.authenticate_http_readwrite, AGENT_READWRITE_REALM),
        ] {
            if on {
                let credentials = http_credentials.clone().ok_or_else(|| {
                    error("http_credentials")(format!(
                        "No credentials provided for the default 'basic' HTTP authenticator \
                         for realm '{realm}'"
                    ))
                })?;
                tracing::info!(realm, "HTTP Basic authentication on");
                http = http.with(realm, Authenticator::basic(realm, credentials));
            }
        }
        let executor_key = match &config.jwt_secret_key {
            Some(value) => {
                let path = flag_path(value);
                let secret = std::fs::read(path)
                    .map_err(|e| error("jwt_secret_key")(format!("cannot read '{path}': {e}")))?;
                if secret.is_empty() {
                    return Err(error("jwt_secret_key")(format!("'{path}' is empty")));
                }
                Some(JwtKey::new(&secret))
            }
            None => None,
        };
        if config.authenticate_http_executors {
            let key = executor_key.clone().ok_or_else(|| {
                error("jwt_secret_key")(
                    "--authenticate_http_executors needs --jwt_secret_key".into(),
                )
            })?;
            tracing::info!("executors must present their token on /api/v1/executor");
            http = http.with(
                AGENT_EXECUTOR_REALM,
                Authenticator::Jwt {
                    realm: AGENT_EXECUTOR_REALM.to_string(),
                    key,
                },
            );
        }
        let acls = config
            .acls
            .as_deref()
            .map(Acls::load)
            .transpose()
            .map_err(|e| error("acls")(e.to_string()))?
            .unwrap_or_default();
        Ok(Security {
            http,
            credential,
            executor_key,
            acls: Arc::new(acls),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn bad_files_name_their_flag() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("cred");
        std::fs::write(&good, r#"{"principal":"agent","secret":"s"}"#).unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "k").unwrap();
        let load = |args: &[String]| {
            let mut all = vec!["mesos-agent".to_string(), "--master=m:5050".to_string()];
            all.extend_from_slice(args);
            Security::load(&Config::try_parse_from(all).unwrap())
        };
        let s = load(&[
            format!("--credential={}", good.display()),
            format!("--jwt_secret_key=file://{}", key.display()),
            "--authenticate_http_executors".into(),
        ])
        .unwrap();
        assert_eq!(s.credential.unwrap().principal, "agent");
        assert!(s.http.is_enabled(AGENT_EXECUTOR_REALM));
        for (args, flag) in [
            (vec!["--credential=/nope".to_string()], "credential"),
            (
                vec!["--authenticate_http_readonly".to_string()],
                "http_credentials",
            ),
            (vec!["--jwt_secret_key=/nope".to_string()], "jwt_secret_key"),
            (vec!["--acls=/nope".to_string()], "acls"),
            (vec![r#"--acls={"run_task":[]}"#.to_string()], "acls"),
            (
                vec![format!("--http_credentials={}", good.display())],
                "http_credentials",
            ),
        ] {
            match load(&args) {
                Err(ConfigError::Security { flag: f, .. }) => assert_eq!(f, flag, "{args:?}"),
                other => panic!("{args:?}: {:?}", other.map(|_| ())),
            }
        }
    }
}
