//! Starting, watching and killing command tasks.
//!
//! A task runs under a [supervisor](crate::supervisor) started from the agent's own binary,
//! in the task's sandbox, with the environment [`task_environment`] builds. The agent only
//! keeps pids and files: a task started by an earlier agent process is watched the same way
//! as one started by this process ([`Supervised::adopt`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mesos_proto::v1::{environment::variable, CommandInfo, TaskInfo};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Child;

use crate::paths::{replace_symlink, write_atomic, RunPaths};
use crate::supervisor::{self, ExitStatus};

/// How often an adopted supervisor (not our child) is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(200);

/// Where to find the binary that supervises tasks.
#[derive(Debug, Clone)]
pub struct Launcher {
    supervisor: PathBuf,
}

impl Launcher {
    /// Uses `<launcher_dir>/mesos-agent` when given; else the running binary if it is the
    /// agent; else a `mesos-agent` next to it (or one level up, where cargo puts binaries
    /// relative to test executables); else the running binary, which must then call
    /// [`supervisor::run_if_requested`].
    pub fn locate(launcher_dir: Option<&Path>) -> std::io::Result<Self> {
        if let Some(dir) = launcher_dir {
            return Ok(Self::with_supervisor(dir.join("mesos-agent")));
        }
        let current = std::env::current_exe()?;
        let name = current
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("mesos-agent") || name.starts_with("mesos-slave") {
            return Ok(Self::with_supervisor(current));
        }
        let siblings = current
            .parent()
            .into_iter()
            .flat_map(|dir| [dir.join("mesos-agent"), dir.join("../mesos-agent")]);
        for candidate in siblings {
            if candidate.is_file() {
                return Ok(Self::with_supervisor(candidate));
            }
        }
        Ok(Self::with_supervisor(current))
    }

    pub fn with_supervisor(supervisor: PathBuf) -> Self {
        Launcher { supervisor }
    }

    pub fn supervisor(&self) -> &Path {
        &self.supervisor
    }

    /// Starts `command` for the run, whose sandbox must exist (see [`prepare_sandbox`]), as
    /// `user` when given (see [`crate::users`]): the sandbox becomes the user's and the
    /// supervisor starts the command as the user. A user the system does not know fails
    /// the command (its supervisor records why), as in Mesos.
    pub fn launch(
        &self,
        run: &RunPaths,
        command: &CommandLine,
        env: &BTreeMap<String, String>,
        user: Option<&str>,
    ) -> std::io::Result<Supervised> {
        crate::users::hand_over(&run.sandbox, user);
        let user = user.filter(|name| !crate::users::is_this_process(name));
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(run.sandbox.join(name))
        };
        std::fs::create_dir_all(run.meta.join("pids"))?;
        let child = tokio::process::Command::new(&self.supervisor)
            .args(supervisor::command_line(
                run,
                user,
                &command.program,
                &command.argv,
            ))
            .env_clear()
            .envs(env)
            .current_dir(&run.sandbox)
            .stdin(std::process::Stdio::null())
            .stdout(open("stdout")?)
            .stderr(open("stderr")?)
            // Out of the agent's process group: a Ctrl-C meant for the agent spares tasks.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot start {}: {e}", self.supervisor.display()),
                )
            })?;
        let pid = child.id().unwrap_or_default();
        write_atomic(&run.forked_pid(), pid.to_string().as_bytes())?;
        Ok(Supervised {
            pid,
            child: Some(child),
            run: run.clone(),
        })
    }
}

/// Creates the sandbox with empty `stdout`/`stderr` and points `runs/latest` at it.
pub fn prepare_sandbox(run: &RunPaths) -> std::io::Result<()> {
    std::fs::create_dir_all(&run.sandbox)?;
    for name in ["stdout", "stderr"] {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(run.sandbox.join(name))?;
    }
    if let (Some(runs), Some(container)) = (run.sandbox.parent(), run.sandbox.file_name()) {
        replace_symlink(Path::new(container), &runs.join("latest"))?;
    }
    Ok(())
}

