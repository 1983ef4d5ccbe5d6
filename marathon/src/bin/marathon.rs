//! `marathon`: parses flags, binds the listener, runs Marathon until Ctrl-C or SIGTERM.

use clap::Parser;
use marathon::Config;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            mesos_common::logging::filter(std::env::var("MARATHON_LOG_LEVEL").ok()),
        ))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = Config::parse();
    if let Err(e) = config
        .validate()
        .and_then(|()| config.store_backend().map(|_| ()))
    {
        eprintln!("marathon: {e}");
        std::process::exit(1);
    }
    if let Some(warning) = marathon::auth::exposure_warning(&config) {
        tracing::warn!("{warning}");
    }
    let addr = config.http_listen_addr();
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("marathon: cannot listen on {addr} (--http_address/--http_port): {e}");
            std::process::exit(1);
        }
    };
    let shutdown = mesos_common::signals::stop_requested();
    if let Err(e) = marathon::run(listener, config, shutdown).await {
        eprintln!("marathon: {e}");
        std::process::exit(1);
    }
}
