//! `mesos-master`: parses flags, binds the listener, runs the master until Ctrl-C.

use std::net::SocketAddr;

use clap::Parser;
use mesos_master::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_LOG_LEVEL")
                // The ZooKeeper client logs every reconnect attempt; keep its warnings only.
                .unwrap_or_else(|_| "info,zookeeper_async=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = match mesos_common::flags::prepare_command_line() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mesos-master: {e}");
            std::process::exit(1);
        }
    };
    let config = Config::try_parse_from(args).unwrap_or_else(|e| e.exit());
    if let Err(e) = config.validate() {
        eprintln!("mesos-master: {e}");
        std::process::exit(1);
    }
    let addr = SocketAddr::new(config.ip, config.port);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mesos-master: cannot listen on {addr} (--ip/--port): {e}");
            std::process::exit(1);
        }
    };
    // SIGINT from a terminal, SIGTERM from systemd: both stop gracefully, which deletes
    // this master's election znode at once instead of after the session timeout.
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    mesos_master::run(listener, config, shutdown).await?;
    Ok(())
}
