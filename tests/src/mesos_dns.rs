//! A `mesos-dns` process in front of a test cluster, and a real DNS client (hickory's
//! resolver, caching off) that asks it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use serde_json::Value;

use crate::cluster::wait_ready;
use crate::http;
use crate::process::{binary, free_port, Proc};

pub struct MesosDns {
    pub proc: Proc,
    pub dns_port: u16,
    pub http_port: u16,
    resolver: TokioResolver,
}

/// What a DNS question got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Record data as text (`127.0.0.1`, `0 1 31000 web-x-s0.marathon.slave.mesos.`).
    Records(Vec<String>),
    /// NXDOMAIN or no data.
    Nothing,
    Error(String),
}

impl MesosDns {
    /// Starts `mesos-dns` with `config` (Mesos-DNS keys) plus loopback listeners on free
    /// ports, and waits for its HTTP API (served once the first state has loaded).
    pub async fn start(root: &Path, config: Value) -> MesosDns {
        Self::start_binary(&binary("mesos-dns"), root, config).await
    }

    /// [`MesosDns::start`] with the given binary (a release build for benchmarks).
    pub async fn start_binary(program: &Path, root: &Path, config: Value) -> MesosDns {
        for attempt in 1..=3 {
            let (dns_port, http_port) = (free_port(), free_port());
            let mut config = config.clone();
            config["listener"] = "127.0.0.1".into();
            config["httplistener"] = "127.0.0.1".into();
            config["port"] = dns_port.into();
            config["httpport"] = http_port.into();
            let path = root.join(format!("mesos-dns-{dns_port}.json"));
            std::fs::write(&path, config.to_string()).expect("write config");
            let args = vec![format!("-config={}", path.display())];
            let mut proc = Proc::spawn(&format!("mesos-dns-{dns_port}"), program, args, root);
            let url = format!("http://127.0.0.1:{http_port}/v1/version");
            match wait_ready(&mut proc, &url).await {
                Ok(()) => {
                    return MesosDns {
                        proc,
                        dns_port,
                        http_port,
                        resolver: resolver(dns_port),
                    }
                }
                Err(why) if attempt < 3 && proc.try_exit().is_some() => {
                    eprintln!("mesos-dns on {dns_port} did not start ({why}); retrying");
                }
                Err(why) => panic!("mesos-dns did not start: {why}\n{}", proc.log_tail(60)),
            }
        }
        unreachable!()
    }

    pub async fn get(&self, path: &str) -> http::Response {
        http::get(&format!("http://127.0.0.1:{}{path}", self.http_port)).await
    }

    /// Asks `name` (absolute) for `record_type` records.
    pub async fn ask(&self, name: &str, record_type: RecordType) -> Answer {
        match self.resolver.lookup(name, record_type).await {
            Ok(lookup) => {
                let mut out: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == record_type)
                    .map(|r| match &r.data {
                        RData::SRV(srv) => format!(
                            "{} {} {} {}",
                            srv.priority, srv.weight, srv.port, srv.target
                        ),
                        other => other.to_string(),
                    })
                    .collect();
                out.sort();
                Answer::Records(out)
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Answer::Nothing,
            Err(e) => Answer::Error(e.to_string()),
        }
    }
}

/// A resolver that asks only 127.0.0.1:`port` and caches nothing.
pub fn resolver(port: u16) -> TokioResolver {
    let mut server = NameServerConfig::udp_and_tcp(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for connection in &mut server.connections {
        connection.port = port;
    }
    let config = ResolverConfig::from_name_servers(vec![server]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options = builder.options_mut();
    options.cache_size = 0;
    options.attempts = 1;
    options.timeout = Duration::from_secs(2);
    builder.build().expect("resolver")
}
