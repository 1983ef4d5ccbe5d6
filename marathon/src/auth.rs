//! Authentication flags: HTTP Basic on Marathon's own API (`--http_credentials`,
//! `--http_realm`) and Marathon's credential towards the Mesos master
//! (`--mesos_authentication*`).
//!
//! Unlike Marathon, which runs without authentication when `--http_credentials` does not
//! match `(.+):(.+)`, a malformed value stops Marathon at start: an operator who asked for a
//! password must not get an open API instead. The secret file's trailing newline is trimmed
//! (Marathon sends it as part of the secret, which then never matches: marathon#1289).
//!
//! Pure parsing and checking only; the HTTP edge applies the result (`http::auth`).

use std::path::PathBuf;

use mesos_common::exposure::{off, Exposure, ExposureWarning};
use mesos_scheduler::Credential;

use crate::config::{toggle_arg, ConfigError};

/// The authentication flags, flattened into [`crate::Config`].
#[derive(Debug, Clone, clap::Args)]
pub struct AuthFlags {
    /// `user:password` required as HTTP Basic credentials on every path (also from
    /// `MESOSPHERE_HTTP_CREDENTIALS`). Unset: the API is open.
    #[arg(
        long = "http_credentials",
        env = "MARATHON_HTTP_CREDENTIALS",
        hide_env_values = true
    )]
    pub http_credentials: Option<String>,

    /// The realm of the HTTP Basic challenge.
    #[arg(
        long = "http_realm",
        env = "MARATHON_HTTP_REALM",
        default_value = "Mesosphere"
    )]
    pub http_realm: String,

    /// Authenticate to the Mesos master with `--mesos_authentication_principal` and its
    /// secret (HTTP Basic on the scheduler API).
    #[arg(long = "mesos_authentication", env = "MARATHON_MESOS_AUTHENTICATION", num_args = 0..=1,
          default_missing_value = "true", value_parser = toggle_arg,
          overrides_with = "disable_mesos_authentication", value_name = "BOOL")]
    mesos_authentication: Option<bool>,

    /// Do not authenticate to the Mesos master (default).
    #[arg(long = "disable_mesos_authentication", env = "MARATHON_DISABLE_MESOS_AUTHENTICATION",
          num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg,
          overrides_with = "mesos_authentication", value_name = "BOOL")]
    disable_mesos_authentication: Option<bool>,

    /// Principal Marathon registers with (FrameworkInfo.principal) and authenticates as.
    #[arg(
        long = "mesos_authentication_principal",
        env = "MARATHON_MESOS_AUTHENTICATION_PRINCIPAL"
    )]
    pub mesos_authentication_principal: Option<String>,

    /// File holding the principal's secret (a trailing newline is not part of it).
    #[arg(
        long = "mesos_authentication_secret_file",
        env = "MARATHON_MESOS_AUTHENTICATION_SECRET_FILE",
        conflicts_with = "mesos_authentication_secret"
    )]
    pub mesos_authentication_secret_file: Option<PathBuf>,

    /// The principal's secret itself (prefer the file: command lines are visible to all
    /// local users).
    #[arg(
        long = "mesos_authentication_secret",
        env = "MARATHON_MESOS_AUTHENTICATION_SECRET",
        hide_env_values = true
    )]
    pub mesos_authentication_secret: Option<String>,
}

/// Marathon's own name for the credentials variable, read when the flag is unset.
pub const MESOSPHERE_HTTP_CREDENTIALS: &str = "MESOSPHERE_HTTP_CREDENTIALS";

fn invalid(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        reason: reason.into(),
    }
}

/// The one user of `--http_credentials`.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for HttpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCredentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

impl HttpCredentials {
    /// Marathon's `(.+):(.+)`, matched in full: the user is as long as it can be, so the
    /// split is at the last `:` that leaves a non-empty password (`a:b:c` is user `a:b`).
    /// As in Java's regex, `.` does not match line breaks.
    pub fn parse(text: &str) -> Result<HttpCredentials, String> {
        const FORM: &str = "expected user:password";
        if text.contains(['\n', '\r']) {
            return Err(format!("{FORM}, without line breaks"));
        }
        let split = text
            .char_indices()
            .rev()
            .filter(|&(i, c)| c == ':' && i > 0 && i + 1 < text.len())
            .map(|(i, _)| i)
            .next()
            .ok_or_else(|| format!("{FORM} (both non-empty)"))?;
        Ok(HttpCredentials {
            user: text[..split].to_string(),
            password: text[split + 1..].to_string(),
        })
    }

    /// What a client's Basic header decodes to when it sends these credentials.
    pub fn joined(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }
}

