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
        warning.log();
    }
    // LIBPROCESS_SSL_* (Marathon's connection to Mesos) must be usable.
    if let Err(e) = mesos_common::tls::process() {
        eprintln!("marathon: {e}");
        std::process::exit(1);
    }
    let bind = |addr: std::net::SocketAddr, flags: &'static str| async move {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("marathon: cannot listen on {addr} ({flags}): {e}");
                std::process::exit(1);
            }
        }
    };
    let mut listeners = marathon::Listeners::default();
    if config.https.http_enabled() {
        listeners.http = bind(config.http_listen_addr(), "--http_address/--http_port").await;
    }
    if config.https.https_enabled() {
        listeners.https = bind(config.https_listen_addr(), "--http_address/--https_port").await;
    }
    let shutdown = mesos_common::signals::stop_requested();
    if let Err(e) = marathon::run_listeners(listeners, config, shutdown).await {
        eprintln!("marathon: {e}");
        std::process::exit(1);
    }
}
