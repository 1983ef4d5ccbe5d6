//! Reverting a deployment's group changes, as Marathon's `DeploymentPlanReverter` does
//! when a deployment is cancelled without `force`: the reverse of what the deployment
//! changed (`original` -> `target`) is applied to the groups as they are now, so changes
//! other deployments made since are kept. With none, the groups come back as they were.
//!
//! - a group the deployment removed comes back (its dependencies added to a group of that
//!   id made since);
//! - a group it changed gets back the dependencies it removed and loses those it added;
//! - a group it added goes if it is as the deployment left it (nothing in it, the same
//!   dependencies), else it loses the dependencies the deployment gave it.
//!
//! Apps are reverted first (a deployment holds its apps), so that a group the deployment
//! added is found empty. Inner groups go before outer ones.

use std::collections::BTreeMap;

use super::{GroupRecord, Tree};
use crate::app::PathId;

/// The stored groups after reverting `original` -> `target` on `now` (whose apps are
/// already reverted).
pub fn revert(
    original: &BTreeMap<PathId, GroupRecord>,
    target: &BTreeMap<PathId, GroupRecord>,
    now: &Tree,
) -> BTreeMap<PathId, GroupRecord> {
    let mut groups = now.groups.clone();
    let mut ids: Vec<&PathId> = original.keys().chain(target.keys()).collect();
    ids.sort_by(|a, b| {
        b.segments()
            .len()
            .cmp(&a.segments().len())
            .then_with(|| a.cmp(b))
    });
    ids.dedup();
    for id in ids {
        match (original.get(id), target.get(id)) {
            (Some(old), None) => match groups.get_mut(id) {
                Some(current) => add(&mut current.dependencies, &old.dependencies),
                None => {
                    groups.insert(id.clone(), old.clone());
                }
            },
            (Some(old), Some(new)) => {
                let current = groups.entry(id.clone()).or_insert_with(|| GroupRecord {
                    dependencies: vec![],
                    ..old.clone()
                });
                let removed: Vec<PathId> = minus(&old.dependencies, &new.dependencies);
                let added: Vec<PathId> = minus(&new.dependencies, &old.dependencies);
                add(&mut current.dependencies, &removed);
                current.dependencies.retain(|d| !added.contains(d));
            }
            (None, Some(new)) => {
                let Some(current) = groups.get(id) else {
                    continue;
                };
                let empty = !now.apps.keys().any(|a| a != id && a.is_under(id))
                    && !groups.keys().any(|g| g != id && g.is_under(id));
                if empty && current.dependencies == new.dependencies && !id.is_root() {
                    groups.remove(id);
                } else if let Some(current) = groups.get_mut(id) {
                    current
                        .dependencies
                        .retain(|d| !new.dependencies.contains(d));
                }
            }
            (None, None) => {}
        }
    }
    groups
}

fn minus(a: &[PathId], b: &[PathId]) -> Vec<PathId> {
    a.iter().filter(|d| !b.contains(d)).cloned().collect()
}

fn add(to: &mut Vec<PathId>, more: &[PathId]) {
    for d in more {
        if !to.contains(d) {
            to.push(d.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, deps: &[&str]) -> GroupRecord {
        GroupRecord {
            id: PathId::parse(id),
            dependencies: deps.iter().map(|d| PathId::parse(d)).collect(),
            version: "v1".into(),
            enforce_role: None,
        }
    }

    fn records(groups: &[GroupRecord]) -> BTreeMap<PathId, GroupRecord> {
        groups.iter().map(|g| (g.id.clone(), g.clone())).collect()
    }

    fn tree(groups: &[GroupRecord], apps: &[&str]) -> Tree {
        let mut t = Tree {
            groups: records(groups),
            ..Tree::default()
        };
        for a in apps {
            let id = PathId::parse(a);
            t.apps
                .insert(id.clone(), crate::app::AppDefinition::with_defaults(id));
        }
        t
    }

    fn deps(groups: &BTreeMap<PathId, GroupRecord>) -> Vec<(String, Vec<String>)> {
        groups
            .values()
            .map(|g| {
                (
                    g.id.to_string(),
                    g.dependencies.iter().map(|d| d.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn without_other_changes_the_groups_come_back_as_they_were() {
        let original = records(&[group("/base", &["/db"]), group("/gone", &["/x"])]);
        // The deployment changed /base's dependencies, removed /gone, added /base/sub
        // and /base/sub/inner (with an app in it, reverted already).
        let target = records(&[
            group("/base", &["/cache"]),
            group("/base/sub", &["/db"]),
            group("/base/sub/inner", &[]),
        ]);
        let now = tree(
            &target.values().cloned().collect::<Vec<_>>(),
            &["/base/web"],
        );
        let reverted = revert(&original, &target, &now);
        assert_eq!(deps(&reverted), deps(&original));
    }

    #[test]
    fn changes_made_since_by_others_are_kept() {
        let original = records(&[group("/base", &["/db"])]);
        let target = records(&[group("/base", &["/db", "/cache"]), group("/base/sub", &[])]);
        // Since then another deployment put an app into /base/sub, gave /base another
        // dependency, and added /other.
        let now = tree(
            &[
                group("/base", &["/db", "/cache", "/queue"]),
                group("/base/sub", &[]),
                group("/other", &[]),
            ],
            &["/base/sub/theirs"],
        );
        let reverted = revert(&original, &target, &now);
        assert_eq!(
            deps(&reverted),
            vec![
                (
                    "/base".to_string(),
                    vec!["/db".to_string(), "/queue".to_string()]
                ),
                ("/base/sub".to_string(), vec![]),
                ("/other".to_string(), vec![]),
            ]
        );
    }

    #[test]
    fn an_added_group_changed_since_keeps_only_what_others_gave_it() {
        let target = records(&[group("/new", &["/db"])]);
        let now = tree(&[group("/new", &["/db", "/mq"])], &[]);
        let reverted = revert(&BTreeMap::new(), &target, &now);
        assert_eq!(
            deps(&reverted),
            vec![("/new".to_string(), vec!["/mq".to_string()])]
        );
        // A group removed by the deployment and made again since gets its dependencies.
        let original = records(&[group("/old", &["/db"])]);
        let now = tree(&[group("/old", &["/mq"])], &[]);
        let reverted = revert(&original, &BTreeMap::new(), &now);
        assert_eq!(
            deps(&reverted),
            vec![(
                "/old".to_string(),
                vec!["/mq".to_string(), "/db".to_string()]
            )]
        );
    }
}
