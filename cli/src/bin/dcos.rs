//! `dcos marathon ...`, `dcos node`, `dcos service`, `dcos task [log]`: see
//! `mesos_cli::dcos`. Exit status 0 on success, 1 with one `Error: ...` line on stderr on
//! any failure, a bad command line included (`--help` and `--version` exit 0).

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;
use mesos_cli::dcos::config::config_path;
use mesos_cli::dcos::{run, Cli, Context};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("Error: a command is missing (see --help)");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            // clap's first line, without its own `error: ` prefix; the usage it would
            // print after it is what `--help` shows.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            eprintln!("Error: {}", first.trim_start_matches("error: "));
            return ExitCode::FAILURE;
        }
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    // A config file named by DCOS_CONFIG must be readable; the default one may be absent.
    let config = match config_path(&env) {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if env.contains_key("DCOS_CONFIG") => {
                eprintln!(
                    "Error: Can't read the config file {} (DCOS_CONFIG): {e}",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
            Err(_) => None,
        },
        None => None,
    };
    let ctx = Context::new(&env, config.as_deref());
    match run(&ctx, cli.command, &mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
