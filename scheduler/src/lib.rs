//! The scheduler client library: a framework's connection to the master's v1 scheduler
//! API (`POST /api/v1/scheduler`).
//!
//! [`Scheduler::start`] spawns a subscription task and returns two halves:
//!
//! ```text
//!            Detector ──leader──▶ subscription task ──SUBSCRIBE (own connection)──▶ master
//!                                   │   ▲  chunked RecordIO events, 307 followed,
//!                                   │   └─ watchdog: no bytes for N heartbeats ⇒ reconnect
//!   Events ◀──SchedulerEvent────────┘
//!   Scheduler ──call (one request each, Mesos-Stream-Id)─────────────────────────▶ master
//! ```
//!
//! The task resubscribes with backoff after any failure, reusing the framework id it was
//! given (framework failover), until [`Scheduler::stop`] or the [`Events`] half is dropped,
//! or the master ends the framework (an ERROR event, or 403 to SUBSCRIBE), or refuses its
//! credential (401 to SUBSCRIBE).
//! Nothing is acknowledged automatically: a caller acknowledges a status update once it has
//! acted on (or persisted) it.

pub mod calls;
pub mod codec;
mod credential;
pub mod detector;
mod error;
mod subscription;
pub mod transport;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use mesos_proto::v1::offer::Operation;
use mesos_proto::v1::scheduler::{Call, Event};
use mesos_proto::v1::{
    AgentId, ExecutorId, Filters, FrameworkId, FrameworkInfo, MasterInfo, OfferId, TaskId,
    TaskInfo, TaskStatus,
};
use reqwest::StatusCode;
use tokio::sync::{mpsc, watch};

pub use codec::{CodecError, ContentType};
pub use credential::Credential;
pub use detector::{detector_for, Detector, DetectorError, MasterAddress, StaticDetector};
pub use error::SchedulerError;

/// What the subscription task reports, in order.
#[derive(Debug, Clone)]
pub enum SchedulerEvent {
    /// A SUBSCRIBED event arrived: calls can be made from now on. It stands in for that
    /// event, which is not repeated as [`SchedulerEvent::Event`].
    Connected {
        framework_id: FrameworkId,
        master_info: Option<Box<MasterInfo>>,
        /// The master that accepted the subscription (after any redirect).
        master: MasterAddress,
        heartbeat_interval: Duration,
    },
    /// A subscription attempt failed or an established one ended. The library retries
    /// after a backoff unless the master sent an ERROR event or refused the SUBSCRIBE
    /// with 403 (a torn-down framework) or 401 (a refused credential); then this is the
    /// last event of the stream.
    Disconnected { reason: String },
    /// Any other event from the master, HEARTBEAT included (boxed: events are large).
    Event(Box<Event>),
}

/// Tuning of the subscription. [`SchedulerConfig::new`] gives Mesos-like defaults.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Sent with every SUBSCRIBE; its `id`, when set, makes the first subscription a
    /// failover of an existing framework.
    pub framework_info: FrameworkInfo,
    pub content_type: ContentType,
    pub suppressed_roles: Vec<String>,
    /// Wait for response headers, per request.
    pub request_timeout: Duration,
    /// Assumed until SUBSCRIBED tells the real one.
    pub default_heartbeat_interval: Duration,
    /// Heartbeat intervals without a byte from the master before it is given up.
    pub missed_heartbeats: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub max_redirects: u32,
    pub max_record_size: usize,
    /// Sent as HTTP Basic on SUBSCRIBE and every call (see [`SchedulerConfig::with_credential`]).
    pub credential: Option<Credential>,
}

impl SchedulerConfig {
    pub fn new(framework_info: FrameworkInfo) -> Self {
        Self {
            framework_info,
            content_type: ContentType::default(),
            suppressed_roles: Vec::new(),
            request_timeout: Duration::from_secs(20),
            default_heartbeat_interval: Duration::from_secs(15),
            missed_heartbeats: 5,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_redirects: 5,
            max_record_size: mesos_common::recordio::DEFAULT_MAX_RECORD_SIZE,
            credential: None,
        }
    }

    /// Authenticates as `credential`; FrameworkInfo.principal becomes its principal unless
    /// set already (the master refuses a principal that differs from the authenticated one).
    pub fn with_credential(mut self, credential: Credential) -> Self {
        if self.framework_info.principal.is_none() {
            self.framework_info.principal = Some(credential.principal.clone());
        }
        self.credential = Some(credential);
        self
    }
}

/// The subscription calls are made against.
#[derive(Debug, Clone)]
struct Session {
    master: MasterAddress,
    stream_id: String,
    framework_id: FrameworkId,
}

struct Shared {
    content_type: ContentType,
    request_timeout: Duration,
    max_redirects: u32,
    credential: Option<Credential>,
    http: reqwest::Client,
    session: Mutex<Option<Session>>,
    /// Survives disconnections so that resubscription is a failover, not a new framework.
    framework_id: Mutex<Option<FrameworkId>>,
    stop: watch::Sender<bool>,
    /// Set while a TEARDOWN is in flight: the master closing the stream is then expected,
    /// not a disconnection to recover from.
    tearing_down: AtomicBool,
}

impl Shared {
    fn session(&self) -> Option<Session> {
        self.session.lock().expect("session lock").clone()
    }

    fn set_session(&self, session: Option<Session>) {
        if let Some(s) = &session {
            *self.framework_id.lock().expect("framework id lock") = Some(s.framework_id.clone());
        }
        *self.session.lock().expect("session lock") = session;
    }

