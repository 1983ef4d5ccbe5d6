//! Group changes from `/v2/groups`: the group tree's new state is computed by the pure
//! `group` core, checked (ids, dependencies, cycles), then carried out as app changes
//! through the same path as `/v2/apps` (one deployment, ordered by dependencies). The
//! groups themselves and a version snapshot for rollback are written in the same store
//! batch as the apps and the plan, so a crash never leaves half a group change.
//!
//! ```text
//!   GroupRequest ─▶ Tree::apply / scaled / snapshot ─▶ id_clashes + deps::effective
//!        │ dryRun: deps::plan_between ─▶ steps                      │
//!        └──────────────▶ app diff ─▶ change_apps ─▶ deploy: apps, plan, groups and
//!                                                   snapshot in one store write
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{now_ms, AppChange, ChangeMode, ChangeResult, Service, ServiceError};
use crate::app::update::AppUpdate;
use crate::app::validate::Violation;
use crate::app::{AppDefinition, PathId};
use crate::deployment::plan::Step;
use crate::group::{deps, id_clashes, GroupRecord, GroupUpdate, Tree};
use crate::storage::Op;

/// What `/v2/groups` asks of the service.
#[derive(Debug, Clone)]
pub enum GroupRequest {
    /// `POST`: the group (`id`, made absolute) must not exist yet.
    Create {
        id: PathId,
        update: GroupUpdate,
        force: bool,
    },
    /// `PUT`: creates or changes; `dry_run` only plans.
    Update {
        id: PathId,
        update: GroupUpdate,
        force: bool,
        dry_run: bool,
    },
    Delete {
        id: PathId,
        force: bool,
    },
    Versions {
        id: PathId,
    },
    Version {
        id: PathId,
        version: String,
    },
}

#[derive(Debug)]
pub enum GroupAnswer {
    Deployed(ChangeResult),
    DryRun(Vec<Step>),
    Versions(Vec<String>),
    /// The tree as it was at a version (the group and what lay below it).
    Snapshot(Tree),
}

/// A group change to write with its apps' deployment: the group changed and every
/// stored group as it should be.
#[derive(Debug)]
pub(super) struct GroupWrite {
    pub id: PathId,
    pub groups: BTreeMap<PathId, GroupRecord>,
}

/// A stored version of a group: everything at or below it.
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    apps: Vec<AppDefinition>,
    groups: Vec<GroupRecord>,
}

/// Store key segments of a group id; the root is `_root` (ids never contain `_`).
fn segments(id: &PathId) -> String {
    if id.is_root() {
        "_root".into()
    } else {
        id.segments().join("/")
    }
}

fn record_key(id: &PathId) -> String {
    format!("groups/{}", segments(id))
}

fn versions_prefix(id: &PathId) -> String {
    format!("group-versions/{}", segments(id))
}

/// The same definition, whatever its version and the service ports assigned to it.
fn same_definition(old: &AppDefinition, new: &AppDefinition) -> bool {
    let mut new = new.clone();
    new.version = old.version.clone();
    new.version_info = old.version_info.clone();
    for (n, o) in new.port_definitions.iter_mut().zip(&old.port_definitions) {
        if n.port == 0 {
            n.port = o.port;
        }
    }
    new == *old
}

impl Service {
    /// Apps and stored groups as one tree.
    pub fn group_tree(&self) -> Tree {
        Tree::new(self.tracker.apps().cloned(), self.groups.values().cloned())
    }

    /// Reads the stored groups (at start, with the apps).
    pub(super) async fn load_groups(&mut self) -> Result<(), ServiceError> {
        for key in self.store.list("groups").await? {
            if let Some(bytes) = self.store.get(&key).await? {
                match serde_json::from_slice::<GroupRecord>(&bytes) {
                    Ok(g) => {
                        self.groups.insert(g.id.clone(), g);
                    }
                    Err(e) => tracing::error!(%key, "cannot read a stored group: {e}"),
                }
            }
        }
        Ok(())
    }

    /// Why an app id may not be used: it is a stored group's id.
    pub(super) fn group_clash(&self, id: &PathId) -> Option<String> {
        self.groups
            .contains_key(id)
            .then(|| format!("{id} is the id of a group"))
    }