/// HTTP Basic as the API requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAuth {
    pub credentials: HttpCredentials,
    pub realm: String,
}

impl AuthFlags {
    /// `--http_credentials`, else `MESOSPHERE_HTTP_CREDENTIALS`, parsed; `None` when neither
    /// is set (the API is open).
    pub fn http_auth(&self) -> Result<Option<HttpAuth>, ConfigError> {
        let text = self
            .http_credentials
            .clone()
            .or_else(|| std::env::var(MESOSPHERE_HTTP_CREDENTIALS).ok());
        let Some(text) = text else { return Ok(None) };
        let credentials =
            HttpCredentials::parse(&text).map_err(|e| invalid("http_credentials", e))?;
        self.check_realm()?;
        Ok(Some(HttpAuth {
            credentials,
            realm: self.http_realm.clone(),
        }))
    }

    /// The realm goes into a quoted header parameter: no quotes, backslashes or controls.
    fn check_realm(&self) -> Result<(), ConfigError> {
        let realm = &self.http_realm;
        if realm.is_empty()
            || realm
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
        {
            return Err(invalid(
                "http_realm",
                format!(
                    "{realm:?}: a non-empty name without quotes, backslashes or control characters"
                ),
            ));
        }
        Ok(())
    }

    pub fn mesos_authentication(&self) -> bool {
        self.mesos_authentication == Some(true) && self.disable_mesos_authentication != Some(true)
    }

    /// The principal's secret from the file (trailing line breaks trimmed) or the flag.
    fn mesos_secret(&self) -> Result<Option<String>, ConfigError> {
        const FLAG: &str = "mesos_authentication_secret_file";
        let secret = match (
            &self.mesos_authentication_secret_file,
            &self.mesos_authentication_secret,
        ) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    FLAG,
                    "give either it or --mesos_authentication_secret, not both",
                ))
            }
            (Some(path), None) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| invalid(FLAG, format!("cannot read {}: {e}", path.display())))?;
                Some(text.trim_end_matches(['\n', '\r']).to_string())
            }
            (None, secret) => secret.clone(),
        };
        if secret.as_deref() == Some("") {
            let flag = if self.mesos_authentication_secret_file.is_some() {
                FLAG
            } else {
                "mesos_authentication_secret"
            };
            return Err(invalid(flag, "the secret is empty"));
        }
        Ok(secret)
    }

    /// The credential sent to the master, `None` without `--mesos_authentication`. Reads
    /// the secret file.
    pub fn mesos_credential(&self) -> Result<Option<Credential>, ConfigError> {
        let principal = self.mesos_principal()?;
        let secret = self.mesos_secret()?;
        if !self.mesos_authentication() {
            return Ok(None);
        }
        let principal = principal.ok_or_else(|| {
            invalid(
                "mesos_authentication_principal",
                "required with --mesos_authentication",
            )
        })?;
        let secret = secret.ok_or_else(|| {
            invalid(
                "mesos_authentication_secret_file",
                "--mesos_authentication needs the principal's secret: \
                 --mesos_authentication_secret_file or --mesos_authentication_secret",
            )
        })?;
        Ok(Some(Credential::new(principal, secret)))
    }

    /// `--mesos_authentication_principal`, also set as FrameworkInfo.principal without
    /// authentication (as Marathon does).
    pub fn mesos_principal(&self) -> Result<Option<String>, ConfigError> {
        match &self.mesos_authentication_principal {
            Some(p) if p.trim().is_empty() => Err(invalid(
                "mesos_authentication_principal",
                "must not be empty",
            )),
            other => Ok(other.clone()),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http_auth()?;
        self.check_realm()?;
        self.mesos_credential()?;
        Ok(())
    }
}

