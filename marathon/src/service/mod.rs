//! The leading Marathon: one actor that owns the tracker, the store and the Mesos
//! subscription, and serialises every change.
//!
//! ```text
//!   HTTP ──Command (reply channel)──▶ ┌─────────┐ ──store.apply (awaited)──▶ Store
//!   Mesos events ───────────────────▶ │ Service │ ──calls (spawned)────────▶ Mesos master
//!   tick (every 250 ms) ────────────▶ └─────────┘
//! ```
//!
//! Changes are persisted before they are acknowledged to a client, and instances before
//! their tasks are launched, so a kill -9 loses nothing acknowledged and leaves no task
//! unknown. Calls to the master are spawned so a slow master never stalls the API; a
//! failed launch comes back as an internal TASK_DROPPED.

mod changes;
mod deployments;
mod events;
mod groups;
mod health;
mod mesos;
mod persist;
mod readiness;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesos_scheduler::Scheduler;
use tokio::sync::{mpsc, oneshot};

use crate::app::validate::Violation;
use crate::app::PathId;
use crate::config::Config;
use crate::event_bus::EventBus;
use crate::group::GroupRecord;
use crate::health::HealthMonitor;
use crate::matcher::MatchConfig;
use crate::placement::{Agent, OfferStats, PlacementConfig};
use crate::storage::{Store, StoreError};
use crate::tracker::{StatusUpdate, Tracker, TrackerConfig};

pub use crate::deployment::Deployment;
pub use changes::{AppChange, ChangeMode, ChangeResult};
pub use events::ApiOrigin;
pub use groups::{GroupAnswer, GroupRequest};

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("App '{0}' does not exist")]
    UnknownApp(PathId),
    #[error("Pod '{0}' does not exist")]
    UnknownPod(PathId),
    #[error("An app with id [{0}] already exists.")]
    AppExists(PathId),
    #[error("App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<ID>'.")]
    Locked { deployments: Vec<String> },
    #[error("Object is not valid")]
    Invalid(Vec<Violation>),
    #[error("Task '{0}' does not exist")]
    UnknownTask(String),
    #[error("Application {0} not found in tasks queue.")]
    NotQueued(PathId),
    #[error("DeploymentPlan {0} does not exist")]
    UnknownDeployment(String),
    #[error("Group '{0}' does not exist")]
    UnknownGroup(PathId),
    /// 409 with this message (a group or app already there).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The tasks a kill found, and the scale-down deployment if it scaled.
pub type KilledTasks = (Vec<String>, Option<ChangeResult>);

/// A boxed reader of the service's state, run on the actor.
pub type Reader = Box<dyn FnOnce(&Service) + Send>;

/// What the HTTP edge asks of the service.
pub enum Command {
    Read(Reader),
    Change {
        changes: Vec<AppChange>,
        force: bool,
        /// Who asked, for `api_post_event` (single app create or update only).
        origin: Option<ApiOrigin>,
        reply: oneshot::Sender<Result<ChangeResult, ServiceError>>,
    },
    KillTasks {
        task_ids: Vec<String>,
        scale: bool,
        wipe: bool,
        force: bool,
        reply: oneshot::Sender<Result<KilledTasks, ServiceError>>,
    },
    ResetDelay {
        app: PathId,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    CancelDeployment {
        id: String,
        force: bool,
        reply: oneshot::Sender<Result<Option<ChangeResult>, ServiceError>>,
    },
    AppVersions {
        app: PathId,
        reply: oneshot::Sender<Result<Vec<String>, ServiceError>>,
    },
    AppVersion {
        app: PathId,
        version: String,
        reply: oneshot::Sender<Result<Option<crate::app::AppDefinition>, ServiceError>>,
    },
    Group {
        request: GroupRequest,
        reply: oneshot::Sender<Result<GroupAnswer, ServiceError>>,
    },
}

/// Handle the HTTP edge uses.
#[derive(Clone)]
pub struct ServiceHandle {
    tx: mpsc::Sender<Command>,
}

impl ServiceHandle {
    pub fn new(tx: mpsc::Sender<Command>) -> ServiceHandle {
        ServiceHandle { tx }
    }

    pub async fn send(&self, command: Command) -> bool {
        self.tx.send(command).await.is_ok()
    }

