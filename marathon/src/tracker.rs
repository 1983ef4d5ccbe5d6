//! The tracker: apps, their instances, and what it takes to make the second match the first.
//!
//! A pure core: calls in (an app put or removed, a status update, a tick with the time),
//! [`Effect`]s out (kill this task, persist that instance, revive offers). Time is an
//! argument in milliseconds since the epoch; nothing here sleeps or does I/O. Which offers
//! run the missing instances is decided by [`crate::matcher`], which asks
//! [`Tracker::launch_demand`] how many each app still needs.
//!
//! ```text
//!   API change ──put_app/remove_app──▶ ┌─────────┐ ──Kill / Persist / Expunge──▶ edge
//!   Mesos UPDATE ──on_status─────────▶ │ Tracker │ ──Revive / Suppress──────────▶ edge
//!   timer ──tick(now)────────────────▶ └─────────┘ ◀── launch_demand ── matcher
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::app::{AppDefinition, KillSelection, PathId, UnreachableStrategy};
use crate::instance::{app_of_task_id, Condition, Instance};

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Ask Mesos to kill a task.
    Kill {
        task_id: String,
        agent_id: Option<String>,
    },
    /// Write this instance to the store.
    Persist(Box<Instance>),
    /// Remove this instance from the store.
    Expunge { task_id: String },
    /// Ask for offers again (something waits to launch).
    Revive,
    /// Stop offers (nothing waits).
    Suppress,
}

/// A status update as the tracker needs it (converted from the wire at the edge).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub task_id: String,
    pub agent_id: Option<String>,
    /// The Mesos state name, `TASK_RUNNING`.
    pub state: String,
    pub message: Option<String>,
    pub healthy: Option<bool>,
    pub ip_addresses: Vec<String>,
    pub timestamp_ms: u64,
}

/// The last task of an app that ended in failure (`lastTaskFailure`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFailure {
    pub app_id: PathId,
    pub task_id: String,
    pub agent_id: String,
    pub host: String,
    pub state: &'static str,
    pub message: String,
    pub timestamp_ms: u64,
    pub version: String,
}

/// Launch backoff of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Seconds of the current delay (0 before the first failure).
    pub delay_seconds: f64,
    /// No launch before this time.
    pub until_ms: u64,
}

/// How a running deployment holds an app back from plain convergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Its step has not come yet: nothing launched, nothing killed.
    Frozen,
    /// A rolling restart: instances of older configs are the deployment's to kill, and
    /// at most `new_cap` of the current config are kept active.
    Rolling { new_cap: u32 },
}

#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    pub task_launch_timeout_ms: u64,
}

