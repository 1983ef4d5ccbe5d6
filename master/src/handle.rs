//! How the edges reach the actor that owns the engine: the [`Command`]s it runs, the
//! [`MasterHandle`] every edge holds, and whether this master leads ([`Leadership`], kept
//! by the election and read by every edge before it serves).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_proto::internal;
use mesos_proto::v1;
use mesos_proto::v1::scheduler;
use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::{AgentSender, CallError, Engine, SubscribeRequest};
use crate::registry::Registry;
use crate::views::authorized::Viewer;
use mesos_common::auth::{Action, Object, Principal};
use mesos_common::exposure::ExposureWarning;

/// Whether this master leads, as the edges see it.
#[derive(Debug, Clone)]
pub enum Leadership {
    /// No ZooKeeper: the master leads for its whole life.
    Standalone,
    /// Contending (or recovering after winning). `leader` is the elected master, when
    /// known; it is this master itself while it recovers.
    Standby { leader: Option<Arc<v1::MasterInfo>> },
    /// Elected and recovered; serving until `until` unless the lease is renewed.
    Leading {
        term: u64,
        info: Arc<v1::MasterInfo>,
        until: Instant,
    },
}

impl Leadership {
    pub fn is_leading(&self) -> bool {
        match self {
            Leadership::Standalone => true,
            Leadership::Leading { until, .. } => Instant::now() < *until,
            Leadership::Standby { .. } => false,
        }
    }

    /// Whether this master leads in `term` (the standalone master's only term is 0).
    pub fn is_leading_term(&self, term: u64) -> bool {
        match self {
            Leadership::Standalone => term == 0,
            Leadership::Leading { term: t, .. } => *t == term && self.is_leading(),
            Leadership::Standby { .. } => false,
        }
    }
}

/// A change to the engine, run by the actor at time `now`.
pub(crate) type Mutation = Box<dyn FnOnce(&mut Engine, Duration) + Send>;

/// A request for the engine. Handlers wait on the oneshot for the answer.
pub(crate) enum Command {
    Subscribe {
        req: Box<SubscribeRequest>,
        reply: oneshot::Sender<Result<String, CallError>>,
    },
    Call {
        framework_id: String,
        stream_id: String,
        /// Who the request authenticated as (the scheduler realm), if it did.
        principal: Option<String>,
        call: Box<scheduler::Call>,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    FrameworkStreamClosed {
        framework_id: String,
        stream_id: String,
    },
    AgentConnected {
        conn_id: u64,
        register: Box<internal::Register>,
        tx: AgentSender,
        /// The agent's id and its liveness flag (see `Agent::ping_outstanding`).
        reply: oneshot::Sender<Result<(String, Arc<AtomicBool>), String>>,
    },
    /// Boxed: every connected agent's relay task holds one `Command` while it waits to
    /// send it, and an `AgentMessage` is ~400 bytes inline.
    AgentMessage {
        agent_id: String,
        message: Box<internal::AgentMessage>,
    },
    AgentDisconnected {
        agent_id: String,
        conn_id: u64,
    },
    /// Runs a read-only function over the engine (state endpoints).
    Inspect(Box<dyn FnOnce(&Engine) + Send>),
    /// Runs a mutating function (operator endpoints such as /master/teardown).
    Mutate(Mutation),
    /// The election chose this master for `term`: recover `registry`, then reply.
    Elected {
        term: u64,
        info: Arc<v1::MasterInfo>,
        registry: Box<Registry>,
        reply: oneshot::Sender<()>,
    },
    /// Term `term` ended: stop serving and drop all state.
    Deposed {
        term: u64,
    },
}

/// Cheap handle the edges use to reach the actor.
#[derive(Clone)]
pub struct MasterHandle {
    tx: mpsc::Sender<Command>,
    pub(crate) info: Arc<v1::MasterInfo>,
    pub(crate) max_request_body: usize,
    pub(crate) leadership: watch::Receiver<Leadership>,
    /// `--acls`, for the edges that filter or refuse before reaching the engine.
    pub(crate) acls: Arc<mesos_common::auth::Acls>,
    /// Listening beyond loopback with authentication off (`/master/flags` says so).
    pub(crate) exposure: Option<Arc<ExposureWarning>>,
}

impl MasterHandle {
    pub(crate) fn new(
        tx: mpsc::Sender<Command>,
        info: Arc<v1::MasterInfo>,
        max_request_body: usize,
        leadership: watch::Receiver<Leadership>,
    ) -> Self {
        MasterHandle {
            tx,
            info,
            max_request_body,
            leadership,
            acls: Default::default(),
            exposure: None,
        }
    }

