//! `mesos <command> [args]`: runs one of its verbs (agent, framework, task) or `mesos-<command>`.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use mesos_cli::dispatch::{available_commands, dispatch, search_path, usage, Dispatch};

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let program = argv.next().unwrap_or_else(|| "mesos".into());
    let args: Vec<String> = argv.collect();
    let own_exe = std::env::current_exe().ok();
    let dirs = search_path(own_exe.as_deref(), std::env::var_os("PATH"));
    let name = std::path::Path::new(&program)
        .file_name()
        .map_or("mesos".into(), |n| n.to_string_lossy().into_owned());
    match dispatch(&args) {
        Dispatch::Usage { ok, error } => {
            if let Some(error) = error {
                eprintln!("{error}");
            }
            let text = usage(&name, &available_commands(&dirs));
            // Asked for, the list is the answer (stdout); otherwise it explains an error.
            if ok {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Dispatch::Verb { verb, args } => match u8::try_from(mesos_cli::verbs::run(&verb, &args)) {
            Ok(code) => ExitCode::from(code),
            Err(_) => ExitCode::FAILURE,
        },
        Dispatch::Run { program, args } => {
            let command = program.trim_start_matches("mesos-").to_string();
            // The child searches our own directory first, like every later lookup it does.
            let path = std::env::join_paths(&dirs).unwrap_or_default();
            let error = Command::new(&program).args(args).env("PATH", path).exec();
            if error.kind() == std::io::ErrorKind::NotFound {
                eprintln!("'{command}' is not a valid command (or can not be found)");
            } else {
                eprintln!("Failed to execute '{command}': {error}");
            }
            ExitCode::FAILURE
        }
    }
}
