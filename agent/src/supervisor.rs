//! The task supervisor: a tiny process between the agent and a task, so that the task does
//! not depend on the agent's lifetime and its exit status survives an agent restart.
//!
//! The agent runs its own binary as
//! `mesos-agent --internal-supervise <run meta dir> -- <program> <argv0> [args...]`, with the task's
//! environment, the sandbox as working directory and the sandbox's `stdout`/`stderr` as
//! output. The supervisor starts the task in a process group of its own, records its pid,
//! waits for it, writes how it ended to `<run meta dir>/exit_status`, and kills whatever
//! the task left behind in its group.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::{write_atomic, RunPaths};

/// First argument that turns the agent binary into a supervisor.
pub const SUPERVISE_FLAG: &str = "--internal-supervise";

/// How a task's process ended, as the supervisor records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    /// Exited with this status code.
    Code(i32),
    /// Terminated by this signal.
    Signal(i32),
    /// Could not be started at all.
    Error(String),
}

impl ExitStatus {
    /// Mesos's wording ("Command exited with status 1", "Command terminated with signal
    /// Killed").
    pub fn describe(&self) -> String {
        match self {
            ExitStatus::Code(code) => format!("Command exited with status {code}"),
            ExitStatus::Signal(signal) => {
                format!("Command terminated with signal {}", signal_name(*signal))
            }
            ExitStatus::Error(error) => format!("Failed to launch command: {error}"),
        }
    }

    pub fn success(&self) -> bool {
        *self == ExitStatus::Code(0)
    }

    /// Reads what a supervisor recorded, if it has.
    pub fn read(run: &RunPaths) -> Option<ExitStatus> {
        let bytes = std::fs::read(run.exit_status()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn write(&self, run: &RunPaths) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).expect("exit status serializes");
        write_atomic(&run.exit_status(), &json)
    }
}

/// Descriptions as strsignal(3) gives them on Linux.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGILL => "Illegal instruction",
        libc::SIGTRAP => "Trace/breakpoint trap",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGFPE => "Floating point exception",
        libc::SIGKILL => "Killed",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGUSR2 => "User defined signal 2",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGALRM => "Alarm clock",
        libc::SIGTERM => "Terminated",
        _ => return format!("Unknown signal {signal}"),
    };
    name.to_string()
}

/// Arguments that make the agent binary supervise `program` for the run; `argv` is the
/// task's full argument vector, its first element being the task's `argv[0]`.
pub fn command_line(run: &RunPaths, program: &str, argv: &[String]) -> Vec<OsString> {
    let mut line: Vec<OsString> = vec![
        SUPERVISE_FLAG.into(),
        run.meta.clone().into_os_string(),
        "--".into(),
        program.into(),
    ];
    line.extend(argv.iter().map(OsString::from));
    line
}

/// If this process was started as a supervisor, supervises and exits; otherwise returns.
/// Every binary that embeds the agent (`mesos-agent`, `mesos-local`) calls this first.
pub fn run_if_requested() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).map(|a| a == SUPERVISE_FLAG) != Some(true) {
        return;
    }
    let code = match parse_args(&args[2..]) {
        Some((meta, program, rest)) => supervise(&meta, &program, &rest),
        None => {
            eprintln!("usage: {SUPERVISE_FLAG} <run meta dir> -- <program> <argv0> [args...]");
            2
        }
    };
    std::process::exit(code);
}

fn parse_args(args: &[OsString]) -> Option<(PathBuf, OsString, Vec<OsString>)> {
    let (meta, rest) = args.split_first()?;
    let (separator, rest) = rest.split_first()?;
    if separator != "--" {
        return None;
    }
    let (program, argv) = rest.split_first()?;
    if argv.is_empty() {
        return None;
    }
    Some((PathBuf::from(meta), program.clone(), argv.to_vec()))
}

fn supervise(meta: &Path, program: &OsString, argv: &[OsString]) -> i32 {
    let run = RunPaths {
        meta: meta.to_path_buf(),
        sandbox: PathBuf::new(),
    };
    let spawned = std::process::Command::new(program)
        .arg0(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let status = ExitStatus::Error(format!("{}: {e}", program.to_string_lossy()));
            eprintln!("{}", status.describe());
            return record(&run, &status);
        }
    };
    let pid = child.id();
    if let Err(e) = write_atomic(&run.task_pid(), pid.to_string().as_bytes()) {
        // Without the pid file the agent cannot signal the task; better to fail it now.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
        return record(
            &run,
            &ExitStatus::Error(format!("cannot record task pid: {e}")),
        );
    }
    let status = match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal(signal),
            (None, None) => ExitStatus::Error("unknown wait status".to_string()),
        },
        Err(e) => ExitStatus::Error(format!("cannot wait for the task: {e}")),
    };
    // Leftovers of the task (background children) end with it, as in a Mesos container.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    record(&run, &status)
}

fn record(run: &RunPaths, status: &ExitStatus) -> i32 {
    match status.write(run) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "cannot record exit status in {}: {e}",
                run.exit_status().display()
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_match_mesos() {
        assert_eq!(
            ExitStatus::Code(0).describe(),
            "Command exited with status 0"
        );
        assert_eq!(
            ExitStatus::Code(3).describe(),
            "Command exited with status 3"
        );
        assert_eq!(
            ExitStatus::Signal(9).describe(),
            "Command terminated with signal Killed"
        );
        assert_eq!(
            ExitStatus::Signal(15).describe(),
            "Command terminated with signal Terminated"
        );
    }

    #[test]
    fn exit_status_round_trips_through_json() {
        for status in [
            ExitStatus::Code(1),
            ExitStatus::Signal(15),
            ExitStatus::Error("no such file".into()),
        ] {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(serde_json::from_str::<ExitStatus>(&json).unwrap(), status);
        }
        assert_eq!(
            serde_json::to_string(&ExitStatus::Code(0)).unwrap(),
            r#"{"code":0}"#
        );
    }

    #[test]
    fn argument_parsing() {
        let run = RunPaths {
            meta: PathBuf::from("/m"),
            sandbox: PathBuf::from("/s"),
        };
        let line = command_line(
            &run,
            "/bin/sh",
            &["sh".into(), "-c".into(), "echo hi".into()],
        );
        let (meta, program, argv) = parse_args(&line[1..]).unwrap();
        assert_eq!(meta, PathBuf::from("/m"));
        assert_eq!(program, "/bin/sh");
        assert_eq!(argv, ["sh", "-c", "echo hi"]);
        assert!(parse_args(&["/m".into(), "x".into()]).is_none());
        assert!(parse_args(&["/m".into(), "--".into(), "/bin/true".into()]).is_none());
    }
}
