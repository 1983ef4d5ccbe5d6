//! TLS for the cross-process tests: the test CA (`scripts/test-ca.sh`), the
//! `LIBPROCESS_SSL_*` environment that turns TLS on, HTTPS and plain clients, and a set of
//! processes (master, agents, anything else) started with such an environment and checked
//! ready over the scheme it implies.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{binary, free_port, kill_processes_under, Proc};

/// Makes the test CA and certificates in `dir` with the project's script.
pub fn make_certs(dir: &Path) -> PathBuf {
    let certs = dir.join("certs");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-ca.sh");
    let out = std::process::Command::new("sh")
        .arg(&script)
        .arg(&certs)
        .output()
        .expect("run scripts/test-ca.sh");
    assert!(
        out.status.success(),
        "test-ca.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    certs
}

/// The environment that turns TLS on with the CA's server certificate.
pub fn tls_env(certs: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let file = |name: &str| certs.join(name).display().to_string();
    let mut env = vec![
        ("LIBPROCESS_SSL_ENABLED".to_string(), "true".to_string()),
        ("LIBPROCESS_SSL_CERT_FILE".to_string(), file("server.pem")),
        ("LIBPROCESS_SSL_KEY_FILE".to_string(), file("server.key")),
        ("LIBPROCESS_SSL_CA_FILE".to_string(), file("ca.pem")),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// An HTTPS client that trusts the test CA and presents `identity` (`client`, `rogue` or
/// none).
pub fn https_client(certs: &Path, identity: Option<&str>) -> reqwest::Client {
    let ca = std::fs::read(certs.join("ca.pem")).expect("ca.pem");
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA"))
        .timeout(Duration::from_secs(10));
    if let Some(name) = identity {
        let mut pem = std::fs::read(certs.join(format!("{name}.pem"))).expect("cert");
        pem.extend(std::fs::read(certs.join(format!("{name}.key"))).expect("key"));
        builder = builder.identity(reqwest::Identity::from_pem(&pem).expect("identity"));
    }
    builder.build().expect("https client")
}

/// A client that speaks plain HTTP only.
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Processes in one temp dir, killed (with whatever they started there) on drop.
pub struct Processes {
    dir: tempfile::TempDir,
    pub procs: Vec<Proc>,
}

impl Processes {
    pub fn new() -> Processes {
        Processes {
            dir: tempfile::Builder::new()
                .prefix("mesos-tests-tls-")
                .tempdir()
                .expect("temp dir"),
            procs: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Starts a master on a free port with `flags` after the standard ones and waits until
    /// `client` gets 200 from /health.
    pub async fn master(
        &mut self,
        env: Vec<(String, String)>,
        flags: &[String],
        client: &reqwest::Client,
    ) -> u16 {
        let port = free_port();
        let mut args = vec![
            "--ip=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--work_dir={}", self.root().join("master").display()),
            "--allocation_interval=100ms".to_string(),
        ];
        args.extend_from_slice(flags);
        self.spawn_ready("master", "mesos-master", args, env, port, client)
            .await
    }

    /// Starts an agent of `master` with `flags` after the standard ones and waits until
    /// `client` gets 200 from its /health (registration is checked separately); returns
    /// its port.
    pub async fn agent(
        &mut self,
        master: u16,
        env: Vec<(String, String)>,
        flags: &[String],
        client: &reqwest::Client,
    ) -> u16 {
        let port = free_port();
        let mut args = vec![
            format!("--master=127.0.0.1:{master}"),
            "--ip=127.0.0.1".to_string(),
            format!("--port={port}"),
            format!("--work_dir={}", self.root().join("agent").display()),
            "--resources=cpus:2;mem:1024;disk:1024;ports:[31000-31100]".to_string(),
        ];
        args.extend_from_slice(flags);
        self.spawn_ready("agent", "mesos-agent", args, env, port, client)
            .await
    }

    /// Starts `program` as `name` and waits until `client` gets 200 from its /health on
    /// `port` (over TLS when `env` turns it on); returns the port.
    async fn spawn_ready(
        &mut self,
        name: &str,
        program: &str,
        args: Vec<String>,
        env: Vec<(String, String)>,
        port: u16,
        client: &reqwest::Client,
    ) -> u16 {
        let scheme = scheme_of(&env);
        let proc = Proc::spawn_with_env(name, &binary(program), args, env, self.root());
        self.procs.push(proc);
        self.ready(&format!("{scheme}://127.0.0.1:{port}/health"), client)
            .await;
        port
    }

    pub async fn ready(&mut self, url: &str, client: &reqwest::Client) {
        let proc = self.procs.last_mut().expect("a process");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = proc.try_exit() {
                panic!(
                    "{} exited with {status}\n{}",
                    proc.name(),
                    proc.log_tail(40)
                );
            }
            if let Ok(r) = client.get(url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("{url} not ready\n{}", proc.log_tail(40));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self, index: usize) -> String {
        let proc = &self.procs[index];
        format!("{}{}", proc.stdout(), proc.stderr())
    }
}

impl Default for Processes {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for proc in &mut self.procs {
            proc.kill9();
        }
        kill_processes_under(self.dir.path());
    }
}

/// `https` when `env` turns TLS on, else `http`.
pub fn scheme_of(env: &[(String, String)]) -> &'static str {
    match env
        .iter()
        .any(|(k, v)| k == "LIBPROCESS_SSL_ENABLED" && v == "true")
    {
        true => "https",
        false => "http",
    }
}

/// How many agents `/master/state` at `url` lists as active (0 when it cannot be read).
pub async fn active_agents(client: &reqwest::Client, url: &str) -> usize {
    let Ok(response) = client.get(url).send().await else {
        return 0;
    };
    let state: serde_json::Value = response.json().await.unwrap_or_default();
    state["slaves"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|s| s["active"] == true).count())
}
