//! Marathon's group JSON: `{id, apps, groups, pods, dependencies, version}`, nested.
//! `enforceRole` (Marathon 1.9+) is left out: marathon-python 0.13.0's group model
//! refuses it, and this build runs no roles per group.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::Tree;
use crate::app::{AppDefinition, PathId};

/// Which children `embed=group.apps|group.groups|group.pods` asks for (all when none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupEmbed {
    pub apps: bool,
    pub groups: bool,
    pub pods: bool,
}

impl Default for GroupEmbed {
    fn default() -> GroupEmbed {
        GroupEmbed {
            apps: true,
            groups: true,
            pods: true,
        }
    }
}

impl GroupEmbed {
    /// From the `embed` values. As in Marathon, any `embed` given replaces the default,
    /// and app embeds (`group.apps.tasks`) are not group embeds.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> GroupEmbed {
        let mut e = GroupEmbed {
            apps: false,
            groups: false,
            pods: false,
        };
        let mut any = false;
        for v in values {
            match v {
                "group.apps" => e.apps = true,
                "group.groups" => e.groups = true,
                "group.pods" => e.pods = true,
                _ => {}
            }
            any = true;
        }
        if any {
            e
        } else {
            GroupEmbed::default()
        }
    }
}

/// The group `id` of `tree` as JSON (None: no such group); apps rendered by `app_json`.
pub fn group_json(
    tree: &Tree,
    id: &PathId,
    embed: GroupEmbed,
    app_json: &dyn Fn(&AppDefinition) -> Value,
) -> Option<Value> {
    if !tree.has_group(id) {
        return None;
    }
    if id.is_root() && tree.apps.is_empty() && tree.groups.is_empty() {
        return Some(json!({ "id": "/" }));
    }
    let ids = tree.group_ids();
    let mut subgroups: BTreeMap<PathId, Vec<PathId>> = BTreeMap::new();
    for g in ids.iter().filter(|g| !g.is_root()) {
        subgroups.entry(g.parent()).or_default().push(g.clone());
    }
    let mut apps: BTreeMap<PathId, Vec<&AppDefinition>> = BTreeMap::new();
    for a in tree.apps.values() {
        apps.entry(a.id.parent()).or_default().push(a);
    }
    let index = Index {
        tree,
        subgroups,
        apps,
    };
    Some(index.render(id, embed, app_json))
}

struct Index<'a> {
    tree: &'a Tree,
    subgroups: BTreeMap<PathId, Vec<PathId>>,
    apps: BTreeMap<PathId, Vec<&'a AppDefinition>>,
}

impl Index<'_> {
    fn render(
        &self,
        id: &PathId,
        embed: GroupEmbed,
        app_json: &dyn Fn(&AppDefinition) -> Value,
    ) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), id.to_string().into());
        let children = || self.apps.get(id).into_iter().flatten();
        if embed.apps {
            let apps: Vec<Value> = children()
                .filter(|a| !a.is_pod())
                .map(|a| app_json(a))
                .collect();
            m.insert("apps".into(), Value::Array(apps));
        }
        if embed.groups {
            let groups: Vec<Value> = self
                .subgroups
                .get(id)
                .into_iter()
                .flatten()
                .map(|g| self.render(g, embed, app_json))
                .collect();
            m.insert("groups".into(), Value::Array(groups));
        }
        if embed.pods {
            let pods: Vec<Value> = children()
                .filter_map(|a| a.pod.as_deref())
                .map(|p| json!(p))
                .collect();
            m.insert("pods".into(), Value::Array(pods));
        }
        let deps: Vec<Value> = self
            .tree
            .groups
            .get(id)
            .map(|g| {
                g.dependencies
                    .iter()
                    .map(|d| d.to_string().into())
                    .collect()
            })
            .unwrap_or_default();
        m.insert("dependencies".into(), Value::Array(deps));
        m.insert("version".into(), self.tree.version_of(id).into());
        Value::Object(m)
    }
}

/// The root group with plain app definitions: a deployment plan's `original`/`target`.
pub fn root_json(tree: &Tree) -> Value {
    group_json(tree, &PathId::root(), GroupEmbed::default(), &|a| {
        Value::Object(crate::views::app_definition_json(a))
    })
    .expect("the root group exists")
}
