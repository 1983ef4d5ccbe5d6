//! A running deployment: its plan, the step it is at, and what each step decides.
//!
//! ```text
//!   Deployment (persisted) ┐
//!   each affected app now ─┴─progress()─▶ Progress { kill, holds, steps done, finished }
//!   (AppState: the app and its alive instances, observed)
//! ```
//!
//! Steps run one after another; a step is done when every action in it is:
//! - StartApplication: at once (the app exists, at 0 instances until its scale step);
//! - StopApplication: when no instance of the app is alive;
//! - ScaleApplication: when exactly `instances` instances of the current config are
//!   alive, all healthy and ready, nothing else;
//! - RestartApplication: when no instance of an older config is alive and `instances`
//!   new ones are healthy and ready. Until then each call makes one rolling decision
//!   ([`super::rolling`]): which old instances die now, how many new ones may be alive.
//!
//! While a deployment runs it holds its apps ([`Hold`]): apps whose step has not come
//! are frozen, an app being restarted is rolled. Pure: no clock, no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::plan::{Action, ActionKind, Step};
use super::rolling::{self, Decision, New, Old};
use crate::app::{AppDefinition, PathId};
use crate::group::GroupRecord;
use crate::instance::{Condition, Instance};
use crate::tracker::Hold;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub version: String,
    pub steps: Vec<Step>,
    /// Index of the step running; `steps.len()` once all are done.
    #[serde(default)]
    pub current_step: usize,
    /// Each affected app as it was before (None: it did not exist), for rollback.
    pub original: Vec<(PathId, Option<AppDefinition>)>,
    /// The stored groups before and after, when the deployment changed them: a rollback
    /// reverts that too ([`crate::group::revert`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<GroupChange>,
}

/// A deployment's change of the stored groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupChange {
    pub original: Vec<GroupRecord>,
    pub target: Vec<GroupRecord>,
}

/// An alive instance of an affected app, as the decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed<'a> {
    pub task_id: &'a str,
    /// Launched with the app's current config.
    pub current: bool,
    /// Already asked to die.
    pub killing: bool,
    /// Counts as healthy capacity (see [`observe`]).
    pub healthy: bool,
    pub staged_at: u64,
}

/// An affected app as it is now.
#[derive(Debug, Clone, Default)]
pub struct AppState<'a> {
    /// The app as it should be; None once removed.
    pub app: Option<&'a AppDefinition>,
    /// Its instances that have not ended.
    pub instances: Vec<Observed<'a>>,
}

/// How one instance counts. An old instance (of an earlier config) is healthy capacity
/// while it runs and no health check said otherwise: after a failover its health is not
/// known yet, and killing it for that would be a kill storm. A new instance counts only
/// once it runs, passed its health checks (when the app has any) and is `ready` (its
/// readiness checks passed, or it has none).
pub fn observe<'a>(instance: &'a Instance, app: &AppDefinition, ready: bool) -> Observed<'a> {
    let current = instance.config_version == app.version_info.last_config_change_at;
    let running = instance.condition == Condition::Running;
    let checked = !app.health_checks.is_empty();
    let healthy = if current {
        running && (!checked || instance.healthy == Some(true)) && ready
    } else {
        running && instance.healthy != Some(false)
    };
    Observed {
        task_id: &instance.task_id,
        current,
        killing: instance.kill_requested_at.is_some(),
        healthy,
        staged_at: instance.staged_at,
    }
}

/// Where one action stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionStatus {
    pub done: bool,
    /// Instances the app should end with.
    pub wanted: usize,
    /// Alive instances of the current config (not being killed).
    pub current: usize,
    /// Of those, healthy and ready.
    pub ready: usize,
    /// Alive instances of older configs (or of a removed app).
    pub old: usize,
    /// A rolling restart's decision now.
    pub decision: Option<Decision>,
}

/// What one call of [`Deployment::progress`] asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    /// Old instances to kill now.
    pub kill: Vec<String>,
    /// The hold each affected app should be under (None: none).
    pub holds: BTreeMap<PathId, Option<Hold>>,
    /// Steps (0-based) this call saw finish.
    pub steps_done: Vec<usize>,
    pub finished: bool,
}

impl Deployment {
    pub fn affects(&self, app: &PathId) -> bool {
        self.original.iter().any(|(id, _)| id == app)
    }

