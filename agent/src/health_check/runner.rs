//! Runs one task's health check: a tokio task per task, stopped when its
//! [`HealthHandle`] is dropped (the task ended or is being killed).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mesos_proto::v1::{health_check, HealthCheck};
use tokio::sync::mpsc;
use tracing::{debug, Instrument};

use super::checker::{Checker, Report, Timing};
use crate::docker::DockerRuntime;
use crate::status_update::StreamKey;

/// What one check does.
#[derive(Debug, Clone)]
pub enum Probe {
    /// A command in the task's sandbox and environment, as the task's user (command
    /// tasks).
    Command {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: PathBuf,
        user: Option<crate::users::RunAs>,
    },
    /// A command inside the task's container (Docker tasks).
    DockerCommand {
        runtime: DockerRuntime,
        container: String,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// A GET of this URL; 200-399 is healthy.
    Http { url: String },
    /// A TCP connection that opens is healthy.
    Tcp { host: String, port: u16 },
}

/// Where the task's ports are reached, and how its commands run.
#[derive(Debug, Clone)]
pub enum Site {
    Plain {
        env: BTreeMap<String, String>,
        cwd: PathBuf,
        /// The user the task runs as (None: the agent's).
        user: Option<crate::users::RunAs>,
    },
    Docker {
        runtime: DockerRuntime,
        container: String,
        /// The container's address on its network (None: host networking).
        ip: Option<String>,
    },
}

impl Probe {
    /// The probe `check` describes, run at `site`; Err says why the check cannot run.
    pub fn of(check: &HealthCheck, site: Site) -> Result<Probe, String> {
        let host = match &site {
            Site::Docker { ip: Some(ip), .. } => ip.clone(),
            _ => "127.0.0.1".to_string(),
        };
        match check.r#type() {
            health_check::Type::Command => {
                let command = check
                    .command
                    .as_ref()
                    .ok_or("Expecting 'command' to be set for COMMAND health check")?;
                let argv = match command.shell() {
                    true => vec![
                        "/bin/sh".to_string(),
                        "-c".to_string(),
                        command.value.clone().unwrap_or_default(),
                    ],
                    false => {
                        let mut argv = vec![command.value.clone().unwrap_or_default()];
                        argv.extend(command.arguments.iter().skip(1).cloned());
                        argv
                    }
                };
                let own: Vec<(String, String)> = command
                    .environment
                    .iter()
                    .flat_map(|e| e.variables.iter())
                    .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
                    .collect();
                Ok(match site {
                    Site::Plain { mut env, cwd, user } => {
                        env.extend(own);
                        Probe::Command {
                            argv,
                            env,
                            cwd,
                            user,
                        }
                    }
                    Site::Docker {
                        runtime, container, ..
                    } => Probe::DockerCommand {
                        runtime,
                        container,
                        argv,
                        env: own.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    },
                })
            }
            health_check::Type::Http => {
                let http = check
                    .http
                    .as_ref()
                    .ok_or("Expecting 'http' to be set for HTTP health check")?;
                let path = http.path.clone().unwrap_or_default();
                let path = if path.starts_with('/') {
                    path
                } else {
                    format!("/{path}")
                };
                Ok(Probe::Http {
                    url: format!("{}://{host}:{}{path}", http.scheme(), http.port),
                })
            }
            health_check::Type::Tcp => {
                let tcp = check
                    .tcp
                    .as_ref()
                    .ok_or("Expecting 'tcp' to be set for TCP health check")?;
                let port = u16::try_from(tcp.port).map_err(|_| "TCP port out of range")?;
                Ok(Probe::Tcp { host, port })
            }
            health_check::Type::Unknown => Err("HealthCheck must specify 'type'".into()),
        }
    }

    async fn run(&self, client: &reqwest::Client) -> Result<(), String> {
        match self {
            Probe::Command {
                argv,
                env,
                cwd,
                user,
            } => {
                let mut command = tokio::process::Command::new(&argv[0]);
                if let Some(user) = user {
                    command.uid(user.uid).gid(user.gid);
                }
                let status = command
                    .args(&argv[1..])
                    .env_clear()
                    .envs(env)
                    .current_dir(cwd)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .status()
                    .await
                    .map_err(|e| format!("cannot run the command: {e}"))?;
                match status.code() {
                    Some(0) => Ok(()),
                    _ => Err(format!("Command {status}")),
                }
            }
            Probe::DockerCommand {
                runtime,
                container,
                argv,
                env,
            } => match runtime.exec(container, argv.clone(), env.clone()).await? {
                0 => Ok(()),
                code => Err(format!("Command exited with status {code}")),
            },
            Probe::Http { url } => {
                let response = client.get(url).send().await.map_err(|e| e.to_string())?;
                let code = response.status().as_u16();
                if (200..400).contains(&code) {
                    Ok(())
                } else {
                    Err(format!(
                        "Unexpected HTTP response code: {}",
                        response.status()
                    ))
                }
            }
            Probe::Tcp { host, port } => tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map(drop)
                .map_err(|e| format!("TCP connection failed: {e}")),
        }
    }
}

/// A report for the core: the task's health changed (or it is to be killed).
#[derive(Debug)]
pub struct HealthReport {
    pub key: StreamKey,
    pub container_id: String,
    pub report: Report,
}

/// Stops the task's health checking when dropped.
#[derive(Debug)]
pub struct HealthHandle(tokio::task::AbortHandle);

impl Drop for HealthHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts checking a task that runs now.
pub fn start(
    key: StreamKey,
    container_id: String,
    timing: Timing,
    probe: Probe,
    reports: mpsc::UnboundedSender<HealthReport>,
) -> HealthHandle {
    let span = tracing::info_span!("health_check", task_id = %key.task_id);
    let task = tokio::spawn(
        async move {
            let origin = Instant::now();
            let now_ms = || u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut checker = Checker::new(timing, 0);
            // HTTPS checks do not verify the certificate (Mesos runs `curl -k`).
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .danger_accept_invalid_certs(true)
                .build()
                .expect("an HTTP(S) client builds");
            let mut at = checker.first_check_at();
            loop {
                tokio::time::sleep_until((origin + Duration::from_millis(at)).into()).await;
                let result = match tokio::time::timeout(timing.timeout, probe.run(&client)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("timed out after {:?}", timing.timeout)),
                };
                if let Err(e) = &result {
                    debug!(error = %e, "health check failed");
                }
                if let Some(report) = checker.on_result(result, now_ms()) {
                    let kill = report.kill;
                    let sent = reports.send(HealthReport {
                        key: key.clone(),
                        container_id: container_id.clone(),
                        report,
                    });
                    if sent.is_err() || kill {
                        return;
                    }
                }
                at = checker.next_check_at(now_ms());
            }
        }
        .instrument(span),
    );
    HealthHandle(task.abort_handle())
}
