//! `mesos-execute`: launches one task and waits for it to end.

use std::process::ExitCode;

use clap::Parser;
use mesos_cli::execute::{run, Flags};

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let args = match mesos_common::flags::prepare_command_line() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let flags = match Flags::try_parse_from(args) {
        Ok(flags) => flags,
        Err(e) => e.exit(),
    };
    // LIBPROCESS_SSL_*: a setting that cannot be used stops here, naming the variable.
    if let Err(e) = mesos_common::tls::process() {
        eprintln!("mesos-execute: {e}");
        return ExitCode::FAILURE;
    }
    match run(flags).await {
        Ok(outcome) => ExitCode::from(outcome.exit_code() as u8),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
