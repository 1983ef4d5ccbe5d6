//! `marathon-lb`: parses flags, checks them, and runs until Ctrl-C or SIGTERM (with
//! `--sse`) or once.

use clap::Parser;
use marathon_lb::Config;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = Config::parse();
    if let Err(e) = config.validate() {
        eprintln!("marathon-lb: {e}");
        std::process::exit(2);
    }
    if let Err(e) = mesos_common::tls::process() {
        eprintln!("marathon-lb: {e}");
        std::process::exit(2);
    }
    let shutdown = mesos_common::signals::stop_requested();
    if let Err(e) = marathon_lb::run(config, shutdown).await {
        eprintln!("marathon-lb: {e}");
        std::process::exit(1);
    }
}
