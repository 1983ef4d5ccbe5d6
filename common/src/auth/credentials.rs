//! Credentials files, as Mesos reads them: `--credentials` holds
//! `{"credentials":[{"principal":"p","secret":"s"}]}`, `--credential` (the agent's own)
//! one `{"principal":"p","secret":"s"}`. A flag names the file as a path or a `file://`
//! URL. Secrets never reach `Debug` output or logs.

use std::fmt;

use serde::Deserialize;

/// One principal and its secret.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Credential {
    pub principal: String,
    #[serde(default)]
    pub secret: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a credentials file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("Failed to read credentials file '{path}': {reason}")]
    Read { path: String, reason: String },
    #[error("Invalid json format: {0}")]
    Json(String),
    #[error("Credentials file must contain at least one credential")]
    Empty,
    #[error("credential has an empty principal")]
    EmptyPrincipal,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credentials: Vec<Credential>,
}

/// The path a Path flag names: `file:///x` and `/x` are the same file.
pub fn flag_path(value: &str) -> &str {
    value.strip_prefix("file://").unwrap_or(value)
}

fn read(value: &str) -> Result<String, CredentialsError> {
    let path = flag_path(value);
    let text = std::fs::read_to_string(path).map_err(|e| CredentialsError::Read {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    warn_if_open(path);
    Ok(text)
}

/// Mesos warns (and goes on) when others may read a credentials file.
fn warn_if_open(path: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o007 != 0 {
            tracing::warn!(
                path,
                "permissions on credentials file are too open; it is recommended that your \
                 credentials file is NOT accessible by others"
            );
        }
    }
}

/// `{"credentials":[...]}` with at least one credential.
pub fn parse_credentials(text: &str) -> Result<Vec<Credential>, CredentialsError> {
    if text.trim().is_empty() {
        return Err(CredentialsError::Empty);
    }
    let file: CredentialsFile =
        serde_json::from_str(text).map_err(|e| CredentialsError::Json(e.to_string()))?;
    if file.credentials.is_empty() {
        return Err(CredentialsError::Empty);
    }
    if file.credentials.iter().any(|c| c.principal.is_empty()) {
        return Err(CredentialsError::EmptyPrincipal);
    }
    Ok(file.credentials)
}

/// One `{"principal":..,"secret":..}`.
pub fn parse_credential(text: &str) -> Result<Credential, CredentialsError> {
    if text.trim().is_empty() {
        return Err(CredentialsError::Empty);
    }
    let credential: Credential =
        serde_json::from_str(text).map_err(|e| CredentialsError::Json(e.to_string()))?;
    if credential.principal.is_empty() {
        return Err(CredentialsError::EmptyPrincipal);
    }
    Ok(credential)
}

/// Reads the file a `--credentials` flag names.
pub fn read_credentials(flag_value: &str) -> Result<Vec<Credential>, CredentialsError> {
    parse_credentials(&read(flag_value)?)
}

/// Reads the file a `--credential` flag names.
pub fn read_credential(flag_value: &str) -> Result<Credential, CredentialsError> {
    parse_credential(&read(flag_value)?)
}

/// Compares two byte strings in time that depends only on their lengths, never on where
/// they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// The principal whose secret is `secret`, looked up without an early exit: every
/// credential is compared, so the time taken does not tell which part was wrong.
pub fn check<'a>(
    credentials: &'a [Credential],
    principal: &str,
    secret: &str,
) -> Option<&'a Credential> {
    let mut found = None;
    for c in credentials {
        let same = constant_time_eq(c.principal.as_bytes(), principal.as_bytes())
            & constant_time_eq(c.secret.as_bytes(), secret.as_bytes());
        if same && found.is_none() {
            found = Some(c);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_parse_as_mesos_reads_them() {
        let c = parse_credentials(
            r#"{"credentials":[{"principal":"a","secret":"s"},{"principal":"b","secret":"t"}]}"#,
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].principal, "b");
        assert_eq!(
            parse_credentials(r#"{"credentials":[]}"#),
            Err(CredentialsError::Empty)
        );
        assert_eq!(parse_credentials(""), Err(CredentialsError::Empty));
        assert!(matches!(
            parse_credentials("a b"),
            Err(CredentialsError::Json(_))
        ));
        assert!(matches!(
            parse_credentials(r#"{"creds":[]}"#),
            Err(CredentialsError::Json(_))
        ));
        assert_eq!(
            parse_credential(r#"{"principal":"agent","secret":"x"}"#)
                .unwrap()
                .secret,
            "x"
        );
        assert_eq!(
            parse_credential(r#"{"principal":""}"#),
            Err(CredentialsError::EmptyPrincipal)
        );
        assert_eq!(flag_path("file:///etc/c"), "/etc/c");
        assert_eq!(flag_path("/etc/c"), "/etc/c");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = parse_credential(r#"{"principal":"p","secret":"hunter2"}"#).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn comparison_finds_only_exact_pairs() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        let creds = parse_credentials(
            r#"{"credentials":[{"principal":"a","secret":"s"},{"principal":"b","secret":"t"}]}"#,
        )
        .unwrap();
        assert_eq!(
            check(&creds, "b", "t").map(|c| c.principal.as_str()),
            Some("b")
        );
        assert!(check(&creds, "a", "t").is_none());
        assert!(check(&creds, "c", "s").is_none());
    }

    #[test]
    fn files_are_read_from_paths_and_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds");
        std::fs::write(&path, r#"{"credentials":[{"principal":"p","secret":"s"}]}"#).unwrap();
        let p = path.display().to_string();
        assert_eq!(read_credentials(&p).unwrap().len(), 1);
        assert_eq!(read_credentials(&format!("file://{p}")).unwrap().len(), 1);
        assert!(matches!(
            read_credentials("/does/not/exist"),
            Err(CredentialsError::Read { .. })
        ));
    }
}
