//! Running deployments: every change becomes a plan ([`crate::deployment`]) that is
//! persisted with the step it is at, and moves on after every change, status batch and
//! tick. The pure runner decides; this edge persists, holds apps in the tracker and kills.
//!
//! ```text
//!   change ──deploy()──▶ plan ──store (apps, versions, plan: one write)──▶ tracker.put_app
//!   status / tick ──run_deployments()──▶ Deployment::progress ──▶ holds, kills, next step
//! ```
//!
//! A new leader loads the plans with the apps and runs them before its first converge, so
//! an app in the middle of a rolling restart is never restarted all at once by a failover.

use std::collections::BTreeMap;

use super::groups::GroupWrite;
use super::persist::{app_key, deployment_key, put_app, version_prefix};
use super::readiness::Readiness;
use super::{now_ms, ChangeResult, Service, ServiceError};
use crate::app::validate::Violation;
use crate::app::{AppDefinition, PathId};
use crate::deployment::plan::Action;
use crate::deployment::readiness::ReadinessResult;
use crate::deployment::runner::GroupChange;
use crate::deployment::runner::{observe, ActionStatus, AppState, Observed};
use crate::deployment::Deployment;
use crate::group::revert::revert;
use crate::group::{deps, GroupRecord, Tree};
use crate::instance::Condition;
use crate::storage::Op;
use crate::tracker::{Hold, Tracker};

/// An affected app as the runner sees it: its alive instances, observed.
pub(super) fn app_state<'a>(
    tracker: &'a Tracker,
    readiness: &Readiness,
    id: &PathId,
) -> AppState<'a> {
    let app = tracker.app(id);
    let instances = tracker
        .instances_of(id)
        // Unreachable past inactiveAfterSeconds is replaced, as if gone.
        .filter(|i| !i.condition.is_terminal() && i.condition != Condition::UnreachableInactive)
        .map(|i| match app {
            Some(a) => observe(i, a, readiness.is_ready(i, a)),
            None => Observed {
                task_id: &i.task_id,
                current: false,
                killing: i.kill_requested_at.is_some(),
                healthy: false,
                staged_at: i.staged_at,
            },
        })
        .collect();
    AppState { app, instances }
}