    pub(super) async fn group_request(
        &mut self,
        request: GroupRequest,
    ) -> Result<GroupAnswer, ServiceError> {
        let current = self.group_tree();
        let version = crate::views::iso(now_ms());
        let (id, target, applied, force, dry_run) = match request {
            GroupRequest::Versions { id } => {
                if !current.has_group(&id) {
                    return Err(ServiceError::UnknownGroup(id));
                }
                let mut versions = self.group_versions(&id).await?;
                versions.reverse();
                return Ok(GroupAnswer::Versions(versions));
            }
            GroupRequest::Version { id, version } => {
                return match self.group_snapshot(&id, &version).await? {
                    Some(tree) => Ok(GroupAnswer::Snapshot(tree)),
                    None => Err(ServiceError::UnknownGroup(id)),
                };
            }
            GroupRequest::Create { id, update, force } => {
                if current.apps.contains_key(&id) {
                    return Err(ServiceError::Conflict(format!(
                        "An app with the path {id} already exists."
                    )));
                }
                if current.has_group(&id) {
                    return Err(ServiceError::Conflict(format!(
                        "Group {id} is already created. Use PUT to change this group."
                    )));
                }
                let (target, applied) = current
                    .apply(&id, &update, &version)
                    .map_err(ServiceError::Invalid)?;
                (id, target, applied, force, false)
            }
            GroupRequest::Update {
                id,
                update,
                force,
                dry_run,
            } => {
                let (target, applied) = if let Some(v) = &update.version {
                    let Some(snapshot) = self.group_snapshot(&id, v).await? else {
                        return Err(ServiceError::Invalid(vec![Violation {
                            path: "/version".into(),
                            errors: vec![format!("Group {id} not available in version {v}")],
                        }]));
                    };
                    (current.with_subtree(&id, snapshot), Default::default())
                } else if let Some(factor) = update.scale_by {
                    if !(factor.is_finite() && factor >= 0.0) {
                        return Err(ServiceError::Invalid(vec![Violation {
                            path: "/scaleBy".into(),
                            errors: vec!["must be a number of at least 0".into()],
                        }]));
                    }
                    if !current.has_group(&id) {
                        return Err(ServiceError::UnknownGroup(id));
                    }
                    (current.scaled(&id, factor), Default::default())
                } else {
                    current
                        .apply(&id, &update, &version)
                        .map_err(ServiceError::Invalid)?
                };
                (id, target, applied, force, dry_run)
            }
            GroupRequest::Delete { id, force } => {
                if !current.has_group(&id) {
                    return Err(ServiceError::UnknownGroup(id));
                }
                (
                    id.clone(),
                    current.without(&id),
                    Default::default(),
                    force,
                    false,
                )
            }
        };
        let mut violations = id_clashes(&target, &applied.paths);
        if let Err(found) = deps::effective(&target, &applied.paths, true) {
            violations.extend(found);
        }
        if !violations.is_empty() {
            return Err(ServiceError::Invalid(violations));
        }
        if dry_run {
            let steps = deps::plan_between(&current, &target).map_err(|e| {
                ServiceError::Invalid(vec![Violation {
                    path: "/".into(),
                    errors: vec![e.to_string()],
                }])
            })?;
            return Ok(GroupAnswer::DryRun(steps));
        }
        let changes = app_changes(&current, &target, &applied.given);
        let write = GroupWrite {
            id: id.clone(),
            groups: target.groups,
        };
        let result = self.change_apps(changes, force, Some(write)).await?;
        self.group_changed(&id, &result.version);
        Ok(GroupAnswer::Deployed(result))
    }

    /// The writes of a group change, for the batch that also writes its apps and
    /// deployment: the groups that changed (stamped with `version`), the ones removed,
    /// and a snapshot of group `write.id` (with `apps`, the apps as they become) for
    /// rollback. Returns the groups as they become, to keep once the batch landed.
    pub(super) async fn group_ops(
        &self,
        write: GroupWrite,
        apps: &BTreeMap<PathId, AppDefinition>,
        version: &str,
    ) -> Result<(Vec<Op>, BTreeMap<PathId, GroupRecord>), ServiceError> {
        let GroupWrite { id, mut groups } = write;
        let mut ops = vec![];
        for (gid, record) in groups.iter_mut() {
            if self.groups.get(gid) != Some(record) {
                record.version = version.to_string();
                ops.push(Op::put(
                    record_key(gid),
                    serde_json::to_vec(record).expect("groups serialize"),
                ));
            }
        }
        for gid in self.groups.keys() {
            if !groups.contains_key(gid) {
                ops.push(Op::delete(record_key(gid)));
            }
        }
        let snapshot = Snapshot {
            apps: apps
                .values()
                .filter(|a| a.id.is_under(&id))
                .cloned()
                .collect(),
            groups: groups
                .values()
                .filter(|g| g.id.is_under(&id))
                .cloned()
                .collect(),
        };
        let exists = id.is_root()
            || groups.contains_key(&id)
            || groups
                .keys()
                .chain(apps.keys())
                .any(|a| a != &id && a.is_under(&id));
        if exists {
            ops.push(Op::put(
                format!("{}/{version}", versions_prefix(&id)),
                serde_json::to_vec(&snapshot).expect("groups serialize"),
            ));
            let mut versions = self.group_versions(&id).await?;
            let keep = (self.config.zk_max_versions as usize).max(1) - 1;
            let excess = versions.len().saturating_sub(keep);
            for v in versions.drain(..excess) {
                ops.push(Op::delete(format!("{}/{v}", versions_prefix(&id))));
            }
        }
        Ok((ops, groups))
    }