    fn framework_id(&self) -> Option<FrameworkId> {
        self.framework_id.lock().expect("framework id lock").clone()
    }
}

/// Handle for making calls; cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

/// The event half: a stream of [`SchedulerEvent`]s. Dropping it stops the subscription.
pub struct Events {
    rx: mpsc::Receiver<SchedulerEvent>,
}

impl Events {
    /// The next event, or `None` once the library has stopped.
    pub async fn next(&mut self) -> Option<SchedulerEvent> {
        self.rx.recv().await
    }
}

impl futures::Stream for Events {
    type Item = SchedulerEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Queue between the subscription task and the caller. While it is full the task stops
/// reading the socket, so a slow caller slows the master down instead of growing memory.
const EVENT_QUEUE: usize = 1024;

impl Scheduler {
    /// Starts subscribing in a background task (needs a tokio runtime).
    pub fn start(detector: Arc<dyn Detector>, config: SchedulerConfig) -> (Scheduler, Events) {
        let (stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            content_type: config.content_type,
            request_timeout: config.request_timeout,
            max_redirects: config.max_redirects,
            credential: config.credential.clone(),
            http: transport::client(false),
            session: Mutex::new(None),
            framework_id: Mutex::new(config.framework_info.id.clone()),
            stop,
            tearing_down: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(subscription::run(shared.clone(), detector, config, tx));
        (Scheduler { shared }, Events { rx })
    }

    /// The framework id, once the master assigned one (or the configured one).
    pub fn framework_id(&self) -> Option<FrameworkId> {
        self.shared.framework_id()
    }

    /// The master of the current subscription.
    pub fn master(&self) -> Option<MasterAddress> {
        self.shared.session().map(|s| s.master)
    }

    pub fn is_subscribed(&self) -> bool {
        self.shared.session().is_some()
    }

    /// Ends the subscription; the event stream closes. Calls fail afterwards.
    pub fn stop(&self) {
        self.shared.stop.send_replace(true);
        self.shared.set_session(None);
    }

    /// Sends any call on its own request, filling in `framework_id` when it is unset.
    /// Success is 202 Accepted (200 for the calls that answer with a body).
    pub async fn call(&self, mut call: Call) -> Result<(), SchedulerError> {
        let session = self.shared.session().ok_or(SchedulerError::NotSubscribed)?;
        if call.framework_id.is_none() {
            call.framework_id = Some(session.framework_id.clone());
        }
        let kind = call.r#type();
        let body = Bytes::from(self.shared.content_type.encode(&call));
        let (master, response) = transport::post(
            &self.shared.http,
            session.master,
            transport::Request {
                path: transport::SCHEDULER_PATH,
                body,
                content_type: self.shared.content_type,
                stream_id: Some(&session.stream_id),
                timeout: self.shared.request_timeout,
                max_redirects: self.shared.max_redirects,
                credential: self.shared.credential.as_ref(),
            },
        )
        .await?;
        match response.status() {
            StatusCode::ACCEPTED | StatusCode::OK => {
                tracing::debug!(call = kind.as_str_name(), %master, "call accepted");
                Ok(())
            }
            _ => Err(transport::status_error(master, response).await),
        }
    }

    pub async fn accept(
        &self,
        offer_ids: Vec<OfferId>,
        operations: Vec<Operation>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::accept(offer_ids, operations, filters))
            .await
    }

    /// Accepts one offer to launch `tasks` on it.
    pub async fn launch(
        &self,
        offer_id: OfferId,
        tasks: Vec<TaskInfo>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::launch(offer_id, tasks, filters)).await
    }

    pub async fn decline(
        &self,
        offer_ids: Vec<OfferId>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::decline(offer_ids, filters)).await
    }

    pub async fn revive(&self, roles: Vec<String>) -> Result<(), SchedulerError> {
        self.call(calls::revive(roles)).await
    }

    pub async fn suppress(&self, roles: Vec<String>) -> Result<(), SchedulerError> {
        self.call(calls::suppress(roles)).await
    }

    pub async fn kill(
        &self,
        task_id: TaskId,
        agent_id: Option<AgentId>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::kill(task_id, agent_id)).await
    }

    pub async fn shutdown(
        &self,
        executor_id: ExecutorId,
        agent_id: AgentId,
    ) -> Result<(), SchedulerError> {
        self.call(calls::shutdown(executor_id, agent_id)).await
    }

    pub async fn acknowledge(
        &self,
        agent_id: AgentId,
        task_id: TaskId,
        uuid: Vec<u8>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::acknowledge(agent_id, task_id, uuid)).await
    }

    /// Acknowledges a status update if it asks for it (has a uuid); returns whether it did.
    pub async fn acknowledge_update(&self, status: &TaskStatus) -> Result<bool, SchedulerError> {
        match calls::acknowledge_update(status) {
            Some(call) => self.call(call).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Empty `tasks`: implicit reconciliation of every task the master knows.
    pub async fn reconcile(
        &self,
        tasks: Vec<(TaskId, Option<AgentId>)>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::reconcile(tasks)).await
    }

    pub async fn message(
        &self,
        agent_id: AgentId,
        executor_id: ExecutorId,
        data: Vec<u8>,
    ) -> Result<(), SchedulerError> {
        self.call(calls::message(agent_id, executor_id, data)).await
    }

    /// Removes the framework from the master (its tasks are killed) and stops the library.
    pub async fn teardown(&self) -> Result<(), SchedulerError> {
        self.shared.tearing_down.store(true, Ordering::SeqCst);
        let result = self.call(calls::teardown()).await;
        self.stop();
        result
    }
}

#[cfg(test)]
mod tests;
