//! TLS settings of every listener and client, read from the environment as libprocess
//! reads them (`LIBPROCESS_SSL_*`, or the older `SSL_*` spelling), and the rustls
//! configurations built from them.
//!
//! ```text
//!   LIBPROCESS_SSL_* env ──TlsConfig::from_lookup──▶ validate ──▶ Tls { server, client }
//!                                                    │              │         └─▶ reqwest / gRPC clients
//!                        exit naming the variable ◀──┘              └─▶ serve::Edge (listeners)
//! ```
//!
//! Differences from libprocess, on purpose: TLS 1.2 and 1.3 are on (libprocess enables
//! 1.3 only with `LIBPROCESS_SSL_ENABLE_TLS_V1_3`), and a client verifies the server's
//! certificate whenever a CA file or directory is given, unless
//! `LIBPROCESS_SSL_VERIFY_SERVER_CERT=false` says otherwise (libprocess verifies only when
//! asked). Certificates are checked against their subject alternative names by rustls
//! (`LIBPROCESS_SSL_HOSTNAME_VALIDATION_SCHEME=openssl`), not by reverse DNS.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

/// A TLS setting that cannot be used; the process stops at start naming the variable.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{var}: {reason}")]
pub struct TlsError {
    pub var: String,
    pub reason: String,
}

/// The `LIBPROCESS_SSL_*` settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    pub enabled: bool,
    /// Accept plain-text connections on the same port (told apart by their first bytes).
    pub support_downgrade: bool,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub ca_dir: Option<PathBuf>,
    /// Clients check the server's certificate against the CA.
    pub verify_server_cert: bool,
    /// Servers refuse clients without a certificate signed by the CA.
    pub require_client_cert: bool,
}

const PREFIXES: [&str; 2] = ["LIBPROCESS_SSL_", "SSL_"];