    async fn group_versions(&self, id: &PathId) -> Result<Vec<String>, ServiceError> {
        self.versions_under(&versions_prefix(id)).await
    }

    async fn group_snapshot(
        &self,
        id: &PathId,
        version: &str,
    ) -> Result<Option<Tree>, ServiceError> {
        let key = format!("{}/{version}", versions_prefix(id));
        let Some(bytes) = self.store.get(&key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<Snapshot>(&bytes)
            .ok()
            .map(|s| Tree::new(s.apps, s.groups)))
    }
}

/// The app changes that take `current` to `target`: removed apps deleted, new and
/// changed ones set (as given in the body when they were), scale-only changes scaled.
fn app_changes(
    current: &Tree,
    target: &Tree,
    given: &BTreeMap<PathId, serde_json::Value>,
) -> Vec<AppChange> {
    let mut changes = vec![];
    for (id, app) in &current.apps {
        if !target.apps.contains_key(id) {
            // Pods are read-only here (as in Marathon): they go only with their group.
            let mode = match app.is_pod() {
                true if target.has_group(&id.parent()) => continue,
                true => ChangeMode::DeletePod,
                false => ChangeMode::Delete,
            };
            changes.push(AppChange {
                id: id.clone(),
                update: AppUpdate::default(),
                mode,
            });
        }
    }
    for (id, app) in &target.apps {
        let old = current.apps.get(id);
        if old.is_some_and(|old| same_definition(old, app)) {
            continue;
        }
        let (update, mode) = match old {
            Some(old) if old.is_only_scale_change(app) => (
                AppUpdate {
                    instances: Some(app.instances),
                    ..Default::default()
                },
                ChangeMode::Partial,
            ),
            _ => {
                let value = given
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| serde_json::to_value(app).expect("apps serialize"));
                match AppUpdate::from_value(value) {
                    Ok(u) => (u, ChangeMode::Replace),
                    // A stored app always reads back; skip rather than fail the group.
                    Err(e) => {
                        tracing::error!(app = %id, "cannot restate an app: {}", e.message);
                        continue;
                    }
                }
            }
        };
        changes.push(AppChange {
            id: id.clone(),
            update,
            mode,
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, instances: u32) -> AppDefinition {
        let mut a = AppDefinition::with_defaults(PathId::parse(id));
        a.cmd = Some("sleep 100".into());
        a.instances = instances;
        a
    }

    #[test]
    fn group_changes_become_app_changes() {
        let current = Tree::new([app("/g/a", 1), app("/g/b", 1), app("/g/gone", 1)], []);
        let mut changed = app("/g/b", 1);
        changed.mem = 64.0;
        let mut same = app("/g/a", 3);
        same.version = "later".into();
        let target = Tree::new([same, changed, app("/g/new", 1)], []);
        let changes = app_changes(&current, &target, &BTreeMap::new());
        let summary: Vec<(String, ChangeMode, Option<u32>)> = changes
            .iter()
            .map(|c| (c.id.to_string(), c.mode, c.update.instances))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("/g/gone".into(), ChangeMode::Delete, None),
                ("/g/a".into(), ChangeMode::Partial, Some(3)),
                ("/g/b".into(), ChangeMode::Replace, Some(1)),
                ("/g/new".into(), ChangeMode::Replace, Some(1)),
            ]
        );
        assert!(app_changes(&current, &current, &BTreeMap::new()).is_empty());
    }
}
