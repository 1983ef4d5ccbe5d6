//! Dependencies between apps, with groups expanded: an app depends on what it names and
//! on what each of its groups names; a group named stands for every app below it.
//!
//! ```text
//!   /prod (dependencies: [/db]) ─▶ /prod/web, /prod/api each depend on /db/pg, /db/redis
//! ```
//! [`effective`] checks every name (unknown ones are errors) and refuses cycles, naming
//! every app on one; iterative (Kahn), so long chains need no deep recursion.

use std::collections::{BTreeMap, VecDeque};

use super::{Tree, Violation};
use crate::app::{AppDefinition, PathId};
use crate::deployment::plan::{plan, PlanError, Step};

/// Where an id's declaration sits: its path in the request body, else the id.
fn at(paths: &BTreeMap<PathId, String>, id: &PathId) -> String {
    paths.get(id).cloned().unwrap_or_else(|| id.to_string())
}

/// Apps and what each depends on, by index into `ids` (sorted), deduplicated.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub ids: Vec<PathId>,
    pub deps: Vec<Vec<u32>>,
}

impl Graph {
    /// The apps `id` depends on (tests and views).
    pub fn deps_of(&self, id: &PathId) -> Vec<PathId> {
        match self.ids.binary_search(id) {
            Ok(i) => self.deps[i]
                .iter()
                .map(|&d| self.ids[d as usize].clone())
                .collect(),
            Err(_) => vec![],
        }
    }

    /// The apps that lie on a dependency cycle (or depend on one).
    pub fn on_cycles(&self) -> Vec<PathId> {
        let (_, on_cycles) = self.depths();
        on_cycles
            .into_iter()
            .map(|a| self.ids[a as usize].clone())
            .collect()
    }

    /// Each app's depth (0: depends on nothing, else one more than its deepest
    /// dependency), by peeling apps whose dependencies are all done (Kahn); the apps
    /// left over depend on a cycle or lie on one.
    fn depths(&self) -> (Vec<Option<usize>>, Vec<u32>) {
        let n = self.ids.len();
        let mut waiting: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<u32>> = vec![vec![]; n];
        for (a, deps) in self.deps.iter().enumerate() {
            for &d in deps {
                dependents[d as usize].push(a as u32);
            }
        }
        let mut depth: Vec<Option<usize>> = vec![None; n];
        let mut queue: VecDeque<u32> = (0..n as u32)
            .filter(|&a| waiting[a as usize] == 0)
            .collect();
        for &a in &queue {
            depth[a as usize] = Some(0);
        }
        while let Some(a) = queue.pop_front() {
            let d = depth[a as usize].unwrap_or(0);
            for &b in &dependents[a as usize] {
                let b = b as usize;
                depth[b] = Some(depth[b].map_or(d + 1, |x| x.max(d + 1)));
                waiting[b] -= 1;
                if waiting[b] == 0 {
                    queue.push_back(b as u32);
                }
            }
        }
        // Of the rest, peel those nothing left depends on: what remains is on cycles.
        let mut left: Vec<bool> = (0..n).map(|a| waiting[a] > 0).collect();
        let mut users: Vec<usize> = vec![0; n];
        for a in (0..n).filter(|&a| left[a]) {
            for &d in &self.deps[a] {
                if left[d as usize] {
                    users[d as usize] += 1;
                }
            }
        }
        let mut queue: VecDeque<usize> = (0..n).filter(|&a| left[a] && users[a] == 0).collect();
        while let Some(a) = queue.pop_front() {
            left[a] = false;
            for &d in &self.deps[a] {
                let d = d as usize;
                if left[d] {
                    users[d] -= 1;
                    if users[d] == 0 {
                        queue.push_back(d);
                    }
                }
            }
        }
        let on_cycles = (0..n as u32).filter(|&a| left[a as usize]).collect();
        (depth, on_cycles)
    }
}

