//! The task supervisor: a tiny process between the agent and a task, so that the task does
//! not depend on the agent's lifetime and its exit status survives an agent restart.
//!
//! The agent runs its own binary as
//! `mesos-agent --internal-supervise <run meta dir> -- <program> <argv0> [args...]`, with the task's
//! environment, the sandbox as working directory and the sandbox's `stdout`/`stderr` as
//! output. The supervisor starts the task in a process group of its own, records its pid,
//! waits for it, writes how it ended to `<run meta dir>/exit_status`, and kills whatever
//! the task left behind in its group.
//!
//! With `--user <name>` (the agent switches users, see [`crate::users`]) the task is
//! started through the same binary once more, as `--internal-run-as <name> <error file> --
//! <program> <argv0> [args...]`: that process takes on the user's uid, gid and groups and
//! then becomes the task (exec), so the task keeps the pid and process group the
//! supervisor gave it, and the supervisor itself stays root to record the exit.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths::{write_atomic, RunPaths};

/// First argument that turns the agent binary into a supervisor.
pub const SUPERVISE_FLAG: &str = "--internal-supervise";

/// First argument that turns the agent binary into a task that first becomes its user.
const RUN_AS_FLAG: &str = "--internal-run-as";

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

/// Arguments that make the agent binary supervise `program` for the run, as `user` when
/// given; `argv` is the task's full argument vector, its first element being the task's
/// `argv[0]`.
pub fn command_line(
    run: &RunPaths,
    user: Option<&str>,
    program: &str,
    argv: &[String],
) -> Vec<OsString> {
    let mut line: Vec<OsString> = vec![SUPERVISE_FLAG.into(), run.meta.clone().into_os_string()];
    if let Some(user) = user {
        line.extend(["--user".into(), user.into()]);
    }
    line.extend(["--".into(), program.into()]);
    line.extend(argv.iter().map(OsString::from));
    line
}

/// What a supervisor is asked to run.
#[derive(Debug, PartialEq)]
struct Supervise {
    meta: PathBuf,
    user: Option<OsString>,
    program: OsString,
    argv: Vec<OsString>,
}

/// If this process was started as a supervisor, supervises and exits; otherwise returns.
/// Every binary that embeds the agent (`mesos-agent`, `mesos-local`) calls this first.
pub fn run_if_requested() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let code = match args.get(1).and_then(|a| a.to_str()) {
        Some(SUPERVISE_FLAG) => match parse_args(&args[2..]) {
            Some(request) => supervise(&request),
            None => {
                eprintln!(
                    "usage: {SUPERVISE_FLAG} <run meta dir> [--user <name>] -- <program> <argv0> [args...]"
                );
                2
            }
        },
        Some(RUN_AS_FLAG) => match &args[2..] {
            [user, error_file, separator, program, argv @ ..]
                if separator == "--" && !argv.is_empty() =>
            {
                run_as(user, Path::new(error_file), program, argv)
            }
            _ => {
                eprintln!(
                    "usage: {RUN_AS_FLAG} <user> <error file> -- <program> <argv0> [args...]"
                );
                2
            }
        },
        _ => return,
    };
    std::process::exit(code);
}

fn parse_args(args: &[OsString]) -> Option<Supervise> {
    let (meta, mut rest) = args.split_first()?;
    let mut user = None;
    if rest.first().is_some_and(|a| a == "--user") {
        user = Some(rest.get(1)?.clone());
        rest = &rest[2..];
    }
    let (separator, rest) = rest.split_first()?;
    if separator != "--" {
        return None;
    }
    let (program, argv) = rest.split_first()?;
    if argv.is_empty() {
        return None;
    }
    Some(Supervise {
        meta: PathBuf::from(meta),
        user,
        program: program.clone(),
        argv: argv.to_vec(),
    })
}

/// Becomes `user` (groups, gid, uid, as Mesos's launcher does) and then the task. Returns
/// only on failure, having written why to `error_file` (opened while still root; closed
/// by a successful exec, so it stays empty then).
fn run_as(user: &OsString, error_file: &Path, program: &OsString, argv: &[OsString]) -> i32 {
    use std::io::Write;
    let mut report = std::fs::File::create(error_file).ok();
    let mut fail = |message: String, code: i32| {
        eprintln!("{message}");
        if let Some(file) = report.as_mut() {
            let _ = file.write_all(message.as_bytes());
        }
        code
    };
    let name = user.to_string_lossy().into_owned();
    let found = nix::unistd::User::from_name(&name).ok().flatten();
    let Some(found) = found else {
        return fail(crate::users::UserError::NotFound(name).to_string(), 1);
    };
    let switched = std::ffi::CString::new(name.clone())
        .map_err(|_| nix::errno::Errno::EINVAL)
        .and_then(|c_name| nix::unistd::initgroups(&c_name, found.gid))
        .and_then(|()| nix::unistd::setgid(found.gid))
        .and_then(|()| nix::unistd::setuid(found.uid));
    if let Err(e) = switched {
        return fail(format!("Failed to change user to '{name}': {e}"), 1);
    }
    let error = std::process::Command::new(program)
        .arg0(&argv[0])
        .args(&argv[1..])
        .exec();
    fail(format!("{}: {error}", program.to_string_lossy()), 127)
}

fn supervise(request: &Supervise) -> i32 {
    let run = RunPaths {
        meta: request.meta.clone(),
        sandbox: PathBuf::new(),
    };
    let (program, argv) = (&request.program, &request.argv);
    let mut command = match &request.user {
        None => {
            let mut command = std::process::Command::new(program);
            command.arg0(&argv[0]).args(&argv[1..]);
            command
        }
        Some(user) => match std::env::current_exe() {
            Ok(exe) => {
                let mut command = std::process::Command::new(exe);
                command
                    .arg(RUN_AS_FLAG)
                    .arg(user)
                    .arg(run.launch_error())
                    .arg("--")
                    .arg(program)
                    .args(argv);
                command
            }
            Err(e) => return record(&run, &ExitStatus::Error(format!("cannot find myself: {e}"))),
        },
    };
    let spawned = command
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
    // The task could not become its user, or not start as it.
    let status = match std::fs::read_to_string(run.launch_error()) {
        Ok(error) if !error.is_empty() => ExitStatus::Error(error),
        _ => status,
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
        let argv: Vec<String> = vec!["sh".into(), "-c".into(), "echo hi".into()];
        let line = command_line(&run, None, "/bin/sh", &argv);
        let request = parse_args(&line[1..]).unwrap();
        assert_eq!(request.meta, PathBuf::from("/m"));
        assert_eq!(request.user, None);
        assert_eq!(request.program, "/bin/sh");
        assert_eq!(request.argv, ["sh", "-c", "echo hi"]);
        let line = command_line(&run, Some("nobody"), "/bin/sh", &argv);
        let request = parse_args(&line[1..]).unwrap();
        assert_eq!(request.user, Some("nobody".into()));
        assert_eq!(request.argv, ["sh", "-c", "echo hi"]);
        assert!(parse_args(&["/m".into(), "x".into()]).is_none());
        assert!(parse_args(&["/m".into(), "--".into(), "/bin/true".into()]).is_none());
        assert!(parse_args(&["/m".into(), "--user".into()]).is_none());
    }
}
