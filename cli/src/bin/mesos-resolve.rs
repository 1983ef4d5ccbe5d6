//! `mesos-resolve <master>`: prints the leading master as `ip:port`.
//!
//! `<master>` is a `zk://host:port,.../path` URL (or `file:///path` holding one), whose
//! election is read as Mesos masters write it, or a plain `host:port`, printed as given.
//! Exits non-zero with a message when no master is elected within `--timeout`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mesos_cli::scheduler::MasterAddress;
use mesos_common::flags::{duration_arg, format_duration};
use mesos_common::zk::{self, LeaderDetector, ZkUrl};

#[derive(Debug, Parser)]
#[command(
    name = "mesos-resolve",
    version,
    about = "Prints the leading Mesos master as ip:port"
)]
struct Flags {
    /// `zk://host:port,.../path`, `file:///path` holding such a URL, or `host:port`.
    master: String,

    /// How long to wait for a leading master.
    #[arg(long = "timeout", default_value = "5secs", value_parser = duration_arg)]
    timeout: Duration,

    /// Log what the detector does (to stderr).
    #[arg(long = "verbose")]
    verbose: bool,
}

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
        eprintln!("mesos-resolve: {e}");
        return ExitCode::FAILURE;
    }
    let filter = if flags.verbose {
        "info"
    } else {
        // The ZooKeeper client logs every failed connection attempt; the answer (or the
        // one line saying why there is none) is what this tool prints.
        "off"
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();

    let master = flags.master.trim();
    if !master.starts_with("zk://") && !master.starts_with("file://") {
        return match MasterAddress::parse(master) {
            Ok(address) => {
                println!("{address}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("Failed to create a master detector for '{master}': {e}");
                ExitCode::FAILURE
            }
        };
    }
    let url = match ZkUrl::parse(master) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("Failed to create a master detector for '{master}': {e}");
            return ExitCode::FAILURE;
        }
    };
    let detector = LeaderDetector::start(url.clone(), flags.timeout.max(Duration::from_secs(1)));
    match detector.leader_within(flags.timeout).await {
        Some(leader) => {
            println!("{}", zk::master_endpoint(&leader));
            ExitCode::SUCCESS
        }
        None => {
            let why = match detector.current() {
                zk::Detected::Unknown => "ZooKeeper did not answer",
                _ => "no master is elected",
            };
            eprintln!(
                "Failed to detect a master from '{url}' within {}: {why}",
                format_duration(flags.timeout)
            );
            ExitCode::FAILURE
        }
    }
}