/// The program a task runs and its argument vector (`argv[0]` first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub argv: Vec<String>,
}

impl CommandLine {
    /// `/bin/sh -c <value>` for shell commands (the default); otherwise `value` is the
    /// program and `arguments` its whole argv.
    pub fn from_command(command: &CommandInfo) -> Result<Self, String> {
        let value = command.value.clone().unwrap_or_default();
        if command.shell() {
            if value.trim().is_empty() {
                return Err("Shell command of task is empty".to_string());
            }
            return Ok(CommandLine {
                program: "/bin/sh".to_string(),
                argv: vec!["sh".to_string(), "-c".to_string(), value],
            });
        }
        if value.is_empty() {
            return Err("Non-shell command of task has no executable (value)".to_string());
        }
        let argv = if command.arguments.is_empty() {
            vec![value.clone()]
        } else {
            command.arguments.clone()
        };
        Ok(CommandLine {
            program: value,
            argv,
        })
    }

    /// How Mesos names a command executor's command in `/state`.
    pub fn display(&self) -> String {
        if self.program == "/bin/sh" && self.argv.len() == 3 && self.argv[1] == "-c" {
            format!("sh -c '{}'", self.argv[2])
        } else {
            self.argv.join(" ")
        }
    }
}

/// What the environment of a task is built from.
#[derive(Debug, Clone)]
pub struct EnvContext<'a> {
    pub framework_id: &'a str,
    pub executor_id: &'a str,
    pub sandbox: &'a Path,
    /// `ip:port` of the agent's HTTP endpoint.
    pub agent_endpoint: &'a str,
    pub hostname: &'a str,
}

/// The environment of a task: the agent's own environment without its `MESOS_*` and
/// `LIBPROCESS_*` settings (they configure the agent, not the task), then the variables
/// Mesos gives tasks, the task's ports, and last the task's own `CommandInfo.environment`.
pub fn task_environment<I>(
    inherited: I,
    task: &TaskInfo,
    ctx: &EnvContext<'_>,
) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut env: BTreeMap<String, String> = inherited
        .into_iter()
        .filter(|(k, _)| !k.starts_with("MESOS_") && !k.starts_with("LIBPROCESS_"))
        .collect();
    env.entry("PATH".to_string())
        .or_insert_with(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    env.extend(task_variables(task, ctx));
    env
}

/// The variables Mesos gives every task (`MESOS_*`, `HOST`, `PORT*`), then the task's own
/// `CommandInfo.environment`, which may override them. Containers get only these.
pub fn task_variables(task: &TaskInfo, ctx: &EnvContext<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let sandbox = ctx.sandbox.display().to_string();
    let task_id = task.task_id.value.clone();
    for (key, value) in [
        ("MESOS_TASK_ID", task_id),
        ("MESOS_SANDBOX", sandbox.clone()),
        ("MESOS_DIRECTORY", sandbox),
        ("MESOS_FRAMEWORK_ID", ctx.framework_id.to_string()),
        ("MESOS_EXECUTOR_ID", ctx.executor_id.to_string()),
        ("MESOS_AGENT_ENDPOINT", ctx.agent_endpoint.to_string()),
        ("HOST", ctx.hostname.to_string()),
    ] {
        env.insert(key.to_string(), value);
    }
    let ports = crate::resources::task_ports(&task.resources);
    for (index, port) in ports.iter().enumerate() {
        env.insert(format!("PORT{index}"), port.to_string());
    }
    if let Some(first) = ports.first() {
        env.insert("PORT".to_string(), first.to_string());
        let list: Vec<String> = ports.iter().map(u64::to_string).collect();
        env.insert("PORTS".to_string(), list.join(","));
    }
    let variables = task
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .map(|e| e.variables.as_slice())
        .unwrap_or_default();
    for variable in variables {
        if variable.r#type() == variable::Type::Secret {
            tracing::warn!(name = %variable.name, "secret environment variables are not supported; skipped");
            continue;
        }
        env.insert(
            variable.name.clone(),
            variable.value.clone().unwrap_or_default(),
        );
    }
    env
}

