//! Marathon's HTTPS listener and `--disable_http`.
//!
//! Marathon serves HTTPS on `--https_port` when it has a key store
//! (`--ssl_keystore_path`, a Java KeyStore). Here the certificate and key are PEM files,
//! `--ssl_cert_file` and `--ssl_key_file` (the `LIBPROCESS_SSL_CERT_FILE` /
//! `_KEY_FILE` format); a key store is refused at start with a message that says so.
//! As in Marathon, HTTP is served too unless `--disable_http`, and with HTTP disabled
//! and HTTPS not configured Marathon stops at start instead of serving nothing.

use std::path::PathBuf;

use mesos_common::tls::{Tls, TlsConfig};

use crate::config::{toggle_arg, ConfigError};

#[derive(Debug, Clone, clap::Args)]
pub struct HttpsFlags {
    /// PEM certificate chain of the HTTPS listener (`--https_port`).
    #[arg(long = "ssl_cert_file", env = "MARATHON_SSL_CERT_FILE")]
    pub ssl_cert_file: Option<PathBuf>,
    /// PEM private key of `--ssl_cert_file`.
    #[arg(long = "ssl_key_file", env = "MARATHON_SSL_KEY_FILE")]
    pub ssl_key_file: Option<PathBuf>,
    /// Marathon's Java KeyStore: not supported (use the PEM flags).
    #[arg(long = "ssl_keystore_path", env = "MARATHON_SSL_KEYSTORE_PATH")]
    pub ssl_keystore_path: Option<PathBuf>,
    /// Serve plain HTTP on `--http_port` (default).
    #[arg(long = "http", env = "MARATHON_HTTP", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "disable_http", value_name = "BOOL")]
    http: Option<bool>,
    /// Serve HTTPS only.
    #[arg(long = "disable_http", env = "MARATHON_DISABLE_HTTP", num_args = 0..=1, default_missing_value = "true", value_parser = toggle_arg, overrides_with = "http", value_name = "BOOL")]
    disable_http: Option<bool>,
}

fn invalid(flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        reason: reason.into(),
    }
}

impl HttpsFlags {
    pub fn http_enabled(&self) -> bool {
        crate::config::resolve_toggle(self.http, self.disable_http)
    }

    pub fn https_enabled(&self) -> bool {
        self.ssl_cert_file.is_some() && self.ssl_key_file.is_some()
    }

    /// `https` when HTTP is disabled: how other Marathons and clients reach this one.
    pub fn scheme(&self) -> &'static str {
        match self.http_enabled() {
            true => "http",
            false => "https",
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ssl_keystore_path.is_some() {
            return Err(invalid(
                "ssl_keystore_path",
                "Java KeyStores are not supported: give the certificate and its key as PEM \
                 files with --ssl_cert_file and --ssl_key_file",
            ));
        }
        match (&self.ssl_cert_file, &self.ssl_key_file) {
            (Some(_), None) => return Err(invalid("ssl_key_file", "needed with --ssl_cert_file")),
            (None, Some(_)) => return Err(invalid("ssl_cert_file", "needed with --ssl_key_file")),
            _ => {}
        }
        if !self.http_enabled() && !self.https_enabled() {
            return Err(invalid(
                "disable_http",
                "HTTP is disabled and HTTPS is not configured (--ssl_cert_file and \
                 --ssl_key_file): Marathon would serve nothing",
            ));
        }
        Ok(())
    }

    /// Reads the PEM files; `None` without HTTPS.
    pub fn tls(&self) -> Result<Option<Tls>, ConfigError> {
        if !self.https_enabled() {
            return Ok(None);
        }
        let config = TlsConfig {
            enabled: true,
            cert_file: self.ssl_cert_file.clone(),
            key_file: self.ssl_key_file.clone(),
            ..TlsConfig::default()
        };
        config.build().map_err(|e| {
            let flag = match e.var.as_str() {
                "LIBPROCESS_SSL_KEY_FILE" => "ssl_key_file",
                _ => "ssl_cert_file",
            };
            invalid(flag, e.reason)
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::Config;

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["marathon", "--master", "127.0.0.1:5050"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv).unwrap()
    }

    #[test]
    fn http_only_by_default_and_disabling_it_needs_https() {
        let c = parse(&[]);
        assert!(c.https.http_enabled() && !c.https.https_enabled());
        assert_eq!(c.https.scheme(), "http");
        let e = parse(&["--disable_http"]).https.validate().unwrap_err();
        assert_eq!(e.flag, "disable_http");
        let c = parse(&[
            "--disable_http",
            "--ssl_cert_file=/c.pem",
            "--ssl_key_file=/k.pem",
        ]);
        assert!(c.https.validate().is_ok());
        assert_eq!(c.https.scheme(), "https");
        assert!(!c.https.http_enabled());
    }

    #[test]
    fn half_a_pair_or_a_keystore_is_refused_naming_the_flag() {
        for (args, flag) in [
            (&["--ssl_cert_file=/c.pem"][..], "ssl_key_file"),
            (&["--ssl_key_file=/k.pem"][..], "ssl_cert_file"),
            (&["--ssl_keystore_path=/ks.jks"][..], "ssl_keystore_path"),
        ] {
            assert_eq!(parse(args).https.validate().unwrap_err().flag, flag);
        }
        let e = parse(&["--ssl_cert_file=/no/c.pem", "--ssl_key_file=/no/k.pem"])
            .https
            .tls()
            .unwrap_err();
        assert_eq!(e.flag, "ssl_cert_file");
    }
}