pub struct Tracker {
    config: TrackerConfig,
    apps: BTreeMap<PathId, AppDefinition>,
    instances: BTreeMap<String, Instance>,
    /// Task ids of each app's instances (also of removed apps whose tasks still run).
    by_app: BTreeMap<PathId, BTreeSet<String>>,
    backoff: BTreeMap<PathId, Backoff>,
    /// Since when each app has waited for launches (`/v2/queue` `since`).
    waiting_since: BTreeMap<PathId, u64>,
    failures: BTreeMap<PathId, TaskFailure>,
    offers_wanted: bool,
    /// Demand at the last [`Tracker::converge`], to revive when it grows.
    last_demand: BTreeMap<PathId, u32>,
    /// Apps a deployment holds back (see [`Hold`]).
    holds: BTreeMap<PathId, Hold>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker {
            config,
            apps: BTreeMap::new(),
            instances: BTreeMap::new(),
            by_app: BTreeMap::new(),
            backoff: BTreeMap::new(),
            waiting_since: BTreeMap::new(),
            failures: BTreeMap::new(),
            offers_wanted: false,
            last_demand: BTreeMap::new(),
            holds: BTreeMap::new(),
        }
    }

    /// Sets (or with None, lifts) a deployment's hold on an app.
    pub fn set_hold(&mut self, id: &PathId, hold: Option<Hold>, now: u64) -> Vec<Effect> {
        let changed = match hold {
            Some(h) => self.holds.insert(id.clone(), h) != Some(h),
            None => self.holds.remove(id).is_some(),
        };
        if changed {
            self.converge_app(id, now)
        } else {
            vec![]
        }
    }

    pub fn hold(&self, id: &PathId) -> Option<Hold> {
        self.holds.get(id).copied()
    }

    /// The apps under a hold.
    pub fn held(&self) -> impl Iterator<Item = &PathId> {
        self.holds.keys()
    }

    /// Loads what the store holds (after a restart or a new leader).
    pub fn load(&mut self, apps: Vec<AppDefinition>, instances: Vec<Instance>) {
        self.apps = apps.into_iter().map(|a| (a.id.clone(), a)).collect();
        self.instances.clear();
        self.by_app.clear();
        for i in instances {
            self.insert(i);
        }
    }

    fn insert(&mut self, i: Instance) {
        self.by_app
            .entry(i.app_id.clone())
            .or_default()
            .insert(i.task_id.clone());
        self.instances.insert(i.task_id.clone(), i);
    }

    fn remove(&mut self, task_id: &str) -> Option<Instance> {
        let i = self.instances.remove(task_id)?;
        if let Some(tasks) = self.by_app.get_mut(&i.app_id) {
            tasks.remove(task_id);
            if tasks.is_empty() {
                self.by_app.remove(&i.app_id);
            }
        }
        Some(i)
    }

    pub fn apps(&self) -> impl Iterator<Item = &AppDefinition> {
        self.apps.values()
    }

    pub fn app(&self, id: &PathId) -> Option<&AppDefinition> {
        self.apps.get(id)
    }

    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.values()
    }

    pub fn instance(&self, task_id: &str) -> Option<&Instance> {
        self.instances.get(task_id)
    }

    pub fn instances_of<'a>(&'a self, app: &PathId) -> impl Iterator<Item = &'a Instance> {
        self.by_app
            .get(app)
            .into_iter()
            .flatten()
            .filter_map(|t| self.instances.get(t))
    }

    /// Sets an instance's health as [`crate::health`] judges it (not persisted: health is
    /// checked again by each leader).
    pub fn set_healthy(&mut self, task_id: &str, healthy: Option<bool>) {
        if let Some(i) = self.instances.get_mut(task_id) {
            i.healthy = healthy;
        }
    }

    pub fn backoff(&self, app: &PathId) -> Option<&Backoff> {
        self.backoff.get(app)
    }

    pub fn waiting_since(&self, app: &PathId) -> Option<u64> {
        self.waiting_since.get(app).copied()
    }

    pub fn last_failure(&self, app: &PathId) -> Option<&TaskFailure> {
        self.failures.get(app)
    }

    /// Creates or changes an app. A config change (anything but `instances`) resets the
    /// backoff; the outdated instances are replaced on the next [`Tracker::converge`].
    pub fn put_app(&mut self, app: AppDefinition, now: u64) -> Vec<Effect> {
        let config_changed = self
            .apps
            .get(&app.id)
            .is_none_or(|old| !old.is_only_scale_change(&app));
        if config_changed {
            self.backoff.remove(&app.id);
        }
        let id = app.id.clone();
        self.apps.insert(app.id.clone(), app);
        self.converge_app(&id, now)
    }

    /// Removes an app and kills its instances.
    pub fn remove_app(&mut self, id: &PathId, now: u64) -> Vec<Effect> {
        self.apps.remove(id);
        self.backoff.remove(id);
        self.failures.remove(id);
        self.waiting_since.remove(id);
        self.converge_app(id, now)
    }

    /// Resets an app's launch backoff (`DELETE /v2/queue/{id}/delay`).
    pub fn reset_delay(&mut self, id: &PathId) -> bool {
        self.backoff.remove(id).is_some()
    }

    /// Adds instances that are being launched.
    pub fn provisioned(&mut self, instances: Vec<Instance>) -> Vec<Effect> {
        let mut effects = vec![];
        for i in instances {
            effects.push(Effect::Persist(Box::new(i.clone())));
            self.insert(i);
        }
        effects
    }

    /// How many instances `app` still needs launched now (0 while backed off).
    pub fn launch_demand(&self, app: &PathId, now: u64) -> u32 {
        let Some(def) = self.apps.get(app) else {
            return 0;
        };
        if self.backoff.get(app).is_some_and(|b| b.until_ms > now) {
            return 0;
        }
        let wanted = match self.holds.get(app) {
            Some(Hold::Frozen) => return 0,
            Some(Hold::Rolling { new_cap }) => def.instances.min(*new_cap),
            None => def.instances,
        };
        let current = self
            .instances_of(app)
            .filter(|i| i.is_active() && i.config_version == def.version_info.last_config_change_at)
            .count() as u32;
        wanted.saturating_sub(current)
    }

    /// What every app needs launched now (backed-off apps need nothing yet).
    fn demand(&self, now: u64) -> BTreeMap<PathId, u32> {
        self.apps
            .keys()
            .map(|id| (id.clone(), self.launch_demand(id, now)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Handles a status update. Unknown tasks are killed (they belong to no app Marathon
    /// knows, or to an instance it forgot).
    pub fn on_status(&mut self, update: &StatusUpdate, now: u64) -> Vec<Effect> {
        let condition = Condition::from_mesos(&update.state);
        let app = self
            .instances
            .get(&update.task_id)
            .map(|i| i.app_id.clone());
        let Some(instance) = self.instances.get_mut(&update.task_id) else {
            if condition.is_terminal() {
                return vec![];
            }
            tracing::info!(task = %update.task_id, app = ?app_of_task_id(&update.task_id).map(|a| a.to_string()), "killing a task Marathon does not know");
            return vec![Effect::Kill {
                task_id: update.task_id.clone(),
                agent_id: update.agent_id.clone(),
            }];
        };
        let mut effects = vec![];
        if condition.is_terminal() {
            let instance = self.remove(&update.task_id).expect("present");
            effects.push(Effect::Expunge {
                task_id: instance.task_id.clone(),
            });
            if condition.is_failure() && instance.kill_requested_at.is_none() {
                if let Some(app) = self.apps.get(&instance.app_id) {
                    let delay = match self.backoff.get(&instance.app_id) {
                        Some(b) if b.delay_seconds > 0.0 => {
                            (b.delay_seconds * app.backoff_factor).min(app.max_launch_delay_seconds)
                        }
                        _ => app.backoff_seconds.min(app.max_launch_delay_seconds),
                    };
                    self.backoff.insert(
                        instance.app_id.clone(),
                        Backoff {
                            delay_seconds: delay,
                            until_ms: now + (delay * 1000.0) as u64,
                        },
                    );
                }
            }
            if condition != Condition::Killed || instance.kill_requested_at.is_none() {
                self.failures.insert(
                    instance.app_id.clone(),
                    TaskFailure {
                        app_id: instance.app_id.clone(),
                        task_id: instance.task_id.clone(),
                        agent_id: instance.agent_id.clone(),
                        host: instance.hostname.clone(),
                        state: condition.mesos_state(),
                        message: update.message.clone().unwrap_or_default(),
                        timestamp_ms: update.timestamp_ms,
                        version: instance.version.clone(),
                    },
                );
            }
        } else {
            let was = instance.condition;
            instance.condition = match condition {
                // Unreachable again after it was replaced stays inactive.
                Condition::Unreachable if was == Condition::UnreachableInactive => was,
                c => c,
            };
            if condition == Condition::Unreachable {
                instance.unreachable_since.get_or_insert(now);
            } else {
                instance.unreachable_since = None;
            }
            if condition == Condition::Running && instance.started_at.is_none() {
                instance.started_at = Some(update.timestamp_ms);
            }
            if let Some(agent) = &update.agent_id {
                instance.agent_id = agent.clone();
            }
            if update.healthy.is_some() {
                instance.mesos_healthy = update.healthy;
            }
            if !update.ip_addresses.is_empty() {
                instance.ip_addresses = update.ip_addresses.clone();
            }
            instance.message = update.message.clone();
            if was != instance.condition {
                effects.push(Effect::Persist(Box::new(instance.clone())));
            }
        }
        if let Some(app) = app {
            effects.extend(self.converge_app(&app, now));
        }
        effects
    }

    /// Kills instances on request (`DELETE .../tasks`); with `scale`, the app's instance
    /// count goes down by as many (the caller persists the new app version).
    pub fn kill(&mut self, task_ids: &[String], now: u64) -> Vec<Effect> {
        let mut effects = vec![];
        for id in task_ids {
            if let Some(i) = self.instances.get_mut(id) {
                effects.extend(request_kill(i, now));
            }
        }
        let apps: BTreeSet<PathId> = task_ids
            .iter()
            .filter_map(|t| self.instances.get(t).map(|i| i.app_id.clone()))
            .collect();
        for app in apps {
            effects.extend(self.converge_app(&app, now));
        }
        effects
    }

    /// Periodic work: launch timeouts, unreachable instances, offer interest.
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        let mut effects = vec![];
        let timeout = self.config.task_launch_timeout_ms;
        for i in self.instances.values_mut() {
            if i.condition.is_staged()
                && i.kill_requested_at.is_none()
                && now.saturating_sub(i.staged_at) > timeout
            {
                tracing::info!(task = %i.task_id, "not running within --task_launch_timeout: killing it");
                effects.extend(request_kill(i, now));
            }
            if i.condition == Condition::Unreachable {
                let inactive_after = match self.apps.get(&i.app_id).map(|a| a.unreachable_strategy)
                {
                    Some(UnreachableStrategy::Enabled {
                        inactive_after_seconds,
                        ..
                    }) => Some((inactive_after_seconds * 1000.0) as u64),
                    _ => None,
                };
                if let (Some(after), Some(since)) = (inactive_after, i.unreachable_since) {
                    if now.saturating_sub(since) >= after {
                        i.condition = Condition::UnreachableInactive;
                        effects.push(Effect::Persist(Box::new(i.clone())));
                    }
                }
            }
            if i.condition == Condition::UnreachableInactive {
                let expunge_after = match self.apps.get(&i.app_id).map(|a| a.unreachable_strategy) {
                    Some(UnreachableStrategy::Enabled {
                        expunge_after_seconds,
                        ..
                    }) => (expunge_after_seconds * 1000.0) as u64,
                    _ => 0,
                };
                if i.kill_requested_at.is_none()
                    && i.unreachable_since
                        .is_some_and(|s| now.saturating_sub(s) >= expunge_after)
                {
                    // Gone long enough: kill it should it come back.
                    effects.extend(request_kill(i, now));
                }
            }
        }
        effects.extend(self.converge(now));
        effects
    }

    /// Compares every app with its instances (see [`Tracker::converge_app`]) and
    /// recomputes the whole demand (a backoff may have run out).
    pub fn converge(&mut self, now: u64) -> Vec<Effect> {
        let ids: BTreeSet<PathId> = self
            .apps
            .keys()
            .chain(self.by_app.keys())
            .cloned()
            .collect();
        let mut effects = vec![];
        for id in &ids {
            effects.extend(self.reconcile_app(id, now));
        }
        self.last_demand.clear();
        let demand = self.demand(now);
        effects.extend(self.interest(demand, now));
        effects
    }

    /// Compares one app with its instances: kills what is too much, outdated or of a
    /// removed app, notes whether it waits for launches, and asks for offers only while
    /// some app does. Costs the app's instances, not every instance.
    pub fn converge_app(&mut self, id: &PathId, now: u64) -> Vec<Effect> {
        let mut effects = self.reconcile_app(id, now);
        let mut demand = std::mem::take(&mut self.last_demand);
        let before = demand.clone();
        match self.launch_demand(id, now) {
            0 => demand.remove(id),
            n => demand.insert(id.clone(), n),
        };
        self.last_demand = before;
        effects.extend(self.interest(demand, now));
        effects
    }

    fn reconcile_app(&mut self, id: &PathId, now: u64) -> Vec<Effect> {
        let mut effects = vec![];
        let Some(app) = self.apps.get(id) else {
            // Instances of an app that no longer exists.
            let orphans: Vec<String> = self
                .instances_of(id)
                .filter(|i| i.kill_requested_at.is_none())
                .map(|i| i.task_id.clone())
                .collect();
            for task in orphans {
                let i = self.instances.get_mut(&task).expect("present");
                effects.extend(request_kill(i, now));
            }
            self.waiting_since.remove(id);
            return effects;
        };
        let hold = self.holds.get(id).copied();
        if hold == Some(Hold::Frozen) {
            self.waiting_since.remove(id);
            return effects;
        }
        let config = &app.version_info.last_config_change_at;
        let wanted = app.instances as usize;
        let mut current: Vec<&Instance> = vec![];
        let mut to_kill: Vec<String> = vec![];
        for i in self.instances_of(id).filter(|i| i.is_active()) {
            if &i.config_version == config {
                current.push(i);
            } else if hold.is_none() {
                to_kill.push(i.task_id.clone());
            }
        }
        if current.len() > wanted {
            to_kill.extend(
                kill_order(current.clone(), app.kill_selection)
                    .into_iter()
                    .take(current.len() - wanted)
                    .map(|i| i.task_id.clone()),
            );
        }
        let waits = match hold {
            Some(Hold::Rolling { new_cap }) => current.len() < wanted.min(new_cap as usize),
            _ => current.len() < wanted,
        };
        for task in to_kill {
            let i = self.instances.get_mut(&task).expect("present");
            effects.extend(request_kill(i, now));
        }
        if waits {
            self.waiting_since.entry(id.clone()).or_insert(now);
        } else {
            self.waiting_since.remove(id);
        }
        effects
    }

    /// Offers are wanted while something waits; a new or larger demand (a new app, a
    /// backoff that ran out, a task to replace) revives, which also clears the filters of
    /// offers declined while nothing fitted.
    fn interest(&mut self, demand: BTreeMap<PathId, u32>, _now: u64) -> Vec<Effect> {
        let grew = demand
            .iter()
            .any(|(id, n)| self.last_demand.get(id).is_none_or(|old| n > old));
        let want = !demand.is_empty();
        let mut effects = vec![];
        if want && (grew || !self.offers_wanted) {
            effects.push(Effect::Revive);
        } else if !want && self.offers_wanted {
            effects.push(Effect::Suppress);
        }
        self.offers_wanted = want;
        self.last_demand = demand;
        effects
    }

    /// After (re)subscribing: the master forgets suppression, so say it again.
    pub fn offer_interest(&self) -> Effect {
        if self.offers_wanted {
            Effect::Revive
        } else {
            Effect::Suppress
        }
    }

    /// A kill for every instance asked to die that has not ended: after (re)subscribing,
    /// kills decided while no master listened are sent (again).
    pub fn pending_kills(&self) -> Vec<Effect> {
        self.instances
            .values()
            .filter(|i| i.kill_requested_at.is_some() && !i.condition.is_terminal())
            .map(|i| Effect::Kill {
                task_id: i.task_id.clone(),
                agent_id: (!i.agent_id.is_empty()).then(|| i.agent_id.clone()),
            })
            .collect()
    }

    /// The tasks to reconcile explicitly: every instance Marathon knows.
    pub fn reconcile_list(&self) -> Vec<(String, Option<String>)> {
        self.instances
            .values()
            .map(|i| {
                let agent = (!i.agent_id.is_empty()).then(|| i.agent_id.clone());
                (i.task_id.clone(), agent)
            })
            .collect()
    }
}

/// The order in which instances go when an app has too many: staged before running, then
/// by `killSelection`.
fn kill_order(mut current: Vec<&Instance>, selection: KillSelection) -> Vec<&Instance> {
    match selection {
        KillSelection::YoungestFirst => {
            current.sort_by_key(|i| (!i.condition.is_staged(), std::cmp::Reverse(i.staged_at)));
        }
        KillSelection::OldestFirst => {
            current.sort_by_key(|i| (!i.condition.is_staged(), i.staged_at));
        }
    }
    current
}

fn request_kill(i: &mut Instance, now: u64) -> Vec<Effect> {
    if i.condition.is_terminal() {
        return vec![];
    }
    i.kill_requested_at.get_or_insert(now);
    vec![
        Effect::Persist(Box::new(i.clone())),
        Effect::Kill {
            task_id: i.task_id.clone(),
            agent_id: (!i.agent_id.is_empty()).then(|| i.agent_id.clone()),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::new_task_id;

    fn app(id: &str, instances: u32) -> AppDefinition {
        let mut a = AppDefinition::with_defaults(PathId::parse(id));
        a.cmd = Some("sleep 100".into());
        a.instances = instances;
        a.version = "v1".into();
        a.version_info.last_config_change_at = "v1".into();
        a
    }

    fn instance(app: &AppDefinition, n: u128, staged_at: u64) -> Instance {
        Instance::provisioned(
            app,
            new_task_id(&app.id, uuid::Uuid::from_u128(n)),
            "a1",
            "h1",
            vec![],
            staged_at,
        )
    }

    fn status(task: &str, state: &str, at: u64) -> StatusUpdate {
        StatusUpdate {
            task_id: task.into(),
            agent_id: Some("a1".into()),
            state: state.into(),
            message: Some("m".into()),
            healthy: None,
            ip_addresses: vec![],
            timestamp_ms: at,
        }
    }

    fn kills(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Kill { task_id, .. } => Some(task_id.clone()),
                _ => None,
            })
            .collect()
    }

    fn tracker() -> Tracker {
        Tracker::new(TrackerConfig {
            task_launch_timeout_ms: 300_000,
        })
    }

    #[test]
    fn a_new_app_waits_and_revives_then_suppresses_when_launched() {
        let mut t = tracker();
        let a = app("/web", 2);
        let effects = t.put_app(a.clone(), 0);
        assert!(effects.contains(&Effect::Revive));
        assert_eq!(t.launch_demand(&a.id, 0), 2);
        assert_eq!(t.waiting_since(&a.id), Some(0));
        let effects = t.provisioned(vec![instance(&a, 1, 1), instance(&a, 2, 1)]);
        assert_eq!(effects.len(), 2);
        assert_eq!(t.launch_demand(&a.id, 1), 0);
        assert!(t.converge(2).contains(&Effect::Suppress));
    }

    #[test]
    fn a_failed_task_is_replaced_after_a_growing_backoff() {
        let mut t = tracker();
        let mut a = app("/web", 1);
        a.backoff_seconds = 2.0;
        a.backoff_factor = 2.0;
        a.max_launch_delay_seconds = 5.0;
        t.put_app(a.clone(), 0);
        let i = instance(&a, 1, 0);
        t.provisioned(vec![i.clone()]);
        t.on_status(&status(&i.task_id, "TASK_RUNNING", 10), 10);
        let effects = t.on_status(&status(&i.task_id, "TASK_FAILED", 20), 20);
        assert!(effects.contains(&Effect::Expunge {
            task_id: i.task_id.clone()
        }));
        assert_eq!(t.launch_demand(&a.id, 21), 0, "backed off");
        assert!(
            !t.tick(1000).contains(&Effect::Revive),
            "no offers while backed off"
        );
        assert_eq!(t.launch_demand(&a.id, 2020), 1);
        assert!(
            t.tick(2020).contains(&Effect::Revive),
            "the end of the backoff revives"
        );
        assert_eq!(t.last_failure(&a.id).unwrap().state, "TASK_FAILED");
        // Second failure: 4 s; third: capped at 5 s.
        let j = instance(&a, 2, 2020);
        t.provisioned(vec![j.clone()]);
        t.on_status(&status(&j.task_id, "TASK_FAILED", 3000), 3000);
        assert_eq!(t.backoff(&a.id).unwrap().delay_seconds, 4.0);
        let k = instance(&a, 3, 7000);
        t.provisioned(vec![k.clone()]);
        t.on_status(&status(&k.task_id, "TASK_FAILED", 8000), 8000);
        assert_eq!(t.backoff(&a.id).unwrap().delay_seconds, 5.0);
        // A new version resets it.
        let mut b = a.clone();
        b.cmd = Some("other".into());
        b.version_info.last_config_change_at = "v2".into();
        t.put_app(b, 8001);
        assert_eq!(t.launch_demand(&a.id, 8001), 1);
    }

    #[test]
    fn killed_tasks_do_not_back_off() {
        let mut t = tracker();
        let a = app("/web", 1);
        t.put_app(a.clone(), 0);
        let i = instance(&a, 1, 0);
        t.provisioned(vec![i.clone()]);
        t.on_status(&status(&i.task_id, "TASK_KILLED", 5), 5);
        assert_eq!(t.launch_demand(&a.id, 6), 1);
    }

    #[test]
    fn scaling_down_kills_the_youngest_or_oldest() {
        for (selection, expected) in [
            (KillSelection::YoungestFirst, vec![3u128, 2]),
            (KillSelection::OldestFirst, vec![1, 2]),
        ] {
            let mut t = tracker();
            let mut a = app("/web", 3);
            a.kill_selection = selection;
            t.put_app(a.clone(), 0);
            let all: Vec<Instance> = (1..=3).map(|n| instance(&a, n, n as u64 * 10)).collect();
            t.provisioned(all.clone());
            for i in &all {
                t.on_status(&status(&i.task_id, "TASK_RUNNING", 50), 50);
            }
            a.instances = 1;
            let killed = kills(&t.put_app(a.clone(), 60));
            let want: Vec<String> = expected
                .iter()
                .map(|&n| all[n as usize - 1].task_id.clone())
                .collect();
            assert_eq!(killed, want, "{selection:?}");
        }
    }

    /// A tracker with two instances of `/web` and the app's next config (not yet put).
    fn two_instances_and_a_new_config() -> (Tracker, AppDefinition) {
        let mut t = tracker();
        let a = app("/web", 2);
        t.put_app(a.clone(), 0);
        t.provisioned(vec![instance(&a, 1, 0), instance(&a, 2, 0)]);
        let mut b = a;
        b.mem = 64.0;
        b.version_info.last_config_change_at = "v2".into();
        (t, b)
    }

    #[test]
    fn a_config_change_replaces_every_instance_and_removal_kills_all() {
        let (mut t, b) = two_instances_and_a_new_config();
        let effects = t.put_app(b.clone(), 10);
        assert_eq!(kills(&effects).len(), 2);
        assert_eq!(t.launch_demand(&b.id, 10), 2);
        let effects = t.remove_app(&b.id, 20);
        assert!(kills(&effects).is_empty(), "already being killed");
        assert!(effects.contains(&Effect::Suppress));
    }

    #[test]
    fn a_deployment_s_hold_freezes_or_rolls_an_app() {
        let (mut t, b) = two_instances_and_a_new_config();
        // Frozen: the new config neither kills the old instances nor launches.
        t.set_hold(&b.id, Some(Hold::Frozen), 5);
        assert!(kills(&t.put_app(b.clone(), 10)).is_empty());
        assert_eq!(t.launch_demand(&b.id, 10), 0);
        assert_eq!(t.waiting_since(&b.id), None);
        // Rolling: the old ones stay, new ones up to the cap.
        let effects = t.set_hold(&b.id, Some(Hold::Rolling { new_cap: 1 }), 20);
        assert!(kills(&effects).is_empty());
        assert!(effects.contains(&Effect::Revive));
        assert_eq!(t.launch_demand(&b.id, 20), 1);
        // Released: plain convergence replaces what is outdated.
        let effects = t.set_hold(&b.id, None, 30);
        assert_eq!(kills(&effects).len(), 2);
        assert_eq!(t.launch_demand(&b.id, 30), 2);
        assert!(t.set_hold(&b.id, None, 31).is_empty(), "no change, no work");
    }

    #[test]
    fn launch_timeout_kills_a_task_that_never_ran() {
        let mut t = tracker();
        let a = app("/web", 1);
        t.put_app(a.clone(), 0);
        let i = instance(&a, 1, 0);
        t.provisioned(vec![i.clone()]);
        assert!(kills(&t.tick(300_000)).is_empty());
        let effects = t.tick(300_001);
        assert_eq!(kills(&effects), vec![i.task_id.clone()]);
        // It no longer counts: a replacement is wanted at once.
        assert_eq!(t.launch_demand(&a.id, 300_001), 1);
    }

    #[test]
    fn unreachable_instances_are_replaced_after_inactive_after_seconds() {
        let mut t = tracker();
        let mut a = app("/web", 1);
        a.unreachable_strategy = UnreachableStrategy::Enabled {
            inactive_after_seconds: 10.0,
            expunge_after_seconds: 20.0,
        };
        t.put_app(a.clone(), 0);
        let i = instance(&a, 1, 0);
        t.provisioned(vec![i.clone()]);
        t.on_status(&status(&i.task_id, "TASK_RUNNING", 1), 1);
        t.on_status(&status(&i.task_id, "TASK_UNREACHABLE", 1000), 1000);
        t.tick(5000);
        assert_eq!(t.launch_demand(&a.id, 5000), 0, "still counts");
        t.tick(11_000);
        assert_eq!(t.launch_demand(&a.id, 11_000), 1, "replaced");
        let effects = t.tick(21_000);
        assert_eq!(kills(&effects), vec![i.task_id.clone()]);
    }

    #[test]
    fn disabled_unreachable_strategy_waits_forever() {
        let mut t = tracker();
        let mut a = app("/web", 1);
        a.unreachable_strategy =
            UnreachableStrategy::Disabled(crate::app::UnreachableDisabled::Disabled);
        t.put_app(a.clone(), 0);
        let i = instance(&a, 1, 0);
        t.provisioned(vec![i.clone()]);
        t.on_status(&status(&i.task_id, "TASK_UNREACHABLE", 1), 1);
        t.tick(10_000_000);
        assert_eq!(t.launch_demand(&a.id, 10_000_000), 0);
    }

    #[test]
    fn unknown_tasks_are_killed_unless_ended() {
        let mut t = tracker();
        let effects = t.on_status(&status("ghost.instance-x._app.1", "TASK_RUNNING", 1), 1);
        assert_eq!(kills(&effects), vec!["ghost.instance-x._app.1".to_string()]);
        assert!(t
            .on_status(&status("ghost.instance-x._app.1", "TASK_KILLED", 2), 2)
            .is_empty());
    }
}