/// Every dependency of a changed app names an app or a group of `target`, and no
/// dependency (of apps or groups, expanded) goes round in a cycle.
fn check_dependencies(
    targets: &[(PathId, Option<AppDefinition>)],
    target: &Tree,
) -> Result<(), ServiceError> {
    let groups = target.group_ids();
    let at = |id: &PathId, rest: &str| {
        if targets.len() > 1 {
            format!("{id}{rest}")
        } else {
            rest.to_string()
        }
    };
    let mut violations = vec![];
    for (id, app) in targets {
        let Some(app) = app else { continue };
        for (i, dep) in app.dependencies.iter().enumerate() {
            if !target.apps.contains_key(dep) && !groups.contains(dep) {
                violations.push(Violation {
                    path: at(id, &format!("/dependencies({i})")),
                    errors: vec![format!(
                        "Dependency '{dep}' of '{id}' is neither an app nor a group"
                    )],
                });
            }
        }
    }
    if violations.is_empty() {
        let graph = deps::effective(target, &BTreeMap::new(), false).unwrap_or_default();
        for id in graph.on_cycles() {
            violations.push(Violation {
                path: at(&id, "/dependencies"),
                errors: vec![format!(
                    "Dependency graph has cyclic dependencies: '{id}' depends on itself through its dependencies"
                )],
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(violations))
    }
}

impl Service {
    /// Where an action of a running deployment stands now.
    pub fn action_status(&self, action: &Action) -> ActionStatus {
        Deployment::status(
            action,
            &app_state(&self.tracker, &self.readiness, &action.app),
        )
    }

    /// Every readiness check of `app` passed for `instance` (or it has none).
    pub fn is_ready(&self, instance: &crate::instance::Instance, app: &AppDefinition) -> bool {
        self.readiness.is_ready(instance, app)
    }

    /// The latest readiness results for the instances of `app`.
    pub fn readiness_results<'a>(
        &'a self,
        app: &'a PathId,
    ) -> impl Iterator<Item = &'a ReadinessResult> {
        self.readiness.results(&self.tracker, app)
    }

    /// Starts a deployment that takes each of `targets` to its new definition (None:
    /// removed), replacing the deployments `replacing` (forced). Steps follow the apps'
    /// and groups' dependencies over the whole tree (leaves first). Apps, their versions,
    /// the plan and, for a group change, the groups are written in one batch (the commit
    /// point), then handed to the tracker.
    pub(super) async fn deploy(
        &mut self,
        targets: Vec<(PathId, Option<AppDefinition>)>,
        replacing: &[String],
        version: String,
        groups: Option<GroupWrite>,
    ) -> Result<Deployment, ServiceError> {
        let now = now_ms();
        let original_root = self.root_if_listened();
        let original = Tree {
            apps: self.apps(),
            groups: self.groups.clone(),
        };
        let target = Tree {
            apps: with_targets(original.apps.clone(), &targets),
            groups: match &groups {
                Some(g) => g.groups.clone(),
                None => self.groups.clone(),
            },
        };
        check_dependencies(&targets, &target)?;
        let steps = deps::plan_between(&original, &target).map_err(|e| {
            ServiceError::Invalid(vec![Violation {
                path: "/dependencies".into(),
                errors: vec![e.to_string()],
            }])
        })?;
        let mut ops: Vec<Op> = replacing
            .iter()
            .map(|d| Op::delete(deployment_key(d)))
            .collect();
        for (id, app) in &targets {
            match app {
                Some(app) => {
                    ops.extend(self.prune_versions(id).await?);
                    ops.extend(put_app(app));
                }
                None => {
                    ops.push(Op::delete(app_key(id)));
                    for key in self.store.list(&version_prefix(id)).await? {
                        ops.push(Op::delete(key));
                    }
                }
            }
        }
        let deployment = Deployment {
            id: uuid::Uuid::new_v4().to_string(),
            version,
            steps,
            current_step: 0,
            original: targets
                .iter()
                .map(|(id, _)| (id.clone(), original.apps.get(id).cloned()))
                .collect(),
            groups: (original.groups != target.groups).then(|| GroupChange {
                original: original.groups.values().cloned().collect(),
                target: target.groups.values().cloned().collect(),
            }),
        };
        ops.push(Op::put(
            deployment_key(&deployment.id),
            serde_json::to_vec(&deployment).expect("deployments serialize"),
        ));
        let groups = match groups {
            Some(write) => {
                let (more, records) = self
                    .group_ops(write, &target.apps, &deployment.version)
                    .await?;
                ops.extend(more);
                Some(records)
            }
            None => None,
        };
        // The commit point: from here the change is acknowledged.
        self.store.apply(ops).await?;
        if let Some(records) = groups {
            self.groups = records;
        }
        for d in replacing {
            tracing::info!(deployment = %d, replaced_by = %deployment.id, "deployment replaced");
            if let Some(replaced) = self.deployments.remove(d) {
                self.deployment_failed(&replaced, "replaced by a newer deployment");
            }
        }
        // Frozen until the plan says otherwise: the tracker alone would replace every
        // outdated instance at once.
        let mut effects = vec![];
        for (id, _) in &targets {
            effects.extend(self.tracker.set_hold(id, Some(Hold::Frozen), now));
        }
        for (id, app) in targets {
            effects.extend(match app {
                Some(app) => self.tracker.put_app(app, now),
                None => self.tracker.remove_app(&id, now),
            });
        }
        self.stats.retain(|id, _| self.tracker.app(id).is_some());
        self.execute(effects).await?;
        tracing::info!(deployment = %deployment.id, steps = deployment.steps.len(), "deployment started");
        self.deployment_started(&deployment, original_root);
        self.deployments
            .insert(deployment.id.clone(), deployment.clone());
        self.run_deployments().await?;
        Ok(deployment)
    }

    /// Moves every deployment on as far as its apps allow: persists the steps reached,
    /// forgets finished plans, sets the tracker's holds and kills what rolling restarts
    /// let go.
    pub(super) async fn run_deployments(&mut self) -> Result<(), ServiceError> {
        let now = now_ms();
        let mut kills = vec![];
        let mut holds: BTreeMap<PathId, Option<Hold>> = BTreeMap::new();
        let mut moved = vec![];
        let mut finished = vec![];
        // (deployment, step it was at, finished) for the event stream.
        let mut stepped = vec![];
        {
            let tracker = &self.tracker;
            let readiness = &self.readiness;
            for d in self.deployments.values_mut() {
                let before = d.current_step;
                let p = d.progress(|id| app_state(tracker, readiness, id));
                kills.extend(p.kill);
                for (id, hold) in p.holds {
                    // An app held by an unfinished plan keeps that hold.
                    let slot = holds.entry(id).or_insert(None);
                    if slot.is_none() {
                        *slot = hold;
                    }
                }
                if p.finished || d.current_step != before {
                    stepped.push((d.id.clone(), before, p.finished));
                }
                if p.finished {
                    finished.push(d.id.clone());
                } else if d.current_step != before {
                    moved.push(d.id.clone());
                }
            }
        }
        for id in self.tracker.held() {
            holds.entry(id.clone()).or_insert(None);
        }
        let mut ops: Vec<Op> = finished
            .iter()
            .map(|id| Op::delete(deployment_key(id)))
            .collect();
        for id in &moved {
            let d = &self.deployments[id];
            tracing::info!(deployment = %id, step = d.current_step + 1, of = d.steps.len(), "deployment step");
            ops.push(Op::put(
                deployment_key(id),
                serde_json::to_vec(d).expect("deployments serialize"),
            ));
        }
        if !ops.is_empty() {
            self.store.apply(ops).await?;
        }
        for (id, from, done) in stepped {
            self.deployment_progressed(&id, from, done);
        }
        for id in &finished {
            tracing::info!(deployment = %id, "deployment finished");
            self.deployments.remove(id);
        }
        let mut effects = vec![];
        for (id, hold) in holds {
            effects.extend(self.tracker.set_hold(&id, hold, now));
        }
        if !kills.is_empty() {
            tracing::info!(tasks = ?kills, "rolling restart: killing old instances");
            effects.extend(self.tracker.kill(&kills, now));
        }
        self.execute(effects).await?;
        self.readiness.forget_gone(&self.tracker);
        Ok(())
    }

    /// Every app by id, as the tracker has them.
    fn apps(&self) -> BTreeMap<PathId, AppDefinition> {
        self.tracker
            .apps()
            .map(|a| (a.id.clone(), a.clone()))
            .collect()
    }

    /// `DELETE /v2/deployments/{id}`: with `force` the deployment is only forgotten;
    /// without, a new deployment takes its apps back to how they were (their config as it
    /// was, so the instances of that config are kept and the new ones go), and reverts
    /// what it changed in the groups (Marathon's `DeploymentPlan.revert`: groups it
    /// created go, dependencies come back).
    pub(super) async fn cancel_deployment(
        &mut self,
        id: &str,
        force: bool,
    ) -> Result<Option<ChangeResult>, ServiceError> {
        let Some(deployment) = self.deployments.get(id).cloned() else {
            return Err(ServiceError::UnknownDeployment(id.to_string()));
        };
        if force {
            self.store.delete(&deployment_key(id)).await?;
            self.deployments.remove(id);
            self.deployment_failed(&deployment, "cancelled");
            tracing::info!(deployment = %id, "deployment cancelled");
            self.run_deployments().await?;
            return Ok(None);
        }
        let version = crate::views::iso(now_ms());
        let targets = deployment
            .original
            .iter()
            .map(|(app_id, before)| {
                let restored = before.clone().map(|mut app| {
                    app.version = version.clone();
                    app.version_info.last_scaling_at = version.clone();
                    app
                });
                (app_id.clone(), restored)
            })
            .collect::<Vec<_>>();
        let groups = deployment.groups.as_ref().map(|change| {
            let now = Tree {
                apps: with_targets(self.apps(), &targets),
                groups: self.groups.clone(),
            };
            let by_id = |records: &[GroupRecord]| {
                records
                    .iter()
                    .map(|g| (g.id.clone(), g.clone()))
                    .collect::<BTreeMap<_, _>>()
            };
            GroupWrite {
                id: PathId::root(),
                groups: revert(&by_id(&change.original), &by_id(&change.target), &now),
            }
        });
        let rollback = self
            .deploy(targets, &[id.to_string()], version, groups)
            .await?;
        Ok(Some(ChangeResult {
            deployment_id: rollback.id,
            version: rollback.version,
            apps: vec![],
            created: false,
        }))
    }
}

/// `apps` with the targets of a change applied (None: removed).
fn with_targets(
    mut apps: BTreeMap<PathId, AppDefinition>,
    targets: &[(PathId, Option<AppDefinition>)],
) -> BTreeMap<PathId, AppDefinition> {
    for (id, app) in targets {
        match app {
            Some(app) => apps.insert(id.clone(), app.clone()),
            None => apps.remove(id),
        };
    }
    apps
}
