//! `mesos-init-wrapper [--root DIR] [--dry-run] (master|slave|agent|marathon) [FLAGS...]`:
//! reads the configuration files, checks the result with the program's own flag parser, and
//! execs the program. A configuration error is one line on stderr (the journal, under
//! systemd) and exit status 78.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use mesos_packaging::files::Disk;
use mesos_packaging::{check, plan, Service, EXIT_CONFIG};

const USAGE: &str = "\
usage: mesos-init-wrapper [--root DIR] [--dry-run] (master|slave|agent|marathon) [FLAGS...]

Starts mesos-master, mesos-agent or marathon with flags from:
  /etc/mesos/zk                   ZooKeeper URL: --zk (master), --master (agent, marathon),
                                  and zk://<same servers>/marathon as marathon's --zk
  /etc/default/mesos, /etc/default/mesos-master, /etc/default/mesos-slave,
  /etc/default/marathon           NAME=value lines: MESOS_*/MARATHON_* variables, and
                                  ZK, MASTER, IP, PORT, CLUSTER, LOGS, ISOLATION
  /etc/mesos-master/<flag>, /etc/mesos-slave/<flag>, /etc/marathon/conf/<flag>
                                  --<flag>=<contents>; ?<flag> is --<flag>; no-<flag> is
                                  --<flag>=false; /etc/mesos-slave/{attributes,resources}/<key>
                                  join into --attributes / --resources
  FLAGS on this command line      win over everything above.
Without /etc/mesos/zk the agent and marathon use the master on this host, and marathon
keeps its state in /var/lib/marathon/state.redb.

  --root DIR   read the configuration below DIR instead of /
  --dry-run    check and print the command instead of running it";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let mut root = PathBuf::from("/");
    let mut dry_run = false;
    let service = loop {
        match args.next().as_deref() {
            Some("--root") => match args.next() {
                Some(dir) => root = dir.into(),
                None => return usage("--root needs a directory"),
            },
            Some("--dry-run") => dry_run = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Some(word) => match Service::from_word(word) {
                Some(service) => break service,
                None => return usage(&format!("unknown service '{word}'")),
            },
            None => return usage("which service: master, slave, agent or marathon?"),
        }
    };
    let command_line: Vec<String> = args.collect();
    let inherited: BTreeMap<String, String> = std::env::vars().collect();
    let planned = match plan(service, &Disk { root }, &inherited, &command_line) {
        Ok(planned) => planned,
        Err(e) => return config_error(e),
    };
    for (name, value, _) in &planned.env {
        // Single-threaded here: nothing else reads the environment concurrently.
        std::env::set_var(name, value);
    }
    if let Err(e) = check(&planned) {
        return config_error(e);
    }
    let mut command = std::process::Command::new(service.program());
    command.args(planned.args());
    if dry_run {
        println!("{}", shell_words(service.program(), &planned.args()));
        return ExitCode::SUCCESS;
    }
    let e = command.exec();
    eprintln!("mesos-init-wrapper: cannot run {}: {e}", service.program());
    ExitCode::from(71)
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("mesos-init-wrapper: {problem}\n{USAGE}");
    ExitCode::from(64)
}

fn config_error(e: mesos_packaging::ConfigError) -> ExitCode {
    eprintln!("mesos-init-wrapper: {e}");
    ExitCode::from(EXIT_CONFIG as u8)
}

/// The command as a shell would take it back.
fn shell_words(program: &str, args: &[String]) -> String {
    let quote = |s: &str| {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@[]".contains(c))
        {
            s.to_string()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}