impl TlsConfig {
    /// Reads the settings through `lookup` (the environment, or a table in tests).
    /// `LIBPROCESS_SSL_X` wins over `SSL_X`; `VERIFY_CERT` and `REQUIRE_CERT` are the
    /// older names of `VERIFY_SERVER_CERT` and `REQUIRE_CLIENT_CERT`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<TlsConfig, TlsError> {
        let get = |names: &[&str]| -> Option<(String, String)> {
            names.iter().find_map(|name| {
                PREFIXES.iter().find_map(|prefix| {
                    let var = format!("{prefix}{name}");
                    lookup(&var).map(|value| (var, value))
                })
            })
        };
        let flag = |names: &[&str]| -> Result<Option<bool>, TlsError> {
            match get(names) {
                None => Ok(None),
                Some((var, value)) => {
                    crate::flags::parse_bool(&value)
                        .map(Some)
                        .map_err(|e| TlsError {
                            var,
                            reason: e.to_string(),
                        })
                }
            }
        };
        let path = |name: &str| get(&[name]).map(|(_, value)| PathBuf::from(value));
        let ca_file = path("CA_FILE");
        let ca_dir = path("CA_DIR");
        let has_ca = ca_file.is_some() || ca_dir.is_some();
        Ok(TlsConfig {
            enabled: flag(&["ENABLED"])?.unwrap_or(false),
            support_downgrade: flag(&["SUPPORT_DOWNGRADE"])?.unwrap_or(false),
            cert_file: path("CERT_FILE"),
            key_file: path("KEY_FILE"),
            verify_server_cert: flag(&["VERIFY_SERVER_CERT", "VERIFY_CERT"])?.unwrap_or(has_ca),
            require_client_cert: flag(&["REQUIRE_CLIENT_CERT", "REQUIRE_CERT"])?.unwrap_or(false),
            ca_file,
            ca_dir,
        })
    }

    pub fn from_env() -> Result<TlsConfig, TlsError> {
        TlsConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the files and builds the server and client configurations; `None` when TLS
    /// is off.
    pub fn build(&self) -> Result<Option<Tls>, TlsError> {
        if !self.enabled {
            return Ok(None);
        }
        let var = |name: &str| format!("LIBPROCESS_SSL_{name}");
        let required = |value: &Option<PathBuf>, name: &str| {
            value.clone().ok_or_else(|| TlsError {
                var: var(name),
                reason: "required when LIBPROCESS_SSL_ENABLED is true".into(),
            })
        };
        let cert_file = required(&self.cert_file, "CERT_FILE")?;
        let key_file = required(&self.key_file, "KEY_FILE")?;
        let chain = read_certs(&cert_file).map_err(|reason| TlsError {
            var: var("CERT_FILE"),
            reason,
        })?;
        let key = PrivateKeyDer::from_pem_file(&key_file).map_err(|e| TlsError {
            var: var("KEY_FILE"),
            reason: format!("no private key read from {}: {e}", key_file.display()),
        })?;
        let roots = self.roots()?;
        if roots.is_none() && (self.verify_server_cert || self.require_client_cert) {
            return Err(TlsError {
                var: var("CA_FILE"),
                reason: "required to verify certificates (LIBPROCESS_SSL_VERIFY_SERVER_CERT or \
                         LIBPROCESS_SSL_REQUIRE_CLIENT_CERT)"
                    .into(),
            });
        }
        let provider = provider();
        let server = server_config(self, &provider, roots.clone(), &chain, &key)?;
        let client = client_config(self, &provider, roots, &chain, &key)?;
        Ok(Some(Tls {
            downgrade: self.support_downgrade,
            server: Arc::new(server),
            client: Arc::new(client),
        }))
    }

    fn roots(&self) -> Result<Option<Arc<RootCertStore>>, TlsError> {
        let mut files = Vec::new();
        if let Some(file) = &self.ca_file {
            files.push(("CA_FILE", file.clone()));
        }
        if let Some(dir) = &self.ca_dir {
            let entries = std::fs::read_dir(dir).map_err(|e| TlsError {
                var: "LIBPROCESS_SSL_CA_DIR".into(),
                reason: format!("cannot read {}: {e}", dir.display()),
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    files.push(("CA_DIR", path));
                }
            }
        }
        if files.is_empty() {
            return Ok(None);
        }
        let mut store = RootCertStore::empty();
        for (name, file) in files {
            let error = |reason: String| TlsError {
                var: format!("LIBPROCESS_SSL_{name}"),
                reason,
            };
            for cert in read_certs(&file).map_err(error)? {
                store
                    .add(cert)
                    .map_err(|e| error(format!("{}: {e}", file.display())))?;
            }
        }
        Ok(Some(Arc::new(store)))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no PEM certificate in {}", path.display()));
    }
    Ok(certs)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn server_config(
    config: &TlsConfig,
    provider: &Arc<CryptoProvider>,
    roots: Option<Arc<RootCertStore>>,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let error = |var: &str, reason: String| TlsError {
        var: format!("LIBPROCESS_SSL_{var}"),
        reason,
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| error("ENABLED", e.to_string()))?;
    let builder = match roots {
        // A client certificate, when one is sent, is always checked against the CA.
        Some(roots) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let verifier = match config.require_client_cert {
                true => verifier,
                false => verifier.allow_unauthenticated(),
            };
            let verifier = verifier
                .build()
                .map_err(|e| error("CA_FILE", e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder
        .with_single_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| error("KEY_FILE", format!("does not match the certificate: {e}")))?;
    // gRPC (the agent link) needs h2; everything else may use either.
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

fn client_config(
    config: &TlsConfig,
    provider: &Arc<CryptoProvider>,
    roots: Option<Arc<RootCertStore>>,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError {
            var: "LIBPROCESS_SSL_ENABLED".into(),
            reason: e.to_string(),
        })?;
    let builder = match (config.verify_server_cert, roots) {
        (true, Some(roots)) => builder.with_root_certificates(roots),
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider.clone()))),
    };
    // The same certificate identifies this process as a client, as in libprocess.
    builder
        .with_client_auth_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| TlsError {
            var: "LIBPROCESS_SSL_KEY_FILE".into(),
            reason: format!("does not match the certificate: {e}"),
        })
}

/// TLS is on: what listeners and clients need.
#[derive(Clone)]
pub struct Tls {
    pub downgrade: bool,
    pub server: Arc<ServerConfig>,
    /// Offers h2 and http/1.1; see [`Tls::client_http1`] for HTTP/1-only clients.
    pub client: Arc<ClientConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("downgrade", &self.downgrade)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// For clients that speak HTTP/1.1 only (reqwest here).
    pub fn client_http1(&self) -> ClientConfig {
        let mut config = (*self.client).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }

    /// For the gRPC link (HTTP/2 only).
    pub fn client_h2(&self) -> ClientConfig {
        let mut config = (*self.client).clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        config
    }
}

