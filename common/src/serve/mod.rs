//! The serving edge every listener of the project shares: accept, TLS (with downgrade),
//! HTTP/1.1 and HTTP/2 (the agent link's gRPC), limits and graceful shutdown.
//!
//! ```text
//!   accept ──admission (cap, per-peer, evict slow)──▶ sniff 6 bytes ──TLS?──▶ rustls
//!                                                        │ plain: downgrade or refuse
//!                                                        ▼
//!      first request within header_timeout ◀── hyper auto (h1 header timeout, h2) ──▶ app
//!                                  each body within body_timeout (408 past it) ◀──┘
//! ```
//!
//! Every request carries `ConnectInfo<SocketAddr>`, `ConnectInfo<Peer>` (with the switch
//! that cuts its connection) and [`Transport`]. Refused handshakes and plain-text clients
//! on a TLS-only port are logged once per peer a minute, not per attempt.
//!
//! Limits come from this project's `LIBPROCESS_HTTP_*` variables (see [`Limits`]).

pub mod admission;
pub mod body;
pub mod cut;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use crate::tls::{Tls, TlsError};
use admission::{Admission, AdmissionLimits, Admit};
pub use body::{streaming_bodies, BodyDeadline};
pub use cut::{Cut, CutStream, Peer};

/// How the request reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    pub tls: bool,
}

/// Limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The time a client has to send a request's headers (TLS handshake included for the
    /// first one), and the longest a kept-alive HTTP/1 connection may sit idle.
    /// `LIBPROCESS_HTTP_HEADER_TIMEOUT`, default 30secs.
    pub header_timeout: Duration,
    /// The time a request's body has to arrive, from the first read of it (see [`body`]).
    /// `LIBPROCESS_HTTP_BODY_TIMEOUT`, default 30secs.
    pub body_timeout: Duration,
    /// Largest request head (HTTP/1) or header list (HTTP/2).
    /// `LIBPROCESS_HTTP_MAX_HEADER_BYTES`, default 64KB.
    pub max_header_bytes: usize,
    /// `LIBPROCESS_HTTP_MAX_CONNECTIONS`, default 8192.
    pub max_connections: usize,
    /// Connections of one client address still waiting for their first request.
    /// `LIBPROCESS_HTTP_MAX_PENDING_PER_PEER`, default 64.
    pub max_pending_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_connections: 8192,
            max_pending_per_peer: 64,
        }
    }
}

impl Limits {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Limits, TlsError> {
        let mut limits = Limits::default();
        let bad = |var: &str, reason: String| TlsError {
            var: var.to_string(),
            reason,
        };
        for (var, field) in [
            ("LIBPROCESS_HTTP_HEADER_TIMEOUT", &mut limits.header_timeout),
            ("LIBPROCESS_HTTP_BODY_TIMEOUT", &mut limits.body_timeout),
        ] {
            if let Some(v) = lookup(var) {
                *field = crate::flags::parse_duration(&v).map_err(|e| bad(var, e.to_string()))?;
                if field.is_zero() {
                    return Err(bad(var, "must be more than 0".into()));
                }
            }
        }
        let var = "LIBPROCESS_HTTP_MAX_HEADER_BYTES";
        if let Some(v) = lookup(var) {
            let n = crate::flags::parse_bytes(&v).map_err(|e| bad(var, e.to_string()))?;
            // hyper's HTTP/1 read buffer cannot be smaller.
            if n < 8192 {
                return Err(bad(var, "must be at least 8KB".into()));
            }
            limits.max_header_bytes = n.min(u32::MAX as u64) as usize;
        }
        for (var, field) in [
            (
                "LIBPROCESS_HTTP_MAX_CONNECTIONS",
                &mut limits.max_connections,
            ),
            (
                "LIBPROCESS_HTTP_MAX_PENDING_PER_PEER",
                &mut limits.max_pending_per_peer,
            ),
        ] {
            if let Some(v) = lookup(var) {
                *field = match v.trim().parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(bad(var, format!("'{v}' is not a positive integer"))),
                };
            }
        }
        Ok(limits)
    }
}

/// A listener's TLS and limits.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    pub tls: Option<Tls>,
    pub limits: Limits,
}

impl Edge {
    /// From the process's `LIBPROCESS_SSL_*` and `LIBPROCESS_HTTP_*` variables.
    pub fn from_env() -> Result<Edge, TlsError> {
        Ok(Edge {
            tls: crate::tls::process()?.cloned(),
            limits: Limits::from_lookup(|name| std::env::var(name).ok())?,
        })
    }

    /// Plain text whatever `LIBPROCESS_SSL_*` says, with the `LIBPROCESS_HTTP_*` limits.
    pub fn plain_from_env() -> Result<Edge, TlsError> {
        Ok(Edge {
            tls: None,
            limits: Limits::from_lookup(|name| std::env::var(name).ok())?,
        })
    }

    /// `https` or `http`: what clients of this listener must use.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }
}