/// A running supervisor, started by this agent process or adopted after a restart.
#[derive(Debug)]
pub struct Supervised {
    pub pid: u32,
    child: Option<Child>,
    run: RunPaths,
}

impl Supervised {
    /// Finds the supervisor of a run checkpointed by an earlier agent process. `None` when
    /// it is gone (or its pid now belongs to another process).
    pub fn adopt(run: &RunPaths) -> Option<Supervised> {
        let pid: u32 = std::fs::read_to_string(run.forked_pid())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        supervisor_alive(pid, run).then(|| Supervised {
            pid,
            child: None,
            run: run.clone(),
        })
    }

    /// Waits until the supervisor is gone; `None` when it left no exit status behind.
    pub async fn wait(mut self) -> Option<ExitStatus> {
        match self.child.as_mut() {
            Some(child) => {
                let _ = child.wait().await;
            }
            None => {
                while supervisor_alive(self.pid, &self.run) && ExitStatus::read(&self.run).is_none()
                {
                    tokio::time::sleep(ADOPTED_POLL).await;
                }
            }
        }
        ExitStatus::read(&self.run)
    }
}

/// Whether `pid` is alive and is the supervisor of this run (pids get reused).
pub fn supervisor_alive(pid: u32, run: &RunPaths) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let meta = run.meta.as_os_str().as_encoded_bytes();
    let is_ours = cmdline.split(|b| *b == 0).any(|arg| arg == meta);
    // A zombie has an empty command line; it is gone for our purposes.
    is_ours && !cmdline.is_empty()
}

