//! `docker exec` through the Engine API: a command run in a task's running container,
//! attached to its stdin, stdout and stderr (or to one TTY), which is how a Docker task
//! gets its nested containers ([`crate::nested`]) and runs its COMMAND health checks.

use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::runtime::{daemon_text, DockerRuntime};

/// How long the daemon gets to mark an exec whose output ended as no longer running.
const EXIT_SETTLE: Duration = Duration::from_secs(5);
const EXIT_POLL: Duration = Duration::from_millis(20);

/// A chunk of an exec's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// An exec started and attached.
pub struct StartedExec {
    pub exec_id: String,
    /// Its output until the process ends; with a TTY, all of it is stdout.
    pub output: Pin<Box<dyn Stream<Item = Result<ExecOutput, String>> + Send>>,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

impl DockerRuntime {
    /// Runs `argv` inside a running container (with `env` added to the container's) and
    /// waits for its exit code: how COMMAND health checks of Docker tasks run.
    pub async fn exec(
        &self,
        container: &str,
        argv: Vec<String>,
        env: Vec<String>,
    ) -> Result<i64, String> {
        let failed = |e: String| format!("cannot exec in the container: {e}");
        let mut started = self
            .attach_exec(container, argv, env, false)
            .await
            .map_err(failed)?;
        // Its stdin is at its end from the start; the exit code is known once the output ends.
        let _ = started.input.shutdown().await;
        while let Some(Ok(_)) = started.output.next().await {}
        self.exec_exit_code(&started.exec_id)
            .await
            .ok_or_else(|| "the exec has no exit code".to_string())
    }

    /// Starts `cmd` in the running container `container`, with `env` added to the
    /// container's environment, attached to its stdin, stdout and stderr. Err: the
    /// daemon's words.
    pub async fn attach_exec(
        &self,
        container: &str,
        cmd: Vec<String>,
        env: Vec<String>,
        tty: bool,
    ) -> Result<StartedExec, String> {
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(tty),
                    env: Some(env),
                    cmd: Some(cmd),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| daemon_text(&e))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| daemon_text(&e))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err("the daemon started the exec detached".to_string());
        };
        let output = output.filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok(ExecOutput::Stdout(message)))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(daemon_text(&e))),
            }
        });
        Ok(StartedExec {
            exec_id: created.id,
            output: Box::pin(output),
            input,
        })
    }

    /// Sets the window size of an exec's TTY.
    pub async fn resize_exec(&self, exec_id: &str, rows: u16, columns: u16) -> Result<(), String> {
        self.docker
            .resize_exec(
                exec_id,
                ResizeExecOptions {
                    height: rows,
                    width: columns,
                },
            )
            .await
            .map_err(|e| format!("Unable to set the window size: {}", daemon_text(&e)))
    }

    /// The exit code of an exec whose output has ended (None when the daemon cannot say).
    pub async fn exec_exit_code(&self, exec_id: &str) -> Option<i64> {
        let deadline = tokio::time::Instant::now() + EXIT_SETTLE;
        loop {
            match self.docker.inspect_exec(exec_id).await {
                Ok(inspected) if inspected.running != Some(true) => return inspected.exit_code,
                Ok(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(EXIT_POLL).await
                }
                Ok(_) => return None,
                Err(e) => {
                    tracing::debug!(error = %daemon_text(&e), "cannot inspect the exec");
                    return None;
                }
            }
        }
    }

    /// The host pid of a running exec's process.
    pub async fn exec_pid(&self, exec_id: &str) -> Option<i32> {
        let inspected = self.docker.inspect_exec(exec_id).await.ok()?;
        match (inspected.running, inspected.pid) {
            (Some(true), Some(pid)) if pid > 0 => i32::try_from(pid).ok(),
            _ => None,
        }
    }
}
