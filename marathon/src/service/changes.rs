//! App changes from the API: create, update, scale, restart, delete, kill tasks. Each is
//! validated, persisted with its new version and deployment, then handed to the tracker.

use std::collections::BTreeSet;

use super::groups::GroupWrite;
use super::persist::{instance_key, version_key, version_prefix};
use super::{now_ms, Service, ServiceError};
use crate::app::update::AppUpdate;
use crate::app::validate::{validate, Violation, Violations};
use crate::app::{AppDefinition, PathId};
use crate::deployment::readiness;
use crate::placement::{Constraint, Strategy, STRATEGY_LABEL};
use crate::service_ports;
use crate::storage::Op;

/// How a body applies to an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeMode {
    /// `POST /v2/apps`: the app must not exist.
    Create,
    /// `PUT` with `partialUpdate=false`: the body is the whole app.
    Replace,
    /// `PUT` (default) and `PATCH`: the given fields change, or the app is created.
    Partial,
    /// `POST /v2/apps/{id}/restart`: a new version with the same definition.
    Restart,
    Delete,
    /// `DELETE /v2/pods/{id}`.
    DeletePod,
}

#[derive(Debug, Clone)]
pub struct AppChange {
    pub id: PathId,
    pub update: AppUpdate,
    pub mode: ChangeMode,
}

/// What a change answers: its deployment, its version, and the apps as they are now.
#[derive(Debug, Clone)]
pub struct ChangeResult {
    pub deployment_id: String,
    pub version: String,
    pub apps: Vec<AppDefinition>,
    /// The change created the (single) app: 201.
    pub created: bool,
}