/// What every connection of a listener shares.
struct Shared<S> {
    app: S,
    tls: Option<(TlsAcceptor, bool)>,
    limits: Limits,
    http: auto::Builder<TokioExecutor>,
    admission: Mutex<Admission<Arc<Cut>>>,
    refusals: RefusalLog,
}

/// What the edge serves: an axum router, or any service of the same shape.
pub trait App:
    tower::Service<
        axum::extract::Request,
        Response = axum::response::Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> App for T where
    T: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for open
/// connections to finish their requests (as `axum::serve(..).with_graceful_shutdown`).
pub async fn serve<S>(
    listener: TcpListener,
    edge: Edge,
    app: S,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    S: App,
{
    let limits = edge.limits;
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes);
    http.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes.min(u32::MAX as usize) as u32)
        .enable_connect_protocol();
    let shared = Arc::new(Shared {
        app,
        tls: edge
            .tls
            .map(|tls| (TlsAcceptor::from(tls.server.clone()), tls.downgrade)),
        limits,
        http,
        admission: Mutex::new(Admission::new(AdmissionLimits {
            max_connections: limits.max_connections,
            max_pending_per_peer: limits.max_pending_per_peer,
            // Young enough to be a client whose first bytes are merely late (a loaded
            // machine, a slow TLS handshake): never cut to make room.
            min_age_to_evict: limits.header_timeout / 3,
        })),
        refusals: RefusalLog::default(),
    });
    let (stop_tx, stop) = watch::channel(false);
    let connections = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Events, gRPC frames and call answers are small writes; with Nagle's algorithm
        // each would wait for the peer's delayed ACK behind unacknowledged data.
        if let Err(e) = tcp.set_nodelay(true) {
            debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
        let cut = Arc::new(Cut::default());
        let admitted = shared.lock().admit(addr.ip(), Instant::now(), cut.clone());
        let id = match admitted {
            Admit::Admitted { id, evicted } => {
                if !evicted.is_empty() {
                    shared.refusals.log(
                        addr.ip(),
                        "over the connection limits: cut the oldest connections still without a request",
                    );
                }
                for slow in evicted {
                    slow.cut();
                }
                id
            }
            Admit::Refused => {
                shared.refusals.log(addr.ip(), "too many connections");
                continue;
            }
        };
        let slot = Slot {
            shared: shared.clone(),
            id,
        };
        connections.spawn(connection(slot, tcp, Peer { addr, cut }, stop.clone()));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    connections.close();
    connections.wait().await;
    Ok(())
}

