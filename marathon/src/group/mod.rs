//! Groups: the tree apps live in. Apps and groups share one id space (`/prod` is a group
//! because `/prod/web` is an app); a group may also exist on its own, with
//! `dependencies` its apps inherit.
//!
//! ```text
//!   stored groups (id, dependencies, version) ─┐
//!   apps ──────────────────────────────────────┴─▶ Tree (groups = records ∪ ancestors)
//!   Tree + GroupUpdate ──apply──▶ target Tree ──deps::check──▶ effective app dependencies
//!                                      └──────────────────────▶ deployment::plan (dryRun)
//! ```
//! Pure: trees in, trees or every violation out. `view` renders Marathon's group JSON.

pub mod deps;
pub mod revert;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::update::AppUpdate;
use crate::app::validate::Violation;
use crate::app::{AppDefinition, PathId};

/// A group as stored: what is not derived from its apps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRecord {
    pub id: PathId,
    #[serde(default)]
    pub dependencies: Vec<PathId>,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_role: Option<bool>,
}

/// Apps and stored groups: everything below the root.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    pub apps: BTreeMap<PathId, AppDefinition>,
    pub groups: BTreeMap<PathId, GroupRecord>,
}

/// `POST`/`PUT /v2/groups` bodies (Marathon's GroupUpdate); unknown keys are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupUpdate {
    pub id: Option<String>,
    pub apps: Option<Vec<Value>>,
    pub groups: Option<Vec<GroupUpdate>>,
    pub dependencies: Option<Vec<String>>,
    pub scale_by: Option<f64>,
    pub version: Option<String>,
    pub enforce_role: Option<bool>,
}

/// What a group update did to the tree.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The body's apps, as given, with absolute ids (what the app changes are built from).
    pub given: BTreeMap<PathId, Value>,
    /// Where each app and group of the body sits in it, for violation paths.
    pub paths: BTreeMap<PathId, String>,
}

/// `base/text`, or `text` when absolute.
pub fn resolve(base: &PathId, text: &str) -> PathId {
    if text.starts_with('/') {
        PathId::parse(text)
    } else {
        PathId::parse(&format!("{base}/{text}"))
    }
}

fn violation(path: impl Into<String>, error: impl Into<String>) -> Violation {
    Violation {
        path: path.into(),
        errors: vec![error.into()],
    }
}

impl GroupUpdate {
    /// Reads a parsed JSON body; a value of the wrong type gives its path.
    pub fn from_value(value: Value) -> Result<GroupUpdate, Violation> {
        crate::app::update::from_body(value).map_err(|e| violation(e.path, e.message))
    }

    /// True when the body asks for nothing but a version: a rollback.
    pub fn is_rollback(&self) -> bool {
        self.version.is_some()
    }
}

impl Tree {
    pub fn new(
        apps: impl IntoIterator<Item = AppDefinition>,
        groups: impl IntoIterator<Item = GroupRecord>,
    ) -> Tree {
        Tree {
            apps: apps.into_iter().map(|a| (a.id.clone(), a)).collect(),
            groups: groups.into_iter().map(|g| (g.id.clone(), g)).collect(),
        }
    }

    /// Every group id: the root, stored groups and every ancestor of an app or group.
    pub fn group_ids(&self) -> BTreeSet<PathId> {
        let mut ids = BTreeSet::from([PathId::root()]);
        let mut add_ancestors = |id: &PathId| {
            let mut p = id.parent();
            while !p.is_root() && ids.insert(p.clone()) {
                p = p.parent();
            }
        };
        for id in self.apps.keys().chain(self.groups.keys()) {
            add_ancestors(id);
        }
        ids.extend(self.groups.keys().cloned());
        ids
    }

    pub fn has_group(&self, id: &PathId) -> bool {
        id.is_root()
            || self.groups.contains_key(id)
            || self
                .apps
                .keys()
                .chain(self.groups.keys())
                .any(|a| a != id && a.is_under(id))
    }