/// The apps each app depends on. `strict`: an unknown name or a cycle is a violation
/// (with every failing path); else unknown names are dropped and cycles kept.
pub fn effective(
    tree: &Tree,
    paths: &BTreeMap<PathId, String>,
    strict: bool,
) -> Result<Graph, Vec<Violation>> {
    let groups = tree.group_ids();
    let ids: Vec<PathId> = tree.apps.keys().cloned().collect();
    // Apps below a group are a run of the sorted ids.
    let under = |g: &PathId| -> std::ops::Range<usize> {
        let start = ids.partition_point(|a| a < g);
        let end = start + ids[start..].partition_point(|a| a.is_under(g));
        start..end
    };
    let mut violations = vec![];
    // What each declaring id (app or group) names, as runs of app indices.
    let mut named: BTreeMap<&PathId, Vec<std::ops::Range<usize>>> = BTreeMap::new();
    let declaring = tree
        .apps
        .values()
        .map(|a| (&a.id, &a.dependencies))
        .chain(tree.groups.values().map(|g| (&g.id, &g.dependencies)));
    for (id, deps) in declaring {
        let mut runs = vec![];
        for (i, dep) in deps.iter().enumerate() {
            if let Ok(a) = ids.binary_search(dep) {
                runs.push(a..a + 1);
            } else if groups.contains(dep) {
                // Apps below the declaring group itself are not its dependencies.
                let (r, mine) = (under(dep), under(id));
                runs.push(r.start..r.end.min(mine.start));
                runs.push(r.start.max(mine.end)..r.end);
            } else if strict {
                violations.push(Violation {
                    path: format!("{}/dependencies({i})", at(paths, id)),
                    errors: vec![format!(
                        "Dependency '{dep}' of '{id}' is neither an app nor a group"
                    )],
                });
            }
        }
        named.insert(id, runs);
    }
    let mut deps = Vec::with_capacity(ids.len());
    for (me, id) in ids.iter().enumerate() {
        let mut set: Vec<u32> = vec![];
        let mut add = |runs: Option<&Vec<std::ops::Range<usize>>>| {
            for r in runs.into_iter().flatten() {
                set.extend(r.clone().map(|a| a as u32));
            }
        };
        add(named.get(id));
        let mut g = id.parent();
        loop {
            add(named.get(&g));
            if g.is_root() {
                break;
            }
            g = g.parent();
        }
        set.sort_unstable();
        set.dedup();
        set.retain(|&a| a as usize != me);
        deps.push(set);
    }
    let graph = Graph { ids, deps };
    if strict {
        let (_, on_cycles) = graph.depths();
        for a in on_cycles {
            let id = &graph.ids[a as usize];
            violations.push(Violation {
                path: format!("{}/dependencies", at(paths, id)),
                errors: vec![format!(
                    "Dependency graph has cyclic dependencies: '{id}' depends on itself through its dependencies"
                )],
            });
        }
    }
    if violations.is_empty() {
        Ok(graph)
    } else {
        Err(violations)
    }
}

/// The deployment steps from `original` to `target`, apps ordered by their effective
/// dependencies, leaves first, through the deployment planner. Names that are neither
/// app nor group are ignored and apps on a cycle count as leaves: callers validate first.
///
/// The planner orders apps by dependency depth alone, so each app is handed one
/// dependency: an app one depth below it. That gives every app the depth its expanded
/// dependencies give it, with as many edges as apps instead of (for a group naming a
/// group) the product of their sizes. An app whose declared dependencies did not change
/// keeps being compared with its original on equal terms.
pub fn plan_between(original: &Tree, target: &Tree) -> Result<Vec<Step>, PlanError> {
    let graph = effective(target, &BTreeMap::new(), false).unwrap_or_default();
    let (depths, _) = graph.depths();
    let mut at_depth: BTreeMap<usize, &PathId> = BTreeMap::new();
    for (i, d) in depths.iter().enumerate() {
        if let Some(d) = d {
            at_depth.entry(*d).or_insert(&graph.ids[i]);
        }
    }
    let stand_in = |id: &PathId| -> Vec<PathId> {
        let depth = graph
            .ids
            .binary_search(id)
            .ok()
            .and_then(|i| depths[i])
            .unwrap_or(0);
        match depth.checked_sub(1).and_then(|d| at_depth.get(&d)) {
            Some(below) => vec![(*below).clone()],
            None => vec![],
        }
    };
    let mut targets: BTreeMap<PathId, AppDefinition> = BTreeMap::new();
    let mut originals: BTreeMap<PathId, AppDefinition> = BTreeMap::new();
    for (id, app) in &target.apps {
        let deps = stand_in(id);
        if let Some(old) = original.apps.get(id) {
            let mut old = old.clone();
            if old.dependencies == app.dependencies {
                old.dependencies = deps.clone();
            }
            originals.insert(id.clone(), old);
        }
        let mut app = app.clone();
        app.dependencies = deps;
        targets.insert(id.clone(), app);
    }
    for (id, app) in &original.apps {
        originals.entry(id.clone()).or_insert_with(|| app.clone());
    }
    plan(&originals, &targets)
}
