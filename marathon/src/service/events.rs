//! What the service tells the event bus, and when. Every call is one line at the place
//! the thing happens; each builds nothing when no `/v2/events` client listens.
//!
//! ```text
//!   API change    ─▶ api_post_event (single app create/update), before its deployment's
//!   status update ─▶ status_update_event, instance_changed_event (condition changed),
//!                    unknown_instance_terminated_event (unknown task ended)
//!   deployment    ─▶ add_health_check_event / remove_health_check_event of its apps,
//!                    deployment_info per step started, deployment_step_success per step,
//!                    deployment_success | deployment_failed (cancelled or replaced)
//!   app removed   ─▶ app_terminated_event (once its last instance is gone)
//!   health event  ─▶ health_status_changed_event (+ instance_health_changed_event),
//!                    failed_health_check_event, unhealthy_instance_kill_event
//! ```

use serde_json::Value;

use super::{Deployment, Service};
use crate::app::PathId;
use crate::events::{EventKind, Plan};
use crate::group::view::root_json;
use crate::health::HealthEvent;
use crate::instance::{app_of_task_id, instance_id_of, Condition, Instance};
use crate::tracker::StatusUpdate;

/// The request behind an app create or update (`api_post_event`'s `clientIp`, `uri`).
#[derive(Debug, Clone)]
pub struct ApiOrigin {
    pub client_ip: String,
    pub uri: String,
}

impl Service {
    /// Publishes `kind` on the event bus (for code outside this module, e.g. health
    /// checks: `self.publish(EventKind::HealthStatusChangedEvent { .. })`).
    pub fn publish(&self, kind: EventKind) {
        self.events.publish(kind);
    }

    /// The root group now, if anybody listens (a plan's `original`, taken before a
    /// change).
    pub(super) fn root_if_listened(&self) -> Option<Value> {
        self.events
            .is_listened()
            .then(|| root_json(&self.group_tree()))
    }

    /// The instance a status update is about, before the tracker applies it.
    pub(super) fn before_status(&self, update: &StatusUpdate) -> Option<Instance> {
        if !self.events.is_listened() {
            return None;
        }
        self.tracker.instance(&update.task_id).cloned()
    }

    /// The events of a status update the tracker has applied; `before` from
    /// [`Service::before_status`].
    pub(super) fn publish_status(&self, update: &StatusUpdate, before: Option<Instance>) {
        if !self.events.is_listened() {
            return;
        }
        let condition = Condition::from_mesos(&update.state);
        let after = match (self.tracker.instance(&update.task_id), before.as_ref()) {
            (Some(now), _) => now.clone(),
            (None, Some(was)) => Instance {
                condition,
                ..was.clone()
            },
            (None, None) => {
                if condition.is_terminal() {
                    if let Some(app) = app_of_task_id(&update.task_id) {
                        self.publish(EventKind::UnknownInstanceTerminatedEvent {
                            instance_id: instance_id_of(&update.task_id).to_string(),
                            run_spec_id: app,
                            condition: condition.name().to_string(),
                        });
                    }
                }
                return;
            }
        };
        self.publish(EventKind::status_update(update, &after));
        let Some(before) = before else { return };
        if before.condition != after.condition {
            self.publish(EventKind::instance_changed(&after));
        }
    }

    /// The event of a health event (health checks run by Marathon or by Mesos), and
    /// `instance_health_changed_event` when the instance's health changed with it.
    pub(super) fn publish_health(&self, event: &HealthEvent) {
        if !self.events.is_listened() {
            return;
        }
        let kind = match event {
            HealthEvent::StatusChanged {
                app_id,
                task_id,
                instance_id,
                version,
                alive,
            } => {
                self.publish(EventKind::InstanceHealthChangedEvent {
                    instance_id: instance_id.clone(),
                    run_spec_id: app_id.clone(),
                    healthy: self.tracker.instance(task_id).and_then(|i| i.healthy),
                    run_spec_version: version.clone(),
                });
                EventKind::HealthStatusChangedEvent {
                    app_id: app_id.clone(),
                    instance_id: instance_id.clone(),
                    version: version.clone(),
                    alive: *alive,
                }
            }
            HealthEvent::FailedCheck {
                app_id,
                instance_id,
                check,
                ..
            } => EventKind::FailedHealthCheckEvent {
                app_id: app_id.clone(),
                task_id: instance_id.clone(),
                health_check: serde_json::to_value(check).unwrap_or(Value::Null),
            },
            HealthEvent::KillUnhealthy {
                app_id,
                task_id,
                instance_id,
                version,
                reason,
                host,
                agent_id,
                ..
            } => EventKind::UnhealthyInstanceKillEvent {
                app_id: app_id.clone(),
                task_id: task_id.clone(),
                instance_id: instance_id.clone(),
                version: version.clone(),
                reason: reason.clone(),
                host: host.clone(),
                slave_id: (!agent_id.is_empty()).then(|| agent_id.clone()),
            },
        };
        self.publish(kind);
    }

