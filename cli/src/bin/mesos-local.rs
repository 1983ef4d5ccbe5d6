//! `mesos-local`: a whole cluster in one process: one master and `--num_slaves` agents on
//! consecutive ports, for trying things out and for tests.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, Parser)]
#[command(
    name = "mesos-local",
    version,
    about = "Runs a Mesos master and agents in one process"
)]
struct Flags {
    /// IP address the master and the agents listen on.
    #[arg(long, env = "MESOS_IP", default_value = "127.0.0.1")]
    ip: IpAddr,

    /// Master port; agent N listens on port + 1 + N.
    #[arg(long, env = "MESOS_PORT", default_value_t = 5050)]
    port: u16,

    /// Number of agents.
    #[arg(
        long = "num_slaves",
        alias = "num_agents",
        env = "MESOS_NUM_SLAVES",
        default_value_t = 1
    )]
    num_slaves: u16,

    /// Directory for the master's and the agents' work directories (default: a fresh
    /// temporary directory, removed on exit).
    #[arg(long = "work_dir", env = "MESOS_WORK_DIR")]
    work_dir: Option<PathBuf>,

    /// Resources of each agent (default: detected from the machine).
    #[arg(long, env = "MESOS_RESOURCES")]
    resources: Option<String>,

    /// Port of the embedded Marathon (its state is kept in the work directory).
    #[arg(
        long = "marathon_port",
        env = "MESOS_MARATHON_PORT",
        default_value_t = 8080
    )]
    marathon_port: u16,

    /// Do not start Marathon.
    #[arg(long = "no-marathon")]
    no_marathon: bool,

    /// Containerizers of the agents (default: `docker,mesos` when a Docker daemon answers
    /// on /var/run/docker.sock, else `mesos`).
    #[arg(long, env = "MESOS_CONTAINERIZERS")]
    containerizers: Option<String>,
}

/// How long components get to stop after Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    // Agents start their task supervisors by running this very binary.
    mesos_agent::supervisor::run_if_requested();
    tokio::runtime::Runtime::new()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::new(mesos_common::logging::filter(
        std::env::var("RUST_LOG").ok(),
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let flags = Flags::try_parse_from(mesos_common::flags::prepare_command_line()?)
        .unwrap_or_else(|e| e.exit());
    let agent_ports: Vec<u16> = (0..flags.num_slaves)
        .map(|i| {
            flags
                .port
                .checked_add(1 + i)
                .context("agent port beyond 65535")
        })
        .collect::<anyhow::Result<_>>()?;

    // Kept alive until the end: dropping it removes the directory.
    let temp = match flags.work_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("mesos-local-").tempdir()?),
    };
    let work_dir = match (&flags.work_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory is made when none is given"),
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    };
    let mut components = JoinSet::new();

    let master = format!("{}:{}", flags.ip, flags.port);
    let master_config = mesos_master::Config::try_parse_from([
        "mesos-master".to_string(),
        format!("--ip={}", flags.ip),
        format!("--port={}", flags.port),
        format!("--work_dir={}", work_dir.join("master").display()),
        "--registry=in_memory".to_string(),
    ])?;
    let listener = bind(flags.ip, flags.port).await?;
    let stop = shutdown();
    components.spawn(async move {
        mesos_master::run(listener, master_config, stop)
            .await
            .context("master")
    });

    let containerizers = match &flags.containerizers {
        Some(c) => c.clone(),
        None if docker_answers().await => "docker,mesos".to_string(),
        None => {
            println!(
                "No Docker daemon answers on /var/run/docker.sock: agents run command tasks only (--containerizers=mesos)"
            );
            "mesos".to_string()
        }
    };
    for (i, port) in agent_ports.iter().enumerate() {
        let mut args = vec![
            "mesos-agent".to_string(),
            format!("--master={master}"),
            format!("--ip={}", flags.ip),
            format!("--port={port}"),
            format!(
                "--work_dir={}",
                work_dir.join(format!("agent-{i}")).display()
            ),
        ];
        if let Some(resources) = &flags.resources {
            args.push(format!("--resources={resources}"));
        }
        args.push(format!("--containerizers={containerizers}"));
        let config = mesos_agent::Config::try_parse_from(args)?;
        let listener = bind(flags.ip, *port).await?;
        let stop = shutdown();
        components.spawn(async move {
            mesos_agent::run(listener, config, stop)
                .await
                .with_context(|| format!("agent {i}"))
        });
    }

    let marathon_at = if flags.no_marathon {
        None
    } else {
        let store = work_dir.join("marathon");
        std::fs::create_dir_all(&store)?;
        let config = marathon::Config::try_parse_from([
            "marathon".to_string(),
            "--master".to_string(),
            master.clone(),
            "--http_address".to_string(),
            flags.ip.to_string(),
            "--http_port".to_string(),
            flags.marathon_port.to_string(),
            "--hostname".to_string(),
            flags.ip.to_string(),
            "--disable_ha".to_string(),
            "--internal_store_backend".to_string(),
            "embedded".to_string(),
            "--store_path".to_string(),
            store.join("state.redb").display().to_string(),
            "--reconciliation_initial_delay".to_string(),
            "2000".to_string(),
        ])?;
        let listener = bind(flags.ip, flags.marathon_port).await?;
        let stop = shutdown();
        components.spawn(async move {
            marathon::run(listener, config, stop)
                .await
                .context("marathon")
        });
        Some(format!("{}:{}", flags.ip, flags.marathon_port))
    };

    println!(
        "Mesos local cluster: master at {master}, {} agent(s) on ports {}, work directory {}",
        flags.num_slaves,
        agent_ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(","),
        work_dir.display()
    );

    if let Some(at) = &marathon_at {
        println!("Marathon at http://{at} (POST app definitions to /v2/apps)");
    }
    println!("Agents' containerizers: {containerizers}");

    // Run until Ctrl-C, or until a component stops on its own (which is a failure).
    let early = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        Some(ended) = components.join_next() => Some(ended),
    };
    stop_tx.send_replace(true);
    let mut result = match early {
        None => Ok(()),
        Some(Ok(Ok(()))) => Err(anyhow::anyhow!("a component stopped unexpectedly")),
        Some(Ok(Err(e))) => Err(e),
        Some(Err(join)) => Err(join.into()),
    };
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(ended) = components.join_next().await {
            match ended {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("{e:#}"),
                Err(e) => tracing::warn!("{e}"),
            }
        }
    })
    .await;
    if drained.is_err() {
        result = result.and(Err(anyhow::anyhow!(
            "components did not stop within {SHUTDOWN_GRACE:?}"
        )));
    }
    drop(temp);
    result
}

/// Whether a Docker daemon answers `GET /_ping` on its default socket.
async fn docker_answers() -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut s = tokio::net::UnixStream::connect("/var/run/docker.sock")
            .await
            .ok()?;
        s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .await
            .ok()?;
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).contains(" 200 "))
    };
    tokio::time::timeout(Duration::from_secs(2), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

async fn bind(ip: IpAddr, port: u16) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::new(ip, port);
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}