    /// Sends the command `make` builds around a reply channel, and waits for the reply
    /// (None if the service is gone or lost leadership meanwhile).
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Runs `f` on the service and returns what it computed (None if the service is gone).
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Service) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let reader: Reader = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        self.tx.send(Command::Read(reader)).await.ok()?;
        rx.await.ok()
    }
}

/// Internal messages from spawned calls back to the actor.
enum Internal {
    LaunchFailed {
        task_ids: Vec<String>,
        reason: String,
    },
    /// A health probe's outcome.
    HealthResult {
        task_id: String,
        check: usize,
        outcome: crate::health::Outcome,
    },
    /// A readiness check (the `index`-th of its app) answered.
    Readiness {
        index: usize,
        result: crate::deployment::readiness::ReadinessResult,
    },
}

pub struct Service {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    tracker: Tracker,
    health: HealthMonitor,
    probe_client: reqwest::Client,
    scheduler: Option<Scheduler>,
    framework_id: Option<String>,
    /// Agents seen in offers, for the attributes constraints read.
    agents: BTreeMap<String, Agent>,
    stats: BTreeMap<PathId, OfferStats>,
    deployments: BTreeMap<String, Deployment>,
    readiness: readiness::Readiness,
    /// For the checks Marathon makes itself.
    http: reqwest::Client,
    matching: MatchConfig,
    next_reconcile_ms: Option<u64>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    started_ms: u64,
    /// Where events go (`/v2/events`).
    events: Arc<EventBus>,
    /// Groups stored on their own (with dependencies); the others follow from app ids.
    groups: BTreeMap<PathId, GroupRecord>,
    /// Plans of running deployments as their events show them (root group before and
    /// after), kept only while somebody listens.
    event_plans: BTreeMap<String, crate::events::Plan>,
    /// The API request a change being made came from.
    api_origin: Option<ApiOrigin>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Service {
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    pub fn health(&self) -> &HealthMonitor {
        &self.health
    }

    pub fn framework_id(&self) -> Option<&str> {
        self.framework_id.as_deref()
    }

    pub fn offer_stats(&self, app: &PathId) -> Option<&OfferStats> {
        self.stats.get(app)
    }

    pub fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.deployments.values()
    }

    /// Ids of the deployments that affect `app`.
    pub fn deployments_of(&self, app: &PathId) -> Vec<String> {
        self.deployments
            .values()
            .filter(|d| d.affects(app))
            .map(|d| d.id.clone())
            .collect()
    }

    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    pub fn is_subscribed(&self) -> bool {
        self.scheduler
            .as_ref()
            .is_some_and(Scheduler::is_subscribed)
    }
}

/// How long after the scheduler library gave up (the master refused the framework or its
/// credential) Marathon subscribes again.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(2);

/// Loads the state from `store`, subscribes to Mesos and serves commands until
/// `commands` closes or `stop` fires. Returns Err when the store fails for good (the
/// caller steps down).
pub async fn run(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    events: Arc<EventBus>,
    mut commands: mpsc::Receiver<Command>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    let (internal_tx, mut internal_rx) = mpsc::unbounded_channel();
    let matching = MatchConfig {
        placement: PlacementConfig {
            framework_role: config.mesos_role.clone(),
            max_instances_per_offer: config.max_instances_per_offer as usize,
            ..PlacementConfig::default()
        },
        // validate() checked the flag at start.
        default_accepted_roles: config
            .default_accepted_resource_roles()
            .ok()
            .flatten()
            .unwrap_or_default(),
        strategy: config.placement_strategy,
    };
    let mut service = Service {
        tracker: Tracker::new(TrackerConfig {
            task_launch_timeout_ms: config.task_launch_timeout_ms,
        }),
        health: HealthMonitor::new(),
        probe_client: health::probe_client(),
        config: config.clone(),
        store,
        scheduler: None,
        framework_id: None,
        agents: BTreeMap::new(),
        stats: BTreeMap::new(),
        deployments: BTreeMap::new(),
        readiness: readiness::Readiness::default(),
        http: readiness::client(),
        matching,
        next_reconcile_ms: None,
        internal_tx,
        started_ms: now_ms(),
        events,
        groups: BTreeMap::new(),
        event_plans: BTreeMap::new(),
        api_origin: None,
    };
    service.load_groups().await?;
    service.load().await?;
    let mut events = service.subscribe();
    // Set while waiting to subscribe again after the library gave up (a refused
    // credential would otherwise be retried in a tight loop).
    let mut resubscribe: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            command = commands.recv() => match command {
                Some(c) => service.handle(c).await?,
                None => break,
            },
            () = async { resubscribe.as_mut().expect("guarded").await }, if resubscribe.is_some() => {
                resubscribe = None;
                events = service.subscribe();
            }
            event = events.next(), if resubscribe.is_none() => match event {
                Some(e) => {
                    // Whatever else already arrived is handled with it: status updates
                    // in one batch share one store write.
                    let mut batch = vec![e];
                    while batch.len() < 1024 {
                        match futures::FutureExt::now_or_never(events.next()) {
                            Some(Some(more)) => batch.push(more),
                            _ => break,
                        }
                    }
                    service.on_scheduler_events(batch).await?
                }
                None => {
                    tracing::warn!("the Mesos subscription ended; subscribing again in {RESUBSCRIBE_DELAY:?}");
                    resubscribe = Some(Box::pin(tokio::time::sleep(RESUBSCRIBE_DELAY)));
                }
            },
            Some(internal) = internal_rx.recv() => service.on_internal(internal).await?,
            _ = tick.tick() => service.on_tick(now_ms()).await?,
        }
    }
    if let Some(s) = &service.scheduler {
        s.stop();
    }
    Ok(())
}

