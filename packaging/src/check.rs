//! Checks a [`Plan`] with the program's own flag parser and `validate()`, before the program
//! starts, and turns a rejection into one line naming the file the bad flag came from.
//!
//! The programs reject unknown flags and bad values themselves, but they cannot know which
//! file a flag came from, and clap's messages span several lines. Using the same `Config`
//! types here keeps one definition of every flag: nothing is re-checked by hand.
//!
//! Flags the programs read from their environment (`MESOS_PORT`) are seen through the
//! process environment, so the caller sets the plan's variables before calling [`check`].

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use crate::plan::{ConfigError, Origin, Plan};
use crate::service::Service;

/// `Ok` when the program would accept its flags and environment.
pub fn check(plan: &Plan) -> Result<(), ConfigError> {
    let service = plan.service;
    let mut argv = vec![service.name().to_string()];
    argv.extend(plan.args());
    let verdict = match service {
        Service::Master => mesos_flags(argv).and_then(|args| {
            let config = mesos_master::Config::try_parse_from(args).map_err(clap_message)?;
            config.validate().map_err(|e| Some(e.to_string()))
        }),
        Service::Agent => mesos_flags(argv).and_then(|args| {
            let config = mesos_agent::Config::try_parse_from(args).map_err(clap_message)?;
            config.validate().map_err(|e| Some(e.to_string()))
        }),
        Service::Marathon => marathon::Config::try_parse_from(argv)
            .map_err(clap_message)
            .and_then(|config| {
                config
                    .validate()
                    .and_then(|()| config.store_backend().map(|_| ()))
                    .map_err(|e| Some(e.to_string()))
            }),
    };
    match verdict {
        Ok(()) | Err(None) => Ok(()),
        Err(Some(message)) => Err(ConfigError {
            origin: blame(plan, &message),
            message,
        }),
    }
}

/// Mesos's own rewriting (`--no-name`, `file://` values), as the binaries do it first.
fn mesos_flags(argv: Vec<String>) -> Result<Vec<String>, Option<String>> {
    for (name, value) in
        mesos_common::flags::resolved_env_overrides().map_err(|e| Some(e.to_string()))?
    {
        // The program resolves these again itself; here they only need to be seen by clap.
        std::env::set_var(name, value);
    }
    mesos_common::flags::normalize_args(argv).map_err(|e| Some(e.to_string()))
}

/// One line from clap's error; `None` for `--help` and `--version`, which are not errors.
fn clap_message(e: clap::Error) -> Option<String> {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => None,
        ErrorKind::UnknownArgument => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(arg)) => arg.clone(),
                _ => "?".to_string(),
            };
            Some(format!("unknown flag {arg}"))
        }
        _ => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            Some(first.strip_prefix("error: ").unwrap_or(first).to_string())
        }
    }
}

/// The origin of the first flag the message names (`--port`), or the command line.
fn blame(plan: &Plan, message: &str) -> Origin {
    let mut rest = message;
    while let Some(start) = rest.find("--") {
        let after = &rest[start + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        if let Some(origin) = plan.origin_of(name) {
            return origin.clone();
        }
        rest = &after[end..];
    }
    Origin::CommandLine
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::files::Memory;
    use crate::plan::plan;

    fn checked(service: Service, files: Memory) -> Result<(), ConfigError> {
        check(&plan(service, &files, &BTreeMap::new(), &[]).unwrap())
    }

    #[test]
    fn the_programs_parsers_judge_the_flag_files() {
        let cases = [
            (
                Service::Master,
                Memory::default().with("/etc/mesos-master/port", "abc\n"),
                "/etc/mesos-master/port: invalid value 'abc' for '--port <PORT>': invalid digit found in string",
            ),
            (
                Service::Master,
                Memory::default().with("/etc/mesos-master/no_such_flag", "1"),
                "/etc/mesos-master/no_such_flag: unknown flag --no_such_flag",
            ),
            (
                Service::Master,
                Memory::default().with("/etc/mesos-master/weights", "web"),
                "/etc/mesos-master/weights: invalid flag --weights: 'web' is not role=weight",
            ),
            (
                Service::Agent,
                Memory::default().with("/etc/mesos-slave/containerizers", "lxc"),
                "/etc/mesos-slave/containerizers: flag --containerizers: unknown containerizer 'lxc' (supported: mesos, docker)",
            ),
            (
                Service::Marathon,
                Memory::default().with("/etc/marathon/conf/http_port", "80a"),
                "/etc/marathon/conf/http_port: invalid value '80a' for '--http_port <HTTP_PORT>': invalid digit found in string",
            ),
            (
                Service::Marathon,
                Memory::default().with("/etc/marathon/conf/?frobnicate", ""),
                "/etc/marathon/conf/?frobnicate: unknown flag --frobnicate",
            ),
        ];
        for (service, files, want) in cases {
            let err = checked(service, files).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn good_configurations_pass() {
        let dir = tempfile::tempdir().unwrap();
        let work_dir = dir.path().join("agent");
        let zk = Memory::default().with("/etc/mesos/zk", "zk://127.0.0.1:2181/mesos");
        checked(
            Service::Master,
            zk.clone().with("/etc/mesos-master/port", "5050"),
        )
        .unwrap();
        checked(
            Service::Agent,
            zk.clone()
                .with("/etc/mesos-slave/work_dir", work_dir.to_str().unwrap())
                .with("/etc/mesos-slave/containerizers", "docker,mesos"),
        )
        .unwrap();
        checked(Service::Marathon, zk).unwrap();
        checked(Service::Marathon, Memory::default()).unwrap();
        let help = plan(
            Service::Master,
            &Memory::default(),
            &BTreeMap::new(),
            &["--help".to_string()],
        )
        .unwrap();
        check(&help).unwrap();
    }
}
