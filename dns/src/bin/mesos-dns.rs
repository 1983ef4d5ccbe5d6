//! `mesos-dns`: reads the Mesos-DNS configuration file (`-config=<file>`, default
//! `config.json`), applies flag overrides, binds the DNS and HTTP listeners and serves
//! until SIGINT or SIGTERM. Flags are written Go-style (`-config=x`) or GNU-style
//! (`--config=x`); a bad flag or configuration stops it at once with a message naming it.

use clap::Parser;
use mesos_dns::config::{resolv_conf_nameservers, Config};

#[derive(Parser, Debug)]
#[command(
    name = "mesos-dns",
    about = "DNS names for the tasks of a Mesos cluster"
)]
struct Flags {
    /// Path to the configuration file (JSON, Mesos-DNS's keys).
    #[arg(long, default_value = "config.json")]
    config: String,
    /// Print the version and exit.
    #[arg(long)]
    version: bool,
    /// Verbose logging (`-v`); `-vv` for very verbose.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// Override `port` (DNS, UDP and TCP).
    #[arg(long)]
    port: Option<u16>,
    /// Override `httpport`.
    #[arg(long)]
    httpport: Option<u16>,
    /// Override `listener` (DNS address).
    #[arg(long)]
    listener: Option<String>,
    /// Override `httplistener`.
    #[arg(long)]
    httplistener: Option<String>,
    /// Override `zk` (`zk://host:port/mesos`).
    #[arg(long)]
    zk: Option<String>,
    /// Override `masters` (comma-separated `host:port`).
    #[arg(long, value_delimiter = ',')]
    masters: Option<Vec<String>>,
    /// Override `domain`.
    #[arg(long)]
    domain: Option<String>,
    /// Override `ttl` (seconds).
    #[arg(long)]
    ttl: Option<i32>,
    /// Override `resolvers` (comma-separated; empty turns forwarding to resolv.conf's).
    #[arg(long, value_delimiter = ',')]
    resolvers: Option<Vec<String>>,
}

/// Go's flag package takes `-name=value` for long names; clap wants `--name=value`.
fn go_style(args: impl Iterator<Item = String>) -> Vec<String> {
    args.enumerate()
        .map(|(i, arg)| {
            let long = arg.len() > 2 && arg.starts_with('-') && !arg.starts_with("--");
            let verbosity = arg.trim_start_matches('-').chars().all(|c| c == 'v');
            if i > 0 && long && !verbosity {
                format!("-{arg}")
            } else {
                arg
            }
        })
        .collect()
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("mesos-dns: {message}");
    std::process::exit(1);
}

fn load(flags: &Flags) -> Config {
    let text = std::fs::read_to_string(&flags.config).unwrap_or_else(|e| {
        fail(format!(
            "missing configuration file {:?} (-config): {e}",
            flags.config
        ))
    });
    let mut config = Config::from_json(&flags.config, &text).unwrap_or_else(|e| fail(e));
    if let Some(port) = flags.port {
        config.port = port;
    }
    if let Some(port) = flags.httpport {
        config.http_port = port;
    }
    if let Some(listener) = &flags.listener {
        config.listener = listener.clone();
    }
    if let Some(listener) = &flags.httplistener {
        config.http_listener = listener.clone();
    }
    if let Some(zk) = &flags.zk {
        config.zk = zk.clone();
    }
    if let Some(masters) = &flags.masters {
        config.masters = Some(masters.iter().filter(|m| !m.is_empty()).cloned().collect());
    }
    if let Some(domain) = &flags.domain {
        config.domain = domain.clone();
    }
    if let Some(ttl) = flags.ttl {
        config.ttl = ttl;
    }
    if let Some(resolvers) = &flags.resolvers {
        config.resolvers = resolvers
            .iter()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect();
    }
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let local = resolv_conf_nameservers(&resolv_conf, &[]);
    config.validate(&local).unwrap_or_else(|e| fail(e))
}

#[tokio::main]
async fn main() {
    let flags = Flags::try_parse_from(go_style(std::env::args())).unwrap_or_else(|e| e.exit());
    if flags.version {
        println!("{}", mesos_dns::service::VERSION);
        return;
    }
    if let Err(e) = mesos_common::tls::process() {
        eprintln!("mesos-dns: {e}");
        std::process::exit(2);
    }
    let level = match flags.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESOS_LOG_LEVEL")
                // hickory-server logs every query at info: far too much at 50,000 a second.
                .unwrap_or_else(|_| {
                    format!("{level},hickory_server=warn,zookeeper_async=warn").into()
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = load(&flags);
    let listeners = mesos_dns::Listeners::bind(&config)
        .await
        .unwrap_or_else(|e| fail(e));
    if let Err(e) = mesos_dns::run(listeners, config, mesos_common::signals::stop_requested()).await
    {
        fail(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_flags() {
        let args = [
            "mesos-dns",
            "-config=c.json",
            "--port=5353",
            "-v",
            "-vv",
            "-zk",
            "zk://x/m",
        ];
        let out = go_style(args.iter().map(|s| s.to_string()));
        assert_eq!(
            out,
            [
                "mesos-dns",
                "--config=c.json",
                "--port=5353",
                "-v",
                "-vv",
                "--zk",
                "zk://x/m"
            ]
        );
        let flags = Flags::try_parse_from(out).unwrap();
        assert_eq!(flags.config, "c.json");
        assert_eq!(flags.verbose, 3);
    }
}