    pub(crate) fn with_acls(mut self, acls: Arc<mesos_common::auth::Acls>) -> Self {
        self.acls = acls;
        self
    }

    pub(crate) fn with_exposure(mut self, exposure: Option<ExposureWarning>) -> Self {
        self.exposure = exposure.map(Arc::new);
        self
    }

    /// Who is looking, for the views' filters.
    pub(crate) fn viewer(&self, principal: Option<&Principal>) -> Viewer {
        Viewer {
            acls: self.acls.clone(),
            principal: principal.and_then(|p| p.value.clone()),
        }
    }

    /// Whether `principal` may do `action` on `object`.
    pub(crate) fn authorized(
        &self,
        action: Action,
        principal: Option<&Principal>,
        object: Object<'_>,
    ) -> bool {
        self.acls
            .approved(action, principal.and_then(|p| p.name()), object)
    }

    pub(crate) fn is_leading(&self) -> bool {
        self.leadership.borrow().is_leading()
    }

    /// The leading master's MasterInfo: this master's own while it leads, else the
    /// elected one's when known.
    pub(crate) fn leader_info(&self) -> Option<v1::MasterInfo> {
        match &*self.leadership.borrow() {
            Leadership::Standalone => Some((*self.info).clone()),
            l @ Leadership::Leading { info, .. } if l.is_leading() => Some((**info).clone()),
            Leadership::Leading { .. } => None,
            Leadership::Standby { leader } => leader.as_deref().cloned(),
        }
    }

    /// Where `/master/redirect` points: the leader, else this master.
    pub(crate) fn redirect_target(&self) -> v1::MasterInfo {
        self.leader_info().unwrap_or_else(|| (*self.info).clone())
    }

    /// What a master that does not lead answers on `path` instead of serving it: 307 to
    /// the leader (`Location: //<leader host>:<port><path>`), or 503 when there is none
    /// (or it is this master, still recovering). None while this master leads.
    pub(crate) fn not_leading_response(&self, path: &str) -> Option<Response> {
        if self.is_leading() {
            return None;
        }
        let unavailable = |message: &str| {
            let body = serde_json::json!({ "code": 503, "message": message });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        };
        let Some(leader) = self.leader_info() else {
            return Some(unavailable("No leader elected"));
        };
        if leader.address == self.info.address {
            return Some(unavailable("Master has not finished recovery"));
        }
        let location = format!("{}{path}", base_url(&leader));
        Some(
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response(),
        )
    }

    /// Metrics with `master/elected` saying whether this master leads.
    pub(crate) fn with_elected(&self, mut metrics: serde_json::Value) -> serde_json::Value {
        if let Some(map) = metrics.as_object_mut() {
            let elected = if self.is_leading() { 1.0 } else { 0.0 };
            map.insert("master/elected".into(), serde_json::json!(elected));
        }
        metrics
    }

    /// The actor's queue, for edges that poll it themselves.
    pub(crate) fn commands(&self) -> mpsc::Sender<Command> {
        self.tx.clone()
    }

    pub(crate) async fn send(&self, cmd: Command) -> bool {
        self.tx.send(cmd).await.is_ok()
    }

    /// Runs `f` on the engine and returns its result; None if the master is stopping.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Inspect(Box::new(move |e| {
            let _ = reply.send(f(e));
        }));
        if !self.send(cmd).await {
            return None;
        }
        rx.await.ok()
    }

    pub async fn mutate<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine, Duration) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Mutate(Box::new(move |e, now| {
            let _ = reply.send(f(e, now));
        }));
        if !self.send(cmd).await {
            return None;
        }
        rx.await.ok()
    }
}

/// `//<host>:<port>` of a master, the protocol-relative base Mesos redirects to: its
/// hostname when it has one, else its IP.
pub(crate) fn base_url(info: &v1::MasterInfo) -> String {
    let address = info.address.clone().unwrap_or_default();
    let host = address
        .hostname
        .filter(|h| !h.is_empty())
        .or(address.ip)
        .unwrap_or_default();
    format!("//{}:{}", host, address.port)
}