impl Service {
    async fn handle(&mut self, command: Command) -> Result<(), ServiceError> {
        match command {
            Command::Read(f) => f(self),
            Command::Change {
                changes,
                force,
                origin,
                reply,
            } => {
                self.api_origin = origin;
                let result = self.change_apps(changes, force, None).await;
                self.api_origin = None;
                let fatal = matches!(&result, Err(ServiceError::Store(e)) if !e.is_unavailable());
                let _ = reply.send(result);
                if fatal {
                    return Err(ServiceError::Store(StoreError::Fatal {
                        reason: "store failed during a change".into(),
                    }));
                }
            }
            Command::KillTasks {
                task_ids,
                scale,
                wipe,
                force,
                reply,
            } => {
                let _ = reply.send(self.kill_tasks(task_ids, scale, wipe, force).await);
            }
            Command::ResetDelay { app, reply } => {
                let result = if self.tracker.app(&app).is_some()
                    && self.tracker.waiting_since(&app).is_some()
                {
                    self.tracker.reset_delay(&app);
                    let effects = self.tracker.converge(now_ms());
                    self.execute(effects).await?;
                    Ok(())
                } else {
                    Err(ServiceError::NotQueued(app))
                };
                let _ = reply.send(result);
            }
            Command::CancelDeployment { id, force, reply } => {
                let _ = reply.send(self.cancel_deployment(&id, force).await);
            }
            Command::AppVersions { app, reply } => {
                let _ = reply.send(self.versions_of(&app).await);
            }
            Command::AppVersion {
                app,
                version,
                reply,
            } => {
                let _ = reply.send(self.load_version(&app, &version).await);
            }
            Command::Group { request, reply } => {
                let _ = reply.send(self.group_request(request).await);
            }
        }
        Ok(())
    }

    async fn on_internal(&mut self, internal: Internal) -> Result<(), ServiceError> {
        match internal {
            Internal::LaunchFailed { task_ids, reason } => {
                let now = now_ms();
                for task_id in task_ids {
                    let update = StatusUpdate {
                        task_id,
                        agent_id: None,
                        state: "TASK_DROPPED".into(),
                        message: Some(reason.clone()),
                        healthy: None,
                        ip_addresses: vec![],
                        timestamp_ms: now,
                    };
                    let update = self.tracker.instance_update(&update);
                    let effects = self.tracker.on_status(&update, now);
                    self.execute(effects).await?;
                }
            }
            Internal::HealthResult {
                task_id,
                check,
                outcome,
            } => self.on_probe_result(&task_id, check, outcome).await?,
            Internal::Readiness { index, result } => self.on_readiness(index, result).await?,
        }
        Ok(())
    }

    async fn on_tick(&mut self, now: u64) -> Result<(), ServiceError> {
        let effects = self.tracker.tick(now);
        self.execute(effects).await?;
        self.run_due_probes(now);
        self.run_deployments().await?;
        self.run_readiness_checks(now);
        if self.next_reconcile_ms.is_some_and(|t| now >= t) && self.is_subscribed() {
            self.reconcile();
            self.next_reconcile_ms = Some(now + self.config.reconciliation_interval_ms);
        }
        Ok(())
    }
}
