// `mesos-agent` (also installed as `mesos-slave`): parse flags, bind, run.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mesos_agent::Config;

fn main() -> ExitCode {
    // The same binary supervises tasks; that mode never returns.
    mesos_agent::supervisor::run_if_requested();
    let args = match mesos_common::flags::prepare_command_line() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("mesos-agent: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::try_parse_from(args) {
        Ok(config) => config,
        Err(e) => e.exit(),
    };
    if let Err(e) = config.validate() {
        eprintln!("mesos-agent: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = init_logging(&config) {
        eprintln!("mesos-agent: {e:#}");
        return ExitCode::from(2);
    }
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("mesos-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::new(mesos_common::logging::filter(
        std::env::var("RUST_LOG").ok(),
    ));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match &config.log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("flag --log_dir: cannot create {}", dir.display()))?;
            let path = dir.join("mesos-agent.log");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("flag --log_dir: cannot open {}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            builder.with_ansi(ansi).with_writer(std::io::stderr).init()
        }
    }
    Ok(())
}

#[tokio::main]
async fn serve(config: Config) -> anyhow::Result<()> {
    let address = std::net::SocketAddr::new(config.ip, config.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    mesos_agent::run(listener, config, mesos_common::signals::stop_requested()).await?;
    Ok(())
}