/// The pid of the task itself (its process group id), once the supervisor recorded it.
pub fn task_pid(run: &RunPaths) -> Option<i32> {
    std::fs::read_to_string(run.task_pid())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Kills a task: SIGTERM to its process group, then SIGKILL after `grace` if it has not
/// ended. Returns once the signals are sent (not when the task is gone).
pub async fn kill(run: RunPaths, grace: Duration) {
    // Right after a launch the supervisor may not have recorded the task's pid yet.
    let mut pgid = None;
    for _ in 0..500 {
        if ExitStatus::read(&run).is_some() {
            return;
        }
        if let Some(pid) = task_pid(&run) {
            pgid = Some(Pid::from_raw(pid));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let Some(pgid) = pgid else {
        tracing::warn!(run = %run.meta.display(), "no task pid recorded; cannot signal the task");
        return;
    };
    tracing::debug!(
        pgid = pgid.as_raw(),
        "sending SIGTERM to task process group"
    );
    let _ = killpg(pgid, Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if ExitStatus::read(&run).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50).min(grace)).await;
    }
    // The exit status check guards against signalling a reused process group id.
    if ExitStatus::read(&run).is_none() {
        tracing::info!(pgid = pgid.as_raw(), "grace period over; sending SIGKILL");
        let _ = killpg(pgid, Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::{environment::Variable, Environment, TaskId};

    fn ports_resource(ranges: &[(u64, u64)]) -> mesos_proto::v1::Resource {
        use mesos_proto::v1::value;
        mesos_proto::v1::Resource {
            name: "ports".into(),
            r#type: value::Type::Ranges as i32,
            ranges: Some(value::Ranges {
                range: ranges
                    .iter()
                    .map(|&(begin, end)| value::Range { begin, end })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    fn task(command: CommandInfo, resources: Vec<mesos_proto::v1::Resource>) -> TaskInfo {
        TaskInfo {
            name: "t".into(),
            task_id: TaskId { value: "t1".into() },
            command: Some(command),
            resources,
            ..Default::default()
        }
    }

    #[test]
    fn environment_has_mesos_variables_ports_and_task_overrides() {
        let command = CommandInfo {
            value: Some("true".into()),
            environment: Some(Environment {
                variables: vec![
                    Variable {
                        name: "FOO".into(),
                        value: Some("bar".into()),
                        ..Default::default()
                    },
                    Variable {
                        name: "HOST".into(),
                        value: Some("overridden".into()),
                        ..Default::default()
                    },
                ],
            }),
            ..Default::default()
        };
        let task = task(
            command,
            vec![ports_resource(&[(31000, 31001), (31005, 31005)])],
        );
        let sandbox = PathBuf::from("/w/slaves/a/frameworks/f/executors/t1/runs/c");
        let ctx = EnvContext {
            framework_id: "f",
            executor_id: "t1",
            sandbox: &sandbox,
            agent_endpoint: "127.0.0.1:5051",
            hostname: "h1",
        };
        let inherited = [
            ("PATH".to_string(), "/bin".to_string()),
            ("MESOS_MASTER".to_string(), "m:5050".to_string()),
            ("LIBPROCESS_IP".to_string(), "1.2.3.4".to_string()),
            ("LANG".to_string(), "C".to_string()),
        ];
        let env = task_environment(inherited, &task, &ctx);
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get("PATH"), Some("/bin"));
        assert_eq!(get("LANG"), Some("C"));
        assert_eq!(get("MESOS_MASTER"), None);
        assert_eq!(get("LIBPROCESS_IP"), None);
        assert_eq!(get("MESOS_TASK_ID"), Some("t1"));
        assert_eq!(get("MESOS_SANDBOX"), Some(sandbox.to_str().unwrap()));
        assert_eq!(get("MESOS_DIRECTORY"), Some(sandbox.to_str().unwrap()));
        assert_eq!(get("MESOS_FRAMEWORK_ID"), Some("f"));
        assert_eq!(get("MESOS_EXECUTOR_ID"), Some("t1"));
        assert_eq!(get("MESOS_AGENT_ENDPOINT"), Some("127.0.0.1:5051"));
        assert_eq!(get("PORT0"), Some("31000"));
        assert_eq!(get("PORT1"), Some("31001"));
        assert_eq!(get("PORT2"), Some("31005"));
        assert_eq!(get("PORT3"), None);
        assert_eq!(get("PORT"), Some("31000"));
        assert_eq!(get("PORTS"), Some("31000,31001,31005"));
        assert_eq!(get("FOO"), Some("bar"));
        assert_eq!(get("HOST"), Some("overridden"));
    }

    #[test]
    fn environment_without_ports_and_path() {
        let task = task(CommandInfo::default(), vec![]);
        let sandbox = PathBuf::from("/s");
        let ctx = EnvContext {
            framework_id: "f",
            executor_id: "e",
            sandbox: &sandbox,
            agent_endpoint: "a:1",
            hostname: "h",
        };
        let env = task_environment(Vec::new(), &task, &ctx);
        assert!(env.contains_key("PATH"));
        assert!(!env.contains_key("PORT"));
        assert!(!env.contains_key("PORTS"));
        assert_eq!(env["HOST"], "h");
    }

    #[test]
    fn command_lines() {
        let shell = CommandInfo {
            value: Some("echo hi".into()),
            ..Default::default()
        };
        let line = CommandLine::from_command(&shell).unwrap();
        assert_eq!(line.program, "/bin/sh");
        assert_eq!(line.argv, ["sh", "-c", "echo hi"]);
        assert_eq!(line.display(), "sh -c 'echo hi'");

        let direct = CommandInfo {
            shell: Some(false),
            value: Some("/bin/echo".into()),
            arguments: vec!["echo".into(), "a".into(), "b".into()],
            ..Default::default()
        };
        let line = CommandLine::from_command(&direct).unwrap();
        assert_eq!(line.program, "/bin/echo");
        assert_eq!(line.argv, ["echo", "a", "b"]);

        let bare = CommandInfo {
            shell: Some(false),
            value: Some("/bin/true".into()),
            ..Default::default()
        };
        assert_eq!(
            CommandLine::from_command(&bare).unwrap().argv,
            ["/bin/true"]
        );
        assert!(CommandLine::from_command(&CommandInfo::default()).is_err());
    }
}
