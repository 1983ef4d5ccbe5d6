//! `mesos-ps --master=host:port`: the cluster's active tasks.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mesos_cli::ps::{fetch_state, format_table, Flags};

#[tokio::main]
async fn main() -> ExitCode {
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
        eprintln!("mesos-ps: {e}");
        return ExitCode::FAILURE;
    }
    if !(flags.timeout.is_finite() && flags.timeout > 0.0) {
        eprintln!("Expecting --timeout to be a positive number of seconds");
        return ExitCode::FAILURE;
    }
    match fetch_state(&flags.master, Duration::from_secs_f64(flags.timeout)).await {
        Ok(state) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            print!("{}", format_table(&state, now));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
