//! The HAProxy driver: writes a configuration, has `haproxy -c` check it, and reloads
//! HAProxy with it, only when the text differs from the one running.
//!
//! A reload starts a new daemon (`haproxy -f cfg -D -p pidfile -x socket -sf <old pids>`):
//! it takes the listening sockets from the old process over the runtime API socket
//! (`expose-fd listeners`), so no connection waiting in a listen queue is lost, then tells
//! the old processes to stop accepting and finish the connections they have. When the
//! command returns, the new configuration serves. A refused configuration is not loaded:
//! the file goes back to the text that runs, and the old process keeps serving.
//!
//! Before a reload the servers' states (`show servers state` on the runtime API) go to the
//! state file the configuration names (`server-state-file`), and the new process starts
//! its servers from it: a task HAProxy found down (RUNNING but not listening yet, or gone)
//! is not sent traffic again just because the configuration changed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command as Process;

use crate::drain::Command;

/// How a configuration was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The same text already runs.
    Unchanged,
    /// HAProxy runs the new text; the check and reload took this long.
    Reloaded(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("haproxy -c refused the configuration (the previous one keeps serving): {0}")]
    Refused(String),
    #[error("the HAProxy reload failed (the previous configuration keeps serving): {0}")]
    ReloadFailed(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Haproxy {
    pub bin: PathBuf,
    pub config: PathBuf,
    pub pidfile: PathBuf,
    pub socket: PathBuf,
    /// Where the servers' states are saved before a reload (the configuration's
    /// `server-state-file`).
    pub state_file: PathBuf,
    /// `--command`: reloads instead of the built-in daemon handling.
    pub command: Option<String>,
    pub skip_validation: bool,
    /// The text HAProxy runs, once this driver loaded one.
    running: Option<String>,
}

/// Longest a check or reload may take before it counts as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

impl Haproxy {
    pub fn new(
        bin: PathBuf,
        config: PathBuf,
        pidfile: PathBuf,
        socket: PathBuf,
        state_file: PathBuf,
        command: Option<String>,
        skip_validation: bool,
    ) -> Haproxy {
        Haproxy {
            bin,
            config,
            pidfile,
            socket,
            state_file,
            command,
            skip_validation,
            running: None,
        }
    }

    /// Makes HAProxy run `text`.
    pub async fn apply(&mut self, text: &str) -> Result<Applied, DriverError> {
        if self.running.as_deref() == Some(text) {
            return Ok(Applied::Unchanged);
        }
        let started = Instant::now();
        let candidate = self.config.with_extension("cfg.new");
        write(&candidate, text).await?;
        if !self.skip_validation {
            let mut check = Process::new(&self.bin);
            check.arg("-c").arg("-q").arg("-f").arg(&candidate);
            if let Err(why) = run(check).await {
                let _ = tokio::fs::remove_file(&candidate).await;
                return Err(DriverError::Refused(why));
            }
        }
        let previous = tokio::fs::read(&self.config).await.ok();
        tokio::fs::rename(&candidate, &self.config)
            .await
            .map_err(|source| DriverError::Io {
                path: self.config.clone(),
                source,
            })?;
        if let Err(why) = self.reload().await {
            match previous {
                Some(p) => {
                    let _ = tokio::fs::write(&self.config, p).await;
                }
                None => {
                    let _ = tokio::fs::remove_file(&self.config).await;
                }
            }
            return Err(DriverError::ReloadFailed(why));
        }
        self.running = Some(text.to_string());
        Ok(Applied::Reloaded(started.elapsed()))
    }

    async fn reload(&self) -> Result<(), String> {
        self.save_server_state().await;
        if let Some(command) = &self.command {
            let mut sh = Process::new("/bin/sh");
            sh.arg("-c").arg(command);
            return run(sh).await;
        }
        let old = running_pids(&self.pidfile);
        let mut cmd = Process::new(&self.bin);
        cmd.arg("-f")
            .arg(&self.config)
            .arg("-D")
            .arg("-p")
            .arg(&self.pidfile);
        if !old.is_empty() {
            if self.socket.exists() {
                cmd.arg("-x").arg(&self.socket);
            }
            cmd.arg("-sf");
            cmd.args(old.iter().map(|p| p.to_string()));
        }
        run(cmd).await
    }

    /// Writes the running servers' states to the state file (an empty one when HAProxy
    /// does not answer: every server then starts as the configuration says).
    async fn save_server_state(&self) {
        let state = match runtime_api(&self.socket, "show servers state").await {
            Ok(text) => text,
            Err(e) => {
                if self.socket.exists() {
                    tracing::debug!("no server state saved: {e}");
                }
                String::new()
            }
        };
        if let Err(e) = tokio::fs::write(&self.state_file, state).await {
            tracing::warn!("{}: {e}", self.state_file.display());
        }
    }

    /// The HAProxy processes of the pid file that still run.
    pub fn pids(&self) -> Vec<u32> {
        running_pids(&self.pidfile)
    }
}

/// Sends runtime API commands in one exchange (`;` between them). Every command is
/// tried; the answer's complaints (a server not in the running configuration yet, say)
/// come back as the error.
pub async fn set_states(socket: &Path, commands: &[Command]) -> Result<(), String> {
    if commands.is_empty() {
        return Ok(());
    }
    let line = commands
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let answer = runtime_api(socket, &line).await?;
    let complaints: Vec<&str> = answer
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if complaints.is_empty() {
        Ok(())
    } else {
        Err(complaints.join("; "))
    }
}

/// Sends one command to HAProxy's runtime API and returns its answer.
pub async fn runtime_api(socket: &Path, command: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await?;
        stream.write_all(format!("{command}\n").as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<String, std::io::Error>(answer)
    };
    match tokio::time::timeout(RUNTIME_API_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(format!("{}: {e}", socket.display())),
        Err(_) => Err(format!(
            "{}: no answer within {RUNTIME_API_TIMEOUT:?}",
            socket.display()
        )),
    }
}

/// Longest a runtime API command may take.
const RUNTIME_API_TIMEOUT: Duration = Duration::from_secs(5);

async fn write(path: &Path, text: &str) -> Result<(), DriverError> {
    tokio::fs::write(path, text)
        .await
        .map_err(|source| DriverError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Runs `cmd` to its end; its stderr (or stdout) is the reason when it fails.
async fn run(mut cmd: Process) -> Result<(), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("no answer within {COMMAND_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let text = if out.stderr.is_empty() {
        out.stdout
    } else {
        out.stderr
    };
    Err(format!(
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&text).trim()
    ))
}

/// Pids of the pid file whose process is a live `haproxy` (a stale file or a reused pid
/// must not be signalled).
fn running_pids(pidfile: &Path) -> Vec<u32> {
    let Ok(text) = std::fs::read_to_string(pidfile) else {
        return vec![];
    };
    text.split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            comm.trim() == "haproxy" && !zombie
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the haproxy program: records its arguments, fails `-c` when the
    /// candidate holds "BAD", and fails a reload when the file holds "NORELOAD".
    fn fake_haproxy(dir: &Path) -> PathBuf {
        let path = dir.join("fake-haproxy");
        std::fs::write(
            &path,
            "#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/calls\"\n\
             if [ \"$1\" = -c ]; then if grep -q BAD \"$4\"; then echo 'parsing error' >&2; exit 1; fi; exit 0; fi\n\
             if grep -q NORELOAD \"$2\"; then echo 'cannot bind' >&2; exit 1; fi\nexit 0\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn driver(dir: &Path) -> Haproxy {
        Haproxy::new(
            fake_haproxy(dir),
            dir.join("haproxy.cfg"),
            dir.join("haproxy.pid"),
            dir.join("haproxy.sock"),
            dir.join("haproxy.state"),
            None,
            false,
        )
    }

    fn calls(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn reloads_only_changes_and_keeps_the_running_text_when_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = driver(dir.path());
        assert!(matches!(h.apply("one").await, Ok(Applied::Reloaded(_))));
        assert_eq!(h.apply("one").await.unwrap(), Applied::Unchanged);
        assert_eq!(calls(dir.path()).len(), 2, "one check, one start");
        let cfg = dir.path().join("haproxy.cfg");
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "one");

        let e = h.apply("BAD").await.unwrap_err();
        assert!(
            matches!(e, DriverError::Refused(ref why) if why.contains("parsing error")),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "one");
        assert_eq!(calls(dir.path()).len(), 3, "refused: no reload");

        let e = h.apply("NORELOAD").await.unwrap_err();
        assert!(
            matches!(e, DriverError::ReloadFailed(ref why) if why.contains("cannot bind")),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "one");
        // The running text is still "one": applying it again changes nothing.
        assert_eq!(h.apply("one").await.unwrap(), Applied::Unchanged);
        let c = calls(dir.path());
        assert!(c[1].starts_with("-f ") && c[1].contains(" -D -p "), "{c:?}");
    }

    #[test]
    fn stale_pids_are_not_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("p");
        // Our own pid runs, but it is not haproxy; 0 and junk are not pids.
        std::fs::write(&pidfile, format!("{}\n0\nx\n", std::process::id())).unwrap();
        assert!(running_pids(&pidfile).is_empty());
        assert!(running_pids(&dir.path().join("none")).is_empty());
    }
}