/// The process's settings, read from the environment once.
pub fn process() -> Result<Option<&'static Tls>, TlsError> {
    static PROCESS: OnceLock<Result<Option<Tls>, TlsError>> = OnceLock::new();
    PROCESS
        .get_or_init(|| TlsConfig::from_env()?.build())
        .as_ref()
        .map(Option::as_ref)
        .map_err(Clone::clone)
}

/// `https` when this process speaks TLS, else `http`: the scheme of the URLs it builds
/// for the cluster's other processes (libprocess does the same).
pub fn scheme() -> &'static str {
    match process() {
        Ok(Some(_)) => "https",
        _ => "http",
    }
}

/// A reqwest client builder that speaks TLS as this process's settings say (plain HTTP
/// when TLS is off). Call [`process`] at start so that a bad setting stops the process
/// there; here a bad setting falls back to plain HTTP.
pub fn http_client() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match process() {
        Ok(Some(tls)) => builder.use_preconfigured_tls(tls.client_http1()),
        _ => builder,
    }
}

/// Connects TCP then TLS to the URI's host and port: the connector of the agent's gRPC
/// link to the master (`tonic::transport::Endpoint::connect_with_connector`).
#[derive(Clone)]
pub struct Connector {
    config: Arc<ClientConfig>,
}

impl Connector {
    pub fn new(config: ClientConfig) -> Connector {
        Connector {
            config: Arc::new(config),
        }
    }
}

type Connecting = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = std::io::Result<
                    hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
                >,
            > + Send,
    >,
>;

impl tower::Service<hyper::Uri> for Connector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: hyper::Uri) -> Connecting {
        let config = self.config.clone();
        Box::pin(async move {
            let invalid = |what: &str| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {uri}"))
            };
            let host = uri.host().ok_or_else(|| invalid("no host in"))?;
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let name = ServerName::try_from(host.clone()).map_err(|_| invalid("bad host in"))?;
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        })
    }
}

/// Accepts any server certificate (`LIBPROCESS_SSL_VERIFY_SERVER_CERT=false`), but still
/// checks the handshake's signatures so the session keys are the server's.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<TlsConfig, TlsError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TlsConfig::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn off_unless_enabled() {
        assert_eq!(config(&[]).unwrap(), TlsConfig::default());
        assert!(config(&[]).unwrap().build().unwrap().is_none());
    }

    #[test]
    fn libprocess_prefix_wins_over_ssl_prefix_and_old_names_are_aliases() {
        let c = config(&[
            ("SSL_ENABLED", "false"),
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("SSL_SUPPORT_DOWNGRADE", "1"),
            ("SSL_REQUIRE_CERT", "true"),
            ("LIBPROCESS_SSL_VERIFY_CERT", "false"),
            ("LIBPROCESS_SSL_CA_FILE", "/ca.pem"),
        ])
        .unwrap();
        assert!(c.enabled && c.support_downgrade && c.require_client_cert);
        assert!(!c.verify_server_cert, "explicit false beats the CA default");
        assert_eq!(c.ca_file.as_deref(), Some(Path::new("/ca.pem")));
    }

    #[test]
    fn a_ca_turns_server_verification_on() {
        let c = config(&[("SSL_CA_FILE", "/ca.pem")]).unwrap();
        assert!(c.verify_server_cert);
        assert!(!config(&[]).unwrap().verify_server_cert);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = config(&[("LIBPROCESS_SSL_ENABLED", "yes")]).unwrap_err();
        assert_eq!(e.var, "LIBPROCESS_SSL_ENABLED");
        let e = config(&[("LIBPROCESS_SSL_ENABLED", "true")])
            .unwrap()
            .build()
            .unwrap_err();
        assert_eq!(e.var, "LIBPROCESS_SSL_CERT_FILE");
        let e = config(&[
            ("LIBPROCESS_SSL_ENABLED", "true"),
            ("LIBPROCESS_SSL_CERT_FILE", "/nonexistent/cert.pem"),
            ("LIBPROCESS_SSL_KEY_FILE", "/nonexistent/key.pem"),
        ])
        .unwrap()
        .build()
        .unwrap_err();
        assert_eq!(e.var, "LIBPROCESS_SSL_CERT_FILE");
        assert!(e.reason.contains("/nonexistent/cert.pem"), "{e}");
    }
}
