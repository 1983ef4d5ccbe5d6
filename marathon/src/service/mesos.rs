//! The service's side of the Mesos scheduler API: subscribing with a failover-able
//! FrameworkInfo, offers to launches, status updates to the tracker, reconciliation.

use std::sync::Arc;
use std::time::Duration;

use mesos_proto::v1;
use mesos_proto::v1::framework_info::{capability, Capability};
use mesos_proto::v1::scheduler::event;
use mesos_scheduler::{calls, detector_for, Events, Scheduler, SchedulerConfig, SchedulerEvent};

use super::persist::FRAMEWORK_ID_KEY;
use super::{now_ms, Internal, Service, ServiceError};
use crate::app::AppDefinition;
use crate::instance::{new_task_id, Condition, Instance, PodTask};
use crate::matcher::{match_offers, OfferDecision, PlannedLaunch};
use crate::pod::{container_task_id, new_instance_id, PodDefinition};
use crate::task_group::{task_group, GroupLaunch};
use crate::task_info::{task_info, Launch};
use crate::wire::{offer_from_proto, status_from_proto};

/// How long a call to the master may take before it fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Service {
    pub(super) fn framework_info(&self) -> v1::FrameworkInfo {
        let kinds = [
            capability::Type::MultiRole,
            capability::Type::PartitionAware,
            capability::Type::TaskKillingState,
            capability::Type::RegionAware,
        ];
        let c = &self.config;
        v1::FrameworkInfo {
            user: c.mesos_user(),
            name: c.framework_name.clone(),
            id: self
                .framework_id
                .clone()
                .map(|value| v1::FrameworkId { value }),
            failover_timeout: Some(c.failover_timeout().as_secs_f64()),
            checkpoint: Some(c.checkpoint()),
            roles: vec![c.mesos_role.clone()],
            hostname: Some(c.hostname()),
            webui_url: Some(
                c.webui_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}:{}", c.hostname(), c.http_port)),
            ),
            principal: c.auth.mesos_principal().ok().flatten(),
            capabilities: kinds
                .into_iter()
                .map(|kind| Capability {
                    r#type: Some(kind as i32),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Starts (or restarts) the subscription; the old one, if any, is stopped.
    pub(super) fn subscribe(&mut self) -> Events {
        if let Some(old) = self.scheduler.take() {
            old.stop();
        }
        let detector = match detector_for(&self.config.master) {
            Ok(d) => d,
            Err(e) => {
                // validate() checked --master; this cannot happen for a started Marathon.
                panic!("--master '{}' cannot be followed: {e}", self.config.master);
            }
        };
        let mut sc = SchedulerConfig::new(self.framework_info());
        // Read at every subscription so that a rotated secret file is picked up.
        match self.config.auth.mesos_credential() {
            Ok(Some(credential)) => sc = sc.with_credential(credential),
            Ok(None) => {}
            Err(e) => tracing::error!("subscribing without a credential: {e}"),
        }
        if !self.tracker.apps().any(|a| a.instances > 0) {
            sc.suppressed_roles = vec![self.config.mesos_role.clone()];
        }
        sc.request_timeout = CALL_TIMEOUT;
        let (scheduler, events) = Scheduler::start(detector as Arc<_>, sc);
        self.scheduler = Some(scheduler);
        events
    }

    /// Handles events in order; runs of status updates are applied together.
    pub(super) async fn on_scheduler_events(
        &mut self,
        events: Vec<SchedulerEvent>,
    ) -> Result<(), ServiceError> {
        let mut updates = vec![];
        for e in events {
            match e {
                SchedulerEvent::Event(ev) if ev.r#type() == event::Type::Update => {
                    if let Some(update) = ev.update {
                        updates.push(update.status);
                    }
                }
                other => {
                    self.on_updates(std::mem::take(&mut updates)).await?;
                    self.on_scheduler_event(other).await?;
                }
            }
        }
        self.on_updates(updates).await
    }

    async fn on_scheduler_event(&mut self, e: SchedulerEvent) -> Result<(), ServiceError> {
        match e {
            SchedulerEvent::Connected {
                framework_id,
                master,
                ..
            } => {
                tracing::info!(framework_id = %framework_id.value, %master, "subscribed to Mesos");
                if self.framework_id.as_deref() != Some(framework_id.value.as_str()) {
                    self.store
                        .put(FRAMEWORK_ID_KEY, framework_id.value.clone().into_bytes())
                        .await?;
                    self.framework_id = Some(framework_id.value);
                }
                let mut effects = vec![self.tracker.offer_interest()];
                // Kills decided while not subscribed (at load, by a plan) were not sent.
                effects.extend(self.tracker.pending_kills());
                self.execute(effects).await?;
                // Reconcile at once what we know, then implicitly after the initial delay.
                self.reconcile_explicit();
                self.next_reconcile_ms =
                    Some(now_ms() + self.config.reconciliation_initial_delay_ms);
            }
            SchedulerEvent::Disconnected { reason } => {
                tracing::warn!("Mesos subscription lost: {reason}");
                // A SUBSCRIBE refused for a removed framework ends the library's stream
                // (it would be refused forever): as for an ERROR, register anew.
                self.forget_removed_framework(&reason).await?;
            }
            SchedulerEvent::Event(ev) => match ev.r#type() {
                event::Type::Offers => {
                    if let Some(offers) = ev.offers {
                        self.on_offers(offers.offers).await?;
                    }
                }
                event::Type::Update => {
                    if let Some(update) = ev.update {
                        self.on_updates(vec![update.status]).await?;
                    }
                }
                event::Type::Error => {
                    let message = ev.error.map(|e| e.message).unwrap_or_default();
                    tracing::error!("Mesos refused the framework: {message}");
                    self.forget_removed_framework(&message).await?;
                }
                _ => {}
            },
        }
        Ok(())
    }

    /// When Mesos says the framework was removed, its id is dead: forget it so the next
    /// subscription registers anew (tasks of the old framework are gone with it).
    async fn forget_removed_framework(&mut self, message: &str) -> Result<(), ServiceError> {
        if message.contains("removed") || message.contains("torn down") {
            self.framework_id = None;
            self.store.delete(FRAMEWORK_ID_KEY).await?;
        }
        Ok(())
    }

    async fn on_offers(&mut self, offers: Vec<v1::Offer>) -> Result<(), ServiceError> {
        let now = now_ms();
        tracing::debug!(offers = offers.len(), "offers");
        let mut converted = Vec::with_capacity(offers.len());
        let mut bad = vec![];
        for o in &offers {
            match offer_from_proto(o) {
                Ok(offer) => {
                    self.agents
                        .insert(offer.agent.id.clone(), offer.agent.clone());
                    converted.push(offer);
                }
                Err(e) => {
                    tracing::warn!(offer = %o.id.value, "unreadable offer declined: {e}");
                    bad.push(o.id.clone());
                }
            }
        }
        let decisions = match_offers(
            &self.tracker,
            &converted,
            &self.agents,
            &mut self.stats,
            &self.matching,
            now,
        );
        let mut declines = bad;
        let mut accepts = vec![];
        let mut provisioned = vec![];
        for d in decisions {
            if d.launches.is_empty() {
                declines.push(v1::OfferId { value: d.offer_id });
                continue;
            }
            let mut tasks = vec![];
            let mut ops = vec![];
            let mut ids = vec![];
            for l in &d.launches {
                let app = self.tracker.app(&l.app_id).expect("matched apps exist");
                if let Some(pod) = &app.pod {
                    let (instance, op) = self.pod_launch(app, pod, &d, l, now);
                    ids.extend(instance.mesos_task_ids());
                    provisioned.push(instance);
                    ops.push(op);
                    continue;
                }
                let task_id = new_task_id(&app.id, uuid::Uuid::new_v4());
                let info = task_info(
                    &Launch {
                        app,
                        task_id: &task_id,
                        agent_id: &d.agent_id,
                        hostname: &d.hostname,
                        resources: &l.resources,
                        host_ports: &l.host_ports,
                        allocation_role: &self.config.mesos_role,
                    },
                    self.config.env_vars_prefix.as_deref().unwrap_or(""),
                );
                provisioned.push(Instance::provisioned(
                    app,
                    task_id.clone(),
                    &d.agent_id,
                    &d.hostname,
                    l.host_ports.clone(),
                    now,
                ));
                ids.push(task_id);
                tasks.push(info);
            }
            if !tasks.is_empty() {
                ops.insert(0, calls::launch_operation(tasks));
            }
            accepts.push((
                v1::OfferId {
                    value: d.offer_id.clone(),
                },
                ops,
                ids,
            ));
        }
        // Persisted before launched: a task Marathon launched is never unknown to it.
        let mut effects = self.tracker.provisioned(provisioned);
        effects.extend(self.tracker.converge(now));
        self.execute(effects).await?;
        let Some(scheduler) = self.scheduler.clone() else {
            return Ok(());
        };
        let refuse = self.config.decline_offer_duration().as_secs_f64();
        if !declines.is_empty() {
            let s = scheduler.clone();
            tokio::spawn(async move {
                if let Err(e) = s.decline(declines, Some(calls::refuse_for(refuse))).await {
                    tracing::debug!("decline failed: {e}");
                }
            });
        }
        // The unused rest of an accepted offer comes back at the next allocation, as Marathon
        // asks (refuse_seconds 0): the master's default filter would keep that agent away for
        // 5 s and stall every launch wave behind it.
        for (offer_id, ops, ids) in accepts {
            let s = scheduler.clone();
            let filters = Some(calls::refuse_for(0.0));
            let internal = self.internal_tx.clone();
            tokio::spawn(async move {
                if let Err(e) = s.accept(vec![offer_id], ops, filters).await {
                    tracing::warn!("launch failed: {e}");
                    let _ = internal.send(Internal::LaunchFailed {
                        task_ids: ids,
                        reason: format!("the launch call failed: {e}"),
                    });
                }
            });
        }
        Ok(())
    }

    async fn on_updates(&mut self, statuses: Vec<v1::TaskStatus>) -> Result<(), ServiceError> {
        if statuses.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut effects = vec![];
        let mut health_events = vec![];
        for status in &statuses {
            // A pod's task updates its instance, which is what the rest follows.
            let update = self
                .tracker
                .instance_update(&status_from_proto(status, now));
            tracing::debug!(task = %update.task_id, state = %update.state, "status update");
            let before = self.before_status(&update);
            effects.extend(self.tracker.on_status(&update, now));
            self.publish_status(&update, before);
            if let Some(healthy) = update.healthy {
                health_events.extend(self.mesos_health(&update.task_id, healthy, now, true));
            }
        }
        // Persisted before acknowledged: an update lost here is sent again by Mesos.
        self.execute(effects).await?;
        self.on_health_events(health_events, now).await?;
        // A deployment moves on as soon as its tasks do, not at the next tick.
        self.run_deployments().await?;
        if let Some(s) = self.scheduler.clone() {
            tokio::spawn(async move {
                for status in statuses {
                    if let Err(e) = s.acknowledge_update(&status).await {
                        tracing::debug!("acknowledge failed: {e}");
                    }
                }
            });
        }
        Ok(())
    }

    /// A pod instance to launch from an offer: the instance (one task per container, as
    /// provisioned) and its LAUNCH_GROUP.
    fn pod_launch(
        &self,
        app: &AppDefinition,
        pod: &PodDefinition,
        d: &OfferDecision,
        l: &PlannedLaunch,
        now: u64,
    ) -> (Instance, v1::offer::Operation) {
        let instance_id = new_instance_id(&pod.id, uuid::Uuid::new_v4());
        let (executor, tasks) = task_group(&GroupLaunch {
            pod,
            instance_id: &instance_id,
            agent_id: &d.agent_id,
            resources: &l.resources,
            host_ports: &l.host_ports,
            allocation_role: &self.config.mesos_role,
        });
        let mut instance = Instance::provisioned(
            app,
            instance_id.clone(),
            &d.agent_id,
            &d.hostname,
            l.host_ports.clone(),
            now,
        );
        instance.pod_tasks = pod
            .containers
            .iter()
            .map(|c| {
                let task = PodTask {
                    container: c.name.clone(),
                    condition: Condition::Provisioned,
                    checked: c.health_check.is_some(),
                    healthy: None,
                    since: now,
                    message: None,
                };
                (container_task_id(&instance_id, &c.name), task)
            })
            .collect();
        (instance, calls::launch_group_operation(executor, tasks))
    }

    fn reconcile_explicit(&self) {
        let Some(s) = self.scheduler.clone() else {
            return;
        };
        let tasks: Vec<(v1::TaskId, Option<v1::AgentId>)> = self
            .tracker
            // By then a launch call has reached the master or failed (and its
            // instance was dropped).
            .reconcile_list(now_ms(), 2 * CALL_TIMEOUT.as_millis() as u64)
            .into_iter()
            .map(|(t, a)| {
                (
                    v1::TaskId { value: t },
                    a.map(|value| v1::AgentId { value }),
                )
            })
            .collect();
        if tasks.is_empty() {
            return;
        }
        tokio::spawn(async move {
            if let Err(e) = s.reconcile(tasks).await {
                tracing::debug!("explicit reconciliation failed: {e}");
            }
        });
    }

    /// Explicit reconciliation of every known task, then implicit (the master reports
    /// every task of the framework, and the unknown ones are killed).
    pub(super) fn reconcile(&self) {
        self.reconcile_explicit();
        if let Some(s) = self.scheduler.clone() {
            tokio::spawn(async move {
                if let Err(e) = s.reconcile(vec![]).await {
                    tracing::debug!("implicit reconciliation failed: {e}");
                }
            });
        }
    }
}