/// The warning for an API reachable beyond this host without credentials: open Marathons
/// were how crypto-miners and worse got onto clusters. On the HTTP port, else the HTTPS one
/// (TLS alone lets anyone in).
pub fn exposure_warning(config: &crate::Config) -> Option<ExposureWarning> {
    let open = matches!(config.auth.http_auth(), Ok(None));
    let host = config.http_address.to_string();
    let port = match config.https.http_enabled() {
        true => config.http_port,
        false => config.https_port,
    };
    Exposure {
        program: "Marathon",
        host: &host,
        port,
        off: off([("--http_credentials", !open)]),
        risk: "run any command on the cluster",
        loopback: "--http_address=127.0.0.1",
    }
    .warning()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_split_like_marathons_greedy_regex() {
        let cases = [
            ("alice:secret", Some(("alice", "secret"))),
            ("a:b:c", Some(("a:b", "c"))),
            ("a::", Some(("a", ":"))),
            ("a:b:", Some(("a", "b:"))),
            ("::x", Some((":", "x"))),
            ("user:p@ss w0rd", Some(("user", "p@ss w0rd"))),
            ("é:ü", Some(("é", "ü"))),
            ("nocolon", None),
            (":secret", None),
            ("alice:", None),
            (":", None),
            ("", None),
            ("a:b\n", None),
            ("a\r:b", None),
        ];
        for (text, want) in cases {
            let got = HttpCredentials::parse(text).ok();
            let got = got.as_ref().map(|c| (c.user.as_str(), c.password.as_str()));
            assert_eq!(got, want, "{text:?}");
        }
    }

    fn flags(args: &[&str]) -> Result<crate::Config, clap::Error> {
        use clap::Parser;
        crate::Config::try_parse_from(["marathon", "--master", "m:5050"].iter().chain(args))
    }

    #[test]
    fn mesos_credential_from_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\r\n").unwrap();
        let path = file.to_str().unwrap();
        let c = flags(&[
            "--mesos_authentication",
            "--mesos_authentication_principal",
            "marathon",
            "--mesos_authentication_secret_file",
            path,
        ])
        .unwrap();
        let credential = c.auth.mesos_credential().unwrap().unwrap();
        assert_eq!(credential.principal, "marathon");
        assert_eq!(
            credential.secret(),
            "s3cret",
            "the file's line break is trimmed"
        );
        assert_eq!(c.validate(), Ok(()));

        // Without --mesos_authentication: no credential, but the principal is still used.
        let c = flags(&["--mesos_authentication_principal", "marathon"]).unwrap();
        assert_eq!(c.auth.mesos_credential(), Ok(None));
        assert_eq!(c.auth.mesos_principal(), Ok(Some("marathon".into())));
        let c = flags(&[
            "--mesos_authentication",
            "--disable_mesos_authentication",
            "--mesos_authentication_principal",
            "p",
        ])
        .unwrap();
        assert!(!c.auth.mesos_authentication());

        let c = flags(&[
            "--mesos_authentication=true",
            "--mesos_authentication_principal=p",
            "--mesos_authentication_secret=x",
        ])
        .unwrap();
        assert_eq!(c.auth.mesos_credential().unwrap().unwrap().secret(), "x");
        assert!(flags(&[
            "--mesos_authentication_secret_file",
            path,
            "--mesos_authentication_secret",
            "x"
        ])
        .is_err());
    }

    #[test]
    fn bad_auth_flags_are_named() {
        let empty = tempfile::NamedTempFile::new().unwrap();
        let empty = empty.path().to_str().unwrap();
        let cases: &[(&[&str], &str)] = &[
            (&["--http_credentials", "nocolon"], "http_credentials"),
            (&["--http_credentials", ""], "http_credentials"),
            (
                &["--http_credentials", "a:b", "--http_realm", "say \"hi\""],
                "http_realm",
            ),
            (&["--http_realm", ""], "http_realm"),
            (
                &[
                    "--mesos_authentication",
                    "--mesos_authentication_secret",
                    "x",
                ],
                "mesos_authentication_principal",
            ),
            (
                &[
                    "--mesos_authentication",
                    "--mesos_authentication_principal",
                    "p",
                ],
                "mesos_authentication_secret_file",
            ),
            (
                &["--mesos_authentication_principal", " "],
                "mesos_authentication_principal",
            ),
            (
                &["--mesos_authentication_secret_file", "/no/such/file"],
                "mesos_authentication_secret_file",
            ),
            (
                &["--mesos_authentication_secret_file", empty],
                "mesos_authentication_secret_file",
            ),
        ];
        for (args, flag) in cases {
            let err = flags(args).unwrap().validate().unwrap_err();
            assert_eq!(err.flag, *flag, "{args:?}: {err}");
        }
    }

    #[test]
    fn an_open_api_beyond_loopback_is_warned_about() {
        let warned = |args: &[&str]| exposure_warning(&flags(args).unwrap()).is_some();
        assert!(warned(&[]), "0.0.0.0 is the default");
        let warning = exposure_warning(&flags(&["--http_port", "8081"]).unwrap()).unwrap();
        assert_eq!(warning.address, "0.0.0.0:8081");
        assert_eq!(warning.flags, ["--http_credentials"]);
        assert!(warned(&["--http_address", "10.0.0.5"]));
        assert!(!warned(&["--http_address", "127.0.0.1"]));
        assert!(!warned(&["--http_address", "::1"]));
        assert!(!warned(&["--http_credentials", "a:b"]));
    }

    #[test]
    fn debug_hides_the_password() {
        let c = HttpCredentials::parse("alice:hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