    fn plan_of(&self, d: &Deployment, original: Option<Value>) -> Plan {
        let target = root_json(&self.group_tree());
        Plan::new(
            &d.id,
            &d.version,
            original.unwrap_or_else(|| target.clone()),
            target,
            &d.steps,
        )
    }

    /// A deployment was created and its first step started: `deployment_info`.
    /// `original` from [`Service::root_if_listened`] before the change.
    /// An API change's `api_post_event`s come first, one per app it created or changed.
    pub(super) fn deployment_started(&mut self, d: &Deployment, original: Option<Value>) {
        if !self.events.is_listened() {
            return;
        }
        if let Some(origin) = self.api_origin.take() {
            for (id, before) in &d.original {
                let (client_ip, uri) = (origin.client_ip.clone(), origin.uri.clone());
                let event = match (self.tracker.app(id), before) {
                    (Some(app), _) if !app.is_pod() => {
                        EventKind::api_post(&origin.client_ip, &origin.uri, app)
                    }
                    (Some(_), None) => EventKind::PodCreatedEvent { client_ip, uri },
                    (Some(_), Some(_)) => EventKind::PodUpdatedEvent { client_ip, uri },
                    (None, Some(b)) if b.is_pod() => EventKind::PodDeletedEvent { client_ip, uri },
                    (None, _) => continue,
                };
                self.publish(event);
            }
        }
        // Health checks of the apps as they become (Marathon's manager adds them as the
        // deployment starts) and of the apps it removes.
        for (id, before) in &d.original {
            match self.tracker.app(id) {
                Some(app) => {
                    for check in &app.health_checks {
                        self.publish(EventKind::AddHealthCheckEvent {
                            app_id: id.clone(),
                            version: app.version.clone(),
                            health_check: serde_json::to_value(check).unwrap_or(Value::Null),
                        });
                    }
                }
                None if before.as_ref().is_some_and(|b| !b.health_checks.is_empty()) => {
                    self.publish(EventKind::RemoveHealthCheckEvent { app_id: id.clone() });
                }
                None => {}
            }
        }
        let plan = self.plan_of(d, original);
        self.publish(EventKind::DeploymentInfo {
            current_step: plan.step(d.current_step),
            plan: plan.clone(),
        });
        self.event_plans.insert(d.id.clone(), plan);
    }

    /// A running deployment `id` moved on from step `from` (0-based): a step success per
    /// step done, then `deployment_info` of the step now running, or, `finished`,
    /// `app_terminated_event` for each app it removed and `deployment_success`.
    pub(super) fn deployment_progressed(&mut self, id: &str, from: usize, finished: bool) {
        let Some(d) = self.deployments.get(id).cloned() else {
            return;
        };
        let plan = if finished {
            self.event_plans.remove(id)
        } else {
            self.event_plans.get(id).cloned()
        };
        if !self.events.is_listened() {
            return;
        }
        let plan = plan.unwrap_or_else(|| self.plan_of(&d, None));
        let done = if finished {
            d.steps.len()
        } else {
            d.current_step
        };
        for i in from..done {
            self.publish(EventKind::DeploymentStepSuccess {
                plan: plan.clone(),
                current_step: plan.step(i),
            });
        }
        if !finished {
            self.publish(EventKind::DeploymentInfo {
                current_step: plan.step(d.current_step),
                plan,
            });
            return;
        }
        for (app, _) in &d.original {
            if self.tracker.app(app).is_none() {
                self.publish(EventKind::AppTerminatedEvent {
                    app_id: app.clone(),
                });
            }
        }
        self.publish(EventKind::DeploymentSuccess {
            id: d.id.clone(),
            plan,
        });
    }

    /// A deployment was cancelled or replaced before it finished: `deployment_failed`.
    pub(super) fn deployment_failed(&mut self, d: &Deployment, reason: &str) {
        let plan = self.event_plans.remove(&d.id);
        if !self.events.is_listened() {
            return;
        }
        let plan = plan.unwrap_or_else(|| self.plan_of(d, None));
        self.publish(EventKind::DeploymentFailed {
            id: d.id.clone(),
            plan,
            reason: Some(reason.to_string()),
        });
    }

    /// `group_change_success` for a group change the API accepted.
    pub(super) fn group_changed(&self, group: &PathId, version: &str) {
        self.publish(EventKind::GroupChangeSuccess {
            group_id: group.clone(),
            version: version.to_string(),
        });
    }
}
