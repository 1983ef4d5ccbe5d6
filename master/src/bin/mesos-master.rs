//! `mesos-master`: parses flags, binds the listener, runs the master until Ctrl-C.

use std::net::SocketAddr;

use clap::Parser;
use mesos_master::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            mesos_common::logging::filter(std::env::var("MESOS_LOG_LEVEL").ok()),
        ))
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
    let shutdown = mesos_common::signals::stop_requested();
    return_free_memory_periodically();
    mesos_master::run(listener, config, shutdown).await?;
    Ok(())
}

/// glibc's malloc returns freed memory to the system only from the top of each heap; what a
/// burst of launches frees in the middle stays resident. With 50,000 agents and 100,000
/// tasks that was 100-200 MiB of a ~1.2 GiB RSS (issue 6, scenario d). A thread of its own
/// hands it back every second with `malloc_trim(0)`: well under a millisecond when little
/// was freed, up to ~200 ms after a burst of 100,000 launches, during which only a thread
/// allocating from the arena being trimmed waits.
fn return_free_memory_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            // SAFETY: malloc_trim only takes glibc's own arena locks; it is safe to call
            // from any thread at any time.
            unsafe {
                libc::malloc_trim(0);
            }
        })
        .expect("cannot start the malloc-trim thread");
}