impl<S> Shared<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Admission<Arc<Cut>>> {
        self.admission.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection's place in the admission table, given back when it ends.
struct Slot<S> {
    shared: Arc<Shared<S>>,
    id: u64,
}

impl<S> Drop for Slot<S> {
    fn drop(&mut self) {
        self.shared.lock().closed(self.id);
    }
}

async fn connection<S>(slot: Slot<S>, tcp: TcpStream, peer: Peer, stop: watch::Receiver<bool>)
where
    S: App,
{
    let slot = Arc::new(slot);
    let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cut = peer.cut.clone();
    let io = CutStream::new(tcp, cut.clone());
    let drive = drive(slot.clone(), served.clone(), io, peer, stop);
    // Until its first request has arrived, a connection has the header timeout to live:
    // this bounds the TLS handshake and an HTTP/2 preface too, which hyper does not.
    let deadline = tokio::time::sleep(slot.shared.limits.header_timeout);
    tokio::pin!(drive, deadline);
    let mut deadline_passed = false;
    loop {
        tokio::select! {
            _ = &mut drive => break,
            _ = &mut deadline, if !deadline_passed => {
                deadline_passed = true;
                if !served.load(std::sync::atomic::Ordering::SeqCst) {
                    cut.cut();
                }
            }
        }
    }
}

async fn drive<S>(
    slot: Arc<Slot<S>>,
    served: Arc<std::sync::atomic::AtomicBool>,
    mut io: CutStream,
    peer: Peer,
    stop: watch::Receiver<bool>,
) where
    S: App,
{
    let shared = &slot.shared;
    let Some((acceptor, downgrade)) = &shared.tls else {
        return http(
            slot.clone(),
            served,
            io,
            peer,
            Transport { tls: false },
            stop,
        )
        .await;
    };
    let mut first = [0u8; 6];
    let mut got = 0;
    while got < first.len() {
        match io.read(&mut first[got..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if got == 0 {
        return;
    }
    let io = Rewind {
        prefix: first[..got].to_vec(),
        at: 0,
        inner: io,
    };
    if is_tls_hello(&first[..got]) {
        match acceptor.accept(io).await {
            Ok(tls) => {
                http(
                    slot.clone(),
                    served,
                    tls,
                    peer,
                    Transport { tls: true },
                    stop,
                )
                .await
            }
            Err(e) if !peer.cut.is_cut() => shared
                .refusals
                .log(peer.addr.ip(), &format!("TLS handshake failed: {e}")),
            Err(_) => {}
        }
    } else if *downgrade {
        http(
            slot.clone(),
            served,
            io,
            peer,
            Transport { tls: false },
            stop,
        )
        .await
    } else {
        shared
            .refusals
            .log(peer.addr.ip(), "plain-text connection on a TLS-only port");
    }
}

/// As libprocess decides: a TLS record (0x16) of version 3.x carrying a ClientHello (1),
/// or an SSLv2-framed hello.
pub fn is_tls_hello(first: &[u8]) -> bool {
    match first {
        [0x16, 0x03, _, _, _, 0x01, ..] => true,
        [b0, _, 0x01, 0x03, ..] if b0 & 0x80 != 0 => true,
        _ => false,
    }
}

async fn http<S, I>(
    slot: Arc<Slot<S>>,
    served: Arc<std::sync::atomic::AtomicBool>,
    io: I,
    peer: Peer,
    transport: Transport,
    mut stop: watch::Receiver<bool>,
) where
    S: App,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = slot.shared.app.clone();
    let body_timeout = slot.shared.limits.body_timeout;
    let first = slot.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            if !served.swap(true, std::sync::atomic::Ordering::SeqCst) {
                first.shared.lock().served(first.id);
            }
            let deadline = BodyDeadline::default();
            let version = request.version();
            let mut request = request.map(|incoming| {
                axum::body::Body::new(body::TimedBody::new(
                    incoming,
                    body_timeout,
                    deadline.clone(),
                ))
            });
            let extensions = request.extensions_mut();
            extensions.insert(ConnectInfo(peer.addr));
            extensions.insert(ConnectInfo(peer.clone()));
            extensions.insert(transport);
            extensions.insert(deadline.clone());
            let mut app = app.clone();
            let peer = peer.addr;
            async move {
                let response = tower::Service::call(&mut app, request).await;
                if !deadline.expired() {
                    return response;
                }
                debug!(%peer, "request body too slow: answered 408");
                Ok::<_, Infallible>(body::timed_out(body_timeout, version))
            }
        });
    let conn = slot
        .shared
        .http
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let finished = tokio::select! {
        result = conn.as_mut() => Some(result),
        _ = stop.wait_for(|stop| *stop) => None,
    };
    let result = match finished {
        Some(result) => result,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        debug!(error = %e, "connection ended");
    }
}

/// Bytes already read from a stream, given back before the rest of it.
struct Rewind<I> {
    prefix: Vec<u8>,
    at: usize,
    inner: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.at);
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Logs a refused connection once per peer a minute, with how many were not logged.
#[derive(Default)]
struct RefusalLog {
    seen: Mutex<HashMap<IpAddr, (Instant, u64)>>,
}

const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(60);

impl RefusalLog {
    fn log(&self, peer: IpAddr, why: &str) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (at, _)| now.duration_since(*at) < REFUSAL_LOG_PERIOD);
        }
        match seen.get_mut(&peer) {
            Some((at, quiet)) if now.duration_since(*at) < REFUSAL_LOG_PERIOD => *quiet += 1,
            _ => {
                let quiet = seen.insert(peer, (now, 0)).map_or(0, |(_, quiet)| quiet);
                warn!(%peer, not_logged_since = quiet, "refused a connection: {why}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_told_apart_from_plain_text_by_the_first_bytes() {
        assert!(is_tls_hello(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
        assert!(!is_tls_hello(b"GET / HTTP/1.1"));
        assert!(!is_tls_hello(b"PRI * HTTP/2.0"));
        assert!(!is_tls_hello(&[0x16, 0x03, 0x01]), "too short to tell");
        // A TLS alert or handshake record that is not a ClientHello.
        assert!(!is_tls_hello(&[0x16, 0x03, 0x01, 0x00, 0x10, 0x02]));
    }

    #[test]
    fn limits_come_from_libprocess_http_variables() {
        let vars = [
            ("LIBPROCESS_HTTP_HEADER_TIMEOUT", "2secs"),
            ("LIBPROCESS_HTTP_MAX_PENDING_PER_PEER", "5"),
        ];
        let lookup = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        let limits = Limits::from_lookup(lookup).unwrap();
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.body_timeout, Limits::default().body_timeout);
        assert_eq!(limits.max_pending_per_peer, 5);
        assert_eq!(limits.max_connections, Limits::default().max_connections);
        let e = Limits::from_lookup(|n| {
            (n == "LIBPROCESS_HTTP_MAX_CONNECTIONS").then(|| "0".to_string())
        })
        .unwrap_err();
        assert_eq!(e.var, "LIBPROCESS_HTTP_MAX_CONNECTIONS");
        let body = |v: &'static str| {
            Limits::from_lookup(move |n| (n == "LIBPROCESS_HTTP_BODY_TIMEOUT").then(|| v.into()))
        };
        assert_eq!(body("5secs").unwrap().body_timeout, Duration::from_secs(5));
        assert_eq!(
            body("0secs").unwrap_err().var,
            "LIBPROCESS_HTTP_BODY_TIMEOUT"
        );
        assert_eq!(
            body("soon").unwrap_err().var,
            "LIBPROCESS_HTTP_BODY_TIMEOUT"
        );
    }
}
