//! `dcos marathon app|deployment|task ...`: see `mesos_cli::dcos`. Exit status 0 on
//! success, 1 with one `Error: ...` line on stderr on any failure (clap's own usage errors
//! exit 2).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mesos_cli::dcos::{marathon_url, run, Cli, Client};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let config_path = env.get("DCOS_CONFIG").map(PathBuf::from).or_else(|| {
        env.get("HOME")
            .map(|home| PathBuf::from(home).join(".dcos/dcos.toml"))
    });
    let config = config_path.and_then(|p| std::fs::read_to_string(p).ok());
    let client = Client::new(marathon_url(&env, config.as_deref()));
    match run(&client, cli.command).await {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
