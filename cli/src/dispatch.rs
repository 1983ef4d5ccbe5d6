//! `mesos <command> [args]`: runs one of its own verbs ([`crate::verbs`]: agent, framework,
//! task), else the executable `mesos-<command>`, looked up first next to the `mesos` binary
//! itself (an installation directory need not be on PATH), then on PATH.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Executables that look like commands but are not meant to be run through `mesos`.
const HIDDEN: &[&str] = &["slave"];

/// What `mesos` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// Print the usage and the available commands; `ok` says whether that was asked for.
    Usage { ok: bool, error: Option<String> },
    /// Run one of `mesos`'s own verbs with `args`.
    Verb { verb: String, args: Vec<String> },
    /// Run `program` with `args`.
    Run { program: String, args: Vec<String> },
}

/// What the commands found as executables do, for the usage text.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("execute", "Runs a task (or a task group) on the cluster"),
    ("local", "Runs a master, agents and Marathon in one process"),
    ("master", "Runs a Mesos master"),
    ("ps", "Lists the active tasks of the cluster"),
    ("resolve", "Prints the leading master of a ZooKeeper URL"),
    ("sim", "Simulates a large cluster (scale scenarios)"),
];

fn verb(name: &str) -> Option<&'static str> {
    crate::verbs::VERBS
        .iter()
        .find(|(verb, _)| *verb == name)
        .map(|(verb, _)| *verb)
}

/// `mesos-<command>` or the verb `command`, with `args`.
fn command(command: &str, args: Vec<String>) -> Dispatch {
    match verb(command) {
        Some(verb) => Dispatch::Verb {
            verb: verb.to_string(),
            args,
        },
        None => Dispatch::Run {
            program: format!("mesos-{command}"),
            args,
        },
    }
}

/// Decides from the arguments after the program name, as Mesos's `mesos` does:
/// `help` (or `--help`) lists the commands, `help <cmd> [sub]` asks the command for its
/// help, a flag before the command is an error.
pub fn dispatch(args: &[String]) -> Dispatch {
    match args {
        [] => Dispatch::Usage {
            ok: false,
            error: None,
        },
        [help] if ["help", "--help", "-h"].contains(&help.as_str()) => Dispatch::Usage {
            ok: true,
            error: None,
        },
        [help, name, rest @ ..] if help == "help" => {
            let mut args = rest.to_vec();
            args.push("--help".into());
            command(name, args)
        }
        [first, ..] if first.starts_with('-') => Dispatch::Usage {
            ok: false,
            error: Some(format!("Not expecting '{first}' before command")),
        },
        [name, rest @ ..] => command(name, rest.to_vec()),
    }
}

/// The search path: the directory of our own executable first, then `PATH`.
pub fn search_path(own_exe: Option<&Path>, path: Option<OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = own_exe
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    if let Some(path) = path {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// Names of the commands available in `dirs` (`mesos-ps` gives `ps`), sorted.
pub fn available_commands(dirs: &[PathBuf]) -> Vec<String> {
    let mut commands = BTreeSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(command) = name.strip_prefix("mesos-") else {
                continue;
            };
            if command.is_empty() || HIDDEN.contains(&command) {
                continue;
            }
            if is_executable(&entry.path()) {
                commands.insert(command.to_string());
            }
        }
    }
    commands.into_iter().collect()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The usage text: every command `mesos` knows, its own verbs and the executables found
/// (`commands`), each with what it does when that is known.
pub fn usage(program: &str, commands: &[String]) -> String {
    let mut all: std::collections::BTreeMap<&str, &str> = commands
        .iter()
        .map(|c| {
            let description = DESCRIPTIONS.iter().find(|(name, _)| name == c);
            (c.as_str(), description.map_or("", |(_, d)| *d))
        })
        .collect();
    all.extend(crate::verbs::VERBS.iter().copied());
    all.insert(
        "help",
        "Shows this list, or a command's help ('help <command>')",
    );
    let width = all.keys().map(|c| c.len()).max().unwrap_or(0) + 2;
    let mut out = format!("Usage: {program} <command> [OPTIONS]\n\nAvailable commands:\n");
    for (command, description) in all {
        let line = format!("    {command:width$}{description}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nSee '{program} help <command>' or '{program} <command> --help' for more information on a command.\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn decides_like_mesos() {
        assert_eq!(
            dispatch(&args(&[])),
            Dispatch::Usage {
                ok: false,
                error: None
            }
        );
        assert_eq!(
            dispatch(&args(&["help"])),
            Dispatch::Usage {
                ok: true,
                error: None
            }
        );
        assert_eq!(
            dispatch(&args(&["help", "ps"])),
            Dispatch::Run {
                program: "mesos-ps".into(),
                args: args(&["--help"])
            }
        );
        assert_eq!(
            dispatch(&args(&["--help"])),
            Dispatch::Usage {
                ok: true,
                error: None
            }
        );
        assert_eq!(
            dispatch(&args(&["help", "task", "exec"])),
            Dispatch::Verb {
                verb: "task".into(),
                args: args(&["exec", "--help"])
            }
        );
        // `mesos agent` is the verb, never the agent daemon `mesos-agent`.
        assert_eq!(
            dispatch(&args(&["agent", "list"])),
            Dispatch::Verb {
                verb: "agent".into(),
                args: args(&["list"])
            }
        );
        assert_eq!(
            dispatch(&args(&["ps", "--master=127.0.0.1:5050"])),
            Dispatch::Run {
                program: "mesos-ps".into(),
                args: args(&["--master=127.0.0.1:5050"])
            }
        );
        assert!(matches!(
            dispatch(&args(&["--master=x", "ps"])),
            Dispatch::Usage { ok: false, error: Some(e) } if e.contains("--master=x")
        ));
    }

    #[test]
    fn lists_executable_commands() {
        let own = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let make = |dir: &Path, name: &str, mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        make(own.path(), "mesos", 0o755);
        make(own.path(), "mesos-ps", 0o755);
        make(own.path(), "mesos-execute", 0o755);
        make(other.path(), "mesos-ps", 0o755);
        make(other.path(), "mesos-tail", 0o755);
        make(other.path(), "mesos-slave", 0o755);
        make(other.path(), "mesos-notes", 0o644);
        let dirs = search_path(
            Some(&own.path().join("mesos")),
            Some(other.path().as_os_str().to_owned()),
        );
        assert_eq!(dirs[0], own.path());
        assert_eq!(available_commands(&dirs), ["execute", "ps", "tail"]);
        let text = usage("mesos", &available_commands(&dirs));
        assert!(text.starts_with("Usage: mesos <command> [OPTIONS]\n\nAvailable commands:\n"));
        assert!(text.contains("    tail\n"), "{text}");
        for listed in [
            "    agent      Interacts with the Mesos agents\n",
            "    execute    Runs",
            "    help  ",
            "    task  ",
        ] {
            assert!(text.contains(listed), "{listed:?} missing from\n{text}");
        }
    }
}
