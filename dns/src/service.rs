//! Wiring: the master follower feeds changes to the updater, which keeps the zone
//! current; the DNS and HTTP servers answer from it. As in Mesos-DNS, nothing is served
//! before the first complete view of the cluster.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::rr::{LowerName, Name};
use hickory_server::Server;
use mesos_scheduler::MasterAddress;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::core::cluster::{Change, Cluster};
use crate::core::records::{self, Naming};
use crate::core::zone::{Zone, ZoneSettings};
use crate::edge::dns::Handler;
use crate::edge::forward::Upstreams;
use crate::edge::http::{self, Api};
use crate::edge::master::{self, FollowConfig, Masters};
use crate::edge::ZoneCell;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors that stop the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Bound sockets: DNS over UDP and TCP on the same address, and the HTTP API.
pub struct Listeners {
    pub dns_udp: Option<UdpSocket>,
    pub dns_tcp: Option<TcpListener>,
    pub http: Option<TcpListener>,
}

impl Listeners {
    /// Binds what the configuration turns on, at `listener:port` and
    /// `httplistener:httpport`.
    pub async fn bind(config: &Config) -> Result<Listeners, ServiceError> {
        let io = |what: String| move |source| ServiceError::Io { what, source };
        let mut listeners = Listeners {
            dns_udp: None,
            dns_tcp: None,
            http: None,
        };
        if config.dns_on {
            let ip: IpAddr = config.listener.parse().map_err(|_| {
                ServiceError::Config(format!("listener {:?} is not an address", config.listener))
            })?;
            let udp = UdpSocket::bind((ip, config.port))
                .await
                .map_err(io(format!("cannot bind DNS (UDP) to {ip}:{}", config.port)))?;
            // Port 0 asks for any port: TCP takes the one UDP got.
            let port = udp.local_addr().map(|a| a.port()).unwrap_or(config.port);
            let tcp = TcpListener::bind((ip, port))
                .await
                .map_err(io(format!("cannot bind DNS (TCP) to {ip}:{port}")))?;
            listeners.dns_udp = Some(udp);
            listeners.dns_tcp = Some(tcp);
        }
        if config.http_on {
            let address = format!("{}:{}", config.http_listener, config.http_port);
            let http = TcpListener::bind(&address)
                .await
                .map_err(io(format!("cannot bind HTTP to {address}")))?;
            listeners.http = Some(http);
        }
        Ok(listeners)
    }
}

/// Addresses of this machine's interfaces, loopback excepted.
fn interface_ips() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = addrs
        .filter_map(|a| a.address)
        .filter_map(|a| {
            a.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .filter(|ip| !ip.is_loopback())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// The addresses published for this server's own name (`SOAMname`): the listener, or
/// every interface when it listens on all of them.
fn ns_ips(listener: &str) -> Vec<IpAddr> {
    match listener.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => interface_ips(),
        Ok(ip) => vec![ip],
        Err(_) => Vec::new(),
    }
}

fn name(text: &str) -> Result<Name, ServiceError> {
    Name::from_ascii(text).map_err(|e| ServiceError::Config(format!("{text:?}: {e}")))
}

fn fqdn(text: &str) -> String {
    format!("{}.", text.trim_end_matches('.'))
}

/// Serials grow with time, and by one at least on every change.
fn next_serial(previous: u32) -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    now.max(previous.wrapping_add(1))
}

