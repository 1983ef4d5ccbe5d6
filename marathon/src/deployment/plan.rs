//! Deployment plans: from the apps as they are to the apps as they should be, a list of
//! steps whose actions run together, steps one after another (Marathon's DeploymentPlan).
//!
//! ```text
//!   original, target ──▶ removed apps ──▶ [StopApplication ...]
//!                        new apps ──────▶ [StartApplication ...]        (at 0 instances)
//!                        changed + new ─▶ by dependency depth, leaves first:
//!                                          [ScaleApplication | RestartApplication ...] per depth
//! ```
//! Pure: maps in, a plan or a validation error out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::app::{AppDefinition, PathId};

/// Serialized by the names Marathon's API and events use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionKind {
    StartApplication,
    StopApplication,
    ScaleApplication,
    RestartApplication,
}

impl ActionKind {
    /// The name Marathon's API and events use.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::StartApplication => "StartApplication",
            ActionKind::StopApplication => "StopApplication",
            ActionKind::ScaleApplication => "ScaleApplication",
            ActionKind::RestartApplication => "RestartApplication",
        }
    }
}

/// One action, in Marathon's JSON form `{"action": "...", "app": "/id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    #[serde(rename = "action")]
    pub kind: ActionKind,
    pub app: PathId,
}

pub type Step = Vec<Action>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("Dependency graph has cyclic dependencies: {0}")]
    Cycle(String),
    #[error("Dependency '{dependency}' of '{app}' is not an app of the target")]
    UnknownDependency { app: PathId, dependency: PathId },
}

/// The steps that take `original` to `target`. An app whose `lastConfigChangeAt` moved
/// (a restart, a rollback to an older config) restarts even when nothing else changed.
pub fn plan(
    original: &BTreeMap<PathId, AppDefinition>,
    target: &BTreeMap<PathId, AppDefinition>,
) -> Result<Vec<Step>, PlanError> {
    let depth = dependency_depths(target)?;
    let mut steps: Vec<Step> = vec![];
    let removed: Step = original
        .keys()
        .filter(|id| !target.contains_key(*id))
        .map(|id| Action {
            kind: ActionKind::StopApplication,
            app: id.clone(),
        })
        .collect();
    steps.push(removed);
    let started: Step = target
        .keys()
        .filter(|id| !original.contains_key(*id))
        .map(|id| Action {
            kind: ActionKind::StartApplication,
            app: id.clone(),
        })
        .collect();
    steps.push(started);
    let mut by_depth: BTreeMap<usize, Step> = BTreeMap::new();
    for (id, app) in target {
        let kind = match original.get(id) {
            None if app.instances == 0 => continue,
            None => ActionKind::ScaleApplication,
            Some(old) if old == app => continue,
            Some(old)
                if old.is_only_scale_change(app)
                    && old.version_info.last_config_change_at
                        == app.version_info.last_config_change_at =>
            {
                if old.instances == app.instances {
                    continue;
                }
                ActionKind::ScaleApplication
            }
            Some(_) => ActionKind::RestartApplication,
        };
        by_depth.entry(depth[id]).or_default().push(Action {
            kind,
            app: id.clone(),
        });
    }
    steps.extend(by_depth.into_values());
    steps.retain(|s| !s.is_empty());
    Ok(steps)
}

/// Each app's depth in the dependency graph: 0 for an app without dependencies, else one
/// more than its deepest dependency. Leaves (depth 0) deploy first.
fn dependency_depths(
    apps: &BTreeMap<PathId, AppDefinition>,
) -> Result<BTreeMap<PathId, usize>, PlanError> {
    for (id, app) in apps {
        for dep in &app.dependencies {
            if !apps.contains_key(dep) {
                return Err(PlanError::UnknownDependency {
                    app: id.clone(),
                    dependency: dep.clone(),
                });
            }
        }
    }
    let mut depth: BTreeMap<PathId, usize> = BTreeMap::new();
    for id in apps.keys() {
        let mut on_path = BTreeSet::new();
        visit(id, apps, &mut depth, &mut on_path)?;
    }
    Ok(depth)
}

