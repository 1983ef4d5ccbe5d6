//! Child processes: where the binaries are, which ports are free, and a handle that logs to
//! files, survives kill -9 and restart, and prints its log tail when a test fails.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;

/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 80;

/// Directory holding the workspace binaries: `target/<profile>/`, the parent of the `deps/`
/// directory the test executable runs from. `CLUSTER_TESTS_BIN_DIR` overrides it. (Not a
/// `MESOS_*` name: the binaries read those as flags.)
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLUSTER_TESTS_BIN_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("cannot find the test executable");
    let dir = exe.parent().expect("the test executable has a directory");
    if dir.file_name() == Some("deps".as_ref()) {
        dir.parent().expect("deps/ has a parent").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Path of a workspace binary; panics with the build command when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    if !path.is_file() {
        panic!(
            "binary `{name}` not found at {}: build all binaries first with \
             `cargo build --workspace --bins` (same profile and CARGO_TARGET_DIR as the tests), \
             or point CLUSTER_TESTS_BIN_DIR at the directory holding them",
            path.display()
        );
    }
    path
}

/// Ports handed out by this process, so parallel tests in one binary never share one.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that is free right now. Chosen at random below the kernel's ephemeral
/// range (32768+), so outgoing connections do not take it between now and the bind, and
/// away from the agents' task ports (31000+).
pub fn free_port() -> u16 {
    let mut guard = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let handed_out = guard.get_or_insert_with(HashSet::new);
    let mut rng = rand::thread_rng();
    for _ in 0..10_000 {
        let port = rng.gen_range(20_000..30_000);
        if handed_out.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("no free loopback port found in 20000..30000");
}

/// A child process started from a binary with fixed arguments. Its stdout and stderr go to
/// `<log_dir>/<name>.stdout` / `.stderr` (appended across restarts). Killed on drop; when the
/// drop happens during a panic, the tail of both logs is printed.
pub struct Proc {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log_dir: PathBuf,
    child: Option<Child>,
    exit: Option<ExitStatus>,
}

impl Proc {
    /// Starts `program` with `args`; panics when it cannot be started at all.
    pub fn spawn(name: &str, program: &Path, args: Vec<String>, log_dir: &Path) -> Proc {
        Self::spawn_with_env(name, program, args, Vec::new(), log_dir)
    }

    /// Like [`Proc::spawn`] with extra environment variables.
    pub fn spawn_with_env(
        name: &str,
        program: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        log_dir: &Path,
    ) -> Proc {
        let mut proc = Proc {
            name: name.to_string(),
            program: program.to_path_buf(),
            args,
            envs,
            log_dir: log_dir.to_path_buf(),
            child: None,
            exit: None,
        };
        proc.start();
        proc
    }

    fn start(&mut self) {
        let open = |path: PathBuf| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("cannot open log {}: {e}", path.display()))
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(open(self.stdout_path()))
            .stderr(open(self.stderr_path()));
        // The binaries read MESOS_<FLAG> as flags: whatever the developer's shell exports
        // must not leak into the cluster under test.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MESOS_") {
                cmd.env_remove(key);
            }
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({}): {e}",
                self.name,
                self.program.display()
            )
        });
        self.child = Some(child);
        self.exit = None;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn stdout_path(&self) -> PathBuf {
        self.log_dir.join(format!("{}.stdout", self.name))
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.log_dir.join(format!("{}.stderr", self.name))
    }

    /// Everything the process wrote to stdout so far (all runs).
    pub fn stdout(&self) -> String {
        fs::read_to_string(self.stdout_path()).unwrap_or_default()
    }

    /// Everything the process wrote to stderr so far (all runs).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// The last `lines` lines of stdout and stderr, labelled, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let tail = |text: String| {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        };
        format!(
            "----- {name} stdout ({out}) -----\n{}\n----- {name} stderr ({err}) -----\n{}\n",
            tail(self.stdout()),
            tail(self.stderr()),
            name = self.name,
            out = self.stdout_path().display(),
            err = self.stderr_path().display(),
        )
    }

    /// SIGKILL and reap. A no-op when the process is not running.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            self.exit = child.wait().ok();
        }
    }

    /// Kills the process (if running) and starts it again with the same arguments, so the
    /// same ports and work_dir.
    pub fn restart(&mut self) {
        self.kill9();
        for path in [self.stdout_path(), self.stderr_path()] {
            if let Ok(mut file) = OpenOptions::new().append(true).open(path) {
                let _ = writeln!(file, "===== mesos-tests: restarting {} =====", self.name);
            }
        }
        self.start();
    }

    /// The exit status once the process has exited (reaping it), `None` while it runs.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                self.exit = Some(status);
                self.child = None;
            }
        }
        if self.child.is_none() {
            self.exit
        } else {
            None
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none() && self.child.is_some()
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if self.child.is_none() || tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail(TAIL_LINES));
        }
    }
}

/// Result of a one-shot command.
#[derive(Debug)]
pub struct CommandOutput {
    /// `None` when the command was killed because it did not finish in time.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// stdout then stderr, for searching and for failure messages.
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for CommandOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {:?}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion (killing it after `timeout`), with the same environment
/// hygiene as [`Proc`] plus `envs`.
pub async fn run_command(
    program: &Path,
    args: &[String],
    envs: &[(String, String)],
    timeout: Duration,
) -> CommandOutput {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MESOS_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(envs.iter().map(|(k, v)| (k, v)));
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => CommandOutput {
            status: Some(output.status),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("waiting for {} failed: {e}", program.display()),
        // The future owned the child; dropping it killed the process (kill_on_drop).
        Err(_) => CommandOutput {
            status: None,
            stdout: String::new(),
            stderr: format!("<killed after {timeout:?}; output lost>"),
        },
    }
}

/// SIGKILLs every process whose working directory or environment lies under `root`: the
/// tasks an agent started there, which live in their own process groups and outlive an
/// agent killed with -9.
pub fn kill_processes_under(root: &Path) {
    let me = std::process::id();
    let root_text = root.to_string_lossy().into_owned();
    let root_slash = format!("{root_text}/");
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 == me {
            continue;
        }
        let in_cwd =
            fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(root));
        let in_env = fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
            env.split(|&b| b == 0)
                .map(String::from_utf8_lossy)
                .any(|var| var.contains(&root_slash) || var.ends_with(&root_text))
        });
        if in_cwd || in_env {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// What `sh -c cmd` prints on stdout, trimmed (empty when it cannot run): facts about the
/// machine for the benchmark reports.
pub fn shell_output(cmd: &str) -> String {
    std::process::Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