/// Applies changes as they come; after each burst, rebuilds the zone once.
async fn update(
    mut changes: mpsc::Receiver<Change>,
    naming: Naming,
    settings: ZoneSettings,
    zone: ZoneCell,
    ready: watch::Sender<bool>,
) {
    let mut cluster = Cluster::default();
    let mut serial = 0;
    while let Some(change) = changes.recv().await {
        let snapshot = matches!(change, Change::Snapshot { .. });
        let mut dirty = cluster.apply(change);
        let mut complete = snapshot;
        while let Ok(change) = changes.try_recv() {
            complete |= matches!(change, Change::Snapshot { .. });
            dirty |= cluster.apply(change);
        }
        // Rebuild on a change, and on the first complete view even if it is empty.
        let first_view = complete && !*ready.borrow();
        if !dirty && !first_view {
            continue;
        }
        let started = std::time::Instant::now();
        serial = next_serial(serial);
        let records = records::build(&cluster, &naming);
        let built = Arc::new(Zone::new(settings.clone(), records, serial));
        *zone.write().unwrap_or_else(|e| e.into_inner()) = built;
        tracing::debug!(
            tasks = cluster.tasks.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            serial,
            "records rebuilt"
        );
        if complete {
            ready.send_replace(true);
        }
    }
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServiceError> {
    let masters = if config.zk.is_empty() {
        let list = config
            .masters
            .iter()
            .flatten()
            .map(|m| MasterAddress::parse(m).map_err(|e| ServiceError::Config(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(ServiceError::Config("no masters configured".into()));
        }
        Masters::List(list)
    } else {
        Masters::ZooKeeper(
            mesos_scheduler::detector_for(&config.zk)
                .map_err(|e| ServiceError::Config(e.to_string()))?,
        )
    };
    let naming = Naming {
        domain: config.domain.clone(),
        ns_name: fqdn(&config.soa_mname).to_lowercase(),
        ns_ips: ns_ips(&config.listener),
        ip_sources: config.ip_sources(),
        spec: config.label_spec(),
    };
    let ttl = u32::try_from(config.ttl).unwrap_or(0);
    let settings = ZoneSettings {
        origin: name(&fqdn(&config.domain))?,
        ttl,
        srv_weight: config.srv_record_default_weight,
        soa_mname: name(&fqdn(&config.soa_mname))?,
        soa_rname: name(&fqdn(&config.soa_rname))?,
        soa_refresh: config.soa_refresh,
        soa_retry: config.soa_retry,
        soa_expire: config.soa_expire,
        recurse_on: config.recurse_on,
    };
    let (zones, default) = config.upstreams();
    let upstreams = Upstreams {
        zones: zones
            .into_iter()
            .map(|(zone, servers)| Ok((LowerName::new(&name(&zone)?), servers)))
            .collect::<Result<_, ServiceError>>()?,
        default,
        timeout: Duration::from_secs(config.timeout.max(1) as u64),
    };
    let empty = Zone::new(settings.clone(), Default::default(), 0);
    let zone: ZoneCell = Arc::new(RwLock::new(Arc::new(empty)));

    let (changes_tx, changes_rx) = mpsc::channel(1024);
    let (ready_tx, mut ready) = watch::channel(false);
    let follow_config = FollowConfig {
        request_timeout: Duration::from_secs(config.state_timeout_seconds.clamp(1, 300) as u64),
        missed_heartbeats: 5,
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(10),
        configured: config.masters.clone().unwrap_or_default(),
        credential: config.mesos_credential(),
    };
    let follower = tokio::spawn(master::follow(masters, follow_config, changes_tx));
    let updater = tokio::spawn(update(changes_rx, naming, settings, zone.clone(), ready_tx));

    tokio::pin!(shutdown);
    tokio::select! {
        _ = &mut shutdown => {
            follower.abort();
            updater.abort();
            return Ok(());
        }
        _ = ready.wait_for(|r| *r) => {}
    }
    tracing::info!("first view of the cluster loaded; serving");

    let mut dns = Server::new(Handler {
        zone: zone.clone(),
        upstreams: Arc::new(upstreams),
    });
    if let Some(udp) = listeners.dns_udp {
        log_address("DNS (UDP)", udp.local_addr());
        dns.register_socket(udp);
    }
    if let Some(tcp) = listeners.dns_tcp {
        log_address("DNS (TCP)", tcp.local_addr());
        dns.register_listener(tcp, Duration::from_secs(5), 64);
    }
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    // mesos-dns's own API is plain HTTP; only the limits apply.
    let edge = mesos_common::serve::Edge::plain_from_env()
        .map_err(|e| ServiceError::Config(e.to_string()))?;
    let http = listeners.http.map(|listener| {
        log_address("HTTP", listener.local_addr());
        let router = http::router(Api {
            config: Arc::new(config.clone()),
            zone: zone.clone(),
            version: VERSION,
        });
        tokio::spawn(async move {
            let _ = mesos_common::serve::serve(listener, edge, router, async {
                let _ = http_stopped.await;
            })
            .await;
        })
    });

    shutdown.await;
    let _ = http_stop.send(());
    let _ = dns.shutdown_gracefully().await;
    if let Some(http) = http {
        let _ = http.await;
    }
    follower.abort();
    updater.abort();
    Ok(())
}

fn log_address(what: &str, address: std::io::Result<SocketAddr>) {
    if let Ok(address) = address {
        tracing::info!(%address, "{what} listening");
    }
}