fn visit(
    id: &PathId,
    apps: &BTreeMap<PathId, AppDefinition>,
    depth: &mut BTreeMap<PathId, usize>,
    on_path: &mut BTreeSet<PathId>,
) -> Result<usize, PlanError> {
    if let Some(&d) = depth.get(id) {
        return Ok(d);
    }
    if !on_path.insert(id.clone()) {
        return Err(PlanError::Cycle(id.to_string()));
    }
    let mut d = 0;
    for dep in &apps[id].dependencies {
        d = d.max(visit(dep, apps, depth, on_path)? + 1);
    }
    on_path.remove(id);
    depth.insert(id.clone(), d);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, instances: u32, deps: &[&str]) -> AppDefinition {
        let mut a = AppDefinition::with_defaults(PathId::parse(id));
        a.cmd = Some("sleep 1".into());
        a.instances = instances;
        a.dependencies = deps.iter().map(|d| PathId::parse(d)).collect();
        a
    }

    fn apps(list: Vec<AppDefinition>) -> BTreeMap<PathId, AppDefinition> {
        list.into_iter().map(|a| (a.id.clone(), a)).collect()
    }

    fn names(steps: &[Step]) -> Vec<Vec<String>> {
        steps
            .iter()
            .map(|s| {
                s.iter()
                    .map(|a| format!("{} {}", a.kind.name(), a.app))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn new_apps_start_then_scale_leaves_first() {
        let target = apps(vec![
            app("/db", 1, &[]),
            app("/api", 2, &["/db"]),
            app("/web", 3, &["/api"]),
        ]);
        let steps = plan(&BTreeMap::new(), &target).unwrap();
        assert_eq!(
            names(&steps),
            vec![
                vec![
                    "StartApplication /api",
                    "StartApplication /db",
                    "StartApplication /web"
                ],
                vec!["ScaleApplication /db"],
                vec!["ScaleApplication /api"],
                vec!["ScaleApplication /web"],
            ]
        );
    }

    #[test]
    fn removals_stop_first_scale_and_restart_by_kind() {
        let original = apps(vec![
            app("/a", 1, &[]),
            app("/b", 1, &[]),
            app("/gone", 1, &[]),
        ]);
        let mut b = app("/b", 1, &[]);
        b.mem = 64.0;
        let target = apps(vec![app("/a", 5, &[]), b]);
        let steps = plan(&original, &target).unwrap();
        assert_eq!(
            names(&steps),
            vec![
                vec!["StopApplication /gone"],
                vec!["ScaleApplication /a", "RestartApplication /b"],
            ]
        );
        assert!(plan(&target, &target).unwrap().is_empty(), "nothing to do");
        // A new config time alone (POST .../restart) restarts.
        let mut restarted = target.clone();
        restarted
            .get_mut(&PathId::parse("/a"))
            .unwrap()
            .version_info
            .last_config_change_at = "later".into();
        assert_eq!(
            names(&plan(&target, &restarted).unwrap()),
            vec![vec!["RestartApplication /a"]]
        );
    }

    #[test]
    fn cycles_and_unknown_dependencies_are_refused() {
        let target = apps(vec![app("/a", 1, &["/b"]), app("/b", 1, &["/a"])]);
        assert!(matches!(
            plan(&BTreeMap::new(), &target),
            Err(PlanError::Cycle(_))
        ));
        let target = apps(vec![app("/a", 1, &["/nope"])]);
        assert!(matches!(
            plan(&BTreeMap::new(), &target),
            Err(PlanError::UnknownDependency { .. })
        ));
    }

    #[test]
    fn a_chain_of_depth_ten_over_a_thousand_apps_is_planned() {
        let mut list = vec![];
        for i in 0..1000 {
            let deps: Vec<String> = if i % 100 == 0 {
                vec![]
            } else {
                vec![format!("/app{}", i - 1)]
            };
            let deps: Vec<&str> = deps.iter().map(String::as_str).take(1).collect();
            // Depth: position within each group of ten.
            let deps = if i % 10 == 0 { vec![] } else { deps };
            list.push(app(&format!("/app{i}"), 1, &deps));
        }
        let steps = plan(&BTreeMap::new(), &apps(list)).unwrap();
        assert_eq!(steps.len(), 1 + 10, "start, then one step per depth");
        assert_eq!(steps[1].len(), 100);
    }
}
