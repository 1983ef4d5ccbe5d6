//! Wires Marathon together: the store, the election, the service while leading, and the
//! HTTP API. [`run`] takes a bound listener so tests can use port 0.
//!
//! ```text
//!   run ──▶ HTTP (always) ◀── Leadership (watch) ◀── leader loop
//!                                                    │ --disable_ha: leads at once
//!                                                    │ --ha: election::contend
//!                                                    ▼
//!                                      open store ──▶ service::run (until lost)
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};

use crate::config::{Config, StoreBackend};
use crate::election;
use crate::event_bus::EventBus;
use crate::http::{self, HttpState, Leadership};
use crate::service::{self, ServiceHandle};
use crate::storage::{MemoryStore, RedbStore, Store, ZkStore};

#[derive(Debug, thiserror::Error)]
pub enum MarathonError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Tls(#[from] mesos_common::tls::TlsError),
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
}

/// The bound listeners: plain HTTP (`--http_port`, unless `--disable_http`) and HTTPS
/// (`--https_port`, with `--ssl_cert_file`).
#[derive(Debug, Default)]
pub struct Listeners {
    pub http: Option<TcpListener>,
    pub https: Option<TcpListener>,
}

/// Runs Marathon on `listener` (HTTP) until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MarathonError> {
    let listeners = Listeners {
        http: Some(listener),
        https: None,
    };
    run_listeners(listeners, config, shutdown).await
}

/// Runs Marathon on its HTTP and HTTPS listeners until `shutdown` completes.
pub async fn run_listeners(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MarathonError> {
    config.validate()?;
    // The HTTP port is plain text, as in Marathon; LIBPROCESS_SSL_* in Marathon's
    // environment concerns its own connections to Mesos.
    let edge = mesos_common::serve::Edge::plain_from_env()?;
    let https_edge = mesos_common::serve::Edge {
        tls: config.https.tls()?,
        ..edge.clone()
    };
    let backend = config.store_backend()?;
    let config = Arc::new(config);
    // Other Marathons and clients reach this one on HTTP, or on HTTPS when HTTP is off.
    let advertised = match (&listeners.http, &listeners.https) {
        (Some(http), _) if config.https.http_enabled() => http,
        (_, Some(https)) => https,
        (Some(http), None) => http,
        (None, None) => {
            return Err(crate::config::ConfigError {
                flag: "disable_http",
                reason: "no listener to serve on".into(),
            }
            .into())
        }
    };
    let port = advertised.local_addr()?.port();
    let me = format!("{}:{}", config.hostname(), port);
    let (leadership_tx, leadership_rx) = watch::channel(Leadership::Standby(None));
    let abdicate = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let events = EventBus::new(config.event_stream_max_outstanding_messages);
    let leader_loop = tokio::spawn(lead(
        config.clone(),
        backend,
        me.clone(),
        leadership_tx,
        abdicate.clone(),
        stop_rx,
        events.clone(),
    ));
    let state = HttpState {
        config: config.clone(),
        leadership: leadership_rx,
        me: me.clone(),
        http: mesos_common::tls::http_client()
            .connect_timeout(config.leader_proxy_connection_timeout())
            .build()
            .expect("HTTP client"),
        abdicate: Arc::new(move || abdicate.notify_one()),
        events,
    };
    tracing::info!(%me, "Marathon listening");
    let app = http::router(state);
    let stopping = {
        let stop_tx = stop_tx.clone();
        async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        }
    };
    let https = listeners.https.map(|listener| {
        let app = app.clone();
        let mut stopped = stop_tx.subscribe();
        tokio::spawn(mesos_common::serve::serve(
            listener,
            https_edge,
            app,
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ))
    });
    let served = match listeners.http {
        Some(listener) => mesos_common::serve::serve(listener, edge, app, stopping).await,
        None => {
            stopping.await;
            Ok(())
        }
    };
    if let Some(https) = https {
        if let Ok(Err(e)) = https.await {
            tracing::warn!(error = %e, "HTTPS server failed");
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), leader_loop).await;
    served?;
    Ok(())
}

async fn open_store(
    config: &Config,
    backend: &StoreBackend,
    elected: Option<&election::Elected>,
) -> Result<Arc<dyn Store>, String> {
    let max_node = config.zk_max_node_size as usize;
    match (backend, elected) {
        (StoreBackend::Mem, _) => Ok(Arc::new(MemoryStore::new())),
        (StoreBackend::Embedded(path), _) => RedbStore::open(path)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("cannot open the store at {}: {e}", path.display())),
        (StoreBackend::Zk(url), Some(elected)) => {
            ZkStore::with_session(elected.session(), &ZkStore::root_for(url), max_node)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
                .map_err(|e| format!("cannot open the ZooKeeper store at {url}: {e}"))
        }
        (StoreBackend::Zk(url), None) => ZkStore::open(url, config.zk_session_timeout(), max_node)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("cannot open the ZooKeeper store at {url}: {e}")),
    }
}

/// Leads whenever this process may, serving the service while it does.
async fn lead(
    config: Arc<Config>,
    backend: StoreBackend,
    me: String,
    leadership: watch::Sender<Leadership>,
    abdicate: Arc<Notify>,
    stop: watch::Receiver<bool>,
    events: Arc<EventBus>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        // Until elected, say who leads.
        let elected = if config.ha() {
            let url = match config.zk_url() {
                Ok(u) => u,
                Err(e) => {
                    tracing::error!("{e}");
                    return;
                }
            };
            tokio::select! {
                r = election::contend(&url, config.zk_session_timeout(), &me, &leadership) => match r {
                    Ok(e) => Some(e),
                    Err(e) => {
                        tracing::warn!("election failed: {e}; trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
                _ = stopped(stop.clone()) => return,
            }
        } else {
            None
        };
        let store = match open_store(&config, &backend, elected.as_ref()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}; trying again in 2 s");
                drop(elected);
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let (tx, rx) = mpsc::channel(1024);
        leadership.send_replace(Leadership::Leading(ServiceHandle::new(tx)));
        tracing::info!("leading: serving the API and subscribing to Mesos");
        let lost = async {
            match &elected {
                Some(e) => e.lost().await,
                None => std::future::pending().await,
            }
        };
        let stop_wait = stop.clone();
        let ended = async {
            tokio::select! {
                _ = lost => tracing::warn!("leadership lost"),
                _ = abdicate.notified() => tracing::info!("abdicating on request"),
                _ = stopped(stop_wait) => {}
            }
        };
        match service::run(config.clone(), store, events.clone(), rx, ended).await {
            Ok(()) => {}
            Err(e) => tracing::error!("the service stopped: {e}"),
        }
        leadership.send_replace(Leadership::Standby(None));
        if let Some(e) = elected {
            e.resign().await;
        }
        if *stop.borrow() {
            return;
        }
        // After an abdication or a loss, give the others a moment to take over.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