fn check_constraint(parts: &[String]) -> Result<(), String> {
    Constraint::parse(parts)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An app's `MARATHON_PLACEMENT_STRATEGY` label names a strategy.
fn check_strategy_label(app: &AppDefinition, v: &mut Violations) {
    if let Some(Err(e)) = app
        .labels
        .get(STRATEGY_LABEL)
        .map(|s| s.parse::<Strategy>())
    {
        v.add(format!("/labels/{STRATEGY_LABEL}"), e.to_string());
    }
}

impl Service {
    /// Validates and deploys `changes`; `groups`, a group change they come from, is
    /// written with them.
    pub(super) async fn change_apps(
        &mut self,
        changes: Vec<AppChange>,
        force: bool,
        groups: Option<GroupWrite>,
    ) -> Result<ChangeResult, ServiceError> {
        let now = now_ms();
        let version = crate::views::iso(now);
        // (id, as it is, as it should be, restarted on request)
        let mut targets: Vec<(PathId, Option<AppDefinition>, Option<AppDefinition>, bool)> = vec![];
        let mut created = false;
        let mut used_ports: BTreeSet<u32> = BTreeSet::new();
        let changing: BTreeSet<&PathId> = changes.iter().map(|c| &c.id).collect();
        for app in self.tracker.apps() {
            if !changing.contains(&app.id) {
                used_ports.extend(app.service_ports().into_iter().filter(|&p| p != 0));
            }
        }
        for change in &changes {
            let existing = self.tracker.app(&change.id).cloned();
            let is_pod = change.update.pod.is_some() || change.mode == ChangeMode::DeletePod;
            // Apps and pods share ids, but neither API changes the other kind.
            if let Some(old) = existing.as_ref().filter(|old| old.is_pod() != is_pod) {
                return Err(match change.mode {
                    ChangeMode::DeletePod => ServiceError::UnknownPod(change.id.clone()),
                    ChangeMode::Delete | ChangeMode::Restart => {
                        ServiceError::UnknownApp(change.id.clone())
                    }
                    _ if old.is_pod() => ServiceError::Conflict(format!(
                        "A pod with id [{}] already exists.",
                        change.id
                    )),
                    _ => ServiceError::AppExists(change.id.clone()),
                });
            }
            let target = match change.mode {
                ChangeMode::Delete | ChangeMode::DeletePod => {
                    if existing.is_none() {
                        return Err(match change.mode {
                            ChangeMode::DeletePod => ServiceError::UnknownPod(change.id.clone()),
                            _ => ServiceError::UnknownApp(change.id.clone()),
                        });
                    }
                    None
                }
                ChangeMode::Restart => {
                    let Some(mut app) = existing.clone() else {
                        return Err(ServiceError::UnknownApp(change.id.clone()));
                    };
                    app.version_info.last_config_change_at = version.clone();
                    Some(app)
                }
                ChangeMode::Create | ChangeMode::Replace | ChangeMode::Partial => {
                    if change.mode == ChangeMode::Create && existing.is_some() {
                        return Err(match is_pod {
                            true => ServiceError::Conflict(format!(
                                "A pod with id [{}] already exists.",
                                change.id
                            )),
                            false => ServiceError::AppExists(change.id.clone()),
                        });
                    }
                    let app = if change.update.is_rollback() {
                        let v = change.update.version.clone().unwrap_or_default();
                        match self.load_version(&change.id, &v).await? {
                            Some(app) => app,
                            None => {
                                return Err(ServiceError::Invalid(vec![Violation {
                                    path: "/version".into(),
                                    errors: vec![format!(
                                        "Version {v} of app {} does not exist",
                                        change.id
                                    )],
                                }]))
                            }
                        }
                    } else {
                        match (&existing, change.mode) {
                            (Some(old), ChangeMode::Partial) => {
                                change.update.apply(old.clone(), false)
                            }
                            _ => change
                                .update
                                .apply(AppDefinition::with_defaults(change.id.clone()), true),
                        }
                    };
                    created |= existing.is_none();
                    Some(app)
                }
            };
            let target = target.map(|mut app| {
                app.readiness_checks = readiness::normalize(&app.readiness_checks);
                app
            });
            let restart = change.mode == ChangeMode::Restart;
            targets.push((change.id.clone(), existing, target, restart));
        }
        // Validate everything before anything is written.
        let mut violations = vec![];
        for (id, existing, target, _) in targets.iter_mut() {
            let Some(app) = target else { continue };
            let mut found = match &app.pod {
                Some(pod) => crate::pod::validate(pod, check_constraint),
                None => {
                    let mut found = validate(app, check_constraint);
                    let mut more = Violations::default();
                    readiness::validate(app, &mut more);
                    found.extend(more.into_vec());
                    found
                }
            };
            let mut strategy = Violations::default();
            check_strategy_label(app, &mut strategy);
            found.extend(strategy.into_vec());
            if let Some(clash) = self.id_clash(id) {
                found.push(Violation {
                    path: "/id".into(),
                    errors: vec![clash],
                });
            }
            // Pods have no service ports (as in Marathon).
            if found.is_empty() && !app.is_pod() {
                if let Err(e) = service_ports::assign(
                    app,
                    existing.as_ref(),
                    &mut used_ports,
                    self.config.local_port_min as u32..self.config.local_port_max as u32,
                ) {
                    found.push(Violation {
                        path: "/portDefinitions".into(),
                        errors: vec![e.to_string()],
                    });
                }
            }
            if changes.len() > 1 {
                for v in found.iter_mut() {
                    v.path = format!("/{id}{}", v.path);
                }
            }
            violations.extend(found);
        }
        if !violations.is_empty() {
            return Err(ServiceError::Invalid(violations));
        }
        let locking: Vec<String> = targets
            .iter()
            .flat_map(|(id, ..)| self.deployments_of(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !locking.is_empty() && !force {
            return Err(ServiceError::Locked {
                deployments: locking,
            });
        }
        let mut apps = vec![];
        let mut planned = vec![];
        for (id, existing, target, restart) in targets {
            let target = target.map(|mut app| {
                app.version = version.clone();
                if let Some(pod) = app.pod.as_mut() {
                    pod.version = version.clone();
                }
                let config_changed = restart
                    || existing
                        .as_ref()
                        .is_none_or(|old| !old.is_only_scale_change(&app));
                if !config_changed {
                    if let Some(old) = &existing {
                        app.version_info.last_config_change_at =
                            old.version_info.last_config_change_at.clone();
                    }
                } else {
                    app.version_info.last_config_change_at = version.clone();
                }
                app.version_info.last_scaling_at = version.clone();
                apps.push(app.clone());
                app
            });
            planned.push((id, target));
        }
        let deployment = self
            .deploy(planned, &locking, version.clone(), groups)
            .await?;
        Ok(ChangeResult {
            deployment_id: deployment.id,
            version,
            apps,
            created: created && changes.len() == 1,
        })
    }

    /// An app may not sit below another app, nor above one (ids and groups share a tree).
    fn id_clash(&self, id: &PathId) -> Option<String> {
        if let Some(clash) = self.group_clash(id) {
            return Some(clash);
        }
        for other in self.tracker.apps() {
            if &other.id != id && id.is_under(&other.id) {
                return Some(format!("{id} lies below the app {}", other.id));
            }
            if &other.id != id && other.id.is_under(id) {
                return Some(format!("{id} is the group of the app {}", other.id));
            }
        }
        None
    }

    /// Deletes the oldest stored versions beyond `--zk_max_versions` (keeping room for
    /// the one about to be written).
    pub(super) async fn prune_versions(&self, id: &PathId) -> Result<Vec<Op>, ServiceError> {
        let mut versions = self.versions_of(id).await?;
        let keep = (self.config.zk_max_versions as usize).max(1) - 1;
        versions.sort();
        let excess = versions.len().saturating_sub(keep);
        Ok(versions
            .into_iter()
            .take(excess)
            .map(|v| Op::delete(version_key(id, &v)))
            .collect())
    }

    pub(super) async fn versions_of(&self, id: &PathId) -> Result<Vec<String>, ServiceError> {
        self.versions_under(&version_prefix(id)).await
    }

    pub(super) async fn load_version(
        &self,
        id: &PathId,
        version: &str,
    ) -> Result<Option<AppDefinition>, ServiceError> {
        let Some(bytes) = self.store.get(&version_key(id, version)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Kills tasks; with `scale`, their apps' instance counts go down by as many (a new
    /// version and deployment); with `wipe`, they are forgotten at once.
    pub(super) async fn kill_tasks(
        &mut self,
        task_ids: Vec<String>,
        scale: bool,
        wipe: bool,
        force: bool,
    ) -> Result<(Vec<String>, Option<ChangeResult>), ServiceError> {
        let known: Vec<String> = task_ids
            .into_iter()
            .filter(|t| self.tracker.instance(t).is_some())
            .collect();
        let now = now_ms();
        let mut per_app: std::collections::BTreeMap<PathId, u32> = Default::default();
        for t in &known {
            let i = self.tracker.instance(t).expect("known");
            if i.is_active() {
                *per_app.entry(i.app_id.clone()).or_default() += 1;
            }
        }
        if scale && !force {
            let locking: Vec<String> = per_app
                .keys()
                .flat_map(|id| self.deployments_of(id))
                .collect();
            if !locking.is_empty() {
                return Err(ServiceError::Locked {
                    deployments: locking,
                });
            }
        }
        // Killed first, so the scale-down that follows finds them gone and kills no other.
        let effects = self.tracker.kill(&known, now);
        self.execute(effects).await?;
        let mut result = None;
        if scale {
            let changes = per_app
                .into_iter()
                .filter_map(|(id, n)| {
                    let app = self.tracker.app(&id)?;
                    Some(AppChange {
                        update: AppUpdate {
                            instances: Some(app.instances.saturating_sub(n)),
                            ..Default::default()
                        },
                        id,
                        mode: ChangeMode::Partial,
                    })
                })
                .collect::<Vec<_>>();
            if !changes.is_empty() {
                result = Some(self.change_apps(changes, true, None).await?);
            }
        }
        if wipe {
            let ops = known.iter().map(|t| Op::delete(instance_key(t))).collect();
            self.store.apply(ops).await?;
        }
        Ok((known, result))
    }
}