    /// The part of the tree at or below `id`.
    pub fn subtree(&self, id: &PathId) -> Tree {
        Tree {
            apps: self
                .apps
                .iter()
                .filter(|(a, _)| a.is_under(id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            groups: self
                .groups
                .iter()
                .filter(|(g, _)| g.is_under(id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Everything at or below `id` removed (the root group itself stays).
    pub fn without(&self, id: &PathId) -> Tree {
        Tree {
            apps: self
                .apps
                .iter()
                .filter(|(a, _)| !a.is_under(id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            groups: self
                .groups
                .iter()
                .filter(|(g, _)| !g.is_under(id) || g.is_root())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The subtree at `id` replaced by `replacement` (whose ids all lie at or below it).
    pub fn with_subtree(&self, id: &PathId, replacement: Tree) -> Tree {
        let mut t = self.without(id);
        t.apps.extend(replacement.apps);
        t.groups.extend(replacement.groups);
        t
    }

    /// The latest version at or below `id`: a group's version.
    pub fn version_of(&self, id: &PathId) -> String {
        let apps = self
            .apps
            .values()
            .filter(|a| a.id.is_under(id))
            .map(|a| &a.version);
        let groups = self
            .groups
            .values()
            .filter(|g| g.id.is_under(id))
            .map(|g| &g.version);
        apps.chain(groups).max().cloned().unwrap_or_default()
    }

    /// Every app at or below `id` scaled by `factor` (instances rounded up), as
    /// `scaleBy` does.
    pub fn scaled(&self, id: &PathId, factor: f64) -> Tree {
        let mut t = self.clone();
        for app in t.apps.values_mut().filter(|a| a.id.is_under(id)) {
            app.instances = (app.instances as f64 * factor).ceil().max(0.0) as u32;
        }
        t
    }

    /// `update` applied to the group `id` (created if missing): given apps and groups
    /// replace the group's own, absent ones are kept; nested groups apply recursively.
    /// Every body error is collected, with its path in the body.
    pub fn apply(
        &self,
        id: &PathId,
        update: &GroupUpdate,
        version: &str,
    ) -> Result<(Tree, Applied), Vec<Violation>> {
        let mut target = self.clone();
        let mut applied = Applied::default();
        let mut violations = vec![];
        apply_at(
            &mut target,
            id,
            update,
            version,
            "",
            &mut applied,
            &mut violations,
        );
        if violations.is_empty() {
            Ok((target, applied))
        } else {
            Err(violations)
        }
    }
}

fn apply_at(
    tree: &mut Tree,
    id: &PathId,
    update: &GroupUpdate,
    version: &str,
    path: &str,
    applied: &mut Applied,
    violations: &mut Vec<Violation>,
) {
    if !id.is_root() {
        if let Err(e) = id.validate() {
            violations.push(violation(format!("{path}/id"), e.0));
            return;
        }
    }
    // An app of the same id keeps its path: the clash is reported there.
    applied
        .paths
        .entry(id.clone())
        .or_insert_with(|| path.to_string());
    let existing = tree.groups.get(id).cloned();
    let dependencies = match &update.dependencies {
        Some(deps) => deps.iter().map(|d| resolve(&id.parent(), d)).collect(),
        None => existing
            .as_ref()
            .map(|g| g.dependencies.clone())
            .unwrap_or_default(),
    };
    tree.groups.insert(
        id.clone(),
        GroupRecord {
            id: id.clone(),
            dependencies,
            version: version.to_string(),
            enforce_role: update
                .enforce_role
                .or(existing.and_then(|g| g.enforce_role)),
        },
    );
    if let Some(apps) = &update.apps {
        // The group's own apps are replaced by the given ones.
        tree.apps.retain(|a, _| &a.parent() != id);
        for (n, value) in apps.iter().enumerate() {
            let at = format!("{path}/apps({n})");
            let mut value = value.clone();
            let Some(text) = value.get("id").and_then(Value::as_str).map(str::to_string) else {
                violations.push(violation(format!("{at}/id"), "error.path.missing"));
                continue;
            };
            let app_id = resolve(id, &text);
            if &app_id.parent() != id {
                violations.push(violation(
                    format!("{at}/id"),
                    format!("App {app_id} is not a direct child of group {id}"),
                ));
                continue;
            }
            value["id"] = Value::String(app_id.to_string());
            let update = match AppUpdate::from_value(value.clone()) {
                Ok(u) => u,
                Err(e) => {
                    violations.push(violation(format!("{at}{}", e.path), e.message));
                    continue;
                }
            };
            let mut app = update.apply(AppDefinition::with_defaults(app_id.clone()), true);
            app.version = version.to_string();
            applied.paths.insert(app_id.clone(), at);
            applied.given.insert(app_id.clone(), value);
            tree.apps.insert(app_id, app);
        }
    }
    if let Some(groups) = &update.groups {
        let given: Vec<PathId> = groups
            .iter()
            .map(|g| resolve(id, g.id.as_deref().unwrap_or("")))
            .collect();
        // Subgroups not given go, with everything in them.
        let children: Vec<PathId> = tree
            .group_ids()
            .into_iter()
            .filter(|g| &g.parent() == id && !g.is_root() && !given.contains(g))
            .collect();
        for child in children {
            *tree = tree.without(&child);
        }
        for (n, (group, gid)) in groups.iter().zip(given).enumerate() {
            let at = format!("{path}/groups({n})");
            if group.id.is_none() {
                violations.push(violation(format!("{at}/id"), "error.path.missing"));
                continue;
            }
            if gid.parent() != *id {
                violations.push(violation(
                    format!("{at}/id"),
                    format!("Group {gid} is not a direct child of group {id}"),
                ));
                continue;
            }
            apply_at(tree, &gid, group, version, &at, applied, violations);
        }
    }
}

/// Ids that are both an app and a group, or an app below an app: every clash, with the
/// path of the app in the body when it came from there.
pub fn id_clashes(tree: &Tree, paths: &BTreeMap<PathId, String>) -> Vec<Violation> {
    let groups = tree.group_ids();
    let mut found = vec![];
    for id in tree.apps.keys() {
        let at = paths
            .get(id)
            .map(|p| format!("{p}/id"))
            .unwrap_or_else(|| format!("{id}/id"));
        if groups.contains(id) {
            found.push(violation(
                at,
                format!("An app and a group may not share the id {id}"),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests;