    pub fn affected_apps(&self) -> impl Iterator<Item = &PathId> {
        self.original.iter().map(|(id, _)| id)
    }

    /// The step running now, if any.
    pub fn current(&self) -> Option<&Step> {
        self.steps.get(self.current_step)
    }

    /// Where `action` stands given its app's state.
    pub fn status(action: &Action, state: &AppState) -> ActionStatus {
        let old = state.instances.iter().filter(|i| !i.current).count();
        let staying = state
            .instances
            .iter()
            .filter(|i| i.current && !i.killing)
            .count();
        let ready = state
            .instances
            .iter()
            .filter(|i| i.current && !i.killing && i.healthy)
            .count();
        let wanted = state.app.map_or(0, |a| a.instances as usize);
        let mut status = ActionStatus {
            done: false,
            wanted,
            current: staying,
            ready,
            old,
            decision: None,
        };
        let settled = old == 0 && state.instances.len() == wanted && ready == wanted;
        status.done = match (action.kind, state.app) {
            (ActionKind::StartApplication, _) => true,
            (_, None) | (ActionKind::StopApplication, _) => state.instances.is_empty(),
            (ActionKind::ScaleApplication, Some(_)) => settled,
            (ActionKind::RestartApplication, Some(app)) => {
                if settled {
                    true
                } else {
                    status.decision = Some(decide(app, state));
                    false
                }
            }
        };
        status
    }

    /// Runs the deployment as far as the apps' states allow: finishes steps whose actions
    /// are done, makes the rolling decisions of the step it stops at, and says how each
    /// affected app is held.
    pub fn progress<'a>(&mut self, state: impl Fn(&PathId) -> AppState<'a>) -> Progress {
        let mut progress = Progress::default();
        let mut rolling: BTreeMap<PathId, u32> = BTreeMap::new();
        let mut done_now: Vec<PathId> = vec![];
        while let Some(step) = self.steps.get(self.current_step) {
            rolling.clear();
            done_now.clear();
            let mut kill = vec![];
            let mut all_done = true;
            for action in step {
                let status = Self::status(action, &state(&action.app));
                if status.done {
                    done_now.push(action.app.clone());
                } else {
                    all_done = false;
                }
                if let Some(d) = status.decision {
                    kill.extend(d.kill);
                    rolling.insert(action.app.clone(), d.new_cap as u32);
                }
            }
            if !all_done {
                progress.kill = kill;
                break;
            }
            progress.steps_done.push(self.current_step);
            self.current_step += 1;
        }
        progress.finished = self.current_step >= self.steps.len();
        for id in self.affected_apps() {
            progress.holds.insert(id.clone(), None);
        }
        if progress.finished {
            return progress;
        }
        let later = |app: &PathId| {
            self.steps[self.current_step + 1..]
                .iter()
                .flatten()
                .any(|a| &a.app == app)
        };
        for action in self.steps[self.current_step + 1..].iter().flatten() {
            progress
                .holds
                .insert(action.app.clone(), Some(Hold::Frozen));
        }
        for action in &self.steps[self.current_step] {
            let hold = if let Some(&new_cap) = rolling.get(&action.app) {
                Some(Hold::Rolling { new_cap })
            } else if done_now.contains(&action.app) && later(&action.app) {
                Some(Hold::Frozen)
            } else {
                None
            };
            progress.holds.insert(action.app.clone(), hold);
        }
        progress
    }
}

/// One rolling decision for `app`, whose old and new instances `state` lists.
fn decide(app: &AppDefinition, state: &AppState) -> Decision {
    let old: Vec<Old> = state
        .instances
        .iter()
        .filter(|i| !i.current)
        .map(|i| Old {
            id: i.task_id,
            healthy: i.healthy && !i.killing,
            killing: i.killing,
            staged_at: i.staged_at,
        })
        .collect();
    let new = New {
        alive: state.instances.iter().filter(|i| i.current).count(),
        leaving: state
            .instances
            .iter()
            .filter(|i| i.current && i.killing)
            .count(),
        ready: state
            .instances
            .iter()
            .filter(|i| i.current && !i.killing && i.healthy)
            .count(),
    };
    rolling::decide(
        app.instances as usize,
        &app.upgrade_strategy,
        app.kill_selection,
        &old,
        new,
    )
}

#[cfg(test)]
mod tests;
